//! A socket's authentication over its life, as a state machine with deadlines.
//!
//! A socket starts [`Login::Pending`] and is closed if it has not renewed by the login deadline.
//! A renew makes it [`Login::Ready`] until its token expires (`session.expired` goes out
//! [`EXPIRY_WARNING`] before). When the token expires without a renew, or a renew fails, it becomes
//! [`Login::Lapsed`]: no pushes, 401 on requests, and closed after the grace period unless it
//! renews. A token used once therefore never gives read access beyond its expiry.

use std::time::Duration;

use tokio::time::Instant;

use crate::auth::TokenInfo;
use crate::config::Limits;
use crate::pending::PendingSlot;

/// How long before a token's expiry the socket is sent `session.expired`, so the client can renew
/// without a gap.
pub const EXPIRY_WARNING: Duration = Duration::from_secs(30);

/// Where a socket stands.
#[derive(Debug)]
pub(crate) enum Login {
    /// Not authenticated yet: closed at `deadline`. Holds its address's pending slot.
    Pending {
        deadline: Instant,
        _slot: Option<PendingSlot>,
    },
    /// Authenticated.
    Ready {
        /// Expiry of the token, Unix seconds; `None` if it does not expire.
        expires_at: Option<i64>,
        /// When to send `session.expired`; `None` once sent or if the token does not expire.
        warn_at: Option<Instant>,
        /// When the token expires, on this clock.
        lapse_at: Option<Instant>,
    },
    /// Was authenticated, but the token expired or a renew failed: closed at `close_at`.
    Lapsed { close_at: Instant },
}

/// What a deadline asks of the socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Due {
    /// Send `session.expired`.
    Warn,
    /// The token expired: stop pushes, start the grace period.
    Lapse,
    /// Close the socket, for this reason.
    Close(&'static str),
}

impl Login {
    /// A new socket, holding `slot`.
    pub(crate) fn new(limits: &Limits, slot: Option<PendingSlot>) -> Login {
        Login::Pending {
            deadline: Instant::now() + limits.login_deadline,
            _slot: slot,
        }
    }

    /// A renew accepted `token` at `now` (Unix seconds).
    pub(crate) fn renewed(&mut self, token: TokenInfo, now: i64) {
        let at =
            |secs_from_now: i64| Instant::now() + Duration::from_secs(secs_from_now.max(0) as u64);
        *self = Login::Ready {
            expires_at: token.expires_at,
            warn_at: token
                .expires_at
                .map(|exp| at(exp - EXPIRY_WARNING.as_secs() as i64 - now)),
            lapse_at: token.expires_at.map(|exp| at(exp - now)),
        };
    }

    /// A renew failed, or the token expired: an authenticated socket lapses. Returns whether it
    /// was authenticated (and so must stop getting pushes now).
    pub(crate) fn lapse(&mut self, limits: &Limits) -> bool {
        if matches!(self, Login::Ready { .. }) {
            *self = Login::Lapsed {
                close_at: Instant::now() + limits.expired_grace,
            };
            true
        } else {
            false
        }
    }

    /// Whether requests may be served at `now` (Unix seconds).
    pub(crate) fn may_serve(&self, now: i64) -> Result<(), &'static str> {
        match self {
            Login::Pending { .. } => Err("authenticate with POST /session/renew first"),
            Login::Ready { expires_at, .. } if expires_at.is_some_and(|exp| now >= exp) => {
                Err("the token has expired; renew the session")
            }
            Login::Ready { .. } => Ok(()),
            Login::Lapsed { .. } => Err("the token has expired; renew the session"),
        }
    }

    /// The next deadline and what it asks, if any.
    pub(crate) fn next_due(&self) -> Option<(Instant, Due)> {
        match self {
            Login::Pending { deadline, .. } => Some((
                *deadline,
                Due::Close("the socket did not authenticate in time"),
            )),
            Login::Ready {
                warn_at, lapse_at, ..
            } => match (warn_at, lapse_at) {
                (Some(w), _) => Some((*w, Due::Warn)),
                (None, Some(l)) => Some((*l, Due::Lapse)),
                (None, None) => None,
            },
            Login::Lapsed { close_at } => Some((
                *close_at,
                Due::Close("the token expired and was not renewed"),
            )),
        }
    }

    /// The warning went out.
    pub(crate) fn warned(&mut self) {
        if let Login::Ready { warn_at, .. } = self {
            *warn_at = None;
        }
    }
}

/// Sleeps until `due`, or forever if nothing is due.
pub(crate) async fn sleep_until(due: Option<(Instant, Due)>) -> Due {
    match due {
        Some((at, what)) => {
            tokio::time::sleep_until(at).await;
            what
        }
        None => std::future::pending().await,
    }
}
