//! When batches go out (what goes into one, and how answers split, is [`crate::batch`]): at the
//! end of the tick (after one task yield), when full, and before any request that cannot be
//! batched, so calls keep their order on the wire (docs/protocol.md §3.10).

use std::sync::Arc;

use actix::prelude::*;
use serde_json::Value;
use talkjs_protocol::frame::Method;

use super::Session;
use super::pipeline::{Request, gone};
use super::policy::{retries, retry_delay};
use crate::batch::{self, BatchItem, BatchKey};
use crate::error::{Error, ErrorKind};

/// Add an item to a batch; the answer is the item's own part of the combined response: the
/// user (or `null`), the action's `{status, errorCode?, reasons?}`, the translation (or `null`).
#[derive(Debug, Message)]
#[rtype(result = "Result<Value, Error>")]
pub(crate) struct Batched {
    /// The operation, for errors.
    pub(crate) operation: Arc<str>,
    /// Which batch.
    pub(crate) key: BatchKey,
    /// The item.
    pub(crate) item: BatchItem,
}

impl Handler<Batched> for Session {
    type Result = ResponseFuture<Result<Value, Error>>;

    fn handle(&mut self, msg: Batched, ctx: &mut Context<Self>) -> Self::Result {
        self.enqueue(msg.operation, msg.key, msg.item, ctx)
    }
}

impl Session {
    /// Adds an item to its batch and returns its part of the answer.
    pub(super) fn enqueue(
        &mut self,
        operation: Arc<str>,
        key: BatchKey,
        item: BatchItem,
        ctx: &mut Context<Self>,
    ) -> ResponseFuture<Result<Value, Error>> {
        if let Some(e) = self.terminated_error(operation.clone()) {
            return Box::pin(async move { Err(e) });
        }
        let (tx, rx) = tokio::sync::oneshot::channel();
        // Subscribed users are read with the others of the same SUBSCRIBE frame.
        let key = match key {
            BatchKey::SubscribedUsers(_) => BatchKey::SubscribedUsers(self.user_subscribe_frames),
            key => key,
        };
        let waiting = batch::Waiting {
            operation: operation.clone(),
            item,
            reply: tx,
            tries_500: 0,
            retries: 0,
        };
        self.add_to_batch(key, waiting, ctx);
        Box::pin(async move { rx.await.unwrap_or_else(|_| Err(gone(&operation))) })
    }

    /// Puts an item in its batch, and makes sure the batch goes out: now if it is full, else at
    /// the end of the tick.
    fn add_to_batch(&mut self, key: BatchKey, waiting: batch::Waiting, ctx: &mut Context<Self>) {
        if let Some(e) = self.terminated_error(waiting.operation.clone()) {
            let _ = waiting.reply.send(Err(e));
            return;
        }
        let capacity = key.capacity();
        let index = match self.batches.iter().position(|(k, _)| *k == key) {
            Some(i) => i,
            None => {
                self.batches.push((key, batch::Pending::default()));
                self.batches.len() - 1
            }
        };
        let pending = &mut self.batches[index].1;
        pending.items.push(waiting);
        if pending.items.len() >= capacity {
            // Batches opened before the full one go first, so frames keep call order.
            self.flush_batches(ctx);
        } else if !self.flush_scheduled {
            // The end of this tick: everything batchable sent meanwhile shares the frame.
            self.flush_scheduled = true;
            // A yield, not a zero timer: the timer wheel's 1 ms resolution would add a
            // millisecond to every lone get. Tasks woken meanwhile run before this resumes.
            ctx.spawn(
                tokio::task::yield_now()
                    .into_actor(self)
                    .map(|(), act, ctx| {
                        act.flush_scheduled = false;
                        act.flush_batches(ctx);
                    }),
            );
        }
    }

    /// Sends every pending batch now, each as one request, and answers its items when it returns.
    pub(super) fn flush_batches(&mut self, ctx: &mut Context<Self>) {
        for (key, pending) in std::mem::take(&mut self.batches) {
            self.flush(key, pending, ctx);
        }
    }

    /// Before a request with this method goes out: sends the pending batches opened before it,
    /// so calls keep their order, except those that yield to it ([`BatchKey::yields_to`]),
    /// which wait for the end of the tick or a later request.
    pub(super) fn flush_before_request(&mut self, method: Method, ctx: &mut Context<Self>) {
        let (later, now): (Vec<_>, Vec<_>) = std::mem::take(&mut self.batches)
            .into_iter()
            .partition(|(key, _)| key.yields_to(method));
        self.batches = later;
        for (key, pending) in now {
            self.flush(key, pending, ctx);
        }
    }

    fn flush(&mut self, key: BatchKey, pending: batch::Pending, ctx: &mut Context<Self>) {
        if key == BatchKey::SubscribeUsers {
            self.user_subscribe_frames += 1;
        }
        let items: Vec<BatchItem> = pending.items.iter().map(|w| w.item.clone()).collect();
        let (route, data) = key.request(&items);
        let data = serde_json::value::to_raw_value(&data)
            .unwrap_or_else(|_| unreachable!("a JSON value serialises"));
        let request = Request {
            operation: pending
                .items
                .first()
                .map_or_else(|| "Batch".into(), |w| w.operation.clone()),
            method: route.method(),
            path: route.path().encode(),
            data,
        };
        let response = self.start(request, ctx);
        let retry_key = key.clone();
        ctx.spawn(
            async move {
                let result = response.await.and_then(|raw| {
                    serde_json::from_str::<Value>(raw.get()).map_err(|e| {
                        Error::new(
                            "Batch",
                            ErrorKind::Transport(format!("unreadable batch answer: {e}")),
                        )
                    })
                });
                let mut again = Vec::new();
                match result {
                    Ok(answer) => {
                        for (mut waiting, part) in
                            pending.items.into_iter().zip(key.split(&items, &answer))
                        {
                            let retry = key
                                .item_status(&part)
                                .is_some_and(|status| retries(status, &mut waiting.tries_500));
                            if retry {
                                waiting.retries += 1;
                                again.push(waiting);
                            } else {
                                let _ = waiting.reply.send(Ok(part));
                            }
                        }
                    }
                    Err(e) => {
                        for w in pending.items {
                            let _ = w.reply.send(Err(e.clone().with_operation(w.operation)));
                        }
                    }
                }
                if let Some(round) = again.iter().map(|w| w.retries).max() {
                    // The batch's own answer reset the session's throttle, so the refused
                    // actions pace themselves on the same schedule, counting their own rounds;
                    // then they share a new batch (with whatever else is queued by then).
                    let wait = retry_delay(round);
                    tracing::debug!(actions = again.len(), ?wait, "retrying batched actions");
                    tokio::time::sleep(wait).await;
                }
                again
            }
            .into_actor(self)
            .map(move |again, act, ctx| {
                for waiting in again {
                    act.add_to_batch(retry_key.clone(), waiting, ctx);
                }
            }),
        );
    }
}
