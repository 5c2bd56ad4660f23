// Runs the subscription benchmarks of both clients with the same N and M, one after the other
// against the same release emulator binary, and prints each metric side by side with the ratio
// talkjs-rs / official:
//   - talkjs-rs: `cargo bench --bench subscriptions` (benches/subscriptions.rs)
//   - official @talkjs/core: `node bench/subscriptions.mjs` (this folder)
// Both report the same metrics with the same meaning; see the two files for what is measured.
//
// Run (from anywhere; needs `npm ci` in conformance/):
//
//   node conformance/bench/compare-subscriptions.mjs                       # N = 1000, M = 2000
//   node conformance/bench/compare-subscriptions.mjs --sessions 200 --messages 1000
//   node conformance/bench/compare-subscriptions.mjs --only idle           # or cpu
//
// Options:
//   --sessions N          idle subscriptions to hold (default 1000)
//   --messages M          messages to receive for the CPU measurement (default 2000). The official
//                         client's receive cost is quadratic in M (2,000 take it about a minute of
//                         CPU, 10,000 would take about 25 minutes), so figures only compare at
//                         equal M, which this script guarantees.
//   --only idle|cpu       one of the two measurements (idle includes the shared-session metrics)
//   --send-concurrency K  sends in flight (default 100)
//   --no-build            skip `cargo build --release -p talkjs-emulator`
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
const messages = Number(option("messages", 2000));
const concurrency = Number(option("send-concurrency", 100));
const only = option("only", "");
if (!(sessions > 0 && messages > 0 && concurrency > 0)) throw new Error("--sessions, --messages and --send-concurrency must be positive");
if (!["", "idle", "cpu"].includes(only)) throw new Error(`--only must be idle or cpu, not ${only}`);

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

/// The metric lines of a bench's stdout, by metric name.
function metrics(stdout) {
  const byName = new Map();
  for (const line of stdout.split("\n")) {
    if (!line.startsWith("{")) continue;
    const m = JSON.parse(line);
    byName.set(m.metric, m);
  }
  return byName;
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

const common = ["--sessions", String(sessions), "--messages", String(messages), "--send-concurrency", String(concurrency)];
// The official bench's "idle" covers both idle layouts; the Rust bench names them apart.
const rustOnly = { "": [], idle: ["--only", "idle,shared"], cpu: ["--only", "cpu"] }[only];
const officialOnly = only ? ["--only", only] : [];

// One after the other, so neither competes with the other for the two cores.
const ours = metrics(await run("cargo", ["bench", "--bench", "subscriptions", "--", ...common, ...rustOnly], { cwd: ROOT, env }));
const theirs = metrics(await run("node", ["bench/subscriptions.mjs", ...common, ...officialOnly], { cwd: CONFORMANCE, env }));

const order = [
  "idle_subscription_bytes",
  "idle_subscription_rss_bytes",
  "idle_subscription_bytes_shared_session",
  "idle_subscription_rss_bytes_shared_session",
  "receive_cpu_ms_per_10k_messages",
  "receive_wall_ms_per_10k_messages",
];
const format = (m) => (m ? `${m.value.toLocaleString("en-US", { maximumFractionDigits: 1 })} ${m.unit}` : "—");
const raw = (m) => (m?.cpu_ms !== undefined ? `${m.cpu_ms} ms` : m?.wall_ms !== undefined ? `${m.wall_ms} ms` : "");
const rows = [];
for (const metric of order) {
  const [a, b] = [ours.get(metric), theirs.get(metric)];
  if (!a && !b) continue;
  if (a?.messages !== undefined && b?.messages !== undefined && a.messages !== b.messages) {
    throw new Error(`${metric}: the benches received different message counts (${a.messages} vs ${b.messages})`);
  }
  const ratio = a && b && b.value !== 0 ? (a.value / b.value).toPrecision(3) : "—";
  const raws = metric.startsWith("receive_") ? ` (raw: ${raw(a) || "—"} vs ${raw(b) || "—"})` : "";
  rows.push([metric, format(a), format(b), ratio + raws]);
}

const header = ["metric", "talkjs-rs", "official", "talkjs-rs / official"];
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
const line = (cells) => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(" | ")} |`;
console.log(`N = ${sessions} sessions / subscriptions, M = ${messages} messages, ${concurrency} sends in flight, emulator ${emulatorBin}`);
console.log(line(header));
console.log(line(widths.map((w) => "-".repeat(w))));
for (const r of rows) console.log(line(r));
