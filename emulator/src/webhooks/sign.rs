//! Signing as TalkJS signs: `X-TalkJS-Signature` is the uppercase hex HMAC-SHA256, keyed with
//! the app's secret, of `X-TalkJS-Timestamp` + `.` + the raw body.

use talkjs_protocol::webhook::now_millis;
pub use talkjs_protocol::webhook::{SIGNATURE_HEADER, TIMESTAMP_HEADER, signature};

/// Now, in Unix milliseconds, as the timestamp header carries it. The wall clock, not the
/// world's: a receiver compares it with its own clock.
pub(crate) fn timestamp_now() -> String {
    now_millis().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_an_independently_computed_signature() {
        // The same vector src/webhook.rs checks, computed with Python's hmac module.
        assert_eq!(
            signature(
                "sk_test_secret",
                "1767225600000",
                br#"{"type":"message.sent","data":{}}"#
            ),
            "28E7C1C69D15F21AB2ED23D0A5E79DF91955F6B1BBE9CB13F2096F18E2F00412"
        );
    }
}
