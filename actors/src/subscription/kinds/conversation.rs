//! One conversation as the current user sees it (`ConversationRef::subscribe`), and the piece
//! it shares with conversation lists: an [`Entry`], a conversation with its live last message.
//!
//! The last message comes from the conversation's message topic (`SUBSCRIBE
//! /me/conversations/{c}/messages` and `GET` of the newest one), as the official client keeps
//! it: `message.created` replaces it when newer, `message.edited` patches it, `message.deleted`
//! falls back to the event's `newLastMessage`, `conversation.cleared` empties it. The `GET` goes
//! through the session's store of latest messages
//! ([`Cache::latest_message`](crate::cache::Cache::latest_message)), shared by every
//! subscription of the session: a conversation and a list showing it fetch it once, and a list
//! that comes to show a conversation already shown reuses what the store keeps current. Each
//! subscription still applies the events to its own copy. Conversation diffs (`side.edited`,
//! `conversation.edited`, the current user's `participant.edited`) are applied to both the wire
//! object (which lists sort and filter by) and the snapshot.

use std::collections::HashMap;
use std::sync::Arc;

use futures_util::future::LocalBoxFuture;
use talkjs_protocol::event::Event;
use talkjs_protocol::path::{Route, Topic};
use talkjs_protocol::request::Empty;
use talkjs_protocol::snapshot::{ConversationSnapshot, MessageSnapshot, UserSnapshot};
use talkjs_protocol::wire::{ConversationWire, MessageWire, Millis};

use crate::cache::Watcher;
use crate::error::Error;
use crate::session::handle::TopicGuard;
use crate::session::routes::{Found, Lookup, RouteKey};
use crate::subscription::hydrate;
use crate::subscription::{Apply, Env, Kind, LoadReason, Scope, Step};

/// A conversation with its last message, kept current by events (what a conversation
/// subscription and each entry of a conversation list hold).
#[derive(Debug, Clone)]
pub struct Entry {
    pub(crate) wire: ConversationWire,
    snap: ConversationSnapshot,
    last: Option<Arc<MessageSnapshot>>,
    users: HashMap<String, Arc<UserSnapshot>>,
    pub(crate) built: Arc<ConversationSnapshot>,
    /// The conversation's message topic, held while a list shows the entry (shared by the
    /// entry's clones).
    topic: Option<Arc<TopicGuard>>,
}

/// A hydrated last message, with the users it shows.
pub(crate) type LastMessage = (
    Option<Arc<MessageSnapshot>>,
    HashMap<String, Arc<UserSnapshot>>,
);

/// What an event did to an entry.
pub(crate) enum EntryStep {
    Unchanged,
    Changed,
    /// A new last message must be hydrated first; apply the result with [`Entry::set_last`].
    Later(LocalBoxFuture<'static, Result<LastMessage, Error>>),
}

impl Entry {
    pub(crate) fn new(wire: ConversationWire, last: LastMessage) -> Entry {
        let snap = ConversationSnapshot::from_wire(&wire, None);
        let mut e = Entry {
            built: Arc::new(snap.clone()),
            wire,
            snap,
            last: last.0,
            users: last.1,
            topic: None,
        };
        e.rebuild();
        e
    }

    /// The same entry, holding its conversation's message topic while it lives.
    pub(crate) fn holding(mut self, topic: TopicGuard) -> Entry {
        self.topic = Some(Arc::new(topic));
        self
    }

    pub(crate) fn id(&self) -> &str {
        &self.wire.id
    }

    fn rebuild(&mut self) {
        let mut s = self.snap.clone();
        s.last_message = self.last.clone();
        self.built = Arc::new(s);
    }

    /// When it was last active: its last message, else when the user joined (the official
    /// client's list order, docs/protocol.md §12.3). The server's `lastMessageAt` is not used:
    /// a list moves a conversation when its last message changes, as the official client's does
    /// (`events_conversation`).
    pub(crate) fn activity(&self) -> Millis {
        self.last
            .as_ref()
            .map_or(self.wire.joined_at, |m| m.created_at)
    }

    pub(crate) fn set_last(&mut self, last: LastMessage) -> bool {
        self.users.extend(last.1);
        if self.last == last.0 {
            return false;
        }
        self.last = last.0;
        self.rebuild();
        true
    }

    /// Applies a conversation-level event about this conversation.
    pub(crate) fn on_event(&mut self, event: &Event, me: &str, scope: &Scope<'_>) -> EntryStep {
        match event {
            Event::SideEdited(e) | Event::ConversationEdited(e) => {
                self.wire.apply(&e.diff);
                let before = self.snap.clone();
                self.snap.apply(&e.diff);
                if before == self.snap {
                    return EntryStep::Unchanged;
                }
                self.rebuild();
                EntryStep::Changed
            }
            Event::ParticipantEdited(e) if e.user_id == me => {
                self.wire.apply_own_participant_diff(&e.diff);
                let before = self.snap.clone();
                self.snap.apply_own_participant_diff(&e.diff);
                if before == self.snap {
                    return EntryStep::Unchanged;
                }
                self.rebuild();
                EntryStep::Changed
            }
            Event::ConversationCleared(_) => {
                if self.last.is_none() {
                    return EntryStep::Unchanged;
                }
                self.last = None;
                self.rebuild();
                EntryStep::Changed
            }
            Event::MessageCreated(e) => {
                if self
                    .last
                    .as_ref()
                    .is_some_and(|l| l.id == e.state.id || l.created_at > e.state.created_at)
                {
                    return EntryStep::Unchanged;
                }
                self.hydrate(e.state.clone(), scope)
            }
            Event::MessageEdited(e) => match &self.last {
                Some(l) if l.id == e.message_id => {
                    let mut next = (**l).clone();
                    next.apply(&e.diff);
                    if next == **l {
                        return EntryStep::Unchanged;
                    }
                    self.last = Some(Arc::new(next));
                    self.rebuild();
                    EntryStep::Changed
                }
                _ => EntryStep::Unchanged,
            },
            Event::MessageDeleted(e) => match &self.last {
                Some(l) if l.id == e.message_id => match &e.new_last_message {
                    Some(m) => self.hydrate(m.clone(), scope),
                    None => {
                        self.last = None;
                        self.rebuild();
                        EntryStep::Changed
                    }
                },
                _ => EntryStep::Unchanged,
            },
            _ => EntryStep::Unchanged,
        }
    }

    fn hydrate(&mut self, wire: MessageWire, scope: &Scope<'_>) -> EntryStep {
        // Usually the sender is already shown here: no round trip.
        let sender = match &wire.sender_id {
            Some(id) => self.users.get(id).cloned().map(Some),
            None => Some(None),
        };
        if let Some(sender) = sender
            && wire.referenced_message_id.is_none()
        {
            self.last = Some(Arc::new(MessageSnapshot::from_wire(&wire, sender, None)));
            self.rebuild();
            return EntryStep::Changed;
        }
        let work = hydrate::messages(
            scope.env.clone(),
            hydrate::Fetch::Watched(scope.watcher.clone()),
            self.wire.id.clone(),
            vec![wire],
            HashMap::new(),
        );
        EntryStep::Later(Box::pin(async move {
            let h = work.await?;
            Ok((h.messages.into_iter().next(), h.users))
        }))
    }

    pub(crate) fn on_user(&mut self, user: &Arc<UserSnapshot>) -> bool {
        if !self.users.contains_key(&user.id) {
            return false;
        }
        self.users.insert(user.id.clone(), user.clone());
        let Some(next) = self.last.as_ref().and_then(|l| hydrate::with_user(l, user)) else {
            return false;
        };
        self.last = Some(Arc::new(next));
        self.rebuild();
        true
    }
}

/// A conversation's newest message, hydrated (`None` when it has none), from the session's store
/// of latest messages: its `GET` is sent once however many subscriptions ask, and not at all
/// while the store keeps it current. The watcher keeps the store's entry until it unwatches
/// ([`Cache::unwatch_latest`](crate::cache::Cache::unwatch_latest), or when its subscription
/// ends). The caller must hold the conversation's message topic.
pub(crate) fn last_message(
    env: &Env,
    watcher: &Watcher,
    conversation: &str,
) -> LocalBoxFuture<'static, Result<LastMessage, Error>> {
    let latest = env
        .cache
        .latest_message(conversation.to_owned(), watcher.id);
    let (env, watcher, conversation) = (env.clone(), watcher.clone(), conversation.to_owned());
    Box::pin(async move {
        let wire = match latest.await {
            Ok(Some(m)) => m,
            Ok(None) => return Ok((None, HashMap::new())),
            Err(e) if e.is_absent() => return Ok((None, HashMap::new())),
            Err(e) => return Err(e),
        };
        let h = hydrate::messages(
            env,
            hydrate::Fetch::Watched(watcher),
            conversation,
            vec![wire],
            HashMap::new(),
        )
        .await?;
        Ok((h.messages.into_iter().next(), h.users))
    })
}

/// See the module docs.
#[derive(Debug)]
pub struct ConversationKind {
    id: String,
    entry: Option<Entry>,
}

impl ConversationKind {
    /// A subscription to this conversation.
    pub fn new(id: impl Into<String>) -> ConversationKind {
        ConversationKind {
            id: id.into(),
            entry: None,
        }
    }
}

impl Kind for ConversationKind {
    type Snapshot = Option<Arc<ConversationSnapshot>>;
    type Loaded = Option<Entry>;

    fn describe(&self) -> String {
        format!("me/conversations/{}", self.id)
    }

    fn route_keys(&self) -> Vec<RouteKey> {
        vec![RouteKey::Conversation(self.id.clone())]
    }

    fn topics(&self) -> Vec<Topic> {
        vec![
            Topic::Conversation {
                conversation: self.id.clone(),
            },
            Topic::Messages {
                conversation: self.id.clone(),
            },
        ]
    }

    fn load(
        &self,
        _reason: LoadReason,
        scope: &mut Scope<'_>,
    ) -> LocalBoxFuture<'static, Result<Option<Entry>, Error>> {
        let route = Route::GetConversation {
            conversation: self.id.clone(),
        };
        let conversation = scope.env.call::<_, ConversationWire>(
            format!("Get conversation {}", self.id),
            &route,
            &Empty,
        );
        let last = last_message(scope.env, scope.watcher, &self.id);
        Box::pin(async move {
            let (conversation, last) = futures_util::future::join(conversation, last).await;
            match conversation {
                Ok(wire) => Ok(Some(Entry::new(wire, last?))),
                Err(e) if e.is_absent() => Ok(None),
                Err(e) => Err(e),
            }
        })
    }

    fn install(&mut self, loaded: Option<Entry>, _: LoadReason, _: &mut Scope<'_>) -> bool {
        let changed = match (&self.entry, &loaded) {
            (Some(a), Some(b)) => a.built != b.built,
            (None, None) => false,
            _ => true,
        };
        self.entry = loaded;
        changed
    }

    fn on_event(&mut self, event: &Arc<Event>, scope: &mut Scope<'_>) -> Step<Self> {
        if event.conversation_id() != Some(self.id.as_str()) {
            return Step::Unchanged;
        }
        match &**event {
            Event::SideCreated(_) if self.entry.is_none() => return Step::Reload,
            Event::SideDeleted(_) => {
                return if self.entry.take().is_some() {
                    Step::Changed
                } else {
                    Step::Unchanged
                };
            }
            _ => {}
        }
        let me = scope.env.me.clone();
        let Some(entry) = &mut self.entry else {
            return Step::Unchanged;
        };
        match entry.on_event(event, &me, scope) {
            EntryStep::Unchanged => Step::Unchanged,
            EntryStep::Changed => Step::Changed,
            EntryStep::Later(work) => Step::Later(Box::pin(async move {
                let last = work.await?;
                let apply: Apply<ConversationKind> =
                    Box::new(move |k, _| k.entry.as_mut().is_some_and(|e| e.set_last(last)));
                Ok(apply)
            })),
        }
    }

    fn on_user(&mut self, user: &Arc<UserSnapshot>) -> bool {
        self.entry.as_mut().is_some_and(|e| e.on_user(user))
    }

    fn find(&self, lookup: &Lookup) -> Option<Found> {
        match lookup {
            // Live, so its answer stands even when it is "not visible".
            Lookup::Conversation(id) if *id == self.id => Some(Found::Conversation(
                self.entry.as_ref().map(|e| e.built.clone()),
            )),
            _ => None,
        }
    }

    fn snapshot(&self) -> Self::Snapshot {
        self.entry.as_ref().map(|e| e.built.clone())
    }
}
