//! The participant, typing, reaction and online subscriptions against the real emulator over
//! real websockets: first snapshots, live updates made by other users' sessions, windows and
//! `load_more`, users renamed while shown, and the error state of empty ids; and the last
//! message a conversation subscription and a conversation list share (fetched once, kept live).

use std::sync::{Arc, Mutex};

use talkjs::params::{
    CreateParticipantParams, CreateUserParams, SetParticipantParams, SetUserParams,
};
use talkjs::protocol::wire::{Access, Notify};
use talkjs::snapshot::{
    ParticipantSnapshot, SingleReactionSnapshot, SubscriptionState, TypingSnapshot,
};
use talkjs::{ErrorKind, ListSnapshot, TalkSession, Terminated};
use talkjs_emulator::RunningEmulator;

mod common;

use common::{conversation, emulator, eventually, session};

fn participant_ids(s: &ListSnapshot<ParticipantSnapshot>) -> Vec<String> {
    s.as_ref()
        .map(|l| l.iter().map(|p| p.user.id.clone()).collect())
        .unwrap_or_default()
}

fn reaction_ids(s: &ListSnapshot<SingleReactionSnapshot>) -> Vec<String> {
    s.as_ref()
        .map(|l| l.iter().map(|r| r.user.id.clone()).collect())
        .unwrap_or_default()
}

fn typing_ids(s: &Option<Arc<TypingSnapshot>>) -> Option<Vec<String>> {
    match s.as_deref()? {
        TypingSnapshot::Few { users } => Some(users.iter().map(|u| u.id.clone()).collect()),
        TypingSnapshot::Many => None,
    }
}

/// The recorded requests on paths containing `part`, as (method, limit, has a cursor).
fn requests_on(emu: &RunningEmulator, part: &str) -> Vec<(String, Option<u64>, bool)> {
    emu.take_requests()
        .into_iter()
        .filter(|r| r.path.contains(part))
        .map(|r| {
            let data: serde_json::Value = serde_json::from_str(&r.data).unwrap();
            (
                r.method,
                data.get("limit").and_then(|l| l.as_u64()),
                data.get("cursor").is_some(),
            )
        })
        .collect()
}

fn loaded_all<T>(state: SubscriptionState<T>) -> bool {
    matches!(
        state,
        SubscriptionState::Active {
            loaded_all: true,
            ..
        }
    )
}

/// Records every snapshot a subscription delivers, to check that none repeats.
fn record<T: Clone + Send + Sync + 'static>(sub: &talkjs::Subscription<T>) -> Arc<Mutex<Vec<T>>> {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    sub.on_snapshot(move |s, _| log.lock().unwrap().push(s.clone()));
    seen
}

fn assert_no_repeats<T: PartialEq + std::fmt::Debug>(log: &[T]) {
    for pair in log.windows(2) {
        assert_ne!(pair[0], pair[1], "an unchanged snapshot was re-emitted");
    }
}

#[actix_rt::test]
async fn participants_start_with_the_newest_ten_and_load_more_older_ones() {
    let emu = emulator().await;
    let alice = session(&emu, "alice").await;
    let ids: Vec<String> = (1..=12).map(|i| format!("u{i:02}")).collect();
    for id in &ids {
        alice
            .user(id.as_str())
            .create_if_not_exists(CreateUserParams::new(id.to_uppercase()))
            .await
            .unwrap();
    }
    let others: Vec<&str> = ids.iter().map(String::as_str).collect();
    conversation(&alice, "c1", &others).await;

    emu.record_requests();
    let sub = alice.conversation("c1").subscribe_participants();
    let first = sub.connected().await.expect("active");
    let newest: Vec<String> = ids.iter().rev().take(10).cloned().collect();
    assert_eq!(participant_ids(&first.snapshot), newest);
    assert!(!first.loaded_all);
    assert_eq!(first.snapshot.as_ref().unwrap()[0].user.name, "U12");

    // More than 50 at once is refused before anything is sent, as in the official client.
    let err = sub.load_more(51).await.unwrap_err();
    assert!(matches!(err.kind(), ErrorKind::InvalidArgument(_)), "{err}");
    assert_eq!(participant_ids(&sub.latest().unwrap()), newest);

    sub.load_more(3).await.unwrap();
    let all = sub.latest().unwrap();
    let mut expected: Vec<String> = ids.iter().rev().cloned().collect();
    expected.push("alice".into());
    assert_eq!(participant_ids(&all), expected);
    assert!(loaded_all(sub.state()));
    // Nothing more to load: a no-op.
    sub.load_more(10).await.unwrap();
    assert_eq!(participant_ids(&sub.latest().unwrap()), expected);
    // The official client's frames: SUBSCRIBE, GET {limit:10}, then GET {limit:3, cursor}.
    assert_eq!(
        requests_on(&emu, "/participants"),
        [
            ("SUBSCRIBE".to_string(), None, false),
            ("GET".to_string(), Some(10), false),
            ("GET".to_string(), Some(3), true),
        ]
    );
}

#[actix_rt::test]
async fn participants_follow_joins_edits_renames_and_leaves() {
    let emu = emulator().await;
    let alice = session(&emu, "alice").await;
    let bob = session(&emu, "bob").await;
    let dave = session(&emu, "dave").await;
    conversation(&alice, "c1", &["bob"]).await;

    let sub = alice.conversation("c1").subscribe_participants();
    let first = sub.connected().await.expect("active");
    assert_eq!(participant_ids(&first.snapshot), ["bob", "alice"]);
    assert!(first.loaded_all);
    let log = record(&sub);

    // Bob adds Dave: he joins at the front.
    bob.conversation("c1")
        .participant("dave")
        .create_if_not_exists(CreateParticipantParams::new())
        .await
        .unwrap();
    eventually("dave joins the list", || {
        (participant_ids(&sub.latest()?) == ["dave", "bob", "alice"]).then_some(())
    })
    .await;

    // Bob makes Dave read-only and mentions-only.
    bob.conversation("c1")
        .participant("dave")
        .edit(
            SetParticipantParams::new()
                .access(Access::Read)
                .notify(Notify::MentionsOnly),
        )
        .await
        .unwrap();
    eventually("dave's edit shows", || {
        let s = sub.latest()??;
        (s[0].access == Access::Read && s[0].notify == Notify::MentionsOnly).then_some(())
    })
    .await;

    // Dave renames himself: the list shows the new name.
    dave.current_user()
        .set(SetUserParams::new().name("Dave Davis"))
        .await
        .unwrap();
    eventually("dave's new name shows", || {
        (sub.latest()??[0].user.name == "Dave Davis").then_some(())
    })
    .await;

    // Bob removes Dave.
    bob.conversation("c1")
        .participant("dave")
        .delete()
        .await
        .unwrap();
    eventually("dave leaves the list", || {
        (participant_ids(&sub.latest()?) == ["bob", "alice"]).then_some(())
    })
    .await;

    // Bob removes Alice: she can no longer see the list. Adding her back reloads it.
    bob.conversation("c1")
        .participant("alice")
        .delete()
        .await
        .unwrap();
    eventually("the list is gone", || sub.latest()?.is_none().then_some(())).await;
    bob.conversation("c1")
        .participant("alice")
        .create_if_not_exists(CreateParticipantParams::new())
        .await
        .unwrap();
    eventually("the list is back", || {
        (participant_ids(&sub.latest()?) == ["alice", "bob"]).then_some(())
    })
    .await;
    assert_no_repeats(&log.lock().unwrap());
}

#[actix_rt::test]
async fn participants_catch_up_after_a_dropped_connection() {
    let emu = emulator().await;
    let alice = session(&emu, "alice").await;
    let bob = session(&emu, "bob").await;
    session(&emu, "carol").await;
    conversation(&alice, "c1", &["bob"]).await;
    let sub = alice.conversation("c1").subscribe_participants();
    sub.connected().await.expect("active");

    emu.drop_connections();
    bob.conversation("c1")
        .participant("carol")
        .create_if_not_exists(CreateParticipantParams::new())
        .await
        .unwrap();
    bob.conversation("c1")
        .participant("bob")
        .delete()
        .await
        .unwrap();
    eventually("the list catches up", || {
        (participant_ids(&sub.latest()?) == ["carol", "alice"]).then_some(())
    })
    .await;
    assert!(loaded_all(sub.state()));
}

#[actix_rt::test]
async fn one_participant_follows_joining_edits_renames_and_leaving() {
    let emu = emulator().await;
    let alice = session(&emu, "alice").await;
    let bob = session(&emu, "bob").await;
    let carol = session(&emu, "carol").await;
    conversation(&alice, "c1", &[]).await;

    let sub = alice.conversation("c1").participant("bob").subscribe();
    let first = sub.connected().await.expect("active");
    assert_eq!(first.snapshot, None, "bob is not a participant yet");
    assert!(first.loaded_all);
    let log = record(&sub);

    alice
        .conversation("c1")
        .participant("bob")
        .create_if_not_exists(CreateParticipantParams::new().access(Access::Read))
        .await
        .unwrap();
    let joined = eventually("bob joins", || sub.latest()?).await;
    assert_eq!(joined.user.id, "bob");
    assert_eq!(joined.access, Access::Read);

    alice
        .conversation("c1")
        .participant("bob")
        .edit(SetParticipantParams::new().access(Access::ReadWrite))
        .await
        .unwrap();
    eventually("bob's edit shows", || {
        (sub.latest()??.access == Access::ReadWrite).then_some(())
    })
    .await;

    bob.current_user()
        .set(SetUserParams::new().name("Robert"))
        .await
        .unwrap();
    eventually("bob's new name shows", || {
        (sub.latest()??.user.name == "Robert").then_some(())
    })
    .await;

    alice
        .conversation("c1")
        .participant("bob")
        .delete()
        .await
        .unwrap();
    eventually("bob leaves", || sub.latest()?.is_none().then_some(())).await;
    assert_no_repeats(&log.lock().unwrap());

    // Someone outside the conversation sees `None`, not an error.
    let outside = carol.conversation("c1").participant("alice").subscribe();
    assert_eq!(outside.connected().await.expect("active").snapshot, None);
}

#[actix_rt::test]
async fn typing_lists_a_few_then_many_then_stops_on_send() {
    let emu = emulator().await;
    let alice = session(&emu, "alice").await;
    let names = ["t1", "t2", "t3", "t4", "t5", "t6"];
    let mut typists = Vec::new();
    for n in names {
        typists.push(session(&emu, n).await);
    }
    conversation(&alice, "c1", &names).await;

    let sub = alice.conversation("c1").subscribe_typing();
    let first = sub.connected().await.expect("active");
    assert_eq!(typing_ids(&first.snapshot), Some(vec![]));
    let log = record(&sub);

    // Five others typing are listed, the first to start first.
    for (i, t) in typists.iter().take(5).enumerate() {
        t.conversation("c1").mark_as_typing().await.unwrap();
        let want: Vec<String> = names[..=i].iter().map(|s| s.to_string()).collect();
        eventually("the typist is listed", || {
            (typing_ids(&sub.latest()?)? == want).then_some(())
        })
        .await;
    }
    // A sixth makes it "many".
    typists[5]
        .conversation("c1")
        .mark_as_typing()
        .await
        .unwrap();
    eventually("many are typing", || {
        matches!(sub.latest()?.as_deref(), Some(TypingSnapshot::Many)).then_some(())
    })
    .await;
    // Typing again while "many" changes nothing visible.
    typists[0]
        .conversation("c1")
        .mark_as_typing()
        .await
        .unwrap();

    // Sending stops typing: back to a list of five.
    typists[5].conversation("c1").send("done").await.unwrap();
    let five = eventually("back to a list", || typing_ids(&sub.latest()?)).await;
    assert_eq!(five, ["t2", "t3", "t4", "t5", "t1"]);
    typists[1].conversation("c1").send("me too").await.unwrap();
    eventually("t2 stops typing", || {
        (typing_ids(&sub.latest()?)? == ["t3", "t4", "t5", "t1"]).then_some(())
    })
    .await;
    let log = log.lock().unwrap();
    assert_no_repeats(&log);
    assert_eq!(
        log.iter()
            .filter(|s| matches!(s.as_deref(), Some(TypingSnapshot::Many)))
            .count(),
        1,
        "\"many\" was emitted once: {log:?}"
    );
}

#[actix_rt::test]
async fn typing_is_none_outside_and_arrives_on_joining() {
    let emu = emulator().await;
    let alice = session(&emu, "alice").await;
    let bob = session(&emu, "bob").await;
    conversation(&alice, "c1", &[]).await;

    let sub = bob.conversation("c1").subscribe_typing();
    assert_eq!(sub.connected().await.expect("active").snapshot, None);
    alice.conversation("c1").mark_as_typing().await.unwrap();
    alice
        .conversation("c1")
        .participant("bob")
        .create_if_not_exists(CreateParticipantParams::new())
        .await
        .unwrap();
    // `typing.available` after joining shows who is typing already.
    eventually("bob sees alice typing", || {
        (typing_ids(&sub.latest()?)? == ["alice"]).then_some(())
    })
    .await;
    // A typist's rename shows.
    alice
        .current_user()
        .set(SetUserParams::new().name("Alice A"))
        .await
        .unwrap();
    eventually("the typist's new name shows", || {
        let s = sub.latest()??;
        (s.users().first()?.name == "Alice A").then_some(())
    })
    .await;
    alice
        .conversation("c1")
        .participant("bob")
        .delete()
        .await
        .unwrap();
    eventually("bob no longer sees typing", || {
        sub.latest()?.is_none().then_some(())
    })
    .await;
}

#[actix_rt::test]
async fn reactions_follow_adds_removes_sends_and_deletes() {
    let emu = emulator().await;
    let alice = session(&emu, "alice").await;
    let bob = session(&emu, "bob").await;
    conversation(&alice, "c1", &["bob"]).await;
    let m = alice.conversation("c1").send("react to me").await.unwrap();

    let sub = alice
        .conversation("c1")
        .message(m.id())
        .reactions("👍")
        .subscribe();
    let first = sub.connected().await.expect("active");
    assert_eq!(first.snapshot.as_ref().map(|l| l.len()), Some(0));
    assert!(first.loaded_all);
    let log = record(&sub);

    let thumbs = |s: &TalkSession| s.conversation("c1").message(m.id()).reactions("👍");
    thumbs(&bob).add().await.unwrap();
    eventually("bob's reaction shows", || {
        (reaction_ids(&sub.latest()?) == ["bob"]).then_some(())
    })
    .await;
    thumbs(&alice).add().await.unwrap();
    eventually("alice's reaction follows bob's", || {
        (reaction_ids(&sub.latest()?) == ["bob", "alice"]).then_some(())
    })
    .await;
    // Another emoji is another list.
    bob.conversation("c1")
        .message(m.id())
        .reactions(":cat:")
        .add()
        .await
        .unwrap();
    bob.current_user()
        .set(SetUserParams::new().name("Bobby"))
        .await
        .unwrap();
    eventually("bob's new name shows", || {
        (sub.latest()??[0].user.name == "Bobby").then_some(())
    })
    .await;
    thumbs(&bob).remove().await.unwrap();
    eventually("bob's reaction goes", || {
        (reaction_ids(&sub.latest()?) == ["alice"]).then_some(())
    })
    .await;

    // Another message deleted leaves this list alone (the official client empties it; see
    // docs/protocol.md §13): a reaction added afterwards still shows.
    let other = bob.conversation("c1").send("oops").await.unwrap();
    other.delete().await.unwrap();
    thumbs(&bob).add().await.unwrap();
    eventually("the list lives on", || {
        (reaction_ids(&sub.latest()?) == ["alice", "bob"]).then_some(())
    })
    .await;

    // The message itself deleted: `None`, and it stays so.
    m.delete().await.unwrap();
    eventually("the message's list is gone", || {
        sub.latest()?.is_none().then_some(())
    })
    .await;
    bob.conversation("c1").send("after").await.unwrap();
    let again = alice
        .conversation("c1")
        .message(m.id())
        .reactions("👍")
        .subscribe();
    assert_eq!(again.connected().await.expect("active").snapshot, None);
    assert_eq!(sub.latest(), Some(None));
    assert_no_repeats(&log.lock().unwrap());
}

#[actix_rt::test]
async fn reactions_start_with_the_oldest_thirty_and_load_more_newer_ones() {
    let emu = emulator().await;
    let alice = session(&emu, "alice").await;
    let names: Vec<String> = (1..=32).map(|i| format!("r{i:02}")).collect();
    let mut sessions = Vec::new();
    for n in &names {
        sessions.push(session(&emu, n).await);
    }
    let others: Vec<&str> = names.iter().map(String::as_str).collect();
    conversation(&alice, "c1", &others).await;
    let m = alice.conversation("c1").send("vote").await.unwrap();
    for s in &sessions {
        s.conversation("c1")
            .message(m.id())
            .reactions("🎉")
            .add()
            .await
            .unwrap();
    }

    emu.record_requests();
    let sub = alice
        .conversation("c1")
        .message(m.id())
        .reactions("🎉")
        .subscribe();
    let first = sub.connected().await.expect("active");
    assert_eq!(reaction_ids(&first.snapshot), names[..30]);
    assert!(!first.loaded_all);
    // The official default count for reactions: 30.
    sub.load_more_default().await.unwrap();
    assert_eq!(reaction_ids(&sub.latest().unwrap()), names);
    assert!(loaded_all(sub.state()));
    assert_eq!(
        requests_on(&emu, "/reactions/"),
        [
            ("SUBSCRIBE".to_string(), None, false),
            ("GET".to_string(), Some(30), false),
            ("GET".to_string(), Some(30), true),
        ]
    );
    let s = sub.latest().unwrap().unwrap();
    assert!(
        s.to_vec()
            .windows(2)
            .all(|w| w[0].created_at <= w[1].created_at)
    );
}

#[actix_rt::test]
async fn online_status_follows_connections_renames_and_creation() {
    let emu = emulator().await;
    let alice = session(&emu, "alice").await;
    let bob = session(&emu, "bob").await;

    let sub = bob.user("alice").subscribe_online();
    let first = sub.connected().await.expect("active");
    assert_eq!(first.snapshot.as_ref().unwrap().user.name, "alice");
    // The emulator counts a user online while they have an authenticated socket. Alice's
    // session holds nothing, so its socket closes when idle.
    eventually("alice is offline", || {
        (!sub.latest()??.is_connected).then_some(())
    })
    .await;
    // A subscription keeps her socket open.
    let keep = alice.current_user().subscribe();
    keep.connected().await.unwrap();
    eventually("alice is online", || {
        sub.latest()??.is_connected.then_some(())
    })
    .await;
    alice
        .current_user()
        .set(SetUserParams::new().name("Alice A"))
        .await
        .unwrap();
    eventually("her new name shows", || {
        let s = sub.latest()??;
        (s.user.name == "Alice A" && s.is_connected).then_some(())
    })
    .await;
    keep.unsubscribe();
    eventually("alice is offline again", || {
        (!sub.latest()??.is_connected).then_some(())
    })
    .await;

    // A user who does not exist is `None` until created.
    let zed = bob.user("zed").subscribe_online();
    assert_eq!(zed.connected().await.expect("active").snapshot, None);
    session(&emu, "zed").await;
    let created = eventually("zed exists", || zed.latest()?).await;
    assert_eq!(created.user.id, "zed");
}

#[actix_rt::test]
async fn empty_ids_give_subscriptions_in_the_error_state() {
    let emu = emulator().await;
    let alice = session(&emu, "alice").await;
    let c = alice.conversation("");
    let checks = [
        c.subscribe_participants().terminated().await,
        c.subscribe_typing().terminated().await,
        c.participant("bob").subscribe().terminated().await,
        alice
            .conversation("c1")
            .participant("")
            .subscribe()
            .terminated()
            .await,
        alice
            .conversation("c1")
            .message("")
            .reactions("👍")
            .subscribe()
            .terminated()
            .await,
        alice
            .conversation("c1")
            .message("m1")
            .reactions("")
            .subscribe()
            .terminated()
            .await,
        alice.user("").subscribe_online().terminated().await,
    ];
    for t in checks {
        match t {
            Terminated::Error(e) => {
                assert!(matches!(e.kind(), ErrorKind::InvalidArgument(_)), "{e}");
                assert!(e.to_string().contains("empty"), "{e}");
            }
            other => panic!("expected an error, got {other:?}"),
        }
    }
}

/// Alice's `GET`s of the newest message of `c1` (`{"limit":1}`) since the last call.
fn last_message_gets(emu: &RunningEmulator) -> usize {
    emu.take_requests()
        .into_iter()
        .filter(|r| {
            r.user_id == "alice"
                && r.method == "GET"
                && r.path == "/me/conversations/c1/messages"
                && serde_json::from_str::<serde_json::Value>(&r.data).unwrap()["limit"] == 1
        })
        .count()
}

/// The last message's text and sender of the first conversation of a list snapshot.
fn first_last_message(
    s: &ListSnapshot<talkjs::snapshot::ConversationSnapshot>,
) -> Option<(String, String)> {
    let m = s.as_ref()?.first()?.last_message.clone()?;
    Some((m.plaintext.clone(), m.sender.as_ref()?.id.clone()))
}

#[actix_rt::test]
async fn a_conversation_and_a_list_showing_it_share_one_live_last_message() {
    use talkjs::protocol::filter::ConversationFilter;
    let emu = emulator().await;
    let alice = session(&emu, "alice").await;
    let bob = session(&emu, "bob").await;
    conversation(&alice, "c1", &["bob"]).await;
    alice.conversation("c1").send("first").await.unwrap();
    emu.record_requests();

    let one = alice.conversation("c1").subscribe();
    let shown = one.connected().await.expect("active").snapshot.unwrap();
    assert_eq!(shown.last_message.as_ref().unwrap().plaintext, "first");
    // The list comes to show c1 while the conversation subscription keeps its last message.
    let list = alice.subscribe_conversations(ConversationFilter::default());
    let listed = list.connected().await.expect("active").snapshot;
    assert_eq!(
        first_last_message(&listed),
        Some(("first".into(), "alice".into()))
    );
    assert_eq!(
        last_message_gets(&emu),
        1,
        "the last message is fetched once"
    );

    // A new message becomes the last one of both, from the pushed event.
    bob.conversation("c1").send("second").await.unwrap();
    let expected = Some(("second".to_owned(), "bob".to_owned()));
    eventually("the list shows the new last message", || {
        (first_last_message(&list.latest()?) == expected).then_some(())
    })
    .await;
    eventually("the conversation shows it too", || {
        let m = one.latest()??.last_message.clone()?;
        (m.plaintext == "second").then_some(())
    })
    .await;

    // Kept current by that event, it answers a later subscription without a request.
    let again = alice.subscribe_conversations(ConversationFilter::default());
    let listed = again.connected().await.expect("active").snapshot;
    assert_eq!(first_last_message(&listed), expected);
    assert_eq!(
        last_message_gets(&emu),
        0,
        "the kept last message is reused"
    );

    // Once nothing shows c1 any more, the next subscription fetches it again.
    drop((one, list, again));
    one_more_fetch_after_release(&emu, &alice).await;
}

/// After every subscription showing c1 ended, a new one fetches its last message again.
async fn one_more_fetch_after_release(emu: &RunningEmulator, alice: &TalkSession) {
    use talkjs::protocol::filter::ConversationFilter;
    // Drops reach the actors asynchronously.
    actix_rt::time::sleep(std::time::Duration::from_millis(100)).await;
    let _ = last_message_gets(emu);
    let list = alice.subscribe_conversations(ConversationFilter::default());
    let listed = list.connected().await.expect("active").snapshot;
    assert_eq!(
        first_last_message(&listed),
        Some(("second".into(), "bob".into()))
    );
    assert_eq!(
        last_message_gets(emu),
        1,
        "a released last message is not kept"
    );
}
