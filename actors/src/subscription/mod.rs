//! Live subscriptions: one actor per subscription, and the handle that drives it.
//!
//! A [`SubscriptionActor`] runs one [`Kind`] of subscription (a user, a message list, ...). The
//! generic actor owns everything the kinds share:
//!
//! - **States**, as the official client has them: pending, active (with the latest snapshot and
//!   `loaded_all`), unsubscribed, error. The state lives in a `watch` channel shared with the
//!   [`Subscription`] handles, so `state()`, `connected()` and `terminated()` never wait on the
//!   actor's mailbox, and an `unsubscribe()` takes effect at once.
//! - **Order.** Every pushed event, refetch and `load_more` is handled in mailbox order, and
//!   work that needs the server first (hydrating a new message's sender, loading a page) holds
//!   the mailbox until it is done (`ctx.wait`), so events never overtake one another; events that
//!   arrive during a load are applied on top of its result.
//! - **Wire topics** through the session ([`Hold`]/[`Release`]): `SUBSCRIBE` goes out before the
//!   first `GET`, and is released when the actor stops.
//! - **Users** shown by a snapshot are hydrated and watched through the session's [`Cache`];
//!   a [`UserUpdated`] re-emits every snapshot that shows that user.
//! - **Delivery** of each new snapshot, once, to every listener: closures, `Stream`s and actix
//!   `Recipient`s ([`Listener`]). A snapshot equal to the last one delivered is not re-emitted.
//! - **Reconnects**: on [`Routed::Resync`] the kind reloads and reconciles (see each kind).

pub mod conversation;
pub mod conversations;
pub mod handle;
mod hydrate;
pub mod messages;
pub mod online;
mod paging;
pub mod participant;
pub mod participants;
pub mod reactions;
pub mod typing;
pub mod user;
pub mod user_list;

use std::collections::HashSet;
use std::sync::Arc;

use actix::prelude::*;
use futures_util::future::LocalBoxFuture;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::value::RawValue;
use talkjs_protocol::event::Event;
use talkjs_protocol::frame::Method;
use talkjs_protocol::path::{Route, Topic};
use talkjs_protocol::snapshot::{SubscriptionError, SubscriptionState, UserSnapshot};
use tokio::sync::watch;

use crate::cache::{Cache, UserUpdated, Watcher};
use crate::error::{Error, ErrorKind};
use crate::live::{Attach, Detach, Find, Found, Hold, Lookup, Release, RouteKey, Routed};
use crate::session::{Request, Session};

pub use conversation::ConversationKind;
pub use conversations::ConversationListKind;
pub use handle::{ListItems, Listener, Subscription, SubscriptionStream, Terminated, Update};
pub use messages::MessagesKind;
pub use online::OnlineKind;
pub use participant::ParticipantKind;
pub use participants::ParticipantsKind;
pub use reactions::ReactionsKind;
pub use typing::TypingKind;
pub use user::UserKind;

/// A list snapshot: `None` while the list cannot be seen (not a participant, no such user).
pub type ListSnapshot<T> = Option<Arc<Vec<Arc<T>>>>;

/// What a subscription needs of its session: requests, topics and the cache.
#[derive(Clone)]
pub struct Env {
    /// The session actor.
    pub session: Addr<Session>,
    /// The session's cache.
    pub cache: Cache,
    /// The current user's id.
    pub me: Arc<str>,
}

impl std::fmt::Debug for Env {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Env").field("me", &self.me).finish()
    }
}

impl Env {
    /// Sends a request now and returns a future of its decoded answer. A `GET` joins an identical
    /// one already in flight instead of sending its own frame (see [`crate::cache::SharedRead`]).
    pub fn call<T: Serialize + ?Sized, R: DeserializeOwned + 'static>(
        &self,
        operation: impl Into<Arc<str>>,
        route: &Route,
        data: &T,
    ) -> LocalBoxFuture<'static, Result<R, Error>> {
        let operation: Arc<str> = operation.into();
        let data = match serde_json::value::to_raw_value(data) {
            Ok(d) => d,
            Err(e) => {
                let e = Error::invalid(operation, e.to_string());
                return Box::pin(async move { Err(e) });
            }
        };
        let request = Request {
            operation: operation.clone(),
            method: route.method(),
            path: route.path().encode(),
            data,
        };
        let answer: LocalBoxFuture<'static, Result<Arc<RawValue>, Error>> =
            if request.method == Method::Get {
                Box::pin(self.cache.shared_read(request))
            } else {
                let sent = self.session.send(request);
                let op = operation.clone();
                Box::pin(async move { Ok(Arc::from(sent.await.map_err(|_| gone(&op))??)) })
            };
        Box::pin(async move {
            let raw = answer.await?;
            serde_json::from_str(raw.get()).map_err(|e| {
                Error::new(
                    operation,
                    ErrorKind::Transport(format!("unreadable answer: {e}")),
                )
            })
        })
    }

    /// Holds a topic (see [`Hold`]); the future is its `SUBSCRIBE`'s answer.
    pub fn hold(&self, topic: Topic) -> LocalBoxFuture<'static, Result<(), Error>> {
        let answer = self.session.send(Hold(topic));
        Box::pin(async move {
            answer.await.map_err(|_| {
                Error::new(
                    "Subscribe",
                    ErrorKind::SessionTerminated("the session stopped".into()),
                )
            })?
        })
    }
}

fn gone(operation: &Arc<str>) -> Error {
    Error::new(
        operation.clone(),
        ErrorKind::SessionTerminated("the session stopped".into()),
    )
}

/// What a kind's event handling asks of the actor.
pub enum Step<K> {
    /// Nothing visible changed.
    Unchanged,
    /// The snapshot changed: emit it.
    Changed,
    /// Reload from the server (e.g. the current user just joined the conversation).
    Reload,
    /// Needs the server first (e.g. a new message's sender): run the future while holding the
    /// mailbox, then apply its result; the closure says whether the snapshot changed.
    Later(LocalBoxFuture<'static, Result<Apply<K>, Error>>),
}

/// A deferred change to a kind's state; returns whether the snapshot changed.
pub type Apply<K> = Box<dyn FnOnce(&mut K, &mut Scope<'_>) -> bool>;

/// Why a kind is loading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoadReason {
    /// The first load.
    Initial,
    /// After a reconnect: reconcile with what is shown.
    Resync,
    /// The server said the state changed wholesale (e.g. `side.created`).
    Reload,
}

/// What a kind may use while handling an event: the environment, its user watcher, and the
/// extra topics it holds (a list holding each listed conversation's messages, for example).
pub struct Scope<'a> {
    /// The session's environment.
    pub env: &'a Env,
    /// The watcher to pass to [`Cache::users`].
    pub watcher: &'a Watcher,
    held: &'a mut HashSet<Topic>,
}

impl Scope<'_> {
    /// Holds an extra topic until the subscription ends (once, however often it is asked).
    pub fn hold(&mut self, topic: Topic) {
        if self.held.insert(topic.clone()) {
            self.env.session.do_send(Hold(topic));
        }
    }

    /// Takes over a hold that was sent already (by a fetch that had to subscribe before its
    /// `GET`); if the topic is held already, the extra hold is given back.
    pub fn adopt(&mut self, topic: Topic) {
        if !self.held.insert(topic.clone()) {
            self.env.session.do_send(Release(topic));
        }
    }

    /// Stops watching a user the snapshot no longer shows (the cache may then evict them).
    pub fn unwatch_user(&mut self, user: &str) {
        self.env.cache.unwatch_user(user, self.watcher.id);
    }

    /// Lets go of an extra topic.
    pub fn release(&mut self, topic: &Topic) {
        if self.held.remove(topic) {
            self.env.session.do_send(Release(topic.clone()));
        }
    }
}

/// One kind of subscription: what it subscribes to, how it loads, how events change it.
pub trait Kind: Sized + Unpin + 'static {
    /// What listeners receive.
    type Snapshot: Clone + PartialEq + Send + Sync + Unpin + 'static;
    /// The result of a load.
    type Loaded: 'static;

    /// The subscription's path as error messages name it (`me/conversations/c1/messages`).
    fn describe(&self) -> String;
    /// Which events it wants.
    fn route_keys(&self) -> Vec<RouteKey>;
    /// The topics whose `SUBSCRIBE` must succeed for the subscription to start.
    fn topics(&self) -> Vec<Topic>;
    /// Starts loading; requests must be sent before this returns (the session keeps their order).
    fn load(
        &self,
        reason: LoadReason,
        scope: &mut Scope<'_>,
    ) -> LocalBoxFuture<'static, Result<Self::Loaded, Error>>;
    /// Installs a load's result; true if the snapshot changed.
    fn install(&mut self, loaded: Self::Loaded, reason: LoadReason, scope: &mut Scope<'_>) -> bool;
    /// Handles a pushed event.
    fn on_event(&mut self, event: &Arc<Event>, scope: &mut Scope<'_>) -> Step<Self>;
    /// A user it shows changed; true if the snapshot changed.
    fn on_user(&mut self, user: &Arc<UserSnapshot>) -> bool;
    /// The current snapshot (cheap: kinds keep it built).
    fn snapshot(&self) -> Self::Snapshot;
    /// Whether every item is loaded (true for non-lists).
    fn loaded_all(&self) -> bool {
        true
    }
    /// What the current snapshot shows of a one-off read, if anything (a live subscription
    /// answers reads of what it shows, as the official client answers them from its stores).
    fn find(&self, lookup: &Lookup) -> Option<Found> {
        let _ = lookup;
        None
    }
    /// The largest count one `load_more` call may ask for (`None`: no limit).
    fn max_load_more(&self) -> Option<usize> {
        None
    }
    /// The count `load_more_default` asks for: the official client's default for this list.
    fn default_load_more(&self) -> usize {
        30
    }
    /// Grows the window to at least `target` items; `None` for kinds that are not lists, or
    /// when nothing needs loading.
    fn load_more(&mut self, target: usize, scope: &mut Scope<'_>) -> Option<Step<Self>> {
        let _ = (target, scope);
        None
    }
}

/// Add a listener.
#[derive(Message)]
#[rtype(result = "()")]
pub struct AddListener<T: Send + 'static>(pub Listener<T>);

/// Grow a list's window to at least this many items.
#[derive(Debug, Message)]
#[rtype(result = "Result<(), Error>")]
pub struct LoadMore(pub usize);

/// End the subscription.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct Unsubscribe;

/// The actor behind one subscription. See the module docs.
pub struct SubscriptionActor<K: Kind> {
    kind: K,
    env: Env,
    id: u64,
    watcher: Watcher,
    state: Arc<watch::Sender<SubscriptionState<K::Snapshot>>>,
    failure: handle::Failure,
    listeners: Vec<Listener<K::Snapshot>>,
    last: Option<(K::Snapshot, bool)>,
    active: bool,
    held: HashSet<Topic>,
    primary: Vec<Topic>,
}

impl<K: Kind> SubscriptionActor<K> {
    fn scope_parts(&mut self) -> (&mut K, Scope<'_>) {
        (
            &mut self.kind,
            Scope {
                env: &self.env,
                watcher: &self.watcher,
                held: &mut self.held,
            },
        )
    }

    /// Publishes the kind's snapshot if it differs from the last one delivered.
    fn emit(&mut self) {
        if self.state.borrow().is_terminal() {
            return;
        }
        let snapshot = self.kind.snapshot();
        let loaded_all = self.kind.loaded_all();
        if self
            .last
            .as_ref()
            .is_some_and(|(s, l)| *l == loaded_all && *s == snapshot)
        {
            return;
        }
        self.last = Some((snapshot.clone(), loaded_all));
        self.active = true;
        let published = self.state.send_if_modified(|s| {
            if s.is_terminal() {
                return false;
            }
            *s = SubscriptionState::Active {
                latest_snapshot: snapshot.clone(),
                loaded_all,
            };
            true
        });
        if !published {
            return;
        }
        let update = Update {
            subscription: self.id,
            snapshot,
            loaded_all,
        };
        self.listeners.retain_mut(|l| l.deliver(&update));
    }

    fn fail(&mut self, error: &Error, ctx: &mut Context<Self>) {
        // The typed error first: a handle that sees the error state finds it.
        let _ = self.failure.set(error.clone());
        let message = SubscriptionError::new(error.to_string());
        self.state.send_if_modified(|s| {
            if s.is_terminal() {
                return false;
            }
            *s = SubscriptionState::Error { error: message };
            true
        });
        ctx.stop();
    }

    /// Runs a load while holding the mailbox, then installs it.
    fn run_load(&mut self, reason: LoadReason, ctx: &mut Context<Self>) {
        let (kind, mut scope) = self.scope_parts();
        let load = kind.load(reason, &mut scope);
        ctx.wait(
            load.into_actor(self)
                .map(move |result, act, ctx| match result {
                    Ok(loaded) => {
                        let (kind, mut scope) = act.scope_parts();
                        kind.install(loaded, reason, &mut scope);
                        act.emit();
                    }
                    Err(e) if reason == LoadReason::Resync => {
                        // The socket may have dropped again; the next resync retries.
                        tracing::debug!(error = %e, "refetch after reconnect failed");
                    }
                    Err(e) => act.fail(&e, ctx),
                }),
        );
    }

    fn run_step(&mut self, step: Step<K>, ctx: &mut Context<Self>) {
        match step {
            Step::Unchanged => {}
            Step::Changed => self.emit(),
            Step::Reload => self.run_load(LoadReason::Reload, ctx),
            Step::Later(work) => {
                ctx.wait(work.into_actor(self).map(|result, act, ctx| match result {
                    Ok(apply) => {
                        let (kind, mut scope) = act.scope_parts();
                        if apply(kind, &mut scope) {
                            act.emit();
                        }
                    }
                    Err(e) => {
                        // A transient failure to hydrate: reload rather than show a gap.
                        tracing::debug!(error = %e, "event needed a fetch that failed; reloading");
                        act.run_load(LoadReason::Resync, ctx);
                    }
                }));
            }
        }
    }
}

impl<K: Kind> Actor for SubscriptionActor<K> {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        // Ended before it started (unsubscribed in the task that made it): nothing to send.
        // The official client still subscribes and fetches here; we spare the server that.
        if self.state.borrow().is_terminal() {
            self.primary.clear();
            ctx.stop();
            return;
        }
        self.env.session.do_send(Attach {
            id: self.id,
            keys: self.kind.route_keys(),
            inbox: ctx.address().recipient(),
            finder: Some(ctx.address().recipient()),
        });
        // SUBSCRIBE first, then the load's GETs: the session keeps their order on the wire.
        let holds: Vec<_> = self
            .primary
            .iter()
            .map(|t| self.env.hold(t.clone()))
            .collect();
        let (kind, mut scope) = self.scope_parts();
        let load = kind.load(LoadReason::Initial, &mut scope);
        let work = async move {
            let (held, loaded) =
                futures_util::future::join(futures_util::future::join_all(holds), load).await;
            for h in held {
                h?;
            }
            loaded
        };
        ctx.wait(work.into_actor(self).map(|result, act, ctx| match result {
            Ok(loaded) => {
                let (kind, mut scope) = act.scope_parts();
                kind.install(loaded, LoadReason::Initial, &mut scope);
                act.emit();
            }
            Err(e) => act.fail(&e, ctx),
        }));
    }

    fn stopped(&mut self, _ctx: &mut Context<Self>) {
        self.env.session.do_send(Detach(self.id));
        self.env.cache.unwatch(self.watcher.id);
        for t in self.primary.drain(..) {
            self.env.session.do_send(Release(t));
        }
        for t in self.held.drain() {
            self.env.session.do_send(Release(t));
        }
        self.state.send_if_modified(|s| {
            if s.is_terminal() {
                return false;
            }
            *s = SubscriptionState::Unsubscribed;
            true
        });
    }
}

impl<K: Kind> Handler<Routed> for SubscriptionActor<K> {
    type Result = ();

    fn handle(&mut self, msg: Routed, ctx: &mut Context<Self>) {
        match msg {
            Routed::Event(event) => {
                let (kind, mut scope) = self.scope_parts();
                let step = kind.on_event(&event, &mut scope);
                self.run_step(step, ctx);
            }
            Routed::Resync => self.run_load(LoadReason::Resync, ctx),
            Routed::Ended(e) => self.fail(&e, ctx),
        }
    }
}

impl<K: Kind> Handler<Find> for SubscriptionActor<K> {
    type Result = Option<Found>;

    fn handle(&mut self, Find(lookup): Find, _ctx: &mut Context<Self>) -> Option<Found> {
        // Only a loaded, live state answers: anything else is read from the server.
        if !self.active || self.state.borrow().is_terminal() {
            return None;
        }
        self.kind.find(&lookup)
    }
}

impl<K: Kind> Handler<UserUpdated> for SubscriptionActor<K> {
    type Result = ();

    fn handle(&mut self, UserUpdated(user): UserUpdated, _ctx: &mut Context<Self>) {
        if self.kind.on_user(&user) {
            self.emit();
        }
    }
}

impl<K: Kind> Handler<AddListener<K::Snapshot>> for SubscriptionActor<K> {
    type Result = ();

    fn handle(&mut self, AddListener(mut l): AddListener<K::Snapshot>, _ctx: &mut Context<Self>) {
        // A late listener starts from the current snapshot.
        if let Some((snapshot, loaded_all)) = &self.last
            && self.active
            && !self.state.borrow().is_terminal()
        {
            let update = Update {
                subscription: self.id,
                snapshot: snapshot.clone(),
                loaded_all: *loaded_all,
            };
            if !l.deliver(&update) {
                return;
            }
        }
        self.listeners.push(l);
    }
}

impl<K: Kind> Handler<LoadMore> for SubscriptionActor<K> {
    // Atomic: the page holds the mailbox like any other fetch, so events wait for it.
    type Result = AtomicResponse<Self, Result<(), Error>>;

    fn handle(&mut self, LoadMore(target): LoadMore, _ctx: &mut Context<Self>) -> Self::Result {
        let (kind, mut scope) = self.scope_parts();
        AtomicResponse::new(match kind.load_more(target, &mut scope) {
            None => Box::pin(async { Ok(()) }.into_actor(self)),
            Some(Step::Later(work)) => Box::pin(work.into_actor(self).map(|result, act, _| {
                let apply = result?;
                let (kind, mut scope) = act.scope_parts();
                if apply(kind, &mut scope) {
                    act.emit();
                }
                Ok(())
            })),
            Some(step) => {
                let changed = matches!(step, Step::Changed);
                if changed {
                    self.emit();
                }
                Box::pin(async { Ok(()) }.into_actor(self))
            }
        })
    }
}

impl<K: Kind> Handler<Unsubscribe> for SubscriptionActor<K> {
    type Result = ();

    fn handle(&mut self, _: Unsubscribe, ctx: &mut Context<Self>) {
        ctx.stop();
    }
}

/// Starts a subscription of this kind in `env`'s session and returns its handle.
pub fn start<K: Kind>(kind: K, env: Env) -> Subscription<K::Snapshot>
where
    SubscriptionActor<K>: Actor<Context = Context<SubscriptionActor<K>>>,
{
    let id = crate::live::next_id();
    let (tx, _rx) = watch::channel(SubscriptionState::Pending);
    let state = Arc::new(tx);
    let primary = kind.topics();
    let describe = kind.describe();
    let max_load_more = kind.max_load_more();
    let default_load_more = kind.default_load_more();
    let failure: handle::Failure = Arc::default();
    let addr = SubscriptionActor::create(|ctx| {
        let watcher = Watcher {
            id,
            inbox: ctx.address().recipient(),
        };
        SubscriptionActor {
            kind,
            env,
            id,
            watcher,
            state: state.clone(),
            failure: failure.clone(),
            listeners: Vec::new(),
            last: None,
            active: false,
            held: HashSet::new(),
            primary,
        }
    });
    Subscription::new(
        id,
        describe,
        state,
        failure,
        Some(handle::Mailboxes {
            max_load_more,
            default_load_more,
            listen: addr.clone().recipient(),
            more: addr.clone().recipient(),
            stop: addr.recipient(),
        }),
    )
}

/// A subscription that cannot start (an empty id, or its session already ended): in the error
/// state from the outset, with this error.
pub fn ended<K: Kind>(kind: K, error: Error) -> Subscription<K::Snapshot> {
    let message = SubscriptionError::new(error.to_string());
    let (tx, _rx) = watch::channel(SubscriptionState::Error { error: message });
    let failure = Arc::new(std::sync::OnceLock::from(error));
    Subscription::new(
        crate::live::next_id(),
        kind.describe(),
        Arc::new(tx),
        failure,
        None,
    )
}

/// The error of a subscription refused before it starts because an id is empty.
pub fn empty_id<K: Kind>(kind: &K, what: &str) -> Error {
    Error::invalid(
        format!("Subscribe to {}", kind.describe()),
        format!("the {what} is empty"),
    )
}
