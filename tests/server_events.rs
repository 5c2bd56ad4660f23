//! The runtime against events the server sends on its own initiative, with the in-process
//! emulator: a conversation cleared server-side (`conversation.cleared`), and a server restart
//! announced with `upstream.restarting` (reconnect and resubscribe without refetching), compared
//! with a plain dropped connection (which refetches).

use talkjs::protocol::filter::ConversationFilter;
use talkjs::snapshot::SubscriptionState;
use talkjs_emulator::RunningEmulator;
use talkjs_emulator::world::RecordedRequest;

mod common;

use common::{conversation, emulator, eventually, session};

fn texts(s: &talkjs::ListSnapshot<talkjs::snapshot::MessageSnapshot>) -> Vec<String> {
    s.as_ref()
        .map(|l| l.iter().map(|m| m.plaintext.clone()).collect())
        .unwrap_or_default()
}

fn loaded_all<T>(state: &SubscriptionState<T>) -> bool {
    matches!(
        state,
        SubscriptionState::Active {
            loaded_all: true,
            ..
        }
    )
}

#[actix_rt::test]
async fn a_cleared_conversation_empties_message_lists_and_last_messages() {
    let emu = emulator().await;
    let alice = session(&emu, "alice").await;
    let bob = session(&emu, "bob").await;
    conversation(&alice, "c1", &["bob"]).await;
    for text in ["one", "two", "three"] {
        alice.conversation("c1").send(text).await.unwrap();
    }

    let messages = bob.conversation("c1").subscribe_messages();
    let first = messages.connected().await.expect("active");
    assert_eq!(texts(&first.snapshot), ["three", "two", "one"]);
    let conv = bob.conversation("c1").subscribe();
    let first = conv.connected().await.expect("active");
    let c = first.snapshot.expect("bob is a participant");
    assert_eq!(c.last_message.as_ref().unwrap().plaintext, "three");
    assert_eq!(c.unread_message_count, 3);
    let list = bob.subscribe_conversations(ConversationFilter::default());
    let first = list.connected().await.expect("active");
    assert!(first.snapshot.as_ref().unwrap()[0].last_message.is_some());

    assert_eq!(emu.clear_conversation("c1"), Ok(3));

    eventually("the message list is empty and fully loaded", || {
        let state = messages.state();
        (loaded_all(&state) && state.latest_snapshot()?.as_ref()?.is_empty()).then_some(())
    })
    .await;
    eventually(
        "the conversation has no last message and nothing unread",
        || {
            let c = conv.latest()??;
            (c.last_message.is_none() && c.unread_message_count == 0 && !c.is_unread).then_some(())
        },
    )
    .await;
    eventually("the list entry has no last message", || {
        let l = list.latest()??;
        let c = l.iter().find(|c| c.id == "c1")?;
        c.last_message.is_none().then_some(())
    })
    .await;

    // The conversation goes on: the next message shows everywhere.
    alice.conversation("c1").send("four").await.unwrap();
    eventually("the next message shows", || {
        let m = messages.latest()?;
        let c = conv.latest()??;
        (texts(&m) == ["four"] && c.last_message.as_ref()?.plaintext == "four").then_some(())
    })
    .await;
    assert!(loaded_all(&messages.state()));
    emu.stop().await;
}

/// The requests `user` sent since the last call (recording must be on).
fn requests_of(emu: &RunningEmulator, user: &str) -> Vec<RecordedRequest> {
    emu.take_requests()
        .into_iter()
        .filter(|r| r.user_id == user)
        .collect()
}

const MESSAGES: &str = "/me/conversations/c1/messages";
const CONVERSATION: &str = "/me/conversations/c1";
/// bob's marker (`mark_as_read`, which no subscription sends and which fetches nothing): once it
/// is answered, every frame he sent before it has arrived.
const MARKER: &str = "/me/conversations/c1/read";

fn has(seen: &[RecordedRequest], method: &str, path: &str) -> bool {
    seen.iter().any(|r| r.method == method && r.path == path)
}

/// Waits until bob's socket is back and has subscribed to both topics again (and, his marker
/// answered, the emulator has applied the subscriptions); returns what he sent meanwhile.
async fn resubscribed(
    emu: &RunningEmulator,
    bob: &talkjs::TalkSession,
    what: &str,
) -> Vec<RecordedRequest> {
    let mut seen = Vec::new();
    eventually(what, || {
        seen.extend(requests_of(emu, "bob"));
        (has(&seen, "SUBSCRIBE", MESSAGES) && has(&seen, "SUBSCRIBE", CONVERSATION)).then_some(())
    })
    .await;
    bob.conversation("c1").mark_as_read().await.unwrap();
    seen
}

/// alice sends `text`; both of bob's subscriptions show it; then bob's marker is answered.
/// Whatever bob's runtime did on the reconnect (a refetch is started before events that came
/// later are applied, and requests leave in order) has reached the emulator by then.
async fn new_message_shows(
    alice: &talkjs::TalkSession,
    bob: &talkjs::TalkSession,
    messages: &talkjs::MessageSubscription,
    conv: &talkjs::ConversationSubscription,
    text: &str,
) {
    alice.conversation("c1").send(text).await.unwrap();
    eventually(&format!("{text:?} shows in both subscriptions"), || {
        let m = messages.latest()?;
        let c = conv.latest()??;
        (texts(&m).first()? == text && c.last_message.as_ref()?.plaintext == text).then_some(())
    })
    .await;
    bob.conversation("c1").mark_as_read().await.unwrap();
}

#[actix_rt::test]
async fn after_an_announced_restart_the_runtime_resubscribes_without_refetching() {
    let emu = emulator().await;
    let alice = session(&emu, "alice").await;
    let bob = session(&emu, "bob").await;
    conversation(&alice, "c1", &["bob"]).await;
    alice.conversation("c1").send("one").await.unwrap();
    let messages = bob.conversation("c1").subscribe_messages();
    messages.connected().await.expect("active");
    let conv = bob.conversation("c1").subscribe();
    conv.connected().await.expect("active");
    emu.record_requests();

    // A plain drop: resubscribe and refetch both topics' first pages.
    emu.drop_connections();
    let mut seen = resubscribed(&emu, &bob, "bob resubscribes after the drop").await;
    eventually("bob refetches after the drop", || {
        seen.extend(requests_of(&emu, "bob"));
        (has(&seen, "GET", MESSAGES) && has(&seen, "GET", CONVERSATION)).then_some(())
    })
    .await;
    new_message_shows(&alice, &bob, &messages, &conv, "after the drop").await;
    requests_of(&emu, "bob");

    // An announced restart: resubscribe, nothing refetched, and events still arrive.
    assert!(emu.restart() >= 1, "bob's socket was told");
    let mut seen = resubscribed(&emu, &bob, "bob resubscribes after the restart").await;
    new_message_shows(&alice, &bob, &messages, &conv, "after the restart").await;
    seen.extend(requests_of(&emu, "bob"));
    assert!(has(&seen, "POST", "/session/renew"), "{seen:#?}");
    assert!(has(&seen, "POST", MARKER), "{seen:#?}");
    let gets: Vec<&RecordedRequest> = seen
        .iter()
        .filter(|r| r.method == "GET" && r.path != "/ping")
        .collect();
    assert!(
        gets.is_empty(),
        "nothing is refetched after upstream.restarting: {gets:#?}"
    );
    assert_eq!(
        texts(&messages.latest().unwrap()),
        ["after the restart", "after the drop", "one"]
    );

    // The announcement counts once: the next plain drop refetches again.
    emu.drop_connections();
    let mut seen = resubscribed(&emu, &bob, "bob resubscribes after the second drop").await;
    eventually("bob refetches after the second drop", || {
        seen.extend(requests_of(&emu, "bob"));
        (has(&seen, "GET", MESSAGES) && has(&seen, "GET", CONVERSATION)).then_some(())
    })
    .await;
    new_message_shows(&alice, &bob, &messages, &conv, "after the second drop").await;
    emu.stop().await;
}

/// §3.8: the official client forgets the announcement when it next becomes ready, whether or not
/// it had anything to resubscribe. Here bob's socket is told, then closes for idleness with no
/// topic held; his later subscription must be refetched after a plain drop.
#[actix_rt::test]
async fn an_announcement_is_forgotten_by_a_socket_that_had_nothing_to_resubscribe() {
    let emu = emulator().await;
    let alice = session(&emu, "alice").await;
    let bob = session(&emu, "bob").await;
    conversation(&alice, "c1", &["bob"]).await;
    alice.conversation("c1").send("one").await.unwrap();
    // bob's socket is open (a read just went out) and holds no topic.
    bob.conversation("c1").get().await.unwrap();
    assert!(emu.announce_restart() >= 1);
    for _ in 0..200 {
        if !bob.status().await.unwrap().connected {
            break;
        }
        actix_rt::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    assert!(
        !bob.status().await.unwrap().connected,
        "bob's socket closes for idleness"
    );

    let messages = bob.conversation("c1").subscribe_messages();
    messages.connected().await.expect("active");
    emu.record_requests();
    emu.drop_connections();
    let mut seen = Vec::new();
    eventually("bob refetches after the drop", || {
        seen.extend(requests_of(&emu, "bob"));
        has(&seen, "GET", MESSAGES).then_some(())
    })
    .await;
    emu.stop().await;
}
