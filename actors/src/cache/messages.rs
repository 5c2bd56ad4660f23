//! Messages by id (the targets of replies outside a window), kept in a bounded LRU (see the
//! [cache docs](super)).

use actix::prelude::*;
use talkjs_protocol::path::Route;
use talkjs_protocol::wire::MessageWire;

use super::shard::CacheShard;
use super::{full, stopped};
use crate::error::Error;

/// One message by id (`None`: it does not exist or is not visible).
#[derive(Debug, Message)]
#[rtype(result = "Result<Option<MessageWire>, Error>")]
pub struct GetMessage {
    /// The conversation.
    pub conversation: String,
    /// The message.
    pub message: String,
}

/// A message fetch's answer (`None`: it does not exist or is not visible).
pub(super) type MessageAnswer = Result<Option<MessageWire>, Error>;

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
            let answer = self.session().request(
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
