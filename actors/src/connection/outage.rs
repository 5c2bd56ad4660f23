//! Giving up on a request the server does not answer within `Timings::request_timeout`
//! (`ErrorKind::Timeout`), and on an unreachable server: a call that has waited [`Timings::connect_timeout`]
//! for an authenticated socket fails with `ErrorKind::Unreachable`, naming the last failure
//! seen, instead of waiting forever (the official client's behaviour). The connection keeps
//! redialling while subscriptions need it, and later calls try again. Observers get
//! `Lifecycle::Unreachable` and the log a warning once per outage, not once per attempt.
//!
//! [`Timings::connect_timeout`]: super::Timings

use std::time::Instant;

use actix::prelude::*;

use super::calls::CallError;
use super::{Connection, Lifecycle, Notice};
use crate::error::{Error, ErrorKind};

/// What the connection knows of the current outage.
#[derive(Debug, Default)]
pub(super) struct Outage {
    /// The last reason a socket was lost or could not be opened.
    last_failure: Option<String>,
    /// Whether this outage was reported (to observers and the log).
    reported: bool,
}

impl Outage {
    /// A socket was lost or could not be opened.
    pub(super) fn failed(&mut self, reason: &str) {
        self.last_failure = Some(reason.to_owned());
    }

    /// A socket is authenticated: the outage, if any, is over.
    pub(super) fn over(&mut self, span: &tracing::Span) {
        if self.reported {
            tracing::warn!(parent: span, "the server is reachable again");
        }
        *self = Outage::default();
    }
}

impl Connection {
    /// Fails the calls sent longer than [`Timings::request_timeout`](super::Timings) ago and
    /// still unanswered, with `ErrorKind::Timeout`. (Their answers, if they come, are dropped.)
    fn give_up_on_answers(&mut self, ctx: &mut Context<Self>) {
        let limit = self.config.timings.request_timeout;
        let late = self.calls.expire_in_flight(limit, Instant::now());
        for mut pending in late {
            tracing::debug!(parent: &self.span, operation = %pending.call.operation, "request timed out");
            let error = Error::new(
                pending.call.operation.clone(),
                ErrorKind::Timeout(format!("the server did not answer within {limit:?}")),
            );
            pending.answer(Err(CallError::Failed(error)));
        }
        self.maybe_idle(ctx);
    }

    /// Fails the calls that waited too long for an authenticated socket, or for their answer
    /// (checked on every tick).
    pub(super) fn give_up_waiting(&mut self, ctx: &mut Context<Self>) {
        if self.link.ready() && self.calls.in_flight() > 0 {
            self.give_up_on_answers(ctx);
        }
        if self.link.ready() || self.calls.queued() == 0 || self.is_stopping() {
            return;
        }
        let limit = self.config.timings.connect_timeout;
        let expired = self.calls.expire(limit, Instant::now());
        if expired.is_empty() {
            return;
        }
        let reason = match &self.outage.last_failure {
            Some(failure) => format!("the server could not be reached within {limit:?}: {failure}"),
            None => format!("the server did not authenticate the connection within {limit:?}"),
        };
        if !self.outage.reported {
            self.outage.reported = true;
            tracing::warn!(parent: &self.span, %reason, "server unreachable");
            self.notify(Notice::Lifecycle(Lifecycle::Unreachable {
                reason: reason.clone(),
            }));
        }
        for mut pending in expired {
            let error = Error::new(
                pending.call.operation.clone(),
                ErrorKind::Unreachable(reason.clone()),
            );
            pending.answer(Err(CallError::Failed(error)));
        }
        if !self.wanted() {
            self.close_idle(format!("gave up: {reason}"), ctx);
        }
    }
}
