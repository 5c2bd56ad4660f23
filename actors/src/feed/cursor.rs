//! Which messages are new: one [`Cursor`] per conversation, without I/O.
//!
//! A cursor is where delivery stands in one conversation: the creation time of the last
//! message delivered (or, before any, the conversation's `lastMessageAt` when the feed started
//! following it), and the ids of the last few messages delivered at that time or just before,
//! so a repeat (an event that a catch-up already delivered, or a message sent in the same
//! millisecond as the last one) is recognised. Nothing else is kept: the cursor's size does not
//! grow with the number of messages, whatever the feed has delivered ([`RECENT_IDS`] bounds
//! the ids).
//!
//! A message is new when it was created after the cursor's time, or at that very millisecond
//! with an id the cursor does not know. At start, before any delivery, a message created in the
//! cursor's millisecond is taken as history (the conversation's listing already counted it).

use std::collections::{HashMap, VecDeque};

use talkjs_protocol::wire::{MessageWire, Millis};

/// Ids a cursor remembers, per conversation (the most recent deliveries). Repeats arrive close
/// together (an event racing the catch-up that fetched the same message), so a few suffice;
/// the bound is what keeps a feed's memory flat however long it runs.
pub const RECENT_IDS: usize = 32;

/// Where delivery stands in one conversation. See the module docs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    /// The creation time of the last message delivered, or where the feed started.
    at: Millis,
    /// Whether a message was delivered at `at` (else `at` is a start time: equal is history).
    delivered_at: bool,
    /// The latest delivered ids, oldest first; at most [`RECENT_IDS`].
    recent: VecDeque<String>,
}

impl Cursor {
    /// A cursor that takes everything created after `at` as new.
    pub fn after(at: Millis) -> Cursor {
        Cursor {
            at,
            delivered_at: false,
            recent: VecDeque::new(),
        }
    }

    /// The time it stands at.
    pub fn at(&self) -> Millis {
        self.at
    }

    /// Whether `m` is new here.
    pub fn is_new(&self, m: &MessageWire) -> bool {
        if self.recent.iter().any(|id| *id == m.id) {
            return false;
        }
        m.created_at > self.at || (m.created_at == self.at && self.delivered_at)
    }

    /// Records that `m` was delivered (or skipped on purpose, like the session's own messages):
    /// the cursor moves to it.
    pub fn advance(&mut self, m: &MessageWire) {
        if m.created_at > self.at {
            self.at = m.created_at;
        }
        self.delivered_at = true;
        if self.recent.len() == RECENT_IDS {
            self.recent.pop_front();
        }
        self.recent.push_back(m.id.clone());
    }

    /// How many ids it remembers (at most [`RECENT_IDS`]).
    pub fn remembered(&self) -> usize {
        self.recent.len()
    }

    /// Skips ahead to `at` (more was missed than a catch-up reads: see `Lagged`).
    pub fn jump_to(&mut self, at: Millis) {
        if at > self.at {
            self.at = at;
            self.delivered_at = false;
            self.recent.clear();
        }
    }
}

/// The cursors of the conversations a feed follows.
#[derive(Debug, Default)]
pub struct Cursors {
    by_conversation: HashMap<String, Cursor>,
}

impl Cursors {
    /// Follows `conversation` from `cursor`, unless it is followed already (then its cursor,
    /// which knows more, stays); true if it is new.
    pub fn follow(&mut self, conversation: &str, cursor: Cursor) -> bool {
        if self.by_conversation.contains_key(conversation) {
            return false;
        }
        self.by_conversation.insert(conversation.to_owned(), cursor);
        true
    }

    /// Stops following `conversation`.
    pub fn forget(&mut self, conversation: &str) -> bool {
        self.by_conversation.remove(conversation).is_some()
    }

    /// The cursor of `conversation`, if followed.
    pub fn get(&self, conversation: &str) -> Option<&Cursor> {
        self.by_conversation.get(conversation)
    }

    /// The cursor of `conversation`, if followed.
    pub fn get_mut(&mut self, conversation: &str) -> Option<&mut Cursor> {
        self.by_conversation.get_mut(conversation)
    }

    /// Whether `m` is new in `conversation` (false if it is not followed).
    pub fn is_new(&self, conversation: &str, m: &MessageWire) -> bool {
        self.get(conversation).is_some_and(|c| c.is_new(m))
    }

    /// The conversations followed.
    pub fn conversations(&self) -> impl Iterator<Item = &String> {
        self.by_conversation.keys()
    }

    /// How many conversations are followed.
    pub fn len(&self) -> usize {
        self.by_conversation.len()
    }

    /// Ids remembered over all conversations (at most [`RECENT_IDS`] each).
    pub fn remembered(&self) -> usize {
        self.by_conversation.values().map(Cursor::remembered).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(id: &str, at: Millis) -> MessageWire {
        serde_json::from_value(serde_json::json!({
            "id": id, "type": "UserMessage", "senderId": "u", "custom": {}, "createdAt": at,
            "editedAt": null, "referencedMessageId": null, "origin": "web", "content": [],
            "reactions": {}
        }))
        .expect("a message")
    }

    #[test]
    fn history_is_not_new_and_later_messages_are_once() {
        let mut c = Cursor::after(100);
        assert!(!c.is_new(&message("old", 90)));
        assert!(!c.is_new(&message("last", 100)), "the listing counted it");
        let m = message("m1", 101);
        assert!(c.is_new(&m));
        c.advance(&m);
        assert!(!c.is_new(&m), "delivered once");
        let same_ms = message("m2", 101);
        assert!(
            c.is_new(&same_ms),
            "another message in the same millisecond is new"
        );
        c.advance(&same_ms);
        assert!(!c.is_new(&same_ms));
        assert!(!c.is_new(&message("late", 100)));
    }

    #[test]
    fn the_state_stays_at_its_cap_after_ten_thousand_messages() {
        let mut cursors = Cursors::default();
        cursors.follow("c1", Cursor::after(0));
        for i in 1..=10_000 {
            let m = message(&format!("m{i}"), i);
            assert!(cursors.is_new("c1", &m));
            cursors.get_mut("c1").expect("followed").advance(&m);
        }
        assert_eq!(cursors.remembered(), RECENT_IDS);
        assert_eq!(cursors.get("c1").map(Cursor::at), Some(10_000));
        // A repeat of anything already delivered is still refused: recent ids by id, older by time.
        assert!(!cursors.is_new("c1", &message("m10000", 10_000)));
        assert!(!cursors.is_new("c1", &message("m5", 5)));
    }

    #[test]
    fn a_jump_forgets_what_it_skipped() {
        let mut c = Cursor::after(0);
        c.advance(&message("m1", 1));
        c.jump_to(50);
        assert_eq!(c.remembered(), 0);
        assert!(!c.is_new(&message("m50", 50)));
        assert!(c.is_new(&message("m51", 51)));
    }

    #[test]
    fn unfollowed_conversations_have_nothing_new() {
        let mut cursors = Cursors::default();
        assert!(!cursors.is_new("c1", &message("m1", 1)));
        assert!(cursors.follow("c1", Cursor::after(5)));
        assert!(
            !cursors.follow("c1", Cursor::after(0)),
            "the first cursor stays"
        );
        assert_eq!(cursors.get("c1").map(Cursor::at), Some(5));
        assert!(cursors.forget("c1"));
        assert_eq!(cursors.len(), 0);
    }
}
