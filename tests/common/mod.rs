//! Setup shared by the subscription tests: an in-process emulator, sessions whose users exist,
//! conversations with participants, and polling with a deadline.
//!
//! Each test file that uses it says `mod common;`; not every file uses every helper.
#![allow(dead_code)]

use std::time::Duration;

use talkjs::TalkSession;
use talkjs::params::{CreateConversationParams, CreateParticipantParams, CreateUserParams};
use talkjs_emulator::{Emulator, RunningEmulator};

/// The app every test uses.
pub const APP: &str = "app1";

/// An emulator on a free loopback port.
pub async fn emulator() -> RunningEmulator {
    Emulator::builder()
        .app_id(APP)
        .start("127.0.0.1:0")
        .await
        .expect("emulator starts")
}

/// Fast linger so tests see UNSUBSCRIBE and idle closes quickly.
pub fn timings() -> talkjs::Timings {
    talkjs::Timings {
        unsubscribe_delay: Duration::from_millis(200),
        user_unsubscribe_delay: Duration::from_millis(200),
        idle_close: Duration::from_millis(300),
        ..Default::default()
    }
}

/// A fresh session of `user` (named after their id), their user created.
pub async fn session(emu: &RunningEmulator, user: &str) -> TalkSession {
    let builder = talkjs::get_talk_session(APP, user)
        .host(emu.host())
        .timings(timings());
    with_user(builder, user).await
}

/// A fresh session from `builder`, with `user` (named after their id) created.
async fn with_user(builder: talkjs::SessionBuilder, user: &str) -> TalkSession {
    let s = builder.force_create_new().await.expect("session");
    s.current_user()
        .create_if_not_exists(CreateUserParams::new(user))
        .await
        .unwrap();
    s
}

/// `owner` creates conversation `c` with `others` (who must exist) as participants, in order.
pub async fn conversation(owner: &TalkSession, c: &str, others: &[&str]) {
    owner
        .conversation(c)
        .create_if_not_exists(CreateConversationParams::new())
        .await
        .unwrap();
    for o in others {
        owner
            .conversation(c)
            .participant(*o)
            .create_if_not_exists(CreateParticipantParams::new())
            .await
            .unwrap();
    }
}

/// Polls `check` every 25 ms until it gives a value, for at most 5 s.
pub async fn eventually<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    for _ in 0..200 {
        if let Some(v) = check() {
            return v;
        }
        actix_rt::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("timed out waiting until {what}");
}

/// The secret of [`signed_emulator`]'s app, for `JwtSigner`s.
pub const SECRET: &str = "s3cret";

/// An emulator on a free loopback port whose app checks tokens signed with [`SECRET`].
pub async fn signed_emulator() -> RunningEmulator {
    Emulator::builder()
        .app_id(APP)
        .secret(SECRET)
        .start("127.0.0.1:0")
        .await
        .expect("emulator starts")
}

/// Quick reconnects and lingers (the usual idle close), so runs with many cut sockets stay
/// short.
pub fn fault_timings() -> talkjs::Timings {
    talkjs::Timings {
        reconnect_base: Duration::from_millis(10),
        reconnect_max: Duration::from_millis(100),
        unsubscribe_delay: Duration::from_millis(200),
        user_unsubscribe_delay: Duration::from_millis(200),
        ..Default::default()
    }
}

/// A fresh session of `user` at `host` (an emulator, or a proxy in front of one) with
/// [`fault_timings`] and tokens from `signer`, their user created.
pub async fn signed_session(
    host: &str,
    user: &str,
    signer: talkjs::token::JwtSigner,
) -> TalkSession {
    let builder = talkjs::get_talk_session(APP, user)
        .host(host)
        .token_provider(signer)
        .timings(fault_timings());
    with_user(builder, user).await
}

/// The server's messages of a conversation, newest first (as a messages window shows them).
pub fn server_ids(emu: &RunningEmulator, conversation: &str) -> Vec<String> {
    emu.inspect(|w| {
        w.store()
            .messages(conversation, None, usize::MAX)
            .into_iter()
            .map(|m| m.id.clone())
            .collect()
    })
}

/// How many seeded chaos runs a fault test makes: `FAULT_ROUNDS` if set, else `default`.
pub fn fault_rounds(default: u64) -> u64 {
    std::env::var("FAULT_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Sends messages `0..n` from `from`, four at a time, message `i` into `conversation_of(i)`,
/// while `proxy` cuts sockets at seeded random times (about every 40 ms, and all at once an
/// eighth of the way in); every send must succeed, and the proxy must have cut something (else
/// the test would prove nothing).
pub async fn send_through_chaos(
    proxy: &talkjs_testkit::FaultProxy,
    seed: u64,
    from: &TalkSession,
    n: usize,
    conversation_of: impl Fn(usize) -> &'static str,
) {
    proxy.chaos(seed, Duration::from_millis(40));
    for (round, batch) in (0..n).collect::<Vec<_>>().chunks(4).enumerate() {
        if round == n / 8 {
            proxy.cut_all();
        }
        let sends = batch.iter().map(|&i| {
            let chat = from.conversation(conversation_of(i));
            async move { chat.send(format!("message {i}")).await }
        });
        for r in futures_util::future::join_all(sends).await {
            r.expect("a send survives");
        }
    }
    proxy.stop_chaos();
    assert!(
        proxy.cuts() > 0,
        "the proxy cut nothing; the test would prove nothing"
    );
}
