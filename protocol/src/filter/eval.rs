//! Filter evaluation: does a conversation (or message) match a filter?
//!
//! The rules are the official client's (docs/protocol.md §5.5), which a server must share for the
//! client's realtime placement and the server's first page to agree:
//!
//! - `lastActivityAt` is tested against the conversation's `lastMessageAt` (which equals
//!   `joinedAt` when there are no messages);
//! - `hasMessages` is `lastMessageAt != joinedAt`;
//! - a custom key's `"exists"` means the key is set; `==` and `oneOf` fail on an unset key, `!=`
//!   and `!oneOf` pass;
//! - `between` includes its lower bound and excludes its upper bound;
//! - a compound filter matches when any member does, so `["any",[]]` matches nothing.
//!
//! Each field is tested by its own predicate ([`StringFilter::test`], [`NumberFilter::test`],
//! [`CustomFilter::test`]); a simple filter is their conjunction.

use super::{
    ConversationFilter, CustomFilter, MessageFilter, NumberFilter, SimpleConversationFilter,
    SimpleMessageFilter, StringFilter,
};
use crate::snapshot::ConversationSnapshot;
use crate::wire::{Access, ConversationWire, Custom, MessageWire, Millis};

/// What a conversation filter looks at. Implemented for the wire object, which servers and
/// caches hold, and for [`ConversationSnapshot`].
pub trait FilterableConversation {
    /// The current user's access.
    fn access(&self) -> Access;
    /// Custom data.
    fn custom(&self) -> &Custom;
    /// Whether the conversation is unread.
    fn is_unread(&self) -> bool;
    /// The subject, if any.
    fn subject(&self) -> Option<&str>;
    /// When the conversation was created.
    fn created_at(&self) -> Millis;
    /// When the current user joined.
    fn joined_at(&self) -> Millis;
    /// The time `lastActivityAt` is tested against.
    fn last_activity_at(&self) -> Millis;
    /// Whether the conversation has messages.
    fn has_messages(&self) -> bool;
}

impl FilterableConversation for ConversationWire {
    fn access(&self) -> Access {
        self.access
    }
    fn custom(&self) -> &Custom {
        &self.custom
    }
    fn is_unread(&self) -> bool {
        self.is_unread
    }
    fn subject(&self) -> Option<&str> {
        self.subject.as_deref()
    }
    fn created_at(&self) -> Millis {
        self.created_at
    }
    fn joined_at(&self) -> Millis {
        self.joined_at
    }
    fn last_activity_at(&self) -> Millis {
        self.last_message_at
    }
    fn has_messages(&self) -> bool {
        self.last_message_at != self.joined_at
    }
}

/// A snapshot has no `lastMessageAt`; its last message stands in for it, as in the official
/// client's list order (`lastMessage.createdAt`, or `joinedAt` when there is none).
impl FilterableConversation for ConversationSnapshot {
    fn access(&self) -> Access {
        self.access
    }
    fn custom(&self) -> &Custom {
        &self.custom
    }
    fn is_unread(&self) -> bool {
        self.is_unread
    }
    fn subject(&self) -> Option<&str> {
        self.subject.as_deref()
    }
    fn created_at(&self) -> Millis {
        self.created_at
    }
    fn joined_at(&self) -> Millis {
        self.joined_at
    }
    fn last_activity_at(&self) -> Millis {
        self.last_message
            .as_ref()
            .map_or(self.joined_at, |m| m.created_at)
    }
    fn has_messages(&self) -> bool {
        self.last_message.is_some()
    }
}

/// Tests an optional predicate: an absent one always passes.
fn check<F>(filter: &Option<F>, test: impl FnOnce(&F) -> bool) -> bool {
    filter.as_ref().is_none_or(test)
}

/// Tests the subject, a nullable string.
fn subject_matches(f: &StringFilter<Option<String>>, subject: Option<&str>) -> bool {
    f.test(Some(&subject.map(str::to_owned)))
}

impl SimpleConversationFilter {
    /// True if the conversation matches every given field.
    pub fn matches(&self, c: &impl FilterableConversation) -> bool {
        check(&self.access, |f| f.test(Some(&c.access())))
            && check(&self.created_at, |f| f.test(c.created_at()))
            && check(&self.custom, |f: &CustomFilter| f.test(c.custom()))
            && check(&self.has_messages, |yes| *yes == c.has_messages())
            && check(&self.is_unread, |yes| *yes == c.is_unread())
            && check(&self.joined_at, |f| f.test(c.joined_at()))
            && check(&self.last_activity_at, |f: &NumberFilter| {
                f.test(c.last_activity_at())
            })
            && check(&self.subject, |f| subject_matches(f, c.subject()))
    }
}

impl ConversationFilter {
    /// True if the conversation matches: the simple filter, or any member of a compound.
    ///
    /// ```
    /// # mod talkjs { pub use talkjs_protocol::{filter, params, snapshot}; pub use talkjs_protocol as protocol; }
    /// use talkjs::filter::ConversationFilter;
    /// use talkjs::protocol::wire::ConversationWire;
    /// let c: ConversationWire = serde_json::from_str(r#"{"id":"c1","subject":null,"photoUrl":null,
    ///     "welcomeMessages":[],"custom":{},"createdAt":1,"joinedAt":1,"lastMessageAt":1,
    ///     "unreadMessageCount":0,"isUnread":false,"access":"ReadWrite","notify":true,
    ///     "readUntil":1,"everyoneReadUntil":1}"#).unwrap();
    /// let empty: ConversationFilter = serde_json::from_str(r#"{"hasMessages":false}"#).unwrap();
    /// assert!(empty.matches(&c));
    /// ```
    pub fn matches(&self, c: &impl FilterableConversation) -> bool {
        self.members().iter().any(|f| f.matches(c))
    }
}

impl SimpleMessageFilter {
    /// True if the message matches every given field.
    pub fn matches(&self, m: &MessageWire) -> bool {
        check(&self.created_at, |f| f.test(m.created_at))
            && check(&self.custom, |f| f.test(&m.custom))
            && check(&self.origin, |f| f.test(Some(&m.origin)))
            && check(&self.sender, |f| f.test(m.sender_id.as_ref()))
            && check(&self.kind, |f| f.test(Some(&m.kind)))
    }
}

impl MessageFilter {
    /// True if the message matches: the simple filter, or any member of a compound.
    pub fn matches(&self, m: &MessageWire) -> bool {
        self.members().iter().any(|f| f.matches(m))
    }
}
