//! Where the REST client's HTTP work runs, so that its futures are `Send` and work under any
//! async runtime.
//!
//! awc's futures are not `Send`: they must run on an actix arbiter (a thread with a tokio
//! runtime and a `LocalSet`). This follows the rule of the Data API's runtime
//! (`talkjs-actors`' `runtime` module): inside an actix program the current arbiter does the
//! work; anywhere else (`#[tokio::main]`, a plain thread) a thread of the client's own, named
//! [`THREAD_NAME`], started on first use and kept for the life of the process. The caller's
//! future only waits on a oneshot channel, so it is `Send` and needs no runtime's timer.
//!
//! The actors' runtime is private to `talkjs-actors`; this is the same rule in a few lines
//! rather than a new public door into that crate.

use std::future::Future;
use std::sync::OnceLock;

use actix::{Arbiter, ArbiterHandle, System};

/// The name of the thread the REST client starts when no actix arbiter runs the caller.
pub const THREAD_NAME: &str = "talkjs-rest";

/// The client's own arbiter, started on first use (`None` if the OS refused a thread).
static OWN: OnceLock<Option<ArbiterHandle>> = OnceLock::new();

fn arbiter() -> Option<ArbiterHandle> {
    if let Some(current) = Arbiter::try_current() {
        return Some(current);
    }
    OWN.get_or_init(|| {
        let (tx, rx) = std::sync::mpsc::channel();
        let spawned = std::thread::Builder::new()
            .name(THREAD_NAME.into())
            .spawn(move || {
                System::new().block_on(async move {
                    let _ = tx.send(Arbiter::current());
                    // Runs for the life of the process.
                    std::future::pending::<()>().await;
                });
            });
        match spawned {
            Ok(_) => rx.recv().ok(),
            Err(e) => {
                tracing::error!(error = %e, "cannot start the talkjs REST thread");
                None
            }
        }
    })
    .clone()
}

/// Runs `work` on an arbiter's thread and returns a `Send` future of its output; `None` if no
/// arbiter could run it (the OS refused a thread, or the caller's actix system is stopping).
/// The work starts now and runs to its end even if the future is dropped.
pub(crate) fn run<F, Fut, T>(work: F) -> impl Future<Output = Option<T>> + Send + 'static
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = T> + 'static,
    T: Send + 'static,
{
    let (tx, rx) = tokio::sync::oneshot::channel();
    let spawned = arbiter().is_some_and(|arbiter| {
        arbiter.spawn_fn(move || {
            actix::spawn(async move {
                let _ = tx.send(work().await);
            });
        })
    });
    async move {
        if !spawned {
            return None;
        }
        rx.await.ok()
    }
}
