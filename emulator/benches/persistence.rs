//! The cost of `--data`: sends per second with the SQLite store beside the in-memory one, in one
//! run so that both see the same machine.
//!
//! - `core`: `World::send_message` alone, the store's cost undiluted (each send writes the
//!   idempotency key, the sender's read state and the message, three SQLite transactions).
//! - `rest`: one message per `POST /v1/{app}/conversations/{c}/messages` over loopback HTTP, one
//!   after the other: what a backend sees.
//!
//! Sends per second = 1 / time per iteration. Run with
//! `cargo bench -p talkjs-emulator --bench persistence`.
//!
//! Measured 2026-12-06 on the 2-core CI machine (noisy, other builds running), one run:
//! core memory 13.3 µs, SQLite 233 µs per send (the store's three commits); over REST memory
//! 464 µs, SQLite 658 µs per send: 1.42x, within the 2x budget for `--data`.

// criterion_group! generates an undocumented public function.
#![allow(missing_docs)]

use std::path::PathBuf;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::json;
use talkjs_emulator::store::{MemoryStore, SqliteStore, Store};
use talkjs_emulator::world::World;
use talkjs_emulator::{Config, Emulator};
use talkjs_protocol::content::{SendContentBlock, TextBlock, TextNode};
use talkjs_protocol::request::{IdempotencyKey, SendMessageRequest};

fn data_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("talkjs-bench-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// A world over `store` where alice and bob share conversation c1.
fn world(store: Box<dyn Store>) -> World {
    let mut w = World::new(Config::default(), store);
    let seed: talkjs_emulator::state_file::StateFile = serde_json::from_value(json!({
        "users": [{"id": "alice", "name": "Alice"}, {"id": "bob", "name": "Bob"}],
        "conversations": [{"id": "c1", "participants": {"alice": {}, "bob": {}}}]
    }))
    .expect("seed");
    w.import_state(&seed).expect("import");
    w
}

fn message(i: u64) -> SendMessageRequest {
    SendMessageRequest {
        content: vec![SendContentBlock::Text(TextBlock {
            children: vec![TextNode::text(format!("message {i}"))],
        })],
        referenced_message_id: None,
        custom: None,
        idempotency_key: IdempotencyKey(format!("key-{i}")),
    }
}

fn core(c: &mut Criterion) {
    let mut g = c.benchmark_group("persistence/core");
    let mut memory = world(Box::new(MemoryStore::new()));
    let dir = data_dir("core");
    let mut sqlite = world(Box::new(SqliteStore::open(&dir).expect("open")));
    let mut i = 0;
    g.bench_function("memory", |b| {
        b.iter(|| {
            i += 1;
            memory
                .send_message("c1", "alice", message(i))
                .expect("sent")
        })
    });
    g.bench_function("sqlite", |b| {
        b.iter(|| {
            i += 1;
            sqlite
                .send_message("c1", "alice", message(i))
                .expect("sent")
        })
    });
    g.finish();
    let _ = std::fs::remove_dir_all(&dir);
}

/// Sends `n` messages one after the other over REST and returns the time taken.
async fn rest_sends(url: &str, first: u64, n: u64) -> Duration {
    let client = awc::Client::new();
    let started = Instant::now();
    for i in first..first + n {
        let resp = client
            .post(format!("{url}/v1/demo/conversations/c1/messages"))
            .insert_header(("Authorization", "Bearer bench"))
            .send_json(
                &json!([{"type": "UserMessage", "sender": "alice", "text": format!("m{i}")}]),
            )
            .await
            .expect("answered");
        assert_eq!(resp.status().as_u16(), 200);
    }
    started.elapsed()
}

fn rest(c: &mut Criterion) {
    let system = actix_rt::System::new();
    let dir = data_dir("rest");
    let seed: talkjs_emulator::state_file::StateFile = serde_json::from_value(json!({
        "users": [{"id": "alice", "name": "Alice"}, {"id": "bob", "name": "Bob"}],
        "conversations": [{"id": "c1", "participants": {"alice": {}, "bob": {}}}]
    }))
    .expect("seed");
    let (memory, sqlite) = system.block_on(async {
        let memory = Emulator::builder()
            .seed(seed.clone())
            .start("127.0.0.1:0")
            .await
            .unwrap();
        let sqlite = Emulator::builder()
            .seed(seed)
            .data_dir(&dir)
            .start("127.0.0.1:0")
            .await
            .unwrap();
        (memory, sqlite)
    });
    let mut g = c.benchmark_group("persistence/rest");
    let mut i = 0;
    for (name, emu) in [("memory", &memory), ("sqlite", &sqlite)] {
        let url = emu.url();
        g.bench_function(name, |b| {
            b.iter_custom(|n| {
                i += n;
                system.block_on(rest_sends(&url, i, n))
            })
        });
    }
    g.finish();
    system.block_on(async {
        memory.stop().await;
        sqlite.stop().await;
    });
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(benches, core, rest);
criterion_main!(benches);
