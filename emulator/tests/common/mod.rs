//! What the emulator's tests share: an in-process emulator and a raw client socket that speaks
//! frames, acknowledges pushes and remembers their events; one REST call over loopback, and the
//! texts of a message page.
#![allow(dead_code)] // each test file uses its own part of this module

pub mod receiver;

use std::time::Duration;

use awc::ws;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use talkjs_emulator::{Emulator, RunningEmulator};

/// How long a test waits for a frame before failing.
pub const WAIT: Duration = Duration::from_secs(5);

pub type Conn = actix_codec::Framed<awc::BoxedSocket, ws::Codec>;

/// A raw client socket that remembers every event pushed to it, in order.
pub struct Client {
    /// The socket.
    pub conn: Conn,
    /// The next request's sequence number.
    pub seq: u64,
    /// Every event pushed so far, in order.
    pub events: Vec<Value>,
}

pub async fn emulator() -> RunningEmulator {
    Emulator::builder()
        .app_id("app1")
        .start("127.0.0.1:0")
        .await
        .expect("emulator starts")
}

pub async fn connect(emu: &RunningEmulator, user: &str) -> Client {
    let url = format!(
        "ws://{}/public_api/v1/app1/realtime/{user}?talkjs-client-build=test",
        emu.host()
    );
    let (_, conn) = awc::Client::new()
        .ws(url)
        .connect()
        .await
        .expect("websocket connects");
    Client {
        conn,
        seq: 0,
        events: Vec::new(),
    }
}

pub async fn login(emu: &RunningEmulator, user: &str) -> Client {
    let mut c = connect(emu, user).await;
    let (status, body) = c
        .request("POST", "/session/renew", json!({"token": "any"}))
        .await;
    assert_eq!(status, 200, "{body}");
    c
}

impl Client {
    pub async fn send_text(&mut self, text: String) {
        self.conn
            .send(ws::Message::Text(text.into()))
            .await
            .expect("frame sent");
    }

    /// The next frame: `Ok(text frame)` or `Err(close reason)`. Pushes are acknowledged and
    /// their events remembered.
    pub async fn next(&mut self) -> Result<Value, Option<ws::CloseReason>> {
        loop {
            match actix_rt::time::timeout(WAIT, self.conn.next()).await {
                Ok(Some(Ok(ws::Frame::Text(t)))) => {
                    let f: Value = serde_json::from_slice(&t).expect("JSON frame");
                    if f[1] == "PUBLISH" {
                        self.send_text(json!([f[0], "ACK"]).to_string()).await;
                        let events = f.as_array().expect("an array");
                        self.events.extend(events[2..].iter().cloned());
                    }
                    return Ok(f);
                }
                Ok(Some(Ok(ws::Frame::Ping(_) | ws::Frame::Pong(_)))) => continue,
                Ok(Some(Ok(ws::Frame::Close(reason)))) => return Err(reason),
                other => panic!("expected a frame, got {other:?}"),
            }
        }
    }

    /// Sends a request and waits for its response, remembering the pushes met on the way.
    pub async fn request(&mut self, method: &str, path: &str, data: Value) -> (u64, Value) {
        let seq = self.seq;
        self.seq += 1;
        self.send_text(json!([seq, method, path, data, {}]).to_string())
            .await;
        self.response(seq).await
    }

    pub async fn response(&mut self, seq: u64) -> (u64, Value) {
        loop {
            let f = self.next().await.expect("the socket stays open");
            if f[1] == "PUBLISH" {
                continue;
            }
            assert_eq!(f[0], seq, "response to the wrong request: {f}");
            return (f[1].as_u64().expect("status"), f[2].clone());
        }
    }

    /// Waits until an event matching `pred` has been pushed; returns it.
    pub async fn event(&mut self, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        loop {
            if let Some(e) = self.events.iter().find(|e| pred(e)) {
                return e.clone();
            }
            match self.next().await {
                Ok(_) => {}
                Err(reason) => panic!("closed ({reason:?}) while waiting for {what}"),
            }
        }
    }

    /// Waits for the close frame, remembering the pushes before it.
    pub async fn closed(&mut self) -> ws::CloseReason {
        loop {
            match self.next().await {
                Ok(f) => assert_eq!(f[1], "PUBLISH", "only pushes before the close: {f}"),
                Err(reason) => return reason.expect("a close reason"),
            }
        }
    }

    pub fn types(&self) -> Vec<String> {
        self.events
            .iter()
            .map(|e| e["type"].as_str().unwrap_or_default().to_owned())
            .collect()
    }
}

pub async fn send(c: &mut Client, conversation: &str, text: &str) -> String {
    let key = format!("KEY_{text}_{}", c.seq);
    let data = json!({"content": [{"type": "text", "children": [text]}], "idempotencyKey": key});
    let (status, body) = c
        .request(
            "POST",
            &format!("/conversations/{conversation}/messages"),
            data,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    body["id"].as_str().expect("an id").to_owned()
}

/// alice and bob exist, and conversation `c1` has both.
pub async fn alice_and_bob_in_c1(alice: &mut Client) {
    for user in ["alice", "bob"] {
        let (status, _) = alice
            .request("POST", &format!("/users/{user}"), json!({"name": user}))
            .await;
        assert_eq!(status, 200);
    }
    assert_eq!(
        alice
            .request("POST", "/conversations/c1", json!({}))
            .await
            .0,
        200
    );
    let actions = json!({"actions": [{"id": "alice", "method": "POST", "params": {}}, {"id": "bob", "method": "POST", "params": {}}]});
    let (status, body) = alice
        .request("POST", "/conversations/c1/participants", actions)
        .await;
    assert_eq!(
        (status, body),
        (
            200,
            json!({"responses": [{"status": 200}, {"status": 200}]})
        )
    );
}

/// An emulator for app `app1` with these per-client bounds.
pub async fn emulator_with(limits: talkjs_emulator::config::Limits) -> RunningEmulator {
    Emulator::builder()
        .app_id("app1")
        .limits(limits)
        .start("127.0.0.1:0")
        .await
        .expect("emulator starts")
}

/// Polls `cond` until it holds, for at most `within`; returns whether it did.
pub async fn eventually(within: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = std::time::Instant::now() + within;
    while std::time::Instant::now() < deadline {
        if cond() {
            return true;
        }
        actix_rt::time::sleep(Duration::from_millis(20)).await;
    }
    cond()
}

impl Client {
    /// Reads (without acknowledging, but remembering pushed events) until the server closes the
    /// socket or the stream ends; returns the close reason, if one came. Panics if neither
    /// happens within `within`.
    pub async fn drain_until_closed(&mut self, within: Duration) -> Option<ws::CloseReason> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            match tokio::time::timeout_at(deadline, self.conn.next()).await {
                Ok(Some(Ok(ws::Frame::Close(reason)))) => return reason,
                Ok(None | Some(Err(_))) => return None,
                Ok(Some(Ok(ws::Frame::Text(t)))) => {
                    let f: Value = serde_json::from_slice(&t).expect("JSON frame");
                    if f[1] == "PUBLISH" {
                        let events = f.as_array().expect("an array");
                        self.events.extend(events[2..].iter().cloned());
                    }
                }
                Ok(Some(Ok(_))) => continue,
                Err(_) => panic!("the socket was not closed within {within:?}"),
            }
        }
    }
}

/// Posts a multipart upload (`body`, boundary `B`) with a bearer token; the status and JSON body.
pub async fn upload(emu: &RunningEmulator, token: &str, body: String) -> (u16, Value) {
    let mut r = awc::Client::new()
        .post(format!("{}/public_api/v1/app1/files", emu.url()))
        .insert_header(("Authorization", format!("Bearer {token}")))
        .insert_header(("Content-Type", "multipart/form-data; boundary=B"))
        .send_body(body)
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// One part of a multipart body with boundary `B`.
pub fn part(name: &str, filename: Option<&str>, data: &str) -> String {
    let filename = filename.map_or(String::new(), |f| format!("; filename=\"{f}\""));
    format!("--B\r\nContent-Disposition: form-data; name=\"{name}\"{filename}\r\n\r\n{data}\r\n")
}

/// A boken for `user` (the test apps have no secret, so no signature is needed).
pub async fn boken(emu: &RunningEmulator, user: &str) -> String {
    let url = format!("{}/api/v0/app1/bokens/{user}?signature=", emu.url());
    let r: Value = awc::Client::new()
        .get(url)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    r["boken"].as_str().expect("a boken").to_owned()
}

/// One HTTP call to `base` + `path` with an optional bearer token and JSON body: the status and
/// the JSON answer (`null` when the answer is not JSON).
pub async fn call(
    base: &str,
    token: Option<&str>,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let method = awc::http::Method::from_bytes(method.as_bytes()).expect("method");
    let mut req = awc::Client::new().request(method, format!("{base}{path}"));
    if let Some(t) = token {
        req = req.insert_header(("Authorization", format!("Bearer {t}")));
    }
    let mut resp = match body {
        Some(b) => req.send_json(&b).await,
        None => req.send().await,
    }
    .expect("request answered");
    let bytes = resp.body().await.expect("body");
    let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (resp.status().as_u16(), json)
}

/// The `text` of every message of a REST page, newest first.
pub fn texts(page: &Value) -> Vec<String> {
    page["data"]
        .as_array()
        .expect("a data array")
        .iter()
        .map(|m| m["text"].as_str().expect("text").to_owned())
        .collect()
}

/// alice and bob in `c1`, bob subscribed to its messages: alice sends `n` messages, one at a time,
/// and this returns how long each took from alice's request to bob's `message.created`.
pub async fn message_latencies(emu: &RunningEmulator, n: usize) -> Vec<Duration> {
    let mut alice = login(emu, "alice").await;
    alice_and_bob_in_c1(&mut alice).await;
    let mut bob = login(emu, "bob").await;
    assert_eq!(
        bob.request("SUBSCRIBE", "/me/conversations/c1/messages", json!({}))
            .await
            .0,
        200
    );
    let mut latencies = Vec::new();
    for i in 0..n {
        let started = std::time::Instant::now();
        let id = send(&mut alice, "c1", &format!("m{i}")).await;
        bob.event("the message", |e| {
            e["type"] == "message.created" && e["messageId"] == id.as_str()
        })
        .await;
        latencies.push(started.elapsed());
    }
    latencies
}
