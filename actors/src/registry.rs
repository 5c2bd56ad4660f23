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

use std::collections::HashMap;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, PoisonError};

use actix::dev::channel;
use actix::prelude::*;

use crate::cache::Cache;
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

/// Sessions by app, user and server: the same user on two servers (two emulators in one test
/// process, say) has two sessions.
type Key = (String, String, String);

static SESSIONS: Mutex<Option<HashMap<Key, Env>>> = Mutex::new(None);

/// Returns the session for the config's (app id, user id, server), starting one if there is
/// none, or if `force_new` (the new one replaces the old one in the registry).
pub fn get_session(config: SessionConfig, force_new: bool) -> Result<Env> {
    let key = (
        config.app_id.clone(),
        config.user_id.clone(),
        config.urls.realtime.clone(),
    );
    let mut sessions = SESSIONS.lock().unwrap_or_else(PoisonError::into_inner);
    let sessions = sessions.get_or_insert_with(HashMap::new);
    // Forget sessions that ended, so their actors can stop.
    sessions.retain(|_, env| !env.session.is_terminated());
    if !force_new && let Some(env) = sessions.get(&key) {
        return Ok(env.clone());
    }
    let env = start(config)?;
    sessions.insert(key, env.clone());
    Ok(env)
}

/// Terminates every session in the registry with `reason`, and forgets them (a runtime-wide
/// shutdown, for tests and for programs that stop).
pub fn terminate_all(reason: &str) {
    let drained: Vec<Env> = {
        let mut sessions = SESSIONS.lock().unwrap_or_else(PoisonError::into_inner);
        sessions
            .as_mut()
            .map(|s| s.drain().map(|(_, env)| env).collect())
            .unwrap_or_default()
    };
    for env in drained {
        env.session.terminate(reason.to_owned());
    }
}

/// Starts a session and its cache on the current arbiter, or on the runtime's own thread.
fn start(config: SessionConfig) -> Result<Env> {
    let arbiter = crate::runtime::arbiter().ok_or_else(|| {
        Error::new(
            "Get session",
            ErrorKind::SessionTerminated("the runtime thread could not be started".into()),
        )
    })?;
    let (tx, rx) = channel::channel(MAILBOX);
    // One copy of the URLs and timings for the session, its handle and its connections.
    let urls = Arc::new(config.urls);
    let timings = Arc::new(config.timings);
    let addr = Addr::<Session>::new(tx);
    let ended = Arc::new(AtomicBool::new(false));
    let user_id: Arc<str> = config.user_id.as_str().into();
    let session = SessionHandle::new(
        addr,
        SessionInfo {
            app_id: config.app_id.clone(),
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
    let started = arbiter.spawn_fn(move || {
        let settings = Settings {
            app_id: config.app_id,
            user_id: config.user_id,
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
