//! What the emulator does on its own initiative, over real sockets on loopback: clearing a
//! conversation (`conversation.cleared`), announcing a restart (`upstream.restarting`) and
//! restarting, and answering a request whose method does not exist without closing the socket.

use std::time::Duration;

use awc::ws::{self, CloseCode};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use talkjs_emulator::{AdminError, Emulator, RunningEmulator};

/// How long a test waits for a frame before failing.
const WAIT: Duration = Duration::from_secs(5);

type Conn = actix_codec::Framed<awc::BoxedSocket, ws::Codec>;

/// A raw client socket that remembers every event pushed to it, in order.
struct Client {
    conn: Conn,
    seq: u64,
    events: Vec<Value>,
}

async fn emulator() -> RunningEmulator {
    Emulator::builder()
        .app_id("app1")
        .start("127.0.0.1:0")
        .await
        .expect("emulator starts")
}

async fn connect(emu: &RunningEmulator, user: &str) -> Client {
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

async fn login(emu: &RunningEmulator, user: &str) -> Client {
    let mut c = connect(emu, user).await;
    let (status, body) = c
        .request("POST", "/session/renew", json!({"token": "any"}))
        .await;
    assert_eq!(status, 200, "{body}");
    c
}

impl Client {
    async fn send_text(&mut self, text: String) {
        self.conn
            .send(ws::Message::Text(text.into()))
            .await
            .expect("frame sent");
    }

    /// The next frame: `Ok(text frame)` or `Err(close reason)`. Pushes are acknowledged and
    /// their events remembered.
    async fn next(&mut self) -> Result<Value, Option<ws::CloseReason>> {
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
    async fn request(&mut self, method: &str, path: &str, data: Value) -> (u64, Value) {
        let seq = self.seq;
        self.seq += 1;
        self.send_text(json!([seq, method, path, data, {}]).to_string())
            .await;
        self.response(seq).await
    }

    async fn response(&mut self, seq: u64) -> (u64, Value) {
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
    async fn event(&mut self, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
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
    async fn closed(&mut self) -> ws::CloseReason {
        loop {
            match self.next().await {
                Ok(f) => assert_eq!(f[1], "PUBLISH", "only pushes before the close: {f}"),
                Err(reason) => return reason.expect("a close reason"),
            }
        }
    }

    fn types(&self) -> Vec<String> {
        self.events
            .iter()
            .map(|e| e["type"].as_str().unwrap_or_default().to_owned())
            .collect()
    }
}

async fn send(c: &mut Client, conversation: &str, text: &str) -> String {
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
async fn alice_and_bob_in_c1(alice: &mut Client) {
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

#[actix_rt::test]
async fn clearing_a_conversation_empties_it_and_tells_message_and_conversation_watchers() {
    let emu = emulator().await;
    let mut alice = login(&emu, "alice").await;
    alice_and_bob_in_c1(&mut alice).await;
    for text in ["one", "two", "three"] {
        send(&mut alice, "c1", text).await;
    }
    // bob watches the messages (the only store that consumes the event), and the conversation;
    // another socket of his watches only his list.
    let mut bob = login(&emu, "bob").await;
    for topic in ["/me/conversations/c1/messages", "/me/conversations/c1"] {
        assert_eq!(bob.request("SUBSCRIBE", topic, json!({})).await.0, 200);
    }
    let mut bob_list = login(&emu, "bob").await;
    assert_eq!(
        bob_list
            .request("SUBSCRIBE", "/me/conversations", json!({}))
            .await
            .0,
        200
    );
    let (_, before) = bob.request("GET", "/me/conversations/c1", json!({})).await;
    assert_eq!(before["unreadMessageCount"], 3);
    let joined_at = before["joinedAt"].clone();
    assert_ne!(before["lastMessageAt"], joined_at);

    assert_eq!(emu.clear_conversation("c1"), Ok(3));

    let cleared = bob
        .event("conversation.cleared", |e| {
            e["type"] == "conversation.cleared"
        })
        .await;
    assert_eq!(
        cleared,
        json!({"type": "conversation.cleared", "conversationId": "c1"})
    );
    let edited = bob
        .event("side.edited", |e| e["type"] == "side.edited")
        .await;
    assert_eq!(edited["conversationId"], "c1");
    assert_eq!(
        edited["diff"]["lastMessageAt"], joined_at,
        "no messages: lastMessageAt is joinedAt"
    );
    assert_eq!(edited["diff"]["unreadMessageCount"], 0);
    assert_eq!(edited["diff"]["isUnread"], false);

    // The store is empty, and the GETs say so.
    assert!(emu.inspect(|w| w.store().messages("c1", None, 100).is_empty()));
    let (status, page) = bob
        .request("GET", "/me/conversations/c1/messages", json!({"limit": 30}))
        .await;
    assert_eq!((status, page), (200, json!({"data": [], "cursor": null})));
    let (_, after) = bob.request("GET", "/me/conversations/c1", json!({})).await;
    assert_eq!(after["lastMessageAt"], joined_at);
    assert_eq!(after["unreadMessageCount"], 0);

    // The list-only socket gets the side.edited but not conversation.cleared. A later message is
    // the marker: pushes are queued in order, so whatever the clear sent came before it.
    let marker = send(&mut alice, "c1", "after the clear").await;
    bob_list
        .event("the marker's side.edited", |e| {
            e["type"] == "side.edited" && e["diff"]["lastMessageAt"] != joined_at
        })
        .await;
    assert_eq!(bob_list.types(), ["side.edited", "side.edited"]);
    assert_eq!(bob_list.events[0]["diff"]["lastMessageAt"], joined_at);
    // The conversation lives on.
    bob.event("the new message", |e| e["messageId"] == marker.as_str())
        .await;
    assert_eq!(
        emu.inspect(|w| w.store().messages("c1", None, 100).len()),
        1
    );

    // Clearing what is empty already is fine; an unknown conversation is an error.
    assert_eq!(emu.clear_conversation("c1"), Ok(1));
    assert_eq!(emu.clear_conversation("c1"), Ok(0));
    assert_eq!(
        emu.clear_conversation("nope"),
        Err(AdminError::ConversationNotFound("nope".into()))
    );
    emu.stop().await;
}

#[actix_rt::test]
async fn a_restart_announcement_reaches_every_authenticated_socket() {
    let emu = emulator().await;
    let mut alice = login(&emu, "alice").await;
    alice_and_bob_in_c1(&mut alice).await;
    let mut alice_two = login(&emu, "alice").await;
    let mut bob = login(&emu, "bob").await;
    // Subscriptions do not matter: one socket has some, the others none.
    assert_eq!(
        bob.request("SUBSCRIBE", "/me/conversations/c1/messages", json!({}))
            .await
            .0,
        200
    );
    let mut stranger = connect(&emu, "carol").await;

    assert_eq!(emu.announce_restart(), 3, "every authenticated socket");
    for c in [&mut alice, &mut alice_two, &mut bob] {
        c.event("upstream.restarting", |e| {
            e["type"] == "upstream.restarting"
        })
        .await;
        assert_eq!(c.events, [json!({"type": "upstream.restarting"})]);
        // An announcement alone leaves the socket open.
        assert_eq!(c.request("GET", "/ping", json!({})).await.0, 200);
    }
    assert_eq!(stranger.request("GET", "/ping", json!({})).await.0, 200);
    assert!(stranger.events.is_empty(), "not authenticated: not told");

    // A restart announces again, then closes every socket, the announcement first.
    assert_eq!(emu.restart(), 3);
    for c in [&mut alice, &mut alice_two, &mut bob] {
        let reason = c.closed().await;
        assert_eq!(reason.code, CloseCode::Away);
        assert_eq!(c.types(), ["upstream.restarting", "upstream.restarting"]);
    }
    assert_eq!(stranger.closed().await.code, CloseCode::Away);
    assert!(stranger.events.is_empty());

    // The server and its data are still there: a new socket is served.
    let mut again = login(&emu, "bob").await;
    let (status, conv) = again
        .request("GET", "/me/conversations/c1", json!({}))
        .await;
    assert_eq!((status, conv["id"].as_str()), (200, Some("c1")));
    emu.stop().await;
}

#[actix_rt::test]
async fn an_unknown_method_is_answered_405_and_the_socket_stays_open() {
    let emu = emulator().await;
    // Before authentication too, as an unknown route is.
    let mut c = connect(&emu, "alice").await;
    let (status, body) = c.request("FETCH", "/users", json!({"ids": ["x"]})).await;
    assert_eq!(status, 405, "{body}");
    assert_eq!(body["errorCode"], "METHOD_NOT_ALLOWED");
    let reasons = body["reasons"].as_array().expect("reasons is an array");
    assert!(
        reasons.len() == 1 && reasons[0].as_str().is_some_and(|r| r.contains("FETCH")),
        "{body}"
    );
    let (status, _) = c
        .request("POST", "/session/renew", json!({"token": "any"}))
        .await;
    assert_eq!(status, 200);
    for method in ["get", "PUBLISH_ALL", ""] {
        let (status, body) = c.request(method, "/ping", json!({})).await;
        assert_eq!(
            (status, body["errorCode"].as_str()),
            (405, Some("METHOD_NOT_ALLOWED")),
            "{method:?}"
        );
    }
    assert_eq!(c.request("GET", "/ping", json!({})).await.0, 200);

    // A frame that is malformed apart from its method still closes the socket.
    for garbage in [
        json!([9, "FETCH", "/x", {}]),
        json!([9, "FETCH", "/x", {}, {}, {}]),
        json!([9, "FETCH", 5, {}, {}]),
        json!([9, "FETCH", "/x", [], {}]),
        json!([9, "FETCH", "/x", {}, null]),
        json!([-1, "FETCH", "/x", {}, {}]),
        json!([9, "ACK", "/x", {}, {}]),
    ] {
        let mut c = login(&emu, "alice").await;
        c.send_text(garbage.to_string()).await;
        let reason = c.closed().await;
        assert_eq!(reason.code, CloseCode::Invalid, "{garbage}");
    }
    emu.stop().await;
}
