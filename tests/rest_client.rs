//! A backend drives the in-process emulator through `talkjs::rest::Client` over real HTTP on
//! loopback: every call, both kinds of paging, and every refusal as a typed, matchable error.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use serde_json::json;
use talkjs::rest::{
    Access, BatchOperation, Client, ConversationListQuery, ConversationParams, ListQuery,
    MessageEdit, MessageType, Notify, ParticipantParams, RestErrorExt, SystemMessage, UserMessage,
    UserParams,
};
use talkjs::{ErrorCode, ErrorKind};
use talkjs_emulator::{Emulator, RunningEmulator};

const APP: &str = common::APP;
const SECRET: &str = "sk_test_rest_client";

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

fn client(emu: &RunningEmulator) -> Client {
    Client::builder(APP)
        .secret(SECRET)
        .host(emu.host())
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client")
}

/// alice and bob exist and share `c1`.
async fn alice_and_bob(rest: &Client) {
    rest.user("alice")
        .set(&UserParams::new().name("Alice"))
        .await
        .unwrap();
    rest.user("bob")
        .set(&UserParams::new().name("Bob"))
        .await
        .unwrap();
    rest.conversation("c1")
        .set(
            &ConversationParams::new()
                .participant("alice")
                .participant("bob"),
        )
        .await
        .unwrap();
}

fn is_invalid(e: &talkjs::Error) -> bool {
    matches!(e.kind(), ErrorKind::InvalidArgument(_))
}

#[actix_rt::test]
async fn users_are_set_merged_read_and_set_in_batches() {
    let emu = emulator().await;
    let rest = client(&emu);
    let alice = rest.user("alice");
    alice
        .set(
            &UserParams::new()
                .name("Alice")
                .email("a@example.com")
                .custom("team", "red")
                .custom("seat", "1")
                .push_token("fcm:abc")
                .locale("nl-NL"),
        )
        .await
        .unwrap();
    alice
        .set(&UserParams::new().role("admin").remove_custom("seat"))
        .await
        .unwrap();
    let got = alice.get().await.unwrap();
    assert_eq!(got.id, "alice");
    assert_eq!(got.name.as_deref(), Some("Alice"), "a set merges");
    assert_eq!(got.email, Some(vec!["a@example.com".to_owned()]));
    assert_eq!(got.role.as_deref(), Some("admin"));
    assert_eq!(got.locale.as_deref(), Some("nl-NL"));
    assert_eq!(json!(got.custom), json!({"team": "red"}));
    assert_eq!(json!(got.push_tokens), json!({"fcm:abc": true}));

    let e = rest.user("nobody").get().await.unwrap_err();
    assert!(matches!(e.kind(), ErrorKind::NotFound(_)), "{e}");
    assert_eq!(e.code(), Some(ErrorCode::UserNotFound));
    assert_eq!((e.status(), e.attempts()), (Some(404), Some(1)));
    assert_eq!(e.operation(), "GET /users/nobody");

    let e = rest
        .user("carol")
        .set(&UserParams::new().email("no@name"))
        .await
        .unwrap_err();
    assert!(
        matches!(e.kind(), ErrorKind::Server { status: 400, .. }),
        "a new user needs a name: {e}"
    );

    let mut many: BTreeMap<String, UserParams> = (0..100)
        .map(|i| (format!("u{i}"), UserParams::new().name(format!("User {i}"))))
        .collect();
    rest.set_users(&many).await.unwrap();
    assert_eq!(
        rest.user("u99").get().await.unwrap().name.as_deref(),
        Some("User 99")
    );
    many.insert("u100".into(), UserParams::new().name("One too many"));
    let e = rest.set_users(&many).await.unwrap_err();
    assert!(is_invalid(&e), "over 100 is refused before sending: {e}");
    assert_eq!(e.rest_failure(), None, "nothing was sent");

    let bad: BTreeMap<String, UserParams> = [
        ("v1".to_owned(), UserParams::new().name("V1")),
        ("v2".to_owned(), UserParams::new().email("nameless")),
    ]
    .into();
    let e = rest.set_users(&bad).await.unwrap_err();
    assert_eq!(e.code(), Some(ErrorCode::BadRequest), "{e}");
    assert!(e.to_string().contains("v2"), "a reason names the user: {e}");
    assert!(
        rest.user("v1").get().await.unwrap_err().is_absent(),
        "all or nothing"
    );

    for e in [
        rest.user("").get().await.unwrap_err(),
        rest.user("")
            .set(&UserParams::new().name("x"))
            .await
            .unwrap_err(),
        rest.set_users(&[("".to_owned(), UserParams::new().name("x"))].into())
            .await
            .unwrap_err(),
    ] {
        assert!(is_invalid(&e), "{e}");
    }
    emu.stop().await;
}

#[actix_rt::test]
async fn conversations_and_participants_are_set_read_and_deleted() {
    let emu = emulator().await;
    let rest = client(&emu);
    alice_and_bob(&rest).await;
    let c1 = rest.conversation("c1");
    c1.set(
        &ConversationParams::new()
            .subject("Order 42")
            .photo_url("https://example.com/p.png")
            .welcome_message("Welcome")
            .custom("order", "42"),
    )
    .await
    .unwrap();
    let got = c1.get().await.unwrap();
    assert_eq!(got.id, "c1");
    assert_eq!(got.subject.as_deref(), Some("Order 42"));
    assert_eq!(got.photo_url.as_deref(), Some("https://example.com/p.png"));
    assert_eq!(got.welcome_messages, Some(vec!["Welcome".to_owned()]));
    assert_eq!(json!(got.custom), json!({"order": "42"}));
    assert_eq!(got.last_message, None);
    assert_eq!(
        got.participants.keys().collect::<Vec<_>>(),
        ["alice", "bob"],
        "participants added by the first set stay"
    );
    assert_eq!(got.participants["bob"].access, Access::ReadWrite);
    assert!(got.created_at > 0);

    rest.user("carol")
        .set(&UserParams::new().name("Carol"))
        .await
        .unwrap();
    let carol = c1.participant("carol");
    carol
        .set(&ParticipantParams::new().access(Access::Read))
        .await
        .unwrap();
    carol
        .edit(&ParticipantParams::new().notify(Notify::Off))
        .await
        .unwrap();
    let settings = c1.get().await.unwrap().participants["carol"];
    assert_eq!(
        (settings.access, settings.notify),
        (Access::Read, Notify::Off)
    );
    carol.set(&ParticipantParams::new()).await.unwrap();
    let settings = c1.get().await.unwrap().participants["carol"];
    assert_eq!(
        (settings.access, settings.notify),
        (Access::ReadWrite, Notify::All),
        "a set overwrites with the defaults"
    );
    carol.delete().await.unwrap();
    carol.delete().await.unwrap();
    assert!(!c1.get().await.unwrap().participants.contains_key("carol"));

    let e = carol
        .edit(&ParticipantParams::new().notify(Notify::All))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some(ErrorCode::ParticipantNotFound), "{e}");
    let e = c1
        .participant("ghost")
        .set(&ParticipantParams::new())
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some(ErrorCode::UserNotFound), "{e}");
    let e = rest
        .conversation("c2")
        .set(
            &ConversationParams::new()
                .participant("alice")
                .participant("ghost"),
        )
        .await
        .unwrap_err();
    assert!(matches!(e.kind(), ErrorKind::NotFound(_)), "{e}");
    assert!(rest.conversation("c2").get().await.unwrap_err().is_absent());

    c1.delete().await.unwrap();
    let e = c1.get().await.unwrap_err();
    assert_eq!(e.code(), Some(ErrorCode::ConversationNotFound), "{e}");
    assert!(matches!(
        c1.delete().await.unwrap_err().kind(),
        ErrorKind::NotFound(_)
    ));

    for e in [
        rest.conversation("").get().await.unwrap_err(),
        rest.conversation("").delete().await.unwrap_err(),
        rest.conversation("c1")
            .set(&ConversationParams::new().participant(""))
            .await
            .unwrap_err(),
        c1.participant("").delete().await.unwrap_err(),
    ] {
        assert!(is_invalid(&e), "{e}");
    }
    emu.stop().await;
}

#[actix_rt::test]
async fn messages_are_sent_listed_read_edited_and_deleted() {
    let emu = emulator().await;
    let rest = client(&emu);
    alice_and_bob(&rest).await;
    let c1 = rest.conversation("c1");
    c1.send(UserMessage::new("alice", "hello *world*").custom("n", "1"))
        .await
        .unwrap();
    c1.send_messages(vec![
        UserMessage::new("bob", "once").idempotency_key("k1").into(),
        SystemMessage::new("a note").custom("kind", "info").into(),
    ])
    .await
    .unwrap();
    c1.send(UserMessage::new("bob", "once").idempotency_key("k1"))
        .await
        .unwrap();
    let all: Vec<_> = c1.messages(ListQuery::new()).try_collect().await.unwrap();
    let texts: Vec<&str> = all.iter().map(|m| m.text.as_str()).collect();
    assert_eq!(texts, ["a note", "once", "hello world"], "keyed send once");
    let (note, hello) = (&all[0], &all[2]);
    assert_eq!(note.kind, MessageType::SystemMessage);
    assert_eq!(note.sender_id, None);
    assert_eq!(json!(note.custom), json!({"kind": "info"}));
    assert_eq!(hello.kind, MessageType::UserMessage);
    assert_eq!(hello.sender_id.as_deref(), Some("alice"));
    assert_eq!(hello.conversation_id, "c1");
    assert_eq!(hello.origin.as_deref(), Some("rest"));

    c1.send(UserMessage::new("bob", "a reply").reply_to(&hello.id))
        .await
        .unwrap();
    let reply = c1
        .messages(ListQuery::new().limit(1))
        .next()
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        reply.referenced_message_id.as_deref(),
        Some(hello.id.as_str())
    );

    let m = c1.message(&hello.id);
    assert_eq!(m.get().await.unwrap(), *hello);
    m.edit(
        &MessageEdit::new()
            .text("edited")
            .custom("x", "y")
            .remove_custom("n"),
    )
    .await
    .unwrap();
    let edited = m.get().await.unwrap();
    assert_eq!(edited.text, "edited");
    assert_eq!(json!(edited.custom), json!({"x": "y"}));
    assert!(edited.edited_at.is_some());
    m.delete().await.unwrap();
    let e = m.get().await.unwrap_err();
    assert_eq!(e.code(), Some(ErrorCode::MessageNotFound), "{e}");
    assert!(m.delete().await.unwrap_err().is_absent());

    // Refusals, each as the server's typed error, and nothing sent by any of them.
    rest.user("eve")
        .set(&UserParams::new().name("Eve"))
        .await
        .unwrap();
    let e = c1.send(UserMessage::new("eve", "hi")).await.unwrap_err();
    assert!(matches!(e.kind(), ErrorKind::Forbidden(_)), "{e}");
    assert_eq!(e.code(), Some(ErrorCode::NotAParticipant));
    c1.participant("eve")
        .set(&ParticipantParams::new().access(Access::Read))
        .await
        .unwrap();
    let e = c1.send(UserMessage::new("eve", "hi")).await.unwrap_err();
    assert_eq!(e.code(), Some(ErrorCode::ReadOnlyAccess), "{e}");
    let e = c1.send(UserMessage::new("ghost", "hi")).await.unwrap_err();
    assert_eq!(e.code(), Some(ErrorCode::UserNotFound), "{e}");
    let e = c1.send(UserMessage::new("alice", "   ")).await.unwrap_err();
    assert!(
        matches!(e.kind(), ErrorKind::Server { status: 400, .. }),
        "{e}"
    );
    let e = rest
        .conversation("nope")
        .send(SystemMessage::new("x"))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some(ErrorCode::ConversationNotFound), "{e}");
    let e = rest
        .conversation("nope")
        .messages(ListQuery::new())
        .try_collect::<Vec<_>>()
        .await
        .unwrap_err();
    assert!(e.is_absent(), "{e}");

    let eleven = (0..11).map(|_| SystemMessage::new("x").into()).collect();
    for e in [
        c1.send_messages(vec![]).await.unwrap_err(),
        c1.send_messages(eleven).await.unwrap_err(),
        c1.send(UserMessage::new("", "x")).await.unwrap_err(),
        c1.send(UserMessage::new("alice", "x").idempotency_key(""))
            .await
            .unwrap_err(),
        c1.message("").get().await.unwrap_err(),
        c1.messages(ListQuery::new().limit(0))
            .next()
            .await
            .unwrap()
            .unwrap_err(),
        c1.messages(ListQuery::new().limit(101))
            .next()
            .await
            .unwrap()
            .unwrap_err(),
    ] {
        assert!(is_invalid(&e), "{e}");
    }
    let left: Vec<_> = c1.messages(ListQuery::new()).try_collect().await.unwrap();
    assert_eq!(left.len(), 3, "no refused send sent anything");
    emu.stop().await;
}

#[actix_rt::test]
async fn two_hundred_and_fifty_messages_page_lazily_newest_first_without_duplicates() {
    let emu = emulator().await;
    let rest = client(&emu);
    alice_and_bob(&rest).await;
    let c1 = rest.conversation("c1");
    for batch in 0..25 {
        let messages = (0..10)
            .map(|i| UserMessage::new("alice", format!("m{:03}", batch * 10 + i)).into())
            .collect();
        c1.send_messages(messages).await.unwrap();
    }
    let expected: Vec<String> = (0..250).rev().map(|i| format!("m{i:03}")).collect();
    for page in [100, 7, 250 / 2] {
        let page = page.min(100);
        let all: Vec<_> = c1
            .messages(ListQuery::new().limit(page))
            .try_collect()
            .await
            .unwrap();
        let texts: Vec<String> = all.iter().map(|m| m.text.clone()).collect();
        assert_eq!(texts, expected, "page size {page}");
        let mut ids: Vec<&str> = all.iter().map(|m| m.id.as_str()).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), 250, "no duplicates with page size {page}");
    }

    // Lazy: reading three items fetched one page, and the cursor resumes after it.
    let mut stream = c1.messages(ListQuery::new().limit(50));
    let first: Vec<_> = (&mut stream).take(3).try_collect().await.unwrap();
    assert_eq!(first[0].text, "m249");
    let cursor = stream.cursor().unwrap().to_owned();
    let resumed: Vec<_> = c1
        .messages(ListQuery::new().starting_after(cursor))
        .try_collect()
        .await
        .unwrap();
    assert_eq!(resumed.len(), 200, "one page of 50 was fetched, 200 remain");
    assert_eq!(resumed[0].text, "m199");
    emu.stop().await;
}

#[actix_rt::test]
async fn a_users_conversations_page_by_last_activity_with_filters() {
    let emu = emulator().await;
    let rest = client(&emu);
    alice_and_bob(&rest).await;
    let ids: Vec<String> = (0..23).map(|i| format!("k{i:02}")).collect();
    for id in &ids {
        let c = rest.conversation(id);
        c.set(
            &ConversationParams::new()
                .participant("alice")
                .participant("bob"),
        )
        .await
        .unwrap();
        c.send(UserMessage::new("alice", id.clone())).await.unwrap();
    }
    // c1 has no message: its activity is bob's join, before every message.
    let mut expected: Vec<String> = ids.iter().rev().cloned().collect();
    expected.push("c1".into());
    let bobs: Vec<_> = rest
        .user("bob")
        .conversations(ConversationListQuery::new().limit(5))
        .try_collect()
        .await
        .unwrap();
    let got: Vec<&str> = bobs.iter().map(|c| c.conversation.id.as_str()).collect();
    assert_eq!(got, expected, "newest activity first, over five pages");
    assert!(bobs[0].is_unread);
    assert_eq!(bobs[0].unread_message_count, 1);
    assert_eq!(
        bobs[0]
            .conversation
            .last_message
            .as_ref()
            .map(|m| m.text.as_str()),
        Some("k22")
    );

    let unread: Vec<_> = rest
        .user("alice")
        .conversations(ConversationListQuery::new().unreads_only())
        .try_collect()
        .await
        .unwrap();
    assert!(unread.is_empty(), "alice read what she sent");
    let at = bobs[3]
        .conversation
        .last_message
        .as_ref()
        .unwrap()
        .created_at;
    let older: Vec<_> = rest
        .user("bob")
        .conversations(
            ConversationListQuery::new()
                .last_message_before(at)
                .limit(100),
        )
        .try_collect()
        .await
        .unwrap();
    assert_eq!(older.len(), 24 - 4, "strictly before the fourth newest");
    let newer: Vec<_> = rest
        .user("bob")
        .conversations(ConversationListQuery::new().last_message_after(at))
        .try_collect()
        .await
        .unwrap();
    assert_eq!(newer.len(), 3);

    let e = rest
        .user("ghost")
        .conversations(ConversationListQuery::new())
        .try_collect::<Vec<_>>()
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some(ErrorCode::UserNotFound), "{e}");
    let e = rest
        .user("bob")
        .conversations(ConversationListQuery::new().starting_after("not-in-the-list"))
        .try_collect::<Vec<_>>()
        .await
        .unwrap_err();
    assert!(
        matches!(e.kind(), ErrorKind::Server { status: 400, .. }),
        "{e}"
    );
    emu.stop().await;
}

#[actix_rt::test]
async fn a_batch_answers_each_operation_in_order() {
    let emu = emulator().await;
    let rest = client(&emu);
    alice_and_bob(&rest).await;
    let too_many: serde_json::Map<String, serde_json::Value> = (0..101)
        .map(|i| (format!("x{i}"), json!({"name": "X"})))
        .collect();
    let answers = rest
        .batch(vec![
            BatchOperation::get(["users", "alice"]),
            BatchOperation::get(["users", "bob", "conversations"]).query("limit", "1"),
            BatchOperation::post(
                ["conversations", "c1", "messages"],
                json!([{"type": "SystemMessage", "text": "note"}]),
            ),
            BatchOperation::put(["users", "carol"], json!({"name": "Carol"})),
            BatchOperation::get(["users", "ghost"]),
            BatchOperation::put(["users"], serde_json::Value::Object(too_many)),
            BatchOperation::post(["batch"], json!([])),
            BatchOperation::post(["conversations", "c1", "participants", "bob"], json!({})),
        ])
        .await
        .unwrap();
    let statuses: Vec<u16> = answers.iter().map(|a| a.status).collect();
    assert_eq!(statuses, [200, 200, 200, 200, 404, 400, 404, 405]);
    let mut answers = answers.into_iter();
    let alice: talkjs::rest::User = answers.next().unwrap().into_result().unwrap();
    assert_eq!(alice.name.as_deref(), Some("Alice"));
    let page: serde_json::Value = answers.next().unwrap().into_result().unwrap();
    assert_eq!(page["data"].as_array().map(Vec::len), Some(1));
    let ghost = answers
        .nth(2)
        .unwrap()
        .into_result::<serde_json::Value>()
        .unwrap_err();
    assert_eq!(ghost.code(), Some(ErrorCode::UserNotFound), "{ghost}");
    let over = answers
        .next()
        .unwrap()
        .into_result::<serde_json::Value>()
        .unwrap_err();
    assert!(
        matches!(over.kind(), ErrorKind::Server { status: 400, .. }),
        "{over}"
    );
    let nested = answers.next().unwrap().into_result::<serde_json::Value>();
    assert!(nested.unwrap_err().is_absent(), "a batch cannot nest");
    let not_allowed = answers
        .next()
        .unwrap()
        .into_result::<serde_json::Value>()
        .unwrap_err();
    assert_eq!(not_allowed.status(), Some(405), "{not_allowed}");
    assert_eq!(not_allowed.error_code(), Some("METHOD_NOT_ALLOWED"));
    assert_eq!(
        rest.user("carol").get().await.unwrap().name.as_deref(),
        Some("Carol")
    );
    assert!(rest.user("x0").get().await.unwrap_err().is_absent());

    let eleven = (0..11)
        .map(|_| BatchOperation::get(["users", "alice"]))
        .collect();
    for e in [
        rest.batch(eleven).await.unwrap_err(),
        rest.batch(vec![]).await.unwrap_err(),
        rest.batch(vec![BatchOperation::get(["users", ""])])
            .await
            .unwrap_err(),
    ] {
        assert!(is_invalid(&e), "{e}");
    }
    emu.stop().await;
}

#[actix_rt::test]
async fn credentials_the_server_refuses_are_auth_failures() {
    let emu = emulator().await;
    let good = client(&emu);
    good.user("alice")
        .set(&UserParams::new().name("Alice"))
        .await
        .unwrap();
    let raw = Client::builder(APP)
        .raw_secret(SECRET)
        .host(emu.url())
        .build()
        .unwrap();
    assert_eq!(raw.user("alice").get().await.unwrap().id, "alice");

    let other_app_token = jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &json!({"tokenType": "app", "iss": "other-app"}),
        &jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .unwrap();
    let refused = [
        Client::builder(APP).secret("sk_test_wrong"),
        Client::builder(APP).raw_secret("sk_test_wrong"),
        Client::builder(APP).raw_secret(other_app_token),
    ];
    for builder in refused {
        let c = builder.host(emu.host()).build().unwrap();
        let e = c
            .user("alice")
            .set(&UserParams::new().name("Mallory"))
            .await
            .unwrap_err();
        assert!(matches!(e.kind(), ErrorKind::AuthFailed(_)), "{e}");
        assert_eq!(e.status(), Some(401));
        assert_eq!(
            e.rest_failure()
                .and_then(|f| f.body.as_ref())
                .map(|b| b.code()),
            Some(ErrorCode::InvalidToken)
        );
        assert_eq!(e.attempts(), Some(1), "a 401 is not retried");
    }
    let stranger = Client::builder("other-app")
        .secret(SECRET)
        .host(emu.host())
        .build()
        .unwrap();
    let e = stranger.user("alice").get().await.unwrap_err();
    assert_eq!(e.error_code(), Some("APP_NOT_FOUND"), "{e}");
    assert_eq!(
        good.user("alice").get().await.unwrap().name.as_deref(),
        Some("Alice"),
        "nothing refused was applied"
    );

    for builder in [
        Client::builder(APP),
        Client::builder(APP).secret(""),
        Client::builder("").secret(SECRET),
        Client::builder(APP).secret(SECRET).host("ftp://x"),
        Client::builder(APP).secret(SECRET).timeout(Duration::ZERO),
    ] {
        assert!(is_invalid(&builder.build().unwrap_err()));
    }
    emu.stop().await;
}

#[actix_rt::test]
async fn bob_sees_rest_writes_live_in_his_session() {
    let emu = emulator().await;
    let rest = client(&emu);
    alice_and_bob(&rest).await;
    let bob_token = jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &json!({"tokenType": "user", "iss": APP, "sub": "bob"}),
        &jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .unwrap();
    let bob = talkjs::get_talk_session(APP, "bob")
        .host(emu.host())
        .token(bob_token)
        .timings(common::timings())
        .force_create_new()
        .await
        .unwrap();
    let messages = bob.conversation("c1").subscribe_messages();
    messages.connected().await.unwrap();
    rest.conversation("c1")
        .send(UserMessage::new("alice", "from the *backend*"))
        .await
        .unwrap();
    let seen = common::eventually("bob sees the REST message", || {
        let list = messages.latest().flatten()?;
        list.first().map(|m| m.plaintext.clone())
    })
    .await;
    assert_eq!(seen, "from the backend");

    let id = messages
        .latest()
        .flatten()
        .unwrap()
        .first()
        .unwrap()
        .id
        .clone();
    rest.conversation("c1")
        .message(id.to_string())
        .edit(&MessageEdit::new().text("edited by the backend"))
        .await
        .unwrap();
    common::eventually("bob sees the REST edit", || {
        let list = messages.latest().flatten()?;
        (list.first()?.plaintext == "edited by the backend").then_some(())
    })
    .await;
    bob.terminate("test over");
    emu.stop().await;
}
