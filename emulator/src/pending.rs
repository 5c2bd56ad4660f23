//! The cap on sockets that have not authenticated yet, per IP address.
//!
//! Opening a socket needs only the public app id, and every open socket holds a file descriptor:
//! 1,003 sockets that never logged in locked every other client out of an emulator with a 1,024
//! descriptor limit. Each socket holds a [`PendingSlot`] from its upgrade until it first
//! authenticates (or closes); an address over [`Limits::max_pending_per_address`] slots is
//! refused before the upgrade. With the login deadline (each pending socket is closed after
//! [`Limits::login_deadline`]) this bounds what one address can hold without a valid token.
//!
//! [`Limits::max_pending_per_address`]: crate::config::Limits::max_pending_per_address
//! [`Limits::login_deadline`]: crate::config::Limits::login_deadline

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

/// Counts unauthenticated sockets per address. Its own small lock, never the world's: a slot is
/// released on `Drop`, which may happen while the world is locked.
#[derive(Debug)]
pub struct PendingSockets {
    max_per_address: usize,
    counts: Mutex<HashMap<IpAddr, usize>>,
}

/// One unauthenticated socket's place in its address's count; released when dropped.
#[derive(Debug)]
pub struct PendingSlot {
    owner: Arc<PendingSockets>,
    ip: IpAddr,
}

impl PendingSockets {
    /// A counter allowing `max_per_address` unauthenticated sockets per address.
    pub fn new(max_per_address: usize) -> Arc<PendingSockets> {
        Arc::new(PendingSockets {
            max_per_address,
            counts: Mutex::new(HashMap::new()),
        })
    }

    /// A slot for one more socket from `ip`, or `None` if the address holds its maximum.
    pub fn acquire(self: &Arc<Self>, ip: IpAddr) -> Option<PendingSlot> {
        let mut counts = self.lock();
        let n = counts.entry(ip).or_insert(0);
        if *n >= self.max_per_address {
            return None;
        }
        *n += 1;
        Some(PendingSlot {
            owner: self.clone(),
            ip,
        })
    }

    /// How many unauthenticated sockets `ip` holds.
    pub fn count(&self, ip: IpAddr) -> usize {
        self.lock().get(&ip).copied().unwrap_or(0)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<IpAddr, usize>> {
        // Counts stay consistent even if a holder panicked: every change is one statement.
        self.counts
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Drop for PendingSlot {
    fn drop(&mut self) {
        let mut counts = self.owner.lock();
        if let Some(n) = counts.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                counts.remove(&self.ip);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_counted_per_address_and_released_on_drop() {
        let p = PendingSockets::new(2);
        let a: IpAddr = [127, 0, 0, 1].into();
        let b: IpAddr = [10, 0, 0, 1].into();
        let s1 = p.acquire(a).expect("first");
        let _s2 = p.acquire(a).expect("second");
        assert!(p.acquire(a).is_none(), "a third from the same address");
        let _other = p.acquire(b).expect("another address has its own count");
        drop(s1);
        assert_eq!(p.count(a), 1);
        assert!(p.acquire(a).is_some());
    }
}
