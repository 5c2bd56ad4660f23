//! The HTTP side: app check, app settings, bokens, file upload and download, search, and the
//! websocket upgrade.
//!
//! URLs follow what the official client derives from a local `host` (docs/protocol.md §1.1):
//! `/api/v0/...` for the internal API and `/public_api/v1/...` for the REST API and realtime.
//! Every error answer is a JSON `{errorCode, reasons}` body, which is what clients parse.

use actix_multipart::Multipart;
use actix_web::dev::HttpServiceFactory;
use actix_web::http::{Method, StatusCode, header};
use actix_web::middleware::DefaultHeaders;
use actix_web::{HttpRequest, HttpResponse, web};
use futures_util::StreamExt;
use talkjs_protocol::content::FileSubtype;
use talkjs_protocol::error::{ErrorBody, codes};
use talkjs_protocol::filter::ConversationFilter;
use talkjs_protocol::path::decode_component;
use talkjs_protocol::request::{BokenResponse, UploadResponse};

use crate::app_settings::AppSettings;
use crate::auth;
use crate::download;
use crate::pending::PendingSockets;
use crate::realtime::{self, SharedWorld, lock};
use crate::store::FileRecord;
use crate::world::search::SearchQuery;
use crate::world::{ApiError, World};

/// Error code when the app id in a URL is not the emulator's.
pub const APP_NOT_FOUND: &str = "APP_NOT_FOUND";

/// Who may call the HTTP endpoints from a browser page: anyone. The official client runs in
/// browsers, and a page served from another origin (e.g. `http://localhost:3000`) can only read an
/// answer that allows its origin. The emulator serves local development, so it allows every origin.
const ALLOW_ORIGIN: &str = "*";
/// Headers a preflight allows when the browser does not list the ones it wants: those the official
/// client sends (docs/protocol.md §1.3).
const CLIENT_HEADERS: &str =
    "authorization, content-type, x-talkjs-client-build, x-talkjs-client-date";
/// How long a browser may cache a preflight answer.
const PREFLIGHT_MAX_AGE_SECONDS: u32 = 600;

/// The app settings the UI components fetch (`crate::app_settings`). The doubled slash is what they
/// send: they append `/app` to `/api/v0/{app}/` (docs/protocol.md §12.6).
const APP_SETTINGS_PATH: &str = "/api/v0/{app}//app";
/// The same with one slash, for a client that does not double it.
const APP_SETTINGS_PATH_SINGLE_SLASH: &str = "/api/v0/{app}/app";

/// Registers every route.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/api/v0/{app}", web::get().to(app_check)))
        .service(resource(APP_SETTINGS_PATH, web::get().to(app_settings)))
        .service(resource(
            APP_SETTINGS_PATH_SINGLE_SLASH,
            web::get().to(app_settings),
        ))
        .service(resource(
            "/api/v0/{app}/bokens/{user}",
            web::get().to(boken),
        ))
        .service(resource(
            "/public_api/v1/{app}/realtime/{user}",
            web::get().to(realtime_upgrade),
        ))
        .service(resource(
            "/public_api/v1/{app}/files",
            web::post().to(upload),
        ))
        .service(resource(
            "/public_api/v1/{app}/files/{token}/{name}",
            web::get().to(download),
        ))
        .service(resource(
            "/public_api/v1/{app}/me/messages/search",
            web::get().to(search_messages),
        ))
        .service(resource(
            "/public_api/v1/{app}/me/conversations/search",
            web::get().to(search_conversations),
        ))
        .default_service(web::to(unknown_path));
}

/// One endpoint, reachable from browser pages of any origin: it answers CORS preflights (the
/// official client's requests always need one: it sends `Authorization`, `x-talkjs-client-*` and a
/// JSON `Content-Type`, even on GET) and marks every answer as readable by any origin.
fn resource(path: &str, route: actix_web::Route) -> impl HttpServiceFactory + 'static {
    web::resource(path)
        .route(web::method(Method::OPTIONS).to(preflight))
        .route(route)
        .wrap(DefaultHeaders::new().add((header::ACCESS_CONTROL_ALLOW_ORIGIN, ALLOW_ORIGIN)))
}

async fn preflight(req: HttpRequest) -> HttpResponse {
    let requested = req
        .headers()
        .get(header::ACCESS_CONTROL_REQUEST_HEADERS)
        .and_then(|h| h.to_str().ok())
        .unwrap_or(CLIENT_HEADERS)
        .to_owned();
    HttpResponse::NoContent()
        .insert_header((header::ACCESS_CONTROL_ALLOW_METHODS, "GET, POST, OPTIONS"))
        .insert_header((header::ACCESS_CONTROL_ALLOW_HEADERS, requested))
        .insert_header((
            header::ACCESS_CONTROL_MAX_AGE,
            PREFLIGHT_MAX_AGE_SECONDS.to_string(),
        ))
        .finish()
}

/// Any other path: a JSON error body like every other error answer, not an empty 404.
async fn unknown_path(req: HttpRequest) -> HttpResponse {
    let mut resp = error(
        404,
        codes::NOT_FOUND,
        format!("no endpoint {} {}", req.method(), req.path()),
    );
    resp.headers_mut().insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        header::HeaderValue::from_static(ALLOW_ORIGIN),
    );
    resp
}

fn error(status: u16, code: &str, reason: impl Into<String>) -> HttpResponse {
    HttpResponse::build(StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        .json(ErrorBody::new(code, reason))
}

fn api_error(e: ApiError) -> HttpResponse {
    HttpResponse::build(StatusCode::from_u16(e.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        .json(e.body)
}

/// The raw (still percent-encoded) path segments after the prefix, decoded one by one: ids may
/// contain an encoded `/`, so the path is split before decoding, never after.
fn segment(req: &HttpRequest, index: usize) -> Result<String, HttpResponse> {
    req.uri()
        .path()
        .split('/')
        .nth(index)
        .map(decode_component)
        .transpose()
        .ok()
        .flatten()
        .ok_or_else(|| error(400, codes::BAD_REQUEST, "malformed path"))
}

fn check_app(world: &SharedWorld, req: &HttpRequest, index: usize) -> Result<(), HttpResponse> {
    let app = segment(req, index)?;
    if app == lock(world).config().app_id {
        Ok(())
    } else {
        Err(error(
            404,
            APP_NOT_FOUND,
            format!("the app {app} does not exist"),
        ))
    }
}

/// The user of the bearer token, for endpoints whose URL names no user.
fn bearer_user(world: &SharedWorld, req: &HttpRequest) -> Result<String, HttpResponse> {
    let token = req
        .headers()
        .get("authorization")
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.strip_prefix("Bearer "))
        .unwrap_or("");
    let w = lock(world);
    auth::token_user(w.config(), token, w.clock.unix_seconds())
        .map(|(user, _)| user)
        .map_err(|e| error(401, codes::INVALID_TOKEN, e.to_string()))
}

async fn app_check(world: web::Data<SharedWorld>, req: HttpRequest) -> HttpResponse {
    match check_app(&world, &req, 3) {
        Ok(()) => HttpResponse::Ok().json(serde_json::json!({})),
        Err(resp) => resp,
    }
}

/// The app's settings for the bearer token's user; every role gets the same.
async fn app_settings(world: web::Data<SharedWorld>, req: HttpRequest) -> HttpResponse {
    if let Err(resp) = check_app(&world, &req, 3).and_then(|()| bearer_user(&world, &req)) {
        return resp;
    }
    HttpResponse::Ok().json(AppSettings::for_app(lock(&world).config()))
}

#[derive(serde::Deserialize)]
struct BokenQuery {
    #[serde(default)]
    signature: String,
}

async fn boken(
    world: web::Data<SharedWorld>,
    req: HttpRequest,
    q: web::Query<BokenQuery>,
) -> HttpResponse {
    if let Err(resp) = check_app(&world, &req, 3) {
        return resp;
    }
    let user = match segment(&req, 5) {
        Ok(u) if !u.is_empty() => u,
        Ok(_) => return error(400, codes::BAD_REQUEST, "user id must not be empty"),
        Err(resp) => return resp,
    };
    match auth::issue_boken(lock(&world).config(), &user, &q.signature) {
        Ok(boken) => HttpResponse::Ok().json(BokenResponse { boken }),
        Err(e) => error(401, codes::INVALID_TOKEN, e.to_string()),
    }
}

/// Error code when an address holds too many sockets that have not authenticated (status 429).
pub const TOO_MANY_PENDING_SOCKETS: &str = "TOO_MANY_PENDING_SOCKETS";

async fn realtime_upgrade(
    world: web::Data<SharedWorld>,
    pending: web::Data<PendingSockets>,
    req: HttpRequest,
    body: web::Payload,
) -> Result<HttpResponse, actix_web::Error> {
    if let Err(resp) = check_app(&world, &req, 3) {
        return Ok(resp);
    }
    let user = match segment(&req, 5) {
        Ok(u) if !u.is_empty() => u,
        Ok(_) => return Ok(error(400, codes::BAD_REQUEST, "user id must not be empty")),
        Err(resp) => return Ok(resp),
    };
    // A peer address is always known for TCP connections; without one there is nothing to count.
    let slot = match req.peer_addr() {
        Some(peer) => match pending.into_inner().acquire(peer.ip()) {
            Some(slot) => Some(slot),
            None => {
                return Ok(error(
                    429,
                    TOO_MANY_PENDING_SOCKETS,
                    "too many sockets from this address have not authenticated",
                ));
            }
        },
        None => None,
    };
    let (response, session, stream) = actix_ws::handle(&req, body)?;
    let world = world.get_ref().clone();
    actix_rt::spawn(realtime::run(world, user, slot, session, stream));
    Ok(response)
}

/// Longest accepted non-file field of an upload (`subtype`, `width`, `height`, `duration`): each
/// is a word or a number, so 1 KiB is far more than any needs.
const MAX_UPLOAD_FIELD_BYTES: usize = 1024;
/// Most parts in one upload: the file and its four fields, with room for a client that sends
/// a few more; more than this is not an upload.
const MAX_UPLOAD_PARTS: usize = 16;

/// Reads a multipart upload: the `file` part and its `subtype`, `width`, `height` and `duration`
/// fields. The whole request is bounded, not each part: the file by the configured limit, each
/// other field by [`MAX_UPLOAD_FIELD_BYTES`], the number of parts by [`MAX_UPLOAD_PARTS`]; a
/// request over any of them is refused (413) as soon as it crosses, without buffering the rest.
async fn upload(
    world: web::Data<SharedWorld>,
    req: HttpRequest,
    mut form: Multipart,
) -> HttpResponse {
    if let Err(resp) = check_app(&world, &req, 3) {
        return resp;
    }
    let uploader = match bearer_user(&world, &req) {
        Ok(user) => user,
        Err(resp) => return resp,
    };
    let limit = lock(&world).config().max_upload_bytes;
    let mut file: Option<(String, String, Vec<u8>)> = None;
    let mut fields: std::collections::HashMap<String, String> = Default::default();
    let mut parts = 0;
    while let Some(part) = form.next().await {
        parts += 1;
        if parts > MAX_UPLOAD_PARTS {
            return error(
                413,
                codes::FILE_TOO_LARGE,
                format!("an upload has at most {MAX_UPLOAD_PARTS} parts"),
            );
        }
        let mut part = match part {
            Ok(p) => p,
            Err(e) => {
                return error(
                    400,
                    codes::BAD_REQUEST,
                    format!("malformed multipart body: {e}"),
                );
            }
        };
        let name = part.name().unwrap_or_default().to_owned();
        let filename = part
            .content_disposition()
            .and_then(|d| d.get_filename())
            .map(str::to_owned);
        let content_type = part
            .content_type()
            .map_or("application/octet-stream".to_owned(), |m| m.to_string());
        let is_file = name == "file";
        if is_file && file.is_some() {
            return error(400, codes::BAD_REQUEST, "an upload has one file part");
        }
        let part_limit = if is_file {
            limit
        } else {
            MAX_UPLOAD_FIELD_BYTES as u64
        };
        let mut bytes = Vec::new();
        while let Some(chunk) = part.next().await {
            let chunk = match chunk {
                Ok(c) => c,
                Err(e) => {
                    return error(
                        400,
                        codes::BAD_REQUEST,
                        format!("malformed multipart body: {e}"),
                    );
                }
            };
            if (bytes.len() + chunk.len()) as u64 > part_limit {
                let what = if is_file { "the file" } else { "a field" };
                return error(
                    413,
                    codes::FILE_TOO_LARGE,
                    format!("{what} may have at most {part_limit} bytes"),
                );
            }
            bytes.extend_from_slice(&chunk);
        }
        if is_file {
            let Some(filename) = filename.filter(|f| !f.is_empty()) else {
                return error(400, codes::BAD_REQUEST, "the file part needs a filename");
            };
            file = Some((filename, content_type, bytes));
        } else {
            fields.insert(name, String::from_utf8_lossy(&bytes).into_owned());
        }
    }
    let Some((filename, content_type, bytes)) = file else {
        return error(400, codes::BAD_REQUEST, "no file part");
    };
    let subtype = match fields.get("subtype").map(String::as_str) {
        None => None,
        Some("image") => Some(FileSubtype::Image),
        Some("video") => Some(FileSubtype::Video),
        Some("audio") => Some(FileSubtype::Audio),
        Some("voice") => Some(FileSubtype::Voice),
        Some(other) => return error(400, codes::BAD_REQUEST, format!("unknown subtype {other}")),
    };
    fn number<T: std::str::FromStr>(
        fields: &std::collections::HashMap<String, String>,
        key: &str,
    ) -> Result<Option<T>, HttpResponse> {
        fields
            .get(key)
            .map(|v| {
                v.parse()
                    .map_err(|_| error(400, codes::BAD_REQUEST, format!("{key} must be a number")))
            })
            .transpose()
    }
    let (width, height, duration) = match (
        number(&fields, "width"),
        number(&fields, "height"),
        number::<f64>(&fields, "duration"),
    ) {
        (Ok(w), Ok(h), Ok(d)) => (w, h, d),
        (Err(r), _, _) | (_, Err(r), _) | (_, _, Err(r)) => return r,
    };
    let token = lock(&world).add_file(FileRecord {
        token: String::new(),
        uploader,
        filename,
        content_type,
        bytes,
        subtype,
        width,
        height,
        duration,
    });
    let token = match token {
        Ok(token) => token,
        Err(e) => return api_error(e),
    };
    HttpResponse::Ok().json(UploadResponse {
        file_token: talkjs_protocol::content::FileToken(token),
    })
}

async fn download(world: web::Data<SharedWorld>, req: HttpRequest) -> HttpResponse {
    if let Err(resp) = check_app(&world, &req, 3) {
        return resp;
    }
    let token = match segment(&req, 5) {
        Ok(t) => t,
        Err(resp) => return resp,
    };
    let w = lock(&world);
    match w.store().file(&token) {
        Some(f) => download::serve(f),
        None => error(404, codes::NOT_FOUND, "no such file"),
    }
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct SearchParams {
    search_string: Option<String>,
    conversation_filter: Option<String>,
    cursor: Option<String>,
    limit: Option<usize>,
}

/// Turns the query string into a search. The official client encodes `searchString` twice, so it
/// is decoded once more here; the filter is JSON.
fn search_query(p: SearchParams) -> Result<SearchQuery, HttpResponse> {
    let query = match &p.search_string {
        Some(s) => decode_component(s)
            .map_err(|_| error(400, codes::BAD_REQUEST, "malformed searchString"))?,
        None => String::new(),
    };
    let filter = match p.conversation_filter.as_deref() {
        None | Some("") | Some("{}") => None,
        Some(json) => Some(
            serde_json::from_str::<ConversationFilter>(json).map_err(|e| {
                error(
                    400,
                    codes::BAD_REQUEST,
                    format!("invalid conversationFilter: {e}"),
                )
            })?,
        ),
    };
    if p.cursor.is_none() && p.search_string.is_none() {
        return Err(error(
            400,
            codes::BAD_REQUEST,
            "searchString or cursor is required",
        ));
    }
    Ok(SearchQuery {
        query,
        filter,
        cursor: p.cursor,
        limit: p.limit,
    })
}

fn streaming_json(body: Result<String, serde_json::Error>) -> HttpResponse {
    match body {
        Ok(body) => HttpResponse::Ok()
            .content_type("application/json")
            .body(body),
        Err(e) => error(500, codes::INTERNAL_ERROR, e.to_string()),
    }
}

/// Serves a search: app, bearer user and query checked, then `run` under the world's lock. A query
/// string that does not parse (e.g. `limit=abc`) gets a JSON 400 like every other error.
fn search(
    world: &SharedWorld,
    req: &HttpRequest,
    q: Result<web::Query<SearchParams>, actix_web::Error>,
    run: impl FnOnce(&World, &str, SearchQuery) -> Result<Result<String, serde_json::Error>, ApiError>,
) -> HttpResponse {
    if let Err(resp) = check_app(world, req, 3) {
        return resp;
    }
    let user = match bearer_user(world, req) {
        Ok(u) => u,
        Err(resp) => return resp,
    };
    let q = match q {
        Ok(q) => q.into_inner(),
        Err(e) => return error(400, codes::BAD_REQUEST, e.to_string()),
    };
    let query = match search_query(q) {
        Ok(q) => q,
        Err(resp) => return resp,
    };
    match run(&lock(world), &user, query) {
        Ok(body) => streaming_json(body),
        Err(e) => api_error(e),
    }
}

async fn search_messages(
    world: web::Data<SharedWorld>,
    req: HttpRequest,
    q: Result<web::Query<SearchParams>, actix_web::Error>,
) -> HttpResponse {
    search(&world, &req, q, |w, user, query| {
        w.search_messages(user, query).map(|page| page.to_body())
    })
}

async fn search_conversations(
    world: web::Data<SharedWorld>,
    req: HttpRequest,
    q: Result<web::Query<SearchParams>, actix_web::Error>,
) -> HttpResponse {
    search(&world, &req, q, |w, user, query| {
        w.search_conversations(user, query)
            .map(|page| page.to_body())
    })
}
