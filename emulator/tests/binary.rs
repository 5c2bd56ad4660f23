//! The `talkjs-emulator` binary as a developer runs it: `--help`, the ready line, the request
//! log, `--data` surviving `kill -9`, and `--export` (one-shot and on exit).

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use serde_json::{Value, json};

mod common;
use common::texts;

const BIN: &str = env!("CARGO_BIN_EXE_talkjs-emulator");
const APP: &str = "app1";
const SECRET: &str = "sk_binary_secret_never_logged";

fn temp_dir(name: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("talkjs-emulator-bin-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A running binary and the URL from its ready line.
struct Running {
    child: Child,
    url: String,
}

fn spawn(args: &[&str], log: &str) -> Running {
    let mut child = Command::new(BIN)
        .args(["--bind", "127.0.0.1:0", "--app-id", APP])
        .args(args)
        .env("TALKJS_EMULATOR_SECRET", SECRET)
        .env("RUST_LOG", log)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .expect("a ready line");
    let url = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected ready line {line:?}"))
        .to_owned();
    Running { child, url }
}

impl Running {
    async fn rest(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let path = format!("/v1/{APP}{path}");
        common::call(&self.url, Some(SECRET), method, &path, body).await
    }

    async fn ok(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let (status, body) = self.rest(method, path, body).await;
        assert_eq!(status, 200, "{method} {path}: {body}");
        body
    }

    /// SIGKILL: no chance to flush or clean up.
    fn kill_9(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// SIGTERM, then everything it wrote to stderr.
    fn terminate(mut self) -> String {
        let pid = self.child.id().to_string();
        assert!(
            Command::new("kill")
                .args(["-TERM", &pid])
                .status()
                .unwrap()
                .success()
        );
        let status = self.child.wait().unwrap();
        assert!(status.success(), "a clean exit on SIGTERM: {status}");
        let mut err = String::new();
        self.child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut err)
            .unwrap();
        err
    }
}

#[test]
fn help_lists_the_flags_and_their_environment_variables() {
    let out = Command::new(BIN).arg("--help").output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    for flag in [
        "--bind",
        "--app-id",
        "--secret",
        "--max-upload-bytes",
        "--no-user-sync",
        "--no-conversation-sync",
        "--data",
        "--seed",
        "--import",
        "--export",
        "--export-on-exit",
        "--webhook-url",
        "TALKJS_EMULATOR_WEBHOOK_URL",
        "TALKJS_EMULATOR_SECRET",
        "TALKJS_EMULATOR_BIND",
    ] {
        assert!(help.contains(flag), "{flag} missing from --help:\n{help}");
    }
    let bad = Command::new(BIN).arg("--no-such-flag").output().unwrap();
    assert_eq!(bad.status.code(), Some(2));
}

#[test]
fn a_webhook_url_the_emulator_cannot_post_to_is_refused_before_it_starts() {
    for url in ["https://example.com/hook", "not a url", "/relative"] {
        let out = Command::new(BIN)
            .args(["--bind", "127.0.0.1:0", "--webhook-url", url])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{url}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("--webhook-url") && err.contains("http://"),
            "{err}"
        );
    }
}

#[actix_rt::test]
async fn data_survives_kill_9_and_every_acknowledged_send_is_back() {
    let dir = temp_dir("kill9");
    let data = dir.join("data");
    let data = data.to_str().unwrap();
    let emu = spawn(&["--data", data, "--no-user-sync"], "warn");
    emu.ok(
        "PUT",
        "/users/alice",
        Some(json!({"name": "Alice", "custom": {"k": "v"}})),
    )
    .await;
    emu.ok("PUT", "/users/bob", Some(json!({"name": "Bob"})))
        .await;
    emu.ok(
        "PUT",
        "/conversations/c1",
        Some(json!({"participants": ["alice", "bob"], "subject": "S"})),
    )
    .await;
    let mut sent = Vec::new();
    for i in 0..50 {
        let text = format!("m{i}");
        emu.ok("POST", "/conversations/c1/messages",
            Some(json!([{"type": "UserMessage", "sender": "alice", "text": text, "idempotencyKey": format!("k{i}")}]))).await;
        sent.push(text);
    }
    emu.kill_9();

    let emu = spawn(&["--data", data], "warn");
    assert_eq!(
        emu.ok("GET", "/users/alice", None).await["custom"],
        json!({"k": "v"})
    );
    assert_eq!(
        emu.ok("GET", "/conversations/c1", None).await["subject"],
        "S"
    );
    let page = emu
        .ok("GET", "/conversations/c1/messages?limit=100", None)
        .await;
    sent.reverse();
    assert_eq!(
        texts(&page),
        sent,
        "every acknowledged send is back, in order"
    );
    // The keys came back too: a retry of the last send is not doubled, and new ids are new.
    emu.ok("POST", "/conversations/c1/messages",
        Some(json!([{"type": "UserMessage", "sender": "alice", "text": "m49", "idempotencyKey": "k49"}]))).await;
    emu.ok(
        "POST",
        "/conversations/c1/messages",
        Some(json!([{"type": "UserMessage", "sender": "alice", "text": "after"}])),
    )
    .await;
    let page = emu
        .ok("GET", "/conversations/c1/messages?limit=100", None)
        .await;
    assert_eq!(page["data"].as_array().unwrap().len(), 51);
    emu.kill_9();

    // A one-shot export of the data directory, without serving.
    let file = dir.join("export.json");
    let out = Command::new(BIN)
        .args(["--data", data, "--export", file.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let export: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(export["messages"].as_array().unwrap().len(), 51);
    assert_eq!(export["idempotencyKeys"].as_array().unwrap().len(), 51);
    let _ = std::fs::remove_dir_all(&dir);
}

#[actix_rt::test]
async fn export_on_exit_writes_the_state_and_the_log_has_requests_but_no_secret() {
    let dir = temp_dir("exit");
    let file = dir.join("state.json");
    std::fs::write(&file, "the previous export").unwrap();
    let emu = spawn(
        &["--export", file.to_str().unwrap(), "--export-on-exit"],
        "debug",
    );
    emu.ok("PUT", "/users/alice", Some(json!({"name": "Alice"})))
        .await;
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        "the previous export",
        "written on exit only"
    );
    let token = user_token("alice");
    realtime_renew(&emu.url, "alice", &token).await;
    let log = emu.terminate();
    assert!(
        log.contains("realtime request")
            && log.contains("/session/renew")
            && log.contains("user=alice"),
        "a debug line per realtime request:\n{log}"
    );
    assert!(
        !log.contains(&token),
        "the token leaked into the log:\n{log}"
    );
    let state = talkjs_emulator::state_file::StateFile::read(&file).expect("a valid export");
    assert_eq!(state.users.len(), 1);
    assert!(
        log.contains("request")
            && log.contains("/v1/app1/users/alice")
            && log.contains("status=200"),
        "{log}"
    );
    assert!(log.contains("connection"), "{log}");
    assert!(
        !log.contains(SECRET),
        "the secret leaked into the log:\n{log}"
    );
    reimport(&file, &dir).await;
    let _ = std::fs::remove_dir_all(&dir);
}

/// `--import` brings an export back into a fresh in-memory emulator.
async fn reimport(file: &Path, _dir: &Path) {
    let emu = spawn(&["--import", file.to_str().unwrap()], "warn");
    assert_eq!(emu.ok("GET", "/users/alice", None).await["name"], "Alice");
    emu.kill_9();
}

/// A user JWT signed with the secret.
fn user_token(user: &str) -> String {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &json!({"tokenType": "user", "iss": APP, "sub": user}),
        &jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .unwrap()
}

/// Opens a realtime socket as `user` and authenticates it with `token`.
async fn realtime_renew(url: &str, user: &str, token: &str) {
    use futures_util::{SinkExt, StreamExt};
    let ws_url = format!(
        "{}/public_api/v1/{APP}/realtime/{user}",
        url.replacen("http", "ws", 1)
    );
    let (_, mut conn) = awc::Client::new()
        .ws(ws_url)
        .connect()
        .await
        .expect("websocket");
    let frame = json!([0, "POST", "/session/renew", {"token": token}, {}]).to_string();
    conn.send(awc::ws::Message::Text(frame.into()))
        .await
        .unwrap();
    match conn.next().await {
        Some(Ok(awc::ws::Frame::Text(t))) => {
            let resp: Value = serde_json::from_slice(&t).unwrap();
            assert_eq!(resp[1], 200, "{resp}");
        }
        other => panic!("expected the renew's answer, got {other:?}"),
    }
}
