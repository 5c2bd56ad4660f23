//! A real actix-web server on loopback receives TalkJS webhooks through
//! `talkjs::webhook::Verified`: a genuine one reaches the handler with its event; a tampered,
//! unsigned, wrongly signed or stale one is answered 401, a signed non-event 400, an oversized
//! body 413, all before the handler runs.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use actix_web::{App, HttpResponse, HttpServer, web};
use talkjs::webhook::{self, SIGNATURE_HEADER, TIMESTAMP_HEADER, Verified, WebhookSecret};

const SECRET: &str = "sk_test_webhooks";
const EVENT: &[u8] = br#"{"type":"message.sent","createdAt":1767225600000,"data":{"message":{"id":"m1","conversationId":"c1","senderId":"alice","text":"hi"}}}"#;

/// Counts the requests the handler saw, so refusals are shown to stop before it.
#[derive(Default)]
struct Seen(AtomicUsize);

async fn receive(Verified(event): Verified, seen: web::Data<Seen>) -> HttpResponse {
    seen.0.fetch_add(1, Ordering::SeqCst);
    HttpResponse::Ok().json(serde_json::json!({
        "type": format!("{:?}", event.kind),
        "message": event.message_id(),
        "conversation": event.conversation_id(),
        "sender": event.sender_id(),
    }))
}

/// Starts a server with the extractor at `/webhook`, `/plain/webhook` (the secret as a plain
/// app data value) and `/small/webhook` (a 64-byte body limit); returns its base URL, the
/// handler counter and a stop handle.
async fn start() -> (String, Arc<Seen>, actix_web::dev::ServerHandle) {
    let seen = web::Data::new(Seen::default());
    let counter = seen.clone().into_inner();
    let server = HttpServer::new(move || {
        App::new()
            .app_data(seen.clone())
            .service(
                web::scope("/plain")
                    // A plain WebhookSecret works as well as web::Data.
                    .app_data(WebhookSecret::new(SECRET))
                    .route("/webhook", web::post().to(receive)),
            )
            .service(
                web::scope("/small")
                    .app_data(web::Data::new(WebhookSecret::new(SECRET).body_limit(64)))
                    .route("/webhook", web::post().to(receive)),
            )
            .service(
                web::scope("")
                    .app_data(web::Data::new(WebhookSecret::new(SECRET)))
                    .route("/webhook", web::post().to(receive)),
            )
    })
    .workers(1)
    .bind("127.0.0.1:0")
    .unwrap();
    let url = format!("http://{}", server.addrs()[0]);
    let server = server.run();
    let handle = server.handle();
    actix_rt::spawn(server);
    (url, counter, handle)
}

/// POSTs `body` with these headers; the status and the answer's text.
async fn post(url: &str, headers: &[(&str, String)], body: &'static [u8]) -> (u16, String) {
    let mut request = awc::Client::new().post(url);
    for (k, v) in headers {
        request = request.insert_header((*k, v.clone()));
    }
    let mut answer = request.send_body(body).await.expect("answered");
    let text = answer.body().await.unwrap();
    (
        answer.status().as_u16(),
        String::from_utf8_lossy(&text).into_owned(),
    )
}

/// A refused request: what it is, its headers and body, the status and a word of the reason.
type Case = (
    &'static str,
    Vec<(&'static str, String)>,
    &'static [u8],
    u16,
    &'static str,
);

/// The headers TalkJS sends for `body`, signed `at` (ms) with `secret`.
fn signed(secret: &str, at: i64, body: &[u8]) -> Vec<(&'static str, String)> {
    let at = at.to_string();
    let signature = webhook::signature(secret, &at, body);
    vec![(TIMESTAMP_HEADER, at), (SIGNATURE_HEADER, signature)]
}

#[actix_rt::test]
async fn a_genuine_webhook_reaches_the_handler_with_its_event() {
    let (url, seen, server) = start().await;
    let now = webhook::now_millis();
    for path in ["/webhook", "/plain/webhook"] {
        let (status, body) =
            post(&format!("{url}{path}"), &signed(SECRET, now, EVENT), EVENT).await;
        assert_eq!(status, 200, "{path}: {body}");
        let answer: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(
            answer,
            serde_json::json!({"type": "MessageSent", "message": "m1", "conversation": "c1", "sender": "alice"})
        );
    }
    // Lower-case hex and a timestamp in seconds are TalkJS-compatible too.
    let secs = (now / 1000).to_string();
    let lower = webhook::signature(SECRET, &secs, EVENT).to_ascii_lowercase();
    let headers = [(TIMESTAMP_HEADER, secs), (SIGNATURE_HEADER, lower)];
    assert_eq!(
        post(&format!("{url}/webhook"), &headers, EVENT).await.0,
        200
    );
    // A type this version does not know is delivered, kept as sent.
    let unknown: &[u8] = br#"{"type":"notification.opened","data":{}}"#;
    let (status, body) = post(
        &format!("{url}/webhook"),
        &signed(SECRET, now, unknown),
        unknown,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains(r#"Other(\"notification.opened\")"#), "{body}");
    assert_eq!(seen.0.load(Ordering::SeqCst), 4);
    server.stop(true).await;
}

#[actix_rt::test]
async fn forged_unsigned_and_stale_webhooks_are_refused_before_the_handler() {
    let (url, seen, server) = start().await;
    let hook = format!("{url}/webhook");
    let now = webhook::now_millis();
    let tampered: &[u8] = br#"{"type":"message.sent","data":{"message":{"id":"m2"}}}"#;
    let good = signed(SECRET, now, EVENT);
    let cases: Vec<Case> = vec![
        ("tampered body", good.clone(), tampered, 401, "signature"),
        (
            "wrong secret",
            signed("sk_test_other", now, EVENT),
            EVENT,
            401,
            "signature",
        ),
        (
            "no signature",
            vec![good[0].clone()],
            EVENT,
            401,
            SIGNATURE_HEADER,
        ),
        (
            "no timestamp",
            vec![good[1].clone()],
            EVENT,
            401,
            TIMESTAMP_HEADER,
        ),
        ("no headers", vec![], EVENT, 401, TIMESTAMP_HEADER),
        (
            "ten minutes old",
            signed(SECRET, now - 10 * 60 * 1000, EVENT),
            EVENT,
            401,
            "signed",
        ),
        (
            "timestamp not a number",
            vec![
                (TIMESTAMP_HEADER, "yesterday".into()),
                (
                    SIGNATURE_HEADER,
                    webhook::signature(SECRET, "yesterday", EVENT),
                ),
            ],
            EVENT,
            401,
            "timestamp",
        ),
        (
            "signed but not JSON",
            signed(SECRET, now, b"hello"),
            b"hello",
            400,
            "not an event",
        ),
        (
            "signed JSON without a type",
            signed(SECRET, now, br#"{"data":{}}"#),
            br#"{"data":{}}"#,
            400,
            "not an event",
        ),
    ];
    for (what, headers, body, status, reason) in cases {
        let (got, text) = post(&hook, &headers, body).await;
        assert_eq!(got, status, "{what}: {text}");
        assert!(
            text.contains(reason),
            "{what}: {text:?} should mention {reason:?}"
        );
        assert!(!text.contains(SECRET), "{what}: the answer shows no secret");
    }
    let (got, text) = post(&format!("{url}/small/webhook"), &good, EVENT).await;
    assert_eq!(got, 413, "{text}");
    assert_eq!(
        seen.0.load(Ordering::SeqCst),
        0,
        "no refused request reached the handler"
    );
    server.stop(true).await;
}

#[actix_rt::test]
async fn an_app_without_a_secret_answers_500_not_the_handler() {
    let seen = web::Data::new(Seen::default());
    let counter = seen.clone().into_inner();
    let server = HttpServer::new(move || {
        App::new()
            .app_data(seen.clone())
            .route("/webhook", web::post().to(receive))
    })
    .workers(1)
    .bind("127.0.0.1:0")
    .unwrap();
    let url = format!("http://{}/webhook", server.addrs()[0]);
    let server = server.run();
    let handle = server.handle();
    actix_rt::spawn(server);
    let (status, text) = post(&url, &signed(SECRET, webhook::now_millis(), EVENT), EVENT).await;
    assert_eq!(status, 500, "{text}");
    assert!(text.contains("no webhook secret"), "{text}");
    assert_eq!(counter.0.load(Ordering::SeqCst), 0);
    handle.stop(true).await;
}
