//! The socket: where the connection stands with it ([`Link`]), dialling, reading its frames,
//! and losing it.
//!
//! The connection holds at most one socket. Everything that lives only as long as one socket
//! (its request numbers, its authentication and renews, its heartbeat) is a field of [`Socket`],
//! so that losing the socket forgets all of it at once and a new socket starts clean. Frames
//! from a socket already given up on are told apart by their generation and dropped.

use std::time::Instant;

use actix::io::WriteHandler;
use actix::prelude::*;
use awc::error::WsProtocolError;
use awc::ws;
use futures_util::stream::{SplitSink, StreamExt};
use talkjs_protocol::event::Event;
use talkjs_protocol::frame::{Ack, Frame};
use tracing::Instrument;

use super::auth::{Auth, Renews};
use super::dial;
use super::frames::LeanFramed;
use super::heartbeat::Heartbeat;
use super::stop::Stop;
use super::writer::LeanSinkWrite;
use super::{Connection, Lifecycle, Notice, Token, backoff};
use crate::random;
use crate::token::TokenReason;

/// Largest frame accepted from the server.
const MAX_FRAME_BYTES: usize = 16 * 1024 * 1024;
/// How long dialling a websocket (TCP, TLS and the upgrade) may take.
const DIAL_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(15);

/// The write half of a socket.
pub(super) type Sink = LeanSinkWrite<ws::Message, SplitSink<LeanFramed, ws::Message>>;

/// Where the connection stands with its socket.
pub(super) enum Link {
    /// No socket yet: nothing has needed one (the connection is lazy).
    Unopened,
    /// Getting a token, then dialling.
    Opening,
    /// A socket is open (authenticated or not, see [`Socket::auth`]).
    Open(Socket),
    /// The socket was lost while something needed it: waiting to redial.
    Backoff,
    /// Stopping for good: no socket will be opened again, and calls are answered as `Stop` says.
    Closing(Stop),
}

impl Link {
    /// An authenticated socket is open: requests may go out.
    pub(super) fn ready(&self) -> bool {
        matches!(self, Link::Open(socket) if socket.auth.is_ready())
    }
}

/// One open socket and everything that lives as long as it.
pub(super) struct Socket {
    sink: Sink,
    /// The number of the next request on this socket (each socket numbers from 0).
    next_seq: u64,
    /// Whether requests may go out on it yet.
    pub(super) auth: Auth,
    /// The renews sent on it and not yet answered.
    pub(super) renews: Renews,
    /// Its pings and silences.
    pub(super) heartbeat: Heartbeat,
}

impl Socket {
    fn new(sink: Sink) -> Socket {
        Socket {
            sink,
            next_seq: 0,
            auth: Auth::Authenticating,
            renews: Renews::default(),
            heartbeat: Heartbeat::new(Instant::now()),
        }
    }

    /// The number the next request will carry.
    pub(super) fn peek_seq(&self) -> u64 {
        self.next_seq
    }

    /// Takes the next request number.
    pub(super) fn take_seq(&mut self) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        seq
    }

    /// Writes a frame (the connection's span is for the log line when the socket is closing).
    pub(super) fn write(&mut self, frame: Frame, span: &tracing::Span) {
        self.heartbeat.sent(Instant::now());
        if self
            .sink
            .write(ws::Message::Text(frame.to_text().into()))
            .is_err()
        {
            tracing::debug!(parent: span, "write to a closing socket");
        }
    }

    /// Sends only the close frame and gives the socket up: shutting the write side down too
    /// (`close`) can make the server drop frames that arrive with the end of the stream.
    pub(super) fn close_frame(mut self) {
        let _ = self.sink.write(ws::Message::Close(Some(ws::CloseReason {
            code: ws::CloseCode::Normal,
            description: None,
        })));
    }
}

/// One item of a socket's stream, tagged with the socket it came from.
struct SocketItem {
    generation: u64,
    item: Option<Result<ws::Frame, WsProtocolError>>,
}

impl Message for SocketItem {
    type Result = ();
}

impl Connection {
    /// Writes a frame on the open socket, if there is one.
    pub(super) fn write(&mut self, frame: Frame) {
        if let Link::Open(socket) = &mut self.link {
            socket.write(frame, &self.span);
        }
    }

    /// Starts opening a socket, unless one is open, opening or the connection is stopping.
    pub(super) fn open(&mut self, ctx: &mut Context<Self>) {
        if !matches!(self.link, Link::Unopened | Link::Backoff) {
            return;
        }
        self.link = Link::Opening;
        self.notify(Notice::Lifecycle(Lifecycle::Connecting));
        // A token first: the renew is the socket's first frame.
        match (self.tokens.current.clone(), self.tokens.refused.is_some()) {
            (Some(token), _) => self.dial(token, ctx),
            // Redialling in the middle of a re-authentication: the cached token was refused, so
            // ask the provider for a new one rather than for the cached one.
            (None, true) => self.fetch_token(TokenReason::Rejected, ctx),
            (None, false) => self.fetch_token(TokenReason::Initial, ctx),
        }
    }

    /// Dials, then renews with `token` (or a newer one set meanwhile) as the first frame.
    pub(super) fn dial(&mut self, token: Token, ctx: &mut Context<Self>) {
        let url = (self.config.url)(random::now_ms());
        self.generation += 1;
        let generation = self.generation;
        let span = tracing::debug_span!(parent: &self.span, "connect", generation);
        ctx.spawn(
            async move { dial::dial(&url, MAX_FRAME_BYTES, DIAL_TIMEOUT).await }
                .instrument(span)
                .into_actor(self)
                .map(move |result, act, ctx| {
                    if act.generation != generation || act.is_stopping() {
                        return;
                    }
                    match result {
                        Ok(framed) => {
                            let (sink, stream) = framed.split();
                            let tagged = stream
                                .map(move |item| SocketItem {
                                    generation,
                                    item: Some(item),
                                })
                                .chain(futures_util::stream::once(async move {
                                    SocketItem {
                                        generation,
                                        item: None,
                                    }
                                }));
                            ctx.add_message_stream(tagged);
                            act.link = Link::Open(Socket::new(LeanSinkWrite::new(sink, ctx)));
                            act.sockets_opened += 1;
                            // A token set while dialling wins over the one the dial started with.
                            let token = act.tokens.current.clone().unwrap_or(token);
                            act.send_renew(token, ctx);
                        }
                        Err(e) => act.socket_lost(format!("could not connect: {e}"), ctx),
                    }
                }),
        );
    }

    /// The socket failed or closed: redial if anything needs it, otherwise stop.
    pub(super) fn socket_lost(&mut self, reason: String, ctx: &mut Context<Self>) {
        if self.is_stopping() {
            return;
        }
        tracing::debug!(parent: &self.span, %reason, "socket lost");
        self.outage.failed(&reason);
        self.generation += 1;
        // Its renews, authentication and pings go with it.
        if let Link::Open(mut socket) = std::mem::replace(&mut self.link, Link::Backoff) {
            socket.sink.close();
        }
        // In-flight requests go back in call order, with identical data.
        self.calls.requeue_in_flight();
        self.notify(Notice::Lifecycle(Lifecycle::Disconnected {
            reason: reason.clone(),
        }));
        if !self.wanted() {
            return self.close_idle(format!("idle after disconnect: {reason}"), ctx);
        }
        self.attempt += 1;
        let delay = backoff(
            self.attempt,
            self.config.timings.reconnect_base,
            self.config.timings.reconnect_max,
        );
        self.notify(Notice::Lifecycle(Lifecycle::Reconnecting {
            attempt: self.attempt,
            delay,
        }));
        ctx.run_later(delay, |act, ctx| {
            if matches!(act.link, Link::Backoff) {
                act.open(ctx);
            }
        });
    }

    /// ACKs a push at once, then hands its events to the session (`session.expired` also
    /// re-authenticates).
    fn on_publish(&mut self, id: u64, events: Vec<Event>, ctx: &mut Context<Self>) {
        tracing::trace!(parent: &self.span, id, events = events.len(), "push");
        self.write(Frame::Ack(Ack { id }));
        for event in events {
            match event {
                Event::SessionExpired => {
                    self.notify(Notice::SessionExpired);
                    self.reauthenticate(TokenReason::SessionExpired, ctx);
                }
                other => self.notify(Notice::Pushed(other)),
            }
        }
    }
}

impl WriteHandler<WsProtocolError> for Connection {
    fn error(&mut self, err: WsProtocolError, _ctx: &mut Context<Self>) -> Running {
        tracing::debug!(parent: &self.span, error = %err, "websocket write failed");
        Running::Continue
    }

    fn finished(&mut self, _ctx: &mut Context<Self>) {}
}

impl Handler<SocketItem> for Connection {
    type Result = ();

    fn handle(&mut self, msg: SocketItem, ctx: &mut Context<Self>) {
        if msg.generation != self.generation {
            return; // A socket we already gave up on.
        }
        if self.is_stopping() {
            // Closing (`terminate`): the server's close frame, or the end of the socket,
            // completes the closing handshake; anything else is no longer wanted.
            if matches!(
                msg.item,
                None | Some(Err(_)) | Some(Ok(ws::Frame::Close(_)))
            ) {
                ctx.stop();
            }
            return;
        }
        let frame = match msg.item {
            None => return self.socket_lost("the server closed the socket".into(), ctx),
            Some(Err(e)) => return self.socket_lost(format!("protocol error: {e}"), ctx),
            Some(Ok(frame)) => frame,
        };
        if let Link::Open(socket) = &mut self.link {
            socket.heartbeat.heard(Instant::now());
        }
        match frame {
            ws::Frame::Text(bytes) => {
                let Ok(text) = std::str::from_utf8(&bytes) else {
                    return tracing::debug!(parent: &self.span, "non-UTF-8 text frame ignored");
                };
                match Frame::parse(text) {
                    Ok(Frame::Response(resp)) => self.on_response(resp, ctx),
                    Ok(Frame::Publish(p)) => {
                        let span = &self.span;
                        let events = p
                            .events()
                            .filter_map(|e| {
                                e.map_err(|e| tracing::debug!(parent: span, error = %e, "undecodable event"))
                                    .ok()
                            })
                            .collect();
                        self.on_publish(p.id, events, ctx);
                    }
                    // Frames only clients send, or garbage: ignored, as the official client does.
                    Ok(Frame::Request(_) | Frame::Ack(_)) | Err(_) => {
                        tracing::debug!(parent: &self.span, "ignored a frame")
                    }
                }
            }
            ws::Frame::Ping(bytes) => {
                if let Link::Open(socket) = &mut self.link {
                    let _ = socket.sink.write(ws::Message::Pong(bytes));
                }
            }
            ws::Frame::Close(reason) => {
                self.socket_lost(format!("the server closed the socket: {reason:?}"), ctx);
            }
            ws::Frame::Pong(_) | ws::Frame::Binary(_) | ws::Frame::Continuation(_) => {}
        }
    }
}
