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
    /// Sends a `GET`, or joins an identical one in flight (see the [module docs](self)). The
    /// first asker's request is queued in the session at once, so it keeps its call order.
    pub(crate) fn shared_read(
        &self,
        request: Request,
    ) -> impl Future<Output = ReadAnswer> + Send + 'static {
        let key = (request.path.clone(), request.data.get().to_owned());
        let joined = self.inner.reads.with(|f| f.join(key.clone()));
        if let Ok((true, _)) = &joined {
            let answer = self.session().send_request(request);
            let cache = self.clone();
            let read = key.clone();
            let finish = async move {
                let answer = answer.await.map(Arc::<RawValue>::from);
                cache.inner.reads.with(|f| f.finish(&read, &answer));
            };
            if !self.session().arbiter().spawn(finish) {
                // The runtime is gone: nothing will answer the read.
                self.inner.reads.with(|f| f.finish(&key, &Err(stopped())));
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
