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
use std::collections::HashSet;
use std::sync::Arc;

use futures_util::future::LocalBoxFuture;
use talkjs_protocol::event::Event;
use talkjs_protocol::path::{Route, Topic};
use talkjs_protocol::request::ListRequest;
use talkjs_protocol::snapshot::{ParticipantSnapshot, UserSnapshot};
use talkjs_protocol::wire::{Millis, ParticipantWire};

use super::user_list::{self, Entry, HasUserList, Loaded, UserItem, UserList};
use crate::error::Error;
use crate::session::routes::{Found, Lookup, RouteKey};
use crate::subscription::paging::{Until, fetch_pages};
use crate::subscription::{Kind, ListSnapshot, LoadReason, Scope, Step};

/// Participants in the first window (official client: 10).
pub const FIRST_WINDOW: usize = 10;
/// Largest `load_more` count (official client: 50); also the largest page asked for.
pub const MAX_LOAD_MORE: usize = 50;

impl UserItem for ParticipantWire {
    type Shown = ParticipantSnapshot;
    /// Newest joined first, ties by user id (the server's order).
    type Key = (Reverse<Millis>, String);

    fn user_id(&self) -> &str {
        &self.id
    }

    fn key(&self) -> Self::Key {
        (Reverse(self.joined_at), self.id.clone())
    }

    fn show(&self, user: Arc<UserSnapshot>) -> ParticipantSnapshot {
        ParticipantSnapshot::from_wire(self, user)
    }
}

/// See the module docs.
#[derive(Debug)]
pub struct ParticipantsKind {
    conversation: String,
    list: UserList<ParticipantWire>,
}

impl ParticipantsKind {
    /// The participants of this conversation.
    pub fn new(conversation: impl Into<String>) -> ParticipantsKind {
        ParticipantsKind {
            conversation: conversation.into(),
            list: UserList::default(),
        }
    }

    fn page(&self) -> (String, Route) {
        (
            format!("Get participants of conversation {}", self.conversation),
            Route::ListParticipants {
                conversation: self.conversation.clone(),
            },
        )
    }
}

impl HasUserList<ParticipantWire> for ParticipantsKind {
    fn list(&mut self) -> &mut UserList<ParticipantWire> {
        &mut self.list
    }
}

impl Kind for ParticipantsKind {
    type Snapshot = ListSnapshot<ParticipantSnapshot>;
    type Loaded = Loaded<ParticipantWire>;

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
    ) -> LocalBoxFuture<'static, Result<Self::Loaded, Error>> {
        // After a reconnect: back to the newest participant shown; otherwise the first window.
        let until = match reason {
            LoadReason::Resync if self.list.visible => match self.list.items.first() {
                Some(e) => {
                    let newest = e.wire.key();
                    Until::Past(Box::new(move |w: &ParticipantWire| w.key() >= newest))
                }
                None => Until::Count(FIRST_WINDOW),
            },
            _ => Until::Count(FIRST_WINDOW),
        };
        let (operation, route) = self.page();
        let pages = fetch_pages(
            scope.env,
            operation,
            route,
            ListRequest::first_page(FIRST_WINDOW as u32),
            MAX_LOAD_MORE,
            until,
        );
        user_list::load(pages, scope)
    }

    fn install(&mut self, loaded: Self::Loaded, reason: LoadReason, _: &mut Scope<'_>) -> bool {
        let list = &mut self.list;
        if !loaded.visible {
            let was_null = !list.shown.visible();
            return list.hide() || was_null;
        }
        if !(reason == LoadReason::Resync && list.visible && loaded.cursor.is_some()) {
            list.install(loaded);
            return true;
        }
        // Reconcile: the fetched pages, then what was shown that is older than them.
        list.users.extend(loaded.users);
        let fetched: Vec<Entry<ParticipantWire>> =
            loaded.wires.into_iter().map(|w| list.entry(w)).collect();
        let ids: HashSet<&str> = fetched.iter().map(|e| e.wire.id.as_str()).collect();
        let boundary = fetched.last().map(|e| e.wire.key());
        let older: Vec<Entry<ParticipantWire>> = std::mem::take(&mut list.items)
            .into_iter()
            .filter(|e| {
                !ids.contains(e.wire.id.as_str())
                    && boundary.as_ref().is_none_or(|b| e.wire.key() > *b)
            })
            .collect();
        let kept_older = !older.is_empty();
        list.items = fetched;
        list.items.extend(older);
        if !kept_older {
            list.cursor = loaded.cursor;
        }
        list.visible = true;
        list.rebuild();
        true
    }

    fn on_event(&mut self, event: &Arc<Event>, scope: &mut Scope<'_>) -> Step<Self> {
        if event.conversation_id() != Some(self.conversation.as_str()) {
            return Step::Unchanged;
        }
        let list = &mut self.list;
        match &**event {
            Event::SideCreated(_) => Step::Reload,
            Event::SideDeleted(_) => {
                if list.hide() {
                    Step::Changed
                } else {
                    Step::Unchanged
                }
            }
            _ if !list.visible => Step::Unchanged,
            Event::ParticipantCreated(e) => list.add(e.state.clone(), scope),
            Event::ParticipantEdited(e) => {
                let Some(entry) = list.items.iter_mut().find(|x| x.wire.id == e.user_id) else {
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
                list.rebuild();
                Step::Changed
            }
            Event::ParticipantDeleted(e) => list.remove(&e.user_id, scope),
            _ => Step::Unchanged,
        }
    }

    fn on_user(&mut self, user: &Arc<UserSnapshot>) -> bool {
        self.list.on_user(user)
    }

    fn find(&self, lookup: &Lookup) -> Option<Found> {
        match lookup {
            Lookup::Participant { conversation, user } if *conversation == self.conversation => {
                self.list
                    .find(user)
                    .and_then(|e| e.shown.clone())
                    .map(Found::Participant)
            }
            _ => None,
        }
    }

    fn snapshot(&self) -> Self::Snapshot {
        self.list.shown.snapshot()
    }

    fn take_change(
        &mut self,
    ) -> crate::subscription::diffs::Change<<Self::Snapshot as crate::subscription::Observed>::Diff>
    {
        self.list.shown.take()
    }

    fn loaded_all(&self) -> bool {
        self.list.cursor.is_none()
    }

    fn max_load_more(&self) -> Option<usize> {
        Some(MAX_LOAD_MORE)
    }

    fn default_load_more(&self) -> usize {
        FIRST_WINDOW
    }

    fn load_more(&mut self, target: usize, scope: &mut Scope<'_>) -> Option<Step<Self>> {
        self.list
            .load_more(target, self.page(), MAX_LOAD_MORE, scope)
    }
}
