// Test harness for the conformance suite: starts the `talkjs-emulator` binary and drives the
// official @talkjs/core client (or a raw websocket) against it.
//
// The suite is the emulator's acceptance test: "what the official client accepts, the emulator
// must produce". Everything here is plumbing; the assertions live in test/*.test.mjs.
//
// API:
//   const emu = await startEmulator({ appId, secret, args })
//       spawns the binary (env TALKJS_EMULATOR_BIN, else ../target/debug/talkjs-emulator) on
//       127.0.0.1:0 and waits for its one stdout line `listening on http://HOST:PORT`.
//       -> { host, url, appId, secret, jwt(userId, claims), stop() }
//   const s = session(emu, userId, { token, onNeedToken, ...getTalkSessionOptions })
//       a fresh TalkSession (forceCreateNew) with a valid JWT unless `token` says otherwise
//       (token: false = set none). Sessions are terminated by `closeAll()`.
//   await user(s, { name, ... })        creates the session's own user if it does not exist
//   const w = watch((cb) => ref.subscribeX(cb))
//       records every snapshot; `await w.until(pred, what)` resolves with the first snapshot
//       (current or future) for which pred(snapshot, loadedAll) holds, or rejects after a timeout.
//   const raw = await rawSocket(emu, userId, { token })
//       a bare websocket speaking the frame protocol, for what the official client never sends.
//   const proxy = await startProxy(emu)  a TCP relay to the emulator; `session(proxy, ...)` works
//       as with an emulator, `proxy.cut()` drops every open connection (a network failure) and
//       `proxy.deaf = true` loses everything the emulator sends until the next cut
//   uid(prefix)                          a unique id, so tests never share conversations
//   rejection(promise)                   the rejection value (fails if the promise resolves)
//   closeAll()                           terminates every session and raw socket made so far

import { spawn } from "node:child_process";
import net from "node:net";
import path from "node:path";
import crypto from "node:crypto";
import { fileURLToPath } from "node:url";
import { WebSocket } from "ws";
import { getTalkSession, registerPolyfills } from "@talkjs/core";

const HERE = path.dirname(fileURLToPath(import.meta.url));

/// How long the binary may take to print its listening line.
const START_TIMEOUT_MS = 20_000;
/// Default wait for an expected snapshot or frame. Everything is on loopback, so a live update
/// that takes longer than this is a bug, not slowness.
export const WAIT_MS = 5_000;
/// The secret every emulator of the suite signs JWTs with.
export const SECRET = "conformance-secret";
/// A JWT expiry far in the future (2100-01-01), so tokens never expire during a run.
const FAR_FUTURE = 4102444800;

export function emulatorBinary() {
  return process.env.TALKJS_EMULATOR_BIN ?? path.resolve(HERE, "../../target/debug/talkjs-emulator");
}

// ---------------------------------------------------------------------------
// The client's console output. The official client logs warnings and errors (e.g. when a session
// is terminated); they are kept here so they neither clutter the test output nor get lost.

export const clientLog = [];
for (const level of ["log", "info", "warn", "error", "debug"]) {
  const original = console[level].bind(console);
  console[level] = (...args) => {
    const text = args.map((a) => (a instanceof Error ? a.message : typeof a === "string" ? a : JSON.stringify(a))).join(" ");
    if (text.startsWith("[TalkJS]")) clientLog.push({ level, text });
    else original(...args);
  };
}

// ---------------------------------------------------------------------------
// The official client keeps its long timers (30 s unsubscribe debounce after get(), 10 s
// heartbeats, notes §3.7 and §5.1) running even after `terminate()`, which would hold every test
// file open for up to 30 s after its last test. Timers that long never decide a test here (waits
// are at most WAIT_MS, and the emulator process keeps the loop alive while tests run), so they are
// unref'd: they still fire while anything else is alive, and no longer keep a finished file open.

const LONG_TIMER_MS = 9_000;
const realSetTimeout = globalThis.setTimeout;
globalThis.setTimeout = function setTimeout(fn, ms, ...args) {
  const t = realSetTimeout(fn, ms, ...args);
  if (Number(ms) >= LONG_TIMER_MS) t.unref?.();
  return t;
};

// ---------------------------------------------------------------------------
// JWT (HS256), the same shape as lib/stub.mjs's makeJwt.

export function makeJwt(appId, userId, secret = SECRET, extraClaims = {}) {
  const b64url = (s) => Buffer.from(s).toString("base64url");
  const header = { alg: "HS256", typ: "JWT" };
  const payload = { tokenType: "user", iss: appId, sub: userId, exp: FAR_FUTURE, ...extraClaims };
  const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(payload))}`;
  const sig = crypto.createHmac("sha256", secret).update(input).digest();
  return `${input}.${b64url(sig)}`;
}

export const nowSeconds = () => Math.floor(Date.now() / 1000);

// ---------------------------------------------------------------------------
// Emulator process

const running = new Set();

export async function startEmulator({ appId = "conformance", secret = SECRET, args = [] } = {}) {
  const argv = ["--bind", "127.0.0.1:0", "--app-id", appId, ...(secret ? ["--secret", secret] : []), ...args];
  const child = spawn(emulatorBinary(), argv, { stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (d) => {
    stderr += d;
  });
  const url = await new Promise((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => fail(new Error(`emulator did not report listening within ${START_TIMEOUT_MS} ms`)), START_TIMEOUT_MS);
    function fail(e) {
      clearTimeout(timer);
      child.kill("SIGKILL");
      reject(new Error(`${e.message}\nbinary: ${emulatorBinary()}\nstderr: ${stderr}`));
    }
    child.on("error", fail);
    child.on("exit", (code) => fail(new Error(`emulator exited with ${code} before listening`)));
    child.stdout.on("data", (d) => {
      out += d;
      const m = /^listening on (http:\/\/\S+)\r?\n/m.exec(out);
      if (m) {
        clearTimeout(timer);
        child.removeAllListeners("exit");
        resolve(m[1]);
      }
    });
  });
  const host = url.replace(/^http:\/\//, "");
  const emu = {
    host,
    url,
    appId,
    secret,
    process: child,
    stderr: () => stderr,
    jwt: (userId, claims = {}) => makeJwt(appId, userId, secret ?? "unused", claims),
    async stop() {
      running.delete(emu);
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 2_000);
      await exited;
      clearTimeout(timer);
    },
  };
  running.add(emu);
  return emu;
}

// ---------------------------------------------------------------------------
// Official client sessions

let polyfilled = false;
const sessions = new Set();

/// The `ws` WebSocket the client is given. When a session is terminated while its socket is still
/// connecting (e.g. a refused boken), the client closes it and `ws` emits an "error" event that the
/// client has no listener for, which Node turns into an uncaught exception. Browsers' WebSocket
/// does not throw there; this listener restores that behaviour. The client's own handlers still
/// see every event.
class ClientWebSocket extends WebSocket {
  constructor(...args) {
    super(...args);
    this.on("error", () => {});
  }
}
const rawSockets = new Set();

export function session(emu, userId, { token, onNeedToken, appId = emu.appId, ...more } = {}) {
  if (!polyfilled) {
    registerPolyfills({ WebSocket: ClientWebSocket });
    polyfilled = true;
  }
  const s = getTalkSession({ appId, userId, host: emu.host, forceCreateNew: true, ...more });
  sessions.add(s);
  if (onNeedToken) s.onNeedToken = onNeedToken;
  if (token !== false) s.setToken(token ?? emu.jwt(userId));
  return s;
}

/// Ends a session the way the client itself does on a fatal error (closes its socket). `terminate`
/// is not in the public .d.ts; it is only used to clean up.
export function endSession(s) {
  sessions.delete(s);
  s.terminate(new Error("test finished with this session"));
}

/// Creates the session's own user (idempotent) and returns the session.
export async function user(s, params = {}) {
  await s.currentUser.createIfNotExists({ name: capitalise(s.currentUser.id), ...params });
  return s;
}

export function capitalise(id) {
  return id.charAt(0).toUpperCase() + id.slice(1);
}

/// Terminates every session and raw socket, and stops every emulator.
export async function closeAll() {
  for (const s of sessions) endSession(s);
  for (const r of rawSockets) r.close();
  await Promise.all([...running].map((e) => e.stop()));
}

// ---------------------------------------------------------------------------
// Waiting for snapshots

export function withTimeout(promise, what, ms = WAIT_MS) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/// Records a subscription's snapshots. `subscribe` receives the callback and returns the
/// subscription object (e.g. `(cb) => conv.subscribeMessages(cb)`).
export function watch(subscribe) {
  const w = {
    snapshots: [],
    loadedAll: [],
    waiters: [],
    get latest() {
      return this.snapshots[this.snapshots.length - 1];
    },
    get count() {
      return this.snapshots.length;
    },
    /// The first snapshot (the latest one, or a later one) for which `pred` holds.
    until(pred, what = "a matching snapshot", ms = WAIT_MS) {
      const n = this.snapshots.length;
      if (n > 0 && safe(pred, this.snapshots[n - 1], this.loadedAll[n - 1])) return Promise.resolve(this.snapshots[n - 1]);
      let waiter;
      const p = new Promise((resolve) => {
        waiter = { pred, resolve };
        this.waiters.push(waiter);
      });
      return withTimeout(p, `${what} (last snapshot: ${short(this.latest)})`, ms).finally(() => {
        this.waiters = this.waiters.filter((x) => x !== waiter);
      });
    },
    /// Resolves with the `n`th snapshot (1-based).
    nth(n, ms = WAIT_MS) {
      return this.until(() => this.snapshots.length >= n, `snapshot #${n}`, ms).then(() => this.snapshots[n - 1]);
    },
    unsubscribe() {
      this.sub.unsubscribe();
    },
  };
  w.sub = subscribe((snapshot, loadedAll) => {
    w.snapshots.push(snapshot);
    w.loadedAll.push(loadedAll);
    for (const waiter of [...w.waiters]) {
      if (safe(waiter.pred, snapshot, loadedAll)) waiter.resolve(snapshot);
    }
  });
  return w;
}

function safe(pred, snapshot, loadedAll) {
  try {
    return Boolean(pred(snapshot, loadedAll));
  } catch {
    return false;
  }
}

function short(value) {
  const s = JSON.stringify(value);
  return s === undefined ? "none" : s.length > 400 ? `${s.slice(0, 400)}…` : s;
}

/// Waits `ms` with nothing to observe (used only to show that something does NOT happen).
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/// The value a promise rejects with; fails if it resolves.
export async function rejection(promise, ms = WAIT_MS) {
  try {
    const v = await withTimeout(promise, "a rejection", ms);
    throw new Error(`expected a rejection, got ${short(v)}`);
  } catch (e) {
    if (e?.message?.startsWith("expected a rejection") || e?.message?.startsWith("timed out")) throw e;
    return e;
  }
}

export function errorText(e) {
  return typeof e === "string" ? e : e?.message ?? String(e);
}

let counter = 0;
/// A unique id: tests in one file share an emulator, never a conversation.
export function uid(prefix) {
  counter += 1;
  return `${prefix}-${process.pid}-${counter}`;
}

/// Plain text of the first text block of a message (for assertions on content).
export function textOf(message) {
  return message?.plaintext;
}

// ---------------------------------------------------------------------------
// Raw websocket: frames as the protocol notes describe them (§3.1).

export async function rawSocket(emu, userId, { token, authenticate = true, appId = emu.appId } = {}) {
  const url = `ws://${emu.host}/public_api/v1/${appId}/realtime/${encodeURIComponent(userId)}?talkjs-client-build=conformance&talkjs-core=1.11.2&talkjs-client-id=1&talkjs-time=${Date.now()}`;
  const ws = new WebSocket(url);
  const raw = {
    ws,
    seq: 0,
    pending: new Map(),
    publishes: [],
    frames: [],
    waiters: [],
    closed: null,
    /// Sends `[seq, method, path, data, {}]` and resolves with `[seq, status, data]`.
    request(method, p, data = {}, seq = raw.seq++) {
      return withTimeout(
        new Promise((resolve) => {
          raw.pending.set(seq, resolve);
          ws.send(JSON.stringify([seq, method, p, data, {}]));
        }),
        `the response to ${method} ${p}`,
      );
    },
    sendText(text) {
      ws.send(text);
    },
    /// The first PUBLISH frame (received so far or later) with an event for which `pred` holds.
    publish(pred, what = "a PUBLISH", ms = WAIT_MS) {
      const hit = raw.publishes.find((f) => f.slice(2).some((e) => safe(pred, e)));
      if (hit) return Promise.resolve(hit);
      let waiter;
      return withTimeout(
        new Promise((resolve) => {
          waiter = { pred, resolve };
          raw.waiters.push(waiter);
        }),
        what,
        ms,
      ).finally(() => {
        raw.waiters = raw.waiters.filter((x) => x !== waiter);
      });
    },
    closedPromise: null,
    close() {
      rawSockets.delete(raw);
      if (ws.readyState === WebSocket.OPEN || ws.readyState === WebSocket.CONNECTING) ws.terminate();
    },
  };
  raw.closedPromise = new Promise((resolve) => {
    ws.on("close", (code, reason) => {
      raw.closed = { code, reason: reason.toString() };
      resolve(raw.closed);
    });
  });
  ws.on("message", (data) => {
    const frame = JSON.parse(data.toString());
    raw.frames.push(frame);
    if (frame[1] === "PUBLISH") {
      ws.send(JSON.stringify([frame[0], "ACK"]));
      raw.publishes.push(frame);
      for (const w of [...raw.waiters]) if (frame.slice(2).some((e) => safe(w.pred, e))) w.resolve(frame);
    } else {
      raw.pending.get(frame[0])?.(frame);
      raw.pending.delete(frame[0]);
    }
  });
  rawSockets.add(raw);
  await withTimeout(
    new Promise((resolve, reject) => {
      ws.once("open", resolve);
      ws.once("error", reject);
    }),
    "the raw websocket to open",
  );
  if (authenticate) {
    const [, status, data] = await raw.request("POST", "/session/renew", { token: token ?? emu.jwt(userId) });
    if (status !== 200) throw new Error(`raw renew failed: ${status} ${JSON.stringify(data)}`);
  }
  return raw;
}

// ---------------------------------------------------------------------------
// Set-up shortcuts (through the official client, like an app would do it)

/// Creates conversation `id` as `owner` (who joins it) and adds each of `others` as a
/// participant. The users must exist. Returns the owner's ConversationRef.
export async function startConversation(owner, id, others = [], params = {}) {
  const c = owner.conversation(id);
  await c.createIfNotExists(params);
  for (const other of others) {
    const [userId, p] = Array.isArray(other) ? other : [other, {}];
    await c.participant(userId).createIfNotExists(p);
  }
  return c;
}

/// Waits until session `s` has loaded the messages of conversation `id` (its first snapshot),
/// then drops the listener. Use it before another user's first send into a conversation `s` was
/// just added to: if `s`'s conversation list is still subscribed, the official client opens an
/// internal message store on `side.created`, and a send racing that store's first load can be
/// missed by listeners added later (docs/protocol.md §9, item 21), a client-side race that no
/// server answer avoids.
export async function loadedBy(s, id) {
  const w = watch((cb) => s.conversation(id).subscribeMessages(cb));
  try {
    await w.until((l) => Array.isArray(l), `${id}'s messages loaded`);
  } finally {
    w.unsubscribe();
  }
}

/// Creates users (by id, named after the id) through `s`'s user-sync rights.
export async function createUsers(s, ids) {
  await Promise.all(ids.map((id) => s.user(id).createIfNotExists({ name: capitalise(id) })));
}

// ---------------------------------------------------------------------------
// A TCP relay, to give the client a network failure: `cut()` destroys the open connections, so
// the client sees its socket die (code 1006) and reconnects (notes §3.8).

export async function startProxy(emu) {
  const [targetHost, targetPort] = [emu.host.split(":")[0], Number(emu.host.split(":")[1])];
  const open = new Set();
  const server = net.createServer((client) => {
    const upstream = net.connect(targetPort, targetHost);
    const pair = [client, upstream];
    open.add(pair);
    const drop = () => {
      open.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on("error", drop).on("close", drop);
    upstream.on("error", drop).on("close", drop);
    client.pipe(upstream);
    upstream.on("data", (chunk) => {
      if (!proxy.deaf) client.write(chunk);
    });
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const proxy = {
    ...emu,
    host: `127.0.0.1:${server.address().port}`,
    /// While true, nothing the emulator sends reaches the client (requests still arrive and are
    /// served): a response lost in the network.
    deaf: false,
    /// How many connections are open through the relay.
    get connections() {
      return open.size;
    },
    cut() {
      proxy.deaf = false;
      for (const [client, upstream] of [...open]) {
        client.destroy();
        upstream.destroy();
      }
      open.clear();
    },
    async stop() {
      proxy.cut();
      await new Promise((resolve) => server.close(resolve));
    },
  };
  running.add(proxy);
  return proxy;
}
