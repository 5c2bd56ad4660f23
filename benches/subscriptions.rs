//! Subscription benchmarks for the Rust runtime, the counterpart of
//! `conformance/bench/subscriptions.mjs` (the official `@talkjs/core` client): what an idle
//! messages subscription costs in memory, and what receiving live messages costs in CPU. The
//! metrics have the same names, setup and meaning as there, with `"client":"talkjs-rs"`, so the
//! figures can be compared side by side as ratios; `conformance/bench/compare-subscriptions.mjs`
//! runs both benches with the same N and M and prints the table.
//!
//! Run (after `cargo build --release -p talkjs-emulator`; nothing here runs under `cargo test`):
//!
//! ```text
//! cargo bench --bench subscriptions                                  # everything, N = 1000, M = 2000 and 10000
//! cargo bench --bench subscriptions -- --only idle,shared            # memory only
//! cargo bench --bench subscriptions -- --only cpu,raw --messages 2000,10000,40000,100000
//! cargo bench --bench subscriptions -- --only first                  # time to first snapshot
//! node conformance/bench/compare-subscriptions.mjs                   # all of it beside the official client
//! ```
//!
//! Options (argv, or the env variable in brackets):
//! - `--sessions N` \[SESSIONS\]: idle subscriptions to hold (default 1000).
//! - `--messages LIST` \[MESSAGES\]: comma-separated message counts M for the CPU measurement
//!   (default `2000,10000`); each M is measured for the runtime and then the raw limit.
//! - `--only LIST` \[ONLY\]: comma-separated measurements to run, of `idle` (one session per
//!   subscription), `shared` (one session, N subscriptions), `cpu` (the runtime receiving),
//!   `raw` (the raw limit receiving) and `first` (time to first snapshot); default all. The
//!   official bench's `--only idle` runs both `idle` and `shared`.
//! - `--send-concurrency K` \[SEND_CONCURRENCY\]: sends in flight from the sender (default 100).
//! - `BENCH_WRAP="heaptrack -o /tmp/idle"`: runs each measured process under that command (a
//!   profiler), e.g. to see where an idle session's bytes go. The figures then include the
//!   profiler's overhead; use it to attribute, not to measure.
//!
//! The emulator: with `HOST` set (and `APP`, and `SECRET` if it requires JWTs) a running
//! emulator is used. Otherwise the binary is started on a free port with a JWT secret, as the
//! official bench starts it: `TALKJS_EMULATOR_BIN`, else the newer of
//! `target/release/talkjs-emulator` and `target/debug/talkjs-emulator`. The emulator's speed
//! shows in the wall times only; the CPU and memory figures are those of the measured process.
//!
//! Output: one JSON line per metric on stdout, e.g.
//! `{"client":"talkjs-rs","metric":"idle_subscription_bytes","value":12345.0,"unit":"bytes",...}`.
//! Progress goes to stderr.
//!
//! Processes: this process (the orchestrator) starts the emulator, seeds users, conversations
//! and participants, and sends the messages, all with the runtime. Each measurement runs in a
//! fresh child process (this binary again, with `--role ...`) that holds nothing but the
//! sessions being measured. A child reports on its stdout, one line at a time: the receiver
//! prints `ready` when it starts measuring (the orchestrator then sends), and every child ends
//! with one JSON line, its result (or `{"error": ...}`).
//!
//! Metrics:
//!
//! - `idle_subscription_bytes` / `idle_subscription_rss_bytes`: N sessions, each a different
//!   user (its own `TalkSession` and websocket), each holding one `subscribe_messages`
//!   subscription to its own conversation (conversation i: the seeding user, user i and the
//!   "hub" user of the next metric; no messages), every subscription active. Value: growth of
//!   the live heap (bytes currently allocated, counted by this binary's global allocator, a
//!   [`cap::Cap`] around `std::alloc::System`) resp. of the RSS (`/proc/self/statm`) from before
//!   the sessions exist to after they are all active and settled (1 s), divided by N. A warm-up
//!   session subscribes and is ended before the baseline, so first-use allocations don't count.
//! - `idle_subscription_bytes_shared_session` / `idle_subscription_rss_bytes_shared_session`:
//!   the same N conversations subscribed from ONE session (the hub, a participant of all of
//!   them, connected with one warm-up subscription that stays in the baseline): the cost of a
//!   subscription without a session and socket of its own.
//! - `receive_cpu_ms_per_10k_messages` / `receive_wall_ms_per_10k_messages`: one session
//!   subscribed to the messages of one empty conversation; the orchestrator (another user, its
//!   own session) sends M messages into it, K in flight. Value: user + system CPU time of the
//!   receiving process (all threads; `utime + stime` of `/proc/self/stat`, in clock ticks of
//!   `getconf CLK_TCK`, 100 if that fails) from just before the sending starts until its
//!   snapshot holds all M messages, scaled to 10,000 messages; and the wall time of the same
//!   span. The snapshot callback does O(1) work. Afterwards the final snapshot must hold exactly
//!   the M messages sent, each once (their ids, checked against the ids `send` returned, and
//!   their texts). Each line also carries `messages` (the official client's cost is quadratic
//!   in M: compare at equal M), the raw `cpu_ms` / `wall_ms`, the number of snapshot updates
//!   and the sender's own time. Clock ticks are 10 ms at 100 Hz: small raw CPU figures are
//!   coarse.
//! - The same two metrics with `"client":"raw"`: the raw limit ([`raw`]), a bare awc websocket
//!   that authenticates, subscribes and decodes each push into talkjs-protocol's typed frames and
//!   events and nothing else, measured the same way at the same M on a conversation of its own.
//!   `talkjs-rs / raw` at each M is what the runtime costs above reading the wire.
//! - `time_to_first_snapshot_ms`: a new session's connect, authenticate, subscribe and first
//!   page of 30 messages, the median of several sessions in one process after a warm-up; see
//!   [`first`].

use std::alloc::System;
use std::cell::{Cell, RefCell};
use std::collections::{HashMap, HashSet};
use std::error::Error;
use std::future::{Future, poll_fn};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::task::{Poll, Waker};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use cap::Cap;
use futures_util::future::{join, join_all};
use serde_json::{Value, json};
use talkjs::params::CreateUserParams;
use talkjs::snapshot::MessageSnapshot;
use talkjs::token::JwtSigner;
use talkjs::{ListSnapshot, MessageSubscription, TalkSession};

#[path = "subscriptions/first.rs"]
mod first;
#[path = "subscriptions/raw.rs"]
mod raw;

/// Counts the bytes currently allocated: the "live heap" of the memory metrics.
#[global_allocator]
static ALLOC: Cap<System> = Cap::new(System, usize::MAX);

type Res<T> = Result<T, Box<dyn Error>>;

/// The app id of a started emulator.
const APP: &str = "bench";
/// The JWT secret of a started emulator (the official bench's emulator requires JWTs too).
const SECRET: &str = "bench-secret";
/// Tokens never expire during a run.
const TOKEN_LIFETIME: Duration = Duration::from_secs(7 * 24 * 3600);
/// How many subscriptions are started before waiting for them to be active.
const CHUNK: usize = 100;
/// Wait for the emulator's `listening on` line.
const START_TIMEOUT: Duration = Duration::from_secs(20);
/// Wait for a chunk of subscriptions (or the warm-up) to become active.
const ACTIVE_TIMEOUT: Duration = Duration::from_secs(60);
/// How long the receiver may go without a single update before the run is declared stuck.
const STALL: Duration = Duration::from_secs(60);
/// Time for timers, sockets and actors to settle before memory is read.
const SETTLE: Duration = Duration::from_secs(1);

fn main() {
    let args = match Args::parse() {
        Ok(args) => args,
        Err(e) => {
            eprintln!("[bench:subscriptions] {e}");
            std::process::exit(2);
        }
    };
    let role = args.get("role", None).unwrap_or_else(|| "main".to_owned());
    let system = actix_rt::System::new();
    let outcome = if role == "main" {
        system.block_on(orchestrate(&args))
    } else {
        system.block_on(worker(&role, &args))
    };
    if let Err(e) = outcome {
        eprintln!("[bench:subscriptions{}] {e}", tag(&role));
        std::process::exit(1);
    }
}

/// ` ROLE` for a worker's log lines, nothing for the orchestrator's.
fn tag(role: &str) -> String {
    if role == "main" {
        String::new()
    } else {
        format!(" {role}")
    }
}

fn log(message: impl std::fmt::Display) {
    eprintln!("[bench:subscriptions] {message}");
}

// ---------------------------------------------------------------------------
// Arguments.

/// `--name value` and `--name=value` pairs. `--bench`, which `cargo bench` passes, is ignored.
struct Args(HashMap<String, String>);

impl Args {
    fn parse() -> Res<Args> {
        let mut map = HashMap::new();
        let mut argv = std::env::args().skip(1);
        while let Some(arg) = argv.next() {
            if arg == "--bench" {
                continue;
            }
            let Some(name) = arg.strip_prefix("--") else {
                return Err(format!("unexpected argument {arg:?}").into());
            };
            let (name, value) = match name.split_once('=') {
                Some((name, value)) => (name.to_owned(), value.to_owned()),
                None => {
                    let value = argv
                        .next()
                        .ok_or_else(|| format!("--{name} needs a value"))?;
                    (name.to_owned(), value)
                }
            };
            map.insert(name, value);
        }
        Ok(Args(map))
    }

    /// The option, else the environment variable `env`.
    fn get(&self, name: &str, env: Option<&str>) -> Option<String> {
        self.0
            .get(name)
            .cloned()
            .or_else(|| env.and_then(|e| std::env::var(e).ok()))
    }

    fn required(&self, name: &str) -> Res<String> {
        self.get(name, None)
            .ok_or_else(|| format!("--{name} is required").into())
    }

    /// A positive number.
    fn count(&self, name: &str, env: Option<&str>, default: usize) -> Res<usize> {
        match self.get(name, env) {
            None => Ok(default),
            Some(s) => match s.parse() {
                Ok(n) if n > 0 => Ok(n),
                _ => Err(format!("--{name} must be a positive number, not {s:?}").into()),
            },
        }
    }
}

// ---------------------------------------------------------------------------
// The emulator and sessions on it.

/// Where the emulator is and how its users authenticate.
#[derive(Clone)]
struct Target {
    host: String,
    app: String,
    /// The JWT secret; `None` for an unauthenticated app.
    secret: Option<String>,
}

impl Target {
    fn from_args(args: &Args) -> Res<Target> {
        Ok(Target {
            host: args.required("host")?,
            app: args.required("app")?,
            secret: args.get("secret", None),
        })
    }

    /// The arguments that hand this target to a worker.
    fn to_args(&self) -> Vec<String> {
        let mut args = vec![
            "--host".into(),
            self.host.clone(),
            "--app".into(),
            self.app.clone(),
        ];
        if let Some(secret) = &self.secret {
            args.extend(["--secret".into(), secret.clone()]);
        }
        args
    }

    /// `user`'s session, with a fixed token as the official bench uses.
    async fn session(&self, user: &str) -> Res<TalkSession> {
        let mut builder = talkjs::get_talk_session(&self.app, user).host(&self.host);
        if let Some(secret) = &self.secret {
            let token = JwtSigner::new(secret)
                .lifetime(TOKEN_LIFETIME)
                .sign(&self.app, user)?;
            builder = builder.token(token);
        }
        Ok(builder.await?)
    }
}

/// The emulator binary as a child process, killed when dropped.
struct EmulatorProcess {
    child: Child,
    /// Kept open so the emulator can always write to its stdout.
    _stdout: BufReader<ChildStdout>,
}

impl Drop for EmulatorProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `TALKJS_EMULATOR_BIN`, else the newer of the release and debug builds.
fn emulator_binary() -> Res<PathBuf> {
    if let Some(bin) = std::env::var_os("TALKJS_EMULATOR_BIN") {
        return Ok(bin.into());
    }
    // This binary is TARGET/release/deps/subscriptions-HASH.
    let exe = std::env::current_exe()?;
    let target = exe
        .ancestors()
        .nth(3)
        .map(Path::to_path_buf)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"));
    ["release", "debug"]
        .into_iter()
        .map(|profile| target.join(profile).join("talkjs-emulator"))
        .filter_map(|bin| Some((bin.metadata().ok()?.modified().ok()?, bin)))
        .max_by_key(|(modified, _)| *modified)
        .map(|(_, bin)| bin)
        .ok_or_else(|| {
            "no talkjs-emulator binary: run `cargo build --release -p talkjs-emulator` first \
             (or set TALKJS_EMULATOR_BIN)"
                .into()
        })
}

/// Starts the emulator binary on a free port and waits for its `listening on` line.
fn start_emulator() -> Res<(EmulatorProcess, Target)> {
    let bin = emulator_binary()?;
    let mut child = Command::new(&bin)
        .args(["--bind", "127.0.0.1:0", "--app-id", APP, "--secret", SECRET])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", bin.display()))?;
    let mut stdout = BufReader::new(child.stdout.take().expect("piped"));
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let read = stdout.read_line(&mut line).map(|_| line);
        let _ = tx.send((stdout, read));
    });
    let (stdout, line) = match rx.recv_timeout(START_TIMEOUT) {
        Ok((stdout, Ok(line))) => (stdout, line),
        Ok((_, Err(e))) => return Err(e.into()),
        Err(_) => {
            let _ = child.kill();
            return Err(format!("{} did not report listening", bin.display()).into());
        }
    };
    let process = EmulatorProcess {
        child,
        _stdout: stdout,
    };
    let host = line
        .trim()
        .strip_prefix("listening on http://")
        .ok_or_else(|| format!("unexpected first line from the emulator: {line:?}"))?;
    log(format!("started {} on {host}", bin.display()));
    let target = Target {
        host: host.to_owned(),
        app: APP.to_owned(),
        secret: Some(SECRET.to_owned()),
    };
    Ok((process, target))
}

// ---------------------------------------------------------------------------
// The orchestrator.

/// The measurements `--only` can select.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Measure {
    Idle,
    Shared,
    Cpu,
    Raw,
    First,
}

fn parse_only(only: Option<String>) -> Res<Vec<Measure>> {
    let Some(only) = only.filter(|s| !s.is_empty()) else {
        return Ok(vec![
            Measure::Idle,
            Measure::Shared,
            Measure::Cpu,
            Measure::Raw,
            Measure::First,
        ]);
    };
    only.split(',')
        .map(|m| match m.trim() {
            "idle" => Ok(Measure::Idle),
            "shared" => Ok(Measure::Shared),
            "cpu" => Ok(Measure::Cpu),
            "raw" => Ok(Measure::Raw),
            "first" => Ok(Measure::First),
            other => Err(format!(
                "--only takes idle, shared, cpu, raw and first, not {other:?}"
            )
            .into()),
        })
        .collect()
}

/// The message counts of the CPU measurement: `--messages 2000,10000`.
fn parse_messages(list: Option<String>) -> Res<Vec<usize>> {
    let list = list.unwrap_or_else(|| DEFAULT_MESSAGES.to_owned());
    list.split(',')
        .map(|m| match m.trim().replace('_', "").parse() {
            Ok(n) if n > 0 => Ok(n),
            _ => Err(format!("--messages takes positive numbers, not {m:?}").into()),
        })
        .collect()
}

/// The default M list: short enough for a quick run, two sizes to show the trend.
const DEFAULT_MESSAGES: &str = "2000,10000";

/// Who receives in a CPU measurement.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Receiver {
    /// The runtime: a session and a `subscribe_messages` subscription.
    Runtime,
    /// The raw limit ([`raw`]): a bare socket that decodes each push and nothing else.
    Raw,
}

impl Receiver {
    fn client(self) -> &'static str {
        match self {
            Receiver::Runtime => "talkjs-rs",
            Receiver::Raw => "raw",
        }
    }

    fn role(self) -> &'static str {
        match self {
            Receiver::Runtime => "receiver",
            Receiver::Raw => "raw-receiver",
        }
    }
}

async fn orchestrate(args: &Args) -> Res<()> {
    let sessions = args.count("sessions", Some("SESSIONS"), 1000)?;
    let messages = parse_messages(args.get("messages", Some("MESSAGES")))?;
    let concurrency = args.count("send-concurrency", Some("SEND_CONCURRENCY"), 100)?;
    let only = parse_only(args.get("only", Some("ONLY")))?;

    let (_emulator, target) = match std::env::var("HOST") {
        Ok(host) => {
            log(format!("using the emulator at {host}"));
            let target = Target {
                host,
                app: std::env::var("APP").unwrap_or_else(|_| APP.to_owned()),
                secret: std::env::var("SECRET").ok(),
            };
            (None, target)
        }
        Err(_) => {
            let (process, target) = start_emulator()?;
            (Some(process), target)
        }
    };
    let clk_tck = getconf("CLK_TCK").unwrap_or_else(|| {
        log("`getconf CLK_TCK` failed: assuming 100 clock ticks per second");
        100
    });
    let page_size = getconf("PAGESIZE").unwrap_or_else(|| {
        log("`getconf PAGESIZE` failed: assuming 4096-byte pages");
        4096
    });

    // Unique per run, so a long-running emulator (HOST) can be reused.
    let millis = SystemTime::now().duration_since(UNIX_EPOCH)?.as_millis();
    let run = format!("rs{millis:x}");
    let seeder = target.session(&format!("{run}seeder")).await?;
    seeder
        .current_user()
        .create_if_not_exists(CreateUserParams::new("Seeder"))
        .await?;

    let wants = |m| only.contains(&m);
    if wants(Measure::Idle) || wants(Measure::Shared) {
        let prefix = format!("{run}i");
        let hub = format!("{prefix}hub");
        let t = Instant::now();
        // One more than measured: the last one is the warm-up.
        seed_idle(&seeder, &prefix, sessions + 1, &hub).await?;
        log(format!(
            "seeded {} users and conversations in {} ms",
            sessions + 1,
            t.elapsed().as_millis()
        ));
        let n = sessions.to_string();
        let memory = |r: &Value, what: &str, measure: &str, layout: &str, extra: Value| {
            let mut fields = json!({ "n": sessions, "layout": layout, "measure": measure });
            merge(&mut fields, extra);
            let per = |key: &str| number(r, key).map(|v| v / sessions as f64);
            Ok::<_, Box<dyn Error>>((per(what)?, fields))
        };

        if wants(Measure::Idle) {
            let t = Instant::now();
            let args = [("prefix", prefix.clone()), ("n", n.clone())];
            let r = Worker::spawn("idle-sessions", &target, &args)?
                .result()
                .await?;
            log(format!(
                "{sessions} sessions with one subscription each: active in {} ms ({} ms in all)",
                number(&r, "subscribe_ms")?.round(),
                t.elapsed().as_millis()
            ));
            let layout = "one session per user, one conversation per user, no messages";
            let (heap, fields) = memory(&r, "heap", HEAP_MEASURE, layout, json!({}))?;
            emit("idle_subscription_bytes", heap, "bytes", fields);
            let (rss, fields) = memory(&r, "rss_pages", RSS_MEASURE, layout, json!({}))?;
            emit(
                "idle_subscription_rss_bytes",
                rss * page_size as f64,
                "bytes",
                fields,
            );
        }
        if wants(Measure::Shared) {
            let t = Instant::now();
            let args = [("prefix", prefix.clone()), ("n", n), ("hub", hub)];
            let r = Worker::spawn("idle-shared", &target, &args)?
                .result()
                .await?;
            log(format!(
                "one session with {sessions} subscriptions: active in {} ms ({} ms in all)",
                number(&r, "subscribe_ms")?.round(),
                t.elapsed().as_millis()
            ));
            let layout = "one session, one conversation per subscription, no messages";
            let (heap, fields) = memory(&r, "heap", HEAP_MEASURE, layout, json!({}))?;
            emit(
                "idle_subscription_bytes_shared_session",
                heap,
                "bytes",
                fields,
            );
            let (rss, fields) = memory(&r, "rss_pages", RSS_MEASURE, layout, json!({}))?;
            emit(
                "idle_subscription_rss_bytes_shared_session",
                rss * page_size as f64,
                "bytes",
                fields,
            );
        }
    }

    if wants(Measure::First) {
        time_to_first_snapshot(&target, &seeder, &run).await?;
    }
    // At each M, the runtime and then the raw limit (on a conversation of its own).
    for &m in &messages {
        for receiver in [Receiver::Runtime, Receiver::Raw] {
            let wanted = match receiver {
                Receiver::Runtime => wants(Measure::Cpu),
                Receiver::Raw => wants(Measure::Raw),
            };
            if wanted {
                let cpu = Cpu {
                    messages: m,
                    concurrency,
                    clk_tck,
                    receiver,
                };
                receive_cpu(&target, &seeder, &run, cpu).await?;
            }
        }
    }
    Ok(())
}

const HEAP_MEASURE: &str = "live heap bytes (counting global allocator)";
const RSS_MEASURE: &str = "rss (/proc/self/statm)";

/// One CPU measurement's settings.
#[derive(Clone, Copy)]
struct Cpu {
    messages: usize,
    concurrency: usize,
    clk_tck: u64,
    receiver: Receiver,
}

/// The CPU measurement: seeds a conversation, starts the receiver, sends M messages into it.
async fn receive_cpu(target: &Target, seeder: &TalkSession, run: &str, cpu: Cpu) -> Res<()> {
    let Cpu {
        messages,
        concurrency,
        clk_tck,
        receiver: who,
    } = cpu;
    let conversation = format!("{run}cpu{}{messages}", who.client());
    let receiver = format!("{run}recv{}{messages}", who.client());
    let sender_id = format!("{run}send");
    for id in [&receiver, &sender_id] {
        seeder
            .user(id.as_str())
            .create_if_not_exists(CreateUserParams::new(id.as_str()))
            .await?;
    }
    let conv = seeder.conversation(conversation.as_str());
    conv.create_if_not_exists(Default::default()).await?;
    for id in [&receiver, &sender_id] {
        conv.participant(id.as_str())
            .create_if_not_exists(Default::default())
            .await?;
    }
    // The sender's socket is open and authenticated before the burst.
    let sender = target.session(&sender_id).await?;
    sender.current_user().get().await?;
    let into = sender.conversation(conversation.as_str());

    let args = [
        ("conversation", conversation.clone()),
        ("receiver", receiver),
        ("messages", messages.to_string()),
    ];
    let mut worker = Worker::spawn(who.role(), target, &args)?;
    let ready = worker.line().await?;
    if ready.trim() != "ready" {
        return Err(worker.failure(&ready));
    }

    log(format!(
        "sending {messages} messages to {}, {concurrency} in flight",
        who.client()
    ));
    let t = Instant::now();
    let next = Cell::new(0);
    let ids = RefCell::new(vec![String::new(); messages]);
    let (next_ref, ids_ref, into_ref) = (&next, &ids, &into);
    let one = move || async move {
        loop {
            let i = next_ref.get();
            if i >= messages {
                return Ok::<(), talkjs::Error>(());
            }
            next_ref.set(i + 1);
            let sent = into_ref.send(format!("m{i}")).await?;
            ids_ref.borrow_mut()[i] = sent.id().to_owned();
        }
    };
    for sent in join_all((0..concurrency.min(messages)).map(|_| one())).await {
        sent?;
    }
    let sender_ms = t.elapsed().as_secs_f64() * 1e3;
    log(format!(
        "sent {messages} messages in {} ms",
        sender_ms.round()
    ));

    let r = worker.result().await?;
    // The receiver checked its final snapshot's texts; here its ids must be the ids sent.
    let received: HashSet<&str> = r["ids"]
        .as_array()
        .ok_or("the receiver reported no ids")?
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let ids = ids.borrow();
    let sent: HashSet<&str> = ids.iter().map(String::as_str).collect();
    if received.len() != messages || sent.len() != messages || received != sent {
        return Err(format!(
            "the final snapshot's ids are not the {messages} ids sent ({} distinct received, {} distinct sent)",
            received.len(),
            sent.len()
        )
        .into());
    }

    let tick_ms = 1000.0 / clk_tck as f64;
    let user_ms = number(&r, "user_ticks")? * tick_ms;
    let system_ms = number(&r, "system_ticks")? * tick_ms;
    let cpu_ms = user_ms + system_ms;
    let wall_ms = number(&r, "wall_ms")?;
    let scale = 10_000.0 / messages as f64;
    let extra = json!({
        "messages": messages,
        "conversations": 1,
        "snapshot_updates": r["updates"],
        "newest_message_changes": r["newest_changes"],
        "send_concurrency": concurrency,
    });
    let mut cpu = json!({
        "cpu_ms": cpu_ms.round(),
        "user_ms": user_ms.round(),
        "system_ms": system_ms.round(),
        "clk_tck": clk_tck,
    });
    merge(&mut cpu, extra.clone());
    let client = who.client();
    emit_as(
        client,
        "receive_cpu_ms_per_10k_messages",
        cpu_ms * scale,
        "ms",
        cpu,
    );
    let mut wall = json!({ "wall_ms": wall_ms.round(), "sender_ms": sender_ms.round() });
    merge(&mut wall, extra);
    emit_as(
        client,
        "receive_wall_ms_per_10k_messages",
        wall_ms * scale,
        "ms",
        wall,
    );
    Ok(())
}

/// Time to first snapshot ([`first`]): seeds a conversation of [`first::SEEDED`] messages and
/// its users, then times each user's first snapshot in a fresh process.
async fn time_to_first_snapshot(target: &Target, seeder: &TalkSession, run: &str) -> Res<()> {
    let conversation = format!("{run}first");
    let users: Vec<String> = (0..=first::RUNS).map(|i| format!("{run}f{i:02}")).collect();
    let conv = seeder.conversation(conversation.as_str());
    conv.create_if_not_exists(Default::default()).await?;
    for id in &users {
        seeder
            .user(id.as_str())
            .create_if_not_exists(CreateUserParams::new(id.as_str()))
            .await?;
        conv.participant(id.as_str())
            .create_if_not_exists(Default::default())
            .await?;
    }
    for i in 0..first::SEEDED {
        conv.send(format!("f{i}")).await?;
    }
    let args = [("conversation", conversation), ("users", users.join(","))];
    let r = Worker::spawn("first", target, &args)?.result().await?;
    let median = number(&r, "median_ms")?;
    log(format!(
        "first snapshot: median {median:.1} ms of {} sessions (warm-up {:.1} ms)",
        first::RUNS,
        number(&r, "warm_up_ms")?
    ));
    let extra = json!({
        "runs": first::RUNS,
        "page": first::FIRST_PAGE,
        "warm_up_ms": r["warm_up_ms"],
        "times_ms": r["times_ms"],
        "measure": "connect, authenticate, subscribe, first page of 30 (median)",
    });
    emit("time_to_first_snapshot_ms", median, "ms", extra);
    Ok(())
}

/// Users `{prefix}u00000..`, conversations `{prefix}c00000..` (n of each): conversation i has
/// the seeder (its creator), user i and `hub`.
async fn seed_idle(seeder: &TalkSession, prefix: &str, n: usize, hub: &str) -> Res<()> {
    let users: Vec<String> = (0..n)
        .map(|i| user_id(prefix, i))
        .chain([hub.to_owned()])
        .collect();
    for chunk in users.chunks(200) {
        let creates = chunk.iter().map(|id| async move {
            seeder
                .user(id.as_str())
                .create_if_not_exists(CreateUserParams::new(id.as_str()))
                .await
        });
        for created in join_all(creates).await {
            created?;
        }
    }
    let indices: Vec<usize> = (0..n).collect();
    for chunk in indices.chunks(100) {
        let creates = chunk.iter().map(|&i| async move {
            let conv = seeder.conversation(conversation_id(prefix, i));
            conv.create_if_not_exists(Default::default()).await?;
            let (user, hub) = join(
                conv.participant(user_id(prefix, i))
                    .create_if_not_exists(Default::default()),
                conv.participant(hub)
                    .create_if_not_exists(Default::default()),
            )
            .await;
            user.and(hub)
        });
        for created in join_all(creates).await {
            created?;
        }
    }
    Ok(())
}

fn user_id(prefix: &str, i: usize) -> String {
    format!("{prefix}u{i:05}")
}

fn conversation_id(prefix: &str, i: usize) -> String {
    format!("{prefix}c{i:05}")
}

/// Prints one metric line of the runtime on stdout.
fn emit(metric: &str, value: f64, unit: &str, extra: Value) {
    emit_as("talkjs-rs", metric, value, unit, extra);
}

/// Prints one metric line of `client` (`talkjs-rs` or `raw`) on stdout.
fn emit_as(client: &str, metric: &str, value: f64, unit: &str, extra: Value) {
    let mut line = json!({
        "client": client,
        "metric": metric,
        "value": (value * 100.0).round() / 100.0,
        "unit": unit,
    });
    merge(&mut line, extra);
    println!("{line}");
}

/// Adds `extra`'s fields to the object `into`.
fn merge(into: &mut Value, extra: Value) {
    if let (Value::Object(into), Value::Object(extra)) = (into, extra) {
        into.extend(extra);
    }
}

fn number(v: &Value, key: &str) -> Res<f64> {
    v[key]
        .as_f64()
        .ok_or_else(|| format!("the result has no number {key:?}: {v}").into())
}

/// A numeric `getconf` variable.
fn getconf(name: &str) -> Option<u64> {
    let out = Command::new("getconf").arg(name).output().ok()?;
    String::from_utf8(out.stdout).ok()?.trim().parse().ok()
}

/// A measurement in a fresh process: this binary again, with `--role`. Killed when dropped.
struct Worker {
    role: String,
    child: Child,
    stdout: Option<BufReader<ChildStdout>>,
}

impl Worker {
    fn spawn(role: &str, target: &Target, args: &[(&str, String)]) -> Res<Worker> {
        // BENCH_WRAP="heaptrack -o /tmp/idle" runs each measured process under a profiler.
        let exe = std::env::current_exe()?;
        let mut command = match std::env::var("BENCH_WRAP") {
            Ok(wrap) if !wrap.trim().is_empty() => {
                let mut words = wrap.split_whitespace();
                let mut command = Command::new(words.next().unwrap_or_default());
                command.args(words).arg(exe);
                command
            }
            _ => Command::new(exe),
        };
        command.args(["--role", role]).args(target.to_args());
        for (name, value) in args {
            command.arg(format!("--{name}")).arg(value);
        }
        // The worker's stdout is its protocol lines; its stderr is ours.
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()?;
        let stdout = child.stdout.take().map(BufReader::new);
        Ok(Worker {
            role: role.to_owned(),
            child,
            stdout,
        })
    }

    /// The worker's next stdout line, read on a blocking thread so the orchestrator's sessions
    /// keep running meanwhile.
    /// Lines that are neither `ready` nor JSON are a wrapper's (`BENCH_WRAP`): passed to stderr.
    async fn line(&mut self) -> Res<String> {
        loop {
            let mut stdout = self.stdout.take().ok_or("the worker's stdout is closed")?;
            let (stdout, read) = actix_rt::task::spawn_blocking(move || {
                let mut line = String::new();
                let read = stdout.read_line(&mut line).map(|_| line);
                (stdout, read)
            })
            .await?;
            self.stdout = Some(stdout);
            let line = read?;
            if line.is_empty() {
                let status = self.child.wait()?;
                return Err(format!("{} exited ({status}) before reporting", self.role).into());
            }
            if line.trim() == "ready" || line.starts_with('{') {
                return Ok(line);
            }
            eprint!("[{}] {line}", self.role);
        }
    }

    /// The worker's result: its next line, parsed.
    async fn result(&mut self) -> Res<Value> {
        let line = self.line().await?;
        match serde_json::from_str::<Value>(&line) {
            Ok(v) if v.get("error").is_none() => Ok(v),
            _ => Err(self.failure(&line)),
        }
    }

    fn failure(&self, line: &str) -> Box<dyn Error> {
        let line = line.trim();
        match serde_json::from_str::<Value>(line) {
            Ok(v) if v["error"].is_string() => {
                format!("{}: {}", self.role, v["error"].as_str().unwrap_or_default()).into()
            }
            _ => format!("{}: unexpected line {line:?}", self.role).into(),
        }
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        // A profiler (BENCH_WRAP) writes its data as the worker exits: let it.
        if std::env::var_os("BENCH_WRAP").is_some() {
            let deadline = Instant::now() + Duration::from_secs(30);
            while Instant::now() < deadline && matches!(self.child.try_wait(), Ok(None)) {
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---------------------------------------------------------------------------
// The measured processes.

/// Runs one measurement, prints its result (or `{"error": ...}`) as one line and exits without
/// tidying up (the emulator drops the sockets).
async fn worker(role: &str, args: &Args) -> Res<()> {
    let result = async {
        let target = Target::from_args(args)?;
        match role {
            "idle-sessions" => {
                idle_sessions(
                    &target,
                    &args.required("prefix")?,
                    args.count("n", None, 1)?,
                )
                .await
            }
            "idle-shared" => {
                let (prefix, hub) = (args.required("prefix")?, args.required("hub")?);
                idle_shared(&target, &prefix, args.count("n", None, 1)?, &hub).await
            }
            "receiver" | "raw-receiver" => {
                let conversation = args.required("conversation")?;
                let messages = args.count("messages", None, 1)?;
                let receiver = args.required("receiver")?;
                if role == "raw-receiver" {
                    raw::receive(&target, &conversation, &receiver, messages).await
                } else {
                    receive(&target, &conversation, &receiver, messages).await
                }
            }
            "first" => {
                let users: Vec<String> = args
                    .required("users")?
                    .split(',')
                    .map(str::to_owned)
                    .collect();
                first::measure(&target, &args.required("conversation")?, &users).await
            }
            other => Err(format!("unknown --role {other:?}").into()),
        }
    }
    .await;
    let line = result.unwrap_or_else(|e| json!({ "error": e.to_string() }));
    report(&line.to_string())?;
    std::process::exit(0);
}

/// One line to the orchestrator.
fn report(line: &str) -> Res<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}")?;
    out.flush()?;
    Ok(())
}

/// N sessions, one subscription each.
async fn idle_sessions(target: &Target, prefix: &str, n: usize) -> Res<Value> {
    let warm = target.session(&user_id(prefix, n)).await?;
    let sub = warm
        .conversation(conversation_id(prefix, n))
        .subscribe_messages();
    within(ACTIVE_TIMEOUT, sub.connected(), "the warm-up subscription").await??;
    sub.unsubscribe();
    warm.terminate("the warm-up is over");
    drop((sub, warm));

    let mut held: Vec<(TalkSession, MessageSubscription)> = Vec::with_capacity(n);
    let before = settled_memory().await?;
    let t = Instant::now();
    for start in (0..n).step_by(CHUNK) {
        let end = (start + CHUNK).min(n);
        for i in start..end {
            let session = target.session(&user_id(prefix, i)).await?;
            let sub = session
                .conversation(conversation_id(prefix, i))
                .subscribe_messages();
            held.push((session, sub));
        }
        let subs = held[start..end].iter().map(|(_, sub)| sub);
        await_active(subs, &format!("subscriptions {start}..{end}")).await?;
    }
    let subscribe_ms = t.elapsed().as_secs_f64() * 1e3;
    assert_active(held.iter().map(|(_, sub)| sub))?;
    let after = settled_memory().await?;
    assert_active(held.iter().map(|(_, sub)| sub))?;
    Ok(growth(before, after, subscribe_ms))
}

/// One session, N subscriptions.
async fn idle_shared(target: &Target, prefix: &str, n: usize, hub: &str) -> Res<Value> {
    let session = target.session(hub).await?;
    // Stays subscribed, so the session and its socket are in the baseline.
    let warm = session
        .conversation(conversation_id(prefix, n))
        .subscribe_messages();
    within(ACTIVE_TIMEOUT, warm.connected(), "the warm-up subscription").await??;

    let mut subs: Vec<MessageSubscription> = Vec::with_capacity(n);
    let before = settled_memory().await?;
    let t = Instant::now();
    for start in (0..n).step_by(CHUNK) {
        let end = (start + CHUNK).min(n);
        subs.extend((start..end).map(|i| {
            session
                .conversation(conversation_id(prefix, i))
                .subscribe_messages()
        }));
        await_active(&subs[start..end], &format!("subscriptions {start}..{end}")).await?;
    }
    let subscribe_ms = t.elapsed().as_secs_f64() * 1e3;
    assert_active(&subs)?;
    let after = settled_memory().await?;
    assert_active(&subs)?;
    Ok(growth(before, after, subscribe_ms))
}

/// What the receiver's snapshot callback keeps: O(1) work per update.
struct Progress {
    updates: u64,
    newest_changes: u64,
    latest: ListSnapshot<MessageSnapshot>,
    /// Woken when the snapshot holds `messages` messages.
    waker: Option<Waker>,
    messages: usize,
}

impl Progress {
    fn len(&self) -> usize {
        self.latest.as_ref().map_or(0, |l| l.len())
    }
}

fn newest(snapshot: &ListSnapshot<MessageSnapshot>) -> Option<&str> {
    snapshot.as_ref()?.first().map(|m| m.id.as_str())
}

/// One session subscribed to the messages of `conversation`, receiving `messages` messages sent
/// by the orchestrator.
async fn receive(
    target: &Target,
    conversation: &str,
    receiver: &str,
    messages: usize,
) -> Res<Value> {
    let session = target.session(receiver).await?;
    let sub = session.conversation(conversation).subscribe_messages();
    let progress = Arc::new(Mutex::new(Progress {
        updates: 0,
        newest_changes: 0,
        latest: None,
        waker: None,
        messages,
    }));
    let shared = progress.clone();
    sub.on_snapshot(move |snapshot, _| {
        let mut p = shared.lock().expect("not poisoned");
        p.updates += 1;
        if newest(snapshot) != newest(&p.latest) {
            p.newest_changes += 1;
        }
        p.latest = snapshot.clone();
        if p.len() >= p.messages
            && let Some(waker) = p.waker.take()
        {
            waker.wake();
        }
    });
    let first = within(
        ACTIVE_TIMEOUT,
        sub.connected(),
        "the receiving subscription",
    )
    .await??;
    if first.snapshot.as_ref().map(|l| l.len()) != Some(0) {
        return Err("expected an empty conversation".into());
    }
    settled_memory().await?;
    let (updates0, changes0) = {
        let p = progress.lock().expect("not poisoned");
        (p.updates, p.newest_changes)
    };

    let (user0, system0) = cpu_ticks()?;
    let t = Instant::now();
    report("ready")?;
    // Fails only when nothing arrives for STALL: a long run that progresses is fine.
    let mut seen = None;
    loop {
        let all = poll_fn(|cx| {
            let mut p = progress.lock().expect("not poisoned");
            if p.len() >= messages {
                Poll::Ready(())
            } else {
                p.waker = Some(cx.waker().clone());
                Poll::Pending
            }
        });
        if actix_rt::time::timeout(STALL, all).await.is_ok() {
            break;
        }
        let p = progress.lock().expect("not poisoned");
        if seen == Some(p.updates) {
            return Err(format!(
                "no update for {} s; the snapshot holds {} of {messages} messages",
                STALL.as_secs(),
                p.len()
            )
            .into());
        }
        seen = Some(p.updates);
    }
    let wall_ms = t.elapsed().as_secs_f64() * 1e3;
    let (user1, system1) = cpu_ticks()?;

    // Outside the measurement: every message exactly once.
    let p = progress.lock().expect("not poisoned");
    let latest = p.latest.clone().ok_or("the conversation is not visible")?;
    let texts: HashSet<&str> = latest.iter().map(|m| m.plaintext.as_str()).collect();
    let ids: HashSet<&str> = latest.iter().map(|m| m.id.as_str()).collect();
    if latest.len() != messages || texts.len() != messages || ids.len() != messages {
        return Err(format!(
            "final snapshot: {} messages, {} distinct texts, {} distinct ids; expected {messages}",
            latest.len(),
            texts.len(),
            ids.len()
        )
        .into());
    }
    if let Some(i) = (0..messages).find(|i| !texts.contains(format!("m{i}").as_str())) {
        return Err(format!("message m{i} is missing from the final snapshot").into());
    }
    Ok(json!({
        "user_ticks": user1 - user0,
        "system_ticks": system1 - system0,
        "wall_ms": wall_ms,
        "updates": p.updates - updates0,
        "newest_changes": p.newest_changes - changes0,
        "ids": ids,
    }))
}

/// Waits until every subscription is active (or fails).
async fn await_active<'a>(
    subs: impl IntoIterator<Item = &'a MessageSubscription>,
    what: &str,
) -> Res<()> {
    let connected = join_all(subs.into_iter().map(|sub| sub.connected()));
    for update in within(ACTIVE_TIMEOUT, connected, what).await? {
        update?;
    }
    Ok(())
}

/// Every subscription is active with a message list.
fn assert_active<'a>(subs: impl IntoIterator<Item = &'a MessageSubscription>) -> Res<()> {
    let mut bad = subs
        .into_iter()
        .filter(|sub| !matches!(sub.latest(), Some(Some(_))));
    match bad.next() {
        None => Ok(()),
        Some(first) => Err(format!(
            "{} subscriptions are not active with a message list (first: {:?})",
            1 + bad.count(),
            first.state()
        )
        .into()),
    }
}

/// `fut`, or an error naming `what` after `limit`.
async fn within<T>(limit: Duration, fut: impl Future<Output = T>, what: &str) -> Res<T> {
    actix_rt::time::timeout(limit, fut)
        .await
        .map_err(|_| format!("{what} did not become active within {} s", limit.as_secs()).into())
}

/// The live heap (bytes) and the resident set (pages).
#[derive(Clone, Copy)]
struct Memory {
    heap: usize,
    rss_pages: u64,
}

/// Memory after letting timers, sockets and actors settle.
async fn settled_memory() -> Res<Memory> {
    actix_rt::time::sleep(SETTLE).await;
    // /proc/self/statm: size resident shared text lib data dt, in pages.
    let statm = std::fs::read_to_string("/proc/self/statm")?;
    let rss_pages = statm
        .split_whitespace()
        .nth(1)
        .ok_or("/proc/self/statm has no resident field")?
        .parse()?;
    Ok(Memory {
        heap: ALLOC.allocated(),
        rss_pages,
    })
}

/// The growth between two readings, as a worker reports it.
fn growth(before: Memory, after: Memory, subscribe_ms: f64) -> Value {
    json!({
        "heap": after.heap as i64 - before.heap as i64,
        "rss_pages": after.rss_pages as i64 - before.rss_pages as i64,
        "subscribe_ms": subscribe_ms,
    })
}

/// User and system CPU time of this process (all its threads) in clock ticks, from
/// `/proc/self/stat`.
fn cpu_ticks() -> Res<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/self/stat")?;
    // Field 2, the command name, is in parentheses and may hold spaces: count after it.
    let rest = &stat[stat
        .rfind(')')
        .ok_or("/proc/self/stat has no command name")?
        + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // fields[0] is field 3 (state), so utime (14) and stime (15) are fields[11] and fields[12].
    match (fields.get(11), fields.get(12)) {
        (Some(user), Some(system)) => Ok((user.parse()?, system.parse()?)),
        _ => Err("/proc/self/stat is too short".into()),
    }
}
