//! What the connection reports to the session, and who hears of it: pushed events go (as one
//! shared `Arc`) to the sinks (the cache) first, then to the subscriptions attached under their
//! keys, then to plugins' observers; lifecycle changes drive the resubscribe after a lost socket
//! and go to observers.

use std::sync::Arc;

use actix::prelude::*;
use talkjs_protocol::event::Event;

use super::Session;
use super::routes::{Attach, Detach, Find, Found, Routed};
use crate::connection::{Lifecycle, Notice};
use crate::plugin::{InboundEvent, LifecycleEvent};

/// Observe the connection's lifecycle and/or every pushed event (plugins).
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub(crate) struct Observe {
    /// Receives lifecycle changes.
    pub(crate) lifecycle: Option<Recipient<LifecycleEvent>>,
    /// Receives every pushed event.
    pub(crate) events: Option<Recipient<InboundEvent>>,
}

impl Handler<Notice> for Session {
    type Result = ();

    fn handle(&mut self, notice: Notice, ctx: &mut Context<Self>) {
        match notice {
            Notice::NeedToken { reason, reply } => self.answer_token(reason, reply, ctx),
            Notice::Authenticated { expires_in } => {
                if let Some(secs) = expires_in {
                    self.schedule_refresh(secs, ctx);
                }
            }
            Notice::Stopped { connection } => {
                // Only the current connection's stop matters: a late notice from an older one
                // must not orphan its successor. The next request starts a new connection.
                if connection == u64::from(self.connections_started) {
                    self.connection = None;
                }
            }
            Notice::Lifecycle(l) => {
                match &l {
                    Lifecycle::Disconnected { .. } if !self.topics.is_empty() => self.stale = true,
                    Lifecycle::Connected if self.stale => {
                        self.stale = false;
                        self.resubscribe(ctx);
                    }
                    // Ready again with nothing to resubscribe: a restart announcement is spent
                    // (the official client forgets it whenever it becomes ready).
                    Lifecycle::Connected => self.upstream_restarting = false,
                    _ => {}
                }
                for o in &self.lifecycle_observers {
                    o.do_send(LifecycleEvent(l.clone()));
                }
            }
            Notice::Pushed(event) => {
                if matches!(event, Event::UpstreamRestarting) {
                    self.upstream_restarting = true;
                }
                let event = Arc::new(event);
                for sink in &self.sinks {
                    sink.route(&event);
                }
                self.routes.route(&event);
                for o in &self.event_observers {
                    o.do_send(InboundEvent(event.clone()));
                }
            }
            // The renew that follows ends in `Connected`, which resubscribes a stale session.
            Notice::SessionExpired if !self.topics.is_empty() => self.stale = true,
            Notice::SessionExpired => {}
            Notice::Fatal(e) => self.terminate(e, ctx),
        }
    }
}

impl Handler<Observe> for Session {
    type Result = ();

    fn handle(&mut self, msg: Observe, _ctx: &mut Context<Self>) {
        self.lifecycle_observers.extend(msg.lifecycle);
        self.event_observers.extend(msg.events);
    }
}

impl Handler<Attach> for Session {
    type Result = ();

    fn handle(&mut self, msg: Attach, _ctx: &mut Context<Self>) {
        if let Some(e) = &self.terminated {
            msg.inbox
                .do_send(Routed::Ended(crate::error::Error::clone(e)));
            return;
        }
        self.routes.attach(msg);
    }
}

impl Handler<Detach> for Session {
    type Result = ();

    fn handle(&mut self, msg: Detach, _ctx: &mut Context<Self>) {
        self.routes.detach(msg.0);
    }
}

impl Handler<Find> for Session {
    type Result = ResponseFuture<Option<Found>>;

    fn handle(&mut self, msg: Find, _ctx: &mut Context<Self>) -> Self::Result {
        let asks = self.routes.find(&msg.0);
        Box::pin(async move {
            futures_util::future::join_all(asks)
                .await
                .into_iter()
                .find_map(|answer| answer.ok().flatten())
        })
    }
}
