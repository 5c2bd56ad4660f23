//! Latest messages: the newest message of each conversation a subscription shows, fetched once
//! and then kept current from the conversation's events (see the [cache docs](super)).

use std::sync::Arc;

use actix::prelude::*;
use serde_json::value::RawValue;
use talkjs_protocol::event::Event;
use talkjs_protocol::path::{Route, Topic};
use talkjs_protocol::request::ListRequest;
use talkjs_protocol::wire::{MessageWire, Page};

use super::messages::MessageAnswer;
use super::shard::CacheShard;
use super::{full, stopped};
use crate::error::Error;
use crate::session::Request;
use crate::session::handle::TopicGuard;

/// A conversation's newest message (`None`: it has none), from the store of latest messages when
/// it is known there, else fetched once however many ask (see the module docs). The watcher keeps
/// the entry current until [`UnwatchLatest`] or [`Unwatch`](super::Unwatch).
#[derive(Debug, Message)]
#[rtype(result = "Result<Option<MessageWire>, Error>")]
pub struct GetLatest {
    /// The conversation.
    pub conversation: String,
    /// The asking subscription's watcher id ([`Watcher::id`](super::Watcher::id)).
    pub watcher: u64,
}

/// A subscription no longer shows this conversation's latest message.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct UnwatchLatest {
    /// The conversation.
    pub conversation: String,
    /// The watcher.
    pub watcher: u64,
}

/// What a shard knows of a conversation's latest message.
enum Latest {
    /// Nothing trusted: not fetched yet, or no longer followed (a reconnect, the current user
    /// left or joined). The next asker fetches.
    Unknown,
    /// Being fetched (the key into `CacheShard::latest_flights`).
    Fetching(u64),
    /// Known (`None`: no messages), and kept current by events.
    Known(Option<MessageWire>),
}

/// A conversation's latest message and the subscriptions that show it.
pub(super) struct LatestEntry {
    latest: Latest,
    /// Watcher ids; the entry (and its hold on the message topic) lives while there are any.
    pub(super) watchers: Vec<u64>,
    /// The conversation's message topic, held while the entry lives.
    _topic: TopicGuard,
}

/// The state of a latest-message fetch in flight (its waiters are in the in-flight map).
pub(super) struct LatestFetch {
    conversation: String,
    /// Events about the conversation that arrived before the answer, applied on top of it.
    early: Vec<Arc<Event>>,
    /// False once something made the answer untrustworthy for keeping (its waiters still get
    /// it): a reconnect, a side event, or the entry was dropped.
    keep: bool,
}

impl CacheShard {
    /// Fetches a conversation's latest message; returns the fetch's id.
    fn fetch_latest(&mut self, conversation: &str, ctx: &mut Context<Self>) -> Result<u64, Error> {
        let id = self.next_fetch;
        let state = LatestFetch {
            conversation: conversation.to_owned(),
            early: Vec::new(),
            keep: true,
        };
        if self.latest_flights.start(id, state).is_err() {
            return Err(full());
        }
        self.next_fetch += 1;
        self.latest_fetches += 1;
        let route = Route::ListMessages {
            conversation: conversation.to_owned(),
        };
        let data = serde_json::value::to_raw_value(&ListRequest::first_page(1))
            .unwrap_or_else(|_| unreachable!("a list request serialises"));
        let answer = self.cache.shard_read(Request {
            operation: format!("Get messages of conversation {conversation}").into(),
            method: route.method(),
            path: route.path().encode(),
            data,
        });
        ctx.spawn(
            answer
                .into_actor(self)
                .map(move |answer, act, _| act.latest_loaded(id, answer)),
        );
        Ok(id)
    }

    fn latest_loaded(&mut self, id: u64, answer: Result<Arc<RawValue>, Error>) {
        let Some(mut flight) = self.latest_flights.remove(&id) else {
            return;
        };
        let fetch = &flight.state;
        let mut followed = true;
        let result = answer.and_then(|raw| {
            let page = serde_json::from_str::<Page<MessageWire>>(raw.get()).map_err(|e| {
                Error::unreadable(
                    format!("Get messages of conversation {}", fetch.conversation),
                    e,
                )
            })?;
            let mut latest = page.data.into_iter().next();
            for event in &fetch.early {
                followed &= apply_latest_event(&mut latest, event);
            }
            Ok(latest)
        });
        flight.answer(&result);
        let fetch = flight.state;
        let Some(entry) = self.latest.get_mut(&fetch.conversation) else {
            return;
        };
        if !matches!(entry.latest, Latest::Fetching(f) if f == id) {
            return;
        }
        entry.latest = match result {
            Ok(latest) if fetch.keep && followed => Latest::Known(latest),
            // Errors are not kept: the next asker tries again.
            _ => Latest::Unknown,
        };
    }

    /// Stops trusting what is known of a conversation's latest message (events about it may
    /// have been missed); the next asker fetches again.
    pub(super) fn untrust_latest(&mut self, conversation: &str) {
        let Some(entry) = self.latest.get_mut(conversation) else {
            return;
        };
        match entry.latest {
            Latest::Fetching(id) => {
                if let Some(f) = self.latest_flights.state_mut(&id) {
                    f.keep = false;
                }
            }
            Latest::Known(_) => entry.latest = Latest::Unknown,
            Latest::Unknown => {}
        }
    }

    /// Removes a watcher from a conversation's latest message; the last one's leave drops the
    /// entry and gives back its hold on the message topic.
    pub(super) fn unwatch_latest(&mut self, conversation: &str, watcher: u64) {
        let Some(entry) = self.latest.get_mut(conversation) else {
            return;
        };
        entry.watchers.retain(|w| *w != watcher);
        if !entry.watchers.is_empty() {
            return;
        }
        // A fetch in flight still answers its waiters, but is not kept.
        self.untrust_latest(conversation);
        // Dropping the entry releases the conversation's message topic.
        if self.latest.remove(conversation).is_some() {
            self.cache.latest_dropped();
        }
    }

    /// Applies a message or clearing event to a conversation's latest message.
    pub(super) fn latest_event(&mut self, conversation: &str, event: &Arc<Event>) {
        let Some(entry) = self.latest.get_mut(conversation) else {
            return;
        };
        match &mut entry.latest {
            Latest::Unknown => {}
            Latest::Fetching(id) => {
                if let Some(f) = self.latest_flights.state_mut(id) {
                    f.early.push(event.clone());
                }
            }
            Latest::Known(latest) => {
                if !apply_latest_event(latest, event) {
                    entry.latest = Latest::Unknown;
                }
            }
        }
    }
}

/// Applies an event to a conversation's latest message, as the official client's message store
/// does; false when the result cannot be known from the event (then it must be fetched again).
fn apply_latest_event(latest: &mut Option<MessageWire>, event: &Event) -> bool {
    match event {
        Event::MessageCreated(e) => {
            let older = latest
                .as_ref()
                .is_some_and(|l| l.id == e.state.id || l.created_at > e.state.created_at);
            if !older {
                *latest = Some(e.state.clone());
            }
            true
        }
        Event::MessageEdited(e) => match latest {
            Some(l) if l.id == e.message_id => l.apply(&e.diff),
            _ => true,
        },
        Event::MessageDeleted(e) => {
            if latest.as_ref().is_some_and(|l| l.id == e.message_id) {
                latest.clone_from(&e.new_last_message);
            }
            true
        }
        Event::ConversationCleared(_) => {
            *latest = None;
            true
        }
        _ => true,
    }
}

impl Handler<GetLatest> for CacheShard {
    type Result = ResponseFuture<MessageAnswer>;

    fn handle(&mut self, msg: GetLatest, ctx: &mut Context<Self>) -> Self::Result {
        let conversation = msg.conversation;
        let existed = self.latest.contains_key(&conversation);
        self.cache.latest_asked(existed);
        if !existed {
            // Held while kept, so the events that keep it current keep coming. The asker holds
            // the topic already: no frame.
            let topic = self.session().hold(Topic::Messages {
                conversation: conversation.clone(),
            });
            self.latest.insert(
                conversation.clone(),
                LatestEntry {
                    latest: Latest::Unknown,
                    watchers: Vec::new(),
                    _topic: topic,
                },
            );
        }
        let Some(entry) = self.latest.get_mut(&conversation) else {
            return Box::pin(async { Err(stopped()) });
        };
        if !entry.watchers.contains(&msg.watcher) {
            entry.watchers.push(msg.watcher);
        }
        let fetch = match &entry.latest {
            Latest::Known(m) => {
                let m = m.clone();
                return Box::pin(async move { Ok(m) });
            }
            Latest::Fetching(id) => *id,
            Latest::Unknown => {
                let id = match self.fetch_latest(&conversation, ctx) {
                    Ok(id) => id,
                    Err(e) => return Box::pin(async { Err(e) }),
                };
                if let Some(entry) = self.latest.get_mut(&conversation) {
                    entry.latest = Latest::Fetching(id);
                }
                id
            }
        };
        let Some(rx) = self.latest_flights.wait(&fetch) else {
            return Box::pin(async { Err(stopped()) });
        };
        Box::pin(async move { rx.await.map_err(|_| stopped())? })
    }
}

impl Handler<UnwatchLatest> for CacheShard {
    type Result = ();

    fn handle(&mut self, msg: UnwatchLatest, _ctx: &mut Context<Self>) {
        self.unwatch_latest(&msg.conversation, msg.watcher);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(id: &str, at: i64) -> MessageWire {
        serde_json::from_value(serde_json::json!({
            "id": id, "type": "UserMessage", "senderId": "alice", "custom": {},
            "createdAt": at, "editedAt": null, "referencedMessageId": null, "origin": "web",
            "content": [{"type": "text", "children": [id]}],
            "reactions": {"👍": {"count": 1, "currentUserReacted": false, "createdAt": at}}
        }))
        .unwrap()
    }

    fn event(v: serde_json::Value) -> Event {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn the_latest_message_follows_creations_edits_deletions_and_clearing() {
        let mut latest = Some(message("m2", 2));
        let created = |m: MessageWire| {
            event(serde_json::json!({
                "type": "message.created", "conversationId": "c1", "messageId": m.id,
                "state": m
            }))
        };
        // An older message does not replace it; a newer one does.
        assert!(apply_latest_event(&mut latest, &created(message("m1", 1))));
        assert_eq!(latest.as_ref().unwrap().id, "m2");
        assert!(apply_latest_event(&mut latest, &created(message("m3", 3))));
        assert_eq!(latest.as_ref().unwrap().id, "m3");

        // An edit of it is applied; an edit of another message is not.
        let edited = event(serde_json::json!({
            "type": "message.edited", "conversationId": "c1", "messageId": "m3",
            "diff": {"custom": {"k": "v"}, "editedAt": 4,
                     "reactions": {"👍": null, "🎉": {"count": 2, "currentUserReacted": true,
                                                     "createdAt": 4}}}
        }));
        assert!(apply_latest_event(&mut latest, &edited));
        let m = latest.as_ref().unwrap();
        assert_eq!(m.custom.get("k").map(String::as_str), Some("v"));
        assert_eq!(m.edited_at, Some(4));
        assert_eq!(m.reactions.keys().collect::<Vec<_>>(), ["🎉"]);
        assert_eq!(m.reactions["🎉"].count, 2);

        // A new emoji without its count cannot be followed: fetch again.
        let vague = event(serde_json::json!({
            "type": "message.edited", "conversationId": "c1", "messageId": "m3",
            "diff": {"reactions": {"❤️": {"currentUserReacted": true}}}
        }));
        assert!(!apply_latest_event(&mut latest.clone(), &vague));

        // Deleting it falls back to the event's new last message; clearing empties it.
        let deleted = event(serde_json::json!({
            "type": "message.deleted", "conversationId": "c1", "messageId": "m3",
            "newLastMessage": message("m2", 2)
        }));
        assert!(apply_latest_event(&mut latest, &deleted));
        assert_eq!(latest.as_ref().unwrap().id, "m2");
        let cleared = event(serde_json::json!({
            "type": "conversation.cleared", "conversationId": "c1"
        }));
        assert!(apply_latest_event(&mut latest, &cleared));
        assert_eq!(latest, None);
    }
}
