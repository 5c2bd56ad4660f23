//! The conformance suite: the official `@talkjs/core` client, run by Node, against this crate's
//! `talkjs-emulator` binary (see `conformance/`). It is part of `cargo test` so that one command
//! runs every test; this file only installs the Node package when it is missing and runs
//! `npm test` with the binary cargo just built.
//!
//! Node 20+ and npm are required; without them this test fails and says so.

use std::path::{Path, PathBuf};
use std::process::Command;

fn conformance_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../conformance")
}

fn run(cmd: &mut Command, what: &str) {
    let status = cmd.status().unwrap_or_else(|e| {
        panic!("cannot run {what} ({e}); the conformance suite needs Node 20+ and npm on PATH")
    });
    assert!(status.success(), "{what} failed: {status}");
}

#[test]
fn the_official_client_works_against_the_emulator() {
    let dir = conformance_dir();
    if !dir.join("node_modules/@talkjs/core/package.json").exists() {
        run(
            Command::new("npm")
                .args(["ci", "--no-audit", "--no-fund"])
                .current_dir(&dir),
            "npm ci (installing the official client as a test peer)",
        );
    }
    run(
        Command::new("npm")
            .arg("test")
            .current_dir(&dir)
            .env("TALKJS_EMULATOR_BIN", env!("CARGO_BIN_EXE_talkjs-emulator")),
        "the conformance suite (npm test in conformance/)",
    );
}
