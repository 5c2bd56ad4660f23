//! The request log: one `info` line per TCP connection and per HTTP request (method, path,
//! status, duration), written through `tracing` so that the binary's subscriber (or a test's)
//! decides where it goes.
//!
//! The query string is never logged: boken requests carry their signature there. Neither are
//! headers (tokens travel in `Authorization`) nor bodies.

use std::any::Any;
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{Extensions, ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;

/// Logs each HTTP request when its answer is ready (a websocket upgrade when it is accepted).
pub async fn log_request(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let method = req.method().clone();
    let path = req.path().to_owned();
    let res = next.call(req).await;
    let status = match &res {
        Ok(r) => r.status().as_u16(),
        Err(e) => e.as_response_error().status_code().as_u16(),
    };
    tracing::info!(
        target: "talkjs_emulator::http",
        %method,
        %path,
        status,
        duration_ms = started.elapsed().as_secs_f64() * 1000.0,
        "request"
    );
    res
}

/// Logs a new TCP connection with its peer address (`HttpServer::on_connect`).
pub fn log_connection(conn: &dyn Any, _ext: &mut Extensions) {
    let peer = conn
        .downcast_ref::<actix_web::rt::net::TcpStream>()
        .and_then(|s| s.peer_addr().ok());
    match peer {
        Some(peer) => tracing::info!(target: "talkjs_emulator::http", %peer, "connection"),
        None => tracing::info!(target: "talkjs_emulator::http", "connection"),
    }
}
