//! [`Published`]: the observable half of the engine, one value that every observable thing of a
//! session uses: each [`SubscriptionActor`](super::actor) and each search of the `talkjs` crate.
//!
//! It owns, once for all of them:
//!
//! - **state publication**: the state lives in a [`StateCell`] that handles read without a
//!   mailbox round trip (`state()`, `connected()`, `terminated()`, a search's `status()`);
//! - **listener delivery**: each new snapshot goes, once, to every [`Listener`] (closure,
//!   channel behind a `Stream`, actix `Recipient`); a snapshot equal to the last one delivered
//!   is not re-emitted, and a listener added late starts from the current snapshot;
//! - **change delivery**: each new snapshot's changes (as the kind recorded them, see
//!   [`Change`]) go to every [`DiffListener`]; an equal snapshot sends none;
//! - **typed failure**: the [`Error`] that ended it, set before the state turns to the error
//!   state so that a handle seeing that state finds the typed error.

use std::sync::Arc;

use talkjs_protocol::snapshot::{SubscriptionError, SubscriptionState};

use super::diffs::{Change, DiffListener, Observed};
use super::handle::{Listener, Update};
use super::state::StateCell;
use crate::error::Error;

/// A published state, its typed failure and its listeners. See the module docs.
pub struct Published<T: Observed> {
    id: u64,
    /// The state and the typed failure, shared with the handles.
    state: Arc<StateCell<SubscriptionState<T>>>,
    listeners: Vec<Listener<T>>,
    diff_listeners: Vec<DiffListener<T>>,
    /// A snapshot was published. The last one, with its `loaded_all`, is the state's while it
    /// has not ended (kept once, there).
    published: bool,
}

impl<T: Observed> std::fmt::Debug for Published<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Published")
            .field("id", &self.id)
            .field("listeners", &self.listeners.len())
            .finish_non_exhaustive()
    }
}

impl<T: Observed> Default for Published<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Observed> Published<T> {
    /// A pending state, under a fresh id (unique in the process, as [`Update::subscription`]
    /// carries it).
    pub fn new() -> Self {
        Published {
            id: crate::session::routes::next_id(),
            state: Arc::new(StateCell::new(SubscriptionState::Pending)),
            listeners: Vec::new(),
            diff_listeners: Vec::new(),
            published: false,
        }
    }

    /// The id its updates carry.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The state and the typed failure, shared with the handles.
    pub(crate) fn state(&self) -> &Arc<StateCell<SubscriptionState<T>>> {
        &self.state
    }

    /// The latest snapshot, if one was published and the state has not ended.
    pub fn latest(&self) -> Option<T> {
        self.state.borrow().latest_snapshot().cloned()
    }

    /// Whether a snapshot was published.
    pub fn has_published(&self) -> bool {
        self.published
    }

    /// Whether it ended (unsubscribed or failed).
    pub fn is_terminal(&self) -> bool {
        self.state.borrow().is_terminal()
    }

    /// Publishes `snapshot` and delivers it to every listener, unless it equals the last one
    /// delivered or the state ended; true if it was delivered. Equality is compared only when
    /// the change is [`Change::Unknown`]; a kind that recorded its change says so (an O(1)
    /// answer for a list of any length).
    pub fn publish(&mut self, snapshot: T, loaded_all: bool) -> bool {
        self.publish_change(snapshot, loaded_all, Change::Unknown)
    }

    /// [`publish`](Self::publish) with what changed since the last snapshot published.
    pub fn publish_change(
        &mut self,
        snapshot: T,
        loaded_all: bool,
        change: Change<T::Diff>,
    ) -> bool {
        // An ended state is never replaced: the `else` below and `send_if_modified` refuse it.
        // `None`: not known, a listener of changes gets the snapshot whole (a `Reset`).
        let diffs = if self.published {
            let state = self.state.borrow();
            let SubscriptionState::Active {
                latest_snapshot: s,
                loaded_all: l,
            } = &*state
            else {
                return false; // Ended meanwhile (a handle unsubscribed).
            };
            match change {
                Change::Unknown if *l == loaded_all && *s == snapshot => return false,
                Change::Unknown => None,
                Change::Unchanged if *l == loaded_all => return false,
                Change::Unchanged => Some(Vec::new()),
                Change::Diffs(d) => Some(d),
            }
        } else {
            None
        };
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
        self.published = true;
        let diffs = match diffs {
            _ if self.diff_listeners.is_empty() => Vec::new(),
            Some(d) => d,
            None => snapshot.reset(),
        };
        if !diffs.is_empty() {
            let id = self.id;
            self.diff_listeners
                .retain_mut(|l| l.deliver(id, &snapshot, &diffs));
        }
        let update = Update {
            subscription: self.id,
            snapshot,
            loaded_all,
        };
        self.listeners.retain_mut(|l| l.deliver(&update));
        true
    }

    /// Adds a listener of changes, and returns the snapshot its first changes apply to: the
    /// last one published (`None` before the first, when its first batch is a `Reset`, and once
    /// ended, when it gets none).
    pub(crate) fn add_diff_listener(&mut self, listener: DiffListener<T>) -> Option<T> {
        if !self.is_terminal() {
            self.diff_listeners.push(listener);
        }
        self.latest()
    }

    /// Adds a listener; it starts from the current snapshot, if one was published and the state
    /// has not ended.
    pub fn add_listener(&mut self, mut listener: Listener<T>) {
        let current = match &*self.state.borrow() {
            SubscriptionState::Active {
                latest_snapshot,
                loaded_all,
            } => Some(Update {
                subscription: self.id,
                snapshot: latest_snapshot.clone(),
                loaded_all: *loaded_all,
            }),
            _ => None,
        };
        if let Some(update) = current
            && !listener.deliver(&update)
        {
            return;
        }
        self.listeners.push(listener);
    }

    /// Ends it with `error`: the typed error first, then the error state (unless it ended
    /// already).
    pub fn fail(&mut self, error: &Error) {
        self.state.set_failure(error);
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
