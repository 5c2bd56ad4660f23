//! Webhooks as a backend receives them: a real receiver on loopback gets every event once,
//! signed (checked here with an independent HMAC), in order per conversation, retried after a
//! failure, bounded for a dead receiver, replayable, and a hanging receiver never slows the
//! realtime path.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use talkjs_emulator::webhooks::log::DeliveryState;
use talkjs_emulator::{Emulator, RunningEmulator};

mod common;
use common::receiver::{Behaviour, Received, Receiver, types};
use common::{Client, WAIT, eventually, message_latencies};

const APP: &str = "app1";
const SECRET: &str = "sk_test_webhooks";

/// The signature computed here, independently of the emulator's code.
fn expected_signature(timestamp: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(format!("{timestamp}.").as_bytes());
    mac.update(body);
    hex_upper(&mac.finalize().into_bytes())
}

fn hex_upper(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// Checks the receiver's request is signed with the app's secret, just now.
fn assert_signed(r: &Received) {
    let at: i64 = r.timestamp.parse().expect("a numeric timestamp");
    assert!(
        (now_ms() - at).abs() < 60_000,
        "timestamp {at} is in ms and recent"
    );
    assert_eq!(
        r.signature.as_deref(),
        Some(expected_signature(&r.timestamp, &r.body).as_str()),
        "signature of {}",
        String::from_utf8_lossy(&r.body)
    );
}

fn builder(receiver: &Receiver) -> Emulator {
    Emulator::builder()
        .app_id(APP)
        .secret(SECRET)
        .webhook_url(&receiver.url)
}

async fn start(e: Emulator) -> RunningEmulator {
    e.start("127.0.0.1:0").await.expect("emulator starts")
}

async fn rest(emu: &RunningEmulator, method: &str, path: &str, body: Option<Value>) -> Value {
    let path = format!("/v1/{APP}{path}");
    let (status, answer) = common::call(&emu.url(), Some(SECRET), method, &path, body).await;
    assert_eq!(status, 200, "{method} {path}: {answer}");
    answer
}

/// A socket of `user`, authenticated with a JWT signed with the app's secret.
async fn socket(emu: &RunningEmulator, user: &str) -> Client {
    use jsonwebtoken::{EncodingKey, Header, encode};
    let claims =
        json!({"tokenType": "user", "iss": APP, "sub": user, "exp": now_ms() / 1000 + 600});
    let token = encode(
        &Header::default(),
        &claims,
        &EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .unwrap();
    let mut c = common::connect(emu, user).await;
    let (status, body) = c
        .request("POST", "/session/renew", json!({ "token": token }))
        .await;
    assert_eq!(status, 200, "{body}");
    c
}

/// Waits until the newest log entry is in `state`; whether it got there.
async fn newest_becomes(emu: &RunningEmulator, state: DeliveryState) -> bool {
    eventually(WAIT, || emu.webhook_deliveries()[0].state == state).await
}

/// The status of one call with an optional token and no body.
async fn status(emu: &RunningEmulator, token: Option<&str>, method: &str, path: &str) -> u16 {
    common::call(&emu.url(), token, method, path, None).await.0
}

async fn stop(emu: RunningEmulator, receiver: Receiver) {
    emu.stop().await;
    receiver.stop().await;
}

fn of_type<'a>(got: &'a [Received], t: &str) -> Vec<&'a Received> {
    got.iter().filter(|r| r.event()["type"] == t).collect()
}

#[actix_rt::test]
async fn every_action_fires_its_webhook_once_signed_with_the_apps_secret() {
    let receiver = Receiver::start(Behaviour::AT_ONCE).await;
    let emu = start(builder(&receiver)).await;
    for user in ["alice", "bob", "carol"] {
        rest(
            &emu,
            "PUT",
            &format!("/users/{user}"),
            Some(json!({"name": user})),
        )
        .await;
    }
    rest(
        &emu,
        "PUT",
        "/users/alice",
        Some(json!({"email": ["a@example.com"]})),
    )
    .await;
    rest(
        &emu,
        "PUT",
        "/conversations/c1",
        Some(json!({"participants": ["alice", "bob", "carol"]})),
    )
    .await;
    rest(
        &emu,
        "PATCH",
        "/conversations/c1/participants/carol",
        Some(json!({"notify": false})),
    )
    .await;

    // alice is online; bob is offline with notifications on; carol has them off.
    let mut alice = socket(&emu, "alice").await;
    let hello = common::send(&mut alice, "c1", "hello bob").await;
    rest(
        &emu,
        "POST",
        "/conversations/c1/messages",
        Some(json!([{"type": "UserMessage", "sender": "bob", "text": "hi alice"}])),
    )
    .await;
    let page = rest(&emu, "GET", "/conversations/c1/messages", None).await;
    let from_bob = page["data"][0]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        alice
            .request("POST", "/me/conversations/c1/read", json!({}))
            .await
            .0,
        200
    );
    rest(
        &emu,
        "PUT",
        &format!("/conversations/c1/messages/{from_bob}"),
        Some(json!({"text": "hi alice!"})),
    )
    .await;
    let (status, _) = alice
        .request(
            "DELETE",
            &format!("/conversations/c1/messages/{hello}"),
            json!({}),
        )
        .await;
    assert_eq!(status, 200);
    rest(&emu, "DELETE", "/conversations/c1", None).await;

    let got = receiver.wait_for(11).await;
    // Nothing more comes: each action fired once.
    actix_rt::time::sleep(Duration::from_millis(300)).await;
    let got_later = receiver.got();
    assert_eq!(got_later.len(), got.len(), "{:?}", types(&got_later));
    let mut counts: HashMap<String, usize> = HashMap::new();
    for t in types(&got) {
        *counts.entry(t).or_default() += 1;
    }
    let expected: HashMap<String, usize> = [
        ("user.created", 3),
        ("user.updated", 1),
        ("message.sent", 2),
        ("notification.triggered", 1),
        ("message.read", 1),
        ("message.updated", 1),
        ("message.deleted", 1),
        ("conversation.deleted", 1),
    ]
    .into_iter()
    .map(|(t, n)| (t.to_owned(), n))
    .collect();
    assert_eq!(counts, expected);
    for r in &got {
        assert_signed(r);
        let e = r.event();
        assert!(e["id"].as_str().is_some_and(|id| !id.is_empty()), "{e}");
        assert!(
            e["createdAt"]
                .as_i64()
                .is_some_and(|t| (now_ms() - t).abs() < 60_000),
            "{e}"
        );
    }
    let ids: std::collections::HashSet<String> =
        got.iter().map(|r| r.event()["id"].to_string()).collect();
    assert_eq!(ids.len(), got.len(), "every event has its own id");

    let data = |t: &str| of_type(&got, t)[0].event()["data"].clone();
    assert_eq!(
        data("user.updated")["user"]["email"],
        json!(["a@example.com"])
    );
    let sent: Vec<Value> = of_type(&got, "message.sent")
        .iter()
        .map(|r| r.event()["data"].clone())
        .collect();
    assert_eq!(sent[0]["message"]["id"], hello);
    assert_eq!(sent[0]["message"]["text"], "hello bob");
    assert_eq!(sent[0]["sender"]["id"], "alice");
    assert_eq!(sent[0]["conversation"]["id"], "c1");
    assert_eq!(sent[1]["message"]["origin"], "rest");
    let notified = data("notification.triggered");
    assert_eq!(notified["recipient"]["id"], "bob");
    assert_eq!(notified["sender"]["id"], "alice");
    assert_eq!(notified["messages"][0]["id"], hello);
    let read = data("message.read");
    assert_eq!(read["recipient"]["id"], "alice");
    assert_eq!(read["message"]["id"], from_bob.as_str());
    assert_eq!(read["message"]["readBy"], json!(["alice"]));
    assert_eq!(data("message.updated")["message"]["text"], "hi alice!");
    assert_eq!(data("message.deleted")["message"]["id"], hello);
    assert_eq!(data("conversation.deleted")["conversation"]["id"], "c1");

    // The log has one delivered entry per event, newest first.
    let log = emu.webhook_deliveries();
    assert_eq!(log.len(), got.len());
    assert!(log.windows(2).all(|w| w[0].id > w[1].id));
    assert!(
        log.iter()
            .all(|d| d.state == DeliveryState::Delivered && d.attempts == 1)
    );
    stop(emu, receiver).await;
}

#[actix_rt::test]
async fn a_rest_batch_fires_each_applied_write_once_and_refused_or_empty_writes_nothing() {
    let receiver = Receiver::start(Behaviour::AT_ONCE).await;
    let emu = start(builder(&receiver)).await;
    rest(&emu, "PUT", "/users/alice", Some(json!({"name": "A"}))).await;
    rest(
        &emu,
        "PUT",
        "/conversations/c1",
        Some(json!({"participants": ["alice"]})),
    )
    .await;
    let answer = rest(
        &emu,
        "POST",
        "/batch",
        Some(json!([
            [1, "PUT", "/users/dave", {"name": "Dave"}],
            [2, "POST", "/conversations/c1/messages", [{"type": "SystemMessage", "text": "welcome"}]],
            // Refused (no such sender): fires nothing.
            [3, "POST", "/conversations/c1/messages", [{"type": "UserMessage", "sender": "nobody", "text": "x"}]],
            // Changes nothing: fires nothing.
            [4, "PUT", "/users/alice", {"name": "A"}]
        ])),
    )
    .await;
    let statuses: Vec<i64> = answer
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r[1].as_i64().unwrap())
        .collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        3,
        "{answer}"
    );
    let got = receiver.wait_for(3).await;
    actix_rt::time::sleep(Duration::from_millis(300)).await;
    let got_later = receiver.got();
    assert_eq!(got_later.len(), 3, "{:?}", types(&got_later));
    let mut kinds = types(&got);
    kinds.sort();
    assert_eq!(kinds, ["message.sent", "user.created", "user.created"]);
    let system = of_type(&got, "message.sent")[0].event();
    assert_eq!(
        (
            &system["data"]["message"]["type"],
            &system["data"]["sender"]
        ),
        (&json!("SystemMessage"), &Value::Null)
    );
    assert!(
        of_type(&got, "notification.triggered").is_empty(),
        "system messages notify no one"
    );
    stop(emu, receiver).await;
}

async fn log(emu: &RunningEmulator, token: Option<&str>) -> (u16, Value) {
    common::call(
        &emu.url(),
        token,
        "GET",
        &format!("/emulator/v1/apps/{APP}/webhooks"),
        None,
    )
    .await
}

#[actix_rt::test]
async fn a_failed_attempt_is_retried_and_the_log_shows_both_attempts() {
    let receiver = Receiver::start(Behaviour::FailFirst(1)).await;
    let emu = start(builder(&receiver).webhook_retries(1, Duration::from_millis(50))).await;
    rest(&emu, "PUT", "/users/alice", Some(json!({"name": "Alice"}))).await;
    let got = receiver.wait_for(2).await;
    assert_eq!(got[0].body, got[1].body, "the same event, sent again");
    got.iter().for_each(assert_signed);
    assert!(newest_becomes(&emu, DeliveryState::Delivered).await);
    let (status, body) = log(&emu, Some(SECRET)).await;
    assert_eq!(status, 200);
    let entry = &body["data"][0];
    assert_eq!(
        (
            &entry["type"],
            &entry["attempts"],
            &entry["lastStatus"],
            &entry["state"]
        ),
        (
            &json!("user.created"),
            &json!(2),
            &json!(200),
            &json!("delivered")
        ),
        "{entry}"
    );
    assert!(entry["durationMs"].is_u64() && entry["url"] == receiver.url.as_str());
    stop(emu, receiver).await;
}

#[actix_rt::test]
async fn without_a_secret_events_go_out_unsigned_and_every_attempt_is_logged() {
    let receiver = Receiver::start(Behaviour::FailFirst(usize::MAX)).await;
    let emu = start(
        Emulator::builder()
            .app_id(APP)
            .webhook_url(&receiver.url)
            .webhook_retries(2, Duration::from_millis(20)),
    )
    .await;
    // Without a secret the REST API takes any bearer token, but wants one.
    let any_token = Some("any");
    let path = format!("/v1/{APP}/users/u1");
    let (status, _) = common::call(
        &emu.url(),
        any_token,
        "PUT",
        &path,
        Some(json!({"name": "U"})),
    )
    .await;
    assert_eq!(status, 200);
    let got = receiver.wait_for(3).await;
    assert!(
        got.iter()
            .all(|r| r.signature.is_none() && !r.timestamp.is_empty())
    );
    assert!(newest_becomes(&emu, DeliveryState::Failed).await);
    let (status, body) = log(&emu, any_token).await;
    assert_eq!(
        (
            status,
            &body["data"][0]["attempts"],
            &body["data"][0]["lastStatus"]
        ),
        (200, &json!(3), &json!(500))
    );
    stop(emu, receiver).await;
}

#[actix_rt::test]
async fn the_log_and_replay_refuse_without_authorisation() {
    let receiver = Receiver::start(Behaviour::AT_ONCE).await;
    let emu = start(builder(&receiver)).await;
    rest(&emu, "PUT", "/users/alice", Some(json!({"name": "Alice"}))).await;
    receiver.wait_for(1).await;
    assert_eq!(log(&emu, None).await.0, 401);
    assert_eq!(log(&emu, Some("sk_test_wrong")).await.0, 401);
    let replay = format!("/emulator/v1/apps/{APP}/webhooks/1/replay");
    assert_eq!(status(&emu, None, "POST", &replay).await, 401);
    let other_app = "/emulator/v1/apps/other/webhooks";
    assert_eq!(status(&emu, Some(SECRET), "GET", other_app).await, 404);
    let missing = format!("/emulator/v1/apps/{APP}/webhooks/999/replay");
    assert_eq!(status(&emu, Some(SECRET), "POST", &missing).await, 404);
    assert_eq!(receiver.got().len(), 1, "nothing was replayed");
    stop(emu, receiver).await;
}

#[actix_rt::test]
async fn a_replay_redelivers_the_event_with_a_fresh_valid_signature() {
    let receiver = Receiver::start(Behaviour::AT_ONCE).await;
    let emu = start(builder(&receiver)).await;
    rest(&emu, "PUT", "/users/alice", Some(json!({"name": "Alice"}))).await;
    let first = receiver.wait_for(1).await.remove(0);
    let (_, body) = log(&emu, Some(SECRET)).await;
    let id = body["data"][0]["id"].as_u64().unwrap();
    // A later millisecond, so the new timestamp (and so the signature) differs.
    actix_rt::time::sleep(Duration::from_millis(5)).await;
    let path = format!("/emulator/v1/apps/{APP}/webhooks/{id}/replay");
    let (status, entry) = common::call(&emu.url(), Some(SECRET), "POST", &path, None).await;
    assert_eq!(status, 200, "{entry}");
    assert_eq!(entry["replayOf"], id);
    assert_ne!(entry["id"], id);
    assert_eq!(entry["eventId"], body["data"][0]["eventId"]);
    let again = receiver.wait_for(2).await.remove(1);
    assert_eq!(again.body, first.body);
    assert_ne!(again.timestamp, first.timestamp);
    assert_ne!(again.signature, first.signature);
    assert_signed(&again);
    let (_, body) = log(&emu, Some(SECRET)).await;
    assert!(
        newest_becomes(&emu, DeliveryState::Delivered).await,
        "{body}"
    );
    stop(emu, receiver).await;
}

#[actix_rt::test]
async fn a_dead_receiver_costs_a_bounded_queue_and_the_overflow_is_logged_dropped() {
    let receiver = Receiver::start(Behaviour::Hang).await;
    let emu = start(builder(&receiver).webhook_queue(3)).await;
    for i in 0..10 {
        rest(
            &emu,
            "PUT",
            &format!("/users/u{i}"),
            Some(json!({"name": "U"})),
        )
        .await;
    }
    let log = emu.webhook_deliveries();
    use DeliveryState::{Dropped, Pending};
    let count = |s| log.iter().filter(|d| d.state == s).count();
    assert_eq!((log.len(), count(Pending), count(Dropped)), (10, 3, 7));
    // The newest events were the ones dropped.
    assert!(
        log[..7]
            .iter()
            .all(|d| d.state == Dropped && d.attempts == 0)
    );
    stop(emu, receiver).await;
}

#[actix_rt::test]
async fn events_of_one_conversation_arrive_in_order_while_conversations_go_in_parallel() {
    let receiver = Receiver::start(Behaviour::Ok {
        delay: Duration::from_millis(30),
    })
    .await;
    let emu = start(builder(&receiver)).await;
    rest(&emu, "PUT", "/users/alice", Some(json!({"name": "A"}))).await;
    let conversations = ["c1", "c2", "c3"];
    for c in conversations {
        rest(
            &emu,
            "PUT",
            &format!("/conversations/{c}"),
            Some(json!({"participants": ["alice"]})),
        )
        .await;
    }
    receiver.wait_for(1).await;
    // Sends to every conversation at once, several per conversation.
    let sends = (0..5).flat_map(|i| {
        conversations.map(|c| {
            let emu = &emu;
            async move {
                let body =
                    json!([{"type": "UserMessage", "sender": "alice", "text": format!("{c} {i}")}]);
                rest(
                    emu,
                    "POST",
                    &format!("/conversations/{c}/messages"),
                    Some(body),
                )
                .await
            }
        })
    });
    futures_util::future::join_all(sends).await;
    let got = receiver.wait_for(1 + 15).await;
    for c in conversations {
        // The order the emulator applied them: the conversation's messages, oldest first.
        let page = rest(
            &emu,
            "GET",
            &format!("/conversations/{c}/messages?limit=10"),
            None,
        )
        .await;
        let mut applied: Vec<String> = page["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["id"].as_str().unwrap().to_owned())
            .collect();
        applied.reverse();
        let delivered: Vec<String> = of_type(&got, "message.sent")
            .iter()
            .map(|r| r.event()["data"]["message"].clone())
            .filter(|m| m["conversationId"] == c)
            .map(|m| m["id"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(delivered, applied, "order in {c}");
    }
    assert!(
        receiver.seen.max_in_flight.load(Ordering::SeqCst) >= 2,
        "conversations are delivered in parallel"
    );
    stop(emu, receiver).await;
}

#[actix_rt::test]
async fn a_hanging_receiver_does_not_slow_realtime_delivery() {
    const MESSAGES: usize = 30;
    let plain = common::emulator().await;
    let without = message_latencies(&plain, MESSAGES).await;
    plain.stop().await;

    let receiver = Receiver::start(Behaviour::Hang).await;
    let hooked = start(Emulator::builder().app_id(APP).webhook_url(&receiver.url)).await;
    let with = message_latencies(&hooked, MESSAGES).await;
    assert!(
        !receiver.got().is_empty(),
        "the receiver was reached, and hangs"
    );

    let mean = |v: &[Duration]| v.iter().sum::<Duration>() / v.len() as u32;
    let (a, b) = (mean(&without), mean(&with));
    println!(
        "realtime delivery, mean of {MESSAGES}: {a:?} without webhooks, {b:?} with a hanging receiver (ratio {:.2})",
        b.as_secs_f64() / a.as_secs_f64()
    );
    let worst = with.iter().max().unwrap();
    assert!(
        *worst < Duration::from_secs(1),
        "a send waited {worst:?}: far above any realtime path, near the 5 s webhook timeout"
    );
    stop(hooked, receiver).await;
}

#[actix_rt::test]
async fn the_builder_refuses_a_webhook_url_it_cannot_post_to() {
    let refused = Emulator::builder()
        .webhook_url("https://example.com/hook")
        .start("127.0.0.1:0")
        .await;
    let err = refused.err().expect("an https URL is refused");
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    assert!(err.to_string().contains("http://"), "{err}");
}
