//! The registry: one session per (app id, user id, server), as the official client keeps them,
//! and where sessions are started.
//!
//! A second lookup for the same user gets the same session unless it asks for a new one; a
//! session that terminated is replaced by a fresh one on the next lookup. The registry is a
//! process-wide map behind a mutex, held only to look up or insert (never across an await), so
//! two concurrent lookups for the same user cannot both start a session, whichever threads or
//! async runtimes they run on.
//!
//! Starting a session is synchronous: the session gets its mailbox at once, and the actor itself
//! starts on the session's arbiter (see [`crate::runtime`]); its cache shards start when a
//! request first needs one.

use std::borrow::Borrow;
use std::collections::HashSet;
use std::hash::{Hash, Hasher};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, PoisonError};

use actix::dev::channel;
use actix::prelude::*;

use crate::cache::Cache;
use crate::connection::Timings;
use crate::error::{Error, ErrorKind, Result};
use crate::session::handle::{SessionHandle, SessionInfo};
use crate::session::{Session, Settings, TokenSource};
use crate::subscription::Env;

/// How to start a session.
#[derive(Debug)]
pub struct SessionConfig {
    /// The TalkJS app.
    pub app_id: String,
    /// The user the session acts as.
    pub user_id: String,
    /// The server's URLs.
    pub urls: talkjs_protocol::endpoints::ApiUrls,
    /// Where tokens come from.
    pub tokens: TokenSource,
    /// The connection's timings.
    pub timings: crate::connection::Timings,
    /// The sizes of the session's caches.
    pub cache: crate::cache::CacheConfig,
}

/// A session's mailbox before its actor starts (actix's default size).
const MAILBOX: usize = 16;

/// What tells sessions apart: app, user and server (the same user on two servers, two emulators
/// in one test process say, has two sessions).
trait SessionKey {
    fn key(&self) -> (&str, &str, &str);
}

/// A key to look up.
struct Lookup<'a>(&'a str, &'a str, &'a str);

impl SessionKey for Lookup<'_> {
    fn key(&self) -> (&str, &str, &str) {
        (self.0, self.1, self.2)
    }
}

/// A registered session, keyed by its own ids: the registry keeps no copy of them.
struct Registered(Env);

impl SessionKey for Registered {
    fn key(&self) -> (&str, &str, &str) {
        let session = &self.0.session;
        (
            session.app_id(),
            session.user_id(),
            &session.urls().realtime,
        )
    }
}

impl<'a> Borrow<dyn SessionKey + 'a> for Registered {
    fn borrow(&self) -> &(dyn SessionKey + 'a) {
        self
    }
}

impl Hash for dyn SessionKey + '_ {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.key().hash(state);
    }
}

impl PartialEq for dyn SessionKey + '_ {
    fn eq(&self, other: &Self) -> bool {
        self.key() == other.key()
    }
}

impl Eq for dyn SessionKey + '_ {}

impl Hash for Registered {
    fn hash<H: Hasher>(&self, state: &mut H) {
        (self as &dyn SessionKey).hash(state);
    }
}

impl PartialEq for Registered {
    fn eq(&self, other: &Self) -> bool {
        self.key() == other.key()
    }
}

impl Eq for Registered {}

static SESSIONS: Mutex<Option<HashSet<Registered>>> = Mutex::new(None);

/// Returns the session for the config's (app id, user id, server), starting one if there is
/// none, or if `force_new` (the new one replaces the old one in the registry).
// A `Registered` hashes by its session's ids, which never change (its handle's interior
// mutability is the mailbox's).
#[allow(clippy::mutable_key_type)]
pub fn get_session(config: SessionConfig, force_new: bool) -> Result<Env> {
    let mut sessions = SESSIONS.lock().unwrap_or_else(PoisonError::into_inner);
    let sessions = sessions.get_or_insert_with(HashSet::new);
    // Forget sessions that ended, so their actors can stop.
    sessions.retain(|r| !r.0.session.is_terminated());
    let key = Lookup(&config.app_id, &config.user_id, &config.urls.realtime);
    if !force_new && let Some(r) = sessions.get(&key as &dyn SessionKey) {
        return Ok(r.0.clone());
    }
    let env = start(config)?;
    sessions.replace(Registered(env.clone()));
    Ok(env)
}

/// Terminates every session in the registry with `reason`, and forgets them (a runtime-wide
/// shutdown, for tests and for programs that stop).
pub fn terminate_all(reason: &str) {
    let drained: Vec<Env> = {
        let mut sessions = SESSIONS.lock().unwrap_or_else(PoisonError::into_inner);
        sessions
            .as_mut()
            .map(|s| s.drain().map(|r| r.0).collect())
            .unwrap_or_default()
    };
    for env in drained {
        env.session.terminate(reason.to_owned());
    }
}

/// One shared copy of values that many sessions hold alike (the app id, the server's URLs,
/// the timings: 160 bytes that nearly every session has at their defaults),
/// so that a bot's thousand sessions keep one between them instead of a thousand. Holds weak
/// references only: a value goes when its last session does.
struct Shared<T: ?Sized>(Mutex<Vec<std::sync::Weak<T>>>);

impl<T: ?Sized + PartialEq> Shared<T> {
    const fn new() -> Shared<T> {
        Shared(Mutex::new(Vec::new()))
    }

    /// The shared copy equal to `value`, or `make(value)` as the new shared copy.
    fn share_as<V: std::borrow::Borrow<T>>(
        &self,
        value: V,
        make: impl FnOnce(V) -> Arc<T>,
    ) -> Arc<T> {
        let mut table = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        table.retain(|weak| weak.strong_count() > 0);
        if let Some(found) = table
            .iter()
            .find_map(|weak| weak.upgrade().filter(|shared| **shared == *value.borrow()))
        {
            return found;
        }
        let made = make(value);
        table.push(Arc::downgrade(&made));
        made
    }
}

impl<T: PartialEq> Shared<T> {
    fn share(&self, value: T) -> Arc<T> {
        self.share_as(value, Arc::new)
    }
}

impl Shared<str> {
    fn share_str(&self, value: &str) -> Arc<str> {
        self.share_as(value, Arc::from)
    }
}

/// The app ids of live sessions.
static SHARED_APPS: Shared<str> = Shared::new();
/// The timings of live sessions.
static SHARED_TIMINGS: Shared<Timings> = Shared::new();
/// The servers' URLs of live sessions.
static SHARED_URLS: Shared<talkjs_protocol::endpoints::ApiUrls> = Shared::new();

/// Starts a session and its cache on the current arbiter, or on the runtime's own thread.
fn start(config: SessionConfig) -> Result<Env> {
    let arbiter = crate::runtime::arbiter().ok_or_else(|| {
        Error::new(
            "Get session",
            ErrorKind::SessionTerminated("the runtime thread could not be started".into()),
        )
    })?;
    let (tx, rx) = channel::channel(MAILBOX);
    // One copy of the URLs, timings and app id for the session, its handle and its
    // connections, shared with the other sessions of the app and server.
    let urls = SHARED_URLS.share(config.urls);
    let timings = SHARED_TIMINGS.share(config.timings);
    let app_id = SHARED_APPS.share_str(&config.app_id);
    let addr = Addr::<Session>::new(tx);
    let ended = Arc::new(AtomicBool::new(false));
    let user_id: Arc<str> = config.user_id.into();
    let session = SessionHandle::new(
        addr,
        SessionInfo {
            app_id: app_id.clone(),
            user_id: user_id.clone(),
            urls: urls.clone(),
            arbiter: arbiter.clone(),
            ended: ended.clone(),
        },
    );
    let cache = Cache::new(
        &config.cache,
        session.clone(),
        timings.user_unsubscribe_delay,
    );
    let sink = Box::new(cache.clone());
    let on_thread = cache.clone();
    let me = user_id.clone();
    let started = arbiter.spawn_fn(move || {
        on_thread.on_session_thread();
        let settings = Settings {
            app_id,
            user_id: me,
            urls,
            tokens: config.tokens,
            timings,
        };
        Context::with_receiver(rx).run(Session::new(settings, ended, vec![sink]));
    });
    if !started {
        return Err(Error::new(
            "Get session",
            ErrorKind::SessionTerminated("the actix system is shutting down".into()),
        ));
    }
    Ok(Env {
        session,
        cache,
        me: user_id,
    })
}
