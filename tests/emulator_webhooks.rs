//! A backend receives the emulator's webhooks and checks them with `talkjs::webhook`: every
//! event the emulator signs passes `verify` with the app's secret and reads back with `parse`,
//! and a receiver holding another secret refuses them.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use serde_json::json;
use talkjs::webhook::{self, WebhookError, WebhookEvent, WebhookEventType};
use talkjs_emulator::Emulator;

const APP: &str = "app1";
const SECRET: &str = "sk_test_backend";
const TOLERANCE: Duration = Duration::from_secs(60);

/// What the receiver concluded about each request: the event, or why it was refused.
type Verdicts = Arc<Mutex<Vec<Result<WebhookEvent, WebhookError>>>>;

async fn receive(
    req: HttpRequest,
    body: web::Bytes,
    verdicts: web::Data<Verdicts>,
) -> HttpResponse {
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let verdict = webhook::verify(
        SECRET,
        &header(webhook::TIMESTAMP_HEADER),
        &header(webhook::SIGNATURE_HEADER),
        &body,
        TOLERANCE,
    )
    .and_then(|()| webhook::parse(&body));
    let status = if verdict.is_ok() {
        HttpResponse::Ok().finish()
    } else {
        HttpResponse::Unauthorized().finish()
    };
    verdicts.lock().unwrap().push(verdict);
    status
}

async fn rest(base: &str, method: &str, path: &str, body: serde_json::Value) {
    let method = awc::http::Method::from_bytes(method.as_bytes()).unwrap();
    let resp = awc::Client::new()
        .request(method, format!("{base}/v1/{APP}{path}"))
        .insert_header(("Authorization", format!("Bearer {SECRET}")))
        .send_json(&body)
        .await
        .expect("answered");
    assert_eq!(resp.status().as_u16(), 200, "{path}");
}

/// Starts a receiver; its URL and what it concluded.
async fn receiver() -> (String, Verdicts, actix_web::dev::ServerHandle) {
    let verdicts = Verdicts::default();
    let data = web::Data::new(verdicts.clone());
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .default_service(web::to(receive))
    })
    .workers(1)
    .disable_signals()
    .bind("127.0.0.1:0")
    .unwrap();
    let url = format!("http://{}/talkjs", server.addrs()[0]);
    let server = server.run();
    let handle = server.handle();
    actix_rt::spawn(server);
    (url, verdicts, handle)
}

async fn wait_for(verdicts: &Verdicts, n: usize) -> Vec<Result<WebhookEvent, WebhookError>> {
    for _ in 0..250 {
        if verdicts.lock().unwrap().len() >= n {
            break;
        }
        actix_rt::time::sleep(Duration::from_millis(20)).await;
    }
    verdicts.lock().unwrap().clone()
}

#[actix_rt::test]
async fn a_backend_verifies_the_emulators_webhooks_with_the_apps_secret() {
    let (url, verdicts, handle) = receiver().await;
    let emu = Emulator::builder()
        .app_id(APP)
        .secret(SECRET)
        .webhook_url(&url)
        .start("127.0.0.1:0")
        .await
        .unwrap();
    let base = emu.url();
    rest(&base, "PUT", "/users/alice", json!({"name": "Alice"})).await;
    rest(
        &base,
        "PUT",
        "/conversations/c1",
        json!({"participants": ["alice"]}),
    )
    .await;
    rest(
        &base,
        "POST",
        "/conversations/c1/messages",
        json!([{"type": "UserMessage", "sender": "alice", "text": "hello"}]),
    )
    .await;
    let got = wait_for(&verdicts, 2).await;
    let events: Vec<WebhookEvent> = got
        .into_iter()
        .map(|v| v.expect("the emulator's webhook verifies"))
        .collect();
    let sent = events
        .iter()
        .find(|e| e.kind == WebhookEventType::MessageSent)
        .expect("message.sent");
    assert_eq!(
        (sent.conversation_id(), sent.sender_id()),
        (Some("c1"), Some("alice"))
    );
    assert!(sent.message_id().is_some() && sent.created_at.is_some());
    assert!(
        events
            .iter()
            .any(|e| e.kind == WebhookEventType::UserCreated && e.data["user"]["id"] == "alice")
    );
    emu.stop().await;
    handle.stop(false).await;
}

#[actix_rt::test]
async fn a_receiver_with_another_secret_refuses_them() {
    let (url, verdicts, handle) = receiver().await;
    let emu = Emulator::builder()
        .app_id(APP)
        .secret("sk_test_someone_else")
        .webhook_url(&url)
        .webhook_retries(0, Duration::ZERO)
        .start("127.0.0.1:0")
        .await
        .unwrap();
    let base = emu.url();
    let resp = awc::Client::new()
        .put(format!("{base}/v1/{APP}/users/alice"))
        .insert_header(("Authorization", "Bearer sk_test_someone_else"))
        .send_json(&json!({"name": "Alice"}))
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let got = wait_for(&verdicts, 1).await;
    assert!(
        matches!(got.as_slice(), [Err(WebhookError::BadSignature)]),
        "{got:?}"
    );
    emu.stop().await;
    handle.stop(false).await;
}
