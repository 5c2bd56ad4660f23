//! [`ReactionsRef`]: one emoji's reactions on a message.

use std::sync::Arc;

use talkjs_protocol::path::Route;
use talkjs_protocol::snapshot::SingleReactionSnapshot;

use crate::hydrate;
use crate::session::{EMPTY, TalkSession, require_id};
use crate::{ErrorKind, Result};

/// How many reactions [`ReactionsRef::get_first_reactions`] returns.
const FIRST_REACTIONS: usize = 10;

/// A reference to the reactions with one emoji on one message. Cheap to create and clone.
#[derive(Clone, Debug)]
pub struct ReactionsRef {
    session: TalkSession,
    conversation_id: String,
    message_id: String,
    emoji: String,
}

impl PartialEq for ReactionsRef {
    fn eq(&self, other: &ReactionsRef) -> bool {
        self.emoji == other.emoji
            && self.message_id == other.message_id
            && self.conversation_id == other.conversation_id
            && self.session.app_id() == other.session.app_id()
    }
}

impl Eq for ReactionsRef {}

impl ReactionsRef {
    pub(crate) fn new(
        session: TalkSession,
        conversation_id: String,
        message_id: String,
        emoji: String,
    ) -> ReactionsRef {
        ReactionsRef {
            session,
            conversation_id,
            message_id,
            emoji,
        }
    }

    /// The emoji (a Unicode emoji, or a custom one like `:cat:`).
    pub fn emoji(&self) -> &str {
        &self.emoji
    }

    /// The message's id.
    pub fn message_id(&self) -> &str {
        &self.message_id
    }

    /// The conversation's id.
    pub fn conversation_id(&self) -> &str {
        &self.conversation_id
    }

    fn check(&self, op: &Arc<str>) -> Result<()> {
        require_id(op, "conversation id", &self.conversation_id)?;
        require_id(op, "message id", &self.message_id)?;
        require_id(op, "emoji", &self.emoji)
    }

    fn write_route(&self, add: bool) -> Route {
        let (conversation, message, emoji, user) = (
            self.conversation_id.clone(),
            self.message_id.clone(),
            self.emoji.clone(),
            self.session.user_id().to_owned(),
        );
        if add {
            Route::AddReaction {
                conversation,
                message,
                emoji,
                user,
            }
        } else {
            Route::RemoveReaction {
                conversation,
                message,
                emoji,
                user,
            }
        }
    }

    /// Reacts with this emoji as the current user.
    pub async fn add(&self) -> Result<()> {
        let op: Arc<str> = format!(
            "Add {} reaction on message {} in conversation {}",
            self.emoji, self.message_id, self.conversation_id
        )
        .into();
        self.check(&op)?;
        self.session
            .call_unit(op, &self.write_route(true), EMPTY)
            .await
    }

    /// Takes back the current user's reaction; taking back one that is not there succeeds.
    pub async fn remove(&self) -> Result<()> {
        let op: Arc<str> = format!(
            "Remove {} reaction from message {} in conversation {}",
            self.emoji, self.message_id, self.conversation_id
        )
        .into();
        self.check(&op)?;
        match self
            .session
            .call_unit(op, &self.write_route(false), EMPTY)
            .await
        {
            Err(e) if matches!(e.kind(), ErrorKind::NotFound(_)) => Ok(()),
            other => other,
        }
    }

    /// The first ten users who reacted with this emoji, oldest first; `None` if the message does
    /// not exist or the current user cannot see it. Like the official client, this is a
    /// short-lived subscription of the first page (30 users, all fetched) of which ten are
    /// given (see [`ConversationRef::get`](crate::ConversationRef::get)).
    pub async fn get_first_reactions(&self) -> Result<Option<Vec<SingleReactionSnapshot>>> {
        let op: Arc<str> = format!(
            "Get {} reactions on message {}",
            self.emoji, self.message_id
        )
        .into();
        self.check(&op)?;
        // A short-lived subscription, as the official client reads: it loads (and fetches the
        // users of) the first page of 30, of which the first ten are given.
        let list = hydrate::once(op, self.subscribe()).await?;
        Ok(list.map(|l| {
            l.iter()
                .take(FIRST_REACTIONS)
                .map(|r| (**r).clone())
                .collect()
        }))
    }

    /// Subscribes to the users who reacted with this emoji, oldest first: the 30 oldest, then
    /// everyone who adds or takes back the reaction, and renamed users;
    /// [`Subscription::load_more`](crate::Subscription::load_more) loads newer ones. `None` when
    /// the message does not exist or the current user is not a participant, or once it is
    /// deleted. As in the official client, any message sent in the conversation refetches the
    /// list. An empty id gives a subscription in the error state.
    ///
    /// ```no_run
    /// # async fn demo(session: talkjs::TalkSession) {
    /// let thumbs = session.conversation("support").message("m1").reactions("👍").subscribe();
    /// thumbs.on_snapshot(|list, _| {
    ///     let reactions = list.iter().flat_map(|l| l.iter());
    ///     let names: Vec<&str> = reactions.map(|r| r.user.name.as_str()).collect();
    ///     println!("👍 by {}", names.join(", "));
    /// });
    /// # }
    /// ```
    pub fn subscribe(&self) -> crate::ReactionsSubscription {
        self.session
            .env()
            .subscribe_reactions(&self.conversation_id, &self.message_id, &self.emoji)
    }
}
