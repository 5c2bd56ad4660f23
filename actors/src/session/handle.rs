//! [`SessionHandle`]: the one door to a session actor.
//!
//! Refs, subscriptions, searches, cache shards and plugins all reach the session through it;
//! the messages behind it are crate-private. It is cheap to clone, `Send + Sync`, and every
//! future it returns is `Send`, so it can be used from any task on any thread: it only sends
//! to the actor's mailbox, which is how requests keep their call order (a request is queued
//! when the method is called, not when its future is first polled).
//!
//! Resources held on the wire are values: [`SessionHandle::hold`] returns a [`TopicGuard`] that
//! releases the topic when dropped, and an attached subscription is detached when its
//! [`Attachment`] drops.

use std::future::Future;

use futures_util::future::BoxFuture;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use actix::WeakAddr;
use actix::prelude::*;
use actix_rt::ArbiterHandle;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use serde_json::value::RawValue;
use talkjs_protocol::endpoints::ApiUrls;
use talkjs_protocol::frame::Method;
use talkjs_protocol::path::{Route, Topic};

use super::auth::{HttpToken, SetSessionToken, SetTokenSource};
use super::batcher::Batched;
use super::events::Observe;
use super::lifecycle::{GetStatus, OnError, RemoveOnError, SessionStatus, Terminate};
use super::pipeline::Request;
use super::routes::{Attach, Detach, Find, Found, Lookup, RouteKey, Routed};
use super::topics::{Hold, Release};
use super::{ErrorListener, Session};
use crate::batch::{BatchItem, BatchKey};
use crate::error::{Error, Result};
use crate::plugin::{InboundEvent, LifecycleEvent};
use crate::token::{NeedToken, TokenActor, TokenProvider};

/// What every handle of a session shares.
pub(crate) struct SessionInfo {
    pub(crate) app_id: Arc<str>,
    pub(crate) user_id: Arc<str>,
    pub(crate) urls: std::sync::Arc<ApiUrls>,
    /// The thread the session's actors run on.
    pub(crate) arbiter: ArbiterHandle,
    /// Set by the session when it terminates.
    pub(crate) ended: Arc<AtomicBool>,
}

/// The one way to talk to a session actor. See the module docs.
#[derive(Clone)]
pub struct SessionHandle {
    addr: Addr<Session>,
    info: Arc<SessionInfo>,
}

impl std::fmt::Debug for SessionHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionHandle")
            .field("app_id", &self.info.app_id)
            .field("user_id", &self.info.user_id)
            .finish_non_exhaustive()
    }
}

impl PartialEq for SessionHandle {
    /// Handles of the same session are equal.
    fn eq(&self, other: &SessionHandle) -> bool {
        self.addr == other.addr
    }
}

impl Eq for SessionHandle {}

impl SessionHandle {
    pub(crate) fn new(addr: Addr<Session>, info: SessionInfo) -> SessionHandle {
        SessionHandle {
            addr,
            info: Arc::new(info),
        }
    }

    /// The app.
    pub fn app_id(&self) -> &str {
        &self.info.app_id
    }

    /// The user the session acts as.
    pub fn user_id(&self) -> &Arc<str> {
        &self.info.user_id
    }

    /// The server's URLs.
    pub fn urls(&self) -> &ApiUrls {
        &self.info.urls
    }

    /// Whether the session ended (terminated, or its runtime stopped).
    pub fn is_terminated(&self) -> bool {
        self.info.ended.load(Ordering::Acquire) || !self.addr.connected()
    }

    /// The thread the session's actors run on.
    pub(crate) fn arbiter(&self) -> &ArbiterHandle {
        &self.info.arbiter
    }

    /// Sends a request for `route` now and returns a future of its raw 200 data (the status
    /// policy applied: 429 and 500 retried, other errors typed).
    pub fn request<T: Serialize + ?Sized>(
        &self,
        operation: impl Into<Arc<str>>,
        route: &Route,
        data: &T,
    ) -> BoxFuture<'static, Result<Box<RawValue>>> {
        self.request_at(operation, route.method(), route.path().encode(), data)
    }

    /// Like [`SessionHandle::request`], to an encoded path of your own (a route this crate does
    /// not model yet).
    pub fn request_at<T: Serialize + ?Sized>(
        &self,
        operation: impl Into<Arc<str>>,
        method: Method,
        path: String,
        data: &T,
    ) -> BoxFuture<'static, Result<Box<RawValue>>> {
        let operation: Arc<str> = operation.into();
        let sent = serde_json::value::to_raw_value(data)
            .map_err(|e| {
                Error::invalid(operation.clone(), format!("cannot encode the request: {e}"))
            })
            .map(|data| {
                self.addr.send(Request {
                    operation: operation.clone(),
                    method,
                    path,
                    data,
                })
            });
        Box::pin(async move { sent?.await.map_err(|_| Error::session_stopped(operation))? })
    }

    /// Sends a prepared request now (the cache's shared reads).
    pub(crate) fn send_request(
        &self,
        request: Request,
    ) -> BoxFuture<'static, Result<Box<RawValue>>> {
        let operation = request.operation.clone();
        let sent = self.addr.send(request);
        Box::pin(async move { sent.await.map_err(|_| Error::session_stopped(operation))? })
    }

    /// Sends a request now and decodes its 200 data.
    pub fn request_typed<T: Serialize + ?Sized, R: DeserializeOwned + Send + 'static>(
        &self,
        operation: impl Into<Arc<str>>,
        route: &Route,
        data: &T,
    ) -> BoxFuture<'static, Result<R>> {
        let operation: Arc<str> = operation.into();
        let answer = self.request(operation.clone(), route, data);
        Box::pin(async move { decode(&operation, &answer.await?) })
    }

    /// Adds an item to a batch (user `GET`s, participant writes, translations made in the same
    /// tick share one frame) and returns the item's part of the answer.
    pub fn batched(
        &self,
        operation: impl Into<Arc<str>>,
        key: BatchKey,
        item: BatchItem,
    ) -> BoxFuture<'static, Result<Value>> {
        let operation: Arc<str> = operation.into();
        let sent = self.addr.send(Batched {
            operation: operation.clone(),
            key,
            item,
        });
        Box::pin(async move { sent.await.map_err(|_| Error::session_stopped(operation))? })
    }

    /// Holds a wire topic: its `SUBSCRIBE` goes out unless another holder sent it already. The
    /// guard releases the topic when dropped. (The answer is not awaited; see
    /// [`SessionHandle::subscribe_topic`] for that.)
    pub fn hold(&self, topic: Topic) -> TopicGuard {
        // `do_send`: queued even when the mailbox is over its size, unlike an unpolled `send`.
        self.addr.do_send(Hold(topic.clone()));
        TopicGuard {
            topic,
            session: self.addr.downgrade(),
        }
    }

    /// Like [`SessionHandle::hold`], with a future of the `SUBSCRIBE`'s answer (shared by every
    /// holder). The future must be polled for the hold to be sent if the session's mailbox is
    /// full; the guard releases the topic when dropped either way.
    pub fn subscribe_topic(&self, topic: Topic) -> (TopicGuard, BoxFuture<'static, Result<()>>) {
        let answer = self.addr.send(Hold(topic.clone()));
        let guard = TopicGuard {
            topic,
            session: self.addr.downgrade(),
        };
        let answer = Box::pin(async move {
            answer
                .await
                .map_err(|_| Error::session_stopped("Subscribe"))?
        });
        (guard, answer)
    }

    /// Routes the events under `keys` (and every resync) to `inbox` until the attachment drops;
    /// the attached actor answers `Routed::Find`s (reads of what it shows).
    pub(crate) fn attach(
        &self,
        id: u64,
        keys: Vec<RouteKey>,
        inbox: Recipient<Routed>,
    ) -> Attachment {
        self.attach_as(Attach {
            id,
            keys,
            inbox,
            finds: true,
            resync_always: false,
        })
    }

    /// Like [`SessionHandle::attach`], for an actor that must refetch after every new socket,
    /// even after a restart the server announced (a feed of new messages).
    pub(crate) fn attach_resyncing(
        &self,
        id: u64,
        keys: Vec<RouteKey>,
        inbox: Recipient<Routed>,
    ) -> Attachment {
        self.attach_as(Attach {
            id,
            keys,
            inbox,
            finds: false,
            resync_always: true,
        })
    }

    fn attach_as(&self, attach: Attach) -> Attachment {
        let id = attach.id;
        self.addr.do_send(attach);
        Attachment {
            id,
            session: self.addr.downgrade(),
        }
    }

    /// What a live subscription of this session shows of `lookup`, if any (a mailbox round trip,
    /// no request).
    pub fn find(&self, lookup: Lookup) -> BoxFuture<'static, Option<Found>> {
        let asked = self.addr.send(Find(lookup));
        Box::pin(async move { asked.await.ok().flatten() })
    }

    /// The token for an HTTP request (uploads, search): the current one, or a new one when
    /// `refresh` is set (the server refused the current one).
    pub fn http_token(&self, refresh: bool) -> BoxFuture<'static, Result<String>> {
        let asked = self.addr.send(HttpToken { refresh });
        Box::pin(async move {
            asked
                .await
                .map_err(|_| Error::session_stopped("Authenticate"))?
        })
    }

    /// Authenticates with this token from now on; a live connection renews at once.
    pub fn set_token(&self, token: String) {
        self.addr.do_send(SetSessionToken(token));
    }

    /// Gets future tokens from this actor.
    pub fn set_token_source(&self, source: Recipient<NeedToken>) {
        self.addr.do_send(SetTokenSource(source));
    }

    /// Gets future tokens from this provider (in a token actor on the session's thread).
    pub fn set_token_provider(&self, provider: impl TokenProvider) {
        let actor = crate::runtime::start(self.arbiter(), move |_| TokenActor::new(provider));
        self.set_token_source(actor.recipient());
    }

    /// Calls `listener` once when the session terminates, under an id unique in the process.
    pub fn on_error(&self, id: u64, listener: ErrorListener) {
        self.addr.do_send(OnError(id, listener));
    }

    /// Stops calling the listener registered under `id`.
    pub fn remove_on_error(&self, id: u64) {
        self.addr.do_send(RemoveOnError(id));
    }

    /// Ends the session.
    pub fn terminate(&self, reason: String) {
        self.addr.do_send(Terminate(reason));
    }

    /// Lets actors observe the connection's lifecycle and/or every pushed event.
    pub fn observe(
        &self,
        lifecycle: Option<Recipient<LifecycleEvent>>,
        events: Option<Recipient<InboundEvent>>,
    ) {
        self.addr.do_send(Observe { lifecycle, events });
    }

    /// The session's state (`None` once its actor is gone).
    pub fn status(&self) -> BoxFuture<'static, Option<SessionStatus>> {
        let asked = self.addr.send(GetStatus);
        Box::pin(async move { asked.await.ok() })
    }

    /// Runs `work` on the session's thread, where futures that are not `Send` (awc's HTTP
    /// client) can run, and returns its output; an error if the session's runtime stopped. The
    /// work starts now (not when the future is first polled) and runs to its end even if the
    /// future is dropped.
    pub fn run_local<F, Fut, T>(
        &self,
        operation: impl Into<Arc<str>>,
        work: F,
    ) -> BoxFuture<'static, Result<T>>
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = T> + 'static,
        T: Send + 'static,
    {
        let operation: Arc<str> = operation.into();
        let ran = crate::runtime::run(&self.info.arbiter, work);
        Box::pin(async move { ran.await.ok_or_else(|| Error::session_stopped(operation)) })
    }
}

/// Decodes a 200 answer; one classification for every undecodable answer.
pub(crate) fn decode<R: DeserializeOwned>(operation: &Arc<str>, raw: &RawValue) -> Result<R> {
    serde_json::from_str(raw.get()).map_err(|e| Error::unreadable(operation.clone(), e))
}

/// A wire topic held through [`SessionHandle::hold`]; dropping it releases the topic (its
/// `UNSUBSCRIBE` follows once no one holds it, after the linger delay).
#[derive(Debug)]
pub struct TopicGuard {
    topic: Topic,
    /// Weak: a guard does not keep its session alive (an ended session holds no topic), and a
    /// strong address would hold a sender's own allocations for the guard's whole life.
    session: WeakAddr<Session>,
}

impl TopicGuard {
    /// The topic held.
    pub fn topic(&self) -> &Topic {
        &self.topic
    }
}

impl Drop for TopicGuard {
    fn drop(&mut self) {
        if let Some(session) = self.session.upgrade() {
            session.do_send(Release(self.topic.clone()));
        }
    }
}

/// An actor attached to a session's event routes; dropping it detaches the actor.
#[derive(Debug)]
pub(crate) struct Attachment {
    id: u64,
    /// Weak, as [`TopicGuard`]'s.
    session: WeakAddr<Session>,
}

impl Drop for Attachment {
    fn drop(&mut self) {
        if let Some(session) = self.session.upgrade() {
            session.do_send(Detach(self.id));
        }
    }
}
