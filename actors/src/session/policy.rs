//! The status policy's arithmetic, without I/O: which answers are retried, and how retries are
//! paced.
//!
//! As the official client applies it (docs/protocol.md §3.9): 200 resolves; 400, 402, 403, 404,
//! 405 and 409 resolve as errors; 401 is handled by the connection (re-authenticate, re-send);
//! 429 is retried without limit and 500 up to [`MAX_500_TRIES`] times, both paced by the
//! session's [`Throttle`]; any other status is an error.

use std::time::{Duration, Instant};

use crate::random;

/// Total tries for a request answered 500 (official client: 10).
pub const MAX_500_TRIES: u32 = 10;
/// The throttler's first delay (official client: 200 ms).
pub const THROTTLE_START: Duration = Duration::from_millis(200);
/// The throttler's growth per use (official client: 1.2).
pub const THROTTLE_FACTOR: f64 = 1.2;
/// The throttler's longest delay (official client: 30 s).
pub const THROTTLE_MAX: Duration = Duration::from_secs(30);

/// Paces retries of 429 and 500: each delay is 1.2 times the last (±5 % jitter), up to 30 s,
/// measured from the previous delayed retry; it starts over after any request resolves.
#[derive(Debug)]
pub struct Throttle {
    delay: Duration,
    last: Option<Instant>,
}

impl Default for Throttle {
    fn default() -> Throttle {
        Throttle {
            delay: THROTTLE_START,
            last: None,
        }
    }
}

impl Throttle {
    /// How long to wait before the next retry.
    pub fn next_wait(&mut self) -> Duration {
        let now = Instant::now();
        let jittered = self.delay.mul_f64(0.95 + 0.1 * random::unit());
        let wait = match self.last {
            Some(last) => jittered.saturating_sub(now.duration_since(last)),
            None => Duration::ZERO,
        };
        self.last = Some(now + wait);
        self.delay = self.delay.mul_f64(THROTTLE_FACTOR).min(THROTTLE_MAX);
        wait
    }

    /// Starts over (a request resolved).
    pub fn reset(&mut self) {
        *self = Throttle::default();
    }
}

/// The wait before the `n`-th retry (from 1) of something that cannot use the session's
/// [`Throttle`] (a participant action the server refused inside a batch that itself
/// succeeded): the throttle's schedule, 200 ms growing 1.2 times per retry up to 30 s, ±5 %.
pub fn retry_delay(n: u32) -> Duration {
    let grown = THROTTLE_START.mul_f64(THROTTLE_FACTOR.powi(n.saturating_sub(1).min(64) as i32));
    grown.min(THROTTLE_MAX).mul_f64(0.95 + 0.1 * random::unit())
}

/// The retry rule: 429 is retried without limit, 500 until it was the answer
/// [`MAX_500_TRIES`] times; `tries_500` counts the 500s so far.
pub(crate) fn retries(status: u16, tries_500: &mut u32) -> bool {
    match status {
        429 => true,
        500 => {
            *tries_500 += 1;
            *tries_500 < MAX_500_TRIES
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batched_action_retries_wait_200_ms_first_then_grow_to_the_cap() {
        let near = |d: Duration, ms: f64| (d.as_secs_f64() * 1e3 / ms - 1.0).abs() <= 0.051;
        assert!(near(retry_delay(1), 200.0));
        assert!(near(retry_delay(2), 240.0));
        assert!(near(retry_delay(3), 288.0));
        assert!(near(retry_delay(1000), 30_000.0));
    }

    #[test]
    fn the_throttle_waits_nothing_first_then_grows_to_its_cap() {
        let mut t = Throttle::default();
        assert_eq!(t.next_wait(), Duration::ZERO);
        for _ in 0..60 {
            t.next_wait();
        }
        assert!(t.delay <= THROTTLE_MAX);
        t.reset();
        assert_eq!(t.delay, THROTTLE_START);
    }

    #[test]
    fn five_hundreds_are_retried_until_the_tenth_and_429_forever() {
        let mut tries = 0;
        assert!((1..MAX_500_TRIES).all(|_| retries(500, &mut tries)));
        assert!(!retries(500, &mut tries));
        assert!((0..100).all(|_| retries(429, &mut tries)));
        assert!(!retries(404, &mut tries));
    }
}
