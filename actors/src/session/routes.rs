//! Which subscription actors receive which pushed events (a leaf: no actor lives here).
//!
//! Every pushed event is wrapped in one [`Arc`] and handed to the actors attached under its
//! [`RouteKey`]s, so an event is decoded once and shared, never copied per subscriber. After a
//! reconnect every attached actor is told to [`Routed::Resync`]: refetch its state and reconcile
//! it with what it showed. Events that arrive meanwhile queue in the actor's mailbox behind the
//! refetch and are applied on top of it; since every event is idempotent (diffs carry absolute
//! values, creations are de-duplicated by id) nothing is lost or shown twice.
//!
//! [`EventSink`]s (the cache) see every event before the subscriptions do, and resync first.

use std::sync::Arc;

use actix::prelude::*;
use futures_util::future::{LocalBoxFuture, Shared};
use talkjs_protocol::event::Event;
use talkjs_protocol::snapshot::{ConversationSnapshot, MessageSnapshot, ParticipantSnapshot};

use super::small_map::SmallMap;
use crate::error::Error;

/// Which pushed events an attached actor receives.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum RouteKey {
    /// Every event about this conversation (messages, participants, typing, reactions, the
    /// conversation itself).
    Conversation(String),
    /// Every event about any conversation (conversation lists), and `user.created` of the
    /// current user.
    AllConversations,
    /// Events about this user (`user.created`, `user.edited`, `user.online.changed`).
    User(String),
}

impl RouteKey {
    /// The keys an event is routed under.
    pub(crate) fn of(event: &Event) -> Vec<RouteKey> {
        let user = |u: &str| RouteKey::User(u.to_owned());
        match event {
            Event::UserCreated(e) => vec![user(&e.user_id), RouteKey::AllConversations],
            Event::UserEdited(e) => vec![user(&e.user_id)],
            Event::UserOnlineChanged(e) => vec![user(&e.user_id)],
            other => match other.conversation_id() {
                Some(c) => vec![
                    RouteKey::Conversation(c.to_owned()),
                    RouteKey::AllConversations,
                ],
                None => Vec::new(),
            },
        }
    }
}

/// What the session hands an attached actor.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub(crate) enum Routed {
    /// A pushed event, shared by every receiver.
    Event(Arc<Event>),
    /// A new socket replaced a lost one: refetch and reconcile.
    Resync,
    /// The session ended; so does every subscription.
    Ended(Error),
    /// What does it show of this lookup (`None`: nothing, or it is not loaded)? Sent only to
    /// actors attached with [`Attach::finds`]; an actor that drops the reply answers `None`.
    Find(Lookup, tokio::sync::oneshot::Sender<Option<Found>>),
}

/// Receive the events routed under these keys (and every [`Routed::Resync`]) until [`Detach`].
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub(crate) struct Attach {
    /// The attaching actor's id, unique in the process (see [`next_id`]).
    pub(crate) id: u64,
    /// Which events it wants.
    pub(crate) keys: Vec<RouteKey>,
    /// Where they go.
    pub(crate) inbox: Recipient<Routed>,
    /// It answers [`Routed::Find`]s about its keys: a live subscription answers reads of what
    /// it shows.
    pub(crate) finds: bool,
    /// Resync even after the server announced its restart (`upstream.restarting`), when the
    /// subscriptions do not refetch: a feed of new messages must still read what it missed.
    pub(crate) resync_always: bool,
}

/// Something a one-off read asks for, that a live subscription may already show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    /// A message.
    Message {
        /// Its conversation.
        conversation: String,
        /// The message.
        message: String,
    },
    /// A conversation, as the current user sees it.
    Conversation(String),
    /// A participant.
    Participant {
        /// The conversation.
        conversation: String,
        /// The participant's user.
        user: String,
    },
}

impl Lookup {
    fn conversation(&self) -> &str {
        match self {
            Lookup::Message { conversation, .. }
            | Lookup::Participant { conversation, .. }
            | Lookup::Conversation(conversation) => conversation,
        }
    }
}

/// What a live subscription shows of a [`Lookup`].
#[derive(Debug, Clone, PartialEq)]
pub enum Found {
    /// A message.
    Message(Arc<MessageSnapshot>),
    /// A conversation; `None`: the subscription knows the user cannot see it.
    Conversation(Option<Arc<ConversationSnapshot>>),
    /// A participant.
    Participant(Arc<ParticipantSnapshot>),
}

/// Ask the live subscriptions for something; `None` when none shows it (then read it from the
/// server). Answered by the session, which asks the subscriptions attached for that
/// conversation ([`Routed::Find`]), each from its current state.
#[derive(Debug, Clone, Message)]
#[rtype(result = "Option<Found>")]
pub(crate) struct Find(pub(crate) Lookup);

/// Stop routing to the actor attached under this id.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub(crate) struct Detach(pub(crate) u64);

/// A process-wide unique id for subscriptions and cache watchers.
pub(crate) fn next_id() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// Who sees every pushed event before the subscriptions, resyncs before them, and stops with
/// the session: the cache, which keeps users and messages current for every subscription.
pub(crate) trait EventSink: Send {
    /// A pushed event.
    fn route(&self, event: &Arc<Event>);
    /// A new socket replaced a lost one: what was kept may be stale.
    fn resync(&self);
    /// The session ended.
    fn stop(&self);
}

/// The answer to a topic's `SUBSCRIBE` while it is awaited, shared by all its holders.
pub(crate) type SubscribeAnswer = Shared<LocalBoxFuture<'static, Result<(), Error>>>;

/// Where a topic's `SUBSCRIBE` stands.
pub(crate) enum Subscribed {
    /// Awaiting its answer.
    Pending(SubscribeAnswer),
    /// Answered: `None` when it succeeded, else the error (boxed: most succeed). The shared
    /// future is dropped once answered, so an idle session keeps no future per topic.
    Answered(Option<Box<Error>>),
}

impl Subscribed {
    /// The answer, for a new holder.
    pub(crate) fn answer(&self) -> LocalBoxFuture<'static, Result<(), Error>> {
        match self {
            Subscribed::Pending(answer) => Box::pin(answer.clone()),
            Subscribed::Answered(None) => Box::pin(std::future::ready(Ok(()))),
            Subscribed::Answered(Some(e)) => Box::pin(std::future::ready(Err(Error::clone(e)))),
        }
    }

    /// Whether the server refused it.
    pub(crate) fn failed(&self) -> bool {
        match self {
            Subscribed::Pending(answer) => matches!(answer.peek(), Some(Err(_))),
            Subscribed::Answered(error) => error.is_some(),
        }
    }
}

/// One held topic.
pub(crate) struct TopicEntry {
    pub(crate) holders: usize,
    pub(crate) subscribed: Subscribed,
    pub(crate) linger: Option<SpawnHandle>,
}

/// One attached actor.
struct Attached {
    keys: Vec<RouteKey>,
    inbox: Recipient<Routed>,
    /// It answers [`Routed::Find`].
    finds: bool,
    /// See [`Attach::resync_always`].
    resync_always: bool,
}

/// The attached actors, by id, and their ids by key. (Each actor's inbox is held once: a
/// `Recipient` clone allocates.)
#[derive(Default)]
pub(crate) struct Routes {
    by_key: SmallMap<RouteKey, Vec<u64>>,
    attached: SmallMap<u64, Attached>,
}

impl Routes {
    pub(crate) fn attach(&mut self, a: Attach) {
        for k in &a.keys {
            match self.by_key.get_mut(k) {
                Some(v) => v.push(a.id),
                // Most keys have one receiver: room for exactly that.
                None => {
                    self.by_key.insert(k.clone(), vec![a.id]);
                }
            }
        }
        let attached = Attached {
            keys: a.keys,
            inbox: a.inbox,
            finds: a.finds,
            resync_always: a.resync_always,
        };
        self.attached.insert(a.id, attached);
    }

    /// Asks the subscriptions that may show something of this lookup (those of its
    /// conversation, and the conversation lists); the answers come on the receivers.
    pub(crate) fn find(
        &self,
        lookup: &Lookup,
    ) -> Vec<tokio::sync::oneshot::Receiver<Option<Found>>> {
        let keys = [
            RouteKey::Conversation(lookup.conversation().to_owned()),
            RouteKey::AllConversations,
        ];
        let mut ids: Vec<u64> = keys
            .iter()
            .filter_map(|k| self.by_key.get(k))
            .flatten()
            .copied()
            .collect();
        ids.sort_unstable();
        ids.dedup();
        ids.iter()
            .filter_map(|id| self.attached.get(id))
            .filter(|a| a.finds)
            .map(|a| {
                let (reply, answer) = tokio::sync::oneshot::channel();
                a.inbox.do_send(Routed::Find(lookup.clone(), reply));
                answer
            })
            .collect()
    }

    pub(crate) fn detach(&mut self, id: u64) {
        if let Some(a) = self.attached.remove(&id) {
            for k in a.keys {
                if let Some(v) = self.by_key.get_mut(&k) {
                    v.retain(|i| *i != id);
                    if v.is_empty() {
                        self.by_key.remove(&k);
                    }
                }
            }
        }
    }

    /// Hands the event to every actor attached under one of its keys, once each.
    pub(crate) fn route(&self, event: &Arc<Event>) {
        let keys = RouteKey::of(event);
        let mut sent = std::collections::HashSet::new();
        for k in &keys {
            if let Some(v) = self.by_key.get(k) {
                for id in v {
                    // An actor attached under two of the event's keys gets it once.
                    if keys.len() > 1 && !sent.insert(*id) {
                        continue;
                    }
                    if let Some(a) = self.attached.get(id) {
                        a.inbox.do_send(Routed::Event(event.clone()));
                    }
                }
            }
        }
    }

    /// Tells every attached actor to refetch.
    pub(crate) fn resync(&self) {
        for a in self.attached.values() {
            a.inbox.do_send(Routed::Resync);
        }
    }

    /// Tells the actors attached with [`Attach::resync_always`] to refetch (after a restart the
    /// server announced, when the others do not).
    pub(crate) fn resync_always(&self) {
        for a in self.attached.values().filter(|a| a.resync_always) {
            a.inbox.do_send(Routed::Resync);
        }
    }

    /// Tells every attached actor that the session ended, and forgets them.
    pub(crate) fn terminate(&mut self, error: Option<&Error>) {
        if let Some(e) = error {
            for a in self.attached.values() {
                a.inbox.do_send(Routed::Ended(e.clone()));
            }
        }
        self.by_key.clear();
        self.attached.clear();
    }

    /// How many actors are attached.
    pub(crate) fn len(&self) -> usize {
        self.attached.len()
    }
}
