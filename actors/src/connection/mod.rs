//! The connection actor: one realtime websocket at a time, for one session.
//!
//! It owns everything about the socket, so callers only ever send it a [`Call`] and await the
//! response:
//!
//! - **Lazy.** It is started by the session on the first request and dials then, not before.
//! - **Authenticated.** The first frame on every socket is `POST /session/renew` with the token
//!   from the session ([`Notice::NeedToken`]). Requests made meanwhile wait in a queue and go out in order
//!   once the socket is ready. A 401 on any request, or a `session.expired` push, re-authenticates
//!   on the same socket and re-sends what was refused; `SetToken` renews the live socket with no gap.
//! - **Numbered.** Each socket numbers its requests from 0; responses are routed by number.
//! - **Acknowledged.** Every push is ACKed at once, then handed to the session.
//! - **Watched.** The server must answer within
//!   [`server_timeout`](Timings::server_timeout) of a ping, sent after
//!   [`server_silence`](Timings::server_silence) without a frame from it, or the socket is
//!   dropped and redialled; after [`client_silence`](Timings::client_silence) without sending
//!   anything the client pings to keep the socket warm.
//! - **Resilient.** A socket that drops while anything is in flight or queued is redialled after a
//!   jittered, growing delay ([`reconnect_base`](Timings::reconnect_base) doubling up to
//!   [`reconnect_max`](Timings::reconnect_max)); requests that were in flight are re-sent with
//!   identical data (a send keeps its idempotency key, so the server creates one message). The
//!   official client waits a flat 5–15 s instead, and can leave a request hanging after an idle
//!   close; this actor does neither.
//! - **Frugal.** After [`idle_close`](Timings::idle_close) with nothing in flight and no
//!   subscription it closes the socket (code 1000) and stops; the session starts a fresh
//!   connection for the next request.
//!
//! One concern per file, each an `impl Connection` block beside the messages it handles:
//!
//! - this file: the actor, what it tells its session ([`Notice`], [`Lifecycle`]) and its
//!   configuration;
//! - `frames`: the websocket's framing, with buffers only while bytes are in them;
//! - `writer`: the socket's write half, with a queue only while frames wait in it;
//! - `socket`: the socket's state machine (`Link`: unopened, opening, open, backing off,
//!   closing), dialling, reading frames and losing the socket;
//! - `auth`: tokens and renews, and whether an open socket is authenticated ([`SetToken`]);
//! - `calls`: requests, their queue and their answers ([`Call`]);
//! - `heartbeat`: pings and the server-silence timeout;
//! - `stop`: the idle close and the end of the session ([`Shutdown`], [`SetSubscriptions`]);
//! - `timings`: the protocol's timings ([`Timings`]) and the reconnect [`backoff`].

mod auth;
mod calls;
mod dial;
mod frames;
mod heartbeat;
mod outage;
mod socket;
mod stop;
mod timings;
mod writer;

use std::time::Duration;

use actix::prelude::*;
use talkjs_protocol::event::Event;

use crate::error::Error;
use crate::token::{TokenError, TokenReason};

pub use auth::SetToken;
pub use calls::{Call, CallError};
pub use stop::{SetSubscriptions, Shutdown};
pub use timings::{Timings, backoff};

use auth::Tokens;
use calls::Calls;
use socket::Link;

/// Messages the connection's mailbox holds before senders wait (requests keep their order).
const MAILBOX_CAPACITY: usize = 65_536;

/// Where and as whom to connect.
#[derive(Clone)]
pub struct ConnectionConfig {
    /// The websocket URL without the per-socket `talkjs-time` parameter's value, see
    /// [`talkjs_protocol::endpoints::ApiUrls::realtime_url`]; called with the connect time.
    pub url: std::sync::Arc<dyn Fn(i64) -> String + Send + Sync>,
    /// Heartbeat, idle and reconnect timings.
    pub timings: std::sync::Arc<Timings>,
    /// Which of the session's connections this is (1, 2, ...).
    pub id: u64,
}

impl std::fmt::Debug for ConnectionConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectionConfig")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// A token, shared by the session and its connection (a JWT is a few hundred bytes; they hold
/// one copy between them).
pub type Token = std::sync::Arc<str>;

/// Where the session answers a [`Notice::NeedToken`].
pub type TokenReply = tokio::sync::oneshot::Sender<Result<Token, TokenError>>;

/// What the connection tells its session.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub enum Notice {
    /// The connection needs a token (the cached one for a first socket, else a new one); the
    /// answer goes to `reply`. The session is the connection's only token source, so this
    /// travels with the other notices (one address for both).
    NeedToken {
        /// Why.
        reason: TokenReason,
        /// Where the token goes.
        reply: TokenReply,
    },
    /// The socket state changed.
    Lifecycle(Lifecycle),
    /// The server accepted a token; `expires_in` seconds remain (`None`: it does not expire).
    Authenticated {
        /// Seconds until the token expires.
        expires_in: Option<u64>,
    },
    /// The server pushed an event (control events are handled by the connection first).
    Pushed(Event),
    /// The server pushed `session.expired`: the socket re-authenticates, and once it is ready
    /// again the session subscribes to every held topic again and refetches, as the official
    /// client does (the server no longer counts the old subscriptions).
    SessionExpired,
    /// Authentication cannot recover; the session should terminate.
    Fatal(Error),
    /// The connection with this id is stopping; the next request needs a new one.
    Stopped {
        /// The connection's id ([`ConnectionConfig::id`]).
        connection: u64,
    },
}

/// The lifecycle of the connection, observable by plugins.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Lifecycle {
    /// Dialling the server.
    Connecting,
    /// The socket is open and authenticated. Also sent again, with no `Disconnected` before
    /// it, when the live socket has re-authenticated after `session.expired` or a 401 (after
    /// `session.expired` the session then subscribes again and refetches, as after a
    /// reconnect).
    Connected,
    /// The socket closed or failed.
    Disconnected {
        /// Why.
        reason: String,
    },
    /// Redialling after a delay.
    Reconnecting {
        /// Failed attempts so far.
        attempt: u32,
        /// How long until the next attempt.
        delay: Duration,
    },
    /// No authenticated socket for [`Timings::connect_timeout`]: the calls that waited so long
    /// failed with `ErrorKind::Unreachable`. Sent once per outage; `Connected` follows when the
    /// server is back (the connection keeps redialling while subscriptions need it).
    Unreachable {
        /// The last failure seen (`could not connect: ...`, `the server did not answer ...`).
        reason: String,
    },
    /// The connection stopped for good (idle, or the session ended).
    Terminated {
        /// Why.
        reason: String,
    },
}

/// Whether the connection has an authenticated socket (for tests and diagnostics).
#[derive(Debug, Message)]
#[rtype(result = "ConnectionState")]
pub struct GetState;

/// A snapshot of the connection's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionState {
    /// An authenticated socket is open.
    pub ready: bool,
    /// Sockets opened so far.
    pub sockets_opened: u64,
    /// Requests waiting to be sent.
    pub queued: usize,
    /// Requests sent and not yet answered.
    pub in_flight: usize,
}

/// The connection actor. See the module docs.
pub struct Connection {
    config: ConnectionConfig,
    /// This connection's span (a child of the session's): its sockets, state changes and frames.
    span: tracing::Span,
    /// Its session: notices and token requests.
    session: Recipient<Notice>,
    /// The socket, or where the connection stands without one.
    link: Link,
    /// Numbers each dial and each lost socket, so that a late dial result or frame from a
    /// socket already given up on is recognised and dropped.
    generation: u64,
    /// Sockets opened so far.
    sockets_opened: u64,
    /// The tokens, across sockets.
    tokens: Tokens,
    /// The requests: queued and in flight.
    calls: Calls,
    /// Subscriptions held on this connection; while above zero the socket stays open.
    subscriptions: usize,
    /// Failed reconnect attempts since the last successful authentication.
    attempt: u32,
    /// The idle close, once scheduled.
    idle_timer: Option<SpawnHandle>,
    /// The outage since the last authenticated socket: why it failed last, and whether
    /// `Lifecycle::Unreachable` was reported.
    outage: outage::Outage,
}

impl Connection {
    /// A connection that reports to `session` and asks it for tokens; its spans are children
    /// of `parent` (the session's).
    pub fn new(
        config: ConnectionConfig,
        parent: &tracing::Span,
        session: Recipient<Notice>,
    ) -> Connection {
        let span = tracing::debug_span!(parent: parent, "connection", id = config.id);
        Connection {
            config,
            span,
            session,
            link: Link::Unopened,
            generation: 0,
            sockets_opened: 0,
            tokens: Tokens::default(),
            calls: Calls::default(),
            subscriptions: 0,
            attempt: 0,
            idle_timer: None,
            outage: outage::Outage::default(),
        }
    }

    fn notify(&self, notice: Notice) {
        if let Notice::Lifecycle(state) = &notice {
            tracing::debug!(parent: &self.span, ?state, "connection state");
        }
        self.session.do_send(notice);
    }

    /// Whether anything needs the socket: a request queued or in flight, or a subscription.
    fn wanted(&self) -> bool {
        !self.calls.is_empty() || self.subscriptions > 0
    }
}

impl Actor for Connection {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        // A full mailbox makes `Addr::send` wait and could reorder requests; keep it roomy.
        ctx.set_mailbox_capacity(MAILBOX_CAPACITY);
        ctx.run_interval(self.config.timings.tick(), |act, ctx| {
            act.heartbeat(ctx);
            act.give_up_waiting(ctx);
        });
    }
}

impl Handler<GetState> for Connection {
    type Result = MessageResult<GetState>;

    fn handle(&mut self, _: GetState, _ctx: &mut Context<Self>) -> Self::Result {
        MessageResult(ConnectionState {
            ready: self.link.ready(),
            sockets_opened: self.sockets_opened,
            queued: self.calls.queued(),
            in_flight: self.calls.in_flight(),
        })
    }
}
