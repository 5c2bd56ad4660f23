//! Wire objects as one user sees them, derived from the store's records on demand.

use std::collections::BTreeMap;

use talkjs_protocol::wire::{
    ConversationDiff, ConversationWire, MessageWire, Millis, ParticipantWire, ReactionSummaryWire,
    UserWire,
};

use super::{ApiError, ApiResult, World};
use crate::store::{ConversationRecord, MessageRecord, ParticipantRecord, UserRecord};

/// A user's public fields.
pub(crate) fn user_wire(u: &UserRecord) -> UserWire {
    UserWire {
        id: u.id.clone(),
        name: u.name.clone(),
        custom: u.custom.clone(),
        locale: u.locale.clone(),
        photo_url: u.photo_url.clone(),
        role: u.role.clone(),
        welcome_message: u.welcome_message.clone(),
    }
}

/// A participant's wire form.
pub(crate) fn participant_wire(p: &ParticipantRecord) -> ParticipantWire {
    ParticipantWire {
        id: p.user_id.clone(),
        access: p.access,
        notify: p.notify,
        joined_at: p.joined_at,
    }
}

/// A message as `viewer` sees it (only `currentUserReacted` differs between viewers).
pub(crate) fn message_wire(m: &MessageRecord, viewer: &str) -> MessageWire {
    MessageWire {
        id: m.id.clone(),
        kind: m.kind,
        sender_id: m.sender_id.clone(),
        custom: m.custom.clone(),
        created_at: m.created_at,
        edited_at: m.edited_at,
        referenced_message_id: m.referenced_message_id.clone(),
        origin: m.origin,
        content: m.content.clone(),
        reactions: m
            .reactions
            .iter()
            .filter(|(_, r)| !r.users.is_empty())
            .map(|(emoji, r)| {
                let summary = ReactionSummaryWire {
                    count: r.users.len() as u64,
                    current_user_reacted: r.users.iter().any(|(u, _)| u == viewer),
                    created_at: r.first_at,
                };
                (emoji.clone(), summary)
            })
            .collect::<BTreeMap<_, _>>(),
        conversation_id: None,
    }
}

impl World {
    /// The conversation, or 404 `CONVERSATION_NOT_FOUND`.
    pub(crate) fn conversation_record(&self, conversation: &str) -> ApiResult<&ConversationRecord> {
        self.store
            .conversation(conversation)
            .ok_or_else(|| ApiError::conversation_not_found(conversation))
    }

    /// The conversation or 404; the participant record of `user` in it or 403 `NOT_A_PARTICIPANT`.
    pub(crate) fn member<'a>(
        &'a self,
        conversation: &str,
        user: &str,
    ) -> ApiResult<(&'a ConversationRecord, &'a ParticipantRecord)> {
        let conv = self.conversation_record(conversation)?;
        let me = conv
            .participants
            .get(user)
            .ok_or_else(|| ApiError::not_a_participant(conversation))?;
        Ok((conv, me))
    }

    /// The conversation as `user` sees it, if they are a participant.
    pub(crate) fn conversation_wire(
        &self,
        conv: &ConversationRecord,
        user: &str,
    ) -> Option<ConversationWire> {
        self.conversation_wire_given(conv, user, everyone_read_until(conv))
    }

    /// [`World::conversation_wire`] with the conversation's everyone-read-until time computed
    /// already: it reads every participant, so a caller building many users' views computes it
    /// once.
    pub(crate) fn conversation_wire_given(
        &self,
        conv: &ConversationRecord,
        user: &str,
        everyone_read_until: Millis,
    ) -> Option<ConversationWire> {
        let me = conv.participants.get(user)?;
        let last_at = self.store.last_message(&conv.id).map(|m| m.created_at);
        let unread = self.store.count_unread(&conv.id, user, me.read_until);
        Some(ConversationWire {
            id: conv.id.clone(),
            subject: conv.subject.clone(),
            photo_url: conv.photo_url.clone(),
            welcome_messages: conv.welcome_messages.clone(),
            custom: conv.custom.clone(),
            created_at: conv.created_at,
            joined_at: me.joined_at,
            // The last message's time, or joinedAt when there is none. Not the later of the two:
            // the official client sorts lists by `lastMessage.createdAt ?? joinedAt`, tests
            // `hasMessages` as `lastMessageAt != joinedAt` and `lastActivityAt` against
            // `lastMessageAt`, and the .d.ts documents lastActivityAt as "falls back to joinedAt
            // if the conversation has no messages". With max(), a conversation joined after its
            // history counted as empty and was paged by its join time while the client showed
            // it by its last message (conformance/test/conversations.test.mjs).
            last_message_at: last_at.unwrap_or(me.joined_at),
            unread_message_count: unread,
            is_unread: unread > 0 || me.marked_unread,
            access: me.access,
            notify: me.notify,
            read_until: me.read_until,
            everyone_read_until,
        })
    }

    /// The fields of `user`'s view that change when messages come and go or are read, as a diff.
    pub(crate) fn side_activity_diff(
        &self,
        conv: &ConversationRecord,
        user: &str,
        everyone_read_until: Millis,
    ) -> Option<ConversationDiff> {
        let w = self.conversation_wire_given(conv, user, everyone_read_until)?;
        Some(ConversationDiff {
            last_message_at: Some(w.last_message_at),
            unread_message_count: Some(w.unread_message_count),
            is_unread: Some(w.is_unread),
            read_until: Some(w.read_until),
            everyone_read_until: Some(w.everyone_read_until),
            ..ConversationDiff::default()
        })
    }
}

/// The time up to which every participant has read.
pub(crate) fn everyone_read_until(conv: &ConversationRecord) -> Millis {
    conv.participants
        .values()
        .map(|p| p.read_until)
        .min()
        .unwrap_or(0)
}
