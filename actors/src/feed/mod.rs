//! Feeds of new messages: what a bot wants from a conversation, or from all of its user's
//! conversations, without rebuilding "which messages are new" from list snapshots.
//!
//! A feed ([`NewMessageFeed`]) delivers each message created after it started, exactly once,
//! oldest first, as a [`FeedItem::Message`] carrying the same
//! [`MessageSnapshot`](talkjs_protocol::snapshot::MessageSnapshot) a message subscription
//! shows (with its sender and the message it replies to) and its conversation's id. Optionally without the session's own messages ([`FeedOptions::include_own`]).
//! Messages edited or deleted after delivery are not delivered again: a feed is about
//! creation (subscribe to the conversation's messages to follow edits).
//!
//! - **"Created after it started"**: per conversation, a message created after the
//!   conversation's `lastMessageAt` as the feed read it when it started (for one conversation,
//!   read after its `SUBSCRIBE`, so nothing falls between); for a conversation the user joins
//!   later, a message created after they joined. History is never replayed, and messages of a
//!   conversation the user has left are not delivered. Once [`NewMessageFeed::connected`]
//!   resolves, every conversation's messages are subscribed: whatever is sent from then on is
//!   delivered. (A session-wide feed lists the conversations before it can subscribe to their
//!   messages; a message sent in between is new too, and is caught up when the list's
//!   `side.edited` announces it.)
//! - **Order**: within a conversation, by creation time. Across conversations, in the order the
//!   server pushed them; what a catch-up reads is merged by creation time and delivered before
//!   any later event (and while any conversation is behind, the others wait for the same
//!   catch-up). A catch-up delivers only messages no newer than the newest one whose event the
//!   feed has handled: newer ones may have events of other conversations still on their way
//!   (older than them), so they wait for the next catch-up, which the feed asks of itself
//!   behind those events; if no event came in between, it delivers everything. One exception:
//!   when a catch-up fails for some conversations (they are retried after [`RETRY_DELAY`]),
//!   those it did read are delivered without waiting for them.
//! - **Exactly once, across reconnects and token refreshes**: each conversation has a
//!   [`Cursor`] (the creation time of the last message delivered, and the last few ids). After a
//!   new socket replaces a lost one (and after a server restart, when the other subscriptions do
//!   not refetch), the feed reads where its conversations stand and fetches, page by page from
//!   the newest, each one's messages back to its cursor, then delivers them oldest first; a
//!   message that also arrives as an event is recognised by its cursor. A session-wide feed
//!   also learns from that reading of the conversations joined or left meanwhile.
//! - **Bounded memory**: a cursor per followed conversation (at most [`RECENT_IDS`] ids), and
//!   at most [`FeedOptions::buffer`] items waiting for the consumer; never the history.
//! - **A slow consumer** gets backpressure, not loss: items wait in the buffer; when it is full
//!   the feed stops taking messages from events (the conversations fall *behind*), and once the
//!   consumer has read half of it, reads what it refused from the server, from the cursors,
//!   exactly as after a reconnect. Only when a conversation is behind by more than
//!   [`FeedOptions::max_gap`] messages does the feed skip: it says so with a
//!   [`FeedItem::Lagged`], then delivers the newest `max_gap`.
//! - **Ending**: [`NewMessageFeed::unsubscribe`], or dropping the last handle and stream,
//!   releases its topics; a feed ends with the session. The last item is a
//!   [`FeedItem::Ended`] saying how (a typed [`Error`] when it failed).
//!
//! A session-wide feed subscribes to the conversation list (`/me/conversations`), reads every
//! page of it, and follows each conversation's messages topic; `side.created` adds a
//! conversation (and reads what was sent since the user joined), `side.deleted` drops one, and
//! a `side.edited` announcing a later `lastMessageAt` than the cursor's triggers a catch-up of
//! that conversation (a message sent before its topic was subscribed).

mod actor;
mod cursor;
mod deliver;
mod gap;
mod handle;
mod item;
mod outlet;

use std::sync::Arc;

use actix::AsyncContext;
use tokio::sync::watch;

pub use actor::RETRY_DELAY;
use actor::{FeedActor, Scope};
pub use cursor::{Cursor, RECENT_IDS};
pub use gap::{CONVERSATION_PAGE, MESSAGE_PAGE};
pub use handle::{FeedState, FeedStats, NewMessageFeed, NewMessageStream};
pub use item::{DEFAULT_BUFFER, DEFAULT_MAX_GAP, FeedItem, FeedOptions, NewMessage};
pub use outlet::FeedFn;

use crate::cache::Watcher;
use crate::error::{Error, ErrorKind};
use crate::subscription::{Env, Terminated};

impl Env {
    /// A feed of the messages created in `conversation` from now on.
    pub fn subscribe_new_messages_in(
        &self,
        conversation: &str,
        options: FeedOptions,
    ) -> NewMessageFeed {
        let describe = format!("new messages of conversation {conversation}");
        if conversation.is_empty() {
            let e = Error::invalid(
                format!("Subscribe to {describe}"),
                "the conversation id is empty",
            );
            return ended(describe, options, e);
        }
        self.start_feed(
            Scope::Conversation(conversation.to_owned()),
            describe,
            options,
        )
    }

    /// A feed of the messages created from now on in every conversation of the session's user,
    /// including the ones they join later.
    pub fn subscribe_new_messages(&self, options: FeedOptions) -> NewMessageFeed {
        self.start_feed(Scope::Session, "new messages".to_owned(), options)
    }

    fn start_feed(&self, scope: Scope, describe: String, options: FeedOptions) -> NewMessageFeed {
        if self.session.is_terminated() {
            let e = Error::new(
                format!("Subscribe to {describe}"),
                ErrorKind::SessionTerminated("the session was terminated".into()),
            );
            return ended(describe, options, e);
        }
        let id = crate::session::routes::next_id();
        let state = Arc::new(watch::Sender::new(FeedState::Starting));
        let env = self.clone();
        let shared = state.clone();
        let arbiter = self.session.arbiter().clone();
        let addr = crate::runtime::start(&arbiter, move |ctx| {
            let watcher = Watcher {
                id,
                inbox: ctx.address().downgrade().recipient(),
            };
            FeedActor::new(env, id, scope, options, shared, watcher)
        });
        NewMessageFeed::new(id, describe, state, options.buffer_size(), Some(addr))
    }
}

/// A feed that cannot start: ended from the outset with this error.
fn ended(describe: String, options: FeedOptions, error: Error) -> NewMessageFeed {
    let state = Arc::new(watch::Sender::new(FeedState::Ended(Terminated::Error(
        error,
    ))));
    NewMessageFeed::new(
        crate::session::routes::next_id(),
        describe,
        state,
        options.buffer_size(),
        None,
    )
}
