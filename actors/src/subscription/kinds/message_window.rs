//! [`MessageWindow`]: the messages a messages subscription shows, newest first, and every change
//! the kind makes to them, without I/O (the kind fetches; this applies).
//!
//! A subscription may stay open for days and its window grows with every message, so each
//! change costs O(log n) whatever the window's size: the items are a persistent vector
//! ([`Tracked`], which records each change for listeners), an index maps each id to its
//! creation time (its place is then a binary search away) and each referenced message to its
//! replies. A new message is inserted at its place by creation time, which for a live message
//! is the front. Only refetches (reconnects, reloads) and user renames touch every message.
//!
//! An optional bound ([`MessageWindow::with_max`], a Rust addition, off by default) keeps only
//! the newest n: older messages leave from the back as new ones arrive.

use std::sync::Arc;

use foldhash::{HashMap, HashSet};

use talkjs_protocol::snapshot::{MessageSnapshot, ReferencedMessageSnapshot, UserSnapshot};
use talkjs_protocol::wire::{MessageDiff, Millis};

use crate::subscription::ListSnapshot;
use crate::subscription::diffs::Change;
use crate::subscription::hydrate;
use crate::subscription::list::VectorDiff;
use crate::subscription::tracked::Tracked;

/// See the module docs.
#[derive(Debug, Default)]
pub(crate) struct MessageWindow {
    /// Newest first.
    list: Tracked<MessageSnapshot>,
    /// Each shown message's creation time, by id.
    created: HashMap<String, Millis>,
    /// The shown replies to each message, by the id of the message they reply to.
    replies: HashMap<String, HashSet<String>>,
    /// The most messages shown (`None`: no bound).
    max: Option<u32>,
    /// Whether older messages left the window because of `max` (the window is then incomplete
    /// whatever the cursor says, and `load_more` refetches from the newest).
    trimmed: bool,
}

impl MessageWindow {
    /// A window that shows at most `max` messages (`None`: all that are loaded).
    pub(crate) fn with_max(max: Option<usize>) -> MessageWindow {
        MessageWindow {
            max: max.map(|m| u32::try_from(m).unwrap_or(u32::MAX).max(1)),
            ..MessageWindow::default()
        }
    }

    pub(crate) fn max(&self) -> Option<usize> {
        self.max.map(|m| m as usize)
    }

    pub(crate) fn trimmed(&self) -> bool {
        self.trimmed
    }

    pub(crate) fn visible(&self) -> bool {
        self.list.visible()
    }

    pub(crate) fn len(&self) -> usize {
        self.list.len()
    }

    pub(crate) fn snapshot(&self) -> ListSnapshot<MessageSnapshot> {
        self.list.snapshot()
    }

    pub(crate) fn take_change(&mut self) -> Change<VectorDiff<Arc<MessageSnapshot>>> {
        self.list.take()
    }

    pub(crate) fn newest(&self) -> Option<&Arc<MessageSnapshot>> {
        self.list.get(0)
    }

    pub(crate) fn oldest(&self) -> Option<&Arc<MessageSnapshot>> {
        self.list.items().back()
    }

    pub(crate) fn contains(&self, id: &str) -> bool {
        self.created.contains_key(id)
    }

    /// Where the message with this id is shown (O(log² n)).
    fn position(&self, id: &str) -> Option<usize> {
        let created = *self.created.get(id)?;
        let items = self.list.items();
        let mut at = self.first_not_newer_than(created);
        while let Some(m) = items.get(at) {
            if m.id == id {
                return Some(at);
            }
            if m.created_at != created {
                return None;
            }
            at += 1;
        }
        None
    }

    /// The index of the first message not newer than `created` (binary search; O(1) for a
    /// message at least as new as the newest shown, which is where live messages go).
    fn first_not_newer_than(&self, created: Millis) -> usize {
        let items = self.list.items();
        match items.front() {
            None => return 0,
            Some(newest) if newest.created_at <= created => return 0,
            Some(_) => {}
        }
        let (mut lo, mut hi) = (1, items.len());
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if items[mid].created_at > created {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo
    }

    pub(crate) fn get(&self, id: &str) -> Option<&Arc<MessageSnapshot>> {
        self.position(id).and_then(|at| self.list.get(at))
    }

    /// A shown message as a reply shows it.
    pub(crate) fn referenced(&self, id: &str) -> Option<Arc<ReferencedMessageSnapshot>> {
        self.get(id).map(|m| Arc::new(m.to_referenced()))
    }

    fn index(&mut self, m: &MessageSnapshot) {
        self.created.insert(m.id.clone(), m.created_at);
        if let Some(r) = m.referenced_message_id() {
            self.replies
                .entry(r.to_owned())
                .or_default()
                .insert(m.id.clone());
        }
    }

    fn unindex(&mut self, m: &MessageSnapshot) {
        self.created.remove(&m.id);
        if let Some(r) = m.referenced_message_id()
            && let Some(replies) = self.replies.get_mut(r)
        {
            replies.remove(&m.id);
            if replies.is_empty() {
                self.replies.remove(r);
            }
        }
    }

    /// Shows the list as `None`, with no messages.
    pub(crate) fn hide(&mut self) {
        self.list.set_visible(false);
        self.created.clear();
        self.replies.clear();
        self.trimmed = false;
    }

    /// Empties the list (`conversation.cleared`).
    pub(crate) fn clear(&mut self) {
        self.list.clear();
        self.created.clear();
        self.replies.clear();
        self.trimmed = false;
    }

    /// Shows exactly `items` (newest first), after a load: O(n).
    pub(crate) fn reset(&mut self, items: Vec<Arc<MessageSnapshot>>) {
        self.created.clear();
        self.replies.clear();
        for m in &items {
            self.index(m);
        }
        self.trimmed = false;
        self.list.replace(items.into_iter().collect());
        self.trim();
    }

    /// The shown messages, newest first.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &Arc<MessageSnapshot>> {
        self.list.items().iter()
    }

    /// Inserts a message at its place by creation time; false if its id is shown already.
    pub(crate) fn insert(&mut self, m: Arc<MessageSnapshot>) -> bool {
        if self.contains(&m.id) {
            return false;
        }
        let at = self.first_not_newer_than(m.created_at);
        self.index(&m);
        self.list.insert(at, m);
        self.trim();
        true
    }

    /// Adds older messages (a page of `load_more`) at the end, skipping ids shown already.
    pub(crate) fn append_older(&mut self, older: Vec<Arc<MessageSnapshot>>) {
        let mut fresh = Vec::with_capacity(older.len());
        for m in older {
            if !self.contains(&m.id) {
                self.index(&m);
                fresh.push(m);
            }
        }
        self.list.append(fresh);
        self.trim();
    }

    /// Drops the oldest messages beyond the bound.
    fn trim(&mut self) {
        let Some(max) = self.max() else { return };
        let len = self.list.len();
        if len <= max {
            return;
        }
        let gone: Vec<Arc<MessageSnapshot>> = self.list.items().iter().skip(max).cloned().collect();
        for m in &gone {
            self.unindex(m);
        }
        if len == max + 1 {
            self.list.remove(max);
        } else {
            self.list.truncate(max);
        }
        self.trimmed = true;
    }

    /// Applies a `message.edited` diff; replies that show the message show the edit too.
    pub(crate) fn edit(&mut self, id: &str, diff: &MessageDiff) -> bool {
        let Some(at) = self.position(id) else {
            return false;
        };
        let Some(old) = self.list.get(at) else {
            return false;
        };
        let mut next = (**old).clone();
        next.apply(diff);
        if next == **old {
            return false;
        }
        let next = Arc::new(next);
        let referenced = Arc::new(next.to_referenced());
        self.list.set(at, next);
        self.for_each_reply(id, |m| {
            m.referenced_message.is_some().then(|| {
                let mut r = m.clone();
                r.referenced_message = Some(referenced.clone());
                r
            })
        });
        true
    }

    /// Removes a message (`message.deleted`); replies forget what it said. True if anything
    /// shown changed.
    pub(crate) fn delete(&mut self, id: &str) -> bool {
        let removed = match self.position(id) {
            Some(at) => self.list.remove(at),
            None => None,
        };
        if let Some(m) = &removed {
            self.unindex(m);
        }
        let replies = self.for_each_reply(id, |m| {
            let mut r = m.clone();
            r.clear_reference_to(id);
            Some(r)
        });
        removed.is_some() || replies
    }

    /// Replaces each shown reply to `id` by what `f` makes of it; true if any changed.
    fn for_each_reply(
        &mut self,
        id: &str,
        mut f: impl FnMut(&MessageSnapshot) -> Option<MessageSnapshot>,
    ) -> bool {
        let replies: Vec<String> = self
            .replies
            .get(id)
            .map(|r| r.iter().cloned().collect())
            .unwrap_or_default();
        let mut changed = false;
        for reply in replies {
            let Some(at) = self.position(&reply) else {
                continue;
            };
            if let Some(next) = self.list.get(at).and_then(|m| f(m)) {
                changed |= self.list.set(at, Arc::new(next));
            }
        }
        changed
    }

    /// Shows a user's new snapshot in the messages they sent (O(n): renames are rare).
    pub(crate) fn on_user(&mut self, user: &Arc<UserSnapshot>) -> bool {
        let changed: Vec<(usize, MessageSnapshot)> = self
            .list
            .items()
            .iter()
            .enumerate()
            .filter_map(|(at, m)| hydrate::with_user(m, user).map(|next| (at, next)))
            .collect();
        let any = !changed.is_empty();
        for (at, next) in changed {
            self.list.set(at, Arc::new(next));
        }
        any
    }
}

#[cfg(test)]
#[path = "message_window_tests.rs"]
mod tests;
