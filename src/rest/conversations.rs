//! Conversations and their participants: create or merge, read, delete; join, change, leave.

use std::collections::BTreeMap;

use awc::http::Method;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use talkjs_protocol::wire::{Access, Notify};

use super::client::Client;
use super::messages::Message;
use super::request::{Request, Segment};
use super::users::Patch;
use crate::Result;

/// What `PUT /conversations/{id}` sets: only the fields given change, and the `participants`
/// are added (never removed this way) with the default settings.
///
/// ```
/// use talkjs::rest::ConversationParams;
///
/// let p = ConversationParams::new()
///     .participant("alice")
///     .participant("bob")
///     .subject("Order #42")
///     .custom("order", "42")
///     .welcome_message("Hi! How can we help?");
/// assert_eq!(
///     serde_json::to_value(&p).unwrap(),
///     serde_json::json!({"participants": ["alice", "bob"], "subject": "Order #42",
///                        "welcomeMessages": ["Hi! How can we help?"], "custom": {"order": "42"}}),
/// );
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ConversationParams {
    /// Users to add (they must exist).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub participants: Vec<String>,
    /// Subject.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Patch<String>,
    /// Picture URL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub photo_url: Patch<String>,
    /// System messages shown at the top of the conversation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub welcome_messages: Patch<Vec<String>>,
    /// Custom data changes: string values set a key, `null` removes it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub custom: Option<Map<String, Value>>,
}

impl ConversationParams {
    /// Parameters that change nothing.
    pub fn new() -> ConversationParams {
        ConversationParams::default()
    }

    /// Adds a participant.
    pub fn participant(mut self, user_id: impl Into<String>) -> ConversationParams {
        self.participants.push(user_id.into());
        self
    }

    /// Sets the subject.
    pub fn subject(mut self, subject: impl Into<String>) -> ConversationParams {
        self.subject = Some(Some(subject.into()));
        self
    }

    /// Sets the picture URL.
    pub fn photo_url(mut self, url: impl Into<String>) -> ConversationParams {
        self.photo_url = Some(Some(url.into()));
        self
    }

    /// Adds a welcome message to the new list.
    pub fn welcome_message(mut self, text: impl Into<String>) -> ConversationParams {
        self.welcome_messages
            .get_or_insert_with(|| Some(Vec::new()))
            .get_or_insert_with(Vec::new)
            .push(text.into());
        self
    }

    /// Sets one custom data key.
    pub fn custom(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        super::set_key(&mut self.custom, key.into(), Value::String(value.into()));
        self
    }

    /// Removes one custom data key.
    pub fn remove_custom(mut self, key: impl Into<String>) -> ConversationParams {
        super::set_key(&mut self.custom, key.into(), Value::Null);
        self
    }
}

/// A participant's settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct ParticipantSettings {
    /// May they send, or only read.
    pub access: Access,
    /// When they are notified.
    pub notify: Notify,
}

/// A conversation as the REST API shows it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Conversation {
    /// The id.
    pub id: String,
    /// Subject.
    #[serde(default)]
    pub subject: Option<String>,
    /// Picture URL.
    #[serde(default)]
    pub photo_url: Option<String>,
    /// Welcome messages.
    #[serde(default)]
    pub welcome_messages: Option<Vec<String>>,
    /// Custom data.
    #[serde(default, deserialize_with = "super::null_as_empty")]
    pub custom: Map<String, Value>,
    /// The newest message, if any.
    #[serde(default)]
    pub last_message: Option<Message>,
    /// The participants and their settings.
    #[serde(default)]
    pub participants: BTreeMap<String, ParticipantSettings>,
    /// When it was created (ms since the epoch).
    #[serde(default)]
    pub created_at: i64,
}

/// A conversation in a user's list ([`UserRef::conversations`](super::UserRef::conversations)),
/// with that user's unread state.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct UserConversation {
    /// The conversation.
    #[serde(flatten)]
    pub conversation: Conversation,
    /// Whether the user has unread messages in it (or marked it unread).
    #[serde(default)]
    pub is_unread: bool,
    /// How many messages the user has not read.
    #[serde(default)]
    pub unread_message_count: u64,
    /// Up to when the user has read (ms), if the server says.
    #[serde(default)]
    pub read_until: Option<i64>,
}

/// What `PUT` / `PATCH .../participants/{userId}` sets. On a `PUT` (join) a setting left out
/// goes back to its default (`ReadWrite`, notified); on a `PATCH` it stays.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct ParticipantParams {
    /// Their access.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access: Option<Access>,
    /// When they are notified.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notify: Option<Notify>,
}

impl ParticipantParams {
    /// The defaults (on a join) or no change (on an edit).
    pub fn new() -> ParticipantParams {
        ParticipantParams::default()
    }

    /// Sets their access.
    pub fn access(mut self, access: Access) -> ParticipantParams {
        self.access = Some(access);
        self
    }

    /// Sets when they are notified.
    pub fn notify(mut self, notify: Notify) -> ParticipantParams {
        self.notify = Some(notify);
        self
    }
}

/// One conversation of the REST API: [`Client::conversation`]. Nothing is sent until a method is
/// called.
#[derive(Debug, Clone)]
pub struct ConversationRef {
    pub(crate) client: Client,
    pub(crate) id: String,
}

impl ConversationRef {
    /// The conversation's id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The path segments of this conversation.
    pub(crate) fn segments(&self) -> [Segment<'_>; 2] {
        [
            Segment::Word("conversations"),
            Segment::Id("conversation id", &self.id),
        ]
    }

    /// Creates the conversation or merges `params` into it, adding its `participants`
    /// (`PUT /conversations/{id}`).
    pub async fn set(&self, params: &ConversationParams) -> Result<()> {
        if let Some(empty) = params.participants.iter().position(String::is_empty) {
            let r = Request::new(Method::PUT, &self.segments())?;
            return Err(crate::Error::invalid(
                r.operation,
                format!("participant {empty} has an empty user id"),
            ));
        }
        let request = Request::new(Method::PUT, &self.segments())?.json(params)?;
        self.client.call_unit(request).await
    }

    /// Reads the conversation; `NotFound` if there is none.
    pub async fn get(&self) -> Result<Conversation> {
        let request = Request::new(Method::GET, &self.segments())?;
        self.client.call(request).await
    }

    /// Deletes the conversation with its messages, for good; `NotFound` if there is none.
    pub async fn delete(&self) -> Result<()> {
        let request = Request::new(Method::DELETE, &self.segments())?;
        self.client.call_unit(request).await
    }

    /// The participant `user_id` of this conversation (nothing is sent yet).
    pub fn participant(&self, user_id: impl Into<String>) -> ParticipantRef {
        ParticipantRef {
            conversation: self.clone(),
            user_id: user_id.into(),
        }
    }
}

/// One participant of a conversation: [`ConversationRef::participant`].
#[derive(Debug, Clone)]
pub struct ParticipantRef {
    conversation: ConversationRef,
    user_id: String,
}

impl ParticipantRef {
    /// The participant's user id.
    pub fn user_id(&self) -> &str {
        &self.user_id
    }

    fn request(&self, method: Method) -> Result<Request> {
        let [c, id] = self.conversation.segments();
        Request::new(
            method,
            &[
                c,
                id,
                Segment::Word("participants"),
                Segment::Id("user id", &self.user_id),
            ],
        )
    }

    /// Joins the user (who must exist) to the conversation, or overwrites their settings
    /// (`PUT`): a setting left out goes back to its default.
    pub async fn set(&self, params: &ParticipantParams) -> Result<()> {
        let request = self.request(Method::PUT)?.json(params)?;
        self.conversation.client.call_unit(request).await
    }

    /// Changes only the given settings (`PATCH`); `NotFound` if they are not a participant.
    pub async fn edit(&self, params: &ParticipantParams) -> Result<()> {
        let request = self.request(Method::PATCH)?.json(params)?;
        self.conversation.client.call_unit(request).await
    }

    /// Removes the user from the conversation (`DELETE`; fine if they already left).
    pub async fn delete(&self) -> Result<()> {
        let request = self.request(Method::DELETE)?;
        self.conversation.client.call_unit(request).await
    }
}

impl Client {
    /// The conversation `id` (nothing is sent yet).
    pub fn conversation(&self, id: impl Into<String>) -> ConversationRef {
        ConversationRef {
            client: self.clone(),
            id: id.into(),
        }
    }
}
