//! Search over HTTP (`GET …/me/messages/search`, `GET …/me/conversations/search`): the word-prefix
//! matching of the official `.d.ts`, what is searched (message text; a conversation's subject or
//! `custom.search`), and JSON error bodies for malformed parameters. Data is written through a raw
//! realtime socket, as a client would.

use std::time::Duration;

use awc::ws;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use talkjs_emulator::{Emulator, RunningEmulator};

/// How long a test waits for a frame before failing.
const WAIT: Duration = Duration::from_secs(5);
const APP: &str = "app1";

type Conn = actix_codec::Framed<awc::BoxedSocket, ws::Codec>;

/// A signed-in user: their socket (for writes) and boken (for HTTP).
struct Client {
    conn: Conn,
    seq: u64,
    boken: String,
}

async fn emulator() -> RunningEmulator {
    Emulator::builder()
        .app_id(APP)
        .start("127.0.0.1:0")
        .await
        .expect("emulator starts")
}

/// Signs `user` in with a boken, creates them (named `name`), and keeps the socket.
async fn client(emu: &RunningEmulator, user: &str, name: &str) -> Client {
    let boken = awc::Client::new()
        .get(format!(
            "{}/api/v0/{APP}/bokens/{user}?signature=",
            emu.url()
        ))
        .send()
        .await
        .expect("boken request")
        .json::<Value>()
        .await
        .expect("boken JSON")["boken"]
        .as_str()
        .expect("a boken")
        .to_owned();
    let url = format!(
        "ws://{}/public_api/v1/{APP}/realtime/{user}?talkjs-client-build=test",
        emu.host()
    );
    let (_, conn) = awc::Client::new()
        .ws(url)
        .connect()
        .await
        .expect("websocket connects");
    let mut c = Client {
        conn,
        seq: 0,
        boken,
    };
    let token = c.boken.clone();
    c.ok("POST", "/session/renew", json!({ "token": token }))
        .await;
    c.ok("POST", &format!("/users/{user}"), json!({ "name": name }))
        .await;
    c
}

impl Client {
    /// Sends a request and answers its status and data, skipping (and acknowledging) pushes.
    async fn request(&mut self, method: &str, path: &str, data: Value) -> (u64, Value) {
        let seq = self.seq;
        self.seq += 1;
        self.conn
            .send(ws::Message::Text(
                json!([seq, method, path, data, {}]).to_string().into(),
            ))
            .await
            .expect("frame sent");
        loop {
            let f: Value = match actix_rt::time::timeout(WAIT, self.conn.next()).await {
                Ok(Some(Ok(ws::Frame::Text(t)))) => serde_json::from_slice(&t).expect("JSON"),
                Ok(Some(Ok(ws::Frame::Ping(_) | ws::Frame::Pong(_)))) => continue,
                other => panic!("expected a text frame, got {other:?}"),
            };
            if f[1] == "PUBLISH" {
                self.conn
                    .send(ws::Message::Text(json!([f[0], "ACK"]).to_string().into()))
                    .await
                    .expect("ACK sent");
                continue;
            }
            assert_eq!(f[0], seq, "response to the wrong request: {f}");
            return (f[1].as_u64().expect("status"), f[2].clone());
        }
    }

    /// A request that must succeed.
    async fn ok(&mut self, method: &str, path: &str, data: Value) -> Value {
        let (status, body) = self.request(method, path, data).await;
        assert_eq!(status, 200, "{method} {path}: {body}");
        body
    }

    /// Creates conversation `id` with `params` (subject, custom) and the given participants.
    async fn conversation(&mut self, id: &str, params: Value, participants: &[&str]) {
        self.ok("POST", &format!("/conversations/{id}"), params)
            .await;
        let actions: Vec<Value> = participants
            .iter()
            .map(|u| json!({"id": u, "method": "POST", "params": {}}))
            .collect();
        self.ok(
            "POST",
            &format!("/conversations/{id}/participants"),
            json!({ "actions": actions }),
        )
        .await;
    }

    /// Sends one content block to conversation `id`; answers the new message's id.
    async fn send_block(&mut self, id: &str, block: Value) -> String {
        let key = format!("KEY_{:016}", self.seq);
        let body = self
            .ok(
                "POST",
                &format!("/conversations/{id}/messages"),
                json!({"content": [block], "idempotencyKey": key}),
            )
            .await;
        body["id"].as_str().expect("message id").to_owned()
    }

    async fn send_text(&mut self, id: &str, text: &str) -> String {
        self.send_block(id, json!({"type": "text", "children": [text]}))
            .await
    }

    /// Uploads a file over HTTP and answers its token.
    async fn upload(&self, emu: &RunningEmulator, filename: &str, subtype: &str) -> String {
        let boundary = "XBOUNDARYX";
        let body = format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\nContent-Type: application/octet-stream\r\n\r\nDATA\r\n\
             --{boundary}\r\nContent-Disposition: form-data; name=\"subtype\"\r\n\r\n{subtype}\r\n--{boundary}--\r\n"
        );
        let mut r = awc::Client::new()
            .post(format!("{}/public_api/v1/{APP}/files", emu.url()))
            .insert_header(("Authorization", format!("Bearer {}", self.boken)))
            .insert_header((
                "Content-Type",
                format!("multipart/form-data; boundary={boundary}"),
            ))
            .send_body(body)
            .await
            .expect("upload");
        assert_eq!(r.status(), 200);
        r.json::<Value>().await.expect("upload JSON")["fileToken"]
            .as_str()
            .expect("a file token")
            .to_owned()
    }

    /// `GET …/me/{what}/search?{query}`: the status and the body as JSON.
    async fn search_raw(&self, emu: &RunningEmulator, what: &str, query: &str) -> (u16, Value) {
        let mut r = awc::Client::new()
            .get(format!(
                "{}/public_api/v1/{APP}/me/{what}/search?{query}",
                emu.url()
            ))
            .insert_header(("Authorization", format!("Bearer {}", self.boken)))
            .send()
            .await
            .expect("search request");
        let body = r.body().await.expect("search body");
        let text = String::from_utf8(body.to_vec()).expect("UTF-8 body");
        let json = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{what} search ({query}) answered non-JSON ({e}): {text}"));
        (r.status().as_u16(), json)
    }

    /// A first page: the query encoded twice, as the official client sends it (docs/protocol.md
    /// §1.7), no filter, and `limit`.
    async fn search(
        &self,
        emu: &RunningEmulator,
        what: &str,
        query: &str,
        limit: usize,
    ) -> (Vec<Value>, Option<String>) {
        let q = format!(
            "searchString={}&conversationFilter=%7B%7D&limit={limit}",
            encode(&encode(query))
        );
        page(self.search_raw(emu, what, &q).await)
    }

    /// The plaintexts (first text of each message) of a whole message search, following cursors.
    async fn message_texts(&self, emu: &RunningEmulator, query: &str) -> Vec<String> {
        let (mut results, mut cursor) = self.search(emu, "messages", query, 50).await;
        while let Some(c) = cursor {
            let (more, next) = page(
                self.search_raw(emu, "messages", &format!("cursor={c}&limit=50"))
                    .await,
            );
            results.extend(more);
            cursor = next;
        }
        results
            .iter()
            .map(|m| {
                m["content"][0]["children"][0]
                    .as_str()
                    .expect("a text message")
                    .to_owned()
            })
            .collect()
    }

    /// The ids a conversation search finds (one page of up to 50).
    async fn conversation_ids(&self, emu: &RunningEmulator, query: &str) -> Vec<String> {
        let (results, cursor) = self.search(emu, "conversations", query, 50).await;
        assert_eq!(cursor, None);
        let mut ids: Vec<String> = results
            .iter()
            .map(|c| c["id"].as_str().expect("an id").to_owned())
            .collect();
        ids.sort();
        ids
    }
}

/// A successful page: its results and cursor.
fn page((status, body): (u16, Value)) -> (Vec<Value>, Option<String>) {
    assert_eq!(status, 200, "{body}");
    let results = body["data"].as_array().expect("data").clone();
    let cursor = body
        .get("cursor")
        .map(|c| c.as_str().expect("a string cursor").to_owned());
    (results, cursor)
}

/// `encodeURIComponent`.
fn encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.!~*'()".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn assert_bad_request((status, body): (u16, Value), what: &str) {
    assert_eq!(status, 400, "{what}: {body}");
    assert_eq!(body["errorCode"], "BAD_REQUEST", "{what}: {body}");
    assert!(
        body["reasons"].as_array().is_some_and(|r| !r.is_empty()),
        "{what}: {body}"
    );
}

#[actix_rt::test]
async fn a_message_is_found_when_each_query_word_starts_one_of_its_words() {
    let emu = emulator().await;
    let mut alice = client(&emu, "alice", "Alice").await;
    alice.conversation("c", json!({}), &["alice"]).await;
    let rainbows = "I like to look at rainbows";
    alice.send_text("c", rainbows).await;
    alice.send_text("c", "Bows, and arrows!").await;
    alice.send_text("c", "Stop-at-nothing clouds").await;

    for query in [
        "rainbows",
        "rain",
        "look at",
        "(look, i *LIKE* rain)",
        "look look look!",
        "RAINBOWS I",
    ] {
        assert_eq!(
            alice.message_texts(&emu, query).await,
            [rainbows],
            "{query:?}"
        );
    }
    for query in [
        "rain-bows",
        "look-at",
        "I like to look at rainbows too",
        "ainbows",
    ] {
        assert!(
            alice.message_texts(&emu, query).await.is_empty(),
            "{query:?}"
        );
    }
    // `bows` starts a word of the second message only (not `rainbows`).
    assert_eq!(
        alice.message_texts(&emu, "bows").await,
        ["Bows, and arrows!"]
    );
    // A hyphen does not split a word, in the query or in the text.
    assert_eq!(
        alice.message_texts(&emu, "stop-at").await,
        ["Stop-at-nothing clouds"]
    );
    assert_eq!(alice.message_texts(&emu, "at").await, [rainbows]);
    assert_eq!(
        alice.message_texts(&emu, "stop").await,
        ["Stop-at-nothing clouds"]
    );
    // Unicode: lower-cased, accents kept.
    alice.send_text("c", "Grüße aus Köln").await;
    assert_eq!(
        alice.message_texts(&emu, "KÖLN grü").await,
        ["Grüße aus Köln"]
    );
    assert!(alice.message_texts(&emu, "koln").await.is_empty());
    // A query without words finds nothing (the official client never sends an empty one).
    for query in ["", "  ", "!?", "& …"] {
        assert!(
            alice.message_texts(&emu, query).await.is_empty(),
            "{query:?}"
        );
    }
    emu.stop().await;
}

#[actix_rt::test]
async fn files_and_locations_are_never_found_and_formatted_text_is_searched_by_its_plaintext() {
    let emu = emulator().await;
    let mut alice = client(&emu, "alice", "Alice").await;
    let _bob = client(&emu, "bob", "Bob").await;
    alice.conversation("c", json!({}), &["alice", "bob"]).await;
    let image = alice.upload(&emu, "rainbows.png", "image").await;
    alice
        .send_block("c", json!({"type": "file", "fileToken": image}))
        .await;
    let voice = alice.upload(&emu, "rainbows.webm", "voice").await;
    alice
        .send_block("c", json!({"type": "file", "fileToken": voice}))
        .await;
    alice
        .send_block(
            "c",
            json!({"type": "location", "latitude": 51.5, "longitude": -0.1}),
        )
        .await;
    let formatted = json!({"type": "text", "children": [
        "Rainbows ",
        {"type": "bold", "children": ["after"]},
        " rain, ",
        {"type": "mention", "id": "bob", "text": "Bob"},
    ]});
    alice.send_block("c", formatted).await;

    // Only the text message, although the files are named after rainbows.
    for query in ["rainbows", "rainbows.png", "png", "📷", "🎙️", "📍", "📎"] {
        let (results, _) = alice.search(&emu, "messages", query, 10).await;
        let found: Vec<&str> = results
            .iter()
            .map(|m| m["content"][0]["type"].as_str().unwrap())
            .collect();
        let expected: &[&str] = if query == "rainbows" { &["text"] } else { &[] };
        assert_eq!(found, expected, "{query:?}");
    }
    // The plaintext: formatting contributes its text, a mention `@` and the name.
    for query in ["rainbows after rain", "@bob", "bob after"] {
        let (results, _) = alice.search(&emu, "messages", query, 10).await;
        assert_eq!(results.len(), 1, "{query:?}");
        assert_eq!(results[0]["conversationId"], "c");
    }
    emu.stop().await;
}

#[actix_rt::test]
async fn a_conversation_is_found_by_its_subject_or_custom_search_each_on_its_own() {
    let emu = emulator().await;
    let mut alice = client(&emu, "alice", "Alice").await;
    let _bob = client(&emu, "bob", "Rainbow Bob").await;
    alice
        .conversation(
            "kittens",
            json!({"subject": "Kittens", "custom": {"search": "where to buy food"}}),
            &["alice"],
        )
        .await;
    alice
        .conversation(
            "tagged",
            json!({"subject": "Pets", "custom": {"search": "Kittens, puppies"}}),
            &["alice"],
        )
        .await;
    alice
        .conversation(
            "other-custom",
            json!({"subject": "Other", "custom": {"topic": "kittens"}}),
            &["alice"],
        )
        .await;
    alice
        .conversation("with-bob", json!({}), &["alice", "bob"])
        .await;
    alice.send_text("with-bob", "kittens everywhere").await;

    assert_eq!(
        alice.conversation_ids(&emu, "kittens").await,
        ["kittens", "tagged"]
    );
    assert_eq!(alice.conversation_ids(&emu, "buy FOOD").await, ["kittens"]);
    assert_eq!(
        alice.conversation_ids(&emu, "kitten puppies").await,
        ["tagged"]
    );
    assert_eq!(alice.conversation_ids(&emu, "pets").await, ["tagged"]);
    // Not split between the subject and custom.search.
    assert!(alice.conversation_ids(&emu, "kitten food").await.is_empty());
    assert!(
        alice
            .conversation_ids(&emu, "pets puppies")
            .await
            .is_empty()
    );
    // Word starts only; other custom fields, participant names and messages are not searched.
    assert!(alice.conversation_ids(&emu, "ittens").await.is_empty());
    assert!(alice.conversation_ids(&emu, "rainbow").await.is_empty());
    assert!(alice.conversation_ids(&emu, "everywhere").await.is_empty());
    assert!(
        alice
            .conversation_ids(&emu, "other kittens")
            .await
            .is_empty()
    );
    emu.stop().await;
}

#[actix_rt::test]
async fn pages_keep_their_order_and_cursors_carry_the_query() {
    let emu = emulator().await;
    let mut alice = client(&emu, "alice", "Alice").await;
    alice.conversation("c", json!({}), &["alice"]).await;
    for i in 0..5 {
        alice.send_text("c", &format!("pear {i}")).await;
        alice.send_text("c", &format!("appear {i}")).await;
    }
    let (first, cursor) = alice.search(&emu, "messages", "pear", 2).await;
    let text = |m: &Value| m["content"][0]["children"][0].as_str().unwrap().to_owned();
    assert_eq!(
        first.iter().map(text).collect::<Vec<_>>(),
        ["pear 4", "pear 3"]
    );
    let (rest, cursor) = page(
        alice
            .search_raw(
                &emu,
                "messages",
                &format!("cursor={}&limit=3", cursor.expect("more to load")),
            )
            .await,
    );
    assert_eq!(
        rest.iter().map(text).collect::<Vec<_>>(),
        ["pear 2", "pear 1", "pear 0"]
    );
    assert_eq!(cursor, None, "the last page has no cursor");
    emu.stop().await;
}

#[actix_rt::test]
async fn malformed_parameters_get_a_json_error_body() {
    let emu = emulator().await;
    let mut alice = client(&emu, "alice", "Alice").await;
    alice
        .conversation("c", json!({"subject": "pear"}), &["alice"])
        .await;
    alice.send_text("c", "pear").await;
    for what in ["messages", "conversations"] {
        for query in [
            "searchString=pear&limit=abc",
            "searchString=pear&limit=-1",
            "searchString=pear&limit=1.5",
            "searchString=pear&limit=99999999999999999999999",
            "searchString=pear&limit=0",
            "searchString=pear&limit=51",
            "searchString=pear&limit=",
            "searchString=pear&conversationFilter=%7Bnot%20json",
            "searchString=%25zz&limit=3",
            "cursor=not-a-cursor&limit=3",
            "cursor=abcd&limit=3",
            "limit=3",
        ] {
            assert_bad_request(
                alice.search_raw(&emu, what, query).await,
                &format!("{what}: {query}"),
            );
        }
        // The edges of the range are accepted.
        for limit in [1, 50] {
            let (results, _) = alice.search(&emu, what, "pear", limit).await;
            assert_eq!(results.len(), 1, "{what} limit={limit}");
        }
    }
    // A missing token is still 401 (with a body), whatever the parameters.
    let mut r = awc::Client::new()
        .get(format!(
            "{}/public_api/v1/{APP}/me/messages/search?limit=abc",
            emu.url()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(
        r.json::<Value>().await.unwrap()["errorCode"],
        "INVALID_TOKEN"
    );
    emu.stop().await;
}
