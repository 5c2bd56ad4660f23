//! Shared reads: one `GET` per path and data in flight, however many ask at once.
//!
//! While one read is in flight, another with the same path and data waits for its answer
//! instead of sending its own frame, as the official client's shared stores do (two lists
//! deciding about the same conversation change send one `GET` of it; a latest-message fetch and
//! a subscription's first page of one message meet). Answers are not kept: a read is only
//! current while something subscribes to what it read.
//!
//! A read needs no cached state, so its in-flight map lives in the [`Cache`] handle (behind a
//! mutex held only to join or finish) rather than in a shard: a session that only reads starts
//! no shard actor.

use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};

use serde_json::value::RawValue;

use super::inflight::InFlight;
use actix::prelude::*;

use super::shard::CacheShard;
use super::{Cache, full, stopped};
use crate::error::Error;
use crate::session::Request;

/// A shared read's answer.
pub(super) type ReadAnswer = Result<Arc<RawValue>, Error>;

/// Reads in flight, by path and data.
pub(super) struct Reads(Mutex<InFlight<(String, String), ReadAnswer>>);

impl Default for Reads {
    fn default() -> Reads {
        Reads(Mutex::new(InFlight::new()))
    }
}

impl Reads {
    /// Runs `f` on the map.
    fn with<T>(&self, f: impl FnOnce(&mut InFlight<(String, String), ReadAnswer>) -> T) -> T {
        f(&mut self.0.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

impl Cache {
    /// Sends a `GET`, or joins an identical one in flight (see the [module docs](self)).
    ///
    /// The first asker's request is sent one hop later, as the shards' requests are: through
    /// a running shard's mailbox (so it keeps its place among the shard's own requests), else
    /// from a task on the session's thread. The `SUBSCRIBE`s of subscriptions started in the
    /// same tick then go out before the `GET`s, in the order the official client sends them
    /// (the wire parity tests check it).
    pub(crate) fn shared_read(
        &self,
        request: Request,
    ) -> impl Future<Output = ReadAnswer> + Send + 'static {
        self.read(request, true)
    }

    /// [`Cache::shared_read`], for a shard: sent at once (it is the shard's turn).
    pub(super) fn shard_read(
        &self,
        request: Request,
    ) -> impl Future<Output = ReadAnswer> + Send + 'static {
        self.read(request, false)
    }

    fn read(
        &self,
        request: Request,
        hop: bool,
    ) -> impl Future<Output = ReadAnswer> + Send + 'static {
        let key = (request.path.clone(), request.data.get().to_owned());
        let joined = self.inner.reads.with(|f| f.join(key.clone()));
        if let Ok((true, _)) = &joined {
            let pending = PendingRead {
                cache: Some(self.clone()),
                request: Some(request),
                key,
            };
            if !hop {
                pending.send();
            } else if let Some(shard) = self.started_shard(&pending.key.0) {
                shard.do_send(SharedRead(pending));
            } else if self.on_session_thread_now() {
                // As a woken shard would: a task of its own on this thread. (Dropped unsent if
                // the runtime is gone: its waiters are answered then.)
                actix_rt::spawn(async move { pending.send() });
            } else {
                self.session()
                    .arbiter()
                    .spawn(async move { pending.send() });
            }
        }
        async move {
            match joined {
                Ok((_, rx)) => rx.await.map_err(|_| stopped())?,
                Err(_) => Err(full()),
            }
        }
    }
}

/// A shared read waiting for its turn to be sent. Dropped unsent (a stopped shard's mailbox, a
/// runtime that is gone), it answers its waiters that the session stopped, so none waits
/// forever.
pub(super) struct PendingRead {
    cache: Option<Cache>,
    request: Option<Request>,
    key: (String, String),
}

impl PendingRead {
    /// Sends the request now; its answer goes to every waiter.
    pub(super) fn send(mut self) {
        let (Some(cache), Some(request)) = (self.cache.as_ref(), self.request.take()) else {
            return;
        };
        let answer = cache.session().send_request(request);
        let arbiter = cache.session().arbiter().clone();
        // Dropped unrun (the runtime is gone), `self` answers the waiters.
        arbiter.spawn(async move {
            let answer = answer.await.map(Arc::<RawValue>::from);
            self.finish(&answer);
        });
    }

    fn finish(mut self, answer: &ReadAnswer) {
        if let Some(cache) = self.cache.take() {
            cache.inner.reads.with(|f| f.finish(&self.key, answer));
        }
    }
}

impl Drop for PendingRead {
    fn drop(&mut self) {
        if let Some(cache) = self.cache.take() {
            cache
                .inner
                .reads
                .with(|f| f.finish(&self.key, &Err(stopped())));
        }
    }
}

/// Send a shared read in the shard's turn (see [`Cache::shared_read`]).
#[derive(Message)]
#[rtype(result = "()")]
pub(super) struct SharedRead(pub(super) PendingRead);

impl Handler<SharedRead> for CacheShard {
    type Result = ();

    fn handle(&mut self, SharedRead(read): SharedRead, _ctx: &mut Context<Self>) {
        read.send();
    }
}
