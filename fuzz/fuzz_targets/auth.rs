//! The emulator's token checks (JWTs and bokens), with and without a secret: any token is
//! accepted or refused with a typed error, never a panic, and a token accepted for a user is
//! refused for another.
#![no_main]

use libfuzzer_sys::fuzz_target;
use talkjs_emulator::Config;
use talkjs_emulator::auth::{issue_boken, token_user, verify_token};

/// A fixed time, so that runs are reproducible.
const NOW: i64 = 1_700_000_000;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // `user` on the first line, the token after it.
    let (user, token) = text.split_once('\n').unwrap_or(("alice", text));
    for secret in [None, Some("s3cret")] {
        let config = Config {
            app_id: "app1".into(),
            secret: secret.map(str::to_owned),
            ..Config::default()
        };
        let verified = verify_token(&config, user, token, NOW);
        if let Ok((owner, _)) = token_user(&config, token, NOW) {
            if owner != user && secret.is_some() {
                assert!(verified.is_err(), "a token of {owner:?} accepted for {user:?}");
            }
        }
        if secret.is_some() {
            // The signature parameter of a boken request is checked without a panic too.
            let _ = issue_boken(&config, user, token);
        }
    }
});
