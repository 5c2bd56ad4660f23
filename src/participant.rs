//! [`ParticipantRef`]: a user's membership of a conversation.

use std::sync::Arc;

use talkjs_protocol::params::{CreateParticipantParams, SetParticipantParams};
use talkjs_protocol::path::Route;
use talkjs_protocol::request::{ParticipantAction, ParticipantMethod};
use talkjs_protocol::snapshot::ParticipantSnapshot;

use crate::conversation::participant_action;
use crate::hydrate;
use crate::session::{EMPTY, TalkSession, require_id};
use crate::{ErrorKind, Result};

/// A reference to a user's participation in a conversation. Cheap to create and clone.
#[derive(Clone, Debug)]
pub struct ParticipantRef {
    session: TalkSession,
    conversation_id: String,
    user_id: String,
}

impl PartialEq for ParticipantRef {
    fn eq(&self, other: &ParticipantRef) -> bool {
        self.conversation_id == other.conversation_id
            && self.user_id == other.user_id
            && self.session.app_id() == other.session.app_id()
    }
}

impl Eq for ParticipantRef {}

impl ParticipantRef {
    pub(crate) fn new(
        session: TalkSession,
        conversation_id: String,
        user_id: String,
    ) -> ParticipantRef {
        ParticipantRef {
            session,
            conversation_id,
            user_id,
        }
    }

    /// The participant's user id.
    pub fn user_id(&self) -> &str {
        &self.user_id
    }

    /// The conversation's id.
    pub fn conversation_id(&self) -> &str {
        &self.conversation_id
    }

    fn check(&self, op: &Arc<str>) -> Result<()> {
        require_id(op, "conversation id", &self.conversation_id)?;
        require_id(op, "user id", &self.user_id)
    }

    /// The participant, or `None` if the user is not one (or the conversation is unknown, or the
    /// current user asks about themselves and is not in it). Asking about someone else in a
    /// conversation the current user is not in is refused (`NOT_A_PARTICIPANT`), as in the
    /// official client. A live subscription of this session that shows the participant answers
    /// without a request; otherwise the read is a short-lived subscription, as in the official
    /// client (see [`ConversationRef::get`](crate::ConversationRef::get)).
    pub async fn get(&self) -> Result<Option<ParticipantSnapshot>> {
        let op: Arc<str> = format!(
            "Get participant {} in conversation {}",
            self.user_id, self.conversation_id
        )
        .into();
        self.check(&op)?;
        let lookup = talkjs_actors::Lookup::Participant {
            conversation: self.conversation_id.clone(),
            user: self.user_id.clone(),
        };
        if let Some(talkjs_actors::Found::Participant(p)) = self.session.find_live(lookup).await {
            return Ok(Some((*p).clone()));
        }
        // Otherwise a short-lived subscription, as the official client reads.
        let read = self
            .session
            .env()
            .read_participant(&self.conversation_id, &self.user_id);
        let snapshot = hydrate::once(op, read).await?;
        Ok(snapshot.map(|p| (*p).clone()))
    }

    /// Adds the user, or updates their access and notification settings.
    pub async fn set(&self, params: SetParticipantParams) -> Result<()> {
        let op = format!(
            "Set participant {} in conversation {}",
            self.user_id, self.conversation_id
        );
        self.act(op, ParticipantMethod::Put, params.into()).await
    }

    /// Updates an existing participant's settings; fails if the user is not a participant.
    pub async fn edit(&self, params: SetParticipantParams) -> Result<()> {
        let op = format!(
            "Edit participant {} in conversation {}",
            self.user_id, self.conversation_id
        );
        self.act(op, ParticipantMethod::Patch, params.into()).await
    }

    /// Adds the user with these settings unless they are a participant already.
    pub async fn create_if_not_exists(&self, params: CreateParticipantParams) -> Result<()> {
        let op = format!(
            "Add participant {} to conversation {}",
            self.user_id, self.conversation_id
        );
        self.act(op, ParticipantMethod::Post, params.into()).await
    }

    async fn act(
        &self,
        op: String,
        method: ParticipantMethod,
        params: talkjs_protocol::params::SetConversationParams,
    ) -> Result<()> {
        let op: Arc<str> = op.into();
        self.check(&op)?;
        let action = ParticipantAction {
            id: self.user_id.clone(),
            method,
            params,
        };
        participant_action(&self.session, &self.conversation_id, op, action).await
    }

    /// Removes the user from the conversation; removing a non-participant succeeds.
    pub async fn delete(&self) -> Result<()> {
        let op: Arc<str> = format!(
            "Remove participant {} from conversation {}",
            self.user_id, self.conversation_id
        )
        .into();
        self.check(&op)?;
        let route = Route::DeleteParticipant {
            conversation: self.conversation_id.clone(),
            user: self.user_id.clone(),
        };
        match self.session.call_unit(op, &route, EMPTY).await {
            Err(e) if matches!(e.kind(), ErrorKind::NotFound(_)) => Ok(()),
            other => other,
        }
    }

    /// Subscribes to the participant: `None` while the user is not a participant (or the
    /// current user is not one), then every change to their membership or their user. An
    /// empty id gives a subscription in the error state.
    ///
    /// ```no_run
    /// # async fn demo(session: talkjs::TalkSession) {
    /// let bob = session.conversation("support").participant("bob").subscribe();
    /// bob.on_snapshot(|p, _| match p {
    ///     Some(p) => println!("{} can {:?}", p.user.name, p.access),
    ///     None => println!("bob is not in the conversation"),
    /// });
    /// # }
    /// ```
    pub fn subscribe(&self) -> crate::SingleParticipantSubscription {
        self.session
            .env()
            .subscribe_participant(&self.conversation_id, &self.user_id)
    }
}
