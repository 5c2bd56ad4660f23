//! The runtime works wherever a Rust program runs async code: the same flow (get two sessions,
//! create a conversation, subscribe to its messages, send, see the live update, search with an
//! `on_results` listener, unsubscribe)
//! under `#[tokio::main]`'s multi-threaded runtime, in a task `tokio::spawn`ed inside an actix
//! system, in an actix-web handler, and on a plain thread with no async runtime at all
//! (`futures::executor::block_on`). And a subscription handle dropped on another thread than
//! the one that made it still ends the subscription, and the idle socket closes.
//!
//! The emulator runs on a thread of its own with its own actix system, so nothing of the flow
//! borrows the caller's runtime. Waits use a timer thread, not a runtime's timer, so the same
//! helpers work in all four settings.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use talkjs::params::{CreateConversationParams, CreateParticipantParams, CreateUserParams};
use talkjs::snapshot::SubscriptionState;
use talkjs::{SearchStatus, TalkSession};

const APP: &str = "app1";
/// The longest any step may take before the test fails instead of hanging.
const STEP: Duration = Duration::from_secs(10);

/// Starts an emulator on its own thread and actix system; returns its host. It runs until the
/// test process ends.
fn emulator() -> String {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        actix_rt::System::new().block_on(async move {
            let emulator = talkjs_emulator::Emulator::builder()
                .app_id(APP)
                .start("127.0.0.1:0")
                .await
                .expect("emulator starts");
            tx.send(emulator.host()).expect("test waits");
            std::future::pending::<()>().await;
        });
    });
    rx.recv_timeout(STEP).expect("emulator started")
}

/// Waits `d` on a timer thread: works with or without an async runtime.
async fn pause(d: Duration) {
    let (tx, rx) = futures::channel::oneshot::channel();
    std::thread::spawn(move || {
        std::thread::sleep(d);
        let _ = tx.send(());
    });
    let _ = rx.await;
}

/// `f`, or an error naming `what` after [`STEP`].
async fn within<T>(what: &str, f: impl Future<Output = T>) -> Result<T, String> {
    let f = std::pin::pin!(f);
    let timer = std::pin::pin!(pause(STEP));
    match futures::future::select(f, timer).await {
        futures::future::Either::Left((v, _)) => Ok(v),
        futures::future::Either::Right(_) => Err(format!("{what} took over {STEP:?}")),
    }
}

fn timings() -> talkjs::Timings {
    talkjs::Timings {
        unsubscribe_delay: Duration::from_millis(100),
        user_unsubscribe_delay: Duration::from_millis(100),
        idle_close: Duration::from_millis(200),
        ..Default::default()
    }
}

async fn session(host: &str, user: &str) -> Result<TalkSession, String> {
    let s = talkjs::get_talk_session(APP, user)
        .host(host)
        .timings(timings())
        .force_create_new()
        .await
        .map_err(|e| e.to_string())?;
    within(
        "creating a user",
        s.current_user()
            .create_if_not_exists(CreateUserParams::new(user)),
    )
    .await?
    .map_err(|e| e.to_string())?;
    Ok(s)
}

/// The flow every setting runs; `tag` keeps the settings' users and conversations apart.
/// Returns Bob's session, its subscription already ended.
async fn flow(host: String, tag: &'static str) -> Result<TalkSession, String> {
    let alice = session(&host, &format!("alice-{tag}")).await?;
    let bob = session(&host, &format!("bob-{tag}")).await?;
    let c = format!("chat-{tag}");
    let chat = alice.conversation(&c);
    within(
        "creating the conversation",
        chat.create_if_not_exists(CreateConversationParams::new()),
    )
    .await?
    .map_err(|e| e.to_string())?;
    within(
        "adding bob",
        chat.participant(format!("bob-{tag}"))
            .create_if_not_exists(CreateParticipantParams::new()),
    )
    .await?
    .map_err(|e| e.to_string())?;

    let messages = bob.conversation(&c).subscribe_messages();
    let first = within("the first snapshot", messages.connected())
        .await?
        .map_err(|e| e.to_string())?;
    if first.snapshot.as_ref().map(|l| l.len()) != Some(0) {
        return Err(format!(
            "expected no messages yet, got {:?}",
            first.snapshot
        ));
    }
    let mut updates = messages.stream();
    within("sending", chat.send("hello from *everywhere*"))
        .await?
        .map_err(|e| e.to_string())?;
    let live = within("the live update", async {
        while let Some(update) = updates.next().await {
            if let Some(m) = update.snapshot.and_then(|l| l.first().cloned()) {
                return Some(m);
            }
        }
        None
    })
    .await?
    .ok_or("the stream ended before the message came")?;
    if live.plaintext != "hello from everywhere"
        || live.sender.as_ref().map(|u| &*u.id) != Some(&*format!("alice-{tag}"))
    {
        return Err(format!("unexpected message {live:?}"));
    }
    // A search runs its HTTP request and hydration on the session's thread, and its
    // `on_results` listener where the session's actors run, so both work in every setting too.
    let heard: Arc<Mutex<Vec<(usize, SearchStatus)>>> = Arc::default();
    let log = heard.clone();
    let search = bob
        .search_messages()
        .on_results(move |results, status| log.lock().unwrap().push((results.len(), status)));
    let found = within("searching", search.set_query("everywhere", None))
        .await?
        .map_err(|e| e.to_string())?;
    if found.results.len() != 1 || found.results[0].message.id != live.id {
        return Err(format!(
            "expected the message as the one result, got {found:?}"
        ));
    }
    within("the on_results listener hearing the result", async {
        while heard.lock().unwrap().last() != Some(&(1, SearchStatus::LoadedAll)) {
            pause(Duration::from_millis(10)).await;
        }
    })
    .await?;
    messages.unsubscribe();
    if !matches!(messages.state(), SubscriptionState::Unsubscribed) {
        return Err("still subscribed after unsubscribe".into());
    }
    Ok(bob)
}

#[test]
fn under_tokio_main_multi_threaded() {
    let host = emulator();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    // Spawned, so the flow's futures really hop between worker threads.
    runtime
        .block_on(async move { tokio::spawn(flow(host, "tokio")).await })
        .unwrap()
        .unwrap();
}

#[actix_rt::test]
async fn in_a_task_tokio_spawned_inside_actix() {
    let host = emulator();
    tokio::spawn(flow(host, "spawned")).await.unwrap().unwrap();
}

#[test]
fn on_a_plain_thread_with_block_on_and_no_runtime() {
    let host = emulator();
    let result = std::thread::spawn(move || futures::executor::block_on(flow(host, "plain")))
        .join()
        .unwrap();
    result.unwrap();
}

#[actix_rt::test]
async fn in_an_actix_web_handler() {
    use actix_web::{App, HttpResponse, HttpServer, web};
    let host = emulator();
    async fn run_flow(host: web::Data<String>) -> HttpResponse {
        match flow(host.get_ref().clone(), "web").await {
            Ok(_) => HttpResponse::Ok().body("ok"),
            Err(e) => HttpResponse::InternalServerError().body(e),
        }
    }
    let data = web::Data::new(host);
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .route("/flow", web::get().to(run_flow))
    })
    .workers(2)
    .bind("127.0.0.1:0")
    .unwrap();
    let addr = server.addrs()[0];
    let server = server.run();
    let handle = server.handle();
    actix_rt::spawn(server);
    let mut response = awc::Client::builder()
        .timeout(STEP * 3)
        .finish()
        .get(format!("http://{addr}/flow"))
        .send()
        .await
        .unwrap();
    let body = response.body().await.unwrap();
    assert_eq!(response.status().as_u16(), 200, "{body:?}");
    handle.stop(true).await;
}

#[test]
fn dropping_the_last_handle_on_another_thread_ends_the_subscription_and_the_socket_closes() {
    let host = emulator();
    futures::executor::block_on(async move {
        let alice = session(&host, "alice-drop").await.unwrap();
        let messages = alice.conversation("chat-drop").subscribe_messages();
        // Alice is no participant of a conversation that does not exist: an empty snapshot
        // (`None`) is still a snapshot, and the topic is held.
        within("the first snapshot", messages.connected())
            .await
            .unwrap()
            .unwrap();
        let status = alice.status().await.unwrap();
        assert!(status.connected && status.topics > 0, "{status:?}");
        // The last handle goes away on another thread.
        std::thread::spawn(move || drop(messages)).join().unwrap();
        let deadline = Instant::now() + STEP;
        loop {
            let status = alice.status().await.unwrap();
            if !status.connected && status.subscriptions == 0 && status.topics == 0 {
                break;
            }
            assert!(Instant::now() < deadline, "still open: {status:?}");
            pause(Duration::from_millis(25)).await;
        }
    });
}
