//! Requests: the [`Call`]s the session sends, their queue while no authenticated socket is
//! open, and their answers.
//!
//! A call is numbered by arrival, so that whatever goes back in the queue (in flight on a lost
//! socket, or refused with a 401) is re-sent in call order, with identical data. On the socket
//! each request carries the socket's next seq, and the answer is routed back by it.

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

use actix::prelude::*;
use serde_json::value::RawValue;
use talkjs_protocol::frame::{Frame, Method, Request, Response};
use tokio::sync::oneshot;

use super::Connection;
use super::socket::Link;
use crate::error::Error;
use crate::token::TokenReason;

/// Why a [`Call`] got no response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallError {
    /// The connection closed (it went idle or lost its socket with nothing to redial for) before
    /// it could send the request: start a new connection and send it again.
    Closed,
    /// The request cannot be sent: the session ended or authentication failed for good.
    Failed(Error),
}

/// A request to send, answered with the server's response (any status).
#[derive(Debug, Message)]
#[rtype(result = "Result<Response, CallError>")]
pub struct Call {
    /// The operation, for error messages.
    pub operation: std::sync::Arc<str>,
    /// Method.
    pub method: Method,
    /// Encoded path.
    pub path: String,
    /// The request data.
    pub data: Box<RawValue>,
}

/// A call not yet answered.
pub(super) struct Pending {
    /// Order of arrival, so that anything re-queued goes back in call order.
    order: u64,
    pub(super) call: Call,
    reply: Option<oneshot::Sender<Result<Response, CallError>>>,
    /// Queued: since when it waits for an authenticated socket (arrival, or the loss of the
    /// socket it was in flight on). In flight: when it was sent.
    since: Instant,
}

impl Pending {
    /// Answers the caller (once; later answers are dropped).
    pub(super) fn answer(&mut self, result: Result<Response, CallError>) {
        if let Some(reply) = self.reply.take() {
            let _ = reply.send(result);
        }
    }
}

/// The calls not yet answered.
#[derive(Default)]
pub(super) struct Calls {
    /// Calls received so far (numbers their arrival order).
    arrived: u64,
    /// Waiting for an authenticated socket, in call order.
    queue: VecDeque<Pending>,
    /// Sent on the current socket, by seq.
    in_flight: BTreeMap<u64, Pending>,
}

impl Calls {
    /// Nothing is queued or in flight.
    pub(super) fn is_empty(&self) -> bool {
        self.queue.is_empty() && self.in_flight.is_empty()
    }

    /// Calls waiting to be sent.
    pub(super) fn queued(&self) -> usize {
        self.queue.len()
    }

    /// Calls sent and not yet answered.
    pub(super) fn in_flight(&self) -> usize {
        self.in_flight.len()
    }

    /// Puts a request back in the queue, in call order among the others.
    fn requeue(&mut self, pending: Pending) {
        let at = self
            .queue
            .iter()
            .position(|p| p.order > pending.order)
            .unwrap_or(self.queue.len());
        self.queue.insert(at, pending);
    }

    /// Gives back the memory of an empty queue and an empty in-flight map. An idle connection
    /// spends most of its life with neither, and an emptied `BTreeMap` keeps its last node
    /// (room for eleven calls, over a kilobyte) as an emptied `VecDeque` keeps its buffer.
    pub(super) fn release_if_empty(&mut self) {
        if self.queue.is_empty() && self.queue.capacity() > 0 {
            self.queue = VecDeque::new();
        }
        if self.in_flight.is_empty() {
            self.in_flight = BTreeMap::new();
        }
    }

    /// The socket is gone: everything in flight goes back in the queue, in call order, and
    /// waits for a socket from now.
    pub(super) fn requeue_in_flight(&mut self) {
        let now = Instant::now();
        for (_, mut p) in std::mem::take(&mut self.in_flight) {
            p.since = now;
            self.requeue(p);
        }
    }

    /// Takes the calls in flight that were sent `limit` or longer ago.
    pub(super) fn expire_in_flight(&mut self, limit: Duration, now: Instant) -> Vec<Pending> {
        let late: Vec<u64> = self
            .in_flight
            .iter()
            .filter(|(_, p)| now.duration_since(p.since) >= limit)
            .map(|(seq, _)| *seq)
            .collect();
        late.iter()
            .filter_map(|seq| self.in_flight.remove(seq))
            .collect()
    }

    /// Takes the queued calls that have waited `limit` or longer.
    pub(super) fn expire(&mut self, limit: Duration, now: Instant) -> Vec<Pending> {
        let mut expired = Vec::new();
        let mut kept = VecDeque::with_capacity(self.queue.len());
        for p in self.queue.drain(..) {
            if now.duration_since(p.since) >= limit {
                expired.push(p);
            } else {
                kept.push_back(p);
            }
        }
        self.queue = kept;
        expired
    }

    /// Takes every unanswered call: the queue, then those in flight.
    pub(super) fn drain(&mut self) -> Vec<Pending> {
        let mut pending: Vec<Pending> = self.queue.drain(..).collect();
        pending.extend(std::mem::take(&mut self.in_flight).into_values());
        pending
    }
}

/// The empty headers object every request carries.
fn empty_object() -> Box<RawValue> {
    RawValue::from_string("{}".to_owned()).unwrap_or_else(|_| unreachable!("valid JSON"))
}

impl Connection {
    /// Sends a call on the authenticated socket, or queues it (and opens a socket if there is
    /// none yet).
    fn send_call(&mut self, mut pending: Pending, ctx: &mut Context<Self>) {
        self.cancel_idle(ctx);
        let socket = match &mut self.link {
            Link::Open(socket) if socket.auth.is_ready() => socket,
            Link::Unopened => {
                self.calls.queue.push_back(pending);
                return self.open(ctx);
            }
            _ => return self.calls.queue.push_back(pending),
        };
        let seq = socket.take_seq();
        let call = &mut pending.call;
        let req = Request {
            seq,
            method: call.method,
            path: call.path.clone(),
            data: call.data.clone(),
            headers: empty_object(),
        };
        // The data stays out of logs: it is the user's content.
        let span = &self.span;
        tracing::trace!(parent: span, seq, method = %call.method, path = %call.path, "request sent");
        socket.write(Frame::Request(req), span);
        pending.since = Instant::now();
        self.calls.in_flight.insert(seq, pending);
    }

    /// Sends what waited for an authenticated socket, in call order.
    pub(super) fn drain_queue(&mut self, ctx: &mut Context<Self>) {
        while self.link.ready() {
            let Some(p) = self.calls.queue.pop_front() else {
                break;
            };
            self.send_call(p, ctx);
        }
        self.calls.release_if_empty();
        self.maybe_idle(ctx);
    }

    /// Routes a response by its seq: to the renew, ping or call it answers.
    pub(super) fn on_response(&mut self, resp: Response, ctx: &mut Context<Self>) {
        // Responses come only from an open socket.
        let Link::Open(socket) = &mut self.link else {
            return;
        };
        if let Some(token) = socket.renews.take_answered(resp.seq) {
            return self.on_renew(resp, token, ctx);
        }
        if socket.heartbeat.pong(resp.seq) {
            return;
        }
        if socket.renews.forget_superseded(resp.seq) {
            tracing::trace!(parent: &self.span, seq = resp.seq, status = resp.status, "superseded renew answered");
            return;
        }
        let Some(mut pending) = self.calls.in_flight.remove(&resp.seq) else {
            tracing::debug!(parent: &self.span, seq = resp.seq, "response to an unknown request");
            return;
        };
        tracing::trace!(parent: &self.span, seq = resp.seq, status = resp.status, "response");
        if resp.status == 401 {
            // The server no longer accepts our token: re-authenticate on this socket (once, however
            // many requests were refused), then re-send in call order.
            self.calls.requeue(pending);
            self.reauthenticate(TokenReason::Rejected, ctx);
            return;
        }
        pending.answer(Ok(resp));
        self.calls.release_if_empty();
        self.maybe_idle(ctx);
    }
}

impl Handler<Call> for Connection {
    type Result = ResponseFuture<Result<Response, CallError>>;

    fn handle(&mut self, call: Call, ctx: &mut Context<Self>) -> Self::Result {
        if let Some(e) = self.stopped_error(&call.operation) {
            return Box::pin(async move { Err(e) });
        }
        let (tx, rx) = oneshot::channel();
        self.calls.arrived += 1;
        let order = self.calls.arrived;
        self.send_call(
            Pending {
                order,
                call,
                reply: Some(tx),
                since: Instant::now(),
            },
            ctx,
        );
        // A reply dropped without an answer means the connection went away: try a new one.
        Box::pin(async move { rx.await.unwrap_or(Err(CallError::Closed)) })
    }
}
