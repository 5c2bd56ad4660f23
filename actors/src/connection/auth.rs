//! Authentication: where tokens come from, the renews that present them, and whether an open
//! socket may carry requests.
//!
//! Two kinds of state, because they live for different times:
//!
//! - [`Tokens`] outlive sockets: the newest token, the one the server last refused (so that a
//!   provider that keeps returning it fails fast) and whether a fetch from the provider runs. A
//!   fetch started on one socket may finish after it was lost, and is used by the next.
//! - [`Auth`] and [`Renews`] belong to one open socket: whether the server accepted a token on it,
//!   and which renews on it are unanswered. A renew overtaken by a newer token (set while
//!   renewing) is superseded: its answer no longer matters.
//!
//! The first frame on every socket is a renew. A 401 on a request or a `session.expired` push
//! re-authenticates on the same socket, once however many requests were refused; `SetToken`
//! renews the live socket, which stays usable meanwhile.

use actix::prelude::*;
use talkjs_protocol::frame::{Frame, Method, Request, Response};
use talkjs_protocol::request::{RenewRequest, RenewResponse};

use super::socket::Link;
use super::{Connection, Lifecycle, Notice, Token};
use crate::token::TokenReason;

/// The connection's tokens, across sockets.
#[derive(Default)]
pub(super) struct Tokens {
    /// The token to use next (from the provider or `SetToken`); `None` until one arrives, and
    /// again once the server refused it.
    pub(super) current: Option<Token>,
    /// The token the server most recently refused; cleared when a renew succeeds.
    pub(super) refused: Option<Token>,
    /// What the server said when it refused it (`401 INVALID_TOKEN, reasons: ...`).
    pub(super) refusal: Option<String>,
    /// A fetch from the token provider is running.
    fetching: bool,
}

/// Whether an open socket may carry requests.
pub(super) enum Auth {
    /// Not (or no longer) authenticated: its renew, or the token fetch for it, is running, and
    /// requests wait in the queue.
    Authenticating,
    /// The server accepted this token on it: requests go out. A renew for a newer token may be
    /// in flight meanwhile.
    Ready(Token),
}

impl Auth {
    /// Requests may go out.
    pub(super) fn is_ready(&self) -> bool {
        matches!(self, Auth::Ready(_))
    }
}

/// The unanswered renews on one socket.
#[derive(Default)]
pub(super) struct Renews {
    /// The newest renew: its seq and the token it carries.
    current: Option<(u64, Token)>,
    /// Seqs of renews overtaken by a newer one: their answers no longer matter.
    superseded: Vec<u64>,
}

impl Renews {
    /// A renew with this seq and token went out; any earlier one is superseded.
    fn sent(&mut self, seq: u64, token: Token) {
        if let Some((older, _)) = self.current.replace((seq, token)) {
            self.superseded.push(older);
        }
    }

    /// A renew is waiting for its answer.
    fn in_flight(&self) -> bool {
        self.current.is_some()
    }

    /// If `seq` answers the newest renew, the token it carried.
    pub(super) fn take_answered(&mut self, seq: u64) -> Option<Token> {
        match &self.current {
            Some((current, _)) if *current == seq => self.current.take().map(|(_, token)| token),
            _ => None,
        }
    }

    /// Whether `seq` answers a superseded renew (and forgets it).
    pub(super) fn forget_superseded(&mut self, seq: u64) -> bool {
        match self.superseded.iter().position(|s| *s == seq) {
            Some(at) => {
                self.superseded.swap_remove(at);
                true
            }
            None => false,
        }
    }
}

/// Use this token from now on; renews the live socket at once.
#[derive(Message)]
#[rtype(result = "()")]
pub struct SetToken(pub Token);

impl std::fmt::Debug for SetToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Tokens never appear in logs.
        f.write_str("SetToken([redacted])")
    }
}

impl Connection {
    /// Asks the token provider for a token, then dials with it or renews the open socket.
    pub(super) fn fetch_token(&mut self, reason: TokenReason, ctx: &mut Context<Self>) {
        tracing::debug!(parent: &self.span, ?reason, "asking for a token");
        let (reply, answer) = tokio::sync::oneshot::channel();
        self.notify(Notice::NeedToken { reason, reply });
        self.tokens.fetching = true;
        ctx.spawn(answer.into_actor(self).map(move |result, act, ctx| {
            act.tokens.fetching = false;
            let token = match result {
                Ok(Ok(token)) if act.tokens.refused.as_deref() == Some(&*token) => {
                    return act.fatal(
                        "the token provider returned the token the server just refused".into(),
                        ctx,
                    );
                }
                Ok(Ok(token)) => token,
                Ok(Err(e)) => {
                    return act.fatal(e.to_string(), ctx);
                }
                Err(_) => return act.fatal("the token source is gone".into(), ctx),
            };
            act.tokens.current = Some(token.clone());
            match act.link {
                Link::Opening => act.dial(token, ctx),
                // Re-authentication on a live socket.
                Link::Open(_) => act.send_renew(token, ctx),
                Link::Unopened | Link::Backoff | Link::Closing(_) => {}
            }
        }));
    }

    /// Sends `POST /session/renew` with `token` on the open socket. An authenticated socket
    /// stays usable meanwhile.
    pub(super) fn send_renew(&mut self, token: Token, ctx: &mut Context<Self>) {
        // Every caller has an open socket: renews go nowhere else.
        let Link::Open(socket) = &mut self.link else {
            return;
        };
        let Ok(req) = Request::new(
            socket.peek_seq(),
            Method::Post,
            "/session/renew",
            &RenewRequest {
                token: token.to_string(),
            },
        ) else {
            return self.fatal("could not encode the renew request".into(), ctx);
        };
        let span = &self.span;
        tracing::trace!(parent: span, seq = req.seq, "renew sent");
        socket.renews.sent(req.seq, token);
        socket.take_seq();
        socket.write(Frame::Request(req), span);
    }

    /// The answer to the newest renew, which carried `sent`.
    pub(super) fn on_renew(&mut self, resp: Response, sent: Token, ctx: &mut Context<Self>) {
        match resp.status {
            200 => {
                // The official client rejects tokens with less than 120 s left and asks again, which
                // loops with a provider of short-lived tokens (§2.4). Any lifetime is accepted here;
                // the session refreshes at half of a short one, and `session.expired` or a 401
                // covers the rest.
                let expires_in = resp
                    .data::<RenewResponse>()
                    .ok()
                    .and_then(|r| r.expires_in_seconds);
                self.tokens.refused = None;
                self.tokens.refusal = None;
                let Link::Open(socket) = &mut self.link else {
                    return;
                };
                let was_ready = std::mem::replace(&mut socket.auth, Auth::Ready(sent)).is_ready();
                self.attempt = 0;
                self.outage.over(&self.span);
                self.notify(Notice::Authenticated { expires_in });
                if !was_ready {
                    self.notify(Notice::Lifecycle(Lifecycle::Connected));
                }
                self.drain_queue(ctx);
            }
            401 => {
                // Refused is the token this renew carried; a newer one set meanwhile is tried next.
                if self.tokens.current.as_deref() == Some(&*sent) {
                    self.tokens.current = None;
                }
                self.tokens.refused = Some(sent);
                self.tokens.refusal = Some(format!("{} {}", resp.status, resp.error_body()));
                match self.tokens.current.clone() {
                    Some(newer) => self.send_renew(newer, ctx),
                    None => self.fetch_token(TokenReason::Rejected, ctx),
                }
            }
            400 | 402 => {
                let body = resp.error_body();
                self.fatal(
                    format!("authentication failed, got status {} {body}", resp.status),
                    ctx,
                );
            }
            status => {
                // The official client stalls here (§2.4); we retry on a fresh socket instead.
                self.socket_lost(format!("renew answered {status}"), ctx);
            }
        }
    }

    /// The server no longer accepts the socket's token (a 401, or `session.expired`): requests
    /// wait until a renew with another token succeeds.
    pub(super) fn reauthenticate(&mut self, reason: TokenReason, ctx: &mut Context<Self>) {
        let Link::Open(socket) = &mut self.link else {
            return;
        };
        let authed = match std::mem::replace(&mut socket.auth, Auth::Authenticating) {
            Auth::Ready(token) => Some(token),
            Auth::Authenticating => None,
        };
        // One re-authentication at a time: a renew or token fetch already running answers for
        // every request waiting on it.
        if socket.renews.in_flight() || self.tokens.fetching {
            return;
        }
        if self.tokens.current == authed {
            self.tokens.current = None;
        }
        self.tokens.refused = authed;
        match self.tokens.current.clone() {
            Some(newer) => self.send_renew(newer, ctx),
            None => self.fetch_token(reason, ctx),
        }
    }
}

impl Handler<SetToken> for Connection {
    type Result = ();

    fn handle(&mut self, msg: SetToken, ctx: &mut Context<Self>) {
        self.tokens.current = Some(msg.0.clone());
        if matches!(self.link, Link::Open(_)) {
            self.send_renew(msg.0, ctx);
        }
    }
}
