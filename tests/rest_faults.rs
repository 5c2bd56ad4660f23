//! HTTP faults the emulator does not produce, against `talkjs::rest::Client`: mockito answers
//! 429, 5xx and malformed bodies; a bare loopback socket that accepts and never answers (or
//! stalls mid-body) stands in for a hung server, which mockito cannot do deterministically.
//! Every case ends within a bound, as a typed error or a success after retries.

use std::io::Write;
use std::net::TcpListener;
use std::time::{Duration, Instant};

use mockito::{Matcher, Server, ServerGuard};
use talkjs::ErrorKind;
use talkjs::rest::{Client, RestErrorExt, RetryPolicy, SystemMessage, UserMessage};

const APP: &str = "app1";
const SECRET: &str = "sk_test_faults";
const USER_PATH: &str = "/v1/app1/users/alice";
const ALICE: &str = r#"{"id":"alice","name":"Alice"}"#;

/// Quick backoff, so the tests spend little time waiting.
fn policy(retries: u32) -> RetryPolicy {
    let mut p = RetryPolicy::default();
    p.retries = retries;
    p.base_delay = Duration::from_millis(20);
    p.max_delay = Duration::from_millis(50);
    p
}

fn client(url: &str, retries: u32, timeout: Duration) -> Client {
    Client::builder(APP)
        .secret(SECRET)
        .host(url)
        .timeout(timeout)
        .retry_policy(policy(retries))
        .build()
        .unwrap()
}

async fn server() -> ServerGuard {
    Server::new_async().await
}

/// Only an app JWT (three base64url parts), never the secret itself.
fn jwt_header() -> Matcher {
    Matcher::Regex(r"^Bearer [A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$".into())
}

#[actix_rt::test]
async fn a_429_with_retry_after_is_waited_for_and_retried() {
    let mut s = server().await;
    let limited = s
        .mock("GET", USER_PATH)
        .match_header("authorization", jwt_header())
        .with_status(429)
        .with_header("retry-after", "1")
        .with_body(r#"{"errorCode":"RATE_LIMITED","reasons":["slow down"]}"#)
        .expect(1)
        .create_async()
        .await;
    let ok = s
        .mock("GET", USER_PATH)
        .with_body(ALICE)
        .expect(1)
        .create_async()
        .await;
    let started = Instant::now();
    let alice = client(&s.url(), 3, Duration::from_secs(5))
        .user("alice")
        .get()
        .await
        .unwrap();
    assert_eq!(alice.name.as_deref(), Some("Alice"));
    assert!(
        started.elapsed() >= Duration::from_millis(950),
        "Retry-After honoured: {:?}",
        started.elapsed()
    );
    limited.assert_async().await;
    ok.assert_async().await;
}

#[actix_rt::test]
async fn a_retry_after_beyond_the_bound_ends_the_call_at_once() {
    let mut s = server().await;
    let limited = s
        .mock("GET", USER_PATH)
        .with_status(429)
        .with_header("retry-after", "3600")
        .expect(1)
        .create_async()
        .await;
    let started = Instant::now();
    let e = client(&s.url(), 3, Duration::from_secs(5))
        .user("alice")
        .get()
        .await
        .unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(2));
    assert!(
        matches!(e.kind(), ErrorKind::Server { status: 429, .. }),
        "{e}"
    );
    let failure = e.rest_failure().unwrap();
    assert_eq!(failure.retry_after, Some(Duration::from_secs(3600)));
    assert_eq!(failure.attempts, 1);
    limited.assert_async().await;
}

#[actix_rt::test]
async fn a_503_twice_then_200_succeeds() {
    let mut s = server().await;
    let unavailable = s
        .mock("GET", USER_PATH)
        .with_status(503)
        .expect(2)
        .create_async()
        .await;
    let ok = s
        .mock("GET", USER_PATH)
        .with_body(ALICE)
        .expect(1)
        .create_async()
        .await;
    let alice = client(&s.url(), 3, Duration::from_secs(5))
        .user("alice")
        .get()
        .await
        .unwrap();
    assert_eq!(alice.id, "alice");
    unavailable.assert_async().await;
    ok.assert_async().await;
}

#[actix_rt::test]
async fn a_500_beyond_the_retry_budget_is_a_server_error_with_its_attempts() {
    let mut s = server().await;
    let failing = s
        .mock("PUT", USER_PATH)
        .with_status(500)
        .with_body("upstream exploded")
        .expect(3)
        .create_async()
        .await;
    let e = client(&s.url(), 2, Duration::from_secs(5))
        .user("alice")
        .set(&talkjs::rest::UserParams::new().name("Alice"))
        .await
        .unwrap_err();
    assert!(
        matches!(e.kind(), ErrorKind::Server { status: 500, .. }),
        "{e}"
    );
    assert_eq!((e.status(), e.attempts()), (Some(500), Some(3)));
    assert!(e.to_string().contains("upstream exploded"), "{e}");
    failing.assert_async().await;
}

#[actix_rt::test]
async fn a_post_is_retried_after_a_500_only_when_every_message_has_a_key() {
    let mut s = server().await;
    let path = "/v1/app1/conversations/c1/messages";
    let failing = s
        .mock("POST", path)
        .with_status(500)
        .expect(1)
        .create_async()
        .await;
    let rest = client(&s.url(), 3, Duration::from_secs(5));
    let e = rest
        .conversation("c1")
        .send(SystemMessage::new("once at most"))
        .await
        .unwrap_err();
    assert_eq!(
        e.attempts(),
        Some(1),
        "a system message is not repeated: {e}"
    );
    failing.assert_async().await;

    let keyed = s
        .mock("POST", path)
        .match_body(Matcher::Regex(r#""idempotencyKey":"[^"]+""#.into()))
        .with_status(500)
        .expect(4)
        .create_async()
        .await;
    let e = rest
        .conversation("c1")
        .send(UserMessage::new("alice", "keyed"))
        .await
        .unwrap_err();
    assert_eq!(e.attempts(), Some(4), "a keyed send is retried: {e}");
    keyed.assert_async().await;
}

#[actix_rt::test]
async fn malformed_answers_are_typed_errors() {
    let mut s = server().await;
    s.mock("GET", USER_PATH)
        .with_body("{not json")
        .create_async()
        .await;
    s.mock("GET", "/v1/app1/users/bob")
        .with_body(r#"{"id": 5}"#)
        .create_async()
        .await;
    s.mock("GET", "/v1/app1/users/carol")
        .with_status(502)
        .with_body("<html>bad gateway</html>")
        .create_async()
        .await;
    let rest = client(&s.url(), 0, Duration::from_secs(5));
    for user in ["alice", "bob"] {
        let e = rest.user(user).get().await.unwrap_err();
        assert!(matches!(e.kind(), ErrorKind::Protocol(_)), "{e}");
        assert_eq!(e.status(), Some(200));
    }
    let e = rest.user("carol").get().await.unwrap_err();
    assert!(
        matches!(e.kind(), ErrorKind::Server { status: 502, .. }),
        "{e}"
    );
    assert_eq!(e.error_code(), Some(""));
    assert!(e.to_string().contains("bad gateway"), "{e}");
}

/// A loopback server that accepts connections and answers with `prefix`, then nothing more,
/// for as long as the test runs.
fn stalling_server(prefix: &'static [u8]) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for mut conn in listener.incoming().flatten().take(16) {
            let _ = conn.write_all(prefix);
            held.push(conn);
        }
    });
    url
}

#[actix_rt::test]
async fn a_server_that_never_answers_is_a_timeout_within_the_bound() {
    for prefix in [
        &b""[..],
        b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n{\"id\"",
    ] {
        let url = stalling_server(prefix);
        let timeout = Duration::from_millis(300);
        let started = Instant::now();
        let e = client(&url, 1, timeout)
            .user("alice")
            .get()
            .await
            .unwrap_err();
        let took = started.elapsed();
        assert!(matches!(e.kind(), ErrorKind::Timeout(_)), "{e}");
        assert_eq!(e.attempts(), Some(2), "a GET is retried once: {e}");
        assert!(
            took >= timeout * 2 && took < Duration::from_secs(3),
            "two attempts of 300 ms and a backoff, not {took:?}"
        );
    }
}

#[actix_rt::test]
async fn a_refused_connection_is_unreachable_after_the_retries() {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let rest = client(
        &format!("http://127.0.0.1:{port}"),
        2,
        Duration::from_secs(2),
    );
    let e = rest
        .conversation("c1")
        .send(SystemMessage::new("nothing was sent"))
        .await
        .unwrap_err();
    assert!(matches!(e.kind(), ErrorKind::Unreachable(_)), "{e}");
    assert_eq!(
        e.attempts(),
        Some(3),
        "even a POST is retried when it never left"
    );
}
