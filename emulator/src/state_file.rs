//! The emulator's state as one JSON document: what `--export` writes, and what `--import` and
//! `--seed` read.
//!
//! The document is made for people as much as for programs: records use TalkJS's camelCase field
//! names, every field but the ids (and a message's `content`) may be left out of a hand-written
//! fixture, and file bytes are base64. A minimal seed:
//!
//! ```json
//! {
//!   "users": [{"id": "alice", "name": "Alice"}, {"id": "bob", "name": "Bob"}],
//!   "conversations": [{"id": "c1", "subject": "Hi", "participants": {"alice": {}, "bob": {}}}],
//!   "messages": [{"id": "m1", "conversationId": "c1", "type": "UserMessage", "senderId": "alice",
//!                 "content": [{"type": "text", "children": ["hello"]}]}]
//! }
//! ```
//!
//! Writing is atomic: the document goes to a temporary file beside the target, is flushed, and
//! is renamed over it, so an exit interrupted halfway never leaves a torn or empty export behind.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::store::{ConversationRecord, FileRecord, KeyRecord, MessageRecord, UserRecord};

/// The format version written into every export; a reader refuses a newer one.
pub const STATE_FILE_VERSION: u32 = 1;

/// The emulator's whole state (see the module docs).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StateFile {
    /// [`STATE_FILE_VERSION`] when written by this emulator.
    #[serde(default = "current_version")]
    pub version: u32,
    /// Users.
    #[serde(default)]
    pub users: Vec<UserRecord>,
    /// Conversations with their participants.
    #[serde(default)]
    pub conversations: Vec<ConversationRecord>,
    /// Messages, with their reactions.
    #[serde(default)]
    pub messages: Vec<MessageRecord>,
    /// Idempotency keys of past sends, so a retried send after a restart is still not doubled.
    #[serde(default)]
    pub idempotency_keys: Vec<KeyRecord>,
    /// Uploaded files.
    #[serde(default)]
    pub files: Vec<FileRecord>,
}

fn current_version() -> u32 {
    STATE_FILE_VERSION
}

impl Default for StateFile {
    fn default() -> StateFile {
        StateFile {
            version: STATE_FILE_VERSION,
            users: Vec::new(),
            conversations: Vec::new(),
            messages: Vec::new(),
            idempotency_keys: Vec::new(),
            files: Vec::new(),
        }
    }
}

/// Why a state file could not be read, written or loaded.
#[derive(Debug, thiserror::Error)]
pub enum StateFileError {
    /// Reading or writing the file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not a valid state document.
    #[error("{path}: not a valid state file: {source}")]
    Json {
        /// The file.
        path: PathBuf,
        /// Where and why.
        source: serde_json::Error,
    },
    /// The document is valid JSON but its records contradict each other.
    #[error("invalid state: {0}")]
    Invalid(String),
}

impl StateFile {
    /// Reads a state file.
    pub fn read(path: &Path) -> Result<StateFile, StateFileError> {
        let io = |source| StateFileError::Io {
            path: path.to_owned(),
            source,
        };
        let text = std::fs::read_to_string(path).map_err(io)?;
        let file: StateFile =
            serde_json::from_str(&text).map_err(|source| StateFileError::Json {
                path: path.to_owned(),
                source,
            })?;
        if file.version > STATE_FILE_VERSION {
            return Err(StateFileError::Invalid(format!(
                "version {} is newer than this emulator's {STATE_FILE_VERSION}",
                file.version
            )));
        }
        Ok(file)
    }

    /// Writes the document to `path` atomically (temporary file, flush, rename).
    pub fn write_atomic(&self, path: &Path) -> Result<(), StateFileError> {
        let io = |source| StateFileError::Io {
            path: path.to_owned(),
            source,
        };
        let json = serde_json::to_vec_pretty(self).map_err(|source| StateFileError::Json {
            path: path.to_owned(),
            source,
        })?;
        let mut tmp_name = path.file_name().unwrap_or_default().to_owned();
        tmp_name.push(format!(".tmp-{}", std::process::id()));
        let tmp = path.with_file_name(tmp_name);
        let result = (|| {
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(&json)?;
            f.write_all(b"\n")?;
            f.sync_all()?;
            std::fs::rename(&tmp, path)
        })();
        if result.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        result.map_err(io)
    }

    /// Checks that the records agree with each other: every participant and sender is a user,
    /// every message is in a conversation, no id is given twice.
    pub fn validate(&self) -> Result<(), StateFileError> {
        let invalid = |m: String| Err(StateFileError::Invalid(m));
        let mut users = std::collections::HashSet::new();
        for u in &self.users {
            if u.id.is_empty() || !users.insert(u.id.as_str()) {
                return invalid(format!("user id {:?} is empty or given twice", u.id));
            }
        }
        let mut conversations = std::collections::HashSet::new();
        for c in &self.conversations {
            if c.id.is_empty() || !conversations.insert(c.id.as_str()) {
                return invalid(format!(
                    "conversation id {:?} is empty or given twice",
                    c.id
                ));
            }
            if let Some(u) = c.participants.keys().find(|u| !users.contains(u.as_str())) {
                return invalid(format!("participant {u} of {} is not a user", c.id));
            }
        }
        let mut messages = std::collections::HashSet::new();
        for m in &self.messages {
            if !conversations.contains(m.conversation_id.as_str()) {
                return invalid(format!(
                    "message {} is in {:?}, which is not a conversation",
                    m.id, m.conversation_id
                ));
            }
            if m.id.is_empty() || !messages.insert((m.conversation_id.as_str(), m.id.as_str())) {
                return invalid(format!("message id {:?} is empty or given twice", m.id));
            }
            if let Some(s) = m.sender_id.as_deref().filter(|s| !users.contains(s)) {
                return invalid(format!("sender {s} of message {} is not a user", m.id));
            }
        }
        Ok(())
    }
}
