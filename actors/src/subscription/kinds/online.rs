//! A user's online status (`UserRef::subscribe_online`): whether they are connected, with the
//! user; `None` while the user does not exist.
//!
//! - **Load**: `SUBSCRIBE /users/{u}/online`, then `GET /users/{u}/online` and, beside it, the
//!   user through the cache (watched, so a rename re-emits).
//! - **Events**: `user.online.changed` replaces the status (the server sends it whole);
//!   `user.created` refetches, as in the official client.

use std::sync::Arc;

use futures_util::future::LocalBoxFuture;
use talkjs_protocol::event::Event;
use talkjs_protocol::path::{Route, Topic};
use talkjs_protocol::snapshot::{UserOnlineSnapshot, UserSnapshot};
use talkjs_protocol::wire::OnlineWire;

use crate::error::Error;
use crate::session::routes::RouteKey;
use crate::subscription::hydrate;
use crate::subscription::{Kind, LoadReason, Scope, Step};

/// See the module docs.
#[derive(Debug)]
pub struct OnlineKind {
    user: String,
    online: Option<OnlineWire>,
    user_snapshot: Option<Arc<UserSnapshot>>,
    snapshot: Option<Arc<UserOnlineSnapshot>>,
}

/// A load's result: the status (`None`: no such user) and the user.
pub struct Loaded {
    online: Option<OnlineWire>,
    user: Option<Arc<UserSnapshot>>,
}

impl OnlineKind {
    /// The online status of this user.
    pub fn new(user: impl Into<String>) -> OnlineKind {
        OnlineKind {
            user: user.into(),
            online: None,
            user_snapshot: None,
            snapshot: None,
        }
    }

    /// Rebuilds the snapshot; true if it changed.
    fn rebuild(&mut self) -> bool {
        let next = match (&self.online, &self.user_snapshot) {
            (Some(o), Some(u)) => Some(UserOnlineSnapshot::from_wire(o, u.clone())),
            _ => None,
        };
        if next.as_ref() == self.snapshot.as_deref() {
            return false;
        }
        self.snapshot = next.map(Arc::new);
        true
    }
}

impl Kind for OnlineKind {
    type Snapshot = Option<Arc<UserOnlineSnapshot>>;
    type Loaded = Loaded;

    fn describe(&self) -> String {
        format!("users/{}/online", self.user)
    }

    fn route_keys(&self) -> Vec<RouteKey> {
        vec![RouteKey::User(self.user.clone())]
    }

    fn topics(&self) -> Vec<Topic> {
        vec![Topic::UserOnline {
            user: self.user.clone(),
        }]
    }

    fn load(
        &self,
        _reason: LoadReason,
        scope: &mut Scope<'_>,
    ) -> LocalBoxFuture<'static, Result<Loaded, Error>> {
        let route = Route::GetUserOnline {
            user: self.user.clone(),
        };
        let op = format!("Get online status of user {}", self.user);
        let both =
            hydrate::item_with_user::<OnlineWire>(scope, op, &route, &self.user, Error::is_absent);
        Box::pin(async move {
            let (online, user) = both.await?;
            Ok(Loaded { online, user })
        })
    }

    fn install(&mut self, loaded: Loaded, _: LoadReason, _: &mut Scope<'_>) -> bool {
        self.online = loaded.online;
        if loaded.user.is_some() {
            self.user_snapshot = loaded.user;
        }
        self.rebuild()
    }

    fn on_event(&mut self, event: &Arc<Event>, _scope: &mut Scope<'_>) -> Step<Self> {
        match &**event {
            Event::UserOnlineChanged(e) if e.user_id == self.user => {
                self.online = Some(e.diff);
                if self.rebuild() {
                    Step::Changed
                } else {
                    Step::Unchanged
                }
            }
            Event::UserCreated(e) if e.user_id == self.user => Step::Reload,
            _ => Step::Unchanged,
        }
    }

    fn on_user(&mut self, user: &Arc<UserSnapshot>) -> bool {
        if user.id != self.user || self.user_snapshot.as_ref() == Some(user) {
            return false;
        }
        self.user_snapshot = Some(user.clone());
        self.rebuild()
    }

    fn snapshot(&self) -> Self::Snapshot {
        self.snapshot.clone()
    }
}
