//! The registry: one session per (app id, user id), as the official client keeps them.
//!
//! `get_talk_session` asks the registry, a `SystemService`, for the session of a user; a second
//! call for the same user gets the same session unless it asks for a new one. A session that
//! terminates deregisters itself, so the next call for that user starts a fresh one.
//!
//! Lookups are answered synchronously in the handler, so two concurrent calls for the same user
//! cannot both start a session.

use std::collections::HashMap;

use actix::prelude::*;

use crate::session::{Session, SessionConfig};

/// Returns the session for the config's (app id, user id), starting one if needed.
#[derive(Debug, Message)]
#[rtype(result = "Addr<Session>")]
pub struct GetSession {
    /// How to start the session if there is none.
    pub config: SessionConfig,
    /// Start a new session even if one exists (it replaces the old one in the registry).
    pub force_new: bool,
}

/// A session terminated: forget it (if it is still the one registered for its user).
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct Deregister {
    /// The session's app id.
    pub app_id: String,
    /// The session's user id.
    pub user_id: String,
    /// The session.
    pub session: Addr<Session>,
}

/// Maps users to their live sessions.
#[derive(Default)]
pub struct Registry {
    /// Keyed by app, user and server: the same user on two servers (two emulators in one test
    /// process, say) has two sessions.
    sessions: HashMap<(String, String, String), Addr<Session>>,
}

impl Actor for Registry {
    type Context = Context<Self>;
}

impl Supervised for Registry {}

impl SystemService for Registry {}

impl Handler<GetSession> for Registry {
    type Result = MessageResult<GetSession>;

    fn handle(&mut self, msg: GetSession, _ctx: &mut Context<Self>) -> Self::Result {
        let key = (
            msg.config.app_id.clone(),
            msg.config.user_id.clone(),
            msg.config.urls.realtime.clone(),
        );
        if !msg.force_new
            && let Some(addr) = self.sessions.get(&key).filter(|a| a.connected())
        {
            return MessageResult(addr.clone());
        }
        let addr = Session::new(msg.config).start();
        self.sessions.insert(key, addr.clone());
        MessageResult(addr)
    }
}

impl Handler<Deregister> for Registry {
    type Result = ();

    fn handle(&mut self, msg: Deregister, _ctx: &mut Context<Self>) {
        // Only if it is still the one registered (a forced-new session may have replaced it).
        self.sessions.retain(|(app, user, _), addr| {
            !(*app == msg.app_id && *user == msg.user_id && *addr == msg.session)
        });
    }
}
