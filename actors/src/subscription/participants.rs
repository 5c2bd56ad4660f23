//! A conversation's participants (`ConversationRef::subscribe_participants`): a window of the
//! participants who joined most recently, newest first, that grows as people join and with
//! `load_more`.
//!
//! - **Load**: `SUBSCRIBE /me/conversations/{c}/participants`, then `GET` of the newest 10 (a
//!   short page with a cursor is topped up at once), then their users through the cache
//!   (watched, so a renamed participant re-emits the list). Not being a participant shows `None`
//!   until the current user joins (`side.created` reloads).
//! - **Events**: `participant.created` always joins the window, sorted by `joinedAt`, skipped
//!   if the user is shown already; `participant.edited` applies its diff; `participant.deleted`
//!   removes; `side.deleted` shows `None`. A participant whose user does not exist is kept but
//!   not shown, as the official client leaves out participants without a user; it appears if
//!   the user is created.
//! - **`load_more(n)`**: at most [`MAX_LOAD_MORE`] at once, as in the official client.
//! - **Reconnect**: pages are fetched from the newest until they reach what was shown; the
//!   window becomes those pages plus the shown participants older than them. People who joined
//!   while the socket was down appear, people who left disappear, nobody repeats.

use std::cmp::Reverse;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use futures_util::future::LocalBoxFuture;
use talkjs_protocol::event::Event;
use talkjs_protocol::path::{Route, Topic};
use talkjs_protocol::request::ListRequest;
use talkjs_protocol::snapshot::{ParticipantSnapshot, UserSnapshot};
use talkjs_protocol::wire::{Millis, ParticipantWire};

use super::paging::{Until, fetch_pages};
use super::{Apply, Kind, ListSnapshot, LoadReason, Scope, Step};
use crate::error::Error;
use crate::live::{Found, Lookup, RouteKey};

/// Participants in the first window (official client: 10).
pub const FIRST_WINDOW: usize = 10;
/// Largest `load_more` count (official client: 50); also the largest page asked for.
pub const MAX_LOAD_MORE: usize = 50;

/// The list order: newest joined first, ties by user id (the server's order).
fn key(w: &ParticipantWire) -> (Reverse<Millis>, String) {
    (Reverse(w.joined_at), w.id.clone())
}

#[derive(Debug)]
struct Entry {
    wire: ParticipantWire,
    /// `None` while the user does not exist.
    shown: Option<Arc<ParticipantSnapshot>>,
}

/// See the module docs.
#[derive(Debug)]
pub struct ParticipantsKind {
    conversation: String,
    visible: bool,
    /// In list order.
    items: Vec<Entry>,
    /// Where older participants continue; `None` when all are loaded.
    cursor: Option<String>,
    users: HashMap<String, Arc<UserSnapshot>>,
    snapshot: ListSnapshot<ParticipantSnapshot>,
}

/// A load's result.
pub struct Loaded {
    visible: bool,
    wires: Vec<ParticipantWire>,
    users: HashMap<String, Arc<UserSnapshot>>,
    cursor: Option<String>,
}

impl ParticipantsKind {
    /// The participants of this conversation.
    pub fn new(conversation: impl Into<String>) -> ParticipantsKind {
        ParticipantsKind {
            conversation: conversation.into(),
            visible: false,
            items: Vec::new(),
            cursor: None,
            users: HashMap::new(),
            snapshot: None,
        }
    }

    fn rebuild(&mut self) {
        self.snapshot = self
            .visible
            .then(|| Arc::new(self.items.iter().filter_map(|e| e.shown.clone()).collect()));
    }

    fn shown_len(&self) -> usize {
        self.snapshot.as_ref().map_or(0, |s| s.len())
    }

    fn entry(&self, wire: ParticipantWire) -> Entry {
        let shown = self
            .users
            .get(&wire.id)
            .map(|u| Arc::new(ParticipantSnapshot::from_wire(&wire, u.clone())));
        Entry { wire, shown }
    }

    /// Inserts in list order; whether a shown participant was added (false if the user is
    /// there already, or has no user to show).
    fn insert(&mut self, wire: ParticipantWire) -> bool {
        if self.items.iter().any(|e| e.wire.id == wire.id) {
            return false;
        }
        let k = key(&wire);
        let at = self.items.partition_point(|e| key(&e.wire) < k);
        let entry = self.entry(wire);
        let shown = entry.shown.is_some();
        self.items.insert(at, entry);
        shown
    }

    fn hide(&mut self) -> bool {
        let changed = self.snapshot.is_some();
        self.visible = false;
        self.items.clear();
        self.cursor = None;
        self.rebuild();
        changed
    }

    fn operation(&self) -> String {
        format!("Get participants of conversation {}", self.conversation)
    }

    fn route(&self) -> Route {
        Route::ListParticipants {
            conversation: self.conversation.clone(),
        }
    }
}

impl Kind for ParticipantsKind {
    type Snapshot = ListSnapshot<ParticipantSnapshot>;
    type Loaded = Loaded;

    fn describe(&self) -> String {
        format!("me/conversations/{}/participants", self.conversation)
    }

    fn route_keys(&self) -> Vec<RouteKey> {
        vec![RouteKey::Conversation(self.conversation.clone())]
    }

    fn topics(&self) -> Vec<Topic> {
        vec![Topic::Participants {
            conversation: self.conversation.clone(),
        }]
    }

    fn load(
        &self,
        reason: LoadReason,
        scope: &mut Scope<'_>,
    ) -> LocalBoxFuture<'static, Result<Loaded, Error>> {
        // After a reconnect: back to the newest participant shown; otherwise the first window.
        let until = match reason {
            LoadReason::Resync if self.visible => match self.items.first() {
                Some(e) => {
                    let newest = key(&e.wire);
                    Until::Past(Box::new(move |w: &ParticipantWire| key(w) >= newest))
                }
                None => Until::Count(FIRST_WINDOW),
            },
            _ => Until::Count(FIRST_WINDOW),
        };
        let pages = fetch_pages(
            scope.env,
            self.operation(),
            self.route(),
            ListRequest::first_page(FIRST_WINDOW as u32),
            MAX_LOAD_MORE,
            until,
        );
        let cache = scope.env.cache.clone();
        let watcher = scope.watcher.clone();
        Box::pin(async move {
            let (wires, cursor) = match pages.await {
                Ok(p) => p,
                Err(e) if e.is_absent() => {
                    return Ok(Loaded {
                        visible: false,
                        wires: Vec::new(),
                        users: HashMap::new(),
                        cursor: None,
                    });
                }
                Err(e) => return Err(e),
            };
            let ids: Vec<String> = wires.iter().map(|w| w.id.clone()).collect();
            let users = cache.users(ids, Some(watcher)).await?;
            Ok(Loaded {
                visible: true,
                wires,
                users,
                cursor,
            })
        })
    }

    fn install(&mut self, loaded: Loaded, reason: LoadReason, _: &mut Scope<'_>) -> bool {
        if !loaded.visible {
            let was_null = self.snapshot.is_none();
            return self.hide() || was_null;
        }
        self.users.extend(loaded.users);
        let fetched: Vec<Entry> = loaded.wires.into_iter().map(|w| self.entry(w)).collect();
        if reason == LoadReason::Resync && self.visible && loaded.cursor.is_some() {
            // Reconcile: the fetched pages, then what was shown that is older than them.
            let ids: HashSet<&str> = fetched.iter().map(|e| e.wire.id.as_str()).collect();
            let boundary = fetched.last().map(|e| key(&e.wire));
            let older: Vec<Entry> = std::mem::take(&mut self.items)
                .into_iter()
                .filter(|e| {
                    !ids.contains(e.wire.id.as_str())
                        && boundary.as_ref().is_none_or(|b| key(&e.wire) > *b)
                })
                .collect();
            let kept_older = !older.is_empty();
            self.items = fetched;
            self.items.extend(older);
            if !kept_older {
                self.cursor = loaded.cursor;
            }
        } else {
            self.items = fetched;
            self.cursor = loaded.cursor;
        }
        self.visible = true;
        self.rebuild();
        true
    }

    fn on_event(&mut self, event: &Arc<Event>, scope: &mut Scope<'_>) -> Step<Self> {
        if event.conversation_id() != Some(self.conversation.as_str()) {
            return Step::Unchanged;
        }
        match &**event {
            Event::SideCreated(_) => Step::Reload,
            Event::SideDeleted(_) => {
                if self.hide() {
                    Step::Changed
                } else {
                    Step::Unchanged
                }
            }
            _ if !self.visible => Step::Unchanged,
            Event::ParticipantCreated(e) => {
                if self.items.iter().any(|x| x.wire.id == e.user_id) {
                    return Step::Unchanged;
                }
                if self.users.contains_key(&e.state.id) {
                    return if self.insert(e.state.clone()) {
                        self.rebuild();
                        Step::Changed
                    } else {
                        Step::Unchanged
                    };
                }
                let users = scope
                    .env
                    .cache
                    .users([e.state.id.clone()], Some(scope.watcher.clone()));
                let wire = e.state.clone();
                Step::Later(Box::pin(async move {
                    let users = users.await?;
                    let apply: Apply<ParticipantsKind> = Box::new(move |k, _| {
                        k.users.extend(users);
                        let changed = k.insert(wire);
                        if changed {
                            k.rebuild();
                        }
                        changed
                    });
                    Ok(apply)
                }))
            }
            Event::ParticipantEdited(e) => {
                let Some(entry) = self.items.iter_mut().find(|x| x.wire.id == e.user_id) else {
                    return Step::Unchanged;
                };
                entry.wire.apply(&e.diff);
                let Some(shown) = &entry.shown else {
                    return Step::Unchanged;
                };
                let mut next = (**shown).clone();
                next.apply(&e.diff);
                if next == **shown {
                    return Step::Unchanged;
                }
                entry.shown = Some(Arc::new(next));
                self.rebuild();
                Step::Changed
            }
            Event::ParticipantDeleted(e) => {
                let Some(at) = self.items.iter().position(|x| x.wire.id == e.user_id) else {
                    return Step::Unchanged;
                };
                let removed = self.items.remove(at);
                // Nobody else in this list is that user: stop watching them.
                self.users.remove(&removed.wire.id);
                scope.unwatch_user(&removed.wire.id);
                if removed.shown.is_none() {
                    return Step::Unchanged;
                }
                self.rebuild();
                Step::Changed
            }
            _ => Step::Unchanged,
        }
    }

    fn on_user(&mut self, user: &Arc<UserSnapshot>) -> bool {
        if self.users.get(&user.id) == Some(user) {
            return false;
        }
        let listed = self.items.iter().any(|e| e.wire.id == user.id);
        if !listed && !self.users.contains_key(&user.id) {
            return false;
        }
        self.users.insert(user.id.clone(), user.clone());
        let Some(entry) = self.items.iter_mut().find(|e| e.wire.id == user.id) else {
            return false;
        };
        entry.shown = Some(Arc::new(ParticipantSnapshot::from_wire(
            &entry.wire,
            user.clone(),
        )));
        self.rebuild();
        true
    }

    fn find(&self, lookup: &Lookup) -> Option<Found> {
        match lookup {
            Lookup::Participant { conversation, user } if *conversation == self.conversation => {
                self.items
                    .iter()
                    .find(|e| e.wire.id == *user)
                    .and_then(|e| e.shown.clone())
                    .map(Found::Participant)
            }
            _ => None,
        }
    }

    fn snapshot(&self) -> Self::Snapshot {
        self.snapshot.clone()
    }

    fn loaded_all(&self) -> bool {
        self.cursor.is_none()
    }

    fn max_load_more(&self) -> Option<usize> {
        Some(MAX_LOAD_MORE)
    }

    fn load_more(&mut self, target: usize, scope: &mut Scope<'_>) -> Option<Step<Self>> {
        let shown = self.shown_len();
        if !self.visible || shown >= target {
            return None;
        }
        let want = target - shown;
        let cursor = self.cursor.clone()?;
        let pages = fetch_pages(
            scope.env,
            self.operation(),
            self.route(),
            ListRequest::next_page(want as u32, cursor),
            MAX_LOAD_MORE,
            Until::Count(want),
        );
        let cache = scope.env.cache.clone();
        let watcher = scope.watcher.clone();
        Some(Step::Later(Box::pin(async move {
            let (wires, cursor): (Vec<ParticipantWire>, _) = pages.await?;
            let ids: Vec<String> = wires.iter().map(|w| w.id.clone()).collect();
            let users = cache.users(ids, Some(watcher)).await?;
            let apply: Apply<ParticipantsKind> = Box::new(move |k, _| {
                k.users.extend(users);
                for w in wires {
                    k.insert(w);
                }
                k.cursor = cursor;
                k.rebuild();
                true
            });
            Ok(apply)
        })))
    }
}
