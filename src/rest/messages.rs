//! Messages: send user and system messages, page through a conversation's messages newest
//! first, read, edit and delete one.

use awc::http::Method;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::conversations::ConversationRef;
use super::paging::{ListQuery, Paged};
use super::request::{Request, Segment};
use super::retry::Repeat;
use crate::{Error, Result};

/// Most messages one [`ConversationRef::send_messages`] may carry (TalkJS's documented limit).
pub const MAX_MESSAGES_PER_SEND: usize = 10;

/// A message from a user (who must be a participant with `ReadWrite` access). Its `text` is
/// TalkJS markup (`*bold*`, links, mentions, ...).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct UserMessage {
    /// The sender's user id.
    pub sender: String,
    /// The text, as TalkJS markup.
    pub text: String,
    /// The message this one replies to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub referenced_message_id: Option<String>,
    /// Custom data.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub custom: Option<Map<String, Value>>,
    /// The key that makes a repeat of this send a no-op (per sender and conversation). When
    /// `None` the client makes one, so that a retry never sends the message twice.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
}

impl UserMessage {
    /// `sender` says `text`.
    pub fn new(sender: impl Into<String>, text: impl Into<String>) -> UserMessage {
        UserMessage {
            sender: sender.into(),
            text: text.into(),
            referenced_message_id: None,
            custom: None,
            idempotency_key: None,
        }
    }

    /// Replies to the message `id`.
    pub fn reply_to(mut self, id: impl Into<String>) -> UserMessage {
        self.referenced_message_id = Some(id.into());
        self
    }

    /// Sets one custom data key.
    pub fn custom(mut self, key: impl Into<String>, value: impl Into<String>) -> UserMessage {
        super::set_key(&mut self.custom, key.into(), Value::String(value.into()));
        self
    }

    /// Uses this idempotency key (say, the id of the event in your system that causes the
    /// message), so that sending again, even from another process, sends nothing.
    pub fn idempotency_key(mut self, key: impl Into<String>) -> UserMessage {
        self.idempotency_key = Some(key.into());
        self
    }
}

/// A system message: no sender, no notifications. It takes no idempotency key, so a send with
/// one is not retried once the server may have seen it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct SystemMessage {
    /// The text, as TalkJS markup.
    pub text: String,
    /// Custom data.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub custom: Option<Map<String, Value>>,
}

impl SystemMessage {
    /// A system message saying `text`.
    pub fn new(text: impl Into<String>) -> SystemMessage {
        SystemMessage {
            text: text.into(),
            custom: None,
        }
    }

    /// Sets one custom data key.
    pub fn custom(mut self, key: impl Into<String>, value: impl Into<String>) -> SystemMessage {
        super::set_key(&mut self.custom, key.into(), Value::String(value.into()));
        self
    }
}

/// A message to send: [`UserMessage`] or [`SystemMessage`] (both convert with `.into()`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type")]
pub enum NewMessage {
    /// From a user.
    UserMessage(UserMessage),
    /// From the system.
    SystemMessage(SystemMessage),
}

impl From<UserMessage> for NewMessage {
    fn from(m: UserMessage) -> NewMessage {
        NewMessage::UserMessage(m)
    }
}

impl From<SystemMessage> for NewMessage {
    fn from(m: SystemMessage) -> NewMessage {
        NewMessage::SystemMessage(m)
    }
}

/// A message's type.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub enum MessageType {
    /// Sent by a user.
    UserMessage,
    /// Sent by the system.
    SystemMessage,
    /// A type this version does not know.
    #[serde(other)]
    Other,
}

/// A message as the REST API shows it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Message {
    /// The id.
    pub id: String,
    /// The conversation it is in.
    pub conversation_id: String,
    /// User or system message.
    #[serde(rename = "type")]
    pub kind: MessageType,
    /// The sender (`None` for system messages).
    #[serde(default)]
    pub sender_id: Option<String>,
    /// Where it was sent from: `"web"`, `"rest"`, `"email"`, `"import"`.
    #[serde(default)]
    pub origin: Option<String>,
    /// The text, as plain text.
    #[serde(default)]
    pub text: String,
    /// The attached file (`{url, size}`), if any.
    #[serde(default)]
    pub attachment: Option<Value>,
    /// The shared location (`[latitude, longitude]`), if any.
    #[serde(default)]
    pub location: Option<(f64, f64)>,
    /// Custom data.
    #[serde(default, deserialize_with = "super::null_as_empty")]
    pub custom: Map<String, Value>,
    /// Who has read it (besides the sender).
    #[serde(default)]
    pub read_by: Vec<String>,
    /// The message it replies to.
    #[serde(default)]
    pub referenced_message_id: Option<String>,
    /// When it was sent (ms since the epoch).
    pub created_at: i64,
    /// When it was last edited (ms), if it was.
    #[serde(default)]
    pub edited_at: Option<i64>,
}

/// What a message edit changes: new text and/or custom data changes.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[non_exhaustive]
pub struct MessageEdit {
    /// New text (TalkJS markup).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// Custom data changes: string values set a key, `null` removes it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub custom: Option<Map<String, Value>>,
}

impl MessageEdit {
    /// An edit that changes nothing.
    pub fn new() -> MessageEdit {
        MessageEdit::default()
    }

    /// Replaces the text.
    pub fn text(mut self, text: impl Into<String>) -> MessageEdit {
        self.text = Some(text.into());
        self
    }

    /// Sets one custom data key.
    pub fn custom(mut self, key: impl Into<String>, value: impl Into<String>) -> MessageEdit {
        super::set_key(&mut self.custom, key.into(), Value::String(value.into()));
        self
    }

    /// Removes one custom data key.
    pub fn remove_custom(mut self, key: impl Into<String>) -> MessageEdit {
        super::set_key(&mut self.custom, key.into(), Value::Null);
        self
    }
}

impl ConversationRef {
    fn messages_request(&self, method: Method) -> Result<Request> {
        let [c, id] = self.segments();
        Request::new(method, &[c, id, Segment::Word("messages")])
    }

    /// Sends one message.
    pub async fn send(&self, message: impl Into<NewMessage>) -> Result<()> {
        self.send_messages(vec![message.into()]).await
    }

    /// Sends 1 to [`MAX_MESSAGES_PER_SEND`] messages in order, all or none (one refused sends
    /// none). User messages without an idempotency key get one, so the send is retried safely;
    /// with a system message in it, it is retried only when the server certainly did not see it.
    pub async fn send_messages(&self, mut messages: Vec<NewMessage>) -> Result<()> {
        let request = self.messages_request(Method::POST)?;
        let op = request.operation.clone();
        if messages.is_empty() || messages.len() > MAX_MESSAGES_PER_SEND {
            return Err(Error::invalid(
                op,
                format!(
                    "send 1 to {MAX_MESSAGES_PER_SEND} messages at once, not {}",
                    messages.len()
                ),
            ));
        }
        let mut all_keyed = true;
        for m in &mut messages {
            match m {
                NewMessage::UserMessage(u) => {
                    if u.sender.is_empty() {
                        return Err(Error::invalid(op, "a message's sender is empty"));
                    }
                    if u.idempotency_key.as_deref() == Some("") {
                        return Err(Error::invalid(op, "an idempotency key is empty"));
                    }
                    u.idempotency_key
                        .get_or_insert_with(|| talkjs_actors::new_idempotency_key().0);
                }
                NewMessage::SystemMessage(_) => all_keyed = false,
            }
        }
        let repeat = if all_keyed {
            Repeat::Safe
        } else {
            Repeat::Unsafe
        };
        let request = request.json(&messages)?.repeat(repeat);
        self.client.call_unit(request).await
    }

    /// The conversation's messages, newest first, fetched a page at a time as the stream is
    /// read.
    pub fn messages(&self, list: ListQuery) -> Paged<Message> {
        let request = self.messages_request(Method::GET);
        Paged::new(self.client.clone(), request, list, |m| &m.id)
    }

    /// The message `id` of this conversation (nothing is sent yet).
    pub fn message(&self, id: impl Into<String>) -> MessageRef {
        MessageRef {
            conversation: self.clone(),
            id: id.into(),
        }
    }
}

/// One message of a conversation: [`ConversationRef::message`].
#[derive(Debug, Clone)]
pub struct MessageRef {
    conversation: ConversationRef,
    id: String,
}

impl MessageRef {
    /// The message's id.
    pub fn id(&self) -> &str {
        &self.id
    }

    fn request(&self, method: Method) -> Result<Request> {
        let [c, id] = self.conversation.segments();
        Request::new(
            method,
            &[
                c,
                id,
                Segment::Word("messages"),
                Segment::Id("message id", &self.id),
            ],
        )
    }

    /// Reads the message; `NotFound` if it (or the conversation) does not exist.
    pub async fn get(&self) -> Result<Message> {
        self.conversation
            .client
            .call(self.request(Method::GET)?)
            .await
    }

    /// Edits the message's text and/or custom data (`PATCH`).
    pub async fn edit(&self, edit: &MessageEdit) -> Result<()> {
        let request = self.request(Method::PATCH)?.json(edit)?;
        self.conversation.client.call_unit(request).await
    }

    /// Deletes the message; `NotFound` if it is gone.
    pub async fn delete(&self) -> Result<()> {
        let request = self.request(Method::DELETE)?;
        self.conversation.client.call_unit(request).await
    }
}
