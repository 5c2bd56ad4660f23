//! The connection's clock: how long it waits before pinging, giving up on a silent server,
//! closing an idle socket and redialling.
//!
//! These numbers are the protocol's (the official client's, unless a comment says otherwise),
//! gathered in one place so that the rest of the connection names them instead of repeating
//! them, and so that [`Timings`] can shorten them for tests or lengthen them for unusual
//! deployments.

use std::time::Duration;

use crate::random;

/// Send a ping after this long without sending anything (official client: 25 s).
pub const CLIENT_SILENCE: Duration = Duration::from_secs(25);
/// Send a ping after this long without hearing from the server (official client: 10 s).
pub const SERVER_SILENCE: Duration = Duration::from_secs(10);
/// Drop the socket if the server stays silent this long after a ping (official client: 5 s).
pub const SERVER_TIMEOUT: Duration = Duration::from_secs(5);
/// Close an idle socket after this long (official client: 3 s).
pub const IDLE_CLOSE: Duration = Duration::from_secs(3);
/// First reconnect delay; it doubles per failed attempt, with ±50 % jitter.
pub const RECONNECT_BASE: Duration = Duration::from_millis(250);
/// Longest reconnect delay.
pub const RECONNECT_MAX: Duration = Duration::from_secs(30);
/// How long a wire subscription outlives its last subscriber (official client: 10 s for lists,
/// 30 s for users and single items).
pub const UNSUBSCRIBE_DELAY: Duration = Duration::from_secs(10);
/// Default for [`Timings::user_unsubscribe_delay`]: the official client keeps a user it showed
/// subscribed for about 30 s after the last use.
pub const USER_UNSUBSCRIBE_DELAY: Duration = Duration::from_secs(30);
/// Give up on reaching the server after this long without an authenticated socket: calls that
/// waited so long fail with `ErrorKind::Unreachable` (the connection keeps redialling while
/// subscriptions need it). The official client waits forever; 10 s is ours.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Give up on one request the server has not answered after this long
/// (`ErrorKind::Timeout`). The official client waits forever; 30 s is ours.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Longest interval between checks of the heartbeat timers.
const HEARTBEAT_TICK: Duration = Duration::from_millis(500);
/// Shortest interval between checks of the heartbeat timers, however short the timings: a
/// floor so that tests with tiny timings do not spin the actor.
const MIN_HEARTBEAT_TICK: Duration = Duration::from_millis(10);
/// How many heartbeat checks fit in the shortest heartbeat timing, so that a timer fires at
/// most a quarter late.
const TICKS_PER_TIMING: u32 = 4;
/// Reconnect delays stop doubling after this many attempts (the cap, [`RECONNECT_MAX`], is
/// reached long before with the defaults); it keeps the shift from overflowing.
const MAX_DOUBLINGS: u32 = 16;

/// The connection's timings. The defaults are the official client's; tests and unusual
/// deployments can shorten or lengthen them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timings {
    /// Ping after this long without sending anything.
    pub client_silence: Duration,
    /// Ping after this long without hearing from the server.
    pub server_silence: Duration,
    /// Drop the socket if the server stays silent this long after a ping.
    pub server_timeout: Duration,
    /// Close an idle socket after this long.
    pub idle_close: Duration,
    /// First reconnect delay (doubling per attempt, with jitter).
    pub reconnect_base: Duration,
    /// Longest reconnect delay.
    pub reconnect_max: Duration,
    /// How long a wire subscription outlives its last subscriber before `UNSUBSCRIBE` is sent
    /// (a subscription re-made within it costs no frames), and how long the user cache keeps a
    /// user nobody shows live.
    pub unsubscribe_delay: Duration,
    /// The same for users: how long the user cache keeps a user nobody shows any more (still
    /// subscribed, so a later read of them costs no frames) before `UNSUBSCRIBE /users/{id}`.
    pub user_unsubscribe_delay: Duration,
    /// How long a call may wait for an authenticated socket (dialling, TLS, the websocket
    /// upgrade and the renew, with any redials) before it fails with
    /// `ErrorKind::Unreachable`. Later calls try again.
    pub connect_timeout: Duration,
    /// How long a sent request may go unanswered before it fails with `ErrorKind::Timeout`.
    pub request_timeout: Duration,
}

impl Default for Timings {
    fn default() -> Timings {
        Timings {
            client_silence: CLIENT_SILENCE,
            server_silence: SERVER_SILENCE,
            server_timeout: SERVER_TIMEOUT,
            idle_close: IDLE_CLOSE,
            reconnect_base: RECONNECT_BASE,
            reconnect_max: RECONNECT_MAX,
            unsubscribe_delay: UNSUBSCRIBE_DELAY,
            user_unsubscribe_delay: USER_UNSUBSCRIBE_DELAY,
            connect_timeout: CONNECT_TIMEOUT,
            request_timeout: REQUEST_TIMEOUT,
        }
    }
}

impl Timings {
    /// How often to check the heartbeat timers: often enough for the shortest of them.
    pub(super) fn tick(&self) -> Duration {
        (self
            .server_silence
            .min(self.server_timeout)
            .min(self.connect_timeout)
            / TICKS_PER_TIMING)
            .clamp(MIN_HEARTBEAT_TICK, HEARTBEAT_TICK)
    }
}

/// The delay before reconnect attempt `attempt` (from 1): doubling from `base`, at most `max`,
/// times a random factor in [0.5, 1.5) so that many clients that lost the same server do not
/// return all at once.
pub fn backoff(attempt: u32, base: Duration, max: Duration) -> Duration {
    let exp = base.saturating_mul(1 << attempt.saturating_sub(1).min(MAX_DOUBLINGS));
    let capped = exp.min(max);
    capped.mul_f64(0.5 + random::unit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_with_jitter_and_is_capped() {
        for attempt in 1..40 {
            let d = backoff(attempt, RECONNECT_BASE, RECONNECT_MAX);
            let nominal = RECONNECT_BASE
                .saturating_mul(1 << (attempt - 1).min(16))
                .min(RECONNECT_MAX);
            assert!(
                d >= nominal.mul_f64(0.5) && d < nominal.mul_f64(1.5),
                "attempt {attempt}: {d:?}"
            );
        }
        assert!(backoff(30, RECONNECT_BASE, RECONNECT_MAX) < RECONNECT_MAX.mul_f64(1.5));
    }
}
