//! The session actor: one TalkJS user's session.
//!
//! It holds the auth state (the current token and where to get the next one), runs every request
//! through the status policy, owns the connection actor (starting a new one when the last went
//! idle), delivers its termination to every `on_error` listener, and lets plugins observe the
//! connection's lifecycle and every pushed event.
//!
//! Status policy, as the official client applies it (docs/protocol.md §3.9): 200 resolves; 400,
//! 402, 403, 404, 405 and 409 resolve as errors; 401 is handled by the connection (re-authenticate,
//! re-send); 429 is retried without limit and 500 up to [`MAX_500_TRIES`] times, both paced by
//! the session's [`Throttle`]; any other status is an error.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix::prelude::*;
use serde_json::value::RawValue;
use talkjs_protocol::endpoints::ApiUrls;
use talkjs_protocol::event::Event;
use talkjs_protocol::frame::Method;
use talkjs_protocol::path::Topic;
use talkjs_protocol::request::SubscribeUsersRequest;
use tracing::Instrument;

use crate::batch::{self, BatchItem, BatchKey, Batched};
use crate::boken::BokenProvider;
use crate::cache::{Cache, CacheConfig};
use crate::connection::{
    Call, CallError, Connection, ConnectionConfig, Lifecycle, Notice, SetSubscriptions, SetToken,
    Shutdown,
};
use crate::error::{Error, ErrorKind};
use crate::live::{Attach, Detach, Find, Found, Hold, Release, Routed, Routes, TopicEntry};
use crate::random;
use crate::token::{NeedToken, TokenActor, TokenError, TokenProvider, TokenReason, TokenRequest};

/// Total tries for a request answered 500 (official client: 10).
pub const MAX_500_TRIES: u32 = 10;
/// The throttler's first delay (official client: 200 ms).
pub const THROTTLE_START: Duration = Duration::from_millis(200);
/// The throttler's growth per use (official client: 1.2).
pub const THROTTLE_FACTOR: f64 = 1.2;
/// The throttler's longest delay (official client: 30 s).
pub const THROTTLE_MAX: Duration = Duration::from_secs(30);
/// Refresh a token this long before it expires, when it lives longer than twice this
/// (official client: 300 s, else at half its life).
pub const REFRESH_MARGIN: Duration = Duration::from_secs(300);
/// Immediate retries of a request whose connection closed under it, before pausing between them.
const MAX_CLOSED_RETRIES_WITHOUT_PAUSE: u32 = 3;
/// The pause between further such retries (a stopping connection is gone within a tick or two).
const CLOSED_RETRY_PAUSE: Duration = Duration::from_millis(10);
/// How long the app-id check may take.
const APP_CHECK_TIMEOUT: Duration = Duration::from_secs(10);
/// The shortest wait before a scheduled token refresh.
pub const MIN_REFRESH_DELAY: Duration = Duration::from_secs(5);
/// What the realtime URL calls this client.
pub const CLIENT_BUILD: &str = concat!("talkjs-rs-", env!("CARGO_PKG_VERSION"));

/// Where a session gets its tokens.
pub enum TokenSource {
    /// No token: an unauthenticated app; the session fetches bokens.
    Boken {
        /// Identity-verification signature of the user id, if the app uses one.
        signature: Option<String>,
    },
    /// A provider, wrapped in a [`TokenActor`].
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

/// How to start a session.
#[derive(Debug)]
pub struct SessionConfig {
    /// The TalkJS app.
    pub app_id: String,
    /// The user the session acts as.
    pub user_id: String,
    /// The server's URLs.
    pub urls: ApiUrls,
    /// Where tokens come from.
    pub tokens: TokenSource,
    /// The connection's timings.
    pub timings: crate::connection::Timings,
    /// The sizes of the session's caches.
    pub cache: CacheConfig,
}

/// Paces retries of 429 and 500: each delay is 1.2 times the last (±5 % jitter), up to 30 s,
/// measured from the previous delayed retry; it starts over after any request resolves.
#[derive(Debug)]
pub struct Throttle {
    delay: Duration,
    last: Option<Instant>,
}

impl Default for Throttle {
    fn default() -> Throttle {
        Throttle {
            delay: THROTTLE_START,
            last: None,
        }
    }
}

impl Throttle {
    /// How long to wait before the next retry.
    pub fn next_wait(&mut self) -> Duration {
        let now = Instant::now();
        let jittered = self.delay.mul_f64(0.95 + 0.1 * random::unit());
        let wait = match self.last {
            Some(last) => jittered.saturating_sub(now.duration_since(last)),
            None => Duration::ZERO,
        };
        self.last = Some(now + wait);
        self.delay = self.delay.mul_f64(THROTTLE_FACTOR).min(THROTTLE_MAX);
        wait
    }

    /// Starts over (a request resolved).
    pub fn reset(&mut self) {
        *self = Throttle::default();
    }
}

/// The wait before the `n`-th retry (from 1) of something that cannot use the session's
/// [`Throttle`] (a participant action the server refused inside a batch that itself
/// succeeded): the throttle's schedule, 200 ms growing 1.2 times per retry up to 30 s, ±5 %.
pub fn retry_delay(n: u32) -> Duration {
    let grown = THROTTLE_START.mul_f64(THROTTLE_FACTOR.powi(n.saturating_sub(1).min(64) as i32));
    grown.min(THROTTLE_MAX).mul_f64(0.95 + 0.1 * random::unit())
}

/// When to refresh a token that expires in `life`: [`REFRESH_MARGIN`] before expiry when it lives
/// longer than twice that, else at half its life (the official client's schedule, §2.5).
pub fn refresh_delay(life: Duration) -> Duration {
    let delay = if life > REFRESH_MARGIN * 2 {
        life - REFRESH_MARGIN
    } else {
        life / 2
    };
    // A server that says "0 s left" must not start a refresh loop.
    delay.max(MIN_REFRESH_DELAY)
}

/// Send a request and await its data (the policy above applied).
#[derive(Debug, Message)]
#[rtype(result = "Result<Box<RawValue>, Error>")]
pub struct Request {
    /// The operation, for error messages (e.g. `Send message to conversation c1`).
    pub operation: Arc<str>,
    /// Method.
    pub method: Method,
    /// Encoded path.
    pub path: String,
    /// Request data.
    pub data: Box<RawValue>,
}

/// Use this token now (also switches a boken session to tokens for future refreshes).
#[derive(Message)]
#[rtype(result = "()")]
pub struct SetSessionToken(pub String);

impl std::fmt::Debug for SetSessionToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Tokens never appear in logs.
        f.write_str("SetSessionToken([redacted])")
    }
}

/// A termination listener.
pub type ErrorListener = Box<dyn Fn(&Error) + Send>;

/// Registers a listener for the session's termination under an id the caller chose (unique per
/// process). A listener added after termination is called at once.
#[derive(Message)]
#[rtype(result = "()")]
pub struct OnError(pub u64, pub ErrorListener);

/// Gets future tokens from this actor instead.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct SetTokenSource(pub Recipient<NeedToken>);

/// The token to use on HTTP requests (uploads, search): the current one, or a fresh one when
/// `refresh` is set (after a 401).
#[derive(Debug, Message)]
#[rtype(result = "Result<String, Error>")]
pub struct HttpToken {
    /// Ask the source for a new token instead of using the cached one.
    pub refresh: bool,
}

/// Removes a termination listener.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct RemoveOnError(pub u64);

/// Ends the session: pending and later requests fail with `SessionTerminated`.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct Terminate(pub String);

/// Observe the connection's lifecycle and/or every pushed event (plugins).
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct Observe {
    /// Receives lifecycle changes.
    pub lifecycle: Option<Recipient<LifecycleEvent>>,
    /// Receives every pushed event.
    pub events: Option<Recipient<InboundEvent>>,
}

/// A lifecycle change, as delivered to observers.
#[derive(Debug, Clone, Message)]
#[rtype(result = "()")]
pub struct LifecycleEvent(pub Lifecycle);

/// A pushed event, as delivered to observers.
#[derive(Debug, Clone, Message)]
#[rtype(result = "()")]
pub struct InboundEvent(pub Arc<Event>);

/// The session's state, for tests and diagnostics.
#[derive(Debug, Message)]
#[rtype(result = "SessionStatus")]
pub struct GetStatus;

/// See [`GetStatus`].
#[derive(Debug, Clone)]
pub struct SessionStatus {
    /// Whether a connection actor is running.
    pub connected: bool,
    /// Connection actors started so far.
    pub connections_started: u64,
    /// Why the session ended, if it did.
    pub terminated: Option<String>,
    /// Wire topics held (subscribed, or lingering before their `UNSUBSCRIBE`).
    pub topics: usize,
    /// Subscription actors receiving events.
    pub subscriptions: usize,
}

/// The session's cache (for subscriptions); `None` once the session ended.
#[derive(Debug, Message)]
#[rtype(result = "Option<Cache>")]
pub struct GetCache;

/// Internal: the live connection, started if needed.
#[derive(Message)]
#[rtype(result = "Result<Addr<Connection>, Error>")]
struct EnsureConnection(Arc<str>);

/// The session actor. See the module docs.
pub struct Session {
    app_id: String,
    user_id: String,
    urls: ApiUrls,
    timings: crate::connection::Timings,
    client_id: String,
    source: Recipient<NeedToken>,
    token: Option<String>,
    connection: Option<Addr<Connection>>,
    connections_started: u64,
    throttle: Arc<Mutex<Throttle>>,
    listeners: Vec<(u64, ErrorListener)>,
    lifecycle_observers: Vec<Recipient<LifecycleEvent>>,
    event_observers: Vec<Recipient<InboundEvent>>,
    refresh_timer: Option<SpawnHandle>,
    terminated: Option<Error>,
    /// Pending batches, in the order they were opened (the order they go out).
    batches: Vec<(BatchKey, batch::Pending)>,
    flush_scheduled: bool,
    /// `SUBSCRIBE /users` frames sent: each one's users are read in their own `GET /users`
    /// ([`BatchKey::SubscribedUsers`]).
    user_subscribe_frames: u64,
    /// Parent of every span of this session (its requests, its connections).
    span: tracing::Span,
    /// Wire topics held by subscriptions.
    topics: std::collections::HashMap<Topic, TopicEntry>,
    /// Subscription actors and the events they want.
    routes: Routes,
    /// A socket with held topics was lost, or the server expired the session: the next ready
    /// socket resubscribes and refetches.
    stale: bool,
    /// The server announced a restart: the next reconnect skips the refetch.
    upstream_restarting: bool,
    /// The user and message caches.
    cache_config: CacheConfig,
    cache: Option<Cache>,
}

impl Session {
    /// A session; a token actor for its source starts with it, so this must be called inside a
    /// running actix system.
    pub fn new(config: SessionConfig) -> Session {
        let source = match config.tokens {
            TokenSource::Actor(r) => r,
            TokenSource::Provider(p) => TokenActor::new(BoxedProvider(p)).start().recipient(),
            TokenSource::Boken { signature } => {
                TokenActor::new(BokenProvider::new(config.urls.internal.clone(), signature))
                    .start()
                    .recipient()
            }
        };
        Session {
            app_id: config.app_id.clone(),
            user_id: config.user_id.clone(),
            urls: config.urls,
            timings: config.timings,
            client_id: random::client_id(),
            source,
            token: None,
            connection: None,
            connections_started: 0,
            throttle: Arc::default(),
            listeners: Vec::new(),
            lifecycle_observers: Vec::new(),
            event_observers: Vec::new(),
            refresh_timer: None,
            terminated: None,
            batches: Default::default(),
            flush_scheduled: false,
            user_subscribe_frames: 0,
            span: tracing::info_span!("session", app = %config.app_id, user = %config.user_id),
            topics: Default::default(),
            routes: Routes::default(),
            stale: false,
            upstream_restarting: false,
            cache_config: config.cache,
            cache: None,
        }
    }

    fn terminate(&mut self, error: Error, ctx: &mut Context<Self>) {
        if self.terminated.is_some() {
            return;
        }
        // No refresh for a dead session, and the registry starts a fresh one for this user.
        if let Some(h) = self.refresh_timer.take() {
            ctx.cancel_future(h);
        }
        crate::registry::Registry::from_registry().do_send(crate::registry::Deregister {
            app_id: self.app_id.clone(),
            user_id: self.user_id.clone(),
            session: ctx.address(),
        });
        tracing::info!(parent: &self.span, %error, "session terminated");
        for (_, listener) in &self.listeners {
            listener(&error);
        }
        if let Some(conn) = self.connection.take() {
            conn.do_send(Shutdown(error.to_string()));
        }
        if let Some(cache) = self.cache.take() {
            cache.stop();
        }
        self.terminated = Some(error);
        // Subscriptions end with the session's reason.
        self.routes.terminate(&self.terminated);
        self.topics.clear();
    }

    fn terminated_error(&self, operation: Arc<str>) -> Option<Error> {
        self.terminated.as_ref().map(|e| {
            let reason = match e.kind() {
                ErrorKind::SessionTerminated(r) | ErrorKind::AuthFailed(r) => r.clone(),
                _ => e.to_string(),
            };
            Error::new(operation, ErrorKind::SessionTerminated(reason))
        })
    }

    fn connection(&mut self, ctx: &mut Context<Self>) -> Addr<Connection> {
        if let Some(conn) = &self.connection
            && conn.connected()
        {
            return conn.clone();
        }
        let (urls, app, user, client_id) = (
            self.urls.clone(),
            self.app_id.clone(),
            self.user_id.clone(),
            self.client_id.clone(),
        );
        let config = ConnectionConfig {
            url: Arc::new(move |now| urls.realtime_url(&app, &user, CLIENT_BUILD, &client_id, now)),
            app_id: self.app_id.clone(),
            user_id: self.user_id.clone(),
            timings: self.timings,
            span: self.span.clone(),
            id: self.connections_started + 1,
        };
        let me = ctx.address();
        let conn = Connection::new(config, me.clone().recipient(), me.recipient()).start();
        self.connections_started += 1;
        if let Some(token) = &self.token {
            conn.do_send(SetToken(token.clone()));
        }
        if !self.topics.is_empty() {
            conn.do_send(SetSubscriptions(self.topics.len()));
        }
        self.connection = Some(conn.clone());
        conn
    }

    /// Schedules a token refresh before expiry, as the official client does (§2.5).
    fn schedule_refresh(&mut self, expires_in: u64, ctx: &mut Context<Self>) {
        if self.terminated.is_some() {
            return;
        }
        if let Some(h) = self.refresh_timer.take() {
            ctx.cancel_future(h);
        }
        let delay = refresh_delay(Duration::from_secs(expires_in));
        tracing::debug!(parent: &self.span, expires_in, ?delay, "token refresh scheduled");
        self.refresh_timer = Some(ctx.run_later(delay, |act, ctx| {
            act.refresh_timer = None;
            let request = NeedToken(TokenRequest {
                app_id: act.app_id.clone(),
                user_id: act.user_id.clone(),
                reason: TokenReason::Expiring,
            });
            let source = act.source.clone();
            ctx.spawn(
                async move { source.send(request).await }
                    .into_actor(act)
                    .map(|result, act, _| {
                        match result {
                            Ok(Ok(token)) => {
                                act.token = Some(token.clone());
                                if let Some(conn) = &act.connection {
                                    conn.do_send(SetToken(token));
                                }
                            }
                            // Not fatal: the session lives until the server expires the token, and then
                            // the connection asks again.
                            Ok(Err(e)) => {
                                tracing::warn!(parent: &act.span, error = %e, "scheduled token refresh failed")
                            }
                            Err(_) => {
                                tracing::warn!(parent: &act.span, "token source gone before a scheduled refresh")
                            }
                        }
                    }),
            );
        }));
    }

    /// `GET {internal}/{app}`: a 404 means the app does not exist and ends the session; anything
    /// else (including a network error) is taken as "exists", as the official client does.
    fn check_app(&self, ctx: &mut Context<Self>) {
        let url = format!("{}/{}", self.urls.internal, self.app_id);
        let app = self.app_id.clone();
        ctx.spawn(
            async move {
                let client = crate::http::client(APP_CHECK_TIMEOUT);
                client.get(url).send().await.map(|r| r.status().as_u16())
            }
            .into_actor(self)
            .map(move |status, act, ctx| {
                if let Ok(404) = status {
                    let reason = format!("The app ID {app} does not exist.");
                    act.terminate(
                        Error::new("Start session", ErrorKind::SessionTerminated(reason)),
                        ctx,
                    );
                }
            }),
        );
    }
}

impl Actor for Session {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        self.cache = Some(Cache::start(
            &self.cache_config,
            ctx.address(),
            self.timings.user_unsubscribe_delay,
        ));
        self.check_app(ctx);
    }

    fn stopped(&mut self, _ctx: &mut Context<Self>) {
        if let Some(conn) = self.connection.take() {
            conn.do_send(Shutdown("the session stopped".into()));
        }
    }
}

/// Lets a boxed provider be wrapped by [`TokenActor::new`].
struct BoxedProvider(Box<dyn TokenProvider>);

impl TokenProvider for BoxedProvider {
    fn fetch_token(&self, request: TokenRequest) -> crate::token::TokenFuture {
        self.0.fetch_token(request)
    }
}

impl Handler<NeedToken> for Session {
    type Result = ResponseActFuture<Self, Result<String, TokenError>>;

    /// The connection asks for a token: the cached one for a first connection, else a new one.
    fn handle(&mut self, msg: NeedToken, _ctx: &mut Context<Self>) -> Self::Result {
        if self.terminated.is_some() {
            let e = TokenError("the session was terminated".into());
            return Box::pin(async move { Err(e) }.into_actor(self));
        }
        if msg.0.reason == TokenReason::Initial
            && let Some(token) = self.token.clone()
        {
            return Box::pin(async move { Ok(token) }.into_actor(self));
        }
        let source = self.source.clone();
        Box::pin(
            async move { source.send(msg).await }
                .into_actor(self)
                .map(|result, act, ctx| {
                    let result = result
                        .unwrap_or_else(|_| Err(TokenError("the token source stopped".into())));
                    match &result {
                        Ok(token) => act.token = Some(token.clone()),
                        Err(e) => act.terminate(
                            Error::new("Authenticate", ErrorKind::AuthFailed(e.to_string())),
                            ctx,
                        ),
                    }
                    result
                }),
        )
    }
}

impl Handler<Notice> for Session {
    type Result = ();

    fn handle(&mut self, notice: Notice, ctx: &mut Context<Self>) {
        match notice {
            Notice::Authenticated { expires_in } => {
                if let Some(secs) = expires_in {
                    self.schedule_refresh(secs, ctx);
                }
            }
            Notice::Stopped { connection } => {
                // Only the current connection's stop matters: a late notice from an older one
                // must not orphan its successor. The next request starts a new connection.
                if connection == self.connections_started {
                    self.connection = None;
                }
            }
            Notice::Lifecycle(l) => {
                match &l {
                    Lifecycle::Disconnected { .. } if !self.topics.is_empty() => self.stale = true,
                    Lifecycle::Connected if self.stale => {
                        self.stale = false;
                        self.resubscribe(ctx);
                    }
                    // Ready again with nothing to resubscribe: a restart announcement is spent
                    // (the official client forgets it whenever it becomes ready).
                    Lifecycle::Connected => self.upstream_restarting = false,
                    _ => {}
                }
                for o in &self.lifecycle_observers {
                    o.do_send(LifecycleEvent(l.clone()));
                }
            }
            Notice::Pushed(event) => {
                if matches!(event, Event::UpstreamRestarting) {
                    self.upstream_restarting = true;
                }
                let event = Arc::new(event);
                if let Some(cache) = &self.cache {
                    cache.route(&event);
                }
                self.routes.route(&event);
                for o in &self.event_observers {
                    o.do_send(InboundEvent(event.clone()));
                }
            }
            // The renew that follows ends in `Connected`, which resubscribes a stale session.
            Notice::SessionExpired if !self.topics.is_empty() => self.stale = true,
            Notice::SessionExpired => {}
            Notice::Fatal(e) => self.terminate(e, ctx),
        }
    }
}

impl Handler<EnsureConnection> for Session {
    type Result = Result<Addr<Connection>, Error>;

    fn handle(&mut self, msg: EnsureConnection, ctx: &mut Context<Self>) -> Self::Result {
        if let Some(e) = self.terminated_error(msg.0) {
            return Err(e);
        }
        Ok(self.connection(ctx))
    }
}

/// The status policy's retry rule (§3.9): 429 is retried without limit, 500 until it was the
/// answer [`MAX_500_TRIES`] times; `tries_500` counts the 500s so far.
fn retries(status: u16, tries_500: &mut u32) -> bool {
    match status {
        429 => true,
        500 => {
            *tries_500 += 1;
            *tries_500 < MAX_500_TRIES
        }
        _ => false,
    }
}

/// The response future of a request.
type Pipeline = std::pin::Pin<Box<dyn std::future::Future<Output = Result<Box<RawValue>, Error>>>>;

impl Session {
    /// Starts a request through the status policy. The first attempt is handed to the connection
    /// before this returns, so requests go out in the order they were started.
    fn start(&mut self, req: Request, ctx: &mut Context<Self>) -> Pipeline {
        if let Some(e) = self.terminated_error(req.operation.clone()) {
            return Box::pin(async move { Err(e) });
        }
        let call = |req: &Request| Call {
            operation: req.operation.clone(),
            method: req.method,
            path: req.path.clone(),
            data: req.data.clone(),
        };
        let first = self.connection(ctx).send(call(&req));
        let me = ctx.address();
        let throttle = self.throttle.clone();
        let span = tracing::debug_span!(parent: &self.span, "request", op = %req.operation, method = %req.method, path = %req.path);
        Box::pin(
            async move {
                let mut tries_500 = 0;
                let mut closed = 0u32;
                let mut attempt = Some(first);
                loop {
                    let pending = match attempt.take() {
                        Some(first) => first,
                        None => me
                            .send(EnsureConnection(req.operation.clone()))
                            .await
                            .map_err(|_| gone(&req.operation))??
                            .send(call(&req)),
                    };
                    let resp = match pending.await {
                        Ok(Ok(resp)) => resp,
                        Ok(Err(CallError::Failed(e))) => return Err(e),
                        // The connection closed (idle) or stopped before answering: the session
                        // forgets it when it reports `Terminated`, and the next try redials.
                        Ok(Err(CallError::Closed)) | Err(_) => {
                            closed += 1;
                            if closed > MAX_CLOSED_RETRIES_WITHOUT_PAUSE {
                                tokio::time::sleep(CLOSED_RETRY_PAUSE).await;
                            }
                            continue;
                        }
                    };
                    if retries(resp.status, &mut tries_500) {
                        let wait = throttle
                            .lock()
                            .map(|mut t| t.next_wait())
                            .unwrap_or(THROTTLE_START);
                        tracing::debug!(status = resp.status, ?wait, "retrying");
                        tokio::time::sleep(wait).await;
                        continue;
                    }
                    if let Ok(mut t) = throttle.lock() {
                        t.reset();
                    }
                    tracing::debug!(status = resp.status, "answered");
                    return if resp.is_ok() {
                        Ok(resp.data)
                    } else {
                        Err(Error::from_status(
                            req.operation.clone(),
                            resp.status,
                            resp.error_body(),
                        ))
                    };
                }
            }
            .instrument(span),
        )
    }

    /// Sends every pending batch now, each as one request, and answers its items when it returns.
    fn flush_batches(&mut self, ctx: &mut Context<Self>) {
        for (key, pending) in std::mem::take(&mut self.batches) {
            self.flush(key, pending, ctx);
        }
    }

    /// Before a request with this method goes out: sends the pending batches opened before it,
    /// so calls keep their order, except those that yield to it ([`BatchKey::yields_to`]),
    /// which wait for the end of the tick or a later request.
    fn flush_before_request(&mut self, method: Method, ctx: &mut Context<Self>) {
        let (later, now): (Vec<_>, Vec<_>) = std::mem::take(&mut self.batches)
            .into_iter()
            .partition(|(key, _)| key.yields_to(method));
        self.batches = later;
        for (key, pending) in now {
            self.flush(key, pending, ctx);
        }
    }

    fn flush(&mut self, key: BatchKey, pending: batch::Pending, ctx: &mut Context<Self>) {
        if key == BatchKey::SubscribeUsers {
            self.user_subscribe_frames += 1;
        }
        let items: Vec<BatchItem> = pending.items.iter().map(|w| w.item.clone()).collect();
        let (route, data) = key.request(&items);
        let data = serde_json::value::to_raw_value(&data)
            .unwrap_or_else(|_| unreachable!("a JSON value serialises"));
        let request = Request {
            operation: pending
                .items
                .first()
                .map_or_else(|| "Batch".into(), |w| w.operation.clone()),
            method: route.method(),
            path: route.path().encode(),
            data,
        };
        let response = self.start(request, ctx);
        let retry_key = key.clone();
        ctx.spawn(
            async move {
                let result = response.await.and_then(|raw| {
                    serde_json::from_str::<serde_json::Value>(raw.get()).map_err(|e| {
                        Error::new(
                            "Batch",
                            ErrorKind::Transport(format!("unreadable batch answer: {e}")),
                        )
                    })
                });
                let mut again = Vec::new();
                match result {
                    Ok(answer) => {
                        for (mut waiting, part) in
                            pending.items.into_iter().zip(key.split(&items, &answer))
                        {
                            let retry = key
                                .item_status(&part)
                                .is_some_and(|status| retries(status, &mut waiting.tries_500));
                            if retry {
                                waiting.retries += 1;
                                again.push(waiting);
                            } else {
                                let _ = waiting.reply.send(Ok(part));
                            }
                        }
                    }
                    Err(e) => {
                        for w in pending.items {
                            let _ = w.reply.send(Err(e.clone().with_operation(w.operation)));
                        }
                    }
                }
                if let Some(round) = again.iter().map(|w| w.retries).max() {
                    // The batch's own answer reset the session's throttle, so the refused
                    // actions pace themselves on the same schedule, counting their own rounds;
                    // then they share a new batch (with whatever else is queued by then).
                    let wait = retry_delay(round);
                    tracing::debug!(actions = again.len(), ?wait, "retrying batched actions");
                    tokio::time::sleep(wait).await;
                }
                again
            }
            .into_actor(self)
            .map(move |again, act, ctx| {
                for waiting in again {
                    act.add_to_batch(retry_key.clone(), waiting, ctx);
                }
            }),
        );
    }
}

impl Handler<Request> for Session {
    type Result = ResponseFuture<Result<Box<RawValue>, Error>>;

    fn handle(&mut self, req: Request, ctx: &mut Context<Self>) -> Self::Result {
        // A pending batch goes first, so calls reach the server in the order they were made.
        self.flush_before_request(req.method, ctx);
        self.start(req, ctx)
    }
}

impl Handler<Batched> for Session {
    type Result = ResponseFuture<Result<serde_json::Value, Error>>;

    fn handle(&mut self, msg: Batched, ctx: &mut Context<Self>) -> Self::Result {
        self.enqueue(msg.operation, msg.key, msg.item, ctx)
    }
}

impl Session {
    /// Adds an item to its batch and returns its part of the answer.
    fn enqueue(
        &mut self,
        operation: Arc<str>,
        key: BatchKey,
        item: BatchItem,
        ctx: &mut Context<Self>,
    ) -> ResponseFuture<Result<serde_json::Value, Error>> {
        if let Some(e) = self.terminated_error(operation.clone()) {
            return Box::pin(async move { Err(e) });
        }
        let (tx, rx) = tokio::sync::oneshot::channel();
        // Subscribed users are read with the others of the same SUBSCRIBE frame.
        let key = match key {
            BatchKey::SubscribedUsers(_) => BatchKey::SubscribedUsers(self.user_subscribe_frames),
            key => key,
        };
        let waiting = batch::Waiting {
            operation: operation.clone(),
            item,
            reply: tx,
            tries_500: 0,
            retries: 0,
        };
        self.add_to_batch(key, waiting, ctx);
        Box::pin(async move { rx.await.unwrap_or_else(|_| Err(gone(&operation))) })
    }

    /// Puts an item in its batch, and makes sure the batch goes out: now if it is full, else at
    /// the end of the tick.
    fn add_to_batch(&mut self, key: BatchKey, waiting: batch::Waiting, ctx: &mut Context<Self>) {
        if let Some(e) = self.terminated_error(waiting.operation.clone()) {
            let _ = waiting.reply.send(Err(e));
            return;
        }
        let capacity = key.capacity();
        let index = match self.batches.iter().position(|(k, _)| *k == key) {
            Some(i) => i,
            None => {
                self.batches.push((key, batch::Pending::default()));
                self.batches.len() - 1
            }
        };
        let pending = &mut self.batches[index].1;
        pending.items.push(waiting);
        if pending.items.len() >= capacity {
            // Batches opened before the full one go first, so frames keep call order.
            self.flush_batches(ctx);
        } else if !self.flush_scheduled {
            // The end of this tick: everything batchable sent meanwhile shares the frame.
            self.flush_scheduled = true;
            // A yield, not a zero timer: the timer wheel's 1 ms resolution would add a
            // millisecond to every lone get. Tasks woken meanwhile run before this resumes.
            ctx.spawn(
                tokio::task::yield_now()
                    .into_actor(self)
                    .map(|(), act, ctx| {
                        act.flush_scheduled = false;
                        act.flush_batches(ctx);
                    }),
            );
        }
    }

    /// Sends a topic's `SUBSCRIBE` (users through the `/users` batch) and returns its answer.
    fn send_subscribe(
        &mut self,
        topic: &Topic,
        ctx: &mut Context<Self>,
    ) -> futures_util::future::LocalBoxFuture<'static, Result<(), Error>> {
        use futures_util::FutureExt;
        let operation: Arc<str> = format!("Subscribe to {}", topic_name(topic)).into();
        if let Topic::User { user } = topic {
            let answer = self.enqueue(
                operation,
                BatchKey::SubscribeUsers,
                BatchItem::User(user.clone()),
                ctx,
            );
            return answer.map(|r| r.map(|_| ())).boxed_local();
        }
        self.flush_before_request(Method::Subscribe, ctx);
        let request = Request {
            operation,
            method: Method::Subscribe,
            path: topic.path().encode(),
            data: empty_data(),
        };
        self.start(request, ctx)
            .map(|r| r.map(|_| ()))
            .boxed_local()
    }

    /// Sends a topic's `UNSUBSCRIBE` now and forgets it.
    fn unsubscribe_now(&mut self, topic: Topic, ctx: &mut Context<Self>) {
        if self.topics.remove(&topic).is_none() || self.terminated.is_some() {
            return;
        }
        self.flush_batches(ctx);
        let request = Request {
            operation: format!("Unsubscribe from {}", topic_name(&topic)).into(),
            method: Method::Unsubscribe,
            path: topic.path().encode(),
            data: empty_data(),
        };
        let answer = self.start(request, ctx);
        ctx.spawn(
            async move {
                if let Err(e) = answer.await {
                    tracing::debug!(error = %e, "unsubscribe failed");
                }
            }
            .instrument(self.span.clone())
            .into_actor(self),
        );
        self.count_topics();
    }

    /// Tells the connection how many topics are held (it stays open while any is).
    fn count_topics(&self) {
        if let Some(conn) = &self.connection
            && conn.connected()
        {
            conn.do_send(SetSubscriptions(self.topics.len()));
        }
    }

    /// On a new socket after a lost one: every held topic is subscribed again (users in frames
    /// of up to 1000 ids), then every subscription refetches, unless the server announced its
    /// restart.
    fn resubscribe(&mut self, ctx: &mut Context<Self>) {
        self.flush_batches(ctx);
        let mut users = Vec::new();
        let mut others = Vec::new();
        for topic in self.topics.keys() {
            match topic {
                Topic::User { user } => users.push(user.clone()),
                other => others.push(other.clone()),
            }
        }
        users.sort();
        others.sort();
        let mut requests = Vec::new();
        for chunk in users.chunks(batch::MAX_USERS) {
            let data =
                serde_json::value::to_raw_value(&SubscribeUsersRequest::new(chunk.iter().cloned()))
                    .unwrap_or_else(|_| empty_data());
            requests.push(Request {
                operation: "Resubscribe to users".into(),
                method: Method::Subscribe,
                path: Topic::Users.path().encode(),
                data,
            });
        }
        for topic in others {
            requests.push(Request {
                operation: format!("Resubscribe to {}", topic_name(&topic)).into(),
                method: Method::Subscribe,
                path: topic.path().encode(),
                data: empty_data(),
            });
        }
        for request in requests {
            let answer = self.start(request, ctx);
            ctx.spawn(
                async move {
                    if let Err(e) = answer.await {
                        tracing::warn!(error = %e, "resubscribe failed");
                    }
                }
                .instrument(self.span.clone())
                .into_actor(self),
            );
        }
        if std::mem::take(&mut self.upstream_restarting) {
            return;
        }
        if let Some(cache) = &self.cache {
            cache.resync();
        }
        self.routes.resync();
    }
}

/// A topic's path without the leading slash, as error messages name it.
fn topic_name(topic: &Topic) -> String {
    topic.path().encode().trim_start_matches('/').to_owned()
}

fn empty_data() -> Box<RawValue> {
    RawValue::from_string("{}".to_owned()).unwrap_or_else(|_| unreachable!("valid JSON"))
}

impl Handler<GetCache> for Session {
    type Result = Option<Cache>;

    fn handle(&mut self, _: GetCache, _ctx: &mut Context<Self>) -> Option<Cache> {
        self.cache.clone()
    }
}

impl Handler<Hold> for Session {
    type Result = ResponseFuture<Result<(), Error>>;

    fn handle(&mut self, Hold(topic): Hold, ctx: &mut Context<Self>) -> Self::Result {
        use futures_util::FutureExt;
        if let Some(e) =
            self.terminated_error(format!("Subscribe to {}", topic_name(&topic)).into())
        {
            return Box::pin(async move { Err(e) });
        }
        if let Some(entry) = self.topics.get_mut(&topic) {
            entry.holders += 1;
            if let Some(h) = entry.linger.take() {
                ctx.cancel_future(h);
            }
            return Box::pin(entry.result.clone());
        }
        let result = self.send_subscribe(&topic, ctx).shared();
        // Driven to completion here, so the answer is known even if no holder awaits it.
        ctx.spawn(result.clone().map(|_| ()).into_actor(self));
        self.topics.insert(
            topic,
            TopicEntry {
                holders: 1,
                result: result.clone(),
                linger: None,
            },
        );
        self.count_topics();
        Box::pin(result)
    }
}

impl Handler<Release> for Session {
    type Result = ();

    fn handle(&mut self, Release(topic): Release, ctx: &mut Context<Self>) {
        let Some(entry) = self.topics.get_mut(&topic) else {
            return;
        };
        entry.holders = entry.holders.saturating_sub(1);
        if entry.holders > 0 {
            return;
        }
        // A refused subscription is dropped at once, as the official client does; users were
        // already lingered by the cache.
        let failed = matches!(entry.result.peek(), Some(Err(_)));
        if failed || matches!(topic, Topic::User { .. }) {
            return self.unsubscribe_now(topic, ctx);
        }
        let delay = self.timings.unsubscribe_delay;
        let key = topic.clone();
        entry.linger = Some(ctx.run_later(delay, move |act, ctx| {
            if act.topics.get(&key).is_some_and(|e| e.holders == 0) {
                act.unsubscribe_now(key, ctx);
            }
        }));
    }
}

impl Handler<Attach> for Session {
    type Result = ();

    fn handle(&mut self, msg: Attach, _ctx: &mut Context<Self>) {
        if let Some(e) = &self.terminated {
            msg.inbox.do_send(Routed::Ended(e.clone()));
            return;
        }
        self.routes.attach(msg);
    }
}

impl Handler<Find> for Session {
    type Result = ResponseFuture<Option<Found>>;

    fn handle(&mut self, msg: Find, _ctx: &mut Context<Self>) -> Self::Result {
        let asks: Vec<_> = self
            .routes
            .finders(&msg.0)
            .into_iter()
            .map(|f| f.send(msg.clone()))
            .collect();
        Box::pin(async move {
            futures_util::future::join_all(asks)
                .await
                .into_iter()
                .find_map(|answer| answer.ok().flatten())
        })
    }
}

impl Handler<Detach> for Session {
    type Result = ();

    fn handle(&mut self, msg: Detach, _ctx: &mut Context<Self>) {
        self.routes.detach(msg.0);
    }
}

fn gone(operation: &Arc<str>) -> Error {
    Error::new(
        operation.clone(),
        ErrorKind::SessionTerminated("the session stopped".into()),
    )
}

impl Handler<SetSessionToken> for Session {
    type Result = ();

    fn handle(&mut self, msg: SetSessionToken, _ctx: &mut Context<Self>) {
        self.token = Some(msg.0.clone());
        if let Some(conn) = &self.connection
            && conn.connected()
        {
            conn.do_send(SetToken(msg.0));
        }
    }
}

impl Handler<OnError> for Session {
    type Result = ();

    fn handle(&mut self, OnError(id, listener): OnError, _ctx: &mut Context<Self>) {
        if let Some(e) = &self.terminated {
            listener(e);
        }
        self.listeners.push((id, listener));
    }
}

impl Handler<SetTokenSource> for Session {
    type Result = ();

    fn handle(&mut self, msg: SetTokenSource, _ctx: &mut Context<Self>) {
        self.source = msg.0;
    }
}

impl Handler<HttpToken> for Session {
    type Result = ResponseActFuture<Self, Result<String, Error>>;

    fn handle(&mut self, msg: HttpToken, ctx: &mut Context<Self>) -> Self::Result {
        if let Some(e) = self.terminated_error("Authenticate".into()) {
            return Box::pin(async move { Err(e) }.into_actor(self));
        }
        let reason = match (msg.refresh, &self.token) {
            (false, Some(token)) => {
                let token = token.clone();
                return Box::pin(async move { Ok(token) }.into_actor(self));
            }
            (false, None) => TokenReason::Initial,
            (true, _) => TokenReason::Rejected,
        };
        let request = NeedToken(TokenRequest {
            app_id: self.app_id.clone(),
            user_id: self.user_id.clone(),
            reason,
        });
        let fetch = <Self as Handler<NeedToken>>::handle(self, request, ctx);
        Box::pin(fetch.map(move |result, act, _| {
            let token = result
                .map_err(|e| Error::new("Authenticate", ErrorKind::AuthFailed(e.to_string())))?;
            if let Some(conn) = &act.connection
                && conn.connected()
                && reason == TokenReason::Rejected
            {
                // A new token also renews the live socket, as the official client does.
                conn.do_send(SetToken(token.clone()));
            }
            Ok(token)
        }))
    }
}

impl Handler<RemoveOnError> for Session {
    type Result = ();

    fn handle(&mut self, msg: RemoveOnError, _ctx: &mut Context<Self>) {
        self.listeners.retain(|(id, _)| *id != msg.0);
    }
}

impl Handler<Terminate> for Session {
    type Result = ();

    fn handle(&mut self, msg: Terminate, ctx: &mut Context<Self>) {
        self.terminate(
            Error::new("Session", ErrorKind::SessionTerminated(msg.0)),
            ctx,
        );
    }
}

impl Handler<Observe> for Session {
    type Result = ();

    fn handle(&mut self, msg: Observe, _ctx: &mut Context<Self>) {
        self.lifecycle_observers.extend(msg.lifecycle);
        self.event_observers.extend(msg.events);
    }
}

impl Handler<GetStatus> for Session {
    type Result = MessageResult<GetStatus>;

    fn handle(&mut self, _: GetStatus, _ctx: &mut Context<Self>) -> Self::Result {
        MessageResult(SessionStatus {
            connected: self.connection.as_ref().is_some_and(Addr::connected),
            connections_started: self.connections_started,
            terminated: self.terminated.as_ref().map(ToString::to_string),
            topics: self.topics.len(),
            subscriptions: self.routes.len(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_refreshed_before_they_expire() {
        assert_eq!(
            refresh_delay(Duration::from_secs(86_400)),
            Duration::from_secs(86_100)
        );
        assert_eq!(
            refresh_delay(Duration::from_secs(600)),
            Duration::from_secs(300)
        );
        assert_eq!(
            refresh_delay(Duration::from_secs(40)),
            Duration::from_secs(20)
        );
    }

    #[test]
    fn batched_action_retries_wait_200_ms_first_then_grow_to_the_cap() {
        let near = |d: Duration, ms: f64| (d.as_secs_f64() * 1e3 / ms - 1.0).abs() <= 0.051;
        assert!(near(retry_delay(1), 200.0));
        assert!(near(retry_delay(2), 240.0));
        assert!(near(retry_delay(3), 288.0));
        assert!(near(retry_delay(1000), 30_000.0));
    }

    #[test]
    fn the_throttle_waits_nothing_first_then_grows_to_its_cap() {
        let mut t = Throttle::default();
        assert_eq!(t.next_wait(), Duration::ZERO);
        for _ in 0..60 {
            t.next_wait();
        }
        assert!(t.delay <= THROTTLE_MAX);
        t.reset();
        assert_eq!(t.delay, THROTTLE_START);
    }
}
