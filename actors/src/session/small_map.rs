//! A map for the session's per-subscription bookkeeping (topics, routes): an idle session holds
//! one or two entries, so while it is small it is a vector sized exactly to its entries (a
//! `HashMap` allocates at least four buckets); past [`FEW`] entries it becomes a `HashMap`, so a
//! session with thousands of subscriptions still finds an entry in constant time.

use std::collections::HashMap;
use std::hash::Hash;

/// At most this many entries are kept in the vector.
const FEW: usize = 8;

/// See the module docs. Iteration order is unspecified, as a `HashMap`'s. The `HashMap` is
/// boxed, so the map is as small as a vector where it is held (the session holds five).
pub(crate) enum SmallMap<K, V> {
    Few(Vec<(K, V)>),
    // Deliberate: the box keeps every (mostly small) map at a vector's size.
    #[allow(clippy::box_collection)]
    Many(Box<HashMap<K, V>>),
}

impl<K, V> Default for SmallMap<K, V> {
    fn default() -> Self {
        SmallMap::Few(Vec::new())
    }
}

impl<K: Eq + Hash, V> SmallMap<K, V> {
    pub(crate) fn get(&self, key: &K) -> Option<&V> {
        match self {
            SmallMap::Few(v) => v.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            SmallMap::Many(m) => m.get(key),
        }
    }

    pub(crate) fn get_mut(&mut self, key: &K) -> Option<&mut V> {
        match self {
            SmallMap::Few(v) => v.iter_mut().find(|(k, _)| k == key).map(|(_, v)| v),
            SmallMap::Many(m) => m.get_mut(key),
        }
    }

    /// Inserts, returning the value the key had.
    pub(crate) fn insert(&mut self, key: K, value: V) -> Option<V> {
        match self {
            SmallMap::Few(v) => {
                if let Some((_, old)) = v.iter_mut().find(|(k, _)| *k == key) {
                    return Some(std::mem::replace(old, value));
                }
                if v.len() < FEW {
                    // One entry at a time: a vector's first growth would make room for four.
                    v.reserve_exact(1);
                    v.push((key, value));
                    return None;
                }
                let mut m: HashMap<K, V> = std::mem::take(v).into_iter().collect();
                m.insert(key, value);
                *self = SmallMap::Many(Box::new(m));
                None
            }
            SmallMap::Many(m) => m.insert(key, value),
        }
    }

    /// Removes, returning the value; an emptied map gives its memory back.
    pub(crate) fn remove(&mut self, key: &K) -> Option<V> {
        let removed = match self {
            SmallMap::Few(v) => {
                let i = v.iter().position(|(k, _)| k == key)?;
                let (_, value) = v.swap_remove(i);
                v.shrink_to_fit();
                Some(value)
            }
            SmallMap::Many(m) => m.remove(key),
        };
        if self.is_empty() {
            self.clear();
        }
        removed
    }

    pub(crate) fn len(&self) -> usize {
        match self {
            SmallMap::Few(v) => v.len(),
            SmallMap::Many(m) => m.len(),
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Empties the map and gives its memory back.
    pub(crate) fn clear(&mut self) {
        *self = SmallMap::default();
    }

    pub(crate) fn iter(&self) -> Iter<'_, K, V> {
        match self {
            SmallMap::Few(v) => Iter::Few(v.iter()),
            SmallMap::Many(m) => Iter::Many(m.iter()),
        }
    }

    pub(crate) fn keys(&self) -> impl Iterator<Item = &K> {
        self.iter().map(|(k, _)| k)
    }

    pub(crate) fn values(&self) -> impl Iterator<Item = &V> {
        self.iter().map(|(_, v)| v)
    }
}

/// The entries of a [`SmallMap`].
pub(crate) enum Iter<'a, K, V> {
    Few(std::slice::Iter<'a, (K, V)>),
    Many(std::collections::hash_map::Iter<'a, K, V>),
}

impl<'a, K, V> Iterator for Iter<'a, K, V> {
    type Item = (&'a K, &'a V);

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            Iter::Few(i) => i.next().map(|(k, v)| (k, v)),
            Iter::Many(i) => i.next(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_into_a_hash_map_and_keeps_every_entry() {
        let mut m = SmallMap::default();
        for i in 0..20u32 {
            assert_eq!(m.insert(i, i * 10), None);
            assert_eq!(m.len(), i as usize + 1);
        }
        assert!(matches!(m, SmallMap::Many(_)));
        assert_eq!(m.insert(3, 33), Some(30));
        for i in 0..20u32 {
            let want = if i == 3 { 33 } else { i * 10 };
            assert_eq!(m.get(&i), Some(&want));
        }
        let mut keys: Vec<u32> = m.keys().copied().collect();
        keys.sort();
        assert_eq!(keys, (0..20).collect::<Vec<_>>());
        for i in 0..20u32 {
            assert!(m.remove(&i).is_some());
        }
        assert!(m.is_empty());
        assert!(matches!(&m, SmallMap::Few(v) if v.capacity() == 0));
    }

    #[test]
    fn a_small_map_holds_exactly_its_entries() {
        let mut m = SmallMap::default();
        m.insert("a", 1);
        m.insert("b", 2);
        assert!(matches!(&m, SmallMap::Few(v) if v.capacity() == 2));
        assert_eq!(m.insert("a", 3), Some(1));
        *m.get_mut(&"b").unwrap() += 1;
        assert_eq!(m.get(&"b"), Some(&3));
        assert_eq!(m.remove(&"a"), Some(3));
        assert_eq!(m.remove(&"a"), None);
        assert_eq!(m.values().copied().collect::<Vec<_>>(), vec![3]);
    }
}
