//! Time, in Unix milliseconds: the wall clock, never going backwards.
//!
//! Timestamps are the wall-clock time of the action; several actions may share a millisecond.
//! Where order needs distinct times, just those are made unique: messages and joins, which
//! message pages, participant lists and conversation lists sort by, get strictly increasing
//! times ([`Clock::ordered`]). Nothing else consumes a millisecond, so no request but a send or a
//! join can move time forward: 300,000 typing requests once stamped the next message 295 s in
//! the future, when every call consumed a distinct millisecond.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use talkjs_protocol::wire::Millis;

/// A millisecond clock that never goes backwards (the system clock may, when it is corrected).
#[derive(Debug, Default)]
pub struct Clock {
    last: AtomicI64,
    /// The last [`Clock::ordered`] time handed out.
    last_message: AtomicI64,
}

impl Clock {
    /// The current time, never earlier than an earlier answer.
    pub fn now(&self) -> Millis {
        let wall = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as Millis)
            .unwrap_or(0);
        self.last.fetch_max(wall, Ordering::Relaxed).max(wall)
    }

    /// The time of something lists order by (a message, a join): now, but later than every
    /// earlier such time (conversation lists order by last message or join time, across
    /// conversations) and than `floor`.
    pub fn ordered(&self, floor: Option<Millis>) -> Millis {
        let now = self.now();
        let mut prev = self.last_message.load(Ordering::Relaxed);
        loop {
            let next = now.max(prev + 1).max(floor.map_or(0, |f| f + 1));
            match self.last_message.compare_exchange_weak(
                prev,
                next,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
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
    fn follows_the_wall_clock_and_never_goes_back() {
        let c = Clock::default();
        let first = c.now();
        let mut last = first;
        for _ in 0..100_000 {
            let t = c.now();
            assert!(t >= last);
            last = t;
        }
        let wall = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis() as Millis;
        assert!(last <= wall, "100,000 calls did not push the clock ahead");
    }

    #[test]
    fn ordereds_strictly_increase_and_pass_the_floor() {
        let c = Clock::default();
        let mut last = 0;
        for _ in 0..10_000 {
            let t = c.ordered(None);
            assert!(t > last);
            last = t;
        }
        assert_eq!(c.ordered(Some(last + 10)), last + 11);
        assert!(
            c.now() < last + 11,
            "ordered times do not move the clock of everything else"
        );
    }
}
