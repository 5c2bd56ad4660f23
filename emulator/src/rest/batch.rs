//! `POST /v1/{appId}/batch`: several REST calls in one request.
//!
//! The body is an array of operations `[seq, method, path, payload?, options?]` (TalkJS's
//! documented shape); `path` is appended to `/v1/{appId}`, and a GET's payload is its query as a
//! string map. The answer is an array `[[seq, status, body], ...]`, one per operation, in order
//! (TalkJS may run them in any order; the emulator runs them in the given one). Each operation
//! stands alone: one refused does not undo the others. `options` (`api_version`) is accepted
//! and ignored: the emulator has one behaviour (docs/protocol.md §12.7).

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::{Call, Reply, dispatch, segments};
use crate::world::{ApiError, ApiResult, World};

/// Most operations in one batch (TalkJS's documented limit).
pub const MAX_BATCH_OPERATIONS: usize = 10;

fn operation(v: &Value) -> ApiResult<(Value, Call)> {
    let parts = v
        .as_array()
        .filter(|p| (3..=5).contains(&p.len()))
        .ok_or_else(|| {
            ApiError::bad_request("each operation is [seq, method, path, payload?, options?]")
        })?;
    let (seq, method, path) = (&parts[0], &parts[1], &parts[2]);
    let (Some(method), Some(path)) = (method.as_str(), path.as_str()) else {
        return Err(ApiError::bad_request("method and path must be strings"));
    };
    let method = method.to_ascii_uppercase();
    let payload = parts.get(3).cloned().filter(|p| !p.is_null());
    let (path, inline_query) = path.split_once('?').unwrap_or((path, ""));
    let mut query: BTreeMap<String, String> = actix_web::web::Query::from_query(inline_query)
        .map(actix_web::web::Query::into_inner)
        .map_err(|e| ApiError::bad_request(format!("malformed query in {path}: {e}")))?;
    let body = if method == "GET" {
        if let Some(Value::Object(q)) = &payload {
            for (k, v) in q {
                let v = match v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                query.insert(k.clone(), v);
            }
        }
        None
    } else {
        payload
    };
    let call = Call {
        method,
        path: segments(path)?,
        query,
        body,
    };
    Ok((seq.clone(), call))
}

/// Runs a batch.
pub fn run(w: &mut World, call: &Call) -> Reply {
    let Some(Value::Array(ops)) = &call.body else {
        return Err(ApiError::bad_request(
            "the body must be an array of operations",
        ));
    };
    if ops.len() > MAX_BATCH_OPERATIONS {
        return Err(ApiError::bad_request(format!(
            "at most {MAX_BATCH_OPERATIONS} operations per batch, got {}",
            ops.len()
        )));
    }
    // Every operation must be well-formed before any runs.
    let ops: Vec<(Value, Call)> = ops.iter().map(operation).collect::<ApiResult<_>>()?;
    let responses: Vec<Value> = ops
        .into_iter()
        .map(|(seq, op)| match dispatch(w, op, false) {
            Ok(body) => json!([seq, 200, body]),
            Err(e) => json!([seq, e.status, e.body]),
        })
        .collect();
    Ok(Value::Array(responses))
}
