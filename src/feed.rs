//! Feeds of new messages, for bots: [`TalkSession::subscribe_new_messages`] (every
//! conversation of the user, including ones joined later) and
//! [`ConversationRef::subscribe_new_messages`] (one conversation).
//!
//! A feed delivers each message created after it started exactly once, oldest first, across
//! reconnects and token refreshes, in bounded memory; a slow consumer gets backpressure, not
//! loss. The precise rules (what "after it started" means, the order across conversations, how
//! gaps are filled, the buffer policy) are in the docs of [`NewMessageFeed`]'s module,
//! `talkjs_actors::feed`.
//!
//! Three ways to receive a feed, as for subscriptions:
//!
//! ```no_run
//! use futures_util::StreamExt;
//! use talkjs::{FeedItem, FeedOptions};
//!
//! # async fn demo(session: talkjs::TalkSession) -> talkjs::Result<()> {
//! // A Stream.
//! let feed = session.subscribe_new_messages(FeedOptions::new().include_own(false));
//! feed.connected().await?;
//! let mut items = feed.stream();
//! while let Some(item) = items.next().await {
//!     match item {
//!         FeedItem::Message(new) => println!("{}: {}", new.conversation, new.message.plaintext),
//!         FeedItem::Lagged { conversation } => eprintln!("skipped some messages in {conversation}"),
//!         FeedItem::Ended(how) => eprintln!("the feed ended: {how}"),
//!     }
//! }
//!
//! // A closure, called on the feed's actor.
//! let support = session.conversation("support").subscribe_new_messages(FeedOptions::new());
//! support.on_message(|item| {
//!     if let Some(new) = item.message() {
//!         println!("new in support: {}", new.message.plaintext);
//!     }
//! });
//! // Or an actor: `support.send_to(addr.recipient())` with `impl Handler<FeedItem>`.
//! # Ok(())
//! # }
//! ```

pub use talkjs_actors::feed::{
    DEFAULT_BUFFER, DEFAULT_MAX_GAP, FeedItem, FeedOptions, FeedState, FeedStats, NewMessage,
    NewMessageFeed, NewMessageStream, RECENT_IDS,
};

use crate::{ConversationRef, TalkSession};

impl TalkSession {
    /// A feed of the messages created from now on in every conversation of the current user,
    /// including the conversations they join after it started: each message exactly once,
    /// oldest first, across reconnects. See [`crate::feed`].
    ///
    /// ```no_run
    /// # async fn demo(session: talkjs::TalkSession) -> talkjs::Result<()> {
    /// use talkjs::FeedOptions;
    /// let feed = session.subscribe_new_messages(FeedOptions::new().include_own(false));
    /// feed.connected().await?;
    /// feed.on_message(|item| {
    ///     if let Some(new) = item.message() {
    ///         println!("{} in {}", new.message.plaintext, new.conversation);
    ///     }
    /// });
    /// # Ok(())
    /// # }
    /// ```
    pub fn subscribe_new_messages(&self, options: FeedOptions) -> NewMessageFeed {
        self.env().subscribe_new_messages(options)
    }
}

impl ConversationRef {
    /// A feed of the messages created in this conversation from now on: each exactly once,
    /// oldest first, across reconnects. While the user is not a participant nothing arrives;
    /// once they join, the messages created after they joined do. See [`crate::feed`].
    ///
    /// ```no_run
    /// # async fn demo(session: talkjs::TalkSession) -> talkjs::Result<()> {
    /// use futures_util::StreamExt;
    /// let feed = session
    ///     .conversation("support")
    ///     .subscribe_new_messages(talkjs::FeedOptions::new());
    /// let mut items = feed.stream();
    /// while let Some(talkjs::FeedItem::Message(new)) = items.next().await {
    ///     println!("{}", new.message.plaintext);
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub fn subscribe_new_messages(&self, options: FeedOptions) -> NewMessageFeed {
        self.session()
            .env()
            .subscribe_new_messages_in(self.id(), options)
    }
}
