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

/// Messages timed per scenario.
const MESSAGES: usize = 500;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let at = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[at]
}

async fn scenario(receiver: Option<&Receiver>) -> (Duration, Duration) {
    let mut builder = Emulator::builder().app_id("app1");
    if let Some(r) = receiver {
        builder = builder.webhook_url(&r.url);
    }
    let emu = builder.start("127.0.0.1:0").await.expect("emulator starts");
    let mut latencies = message_latencies(&emu, MESSAGES).await;
    emu.stop().await;
    latencies.sort();
    (percentile(&latencies, 0.5), percentile(&latencies, 0.99))
}

#[actix_rt::main]
async fn main() {
    let plain = scenario(None).await;
    let ok = Receiver::start(Behaviour::AT_ONCE).await;
    let healthy = scenario(Some(&ok)).await;
    let hang = Receiver::start(Behaviour::Hang).await;
    let hanging = scenario(Some(&hang)).await;
    println!("send -> subscriber latency over {MESSAGES} messages");
    println!(
        "{:<28} {:>12} {:>12} {:>10}",
        "receiver", "median", "p99", "ratio p50"
    );
    for (name, (p50, p99)) in [
        ("none", plain),
        ("answers at once", healthy),
        ("never answers", hanging),
    ] {
        println!(
            "{name:<28} {:>12?} {:>12?} {:>10.2}",
            p50,
            p99,
            p50.as_secs_f64() / plain.0.as_secs_f64()
        );
    }
    println!(
        "events the receivers got: {} (answering), {} (hanging)",
        ok.got().len(),
        hang.got().len()
    );
    ok.stop().await;
    hang.stop().await;
}
