//! The changes of list subscriptions (`diffs()`, `send_to_diffs`) against the real emulator:
//! applied to the first snapshot, they always give the latest one, for sends, edits, deletions,
//! `load_more`, a conversation list's reordering and reactions; a listener that falls behind
//! gets one `Reset` instead of an unbounded buffer; a bounded window drops its oldest messages
//! and says so.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix::prelude::*;
use futures_util::StreamExt;
use talkjs::filter::ConversationFilter;
use talkjs::snapshot::MessageSnapshot;
use talkjs::{DiffStream, List, ListItems, ListSnapshot, MessagesDiff, VectorDiff, WindowOptions};

mod common;

use common::{conversation, emulator, eventually, session};

type Batch<T> = Vec<VectorDiff<Arc<T>>>;

/// Applies batches from `changes` to `shown` until `done(shown)` and it equals the
/// subscription's latest items (`latest()`), within 5 s; returns the batches applied.
async fn follow<T: PartialEq + std::fmt::Debug + Send + Sync + 'static>(
    changes: &mut DiffStream<ListSnapshot<T>>,
    shown: &mut List<T>,
    latest: impl Fn() -> List<T>,
    done: impl Fn(&List<T>) -> bool,
) -> Vec<Batch<T>> {
    let mut seen = Vec::new();
    let deadline = actix_rt::time::Instant::now() + Duration::from_secs(5);
    // Done, and nothing newer published (a later snapshot's batch is on its way).
    while !(done(shown) && *shown == latest()) {
        let left = deadline.saturating_duration_since(actix_rt::time::Instant::now());
        let batch = actix_rt::time::timeout(left, changes.next())
            .await
            .expect("timed out following the changes")
            .expect("the stream goes on");
        assert!(!batch.is_empty(), "an empty batch is never sent");
        *shown = shown.apply(batch.clone());
        seen.push(batch);
    }
    seen
}

fn texts(l: &List<MessageSnapshot>) -> Vec<String> {
    l.iter().map(|m| m.plaintext.clone()).collect()
}

fn flat<T>(batches: &[Batch<T>]) -> Vec<&VectorDiff<Arc<T>>> {
    batches.iter().flatten().collect()
}

/// The changes by name and place, for messages.
fn shape<T>(batches: &[Batch<T>]) -> Vec<String> {
    flat(batches)
        .iter()
        .map(|d| match d {
            VectorDiff::Append { values } => format!("Append({})", values.len()),
            VectorDiff::Clear => "Clear".into(),
            VectorDiff::PushFront { .. } => "PushFront".into(),
            VectorDiff::PushBack { .. } => "PushBack".into(),
            VectorDiff::PopFront => "PopFront".into(),
            VectorDiff::PopBack => "PopBack".into(),
            VectorDiff::Insert { index, .. } => format!("Insert({index})"),
            VectorDiff::Set { index, .. } => format!("Set({index})"),
            VectorDiff::Remove { index } => format!("Remove({index})"),
            VectorDiff::Truncate { length } => format!("Truncate({length})"),
            VectorDiff::Reset { values } => format!("Reset({})", values.len()),
        })
        .collect()
}

#[actix_rt::test]
async fn message_changes_rebuild_every_snapshot_of_bobs_window() {
    let emu = emulator().await;
    let alice = session(&emu, "alice").await;
    let bob = session(&emu, "bob").await;
    conversation(&alice, "c1", &["bob"]).await;
    let chat = alice.conversation("c1");
    for i in 0..35 {
        chat.send(format!("m{i}").as_str()).await.unwrap();
    }
    let sub = bob.conversation("c1").subscribe_messages();
    let (first, mut changes) = sub.diffs().await.expect("active");
    let mut shown = first.items();
    assert_eq!(shown.len(), 30);
    let latest = || sub.items();

    // A new message arrives at the front.
    let sent = chat.send("hello").await.unwrap();
    let seen = follow(&mut changes, &mut shown, latest, |s| s.len() == 31).await;
    assert_eq!(shape(&seen), ["PushFront"]);
    assert_eq!(shown[0].plaintext, "hello");

    // An edit replaces it where it is.
    sent.edit("hello again").await.unwrap();
    let seen = follow(&mut changes, &mut shown, latest, |s| {
        s[0].plaintext == "hello again"
    })
    .await;
    assert_eq!(shape(&seen), ["Set(0)"]);

    // A deletion in the middle removes it there.
    let middle = shown[3].id.clone();
    chat.message(&middle).delete().await.unwrap();
    let seen = follow(&mut changes, &mut shown, latest, |s| s.len() == 30).await;
    assert_eq!(shape(&seen), ["Remove(3)"]);

    // Older messages join at the end.
    sub.load_more(10).await.unwrap();
    let seen = follow(&mut changes, &mut shown, latest, |s| s.len() == 35).await;
    assert_eq!(shape(&seen), ["Append(5)"]);
    assert_eq!(texts(&shown).last().map(String::as_str), Some("m0"));
    assert_eq!(shown, sub.items());
}

#[actix_rt::test]
async fn a_conversation_that_becomes_active_moves_to_the_top_as_a_remove_and_an_insert() {
    let emu = emulator().await;
    let alice = session(&emu, "alice").await;
    for c in ["c1", "c2", "c3"] {
        conversation(&alice, c, &[]).await;
        alice.conversation(c).send(c).await.unwrap();
        actix_rt::time::sleep(Duration::from_millis(5)).await;
    }
    let list = alice.subscribe_conversations(ConversationFilter::default());
    let (first, mut changes) = list.diffs().await.expect("active");
    let mut shown = first.items();
    let ids = |l: &List<talkjs::snapshot::ConversationSnapshot>| {
        l.iter().map(|c| c.id.clone()).collect::<Vec<_>>()
    };
    assert_eq!(ids(&shown), ["c3", "c2", "c1"]);

    alice.conversation("c1").send("back on top").await.unwrap();
    let seen = follow(
        &mut changes,
        &mut shown,
        || list.items(),
        |s| {
            ids(s)[0] == "c1"
                && s[0]
                    .last_message
                    .as_ref()
                    .is_some_and(|m| m.plaintext == "back on top")
        },
    )
    .await;
    assert_eq!(ids(&shown), ["c1", "c3", "c2"]);
    // The move is a Remove and an Insert, not a Reset (its last message may show in a second
    // snapshot, as a Set).
    let shape = shape(&seen);
    assert_eq!(shape[..2], ["Remove(2)", "Insert(0)"], "{shape:?}");
    assert!(shape[2..].iter().all(|d| d == "Set(0)"), "{shape:?}");
    assert_eq!(ids(&list.items()), ["c1", "c3", "c2"]);
}

#[actix_rt::test]
async fn reactions_join_and_leave_as_single_changes() {
    let emu = emulator().await;
    let alice = session(&emu, "alice").await;
    let bob = session(&emu, "bob").await;
    conversation(&alice, "c1", &["bob"]).await;
    let m = alice.conversation("c1").send("react to me").await.unwrap();
    let thumbs = |s: &talkjs::TalkSession| s.conversation("c1").message(m.id()).reactions("👍");
    thumbs(&alice).add().await.unwrap();

    let sub = alice
        .conversation("c1")
        .message(m.id())
        .reactions("👍")
        .subscribe();
    let (first, mut changes) = sub.diffs().await.expect("active");
    let mut shown = first.items();
    assert_eq!(shown.len(), 1);

    thumbs(&bob).add().await.unwrap();
    let seen = follow(&mut changes, &mut shown, || sub.items(), |s| s.len() == 2).await;
    assert_eq!(shape(&seen), ["Append(1)"]);
    thumbs(&alice).remove().await.unwrap();
    let seen = follow(&mut changes, &mut shown, || sub.items(), |s| s.len() == 1).await;
    assert_eq!(shape(&seen), ["Remove(0)"]);
    assert_eq!(shown.len(), 1);
}

#[actix_rt::test]
async fn a_listener_that_falls_behind_gets_one_reset_instead_of_a_backlog() {
    let emu = emulator().await;
    let alice = session(&emu, "alice").await;
    let bob = session(&emu, "bob").await;
    conversation(&alice, "c1", &["bob"]).await;
    let sub = bob.conversation("c1").subscribe_messages();
    let (first, mut changes) = sub.diffs().await.expect("active");
    let mut shown = first.items();

    // Nobody reads the stream while more snapshots come than it holds.
    let total = talkjs::DIFF_BUFFER + 40;
    let chat = alice.conversation("c1");
    for i in 0..total {
        chat.send(format!("n{i}").as_str()).await.unwrap();
    }
    eventually("bob's window holds them all", || {
        (sub.items().len() == total).then_some(())
    })
    .await;
    let seen = follow(
        &mut changes,
        &mut shown,
        || sub.items(),
        |s| s.len() == total,
    )
    .await;
    let resets = flat(&seen)
        .iter()
        .filter(|d| matches!(d, VectorDiff::Reset { .. }))
        .count();
    assert_eq!(resets, 1, "one Reset in place of what did not fit");
    assert!(
        seen.len() <= talkjs::DIFF_BUFFER + 1,
        "at most the buffer, then the Reset"
    );
    assert!(matches!(
        seen.last().unwrap()[..],
        [VectorDiff::Reset { .. }]
    ));
    assert_eq!(shown.len(), total);
}

#[actix_rt::test]
async fn a_bounded_window_keeps_the_newest_and_drops_the_oldest_as_a_change() {
    let emu = emulator().await;
    let alice = session(&emu, "alice").await;
    let bob = session(&emu, "bob").await;
    conversation(&alice, "c1", &["bob"]).await;
    let chat = alice.conversation("c1");
    for i in 0..4 {
        chat.send(format!("m{i}").as_str()).await.unwrap();
    }
    let sub = bob
        .conversation("c1")
        .subscribe_messages_with(WindowOptions::default().max_window(5));
    let (first, mut changes) = sub.diffs().await.expect("active");
    let mut shown = first.items();
    assert_eq!(texts(&shown), ["m3", "m2", "m1", "m0"]);
    assert!(sub.connected().await.unwrap().loaded_all);

    chat.send("m4").await.unwrap();
    follow(&mut changes, &mut shown, || sub.items(), |s| s.len() == 5).await;
    let m5 = chat.send("m5").await.unwrap();
    let seen = follow(
        &mut changes,
        &mut shown,
        || sub.items(),
        |s| s[0].plaintext == "m5",
    )
    .await;
    assert_eq!(shape(&seen), ["PushFront", "PopBack"]);
    assert_eq!(texts(&shown), ["m5", "m4", "m3", "m2", "m1"]);
    let state = sub.state();
    assert!(
        matches!(
            state,
            talkjs::snapshot::SubscriptionState::Active {
                loaded_all: false,
                ..
            }
        ),
        "older messages left the window"
    );

    // It never grows past the bound; after a deletion, load_more fills it up to the bound.
    sub.load_more(10).await.unwrap();
    assert_eq!(sub.items().len(), 5);
    m5.delete().await.unwrap();
    follow(&mut changes, &mut shown, || sub.items(), |s| s.len() == 4).await;
    sub.load_more(10).await.unwrap();
    follow(&mut changes, &mut shown, || sub.items(), |s| s.len() == 5).await;
    assert_eq!(texts(&shown), ["m4", "m3", "m2", "m1", "m0"]);
}

/// Collects what it receives.
struct Collector(Arc<Mutex<Vec<MessagesDiff>>>);

impl Actor for Collector {
    type Context = Context<Self>;
}

impl Handler<MessagesDiff> for Collector {
    type Result = ();

    fn handle(&mut self, diff: MessagesDiff, _: &mut Context<Self>) {
        self.0.lock().unwrap().push(diff);
    }
}

#[actix_rt::test]
async fn an_actor_receives_the_changes_in_its_mailbox() {
    let emu = emulator().await;
    let alice = session(&emu, "alice").await;
    let bob = session(&emu, "bob").await;
    conversation(&alice, "c1", &["bob"]).await;
    let sub = bob.conversation("c1").subscribe_messages();
    let got = Arc::new(Mutex::new(Vec::new()));
    let actor = Collector(got.clone()).start();
    let first = sub.send_to_diffs(actor.recipient()).await.expect("active");
    for text in ["one", "two"] {
        alice.conversation("c1").send(text).await.unwrap();
    }
    let shown = eventually("both arrive", || {
        let batches: Vec<_> = got
            .lock()
            .unwrap()
            .iter()
            .map(|d| d.diffs.clone())
            .collect();
        let shown = first.items().apply(batches.into_iter().flatten());
        (shown.len() == 2).then_some(shown)
    })
    .await;
    assert_eq!(texts(&shown), ["two", "one"]);
    assert!(
        got.lock()
            .unwrap()
            .iter()
            .all(|d| d.subscription == sub.id())
    );
}
