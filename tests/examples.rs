//! Every example runs and does what it says.
//!
//! Two kinds of test: the built example programs are run as a user runs them (output, exit
//! code, real HTTP, piped terminals), and the examples' flows are run in process (each example
//! file is included as a module) so the snapshots they observe are compared with insta
//! snapshots in `tests/snapshots/`, ids and timestamps redacted. A behaviour change shows up as
//! a snapshot diff: review it with `cargo insta review` (or set `INSTA_UPDATE=always`).
//!
//! The programs are built on first use with `cargo build --examples`, so `cargo test --test
//! examples` alone tests the current code.

use std::path::PathBuf;
use std::process::Command;
use std::sync::{Arc, OnceLock};

// The examples' flows, run in process below (their `main`s are for `cargo run`).
#[allow(dead_code)]
#[path = "../examples/bot_actor.rs"]
mod bot_actor;
#[allow(dead_code)]
#[path = "../examples/quickstart.rs"]
mod quickstart;

/// The built example `name`, built (once per test run) with the profile and target directory
/// of this test.
fn example(name: &str) -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    let dir = BUILT.get_or_init(|| {
        let exe = std::env::current_exe().expect("test binary path");
        let profile_dir = exe
            .parent()
            .and_then(|deps| deps.parent())
            .expect("target/<profile>")
            .to_path_buf();
        let target_dir = profile_dir.parent().expect("target");
        let mut build = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
        build
            .args(["build", "--quiet", "--examples", "--manifest-path"])
            .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"))
            .arg("--target-dir")
            .arg(target_dir);
        if profile_dir.ends_with("release") {
            build.arg("--release");
        }
        let status = build.status().expect("cargo runs");
        assert!(status.success(), "cargo build --examples failed");
        profile_dir.join("examples")
    });
    dir.join(name)
}

/// `value` as JSON with what differs between runs redacted: timestamps, file URLs, and the ids
/// the server makes up (the ids the examples choose, of users and conversations, stay: they
/// make the snapshots readable).
fn redacted(value: impl serde::Serialize) -> serde_json::Value {
    fn walk(value: &mut serde_json::Value) {
        match value {
            serde_json::Value::Object(map) => {
                for (key, v) in map.iter_mut() {
                    match key.as_str() {
                        "createdAt" | "editedAt" | "joinedAt" | "readUntil"
                        | "everyoneReadUntil" | "lastMessageAt" => {
                            if v.is_number() {
                                *v = "[time]".into();
                            }
                        }
                        // Files are served by the emulator, on a port that changes.
                        "url"
                            if v.as_str()
                                .is_some_and(|u| u.starts_with("http://127.0.0.1")) =>
                        {
                            *v = "[file url]".into()
                        }
                        "id" | "referencedMessageId" | "fileToken" => {
                            if v.as_str().is_some_and(server_made) {
                                *v = "[id]".into();
                            }
                        }
                        _ => walk(v),
                    }
                }
            }
            serde_json::Value::Array(items) => items.iter_mut().for_each(walk),
            _ => {}
        }
    }
    // Messages and files; their ids count up in the emulator, but TalkJS's are random.
    fn server_made(id: &str) -> bool {
        id.starts_with("msg_") || id.starts_with("file_")
    }
    let mut value = serde_json::to_value(value).expect("snapshots serialize");
    walk(&mut value);
    value
}

/// Runs a built example with these arguments; its output, after checking it exited 0.
fn run_example(name: &str, args: &[&str]) -> String {
    let out = Command::new(example(name))
        .args(args)
        .output()
        .expect("the example runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{name} exited with {:?}\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// An emulator for one test's in-process flow.
async fn emulator(app_id: &str) -> talkjs_emulator::RunningEmulator {
    talkjs_emulator::Emulator::builder()
        .app_id(app_id)
        .start("127.0.0.1:0")
        .await
        .expect("the emulator starts")
}

#[test]
fn quickstart_prints_each_message_bob_receives_once_and_exits_0() {
    let stdout = run_example("quickstart", &[]);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines,
        [
            "Alice: Hi Bob, shall we plan the trip? See https://example.com/trip",
            "Alice: Here is the list: / - tickets / - hotel",
            "Alice: 📎 itinerary.txt",
            "(Bob has 3 unread messages)",
        ]
    );
}

#[actix_rt::test]
async fn quickstart_flow_snapshot() {
    let emulator = emulator("quickstart").await;
    let bobs_messages = quickstart::run(&emulator.host()).await.unwrap();
    emulator.stop().await;
    let list: Vec<_> = bobs_messages.iter().map(Arc::as_ref).collect();
    insta::assert_json_snapshot!("quickstart_bobs_messages", redacted(list));
}

#[test]
fn bot_actor_answers_each_question_once_and_exits_0() {
    let stdout = run_example("bot_actor", &[]);
    insta::assert_snapshot!("bot_actor_transcript", stdout);
}

#[actix_rt::test]
async fn bot_actor_flow_snapshot() {
    let emulator = emulator("support").await;
    let messages = bot_actor::run(&emulator.host()).await.unwrap();
    emulator.stop().await;
    // Three questions, three answers: nothing answered twice, the bot's own messages never.
    assert_eq!(messages.len(), 6);
    let list: Vec<_> = messages.iter().map(Arc::as_ref).collect();
    insta::assert_json_snapshot!("bot_actor_customers_messages", redacted(list));
}
