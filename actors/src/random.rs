//! Small, non-cryptographic randomness for jitter, client ids and idempotency keys.
//!
//! The standard library's `RandomState` is seeded randomly per process; hashing a counter with it
//! gives independent-looking values without adding a dependency. Nothing here protects secrets.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

static STATE: OnceLock<RandomState> = OnceLock::new();
static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A random 64-bit value.
pub fn u64() -> u64 {
    let mut h = STATE.get_or_init(RandomState::new).build_hasher();
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    h.finish()
}

/// A random value in [0, 1).
pub fn unit() -> f64 {
    (u64() >> 11) as f64 / (1u64 << 53) as f64
}

/// The current Unix time in milliseconds.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// A client id like the official client's: up to 16 decimal digits, fixed for a session. Kept
/// as a number and written with [`ClientId`]'s `Display` (16 digits, zero-padded).
pub fn client_id() -> ClientId {
    ClientId(u64() % 10_000_000_000_000_000)
}

/// A session's client id, see [`client_id`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientId(u64);

impl std::fmt::Display for ClientId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:016}", self.0)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn values_vary_and_unit_stays_in_range() {
        let a: Vec<u64> = (0..100).map(|_| super::u64()).collect();
        let mut b = a.clone();
        b.sort_unstable();
        b.dedup();
        assert_eq!(b.len(), a.len());
        assert!(
            (0..1000)
                .map(|_| super::unit())
                .all(|x| (0.0..1.0).contains(&x))
        );
    }
}
