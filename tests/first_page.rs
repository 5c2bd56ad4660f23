//! A message list's first page is the 30 newest messages whatever the session read before.
//! The official client hands a new listener the snapshot its store last finished building
//! (docs/protocol.md §9, item 20): after `conversation(c).get()` that is the one message `get()`
//! fetched, and after a burst of sends it can lack the newest message. Our subscriptions keep no
//! store shared with one-off reads and publish only what they have applied, so neither happens.

mod common;

use common::{conversation, emulator, session};

#[actix_rt::test]
async fn after_a_conversation_read_and_a_burst_of_sends_the_first_page_is_the_30_newest() {
    let emu = emulator().await;
    let alice = session(&emu, "alice").await;
    let _bob = session(&emu, "bob").await;
    conversation(&alice, "c1", &["bob"]).await;
    // Alice's session also watches her conversation list and another conversation, as in the
    // official client's run where the first page lacked the newest message.
    let _list = alice.subscribe_conversations(Default::default());
    conversation(&alice, "c2", &["bob"]).await;
    let _other = alice.conversation("c2").subscribe_messages();
    let chat = alice.conversation("c1");
    let mut last = String::new();
    for i in 1..=45 {
        last = chat
            .send(format!("m{i}").as_str())
            .await
            .unwrap()
            .id()
            .to_owned();
    }
    // The read that filled the official client's store with a page of one.
    let read = chat.get().await.unwrap().expect("alice sees c1");
    assert_eq!(
        read.last_message.as_ref().map(|m| m.id.as_str()),
        Some(last.as_str())
    );

    let messages = chat.subscribe_messages();
    let first = messages.connected().await.unwrap();
    let list = first.snapshot.expect("a participant sees the list");
    assert_eq!(list.len(), 30, "the first page is a full page");
    assert_eq!(list[0].id, last, "newest first, the newest included");
    assert_eq!(list[29].plaintext, "m16");
    assert!(!first.loaded_all);
    messages.load_more(30).await.unwrap();
    let more = messages.latest().unwrap().unwrap();
    assert_eq!(more.len(), 45, "30 + the 15 older ones, none twice");
    assert!(
        matches!(
            messages.state(),
            talkjs::snapshot::SubscriptionState::Active {
                loaded_all: true,
                ..
            }
        ),
        "all 45 loaded"
    );
    emu.stop().await;
}
