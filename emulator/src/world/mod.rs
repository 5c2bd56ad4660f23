//! The emulator's state and rules: what each request does, who may do it, and which events it
//! causes for whom.
//!
//! [`World`] owns the [`Store`], the connected sockets with their subscriptions, and typing state.
//! It does no I/O: a request handler calls one method under the world's lock, the method validates
//! everything *before* it changes anything (so a rejected request leaves no trace), applies the
//! change, and queues events. Each event is serialised once ([`EncodedEvents`]) and handed to the
//! outbound queue of every socket whose subscriptions consume it; the socket's own task adds its
//! PUBLISH id and writes it.
//!
//! Who receives what follows the official client's dispatch rules (docs/protocol.md §5.3): an event
//! goes once to each socket that holds a subscription whose store consumes it.

pub mod admin;
pub mod content_rules;
pub mod conversations;
mod cursor;
mod errors;
pub mod files;
mod messages;
pub mod participants;
mod reactions;
pub mod search;
mod typing;
mod users;
mod view;
mod webhooks;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use talkjs_protocol::event::Event;
use talkjs_protocol::frame::EncodedEvents;
use talkjs_protocol::path::Topic;
use talkjs_protocol::wire::Millis;

use crate::clock::Clock;
use crate::config::Config;
use crate::outbox::Outbox;
use crate::store::Store;
use crate::webhooks::Webhooks;

pub use errors::{AdminError, ApiError, ApiResult};
pub use typing::{READ_ONLY_ACCESS, TYPING_TIMEOUT};

/// Identifies one websocket connection.
pub type ConnId = u64;

pub use crate::outbox::Outbound;

/// One connected socket, as the world sees it.
#[derive(Debug)]
struct Conn {
    user_id: String,
    outbox: Outbox,
    /// Subscribed topics. Batched user subscriptions are stored as one `Topic::User` per id.
    topics: HashSet<Topic>,
    /// Set once `POST /session/renew` succeeded.
    authenticated: bool,
}

/// The emulator's state. See the module docs.
pub struct World {
    pub(crate) config: Config,
    pub(crate) store: Box<dyn Store>,
    pub(crate) clock: Clock,
    /// Base URL clients reach this emulator at (for file download links).
    pub(crate) public_url: String,
    conns: HashMap<ConnId, Conn>,
    conns_by_user: HashMap<String, HashSet<ConnId>>,
    next_conn: ConnId,
    next_id: u64,
    /// conversation -> user -> when they started typing.
    pub(crate) typing: HashMap<String, HashMap<String, Millis>>,
    /// Every request received, when [`World::record_requests`] is on (for wire-parity tests).
    recorded: Option<Vec<RecordedRequest>>,
    /// Where webhook events go, once [`World::set_webhooks`] was called.
    webhooks: Option<Webhooks>,
}

/// A request as a socket received it (see [`World::record_requests`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedRequest {
    /// The socket's user.
    pub user_id: String,
    /// The method, as on the wire.
    pub method: String,
    /// The path, as on the wire (still encoded).
    pub path: String,
    /// The data, as on the wire.
    pub data: String,
}

impl World {
    /// A world over a store.
    pub fn new(config: Config, store: Box<dyn Store>) -> World {
        World {
            config,
            store,
            clock: Clock::default(),
            public_url: String::new(),
            conns: HashMap::new(),
            conns_by_user: HashMap::new(),
            next_conn: 1,
            next_id: 1,
            typing: HashMap::new(),
            recorded: None,
            webhooks: None,
        }
    }

    /// Sends this world's webhook events (world/webhooks.rs decides which) to `hooks`.
    pub fn set_webhooks(&mut self, hooks: Webhooks) {
        self.webhooks = Some(hooks);
    }

    /// Starts (or stops) keeping every request sockets send, for tests that compare a client's
    /// frames with another's. Off by default: it grows without bound.
    pub fn record_requests(&mut self, on: bool) {
        self.recorded = on.then(Vec::new);
    }

    /// Remembers a request if recording is on.
    pub fn record(&mut self, user_id: &str, method: &str, path: &str, data: &str) {
        if let Some(r) = &mut self.recorded {
            r.push(RecordedRequest {
                user_id: user_id.to_owned(),
                method: method.to_owned(),
                path: path.to_owned(),
                data: data.to_owned(),
            });
        }
    }

    /// The requests recorded so far (empty when recording is off), and forgets them.
    pub fn take_recorded(&mut self) -> Vec<RecordedRequest> {
        self.recorded
            .as_mut()
            .map(std::mem::take)
            .unwrap_or_default()
    }

    /// Sets the base URL clients reach the emulator at, e.g. `http://127.0.0.1:8787`.
    pub fn set_public_url(&mut self, url: impl Into<String>) {
        self.public_url = url.into();
    }

    /// The emulator's settings.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The store (read-only), e.g. for tests and search.
    pub fn store(&self) -> &dyn Store {
        self.store.as_ref()
    }

    /// A fresh id with a prefix, e.g. `msg_000012`. Ids only need to be unique and stable.
    pub(crate) fn new_id(&mut self, prefix: &str) -> String {
        let n = self.next_id;
        self.next_id += 1;
        format!("{prefix}_{n:06}")
    }

    // -- connections -------------------------------------------------------------------------

    /// Registers a socket for `user_id`; events for it go to `outbox`.
    pub fn connect(&mut self, user_id: &str, outbox: Outbox) -> ConnId {
        let id = self.next_conn;
        self.next_conn += 1;
        self.conns.insert(
            id,
            Conn {
                user_id: user_id.to_owned(),
                outbox,
                topics: HashSet::new(),
                authenticated: false,
            },
        );
        self.conns_by_user
            .entry(user_id.to_owned())
            .or_default()
            .insert(id);
        id
    }

    /// Marks a socket authenticated; the first authenticated socket of a user makes them online.
    pub fn authenticated(&mut self, conn: ConnId) {
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        if c.authenticated {
            return;
        }
        c.authenticated = true;
        let user = c.user_id.clone();
        if self.online_sockets(&user) == 1 {
            self.publish_online(&user, true);
        }
    }

    /// Marks a socket unauthenticated again (its token expired, or a renew failed): it gets no
    /// more pushes until it renews; its subscriptions are kept for then. The last authenticated
    /// socket of a user going makes them offline.
    pub fn deauthenticate(&mut self, conn: ConnId) {
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        if !c.authenticated {
            return;
        }
        c.authenticated = false;
        let user = c.user_id.clone();
        if self.online_sockets(&user) == 0 {
            self.publish_online(&user, false);
        }
    }

    /// Forgets a socket; the last authenticated socket of a user going makes them offline.
    pub fn disconnect(&mut self, conn: ConnId) {
        let Some(c) = self.conns.remove(&conn) else {
            return;
        };
        if let Some(set) = self.conns_by_user.get_mut(&c.user_id) {
            set.remove(&conn);
            if set.is_empty() {
                self.conns_by_user.remove(&c.user_id);
            }
        }
        if c.authenticated && self.online_sockets(&c.user_id) == 0 {
            self.publish_online(&c.user_id, false);
        }
    }

    /// Asks every socket of the app to close (used on shutdown).
    pub fn close_all(&mut self, code: u16, reason: &str) {
        for c in self.conns.values() {
            c.outbox.close(code, reason);
        }
    }

    /// Pushes `upstream.restarting` to every authenticated socket, whatever it subscribed to:
    /// the official client then skips its refetch after the next reconnect (docs/protocol.md
    /// §3.8). Returns how many sockets were told.
    pub fn announce_restart(&self) -> usize {
        let Some(enc) = encode(&Event::UpstreamRestarting) else {
            return 0;
        };
        let mut told = 0;
        for c in self.conns.values().filter(|c| c.authenticated) {
            if c.outbox.publish(enc.clone()) {
                told += 1;
            }
        }
        told
    }

    /// Pushes an event to one socket, whatever it subscribed to (e.g. `session.expired`).
    pub fn push_to(&self, conn: ConnId, event: &Event) {
        if let (Some(c), Ok(enc)) = (
            self.conns.get(&conn),
            EncodedEvents::encode(std::slice::from_ref(event)),
        ) {
            c.outbox.publish(Arc::new(enc));
        }
    }

    /// Number of connected sockets (authenticated or not).
    pub fn connection_count(&self) -> usize {
        self.conns.len()
    }

    fn online_sockets(&self, user: &str) -> usize {
        self.conns_by_user
            .get(user)
            .map(|set| {
                set.iter()
                    .filter(|id| self.conns.get(id).is_some_and(|c| c.authenticated))
                    .count()
            })
            .unwrap_or(0)
    }

    /// Whether a user has at least one authenticated socket.
    pub fn is_online(&self, user: &str) -> bool {
        self.online_sockets(user) > 0
    }

    fn publish_online(&self, user: &str, is_connected: bool) {
        let event = Event::UserOnlineChanged(talkjs_protocol::event::UserOnlineChanged {
            user_id: user.to_owned(),
            diff: talkjs_protocol::wire::OnlineWire { is_connected },
        });
        self.publish_to_all(&event);
    }

    // -- subscriptions -----------------------------------------------------------------------

    /// Records a subscription. Subscribing always succeeds, even without access: the official
    /// client treats a rejected SUBSCRIBE as fatal and learns about access from the GET instead.
    pub fn subscribe(&mut self, conn: ConnId, topic: Topic, user_ids: &[String]) {
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        if topic == Topic::Users {
            for u in user_ids {
                c.topics.insert(Topic::User { user: u.clone() });
            }
        } else {
            c.topics.insert(topic);
        }
    }

    /// Removes a subscription; unknown topics are fine (the official client may unsubscribe
    /// paths it never subscribed on this socket).
    pub fn unsubscribe(&mut self, conn: ConnId, topic: &Topic, user_ids: &[String]) {
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        if *topic == Topic::Users {
            for u in user_ids {
                c.topics.remove(&Topic::User { user: u.clone() });
            }
        } else {
            c.topics.remove(topic);
        }
    }

    // -- fan-out -----------------------------------------------------------------------------

    /// Sends an event to every socket (of any user) that consumes it.
    pub(crate) fn publish_to_all(&self, event: &Event) {
        let mut encoded = None;
        for c in self.conns.values() {
            if c.authenticated && wants(&c.topics, &c.user_id, event) {
                let enc = encoded.get_or_insert_with(|| encode(event));
                if let Some(enc) = enc {
                    c.outbox.publish(enc.clone());
                }
            }
        }
    }

    /// Sends a `user.created` or `user.edited` about `user_id` to every socket that subscribed to
    /// that user, and also to every socket watching a conversation `user_id` is in (or the list of
    /// conversations of someone who shares one with them). The official client shows users inside
    /// messages, participants and lists, but after a reconnect it re-subscribes only its first
    /// batch of user ids (docs/protocol.md §9.13); without this a rename would never reach a
    /// message list it displays.
    pub(crate) fn publish_user_event(&self, user_id: &str, event: &Event) {
        let shared: HashSet<String> = self.store.conversations_of(user_id).into_iter().collect();
        let shares_with = |other: &str| {
            shared.iter().any(|c| {
                self.store
                    .conversation(c)
                    .is_some_and(|conv| conv.participants.contains_key(other))
            })
        };
        let mut encoded = None;
        for c in self.conns.values().filter(|c| c.authenticated) {
            let watching = c.topics.iter().any(|t| match topic_conversation(t) {
                Some(conv) => shared.contains(conv),
                None => *t == Topic::Conversations && shares_with(&c.user_id),
            });
            if (watching || wants(&c.topics, &c.user_id, event))
                && let Some(enc) = encoded.get_or_insert_with(|| encode(event))
            {
                c.outbox.publish(enc.clone());
            }
        }
    }

    /// Sends an event, identical for every recipient, to the sockets of `users` that consume it.
    /// The event is serialised at most once.
    pub(crate) fn publish_to_users<'a>(
        &self,
        users: impl IntoIterator<Item = &'a str>,
        event: &Event,
    ) {
        let mut encoded = None;
        for user in users {
            for c in self.user_conns(user) {
                if wants(&c.topics, &c.user_id, event) {
                    let enc = encoded.get_or_insert_with(|| encode(event));
                    if let Some(enc) = enc {
                        c.outbox.publish(enc.clone());
                    }
                }
            }
        }
    }

    /// Sends each user an event built for them (e.g. their unread count), building and
    /// serialising it only if one of their sockets consumes it. `probe` is any event of the same
    /// type and ids, used to decide interest before building.
    pub(crate) fn publish_per_user<'a, F>(
        &self,
        users: impl IntoIterator<Item = &'a str>,
        probe: &Event,
        mut build: F,
    ) where
        F: FnMut(&str) -> Option<Event>,
    {
        for user in users {
            let interested: Vec<&Conn> = self
                .user_conns(user)
                .filter(|c| wants(&c.topics, &c.user_id, probe))
                .collect();
            if interested.is_empty() {
                continue;
            }
            let Some(event) = build(user) else { continue };
            if let Some(enc) = encode(&event) {
                for c in interested {
                    c.outbox.publish(enc.clone());
                }
            }
        }
    }

    /// The participants of `conversation` that have a socket: the only users an event about it
    /// can reach. Found from the smaller side (its participants, or the users with sockets), so
    /// a conversation of 10,000 participants of whom a few are online costs a few lookups.
    pub(crate) fn connected_participants(&self, conversation: &str) -> Vec<String> {
        let Some(conv) = self.store.conversation(conversation) else {
            return Vec::new();
        };
        if conv.participants.len() <= self.conns_by_user.len() {
            conv.participants
                .keys()
                .filter(|u| self.conns_by_user.contains_key(*u))
                .cloned()
                .collect()
        } else {
            self.conns_by_user
                .keys()
                .filter(|u| conv.participants.contains_key(*u))
                .cloned()
                .collect()
        }
    }

    fn user_conns<'a>(&'a self, user: &str) -> impl Iterator<Item = &'a Conn> + 'a {
        self.conns_by_user
            .get(user)
            .into_iter()
            .flatten()
            .filter_map(|id| self.conns.get(id))
            .filter(|c| c.authenticated)
    }
}

fn encode(event: &Event) -> Option<Arc<EncodedEvents>> {
    match EncodedEvents::encode(std::slice::from_ref(event)) {
        Ok(enc) => Some(Arc::new(enc)),
        Err(e) => {
            tracing::error!(error = %e, "could not serialise an event");
            None
        }
    }
}

/// Whether a socket of `me` with these subscriptions consumes `event` (docs/protocol.md §5.3).
fn wants(topics: &HashSet<Topic>, me: &str, event: &Event) -> bool {
    use Event as E;
    let has = |t: Topic| topics.contains(&t);
    let conv = |c: &str, f: &dyn Fn(&Topic) -> bool| {
        topics
            .iter()
            .any(|t| topic_conversation(t) == Some(c) && f(t))
    };
    match event {
        E::UserCreated(e) => {
            has(Topic::User {
                user: e.user_id.clone(),
            }) || has(Topic::UserOnline {
                user: e.user_id.clone(),
            }) || (e.user_id == me && has(Topic::Conversations))
        }
        E::UserEdited(e) => {
            has(Topic::User {
                user: e.user_id.clone(),
            }) || has(Topic::UserOnline {
                user: e.user_id.clone(),
            })
        }
        E::UserOnlineChanged(e) => has(Topic::UserOnline {
            user: e.user_id.clone(),
        }),
        E::SideCreated(e) => {
            has(Topic::Conversations)
                || conv(&e.conversation_id, &|t| !matches!(t, Topic::Typing { .. }))
        }
        E::SideDeleted(e) => has(Topic::Conversations) || conv(&e.conversation_id, &|_| true),
        E::SideEdited(e) | E::ConversationEdited(e) => {
            has(Topic::Conversations)
                || has(Topic::Conversation {
                    conversation: e.conversation_id.clone(),
                })
        }
        E::ConversationCleared(e) => has(Topic::Messages {
            conversation: e.conversation_id.clone(),
        }),
        E::MessageCreated(e) => conv(&e.conversation_id, &|t| {
            matches!(t, Topic::Messages { .. } | Topic::Reactions { .. })
        }),
        E::MessageDeleted(e) => conv(&e.conversation_id, &|t| {
            matches!(t, Topic::Messages { .. } | Topic::Reactions { .. })
        }),
        E::MessageEdited(e) => has(Topic::Messages {
            conversation: e.conversation_id.clone(),
        }),
        E::ParticipantCreated(e) => participant_topics(topics, &e.conversation_id, &e.user_id),
        E::ParticipantDeleted(e) => participant_topics(topics, &e.conversation_id, &e.user_id),
        E::ParticipantEdited(e) => {
            participant_topics(topics, &e.conversation_id, &e.user_id)
                || (e.user_id == me
                    && (has(Topic::Conversations)
                        || has(Topic::Conversation {
                            conversation: e.conversation_id.clone(),
                        })))
        }
        E::TypingAvailable(e) => has(Topic::Typing {
            conversation: e.conversation_id.clone(),
        }),
        E::TypingChanged(e) => has(Topic::Typing {
            conversation: e.conversation_id.clone(),
        }),
        E::ReactionAdded(e) => has(Topic::Reactions {
            conversation: e.conversation_id.clone(),
            message: e.message_id.clone(),
            emoji: e.emoji.clone(),
        }),
        E::ReactionRemoved(e) => has(Topic::Reactions {
            conversation: e.conversation_id.clone(),
            message: e.message_id.clone(),
            emoji: e.emoji.clone(),
        }),
        // Control and custom events are addressed to sockets directly, never by interest.
        E::SessionExpired | E::UpstreamRestarting | E::Other(_) => false,
    }
}

fn participant_topics(topics: &HashSet<Topic>, c: &str, u: &str) -> bool {
    topics.contains(&Topic::Participants {
        conversation: c.to_owned(),
    }) || topics.contains(&Topic::Participant {
        conversation: c.to_owned(),
        user: u.to_owned(),
    })
}

fn topic_conversation(t: &Topic) -> Option<&str> {
    match t {
        Topic::Conversation { conversation }
        | Topic::Messages { conversation }
        | Topic::Participants { conversation }
        | Topic::Participant { conversation, .. }
        | Topic::Typing { conversation }
        | Topic::Reactions { conversation, .. } => Some(conversation),
        _ => None,
    }
}
