//! Searching the current user's messages and conversations: [`MessageSearch`] and
//! [`ConversationSearch`], from [`TalkSession::search_messages`] and
//! [`TalkSession::search_conversations`].
//!
//! A search is HTTP only (docs/protocol.md §1.7): the first page is asked for with the query and
//! the conversation filter, later pages with the cursor the previous page returned. Each page is
//! then hydrated over the realtime connection into full snapshots, as the official client does:
//! a message result gets its sender, the message it replies to and its conversation (with that
//! conversation's last message); a conversation result is read with its last message.
//!
//! How a handle behaves is documented on [`MessageSearch`].
mod engine;
mod http;
mod kinds;

use std::fmt;
use std::sync::Arc;

use talkjs_protocol::filter::ConversationFilter;
use talkjs_protocol::snapshot::{
    ConversationSearchState, ConversationSnapshot, MessageSearchState, SearchMessageSnapshot,
};

#[cfg(doc)]
use crate::ErrorKind;
use crate::Result;
use crate::session::TalkSession;
use engine::Search;
use kinds::{Conversations, Messages};

/// How many results `set_query` loads, as the official client.
pub(crate) const FIRST_PAGE: u32 = 3;
/// How many results `load_more(None)` loads, as the official client.
pub(crate) const DEFAULT_PAGE: u32 = 10;
/// The largest `limit` `load_more` accepts (the smallest is 1).
pub(crate) const MAX_PAGE: u32 = 50;

/// Restricts a message search, for [`MessageSearch::set_query`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct MessageSearchFilters {
    /// Only messages in conversations that match this filter (pass the filter of a conversation
    /// list to search within that list). `None` searches all of the user's conversations.
    pub conversation: Option<ConversationFilter>,
}

impl MessageSearchFilters {
    /// No restriction.
    pub fn new() -> Self {
        Self::default()
    }

    /// Only messages in conversations that match `filter`.
    pub fn conversation(mut self, filter: impl Into<ConversationFilter>) -> Self {
        self.conversation = Some(filter.into());
        self
    }
}

impl From<ConversationFilter> for MessageSearchFilters {
    fn from(filter: ConversationFilter) -> Self {
        Self::new().conversation(filter)
    }
}

/// Restricts a conversation search, for [`ConversationSearch::set_query`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct ConversationSearchFilters {
    /// Only conversations that match this filter (pass the filter of a conversation list to
    /// search within that list). `None` searches all of the user's conversations.
    pub conversation: Option<ConversationFilter>,
}

impl ConversationSearchFilters {
    /// No restriction.
    pub fn new() -> Self {
        Self::default()
    }

    /// Only conversations that match `filter`.
    pub fn conversation(mut self, filter: impl Into<ConversationFilter>) -> Self {
        self.conversation = Some(filter.into());
        self
    }
}

impl From<ConversationFilter> for ConversationSearchFilters {
    fn from(filter: ConversationFilter) -> Self {
        Self::new().conversation(filter)
    }
}

/// What a search is doing, as its [`on_results`](MessageSearch::on_results) listeners see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SearchStatus {
    /// A page is loading.
    Searching,
    /// Idle, and [`load_more`](MessageSearch::load_more) can find more.
    CanLoadMore,
    /// Idle, with every result loaded (also before any query, and after an empty one).
    LoadedAll,
}

/// A search for messages in the current user's conversations, from
/// [`TalkSession::search_messages`].
///
/// A cheap handle: clones share the search.
///
/// ```no_run
/// # async fn demo(session: talkjs::TalkSession) -> talkjs::Result<()> {
/// let search = session.search_messages();
/// let first = search.set_query("invoice", None).await?; // up to 3 results
/// if !first.loaded_all {
///     let more = search.load_more(None).await?; // the first 3 and up to 10 more
///     for found in &more.results {
///         println!("{}: {}", found.conversation.id, found.message.plaintext);
///     }
/// }
/// # Ok(()) }
/// ```
///
/// # How a search behaves (both kinds)
///
/// A handle holds at most one search: the query and filter of the last
/// [`set_query`](MessageSearch::set_query), the results loaded so far, and whether there are
/// more. Clones share it.
///
/// - `set_query` always starts over, even with the same query and filter: it drops the results,
///   cancels a load that is still running (its HTTP request and hydration are abandoned and
///   nothing it found reaches the handle), and loads a first page of 3 results. An empty query
///   sends nothing and answers no results with `loaded_all` set.
/// - `load_more(limit)` first checks `limit`: outside 1 to 50 it is an
///   [`ErrorKind::InvalidArgument`], whatever the state. Otherwise it loads up to `limit` more
///   results (default 10) and answers everything loaded so far, except that it sends nothing
///   - before any `set_query`, or after an empty query: it answers no results, `loaded_all` set;
///   - once everything is loaded: it answers the current results;
///   - while a `set_query` or another `load_more` is loading: it waits for that load and answers
///     what that load answers (its results, or its error).
/// - A call answers for the handle's *current* search: a call still waiting when a newer
///   `set_query` starts goes on to wait for the newer query and answers its outcome, so no
///   caller receives results older than the last query set.
/// - Results in conversations that no longer exist, or that the user is not in, are left out.
/// - An error (the server refusing, the network failing after the retry, a hydration request
///   failing) goes to the call that started the load and to the calls waiting for it. The
///   handle keeps its results and cursor, so the next `load_more` asks for the same page again.
///
/// Loads run on the session's thread, so a search works from any runtime and any thread: a
/// load finishes, and updates the handle, even if the caller that started it stops waiting.
#[derive(Clone)]
pub struct MessageSearch(Search<Messages>);

impl MessageSearch {
    pub(crate) fn new(session: TalkSession) -> MessageSearch {
        MessageSearch(Search::new(session))
    }

    /// Starts a new search for `query` (optionally only in conversations matching
    /// `filters.conversation`) and answers its first page of up to 3 results,
    /// newest first. An empty query sends nothing and answers no results, all loaded.
    ///
    /// What matches is the server's business: TalkJS matches each word of the query against the
    /// start of the words of a message's text, ignoring case and surrounding punctuation, and
    /// never returns non-text messages.
    pub async fn set_query(
        &self,
        query: impl Into<String>,
        filters: Option<MessageSearchFilters>,
    ) -> Result<MessageSearchState> {
        let filter = filters.and_then(|f| f.conversation);
        self.0.set_query(query.into(), filter).await
    }

    /// Loads up to `limit` (1 to 50, default 10) more results and
    /// answers all results loaded so far. Before a query is set, after an empty one, or once
    /// everything is loaded, nothing is sent; while another load is running, this waits for it
    /// instead of sending anything.
    pub async fn load_more(&self, limit: Option<u32>) -> Result<MessageSearchState> {
        self.0.load_more(limit).await
    }

    /// Calls `f` with all results loaded so far and the status whenever either changes: when a
    /// query starts (no results, searching), when a load starts, and when it ends (its results
    /// added, or none on an error). The way to show results as they arrive without awaiting
    /// `set_query`; it is the official client's `onResults` callback.
    ///
    /// `f` runs after each change where the session's actors run (the caller's actix arbiter,
    /// else the runtime's own thread), so it works under any async runtime or none (as
    /// [`Subscription::on_snapshot`](crate::Subscription::on_snapshot), it must be `Send`);
    /// a listener added after a query starts with the current state. It stops being
    /// called once every clone of this handle is dropped. Returns `self`, so a search can be made and
    /// watched in one expression.
    ///
    /// ```no_run
    /// # fn demo(session: talkjs::TalkSession) {
    /// let search = session.search_messages().on_results(|results, status| {
    ///     println!("{} found, {status:?}", results.len());
    /// });
    /// # }
    /// ```
    pub fn on_results(
        self,
        f: impl FnMut(&[SearchMessageSnapshot], SearchStatus) + Send + 'static,
    ) -> Self {
        self.0.on_results(f);
        self
    }

    /// What the search is doing now.
    pub fn status(&self) -> SearchStatus {
        self.0.status()
    }
}

impl fmt::Debug for MessageSearch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.debug("MessageSearch", f)
    }
}

/// A search for the current user's conversations, from
/// [`TalkSession::search_conversations`]. It behaves as [`MessageSearch`] describes.
///
/// A cheap handle: clones share the search.
///
/// ```no_run
/// # async fn demo(session: talkjs::TalkSession) -> talkjs::Result<()> {
/// let search = session.search_conversations();
/// let found = search.set_query("project", None).await?;
/// for conversation in &found.results {
///     println!("{} {:?}", conversation.id, conversation.subject);
/// }
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct ConversationSearch(Search<Conversations>);

impl ConversationSearch {
    pub(crate) fn new(session: TalkSession) -> ConversationSearch {
        ConversationSearch(Search::new(session))
    }

    /// Starts a new search for `query` (optionally only among conversations matching
    /// `filters.conversation`) and answers its first page of up to 3 results.
    /// An empty query sends nothing and answers no results, all loaded.
    ///
    /// What matches is the server's business: TalkJS matches the words of the query against a
    /// conversation's subject or its `custom.search` field.
    pub async fn set_query(
        &self,
        query: impl Into<String>,
        filters: Option<ConversationSearchFilters>,
    ) -> Result<ConversationSearchState> {
        let filter = filters.and_then(|f| f.conversation);
        self.0.set_query(query.into(), filter).await
    }

    /// Loads up to `limit` (1 to 50, default 10) more results and
    /// answers all results loaded so far. Before a query is set, after an empty one, or once
    /// everything is loaded, nothing is sent; while another load is running, this waits for it
    /// instead of sending anything.
    pub async fn load_more(&self, limit: Option<u32>) -> Result<ConversationSearchState> {
        self.0.load_more(limit).await
    }

    /// Calls `f` with all results loaded so far and the status whenever either changes, as
    /// [`MessageSearch::on_results`] describes.
    pub fn on_results(
        self,
        f: impl FnMut(&[Arc<ConversationSnapshot>], SearchStatus) + Send + 'static,
    ) -> Self {
        self.0.on_results(f);
        self
    }

    /// What the search is doing now.
    pub fn status(&self) -> SearchStatus {
        self.0.status()
    }
}

impl fmt::Debug for ConversationSearch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.debug("ConversationSearch", f)
    }
}
