//! Messages by id (the targets of replies outside a window), kept in a bounded LRU, and shared
//! reads: one `GET` per path and data however many ask at once (see the [cache docs](super)).

use std::future::Future;
use std::sync::Arc;

use actix::prelude::*;
use serde_json::value::RawValue;
use talkjs_protocol::path::Route;
use talkjs_protocol::wire::MessageWire;

use super::shard::CacheShard;
use super::{full, stopped};
use crate::error::Error;
use crate::session::Request;

/// One message by id (`None`: it does not exist or is not visible).
#[derive(Debug, Message)]
#[rtype(result = "Result<Option<MessageWire>, Error>")]
pub struct GetMessage {
    /// The conversation.
    pub conversation: String,
    /// The message.
    pub message: String,
}

/// A read (`GET`) that concurrent identical reads share: while one is in flight, another with
/// the same path and data waits for its answer instead of sending its own frame, as the
/// official client's shared stores do (two lists deciding about the same conversation change
/// send one `GET` of it). Answers are not kept: a read is only current while something
/// subscribes to what it read. (Latest messages, which the cache does keep current, are
/// [`GetLatest`](super::GetLatest); their fetches share in-flight reads too.)
#[derive(Debug, Message)]
#[rtype(result = "Result<Arc<RawValue>, Error>")]
pub struct SharedRead(pub Request);

/// A message fetch's answer (`None`: it does not exist or is not visible).
pub(super) type MessageAnswer = Result<Option<MessageWire>, Error>;

/// A shared read's answer.
pub(super) type ReadAnswer = Result<Arc<RawValue>, Error>;

impl CacheShard {
    /// Sends a `GET`, or joins an identical one in flight (see [`SharedRead`]).
    pub(super) fn read(
        &mut self,
        request: Request,
        ctx: &mut Context<Self>,
    ) -> impl Future<Output = ReadAnswer> + 'static {
        let key = (request.path.clone(), request.data.get().to_owned());
        let joined = self.reads.join(key.clone());
        if let Ok((true, _)) = &joined {
            let answer = self.session.send_request(request);
            ctx.spawn(answer.into_actor(self).map(move |answer, act, _| {
                act.reads.finish(&key, &answer.map(Arc::<RawValue>::from));
            }));
        }
        async move {
            match joined {
                Ok((_, rx)) => rx.await.map_err(|_| stopped())?,
                Err(_) => Err(full()),
            }
        }
    }
}

impl Handler<GetMessage> for CacheShard {
    type Result = ResponseFuture<MessageAnswer>;

    fn handle(&mut self, msg: GetMessage, ctx: &mut Context<Self>) -> Self::Result {
        let key = (msg.conversation, msg.message);
        if let Some(m) = self.messages.get(&key) {
            let m = m.clone();
            return Box::pin(async move { Ok(Some(m)) });
        }
        let Ok((first, rx)) = self.message_flights.join(key.clone()) else {
            return Box::pin(async { Err(full()) });
        };
        if first {
            let route = Route::GetMessage {
                conversation: key.0.clone(),
                message: key.1.clone(),
            };
            let answer = self.session.request(
                format!("Get message {}", key.1),
                &route,
                &talkjs_protocol::request::Empty,
            );
            ctx.spawn(answer.into_actor(self).map(move |answer, act, _| {
                let result = match answer {
                    Ok(raw) => serde_json::from_str::<MessageWire>(raw.get())
                        .map(Some)
                        .map_err(|e| Error::unreadable("Get message", e)),
                    Err(e) if e.is_absent() => Ok(None),
                    Err(e) => Err(e),
                };
                if let Ok(Some(m)) = &result {
                    act.messages.put(key.clone(), m.clone());
                    while act.messages.len() > act.messages_bound {
                        act.messages.pop_lru();
                    }
                }
                act.message_flights.finish(&key, &result);
            }));
        }
        Box::pin(async move { rx.await.map_err(|_| stopped())? })
    }
}

impl Handler<SharedRead> for CacheShard {
    type Result = ResponseFuture<ReadAnswer>;

    fn handle(&mut self, SharedRead(request): SharedRead, ctx: &mut Context<Self>) -> Self::Result {
        Box::pin(self.read(request, ctx))
    }
}
