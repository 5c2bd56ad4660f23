//! REST writes reach live subscriptions: a backend creates everything over the emulator's REST
//! API (browser sync off), and a runtime session subscribed to the conversation sees a REST-sent
//! message appear without asking.

mod common;

use common::{APP, eventually, timings};
use serde_json::json;
use talkjs_emulator::Emulator;

const SECRET: &str = "sk_test_live";

async fn rest(base: &str, method: &str, path: &str, body: serde_json::Value) {
    let method = awc::http::Method::from_bytes(method.as_bytes()).unwrap();
    let mut resp = awc::Client::new()
        .request(method, format!("{base}/v1/{APP}{path}"))
        .insert_header(("Authorization", format!("Bearer {SECRET}")))
        .send_json(&body)
        .await
        .expect("answered");
    let text = resp.body().await.unwrap();
    assert_eq!(resp.status().as_u16(), 200, "{path}: {text:?}");
}

#[actix_rt::test]
async fn bob_sees_a_message_a_backend_sent_over_rest() {
    let emu = Emulator::builder()
        .app_id(APP)
        .secret(SECRET)
        .user_sync(false)
        .conversation_sync(false)
        .start("127.0.0.1:0")
        .await
        .unwrap();
    let base = emu.url();
    rest(&base, "PUT", "/users/alice", json!({"name": "Alice"})).await;
    rest(&base, "PUT", "/users/bob", json!({"name": "Bob"})).await;
    rest(
        &base,
        "PUT",
        "/conversations/c1",
        json!({"participants": ["alice", "bob"]}),
    )
    .await;

    let token = user_token("bob");
    let bob = talkjs::get_talk_session(APP, "bob")
        .host(emu.host())
        .token(token)
        .timings(timings())
        .force_create_new()
        .await
        .expect("session");
    let sub = bob.conversation("c1").subscribe_messages();
    sub.connected().await.expect("subscribed");

    rest(
        &base,
        "POST",
        "/conversations/c1/messages",
        json!([{"type": "UserMessage", "sender": "alice", "text": "from the *backend*"}]),
    )
    .await;
    let shown = eventually("bob's subscription shows the REST message", || {
        let list = sub.latest().flatten()?;
        list.first().map(|m| {
            (
                m.plaintext.clone(),
                m.sender.as_ref().map(|s| s.name.clone()),
            )
        })
    })
    .await;
    assert_eq!(
        shown,
        ("from the backend".to_owned(), Some("Alice".to_owned()))
    );
    emu.stop().await;
}

/// A user token for the emulator's secret (HS256, as TalkJS signs them).
fn user_token(user: &str) -> String {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &json!({"tokenType": "user", "iss": APP, "sub": user}),
        &jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .unwrap()
}
