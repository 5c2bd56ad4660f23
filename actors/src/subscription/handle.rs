//! [`Subscription`]: the handle of a live subscription, and the three ways to receive its
//! snapshots.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};

use actix::prelude::*;
use talkjs_protocol::snapshot::SubscriptionState;
use tokio::sync::mpsc;

use super::actor::{AddListener, LoadMore};
use super::diffs::{DiffListener, DiffStream, DiffUpdate};
use super::list::{List, VectorDiff, WindowLen};
use super::state::StateCell;
use crate::error::{Error, ErrorKind};

/// A new snapshot, as listeners receive it. It is also an actix message, so a bot actor can
/// receive a subscription's snapshots in its mailbox ([`Subscription::send_to`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Update<T> {
    /// Which subscription it comes from (its [`Subscription::id`]).
    pub subscription: u64,
    /// The snapshot.
    pub snapshot: T,
    /// For lists: whether every item is loaded. Always true for other subscriptions.
    pub loaded_all: bool,
}

impl<T: Send + 'static> Message for Update<T> {
    type Result = ();
}

/// A closure listener: called with each snapshot and `loaded_all`.
pub type SnapshotFn<T> = Box<dyn FnMut(&T, bool) + Send>;

/// Where a subscription's snapshots go.
pub enum Listener<T: Send + 'static> {
    /// A closure called with each snapshot and `loaded_all`, on the subscription's actor.
    Closure(SnapshotFn<T>),
    /// A channel behind a [`SubscriptionStream`].
    Channel(mpsc::UnboundedSender<Update<T>>),
    /// An actor's mailbox.
    Recipient(Recipient<Update<T>>),
}

impl<T: Clone + Send + 'static> Listener<T> {
    /// Hands over an update; false when the listener is gone and should be dropped.
    pub(crate) fn deliver(&mut self, update: &Update<T>) -> bool {
        match self {
            Listener::Closure(f) => {
                f(&update.snapshot, update.loaded_all);
                true
            }
            Listener::Channel(tx) => tx.send(update.clone()).is_ok(),
            Listener::Recipient(r) => {
                r.do_send(update.clone());
                r.connected()
            }
        }
    }
}

/// How a subscription ended.
#[derive(Debug, Clone)]
pub enum Terminated {
    /// [`Subscription::unsubscribe`] was called, or the last handle was dropped.
    Unsubscribed,
    /// The server refused it, the session ended, or it could not start (an empty id): the same
    /// matchable [`Error`] a request would give (`e.kind()`).
    Error(Error),
}

impl PartialEq for Terminated {
    /// Equal when both are unsubscribed, or both failed with the same message.
    fn eq(&self, other: &Terminated) -> bool {
        match (self, other) {
            (Terminated::Unsubscribed, Terminated::Unsubscribed) => true,
            (Terminated::Error(a), Terminated::Error(b)) => a.to_string() == b.to_string(),
            _ => false,
        }
    }
}

impl std::fmt::Display for Terminated {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Terminated::Unsubscribed => f.write_str("the subscription was unsubscribed"),
            Terminated::Error(e) => write!(f, "the subscription failed: {e}"),
        }
    }
}

impl std::error::Error for Terminated {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Terminated::Error(e) => Some(e),
            Terminated::Unsubscribed => None,
        }
    }
}

impl From<Terminated> for Error {
    /// The subscription's error, or [`ErrorKind::Cancelled`] if it was unsubscribed, so that `?`
    /// works on [`Subscription::connected`] in a function returning `talkjs::Result`.
    fn from(t: Terminated) -> Error {
        match t {
            Terminated::Error(e) => e,
            Terminated::Unsubscribed => Error::new(
                "Subscribe",
                ErrorKind::Cancelled("the subscription was unsubscribed".into()),
            ),
        }
    }
}

struct Inner<T: Send + 'static> {
    id: u64,
    describe: String,
    /// The state, and why it failed (typed; set before the state becomes the error state).
    state: Arc<StateCell<SubscriptionState<T>>>,
    /// The actor's mailboxes; `None` for a subscription that never started.
    actor: Option<Mailboxes<T>>,
}

/// A subscription's actor, as its handles see it.
pub(crate) struct Mailboxes<T: Send + 'static> {
    /// The largest `load_more` count of this kind of list.
    pub(crate) max_load_more: Option<usize>,
    /// The count `load_more_default` asks for.
    pub(crate) default_load_more: usize,
    /// Its address (one, whatever the kind: a `Recipient` per message type would hold a sender
    /// each).
    pub(crate) actor: Box<dyn Control<T>>,
}

/// What a handle asks of a subscription's actor; implemented by the actor's address.
pub(crate) trait Control<T: Send + 'static>: Send + Sync {
    /// Adds a listener.
    fn listen(&self, listener: AddListener<T>);
    /// Grows a list's window.
    fn load_more(&self, more: LoadMore) -> RecipientRequest<LoadMore>;
    /// Ends the subscription.
    fn stop(&self);
    /// Adds a listener of changes: `listener` is a `DiffListener<T>`, and the answer the
    /// `Option<T>` its first changes apply to (both as `Any`: `AddDiffListener` needs
    /// `T: Observed`, which a `Subscription` does not ask of every snapshot). `None`: the
    /// listener was of another type, or the actor is gone.
    fn add_diff_listener(
        &self,
        listener: Box<dyn std::any::Any + Send>,
    ) -> futures_util::future::BoxFuture<'static, Option<Box<dyn std::any::Any + Send>>>;
}

impl<T: Send + 'static> Inner<T> {
    fn unsubscribe(&self) {
        self.state.send_if_modified(|s| {
            if s.is_terminal() {
                return false;
            }
            *s = SubscriptionState::Unsubscribed;
            true
        });
        if let Some(a) = &self.actor {
            a.actor.stop();
        }
    }
}

impl<T: Send + 'static> Drop for Inner<T> {
    fn drop(&mut self) {
        self.unsubscribe();
    }
}

/// A live subscription. Cheap to clone; when the last clone (and the last
/// [`SubscriptionStream`] made from it) is dropped, it unsubscribes.
///
/// Receive its snapshots in any of three ways, as many as you like at once:
/// [`on_snapshot`](Subscription::on_snapshot) (a closure), [`stream`](Subscription::stream)
/// (a `futures` `Stream`), [`send_to`](Subscription::send_to) (an actor's mailbox). A listener
/// added after the first snapshot starts with the current one. Or read
/// [`state`](Subscription::state) whenever you like. A list subscription also offers the
/// changes of each snapshot ([`diffs`](Subscription::diffs),
/// [`send_to_diffs`](Subscription::send_to_diffs)).
pub struct Subscription<T: Send + 'static> {
    inner: Arc<Inner<T>>,
}

impl<T: Send + 'static> Clone for Subscription<T> {
    fn clone(&self) -> Self {
        Subscription {
            inner: self.inner.clone(),
        }
    }
}

impl<T: Send + 'static> std::fmt::Debug for Subscription<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscription")
            .field("id", &self.inner.id)
            .field("path", &self.inner.describe)
            .finish_non_exhaustive()
    }
}

impl<T: Clone + Send + Sync + 'static> Subscription<T> {
    pub(crate) fn new(
        id: u64,
        describe: String,
        state: Arc<StateCell<SubscriptionState<T>>>,
        actor: Option<Mailboxes<T>>,
    ) -> Self {
        Subscription {
            inner: Arc::new(Inner {
                id,
                describe,
                state,
                actor,
            }),
        }
    }

    /// How a terminal state ended, with the typed error when it failed.
    fn terminal(&self, state: &SubscriptionState<T>) -> Terminated {
        match state {
            SubscriptionState::Error { error } => {
                Terminated::Error(self.inner.state.failure().cloned().unwrap_or_else(|| {
                    Error::new(
                        format!("Subscribe to {}", self.inner.describe),
                        ErrorKind::Transport(error.message.clone()),
                    )
                }))
            }
            _ => Terminated::Unsubscribed,
        }
    }

    fn listen(&self, l: Listener<T>) {
        if let Some(a) = &self.inner.actor {
            a.actor.listen(AddListener(l));
        }
    }

    /// This subscription's id, as [`Update::subscription`] carries it (unique in the process).
    pub fn id(&self) -> u64 {
        self.inner.id
    }

    /// The current state: pending, active (with the latest snapshot), unsubscribed or error.
    pub fn state(&self) -> SubscriptionState<T> {
        self.inner.state.borrow().clone()
    }

    /// The latest snapshot, if the subscription is active.
    pub fn latest(&self) -> Option<T> {
        self.inner.state.borrow().latest_snapshot().cloned()
    }

    /// Whether the subscription has a snapshot and has not ended.
    pub fn is_active(&self) -> bool {
        matches!(*self.inner.state.borrow(), SubscriptionState::Active { .. })
    }

    /// Whether the subscription ended (unsubscribed, or in the error state).
    pub fn is_terminated(&self) -> bool {
        self.inner.state.borrow().is_terminal()
    }

    /// Waits for the first snapshot: `Ok` with it once active, `Err` if the subscription ended
    /// before it became active.
    pub async fn connected(&self) -> Result<Update<T>, Terminated> {
        self.inner
            .state
            .wait_for(|state| match state {
                SubscriptionState::Active {
                    latest_snapshot,
                    loaded_all,
                } => Some(Ok(Update {
                    subscription: self.inner.id,
                    snapshot: latest_snapshot.clone(),
                    loaded_all: *loaded_all,
                })),
                SubscriptionState::Pending => None,
                other => Some(Err(self.terminal(other))),
            })
            .await
    }

    /// Waits until the subscription ends, and says how.
    pub async fn terminated(&self) -> Terminated {
        self.inner
            .state
            .wait_for(|state| state.is_terminal().then(|| self.terminal(state)))
            .await
    }

    /// Calls `f` with each new snapshot and `loaded_all`, on the subscription's actor (keep it
    /// quick; hand heavy work to another task).
    pub fn on_snapshot(&self, f: impl FnMut(&T, bool) + Send + 'static) {
        self.listen(Listener::Closure(Box::new(f)));
    }

    /// A `Stream` of every new snapshot. It keeps the subscription alive, and ends when the
    /// subscription does.
    pub fn stream(&self) -> SubscriptionStream<T> {
        let (tx, rx) = mpsc::unbounded_channel();
        self.listen(Listener::Channel(tx));
        SubscriptionStream {
            rx,
            _keep: self.clone(),
        }
    }

    /// Delivers every new snapshot to an actor's mailbox as an [`Update`].
    pub fn send_to(&self, recipient: Recipient<Update<T>>) {
        self.listen(Listener::Recipient(recipient));
    }

    /// Grows the window of a list subscription by `count` items (older ones), relative to what
    /// is loaded now: two quick calls with 5 and 10 load 10, not 15. Does nothing for other
    /// subscriptions, or when everything is loaded. As in the official client, one call loads at
    /// most 30 conversations, 100 messages or 50 participants; a larger `count`, or 0, is an
    /// `InvalidArgument` error and nothing is sent. Reactions have no limit: the official
    /// typings say 1 to 100, but the official client does not enforce it (docs/protocol.md §5),
    /// and neither do we. (Their first window is 30, as the official client asks for, not the
    /// 10 its typings mention.)
    pub async fn load_more(&self, count: usize) -> Result<(), Error>
    where
        T: WindowLen,
    {
        self.load(count).await
    }

    /// [`load_more`](Self::load_more) with the official client's default count for this list:
    /// 20 conversations, 30 messages, 10 participants or 30 reactions.
    pub async fn load_more_default(&self) -> Result<(), Error>
    where
        T: WindowLen,
    {
        let count = self.inner.actor.as_ref().map_or(1, |a| a.default_load_more);
        self.load(count).await
    }

    async fn load(&self, count: usize) -> Result<(), Error>
    where
        T: WindowLen,
    {
        let operation = format!("Load more of {}", self.inner.describe);
        if count == 0 {
            return Err(Error::invalid(operation, "count must be at least 1"));
        }
        if let Some(max) = self.inner.actor.as_ref().and_then(|a| a.max_load_more)
            && count > max
        {
            return Err(Error::invalid(
                operation,
                format!("Invalid count: cannot load more than {max} items at once."),
            ));
        }
        let current = match &*self.inner.state.borrow() {
            SubscriptionState::Active {
                latest_snapshot, ..
            } => latest_snapshot.window_len(),
            SubscriptionState::Pending => {
                return Err(Error::invalid(
                    operation,
                    "the subscription is not active yet; await connected() first",
                ));
            }
            other => {
                return Err(Error::new(
                    operation,
                    ErrorKind::SessionTerminated(self.terminal(other).to_string()),
                ));
            }
        };
        let Some(actor) = &self.inner.actor else {
            return Ok(());
        };
        actor
            .actor
            .load_more(LoadMore(current + count))
            .await
            .map_err(|_| {
                Error::new(
                    operation,
                    ErrorKind::SessionTerminated("the subscription ended".into()),
                )
            })?
    }

    /// Ends the subscription. Does nothing if it already ended.
    pub fn unsubscribe(&self) {
        self.inner.unsubscribe();
    }
}

impl<T: PartialEq + Send + Sync + 'static> Subscription<Option<List<T>>> {
    /// The items of a list subscription's latest snapshot (O(1), shared with the snapshot):
    /// empty while it is pending, ended, or the list cannot be seen.
    ///
    /// ```no_run
    /// # fn demo(messages: talkjs_actors::subscription::Subscription<talkjs_actors::subscription::ListSnapshot<talkjs_protocol::snapshot::MessageSnapshot>>) {
    /// for m in &messages.items() {
    ///     println!("{}", m.plaintext);
    /// }
    /// # }
    /// ```
    pub fn items(&self) -> List<T> {
        self.latest().flatten().unwrap_or_default()
    }

    /// The current snapshot and a `Stream` of the changes of every later one: one `Vec` of
    /// [`VectorDiff`]s per new snapshot, which applied in order to the items before give the
    /// items after ([`List::apply`]). A list that cannot be seen (`None`) has no items, so
    /// hiding it shows as a `Clear`. A snapshot that differs only in `loaded_all` sends no
    /// changes. A listener that falls behind by [`DIFF_BUFFER`](super::DIFF_BUFFER) batches
    /// gets one `Reset` with the latest items instead of the batches it missed.
    ///
    /// Waits for the first snapshot; `Err` if the subscription ended before it.
    ///
    /// ```no_run
    /// # async fn demo(messages: talkjs_actors::subscription::Subscription<talkjs_actors::subscription::ListSnapshot<talkjs_protocol::snapshot::MessageSnapshot>>) {
    /// use futures_util::StreamExt;
    /// use talkjs_actors::subscription::ListItems;
    ///
    /// let Ok((first, mut changes)) = messages.diffs().await else { return };
    /// let mut shown = first.items();
    /// while let Some(batch) = changes.next().await {
    ///     shown = shown.apply(batch);
    ///     println!("{} messages", shown.len());
    /// }
    /// # }
    /// ```
    pub async fn diffs(
        &self,
    ) -> Result<(Option<List<T>>, DiffStream<Option<List<T>>>), Terminated> {
        let first = self.connected().await?;
        let (stream, listener) = DiffStream::new(self.clone());
        match self.add_diff_listener(listener).await {
            Some(Some(current)) => Ok((current, stream)),
            Some(None) => Ok((first.snapshot, stream)),
            None => Err(self.terminated().await),
        }
    }

    /// Delivers the changes of every new snapshot to an actor's mailbox as a [`DiffUpdate`],
    /// and returns the snapshot they start from (see [`diffs`](Self::diffs)). When the mailbox
    /// is full, the actor gets a `Reset` with the next snapshot instead of the changes it
    /// could not take (raise its capacity with `ctx.set_mailbox_capacity` for bursts).
    ///
    /// Waits for the first snapshot; `Err` if the subscription ended before it.
    pub async fn send_to_diffs(
        &self,
        recipient: Recipient<DiffUpdate<VectorDiff<Arc<T>>>>,
    ) -> Result<Option<List<T>>, Terminated> {
        let first = self.connected().await?;
        let listener = super::diffs::DiffListener::Recipient {
            to: recipient,
            lagged: false,
        };
        match self.add_diff_listener(listener).await {
            Some(current) => Ok(current.unwrap_or(first.snapshot)),
            None => Err(self.terminated().await),
        }
    }

    /// Adds a listener of changes to the actor; the snapshot its first changes apply to
    /// (`None` inside: none was published yet), or `None` if the actor is gone.
    async fn add_diff_listener(
        &self,
        listener: DiffListener<Option<List<T>>>,
    ) -> Option<Option<Option<List<T>>>> {
        let answer = self.inner.actor.as_ref()?;
        let answer = answer.actor.add_diff_listener(Box::new(listener)).await?;
        answer
            .downcast::<Option<Option<List<T>>>>()
            .ok()
            .map(|a| *a)
    }
}

/// The snapshots of a subscription as a `futures` `Stream` (see [`Subscription::stream`]).
pub struct SubscriptionStream<T: Send + 'static> {
    rx: mpsc::UnboundedReceiver<Update<T>>,
    _keep: Subscription<T>,
}

impl<T: Send + 'static> std::fmt::Debug for SubscriptionStream<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SubscriptionStream").finish_non_exhaustive()
    }
}

impl<T: Send + 'static> futures_core::Stream for SubscriptionStream<T> {
    type Item = Update<T>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Option<Update<T>>> {
        self.rx.poll_recv(cx)
    }
}
