//! [`Tracked`]: a list kind's shown items, recording each change as a [`VectorDiff`] as it is
//! made, so that the actor can hand listeners the changes of each snapshot without comparing
//! whole lists.
//!
//! A kind changes its list through these methods only; between two snapshots it may make
//! several changes, which [`Tracked::take`] returns as one batch. A change that leaves an item
//! equal to what it was records nothing, so an empty batch means an equal snapshot (the
//! actor's dedup rests on that). Kinds that rebuild their whole list (small windows: the
//! conversation list, participants, reactions) hand the new list to [`Tracked::replace`], which
//! finds the change in O(n); the message window, which grows for days, changes item by item.

use std::sync::Arc;

use super::diffs::Change;
use super::list::{List, VectorDiff};

/// Changes of one snapshot larger than this share of the list are sent as one `Reset`.
const RESET_SHARE: usize = 2;

/// See the module docs.
#[derive(Debug)]
pub(crate) struct Tracked<T> {
    /// Whether the list can be seen (`None` snapshots otherwise).
    visible: bool,
    items: imbl::Vector<Arc<T>>,
    /// Changes since the last [`take`](Tracked::take).
    pending: Vec<VectorDiff<Arc<T>>>,
    /// Whether `visible` changed since the last `take`.
    visibility_changed: bool,
}

impl<T> Default for Tracked<T> {
    fn default() -> Self {
        Tracked {
            visible: false,
            items: imbl::Vector::new(),
            pending: Vec::new(),
            visibility_changed: false,
        }
    }
}

impl<T: PartialEq> Tracked<T> {
    /// The snapshot: `None` while hidden (O(1)).
    pub(crate) fn snapshot(&self) -> Option<List<T>> {
        self.visible.then(|| List::from(self.items.clone()))
    }

    /// Whether the list can be seen.
    pub(crate) fn visible(&self) -> bool {
        self.visible
    }

    /// The items shown.
    pub(crate) fn items(&self) -> &imbl::Vector<Arc<T>> {
        &self.items
    }

    pub(crate) fn len(&self) -> usize {
        self.items.len()
    }

    pub(crate) fn get(&self, index: usize) -> Option<&Arc<T>> {
        self.items.get(index)
    }

    /// Shows or hides the list (a hidden list has no items).
    pub(crate) fn set_visible(&mut self, visible: bool) {
        if self.visible != visible {
            self.visible = visible;
            self.visibility_changed = !self.visibility_changed;
        }
        if !visible {
            self.clear();
        }
    }

    /// Whether anything changed since the last [`take`](Tracked::take).
    pub(crate) fn changed(&self) -> bool {
        !self.pending.is_empty() || self.visibility_changed
    }

    /// The changes since the last call, as one batch.
    pub(crate) fn take(&mut self) -> Change<VectorDiff<Arc<T>>> {
        let diffs = std::mem::take(&mut self.pending);
        let shown = std::mem::take(&mut self.visibility_changed);
        if diffs.is_empty() && !shown {
            return Change::Unchanged;
        }
        Change::Diffs(diffs)
    }

    pub(crate) fn insert(&mut self, index: usize, value: Arc<T>) {
        let diff = if index == 0 {
            VectorDiff::PushFront {
                value: value.clone(),
            }
        } else if index == self.items.len() {
            VectorDiff::PushBack {
                value: value.clone(),
            }
        } else {
            VectorDiff::Insert {
                index,
                value: value.clone(),
            }
        };
        self.items.insert(index, value);
        self.pending.push(diff);
    }

    /// Adds items at the end.
    pub(crate) fn append(&mut self, values: Vec<Arc<T>>) {
        if values.is_empty() {
            return;
        }
        self.items.extend(values.iter().cloned());
        self.pending.push(VectorDiff::Append { values });
    }

    /// Replaces the item at `index`, unless it is equal.
    pub(crate) fn set(&mut self, index: usize, value: Arc<T>) -> bool {
        match self.items.get(index) {
            Some(old) if !Arc::ptr_eq(old, &value) && **old != *value => {}
            _ => return false,
        }
        self.items.set(index, value.clone());
        self.pending.push(VectorDiff::Set { index, value });
        true
    }

    pub(crate) fn remove(&mut self, index: usize) -> Option<Arc<T>> {
        if index >= self.items.len() {
            return None;
        }
        let diff = if index == 0 {
            VectorDiff::PopFront
        } else if index + 1 == self.items.len() {
            VectorDiff::PopBack
        } else {
            VectorDiff::Remove { index }
        };
        self.pending.push(diff);
        Some(self.items.remove(index))
    }

    /// Keeps the first `length` items.
    pub(crate) fn truncate(&mut self, length: usize) {
        if length >= self.items.len() {
            return;
        }
        self.items.truncate(length);
        self.pending.push(VectorDiff::Truncate { length });
    }

    pub(crate) fn clear(&mut self) {
        if self.items.is_empty() {
            return;
        }
        self.items.clear();
        self.pending.push(VectorDiff::Clear);
    }

    /// Shows `new` (visible), recording the change from what is shown: O(n), for rebuilt lists
    /// and refetches. Equal items (or the same shared ones) at both ends are kept; one item that
    /// moved (a conversation that became the most recent) is a `Remove` and an `Insert`; a change
    /// of most of the list is one `Reset`.
    pub(crate) fn replace(&mut self, new: imbl::Vector<Arc<T>>) {
        self.set_visible(true);
        let old = std::mem::replace(&mut self.items, new);
        let new = &self.items;
        let same = |a: &Arc<T>, b: &Arc<T>| Arc::ptr_eq(a, b) || a == b;
        let prefix = old
            .iter()
            .zip(new.iter())
            .take_while(|(a, b)| same(a, b))
            .count();
        let room = old.len().min(new.len()) - prefix;
        let suffix = old
            .iter()
            .rev()
            .zip(new.iter().rev())
            .take(room)
            .take_while(|(a, b)| same(a, b))
            .count();
        let (om, nm) = (old.len() - prefix - suffix, new.len() - prefix - suffix);
        let at = |v: &imbl::Vector<Arc<T>>, i: usize| v[prefix + i].clone();
        let mut diffs = Vec::new();
        if om == 0 && nm == 0 {
            return;
        } else if om == 0 && suffix == 0 {
            diffs.push(VectorDiff::Append {
                values: (0..nm).map(|i| at(new, i)).collect(),
            });
        } else if om == 0 {
            diffs.extend((0..nm).map(|i| VectorDiff::Insert {
                index: prefix + i,
                value: at(new, i),
            }));
        } else if nm == 0 && suffix == 0 {
            diffs.push(VectorDiff::Truncate { length: prefix });
        } else if nm == 0 {
            diffs.extend((0..om).map(|_| VectorDiff::Remove { index: prefix }));
        } else if om == nm && om == 1 {
            diffs.push(VectorDiff::Set {
                index: prefix,
                value: at(new, 0),
            });
        } else if om == nm && (1..om).all(|i| same(&old[prefix + i - 1], &new[prefix + i])) {
            // The last of the changed run moved to its front (and maybe changed).
            diffs.push(VectorDiff::Remove {
                index: prefix + om - 1,
            });
            diffs.push(VectorDiff::Insert {
                index: prefix,
                value: at(new, 0),
            });
        } else if om == nm && (1..om).all(|i| same(&old[prefix + i], &new[prefix + i - 1])) {
            // The first of the changed run moved to its end.
            diffs.push(VectorDiff::Remove { index: prefix });
            diffs.push(VectorDiff::Insert {
                index: prefix + om - 1,
                value: at(new, nm - 1),
            });
        } else if (om + nm) * RESET_SHARE > new.len().max(1) {
            diffs.push(VectorDiff::Reset {
                values: new.iter().cloned().collect(),
            });
        } else {
            diffs.extend((0..om).map(|_| VectorDiff::Remove { index: prefix }));
            diffs.extend((0..nm).map(|i| VectorDiff::Insert {
                index: prefix + i,
                value: at(new, i),
            }));
        }
        self.pending.extend(diffs);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(t: &Tracked<u32>) -> Vec<u32> {
        t.items().iter().map(|x| **x).collect()
    }

    fn replaced(old: &[u32], new: &[u32]) -> Vec<VectorDiff<Arc<u32>>> {
        let mut t = Tracked::default();
        t.replace(old.iter().map(|x| Arc::new(*x)).collect());
        t.take();
        let before = t.snapshot().unwrap_or_default();
        t.replace(new.iter().map(|x| Arc::new(*x)).collect());
        let Change::Diffs(d) = t.take() else {
            return Vec::new();
        };
        let after = before.apply(d.clone());
        assert_eq!(after.iter().map(|x| **x).collect::<Vec<_>>(), new);
        assert_eq!(list(&t), new);
        d
    }

    #[test]
    fn a_replacement_records_the_smallest_change_it_sees() {
        assert_eq!(replaced(&[1, 2, 3], &[1, 2, 3]), vec![]);
        assert!(matches!(
            replaced(&[1, 2, 3, 4], &[4, 1, 2, 3])[..],
            [
                VectorDiff::Remove { index: 3 },
                VectorDiff::Insert { index: 0, .. }
            ]
        ));
        assert!(matches!(
            replaced(&[1, 2, 3, 4], &[2, 3, 1, 4])[..],
            [
                VectorDiff::Remove { index: 0 },
                VectorDiff::Insert { index: 2, .. }
            ]
        ));
        assert!(matches!(
            replaced(&[1, 2], &[1, 2, 3])[..],
            [VectorDiff::Append { .. }]
        ));
        assert!(matches!(
            replaced(&[1, 2, 3], &[1])[..],
            [VectorDiff::Truncate { length: 1 }]
        ));
        assert!(matches!(
            replaced(&[1, 2, 3], &[1, 5, 3])[..],
            [VectorDiff::Set { index: 1, .. }]
        ));
        assert!(matches!(
            replaced(&[1, 2, 3], &[7, 8, 9])[..],
            [VectorDiff::Reset { .. }]
        ));
        replaced(
            &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
            &[1, 2, 11, 12, 5, 6, 7, 8, 9, 10],
        );
        replaced(&[], &[1, 2]);
        replaced(&[1, 2], &[]);
        replaced(&[1, 2, 3], &[0, 1, 2, 3]);
        replaced(&[1, 2, 3], &[1, 3]);
    }

    #[test]
    fn equal_edits_record_nothing_and_hiding_is_a_change() {
        let mut t = Tracked::default();
        t.replace((1..=3).map(Arc::new).collect());
        t.take();
        assert!(!t.set(1, Arc::new(2)));
        assert!(matches!(t.take(), Change::Unchanged));
        t.set_visible(false);
        assert!(t.snapshot().is_none());
        assert!(matches!(&t.take(), Change::Diffs(d) if d == &[VectorDiff::Clear]));
    }
}
