//! Heartbeats: a server that stops answering is detected by its silence after a ping, the socket
//! is dropped and redialled, and the request that was waiting is answered on the new socket.
//!
//! A relay between client and emulator can be frozen: the sockets it carries at that moment stop
//! delivering anything from the server, as a hung server or a dead network path would, while new
//! sockets work normally.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix::prelude::*;
use talkjs::params::CreateUserParams;
use talkjs::{Lifecycle, LifecycleEvent, Timings};
use talkjs_emulator::Emulator;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Sockets with a number below this deliver nothing more from the server.
struct Relay {
    next: AtomicU64,
    frozen_below: AtomicU64,
}

async fn relay(upstream: String) -> (String, Arc<Relay>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let relay = Arc::new(Relay {
        next: AtomicU64::new(0),
        frozen_below: AtomicU64::new(0),
    });
    let state = relay.clone();
    actix_rt::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let n = state.next.fetch_add(1, Ordering::SeqCst);
            let Ok(server) = TcpStream::connect(&upstream).await else {
                continue;
            };
            let (mut cr, mut cw) = client.into_split();
            let (mut sr, mut sw) = server.into_split();
            actix_rt::spawn(async move {
                let _ = tokio::io::copy(&mut cr, &mut sw).await;
            });
            let state = state.clone();
            actix_rt::spawn(async move {
                let mut buf = vec![0u8; 16 * 1024];
                while let Ok(len) = sr.read(&mut buf).await {
                    if len == 0 {
                        break;
                    }
                    // A frozen socket swallows what the server says.
                    if n >= state.frozen_below.load(Ordering::SeqCst)
                        && cw.write_all(&buf[..len]).await.is_err()
                    {
                        break;
                    }
                }
            });
        }
    });
    (addr, relay)
}

impl Relay {
    fn freeze_current_sockets(&self) {
        self.frozen_below
            .store(self.next.load(Ordering::SeqCst), Ordering::SeqCst);
    }
}

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

#[actix_rt::test]
async fn a_silent_server_is_dropped_after_a_ping_and_the_waiting_request_is_answered_after_redialling()
 {
    let emu = Emulator::builder()
        .app_id("app1")
        .start("127.0.0.1:0")
        .await
        .unwrap();
    let (host, relay) = relay(emu.host()).await;
    let timings = Timings {
        server_silence: Duration::from_millis(300),
        server_timeout: Duration::from_millis(300),
        ..Timings::default()
    };
    let s = talkjs::get_talk_session("app1", "alice")
        .host(&host)
        .timings(timings)
        .await
        .unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    s.observe(Some(Recorder(seen.clone()).start().recipient()), None);
    s.current_user()
        .create_if_not_exists(CreateUserParams::new("Alice"))
        .await
        .unwrap();

    relay.freeze_current_sockets();
    let got = actix_rt::time::timeout(Duration::from_secs(10), s.current_user().get())
        .await
        .expect("answered within 10 s")
        .unwrap();
    assert_eq!(got.map(|u| u.name), Some("Alice".to_owned()));

    let seen = seen.lock().unwrap().clone();
    assert!(
        seen.iter().any(|l| matches!(l, Lifecycle::Disconnected { reason } if reason.contains("stopped answering"))),
        "{seen:?}"
    );
    assert_eq!(
        seen.iter()
            .filter(|l| matches!(l, Lifecycle::Connected))
            .count(),
        2,
        "{seen:?}"
    );
    emu.stop().await;
}
