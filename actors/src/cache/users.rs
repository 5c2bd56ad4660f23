//! The users of a shard: one fetch per user however many ask, one live copy per user kept
//! current by `user.edited` and handed to every watcher, idle users kept for a linger period in
//! a bounded LRU (see the [cache docs](super)).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use actix::prelude::*;
use talkjs_protocol::event::Event;
use talkjs_protocol::path::Topic;
use talkjs_protocol::snapshot::UserSnapshot;
use talkjs_protocol::wire::UserWire;

use super::shard::CacheShard;
use super::{Watcher, full, stopped};
use crate::batch::{BatchItem, BatchKey};
use crate::error::Error;
use crate::session::handle::TopicGuard;

/// Users, fetched or from the cache; with a watcher, it is told of their changes until
/// [`Unwatch`]. Missing users are left out of the answer.
#[derive(Debug, Message)]
#[rtype(result = "Result<HashMap<String, Arc<UserSnapshot>>, Error>")]
pub struct GetUsers {
    /// The user ids.
    pub ids: Vec<String>,
    /// Who to tell of changes.
    pub watcher: Option<Watcher>,
}

/// Stop telling this watcher about one user.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct UnwatchUser {
    /// The user.
    pub user: String,
    /// The watcher.
    pub watcher: u64,
}

/// Stop telling this watcher about any user.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct Unwatch(pub u64);

/// A user fetch's answer: the snapshot (`None`: no such user).
pub(super) type UserAnswer = Result<Option<Arc<UserSnapshot>>, Error>;

/// A cached user. It is loaded unless a fetch of it is in flight (`CacheShard::user_flights`,
/// whose state holds the events that arrived before the answer, applied on top of it).
pub(super) struct UserEntry {
    /// `None` before the first answer, or when the user does not exist.
    snapshot: Option<Arc<UserSnapshot>>,
    pub(super) watchers: Vec<Watcher>,
    /// The user's wire topic, held while the user is cached.
    _topic: TopicGuard,
}

impl CacheShard {
    /// Fetches these users (one batched `GET /users` per tick, after their `SUBSCRIBE`); each
    /// must be in flight already.
    pub(super) fn fetch(&mut self, ids: Vec<String>, ctx: &mut Context<Self>) {
        for id in ids {
            self.user_fetches += 1;
            let answer = self.session().batched(
                format!("Get user {id}"),
                BatchKey::SubscribedUsers(0),
                BatchItem::User(id.clone()),
            );
            ctx.spawn(answer.into_actor(self).map(move |answer, act, _| {
                let result = match answer {
                    Ok(serde_json::Value::Null) => Ok(None),
                    Ok(v) => serde_json::from_value::<UserWire>(v)
                        .map(|w| Some(Arc::new(UserSnapshot::from(w))))
                        .map_err(|e| Error::unreadable("Get user", e)),
                    Err(e) => Err(e),
                };
                act.loaded(&id, result);
            }));
        }
    }

    fn loaded(&mut self, id: &str, result: UserAnswer) {
        let mut flight = self.user_flights.remove(id);
        let Some(entry) = self.users.get_mut(id) else {
            // Not cached (any more): only its waiters, if any, want the answer.
            if let Some(flight) = &mut flight {
                flight.answer(&result);
            }
            return;
        };
        match result {
            Ok(snapshot) => {
                let before = entry.snapshot.clone();
                entry.snapshot = snapshot;
                if let Some(flight) = &mut flight {
                    for event in std::mem::take(&mut flight.state) {
                        apply_user_event(entry, &event);
                    }
                    flight.answer(&Ok(entry.snapshot.clone()));
                }
                // A refetch that found a change tells the watchers.
                if before.is_some()
                    && before != entry.snapshot
                    && let Some(s) = &entry.snapshot
                {
                    for w in &entry.watchers {
                        w.update(s);
                    }
                }
            }
            Err(e) => {
                if let Some(flight) = &mut flight {
                    flight.answer(&Err(e.clone()));
                }
                if entry.snapshot.is_none() {
                    // Nothing known: forget it so the next request tries again.
                    // (dropping the entry releases the user's topic)
                    self.users.remove(id);
                    self.idle.pop(id);
                }
                // Else a failed refetch keeps what was known.
            }
        }
    }

    /// Puts an unwatched user in the idle list, evicting the least recently used if full.
    pub(super) fn make_idle(&mut self, id: &str) {
        self.idle.push(id.to_owned(), Instant::now());
        while self.idle.len() > self.idle_bound {
            match self.idle.pop_lru() {
                Some((evicted, _)) => self.evict(&evicted),
                None => break,
            }
        }
    }

    fn evict(&mut self, id: &str) {
        if self.users.get(id).is_some_and(|e| e.watchers.is_empty())
            && !self.user_flights.awaited(id)
        {
            // Dropping the entry releases the user's topic; a refetch in flight is forgotten.
            self.users.remove(id);
            self.user_flights.remove(id);
        }
    }

    /// Drops users idle for longer than the linger time.
    pub(super) fn expire(&mut self) {
        let now = Instant::now();
        while let Some((_, since)) = self.idle.peek_lru() {
            if now.duration_since(*since) < self.linger {
                break;
            }
            if let Some((id, _)) = self.idle.pop_lru() {
                self.evict(&id);
            }
        }
    }

    /// A `user.created` or `user.edited` event: applied to the cached user (or kept until the
    /// answer of its fetch in flight), and the new snapshot handed to the watchers.
    pub(super) fn user_event(&mut self, id: &str, event: &Arc<Event>) {
        let Some(entry) = self.users.get_mut(id) else {
            return;
        };
        if let Some(early) = self.user_flights.state_mut(id) {
            early.push(event.clone());
            return;
        }
        if apply_user_event(entry, event)
            && let Some(s) = &entry.snapshot
        {
            for w in &entry.watchers {
                w.update(s);
            }
        }
    }

    /// After a reconnect: edits made while the socket was down were missed, so every loaded
    /// user is fetched again (events until the answer are applied on top of it).
    pub(super) fn refetch_users(&mut self, ctx: &mut Context<Self>) {
        let mut ids = Vec::new();
        for id in self.users.keys() {
            if let Ok(true) = self.user_flights.start(id.clone(), Vec::new()) {
                ids.push(id.clone());
            }
        }
        self.fetch(ids, ctx);
    }

    /// Removes a watcher from every user; users left unwatched become idle.
    pub(super) fn unwatch_users(&mut self, watcher: u64) {
        let mut now_idle = Vec::new();
        for (id, entry) in &mut self.users {
            let before = entry.watchers.len();
            entry.watchers.retain(|w| w.id != watcher);
            if before > 0 && entry.watchers.is_empty() {
                now_idle.push(id.clone());
            }
        }
        for id in now_idle {
            self.make_idle(&id);
        }
    }
}

/// Applies a user event to a loaded entry; true if the snapshot changed.
fn apply_user_event(entry: &mut UserEntry, event: &Event) -> bool {
    match event {
        Event::UserCreated(e) if entry.snapshot.is_none() => {
            entry.snapshot = Some(Arc::new(UserSnapshot::from(&e.state)));
            true
        }
        Event::UserEdited(e) => match &entry.snapshot {
            Some(s) => {
                let mut next = (**s).clone();
                next.apply(&e.diff);
                if next == **s {
                    return false;
                }
                entry.snapshot = Some(Arc::new(next));
                true
            }
            None => false,
        },
        _ => false,
    }
}

impl Handler<GetUsers> for CacheShard {
    type Result = ResponseFuture<Result<HashMap<String, Arc<UserSnapshot>>, Error>>;

    fn handle(&mut self, msg: GetUsers, ctx: &mut Context<Self>) -> Self::Result {
        let mut ready = HashMap::new();
        let mut waits = Vec::new();
        let mut to_fetch = Vec::new();
        let mut refused = false;
        for id in msg.ids {
            let new = !self.users.contains_key(&id);
            if new {
                let Ok((first, rx)) = self.user_flights.join_with(id.clone(), Vec::new) else {
                    // Too many fetches in flight: this user is not cached.
                    refused = true;
                    break;
                };
                // Subscribed first, then fetched: both frames are batched by the session, and
                // the SUBSCRIBE batch goes first.
                let topic = self.session().hold(Topic::User { user: id.clone() });
                self.users.insert(
                    id.clone(),
                    UserEntry {
                        snapshot: None,
                        watchers: Vec::new(),
                        _topic: topic,
                    },
                );
                if first {
                    to_fetch.push(id.clone());
                }
                waits.push((id.clone(), rx));
            }
            let Some(entry) = self.users.get_mut(&id) else {
                continue;
            };
            if let Some(w) = &msg.watcher
                && !entry.watchers.iter().any(|x| x.id == w.id)
            {
                entry.watchers.push(w.clone());
            }
            if !new {
                match self.user_flights.wait(&id) {
                    Some(rx) => waits.push((id.clone(), rx)),
                    None => {
                        if let Some(s) = &entry.snapshot {
                            ready.insert(id.clone(), s.clone());
                        }
                    }
                }
            }
            if msg.watcher.is_some() {
                self.idle.pop(&id);
            } else if entry.watchers.is_empty() {
                // A one-off read keeps an unwatched user fresh for another linger period.
                self.make_idle(&id);
            }
        }
        self.fetch(to_fetch, ctx);
        self.expire_while_idle(ctx);
        if refused {
            return Box::pin(async { Err(full()) });
        }
        Box::pin(async move {
            for (id, rx) in waits {
                if let Some(s) = rx.await.map_err(|_| stopped())?? {
                    ready.insert(id, s);
                }
            }
            Ok(ready)
        })
    }
}

impl Handler<UnwatchUser> for CacheShard {
    type Result = ();

    fn handle(&mut self, msg: UnwatchUser, ctx: &mut Context<Self>) {
        let Some(entry) = self.users.get_mut(&msg.user) else {
            return;
        };
        let before = entry.watchers.len();
        entry.watchers.retain(|w| w.id != msg.watcher);
        if before > 0 && entry.watchers.is_empty() {
            self.make_idle(&msg.user);
            self.expire_while_idle(ctx);
        }
    }
}
