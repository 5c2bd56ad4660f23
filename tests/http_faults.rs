//! HTTP faults a real server does not easily produce, with mockito standing in for the HTTP side
//! (uploads, the app check) while the realtime side is the real emulator.

use talkjs::ErrorKind;
use talkjs::params::GenericFileMetadata;
use talkjs::protocol::endpoints::ApiUrls;
use talkjs_emulator::{Emulator, RunningEmulator};

const APP: &str = "app1";

async fn emulator() -> RunningEmulator {
    Emulator::builder()
        .app_id(APP)
        .start("127.0.0.1:0")
        .await
        .expect("emulator")
}

/// The emulator's URLs with the REST base (uploads) replaced by `rest`.
fn urls(emu: &RunningEmulator, rest: &str) -> ApiUrls {
    ApiUrls {
        rest: rest.to_owned(),
        ..ApiUrls::for_host(&emu.host())
    }
}

/// The emulator's URLs with the internal API (app checks, bokens) replaced by `internal`.
fn internal_urls(emu: &RunningEmulator, internal: &mockito::ServerGuard) -> ApiUrls {
    ApiUrls {
        internal: internal.url(),
        ..ApiUrls::for_host(&emu.host())
    }
}

/// `GET /app1` on the mocked internal API, answered `status`, expected `times` times.
async fn app_check(
    internal: &mut mockito::ServerGuard,
    status: usize,
    times: usize,
) -> mockito::Mock {
    internal
        .mock("GET", "/app1")
        .with_status(status)
        .expect(times)
        .create_async()
        .await
}

async fn session(urls: ApiUrls) -> talkjs::TalkSession {
    session_as(urls, "alice").await
}

async fn session_as(urls: ApiUrls, user: &str) -> talkjs::TalkSession {
    talkjs::get_talk_session(APP, user)
        .api_urls(urls)
        .await
        .expect("session")
}

fn file() -> GenericFileMetadata {
    GenericFileMetadata {
        filename: "report.pdf".into(),
    }
}

#[actix_rt::test]
async fn an_upload_refused_with_413_is_an_error_with_the_servers_code() {
    let emu = emulator().await;
    let mut rest = mockito::Server::new_async().await;
    let upload = rest
        .mock("POST", "/app1/files")
        .with_status(413)
        .with_body(r#"{"errorCode":"FILE_TOO_BIG","reasons":["too big"]}"#)
        .expect(1)
        .create_async()
        .await;
    let s = session(urls(&emu, &rest.url())).await;
    let e = s.upload_file(b"%PDF".to_vec(), file()).await.unwrap_err();
    assert_eq!(e.error_code(), Some("FILE_TOO_BIG"), "{e}");
    assert!(matches!(e.kind(), ErrorKind::Server { status: 413, .. }));
    upload.assert_async().await;
    emu.stop().await;
}

#[actix_rt::test]
async fn an_upload_answered_500_is_retried_once_and_then_succeeds() {
    let emu = emulator().await;
    let mut rest = mockito::Server::new_async().await;
    let failing = rest
        .mock("POST", "/app1/files")
        .with_status(500)
        .with_body(r#"{"errorCode":"INTERNAL_ERROR","reasons":[]}"#)
        .expect(1)
        .create_async()
        .await;
    let s = session(urls(&emu, &rest.url())).await;
    // The second try meets the second mock (mockito matches the newest mock first once the first
    // has had its expected call).
    let upload = s.upload_file(b"%PDF".to_vec(), file());
    let ok = rest
        .mock("POST", "/app1/files")
        .match_header(
            "authorization",
            mockito::Matcher::Regex("^Bearer boken\\.".into()),
        )
        .match_body(mockito::Matcher::Regex(
            "name=\"file\"; filename=\"report.pdf\"".into(),
        ))
        .with_status(200)
        .with_body(r#"{"fileToken":"FT_1"}"#)
        .expect(1)
        .create_async()
        .await;
    let token = upload.await.unwrap();
    assert_eq!(token.as_str(), "FT_1");
    failing.assert_async().await;
    ok.assert_async().await;
    emu.stop().await;
}

#[actix_rt::test]
async fn an_upload_that_keeps_failing_with_500_gives_up_after_one_retry() {
    let emu = emulator().await;
    let mut rest = mockito::Server::new_async().await;
    let failing = rest
        .mock("POST", "/app1/files")
        .with_status(503)
        .with_body("upstream unavailable")
        .expect(2)
        .create_async()
        .await;
    let s = session(urls(&emu, &rest.url())).await;
    let e = s.upload_file(b"%PDF".to_vec(), file()).await.unwrap_err();
    assert!(
        matches!(e.kind(), ErrorKind::Server { status: 503, .. }),
        "{e}"
    );
    failing.assert_async().await;
    emu.stop().await;
}

#[actix_rt::test]
async fn an_app_check_answered_404_terminates_the_session() {
    let emu = emulator().await;
    let mut internal = mockito::Server::new_async().await;
    let check = app_check(&mut internal, 404, 1).await;
    let urls = internal_urls(&emu, &internal);
    let s = session(urls).await;
    let seen = std::sync::Arc::new(std::sync::Mutex::new(None::<String>));
    let sink = seen.clone();
    let _sub = s.on_error(move |e| *sink.lock().unwrap() = Some(e.to_string()));
    let mut reason = None;
    for _ in 0..50 {
        reason = seen.lock().unwrap().clone();
        if reason.is_some() {
            break;
        }
        actix_rt::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let reason = reason.expect("on_error fired");
    assert!(
        reason.contains("The app ID app1 does not exist"),
        "{reason}"
    );
    check.assert_async().await;
    emu.stop().await;
}

#[actix_rt::test]
async fn an_app_check_that_fails_otherwise_is_ignored() {
    let emu = emulator().await;
    let mut internal = mockito::Server::new_async().await;
    let _check = internal
        .mock("GET", "/app1")
        .with_status(500)
        .create_async()
        .await;
    let boken = boken_from(&emu).await;
    let urls = internal_urls(&emu, &internal);
    let s = talkjs::get_talk_session(APP, "alice")
        .api_urls(urls)
        .token(boken)
        .await
        .unwrap();
    s.current_user()
        .create_if_not_exists(talkjs::params::CreateUserParams::new("Alice"))
        .await
        .expect("the session works");
    emu.stop().await;
}

/// Waits (up to 5 s) until `mock` has seen what it expects.
async fn until_matched(mock: &mockito::Mock) {
    for _ in 0..100 {
        if mock.matched_async().await {
            return;
        }
        actix_rt::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the app check never came");
}

#[actix_rt::test]
async fn an_app_found_is_not_checked_again_by_the_next_session() {
    let emu = emulator().await;
    let mut internal = mockito::Server::new_async().await;
    let check = app_check(&mut internal, 200, 1).await;
    let urls = internal_urls(&emu, &internal);
    let alice = session(urls.clone()).await;
    until_matched(&check).await;
    let bob = session_as(urls, "bob").await;
    actix_rt::time::sleep(std::time::Duration::from_millis(500)).await;
    check.assert_async().await;
    drop((alice, bob));
    emu.stop().await;
}

#[actix_rt::test]
async fn an_app_answered_404_is_checked_again_by_the_next_session() {
    let emu = emulator().await;
    let mut internal = mockito::Server::new_async().await;
    let first = app_check(&mut internal, 404, 1).await;
    let urls = internal_urls(&emu, &internal);
    let alice = session(urls.clone()).await;
    until_matched(&first).await;
    let second = app_check(&mut internal, 404, 1).await;
    let bob = session_as(urls, "bob").await;
    until_matched(&second).await;
    first.assert_async().await;
    drop((alice, bob));
    emu.stop().await;
}

/// A boken from the emulator (the mock stands in for the internal API, bokens included).
async fn boken_from(emu: &RunningEmulator) -> String {
    let mut r = awc::Client::new()
        .get(format!(
            "{}/api/v0/{APP}/bokens/alice?signature=",
            emu.url()
        ))
        .send()
        .await
        .unwrap();
    let body: serde_json::Value = r.json().await.unwrap();
    body["boken"].as_str().unwrap().to_owned()
}
