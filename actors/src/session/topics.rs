//! Wire topics shared by subscriptions: a `SUBSCRIBE` is sent once per topic however many hold
//! it (several filtered conversation lists share `/me/conversations`; a conversation and its
//! message list share `/me/conversations/{c}/messages`). Holders hold a
//! [`TopicGuard`](super::handle::TopicGuard), which releases on drop; the last release sends
//! `UNSUBSCRIBE` after [`Timings::unsubscribe_delay`](crate::connection::Timings), so a
//! subscription that is dropped and re-made at once costs no frames. Users are the exception:
//! the user cache lingers them itself, so their release is immediate. While any topic is held
//! the connection stays open.
//!
//! After a lost socket, the next one re-sends a `SUBSCRIBE` for every held topic and then
//! tells every attached actor to refetch ([`Routed::Resync`](super::routes::Routed)), unless
//! the server announced its restart (`upstream.restarting`), as the official client does; feeds
//! of new messages refetch even then (they promise every message).

use actix::prelude::*;
use futures_util::FutureExt;
use futures_util::future::LocalBoxFuture;
use serde_json::value::RawValue;
use talkjs_protocol::frame::Method;
use talkjs_protocol::path::Topic;
use talkjs_protocol::request::SubscribeUsersRequest;
use tracing::Instrument;

use super::Session;
use super::pipeline::Request;
use super::routes::{Subscribed, TopicEntry};
use crate::batch::{self, BatchItem, BatchKey};
use crate::connection::SetSubscriptions;
use crate::error::Error;

/// Hold a wire topic: the first holder's `SUBSCRIBE` goes out, later holders share its answer.
/// Sent by [`SessionHandle::hold`](super::handle::SessionHandle::hold), whose guard sends the
/// matching [`Release`].
#[derive(Debug, Message)]
#[rtype(result = "Result<(), Error>")]
pub(crate) struct Hold(pub(crate) Topic);

/// Let go of a topic held with [`Hold`] (sent by a guard's drop).
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub(crate) struct Release(pub(crate) Topic);

/// A topic's path without the leading slash, as error messages name it.
pub(crate) fn topic_name(topic: &Topic) -> String {
    topic.path().encode().trim_start_matches('/').to_owned()
}

/// An empty request body, `{}`.
pub(crate) fn empty_data() -> Box<RawValue> {
    RawValue::from_string("{}".to_owned()).unwrap_or_else(|_| unreachable!("valid JSON"))
}

impl Handler<Hold> for Session {
    type Result = ResponseFuture<Result<(), Error>>;

    fn handle(&mut self, Hold(topic): Hold, ctx: &mut Context<Self>) -> Self::Result {
        if let Some(e) =
            self.terminated_error(format!("Subscribe to {}", topic_name(&topic)).into())
        {
            return Box::pin(async move { Err(e) });
        }
        if let Some(entry) = self.topics.get_mut(&topic) {
            entry.holders += 1;
            if let Some(h) = entry.linger.take() {
                ctx.cancel_future(h);
            }
            return Box::pin(entry.subscribed.answer());
        }
        let answer = self.send_subscribe(&topic, ctx).shared();
        // Driven to completion here, so the answer is known even if no holder awaits it; then
        // the entry keeps the answer instead of the shared future.
        let key = topic.clone();
        let awaited = answer.clone();
        ctx.spawn(answer.clone().into_actor(self).map(move |result, act, _| {
            if let Some(entry) = act.topics.get_mut(&key)
                && let Subscribed::Pending(pending) = &entry.subscribed
                // Not a later `SUBSCRIBE` of the same topic, held again after a release.
                && pending.ptr_eq(&awaited)
            {
                entry.subscribed = Subscribed::Answered(result.err().map(Box::new));
            }
        }));
        self.topics.insert(
            topic,
            TopicEntry {
                holders: 1,
                subscribed: Subscribed::Pending(answer.clone()),
                linger: None,
            },
        );
        self.count_topics();
        Box::pin(answer)
    }
}

impl Handler<Release> for Session {
    type Result = ();

    fn handle(&mut self, Release(topic): Release, ctx: &mut Context<Self>) {
        let Some(entry) = self.topics.get_mut(&topic) else {
            return;
        };
        entry.holders = entry.holders.saturating_sub(1);
        if entry.holders > 0 {
            return;
        }
        // A refused subscription is dropped at once, as the official client does; users were
        // already lingered by the cache.
        let failed = entry.subscribed.failed();
        if failed || matches!(topic, Topic::User { .. }) {
            return self.unsubscribe_now(topic, ctx);
        }
        let delay = self.timings.unsubscribe_delay;
        let key = topic.clone();
        entry.linger = Some(ctx.run_later(delay, move |act, ctx| {
            if act.topics.get(&key).is_some_and(|e| e.holders == 0) {
                act.unsubscribe_now(key, ctx);
            }
        }));
    }
}

impl Session {
    /// Sends a topic's `SUBSCRIBE` (users through the `/users` batch) and returns its answer.
    fn send_subscribe(
        &mut self,
        topic: &Topic,
        ctx: &mut Context<Self>,
    ) -> LocalBoxFuture<'static, Result<(), Error>> {
        let operation: std::sync::Arc<str> = format!("Subscribe to {}", topic_name(topic)).into();
        if let Topic::User { user } = topic {
            let answer = self.enqueue(
                operation,
                BatchKey::SubscribeUsers,
                BatchItem::User(user.clone()),
                ctx,
            );
            return answer.map(|r| r.map(|_| ())).boxed_local();
        }
        self.flush_before_request(Method::Subscribe, ctx);
        let request = Request {
            operation,
            method: Method::Subscribe,
            path: topic.path().encode(),
            data: empty_data(),
        };
        self.start(request, ctx)
            .map(|r| r.map(|_| ()))
            .boxed_local()
    }

    /// Sends a topic's `UNSUBSCRIBE` now and forgets it.
    fn unsubscribe_now(&mut self, topic: Topic, ctx: &mut Context<Self>) {
        if self.topics.remove(&topic).is_none() || self.terminated.is_some() {
            return;
        }
        self.flush_batches(ctx);
        let request = Request {
            operation: format!("Unsubscribe from {}", topic_name(&topic)).into(),
            method: Method::Unsubscribe,
            path: topic.path().encode(),
            data: empty_data(),
        };
        let answer = self.start(request, ctx);
        ctx.spawn(
            async move {
                if let Err(e) = answer.await {
                    tracing::debug!(error = %e, "unsubscribe failed");
                }
            }
            .instrument(self.span.clone())
            .into_actor(self),
        );
        self.count_topics();
    }

    /// Tells the connection how many topics are held (it stays open while any is).
    fn count_topics(&self) {
        if let Some(conn) = &self.connection
            && conn.connected()
        {
            conn.do_send(SetSubscriptions(self.topics.len()));
        }
    }

    /// On a new socket after a lost one: every held topic is subscribed again (users in frames
    /// of up to 1000 ids), then every subscription refetches, unless the server announced its
    /// restart.
    pub(super) fn resubscribe(&mut self, ctx: &mut Context<Self>) {
        self.flush_batches(ctx);
        let mut users = Vec::new();
        let mut others = Vec::new();
        for topic in self.topics.keys() {
            match topic {
                Topic::User { user } => users.push(user.clone()),
                other => others.push(other.clone()),
            }
        }
        users.sort();
        others.sort();
        let mut requests = Vec::new();
        for chunk in users.chunks(batch::MAX_USERS) {
            let data =
                serde_json::value::to_raw_value(&SubscribeUsersRequest::new(chunk.iter().cloned()))
                    .unwrap_or_else(|_| empty_data());
            requests.push(Request {
                operation: "Resubscribe to users".into(),
                method: Method::Subscribe,
                path: Topic::Users.path().encode(),
                data,
            });
        }
        for topic in others {
            requests.push(Request {
                operation: format!("Resubscribe to {}", topic_name(&topic)).into(),
                method: Method::Subscribe,
                path: topic.path().encode(),
                data: empty_data(),
            });
        }
        for request in requests {
            let answer = self.start(request, ctx);
            ctx.spawn(
                async move {
                    if let Err(e) = answer.await {
                        tracing::warn!(error = %e, "resubscribe failed");
                    }
                }
                .instrument(self.span.clone())
                .into_actor(self),
            );
        }
        if std::mem::take(&mut self.upstream_restarting) {
            self.routes.resync_always();
            return;
        }
        for sink in &self.sinks {
            sink.resync();
        }
        self.routes.resync();
    }
}
