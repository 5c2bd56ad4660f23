//! Receiving TalkJS webhooks: checking that a request really comes from TalkJS (or from the
//! emulator, which signs the same way), and reading its event.
//!
//! TalkJS signs each webhook with the app's secret key: the `X-TalkJS-Signature` header is the
//! HMAC-SHA256 of the `X-TalkJS-Timestamp` header, a `.`, and the raw body, in uppercase hex.
//! [`verify`] recomputes it and compares in constant time, and refuses timestamps further than
//! `tolerance` from now, so a captured request cannot be replayed later. Verify the raw bytes as
//! received, before any JSON parsing.
//!
//! [`verify_headers`] does it all from the request's headers; in an actix-web app the
//! `Verified` extractor (cargo feature `actix-web`, on by default) does it before the handler
//! runs, with the secret registered as `WebhookSecret` app data.
//!
//! ```
//! use std::time::Duration;
//! use talkjs::webhook::{self, WebhookEventType};
//!
//! let secret = "sk_test_...";
//! let body = br#"{"type":"message.sent","createdAt":1767225600000,"data":{"message":{"id":"m1"}}}"#;
//! let timestamp = webhook::now_millis().to_string();
//! let signature = webhook::signature(secret, &timestamp, body); // what TalkJS sends
//!
//! let event = webhook::verify(secret, &timestamp, &signature, body, Duration::from_secs(300))
//!     .and_then(|()| webhook::parse(body))
//!     .expect("a genuine webhook");
//! assert_eq!(event.kind, WebhookEventType::MessageSent);
//! assert_eq!(event.data["message"]["id"], "m1");
//! ```

#[cfg(feature = "actix-web")]
mod extractor;

use std::time::Duration;

use serde::Deserialize;
use subtle::ConstantTimeEq;

#[cfg(feature = "actix-web")]
pub use extractor::{
    DEFAULT_BODY_LIMIT, DEFAULT_TOLERANCE, Verified, WebhookRejection, WebhookSecret,
};

pub use talkjs_protocol::webhook::{
    SIGNATURE_HEADER, TIMESTAMP_HEADER, WebhookEventType, now_millis, signature,
};
/// Timestamps below this are taken as seconds, above as milliseconds (10^11 s is the year 5138;
/// 10^11 ms is 1973), since TalkJS's documentation does not say which it sends.
const SECONDS_OR_MILLIS: i64 = 100_000_000_000;

/// Why a webhook was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WebhookError {
    /// The timestamp header is not a number.
    #[error("the webhook's timestamp {0:?} is not a number")]
    BadTimestamp(String),
    /// The timestamp is further from now than the tolerance: an old request replayed, or a clock
    /// far off.
    #[error("the webhook was signed {0:?} away from now, more than allowed")]
    Stale(Duration),
    /// The signature does not match the body and timestamp for this secret.
    #[error("the webhook's signature does not match")]
    BadSignature,
    /// The body is not a webhook event.
    #[error("the webhook's body is not an event: {0}")]
    Body(String),
    /// A header the check needs is missing (or not text): [`TIMESTAMP_HEADER`] or
    /// [`SIGNATURE_HEADER`].
    #[error("the webhook has no {0} header")]
    MissingHeader(&'static str),
}

/// Request headers to read a webhook's signature from, whatever HTTP library received it.
/// Names are matched without regard to case.
///
/// Implemented for actix's (and awc's) `HeaderMap`, for maps of strings, and for slices of
/// name/value pairs; implement it for another library's header type in a few lines.
pub trait WebhookHeaders {
    /// The value of the header `name` as text, if present.
    fn header(&self, name: &str) -> Option<&str>;
}

impl<T: WebhookHeaders + ?Sized> WebhookHeaders for &T {
    fn header(&self, name: &str) -> Option<&str> {
        (**self).header(name)
    }
}

impl WebhookHeaders for awc::http::header::HeaderMap {
    fn header(&self, name: &str) -> Option<&str> {
        self.get(name).and_then(|v| v.to_str().ok())
    }
}

impl<K: AsRef<str>, V: AsRef<str>> WebhookHeaders for [(K, V)] {
    fn header(&self, name: &str) -> Option<&str> {
        self.iter()
            .find(|(k, _)| k.as_ref().eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_ref())
    }
}

impl<K: AsRef<str>, V: AsRef<str>, S> WebhookHeaders for std::collections::HashMap<K, V, S> {
    fn header(&self, name: &str) -> Option<&str> {
        self.iter()
            .find(|(k, _)| k.as_ref().eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_ref())
    }
}

impl<K: AsRef<str>, V: AsRef<str>> WebhookHeaders for std::collections::BTreeMap<K, V> {
    fn header(&self, name: &str) -> Option<&str> {
        self.iter()
            .find(|(k, _)| k.as_ref().eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_ref())
    }
}

/// Checks a webhook from its request headers and raw body, as [`verify`] does, and reads its
/// event: the one call a receiver needs. A missing header is
/// [`WebhookError::MissingHeader`]; the signature is compared in constant time.
///
/// ```
/// use std::time::Duration;
/// use talkjs::webhook::{self, WebhookError};
///
/// let secret = "sk_test_...";
/// let body = br#"{"type":"user.created","data":{"user":{"id":"u1"}}}"#;
/// let timestamp = webhook::now_millis().to_string();
/// let headers = [
///     ("x-talkjs-timestamp", timestamp.clone()),
///     ("x-talkjs-signature", webhook::signature(secret, &timestamp, body)),
/// ];
/// let event = webhook::verify_headers(secret, &headers[..], body, Duration::from_secs(300))?;
/// assert_eq!(event.data["user"]["id"], "u1");
///
/// let unsigned = [("x-talkjs-timestamp", timestamp)];
/// assert_eq!(
///     webhook::verify_headers(secret, &unsigned[..], body, Duration::from_secs(300)),
///     Err(WebhookError::MissingHeader(webhook::SIGNATURE_HEADER)),
/// );
/// # Ok::<(), WebhookError>(())
/// ```
pub fn verify_headers(
    secret: &str,
    headers: impl WebhookHeaders,
    body: &[u8],
    tolerance: Duration,
) -> Result<WebhookEvent, WebhookError> {
    let timestamp = headers
        .header(TIMESTAMP_HEADER)
        .ok_or(WebhookError::MissingHeader(TIMESTAMP_HEADER))?;
    let signature = headers
        .header(SIGNATURE_HEADER)
        .ok_or(WebhookError::MissingHeader(SIGNATURE_HEADER))?;
    verify(secret, timestamp, signature, body, tolerance)?;
    parse(body)
}

/// Checks a webhook: its `timestamp` is within `tolerance` of now, and `signature` (hex, any
/// case) is the one TalkJS computes for `body` with `secret`, compared in constant time.
pub fn verify(
    secret: &str,
    timestamp: &str,
    signature_hex: &str,
    body: &[u8],
    tolerance: Duration,
) -> Result<(), WebhookError> {
    verify_at(
        secret,
        timestamp,
        signature_hex,
        body,
        tolerance,
        now_millis(),
    )
}

fn verify_at(
    secret: &str,
    timestamp: &str,
    signature_hex: &str,
    body: &[u8],
    tolerance: Duration,
    now_ms: i64,
) -> Result<(), WebhookError> {
    let at: i64 = timestamp
        .trim()
        .parse()
        .map_err(|_| WebhookError::BadTimestamp(timestamp.to_owned()))?;
    let at_ms = if at.abs() < SECONDS_OR_MILLIS {
        at.saturating_mul(1000)
    } else {
        at
    };
    let age = Duration::from_millis(now_ms.abs_diff(at_ms));
    if age > tolerance {
        return Err(WebhookError::Stale(age));
    }
    let expected = signature(secret, timestamp, body);
    let given = signature_hex.trim().to_ascii_uppercase();
    if bool::from(expected.as_bytes().ct_eq(given.as_bytes())) {
        Ok(())
    } else {
        Err(WebhookError::BadSignature)
    }
}

/// A webhook event: its type, when it happened (if the body says), and its data as sent
/// (`message`, `sender`, `conversation`, `recipient`, `user`, ... depending on the type).
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookEvent {
    /// The event's type.
    pub kind: WebhookEventType,
    /// When it happened, in milliseconds since the epoch, if the body says.
    pub created_at: Option<i64>,
    /// The event's data.
    pub data: serde_json::Value,
}

impl WebhookEvent {
    /// The id of the message the event is about (`data.message.id`), if any.
    pub fn message_id(&self) -> Option<&str> {
        self.data["message"]["id"].as_str()
    }

    /// The conversation the event is about (`data.conversation.id`, else the message's
    /// `conversationId`), if any.
    pub fn conversation_id(&self) -> Option<&str> {
        self.data["conversation"]["id"]
            .as_str()
            .or_else(|| self.data["message"]["conversationId"].as_str())
    }

    /// Who sent the message the event is about (`data.sender.id`, else the message's
    /// `senderId`), if any.
    pub fn sender_id(&self) -> Option<&str> {
        self.data["sender"]["id"]
            .as_str()
            .or_else(|| self.data["message"]["senderId"].as_str())
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawEvent {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    created_at: Option<i64>,
    #[serde(default)]
    data: serde_json::Value,
}

/// Reads a webhook's body (verify it first).
pub fn parse(body: &[u8]) -> Result<WebhookEvent, WebhookError> {
    let raw: RawEvent =
        serde_json::from_slice(body).map_err(|e| WebhookError::Body(e.to_string()))?;
    Ok(WebhookEvent {
        kind: WebhookEventType::from(raw.kind.as_str()),
        created_at: raw.created_at,
        data: raw.data,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "sk_test_secret";
    const BODY: &[u8] = br#"{"type":"message.sent","data":{}}"#;
    const AT: &str = "1767225600000";
    const AT_MS: i64 = 1_767_225_600_000;
    const MINUTE: Duration = Duration::from_secs(60);

    #[test]
    fn the_signature_is_talkjss_uppercase_hmac_sha256_of_timestamp_dot_body() {
        // Computed independently (Python's hmac module) for this secret, timestamp and body.
        let independent = "28E7C1C69D15F21AB2ED23D0A5E79DF91955F6B1BBE9CB13F2096F18E2F00412";
        assert_eq!(signature(SECRET, AT, BODY), independent);
        assert_eq!(
            verify_at(SECRET, AT, independent, BODY, MINUTE, AT_MS),
            Ok(())
        );
        let lower = independent.to_ascii_lowercase();
        assert_eq!(verify_at(SECRET, AT, &lower, BODY, MINUTE, AT_MS), Ok(()));
    }

    #[test]
    fn a_tampered_body_another_secret_or_an_old_timestamp_is_refused() {
        let good = signature(SECRET, AT, BODY);
        let tampered = br#"{"type":"message.sent","data":{"x":1}}"#;
        assert_eq!(
            verify_at(SECRET, AT, &good, tampered, MINUTE, AT_MS),
            Err(WebhookError::BadSignature)
        );
        let other = signature("sk_test_other", AT, BODY);
        assert_eq!(
            verify_at(SECRET, AT, &other, BODY, MINUTE, AT_MS),
            Err(WebhookError::BadSignature)
        );
        let later = AT_MS + 10 * 60 * 1000;
        assert!(matches!(
            verify_at(SECRET, AT, &good, BODY, MINUTE, later),
            Err(WebhookError::Stale(_))
        ));
        assert!(matches!(
            verify_at(SECRET, "yesterday", &good, BODY, MINUTE, AT_MS),
            Err(WebhookError::BadTimestamp(_))
        ));
        // A timestamp in seconds is understood too.
        let seconds = "1767225600";
        let signed = signature(SECRET, seconds, BODY);
        assert_eq!(
            verify_at(SECRET, seconds, &signed, BODY, MINUTE, AT_MS),
            Ok(())
        );
    }

    #[test]
    fn events_are_read_with_unknown_types_kept() {
        let e = parse(br#"{"type":"message.sent","createdAt":5,"data":{"message":{"id":"m1","conversationId":"c1","senderId":"u1"}}}"#).unwrap();
        assert_eq!(e.kind, WebhookEventType::MessageSent);
        assert_eq!(
            (
                e.message_id(),
                e.conversation_id(),
                e.sender_id(),
                e.created_at
            ),
            (Some("m1"), Some("c1"), Some("u1"), Some(5))
        );
        let e = parse(br#"{"type":"notification.opened","data":{}}"#).unwrap();
        assert_eq!(
            e.kind,
            WebhookEventType::Other("notification.opened".into())
        );
        assert!(matches!(parse(b"not json"), Err(WebhookError::Body(_))));
    }
}
