//! How a feed delivers: a catch-up (what conversations missed since their cursors, merged by
//! creation time), the delivery of new messages through the outlet (hydrated together, queued
//! while there is room, the rest left *behind*), and catching up what was left behind once the
//! consumer has made room. Each step holds the actor's mailbox while it needs the server.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use actix::prelude::*;
use futures_util::FutureExt;
use talkjs_protocol::snapshot::MessageSnapshot;
use talkjs_protocol::wire::MessageWire;

use super::actor::{Deferred, FeedActor, FollowUp, RETRY_DELAY};
use super::gap;
use super::item::{FeedItem, NewMessage};
use crate::subscription::hydrate::{self, Fetch};

impl FeedActor {
    /// Reads what each conversation missed since its cursor, and delivers it merged by creation
    /// time (holding the mailbox meanwhile).
    pub(super) fn catch_up(&mut self, mut conversations: Vec<String>, ctx: &mut Context<Self>) {
        conversations.sort();
        conversations.dedup();
        let reads: Vec<_> = conversations
            .iter()
            .filter_map(|c| {
                let cursor = self.cursors.get(c)?.clone();
                self.behind.remove(c);
                let read = gap::since(&self.env.session, c, cursor, self.options.gap_limit());
                let c = c.clone();
                Some(read.map(move |r| (c, r)))
            })
            .collect();
        if reads.is_empty() {
            return;
        }
        self.stats.catch_ups += 1;
        ctx.wait(futures_util::future::join_all(reads).into_actor(self).map(
            |results, act, ctx| {
                let mut batch = Vec::new();
                let mut lagged = Vec::new();
                let mut failed = false;
                for (c, result) in results {
                    match result {
                        Ok(gap) if !gap.visible => act.unfollow(&c),
                        Ok(gap) => {
                            if gap.lagged
                                && let (Some(first), Some(cursor)) =
                                    (gap.messages.first(), act.cursors.get_mut(&c))
                            {
                                cursor.jump_to(first.created_at.saturating_sub(1));
                                lagged.push(c.clone());
                            }
                            batch.extend(gap.messages.into_iter().map(|m| (c.clone(), m)));
                        }
                        Err(e) => {
                            tracing::debug!(error = %e, conversation = %c, "catch-up failed");
                            act.behind.insert(c);
                            failed = true;
                        }
                    }
                }
                // Merged by creation time; each conversation's own order is kept (stable sort).
                batch.sort_by_key(|(_, m)| m.created_at);
                let (batch, deferred) = act.defer_past_horizon(batch, ctx);
                act.deliver(batch, lagged, ctx);
                // Behind only now: what they had up to the horizon was just delivered with the
                // rest (a conversation that is behind is skipped by `deliver`).
                act.behind.extend(deferred);
                if failed {
                    act.retry_later(ctx);
                }
            },
        ));
    }

    /// Delivers new messages in this order: hydrated together, then queued one by one while the
    /// queue takes them; a conversation whose message is refused is behind from there on.
    pub(super) fn deliver(
        &mut self,
        batch: Vec<(String, MessageWire)>,
        lagged: Vec<String>,
        ctx: &mut Context<Self>,
    ) {
        let me = self.env.me.clone();
        let own = |m: &MessageWire| m.sender_id.as_deref() == Some(&*me);
        let mut wanted = Vec::new();
        let mut room = self.outlet.room();
        for (c, m) in batch {
            if self.behind.contains(&c) || !self.cursors.is_new(&c, &m) {
                continue;
            }
            let shown = self.options.includes_own() || !own(&m);
            if shown && room == 0 {
                // No room: no point hydrating; a catch-up reads it again.
                self.behind.insert(c);
                self.stats.refused += 1;
                continue;
            }
            room -= usize::from(shown);
            wanted.push((c, m));
        }
        if wanted.is_empty() && lagged.is_empty() {
            return;
        }
        let mut by_conversation: HashMap<&str, Vec<MessageWire>> = HashMap::new();
        for (c, m) in &wanted {
            if self.options.includes_own() || !own(m) {
                by_conversation.entry(c).or_default().push(m.clone());
            }
        }
        let hydrations: Vec<_> = by_conversation
            .into_iter()
            .map(|(c, wires)| {
                let c = c.to_owned();
                hydrate::messages(
                    self.env.clone(),
                    Fetch::Watched(self.watcher.clone()),
                    c.clone(),
                    wires,
                    HashMap::new(),
                )
                .map(move |r| (c, r))
            })
            .collect();
        let include_own = self.options.includes_own();
        ctx.wait(
            futures_util::future::join_all(hydrations)
                .into_actor(self)
                .map(move |results, act, ctx| {
                    // What a feed shows is not kept current, so its senders need not stay watched.
                    act.env.cache.unwatch(act.watcher.id);
                    let mut shown: HashMap<(String, String), Arc<MessageSnapshot>> = HashMap::new();
                    let mut failed = false;
                    for (c, result) in results {
                        match result {
                            Ok(h) => shown.extend(
                                h.messages
                                    .into_iter()
                                    .map(|m| ((c.clone(), m.id.clone()), m)),
                            ),
                            Err(e) => {
                                tracing::debug!(error = %e, conversation = %c, "hydration failed");
                                act.behind.insert(c);
                                failed = true;
                            }
                        }
                    }
                    for c in lagged {
                        act.stats.lagged += 1;
                        act.outlet.notice(FeedItem::Lagged {
                            conversation: c.into(),
                        });
                    }
                    // `wanted` was chosen with the room there was: its conversations may be
                    // behind for their later messages, but these go first. A conversation stops
                    // at its first message not taken, so its cursor never passes a gap.
                    let mut stopped: HashSet<String> = HashSet::new();
                    for (c, m) in wanted {
                        if stopped.contains(&c) || !act.cursors.is_new(&c, &m) {
                            continue;
                        }
                        let taken = if !include_own && m.sender_id.as_deref() == Some(&*act.env.me)
                        {
                            true
                        } else {
                            match shown.remove(&(c.clone(), m.id.clone())) {
                                Some(message) => act.outlet.offer(FeedItem::Message(NewMessage {
                                    conversation: c.as_str().into(),
                                    message,
                                })),
                                None => false,
                            }
                        };
                        match act.cursors.get_mut(&c) {
                            Some(cursor) if taken => cursor.advance(&m),
                            _ => {
                                act.stats.refused += 1;
                                act.behind.insert(c.clone());
                                stopped.insert(c);
                            }
                        }
                    }
                    act.outlet.pump(ctx.address().recipient());
                    if failed {
                        act.retry_later(ctx);
                    } else {
                        // The consumer may have taken everything at once (no hand-over to wait
                        // for): what was refused is read now.
                        act.catch_up_behind(ctx);
                    }
                }),
        );
    }

    /// Splits a catch-up's merged `batch` into what this feed may deliver now and the
    /// conversations of what it leaves for a [`FollowUp`] (the caller marks them behind once
    /// the rest is delivered).
    ///
    /// A catch-up reads the server as it is now, but the events of messages sent while it read
    /// may still be in the mailbox (it holds the mailbox while it reads). Among them can be a
    /// message of a conversation that is not being caught up, older than messages the catch-up
    /// found: delivering those first would put that message out of order when its event comes.
    /// So a catch-up delivers only up to the horizon, the newest message whose event was
    /// handled, and the newer ones' conversations stay behind. The feed then sends itself a
    /// [`FollowUp`], which comes after the events already in the mailbox: they move the horizon
    /// on and mark their conversations behind too, and the next catch-up merges them all. When
    /// no event came in between, the newer messages have none coming (they were sent while the
    /// socket was down, or before a conversation's messages were subscribed), and the next
    /// catch-up delivers everything.
    pub(super) fn defer_past_horizon(
        &mut self,
        mut batch: Vec<(String, MessageWire)>,
        ctx: &mut Context<Self>,
    ) -> (Vec<(String, MessageWire)>, Vec<String>) {
        let unbounded = self.deferred.is_some_and(|d| d.at == self.horizon);
        self.deferred = None;
        if unbounded {
            return (batch, Vec::new());
        }
        let keep = batch.partition_point(|(_, m)| m.created_at <= self.horizon);
        if keep == batch.len() {
            return (batch, Vec::new());
        }
        let mut deferred: Vec<String> = batch.drain(keep..).map(|(c, _)| c).collect();
        deferred.sort();
        deferred.dedup();
        self.stats.deferred += 1;
        self.deferred = Some(Deferred {
            at: self.horizon,
            pending: true,
        });
        ctx.address().do_send(FollowUp);
        (batch, deferred)
    }

    /// Catches up the conversations that are behind once the queue has room again (at most half
    /// full, so one catch-up delivers many messages rather than one), and not before the
    /// [`FollowUp`] of a catch-up that deferred messages.
    pub(super) fn catch_up_behind(&mut self, ctx: &mut Context<Self>) {
        if self.behind.is_empty()
            || self.outlet.waiting() > self.options.buffer_size() / 2
            || self.deferred.is_some_and(|d| d.pending)
        {
            return;
        }
        let behind: Vec<String> = self.behind.iter().cloned().collect();
        self.catch_up(behind, ctx);
    }

    pub(super) fn retry_later(&mut self, ctx: &mut Context<Self>) {
        if self.retry.is_some() {
            return;
        }
        self.retry = Some(ctx.run_later(RETRY_DELAY, |act, ctx| {
            act.retry = None;
            act.catch_up_behind(ctx);
        }));
    }
}
