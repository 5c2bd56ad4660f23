//! An actix-web service that embeds the runtime.
//!
//! - `POST /send` with `{"conversation": "...", "text": "..."}` sends the text (TalkJS markup)
//!   as the service's own user, and answers `{"id": "<message id>"}`.
//! - `GET /users/{id}/conversations` answers that user's conversations, most recent first, as
//!   TalkJS's JSON. Each user's list is a live subscription, made on the first request and kept
//!   in the app data, so later requests are answered from memory.
//!
//! Errors are JSON too: `{"error": "..."}` with status 400, 403, 404 or 502.
//!
//! The service holds the app's secret key and signs each session's tokens itself
//! ([`JwtSigner`]). Here it runs against an emulator started in process, with one conversation
//! between the service and a customer, `order-1001`:
//!
//! ```text
//! cargo run --example actix_web -- --bind 127.0.0.1:8080
//! curl -X POST localhost:8080/send -H 'content-type: application/json' \
//!      -d '{"conversation": "order-1001", "text": "Your order has *shipped*"}'
//! curl localhost:8080/users/alice/conversations
//! ```
//!
//! This example has no authentication of its own: put yours in front of it.

use std::collections::HashMap;
use std::sync::Mutex;

use actix_web::http::StatusCode;
use actix_web::{App, HttpResponse, HttpServer, ResponseError, get, post, web};
use serde::{Deserialize, Serialize};
use talkjs::params::{CreateConversationParams, CreateParticipantParams, CreateUserParams};
use talkjs::token::JwtSigner;
use talkjs::{ConversationListSubscription, ErrorKind, TalkSession};
use talkjs_emulator::Emulator;

const APP_ID: &str = "shop";
/// The app's secret key; in a real service, read it from the environment or a secret store.
const SECRET: &str = "example-secret-key";
/// The user the service sends as.
const SERVICE_USER: &str = "shop";

/// What the handlers share.
pub struct Talk {
    host: String,
    /// The service user's session.
    service: TalkSession,
    /// One live conversation list per user id.
    inboxes: Mutex<HashMap<String, ConversationListSubscription>>,
}

impl Talk {
    /// Connects the service user to the TalkJS at `host`.
    pub async fn connect(host: &str) -> talkjs::Result<Talk> {
        let talk = Talk {
            host: host.to_owned(),
            service: session(host, SERVICE_USER).await?,
            inboxes: Mutex::default(),
        };
        talk.service
            .current_user()
            .create_if_not_exists(CreateUserParams::new("Shop"))
            .await?;
        Ok(talk)
    }

    /// `user_id`'s live conversation list, subscribed on first use.
    async fn inbox(&self, user_id: &str) -> talkjs::Result<ConversationListSubscription> {
        if let Some(inbox) = self.inboxes.lock().unwrap().get(user_id)
            && !inbox.state().is_terminal()
        {
            return Ok(inbox.clone());
        }
        let inbox = session(&self.host, user_id)
            .await?
            .subscribe_conversations(Default::default());
        let mut inboxes = self.inboxes.lock().unwrap();
        Ok(inboxes.entry(user_id.to_owned()).or_insert(inbox).clone())
    }
}

/// A session for `user_id`, with tokens signed by the service.
async fn session(host: &str, user_id: &str) -> talkjs::Result<TalkSession> {
    talkjs::get_talk_session(APP_ID, user_id)
        .host(host)
        .token_provider(JwtSigner::new(SECRET))
        .await
}

/// The body of `POST /send`.
#[derive(Deserialize)]
struct SendBody {
    conversation: String,
    text: String,
}

#[derive(Serialize)]
struct Sent {
    id: String,
}

#[post("/send")]
async fn send(talk: web::Data<Talk>, body: web::Json<SendBody>) -> Result<HttpResponse, ApiError> {
    if body.text.trim().is_empty() {
        return Err(ApiError::bad_request("text must not be empty"));
    }
    let chat = talk.service.conversation(&body.conversation);
    let message = chat.send(body.text.as_str()).await?;
    Ok(HttpResponse::Ok().json(Sent {
        id: message.id().to_owned(),
    }))
}

#[get("/users/{id}/conversations")]
async fn conversations(
    talk: web::Data<Talk>,
    user_id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let inbox = talk.inbox(&user_id).await?;
    // Answered from memory once the subscription is active; the first request waits for it.
    let list = match inbox.latest() {
        Some(list) => list,
        None => {
            inbox
                .connected()
                .await
                .map_err(ApiError::upstream)?
                .snapshot
        }
    };
    // `None`: the user does not exist. Snapshots serialize as TalkJS's JSON (camelCase).
    let list: Vec<_> = list.iter().flat_map(|l| l.iter()).map(|c| &**c).collect();
    Ok(HttpResponse::Ok().json(list))
}

/// The service's routes; the app data must hold a `web::Data<Talk>`.
pub fn routes(config: &mut web::ServiceConfig) {
    config
        .service(send)
        .service(conversations)
        .app_data(web::JsonConfig::default().error_handler(|e, _| ApiError::bad_request(e).into()));
}

/// An error answered as `{"error": "..."}`.
#[derive(Debug)]
struct ApiError {
    status: StatusCode,
    message: String,
}

impl ApiError {
    fn bad_request(message: impl ToString) -> ApiError {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            message: message.to_string(),
        }
    }

    fn upstream(e: impl ToString) -> ApiError {
        ApiError {
            status: StatusCode::BAD_GATEWAY,
            message: e.to_string(),
        }
    }
}

impl From<talkjs::Error> for ApiError {
    fn from(e: talkjs::Error) -> ApiError {
        let status = match e.kind() {
            ErrorKind::InvalidArgument(_) => StatusCode::BAD_REQUEST,
            ErrorKind::NotFound(_) => StatusCode::NOT_FOUND,
            ErrorKind::Forbidden(_) => StatusCode::FORBIDDEN,
            _ => StatusCode::BAD_GATEWAY,
        };
        ApiError {
            status,
            message: e.to_string(),
        }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        HttpResponse::build(self.status).json(serde_json::json!({ "error": self.message }))
    }
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let bind = match args.iter().position(|a| a == "--bind") {
        Some(i) => args.get(i + 1).cloned().unwrap_or_default(),
        None => "127.0.0.1:8080".into(),
    };

    let emulator = Emulator::builder()
        .app_id(APP_ID)
        .secret(SECRET)
        .start("127.0.0.1:0")
        .await?;
    let talk = Talk::connect(&emulator.host())
        .await
        .map_err(std::io::Error::other)?;
    demo_data(&talk).await.map_err(std::io::Error::other)?;

    let talk = web::Data::new(talk);
    let server =
        HttpServer::new(move || App::new().app_data(talk.clone()).configure(routes)).bind(&bind)?;
    println!("listening on http://{}", server.addrs()[0]);
    // Until Ctrl-C.
    server.run().await?;
    emulator.stop().await;
    Ok(())
}

/// A customer, Alice, and a conversation between her and the service.
async fn demo_data(talk: &Talk) -> talkjs::Result<()> {
    let alice = session(&talk.host, "alice").await?;
    alice
        .current_user()
        .create_if_not_exists(CreateUserParams::new("Alice"))
        .await?;
    let order = talk.service.conversation("order-1001");
    order
        .create_if_not_exists(CreateConversationParams::new().subject("Order 1001"))
        .await?;
    order
        .participant("alice")
        .create_if_not_exists(CreateParticipantParams::new())
        .await
}
