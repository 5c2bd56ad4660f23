//! A support desk as a backend service: webhooks in, the REST API out.
//!
//! This is how most TalkJS backends are built. TalkJS posts a signed webhook for each new
//! message; the service checks the signature ([`talkjs::webhook::Verified`], an actix-web
//! extractor), decides whether to answer, and answers through TalkJS's REST API
//! ([`talkjs::rest::Client`]) as a bot user. Nothing here keeps a websocket open for the bot.
//!
//! Everything runs offline: the emulator is started in process with a secret and with the
//! service's URL as its webhook URL, so it signs and posts the same events TalkJS would. A
//! customer, acting through the Data API as a normal user, asks two questions in their support
//! conversation and waits for each answer; the service answers each question once. At the end
//! the example prints the emulator's webhook delivery log.
//!
//! ```text
//! cargo run --example webhook_bot
//! ```

use std::error::Error;
use std::net::TcpListener;
use std::time::Duration;

use actix_web::{App, HttpResponse, HttpServer, web};
use futures_util::StreamExt;
use talkjs::rest::{Client, ConversationParams, UserMessage, UserParams};
use talkjs::token::JwtSigner;
use talkjs::webhook::{Verified, WebhookEventType, WebhookSecret};
use talkjs::{FeedItem, FeedOptions};
use talkjs_emulator::Emulator;

const APP_ID: &str = "desk";
/// The app's secret key: the emulator signs webhooks and checks tokens with it; the service
/// verifies webhooks and signs its REST calls with it.
const SECRET: &str = "sk_test_webhook_bot";
const BOT: &str = "desk-bot";
const CUSTOMER: &str = "casey";
const CHAT: &str = "support-casey";
/// Where the service takes webhooks.
const WEBHOOK_PATH: &str = "/talkjs/webhooks";
/// How long the customer waits for an answer before giving up.
const ANSWER_WITHIN: Duration = Duration::from_secs(10);

/// The service's answer to a customer's message.
pub fn answer(question: &str) -> String {
    let q = question.to_lowercase();
    if q.contains("order") {
        "Orders ship within two working days; you get a tracking link by email.".into()
    } else if q.contains("refund") {
        "Refunds go back to the card you paid with, within five working days.".into()
    } else {
        "Thanks! A person from the team will get back to you here soon.".into()
    }
}

/// The webhook handler: a message someone other than the bot sent in a support conversation
/// gets one answer, sent through the REST API as the bot. Every other event is acknowledged
/// and ignored. Answering 200 quickly matters: TalkJS (and the emulator) retry on errors and
/// timeouts, which would deliver the event again.
async fn on_webhook(Verified(event): Verified, talkjs: web::Data<Client>) -> HttpResponse {
    if event.kind != WebhookEventType::MessageSent {
        return HttpResponse::Ok().finish();
    }
    let (Some(conversation), Some(sender)) = (event.conversation_id(), event.sender_id()) else {
        return HttpResponse::Ok().finish(); // a system message: nobody to answer
    };
    if sender == BOT || !conversation.starts_with("support-") {
        return HttpResponse::Ok().finish();
    }
    let text = event.data["message"]["text"].as_str().unwrap_or_default();
    let reply = UserMessage::new(BOT, answer(text));
    match talkjs.conversation(conversation).send(reply).await {
        Ok(_) => HttpResponse::Ok().finish(),
        // A 500 makes the sender retry the webhook, so the answer is tried again.
        Err(e) => HttpResponse::InternalServerError().body(e.to_string()),
    }
}

/// Runs the whole scene and returns what the customer saw, one line per message.
pub async fn run() -> Result<Vec<String>, Box<dyn Error>> {
    // The service's socket first, so the emulator can be told where to post.
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let service_url = format!("http://{}{WEBHOOK_PATH}", listener.local_addr()?);
    let emulator = Emulator::builder()
        .app_id(APP_ID)
        .secret(SECRET)
        .webhook_url(service_url)
        .start("127.0.0.1:0")
        .await?;

    // The service: a REST client and the webhook route.
    let talkjs = Client::builder(APP_ID)
        .secret(SECRET)
        .host(emulator.host())
        .build()?;
    let service = {
        let talkjs = web::Data::new(talkjs.clone());
        HttpServer::new(move || {
            App::new()
                .app_data(web::Data::new(WebhookSecret::new(SECRET)))
                .app_data(talkjs.clone())
                .route(WEBHOOK_PATH, web::post().to(on_webhook))
        })
        .workers(1)
        .listen(listener)?
        .run()
    };
    let service_handle = service.handle();
    let service_task = actix_rt::spawn(service);

    // Set-up, server side: the bot, the customer and their support conversation.
    talkjs
        .user(BOT)
        .set(&UserParams::new().name("Desk Bot").role("support"))
        .await?;
    talkjs
        .user(CUSTOMER)
        .set(&UserParams::new().name("Casey"))
        .await?;
    talkjs
        .conversation(CHAT)
        .set(
            &ConversationParams::new()
                .participant(CUSTOMER)
                .participant(BOT)
                .subject("Support"),
        )
        .await?;

    // The customer, through the Data API, with a token signed by their backend.
    let customer = talkjs::get_talk_session(APP_ID, CUSTOMER)
        .host(emulator.host())
        .token_provider(JwtSigner::new(SECRET))
        .await?;
    let chat = customer.conversation(CHAT);
    let answers = chat.subscribe_new_messages(FeedOptions::new().include_own(false));
    answers.connected().await?;
    let mut answers = answers.stream();

    let mut transcript = Vec::new();
    for question in ["Hi! Where is my order?", "And how do refunds work?"] {
        chat.send(question).await?;
        transcript.push(format!("Casey: {question}"));
        match tokio::time::timeout(ANSWER_WITHIN, answers.next()).await {
            Ok(Some(FeedItem::Message(new))) => {
                let name = new.message.sender.as_ref().map_or("?", |u| u.name.as_str());
                transcript.push(format!("{name}: {}", new.message.plaintext));
            }
            Ok(other) => return Err(format!("the feed ended: {other:?}").into()),
            Err(_) => return Err(format!("no answer within {ANSWER_WITHIN:?}").into()),
        }
    }

    // What the emulator posted, as its delivery log (GET /emulator/v1/apps/desk/webhooks) has
    // it, once the last event (the bot's own answer) is delivered.
    let log = delivery_log(&emulator).await;
    transcript.push(format!("(webhooks: {})", log.join(", ")));

    customer.terminate("the customer leaves");
    service_handle.stop(true).await;
    let _ = service_task.await;
    emulator.stop().await;
    Ok(transcript)
}

/// The emulator's delivery log, oldest first, as `type: state` lines, after waiting (a few
/// seconds at most) until nothing is pending.
async fn delivery_log(emulator: &talkjs_emulator::RunningEmulator) -> Vec<String> {
    use talkjs_emulator::webhooks::log::DeliveryState;
    for _ in 0..100 {
        let log = emulator.webhook_deliveries();
        if log.iter().all(|d| d.state != DeliveryState::Pending) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut log: Vec<_> = emulator
        .webhook_deliveries()
        .into_iter()
        .map(|d| format!("{} {:?}", d.kind, d.state).to_lowercase())
        .collect();
    log.reverse(); // the log is newest first
    log
}

#[actix_web::main]
async fn main() -> Result<(), Box<dyn Error>> {
    for line in run().await? {
        println!("{line}");
    }
    Ok(())
}
