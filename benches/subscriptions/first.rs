//! Time to first snapshot: how long a new session takes from nothing to its first page of
//! messages on screen.
//!
//! The orchestrator seeds one conversation with [`SEEDED`] messages and [`RUNS`] + 1 users who
//! are its participants. The measured process then, for each user in turn: starts a session
//! (a fixed JWT, as the other measurements), subscribes to the conversation's messages and waits
//! for the subscription's first active snapshot, which must hold the newest 30 messages (the
//! first window, as the official client's). That span covers connecting, authenticating,
//! subscribing and loading the first page. The session is then ended before the next user. The
//! first user is a warm-up (first-use allocations, TLS configuration, the runtime's thread)
//! and is reported apart; the value is the median of the others.

use std::time::Instant;

use serde_json::{Value, json};

use super::{ACTIVE_TIMEOUT, Res, Target, within};

/// Messages in the conversation: more than one page.
pub(super) const SEEDED: usize = 40;
/// The first window of a messages subscription.
pub(super) const FIRST_PAGE: usize = 30;
/// Timed sessions after the warm-up.
pub(super) const RUNS: usize = 9;

/// The measured process: `users` in turn (the first is the warm-up), each to its first snapshot.
pub(super) async fn measure(target: &Target, conversation: &str, users: &[String]) -> Res<Value> {
    let mut times = Vec::with_capacity(users.len());
    for user in users {
        let t = Instant::now();
        let session = target.session(user).await?;
        let sub = session.conversation(conversation).subscribe_messages();
        let first = within(ACTIVE_TIMEOUT, sub.connected(), "the first snapshot").await??;
        let ms = t.elapsed().as_secs_f64() * 1e3;
        let shown = first.snapshot.as_ref().map_or(0, |l| l.len());
        if shown != FIRST_PAGE {
            return Err(
                format!("the first snapshot holds {shown} messages, not {FIRST_PAGE}").into(),
            );
        }
        times.push(ms);
        drop(sub);
        session.terminate("measured");
    }
    let (warm_up, timed) = times.split_first().ok_or("no users to time")?;
    Ok(json!({ "warm_up_ms": warm_up, "median_ms": median(timed), "times_ms": timed }))
}

/// The median of `values` (the mean of the middle two for an even count).
fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    match sorted.len() {
        0 => 0.0,
        n if n % 2 == 1 => sorted[n / 2],
        n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
    }
}
