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

use std::collections::HashMap;
use std::fmt::{self, Write};
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use futures_util::future::{AbortHandle, BoxFuture, FutureExt, Shared, abortable};
use serde::de::DeserializeOwned;
use talkjs_protocol::filter::ConversationFilter;
use talkjs_protocol::path::encode_component;
use talkjs_protocol::request::{SearchConversationLine, SearchMessageLine, SearchPage};
use talkjs_protocol::snapshot::{
    ConversationSearchState, ConversationSnapshot, MessageSearchState, SearchMessageSnapshot,
};
use tokio::sync::watch;

use talkjs_protocol::path::Route;
use talkjs_protocol::request::ListRequest;
use talkjs_protocol::wire::{ConversationWire, MessageWire, Page};

use crate::hydrate;
use crate::session::{EMPTY, TalkSession};
use crate::upload::{AuthorizedRequest, send_authorized};
use crate::{Error, ErrorKind, Result};

/// How many results `set_query` loads, as the official client.
pub(crate) const FIRST_PAGE: u32 = 3;
/// How many results `load_more(None)` loads, as the official client.
pub(crate) const DEFAULT_PAGE: u32 = 10;
/// The largest `limit` `load_more` accepts (the smallest is 1).
pub(crate) const MAX_PAGE: u32 = 50;

/// How long one search request may take, answer included (TalkJS says a page can take up to a
/// minute).
const SEARCH_TIMEOUT: Duration = Duration::from_secs(120);
/// The largest answer read: 50 results of large messages fit easily.
const SEARCH_ANSWER_LIMIT: usize = 32 * 1024 * 1024;

// ---------------------------------------------------------------------------------------------
// Public handles
// ---------------------------------------------------------------------------------------------

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
/// Loads run as tasks on the current actix arbiter: a load finishes, and updates the handle,
/// even if the caller that started it stops waiting.
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
    /// `f` runs on a task of the current actix arbiter, after the change; changes in quick
    /// succession may reach it as one call with the latest state. It stops being called once
    /// every clone of this handle is dropped. Returns `self`, so a search can be made and
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
        f: impl FnMut(&[SearchMessageSnapshot], SearchStatus) + 'static,
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
        f: impl FnMut(&[Arc<ConversationSnapshot>], SearchStatus) + 'static,
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

// ---------------------------------------------------------------------------------------------
// What differs between the two searches
// ---------------------------------------------------------------------------------------------

/// One kind of search: where it is sent, what its answer lines are, how they are hydrated.
trait Kind: 'static {
    /// The URL segment: `messages` or `conversations`.
    const WHAT: &'static str;
    /// One line of the answer.
    type Line: DeserializeOwned + 'static;
    /// One hydrated result.
    type Item: Clone + Send + Sync + 'static;
    /// The public state.
    type State;

    /// Turns a page's lines into results, leaving out those the user cannot see.
    fn hydrate(
        session: TalkSession,
        lines: Vec<Self::Line>,
        held: Held,
    ) -> impl Future<Output = Result<Vec<Self::Item>>> + 'static;

    /// The public state for these results.
    fn state(results: &[Self::Item], loaded_all: bool) -> Self::State;
}

/// Message search.
enum Messages {}

impl Kind for Messages {
    const WHAT: &'static str = "messages";
    type Line = SearchMessageLine;
    type Item = SearchMessageSnapshot;
    type State = MessageSearchState;

    /// Each message with its sender and replied-to message, and each distinct conversation
    /// once, with its last message, through a subscription the search holds (as the official
    /// client reads them through its conversation store: later pages of the same search cost no
    /// request for a conversation already shown); all concurrently (user lookups share
    /// batches). A message whose conversation cannot be read is left out.
    async fn hydrate(
        session: TalkSession,
        lines: Vec<SearchMessageLine>,
        held: Held,
    ) -> Result<Vec<Self::Item>> {
        let lines: Vec<SearchMessageLine> = lines
            .into_iter()
            .filter(|m| match m.conversation_id.as_deref() {
                Some(c) if !c.is_empty() => true,
                _ => {
                    tracing::debug!(message = %m.id, "search result without a conversation; left out");
                    false
                }
            })
            .collect();
        let mut ids: Vec<&str> = lines
            .iter()
            .filter_map(|m| m.conversation_id.as_deref())
            .collect();
        ids.sort_unstable();
        ids.dedup();
        let conversations = futures_util::future::join_all(
            ids.iter()
                .map(|id| held_conversation(&session, &held, (*id).to_owned())),
        );
        let messages = futures_util::future::join_all(lines.iter().map(|m| {
            let conversation = m.conversation_id.as_deref().unwrap_or_default();
            hydrate::message(&session, conversation, m)
        }));
        let (conversations, messages) = futures_util::future::join(conversations, messages).await;
        let mut visible = HashMap::new();
        for (id, found) in ids.iter().zip(conversations) {
            if let Some(c) = found? {
                visible.insert(*id, c);
            }
        }
        let mut out = Vec::with_capacity(lines.len());
        for (line, message) in lines.iter().zip(messages) {
            let message = message?;
            let id = line.conversation_id.as_deref().unwrap_or_default();
            match visible.get(id) {
                Some(conversation) => out.push(SearchMessageSnapshot {
                    conversation: conversation.clone(),
                    message: Arc::new(message),
                }),
                None => {
                    tracing::debug!(message = %line.id, conversation = id, "search result in a conversation the user cannot read; left out");
                }
            }
        }
        Ok(out)
    }

    fn state(results: &[SearchMessageSnapshot], loaded_all: bool) -> MessageSearchState {
        MessageSearchState {
            results: results.to_vec(),
            loaded_all,
        }
    }
}

/// Conversation search.
enum Conversations {}

impl Kind for Conversations {
    const WHAT: &'static str = "conversations";
    type Line = SearchConversationLine;
    type Item = Arc<ConversationSnapshot>;
    type State = ConversationSearchState;

    /// Each conversation read with its last message, concurrently, with plain GETs as the
    /// official client reads them (no subscription); one that cannot be read is left out.
    async fn hydrate(
        session: TalkSession,
        lines: Vec<SearchConversationLine>,
        _held: Held,
    ) -> Result<Vec<Arc<ConversationSnapshot>>> {
        let found = futures_util::future::join_all(
            lines
                .into_iter()
                .filter(|l| !l.id.is_empty())
                .map(|l| read_conversation(&session, l.id)),
        )
        .await;
        let mut out = Vec::with_capacity(found.len());
        for c in found {
            out.extend(c?);
        }
        Ok(out)
    }

    fn state(results: &[Arc<ConversationSnapshot>], loaded_all: bool) -> ConversationSearchState {
        ConversationSearchState {
            results: results.to_vec(),
            loaded_all,
        }
    }
}

/// The conversations a message search holds subscriptions to, by id: those its results are in.
/// Dropped (and so unsubscribed) when a new query starts or the search handle goes away.
type Held = Arc<Mutex<HashMap<String, crate::ConversationSubscription>>>;

/// A conversation with its last message, from the search's subscription to it (made on first
/// use); `None` when it does not exist or the user is not a participant.
async fn held_conversation(
    session: &TalkSession,
    held: &Held,
    id: String,
) -> Result<Option<Arc<ConversationSnapshot>>> {
    let subscription = {
        let mut held = held.lock().unwrap_or_else(PoisonError::into_inner);
        match held.get(&id) {
            Some(s) if !s.is_terminated() => s.clone(),
            _ => {
                let s = session.conversation(id.clone()).subscribe();
                held.insert(id.clone(), s.clone());
                s
            }
        }
    };
    let first = subscription.connected().await;
    let snapshot = match first {
        Ok(update) => update.snapshot,
        Err(talkjs_actors::subscription::Terminated::Error(e)) if e.is_absent() => None,
        Err(talkjs_actors::subscription::Terminated::Error(e)) => {
            return Err(e.with_operation(format!("Get conversation {id}")));
        }
        Err(talkjs_actors::subscription::Terminated::Unsubscribed) => {
            return Err(Error::new(
                format!("Get conversation {id}"),
                ErrorKind::SessionTerminated("the subscription ended".into()),
            ));
        }
    };
    if snapshot.is_none() {
        // Nothing to show: no reason to keep it.
        held.lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&id);
    }
    Ok(snapshot)
}

/// A conversation with its last message, read with `GET /me/conversations/{id}/messages`
/// (limit 1) and `GET /me/conversations/{id}` sent together, in that order, as the official
/// conversation search does; `None` when it does not exist or the user is not a participant.
async fn read_conversation(
    session: &TalkSession,
    id: String,
) -> Result<Option<Arc<ConversationSnapshot>>> {
    let op: Arc<str> = format!("Get conversation {id}").into();
    let messages = Route::ListMessages {
        conversation: id.clone(),
    };
    let conversation = Route::GetConversation {
        conversation: id.clone(),
    };
    let (page, wire) = futures_util::future::join(
        session.call_typed::<_, Page<MessageWire>>(
            op.clone(),
            &messages,
            &ListRequest::first_page(1),
        ),
        session.call_typed::<_, ConversationWire>(op, &conversation, EMPTY),
    )
    .await;
    let Some(wire) = hydrate::none_if_absent(wire)? else {
        return Ok(None);
    };
    let Some(page) = hydrate::none_if_absent(page)? else {
        return Ok(None);
    };
    let last = match page.data.into_iter().next() {
        Some(m) => Some(Arc::new(hydrate::message(session, &id, &m).await?)),
        None => None,
    };
    Ok(Some(Arc::new(ConversationSnapshot::from_wire(&wire, last))))
}

// ---------------------------------------------------------------------------------------------
// The shared machinery
// ---------------------------------------------------------------------------------------------

/// The search state behind a handle and its clones.
struct Search<K: Kind> {
    session: TalkSession,
    core: Arc<Mutex<Core<K>>>,
    /// Subscriptions to the conversations of a message search's results.
    held: Held,
}

impl<K: Kind> Clone for Search<K> {
    fn clone(&self) -> Self {
        Search {
            session: self.session.clone(),
            core: self.core.clone(),
            held: self.held.clone(),
        }
    }
}

struct Core<K: Kind> {
    /// Bumped by every `set_query`: a load whose generation is not current is superseded and
    /// must not touch the state.
    generation: u64,
    /// The current search; `None` before a query is set and after an empty one.
    active: Option<Active<K>>,
    /// The results and status as `on_results` listeners see them; republished after every
    /// change to `active`.
    progress: watch::Sender<Progress<K::Item>>,
}

/// What `on_results` listeners receive.
struct Progress<I> {
    results: Arc<[I]>,
    status: SearchStatus,
}

impl<K: Kind> Core<K> {
    /// Tells `on_results` listeners what the search shows now, if that changed.
    fn publish(&self) {
        let (results, status): (&[K::Item], _) = match &self.active {
            None => (&[], SearchStatus::LoadedAll),
            Some(a) if a.pending.is_some() => (&a.results, SearchStatus::Searching),
            Some(a) if a.loaded_all => (&a.results, SearchStatus::LoadedAll),
            Some(a) => (&a.results, SearchStatus::CanLoadMore),
        };
        self.progress.send_if_modified(|p| {
            // Results only ever grow or restart empty, so the count tells whether they changed.
            if p.status == status && p.results.len() == results.len() {
                return false;
            }
            *p = Progress {
                results: results.into(),
                status,
            };
            true
        });
    }
}

struct Active<K: Kind> {
    query: String,
    /// The conversation filter's JSON, as sent (`{}` for none).
    filter: String,
    results: Vec<K::Item>,
    /// The next page's cursor; `None` before the first page and after the last.
    cursor: Option<String>,
    loaded_all: bool,
    /// The load in flight, if any.
    pending: Option<Pending>,
}

/// A running load: its outcome, which any number of callers can wait for, and its off switch.
struct Pending {
    outcome: Shared<BoxFuture<'static, Result<()>>>,
    abort: AbortHandle,
}

impl<K: Kind> Search<K> {
    fn new(session: TalkSession) -> Self {
        Search {
            session,
            core: Arc::new(Mutex::new(Core {
                generation: 0,
                active: None,
                progress: watch::Sender::new(Progress {
                    results: Arc::new([]),
                    status: SearchStatus::LoadedAll,
                }),
            })),
            held: Held::default(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Core<K>> {
        lock(&self.core)
    }

    fn debug(&self, name: &str, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let core = self.lock();
        let mut d = f.debug_struct(name);
        d.field("session", &self.session);
        if let Some(a) = &core.active {
            d.field("query", &a.query)
                .field("filter", &a.filter)
                .field("results", &a.results.len())
                .field("loaded_all", &a.loaded_all)
                .field("loading", &a.pending.is_some());
        }
        d.finish()
    }

    fn on_results<F>(&self, mut f: F)
    where
        F: FnMut(&[K::Item], SearchStatus) + 'static,
    {
        let mut rx = self.lock().progress.subscribe();
        // Ends when the last handle, and with it the sender, is dropped.
        actix::spawn(async move {
            while rx.changed().await.is_ok() {
                let (results, status) = {
                    let p = rx.borrow_and_update();
                    (p.results.clone(), p.status)
                };
                f(&results, status);
            }
        });
    }

    fn status(&self) -> SearchStatus {
        self.lock().progress.borrow().status
    }

    async fn set_query(
        &self,
        query: String,
        filter: Option<ConversationFilter>,
    ) -> Result<K::State> {
        let filter = serde_json::to_string(&filter.unwrap_or_default())
            .map_err(|e| Error::invalid("Search", format!("cannot encode the filter: {e}")))?;
        {
            let mut core = self.lock();
            core.generation += 1;
            if let Some(pending) = core.active.take().and_then(|a| a.pending) {
                pending.abort.abort();
            }
            // A new query's results are in other conversations, or will be read afresh.
            std::mem::take(&mut *self.held.lock().unwrap_or_else(PoisonError::into_inner));
            if !query.is_empty() {
                core.active = Some(Active {
                    query,
                    filter,
                    results: Vec::new(),
                    cursor: None,
                    loaded_all: false,
                    pending: None,
                });
                self.start_load(&mut core, FIRST_PAGE);
            }
            core.publish();
        }
        self.settle().await
    }

    async fn load_more(&self, limit: Option<u32>) -> Result<K::State> {
        let limit = limit.unwrap_or(DEFAULT_PAGE);
        if !(1..=MAX_PAGE).contains(&limit) {
            return Err(Error::invalid(
                "Search",
                format!("limit must be between 1 and {MAX_PAGE}, not {limit}"),
            ));
        }
        {
            let mut core = self.lock();
            if core
                .active
                .as_ref()
                .is_some_and(|a| a.pending.is_none() && !a.loaded_all)
            {
                self.start_load(&mut core, limit);
                core.publish();
            }
        }
        self.settle().await
    }

    /// Spawns the load of the current search's next page (or its first, when it has no cursor
    /// and is not done) and records it as pending.
    fn start_load(&self, core: &mut Core<K>, limit: u32) {
        let generation = core.generation;
        let Some(active) = core.active.as_mut() else {
            return;
        };
        let url = self.url(active, limit);
        let (task, abort) = abortable(load::<K>(
            self.session.clone(),
            self.core.clone(),
            self.held.clone(),
            generation,
            url,
        ));
        let outcome = actix::spawn(task)
            .map(|joined| match joined {
                Ok(Ok(outcome)) => outcome,
                // Aborted by a newer `set_query`, which every waiter notices.
                Ok(Err(_aborted)) => Ok(()),
                Err(_) => Err(Error::new(
                    "Search",
                    ErrorKind::SessionTerminated("the actix system stopped".into()),
                )),
            })
            .boxed()
            .shared();
        active.pending = Some(Pending { outcome, abort });
    }

    /// The URL of the next load: query and filter for a first page, the cursor otherwise.
    fn url(&self, active: &Active<K>, limit: u32) -> String {
        let mut url = format!(
            "{}/{}/me/{}/search?",
            self.session.urls().rest,
            self.session.app_id(),
            K::WHAT
        );
        match &active.cursor {
            Some(cursor) => {
                url.push_str("cursor=");
                form_encode(cursor, &mut url);
            }
            None => {
                // Encoded once here and once more as a query parameter, as the official client.
                let mut once = String::new();
                encode_component(&active.query, &mut once);
                url.push_str("searchString=");
                form_encode(&once, &mut url);
                url.push_str("&conversationFilter=");
                form_encode(&active.filter, &mut url);
            }
        }
        let _ = write!(url, "&limit={limit}");
        url
    }

    /// Waits until the current search has no load running and answers its state, or the error
    /// of the load waited for. Follows newer queries: if a `set_query` supersedes the load being
    /// waited for, waits for the new one.
    async fn settle(&self) -> Result<K::State> {
        loop {
            let (generation, outcome) = {
                let core = self.lock();
                let Some(active) = &core.active else {
                    return Ok(K::state(&[], true));
                };
                match &active.pending {
                    None => return Ok(K::state(&active.results, active.loaded_all)),
                    Some(p) => (core.generation, p.outcome.clone()),
                }
            };
            let outcome = outcome.await;
            let core = self.lock();
            if core.generation != generation {
                continue;
            }
            outcome?;
            return Ok(match &core.active {
                Some(a) => K::state(&a.results, a.loaded_all),
                None => K::state(&[], true),
            });
        }
    }
}

fn lock<K: Kind>(core: &Mutex<Core<K>>) -> MutexGuard<'_, Core<K>> {
    core.lock().unwrap_or_else(PoisonError::into_inner)
}

/// One load: fetch the page, hydrate it, and (unless superseded meanwhile) add its results and
/// cursor to the search. A failure leaves the search as it was, with nothing pending.
async fn load<K: Kind>(
    session: TalkSession,
    core: Arc<Mutex<Core<K>>>,
    held: Held,
    generation: u64,
    url: String,
) -> Result<()> {
    let loaded = async {
        let page = fetch::<K::Line>(&session, url).await?;
        let items = K::hydrate(session.clone(), page.results, held).await?;
        Ok::<_, Error>((items, page.cursor))
    }
    .await;
    let mut core = lock(&core);
    if core.generation != generation {
        return Ok(());
    }
    let Some(active) = core.active.as_mut() else {
        return Ok(());
    };
    active.pending = None;
    let outcome = loaded.map(|(items, cursor)| {
        active.results.extend(items);
        active.loaded_all = cursor.is_none();
        active.cursor = cursor;
    });
    core.publish();
    outcome
}

/// One page over HTTP, with the session's token and the official client's retry policy.
async fn fetch<L: DeserializeOwned>(session: &TalkSession, url: String) -> Result<SearchPage<L>> {
    let request = AuthorizedRequest {
        method: awc::http::Method::GET,
        url,
        content_type: "application/json".into(),
        body: None,
        timeout: SEARCH_TIMEOUT,
        body_limit: SEARCH_ANSWER_LIMIT,
    };
    let body = send_authorized(session, &"Search".into(), request).await?;
    let (page, skipped) = SearchPage::parse_body(&String::from_utf8_lossy(&body));
    if skipped > 0 {
        tracing::warn!(
            skipped,
            "search answer lines that do not parse were left out; some results may be missing"
        );
    }
    Ok(page)
}

/// Appends `value` encoded as `URLSearchParams` encodes a parameter
/// (`application/x-www-form-urlencoded`): ASCII letters, digits and `*-._` stay, a space
/// becomes `+`, every other byte is `%XX`.
fn form_encode(value: &str, out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in value.as_bytes() {
        match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'*' | b'-' | b'.' | b'_' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => {
                out.push('%');
                out.push(HEX[(b >> 4) as usize] as char);
                out.push(HEX[(b & 0xF) as usize] as char);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_query_is_encoded_twice_like_the_official_client() {
        // docs/protocol.md §1.7 and protocol/tests/fixtures/frames/search_messages.json.
        let mut once = String::new();
        encode_component("hello wörld & more", &mut once);
        let mut twice = String::new();
        form_encode(&once, &mut twice);
        assert_eq!(twice, "hello%2520w%25C3%25B6rld%2520%2526%2520more");
        let mut filter = String::new();
        form_encode(r#"{"custom":{"a":["==","b"]}}"#, &mut filter);
        assert_eq!(
            filter,
            "%7B%22custom%22%3A%7B%22a%22%3A%5B%22%3D%3D%22%2C%22b%22%5D%7D%7D"
        );
        let mut marks = String::new();
        form_encode("a b*~'()!", &mut marks);
        assert_eq!(marks, "a+b*%7E%27%28%29%21");
    }
}
