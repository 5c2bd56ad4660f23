//! The actor system behind the `talkjs` runtime.
//!
//! One actor per module, each named for what it owns (see ARCHITECTURE.md):
//!
//! - `registry`: hands out one session per (app id, user id, server), and starts sessions;
//! - `session`: one user's session; [`SessionHandle`] is its only door;
//! - `connection`: the realtime websocket: lazy, authenticated, numbered, watched, redialled;
//! - `cache`: the session's user and message cache, in shard actors;
//! - [`subscription`]: one actor per live subscription, and the handles that drive it;
//! - [`feed`]: feeds of new messages (one actor each), for bots;
//! - [`token`]: where tokens come from, as an actor any application can replace;
//! - `runtime`: where the actors run: the current actix arbiter, or a thread of the runtime's
//!   own, so that every handle works from any async runtime and any thread.
//!
//! Everything that crosses the wire comes from `talkjs-protocol`; this crate parses nothing
//! itself. Users use it through the `talkjs` crate; what plugins may use is [`plugin`].

#![deny(missing_docs)]

pub mod batch;
mod boken;
mod cache;
mod connection;
mod error;
pub mod feed;
mod http;
pub mod plugin;
mod random;
mod registry;
mod runtime;
mod session;
pub mod subscription;
pub mod token;

pub use cache::{Cache, CacheConfig, CacheStats};
pub use connection::{Lifecycle, Timings};
pub use error::{Error, ErrorKind, Result};
pub use http::client as http_client;
/// The persistent vectors behind list snapshots ([`subscription::List`]).
pub use imbl;
pub use registry::{SessionConfig, get_session, terminate_all};
pub use runtime::{THREAD_NAME, run_on_runtime};
pub use session::handle::{SessionHandle, TopicGuard};
pub use session::lifecycle::SessionStatus;
pub use session::routes::{Found, Lookup};
pub use session::{
    CLIENT_BUILD, TokenSource,
    auth::{MIN_REFRESH_DELAY, REFRESH_MARGIN, refresh_delay},
    policy::{MAX_500_TRIES, THROTTLE_FACTOR, THROTTLE_MAX, THROTTLE_START, Throttle, retry_delay},
};
pub use talkjs_protocol::error::ErrorCode;

/// A fresh idempotency key for a send (the time now plus random characters, in the official
/// client's format).
pub fn new_idempotency_key() -> talkjs_protocol::request::IdempotencyKey {
    talkjs_protocol::request::IdempotencyKey::generate(random::now_ms().max(0) as u64, random::u64)
}

/// A random number in `[0, 1)` (jitter), without a dependency.
pub fn random_unit() -> f64 {
    random::unit()
}

/// A random `u64` (multipart boundaries), without a dependency.
pub fn random_u64() -> u64 {
    random::u64()
}
