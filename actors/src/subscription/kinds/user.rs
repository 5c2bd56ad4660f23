//! A user's subscription (`UserRef::subscribe`): the user's snapshot, `None` while they do not
//! exist. The user cache does the wire work (`SUBSCRIBE /users`, `GET /users`, batched); this
//! actor watches the cached user, so a `user.created` or `user.edited` reaches it as a new
//! shared snapshot.

use std::sync::Arc;

use futures_util::future::LocalBoxFuture;
use talkjs_protocol::event::Event;
use talkjs_protocol::path::Topic;
use talkjs_protocol::snapshot::UserSnapshot;

use crate::error::Error;
use crate::session::routes::RouteKey;
use crate::subscription::{Kind, LoadReason, Scope, Step};

/// See the module docs.
#[derive(Debug)]
pub struct UserKind {
    id: String,
    snapshot: Option<Arc<UserSnapshot>>,
}

impl UserKind {
    /// A subscription to this user.
    pub fn new(id: impl Into<String>) -> UserKind {
        UserKind {
            id: id.into(),
            snapshot: None,
        }
    }
}

impl Kind for UserKind {
    type Snapshot = Option<Arc<UserSnapshot>>;
    type Loaded = Option<Arc<UserSnapshot>>;

    fn describe(&self) -> String {
        format!("users/{}", self.id)
    }

    fn route_keys(&self) -> Vec<RouteKey> {
        // Updates arrive from the cache, not as routed events.
        Vec::new()
    }

    fn topics(&self) -> Vec<Topic> {
        // The cache holds `/users/{id}`.
        Vec::new()
    }

    fn load(
        &self,
        _reason: LoadReason,
        scope: &mut Scope<'_>,
    ) -> LocalBoxFuture<'static, Result<Self::Loaded, Error>> {
        let id = self.id.clone();
        let found = scope
            .env
            .cache
            .users([id.clone()], Some(scope.watcher.clone()));
        Box::pin(async move { Ok(found.await?.remove(&id)) })
    }

    fn install(&mut self, loaded: Self::Loaded, _: LoadReason, _: &mut Scope<'_>) -> bool {
        let changed = loaded != self.snapshot;
        self.snapshot = loaded;
        changed
    }

    fn on_event(&mut self, _event: &Arc<Event>, _scope: &mut Scope<'_>) -> Step<Self> {
        Step::Unchanged
    }

    fn on_user(&mut self, user: &Arc<UserSnapshot>) -> bool {
        if user.id != self.id {
            return false;
        }
        self.snapshot = Some(user.clone());
        true
    }

    fn snapshot(&self) -> Self::Snapshot {
        self.snapshot.clone()
    }
}
