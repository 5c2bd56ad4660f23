//! Live subscriptions: one actor per subscription, and the handle that drives it.
//!
//! A `SubscriptionActor` runs one `Kind` of subscription (a user, a message list, ...). The
//! generic actor owns everything the kinds share:
//!
//! - **States**, as the official client has them: pending, active (with the latest snapshot and
//!   `loaded_all`), unsubscribed, error. The state lives in a small cell (`state.rs`) shared
//!   with the [`Subscription`] handles, so `state()`, `connected()` and `terminated()` never wait on the
//!   actor's mailbox, and an `unsubscribe()` takes effect at once.
//! - **Order.** Every pushed event, refetch and `load_more` is handled in mailbox order, and
//!   work that needs the server first (hydrating a new message's sender, loading a page) holds
//!   the mailbox until it is done (`ctx.wait`), so events never overtake one another; events that
//!   arrive during a load are applied on top of its result.
//! - **Wire topics** through the session (`Hold`/`Release`): `SUBSCRIBE` goes out before the
//!   first `GET`, and is released when the actor stops.
//! - **Users** shown by a snapshot are hydrated and watched through the session's [`Cache`];
//!   a `UserUpdated` re-emits every snapshot that shows that user.
//! - **Delivery** of each new snapshot, once, to every listener: closures, `Stream`s and actix
//!   `Recipient`s ([`Listener`]). A snapshot equal to the last one delivered is not re-emitted.
//! - **Changes**: list kinds keep their items in a tracked persistent vector that records
//!   each change as a [`VectorDiff`]; the actor hands each snapshot's changes to listeners of
//!   changes ([`Subscription::diffs`]) and uses them to tell an equal snapshot in O(1).
//! - **Reconnects**: on `Routed::Resync` the kind reloads and reconciles (see each kind).

mod actor;
mod diffs;
pub mod handle;
pub mod hydrate;
mod kind;
mod kinds;
mod list;
mod paging;
mod published;
mod start;
mod state;
mod tracked;

use std::sync::Arc;

use futures_util::future::LocalBoxFuture;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::value::RawValue;
use talkjs_protocol::frame::Method;
use talkjs_protocol::path::Route;

use crate::cache::Cache;
use crate::error::Error;
use crate::session::Request;
use crate::session::handle::SessionHandle;

pub use diffs::{Change, DIFF_BUFFER, DiffStream, DiffUpdate, Observed};
pub use handle::{Listener, Subscription, SubscriptionStream, Terminated, Update};
pub(crate) use kind::{Apply, Kind, LoadReason, Scope, Step};
pub(crate) use kinds::conversation::ConversationKind;
pub(crate) use kinds::conversations::ConversationListKind;
pub(crate) use kinds::messages::MessagesKind;
pub(crate) use kinds::online::OnlineKind;
pub(crate) use kinds::participant::ParticipantKind;
pub(crate) use kinds::participants::ParticipantsKind;
pub(crate) use kinds::reactions::ReactionsKind;
pub(crate) use kinds::typing::TypingKind;
pub(crate) use kinds::user::UserKind;
pub use list::{List, ListItems, VectorDiff, WindowLen};
pub use published::Published;
pub use start::WindowOptions;

/// A list snapshot: `None` while the list cannot be seen (not a participant, no such user),
/// else its items as a persistent [`List`] (O(1) to clone, shared by every listener).
pub type ListSnapshot<T> = Option<List<T>>;

/// A session as its subscriptions see it: its [`SessionHandle`], its cache and its user. The
/// `talkjs` crate holds one per session and starts subscriptions with its `subscribe_*`
/// methods.
#[derive(Clone)]
pub struct Env {
    /// The session.
    pub session: SessionHandle,
    /// The session's cache.
    pub cache: Cache,
    /// The current user's id.
    pub me: Arc<str>,
}

impl std::fmt::Debug for Env {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Env").field("me", &self.me).finish()
    }
}

impl Env {
    /// Sends a request now and returns a future of its decoded answer (for the kinds). A `GET` joins an identical
    /// one already in flight instead of sending its own frame (see [`Cache::shared_read`]).
    pub(crate) fn call<T: Serialize + ?Sized, R: DeserializeOwned + 'static>(
        &self,
        operation: impl Into<Arc<str>>,
        route: &Route,
        data: &T,
    ) -> LocalBoxFuture<'static, Result<R, Error>> {
        let operation: Arc<str> = operation.into();
        let data = match serde_json::value::to_raw_value(data) {
            Ok(d) => d,
            Err(e) => {
                let e = Error::invalid(operation, e.to_string());
                return Box::pin(async move { Err(e) });
            }
        };
        let request = Request {
            operation: operation.clone(),
            method: route.method(),
            path: route.path().encode(),
            data,
        };
        let answer: LocalBoxFuture<'static, Result<Arc<RawValue>, Error>> =
            if request.method == Method::Get {
                Box::pin(self.cache.shared_read(request))
            } else {
                let sent = self.session.send_request(request);
                Box::pin(async move { sent.await.map(Arc::from) })
            };
        Box::pin(async move { crate::session::handle::decode(&operation, &answer.await?) })
    }
}
