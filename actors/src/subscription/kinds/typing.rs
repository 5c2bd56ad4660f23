//! Who is typing in a conversation (`ConversationRef::subscribe_typing`): a few users, oldest
//! typist first, or "many"; `None` while the current user is not a participant.
//!
//! - **Load**: `SUBSCRIBE /me/conversations/{c}/typing`, then `GET` of the typing state, then
//!   the typing users through the cache (watched, so a typist's rename re-emits).
//! - **Events**: `typing.available` replaces the state (also when it was `None`: that is how a
//!   user who just joined learns it); `typing.changed` applies its diff (ignored while `None`).
//!   `side.deleted` shows `None`. As in the official client, `side.created` does not refetch:
//!   the server follows a join with `typing.available`.
//! - A snapshot is emitted only when what it shows changes: another typist starting while
//!   "many" are typing emits nothing.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use futures_util::future::LocalBoxFuture;
use talkjs_protocol::event::Event;
use talkjs_protocol::path::{Route, Topic};
use talkjs_protocol::snapshot::{TypingSnapshot, UserSnapshot};
use talkjs_protocol::wire::TypingWire;

use crate::error::Error;
use crate::session::routes::RouteKey;
use crate::subscription::{Apply, Kind, LoadReason, Scope, Step};

/// See the module docs.
#[derive(Debug)]
pub struct TypingKind {
    conversation: String,
    wire: Option<TypingWire>,
    users: HashMap<String, Arc<UserSnapshot>>,
    /// Ids asked of the cache (users that do not exist are asked once; the cache tells the
    /// watcher if they are created).
    asked: HashSet<String>,
    snapshot: Option<Arc<TypingSnapshot>>,
}

/// A load's result: the typing state (`None`: not a participant) and its users.
pub struct Loaded {
    wire: Option<TypingWire>,
    asked: Vec<String>,
    users: HashMap<String, Arc<UserSnapshot>>,
}

fn typists(wire: &TypingWire) -> Vec<String> {
    match wire {
        TypingWire::Few(users) => users.keys().cloned().collect(),
        TypingWire::Many => Vec::new(),
    }
}

impl TypingKind {
    /// Who is typing in this conversation.
    pub fn new(conversation: impl Into<String>) -> TypingKind {
        TypingKind {
            conversation: conversation.into(),
            wire: None,
            users: HashMap::new(),
            asked: HashSet::new(),
            snapshot: None,
        }
    }

    /// Rebuilds the snapshot; true if it changed.
    fn rebuild(&mut self) -> bool {
        let next = self
            .wire
            .as_ref()
            .map(|w| TypingSnapshot::from_wire(w, |id| self.users.get(id).cloned()));
        if next.as_ref() == self.snapshot.as_deref() {
            return false;
        }
        self.snapshot = next.map(Arc::new);
        true
    }

    /// Shows `wire`, fetching the users it names first if they were never asked for.
    fn show(&mut self, wire: TypingWire, scope: &Scope<'_>) -> Step<Self> {
        let missing: Vec<String> = typists(&wire)
            .into_iter()
            .filter(|id| !self.asked.contains(id))
            .collect();
        if missing.is_empty() {
            self.wire = Some(wire);
            return if self.rebuild() {
                Step::Changed
            } else {
                Step::Unchanged
            };
        }
        let users = scope
            .env
            .cache
            .users(missing.clone(), Some(scope.watcher.clone()));
        Step::Later(Box::pin(async move {
            let users = users.await?;
            let apply: Apply<TypingKind> = Box::new(move |k, _| {
                k.asked.extend(missing);
                k.users.extend(users);
                k.wire = Some(wire);
                k.rebuild()
            });
            Ok(apply)
        }))
    }
}

impl Kind for TypingKind {
    type Snapshot = Option<Arc<TypingSnapshot>>;
    type Loaded = Loaded;

    fn describe(&self) -> String {
        format!("me/conversations/{}/typing", self.conversation)
    }

    fn route_keys(&self) -> Vec<RouteKey> {
        vec![RouteKey::Conversation(self.conversation.clone())]
    }

    fn topics(&self) -> Vec<Topic> {
        vec![Topic::Typing {
            conversation: self.conversation.clone(),
        }]
    }

    fn load(
        &self,
        _reason: LoadReason,
        scope: &mut Scope<'_>,
    ) -> LocalBoxFuture<'static, Result<Loaded, Error>> {
        let route = Route::GetTyping {
            conversation: self.conversation.clone(),
        };
        let op = format!("Get typing users of conversation {}", self.conversation);
        let typing = scope
            .env
            .call::<_, TypingWire>(op, &route, &serde_json::json!({}));
        let cache = scope.env.cache.clone();
        let watcher = scope.watcher.clone();
        Box::pin(async move {
            let wire = match typing.await {
                Ok(w) => w,
                Err(e) if e.is_absent() => {
                    return Ok(Loaded {
                        wire: None,
                        asked: Vec::new(),
                        users: HashMap::new(),
                    });
                }
                Err(e) => return Err(e),
            };
            let asked = typists(&wire);
            let users = if asked.is_empty() {
                HashMap::new()
            } else {
                cache.users(asked.clone(), Some(watcher)).await?
            };
            Ok(Loaded {
                wire: Some(wire),
                asked,
                users,
            })
        })
    }

    fn install(&mut self, loaded: Loaded, _: LoadReason, _: &mut Scope<'_>) -> bool {
        self.asked.extend(loaded.asked);
        self.users.extend(loaded.users);
        self.wire = loaded.wire;
        self.rebuild()
    }

    fn on_event(&mut self, event: &Arc<Event>, scope: &mut Scope<'_>) -> Step<Self> {
        if event.conversation_id() != Some(self.conversation.as_str()) {
            return Step::Unchanged;
        }
        match &**event {
            Event::SideDeleted(_) => {
                self.wire = None;
                if self.rebuild() {
                    Step::Changed
                } else {
                    Step::Unchanged
                }
            }
            Event::TypingAvailable(e) => self.show(e.state.clone(), scope),
            Event::TypingChanged(e) => {
                let Some(current) = &self.wire else {
                    return Step::Unchanged;
                };
                let mut next = current.clone();
                next.apply(&e.diff);
                if next == *current {
                    return Step::Unchanged;
                }
                self.show(next, scope)
            }
            _ => Step::Unchanged,
        }
    }

    fn on_user(&mut self, user: &Arc<UserSnapshot>) -> bool {
        if !self.asked.contains(&user.id) || self.users.get(&user.id) == Some(user) {
            return false;
        }
        self.users.insert(user.id.clone(), user.clone());
        self.rebuild()
    }

    fn snapshot(&self) -> Self::Snapshot {
        self.snapshot.clone()
    }
}
