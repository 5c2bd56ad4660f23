//! The delivery log over HTTP: `GET /emulator/v1/apps/{appId}/webhooks` (newest first) and
//! `POST /emulator/v1/apps/{appId}/webhooks/{id}/replay`, authorised like the REST API.

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::json;
use talkjs_protocol::error::codes;

use super::Webhooks;
use crate::realtime::{SharedWorld, lock};
use crate::rest::{admit, error_response};
use crate::world::ApiError;

/// Registers the log and replay routes.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/emulator/v1/apps/{app}/webhooks", web::get().to(list))
        .route(
            "/emulator/v1/apps/{app}/webhooks/{id}/replay",
            web::post().to(replay),
        );
}

async fn list(
    world: web::Data<SharedWorld>,
    hooks: web::Data<Webhooks>,
    req: HttpRequest,
    app: web::Path<String>,
) -> HttpResponse {
    if let Err(e) = admit(&lock(&world), &req, &app) {
        return error_response(e);
    }
    HttpResponse::Ok().json(json!({ "data": hooks.deliveries() }))
}

async fn replay(
    world: web::Data<SharedWorld>,
    hooks: web::Data<Webhooks>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
) -> HttpResponse {
    let (app, id) = path.into_inner();
    if let Err(e) = admit(&lock(&world), &req, &app) {
        return error_response(e);
    }
    let not_found = || {
        error_response(ApiError::not_found(
            codes::NOT_FOUND,
            format!("no webhook delivery {id} in the log"),
        ))
    };
    let Ok(n) = id.parse::<u64>() else {
        return not_found();
    };
    match hooks.replay(n) {
        Some(entry) => HttpResponse::Ok().json(entry),
        None => not_found(),
    }
}
