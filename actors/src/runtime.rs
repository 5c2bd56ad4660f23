//! Where the runtime's actors live, so that it works from any async runtime.
//!
//! Actix actors run on an arbiter: a thread with a single-threaded tokio runtime and a
//! `LocalSet`. Inside an actix program (`#[actix_rt::main]`, an actix-web worker) there is one
//! already, and the session's actors join it, as before. Anywhere else (`#[tokio::main]` with
//! its worker threads, a `tokio::spawn`ed task, a plain thread) there is none, so the runtime
//! starts one of its own the first time it is needed: a thread named `talkjs-runtime` running an
//! actix `System`, shared by every session of the process that was started outside actix.
//!
//! Everything that reaches a session from outside goes through channels (actor mailboxes,
//! oneshots), so every public future is `Send` and can be awaited on any thread. Work that must
//! run on the session's thread because it is not `Send` (awc's HTTP client, starting actors)
//! is handed to the arbiter with [`start`] and [`run`].

use std::future::Future;
use std::sync::OnceLock;

use actix::prelude::*;
use actix_rt::ArbiterHandle;

/// The name of the thread the runtime starts when no actix system is running.
pub const THREAD_NAME: &str = "talkjs-runtime";

/// The arbiter of the runtime's own thread, started on first use.
static OWN: OnceLock<Option<ArbiterHandle>> = OnceLock::new();

/// The arbiter new sessions run on: the current thread's when it runs an actix arbiter (an
/// actix program, including a task `tokio::spawn`ed inside one), else the runtime's own thread.
/// `None` only if that thread could not be started (the OS refused a thread).
pub(crate) fn arbiter() -> Option<ArbiterHandle> {
    if let Some(current) = actix_rt::Arbiter::try_current() {
        return Some(current);
    }
    OWN.get_or_init(start_own_thread).clone()
}

fn start_own_thread() -> Option<ArbiterHandle> {
    let (tx, rx) = std::sync::mpsc::channel();
    let spawned = std::thread::Builder::new()
        .name(THREAD_NAME.into())
        .spawn(move || {
            let system = actix_rt::System::new();
            system.block_on(async move {
                let _ = tx.send(actix_rt::Arbiter::current());
                // Runs for the life of the process: sessions started outside actix live here.
                std::future::pending::<()>().await;
            });
        });
    match spawned {
        Ok(_) => rx.recv().ok(),
        Err(e) => {
            tracing::error!(error = %e, "cannot start the talkjs runtime thread");
            None
        }
    }
}

/// Starts an actor on `arbiter` and returns its address at once, from any thread. The closure
/// runs on the arbiter's thread, so it may start further actors with `Actor::start`.
pub(crate) fn start<A, F>(arbiter: &ArbiterHandle, make: F) -> Addr<A>
where
    A: Actor<Context = Context<A>>,
    F: FnOnce(&mut Context<A>) -> A + Send + 'static,
{
    A::start_in_arbiter(arbiter, make)
}

/// Runs `work` on `arbiter`'s thread (where `!Send` futures such as awc's requests can run) and
/// returns a future of its output; `None` if the arbiter stopped before it finished. The work
/// starts now, not when the future is first polled, and runs to its end even if the future is
/// dropped.
pub(crate) fn run<F, Fut, T>(
    arbiter: &ArbiterHandle,
    work: F,
) -> impl Future<Output = Option<T>> + Send + 'static + use<F, Fut, T>
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = T> + 'static,
    T: Send + 'static,
{
    let (tx, rx) = tokio::sync::oneshot::channel();
    let spawned = arbiter.spawn_fn(move || {
        actix_rt::spawn(async move {
            let _ = tx.send(work().await);
        });
    });
    async move {
        if !spawned {
            return None;
        }
        rx.await.ok()
    }
}

/// Runs `work` where the runtime's actors run: on the current actix arbiter if the caller is on
/// one, else on the runtime's own thread ([`THREAD_NAME`]), started on first use. Returns a
/// `Send` future of its output, so `!Send` work (awc's HTTP client) can be awaited from any
/// async runtime or thread; `None` if no arbiter could run it (the OS refused a thread, or the
/// caller's actix system is stopping). The work starts now and runs to its end even if the
/// future is dropped. The `talkjs` crate's REST client uses it, so a program that uses both the
/// Data API and the REST API outside actix has one such thread, not two.
pub fn run_on_runtime<F, Fut, T>(work: F) -> impl Future<Output = Option<T>> + Send + 'static
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = T> + 'static,
    T: Send + 'static,
{
    let started = arbiter().map(|arbiter| run(&arbiter, work));
    async move {
        match started {
            Some(output) => output.await,
            None => None,
        }
    }
}
