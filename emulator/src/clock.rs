//! Time, in Unix milliseconds, strictly increasing.
//!
//! Message order, list order and cursors all sort by timestamp; two events in the same
//! millisecond would tie. The clock therefore never returns the same value twice.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use talkjs_protocol::wire::Millis;

/// A strictly increasing millisecond clock.
#[derive(Debug, Default)]
pub struct Clock {
    last: AtomicI64,
}

impl Clock {
    /// The current time, later than every earlier answer.
    pub fn now(&self) -> Millis {
        let wall = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as Millis)
            .unwrap_or(0);
        let mut prev = self.last.load(Ordering::Relaxed);
        loop {
            let next = wall.max(prev + 1);
            match self
                .last
                .compare_exchange_weak(prev, next, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => return next,
                Err(p) => prev = p,
            }
        }
    }

    /// The wall-clock time in whole seconds (for token expiry).
    pub fn unix_seconds(&self) -> i64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_repeats() {
        let c = Clock::default();
        let mut last = 0;
        for _ in 0..10_000 {
            let t = c.now();
            assert!(t > last);
            last = t;
        }
    }
}
