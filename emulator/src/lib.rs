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
//! [`http`] serves the client's HTTP endpoints ([`app_settings`] is what the UI components
//! fetch); [`rest`] is TalkJS's REST API v1 and the reset endpoint; [`store`] is the storage
//! trait with its in-memory and SQLite implementations; [`state_file`] reads and writes the whole
//! state as JSON (import, export, seed); [`auth`] checks tokens; [`webhooks`] posts TalkJS's
//! webhook events to `--webhook-url` receivers.

#![deny(missing_docs)]

pub mod access_log;
pub mod app_settings;
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
pub mod rest;
pub mod state_file;
pub mod store;
pub mod webhooks;
pub mod world;

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::dev::ServerHandle;
use actix_web::{App, HttpServer, web};

pub use config::Config;
use pending::PendingSockets;
use realtime::{SharedWorld, lock};
use state_file::StateFile;
use store::{MemoryStore, SqliteStore, Store};
use webhooks::Webhooks;
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
    data_dir: Option<PathBuf>,
    seed: Option<StateFile>,
    import: Option<StateFile>,
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
            ..Emulator::default()
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

    /// Posts TalkJS webhook events to `url` (`http://` only); call again for more receivers.
    /// Each gets every event, signed with the [`Emulator::secret`] (docs/protocol.md §12.11).
    ///
    /// ```no_run
    /// # async fn demo() -> std::io::Result<()> {
    /// use std::time::Duration;
    /// use talkjs_emulator::Emulator;
    ///
    /// let emulator = Emulator::builder()
    ///     .secret("sk_test_local")
    ///     .webhook_url("http://127.0.0.1:3000/talkjs")
    ///     .webhook_retries(3, Duration::from_millis(200))
    ///     .start("127.0.0.1:0")
    ///     .await?;
    /// # emulator.stop().await;
    /// # Ok(()) }
    /// ```
    pub fn webhook_url(mut self, url: impl Into<String>) -> Emulator {
        self.config.webhooks.urls.push(url.into());
        self
    }

    /// Retries after a failed webhook attempt (default 1, as TalkJS), the first after `backoff`
    /// (default 1 s), each later one after twice the wait before it.
    pub fn webhook_retries(mut self, retries: u32, backoff: Duration) -> Emulator {
        self.config.webhooks.retries = retries;
        self.config.webhooks.backoff = backoff;
        self
    }

    /// How long one webhook attempt may take (default 5 s, as TalkJS).
    pub fn webhook_timeout(mut self, timeout: Duration) -> Emulator {
        self.config.webhooks.timeout = timeout;
        self
    }

    /// Most webhook events waiting for one URL (default 1,000); newer ones are dropped and
    /// logged as dropped.
    pub fn webhook_queue(mut self, events: usize) -> Emulator {
        self.config.webhooks.queue = events;
        self
    }

    /// Uses another store than the in-memory one.
    pub fn store(mut self, store: Box<dyn Store>) -> Emulator {
        self.store = Some(store);
        self
    }

    /// Keeps the state in an SQLite database in `dir` (created if needed): every acknowledged
    /// write survives the process being killed, and a restart over the same directory brings
    /// everything back. Takes precedence over [`Emulator::store`].
    pub fn data_dir(mut self, dir: impl Into<PathBuf>) -> Emulator {
        self.data_dir = Some(dir.into());
        self
    }

    /// A fixture loaded at start when the store is empty (always in memory; with
    /// [`Emulator::data_dir`], only the first time), and restored by every reset
    /// ([`RunningEmulator::reset`], `POST /emulator/v1/apps/{appId}/reset`).
    pub fn seed(mut self, state: StateFile) -> Emulator {
        self.seed = Some(state);
        self
    }

    /// Replaces whatever the store holds with this state at start (`--import`).
    pub fn import(mut self, state: StateFile) -> Emulator {
        self.import = Some(state);
        self
    }

    /// Binds `addr` (port 0 picks a free port) and starts serving in the background of the current
    /// actix/tokio runtime.
    pub async fn start(self, addr: &str) -> io::Result<RunningEmulator> {
        let store: Box<dyn Store> = match (&self.data_dir, self.store) {
            (Some(dir), _) => Box::new(SqliteStore::open(dir).map_err(io::Error::other)?),
            (None, Some(store)) => store,
            (None, None) => Box::new(MemoryStore::new()),
        };
        let hooks = Webhooks::start(self.config.webhooks.clone(), self.config.secret.clone())?;
        let mut world = World::new(self.config, store);
        world.set_webhooks(hooks.clone());
        let empty =
            world.store().all_users().is_empty() && world.store().all_conversations().is_empty();
        match (&self.import, &self.seed) {
            (Some(state), _) => world.import_state(state),
            (None, Some(seed)) if empty => world.import_state(seed),
            _ => {
                world.resume_ids();
                Ok(())
            }
        }
        .map_err(io::Error::other)?;
        let world: SharedWorld = Arc::new(Mutex::new(world));
        let pending = web::Data::from(PendingSockets::new(
            lock(&world).config().limits.max_pending_per_address,
        ));
        let data = web::Data::new(world.clone());
        let seed_for_handle = self.seed.map(Arc::new);
        let seed = web::Data::new(rest::Seed(seed_for_handle.clone()));
        let hooks_data = web::Data::new(hooks.clone());
        let server = HttpServer::new(move || {
            App::new()
                .wrap(actix_web::middleware::from_fn(access_log::log_request))
                .app_data(data.clone())
                .app_data(pending.clone())
                .app_data(seed.clone())
                .app_data(hooks_data.clone())
                .configure(rest::routes)
                .configure(webhooks::routes)
                .configure(http::routes)
        })
        .on_connect(access_log::log_connection)
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
            seed: seed_for_handle,
            hooks,
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
    seed: Option<Arc<StateFile>>,
    hooks: Webhooks,
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

    /// Wipes the state, back to the seed if one was given, and closes every socket so that
    /// clients reconnect to the new state; what `POST /emulator/v1/apps/{appId}/reset` does.
    pub fn reset(&self) -> Result<(), state_file::StateFileError> {
        let seed = self.seed.clone();
        lock(&self.world).reset(seed.as_deref())
    }

    /// The webhook delivery log, newest first (what `GET /emulator/v1/apps/{appId}/webhooks`
    /// answers).
    pub fn webhook_deliveries(&self) -> Vec<webhooks::log::Delivery> {
        self.hooks.deliveries()
    }

    /// The whole state as a document (what `--export` writes).
    pub fn export_state(&self) -> StateFile {
        lock(&self.world).export_state()
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
