//! Participant batches: `POST /conversations/{c}/participants` applies many actions at once.
//!
//! The batch is linear in its size: the conversation is read once, every action applied to that
//! one copy, and the copy stored once, then the events go out, each to the participants that
//! have a socket (not to every participant: a conversation with 10,000 participants of whom a
//! few are online costs a few lookups per event). Applying one action at a time, each cloning
//! and storing the whole conversation and publishing to every participant, made a batch of
//! 10,000 actions quadratic: it held the world for 23 s.

use talkjs_protocol::error::codes;
use talkjs_protocol::event::{
    Event, ParticipantCreated, ParticipantEdited, SideCreated, TypingAvailable,
};
use talkjs_protocol::params::SetParticipantParams;
use talkjs_protocol::wire::{Millis, ParticipantDiff, ParticipantWire};

use super::conversations::{DEFAULT_ACCESS, DEFAULT_NOTIFY, ParticipantWrite};
use super::view::{everyone_read_until, participant_wire};
use super::{ApiError, ApiResult, World};
use crate::clock::Clock;
use crate::store::{ConversationRecord, ParticipantRecord};

/// One action of a participant batch.
#[derive(Debug, Clone)]
pub struct ParticipantAction {
    /// The user whose participation changes.
    pub user: String,
    /// Add, set or edit.
    pub kind: ParticipantWrite,
    /// The access and notification settings given.
    pub params: SetParticipantParams,
}

/// What an applied action changed, to publish once the batch is stored.
enum Change {
    Joined(ParticipantWire),
    Edited(String, ParticipantDiff),
}

impl World {
    /// Applies a batch of participant actions in order; one result per action. Each action is
    /// validated against the conversation as the earlier actions of the batch left it.
    pub fn write_participants(
        &mut self,
        conversation: &str,
        actions: Vec<ParticipantAction>,
    ) -> Vec<ApiResult<()>> {
        let sync = self.check_conversation_sync(codes::UNAUTHORIZED_TO_EDIT_PARTICIPANT);
        self.apply_participant_actions(conversation, actions, sync)
    }

    /// Applies a batch whatever the sync setting, unless `sync` is an error (then every action
    /// fails with it): the REST API's writes pass `Ok(())`.
    pub(crate) fn apply_participant_actions(
        &mut self,
        conversation: &str,
        actions: Vec<ParticipantAction>,
        sync: ApiResult<()>,
    ) -> Vec<ApiResult<()>> {
        let mut conv = self.store.conversation(conversation).cloned();
        let read_until = self.read_time(conversation);
        let mut changes = Vec::new();
        let results = actions
            .into_iter()
            .map(|a| {
                sync.clone()?;
                if a.user.is_empty() {
                    return Err(ApiError::bad_request("participant id must not be empty"));
                }
                let conv = conv
                    .as_mut()
                    .ok_or_else(|| ApiError::conversation_not_found(conversation))?;
                if self.store.user(&a.user).is_none() {
                    return Err(ApiError::not_found(
                        codes::USER_NOT_FOUND,
                        format!("user {} does not exist", a.user),
                    ));
                }
                changes.extend(apply(conv, a, &self.clock, read_until)?);
                Ok(())
            })
            .collect();
        if let Some(conv) = conv
            && !changes.is_empty()
        {
            self.store.put_conversation(conv);
            self.publish_participant_changes(conversation, changes);
        }
        results
    }

    fn publish_participant_changes(&self, c: &str, changes: Vec<Change>) {
        let Some(conv) = self.store.conversation(c) else {
            return;
        };
        let recipients = self.connected_participants(c);
        let everyone = everyone_read_until(conv);
        let mut joined = false;
        for change in changes {
            match change {
                Change::Joined(state) => {
                    joined = true;
                    let user = state.id.clone();
                    self.publish_to_users(
                        recipients.iter().map(String::as_str),
                        &Event::ParticipantCreated(ParticipantCreated {
                            conversation_id: c.to_owned(),
                            user_id: user.clone(),
                            state,
                        }),
                    );
                    if recipients.contains(&user) {
                        self.welcome(conv, &user, everyone);
                    }
                }
                Change::Edited(user, diff) => self.publish_to_users(
                    recipients.iter().map(String::as_str),
                    &Event::ParticipantEdited(ParticipantEdited {
                        conversation_id: c.to_owned(),
                        user_id: user,
                        diff,
                    }),
                ),
            }
        }
        if joined {
            // Another participant's read time may no longer be the minimum.
            self.publish_everyone_read_until(c, None);
        }
    }

    /// Tells a newcomer with a socket about the conversation and who is typing in it.
    fn welcome(&self, conv: &ConversationRecord, user: &str, everyone: Millis) {
        if let Some(state) = self.conversation_wire_given(conv, user, everyone) {
            self.publish_to_users(
                [user],
                &Event::SideCreated(SideCreated {
                    conversation_id: conv.id.clone(),
                    state,
                }),
            );
        }
        // The official client does not refetch typing on join, so tell the newcomer now.
        self.publish_to_users(
            [user],
            &Event::TypingAvailable(TypingAvailable {
                conversation_id: conv.id.clone(),
                state: self.typing_view(&conv.id, user),
            }),
        );
    }
}

/// Applies one action to the batch's copy of the conversation.
fn apply(
    conv: &mut ConversationRecord,
    a: ParticipantAction,
    clock: &Clock,
    read_until: Millis,
) -> ApiResult<Option<Change>> {
    let ParticipantAction { user, kind, params } = a;
    match (conv.participants.get_mut(&user), kind) {
        (Some(_), ParticipantWrite::Create) => Err(ApiError::conflict(format!(
            "{user} is already a participant of {}",
            conv.id
        ))),
        (None, ParticipantWrite::Edit) => Err(ApiError::not_found(
            codes::PARTICIPANT_NOT_FOUND,
            format!("{user} is not a participant of {}", conv.id),
        )),
        (None, _) => {
            // Participant lists order by join time, and conversation lists by it when there is
            // no message: joins, like messages, get distinct increasing times.
            let joined_at = clock.ordered(None);
            let record = ParticipantRecord {
                user_id: user.clone(),
                access: params.access.flatten().unwrap_or(DEFAULT_ACCESS),
                notify: params.notify.flatten().unwrap_or(DEFAULT_NOTIFY),
                joined_at,
                // A newcomer has read the history, up to their join.
                read_until: read_until.max(joined_at),
                marked_unread: false,
            };
            let wire = participant_wire(&record);
            conv.participants.insert(user, record);
            Ok(Some(Change::Joined(wire)))
        }
        (Some(old), _) => {
            let mut new = old.clone();
            if let Some(access) = params.access {
                new.access = access.unwrap_or(DEFAULT_ACCESS);
            }
            if let Some(notify) = params.notify {
                new.notify = notify.unwrap_or(DEFAULT_NOTIFY);
            }
            let diff = ParticipantDiff {
                access: (new.access != old.access).then_some(new.access),
                notify: (new.notify != old.notify).then_some(new.notify),
            };
            if diff == ParticipantDiff::default() {
                return Ok(None);
            }
            *old = new;
            Ok(Some(Change::Edited(user, diff)))
        }
    }
}
