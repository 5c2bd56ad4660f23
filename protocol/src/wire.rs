//! The JSON objects a TalkJS server returns and pushes: users, conversations as seen by the current
//! user, participants, messages, reactions, typing and online state, and list pages.
//!
//! Field names and optionality follow what the official client reads (docs/protocol.md §4.1).
//! Timestamps are Unix milliseconds ([`Millis`]).
//!
//! Edit events carry *diffs* with patch semantics: an absent field is unchanged, `null` clears it,
//! and `custom` maps merge key by key with `null` deleting a key. Diff fields are therefore
//! `Option<Option<T>>` ([`Patch`]): `None` = absent, `Some(None)` = null, `Some(Some(v))` = set.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

use crate::content::ContentBlock;

/// A Unix timestamp in milliseconds, as every TalkJS timestamp on the wire is.
pub type Millis = i64;

/// A field of a diff: `None` when absent (unchanged), `Some(None)` when `null` (cleared),
/// `Some(Some(v))` when set.
pub type Patch<T> = Option<Option<T>>;

/// Custom data: string keys to string values.
pub type Custom = BTreeMap<String, String>;

/// A patch of custom data: a `null` value deletes that key.
pub type CustomPatch = BTreeMap<String, Option<String>>;

/// Serde glue for [`Patch`] fields: keeps "absent" and "null" apart.
pub(crate) mod patch {
    use serde::{Deserialize, Deserializer};

    /// Deserialises a present field (null or not) as `Some(..)`; absence is `#[serde(default)]`.
    pub fn deserialize<'de, T, D>(d: D) -> Result<Option<Option<T>>, D::Error>
    where
        T: Deserialize<'de>,
        D: Deserializer<'de>,
    {
        Option::<T>::deserialize(d).map(Some)
    }
}

/// A user as the server returns it (public fields only; the client never asks for private ones).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserWire {
    /// The user's id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Custom data.
    #[serde(default)]
    pub custom: Custom,
    /// Locale, such as `en-US`.
    #[serde(default)]
    pub locale: Option<String>,
    /// URL of the user's picture.
    #[serde(default)]
    pub photo_url: Option<String>,
    /// The user's role; `"default"` unless set.
    pub role: String,
    /// Text shown when a conversation with this user starts.
    #[serde(default)]
    pub welcome_message: Option<String>,
}

/// A user's access to a conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
pub enum Access {
    /// May read but not send.
    Read,
    /// May read and send.
    ReadWrite,
}

impl Access {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Access::Read => "Read",
            Access::ReadWrite => "ReadWrite",
        }
    }
}

/// When a participant is notified of new messages: on the wire `true`, `false` or `"MentionsOnly"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Notify {
    /// Notified of every message (`true`).
    All,
    /// Never notified (`false`).
    Off,
    /// Notified only when mentioned (`"MentionsOnly"`).
    MentionsOnly,
}

impl Serialize for Notify {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Notify::All => s.serialize_bool(true),
            Notify::Off => s.serialize_bool(false),
            Notify::MentionsOnly => s.serialize_str("MentionsOnly"),
        }
    }
}

impl<'de> Deserialize<'de> for Notify {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Notify;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(r#"true, false or "MentionsOnly""#)
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Notify, E> {
                Ok(if v { Notify::All } else { Notify::Off })
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Notify, E> {
                match v {
                    "MentionsOnly" => Ok(Notify::MentionsOnly),
                    _ => Err(E::invalid_value(de::Unexpected::Str(v), &self)),
                }
            }
        }
        d.deserialize_any(V)
    }
}

/// The current user's view of a conversation ("their side" of it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConversationWire {
    /// The conversation's id.
    pub id: String,
    /// Subject line.
    #[serde(default)]
    pub subject: Option<String>,
    /// URL of the conversation's picture.
    #[serde(default)]
    pub photo_url: Option<String>,
    /// Messages shown at the start of the conversation.
    #[serde(default)]
    pub welcome_messages: Vec<String>,
    /// Custom data.
    #[serde(default)]
    pub custom: Custom,
    /// When the conversation was created.
    pub created_at: Millis,
    /// When the current user joined it.
    pub joined_at: Millis,
    /// When the last message was sent; equals `joined_at` when there are no messages (the official
    /// client's `hasMessages` filter relies on that).
    pub last_message_at: Millis,
    /// Messages the current user has not read.
    pub unread_message_count: u64,
    /// Whether the current user has unread messages (or marked it unread).
    pub is_unread: bool,
    /// The current user's access.
    pub access: Access,
    /// The current user's notification setting.
    pub notify: Notify,
    /// The current user has read everything up to this time.
    pub read_until: Millis,
    /// Every participant has read everything up to this time.
    pub everyone_read_until: Millis,
}

/// Whether a message was written by a user or generated by the system.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum MessageType {
    /// Written by a user.
    UserMessage,
    /// Generated by TalkJS or the application; has no sender.
    SystemMessage,
}

/// Where a message came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Origin {
    /// Sent through the REST API (or the Data API).
    Rest,
    /// Imported.
    Import,
    /// A reply by e-mail.
    Email,
    /// Sent from a TalkJS UI.
    Web,
}

/// One emoji's entry in a message's reaction summary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReactionSummaryWire {
    /// How many users reacted with this emoji.
    pub count: u64,
    /// Whether the current user is one of them (so this differs per recipient).
    pub current_user_reacted: bool,
    /// When this emoji was first added to the message; orders the summary.
    pub created_at: Millis,
}

/// A message as the server returns it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageWire {
    /// The message's id.
    pub id: String,
    /// User or system message.
    #[serde(rename = "type")]
    pub kind: MessageType,
    /// The sender's user id; `None` for system messages.
    #[serde(default)]
    pub sender_id: Option<String>,
    /// Custom data.
    #[serde(default)]
    pub custom: Custom,
    /// When it was sent.
    pub created_at: Millis,
    /// When it was last edited.
    #[serde(default)]
    pub edited_at: Option<Millis>,
    /// The message this one replies to.
    #[serde(default)]
    pub referenced_message_id: Option<String>,
    /// Where it came from.
    pub origin: Origin,
    /// The content blocks (normally one).
    pub content: Vec<ContentBlock>,
    /// Reaction summary keyed by emoji; empty when there are none.
    #[serde(default)]
    pub reactions: BTreeMap<String, ReactionSummaryWire>,
    /// Set only on message search results: the conversation the message is in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversation_id: Option<String>,
}

/// A participant of a conversation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ParticipantWire {
    /// The participant's user id.
    pub id: String,
    /// Their access.
    pub access: Access,
    /// Their notification setting.
    pub notify: Notify,
    /// When they joined.
    pub joined_at: Millis,
}

/// Who is typing in a conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TypingWire {
    /// A few users are typing: user id to the time they started. Sorted by that time when shown.
    Few(BTreeMap<String, Millis>),
    /// Too many users are typing to list them.
    Many,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct TypingRepr {
    many: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    users_typing: Option<BTreeMap<String, Millis>>,
}

impl Serialize for TypingWire {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            TypingWire::Few(users) => TypingRepr {
                many: false,
                users_typing: Some(users.clone()),
            },
            TypingWire::Many => TypingRepr {
                many: true,
                users_typing: None,
            },
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for TypingWire {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let repr = TypingRepr::deserialize(d)?;
        Ok(if repr.many {
            TypingWire::Many
        } else {
            TypingWire::Few(repr.users_typing.unwrap_or_default())
        })
    }
}

/// Whether a user is online.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OnlineWire {
    /// True while the user has at least one connected session.
    pub is_connected: bool,
}

/// One user's reaction with a given emoji.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReactionUserWire {
    /// Who reacted.
    pub user_id: String,
    /// When.
    pub created_at: Millis,
}

/// One page of a list: the items and the cursor of the next page (`None` on the last page).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Page<T> {
    /// The items of this page.
    pub data: Vec<T>,
    /// Opaque cursor for the next page; `null` when there is none.
    pub cursor: Option<String>,
}

/// Changes to a user (`user.edited`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserDiff {
    /// New name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Custom data patch; `null` clears all.
    #[serde(default, with = "patch_ser", skip_serializing_if = "Option::is_none")]
    pub custom: Patch<CustomPatch>,
    /// New locale, or cleared.
    #[serde(default, with = "patch_ser", skip_serializing_if = "Option::is_none")]
    pub locale: Patch<String>,
    /// New photo URL, or cleared.
    #[serde(default, with = "patch_ser", skip_serializing_if = "Option::is_none")]
    pub photo_url: Patch<String>,
    /// New role.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// New welcome message, or cleared.
    #[serde(default, with = "patch_ser", skip_serializing_if = "Option::is_none")]
    pub welcome_message: Patch<String>,
}

/// Changes to the current user's view of a conversation (`side.edited`, `conversation.edited`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConversationDiff {
    /// New subject, or cleared.
    #[serde(default, with = "patch_ser", skip_serializing_if = "Option::is_none")]
    pub subject: Patch<String>,
    /// New photo URL, or cleared.
    #[serde(default, with = "patch_ser", skip_serializing_if = "Option::is_none")]
    pub photo_url: Patch<String>,
    /// New welcome messages, or cleared.
    #[serde(default, with = "patch_ser", skip_serializing_if = "Option::is_none")]
    pub welcome_messages: Patch<Vec<String>>,
    /// Custom data patch; `null` clears all.
    #[serde(default, with = "patch_ser", skip_serializing_if = "Option::is_none")]
    pub custom: Patch<CustomPatch>,
    /// New creation time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<Millis>,
    /// New join time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub joined_at: Option<Millis>,
    /// New last-message time; can pull the conversation into a list window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_message_at: Option<Millis>,
    /// New unread count.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unread_message_count: Option<u64>,
    /// New unread flag.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_unread: Option<bool>,
    /// New access.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access: Option<Access>,
    /// New notification setting.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notify: Option<Notify>,
    /// New read-until time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_until: Option<Millis>,
    /// New everyone-read-until time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub everyone_read_until: Option<Millis>,
}

/// A change to one emoji of a message's reaction summary; absent fields are unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReactionSummaryDiff {
    /// New count; an entry whose count reaches 0 is removed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
    /// New flag for the receiving user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_user_reacted: Option<bool>,
    /// New first-added time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<Millis>,
}

/// Changes to a message (`message.edited`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageDiff {
    /// Replacement content.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<Vec<ContentBlock>>,
    /// Custom data patch; `null` clears all.
    #[serde(default, with = "patch_ser", skip_serializing_if = "Option::is_none")]
    pub custom: Patch<CustomPatch>,
    /// New edit time.
    #[serde(default, with = "patch_ser", skip_serializing_if = "Option::is_none")]
    pub edited_at: Patch<Millis>,
    /// Reaction summary patch per emoji: `null` removes an emoji; `reactions: null` clears all.
    #[serde(default, with = "patch_ser", skip_serializing_if = "Option::is_none")]
    pub reactions: Patch<BTreeMap<String, Option<ReactionSummaryDiff>>>,
}

/// Changes to a participant (`participant.edited`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ParticipantDiff {
    /// New access.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access: Option<Access>,
    /// New notification setting.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notify: Option<Notify>,
}

/// Changes to who is typing (`typing.changed`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TypingDiff {
    /// `true` switches to "many"; `false` replaces the list with `users_typing`; absent applies
    /// `users_typing` per user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub many: Option<bool>,
    /// Per user: a start time, or `null` when they stopped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub users_typing: Option<BTreeMap<String, Option<Millis>>>,
}

/// Serde `with` module for [`Patch`] fields: `Some(None)` is written as `null`.
pub(crate) mod patch_ser {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<T: Serialize, S: Serializer>(
        v: &Option<Option<T>>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match v {
            Some(inner) => inner.serialize(s),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, T: Deserialize<'de>, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Option<T>>, D::Error> {
        super::patch::deserialize(d)
    }
}

/// Applies a custom-data patch: `Some(v)` sets a key, `None` deletes it.
pub fn apply_custom_patch(custom: &mut Custom, patch: &CustomPatch) {
    for (k, v) in patch {
        match v {
            Some(v) => {
                custom.insert(k.clone(), v.clone());
            }
            None => {
                custom.remove(k);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn patch_fields_keep_absent_and_null_apart() {
        let d: UserDiff = serde_json::from_value(json!({"locale": null, "name": "B"})).unwrap();
        assert_eq!(d.locale, Some(None));
        assert_eq!(d.photo_url, None);
        assert_eq!(
            serde_json::to_value(&d).unwrap(),
            json!({"name": "B", "locale": null})
        );
    }

    #[test]
    fn notify_accepts_its_three_wire_forms_only() {
        for (v, n) in [
            (json!(true), Notify::All),
            (json!(false), Notify::Off),
            (json!("MentionsOnly"), Notify::MentionsOnly),
        ] {
            assert_eq!(serde_json::from_value::<Notify>(v.clone()).unwrap(), n);
            assert_eq!(serde_json::to_value(n).unwrap(), v);
        }
        assert!(serde_json::from_value::<Notify>(json!("sometimes")).is_err());
    }

    #[test]
    fn typing_has_two_shapes() {
        let few: TypingWire =
            serde_json::from_value(json!({"many": false, "usersTyping": {"bob": 5}})).unwrap();
        assert_eq!(few, TypingWire::Few([("bob".to_string(), 5)].into()));
        assert_eq!(
            serde_json::to_value(TypingWire::Many).unwrap(),
            json!({"many": true})
        );
    }
}
