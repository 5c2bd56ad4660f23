//! The registry: one session per (app id, user id), as the official client keeps them.
//!
//! `get_talk_session` asks the registry, a `SystemService`, for the session of a user; a second
//! call for the same user gets the same session unless it asks for a new one. A terminated session
//! is replaced by a fresh one on the next request for it.

use std::collections::HashMap;

use actix::prelude::*;

use crate::session::{GetStatus, Session, SessionConfig};

/// Returns the session for the config's (app id, user id), starting one if needed.
#[derive(Debug, Message)]
#[rtype(result = "Addr<Session>")]
pub struct GetSession {
    /// How to start the session if there is none.
    pub config: SessionConfig,
    /// Start a new session even if one exists (it replaces the old one in the registry).
    pub force_new: bool,
}

/// Maps users to their sessions.
#[derive(Default)]
pub struct Registry {
    sessions: HashMap<(String, String), Addr<Session>>,
}

impl Actor for Registry {
    type Context = Context<Self>;
}

impl Supervised for Registry {}

impl SystemService for Registry {}

impl Handler<GetSession> for Registry {
    type Result = ResponseActFuture<Self, Addr<Session>>;

    fn handle(&mut self, msg: GetSession, _ctx: &mut Context<Self>) -> Self::Result {
        let key = (msg.config.app_id.clone(), msg.config.user_id.clone());
        let existing = self.sessions.get(&key).filter(|a| a.connected()).cloned();
        Box::pin(
            async move {
                // A terminated session is not handed out again.
                let alive = match &existing {
                    Some(addr) => addr
                        .send(GetStatus)
                        .await
                        .is_ok_and(|s| s.terminated.is_none()),
                    None => false,
                };
                (alive && !msg.force_new)
                    .then_some(existing)
                    .flatten()
                    .ok_or(msg.config)
            }
            .into_actor(self)
            .map(move |found, act, _ctx| match found {
                Ok(addr) => addr,
                Err(config) => {
                    let addr = Session::new(config).start();
                    act.sessions.insert(key, addr.clone());
                    addr
                }
            }),
        )
    }
}
