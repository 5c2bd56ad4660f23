//! Fan-out: one message delivered to 1,000 subscribed connections.
//!
//! - `core`: the emulator's state alone. One `send_message` serialises the event once and queues it
//!   for 1,000 sockets; each socket then builds its own frame (its PUBLISH id spliced in), which is
//!   the work a socket task does before writing.
//! - `websocket`: the same over real loopback websockets: 1,000 connected, authenticated and
//!   subscribed clients in this process, timed from the send until every client has the frame.
//!
//! Deliveries per second = 1,000 / time per iteration. Run with `cargo bench -p talkjs-emulator`.

// criterion_group! generates an undocumented public function.
#![allow(missing_docs)]

use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use talkjs_emulator::outbox::{self, Inbox, QueueLimits};
use talkjs_emulator::store::MemoryStore;
use talkjs_emulator::world::conversations::ParticipantWrite;
use talkjs_emulator::world::{Outbound, World};
use talkjs_emulator::{Config, Emulator};
use talkjs_protocol::content::{SendContentBlock, TextBlock, TextNode};
use talkjs_protocol::params::{CreateConversationParams, CreateUserParams, SetParticipantParams};
use talkjs_protocol::path::Topic;
use talkjs_protocol::request::{IdempotencyKey, SendMessageRequest};

/// Subscribed connections per delivery.
const SUBSCRIBERS: usize = 1_000;

fn message(i: u64) -> SendMessageRequest {
    SendMessageRequest {
        content: vec![SendContentBlock::Text(TextBlock {
            children: vec![
                TextNode::text("a message for everyone, with a "),
                TextNode::Bold(vec!["bold".into()]),
            ],
        })],
        referenced_message_id: None,
        custom: None,
        idempotency_key: IdempotencyKey(format!("BENCH{i:015}")),
    }
}

fn populated_world() -> (World, Vec<Inbox>) {
    let mut w = World::new(Config::default(), Box::new(MemoryStore::new()));
    w.create_user("sender", CreateUserParams::new("Sender"))
        .unwrap();
    w.create_conversation("big", CreateConversationParams::new())
        .unwrap();
    w.write_participant(
        "big",
        "sender",
        ParticipantWrite::Set,
        SetParticipantParams::new(),
    )
    .unwrap();
    let mut receivers = Vec::with_capacity(SUBSCRIBERS);
    for i in 0..SUBSCRIBERS {
        let user = format!("user{i:04}");
        w.create_user(&user, CreateUserParams::new(user.clone()))
            .unwrap();
        w.write_participant(
            "big",
            &user,
            ParticipantWrite::Set,
            SetParticipantParams::new(),
        )
        .unwrap();
        let (tx, rx) = outbox::channel(QueueLimits::UNBOUNDED);
        let conn = w.connect(&user, tx);
        w.authenticated(conn);
        w.subscribe(
            conn,
            Topic::Messages {
                conversation: "big".into(),
            },
            &[],
        );
        receivers.push(rx);
    }
    (w, receivers)
}

fn core(c: &mut Criterion) {
    let (mut world, mut receivers) = populated_world();
    for rx in &mut receivers {
        while rx.try_recv().is_some() {}
    }
    let mut group = c.benchmark_group("fanout_1000");
    group.throughput(Throughput::Elements(SUBSCRIBERS as u64));
    let mut i = 0;
    let mut publish_id = 0u64;
    group.bench_function("core: send + queue + per-socket framing", |b| {
        b.iter(|| {
            i += 1;
            world.send_message("big", "sender", message(i)).unwrap();
            publish_id += 1;
            let mut delivered = 0;
            for rx in &mut receivers {
                while let Some(out) = rx.try_recv() {
                    if let Outbound::Publish(events) = out {
                        std::hint::black_box(events.frame(publish_id));
                        delivered += 1;
                    }
                }
            }
            assert_eq!(delivered, SUBSCRIBERS);
        })
    });
    group.finish();
}

fn websocket(c: &mut Criterion) {
    use futures_util::{SinkExt, StreamExt};
    let rt = actix_rt::System::new();
    let (emu, mut sender, clients) = rt.block_on(async {
        let emu = Emulator::builder().app_id("bench").start("127.0.0.1:0").await.unwrap();
        let url = |u: &str| format!("ws://{}/public_api/v1/bench/realtime/{u}", emu.host());
        let renew = r#"[0,"POST","/session/renew",{"token":"t"},{}]"#;
        let (_, mut sender) = awc::Client::new().ws(url("sender")).connect().await.unwrap();
        sender.send(awc::ws::Message::Text(renew.into())).await.unwrap();
        let _ = sender.next().await;
        let setup = [
            r#"[1,"POST","/users/sender",{"name":"Sender"},{}]"#.to_owned(),
            r#"[2,"POST","/conversations/big",{},{}]"#.to_owned(),
            r#"[3,"POST","/conversations/big/participants",{"actions":[{"id":"sender","method":"POST","params":{}}]},{}]"#.to_owned(),
        ];
        for f in setup {
            sender.send(awc::ws::Message::Text(f.into())).await.unwrap();
            let _ = sender.next().await;
        }
        let mut clients = Vec::with_capacity(SUBSCRIBERS);
        for i in 0..SUBSCRIBERS {
            let user = format!("user{i:04}");
            let (_, mut conn) = awc::Client::new().ws(url(&user)).connect().await.unwrap();
            let frames = [
                renew.to_owned(),
                format!(r#"[1,"POST","/users/{user}",{{"name":"{user}"}},{{}}]"#),
                format!(r#"[2,"POST","/conversations/big/participants",{{"actions":[{{"id":"{user}","method":"POST","params":{{}}}}]}},{{}}]"#),
                r#"[3,"SUBSCRIBE","/me/conversations/big/messages",{},{}]"#.to_owned(),
            ];
            for f in frames {
                conn.send(awc::ws::Message::Text(f.into())).await.unwrap();
                // Each answer, and any pushes other joins cause, are drained below.
            }
            clients.push(conn);
        }
        // Let the setup's responses and pushes arrive, then drop them.
        actix_rt::time::sleep(Duration::from_millis(500)).await;
        for conn in &mut clients {
            while let Ok(Some(_)) = actix_rt::time::timeout(Duration::from_millis(1), conn.next()).await {}
        }
        (emu, sender, clients)
    });
    let mut clients = clients;
    let mut group = c.benchmark_group("fanout_1000");
    group.throughput(Throughput::Elements(SUBSCRIBERS as u64));
    group.sample_size(10);
    let mut seq = 10u64;
    group.bench_function("websocket: send until all 1000 clients have it", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    seq += 1;
                    let frame = format!(
                        r#"[{seq},"POST","/conversations/big/messages",{{"content":[{{"type":"text","children":["hi"]}}],"idempotencyKey":"WS{seq:018}"}},{{}}]"#
                    );
                    let start = Instant::now();
                    sender.send(awc::ws::Message::Text(frame.into())).await.unwrap();
                    let waits = clients.iter_mut().map(|conn| async move {
                        loop {
                            match conn.next().await {
                                Some(Ok(awc::ws::Frame::Text(t))) if t.windows(15).any(|w| w == b"message.created") => break,
                                Some(Ok(_)) => continue,
                                other => panic!("client lost: {other:?}"),
                            }
                        }
                    });
                    futures_util::future::join_all(waits).await;
                    total += start.elapsed();
                    let _ = sender.next().await;
                }
                total
            })
        })
    });
    group.finish();
    rt.block_on(emu.stop());
}

criterion_group!(benches, core, websocket);
criterion_main!(benches);
