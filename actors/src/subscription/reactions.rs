//! The users who reacted to a message with one emoji (`ReactionsRef::subscribe`): a window of
//! the oldest reactions, oldest first, that grows as people react and with `load_more`.
//!
//! - **Load**: `SUBSCRIBE /me/conversations/{c}/messages/{m}/reactions/{emoji}`, then `GET` of
//!   the oldest 30 (topped up at once after a short page with a cursor), then the users
//!   through the cache (watched, so a rename re-emits). `None` when the message does not exist
//!   or the current user is not a participant.
//! - **Events**: `reaction.added` joins the window, sorted by time, skipped if the user is
//!   shown already; `reaction.removed` removes. As in the official client, any
//!   `message.created` in the conversation refetches, and any `message.deleted` there (of this
//!   message or another), like `side.deleted`, shows `None`; `side.created` refetches. A
//!   reaction whose user does not exist is kept but not shown.
//! - **Refetches** (those events, and reconnects) ask for pages from the oldest until they reach
//!   the newest reaction shown, so the window keeps its extent and shows what changed meanwhile.

use std::collections::HashMap;
use std::sync::Arc;

use futures_util::future::LocalBoxFuture;
use talkjs_protocol::event::Event;
use talkjs_protocol::path::{Route, Topic};
use talkjs_protocol::request::ListRequest;
use talkjs_protocol::snapshot::{SingleReactionSnapshot, UserSnapshot};
use talkjs_protocol::wire::{Millis, ReactionUserWire};

use super::paging::{Until, fetch_pages};
use super::{Apply, Kind, ListSnapshot, LoadReason, Scope, Step};
use crate::error::Error;
use crate::live::RouteKey;

/// Reactions in the first window (the official client asks for 30).
pub const FIRST_WINDOW: usize = 30;
/// Largest page asked for at once (the server's limit).
pub const MAX_PAGE: usize = 100;

/// The list order: oldest first, ties by user id (the server's order).
fn key(w: &ReactionUserWire) -> (Millis, String) {
    (w.created_at, w.user_id.clone())
}

#[derive(Debug)]
struct Entry {
    wire: ReactionUserWire,
    /// `None` while the user does not exist.
    shown: Option<Arc<SingleReactionSnapshot>>,
}

/// See the module docs.
#[derive(Debug)]
pub struct ReactionsKind {
    conversation: String,
    message: String,
    emoji: String,
    visible: bool,
    /// In list order.
    items: Vec<Entry>,
    /// Where newer reactions continue; `None` when all are loaded.
    cursor: Option<String>,
    users: HashMap<String, Arc<UserSnapshot>>,
    snapshot: ListSnapshot<SingleReactionSnapshot>,
}

/// A load's result.
pub struct Loaded {
    visible: bool,
    wires: Vec<ReactionUserWire>,
    users: HashMap<String, Arc<UserSnapshot>>,
    cursor: Option<String>,
}

impl ReactionsKind {
    /// The reactions with `emoji` on `message` in `conversation`.
    pub fn new(
        conversation: impl Into<String>,
        message: impl Into<String>,
        emoji: impl Into<String>,
    ) -> ReactionsKind {
        ReactionsKind {
            conversation: conversation.into(),
            message: message.into(),
            emoji: emoji.into(),
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

    fn entry(&self, wire: ReactionUserWire) -> Entry {
        let shown = self
            .users
            .get(&wire.user_id)
            .map(|u| Arc::new(SingleReactionSnapshot::from_wire(&wire, u.clone())));
        Entry { wire, shown }
    }

    /// Inserts in list order; whether a shown reaction was added.
    fn insert(&mut self, wire: ReactionUserWire) -> bool {
        if self.items.iter().any(|e| e.wire.user_id == wire.user_id) {
            return false;
        }
        let k = key(&wire);
        let at = self.items.partition_point(|e| key(&e.wire) < k);
        let entry = self.entry(wire);
        let shown = entry.shown.is_some();
        self.items.insert(at, entry);
        shown
    }

    fn hide(&mut self) -> Step<Self> {
        let changed = self.snapshot.is_some();
        self.visible = false;
        self.items.clear();
        self.cursor = None;
        self.rebuild();
        if changed {
            Step::Changed
        } else {
            Step::Unchanged
        }
    }

    fn operation(&self) -> String {
        format!(
            "Get {} reactions on message {} in conversation {}",
            self.emoji, self.message, self.conversation
        )
    }

    fn route(&self) -> Route {
        Route::ListReactions {
            conversation: self.conversation.clone(),
            message: self.message.clone(),
            emoji: self.emoji.clone(),
        }
    }

    fn about_this(&self, message: &str, emoji: &str) -> bool {
        message == self.message && emoji == self.emoji
    }
}

impl Kind for ReactionsKind {
    type Snapshot = ListSnapshot<SingleReactionSnapshot>;
    type Loaded = Loaded;

    fn describe(&self) -> String {
        format!(
            "me/conversations/{}/messages/{}/reactions/{}",
            self.conversation, self.message, self.emoji
        )
    }

    fn route_keys(&self) -> Vec<RouteKey> {
        vec![RouteKey::Conversation(self.conversation.clone())]
    }

    fn topics(&self) -> Vec<Topic> {
        vec![Topic::Reactions {
            conversation: self.conversation.clone(),
            message: self.message.clone(),
            emoji: self.emoji.clone(),
        }]
    }

    fn load(
        &self,
        reason: LoadReason,
        scope: &mut Scope<'_>,
    ) -> LocalBoxFuture<'static, Result<Loaded, Error>> {
        // A refetch covers at least what is shown.
        let until = match (reason, self.items.last()) {
            (LoadReason::Initial, _) | (_, None) => Until::Count(FIRST_WINDOW),
            (_, Some(last)) => {
                let newest = key(&last.wire);
                Until::Past(Box::new(move |w: &ReactionUserWire| key(w) >= newest))
            }
        };
        let pages = fetch_pages(
            scope.env,
            self.operation(),
            self.route(),
            ListRequest::first_page(FIRST_WINDOW as u32),
            MAX_PAGE,
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
            let ids: Vec<String> = wires.iter().map(|w| w.user_id.clone()).collect();
            let users = if ids.is_empty() {
                HashMap::new()
            } else {
                cache.users(ids, Some(watcher)).await?
            };
            Ok(Loaded {
                visible: true,
                wires,
                users,
                cursor,
            })
        })
    }

    fn install(&mut self, loaded: Loaded, _: LoadReason, _: &mut Scope<'_>) -> bool {
        if !loaded.visible {
            self.hide();
            return true;
        }
        self.users.extend(loaded.users);
        self.items = loaded.wires.into_iter().map(|w| self.entry(w)).collect();
        self.cursor = loaded.cursor;
        self.visible = true;
        self.rebuild();
        true
    }

    fn on_event(&mut self, event: &Arc<Event>, scope: &mut Scope<'_>) -> Step<Self> {
        if event.conversation_id() != Some(self.conversation.as_str()) {
            return Step::Unchanged;
        }
        match &**event {
            Event::SideCreated(_) | Event::MessageCreated(_) => Step::Reload,
            // The official client empties every reaction list of the conversation whenever any
            // of its messages is deleted (docs/protocol.md §9); only this message's deletion
            // ends this list here.
            Event::MessageDeleted(e) if e.message_id == self.message => self.hide(),
            Event::SideDeleted(_) => self.hide(),
            _ if !self.visible => Step::Unchanged,
            Event::ReactionAdded(e) if self.about_this(&e.message_id, &e.emoji) => {
                if self.items.iter().any(|x| x.wire.user_id == e.user_id) {
                    return Step::Unchanged;
                }
                let wire = ReactionUserWire {
                    user_id: e.user_id.clone(),
                    created_at: e.created_at,
                };
                if self.users.contains_key(&e.user_id) {
                    return if self.insert(wire) {
                        self.rebuild();
                        Step::Changed
                    } else {
                        Step::Unchanged
                    };
                }
                let users = scope
                    .env
                    .cache
                    .users([e.user_id.clone()], Some(scope.watcher.clone()));
                Step::Later(Box::pin(async move {
                    let users = users.await?;
                    let apply: Apply<ReactionsKind> = Box::new(move |k, _| {
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
            Event::ReactionRemoved(e) if self.about_this(&e.message_id, &e.emoji) => {
                let Some(at) = self.items.iter().position(|x| x.wire.user_id == e.user_id) else {
                    return Step::Unchanged;
                };
                let removed = self.items.remove(at);
                // Nobody else in this list is that user: stop watching them.
                self.users.remove(&removed.wire.user_id);
                scope.unwatch_user(&removed.wire.user_id);
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
        let listed = self.items.iter().any(|e| e.wire.user_id == user.id);
        if !listed && !self.users.contains_key(&user.id) {
            return false;
        }
        self.users.insert(user.id.clone(), user.clone());
        let Some(entry) = self.items.iter_mut().find(|e| e.wire.user_id == user.id) else {
            return false;
        };
        entry.shown = Some(Arc::new(SingleReactionSnapshot::from_wire(
            &entry.wire,
            user.clone(),
        )));
        self.rebuild();
        true
    }

    fn snapshot(&self) -> Self::Snapshot {
        self.snapshot.clone()
    }

    fn loaded_all(&self) -> bool {
        self.cursor.is_none()
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
            ListRequest::next_page(want.min(MAX_PAGE) as u32, cursor),
            MAX_PAGE,
            Until::Count(want),
        );
        let cache = scope.env.cache.clone();
        let watcher = scope.watcher.clone();
        Some(Step::Later(Box::pin(async move {
            let (wires, cursor): (Vec<ReactionUserWire>, _) = pages.await?;
            let ids: Vec<String> = wires.iter().map(|w| w.user_id.clone()).collect();
            let users = if ids.is_empty() {
                HashMap::new()
            } else {
                cache.users(ids, Some(watcher)).await?
            };
            let apply: Apply<ReactionsKind> = Box::new(move |k, _| {
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
