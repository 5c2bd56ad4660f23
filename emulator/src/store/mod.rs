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

use std::collections::BTreeMap;

pub use memory::MemoryStore;
use talkjs_protocol::content::{ContentBlock, FileSubtype};
use talkjs_protocol::wire::{Access, Custom, MessageType, Millis, Notify, Origin};

/// A user.
#[derive(Debug, Clone, PartialEq)]
pub struct UserRecord {
    /// Id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Custom data.
    pub custom: Custom,
    /// Locale.
    pub locale: Option<String>,
    /// Picture URL.
    pub photo_url: Option<String>,
    /// Role; `"default"` unless set.
    pub role: String,
    /// Welcome message.
    pub welcome_message: Option<String>,
    /// E-mail addresses (private: never returned to clients).
    pub email: Option<Vec<String>>,
    /// Phone numbers (private).
    pub phone: Option<Vec<String>>,
    /// Push notification tokens (private).
    pub push_tokens: BTreeMap<String, bool>,
}

/// A conversation and who is in it.
#[derive(Debug, Clone, PartialEq)]
pub struct ConversationRecord {
    /// Id.
    pub id: String,
    /// Subject.
    pub subject: Option<String>,
    /// Picture URL.
    pub photo_url: Option<String>,
    /// Welcome messages.
    pub welcome_messages: Vec<String>,
    /// Custom data.
    pub custom: Custom,
    /// Creation time.
    pub created_at: Millis,
    /// Participants by user id.
    pub participants: BTreeMap<String, ParticipantRecord>,
}

/// One user's membership of a conversation.
#[derive(Debug, Clone, PartialEq)]
pub struct ParticipantRecord {
    /// The user.
    pub user_id: String,
    /// Read or read-write.
    pub access: Access,
    /// Notification setting.
    pub notify: Notify,
    /// When they joined.
    pub joined_at: Millis,
    /// They have read every message up to this time.
    pub read_until: Millis,
    /// They marked the conversation as unread.
    pub marked_unread: bool,
}

/// One emoji's reactions on a message.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ReactionRecord {
    /// When the emoji was first added to the message (orders the summary).
    pub first_at: Millis,
    /// Who reacted, oldest first, with when.
    pub users: Vec<(String, Millis)>,
}

/// A message.
#[derive(Debug, Clone, PartialEq)]
pub struct MessageRecord {
    /// Id.
    pub id: String,
    /// Conversation it is in.
    pub conversation_id: String,
    /// User or system message.
    pub kind: MessageType,
    /// Sender (none for system messages).
    pub sender_id: Option<String>,
    /// Custom data.
    pub custom: Custom,
    /// When sent.
    pub created_at: Millis,
    /// When last edited.
    pub edited_at: Option<Millis>,
    /// The message it replies to.
    pub referenced_message_id: Option<String>,
    /// Where it came from.
    pub origin: Origin,
    /// Content, with node types in their stored (camelCase) form.
    pub content: Vec<ContentBlock>,
    /// Reactions by emoji.
    pub reactions: BTreeMap<String, ReactionRecord>,
}

/// An uploaded file.
#[derive(Debug, Clone, PartialEq)]
pub struct FileRecord {
    /// The token that names it.
    pub token: String,
    /// The user who uploaded it: the only one who may attach it to a message.
    pub uploader: String,
    /// The name given at upload.
    pub filename: String,
    /// MIME type of the uploaded part.
    pub content_type: String,
    /// The bytes.
    pub bytes: Vec<u8>,
    /// Image, video, audio, voice, or a generic file.
    pub subtype: Option<FileSubtype>,
    /// Width in pixels.
    pub width: Option<u32>,
    /// Height in pixels.
    pub height: Option<u32>,
    /// Duration in seconds.
    pub duration: Option<f64>,
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
}
