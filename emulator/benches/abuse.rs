//! What one abusive client costs everyone else (issue 17), over real loopback sockets:
//!
//! - `stall`: a second client's ping round trip while one client runs the heaviest requests: a
//!   participant batch of 10,000 actions, and a message search over 20,000 matching messages
//!   with `limit=3`. Reported: the heavy request's time, and the pings' median and worst round
//!   trip while it ran (against the same figures idle).
//! - `memory`: the emulator binary's resident memory while a subscriber stops reading and
//!   another user makes 400 edits of 500 KB to a message it watches.
//!
//! Not a criterion bench: these are latencies under load and a memory figure, printed as a
//! table. Run with `cargo bench -p talkjs-emulator --bench abuse` (release build).

// A bench binary: its helpers need no docs.
#![allow(missing_docs)]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use awc::ws;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use talkjs_emulator::Emulator;

/// Participants added by the one heavy batch request.
const BATCH_ACTIONS: usize = 10_000;
/// Messages the heavy search scans (every one matches).
const SEARCHED_MESSAGES: usize = 20_000;
/// Heavy requests per scenario.
const ROUNDS: usize = 3;
/// Pings timed on an idle emulator, for the baseline.
const IDLE_PINGS: usize = 200;
/// Edits the memory scenario makes while the subscriber does not read.
const EDITS: usize = 400;
/// Size of each edit's text.
const EDIT_BYTES: usize = 500 * 1024;

type Conn = actix_codec::Framed<awc::BoxedSocket, ws::Codec>;

/// A raw client socket: sends frames, skips pushes, answers requests by sequence number.
struct Client {
    conn: Conn,
    seq: u64,
}

impl Client {
    async fn login(host: &str, app: &str, user: &str) -> Client {
        let url =
            format!("ws://{host}/public_api/v1/{app}/realtime/{user}?talkjs-client-build=bench");
        let (_, conn) = awc::Client::new()
            .ws(url)
            .max_frame_size(64 * 1024 * 1024)
            .connect()
            .await
            .expect("websocket connects");
        let mut c = Client { conn, seq: 0 };
        assert_eq!(
            c.request("POST", "/session/renew", json!({"token": "any"}))
                .await,
            200
        );
        c
    }

    async fn send(&mut self, method: &str, path: &str, data: Value) -> u64 {
        let seq = self.seq;
        self.seq += 1;
        let frame = json!([seq, method, path, data, {}]).to_string();
        self.conn
            .send(ws::Message::Text(frame.into()))
            .await
            .expect("sent");
        seq
    }

    async fn status(&mut self, seq: u64) -> u64 {
        loop {
            match self.conn.next().await {
                Some(Ok(ws::Frame::Text(t))) => {
                    let f: Value = serde_json::from_slice(&t).expect("JSON");
                    if f[0] == seq && f[1] != "PUBLISH" {
                        return f[1].as_u64().expect("a status");
                    }
                }
                Some(Ok(_)) => {}
                other => panic!("socket ended: {other:?}"),
            }
        }
    }

    async fn request(&mut self, method: &str, path: &str, data: Value) -> u64 {
        let seq = self.send(method, path, data).await;
        self.status(seq).await
    }

    /// Sends every request first, then waits for every answer: setup at loopback speed.
    async fn pipeline(
        &mut self,
        requests: impl IntoIterator<Item = (&'static str, String, Value)>,
    ) {
        let mut seqs = Vec::new();
        for (method, path, data) in requests {
            seqs.push(self.send(method, &path, data).await);
        }
        for seq in seqs {
            assert_eq!(self.status(seq).await, 200);
        }
    }
}

struct Latency {
    pings: usize,
    median: Duration,
    worst: Duration,
}

fn summarise(mut rtts: Vec<Duration>) -> Latency {
    rtts.sort();
    Latency {
        pings: rtts.len(),
        median: rtts.get(rtts.len() / 2).copied().unwrap_or_default(),
        worst: rtts.last().copied().unwrap_or_default(),
    }
}

/// Pings sequentially until `done` resolves; returns the round trips and `done`'s output.
async fn ping_while<T>(
    pinger: &mut Client,
    done: impl std::future::Future<Output = T>,
) -> (Vec<Duration>, T) {
    let mut rtts = Vec::new();
    let mut done = std::pin::pin!(done);
    loop {
        let start = Instant::now();
        let ping = pinger.request("GET", "/ping", json!({}));
        tokio::select! {
            biased;
            out = &mut done => return (rtts, out),
            status = ping => {
                assert_eq!(status, 200);
                rtts.push(start.elapsed());
            }
        }
    }
}

fn row(what: &str, heavy: Option<Duration>, l: &Latency) {
    let heavy = heavy.map_or("-".to_owned(), |d| {
        format!("{:.1} ms", d.as_secs_f64() * 1e3)
    });
    println!(
        "{what:<48} heavy {heavy:>10}  pings {:>6}  median {:>8.3} ms  worst {:>8.3} ms",
        l.pings,
        l.median.as_secs_f64() * 1e3,
        l.worst.as_secs_f64() * 1e3
    );
}

async fn stall() {
    let emu = Emulator::builder()
        .app_id("bench")
        .start("127.0.0.1:0")
        .await
        .expect("starts");
    let host = emu.host();
    let mut heavy = Client::login(&host, "bench", "heavy").await;
    let mut pinger = Client::login(&host, "bench", "pinger").await;

    let mut idle = Vec::new();
    for _ in 0..IDLE_PINGS {
        let start = Instant::now();
        assert_eq!(pinger.request("GET", "/ping", json!({})).await, 200);
        idle.push(start.elapsed());
    }
    row("idle", None, &summarise(idle));

    // Participant batches: 10,000 users, one conversation per round.
    let users = (0..BATCH_ACTIONS).map(|i| {
        (
            "POST",
            format!("/users/u{i:05}"),
            json!({"name": format!("U {i}")}),
        )
    });
    heavy.pipeline(users).await;
    for round in 0..ROUNDS {
        let conv = format!("/conversations/batch{round}");
        assert_eq!(heavy.request("POST", &conv, json!({})).await, 200);
        let actions: Vec<Value> = (0..BATCH_ACTIONS)
            .map(|i| json!({"id": format!("u{i:05}"), "method": "POST", "params": {}}))
            .collect();
        let start = Instant::now();
        let seq = heavy
            .send(
                "POST",
                &format!("{conv}/participants"),
                json!({"actions": actions}),
            )
            .await;
        let (rtts, status) = ping_while(&mut pinger, heavy.status(seq)).await;
        assert_eq!(status, 200);
        row(
            &format!("participant batch of {BATCH_ACTIONS}"),
            Some(start.elapsed()),
            &summarise(rtts),
        );
    }

    // Search: 20,000 messages that all match, the first page of 3.
    assert_eq!(
        heavy
            .request("PUT", "/conversations/searched", json!({}))
            .await,
        200
    );
    let join = json!({"actions": [{"id": "heavy", "method": "PUT", "params": {}}]});
    heavy
        .request("PUT", "/users/heavy", json!({"name": "Heavy"}))
        .await;
    assert_eq!(
        heavy
            .request("POST", "/conversations/searched/participants", join)
            .await,
        200
    );
    let sends = (0..SEARCHED_MESSAGES).map(|i| {
        let data = json!({"content": [{"type": "text", "children": [format!("rainbow number {i}")]}], "idempotencyKey": format!("K{i:019}")});
        ("POST", "/conversations/searched/messages".to_owned(), data)
    });
    heavy.pipeline(sends).await;
    let http = awc::Client::builder()
        .timeout(Duration::from_secs(120))
        .finish();
    let boken: Value = http
        .get(format!(
            "{}/api/v0/bench/bokens/heavy?signature=",
            emu.url()
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let bearer = format!("Bearer {}", boken["boken"].as_str().unwrap());
    let url = format!(
        "{}/public_api/v1/bench/me/messages/search?searchString=rainbow&limit=3",
        emu.url()
    );
    for _ in 0..ROUNDS {
        let start = Instant::now();
        let search = async {
            let mut r = http
                .get(&url)
                .insert_header(("Authorization", bearer.as_str()))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
            r.body().limit(1 << 20).await.unwrap()
        };
        let (rtts, _) = ping_while(&mut pinger, search).await;
        row(
            &format!("search over {SEARCHED_MESSAGES} messages, limit 3"),
            Some(start.elapsed()),
            &summarise(rtts),
        );
    }
    emu.stop().await;
}

/// Resident and peak resident memory of a process, in MB, from /proc (Linux).
fn rss_mb(pid: u32) -> (f64, f64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<f64>().ok())
            .map_or(f64::NAN, |kb| kb / 1024.0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

async fn memory() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_talkjs-emulator"))
        .args(["--bind", "127.0.0.1:0", "--app-id", "bench"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("the emulator binary starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let host = line.trim().rsplit("//").next().unwrap().to_owned();
    let pid = child.id();
    let mut alice = Client::login(&host, "bench", "alice").await;
    let bob = {
        let mut bob = Client::login(&host, "bench", "bob").await;
        for user in ["alice", "bob"] {
            alice
                .request("PUT", &format!("/users/{user}"), json!({"name": user}))
                .await;
        }
        alice.request("PUT", "/conversations/c", json!({})).await;
        let actions = json!({"actions": [{"id": "alice", "method": "PUT", "params": {}}, {"id": "bob", "method": "PUT", "params": {}}]});
        alice
            .request("POST", "/conversations/c/participants", actions)
            .await;
        assert_eq!(
            bob.request("SUBSCRIBE", "/me/conversations/c/messages", json!({}))
                .await,
            200
        );
        bob
    };
    let seq = alice
        .send("POST", "/conversations/c/messages", json!({"content": [{"type": "text", "children": ["x"]}], "idempotencyKey": "K0000000000000000001"}))
        .await;
    let id = loop {
        match alice.conn.next().await {
            Some(Ok(ws::Frame::Text(t))) => {
                let f: Value = serde_json::from_slice(&t).unwrap();
                if f[0] == seq && f[1] == 200 {
                    break f[2]["id"].as_str().unwrap().to_owned();
                }
            }
            Some(Ok(_)) => {}
            other => panic!("{other:?}"),
        }
    };
    let (before, _) = rss_mb(pid);
    let text = "e".repeat(EDIT_BYTES);
    let start = Instant::now();
    for _ in 0..EDITS {
        let edit = json!({"content": [{"type": "text", "children": [text]}]});
        assert_eq!(
            alice
                .request("PATCH", &format!("/conversations/c/messages/{id}"), edit)
                .await,
            200
        );
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (after, peak) = rss_mb(pid);
    println!(
        "non-reading subscriber, {EDITS} edits of {} KB in {:.1} s: emulator RSS {before:.1} MB before, {after:.1} MB after, peak {peak:.1} MB",
        EDIT_BYTES / 1024,
        start.elapsed().as_secs_f64()
    );
    drop(bob);
    let _ = child.kill();
    let _ = child.wait();
}

fn main() {
    // `cargo bench` passes `--bench`; a filter argument picks one scenario.
    let only: Option<String> = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let run = |name: &str| only.as_deref().is_none_or(|o| name.contains(o));
    actix_rt::System::new().block_on(async {
        if run("stall") {
            stall().await;
        }
        if run("memory") {
            memory().await;
        }
    });
}
