//! Round trips: 1,000 sequential and 1,000 concurrent `user.get` calls, then as many
//! `conversation.send` calls, talkjs-rs beside the official `@talkjs/core` client, against the
//! same in-process emulator in one run.
//!
//! `cargo bench --bench roundtrip` (needs Node 20+ and `npm ci` in `conformance/`). Prints the
//! median of several rounds for each side and the ratio; report ratios, not absolute times (the
//! machine is small and noisy).
//!
//! Both clients batch concurrent gets made in one tick into one `GET /users` frame; sequential
//! gets are one round trip each. Both clients answer a repeated get from their caches, so each
//! round starts a new session (on both sides) and reads users it has not fetched before. Sends
//! are never batched: each is one `POST` frame, so the concurrent ones are 1,000 frames in flight
//! at once.

use std::process::Command;
use std::time::{Duration, Instant};

use talkjs::params::CreateUserParams;
use talkjs_emulator::Emulator;

/// Calls per measurement.
const N: usize = 1000;
/// Rounds per side; the median is reported.
const ROUNDS: usize = 5;
const APP: &str = "bench";

fn id(prefix: &str, i: usize) -> String {
    format!("{prefix}{i:04}")
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

fn main() {
    let system = actix_rt::System::new();
    system.block_on(async {
        let emu = Emulator::builder()
            .app_id(APP)
            .start("127.0.0.1:0")
            .await
            .expect("emulator");
        let host = emu.host();
        let seeder = talkjs::get_talk_session(APP, "seeder")
            .host(&host)
            .await
            .expect("session");
        // One set per round and per kind; each round's new sessions (one per side) read it.
        let ids: Vec<String> = (0..ROUNDS)
            .flat_map(|round| ["seq", "conc"].map(|kind| format!("r{round}{kind}")))
            .flat_map(|prefix| (0..N).map(move |i| id(&prefix, i)))
            .collect();
        for chunk in ids.chunks(500) {
            let creates = chunk
                .iter()
                .map(|u| seeder.user(u.clone()))
                .map(|user| async move {
                    user.create_if_not_exists(CreateUserParams::new("Bench"))
                        .await
                });
            for result in futures_util::future::join_all(creates).await {
                result.expect("seeded");
            }
        }
        for u in ["warmup", "bench-rs", "bench-official"] {
            seeder
                .user(u)
                .create_if_not_exists(CreateUserParams::new(u))
                .await
                .expect("seeded");
        }

        let (mut rs_seq, mut rs_conc) = (Vec::new(), Vec::new());
        let (mut rs_send_seq, mut rs_send_conc) = (Vec::new(), Vec::new());
        for round in 0..ROUNDS {
            let rs = talkjs::get_talk_session(APP, "bench-rs")
                .host(&host)
                .force_create_new()
                .await
                .expect("session");
            rs.user("warmup").get().await.expect("warm-up");
            let (seq, conc) = (format!("r{round}seq"), format!("r{round}conc"));
            let t = Instant::now();
            for i in 0..N {
                let user = rs.user(id(&seq, i)).get().await;
                assert!(user.expect("get").is_some());
            }
            rs_seq.push(t.elapsed().as_secs_f64() * 1e3);
            let refs: Vec<_> = (0..N).map(|i| rs.user(id(&conc, i))).collect();
            let t = Instant::now();
            let all = futures_util::future::join_all(refs.iter().map(|u| u.get())).await;
            rs_conc.push(t.elapsed().as_secs_f64() * 1e3);
            assert!(all.iter().all(|u| matches!(u, Ok(Some(_)))));

            let chat = rs.conversation(format!("r{round}chat-rs"));
            chat.create_if_not_exists(Default::default())
                .await
                .expect("conversation");
            let t = Instant::now();
            for i in 0..N {
                chat.send(format!("message {i}")).await.expect("sent");
            }
            rs_send_seq.push(t.elapsed().as_secs_f64() * 1e3);
            let t = Instant::now();
            let sends = (0..N).map(|i| chat.send(format!("burst {i}")));
            let all = futures_util::future::join_all(sends).await;
            rs_send_conc.push(t.elapsed().as_secs_f64() * 1e3);
            assert!(all.iter().all(Result::is_ok));
            rs.terminate("round over");
        }

        let (mut js_seq, mut js_conc) = (Vec::new(), Vec::new());
        let (mut js_send_seq, mut js_send_conc) = (Vec::new(), Vec::new());
        for round in 0..ROUNDS {
            let mut cmd = Command::new("node");
            cmd.arg("bench/roundtrip.mjs")
                .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/conformance"))
                .env("HOST", &host)
                .env("APP", APP)
                .env("N", N.to_string())
                .env("PREFIX", format!("r{round}"));
            // Node runs on its own thread: this thread runs the emulator's accept loop, which must
            // keep serving meanwhile.
            let (tx, rx) = std::sync::mpsc::channel();
            std::thread::spawn(move || {
                let _ = tx.send(cmd.output());
            });
            let out = loop {
                match rx.try_recv() {
                    Ok(out) => break out,
                    Err(_) => actix_rt::time::sleep(Duration::from_millis(20)).await,
                }
            };
            let out = match out {
                Ok(o) if o.status.success() => o,
                Ok(o) => panic!(
                    "official client bench failed: {}",
                    String::from_utf8_lossy(&o.stderr)
                ),
                Err(e) => panic!("cannot run node ({e}); run `npm ci` in conformance/ first"),
            };
            let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON line");
            js_seq.push(v["sequential_ms"].as_f64().expect("number"));
            js_conc.push(v["concurrent_ms"].as_f64().expect("number"));
            js_send_seq.push(v["send_sequential_ms"].as_f64().expect("number"));
            js_send_conc.push(v["send_concurrent_ms"].as_f64().expect("number"));
        }

        let rows = [
            ("1,000 sequential user.get", median(rs_seq), median(js_seq)),
            (
                "1,000 concurrent user.get",
                median(rs_conc),
                median(js_conc),
            ),
            (
                "1,000 sequential send",
                median(rs_send_seq),
                median(js_send_seq),
            ),
            (
                "1,000 concurrent send",
                median(rs_send_conc),
                median(js_send_conc),
            ),
        ];
        println!(
            "\n{:<28} {:>14} {:>18} {:>22}",
            "", "talkjs-rs (ms)", "@talkjs/core (ms)", "talkjs-rs / official"
        );
        for (name, rs, js) in rows {
            println!("{name:<28} {rs:>14.1} {js:>18.1} {:>22.2}", rs / js);
        }
        emu.stop().await;
        actix_rt::time::sleep(Duration::from_millis(10)).await;
    });
}
