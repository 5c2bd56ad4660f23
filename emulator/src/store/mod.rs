//! What the emulator remembers: users, conversations with their participants, messages with their
//! reactions, uploaded files, and the idempotency keys of sends.
//!
//! [`Store`] is deliberately small: get, put, remove and a few ordered scans. All rules
//! (permissions, per-user views, events) live in [`crate::world`], so a persistent store only has to
//! implement this trait. [`MemoryStore`] is the in-memory implementation the emulator ships with.
//!
//! Records are plain data. The per-user view of a conversation (unread counts, `lastMessageAt`,
//! ...) is *derived* from them when asked for, never stored, so it cannot drift.

mod memory;
mod sqlite;

use std::collections::BTreeMap;

pub use memory::MemoryStore;
use serde::{Deserialize, Serialize};
pub use sqlite::{SqliteStore, StoreError};
use talkjs_protocol::content::{ContentBlock, FileSubtype};
use talkjs_protocol::wire::{Access, Custom, MessageType, Millis, Notify, Origin};

/// A user.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserRecord {
    /// Id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Custom data.
    #[serde(default)]
    pub custom: Custom,
    /// Locale.
    #[serde(default)]
    pub locale: Option<String>,
    /// Picture URL.
    #[serde(default)]
    pub photo_url: Option<String>,
    /// Role; `"default"` unless set.
    #[serde(default = "default_role")]
    pub role: String,
    /// Welcome message.
    #[serde(default)]
    pub welcome_message: Option<String>,
    /// E-mail addresses (private: never returned to clients).
    #[serde(default)]
    pub email: Option<Vec<String>>,
    /// Phone numbers (private).
    #[serde(default)]
    pub phone: Option<Vec<String>>,
    /// Push notification tokens (private).
    #[serde(default)]
    pub push_tokens: BTreeMap<String, bool>,
}

/// A conversation and who is in it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConversationRecord {
    /// Id.
    pub id: String,
    /// Subject.
    #[serde(default)]
    pub subject: Option<String>,
    /// Picture URL.
    #[serde(default)]
    pub photo_url: Option<String>,
    /// Welcome messages.
    #[serde(default)]
    pub welcome_messages: Vec<String>,
    /// Custom data.
    #[serde(default)]
    pub custom: Custom,
    /// Creation time.
    #[serde(default)]
    pub created_at: Millis,
    /// Participants by user id.
    #[serde(default)]
    pub participants: BTreeMap<String, ParticipantRecord>,
}

/// One user's membership of a conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ParticipantRecord {
    /// The user (in a state file, the key of the participants map is enough).
    #[serde(default)]
    pub user_id: String,
    /// Read or read-write.
    #[serde(default = "default_access")]
    pub access: Access,
    /// Notification setting.
    #[serde(default = "default_notify")]
    pub notify: Notify,
    /// When they joined.
    #[serde(default)]
    pub joined_at: Millis,
    /// They have read every message up to this time.
    #[serde(default)]
    pub read_until: Millis,
    /// They marked the conversation as unread.
    #[serde(default)]
    pub marked_unread: bool,
}

/// One emoji's reactions on a message.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReactionRecord {
    /// When the emoji was first added to the message (orders the summary).
    pub first_at: Millis,
    /// Who reacted, oldest first, with when.
    pub users: Vec<(String, Millis)>,
}

/// A message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageRecord {
    /// Id.
    pub id: String,
    /// Conversation it is in.
    pub conversation_id: String,
    /// User or system message (`type` in JSON, as in TalkJS's message shape).
    #[serde(rename = "type")]
    pub kind: MessageType,
    /// Sender (none for system messages).
    #[serde(default)]
    pub sender_id: Option<String>,
    /// Custom data.
    #[serde(default)]
    pub custom: Custom,
    /// When sent.
    #[serde(default)]
    pub created_at: Millis,
    /// When last edited.
    #[serde(default)]
    pub edited_at: Option<Millis>,
    /// The message it replies to.
    #[serde(default)]
    pub referenced_message_id: Option<String>,
    /// Where it came from.
    #[serde(default = "default_origin")]
    pub origin: Origin,
    /// Content, with node types in their stored (camelCase) form.
    pub content: Vec<ContentBlock>,
    /// Reactions by emoji.
    #[serde(default)]
    pub reactions: BTreeMap<String, ReactionRecord>,
}

/// An uploaded file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FileRecord {
    /// The token that names it.
    pub token: String,
    /// The user who uploaded it: the only one who may attach it to a message (empty in state
    /// files written before uploaders were kept: then nobody may attach it again).
    #[serde(default)]
    pub uploader: String,
    /// The name given at upload.
    pub filename: String,
    /// MIME type of the uploaded part.
    pub content_type: String,
    /// The bytes (base64 in JSON).
    #[serde(with = "base64_bytes")]
    pub bytes: Vec<u8>,
    /// Image, video, audio, voice, or a generic file.
    #[serde(default)]
    pub subtype: Option<FileSubtype>,
    /// Width in pixels.
    #[serde(default)]
    pub width: Option<u32>,
    /// Height in pixels.
    #[serde(default)]
    pub height: Option<u32>,
    /// Duration in seconds.
    #[serde(default)]
    pub duration: Option<f64>,
}

/// The send an idempotency key belongs to, and the message it created.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyRecord {
    /// The conversation sent to.
    pub conversation_id: String,
    /// The sender.
    pub sender_id: String,
    /// The idempotency key.
    pub key: String,
    /// The message the first send with this key created.
    pub message_id: String,
}

fn default_role() -> String {
    talkjs_protocol::params::DEFAULT_ROLE.to_owned()
}

fn default_access() -> Access {
    crate::world::conversations::DEFAULT_ACCESS
}

fn default_notify() -> Notify {
    crate::world::conversations::DEFAULT_NOTIFY
}

/// Messages of a seed file come from the outside, like those of the REST API.
fn default_origin() -> Origin {
    Origin::Rest
}

/// File bytes as standard base64 in JSON documents, so an export stays text.
mod base64_bytes {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&STANDARD.encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        STANDARD.decode(text).map_err(serde::de::Error::custom)
    }
}

/// Where a page of messages starts: strictly older than this (time, id) position.
pub type MessageCursor = (Millis, String);

/// Storage behind the emulator. Implementations hold data only; they enforce no rules.
pub trait Store: Send + 'static {
    /// A user by id.
    fn user(&self, id: &str) -> Option<&UserRecord>;
    /// Inserts or replaces a user.
    fn put_user(&mut self, user: UserRecord);

    /// A conversation by id.
    fn conversation(&self, id: &str) -> Option<&ConversationRecord>;
    /// Inserts or replaces a conversation.
    fn put_conversation(&mut self, conversation: ConversationRecord);
    /// The ids of every conversation a user is a participant of.
    fn conversations_of(&self, user_id: &str) -> Vec<String>;

    /// A message by conversation and id.
    fn message(&self, conversation_id: &str, id: &str) -> Option<&MessageRecord>;
    /// Inserts or replaces a message.
    fn put_message(&mut self, message: MessageRecord);
    /// Removes a message, returning it.
    fn remove_message(&mut self, conversation_id: &str, id: &str) -> Option<MessageRecord>;
    /// Up to `limit` messages of a conversation, newest first, strictly older than `before`.
    fn messages(
        &self,
        conversation_id: &str,
        before: Option<&MessageCursor>,
        limit: usize,
    ) -> Vec<&MessageRecord>;
    /// The newest message of a conversation.
    fn last_message(&self, conversation_id: &str) -> Option<&MessageRecord> {
        self.messages(conversation_id, None, 1).into_iter().next()
    }
    /// Messages of a conversation sent after `after` (exclusive), by users other than `user_id`.
    fn count_unread(&self, conversation_id: &str, user_id: &str, after: Millis) -> u64;

    /// The message a send with this idempotency key created, if any.
    fn sent_with_key(&self, conversation_id: &str, sender_id: &str, key: &str) -> Option<String>;
    /// Remembers the message a send with this idempotency key created.
    fn remember_key(&mut self, conversation_id: &str, sender_id: &str, key: &str, message_id: &str);

    /// An uploaded file by token.
    fn file(&self, token: &str) -> Option<&FileRecord>;
    /// Stores an uploaded file.
    fn put_file(&mut self, file: FileRecord);

    /// Removes a conversation with its messages and idempotency keys, returning it.
    fn remove_conversation(&mut self, id: &str) -> Option<ConversationRecord>;
    /// Forgets everything.
    fn clear(&mut self);

    /// Every user, in no particular order.
    fn all_users(&self) -> Vec<&UserRecord>;
    /// Every conversation, in no particular order.
    fn all_conversations(&self) -> Vec<&ConversationRecord>;
    /// Every uploaded file, in no particular order.
    fn all_files(&self) -> Vec<&FileRecord>;
    /// Every remembered idempotency key, in no particular order.
    fn all_keys(&self) -> Vec<KeyRecord>;
}
