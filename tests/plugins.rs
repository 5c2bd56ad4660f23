//! Plugins: any actor can watch a session's connection lifecycle and every pushed event through
//! a `Recipient`, without forking the runtime.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix::prelude::*;
use talkjs::params::CreateUserParams;
use talkjs::{Lifecycle, LifecycleEvent, TalkSession};
use talkjs_emulator::{Emulator, RunningEmulator};

/// A plugin that writes down every lifecycle change.
struct Recorder(Arc<Mutex<Vec<Lifecycle>>>);

impl Actor for Recorder {
    type Context = Context<Self>;
}

impl Handler<LifecycleEvent> for Recorder {
    type Result = ();

    fn handle(&mut self, msg: LifecycleEvent, _ctx: &mut Context<Self>) {
        self.0.lock().unwrap().push(msg.0);
    }
}

/// An emulator, and a session of an existing user whose lifecycle a `Recorder` plugin observes.
async fn observed_session() -> (RunningEmulator, TalkSession, Arc<Mutex<Vec<Lifecycle>>>) {
    let emu = Emulator::builder()
        .app_id("app1")
        .start("127.0.0.1:0")
        .await
        .unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let recorder = Recorder(seen.clone()).start();
    let s = talkjs::get_talk_session("app1", "alice")
        .host(emu.host())
        .await
        .unwrap();
    s.observe(Some(recorder.recipient()), None);
    s.current_user()
        .create_if_not_exists(CreateUserParams::new("Alice"))
        .await
        .unwrap();
    (emu, s, seen)
}

#[actix_rt::test]
async fn a_plugin_actor_sees_the_connection_open_and_close_itself_when_idle() {
    let (emu, _s, seen) = observed_session().await;
    for _ in 0..80 {
        if seen
            .lock()
            .unwrap()
            .iter()
            .any(|l| matches!(l, Lifecycle::Terminated { .. }))
        {
            break;
        }
        actix_rt::time::sleep(Duration::from_millis(100)).await;
    }
    let seen = seen.lock().unwrap().clone();
    assert!(
        matches!(&seen[..], [Lifecycle::Connecting, Lifecycle::Connected, Lifecycle::Terminated { reason }] if reason == "idle"),
        "{seen:?}"
    );
    emu.stop().await;
}

#[actix_rt::test]
async fn a_plugin_actor_sees_a_drop_and_the_reconnect_while_requests_are_waiting() {
    let (emu, s, seen) = observed_session().await;
    let me = s.current_user();
    let gets: Vec<_> = (0..50)
        .map(|_| {
            let me = me.clone();
            actix_rt::spawn(async move { me.get().await })
        })
        .collect();
    actix_rt::time::sleep(Duration::from_millis(1)).await;
    emu.drop_connections();
    for g in gets {
        assert!(g.await.unwrap().unwrap().is_some());
    }
    let seen = seen.lock().unwrap().clone();
    let connected = seen
        .iter()
        .filter(|l| matches!(l, Lifecycle::Connected))
        .count();
    // Either the gets were answered before the drop (one socket), or the drop interrupted them and
    // a second socket answered; both are correct, and the order of events must say which.
    if connected == 2 {
        let disconnected = seen
            .iter()
            .position(|l| matches!(l, Lifecycle::Disconnected { .. }));
        let second = seen.iter().rposition(|l| matches!(l, Lifecycle::Connected));
        assert!(disconnected.is_some() && disconnected < second, "{seen:?}");
        assert!(
            seen.iter()
                .any(|l| matches!(l, Lifecycle::Reconnecting { attempt: 1, .. })),
            "{seen:?}"
        );
    } else {
        assert_eq!(connected, 1, "{seen:?}");
    }
    emu.stop().await;
}

/// A plugin that writes down the type of every pushed event.
struct EventLog(Arc<Mutex<Vec<String>>>);

impl Actor for EventLog {
    type Context = Context<Self>;
}

impl Handler<talkjs::InboundEvent> for EventLog {
    type Result = ();

    fn handle(&mut self, msg: talkjs::InboundEvent, _ctx: &mut Context<Self>) {
        self.0.lock().unwrap().push(msg.0.type_name().to_owned());
    }
}

#[actix_rt::test]
async fn a_plugin_actor_sees_every_pushed_event_of_a_live_subscription() {
    use talkjs::params::CreateConversationParams;
    let emu = Emulator::builder()
        .app_id("app1")
        .start("127.0.0.1:0")
        .await
        .unwrap();
    let s = talkjs::get_talk_session("app1", "alice")
        .host(emu.host())
        .force_create_new()
        .await
        .unwrap();
    let events = Arc::new(Mutex::new(Vec::new()));
    s.observe(None, Some(EventLog(events.clone()).start().recipient()));
    s.current_user()
        .create_if_not_exists(CreateUserParams::new("Alice"))
        .await
        .unwrap();
    let chat = s.conversation("c1");
    chat.create_if_not_exists(CreateConversationParams::new())
        .await
        .unwrap();
    let messages = chat.subscribe_messages();
    messages.connected().await.unwrap();
    chat.send("hello").await.unwrap();
    for _ in 0..100 {
        if events
            .lock()
            .unwrap()
            .iter()
            .any(|t| t == "message.created")
        {
            break;
        }
        actix_rt::time::sleep(Duration::from_millis(20)).await;
    }
    let seen = events.lock().unwrap().clone();
    assert!(
        seen.iter().any(|t| t == "message.created"),
        "the plugin saw {seen:?}"
    );
    // The subscription gets it too: plugins observe, they do not consume.
    let first_text = || {
        messages
            .latest()
            .flatten()
            .and_then(|l| l.first().map(|m| m.plaintext.clone()))
    };
    for _ in 0..100 {
        if first_text().is_some() {
            break;
        }
        actix_rt::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(first_text(), Some("hello".to_owned()));
    emu.stop().await;
}
