//! The items of a list snapshot ([`List`]) and the changes between two of them ([`VectorDiff`]).
//!
//! A list subscription can stay open for days while its window grows with every message. Its
//! snapshots are therefore persistent vectors (`imbl::Vector`, the structure matrix-rust-sdk's
//! timelines and room lists use through eyeball-im): every listener shares one structure, a
//! snapshot clones in O(1), and a change (a new message, an edit) costs O(log n) instead of a
//! copy of the whole window. The changes themselves are offered as a stream of [`VectorDiff`]s
//! (see `Subscription::diffs`), so a UI or a bot never re-reads the whole list to learn what
//! changed.

use std::sync::Arc;

use serde::{Serialize, Serializer};

/// The items of a list snapshot, in the list's order: a persistent vector of shared items.
///
/// Cloning is O(1) and clones share their structure; reading an item by index is O(log n).
/// Read it like a slice: [`len`](List::len), [`iter`](List::iter), indexing, `for m in &list`,
/// [`first`](List::first) / [`last`](List::last), or copy it out with [`to_vec`](List::to_vec).
/// It serialises as a JSON array, as the `Vec` it replaces did.
///
/// ```
/// # mod talkjs { pub use talkjs_actors::subscription::List; }
/// use std::sync::Arc;
/// use talkjs::List;
///
/// let list: List<&str> = vec![Arc::new("newest"), Arc::new("older")].into();
/// assert_eq!(list.len(), 2);
/// assert_eq!(*list[0], "newest");
/// assert_eq!(list.iter().map(|s| **s).collect::<Vec<_>>(), ["newest", "older"]);
/// ```
pub struct List<T> {
    items: imbl::Vector<Arc<T>>,
}

impl<T> List<T> {
    /// An empty list.
    pub fn new() -> List<T> {
        List {
            items: imbl::Vector::new(),
        }
    }

    /// The number of items.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether it has no items.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The item at `index`, if there is one.
    pub fn get(&self, index: usize) -> Option<&Arc<T>> {
        self.items.get(index)
    }

    /// The first item.
    pub fn first(&self) -> Option<&Arc<T>> {
        self.items.front()
    }

    /// The last item.
    pub fn last(&self) -> Option<&Arc<T>> {
        self.items.back()
    }

    /// The items in order.
    pub fn iter(&self) -> imbl::vector::Iter<'_, Arc<T>, imbl::shared_ptr::DefaultSharedPtr> {
        self.items.iter()
    }

    /// The items copied into a `Vec` (O(n); the items themselves are shared, not copied).
    pub fn to_vec(&self) -> Vec<Arc<T>> {
        self.items.iter().cloned().collect()
    }

    /// Whether both are the same structure (O(1)): true means equal, false means nothing.
    pub fn ptr_eq(&self, other: &List<T>) -> bool {
        self.items.ptr_eq(&other.items)
    }
}

impl<T> Clone for List<T> {
    fn clone(&self) -> Self {
        List {
            items: self.items.clone(),
        }
    }
}

impl<T> Default for List<T> {
    fn default() -> Self {
        List::new()
    }
}

impl<T: std::fmt::Debug> std::fmt::Debug for List<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.items.iter()).finish()
    }
}

impl<T: PartialEq> PartialEq for List<T> {
    /// Item by item, with a shortcut for shared structure and shared items.
    fn eq(&self, other: &List<T>) -> bool {
        self.ptr_eq(other)
            || (self.len() == other.len()
                && self
                    .iter()
                    .zip(other.iter())
                    .all(|(a, b)| Arc::ptr_eq(a, b) || a == b))
    }
}

impl<T> std::ops::Index<usize> for List<T> {
    type Output = Arc<T>;

    /// The item at `index`; panics when out of bounds, as a slice does.
    fn index(&self, index: usize) -> &Arc<T> {
        &self.items[index]
    }
}

impl<'a, T> IntoIterator for &'a List<T> {
    type Item = &'a Arc<T>;
    type IntoIter = imbl::vector::Iter<'a, Arc<T>, imbl::shared_ptr::DefaultSharedPtr>;

    fn into_iter(self) -> Self::IntoIter {
        self.items.iter()
    }
}

impl<T> FromIterator<Arc<T>> for List<T> {
    fn from_iter<I: IntoIterator<Item = Arc<T>>>(iter: I) -> Self {
        List {
            items: iter.into_iter().collect(),
        }
    }
}

impl<T> From<Vec<Arc<T>>> for List<T> {
    fn from(items: Vec<Arc<T>>) -> Self {
        items.into_iter().collect()
    }
}

impl<T> From<imbl::Vector<Arc<T>>> for List<T> {
    fn from(items: imbl::Vector<Arc<T>>) -> Self {
        List { items }
    }
}

impl<T: Serialize> Serialize for List<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.items.iter())
    }
}

/// One change to a list, as `Subscription::diffs` delivers them: applying a snapshot's
/// changes, in order, to the items of the snapshot before gives its items (see
/// [`apply`](VectorDiff::apply)). The variants are those of eyeball-im's `VectorDiff`, which
/// matrix-rust-sdk users know.
#[derive(Debug, Clone, PartialEq)]
pub enum VectorDiff<T> {
    /// Items added at the end.
    Append {
        /// The items, in order.
        values: Vec<T>,
    },
    /// All items removed.
    Clear,
    /// An item added at the front.
    PushFront {
        /// The item.
        value: T,
    },
    /// An item added at the end.
    PushBack {
        /// The item.
        value: T,
    },
    /// The first item removed.
    PopFront,
    /// The last item removed.
    PopBack,
    /// An item inserted at `index` (the items from there on move up one).
    Insert {
        /// Where.
        index: usize,
        /// The item.
        value: T,
    },
    /// The item at `index` replaced.
    Set {
        /// Where.
        index: usize,
        /// The new item.
        value: T,
    },
    /// The item at `index` removed.
    Remove {
        /// Where.
        index: usize,
    },
    /// Only the first `length` items kept.
    Truncate {
        /// How many remain.
        length: usize,
    },
    /// Every item replaced: the list is now `values`. Sent after a refetch that changed much,
    /// and to a listener that fell behind, in place of the changes it missed.
    Reset {
        /// The items, in order.
        values: Vec<T>,
    },
}

impl<T: Clone> VectorDiff<T> {
    /// Applies the change to `items`. An index out of bounds (a diff applied to the wrong list)
    /// changes nothing rather than panicking.
    ///
    /// ```
    /// # mod talkjs { pub use talkjs_actors::{imbl, subscription::VectorDiff}; }
    /// use talkjs::{VectorDiff, imbl};
    ///
    /// let mut items = imbl::Vector::from(vec![2, 3]);
    /// VectorDiff::PushFront { value: 1 }.apply(&mut items);
    /// VectorDiff::Set { index: 2, value: 4 }.apply(&mut items);
    /// assert_eq!(items, imbl::Vector::from(vec![1, 2, 4]));
    /// ```
    pub fn apply(self, items: &mut imbl::Vector<T>) {
        match self {
            VectorDiff::Append { values } => items.extend(values),
            VectorDiff::Clear => items.clear(),
            VectorDiff::PushFront { value } => items.push_front(value),
            VectorDiff::PushBack { value } => items.push_back(value),
            VectorDiff::PopFront => {
                items.pop_front();
            }
            VectorDiff::PopBack => {
                items.pop_back();
            }
            VectorDiff::Insert { index, value } if index <= items.len() => {
                items.insert(index, value)
            }
            VectorDiff::Set { index, value } if index < items.len() => {
                items.set(index, value);
            }
            VectorDiff::Remove { index } if index < items.len() => {
                items.remove(index);
            }
            VectorDiff::Truncate { length } => items.truncate(length.min(items.len())),
            VectorDiff::Reset { values } => *items = values.into_iter().collect(),
            VectorDiff::Insert { .. } | VectorDiff::Set { .. } | VectorDiff::Remove { .. } => {}
        }
    }
}

impl<T> List<T> {
    /// Applies a snapshot's changes, in order, and returns the list after them.
    ///
    /// ```
    /// # mod talkjs { pub use talkjs_actors::subscription::{List, VectorDiff}; }
    /// use std::sync::Arc;
    /// use talkjs::{List, VectorDiff};
    ///
    /// let before: List<&str> = vec![Arc::new("b")].into();
    /// let after = before.apply(vec![VectorDiff::PushFront { value: Arc::new("a") }]);
    /// assert_eq!(after.iter().map(|s| **s).collect::<Vec<_>>(), ["a", "b"]);
    /// ```
    pub fn apply(&self, diffs: impl IntoIterator<Item = VectorDiff<Arc<T>>>) -> List<T> {
        let mut items = self.items.clone();
        for d in diffs {
            d.apply(&mut items);
        }
        List { items }
    }
}

/// Reading a list snapshot without its `Option`.
pub trait ListItems<T> {
    /// The items; empty when the list cannot be seen (`None`).
    fn items(&self) -> List<T>;
}

impl<T> ListItems<T> for Option<List<T>> {
    fn items(&self) -> List<T> {
        self.clone().unwrap_or_default()
    }
}

/// How many items a list snapshot shows (for `Subscription::load_more`).
pub trait WindowLen {
    /// The number of items shown.
    fn window_len(&self) -> usize;
}

impl<T> WindowLen for Option<List<T>> {
    fn window_len(&self) -> usize {
        self.as_ref().map_or(0, List::len)
    }
}
