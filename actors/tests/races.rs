//! Races in authentication and ordering, each found in review and reproduced against a scripted
//! websocket server that answers exactly as each scenario needs.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use futures_util::StreamExt;
use serde_json::{Value, json};
use talkjs_actors::Timings;
use talkjs_actors::token::{TokenFn, TokenReason, TokenRequest};
use talkjs_actors::{SessionConfig, SessionHandle, TokenSource};
use talkjs_protocol::endpoints::ApiUrls;
use talkjs_protocol::frame::Method;

/// How the scripted server behaves.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Script {
    /// Answers everything with 200.
    Plain,
    /// Answers requests authenticated with `t1` with 401.
    RefuseT1,
    /// On the first request: pushes `session.expired`, then closes the socket.
    ExpireAndClose,
    /// Takes 500 ms to accept a websocket.
    SlowUpgrade,
    /// Answers participant batches per action: `a` gets 429, then 500, then 200; `z` always
    /// gets 500; any other action 200. Logs `actions:<ids>` for each batch.
    ThrottleActions,
    /// Before each answer, sends what a confused or newer server might: text that is not JSON,
    /// JSON that is not a frame, a response to a request never made, a `PUBLISH` whose event
    /// does not decode and one of an unknown type, and a binary frame.
    Garbage,
    /// Upgrades the socket and never answers the renew.
    SilentRenew,
    /// Answers everything except requests to `/never`.
    IgnoreNever,
}

struct Server {
    script: Script,
    /// What the server saw, in order: `renew:<token>` and `<METHOD> <path> as <token>`.
    log: Mutex<Vec<String>>,
    /// Tokens the renew accepts (any when empty).
    accepted: Vec<&'static str>,
    expires_in: Option<i64>,
    expired_sent: Mutex<bool>,
    /// How often each participant action was seen (`ThrottleActions`).
    actions_seen: Mutex<std::collections::HashMap<String, usize>>,
}

async fn socket(
    req: HttpRequest,
    body: web::Payload,
    server: web::Data<Arc<Server>>,
) -> actix_web::Result<HttpResponse> {
    if server.script == Script::SlowUpgrade {
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let (resp, mut session, mut stream) = actix_ws::handle(&req, body)?;
    let st = server.get_ref().clone();
    actix_rt::spawn(async move {
        let mut authed = String::new();
        while let Some(Ok(actix_ws::Message::Text(text))) = stream.next().await {
            let Ok(v) = serde_json::from_str::<Value>(&text) else {
                continue;
            };
            let (Some(seq), Some(method), Some(path)) =
                (v[0].as_u64(), v[1].as_str(), v[2].as_str())
            else {
                continue;
            };
            let reply = |status: u16, data: Value| json!([seq, status, data]).to_string();
            if path == "/ping" {
                let _ = session.text(reply(200, json!({}))).await;
                continue;
            }
            if path == "/session/renew" && st.script == Script::SilentRenew {
                continue;
            }
            if path == "/never" && st.script == Script::IgnoreNever {
                continue;
            }
            if path == "/session/renew" {
                let token = v[3]["token"].as_str().unwrap_or_default().to_owned();
                st.log.lock().unwrap().push(format!("renew:{token}"));
                if st.accepted.is_empty() || st.accepted.contains(&token.as_str()) {
                    authed = token;
                    let _ = session
                        .text(reply(200, json!({"expiresInSeconds": st.expires_in})))
                        .await;
                } else {
                    let _ = session
                        .text(reply(
                            401,
                            json!({"errorCode": "INVALID_TOKEN", "reasons": []}),
                        ))
                        .await;
                }
                continue;
            }
            st.log
                .lock()
                .unwrap()
                .push(format!("{method} {path} as {authed}"));
            match st.script {
                Script::RefuseT1 if authed == "t1" => {
                    let _ = session
                        .text(reply(401, json!({"errorCode": "EXPIRED", "reasons": []})))
                        .await;
                }
                Script::ExpireAndClose
                    if !std::mem::replace(&mut *st.expired_sent.lock().unwrap(), true) =>
                {
                    let _ = session
                        .text(json!([1, "PUBLISH", {"type": "session.expired"}]).to_string())
                        .await;
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    let _ = session.close(None).await;
                    return;
                }
                Script::ThrottleActions if path.ends_with("/participants") => {
                    let ids: Vec<String> = v[3]["actions"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|a| a["id"].as_str().map(str::to_owned))
                        .collect();
                    st.log
                        .lock()
                        .unwrap()
                        .push(format!("actions:{}", ids.join(",")));
                    let responses: Vec<Value> = ids
                        .iter()
                        .map(|id| {
                            let mut seen = st.actions_seen.lock().unwrap();
                            let n = seen.entry(id.clone()).or_default();
                            *n += 1;
                            let status = match (id.as_str(), *n) {
                                ("a", 1) => 429,
                                ("a", 2) | ("z", _) => 500,
                                _ => 200,
                            };
                            json!({"status": status})
                        })
                        .collect();
                    let _ = session
                        .text(reply(200, json!({ "responses": responses })))
                        .await;
                }
                Script::Garbage => {
                    for junk in [
                        "not json".to_owned(),
                        "[]".to_owned(),
                        json!({"seq": seq}).to_string(),
                        json!([424_242, 200, {}]).to_string(),
                        json!([seq, "teapot", {}]).to_string(),
                        json!([1, "PUBLISH", {"type": "message.created", "conversationId": 5}])
                            .to_string(),
                        json!([2, "PUBLISH", {"type": "no.such.event", "x": [1, 2]}]).to_string(),
                    ] {
                        let _ = session.text(junk).await;
                    }
                    let _ = session.binary(vec![0u8, 159, 146, 150]).await;
                    let _ = session.text(reply(200, json!({"ok": path}))).await;
                }
                _ => {
                    let _ = session.text(reply(200, json!({}))).await;
                }
            }
        }
    });
    Ok(resp)
}

fn server(
    script: Script,
    accepted: Vec<&'static str>,
    expires_in: Option<i64>,
) -> (String, Arc<Server>) {
    server_on("127.0.0.1:0", script, accepted, expires_in)
}

fn server_on(
    addr: &str,
    script: Script,
    accepted: Vec<&'static str>,
    expires_in: Option<i64>,
) -> (String, Arc<Server>) {
    let st = Arc::new(Server {
        script,
        log: Mutex::default(),
        accepted,
        expires_in,
        expired_sent: Mutex::default(),
        actions_seen: Mutex::default(),
    });
    let data = web::Data::new(st.clone());
    let srv = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .route(
                "/public_api/v1/{app}/realtime/{user}",
                web::get().to(socket),
            )
            .route(
                "/api/v0/{app}",
                web::get().to(|| async { HttpResponse::Ok().finish() }),
            )
    })
    .workers(1)
    .disable_signals()
    .bind(addr)
    .expect("bind");
    let port = srv.addrs()[0].port();
    actix_rt::spawn(srv.run());
    (format!("127.0.0.1:{port}"), st)
}

type Reasons = Arc<Mutex<Vec<TokenReason>>>;

/// A session whose provider's n-th call waits `delay` ms and returns `token`: `script(n)`.
fn session(
    host: &str,
    reasons: Reasons,
    script: impl Fn(usize) -> (u64, &'static str) + Send + Sync + 'static,
) -> SessionHandle {
    let n = Arc::new(AtomicUsize::new(0));
    let provider = TokenFn::new(move |r: TokenRequest| {
        reasons.lock().unwrap().push(r.reason);
        let (delay, token) = script(n.fetch_add(1, Ordering::SeqCst));
        async move {
            tokio::time::sleep(Duration::from_millis(delay)).await;
            Ok::<_, String>(token.to_owned())
        }
    });
    let config = SessionConfig {
        app_id: "app1".into(),
        user_id: "alice".into(),
        urls: ApiUrls::for_host(host),
        tokens: TokenSource::Provider(Box::new(provider)),
        timings: Timings::default(),
        cache: Default::default(),
    };
    talkjs_actors::get_session(config, true)
        .expect("a session")
        .session
}

/// `POST path {}` through the session's pipeline.
fn post(
    s: &SessionHandle,
    path: &str,
) -> impl std::future::Future<Output = talkjs_actors::Result<Box<serde_json::value::RawValue>>> {
    s.request_at(path, Method::Post, path.into(), &json!({}))
}

/// Bounds a wait: a regression should fail these tests, not hang them.
async fn within<F: std::future::Future>(f: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(10), f)
        .await
        .expect("answered within 10 s")
}

fn errors(s: &SessionHandle) -> Arc<Mutex<Vec<String>>> {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    s.on_error(
        1,
        Box::new(move |e| sink.lock().unwrap().push(e.to_string())),
    );
    seen
}

#[actix_rt::test]
async fn two_requests_refused_with_401_are_resent_in_call_order_after_one_reauthentication() {
    let (host, st) = server(Script::RefuseT1, vec!["t1", "t2"], Some(86_400));
    let s = session(&host, Reasons::default(), |n| {
        (0, if n == 0 { "t1" } else { "t2" })
    });
    let (a, b) = within(futures_util::future::join(post(&s, "/a"), post(&s, "/b"))).await;
    assert!(a.is_ok() && b.is_ok(), "{a:?} {b:?}");
    let log = st.log.lock().unwrap().clone();
    let after: Vec<&String> = log.iter().skip_while(|l| *l != "renew:t2").collect();
    assert_eq!(
        after,
        ["renew:t2", "POST /a as t2", "POST /b as t2"],
        "{log:?}"
    );
    assert_eq!(
        log.iter().filter(|l| l.starts_with("renew:")).count(),
        2,
        "one re-authentication: {log:?}"
    );
}

#[actix_rt::test]
async fn a_socket_lost_while_reauthenticating_asks_for_a_new_token_instead_of_dying() {
    let (host, st) = server(Script::ExpireAndClose, vec!["t1", "t2"], Some(86_400));
    let reasons = Reasons::default();
    // The second token comes slowly, so the socket is gone before it arrives.
    let s = session(&host, reasons.clone(), |n| {
        if n == 0 { (0, "t1") } else { (1000, "t2") }
    });
    let errors = errors(&s);
    let r = tokio::time::timeout(Duration::from_secs(10), post(&s, "/a")).await;
    assert!(matches!(r, Ok(Ok(_))), "{r:?}");
    assert!(
        errors.lock().unwrap().is_empty(),
        "{:?}",
        errors.lock().unwrap()
    );
    assert_eq!(
        st.log.lock().unwrap().last().map(String::as_str),
        Some("POST /a as t2")
    );
    assert!(
        !reasons.lock().unwrap()[1..].contains(&TokenReason::Initial),
        "{:?}",
        reasons.lock().unwrap()
    );
}

#[actix_rt::test]
async fn a_token_set_while_dialling_is_the_one_the_socket_sends() {
    let (host, st) = server(Script::SlowUpgrade, vec!["t2"], Some(86_400));
    let s = session(&host, Reasons::default(), |n| {
        (0, if n == 0 { "t1" } else { "t2" })
    });
    let errors = errors(&s);
    let request = post(&s, "/a");
    let setter = s.clone();
    actix_rt::spawn(async move {
        tokio::time::sleep(Duration::from_millis(200)).await;
        setter.set_token("t2".into());
    });
    let r = tokio::time::timeout(Duration::from_secs(10), request).await;
    assert!(matches!(r, Ok(Ok(_))), "{r:?}");
    assert!(errors.lock().unwrap().is_empty());
    assert_eq!(st.log.lock().unwrap()[..2], ["renew:t2", "POST /a as t2"]);
}

#[actix_rt::test]
async fn two_concurrent_lookups_of_one_user_get_one_session() {
    let (host, _st) = server(Script::Plain, vec![], Some(86_400));
    let config = || SessionConfig {
        app_id: "app1".into(),
        user_id: "bob".into(),
        urls: ApiUrls::for_host(&host),
        tokens: TokenSource::Boken { signature: None },
        timings: Timings::default(),
        cache: Default::default(),
    };
    // From two threads at once, as two tasks of a multi-threaded program would.
    let lookups: Vec<_> = (0..2)
        .map(|_| {
            let config = config();
            std::thread::spawn(move || talkjs_actors::get_session(config, false))
        })
        .collect();
    let mut sessions = lookups
        .into_iter()
        .map(|t| t.join().unwrap().unwrap().session);
    assert_eq!(sessions.next(), sessions.next());
}

#[actix_rt::test]
async fn a_terminated_session_no_longer_asks_for_tokens() {
    let (host, _st) = server(Script::Plain, vec![], Some(2));
    let reasons = Reasons::default();
    let s = session(&host, reasons.clone(), |_| (0, "t"));
    within(post(&s, "/a")).await.unwrap();
    s.terminate("bye".into());
    let before = reasons.lock().unwrap().len();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        reasons.lock().unwrap().len(),
        before,
        "{:?}",
        reasons.lock().unwrap()
    );
}

#[actix_rt::test]
async fn a_token_said_to_expire_in_0_s_does_not_start_a_refresh_loop() {
    let (host, st) = server(Script::Plain, vec![], Some(0));
    let s = session(&host, Reasons::default(), |n| {
        (0, if n % 2 == 0 { "ta" } else { "tb" })
    });
    within(post(&s, "/a")).await.unwrap();
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let renews = st
        .log
        .lock()
        .unwrap()
        .iter()
        .filter(|l| l.starts_with("renew"))
        .count();
    assert!(renews <= 2, "{renews} renews in one second");
}

#[actix_rt::test]
async fn a_token_is_refreshed_before_it_expires_and_the_live_socket_renewed_with_no_gap() {
    // The server says each token lives 6 s: the session asks for the next one after
    // `MIN_REFRESH_DELAY` (5 s), long before the server would refuse the first.
    let (host, st) = server(Script::Plain, vec![], Some(6));
    let reasons = Reasons::default();
    let s = session(&host, reasons.clone(), |n| {
        (0, if n == 0 { "t1" } else { "t2" })
    });
    // Requests every 250 ms keep the socket from closing for idleness meanwhile.
    for _ in 0..26 {
        within(post(&s, "/a")).await.unwrap();
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(
        *reasons.lock().unwrap(),
        [TokenReason::Initial, TokenReason::Expiring]
    );
    let log = st.log.lock().unwrap().clone();
    let renews: Vec<_> = log.iter().filter(|l| l.starts_with("renew")).collect();
    assert_eq!(renews, ["renew:t1", "renew:t2"], "{log:?}");
    let at = log.iter().position(|l| l == "renew:t2").unwrap();
    assert!(log[..at].iter().skip(1).all(|l| l == "POST /a as t1"));
    assert!(log[at + 1..].iter().all(|l| l == "POST /a as t2"));
    assert!(at > 15 && at < log.len() - 2, "renewed mid-stream: {log:?}");
    let status = within(s.status()).await.unwrap();
    assert_eq!(status.connections_started, 1, "on the same socket");
}

#[actix_rt::test]
async fn a_throttled_participant_action_is_retried_alone_and_gives_up_after_ten_500s() {
    use talkjs_actors::batch::{BatchItem, BatchKey};
    use talkjs_protocol::request::{ParticipantAction, ParticipantMethod};
    let (host, st) = server(Script::ThrottleActions, vec![], None);
    let s = session(&host, Reasons::default(), |_| (0, "t"));
    let action = |id: &str| {
        s.batched(
            format!("Set participant {id}"),
            BatchKey::Participants("c".into()),
            BatchItem::Participant(ParticipantAction {
                id: id.into(),
                method: ParticipantMethod::Put,
                params: Default::default(),
            }),
        )
    };
    // Sent in one tick, so they share the first frame.
    let (a, b, z) = (action("a"), action("b"), action("z"));
    let (a, b, z) = within(async { futures_util::join!(a, b, z) }).await;
    assert_eq!(a.unwrap()["status"], 200, "a: 429, 500, then 200");
    assert_eq!(b.unwrap()["status"], 200, "b answered at once");
    assert_eq!(
        z.unwrap()["status"],
        500,
        "z: ten 500s, then the last one is its answer"
    );
    let batches: Vec<String> = st
        .log
        .lock()
        .unwrap()
        .iter()
        .filter_map(|l| l.strip_prefix("actions:").map(str::to_owned))
        .collect();
    // The refused actions go out again together; `b` is never re-sent.
    assert_eq!(batches[0], "a,b,z");
    assert_eq!(batches[1], "a,z");
    assert_eq!(batches[2], "a,z");
    assert!(batches[3..].iter().all(|b| b == "z"), "{batches:?}");
    assert_eq!(batches.len(), 10, "{batches:?}");
}

#[actix_rt::test]
async fn frames_that_do_not_decode_are_skipped_and_the_socket_and_requests_carry_on() {
    let (host, st) = server(Script::Garbage, vec![], Some(86_400));
    let s = session(&host, Reasons::default(), |_| (0, "t1"));
    let errors = errors(&s);
    for path in ["/a", "/b"] {
        let answer = within(post(&s, path)).await.expect("answered");
        assert_eq!(answer.get(), json!({ "ok": path }).to_string());
    }
    // Both went over the first socket: the junk neither dropped it nor ended the session.
    assert_eq!(
        *st.log.lock().unwrap(),
        ["renew:t1", "POST /a as t1", "POST /b as t1"]
    );
    assert!(
        errors.lock().unwrap().is_empty(),
        "{:?}",
        errors.lock().unwrap()
    );
}

/// A session with a fixed-token provider and short connect and request timeouts.
fn impatient_session(host: &str) -> SessionHandle {
    let config = SessionConfig {
        app_id: "app1".into(),
        user_id: "alice".into(),
        urls: ApiUrls::for_host(host),
        tokens: TokenSource::Provider(Box::new(TokenFn::new(|_r: TokenRequest| async {
            Ok::<_, String>("t".to_owned())
        }))),
        timings: Timings {
            connect_timeout: Duration::from_millis(600),
            request_timeout: Duration::from_millis(600),
            ..Timings::default()
        },
        cache: Default::default(),
    };
    talkjs_actors::get_session(config, true)
        .expect("a session")
        .session
}

/// Bounds a failure: it must come within `limit`, well before a hang would be noticed.
async fn fails_within<T: std::fmt::Debug>(
    limit: Duration,
    f: impl std::future::Future<Output = talkjs_actors::Result<T>>,
) -> talkjs_actors::Error {
    tokio::time::timeout(limit, f)
        .await
        .expect("failed in time instead of hanging")
        .expect_err("fails")
}

#[actix_rt::test]
async fn a_closed_port_fails_calls_as_unreachable_and_a_later_call_succeeds_once_the_server_is_up()
{
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let host = format!("127.0.0.1:{port}");
    let s = impatient_session(&host);
    let e = fails_within(Duration::from_secs(5), post(&s, "/a")).await;
    assert!(
        matches!(e.kind(), talkjs_actors::ErrorKind::Unreachable(r) if r.contains("could not connect")),
        "{e}"
    );
    let (_, st) = server_on(&host, Script::Plain, vec![], Some(86_400));
    within(post(&s, "/b")).await.expect("the server is back");
    assert_eq!(
        st.log.lock().unwrap().last().map(String::as_str),
        Some("POST /b as t")
    );
}

#[actix_rt::test]
async fn a_server_that_accepts_tcp_but_never_upgrades_fails_calls_as_unreachable() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let host = listener.local_addr().unwrap().to_string();
    actix_rt::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket); // never answered, never closed
        }
    });
    let s = impatient_session(&host);
    let e = fails_within(Duration::from_secs(5), post(&s, "/a")).await;
    assert!(
        matches!(e.kind(), talkjs_actors::ErrorKind::Unreachable(_)),
        "{e}"
    );
}

#[actix_rt::test]
async fn a_server_that_never_answers_the_renew_fails_calls_as_unreachable() {
    let (host, st) = server(Script::SilentRenew, vec![], None);
    let s = impatient_session(&host);
    let e = fails_within(Duration::from_secs(5), post(&s, "/a")).await;
    assert!(
        matches!(e.kind(), talkjs_actors::ErrorKind::Unreachable(r) if r.contains("did not authenticate")),
        "{e}"
    );
    assert!(
        st.log.lock().unwrap().is_empty(),
        "nothing but the renew was sent"
    );
}

#[actix_rt::test]
async fn a_request_the_server_never_answers_times_out_and_the_next_one_is_answered() {
    let (host, _st) = server(Script::IgnoreNever, vec![], Some(86_400));
    let s = impatient_session(&host);
    let e = fails_within(Duration::from_secs(5), post(&s, "/never")).await;
    assert!(
        matches!(e.kind(), talkjs_actors::ErrorKind::Timeout(_)),
        "{e}"
    );
    within(post(&s, "/a"))
        .await
        .expect("the socket still works");
}
