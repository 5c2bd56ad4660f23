//! The changes of a messages subscription (`diffs()`) through the fault proxy while it cuts the
//! socket at seeded random times: applied one batch after the other to the first snapshot,
//! they never show a message twice, and once the sends are over they give exactly the
//! subscription's latest snapshot: every message the server has, once, newest first.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use talkjs::snapshot::MessageSnapshot;
use talkjs::token::JwtSigner;
use talkjs::{List, ListItems};
use talkjs_testkit::FaultProxy;

mod common;

use common::{
    SECRET, conversation, fault_rounds, send_through_chaos, server_ids, signed_emulator,
    signed_session,
};

fn ids<'a>(items: impl Iterator<Item = &'a Arc<MessageSnapshot>>) -> Vec<String> {
    items.map(|m| m.id.clone()).collect()
}

/// One run: bob's subscription sits behind the proxy, which cuts his sockets about every
/// 40 ms (seeded) while alice sends `n` messages, four at a time.
async fn chaos_run(seed: u64, n: usize) {
    let emu = signed_emulator().await;
    let proxy = FaultProxy::start(emu.addr()).expect("proxy");
    let alice = signed_session(&emu.host(), "alice", JwtSigner::new(SECRET)).await;
    let bob = signed_session(&proxy.host(), "bob", JwtSigner::new(SECRET)).await;
    conversation(&alice, "c1", &["bob"]).await;
    let sub = bob.conversation("c1").subscribe_messages();
    let (first, mut changes) = sub.diffs().await.expect("the subscription starts");
    let mut shown: List<_> = first.items();
    assert!(shown.is_empty(), "a new conversation has no messages");

    // Follows the changes on its own while the messages are sent: each batch applied at once.
    let follower = actix_rt::spawn(async move {
        let mut batches = 0usize;
        let mut resets = 0usize;
        while let Some(batch) = changes.next().await {
            assert!(!batch.is_empty(), "an empty batch is never sent");
            resets += batch
                .iter()
                .filter(|d| matches!(d, talkjs::VectorDiff::Reset { .. }))
                .count();
            shown = shown.apply(batch);
            batches += 1;
            let ids = ids(shown.iter());
            let unique: HashSet<&String> = ids.iter().collect();
            assert_eq!(
                unique.len(),
                ids.len(),
                "batch {batches} shows a message twice"
            );
            if ids.len() == n {
                return (shown, batches, resets, changes);
            }
        }
        panic!("the changes ended before all {n} messages were shown");
    });

    send_through_chaos(&proxy, seed, &alice, n, |_| "c1").await;

    let (shown, batches, resets, mut changes) =
        actix_rt::time::timeout(Duration::from_secs(30), follower)
            .await
            .expect("all messages shown within 30 s")
            .expect("the follower's checks hold");
    let expected = server_ids(&emu, "c1");
    assert_eq!(expected.len(), n);
    assert_eq!(
        ids(shown.iter()),
        expected,
        "every message once, newest first"
    );
    // Nothing more is on its way: the changes end where the subscription stands.
    assert_eq!(ids(shown.iter()), ids(sub.items().iter()));
    assert!(
        actix_rt::time::timeout(Duration::from_millis(300), changes.next())
            .await
            .is_err(),
        "no change after the last message"
    );
    eprintln!(
        "seed {seed}: {n} messages, {} cuts, {batches} batches, {resets} resets",
        proxy.cuts()
    );
    emu.stop().await;
}

#[actix_rt::test]
async fn changes_show_every_message_once_in_order_while_sockets_are_cut() {
    for seed in 1..=fault_rounds(2) {
        chaos_run(seed * 6007, 300).await;
    }
}
