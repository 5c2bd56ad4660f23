//! A shard of the cache: the actor, what it holds, and the messages that concern all of it
//! (events, reconnects, statistics, stopping). Each cache's own state and handlers are in
//! [`super::users`], [`super::messages`] and [`super::latest`].

use std::collections::HashMap;
use std::time::{Duration, Instant};

use actix::prelude::*;
use talkjs_protocol::event::Event;
use talkjs_protocol::wire::MessageWire;

use super::Cache;
use super::CacheStats;
use super::inflight::InFlight;
use super::latest::{LatestEntry, LatestFetch};
use super::lazy_lru::LazyLru;
use super::messages::MessageAnswer;
use super::users::{UserAnswer, UserEntry};
use crate::session::handle::SessionHandle;
use crate::session::routes::Routed;

/// What a shard and its callers hold of the cache's statistics (tests and diagnostics).
#[derive(Debug, Message)]
#[rtype(result = "CacheStats")]
pub struct GetStats;

/// Stop the shard (and its thread, if it has one).
#[derive(Message)]
#[rtype(result = "()")]
pub(super) struct StopShard;

/// How long a stopping shard lets its fetches in flight deliver their answers.
const STOP_GRACE: Duration = Duration::from_millis(500);

/// One shard of a session's cache. See the [cache docs](super).
pub(crate) struct CacheShard {
    /// The cache it is a shard of: its session, and the shared reads.
    pub(super) cache: Cache,
    pub(super) linger: Duration,
    /// Runs on a thread of its own, which it stops when it stops.
    own_thread: bool,
    pub(super) users: HashMap<String, UserEntry>,
    /// User fetches in flight, with the events that arrived before each answer.
    pub(super) user_flights: InFlight<String, UserAnswer, Vec<std::sync::Arc<Event>>>,
    /// Users nobody watches, least recently used first, with when they became idle.
    pub(super) idle: LazyLru<String, Instant>,
    /// At most this many idle users.
    pub(super) idle_bound: usize,
    pub(super) messages: LazyLru<(String, String), MessageWire>,
    /// At most this many messages.
    pub(super) messages_bound: usize,
    /// Message fetches in flight, by conversation and message.
    pub(super) message_flights: InFlight<(String, String), MessageAnswer>,
    pub(super) user_fetches: u64,
    /// Latest messages, by conversation.
    pub(super) latest: HashMap<String, LatestEntry>,
    /// Latest-message fetches in flight, by fetch id.
    pub(super) latest_flights: InFlight<u64, MessageAnswer, LatestFetch>,
    pub(super) next_fetch: u64,
    pub(super) latest_fetches: u64,
    /// The expiry timer, while there are idle users (see `expire_while_idle`).
    expiry: Option<SpawnHandle>,
}

impl CacheShard {
    /// A shard holding `1/shards` of the cache's bounds (at least one entry each).
    pub(super) fn new(
        config: &super::CacheConfig,
        shards: usize,
        cache: Cache,
        linger: Duration,
        own_thread: bool,
    ) -> CacheShard {
        // The LRUs start empty (unallocated) and grow to their bound: a session that caches
        // little costs little (an LRU made with a capacity allocates all of it up front).
        CacheShard {
            cache,
            linger,
            own_thread,
            users: HashMap::new(),
            user_flights: InFlight::new(),
            idle: LazyLru::new(),
            idle_bound: (config.users / shards).max(1),
            messages: LazyLru::new(),
            messages_bound: (config.messages / shards).max(1),
            message_flights: InFlight::new(),
            user_fetches: 0,
            latest: HashMap::new(),
            latest_flights: InFlight::new(),
            next_fetch: 0,
            latest_fetches: 0,
            expiry: None,
        }
    }
}

impl Actor for CacheShard {
    type Context = Context<Self>;
}

impl CacheShard {
    /// The session the cache belongs to.
    pub(super) fn session(&self) -> &SessionHandle {
        self.cache.session()
    }

    /// Expires idle users every half linger (20 ms to 1 s) while there are any: a shard without
    /// idle users (an idle session's) has no timer waking it.
    pub(super) fn expire_while_idle(&mut self, ctx: &mut Context<Self>) {
        if self.idle.len() == 0 || self.expiry.is_some() {
            return;
        }
        let every = (self.linger / 2).clamp(Duration::from_millis(20), Duration::from_secs(1));
        self.expiry = Some(ctx.run_interval(every, |act, ctx| {
            act.expire();
            if act.idle.len() == 0
                && let Some(timer) = act.expiry.take()
            {
                ctx.cancel_future(timer);
            }
        }));
    }
}

impl Handler<super::users::Unwatch> for CacheShard {
    type Result = ();

    fn handle(
        &mut self,
        super::users::Unwatch(watcher): super::users::Unwatch,
        ctx: &mut Context<Self>,
    ) {
        self.unwatch_users(watcher);
        self.expire_while_idle(ctx);
        let watched: Vec<String> = self
            .latest
            .iter()
            .filter(|(_, e)| e.watchers.contains(&watcher))
            .map(|(c, _)| c.clone())
            .collect();
        for c in watched {
            self.unwatch_latest(&c, watcher);
        }
    }
}

impl Handler<Routed> for CacheShard {
    type Result = ();

    fn handle(&mut self, msg: Routed, ctx: &mut Context<Self>) {
        match msg {
            Routed::Event(event) => match &*event {
                Event::UserCreated(e) => self.user_event(&e.user_id, &event),
                Event::UserEdited(e) => self.user_event(&e.user_id, &event),
                Event::MessageEdited(e) => {
                    self.messages
                        .pop(&(e.conversation_id.clone(), e.message_id.clone()));
                    self.latest_event(&e.conversation_id, &event);
                }
                Event::MessageDeleted(e) => {
                    self.messages
                        .pop(&(e.conversation_id.clone(), e.message_id.clone()));
                    self.latest_event(&e.conversation_id, &event);
                }
                Event::MessageCreated(e) => self.latest_event(&e.conversation_id, &event),
                Event::ConversationCleared(e) => self.latest_event(&e.conversation_id, &event),
                // The current user left or joined: events may have been missed meanwhile.
                Event::SideCreated(_) | Event::SideDeleted(_) => {
                    if let Some(c) = event.conversation_id() {
                        self.untrust_latest(c);
                    }
                }
                _ => {}
            },
            Routed::Resync => {
                self.messages.clear();
                // Latest messages may have changed unseen: the next asker fetches them again.
                let conversations: Vec<String> = self.latest.keys().cloned().collect();
                for c in conversations {
                    self.untrust_latest(&c);
                }
                self.refetch_users(ctx);
            }
            Routed::Ended(_) => ctx.stop(),
            // Not attached: never asked.
            Routed::Find(..) => {}
        }
    }
}

impl Handler<GetStats> for CacheShard {
    type Result = MessageResult<GetStats>;

    fn handle(&mut self, _: GetStats, _ctx: &mut Context<Self>) -> Self::Result {
        MessageResult(CacheStats {
            users: self.users.len(),
            idle_users: self.idle.len(),
            messages: self.messages.len(),
            user_fetches: self.user_fetches,
            latest_messages: self.latest.len(),
            latest_fetches: self.latest_fetches,
        })
    }
}

impl Handler<StopShard> for CacheShard {
    type Result = ();

    fn handle(&mut self, _: StopShard, ctx: &mut Context<Self>) {
        // Not at once: fetches in flight are being answered with the session's end (the true
        // cause, such as the server's refusal of the token), and their waiters should get it
        // rather than a bare "stopped".
        let own_thread = self.own_thread;
        ctx.run_later(STOP_GRACE, move |_, ctx| {
            ctx.stop();
            if own_thread {
                Arbiter::current().stop();
            }
        });
    }
}
