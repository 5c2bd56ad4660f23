//! Every example runs and does what it says. `cargo test` (without a target filter, as the README
//! runs it) builds the examples next to the test binaries, so these tests run the built programs;
//! after changing an example, run it once or run the whole suite, not only this file.

use std::path::PathBuf;
use std::process::Command;

/// The built example `name` (target/<profile>/examples/<name>).
fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>");
    profile_dir.join("examples").join(name)
}

#[test]
fn the_quickstart_prints_each_message_bob_receives_and_exits_0() {
    let out = Command::new(example("quickstart"))
        .output()
        .expect("the quickstart example was built");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "exit {:?}\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
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
