//! Dialling against servers on loopback that answer the upgrade well, badly or not at all.

use std::time::{Duration, Instant};

use awc::ws;
use bytes::BytesMut;
use futures_util::StreamExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::{DialError, MAX_HEAD_BYTES, Target, dial};

const FRAME: usize = 1 << 20;
const LONG: Duration = Duration::from_secs(10);

/// A server that accepts one connection, reads the request's head and hands both to `answer`;
/// returns its `ws://` URL (with `path`) and the request it read.
async fn server<F, Fut>(path: &str, answer: F) -> (String, tokio::task::JoinHandle<String>)
where
    F: FnOnce(TcpStream, String) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("binds");
    let url = format!("ws://{}{path}", listener.local_addr().expect("addr"));
    let task = tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.expect("accepts");
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            if socket.read(&mut byte).await.expect("reads") == 0 {
                break;
            }
            head.push(byte[0]);
        }
        let request = String::from_utf8(head).expect("utf-8");
        answer(socket, request.clone()).await;
        request
    });
    (url, task)
}

/// A server that answers the request's head with `answer(request)` and keeps the socket open;
/// returns its `ws://` URL.
async fn answering<F>(answer: F) -> String
where
    F: FnOnce(&str) -> String + Send + 'static,
{
    let (url, _server) = server("/", move |mut socket, request| async move {
        socket
            .write_all(answer(&request).as_bytes())
            .await
            .expect("writes");
        tokio::time::sleep(LONG).await;
    })
    .await;
    url
}

/// The accept key for the request's `Sec-WebSocket-Key`.
fn accept_for(request: &str) -> String {
    let key = request
        .lines()
        .find_map(|l| l.strip_prefix("Sec-WebSocket-Key: "))
        .expect("a key");
    String::from_utf8(actix_http::ws::hash_key(key.trim().as_bytes()).to_vec()).expect("ascii")
}

fn upgrade(accept: &str) -> String {
    format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {accept}\r\n\r\n"
    )
}

fn refused(result: Result<impl Sized, DialError>) -> String {
    match result {
        Err(DialError::Refused(why)) => why,
        Err(other) => panic!("expected a refusal, got {other}"),
        Ok(_) => panic!("expected a refusal, got a socket"),
    }
}

#[actix_rt::test]
async fn upgrades_and_keeps_the_frames_that_came_with_the_answer() {
    let (url, server) = server(
        "/v1/app/realtime?token=t&x=1",
        |mut socket, request| async move {
            // The answer and the first frame in one write.
            let mut wire = upgrade(&accept_for(&request)).into_bytes();
            let mut frame = BytesMut::new();
            let mut codec = ws::Codec::new();
            actix_codec::Encoder::encode(&mut codec, ws::Message::Text("hello".into()), &mut frame)
                .expect("encodes");
            wire.extend_from_slice(&frame);
            socket.write_all(&wire).await.expect("writes");
            tokio::time::sleep(LONG).await;
        },
    )
    .await;
    let mut framed = dial(&url, FRAME, LONG).await.expect("dials");
    let first = framed.next().await.expect("a frame").expect("decodes");
    assert!(
        matches!(first, ws::Frame::Text(ref b) if &b[..] == b"hello"),
        "{first:?}"
    );
    server.abort();
}

#[actix_rt::test]
async fn sends_an_rfc_6455_upgrade_request() {
    let (url, server) = server("/path?q=1", |mut socket, request| async move {
        let answer = upgrade(&accept_for(&request));
        socket.write_all(answer.as_bytes()).await.expect("writes");
    })
    .await;
    let authority = url
        .trim_start_matches("ws://")
        .split('/')
        .next()
        .expect("authority")
        .to_owned();
    dial(&url, FRAME, LONG).await.expect("dials");
    let request = server.await.expect("the server ran");
    let mut lines = request.lines();
    assert_eq!(lines.next(), Some("GET /path?q=1 HTTP/1.1"));
    let headers: Vec<&str> = lines.filter(|l| !l.is_empty()).collect();
    for expected in [
        format!("Host: {authority}"),
        "Upgrade: websocket".into(),
        "Connection: Upgrade".into(),
        "Sec-WebSocket-Version: 13".into(),
    ] {
        assert!(
            headers.contains(&expected.as_str()),
            "{expected} in {headers:?}"
        );
    }
    let key = headers
        .iter()
        .find_map(|l| l.strip_prefix("Sec-WebSocket-Key: "))
        .expect("a key");
    let decoded =
        base64::Engine::decode(&base64::engine::general_purpose::STANDARD, key).expect("base64");
    assert_eq!(decoded.len(), 16, "16 random bytes");
}

#[actix_rt::test]
async fn connection_upgrade_may_come_on_a_later_line() {
    let url = answering(|request| {
        format!(
            "HTTP/1.1 101 Switching Protocols\r\nConnection: keep-alive\r\nUpgrade: websocket\r\n\
             Connection: Upgrade\r\nSec-WebSocket-Accept: {}\r\n\r\n",
            accept_for(request)
        )
    })
    .await;
    dial(&url, FRAME, LONG).await.expect("dials");
}

#[actix_rt::test]
async fn a_refusal_names_the_status() {
    let url =
        answering(|_| "HTTP/1.1 403 Forbidden\r\nContent-Length: 9\r\n\r\nforbidden".into()).await;
    let why = refused(dial(&url, FRAME, LONG).await);
    assert!(why.contains("HTTP 403 Forbidden"), "{why}");
}

#[actix_rt::test]
async fn a_wrong_accept_key_is_refused() {
    let url = answering(|_| upgrade("dGhlIHNhbXBsZSBub25jZQ==")).await;
    let why = refused(dial(&url, FRAME, LONG).await);
    assert!(why.contains("Sec-WebSocket-Accept"), "{why}");
}

#[actix_rt::test]
async fn a_101_that_is_not_a_websocket_is_refused() {
    let url = answering(|request| {
        format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Accept: {}\r\n\r\n",
            accept_for(request)
        )
    })
    .await;
    let why = refused(dial(&url, FRAME, LONG).await);
    assert!(why.contains("Upgrade: websocket"), "{why}");
}

#[actix_rt::test]
async fn an_endless_head_is_refused_after_a_bounded_read() {
    let (url, _server) = server("/", |mut socket, _| async move {
        let _ = socket
            .write_all(b"HTTP/1.1 101 Switching Protocols\r\n")
            .await;
        // Headers forever (until the client hangs up).
        let line = b"X-Padding: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n";
        for _ in 0..100_000 {
            if socket.write_all(line).await.is_err() {
                return;
            }
        }
    })
    .await;
    let why = refused(dial(&url, FRAME, LONG).await);
    assert!(
        why.contains(&format!("longer than {MAX_HEAD_BYTES} bytes"))
            || why.contains("not an HTTP answer"),
        "{why}"
    );
}

#[actix_rt::test]
async fn garbage_is_not_an_http_answer() {
    let url = answering(|_| "SSH-2.0-OpenSSH_9.6\r\n\r\n".into()).await;
    let why = refused(dial(&url, FRAME, LONG).await);
    assert!(why.contains("not an HTTP answer"), "{why}");
}

#[actix_rt::test]
async fn a_silent_server_times_out() {
    let (url, _server) = server("/", |socket, _| async move {
        tokio::time::sleep(LONG).await;
        drop(socket);
    })
    .await;
    let started = Instant::now();
    let result = dial(&url, FRAME, Duration::from_millis(300)).await;
    assert!(
        matches!(result, Err(DialError::Timeout(_))),
        "{:?}",
        result.err()
    );
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[actix_rt::test]
async fn a_server_hanging_up_before_answering_is_an_io_error() {
    let (url, _server) = server("/", |socket, _| async move { drop(socket) }).await;
    let result = dial(&url, FRAME, LONG).await;
    match result {
        Err(DialError::Io(e)) => assert_eq!(e.kind(), std::io::ErrorKind::UnexpectedEof, "{e}"),
        other => panic!("expected an I/O error, got {:?}", other.err()),
    }
}

#[actix_rt::test]
async fn nothing_listening_is_a_tcp_error() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("binds");
    let addr = listener.local_addr().expect("addr");
    drop(listener);
    let result = dial(&format!("ws://{addr}/"), FRAME, LONG).await;
    match result {
        Err(e @ DialError::Tcp { .. }) => {
            assert!(e.to_string().starts_with(&addr.to_string()), "{e}")
        }
        other => panic!("expected a TCP error, got {:?}", other.err()),
    }
}

#[actix_rt::test]
async fn wss_to_a_plain_server_fails_in_tls() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("binds");
    let url = format!("wss://{}/", listener.local_addr().expect("addr"));
    let _server = tokio::spawn(async move {
        // Plain HTTP in answer to the TLS hello.
        let (mut socket, _) = listener.accept().await.expect("accepts");
        let _ = socket.write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n").await;
        tokio::time::sleep(LONG).await;
    });
    let result = dial(&url, FRAME, LONG).await;
    assert!(
        matches!(result, Err(DialError::Tls { .. })),
        "{:?}",
        result.err()
    );
}

#[test]
fn urls_parse_into_targets() {
    let t = Target::parse("ws://[::1]:9/p?q=1").expect("parses");
    assert_eq!(
        t,
        Target {
            tls: false,
            host: "::1".into(),
            port: 9,
            authority: "[::1]:9".into(),
            path: "/p?q=1".into(),
        }
    );
    let t = Target::parse("wss://realtime.example.com").expect("parses");
    assert_eq!((t.tls, t.port, t.path.as_str()), (true, 443, "/"));
    assert_eq!(Target::parse("WS://h").expect("parses").port, 80);
    assert_eq!(Target::parse("ws://h?x=1").expect("parses").path, "/?x=1");
    for bad in [
        "http://h/",
        "ws://",
        "not a url",
        "",
        "wss:///path",
        "ws://user:pw@h/",
    ] {
        assert!(
            matches!(Target::parse(bad), Err(DialError::Url(_))),
            "{bad}"
        );
    }
}
