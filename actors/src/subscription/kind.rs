//! The [`Kind`] trait: what one kind of subscription subscribes to, how it loads, and how events
//! change it; and what the generic actor offers a kind while it works ([`Scope`], [`Step`]).

use std::sync::Arc;

use futures_util::future::LocalBoxFuture;
use talkjs_protocol::event::Event;
use talkjs_protocol::path::Topic;
use talkjs_protocol::snapshot::UserSnapshot;

use super::Env;
use super::diffs::{Change, Observed};
use crate::cache::Watcher;
use crate::error::Error;
use crate::session::routes::{Found, Lookup, RouteKey};

/// What a kind's event handling asks of the actor.
pub(crate) enum Step<K> {
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
pub(crate) type Apply<K> = Box<dyn FnOnce(&mut K, &mut Scope<'_>) -> bool>;

/// Why a kind is loading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LoadReason {
    /// The first load.
    Initial,
    /// After a reconnect: reconcile with what is shown.
    Resync,
    /// The server said the state changed wholesale (e.g. `side.created`).
    Reload,
}

/// What a kind may use while handling an event: the environment and its user watcher.
pub(crate) struct Scope<'a> {
    /// The session's environment.
    pub(crate) env: &'a Env,
    /// The watcher to pass to [`Cache::users`](crate::cache::Cache::users).
    pub(crate) watcher: &'a Watcher,
}

impl Scope<'_> {
    /// Stops watching a user the snapshot no longer shows (the cache may then evict them).
    pub(crate) fn unwatch_user(&mut self, user: &str) {
        self.env.cache.unwatch_user(user, self.watcher.id);
    }
}

/// One kind of subscription: what it subscribes to, how it loads, how events change it.
pub(crate) trait Kind: Sized + Unpin + Send + 'static {
    /// What listeners receive.
    type Snapshot: Observed;
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
    /// What changed since the last call (list kinds record their changes as they make them;
    /// `Unknown` makes the actor compare snapshots).
    fn take_change(&mut self) -> Change<<Self::Snapshot as Observed>::Diff> {
        Change::Unknown
    }
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
