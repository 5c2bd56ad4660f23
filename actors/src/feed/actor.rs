//! [`FeedActor`]: the actor behind a feed of new messages (see the module docs of
//! [`crate::feed`]).
//!
//! Everything that changes what was delivered runs in mailbox order, and work that needs the
//! server (hydrating a message's sender, a catch-up) holds the mailbox until it is done
//! (`ctx.wait`), so a later event never overtakes an earlier message or a catch-up.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use talkjs_protocol::event::Event;
use talkjs_protocol::path::Topic;
use talkjs_protocol::wire::{ConversationWire, Millis};
use tokio::sync::watch;

use super::cursor::{Cursor, Cursors};
use super::gap;
use super::handle::{FeedState, FeedStats};
use super::item::{FeedItem, FeedOptions};
use super::outlet::{Outlet, Target, Unblocked};
use crate::cache::{UserUpdated, Watcher};
use crate::error::Error;
use crate::session::handle::{Attachment, TopicGuard};
use crate::session::routes::{RouteKey, Routed};
use crate::subscription::{Env, Terminated};

/// How long a feed waits before it retries a catch-up or a hydration that failed (the next
/// reconnect retries sooner).
pub const RETRY_DELAY: Duration = Duration::from_secs(1);

/// What a feed follows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Scope {
    /// One conversation.
    Conversation(String),
    /// Every conversation of the session's user, including those they join later.
    Session,
}

/// Hand items to this consumer from now on.
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct SetTarget(pub(crate) Target);

/// A catch-up deferred messages newer than the feed's horizon (see [`FeedActor::catch_up`]).
#[derive(Debug, Clone, Copy)]
pub(super) struct Deferred {
    /// The horizon when they were deferred.
    pub(super) at: Millis,
    /// Its [`FollowUp`] is still in the mailbox.
    pub(super) pending: bool,
}

/// Sent by the feed to itself after a catch-up deferred messages: handled once the events
/// already in the mailbox are, it catches up again.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub(super) struct FollowUp;

/// End the feed.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub(crate) struct Stop;

/// The feed's statistics.
#[derive(Debug, Message)]
#[rtype(result = "FeedStats")]
pub(crate) struct GetStats;

/// See the module docs.
pub(crate) struct FeedActor {
    pub(super) env: Env,
    id: u64,
    scope: Scope,
    pub(super) options: FeedOptions,
    state: Arc<watch::Sender<FeedState>>,
    pub(super) watcher: Watcher,
    pub(super) cursors: Cursors,
    /// The conversation list's topic (session) or the conversation's message topic.
    primary: Option<TopicGuard>,
    /// Session scope: each followed conversation's message topic.
    topics: HashMap<String, TopicGuard>,
    attachment: Option<Attachment>,
    pub(super) outlet: Outlet,
    /// Conversations whose cursor is behind what was announced (refused by a full queue, or a
    /// failed fetch): their events wait for a catch-up.
    pub(super) behind: HashSet<String>,
    pub(super) retry: Option<SpawnHandle>,
    /// The creation time of the newest message whose event this feed has handled, in any
    /// conversation it follows (see [`FeedActor::catch_up`]'s bound).
    pub(super) horizon: Millis,
    /// A catch-up left messages newer than [`FeedActor::horizon`] for later: the horizon it
    /// had then, and whether its [`FollowUp`] is still in the mailbox.
    pub(super) deferred: Option<Deferred>,
    /// The last item (`Ended`) was handed to the outlet.
    finished: bool,
    pub(super) stats: FeedStats,
}

impl FeedActor {
    pub(crate) fn new(
        env: Env,
        id: u64,
        scope: Scope,
        options: FeedOptions,
        state: Arc<watch::Sender<FeedState>>,
        watcher: Watcher,
    ) -> FeedActor {
        FeedActor {
            outlet: Outlet::new(options.buffer_size()),
            env,
            id,
            scope,
            options,
            state,
            watcher,
            cursors: Cursors::default(),
            primary: None,
            topics: HashMap::new(),
            attachment: None,
            behind: HashSet::new(),
            retry: None,
            horizon: 0,
            deferred: None,
            finished: false,
            stats: FeedStats::default(),
        }
    }

    fn is_ended(&self) -> bool {
        matches!(*self.state.borrow(), FeedState::Ended(_))
    }

    fn end(&mut self, how: Terminated, ctx: &mut Context<Self>) {
        self.finish(how);
        ctx.stop();
    }

    /// Ends the state (unless a handle ended it first: `unsubscribe` is immediate) and hands
    /// the consumer its last item, saying how it ended.
    fn finish(&mut self, how: Terminated) {
        self.state.send_if_modified(|s| {
            if matches!(s, FeedState::Ended(_)) {
                return false;
            }
            *s = FeedState::Ended(how);
            true
        });
        if std::mem::replace(&mut self.finished, true) {
            return;
        }
        let how = match &*self.state.borrow() {
            FeedState::Ended(how) => how.clone(),
            _ => Terminated::Unsubscribed,
        };
        self.outlet.finish(FeedItem::Ended(how));
    }

    /// Where this scope reads where conversations stand: the conversation, or all of them.
    fn load(
        &self,
    ) -> futures_util::future::BoxFuture<'static, Result<Vec<ConversationWire>, Error>> {
        match &self.scope {
            Scope::Conversation(c) => {
                let one = gap::conversation(&self.env.session, c);
                Box::pin(one.map(|r| r.map(|c| c.into_iter().collect())))
            }
            Scope::Session => gap::all_conversations(&self.env.session),
        }
    }

    /// Starts following `conversation` from `cursor` (and, for the session, holds its message
    /// topic, so its `SUBSCRIBE` goes out before any catch-up's `GET`). With `answer`, the
    /// future of the `SUBSCRIBE`'s answer (a session going live waits for them all).
    fn follow(
        &mut self,
        conversation: &str,
        cursor: Cursor,
        answer: bool,
    ) -> Option<BoxFuture<'static, Result<(), Error>>> {
        if !self.cursors.follow(conversation, cursor) || self.scope != Scope::Session {
            return None;
        }
        let topic = Topic::Messages {
            conversation: conversation.to_owned(),
        };
        let (guard, subscribed) = if answer {
            let (guard, subscribed) = self.env.session.subscribe_topic(topic);
            (guard, Some(subscribed))
        } else {
            (self.env.session.hold(topic), None)
        };
        self.topics.insert(conversation.to_owned(), guard);
        subscribed
    }

    pub(super) fn unfollow(&mut self, conversation: &str) {
        self.cursors.forget(conversation);
        self.behind.remove(conversation);
        self.topics.remove(conversation);
    }

    /// Installs a listing of where conversations stand: new conversations are followed (from
    /// their last message at the start; after a reconnect, from when the user joined, since
    /// they joined while the socket was down), ones that moved on are caught up, and (after a
    /// reconnect) ones no longer listed are dropped.
    fn install(
        &mut self,
        listed: Vec<ConversationWire>,
        initial: bool,
        ctx: &mut Context<Self>,
    ) -> Vec<BoxFuture<'static, Result<(), Error>>> {
        let mut catch = Vec::new();
        let mut subscribed = Vec::new();
        let ids: HashSet<String> = listed.iter().map(|c| c.id.clone()).collect();
        for c in listed {
            match self.cursors.get(&c.id) {
                None if initial => {
                    subscribed.extend(self.follow(&c.id, Cursor::after(c.last_message_at), true));
                }
                None => {
                    self.follow(&c.id, Cursor::after(c.joined_at), false);
                    if c.last_message_at > c.joined_at {
                        catch.push(c.id);
                    }
                }
                Some(cursor) if c.last_message_at > cursor.at() => catch.push(c.id),
                Some(_) => {}
            }
        }
        if !initial {
            let gone: Vec<String> = self
                .cursors
                .conversations()
                .filter(|c| !ids.contains(*c))
                .cloned()
                .collect();
            for c in gone {
                self.unfollow(&c);
            }
            catch.extend(self.behind.iter().cloned());
        }
        self.catch_up(catch, ctx);
        subscribed
    }

    fn on_event(&mut self, event: &Event, ctx: &mut Context<Self>) {
        let Some(c) = event.conversation_id() else {
            return;
        };
        if let Scope::Conversation(mine) = &self.scope
            && mine != c
        {
            return;
        }
        if let Event::MessageCreated(e) = event
            && self.cursors.get(c).is_some()
        {
            self.horizon = self.horizon.max(e.state.created_at);
        }
        match event {
            // While another conversation is behind, this one waits too: the catch-up merges
            // them by creation time, so the order across conversations holds.
            Event::MessageCreated(e)
                if !self.behind.is_empty()
                    && !self.behind.contains(c)
                    && self.cursors.is_new(c, &e.state) =>
            {
                self.behind.insert(c.to_owned());
                self.stats.refused += 1;
            }
            Event::MessageCreated(e) => {
                self.deliver(vec![(c.to_owned(), e.state.clone())], Vec::new(), ctx);
            }
            Event::SideCreated(e) if self.cursors.get(c).is_none() => {
                self.follow(c, Cursor::after(e.state.joined_at), false);
                // The session subscribes to the conversation's messages only now: read what was
                // sent since the user joined.
                if self.scope == Scope::Session {
                    self.catch_up(vec![c.to_owned()], ctx);
                }
            }
            Event::SideDeleted(_) => self.unfollow(c),
            // The list says the conversation moved on, but its messages did not all arrive
            // (the session had not subscribed to them yet when they were sent).
            Event::SideEdited(e) => {
                let moved_on = match (e.diff.last_message_at, self.cursors.get(c)) {
                    (Some(t), Some(cursor)) => t > cursor.at(),
                    _ => false,
                };
                if moved_on && !self.behind.contains(c) {
                    self.catch_up(vec![c.to_owned()], ctx);
                }
            }
            _ => {}
        }
    }
}

impl Actor for FeedActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        if self.is_ended() {
            ctx.stop();
            return;
        }
        let (keys, topic) = match &self.scope {
            Scope::Conversation(c) => (
                vec![RouteKey::Conversation(c.clone())],
                Topic::Messages {
                    conversation: c.clone(),
                },
            ),
            Scope::Session => (vec![RouteKey::AllConversations], Topic::Conversations),
        };
        self.attachment = Some(self.env.session.attach_resyncing(
            self.id,
            keys,
            ctx.address().recipient(),
        ));
        // SUBSCRIBE first, then the GETs: the session keeps their order on the wire, so nothing
        // sent after the listing is missed.
        let (guard, subscribed) = self.env.session.subscribe_topic(topic);
        self.primary = Some(guard);
        let load = self.load();
        let work = async move {
            let (subscribed, loaded) = futures_util::future::join(subscribed, load).await;
            subscribed?;
            loaded
        };
        ctx.wait(work.into_actor(self).map(|result, act, ctx| match result {
            Ok(listed) => {
                // Live once every conversation's messages are subscribed: anything sent from
                // then on arrives as an event (what was sent between the listing and the
                // subscription is caught up through `side.edited`).
                let subscribed = act.install(listed, true, ctx);
                let all = futures_util::future::join_all(subscribed);
                ctx.wait(all.into_actor(act).map(|answers, act, _| {
                    for e in answers.into_iter().filter_map(Result::err) {
                        tracing::debug!(error = %e, "a feed's conversation was not subscribed");
                    }
                    act.state.send_if_modified(|s| {
                        if matches!(s, FeedState::Starting) {
                            *s = FeedState::Live;
                            return true;
                        }
                        false
                    });
                }));
            }
            Err(e) => act.end(Terminated::Error(e), ctx),
        }));
    }

    fn stopped(&mut self, _ctx: &mut Context<Self>) {
        self.attachment = None;
        self.primary = None;
        self.topics.clear();
        self.env.cache.unwatch(self.watcher.id);
        self.finish(Terminated::Unsubscribed);
    }
}

impl Handler<Routed> for FeedActor {
    type Result = ();

    fn handle(&mut self, msg: Routed, ctx: &mut Context<Self>) {
        match msg {
            Routed::Event(event) => self.on_event(&event, ctx),
            Routed::Resync => {
                let load = self.load();
                ctx.wait(load.into_actor(self).map(|result, act, ctx| match result {
                    Ok(listed) => {
                        act.install(listed, false, ctx);
                    }
                    Err(e) => {
                        // The socket may have dropped again; the next resync retries.
                        tracing::debug!(error = %e, "feed refetch after reconnect failed");
                        let all: Vec<String> = act.cursors.conversations().cloned().collect();
                        act.behind.extend(all);
                        act.retry_later(ctx);
                    }
                }));
            }
            Routed::Ended(e) => self.end(Terminated::Error(e), ctx),
            // Attached without `finds`: never asked.
            Routed::Find(..) => {}
        }
    }
}

impl Handler<UserUpdated> for FeedActor {
    type Result = ();

    /// A delivered message is not updated afterwards.
    fn handle(&mut self, _: UserUpdated, _ctx: &mut Context<Self>) {}
}

impl Handler<SetTarget> for FeedActor {
    type Result = ();

    fn handle(&mut self, SetTarget(target): SetTarget, ctx: &mut Context<Self>) {
        self.outlet.set_target(target, ctx.address().recipient());
        self.catch_up_behind(ctx);
    }
}

impl Handler<Unblocked> for FeedActor {
    type Result = ();

    fn handle(&mut self, _: Unblocked, ctx: &mut Context<Self>) {
        self.outlet.unblocked(ctx.address().recipient());
        self.catch_up_behind(ctx);
    }
}

impl Handler<FollowUp> for FeedActor {
    type Result = ();

    fn handle(&mut self, _: FollowUp, ctx: &mut Context<Self>) {
        if let Some(deferred) = &mut self.deferred {
            deferred.pending = false;
        }
        self.catch_up_behind(ctx);
    }
}

impl Handler<Stop> for FeedActor {
    type Result = ();

    fn handle(&mut self, _: Stop, ctx: &mut Context<Self>) {
        self.end(Terminated::Unsubscribed, ctx);
    }
}

impl Handler<GetStats> for FeedActor {
    type Result = MessageResult<GetStats>;

    fn handle(&mut self, _: GetStats, _ctx: &mut Context<Self>) -> Self::Result {
        MessageResult(FeedStats {
            conversations: self.cursors.len(),
            remembered_ids: self.cursors.remembered(),
            waiting: self.outlet.waiting(),
            behind: self.behind.len(),
            ..self.stats
        })
    }
}
