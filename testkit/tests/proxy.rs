//! FaultProxy against small TCP servers: forwarding, half-closes, and every fault.

use std::io::ErrorKind;
use std::net::SocketAddr;
use std::time::Duration;

use talkjs_testkit::{FaultProxy, XorShift64};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::time::timeout;

/// Generous: everything is on loopback, so hitting this means the proxy is broken.
const WAIT: Duration = Duration::from_secs(5);

/// An upstream that echoes each connection's bytes back uppercased, and closes its side after
/// the client's EOF. Reports each accepted connection's reads on `events`.
async fn echo_upper() -> (SocketAddr, mpsc::UnboundedReceiver<Upstream>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (events, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            let (mut s, _) = listener.accept().await.unwrap();
            let events = events.clone();
            tokio::spawn(async move {
                let _ = events.send(Upstream::Accepted);
                let mut buf = vec![0u8; 4096];
                loop {
                    match s.read(&mut buf).await {
                        Ok(0) => {
                            let _ = events.send(Upstream::Eof);
                            let _ = s.shutdown().await;
                            return;
                        }
                        Ok(n) => {
                            let _ = events.send(Upstream::Read(n));
                            if s.write_all(&buf[..n].to_ascii_uppercase()).await.is_err() {
                                let _ = events.send(Upstream::Error);
                                return;
                            }
                        }
                        Err(_) => {
                            let _ = events.send(Upstream::Error);
                            return;
                        }
                    }
                }
            });
        }
    });
    (addr, rx)
}

/// What the upstream saw on one of its connections.
#[derive(Debug, PartialEq)]
enum Upstream {
    Accepted,
    Read(usize),
    Eof,
    Error,
}

/// An upstream that sends `len` bytes (`i % 251`) on every connection, then waits for EOF.
async fn sender(len: usize) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (mut s, _) = listener.accept().await.unwrap();
            tokio::spawn(async move {
                let data: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
                let _ = s.write_all(&data).await;
                let mut sink = [0u8; 64];
                while let Ok(n) = s.read(&mut sink).await {
                    if n == 0 {
                        break;
                    }
                }
            });
        }
    });
    addr
}

/// Sends `text` and reads back its uppercase echo.
async fn round_trip(stream: &mut TcpStream, text: &str) {
    stream.write_all(text.as_bytes()).await.unwrap();
    let mut back = vec![0u8; text.len()];
    timeout(WAIT, stream.read_exact(&mut back))
        .await
        .expect("echo in time")
        .expect("echo");
    assert_eq!(back, text.to_ascii_uppercase().as_bytes());
}

/// Whether the connection is dead: the next read gives EOF or a reset (not data, not a hang).
async fn is_dead(stream: &mut TcpStream) -> bool {
    let mut buf = [0u8; 64];
    match timeout(WAIT, stream.read(&mut buf)).await {
        Ok(Ok(0)) => true,
        Ok(Err(e)) => matches!(
            e.kind(),
            ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted | ErrorKind::BrokenPipe
        ),
        Ok(Ok(_)) => false,
        Err(_) => false,
    }
}

/// Waits for the next upstream event that is not a read.
async fn next_non_read(events: &mut mpsc::UnboundedReceiver<Upstream>) -> Upstream {
    loop {
        match timeout(WAIT, events.recv()).await.expect("upstream event") {
            Some(Upstream::Read(_)) => {}
            Some(other) => return other,
            None => panic!("upstream gone"),
        }
    }
}

#[tokio::test]
async fn forwards_both_directions_and_half_closes() {
    let (upstream, mut events) = echo_upper().await;
    let proxy = FaultProxy::start(upstream).unwrap();
    assert_eq!(proxy.host(), format!("127.0.0.1:{}", proxy.addr().port()));
    assert_eq!(proxy.upstream(), upstream);

    let mut client = TcpStream::connect(proxy.addr()).await.unwrap();
    // A payload bigger than the proxy's buffers and the socket buffers, written while read.
    let mut rng = XorShift64::new(5);
    let payload: Vec<u8> = (0..1_000_000)
        .map(|_| b"abcdefghijklmnopqrstuvwxyz0123456789"[rng.below(36) as usize])
        .collect();
    let (mut read, mut write) = client.split();
    let expected = payload.to_ascii_uppercase();
    let writer = async {
        write.write_all(&payload).await.unwrap();
        // Half-close: the upstream must see EOF, answer the rest, and close its side.
        write.shutdown().await.unwrap();
    };
    let reader = async {
        let mut got = Vec::new();
        timeout(WAIT, read.read_to_end(&mut got))
            .await
            .expect("all bytes and EOF in time")
            .unwrap();
        got
    };
    let ((), got) = tokio::join!(writer, reader);
    assert_eq!(got.len(), expected.len());
    assert!(got == expected, "the bytes came back changed");

    assert_eq!(events.recv().await, Some(Upstream::Accepted));
    assert_eq!(next_non_read(&mut events).await, Upstream::Eof);
    assert_eq!(proxy.connections_accepted(), 1);
    assert_eq!(proxy.bytes_from_client(), 1_000_000);
    assert_eq!(proxy.bytes_from_server(), 1_000_000);
    assert_eq!(proxy.cuts(), 0);
    // The closed connection leaves the live set.
    for _ in 0..100 {
        if proxy.live_connections() == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(proxy.live_connections(), 0);
}

#[tokio::test]
async fn cut_all_resets_both_sides_of_every_live_connection() {
    let (upstream, mut events) = echo_upper().await;
    let proxy = FaultProxy::start(upstream).unwrap();
    let mut a = TcpStream::connect(proxy.addr()).await.unwrap();
    let mut b = TcpStream::connect(proxy.addr()).await.unwrap();
    round_trip(&mut a, "hello a").await;
    round_trip(&mut b, "hello b").await;
    assert_eq!(proxy.live_connections(), 2);

    assert_eq!(proxy.cut_all(), 2);
    assert_eq!(proxy.cuts(), 2);
    assert_eq!(proxy.live_connections(), 0);
    assert!(
        is_dead(&mut a).await,
        "client a still connected after cut_all"
    );
    assert!(
        is_dead(&mut b).await,
        "client b still connected after cut_all"
    );
    // The upstream side was dropped too (it sees EOF or a reset, in any order across the two).
    let mut ends = Vec::new();
    while ends.len() < 2 {
        match next_non_read(&mut events).await {
            Upstream::Accepted => {}
            end => ends.push(end),
        }
    }
    assert!(
        ends.iter()
            .all(|e| matches!(e, Upstream::Eof | Upstream::Error))
    );

    // Nothing live: a cut is a no-op. New connections work again.
    assert_eq!(proxy.cut_all(), 0);
    let mut c = TcpStream::connect(proxy.addr()).await.unwrap();
    round_trip(&mut c, "after the cut").await;
    assert_eq!(proxy.connections_accepted(), 3);
    assert_eq!(proxy.cuts(), 2);
}

#[tokio::test]
async fn wait_accepted_then_cut_always_reaches_the_new_connection() {
    let (upstream, _events) = echo_upper().await;
    let proxy = FaultProxy::start(upstream).unwrap();
    for round in 1..=20u64 {
        let mut client = TcpStream::connect(proxy.addr()).await.unwrap();
        timeout(WAIT, proxy.wait_accepted(round))
            .await
            .expect("accepted");
        // Cut before any byte flows (possibly while the proxy is still dialing the upstream).
        assert_eq!(proxy.cut_all(), 1, "round {round}");
        assert!(is_dead(&mut client).await, "round {round}");
    }
    assert_eq!(proxy.cuts(), 20);
}

#[tokio::test]
async fn refusing_resets_new_connections_and_leaves_live_ones() {
    let (upstream, mut events) = echo_upper().await;
    let proxy = FaultProxy::start(upstream).unwrap();
    let mut live = TcpStream::connect(proxy.addr()).await.unwrap();
    round_trip(&mut live, "before").await;

    proxy.set_refusing(true);
    assert!(proxy.is_refusing());
    for _ in 0..3 {
        // The kernel completes the handshake, so the connect usually succeeds and the
        // connection dies at once; if the reset is quick enough, the connect itself fails.
        if let Ok(mut refused) = TcpStream::connect(proxy.addr()).await {
            let _ = refused.write_all(b"anyone?").await;
            assert!(
                is_dead(&mut refused).await,
                "a refused connection stayed up"
            );
        }
    }
    assert_eq!(proxy.connections_refused(), 3);
    assert_eq!(proxy.connections_accepted(), 1);
    // The live connection is untouched, and the upstream never saw the refused ones.
    round_trip(&mut live, "during").await;
    assert_eq!(events.recv().await, Some(Upstream::Accepted));
    while let Ok(event) = events.try_recv() {
        assert!(matches!(event, Upstream::Read(_)), "unexpected {event:?}");
    }

    proxy.set_refusing(false);
    let mut after = TcpStream::connect(proxy.addr()).await.unwrap();
    round_trip(&mut after, "after").await;
    assert_eq!(proxy.connections_accepted(), 2);
    assert_eq!(proxy.cuts(), 0);
}

#[tokio::test]
async fn an_unreachable_upstream_resets_the_client() {
    // A port that was free a moment ago: nothing listens there. It stays bound until the proxy
    // has its own port, so the proxy cannot be given this one and forward to itself.
    let held = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = held.local_addr().unwrap();
    let proxy = FaultProxy::start(dead).unwrap();
    drop(held);
    // The reset can come so fast that the connect itself reports it.
    match TcpStream::connect(proxy.addr()).await {
        Ok(mut client) => assert!(is_dead(&mut client).await),
        Err(e) => assert_eq!(e.kind(), ErrorKind::ConnectionReset, "{e}"),
    }
}

#[tokio::test]
async fn chaos_cuts_repeatedly_until_stopped() {
    let (upstream, _events) = echo_upper().await;
    let proxy = FaultProxy::start(upstream).unwrap();
    proxy.chaos(42, Duration::from_millis(20));
    // A client that reconnects whenever its connection dies, like the runtime does.
    let mut deaths = 0;
    let started = tokio::time::Instant::now();
    while deaths < 8 {
        assert!(
            started.elapsed() < WAIT,
            "only {deaths} cuts in {WAIT:?} of chaos"
        );
        let mut client = TcpStream::connect(proxy.addr()).await.unwrap();
        // Nothing is sent, so the read can only end by a cut.
        assert!(
            is_dead(&mut client).await,
            "chaos did not cut within {WAIT:?}"
        );
        deaths += 1;
    }
    assert!(proxy.cuts() >= 8, "cuts {}", proxy.cuts());
    assert!(proxy.chaos_rounds() >= proxy.cuts().min(8));

    proxy.stop_chaos();
    let rounds = proxy.chaos_rounds();
    let mut calm = TcpStream::connect(proxy.addr()).await.unwrap();
    for i in 0..10 {
        // 300 ms in all: with a 20 ms mean, a running schedule would have cut this.
        tokio::time::sleep(Duration::from_millis(30)).await;
        round_trip(&mut calm, &format!("still up {i}")).await;
    }
    assert_eq!(proxy.chaos_rounds(), rounds);
}

/// A chaos schedule is a pure function of its seed: the same seed cuts at the same gaps.
#[test]
fn chaos_schedule_is_reproducible() {
    let gaps = |seed| {
        let mut rng = XorShift64::new(seed);
        (0..10)
            .map(|_| rng.exponential(Duration::from_millis(100)))
            .collect::<Vec<_>>()
    };
    assert_eq!(gaps(1), gaps(1));
    assert_ne!(gaps(1), gaps(2));
}

#[tokio::test]
async fn cut_after_server_bytes_cuts_the_next_connection_mid_stream() {
    let upstream = sender(100_000).await;
    let proxy = FaultProxy::start(upstream).unwrap();
    proxy.cut_after_server_bytes(1_000);

    let mut cut = TcpStream::connect(proxy.addr()).await.unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        match timeout(WAIT, cut.read(&mut buf)).await.expect("no hang") {
            Ok(0) | Err(_) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
    // Exactly the first 1,000 bytes, then the connection died.
    assert_eq!(got.len(), 1_000);
    assert!(got.iter().enumerate().all(|(i, &b)| b == (i % 251) as u8));
    assert_eq!(proxy.cuts(), 1);

    // One-shot: the next connection gets everything.
    let mut whole = TcpStream::connect(proxy.addr()).await.unwrap();
    let mut all = vec![0u8; 100_000];
    timeout(WAIT, whole.read_exact(&mut all))
        .await
        .expect("in time")
        .expect("the whole stream");
    assert_eq!(proxy.cuts(), 1);
}

#[tokio::test]
async fn stalled_holds_bytes_until_resumed() {
    let (upstream, mut events) = echo_upper().await;
    let proxy = FaultProxy::start(upstream).unwrap();
    let mut client = TcpStream::connect(proxy.addr()).await.unwrap();
    round_trip(&mut client, "warm").await;
    assert_eq!(events.recv().await, Some(Upstream::Accepted));
    assert_eq!(events.recv().await, Some(Upstream::Read(4)));

    proxy.set_stalled(true);
    client.write_all(b"held").await.unwrap();
    let mut buf = [0u8; 4];
    assert!(
        timeout(Duration::from_millis(200), client.read(&mut buf))
            .await
            .is_err(),
        "bytes passed while stalled"
    );
    assert!(
        events.try_recv().is_err(),
        "the upstream got bytes while stalled"
    );

    proxy.set_stalled(false);
    timeout(WAIT, client.read_exact(&mut buf))
        .await
        .expect("released in time")
        .unwrap();
    assert_eq!(&buf, b"HELD");
}

#[tokio::test]
async fn cut_works_while_stalled() {
    let (upstream, _events) = echo_upper().await;
    let proxy = FaultProxy::start(upstream).unwrap();
    let mut client = TcpStream::connect(proxy.addr()).await.unwrap();
    round_trip(&mut client, "warm").await;
    proxy.set_stalled(true);
    client.write_all(b"held").await.unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(proxy.cut_all(), 1);
    assert!(is_dead(&mut client).await);
}

#[tokio::test]
async fn dropping_the_proxy_closes_connections_and_the_port() {
    let (upstream, _events) = echo_upper().await;
    let proxy = FaultProxy::start(upstream).unwrap();
    proxy.chaos(1, Duration::from_secs(60));
    let addr = proxy.addr();
    let mut client = TcpStream::connect(addr).await.unwrap();
    round_trip(&mut client, "bye").await;
    drop(proxy);
    assert!(is_dead(&mut client).await);
    assert!(TcpStream::connect(addr).await.is_err(), "still listening");
}

/// Works from a plain thread with no runtime of its own (e.g. a sync test or an actix system).
#[test]
fn works_without_a_caller_runtime() {
    let upstream = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let proxy = FaultProxy::start(upstream.local_addr().unwrap()).unwrap();
    let server = std::thread::spawn(move || {
        use std::io::{Read, Write};
        let (mut s, _) = upstream.accept().unwrap();
        let mut buf = [0u8; 5];
        s.read_exact(&mut buf).unwrap();
        s.write_all(&buf).unwrap();
    });
    use std::io::{Read, Write};
    let mut client = std::net::TcpStream::connect(proxy.addr()).unwrap();
    client.set_read_timeout(Some(WAIT)).unwrap();
    client.write_all(b"hello").unwrap();
    let mut buf = [0u8; 5];
    client.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"hello");
    server.join().unwrap();
    assert_eq!(proxy.cut_all(), 1);
    let mut rest = [0u8; 1];
    assert!(matches!(client.read(&mut rest), Ok(0) | Err(_)));
}
