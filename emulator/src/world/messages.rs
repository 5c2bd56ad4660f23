//! Messages: send (exactly once per idempotency key), edit, delete, pages, translation, and
//! files. Reactions are in `reactions.rs`.

use std::collections::BTreeMap;

use talkjs_protocol::content::{ContentBlock, FileBlock, SendContentBlock, TextNode};
use talkjs_protocol::error::codes;
use talkjs_protocol::event::{
    ConversationOnly, Event, MessageCreated, MessageDeleted, MessageEdited,
};
use talkjs_protocol::path::encode_component;
use talkjs_protocol::request::{EditMessageRequest, SendMessageRequest};
use talkjs_protocol::wire::{
    Access, MessageDiff, MessageType, MessageWire, Millis, Origin, Page, apply_custom_patch,
};

use super::content_rules;
use super::conversations::page_size;
use super::cursor;
use super::typing::READ_ONLY_ACCESS;
use super::view::message_wire;
use super::{AdminError, ApiError, ApiResult, World};
use crate::store::{FileRecord, MessageRecord};
use crate::webhooks::WebhookType;

/// The message page size when the request gives none (the official client's window).
pub const DEFAULT_MESSAGE_PAGE: usize = 30;
/// The reaction-user page size when the request gives none (what the official client asks for).
pub const DEFAULT_REACTION_PAGE: usize = 30;
/// Most distinct emoji on one message (TalkJS's documented limit).
pub const MAX_REACTIONS_PER_MESSAGE: usize = 50;
/// Longest accepted emoji string, in bytes (a long ZWJ sequence fits; prose does not).
pub const MAX_EMOJI_BYTES: usize = 64;
/// Longest accepted custom emoji (`:name:`), in characters, colons included: the .d.ts of
/// `MessageRef.reactions` says "Custom emoji can be up to 50 characters long".
pub const MAX_CUSTOM_EMOJI_CHARS: usize = 50;

/// Longest accepted idempotency key, in bytes. The official client's keys are 20 characters
/// (`IdempotencyKey::generate`); room for a UUID or two, and no 900 KB key kept forever.
pub const MAX_IDEMPOTENCY_KEY_BYTES: usize = 128;

/// Error code: the message is not the current user's to change.
pub const NOT_MESSAGE_SENDER: &str = "NOT_MESSAGE_SENDER";
/// Error code: a reply to a message that is not in the conversation.
pub const REFERENCED_MESSAGE_NOT_FOUND: &str = "REFERENCED_MESSAGE_NOT_FOUND";
/// Error code: the message already has the most distinct reactions allowed.
pub const TOO_MANY_REACTIONS: &str = "TOO_MANY_REACTIONS";

impl World {
    pub(crate) fn message_in<'a>(
        &'a self,
        conversation: &str,
        message: &str,
    ) -> ApiResult<&'a MessageRecord> {
        self.store.message(conversation, message).ok_or_else(|| {
            ApiError::not_found(
                codes::MESSAGE_NOT_FOUND,
                format!("message {message} does not exist"),
            )
        })
    }

    /// Turns sent blocks into stored blocks: file tokens become full file blocks, text keeps its
    /// nodes (stored with camelCase types) once they pass [`content_rules`], locations are
    /// range-checked.
    fn store_content(
        &self,
        sender: &str,
        blocks: Vec<SendContentBlock>,
    ) -> ApiResult<Vec<ContentBlock>> {
        if blocks.len() != 1 {
            return Err(ApiError::bad_request(format!(
                "a message holds exactly one content block, got {}",
                blocks.len()
            )));
        }
        blocks
            .into_iter()
            .map(|b| match b {
                SendContentBlock::Text(t) => {
                    content_rules::check_text(&t.children)?;
                    Ok(ContentBlock::Text(t))
                }
                SendContentBlock::Location(l) => {
                    let ok = l.latitude.is_finite()
                        && l.longitude.is_finite()
                        && (-90.0..=90.0).contains(&l.latitude)
                        && (-180.0..=180.0).contains(&l.longitude);
                    if ok {
                        Ok(ContentBlock::Location(l))
                    } else {
                        Err(ApiError::bad_request(
                            "latitude must be within ±90 and longitude within ±180",
                        ))
                    }
                }
                SendContentBlock::File(f) => Ok(ContentBlock::File(
                    self.own_file_block(sender, f.file_token.as_str())?,
                )),
            })
            .collect()
    }

    /// The block a message shows for an uploaded file.
    pub(crate) fn file_block(&self, f: &FileRecord) -> FileBlock {
        let mut url = format!("{}/public_api/v1/", self.public_url);
        encode_component(&self.config.app_id, &mut url);
        url.push_str("/files/");
        encode_component(&f.token, &mut url);
        url.push('/');
        encode_component(&f.filename, &mut url);
        FileBlock {
            subtype: f.subtype,
            file_token: talkjs_protocol::content::FileToken(f.token.clone()),
            url,
            size: f.bytes.len() as u64,
            filename: f.filename.clone(),
            width: f.width,
            height: f.height,
            duration: f.duration,
        }
    }

    /// The download URL of an uploaded file, as file blocks show it.
    pub fn file_block_url(&self, token: &str) -> Option<String> {
        self.store.file(token).map(|f| self.file_block(f).url)
    }

    /// `POST /conversations/{c}/messages`. A repeat with the same idempotency key returns the
    /// first send's message and changes nothing.
    pub fn send_message(
        &mut self,
        conversation: &str,
        sender: &str,
        m: SendMessageRequest,
    ) -> ApiResult<MessageWire> {
        let (_, me) = self.member(conversation, sender)?;
        if me.access == Access::Read {
            return Err(ApiError::forbidden(
                READ_ONLY_ACCESS,
                "read-only participants cannot send messages",
            ));
        }
        let key = m.idempotency_key.as_str();
        if key.is_empty() || key.len() > MAX_IDEMPOTENCY_KEY_BYTES {
            // An empty key would make every later send a repeat of the first.
            return Err(ApiError::bad_request(format!(
                "idempotencyKey must have 1 to {MAX_IDEMPOTENCY_KEY_BYTES} bytes"
            )));
        }
        if let Some(id) = self.store.sent_with_key(conversation, sender, key)
            && let Some(existing) = self.store.message(conversation, &id)
        {
            return Ok(message_wire(existing, sender));
        }
        if let Some(r) = &m.referenced_message_id
            && self.store.message(conversation, r).is_none()
        {
            return Err(ApiError::new(
                400,
                REFERENCED_MESSAGE_NOT_FOUND,
                format!("message {r} is not in conversation {conversation}"),
            ));
        }
        let content = self.store_content(sender, m.content)?;
        if matches!(content.as_slice(), [ContentBlock::Text(t)] if !has_visible_text(&t.children)) {
            return Err(ApiError::bad_request("a message needs some content"));
        }
        // Everything is validated; from here on the send happens.
        let record = MessageRecord {
            id: self.new_id("msg"),
            conversation_id: conversation.to_owned(),
            kind: MessageType::UserMessage,
            sender_id: Some(sender.to_owned()),
            custom: m.custom.unwrap_or_default(),
            created_at: self.message_time(conversation),
            edited_at: None,
            referenced_message_id: m.referenced_message_id,
            origin: Origin::Rest,
            content,
            reactions: BTreeMap::new(),
        };
        self.store
            .remember_key(conversation, sender, key, &record.id);
        Ok(self.insert_message(record))
    }

    /// Stores a validated new message and tells everyone: the sender (if any) has read it and
    /// stops typing, participants get `message.created` and their new activity fields.
    pub(crate) fn insert_message(&mut self, record: MessageRecord) -> MessageWire {
        let conversation = record.conversation_id.clone();
        let conversation = conversation.as_str();
        let created_at = record.created_at;
        let id = record.id.clone();
        let sender = record.sender_id.clone();
        if let Some(sender) = &sender {
            // A sender has read their own message.
            self.update_participant(conversation, sender, |p| {
                p.read_until = p.read_until.max(created_at);
                p.marked_unread = false;
            });
        }
        let reply = message_wire(&record, sender.as_deref().unwrap_or_default());
        self.store.put_message(record);
        if let Some(sender) = &sender {
            self.stop_typing(conversation, sender);
        }
        let participants = self.participants_of(conversation);
        // A new message has no reactions yet, so every participant sees the same object.
        self.publish_to_users(
            participants.iter().map(String::as_str),
            &Event::MessageCreated(MessageCreated {
                conversation_id: conversation.to_owned(),
                message_id: id,
                state: reply.clone(),
            }),
        );
        self.publish_side_activity(conversation, participants.iter().map(String::as_str));
        self.webhook_message_sent(conversation, &reply.id);
        reply
    }

    /// The time of a new message: now, but strictly later than every earlier message (pages,
    /// cursors and conversation lists order by it) and than every participant's read time (a
    /// message sent in the millisecond someone joined or read is unread for them).
    pub(crate) fn message_time(&self, conversation: &str) -> Millis {
        let last = self.store.last_message(conversation).map(|m| m.created_at);
        let read = self
            .store
            .conversation(conversation)
            .and_then(|c| c.participants.values().map(|p| p.read_until).max());
        self.clock.ordered(last.max(read))
    }

    pub(crate) fn participants_of(&self, conversation: &str) -> Vec<String> {
        self.connected_participants(conversation)
    }

    /// `PATCH /conversations/{c}/messages/{m}`: only the sender may edit.
    pub fn edit_message(
        &mut self,
        conversation: &str,
        user: &str,
        message: &str,
        e: EditMessageRequest,
    ) -> ApiResult<()> {
        self.member(conversation, user)?;
        let m = self.message_in(conversation, message)?;
        if m.sender_id.as_deref() != Some(user) {
            return Err(ApiError::forbidden(
                NOT_MESSAGE_SENDER,
                "only the sender can edit a message",
            ));
        }
        self.apply_edit(conversation, message, e)
    }

    /// Edits a message whoever sent it (the REST API's edit); the conversation and message must
    /// exist. File blocks must be the sender's own uploads.
    pub(crate) fn apply_edit(
        &mut self,
        conversation: &str,
        message: &str,
        e: EditMessageRequest,
    ) -> ApiResult<()> {
        let mut m = self.message_in(conversation, message)?.clone();
        let sender = m.sender_id.clone().unwrap_or_default();
        let content = e
            .content
            .map(|c| self.store_content(&sender, c))
            .transpose()?;
        let mut diff = MessageDiff::default();
        if let Some(content) = content {
            m.content = content.clone();
            diff.content = Some(content);
        }
        match e.custom {
            Some(Some(patch)) => {
                apply_custom_patch(&mut m.custom, &patch);
                diff.custom = Some(Some(patch));
            }
            Some(None) => {
                m.custom.clear();
                diff.custom = Some(None);
            }
            None => {}
        }
        let now = self.clock.now();
        m.edited_at = Some(now);
        diff.edited_at = Some(Some(now));
        self.store.put_message(m);
        let data = self.webhook_message_data(conversation, message);
        self.webhook_message(WebhookType::MessageUpdated, conversation, data);
        let users = self.participants_of(conversation);
        self.publish_to_users(
            users.iter().map(String::as_str),
            &Event::MessageEdited(MessageEdited {
                conversation_id: conversation.to_owned(),
                message_id: message.to_owned(),
                diff,
            }),
        );
        Ok(())
    }

    /// `DELETE /conversations/{c}/messages/{m}`: only the sender may delete. Replies to it lose
    /// their reference, so no client is left asking for a message that is gone.
    pub fn delete_message(
        &mut self,
        conversation: &str,
        user: &str,
        message: &str,
    ) -> ApiResult<()> {
        self.member(conversation, user)?;
        let m = self.message_in(conversation, message)?;
        if m.sender_id.as_deref() != Some(user) {
            return Err(ApiError::forbidden(
                NOT_MESSAGE_SENDER,
                "only the sender can delete a message",
            ));
        }
        self.apply_delete(conversation, message)
    }

    /// Deletes a message whoever sent it (the REST API's delete); 404 if it does not exist.
    pub(crate) fn apply_delete(&mut self, conversation: &str, message: &str) -> ApiResult<()> {
        self.message_in(conversation, message)?;
        let data = self.webhook_message_data(conversation, message);
        self.store.remove_message(conversation, message);
        let replies: Vec<MessageRecord> = self
            .store
            .messages(conversation, None, usize::MAX)
            .into_iter()
            .filter(|r| r.referenced_message_id.as_deref() == Some(message))
            .cloned()
            .collect();
        for mut r in replies {
            r.referenced_message_id = None;
            self.store.put_message(r);
        }
        let users = self.participants_of(conversation);
        let probe = Event::MessageDeleted(MessageDeleted {
            conversation_id: conversation.to_owned(),
            message_id: message.to_owned(),
            new_last_message: None,
        });
        self.publish_per_user(users.iter().map(String::as_str), &probe, |viewer| {
            Some(Event::MessageDeleted(MessageDeleted {
                conversation_id: conversation.to_owned(),
                message_id: message.to_owned(),
                new_last_message: self
                    .store
                    .last_message(conversation)
                    .map(|m| message_wire(m, viewer)),
            }))
        });
        self.publish_side_activity(conversation, users.iter().map(String::as_str));
        self.webhook_message(WebhookType::MessageDeleted, conversation, data);
        Ok(())
    }

    /// Deletes every message of a conversation, as TalkJS's REST API can (a server-side
    /// operation: no user, no permission check), and returns how many there were.
    ///
    /// Sockets holding the conversation's message topic get `conversation.cleared`; each
    /// participant's sockets watching the conversation or their list get a `side.edited` with
    /// the derived fields that changed: `lastMessageAt` falls back to `joinedAt` (§12.3 of
    /// docs/protocol.md) and the unread count becomes 0. Read times and "marked unread" are kept.
    /// Both go out even when there was nothing to delete. Reaction lists of the deleted messages
    /// are not told: in the official client only the message store consumes the event (§5.3).
    pub fn clear_conversation(&mut self, conversation: &str) -> Result<usize, AdminError> {
        if self.store.conversation(conversation).is_none() {
            return Err(AdminError::ConversationNotFound(conversation.to_owned()));
        }
        let ids: Vec<String> = self
            .store
            .messages(conversation, None, usize::MAX)
            .into_iter()
            .map(|m| m.id.clone())
            .collect();
        for id in &ids {
            self.store.remove_message(conversation, id);
        }
        let users = self.participants_of(conversation);
        self.publish_to_users(
            users.iter().map(String::as_str),
            &Event::ConversationCleared(ConversationOnly {
                conversation_id: conversation.to_owned(),
            }),
        );
        self.publish_side_activity(conversation, users.iter().map(String::as_str));
        Ok(ids.len())
    }

    /// `GET /me/conversations/{c}/messages`: newest first.
    pub fn list_messages(
        &self,
        conversation: &str,
        user: &str,
        limit: Option<usize>,
        cursor: Option<&str>,
    ) -> ApiResult<Page<MessageWire>> {
        self.member(conversation, user)?;
        let limit = page_size(limit, DEFAULT_MESSAGE_PAGE);
        let before: Option<(Millis, String)> = cursor.map(cursor::decode).transpose()?;
        // One extra tells whether there is a next page.
        let mut page = self
            .store
            .messages(conversation, before.as_ref(), limit + 1);
        let more = page.len() > limit;
        page.truncate(limit);
        let cursor = match (more, page.last()) {
            (true, Some(last)) => Some(cursor::encode(&(last.created_at, last.id.clone()))),
            _ => None,
        };
        Ok(Page {
            data: page.into_iter().map(|m| message_wire(m, user)).collect(),
            cursor,
        })
    }

    /// `GET /me/conversations/{c}/messages/{m}`.
    pub fn get_message(
        &self,
        conversation: &str,
        user: &str,
        message: &str,
    ) -> ApiResult<MessageWire> {
        self.member(conversation, user)?;
        Ok(message_wire(self.message_in(conversation, message)?, user))
    }

    /// `GET /me/conversations/{c}/translate`: this emulator translates nothing, and says so
    /// honestly by returning each message's own content (an identity translation).
    pub fn translate(
        &self,
        conversation: &str,
        user: &str,
        ids: &[String],
    ) -> ApiResult<BTreeMap<String, Option<Vec<ContentBlock>>>> {
        self.member(conversation, user)?;
        Ok(ids
            .iter()
            .map(|id| {
                (
                    id.clone(),
                    self.store
                        .message(conversation, id)
                        .map(|m| m.content.clone()),
                )
            })
            .collect())
    }

    /// `POST /files/validate`: whether a file of this size may be uploaded.
    pub fn validate_file(&self, filename: &str, filesize: u64) -> ApiResult<()> {
        if filename.is_empty() {
            return Err(ApiError::bad_request("filename must not be empty"));
        }
        if filesize > self.config.max_upload_bytes {
            return Err(ApiError::new(
                400,
                codes::FILE_TOO_LARGE,
                format!("max {} bytes", self.config.max_upload_bytes),
            ));
        }
        Ok(())
    }
}

fn has_visible_text(nodes: &[TextNode]) -> bool {
    nodes.iter().any(|n| match n {
        TextNode::Text(s) => !s.trim().is_empty(),
        other => other.children().is_none_or(has_visible_text),
    })
}
