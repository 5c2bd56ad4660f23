//! Conversation (and message) filters: their JSON form, their normalisation, and their evaluation.
//!
//! A filter is data, not a closure, because it travels: the client sends it in the first page
//! request of a conversation list (`GET /me/conversations {limit, filter}`) and in search URLs,
//! and the server applies it. Both sides of this project use the same code for it:
//!
//! - **Shape** (this file and [`predicate`]): a [`ConversationFilter`] is one
//!   [`SimpleConversationFilter`] (every given field must match, AND) or `["any", [..]]` (at
//!   least one must match, OR). A simple filter is made of small predicates, one per field:
//!   [`StringFilter`], [`NumberFilter`], [`CustomFilter`]. The JSON is exactly the official
//!   client's.
//! - **Normalisation** ([`normalise`]): the canonical form the official client sends, so that
//!   equal filters share one list and one cache key (docs/protocol.md §5.5).
//! - **Evaluation** ([`eval`]): does a conversation match? The emulator uses it to filter list
//!   pages; the runtime uses it to place conversations that change in realtime.
//!
//! Fields of simple filters are declared, and so serialised, in alphabetical order of their JSON
//! names: that is the order normalisation produces, so a normalised filter serialises byte for
//! byte like the official client's.
//!
//! ```
//! # mod talkjs { pub use talkjs_protocol::{filter, params, snapshot}; pub use talkjs_protocol as protocol; }
//! use talkjs::filter::{ConversationFilter, CustomFieldFilter, SimpleConversationFilter, StringFilter};
//! use talkjs::protocol::wire::Access;
//!
//! let unread_writable = SimpleConversationFilter::new()
//!     .access(StringFilter::Ne(Access::ReadWrite))
//!     .is_unread(true);
//! let with_topic = SimpleConversationFilter::new().custom("topic", CustomFieldFilter::exists());
//! let filter = ConversationFilter::any([unread_writable, with_topic]);
//! assert_eq!(
//!     serde_json::to_string(&filter.normalise()).unwrap(),
//!     r#"["any",[{"access":["==","Read"],"isUnread":true},{"custom":{"topic":"exists"}}]]"#,
//! );
//! ```

pub mod eval;
pub mod normalise;
pub mod predicate;

use std::fmt;

use serde::de::value::MapAccessDeserializer;
use serde::de::{self, DeserializeOwned, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::ser::{SerializeTuple, Serializer};
use serde::{Deserialize, Serialize};

pub use eval::FilterableConversation;
pub use predicate::{CustomFieldFilter, CustomFilter, NumberFilter, StringFilter};

use crate::wire::{Access, MessageType, Origin};

impl CustomFieldFilter {
    /// `"exists"`: the key is set.
    pub fn exists() -> Self {
        CustomFieldFilter::Exists
    }

    /// `"!exists"`: the key is not set.
    pub fn not_exists() -> Self {
        CustomFieldFilter::NotExists
    }
}

/// A filter on conversations whose every given field must match.
///
/// An empty filter (`{}`) matches every conversation.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SimpleConversationFilter {
    /// The current user's access.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access: Option<StringFilter<Access>>,
    /// When the conversation was created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<NumberFilter>,
    /// Custom data keys.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom: Option<CustomFilter>,
    /// Whether the conversation has any messages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub has_messages: Option<bool>,
    /// Whether the current user has unread messages in it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_unread: Option<bool>,
    /// When the current user joined it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub joined_at: Option<NumberFilter>,
    /// When its last message was sent, or when the current user joined if it has none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_activity_at: Option<NumberFilter>,
    /// The subject; `None` in the operand stands for "no subject" (`null`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<StringFilter<Option<String>>>,
}

impl SimpleConversationFilter {
    /// A filter that matches every conversation.
    pub fn new() -> Self {
        Self::default()
    }

    /// Filters on the current user's access.
    pub fn access(mut self, f: StringFilter<Access>) -> Self {
        self.access = Some(f);
        self
    }

    /// Filters on the creation time.
    pub fn created_at(mut self, f: NumberFilter) -> Self {
        self.created_at = Some(f);
        self
    }

    /// Adds a predicate on one custom data key.
    pub fn custom(mut self, key: impl Into<String>, f: CustomFieldFilter) -> Self {
        self.custom
            .get_or_insert_with(CustomFilter::new)
            .insert(key.into(), f);
        self
    }

    /// Filters on whether the conversation has messages.
    pub fn has_messages(mut self, yes: bool) -> Self {
        self.has_messages = Some(yes);
        self
    }

    /// Filters on whether the conversation is unread.
    pub fn is_unread(mut self, yes: bool) -> Self {
        self.is_unread = Some(yes);
        self
    }

    /// Filters on the time the current user joined.
    pub fn joined_at(mut self, f: NumberFilter) -> Self {
        self.joined_at = Some(f);
        self
    }

    /// Filters on the last activity time.
    pub fn last_activity_at(mut self, f: NumberFilter) -> Self {
        self.last_activity_at = Some(f);
        self
    }

    /// Filters on the subject.
    pub fn subject(mut self, f: StringFilter<Option<String>>) -> Self {
        self.subject = Some(f);
        self
    }
}

/// A conversation filter: one simple filter, or several of which any may match.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ConversationFilter {
    /// Every given field must match.
    Simple(SimpleConversationFilter),
    /// `["any", [..]]`: at least one member must match; an empty list matches nothing.
    Any(Vec<SimpleConversationFilter>),
}

impl Default for ConversationFilter {
    /// The filter that matches everything, `{}`.
    fn default() -> Self {
        ConversationFilter::Simple(SimpleConversationFilter::default())
    }
}

impl From<SimpleConversationFilter> for ConversationFilter {
    fn from(f: SimpleConversationFilter) -> Self {
        ConversationFilter::Simple(f)
    }
}

impl ConversationFilter {
    /// `["any", filters]`.
    pub fn any(filters: impl IntoIterator<Item = SimpleConversationFilter>) -> Self {
        ConversationFilter::Any(filters.into_iter().collect())
    }

    /// The simple filters a conversation is tested against, any of which may match.
    pub fn members(&self) -> &[SimpleConversationFilter] {
        match self {
            ConversationFilter::Simple(f) => std::slice::from_ref(f),
            ConversationFilter::Any(fs) => fs,
        }
    }
}

/// A filter on messages whose every given field must match.
///
/// The official client declares message filters but does not use them yet; they are here so the
/// shape is known, with the same normalisation and evaluation as conversation filters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SimpleMessageFilter {
    /// When the message was sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<NumberFilter>,
    /// Custom data keys.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom: Option<CustomFilter>,
    /// Where the message came from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<StringFilter<Origin>>,
    /// The sender's user id (system messages have none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sender: Option<StringFilter<String>>,
    /// User or system message.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<StringFilter<MessageType>>,
}

/// A message filter: one simple filter, or several of which any may match.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum MessageFilter {
    /// Every given field must match.
    Simple(SimpleMessageFilter),
    /// `["any", [..]]`: at least one member must match; an empty list matches nothing.
    Any(Vec<SimpleMessageFilter>),
}

impl Default for MessageFilter {
    /// The filter that matches everything, `{}`.
    fn default() -> Self {
        MessageFilter::Simple(SimpleMessageFilter::default())
    }
}

impl MessageFilter {
    /// The simple filters a message is tested against, any of which may match.
    pub fn members(&self) -> &[SimpleMessageFilter] {
        match self {
            MessageFilter::Simple(f) => std::slice::from_ref(f),
            MessageFilter::Any(fs) => fs,
        }
    }
}

/// The keyword of a compound filter, `["any", [..]]`.
const ANY: &str = "any";

/// Writes a compound filter as `["any", members]`.
fn serialize_any<S: Serializer, T: Serialize>(members: &[T], s: S) -> Result<S::Ok, S::Error> {
    let mut t = s.serialize_tuple(2)?;
    t.serialize_element(ANY)?;
    t.serialize_element(members)?;
    t.end()
}

/// Reads a filter that is either a simple filter object or `["any", [..]]`.
struct CompoundVisitor<T>(std::marker::PhantomData<T>);

impl<'de, T: DeserializeOwned> Visitor<'de> for CompoundVisitor<T> {
    type Value = Result<T, Vec<T>>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(r#"a filter object or ["any", [filter objects]]"#)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        T::deserialize(MapAccessDeserializer::new(map)).map(Ok)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let kw: String = seq
            .next_element()?
            .ok_or_else(|| de::Error::invalid_length(0, &self))?;
        if kw != ANY {
            return Err(de::Error::unknown_variant(&kw, &[ANY]));
        }
        let members: Vec<T> = seq
            .next_element()?
            .ok_or_else(|| de::Error::invalid_length(1, &self))?;
        if seq.next_element::<IgnoredAny>()?.is_some() {
            return Err(de::Error::invalid_length(3, &self));
        }
        Ok(Err(members))
    }
}

impl Serialize for ConversationFilter {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            ConversationFilter::Simple(f) => f.serialize(s),
            ConversationFilter::Any(fs) => serialize_any(fs, s),
        }
    }
}

impl<'de> Deserialize<'de> for ConversationFilter {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(
            match d.deserialize_any(CompoundVisitor(std::marker::PhantomData))? {
                Ok(simple) => ConversationFilter::Simple(simple),
                Err(any) => ConversationFilter::Any(any),
            },
        )
    }
}

impl Serialize for MessageFilter {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            MessageFilter::Simple(f) => f.serialize(s),
            MessageFilter::Any(fs) => serialize_any(fs, s),
        }
    }
}

impl<'de> Deserialize<'de> for MessageFilter {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(
            match d.deserialize_any(CompoundVisitor(std::marker::PhantomData))? {
                Ok(simple) => MessageFilter::Simple(simple),
                Err(any) => MessageFilter::Any(any),
            },
        )
    }
}
