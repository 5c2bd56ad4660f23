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

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use futures_util::future::join_all;
use lru::LruCache;
use serde_json::value::RawValue;
use talkjs_protocol::event::Event;
use talkjs_protocol::path::{Route, Topic};
use talkjs_protocol::request::ListRequest;
use talkjs_protocol::snapshot::UserSnapshot;
use talkjs_protocol::wire::{MessageWire, Page, UserWire};
use tokio::sync::oneshot;

use crate::batch::{BatchItem, BatchKey};
use crate::error::Error;
use crate::session::Request;
use crate::session::handle::{SessionHandle, TopicGuard};
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
    /// Where updates go.
    pub inbox: Recipient<UserUpdated>,
}

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

/// One message by id (`None`: it does not exist or is not visible).
#[derive(Debug, Message)]
#[rtype(result = "Result<Option<MessageWire>, Error>")]
pub struct GetMessage {
    /// The conversation.
    pub conversation: String,
    /// The message.
    pub message: String,
}

/// A conversation's newest message (`None`: it has none), from the store of latest messages when
/// it is known there, else fetched once however many ask (see the module docs). The watcher keeps
/// the entry current until [`UnwatchLatest`] or [`Unwatch`].
#[derive(Debug, Message)]
#[rtype(result = "Result<Option<MessageWire>, Error>")]
pub struct GetLatest {
    /// The conversation.
    pub conversation: String,
    /// The asking subscription's watcher id ([`Watcher::id`]).
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

/// A read (`GET`) that concurrent identical reads share: while one is in flight, another with
/// the same path and data waits for its answer instead of sending its own frame, as the
/// official client's shared stores do (two lists deciding about the same conversation change
/// send one `GET` of it). Answers are not kept: a read is only current while something
/// subscribes to what it read. (Latest messages, which the cache does keep current, are
/// [`GetLatest`]; their fetches share in-flight reads too.)
#[derive(Debug, Message)]
#[rtype(result = "Result<Arc<RawValue>, Error>")]
pub struct SharedRead(pub Request);

/// What a shard and its callers hold of the cache's statistics (tests and diagnostics).
#[derive(Debug, Message)]
#[rtype(result = "CacheStats")]
pub struct GetStats;

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

/// A handle to a session's cache shards.
#[derive(Clone)]
pub struct Cache {
    shards: Arc<[Addr<CacheShard>]>,
}

/// A shard's mailbox before it starts (actix's default size).
const SHARD_MAILBOX: usize = 16;

impl std::fmt::Debug for Cache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cache")
            .field("shards", &self.shards.len())
            .finish()
    }
}

/// The shard key of a conversation's latest message: the path of its `GET`, so the fetch and any
/// identical [`SharedRead`] meet in the same shard.
fn latest_key(conversation: &str) -> String {
    Route::ListMessages {
        conversation: conversation.to_owned(),
    }
    .path()
    .encode()
}

fn shard_of(key: &str, n: usize) -> usize {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    key.hash(&mut h);
    (h.finish() % n as u64) as usize
}

impl Cache {
    /// Starts the shards of a session.
    /// Starts the shards of a session, on the session's thread (one shard) or each on a thread
    /// of its own (several); their mailboxes are ready at once.
    pub(crate) fn start(config: &CacheConfig, session: SessionHandle, linger: Duration) -> Cache {
        let n = config.shards.max(1);
        let own_threads = n > 1;
        let mut shards = Vec::with_capacity(n);
        let mut starting = Vec::with_capacity(n);
        for _ in 0..n {
            let (tx, rx) = actix::dev::channel::channel(SHARD_MAILBOX);
            shards.push(Addr::new(tx));
            // The LRUs start empty and grow to their bound: a session that caches little
            // costs little (an LRU made with a capacity allocates all of it up front).
            let shard = CacheShard {
                session: session.clone(),
                linger,
                own_thread: own_threads,
                users: HashMap::new(),
                idle: LruCache::unbounded(),
                idle_bound: (config.users / n).max(1),
                messages: LruCache::unbounded(),
                messages_bound: (config.messages / n).max(1),
                message_waiters: HashMap::new(),
                reads: HashMap::new(),
                user_fetches: 0,
                latest: HashMap::new(),
                latest_fetching: HashMap::new(),
                next_fetch: 0,
                latest_fetches: 0,
            };
            starting.push((rx, shard));
        }
        session.arbiter().spawn_fn(move || {
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
        Cache {
            shards: shards.into(),
        }
    }

    fn shard(&self, key: &str) -> &Addr<CacheShard> {
        &self.shards[shard_of(key, self.shards.len())]
    }

    /// These users' snapshots (missing users are left out), fetched once however many ask;
    /// with a watcher, it receives `UserUpdated` for each of them until [`Cache::unwatch`].
    pub fn users(
        &self,
        ids: impl IntoIterator<Item = String>,
        watcher: Option<Watcher>,
    ) -> impl Future<Output = Result<HashMap<String, Arc<UserSnapshot>>, Error>> + 'static {
        let mut per_shard: Vec<Vec<String>> = vec![Vec::new(); self.shards.len()];
        for id in ids {
            per_shard[shard_of(&id, self.shards.len())].push(id);
        }
        let asks: Vec<_> = per_shard
            .into_iter()
            .enumerate()
            .filter(|(_, ids)| !ids.is_empty())
            .map(|(i, ids)| {
                self.shards[i].send(GetUsers {
                    ids,
                    watcher: watcher.clone(),
                })
            })
            .collect();
        async move {
            let mut out = HashMap::new();
            for answer in join_all(asks).await {
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
        for s in self.shards.iter() {
            s.do_send(Unwatch(watcher));
        }
    }

    /// Stops updates about one user to this watcher (a list no longer shows them), so an idle
    /// user can be evicted.
    pub fn unwatch_user(&self, user: &str, watcher: u64) {
        self.shard(user).do_send(UnwatchUser {
            user: user.to_owned(),
            watcher,
        });
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
            .send(GetMessage {
                conversation,
                message,
            });
        async move { ask.await.map_err(|_| stopped())? }
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
        let ask = self.shard(&latest_key(&conversation)).send(GetLatest {
            conversation,
            watcher,
        });
        async move { ask.await.map_err(|_| stopped())? }
    }

    /// Stops keeping a conversation's latest message for this watcher (a list no longer shows
    /// the conversation); the last watcher's leave drops it.
    pub fn unwatch_latest(&self, conversation: &str, watcher: u64) {
        self.shard(&latest_key(conversation))
            .do_send(UnwatchLatest {
                conversation: conversation.to_owned(),
                watcher,
            });
    }

    /// The statistics of all shards, summed.
    pub async fn stats(&self) -> CacheStats {
        let mut total = CacheStats::default();
        for s in join_all(self.shards.iter().map(|s| s.send(GetStats))).await {
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

    /// Sends a `GET`, or joins an identical one in flight (see [`SharedRead`]).
    pub(crate) fn shared_read(
        &self,
        request: Request,
    ) -> impl Future<Output = Result<Arc<RawValue>, Error>> + 'static {
        let ask = self.shard(&request.path).send(SharedRead(request));
        async move { ask.await.map_err(|_| stopped())? }
    }
}

impl EventSink for Cache {
    fn route(&self, event: &Arc<Event>) {
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
            Event::MessageCreated(_)
            | Event::ConversationCleared(_)
            | Event::SideCreated(_)
            | Event::SideDeleted(_) => match event.conversation_id() {
                Some(c) => vec![latest_key(c)],
                None => return,
            },
            _ => return,
        };
        let n = self.shards.len();
        let mut shards: Vec<usize> = keys.iter().map(|k| shard_of(k, n)).collect();
        shards.dedup();
        for i in shards {
            self.shards[i].do_send(Routed::Event(event.clone()));
        }
    }

    fn resync(&self) {
        for s in self.shards.iter() {
            s.do_send(Routed::Resync);
        }
    }

    fn stop(&self) {
        for s in self.shards.iter() {
            s.do_send(StopShard);
        }
    }
}

fn stopped() -> Error {
    Error::session_stopped("Cache")
}

#[derive(Message)]
#[rtype(result = "()")]
struct StopShard;

type ReadWaiter = oneshot::Sender<Result<Arc<RawValue>, Error>>;
type MessageWaiter = oneshot::Sender<Result<Option<MessageWire>, Error>>;
type UserWaiter = oneshot::Sender<Result<Option<Arc<UserSnapshot>>, Error>>;

/// What a shard knows of a conversation's latest message.
enum Latest {
    /// Nothing trusted: not fetched yet, or no longer followed (a reconnect, the current user
    /// left or joined). The next asker fetches.
    Unknown,
    /// Being fetched (the key into `latest_fetching`).
    Fetching(u64),
    /// Known (`None`: no messages), and kept current by events.
    Known(Option<MessageWire>),
}

/// A conversation's latest message and the subscriptions that show it.
struct LatestEntry {
    latest: Latest,
    /// Watcher ids; the entry (and its hold on the message topic) lives while there are any.
    watchers: Vec<u64>,
    /// The conversation's message topic, held while the entry lives.
    _topic: TopicGuard,
}

/// A latest-message fetch in flight.
struct LatestFetch {
    conversation: String,
    waiters: Vec<MessageWaiter>,
    /// Events about the conversation that arrived before the answer, applied on top of it.
    early: Vec<Arc<Event>>,
    /// False once something made the answer untrustworthy for keeping (its waiters still get
    /// it): a reconnect, a side event, or the entry was dropped.
    keep: bool,
}

struct UserEntry {
    /// `None` before the first answer, or when the user does not exist.
    snapshot: Option<Arc<UserSnapshot>>,
    loaded: bool,
    watchers: Vec<Watcher>,
    /// Callers waiting for the first answer.
    waiting: Vec<UserWaiter>,
    /// Events that arrived before the first answer, applied on top of it.
    early: Vec<Arc<Event>>,
    /// The user's wire topic, held while the user is cached.
    _topic: TopicGuard,
}

/// One shard of a session's cache. See the module docs.
pub(crate) struct CacheShard {
    session: SessionHandle,
    linger: Duration,
    /// Runs on a thread of its own, which it stops when it stops.
    own_thread: bool,
    users: HashMap<String, UserEntry>,
    /// Users nobody watches, least recently used first, with when they became idle.
    idle: LruCache<String, Instant>,
    /// At most this many idle users.
    idle_bound: usize,
    messages: LruCache<(String, String), MessageWire>,
    /// At most this many messages.
    messages_bound: usize,
    message_waiters: HashMap<(String, String), Vec<MessageWaiter>>,
    /// Reads in flight, by path and data, with everyone waiting for each.
    reads: HashMap<(String, String), Vec<ReadWaiter>>,
    user_fetches: u64,
    /// Latest messages, by conversation.
    latest: HashMap<String, LatestEntry>,
    /// Latest-message fetches in flight, by fetch id.
    latest_fetching: HashMap<u64, LatestFetch>,
    next_fetch: u64,
    latest_fetches: u64,
}

impl Actor for CacheShard {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        let every = (self.linger / 2).clamp(Duration::from_millis(20), Duration::from_secs(1));
        ctx.run_interval(every, |act, _| act.expire());
    }
}

impl CacheShard {
    /// Fetches these users (one batched `GET /users` per tick, after their `SUBSCRIBE`).
    fn fetch(&mut self, ids: Vec<String>, ctx: &mut Context<Self>) {
        for id in ids {
            self.user_fetches += 1;
            let answer = self.session.batched(
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

    fn loaded(&mut self, id: &str, result: Result<Option<Arc<UserSnapshot>>, Error>) {
        let Some(entry) = self.users.get_mut(id) else {
            return;
        };
        match result {
            Ok(snapshot) => {
                let before = entry.snapshot.clone();
                entry.snapshot = snapshot;
                entry.loaded = true;
                for event in std::mem::take(&mut entry.early) {
                    apply_user_event(entry, &event);
                }
                for w in entry.waiting.drain(..) {
                    let _ = w.send(Ok(entry.snapshot.clone()));
                }
                // A refetch that found a change tells the watchers.
                if before.is_some()
                    && before != entry.snapshot
                    && let Some(s) = &entry.snapshot
                {
                    for w in &entry.watchers {
                        w.inbox.do_send(UserUpdated(s.clone()));
                    }
                }
            }
            Err(e) => {
                for w in entry.waiting.drain(..) {
                    let _ = w.send(Err(e.clone()));
                }
                if entry.snapshot.is_none() {
                    // Nothing known: forget it so the next request tries again.
                    // (dropping the entry releases the user's topic)
                    self.users.remove(id);
                    self.idle.pop(id);
                } else {
                    // A failed refetch keeps what was known.
                    entry.loaded = true;
                }
            }
        }
    }

    /// Puts an unwatched user in the idle list, evicting the least recently used if full.
    fn make_idle(&mut self, id: &str) {
        self.idle.push(id.to_owned(), Instant::now());
        while self.idle.len() > self.idle_bound {
            match self.idle.pop_lru() {
                Some((evicted, _)) => self.evict(&evicted),
                None => break,
            }
        }
    }

    fn evict(&mut self, id: &str) {
        if self
            .users
            .get(id)
            .is_some_and(|e| e.watchers.is_empty() && e.waiting.is_empty())
        {
            // Dropping the entry releases the user's topic.
            self.users.remove(id);
        }
    }

    /// Sends a `GET`, or joins an identical one in flight (see [`SharedRead`]).
    fn read(
        &mut self,
        request: Request,
        ctx: &mut Context<Self>,
    ) -> oneshot::Receiver<Result<Arc<RawValue>, Error>> {
        let (tx, rx) = oneshot::channel();
        let key = (request.path.clone(), request.data.get().to_owned());
        let first = !self.reads.contains_key(&key);
        self.reads.entry(key.clone()).or_default().push(tx);
        if first {
            let answer = self.session.send_request(request);
            ctx.spawn(answer.into_actor(self).map(move |answer, act, _| {
                let result = answer.map(Arc::<RawValue>::from);
                for w in act.reads.remove(&key).unwrap_or_default() {
                    let _ = w.send(result.clone());
                }
            }));
        }
        rx
    }

    /// Fetches a conversation's latest message; returns the fetch's id.
    fn fetch_latest(&mut self, conversation: &str, ctx: &mut Context<Self>) -> u64 {
        let id = self.next_fetch;
        self.next_fetch += 1;
        self.latest_fetches += 1;
        let route = Route::ListMessages {
            conversation: conversation.to_owned(),
        };
        let data = serde_json::value::to_raw_value(&ListRequest::first_page(1))
            .unwrap_or_else(|_| unreachable!("a list request serialises"));
        let answer = self.read(
            Request {
                operation: format!("Get messages of conversation {conversation}").into(),
                method: route.method(),
                path: route.path().encode(),
                data,
            },
            ctx,
        );
        self.latest_fetching.insert(
            id,
            LatestFetch {
                conversation: conversation.to_owned(),
                waiters: Vec::new(),
                early: Vec::new(),
                keep: true,
            },
        );
        let answer = async move { answer.await.map_err(|_| stopped())? };
        ctx.spawn(
            answer
                .into_actor(self)
                .map(move |answer, act, _| act.latest_loaded(id, answer)),
        );
        id
    }

    fn latest_loaded(&mut self, id: u64, answer: Result<Arc<RawValue>, Error>) {
        let Some(fetch) = self.latest_fetching.remove(&id) else {
            return;
        };
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
        for w in fetch.waiters {
            let _ = w.send(result.clone());
        }
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
    fn untrust_latest(&mut self, conversation: &str) {
        let Some(entry) = self.latest.get_mut(conversation) else {
            return;
        };
        match entry.latest {
            Latest::Fetching(id) => {
                if let Some(f) = self.latest_fetching.get_mut(&id) {
                    f.keep = false;
                }
            }
            Latest::Known(_) => entry.latest = Latest::Unknown,
            Latest::Unknown => {}
        }
    }

    /// Removes a watcher from a conversation's latest message; the last one's leave drops the
    /// entry and gives back its hold on the message topic.
    fn unwatch_latest(&mut self, conversation: &str, watcher: u64) {
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
        self.latest.remove(conversation);
    }

    /// Applies a message or clearing event to a conversation's latest message.
    fn latest_event(&mut self, conversation: &str, event: &Arc<Event>) {
        let Some(entry) = self.latest.get_mut(conversation) else {
            return;
        };
        match &mut entry.latest {
            Latest::Unknown => {}
            Latest::Fetching(id) => {
                if let Some(f) = self.latest_fetching.get_mut(id) {
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

    /// Drops users idle for longer than the linger time.
    fn expire(&mut self) {
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
        for id in msg.ids {
            let new = !self.users.contains_key(&id);
            if new {
                // Subscribed first, then fetched: both frames are batched by the session, and
                // the SUBSCRIBE batch goes first.
                let topic = self.session.hold(Topic::User { user: id.clone() });
                self.users.insert(
                    id.clone(),
                    UserEntry {
                        snapshot: None,
                        loaded: false,
                        watchers: Vec::new(),
                        waiting: Vec::new(),
                        early: Vec::new(),
                        _topic: topic,
                    },
                );
                to_fetch.push(id.clone());
            }
            let Some(entry) = self.users.get_mut(&id) else {
                continue;
            };
            if let Some(w) = &msg.watcher
                && !entry.watchers.iter().any(|x| x.id == w.id)
            {
                entry.watchers.push(w.clone());
            }
            if entry.loaded {
                if let Some(s) = &entry.snapshot {
                    ready.insert(id.clone(), s.clone());
                }
            } else {
                let (tx, rx) = oneshot::channel();
                entry.waiting.push(tx);
                waits.push((id.clone(), rx));
            }
            if msg.watcher.is_some() {
                self.idle.pop(&id);
            } else if entry.watchers.is_empty() {
                // A one-off read keeps an unwatched user fresh for another linger period.
                self.make_idle(&id);
            }
        }
        self.fetch(to_fetch, ctx);
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

impl Handler<Unwatch> for CacheShard {
    type Result = ();

    fn handle(&mut self, Unwatch(watcher): Unwatch, _ctx: &mut Context<Self>) {
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

impl Handler<GetLatest> for CacheShard {
    type Result = ResponseFuture<Result<Option<MessageWire>, Error>>;

    fn handle(&mut self, msg: GetLatest, ctx: &mut Context<Self>) -> Self::Result {
        let conversation = msg.conversation;
        if !self.latest.contains_key(&conversation) {
            // Held while kept, so the events that keep it current keep coming. The asker holds
            // the topic already: no frame.
            let topic = self.session.hold(Topic::Messages {
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
                let id = self.fetch_latest(&conversation, ctx);
                if let Some(entry) = self.latest.get_mut(&conversation) {
                    entry.latest = Latest::Fetching(id);
                }
                id
            }
        };
        let (tx, rx) = oneshot::channel();
        match self.latest_fetching.get_mut(&fetch) {
            Some(f) => f.waiters.push(tx),
            None => return Box::pin(async { Err(stopped()) }),
        }
        Box::pin(async move { rx.await.map_err(|_| stopped())? })
    }
}

impl Handler<UnwatchLatest> for CacheShard {
    type Result = ();

    fn handle(&mut self, msg: UnwatchLatest, _ctx: &mut Context<Self>) {
        self.unwatch_latest(&msg.conversation, msg.watcher);
    }
}

impl Handler<UnwatchUser> for CacheShard {
    type Result = ();

    fn handle(&mut self, msg: UnwatchUser, _ctx: &mut Context<Self>) {
        let Some(entry) = self.users.get_mut(&msg.user) else {
            return;
        };
        let before = entry.watchers.len();
        entry.watchers.retain(|w| w.id != msg.watcher);
        if before > 0 && entry.watchers.is_empty() {
            self.make_idle(&msg.user);
        }
    }
}

impl Handler<GetMessage> for CacheShard {
    type Result = ResponseFuture<Result<Option<MessageWire>, Error>>;

    fn handle(&mut self, msg: GetMessage, ctx: &mut Context<Self>) -> Self::Result {
        let key = (msg.conversation, msg.message);
        if let Some(m) = self.messages.get(&key) {
            let m = m.clone();
            return Box::pin(async move { Ok(Some(m)) });
        }
        let (tx, rx) = oneshot::channel();
        let first = !self.message_waiters.contains_key(&key);
        self.message_waiters
            .entry(key.clone())
            .or_default()
            .push(tx);
        if first {
            let route = Route::GetMessage {
                conversation: key.0.clone(),
                message: key.1.clone(),
            };
            let answer = self.session.request(
                format!("Get message {}", key.1),
                &route,
                &talkjs_protocol::request::Empty,
            );
            ctx.spawn(answer.into_actor(self).map(move |answer, act, _| {
                let result = match answer {
                    Ok(raw) => serde_json::from_str::<MessageWire>(raw.get())
                        .map(Some)
                        .map_err(|e| Error::unreadable("Get message", e)),
                    Err(e) if e.is_absent() => Ok(None),
                    Err(e) => Err(e),
                };
                if let Ok(Some(m)) = &result {
                    act.messages.put(key.clone(), m.clone());
                    while act.messages.len() > act.messages_bound {
                        act.messages.pop_lru();
                    }
                }
                for w in act.message_waiters.remove(&key).unwrap_or_default() {
                    let _ = w.send(result.clone());
                }
            }));
        }
        Box::pin(async move { rx.await.map_err(|_| stopped())? })
    }
}

impl Handler<SharedRead> for CacheShard {
    type Result = ResponseFuture<Result<Arc<RawValue>, Error>>;

    fn handle(&mut self, SharedRead(request): SharedRead, ctx: &mut Context<Self>) -> Self::Result {
        let rx = self.read(request, ctx);
        Box::pin(async move { rx.await.map_err(|_| stopped())? })
    }
}

impl Handler<Routed> for CacheShard {
    type Result = ();

    fn handle(&mut self, msg: Routed, ctx: &mut Context<Self>) {
        match msg {
            Routed::Event(event) => match &*event {
                Event::UserCreated(_) | Event::UserEdited(_) => {
                    let id = match &*event {
                        Event::UserCreated(e) => &e.user_id,
                        Event::UserEdited(e) => &e.user_id,
                        _ => return,
                    };
                    let Some(entry) = self.users.get_mut(id) else {
                        return;
                    };
                    if !entry.loaded {
                        entry.early.push(event.clone());
                        return;
                    }
                    if apply_user_event(entry, &event)
                        && let Some(s) = &entry.snapshot
                    {
                        for w in &entry.watchers {
                            w.inbox.do_send(UserUpdated(s.clone()));
                        }
                    }
                }
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
                // Edits made while the socket was down were missed: fetch every known user again.
                let mut ids = Vec::new();
                for (id, entry) in &mut self.users {
                    if entry.loaded {
                        // Events until the answer are applied on top of it.
                        entry.loaded = false;
                        ids.push(id.clone());
                    }
                }
                self.messages.clear();
                // Latest messages may have changed unseen: the next asker fetches them again.
                let conversations: Vec<String> = self.latest.keys().cloned().collect();
                for c in conversations {
                    self.untrust_latest(&c);
                }
                self.fetch(ids, ctx);
            }
            Routed::Ended(_) => ctx.stop(),
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
        ctx.stop();
        if self.own_thread {
            Arbiter::current().stop();
        }
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
