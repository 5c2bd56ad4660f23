//! An LRU that costs nothing while empty.
//!
//! `lru::LruCache` allocates two sentinel entries (each the size of a key and a value) when it
//! is made, even unbounded. Every session has a cache shard with two LRUs and most never put
//! anything in them, so the shard holds them as [`LazyLru`]: made on the first insert, and
//! dropped again once emptied.

use std::borrow::Borrow;
use std::hash::Hash;

use lru::LruCache;

/// An unbounded `LruCache` (the shard enforces its bound) that exists only while it holds
/// entries.
pub(super) struct LazyLru<K, V>(Option<LruCache<K, V>>);

impl<K: Hash + Eq, V> LazyLru<K, V> {
    pub(super) fn new() -> LazyLru<K, V> {
        LazyLru(None)
    }

    pub(super) fn len(&self) -> usize {
        self.0.as_ref().map_or(0, LruCache::len)
    }

    /// The value of `key`, marked as most recently used.
    pub(super) fn get<Q>(&mut self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.0.as_mut()?.get(key)
    }

    /// Inserts or replaces `key`'s value; returns the old value.
    pub(super) fn put(&mut self, key: K, value: V) -> Option<V> {
        self.0
            .get_or_insert_with(LruCache::unbounded)
            .put(key, value)
    }

    /// Inserts or replaces `key`'s value; returns the replaced entry.
    pub(super) fn push(&mut self, key: K, value: V) -> Option<(K, V)> {
        self.0
            .get_or_insert_with(LruCache::unbounded)
            .push(key, value)
    }

    /// Removes `key`.
    pub(super) fn pop<Q>(&mut self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let value = self.0.as_mut()?.pop(key);
        self.release_if_empty();
        value
    }

    /// Removes the least recently used entry.
    pub(super) fn pop_lru(&mut self) -> Option<(K, V)> {
        let entry = self.0.as_mut()?.pop_lru();
        self.release_if_empty();
        entry
    }

    /// The least recently used entry.
    pub(super) fn peek_lru(&self) -> Option<(&K, &V)> {
        self.0.as_ref()?.peek_lru()
    }

    /// Removes everything.
    pub(super) fn clear(&mut self) {
        self.0 = None;
    }

    fn release_if_empty(&mut self) {
        if self.0.as_ref().is_some_and(LruCache::is_empty) {
            self.0 = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::LazyLru;

    #[test]
    fn it_behaves_as_an_lru_and_is_gone_once_empty() {
        let mut lru = LazyLru::new();
        assert!(lru.0.is_none(), "nothing is allocated up front");
        lru.put("a", 1);
        lru.put("b", 2);
        assert_eq!(lru.get("a"), Some(&1)); // "b" is now the least recently used
        assert_eq!(lru.peek_lru(), Some((&"b", &2)));
        assert_eq!(lru.push("a", 3), Some(("a", 1)));
        assert_eq!(lru.len(), 2);
        assert_eq!(lru.pop_lru(), Some(("b", 2)));
        assert_eq!(lru.pop("a"), Some(3));
        assert_eq!(lru.len(), 0);
        assert!(lru.0.is_none(), "an emptied LRU is dropped");
        assert_eq!(lru.pop("a"), None);
        lru.put("c", 4);
        lru.clear();
        assert!(lru.0.is_none());
    }
}
