// Recording stub server for running the official TalkJS client as a test peer.
//
// One Node `http` server on 127.0.0.1 (random port) serves both the plain HTTP
// endpoints (app check, bokens, upload, search) and the realtime websocket
// (any upgrade path). Every request and every frame in both directions is
// appended to `stub.log`, in order, so tests can compare transcripts.
//
// API (other scripts depend on it; keep it stable):
//
//   const stub = await startStub({ respond, http, quietMs })
//     respond(frame, ctx) -> [status, data] | undefined | null
//         frame = the parsed client request [seq, method, path, data, headers]
//         undefined -> default answer, null -> send nothing now (ctx.reply
//         can answer later). May also return a promise of one of these
//         (a synchronous answer is sent before the next client frame is read).
//         ctx = { stub, socket, socketIndex, reply(status, data), push(...events) }
//     http(req, body) -> {status, headers?, body} | undefined   (may be async)
//     quietMs (default 0 = answer at once): hold websocket answers until the
//         client has sent nothing on that socket for quietMs, then send them
//         all in request order. The client then works in rounds (burst of
//         frames, answers, next burst), which keeps transcripts stable.
//         body is the raw request body as a string ("" when empty)
//   stub.host        "127.0.0.1:PORT" (pass as `host` to getTalkSession)
//   stub.port
//   stub.log         [{kind:"http", method, url, headers, body}
//                     | {kind:"ws-open", url, socket}
//                     | {kind:"ws", from:"client"|"server", frame, socket}
//                     | {kind:"ws-close", code, socket}]
//   stub.push(...events)  sends [id,"PUBLISH",...events] on every open socket
//                    (ids count from 1 per socket)
//   stub.sendRaw(frame)  sends any frame on every open socket (logged)
//   stub.sockets()   the currently open server-side sockets
//   await stub.close()
//
//   newSession(stub, { appId, userId, token, ...more })  -> TalkSession
//   await settle(ms)

import http from "node:http";
import crypto from "node:crypto";
import { WebSocketServer, WebSocket } from "ws";
import { getTalkSession, registerPolyfills } from "@talkjs/core";

export const T0 = 1700000000000;

// Headers kept in the HTTP log (lower-case names).
const LOGGED_HEADERS = [
  "authorization",
  "content-type",
  "x-talkjs-client-build",
  "x-talkjs-client-date",
];

// ---------------------------------------------------------------------------
// Plausible wire objects (notes §4.1). Fixed timestamps keep transcripts stable.

export function userWire(id, extra = {}) {
  const name = id.charAt(0).toUpperCase() + id.slice(1);
  return {
    id,
    name,
    custom: {},
    locale: null,
    photoUrl: null,
    role: "default",
    welcomeMessage: null,
    ...extra,
  };
}

export function conversationWire(id, extra = {}) {
  return {
    id,
    subject: null,
    photoUrl: null,
    welcomeMessages: [],
    custom: {},
    createdAt: T0,
    joinedAt: T0,
    lastMessageAt: T0,
    unreadMessageCount: 0,
    isUnread: false,
    access: "ReadWrite",
    notify: true,
    readUntil: T0,
    everyoneReadUntil: T0,
    ...extra,
  };
}

export function messageWire(id, extra = {}) {
  return {
    id,
    type: "UserMessage",
    senderId: "bob",
    custom: {},
    createdAt: T0 + 1000,
    editedAt: null,
    referencedMessageId: null,
    origin: "web",
    content: [{ type: "text", children: [`text of ${id}`] }],
    reactions: {},
    ...extra,
  };
}

export function participantWire(id, extra = {}) {
  return { id, access: "ReadWrite", notify: true, joinedAt: T0, ...extra };
}

export function errorBody(errorCode, ...reasons) {
  return { errorCode, reasons };
}

// ---------------------------------------------------------------------------
// JWT

function b64url(buf) {
  return Buffer.from(buf).toString("base64url");
}

// HS256 user token with a fixed far-future expiry (deterministic output).
export function makeJwt(appId, userId, secret = "test-secret", extraClaims = {}) {
  const header = { alg: "HS256", typ: "JWT" };
  const payload = {
    tokenType: "user",
    iss: appId,
    sub: userId,
    exp: 4102444800, // 2100-01-01
    ...extraClaims,
  };
  const signingInput = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(payload))}`;
  const sig = crypto.createHmac("sha256", secret).update(signingInput).digest();
  return `${signingInput}.${b64url(sig)}`;
}

// ---------------------------------------------------------------------------
// Default realtime answers

function decodeSegments(path) {
  return path.split("/").slice(1).map((s) => decodeURIComponent(s));
}

export function defaultAnswer(frame, state) {
  const [, method, path, data] = frame;
  const seg = decodeSegments(path);
  const is = (...parts) =>
    parts.length === seg.length && parts.every((p, i) => p === "*" || p === seg[i]);

  if (method === "SUBSCRIBE" || method === "UNSUBSCRIBE") return [200, {}];
  if (method === "POST" && is("session", "renew")) return [200, { expiresInSeconds: 86400 }];
  if (method === "GET" && is("ping")) return [200, {}];

  if (method === "POST" && is("conversations", "*", "messages")) {
    state.messageCounter += 1;
    return [200, { id: `msg_${state.messageCounter}` }];
  }
  if (method === "POST" && is("conversations", "*", "participants")) {
    const actions = (data && data.actions) || [];
    return [200, { responses: actions.map(() => ({ status: 200 })) }];
  }

  if (method === "GET") {
    if (is("users")) {
      const out = {};
      for (const id of (data && data.ids) || []) {
        if (!id.startsWith("nobody")) out[id] = userWire(id);
      }
      return [200, out];
    }
    if (is("users", "*", "online")) return [200, { isConnected: true }];
    if (is("me", "conversations")) return [200, { data: [], cursor: null }];
    if (is("me", "conversations", "*")) return [200, conversationWire(seg[2])];
    if (is("me", "conversations", "*", "messages")) return [200, { data: [], cursor: null }];
    if (is("me", "conversations", "*", "messages", "*")) return [200, messageWire(seg[4])];
    if (is("me", "conversations", "*", "messages", "*", "reactions", "*"))
      return [200, { data: [], cursor: null }];
    if (is("me", "conversations", "*", "participants")) return [200, { data: [], cursor: null }];
    if (is("me", "conversations", "*", "participants", "*"))
      return [200, participantWire(seg[4])];
    if (is("me", "conversations", "*", "typing")) return [200, { many: false, usersTyping: {} }];
    if (is("me", "conversations", "*", "translate")) {
      const out = {};
      for (const id of (data && data.ids) || []) {
        out[id] = { content: [{ type: "text", children: [`${id} (${data.lang})`] }] };
      }
      return [200, { data: out }];
    }
  }
  return [200, {}];
}

// ---------------------------------------------------------------------------
// Default HTTP answers

function searchLine(kind, n) {
  if (kind === "messages") {
    return JSON.stringify({ ...messageWire(`sm${n}`), conversationId: "c1" });
  }
  return JSON.stringify({ id: `c${n}` });
}

// Streaming search body per notes §1.7: first line "{"data":[", one result per
// line (later ones with a leading comma), last line "]" + cursor or "]}".
export function searchBody(lines, cursor) {
  const parts = ['{"data":['];
  lines.forEach((l, i) => parts.push(i === 0 ? l : "," + l));
  parts.push(cursor === undefined ? "]}" : `],"cursor":${JSON.stringify(cursor)}}`);
  return parts.join("\n");
}

export function defaultHttp(method, url) {
  const u = new URL(url, "http://stub");
  const seg = u.pathname.split("/").slice(1).map((s) => decodeURIComponent(s));
  const json = (status, obj) => ({
    status,
    headers: { "content-type": "application/json" },
    body: JSON.stringify(obj),
  });
  if (seg[0] === "api" && seg[1] === "v0") {
    if (method === "GET" && seg.length === 3) return json(200, {});
    if (method === "GET" && seg.length === 5 && seg[3] === "bokens") return json(200, { boken: "BOKEN_1" });
  }
  if (seg[0] === "public_api" && seg[1] === "v1") {
    if (method === "POST" && seg.length === 4 && seg[3] === "files")
      return json(200, { fileToken: "FILETOKEN_1" });
    if (method === "GET" && seg.length === 6 && seg[3] === "me" && seg[5] === "search") {
      const kind = seg[4];
      const cursor = u.searchParams.get("cursor");
      const body =
        cursor === null
          ? searchBody([searchLine(kind, 1)], "CUR1")
          : searchBody([searchLine(kind, 2)], undefined);
      return { status: 200, headers: { "content-type": "application/json" }, body };
    }
  }
  return json(404, errorBody("NOT_FOUND", `stub has no route for ${method} ${u.pathname}`));
}

// ---------------------------------------------------------------------------

export async function startStub(options = {}) {
  const log = [];
  const state = { messageCounter: 0 };
  const quietMs = options.quietMs || 0;

  // With quietMs, answers wait until the client has sent nothing on that
  // socket for quietMs, then all go out together, in request order.
  function armFlush(ws) {
    clearTimeout(ws._stubFlushTimer);
    if (ws._stubPending.length === 0) return;
    ws._stubFlushTimer = setTimeout(() => {
      const pending = ws._stubPending.splice(0);
      for (const reply of pending) sendFrame(ws, reply);
    }, quietMs);
  }
  const open = new Set();
  let socketCount = 0;

  const server = http.createServer((req, res) => {
    const chunks = [];
    const headers = {};
    for (const h of LOGGED_HEADERS) if (req.headers[h] !== undefined) headers[h] = req.headers[h];
    // Logged on arrival (keeps the order with websocket events); body filled in at the end.
    const entry = { kind: "http", method: req.method, url: req.url, headers, body: null };
    log.push(entry);
    req.on("data", (c) => chunks.push(c));
    req.on("end", async () => {
      const body = Buffer.concat(chunks).toString("utf8");
      entry.body = body === "" ? null : body;
      let out;
      try {
        out = options.http ? await options.http(req, body) : undefined;
      } catch (e) {
        out = { status: 500, body: JSON.stringify(errorBody("STUB_ERROR", String(e))) };
      }
      if (out === undefined) out = defaultHttp(req.method, req.url);
      res.writeHead(out.status, out.headers || { "content-type": "application/json" });
      res.end(out.body ?? "");
    });
  });

  const wss = new WebSocketServer({ server });

  function sendFrame(ws, frame) {
    if (ws.readyState !== WebSocket.OPEN) return;
    log.push({ kind: "ws", from: "server", frame, socket: ws._stubIndex });
    ws.send(JSON.stringify(frame));
  }

  function pushOn(ws, events) {
    ws._stubPublishId += 1;
    sendFrame(ws, [ws._stubPublishId, "PUBLISH", ...events]);
  }

  wss.on("connection", (ws, req) => {
    ws._stubIndex = socketCount++;
    ws._stubPublishId = 0;
    ws._stubPending = [];
    ws._stubFlushTimer = null;
    open.add(ws);
    log.push({ kind: "ws-open", url: req.url, socket: ws._stubIndex });
    ws.on("message", (raw) => {
      let frame;
      try {
        frame = JSON.parse(raw.toString());
      } catch {
        log.push({ kind: "ws", from: "client", frame: raw.toString(), socket: ws._stubIndex });
        return;
      }
      log.push({ kind: "ws", from: "client", frame, socket: ws._stubIndex });
      if (quietMs > 0) armFlush(ws);
      if (!Array.isArray(frame) || frame[1] === "ACK") return;
      const seq = frame[0];
      const ctx = {
        stub: api,
        socket: ws,
        socketIndex: ws._stubIndex,
        reply: (status, data) => sendFrame(ws, [seq, status, data]),
        push: (...events) => pushOn(ws, events),
      };
      const finish = (answer) => {
        if (answer === undefined) answer = defaultAnswer(frame, state);
        if (answer === null) return;
        const reply = [seq, answer[0], answer[1]];
        if (quietMs > 0) {
          ws._stubPending.push(reply);
          armFlush(ws);
        } else sendFrame(ws, reply);
      };
      // Synchronous answers are sent before the next client frame is read, so
      // transcripts do not depend on how frames were packed into TCP segments.
      let answer;
      try {
        answer = options.respond ? options.respond(frame, ctx) : undefined;
      } catch (e) {
        answer = [500, errorBody("STUB_ERROR", String(e))];
      }
      if (answer && typeof answer.then === "function") {
        answer.then(finish, (e) => finish([500, errorBody("STUB_ERROR", String(e))]));
      } else {
        finish(answer);
      }
    });
    ws.on("close", (code) => {
      clearTimeout(ws._stubFlushTimer);
      open.delete(ws);
      log.push({ kind: "ws-close", code, socket: ws._stubIndex });
    });
  });

  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = server.address().port;

  const api = {
    host: `127.0.0.1:${port}`,
    port,
    log,
    push(...events) {
      for (const ws of open) pushOn(ws, events);
    },
    // Sends an arbitrary frame (e.g. a PUBLISH with a chosen id) on every open
    // socket and logs it. Does not touch the automatic PUBLISH id counter.
    sendRaw(frame) {
      for (const ws of open) sendFrame(ws, frame);
    },
    sockets() {
      return [...open];
    },
    async close() {
      for (const ws of open) ws.terminate();
      await new Promise((resolve) => wss.close(() => resolve()));
      server.closeAllConnections?.();
      await new Promise((resolve) => server.close(() => resolve()));
    },
  };
  return api;
}

let polyfilled = false;

// Creates a fresh official-client session pointed at the stub. `token: false`
// skips setToken (boken mode); any other falsy token uses a valid test JWT.
export function newSession(stub, { appId = "app1", userId = "alice", token, ...more } = {}) {
  if (!polyfilled) {
    registerPolyfills({ WebSocket });
    polyfilled = true;
  }
  const session = getTalkSession({ appId, userId, host: stub.host, forceCreateNew: true, ...more });
  if (token !== false) session.setToken(token ?? makeJwt(appId, userId));
  return session;
}

export function settle(ms = 50) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
