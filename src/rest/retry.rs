//! When the REST client sends a request again, and how long it waits first.
//!
//! The rules are documented on [`RetryPolicy`].

use std::time::Duration;

/// How a [`Client`](super::Client) retries.
///
/// What is retried:
///
/// - **429** always: TalkJS applied nothing, and asks to come back later. The wait is the
///   answer's `Retry-After` (seconds) when it has one, else the backoff. A `Retry-After` longer
///   than [`RetryPolicy::max_retry_after`] is not waited for: the 429 comes back as the error,
///   its `Retry-After` in [`RestFailure`](super::RestFailure), so no call waits unboundedly.
/// - **No connection** (refused, DNS, TLS handshake) always: nothing was sent.
/// - **5xx, a timeout, a broken connection** only for requests that are safe to repeat: `GET`,
///   `PUT`, `PATCH`, `DELETE` (TalkJS's REST writes are all set-to-a-state), and a message
///   `POST` whose messages are all user messages, since the client gives each one an
///   idempotency key (TalkJS and the emulator send a keyed message once). A `POST` with a system
///   message (which takes no key) and a batch with a `POST` in it are not repeated after the
///   server may have seen them: sending them twice could show a message twice.
///
/// Between attempts the client waits `base_delay × 2^(n-1)` (n = attempts so far), at most
/// `max_delay`, with jitter (50–100 % of that) so many clients do not retry in step. Every
/// attempt is bounded by the client's timeout, so a call takes at most about
/// `(retries + 1) × timeout` plus the waits.
///
/// A `DELETE` retried after a lost answer may find the thing already gone and answer
/// `NotFound`; the first attempt did the work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct RetryPolicy {
    /// Retries after the first attempt (0: never retry). Default 3.
    pub retries: u32,
    /// The first backoff. Default 200 ms.
    pub base_delay: Duration,
    /// The longest backoff. Default 5 s.
    pub max_delay: Duration,
    /// The longest `Retry-After` waited for; a longer one ends the call with the 429. Default
    /// 30 s.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> RetryPolicy {
        RetryPolicy {
            retries: 3,
            base_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(5),
            max_retry_after: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// No retries at all.
    pub fn none() -> RetryPolicy {
        RetryPolicy {
            retries: 0,
            ..RetryPolicy::default()
        }
    }

    /// The backoff after `attempts` attempts (1 or more), jitter included.
    pub(crate) fn backoff(&self, attempts: u32) -> Duration {
        let exp = attempts.saturating_sub(1).min(16);
        let full = self.base_delay.saturating_mul(1 << exp).min(self.max_delay);
        full.mul_f64(0.5 + 0.5 * talkjs_actors::random_unit())
    }
}

/// Whether a request may be sent again after the server may have seen it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Repeat {
    /// Sending it twice has the effect of sending it once.
    Safe,
    /// Only retried when the server certainly did not apply it (429, no connection).
    Unsafe,
}

/// `Retry-After` in seconds (TalkJS sends seconds; an HTTP date is not understood and counts as
/// absent, so the backoff applies).
pub(crate) fn parse_retry_after(value: &str) -> Option<Duration> {
    let secs: f64 = value.trim().parse().ok()?;
    (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs.min(86_400.0)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap_with_jitter() {
        let p = RetryPolicy::default();
        for (attempts, full) in [(1, 200), (2, 400), (3, 800), (10, 5000), (40, 5000)] {
            let d = p.backoff(attempts).as_millis() as u64;
            assert!(
                (full / 2..=full).contains(&d),
                "{attempts}: {d} not in {full}/2..={full}"
            );
        }
    }

    #[test]
    fn retry_after_is_seconds() {
        assert_eq!(parse_retry_after("2"), Some(Duration::from_secs(2)));
        assert_eq!(parse_retry_after(" 0.5 "), Some(Duration::from_millis(500)));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), None);
        assert_eq!(parse_retry_after("-1"), None);
    }
}
