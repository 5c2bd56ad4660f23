//! A support bot as an actix actor.
//!
//! The bot follows a feed of the conversation's new messages
//! ([`subscribe_new_messages`](talkjs::ConversationRef::subscribe_new_messages)), delivered to
//! the actor's mailbox ([`NewMessageFeed::send_to`](talkjs::NewMessageFeed::send_to)): each
//! message someone else sends after the bot started arrives once, oldest first, even across
//! reconnects, so the bot answers every question exactly once without tracking what it has
//! seen, and never answers itself (`include_own(false)`). A short scripted customer asks a few
//! questions and waits for each answer; then the bot is stopped, which ends its feed, and the
//! emulator with it.
//!
//! ```text
//! cargo run --example bot_actor
//! ```

use std::error::Error;
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use futures_util::StreamExt;
use talkjs::params::{
    CreateConversationParams, CreateParticipantParams, CreateUserParams, SendTextMessageParams,
};
use talkjs::snapshot::{MessageSnapshot, UserSnapshot};
use talkjs::{ConversationRef, FeedItem, FeedOptions, List, NewMessageFeed, TalkSession};
use talkjs_emulator::Emulator;

const APP_ID: &str = "support";
const BOT: &str = "support-bot";
const CUSTOMER: &str = "casey";
const CHAT: &str = "support-casey";

/// The bot. It owns its feed: when the actor stops, the feed ends.
pub struct SupportBot {
    /// The conversation, as the bot's session sees it.
    chat: ConversationRef,
    /// The messages others send, from now on.
    feed: NewMessageFeed,
}

impl SupportBot {
    /// A bot answering in `chat`, as the user of the session `chat` comes from.
    pub fn new(chat: ConversationRef) -> SupportBot {
        SupportBot {
            feed: chat.subscribe_new_messages(FeedOptions::new().include_own(false)),
            chat,
        }
    }
}

impl Actor for SupportBot {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        self.feed.send_to(ctx.address().recipient());
    }

    fn stopped(&mut self, _: &mut Context<Self>) {
        self.feed.unsubscribe();
    }
}

/// Each new message from someone else arrives as a `FeedItem`, once, oldest first.
impl Handler<FeedItem> for SupportBot {
    type Result = ();

    fn handle(&mut self, item: FeedItem, ctx: &mut Context<Self>) {
        let question = match item {
            FeedItem::Message(new) => new.message,
            FeedItem::Lagged { conversation } => {
                eprintln!("too far behind in {conversation}: some questions were skipped");
                return;
            }
            FeedItem::Ended(how) => {
                eprintln!("the feed ended: {how}");
                return ctx.stop();
            }
        };
        // Send while holding the mailbox, so answers keep their order and a stop waits for them.
        let chat = self.chat.clone();
        ctx.wait(
            async move {
                if let Err(e) = chat.send(answer(&question)).await {
                    eprintln!("could not answer: {e}");
                }
            }
            .into_actor(self),
        );
    }
}

/// Stops the bot.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Shutdown;

impl Handler<Shutdown> for SupportBot {
    type Result = ();

    fn handle(&mut self, _: Shutdown, ctx: &mut Context<Self>) {
        ctx.stop();
    }
}

/// The bot's answer to a question, as a reply to it.
fn answer(question: &MessageSnapshot) -> SendTextMessageParams {
    let text = question.plaintext.to_lowercase();
    let answer = if text.contains("refund") {
        "Refunds take *3 to 5 business days*. Reply with your order number and I'll start one."
    } else if text.contains("open") || text.contains("hours") {
        "We're here 9:00 to 17:00 UTC, Monday to Friday."
    } else {
        "Thanks! A colleague will get back to you shortly."
    };
    SendTextMessageParams::new(answer).reply_to(&question.id)
}

#[actix_rt::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let emulator = Emulator::builder()
        .app_id(APP_ID)
        .start("127.0.0.1:0")
        .await?;
    let chat = run(&emulator.host()).await;
    emulator.stop().await;
    chat?;
    Ok(())
}

/// The bot and the customer's script against the TalkJS at `host`. Returns the conversation's
/// messages as the customer saw them last (newest first).
pub async fn run(host: &str) -> Result<List<MessageSnapshot>, Box<dyn Error>> {
    let bot = signed_in(host, BOT, "Support Bot").await?;
    let customer = signed_in(host, CUSTOMER, "Casey").await?;
    let chat = bot.conversation(CHAT);
    chat.create_if_not_exists(CreateConversationParams::new().subject("Support"))
        .await?;
    chat.participant(CUSTOMER)
        .create_if_not_exists(CreateParticipantParams::new())
        .await?;

    let support_bot = SupportBot::new(chat);
    // Wait until the feed is live, so the customer's first question is new to it.
    support_bot.feed.connected().await?;
    let support_bot = support_bot.start();

    let transcript = ask(
        &customer.conversation(CHAT),
        &[
            "Hi! When are you open?",
            "I'd like a *refund* for order 1001",
            "Also, my parcel is late",
        ],
    )
    .await;

    support_bot.send(Shutdown).await?;
    transcript
}

/// The customer's script: asks each question and waits for its answer; prints each exchange.
async fn ask(
    chat: &ConversationRef,
    questions: &[&str],
) -> Result<List<MessageSnapshot>, Box<dyn Error>> {
    let messages = chat.subscribe_messages();
    let mut updates = messages.stream();
    let mut latest = messages.connected().await?.snapshot.unwrap_or_default();
    for question in questions {
        let asked = chat.send(*question).await?;
        // Wait for the bot's message that replies to this one.
        let answer = loop {
            let answer = latest.iter().find(|m| {
                let replied_to = m.referenced_message.as_ref();
                replied_to.is_some_and(|r| r.id == asked.id())
            });
            if let Some(answer) = answer {
                break answer.clone();
            }
            match actix_rt::time::timeout(Duration::from_secs(10), updates.next()).await {
                Ok(Some(update)) => latest = update.snapshot.unwrap_or_default(),
                Ok(None) => return Err("the subscription ended".into()),
                Err(_) => return Err(format!("no answer to {question:?}").into()),
            }
        };
        let question = answer.referenced_message.as_ref().expect("a reply");
        println!("{}: {}", name(&question.sender), question.plaintext);
        println!("{}: {}", name(&answer.sender), answer.plaintext);
    }
    Ok(latest)
}

fn name(user: &Option<Arc<UserSnapshot>>) -> &str {
    user.as_ref().map_or("(system)", |u| &u.name)
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
