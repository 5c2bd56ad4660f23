//! TalkJS's REST API v1, for backends: create users and conversations, send messages as users or
//! as the system, read and page through lists, and batch calls, with the app's secret key.
//!
//! Where a [`TalkSession`](crate::TalkSession) acts as one user over the realtime protocol, a
//! [`Client`] acts for the whole app over HTTP (`https://api.talkjs.com/v1/{appId}/...`, or an
//! emulator's port). What it writes reaches every live session at once.
//!
//! - **Auth**: [`ClientBuilder::secret`] signs a fresh short-lived app JWT for every attempt (HS256,
//!   `tokenType: "app"`, `iss` = app id); [`ClientBuilder::raw_secret`] sends the key itself.
//!   Neither the key nor a token is ever logged.
//! - **Errors** are [`talkjs::Error`](crate::Error)s, matched on [`ErrorKind`](crate::ErrorKind)
//!   as the Data API's are ([`error`](self#errors) below); empty ids and over-long batches are
//!   refused before anything is sent.
//! - **Retries**: 429 (honouring `Retry-After`), 5xx, timeouts and connection failures, with
//!   bounded exponential backoff, for requests that are safe to repeat ([`RetryPolicy`]).
//! - **Time**: every attempt is bounded by the [timeout](ClientBuilder::timeout).
//! - **Tracing**: one `talkjs_rest` span per call with `method`, `path`, `status` and `attempt`.
//! - **Runtimes**: the client's futures are `Send`; it works under `#[tokio::main]`, in actix
//!   and actix-web programs, and on plain threads. awc's work runs on the current actix arbiter,
//!   or on a thread of the client's own ([`THREAD_NAME`]).
//!
//! ```no_run
//! use futures_util::TryStreamExt;
//! use talkjs::rest::{Client, ConversationParams, ListQuery, SystemMessage, UserMessage, UserParams};
//!
//! # async fn run() -> Result<(), talkjs::Error> {
//! let talkjs = Client::builder("YOUR_APP_ID")
//!     .secret("sk_test_...")
//!     // .host("127.0.0.1:8787") for a local talkjs-emulator
//!     .build()?;
//! talkjs.user("alice").set(&UserParams::new().name("Alice")).await?;
//! talkjs.user("bob").set(&UserParams::new().name("Bob")).await?;
//! let chat = talkjs.conversation("order-42");
//! chat.set(&ConversationParams::new().participant("alice").participant("bob").subject("Order 42"))
//!     .await?;
//! chat.send(SystemMessage::new("Order 42 was shipped")).await?;
//! chat.send(UserMessage::new("alice", "Thanks, *great*!")).await?;
//!
//! // Every message, newest first, fetched a page at a time.
//! let all: Vec<_> = chat.messages(ListQuery::default()).try_collect().await?;
//! assert_eq!(all[0].text, "Thanks, great!");
//!
//! match talkjs.user("nobody").get().await {
//!     Err(e) if matches!(e.kind(), talkjs::ErrorKind::NotFound(_)) => {}
//!     other => panic!("{other:?}"),
//! }
//! # Ok(())
//! # }
//! ```
//!
//! # Errors
//!
//! | what happened | [`ErrorKind`](crate::ErrorKind) |
//! |---|---|
//! | a bad argument caught before sending (empty id, too many items, page size 0) | `InvalidArgument` |
//! | 400, 405, 409, 429 and 5xx (after retries), other statuses | `Server { status, body }` |
//! | 401 | `AuthFailed` (the reason names the status and the server's reasons) |
//! | 403 | `Forbidden(body)` |
//! | 404 | `NotFound(body)` |
//! | no connection could be made | `Unreachable` |
//! | no answer within the timeout | `Timeout` |
//! | the connection broke, or the answer could not be read | `Transport` |
//! | a 200 whose body is not the expected JSON | `Protocol` |
//!
//! The server's `{errorCode, reasons}` body is kept ([`Error::code`](crate::Error::code),
//! [`Error::error_code`](crate::Error::error_code)); a body that is not that JSON becomes an
//! empty code with the body's text as the reason. An error of a request that was sent also
//! carries a [`RestFailure`] (the last status, the attempts made, the `Retry-After` asked for),
//! read with [`RestErrorExt`]. The operation of an error is the request, e.g.
//! `GET /users/alice failed, got status 404 USER_NOT_FOUND, reasons: ...`.

mod auth;
mod batch;
mod client;
mod conversations;
mod error;
mod messages;
mod paging;
mod request;
mod retry;
mod runtime;
mod users;

pub use auth::APP_TOKEN_LIFETIME;
pub use batch::{BatchOperation, BatchResponse, MAX_BATCH_OPERATIONS};
pub use client::{Client, ClientBuilder, DEFAULT_HOST, DEFAULT_TIMEOUT};
pub use conversations::{
    Conversation, ConversationParams, ConversationRef, ParticipantParams, ParticipantRef,
    ParticipantSettings, UserConversation,
};
pub use error::{RestErrorExt, RestFailure};
pub use messages::{
    MAX_MESSAGES_PER_SEND, Message, MessageEdit, MessageRef, MessageType, NewMessage,
    SystemMessage, UserMessage,
};
pub use paging::{DEFAULT_PAGE_SIZE, ListQuery, MAX_PAGE_SIZE, Paged};
pub use retry::RetryPolicy;
pub use runtime::THREAD_NAME;
pub use talkjs_protocol::wire::{Access, Notify};
pub use users::{ConversationListQuery, MAX_USERS_PER_BATCH, Patch, User, UserParams, UserRef};

/// Sets `key` to `value` in a map of changes (custom data, push tokens), starting the map if
/// there is none yet.
fn set_key(
    changes: &mut Option<serde_json::Map<String, serde_json::Value>>,
    key: String,
    value: serde_json::Value,
) {
    changes
        .get_or_insert_with(serde_json::Map::new)
        .insert(key, value);
}

/// Custom data that may be `null` on the wire reads as an empty map.
fn null_as_empty<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> std::result::Result<serde_json::Map<String, serde_json::Value>, D::Error> {
    use serde::Deserialize;
    Ok(Option::deserialize(d)?.unwrap_or_default())
}
