// Times the official client's round trips against a running emulator, for benches/roundtrip.rs,
// which starts the emulator, seeds the users and runs this script beside its own measurement.
//
// Env: HOST (emulator host:port), APP (app id), N (calls per measurement), PREFIX (this round's
// users: PREFIXseq0000.. and PREFIXconc0000.. must exist). Two disjoint sets, because the official client answers a
// repeated get() of a user from its cache without a frame. Then N sequential and N concurrent
// sends to a conversation of its own (PREFIXchat-official). Prints one JSON line:
// {"sequential_ms": ..., "concurrent_ms": ..., "send_sequential_ms": ..., "send_concurrent_ms": ...}.

import { WebSocket } from "ws";
import { getTalkSession, registerPolyfills } from "@talkjs/core";

registerPolyfills({ WebSocket });
const host = process.env.HOST;
const appId = process.env.APP;
const n = Number(process.env.N ?? 1000);
const round = process.env.PREFIX ?? "";
const id = (kind, i) => `${round}${kind}${String(i).padStart(4, "0")}`;

// The client logs session chatter to the console; the bench output must stay one JSON line.
for (const level of ["log", "info", "warn", "error", "debug"]) console[level] = () => {};

const session = getTalkSession({ appId, userId: "bench-official", host, forceCreateNew: true });
// Warm up: connect and authenticate before timing.
await session.user("warmup").get();

let t = performance.now();
for (let i = 0; i < n; i++) {
  const user = await session.user(id("seq", i)).get();
  if (!user) throw new Error(`missing user ${id("seq", i)}`);
}
const sequential_ms = performance.now() - t;

t = performance.now();
const all = await Promise.all(Array.from({ length: n }, (_, i) => session.user(id("conc", i)).get()));
if (all.some((u) => !u)) throw new Error("a concurrent get returned null");
const concurrent_ms = performance.now() - t;

const chat = session.conversation(`${round}chat-official`);
await chat.createIfNotExists();
t = performance.now();
for (let i = 0; i < n; i++) await chat.send(`message ${i}`);
const send_sequential_ms = performance.now() - t;
t = performance.now();
await Promise.all(Array.from({ length: n }, (_, i) => chat.send(`burst ${i}`)));
const send_concurrent_ms = performance.now() - t;

process.stdout.write(
  JSON.stringify({ sequential_ms, concurrent_ms, send_sequential_ms, send_concurrent_ms }) + "\n",
);
process.exit(0);
