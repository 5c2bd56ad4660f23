//! [`NewMessageFeed`]: the handle of a feed, and the three ways to receive its items.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};

use actix::prelude::*;
use tokio::sync::{mpsc, watch};

use super::actor::{FeedActor, GetStats, SetTarget, Stop};
use super::item::FeedItem;
use super::outlet::Target;
use crate::subscription::Terminated;

/// Where a feed stands.
#[derive(Debug, Clone, PartialEq)]
pub enum FeedState {
    /// Subscribing and reading where its conversations stand.
    Starting,
    /// Live: every message created from now on will be delivered.
    Live,
    /// Ended, and how.
    Ended(Terminated),
}

/// What a feed holds and has done (for tests and monitoring; see [`NewMessageFeed::stats`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FeedStats {
    /// Conversations followed (one cursor each).
    pub conversations: usize,
    /// Message ids remembered over all cursors (at most
    /// [`RECENT_IDS`](super::RECENT_IDS) per conversation, however many were delivered).
    pub remembered_ids: usize,
    /// Items waiting for the consumer (at most [`FeedOptions::buffer`](super::FeedOptions::buffer),
    /// plus `Lagged` notices).
    pub waiting: usize,
    /// Conversations that are behind (their messages were refused by a full buffer, or a
    /// fetch failed) and wait for a catch-up.
    pub behind: usize,
    /// Catch-ups run (after reconnects, full buffers, joins).
    pub catch_ups: u64,
    /// `Lagged` notices delivered.
    pub lagged: u64,
    /// Messages refused by a full buffer (each read again later by a catch-up).
    pub refused: u64,
    /// Catch-ups that found messages newer than any event the feed had handled and left them
    /// for the next catch-up, so that messages of other conversations whose events were still
    /// on their way keep their place in the order.
    pub deferred: u64,
}

struct Inner {
    id: u64,
    describe: String,
    state: Arc<watch::Sender<FeedState>>,
    buffer: usize,
    /// `None` for a feed that never started (an empty id, an ended session).
    actor: Option<Addr<FeedActor>>,
}

impl Inner {
    fn unsubscribe(&self) {
        self.state.send_if_modified(|s| {
            if matches!(s, FeedState::Ended(_)) {
                return false;
            }
            *s = FeedState::Ended(Terminated::Unsubscribed);
            true
        });
        if let Some(a) = &self.actor {
            a.do_send(Stop);
        }
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.unsubscribe();
    }
}

/// A feed of new messages: each message created after it started, exactly once, oldest first
/// (see the module docs of `feed`). Cheap to clone; when the last clone (and the last
/// [`NewMessageStream`] made from it) is dropped, it unsubscribes.
///
/// Receive its items in one of three ways: [`stream`](Self::stream) (a `futures` `Stream`),
/// [`on_message`](Self::on_message) (a closure) or [`send_to`](Self::send_to) (an actor's
/// mailbox). A feed has one consumer at a time, since each message is delivered once: choosing
/// another replaces the previous one (a previous stream ends). Items that arrive before any
/// consumer is chosen wait for it.
#[derive(Clone)]
pub struct NewMessageFeed {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for NewMessageFeed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewMessageFeed")
            .field("id", &self.inner.id)
            .field("of", &self.inner.describe)
            .finish_non_exhaustive()
    }
}

impl NewMessageFeed {
    pub(crate) fn new(
        id: u64,
        describe: String,
        state: Arc<watch::Sender<FeedState>>,
        buffer: usize,
        actor: Option<Addr<FeedActor>>,
    ) -> NewMessageFeed {
        NewMessageFeed {
            inner: Arc::new(Inner {
                id,
                describe,
                state,
                buffer,
                actor,
            }),
        }
    }

    /// This feed's id (unique in the process).
    pub fn id(&self) -> u64 {
        self.inner.id
    }

    /// Where it stands now.
    pub fn state(&self) -> FeedState {
        self.inner.state.borrow().clone()
    }

    /// Whether it ended.
    pub fn is_terminated(&self) -> bool {
        matches!(*self.inner.state.borrow(), FeedState::Ended(_))
    }

    /// Waits until the feed is live (subscribed, and it knows where each conversation stands:
    /// every message created from now on will be delivered); `Err` if it ended first.
    pub async fn connected(&self) -> Result<(), Terminated> {
        let mut rx = self.inner.state.subscribe();
        loop {
            match &*rx.borrow_and_update() {
                FeedState::Live => return Ok(()),
                FeedState::Ended(how) => return Err(how.clone()),
                FeedState::Starting => {}
            }
            if rx.changed().await.is_err() {
                return Err(Terminated::Unsubscribed);
            }
        }
    }

    /// Waits until the feed ends, and says how.
    pub async fn terminated(&self) -> Terminated {
        let mut rx = self.inner.state.subscribe();
        loop {
            if let FeedState::Ended(how) = &*rx.borrow_and_update() {
                return how.clone();
            }
            if rx.changed().await.is_err() {
                return Terminated::Unsubscribed;
            }
        }
    }

    fn target(&self, target: Target) {
        if let Some(a) = &self.inner.actor {
            a.do_send(SetTarget(target));
        }
    }

    /// A `Stream` of the feed's items; it keeps the feed alive, and ends after
    /// [`FeedItem::Ended`]. Its channel holds at most the feed's buffer.
    pub fn stream(&self) -> NewMessageStream {
        let (tx, rx) = mpsc::channel(self.inner.buffer);
        if self.inner.actor.is_none()
            && let FeedState::Ended(how) = self.state()
        {
            // Never started: the stream says why at once.
            let _ = tx.try_send(FeedItem::Ended(how));
        } else {
            self.target(Target::Channel(tx));
        }
        NewMessageStream {
            rx,
            _keep: self.clone(),
        }
    }

    /// Calls `f` with each item, on the feed's actor (keep it quick; hand heavy work to another
    /// task).
    pub fn on_message(&self, f: impl FnMut(FeedItem) + Send + 'static) {
        self.target(Target::Closure(Box::new(f)));
    }

    /// Delivers each item to an actor's mailbox. When the mailbox is full, the feed waits for
    /// room (the buffer policy of [`FeedOptions::buffer`](super::FeedOptions::buffer) applies).
    pub fn send_to(&self, recipient: Recipient<FeedItem>) {
        self.target(Target::Recipient(recipient));
    }

    /// What the feed holds and has done; `None` once it ended.
    pub async fn stats(&self) -> Option<FeedStats> {
        self.inner.actor.as_ref()?.send(GetStats).await.ok()
    }

    /// Ends the feed now. Does nothing if it already ended.
    pub fn unsubscribe(&self) {
        self.inner.unsubscribe();
    }
}

/// The items of a feed as a `futures` `Stream` (see [`NewMessageFeed::stream`]).
pub struct NewMessageStream {
    rx: mpsc::Receiver<FeedItem>,
    _keep: NewMessageFeed,
}

impl NewMessageStream {
    /// The feed this stream reads.
    pub fn feed(&self) -> &NewMessageFeed {
        &self._keep
    }
}

impl std::fmt::Debug for NewMessageStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewMessageStream").finish_non_exhaustive()
    }
}

impl futures_core::Stream for NewMessageStream {
    type Item = FeedItem;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Option<FeedItem>> {
        self.rx.poll_recv(cx)
    }
}
