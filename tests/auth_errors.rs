//! Authentication failures are typed and truthful: the failing call itself fails with
//! `ErrorKind::AuthFailed`, naming what the server said, for each way a token can be wrong
//! (not a JWT, signed with another key, another user's, none for an app that needs one); and
//! ids that cannot be right are refused before anything is sent.

use std::time::Duration;

use jsonwebtoken::{EncodingKey, Header};
use talkjs::ErrorKind;
use talkjs_emulator::{Emulator, RunningEmulator};

const APP: &str = "app1";
const SECRET: &str = "s3cret";

async fn emulator() -> RunningEmulator {
    Emulator::builder()
        .app_id(APP)
        .secret(SECRET)
        .start("127.0.0.1:0")
        .await
        .expect("emulator starts")
}

fn jwt(user: &str, key: &str) -> String {
    let exp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 3600;
    let claims = serde_json::json!({"iss": APP, "sub": user, "tokenType": "user", "exp": exp});
    jsonwebtoken::encode(
        &Header::default(),
        &claims,
        &EncodingKey::from_secret(key.as_bytes()),
    )
    .unwrap()
}

/// Alice's first call with this token: its error, within a bound.
async fn first_call_with(emu: &RunningEmulator, token: Option<String>) -> talkjs::Error {
    let mut builder = talkjs::get_talk_session(APP, "alice")
        .host(emu.host())
        .force_create_new();
    if let Some(token) = token {
        builder = builder.token(token);
    }
    let s = builder.await.expect("a session");
    tokio::time::timeout(Duration::from_secs(10), s.user("alice").get())
        .await
        .expect("fails in time")
        .expect_err("refused")
}

fn auth_reason(e: &talkjs::Error) -> &str {
    match e.kind() {
        ErrorKind::AuthFailed(reason) => reason,
        other => panic!("expected AuthFailed, got {other:?}: {e}"),
    }
}

#[actix_rt::test]
async fn a_token_that_is_not_a_jwt_fails_the_call_with_the_servers_reason() {
    let emu = emulator().await;
    let e = first_call_with(&emu, Some("not-a-jwt".into())).await;
    let reason = auth_reason(&e);
    assert!(reason.contains("the server refused the token (401"), "{e}");
    assert!(reason.contains("fixed token"), "{e}");
    emu.stop().await;
}

#[actix_rt::test]
async fn a_token_signed_with_another_key_fails_the_call_with_the_servers_reason() {
    let emu = emulator().await;
    let e = first_call_with(&emu, Some(jwt("alice", "not-the-secret"))).await;
    assert!(
        auth_reason(&e).contains("the server refused the token (401"),
        "{e}"
    );
    emu.stop().await;
}

#[actix_rt::test]
async fn another_users_token_fails_the_call_with_the_servers_reason() {
    let emu = emulator().await;
    let e = first_call_with(&emu, Some(jwt("mallory", SECRET))).await;
    assert!(
        auth_reason(&e).contains("the server refused the token (401"),
        "{e}"
    );
    emu.stop().await;
}

#[actix_rt::test]
async fn no_token_for_an_app_that_needs_one_says_so() {
    let emu = emulator().await;
    let e = first_call_with(&emu, None).await;
    let reason = auth_reason(&e);
    assert!(
        reason.contains("the server refused a boken with status 401"),
        "{e}"
    );
    assert!(reason.contains("signed token (JWT)"), "{e}");
    emu.stop().await;
}

#[actix_rt::test]
async fn a_valid_token_works_and_later_calls_after_a_failure_say_the_session_ended() {
    let emu = emulator().await;
    let ok = talkjs::get_talk_session(APP, "alice")
        .host(emu.host())
        .token(jwt("alice", SECRET))
        .force_create_new()
        .await
        .unwrap();
    assert!(ok.user("alice").get().await.is_ok());

    let bad = talkjs::get_talk_session(APP, "alice")
        .host(emu.host())
        .token(jwt("alice", "wrong"))
        .force_create_new()
        .await
        .unwrap();
    let first = bad.user("alice").get().await.unwrap_err();
    assert!(matches!(first.kind(), ErrorKind::AuthFailed(_)), "{first}");
    let later = bad.user("bob").get().await.unwrap_err();
    assert!(
        matches!(later.kind(), ErrorKind::SessionTerminated(r) if r.contains("the server refused the token")),
        "{later}"
    );
    emu.stop().await;
}

#[actix_rt::test]
async fn empty_or_control_character_ids_are_refused_before_anything_is_sent() {
    for (app, user) in [("", "alice"), (APP, ""), (APP, "bad\nid")] {
        let e = talkjs::get_talk_session(app, user)
            // Nothing listens here: a request would fail differently, after a timeout.
            .host("127.0.0.1:9")
            .await
            .expect_err("refused");
        assert!(
            matches!(e.kind(), ErrorKind::InvalidArgument(_)),
            "{app:?}/{user:?}: {e}"
        );
    }
}
