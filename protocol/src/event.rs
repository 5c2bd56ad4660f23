//! Events: what a server pushes inside `PUBLISH` frames (docs/protocol.md §5.2).
//!
//! Each event is a JSON object with a `type`. Types this crate knows decode into their own
//! variant; any other type (for example `custom.*` events, or types a newer server adds) decodes
//! into [`Event::Other`] with the whole object kept, so nothing is dropped and a round trip
//! reproduces it. A *known* type with missing or mistyped fields is an error.
//!
//! Decoding reads the `type` first and then decodes the object straight into the variant's
//! struct, without building a `serde_json::Value` in between.

use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use crate::wire::{
    ConversationDiff, ConversationWire, MessageDiff, MessageWire, Millis, OnlineWire,
    ParticipantDiff, ParticipantWire, TypingDiff, TypingWire, UserDiff, UserWire,
};

/// A user was created (`user.created`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserCreated {
    /// The user's id.
    pub user_id: String,
    /// The new user.
    pub state: UserWire,
}

/// A user was edited (`user.edited`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserEdited {
    /// The user's id.
    pub user_id: String,
    /// What changed.
    pub diff: UserDiff,
}

/// A user came online or went offline (`user.online.changed`). The diff replaces the online state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserOnlineChanged {
    /// The user's id.
    pub user_id: String,
    /// The complete new online state.
    pub diff: OnlineWire,
}

/// The current user joined a conversation: their side of it now exists (`side.created`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SideCreated {
    /// The conversation's id.
    pub conversation_id: String,
    /// The conversation as the current user sees it.
    pub state: ConversationWire,
}

/// Something in the current user's view of a conversation changed (`side.edited`), such as unread
/// counts or the last message time; or the conversation itself changed (`conversation.edited`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConversationChanged {
    /// The conversation's id.
    pub conversation_id: String,
    /// What changed.
    pub diff: ConversationDiff,
}

/// An event about a conversation as a whole: `side.deleted` (the current user left or was
/// removed) or `conversation.cleared` (all messages were removed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConversationOnly {
    /// The conversation's id.
    pub conversation_id: String,
}

/// A message was sent (`message.created`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageCreated {
    /// The conversation's id.
    pub conversation_id: String,
    /// The message's id (required: without it the official client's `lastMessage` does not update).
    pub message_id: String,
    /// The new message.
    pub state: MessageWire,
}

/// A message was edited, or its reaction summary changed (`message.edited`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageEdited {
    /// The conversation's id.
    pub conversation_id: String,
    /// The message's id.
    pub message_id: String,
    /// What changed.
    pub diff: MessageDiff,
}

/// A message was deleted (`message.deleted`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageDeleted {
    /// The conversation's id.
    pub conversation_id: String,
    /// The deleted message's id.
    pub message_id: String,
    /// The conversation's last message after the deletion, if any; fills an emptied window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_last_message: Option<MessageWire>,
}

/// A user joined a conversation (`participant.created`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ParticipantCreated {
    /// The conversation's id.
    pub conversation_id: String,
    /// The new participant's user id.
    pub user_id: String,
    /// The participant.
    pub state: ParticipantWire,
}

/// A participant's access or notification setting changed (`participant.edited`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ParticipantEdited {
    /// The conversation's id.
    pub conversation_id: String,
    /// The participant's user id.
    pub user_id: String,
    /// What changed.
    pub diff: ParticipantDiff,
}

/// A user left or was removed from a conversation (`participant.deleted`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ParticipantDeleted {
    /// The conversation's id.
    pub conversation_id: String,
    /// The removed participant's user id.
    pub user_id: String,
}

/// The complete typing state of a conversation (`typing.available`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TypingAvailable {
    /// The conversation's id.
    pub conversation_id: String,
    /// Who is typing.
    pub state: TypingWire,
}

/// A change in who is typing (`typing.changed`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TypingChanged {
    /// The conversation's id.
    pub conversation_id: String,
    /// What changed.
    pub diff: TypingDiff,
}

/// A user reacted to a message (`reaction.added`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReactionAdded {
    /// The conversation's id.
    pub conversation_id: String,
    /// The message's id.
    pub message_id: String,
    /// The emoji (a Unicode emoji or a custom one like `:cat:`).
    pub emoji: String,
    /// Who reacted.
    pub user_id: String,
    /// When.
    pub created_at: Millis,
}

/// A user took back a reaction (`reaction.removed`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReactionRemoved {
    /// The conversation's id.
    pub conversation_id: String,
    /// The message's id.
    pub message_id: String,
    /// The emoji.
    pub emoji: String,
    /// Who took it back.
    pub user_id: String,
}

/// One pushed event.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type")]
pub enum Event {
    /// `user.created`
    #[serde(rename = "user.created")]
    UserCreated(UserCreated),
    /// `user.edited`
    #[serde(rename = "user.edited")]
    UserEdited(UserEdited),
    /// `user.online.changed`
    #[serde(rename = "user.online.changed")]
    UserOnlineChanged(UserOnlineChanged),
    /// `side.created`
    #[serde(rename = "side.created")]
    SideCreated(SideCreated),
    /// `side.edited`
    #[serde(rename = "side.edited")]
    SideEdited(ConversationChanged),
    /// `side.deleted`
    #[serde(rename = "side.deleted")]
    SideDeleted(ConversationOnly),
    /// `conversation.edited`
    #[serde(rename = "conversation.edited")]
    ConversationEdited(ConversationChanged),
    /// `conversation.cleared`
    #[serde(rename = "conversation.cleared")]
    ConversationCleared(ConversationOnly),
    /// `message.created`
    #[serde(rename = "message.created")]
    MessageCreated(MessageCreated),
    /// `message.edited`
    #[serde(rename = "message.edited")]
    MessageEdited(MessageEdited),
    /// `message.deleted`
    #[serde(rename = "message.deleted")]
    MessageDeleted(MessageDeleted),
    /// `participant.created`
    #[serde(rename = "participant.created")]
    ParticipantCreated(ParticipantCreated),
    /// `participant.edited`
    #[serde(rename = "participant.edited")]
    ParticipantEdited(ParticipantEdited),
    /// `participant.deleted`
    #[serde(rename = "participant.deleted")]
    ParticipantDeleted(ParticipantDeleted),
    /// `typing.available`
    #[serde(rename = "typing.available")]
    TypingAvailable(TypingAvailable),
    /// `typing.changed`
    #[serde(rename = "typing.changed")]
    TypingChanged(TypingChanged),
    /// `reaction.added`
    #[serde(rename = "reaction.added")]
    ReactionAdded(ReactionAdded),
    /// `reaction.removed`
    #[serde(rename = "reaction.removed")]
    ReactionRemoved(ReactionRemoved),
    /// `session.expired`: the server wants a new token on this socket (control event).
    #[serde(rename = "session.expired")]
    SessionExpired,
    /// `upstream.restarting`: the socket will drop, and no refetch is needed after it (control event).
    #[serde(rename = "upstream.restarting")]
    UpstreamRestarting,
    /// An event of any other type (such as `custom.*`), kept whole.
    #[serde(untagged)]
    Other(Map<String, Value>),
}

impl Event {
    /// The event's `type` as on the wire.
    pub fn type_name(&self) -> &str {
        match self {
            Event::UserCreated(_) => "user.created",
            Event::UserEdited(_) => "user.edited",
            Event::UserOnlineChanged(_) => "user.online.changed",
            Event::SideCreated(_) => "side.created",
            Event::SideEdited(_) => "side.edited",
            Event::SideDeleted(_) => "side.deleted",
            Event::ConversationEdited(_) => "conversation.edited",
            Event::ConversationCleared(_) => "conversation.cleared",
            Event::MessageCreated(_) => "message.created",
            Event::MessageEdited(_) => "message.edited",
            Event::MessageDeleted(_) => "message.deleted",
            Event::ParticipantCreated(_) => "participant.created",
            Event::ParticipantEdited(_) => "participant.edited",
            Event::ParticipantDeleted(_) => "participant.deleted",
            Event::TypingAvailable(_) => "typing.available",
            Event::TypingChanged(_) => "typing.changed",
            Event::ReactionAdded(_) => "reaction.added",
            Event::ReactionRemoved(_) => "reaction.removed",
            Event::SessionExpired => "session.expired",
            Event::UpstreamRestarting => "upstream.restarting",
            Event::Other(map) => map.get("type").and_then(Value::as_str).unwrap_or(""),
        }
    }

    /// Whether this is a control event (`session.expired`, `upstream.restarting`) that concerns
    /// the connection rather than any subscription.
    pub fn is_control(&self) -> bool {
        matches!(self, Event::SessionExpired | Event::UpstreamRestarting)
    }

    /// The conversation this event is about, if any.
    pub fn conversation_id(&self) -> Option<&str> {
        Some(match self {
            Event::SideCreated(e) => &e.conversation_id,
            Event::SideEdited(e) | Event::ConversationEdited(e) => &e.conversation_id,
            Event::SideDeleted(e) | Event::ConversationCleared(e) => &e.conversation_id,
            Event::MessageCreated(e) => &e.conversation_id,
            Event::MessageEdited(e) => &e.conversation_id,
            Event::MessageDeleted(e) => &e.conversation_id,
            Event::ParticipantCreated(e) => &e.conversation_id,
            Event::ParticipantEdited(e) => &e.conversation_id,
            Event::ParticipantDeleted(e) => &e.conversation_id,
            Event::TypingAvailable(e) => &e.conversation_id,
            Event::TypingChanged(e) => &e.conversation_id,
            Event::ReactionAdded(e) => &e.conversation_id,
            Event::ReactionRemoved(e) => &e.conversation_id,
            _ => return None,
        })
    }
}

#[derive(Deserialize)]
struct TypeOnly<'a> {
    #[serde(rename = "type", borrow)]
    ty: Option<std::borrow::Cow<'a, str>>,
}

impl<'de> Deserialize<'de> for Event {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // Events arrive as objects inside frames; buffering the object as raw text lets us read
        // the `type` and then decode the same text straight into the right struct.
        let raw: Box<RawValue> = Deserialize::deserialize(d)?;
        let text = raw.get();
        let head: TypeOnly<'_> = serde_json::from_str(text).map_err(de::Error::custom)?;
        let ty = head.ty.unwrap_or_default();
        fn typed<T: serde::de::DeserializeOwned, E: de::Error>(
            text: &str,
            ty: &str,
        ) -> Result<T, E> {
            serde_json::from_str(text).map_err(|e| E::custom(format!("{ty} event: {e}")))
        }
        Ok(match ty.as_ref() {
            "user.created" => Event::UserCreated(typed(text, &ty)?),
            "user.edited" => Event::UserEdited(typed(text, &ty)?),
            "user.online.changed" => Event::UserOnlineChanged(typed(text, &ty)?),
            "side.created" => Event::SideCreated(typed(text, &ty)?),
            "side.edited" => Event::SideEdited(typed(text, &ty)?),
            "side.deleted" => Event::SideDeleted(typed(text, &ty)?),
            "conversation.edited" => Event::ConversationEdited(typed(text, &ty)?),
            "conversation.cleared" => Event::ConversationCleared(typed(text, &ty)?),
            "message.created" => Event::MessageCreated(typed(text, &ty)?),
            "message.edited" => Event::MessageEdited(typed(text, &ty)?),
            "message.deleted" => Event::MessageDeleted(typed(text, &ty)?),
            "participant.created" => Event::ParticipantCreated(typed(text, &ty)?),
            "participant.edited" => Event::ParticipantEdited(typed(text, &ty)?),
            "participant.deleted" => Event::ParticipantDeleted(typed(text, &ty)?),
            "typing.available" => Event::TypingAvailable(typed(text, &ty)?),
            "typing.changed" => Event::TypingChanged(typed(text, &ty)?),
            "reaction.added" => Event::ReactionAdded(typed(text, &ty)?),
            "reaction.removed" => Event::ReactionRemoved(typed(text, &ty)?),
            "session.expired" => Event::SessionExpired,
            "upstream.restarting" => Event::UpstreamRestarting,
            _ => Event::Other(typed(text, "unknown")?),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn unknown_types_are_kept_whole() {
        let v = json!({"type": "custom.foo", "payload": {"a": [1, 2]}});
        let e: Event = serde_json::from_value(v.clone()).unwrap();
        assert_eq!(e.type_name(), "custom.foo");
        assert!(matches!(e, Event::Other(_)));
        assert_eq!(serde_json::to_value(&e).unwrap(), v);
    }

    #[test]
    fn a_known_type_with_missing_fields_is_an_error() {
        let err =
            serde_json::from_value::<Event>(json!({"type": "reaction.removed", "emoji": "x"}));
        assert!(err.is_err());
    }

    #[test]
    fn control_events_have_no_fields() {
        let e: Event = serde_json::from_str(r#"{"type":"session.expired"}"#).unwrap();
        assert!(e.is_control());
        assert_eq!(
            serde_json::to_string(&e).unwrap(),
            r#"{"type":"session.expired"}"#
        );
    }
}
