//! The durable [`Store`]: every write goes to an SQLite database on disk before the world
//! answers, and reads come from an in-memory copy.
//!
//! Why write-through over a [`MemoryStore`]: the [`Store`] trait hands out references
//! (`Option<&UserRecord>`), which a row read from SQLite cannot back, and the emulator's reads
//! (every unread count, every page) should cost what they cost in memory. The database is read
//! once, at open; after that it is only written. Records are stored as their JSON (the same form
//! as an export), one row each, so the schema never needs a migration when a record gains a field
//! with a default.
//!
//! Durability: WAL journal with `synchronous = NORMAL`. Each write is its own transaction and is
//! handed to the OS before the store returns, so a write the emulator acknowledged survives the
//! process being killed (`kill -9`); a power cut may lose the last transactions, which a local
//! development server does not need to survive. SQLite comes bundled (`rusqlite`'s `bundled`
//! feature), so nothing has to be installed.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, params};
use talkjs_protocol::wire::Millis;

use super::{
    ConversationRecord, FileRecord, KeyRecord, MemoryStore, MessageCursor, MessageRecord, Store,
    UserRecord,
};

/// Name of the database file inside the `--data` directory.
pub const DATABASE_FILE: &str = "talkjs-emulator.sqlite3";

/// The schema. `IF NOT EXISTS` everywhere: opening an existing directory keeps its data.
const SCHEMA: &str = "
    PRAGMA journal_mode = WAL;
    PRAGMA synchronous = NORMAL;
    CREATE TABLE IF NOT EXISTS users (id TEXT PRIMARY KEY, json TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS conversations (id TEXT PRIMARY KEY, json TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS messages (
        conversation_id TEXT NOT NULL, id TEXT NOT NULL, json TEXT NOT NULL,
        PRIMARY KEY (conversation_id, id));
    CREATE TABLE IF NOT EXISTS idempotency_keys (
        conversation_id TEXT NOT NULL, sender_id TEXT NOT NULL, key TEXT NOT NULL,
        message_id TEXT NOT NULL, PRIMARY KEY (conversation_id, sender_id, key));
    CREATE TABLE IF NOT EXISTS files (token TEXT PRIMARY KEY, json TEXT NOT NULL, bytes BLOB NOT NULL);
";

/// Why a database could not be opened or read.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The data directory could not be created.
    #[error("cannot create data directory {path}: {source}")]
    Directory {
        /// The directory.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// SQLite refused.
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// A stored record is not valid JSON for its type (the file was edited by hand or damaged).
    #[error("damaged record in table {table}: {source}")]
    Record {
        /// The table.
        table: &'static str,
        /// Why it does not decode.
        source: serde_json::Error,
    },
}

/// A [`Store`] kept in an SQLite database; see the module docs.
pub struct SqliteStore {
    db: Connection,
    memory: MemoryStore,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore").finish_non_exhaustive()
    }
}

impl SqliteStore {
    /// Opens (or creates) the database in directory `dir` and loads what it holds.
    pub fn open(dir: &Path) -> Result<SqliteStore, StoreError> {
        std::fs::create_dir_all(dir).map_err(|source| StoreError::Directory {
            path: dir.to_owned(),
            source,
        })?;
        let db = Connection::open(dir.join(DATABASE_FILE))?;
        db.execute_batch(SCHEMA)?;
        let memory = load(&db)?;
        Ok(SqliteStore { db, memory })
    }

    /// Runs one write. A failing write cannot be reported through the [`Store`] trait (whose
    /// writes are infallible, like a map's): it is logged, and the in-memory state still changes
    /// so the running emulator stays consistent with what it answered.
    fn write(&self, what: &str, f: impl FnOnce(&Connection) -> rusqlite::Result<()>) {
        if let Err(e) = f(&self.db) {
            tracing::error!(error = %e, what, "could not write to the database");
        }
    }
}

fn decode<T: serde::de::DeserializeOwned>(
    table: &'static str,
    json: &str,
) -> Result<T, StoreError> {
    serde_json::from_str(json).map_err(|source| StoreError::Record { table, source })
}

fn rows(db: &Connection, sql: &str) -> Result<Vec<String>, StoreError> {
    let mut stmt = db.prepare(sql)?;
    let out = stmt
        .query_map([], |r| r.get::<_, String>(0))?
        .collect::<Result<_, _>>()?;
    Ok(out)
}

/// Reads the whole database into memory.
fn load(db: &Connection) -> Result<MemoryStore, StoreError> {
    let mut m = MemoryStore::new();
    for json in rows(db, "SELECT json FROM users")? {
        m.put_user(decode("users", &json)?);
    }
    for json in rows(db, "SELECT json FROM conversations")? {
        m.put_conversation(decode("conversations", &json)?);
    }
    for json in rows(db, "SELECT json FROM messages")? {
        m.put_message(decode("messages", &json)?);
    }
    let mut stmt =
        db.prepare("SELECT conversation_id, sender_id, key, message_id FROM idempotency_keys")?;
    let keys = stmt
        .query_map([], |r| {
            Ok(KeyRecord {
                conversation_id: r.get(0)?,
                sender_id: r.get(1)?,
                key: r.get(2)?,
                message_id: r.get(3)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    for k in keys {
        m.remember_key(&k.conversation_id, &k.sender_id, &k.key, &k.message_id);
    }
    let mut stmt = db.prepare("SELECT json, bytes FROM files")?;
    let files = stmt
        .query_map([], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, Vec<u8>>(1)?))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    for (json, bytes) in files {
        let mut file: FileRecord = decode("files", &json)?;
        file.bytes = bytes;
        m.put_file(file);
    }
    Ok(m)
}

fn json<T: serde::Serialize>(value: &T) -> rusqlite::Result<String> {
    serde_json::to_string(value).map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))
}

impl Store for SqliteStore {
    fn user(&self, id: &str) -> Option<&UserRecord> {
        self.memory.user(id)
    }

    fn put_user(&mut self, user: UserRecord) {
        self.write("user", |db| {
            db.prepare_cached("INSERT OR REPLACE INTO users (id, json) VALUES (?1, ?2)")?
                .execute(params![user.id, json(&user)?])
                .map(drop)
        });
        self.memory.put_user(user);
    }

    fn conversation(&self, id: &str) -> Option<&ConversationRecord> {
        self.memory.conversation(id)
    }

    fn put_conversation(&mut self, conversation: ConversationRecord) {
        self.write("conversation", |db| {
            db.prepare_cached("INSERT OR REPLACE INTO conversations (id, json) VALUES (?1, ?2)")?
                .execute(params![conversation.id, json(&conversation)?])
                .map(drop)
        });
        self.memory.put_conversation(conversation);
    }

    fn conversations_of(&self, user_id: &str) -> Vec<String> {
        self.memory.conversations_of(user_id)
    }

    fn message(&self, conversation_id: &str, id: &str) -> Option<&MessageRecord> {
        self.memory.message(conversation_id, id)
    }

    fn put_message(&mut self, message: MessageRecord) {
        self.write("message", |db| {
            db.prepare_cached(
                "INSERT OR REPLACE INTO messages (conversation_id, id, json) VALUES (?1, ?2, ?3)",
            )?
            .execute(params![
                message.conversation_id,
                message.id,
                json(&message)?
            ])
            .map(drop)
        });
        self.memory.put_message(message);
    }

    fn remove_message(&mut self, conversation_id: &str, id: &str) -> Option<MessageRecord> {
        self.write("message removal", |db| {
            db.prepare_cached("DELETE FROM messages WHERE conversation_id = ?1 AND id = ?2")?
                .execute(params![conversation_id, id])
                .map(drop)
        });
        self.memory.remove_message(conversation_id, id)
    }

    fn messages(
        &self,
        conversation_id: &str,
        before: Option<&MessageCursor>,
        limit: usize,
    ) -> Vec<&MessageRecord> {
        self.memory.messages(conversation_id, before, limit)
    }

    fn count_unread(&self, conversation_id: &str, user_id: &str, after: Millis) -> u64 {
        self.memory.count_unread(conversation_id, user_id, after)
    }

    fn sent_with_key(&self, conversation_id: &str, sender_id: &str, key: &str) -> Option<String> {
        self.memory.sent_with_key(conversation_id, sender_id, key)
    }

    fn remember_key(
        &mut self,
        conversation_id: &str,
        sender_id: &str,
        key: &str,
        message_id: &str,
    ) {
        self.write("idempotency key", |db| {
            db.prepare_cached(
                "INSERT OR REPLACE INTO idempotency_keys \
                 (conversation_id, sender_id, key, message_id) VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![conversation_id, sender_id, key, message_id])
            .map(drop)
        });
        self.memory
            .remember_key(conversation_id, sender_id, key, message_id);
    }

    fn file(&self, token: &str) -> Option<&FileRecord> {
        self.memory.file(token)
    }

    fn put_file(&mut self, file: FileRecord) {
        self.write("file", |db| {
            let meta = FileRecord {
                bytes: Vec::new(),
                ..file.clone()
            };
            db.prepare_cached(
                "INSERT OR REPLACE INTO files (token, json, bytes) VALUES (?1, ?2, ?3)",
            )?
            .execute(params![file.token, json(&meta)?, file.bytes])
            .map(drop)
        });
        self.memory.put_file(file);
    }

    fn remove_conversation(&mut self, id: &str) -> Option<ConversationRecord> {
        self.write("conversation removal", |db| {
            let tx = db.unchecked_transaction()?;
            for table in ["messages", "idempotency_keys"] {
                tx.execute(
                    &format!("DELETE FROM {table} WHERE conversation_id = ?1"),
                    [id],
                )?;
            }
            tx.execute("DELETE FROM conversations WHERE id = ?1", [id])?;
            tx.commit()
        });
        self.memory.remove_conversation(id)
    }

    fn clear(&mut self) {
        self.write("reset", |db| {
            db.execute_batch(
                "BEGIN; DELETE FROM users; DELETE FROM conversations; DELETE FROM messages; \
                 DELETE FROM idempotency_keys; DELETE FROM files; COMMIT;",
            )
        });
        self.memory.clear();
    }

    fn all_users(&self) -> Vec<&UserRecord> {
        self.memory.all_users()
    }

    fn all_conversations(&self) -> Vec<&ConversationRecord> {
        self.memory.all_conversations()
    }

    fn all_files(&self) -> Vec<&FileRecord> {
        self.memory.all_files()
    }

    fn all_keys(&self) -> Vec<KeyRecord> {
        self.memory.all_keys()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use talkjs_protocol::content::{ContentBlock, TextBlock, TextNode};
    use talkjs_protocol::wire::{Access, MessageType, Notify, Origin};

    use super::*;
    use crate::store::{ParticipantRecord, ReactionRecord};

    /// Every kind of record written, the store dropped, and a new one over the same directory
    /// reads back equal records: reactions, read state, files and keys included.
    #[test]
    fn everything_written_is_read_back_by_a_new_store() {
        let dir = std::env::temp_dir().join(format!("talkjs-sqlite-unit-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let conversation = ConversationRecord {
            id: "c1".into(),
            subject: Some("S".into()),
            photo_url: None,
            welcome_messages: vec!["hi".into()],
            custom: BTreeMap::from([("k".into(), "v".into())]),
            created_at: 5,
            participants: BTreeMap::from([(
                "alice".into(),
                ParticipantRecord {
                    user_id: "alice".into(),
                    access: Access::Read,
                    notify: Notify::MentionsOnly,
                    joined_at: 6,
                    read_until: 7,
                    marked_unread: true,
                },
            )]),
        };
        let message = MessageRecord {
            id: "m1".into(),
            conversation_id: "c1".into(),
            kind: MessageType::UserMessage,
            sender_id: Some("alice".into()),
            custom: BTreeMap::new(),
            created_at: 8,
            edited_at: Some(9),
            referenced_message_id: None,
            origin: Origin::Rest,
            content: vec![ContentBlock::Text(TextBlock {
                children: vec![TextNode::text("hello")],
            })],
            reactions: BTreeMap::from([(
                "👍".into(),
                ReactionRecord {
                    first_at: 10,
                    users: vec![("alice".into(), 10)],
                },
            )]),
        };
        let file = FileRecord {
            uploader: "alice".into(),
            token: "file_000001".into(),
            filename: "a.bin".into(),
            content_type: "application/octet-stream".into(),
            bytes: vec![0, 1, 2, 255],
            subtype: None,
            width: Some(1),
            height: None,
            duration: Some(1.5),
        };
        {
            let mut s = SqliteStore::open(&dir).expect("open");
            s.put_conversation(conversation.clone());
            s.put_message(message.clone());
            s.put_message(MessageRecord {
                id: "m2".into(),
                ..message.clone()
            });
            s.remove_message("c1", "m2");
            s.remember_key("c1", "alice", "k1", "m1");
            s.put_file(file.clone());
        }
        let s = SqliteStore::open(&dir).expect("reopen");
        assert_eq!(s.conversation("c1"), Some(&conversation));
        assert_eq!(s.messages("c1", None, 10), vec![&message]);
        assert_eq!(s.sent_with_key("c1", "alice", "k1").as_deref(), Some("m1"));
        assert_eq!(s.file("file_000001"), Some(&file));
        assert_eq!(s.conversations_of("alice"), ["c1"]);
        drop(s);
        let mut s = SqliteStore::open(&dir).expect("reopen");
        s.remove_conversation("c1");
        drop(s);
        let s = SqliteStore::open(&dir).expect("reopen");
        assert!(s.conversation("c1").is_none() && s.message("c1", "m1").is_none());
        assert!(s.sent_with_key("c1", "alice", "k1").is_none());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
