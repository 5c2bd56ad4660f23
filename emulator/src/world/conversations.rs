//! Conversations and participants: create, set, join and leave, read state, and the paged lists.

use std::collections::BTreeMap;

use talkjs_protocol::error::codes;
use talkjs_protocol::event::{ConversationChanged, ConversationOnly, Event, ParticipantDeleted};
use talkjs_protocol::filter::ConversationFilter;
use talkjs_protocol::params::{
    CreateConversationParams, SetConversationParams, SetParticipantParams,
};
use talkjs_protocol::wire::{
    Access, ConversationDiff, ConversationWire, CustomPatch, Millis, Notify, Page, ParticipantWire,
    apply_custom_patch,
};

use super::cursor;
use super::participants::ParticipantAction;
use super::view::{everyone_read_until, participant_wire};
use super::{ApiError, ApiResult, World};
use crate::store::{ConversationRecord, ParticipantRecord};

/// The access a participant gets when none is given.
pub const DEFAULT_ACCESS: Access = Access::ReadWrite;
/// The notification setting a participant gets when none is given.
pub const DEFAULT_NOTIFY: Notify = Notify::All;
/// The conversation list page size when the request gives none (the official client's window).
pub const DEFAULT_CONVERSATION_PAGE: usize = 20;
/// The participant page size when the request gives none.
pub const DEFAULT_PARTICIPANT_PAGE: usize = 10;
/// The largest page any list returns.
pub const MAX_PAGE: usize = 100;

/// How a participant write treats an existing or missing participant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParticipantWrite {
    /// `POST`: add; 409 if already a participant.
    Create,
    /// `PUT`: add or update.
    Set,
    /// `PATCH`: update; 404 if not a participant.
    Edit,
}

/// Where the next page of a conversation list starts, and the filter it applies.
#[derive(serde::Serialize, serde::Deserialize)]
struct ConversationCursor {
    /// The last item of the previous page: (lastMessageAt, id).
    after: (Millis, String),
    filter: Option<ConversationFilter>,
}

/// Clamps a requested page size: missing means the default, and it is at least 1 and at most
/// [`MAX_PAGE`].
pub(crate) fn page_size(requested: Option<usize>, default: usize) -> usize {
    requested.unwrap_or(default).clamp(1, MAX_PAGE)
}

impl World {
    pub(crate) fn check_conversation_sync(&self, code: &str) -> ApiResult<()> {
        if self.config.conversation_sync {
            Ok(())
        } else {
            Err(ApiError::forbidden(
                code,
                "conversation synchronization from clients is disabled for this app",
            ))
        }
    }

    fn participant_ids(&self, conversation: &str) -> Vec<String> {
        self.connected_participants(conversation)
    }

    /// `POST /conversations/{c}`: create it (with no participants yet); 409 if it exists.
    pub fn create_conversation(&mut self, id: &str, p: CreateConversationParams) -> ApiResult<()> {
        self.check_conversation_sync(codes::UNAUTHORIZED_TO_EDIT)?;
        if self.store.conversation(id).is_some() {
            return Err(ApiError::conflict(format!(
                "conversation {id} already exists"
            )));
        }
        let conv = ConversationRecord {
            id: id.to_owned(),
            subject: p.subject,
            photo_url: p.photo_url,
            welcome_messages: p.welcome_messages.unwrap_or_default(),
            custom: p.custom.unwrap_or_default(),
            created_at: self.clock.now(),
            participants: BTreeMap::new(),
        };
        self.store.put_conversation(conv);
        Ok(())
    }

    /// `PUT /conversations/{c}`: create it, or change its attributes.
    pub fn set_conversation(&mut self, id: &str, p: SetConversationParams) -> ApiResult<()> {
        self.check_conversation_sync(codes::UNAUTHORIZED_TO_EDIT)?;
        self.upsert_conversation(id, p);
        Ok(())
    }

    /// Creates the conversation or changes its attributes, whatever the sync setting.
    pub(crate) fn upsert_conversation(&mut self, id: &str, p: SetConversationParams) {
        let Some(old) = self.store.conversation(id).cloned() else {
            let conv = ConversationRecord {
                id: id.to_owned(),
                subject: p.subject.clone().flatten(),
                photo_url: p.photo_url.clone().flatten(),
                welcome_messages: p.welcome_messages.clone().flatten().unwrap_or_default(),
                custom: match &p.custom {
                    Some(Some(patch)) => patch
                        .iter()
                        .filter_map(|(k, v)| v.as_ref().map(|v| (k.clone(), v.clone())))
                        .collect(),
                    _ => Default::default(),
                },
                created_at: self.clock.now(),
                participants: BTreeMap::new(),
            };
            self.store.put_conversation(conv);
            return;
        };
        let mut conv = old.clone();
        let mut diff = ConversationDiff::default();
        if let Some(v) = &p.subject
            && *v != conv.subject
        {
            conv.subject = v.clone();
            diff.subject = Some(v.clone());
        }
        if let Some(v) = &p.photo_url
            && *v != conv.photo_url
        {
            conv.photo_url = v.clone();
            diff.photo_url = Some(v.clone());
        }
        if let Some(v) = &p.welcome_messages {
            let new = v.clone().unwrap_or_default();
            if new != conv.welcome_messages {
                conv.welcome_messages = new.clone();
                diff.welcome_messages = Some(Some(new));
            }
        }
        match &p.custom {
            Some(Some(patch)) => {
                apply_custom_patch(&mut conv.custom, patch);
                let changed: CustomPatch = patch
                    .iter()
                    .filter(|(k, v)| old.custom.get(*k) != v.as_ref())
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                if !changed.is_empty() {
                    diff.custom = Some(Some(changed));
                }
            }
            Some(None) if !conv.custom.is_empty() => {
                conv.custom.clear();
                diff.custom = Some(None);
            }
            _ => {}
        }
        self.store.put_conversation(conv);
        if diff != ConversationDiff::default() {
            let event = Event::ConversationEdited(ConversationChanged {
                conversation_id: id.to_owned(),
                diff,
            });
            let users = self.participant_ids(id);
            self.publish_to_users(users.iter().map(String::as_str), &event);
        }
    }

    /// One action of `POST /conversations/{c}/participants`: add, set or edit `user`'s
    /// participation (a batch of one, see [`World::write_participants`]).
    pub fn write_participant(
        &mut self,
        conversation: &str,
        user: &str,
        kind: ParticipantWrite,
        p: SetParticipantParams,
    ) -> ApiResult<()> {
        let action = ParticipantAction {
            user: user.to_owned(),
            kind,
            params: p,
        };
        self.write_participants(conversation, vec![action])
            .pop()
            .unwrap_or(Ok(()))
    }

    /// [`World::write_participant`] whatever the sync setting (the REST API's participant writes).
    pub(crate) fn apply_participant_write(
        &mut self,
        conversation: &str,
        user: &str,
        kind: ParticipantWrite,
        p: SetParticipantParams,
    ) -> ApiResult<()> {
        let action = ParticipantAction {
            user: user.to_owned(),
            kind,
            params: p,
        };
        self.apply_participant_actions(conversation, vec![action], Ok(()))
            .pop()
            .unwrap_or(Ok(()))
    }

    /// `DELETE /conversations/{c}/participants/{u}`: remove a participant; 404 if not one.
    pub fn remove_participant(&mut self, conversation: &str, user: &str) -> ApiResult<()> {
        self.check_conversation_sync(codes::UNAUTHORIZED_TO_EDIT_PARTICIPANT)?;
        self.apply_remove_participant(conversation, user)
    }

    /// [`World::remove_participant`] whatever the sync setting.
    pub(crate) fn apply_remove_participant(
        &mut self,
        conversation: &str,
        user: &str,
    ) -> ApiResult<()> {
        let mut conv = self.conversation_record(conversation)?.clone();
        if conv.participants.remove(user).is_none() {
            return Err(ApiError::not_found(
                codes::PARTICIPANT_NOT_FOUND,
                format!("{user} is not a participant of {conversation}"),
            ));
        }
        let mut recipients: Vec<String> = conv.participants.keys().cloned().collect();
        recipients.push(user.to_owned());
        self.store.put_conversation(conv);
        self.stop_typing(conversation, user);
        self.publish_to_users(
            recipients.iter().map(String::as_str),
            &Event::ParticipantDeleted(ParticipantDeleted {
                conversation_id: conversation.to_owned(),
                user_id: user.to_owned(),
            }),
        );
        self.publish_to_users(
            [user],
            &Event::SideDeleted(ConversationOnly {
                conversation_id: conversation.to_owned(),
            }),
        );
        self.publish_everyone_read_until(conversation, None);
        Ok(())
    }

    /// `POST /me/conversations/{c}/read`.
    pub fn mark_read(&mut self, conversation: &str, user: &str) -> ApiResult<()> {
        let (_, me) = self.member(conversation, user)?;
        let before = me.read_until;
        let now = self.read_time(conversation);
        self.update_participant(conversation, user, |p| {
            p.read_until = now;
            p.marked_unread = false;
        });
        self.publish_side_activity(conversation, [user]);
        self.publish_everyone_read_until(conversation, Some(user));
        self.webhook_read(conversation, user, before, now);
        Ok(())
    }

    /// `POST /me/conversations/{c}/unread`.
    pub fn mark_unread(&mut self, conversation: &str, user: &str) -> ApiResult<()> {
        self.member(conversation, user)?;
        self.update_participant(conversation, user, |p| p.marked_unread = true);
        self.publish_side_activity(conversation, [user]);
        Ok(())
    }

    /// The read time of someone who has read everything there is: now, or the last message's
    /// time if that is later (messages sent in one millisecond are stamped a millisecond apart).
    pub(crate) fn read_time(&self, conversation: &str) -> Millis {
        let last = self.store.last_message(conversation).map(|m| m.created_at);
        self.clock.now().max(last.unwrap_or(0))
    }

    pub(crate) fn update_participant(
        &mut self,
        conversation: &str,
        user: &str,
        f: impl FnOnce(&mut ParticipantRecord),
    ) {
        if let Some(mut conv) = self.store.conversation(conversation).cloned()
            && let Some(p) = conv.participants.get_mut(user)
        {
            f(p);
            self.store.put_conversation(conv);
        }
    }

    /// Sends each of `users` a `side.edited` with their current activity fields.
    pub(crate) fn publish_side_activity<'a>(
        &self,
        conversation: &str,
        users: impl IntoIterator<Item = &'a str>,
    ) {
        let probe = Event::SideEdited(ConversationChanged {
            conversation_id: conversation.to_owned(),
            diff: ConversationDiff::default(),
        });
        let Some(conv) = self.store.conversation(conversation) else {
            return;
        };
        let everyone = everyone_read_until(conv);
        self.publish_per_user(users, &probe, |u| {
            self.side_activity_diff(conv, u, everyone).map(|diff| {
                Event::SideEdited(ConversationChanged {
                    conversation_id: conversation.to_owned(),
                    diff,
                })
            })
        });
    }

    /// Tells the participants (except `skip`, who was told already) the conversation's
    /// everyone-read-until time.
    pub(crate) fn publish_everyone_read_until(&self, conversation: &str, skip: Option<&str>) {
        let Some(conv) = self.store.conversation(conversation) else {
            return;
        };
        let event = Event::SideEdited(ConversationChanged {
            conversation_id: conversation.to_owned(),
            diff: ConversationDiff {
                everyone_read_until: Some(everyone_read_until(conv)),
                ..ConversationDiff::default()
            },
        });
        let users = self.connected_participants(conversation);
        let users = users
            .iter()
            .map(String::as_str)
            .filter(|u| Some(*u) != skip);
        self.publish_to_users(users, &event);
    }

    /// `GET /me/conversations`: a page of the user's conversations, newest activity first.
    pub fn list_conversations(
        &self,
        user: &str,
        limit: Option<usize>,
        filter: Option<ConversationFilter>,
        cursor: Option<&str>,
    ) -> ApiResult<Page<ConversationWire>> {
        if self.store.user(user).is_none() {
            return Err(ApiError::not_found(
                codes::USER_NOT_FOUND,
                format!("user {user} does not exist"),
            ));
        }
        let limit = page_size(limit, DEFAULT_CONVERSATION_PAGE);
        let (after, filter) = match cursor {
            Some(c) => {
                let c: ConversationCursor = cursor::decode(c)?;
                (Some(c.after), c.filter)
            }
            None => (None, filter),
        };
        let mut all: Vec<ConversationWire> = self
            .store
            .conversations_of(user)
            .iter()
            .filter_map(|id| self.store.conversation(id))
            .filter_map(|c| self.conversation_wire(c, user))
            .filter(|w| filter.as_ref().is_none_or(|f| f.matches(w)))
            .collect();
        // Newest activity first; ties broken by id so that paging is stable.
        all.sort_by(|a, b| {
            b.last_message_at
                .cmp(&a.last_message_at)
                .then_with(|| a.id.cmp(&b.id))
        });
        let start = match &after {
            Some((t, id)) => all
                .iter()
                .position(|w| (w.last_message_at < *t) || (w.last_message_at == *t && w.id > *id))
                .unwrap_or(all.len()),
            None => 0,
        };
        let data: Vec<ConversationWire> = all.iter().skip(start).take(limit).cloned().collect();
        let more = start + data.len() < all.len();
        let cursor = match (more, data.last()) {
            (true, Some(last)) => Some(cursor::encode(&ConversationCursor {
                after: (last.last_message_at, last.id.clone()),
                filter,
            })),
            _ => None,
        };
        Ok(Page { data, cursor })
    }

    /// `GET /me/conversations/{c}`.
    pub fn get_conversation(&self, conversation: &str, user: &str) -> ApiResult<ConversationWire> {
        let (conv, _) = self.member(conversation, user)?;
        self.conversation_wire(conv, user)
            .ok_or_else(|| ApiError::not_a_participant(conversation))
    }

    /// `GET /me/conversations/{c}/participants`: newest participants first.
    pub fn list_participants(
        &self,
        conversation: &str,
        user: &str,
        limit: Option<usize>,
        cursor: Option<&str>,
    ) -> ApiResult<Page<ParticipantWire>> {
        let (conv, _) = self.member(conversation, user)?;
        let limit = page_size(limit, DEFAULT_PARTICIPANT_PAGE);
        let after: Option<(Millis, String)> = cursor.map(cursor::decode).transpose()?;
        let mut all: Vec<&ParticipantRecord> = conv.participants.values().collect();
        all.sort_by(|a, b| {
            b.joined_at
                .cmp(&a.joined_at)
                .then_with(|| a.user_id.cmp(&b.user_id))
        });
        let start = match &after {
            Some((t, id)) => all
                .iter()
                .position(|p| p.joined_at < *t || (p.joined_at == *t && p.user_id > *id))
                .unwrap_or(all.len()),
            None => 0,
        };
        let data: Vec<ParticipantWire> = all
            .iter()
            .skip(start)
            .take(limit)
            .map(|p| participant_wire(p))
            .collect();
        let more = start + data.len() < all.len();
        let cursor = match (more, data.last()) {
            (true, Some(last)) => Some(cursor::encode(&(last.joined_at, last.id.clone()))),
            _ => None,
        };
        Ok(Page { data, cursor })
    }

    /// `GET /me/conversations/{c}/participants/{u}`.
    pub fn get_participant(
        &self,
        conversation: &str,
        user: &str,
        target: &str,
    ) -> ApiResult<ParticipantWire> {
        let (conv, _) = self.member(conversation, user)?;
        conv.participants
            .get(target)
            .map(participant_wire)
            .ok_or_else(|| {
                ApiError::not_found(
                    codes::PARTICIPANT_NOT_FOUND,
                    format!("{target} is not a participant of {conversation}"),
                )
            })
    }
}
