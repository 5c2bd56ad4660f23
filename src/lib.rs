//! `talkjs`: a Rust runtime for the TalkJS Data API.
//!
//! A [`TalkSession`] acts as one TalkJS user: it reads and writes users, conversations,
//! participants, messages and reactions, and uploads files, over the same realtime protocol as
//! TalkJS's official JavaScript client, `@talkjs/core`. The API mirrors that client's in
//! snake_case: `session.conversation("c").send("hi")` here is
//! `session.conversation("c").send("hi")` there.
//!
//! Behind the handles is an actix actor system (`talkjs-actors`): a registry of sessions, one
//! session actor per user, one connection actor per live websocket, a token actor, cache shards,
//! and one actor per live subscription. It runs in any async program: inside an actix system
//! (`#[actix_rt::main]`, `#[actix_web::main]`) the actors join it; under `#[tokio::main]`, in a
//! `tokio::spawn`ed task or on a plain thread they run on a thread the runtime starts for them.
//! Handles are `Send + Sync` and their futures are `Send`, so any task on any thread may use them;
//! [`shutdown`] ends every session.
//!
//! This example runs as it is: it starts the local emulator in process (`talkjs-emulator`; leave
//! out `.host(..)` to talk to TalkJS itself), subscribes Bob to a conversation and lets Alice
//! write to it.
//!
//! ```
//! use talkjs::ListItems;
//! use talkjs::params::{CreateConversationParams, CreateParticipantParams, CreateUserParams};
//!
//! #[actix_rt::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let emulator = talkjs_emulator::Emulator::builder().app_id("demo").start("127.0.0.1:0").await?;
//!     let host = emulator.host();
//!     let alice = talkjs::get_talk_session("demo", "alice").host(&host).await?;
//!     let bob = talkjs::get_talk_session("demo", "bob").host(&host).await?;
//!     alice.current_user().create_if_not_exists(CreateUserParams::new("Alice")).await?;
//!     bob.current_user().create_if_not_exists(CreateUserParams::new("Bob")).await?;
//!     let chat = alice.conversation("welcome");
//!     chat.create_if_not_exists(CreateConversationParams::new()).await?;
//!     chat.participant("bob").create_if_not_exists(CreateParticipantParams::new()).await?;
//!
//!     // Bob's live view of the conversation's messages, newest first.
//!     let messages = bob.conversation("welcome").subscribe_messages();
//!     messages.connected().await?;
//!     chat.send("Hello *world*").await?;
//!     let mut updates = messages.stream();
//!     loop {
//!         let update = futures_util::StreamExt::next(&mut updates).await.expect("live");
//!         if let Some(newest) = update.snapshot.items().first() {
//!             let sender = newest.sender.as_ref().map_or("?", |u| u.name.as_str());
//!             assert_eq!(format!("{sender}: {}", newest.plaintext), "Alice: Hello world");
//!             break;
//!         }
//!     }
//!     emulator.stop().await;
//!     Ok(())
//! }
//! ```
//!
//! List snapshots (messages, conversations, participants, reactions) are [`ListSnapshot`]s:
//! `None` while the list cannot be seen, else a [`List`], a persistent vector that clones in
//! O(1) and that every listener shares, so a subscription left open for days costs the same
//! per message at any window size. Read it like a slice (`len`, `iter`, `list[0]`, `to_vec()`).
//! Besides whole snapshots, a list subscription offers the changes of each one
//! ([`Subscription::diffs`], [`Subscription::send_to_diffs`]) as [`VectorDiff`]s, the shape
//! matrix-rust-sdk's timelines use; and a messages window can be bounded
//! ([`ConversationRef::subscribe_messages_with`], [`WindowOptions`]). These are Rust additions:
//! the official client's snapshots and windows are unchanged by default.
//!
//! Errors are [`Error`]s: the operation that failed and an [`ErrorKind`] to match on. Empty ids
//! are refused before anything is sent. A subscription that ends reports how as a
//! [`Terminated`].

#![deny(missing_docs)]

mod conversation;
pub mod feed;
mod hydrate;
mod message;
mod participant;
mod reactions;
pub mod rest;
mod search;
mod session;
mod upload;
mod user;
pub mod webhook;

pub use conversation::{ConversationRef, OutgoingMessage};
pub use feed::{FeedItem, FeedOptions, NewMessage, NewMessageFeed, NewMessageStream};
pub use message::{Edit, MessageRef, Translated};
pub use participant::ParticipantRef;
pub use reactions::ReactionsRef;
/// The official client's older name for [`ReactionsRef`].
#[deprecated(note = "use ReactionsRef")]
pub type ReactionRef = ReactionsRef;
pub use search::{
    ConversationSearch, ConversationSearchFilters, MessageSearch, MessageSearchFilters,
    SearchStatus,
};
pub use session::{ErrorSubscription, SessionBuilder, TalkSession, get_talk_session};
pub use talkjs_actors::{Error, ErrorCode, ErrorKind, Result};
pub use user::UserRef;

pub use talkjs_actors::imbl;
pub use talkjs_actors::plugin;
pub use talkjs_actors::plugin::{InboundEvent, LifecycleEvent};
pub use talkjs_actors::subscription::{
    DIFF_BUFFER, DiffStream, DiffUpdate, List, ListItems, ListSnapshot, Subscription,
    SubscriptionStream, Terminated, Update, VectorDiff, WindowLen, WindowOptions,
};
pub use talkjs_actors::token;
pub use talkjs_actors::{Cache, CacheConfig, CacheStats, Lifecycle, SessionStatus, Timings};

/// Ends every session of this process (each terminates with `reason`, as
/// [`TalkSession::terminate`] does) and forgets them, so the next [`get_talk_session`] starts
/// fresh. For tests and for programs that shut down cleanly.
pub fn shutdown(reason: &str) {
    talkjs_actors::terminate_all(reason);
}
pub use talkjs_protocol as protocol;
pub use talkjs_protocol::content::{ContentBlock, FileToken, LocationBlock};
pub use talkjs_protocol::filter;

/// A user's live snapshot ([`UserRef::subscribe`]).
pub type UserSubscription = Subscription<Option<std::sync::Arc<snapshot::UserSnapshot>>>;
/// A conversation's messages, newest first ([`ConversationRef::subscribe_messages`]).
pub type MessageSubscription = Subscription<ListSnapshot<snapshot::MessageSnapshot>>;
/// A conversation's participants, newest first ([`ConversationRef::subscribe_participants`]).
pub type ParticipantSubscription = Subscription<ListSnapshot<snapshot::ParticipantSnapshot>>;
/// One participant's live snapshot ([`ParticipantRef::subscribe`]).
pub type SingleParticipantSubscription =
    Subscription<Option<std::sync::Arc<snapshot::ParticipantSnapshot>>>;
/// Who is typing in a conversation ([`ConversationRef::subscribe_typing`]).
pub type TypingSubscription = Subscription<Option<std::sync::Arc<snapshot::TypingSnapshot>>>;
/// The users who reacted with one emoji, oldest first ([`ReactionsRef::subscribe`]).
pub type ReactionsSubscription = Subscription<ListSnapshot<snapshot::SingleReactionSnapshot>>;
/// A user's online status, with the user ([`UserRef::subscribe_online`]).
pub type UserOnlineSubscription =
    Subscription<Option<std::sync::Arc<snapshot::UserOnlineSnapshot>>>;
/// A conversation with its last message ([`ConversationRef::subscribe`]).
pub type ConversationSubscription =
    Subscription<Option<std::sync::Arc<snapshot::ConversationSnapshot>>>;
/// The current user's conversations, most recent first ([`TalkSession::subscribe_conversations`]).
pub type ConversationListSubscription = Subscription<ListSnapshot<snapshot::ConversationSnapshot>>;

/// The changes of a [`MessageSubscription`]'s snapshots, as an actor receives them
/// ([`Subscription::send_to_diffs`]): `impl Handler<MessagesDiff>`.
pub type MessagesDiff = DiffUpdate<VectorDiff<std::sync::Arc<snapshot::MessageSnapshot>>>;
/// The changes of a [`ConversationListSubscription`]'s snapshots, as an actor receives them.
pub type ConversationsDiff = DiffUpdate<VectorDiff<std::sync::Arc<snapshot::ConversationSnapshot>>>;
/// The changes of a [`ParticipantSubscription`]'s snapshots, as an actor receives them.
pub type ParticipantsDiff = DiffUpdate<VectorDiff<std::sync::Arc<snapshot::ParticipantSnapshot>>>;

/// What a [`MessageSubscription`] delivers (to a bot actor, say: `impl Handler<MessagesUpdate>`).
pub type MessagesUpdate = Update<ListSnapshot<snapshot::MessageSnapshot>>;
/// What a [`ConversationListSubscription`] delivers.
pub type ConversationsUpdate = Update<ListSnapshot<snapshot::ConversationSnapshot>>;
/// What a [`ConversationSubscription`] delivers.
pub type ConversationUpdate = Update<Option<std::sync::Arc<snapshot::ConversationSnapshot>>>;
/// What a [`ParticipantSubscription`] delivers.
pub type ParticipantsUpdate = Update<ListSnapshot<snapshot::ParticipantSnapshot>>;
/// What a [`TypingSubscription`] delivers.
pub type TypingUpdate = Update<Option<std::sync::Arc<snapshot::TypingSnapshot>>>;
/// What a [`UserSubscription`] delivers.
pub type UserUpdate = Update<Option<std::sync::Arc<snapshot::UserSnapshot>>>;

pub use talkjs_protocol::params;
pub use talkjs_protocol::snapshot;
