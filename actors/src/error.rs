//! The runtime's error: what failed (the operation) and why (an [`ErrorKind`] to match on).
//!
//! Messages follow the official client's wording (`Send message to conversation c1 failed, got
//! status 403 NOT_A_PARTICIPANT, reasons: ...`) so logs read the same in both worlds.

use std::fmt;
use std::sync::Arc;

use talkjs_protocol::ErrorBody;
use talkjs_protocol::error::ErrorCode;

/// Why an operation failed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The caller passed something invalid (an empty id, a bad count); nothing was sent.
    InvalidArgument(String),
    /// The server says the thing does not exist (404).
    NotFound(ErrorBody),
    /// The server refused (403), e.g. `NOT_A_PARTICIPANT` or `READ_ONLY_ACCESS`.
    Forbidden(ErrorBody),
    /// The server answered another error status (400, 402, 405, 409, 500 after retries, ...).
    Server {
        /// The status.
        status: u16,
        /// The error body.
        body: ErrorBody,
    },
    /// Authentication failed and cannot recover: the token provider failed, or the server refused
    /// every token.
    AuthFailed(String),
    /// The session was terminated (by the caller, by a fatal auth error, or an unknown app id)
    /// before the operation finished.
    SessionTerminated(String),
    /// The network failed in a way retrying did not fix (only for HTTP uploads; realtime requests
    /// wait for the next connection instead).
    Transport(String),
    /// The server could not be reached (or did not authenticate the connection) within
    /// [`Timings::connect_timeout`](crate::Timings): the reason names the last failure seen.
    /// Nothing was sent; a later call tries again.
    Unreachable(String),
    /// The server did not answer the request within
    /// [`Timings::request_timeout`](crate::Timings). It may still have applied it.
    Timeout(String),
    /// The server answered 200 with data that could not be read as the expected type (a server
    /// speaking another version of the protocol, or a bug): nothing was applied.
    Protocol(String),
    /// The caller ended it first: a subscription unsubscribed before its first snapshot (a
    /// [`Terminated::Unsubscribed`](crate::subscription::Terminated) turned into an error).
    Cancelled(String),
}

/// An operation's failure: what failed ([`Error::operation`]), why ([`Error::kind`], to
/// match on), the server's code when it gave one ([`Error::code`]), and the underlying cause
/// ([`std::error::Error::source`]: the server's error body, or the decoding error).
#[derive(Debug, Clone)]
pub struct Error {
    operation: Arc<str>,
    kind: ErrorKind,
    cause: Option<Arc<dyn std::error::Error + Send + Sync>>,
}

impl PartialEq for Error {
    /// Equal when the operation and the kind are (the cause is detail).
    fn eq(&self, other: &Error) -> bool {
        self.operation == other.operation && self.kind == other.kind
    }
}

impl Eq for Error {}

impl Error {
    /// A failure of `operation` (e.g. `Send message to conversation c1`).
    pub fn new(operation: impl Into<Arc<str>>, kind: ErrorKind) -> Error {
        Error {
            operation: operation.into(),
            kind,
            cause: None,
        }
    }

    /// The same error with `cause` as its [`source`](std::error::Error::source).
    pub fn with_source(mut self, cause: impl std::error::Error + Send + Sync + 'static) -> Error {
        self.cause = Some(Arc::new(cause));
        self
    }

    /// The server's error code, typed (`None` when the server gave none: the failure was
    /// local, or on the network).
    pub fn code(&self) -> Option<ErrorCode> {
        match &self.kind {
            ErrorKind::NotFound(b)
            | ErrorKind::Forbidden(b)
            | ErrorKind::Server { body: b, .. } => Some(b.code()),
            _ => None,
        }
    }

    /// An invalid argument to `operation`.
    pub fn invalid(operation: impl Into<Arc<str>>, reason: impl Into<String>) -> Error {
        Error::new(operation, ErrorKind::InvalidArgument(reason.into()))
    }

    /// A 200 answer to `operation` whose data could not be decoded.
    pub fn unreadable(
        operation: impl Into<Arc<str>>,
        cause: impl std::error::Error + Send + Sync + 'static,
    ) -> Error {
        Error::new(
            operation,
            ErrorKind::Protocol(format!("unreadable answer: {cause}")),
        )
        .with_source(cause)
    }

    /// The error of a call whose session actor is gone (it stopped, or its runtime shut down).
    pub fn session_stopped(operation: impl Into<Arc<str>>) -> Error {
        Error::new(
            operation,
            ErrorKind::SessionTerminated("the session stopped".into()),
        )
    }

    /// The error for a non-200 response to `operation`.
    pub fn from_status(operation: impl Into<Arc<str>>, status: u16, body: ErrorBody) -> Error {
        let kind = match status {
            404 => ErrorKind::NotFound(body),
            403 => ErrorKind::Forbidden(body),
            status => ErrorKind::Server { status, body },
        };
        Error::new(operation, kind)
    }

    /// What failed.
    pub fn operation(&self) -> &str {
        &self.operation
    }

    /// Why.
    pub fn kind(&self) -> &ErrorKind {
        &self.kind
    }

    /// The server's error code, if the server refused.
    pub fn error_code(&self) -> Option<&str> {
        match &self.kind {
            ErrorKind::NotFound(b)
            | ErrorKind::Forbidden(b)
            | ErrorKind::Server { body: b, .. } => Some(&b.error_code),
            _ => None,
        }
    }

    /// Whether this means "not found, or not visible to you" (404, or 403 `NOT_A_PARTICIPANT`):
    /// what reads and subscriptions show as `None`.
    pub fn is_absent(&self) -> bool {
        match &self.kind {
            ErrorKind::NotFound(_) => true,
            ErrorKind::Forbidden(b) => {
                b.error_code == talkjs_protocol::error::codes::NOT_A_PARTICIPANT
            }
            _ => false,
        }
    }

    /// The same failure, attributed to another operation.
    pub fn with_operation(self, operation: impl Into<Arc<str>>) -> Error {
        Error {
            operation: operation.into(),
            ..self
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let op = &self.operation;
        match &self.kind {
            ErrorKind::InvalidArgument(r) => write!(f, "{op} failed: invalid argument: {r}"),
            ErrorKind::NotFound(b) => write!(f, "{op} failed, got status 404 {b}"),
            ErrorKind::Forbidden(b) => write!(f, "{op} failed, got status 403 {b}"),
            ErrorKind::Server { status, body } => {
                write!(f, "{op} failed, got status {status} {body}")
            }
            ErrorKind::AuthFailed(r) => write!(f, "{op} failed: could not authenticate: {r}"),
            ErrorKind::SessionTerminated(r) => {
                write!(f, "{op} failed because the session was destroyed: {r}")
            }
            ErrorKind::Transport(r) | ErrorKind::Protocol(r) => write!(f, "{op} failed: {r}"),
            ErrorKind::Unreachable(r) => write!(f, "{op} failed: {r}"),
            ErrorKind::Timeout(r) => write!(f, "{op} failed: {r}"),
            ErrorKind::Cancelled(r) => write!(f, "{op} was cancelled: {r}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        if let Some(cause) = &self.cause {
            return Some(cause.as_ref());
        }
        match &self.kind {
            ErrorKind::NotFound(b)
            | ErrorKind::Forbidden(b)
            | ErrorKind::Server { body: b, .. } => Some(b),
            _ => None,
        }
    }
}

/// A result of the runtime.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_read_like_the_official_clients() {
        let e = Error::from_status(
            "Send message to conversation cx",
            403,
            ErrorBody::new("NOT_A_PARTICIPANT", "nope"),
        );
        assert_eq!(
            e.to_string(),
            "Send message to conversation cx failed, got status 403 NOT_A_PARTICIPANT, reasons: nope"
        );
        assert_eq!(e.error_code(), Some("NOT_A_PARTICIPANT"));
        assert!(matches!(e.kind(), ErrorKind::Forbidden(_)));
    }
}
