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
    /// 403: only the sender may edit or delete a message.
    pub const NOT_MESSAGE_SENDER: &str = "NOT_MESSAGE_SENDER";
    /// 403: the participant's access is `Read`.
    pub const READ_ONLY_ACCESS: &str = "READ_ONLY_ACCESS";
    /// 404: the app id is not known.
    pub const APP_NOT_FOUND: &str = "APP_NOT_FOUND";
    /// 400: a message has more distinct reactions than allowed.
    pub const TOO_MANY_REACTIONS: &str = "TOO_MANY_REACTIONS";
    /// 400: a reply names a message that does not exist in the conversation.
    pub const REFERENCED_MESSAGE_NOT_FOUND: &str = "REFERENCED_MESSAGE_NOT_FOUND";
    /// 400: a file block names a file token that is not valid (or not yours to use).
    pub const INVALID_FILE_TOKEN: &str = "INVALID_FILE_TOKEN";
    /// 403: the current user may not edit that user.
    pub const UNAUTHORIZED_TO_EDIT_USER: &str = "UNAUTHORIZED_TO_EDIT_USER";
    /// 405: the method is not allowed on that path.
    pub const METHOD_NOT_ALLOWED: &str = "METHOD_NOT_ALLOWED";
    /// 403: the app does not allow links in messages.
    pub const LINK_NOT_ALLOWED: &str = "LINK_NOT_ALLOWED";
    /// 400: an autolink node does not match its text.
    pub const INVALID_AUTOLINK: &str = "INVALID_AUTOLINK";
    /// 413 (uploads): the file is larger than allowed, as TalkJS's upload endpoint says it.
    pub const FILE_TOO_BIG: &str = "FILE_TOO_BIG";
    /// 429 (talkjs-emulator): too many sockets from one address have not logged in yet.
    pub const TOO_MANY_PENDING_SOCKETS: &str = "TOO_MANY_PENDING_SOCKETS";
}

macro_rules! error_codes {
    ($($(#[$doc:meta])* $variant:ident = $code:ident,)*) => {
        /// A server error code as an enum to `match` on: every code the emulator sends and the
        /// official client knows (see [`codes`]); any other is kept as [`ErrorCode::Other`].
        ///
        /// ```
        /// # mod talkjs { pub use talkjs_protocol::{filter, params, snapshot}; pub use talkjs_protocol as protocol; }
        /// use talkjs::protocol::error::ErrorCode;
        /// assert_eq!(ErrorCode::from("NOT_A_PARTICIPANT"), ErrorCode::NotAParticipant);
        /// assert_eq!(ErrorCode::NotAParticipant.as_str(), "NOT_A_PARTICIPANT");
        /// assert_eq!(ErrorCode::from("SOMETHING_NEW"), ErrorCode::Other("SOMETHING_NEW".into()));
        /// ```
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum ErrorCode {
            $($(#[$doc])* $variant,)*
            /// A code this version does not know (or an empty one), kept as the server sent it.
            Other(String),
        }

        impl ErrorCode {
            /// Every known code, in declaration order (for tests and documentation).
            pub const KNOWN: &'static [ErrorCode] = &[$(ErrorCode::$variant,)*];

            /// The code as the server spells it.
            pub fn as_str(&self) -> &str {
                match self {
                    $(ErrorCode::$variant => codes::$code,)*
                    ErrorCode::Other(code) => code,
                }
            }
        }

        impl From<&str> for ErrorCode {
            fn from(code: &str) -> ErrorCode {
                match code {
                    $(codes::$code => ErrorCode::$variant,)*
                    other => ErrorCode::Other(other.to_owned()),
                }
            }
        }
    };
}

error_codes! {
    /// `NOT_A_PARTICIPANT` (403): reads turn it into `None`.
    NotAParticipant = NOT_A_PARTICIPANT,
    /// `USER_NOT_FOUND` (404).
    UserNotFound = USER_NOT_FOUND,
    /// `PARTICIPANT_NOT_FOUND` (404).
    ParticipantNotFound = PARTICIPANT_NOT_FOUND,
    /// `CONVERSATION_NOT_FOUND` (404).
    ConversationNotFound = CONVERSATION_NOT_FOUND,
    /// `MESSAGE_NOT_FOUND` (404).
    MessageNotFound = MESSAGE_NOT_FOUND,
    /// `NOT_FOUND` (404).
    NotFound = NOT_FOUND,
    /// `UNAUTHORIZED_TO_EDIT` (403): may not edit the conversation.
    UnauthorizedToEdit = UNAUTHORIZED_TO_EDIT,
    /// `UNAUTHORIZED_TO_EDIT_PARTICIPANT` (403).
    UnauthorizedToEditParticipant = UNAUTHORIZED_TO_EDIT_PARTICIPANT,
    /// `UNAUTHORIZED_TO_EDIT_USER` (403).
    UnauthorizedToEditUser = UNAUTHORIZED_TO_EDIT_USER,
    /// `ALREADY_EXISTS` (409).
    AlreadyExists = ALREADY_EXISTS,
    /// `BAD_REQUEST` (400).
    BadRequest = BAD_REQUEST,
    /// `INVALID_TOKEN` (401).
    InvalidToken = INVALID_TOKEN,
    /// `FORBIDDEN` (403).
    Forbidden = FORBIDDEN,
    /// `NOT_MESSAGE_SENDER` (403): only the sender may edit or delete a message.
    NotMessageSender = NOT_MESSAGE_SENDER,
    /// `READ_ONLY_ACCESS` (403): the participant may read but not write.
    ReadOnlyAccess = READ_ONLY_ACCESS,
    /// `LINK_NOT_ALLOWED` (403).
    LinkNotAllowed = LINK_NOT_ALLOWED,
    /// `INVALID_AUTOLINK` (400).
    InvalidAutolink = INVALID_AUTOLINK,
    /// `TOO_MANY_REACTIONS` (400).
    TooManyReactions = TOO_MANY_REACTIONS,
    /// `REFERENCED_MESSAGE_NOT_FOUND` (400).
    ReferencedMessageNotFound = REFERENCED_MESSAGE_NOT_FOUND,
    /// `INVALID_FILE_TOKEN` (400).
    InvalidFileToken = INVALID_FILE_TOKEN,
    /// `FILE_TOO_LARGE`.
    FileTooLarge = FILE_TOO_LARGE,
    /// `FILE_TOO_BIG` (413, uploads).
    FileTooBig = FILE_TOO_BIG,
    /// `APP_NOT_FOUND` (404).
    AppNotFound = APP_NOT_FOUND,
    /// `METHOD_NOT_ALLOWED` (405).
    MethodNotAllowed = METHOD_NOT_ALLOWED,
    /// `RATE_LIMITED` (429).
    RateLimited = RATE_LIMITED,
    /// `TOO_MANY_PENDING_SOCKETS` (429, the emulator's bound on unauthenticated sockets).
    TooManyPendingSockets = TOO_MANY_PENDING_SOCKETS,
    /// `INTERNAL_ERROR` (500).
    InternalError = INTERNAL_ERROR,
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<String> for ErrorCode {
    fn from(code: String) -> ErrorCode {
        ErrorCode::from(code.as_str())
    }
}

impl PartialEq<str> for ErrorCode {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for ErrorCode {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
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
    /// The code, typed.
    pub fn code(&self) -> ErrorCode {
        ErrorCode::from(self.error_code.as_str())
    }

    /// An error body with one reason.
    pub fn new(error_code: impl Into<String>, reason: impl Into<String>) -> ErrorBody {
        ErrorBody {
            error_code: error_code.into(),
            reasons: vec![reason.into()],
        }
    }
}

impl std::error::Error for ErrorBody {}

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
    fn every_known_code_round_trips_and_unknown_codes_are_kept() {
        for code in ErrorCode::KNOWN {
            assert_eq!(&ErrorCode::from(code.as_str()), code);
            assert!(!matches!(code, ErrorCode::Other(_)));
        }
        let mut spellings: Vec<&str> = ErrorCode::KNOWN.iter().map(ErrorCode::as_str).collect();
        spellings.sort_unstable();
        spellings.dedup();
        assert_eq!(
            spellings.len(),
            ErrorCode::KNOWN.len(),
            "no two variants share a code"
        );
        assert_eq!(ErrorCode::from("NEW_CODE").as_str(), "NEW_CODE");
        assert_eq!(ErrorCode::from(""), ErrorCode::Other(String::new()));
    }

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
