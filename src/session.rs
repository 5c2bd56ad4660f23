//! [`TalkSession`]: a cheap handle to one user's session, and [`get_talk_session`] to get one.

use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use actix::prelude::*;
use futures_util::future::BoxFuture;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::value::RawValue;
use talkjs_actors::plugin::{InboundEvent, LifecycleEvent, NeedToken, TokenProvider};
use talkjs_actors::subscription::Env;
use talkjs_actors::{CacheConfig, SessionConfig, SessionStatus, Timings, TokenSource};
use talkjs_protocol::endpoints::ApiUrls;
use talkjs_protocol::path::Route;

use crate::conversation::ConversationRef;
use crate::user::UserRef;
use crate::{Error, Result};

/// Starts building a session for `user_id` in app `app_id`; `.await` it to get the
/// [`TalkSession`].
///
/// The same (app id, user id, server) gives the same session (unless
/// [`SessionBuilder::force_create_new`]); its options are those of the first call.
/// No connection is made until the first request. Works in any async program: inside an actix
/// system (`#[actix_rt::main]`, `#[actix_web::main]`) the session's actors join it; anywhere else
/// (`#[tokio::main]`, a plain thread with `block_on`) they run on a thread the runtime starts
/// for them. Every handle can be used from any task on any thread.
///
/// ```no_run
/// # async fn demo() -> talkjs::Result<()> {
/// let session = talkjs::get_talk_session("my-app", "alice")
///     .host("127.0.0.1:8787") // the local emulator; omit for TalkJS itself
///     .token("eyJ...")
///     .await?;
/// session.conversation("support").send("Hello *world*").await?;
/// # Ok(()) }
/// ```
pub fn get_talk_session(app_id: impl Into<String>, user_id: impl Into<String>) -> SessionBuilder {
    SessionBuilder {
        app_id: app_id.into(),
        user_id: user_id.into(),
        urls: ApiUrls::talkjs(),
        tokens: TokenSource::Boken { signature: None },
        timings: Timings::default(),
        cache: CacheConfig::default(),
        force_new: false,
    }
}

/// Options of a session; see [`get_talk_session`]. With no token source the session runs in
/// unauthenticated ("boken") mode, as the official client does.
#[must_use = "a session builder does nothing until awaited"]
#[derive(Debug)]
pub struct SessionBuilder {
    app_id: String,
    user_id: String,
    urls: ApiUrls,
    tokens: TokenSource,
    timings: Timings,
    cache: CacheConfig,
    force_new: bool,
}

impl SessionBuilder {
    /// Connect to this host instead of TalkJS, e.g. `127.0.0.1:8787` for a local emulator.
    pub fn host(mut self, host: impl AsRef<str>) -> SessionBuilder {
        self.urls = ApiUrls::for_host(host.as_ref());
        self
    }

    /// Connect to these base URLs.
    pub fn api_urls(mut self, urls: ApiUrls) -> SessionBuilder {
        self.urls = urls;
        self
    }

    /// Authenticate with this token; it is never refreshed (see [`SessionBuilder::token_provider`]).
    pub fn token(self, token: impl Into<String>) -> SessionBuilder {
        self.token_provider(talkjs_actors::token::FixedToken::new(token))
    }

    /// Get tokens from a provider, which is asked again before expiry and whenever the server
    /// refuses the current one.
    ///
    /// ```no_run
    /// # async fn demo() -> talkjs::Result<()> {
    /// use talkjs::token::{JwtSigner, TokenFn, TokenRequest};
    /// // Your backend holds the app's secret: sign tokens here.
    /// let alice = talkjs::get_talk_session("my-app", "alice")
    ///     .token_provider(JwtSigner::new("sk_test_..."))
    ///     .await?;
    /// // Or ask your own service for one.
    /// let bob = talkjs::get_talk_session("my-app", "bob")
    ///     .token_provider(TokenFn::new(|req: TokenRequest| async move {
    ///         Ok::<_, String>(format!("token-for-{}", req.user_id)) // e.g. an HTTP call
    ///     }))
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn token_provider(mut self, provider: impl TokenProvider) -> SessionBuilder {
        self.tokens = TokenSource::Provider(Box::new(provider));
        self
    }

    /// Get tokens from an actor of your own (any actor that answers [`NeedToken`]).
    pub fn token_actor(mut self, actor: Recipient<NeedToken>) -> SessionBuilder {
        self.tokens = TokenSource::Actor(actor);
        self
    }

    /// For an unauthenticated app that uses identity verification: the user id's signature.
    pub fn signature(mut self, signature: impl Into<String>) -> SessionBuilder {
        self.tokens = TokenSource::Boken {
            signature: Some(signature.into()),
        };
        self
    }

    /// Sizes of the session's user and message cache (defaults: 1 shard, 1000 idle users,
    /// 1000 messages).
    pub fn cache(mut self, cache: CacheConfig) -> SessionBuilder {
        self.cache = cache;
        self
    }

    /// Heartbeat, idle and reconnect timings of the connection (defaults: the official client's).
    pub fn timings(mut self, timings: Timings) -> SessionBuilder {
        self.timings = timings;
        self
    }

    /// Start a new session even if this user has one.
    pub fn force_create_new(mut self) -> SessionBuilder {
        self.force_new = true;
        self
    }
}

impl IntoFuture for SessionBuilder {
    type Output = Result<TalkSession>;
    type IntoFuture = Pin<Box<dyn Future<Output = Result<TalkSession>> + Send>>;

    fn into_future(self) -> Self::IntoFuture {
        let config = SessionConfig {
            app_id: self.app_id,
            user_id: self.user_id,
            urls: self.urls,
            tokens: self.tokens,
            timings: self.timings,
            cache: self.cache,
        };
        let env = check_ids(&config.app_id, &config.user_id)
            .and_then(|()| talkjs_actors::get_session(config, self.force_new));
        Box::pin(async move {
            Ok(TalkSession {
                inner: Arc::new(env?),
            })
        })
    }
}

/// One user's session: the entry point to everything the user can read, write and subscribe to.
///
/// A cheap handle: clones share the session, and so do handles to the same user got from
/// [`get_talk_session`] again (they compare equal). It is `Send + Sync`, and every method works
/// from any task on any thread.
#[derive(Clone)]
pub struct TalkSession {
    inner: Arc<Env>,
}

impl std::fmt::Debug for TalkSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TalkSession")
            .field("app_id", &self.inner.session.app_id())
            .field("user_id", &self.inner.me)
            .finish_non_exhaustive()
    }
}

impl PartialEq for TalkSession {
    /// Handles of the same session are equal.
    fn eq(&self, other: &TalkSession) -> bool {
        self.inner.session == other.inner.session
    }
}

impl Eq for TalkSession {}

/// A registered `on_error` listener; dropping it does not remove it, [`ErrorSubscription::unsubscribe`] does.
#[derive(Debug)]
pub struct ErrorSubscription {
    session: talkjs_actors::SessionHandle,
    id: u64,
}

impl ErrorSubscription {
    /// Stops calling the listener.
    pub fn unsubscribe(self) {
        self.session.remove_on_error(self.id);
    }
}

/// Listener ids, unique per process so a handle can name its listener without a round trip.
static NEXT_LISTENER: AtomicU64 = AtomicU64::new(1);

impl TalkSession {
    /// The app this session belongs to.
    pub fn app_id(&self) -> &str {
        self.inner.session.app_id()
    }

    /// The current user.
    pub fn current_user(&self) -> UserRef {
        self.user(&*self.inner.me)
    }

    /// A reference to a user (nothing is fetched until you ask).
    pub fn user(&self, id: impl Into<String>) -> UserRef {
        UserRef::new(self.clone(), id.into())
    }

    /// A reference to a conversation (nothing is fetched until you ask).
    pub fn conversation(&self, id: impl Into<String>) -> ConversationRef {
        ConversationRef::new(self.clone(), id.into())
    }

    /// A new search of the messages in the current user's conversations; nothing is sent until
    /// [`set_query`](crate::MessageSearch::set_query). (TalkJS offers search on its Growth plan
    /// and up; on other plans the server refuses it.)
    pub fn search_messages(&self) -> crate::MessageSearch {
        crate::search::MessageSearch::new(self.clone())
    }

    /// A new search of the current user's conversations; nothing is sent until
    /// [`set_query`](crate::ConversationSearch::set_query). (TalkJS offers search on its Growth
    /// plan and up; on other plans the server refuses it.)
    pub fn search_conversations(&self) -> crate::ConversationSearch {
        crate::search::ConversationSearch::new(self.clone())
    }

    /// Authenticates with this token from now on; a live connection renews at once, with no gap.
    ///
    /// ```no_run
    /// # fn demo(session: talkjs::TalkSession, fresh_jwt: String) {
    /// session.set_token(fresh_jwt); // e.g. after your backend issued a new one
    /// # }
    /// ```
    pub fn set_token(&self, token: impl Into<String>) {
        self.inner.session.set_token(token.into());
    }

    /// Gets future tokens from this provider (asked before expiry, on 401 and on
    /// `session.expired`); the counterpart of the official client's `onNeedToken`.
    pub fn on_need_token(&self, provider: impl TokenProvider) {
        self.inner.session.set_token_provider(provider);
    }

    /// Calls `listener` once when the session terminates (unknown app id, a token provider that
    /// fails, the server refusing every token). A listener added after termination is called at once.
    ///
    /// ```no_run
    /// # fn demo(session: talkjs::TalkSession) {
    /// let listener = session.on_error(|e| eprintln!("session over: {e}"));
    /// // ... later, to stop listening:
    /// listener.unsubscribe();
    /// # }
    /// ```
    pub fn on_error(&self, listener: impl Fn(&Error) + Send + 'static) -> ErrorSubscription {
        let id = NEXT_LISTENER.fetch_add(1, Ordering::Relaxed);
        self.inner.session.on_error(id, Box::new(listener));
        ErrorSubscription {
            session: self.inner.session.clone(),
            id,
        }
    }

    /// Ends the session: the connection closes and every call fails with
    /// `ErrorKind::SessionTerminated`. (A Rust addition; the official client has no equivalent.)
    pub fn terminate(&self, reason: impl Into<String>) {
        self.inner.session.terminate(reason.into());
    }

    /// Lets an actor observe the connection's lifecycle and/or every event the server pushes,
    /// without forking the runtime.
    pub fn observe(
        &self,
        lifecycle: Option<Recipient<LifecycleEvent>>,
        events: Option<Recipient<InboundEvent>>,
    ) {
        self.inner.session.observe(lifecycle, events);
    }

    /// Gets future tokens from an actor of your own (any actor that answers [`NeedToken`]).
    pub fn set_token_actor(&self, actor: Recipient<NeedToken>) {
        self.inner.session.set_token_source(actor);
    }

    /// The session's state, for diagnostics and tests: whether it is connected, how many
    /// connections it made, topics held, subscriptions, why it ended (`None` once its actor is
    /// gone). A Rust addition.
    pub async fn status(&self) -> Option<SessionStatus> {
        self.inner.session.status().await
    }

    /// The session's user and message cache, for diagnostics and tests
    /// ([`Cache::stats`](talkjs_actors::Cache::stats)).
    pub fn cache(&self) -> &talkjs_actors::Cache {
        &self.inner.cache
    }

    /// Subscribes to the current user's conversations, most recently active first: the 20 most
    /// recent, then every change; `Subscription::load_more` loads older ones. Pass
    /// [`ConversationFilter::default()`](talkjs_protocol::filter::ConversationFilter) for all
    /// conversations, or a filter to keep some (several lists with different filters share one
    /// wire subscription).
    ///
    /// ```no_run
    /// # async fn demo(session: talkjs::TalkSession) {
    /// use talkjs::protocol::filter::{ConversationFilter, SimpleConversationFilter};
    /// let unread = ConversationFilter::Simple(SimpleConversationFilter::new().is_unread(true));
    /// let inbox = session.subscribe_conversations(unread);
    /// inbox.on_snapshot(|list, _| {
    ///     for c in list.iter().flat_map(|l| l.iter()) {
    ///         println!("{} ({} unread)", c.id, c.unread_message_count);
    ///     }
    /// });
    /// # }
    /// ```
    pub fn subscribe_conversations(
        &self,
        filter: talkjs_protocol::filter::ConversationFilter,
    ) -> crate::ConversationListSubscription {
        self.inner.subscribe_conversations(filter)
    }

    /// The session as subscriptions see it (to start them).
    pub(crate) fn env(&self) -> &Env {
        &self.inner
    }

    /// The one door to the session actor.
    pub(crate) fn handle(&self) -> &talkjs_actors::SessionHandle {
        &self.inner.session
    }

    /// What a live subscription of this session shows of `lookup`, if any (a mailbox round
    /// trip, no request).
    pub(crate) async fn find_live(
        &self,
        lookup: talkjs_actors::Lookup,
    ) -> Option<talkjs_actors::Found> {
        self.inner.session.find(lookup).await
    }

    pub(crate) fn user_id(&self) -> &str {
        &self.inner.me
    }

    pub(crate) fn urls(&self) -> &ApiUrls {
        self.inner.session.urls()
    }

    /// Sends a request for `route` and returns the raw 200 data.
    pub(crate) fn call<T: Serialize + ?Sized>(
        &self,
        operation: Arc<str>,
        route: &Route,
        data: &T,
    ) -> BoxFuture<'static, Result<Box<RawValue>>> {
        self.inner.session.request(operation, route, data)
    }

    /// Sends a request and decodes its 200 data.
    pub(crate) fn call_typed<T: Serialize + ?Sized, R: DeserializeOwned + Send + 'static>(
        &self,
        operation: Arc<str>,
        route: &Route,
        data: &T,
    ) -> BoxFuture<'static, Result<R>> {
        self.inner.session.request_typed(operation, route, data)
    }

    /// Adds an item to a batch (user GETs, participant writes, translations issued in the same
    /// tick share one frame) and returns the item's part of the answer.
    pub(crate) fn batched(
        &self,
        operation: Arc<str>,
        key: talkjs_actors::batch::BatchKey,
        item: talkjs_actors::batch::BatchItem,
    ) -> BoxFuture<'static, Result<serde_json::Value>> {
        self.inner.session.batched(operation, key, item)
    }

    /// Sends a request whose 200 data is ignored.
    pub(crate) fn call_unit<T: Serialize + ?Sized>(
        &self,
        operation: Arc<str>,
        route: &Route,
        data: &T,
    ) -> BoxFuture<'static, Result<()>> {
        let answer = self.call(operation, route, data);
        Box::pin(async move { answer.await.map(drop) })
    }
}

/// An empty request body, `{}`.
pub(crate) const EMPTY: &talkjs_protocol::request::Empty = &talkjs_protocol::request::Empty;

/// Fails with an invalid-argument error if `id` is empty, before anything is sent.
pub(crate) fn require_id(operation: &Arc<str>, what: &str, id: &str) -> Result<()> {
    if id.is_empty() {
        Err(Error::invalid(
            operation.clone(),
            format!("{what} must not be empty"),
        ))
    } else {
        Ok(())
    }
}

/// The longest app or user id accepted (TalkJS ids are short; this bounds what goes into URLs).
const MAX_ID_LEN: usize = 4096;

/// Refuses an empty, over-long or control-character app or user id before anything is sent.
fn check_ids(app_id: &str, user_id: &str) -> Result<()> {
    for (id, what) in [(app_id, "app id"), (user_id, "user id")] {
        let problem = if id.is_empty() {
            "must not be empty"
        } else if id.len() > MAX_ID_LEN {
            "is too long"
        } else if id.chars().any(char::is_control) {
            "must not contain control characters"
        } else {
            continue;
        };
        return Err(Error::invalid(
            "Get session",
            format!("the {what} {problem}"),
        ));
    }
    Ok(())
}
