//! What a feed delivers ([`FeedItem`], [`NewMessage`]) and how it is configured
//! ([`FeedOptions`]).

use std::sync::Arc;

use actix::prelude::*;
use talkjs_protocol::snapshot::MessageSnapshot;

use crate::subscription::Terminated;

/// Undelivered items a feed holds at most, by default (see [`FeedOptions::buffer`]).
pub const DEFAULT_BUFFER: usize = 256;
/// Messages one conversation's catch-up reads at most, by default (see
/// [`FeedOptions::max_gap`]).
pub const DEFAULT_MAX_GAP: usize = 1000;

/// A message created after the feed started, with its conversation.
#[derive(Debug, Clone, PartialEq)]
pub struct NewMessage {
    /// The conversation's id.
    pub conversation: Arc<str>,
    /// The message, as a message subscription shows it (sender and replied-to message
    /// included).
    pub message: Arc<MessageSnapshot>,
}

/// What a feed delivers, in order: new messages; a note when some were skipped; and, last, how
/// it ended. It is also an actix message, for [`NewMessageFeed::send_to`](super::NewMessageFeed::send_to).
#[derive(Debug, Clone, PartialEq, Message)]
#[rtype(result = "()")]
pub enum FeedItem {
    /// A new message.
    Message(NewMessage),
    /// More messages were missed in this conversation than one catch-up reads
    /// ([`FeedOptions::max_gap`]): the feed delivers the newest `max_gap` of them and skips the
    /// older ones. Only after a long outage, or a consumer that stopped reading for long.
    Lagged {
        /// The conversation's id.
        conversation: Arc<str>,
    },
    /// The feed ended (the last item): unsubscribed, or failed with a typed error.
    Ended(Terminated),
}

impl FeedItem {
    /// The new message, if this item is one.
    pub fn message(&self) -> Option<&NewMessage> {
        match self {
            FeedItem::Message(m) => Some(m),
            _ => None,
        }
    }
}

/// How a feed behaves. The defaults suit most bots: every message including the session's
/// own, [`DEFAULT_BUFFER`] items of buffer, catch-ups of up to [`DEFAULT_MAX_GAP`] messages.
///
/// ```
/// # mod talkjs { pub use talkjs_actors::feed::FeedOptions; }
/// let options = talkjs::FeedOptions::new().include_own(false).buffer(64);
/// assert!(!options.includes_own());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FeedOptions {
    include_own: bool,
    buffer: usize,
    max_gap: usize,
}

impl Default for FeedOptions {
    fn default() -> Self {
        FeedOptions {
            include_own: true,
            buffer: DEFAULT_BUFFER,
            max_gap: DEFAULT_MAX_GAP,
        }
    }
}

impl FeedOptions {
    /// The defaults.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether the session's own messages are delivered too (default: yes). A bot that answers
    /// messages usually says no, so it never answers itself.
    pub fn include_own(mut self, yes: bool) -> Self {
        self.include_own = yes;
        self
    }

    /// How many items may wait for the consumer (at least 1; default [`DEFAULT_BUFFER`]). When
    /// they are all waiting, the feed stops taking messages from events and, once the consumer
    /// has read one, reads what it skipped from the server instead: a slow consumer loses
    /// nothing and costs no memory beyond this bound (see the module docs of `feed`).
    pub fn buffer(mut self, items: usize) -> Self {
        self.buffer = items.max(1);
        self
    }

    /// How many messages one conversation's catch-up reads at most, after a reconnect or a
    /// full buffer (at least 1; default [`DEFAULT_MAX_GAP`]). Beyond it, the newest are
    /// delivered after a [`FeedItem::Lagged`].
    pub fn max_gap(mut self, messages: usize) -> Self {
        self.max_gap = messages.max(1);
        self
    }

    /// Whether the session's own messages are delivered.
    pub fn includes_own(&self) -> bool {
        self.include_own
    }

    /// The buffer's size, in items.
    pub fn buffer_size(&self) -> usize {
        self.buffer
    }

    /// The largest catch-up, in messages.
    pub fn gap_limit(&self) -> usize {
        self.max_gap
    }
}
