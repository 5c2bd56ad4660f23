//! What webhooks cost the realtime path (issue 16): the time from a client's send to another
//! client's `message.created`, measured side by side in one run with no webhook receiver, a
//! receiver that answers at once, and one that never answers (every event waits for its 5 s
//! timeout). Delivery runs off the world's lock, so the three should match.
//!
//! Not a criterion bench: latencies printed as a table, with the ratios to the run without
//! webhooks. Run with `cargo bench -p talkjs-emulator --bench webhooks` (release build).

// A bench binary: its helpers need no docs.
#![allow(missing_docs)]

use std::time::Duration;

use talkjs_emulator::Emulator;

#[path = "../tests/common/mod.rs"]
mod common;
use common::message_latencies;
use common::receiver::{Behaviour, Receiver};

/// Messages timed per scenario and round.
const MESSAGES: usize = 200;
/// Rounds; each runs the three scenarios in turn, so a change in the machine's load (two shared
/// cores) falls on all three alike.
const ROUNDS: usize = 5;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let at = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[at]
}

async fn scenario(receiver: Option<&Receiver>) -> Vec<Duration> {
    let mut builder = Emulator::builder().app_id("app1");
    if let Some(r) = receiver {
        builder = builder.webhook_url(&r.url);
    }
    let emu = builder.start("127.0.0.1:0").await.expect("emulator starts");
    let latencies = message_latencies(&emu, MESSAGES).await;
    emu.stop().await;
    latencies
}

#[actix_rt::main]
async fn main() {
    let ok = Receiver::start(Behaviour::AT_ONCE).await;
    let hang = Receiver::start(Behaviour::Hang).await;
    let mut runs: [Vec<Duration>; 3] = Default::default();
    for _ in 0..ROUNDS {
        runs[0].extend(scenario(None).await);
        runs[1].extend(scenario(Some(&ok)).await);
        runs[2].extend(scenario(Some(&hang)).await);
    }
    for r in &mut runs {
        r.sort();
    }
    let base = percentile(&runs[0], 0.5);
    println!("send -> subscriber latency, {ROUNDS} rounds of {MESSAGES} messages per receiver");
    println!(
        "{:<20} {:>12} {:>12} {:>10}",
        "receiver", "median", "p99", "ratio p50"
    );
    for (name, r) in ["none", "answers at once", "never answers"]
        .iter()
        .zip(&runs)
    {
        let (p50, p99) = (percentile(r, 0.5), percentile(r, 0.99));
        println!(
            "{name:<20} {p50:>12?} {p99:>12?} {:>10.2}",
            p50.as_secs_f64() / base.as_secs_f64()
        );
    }
    ok.stop().await;
    hang.stop().await;
}
