//! [`FaultProxy`]: a loopback TCP proxy that injects network faults.

use std::collections::HashMap;
use std::io;
use std::net::{Ipv4Addr, SocketAddr, TcpListener as StdTcpListener};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, mpsc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{ReadHalf, WriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::runtime::{Builder, Handle, Runtime};
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle as TaskHandle;

use crate::rng::XorShift64;

/// Size of each direction's copy buffer.
const BUFFER: usize = 16 * 1024;
/// How long [`FaultProxy::cut_all`] waits for the connections to confirm their reset, and how
/// long dropping the proxy waits for its connections to close.
const CONFIRM_TIMEOUT: Duration = Duration::from_secs(2);

/// A loopback TCP proxy for tests: forwards every accepted connection to an upstream server byte
/// for byte, in both directions, and injects network faults on demand.
///
/// It works at the TCP level, so HTTP, keep-alive and websockets pass through unchanged: point a
/// client at [`host`](Self::host) instead of the server's own address. Half-closes are forwarded
/// (a FIN from one side becomes a FIN to the other); a fault resets both sides of a connection
/// (`SO_LINGER` 0, so the peers see `ECONNRESET` or an abrupt EOF, never a clean close).
///
/// The proxy runs on its own thread with its own tokio runtime, so it works from any test: plain
/// `#[test]`, `#[tokio::test]`, or an actix system, and it keeps forwarding while the test's own
/// runtime is blocked. Every method takes `&self`; a `FaultProxy` can be shared in an `Arc`.
/// Dropping it closes the listener and every connection, and waits (briefly) for them to close.
///
/// Faults:
/// - [`cut_all`](Self::cut_all): reset every live connection now;
/// - [`set_refusing`](Self::set_refusing): an outage, new connections are reset at once;
/// - [`set_stalled`](Self::set_stalled): a frozen network, bytes are held (not lost) until resumed;
/// - [`cut_after_server_bytes`](Self::cut_after_server_bytes): the next connection is reset after
///   the server has sent exactly `n` bytes through it (in the middle of a frame);
/// - [`chaos`](Self::chaos): cut every live connection at seeded pseudo-random times.
#[derive(Debug)]
pub struct FaultProxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
    runtime: Handle,
    chaos: Mutex<Option<TaskHandle<()>>>,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

/// State shared by the handle, the accept loop and the connection tasks.
#[derive(Debug)]
struct Shared {
    upstream: SocketAddr,
    refusing: AtomicBool,
    /// A server-byte budget for the next accepted connection.
    next_server_budget: Mutex<Option<u64>>,
    stalled: watch::Sender<bool>,
    accepted: watch::Sender<u64>,
    refused: AtomicU64,
    cuts: AtomicU64,
    chaos_rounds: AtomicU64,
    from_client: AtomicU64,
    from_server: AtomicU64,
    /// Connection tasks still running (including ones being reset).
    tasks: AtomicUsize,
    live: Mutex<Live>,
}

/// The live connections, each with the channel that cuts it.
#[derive(Debug, Default)]
struct Live {
    next_id: u64,
    conns: HashMap<u64, oneshot::Sender<Cut>>,
}

/// A request to reset a connection; `confirm` (if any) is answered once both sockets are reset.
#[derive(Debug)]
struct Cut {
    confirm: Option<mpsc::Sender<()>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding one of these locks leaves consistent data; keep going.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl FaultProxy {
    /// Starts a proxy on `127.0.0.1:0` (a free port) that forwards to `upstream`.
    ///
    /// The upstream connection is made when a client connects; if it fails, the client's
    /// connection is reset. Errors are those of binding the listener or starting the proxy's
    /// thread and runtime.
    pub fn start(upstream: SocketAddr) -> io::Result<FaultProxy> {
        let listener = StdTcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let runtime: Runtime = Builder::new_current_thread().enable_all().build()?;
        let listener = {
            let _entered = runtime.enter();
            TcpListener::from_std(listener)?
        };
        let shared = Arc::new(Shared {
            upstream,
            refusing: AtomicBool::new(false),
            next_server_budget: Mutex::new(None),
            stalled: watch::Sender::new(false),
            accepted: watch::Sender::new(0),
            refused: AtomicU64::new(0),
            cuts: AtomicU64::new(0),
            chaos_rounds: AtomicU64::new(0),
            from_client: AtomicU64::new(0),
            from_server: AtomicU64::new(0),
            tasks: AtomicUsize::new(0),
            live: Mutex::new(Live::default()),
        });
        let handle = runtime.handle().clone();
        // Spawned now, run once the thread drives the runtime.
        let accept = handle.spawn(accept_loop(listener, Arc::clone(&shared)));
        let (shutdown, stopped) = oneshot::channel::<()>();
        let on_thread = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name(format!("fault-proxy-{}", addr.port()))
            .spawn(move || {
                runtime.block_on(async move {
                    // Until the handle is dropped (or its sender is: either way, stop).
                    let _ = stopped.await;
                    accept.abort();
                    on_thread.cut_all(None, false);
                    let deadline = Instant::now() + CONFIRM_TIMEOUT;
                    while on_thread.tasks.load(Ordering::SeqCst) > 0 && Instant::now() < deadline {
                        tokio::time::sleep(Duration::from_millis(1)).await;
                    }
                });
                // Dropping the runtime drops the listener and anything left.
            })?;
        Ok(FaultProxy {
            addr,
            shared,
            runtime: handle,
            chaos: Mutex::new(None),
            shutdown: Some(shutdown),
            thread: Some(thread),
        })
    }

    /// The proxy's own address (`127.0.0.1:PORT`): connect here instead of to the upstream.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The proxy's address as `"127.0.0.1:PORT"`, the form the runtime and the official client
    /// take as their `host`.
    pub fn host(&self) -> String {
        self.addr.to_string()
    }

    /// The server every connection is forwarded to.
    pub fn upstream(&self) -> SocketAddr {
        self.shared.upstream
    }

    /// Resets every live connection, both the client's and the upstream side, and returns how
    /// many were cut. New connections are accepted as usual afterwards (see
    /// [`set_refusing`](Self::set_refusing) for an outage).
    ///
    /// When this returns, every connection that was live at the call has been reset (it blocks
    /// the calling thread for the short moment the proxy's thread needs, at most a couple of
    /// seconds if that thread is starved). The peers notice asynchronously, as after a real
    /// network failure: the next read gives `ECONNRESET` or EOF.
    pub fn cut_all(&self) -> usize {
        let (confirm, confirmed) = mpsc::channel();
        let cut = self.shared.cut_all(Some(&confirm), true);
        drop(confirm);
        let deadline = Instant::now() + CONFIRM_TIMEOUT;
        for _ in 0..cut {
            let left = deadline.saturating_duration_since(Instant::now());
            if confirmed.recv_timeout(left).is_err() {
                break;
            }
        }
        cut
    }

    /// How many connections faults have reset so far: [`cut_all`](Self::cut_all), chaos and
    /// [`cut_after_server_bytes`](Self::cut_after_server_bytes) together. Refused connections are
    /// counted by [`connections_refused`](Self::connections_refused) instead.
    pub fn cuts(&self) -> u64 {
        self.shared.cuts.load(Ordering::SeqCst)
    }

    /// While `true`, every new connection is reset as soon as it is accepted, without
    /// contacting the upstream (an outage: the client sees its connect succeed and the
    /// connection die at once, or its first write or read fail). Live connections are not
    /// touched; call [`cut_all`](Self::cut_all) as well to drop them.
    pub fn set_refusing(&self, refusing: bool) {
        self.shared.refusing.store(refusing, Ordering::SeqCst);
    }

    /// Whether new connections are being refused.
    pub fn is_refusing(&self) -> bool {
        self.shared.refusing.load(Ordering::SeqCst)
    }

    /// While `true`, the proxy holds every byte in both directions of every connection (a frozen
    /// network: nothing is lost, TCP back-pressure builds up, and nothing arrives until it is set
    /// back to `false`). Useful for heartbeat and silence timeouts. Cuts still work while stalled.
    pub fn set_stalled(&self, stalled: bool) {
        self.shared.stalled.send_replace(stalled);
    }

    /// Arms a fault for the next accepted connection: once the server has sent `n` bytes through
    /// it, the proxy forwards exactly those `n` bytes and resets the connection, so the client
    /// sees a response or frame cut short. `0` resets it at the server's first byte. One-shot:
    /// later connections are unaffected; calling it again replaces an unused budget.
    pub fn cut_after_server_bytes(&self, n: u64) {
        *lock(&self.shared.next_server_budget) = Some(n);
    }

    /// Starts cutting every live connection at pseudo-random times until
    /// [`stop_chaos`](Self::stop_chaos) (or drop): the gaps between cuts are exponentially
    /// distributed with mean `mean_interval` (clamped to `[mean/20, mean*5]`, see
    /// [`XorShift64::exponential`]) and determined by `seed`. Replaces a running chaos schedule.
    /// Each round counts in [`chaos_rounds`](Self::chaos_rounds), each connection it resets in
    /// [`cuts`](Self::cuts).
    pub fn chaos(&self, seed: u64, mean_interval: Duration) {
        let shared = Arc::clone(&self.shared);
        let task = self.runtime.spawn(async move {
            let mut rng = XorShift64::new(seed);
            loop {
                tokio::time::sleep(rng.exponential(mean_interval)).await;
                shared.chaos_rounds.fetch_add(1, Ordering::SeqCst);
                shared.cut_all(None, true);
            }
        });
        if let Some(old) = lock(&self.chaos).replace(task) {
            old.abort();
        }
    }

    /// Stops the chaos schedule, if one is running. Connections already cut stay cut.
    pub fn stop_chaos(&self) {
        if let Some(task) = lock(&self.chaos).take() {
            task.abort();
        }
    }

    /// How many times the chaos schedule has fired (whether or not a connection was live).
    pub fn chaos_rounds(&self) -> u64 {
        self.shared.chaos_rounds.load(Ordering::SeqCst)
    }

    /// How many connections have been accepted and forwarded (refused ones are not counted).
    pub fn connections_accepted(&self) -> u64 {
        *self.shared.accepted.borrow()
    }

    /// How many connections were reset on arrival while [`set_refusing`](Self::set_refusing)
    /// was on.
    pub fn connections_refused(&self) -> u64 {
        self.shared.refused.load(Ordering::SeqCst)
    }

    /// How many forwarded connections are currently open (not yet closed or cut).
    pub fn live_connections(&self) -> usize {
        lock(&self.shared.live).conns.len()
    }

    /// Resolves once at least `n` connections have been accepted in total (for example, to wait
    /// for a client's reconnection after a cut: `proxy.wait_accepted(proxy.connections_accepted()
    /// + 1)`). Works on any executor; add your own timeout.
    pub async fn wait_accepted(&self, n: u64) {
        let mut accepted = self.shared.accepted.subscribe();
        // The sender lives as long as `self`, so this only ends when the count is reached.
        let _ = accepted.wait_for(|&count| count >= n).await;
    }

    /// Bytes forwarded from clients to the upstream so far.
    pub fn bytes_from_client(&self) -> u64 {
        self.shared.from_client.load(Ordering::SeqCst)
    }

    /// Bytes forwarded from the upstream to clients so far.
    pub fn bytes_from_server(&self) -> u64 {
        self.shared.from_server.load(Ordering::SeqCst)
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.stop_chaos();
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Shared {
    /// Sends a cut to every live connection and returns how many received it. `count` says
    /// whether they count as fault cuts (not when the proxy shuts down).
    fn cut_all(&self, confirm: Option<&mpsc::Sender<()>>, count: bool) -> usize {
        let conns: Vec<_> = lock(&self.live).conns.drain().collect();
        let mut cut = 0;
        for (_, conn) in conns {
            let request = Cut {
                confirm: confirm.cloned(),
            };
            // Fails only if the connection has just ended on its own.
            if conn.send(request).is_ok() {
                cut += 1;
            }
        }
        if count {
            self.cuts.fetch_add(cut as u64, Ordering::SeqCst);
        }
        cut
    }

    fn register(&self, cut: oneshot::Sender<Cut>) -> u64 {
        let mut live = lock(&self.live);
        let id = live.next_id;
        live.next_id += 1;
        live.conns.insert(id, cut);
        id
    }

    fn unregister(&self, id: u64) {
        lock(&self.live).conns.remove(&id);
    }
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        let client = match listener.accept().await {
            Ok((client, _)) => client,
            Err(_) => {
                // E.g. out of file descriptors: back off instead of spinning.
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        if shared.refusing.load(Ordering::SeqCst) {
            shared.refused.fetch_add(1, Ordering::SeqCst);
            reset(&client);
            continue;
        }
        let _ = client.set_nodelay(true);
        let budget = lock(&shared.next_server_budget).take();
        let (cut, cut_requested) = oneshot::channel();
        // Registered before it is counted as accepted, so a test that saw the count can cut it.
        let id = shared.register(cut);
        shared.tasks.fetch_add(1, Ordering::SeqCst);
        shared.accepted.send_modify(|n| *n += 1);
        tokio::spawn(connection(
            client,
            Arc::clone(&shared),
            id,
            budget,
            cut_requested,
        ));
    }
}

/// How a relayed connection ended.
enum End {
    /// Both sides closed their sending direction; the sockets close normally.
    Closed,
    /// A cut was requested (or the proxy is stopping).
    Cut(Option<mpsc::Sender<()>>),
    /// The server's byte budget ran out.
    BudgetSpent,
    /// A read or write failed (a peer reset its side): reset the other side too.
    Failed,
}

/// How one direction of a connection ended.
enum PumpEnd {
    Eof,
    BudgetSpent,
    Failed,
}

/// Which counter a direction adds to.
#[derive(Clone, Copy)]
enum Direction {
    ToServer,
    ToClient,
}

async fn connection(
    mut client: TcpStream,
    shared: Arc<Shared>,
    id: u64,
    budget: Option<u64>,
    mut cut: oneshot::Receiver<Cut>,
) {
    let upstream = tokio::select! {
        biased;
        request = &mut cut => Err(request.ok().and_then(|c| c.confirm)),
        upstream = TcpStream::connect(shared.upstream) => Ok(upstream),
    };
    let end = match upstream {
        Err(confirm) => {
            reset(&client);
            End::Cut(confirm)
        }
        Ok(Err(_)) => {
            // The upstream is down: the client sees its connection reset.
            reset(&client);
            End::Failed
        }
        Ok(Ok(mut upstream)) => {
            let _ = upstream.set_nodelay(true);
            let end = relay(&mut client, &mut upstream, &shared, budget, &mut cut).await;
            if !matches!(end, End::Closed) {
                reset(&client);
                reset(&upstream);
            }
            drop(upstream);
            end
        }
    };
    // From here on a cut request can no longer be delivered (it is not counted either).
    drop(cut);
    drop(client);
    shared.unregister(id);
    match end {
        End::Cut(Some(confirm)) => {
            let _ = confirm.send(());
        }
        End::BudgetSpent => {
            shared.cuts.fetch_add(1, Ordering::SeqCst);
        }
        End::Closed | End::Cut(None) | End::Failed => {}
    }
    shared.tasks.fetch_sub(1, Ordering::SeqCst);
}

async fn relay(
    client: &mut TcpStream,
    upstream: &mut TcpStream,
    shared: &Shared,
    budget: Option<u64>,
    cut: &mut oneshot::Receiver<Cut>,
) -> End {
    let (client_read, client_write) = client.split();
    let (upstream_read, upstream_write) = upstream.split();
    let to_server = pump(
        client_read,
        upstream_write,
        None,
        shared,
        Direction::ToServer,
    );
    let to_client = pump(
        upstream_read,
        client_write,
        budget,
        shared,
        Direction::ToClient,
    );
    tokio::pin!(to_server, to_client);
    let (mut server_done, mut client_done) = (false, false);
    loop {
        let ended = tokio::select! {
            biased;
            request = &mut *cut => return End::Cut(request.ok().and_then(|c| c.confirm)),
            end = &mut to_server, if !server_done => {
                server_done = true;
                end
            }
            end = &mut to_client, if !client_done => {
                client_done = true;
                end
            }
        };
        match ended {
            PumpEnd::Eof if server_done && client_done => return End::Closed,
            PumpEnd::Eof => {}
            PumpEnd::BudgetSpent => return End::BudgetSpent,
            PumpEnd::Failed => return End::Failed,
        }
    }
}

/// Copies one direction until EOF (then forwards the half-close), an error, or the end of the
/// byte budget. Holds each chunk while the proxy is stalled.
async fn pump(
    mut from: ReadHalf<'_>,
    mut to: WriteHalf<'_>,
    mut budget: Option<u64>,
    shared: &Shared,
    direction: Direction,
) -> PumpEnd {
    let mut stalled = shared.stalled.subscribe();
    let counter = match direction {
        Direction::ToServer => &shared.from_client,
        Direction::ToClient => &shared.from_server,
    };
    let mut buf = vec![0u8; BUFFER];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) => {
                let _ = to.shutdown().await;
                return PumpEnd::Eof;
            }
            Ok(n) => n,
            Err(_) => return PumpEnd::Failed,
        };
        if stalled.wait_for(|stalled| !*stalled).await.is_err() {
            return PumpEnd::Failed;
        }
        let (len, spent) = match budget {
            Some(left) if n as u64 >= left => (left as usize, true),
            Some(left) => {
                budget = Some(left - n as u64);
                (n, false)
            }
            None => (n, false),
        };
        if len > 0 {
            if to.write_all(&buf[..len]).await.is_err() {
                return PumpEnd::Failed;
            }
            counter.fetch_add(len as u64, Ordering::SeqCst);
        }
        if spent {
            return PumpEnd::BudgetSpent;
        }
    }
}

/// Makes the socket's close abortive: dropping it then sends RST instead of FIN.
fn reset(stream: &TcpStream) {
    let _ = stream.set_zero_linger();
}
