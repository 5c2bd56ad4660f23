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
//!   (default `2000,10000`); at each M the runtime and the raw limit receive the same messages
//!   at the same time.
//! - `--only LIST` \[ONLY\]: comma-separated measurements to run, of `idle` (one session per
//!   subscription), `shared` (one session, N subscriptions), `cpu` (the runtime receiving),
//!   `raw` (the raw limit receiving) and `first` (time to first snapshot); default all. The
//!   official bench's `--only idle` runs both `idle` and `shared`.
//! - `--send-concurrency K` \[SEND_CONCURRENCY\]: sends in flight from the sender (default 100).
//! - `--rounds R` \[ROUNDS\]: how often each CPU measurement is repeated (default 3); the
//!   lines report medians.
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
//!   receiving process (all threads; the `CLOCK_PROCESS_CPUTIME_ID` clock, in nanoseconds; the
//!   user/system split in `user_ms`/`system_ms` is from `/proc/self/stat`'s clock ticks, 10 ms
//!   at 100 Hz) from just before the sending starts until its
//!   snapshot holds all M messages, scaled to 10,000 messages; and the wall time from when the
//!   orchestrator starts sending until then (on the wall clock the processes share). The snapshot callback does O(1) work. Afterwards the final snapshot must hold exactly
//!   the M messages sent, each once (their ids, checked against the ids `send` returned, and
//!   their texts). Each line also carries `messages` (the official client's cost is quadratic
//!   in M: compare at equal M), the raw `cpu_ms` / `wall_ms`, the number of snapshot updates
//!   and the sender's own time.
//! - The same two metrics with `"client":"raw"`: the raw limit ([`raw`]), a bare awc websocket
//!   that authenticates, subscribes and decodes each push into talkjs-protocol's typed frames and
//!   events and nothing else, measured the same way at the same M, in its own process,
//!   subscribed to the same conversation as the runtime's receiver at the same time (so both
//!   hear the same pushes at the same pace). `talkjs-rs / raw` at each M is what the runtime
//!   costs above reading the wire.
//! - `receive_cpu_ratio_to_raw` (`"client":"talkjs-rs"`, unit `x`): at each M, the median over
//!   the rounds of the runtime's CPU over the raw limit's in the same round (both subscribed to
//!   the same conversation, receiving the same pushes at the same pace). A CPU line's value is the median of its rounds, each
//!   round's value in `rounds`: on two shared cores the CPU of a run varies with how the pushes
//!   happen to be batched, so single runs mislead.
//! - `receive_cpu_flatness` (per client, unit `x`): the largest median CPU per 10,000 messages
//!   over the smallest, across the Ms of the run: 1.0 when the cost does not depend on how
//!   long the list is.
//! - `time_to_first_snapshot_ms`: a new session's connect, authenticate, subscribe and first
//!   page of 30 messages, the median of several sessions in one process after a warm-up; see
//!   [`first`].

use std::alloc::System;
use std::collections::HashMap;
use std::error::Error;
use std::future::Future;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use cap::Cap;
use serde_json::{Value, json};
use talkjs::TalkSession;
use talkjs::params::CreateUserParams;
use talkjs::token::JwtSigner;

use idle::{idle_sessions, idle_shared, seed_idle};
use receive::{Cpu, Measured, emit_median, median, receive, receive_cpu, rounded};
use worker::{Worker, report};

#[path = "subscriptions/first.rs"]
mod first;
#[path = "subscriptions/idle.rs"]
mod idle;
#[path = "subscriptions/raw.rs"]
mod raw;
#[path = "subscriptions/receive.rs"]
mod receive;
#[path = "subscriptions/worker.rs"]
mod worker;

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
            other => {
                Err(format!("--only takes idle, shared, cpu, raw and first, not {other:?}").into())
            }
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
    let rounds = args.count("rounds", Some("ROUNDS"), 3)?;

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
    // Rounds of: at each M, the runtime and the raw limit receiving the same messages at the
    // same time (see `receive_cpu`); medians of the rounds.
    let receivers: Vec<Receiver> = [Receiver::Runtime, Receiver::Raw]
        .into_iter()
        .filter(|r| match r {
            Receiver::Runtime => wants(Measure::Cpu),
            Receiver::Raw => wants(Measure::Raw),
        })
        .collect();
    if receivers.is_empty() {
        return Ok(());
    }
    let mut measured = Vec::new();
    for round in 0..rounds {
        for &m in &messages {
            let cpu = Cpu {
                messages: m,
                concurrency,
                clk_tck,
                round,
            };
            for r in receive_cpu(&target, &seeder, &run, cpu, &receivers).await? {
                log(format!(
                    "round {}/{rounds}, M = {m}, {}: {:.1} ms CPU per 10,000 messages",
                    round + 1,
                    r.receiver.client(),
                    r.cpu
                ));
                measured.push(r);
            }
        }
    }
    summarise_receive(&measured, &receivers, &messages, rounds);
    Ok(())
}

/// Emits the median lines of each client at each M, then the ratios the targets are about:
/// per M the runtime's CPU over the raw limit's (the median of the rounds' ratios, each round
/// measured side by side), and per client how much its CPU varies across the Ms (the largest
/// median over the smallest).
fn summarise_receive(measured: &[Measured], receivers: &[Receiver], ms: &[usize], rounds: usize) {
    let of = |who: Receiver, m: usize| -> Vec<&Measured> {
        measured
            .iter()
            .filter(|x| x.receiver == who && x.messages == m)
            .collect()
    };
    for &m in ms {
        for &who in receivers {
            emit_median(&of(who, m));
        }
        let (ours, raw) = (of(Receiver::Runtime, m), of(Receiver::Raw, m));
        if ours.len() == rounds && raw.len() == rounds {
            let ratios: Vec<f64> = ours.iter().zip(&raw).map(|(a, b)| a.cpu / b.cpu).collect();
            emit(
                "receive_cpu_ratio_to_raw",
                median(&ratios),
                "x",
                json!({ "messages": m, "rounds": rounded(&ratios), "of": "median of the rounds' talkjs-rs / raw" }),
            );
        }
    }
    if ms.len() > 1 {
        for &who in receivers {
            let medians: Vec<f64> = ms
                .iter()
                .map(|&m| median(&of(who, m).iter().map(|x| x.cpu).collect::<Vec<_>>()))
                .collect();
            let (lo, hi) = medians
                .iter()
                .fold((f64::MAX, 0.0f64), |(lo, hi), &v| (lo.min(v), hi.max(v)));
            emit_as(
                who.client(),
                "receive_cpu_flatness",
                hi / lo,
                "x",
                json!({ "messages": ms, "medians_ms": rounded(&medians), "of": "largest over smallest median CPU per 10,000 messages across M" }),
            );
        }
    }
}

const HEAP_MEASURE: &str = "live heap bytes (counting global allocator)";
const RSS_MEASURE: &str = "rss (/proc/self/statm)";

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

/// The wall clock in milliseconds since the Unix epoch (the processes of a run share it).
fn unix_ms() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64() * 1e3)
}

/// A numeric `getconf` variable.
fn getconf(name: &str) -> Option<u64> {
    let out = Command::new("getconf").arg(name).output().ok()?;
    String::from_utf8(out.stdout).ok()?.trim().parse().ok()
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

/// `fut`, or an error naming `what` after `limit`.
async fn within<T>(limit: Duration, fut: impl Future<Output = T>, what: &str) -> Res<T> {
    actix_rt::time::timeout(limit, fut)
        .await
        .map_err(|_| format!("{what} did not become active within {} s", limit.as_secs()).into())
}
