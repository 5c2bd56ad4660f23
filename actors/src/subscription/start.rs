//! Starting subscriptions: one function per kind (the `talkjs` crate's `subscribe*` methods call
//! these), each checking its ids once, before anything starts.

use std::sync::Arc;

use talkjs_protocol::filter::ConversationFilter;
use talkjs_protocol::snapshot::{
    ConversationSnapshot, MessageSnapshot, ParticipantSnapshot, SingleReactionSnapshot,
    SubscriptionError, SubscriptionState, TypingSnapshot, UserOnlineSnapshot, UserSnapshot,
};

use super::actor::start;
use super::handle::Subscription;
use super::kind::Kind;
use super::state::StateCell;
use super::{
    ConversationKind, ConversationListKind, Env, ListSnapshot, MessagesKind, OnlineKind,
    ParticipantKind, ParticipantsKind, ReactionsKind, TypingKind, UserKind,
};
use crate::error::{Error, ErrorKind};

/// A subscription that cannot start (an empty id, or its session already ended): in the error
/// state from the outset, with this error.
pub(crate) fn ended<K: Kind>(kind: K, error: Error) -> Subscription<K::Snapshot> {
    let message = SubscriptionError::new(error.to_string());
    let state = StateCell::failed(SubscriptionState::Error { error: message }, error);
    Subscription::new(
        crate::session::routes::next_id(),
        kind.describe(),
        Arc::new(state),
        None,
    )
}

/// The error of a subscription refused before it starts because an id is empty.
pub(crate) fn empty_id<K: Kind>(kind: &K, what: &str) -> Error {
    Error::invalid(
        format!("Subscribe to {}", kind.describe()),
        format!("the {what} is empty"),
    )
}

impl Env {
    /// Starts `kind` unless one of `ids` (with what it names) is empty or the session ended.
    fn subscribe<K: Kind>(&self, kind: K, ids: &[(&str, &str)]) -> Subscription<K::Snapshot> {
        if let Some((_, what)) = ids.iter().find(|(id, _)| id.is_empty()) {
            let e = empty_id(&kind, what);
            return ended(kind, e);
        }
        if self.session.is_terminated() {
            let e = Error::new(
                format!("Subscribe to {}", kind.describe()),
                ErrorKind::SessionTerminated("the session was terminated".into()),
            );
            return ended(kind, e);
        }
        start(kind, self.clone())
    }

    /// A user's live snapshot (`None`: no such user).
    pub fn subscribe_user(&self, user: &str) -> Subscription<Option<Arc<UserSnapshot>>> {
        self.subscribe(UserKind::new(user), &[(user, "user id")])
    }

    /// A user's online status, with the user.
    pub fn subscribe_online(&self, user: &str) -> Subscription<Option<Arc<UserOnlineSnapshot>>> {
        self.subscribe(OnlineKind::new(user), &[(user, "user id")])
    }

    /// A conversation as the current user sees it, with its last message.
    pub fn subscribe_conversation(
        &self,
        conversation: &str,
    ) -> Subscription<Option<Arc<ConversationSnapshot>>> {
        self.subscribe(
            ConversationKind::new(conversation),
            &[(conversation, "conversation id")],
        )
    }

    /// The current user's conversations that match `filter`, most recently active first.
    pub fn subscribe_conversations(
        &self,
        filter: ConversationFilter,
    ) -> Subscription<ListSnapshot<ConversationSnapshot>> {
        let kind = ConversationListKind::new(filter, super::kinds::conversations::FIRST_WINDOW);
        self.subscribe(kind, &[])
    }

    /// A conversation's messages, newest first.
    pub fn subscribe_messages(
        &self,
        conversation: &str,
    ) -> Subscription<ListSnapshot<MessageSnapshot>> {
        self.subscribe_messages_with(conversation, WindowOptions::default())
    }

    /// A conversation's messages, newest first, with `options` (see [`WindowOptions`]).
    pub fn subscribe_messages_with(
        &self,
        conversation: &str,
        options: WindowOptions,
    ) -> Subscription<ListSnapshot<MessageSnapshot>> {
        let kind = MessagesKind::new(conversation, super::kinds::messages::FIRST_WINDOW)
            .with_max_window(options.max_window);
        self.subscribe(kind, &[(conversation, "conversation id")])
    }

    /// A conversation's participants.
    pub fn subscribe_participants(
        &self,
        conversation: &str,
    ) -> Subscription<ListSnapshot<ParticipantSnapshot>> {
        self.subscribe(
            ParticipantsKind::new(conversation),
            &[(conversation, "conversation id")],
        )
    }

    /// One participant's live snapshot.
    pub fn subscribe_participant(
        &self,
        conversation: &str,
        user: &str,
    ) -> Subscription<Option<Arc<ParticipantSnapshot>>> {
        self.subscribe(
            ParticipantKind::new(conversation, user),
            &[(conversation, "conversation id"), (user, "user id")],
        )
    }

    /// One participant, read the way the official client reads one (a short-lived
    /// subscription).
    pub fn read_participant(
        &self,
        conversation: &str,
        user: &str,
    ) -> Subscription<Option<Arc<ParticipantSnapshot>>> {
        self.subscribe(
            ParticipantKind::for_read(conversation, user),
            &[(conversation, "conversation id"), (user, "user id")],
        )
    }

    /// Who is typing in a conversation.
    pub fn subscribe_typing(
        &self,
        conversation: &str,
    ) -> Subscription<Option<Arc<TypingSnapshot>>> {
        self.subscribe(
            TypingKind::new(conversation),
            &[(conversation, "conversation id")],
        )
    }

    /// The users who reacted to a message with one emoji, oldest first.
    pub fn subscribe_reactions(
        &self,
        conversation: &str,
        message: &str,
        emoji: &str,
    ) -> Subscription<ListSnapshot<SingleReactionSnapshot>> {
        self.subscribe(
            ReactionsKind::new(conversation, message, emoji),
            &[
                (conversation, "conversation id"),
                (message, "message id"),
                (emoji, "emoji"),
            ],
        )
    }
}

/// How a list subscription keeps its window (a Rust addition: the official client has no such
/// option). The default keeps the official behaviour.
///
/// ```
/// # mod talkjs { pub use talkjs_actors::subscription::WindowOptions; }
/// use talkjs::WindowOptions;
///
/// // A bot that stays subscribed for days keeps only the newest 1,000 messages.
/// let options = WindowOptions::default().max_window(1_000);
/// assert_eq!(options.max(), Some(1_000));
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WindowOptions {
    max_window: Option<usize>,
}

impl WindowOptions {
    /// Keeps at most the newest `n` items (at least 1): when a new item arrives into a full
    /// window, the oldest leaves (a `PopBack` among the changes), `loaded_all` becomes false,
    /// and `load_more` grows the window back up to `n` at most. Without it (the default, as in
    /// the official client) the window grows with every new item, for as long as the
    /// subscription lives.
    pub fn max_window(mut self, n: usize) -> WindowOptions {
        self.max_window = Some(n.max(1));
        self
    }

    /// The bound, if any.
    pub fn max(&self) -> Option<usize> {
        self.max_window
    }
}
