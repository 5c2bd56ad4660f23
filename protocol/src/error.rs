//! The error body of a failed request: `{"errorCode": "...", "reasons": ["..."]}`.
//!
//! Every non-200 realtime response and every failed upload or search carries one. The official
//! client builds its messages from it (`... failed, got status 403 NOT_A_PARTICIPANT, reasons: a,b`)
//! and hangs if the body is `null`, so servers must always send an object.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

/// Error codes with a meaning to clients (docs/protocol.md §8.2), and the ones our emulator uses.
pub mod codes {
    /// 403: the current user is not a participant of the conversation. Reads turn it into `null`.
    pub const NOT_A_PARTICIPANT: &str = "NOT_A_PARTICIPANT";
    /// 404: the user does not exist.
    pub const USER_NOT_FOUND: &str = "USER_NOT_FOUND";
    /// 404: the user is not a participant, but the current user's side exists.
    pub const PARTICIPANT_NOT_FOUND: &str = "PARTICIPANT_NOT_FOUND";
    /// 404: the conversation does not exist.
    pub const CONVERSATION_NOT_FOUND: &str = "CONVERSATION_NOT_FOUND";
    /// 404: the message does not exist.
    pub const MESSAGE_NOT_FOUND: &str = "MESSAGE_NOT_FOUND";
    /// 404: generic not found (a user missing from a batched get).
    pub const NOT_FOUND: &str = "NOT_FOUND";
    /// 403: the current user may not edit the conversation.
    pub const UNAUTHORIZED_TO_EDIT: &str = "UNAUTHORIZED_TO_EDIT";
    /// 403: the current user may not edit their participation.
    pub const UNAUTHORIZED_TO_EDIT_PARTICIPANT: &str = "UNAUTHORIZED_TO_EDIT_PARTICIPANT";
    /// 409: the thing to create exists already (clients treat it as success).
    pub const ALREADY_EXISTS: &str = "ALREADY_EXISTS";
    /// 400: the request is malformed.
    pub const BAD_REQUEST: &str = "BAD_REQUEST";
    /// 401: the token is missing, invalid or expired.
    pub const INVALID_TOKEN: &str = "INVALID_TOKEN";
    /// 403: the operation is not allowed.
    pub const FORBIDDEN: &str = "FORBIDDEN";
    /// 413/400: the file is larger than allowed.
    pub const FILE_TOO_LARGE: &str = "FILE_TOO_LARGE";
    /// 429: too many requests.
    pub const RATE_LIMITED: &str = "RATE_LIMITED";
    /// 500: the server failed.
    pub const INTERNAL_ERROR: &str = "INTERNAL_ERROR";
}

/// The body of an error response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorBody {
    /// A machine-readable code such as `NOT_A_PARTICIPANT`; empty if the server sent none.
    #[serde(default)]
    pub error_code: String,
    /// Human-readable reasons. A server that sends something other than an array of strings has
    /// each value turned into its JSON text, as the official client does in its messages.
    #[serde(default, deserialize_with = "lenient_reasons")]
    pub reasons: Vec<String>,
}

impl ErrorBody {
    /// An error body with one reason.
    pub fn new(error_code: impl Into<String>, reason: impl Into<String>) -> ErrorBody {
        ErrorBody {
            error_code: error_code.into(),
            reasons: vec![reason.into()],
        }
    }
}

impl fmt::Display for ErrorBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}, reasons: {}",
            self.error_code,
            self.reasons.join(",")
        )
    }
}

fn lenient_reasons<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    fn text(v: Value) -> String {
        match v {
            Value::String(s) => s,
            other => other.to_string(),
        }
    }
    Ok(match Value::deserialize(d)? {
        Value::Null => Vec::new(),
        Value::Array(items) => items.into_iter().map(text).collect(),
        other => vec![text(other)],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn odd_reasons_are_kept_as_text() {
        let b: ErrorBody =
            serde_json::from_value(json!({"errorCode":"X","reasons":{"field":"x"}})).unwrap();
        assert_eq!(b.reasons, vec![r#"{"field":"x"}"#.to_string()]);
        let b: ErrorBody = serde_json::from_value(json!({})).unwrap();
        assert_eq!(
            b,
            ErrorBody {
                error_code: String::new(),
                reasons: vec![]
            }
        );
        assert_eq!(
            ErrorBody::new("NOT_A_PARTICIPANT", "nope").to_string(),
            "NOT_A_PARTICIPANT, reasons: nope"
        );
    }
}
