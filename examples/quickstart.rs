//! Quickstart: a live chat between two users, on an emulator started in this process.
//!
//! Alice starts a conversation with Bob. Bob subscribes to its messages; Alice sends a few
//! (markup, a reply, a file) and Bob prints each one as it arrives, once, as
//! `<sender name>: <plaintext>`. Then everything shuts down and the program exits.
//!
//! ```text
//! cargo run --example quickstart
//! ```
//!
//! To use TalkJS itself, leave out `.host(...)`, use your app id, and give each session a token
//! (`.token(...)`, or `.token_provider(...)` for one that refreshes).

use std::collections::HashSet;
use std::error::Error;

use futures_util::StreamExt;
use talkjs::params::{
    CreateConversationParams, CreateParticipantParams, CreateUserParams, GenericFileMetadata,
    SendTextMessageParams,
};
use talkjs::snapshot::MessageSnapshot;
use talkjs::{ConversationRef, List, ListSnapshot, SubscriptionStream, TalkSession};
use talkjs_emulator::Emulator;

const APP_ID: &str = "quickstart";
const CHAT: &str = "trip-planning";

#[actix_rt::main]
async fn main() -> Result<(), Box<dyn Error>> {
    // A local TalkJS on a free port.
    let emulator = Emulator::builder()
        .app_id(APP_ID)
        .start("127.0.0.1:0")
        .await?;
    let chat = run(&emulator.host()).await;
    emulator.stop().await;
    chat?;
    Ok(())
}

/// The whole chat against the TalkJS at `host`. Returns the message list Bob ended with
/// (newest first).
pub async fn run(host: &str) -> Result<List<MessageSnapshot>, Box<dyn Error>> {
    let alice = signed_in(host, "alice", "Alice").await?;
    let bob = signed_in(host, "bob", "Bob").await?;

    // Alice starts a conversation and adds Bob.
    let chat = alice.conversation(CHAT);
    chat.create_if_not_exists(CreateConversationParams::new().subject("Trip planning"))
        .await?;
    chat.participant("bob")
        .create_if_not_exists(CreateParticipantParams::new())
        .await?;

    // Bob subscribes to the messages; the stream starts with the current (empty) list.
    let messages = bob.conversation(CHAT).subscribe_messages();
    let updates = messages.stream();
    messages.connected().await?;

    // Alice sends while Bob prints what arrives.
    let (sent, received) =
        futures_util::future::join(send_a_few(&alice, &chat), print_messages(updates, 3)).await;
    sent?;
    let received = received?;

    let unread = bob
        .conversation(CHAT)
        .get()
        .await?
        .map_or(0, |c| c.unread_message_count);
    println!("(Bob has {unread} unread messages)");

    messages.unsubscribe();
    Ok(received)
}

/// A session for `user_id`, with the user created if needed.
async fn signed_in(host: &str, user_id: &str, name: &str) -> talkjs::Result<TalkSession> {
    let session = talkjs::get_talk_session(APP_ID, user_id).host(host).await?;
    session
        .current_user()
        .create_if_not_exists(CreateUserParams::new(name))
        .await?;
    Ok(session)
}

/// Alice's side: markup, a reply, and a file.
async fn send_a_few(alice: &TalkSession, chat: &ConversationRef) -> talkjs::Result<()> {
    let hello = chat
        .send("Hi *Bob*, shall we plan the trip? See https://example.com/trip")
        .await?;
    chat.send(
        SendTextMessageParams::new("Here is the list:\n- tickets\n- hotel").reply_to(hello.id()),
    )
    .await?;
    let itinerary = alice
        .upload_file(
            b"day 1: museum\nday 2: beach\n".to_vec(),
            GenericFileMetadata {
                filename: "itinerary.txt".into(),
            },
        )
        .await?;
    chat.send(itinerary).await?;
    Ok(())
}

/// Bob's side: prints every message once, oldest first, until `count` have arrived; returns the
/// last list.
async fn print_messages(
    mut updates: SubscriptionStream<ListSnapshot<MessageSnapshot>>,
    count: usize,
) -> Result<List<MessageSnapshot>, Box<dyn Error>> {
    let mut printed = HashSet::new();
    while let Some(update) = updates.next().await {
        // `None` would mean Bob is not a participant.
        let list = update.snapshot.unwrap_or_default();
        // Lists are newest first; a snapshot may bring several new messages at once.
        for message in list.iter().rev() {
            if printed.insert(message.id.clone()) {
                let sender = message.sender.as_ref().map_or("(system)", |u| &u.name);
                // One line per message: the plaintext of a list spans lines.
                let text = message.plaintext.trim_end().replace('\n', " / ");
                println!("{sender}: {text}");
            }
        }
        if printed.len() >= count {
            return Ok(list);
        }
    }
    Err("the subscription ended".into())
}
