//! "One fetch per key, many waiters": the map every cache of a shard uses for what it is
//! fetching.
//!
//! The first asker of a key sends the request; later askers of the same key join it and wait
//! for the same answer, which [`InFlight::finish`] fans out to all of them. A flight can carry
//! state of its own (`S`: e.g. the events that arrived before the answer, to apply on top of it).
//!
//! Bounded: at most `bound` keys are in flight; joining a new key beyond that is refused
//! ([`Full`]), and the caller answers its asker with an error instead of growing the map.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::Hash;

use tokio::sync::oneshot;

/// Keys in flight per map, at most. Every key in flight is one request the session is sending
/// (at most [`crate::batch::MAX_USERS`] users go in one frame), so this is far above what a
/// working session reaches; it only stops a runaway caller from growing a shard without end.
pub(crate) const MAX_IN_FLIGHT: usize = 100 * crate::batch::MAX_USERS;

/// A new key was refused: [`MAX_IN_FLIGHT`] keys are in flight already.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Full;

/// One fetch in flight: its waiters and its state.
pub(crate) struct Flight<V, S> {
    waiters: Vec<oneshot::Sender<V>>,
    /// The flight's own state.
    pub(crate) state: S,
}

impl<V: Clone, S> Flight<V, S> {
    /// Sends the answer to every waiter (a waiter that gave up is skipped); the flight is
    /// left with none.
    pub(crate) fn answer(&mut self, result: &V) {
        for w in self.waiters.drain(..) {
            let _ = w.send(result.clone());
        }
    }
}

/// Fetches in flight by key, each with everyone waiting for it. See the module docs.
pub(crate) struct InFlight<K, V, S = ()> {
    flights: HashMap<K, Flight<V, S>>,
    bound: usize,
}

impl<K: Hash + Eq, V: Clone, S> InFlight<K, V, S> {
    /// An empty map holding at most [`MAX_IN_FLIGHT`] keys.
    pub(crate) fn new() -> Self {
        Self::with_bound(MAX_IN_FLIGHT)
    }

    /// An empty map holding at most `bound` keys.
    pub(crate) fn with_bound(bound: usize) -> Self {
        InFlight {
            flights: HashMap::new(),
            bound,
        }
    }

    /// Marks `key` in flight with no waiter yet (a fetch nobody awaits, such as a refetch after
    /// a reconnect). `Ok(true)` when it was not in flight (then `state` is its state: the caller
    /// sends the request), `Ok(false)` when it already was (`state` is dropped).
    pub(crate) fn start(&mut self, key: K, state: S) -> Result<bool, Full> {
        if self.flights.contains_key(&key) {
            return Ok(false);
        }
        if self.flights.len() >= self.bound {
            return Err(Full);
        }
        self.flights.insert(
            key,
            Flight {
                waiters: Vec::new(),
                state,
            },
        );
        Ok(true)
    }

    /// Joins the fetch of `key`, starting it (with `state`) if none is in flight: `first` is
    /// true when the caller must send the request; the receiver gets the answer.
    pub(crate) fn join_with(
        &mut self,
        key: K,
        state: impl FnOnce() -> S,
    ) -> Result<(bool, oneshot::Receiver<V>), Full> {
        if let Some(rx) = self.wait(&key) {
            return Ok((false, rx));
        }
        if self.flights.len() >= self.bound {
            return Err(Full);
        }
        let (tx, rx) = oneshot::channel();
        self.flights.insert(
            key,
            Flight {
                waiters: vec![tx],
                state: state(),
            },
        );
        Ok((true, rx))
    }

    /// Waits for the fetch of `key` if one is in flight (`None`: none is).
    pub(crate) fn wait<Q: Hash + Eq + ?Sized>(&mut self, key: &Q) -> Option<oneshot::Receiver<V>>
    where
        K: Borrow<Q>,
    {
        let flight = self.flights.get_mut(key)?;
        let (tx, rx) = oneshot::channel();
        flight.waiters.push(tx);
        Some(rx)
    }

    /// Whether a fetch of `key` is in flight.
    #[cfg(test)]
    pub(crate) fn contains<Q: Hash + Eq + ?Sized>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
    {
        self.flights.contains_key(key)
    }

    /// Whether someone waits for the fetch of `key`.
    pub(crate) fn awaited<Q: Hash + Eq + ?Sized>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
    {
        self.flights.get(key).is_some_and(|f| !f.waiters.is_empty())
    }

    /// The state of the fetch of `key`, if in flight.
    pub(crate) fn state_mut<Q: Hash + Eq + ?Sized>(&mut self, key: &Q) -> Option<&mut S>
    where
        K: Borrow<Q>,
    {
        self.flights.get_mut(key).map(|f| &mut f.state)
    }

    /// Ends the fetch of `key` without answering: its waiters (if any) see their channel
    /// closed. Returns its state.
    pub(crate) fn remove<Q: Hash + Eq + ?Sized>(&mut self, key: &Q) -> Option<Flight<V, S>>
    where
        K: Borrow<Q>,
    {
        let flight = self.flights.remove(key);
        self.release_if_empty();
        flight
    }

    /// Ends the fetch of `key` and sends `result` to all its waiters; returns its state.
    pub(crate) fn finish<Q: Hash + Eq + ?Sized>(&mut self, key: &Q, result: &V) -> Option<S>
    where
        K: Borrow<Q>,
    {
        let mut flight = self.flights.remove(key)?;
        self.release_if_empty();
        flight.answer(result);
        Some(flight.state)
    }

    /// An emptied map keeps its table; most of a session's life nothing is in flight, so the
    /// table goes back once the last fetch ends.
    fn release_if_empty(&mut self) {
        if self.flights.is_empty() && self.flights.capacity() > 0 {
            self.flights = HashMap::new();
        }
    }

    /// Keys in flight.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.flights.len()
    }
}

impl<K: Hash + Eq, V: Clone> InFlight<K, V> {
    /// Joins the fetch of `key` (see [`InFlight::join_with`]).
    pub(crate) fn join(&mut self, key: K) -> Result<(bool, oneshot::Receiver<V>), Full> {
        self.join_with(key, || ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::sync::oneshot::error::TryRecvError;

    #[test]
    fn the_first_joiner_fetches_and_every_waiter_gets_the_answer() {
        let mut f: InFlight<&str, u32> = InFlight::new();
        let (first, mut a) = f.join("k").unwrap();
        assert!(first);
        let (first, mut b) = f.join("k").unwrap();
        assert!(!first);
        let (first, mut other) = f.join("other").unwrap();
        assert!(first);
        assert_eq!(f.len(), 2);
        assert_eq!(a.try_recv(), Err(TryRecvError::Empty));

        assert_eq!(f.finish(&"k", &7), Some(()));
        assert_eq!((a.try_recv(), b.try_recv()), (Ok(7), Ok(7)));
        assert_eq!(other.try_recv(), Err(TryRecvError::Empty));
        // Finished: the next joiner fetches again; finishing twice answers nobody.
        assert!(!f.contains(&"k"));
        assert_eq!(f.finish(&"k", &8), None);
        assert!(f.join("k").unwrap().0);
    }

    #[test]
    fn a_waiter_that_gave_up_does_not_stop_the_others() {
        let mut f: InFlight<u8, String> = InFlight::new();
        let (_, gone) = f.join(1).unwrap();
        let (_, mut kept) = f.join(1).unwrap();
        drop(gone);
        f.finish(&1, &"x".to_owned());
        assert_eq!(kept.try_recv().as_deref(), Ok("x"));
    }

    #[test]
    fn a_started_fetch_has_state_and_no_waiter_until_one_joins() {
        let mut f: InFlight<u8, u8, Vec<&str>> = InFlight::new();
        assert_eq!(f.start(1, vec!["early"]), Ok(true));
        assert_eq!(f.start(1, vec!["ignored"]), Ok(false));
        assert!(f.contains(&1) && !f.awaited(&1));
        f.state_mut(&1).unwrap().push("later");
        let (first, mut rx) = f.join_with(1, Vec::new).unwrap();
        assert!(!first && f.awaited(&1));
        assert_eq!(f.finish(&1, &3), Some(vec!["early", "later"]));
        assert_eq!(rx.try_recv(), Ok(3));
    }

    #[test]
    fn removing_a_fetch_closes_its_waiters() {
        let mut f: InFlight<u8, u8> = InFlight::new();
        let (_, mut rx) = f.join(1).unwrap();
        assert!(f.remove(&1).is_some());
        assert_eq!(rx.try_recv(), Err(TryRecvError::Closed));
        assert!(f.remove(&1).is_none());
    }

    #[test]
    fn new_keys_beyond_the_bound_are_refused_but_joining_one_in_flight_is_not() {
        let mut f: InFlight<u8, u8> = InFlight::with_bound(2);
        assert!(f.join(1).is_ok() && f.join(2).is_ok());
        assert_eq!(f.join(3).err(), Some(Full));
        assert_eq!(f.start(3, ()), Err(Full));
        assert!(f.join(1).is_ok_and(|(first, _)| !first));
        assert_eq!(f.len(), 2);
        f.finish(&1, &0);
        assert!(f.join(3).is_ok_and(|(first, _)| first));
    }
}
