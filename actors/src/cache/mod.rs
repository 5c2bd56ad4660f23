//! The session's cache: users and messages, split over N shard actors.
//!
//! Every subscription of a session hydrates the users it shows (senders, participants, typing
//! and reacting users) and the messages replies point to through this cache, so:
//!
//! - **one fetch per user**, however many subscriptions ask at once: concurrent requests for a
//!   user wait on the same `GET /users` (which the session batches, up to 1000 ids per frame);
//! - **one live copy per user**: a cached user is subscribed on the wire (`SUBSCRIBE /users`,
//!   batched the same way), `user.edited` is applied once, and the new
//!   `Arc<UserSnapshot>` is handed to every subscription *watching* that user
//!   ([`UserUpdated`]), which re-emits whatever shows them: a renamed sender updates every
//!   message list at once, all pointing to the same snapshot;
//! - **bounded**: a user no subscription watches stays cached (and subscribed) for
//!   [`Timings::user_unsubscribe_delay`](crate::connection::Timings) so that repeated one-off
//!   reads are answered without a request, as the official client answers them from its stores;
//!   at most [`CacheConfig::users`] such idle users are kept (least recently used go first), and
//!   an evicted user is unsubscribed. Watched users are never evicted: they are on screen.
//! - Messages fetched by id (the targets of replies outside a window) are kept in an LRU of
//!   [`CacheConfig::messages`] entries; an edit or deletion evicts the entry.
//! - Conversations fetched by id are shared by concurrent askers (several filtered lists
//!   deciding about the same change), but not kept: a conversation is only current while
//!   something subscribes to it, and the subscriptions that do keep their own copy.
//! - **Latest messages** ([`Cache::latest_message`]): the newest message of each conversation a
//!   subscription shows (a conversation subscription, an entry of a conversation list), fetched
//!   once (`GET /me/conversations/{c}/messages {limit: 1}`) and then kept current from the
//!   conversation's events, as the official client's message store is: `message.created` of a
//!   newer message replaces it, `message.edited` of it patches it, `message.deleted` of it falls
//!   back to the event's `newLastMessage`, `conversation.cleared` empties it. So a list that
//!   comes to show a conversation another subscription already shows sends no request for its
//!   last message. An entry lives while a subscription watches it, and holds the
//!   conversation's message topic meanwhile (no frame: the watchers hold it too), so the events
//!   that keep it current keep arriving; the last watcher's leave drops it at once (the topic
//!   then lingers in the session as usual). It is only trusted since the last reconnect and
//!   while the current user's side of the conversation stands (`side.deleted`/`side.created`):
//!   after either, the next asker fetches again. Entries are bounded by what subscriptions show.
//!
//! A user is in exactly one shard (chosen by hashing the id), so shards never coordinate. One
//! shard (the default) runs on the session's thread; N > 1 shards each get a thread of their own
//! ([`CacheConfig::shards`]), so a very busy session hydrates in parallel. The LRUs start empty
//! and grow to their bounds, so an idle session costs little.
//!
//! **Lazy.** The shards start on the first request that needs one (users, a message by id, a
//! latest message), not with the session: until then nothing is cached, so events and
//! reconnects have nothing to update and go nowhere, and a session whose subscriptions show no
//! user (a message list of an empty conversation, say) never starts one. Shared reads need no
//! shard: their in-flight map is in the handle.
//!
//! Here: the [`Cache`] handle and what callers see. The shard actor is in `shard.rs`, each cache's
//! state and handlers in `users.rs`, `messages.rs` (messages by id) and `latest.rs`, shared reads
//! in `reads.rs`, and the one "one fetch per key, many waiters" map they all use in
//! `inflight.rs`.

mod inflight;
mod latest;
mod lazy_lru;
mod messages;
mod reads;
mod shard;
mod users;

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use actix::prelude::*;
use futures_util::future::join_all;
use talkjs_protocol::event::Event;
use talkjs_protocol::path::Route;
use talkjs_protocol::snapshot::UserSnapshot;
use talkjs_protocol::wire::MessageWire;

pub use latest::{GetLatest, UnwatchLatest};
pub use messages::GetMessage;
pub use shard::GetStats;
use shard::{CacheShard, StopShard};
pub use users::{GetUsers, Unwatch, UnwatchUser};

use crate::error::{Error, ErrorKind};
use crate::session::handle::SessionHandle;
use crate::session::routes::{EventSink, Routed};

/// Sizes of a session's cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheConfig {
    /// Shard actors (at least 1). One shard runs on the session's thread; with more, each
    /// runs on a thread of its own, for sessions that hydrate a lot at once.
    pub shards: usize,
    /// Users kept while no subscription shows them, over all shards.
    pub users: usize,
    /// Messages kept, over all shards.
    pub messages: usize,
}

impl Default for CacheConfig {
    fn default() -> CacheConfig {
        CacheConfig {
            shards: 1,
            users: 1000,
            messages: 1000,
        }
    }
}

/// A user changed: the new snapshot, for every subscription watching them.
#[derive(Debug, Clone, Message)]
#[rtype(result = "()")]
pub struct UserUpdated(pub Arc<UserSnapshot>);

/// Who to tell when a user changes.
#[derive(Debug, Clone)]
pub struct Watcher {
    /// The watcher's id (`crate::session::routes::next_id`).
    pub id: u64,
    /// Where updates go. Weak: a watcher that stopped gets nothing (and is unwatched as it
    /// stops), and every subscription has a watcher whether or not it ever shows a user, so it
    /// holds no sender of its own.
    pub inbox: actix::WeakRecipient<UserUpdated>,
}

impl Watcher {
    /// Hands the watcher a user's new snapshot, if it still runs.
    pub(crate) fn update(&self, user: &Arc<UserSnapshot>) {
        if let Some(inbox) = self.inbox.upgrade() {
            inbox.do_send(UserUpdated(user.clone()));
        }
    }
}

/// See `GetStats`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Users cached.
    pub users: usize,
    /// Of those, users no subscription watches.
    pub idle_users: usize,
    /// Messages cached.
    pub messages: usize,
    /// User fetches sent.
    pub user_fetches: u64,
    /// Conversations whose latest message is watched (known, being fetched, or to be fetched
    /// again by the next asker).
    pub latest_messages: usize,
    /// Latest-message fetches sent.
    pub latest_fetches: u64,
}

/// A handle to a session's cache: its shard actors (started by the first request that needs
/// one) and its shared reads.
#[derive(Clone)]
pub struct Cache {
    inner: Arc<Inner>,
}

/// What every handle of a session's cache shares.
struct Inner {
    session: SessionHandle,
    config: CacheConfig,
    /// How long an idle user stays cached.
    linger: Duration,
    /// Reads in flight (see [`reads`]).
    reads: reads::Reads,
    /// The shard actors, once a request needed them.
    shards: OnceLock<Box<[Addr<CacheShard>]>>,
    /// The session stopped: no shard starts any more. Shards start while this is locked, so a
    /// stop never misses one.
    stopped: Mutex<bool>,
    /// The session's thread, once its actor runs there.
    thread: OnceLock<std::thread::ThreadId>,
    /// Latest-message entries kept by the shards, plus asks for one on their way to a shard
    /// (see [`Cache::latest_message`]): while zero, no shard needs a conversation's message
    /// events, and [`EventSink::route`] does not send them (a bot's stream of new messages
    /// then costs no shard hop).
    latest_kept: AtomicUsize,
}

/// A shard's mailbox before it starts (actix's default size).
const SHARD_MAILBOX: usize = 16;

impl std::fmt::Debug for Cache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cache")
            .field("shards", &self.inner.config.shards.max(1))
            .field("started", &self.inner.shards.get().is_some())
            .finish()
    }
}

/// The shard key of a conversation's latest message (the path of its `GET`).
fn latest_key(conversation: &str) -> String {
    Route::ListMessages {
        conversation: conversation.to_owned(),
    }
    .path()
    .encode()
}

fn shard_of(key: &str, n: usize) -> usize {
    if n <= 1 {
        return 0;
    }
    let mut h = std::collections::hash_map::DefaultHasher::new();
    key.hash(&mut h);
    (h.finish() % n as u64) as usize
}

impl Cache {
    /// The cache of a session; its shards start when a request first needs one.
    pub(crate) fn new(config: &CacheConfig, session: SessionHandle, linger: Duration) -> Cache {
        Cache {
            inner: Arc::new(Inner {
                session,
                config: *config,
                linger,
                reads: reads::Reads::default(),
                shards: OnceLock::new(),
                stopped: Mutex::new(false),
                thread: OnceLock::new(),
                latest_kept: AtomicUsize::new(0),
            }),
        }
    }

    /// Whether the caller runs on the session's thread.
    fn on_session_thread_now(&self) -> bool {
        self.inner.thread.get() == Some(&std::thread::current().id())
    }

    /// Called on the session's thread when its actor starts there.
    pub(crate) fn on_session_thread(&self) {
        let _ = self.inner.thread.set(std::thread::current().id());
    }

    /// The session this cache belongs to.
    pub(super) fn session(&self) -> &SessionHandle {
        &self.inner.session
    }

    /// The shards, started now if they were not (`None`: the session stopped).
    fn shards(&self) -> Option<&[Addr<CacheShard>]> {
        if let Some(shards) = self.inner.shards.get() {
            return Some(shards);
        }
        let stopped = self
            .inner
            .stopped
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if *stopped {
            return None;
        }
        Some(self.inner.shards.get_or_init(|| self.start_shards()))
    }

    /// A shard made a latest-message entry for an ask: the ask's count is the entry's now.
    /// `existed`: the entry was there already, so the ask's count goes.
    pub(super) fn latest_asked(&self, existed: bool) {
        if existed {
            self.inner.latest_kept.fetch_sub(1, Ordering::SeqCst);
        }
    }

    /// A shard dropped a latest-message entry.
    pub(super) fn latest_dropped(&self) {
        self.inner.latest_kept.fetch_sub(1, Ordering::SeqCst);
    }

    /// The shards if they started (what events, resyncs and unwatches concern: shards that
    /// never started hold nothing).
    fn started(&self) -> &[Addr<CacheShard>] {
        self.inner.shards.get().map_or(&[], |s| s)
    }

    /// The shard of `key`, if the shards have started.
    fn started_shard(&self, key: &str) -> Option<&Addr<CacheShard>> {
        let started = self.started();
        started.get(shard_of(key, started.len()))
    }

    /// Starts the shards, on the session's thread (one shard) or each on a thread of its own
    /// (several); their mailboxes are ready at once.
    fn start_shards(&self) -> Box<[Addr<CacheShard>]> {
        let config = &self.inner.config;
        let n = config.shards.max(1);
        let own_threads = n > 1;
        let mut shards = Vec::with_capacity(n);
        let mut starting = Vec::with_capacity(n);
        for _ in 0..n {
            let (tx, rx) = actix::dev::channel::channel(SHARD_MAILBOX);
            shards.push(Addr::new(tx));
            let shard = CacheShard::new(config, n, self.clone(), self.inner.linger, own_threads);
            starting.push((rx, shard));
        }
        if self.on_session_thread_now() && !own_threads {
            // Asked on the session's thread (by a subscription): the shard starts now, so the
            // request that started it is handled as soon as a running shard would handle it,
            // and its frames keep their place on the wire.
            for (rx, shard) in starting {
                Context::with_receiver(rx).run(shard);
            }
            return shards.into_boxed_slice();
        }
        self.session().arbiter().spawn_fn(move || {
            for (rx, shard) in starting {
                if !own_threads {
                    Context::with_receiver(rx).run(shard);
                    continue;
                }
                // Several shards each get a thread of their own, so a busy session hydrates in
                // parallel; a shard stops its thread when it stops.
                Arbiter::new().spawn_fn(move || {
                    Context::with_receiver(rx).run(shard);
                });
            }
        });
        shards.into_boxed_slice()
    }

    /// The shard of `key`, started if need be.
    fn shard(&self, key: &str) -> Result<&Addr<CacheShard>, Error> {
        let shards = self.shards().ok_or_else(stopped)?;
        Ok(&shards[shard_of(key, shards.len())])
    }

    /// These users' snapshots (missing users are left out), fetched once however many ask;
    /// with a watcher, it receives `UserUpdated` for each of them until [`Cache::unwatch`].
    pub fn users(
        &self,
        ids: impl IntoIterator<Item = String>,
        watcher: Option<Watcher>,
    ) -> impl Future<Output = Result<HashMap<String, Arc<UserSnapshot>>, Error>> + 'static {
        let mut ids = ids.into_iter().peekable();
        // Nobody to fetch: no shard needs to start.
        let shards = match ids.peek() {
            None => Ok(&[][..]),
            Some(_) => self.shards().ok_or_else(stopped),
        };
        let asks: Result<Vec<_>, Error> = shards.map(|shards| {
            let mut per_shard: Vec<Vec<String>> = vec![Vec::new(); shards.len()];
            for id in ids {
                per_shard[shard_of(&id, shards.len())].push(id);
            }
            per_shard
                .into_iter()
                .enumerate()
                .filter(|(_, ids)| !ids.is_empty())
                .map(|(i, ids)| {
                    shards[i].send(GetUsers {
                        ids,
                        watcher: watcher.clone(),
                    })
                })
                .collect()
        });
        async move {
            let mut out = HashMap::new();
            for answer in join_all(asks?).await {
                let found = answer.map_err(|_| stopped())??;
                out.extend(found);
            }
            Ok(out)
        }
    }

    /// One user's snapshot (`None`: no such user), from the cache when it holds them.
    pub fn user(
        &self,
        id: String,
    ) -> impl Future<Output = Result<Option<Arc<UserSnapshot>>, Error>> + 'static {
        let key = id.clone();
        let found = self.users([id], None);
        async move { Ok(found.await?.remove(&key)) }
    }

    /// Stops updates to this watcher.
    pub fn unwatch(&self, watcher: u64) {
        for s in self.started() {
            s.do_send(Unwatch(watcher));
        }
    }

    /// Stops updates about one user to this watcher (a list no longer shows them), so an idle
    /// user can be evicted.
    pub fn unwatch_user(&self, user: &str, watcher: u64) {
        if let Some(shard) = self.started_shard(user) {
            shard.do_send(UnwatchUser {
                user: user.to_owned(),
                watcher,
            });
        }
    }

    /// One message by id (`None`: it does not exist or is not visible), fetched once however
    /// many ask.
    pub fn message(
        &self,
        conversation: String,
        message: String,
    ) -> impl Future<Output = Result<Option<MessageWire>, Error>> + 'static {
        let ask = self
            .shard(&format!("{conversation}\u{0}{message}"))
            .map(|shard| {
                shard.send(GetMessage {
                    conversation,
                    message,
                })
            });
        async move { ask?.await.map_err(|_| stopped())? }
    }

    /// A conversation's newest message (`None`: it has none), kept by the cache while `watcher`
    /// (or another subscription) shows it: fetched once however many ask, then kept current by
    /// the conversation's events, so a later asker needs no request. The asker must hold the
    /// conversation's message topic already (its `SUBSCRIBE` goes before the `GET`).
    pub fn latest_message(
        &self,
        conversation: String,
        watcher: u64,
    ) -> impl Future<Output = Result<Option<MessageWire>, Error>> + 'static {
        // Counted before it is sent, so events that arrive meanwhile reach the shard; the shard
        // takes the count over with the entry, or gives it back if the entry exists.
        let ask = self.shard(&latest_key(&conversation)).map(|shard| {
            self.inner.latest_kept.fetch_add(1, Ordering::SeqCst);
            shard.send(GetLatest {
                conversation,
                watcher,
            })
        });
        async move { ask?.await.map_err(|_| stopped())? }
    }

    /// Stops keeping a conversation's latest message for this watcher (a list no longer shows
    /// the conversation); the last watcher's leave drops it.
    pub fn unwatch_latest(&self, conversation: &str, watcher: u64) {
        if let Some(shard) = self.started_shard(&latest_key(conversation)) {
            shard.do_send(UnwatchLatest {
                conversation: conversation.to_owned(),
                watcher,
            });
        }
    }

    /// The statistics of all shards, summed (shards that never started hold nothing).
    pub async fn stats(&self) -> CacheStats {
        let mut total = CacheStats::default();
        for s in join_all(self.started().iter().map(|s| s.send(GetStats))).await {
            let s = s.unwrap_or_default();
            total.users += s.users;
            total.idle_users += s.idle_users;
            total.messages += s.messages;
            total.user_fetches += s.user_fetches;
            total.latest_messages += s.latest_messages;
            total.latest_fetches += s.latest_fetches;
        }
        total
    }
}

impl EventSink for Cache {
    fn route(&self, event: &Arc<Event>) {
        let started = self.started();
        if started.is_empty() {
            return; // Nothing cached yet, so nothing the event could change.
        }
        // The shards that keep something the event changes: a user, a message by id, a latest
        // message. Each gets it once, and handles all of it.
        let keys = match &**event {
            Event::UserCreated(e) => vec![e.user_id.clone()],
            Event::UserEdited(e) => vec![e.user_id.clone()],
            Event::MessageEdited(e) => vec![
                format!("{}\u{0}{}", e.conversation_id, e.message_id),
                latest_key(&e.conversation_id),
            ],
            Event::MessageDeleted(e) => vec![
                format!("{}\u{0}{}", e.conversation_id, e.message_id),
                latest_key(&e.conversation_id),
            ],
            // Only latest messages follow these; with none kept, no shard needs them.
            Event::MessageCreated(_)
            | Event::ConversationCleared(_)
            | Event::SideCreated(_)
            | Event::SideDeleted(_) => match event.conversation_id() {
                _ if self.inner.latest_kept.load(Ordering::SeqCst) == 0 => return,
                Some(c) => vec![latest_key(c)],
                None => return,
            },
            _ => return,
        };
        let mut shards: Vec<usize> = keys.iter().map(|k| shard_of(k, started.len())).collect();
        shards.dedup();
        for i in shards {
            started[i].do_send(Routed::Event(event.clone()));
        }
    }

    fn resync(&self) {
        for s in self.started() {
            s.do_send(Routed::Resync);
        }
    }

    fn stop(&self) {
        let mut stopped = self
            .inner
            .stopped
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        *stopped = true;
        for s in self.started() {
            s.do_send(StopShard);
        }
    }
}

fn stopped() -> Error {
    Error::session_stopped("Cache")
}

/// The error of a fetch refused because too many are in flight (see [`inflight::MAX_IN_FLIGHT`]).
fn full() -> Error {
    Error::new(
        "Cache",
        ErrorKind::Transport("too many fetches in flight in the session's cache".to_owned()),
    )
}
