// Records wire transcripts of the official @talkjs/core client (used only as a
// test peer) against the local recording stub, one JSON fixture per scenario,
// into protocol/tests/fixtures/frames/. Run with: npm run record
//
// Options: RECORD_ONLY=name1,name2 records a subset; RECORD_VERBOSE=1 prints
// the client's console output; RECORD_OUT=dir writes elsewhere (stability
// checks); RECORD_QUIET_MS overrides the stub's quietMs.

import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import {
  startStub,
  newSession,
  settle,
  makeJwt,
  userWire,
  conversationWire,
  messageWire,
  participantWire,
  errorBody,
  searchBody,
  T0,
} from "./lib/stub.mjs";
import { buildFixture, fixtureText, plain, settled } from "./lib/fixture.mjs";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const OUT_DIR = process.env.RECORD_OUT
  ? path.resolve(process.env.RECORD_OUT)
  : path.resolve(HERE, "../protocol/tests/fixtures/frames");
// Answers wait for this much client silence (see startStub's quietMs).
const QUIET_MS = Number(process.env.RECORD_QUIET_MS || 20);
const VERBOSE = process.env.RECORD_VERBOSE === "1";
const ONLY = process.env.RECORD_ONLY ? new Set(process.env.RECORD_ONLY.split(",")) : null;

// ---------------------------------------------------------------------------
// Client console output is captured so it does not clutter the run.

const out = (s) => process.stdout.write(s + "\n");
let consoleSink = [];
for (const level of ["log", "info", "warn", "error", "debug"]) {
  console[level] = (...args) => {
    const line = `[${level}] ${args.map((a) => (a instanceof Error ? a.message : typeof a === "string" ? a : JSON.stringify(a))).join(" ")}`;
    consoleSink.push(line);
    if (VERBOSE) out("    client " + line);
  };
}

// ---------------------------------------------------------------------------
// Helpers

// Waits until the stub log has been quiet for `quietMs`.
async function quiesce(stub, quietMs = 120, maxMs = 5000) {
  const start = Date.now();
  let last = stub.log.length;
  let lastChange = Date.now();
  while (Date.now() - start < maxMs) {
    await settle(10);
    if (stub.log.length !== last) {
      last = stub.log.length;
      lastChange = Date.now();
    } else if (Date.now() - lastChange >= quietMs) return;
  }
}

async function waitFor(pred, maxMs = 5000) {
  const start = Date.now();
  while (Date.now() - start < maxMs) {
    if (pred()) return true;
    await settle(10);
  }
  return false;
}

const clientFrames = (stub) =>
  stub.log.filter((e) => e.kind === "ws" && e.from === "client").map((e) => e.frame);

const sawRequest = (stub, method, p) => clientFrames(stub).some((f) => f[1] === method && f[2] === p);

// Table-driven respond(): [method, path | RegExp, answer | (frame, ctx, n) => answer].
// `n` counts how often that rule matched before (0 for the first time).
function router(rules) {
  const counts = new Map();
  return (frame, ctx) => {
    for (let i = 0; i < rules.length; i++) {
      const [m, p, a] = rules[i];
      if (m !== frame[1]) continue;
      if (p instanceof RegExp ? !p.test(frame[2]) : p !== frame[2]) continue;
      const n = counts.get(i) || 0;
      counts.set(i, n + 1);
      return typeof a === "function" ? a(frame, ctx, n) : a;
    }
    return undefined;
  };
}

const page = (data, cursor = null) => [200, { data, cursor }];
const NAP = [403, errorBody("NOT_A_PARTICIPANT", "You are not a participant of this conversation")];
const state = (sub) => plain(sub.state);

// Realistic wire objects used across scenarios.
const c1 = conversationWire("c1", {
  subject: "Project chat",
  custom: { project: "apollo" },
  lastMessageAt: T0 + 3000,
  unreadMessageCount: 1,
  isUnread: true,
  readUntil: T0 + 2000,
  everyoneReadUntil: T0 + 1000,
});
const msg = (id, extra = {}) => messageWire(id, extra);
const m1 = msg("m1", { senderId: "alice", createdAt: T0 + 1000, content: [{ type: "text", children: ["first"] }] });
const m2 = msg("m2", {
  senderId: "bob",
  createdAt: T0 + 2000,
  content: [{ type: "text", children: ["second ", { type: "bold", children: ["bold"] }] }],
  reactions: { "👍": { count: 1, currentUserReacted: false, createdAt: T0 + 2500 } },
});
const m3 = msg("m3", {
  senderId: "carol",
  createdAt: T0 + 3000,
  referencedMessageId: "m1",
  custom: { tag: "reply" },
  content: [{ type: "text", children: ["third"] }],
});

// ---------------------------------------------------------------------------
// Scenarios

const scenarios = [];
const scenario = (s) => scenarios.push(s);

// ---- session, auth --------------------------------------------------------

scenario({
  name: "login_current_user_get",
  description:
    "First realtime call on a new session: app-id check over HTTP, lazy websocket open, POST /session/renew as seq 0, then the batched users SUBSCRIBE and GET for currentUser.get().",
  calls: ["session.appId", "session.currentUser.id", "session.currentUser.get()"],
  async run({ session, results }) {
    results.appId = session.appId;
    results.currentUserId = session.currentUser.id;
    results.get = await settled(session.currentUser.get());
  },
  expect: ["C POST /session/renew", "C SUBSCRIBE /users", "C GET /users", "H GET /api/v0/app1"],
});

scenario({
  name: "app_id_unknown",
  description:
    "The app-id check answers HTTP 404: onError fires, the session is terminated, and a later call rejects without opening a websocket.",
  calls: [
    "session.onError(handler)",
    "session.onError(otherHandler).unsubscribe()",
    "session.user('bob').get()",
  ],
  http: (req) =>
    req.url === "/api/v0/app1"
      ? { status: 404, body: JSON.stringify(errorBody("APP_NOT_FOUND", "no such app")) }
      : undefined,
  async run({ session, results, stub }) {
    const errors = [];
    const removed = [];
    session.onError((e) => errors.push(e.message));
    session.onError((e) => removed.push(e.message)).unsubscribe();
    results.unsubscribedHandlerCalls = removed;
    await waitFor(() => errors.length > 0, 3000);
    results.onError = [...errors];
    results.userGetAfterwards = await settled(session.user("bob").get());
    await quiesce(stub);
    results.onErrorAll = errors;
  },
  expect: ["H GET /api/v0/app1", "R onError"],
});

scenario({
  name: "renew_401_no_on_need_token",
  description:
    "POST /session/renew answered 401 while only a static token was set (no onNeedToken): the session dies through onError and the pending call rejects.",
  calls: ["session.setToken(jwt)", "session.onError(handler)", "session.user('bob').get()"],
  respond: router([["POST", "/session/renew", [401, errorBody("INVALID_TOKEN", "The token signature is invalid")]]]),
  async run({ session, results, stub }) {
    const errors = [];
    session.onError((e) => errors.push(e.message));
    results.userGet = await settled(session.user("bob").get());
    await quiesce(stub);
    results.onError = errors;
    results.closeCodes = stub.log.filter((e) => e.kind === "ws-close").map((e) => e.code);
  },
  expect: ["C POST /session/renew", "S 401", "R onError"],
});

scenario({
  name: "renew_400_fatal",
  description:
    "POST /session/renew answered 400: fatal authentication error reported through onError, queued calls reject as destroyed.",
  calls: ["session.onError(handler)", "conversation('c1').markAsRead()"],
  respond: router([["POST", "/session/renew", [400, errorBody("INVALID_TOKEN", "Malformed token")]]]),
  async run({ session, results, stub }) {
    const errors = [];
    session.onError((e) => errors.push(e.message));
    results.markAsRead = await settled(session.conversation("c1").markAsRead());
    await quiesce(stub);
    results.onError = errors;
    results.closeCodes = stub.log.filter((e) => e.kind === "ws-close").map((e) => e.code);
  },
  expect: ["C POST /session/renew", "S 400", "R onError"],
});

scenario({
  name: "boken_mode",
  description:
    "No setToken and no onNeedToken: the client fetches a boken over HTTP (empty signature) and uses it as the renew token.",
  calls: ["getTalkSession({appId:'app1', userId:'alice'}) without setToken", "session.conversation('c1').markAsRead()"],
  session: { token: false },
  async run({ session, results }) {
    results.markAsRead = await settled(session.conversation("c1").markAsRead());
  },
  expect: ["H GET /api/v0/app1/bokens/alice?signature=", "C POST /session/renew", "C POST /me/conversations/c1/read"],
});

scenario({
  name: "boken_mode_signature_encoded_user",
  description:
    "Boken mode with the hidden `signature` option and a user id containing a slash: both are percent-encoded in the boken URL, the user id also in the websocket URL.",
  calls: [
    "getTalkSession({appId:'app1', userId:'al/ice', signature:'sig+/='}) without setToken",
    "session.user('bob').get()",
  ],
  session: { token: false, userId: "al/ice", signature: "sig+/=" },
  async run({ session, results }) {
    results.get = await settled(session.user("bob").get());
  },
  expect: ["H GET /api/v0/app1/bokens/al%2Fice?signature=sig%2B%2F%3D", "C POST /session/renew"],
});

scenario({
  name: "on_need_token_initial",
  description:
    "onNeedToken is set instead of a token: the client calls it when the first realtime call needs a token, and the token given to setToken is sent in renew.",
  calls: ["session.onNeedToken = () => session.setToken(jwt)", "session.conversation('c1').markAsUnread()"],
  session: { token: false },
  async run({ session, results }) {
    let calls = 0;
    session.onNeedToken = () => {
      calls += 1;
      session.setToken(makeJwt("app1", "alice"));
    };
    results.markAsUnread = await settled(session.conversation("c1").markAsUnread());
    results.onNeedTokenCalls = calls;
  },
  expect: ["C POST /session/renew", "C POST /me/conversations/c1/unread"],
});

scenario({
  name: "set_token_while_connected",
  description:
    "setToken with a new JWT while the socket is authenticated and holds a subscription: a second renew on the same socket (seq continues), no resubscribe, no refetch.",
  calls: ["session.user('bob').subscribe()", "session.setToken(secondJwt)", "session.conversation('c1').markAsRead()"],
  async run({ session, results, stub }) {
    const sub = session.user("bob").subscribe();
    await sub.connected;
    await quiesce(stub);
    session.setToken(makeJwt("app1", "alice", "test-secret", { jti: "second" }));
    await quiesce(stub);
    results.markAsRead = await settled(session.conversation("c1").markAsRead());
    results.user = state(sub);
  },
  expect: ["C POST /session/renew", "C POST /me/conversations/c1/read"],
  check: (fx) => count(fx, "C POST /session/renew") === 2 && fx.ws_urls.length === 1,
});

scenario({
  name: "session_expired_push",
  description:
    "Server pushes session.expired while the client holds user and typing subscriptions: ACK, onNeedToken, renew on the same socket, re-SUBSCRIBE of every path and refetch of every store.",
  calls: [
    "session.onNeedToken = () => session.setToken(nextJwt)",
    "session.user('bob').subscribe()",
    "session.conversation('c1').subscribeTyping()",
    "push session.expired",
  ],
  session: { token: false },
  async run({ session, results, stub }) {
    let calls = 0;
    session.onNeedToken = () => {
      calls += 1;
      session.setToken(makeJwt("app1", "alice", "test-secret", { jti: `t${calls}` }));
    };
    const u = session.user("bob").subscribe();
    const t = session.conversation("c1").subscribeTyping();
    await Promise.all([u.connected, t.connected]);
    await quiesce(stub);
    stub.push({ type: "session.expired" });
    await quiesce(stub);
    results.onNeedTokenCalls = calls;
    results.user = state(u);
    results.typing = state(t);
  },
  expect: ["P session.expired", "ACK", "C SUBSCRIBE /me/conversations/c1/typing"],
  check: (fx) => count(fx, "C POST /session/renew") === 2 && count(fx, "C SUBSCRIBE /me/conversations/c1/typing") === 2,
});

scenario({
  name: "session_expired_static_token",
  description:
    "session.expired pushed to a session that only has a static token (no onNeedToken): shows how the client reacts when it cannot get a new token.",
  calls: ["session.onError(handler)", "session.user('bob').subscribe()", "push session.expired"],
  async run({ session, results, stub }) {
    const errors = [];
    session.onError((e) => errors.push(e.message));
    const u = session.user("bob").subscribe();
    await u.connected;
    await quiesce(stub);
    stub.push({ type: "session.expired" });
    await quiesce(stub, 150);
    results.onError = errors;
    results.user = state(u);
    results.closeCodes = stub.log.filter((e) => e.kind === "ws-close").map((e) => e.code);
  },
  expect: ["P session.expired", "ACK"],
});

scenario({
  name: "request_401_reauth",
  description:
    "A normal request answered 401 while authenticated: the client gets a new token through onNeedToken, renews on the same socket, and re-sends the request.",
  calls: ["session.onNeedToken = () => session.setToken(nextJwt)", "session.conversation('c1').markAsRead()"],
  session: { token: false },
  respond: router([
    ["POST", "/me/conversations/c1/read", (f, ctx, n) => (n === 0 ? [401, errorBody("TOKEN_EXPIRED", "The token has expired")] : undefined)],
  ]),
  async run({ session, results }) {
    let calls = 0;
    session.onNeedToken = () => {
      calls += 1;
      session.setToken(makeJwt("app1", "alice", "test-secret", { jti: `t${calls}` }));
    };
    results.markAsRead = await settled(session.conversation("c1").markAsRead());
    results.onNeedTokenCalls = calls;
  },
  expect: ["S 401"],
  check: (fx) => count(fx, "C POST /me/conversations/c1/read") === 2 && count(fx, "C POST /session/renew") === 2,
});

scenario({
  name: "idle_close_and_reopen",
  slow: true,
  description:
    "After a request completes and no subscription is held, the client closes the socket after about 3 s; the next call opens a new socket (new talkjs-time, seq restarts at 0, renew again).",
  calls: ["session.conversation('c1').markAsRead()", "(wait for close)", "session.conversation('c1').markAsUnread()"],
  async run({ session, results, stub }) {
    results.markAsRead = await settled(session.conversation("c1").markAsRead());
    await waitFor(() => stub.log.some((e) => e.kind === "ws-close"), 6000);
    results.closeCodes = stub.log.filter((e) => e.kind === "ws-close").map((e) => e.code);
    results.markAsUnread = await settled(session.conversation("c1").markAsUnread());
  },
  expect: ["C POST /me/conversations/c1/read", "C POST /me/conversations/c1/unread"],
  check: (fx) => fx.ws_urls.length === 2 && count(fx, "C POST /session/renew") === 2,
});

// ---- users -----------------------------------------------------------------

scenario({
  name: "user_create_if_not_exists",
  description:
    "UserRef.createIfNotExists with every field: a single-string email becomes an array, role defaults to 'default' and is appended last.",
  calls: [
    "session.user('bob').createIfNotExists({name:'Bob', custom:{team:'red'}, locale:'nl-NL', photoUrl:'https://example.com/bob.png', welcomeMessage:'Hi there', email:'bob@example.com', phone:['+15550001','+15550002'], pushTokens:{'fcm:tok1':true}})",
    "session.user('carol').createIfNotExists({name:'Carol', role:'admin'})",
  ],
  async run({ session, results }) {
    results.bob = await settled(
      session.user("bob").createIfNotExists({
        name: "Bob",
        custom: { team: "red" },
        locale: "nl-NL",
        photoUrl: "https://example.com/bob.png",
        welcomeMessage: "Hi there",
        email: "bob@example.com",
        phone: ["+15550001", "+15550002"],
        pushTokens: { "fcm:tok1": true },
      }),
    );
    results.carol = await settled(session.user("carol").createIfNotExists({ name: "Carol", role: "admin" }));
  },
  expect: ["C POST /users/bob", "C POST /users/carol"],
});

scenario({
  name: "user_create_if_not_exists_conflict",
  description: "UserRef.createIfNotExists answered 409: the client treats 'already exists' as success.",
  calls: ["session.user('bob').createIfNotExists({name:'Bob'})"],
  respond: router([["POST", "/users/bob", [409, errorBody("USER_ALREADY_EXISTS", "User bob already exists")]]]),
  async run({ session, results }) {
    results.create = await settled(session.user("bob").createIfNotExists({ name: "Bob" }));
  },
  expect: ["C POST /users/bob", "S 409"],
});

scenario({
  name: "user_set",
  description:
    "UserRef.set with every field, including nulls (role:null is sent as 'default', a single phone string becomes an array), then a second set with other values.",
  calls: [
    "session.user('bob').set({name:'Bob2', custom:{team:null, level:'2'}, locale:null, photoUrl:null, role:null, welcomeMessage:null, email:null, phone:'+1555', pushTokens:{'fcm:tok1':null}})",
    "session.user('bob').set({role:'admin', email:['b1@example.com','b2@example.com'], custom:null, pushTokens:null})",
  ],
  async run({ session, results }) {
    results.first = await settled(
      session.user("bob").set({
        name: "Bob2",
        custom: { team: null, level: "2" },
        locale: null,
        photoUrl: null,
        role: null,
        welcomeMessage: null,
        email: null,
        phone: "+1555",
        pushTokens: { "fcm:tok1": null },
      }),
    );
    results.second = await settled(
      session.user("bob").set({ role: "admin", email: ["b1@example.com", "b2@example.com"], custom: null, pushTokens: null }),
    );
  },
  expect: ["C PUT /users/bob"],
});

scenario({
  name: "user_get_batched",
  description:
    "Three UserRef.get calls in one task become one SUBSCRIBE /users and one GET /users; an id missing from the answer resolves to null; a later get of a cached user sends nothing.",
  calls: [
    "Promise.all([user('bob').get(), user('carol').get(), user('nobody1').get()])",
    "session.user('bob').get()",
  ],
  async run({ session, results }) {
    results.batch = await settled(
      Promise.all([session.user("bob").get(), session.user("carol").get(), session.user("nobody1").get()]),
    );
    results.cached = await settled(session.user("bob").get());
  },
  expect: ["C SUBSCRIBE /users", "C GET /users"],
  check: (fx) => count(fx, "C GET /users") === 1,
});

scenario({
  name: "user_set_not_found_error",
  description: "UserRef.set answered 404 with an error body: the promise rejects with the client's formatted message.",
  calls: ["session.user('ghost').set({name:'Ghost'})"],
  respond: router([["PUT", "/users/ghost", [404, errorBody("USER_NOT_FOUND", "No user with id ghost")]]]),
  async run({ session, results }) {
    results.set = await settled(session.user("ghost").set({ name: "Ghost" }));
  },
  expect: ["C PUT /users/ghost", "S 404"],
});

// ---- conversations ---------------------------------------------------------

scenario({
  name: "conversation_create_if_not_exists",
  description:
    "ConversationRef.createIfNotExists with every param: POST /conversations/c1 and a participants batch joining the current user, both carrying the whole params object.",
  calls: [
    "session.conversation('c1').createIfNotExists({subject:'Hello', photoUrl:'https://example.com/c1.png', welcomeMessages:['Welcome!','Be nice'], custom:{a:'b'}, access:'ReadWrite', notify:'MentionsOnly'})",
  ],
  async run({ session, results }) {
    results.create = await settled(
      session.conversation("c1").createIfNotExists({
        subject: "Hello",
        photoUrl: "https://example.com/c1.png",
        welcomeMessages: ["Welcome!", "Be nice"],
        custom: { a: "b" },
        access: "ReadWrite",
        notify: "MentionsOnly",
      }),
    );
  },
  expect: ["C POST /conversations/c1", "C POST /conversations/c1/participants"],
});

scenario({
  name: "conversation_create_if_not_exists_defaults",
  description: "ConversationRef.createIfNotExists() without params sends {} to both routes.",
  calls: ["session.conversation('c2').createIfNotExists()"],
  async run({ session, results }) {
    results.create = await settled(session.conversation("c2").createIfNotExists());
  },
  expect: ["C POST /conversations/c2", "C POST /conversations/c2/participants"],
});

scenario({
  name: "conversation_create_if_not_exists_conflict",
  description:
    "ConversationRef.createIfNotExists where the conversation and the participant both already exist (409 for the conversation and for the participant action): resolves.",
  calls: ["session.conversation('c1').createIfNotExists({subject:'Hello'})"],
  respond: router([
    ["POST", "/conversations/c1", [409, errorBody("CONVERSATION_ALREADY_EXISTS", "Conversation c1 already exists")]],
    [
      "POST",
      "/conversations/c1/participants",
      [200, { responses: [{ status: 409, errorCode: "PARTICIPANT_ALREADY_EXISTS", reasons: ["alice is already a participant"] }] }],
    ],
  ]),
  async run({ session, results }) {
    results.create = await settled(session.conversation("c1").createIfNotExists({ subject: "Hello" }));
  },
  expect: ["S 409"],
});

scenario({
  name: "conversation_set",
  description:
    "ConversationRef.set with every field, nulls included: PUT /conversations/c1 and a participants batch PUT for the current user, both with the whole params.",
  calls: [
    "session.conversation('c1').set({subject:'New', photoUrl:null, welcomeMessages:null, custom:{a:null, b:'x'}, access:'Read', notify:false})",
    "session.conversation('c1').set({subject:null, welcomeMessages:['hi'], custom:null, access:null, notify:null})",
  ],
  async run({ session, results }) {
    results.first = await settled(
      session.conversation("c1").set({
        subject: "New",
        photoUrl: null,
        welcomeMessages: null,
        custom: { a: null, b: "x" },
        access: "Read",
        notify: false,
      }),
    );
    results.second = await settled(
      session.conversation("c1").set({ subject: null, welcomeMessages: ["hi"], custom: null, access: null, notify: null }),
    );
  },
  expect: ["C PUT /conversations/c1", "C POST /conversations/c1/participants"],
});

scenario({
  name: "conversation_set_unauthorized",
  description:
    "ConversationRef.set where the conversation PUT gets 403 UNAUTHORIZED_TO_EDIT: tolerated when params only touch the participation (access/notify), rejected when a conversation field (subject) is set.",
  calls: ["session.conversation('c1').set({access:'Read', notify:true})", "session.conversation('c1').set({subject:'Nope'})"],
  respond: router([["PUT", "/conversations/c1", [403, errorBody("UNAUTHORIZED_TO_EDIT", "Only admins can edit this conversation")]]]),
  async run({ session, results }) {
    results.participationOnly = await settled(session.conversation("c1").set({ access: "Read", notify: true }));
    results.withSubject = await settled(session.conversation("c1").set({ subject: "Nope" }));
  },
  expect: ["C PUT /conversations/c1", "S 403"],
});

scenario({
  name: "conversation_get",
  description:
    "ConversationRef.get: SUBSCRIBE to the conversation and its messages, GET the conversation and the last message (limit 1), then fetch the last message's sender and referenced message.",
  calls: ["session.conversation('c1').get()"],
  respond: router([
    ["GET", "/me/conversations/c1", [200, c1]],
    ["GET", "/me/conversations/c1/messages", page([m3], "CUR_M3")],
    ["GET", "/me/conversations/c1/messages/m1", [200, m1]],
  ]),
  async run({ session, results }) {
    results.get = await settled(session.conversation("c1").get());
  },
  expect: ["C SUBSCRIBE /me/conversations/c1", "C GET /me/conversations/c1", "C GET /me/conversations/c1/messages"],
});

scenario({
  name: "conversation_get_not_a_participant",
  description: "ConversationRef.get where the reads answer 403 NOT_A_PARTICIPANT: the SUBSCRIBEs succeed and get() resolves to null.",
  calls: ["session.conversation('secret').get()"],
  respond: router([
    ["GET", "/me/conversations/secret", NAP],
    ["GET", "/me/conversations/secret/messages", NAP],
  ]),
  async run({ session, results }) {
    results.get = await settled(session.conversation("secret").get());
  },
  expect: ["C GET /me/conversations/secret", "S 403"],
});

scenario({
  name: "conversation_get_not_found",
  description: "ConversationRef.get where the conversation GET answers 404: get() resolves to null.",
  calls: ["session.conversation('missing').get()"],
  respond: router([
    ["GET", "/me/conversations/missing", [404, errorBody("CONVERSATION_NOT_FOUND", "No conversation missing")]],
    ["GET", "/me/conversations/missing/messages", [404, errorBody("CONVERSATION_NOT_FOUND", "No conversation missing")]],
  ]),
  async run({ session, results }) {
    results.get = await settled(session.conversation("missing").get());
  },
  expect: ["C GET /me/conversations/missing", "S 404"],
});

scenario({
  name: "conversation_mark_read_unread_typing",
  description: "markAsRead, markAsUnread and markAsTyping: POSTs under /me/conversations/{c} with empty data.",
  calls: [
    "session.conversation('c1').markAsRead()",
    "session.conversation('c1').markAsUnread()",
    "session.conversation('c1').markAsTyping()",
  ],
  async run({ session, results }) {
    const c = session.conversation("c1");
    results.read = await settled(c.markAsRead());
    results.unread = await settled(c.markAsUnread());
    results.typing = await settled(c.markAsTyping());
  },
  expect: ["C POST /me/conversations/c1/read", "C POST /me/conversations/c1/unread", "C POST /me/conversations/c1/typing"],
});

scenario({
  name: "conversation_ref_encoding",
  description: "Ids with reserved characters are percent-encoded per path segment (conversation 'a/b c', user 'al/ice').",
  calls: ["session.conversation('a/b c').markAsRead()", "session.conversation('a/b c').participant('al/ice').delete()"],
  async run({ session, results }) {
    results.read = await settled(session.conversation("a/b c").markAsRead());
    results.delete = await settled(session.conversation("a/b c").participant("al/ice").delete());
  },
  expect: ["C POST /me/conversations/a%2Fb%20c/read", "C DELETE /conversations/a%2Fb%20c/participants/al%2Fice"],
});

// ---- send ------------------------------------------------------------------

scenario({
  name: "send_markup_string",
  description:
    "ConversationRef.send with a plain string containing markup: parsed on the client into a text block (bold, italic, strikethrough, autolink, mention), with a generated idempotencyKey; resolves to a MessageRef with the server's id.",
  calls: ["session.conversation('c1').send('Hello *world* _it_ ~gone~ see https://talkjs.com <!!mention:bob|Bob>')"],
  async run({ session, results }) {
    results.send = await settled(
      session.conversation("c1").send("Hello *world* _it_ ~gone~ see https://talkjs.com <!!mention:bob|Bob>"),
    );
  },
  expect: ["C POST /conversations/c1/messages"],
});

scenario({
  name: "send_text_reply",
  description:
    "ConversationRef.send({text, referencedMessage, custom}) with a string id and with a MessageRef; a param spelled referencedMessageId is ignored.",
  calls: [
    "session.conversation('c1').send({text:'hi', referencedMessage:'m5', custom:{k:'v'}})",
    "session.conversation('c1').send({text:'again', referencedMessage: conversation('c1').message('m6')})",
    "session.conversation('c1').send({text:'ignored ref', referencedMessageId:'m7'})",
  ],
  async run({ session, results }) {
    const c = session.conversation("c1");
    results.withId = await settled(c.send({ text: "hi", referencedMessage: "m5", custom: { k: "v" } }));
    results.withRef = await settled(c.send({ text: "again", referencedMessage: c.message("m6") }));
    results.wrongName = await settled(c.send({ text: "ignored ref", referencedMessageId: "m7" }));
  },
  expect: ["C POST /conversations/c1/messages"],
  check: (fx) => count(fx, "C POST /conversations/c1/messages") === 3,
});

scenario({
  name: "send_file",
  description: "ConversationRef.send({content:[{type:'file', fileToken}]}) with a reply reference and custom data: the content block is sent as given.",
  calls: ["session.conversation('c1').send({content:[{type:'file', fileToken:'FILETOKEN_1'}], referencedMessage:'m6', custom:{kind:'doc'}})"],
  async run({ session, results }) {
    results.send = await settled(
      session
        .conversation("c1")
        .send({ content: [{ type: "file", fileToken: "FILETOKEN_1" }], referencedMessage: "m6", custom: { kind: "doc" } }),
    );
  },
  expect: ["C POST /conversations/c1/messages"],
});

scenario({
  name: "send_location",
  description: "ConversationRef.send({content:[{type:'location', latitude, longitude}]}).",
  calls: ["session.conversation('c1').send({content:[{type:'location', latitude:51.5074, longitude:-0.1278}]})"],
  async run({ session, results }) {
    results.send = await settled(
      session.conversation("c1").send({ content: [{ type: "location", latitude: 51.5074, longitude: -0.1278 }] }),
    );
  },
  expect: ["C POST /conversations/c1/messages"],
});

scenario({
  name: "send_content_text_block",
  description: "ConversationRef.send({content:[text block]}) sends the given text block unparsed; when both text and content are given, text wins.",
  calls: [
    "session.conversation('c1').send({content:[{type:'text', children:['raw *not parsed*']}]})",
    "session.conversation('c1').send({text:'*text wins*', content:[{type:'location', latitude:1, longitude:2}]})",
  ],
  async run({ session, results }) {
    const c = session.conversation("c1");
    results.content = await settled(c.send({ content: [{ type: "text", children: ["raw *not parsed*"] }] }));
    results.both = await settled(c.send({ text: "*text wins*", content: [{ type: "location", latitude: 1, longitude: 2 }] }));
  },
  expect: ["C POST /conversations/c1/messages"],
});

scenario({
  name: "send_not_a_participant",
  description: "ConversationRef.send answered 403 NOT_A_PARTICIPANT: the promise rejects with the formatted error.",
  calls: ["session.conversation('cx').send('hello')"],
  respond: router([["POST", "/conversations/cx/messages", NAP]]),
  async run({ session, results }) {
    results.send = await settled(session.conversation("cx").send("hello"));
  },
  expect: ["C POST /conversations/cx/messages", "S 403"],
});

// ---- message list, participants list, conversation list ---------------------

const fortyMessages = Array.from({ length: 40 }, (_, i) => {
  const n = 40 - i; // newest first
  return msg(`m${n}`, {
    senderId: n % 2 === 0 ? "bob" : "carol",
    createdAt: T0 + n * 1000,
    content: [{ type: "text", children: [`message ${n}`] }],
    referencedMessageId: n === 40 ? "m2" : null,
  });
});

scenario({
  name: "messages_subscribe_load_more",
  description:
    "ConversationRef.subscribeMessages: SUBSCRIBE, GET {limit:30}, sender batch, R16 for a referenced message outside the window; then loadMore(5) sends {limit:5, cursor} and a null cursor ends the list.",
  calls: ["const sub = session.conversation('c1').subscribeMessages()", "await sub.connected", "sub.loadMore(5)"],
  respond: router([
    ["GET", "/me/conversations/c1/messages", (f) => (f[3].cursor === undefined ? page(fortyMessages.slice(0, 30), "MCUR30") : page(fortyMessages.slice(30, 35), null))],
    ["GET", "/me/conversations/c1/messages/m2", [200, m2]],
  ]),
  async run({ session, results, stub }) {
    const sub = session.conversation("c1").subscribeMessages();
    await sub.connected;
    await quiesce(stub);
    results.afterConnect = { count: sub.state.latestSnapshot.length, loadedAll: sub.state.loadedAll };
    results.loadMore = await settled(sub.loadMore(5));
    await quiesce(stub);
    results.afterLoadMore = {
      ids: sub.state.latestSnapshot.map((m) => m.id),
      loadedAll: sub.state.loadedAll,
      newestReferenced: plain(sub.state.latestSnapshot[0].referencedMessage),
    };
  },
  expect: ["C SUBSCRIBE /me/conversations/c1/messages", "C GET /me/conversations/c1/messages/m2"],
});

scenario({
  name: "messages_subscribe_short_page",
  description:
    "subscribeMessages where the first page is shorter than requested but has a cursor: the client immediately asks for the shortfall with the cursor.",
  calls: ["const sub = session.conversation('c1').subscribeMessages()", "await sub.connected"],
  respond: router([
    ["GET", "/me/conversations/c1/messages", (f) => (f[3].cursor === undefined ? page([m3, m2], "MCUR2") : page([m1], null))],
    ["GET", "/me/conversations/c1/messages/m1", [200, m1]],
  ]),
  async run({ session, results, stub }) {
    const sub = session.conversation("c1").subscribeMessages();
    await sub.connected;
    await quiesce(stub);
    results.state = state(sub);
  },
  expect: ["C GET /me/conversations/c1/messages"],
  check: (fx) => count(fx, "C GET /me/conversations/c1/messages") === 2,
});

scenario({
  name: "participants_subscribe_load_more",
  description:
    "ConversationRef.subscribeParticipants: SUBSCRIBE, GET {limit:10}, users batch for the participants; loadMore(3) sends {limit:3, cursor}.",
  calls: ["const sub = session.conversation('c1').subscribeParticipants()", "await sub.connected", "sub.loadMore(3)"],
  respond: router([
    [
      "GET",
      "/me/conversations/c1/participants",
      (f) => {
        const all = Array.from({ length: 13 }, (_, i) =>
          participantWire(`user${String(13 - i).padStart(2, "0")}`, { joinedAt: T0 + (13 - i) * 1000, notify: i % 2 === 0 }),
        );
        return f[3].cursor === undefined ? page(all.slice(0, 10), "PCUR10") : page(all.slice(10), null);
      },
    ],
  ]),
  async run({ session, results, stub }) {
    const sub = session.conversation("c1").subscribeParticipants();
    await sub.connected;
    await quiesce(stub);
    results.afterConnect = { count: sub.state.latestSnapshot.length, loadedAll: sub.state.loadedAll };
    results.loadMore = await settled(sub.loadMore(3));
    await quiesce(stub);
    results.afterLoadMore = {
      users: sub.state.latestSnapshot.map((p) => p.user.id),
      loadedAll: sub.state.loadedAll,
      first: plain(sub.state.latestSnapshot[0]),
    };
  },
  expect: ["C SUBSCRIBE /me/conversations/c1/participants", "C GET /me/conversations/c1/participants"],
});

const convPage = (ids, base) =>
  ids.map((id, i) => conversationWire(id, { lastMessageAt: base - i * 1000, subject: `Subject ${id}` }));

scenario({
  name: "conversations_list_load_more",
  description:
    "session.subscribeConversations: SUBSCRIBE /me/conversations, GET {limit:20, filter:{}}, then per listed conversation SUBSCRIBE of its messages and GET {limit:1}; loadMore(2) sends {limit:2, cursor}.",
  calls: ["const sub = session.subscribeConversations()", "await sub.connected", "sub.loadMore(2)"],
  respond: router([
    [
      "GET",
      "/me/conversations",
      (f) => {
        const ids = Array.from({ length: 22 }, (_, i) => `conv${String(i + 1).padStart(2, "0")}`);
        const all = convPage(ids, T0 + 100000);
        return f[3].cursor === undefined ? page(all.slice(0, 20), "CCUR20") : page(all.slice(20), null);
      },
    ],
    ["GET", /^\/me\/conversations\/conv\d+\/messages$/, page([])],
  ]),
  async run({ session, results, stub }) {
    const sub = session.subscribeConversations();
    await sub.connected;
    await quiesce(stub);
    results.afterConnect = { count: sub.state.latestSnapshot.length, loadedAll: sub.state.loadedAll };
    results.loadMore = await settled(sub.loadMore(2));
    await quiesce(stub);
    results.afterLoadMore = { ids: sub.state.latestSnapshot.map((c) => c.id), loadedAll: sub.state.loadedAll };
  },
  expect: ["C SUBSCRIBE /me/conversations", "C GET /me/conversations"],
});

scenario({
  name: "conversations_list_filters",
  description:
    "Two subscribeConversations calls with different filters share one SUBSCRIBE /me/conversations; each sends its own first-page GET with the normalised filter.",
  calls: [
    "session.subscribeConversations({filter:{access:['!=','ReadWrite'], isUnread:true}})",
    "session.subscribeConversations({filter:{custom:{b:['oneOf',['y','x','x']], a:'exists', c:['!oneOf',[]]}, subject:['oneOf',['s']], lastActivityAt:['>=',100]}})",
  ],
  respond: router([
    [
      "GET",
      "/me/conversations",
      (f) =>
        f[3].filter && f[3].filter.isUnread
          ? page([conversationWire("c7", { access: "Read", isUnread: true, unreadMessageCount: 2, lastMessageAt: T0 + 9000 })])
          : page([]),
    ],
  ]),
  async run({ session, results, stub }) {
    const a = session.subscribeConversations({ filter: { access: ["!=", "ReadWrite"], isUnread: true } });
    const b = session.subscribeConversations({
      filter: {
        custom: { b: ["oneOf", ["y", "x", "x"]], a: "exists", c: ["!oneOf", []] },
        subject: ["oneOf", ["s"]],
        lastActivityAt: [">=", 100],
      },
    });
    await Promise.all([a.connected, b.connected]);
    await quiesce(stub);
    results.a = { ids: a.state.latestSnapshot.map((c) => c.id), loadedAll: a.state.loadedAll };
    results.b = { ids: b.state.latestSnapshot.map((c) => c.id), loadedAll: b.state.loadedAll };
  },
  expect: ["C SUBSCRIBE /me/conversations", "C GET /me/conversations"],
  check: (fx) => count(fx, "C SUBSCRIBE /me/conversations") === 1 && count(fx, "C GET /me/conversations") === 2,
});

// ---- participants ------------------------------------------------------------

scenario({
  name: "participant_batch_set_edit_create",
  description:
    "ParticipantRef.set, edit and createIfNotExists issued in one task (one with a UserRef argument and no params) become a single POST /conversations/c1/participants with actions PUT/PATCH/POST in call order.",
  calls: [
    "conversation('c1').participant('bob').set({access:'Read', notify:null})",
    "conversation('c1').participant('carol').edit({notify:'MentionsOnly'})",
    "conversation('c1').participant('dave').createIfNotExists({access:'ReadWrite', notify:true})",
    "conversation('c1').participant(session.user('erin')).createIfNotExists()",
  ],
  async run({ session, results }) {
    const c = session.conversation("c1");
    const ps = [
      c.participant("bob").set({ access: "Read", notify: null }),
      c.participant("carol").edit({ notify: "MentionsOnly" }),
      c.participant("dave").createIfNotExists({ access: "ReadWrite", notify: true }),
      c.participant(session.user("erin")).createIfNotExists(),
    ];
    results.refs = [c.participant("bob"), c.participant(session.user("erin"))].map((p) => ({
      userId: p.userId,
      conversationId: p.conversationId,
    }));
    results.settled = [];
    for (const p of ps) results.settled.push(await settled(p));
  },
  expect: ["C POST /conversations/c1/participants"],
  check: (fx) => count(fx, "C POST /conversations/c1/participants") === 1,
});

scenario({
  name: "participant_batch_errors",
  description:
    "A participants batch whose per-action statuses are 403 NOT_A_PARTICIPANT, 404, 409 and 200: 403 and 404 reject per call, 409 on a create counts as success.",
  calls: [
    "conversation('c1').participant('bob').set({access:'Read'})",
    "conversation('c1').participant('carol').edit({notify:false})",
    "conversation('c1').participant('dave').createIfNotExists({access:'Read'})",
    "conversation('c1').participant('erin').set({notify:true})",
  ],
  respond: router([
    [
      "POST",
      "/conversations/c1/participants",
      [
        200,
        {
          responses: [
            { status: 403, errorCode: "NOT_A_PARTICIPANT", reasons: ["You are not a participant of this conversation"] },
            { status: 404, errorCode: "PARTICIPANT_NOT_FOUND", reasons: ["carol is not a participant"] },
            { status: 409, errorCode: "PARTICIPANT_ALREADY_EXISTS", reasons: ["dave is already a participant"] },
            { status: 200 },
          ],
        },
      ],
    ],
  ]),
  async run({ session, results }) {
    const c = session.conversation("c1");
    const ps = [
      c.participant("bob").set({ access: "Read" }),
      c.participant("carol").edit({ notify: false }),
      c.participant("dave").createIfNotExists({ access: "Read" }),
      c.participant("erin").set({ notify: true }),
    ];
    results.settled = [];
    for (const p of ps) results.settled.push(await settled(p));
  },
  expect: ["C POST /conversations/c1/participants"],
});

scenario({
  name: "participant_delete",
  description: "ParticipantRef.delete sends an unbatched DELETE; a 404 answer counts as success.",
  calls: ["conversation('c1').participant('bob').delete()", "conversation('c1').participant('carol').delete()"],
  respond: router([["DELETE", "/conversations/c1/participants/carol", [404, errorBody("PARTICIPANT_NOT_FOUND", "carol is not a participant")]]]),
  async run({ session, results }) {
    const c = session.conversation("c1");
    results.bob = await settled(c.participant("bob").delete());
    results.carol = await settled(c.participant("carol").delete());
  },
  expect: ["C DELETE /conversations/c1/participants/bob", "C DELETE /conversations/c1/participants/carol"],
});

scenario({
  name: "participant_get",
  description:
    "ParticipantRef.get: SUBSCRIBE to the participant path and users, GET the participant; a 404 PARTICIPANT_NOT_FOUND for another user resolves to null.",
  calls: ["conversation('c1').participant('bob').get()", "conversation('c1').participant('carol').get()"],
  respond: router([
    ["GET", "/me/conversations/c1/participants/bob", [200, participantWire("bob", { access: "Read", notify: "MentionsOnly", joinedAt: T0 + 500 })]],
    ["GET", "/me/conversations/c1/participants/carol", [404, errorBody("PARTICIPANT_NOT_FOUND", "carol is not a participant")]],
  ]),
  async run({ session, results }) {
    const c = session.conversation("c1");
    results.bob = await settled(c.participant("bob").get());
    results.carol = await settled(c.participant("carol").get());
  },
  expect: ["C SUBSCRIBE /me/conversations/c1/participants/bob", "C GET /me/conversations/c1/participants/bob"],
});

scenario({
  name: "participant_get_not_a_participant",
  description:
    "ParticipantRef.get on another user while the current user is not a participant (403 NOT_A_PARTICIPANT): rejects with a client-built error; for the current user it resolves to null.",
  calls: ["conversation('c9').participant('bob').get()", "conversation('c9').participant('alice').get()"],
  respond: router([["GET", /^\/me\/conversations\/c9\/participants\//, NAP]]),
  async run({ session, results }) {
    const c = session.conversation("c9");
    results.bob = await settled(c.participant("bob").get());
    results.alice = await settled(c.participant("alice").get());
  },
  expect: ["C GET /me/conversations/c9/participants/bob", "S 403"],
});

// ---- messages ----------------------------------------------------------------

scenario({
  name: "message_get",
  description:
    "MessageRef.get: GET the message, then the sender through the users batch and the referenced message through another GET.",
  calls: ["const ref = conversation('c1').message('m3')", "ref.id, ref.conversationId", "ref.get()"],
  respond: router([
    ["GET", "/me/conversations/c1/messages/m3", [200, m3]],
    ["GET", "/me/conversations/c1/messages/m1", [200, m1]],
  ]),
  async run({ session, results }) {
    const ref = session.conversation("c1").message("m3");
    results.ref = { id: ref.id, conversationId: ref.conversationId };
    results.get = await settled(ref.get());
  },
  expect: ["C GET /me/conversations/c1/messages/m3", "C GET /me/conversations/c1/messages/m1"],
});

scenario({
  name: "message_get_not_found",
  description: "MessageRef.get answered 404 and 403 NOT_A_PARTICIPANT: both resolve to null.",
  calls: ["conversation('c1').message('gone').get()", "conversation('cx').message('m1').get()"],
  respond: router([
    ["GET", "/me/conversations/c1/messages/gone", [404, errorBody("MESSAGE_NOT_FOUND", "No message gone")]],
    ["GET", "/me/conversations/cx/messages/m1", NAP],
  ]),
  async run({ session, results }) {
    results.notFound = await settled(session.conversation("c1").message("gone").get());
    results.notParticipant = await settled(session.conversation("cx").message("m1").get());
  },
  expect: ["S 404", "S 403"],
});

scenario({
  name: "message_get_cached",
  description: "MessageRef.get for a message already held by a live message subscription is answered from the client cache: no GET frame.",
  calls: ["conversation('c1').subscribeMessages()", "conversation('c1').message('m2').get()"],
  respond: router([["GET", "/me/conversations/c1/messages", page([m2, m1])]]),
  async run({ session, results, stub }) {
    const sub = session.conversation("c1").subscribeMessages();
    await sub.connected;
    await quiesce(stub);
    results.get = await settled(session.conversation("c1").message("m2").get());
  },
  expect: ["C GET /me/conversations/c1/messages"],
  check: (fx) => count(fx, "C GET /me/conversations/c1/messages/m2") === 0,
});

scenario({
  name: "message_edit_variants",
  description:
    "MessageRef.edit with a markup string (full parser: formatted link), {text, custom}, {content, custom:null}, {text:'', custom} (content untouched) and '' (empty text block).",
  calls: [
    "conversation('c1').message('m9').edit('edited *text* <https://a.com|label>')",
    "conversation('c1').message('m9').edit({text:'plain', custom:{x:'1', y:null}})",
    "conversation('c1').message('m9').edit({content:[{type:'location', latitude:1, longitude:2}], custom:null})",
    "conversation('c1').message('m9').edit({text:'', custom:{a:'b'}})",
    "conversation('c1').message('m9').edit('')",
  ],
  async run({ session, results }) {
    const m = session.conversation("c1").message("m9");
    results.string = await settled(m.edit("edited *text* <https://a.com|label>"));
    results.textCustom = await settled(m.edit({ text: "plain", custom: { x: "1", y: null } }));
    results.contentNullCustom = await settled(m.edit({ content: [{ type: "location", latitude: 1, longitude: 2 }], custom: null }));
    results.emptyTextCustom = await settled(m.edit({ text: "", custom: { a: "b" } }));
    results.emptyString = await settled(m.edit(""));
  },
  expect: ["C PATCH /conversations/c1/messages/m9"],
  check: (fx) => count(fx, "C PATCH /conversations/c1/messages/m9") === 5,
});

scenario({
  name: "message_delete",
  description: "MessageRef.delete sends DELETE; a 404 answer counts as success, a 403 rejects.",
  calls: [
    "conversation('c1').message('m1').delete()",
    "conversation('c1').message('m2').delete()",
    "conversation('c1').message('m3').delete()",
  ],
  respond: router([
    ["DELETE", "/conversations/c1/messages/m2", [404, errorBody("MESSAGE_NOT_FOUND", "No message m2")]],
    ["DELETE", "/conversations/c1/messages/m3", [403, errorBody("FORBIDDEN", "You can only delete your own messages")]],
  ]),
  async run({ session, results }) {
    const c = session.conversation("c1");
    results.ok = await settled(c.message("m1").delete());
    results.notFound = await settled(c.message("m2").delete());
    results.forbidden = await settled(c.message("m3").delete());
  },
  expect: ["C DELETE /conversations/c1/messages/m1", "S 404", "S 403"],
});

scenario({
  name: "message_translate",
  description:
    "MessageRef.translate: calls for the same conversation and language in one task are batched into one GET translate {ids, lang}; answers as content, markup (parsed by the client) and null; another language goes in its own frame.",
  calls: [
    "conversation('c1').message('m1').translate('fr')",
    "conversation('c1').message('m2').translate('fr')",
    "conversation('c1').message('m3').translate('fr')",
    "conversation('c1').message('m1').translate('de')",
  ],
  respond: router([
    [
      "GET",
      "/me/conversations/c1/translate",
      (f) =>
        f[3].lang === "fr"
          ? [200, { data: { m1: { content: [{ type: "text", children: ["premier"] }] }, m2: { markup: "deuxième *gras*" }, m3: null } }]
          : [200, { data: { m1: { content: [{ type: "text", children: ["erste"] }] } } }],
    ],
  ]),
  async run({ session, results }) {
    const c = session.conversation("c1");
    const ps = [c.message("m1").translate("fr"), c.message("m2").translate("fr"), c.message("m3").translate("fr"), c.message("m1").translate("de")];
    results.settled = [];
    for (const p of ps) results.settled.push(await settled(p));
  },
  expect: ["C GET /me/conversations/c1/translate"],
  check: (fx) => count(fx, "C GET /me/conversations/c1/translate") === 2,
});

// ---- reactions ---------------------------------------------------------------

scenario({
  name: "reactions_add_remove",
  description:
    "ReactionsRef.add and remove (also through the reaction() alias): PUT/DELETE with the percent-encoded emoji and the current user's id; a 404 on remove counts as success.",
  calls: [
    "conversation('c1').message('m2').reactions('👍').add()",
    "conversation('c1').message('m2').reaction(':cat-roomba:').add()",
    "conversation('c1').message('m2').reactions('👍').remove()",
    "conversation('c1').message('m2').reactions('❤️').remove()",
  ],
  respond: router([["DELETE", /%E2%9D%A4/, [404, errorBody("REACTION_NOT_FOUND", "No such reaction")]]]),
  async run({ session, results }) {
    const m = session.conversation("c1").message("m2");
    const r = m.reactions("👍");
    results.ref = { emoji: r.emoji, messageId: r.messageId, conversationId: r.conversationId };
    results.add = await settled(r.add());
    results.addCustom = await settled(m.reaction(":cat-roomba:").add());
    results.remove = await settled(r.remove());
    results.removeMissing = await settled(m.reactions("❤️").remove());
  },
  expect: ["C PUT /conversations/c1/messages/m2/reactions/%F0%9F%91%8D/alice", "C DELETE /conversations/c1/messages/m2/reactions/%F0%9F%91%8D/alice"],
});

const reactionUsers = (n, from = 1) =>
  Array.from({ length: n }, (_, i) => ({ userId: `u${String(from + i).padStart(2, "0")}`, createdAt: T0 + (from + i) * 100 }));

scenario({
  name: "reactions_subscribe_load_more",
  description:
    "ReactionsRef.subscribe: SUBSCRIBE and GET {limit:30} on the per-emoji path, a users batch for the reacting users; loadMore() sends {limit:30, cursor}.",
  calls: ["const sub = conversation('c1').message('m2').reactions('👍').subscribe()", "await sub.connected", "sub.loadMore()"],
  respond: router([
    [
      "GET",
      "/me/conversations/c1/messages/m2/reactions/%F0%9F%91%8D",
      (f) => (f[3].cursor === undefined ? page(reactionUsers(30), "RCUR30") : page(reactionUsers(2, 31), null)),
    ],
  ]),
  async run({ session, results, stub }) {
    const sub = session.conversation("c1").message("m2").reactions("👍").subscribe();
    await sub.connected;
    await quiesce(stub);
    results.afterConnect = { count: sub.state.latestSnapshot.length, loadedAll: sub.state.loadedAll };
    results.loadMore = await settled(sub.loadMore());
    await quiesce(stub);
    results.afterLoadMore = {
      users: sub.state.latestSnapshot.map((r) => r.user.id),
      loadedAll: sub.state.loadedAll,
      last: plain(sub.state.latestSnapshot[sub.state.latestSnapshot.length - 1]),
    };
  },
  expect: ["C SUBSCRIBE /me/conversations/c1/messages/m2/reactions/%F0%9F%91%8D"],
  check: (fx) => count(fx, "C GET /me/conversations/c1/messages/m2/reactions/%F0%9F%91%8D") === 2,
});

scenario({
  name: "reactions_get_first",
  description: "ReactionsRef.getFirstReactions: subscribes and asks for limit 30 on the wire, but resolves to at most 10 entries.",
  calls: ["conversation('c1').message('m2').reactions('🎉').getFirstReactions()"],
  respond: router([["GET", "/me/conversations/c1/messages/m2/reactions/%F0%9F%8E%89", page(reactionUsers(12), "RCUR12")]]),
  async run({ session, results }) {
    const r = await settled(session.conversation("c1").message("m2").reactions("🎉").getFirstReactions());
    results.count = r.resolved ? r.resolved.length : null;
    results.getFirstReactions = r;
  },
  expect: ["C GET /me/conversations/c1/messages/m2/reactions/%F0%9F%8E%89"],
});

scenario({
  name: "reactions_get_first_then_unsubscribe",
  slow: true,
  description:
    "getFirstReactions followed, after the client's debounce (about 10 s), by UNSUBSCRIBE of the reactions path; a custom event pushed at 5 s keeps the heartbeat quiet so no ping interleaves.",
  calls: ["conversation('c1').message('m2').reactions('👍').getFirstReactions()", "(push custom.keepalive at +5 s)", "(wait for UNSUBSCRIBE)"],
  respond: router([["GET", "/me/conversations/c1/messages/m2/reactions/%F0%9F%91%8D", page(reactionUsers(2))]]),
  async run({ session, results, stub }) {
    const t0 = Date.now();
    results.getFirstReactions = await settled(session.conversation("c1").message("m2").reactions("👍").getFirstReactions());
    await settle(5000);
    stub.push({ type: "custom.keepalive" });
    await waitFor(() => sawRequest(stub, "UNSUBSCRIBE", "/me/conversations/c1/messages/m2/reactions/%F0%9F%91%8D"), 12000);
    results.unsubscribeAfterSeconds = Math.round((Date.now() - t0) / 1000);
  },
  expect: ["C UNSUBSCRIBE /me/conversations/c1/messages/m2/reactions/%F0%9F%91%8D"],
});

// ---- uploads -----------------------------------------------------------------

const blob = (text, type) => new Blob([text], type ? { type } : {});

scenario({
  name: "upload_file",
  description: "session.uploadFile: POST /files/validate on the socket, then the multipart HTTP upload (no subtype field) with Bearer auth; resolves to the fileToken.",
  calls: ["session.uploadFile(new Blob(['hello file'], {type:'text/plain'}), {filename:'notes ü.txt'})"],
  async run({ session, results }) {
    results.upload = await settled(session.uploadFile(blob("hello file", "text/plain"), { filename: "notes ü.txt" }));
  },
  expect: ["C POST /files/validate", "H POST /public_api/v1/app1/files"],
});

scenario({
  name: "upload_image",
  description: "session.uploadImage with width and height: multipart fields file, subtype=image, width, height.",
  calls: ["session.uploadImage(new Blob(['PNGDATA'], {type:'image/png'}), {filename:'pic.png', width:640, height:480})"],
  async run({ session, results }) {
    results.upload = await settled(session.uploadImage(blob("PNGDATA", "image/png"), { filename: "pic.png", width: 640, height: 480 }));
  },
  expect: ["C POST /files/validate", "H POST /public_api/v1/app1/files"],
});

scenario({
  name: "upload_video",
  description: "session.uploadVideo with width, height and a fractional duration.",
  calls: ["session.uploadVideo(new Blob(['MP4DATA'], {type:'video/mp4'}), {filename:'clip.mp4', width:1280, height:720, duration:12.5})"],
  async run({ session, results }) {
    results.upload = await settled(
      session.uploadVideo(blob("MP4DATA", "video/mp4"), { filename: "clip.mp4", width: 1280, height: 720, duration: 12.5 }),
    );
  },
  expect: ["C POST /files/validate", "H POST /public_api/v1/app1/files"],
});

scenario({
  name: "upload_audio",
  description: "session.uploadAudio with a duration; a blob without a type is sent as application/octet-stream.",
  calls: ["session.uploadAudio(new Blob(['MP3DATA']), {filename:'song.mp3', duration:180})"],
  async run({ session, results }) {
    results.upload = await settled(session.uploadAudio(blob("MP3DATA"), { filename: "song.mp3", duration: 180 }));
  },
  expect: ["C POST /files/validate", "H POST /public_api/v1/app1/files"],
});

scenario({
  name: "upload_voice",
  description: "session.uploadVoice with a duration: subtype=voice.",
  calls: ["session.uploadVoice(new Blob(['OGGDATA'], {type:'audio/ogg'}), {filename:'voice.ogg', duration:3.2})"],
  async run({ session, results }) {
    results.upload = await settled(session.uploadVoice(blob("OGGDATA", "audio/ogg"), { filename: "voice.ogg", duration: 3.2 }));
  },
  expect: ["C POST /files/validate", "H POST /public_api/v1/app1/files"],
});

scenario({
  name: "upload_validate_rejected",
  description: "session.uploadFile where /files/validate answers 400: the upload rejects and no HTTP upload is made.",
  calls: ["session.uploadFile(new Blob(['x'.repeat(64)]), {filename:'big.bin'})"],
  respond: router([["POST", "/files/validate", [400, errorBody("FILE_TOO_LARGE", "max 5")]]]),
  async run({ session, results }) {
    results.upload = await settled(session.uploadFile(blob("x".repeat(64)), { filename: "big.bin" }));
  },
  expect: ["C POST /files/validate", "S 400"],
});

scenario({
  name: "upload_http_error",
  description: "session.uploadImage where the multipart HTTP upload answers 413 with an error body: the upload rejects with the client's message.",
  calls: ["session.uploadImage(new Blob(['PNGDATA'], {type:'image/png'}), {filename:'huge.png'})"],
  http: (req) =>
    req.url.endsWith("/files") ? { status: 413, body: JSON.stringify(errorBody("FILE_TOO_BIG", "too big")) } : undefined,
  async run({ session, results }) {
    results.upload = await settled(session.uploadImage(blob("PNGDATA", "image/png"), { filename: "huge.png" }));
  },
  expect: ["C POST /files/validate", "H POST /public_api/v1/app1/files"],
});

// ---- search ------------------------------------------------------------------

const searchSnapshots = (results) =>
  results.map((r) => ({ conversation: r.conversation.id, message: r.message.id, sender: r.message.sender && r.message.sender.id }));

scenario({
  name: "search_messages",
  description:
    "searchMessages().setQuery with special characters and a conversation filter (double-encoded searchString, JSON conversationFilter, limit 3), hydration of the result's conversation over the socket, then loadMore() with the cursor.",
  calls: [
    "const s = session.searchMessages(cb)",
    "s.setQuery('hello wörld & more', {conversation:{custom:{a:['==','b']}}})",
    "s.loadMore()",
  ],
  http: (req) => {
    if (!req.url.includes("/me/messages/search")) return undefined;
    const cursor = new URL(req.url, "http://x").searchParams.get("cursor");
    const line = (id, t) => JSON.stringify({ ...msg(id, { senderId: "bob", createdAt: T0 + t }), conversationId: "c1" });
    const body = cursor === null ? searchBody([line("sm1", 5000), line("sm2", 4000)], "SCUR2") : searchBody([line("sm3", 3000)]);
    return { status: 200, headers: { "content-type": "application/json" }, body };
  },
  respond: router([["GET", "/me/conversations/c1", [200, c1]]]),
  async run({ session, results, stub }) {
    const statuses = [];
    const s = session.searchMessages((r, st) => statuses.push(st));
    const first = await settled(s.setQuery("hello wörld & more", { conversation: { custom: { a: ["==", "b"] } } }));
    results.setQuery = first.resolved ? { results: searchSnapshots(first.resolved.results), loadedAll: first.resolved.loadedAll } : first;
    const more = await settled(s.loadMore());
    results.loadMore = more.resolved ? { results: searchSnapshots(more.resolved.results), loadedAll: more.resolved.loadedAll } : more;
    await quiesce(stub);
    results.statuses = statuses;
  },
  expect: ["H GET /public_api/v1/app1/me/messages/search?searchString=", "H GET /public_api/v1/app1/me/messages/search?cursor=SCUR2"],
});

scenario({
  name: "search_conversations",
  description:
    "searchConversations().setQuery then loadMore(5): each result id is hydrated with GET messages {limit:1} and GET conversation over the socket; a 404 drops that result.",
  calls: ["const s = session.searchConversations(cb)", "s.setQuery('project')", "s.loadMore(5)"],
  http: (req) => {
    if (!req.url.includes("/me/conversations/search")) return undefined;
    const cursor = new URL(req.url, "http://x").searchParams.get("cursor");
    const body =
      cursor === null
        ? searchBody([JSON.stringify({ id: "c1" }), JSON.stringify({ id: "gone" })], "SCUR2")
        : searchBody([JSON.stringify({ id: "c2" })]);
    return { status: 200, headers: { "content-type": "application/json" }, body };
  },
  respond: router([
    ["GET", "/me/conversations/c1", [200, c1]],
    ["GET", "/me/conversations/gone", [404, errorBody("CONVERSATION_NOT_FOUND", "No conversation gone")]],
    ["GET", "/me/conversations/gone/messages", [404, errorBody("CONVERSATION_NOT_FOUND", "No conversation gone")]],
  ]),
  async run({ session, results, stub }) {
    const statuses = [];
    const s = session.searchConversations((r, st) => statuses.push(st));
    const first = await settled(s.setQuery("project"));
    results.setQuery = first.resolved ? { ids: first.resolved.results.map((c) => c.id), loadedAll: first.resolved.loadedAll } : first;
    const more = await settled(s.loadMore(5));
    results.loadMore = more.resolved ? { ids: more.resolved.results.map((c) => c.id), loadedAll: more.resolved.loadedAll } : more;
    await quiesce(stub);
    results.statuses = statuses;
  },
  expect: ["H GET /public_api/v1/app1/me/conversations/search?searchString=project", "H GET /public_api/v1/app1/me/conversations/search?cursor=SCUR2"],
});

scenario({
  name: "search_error",
  description: "searchMessages().setQuery answered HTTP 402 with an error body: rejects with a plain string, not an Error.",
  calls: ["session.searchMessages().setQuery('anything')"],
  http: (req) =>
    req.url.includes("/search") ? { status: 402, body: JSON.stringify(errorBody("PLAN_LIMIT", "upgrade")) } : undefined,
  async run({ session, results }) {
    results.setQuery = await settled(session.searchMessages().setQuery("anything"));
  },
  expect: ["H GET /public_api/v1/app1/me/messages/search?searchString=anything"],
});

// ---- status handling -----------------------------------------------------------

scenario({
  name: "error_429_retry",
  description: "markAsRead answered 429 twice, then 200: the client retries the same frame (new seq) with a growing delay and resolves.",
  calls: ["session.conversation('c1').markAsRead()"],
  respond: router([
    ["POST", "/me/conversations/c1/read", (f, ctx, n) => (n < 2 ? [429, errorBody("RATE_LIMITED", "slow down")] : undefined)],
  ]),
  async run({ session, results }) {
    results.markAsRead = await settled(session.conversation("c1").markAsRead());
  },
  expect: ["S 429"],
  check: (fx) => count(fx, "C POST /me/conversations/c1/read") === 3,
});

scenario({
  name: "error_500_gives_up",
  slow: true,
  description: "markAsRead answered 500 every time: the client tries 10 times in total, then rejects with the 500 error.",
  calls: ["session.conversation('c500').markAsRead()"],
  respond: router([["POST", "/me/conversations/c500/read", [500, errorBody("INTERNAL_ERROR", "boom")]]]),
  async run({ session, results }) {
    results.markAsRead = await settled(session.conversation("c500").markAsRead());
  },
  expect: ["S 500"],
});

scenario({
  name: "error_500_then_ok",
  description: "send answered 500 once, then 200: the retry re-sends the same idempotencyKey.",
  calls: ["session.conversation('c1').send('retry me')"],
  respond: router([
    ["POST", "/conversations/c1/messages", (f, ctx, n) => (n === 0 ? [500, errorBody("INTERNAL_ERROR", "try again")] : undefined)],
  ]),
  async run({ session, results }) {
    results.send = await settled(session.conversation("c1").send("retry me"));
  },
  expect: ["S 500"],
  check: (fx) => count(fx, "C POST /conversations/c1/messages") === 2,
});

scenario({
  name: "error_unexpected_status_503",
  description: "markAsRead answered 503 (outside the client's status table): the promise rejects with the string 'unreachable'.",
  calls: ["session.conversation('c1').markAsRead()"],
  respond: router([["POST", "/me/conversations/c1/read", [503, errorBody("UNAVAILABLE", "maintenance")]]]),
  async run({ session, results }) {
    results.markAsRead = await settled(session.conversation("c1").markAsRead());
  },
  expect: ["S 503"],
});

scenario({
  name: "error_subscribe_rejected",
  description:
    "A SUBSCRIBE answered with an error: subscribeMessages goes to the error state, and ConversationRef.get rejects when its SUBSCRIBE is refused.",
  calls: ["conversation('cerr').subscribeMessages()", "conversation('cforbidden').get()"],
  respond: router([
    ["SUBSCRIBE", "/me/conversations/cerr/messages", [400, errorBody("BAD_REQUEST", "bad")]],
    ["SUBSCRIBE", "/me/conversations/cforbidden", NAP],
  ]),
  async run({ session, results, stub }) {
    const sub = session.conversation("cerr").subscribeMessages();
    results.connected = await settled(sub.connected);
    results.state = state(sub);
    results.get = await settled(session.conversation("cforbidden").get());
    await quiesce(stub);
  },
  expect: ["S 400", "S 403"],
});

// ---- unsubscribing -----------------------------------------------------------

const keepalive = (stub) => stub.push({ type: "custom.keepalive" });

scenario({
  name: "unsubscribe_before_connected",
  description:
    "Subscriptions unsubscribed in the same task they were created (before the socket is ready): shows what reaches the wire, and `connected` rejects.",
  calls: [
    "const a = session.user('bob').subscribe(); a.unsubscribe()",
    "const b = session.conversation('c1').subscribeMessages(); b.unsubscribe()",
    "session.conversation('c1').markAsRead()",
  ],
  async run({ session, results, stub }) {
    const a = session.user("bob").subscribe();
    const b = session.conversation("c1").subscribeMessages();
    a.unsubscribe();
    b.unsubscribe();
    results.read = await settled(session.conversation("c1").markAsRead());
    results.aConnected = await settled(a.connected);
    results.bConnected = await settled(b.connected);
    results.aTerminated = await settled(a.terminated);
    results.aState = state(a);
    await quiesce(stub);
  },
  expect: ["C POST /me/conversations/c1/read"],
});

scenario({
  name: "subscription_unsubscribe_debounced",
  slow: true,
  description:
    "subscribeTyping, then unsubscribe(): `terminated` resolves at once, and UNSUBSCRIBE of the typing path follows after the client's debounce (about 10 s); a custom event pushed at 5 s keeps heartbeats out of the transcript.",
  calls: [
    "const sub = session.conversation('c1').subscribeTyping()",
    "await sub.connected",
    "sub.unsubscribe()",
    "(push custom.keepalive at +5 s)",
    "(wait for UNSUBSCRIBE)",
  ],
  async run({ session, results, stub }) {
    const sub = session.conversation("c1").subscribeTyping();
    results.connected = await settled(sub.connected);
    await quiesce(stub);
    const t0 = Date.now();
    sub.unsubscribe();
    results.terminated = await settled(sub.terminated);
    await settle(5000);
    keepalive(stub);
    await waitFor(() => sawRequest(stub, "UNSUBSCRIBE", "/me/conversations/c1/typing"), 12000);
    results.unsubscribeAfterSeconds = Math.round((Date.now() - t0) / 1000);
  },
  expect: ["C UNSUBSCRIBE /me/conversations/c1/typing"],
});

scenario({
  name: "user_get_then_unsubscribe",
  slow: true,
  description:
    "UserRef.get: SUBSCRIBE /users and GET /users, then about 30 s later UNSUBSCRIBE /users/bob; custom events pushed at 5, 13, 21 and 27 s keep heartbeats out of the transcript.",
  calls: ["session.user('bob').get()", "(push custom.keepalive at +5, +13, +21, +27 s)", "(wait for UNSUBSCRIBE)"],
  async run({ session, results, stub }) {
    const t0 = Date.now();
    results.get = await settled(session.user("bob").get());
    for (const at of [5000, 13000, 21000, 27000]) {
      await settle(at - (Date.now() - t0));
      keepalive(stub);
    }
    await waitFor(() => sawRequest(stub, "UNSUBSCRIBE", "/users/bob"), 8000);
    results.unsubscribeAfterSeconds = Math.round((Date.now() - t0) / 1000);
  },
  expect: ["C UNSUBSCRIBE /users/bob"],
});

// ---- server pushes -------------------------------------------------------------

const push = async (stub, ...events) => {
  stub.push(...events);
  await quiesce(stub);
};

scenario({
  name: "events_user",
  description:
    "Pushes user.edited, user.online.changed and user.created while the client holds user('bob').subscribe, user('bob').subscribeOnline and a subscription to a missing user.",
  calls: [
    "user('bob').subscribe()",
    "user('bob').subscribeOnline()",
    "user('nobody2').subscribe()",
    "push user.edited, user.online.changed, user.created",
  ],
  async run({ session, results, stub }) {
    const u = session.user("bob").subscribe();
    const o = session.user("bob").subscribeOnline();
    const n = session.user("nobody2").subscribe();
    await Promise.all([u.connected, o.connected, n.connected]);
    await quiesce(stub);
    results.initial = { user: state(u), online: state(o), nobody: state(n) };
    await push(stub, { type: "user.edited", userId: "bob", diff: { name: "Bobby", custom: { team: "blue" }, photoUrl: "https://example.com/bobby.png" } });
    results.afterEdit = state(u);
    await push(stub, { type: "user.online.changed", userId: "bob", diff: { isConnected: false } });
    results.afterOnline = state(o);
    await push(stub, { type: "user.created", userId: "nobody2", state: userWire("nobody2", { name: "New Person", role: "member", locale: "en-US" }) });
    results.afterCreated = state(n);
  },
  expect: ["P user.edited", "P user.online.changed", "P user.created", "ACK", "C SUBSCRIBE /users/bob/online"],
});

scenario({
  name: "events_conversation",
  description:
    "Pushes side.created, side.edited, conversation.edited, conversation.cleared and side.deleted while the client holds a conversation list and conversation('c1').subscribe.",
  calls: [
    "session.subscribeConversations()",
    "conversation('c1').subscribe()",
    "push side.created c3, side.edited c1, conversation.edited c1, conversation.cleared c1, side.deleted c1",
  ],
  respond: router([
    ["GET", "/me/conversations", page([c1])],
    ["GET", "/me/conversations/c1", [200, c1]],
    ["GET", "/me/conversations/c1/messages", page([m3])],
    ["GET", "/me/conversations/c1/messages/m1", [200, m1]],
  ]),
  async run({ session, results, stub }) {
    const list = session.subscribeConversations();
    const conv = session.conversation("c1").subscribe();
    await Promise.all([list.connected, conv.connected]);
    await quiesce(stub);
    const ids = () => list.state.latestSnapshot.map((c) => c.id);
    const brief = () => {
      const s = conv.state.latestSnapshot;
      return s && { subject: s.subject, custom: s.custom, unreadMessageCount: s.unreadMessageCount, isUnread: s.isUnread, lastMessage: s.lastMessage && s.lastMessage.id };
    };
    results.initial = { list: ids(), conversation: brief() };
    await push(stub, {
      type: "side.created",
      conversationId: "c3",
      state: conversationWire("c3", { subject: "New room", createdAt: T0 + 8000, joinedAt: T0 + 8000, lastMessageAt: T0 + 8000, readUntil: T0 + 8000, everyoneReadUntil: T0 + 8000 }),
    });
    results.afterSideCreated = { list: ids() };
    await push(stub, { type: "side.edited", conversationId: "c1", diff: { lastMessageAt: T0 + 9000, unreadMessageCount: 2, isUnread: true } });
    results.afterSideEdited = { list: ids(), conversation: brief() };
    await push(stub, { type: "conversation.edited", conversationId: "c1", diff: { subject: "Renamed", custom: { project: null, topic: "t" } } });
    results.afterConversationEdited = { conversation: brief() };
    await push(stub, { type: "conversation.cleared", conversationId: "c1" });
    results.afterCleared = { list: ids(), conversation: brief() };
    await push(stub, { type: "side.deleted", conversationId: "c1" });
    results.afterSideDeleted = { list: ids(), conversation: brief() };
  },
  expect: ["P side.created", "P side.edited", "P conversation.edited", "P conversation.cleared", "P side.deleted", "C GET /me/conversations/c3/messages"],
});

scenario({
  name: "events_messages",
  description:
    "Pushes message.created (a reply), message.edited (content, custom, editedAt, reactions) and message.deleted with newLastMessage while the client holds subscribeMessages on c1.",
  calls: ["conversation('c1').subscribeMessages()", "push message.created m4, message.edited m4, message.deleted m4"],
  respond: router([["GET", "/me/conversations/c1/messages", page([m3, m2, m1])]]),
  async run({ session, results, stub }) {
    const sub = session.conversation("c1").subscribeMessages();
    await sub.connected;
    await quiesce(stub);
    const brief = () =>
      sub.state.latestSnapshot.map((m) => ({ id: m.id, plaintext: m.plaintext, custom: m.custom, editedAt: m.editedAt, reactions: m.reactions, referencedMessage: m.referencedMessage && m.referencedMessage.id }));
    results.initial = brief();
    const m4 = msg("m4", {
      senderId: "bob",
      createdAt: T0 + 4000,
      referencedMessageId: "m2",
      content: [{ type: "text", children: ["fresh ", { type: "autoLink", url: "https://talkjs.com", text: "talkjs.com" }] }],
    });
    await push(stub, { type: "message.created", conversationId: "c1", messageId: "m4", state: m4 });
    results.afterCreated = brief();
    await push(stub, {
      type: "message.edited",
      conversationId: "c1",
      messageId: "m4",
      diff: {
        content: [{ type: "text", children: ["fresh and ", { type: "bold", children: ["edited"] }] }],
        custom: { k: "v" },
        editedAt: T0 + 5000,
        reactions: { "🎉": { count: 1, currentUserReacted: false, createdAt: T0 + 5000 } },
      },
    });
    results.afterEdited = brief();
    await push(stub, { type: "message.deleted", conversationId: "c1", messageId: "m4", newLastMessage: m3 });
    results.afterDeleted = brief();
  },
  expect: ["P message.created", "P message.edited", "P message.deleted"],
});

scenario({
  name: "events_participants",
  description:
    "Pushes participant.created, participant.edited (another user and the current user) and participant.deleted while the client holds the participant list, participant('bob').subscribe and conversation('c1').subscribe.",
  calls: [
    "conversation('c1').subscribeParticipants()",
    "conversation('c1').participant('bob').subscribe()",
    "conversation('c1').subscribe()",
    "push participant.created dave, participant.edited bob, participant.edited alice, participant.deleted carol",
  ],
  respond: router([
    ["GET", "/me/conversations/c1/participants", page([participantWire("carol", { joinedAt: T0 + 300 }), participantWire("bob", { joinedAt: T0 + 200 }), participantWire("alice", { joinedAt: T0 + 100 })])],
    ["GET", "/me/conversations/c1/participants/bob", [200, participantWire("bob", { joinedAt: T0 + 200 })]],
    ["GET", "/me/conversations/c1", [200, c1]],
  ]),
  async run({ session, results, stub }) {
    const list = session.conversation("c1").subscribeParticipants();
    const bob = session.conversation("c1").participant("bob").subscribe();
    const conv = session.conversation("c1").subscribe();
    await Promise.all([list.connected, bob.connected, conv.connected]);
    await quiesce(stub);
    const brief = () => list.state.latestSnapshot.map((p) => ({ user: p.user.id, access: p.access, notify: p.notify, joinedAt: p.joinedAt }));
    const me = () => ({ access: conv.state.latestSnapshot.access, notify: conv.state.latestSnapshot.notify });
    results.initial = { list: brief(), bob: state(bob), me: me() };
    await push(stub, { type: "participant.created", conversationId: "c1", userId: "dave", state: participantWire("dave", { joinedAt: T0 + 400, notify: false }) });
    results.afterCreated = { list: brief() };
    await push(stub, { type: "participant.edited", conversationId: "c1", userId: "bob", diff: { access: "Read", notify: "MentionsOnly" } });
    results.afterEditedBob = { list: brief(), bob: state(bob) };
    await push(stub, { type: "participant.edited", conversationId: "c1", userId: "alice", diff: { notify: false } });
    results.afterEditedMe = { me: me() };
    await push(stub, { type: "participant.deleted", conversationId: "c1", userId: "carol" });
    results.afterDeleted = { list: brief() };
  },
  expect: ["P participant.created", "P participant.edited", "P participant.deleted"],
});

scenario({
  name: "events_typing",
  description:
    "Pushes typing.changed (user starts, many, back to a list, user stops) and typing.available while the client holds subscribeTyping on c1.",
  calls: ["conversation('c1').subscribeTyping()", "push typing.changed x4, typing.available"],
  async run({ session, results, stub }) {
    const sub = session.conversation("c1").subscribeTyping();
    await sub.connected;
    await quiesce(stub);
    const brief = () => {
      const s = sub.state.latestSnapshot;
      return s === null ? null : s.many ? { many: true } : { many: false, users: s.users.map((u) => u.id) };
    };
    results.initial = brief();
    const steps = [
      { type: "typing.changed", conversationId: "c1", diff: { usersTyping: { bob: T0 + 7000 } } },
      { type: "typing.changed", conversationId: "c1", diff: { many: true } },
      { type: "typing.changed", conversationId: "c1", diff: { many: false, usersTyping: { carol: T0 + 7100, bob: T0 + 7200 } } },
      { type: "typing.changed", conversationId: "c1", diff: { usersTyping: { carol: null } } },
      { type: "typing.available", conversationId: "c1", state: { many: false, usersTyping: { dave: T0 + 7300 } } },
    ];
    results.after = [];
    for (const e of steps) {
      await push(stub, e);
      results.after.push(brief());
    }
  },
  expect: ["P typing.changed", "P typing.available", "C SUBSCRIBE /me/conversations/c1/typing"],
});

scenario({
  name: "events_reactions",
  description:
    "Pushes reaction.added and reaction.removed on a subscribed per-emoji list, then message.created (the list refetches) and message.deleted (the list becomes null).",
  calls: ["conversation('c1').message('m2').reactions('👍').subscribe()", "push reaction.added, reaction.removed, message.created, message.deleted"],
  respond: router([
    [
      "GET",
      "/me/conversations/c1/messages/m2/reactions/%F0%9F%91%8D",
      (f, ctx, n) => (n === 0 ? page([{ userId: "bob", createdAt: T0 + 2500 }]) : page([{ userId: "alice", createdAt: T0 + 6000 }])),
    ],
  ]),
  async run({ session, results, stub }) {
    const sub = session.conversation("c1").message("m2").reactions("👍").subscribe();
    await sub.connected;
    await quiesce(stub);
    const brief = () => (sub.state.latestSnapshot === null ? null : sub.state.latestSnapshot.map((r) => ({ user: r.user.id, createdAt: r.createdAt })));
    results.initial = brief();
    await push(stub, { type: "reaction.added", conversationId: "c1", messageId: "m2", emoji: "👍", userId: "alice", createdAt: T0 + 6000 });
    results.afterAdded = brief();
    await push(stub, { type: "reaction.removed", conversationId: "c1", messageId: "m2", emoji: "👍", userId: "bob" });
    results.afterRemoved = brief();
    await push(stub, { type: "message.created", conversationId: "c1", messageId: "m5", state: msg("m5", { senderId: "carol", createdAt: T0 + 6500 }) });
    results.afterMessageCreated = brief();
    await push(stub, { type: "message.deleted", conversationId: "c1", messageId: "m5" });
    results.afterMessageDeleted = { state: sub.state.type, snapshot: brief() };
  },
  expect: ["P reaction.added", "P reaction.removed"],
  check: (fx) => count(fx, "C GET /me/conversations/c1/messages/m2/reactions/%F0%9F%91%8D") === 2,
});

scenario({
  name: "events_control_and_custom",
  description:
    "Pushes upstream.restarting, a custom.foo event, a frame with two events (user.edited plus custom.bar), a frame with a repeated id and one with a gap: every frame is ACKed; the repeated id is ignored.",
  calls: [
    "user('bob').subscribe()",
    "push upstream.restarting, custom.foo, [user.edited, custom.bar], raw PUBLISH id 3 again, raw PUBLISH id 10",
  ],
  async run({ session, results, stub }) {
    const u = session.user("bob").subscribe();
    await u.connected;
    await quiesce(stub);
    await push(stub, { type: "upstream.restarting" });
    await push(stub, { type: "custom.foo", payload: { a: 1 } });
    await push(stub, { type: "user.edited", userId: "bob", diff: { name: "Bob One" } }, { type: "custom.bar" });
    results.afterMulti = u.state.latestSnapshot.name;
    stub.sendRaw([3, "PUBLISH", { type: "user.edited", userId: "bob", diff: { name: "Ignored repeat" } }]);
    await quiesce(stub);
    results.afterRepeatedId = u.state.latestSnapshot.name;
    stub.sendRaw([10, "PUBLISH", { type: "user.edited", userId: "bob", diff: { name: "After gap" } }]);
    await quiesce(stub);
    results.afterGap = u.state.latestSnapshot.name;
  },
  expect: ["P upstream.restarting", "P custom.foo", "ACK"],
});

// ---------------------------------------------------------------------------
// Expectations

function matches(fx, spec) {
  const [kind, a, b] = spec.split(" ");
  const frames = fx.frames;
  switch (kind) {
    case "C":
      return frames.filter((f) => f.from === "client" && f.frame[1] === a && (b === undefined || f.frame[2] === b)).length;
    case "S":
      return frames.filter((f) => f.from === "server" && f.frame[1] !== "PUBLISH" && String(f.frame[1]) === a).length;
    case "P":
      return frames.filter((f) => f.from === "server" && f.frame[1] === "PUBLISH" && f.frame.slice(2).some((e) => e.type === a)).length;
    case "ACK":
      return frames.filter((f) => f.from === "client" && f.frame[1] === "ACK").length;
    case "H":
      return fx.http.filter((h) => h.method === a && h.url.startsWith(b)).length;
    case "R": {
      const v = fx.results && fx.results[a];
      return v === undefined || (Array.isArray(v) && v.length === 0) ? 0 : 1;
    }
    default:
      throw new Error(`bad expectation ${spec}`);
  }
}
const count = matches;

// Guards byte stability: a number within a day of now is almost certainly a
// client-generated timestamp that needs a placeholder.
function hasVolatileNumber(v, now = Date.now()) {
  if (typeof v === "number") return Math.abs(v - now) < 86400000 || Math.abs(v * 1000 - now) < 86400000;
  if (Array.isArray(v)) return v.some((x) => hasVolatileNumber(x, now));
  if (v && typeof v === "object") return Object.values(v).some((x) => hasVolatileNumber(x, now));
  return false;
}

// ---------------------------------------------------------------------------
// Runner

const liveStubs = [];

async function runScenario(sc) {
  const t0 = Date.now();
  const stub = await startStub({ respond: sc.respond, http: sc.http, quietMs: QUIET_MS });
  liveStubs.push(stub);
  const results = {};
  let failure = null;
  try {
    const session = newSession(stub, sc.session || {});
    await sc.run({ session, results, stub });
    await quiesce(stub);
  } catch (e) {
    failure = `threw: ${e && e.stack ? e.stack : e}`;
  }
  // Stubs stay open until the end of the run: sessions of finished scenarios
  // keep their socket, so they never reconnect to a reused port.
  const log = stub.log.slice();
  const fixture = buildFixture(sc, log, results);
  if (!failure) {
    const missing = (sc.expect || []).filter((spec) => matches(fixture, spec) === 0);
    if (missing.length) failure = `missing: ${missing.join(" | ")}`;
    else if (sc.check && !sc.check(fixture)) failure = "check() failed";
    else if (hasVolatileNumber(fixture)) failure = "fixture contains a timestamp close to the current time";
  }
  fs.writeFileSync(path.join(OUT_DIR, `${sc.name}.json`), fixtureText(fixture));
  return { name: sc.name, ms: Date.now() - t0, failure, frames: fixture.frames.length };
}

async function main() {
  const started = Date.now();
  fs.mkdirSync(OUT_DIR, { recursive: true });
  const names = new Set();
  for (const s of scenarios) {
    if (names.has(s.name)) throw new Error(`duplicate scenario ${s.name}`);
    names.add(s.name);
  }
  const chosen = scenarios.filter((s) => !ONLY || ONLY.has(s.name));
  const report = (r) =>
    out(`${r.failure ? "FAIL" : "ok  "} ${r.name.padEnd(44)} ${String(r.frames).padStart(4)} frames ${String(r.ms).padStart(6)} ms${r.failure ? "\n     " + r.failure : ""}`);

  // Slow scenarios (waiting on client timers) run alongside the others.
  const slow = chosen.filter((s) => s.slow).map((s) => runScenario(s));
  const all = [];
  for (const s of chosen.filter((s) => !s.slow)) {
    consoleSink = [];
    const r = await runScenario(s);
    report(r);
    all.push(r);
  }
  for (const r of await Promise.all(slow)) {
    report(r);
    all.push(r);
  }
  const failed = all.filter((r) => r.failure);
  out(`${all.length} scenarios, ${failed.length} failed, ${((Date.now() - started) / 1000).toFixed(1)} s`);
  await Promise.race([Promise.all(liveStubs.map((s) => s.close())), settle(2000)]);
  process.exit(failed.length ? 1 : 0);
}

main().catch((e) => {
  out(String(e && e.stack ? e.stack : e));
  process.exit(2);
});
