//! [`ConversationRef`]: a conversation, by id, and sending messages to it.

use std::sync::Arc;

use talkjs_actors::batch::{BatchItem, BatchKey};
use talkjs_protocol::content::{FileToken, LocationBlock, SendContentBlock, SendFileBlock};
use talkjs_protocol::error::codes;
use talkjs_protocol::markup;
use talkjs_protocol::params::{
    CreateConversationParams, SendMessageParams, SendTextMessageParams, SetConversationParams,
};
use talkjs_protocol::path::Route;
use talkjs_protocol::request::{
    ActionResult, ParticipantAction, ParticipantMethod, SendMessageRequest, SendMessageResponse,
};
use talkjs_protocol::snapshot::ConversationSnapshot;

use crate::hydrate;
use crate::message::MessageRef;
use crate::participant::ParticipantRef;
use crate::session::{EMPTY, TalkSession, require_id};
use crate::{Error, ErrorKind, Result};

/// What to send: TalkJS markup text, or one content block, with optional reply-to and custom data.
///
/// Plain strings convert into it, so `conversation.send("Hi *there*")` works; use
/// [`SendTextMessageParams`] or [`SendMessageParams`] for the rest. It is the union the official
/// `send` takes (`string | SendTextMessageParams | SendMessageParams`), and [`FileToken`]s and
/// [`LocationBlock`]s convert into it too.
#[derive(Debug, Clone, PartialEq)]
pub enum OutgoingMessage {
    /// Markup text, parsed into a text block as the official client parses it.
    Text(SendTextMessageParams),
    /// A ready content block: a file token, a location, or hand-built text.
    Content(SendMessageParams),
}

impl From<&str> for OutgoingMessage {
    fn from(text: &str) -> OutgoingMessage {
        OutgoingMessage::Text(text.into())
    }
}

impl From<String> for OutgoingMessage {
    fn from(text: String) -> OutgoingMessage {
        OutgoingMessage::Text(text.into())
    }
}

impl From<SendTextMessageParams> for OutgoingMessage {
    fn from(p: SendTextMessageParams) -> OutgoingMessage {
        OutgoingMessage::Text(p)
    }
}

impl From<SendMessageParams> for OutgoingMessage {
    fn from(p: SendMessageParams) -> OutgoingMessage {
        OutgoingMessage::Content(p)
    }
}

impl From<FileToken> for OutgoingMessage {
    fn from(token: FileToken) -> OutgoingMessage {
        OutgoingMessage::Content(SendMessageParams::new(SendContentBlock::File(
            SendFileBlock { file_token: token },
        )))
    }
}

impl From<LocationBlock> for OutgoingMessage {
    fn from(location: LocationBlock) -> OutgoingMessage {
        OutgoingMessage::Content(SendMessageParams::new(SendContentBlock::Location(location)))
    }
}

/// A reference to a conversation. Cheap to create and clone.
#[derive(Clone, Debug)]
pub struct ConversationRef {
    session: TalkSession,
    id: String,
}

impl PartialEq for ConversationRef {
    fn eq(&self, other: &ConversationRef) -> bool {
        self.id == other.id && self.session.app_id() == other.session.app_id()
    }
}

impl Eq for ConversationRef {}

impl ConversationRef {
    pub(crate) fn new(session: TalkSession, id: String) -> ConversationRef {
        ConversationRef { session, id }
    }

    /// The session this conversation is seen through (and so the current user:
    /// `conversation.session().current_user().id()`).
    pub fn session(&self) -> &TalkSession {
        &self.session
    }

    /// The conversation's id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// A participant of this conversation (whether or not they are one yet).
    pub fn participant(&self, user_id: impl Into<String>) -> ParticipantRef {
        ParticipantRef::new(self.session.clone(), self.id.clone(), user_id.into())
    }

    /// A message in this conversation.
    pub fn message(&self, id: impl Into<String>) -> MessageRef {
        MessageRef::new(self.session.clone(), self.id.clone(), id.into())
    }

    fn op(&self, what: &str) -> Arc<str> {
        format!("{what} {}", self.id).into()
    }

    /// The conversation as the current user sees it, with its last message; `None` if it does
    /// not exist or the user is not a participant.
    ///
    /// A live subscription of this session that shows it (the conversation's own, or a
    /// conversation list it is in) answers without a request, as in the official client.
    /// Otherwise, like the official client, the read is a short-lived subscription: the
    /// conversation and its messages are subscribed while they are fetched, and unsubscribed
    /// once unused for [`Timings::unsubscribe_delay`](crate::Timings), so reading it again
    /// meanwhile, or subscribing to it, costs no `SUBSCRIBE`.
    pub async fn get(&self) -> Result<Option<ConversationSnapshot>> {
        let op = self.op("Get conversation");
        require_id(&op, "conversation id", &self.id)?;
        let lookup = talkjs_actors::Lookup::Conversation(self.id.clone());
        if let Some(talkjs_actors::Found::Conversation(c)) = self.session.find_live(lookup).await {
            return Ok(c.map(|c| (*c).clone()));
        }
        // Otherwise a short-lived subscription, as the official client reads.
        let snapshot = hydrate::once(op, self.subscribe()).await?;
        Ok(snapshot.map(|c| (*c).clone()))
    }

    /// Sets the conversation's attributes and the current user's participation (creating either
    /// if needed). Like the official client, a refusal to edit the conversation is ignored when
    /// the params change only the participation, and vice versa.
    pub async fn set(&self, params: SetConversationParams) -> Result<()> {
        let op = self.op("Set conversation");
        require_id(&op, "conversation id", &self.id)?;
        let route = Route::SetConversation {
            conversation: self.id.clone(),
        };
        let conversation = self.session.call_unit(op, &route, &params);
        let me = self.own_participation(
            ParticipantMethod::Put,
            params.clone(),
            "Set your participation in conversation",
        );
        let (conversation, me) = futures_util::future::join(conversation, me).await;
        match conversation {
            Err(e)
                if e.error_code() == Some(codes::UNAUTHORIZED_TO_EDIT)
                    && params.changes_only_participation() => {}
            other => other?,
        }
        match me {
            Err(e)
                if e.error_code() == Some(codes::UNAUTHORIZED_TO_EDIT_PARTICIPANT)
                    && params.changes_no_participation() =>
            {
                Ok(())
            }
            other => other,
        }
    }

    /// Creates the conversation with these attributes and joins it, unless it exists (then
    /// nothing changes).
    ///
    /// ```no_run
    /// # async fn demo(session: talkjs::TalkSession) -> talkjs::Result<()> {
    /// use talkjs::params::CreateConversationParams;
    /// session
    ///     .conversation("order-1001")
    ///     .create_if_not_exists(CreateConversationParams::new().subject("Order 1001"))
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub async fn create_if_not_exists(&self, params: CreateConversationParams) -> Result<()> {
        let op = self.op("Create conversation");
        require_id(&op, "conversation id", &self.id)?;
        let route = Route::CreateConversation {
            conversation: self.id.clone(),
        };
        // The conversation must exist before the join is processed; the server handles a socket's
        // requests in order, so both can be in flight at once.
        let create = self.session.call_unit(op, &route, &params);
        let join = self.own_participation(
            ParticipantMethod::Post,
            params.clone().into(),
            "Join conversation",
        );
        let (create, join) = futures_util::future::join(create, join).await;
        ok_if_exists(create)?;
        ok_if_exists(join)
    }

    async fn own_participation(
        &self,
        method: ParticipantMethod,
        params: SetConversationParams,
        what: &str,
    ) -> Result<()> {
        let op = self.op(what);
        let action = ParticipantAction {
            id: self.session.user_id().to_owned(),
            method,
            params,
        };
        participant_action(&self.session, &self.id, op, action).await
    }

    /// Sends a message; returns a reference to it.
    ///
    /// Each call carries a fresh idempotency key, re-sent unchanged if the request is retried
    /// (after a reconnect, a 429 or a 500), so the server creates the message once.
    ///
    /// ```no_run
    /// # async fn demo(session: talkjs::TalkSession) -> talkjs::Result<()> {
    /// use talkjs::params::SendTextMessageParams;
    /// let chat = session.conversation("support");
    /// let hello = chat.send("Hello *world*").await?; // TalkJS markup, parsed here
    /// chat.send(SendTextMessageParams::new("Thanks!").reply_to(&hello)).await?;
    /// # Ok(()) }
    /// ```
    pub async fn send(&self, message: impl Into<OutgoingMessage>) -> Result<MessageRef> {
        let op = self.op("Send message to conversation");
        require_id(&op, "conversation id", &self.id)?;
        let (content, referenced, custom) = match message.into() {
            OutgoingMessage::Text(p) => (
                SendContentBlock::Text(markup::parse_send(&p.text)),
                p.referenced_message,
                p.custom,
            ),
            OutgoingMessage::Content(p) => (p.content, p.referenced_message, p.custom),
        };
        let request = SendMessageRequest {
            content: vec![content],
            referenced_message_id: referenced,
            custom,
            idempotency_key: talkjs_actors::new_idempotency_key(),
        };
        let route = Route::SendMessage {
            conversation: self.id.clone(),
        };
        let sent: SendMessageResponse = self.session.call_typed(op, &route, &request).await?;
        Ok(self.message(sent.id))
    }

    /// Marks the conversation read up to now.
    pub async fn mark_as_read(&self) -> Result<()> {
        self.simple(
            format!("Mark {} as read", self.id),
            Route::MarkAsRead {
                conversation: self.id.clone(),
            },
        )
        .await
    }

    /// Marks the conversation unread.
    pub async fn mark_as_unread(&self) -> Result<()> {
        self.simple(
            format!("Mark {} as unread", self.id),
            Route::MarkAsUnread {
                conversation: self.id.clone(),
            },
        )
        .await
    }

    /// Tells the other participants the current user is typing (for the next 10 seconds, or
    /// until they send).
    pub async fn mark_as_typing(&self) -> Result<()> {
        self.simple(
            format!("Set user as typing in {}", self.id),
            Route::MarkAsTyping {
                conversation: self.id.clone(),
            },
        )
        .await
    }

    /// Subscribes to the conversation's messages, newest first: the 30 most recent, then every
    /// new, edited or deleted message; [`Subscription::load_more`](crate::Subscription::load_more)
    /// loads older ones. `None` while the current user is not a participant.
    ///
    /// ```no_run
    /// # async fn demo(session: talkjs::TalkSession) {
    /// let messages = session.conversation("support").subscribe_messages();
    /// messages.on_snapshot(|list, loaded_all| {
    ///     let n = list.as_ref().map_or(0, |l| l.len());
    ///     println!("{n} messages (all loaded: {loaded_all})");
    /// });
    /// # }
    /// ```
    pub fn subscribe_messages(&self) -> crate::MessageSubscription {
        self.session.env().subscribe_messages(&self.id)
    }

    /// [`subscribe_messages`](Self::subscribe_messages) with a bounded window, for a
    /// subscription that stays open for days (a Rust addition; see
    /// [`WindowOptions::max_window`](crate::WindowOptions::max_window)). The changes of each
    /// snapshot ([`Subscription::diffs`](crate::Subscription::diffs)) show the oldest message
    /// leaving as a new one arrives.
    ///
    /// ```no_run
    /// # async fn demo(session: talkjs::TalkSession) {
    /// use talkjs::WindowOptions;
    ///
    /// let messages = session
    ///     .conversation("support")
    ///     .subscribe_messages_with(WindowOptions::default().max_window(500));
    /// if let Ok(first) = messages.connected().await {
    ///     println!("{} messages", first.snapshot.map_or(0, |l| l.len()));
    /// }
    /// # }
    /// ```
    pub fn subscribe_messages_with(
        &self,
        options: crate::WindowOptions,
    ) -> crate::MessageSubscription {
        self.session
            .env()
            .subscribe_messages_with(&self.id, options)
    }

    /// Subscribes to the conversation as the current user sees it, with its last message:
    /// `None` while the user is not a participant (or it does not exist), then every change.
    ///
    /// ```no_run
    /// # async fn demo(session: talkjs::TalkSession) {
    /// let chat = session.conversation("support").subscribe();
    /// if let Ok(first) = chat.connected().await {
    ///     println!("unread: {:?}", first.snapshot.map(|c| c.unread_message_count));
    /// }
    /// # }
    /// ```
    pub fn subscribe(&self) -> crate::ConversationSubscription {
        self.session.env().subscribe_conversation(&self.id)
    }

    async fn simple(&self, op: String, route: Route) -> Result<()> {
        let op: Arc<str> = op.into();
        require_id(&op, "conversation id", &self.id)?;
        self.session.call_unit(op, &route, EMPTY).await
    }

    /// Subscribes to the conversation's participants, who joined most recently first: the 10
    /// newest, then everyone who joins, changes or leaves, and renamed users;
    /// [`Subscription::load_more`](crate::Subscription::load_more) loads older ones (at most 50
    /// at once). `None` while the current user is not a participant.
    ///
    /// ```no_run
    /// # async fn demo(session: talkjs::TalkSession) {
    /// let participants = session.conversation("support").subscribe_participants();
    /// participants.on_snapshot(|list, loaded_all| {
    ///     for p in list.iter().flat_map(|l| l.iter()) {
    ///         println!("{} ({:?})", p.user.name, p.access);
    ///     }
    ///     println!("all loaded: {loaded_all}");
    /// });
    /// # }
    /// ```
    pub fn subscribe_participants(&self) -> crate::ParticipantSubscription {
        self.session.env().subscribe_participants(&self.id)
    }

    /// Subscribes to who is typing in the conversation (everyone but the current user): a few
    /// users, who started first first, or "many". `None` while the current user is not a
    /// participant.
    ///
    /// ```no_run
    /// # async fn demo(session: talkjs::TalkSession) {
    /// use talkjs::snapshot::TypingSnapshot;
    /// let typing = session.conversation("support").subscribe_typing();
    /// typing.on_snapshot(|typing, _| match typing.as_deref() {
    ///     Some(TypingSnapshot::Few { users }) if !users.is_empty() => {
    ///         println!("{} typing", users.len())
    ///     }
    ///     Some(TypingSnapshot::Many) => println!("several people are typing"),
    ///     _ => {}
    /// });
    /// # }
    /// ```
    pub fn subscribe_typing(&self) -> crate::TypingSubscription {
        self.session.env().subscribe_typing(&self.id)
    }
}

/// Sends one participant action through the session's participant batch (actions on the same
/// conversation in the same tick share one frame) and turns a refusal into an error (409 counts
/// as success for creates, as the official client treats it).
pub(crate) async fn participant_action(
    session: &TalkSession,
    conversation: &str,
    op: Arc<str>,
    action: ParticipantAction,
) -> Result<()> {
    let create = action.method == ParticipantMethod::Post;
    let key = BatchKey::Participants(conversation.to_owned());
    let part = session
        .batched(op.clone(), key, BatchItem::Participant(action))
        .await?;
    let result: ActionResult =
        serde_json::from_value(part).map_err(|e| crate::Error::unreadable(op.clone(), e))?;
    if result.status == 200 || (create && result.status == 409) {
        return Ok(());
    }
    let body = talkjs_protocol::ErrorBody {
        error_code: result.error_code.unwrap_or_default(),
        reasons: result.reasons.unwrap_or_default(),
    };
    Err(Error::from_status(op, result.status, body))
}

fn ok_if_exists(result: Result<()>) -> Result<()> {
    match result {
        Err(e) if matches!(e.kind(), ErrorKind::Server { status: 409, .. }) => Ok(()),
        other => other,
    }
}
