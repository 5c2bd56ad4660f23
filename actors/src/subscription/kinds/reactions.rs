//! The users who reacted to a message with one emoji (`ReactionsRef::subscribe`): a window of
//! the oldest reactions, oldest first, that grows as people react and with `load_more`.
//!
//! - **Load**: `SUBSCRIBE /me/conversations/{c}/messages/{m}/reactions/{emoji}`, then `GET` of
//!   the oldest 30 (topped up at once after a short page with a cursor), then the users
//!   through the cache (watched, so a rename re-emits). `None` when the message does not exist
//!   or the current user is not a participant.
//! - **Events**: `reaction.added` joins the window, sorted by time, skipped if the user is
//!   shown already; `reaction.removed` removes. As in the official client, any
//!   `message.created` in the conversation refetches, and so does `side.created`. The deletion
//!   of this message, like `side.deleted`, shows `None` (the official client also empties the
//!   list when another message is deleted; docs/protocol.md §13). A reaction whose user does
//!   not exist is kept but not shown.
//! - **Refetches** (those events, and reconnects) ask for pages from the oldest until they reach
//!   the newest reaction shown, so the window keeps its extent and shows what changed meanwhile.

use std::sync::Arc;

use futures_util::future::LocalBoxFuture;
use talkjs_protocol::event::Event;
use talkjs_protocol::path::{Route, Topic};
use talkjs_protocol::request::ListRequest;
use talkjs_protocol::snapshot::{SingleReactionSnapshot, UserSnapshot};
use talkjs_protocol::wire::{Millis, ReactionUserWire};

use super::user_list::{self, HasUserList, Loaded, UserItem, UserList};
use crate::error::Error;
use crate::session::routes::RouteKey;
use crate::subscription::paging::{Until, fetch_pages};
use crate::subscription::{Kind, ListSnapshot, LoadReason, Scope, Step};

/// Reactions in the first window (the official client asks for 30).
pub const FIRST_WINDOW: usize = 30;
/// Largest page asked for at once (the server's limit).
pub const MAX_PAGE: usize = 100;

impl UserItem for ReactionUserWire {
    type Shown = SingleReactionSnapshot;
    /// Oldest first, ties by user id (the server's order).
    type Key = (Millis, String);

    fn user_id(&self) -> &str {
        &self.user_id
    }

    fn key(&self) -> Self::Key {
        (self.created_at, self.user_id.clone())
    }

    fn show(&self, user: Arc<UserSnapshot>) -> SingleReactionSnapshot {
        SingleReactionSnapshot::from_wire(self, user)
    }
}

/// See the module docs.
#[derive(Debug)]
pub struct ReactionsKind {
    conversation: String,
    message: String,
    emoji: String,
    list: UserList<ReactionUserWire>,
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
            list: UserList::default(),
        }
    }

    fn hide(&mut self) -> Step<Self> {
        if self.list.hide() {
            Step::Changed
        } else {
            Step::Unchanged
        }
    }

    fn page(&self) -> (String, Route) {
        (
            format!(
                "Get {} reactions on message {} in conversation {}",
                self.emoji, self.message, self.conversation
            ),
            Route::ListReactions {
                conversation: self.conversation.clone(),
                message: self.message.clone(),
                emoji: self.emoji.clone(),
            },
        )
    }

    fn about_this(&self, message: &str, emoji: &str) -> bool {
        message == self.message && emoji == self.emoji
    }
}

impl HasUserList<ReactionUserWire> for ReactionsKind {
    fn list(&mut self) -> &mut UserList<ReactionUserWire> {
        &mut self.list
    }
}

impl Kind for ReactionsKind {
    type Snapshot = ListSnapshot<SingleReactionSnapshot>;
    type Loaded = Loaded<ReactionUserWire>;

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
    ) -> LocalBoxFuture<'static, Result<Self::Loaded, Error>> {
        // The first load is one page, even a short one with a cursor (the official client does
        // not top up a reaction list as it does a message list). A refetch covers at least what
        // is shown.
        let until = match (reason, self.list.items.last()) {
            (LoadReason::Initial, _) | (_, None) => Until::Count(0),
            (_, Some(last)) => {
                let newest = last.wire.key();
                Until::Past(Box::new(move |w: &ReactionUserWire| w.key() >= newest))
            }
        };
        let (operation, route) = self.page();
        let pages = fetch_pages(
            scope.env,
            operation,
            route,
            ListRequest::first_page(FIRST_WINDOW as u32),
            MAX_PAGE,
            until,
        );
        user_list::load(pages, scope)
    }

    fn install(&mut self, loaded: Self::Loaded, _: LoadReason, _: &mut Scope<'_>) -> bool {
        if loaded.visible {
            self.list.install(loaded);
        } else {
            self.list.hide();
        }
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
            _ if !self.list.visible => Step::Unchanged,
            Event::ReactionAdded(e) if self.about_this(&e.message_id, &e.emoji) => {
                let wire = ReactionUserWire {
                    user_id: e.user_id.clone(),
                    created_at: e.created_at,
                };
                self.list.add(wire, scope)
            }
            Event::ReactionRemoved(e) if self.about_this(&e.message_id, &e.emoji) => {
                self.list.remove(&e.user_id, scope)
            }
            _ => Step::Unchanged,
        }
    }

    fn on_user(&mut self, user: &Arc<UserSnapshot>) -> bool {
        self.list.on_user(user)
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

    fn load_more(&mut self, target: usize, scope: &mut Scope<'_>) -> Option<Step<Self>> {
        self.list.load_more(target, self.page(), MAX_PAGE, scope)
    }
}
