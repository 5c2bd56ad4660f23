//! TalkJS's REST API v1 against the in-process emulator over real HTTP on loopback: shapes,
//! status codes and every refusal, as a backend would drive it.

use std::time::{SystemTime, UNIX_EPOCH};

use jsonwebtoken::{EncodingKey, Header};
use serde_json::{Value, json};
use talkjs_emulator::{Emulator, RunningEmulator};

mod common;
use common::texts;

const APP: &str = "app1";
const SECRET: &str = "sk_test_emulator";

/// An emulator with a secret and browser sync off: REST is the only way to create data.
async fn emulator() -> RunningEmulator {
    Emulator::builder()
        .app_id(APP)
        .secret(SECRET)
        .user_sync(false)
        .conversation_sync(false)
        .start("127.0.0.1:0")
        .await
        .expect("emulator starts")
}

/// One REST call with an optional bearer token; the status and the JSON body.
async fn call_as(
    emu: &RunningEmulator,
    token: Option<&str>,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    common::call(&emu.url(), token, method, path, body).await
}

/// A REST call under `/v1/app1` with the secret key.
async fn call(
    emu: &RunningEmulator,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    call_as(emu, Some(SECRET), method, &format!("/v1/{APP}{path}"), body).await
}

async fn ok(emu: &RunningEmulator, method: &str, path: &str, body: Option<Value>) -> Value {
    let (status, body) = call(emu, method, path, body).await;
    assert_eq!(status, 200, "{method} {path}: {body}");
    body
}

fn app_token(secret: &str, claims: Value) -> String {
    jsonwebtoken::encode(
        &Header::default(),
        &claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .expect("token")
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64
}

/// alice and bob exist and share conversation c1.
async fn alice_and_bob(emu: &RunningEmulator) {
    ok(emu, "PUT", "/users/alice", Some(json!({"name": "Alice"}))).await;
    ok(emu, "PUT", "/users/bob", Some(json!({"name": "Bob"}))).await;
    ok(
        emu,
        "PUT",
        "/conversations/c1",
        Some(json!({"participants": ["alice", "bob"], "subject": "Hi"})),
    )
    .await;
}

#[actix_rt::test]
async fn the_secret_key_or_an_app_token_authorises_and_nothing_else_does() {
    let emu = emulator().await;
    let path = format!("/v1/{APP}/users/alice");
    let body = Some(json!({"name": "Alice"}));
    let valid = app_token(
        SECRET,
        json!({"tokenType": "app", "iss": APP, "exp": now() + 30}),
    );
    assert_eq!(
        call_as(&emu, Some(SECRET), "PUT", &path, body.clone())
            .await
            .0,
        200
    );
    assert_eq!(call_as(&emu, Some(&valid), "GET", &path, None).await.0, 200);

    let refused = [
        None,
        Some("sk_test_wrong".to_owned()),
        Some(app_token("other", json!({"tokenType": "app", "iss": APP}))),
        Some(app_token(
            SECRET,
            json!({"tokenType": "user", "iss": APP, "sub": "alice"}),
        )),
        Some(app_token(
            SECRET,
            json!({"tokenType": "app", "iss": "other-app"}),
        )),
        Some(app_token(
            SECRET,
            json!({"tokenType": "app", "iss": APP, "exp": now() - 1}),
        )),
    ];
    for token in refused {
        let (status, body) = call_as(
            &emu,
            token.as_deref(),
            "PUT",
            &path,
            Some(json!({"name": "X"})),
        )
        .await;
        assert_eq!(status, 401, "{token:?}: {body}");
        assert_eq!(body["errorCode"], "INVALID_TOKEN");
    }
    let (status, _) = call_as(&emu, Some(SECRET), "GET", "/v1/other-app/users/alice", None).await;
    assert_eq!(status, 404, "another app id");
    assert_eq!(
        ok(&emu, "GET", "/users/alice", None).await["name"],
        "Alice",
        "nothing refused was applied"
    );
    emu.stop().await;
}

#[actix_rt::test]
async fn without_a_secret_any_bearer_token_authorises_but_none_is_refused() {
    let emu = Emulator::builder()
        .app_id(APP)
        .start("127.0.0.1:0")
        .await
        .unwrap();
    let path = format!("/v1/{APP}/users/alice");
    let body = Some(json!({"name": "Alice"}));
    assert_eq!(call_as(&emu, None, "PUT", &path, body.clone()).await.0, 401);
    assert_eq!(
        call_as(&emu, Some("anything"), "PUT", &path, body.clone())
            .await
            .0,
        200
    );
    let expired = app_token(
        "x",
        json!({"tokenType": "app", "iss": APP, "exp": now() - 1}),
    );
    assert_eq!(
        call_as(&emu, Some(&expired), "PUT", &path, body).await.0,
        401
    );
    emu.stop().await;
}

#[actix_rt::test]
async fn users_are_upserted_merged_and_read_back() {
    let emu = emulator().await;
    ok(
        &emu,
        "PUT",
        "/users/alice",
        Some(json!({
            "name": "Alice", "email": ["a@example.com"], "custom": {"team": "red", "seat": "1"},
            "pushTokens": {"fcm:abc": true}
        })),
    )
    .await;
    ok(
        &emu,
        "PUT",
        "/users/alice",
        Some(json!({"custom": {"seat": null}, "role": "admin"})),
    )
    .await;
    let alice = ok(&emu, "GET", "/users/alice", None).await;
    assert_eq!(alice["id"], "alice");
    assert_eq!(alice["name"], "Alice", "a PUT merges like a PATCH");
    assert_eq!(alice["email"], json!(["a@example.com"]));
    assert_eq!(alice["custom"], json!({"team": "red"}));
    assert_eq!(alice["role"], "admin");
    assert_eq!(alice["pushTokens"], json!({"fcm:abc": true}));

    let (status, body) = call(&emu, "GET", "/users/nobody", None).await;
    assert_eq!(
        (status, body["errorCode"].as_str()),
        (404, Some("USER_NOT_FOUND"))
    );
    let (status, _) = call(&emu, "PUT", "/users/carol", Some(json!({"email": ["c@x"]}))).await;
    assert_eq!(status, 400, "creating a user needs a name");
    let (status, _) = call(&emu, "PUT", "/users/carol", Some(json!({"name": 5}))).await;
    assert_eq!(status, 400, "a name is a string");
    emu.stop().await;
}

#[actix_rt::test]
async fn a_batch_of_users_is_applied_whole_or_not_at_all() {
    let emu = emulator().await;
    let (status, body) = call(
        &emu,
        "PUT",
        "/users",
        Some(json!({
            "u1": {"name": "One"}, "u2": {"email": ["no name"]}, "u3": {"name": ""}
        })),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    let reasons = body["reasons"].to_string();
    assert!(
        reasons.contains("u2") && reasons.contains("u3") && !reasons.contains("u1:"),
        "{reasons}"
    );
    assert_eq!(
        call(&emu, "GET", "/users/u1", None).await.0,
        404,
        "the valid entry was not applied"
    );

    ok(
        &emu,
        "PUT",
        "/users",
        Some(json!({"u1": {"name": "One"}, "u2": {"name": "Two"}})),
    )
    .await;
    assert_eq!(ok(&emu, "GET", "/users/u2", None).await["name"], "Two");

    let too_many: serde_json::Map<String, Value> = (0..101)
        .map(|i| (format!("x{i}"), json!({"name": "X"})))
        .collect();
    let (status, _) = call(&emu, "PUT", "/users", Some(Value::Object(too_many))).await;
    assert_eq!(status, 400, "more than 100 users");
    assert_eq!(call(&emu, "GET", "/users/x0", None).await.0, 404);
    emu.stop().await;
}

#[actix_rt::test]
async fn conversations_and_participants_have_talkjs_shapes_and_rules() {
    let emu = emulator().await;
    alice_and_bob(&emu).await;
    let (status, body) = call(
        &emu,
        "PUT",
        "/conversations/c2",
        Some(json!({"participants": ["alice", "ghost"]})),
    )
    .await;
    assert_eq!(
        (status, body["errorCode"].as_str()),
        (404, Some("USER_NOT_FOUND"))
    );
    assert_eq!(
        call(&emu, "GET", "/conversations/c2", None).await.0,
        404,
        "nothing applied"
    );

    ok(
        &emu,
        "PUT",
        "/conversations/c1",
        Some(json!({
            "custom": {"order": "42"}, "photoUrl": "https://x/p.png", "welcomeMessages": ["Welcome"]
        })),
    )
    .await;
    let c1 = ok(&emu, "GET", "/conversations/c1", None).await;
    assert_eq!(c1["id"], "c1");
    assert_eq!(c1["subject"], "Hi", "a PUT merges");
    assert_eq!(c1["custom"], json!({"order": "42"}));
    assert_eq!(c1["welcomeMessages"], json!(["Welcome"]));
    assert_eq!(c1["lastMessage"], Value::Null);
    assert_eq!(
        c1["participants"],
        json!({
            "alice": {"access": "ReadWrite", "notify": true},
            "bob": {"access": "ReadWrite", "notify": true}
        })
    );
    assert!(c1["createdAt"].as_i64().unwrap() > 0);

    ok(&emu, "PUT", "/users/carol", Some(json!({"name": "Carol"}))).await;
    ok(
        &emu,
        "PUT",
        "/conversations/c1/participants/carol",
        Some(json!({"access": "Read"})),
    )
    .await;
    ok(
        &emu,
        "PATCH",
        "/conversations/c1/participants/carol",
        Some(json!({"notify": false})),
    )
    .await;
    let c1 = ok(&emu, "GET", "/conversations/c1", None).await;
    assert_eq!(
        c1["participants"]["carol"],
        json!({"access": "Read", "notify": false})
    );
    ok(
        &emu,
        "PUT",
        "/conversations/c1/participants/carol",
        Some(json!({})),
    )
    .await;
    let c1 = ok(&emu, "GET", "/conversations/c1", None).await;
    assert_eq!(
        c1["participants"]["carol"],
        json!({"access": "ReadWrite", "notify": true}),
        "PUT overwrites"
    );
    ok(&emu, "DELETE", "/conversations/c1/participants/carol", None).await;
    ok(&emu, "DELETE", "/conversations/c1/participants/carol", None).await;
    assert!(
        ok(&emu, "GET", "/conversations/c1", None).await["participants"]
            .get("carol")
            .is_none()
    );
    let (status, _) = call(
        &emu,
        "PATCH",
        "/conversations/c1/participants/carol",
        Some(json!({"notify": true})),
    )
    .await;
    assert_eq!(status, 404, "PATCH of a non-participant");
    let (status, _) = call(&emu, "PUT", "/conversations/c1/participants/ghost", None).await;
    assert_eq!(status, 404, "an unknown user cannot join");

    ok(
        &emu,
        "POST",
        "/conversations/c1/messages",
        Some(json!([{"type": "UserMessage", "sender": "alice", "text": "hi"}])),
    )
    .await;
    ok(&emu, "DELETE", "/conversations/c1", None).await;
    assert_eq!(call(&emu, "GET", "/conversations/c1", None).await.0, 404);
    assert_eq!(
        call(&emu, "GET", "/conversations/c1/messages", None)
            .await
            .0,
        404
    );
    assert_eq!(call(&emu, "DELETE", "/conversations/c1", None).await.0, 404);
    emu.stop().await;
}

#[actix_rt::test]
async fn messages_are_sent_listed_newest_first_edited_and_deleted() {
    let emu = emulator().await;
    alice_and_bob(&emu).await;
    let batch: Vec<Value> = (1..=5)
        .map(|i| json!({"type": "UserMessage", "sender": "alice", "text": format!("m{i} *bold*"), "custom": {"n": i.to_string()}}))
        .chain([json!({"type": "SystemMessage", "text": "system note"})])
        .collect();
    ok(
        &emu,
        "POST",
        "/conversations/c1/messages",
        Some(Value::Array(batch)),
    )
    .await;
    let page1 = ok(&emu, "GET", "/conversations/c1/messages?limit=4", None).await;
    assert_eq!(
        texts(&page1),
        ["system note", "m5 bold", "m4 bold", "m3 bold"]
    );
    let last = page1["data"][3]["id"].as_str().unwrap().to_owned();
    let page2 = ok(
        &emu,
        "GET",
        &format!("/conversations/c1/messages?limit=4&startingAfter={last}"),
        None,
    )
    .await;
    assert_eq!(texts(&page2), ["m2 bold", "m1 bold"]);

    let system = &page1["data"][0];
    assert_eq!(system["type"], "SystemMessage");
    assert_eq!(system["senderId"], Value::Null);
    let m5 = &page1["data"][1];
    assert_eq!(m5["type"], "UserMessage");
    assert_eq!(m5["senderId"], "alice");
    assert_eq!(m5["conversationId"], "c1");
    assert_eq!(m5["origin"], "rest");
    assert_eq!(m5["custom"], json!({"n": "5"}));
    assert_eq!(m5["readBy"], json!([]), "bob has not read it");
    assert_eq!(
        m5["content"][0]["children"][1],
        json!({"type": "bold", "children": ["bold"]}),
        "text is markup"
    );

    let id = m5["id"].as_str().unwrap();
    let path = format!("/conversations/c1/messages/{id}");
    ok(
        &emu,
        "PATCH",
        &path,
        Some(json!({"text": "edited", "custom": {"n": null, "x": "y"}})),
    )
    .await;
    let edited = ok(&emu, "GET", &path, None).await;
    assert_eq!(edited["text"], "edited");
    assert_eq!(edited["custom"], json!({"x": "y"}));
    assert!(edited["editedAt"].as_i64().is_some());
    ok(&emu, "DELETE", &path, None).await;
    assert_eq!(call(&emu, "GET", &path, None).await.0, 404);
    assert_eq!(call(&emu, "DELETE", &path, None).await.0, 404);
    let conv = ok(&emu, "GET", "/conversations/c1", None).await;
    assert_eq!(conv["lastMessage"]["text"], "system note");
    emu.stop().await;
}

#[actix_rt::test]
async fn sends_are_refused_whole_for_strangers_unknown_users_and_limits() {
    let emu = emulator().await;
    alice_and_bob(&emu).await;
    ok(&emu, "PUT", "/users/eve", Some(json!({"name": "Eve"}))).await;
    let msg = |sender: &str| json!({"type": "UserMessage", "sender": sender, "text": "x"});
    let cases = [
        (json!([msg("alice"), msg("eve")]), 403, "NOT_A_PARTICIPANT"),
        (json!([msg("alice"), msg("ghost")]), 404, "USER_NOT_FOUND"),
        (
            json!([{"type": "UserMessage", "sender": "alice", "text": "  "}]),
            400,
            "BAD_REQUEST",
        ),
        (json!([{"type": "Gossip", "text": "x"}]), 400, "BAD_REQUEST"),
        (json!([]), 400, "BAD_REQUEST"),
        (
            Value::Array((0..11).map(|_| msg("alice")).collect()),
            400,
            "BAD_REQUEST",
        ),
        (json!({"type": "UserMessage"}), 400, "BAD_REQUEST"),
    ];
    for (body, status, code) in cases {
        let (got, answer) = call(
            &emu,
            "POST",
            "/conversations/c1/messages",
            Some(body.clone()),
        )
        .await;
        assert_eq!(
            (got, answer["errorCode"].as_str()),
            (status, Some(code)),
            "{body}"
        );
    }
    let (got, _) = call(
        &emu,
        "POST",
        "/conversations/nope/messages",
        Some(json!([msg("alice")])),
    )
    .await;
    assert_eq!(got, 404);
    let all = ok(&emu, "GET", "/conversations/c1/messages", None).await;
    assert_eq!(
        texts(&all),
        Vec::<&str>::new(),
        "no refused request sent anything"
    );
    let (got, _) = call(&emu, "GET", "/conversations/c1/messages?limit=0", None).await;
    assert_eq!(got, 400);
    let (got, _) = call(&emu, "GET", "/conversations/c1/messages?limit=101", None).await;
    assert_eq!(got, 400);
    emu.stop().await;
}

#[actix_rt::test]
async fn an_idempotency_key_sends_once() {
    let emu = emulator().await;
    alice_and_bob(&emu).await;
    let body =
        json!([{"type": "UserMessage", "sender": "alice", "text": "once", "idempotencyKey": "k1"}]);
    ok(
        &emu,
        "POST",
        "/conversations/c1/messages",
        Some(body.clone()),
    )
    .await;
    ok(&emu, "POST", "/conversations/c1/messages", Some(body)).await;
    let all = ok(&emu, "GET", "/conversations/c1/messages", None).await;
    assert_eq!(texts(&all), ["once"]);
    emu.stop().await;
}

#[actix_rt::test]
async fn a_users_conversations_are_filtered_and_paged() {
    let emu = emulator().await;
    alice_and_bob(&emu).await;
    for c in ["c2", "c3"] {
        ok(
            &emu,
            "PUT",
            &format!("/conversations/{c}"),
            Some(json!({"participants": ["alice", "bob"]})),
        )
        .await;
    }
    for c in ["c1", "c3", "c2"] {
        ok(
            &emu,
            "POST",
            &format!("/conversations/{c}/messages"),
            Some(json!([{"type": "UserMessage", "sender": "alice", "text": c}])),
        )
        .await;
        std::thread::sleep(std::time::Duration::from_millis(3));
    }
    let ids = |v: &Value| -> Vec<String> {
        v["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let bobs = ok(&emu, "GET", "/users/bob/conversations", None).await;
    assert_eq!(ids(&bobs), ["c2", "c3", "c1"], "newest activity first");
    assert_eq!(bobs["data"][0]["isUnread"], true);
    assert_eq!(bobs["data"][0]["unreadMessageCount"], 1);
    assert_eq!(bobs["data"][0]["lastMessage"]["text"], "c2");
    let page = ok(
        &emu,
        "GET",
        "/users/bob/conversations?limit=1&startingAfter=c2",
        None,
    )
    .await;
    assert_eq!(ids(&page), ["c3"]);
    let alices = ok(
        &emu,
        "GET",
        "/users/alice/conversations?unreadsOnly=true",
        None,
    )
    .await;
    assert_eq!(
        ids(&alices),
        Vec::<String>::new(),
        "alice read what she sent"
    );
    let before = bobs["data"][1]["lastMessage"]["createdAt"]
        .as_i64()
        .unwrap();
    let older = ok(
        &emu,
        "GET",
        &format!("/users/bob/conversations?lastMessageBefore={before}"),
        None,
    )
    .await;
    assert_eq!(ids(&older), ["c1"]);
    let newer = ok(
        &emu,
        "GET",
        &format!("/users/bob/conversations?lastMessageAfter={before}"),
        None,
    )
    .await;
    assert_eq!(ids(&newer), ["c2"]);
    assert_eq!(
        call(&emu, "GET", "/users/ghost/conversations", None)
            .await
            .0,
        404
    );
    assert_eq!(
        call(
            &emu,
            "GET",
            "/users/bob/conversations?lastMessageBefore=x",
            None
        )
        .await
        .0,
        400
    );
    emu.stop().await;
}

#[actix_rt::test]
async fn a_batch_runs_each_operation_and_answers_each() {
    let emu = emulator().await;
    alice_and_bob(&emu).await;
    let answer = ok(
        &emu,
        "POST",
        "/batch",
        Some(json!([
            [1, "GET", "/users/alice"],
            [2, "GET", "/users/bob/conversations", {"limit": "1"}],
            [3, "POST", "/conversations/c1/messages", [{"text": "note", "type": "SystemMessage"}]],
            [4, "PUT", "/users/carol", {"name": "Carol"}, {"api_version": "2021-02-09"}],
            [5, "GET", "/non/existing/endpoint"],
            [6, "POST", "/batch", []]
        ])),
    )
    .await;
    let statuses: Vec<(i64, i64)> = answer
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r[0].as_i64().unwrap(), r[1].as_i64().unwrap()))
        .collect();
    assert_eq!(
        statuses,
        [(1, 200), (2, 200), (3, 200), (4, 200), (5, 404), (6, 404)]
    );
    assert_eq!(answer[0][2]["name"], "Alice");
    assert_eq!(answer[1][2]["data"].as_array().unwrap().len(), 1);
    assert_eq!(ok(&emu, "GET", "/users/carol", None).await["name"], "Carol");
    let eleven: Vec<Value> = (0..11).map(|i| json!([i, "GET", "/users/alice"])).collect();
    assert_eq!(
        call(&emu, "POST", "/batch", Some(Value::Array(eleven)))
            .await
            .0,
        400
    );
    assert_eq!(
        call(&emu, "POST", "/batch", Some(json!([[1, "GET"]])))
            .await
            .0,
        400
    );
    emu.stop().await;
}
