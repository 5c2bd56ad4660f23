//! [`SubscriptionActor`]: the generic actor behind every subscription (see the module docs of
//! [`crate::subscription`]), and [`start`], which starts one on its session's thread.
use std::any::Any;

use actix::dev::RecipientRequest;
use actix::prelude::*;
use futures_util::future::BoxFuture;

use super::Env;
use super::diffs::{DiffListener, Observed};
use super::handle::{self, Listener, Subscription};
use super::kind::{Kind, LoadReason, Scope, Step};
use super::published::Published;
use crate::cache::{UserUpdated, Watcher};
use crate::error::Error;
use crate::session::handle::{Attachment, TopicGuard};
use crate::session::routes::{Found, Lookup, Routed};

/// Add a listener.
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct AddListener<T: Send + 'static>(pub(crate) Listener<T>);

/// Add a listener of changes; answers the snapshot its first changes apply to.
pub(crate) struct AddDiffListener<T: Observed>(pub(crate) DiffListener<T>);

impl<T: Observed> Message for AddDiffListener<T> {
    type Result = Option<T>;
}

/// Grow a list's window to at least this many items.
#[derive(Debug, Message)]
#[rtype(result = "Result<(), Error>")]
pub(crate) struct LoadMore(pub(crate) usize);

/// End the subscription.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub(crate) struct Unsubscribe;

/// The actor behind one subscription. See the module docs.
pub(crate) struct SubscriptionActor<K: Kind> {
    kind: K,
    env: Env,
    /// Its id is the subscription's.
    watcher: Watcher,
    /// The state, the typed failure and the listeners.
    published: Published<K::Snapshot>,
    /// The topics whose `SUBSCRIBE` must succeed for the subscription to start (`Kind::topics`),
    /// held while the actor lives (dropping them releases the topics).
    primary_held: Box<[TopicGuard]>,
    /// Routes events here while the actor lives.
    attachment: Option<Attachment>,
}

impl<K: Kind> SubscriptionActor<K> {
    fn scope_parts(&mut self) -> (&mut K, Scope<'_>) {
        (
            &mut self.kind,
            Scope {
                env: &self.env,
                watcher: &self.watcher,
            },
        )
    }

    /// Publishes the kind's snapshot if it differs from the last one delivered.
    fn emit(&mut self) {
        let snapshot = self.kind.snapshot();
        let loaded_all = self.kind.loaded_all();
        let change = self.kind.take_change();
        self.published.publish_change(snapshot, loaded_all, change);
    }

    fn fail(&mut self, error: &Error, ctx: &mut Context<Self>) {
        self.published.fail(error);
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
        if self.published.is_terminal() {
            ctx.stop();
            return;
        }
        self.attachment = Some(self.env.session.attach(
            self.watcher.id,
            self.kind.route_keys(),
            ctx.address().recipient(),
        ));
        // SUBSCRIBE first, then the load's GETs: the session keeps their order on the wire.
        let (guards, holds): (Vec<TopicGuard>, Vec<_>) = self
            .kind
            .topics()
            .into_iter()
            .map(|topic| self.env.session.subscribe_topic(topic))
            .unzip();
        self.primary_held = guards.into_boxed_slice();
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
        // Dropping the attachment and the guards detaches and releases.
        self.attachment = None;
        self.env.cache.unwatch(self.watcher.id);
        self.primary_held = Box::default();
        self.published.end();
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
            Routed::Find(lookup, reply) => {
                let _ = reply.send(self.find(&lookup));
            }
        }
    }
}

impl<K: Kind> SubscriptionActor<K> {
    /// What it shows of `lookup`: only a loaded, live state answers, anything else is read
    /// from the server.
    fn find(&self, lookup: &Lookup) -> Option<Found> {
        if !self.published.has_published() || self.published.is_terminal() {
            return None;
        }
        self.kind.find(lookup)
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

    fn handle(&mut self, AddListener(l): AddListener<K::Snapshot>, _ctx: &mut Context<Self>) {
        // A late listener starts from the current snapshot.
        self.published.add_listener(l);
    }
}

impl<K: Kind> Handler<AddDiffListener<K::Snapshot>> for SubscriptionActor<K> {
    type Result = Option<K::Snapshot>;

    fn handle(
        &mut self,
        AddDiffListener(l): AddDiffListener<K::Snapshot>,
        _ctx: &mut Context<Self>,
    ) -> Option<K::Snapshot> {
        self.published.add_diff_listener(l)
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
pub(crate) fn start<K: Kind>(kind: K, env: Env) -> Subscription<K::Snapshot>
where
    SubscriptionActor<K>: Actor<Context = Context<SubscriptionActor<K>>>,
{
    let published = Published::new();
    let id = published.id();
    let state = published.state().clone();
    let describe = kind.describe();
    let max_load_more = kind.max_load_more();
    let default_load_more = kind.default_load_more();
    let arbiter = env.session.arbiter().clone();
    let addr = crate::runtime::start(&arbiter, move |ctx| {
        let watcher = Watcher {
            id,
            inbox: ctx.address().downgrade().recipient(),
        };
        SubscriptionActor {
            kind,
            env,
            watcher,
            published,
            primary_held: Box::default(),
            attachment: None,
        }
    });
    Subscription::new(
        id,
        describe,
        state,
        Some(handle::Mailboxes {
            max_load_more,
            default_load_more,
            actor: Box::new(addr),
        }),
    )
}

impl<K: Kind> handle::Control<K::Snapshot> for Addr<SubscriptionActor<K>>
where
    SubscriptionActor<K>: Actor<Context = Context<SubscriptionActor<K>>>,
{
    fn listen(&self, listener: AddListener<K::Snapshot>) {
        self.do_send(listener);
    }

    fn load_more(&self, more: LoadMore) -> RecipientRequest<LoadMore> {
        // Through a `Recipient`'s request: its type names no actor.
        self.clone().recipient().send(more)
    }

    fn stop(&self) {
        self.do_send(Unsubscribe);
    }

    fn add_diff_listener(
        &self,
        listener: Box<dyn Any + Send>,
    ) -> BoxFuture<'static, Option<Box<dyn Any + Send>>> {
        let Ok(listener) = listener.downcast::<DiffListener<K::Snapshot>>() else {
            return Box::pin(async { None });
        };
        let answer = self.send(AddDiffListener(*listener));
        Box::pin(async move {
            let current = answer.await.ok()?;
            Some(Box::new(current) as Box<dyn Any + Send>)
        })
    }
}
