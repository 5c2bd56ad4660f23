//! The memory measurements: N idle sessions with one subscription each (`idle`), N
//! subscriptions on one session (`shared`), the seeding they share and the memory readings.

use std::time::Instant;

use futures_util::future::{join, join_all};
use serde_json::{Value, json};
use talkjs::params::CreateUserParams;
use talkjs::{MessageSubscription, TalkSession};

use super::{ACTIVE_TIMEOUT, ALLOC, CHUNK, Res, SETTLE, Target, within};

/// N sessions, one subscription each.
pub(super) async fn idle_sessions(target: &Target, prefix: &str, n: usize) -> Res<Value> {
    let warm = target.session(&user_id(prefix, n)).await?;
    let sub = warm
        .conversation(conversation_id(prefix, n))
        .subscribe_messages();
    within(ACTIVE_TIMEOUT, sub.connected(), "the warm-up subscription").await??;
    sub.unsubscribe();
    warm.terminate("the warm-up is over");
    drop((sub, warm));

    let mut held: Vec<(TalkSession, MessageSubscription)> = Vec::with_capacity(n);
    let before = settled_memory().await?;
    let t = Instant::now();
    for start in (0..n).step_by(CHUNK) {
        let end = (start + CHUNK).min(n);
        for i in start..end {
            let session = target.session(&user_id(prefix, i)).await?;
            let sub = session
                .conversation(conversation_id(prefix, i))
                .subscribe_messages();
            held.push((session, sub));
        }
        let subs = held[start..end].iter().map(|(_, sub)| sub);
        await_active(subs, &format!("subscriptions {start}..{end}")).await?;
    }
    let subscribe_ms = t.elapsed().as_secs_f64() * 1e3;
    assert_active(held.iter().map(|(_, sub)| sub))?;
    let after = settled_memory().await?;
    assert_active(held.iter().map(|(_, sub)| sub))?;
    Ok(growth(before, after, subscribe_ms))
}

/// One session, N subscriptions.
pub(super) async fn idle_shared(target: &Target, prefix: &str, n: usize, hub: &str) -> Res<Value> {
    let session = target.session(hub).await?;
    // Stays subscribed, so the session and its socket are in the baseline.
    let warm = session
        .conversation(conversation_id(prefix, n))
        .subscribe_messages();
    within(ACTIVE_TIMEOUT, warm.connected(), "the warm-up subscription").await??;

    let mut subs: Vec<MessageSubscription> = Vec::with_capacity(n);
    let before = settled_memory().await?;
    let t = Instant::now();
    for start in (0..n).step_by(CHUNK) {
        let end = (start + CHUNK).min(n);
        subs.extend((start..end).map(|i| {
            session
                .conversation(conversation_id(prefix, i))
                .subscribe_messages()
        }));
        await_active(&subs[start..end], &format!("subscriptions {start}..{end}")).await?;
    }
    let subscribe_ms = t.elapsed().as_secs_f64() * 1e3;
    assert_active(&subs)?;
    let after = settled_memory().await?;
    assert_active(&subs)?;
    Ok(growth(before, after, subscribe_ms))
}

/// Waits until every subscription is active (or fails).
pub(super) async fn await_active<'a>(
    subs: impl IntoIterator<Item = &'a MessageSubscription>,
    what: &str,
) -> Res<()> {
    let connected = join_all(subs.into_iter().map(|sub| sub.connected()));
    for update in within(ACTIVE_TIMEOUT, connected, what).await? {
        update?;
    }
    Ok(())
}

/// Every subscription is active with a message list.
pub(super) fn assert_active<'a>(
    subs: impl IntoIterator<Item = &'a MessageSubscription>,
) -> Res<()> {
    let mut bad = subs
        .into_iter()
        .filter(|sub| !matches!(sub.latest(), Some(Some(_))));
    match bad.next() {
        None => Ok(()),
        Some(first) => Err(format!(
            "{} subscriptions are not active with a message list (first: {:?})",
            1 + bad.count(),
            first.state()
        )
        .into()),
    }
}

/// The live heap (bytes) and the resident set (pages).
#[derive(Clone, Copy)]
pub(super) struct Memory {
    heap: usize,
    rss_pages: u64,
}

/// Memory after letting timers, sockets and actors settle.
pub(super) async fn settled_memory() -> Res<Memory> {
    actix_rt::time::sleep(SETTLE).await;
    // /proc/self/statm: size resident shared text lib data dt, in pages.
    let statm = std::fs::read_to_string("/proc/self/statm")?;
    let rss_pages = statm
        .split_whitespace()
        .nth(1)
        .ok_or("/proc/self/statm has no resident field")?
        .parse()?;
    Ok(Memory {
        heap: ALLOC.allocated(),
        rss_pages,
    })
}

/// The growth between two readings, as a worker reports it.
pub(super) fn growth(before: Memory, after: Memory, subscribe_ms: f64) -> Value {
    json!({
        "heap": after.heap as i64 - before.heap as i64,
        "rss_pages": after.rss_pages as i64 - before.rss_pages as i64,
        "subscribe_ms": subscribe_ms,
    })
}

/// Users `{prefix}u00000..`, conversations `{prefix}c00000..` (n of each): conversation i has
/// the seeder (its creator), user i and `hub`.
pub(super) async fn seed_idle(seeder: &TalkSession, prefix: &str, n: usize, hub: &str) -> Res<()> {
    let users: Vec<String> = (0..n)
        .map(|i| user_id(prefix, i))
        .chain([hub.to_owned()])
        .collect();
    for chunk in users.chunks(200) {
        let creates = chunk.iter().map(|id| async move {
            seeder
                .user(id.as_str())
                .create_if_not_exists(CreateUserParams::new(id.as_str()))
                .await
        });
        for created in join_all(creates).await {
            created?;
        }
    }
    let indices: Vec<usize> = (0..n).collect();
    for chunk in indices.chunks(100) {
        let creates = chunk.iter().map(|&i| async move {
            let conv = seeder.conversation(conversation_id(prefix, i));
            conv.create_if_not_exists(Default::default()).await?;
            let (user, hub) = join(
                conv.participant(user_id(prefix, i))
                    .create_if_not_exists(Default::default()),
                conv.participant(hub)
                    .create_if_not_exists(Default::default()),
            )
            .await;
            user.and(hub)
        });
        for created in join_all(creates).await {
            created?;
        }
    }
    Ok(())
}

pub(super) fn user_id(prefix: &str, i: usize) -> String {
    format!("{prefix}u{i:05}")
}

pub(super) fn conversation_id(prefix: &str, i: usize) -> String {
    format!("{prefix}c{i:05}")
}
