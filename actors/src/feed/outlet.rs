//! Where a feed's items go, and what happens when the consumer is slow.
//!
//! Items wait in a queue of at most [`FeedOptions::buffer`](super::FeedOptions::buffer) and
//! move on to the consumer as fast as it takes them: a `Stream`'s channel (of the same size),
//! an actor's mailbox, or a closure (called at once). When the consumer's side is full, the
//! item at the head is handed over by a task that waits for room (so nothing is dropped) and
//! the queue stops moving until it is taken ([`Outlet::unblocked`]). When the queue itself is
//! full, [`Outlet::offer`] refuses: the feed then stops taking messages from events and later
//! reads what it refused from the server, from its cursor (see `actor.rs`). Memory stays within
//! the queue, the channel and the one item being handed over.

use std::collections::VecDeque;

use actix::prelude::*;
use tokio::sync::mpsc;

use super::item::FeedItem;

/// A closure consumer.
pub type FeedFn = Box<dyn FnMut(FeedItem) + Send>;

/// The consumer of a feed (one at a time).
pub(crate) enum Target {
    /// The channel behind a `NewMessageStream`.
    Channel(mpsc::Sender<FeedItem>),
    /// A closure, called on the feed's actor.
    Closure(FeedFn),
    /// An actor's mailbox.
    Recipient(Recipient<FeedItem>),
}

/// Tells the feed that the item being handed over was taken (or its consumer went away).
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub(crate) struct Unblocked;

/// The queue and the consumer. See the module docs.
pub(crate) struct Outlet {
    target: Option<Target>,
    queue: VecDeque<FeedItem>,
    bound: usize,
    /// An item is being handed over by a task: nothing else moves until it is taken.
    blocked: bool,
}

impl Outlet {
    pub(crate) fn new(bound: usize) -> Outlet {
        Outlet {
            target: None,
            queue: VecDeque::new(),
            bound: bound.max(1),
            blocked: false,
        }
    }

    /// Whether an item offered now would be refused.
    pub(crate) fn is_full(&self) -> bool {
        self.queue.len() >= self.bound
    }

    /// How many more items the queue takes now.
    pub(crate) fn room(&self) -> usize {
        self.bound.saturating_sub(self.queue.len())
    }

    /// Items waiting in the queue.
    pub(crate) fn waiting(&self) -> usize {
        self.queue.len()
    }

    /// Queues an item; false (and nothing queued) when the queue is full.
    pub(crate) fn offer(&mut self, item: FeedItem) -> bool {
        if self.is_full() {
            return false;
        }
        self.queue.push_back(item);
        true
    }

    /// Queues a notice whatever the bound (a `Lagged`: at most one per conversation and
    /// catch-up, so the excess is bounded too).
    pub(crate) fn notice(&mut self, item: FeedItem) {
        self.queue.push_back(item);
    }

    /// A new consumer replaces the old one (whose stream, if any, ends); the queue moves on.
    pub(crate) fn set_target(&mut self, target: Target, unblock: Recipient<Unblocked>) {
        self.target = Some(target);
        self.blocked = false;
        self.pump(unblock);
    }

    /// The item being handed over was taken: the queue moves again.
    pub(crate) fn unblocked(&mut self, unblock: Recipient<Unblocked>) {
        self.blocked = false;
        self.pump(unblock);
    }

    /// Moves items to the consumer while it takes them at once; a full consumer gets the head
    /// item through a task that waits for room, and `unblock` hears when it was taken.
    pub(crate) fn pump(&mut self, unblock: Recipient<Unblocked>) {
        while !self.blocked {
            let Some(item) = self.queue.pop_front() else {
                return;
            };
            let Some(target) = &mut self.target else {
                self.queue.push_front(item);
                return;
            };
            match target {
                Target::Closure(f) => f(item),
                Target::Channel(tx) => match tx.try_send(item) {
                    Ok(()) => {}
                    Err(mpsc::error::TrySendError::Full(item)) => {
                        self.blocked = true;
                        let tx = tx.clone();
                        let unblock = unblock.clone();
                        actix_rt::spawn(async move {
                            let _ = tx.send(item).await;
                            unblock.do_send(Unblocked);
                        });
                    }
                    Err(mpsc::error::TrySendError::Closed(item)) => {
                        // The stream was dropped: keep the item for the next consumer.
                        self.queue.push_front(item);
                        self.target = None;
                    }
                },
                Target::Recipient(r) => match r.try_send(item) {
                    Ok(()) => {}
                    Err(SendError::Full(item)) => {
                        self.blocked = true;
                        let r = r.clone();
                        let unblock = unblock.clone();
                        actix_rt::spawn(async move {
                            let _ = r.send(item).await;
                            unblock.do_send(Unblocked);
                        });
                    }
                    Err(SendError::Closed(item)) => {
                        self.queue.push_front(item);
                        self.target = None;
                    }
                },
            }
        }
    }

    /// The feed ended: everything queued, then `last`, goes to the consumer by a task that waits
    /// for room as needed (the actor is stopping; the task outlives it). Without a consumer the
    /// items are dropped: no one can read them any more.
    pub(crate) fn finish(&mut self, last: FeedItem) {
        self.queue.push_back(last);
        let items: Vec<FeedItem> = self.queue.drain(..).collect();
        match self.target.take() {
            None => {}
            Some(Target::Closure(mut f)) => items.into_iter().for_each(&mut f),
            Some(Target::Channel(tx)) => {
                actix_rt::spawn(async move {
                    for item in items {
                        if tx.send(item).await.is_err() {
                            break;
                        }
                    }
                });
            }
            Some(Target::Recipient(r)) => {
                actix_rt::spawn(async move {
                    for item in items {
                        if r.send(item).await.is_err() {
                            break;
                        }
                    }
                });
            }
        }
    }
}
