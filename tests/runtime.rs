//! The runtime against the real emulator over real websockets on loopback: every request
//! operation, lazy connection, idle stop and restart, reconnects, tokens and termination.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use talkjs::params::{Access, Notify};
use talkjs::params::{
    CreateConversationParams, CreateParticipantParams, CreateUserParams, EditTextMessageParams,
    ImageFileMetadata, SendTextMessageParams, SetConversationParams, SetParticipantParams,
    SetUserParams,
};
use talkjs::protocol::content::{ContentBlock, TextNode};
use talkjs::token::{JwtSigner, TokenFn, TokenRequest};
use talkjs::{ErrorKind, LocationBlock, TalkSession};
use talkjs_emulator::{Emulator, RunningEmulator};

const APP: &str = "app1";

async fn emulator() -> RunningEmulator {
    Emulator::builder()
        .app_id(APP)
        .start("127.0.0.1:0")
        .await
        .expect("emulator starts")
}

async fn session(emu: &RunningEmulator, user: &str) -> TalkSession {
    talkjs::get_talk_session(APP, user)
        .host(emu.host())
        .force_create_new()
        .await
        .expect("session")
}

/// A session whose user exists, in a conversation `c` that also has `others`.
async fn in_conversation(
    emu: &RunningEmulator,
    user: &str,
    c: &str,
    others: &[&str],
) -> TalkSession {
    let s = session(emu, user).await;
    s.current_user()
        .create_if_not_exists(CreateUserParams::new(user))
        .await
        .unwrap();
    for o in others {
        s.user(*o)
            .create_if_not_exists(CreateUserParams::new(*o))
            .await
            .unwrap();
    }
    s.conversation(c)
        .create_if_not_exists(CreateConversationParams::new())
        .await
        .unwrap();
    for o in others {
        s.conversation(c)
            .participant(*o)
            .create_if_not_exists(CreateParticipantParams::new())
            .await
            .unwrap();
    }
    s
}

/// Alice's session with tokens from `provider`, her user created.
async fn provided_session(
    emu: &RunningEmulator,
    provider: impl talkjs::token::TokenProvider,
) -> TalkSession {
    let s = talkjs::get_talk_session(APP, "alice")
        .host(emu.host())
        .token_provider(provider)
        .await
        .unwrap();
    s.current_user()
        .create_if_not_exists(CreateUserParams::new("Alice"))
        .await
        .unwrap();
    s
}

async fn wait_until(what: &str, mut check: impl AsyncFnMut() -> bool) {
    for _ in 0..100 {
        if check().await {
            return;
        }
        actix_rt::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("timed out waiting until {what}");
}

#[actix_rt::test]
async fn a_session_connects_only_when_first_used() {
    let emu = emulator().await;
    let s = session(&emu, "alice").await;
    actix_rt::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        emu.inspect(|w| w.connection_count()),
        0,
        "no socket before the first request"
    );
    s.current_user()
        .create_if_not_exists(CreateUserParams::new("Alice"))
        .await
        .unwrap();
    assert_eq!(emu.inspect(|w| w.connection_count()), 1);
    emu.stop().await;
}

#[actix_rt::test]
async fn the_same_user_gets_the_same_session_unless_asked_for_a_new_one() {
    let emu = emulator().await;
    let a = talkjs::get_talk_session(APP, "alice")
        .host(emu.host())
        .await
        .unwrap();
    let b = talkjs::get_talk_session(APP, "alice")
        .host(emu.host())
        .await
        .unwrap();
    assert_eq!(a, b);
    let c = talkjs::get_talk_session(APP, "alice")
        .host(emu.host())
        .force_create_new()
        .await
        .unwrap();
    assert_ne!(a, c);
    emu.stop().await;
}

#[actix_rt::test]
async fn alice_creates_reads_and_updates_users() {
    let emu = emulator().await;
    let s = session(&emu, "alice").await;
    let me = s.current_user();
    me.create_if_not_exists(
        CreateUserParams::new("Alice")
            .email("a@x.com")
            .custom("team", "red"),
    )
    .await
    .unwrap();
    // A second create changes nothing and is not an error.
    me.create_if_not_exists(CreateUserParams::new("Someone else"))
        .await
        .unwrap();
    let got = me.get().await.unwrap().expect("alice exists");
    assert_eq!(
        (
            got.name.as_str(),
            got.custom.get("team").map(String::as_str)
        ),
        ("Alice", Some("red"))
    );
    me.set(
        SetUserParams::new()
            .name("Alice B")
            .clear_custom_key("team"),
    )
    .await
    .unwrap();
    let got = me.get().await.unwrap().unwrap();
    assert_eq!(got.name, "Alice B");
    assert!(got.custom.is_empty());
    assert!(s.user("nobody").get().await.unwrap().is_none());
    emu.stop().await;
}

#[actix_rt::test]
async fn empty_ids_are_refused_before_anything_is_sent() {
    let emu = emulator().await;
    let s = session(&emu, "alice").await;
    let e = s.user("").get().await.unwrap_err();
    assert!(matches!(e.kind(), ErrorKind::InvalidArgument(_)), "{e}");
    let e = s.conversation("").send("hi").await.unwrap_err();
    assert!(matches!(e.kind(), ErrorKind::InvalidArgument(_)));
    let e = s
        .conversation("c")
        .message("m")
        .reactions("")
        .add()
        .await
        .unwrap_err();
    assert!(matches!(e.kind(), ErrorKind::InvalidArgument(_)));
    let e = s
        .conversation("c")
        .message("m")
        .translate(" ")
        .await
        .unwrap_err();
    assert!(matches!(e.kind(), ErrorKind::InvalidArgument(_)));
    assert_eq!(emu.inspect(|w| w.connection_count()), 0, "nothing was sent");
    emu.stop().await;
}

#[actix_rt::test]
async fn bob_reads_the_conversation_alice_wrote_in_with_its_last_message() {
    let emu = emulator().await;
    let alice = in_conversation(&emu, "alice", "c1", &["bob"]).await;
    let first = alice.conversation("c1").send("first").await.unwrap();
    // A MessageRef goes where its id does.
    let reply = SendTextMessageParams::new("*second*")
        .reply_to(&first)
        .custom("k", "v");
    alice.conversation("c1").send(reply).await.unwrap();

    let bob = session(&emu, "bob").await;
    let conv = bob
        .conversation("c1")
        .get()
        .await
        .unwrap()
        .expect("bob is a participant");
    assert_eq!(conv.unread_message_count, 2);
    let last = conv.last_message.expect("a last message");
    assert_eq!(last.plaintext, "second");
    assert_eq!(last.sender.as_ref().map(|u| u.name.as_str()), Some("alice"));
    assert_eq!(last.custom.get("k").map(String::as_str), Some("v"));
    let referenced = last
        .referenced_message
        .as_ref()
        .expect("the reply shows what it answers");
    assert_eq!(referenced.plaintext, "first");
    assert!(
        matches!(&last.content[..], [ContentBlock::Text(t)] if matches!(&t.children[..], [TextNode::Bold(_)]))
    );

    bob.conversation("c1").mark_as_read().await.unwrap();
    assert_eq!(
        bob.conversation("c1")
            .get()
            .await
            .unwrap()
            .unwrap()
            .unread_message_count,
        0
    );
    bob.conversation("c1").mark_as_unread().await.unwrap();
    assert!(
        bob.conversation("c1")
            .get()
            .await
            .unwrap()
            .unwrap()
            .is_unread
    );
    assert!(
        session(&emu, "carol")
            .await
            .conversation("c1")
            .get()
            .await
            .unwrap()
            .is_none()
    );
    emu.stop().await;
}

#[actix_rt::test]
async fn conversation_set_changes_attributes_and_participation() {
    let emu = emulator().await;
    let alice = in_conversation(&emu, "alice", "c1", &[]).await;
    alice
        .conversation("c1")
        .set(
            SetConversationParams::new()
                .subject("Plans")
                .custom("topic", "trip")
                .notify(Notify::MentionsOnly),
        )
        .await
        .unwrap();
    let c = alice.conversation("c1").get().await.unwrap().unwrap();
    assert_eq!(c.subject.as_deref(), Some("Plans"));
    assert_eq!(c.notify, Notify::MentionsOnly);
    assert!(c.last_message.is_none());
    emu.stop().await;
}

#[actix_rt::test]
async fn participants_are_added_edited_read_and_removed() {
    let emu = emulator().await;
    let alice = in_conversation(&emu, "alice", "c1", &["bob"]).await;
    let bob = alice.conversation("c1").participant("bob");
    // A UserRef goes where its id does.
    let bob_user = alice.user("bob");
    assert_eq!(alice.conversation("c1").participant(&bob_user), bob);
    assert_eq!(bob_user.id(), "bob", "the ref is still usable");
    bob.set(SetParticipantParams::new().access(Access::Read))
        .await
        .unwrap();
    let got = bob.get().await.unwrap().expect("bob is in");
    assert_eq!((got.access, got.user.name.as_str()), (Access::Read, "bob"));
    bob.edit(SetParticipantParams::new().notify(Notify::Off))
        .await
        .unwrap();
    assert_eq!(bob.get().await.unwrap().unwrap().notify, Notify::Off);

    // Bob, read-only, cannot send; alice can.
    let bob_session = session(&emu, "bob").await;
    let e = bob_session
        .conversation("c1")
        .send("hello?")
        .await
        .unwrap_err();
    assert!(
        matches!(e.kind(), ErrorKind::Forbidden(b) if b.error_code == "READ_ONLY_ACCESS"),
        "{e}"
    );

    bob.delete().await.unwrap();
    assert!(bob.get().await.unwrap().is_none());
    bob.delete().await.unwrap(); // removing a non-participant succeeds
    let e = alice
        .conversation("c1")
        .participant("dave")
        .edit(SetParticipantParams::new())
        .await
        .unwrap_err();
    assert!(matches!(e.kind(), ErrorKind::NotFound(_)), "{e}");
    emu.stop().await;
}

#[actix_rt::test]
async fn messages_are_edited_translated_reacted_to_and_deleted() {
    let emu = emulator().await;
    let alice = in_conversation(&emu, "alice", "c1", &["bob"]).await;
    let m = alice.conversation("c1").send("original").await.unwrap();
    // Plain users may not send link nodes (the .d.ts's default permissions), and a refused edit
    // changes nothing.
    let e = m
        .edit("now with <https://example.com|a link>")
        .await
        .unwrap_err();
    assert_eq!(e.error_code(), Some("LINK_NOT_ALLOWED"), "{e}");
    assert_eq!(m.get().await.unwrap().unwrap().plaintext, "original");
    m.edit("now with a _twist_").await.unwrap();
    let got = m.get().await.unwrap().unwrap();
    assert_eq!(got.plaintext, "now with a twist");
    assert!(got.edited_at.is_some());
    m.edit(EditTextMessageParams::new().custom("state", "done"))
        .await
        .unwrap();
    let got = m.get().await.unwrap().unwrap();
    assert_eq!(
        (
            got.plaintext.as_str(),
            got.custom.get("state").map(String::as_str)
        ),
        ("now with a twist", Some("done"))
    );

    let translated = m.translate("fr").await.unwrap().expect("a translation");
    assert_eq!(
        translated.plaintext, "now with a twist",
        "the emulator's translation is the identity"
    );

    let bob = session(&emu, "bob").await;
    let thumbs = bob.conversation("c1").message(m.id()).reactions("👍");
    thumbs.add().await.unwrap();
    m.reactions("👍").add().await.unwrap();
    let first = m
        .reactions("👍")
        .get_first_reactions()
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        first.iter().map(|r| r.user.id.as_str()).collect::<Vec<_>>(),
        ["bob", "alice"]
    );
    let summary = m.get().await.unwrap().unwrap().reactions;
    assert_eq!(
        (
            summary[0].emoji.as_str(),
            summary[0].count,
            summary[0].current_user_reacted
        ),
        ("👍", 2, true)
    );
    thumbs.remove().await.unwrap();
    thumbs.remove().await.unwrap(); // already gone: still fine

    let e = bob
        .conversation("c1")
        .message(m.id())
        .edit("not mine")
        .await
        .unwrap_err();
    assert!(matches!(e.kind(), ErrorKind::Forbidden(_)), "{e}");
    m.delete().await.unwrap();
    assert!(m.get().await.unwrap().is_none());
    m.delete().await.unwrap();
    emu.stop().await;
}

#[actix_rt::test]
async fn a_non_participant_is_refused_with_a_matchable_error() {
    let emu = emulator().await;
    in_conversation(&emu, "alice", "c1", &[]).await;
    let carol = session(&emu, "carol").await;
    let e = carol
        .conversation("c1")
        .send("let me in")
        .await
        .unwrap_err();
    assert_eq!(e.error_code(), Some("NOT_A_PARTICIPANT"));
    assert!(
        e.to_string().starts_with(
            "Send message to conversation c1 failed, got status 403 NOT_A_PARTICIPANT"
        )
    );
    emu.stop().await;
}

#[actix_rt::test]
async fn files_are_uploaded_then_sent_and_locations_too() {
    let emu = emulator().await;
    let alice = in_conversation(&emu, "alice", "c1", &[]).await;
    let token = alice
        .upload_image(
            b"PNGBYTES".to_vec(),
            ImageFileMetadata {
                filename: "holiday pic.png".into(),
                width: Some(640),
                height: Some(480),
            },
        )
        .await
        .unwrap();
    let m = alice.conversation("c1").send(token).await.unwrap();
    let got = m.get().await.unwrap().unwrap();
    assert_eq!(got.plaintext, "📷 holiday pic.png");
    let ContentBlock::File(f) = &got.content[0] else {
        panic!("a file block")
    };
    assert_eq!((f.size, f.width, f.height), (8, Some(640), Some(480)));
    let m = alice
        .conversation("c1")
        .send(LocationBlock {
            latitude: 52.37,
            longitude: 4.9,
        })
        .await
        .unwrap();
    assert_eq!(m.get().await.unwrap().unwrap().plaintext, "📍");
    emu.stop().await;
}

#[actix_rt::test]
async fn an_oversized_upload_is_refused_before_the_upload() {
    let emu = Emulator::builder()
        .app_id(APP)
        .max_upload_bytes(4)
        .start("127.0.0.1:0")
        .await
        .unwrap();
    let alice = session(&emu, "alice").await;
    let e = alice
        .upload_file(
            vec![0u8; 10],
            talkjs::params::GenericFileMetadata {
                filename: "big.bin".into(),
            },
        )
        .await
        .unwrap_err();
    assert_eq!(e.error_code(), Some("FILE_TOO_LARGE"), "{e}");
    emu.stop().await;
}

#[actix_rt::test]
async fn an_idle_connection_closes_itself_and_the_next_request_opens_a_new_one() {
    let emu = emulator().await;
    let s = session(&emu, "alice").await;
    s.current_user()
        .create_if_not_exists(CreateUserParams::new("Alice"))
        .await
        .unwrap();
    wait_until("the idle connection closed", async || {
        emu.inspect(|w| w.connection_count()) == 0
    })
    .await;
    let status = s.status().await.unwrap();
    assert!(!status.connected);
    assert!(s.current_user().get().await.unwrap().is_some());
    let status = s.status().await.unwrap();
    assert_eq!(status.connections_started, 2);
    emu.stop().await;
}

#[actix_rt::test]
async fn sends_in_flight_when_the_server_drops_the_socket_land_exactly_once() {
    let emu = emulator().await;
    let alice = in_conversation(&emu, "alice", "c1", &[]).await;
    // Start the sends, cut the socket while they are under way, and let the runtime redial and
    // re-send what was in flight.
    let sends: Vec<_> = (0..20)
        .map(|i| {
            let conv = alice.conversation("c1");
            actix_rt::spawn(async move { conv.send(format!("message {i}")).await })
        })
        .collect();
    actix_rt::time::sleep(Duration::from_millis(2)).await;
    emu.drop_connections();
    for send in sends {
        send.await.expect("task").expect("send succeeded");
    }
    let count = emu.inspect(|w| {
        w.list_messages("c1", "alice", Some(100), None)
            .map(|p| p.data.len())
    });
    assert_eq!(count.unwrap(), 20, "every send created exactly one message");
    emu.stop().await;
}

fn jwt_provider(secret: &'static str) -> JwtSigner {
    JwtSigner::new(secret)
}

#[actix_rt::test]
async fn with_a_secret_a_refused_token_is_replaced_by_asking_the_provider_again() {
    let emu = Emulator::builder()
        .app_id(APP)
        .secret("s3cret")
        .start("127.0.0.1:0")
        .await
        .unwrap();
    let asked = Arc::new(AtomicUsize::new(0));
    let counter = asked.clone();
    let provider = TokenFn::new(move |req: TokenRequest| {
        let n = counter.fetch_add(1, Ordering::SeqCst);
        async move {
            if n == 0 {
                Ok::<_, String>("not-a-valid-token".to_owned())
            } else {
                jwt_provider("s3cret")
                    .sign(&req.app_id, &req.user_id)
                    .map_err(|e| e.to_string())
            }
        }
    });
    // Creating her user is the request that meets the refusal.
    let _session = provided_session(&emu, provider).await;
    assert_eq!(
        asked.load(Ordering::SeqCst),
        2,
        "asked once, refused, asked again"
    );
    emu.stop().await;
}

#[actix_rt::test]
async fn a_failing_token_provider_ends_the_session_and_on_error_fires_once() {
    let emu = Emulator::builder()
        .app_id(APP)
        .secret("s3cret")
        .start("127.0.0.1:0")
        .await
        .unwrap();
    let provider = TokenFn::new(|_req: TokenRequest| async { Err::<String, _>("backend down") });
    let s = talkjs::get_talk_session(APP, "alice")
        .host(emu.host())
        .token_provider(provider)
        .await
        .unwrap();
    let errors = Arc::new(Mutex::new(Vec::new()));
    let sink = errors.clone();
    let _sub = s.on_error(move |e| sink.lock().unwrap().push(e.to_string()));
    // The call that needed the token fails with the provider's own reason (issue 14).
    let e = s.current_user().get().await.unwrap_err();
    assert!(
        matches!(e.kind(), ErrorKind::AuthFailed(r) if r.contains("backend down")),
        "{e}"
    );
    let e = s.current_user().get().await.unwrap_err();
    assert!(
        matches!(e.kind(), ErrorKind::SessionTerminated(_)),
        "later calls fail too: {e}"
    );
    let seen = errors.lock().unwrap().clone();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert!(seen[0].contains("backend down"));
    emu.stop().await;
}

#[actix_rt::test]
async fn an_unknown_app_id_terminates_the_session() {
    let emu = emulator().await;
    let s = talkjs::get_talk_session("no-such-app", "alice")
        .host(emu.host())
        .await
        .unwrap();
    let fired = Arc::new(Mutex::new(None));
    let sink = fired.clone();
    let _sub = s.on_error(move |e| *sink.lock().unwrap() = Some(e.to_string()));
    wait_until("the session terminated", async || {
        fired.lock().unwrap().is_some()
    })
    .await;
    assert!(
        fired
            .lock()
            .unwrap()
            .as_deref()
            .unwrap()
            .contains("The app ID no-such-app does not exist")
    );
    let e = s.current_user().get().await.unwrap_err();
    assert!(matches!(e.kind(), ErrorKind::SessionTerminated(_)));
    emu.stop().await;
}

#[actix_rt::test]
async fn set_token_renews_the_live_socket_without_dropping_requests() {
    let emu = Emulator::builder()
        .app_id(APP)
        .secret("s3cret")
        .start("127.0.0.1:0")
        .await
        .unwrap();
    let signer = jwt_provider("s3cret");
    let s = talkjs::get_talk_session(APP, "alice")
        .host(emu.host())
        .token(signer.sign(APP, "alice").unwrap())
        .await
        .unwrap();
    s.current_user()
        .create_if_not_exists(CreateUserParams::new("Alice"))
        .await
        .unwrap();
    let me = s.current_user();
    let in_flight = (0..10).map(|_| me.get());
    let all = futures_util::future::join_all(in_flight);
    s.set_token(signer.sign(APP, "alice").unwrap());
    assert!(all.await.iter().all(|r| matches!(r, Ok(Some(_)))));
    let status = s.status().await.unwrap();
    assert_eq!(status.connections_started, 1, "the same socket was renewed");
    emu.stop().await;
}

#[actix_rt::test]
async fn session_expired_gets_a_new_token_on_the_same_socket() {
    use jsonwebtoken::{EncodingKey, Header};
    let emu = Emulator::builder()
        .app_id(APP)
        .secret("s3cret")
        .start("127.0.0.1:0")
        .await
        .unwrap();
    let asked = Arc::new(AtomicUsize::new(0));
    let counter = asked.clone();
    // Tokens that expire 33 s after issue: the emulator warns 30 s before expiry, so after ~3 s.
    let provider = TokenFn::new(move |req: TokenRequest| {
        let n = counter.fetch_add(1, Ordering::SeqCst);
        async move {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs();
            let claims = serde_json::json!({"iss": req.app_id, "sub": req.user_id, "tokenType": "user", "exp": now + 33, "n": n});
            jsonwebtoken::encode(
                &Header::default(),
                &claims,
                &EncodingKey::from_secret(b"s3cret"),
            )
            .map_err(|e| e.to_string())
        }
    });
    let s = provided_session(&emu, provider).await;
    // Polling keeps the socket from idling out while we wait for the warning.
    wait_until(
        "the provider was asked again after session.expired",
        async || {
            let _ = s.current_user().get().await;
            asked.load(Ordering::SeqCst) >= 2
        },
    )
    .await;
    assert!(
        s.current_user().get().await.unwrap().is_some(),
        "requests work with the new token"
    );
    let status = s.status().await.unwrap();
    assert_eq!(
        status.connections_started, 1,
        "re-authenticated on the same socket"
    );
    emu.stop().await;
}

#[actix_rt::test]
async fn requests_racing_an_idle_close_are_sent_on_a_new_connection_not_failed() {
    let emu = emulator().await;
    // A connection that closes 1 ms after going idle: sequential requests keep landing while the
    // previous connection stops.
    let timings = talkjs::Timings {
        idle_close: Duration::from_millis(1),
        ..talkjs::Timings::default()
    };
    let s = talkjs::get_talk_session(APP, "alice")
        .host(emu.host())
        .timings(timings)
        .force_create_new()
        .await
        .unwrap();
    s.current_user()
        .create_if_not_exists(CreateUserParams::new("Alice"))
        .await
        .unwrap();
    // Writes: reads would be served by the user cache, which holds a subscription and so keeps
    // the connection open.
    for i in 0..200u64 {
        let got = s
            .current_user()
            .set(SetUserParams::new().name(format!("Alice {i}")))
            .await;
        assert!(got.is_ok(), "request {i}: {got:?}");
        // Gaps of 0 to 3 ms: some requests arrive just as the idle timer stops the connection.
        actix_rt::time::sleep(Duration::from_micros(i * 7919 % 3000)).await;
    }
    let status = s.status().await.unwrap();
    assert!(
        status.connections_started > 1,
        "the idle close really happened in between"
    );
    emu.stop().await;
}

#[actix_rt::test]
async fn the_same_user_on_two_servers_gets_two_sessions() {
    let (one, two) = (emulator().await, emulator().await);
    let a = talkjs::get_talk_session(APP, "alice")
        .host(one.host())
        .await
        .unwrap();
    let b = talkjs::get_talk_session(APP, "alice")
        .host(two.host())
        .await
        .unwrap();
    assert_ne!(a, b, "one session per server");
    let again = talkjs::get_talk_session(APP, "alice")
        .host(one.host())
        .await
        .unwrap();
    assert_eq!(a, again);
    a.current_user()
        .create_if_not_exists(CreateUserParams::new("Alice One"))
        .await
        .unwrap();
    assert!(
        b.current_user().get().await.unwrap().is_none(),
        "the second server knows nothing of the first"
    );
}
