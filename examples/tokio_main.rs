//! A plain `#[tokio::main]` program, no actix in sight: an echo bot on tokio's multi-threaded
//! runtime. The runtime starts its actors on a thread of its own, so every session, request and
//! subscription works from any tokio task.
//!
//! ```text
//! cargo run --example tokio_main
//! ```
//!
//! It starts an emulator (on a thread with its own actix system, as the emulator is an actix-web
//! server), lets a bot answer each message Alice sends with an echo from a `tokio::spawn`ed task,
//! and prints the conversation as Alice sees it.

use std::time::Duration;

use futures_util::StreamExt;
use talkjs::params::{CreateConversationParams, CreateParticipantParams, CreateUserParams};

const APP: &str = "tokio-demo";

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let host = start_emulator()?;
    let alice = talkjs::get_talk_session(APP, "alice").host(&host).await?;
    let bot = talkjs::get_talk_session(APP, "echo-bot")
        .host(&host)
        .await?;
    alice
        .current_user()
        .create_if_not_exists(CreateUserParams::new("Alice"))
        .await?;
    bot.current_user()
        .create_if_not_exists(CreateUserParams::new("Echo bot"))
        .await?;
    let chat = alice.conversation("echo");
    chat.create_if_not_exists(CreateConversationParams::new())
        .await?;
    chat.participant("echo-bot")
        .create_if_not_exists(CreateParticipantParams::new())
        .await?;

    // The bot: a tokio task on whichever worker thread, answering each of Alice's messages once.
    let inbox = bot.conversation("echo").subscribe_messages();
    inbox.connected().await?;
    let mut updates = inbox.stream();
    let replies = tokio::spawn(async move {
        let mut answered = std::collections::HashSet::new();
        while let Some(update) = updates.next().await {
            let list = update.snapshot.unwrap_or_default();
            for m in list.iter().rev() {
                let from_alice = m.sender.as_ref().is_some_and(|u| &*u.id == "alice");
                if from_alice && answered.insert(m.id.clone()) {
                    let echo = format!("echo: {}", m.plaintext);
                    bot.conversation("echo").send(echo.as_str()).await?;
                }
            }
            if answered.len() == 2 {
                return Ok::<_, talkjs::Error>(());
            }
        }
        Ok(())
    });

    // Alice says something, waits for its echo, and says the next thing.
    let messages = chat.subscribe_messages();
    let mut updates = messages.stream();
    let mut shown = Vec::new();
    for (text, plaintext) in [("ping", "ping"), ("*still* there?", "still there?")] {
        chat.send(text).await?;
        let echo = format!("echo: {plaintext}");
        let wait = async {
            while let Some(update) = updates.next().await {
                shown = update.snapshot.unwrap_or_default().to_vec();
                if shown.first().is_some_and(|m| m.plaintext == echo) {
                    break;
                }
            }
        };
        tokio::time::timeout(Duration::from_secs(10), wait).await?;
    }
    tokio::time::timeout(Duration::from_secs(10), replies).await???;

    // Alice's view, oldest first.
    for m in shown.iter().rev() {
        let sender = m.sender.as_ref().map_or("(system)", |u| u.name.as_str());
        println!("{sender}: {}", m.plaintext);
    }
    talkjs::shutdown("the program is done");
    Ok(())
}

/// Starts the emulator on a thread with its own actix system; returns its host.
fn start_emulator() -> std::io::Result<String> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        actix_rt::System::new().block_on(async move {
            match talkjs_emulator::Emulator::builder()
                .app_id(APP)
                .start("127.0.0.1:0")
                .await
            {
                Ok(emulator) => {
                    let _ = tx.send(Ok(emulator.host()));
                    std::future::pending::<()>().await;
                }
                Err(e) => {
                    let _ = tx.send(Err(e));
                }
            }
        });
    });
    rx.recv().map_err(std::io::Error::other)?
}
