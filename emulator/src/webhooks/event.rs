//! The events the emulator posts: their types and the JSON body every receiver gets.

use serde_json::{Value, json};
use talkjs_protocol::wire::Millis;

/// The webhook event types the emulator sends (docs/protocol.md §12.11). TalkJS's
/// `notification.sent`, `.delivered`, `.bounced`, `.opened` and `.link.clicked` are about e-mail
/// and SMS, which an emulator does not send.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WebhookType {
    /// A user was created.
    UserCreated,
    /// A user's fields changed.
    UserUpdated,
    /// A message was sent.
    MessageSent,
    /// A message's content or custom data was edited.
    MessageUpdated,
    /// A message was deleted.
    MessageDeleted,
    /// A participant read a message someone else sent.
    MessageRead,
    /// A conversation was deleted through the REST API.
    ConversationDeleted,
    /// A participant who is offline should be told about a new message.
    NotificationTriggered,
}

impl WebhookType {
    /// The type as TalkJS names it, e.g. `message.sent`.
    pub fn as_str(self) -> &'static str {
        match self {
            WebhookType::UserCreated => "user.created",
            WebhookType::UserUpdated => "user.updated",
            WebhookType::MessageSent => "message.sent",
            WebhookType::MessageUpdated => "message.updated",
            WebhookType::MessageDeleted => "message.deleted",
            WebhookType::MessageRead => "message.read",
            WebhookType::ConversationDeleted => "conversation.deleted",
            WebhookType::NotificationTriggered => "notification.triggered",
        }
    }
}

/// The body of an event: `{id, type, createdAt, data}`, serialised once and shared by every
/// URL, attempt and replay (only the timestamp and signature headers change).
pub(crate) fn body(id: &str, kind: WebhookType, created_at: Millis, data: Value) -> Vec<u8> {
    let event = json!({
        "id": id,
        "type": kind.as_str(),
        "createdAt": created_at,
        "data": data,
    });
    // A `Value` with string keys always serialises.
    serde_json::to_vec(&event).unwrap_or_default()
}
