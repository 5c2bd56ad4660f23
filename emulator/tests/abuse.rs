//! Hostile and broken clients, over real sockets on loopback: each test is a finding of the
//! adversarial pass (issue 17) that the emulator must now survive with bounded memory, bounded
//! sockets and no data a client may not see.

mod common;

use std::time::Duration;

use awc::ws::CloseCode;
use jsonwebtoken::{EncodingKey, Header};
use serde_json::{Value, json};
use talkjs_emulator::config::Limits;
use talkjs_emulator::{Emulator, RunningEmulator};

use common::{
    Client, WAIT, alice_and_bob_in_c1, connect, emulator, emulator_with, eventually, login, part,
    upload,
};

/// A JWT for `user` expiring `in_seconds` from now. The emulator under test has no secret, so the
/// signature is not checked but the claims are.
fn expiring_jwt(user: &str, in_seconds: i64) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    jsonwebtoken::encode(
        &Header::default(),
        &json!({"iss": "app1", "sub": user, "tokenType": "user", "exp": now + in_seconds}),
        &EncodingKey::from_secret(b"unchecked"),
    )
    .unwrap()
}

async fn send_text(c: &mut Client, conversation: &str, text: &str, key: &str) -> (u64, Value) {
    let data = json!({"content": [{"type": "text", "children": [text]}], "idempotencyKey": key});
    c.request(
        "POST",
        &format!("/conversations/{conversation}/messages"),
        data,
    )
    .await
}

#[actix_rt::test]
async fn a_subscriber_that_stops_reading_is_closed_instead_of_buffered() {
    let limits = Limits {
        max_queued_bytes: 256 * 1024,
        ..Limits::default()
    };
    let emu = emulator_with(limits).await;
    let mut alice = login(&emu, "alice").await;
    alice_and_bob_in_c1(&mut alice).await;
    let mut bob = login(&emu, "bob").await;
    let topic = "/me/conversations/c1/messages";
    assert_eq!(bob.request("SUBSCRIBE", topic, json!({})).await.0, 200);
    // bob stops reading. 400 pushes of 50 KB: 20 MB, more than loopback's socket buffers hold.
    let text = "x".repeat(50 * 1024);
    for i in 0..400 {
        let (status, body) = send_text(&mut alice, "c1", &text, &format!("KEY_{i:016}")).await;
        assert_eq!(status, 200, "{body}");
    }
    assert!(
        eventually(WAIT, || emu.inspect(|w| w.connection_count()) == 1).await,
        "the emulator still holds bob's socket and its queue"
    );
    if let Some(reason) = bob.drain_until_closed(WAIT).await {
        assert_eq!(reason.code, CloseCode::Policy, "{reason:?}");
    }
    // alice, who reads, is untouched.
    assert_eq!(alice.request("GET", "/ping", json!({})).await.0, 200);
    emu.stop().await;
}

#[actix_rt::test]
async fn a_socket_that_never_authenticates_is_closed_at_the_login_deadline() {
    let limits = Limits {
        login_deadline: Duration::from_millis(300),
        ..Limits::default()
    };
    let emu = emulator_with(limits).await;
    let mut lurker = connect(&emu, "lurker").await;
    let mut alice = login(&emu, "alice").await;
    let reason = lurker
        .drain_until_closed(WAIT)
        .await
        .expect("a close frame");
    assert_eq!(reason.code, CloseCode::Policy);
    assert!(reason.description.unwrap().contains("authenticate"));
    // An authenticated socket outlives the deadline.
    actix_rt::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(alice.request("GET", "/ping", json!({})).await.0, 200);
    emu.stop().await;
}

async fn try_connect(emu: &RunningEmulator, user: &str) -> Result<Client, u16> {
    let url = format!(
        "ws://{}/public_api/v1/app1/realtime/{user}?talkjs-client-build=test",
        emu.host()
    );
    match awc::Client::new().ws(url).connect().await {
        Ok((_, conn)) => Ok(Client {
            conn,
            seq: 0,
            events: Vec::new(),
        }),
        Err(awc::error::WsClientError::InvalidResponseStatus(s)) => Err(s.as_u16()),
        Err(e) => panic!("connect failed oddly: {e}"),
    }
}

#[actix_rt::test]
async fn one_address_may_hold_only_a_few_unauthenticated_sockets() {
    let limits = Limits {
        max_pending_per_address: 3,
        ..Limits::default()
    };
    let emu = emulator_with(limits).await;
    let mut pending = Vec::new();
    for i in 0..3 {
        pending.push(
            try_connect(&emu, &format!("u{i}"))
                .await
                .expect("under the cap"),
        );
    }
    assert_eq!(try_connect(&emu, "u3").await.err(), Some(429));
    // Authenticating frees the slot; so does closing.
    let (status, _) = pending[0]
        .request("POST", "/session/renew", json!({"token": "any"}))
        .await;
    assert_eq!(status, 200);
    let _fourth = try_connect(&emu, "u3").await.expect("a slot was freed");
    assert_eq!(try_connect(&emu, "u4").await.err(), Some(429));
    drop(pending.pop());
    assert!(
        eventually(WAIT, || emu.inspect(|w| w.connection_count()) == 3).await,
        "the closed socket is forgotten"
    );
    try_connect(&emu, "u4").await.expect("a slot was freed");
    emu.stop().await;
}

#[actix_rt::test]
async fn the_upload_limit_counts_the_whole_request_not_each_part() {
    let emu = Emulator::builder()
        .app_id("app1")
        .max_upload_bytes(1024)
        .start("127.0.0.1:0")
        .await
        .unwrap();
    let token = expiring_jwt("alice", 3600);
    let file = part("file", Some("a.bin"), "0123456789");
    let ok = format!("{file}{}--B--\r\n", part("width", None, "640"));
    assert_eq!(upload(&emu, &token, ok).await.0, 200);
    // Each extra field under the file limit, together far over it.
    let padding: String = (0..40)
        .map(|i| part(&format!("pad{i}"), None, &"y".repeat(1000)))
        .collect();
    let (status, body) = upload(&emu, &token, format!("{file}{padding}--B--\r\n")).await;
    assert_eq!(
        (status, body["errorCode"].as_str()),
        (413, Some("FILE_TOO_LARGE"))
    );
    let big_field = format!(
        "{file}{}--B--\r\n",
        part("subtype", None, &"z".repeat(4000))
    );
    assert_eq!(upload(&emu, &token, big_field).await.0, 413);
    emu.stop().await;
}

#[actix_rt::test]
async fn a_socket_whose_token_expired_gets_no_pushes_and_is_closed_after_the_grace() {
    let limits = Limits {
        expired_grace: Duration::from_millis(800),
        ..Limits::default()
    };
    let emu = emulator_with(limits).await;
    let mut alice = login(&emu, "alice").await;
    alice_and_bob_in_c1(&mut alice).await;
    let mut bob = connect(&emu, "bob").await;
    let renew = json!({"token": expiring_jwt("bob", 2)});
    assert_eq!(bob.request("POST", "/session/renew", renew).await.0, 200);
    let topic = "/me/conversations/c1/messages";
    assert_eq!(bob.request("SUBSCRIBE", topic, json!({})).await.0, 200);
    // The token expires within 2 s; a message sent after that must not reach bob.
    actix_rt::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(
        send_text(&mut alice, "c1", "secret", "KEY_0000000000000001")
            .await
            .0,
        200
    );
    let reason = bob.drain_until_closed(WAIT).await;
    assert!(
        !bob.events.iter().any(|e| e["type"] == "message.created"),
        "an expired socket got {:?}",
        bob.events
    );
    assert_eq!(reason.expect("a close frame").code, CloseCode::Policy);
    emu.stop().await;
}

#[actix_rt::test]
async fn a_failed_renew_deauthenticates_the_socket() {
    let emu = emulator().await;
    let mut alice = login(&emu, "alice").await;
    alice_and_bob_in_c1(&mut alice).await;
    let mut bob = login(&emu, "bob").await;
    let topic = "/me/conversations/c1/messages";
    assert_eq!(bob.request("SUBSCRIBE", topic, json!({})).await.0, 200);
    let wrong = json!({"token": expiring_jwt("carol", 3600)});
    assert_eq!(bob.request("POST", "/session/renew", wrong).await.0, 401);
    assert_eq!(
        send_text(&mut alice, "c1", "secret", "KEY_0000000000000001")
            .await
            .0,
        200
    );
    let (status, _) = bob.request("GET", "/me/conversations/c1", json!({})).await;
    assert_eq!(status, 401, "requests are refused after a failed renew");
    assert!(
        !bob.events.iter().any(|e| e["type"] == "message.created"),
        "pushes continued after a failed renew: {:?}",
        bob.events
    );
    // A good renew restores the socket, subscriptions included.
    let good = json!({"token": "any"});
    assert_eq!(bob.request("POST", "/session/renew", good).await.0, 200);
    assert_eq!(
        send_text(&mut alice, "c1", "again", "KEY_0000000000000002")
            .await
            .0,
        200
    );
    bob.event("the message after the renew", |e| {
        e["type"] == "message.created"
    })
    .await;
    emu.stop().await;
}

#[actix_rt::test]
async fn a_method_written_with_a_json_escape_is_served() {
    let emu = emulator().await;
    let mut alice = login(&emu, "alice").await;
    alice
        .send_text(r#"[7,"G\u0045T","/ping",{},{}]"#.to_owned())
        .await;
    let (status, _) = alice.response(7).await;
    assert_eq!(status, 200);
    emu.stop().await;
}

#[actix_rt::test]
async fn idempotency_keys_must_be_present_and_short() {
    let emu = emulator().await;
    let mut alice = login(&emu, "alice").await;
    alice_and_bob_in_c1(&mut alice).await;
    let (status, body) = send_text(&mut alice, "c1", "one", "").await;
    assert_eq!(
        (status, body["errorCode"].as_str()),
        (400, Some("BAD_REQUEST"))
    );
    let long = "k".repeat(900 * 1024);
    assert_eq!(send_text(&mut alice, "c1", "two", &long).await.0, 400);
    let (status, body) = alice
        .request("GET", "/me/conversations/c1/messages", json!({"limit": 10}))
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["data"].as_array().map(Vec::len), Some(0), "{body}");
    emu.stop().await;
}

fn wall_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

#[actix_rt::test]
async fn typing_does_not_push_time_forward() {
    let emu = emulator().await;
    let mut alice = login(&emu, "alice").await;
    alice_and_bob_in_c1(&mut alice).await;
    // Pipelined: far more requests than milliseconds pass while they are served.
    const TYPING: u64 = 5_000;
    let first = alice.seq;
    for i in 0..TYPING {
        let frame = json!([first + i, "POST", "/me/conversations/c1/typing", {}, {}]);
        alice.send_text(frame.to_string()).await;
    }
    alice.seq += TYPING;
    for i in 0..TYPING {
        assert_eq!(alice.response(first + i).await.0, 200);
    }
    let (status, sent) = send_text(&mut alice, "c1", "now", "KEY_0000000000000001").await;
    assert_eq!(status, 200, "{sent}");
    let (_, m) = alice
        .request(
            "GET",
            &format!(
                "/me/conversations/c1/messages/{}",
                sent["id"].as_str().unwrap()
            ),
            json!({}),
        )
        .await;
    let stamped = m["createdAt"].as_i64().expect("createdAt");
    let now = wall_ms();
    assert!(
        stamped <= now,
        "the message is stamped {} ms in the future",
        stamped - now
    );
    emu.stop().await;
}

#[actix_rt::test]
async fn messages_of_one_conversation_get_distinct_increasing_times() {
    let emu = emulator().await;
    let mut alice = login(&emu, "alice").await;
    alice_and_bob_in_c1(&mut alice).await;
    let first = alice.seq;
    const SENDS: u64 = 50;
    for i in 0..SENDS {
        let data = json!({"content": [{"type": "text", "children": ["m"]}], "idempotencyKey": format!("KEY_{i:016}")});
        let frame = json!([first + i, "POST", "/conversations/c1/messages", data, {}]);
        alice.send_text(frame.to_string()).await;
    }
    alice.seq += SENDS;
    for i in 0..SENDS {
        assert_eq!(alice.response(first + i).await.0, 200);
    }
    let (status, page) = alice
        .request(
            "GET",
            "/me/conversations/c1/messages",
            json!({"limit": 100}),
        )
        .await;
    assert_eq!(status, 200);
    let times: Vec<i64> = page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["createdAt"].as_i64().unwrap())
        .collect();
    assert_eq!(times.len(), SENDS as usize);
    assert!(
        times.windows(2).all(|w| w[0] > w[1]),
        "newest first, all distinct: {times:?}"
    );
    emu.stop().await;
}

#[actix_rt::test]
async fn a_large_participant_batch_means_what_it_means_applied_at_once() {
    let emu = emulator().await;
    let mut alice = login(&emu, "alice").await;
    alice_and_bob_in_c1(&mut alice).await;
    const USERS: usize = 300;
    for i in 0..USERS {
        let (status, _) = alice
            .request("POST", &format!("/users/p{i:03}"), json!({"name": "P"}))
            .await;
        assert_eq!(status, 200);
    }
    // Every user joins; then (later in the batch, in another slice) the first is joined again
    // (409) and edited (it exists by then), and a stranger is edited (404).
    let mut actions: Vec<Value> = (0..USERS)
        .map(|i| json!({"id": format!("p{i:03}"), "method": "POST", "params": {}}))
        .collect();
    actions.push(json!({"id": "p000", "method": "POST", "params": {}}));
    actions.push(json!({"id": "p000", "method": "PATCH", "params": {"access": "Read"}}));
    actions.push(json!({"id": "nobody", "method": "PATCH", "params": {}}));
    let (status, body) = alice
        .request(
            "POST",
            "/conversations/c1/participants",
            json!({"actions": actions}),
        )
        .await;
    assert_eq!(status, 200);
    let statuses: Vec<u64> = body["responses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["status"].as_u64().unwrap())
        .collect();
    assert_eq!(statuses.len(), USERS + 3);
    assert!(statuses[..USERS].iter().all(|s| *s == 200));
    assert_eq!(statuses[USERS..], [409, 200, 404]);
    let (status, p) = alice
        .request("GET", "/me/conversations/c1/participants/p000", json!({}))
        .await;
    assert_eq!((status, p["access"].as_str()), (200, Some("Read")), "{p}");
    let count = emu.inspect(|w| w.store().conversation("c1").unwrap().participants.len());
    assert_eq!(count, USERS + 2);
    emu.stop().await;
}
