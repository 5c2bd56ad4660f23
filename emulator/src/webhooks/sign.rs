//! Signing as TalkJS signs: `X-TalkJS-Signature` is the uppercase hex HMAC-SHA256, keyed with
//! the app's secret, of `X-TalkJS-Timestamp` + `.` + the raw body.

use std::time::{SystemTime, UNIX_EPOCH};

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The header that carries the signing time, in Unix milliseconds.
pub const TIMESTAMP_HEADER: &str = "X-TalkJS-Timestamp";
/// The header that carries the signature.
pub const SIGNATURE_HEADER: &str = "X-TalkJS-Signature";

/// Uppercase hex of HMAC-SHA256(`secret`, `timestamp` + "." + `body`).
pub fn signature(secret: &str, timestamp: &str, body: &[u8]) -> String {
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
        unreachable!("HMAC takes keys of any length")
    };
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect()
}

/// Now, in Unix milliseconds, as the timestamp header carries it. The wall clock, not the
/// world's: a receiver compares it with its own clock.
pub(crate) fn timestamp_now() -> String {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis())
        .to_string()
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
