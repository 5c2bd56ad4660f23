//! The state of one search behind a handle and its clones: the query and paging state, the load
//! in flight, and its publication to `on_results` listeners through the subscriptions' engine
//! ([`Published`]: state in a `watch` channel, delivery to [`Listener`]s).
//!
//! Loads run on the session's thread ([`SessionHandle::run_local`]), where the HTTP client and
//! the hydration run, so a search works from any runtime and any thread.
//!
//! [`SessionHandle::run_local`]: talkjs_actors::SessionHandle::run_local

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use futures_util::future::{AbortHandle, BoxFuture, FutureExt, Shared};
use talkjs_actors::subscription::{Listener, Published};
use talkjs_protocol::filter::ConversationFilter;

use super::http::{PageRequest, fetch};
use super::kinds::{Held, Kind};
use super::{DEFAULT_PAGE, FIRST_PAGE, MAX_PAGE, SearchStatus};
use crate::session::TalkSession;
use crate::{Error, Result};

/// The search state behind a handle and its clones.
pub(super) struct Search<K: Kind> {
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
    /// change to `active`. Pending until the first query.
    published: Published<Progress<K::Item>>,
}

/// What `on_results` listeners receive.
pub(super) struct Progress<I> {
    pub(super) results: Arc<[I]>,
    pub(super) status: SearchStatus,
}

impl<I> Clone for Progress<I> {
    fn clone(&self) -> Self {
        Progress {
            results: self.results.clone(),
            status: self.status,
        }
    }
}

impl<I: Send + Sync + 'static> talkjs_actors::subscription::Observed for Progress<I> {
    /// Search results are read whole (`on_results`), not as changes.
    type Diff = std::convert::Infallible;

    fn reset(&self) -> Vec<Self::Diff> {
        Vec::new()
    }
}

impl<I> PartialEq for Progress<I> {
    /// Results only ever grow or restart empty, so the count tells whether they changed.
    fn eq(&self, other: &Self) -> bool {
        self.status == other.status && self.results.len() == other.results.len()
    }
}

impl<K: Kind> Core<K> {
    /// Tells `on_results` listeners what the search shows now, if that changed.
    fn publish(&mut self) {
        let (results, status): (&[K::Item], _) = match &self.active {
            None => (&[], SearchStatus::LoadedAll),
            Some(a) if a.pending.is_some() => (&a.results, SearchStatus::Searching),
            Some(a) if a.loaded_all => (&a.results, SearchStatus::LoadedAll),
            Some(a) => (&a.results, SearchStatus::CanLoadMore),
        };
        let progress = Progress {
            results: results.into(),
            status,
        };
        self.published
            .publish(progress, status == SearchStatus::LoadedAll);
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
    pub(super) fn new(session: TalkSession) -> Self {
        Search {
            session,
            core: Arc::new(Mutex::new(Core {
                generation: 0,
                active: None,
                published: Published::new(),
            })),
            held: Held::default(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Core<K>> {
        lock(&self.core)
    }

    pub(super) fn debug(&self, name: &str, f: &mut fmt::Formatter<'_>) -> fmt::Result {
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

    /// Adds a listener of the engine that hands each change to `f` on a task of the current
    /// actix arbiter (`f` need not be `Send`). Ends when the last handle is dropped, and with
    /// it the published state and its listeners.
    pub(super) fn on_results<F>(&self, mut f: F)
    where
        F: FnMut(&[K::Item], SearchStatus) + Send + 'static,
    {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        self.lock().published.add_listener(Listener::Channel(tx));
        // Where the session's actors run: the caller's actix arbiter, else the runtime's own
        // thread, so a listener works from any async runtime. Not under the search's lock, so
        // `f` may call the search. The task ends when the search's last handle is dropped.
        drop(talkjs_actors::run_on_runtime(move || async move {
            while let Some(update) = rx.recv().await {
                let progress: Progress<K::Item> = update.snapshot;
                f(&progress.results, progress.status);
            }
        }));
    }

    pub(super) fn status(&self) -> SearchStatus {
        self.lock()
            .published
            .latest()
            .map_or(SearchStatus::LoadedAll, |p| p.status)
    }

    pub(super) async fn set_query(
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

    pub(super) async fn load_more(&self, limit: Option<u32>) -> Result<K::State> {
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

    /// Starts the load of the current search's next page (or its first, when it has no cursor
    /// and is not done) on the session's thread, and records it as pending.
    fn start_load(&self, core: &mut Core<K>, limit: u32) {
        let generation = core.generation;
        let Some(active) = core.active.as_mut() else {
            return;
        };
        let page = PageRequest {
            what: K::WHAT,
            query: &active.query,
            filter: &active.filter,
            cursor: active.cursor.as_deref(),
            limit,
        };
        let url = page.url(&self.session);
        let (abort, registration) = AbortHandle::new_pair();
        let (session, state, held) = (self.session.clone(), self.core.clone(), self.held.clone());
        let ran = self.session.handle().run_local("Search", move || {
            futures_util::future::Abortable::new(
                load::<K>(session, state, held, generation, url),
                registration,
            )
        });
        let outcome = ran
            .map(|ran| match ran {
                Ok(Ok(outcome)) => outcome,
                // Aborted by a newer `set_query`, which every waiter notices.
                Ok(Err(_aborted)) => Ok(()),
                Err(stopped) => Err(stopped),
            })
            .boxed()
            .shared();
        active.pending = Some(Pending { outcome, abort });
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
