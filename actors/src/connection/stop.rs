//! Stopping: the idle close and the end of the session.
//!
//! A connection stops for one of two reasons ([`Stop`]), and a call that meets it stopping is
//! answered accordingly: after an idle close (nothing in flight and no subscription for
//! [`Timings::idle_close`](super::Timings), or a lost socket nothing needed) it is told to retry
//! on a new connection ([`CallError::Closed`]); after the session ended or authentication failed
//! for good it fails ([`CallError::Failed`]). Either way the socket gets a close frame and the
//! actor stops once the server answers it, or after [`CLOSE_GRACE`].

use std::time::Duration;

use actix::prelude::*;

use super::socket::Link;
use super::{CallError, Connection, Lifecycle, Notice};
use crate::error::{Error, ErrorKind};

/// How long a terminated connection waits for the server to answer its close frame.
const CLOSE_GRACE: Duration = Duration::from_secs(1);

/// Why the connection stops.
pub(super) enum Stop {
    /// Nothing needed it any more; the session starts a new connection for the next request.
    Idle(String),
    /// The session ended.
    Ended(String),
    /// Authentication failed for good: calls fail with this error (`AuthFailed`, naming the
    /// server's refusal when there was one).
    Failed(Error),
}

/// Stop: fail everything pending with this reason and close the socket.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct Shutdown(pub String);

/// Count of subscriptions held on this connection; while above zero the socket stays open.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct SetSubscriptions(pub usize);

impl Connection {
    /// The connection is stopping: no socket will be opened again.
    pub(super) fn is_stopping(&self) -> bool {
        matches!(self.link, Link::Closing(_))
    }

    /// What a call gets once the connection is stopping (`None` while it is not).
    pub(super) fn stopped_error(&self, operation: &std::sync::Arc<str>) -> Option<CallError> {
        match &self.link {
            Link::Closing(Stop::Ended(reason)) => Some(CallError::Failed(Error::new(
                operation.clone(),
                ErrorKind::SessionTerminated(reason.clone()),
            ))),
            Link::Closing(Stop::Failed(error)) => Some(CallError::Failed(
                error.clone().with_operation(operation.clone()),
            )),
            Link::Closing(Stop::Idle(_)) => Some(CallError::Closed),
            _ => None,
        }
    }

    /// Authentication cannot recover: tell the session, and end.
    pub(super) fn fatal(&mut self, reason: String, ctx: &mut Context<Self>) {
        // What the server said when it refused the last token, if it did: the true cause.
        let reason = match &self.tokens.refusal {
            Some(refusal) => format!("the server refused the token ({refusal}); {reason}"),
            None => reason,
        };
        let error = Error::new("Authenticate", ErrorKind::AuthFailed(reason));
        self.notify(Notice::Fatal(error.clone()));
        self.terminate(Stop::Failed(error), ctx);
    }

    /// Nothing needs the connection: stop; pending calls are told to retry on a new one.
    pub(super) fn close_idle(&mut self, reason: String, ctx: &mut Context<Self>) {
        self.terminate(Stop::Idle(reason), ctx);
    }

    /// Answers everything pending as `stop` says, closes the socket and stops.
    fn terminate(&mut self, stop: Stop, ctx: &mut Context<Self>) {
        if self.is_stopping() {
            return;
        }
        let reason = match &stop {
            Stop::Idle(reason) | Stop::Ended(reason) => reason.clone(),
            Stop::Failed(error) => error.to_string(),
        };
        let previous = std::mem::replace(&mut self.link, Link::Closing(stop));
        for mut p in self.calls.drain() {
            let error = self.stopped_error(&p.call.operation);
            p.answer(Err(error.unwrap_or(CallError::Closed)));
        }
        let closing = match previous {
            Link::Open(socket) => {
                socket.close_frame();
                true
            }
            _ => false,
        };
        self.notify(Notice::Stopped {
            connection: self.config.id,
        });
        self.notify(Notice::Lifecycle(Lifecycle::Terminated { reason }));
        if closing {
            // Stopping the actor at once would drop its writer with whatever it has not yet
            // written (an ACK just queued, the close frame itself), and the socket before the
            // server read it: stop when the server answers the close (the closing handshake),
            // or after a grace period.
            ctx.run_later(CLOSE_GRACE, |_, ctx| ctx.stop());
        } else {
            ctx.stop();
        }
    }

    /// Cancels a scheduled idle close: something needs the socket again.
    pub(super) fn cancel_idle(&mut self, ctx: &mut Context<Self>) {
        if let Some(h) = self.idle_timer.take() {
            ctx.cancel_future(h);
        }
    }

    /// Schedules the idle close if the socket is ready and nothing needs it.
    pub(super) fn maybe_idle(&mut self, ctx: &mut Context<Self>) {
        if !self.link.ready() || self.wanted() || self.idle_timer.is_some() {
            return;
        }
        self.idle_timer = Some(ctx.run_later(self.config.timings.idle_close, |act, ctx| {
            act.idle_timer = None;
            if act.link.ready() && !act.wanted() {
                act.close_idle("idle".into(), ctx);
            }
        }));
    }
}

impl Handler<Shutdown> for Connection {
    type Result = ();

    fn handle(&mut self, msg: Shutdown, ctx: &mut Context<Self>) {
        self.terminate(Stop::Ended(msg.0), ctx);
    }
}

impl Handler<SetSubscriptions> for Connection {
    type Result = ();

    fn handle(&mut self, msg: SetSubscriptions, ctx: &mut Context<Self>) {
        self.subscriptions = msg.0;
        if self.wanted() {
            self.cancel_idle(ctx);
            if matches!(self.link, Link::Unopened) {
                self.open(ctx);
            }
        } else {
            self.maybe_idle(ctx);
        }
    }
}
