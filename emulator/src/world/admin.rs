//! Server-side operations, with no user behind them: what TalkJS's REST API and the emulator's
//! own endpoints do beyond the client API (deleting a conversation, system messages), and the
//! whole-state operations (export, import, reset).
//!
//! Like every world operation they validate before they change anything and fire the same events
//! a client's write would, so open subscriptions see REST changes live.

use talkjs_protocol::error::codes;
use talkjs_protocol::event::{ConversationOnly, Event, ParticipantDeleted};
use talkjs_protocol::markup;
use talkjs_protocol::wire::{Custom, MessageType, MessageWire, Origin};

use super::{ApiError, ApiResult, World};
use crate::state_file::{StateFile, StateFileError};
use crate::store::MessageRecord;

/// Close code sent to every socket on a reset ("service restart"): the clients reconnect and
/// refetch, and find the new state.
pub const CLOSE_RESET: u16 = 1012;

impl World {
    /// Deletes a conversation with its messages and participations, as TalkJS's REST API
    /// `DELETE /conversations/{c}` does. Each participant gets `side.deleted` and a
    /// `participant.deleted` about themselves: one event per participant, not one per pair, so
    /// deleting a large conversation costs what it has participants. Another participant's
    /// list of participants learns nothing more, as the conversation is gone for them too.
    pub fn delete_conversation(&mut self, conversation: &str) -> ApiResult<()> {
        let data = self.webhook_conversation_data(conversation);
        let Some(conv) = self.store.remove_conversation(conversation) else {
            return Err(ApiError::conversation_not_found(conversation));
        };
        self.typing.remove(conversation);
        for user in conv.participants.keys() {
            self.publish_to_users(
                [user.as_str()],
                &Event::ParticipantDeleted(ParticipantDeleted {
                    conversation_id: conversation.to_owned(),
                    user_id: user.clone(),
                }),
            );
        }
        self.publish_to_users(
            conv.participants.keys().map(String::as_str),
            &Event::SideDeleted(ConversationOnly {
                conversation_id: conversation.to_owned(),
            }),
        );
        self.webhook_conversation_deleted(conversation, data);
        Ok(())
    }

    /// Posts a system message (no sender) written in TalkJS markup.
    pub fn post_system_message(
        &mut self,
        conversation: &str,
        text: &str,
        custom: Custom,
    ) -> ApiResult<MessageWire> {
        self.conversation_record(conversation)?;
        if text.trim().is_empty() {
            return Err(ApiError::bad_request("a message needs some text"));
        }
        let content = vec![talkjs_protocol::content::ContentBlock::Text(
            markup::parse_send(text),
        )];
        let record = MessageRecord {
            id: self.new_id("msg"),
            conversation_id: conversation.to_owned(),
            kind: MessageType::SystemMessage,
            sender_id: None,
            custom,
            // Ordered like every message (docs §12.10): after the conversation's last one.
            created_at: self.message_time(conversation),
            edited_at: None,
            referenced_message_id: None,
            origin: Origin::Rest,
            content,
            reactions: Default::default(),
        };
        Ok(self.insert_message(record))
    }

    /// The whole state as a document, sorted so that two exports of the same state are equal.
    pub fn export_state(&self) -> StateFile {
        let mut users: Vec<_> = self.store.all_users().into_iter().cloned().collect();
        users.sort_by(|a, b| a.id.cmp(&b.id));
        let mut conversations: Vec<_> = self
            .store
            .all_conversations()
            .into_iter()
            .cloned()
            .collect();
        conversations.sort_by(|a, b| a.id.cmp(&b.id));
        let mut messages = Vec::new();
        for c in &conversations {
            let mut page: Vec<MessageRecord> = self
                .store
                .messages(&c.id, None, usize::MAX)
                .into_iter()
                .cloned()
                .collect();
            page.reverse();
            messages.extend(page);
        }
        let mut idempotency_keys = self.store.all_keys();
        idempotency_keys.sort_by(|a, b| {
            (&a.conversation_id, &a.sender_id, &a.key).cmp(&(
                &b.conversation_id,
                &b.sender_id,
                &b.key,
            ))
        });
        let mut files: Vec<_> = self.store.all_files().into_iter().cloned().collect();
        files.sort_by(|a, b| a.token.cmp(&b.token));
        StateFile {
            users,
            conversations,
            messages,
            idempotency_keys,
            files,
            ..StateFile::default()
        }
    }

    /// Replaces the whole state with a document's, after checking it. Sockets are not told:
    /// this is for startup (`--import`, `--seed`); see [`World::reset`] for a running emulator.
    pub fn import_state(&mut self, state: &StateFile) -> Result<(), StateFileError> {
        state.validate()?;
        self.store.clear();
        self.typing.clear();
        for u in &state.users {
            self.store.put_user(u.clone());
        }
        for c in &state.conversations {
            let mut c = c.clone();
            // A hand-written participant may leave out its user id: the map key says it.
            for (id, p) in c.participants.iter_mut() {
                p.user_id = id.clone();
            }
            self.store.put_conversation(c);
        }
        for m in &state.messages {
            self.store.put_message(m.clone());
        }
        for k in &state.idempotency_keys {
            self.store
                .remember_key(&k.conversation_id, &k.sender_id, &k.key, &k.message_id);
        }
        for f in &state.files {
            self.store.put_file(f.clone());
        }
        self.resume_ids();
        Ok(())
    }

    /// Wipes the state (and loads `seed`, if given) without a restart. Every socket is closed
    /// with [`CLOSE_RESET`] so that clients reconnect and refetch rather than keep showing
    /// what no longer exists.
    pub fn reset(&mut self, seed: Option<&StateFile>) -> Result<(), StateFileError> {
        if let Some(seed) = seed {
            seed.validate()?;
        }
        self.close_all(CLOSE_RESET, "emulator state was reset");
        match seed {
            Some(seed) => self.import_state(seed),
            None => {
                self.store.clear();
                self.typing.clear();
                Ok(())
            }
        }
    }

    /// Makes generated ids (`msg_000123`, ...) continue after the largest one that is already
    /// in the store (after a restart over `--data`, or an import), so new ids never collide.
    pub fn resume_ids(&mut self) {
        let generated = |id: &str| {
            let (prefix, n) = id.rsplit_once('_')?;
            let ours = !prefix.is_empty() && prefix.bytes().all(|b| b.is_ascii_lowercase());
            ours.then(|| n.parse::<u64>().ok()).flatten()
        };
        let mut max = 0;
        for c in self.store.all_conversations() {
            for m in self.store.messages(&c.id, None, usize::MAX) {
                max = max.max(generated(&m.id).unwrap_or(0));
            }
        }
        for f in self.store.all_files() {
            max = max.max(generated(&f.token).unwrap_or(0));
        }
        self.next_id = self.next_id.max(max + 1);
    }

    /// 404 `USER_NOT_FOUND` unless the user exists.
    pub(crate) fn user_exists(&self, user: &str) -> ApiResult<()> {
        match self.store.user(user) {
            Some(_) => Ok(()),
            None => Err(ApiError::not_found(
                codes::USER_NOT_FOUND,
                format!("user {user} does not exist"),
            )),
        }
    }
}
