//! [`StateCell`]: a subscription's official state, shared by its actor (which writes it) and its
//! handles (which read it and wait on it without a mailbox round trip), with the typed error
//! that ended it.
//!
//! What a `tokio::sync::watch` channel offers, in one small allocation: a watch channel keeps
//! eight notifiers (to spread contention among many waiting tasks) and a version counter, about
//! 400 bytes, for a state that a handful of handles read; an idle session holds one per
//! subscription. Here one mutex (held only to read or replace the state, never across an await)
//! and one notifier do the same job.

use std::pin::pin;
use std::sync::{Mutex, MutexGuard, OnceLock, PoisonError};

use tokio::sync::Notify;

use crate::error::Error;

/// A shared state, the typed error that ended it, and a way to wait for its changes.
pub(crate) struct StateCell<S> {
    state: Mutex<S>,
    /// Why it failed, typed; set before the state becomes the error state. Boxed: a live
    /// subscription has none.
    failure: OnceLock<Box<Error>>,
    changed: Notify,
}

impl<S> StateCell<S> {
    /// A cell holding `state`.
    pub(crate) fn new(state: S) -> StateCell<S> {
        StateCell {
            state: Mutex::new(state),
            failure: OnceLock::new(),
            changed: Notify::new(),
        }
    }

    /// A cell that ended with `error` before it started: its state is `state` (the error
    /// state) from the outset.
    pub(crate) fn failed(state: S, error: Error) -> StateCell<S> {
        let cell = StateCell::new(state);
        let _ = cell.failure.set(Box::new(error));
        cell
    }

    /// The current state (do not hold it across an await).
    pub(crate) fn borrow(&self) -> MutexGuard<'_, S> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Lets `modify` change the state; when it says it did (returns true), everyone waiting in
    /// [`StateCell::wait_for`] looks again. Returns what `modify` returned.
    pub(crate) fn send_if_modified(&self, modify: impl FnOnce(&mut S) -> bool) -> bool {
        let modified = modify(&mut self.borrow());
        if modified {
            self.changed.notify_waiters();
        }
        modified
    }

    /// Records the typed error that ends it (the first one wins); set it before the state
    /// turns to the error state, so that a reader of that state finds it.
    pub(crate) fn set_failure(&self, error: &Error) {
        let _ = self.failure.set(Box::new(error.clone()));
    }

    /// The typed error that ended it, if it failed.
    pub(crate) fn failure(&self) -> Option<&Error> {
        self.failure.get().map(|e| &**e)
    }

    /// Waits until `check` answers something for the current state, and returns that.
    pub(crate) async fn wait_for<R>(&self, mut check: impl FnMut(&S) -> Option<R>) -> R {
        loop {
            // Registered before the state is read, so a change in between is not missed.
            let mut changed = pin!(self.changed.notified());
            changed.as_mut().enable();
            let answer = check(&self.borrow());
            if let Some(answer) = answer {
                return answer;
            }
            changed.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;
    use crate::error::ErrorKind;

    #[test]
    fn a_waiter_sees_a_change_made_after_it_started_waiting() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        rt.block_on(async {
            let cell = Arc::new(StateCell::new(0u32));
            let waiter = tokio::spawn({
                let cell = cell.clone();
                async move { cell.wait_for(|n| (*n >= 2).then_some(*n)).await }
            });
            tokio::task::yield_now().await;
            assert!(!cell.send_if_modified(|_| false));
            assert!(cell.send_if_modified(|n| {
                *n = 1;
                true
            }));
            tokio::task::yield_now().await;
            assert!(!waiter.is_finished());
            cell.send_if_modified(|n| {
                *n = 2;
                true
            });
            let seen = tokio::time::timeout(Duration::from_secs(5), waiter).await;
            assert_eq!(seen.unwrap().unwrap(), 2);
            // A state that already holds answers at once.
            assert_eq!(cell.wait_for(|n| Some(*n)).await, 2);
        });
    }

    #[test]
    fn the_first_failure_is_kept() {
        let first = Error::new("Subscribe", ErrorKind::Cancelled("first".into()));
        let cell = StateCell::failed((), first);
        cell.set_failure(&Error::new(
            "Subscribe",
            ErrorKind::Cancelled("second".into()),
        ));
        assert!(cell.failure().unwrap().to_string().contains("first"));
        assert!(StateCell::new(()).failure().is_none());
    }
}
