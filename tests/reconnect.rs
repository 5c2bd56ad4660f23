//! Subscriptions across faults: a loopback proxy between the runtime and the emulator cuts the
//! sockets at random points while messages are sent, and tokens are renewed and expire in the
//! middle of a stream. A subscriber must end with exactly the server's messages: no gap, no
//! duplicate, no reordering.

use std::collections::HashSet;
use std::time::Duration;

mod common;

use talkjs::params::{CreateConversationParams, CreateParticipantParams};
use talkjs::token::JwtSigner;
use talkjs::{MessageSubscription, TalkSession};
use talkjs_emulator::RunningEmulator;
use talkjs_testkit::FaultProxy;

use common::{APP, SECRET, fault_rounds, server_ids};

async fn emulator() -> RunningEmulator {
    common::signed_emulator().await
}

async fn session(host: &str, user: &str, signer: JwtSigner) -> TalkSession {
    common::signed_session(host, user, signer).await
}

/// The ids a message subscription shows, newest first.
fn shown(sub: &MessageSubscription) -> Vec<String> {
    sub.latest()
        .flatten()
        .map(|l| l.iter().map(|m| m.id.clone()).collect())
        .unwrap_or_default()
}

/// Waits until the subscription shows exactly `expected` (newest first), or fails with the
/// difference.
async fn converges(sub: &MessageSubscription, expected: &[String], within: Duration) {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let got = shown(sub);
        if got == expected {
            return;
        }
        if tokio::time::Instant::now() > deadline {
            let got_set: HashSet<&String> = got.iter().collect();
            let missing: Vec<_> = expected.iter().filter(|id| !got_set.contains(id)).collect();
            let mut seen = HashSet::new();
            let dupes: Vec<_> = got.iter().filter(|id| !seen.insert(*id)).collect();
            panic!(
                "shown {} messages, expected {}; missing {:?}; duplicates {:?}; order ok: {}",
                got.len(),
                expected.len(),
                &missing[..missing.len().min(10)],
                dupes,
                got.iter()
                    .filter(|id| expected.contains(id))
                    .collect::<Vec<_>>()
                    == expected
                        .iter()
                        .filter(|id| got_set.contains(id))
                        .collect::<Vec<_>>()
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// One run: bob subscribes through the proxy, alice sends `n` messages through it too, and the
/// proxy cuts every socket at random times (seeded) meanwhile.
async fn run(seed: u64, n: usize) {
    let emu = emulator().await;
    let proxy = FaultProxy::start(emu.addr()).expect("proxy");
    let host = proxy.host();
    let signer = || JwtSigner::new(SECRET);
    let alice = session(&host, "alice", signer()).await;
    let bob = session(&host, "bob", signer()).await;
    let chat = alice.conversation("c1");
    chat.create_if_not_exists(CreateConversationParams::new())
        .await
        .unwrap();
    chat.participant("bob")
        .create_if_not_exists(CreateParticipantParams::new())
        .await
        .unwrap();
    let sub = bob.conversation("c1").subscribe_messages();
    sub.connected().await.expect("active");

    proxy.chaos(seed, Duration::from_millis(40));
    let mut sent = Vec::with_capacity(n);
    // Sends go out a few at a time, so cuts catch some in flight.
    for (round, batch) in (0..n).collect::<Vec<_>>().chunks(4).enumerate() {
        if round == n / 8 {
            // At least one cut, however quick the sends are.
            proxy.cut_all();
        }
        let sends = batch.iter().map(|i| {
            let chat = chat.clone();
            async move { chat.send(format!("message {i}")).await }
        });
        for r in futures_util::future::join_all(sends).await {
            sent.push(r.expect("a send survives cuts").id().to_owned());
        }
    }
    proxy.stop_chaos();
    let cuts = proxy.cuts();
    assert!(
        cuts > 0,
        "the proxy cut nothing; the test would prove nothing"
    );

    // The server's own order, newest first, is what bob must end up with.
    let expected = server_ids(&emu, "c1");
    assert_eq!(expected.len(), n, "each send created exactly one message");
    assert_eq!(
        sent.iter().collect::<HashSet<_>>(),
        expected.iter().collect::<HashSet<_>>()
    );
    converges(&sub, &expected, Duration::from_secs(30)).await;
    assert!(
        sub.connected().await.unwrap().loaded_all,
        "the window began complete and stays complete"
    );
    eprintln!("seed {seed}: {n} messages, {cuts} connections cut, bob converged");
}

#[actix_rt::test]
async fn a_subscriber_sees_every_message_once_in_order_while_sockets_are_cut() {
    for seed in 1..=fault_rounds(2) {
        run(seed * 7919, 1000).await;
    }
}

#[actix_rt::test]
async fn a_stream_survives_set_token_and_expiry_refresh_with_no_gap() {
    let emu = emulator().await;
    // Tokens that expire 33 s after issue: the emulator pushes session.expired 30 s before.
    let short = JwtSigner::new(SECRET).lifetime(Duration::from_secs(33));
    let alice = session(&emu.host(), "alice", JwtSigner::new(SECRET)).await;
    let bob = session(&emu.host(), "bob", short.clone()).await;
    let chat = alice.conversation("c1");
    chat.create_if_not_exists(CreateConversationParams::new())
        .await
        .unwrap();
    chat.participant("bob")
        .create_if_not_exists(CreateParticipantParams::new())
        .await
        .unwrap();
    let sub = bob.conversation("c1").subscribe_messages();
    sub.connected().await.unwrap();
    let started = std::time::Instant::now();
    let mut i = 0;
    // Keep sending for long enough to cross at least one session.expired (after ~3 s) and a
    // set_token halfway.
    while started.elapsed() < Duration::from_secs(5) {
        chat.send(format!("m{i}")).await.unwrap();
        i += 1;
        if i == 50 {
            bob.set_token(short.sign(APP, "bob").unwrap());
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let expected = server_ids(&emu, "c1");
    converges(&sub, &expected, Duration::from_secs(10)).await;
    let status = bob.status().await.unwrap();
    assert_eq!(status.connections_started, 1, "renewed on the same socket");
}
