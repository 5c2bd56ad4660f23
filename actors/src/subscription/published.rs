//! [`Published`]: the observable half of the engine, one value that every observable thing of a
//! session uses: each [`SubscriptionActor`](super::actor) and each search of the `talkjs` crate.
//!
//! It owns, once for all of them:
//!
//! - **state publication**: the state lives in a `watch` channel that handles read without a
//!   mailbox round trip (`state()`, `connected()`, `terminated()`, a search's `status()`);
//! - **listener delivery**: each new snapshot goes, once, to every [`Listener`] (closure,
//!   channel behind a `Stream`, actix `Recipient`); a snapshot equal to the last one delivered
//!   is not re-emitted, and a listener added late starts from the current snapshot;
//! - **typed failure**: the [`Error`] that ended it, set before the state turns to the error
//!   state so that a handle seeing that state finds the typed error.

use std::sync::Arc;

use talkjs_protocol::snapshot::{SubscriptionError, SubscriptionState};
use tokio::sync::watch;

use super::handle::{Failure, Listener, Update};
use crate::error::Error;

/// A published state, its typed failure and its listeners. See the module docs.
pub struct Published<T: Send + 'static> {
    id: u64,
    state: Arc<watch::Sender<SubscriptionState<T>>>,
    failure: Failure,
    listeners: Vec<Listener<T>>,
    /// The last snapshot delivered, with its `loaded_all`.
    last: Option<(T, bool)>,
}

impl<T: Send + 'static> std::fmt::Debug for Published<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Published")
            .field("id", &self.id)
            .field("listeners", &self.listeners.len())
            .finish_non_exhaustive()
    }
}

impl<T: Clone + PartialEq + Send + Sync + 'static> Default for Published<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Clone + PartialEq + Send + Sync + 'static> Published<T> {
    /// A pending state, under a fresh id (unique in the process, as [`Update::subscription`]
    /// carries it).
    pub fn new() -> Self {
        Published {
            id: crate::session::routes::next_id(),
            state: Arc::new(watch::Sender::new(SubscriptionState::Pending)),
            failure: Arc::default(),
            listeners: Vec::new(),
            last: None,
        }
    }

    /// The id its updates carry.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The state channel, shared with the handles.
    pub(crate) fn state(&self) -> &Arc<watch::Sender<SubscriptionState<T>>> {
        &self.state
    }

    /// Where the typed error goes, shared with the handles.
    pub(crate) fn failure(&self) -> &Failure {
        &self.failure
    }

    /// The latest snapshot, if one was published and the state has not ended.
    pub fn latest(&self) -> Option<T> {
        self.state.borrow().latest_snapshot().cloned()
    }

    /// Whether a snapshot was published.
    pub fn has_published(&self) -> bool {
        self.last.is_some()
    }

    /// Whether it ended (unsubscribed or failed).
    pub fn is_terminal(&self) -> bool {
        self.state.borrow().is_terminal()
    }

    /// Publishes `snapshot` and delivers it to every listener, unless it equals the last one
    /// delivered or the state ended; true if it was delivered.
    pub fn publish(&mut self, snapshot: T, loaded_all: bool) -> bool {
        if self.is_terminal()
            || self
                .last
                .as_ref()
                .is_some_and(|(s, l)| *l == loaded_all && *s == snapshot)
        {
            return false;
        }
        self.last = Some((snapshot.clone(), loaded_all));
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
            return false;
        }
        let update = Update {
            subscription: self.id,
            snapshot,
            loaded_all,
        };
        self.listeners.retain_mut(|l| l.deliver(&update));
        true
    }

    /// Adds a listener; it starts from the current snapshot, if one was published and the state
    /// has not ended.
    pub fn add_listener(&mut self, mut listener: Listener<T>) {
        if let Some((snapshot, loaded_all)) = &self.last
            && !self.is_terminal()
        {
            let update = Update {
                subscription: self.id,
                snapshot: snapshot.clone(),
                loaded_all: *loaded_all,
            };
            if !listener.deliver(&update) {
                return;
            }
        }
        self.listeners.push(listener);
    }

    /// Ends it with `error`: the typed error first, then the error state (unless it ended
    /// already).
    pub fn fail(&mut self, error: &Error) {
        let _ = self.failure.set(error.clone());
        let message = SubscriptionError::new(error.to_string());
        self.state.send_if_modified(|s| {
            if s.is_terminal() {
                return false;
            }
            *s = SubscriptionState::Error { error: message };
            true
        });
    }

    /// Ends it as unsubscribed (unless it ended already).
    pub fn end(&mut self) {
        self.state.send_if_modified(|s| {
            if s.is_terminal() {
                return false;
            }
            *s = SubscriptionState::Unsubscribed;
            true
        });
    }
}
