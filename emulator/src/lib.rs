//! `talkjs-emulator`: a TalkJS-compatible local server.
//!
//! It speaks the realtime websocket and HTTP protocol of TalkJS (docs/protocol.md), authenticates
//! users with JWTs or bokens, and enforces TalkJS's permission rules, over an in-memory store. The
//! official JavaScript client works against it unchanged (`host: "127.0.0.1:PORT"`), and so does
//! the `talkjs` Rust runtime, whose examples and tests start it in process.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use talkjs_emulator::Emulator;
//! let emulator = Emulator::builder().app_id("my-app").start("127.0.0.1:0").await?;
//! println!("TalkJS emulator at {}", emulator.url());
//! emulator.stop().await;
//! # Ok(()) }
//! ```
//!
//! Layout: [`world`] holds the state and rules and does no I/O; [`realtime`] serves websockets;
//! [`http`] serves the rest; [`store`] is the storage trait and its in-memory implementation;
//! [`auth`] checks tokens.

#![deny(missing_docs)]

pub mod auth;
mod batch;
pub mod clock;
pub mod config;
mod download;
pub mod http;
mod login;
pub mod outbox;
pub mod pending;
pub mod realtime;
pub mod store;
pub mod world;

use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::dev::ServerHandle;
use actix_web::{App, HttpServer, web};

pub use config::Config;
use pending::PendingSockets;
use realtime::{SharedWorld, lock};
use store::{MemoryStore, Store};
pub use world::AdminError;
use world::World;

/// Worker threads of the HTTP server: the machines this runs on in CI have two cores.
const WORKERS: usize = 2;
/// How long a stopping server waits for open connections after asking them to close.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);
/// Close code sent to sockets when the emulator stops ("going away").
const CLOSE_GOING_AWAY: u16 = 1001;
/// Close code for [`RunningEmulator::drop_connections`] ("service restart").
const CLOSE_SERVICE_RESTART: u16 = 1012;
/// Close code for [`RunningEmulator::restart`]: what TalkJS was seen sending after
/// `upstream.restarting` (docs/protocol.md §11.5).
const CLOSE_RESTARTING: u16 = CLOSE_GOING_AWAY;

/// Builds an emulator. Every setting has a default; see [`Config`].
#[derive(Default)]
pub struct Emulator {
    config: Config,
    store: Option<Box<dyn Store>>,
}

impl Emulator {
    /// A builder with the default settings (app id `demo`, no secret, sync on).
    pub fn builder() -> Emulator {
        Emulator::default()
    }

    /// Starts from a complete configuration.
    pub fn with_config(config: Config) -> Emulator {
        Emulator {
            config,
            store: None,
        }
    }

    /// The app id to serve.
    pub fn app_id(mut self, app_id: impl Into<String>) -> Emulator {
        self.config.app_id = app_id.into();
        self
    }

    /// Requires JWTs signed with this secret.
    pub fn secret(mut self, secret: impl Into<String>) -> Emulator {
        self.config.secret = Some(secret.into());
        self
    }

    /// The largest upload accepted, in bytes.
    pub fn max_upload_bytes(mut self, bytes: u64) -> Emulator {
        self.config.max_upload_bytes = bytes;
        self
    }

    /// Whether clients may create and edit users.
    pub fn user_sync(mut self, on: bool) -> Emulator {
        self.config.user_sync = on;
        self
    }

    /// Whether clients may create and edit conversations and participants.
    pub fn conversation_sync(mut self, on: bool) -> Emulator {
        self.config.conversation_sync = on;
        self
    }

    /// Sets the per-client bounds (login deadline, queue caps, ...).
    pub fn limits(mut self, limits: config::Limits) -> Emulator {
        self.config.limits = limits;
        self
    }

    /// Uses another store than the in-memory one.
    pub fn store(mut self, store: Box<dyn Store>) -> Emulator {
        self.store = Some(store);
        self
    }

    /// Binds `addr` (port 0 picks a free port) and starts serving in the background of the current
    /// actix/tokio runtime.
    pub async fn start(self, addr: &str) -> io::Result<RunningEmulator> {
        let store = self.store.unwrap_or_else(|| Box::new(MemoryStore::new()));
        let world: SharedWorld = Arc::new(Mutex::new(World::new(self.config, store)));
        let pending = web::Data::from(PendingSockets::new(
            lock(&world).config().limits.max_pending_per_address,
        ));
        let data = web::Data::new(world.clone());
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .app_data(pending.clone())
                .configure(http::routes)
        })
        .workers(WORKERS)
        .disable_signals()
        .shutdown_timeout(SHUTDOWN_GRACE.as_secs())
        .bind(addr)?;
        let local = server.addrs().first().copied().ok_or_else(|| {
            io::Error::new(io::ErrorKind::AddrNotAvailable, "bound to no address")
        })?;
        let server = server.run();
        let handle = server.handle();
        lock(&world).set_public_url(format!("http://{local}"));
        let task = actix_rt::spawn(server);
        tracing::info!(%local, "talkjs-emulator listening");
        Ok(RunningEmulator {
            addr: local,
            handle,
            world,
            task,
        })
    }
}

/// A started emulator. Dropping it leaves the server running until the runtime ends; call
/// [`RunningEmulator::stop`] for a clean shutdown.
pub struct RunningEmulator {
    addr: SocketAddr,
    handle: ServerHandle,
    world: SharedWorld,
    task: actix_rt::task::JoinHandle<io::Result<()>>,
}

impl RunningEmulator {
    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `HOST:PORT`, the value to give clients as their `host` option.
    pub fn host(&self) -> String {
        self.addr.to_string()
    }

    /// `http://HOST:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The app id served.
    pub fn app_id(&self) -> String {
        lock(&self.world).config().app_id.clone()
    }

    /// Starts keeping every request the emulator receives (see [`RunningEmulator::take_requests`]).
    pub fn record_requests(&self) {
        lock(&self.world).record_requests(true);
    }

    /// The requests received since recording started or since the last call, oldest first.
    pub fn take_requests(&self) -> Vec<world::RecordedRequest> {
        lock(&self.world).take_recorded()
    }

    /// Runs `f` on the emulator's state, e.g. to inspect the store in a test.
    pub fn inspect<T>(&self, f: impl FnOnce(&World) -> T) -> T {
        f(&lock(&self.world))
    }

    /// Closes every client socket now (code 1012, "service restart") while the server keeps
    /// running, so tests can watch clients reconnect.
    pub fn drop_connections(&self) {
        lock(&self.world).close_all(CLOSE_SERVICE_RESTART, "emulator dropped the connection");
    }

    /// Deletes every message of conversation `id`, as TalkJS's REST API can, and returns how many
    /// there were. Subscribers of its messages get `conversation.cleared`, and each participant's
    /// views a `side.edited` with the derived fields (`lastMessageAt` back to `joinedAt`, no
    /// unread messages); see [`World::clear_conversation`].
    pub fn clear_conversation(&self, id: &str) -> Result<usize, AdminError> {
        lock(&self.world).clear_conversation(id)
    }

    /// Pushes `{"type":"upstream.restarting"}` to every authenticated socket and leaves them
    /// open. A client that got it does not refetch after its next reconnect (docs/protocol.md
    /// §3.8). Returns how many sockets were told.
    pub fn announce_restart(&self) -> usize {
        lock(&self.world).announce_restart()
    }

    /// A restart as TalkJS's server does one: [`RunningEmulator::announce_restart`], then every
    /// socket is closed (code 1001, after the announcement) while the server and its data stay.
    /// Clients reconnect and resubscribe, without refetching. Returns how many sockets were told.
    pub fn restart(&self) -> usize {
        let mut w = lock(&self.world);
        let told = w.announce_restart();
        // Under the same lock: every socket's queue holds the announcement before the close.
        w.close_all(CLOSE_RESTARTING, "emulator restarting");
        told
    }

    /// Closes every socket (code 1001) and stops the server, waiting briefly for connections.
    pub async fn stop(self) {
        lock(&self.world).close_all(CLOSE_GOING_AWAY, "emulator stopping");
        // Every socket was just told to close; nothing is left worth a graceful wait.
        self.handle.stop(false).await;
        let _ = self.task.await;
    }

    /// Resolves when the server stops (for the binary, which runs until killed).
    pub async fn wait(self) -> io::Result<()> {
        self.task.await.map_err(io::Error::other)?
    }
}
