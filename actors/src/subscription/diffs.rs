//! The changes of each snapshot, for listeners that want them instead of whole snapshots:
//! [`DiffStream`] (a bounded `Stream`) and [`DiffUpdate`] (an actix message).
//!
//! Delivery is bounded. A stream's channel holds [`DIFF_BUFFER`] batches; when it is full, the
//! listener has fallen behind, and instead of buffering more it is owed one `Reset` with the
//! latest snapshot: the actor keeps only that snapshot (replacing it as new ones come), and the
//! stream yields the `Reset` once it has drained the batches before it. An actor whose mailbox
//! is full likewise gets a `Reset` with the next snapshot instead of the batches it missed.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context as TaskContext, Poll};

use actix::prelude::*;
use tokio::sync::mpsc;

use super::handle::Subscription;
use super::list::{List, VectorDiff};

/// Batches a [`DiffStream`] holds before its listener counts as fallen behind.
pub const DIFF_BUFFER: usize = 256;

/// A snapshot type, and the type of its changes.
pub trait Observed: Clone + PartialEq + Send + Sync + Unpin + 'static {
    /// One change ([`VectorDiff`] for lists; none for other snapshots).
    type Diff: Clone + Send + Sync + 'static;

    /// The changes that turn anything into this snapshot (a `Reset`).
    fn reset(&self) -> Vec<Self::Diff>;
}

impl<T: PartialEq + Send + Sync + 'static> Observed for Option<List<T>> {
    type Diff = VectorDiff<Arc<T>>;

    fn reset(&self) -> Vec<Self::Diff> {
        let values = self.as_ref().map(List::to_vec).unwrap_or_default();
        vec![VectorDiff::Reset { values }]
    }
}

impl<T: PartialEq + Send + Sync + 'static> Observed for Option<Arc<T>> {
    type Diff = Infallible;

    fn reset(&self) -> Vec<Infallible> {
        Vec::new()
    }
}

/// What changed since the snapshot before, as a kind tells it.
#[derive(Debug)]
pub enum Change<D> {
    /// Not known: compare the snapshots (small, non-list snapshots).
    Unknown,
    /// Nothing: the snapshot equals the one before.
    Unchanged,
    /// These changes, none of them empty: the snapshot differs from the one before.
    Diffs(Vec<D>),
}

/// The changes of one snapshot, as an actor receives them ([`Subscription::send_to_diffs`]).
#[derive(Debug, Clone, PartialEq)]
pub struct DiffUpdate<D> {
    /// Which subscription it comes from (its [`Subscription::id`]).
    pub subscription: u64,
    /// The changes, in order.
    pub diffs: Vec<D>,
}

impl<D: Send + 'static> Message for DiffUpdate<D> {
    type Result = ();
}

/// A snapshot owed to a stream that fell behind, shared by the actor and the stream.
type Owed<T> = Arc<Mutex<Option<T>>>;

/// Where a snapshot's changes go.
pub(crate) enum DiffListener<T: Observed> {
    /// A bounded channel behind a [`DiffStream`].
    Channel {
        tx: mpsc::Sender<Vec<T::Diff>>,
        owed: Owed<T>,
    },
    /// An actor's mailbox; `lagged` after a full mailbox, until a `Reset` got through.
    Recipient {
        to: Recipient<DiffUpdate<T::Diff>>,
        lagged: bool,
    },
}

impl<T: Observed> DiffListener<T> {
    /// Hands over a snapshot's changes; false when the listener is gone.
    pub(crate) fn deliver(&mut self, id: u64, snapshot: &T, diffs: &[T::Diff]) -> bool {
        match self {
            DiffListener::Channel { tx, owed } => {
                let mut owed = owed.lock().unwrap_or_else(PoisonError::into_inner);
                if owed.is_some() {
                    *owed = Some(snapshot.clone());
                    return !tx.is_closed();
                }
                match tx.try_send(diffs.to_vec()) {
                    Ok(()) => true,
                    Err(mpsc::error::TrySendError::Full(_)) => {
                        *owed = Some(snapshot.clone());
                        true
                    }
                    Err(mpsc::error::TrySendError::Closed(_)) => false,
                }
            }
            DiffListener::Recipient { to, lagged } => {
                let diffs = if *lagged {
                    snapshot.reset()
                } else {
                    diffs.to_vec()
                };
                let update = DiffUpdate {
                    subscription: id,
                    diffs,
                };
                match to.try_send(update) {
                    Ok(()) => {
                        *lagged = false;
                        true
                    }
                    Err(SendError::Full(_)) => {
                        *lagged = true;
                        true
                    }
                    Err(SendError::Closed(_)) => false,
                }
            }
        }
    }
}

/// The changes of a list subscription's snapshots as a `futures` `Stream`, one `Vec` per
/// snapshot (see [`Subscription::diffs`]). It keeps the subscription alive, and ends when the
/// subscription does.
pub struct DiffStream<T: Observed> {
    rx: mpsc::Receiver<Vec<T::Diff>>,
    owed: Owed<T>,
    _keep: Subscription<T>,
}

impl<T: Observed> DiffStream<T> {
    pub(crate) fn new(keep: Subscription<T>) -> (DiffStream<T>, DiffListener<T>) {
        let (tx, rx) = mpsc::channel(DIFF_BUFFER);
        let owed = Owed::default();
        let listener = DiffListener::Channel {
            tx,
            owed: owed.clone(),
        };
        let stream = DiffStream {
            rx,
            owed,
            _keep: keep,
        };
        (stream, listener)
    }
}

impl<T: Observed> std::fmt::Debug for DiffStream<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DiffStream").finish_non_exhaustive()
    }
}

impl<T: Observed> futures_core::Stream for DiffStream<T> {
    type Item = Vec<T::Diff>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Option<Self::Item>> {
        match self.rx.poll_recv(cx) {
            Poll::Ready(Some(diffs)) => Poll::Ready(Some(diffs)),
            // Drained: what it is owed comes after every batch sent before it.
            pending_or_end => {
                let owed = self
                    .owed
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .take();
                match owed {
                    Some(snapshot) => Poll::Ready(Some(snapshot.reset())),
                    None => pending_or_end,
                }
            }
        }
    }
}
