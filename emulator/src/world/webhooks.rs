//! Which webhook events each write fires, and with what data (docs/protocol.md §12.11).
//!
//! The world's write operations call these at the one place each change is applied
//! (`insert_user`, `upsert_user`, `insert_message`, `apply_edit`, `apply_delete`, `mark_read`,
//! `delete_conversation`), which client requests, REST calls and REST batches all go through, so
//! every action fires its events once. Nothing is built when no webhook URL is configured.
//! [`Webhooks::emit`](crate::webhooks::Webhooks::emit) only queues, so the world's lock never
//! waits for a receiver.

use serde_json::{Value, json};
use talkjs_protocol::content::{ContentBlock, TextNode};
use talkjs_protocol::wire::{Millis, Notify};

use super::World;
use crate::rest::shapes;
use crate::store::{ConversationRecord, MessageRecord, UserRecord};
use crate::webhooks::WebhookType;

/// Largest conversation that fires `message.read` (TalkJS's documented limit) and, by the
/// emulator's choice, `notification.triggered`: beyond it one send or read would build an event
/// per participant, each carrying the whole conversation, under the world's lock.
pub const MAX_WEBHOOK_PARTICIPANTS: usize = 300;
/// Most `message.read` events one read fires: for the newest messages it newly read. Reading a
/// backlog of thousands would otherwise flood the receiver's queue (and build each under the lock).
pub const MAX_READ_EVENTS: usize = 100;

fn conversation_lane(conversation: &str) -> String {
    format!("conversation:{conversation}")
}

fn user_lane(user: &str) -> String {
    format!("user:{user}")
}

impl World {
    /// Whether any webhook URL is configured.
    pub(crate) fn webhooks_on(&self) -> bool {
        self.webhooks.as_ref().is_some_and(|h| h.active())
    }

    fn emit_webhook(&self, kind: WebhookType, lane: String, data: Value) {
        if let Some(hooks) = &self.webhooks {
            hooks.emit(kind, lane, self.clock.now(), data);
        }
    }

    /// `user.created` or `user.updated`: `{user}`.
    pub(crate) fn webhook_user(&self, kind: WebhookType, user: &UserRecord) {
        if self.webhooks_on() {
            self.emit_webhook(
                kind,
                user_lane(&user.id),
                json!({ "user": shapes::user(user) }),
            );
        }
    }

    /// `{message, sender, conversation}` for a message of a conversation in the store; `sender`
    /// is `null` for a system message.
    fn message_data(&self, conv: &ConversationRecord, m: &MessageRecord) -> Value {
        let sender = m
            .sender_id
            .as_deref()
            .and_then(|s| self.store.user(s))
            .map(shapes::user);
        json!({
            "message": shapes::message(conv, m),
            "sender": sender,
            "conversation": shapes::conversation(self, conv),
        })
    }

    /// The data of a message event about a stored message, built only when webhooks are on
    /// (taken before a delete, sent after it).
    pub(crate) fn webhook_message_data(&self, conversation: &str, message: &str) -> Option<Value> {
        if !self.webhooks_on() {
            return None;
        }
        let conv = self.store.conversation(conversation)?;
        let m = self.store.message(conversation, message)?;
        Some(self.message_data(conv, m))
    }

    /// Fires a message event with data taken earlier (see [`World::webhook_message_data`]).
    pub(crate) fn webhook_message(
        &self,
        kind: WebhookType,
        conversation: &str,
        data: Option<Value>,
    ) {
        if let Some(data) = data {
            self.emit_webhook(kind, conversation_lane(conversation), data);
        }
    }

    /// After a new message is stored: `message.sent`, then `notification.triggered` for each
    /// participant it should notify (a user message, a participant other than the sender with
    /// notifications on, or on for mentions and mentioned, and no authenticated socket).
    pub(crate) fn webhook_message_sent(&self, conversation: &str, message: &str) {
        if !self.webhooks_on() {
            return;
        }
        let (Some(conv), Some(m)) = (
            self.store.conversation(conversation),
            self.store.message(conversation, message),
        ) else {
            return;
        };
        let data = self.message_data(conv, m);
        let lane = conversation_lane(conversation);
        let Some(sender) = m.sender_id.as_deref() else {
            // System messages notify nobody (TalkJS's REST docs).
            self.emit_webhook(WebhookType::MessageSent, lane, data);
            return;
        };
        let notify: Vec<&str> = if conv.participants.len() <= MAX_WEBHOOK_PARTICIPANTS {
            conv.participants
                .values()
                .filter(|p| p.user_id != sender && !self.is_online(&p.user_id))
                .filter(|p| match p.notify {
                    Notify::All => true,
                    Notify::MentionsOnly => mentions(&m.content, &p.user_id),
                    Notify::Off => false,
                })
                .map(|p| p.user_id.as_str())
                .collect()
        } else {
            Vec::new()
        };
        // The send goes first, on the same lane, so receivers get it before its notifications.
        let parts = (!notify.is_empty()).then(|| {
            (
                data["sender"].clone(),
                data["conversation"].clone(),
                data["message"].clone(),
            )
        });
        self.emit_webhook(WebhookType::MessageSent, lane.clone(), data);
        let Some((sender, conversation, message)) = parts else {
            return;
        };
        for user in notify {
            if let Some(recipient) = self.store.user(user) {
                self.emit_webhook(
                    WebhookType::NotificationTriggered,
                    lane.clone(),
                    json!({
                        "recipient": shapes::user(recipient),
                        "sender": sender,
                        "conversation": conversation,
                        "messages": [message],
                    }),
                );
            }
        }
    }

    /// After `user` read `conversation` from `from` (exclusive) up to `to`: `message.read`
    /// `{message, sender, conversation, recipient}` for each message someone else sent in that
    /// span, newest [`MAX_READ_EVENTS`] at most, oldest first.
    pub(crate) fn webhook_read(&self, conversation: &str, user: &str, from: Millis, to: Millis) {
        if !self.webhooks_on() || to <= from {
            return;
        }
        let (Some(conv), Some(recipient)) =
            (self.store.conversation(conversation), self.store.user(user))
        else {
            return;
        };
        if conv.participants.len() > MAX_WEBHOOK_PARTICIPANTS {
            return;
        }
        let recipient = shapes::user(recipient);
        let mut read: Vec<&MessageRecord> = self
            .store
            .messages(conversation, None, MAX_READ_EVENTS)
            .into_iter()
            .filter(|m| m.created_at > from && m.created_at <= to)
            .filter(|m| m.sender_id.as_deref().is_some_and(|s| s != user))
            .collect();
        read.reverse();
        for m in read {
            let mut data = self.message_data(conv, m);
            data["recipient"] = recipient.clone();
            self.emit_webhook(
                WebhookType::MessageRead,
                conversation_lane(conversation),
                data,
            );
        }
    }

    /// `conversation.deleted` `{conversation}`, with the conversation as it was: the data is
    /// taken before the delete.
    pub(crate) fn webhook_conversation_data(&self, conversation: &str) -> Option<Value> {
        if !self.webhooks_on() {
            return None;
        }
        let conv = self.store.conversation(conversation)?;
        Some(json!({ "conversation": shapes::conversation(self, conv) }))
    }

    /// Fires `conversation.deleted` with data taken before the delete.
    pub(crate) fn webhook_conversation_deleted(&self, conversation: &str, data: Option<Value>) {
        if let Some(data) = data {
            self.emit_webhook(
                WebhookType::ConversationDeleted,
                conversation_lane(conversation),
                data,
            );
        }
    }
}

/// Whether a message's text mentions `user`.
fn mentions(content: &[ContentBlock], user: &str) -> bool {
    fn any(nodes: &[TextNode], user: &str) -> bool {
        nodes.iter().any(|n| match n {
            TextNode::Mention { id, .. } => id == user,
            other => other.children().is_some_and(|c| any(c, user)),
        })
    }
    content.iter().any(|b| match b {
        ContentBlock::Text(t) => any(&t.children, user),
        _ => false,
    })
}
