//! Every example runs and does what it says.
//!
//! Two kinds of test: the built example programs are run as a user runs them (output, exit
//! code, real HTTP, piped terminals), and the examples' flows are run in process (each example
//! file is included as a module) so the snapshots they observe are compared with insta
//! snapshots in `tests/snapshots/`, ids and timestamps redacted. A behaviour change shows up as
//! a snapshot diff: review it with `cargo insta review` (or set `INSTA_UPDATE=always`).
//!
//! The programs (and the `talkjs-emulator` binary `chat_cli` runs against) are built on first
//! use with `cargo build --examples --bins`, so `cargo test --test examples` alone tests the
//! current code.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, OnceLock, mpsc};
use std::time::{Duration, Instant};

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
    built().join("examples").join(name)
}

/// The `talkjs-emulator` binary, built with the examples.
fn emulator_binary() -> PathBuf {
    built().join(format!("talkjs-emulator{}", std::env::consts::EXE_SUFFIX))
}

/// Builds the examples and the emulator binary once per test run; target/<profile>.
fn built() -> &'static PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| {
        let exe = std::env::current_exe().expect("test binary path");
        let profile_dir = exe
            .parent()
            .and_then(|deps| deps.parent())
            .expect("target/<profile>")
            .to_path_buf();
        let target_dir = profile_dir.parent().expect("target");
        let mut build = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
        build
            .args(["build", "--quiet", "--examples", "--bins"])
            .args(["-p", "talkjs", "-p", "talkjs-emulator"])
            .arg("--manifest-path")
            .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"))
            .arg("--target-dir")
            .arg(target_dir);
        if profile_dir.ends_with("release") {
            build.arg("--release");
        }
        let status = build.status().expect("cargo runs");
        assert!(status.success(), "cargo build --examples --bins failed");
        profile_dir
    })
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

/// A running program: its stdin, and its output lines as they come. Killed if dropped while
/// running (a failed test).
struct Program {
    name: String,
    child: Child,
    stdin: Option<ChildStdin>,
    lines: mpsc::Receiver<String>,
    /// Every line sent (as `> line`) and read, in order.
    transcript: Vec<String>,
}

impl Program {
    fn start(path: &Path, args: &[&str]) -> Program {
        let mut child = Command::new(path)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("{} starts: {e}", path.display()));
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Program {
            name: path.file_name().unwrap().to_string_lossy().into_owned(),
            stdin: child.stdin.take(),
            child,
            lines,
            transcript: Vec::new(),
        }
    }

    /// Writes a line to the program's stdin.
    fn send(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("stdin open");
        writeln!(stdin, "{line}").expect("the program reads its input");
        self.transcript.push(format!("> {line}"));
    }

    /// Reads lines until one contains `wanted`; returns it.
    fn expect(&mut self, wanted: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.transcript.push(line.clone());
                    if line.contains(wanted) {
                        return line;
                    }
                }
                Err(_) => panic!(
                    "{}: no line with {wanted:?}; so far:\n{}",
                    self.name,
                    self.transcript.join("\n")
                ),
            }
        }
    }

    /// Closes stdin, waits for the program to exit 0, and returns the whole transcript.
    fn finish(mut self) -> Vec<String> {
        self.stdin = None;
        let deadline = Instant::now() + Duration::from_secs(20);
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                break status;
            }
            assert!(
                Instant::now() < deadline,
                "{} did not exit; so far:\n{}",
                self.name,
                self.transcript.join("\n")
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        // The rest of the output (the reader ends at end of output).
        self.transcript.extend(self.lines.iter());
        assert!(
            status.success(),
            "{} exited with {status}:\n{}",
            self.name,
            self.transcript.join("\n")
        );
        std::mem::take(&mut self.transcript)
    }
}

impl Drop for Program {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
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
fn tokio_main_echoes_each_message_once_without_actix_and_exits_0() {
    let stdout = run_example("tokio_main", &[]);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines,
        [
            "Alice: ping",
            "Echo bot: echo: ping",
            "Alice: still there?",
            "Echo bot: echo: still there?",
        ]
    );
}

#[test]
fn bot_actor_answers_each_question_once_and_exits_0() {
    let stdout = run_example("bot_actor", &[]);
    insta::assert_snapshot!("bot_actor_transcript", stdout);
}

#[test]
fn webhook_bot_answers_each_question_once_through_webhooks_and_rest_and_exits_0() {
    let stdout = run_example("webhook_bot", &[]);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines[..4],
        [
            "Casey: Hi! Where is my order?",
            "Desk Bot: Orders ship within two working days; you get a tracking link by email.",
            "Casey: And how do refunds work?",
            "Desk Bot: Refunds go back to the card you paid with, within five working days.",
        ]
    );
    // The delivery log: two questions and two answers posted once each, every event delivered.
    // (Events of different users and conversations go out in parallel, so their order varies.)
    let log = lines[4]
        .strip_prefix("(webhooks: ")
        .and_then(|l| l.strip_suffix(')'))
        .expect("the delivery log line");
    let entries: Vec<&str> = log.split(", ").collect();
    let count = |entry: &str| entries.iter().filter(|e| **e == entry).count();
    assert_eq!(count("message.sent delivered"), 4, "{log}");
    assert_eq!(count("user.created delivered"), 2, "{log}");
    assert!(
        entries.iter().all(|e| e.ends_with(" delivered")),
        "every webhook delivered: {log}"
    );
    assert_eq!(lines.len(), 5, "{stdout}");
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

/// Sends `body` to the actix_web example's `POST /send`; the status and the JSON answer.
async fn post_send(
    client: &awc::Client,
    base: &str,
    body: serde_json::Value,
) -> (u16, serde_json::Value) {
    let mut response = client
        .post(format!("{base}/send"))
        .send_json(&body)
        .await
        .expect("POST /send");
    let json = response.json().await.expect("a JSON answer");
    (response.status().as_u16(), json)
}

#[actix_rt::test]
async fn actix_web_sends_as_the_service_and_serves_live_conversation_lists() {
    let mut service = Program::start(&example("actix_web"), &["--bind", "127.0.0.1:0"]);
    let listening = service.expect("listening on ");
    let base = listening.trim_start_matches("listening on ").to_owned();
    let client = awc::Client::default();
    let conversations = |user: &str| {
        let request = client.get(format!("{base}/users/{user}/conversations"));
        async move {
            let mut response = request.send().await.expect("GET conversations");
            assert_eq!(response.status().as_u16(), 200);
            let list: serde_json::Value = response.json().await.expect("JSON");
            list
        }
    };

    // The first request subscribes Alice's list; nothing sent yet.
    let before = conversations("alice").await;
    assert_eq!(before[0]["id"], "order-1001");
    assert_eq!(before[0]["lastMessage"], serde_json::Value::Null);

    for text in ["Your order has *shipped*", "It arrives on Tuesday"] {
        let body = serde_json::json!({"conversation": "order-1001", "text": text});
        let (status, sent) = post_send(&client, &base, body).await;
        assert_eq!(status, 200, "{sent}");
        assert!(sent["id"].is_string(), "{sent}");
    }

    // The live list catches up with the second message.
    let deadline = Instant::now() + Duration::from_secs(10);
    let after = loop {
        let list = conversations("alice").await;
        if list[0]["lastMessage"]["plaintext"] == "It arrives on Tuesday" {
            break list;
        }
        assert!(Instant::now() < deadline, "the list stayed at {list}");
        actix_rt::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(after[0]["unreadMessageCount"], 2);
    insta::assert_json_snapshot!("actix_web_alices_conversations", redacted(after));

    // Errors are JSON: an empty text, malformed JSON, an unknown conversation.
    let (status, error) = post_send(
        &client,
        &base,
        serde_json::json!({"conversation": "order-1001", "text": " "}),
    )
    .await;
    assert_eq!(
        (status, error),
        (400, serde_json::json!({"error": "text must not be empty"}))
    );
    let mut response = client
        .post(format!("{base}/send"))
        .content_type("application/json")
        .send_body("{\"conversation\": ")
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 400);
    let error: serde_json::Value = response.json().await.unwrap();
    assert!(error["error"].is_string(), "{error}");
    let (status, error) = post_send(
        &client,
        &base,
        serde_json::json!({"conversation": "no-such-order", "text": "hello"}),
    )
    .await;
    assert_eq!(status, 404, "{error}");

    // Ctrl-C stops the service (and its emulator) cleanly.
    #[cfg(unix)]
    {
        let pid = service.child.id().to_string();
        let kill = Command::new("kill").args(["-INT", &pid]).status().unwrap();
        assert!(kill.success());
        service.finish();
    }
}

#[test]
fn chat_cli_in_two_terminals() {
    // A standalone emulator that requires signed tokens; both users sign their own.
    const SECRET: &str = "test-secret";
    let mut emulator = Program::start(
        &emulator_binary(),
        &[
            "--bind",
            "127.0.0.1:0",
            "--app-id",
            "demo",
            "--secret",
            SECRET,
        ],
    );
    let listening = emulator.expect("listening on http://");
    let host = listening.trim_start_matches("listening on http://");
    let cli = |user: &str, name: &str| {
        let args = [
            "--host", host, "--user", user, "--name", name, "--secret", SECRET,
        ];
        Program::start(&example("chat_cli"), &args)
    };
    let mut alice = cli("alice", "Alice");
    alice.expect("No conversations yet");
    let mut bob = cli("bob", "Bob");
    bob.expect("No conversations yet");

    alice.send("Anyone there?");
    alice.expect("! open a conversation first");
    alice.send("/frobnicate");
    alice.expect("! unknown command /frobnicate");

    // Alice starts a conversation with Bob.
    alice.send("/open trip");
    alice.expect("--- trip ---");
    alice.send("/add bob");
    alice.expect("(added bob)");
    alice.send("Hi *Bob*!");
    alice.expect("Alice: Hi Bob!");

    // Bob is told, finds it in his list, and opens it.
    bob.expect("(new in trip) Alice: Hi Bob!");
    bob.send("/list");
    bob.expect("1. trip (1 unread) Alice: Hi Bob!");
    bob.send("/open 1");
    bob.expect("--- trip ---");
    bob.expect("Alice: Hi Bob!");

    // Alice is typing; then Bob answers, and both see it live.
    alice.send("/typing");
    bob.expect("(Alice typing...)");
    bob.send("Hello Alice");
    bob.expect("Bob: Hello Alice");
    alice.expect("Bob: Hello Alice");

    alice.send("/quit");
    bob.send("/quit");
    let transcripts = [alice.finish(), bob.finish()].map(|lines| {
        let redact_port = |line: String| line.replace(host, "[host]");
        lines.into_iter().map(redact_port).collect::<Vec<_>>()
    });
    insta::assert_json_snapshot!("chat_cli_transcripts", transcripts);
}
