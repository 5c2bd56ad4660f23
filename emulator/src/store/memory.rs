//! The in-memory [`Store`]: hash maps, plus one ordered index per conversation so that message
//! pages are range scans rather than sorts.

use std::collections::{BTreeMap, HashMap, HashSet};

use talkjs_protocol::wire::Millis;

use super::{
    ConversationRecord, FileRecord, KeyRecord, MessageCursor, MessageRecord, Store, UserRecord,
};

/// Everything in memory; lost when the emulator stops.
#[derive(Debug, Default)]
pub struct MemoryStore {
    users: HashMap<String, UserRecord>,
    conversations: HashMap<String, ConversationRecord>,
    /// user id -> conversations they are in (kept in step with `conversations`).
    memberships: HashMap<String, HashSet<String>>,
    /// conversation id -> messages by id.
    messages: HashMap<String, HashMap<String, MessageRecord>>,
    /// conversation id -> (created_at, id) in order; the index pages are read from.
    timeline: HashMap<String, BTreeMap<MessageCursor, ()>>,
    /// (conversation, sender, idempotency key) -> message id.
    keys: HashMap<(String, String, String), String>,
    files: HashMap<String, FileRecord>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }
}

impl Store for MemoryStore {
    fn user(&self, id: &str) -> Option<&UserRecord> {
        self.users.get(id)
    }

    fn put_user(&mut self, user: UserRecord) {
        self.users.insert(user.id.clone(), user);
    }

    fn conversation(&self, id: &str) -> Option<&ConversationRecord> {
        self.conversations.get(id)
    }

    fn put_conversation(&mut self, conversation: ConversationRecord) {
        if let Some(old) = self.conversations.get(&conversation.id) {
            for user in old.participants.keys() {
                if !conversation.participants.contains_key(user)
                    && let Some(set) = self.memberships.get_mut(user)
                {
                    set.remove(&conversation.id);
                }
            }
        }
        for user in conversation.participants.keys() {
            self.memberships
                .entry(user.clone())
                .or_default()
                .insert(conversation.id.clone());
        }
        self.conversations
            .insert(conversation.id.clone(), conversation);
    }

    fn conversations_of(&self, user_id: &str) -> Vec<String> {
        self.memberships
            .get(user_id)
            .map(|set| set.iter().cloned().collect())
            .unwrap_or_default()
    }

    fn message(&self, conversation_id: &str, id: &str) -> Option<&MessageRecord> {
        self.messages.get(conversation_id)?.get(id)
    }

    fn put_message(&mut self, message: MessageRecord) {
        let c = message.conversation_id.clone();
        let key = (message.created_at, message.id.clone());
        let by_id = self.messages.entry(c.clone()).or_default();
        if let Some(old) = by_id.get(&message.id)
            && let Some(t) = self.timeline.get_mut(&c)
        {
            t.remove(&(old.created_at, old.id.clone()));
        }
        by_id.insert(message.id.clone(), message);
        self.timeline.entry(c).or_default().insert(key, ());
    }

    fn remove_message(&mut self, conversation_id: &str, id: &str) -> Option<MessageRecord> {
        let old = self.messages.get_mut(conversation_id)?.remove(id)?;
        if let Some(t) = self.timeline.get_mut(conversation_id) {
            t.remove(&(old.created_at, old.id.clone()));
        }
        Some(old)
    }

    fn messages(
        &self,
        conversation_id: &str,
        before: Option<&MessageCursor>,
        limit: usize,
    ) -> Vec<&MessageRecord> {
        let (Some(timeline), Some(by_id)) = (
            self.timeline.get(conversation_id),
            self.messages.get(conversation_id),
        ) else {
            return Vec::new();
        };
        let range: Box<dyn DoubleEndedIterator<Item = (&MessageCursor, &())>> = match before {
            Some(b) => Box::new(timeline.range(..b.clone())),
            None => Box::new(timeline.iter()),
        };
        range
            .rev()
            .take(limit)
            .filter_map(|((_, id), ())| by_id.get(id))
            .collect()
    }

    fn count_unread(&self, conversation_id: &str, user_id: &str, after: Millis) -> u64 {
        let (Some(timeline), Some(by_id)) = (
            self.timeline.get(conversation_id),
            self.messages.get(conversation_id),
        ) else {
            return 0;
        };
        timeline
            .range((after + 1, String::new())..)
            .filter_map(|((_, id), ())| by_id.get(id))
            .filter(|m| m.sender_id.as_deref() != Some(user_id))
            .count() as u64
    }

    fn sent_with_key(&self, conversation_id: &str, sender_id: &str, key: &str) -> Option<String> {
        self.keys
            .get(&(
                conversation_id.to_owned(),
                sender_id.to_owned(),
                key.to_owned(),
            ))
            .cloned()
    }

    fn remember_key(
        &mut self,
        conversation_id: &str,
        sender_id: &str,
        key: &str,
        message_id: &str,
    ) {
        self.keys.insert(
            (
                conversation_id.to_owned(),
                sender_id.to_owned(),
                key.to_owned(),
            ),
            message_id.to_owned(),
        );
    }

    fn file(&self, token: &str) -> Option<&FileRecord> {
        self.files.get(token)
    }

    fn put_file(&mut self, file: FileRecord) {
        self.files.insert(file.token.clone(), file);
    }

    fn remove_conversation(&mut self, id: &str) -> Option<ConversationRecord> {
        let old = self.conversations.remove(id)?;
        for user in old.participants.keys() {
            if let Some(set) = self.memberships.get_mut(user) {
                set.remove(id);
            }
        }
        self.messages.remove(id);
        self.timeline.remove(id);
        self.keys.retain(|(c, _, _), _| c != id);
        Some(old)
    }

    fn clear(&mut self) {
        *self = MemoryStore::default();
    }

    fn all_users(&self) -> Vec<&UserRecord> {
        self.users.values().collect()
    }

    fn all_conversations(&self) -> Vec<&ConversationRecord> {
        self.conversations.values().collect()
    }

    fn all_files(&self) -> Vec<&FileRecord> {
        self.files.values().collect()
    }

    fn all_keys(&self) -> Vec<KeyRecord> {
        self.keys
            .iter()
            .map(|((c, s, k), m)| KeyRecord {
                conversation_id: c.clone(),
                sender_id: s.clone(),
                key: k.clone(),
                message_id: m.clone(),
            })
            .collect()
    }
}
