//! The current user's conversation list (`TalkSession::subscribe_conversations`): the most
//! recently active conversations that match a filter, most recent first, with their last
//! messages.
//!
//! - **Wire**: every list shares one `SUBSCRIBE /me/conversations`, whatever its filter (the
//!   session counts holders); the first page is `GET /me/conversations {limit: 20, filter}`
//!   with the filter normalised, later pages send only the cursor. Each listed conversation's
//!   message topic is held too, for its last message.
//! - **Events**: `side.created` adds a matching conversation; `side.edited`,
//!   `conversation.edited` and the current user's `participant.edited` re-check the filter
//!   (a conversation that stops matching leaves, one that starts matching is fetched and
//!   joins); a change of last activity re-sorts; `side.deleted` removes. A conversation that
//!   becomes active but is older than the window's oldest while more remain unloaded stays out,
//!   as in the official client.
//! - **Reconnect**: the list is fetched again down to the size it had, and replaces what was
//!   shown; conversations that left release their message topics.

use std::collections::HashSet;
use std::sync::Arc;

use futures_util::future::{LocalBoxFuture, join_all};
use talkjs_protocol::event::Event;
use talkjs_protocol::filter::ConversationFilter;
use talkjs_protocol::path::{Route, Topic};
use talkjs_protocol::request::{Empty, ListConversationsRequest};
use talkjs_protocol::snapshot::{ConversationSnapshot, UserSnapshot};
use talkjs_protocol::wire::{ConversationWire, Page};

use super::conversation::{Entry, EntryStep, last_message};
use crate::cache::Watcher;
use crate::error::Error;
use crate::session::routes::{Found, Lookup, RouteKey};
use crate::subscription::diffs::Change;
use crate::subscription::tracked::Tracked;
use crate::subscription::{Apply, Env, Kind, ListSnapshot, LoadReason, Scope, Step, VectorDiff};

/// Conversations in the first window (official client: 20).
pub const FIRST_WINDOW: usize = 20;
/// Largest page asked for at once, and the largest `load_more` (official client: 30).
pub const MAX_PAGE: usize = 30;

/// See the module docs.
#[derive(Debug)]
pub struct ConversationListKind {
    filter: ConversationFilter,
    first_window: usize,
    /// `None` until loaded, or while the current user does not exist.
    entries: Option<Vec<Entry>>,
    cursor: Option<String>,
    /// What the list shows, with its changes since the last snapshot.
    shown: Tracked<ConversationSnapshot>,
}

/// A load's result: the entries (holding their message topics) and the cursor.
pub struct Loaded {
    entries: Option<Vec<Entry>>,
    cursor: Option<String>,
}

impl ConversationListKind {
    /// The conversations matching `filter`, starting with the `first_window` most recent.
    pub fn new(filter: ConversationFilter, first_window: usize) -> ConversationListKind {
        ConversationListKind {
            filter,
            first_window: first_window.max(1),
            entries: None,
            cursor: None,
            shown: Tracked::default(),
        }
    }

    fn rebuild(&mut self) {
        if let Some(entries) = &mut self.entries {
            entries.sort_by(|a, b| {
                b.activity()
                    .cmp(&a.activity())
                    .then_with(|| a.id().cmp(b.id()))
            });
        }
        // A small window (20, growing by 30 with `load_more`): rebuilt whole, and the change
        // found by comparing (a conversation that became the most recent is a Remove and an
        // Insert).
        match &self.entries {
            Some(es) => self
                .shown
                .replace(es.iter().map(|e| e.built.clone()).collect()),
            None => self.shown.set_visible(false),
        }
    }

    /// Whether a conversation this active belongs in the window.
    fn in_window(&self, activity: i64) -> bool {
        let Some(entries) = &self.entries else {
            return false;
        };
        self.cursor.is_none()
            || entries.is_empty()
            || entries.iter().map(Entry::activity).min() <= Some(activity)
    }
}

/// Entries fetched, and the cursor after them.
type Fetched = (Vec<Entry>, Option<String>);

/// Fetches pages from `first` until `want` conversations or the end, then each one's last
/// message. Each conversation's message topic is held before its `GET`.
fn fetch(
    env: &Env,
    watcher: &Watcher,
    first: ListConversationsRequest,
    want: usize,
) -> LocalBoxFuture<'static, Result<Fetched, Error>> {
    let first_page = env.call::<_, Page<ConversationWire>>(
        "Get conversations",
        &Route::ListConversations,
        &first,
    );
    let (env, watcher) = (env.clone(), watcher.clone());
    Box::pin(async move {
        let mut page = first_page.await?;
        let mut wires = Vec::new();
        loop {
            let got = page.data.len();
            wires.extend(page.data);
            let Some(cursor) = page.cursor.take() else {
                break;
            };
            if got == 0 || wires.len() >= want {
                page.cursor = Some(cursor);
                break;
            }
            let next = ListConversationsRequest::next_page(
                (want - wires.len()).min(MAX_PAGE) as u32,
                cursor,
            );
            page = env
                .call("Get conversations", &Route::ListConversations, &next)
                .await?;
        }
        let entries = with_last_messages(&env, &watcher, wires).await?;
        Ok((entries, page.cursor))
    })
}

/// Holds each conversation's message topic (the entry keeps the guard: the topic is held while
/// the list shows it), then fetches its last message.
async fn with_last_messages(
    env: &Env,
    watcher: &Watcher,
    wires: Vec<ConversationWire>,
) -> Result<Vec<Entry>, Error> {
    let guards: Vec<_> = wires
        .iter()
        .map(|w| env.session.hold(messages_topic(&w.id)))
        .collect();
    let lasts = join_all(wires.iter().map(|w| last_message(env, watcher, &w.id))).await;
    wires
        .into_iter()
        .zip(lasts)
        .zip(guards)
        .map(|((w, last), guard)| Ok(Entry::new(w, last?).holding(guard)))
        .collect()
}

fn messages_topic(id: &str) -> Topic {
    Topic::Messages {
        conversation: id.to_owned(),
    }
}

/// Lets go of a conversation the list no longer shows: its entry in the store of latest
/// messages. (Its message topic is released when its entry drops.)
fn let_go(scope: &mut Scope<'_>, id: &str) {
    scope.env.cache.unwatch_latest(id, scope.watcher.id);
}

impl ConversationListKind {
    /// Lets go of the conversations that are not in the new list.
    fn let_go_of_others(&mut self, entries: &[Entry], scope: &mut Scope<'_>) {
        let keep: HashSet<&str> = entries.iter().map(Entry::id).collect();
        if let Some(old) = &self.entries {
            for e in old.iter().filter(|e| !keep.contains(e.id())) {
                let_go(scope, e.id());
            }
        }
    }

    /// Adds a conversation (already matching the filter) once its last message is known.
    fn add_later(&self, wire: ConversationWire, scope: &mut Scope<'_>) -> Step<Self> {
        let env = scope.env.clone();
        let watcher = scope.watcher.clone();
        Step::Later(Box::pin(async move {
            let mut entries = with_last_messages(&env, &watcher, vec![wire]).await?;
            let entry = entries.pop();
            let apply: Apply<ConversationListKind> = Box::new(move |k, scope| {
                let Some(entry) = entry else { return false };
                let shown = k
                    .entries
                    .as_ref()
                    .is_some_and(|l| l.iter().any(|e| e.id() == entry.id()));
                if shown {
                    // Its extra hold on the topic goes with it.
                    return false;
                }
                let Some(list) = &mut k.entries else {
                    let_go(scope, entry.id());
                    return false;
                };
                list.push(entry);
                k.rebuild();
                true
            });
            Ok(apply)
        }))
    }

    fn remove(&mut self, id: &str, scope: &mut Scope<'_>) -> bool {
        let Some(list) = &mut self.entries else {
            return false;
        };
        let before = list.len();
        list.retain(|e| e.id() != id);
        if list.len() == before {
            return false;
        }
        let_go(scope, id);
        self.rebuild();
        true
    }
}

impl Kind for ConversationListKind {
    type Snapshot = ListSnapshot<ConversationSnapshot>;
    type Loaded = Loaded;

    fn describe(&self) -> String {
        format!(
            "<filtered>/me/conversations/{}",
            self.filter.normalised_key()
        )
    }

    fn route_keys(&self) -> Vec<RouteKey> {
        vec![RouteKey::AllConversations]
    }

    fn topics(&self) -> Vec<Topic> {
        vec![Topic::Conversations]
    }

    fn load(
        &self,
        reason: LoadReason,
        scope: &mut Scope<'_>,
    ) -> LocalBoxFuture<'static, Result<Loaded, Error>> {
        // After a reconnect, as many as were shown.
        let want = match (reason, &self.entries) {
            (LoadReason::Resync, Some(es)) => es.len().max(self.first_window),
            _ => self.first_window,
        };
        let first = ListConversationsRequest::first_page(want.min(MAX_PAGE) as u32, &self.filter);
        let fetched = fetch(scope.env, scope.watcher, first, want);
        Box::pin(async move {
            match fetched.await {
                Ok((entries, cursor)) => Ok(Loaded {
                    entries: Some(entries),
                    cursor,
                }),
                Err(e) if e.is_absent() => Ok(Loaded {
                    entries: None,
                    cursor: None,
                }),
                Err(e) => Err(e),
            }
        })
    }

    fn install(&mut self, loaded: Loaded, _: LoadReason, scope: &mut Scope<'_>) -> bool {
        let new = loaded.entries.unwrap_or_default();
        self.let_go_of_others(&new, scope);
        self.entries = Some(new);
        self.cursor = loaded.cursor;
        self.rebuild();
        self.shown.changed()
    }

    fn on_event(&mut self, event: &Arc<Event>, scope: &mut Scope<'_>) -> Step<Self> {
        let me = scope.env.me.clone();
        if let Event::UserCreated(e) = &**event {
            return if e.user_id == *me && self.entries.is_none() {
                Step::Reload
            } else {
                Step::Unchanged
            };
        }
        let Some(id) = event.conversation_id().map(str::to_owned) else {
            return Step::Unchanged;
        };
        if self.entries.is_none() {
            return Step::Unchanged;
        }
        let present = self.entries.iter().flatten().any(|e| e.id() == id.as_str());
        match &**event {
            Event::SideCreated(e) => {
                if present
                    || !self.filter.matches(&e.state)
                    || !self.in_window(e.state.last_message_at)
                {
                    return Step::Unchanged;
                }
                self.add_later(e.state.clone(), scope)
            }
            Event::SideDeleted(_) => {
                if self.remove(&id, scope) {
                    Step::Changed
                } else {
                    Step::Unchanged
                }
            }
            Event::SideEdited(_) | Event::ConversationEdited(_) | Event::ParticipantEdited(_)
                if !present =>
            {
                let own = match &**event {
                    Event::ParticipantEdited(p) => p.user_id == *me,
                    _ => true,
                };
                if !own {
                    return Step::Unchanged;
                }
                // It may now match, or be active enough to join: ask for it, then decide.
                // Shared with every other list asking about the same change.
                let wire = scope.env.call::<_, ConversationWire>(
                    format!("Get conversation {id}"),
                    &Route::GetConversation {
                        conversation: id.clone(),
                    },
                    &Empty,
                );
                let env = scope.env.clone();
                let watcher = scope.watcher.clone();
                let filter = self.filter.clone();
                Step::Later(Box::pin(async move {
                    let wire = match wire.await {
                        Ok(w) => Some(w).filter(|w| filter.matches(w)),
                        Err(e) if e.is_absent() => None,
                        Err(e) => return Err(e),
                    };
                    let entries = match wire {
                        Some(w) => with_last_messages(&env, &watcher, vec![w]).await?,
                        None => Vec::new(),
                    };
                    let apply: Apply<ConversationListKind> = Box::new(move |k, scope| {
                        let mut changed = false;
                        for entry in entries {
                            let fits = k.in_window(entry.activity());
                            let Some(list) = &mut k.entries else {
                                continue;
                            };
                            if list.iter().any(|e| e.id() == entry.id()) {
                                // Shown already: the fetch's extra hold goes with it.
                                continue;
                            }
                            if fits {
                                list.push(entry);
                                changed = true;
                            } else {
                                let_go(scope, entry.id());
                            }
                        }
                        if changed {
                            k.rebuild();
                        }
                        changed
                    });
                    Ok(apply)
                }))
            }
            _ if !present => Step::Unchanged,
            _ => {
                let Some(list) = &mut self.entries else {
                    return Step::Unchanged;
                };
                let Some(entry) = list.iter_mut().find(|e| e.id() == id.as_str()) else {
                    return Step::Unchanged;
                };
                match entry.on_event(event, &me, scope) {
                    EntryStep::Unchanged => Step::Unchanged,
                    EntryStep::Changed => {
                        if !self.filter.matches(&entry.wire) {
                            self.remove(&id, scope);
                        } else {
                            self.rebuild();
                        }
                        Step::Changed
                    }
                    EntryStep::Later(work) => Step::Later(Box::pin(async move {
                        let last = work.await?;
                        let apply: Apply<ConversationListKind> = Box::new(move |k, _| {
                            let Some(list) = &mut k.entries else {
                                return false;
                            };
                            let changed = list
                                .iter_mut()
                                .find(|e| e.id() == id.as_str())
                                .is_some_and(|e| e.set_last(last));
                            if changed {
                                k.rebuild();
                            }
                            changed
                        });
                        Ok(apply)
                    })),
                }
            }
        }
    }

    fn on_user(&mut self, user: &Arc<UserSnapshot>) -> bool {
        let mut changed = false;
        for e in self.entries.iter_mut().flatten() {
            changed |= e.on_user(user);
        }
        if changed {
            self.rebuild();
        }
        changed
    }

    fn find(&self, lookup: &Lookup) -> Option<Found> {
        match lookup {
            Lookup::Conversation(id) => self
                .entries
                .iter()
                .flatten()
                .find(|e| e.id() == id.as_str())
                .map(|e| Found::Conversation(Some(e.built.clone()))),
            _ => None,
        }
    }

    fn snapshot(&self) -> Self::Snapshot {
        self.shown.snapshot()
    }

    fn take_change(&mut self) -> Change<VectorDiff<Arc<ConversationSnapshot>>> {
        self.shown.take()
    }

    fn loaded_all(&self) -> bool {
        self.cursor.is_none()
    }

    fn max_load_more(&self) -> Option<usize> {
        Some(MAX_PAGE)
    }

    fn default_load_more(&self) -> usize {
        FIRST_WINDOW
    }

    fn load_more(&mut self, target: usize, scope: &mut Scope<'_>) -> Option<Step<Self>> {
        let have = self.entries.as_ref()?.len();
        if have >= target {
            return None;
        }
        let cursor = self.cursor.clone()?;
        let want = target - have;
        let first = ListConversationsRequest::next_page(want.min(MAX_PAGE) as u32, cursor);
        let fetched = fetch(scope.env, scope.watcher, first, want);
        Some(Step::Later(Box::pin(async move {
            let (entries, cursor) = fetched.await?;
            let apply: Apply<ConversationListKind> = Box::new(move |k, _scope| {
                let Some(list) = &mut k.entries else {
                    return false;
                };
                for e in entries {
                    // A duplicate is dropped, and its extra hold with it.
                    if !list.iter().any(|x| x.id() == e.id()) {
                        list.push(e);
                    }
                }
                k.cursor = cursor;
                k.rebuild();
                true
            });
            Ok(apply)
        })))
    }
}
