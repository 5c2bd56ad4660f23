//! State that tests control: a seed loaded at start, a reset back to it over HTTP, export and
//! import as one JSON document, and a restart over an SQLite data directory.

use std::path::PathBuf;

use serde_json::{Value, json};
use talkjs_emulator::state_file::StateFile;
use talkjs_emulator::{Emulator, RunningEmulator};

mod common;
use common::texts;

const APP: &str = "app1";
const SECRET: &str = "sk_state";

fn seed() -> StateFile {
    serde_json::from_value(json!({
        "users": [{"id": "alice", "name": "Alice"}, {"id": "bob", "name": "Bob"}],
        "conversations": [{"id": "c1", "subject": "Seeded", "participants": {"alice": {}, "bob": {"access": "Read"}}}],
        "messages": [{"id": "m1", "conversationId": "c1", "type": "UserMessage", "senderId": "alice",
                      "createdAt": 1000, "content": [{"type": "text", "children": ["hello"]}]}]
    }))
    .expect("a hand-written seed parses")
}

async fn call(
    emu: &RunningEmulator,
    token: Option<&str>,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    common::call(&emu.url(), token, method, path, body).await
}

async fn rest(emu: &RunningEmulator, method: &str, path: &str, body: Option<Value>) -> Value {
    let (status, body) = call(emu, Some(SECRET), method, &format!("/v1/{APP}{path}"), body).await;
    assert_eq!(status, 200, "{method} {path}: {body}");
    body
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("talkjs-emulator-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

#[actix_rt::test]
async fn a_seeded_emulator_starts_with_the_fixture_and_a_reset_goes_back_to_it() {
    let emu = Emulator::builder()
        .app_id(APP)
        .secret(SECRET)
        .seed(seed())
        .start("127.0.0.1:0")
        .await
        .unwrap();
    let c1 = rest(&emu, "GET", "/conversations/c1", None).await;
    assert_eq!(c1["subject"], "Seeded");
    assert_eq!(
        c1["participants"]["bob"],
        json!({"access": "Read", "notify": true}),
        "defaults filled in"
    );
    assert_eq!(
        texts(&rest(&emu, "GET", "/conversations/c1/messages", None).await),
        ["hello"]
    );

    rest(&emu, "PUT", "/users/carol", Some(json!({"name": "Carol"}))).await;
    rest(
        &emu,
        "POST",
        "/conversations/c1/messages",
        Some(json!([{"type": "UserMessage", "sender": "alice", "text": "later"}])),
    )
    .await;
    let page = rest(&emu, "GET", "/conversations/c1/messages", None).await;
    assert_eq!(texts(&page), ["later", "hello"]);
    assert_ne!(page["data"][0]["id"], "m1");

    let reset = format!("/emulator/v1/apps/{APP}/reset");
    assert_eq!(
        call(&emu, None, "POST", &reset, None).await.0,
        401,
        "reset needs the secret"
    );
    assert_eq!(call(&emu, Some("wrong"), "POST", &reset, None).await.0, 401);
    assert_eq!(
        call(
            &emu,
            Some(SECRET),
            "POST",
            "/emulator/v1/apps/other/reset",
            None
        )
        .await
        .0,
        404
    );
    assert_eq!(call(&emu, Some(SECRET), "POST", &reset, None).await.0, 200);
    assert_eq!(
        call(
            &emu,
            Some(SECRET),
            "GET",
            &format!("/v1/{APP}/users/carol"),
            None
        )
        .await
        .0,
        404
    );
    assert_eq!(
        texts(&rest(&emu, "GET", "/conversations/c1/messages", None).await),
        ["hello"]
    );
    emu.stop().await;
}

#[actix_rt::test]
async fn a_reset_without_a_seed_empties_the_app() {
    let emu = Emulator::builder()
        .app_id(APP)
        .secret(SECRET)
        .start("127.0.0.1:0")
        .await
        .unwrap();
    rest(&emu, "PUT", "/users/alice", Some(json!({"name": "Alice"}))).await;
    emu.reset().expect("reset");
    assert_eq!(emu.export_state(), StateFile::default());
    emu.stop().await;
}

#[actix_rt::test]
async fn an_invalid_seed_is_refused_at_start() {
    let mut bad = seed();
    bad.messages[0].sender_id = Some("ghost".into());
    let err = Emulator::builder()
        .seed(bad)
        .start("127.0.0.1:0")
        .await
        .err()
        .expect("refused");
    assert!(err.to_string().contains("ghost"), "{err}");
}

#[actix_rt::test]
async fn an_export_imports_into_an_identical_emulator() {
    let emu = Emulator::builder()
        .app_id(APP)
        .secret(SECRET)
        .seed(seed())
        .start("127.0.0.1:0")
        .await
        .unwrap();
    rest(
        &emu,
        "PUT",
        "/users/carol",
        Some(json!({"name": "Carol", "email": ["c@x"], "custom": {"k": "v"}})),
    )
    .await;
    rest(&emu, "PUT", "/conversations/c1/participants/carol", None).await;
    rest(
        &emu,
        "POST",
        "/conversations/c1/messages",
        Some(json!([
            {"type": "UserMessage", "sender": "carol", "text": "*hi*", "idempotencyKey": "k1"},
            {"type": "SystemMessage", "text": "carol joined"}
        ])),
    )
    .await;
    let dir = temp_dir("export");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("state.json");
    std::fs::write(&file, "previous export").unwrap();
    emu.export_state().write_atomic(&file).expect("export");
    emu.stop().await;

    let read = StateFile::read(&file).expect("the export reads back");
    let again = Emulator::builder()
        .app_id(APP)
        .secret(SECRET)
        .import(read.clone())
        .start("127.0.0.1:0")
        .await
        .unwrap();
    assert_eq!(
        again.export_state(),
        read,
        "import then export is the identity"
    );
    assert_eq!(
        rest(&again, "GET", "/users/carol", None).await["email"],
        json!(["c@x"])
    );
    // The idempotency key came along: a retried send is not doubled.
    rest(
        &again,
        "POST",
        "/conversations/c1/messages",
        Some(json!([
            {"type": "UserMessage", "sender": "carol", "text": "*hi*", "idempotencyKey": "k1"}
        ])),
    )
    .await;
    rest(
        &again,
        "POST",
        "/conversations/c1/messages",
        Some(json!([
            {"type": "UserMessage", "sender": "alice", "text": "new"}
        ])),
    )
    .await;
    let page = rest(&again, "GET", "/conversations/c1/messages", None).await;
    assert_eq!(texts(&page), ["new", "carol joined", "hi", "hello"]);
    let ids: std::collections::HashSet<&str> = page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 4, "a new id never collides with an imported one");
    again.stop().await;
    let leftovers: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        leftovers,
        [std::ffi::OsString::from("state.json")],
        "no temporary file is left"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[actix_rt::test]
async fn a_data_directory_brings_everything_back_after_a_restart() {
    let dir = temp_dir("data");
    let start = || {
        Emulator::builder()
            .app_id(APP)
            .secret(SECRET)
            .seed(seed())
            .data_dir(&dir)
            .start("127.0.0.1:0")
    };
    let emu = start().await.unwrap();
    rest(
        &emu,
        "PUT",
        "/users/alice",
        Some(json!({"name": "Alice Renamed"})),
    )
    .await;
    rest(
        &emu,
        "POST",
        "/conversations/c1/messages",
        Some(json!([
            {"type": "UserMessage", "sender": "alice", "text": "durable", "idempotencyKey": "d1"}
        ])),
    )
    .await;
    let before = emu.export_state();
    emu.stop().await;

    let emu = start().await.unwrap();
    assert_eq!(
        emu.export_state(),
        before,
        "the seed does not overwrite existing data"
    );
    rest(&emu, "DELETE", "/conversations/c1", None).await;
    emu.stop().await;
    let emu = start().await.unwrap();
    assert_eq!(
        call(
            &emu,
            Some(SECRET),
            "GET",
            &format!("/v1/{APP}/conversations/c1"),
            None
        )
        .await
        .0,
        404
    );
    emu.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}
