//! The actor system behind the `talkjs` runtime.
//!
//! One actor per file, each named for what it owns (see ARCHITECTURE.md):
//!
//! - [`registry`]: hands out one session per (app id, user id).
//! - [`session`]: auth state, the request pipeline and its status policy, termination, plugins.
//! - [`connection`]: the realtime websocket: lazy, authenticated, numbered, watched, redialled.
//! - [`token`]: where tokens come from, as an actor any application can replace.
//! - [`boken`]: tokens of unauthenticated apps.
//! - [`batch`]: which requests share a frame, and how their answers split.
//! - [`live`]: wire topics shared by subscriptions, and the routing of pushed events.
//! - [`cache`]: the session's user and message cache, in shard actors.
//! - [`subscription`]: one actor per live subscription, and the handles that drive it.
//!
//! Everything that crosses the wire comes from `talkjs-protocol`; this crate parses nothing itself.
//! All actors run inside an actix system (`#[actix_rt::main]`, `#[actix_web::main]` or
//! `actix_rt::System::new()`).

#![deny(missing_docs)]

pub mod batch;
pub mod boken;
pub mod cache;
pub mod connection;
pub mod error;
pub mod http;
pub mod live;
pub mod random;
pub mod registry;
pub mod session;
pub mod subscription;
pub mod token;

pub use error::{Error, ErrorKind, Result};

/// A fresh idempotency key for a send (the time now plus random characters, in the official
/// client's format).
pub fn new_idempotency_key() -> talkjs_protocol::request::IdempotencyKey {
    talkjs_protocol::request::IdempotencyKey::generate(random::now_ms().max(0) as u64, random::u64)
}
