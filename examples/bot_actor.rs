//! A support bot as an actix actor.
//!
//! The bot's message subscription delivers each new snapshot of the conversation's messages to
//! the actor's mailbox ([`Subscription::send_to`](talkjs::Subscription::send_to)); the actor
//! answers every new message from someone else, once (it tracks message ids, so re-emitted
//! snapshots, its own answers and the history it found on start are never answered). A short
//! scripted customer asks a few questions and waits for each answer; then the bot is stopped,
//! which ends its subscription, and the emulator with it.
//!
//! ```text
//! cargo run --example bot_actor
//! ```

use std::collections::HashSet;
use std::error::Error;
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use futures_util::StreamExt;
use talkjs::params::{
    CreateConversationParams, CreateParticipantParams, CreateUserParams, SendTextMessageParams,
};
use talkjs::snapshot::{MessageSnapshot, UserSnapshot};
use talkjs::{ConversationRef, List, ListItems, MessageSubscription, MessagesUpdate, TalkSession};
use talkjs_emulator::Emulator;

const APP_ID: &str = "support";
const BOT: &str = "support-bot";
const CUSTOMER: &str = "casey";
const CHAT: &str = "support-casey";

/// The bot. It owns its subscription: when the actor stops, the subscription ends.
pub struct SupportBot {
    /// The conversation, as the bot's session sees it.
    chat: ConversationRef,
    /// The bot's own user id.
    me: String,
    messages: MessageSubscription,
    /// Every message the bot has looked at.
    seen: HashSet<String>,
    /// The first snapshot is history: it is marked seen, not answered.
    has_history: bool,
}

impl SupportBot {
    /// A bot answering in `chat`, as the user of the session `chat` comes from.
    pub fn new(chat: ConversationRef) -> SupportBot {
        SupportBot {
            messages: chat.subscribe_messages(),
            me: chat.session().current_user().id().to_owned(),
            chat,
            seen: HashSet::new(),
            has_history: false,
        }
    }
}

impl Actor for SupportBot {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        self.messages.send_to(ctx.address().recipient());
    }

    fn stopped(&mut self, _: &mut Context<Self>) {
        self.messages.unsubscribe();
    }
}

/// Each snapshot of the conversation's messages (newest first) arrives as a `MessagesUpdate`.
impl Handler<MessagesUpdate> for SupportBot {
    type Result = ();

    fn handle(&mut self, update: MessagesUpdate, ctx: &mut Context<Self>) {
        let list = update.snapshot.items();
        let history = !std::mem::replace(&mut self.has_history, true);
        let mut answers = Vec::new();
        // Oldest first, so questions are answered in order.
        for message in list.iter().rev() {
            let from_others = message.sender.as_ref().is_some_and(|u| u.id != self.me);
            if self.seen.insert(message.id.clone()) && from_others && !history {
                answers.push(answer(message));
            }
        }
        if answers.is_empty() {
            return;
        }
        // Send while holding the mailbox, so answers keep their order and a stop waits for them.
        let chat = self.chat.clone();
        ctx.wait(
            async move {
                for answer in answers {
                    if let Err(e) = chat.send(answer).await {
                        eprintln!("could not answer: {e}");
                    }
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
    // Wait until the bot has its first snapshot, so it sees the customer's first question as new.
    support_bot.messages.connected().await?;
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
