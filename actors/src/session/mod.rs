//! The session actor: one TalkJS user's session.
//!
//! Nothing outside this folder talks to the actor directly: [`SessionHandle`](handle::SessionHandle) is the one door
//! (requests, batched requests, topics, routes, auth, plugins), and the messages behind it are
//! crate-private. The actor's concerns live one per file:
//!
//! - [`auth`]: the current token, where the next one comes from, and its refresh before expiry;
//! - [`pipeline`]: every request through the status policy and its [`Throttle`];
//!   the connection actor it owns (a new one when the last went idle);
//! - [`batcher`]: which requests share a frame, and when a batch goes out;
//! - [`topics`]: wire topics held by subscriptions (one `SUBSCRIBE` per topic), and the
//!   resubscribe after a lost socket;
//! - [`routes`]: which subscription actors receive which pushed events;
//! - [`events`]: what the connection reports (pushes, lifecycle), and plugins' observers;
//! - [`lifecycle`]: termination, delivered once to every `on_error` listener.
//!
//! - [`policy`]: the status policy's retry rule and pacing, without I/O.
//!
//! This file holds the actor's state and imports only the leaf modules (`routes`, `policy`);
//! the handlers, in the files above, build on it, and [`handle`] builds on them.

pub(crate) mod auth;
mod batcher;
mod events;
pub(crate) mod handle;
pub(crate) mod lifecycle;
pub(crate) mod pipeline;
pub(crate) mod policy;
pub(crate) mod routes;
mod small_map;
pub(crate) mod topics;

use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

use actix::prelude::*;
use talkjs_protocol::endpoints::ApiUrls;
use talkjs_protocol::path::Topic;

use crate::batch::{self, BatchKey};
use crate::connection::{Connection, Timings};
use crate::error::Error;
use crate::plugin::{InboundEvent, LifecycleEvent};
use crate::token::{NeedToken, TokenProvider};
use policy::Throttle;
use routes::{EventSink, Routes, TopicEntry};

pub(crate) use pipeline::Request;

/// A termination listener.
pub type ErrorListener = Box<dyn Fn(&Error) + Send>;

/// What the realtime URL calls this client.
pub const CLIENT_BUILD: &str = concat!("talkjs-rs-", env!("CARGO_PKG_VERSION"));

/// Where a session gets its tokens.
pub enum TokenSource {
    /// No token: an unauthenticated app; the session fetches bokens.
    Boken {
        /// Identity-verification signature of the user id, if the app uses one.
        signature: Option<String>,
    },
    /// A provider, run on the session's own context (one fetch at a time).
    Provider(Box<dyn TokenProvider>),
    /// Any actor that answers [`NeedToken`].
    Actor(Recipient<NeedToken>),
}

impl std::fmt::Debug for TokenSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TokenSource::Boken { .. } => f.write_str("TokenSource::Boken"),
            TokenSource::Provider(_) => f.write_str("TokenSource::Provider"),
            TokenSource::Actor(_) => f.write_str("TokenSource::Actor"),
        }
    }
}

/// What the session actor itself needs (the registry's `SessionConfig` less the cache, which
/// the registry starts).
#[derive(Debug)]
pub(crate) struct Settings {
    pub(crate) app_id: Arc<str>,
    pub(crate) user_id: Arc<str>,
    pub(crate) urls: Arc<ApiUrls>,
    pub(crate) tokens: TokenSource,
    pub(crate) timings: Arc<Timings>,
}

/// The session actor. See the module docs.
pub(crate) struct Session {
    /// Shared with the session's handle, its connections' URL and the app's other sessions.
    app_id: Arc<str>,
    /// Shared with the session's handle and its connections' URL.
    user_id: Arc<str>,
    /// Shared with the session's handle and its connections.
    urls: Arc<ApiUrls>,
    /// Shared with its connections.
    timings: Arc<Timings>,
    client_id: crate::random::ClientId,
    /// Where tokens come from (started on the session's thread in `started`).
    tokens: Option<TokenSource>,
    source: Option<auth::Source>,
    /// Requests waiting for the inline provider's fetch in flight.
    token_waiting: Vec<tokio::sync::oneshot::Sender<Result<String, crate::token::TokenError>>>,
    /// The current token, shared with the connection.
    token: Option<crate::connection::Token>,
    connection: Option<Addr<Connection>>,
    connections_started: u32,
    throttle: Arc<Mutex<Throttle>>,
    listeners: Vec<(u64, ErrorListener)>,
    lifecycle_observers: Vec<Recipient<LifecycleEvent>>,
    event_observers: Vec<Recipient<InboundEvent>>,
    refresh_timer: Option<SpawnHandle>,
    /// Boxed: a live session has none.
    terminated: Option<Box<Error>>,
    /// Shared with every handle: set once the session ended.
    ended: Arc<AtomicBool>,
    /// Pending batches, in the order they were opened (the order they go out).
    batches: Vec<(BatchKey, batch::Pending)>,
    flush_scheduled: bool,
    /// `SUBSCRIBE /users` frames sent: each one's users are read in their own `GET /users`
    /// ([`BatchKey::SubscribedUsers`]).
    user_subscribe_frames: u64,
    /// Parent of every span of this session (its requests, its connections).
    span: tracing::Span,
    /// Wire topics held by subscriptions.
    topics: small_map::SmallMap<Topic, TopicEntry>,
    /// Subscription actors and the events they want.
    routes: Routes,
    /// Who sees every event first, resyncs first and stops with the session (the cache).
    sinks: Vec<Box<dyn EventSink>>,
    /// A socket with held topics was lost, or the server expired the session: the next ready
    /// socket resubscribes and refetches.
    stale: bool,
    /// The server announced a restart: the next reconnect skips the refetch.
    upstream_restarting: bool,
}

impl Session {
    /// A session that will get its tokens from `config.tokens` (the token actor starts with it)
    /// and share every event with `sinks`.
    pub(crate) fn new(
        config: Settings,
        ended: Arc<AtomicBool>,
        sinks: Vec<Box<dyn EventSink>>,
    ) -> Session {
        Session {
            span: tracing::info_span!("session", app = %config.app_id, user = %config.user_id),
            app_id: config.app_id,
            user_id: config.user_id,
            urls: config.urls,
            timings: config.timings,
            client_id: crate::random::client_id(),
            tokens: Some(config.tokens),
            source: None,
            token_waiting: Vec::new(),
            token: None,
            connection: None,
            connections_started: 0,
            throttle: Arc::default(),
            listeners: Vec::new(),
            lifecycle_observers: Vec::new(),
            event_observers: Vec::new(),
            refresh_timer: None,
            terminated: None,
            ended,
            batches: Vec::new(),
            flush_scheduled: false,
            user_subscribe_frames: 0,
            topics: small_map::SmallMap::default(),
            routes: Routes::default(),
            sinks,
            stale: false,
            upstream_restarting: false,
        }
    }
}

impl Actor for Session {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        self.start_token_source();
        self.check_app(ctx);
    }

    fn stopped(&mut self, _ctx: &mut Context<Self>) {
        self.shut_connection("the session stopped");
        for sink in &self.sinks {
            sink.stop();
        }
    }
}
