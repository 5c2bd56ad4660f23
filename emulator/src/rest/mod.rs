//! TalkJS's REST API v1 on the emulator's port: `/v1/{appId}/...`, the API a backend uses to
//! create users and conversations and to send messages (with browser sync off, the only way to),
//! plus the emulator's own `POST /emulator/v1/apps/{appId}/reset`.
//!
//! One [`dispatch`] serves every endpoint, from an HTTP request or from an operation of
//! `POST /v1/{appId}/batch`, so both behave the same. A call runs under the world's lock from
//! validation to its events, and every write goes through the same world operations (and fires
//! the same realtime events) as a client's write. Success is `200` with a JSON body (`{}` when
//! there is nothing to return); refusals are the status TalkJS documents with the emulator's
//! usual `{errorCode, reasons}` body (docs/protocol.md §12.7).

pub mod auth;
mod batch;
mod conversations;
mod messages;
pub mod shapes;
mod users;

use std::collections::BTreeMap;
use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};
use talkjs_protocol::error::codes;
use talkjs_protocol::path::decode_component;
use talkjs_protocol::wire::Patch;

use crate::http::APP_NOT_FOUND;
use crate::realtime::{SharedWorld, lock};
use crate::state_file::StateFile;
use crate::world::{ApiError, ApiResult, World};

/// Largest page a REST list returns (the client API's cap, [`crate::world::conversations::MAX_PAGE`];
/// TalkJS caps `limit` too but does not document the number).
pub const MAX_LIMIT: usize = crate::world::conversations::MAX_PAGE;
/// Page size when a REST list request gives no `limit` (TalkJS's docs show 10 in their examples).
pub const DEFAULT_LIMIT: usize = 10;

/// The seed a reset restores (`--seed`), shared with the reset endpoint.
#[derive(Debug, Clone, Default)]
pub struct Seed(pub Option<Arc<StateFile>>);

/// One REST call: method, decoded path segments after `/v1/{appId}/`, query and JSON body.
#[derive(Debug, Clone)]
pub struct Call {
    /// `GET`, `PUT`, ...
    pub method: String,
    /// The path after the app id, one decoded segment each.
    pub path: Vec<String>,
    /// Query parameters.
    pub query: BTreeMap<String, String>,
    /// The JSON body, if any.
    pub body: Option<Value>,
}

/// A call's answer: the JSON body of a 200, or the refusal.
pub type Reply = ApiResult<Value>;

/// Registers the REST routes.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::scope("/v1/{app}").default_service(web::to(serve)))
        .route("/emulator/v1/apps/{app}/reset", web::post().to(reset));
}

/// Answers a refusal as JSON with its status.
pub(crate) fn error_response(e: ApiError) -> HttpResponse {
    HttpResponse::build(StatusCode::from_u16(e.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        .json(e.body)
}

/// Checks the app id of the URL and the caller's authorization.
pub(crate) fn admit(w: &World, req: &HttpRequest, app: &str) -> ApiResult<()> {
    if app != w.config().app_id {
        return Err(ApiError::not_found(
            APP_NOT_FOUND,
            format!("the app {app} does not exist"),
        ));
    }
    let header = req
        .headers()
        .get("authorization")
        .and_then(|h| h.to_str().ok());
    auth::authorize(w.config(), header, w.clock.unix_seconds())
        .map_err(|e| ApiError::unauthorized(e.to_string()))
}

/// The raw path split into decoded segments: ids may contain an encoded `/`.
fn segments(path: &str) -> ApiResult<Vec<String>> {
    path.split('/')
        .filter(|s| !s.is_empty())
        .map(|s| decode_component(s).map_err(|_| ApiError::bad_request("malformed path")))
        .collect()
}

async fn serve(world: web::Data<SharedWorld>, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    let answer = (|| {
        let mut path = segments(req.uri().path())?;
        // ["v1", app, rest...]
        let app = path.get(1).cloned().unwrap_or_default();
        path.drain(..2.min(path.len()));
        // Who is asking comes first: nothing about the request is looked at for a stranger.
        admit(&lock(&world), &req, &app)?;
        // The body is parsed outside the world's lock, which is held only for the call itself.
        let query = web::Query::<BTreeMap<String, String>>::from_query(req.query_string())
            .map_err(|e| ApiError::bad_request(format!("malformed query string: {e}")))?
            .into_inner();
        let body = if body.is_empty() {
            None
        } else {
            Some(
                serde_json::from_slice(&body)
                    .map_err(|e| ApiError::bad_request(format!("the body is not JSON: {e}")))?,
            )
        };
        let call = Call {
            method: req.method().as_str().to_owned(),
            path,
            query,
            body,
        };
        dispatch(&mut lock(&world), call, true)
    })();
    match answer {
        Ok(body) => HttpResponse::Ok().json(body),
        Err(e) => error_response(e),
    }
}

/// `POST /emulator/v1/apps/{appId}/reset`: wipes the app's state (back to the `--seed`, if one
/// was given) without a restart. Authorised like the REST API.
async fn reset(
    world: web::Data<SharedWorld>,
    seed: Option<web::Data<Seed>>,
    req: HttpRequest,
    app: web::Path<String>,
) -> HttpResponse {
    let mut w = lock(&world);
    if let Err(e) = admit(&w, &req, &app) {
        return error_response(e);
    }
    let seed = seed.and_then(|s| s.0.clone());
    match w.reset(seed.as_deref()) {
        Ok(()) => HttpResponse::Ok().json(json!({})),
        Err(e) => error_response(ApiError::new(500, codes::INTERNAL_ERROR, e.to_string())),
    }
}

/// Serves one call. `top_level` is false inside a batch, which cannot nest.
pub fn dispatch(w: &mut World, call: Call, top_level: bool) -> Reply {
    let path: Vec<&str> = call.path.iter().map(String::as_str).collect();
    match (call.method.as_str(), path.as_slice()) {
        ("POST", ["batch"]) if top_level => batch::run(w, &call),
        ("PUT", ["users"]) => users::put_many(w, &call),
        ("PUT", ["users", id]) => users::put(w, id, &call),
        ("GET", ["users", id]) => users::get(w, id),
        ("GET", ["users", id, "conversations"]) => users::conversations(w, id, &call),
        ("PUT", ["conversations", id]) => conversations::put(w, id, &call),
        ("GET", ["conversations", id]) => conversations::get(w, id),
        ("DELETE", ["conversations", id]) => w.delete_conversation(id).map(|()| json!({})),
        (method, ["conversations", c, "participants", u]) => {
            conversations::participant(w, method, c, u, &call)
        }
        ("POST", ["conversations", c, "messages"]) => messages::post(w, c, &call),
        ("GET", ["conversations", c, "messages"]) => messages::list(w, c, &call),
        (method, ["conversations", c, "messages", m]) => messages::one(w, method, c, m, &call),
        (method, _) => Err(ApiError::not_found(
            codes::NOT_FOUND,
            format!("no REST endpoint {method} /{}", call.path.join("/")),
        )),
    }
}

/// The body as a JSON object; 400 if missing or not an object.
fn object(call: &Call) -> ApiResult<&Map<String, Value>> {
    call.body
        .as_ref()
        .and_then(Value::as_object)
        .ok_or_else(|| ApiError::bad_request("the body must be a JSON object"))
}

/// Decodes a JSON value into a type, with a 400 that names what was wrong.
fn decode<T: DeserializeOwned>(what: &str, v: Value) -> ApiResult<T> {
    serde_json::from_value(v).map_err(|e| ApiError::bad_request(format!("invalid {what}: {e}")))
}

/// A field that may be absent (keep), `null` (clear) or a value (set).
fn patch_field<T: DeserializeOwned>(obj: &Map<String, Value>, key: &str) -> ApiResult<Patch<T>> {
    match obj.get(key) {
        None => Ok(None),
        Some(Value::Null) => Ok(Some(None)),
        Some(v) => decode(key, v.clone()).map(|v| Some(Some(v))),
    }
}

/// `limit` from the query: [`DEFAULT_LIMIT`] when absent, 400 unless 1..=[`MAX_LIMIT`].
fn limit(call: &Call) -> ApiResult<usize> {
    match call.query.get("limit") {
        None => Ok(DEFAULT_LIMIT),
        Some(v) => match v.parse::<usize>() {
            Ok(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
            _ => Err(ApiError::bad_request(format!(
                "limit must be a number from 1 to {MAX_LIMIT}"
            ))),
        },
    }
}

/// An optional numeric query parameter; 400 if it is not a number.
fn query_number(call: &Call, key: &str) -> ApiResult<Option<i64>> {
    call.query
        .get(key)
        .map(|v| {
            v.parse()
                .map_err(|_| ApiError::bad_request(format!("{key} must be a number")))
        })
        .transpose()
}

/// A page in TalkJS's list shape.
fn page(data: Vec<Value>) -> Value {
    json!({ "data": data })
}
