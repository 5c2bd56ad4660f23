//! How a session ends, and who hears of it: termination (an unknown app id, a token source that
//! fails, the server refusing every token, or [`Terminate`]) is delivered once to every
//! `on_error` listener and to every attached subscription; requests made afterwards fail with
//! `SessionTerminated` naming the reason.

use std::num::NonZeroUsize;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use actix::prelude::*;
use lru::LruCache;

use super::{ErrorListener, Session};
use crate::connection::Shutdown;
use crate::error::{Error, ErrorKind};

/// How long the app-id check may take.
const APP_CHECK_TIMEOUT: Duration = Duration::from_secs(10);
/// How long an app whose check answered 2xx counts as existing without another check.
const APP_FOUND_FOR: Duration = Duration::from_secs(10 * 60);
/// Apps remembered as existing at most (past that, the least recently checked goes).
const APPS_REMEMBERED: NonZeroUsize = NonZeroUsize::new(256).expect("not zero");

/// The apps whose check answered 2xx lately, by actix system and check URL, and when. A
/// program that starts many sessions of one app (a bot acting as its users) checks the app
/// until the first 2xx answer and then not again for [`APP_FOUND_FOR`], instead of once per
/// session: the check cost each session an HTTP request and its buffers while starting.
/// Sessions started together before that answer each check. A 404, an error or another status
/// is not remembered. Each actix system (a program, or a test) has its own memory, so one that
/// ended cannot vouch for a server that another finds on the same address.
static APPS_FOUND: Mutex<Option<LruCache<AppKey, Instant>>> = Mutex::new(None);

/// An actix system's id and an app check's URL.
type AppKey = (usize, Box<str>);

/// The actix system the caller runs in (sessions always run in one).
fn system() -> usize {
    actix_rt::System::try_current().map_or(usize::MAX, |s| s.id())
}

/// Whether the app at `url` answered 2xx within [`APP_FOUND_FOR`], in this actix system.
fn app_found_lately(url: &str) -> bool {
    let found = APPS_FOUND.lock().unwrap_or_else(PoisonError::into_inner);
    let key = (system(), Box::<str>::from(url));
    found
        .as_ref()
        .and_then(|apps| apps.peek(&key))
        .is_some_and(|at| at.elapsed() < APP_FOUND_FOR)
}

/// Remembers that the app at `url` answered 2xx now, in actix system `system`.
fn app_found(system: usize, url: &str) {
    let mut found = APPS_FOUND.lock().unwrap_or_else(PoisonError::into_inner);
    found
        .get_or_insert_with(|| LruCache::new(APPS_REMEMBERED))
        .put((system, url.into()), Instant::now());
}

/// Registers a listener for the session's termination under an id the caller chose (unique per
/// process). A listener added after termination is called at once.
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct OnError(pub(crate) u64, pub(crate) ErrorListener);

/// Removes a termination listener.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub(crate) struct RemoveOnError(pub(crate) u64);

/// Ends the session: pending and later requests fail with `SessionTerminated`.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub(crate) struct Terminate(pub(crate) String);

/// The session's state, for tests and diagnostics.
#[derive(Debug, Message)]
#[rtype(result = "SessionStatus")]
pub(crate) struct GetStatus;

/// A session's state, for tests and diagnostics
/// (`SessionHandle::status`).
#[derive(Debug, Clone)]
pub struct SessionStatus {
    /// Whether a connection actor is running.
    pub connected: bool,
    /// Connection actors started so far.
    pub connections_started: u64,
    /// Why the session ended, if it did.
    pub terminated: Option<String>,
    /// Wire topics held (subscribed, or lingering before their `UNSUBSCRIBE`).
    pub topics: usize,
    /// Subscription actors receiving events.
    pub subscriptions: usize,
}

impl Session {
    /// Ends the session (once): listeners, subscriptions and the cache hear why, the
    /// connection closes, and later requests fail.
    pub(super) fn terminate(&mut self, error: Error, ctx: &mut Context<Self>) {
        if self.terminated.is_some() {
            return;
        }
        // No refresh for a dead session, and the registry starts a fresh one for this user.
        if let Some(h) = self.refresh_timer.take() {
            ctx.cancel_future(h);
        }
        self.ended.store(true, Ordering::Release);
        tracing::info!(parent: &self.span, %error, "session terminated");
        for (_, listener) in &self.listeners {
            listener(&error);
        }
        self.shut_connection(&error.to_string());
        for sink in self.sinks.drain(..) {
            sink.stop();
        }
        self.terminated = Some(Box::new(error));
        // Subscriptions end with the session's reason.
        self.routes.terminate(self.terminated.as_deref());
        self.topics.clear();
    }

    /// Closes the connection, if there is one.
    pub(super) fn shut_connection(&mut self, why: &str) {
        if let Some(conn) = self.connection.take() {
            conn.do_send(Shutdown(why.to_owned()));
        }
    }

    /// The error a call gets once the session ended.
    pub(super) fn terminated_error(&self, operation: Arc<str>) -> Option<Error> {
        self.terminated.as_ref().map(|e| {
            let reason = match e.kind() {
                ErrorKind::SessionTerminated(r) | ErrorKind::AuthFailed(r) => r.clone(),
                _ => e.to_string(),
            };
            Error::new(operation, ErrorKind::SessionTerminated(reason))
        })
    }

    /// `GET {internal}/{app}`: a 404 means the app does not exist and ends the session; anything
    /// else (including a network error) is taken as "exists", as the official client does.
    /// Skipped when the app answered 2xx within [`APP_FOUND_FOR`] (see [`APPS_FOUND`]).
    pub(super) fn check_app(&self, ctx: &mut Context<Self>) {
        let url = format!("{}/{}", self.urls.internal, self.app_id);
        if app_found_lately(&url) {
            return;
        }
        let app = self.app_id.to_string();
        let system = system();
        ctx.spawn(
            async move {
                let client = crate::http::client(APP_CHECK_TIMEOUT);
                let status = client.get(&url).send().await.map(|r| r.status().as_u16());
                if let Ok(200..=299) = status {
                    app_found(system, &url);
                }
                status
            }
            .into_actor(self)
            .map(move |status, act, ctx| {
                if let Ok(404) = status {
                    let reason = format!("The app ID {app} does not exist.");
                    act.terminate(
                        Error::new("Start session", ErrorKind::SessionTerminated(reason)),
                        ctx,
                    );
                }
            }),
        );
    }
}

impl Handler<OnError> for Session {
    type Result = ();

    fn handle(&mut self, OnError(id, listener): OnError, _ctx: &mut Context<Self>) {
        if let Some(e) = &self.terminated {
            listener(e);
        }
        self.listeners.push((id, listener));
    }
}

impl Handler<RemoveOnError> for Session {
    type Result = ();

    fn handle(&mut self, msg: RemoveOnError, _ctx: &mut Context<Self>) {
        self.listeners.retain(|(id, _)| *id != msg.0);
    }
}

impl Handler<Terminate> for Session {
    type Result = ();

    fn handle(&mut self, msg: Terminate, ctx: &mut Context<Self>) {
        self.terminate(
            Error::new("Session", ErrorKind::SessionTerminated(msg.0)),
            ctx,
        );
    }
}

impl Handler<GetStatus> for Session {
    type Result = MessageResult<GetStatus>;

    fn handle(&mut self, _: GetStatus, _ctx: &mut Context<Self>) -> Self::Result {
        MessageResult(SessionStatus {
            connected: self.connection.as_ref().is_some_and(Addr::connected),
            connections_started: u64::from(self.connections_started),
            terminated: self.terminated.as_ref().map(ToString::to_string),
            topics: self.topics.len(),
            subscriptions: self.routes.len(),
        })
    }
}
