//! The connection actor: one realtime websocket at a time, for one session.
//!
//! It owns everything about the socket, so callers only ever send it a [`Call`] and await the
//! response:
//!
//! - **Lazy.** It is started by the session on the first request and dials then, not before.
//! - **Authenticated.** The first frame on every socket is `POST /session/renew` with the token
//!   from the session (`NeedToken`). Requests made meanwhile wait in a queue and go out in order
//!   once the socket is ready. A 401 on any request, or a `session.expired` push, re-authenticates
//!   on the same socket and re-sends what was refused; `SetToken` renews the live socket with no gap.
//! - **Numbered.** Each socket numbers its requests from 0; responses are routed by number.
//! - **Acknowledged.** Every push is ACKed at once, then handed to the session.
//! - **Watched.** The server must answer within [`SERVER_TIMEOUT`] of a ping, sent after
//!   [`SERVER_SILENCE`] without a frame from it, or the socket is dropped and redialled; after
//!   [`CLIENT_SILENCE`] without sending anything the client pings to keep the socket warm.
//! - **Resilient.** A socket that drops while anything is in flight or queued is redialled after a
//!   jittered, growing delay ([`RECONNECT_BASE`] doubling up to [`RECONNECT_MAX`]); requests that
//!   were in flight are re-sent with identical data (a send keeps its idempotency key, so the
//!   server creates one message). The official client waits a flat 5–15 s instead, and can leave a
//!   request hanging after an idle close; this actor does neither.
//! - **Frugal.** After [`IDLE_CLOSE`] with nothing in flight and no subscription it closes the
//!   socket (code 1000) and stops; the session starts a fresh connection for the next request.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::{Duration, Instant};

use actix::io::{SinkWrite, WriteHandler};
use actix::prelude::*;
use awc::error::WsProtocolError;
use awc::ws::{self, CloseCode, CloseReason};
use futures_util::stream::{SplitSink, StreamExt};
use serde_json::value::RawValue;
use talkjs_protocol::event::Event;
use talkjs_protocol::frame::{Ack, Frame, Method, Request, Response};
use talkjs_protocol::request::{RenewRequest, RenewResponse};
use tokio::sync::oneshot;
use tracing::Instrument;

use crate::error::{Error, ErrorKind};
use crate::random;
use crate::token::{NeedToken, TokenReason, TokenRequest};

/// Send a ping after this long without sending anything (official client: 25 s).
pub const CLIENT_SILENCE: Duration = Duration::from_secs(25);
/// Send a ping after this long without hearing from the server (official client: 10 s).
pub const SERVER_SILENCE: Duration = Duration::from_secs(10);
/// Drop the socket if the server stays silent this long after a ping (official client: 5 s).
pub const SERVER_TIMEOUT: Duration = Duration::from_secs(5);
/// Close an idle socket after this long (official client: 3 s).
pub const IDLE_CLOSE: Duration = Duration::from_secs(3);
/// First reconnect delay; it doubles per failed attempt, with ±50 % jitter.
pub const RECONNECT_BASE: Duration = Duration::from_millis(250);
/// Longest reconnect delay.
pub const RECONNECT_MAX: Duration = Duration::from_secs(30);
/// How long a wire subscription outlives its last subscriber (official client: 10 s for lists,
/// 30 s for users and single items).
pub const UNSUBSCRIBE_DELAY: Duration = Duration::from_secs(10);
/// Default for [`Timings::user_unsubscribe_delay`]: the official client keeps a user it showed
/// subscribed for about 30 s after the last use.
pub const USER_UNSUBSCRIBE_DELAY: Duration = Duration::from_secs(30);
/// How long a terminated connection waits for the server to answer its close frame.
const CLOSE_GRACE: Duration = Duration::from_secs(1);
/// Messages the connection's mailbox holds before senders wait (requests keep their order).
const MAILBOX_CAPACITY: usize = 65_536;
/// Longest interval between checks of the heartbeat timers.
const HEARTBEAT_TICK: Duration = Duration::from_millis(500);

/// The connection's timings. The defaults are the official client's; tests and unusual
/// deployments can shorten or lengthen them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timings {
    /// Ping after this long without sending anything.
    pub client_silence: Duration,
    /// Ping after this long without hearing from the server.
    pub server_silence: Duration,
    /// Drop the socket if the server stays silent this long after a ping.
    pub server_timeout: Duration,
    /// Close an idle socket after this long.
    pub idle_close: Duration,
    /// First reconnect delay (doubling per attempt, with jitter).
    pub reconnect_base: Duration,
    /// Longest reconnect delay.
    pub reconnect_max: Duration,
    /// How long a wire subscription outlives its last subscriber before `UNSUBSCRIBE` is sent
    /// (a subscription re-made within it costs no frames), and how long the user cache keeps a
    /// user nobody shows live.
    pub unsubscribe_delay: Duration,
    /// The same for users: how long the user cache keeps a user nobody shows any more (still
    /// subscribed, so a later read of them costs no frames) before `UNSUBSCRIBE /users/{id}`.
    pub user_unsubscribe_delay: Duration,
}

impl Default for Timings {
    fn default() -> Timings {
        Timings {
            client_silence: CLIENT_SILENCE,
            server_silence: SERVER_SILENCE,
            server_timeout: SERVER_TIMEOUT,
            idle_close: IDLE_CLOSE,
            reconnect_base: RECONNECT_BASE,
            reconnect_max: RECONNECT_MAX,
            unsubscribe_delay: UNSUBSCRIBE_DELAY,
            user_unsubscribe_delay: USER_UNSUBSCRIBE_DELAY,
        }
    }
}

impl Timings {
    /// How often to check the heartbeat timers: often enough for the shortest of them.
    fn tick(&self) -> Duration {
        (self.server_silence.min(self.server_timeout) / 4)
            .clamp(Duration::from_millis(10), HEARTBEAT_TICK)
    }
}
/// How long dialling (TCP, TLS and the websocket handshake) may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);
/// Largest frame accepted from the server.
const MAX_FRAME_BYTES: usize = 16 * 1024 * 1024;

/// Where and as whom to connect.
#[derive(Clone)]
pub struct ConnectionConfig {
    /// The websocket URL without the per-socket `talkjs-time` parameter's value, see
    /// [`talkjs_protocol::endpoints::ApiUrls::realtime_url`]; called with the connect time.
    pub url: std::sync::Arc<dyn Fn(i64) -> String + Send + Sync>,
    /// The app, for token requests.
    pub app_id: String,
    /// The user, for token requests.
    pub user_id: String,
    /// Heartbeat, idle and reconnect timings.
    pub timings: Timings,
    /// The session's span; the connection's spans are its children.
    pub span: tracing::Span,
    /// Which of the session's connections this is (1, 2, ...).
    pub id: u64,
}

impl std::fmt::Debug for ConnectionConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectionConfig")
            .field("app_id", &self.app_id)
            .field("user_id", &self.user_id)
            .finish_non_exhaustive()
    }
}

/// What the connection tells its session.
#[derive(Debug, Clone, Message)]
#[rtype(result = "()")]
pub enum Notice {
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
    /// The connection stopped for good (idle, or the session ended).
    Terminated {
        /// Why.
        reason: String,
    },
}

/// Why a [`Call`] got no response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallError {
    /// The connection closed (it went idle or lost its socket with nothing to redial for) before
    /// it could send the request: start a new connection and send it again.
    Closed,
    /// The request cannot be sent: the session ended or authentication failed for good.
    Failed(Error),
}

/// A request to send, answered with the server's response (any status).
#[derive(Debug, Message)]
#[rtype(result = "Result<Response, CallError>")]
pub struct Call {
    /// The operation, for error messages.
    pub operation: std::sync::Arc<str>,
    /// Method.
    pub method: Method,
    /// Encoded path.
    pub path: String,
    /// The request data.
    pub data: Box<RawValue>,
}

/// Use this token from now on; renews the live socket at once.
#[derive(Message)]
#[rtype(result = "()")]
pub struct SetToken(pub String);

impl std::fmt::Debug for SetToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Tokens never appear in logs.
        f.write_str("SetToken([redacted])")
    }
}

/// Stop: fail everything pending with this reason and close the socket.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct Shutdown(pub String);

/// Count of subscriptions held on this connection; while above zero the socket stays open.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct SetSubscriptions(pub usize);

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

struct Pending {
    /// Order of arrival, so that anything re-queued goes back in call order.
    order: u64,
    call: Call,
    reply: Option<oneshot::Sender<Result<Response, CallError>>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// No socket, not dialling.
    Closed,
    /// Dialling, or waiting for a token.
    Opening,
    /// Socket open, renew sent, waiting for its answer.
    Authenticating,
    /// Socket open and authenticated.
    Ready,
    /// Waiting to redial.
    Backoff,
}

/// One item of a socket's stream, tagged with the socket it came from.
struct SocketItem {
    generation: u64,
    item: Option<Result<ws::Frame, WsProtocolError>>,
}

impl Message for SocketItem {
    type Result = ();
}

type Sink = SinkWrite<
    ws::Message,
    SplitSink<actix_codec::Framed<awc::BoxedSocket, ws::Codec>, ws::Message>,
>;

/// The connection actor. See the module docs.
pub struct Connection {
    config: ConnectionConfig,
    /// This connection's span (a child of the session's): its sockets, state changes and frames.
    span: tracing::Span,
    session: Recipient<Notice>,
    token_source: Recipient<NeedToken>,
    phase: Phase,
    sink: Option<Sink>,
    generation: u64,
    sockets_opened: u64,
    next_seq: u64,
    /// The renew in flight: its seq and the token it carries.
    renewing: Option<(u64, String)>,
    /// Seqs of renews on this socket overtaken by a newer one (a token set while renewing):
    /// their answers no longer matter.
    superseded: Vec<u64>,
    /// The token this socket is authenticated with.
    authed: Option<String>,
    /// A token fetch is running.
    fetching: bool,
    /// Calls received so far (numbers their arrival order).
    calls: u64,
    token: Option<String>,
    /// The token most recently refused, so a provider that keeps returning it fails fast.
    refused: Option<String>,
    queue: VecDeque<Pending>,
    in_flight: BTreeMap<u64, Pending>,
    pings: HashMap<u64, Instant>,
    subscriptions: usize,
    attempt: u32,
    last_sent: Instant,
    last_heard: Instant,
    ping_sent: Option<Instant>,
    idle_timer: Option<SpawnHandle>,
    stopping: Option<String>,
    /// Whether the stop ends the session (rather than an idle close a new connection follows).
    ended: bool,
}

impl Connection {
    /// A connection that asks `token_source` for tokens and reports to `session`.
    pub fn new(
        config: ConnectionConfig,
        session: Recipient<Notice>,
        token_source: Recipient<NeedToken>,
    ) -> Connection {
        let now = Instant::now();
        let span = tracing::debug_span!(parent: &config.span, "connection", id = config.id);
        Connection {
            config,
            span,
            session,
            token_source,
            phase: Phase::Closed,
            sink: None,
            generation: 0,
            sockets_opened: 0,
            next_seq: 0,
            renewing: None,
            superseded: Vec::new(),
            authed: None,
            fetching: false,
            calls: 0,
            token: None,
            refused: None,
            queue: VecDeque::new(),
            in_flight: BTreeMap::new(),
            pings: HashMap::new(),
            subscriptions: 0,
            attempt: 0,
            last_sent: now,
            last_heard: now,
            ping_sent: None,
            idle_timer: None,
            stopping: None,
            ended: false,
        }
    }

    fn notify(&self, notice: Notice) {
        if let Notice::Lifecycle(state) = &notice {
            tracing::debug!(parent: &self.span, ?state, "connection state");
        }
        self.session.do_send(notice);
    }

    fn wanted(&self) -> bool {
        !self.queue.is_empty() || !self.in_flight.is_empty() || self.subscriptions > 0
    }

    // -- dialling ------------------------------------------------------------------------------

    fn open(&mut self, ctx: &mut Context<Self>) {
        if self.stopping.is_some() || (self.phase != Phase::Closed && self.phase != Phase::Backoff)
        {
            return;
        }
        self.phase = Phase::Opening;
        self.notify(Notice::Lifecycle(Lifecycle::Connecting));
        // A token first: the renew is the socket's first frame.
        match (self.token.clone(), self.refused.is_some()) {
            (Some(token), _) => self.dial(token, ctx),
            // Redialling in the middle of a re-authentication: the cached token was refused, so
            // ask the provider for a new one rather than for the cached one.
            (None, true) => self.fetch_token(TokenReason::Rejected, ctx),
            (None, false) => self.fetch_token(TokenReason::Initial, ctx),
        }
    }

    fn fetch_token(&mut self, reason: TokenReason, ctx: &mut Context<Self>) {
        tracing::debug!(parent: &self.span, ?reason, "asking for a token");
        let request = NeedToken(TokenRequest {
            app_id: self.config.app_id.clone(),
            user_id: self.config.user_id.clone(),
            reason,
        });
        let source = self.token_source.clone();
        self.fetching = true;
        ctx.spawn(
            async move { source.send(request).await }
                .into_actor(self)
                .map(move |result, act, ctx| {
                    act.fetching = false;
                    let token = match result {
                        Ok(Ok(token)) if act.refused.as_deref() == Some(token.as_str()) => {
                            return act.fatal(
                                "the token provider returned the token the server just refused"
                                    .into(),
                                ctx,
                            );
                        }
                        Ok(Ok(token)) => token,
                        Ok(Err(e)) => return act.fatal(e.to_string(), ctx),
                        Err(_) => return act.fatal("the token source is gone".into(), ctx),
                    };
                    act.token = Some(token.clone());
                    match act.phase {
                        Phase::Opening => act.dial(token, ctx),
                        // Re-authentication on a live socket.
                        Phase::Authenticating | Phase::Ready => act.send_renew(token, ctx),
                        Phase::Closed | Phase::Backoff => {}
                    }
                }),
        );
    }

    fn dial(&mut self, token: String, ctx: &mut Context<Self>) {
        let url = (self.config.url)(random::now_ms());
        self.generation += 1;
        let generation = self.generation;
        let span = tracing::debug_span!(parent: &self.span, "connect", generation);
        ctx.spawn(
            async move {
                crate::http::client(CONNECT_TIMEOUT)
                    .ws(url)
                    .max_frame_size(MAX_FRAME_BYTES)
                    .connect()
                    .await
            }
            .instrument(span)
            .into_actor(self)
            .map(move |result, act, ctx| {
                if act.generation != generation || act.stopping.is_some() {
                    return;
                }
                match result {
                    Ok((_, framed)) => {
                        let (sink, stream) = framed.split();
                        let tagged = stream
                            .map(move |item| SocketItem {
                                generation,
                                item: Some(item),
                            })
                            .chain(futures_util::stream::once(async move {
                                SocketItem {
                                    generation,
                                    item: None,
                                }
                            }));
                        ctx.add_message_stream(tagged);
                        act.sink = Some(SinkWrite::new(sink, ctx));
                        act.sockets_opened += 1;
                        act.next_seq = 0;
                        act.last_heard = Instant::now();
                        act.ping_sent = None;
                        act.phase = Phase::Authenticating;
                        // A token set while dialling wins over the one the dial started with.
                        let token = act.token.clone().unwrap_or(token);
                        act.send_renew(token, ctx);
                    }
                    Err(e) => act.socket_lost(format!("could not connect: {e}"), ctx),
                }
            }),
        );
    }

    fn send_renew(&mut self, token: String, ctx: &mut Context<Self>) {
        let Ok(req) = Request::new(
            self.next_seq,
            Method::Post,
            "/session/renew",
            &RenewRequest {
                token: token.clone(),
            },
        ) else {
            return self.fatal("could not encode the renew request".into(), ctx);
        };
        tracing::trace!(parent: &self.span, seq = req.seq, "renew sent");
        if let Some((older, _)) = self.renewing.replace((req.seq, token)) {
            self.superseded.push(older);
        }
        self.next_seq += 1;
        if self.phase == Phase::Ready {
            // Renewing a live socket: it stays usable meanwhile.
        } else {
            self.phase = Phase::Authenticating;
        }
        self.write(Frame::Request(req));
    }

    fn write(&mut self, frame: Frame) {
        if let Some(sink) = &mut self.sink {
            self.last_sent = Instant::now();
            if sink
                .write(ws::Message::Text(frame.to_text().into()))
                .is_err()
            {
                tracing::debug!(parent: &self.span, "write to a closing socket");
            }
        }
    }

    // -- requests -----------------------------------------------------------------------------

    fn send_call(&mut self, mut pending: Pending, ctx: &mut Context<Self>) {
        self.cancel_idle(ctx);
        if self.phase != Phase::Ready {
            self.queue.push_back(pending);
            if matches!(self.phase, Phase::Closed) {
                self.open(ctx);
            }
            return;
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        let call = &mut pending.call;
        let req = Request {
            seq,
            method: call.method,
            path: call.path.clone(),
            data: call.data.clone(),
            headers: empty_object(),
        };
        // The data stays out of logs: it is the user's content.
        tracing::trace!(parent: &self.span, seq, method = %call.method, path = %call.path, "request sent");
        self.write(Frame::Request(req));
        self.in_flight.insert(seq, pending);
    }

    fn drain_queue(&mut self, ctx: &mut Context<Self>) {
        while self.phase == Phase::Ready {
            let Some(p) = self.queue.pop_front() else {
                break;
            };
            self.send_call(p, ctx);
        }
        self.maybe_idle(ctx);
    }

    fn on_response(&mut self, resp: Response, ctx: &mut Context<Self>) {
        if let Some((seq, token)) = self.renewing.take() {
            if seq == resp.seq {
                return self.on_renew(resp, token, ctx);
            }
            self.renewing = Some((seq, token));
        }
        if self.pings.remove(&resp.seq).is_some() {
            return;
        }
        if let Some(at) = self.superseded.iter().position(|s| *s == resp.seq) {
            self.superseded.swap_remove(at);
            tracing::trace!(parent: &self.span, seq = resp.seq, status = resp.status, "superseded renew answered");
            return;
        }
        let Some(mut pending) = self.in_flight.remove(&resp.seq) else {
            tracing::debug!(parent: &self.span, seq = resp.seq, "response to an unknown request");
            return;
        };
        tracing::trace!(parent: &self.span, seq = resp.seq, status = resp.status, "response");
        if resp.status == 401 {
            // The server no longer accepts our token: re-authenticate on this socket (once, however
            // many requests were refused), then re-send in call order.
            self.requeue(pending);
            self.reauthenticate(TokenReason::Rejected, ctx);
            return;
        }
        if let Some(reply) = pending.reply.take() {
            let _ = reply.send(Ok(resp));
        }
        self.maybe_idle(ctx);
    }

    fn on_renew(&mut self, resp: Response, sent: String, ctx: &mut Context<Self>) {
        match resp.status {
            200 => {
                // The official client rejects tokens with less than 120 s left and asks again, which
                // loops with a provider of short-lived tokens (§2.4). Any lifetime is accepted here;
                // the session refreshes at half of a short one, and `session.expired` or a 401
                // covers the rest.
                let expires_in = resp
                    .data::<RenewResponse>()
                    .ok()
                    .and_then(|r| r.expires_in_seconds);
                self.refused = None;
                self.authed = Some(sent);
                let was_ready = self.phase == Phase::Ready;
                self.phase = Phase::Ready;
                self.attempt = 0;
                self.notify(Notice::Authenticated { expires_in });
                if !was_ready {
                    self.notify(Notice::Lifecycle(Lifecycle::Connected));
                }
                self.drain_queue(ctx);
            }
            401 => {
                // Refused is the token this renew carried; a newer one set meanwhile is tried next.
                if self.token.as_deref() == Some(sent.as_str()) {
                    self.token = None;
                }
                self.refused = Some(sent);
                match self.token.clone() {
                    Some(newer) => self.send_renew(newer, ctx),
                    None => self.fetch_token(TokenReason::Rejected, ctx),
                }
            }
            400 | 402 => {
                let body = resp.error_body();
                self.fatal(
                    format!("authentication failed, got status {} {body}", resp.status),
                    ctx,
                );
            }
            status => {
                // The official client stalls here (§2.4); we retry on a fresh socket instead.
                self.socket_lost(format!("renew answered {status}"), ctx);
            }
        }
    }

    fn reauthenticate(&mut self, reason: TokenReason, ctx: &mut Context<Self>) {
        if self.phase == Phase::Ready {
            self.phase = Phase::Authenticating;
        }
        // One re-authentication at a time: a renew or token fetch already running answers for
        // every request waiting on it.
        if self.renewing.is_some() || self.fetching {
            return;
        }
        let refused = self.authed.take();
        if self.token == refused {
            self.token = None;
        }
        self.refused = refused;
        match self.token.clone() {
            Some(newer) => self.send_renew(newer, ctx),
            None => self.fetch_token(reason, ctx),
        }
    }

    /// Puts a request back in the queue, in call order among the others.
    fn requeue(&mut self, pending: Pending) {
        let at = self
            .queue
            .iter()
            .position(|p| p.order > pending.order)
            .unwrap_or(self.queue.len());
        self.queue.insert(at, pending);
    }

    fn on_publish(&mut self, id: u64, events: Vec<Event>, ctx: &mut Context<Self>) {
        tracing::trace!(parent: &self.span, id, events = events.len(), "push");
        self.write(Frame::Ack(Ack { id }));
        for event in events {
            match event {
                Event::SessionExpired => {
                    self.notify(Notice::SessionExpired);
                    self.reauthenticate(TokenReason::SessionExpired, ctx);
                }
                other => self.notify(Notice::Pushed(other)),
            }
        }
    }

    // -- losing the socket --------------------------------------------------------------------

    fn socket_lost(&mut self, reason: String, ctx: &mut Context<Self>) {
        if self.stopping.is_some() {
            return;
        }
        tracing::debug!(parent: &self.span, %reason, "socket lost");
        self.generation += 1;
        if let Some(mut sink) = self.sink.take() {
            sink.close();
        }
        self.renewing = None;
        self.superseded.clear();
        self.authed = None;
        self.pings.clear();
        // In-flight requests go back in call order, with identical data.
        for (_, p) in std::mem::take(&mut self.in_flight) {
            self.requeue(p);
        }
        self.notify(Notice::Lifecycle(Lifecycle::Disconnected {
            reason: reason.clone(),
        }));
        if !self.wanted() {
            self.phase = Phase::Closed;
            return self.terminate(format!("idle after disconnect: {reason}"), false, ctx);
        }
        self.phase = Phase::Backoff;
        self.attempt += 1;
        let delay = backoff(
            self.attempt,
            self.config.timings.reconnect_base,
            self.config.timings.reconnect_max,
        );
        self.notify(Notice::Lifecycle(Lifecycle::Reconnecting {
            attempt: self.attempt,
            delay,
        }));
        ctx.run_later(delay, |act, ctx| {
            if act.phase == Phase::Backoff {
                act.open(ctx);
            }
        });
    }

    fn fatal(&mut self, reason: String, ctx: &mut Context<Self>) {
        let error = Error::new("Authenticate", ErrorKind::AuthFailed(reason.clone()));
        self.notify(Notice::Fatal(error));
        self.terminate(reason, true, ctx);
    }

    /// Answers everything pending, closes the socket and stops. `ended`: the session is over
    /// (pending calls fail); otherwise this is an idle close (pending calls are told to retry on a
    /// new connection).
    fn terminate(&mut self, reason: String, ended: bool, ctx: &mut Context<Self>) {
        if self.stopping.is_some() {
            return;
        }
        self.stopping = Some(reason.clone());
        self.ended = ended;
        let mut pending: Vec<Pending> = self.queue.drain(..).collect();
        pending.extend(std::mem::take(&mut self.in_flight).into_values());
        for mut p in pending {
            if let Some(reply) = p.reply.take() {
                let _ = reply.send(Err(self.stopped_error(&p.call.operation)));
            }
        }
        self.phase = Phase::Closed;
        let closing = match self.sink.take() {
            Some(mut sink) => {
                // Only the close frame: shutting the socket's write side down too (`close`)
                // can make the server drop frames that arrive with the end of the stream.
                let _ = sink.write(ws::Message::Close(Some(CloseReason {
                    code: CloseCode::Normal,
                    description: None,
                })));
                true
            }
            None => false,
        };
        self.notify(Notice::Stopped {
            connection: self.config.id,
        });
        self.notify(Notice::Lifecycle(Lifecycle::Terminated { reason }));
        if closing {
            // Stopping the actor at once would drop its writer with whatever it has not yet
            // written (an ACK just queued, the close frame itself), and the socket before the
            // server read it: stop when the server answers the close (the closing handshake),
            // or after a grace period.
            ctx.run_later(CLOSE_GRACE, |_, ctx| ctx.stop());
        } else {
            ctx.stop();
        }
    }

    /// What a call gets once the connection is stopping.
    fn stopped_error(&self, operation: &std::sync::Arc<str>) -> CallError {
        match (&self.stopping, self.ended) {
            (Some(reason), true) => CallError::Failed(Error::new(
                operation.clone(),
                ErrorKind::SessionTerminated(reason.clone()),
            )),
            _ => CallError::Closed,
        }
    }

    // -- idleness and heartbeats --------------------------------------------------------------

    fn cancel_idle(&mut self, ctx: &mut Context<Self>) {
        if let Some(h) = self.idle_timer.take() {
            ctx.cancel_future(h);
        }
    }

    fn maybe_idle(&mut self, ctx: &mut Context<Self>) {
        if self.phase != Phase::Ready || self.wanted() || self.idle_timer.is_some() {
            return;
        }
        self.idle_timer = Some(ctx.run_later(self.config.timings.idle_close, |act, ctx| {
            act.idle_timer = None;
            if act.phase == Phase::Ready && !act.wanted() {
                act.terminate("idle".into(), false, ctx);
            }
        }));
    }

    fn heartbeat(&mut self, ctx: &mut Context<Self>) {
        if self.phase != Phase::Ready && self.phase != Phase::Authenticating {
            return;
        }
        let now = Instant::now();
        if let Some(sent) = self.ping_sent {
            if now.duration_since(sent) >= self.config.timings.server_timeout {
                self.ping_sent = None;
                return self.socket_lost("the server stopped answering".into(), ctx);
            }
            return;
        }
        let server_quiet =
            now.duration_since(self.last_heard) >= self.config.timings.server_silence;
        let client_quiet = now.duration_since(self.last_sent) >= self.config.timings.client_silence;
        if server_quiet || client_quiet {
            let seq = self.next_seq;
            self.next_seq += 1;
            self.pings.insert(seq, now);
            if server_quiet {
                self.ping_sent = Some(now);
            }
            if let Ok(req) = Request::new(seq, Method::Get, "/ping", &serde_json::json!({})) {
                self.write(Frame::Request(req));
            }
        }
    }
}

/// The delay before reconnect attempt `attempt` (from 1): doubling from `base`, at most `max`,
/// times a random factor in [0.5, 1.5) so that many clients that lost the same server do not
/// return all at once.
pub fn backoff(attempt: u32, base: Duration, max: Duration) -> Duration {
    let exp = base.saturating_mul(1 << attempt.saturating_sub(1).min(16));
    let capped = exp.min(max);
    capped.mul_f64(0.5 + random::unit())
}

fn empty_object() -> Box<RawValue> {
    RawValue::from_string("{}".to_owned()).unwrap_or_else(|_| unreachable!("valid JSON"))
}

impl Actor for Connection {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        // A full mailbox makes `Addr::send` wait and could reorder requests; keep it roomy.
        ctx.set_mailbox_capacity(MAILBOX_CAPACITY);
        ctx.run_interval(self.config.timings.tick(), |act, ctx| act.heartbeat(ctx));
    }
}

impl WriteHandler<WsProtocolError> for Connection {
    fn error(&mut self, err: WsProtocolError, _ctx: &mut Context<Self>) -> Running {
        tracing::debug!(parent: &self.span, error = %err, "websocket write failed");
        Running::Continue
    }

    fn finished(&mut self, _ctx: &mut Context<Self>) {}
}

impl Handler<SocketItem> for Connection {
    type Result = ();

    fn handle(&mut self, msg: SocketItem, ctx: &mut Context<Self>) {
        if msg.generation != self.generation {
            return; // A socket we already gave up on.
        }
        if self.stopping.is_some() {
            // Closing (`terminate`): the server's close frame, or the end of the socket,
            // completes the closing handshake; anything else is no longer wanted.
            if matches!(
                msg.item,
                None | Some(Err(_)) | Some(Ok(ws::Frame::Close(_)))
            ) {
                ctx.stop();
            }
            return;
        }
        let frame = match msg.item {
            None => return self.socket_lost("the server closed the socket".into(), ctx),
            Some(Err(e)) => return self.socket_lost(format!("protocol error: {e}"), ctx),
            Some(Ok(frame)) => frame,
        };
        self.last_heard = Instant::now();
        self.ping_sent = None;
        match frame {
            ws::Frame::Text(bytes) => {
                let Ok(text) = std::str::from_utf8(&bytes) else {
                    return tracing::debug!(parent: &self.span, "non-UTF-8 text frame ignored");
                };
                match Frame::parse(text) {
                    Ok(Frame::Response(resp)) => self.on_response(resp, ctx),
                    Ok(Frame::Publish(p)) => {
                        let span = &self.span;
                        let events = p
                            .events()
                            .filter_map(|e| {
                                e.map_err(|e| tracing::debug!(parent: span, error = %e, "undecodable event"))
                                    .ok()
                            })
                            .collect();
                        self.on_publish(p.id, events, ctx);
                    }
                    // Frames only clients send, or garbage: ignored, as the official client does.
                    Ok(Frame::Request(_) | Frame::Ack(_)) | Err(_) => {
                        tracing::debug!(parent: &self.span, "ignored a frame")
                    }
                }
            }
            ws::Frame::Ping(bytes) => {
                if let Some(sink) = &mut self.sink {
                    let _ = sink.write(ws::Message::Pong(bytes));
                }
            }
            ws::Frame::Close(reason) => {
                self.socket_lost(format!("the server closed the socket: {reason:?}"), ctx);
            }
            ws::Frame::Pong(_) | ws::Frame::Binary(_) | ws::Frame::Continuation(_) => {}
        }
    }
}

impl Handler<Call> for Connection {
    type Result = ResponseFuture<Result<Response, CallError>>;

    fn handle(&mut self, call: Call, ctx: &mut Context<Self>) -> Self::Result {
        let (tx, rx) = oneshot::channel();
        if self.stopping.is_some() {
            let e = self.stopped_error(&call.operation);
            return Box::pin(async move { Err(e) });
        }
        self.calls += 1;
        let order = self.calls;
        self.send_call(
            Pending {
                order,
                call,
                reply: Some(tx),
            },
            ctx,
        );
        // A reply dropped without an answer means the connection went away: try a new one.
        Box::pin(async move { rx.await.unwrap_or(Err(CallError::Closed)) })
    }
}

impl Handler<SetToken> for Connection {
    type Result = ();

    fn handle(&mut self, msg: SetToken, ctx: &mut Context<Self>) {
        self.token = Some(msg.0.clone());
        if self.phase == Phase::Ready || self.phase == Phase::Authenticating {
            self.send_renew(msg.0, ctx);
        }
    }
}

impl Handler<Shutdown> for Connection {
    type Result = ();

    fn handle(&mut self, msg: Shutdown, ctx: &mut Context<Self>) {
        self.terminate(msg.0, true, ctx);
    }
}

impl Handler<SetSubscriptions> for Connection {
    type Result = ();

    fn handle(&mut self, msg: SetSubscriptions, ctx: &mut Context<Self>) {
        self.subscriptions = msg.0;
        if self.wanted() {
            self.cancel_idle(ctx);
            if self.phase == Phase::Closed {
                self.open(ctx);
            }
        } else {
            self.maybe_idle(ctx);
        }
    }
}

impl Handler<GetState> for Connection {
    type Result = MessageResult<GetState>;

    fn handle(&mut self, _: GetState, _ctx: &mut Context<Self>) -> Self::Result {
        MessageResult(ConnectionState {
            ready: self.phase == Phase::Ready,
            sockets_opened: self.sockets_opened,
            queued: self.queue.len(),
            in_flight: self.in_flight.len(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_with_jitter_and_is_capped() {
        for attempt in 1..40 {
            let d = backoff(attempt, RECONNECT_BASE, RECONNECT_MAX);
            let nominal = RECONNECT_BASE
                .saturating_mul(1 << (attempt - 1).min(16))
                .min(RECONNECT_MAX);
            assert!(
                d >= nominal.mul_f64(0.5) && d < nominal.mul_f64(1.5),
                "attempt {attempt}: {d:?}"
            );
        }
        assert!(backoff(30, RECONNECT_BASE, RECONNECT_MAX) < RECONNECT_MAX.mul_f64(1.5));
    }
}
