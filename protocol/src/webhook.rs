//! TalkJS webhooks on the wire: the two headers, the signature, and the event types. Shared by
//! the `talkjs` crate's verifier and the emulator's sender, so both sides sign the same way.
//!
//! TalkJS signs each webhook with the app's secret key: [`SIGNATURE_HEADER`] carries the
//! uppercase hex HMAC-SHA256 of [`TIMESTAMP_HEADER`]'s value, a `.`, and the raw body.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The header that carries the signing time.
pub const TIMESTAMP_HEADER: &str = "X-TalkJS-Timestamp";
/// The header that carries the signature.
pub const SIGNATURE_HEADER: &str = "X-TalkJS-Signature";

/// The signature TalkJS computes for `body` sent at `timestamp`: uppercase hex of
/// HMAC-SHA256(secret, `timestamp` + "." + `body`).
///
/// ```
/// # mod talkjs { pub use talkjs_protocol::webhook; }
/// use talkjs::webhook::signature;
///
/// let sig = signature("sk_test_secret", "1767225600000", br#"{"type":"message.sent","data":{}}"#);
/// assert_eq!(sig, "28E7C1C69D15F21AB2ED23D0A5E79DF91955F6B1BBE9CB13F2096F18E2F00412");
/// ```
pub fn signature(secret: &str, timestamp: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect()
}

/// Milliseconds since the Unix epoch, now: what the timestamp header carries (the wall clock,
/// since a receiver compares it with its own).
pub fn now_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// The type of a webhook event; types this version does not know are kept.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum WebhookEventType {
    /// `user.created`: a user was created.
    UserCreated,
    /// `user.updated`: a user's fields changed.
    UserUpdated,
    /// `message.sent`: a message was sent.
    MessageSent,
    /// `message.updated`: a message's content or custom data was edited.
    MessageUpdated,
    /// `message.deleted`: a message was deleted.
    MessageDeleted,
    /// `message.read`: a participant read a message someone else sent.
    MessageRead,
    /// `conversation.deleted`: a conversation was deleted.
    ConversationDeleted,
    /// `notification.triggered`: a participant should be told about new messages.
    NotificationTriggered,
    /// Any other type, as sent.
    Other(String),
}

impl WebhookEventType {
    /// The type as TalkJS names it, e.g. `message.sent`.
    pub fn as_str(&self) -> &str {
        match self {
            WebhookEventType::UserCreated => "user.created",
            WebhookEventType::UserUpdated => "user.updated",
            WebhookEventType::MessageSent => "message.sent",
            WebhookEventType::MessageUpdated => "message.updated",
            WebhookEventType::MessageDeleted => "message.deleted",
            WebhookEventType::MessageRead => "message.read",
            WebhookEventType::ConversationDeleted => "conversation.deleted",
            WebhookEventType::NotificationTriggered => "notification.triggered",
            WebhookEventType::Other(other) => other,
        }
    }
}

impl From<&str> for WebhookEventType {
    fn from(t: &str) -> WebhookEventType {
        const KNOWN: [WebhookEventType; 8] = [
            WebhookEventType::UserCreated,
            WebhookEventType::UserUpdated,
            WebhookEventType::MessageSent,
            WebhookEventType::MessageUpdated,
            WebhookEventType::MessageDeleted,
            WebhookEventType::MessageRead,
            WebhookEventType::ConversationDeleted,
            WebhookEventType::NotificationTriggered,
        ];
        KNOWN
            .into_iter()
            .find(|k| k.as_str() == t)
            .unwrap_or_else(|| WebhookEventType::Other(t.to_owned()))
    }
}

impl serde::Serialize for WebhookEventType {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl fmt::Display for WebhookEventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_ones_are_kept() {
        for name in ["user.created", "message.read", "notification.triggered"] {
            assert_eq!(WebhookEventType::from(name).as_str(), name);
        }
        assert_eq!(
            WebhookEventType::from("notification.sent"),
            WebhookEventType::Other("notification.sent".into())
        );
    }
}
