//! Quickstart: talkjs-rs on the embedded emulator, nothing else needed.
//!
//! Starts a TalkJS emulator in this process, makes two users and a conversation, and has Alice
//! send a few messages (markup, a reply, a file); Bob reads each one and it is printed as
//! `<sender name>: <plaintext>`.
//!
//! ```text
//! cargo run --example quickstart
//! ```
//!
//! To use TalkJS itself, leave out `.host(...)` and give each session a token
//! (`.token(...)` or `.token_provider(...)`).

use talkjs::params::{
    CreateConversationParams, CreateUserParams, GenericFileMetadata, SendTextMessageParams,
};
use talkjs_emulator::Emulator;

#[actix_rt::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // A local TalkJS on a free port.
    let emulator = Emulator::builder()
        .app_id("quickstart")
        .start("127.0.0.1:0")
        .await?;
    let host = emulator.host();

    let alice = talkjs::get_talk_session("quickstart", "alice")
        .host(&host)
        .await?;
    let bob = talkjs::get_talk_session("quickstart", "bob")
        .host(&host)
        .await?;
    alice
        .current_user()
        .create_if_not_exists(CreateUserParams::new("Alice"))
        .await?;
    bob.current_user()
        .create_if_not_exists(CreateUserParams::new("Bob"))
        .await?;

    let chat = alice.conversation("quickstart-chat");
    chat.create_if_not_exists(CreateConversationParams::new().subject("Trip planning"))
        .await?;
    chat.participant("bob")
        .create_if_not_exists(Default::default())
        .await?;

    let hello = chat
        .send("Hi *Bob*, shall we plan the trip? See https://example.com/trip")
        .await?;
    let reply =
        SendTextMessageParams::new("Here is the list:\n- tickets\n- hotel").reply_to(hello.id());
    let list = chat.send(reply).await?;
    let file = alice
        .upload_file(
            b"day 1: museum\nday 2: beach\n".to_vec(),
            GenericFileMetadata {
                filename: "itinerary.txt".into(),
            },
        )
        .await?;
    let attachment = chat.send(file).await?;

    // Bob reads what Alice sent.
    let bobs_view = bob.conversation("quickstart-chat");
    for sent in [&hello, &list, &attachment] {
        let Some(message) = bobs_view.message(sent.id()).get().await? else {
            return Err(format!("bob cannot see message {}", sent.id()).into());
        };
        let sender = message
            .sender
            .as_ref()
            .map_or("(system)", |u| u.name.as_str());
        // One line per message: the plaintext of a list spans lines.
        println!(
            "{sender}: {}",
            message.plaintext.trim_end().replace('\n', " / ")
        );
    }
    let unread = bobs_view.get().await?.map_or(0, |c| c.unread_message_count);
    println!("(Bob has {unread} unread messages)");

    emulator.stop().await;
    Ok(())
}
