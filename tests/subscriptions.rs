//! Live subscriptions against the real emulator over real websockets: first snapshots,
//! updates, windows and `load_more`, nested changes, the three ways of delivery, unsubscribe
//! and drop, and the wire topics they hold.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use talkjs::Terminated;
use talkjs::params::{CreateConversationParams, CreateParticipantParams, SetUserParams};
use talkjs::snapshot::SubscriptionState;

mod common;

use common::{APP, conversation, emulator, eventually, session, timings};

fn texts(s: &talkjs::ListSnapshot<talkjs::snapshot::MessageSnapshot>) -> Vec<String> {
    s.as_ref()
        .map(|l| l.iter().map(|m| m.plaintext.clone()).collect())
        .unwrap_or_default()
}

#[actix_rt::test]
async fn messages_arrive_newest_first_with_live_sender_names() {
    let emu = emulator().await;
    let alice = session(&emu, "alice").await;
    let bob = session(&emu, "bob").await;
    conversation(&alice, "c1", &["bob"]).await;
    alice.conversation("c1").send("first").await.unwrap();

    let sub = bob.conversation("c1").subscribe_messages();
    let first = sub.connected().await.expect("active");
    assert_eq!(texts(&first.snapshot), ["first"]);
    assert!(first.loaded_all);
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    sub.on_snapshot(move |s, _| {
        let names: Vec<String> = s
            .iter()
            .flat_map(|l| l.iter())
            .map(|m| format!("{}: {}", m.sender.as_ref().unwrap().name, m.plaintext))
            .collect();
        log.lock().unwrap().push(names)
    });

    alice
        .conversation("c1")
        .send("second *bold*")
        .await
        .unwrap();
    eventually("the second message shows", || {
        let s = sub.latest()?;
        (texts(&s) == ["second bold", "first"]).then_some(())
    })
    .await;
    let latest = sub.latest().unwrap().unwrap();
    assert_eq!(latest[0].sender.as_ref().unwrap().name, "alice");

    // A sender renaming herself updates every message that shows her, sharing one snapshot.
    alice
        .current_user()
        .set(SetUserParams::new().name("Alice Cooper"))
        .await
        .unwrap();
    let renamed = eventually("the rename shows", || {
        let s = sub.latest()??;
        s.iter()
            .all(|m| m.sender.as_ref().unwrap().name == "Alice Cooper")
            .then_some(s)
    })
    .await;
    assert!(Arc::ptr_eq(
        renamed[0].sender.as_ref().unwrap(),
        renamed[1].sender.as_ref().unwrap()
    ));
    // The closure saw each distinct snapshot once, starting from the current one.
    let log = seen.lock().unwrap().clone();
    assert_eq!(log.first().unwrap(), &["alice: first"]);
    for pair in log.windows(2) {
        assert_ne!(
            pair[0], pair[1],
            "an unchanged snapshot was re-emitted: {log:?}"
        );
    }
    assert_eq!(
        log.last().unwrap(),
        &["Alice Cooper: second bold", "Alice Cooper: first"]
    );
}

#[actix_rt::test]
async fn load_more_grows_the_window_and_larger_requests_win() {
    let emu = emulator().await;
    let alice = session(&emu, "alice").await;
    conversation(&alice, "c1", &[]).await;
    for i in 0..45 {
        alice
            .conversation("c1")
            .send(format!("m{i}").as_str())
            .await
            .unwrap();
    }
    let sub = alice.conversation("c1").subscribe_messages();
    let first = sub.connected().await.unwrap();
    assert_eq!(texts(&first.snapshot).len(), 30);
    assert_eq!(texts(&first.snapshot)[0], "m44");
    assert!(!first.loaded_all);
    let (a, b) = futures_util::join!(sub.load_more(5), sub.load_more(10));
    a.unwrap();
    b.unwrap();
    let s = sub.latest().unwrap();
    assert_eq!(
        texts(&s).len(),
        40,
        "5 then 10 from the same start loads 10"
    );
    assert!(sub.state().latest_snapshot().is_some());
    let too_many = sub.load_more(101).await.unwrap_err();
    assert!(matches!(
        too_many.kind(),
        talkjs::ErrorKind::InvalidArgument(_)
    ));
    sub.load_more(50).await.unwrap();
    let s = sub.latest().unwrap();
    let all = texts(&s);
    assert_eq!(all.len(), 45);
    assert_eq!(all.last().unwrap(), "m0");
    assert!(matches!(
        sub.state(),
        SubscriptionState::Active {
            loaded_all: true,
            ..
        }
    ));
}

#[actix_rt::test]
async fn a_stream_and_an_unsubscribe_and_drop_release_the_wire_topic() {
    let emu = emulator().await;
    let alice = session(&emu, "alice").await;
    conversation(&alice, "c1", &[]).await;
    let sub = alice.conversation("c1").subscribe_messages();
    let mut stream = sub.stream();
    let first = stream.next().await.unwrap();
    assert_eq!(texts(&first.snapshot), Vec::<String>::new());
    alice.conversation("c1").send("hi").await.unwrap();
    let next = stream.next().await.unwrap();
    assert_eq!(texts(&next.snapshot), ["hi"]);
    // Longer than the idle close (300 ms) with nothing in flight: the subscription keeps the
    // socket.
    actix_rt::time::sleep(Duration::from_millis(600)).await;
    let status = alice.status().await.unwrap();
    assert!(
        status.connected && status.connections_started == 1,
        "{status:?}"
    );
    let status = alice.status().await.unwrap();
    assert!(
        status.topics >= 1 && status.subscriptions == 1,
        "{status:?}"
    );

    sub.unsubscribe();
    assert_eq!(sub.terminated().await, Terminated::Unsubscribed);
    assert!(
        stream.next().await.is_none(),
        "the stream ends with the subscription"
    );
    drop(sub);
    // While it lived, the connection stayed open past its idle time.
    // After the linger, the topics are released and the connection closes itself.
    for _ in 0..100 {
        let st = alice.status().await.unwrap();
        if st.topics == 0 && st.subscriptions == 0 && !st.connected {
            return;
        }
        actix_rt::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "the topics were never released or the connection never closed: {:?}",
        alice.status().await.unwrap()
    );
}

#[actix_rt::test]
async fn a_conversation_follows_joining_edits_its_last_message_and_leaving() {
    use talkjs::params::SetConversationParams;
    let emu = emulator().await;
    let alice = session(&emu, "alice").await;
    let bob = session(&emu, "bob").await;
    conversation(&alice, "c1", &[]).await;
    alice.conversation("c1").send("before bob").await.unwrap();

    let sub = bob.conversation("c1").subscribe();
    let first = sub.connected().await.unwrap();
    assert!(first.snapshot.is_none(), "bob is not a participant yet");

    alice
        .conversation("c1")
        .participant("bob")
        .create_if_not_exists(CreateParticipantParams::new())
        .await
        .unwrap();
    let joined = eventually("bob sees the conversation", || sub.latest().flatten()).await;
    assert_eq!(
        joined.last_message.as_ref().unwrap().plaintext,
        "before bob"
    );

    alice.conversation("c1").send("hello bob").await.unwrap();
    alice
        .conversation("c1")
        .set(SetConversationParams::new().subject("Plans"))
        .await
        .unwrap();
    eventually("the last message and the subject update", || {
        let c = sub.latest()??;
        (c.subject.as_deref() == Some("Plans")
            && c.last_message.as_ref()?.plaintext == "hello bob"
            && c.last_message.as_ref()?.sender.as_ref()?.name == "alice")
            .then_some(())
    })
    .await;

    alice
        .conversation("c1")
        .participant("bob")
        .delete()
        .await
        .unwrap();
    eventually("bob no longer sees it", || {
        sub.latest().is_some_and(|c| c.is_none()).then_some(())
    })
    .await;
}

#[actix_rt::test]
async fn the_conversation_list_is_windowed_ordered_filtered_and_shares_one_wire_subscription() {
    use talkjs::protocol::filter::{
        ConversationFilter, CustomFieldFilter, SimpleConversationFilter,
    };
    let emu = emulator().await;
    let alice = session(&emu, "alice").await;
    for i in 0..25 {
        let mut params = CreateConversationParams::new();
        if i % 5 == 0 {
            params = params.custom("team", "red");
        }
        alice
            .conversation(format!("c{i:02}"))
            .create_if_not_exists(params)
            .await
            .unwrap();
        alice
            .conversation(format!("c{i:02}"))
            .send(format!("in c{i:02}").as_str())
            .await
            .unwrap();
    }
    emu.record_requests();
    let all = alice.subscribe_conversations(ConversationFilter::default());
    let red = alice.subscribe_conversations(ConversationFilter::Simple(
        SimpleConversationFilter::new().custom("team", CustomFieldFilter::eq("red")),
    ));
    let first = all.connected().await.unwrap();
    let ids: Vec<String> = first
        .snapshot
        .as_ref()
        .unwrap()
        .iter()
        .map(|c| c.id.clone())
        .collect();
    assert_eq!(ids.len(), 20);
    assert_eq!(ids[0], "c24");
    assert!(!first.loaded_all);
    assert_eq!(
        first.snapshot.as_ref().unwrap()[0]
            .last_message
            .as_ref()
            .unwrap()
            .plaintext,
        "in c24"
    );
    let reds = red.connected().await.unwrap();
    let red_ids: Vec<String> = reds
        .snapshot
        .unwrap()
        .iter()
        .map(|c| c.id.clone())
        .collect();
    assert_eq!(red_ids, ["c20", "c15", "c10", "c05", "c00"]);
    assert!(reds.loaded_all);
    let subscribes = emu
        .take_requests()
        .into_iter()
        .filter(|r| r.method == "SUBSCRIBE" && r.path == "/me/conversations")
        .count();
    assert_eq!(subscribes, 1, "filtered lists share one wire subscription");

    // A conversation that starts matching joins the list it now matches; both lists ask about
    // it, with one request between them.
    use talkjs::params::SetConversationParams;
    alice
        .conversation("c03")
        .set(SetConversationParams::new().custom("team", "red"))
        .await
        .unwrap();
    eventually("c03 joins the red list", || {
        let r = red.latest()??;
        r.iter().any(|c| c.id == "c03").then_some(())
    })
    .await;
    let fetches = emu
        .take_requests()
        .into_iter()
        .filter(|r| r.method == "GET" && r.path == "/me/conversations/c03")
        .count();
    assert_eq!(
        fetches, 1,
        "concurrent lists share one fetch of the conversation"
    );
    assert!(
        !all.latest().unwrap().unwrap().iter().any(|c| c.id == "c03"),
        "too old for the unfiltered window"
    );

    // A message in an old conversation brings it to the top of both lists.
    alice.conversation("c00").send("bump").await.unwrap();
    eventually("c00 moves to the top", || {
        let a = all.latest()??;
        let r = red.latest()??;
        (a[0].id == "c00" && a[0].last_message.as_ref()?.plaintext == "bump" && r[0].id == "c00")
            .then_some(())
    })
    .await;

    all.load_more(10).await.unwrap();
    let s = all.latest().unwrap().unwrap();
    assert_eq!(s.len(), 25);
    assert!(all.state().latest_snapshot().is_some());
    assert!(matches!(
        all.state(),
        SubscriptionState::Active {
            loaded_all: true,
            ..
        }
    ));
    let mut unique: Vec<&str> = s.iter().map(|c| c.id.as_str()).collect();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 25);
}

#[actix_rt::test]
async fn a_user_who_leaves_a_list_is_no_longer_watched_and_can_be_evicted() {
    let emu = emulator().await;
    let alice = session(&emu, "alice").await;
    let _bob = session(&emu, "bob").await;
    conversation(&alice, "c1", &["bob"]).await;
    let participants = alice.conversation("c1").subscribe_participants();
    let first = participants.connected().await.unwrap();
    assert_eq!(first.snapshot.map(|l| l.len()), Some(2));
    let cache = alice.cache().clone();
    let stats = cache.stats().await;
    assert_eq!(
        (stats.users, stats.idle_users),
        (2, 0),
        "both shown, both watched"
    );

    alice
        .conversation("c1")
        .participant("bob")
        .delete()
        .await
        .unwrap();
    eventually("bob leaves the list", || {
        (participants.latest()??.len() == 1).then_some(())
    })
    .await;
    for _ in 0..100 {
        let stats = cache.stats().await;
        if stats.idle_users == 1 {
            // Idle users are dropped (and unsubscribed) after the linger time.
            for _ in 0..100 {
                if cache.stats().await.users == 1 {
                    return;
                }
                actix_rt::time::sleep(Duration::from_millis(20)).await;
            }
            panic!("bob was never evicted: {:?}", cache.stats().await);
        }
        actix_rt::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("bob is still watched: {:?}", cache.stats().await);
}

#[actix_rt::test]
async fn subscriptions_end_in_the_error_state_with_their_session_and_empty_ids_never_start() {
    let emu = emulator().await;
    let alice = session(&emu, "alice").await;
    let unknown = alice.conversation("nope").subscribe_messages();
    assert_eq!(
        unknown.connected().await.unwrap().snapshot,
        None,
        "a conversation the user cannot see shows None"
    );
    let me = alice.current_user().subscribe();
    assert_eq!(
        me.connected().await.unwrap().snapshot.unwrap().name,
        "alice"
    );

    alice.terminate("shutting down");
    for sub in [&unknown] {
        match sub.terminated().await {
            Terminated::Error(e) => {
                assert!(
                    matches!(e.kind(), talkjs::ErrorKind::SessionTerminated(_)),
                    "{e}"
                );
                assert!(e.to_string().contains("shutting down"), "{e}");
            }
            other => panic!("expected the error state, got {other:?}"),
        }
    }
    assert!(matches!(me.terminated().await, Terminated::Error(_)));
    // A subscription made after the end never starts.
    let late = alice.conversation("c1").subscribe_messages();
    assert!(matches!(late.terminated().await, Terminated::Error(_)));
    let empty = alice.conversation("").subscribe_messages();
    match empty.connected().await {
        Err(Terminated::Error(e)) => {
            assert!(
                matches!(e.kind(), talkjs::ErrorKind::InvalidArgument(_)),
                "{e}"
            )
        }
        other => panic!("expected InvalidArgument, got {other:?}"),
    }
    // The state still shows the error's message, as the official client's does.
    assert!(matches!(
        empty.state(),
        SubscriptionState::Error { error } if error.message.contains("empty")
    ));
}

#[actix_rt::test]
async fn a_reaction_updates_the_message_in_every_list_that_shows_it() {
    let emu = emulator().await;
    let alice = session(&emu, "alice").await;
    let bob = session(&emu, "bob").await;
    conversation(&alice, "c1", &["bob"]).await;
    let sent = alice.conversation("c1").send("react to me").await.unwrap();
    let bobs = bob.conversation("c1").subscribe_messages();
    let last = bob.conversation("c1").subscribe();
    bobs.connected().await.unwrap();
    last.connected().await.unwrap();

    bob.conversation("c1")
        .message(sent.id())
        .reactions("👍")
        .add()
        .await
        .unwrap();
    eventually("the reaction shows in the message list", || {
        let m = bobs.latest()??.first()?.clone();
        let r = m.reactions.first()?;
        (r.emoji == "👍" && r.count == 1 && r.current_user_reacted).then_some(())
    })
    .await;
    eventually("and on the conversation's last message", || {
        let c = last.latest()??;
        let r = c.last_message.as_ref()?.reactions.first()?.clone();
        (r.count == 1).then_some(())
    })
    .await;
}

#[actix_rt::test]
async fn a_cache_on_several_threads_and_a_small_bound_still_serve_every_subscription() {
    let emu = emulator().await;
    let alice = session(&emu, "alice").await;
    for u in ["bob", "carol", "dave"] {
        session(&emu, u).await;
    }
    conversation(&alice, "c1", &["bob", "carol", "dave"]).await;
    let busy = talkjs::get_talk_session(APP, "bob")
        .host(emu.host())
        .timings(timings())
        .cache(talkjs::CacheConfig {
            shards: 3,
            users: 1,
            messages: 1,
        })
        .force_create_new()
        .await
        .unwrap();
    for who in ["alice", "carol", "dave"] {
        let s = talkjs::get_talk_session(APP, who)
            .host(emu.host())
            .force_create_new()
            .await
            .unwrap();
        s.conversation("c1")
            .send(format!("from {who}"))
            .await
            .unwrap();
    }
    let sub = busy.conversation("c1").subscribe_messages();
    let first = sub.connected().await.unwrap();
    let senders: Vec<String> = first
        .snapshot
        .unwrap()
        .iter()
        .map(|m| m.sender.as_ref().unwrap().name.clone())
        .collect();
    assert_eq!(senders, ["dave", "carol", "alice"]);
    // One-off reads of users nobody shows: the bound (1 over 3 shards, so 1 each) evicts.
    for u in ["alice", "bob", "carol", "dave"] {
        assert!(busy.user(u).get().await.unwrap().is_some());
    }
    let cache = busy.cache().clone();
    let stats = cache.stats().await;
    assert!(stats.idle_users <= 3, "{stats:?}");
    alice
        .current_user()
        .set(SetUserParams::new().name("Alice B"))
        .await
        .unwrap();
    eventually(
        "the rename reaches the subscription through a shard thread",
        || {
            let l = sub.latest()??;
            (l[2].sender.as_ref()?.name == "Alice B").then_some(())
        },
    )
    .await;
    busy.terminate("done");
}

#[actix_rt::test]
async fn list_snapshots_read_as_slices_and_serialise_to_the_official_json() {
    use talkjs::ListItems;
    let emu = emulator().await;
    let alice = session(&emu, "alice").await;
    conversation(&alice, "c1", &[]).await;
    alice
        .conversation("c1")
        .send("hello *there*")
        .await
        .unwrap();
    let sub = alice.conversation("c1").subscribe_messages();
    assert!(!sub.is_active() && !sub.is_terminated());
    let first = sub.connected().await.unwrap();
    assert!(sub.is_active());
    assert_eq!(first.snapshot.items()[0].plaintext, "hello there");
    assert_eq!(sub.items().len(), 1);
    let json = serde_json::to_value(&first.snapshot).unwrap();
    assert_eq!(json[0]["plaintext"], "hello there");
    assert_eq!(json[0]["sender"]["name"], "alice");
    assert_eq!(json[0]["type"], "UserMessage");
    sub.unsubscribe();
    assert!(sub.is_terminated() && !sub.is_active());
    assert!(sub.items().is_empty());
}

#[actix_rt::test]
async fn reads_of_what_a_live_subscription_shows_are_answered_without_a_request() {
    let emu = emulator().await;
    let alice = session(&emu, "alice").await;
    let _bob = session(&emu, "bob").await;
    conversation(&alice, "c1", &["bob"]).await;
    let sent = alice.conversation("c1").send("hello").await.unwrap();
    let messages = alice.conversation("c1").subscribe_messages();
    let chat = alice.conversation("c1").subscribe();
    let people = alice.conversation("c1").subscribe_participants();
    let shown = messages.connected().await.unwrap().snapshot.unwrap()[0].clone();
    chat.connected().await.unwrap();
    people.connected().await.unwrap();

    emu.record_requests();
    let message = alice
        .conversation("c1")
        .message(sent.id())
        .get()
        .await
        .unwrap();
    assert_eq!(message.as_ref(), Some(&*shown));
    let c = alice.conversation("c1").get().await.unwrap().unwrap();
    assert_eq!(c.last_message.unwrap().plaintext, "hello");
    let bob = alice
        .conversation("c1")
        .participant("bob")
        .get()
        .await
        .unwrap();
    assert_eq!(bob.unwrap().user.name, "bob");
    let sent_meanwhile: Vec<_> = emu
        .take_requests()
        .into_iter()
        .filter(|r| r.user_id == "alice")
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert!(sent_meanwhile.is_empty(), "{sent_meanwhile:?}");

    // Without a subscription, the same reads go to the server.
    messages.unsubscribe();
    messages.terminated().await;
    assert!(
        alice
            .conversation("c1")
            .message(sent.id())
            .get()
            .await
            .unwrap()
            .is_some()
    );
    let asked = emu
        .take_requests()
        .into_iter()
        .filter(|r| r.method == "GET" && r.path.contains("/messages/"))
        .count();
    assert_eq!(asked, 1);
}
