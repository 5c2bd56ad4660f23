//! What the participants list and a reaction's user list share: a windowed list of items keyed
//! by user, each shown with its user's live snapshot, in the list's own order.
//!
//! [`UserList`] holds the state (the items, the users they show, the cursor, the built
//! snapshot) and the operations that do not depend on which list it is: adding an item (fetching
//! its user first when needed), removing one (and unwatching its user), a user edit, hiding the
//! list, loading a page and loading more. The kinds keep what differs: their routes, their
//! events, and how a reload reconciles.

use std::collections::HashMap;
use std::sync::Arc;

use futures_util::future::LocalBoxFuture;
use talkjs_protocol::path::Route;
use talkjs_protocol::request::ListRequest;
use talkjs_protocol::snapshot::UserSnapshot;

use crate::error::Error;
use crate::subscription::paging::{Pages, Until, fetch_pages};
use crate::subscription::tracked::Tracked;
use crate::subscription::{Apply, Kind, Scope, Step};

/// An item of a list keyed by user (a participant, a reaction).
pub trait UserItem: Clone + 'static {
    /// What the list shows for it.
    type Shown: PartialEq + Send + Sync + 'static;
    /// The list order (ascending).
    type Key: Ord;
    /// Whose item it is.
    fn user_id(&self) -> &str;
    /// Its place in the list.
    fn key(&self) -> Self::Key;
    /// It shown with its user.
    fn show(&self, user: Arc<UserSnapshot>) -> Self::Shown;
}

/// A kind built on a [`UserList`].
pub trait HasUserList<W: UserItem>: Kind {
    /// The kind's list.
    fn list(&mut self) -> &mut UserList<W>;
}

/// An item, and how it is shown (`None` while its user does not exist).
#[derive(Debug)]
pub struct Entry<W: UserItem> {
    pub(crate) wire: W,
    pub(crate) shown: Option<Arc<W::Shown>>,
}

/// A load's result.
pub struct Loaded<W> {
    pub(crate) visible: bool,
    pub(crate) wires: Vec<W>,
    pub(crate) users: HashMap<String, Arc<UserSnapshot>>,
    pub(crate) cursor: Option<String>,
}

/// See the module docs.
#[derive(Debug)]
pub struct UserList<W: UserItem> {
    pub(crate) visible: bool,
    /// In list order.
    pub(crate) items: Vec<Entry<W>>,
    /// Where the list continues; `None` when all are loaded.
    pub(crate) cursor: Option<String>,
    pub(crate) users: HashMap<String, Arc<UserSnapshot>>,
    /// What the list shows, with its changes since the last snapshot.
    pub(crate) shown: Tracked<W::Shown>,
}

impl<W: UserItem> Default for UserList<W> {
    fn default() -> Self {
        UserList {
            visible: false,
            items: Vec::new(),
            cursor: None,
            users: HashMap::new(),
            shown: Tracked::default(),
        }
    }
}

impl<W: UserItem> UserList<W> {
    /// Shows the items again. The windows are small (10 or 30, growing by `load_more`): the
    /// list is rebuilt whole and the change found by comparing.
    pub(crate) fn rebuild(&mut self) {
        if self.visible {
            let shown = self.items.iter().filter_map(|e| e.shown.clone()).collect();
            self.shown.replace(shown);
        } else {
            self.shown.set_visible(false);
        }
    }

    pub(crate) fn shown_len(&self) -> usize {
        self.shown.len()
    }

    pub(crate) fn entry(&self, wire: W) -> Entry<W> {
        let shown = self
            .users
            .get(wire.user_id())
            .map(|u| Arc::new(wire.show(u.clone())));
        Entry { wire, shown }
    }

    pub(crate) fn find(&self, user: &str) -> Option<&Entry<W>> {
        self.items.iter().find(|e| e.wire.user_id() == user)
    }

    /// Inserts in list order; whether a shown item was added (false if the user is there
    /// already, or has no user to show).
    pub(crate) fn insert(&mut self, wire: W) -> bool {
        if self.find(wire.user_id()).is_some() {
            return false;
        }
        let k = wire.key();
        let at = self.items.partition_point(|e| e.wire.key() < k);
        let entry = self.entry(wire);
        let shown = entry.shown.is_some();
        self.items.insert(at, entry);
        shown
    }

    /// Empties the list and shows `None`; whether that changed the snapshot.
    pub(crate) fn hide(&mut self) -> bool {
        let changed = self.shown.visible();
        self.visible = false;
        self.items.clear();
        self.cursor = None;
        self.rebuild();
        changed
    }

    /// Installs a plain (not reconciled) load.
    pub(crate) fn install(&mut self, loaded: Loaded<W>) {
        self.users.extend(loaded.users);
        self.items = loaded.wires.into_iter().map(|w| self.entry(w)).collect();
        self.cursor = loaded.cursor;
        self.visible = true;
        self.rebuild();
    }

    /// Adds an item pushed by an event, fetching its user first if it is not known.
    pub(crate) fn add<K: HasUserList<W>>(&mut self, wire: W, scope: &Scope<'_>) -> Step<K> {
        if self.find(wire.user_id()).is_some() {
            return Step::Unchanged;
        }
        if self.users.contains_key(wire.user_id()) {
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
            .users([wire.user_id().to_owned()], Some(scope.watcher.clone()));
        Step::Later(Box::pin(async move {
            let users = users.await?;
            let apply: Apply<K> = Box::new(move |k, _| {
                let list = k.list();
                list.users.extend(users);
                let changed = list.insert(wire);
                if changed {
                    list.rebuild();
                }
                changed
            });
            Ok(apply)
        }))
    }

    /// Removes a user's item and stops watching them (nobody else in the list is that user).
    pub(crate) fn remove<K: Kind>(&mut self, user: &str, scope: &mut Scope<'_>) -> Step<K> {
        let Some(at) = self.items.iter().position(|x| x.wire.user_id() == user) else {
            return Step::Unchanged;
        };
        let removed = self.items.remove(at);
        self.users.remove(user);
        scope.unwatch_user(user);
        if removed.shown.is_none() {
            return Step::Unchanged;
        }
        self.rebuild();
        Step::Changed
    }

    /// A user changed: re-show their item; whether the snapshot changed.
    pub(crate) fn on_user(&mut self, user: &Arc<UserSnapshot>) -> bool {
        if self.users.get(&user.id) == Some(user) {
            return false;
        }
        let listed = self.find(&user.id).is_some();
        if !listed && !self.users.contains_key(&user.id) {
            return false;
        }
        self.users.insert(user.id.clone(), user.clone());
        let Some(entry) = self.items.iter_mut().find(|e| e.wire.user_id() == user.id) else {
            return false;
        };
        entry.shown = Some(Arc::new(entry.wire.show(user.clone())));
        self.rebuild();
        true
    }

    /// Grows the window to `target` shown items, pages of at most `max_page`.
    pub(crate) fn load_more<K: HasUserList<W>>(
        &self,
        target: usize,
        page: (String, Route),
        max_page: usize,
        scope: &Scope<'_>,
    ) -> Option<Step<K>>
    where
        W: serde::de::DeserializeOwned,
    {
        let shown = self.shown_len();
        if !self.visible || shown >= target {
            return None;
        }
        let want = target - shown;
        let cursor = self.cursor.clone()?;
        let pages = fetch_pages(
            scope.env,
            page.0,
            page.1,
            ListRequest::next_page(want.min(max_page) as u32, cursor),
            max_page,
            Until::Count(want),
        );
        let users = with_users(pages, scope);
        Some(Step::Later(Box::pin(async move {
            let (wires, users, cursor) = users.await?;
            let apply: Apply<K> = Box::new(move |k, _| {
                let list = k.list();
                list.users.extend(users);
                for w in wires {
                    list.insert(w);
                }
                list.cursor = cursor;
                list.rebuild();
                true
            });
            Ok(apply)
        })))
    }
}

/// Pages of items, with their users, and the cursor after them.
type WithUsers<W> = (Vec<W>, HashMap<String, Arc<UserSnapshot>>, Option<String>);

/// The items of `pages`, with their users (fetched and watched through the cache).
fn with_users<W: UserItem>(
    pages: LocalBoxFuture<'static, Result<Pages<W>, Error>>,
    scope: &Scope<'_>,
) -> LocalBoxFuture<'static, Result<WithUsers<W>, Error>> {
    let cache = scope.env.cache.clone();
    let watcher = scope.watcher.clone();
    Box::pin(async move {
        let (wires, cursor) = pages.await?;
        users_of(wires, cursor, cache, watcher).await
    })
}

/// The users of these items, fetched and watched through the cache.
async fn users_of<W: UserItem>(
    wires: Vec<W>,
    cursor: Option<String>,
    cache: crate::cache::Cache,
    watcher: crate::cache::Watcher,
) -> Result<WithUsers<W>, Error> {
    let ids: Vec<String> = wires.iter().map(|w| w.user_id().to_owned()).collect();
    let users = if ids.is_empty() {
        HashMap::new()
    } else {
        cache.users(ids, Some(watcher)).await?
    };
    Ok((wires, users, cursor))
}

/// A load: the pages and their users; a list the user cannot see (not found, not a
/// participant) loads as not visible.
pub(crate) fn load<W: UserItem>(
    pages: LocalBoxFuture<'static, Result<Pages<W>, Error>>,
    scope: &Scope<'_>,
) -> LocalBoxFuture<'static, Result<Loaded<W>, Error>> {
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
        let (wires, users, cursor) = users_of(wires, cursor, cache, watcher).await?;
        Ok(Loaded {
            visible: true,
            wires,
            users,
            cursor,
        })
    })
}
