//! A conversation's messages (`ConversationRef::subscribe_messages`): a window of the newest
//! messages, newest first, that grows with new messages and with `load_more`.
//!
//! - **Load**: `SUBSCRIBE /me/conversations/{c}/messages`, then `GET` of the newest 30; a short
//!   page with a cursor is topped up at once, as the official client does. Not being a
//!   participant shows `None` until the user joins (`side.created` reloads).
//! - **Events**: `message.created` joins the window unless it is older than the window's oldest
//!   message while older ones remain unloaded; ids already shown are skipped (creations are
//!   idempotent). `message.edited` patches; `message.deleted` removes, forgets replies'
//!   reference to it, and shows `newLastMessage` if the window became empty.
//!   `conversation.cleared` empties it; `side.deleted` shows `None`.
//! - **Reconnect**: pages are fetched from the newest until they overlap what is shown; the
//!   window becomes those pages plus the shown messages older than them. Messages sent while
//!   the socket was down fill the gap, messages deleted meanwhile disappear, nothing repeats.
//! - **Changes** are applied by the [`MessageWindow`] in O(log n) each, and recorded for
//!   listeners of changes; with a bound (`max_window`, a Rust addition) the oldest messages
//!   leave as new ones arrive, and `load_more` refetches from the newest up to the bound.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use futures_util::future::LocalBoxFuture;
use talkjs_protocol::event::Event;
use talkjs_protocol::path::{Route, Topic};
use talkjs_protocol::request::ListRequest;
use talkjs_protocol::snapshot::{MessageSnapshot, ReferencedMessageSnapshot, UserSnapshot};

use super::message_window::MessageWindow;
use crate::subscription::VectorDiff;
use crate::subscription::diffs::Change;
use talkjs_protocol::wire::{MessageWire, Millis, Page};

use crate::subscription::hydrate::{self, Hydrated};

use crate::cache::Watcher;
use crate::error::Error;
use crate::session::routes::{Found, Lookup, RouteKey};
use crate::subscription::{Apply, Env, Kind, ListSnapshot, LoadReason, Scope, Step};

/// Messages in the first window (official client: 30).
pub const FIRST_WINDOW: usize = 30;
/// Largest page asked for at once, and the largest `load_more` (official client: 100).
pub const MAX_PAGE: usize = 100;

/// See the module docs.
#[derive(Debug)]
pub struct MessagesKind {
    conversation: Box<str>,
    first_window: u32,
    /// The messages shown, newest first.
    window: MessageWindow,
    /// Where older messages continue; `None` when all are loaded.
    cursor: Option<Box<str>>,
    /// The senders shown, by id (looked up for every new message: a fast hasher).
    users: foldhash::HashMap<String, Arc<UserSnapshot>>,
}

/// A load's result.
pub struct Loaded {
    visible: bool,
    hydrated: Option<Hydrated>,
    cursor: Option<String>,
}

impl MessagesKind {
    /// The messages of this conversation, starting with the newest `first_window`.
    pub fn new(conversation: impl Into<String>, first_window: usize) -> MessagesKind {
        MessagesKind {
            conversation: conversation.into().into_boxed_str(),
            first_window: u32::try_from(first_window).unwrap_or(u32::MAX).max(1),
            window: MessageWindow::default(),
            cursor: None,
            users: foldhash::HashMap::default(),
        }
    }

    /// Shows at most `max` messages, the newest (`None`: all that are loaded, as the official
    /// client does).
    pub fn with_max_window(mut self, max: Option<usize>) -> MessagesKind {
        self.window = MessageWindow::with_max(max);
        self
    }

    fn local_refs(&self, wires: &[MessageWire]) -> HashMap<String, Arc<ReferencedMessageSnapshot>> {
        wires
            .iter()
            .filter_map(|w| w.referenced_message_id.as_ref())
            .filter_map(|id| Some((id.clone(), self.window.referenced(id)?)))
            .collect()
    }

    fn oldest(&self) -> Option<Millis> {
        self.window.oldest().map(|m| m.created_at)
    }

    fn hydrate_later(
        &self,
        wires: Vec<MessageWire>,
        scope: &Scope<'_>,
    ) -> LocalBoxFuture<'static, Result<Hydrated, Error>> {
        let local = self.local_refs(&wires);
        Box::pin(hydrate::messages(
            scope.env.clone(),
            hydrate::Fetch::Watched(scope.watcher.clone()),
            self.conversation.to_string(),
            wires,
            local,
        ))
    }

    /// Builds a message at once if everything it shows is known here.
    fn hydrate_now(&self, w: &MessageWire) -> Option<Arc<MessageSnapshot>> {
        let sender = match &w.sender_id {
            Some(id) => Some(self.users.get(id)?.clone()),
            None => None,
        };
        let reference = match &w.referenced_message_id {
            Some(id) => Some(self.window.referenced(id)?),
            None => None,
        };
        Some(Arc::new(MessageSnapshot::from_wire(w, sender, reference)))
    }
}

/// Fetches pages of a conversation's messages, newest first, from `first` (sent now, so it
/// follows anything sent before on the wire): `want` of them, or back to the message created at
/// `stop_at` (a reconnect's reconciliation). Each page is hydrated as it arrives, while the next
/// one is fetched, as the official client does when it tops up a short first page.
fn fetch_messages(
    env: &Env,
    watcher: &Watcher,
    conversation: &str,
    first: ListRequest,
    want: usize,
    stop_at: Option<Millis>,
) -> LocalBoxFuture<'static, Result<(Hydrated, Option<String>), Error>> {
    let page = env.call::<_, Page<MessageWire>>(
        operation(conversation),
        &Route::ListMessages {
            conversation: conversation.to_owned(),
        },
        &first,
    );
    let pages = PageChain {
        env: env.clone(),
        watcher: watcher.clone(),
        conversation: conversation.to_owned(),
        want,
        stop_at,
    };
    Box::pin(async move { pages.from(page.await?, 0).await })
}

fn operation(conversation: &str) -> String {
    format!("Get messages of conversation {conversation}")
}

/// What [`fetch_messages`] needs as it follows cursors.
#[derive(Clone)]
struct PageChain {
    env: Env,
    watcher: Watcher,
    conversation: String,
    want: usize,
    stop_at: Option<Millis>,
}

impl PageChain {
    /// Hydrates `page` while fetching (and hydrating) the pages after it; `before` items came
    /// before it.
    fn from(
        self,
        page: Page<MessageWire>,
        before: usize,
    ) -> LocalBoxFuture<'static, Result<(Hydrated, Option<String>), Error>> {
        let got = page.data.len();
        let fetched = before + got;
        let need = match self.stop_at {
            _ if got == 0 => 0,
            Some(t) if page.data.last().is_some_and(|m| m.created_at <= t) => 0,
            Some(_) => MAX_PAGE,
            None => self.want.saturating_sub(fetched).min(MAX_PAGE),
        };
        let this = hydrate::messages(
            self.env.clone(),
            hydrate::Fetch::Watched(self.watcher.clone()),
            self.conversation.to_string(),
            page.data,
            HashMap::new(),
        );
        let cursor = match page.cursor {
            Some(c) if need > 0 => c,
            cursor => return Box::pin(async move { Ok((this.await?, cursor)) }),
        };
        // The next page is asked for now, before this page's senders.
        let next = self.env.call::<_, Page<MessageWire>>(
            operation(&self.conversation),
            &Route::ListMessages {
                conversation: self.conversation.to_string(),
            },
            &ListRequest::next_page(need as u32, cursor),
        );
        let rest = async move { self.from(next.await?, fetched).await };
        Box::pin(async move {
            let (this, rest) = futures_util::future::join(this, rest).await;
            let (mut this, (rest, cursor)) = (this?, rest?);
            this.messages.extend(rest.messages);
            this.users.extend(rest.users);
            Ok((this, cursor))
        })
    }
}

impl Kind for MessagesKind {
    type Snapshot = ListSnapshot<MessageSnapshot>;
    type Loaded = Loaded;

    fn describe(&self) -> String {
        format!("me/conversations/{}/messages", self.conversation)
    }

    fn route_keys(&self) -> Vec<RouteKey> {
        vec![RouteKey::Conversation(self.conversation.to_string())]
    }

    fn topics(&self) -> Vec<Topic> {
        vec![Topic::Messages {
            conversation: self.conversation.to_string(),
        }]
    }

    fn load(
        &self,
        reason: LoadReason,
        scope: &mut Scope<'_>,
    ) -> LocalBoxFuture<'static, Result<Loaded, Error>> {
        let env = scope.env.clone();
        let watcher: Watcher = scope.watcher.clone();
        let conversation = self.conversation.to_string();
        // After a reconnect: back to what is shown; otherwise the first window.
        // A complete window (nothing older left) stays complete: with nothing shown yet, every
        // message sent while the socket was down belongs in it.
        let stop_at = match reason {
            LoadReason::Resync if self.window.visible() => match self.window.newest() {
                Some(m) => Some(m.created_at),
                None if self.loaded_all() => Some(Millis::MIN),
                None => None,
            },
            _ => None,
        };
        let want = self.first_window as usize;
        let first = ListRequest::first_page(want.min(MAX_PAGE) as u32);
        // The first page is requested now, so it follows the SUBSCRIBE on the wire.
        let pages = fetch_messages(&env, &watcher, &conversation, first, want, stop_at);
        Box::pin(async move {
            let (hydrated, cursor) = match pages.await {
                Ok(p) => p,
                Err(e) if e.is_absent() => {
                    return Ok(Loaded {
                        visible: false,
                        hydrated: None,
                        cursor: None,
                    });
                }
                Err(e) => return Err(e),
            };
            Ok(Loaded {
                visible: true,
                hydrated: Some(hydrated),
                cursor,
            })
        })
    }

    fn install(&mut self, loaded: Loaded, reason: LoadReason, _: &mut Scope<'_>) -> bool {
        let Some(h) = loaded.hydrated.filter(|_| loaded.visible) else {
            self.window.hide();
            self.cursor = None;
            return true;
        };
        self.users.extend(h.users);
        let fetched = h.messages;
        if reason == LoadReason::Resync && self.window.visible() && loaded.cursor.is_some() {
            // Reconcile: the fetched pages, then what was shown that is older than them.
            let ids: HashSet<&str> = fetched.iter().map(|m| m.id.as_str()).collect();
            let boundary = fetched.last().map_or(Millis::MAX, |m| m.created_at);
            let older: Vec<Arc<MessageSnapshot>> = self
                .window
                .iter()
                .filter(|m| m.created_at <= boundary && !ids.contains(m.id.as_str()))
                .cloned()
                .collect();
            let kept_older = !older.is_empty();
            let mut items = fetched;
            items.extend(older);
            self.window.reset(items);
            if !kept_older {
                self.cursor = loaded.cursor.map(String::into_boxed_str);
            }
        } else {
            self.window.reset(fetched);
            self.cursor = loaded.cursor.map(String::into_boxed_str);
        }
        true
    }

    fn on_event(&mut self, event: &Arc<Event>, scope: &mut Scope<'_>) -> Step<Self> {
        let mine = event.conversation_id() == Some(&*self.conversation);
        if !mine {
            return Step::Unchanged;
        }
        match &**event {
            Event::SideCreated(_) => Step::Reload,
            Event::SideDeleted(_) => {
                if !self.window.visible() {
                    return Step::Unchanged;
                }
                self.window.hide();
                self.cursor = None;
                Step::Changed
            }
            _ if !self.window.visible() => Step::Unchanged,
            Event::ConversationCleared(_) => {
                self.window.clear();
                self.cursor = None;
                Step::Changed
            }
            Event::MessageCreated(e) => {
                let w = &e.state;
                if self.window.contains(&w.id) {
                    return Step::Unchanged;
                }
                if !self.loaded_all() && self.oldest().is_some_and(|t| w.created_at < t) {
                    return Step::Unchanged;
                }
                if let Some(m) = self.hydrate_now(w) {
                    self.window.insert(m);
                    return Step::Changed;
                }
                let work = self.hydrate_later(vec![w.clone()], scope);
                Step::Later(Box::pin(async move {
                    let h = work.await?;
                    let apply: Apply<MessagesKind> = Box::new(move |k, _| {
                        k.users.extend(h.users);
                        let mut changed = false;
                        for m in h.messages {
                            changed |= k.window.insert(m);
                        }
                        changed
                    });
                    Ok(apply)
                }))
            }
            Event::MessageEdited(e) => {
                if self.window.edit(&e.message_id, &e.diff) {
                    Step::Changed
                } else {
                    Step::Unchanged
                }
            }
            Event::MessageDeleted(e) => {
                let changed = self.window.delete(&e.message_id);
                if self.window.len() == 0
                    && let Some(last) = &e.new_last_message
                {
                    let work = self.hydrate_later(vec![last.clone()], scope);
                    return Step::Later(Box::pin(async move {
                        let h = work.await?;
                        let apply: Apply<MessagesKind> = Box::new(move |k, _| {
                            k.users.extend(h.users);
                            for m in h.messages {
                                k.window.insert(m);
                            }
                            true
                        });
                        Ok(apply)
                    }));
                }
                if changed {
                    Step::Changed
                } else {
                    Step::Unchanged
                }
            }
            _ => Step::Unchanged,
        }
    }

    fn on_user(&mut self, user: &Arc<UserSnapshot>) -> bool {
        match self.users.get(&user.id) {
            Some(known) if known == user => return false,
            Some(_) => {}
            None => return false,
        }
        self.users.insert(user.id.clone(), user.clone());
        self.window.on_user(user)
    }

    fn find(&self, lookup: &Lookup) -> Option<Found> {
        match lookup {
            Lookup::Message {
                conversation,
                message,
            } if **conversation == *self.conversation && self.window.visible() => {
                self.window.get(message).map(|m| Found::Message(m.clone()))
            }
            _ => None,
        }
    }

    fn snapshot(&self) -> Self::Snapshot {
        self.window.snapshot()
    }

    fn take_change(&mut self) -> Change<VectorDiff<Arc<MessageSnapshot>>> {
        self.window.take_change()
    }

    fn loaded_all(&self) -> bool {
        self.cursor.is_none() && !self.window.trimmed()
    }

    fn max_load_more(&self) -> Option<usize> {
        Some(MAX_PAGE)
    }

    fn load_more(&mut self, target: usize, scope: &mut Scope<'_>) -> Option<Step<Self>> {
        let target = self.window.max().map_or(target, |max| target.min(max));
        if !self.window.visible() || self.window.len() >= target {
            return None;
        }
        // Older messages that left a bounded window took their cursor with them: fetch from
        // the newest again, and show what comes. Otherwise continue from the cursor.
        let refetch = self.window.trimmed();
        let (first, want) = if refetch {
            (ListRequest::first_page(target.min(MAX_PAGE) as u32), target)
        } else {
            let want = target - self.window.len();
            let cursor = self.cursor.as_deref()?.to_owned();
            (
                ListRequest::next_page(want.min(MAX_PAGE) as u32, cursor),
                want,
            )
        };
        let pages = fetch_messages(
            scope.env,
            scope.watcher,
            &self.conversation,
            first,
            want,
            None,
        );
        Some(Step::Later(Box::pin(async move {
            let (h, cursor) = pages.await?;
            let apply: Apply<MessagesKind> = Box::new(move |k, _| {
                k.users.extend(h.users);
                if refetch {
                    k.window.reset(h.messages);
                } else {
                    k.window.append_older(h.messages);
                }
                k.cursor = cursor.map(String::into_boxed_str);
                true
            });
            Ok(apply)
        })))
    }
}
