//! The heartbeat: pings that keep a quiet socket warm and find a dead server.
//!
//! After [`Timings::server_silence`](super::Timings) without a frame from the server the client
//! pings and expects an answer within `server_timeout`, or drops the socket (and redials if
//! anything needs it). After `client_silence` without sending anything it pings too, to keep the
//! socket warm, but does not wait for that answer. The timers are checked on a regular tick
//! ([`Timings::tick`](super::Timings)) while a socket is open.

use std::time::Instant;

use actix::prelude::*;
use talkjs_protocol::frame::{Frame, Method, Request};

use super::Connection;
use super::socket::Link;

/// Unanswered pings remembered at most.
const MAX_PINGS: usize = 16;

/// One socket's pings and silences.
pub(super) struct Heartbeat {
    /// When the client last wrote a frame.
    last_sent: Instant,
    /// When the server last sent a frame.
    last_heard: Instant,
    /// When the ping the server must answer went out (sent because the server was quiet).
    ping_sent: Option<Instant>,
    /// Seqs of pings not yet answered, so that their answers are not taken for requests': one
    /// or two at a time (a socket whose server stops answering is dropped), at most
    /// [`MAX_PINGS`] (the oldest is forgotten) should a server answer everything but pings.
    pings: Vec<u64>,
}

impl Heartbeat {
    /// A socket opened `now`.
    pub(super) fn new(now: Instant) -> Heartbeat {
        Heartbeat {
            last_sent: now,
            last_heard: now,
            ping_sent: None,
            pings: Vec::new(),
        }
    }

    /// The client wrote a frame.
    pub(super) fn sent(&mut self, now: Instant) {
        self.last_sent = now;
    }

    /// The server sent a frame: it is alive, whatever the frame.
    pub(super) fn heard(&mut self, now: Instant) {
        self.last_heard = now;
        self.ping_sent = None;
    }

    /// Whether `seq` answers a ping (and forgets it).
    pub(super) fn pong(&mut self, seq: u64) -> bool {
        match self.pings.iter().position(|&ping| ping == seq) {
            Some(i) => {
                self.pings.swap_remove(i);
                true
            }
            None => false,
        }
    }
}

impl Connection {
    /// Checks the timers: drops a socket whose server stopped answering, pings a quiet one.
    pub(super) fn heartbeat(&mut self, ctx: &mut Context<Self>) {
        let Link::Open(socket) = &mut self.link else {
            return;
        };
        let timings = &self.config.timings;
        let now = Instant::now();
        if let Some(sent) = socket.heartbeat.ping_sent {
            if now.duration_since(sent) >= timings.server_timeout {
                socket.heartbeat.ping_sent = None;
                return self.socket_lost("the server stopped answering".into(), ctx);
            }
            return;
        }
        let server_quiet =
            now.duration_since(socket.heartbeat.last_heard) >= timings.server_silence;
        let client_quiet = now.duration_since(socket.heartbeat.last_sent) >= timings.client_silence;
        if server_quiet || client_quiet {
            let seq = socket.take_seq();
            if socket.heartbeat.pings.len() >= MAX_PINGS {
                socket.heartbeat.pings.remove(0);
            }
            socket.heartbeat.pings.push(seq);
            if server_quiet {
                socket.heartbeat.ping_sent = Some(now);
            }
            if let Ok(req) = Request::new(seq, Method::Get, "/ping", &serde_json::json!({})) {
                socket.write(Frame::Request(req), &self.span);
            }
        }
    }
}
