//! One REST request: its path (ids percent-encoded, empty ones refused), query and body, and
//! one attempt at sending it on an arbiter's thread, bounded in time from sending to the last
//! byte of the answer.

use std::sync::Arc;
use std::time::Duration;

use awc::http::Method;
use serde::Serialize;
use talkjs_protocol::path::encode_component;

use super::error::NoAnswer;
use super::retry::{Repeat, parse_retry_after};
use crate::{Error, Result};

/// The largest answer body read (a page of 100 messages is far smaller).
const MAX_ANSWER_BYTES: usize = 16 * 1024 * 1024;
/// awc's own timeout on its pooled client; each attempt is bounded by the client's timeout
/// instead (a `tokio` timeout around the whole attempt, body included).
const AWC_TIMEOUT_CEILING: Duration = Duration::from_secs(3600);

/// One REST request, before it is sent.
#[derive(Debug, Clone)]
pub(crate) struct Request {
    /// What the error says failed: `{METHOD} {path}`.
    pub(crate) operation: Arc<str>,
    pub(crate) method: Method,
    /// The encoded path after `/v1/{appId}`, starting with `/`.
    pub(crate) path: String,
    /// Query parameters, encoded when sent.
    pub(crate) query: Vec<(&'static str, String)>,
    /// The JSON body.
    pub(crate) body: Option<Arc<[u8]>>,
    pub(crate) repeat: Repeat,
}

impl Request {
    /// A request to the path of these (decoded) segments; an `InvalidArgument` error if any
    /// of them is empty (`what` names them in the message, e.g. `["user id"]`).
    pub(crate) fn new(method: Method, segments: &[Segment<'_>]) -> Result<Request> {
        let mut path = String::new();
        for s in segments {
            path.push('/');
            encode_component(s.value(), &mut path);
        }
        let operation: Arc<str> = format!("{method} {path}").into();
        for s in segments {
            if let Segment::Id(what, id) = s
                && id.is_empty()
            {
                return Err(Error::invalid(operation, format!("the {what} is empty")));
            }
        }
        let repeat = if method == Method::POST {
            Repeat::Unsafe
        } else {
            Repeat::Safe
        };
        Ok(Request {
            operation,
            method,
            path,
            query: Vec::new(),
            body: None,
            repeat,
        })
    }

    /// The same request with this JSON body.
    pub(crate) fn json<T: Serialize + ?Sized>(mut self, body: &T) -> Result<Request> {
        let bytes = serde_json::to_vec(body).map_err(|e| {
            Error::invalid(self.operation.clone(), format!("unserialisable body: {e}"))
        })?;
        self.body = Some(bytes.into());
        Ok(self)
    }

    /// The same request, retried as [`Repeat::Safe`] or not.
    pub(crate) fn repeat(mut self, repeat: Repeat) -> Request {
        self.repeat = repeat;
        self
    }

    /// Adds a query parameter.
    pub(crate) fn query(mut self, key: &'static str, value: impl ToString) -> Request {
        self.query.push((key, value.to_string()));
        self
    }

    pub(crate) fn path_and_query(&self) -> String {
        let mut out = self.path.clone();
        for (i, (k, v)) in self.query.iter().enumerate() {
            out.push(if i == 0 { '?' } else { '&' });
            out.push_str(k);
            out.push('=');
            encode_component(v, &mut out);
        }
        out
    }
}

/// A path segment: a fixed word, or an id that must not be empty.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Segment<'a> {
    /// A fixed segment such as `users`.
    Word(&'a str),
    /// An id, with what it is for the error message.
    Id(&'static str, &'a str),
}

impl Segment<'_> {
    fn value(&self) -> &str {
        match self {
            Segment::Word(s) | Segment::Id(_, s) => s,
        }
    }
}

/// One attempt's answer.
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) retry_after: Option<Duration>,
    pub(crate) body: std::result::Result<Vec<u8>, String>,
}

thread_local! {
    /// One pooled awc client per arbiter thread: connections are reused across requests.
    static HTTP: awc::Client = talkjs_actors::http_client(AWC_TIMEOUT_CEILING);
}

/// One attempt, on an arbiter's thread, bounded by `timeout` from sending to the last byte.
pub(crate) async fn attempt(
    method: Method,
    url: Arc<str>,
    token: String,
    body: Option<Arc<[u8]>>,
    timeout: Duration,
) -> std::result::Result<Answer, NoAnswer> {
    let client = HTTP.with(Clone::clone);
    let work = async move {
        let builder = client
            .request(method, &*url)
            .insert_header(("Authorization", format!("Bearer {token}")));
        let sent = match body {
            Some(b) => {
                builder
                    .insert_header(("Content-Type", "application/json"))
                    .send_body(b.to_vec())
                    .await
            }
            None => builder.send().await,
        };
        let mut resp = sent.map_err(|e| match e {
            awc::error::SendRequestError::Connect(e) => NoAnswer::Connect(e.to_string()),
            awc::error::SendRequestError::Timeout => NoAnswer::Timeout(timeout),
            other => NoAnswer::Transport(other.to_string()),
        })?;
        let retry_after = resp
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(parse_retry_after);
        let body = resp
            .body()
            .limit(MAX_ANSWER_BYTES)
            .await
            .map(|b| b.to_vec())
            .map_err(|e| e.to_string());
        Ok(Answer {
            status: resp.status().as_u16(),
            retry_after,
            body,
        })
    };
    tokio::time::timeout(timeout, work)
        .await
        .unwrap_or(Err(NoAnswer::Timeout(timeout)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    #[test]
    fn ids_are_encoded_and_empty_ones_refused() {
        let r = Request::new(
            Method::GET,
            &[Segment::Word("users"), Segment::Id("user id", "a/b c")],
        )
        .unwrap()
        .query("startingAfter", "x&y");
        assert_eq!(r.path_and_query(), "/users/a%2Fb%20c?startingAfter=x%26y");
        let e = Request::new(
            Method::GET,
            &[Segment::Word("users"), Segment::Id("user id", "")],
        )
        .unwrap_err();
        assert!(matches!(e.kind(), ErrorKind::InvalidArgument(r) if r.contains("user id")));
    }
}
