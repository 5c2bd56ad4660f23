//! How REST answers become [`talkjs::Error`](crate::Error)s: the same family as the Data API's,
//! so one `match` on [`ErrorKind`] serves both.
//!
//! The mapping is documented on the [`rest`](super) module.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use talkjs_protocol::ErrorBody;

use crate::{Error, ErrorKind};

/// What a failed REST request did on the network: attached to its [`Error`] as the
/// [`source`](std::error::Error::source), read with [`RestErrorExt::rest_failure`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RestFailure {
    /// The HTTP status of the last answer, if one came.
    pub status: Option<u16>,
    /// How many times the request was sent (1 when it was not retried).
    pub attempts: u32,
    /// The `Retry-After` of the last answer, if it had one.
    pub retry_after: Option<Duration>,
    /// The server's error body of the last answer, if it had one.
    pub body: Option<ErrorBody>,
}

impl fmt::Display for RestFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.status {
            Some(status) => write!(f, "status {status}")?,
            None => write!(f, "no answer")?,
        }
        write!(f, " after {} attempt(s)", self.attempts)
    }
}

impl std::error::Error for RestFailure {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.body.as_ref().map(|b| b as _)
    }
}

/// Reads the REST details of a [`talkjs::Error`](crate::Error).
///
/// ```
/// use talkjs::rest::RestErrorExt;
///
/// fn log(e: &talkjs::Error) {
///     if let Some(failure) = e.rest_failure() {
///         eprintln!("{e} ({failure})");
///     }
///     if e.status() == Some(429) {
///         eprintln!("rate limited even after {:?} attempts", e.attempts());
///     }
/// }
/// # log(&talkjs::Error::invalid("op", "why"));
/// ```
pub trait RestErrorExt {
    /// The REST details, if the error came from a request that reached the network.
    fn rest_failure(&self) -> Option<&RestFailure>;

    /// The HTTP status of the last answer, if one came.
    fn status(&self) -> Option<u16> {
        self.rest_failure().and_then(|f| f.status)
    }

    /// How many times the request was sent, if it was sent.
    fn attempts(&self) -> Option<u32> {
        self.rest_failure().map(|f| f.attempts)
    }
}

impl RestErrorExt for Error {
    fn rest_failure(&self) -> Option<&RestFailure> {
        std::error::Error::source(self).and_then(|s| s.downcast_ref::<RestFailure>())
    }
}

/// Why an attempt got no usable answer.
#[derive(Debug, Clone)]
pub(crate) enum NoAnswer {
    /// No connection could be made: nothing was sent.
    Connect(String),
    /// No answer within the timeout.
    Timeout(Duration),
    /// The connection broke, or the answer could not be read.
    Transport(String),
}

impl NoAnswer {
    /// Whether the server certainly did not see the request.
    pub(crate) fn nothing_sent(&self) -> bool {
        matches!(self, NoAnswer::Connect(_))
    }
}

/// The error for an attempt that got no answer.
pub(crate) fn no_answer(op: &Arc<str>, why: NoAnswer, attempts: u32) -> Error {
    let kind = match why {
        NoAnswer::Connect(e) => ErrorKind::Unreachable(format!("cannot connect: {e}")),
        NoAnswer::Timeout(d) => ErrorKind::Timeout(format!("no answer within {d:?}")),
        NoAnswer::Transport(e) => ErrorKind::Transport(e),
    };
    Error::new(op.clone(), kind).with_source(RestFailure {
        status: None,
        attempts,
        retry_after: None,
        body: None,
    })
}

/// The server's error body: its `{errorCode, reasons}` JSON, or its text as the one reason.
pub(crate) fn error_body(bytes: &[u8]) -> ErrorBody {
    serde_json::from_slice(bytes)
        .unwrap_or_else(|_| ErrorBody::new("", String::from_utf8_lossy(bytes).into_owned()))
}

/// The error for a non-2xx answer.
pub(crate) fn refused(
    op: &Arc<str>,
    status: u16,
    body: ErrorBody,
    attempts: u32,
    retry_after: Option<Duration>,
) -> Error {
    let failure = RestFailure {
        status: Some(status),
        attempts,
        retry_after,
        body: Some(body.clone()),
    };
    let error = match status {
        401 => Error::new(
            op.clone(),
            ErrorKind::AuthFailed(format!("the server refused the credentials: 401 {body}")),
        ),
        status => Error::from_status(op.clone(), status, body),
    };
    error.with_source(failure)
}

/// The error for a 200 whose body could not be decoded.
pub(crate) fn unreadable(op: &Arc<str>, e: serde_json::Error, attempts: u32) -> Error {
    let kind = ErrorKind::Protocol(format!("unreadable answer: {e}"));
    Error::new(op.clone(), kind).with_source(RestFailure {
        status: Some(200),
        attempts,
        retry_after: None,
        body: None,
    })
}
