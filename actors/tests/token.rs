//! Token providers, as a session uses them: a fixed token, an async closure, the application's
//! HTTP token endpoint (mockito, for its faults), a signer holding the secret key (checked
//! against the emulator's verifier) and the actor that shares one fetch among concurrent asks.

use std::io;
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use actix::prelude::*;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use mockito::Matcher;
use talkjs_actors::token::{
    FixedToken, HttpTokenEndpoint, JwtSigner, NeedToken, TokenActor, TokenError, TokenFn,
    TokenProvider, TokenReason, TokenRequest,
};

fn request(user_id: &str, reason: TokenReason) -> TokenRequest {
    TokenRequest {
        app_id: "app1".into(),
        user_id: user_id.into(),
        reason,
    }
}

fn initial(user_id: &str) -> TokenRequest {
    request(user_id, TokenReason::Initial)
}

/// The error's message, for asserting on; panics (failing the test) on success.
fn error_of(result: Result<String, TokenError>) -> String {
    match result {
        Ok(_) => panic!("expected the provider to fail, but it gave a token"),
        Err(TokenError(message)) => message,
    }
}

#[actix_rt::test]
async fn a_fixed_token_is_given_for_the_first_connection_and_never_again() {
    let provider = FixedToken::new("alice-token");
    let copy = provider.clone();
    assert!(!format!("{provider:?}").contains("alice-token"));
    assert_eq!(
        provider.fetch_token(initial("alice")).await.as_deref(),
        Ok("alice-token")
    );
    // Handed out once; a clone made before has its own.
    assert!(provider.fetch_token(initial("alice")).await.is_err());
    assert_eq!(
        copy.fetch_token(initial("alice")).await.as_deref(),
        Ok("alice-token")
    );
    for reason in [
        TokenReason::Initial,
        TokenReason::Expiring,
        TokenReason::Rejected,
        TokenReason::SessionExpired,
    ] {
        let message = error_of(provider.fetch_token(request("alice", reason)).await);
        assert!(
            message.contains("cannot be refreshed"),
            "{reason:?}: {message}"
        );
    }
    assert!(!format!("{provider:?}").contains("alice-token"));
}

#[actix_rt::test]
async fn a_closure_that_fails_ends_in_a_token_error_with_its_message() {
    let provider = TokenFn::new(|request: TokenRequest| async move {
        match request.user_id.as_str() {
            "alice" => Ok("alice-token".to_string()),
            "bob" => Ok(String::new()),
            _ => Err(io::Error::other("the vault is sealed")),
        }
    });
    assert_eq!(
        provider.fetch_token(initial("alice")).await.as_deref(),
        Ok("alice-token")
    );
    assert_eq!(
        error_of(provider.fetch_token(initial("carol")).await),
        "the vault is sealed"
    );
    assert!(error_of(provider.fetch_token(initial("bob")).await).contains("empty token"));
}

#[actix_rt::test]
async fn the_backend_answers_json_and_the_token_is_read_from_it() {
    let mut backend = mockito::Server::new_async().await;
    let mock = backend
        .mock("GET", "/talkjs/token")
        .match_query(Matcher::Any)
        .match_header("accept", "application/json, text/plain")
        .with_header("content-type", "application/json")
        .with_body(r#"{"token":"eyJ.json.token","expiresIn":3600}"#)
        .expect(1)
        .create_async()
        .await;
    let endpoint = HttpTokenEndpoint::new(format!("{}/talkjs/token", backend.url()));

    let token = endpoint.fetch_token(initial("alice")).await;

    assert_eq!(token.as_deref(), Ok("eyJ.json.token"));
    mock.assert_async().await;
}

#[actix_rt::test]
async fn the_backend_answers_plain_text_and_the_token_is_trimmed() {
    let mut backend = mockito::Server::new_async().await;
    let _mock = backend
        .mock("GET", "/token")
        .match_query(Matcher::Any)
        .with_header("content-type", "text/plain")
        .with_body("  eyJ.text.token\n")
        .create_async()
        .await;
    let endpoint = HttpTokenEndpoint::new(format!("{}/token", backend.url()));

    let token = endpoint.fetch_token(initial("alice")).await;

    assert_eq!(token.as_deref(), Ok("eyJ.text.token"));
}

#[actix_rt::test]
async fn a_failing_backend_gives_an_error_with_the_status_but_not_the_body() {
    let mut backend = mockito::Server::new_async().await;
    let _mock = backend
        .mock("GET", "/token")
        .match_query(Matcher::Any)
        .with_status(500)
        .with_body("stack trace mentioning eyJ.leaked")
        .create_async()
        .await;
    let endpoint = HttpTokenEndpoint::new(format!("{}/token", backend.url()));

    let message = error_of(endpoint.fetch_token(initial("alice")).await);

    assert!(message.contains("500"), "{message}");
    assert!(!message.contains("eyJ.leaked"), "{message}");
}

#[actix_rt::test]
async fn an_empty_answer_is_not_a_token() {
    let mut backend = mockito::Server::new_async().await;
    let _mock = backend
        .mock("GET", "/token")
        .match_query(Matcher::Any)
        .with_body("")
        .create_async()
        .await;
    let endpoint = HttpTokenEndpoint::new(format!("{}/token", backend.url()));

    let message = error_of(endpoint.fetch_token(initial("alice")).await);

    assert!(message.contains("200"), "{message}");
    assert!(message.contains("empty body"), "{message}");
}

#[actix_rt::test]
async fn json_without_a_token_field_is_not_a_token() {
    let mut backend = mockito::Server::new_async().await;
    let _mock = backend
        .mock("GET", "/token")
        .match_query(Matcher::Any)
        .with_header("content-type", "application/json")
        .with_body(r#"{"jwt":"eyJ.wrong.field"}"#)
        .create_async()
        .await;
    let endpoint = HttpTokenEndpoint::new(format!("{}/token", backend.url()));

    let message = error_of(endpoint.fetch_token(initial("alice")).await);

    assert!(message.contains("\"token\""), "{message}");
    assert!(!message.contains("eyJ.wrong.field"), "{message}");
}

#[actix_rt::test]
async fn a_backend_that_is_down_gives_a_connection_error() {
    // A port that was just free and now has no listener.
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind a loopback port")
        .port();
    let endpoint = HttpTokenEndpoint::new(format!("http://127.0.0.1:{port}/token"));

    let message = error_of(endpoint.fetch_token(initial("alice")).await);

    assert!(message.contains("could not reach"), "{message}");
}

#[actix_rt::test]
async fn a_backend_that_never_answers_times_out() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    let port = listener.local_addr().expect("a bound address").port();
    let (done, wait) = mpsc::channel::<()>();
    // Accept the connection and hold it open without a word until the test is over.
    let server = thread::spawn(move || {
        let held = listener.accept();
        let _ = wait.recv_timeout(Duration::from_secs(10));
        drop(held);
    });
    let endpoint = HttpTokenEndpoint::new(format!("http://127.0.0.1:{port}/token"))
        .timeout(Duration::from_millis(200));

    let started = Instant::now();
    let message = error_of(endpoint.fetch_token(initial("alice")).await);

    assert!(message.contains("did not answer within 200ms"), "{message}");
    assert!(started.elapsed() < Duration::from_secs(5));
    let _ = done.send(());
    let _ = server.join();
}

#[actix_rt::test]
async fn app_and_user_ids_arrive_percent_encoded_after_the_urls_own_query() {
    let mut backend = mockito::Server::new_async().await;
    let mock = backend
        .mock("GET", "/token")
        .match_query(Matcher::AllOf(vec![
            Matcher::UrlEncoded("tenant".into(), "acme".into()),
            Matcher::UrlEncoded("appId".into(), "app1".into()),
            Matcher::UrlEncoded("userId".into(), "ali&ce=é /?".into()),
        ]))
        .with_body("eyJ.matched")
        .expect(1)
        .create_async()
        .await;
    let endpoint = HttpTokenEndpoint::new(format!("{}/token?tenant=acme", backend.url()));

    let token = endpoint.fetch_token(initial("ali&ce=é /?")).await;

    assert_eq!(token.as_deref(), Ok("eyJ.matched"));
    mock.assert_async().await;
}

#[actix_rt::test]
async fn the_backends_credentials_go_along_with_the_request() {
    let mut backend = mockito::Server::new_async().await;
    let mock = backend
        .mock("GET", "/token")
        .match_query(Matcher::Any)
        .match_header("cookie", "session=abc123")
        .match_header("x-api-key", "backend-key")
        .with_body("eyJ.authorized")
        .expect(1)
        .create_async()
        .await;
    let endpoint = HttpTokenEndpoint::new(format!("{}/token", backend.url()))
        .header("Cookie", "session=abc123")
        .header("X-Api-Key", "backend-key");

    let token = endpoint.fetch_token(initial("alice")).await;

    assert_eq!(token.as_deref(), Ok("eyJ.authorized"));
    mock.assert_async().await;
    assert!(!format!("{endpoint:?}").contains("backend-key"));
}

#[actix_rt::test]
async fn a_signed_token_carries_talkjs_user_claims_for_its_lifetime() {
    let signer = JwtSigner::new("sk_test_secret").lifetime(Duration::from_secs(600));
    let before = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("a clock after 1970")
        .as_secs();

    let token = signer
        .fetch_token(initial("alice"))
        .await
        .expect("the signer signs");

    let decoded = jsonwebtoken::decode::<serde_json::Value>(
        &token,
        &DecodingKey::from_secret(b"sk_test_secret"),
        &Validation::new(Algorithm::HS256),
    )
    .expect("a valid HS256 token for the secret");
    let claims = decoded.claims;
    assert_eq!(claims["tokenType"], "user");
    assert_eq!(claims["iss"], "app1");
    assert_eq!(claims["sub"], "alice");
    let iat = claims["iat"].as_u64().expect("iat in seconds");
    let exp = claims["exp"].as_u64().expect("exp in seconds");
    assert!(
        iat >= before && iat <= before + 5,
        "iat {iat}, now {before}"
    );
    assert_eq!(exp - iat, 600);
    assert!(!format!("{signer:?}").contains("sk_test_secret"));
}

#[actix_rt::test]
async fn the_emulator_accepts_a_signed_token_only_with_its_own_secret() {
    let config = talkjs_emulator::Config {
        app_id: "app1".into(),
        secret: Some("sk_test_secret".into()),
        ..talkjs_emulator::Config::default()
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("a clock after 1970")
        .as_secs() as i64;
    let good = JwtSigner::new("sk_test_secret")
        .fetch_token(initial("alice"))
        .await
        .expect("the signer signs");
    let forged = JwtSigner::new("another_secret")
        .fetch_token(initial("alice"))
        .await
        .expect("the signer signs");

    let accepted = talkjs_emulator::auth::verify_token(&config, "alice", &good, now)
        .expect("the emulator accepts the token");
    assert!(accepted.expires_at.is_some());
    assert!(talkjs_emulator::auth::verify_token(&config, "alice", &forged, now).is_err());
    assert!(talkjs_emulator::auth::verify_token(&config, "bob", &good, now).is_err());
}

#[actix_rt::test]
async fn five_sessions_asking_at_once_share_one_fetch() {
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&calls);
    let provider = TokenFn::new(move |_request: TokenRequest| {
        let calls = Arc::clone(&counted);
        async move {
            let n = calls.fetch_add(1, Ordering::SeqCst) + 1;
            actix_rt::time::sleep(Duration::from_millis(100)).await;
            Ok::<_, TokenError>(format!("token-{n}"))
        }
    });
    let actor = TokenActor::new(provider).start();

    let asks = (0..5).map(|_| actor.send(NeedToken(initial("alice"))));
    let answers = futures_util::future::join_all(asks).await;

    assert_eq!(calls.load(Ordering::SeqCst), 1);
    for answer in answers {
        assert_eq!(answer.expect("the actor answers").as_deref(), Ok("token-1"));
    }
    // Once that fetch is over, the next ask fetches anew rather than reusing an old token.
    let later = actor
        .send(NeedToken(request("alice", TokenReason::Expiring)))
        .await
        .expect("the actor answers");
    assert_eq!(later.as_deref(), Ok("token-2"));
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

#[actix_rt::test]
async fn an_https_endpoint_is_reached_over_tls() {
    // A plain-HTTP server behind an https:// URL: the client must attempt a TLS handshake (and
    // fail it), not refuse https for want of TLS support.
    let server = mockito::Server::new_async().await;
    let url = server.url().replace("http://", "https://");
    let provider = talkjs_actors::token::HttpTokenEndpoint::new(url)
        .timeout(std::time::Duration::from_secs(5));
    let request = talkjs_actors::token::TokenRequest {
        app_id: "app".into(),
        user_id: "alice".into(),
        reason: talkjs_actors::token::TokenReason::Initial,
    };
    let err = talkjs_actors::token::TokenProvider::fetch_token(&provider, request)
        .await
        .expect_err("a plain-HTTP server cannot complete a TLS handshake");
    assert!(!err.0.contains("TLS could not be set up"), "{err}");
    assert!(
        err.0.contains("could not reach the token endpoint"),
        "{err}"
    );
}
