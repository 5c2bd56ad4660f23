// Runs the subscription benchmarks of both clients one after the other against the same
// release emulator binary, and prints every metric side by side with its ratios:
//   - talkjs-rs and the raw limit: `cargo bench --bench subscriptions` (benches/subscriptions.rs);
//     the raw limit is a bare websocket that decodes each push into talkjs-protocol's types and
//     does nothing else (benches/subscriptions/raw.rs)
//   - official @talkjs/core: `node bench/subscriptions.mjs` (this folder)
// Both report the same metrics with the same meaning; see the two files for what is measured.
//
// Run (from anywhere; needs `npm ci` in conformance/):
//
//   node conformance/bench/compare-subscriptions.mjs           # N = 1000, M = 2000,10000 (official: 2000)
//   node conformance/bench/compare-subscriptions.mjs --messages 2000,10000,40000,100000
//   node conformance/bench/compare-subscriptions.mjs --sessions 200 --messages 1000 --official-messages 1000
//   node conformance/bench/compare-subscriptions.mjs --only idle  # or cpu, or first
//
// Options:
//   --sessions N             idle subscriptions to hold (default 1000)
//   --messages LIST          message counts M for talkjs-rs and the raw limit (default 2000,10000)
//   --official-messages M    the official client's M (default 2000). Its receive cost is
//                            quadratic in M (2,000 take it about a minute of CPU, 10,000 would
//                            take about 25 minutes), so it is compared only at equal M: at an M
//                            in the list, its ratio is shown.
//   --only idle|cpu|first    one of the measurements (idle includes the shared-session metrics)
//   --send-concurrency K     sends in flight (default 100)
//   --rounds R               rounds of each Rust CPU measurement (default 3); its lines are
//                            medians, and the runtime/raw ratio is the median of each
//                            round's ratio (see benches/subscriptions.rs)
//   --idle-rounds R          rounds of the memory measurements (default 1), each a fresh
//                            process per client, the clients alternating; the table shows
//                            each client's median and the rounds' values are listed below it
//                            (the official client's resident size moves between runs)
//   --no-build               skip `cargo build --release -p talkjs-emulator`
//
// The emulator is TALKJS_EMULATOR_BIN if set, else target/release/talkjs-emulator (built first).
// The table goes to stdout; progress and both benches' raw JSON lines go to stderr.

import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const CONFORMANCE = path.resolve(HERE, "..");
const ROOT = path.resolve(HERE, "../..");
const argv = process.argv.slice(2);

function option(name, fallback) {
  const i = argv.indexOf(`--${name}`);
  if (i >= 0 && i + 1 < argv.length) return argv[i + 1];
  const inline = argv.find((a) => a.startsWith(`--${name}=`));
  return inline ? inline.slice(name.length + 3) : fallback;
}

const sessions = Number(option("sessions", 1000));
const messageList = String(option("messages", "2000,10000"));
const messagesRs = messageList.split(",").map((m) => Number(m.trim().replaceAll("_", "")));
const messages = Number(option("official-messages", 2000));
const concurrency = Number(option("send-concurrency", 100));
const only = option("only", "");
const rounds = Number(option("rounds", 3));
const idleRounds = Number(option("idle-rounds", 1));
if (!(sessions > 0 && messages > 0 && concurrency > 0 && rounds > 0 && idleRounds > 0 && messagesRs.every((m) => m > 0))) {
  throw new Error("--sessions, --messages, --official-messages, --send-concurrency, --rounds and --idle-rounds must be positive");
}
if (!["", "idle", "cpu", "first"].includes(only)) throw new Error(`--only must be idle, cpu or first, not ${only}`);

const log = (...args) => process.stderr.write(`[compare-subscriptions] ${args.join(" ")}\n`);

/// Runs a command; resolves with its stdout (its stderr passes through), rejects on failure.
function run(command, args, { cwd, env = process.env, capture = true } = {}) {
  log(`$ ${command} ${args.join(" ")}`);
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, env, stdio: ["ignore", capture ? "pipe" : 2, 2] });
    let out = "";
    child.stdout?.on("data", (d) => {
      out += d;
      process.stderr.write(d);
    });
    child.on("error", reject);
    child.on("exit", (code, signal) => {
      if (code === 0) resolve(out);
      else reject(new Error(`${command} ${args.join(" ")} failed (${signal ?? `exit ${code}`})`));
    });
  });
}

/// The metric lines of a bench's stdout.
function metrics(stdout) {
  return stdout
    .split("\n")
    .filter((line) => line.startsWith("{"))
    .map((line) => JSON.parse(line));
}

if (!fs.existsSync(path.join(CONFORMANCE, "node_modules/@talkjs/core"))) {
  throw new Error("the official client is not installed: run `npm ci` in conformance/ first");
}
if (!process.env.TALKJS_EMULATOR_BIN && !argv.includes("--no-build")) {
  await run("cargo", ["build", "--release", "-p", "talkjs-emulator"], { cwd: ROOT, capture: false });
}
const targetDir = process.env.CARGO_TARGET_DIR ? path.resolve(ROOT, process.env.CARGO_TARGET_DIR) : path.join(ROOT, "target");
const emulatorBin = process.env.TALKJS_EMULATOR_BIN ?? path.join(targetDir, "release/talkjs-emulator");
if (!fs.existsSync(emulatorBin)) throw new Error(`no emulator at ${emulatorBin}: run \`cargo build --release -p talkjs-emulator\``);
const env = { ...process.env, TALKJS_EMULATOR_BIN: emulatorBin };
delete env.HOST; // both benches start their own emulator from the same binary

const common = ["--sessions", String(sessions), "--send-concurrency", String(concurrency)];
// The official bench's "idle" covers both idle layouts; the Rust bench names them apart.
const rustOnly = { "": [], idle: ["--only", "idle,shared"], cpu: ["--only", "cpu,raw"], first: ["--only", "first"] }[only];
const officialOnly = only ? ["--only", only] : [];

// One after the other, so neither competes with the other for the two cores.
const rustBench = (only) =>
  run("cargo", ["bench", "--bench", "subscriptions", "--", ...common, "--rounds", String(rounds), "--messages", messagesRs.join(","), ...only], { cwd: ROOT, env });
const officialBench = (only) => run("node", ["bench/subscriptions.mjs", ...common, "--messages", String(messages), ...only], { cwd: CONFORMANCE, env });
const ours = metrics(await rustBench(rustOnly));
const theirs = metrics(await officialBench(officialOnly));
let all = [...ours, ...theirs];

// More rounds of the memory measurements: each client's median replaces its single reading.
const IDLE_METRICS = ["idle_subscription_bytes", "idle_subscription_rss_bytes", "idle_subscription_bytes_shared_session", "idle_subscription_rss_bytes_shared_session"];
const idleRuns = [];
if (idleRounds > 1 && (only === "" || only === "idle")) {
  idleRuns.push(all.filter((x) => IDLE_METRICS.includes(x.metric)));
  for (let r = 1; r < idleRounds; r++) {
    log(`memory round ${r + 1} of ${idleRounds}`);
    const again = [...metrics(await rustBench(["--only", "idle,shared"])), ...metrics(await officialBench(["--only", "idle"]))];
    idleRuns.push(again.filter((x) => IDLE_METRICS.includes(x.metric)));
  }
  const median = (values) => {
    const sorted = [...values].sort((a, b) => a - b);
    const mid = Math.floor(sorted.length / 2);
    return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
  };
  const medians = [];
  for (const client of ["talkjs-rs", "official"]) {
    for (const metric of IDLE_METRICS) {
      const values = idleRuns.flatMap((run) => run.filter((x) => x.client === client && x.metric === metric).map((x) => x.value));
      const first = all.find((x) => x.client === client && x.metric === metric);
      if (values.length > 0 && first) medians.push({ ...first, value: median(values), rounds: values });
    }
  }
  all = [...all.filter((x) => !IDLE_METRICS.includes(x.metric)), ...medians];
}
const find = (client, metric, m) => all.find((x) => x.client === client && x.metric === metric && (m === undefined || x.messages === m));

const format = (m) => (m ? `${m.value.toLocaleString("en-US", { maximumFractionDigits: 1 })} ${m.unit}` : "—");
const ratio = (a, b) => (a && b && b.value !== 0 ? (a.value / b.value).toPrecision(3) : "—");
const rows = [];
const row = (metric, m, rs, raw, official) =>
  rows.push([metric, m === undefined ? "" : m.toLocaleString("en-US"), format(rs), format(raw), format(official), ratio(rs, raw), ratio(rs, official)]);
for (const metric of [
  "idle_subscription_bytes",
  "idle_subscription_rss_bytes",
  "idle_subscription_bytes_shared_session",
  "idle_subscription_rss_bytes_shared_session",
  "time_to_first_snapshot_ms",
]) {
  const [a, b] = [find("talkjs-rs", metric), find("official", metric)];
  if (a || b) row(metric, undefined, a, undefined, b);
}
const ms = [...new Set([...messagesRs, messages])].sort((x, y) => x - y);
for (const metric of ["receive_cpu_ms_per_10k_messages", "receive_wall_ms_per_10k_messages"]) {
  for (const m of ms) {
    const [a, r, b] = [find("talkjs-rs", metric, m), find("raw", metric, m), find("official", metric, m)];
    if (a || r || b) row(metric, m, a, r, b);
  }
}

const header = ["metric", "M", "talkjs-rs", "raw limit", "official", "talkjs-rs / raw", "talkjs-rs / official"];
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
const line = (cells) => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(" | ")} |`;
console.log(`N = ${sessions} sessions / subscriptions, M = ${messagesRs.join(", ")} (official: ${messages}), ${concurrency} sends in flight, emulator ${emulatorBin}`);
console.log(line(header));
console.log(line(widths.map((w) => "-".repeat(w))));
for (const r of rows) console.log(line(r));

if (idleRuns.length > 1) {
  console.log("");
  console.log(`memory: medians of ${idleRuns.length} rounds; each round's values (talkjs-rs / official, ratio):`);
  for (const metric of IDLE_METRICS) {
    const cells = idleRuns.map((run) => {
      const [a, b] = [run.find((x) => x.client === "talkjs-rs" && x.metric === metric), run.find((x) => x.client === "official" && x.metric === metric)];
      return a && b ? `${Math.round(a.value)} / ${Math.round(b.value)} (${ratio(a, b)})` : "—";
    });
    console.log(`  ${metric}: ${cells.join("; ")}`);
  }
}

// The receive targets of issue 13, as the Rust bench computed them from its rounds.
const paired = ms.map((m) => find("talkjs-rs", "receive_cpu_ratio_to_raw", m)).filter(Boolean);
if (paired.length > 0) {
  console.log("");
  console.log(`talkjs-rs / raw receive CPU, median of ${rounds} paired rounds: ${paired.map((x) => `M = ${x.messages.toLocaleString("en-US")}: ${x.value}x`).join(", ")}`);
}
for (const client of ["talkjs-rs", "raw"]) {
  const flat = find(client, "receive_cpu_flatness");
  if (flat) console.log(`${client} receive CPU across M (largest / smallest median): ${flat.value}x`);
}
