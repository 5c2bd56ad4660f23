//! Feeds of new messages (`subscribe_new_messages`) against the in-process emulator: each
//! message created after the feed started arrives exactly once, oldest first, whatever happens
//! to the sockets; history is not replayed; the session's own messages are skipped when asked;
//! a session-wide feed follows conversations joined later; a slow consumer loses nothing; the
//! feed's state stays bounded; dropping it unsubscribes.

use std::collections::HashSet;
use std::time::Duration;

use futures_util::StreamExt;
use talkjs::params::CreateParticipantParams;
use talkjs::token::JwtSigner;
use talkjs::{
    ErrorKind, FeedItem, FeedOptions, NewMessageFeed, NewMessageStream, TalkSession, Terminated,
};
use talkjs_emulator::RunningEmulator;
use talkjs_testkit::FaultProxy;

mod common;

use common::{
    APP, SECRET, conversation, signed_emulator as emulator, signed_session as session_at,
};

async fn session(emu: &RunningEmulator, user: &str) -> TalkSession {
    session_at(&emu.host(), user, JwtSigner::new(SECRET)).await
}

/// An emulator, alice and bob, and alice's conversation c1 with bob in it.
async fn alice_and_bob() -> (RunningEmulator, TalkSession, TalkSession) {
    let emu = emulator().await;
    let alice = session(&emu, "alice").await;
    let bob = session(&emu, "bob").await;
    conversation(&alice, "c1", &["bob"]).await;
    (emu, alice, bob)
}

/// Waits until `feed` is live, and reads it.
async fn live(feed: &NewMessageFeed) -> NewMessageStream {
    feed.connected().await.expect("the feed goes live");
    feed.stream()
}

/// Sends `texts` one after the other; returns the new messages' ids.
async fn send_all(
    from: &TalkSession,
    c: &str,
    texts: impl IntoIterator<Item = String>,
) -> Vec<String> {
    let mut ids = Vec::new();
    for t in texts {
        ids.push(from.conversation(c).send(t).await.unwrap().id().to_owned());
    }
    ids
}

/// The server's messages of a conversation, oldest first.
fn server_ids(emu: &RunningEmulator, c: &str) -> Vec<String> {
    let mut ids = common::server_ids(emu, c);
    ids.reverse();
    ids
}

/// The next item, within 10 s.
async fn next(items: &mut NewMessageStream) -> FeedItem {
    tokio::time::timeout(Duration::from_secs(10), items.next())
        .await
        .expect("an item within 10 s")
        .expect("the feed is live")
}

/// The next `n` messages as (conversation, message id, plaintext); fails on any other item.
async fn messages(items: &mut NewMessageStream, n: usize) -> Vec<(String, String, String)> {
    let mut got = Vec::with_capacity(n);
    while got.len() < n {
        match next(items).await {
            FeedItem::Message(m) => got.push((
                m.conversation.to_string(),
                m.message.id.clone(),
                m.message.plaintext.clone(),
            )),
            other => panic!(
                "expected a message, got {other:?} after {} messages",
                got.len()
            ),
        }
    }
    got
}

fn ids(got: &[(String, String, String)]) -> Vec<String> {
    got.iter().map(|(_, id, _)| id.clone()).collect()
}

/// Nothing more arrives before `marker` (sent now by `from` in `c`): proves there were no
/// duplicates or leftovers, rather than waiting for silence.
async fn marker_is_next(items: &mut NewMessageStream, from: &TalkSession, c: &str) {
    let id = send_all(from, c, ["marker".to_owned()]).await.remove(0);
    let got = messages(items, 1).await;
    assert_eq!(got[0].1, id, "the marker comes next, nothing before it");
}

#[actix_rt::test]
async fn bob_gets_each_new_message_once_in_order_and_not_the_history() {
    let (emu, alice, bob) = alice_and_bob().await;
    send_all(&alice, "c1", (0..3).map(|i| format!("old {i}"))).await;

    let feed = bob
        .conversation("c1")
        .subscribe_new_messages(FeedOptions::new());
    let mut items = live(&feed).await;
    let sent = send_all(&alice, "c1", (0..5).map(|i| format!("new {i}"))).await;

    let got = messages(&mut items, 5).await;
    assert_eq!(ids(&got), sent, "every new message once, oldest first");
    assert_eq!(got[0].2, "new 0");
    assert_eq!(got[0].0, "c1");
    marker_is_next(&mut items, &alice, "c1").await;
    emu.stop().await;
}

#[actix_rt::test]
async fn senders_are_shown_as_in_a_message_subscription() {
    let (emu, alice, bob) = alice_and_bob().await;
    let feed = bob
        .conversation("c1")
        .subscribe_new_messages(FeedOptions::new());
    let mut items = live(&feed).await;
    let first = alice.conversation("c1").send("question").await.unwrap();
    alice
        .conversation("c1")
        .send(talkjs::params::SendTextMessageParams::new("answer").reply_to(first.id()))
        .await
        .unwrap();
    let FeedItem::Message(q) = next(&mut items).await else {
        panic!("a message")
    };
    let FeedItem::Message(a) = next(&mut items).await else {
        panic!("a message")
    };
    assert_eq!(
        q.message.sender.as_ref().map(|u| u.id.as_str()),
        Some("alice")
    );
    let replied = a
        .message
        .referenced_message
        .as_ref()
        .expect("the reply shows its question");
    assert_eq!(replied.id, first.id());
    emu.stop().await;
}

#[actix_rt::test]
async fn own_messages_are_skipped_only_when_asked() {
    let (emu, alice, bob) = alice_and_bob().await;
    let others_only = bob
        .conversation("c1")
        .subscribe_new_messages(FeedOptions::new().include_own(false));
    let everything = bob
        .conversation("c1")
        .subscribe_new_messages(FeedOptions::new());
    others_only.connected().await.unwrap();
    everything.connected().await.unwrap();
    let (mut others_only, mut everything) = (others_only.stream(), everything.stream());

    let a1 = send_all(&alice, "c1", ["from alice 1".to_owned()]).await;
    let b1 = send_all(&bob, "c1", ["from bob".to_owned()]).await;
    let a2 = send_all(&alice, "c1", ["from alice 2".to_owned()]).await;

    assert_eq!(
        ids(&messages(&mut everything, 3).await),
        [a1.clone(), b1, a2.clone()].concat()
    );
    assert_eq!(ids(&messages(&mut others_only, 2).await), [a1, a2].concat());
    marker_is_next(&mut others_only, &alice, "c1").await;
    emu.stop().await;
}

#[actix_rt::test]
async fn a_session_wide_feed_follows_conversations_joined_after_it_started() {
    let emu = emulator().await;
    let alice = session(&emu, "alice").await;
    let bob = session(&emu, "bob").await;
    conversation(&alice, "before", &["bob"]).await;
    send_all(&alice, "before", ["history".to_owned()]).await;

    let feed = bob.subscribe_new_messages(FeedOptions::new());
    let mut items = live(&feed).await;

    let b1 = send_all(&alice, "before", ["one".to_owned()]).await;
    // Created after the feed started, bob added at once, and written to at once: the first
    // message may be sent before bob's session subscribed to the new conversation.
    conversation(&alice, "after", &["bob"]).await;
    let a1 = send_all(&alice, "after", ["two".to_owned(), "three".to_owned()]).await;
    let b2 = send_all(&alice, "before", ["four".to_owned()]).await;
    // An existing conversation bob joins later: its history stays history.
    conversation(&alice, "joined", &[]).await;
    send_all(&alice, "joined", ["before bob".to_owned()]).await;
    alice
        .conversation("joined")
        .participant("bob")
        .create_if_not_exists(CreateParticipantParams::new())
        .await
        .unwrap();
    let j1 = send_all(&alice, "joined", ["after bob".to_owned()]).await;

    let got = messages(&mut items, 5).await;
    let expected: Vec<String> = [b1, a1, b2, j1].concat();
    assert_eq!(
        ids(&got),
        expected,
        "in the order they were sent, each once"
    );
    let convs: Vec<&str> = got.iter().map(|(c, _, _)| c.as_str()).collect();
    assert_eq!(convs, ["before", "after", "after", "before", "joined"]);
    marker_is_next(&mut items, &alice, "after").await;
    let stats = feed.stats().await.expect("live");
    assert_eq!(stats.conversations, 3);
    emu.stop().await;
}

/// Bob (through `proxy`) cannot reach the server while alice sends; then he can again.
async fn offline_while(
    proxy: &FaultProxy,
    during: impl std::future::Future<Output = Vec<String>>,
) -> Vec<String> {
    proxy.set_refusing(true);
    proxy.cut_all();
    let sent = during.await;
    proxy.set_refusing(false);
    sent
}

#[actix_rt::test]
async fn messages_sent_while_bob_is_offline_arrive_after_the_reconnect_in_order() {
    let emu = emulator().await;
    let proxy = FaultProxy::start(emu.addr()).expect("proxy");
    let alice = session(&emu, "alice").await;
    let bob = session_at(&proxy.host(), "bob", JwtSigner::new(SECRET)).await;
    conversation(&alice, "c1", &["bob"]).await;
    conversation(&alice, "c2", &["bob"]).await;
    for feed_of_one in [false, true] {
        let feed = if feed_of_one {
            bob.conversation("c1")
                .subscribe_new_messages(FeedOptions::new())
        } else {
            bob.subscribe_new_messages(FeedOptions::new())
        };
        feed.connected().await.unwrap();
        let mut items = feed.stream();
        let before = send_all(&alice, "c1", ["before".to_owned()]).await;
        assert_eq!(ids(&messages(&mut items, 1).await), before);

        let gap = offline_while(&proxy, async {
            let mut sent = Vec::new();
            for i in 0..10 {
                let c = if i % 3 == 0 && !feed_of_one {
                    "c2"
                } else {
                    "c1"
                };
                sent.extend(send_all(&alice, c, [format!("gap {i}")]).await);
            }
            sent
        })
        .await;
        let got = messages(&mut items, gap.len()).await;
        assert_eq!(
            ids(&got),
            gap,
            "the gap, oldest first, once (feed of one: {feed_of_one})"
        );
        marker_is_next(&mut items, &alice, "c1").await;
        assert!(feed.stats().await.unwrap().catch_ups > 0);
        feed.unsubscribe();
    }
    emu.stop().await;
}

#[actix_rt::test]
async fn a_server_restart_announced_or_not_loses_nothing() {
    let emu = emulator().await;
    let proxy = FaultProxy::start(emu.addr()).expect("proxy");
    let alice = session(&emu, "alice").await;
    let bob = session_at(&proxy.host(), "bob", JwtSigner::new(SECRET)).await;
    conversation(&alice, "c1", &["bob"]).await;
    let feed = bob.subscribe_new_messages(FeedOptions::new());
    let mut items = live(&feed).await;

    // drop_connections: every socket closes, alice's too; her sends wait for her new socket.
    emu.drop_connections();
    let sent = send_all(&alice, "c1", (0..5).map(|i| format!("after drop {i}"))).await;
    assert_eq!(ids(&messages(&mut items, 5).await), sent);

    // restart announces `upstream.restarting` first, after which subscriptions do not refetch;
    // bob stays offline while alice sends, so only a refetch can find these.
    proxy.set_refusing(true);
    emu.restart();
    let sent = send_all(&alice, "c1", (0..5).map(|i| format!("after restart {i}"))).await;
    proxy.set_refusing(false);
    assert_eq!(ids(&messages(&mut items, 5).await), sent);
    marker_is_next(&mut items, &alice, "c1").await;
    emu.stop().await;
}

/// One chaos run: the proxy cuts bob's sockets at seeded random times while alice sends `n`
/// messages in two conversations; bob's session-wide feed must deliver the server's messages
/// exactly once, each conversation in order.
async fn chaos_run(seed: u64, n: usize) {
    let emu = emulator().await;
    let proxy = FaultProxy::start(emu.addr()).expect("proxy");
    let alice = session(&emu, "alice").await;
    let bob = session_at(&proxy.host(), "bob", JwtSigner::new(SECRET)).await;
    conversation(&alice, "c1", &["bob"]).await;
    conversation(&alice, "c2", &["bob"]).await;
    let feed = bob.subscribe_new_messages(FeedOptions::new().include_own(false));
    let mut items = live(&feed).await;

    common::send_through_chaos(&proxy, seed, &alice, n, |i| {
        if i % 2 == 0 { "c1" } else { "c2" }
    })
    .await;

    let got = messages(&mut items, n).await;
    let unique: HashSet<&String> = got.iter().map(|(_, id, _)| id).collect();
    assert_eq!(unique.len(), n, "no duplicates");
    for c in ["c1", "c2"] {
        let of_c: Vec<String> = got
            .iter()
            .filter(|(conv, _, _)| conv == c)
            .map(|(_, id, _)| id.clone())
            .collect();
        assert_eq!(
            of_c,
            server_ids(&emu, c),
            "{c}: every message once, in order"
        );
    }
    marker_is_next(&mut items, &alice, "c1").await;
    eprintln!("seed {seed}: {n} messages, {} cuts", proxy.cuts());
    emu.stop().await;
}

#[actix_rt::test]
async fn every_message_arrives_once_in_order_while_sockets_are_cut() {
    for seed in 1..=common::fault_rounds(1) {
        chaos_run(seed * 7919, 400).await;
    }
}

#[actix_rt::test]
async fn a_feed_survives_token_refreshes_with_no_gap() {
    let emu = emulator().await;
    // Tokens that expire 33 s after issue: the emulator pushes session.expired 30 s before.
    let short = JwtSigner::new(SECRET).lifetime(Duration::from_secs(33));
    let alice = session(&emu, "alice").await;
    let bob = session_at(&emu.host(), "bob", short.clone()).await;
    conversation(&alice, "c1", &["bob"]).await;
    let feed = bob
        .conversation("c1")
        .subscribe_new_messages(FeedOptions::new());
    let mut items = live(&feed).await;
    let started = std::time::Instant::now();
    let mut sent = Vec::new();
    // Long enough to cross a session.expired (after ~3 s), with a set_token halfway.
    while started.elapsed() < Duration::from_secs(4) {
        sent.extend(send_all(&alice, "c1", [format!("m{}", sent.len())]).await);
        if sent.len() == 30 {
            bob.set_token(short.sign(APP, "bob").unwrap());
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(ids(&messages(&mut items, sent.len()).await), sent);
    marker_is_next(&mut items, &alice, "c1").await;
    emu.stop().await;
}

#[actix_rt::test]
async fn a_slow_consumer_loses_nothing_and_the_buffer_stays_bounded() {
    let (emu, alice, bob) = alice_and_bob().await;
    let feed = bob
        .conversation("c1")
        .subscribe_new_messages(FeedOptions::new().buffer(8));
    let mut items = live(&feed).await;
    // Nobody reads while 60 messages arrive.
    let sent = send_all(&alice, "c1", (0..60).map(|i| format!("m{i}"))).await;
    let stats = loop {
        let s = feed.stats().await.unwrap();
        if s.behind > 0 {
            break s;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(
        stats.waiting <= 8,
        "the queue stays within its bound: {stats:?}"
    );
    let got = messages(&mut items, 60).await;
    assert_eq!(
        ids(&got),
        sent,
        "read later from the server, in order, once"
    );
    let stats = feed.stats().await.unwrap();
    assert!(stats.refused > 0 && stats.catch_ups > 0, "{stats:?}");
    marker_is_next(&mut items, &alice, "c1").await;
    emu.stop().await;
}

#[actix_rt::test]
async fn a_consumer_behind_by_more_than_max_gap_is_told_what_was_skipped() {
    let (emu, alice, bob) = alice_and_bob().await;
    let feed = bob
        .conversation("c1")
        .subscribe_new_messages(FeedOptions::new().buffer(2).max_gap(10));
    let mut items = live(&feed).await;
    let sent = send_all(&alice, "c1", (0..40).map(|i| format!("m{i}"))).await;
    let mut delivered = Vec::new();
    let mut lagged_at = None;
    while delivered.last() != sent.last() {
        match next(&mut items).await {
            FeedItem::Message(m) => delivered.push(m.message.id.clone()),
            FeedItem::Lagged { conversation } => {
                assert_eq!(&*conversation, "c1");
                assert!(lagged_at.is_none(), "one notice");
                lagged_at = Some(delivered.len());
            }
            FeedItem::Ended(how) => panic!("ended: {how}"),
        }
    }
    let lagged_at = lagged_at.expect("a Lagged notice");
    let positions: Vec<usize> = delivered
        .iter()
        .map(|id| sent.iter().position(|s| s == id).expect("a sent message"))
        .collect();
    assert!(
        positions.windows(2).all(|w| w[0] < w[1]),
        "in order, no duplicates: {positions:?}"
    );
    assert_eq!(
        &delivered[lagged_at..],
        &sent[sent.len() - 10..],
        "then the newest max_gap"
    );
    assert!(lagged_at < 30, "something was skipped");
    emu.stop().await;
}

#[actix_rt::test]
async fn the_feeds_state_stays_at_its_cap() {
    let (emu, alice, bob) = alice_and_bob().await;
    let feed = bob.subscribe_new_messages(FeedOptions::new());
    let mut items = live(&feed).await;
    // Far more than the cursor remembers (the cursor's own test goes to 10,000 without I/O).
    let n = 2_000;
    // Sent 50 at a time while bob reads, as a bot would; the server's order is what bob sees.
    let send = async {
        for batch in (0..n).collect::<Vec<_>>().chunks(50) {
            let sends = batch.iter().map(|i| {
                let chat = alice.conversation("c1");
                async move { chat.send(format!("m{i}")).await }
            });
            for r in futures_util::future::join_all(sends).await {
                r.unwrap();
            }
        }
    };
    let (_, got) = futures_util::future::join(send, messages(&mut items, n)).await;
    assert_eq!(ids(&got), server_ids(&emu, "c1"));
    let stats = feed.stats().await.unwrap();
    assert_eq!(stats.conversations, 1);
    assert_eq!(stats.remembered_ids, talkjs::feed::RECENT_IDS, "{stats:?}");
    assert_eq!(stats.waiting, 0);
    emu.stop().await;
}

#[actix_rt::test]
async fn dropping_the_feed_unsubscribes() {
    let (emu, _alice, bob) = alice_and_bob().await;
    emu.record_requests();
    let feed = bob
        .conversation("c1")
        .subscribe_new_messages(FeedOptions::new());
    feed.connected().await.unwrap();
    let items = feed.stream();
    drop(feed);
    let path = "/me/conversations/c1/messages";
    let subscribed = emu
        .take_requests()
        .iter()
        .any(|r| r.user_id == "bob" && r.method == "SUBSCRIBE" && r.path == path);
    assert!(subscribed);
    // The stream keeps it alive...
    tokio::time::sleep(Duration::from_millis(400)).await;
    let unsubscribed = |reqs: &[talkjs_emulator::world::RecordedRequest]| {
        reqs.iter()
            .any(|r| r.user_id == "bob" && r.method == "UNSUBSCRIBE" && r.path == path)
    };
    assert!(!unsubscribed(&emu.take_requests()));
    // ...until it is dropped too.
    drop(items);
    let mut seen = Vec::new();
    for _ in 0..100 {
        seen.extend(emu.take_requests());
        if unsubscribed(&seen) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(unsubscribed(&seen), "UNSUBSCRIBE after the linger");
    emu.stop().await;
}

#[actix_rt::test]
async fn feeds_end_with_typed_errors() {
    let emu = emulator().await;
    let bob = session(&emu, "bob").await;
    let bad = bob
        .conversation("")
        .subscribe_new_messages(FeedOptions::new());
    let mut items = bad.stream();
    match next(&mut items).await {
        FeedItem::Ended(Terminated::Error(e)) => {
            assert!(matches!(e.kind(), ErrorKind::InvalidArgument(_)), "{e}")
        }
        other => panic!("expected the end, got {other:?}"),
    }
    assert!(items.next().await.is_none());

    let feed = bob.subscribe_new_messages(FeedOptions::new());
    let mut items = live(&feed).await;
    bob.terminate("done");
    match next(&mut items).await {
        FeedItem::Ended(Terminated::Error(e)) => {
            assert!(matches!(e.kind(), ErrorKind::SessionTerminated(_)), "{e}")
        }
        other => panic!("expected the end, got {other:?}"),
    }
    assert!(items.next().await.is_none());
    let unsubscribed = bob
        .conversation("c1")
        .subscribe_new_messages(FeedOptions::new());
    assert!(matches!(
        unsubscribed.terminated().await,
        Terminated::Error(_)
    ));
    emu.stop().await;
}

#[actix_rt::test]
async fn a_conversation_feed_starts_delivering_when_the_user_joins() {
    let emu = emulator().await;
    let alice = session(&emu, "alice").await;
    let bob = session(&emu, "bob").await;
    conversation(&alice, "c1", &[]).await;
    let feed = bob
        .conversation("c1")
        .subscribe_new_messages(FeedOptions::new());
    feed.connected()
        .await
        .expect("live, though bob cannot see c1 yet");
    let mut items = feed.stream();
    send_all(&alice, "c1", ["before bob joined".to_owned()]).await;
    alice
        .conversation("c1")
        .participant("bob")
        .create_if_not_exists(CreateParticipantParams::new())
        .await
        .unwrap();
    let after = send_all(&alice, "c1", ["after bob joined".to_owned()]).await;
    assert_eq!(ids(&messages(&mut items, 1).await), after);
    // Removed, then back: what was sent while he was out is not his.
    alice
        .conversation("c1")
        .participant("bob")
        .delete()
        .await
        .unwrap();
    send_all(&alice, "c1", ["while bob was out".to_owned()]).await;
    alice
        .conversation("c1")
        .participant("bob")
        .create_if_not_exists(CreateParticipantParams::new())
        .await
        .unwrap();
    let back = send_all(&alice, "c1", ["bob is back".to_owned()]).await;
    assert_eq!(ids(&messages(&mut items, 1).await), back);
    marker_is_next(&mut items, &alice, "c1").await;
    emu.stop().await;
}

#[actix_rt::test]
async fn a_slow_consumer_of_several_conversations_keeps_their_order() {
    let emu = emulator().await;
    let alice = session(&emu, "alice").await;
    let bob = session(&emu, "bob").await;
    for c in ["c1", "c2", "c3", "quiet"] {
        conversation(&alice, c, &["bob"]).await;
    }
    let feed = bob.subscribe_new_messages(FeedOptions::new().buffer(4));
    let mut items = live(&feed).await;
    // Sent one after the other, so the server's order is the order of `sent`.
    let mut sent = Vec::new();
    for i in 0..30 {
        sent.extend(send_all(&alice, ["c1", "c2", "c3"][i % 3], [format!("m{i}")]).await);
    }
    // The buffer is full and c1 to c3 are behind. Bob reads one: there is room for one more,
    // but the behind conversations wait until the buffer is half empty; a message in a
    // conversation that is not behind must wait with them, not overtake them.
    assert_eq!(ids(&messages(&mut items, 1).await), sent[..1]);
    sent.extend(send_all(&alice, "quiet", ["overtaking?".to_owned()]).await);
    for i in 30..40 {
        sent.extend(send_all(&alice, ["c1", "c2", "c3"][i % 3], [format!("m{i}")]).await);
    }
    let got = messages(&mut items, sent.len() - 1).await;
    assert_eq!(
        ids(&got),
        sent[1..],
        "one order across conversations, each message once"
    );
    assert!(
        feed.stats().await.unwrap().refused > 0,
        "the buffer was full"
    );
    emu.stop().await;
}

#[actix_rt::test]
async fn a_feed_started_while_messages_flow_misses_nothing_sent_once_it_is_live() {
    use std::cell::{Cell, RefCell};
    let (emu, alice, bob) = alice_and_bob().await;
    let convs = ["c1", "c2", "c3", "c4"];
    for c in &convs[1..] {
        conversation(&alice, c, &["bob"]).await;
    }
    // Alice writes in every conversation without pause; bob's feed starts in the middle, so its
    // listing and its subscriptions to the conversations race her messages.
    let live = Cell::new(false);
    let stop = Cell::new(false);
    let after_live: RefCell<Vec<String>> = RefCell::default();
    let writer = async {
        let mut i = 0;
        while !stop.get() {
            let started_after_live = live.get();
            let id = send_all(&alice, convs[i % 4], [format!("m{i}")])
                .await
                .remove(0);
            if started_after_live {
                after_live.borrow_mut().push(id);
            }
            i += 1;
        }
    };
    let reader = async {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let feed = bob.subscribe_new_messages(FeedOptions::new());
        let items = live_feed(&feed, &live).await;
        while after_live.borrow().len() < 100 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        stop.set(true);
        (feed, items)
    };
    let ((), (_feed, mut items)) = futures_util::future::join(writer, reader).await;
    let marker = send_all(&alice, "c1", ["marker".to_owned()])
        .await
        .remove(0);
    let mut got = Vec::new();
    loop {
        let FeedItem::Message(m) = next(&mut items).await else {
            panic!("only messages")
        };
        if m.message.id == marker {
            break;
        }
        got.push((m.conversation.to_string(), m.message.id.clone()));
    }
    // Per conversation: an unbroken run of the server's newest messages, each once.
    for c in convs {
        let of_c: Vec<String> = got
            .iter()
            .filter(|(conv, _)| conv == c)
            .map(|(_, id)| id.clone())
            .collect();
        let mut server = server_ids(&emu, c);
        if c == "c1" {
            server.pop(); // the marker
        }
        assert!(
            server.ends_with(&of_c),
            "{c}: {of_c:?} is not the end of {server:?}"
        );
    }
    let delivered: HashSet<&String> = got.iter().map(|(_, id)| id).collect();
    assert_eq!(delivered.len(), got.len(), "no duplicates");
    let missed: Vec<String> = after_live
        .take()
        .into_iter()
        .filter(|id| !delivered.contains(id))
        .collect();
    assert!(
        missed.is_empty(),
        "sent after the feed was live, not delivered: {missed:?}"
    );
    emu.stop().await;
}

/// Waits until `feed` is live, says so in `flag`, and reads it.
async fn live_feed(feed: &NewMessageFeed, flag: &std::cell::Cell<bool>) -> NewMessageStream {
    feed.connected().await.expect("the feed goes live");
    flag.set(true);
    feed.stream()
}
