//! [`UserRef`]: a user, by id.

use std::sync::Arc;

use talkjs_protocol::params::{CreateUserParams, SetUserParams};
use talkjs_protocol::path::Route;
use talkjs_protocol::snapshot::UserSnapshot;

use crate::session::{TalkSession, require_id};
use crate::{ErrorKind, Result};

/// A reference to a user. Cheap to create and clone; equal for the same session and id.
#[derive(Clone, Debug)]
pub struct UserRef {
    session: TalkSession,
    id: String,
}

impl PartialEq for UserRef {
    fn eq(&self, other: &UserRef) -> bool {
        self.id == other.id && self.session.app_id() == other.session.app_id()
    }
}

impl Eq for UserRef {}

/// A user's id, so a [`UserRef`] goes wherever a user id does, as in
/// `conversation.participant(&user)`.
impl From<&UserRef> for String {
    fn from(user: &UserRef) -> String {
        user.id.clone()
    }
}

/// A user's id, so a [`UserRef`] goes wherever a user id does.
impl From<UserRef> for String {
    fn from(user: UserRef) -> String {
        user.id
    }
}

impl UserRef {
    pub(crate) fn new(session: TalkSession, id: String) -> UserRef {
        UserRef { session, id }
    }

    /// The user's id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The user, or `None` if no such user exists.
    ///
    /// Served by the session's user cache, as the official client serves it from its stores:
    /// the first read subscribes to the user and fetches them (reads in the same tick share one
    /// `SUBSCRIBE /users` and one `GET /users`); while the user stays cached (shown by a
    /// subscription, or read within [`Timings::user_unsubscribe_delay`](crate::Timings)), further
    /// reads are answered locally and are still current, because the cache applies the user's
    /// edits as they are pushed.
    pub async fn get(&self) -> Result<Option<UserSnapshot>> {
        let op: Arc<str> = format!("Get user {}", self.id).into();
        require_id(&op, "user id", &self.id)?;
        Ok(self
            .session
            .cache()
            .user(self.id.clone())
            .await
            .map_err(|e| e.with_operation(op))?
            .map(|u| (*u).clone()))
    }

    /// Creates the user, or updates the given fields: `None` leaves a field as it is, and the
    /// `clear_*` builders of [`SetUserParams`] clear one.
    pub async fn set(&self, params: SetUserParams) -> Result<()> {
        let op: Arc<str> = format!("Set user {}", self.id).into();
        require_id(&op, "user id", &self.id)?;
        let route = Route::SetUser {
            user: self.id.clone(),
        };
        self.session.call_unit(op, &route, &params).await
    }

    /// Creates the user with these fields if it does not exist yet; an existing user is left as it is.
    ///
    /// ```no_run
    /// # async fn demo(session: talkjs::TalkSession) -> talkjs::Result<()> {
    /// use talkjs::params::CreateUserParams;
    /// session
    ///     .current_user()
    ///     .create_if_not_exists(CreateUserParams::new("Alice").custom("team", "support"))
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub async fn create_if_not_exists(&self, params: CreateUserParams) -> Result<()> {
        let op: Arc<str> = format!("Create user {} if not exists", self.id).into();
        require_id(&op, "user id", &self.id)?;
        let route = Route::CreateUser {
            user: self.id.clone(),
        };
        match self.session.call_unit(op, &route, &params).await {
            Err(e) if matches!(e.kind(), ErrorKind::Server { status: 409, .. }) => Ok(()),
            other => other,
        }
    }

    /// Subscribes to the user: `None` while they do not exist, then every change. An empty id
    /// gives a subscription in the error state.
    ///
    /// ```no_run
    /// # async fn demo(session: talkjs::TalkSession) {
    /// let bob = session.user("bob").subscribe();
    /// bob.on_snapshot(|user, _| println!("{:?}", user.as_ref().map(|u| &u.name)));
    /// # }
    /// ```
    pub fn subscribe(&self) -> crate::UserSubscription {
        self.session.env().subscribe_user(&self.id)
    }

    /// Subscribes to the user's online status, with the user: `None` while they do not exist,
    /// then every change of either. A user is online while they have a live connection (a
    /// session of theirs holds a subscription, or made a request in the last few seconds).
    ///
    /// ```no_run
    /// # async fn demo(session: talkjs::TalkSession) {
    /// let bob = session.user("bob").subscribe_online();
    /// bob.on_snapshot(|online, _| {
    ///     if let Some(o) = online {
    ///         println!("{} is {}", o.user.name, if o.is_connected { "online" } else { "away" });
    ///     }
    /// });
    /// # }
    /// ```
    pub fn subscribe_online(&self) -> crate::UserOnlineSubscription {
        self.session.env().subscribe_online(&self.id)
    }
}
