//! Quickstart: a live chat between two users, on an emulator started in this process.
//!
//! Alice starts a conversation with Bob. Bob follows the new messages of all his conversations
//! (`subscribe_new_messages`: each message once, oldest first); Alice sends a few (markup, a
//! reply, a file) and Bob prints each one as it arrives, as `<sender name>: <plaintext>`. Then
//! everything shuts down and the program exits.
//!
//! ```text
//! cargo run --example quickstart
//! ```
//!
//! To use TalkJS itself, leave out `.host(...)`, use your app id, and give each session a token
//! (`.token(...)`, or `.token_provider(...)` for one that refreshes).

use std::error::Error;
use std::sync::Arc;

use futures_util::StreamExt;
use talkjs::params::{
    CreateConversationParams, CreateParticipantParams, CreateUserParams, GenericFileMetadata,
    SendTextMessageParams,
};
use talkjs::snapshot::MessageSnapshot;
use talkjs::{ConversationRef, FeedItem, FeedOptions, NewMessageStream, TalkSession};
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
pub async fn run(host: &str) -> Result<Arc<Vec<Arc<MessageSnapshot>>>, Box<dyn Error>> {
    let alice = signed_in(host, "alice", "Alice").await?;
    let bob = signed_in(host, "bob", "Bob").await?;

    // Alice starts a conversation and adds Bob.
    let chat = alice.conversation(CHAT);
    chat.create_if_not_exists(CreateConversationParams::new().subject("Trip planning"))
        .await?;
    chat.participant("bob")
        .create_if_not_exists(CreateParticipantParams::new())
        .await?;

    // Bob follows every message sent to him from now on, in any of his conversations.
    let feed = bob.subscribe_new_messages(FeedOptions::new());
    feed.connected().await?;

    // Alice sends while Bob prints what arrives.
    let (sent, received) =
        futures_util::future::join(send_a_few(&alice, &chat), print_messages(feed.stream(), 3))
            .await;
    sent?;
    let received = received?;

    let unread = bob
        .conversation(CHAT)
        .get()
        .await?
        .map_or(0, |c| c.unread_message_count);
    println!("(Bob has {unread} unread messages)");

    feed.unsubscribe();
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

/// Bob's side: prints each new message as it arrives (the feed delivers each once, oldest
/// first) until `count` have arrived; returns them newest first.
async fn print_messages(
    mut items: NewMessageStream,
    count: usize,
) -> Result<Arc<Vec<Arc<MessageSnapshot>>>, Box<dyn Error>> {
    let mut received = Vec::with_capacity(count);
    while let Some(item) = items.next().await {
        let message = match item {
            FeedItem::Message(new) => new.message,
            FeedItem::Lagged { .. } => continue,
            FeedItem::Ended(how) => return Err(how.into()),
        };
        let sender = message.sender.as_ref().map_or("(system)", |u| &u.name);
        // One line per message: the plaintext of a list spans lines.
        let text = message.plaintext.trim_end().replace('\n', " / ");
        println!("{sender}: {text}");
        received.push(message);
        if received.len() >= count {
            received.reverse();
            return Ok(Arc::new(received));
        }
    }
    Err("the feed ended".into())
}
