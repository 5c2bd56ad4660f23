// Subscription benchmarks for the official @talkjs/core client, to compare side by side with the
// Rust runtime's: what an idle messages subscription costs in memory, and what receiving live
// messages costs in CPU.
//
// Run (from conformance/, after `npm ci` and `cargo build -p talkjs-emulator`, or --release):
//
//   npm run bench:subscriptions -- --messages 2000               # 1000 sessions, 2,000 messages: ~2 min
//   npm run bench:subscriptions -- --sessions 200 --messages 1000
//   npm run bench:subscriptions -- --only idle                   # ~10 s; or --only cpu
//   npm run bench:subscriptions                                  # the full 10,000 messages: see below
//
// Options (argv, or the env variable in brackets):
//   --sessions N  [SESSIONS]  idle subscriptions to hold (default 1000)
//   --messages M  [MESSAGES]  messages to receive for the CPU measurement (default 10000)
//   --conversations C [CONVERSATIONS]  spread the M messages over C conversations, all subscribed
//                             by the one receiving session (default 1)
//   --only idle|cpu|first [ONLY]  run one of the measurements (default: all three)
//   --send-concurrency K [SEND_CONCURRENCY]  sends in flight from the sender (default 100)
//   BENCH_PROF=DIR            write a V8 CPU profile of each measured process into DIR
//
// Time: the official client's CPU per received message grows linearly with the number of
// messages its session's subscriptions hold (a CPU profile shows the time in its stores'
// async getDeep/changedBetween walks over the messages, and in GC), so the CPU measurement is
// quadratic in M: measured on a 2-core machine, M = 1,000 took 12 s of CPU and M = 2,000 took
// 55 s; M = 10,000 would take roughly 25 minutes. Compare clients at the same M (every line
// carries `messages`), not the per-10k values of different runs. Spreading the messages over
// more conversations lowers the constant, not the growth.
//
// The emulator: with HOST set (and APP, and SECRET if it requires JWTs), a running emulator is
// used, as in bench/roundtrip.mjs. Otherwise the binary is started on a free port:
// TALKJS_EMULATOR_BIN, else the newer of ../target/release/talkjs-emulator and
// ../target/debug/talkjs-emulator. The emulator's speed shows in the wall times only; the CPU
// and memory figures are those of the measured process alone.
//
// Output: one JSON line per metric on stdout, e.g.
//   {"client":"official","metric":"idle_subscription_bytes","value":12345,"unit":"bytes",...}
// Progress goes to stderr; the client's console chatter is dropped.
//
// Processes: this process (the orchestrator) starts the emulator, seeds users, conversations and
// participants, and sends the messages, all with its own official client. Each measurement runs
// in a fresh child process (this file with --role=..., node --expose-gc) that holds nothing but
// the sessions being measured, so earlier measurements and the sender never count.
//
// Metrics:
//
//   idle_subscription_bytes / idle_subscription_rss_bytes: N sessions, each a different user
//     (its own TalkSession and websocket), each holding one `subscribeMessages` subscription to
//     its own conversation (conversation i: the seeding user, user i and the "hub" user of the
//     next metric; no messages), every subscription in state "active". Value: growth of
//     heapUsed + external (resp. RSS) from before the sessions exist to after they are all
//     active and settled, divided by N; both sides after `global.gc()`. This is the cost of a
//     session *with* its subscription (socket, session state and caches included). A warm-up
//     session runs first and is ended before the baseline, so first-use allocations and
//     compiled code do not count.
//   idle_subscription_bytes_shared_session / idle_subscription_rss_bytes_shared_session: the
//     same N conversations subscribed from ONE session (a user who is a participant of all of
//     them, connected with one warm-up subscription before the baseline): the cost of a
//     subscription without a session and socket of its own.
//   receive_cpu_ms_per_10k_messages / receive_wall_ms_per_10k_messages: one session subscribed
//     to the messages of one empty conversation (or of C, with --conversations); the
//     orchestrator (another user, another process, its own official client) sends M messages
//     into it (message i into conversation i mod C), K in flight. Value: process.cpuUsage()
//     (user + system, all threads, so GC threads count) of the receiving process from just
//     before the sending starts until its snapshots hold all M messages, scaled to 10,000
//     messages; and the wall time of the same span. The window of a messages subscription
//     grows with every new message ("all messages since a point in time"), so the final
//     snapshots must hold exactly the M messages sent, each once and in the conversation it
//     was sent to; that is checked after the measurement. The snapshot callback does O(1) work. Each line also carries the raw cpu_ms / wall_ms, the number of snapshot
//     updates seen (one per message when the client delivers each event on its own) and the
//     sender's own time.
//   time_to_first_snapshot_ms: a conversation with 40 messages and 10 participants; the measured
//     process, for each participant in turn, starts a session, subscribes to the conversation's
//     messages and waits for the subscription to be active with its first window (the newest
//     30 messages, checked), then ends the session. Value: the median span of all but the first
//     (a warm-up, reported as warm_up_ms): connect, authenticate, subscribe, first page.

import { fork } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const SELF = fileURLToPath(import.meta.url);
const argv = process.argv.slice(2);

function option(name, envName, fallback) {
  const i = argv.indexOf(`--${name}`);
  if (i >= 0 && i + 1 < argv.length) return argv[i + 1];
  const inline = argv.find((a) => a.startsWith(`--${name}=`));
  if (inline) return inline.slice(name.length + 3);
  return (envName && process.env[envName]) || fallback;
}

const role = option("role", null, "main");

// Pick the emulator binary before lib/emulator.mjs reads TALKJS_EMULATOR_BIN.
if (role === "main" && !process.env.HOST && !process.env.TALKJS_EMULATOR_BIN) {
  const candidates = ["release", "debug"]
    .map((p) => path.resolve(HERE, `../../target/${p}/talkjs-emulator`))
    .filter((p) => fs.existsSync(p))
    .sort((a, b) => fs.statSync(b).mtimeMs - fs.statSync(a).mtimeMs);
  if (candidates.length > 0) process.env.TALKJS_EMULATOR_BIN = candidates[0];
}

const { startEmulator, session, endSession, makeJwt, clientLog, sleep, withTimeout } = await import("../lib/emulator.mjs");

// Our stdout is the JSON lines only: the client's "[TalkJS]" console lines are dropped, and
// anything else printed through the console goes to stderr.
for (const level of ["log", "info", "warn", "error", "debug"]) {
  console[level] = (...args) => {
    const text = args.map((a) => (a instanceof Error ? a.stack : typeof a === "string" ? a : JSON.stringify(a))).join(" ");
    if (!text.startsWith("[TalkJS]")) process.stderr.write(`${text}\n`);
  };
}

const log = (...args) => process.stderr.write(`[bench:subscriptions${role === "main" ? "" : ` ${role}`}] ${args.join(" ")}\n`);
const pad = (i) => String(i).padStart(5, "0");
/// How many subscriptions are started before waiting for them to be active.
const CHUNK = 100;

/// The emulator as lib/emulator.mjs's `session()` wants it, and the session options that go
/// with it (no token when the emulator takes unauthenticated users).
function emulatorRef({ host, appId, secret }) {
  return {
    host,
    appId,
    secret,
    jwt: (userId) => makeJwt(appId, userId, secret ?? "unused"),
    options: secret ? {} : { token: false },
  };
}

// ---------------------------------------------------------------------------
// The orchestrator.

async function main() {
  const sessions = Number(option("sessions", "SESSIONS", 1000));
  const messages = Number(option("messages", "MESSAGES", 10000));
  const only = option("only", "ONLY", "");
  const concurrency = Number(option("send-concurrency", "SEND_CONCURRENCY", 100));
  const convCount = Number(option("conversations", "CONVERSATIONS", 1));
  if (!(sessions > 0 && messages > 0 && concurrency > 0 && convCount > 0 && convCount <= messages)) {
    throw new Error("--sessions, --messages, --send-concurrency and --conversations must be positive (and conversations <= messages)");
  }
  if (!["", "idle", "cpu", "first"].includes(only)) throw new Error(`--only must be idle, cpu or first, not ${only}`);

  let emulator;
  let stopEmulator = async () => {};
  if (process.env.HOST) {
    emulator = { host: process.env.HOST, appId: process.env.APP ?? "bench", secret: process.env.SECRET };
    log(`using the emulator at ${emulator.host}`);
  } else {
    const running = await startEmulator({ appId: "bench" });
    emulator = { host: running.host, appId: running.appId, secret: running.secret };
    stopEmulator = () => running.stop();
    log(`started ${process.env.TALKJS_EMULATOR_BIN ?? "the debug emulator"} on ${emulator.host}`);
  }
  const emu = emulatorRef(emulator);
  // Unique per run, so a long-running emulator (HOST) can be reused.
  const run = `r${Date.now().toString(36)}`;
  const seeder = session(emu, `${run}seeder`, emu.options);
  await seeder.currentUser.createIfNotExists({ name: "Seeder" });

  const emit = (metric, value, unit, extra = {}) =>
    process.stdout.write(JSON.stringify({ client: "official", metric, value: Math.round(value * 100) / 100, unit, ...extra }) + "\n");

  try {
    if (only === "" || only === "first") {
      const conversation = `${run}first`;
      const users = Array.from({ length: FIRST_RUNS + 1 }, (_, i) => `${run}f${String(i).padStart(2, "0")}`);
      const conv = seeder.conversation(conversation);
      await conv.createIfNotExists();
      for (const id of users) {
        await seeder.user(id).createIfNotExists({ name: id });
        await conv.participant(id).createIfNotExists();
      }
      for (let i = 0; i < FIRST_SEEDED; i++) await conv.send(`f${i}`);
      const r = await runWorker("first", { emulator, conversation, users });
      log(`first snapshot: median ${r.medianMs.toFixed(1)} ms of ${FIRST_RUNS} sessions (warm-up ${r.warmUpMs.toFixed(1)} ms)`);
      emit("time_to_first_snapshot_ms", r.medianMs, "ms", {
        runs: FIRST_RUNS,
        page: FIRST_PAGE,
        warm_up_ms: r.warmUpMs,
        times_ms: r.timesMs,
        measure: "connect, authenticate, subscribe, first page of 30 (median)",
      });
    }

    if (only === "" || only === "idle") {
      const prefix = `${run}i`;
      const hub = `${prefix}hub`;
      let t = performance.now();
      // One more than measured: the last one is the warm-up.
      await seedIdle(seeder, prefix, sessions + 1, hub);
      log(`seeded ${sessions + 1} users and conversations in ${ms(t)}`);

      t = performance.now();
      const r1 = await runWorker("idle-sessions", { emulator, prefix, n: sessions });
      log(`${sessions} sessions with one subscription each: active in ${Math.round(r1.subscribeMs)} ms (${ms(t)} in all)`);
      const layout1 = "one session per user, one conversation per user, no messages";
      emit("idle_subscription_bytes", r1.heap / sessions, "bytes", { n: sessions, layout: layout1, measure: "heapUsed+external" });
      emit("idle_subscription_rss_bytes", r1.rss / sessions, "bytes", { n: sessions, layout: layout1, measure: "rss" });

      t = performance.now();
      const r2 = await runWorker("idle-shared", { emulator, prefix, n: sessions, hub });
      log(`one session with ${sessions} subscriptions: active in ${Math.round(r2.subscribeMs)} ms (${ms(t)} in all)`);
      const layout2 = "one session, one conversation per subscription, no messages";
      emit("idle_subscription_bytes_shared_session", r2.heap / sessions, "bytes", { n: sessions, layout: layout2, measure: "heapUsed+external" });
      emit("idle_subscription_rss_bytes_shared_session", r2.rss / sessions, "bytes", { n: sessions, layout: layout2, measure: "rss" });
    }

    if (only === "" || only === "cpu") {
      const conversations = Array.from({ length: convCount }, (_, c) => `${run}cpu${pad(c)}`);
      const receiver = `${run}recv`;
      const senderId = `${run}send`;
      await Promise.all([receiver, senderId].map((id) => seeder.user(id).createIfNotExists({ name: id })));
      for (const id of conversations) {
        const conv = seeder.conversation(id);
        await conv.createIfNotExists();
        await Promise.all([conv.participant(receiver).createIfNotExists(), conv.participant(senderId).createIfNotExists()]);
      }
      // The sender's socket is open and authenticated before the burst: calls made before that
      // go through the client's retry throttler and would trickle out over many seconds.
      const sender = session(emu, senderId, emu.options);
      await sender.currentUser.get();
      const targets = conversations.map((id) => sender.conversation(id));

      let sendMs;
      log(`sending ${messages} messages into ${convCount} conversation(s)`);
      const r = await runWorker("receiver", { emulator, conversations, receiver, messages }, async () => {
        const t = performance.now();
        let next = 0;
        const one = async () => {
          while (next < messages) {
            const i = next++;
            await targets[i % convCount].send(`m${i}`);
          }
        };
        await Promise.all(Array.from({ length: Math.min(concurrency, messages) }, one));
        sendMs = performance.now() - t;
        log(`sent ${messages} messages in ${Math.round(sendMs)} ms`);
      });
      endSession(sender);
      const scale = 10_000 / messages;
      const extra = {
        messages,
        conversations: convCount,
        snapshot_updates: r.updates,
        newest_message_changes: r.newestChanges,
        send_concurrency: concurrency,
      };
      emit("receive_cpu_ms_per_10k_messages", r.cpuMs * scale, "ms", {
        ...extra,
        cpu_ms: Math.round(r.cpuMs),
        user_ms: Math.round(r.userMs),
        system_ms: Math.round(r.systemMs),
      });
      emit("receive_wall_ms_per_10k_messages", r.wallMs * scale, "ms", { ...extra, wall_ms: Math.round(r.wallMs), sender_ms: Math.round(sendMs) });
    }
  } finally {
    endSession(seeder);
    await stopEmulator();
  }
  process.exit(0);
}

/// Milliseconds since `t`, for progress lines.
function ms(t) {
  return `${Math.round(performance.now() - t)} ms`;
}

/// Users `${prefix}u00000..`, conversations `${prefix}c00000..` (n of each): conversation i has
/// the seeder (its creator), user i and `hub`.
async function seedIdle(seeder, prefix, n, hub) {
  const indices = Array.from({ length: n }, (_, i) => i);
  const ids = [...indices.map((i) => `${prefix}u${pad(i)}`), hub];
  for (let i = 0; i < ids.length; i += 200) {
    await Promise.all(ids.slice(i, i + 200).map((id) => seeder.user(id).createIfNotExists({ name: id })));
  }
  for (let i = 0; i < n; i += 100) {
    await Promise.all(
      indices.slice(i, i + 100).map(async (j) => {
        const conv = seeder.conversation(`${prefix}c${pad(j)}`);
        await conv.createIfNotExists();
        await Promise.all([conv.participant(`${prefix}u${pad(j)}`).createIfNotExists(), conv.participant(hub).createIfNotExists()]);
      }),
    );
  }
}

/// Runs a measurement in a fresh `node --expose-gc` child and resolves with its result. When
/// the child reports "ready" (the receiver, once subscribed and measuring), `onReady` runs: the
/// sender.
function runWorker(workerRole, args, onReady = async () => {}) {
  const profile = process.env.BENCH_PROF ? ["--cpu-prof", `--cpu-prof-dir=${process.env.BENCH_PROF}`] : [];
  // The child's stdout goes to our stderr: our stdout is the JSON lines only.
  const child = fork(SELF, [`--role=${workerRole}`], { stdio: ["ignore", 2, 2, "ipc"], execArgv: ["--expose-gc", ...profile] });
  return new Promise((resolve, reject) => {
    child.on("message", async (msg) => {
      if (msg.ready) {
        try {
          await onReady();
        } catch (e) {
          child.kill();
          reject(e);
        }
      } else if (msg.error) {
        reject(new Error(`${workerRole}: ${msg.error}`));
      } else {
        resolve(msg.result);
      }
    });
    child.on("exit", (code) => reject(new Error(`${workerRole} exited with ${code} before reporting`)));
    child.send(args);
  });
}

// ---------------------------------------------------------------------------
// The measured processes.

async function worker(kind) {
  if (typeof global.gc !== "function") throw new Error("workers run with node --expose-gc");
  const args = await new Promise((resolve) => process.once("message", resolve));
  let report;
  try {
    report = { result: await { "idle-sessions": idleSessions, "idle-shared": idleShared, receiver: receive, first: firstSnapshot }[kind](args) };
  } catch (e) {
    report = { error: e?.stack ?? String(e) };
  }
  // Once the report is out, exit without tidying up (the emulator drops the sockets).
  await new Promise((resolve) => process.send(report, resolve));
  process.exit(0);
}

/// N sessions, one subscription each.
async function idleSessions({ emulator, prefix, n }) {
  const emu = emulatorRef(emulator);
  const warm = session(emu, `${prefix}u${pad(n)}`, emu.options);
  const warmSub = warm.conversation(`${prefix}c${pad(n)}`).subscribeMessages();
  await withTimeout(warmSub.connected, "the warm-up subscription to become active", 30_000);
  warmSub.unsubscribe();
  endSession(warm);

  const before = await settledMemory();
  const t = performance.now();
  const held = [];
  for (let i = 0; i < n; i += CHUNK) {
    const chunk = [];
    for (let j = i; j < Math.min(i + CHUNK, n); j++) {
      const s = session(emu, `${prefix}u${pad(j)}`, emu.options);
      const sub = s.conversation(`${prefix}c${pad(j)}`).subscribeMessages();
      held.push({ s, sub });
      chunk.push(sub.connected);
    }
    await withTimeout(Promise.all(chunk), `subscriptions ${i}..${i + chunk.length} to become active`, 60_000);
  }
  const subscribeMs = performance.now() - t;
  assertActive(held.map((h) => h.sub));
  const after = await settledMemory();
  assertActive(held.map((h) => h.sub));
  return { heap: after.heap - before.heap, rss: after.rss - before.rss, subscribeMs };
}

/// One session, N subscriptions.
async function idleShared({ emulator, prefix, n, hub }) {
  const emu = emulatorRef(emulator);
  const s = session(emu, hub, emu.options);
  // Stays subscribed, so the session and its socket are in the baseline.
  const warmSub = s.conversation(`${prefix}c${pad(n)}`).subscribeMessages();
  await withTimeout(warmSub.connected, "the warm-up subscription to become active", 30_000);

  const before = await settledMemory();
  const t = performance.now();
  const subs = [];
  for (let i = 0; i < n; i += CHUNK) {
    const chunk = [];
    for (let j = i; j < Math.min(i + CHUNK, n); j++) {
      const sub = s.conversation(`${prefix}c${pad(j)}`).subscribeMessages();
      subs.push(sub);
      chunk.push(sub.connected);
    }
    await withTimeout(Promise.all(chunk), `subscriptions ${i}..${i + chunk.length} to become active`, 60_000);
  }
  const subscribeMs = performance.now() - t;
  assertActive(subs);
  const after = await settledMemory();
  assertActive(subs);
  return { heap: after.heap - before.heap, rss: after.rss - before.rss, subscribeMs };
}

/// Time to first snapshot: messages in the conversation (more than a page), the first window,
/// and the sessions timed after the warm-up (the same as benches/subscriptions/first.rs).
const FIRST_SEEDED = 40;
const FIRST_PAGE = 30;
const FIRST_RUNS = 9;

/// Each user in turn (the first is the warm-up): a new session to its first snapshot.
async function firstSnapshot({ emulator, conversation, users }) {
  const emu = emulatorRef(emulator);
  const times = [];
  for (const user of users) {
    const t = performance.now();
    const s = session(emu, user, emu.options);
    const sub = s.conversation(conversation).subscribeMessages();
    const state = await withTimeout(sub.connected, "the first snapshot", 60_000);
    const elapsed = performance.now() - t;
    const shown = state.latestSnapshot?.length ?? 0;
    if (shown !== FIRST_PAGE) throw new Error(`the first snapshot holds ${shown} messages, not ${FIRST_PAGE}`);
    times.push(elapsed);
    sub.unsubscribe();
    endSession(s);
  }
  const [warmUpMs, ...timed] = times;
  const sorted = [...timed].sort((a, b) => a - b);
  const n = sorted.length;
  const medianMs = n % 2 === 1 ? sorted[(n - 1) / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
  return { warmUpMs, medianMs, timesMs: timed };
}

/// How long the receiver may go without a single update before the run is declared stuck.
const STALL_MS = 60_000;

/// One session subscribed to the messages of each of `conversations`, receiving `messages`
/// messages sent by the orchestrator (message i into conversation i mod C).
async function receive({ emulator, conversations, receiver, messages }) {
  const emu = emulatorRef(emulator);
  const s = session(emu, receiver, emu.options);
  // O(1) per update: keep each conversation's latest snapshot and the total of their lengths,
  // count updates and changes of a conversation's newest message.
  let updates = 0;
  let newestChanges = 0;
  let total = 0;
  let done;
  const allReceived = new Promise((resolve) => {
    done = resolve;
  });
  const watched = conversations.map((id) => {
    const w = { id, latest: null, newestId: null };
    w.sub = s.conversation(id).subscribeMessages((snapshot) => {
      updates++;
      total += (snapshot?.length ?? 0) - (w.latest?.length ?? 0);
      w.latest = snapshot;
      const newest = snapshot?.[0]?.id ?? null;
      if (newest !== w.newestId) {
        w.newestId = newest;
        newestChanges++;
      }
      if (total >= messages) done();
    });
    return w;
  });
  const states = await withTimeout(Promise.all(watched.map((w) => w.sub.connected)), "the receiving subscriptions to become active", 60_000);
  if (states.some((state) => state.latestSnapshot?.length !== 0)) throw new Error("expected empty conversations");
  await settledMemory(); // start from a collected heap
  const [updates0, changes0] = [updates, newestChanges];

  // Fails only when nothing arrives for STALL_MS: a long run that progresses is fine (the
  // official client's cost per update grows with the window, so big runs are slow).
  let seen = -1;
  let watchdog;
  const stalled = new Promise((_, reject) => {
    watchdog = setInterval(() => {
      if (updates === seen) reject(new Error(`no update for ${STALL_MS} ms; the snapshots hold ${total} of ${messages} messages`));
      seen = updates;
    }, STALL_MS);
  });

  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  process.send({ ready: true });
  await Promise.race([allReceived, stalled]);
  const wallMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  clearInterval(watchdog);

  // Outside the measurement: every message exactly once, in the conversation it was sent to.
  const place = new Map();
  let count = 0;
  watched.forEach((w, c) => {
    for (const m of w.latest) {
      count++;
      place.set(m.plaintext, c);
    }
  });
  if (count !== messages || place.size !== messages) throw new Error(`final snapshots: ${count} messages, ${place.size} distinct texts; expected ${messages}`);
  for (let i = 0; i < messages; i++) {
    if (place.get(`m${i}`) !== i % conversations.length) throw new Error(`message m${i} is not where it was sent`);
  }
  return {
    cpuMs: (cpu.user + cpu.system) / 1000,
    userMs: cpu.user / 1000,
    systemMs: cpu.system / 1000,
    wallMs,
    updates: updates - updates0,
    newestChanges: newestChanges - changes0,
  };
}

function assertActive(subs) {
  const bad = subs.filter((sub) => sub.state.type !== "active" || !Array.isArray(sub.state.latestSnapshot));
  if (bad.length > 0) throw new Error(`${bad.length} subscriptions are not active with a message list (first: ${JSON.stringify(bad[0].state)})`);
}

/// Memory after letting timers and sockets settle and collecting garbage until it is stable.
/// (The harness's `clientLog` is emptied too, in case anything reached it, so it never counts.)
async function settledMemory() {
  await sleep(1_000);
  clientLog.length = 0;
  for (let i = 0; i < 4; i++) {
    global.gc();
    await sleep(50);
  }
  const m = process.memoryUsage();
  return { heap: m.heapUsed + m.external, rss: m.rss };
}

// ---------------------------------------------------------------------------

switch (role) {
  case "main":
    await main();
    break;
  case "idle-sessions":
  case "idle-shared":
  case "receiver":
  case "first":
    await worker(role);
    break;
  default:
    throw new Error(`unknown --role ${role}`);
}
