//! Many sessions in one process: 1,000 users, each with its own session, socket and live
//! message subscription, against one emulator. Memory per session is measured by
//! `cargo bench --bench subscriptions`; this test checks that it works at all at this size.

use std::time::Duration;

use futures_util::future::join_all;
use talkjs::params::{CreateConversationParams, CreateUserParams};
use talkjs_emulator::Emulator;

const SESSIONS: usize = 1000;

#[actix_rt::test]
async fn a_thousand_sessions_each_hold_a_live_subscription() {
    let emu = Emulator::builder()
        .app_id("app1")
        .start("127.0.0.1:0")
        .await
        .expect("emulator starts");
    let host = emu.host();
    let sessions = join_all((0..SESSIONS).map(|i| {
        let host = host.clone();
        async move {
            let user = format!("user{i:04}");
            let s = talkjs::get_talk_session("app1", &user)
                .host(&host)
                .await
                .expect("session");
            s.current_user()
                .create_if_not_exists(CreateUserParams::new(&user))
                .await
                .expect("user");
            s.conversation(format!("room{i:04}"))
                .create_if_not_exists(CreateConversationParams::new())
                .await
                .expect("conversation");
            s
        }
    }))
    .await;
    let subs: Vec<_> = sessions
        .iter()
        .enumerate()
        .map(|(i, s)| s.conversation(format!("room{i:04}")).subscribe_messages())
        .collect();
    for (i, sub) in subs.iter().enumerate() {
        let first = tokio::time::timeout(Duration::from_secs(60), sub.connected())
            .await
            .expect("connected in time")
            .unwrap_or_else(|e| panic!("subscription {i} failed: {e}"));
        assert_eq!(first.snapshot.map(|l| l.len()), Some(0));
    }
    let sockets = emu.inspect(|w| w.connection_count());
    assert_eq!(sockets, SESSIONS, "one socket per session");

    // Each is live: a message sent in a sample of rooms reaches exactly its subscriber.
    for i in (0..SESSIONS).step_by(97) {
        sessions[i]
            .conversation(format!("room{i:04}"))
            .send(format!("hello {i}"))
            .await
            .unwrap();
    }
    for (i, sub) in subs.iter().enumerate() {
        let want = usize::from(i % 97 == 0);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            let got = sub.latest().flatten().map_or(0, |l| l.len());
            if got == want {
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "room {i}: {got} messages, expected {want}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    for s in &sessions {
        s.terminate("done");
    }
}
