//! `POST /v1/{appId}/batch`: up to ten REST calls in one request, each answered on its own.

use std::sync::Arc;

use awc::http::Method;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use talkjs_protocol::ErrorBody;
use talkjs_protocol::path::encode_component;

use super::client::Client;
use super::request::{Request, Segment};
use super::retry::Repeat;
use crate::{Error, Result};

/// Most operations in one batch (TalkJS's documented limit).
pub const MAX_BATCH_OPERATIONS: usize = 10;

/// One call of a batch: a method, a path under `/v1/{appId}` built from segments (each
/// percent-encoded, so ids may hold any character), and a payload (for a `GET`, its query).
///
/// ```
/// use talkjs::rest::BatchOperation;
///
/// let read = BatchOperation::get(["users", "alice"]);
/// let page = BatchOperation::get(["users", "bob", "conversations"]).query("limit", "5");
/// let write = BatchOperation::put(["users", "carol"], serde_json::json!({"name": "Carol"}));
/// assert_eq!(page.path(), "/users/bob/conversations");
/// # let _ = (read, write);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct BatchOperation {
    method: Method,
    path: String,
    empty_segment: bool,
    payload: Option<Value>,
}

impl BatchOperation {
    fn new<S: AsRef<str>>(
        method: Method,
        segments: impl IntoIterator<Item = S>,
        payload: Option<Value>,
    ) -> BatchOperation {
        let mut path = String::new();
        let mut empty_segment = false;
        for s in segments {
            path.push('/');
            empty_segment |= s.as_ref().is_empty();
            encode_component(s.as_ref(), &mut path);
        }
        BatchOperation {
            method,
            path,
            empty_segment,
            payload,
        }
    }

    /// A `GET`.
    pub fn get<S: AsRef<str>>(segments: impl IntoIterator<Item = S>) -> BatchOperation {
        BatchOperation::new(Method::GET, segments, None)
    }

    /// A `PUT` with this body.
    pub fn put<S: AsRef<str>>(segments: impl IntoIterator<Item = S>, body: Value) -> Self {
        BatchOperation::new(Method::PUT, segments, Some(body))
    }

    /// A `PATCH` with this body.
    pub fn patch<S: AsRef<str>>(segments: impl IntoIterator<Item = S>, body: Value) -> Self {
        BatchOperation::new(Method::PATCH, segments, Some(body))
    }

    /// A `POST` with this body.
    pub fn post<S: AsRef<str>>(segments: impl IntoIterator<Item = S>, body: Value) -> Self {
        BatchOperation::new(Method::POST, segments, Some(body))
    }

    /// A `DELETE`.
    pub fn delete<S: AsRef<str>>(segments: impl IntoIterator<Item = S>) -> BatchOperation {
        BatchOperation::new(Method::DELETE, segments, None)
    }

    /// Adds a query parameter (a `GET`'s payload is its query).
    pub fn query(mut self, key: impl Into<String>, value: impl Into<String>) -> BatchOperation {
        if !matches!(self.payload, Some(Value::Object(_))) {
            self.payload = Some(Value::Object(Map::new()));
        }
        if let Some(Value::Object(q)) = &mut self.payload {
            q.insert(key.into(), Value::String(value.into()));
        }
        self
    }

    /// The method (`GET`, `PUT`, ...).
    pub fn method(&self) -> &str {
        self.method.as_str()
    }

    /// The encoded path under `/v1/{appId}`.
    pub fn path(&self) -> &str {
        &self.path
    }
}

/// The answer to one operation of a batch.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct BatchResponse {
    /// Its HTTP status.
    pub status: u16,
    /// Its body.
    pub body: Value,
    operation: Arc<str>,
}

impl BatchResponse {
    /// The body decoded as `T` for a 2xx, else the refusal as an [`Error`] (as the same call
    /// made alone would give).
    pub fn into_result<T: DeserializeOwned>(self) -> Result<T> {
        if (200..300).contains(&self.status) {
            return serde_json::from_value(self.body)
                .map_err(|e| Error::unreadable(self.operation, e));
        }
        let body: ErrorBody = serde_json::from_value(self.body.clone())
            .unwrap_or_else(|_| ErrorBody::new("", self.body.to_string()));
        Err(super::error::refused(
            &self.operation,
            self.status,
            body,
            1,
            None,
        ))
    }
}

impl Client {
    /// Runs 1 to [`MAX_BATCH_OPERATIONS`] operations in one request and answers each, in the
    /// order given (TalkJS may run them in any order; each stands alone). The batch is
    /// refused whole for a malformed operation; otherwise each answer says how its call went.
    /// Retried after a possible delivery only if no operation is a `POST`.
    pub async fn batch(&self, operations: Vec<BatchOperation>) -> Result<Vec<BatchResponse>> {
        let request = Request::new(Method::POST, &[Segment::Word("batch")])?;
        let op = request.operation.clone();
        if operations.is_empty() || operations.len() > MAX_BATCH_OPERATIONS {
            return Err(Error::invalid(
                op,
                format!(
                    "a batch has 1 to {MAX_BATCH_OPERATIONS} operations, not {}",
                    operations.len()
                ),
            ));
        }
        if let Some(o) = operations.iter().find(|o| o.empty_segment) {
            return Err(Error::invalid(
                op,
                format!("{} has an empty segment", o.path),
            ));
        }
        let repeat = if operations.iter().any(|o| o.method == Method::POST) {
            Repeat::Unsafe
        } else {
            Repeat::Safe
        };
        let body: Vec<Value> = operations
            .iter()
            .enumerate()
            .map(|(seq, o)| {
                let mut op = vec![
                    Value::from(seq),
                    Value::from(o.method.as_str()),
                    Value::from(o.path.as_str()),
                ];
                op.extend(o.payload.clone());
                Value::Array(op)
            })
            .collect();
        let answers: Vec<(usize, u16, Value)> =
            self.call(request.json(&body)?.repeat(repeat)).await?;
        let mut slots: Vec<Option<BatchResponse>> = vec![None; operations.len()];
        for (seq, status, body) in answers {
            if let Some(slot) = slots.get_mut(seq) {
                let o = &operations[seq];
                *slot = Some(BatchResponse {
                    status,
                    body,
                    operation: format!("{} {} (batch)", o.method, o.path).into(),
                });
            }
        }
        slots
            .into_iter()
            .enumerate()
            .map(|(seq, slot)| {
                slot.ok_or_else(|| {
                    Error::new(
                        op.clone(),
                        crate::ErrorKind::Protocol(format!("no answer for operation {seq}")),
                    )
                })
            })
            .collect()
    }
}
