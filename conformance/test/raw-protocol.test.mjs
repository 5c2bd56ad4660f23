// The emulator over a bare websocket and plain HTTP: what the official client never sends but a
// server must survive, and the wire rules the client depends on (notes §3, §5.4, §8.1, §9).

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import {
  startEmulator,
  session,
  user,
  closeAll,
  uid,
  rawSocket,
  startConversation,
  nowSeconds,
  withTimeout,
  sleep,
} from "../lib/emulator.mjs";

let emu, alice;

before(async () => {
  emu = await startEmulator();
  alice = await user(session(emu, "alice"));
  await user(session(emu, "bob"));
});
after(closeAll);

function assertErrorBody(data) {
  assert.equal(typeof data?.errorCode, "string", `errorCode in ${JSON.stringify(data)}`);
  assert.ok(Array.isArray(data.reasons) && data.reasons.every((r) => typeof r === "string"), `reasons in ${JSON.stringify(data)}`);
}

const sendFrame = (conversation, text, key) => [
  "POST",
  `/conversations/${conversation}/messages`,
  { content: [{ type: "text", children: [text] }], idempotencyKey: key },
];

test("a frame that is not JSON closes the socket cleanly with code 1007 and a reason", async () => {
  const raw = await rawSocket(emu, "alice");
  raw.sendText("this is not json");
  const closed = await withTimeout(raw.closedPromise, "the close");
  assert.equal(closed.code, 1007);
  assert.ok(closed.reason.length > 0);
});

test("JSON that is not a frame closes the socket with 1007", async () => {
  const raw = await rawSocket(emu, "alice");
  raw.sendText(JSON.stringify({ hello: "world" }));
  assert.equal((await withTimeout(raw.closedPromise, "the close")).code, 1007);
});

test("a binary frame closes the socket with 1003", async () => {
  const raw = await rawSocket(emu, "alice");
  raw.ws.send(Buffer.from([1, 2, 3]));
  assert.equal((await withTimeout(raw.closedPromise, "the close")).code, 1003);
});

test("a PUBLISH sent by a client closes the socket with 1008", async () => {
  const raw = await rawSocket(emu, "alice");
  raw.sendText(JSON.stringify([1, "PUBLISH", { type: "user.edited" }]));
  assert.equal((await withTimeout(raw.closedPromise, "the close")).code, 1008);
});

test("an unknown route gets an error response with errorCode and reasons, and the socket stays open", async () => {
  const raw = await rawSocket(emu, "alice");
  const [seq, status, data] = await raw.request("GET", "/no/such/route");
  assert.equal(seq, raw.seq - 1);
  assert.equal(status, 404);
  assertErrorBody(data);
  const [, pingStatus] = await raw.request("GET", "/ping");
  assert.equal(pingStatus, 200);
  assert.equal(raw.closed, null);
});

test("a request with malformed data gets 400 with errorCode and reasons", async () => {
  const raw = await rawSocket(emu, "alice");
  const [, status, data] = await raw.request("GET", "/users", { ids: "not-a-list" });
  assert.equal(status, 400);
  assertErrorBody(data);
});

test("requests before authentication get 401 with an error body, but ping is answered", async () => {
  const raw = await rawSocket(emu, "alice", { authenticate: false });
  const [, pingStatus] = await raw.request("GET", "/ping");
  assert.equal(pingStatus, 200);
  const [, status, data] = await raw.request("GET", "/users", { ids: ["alice"], includePrivateFields: false });
  assert.equal(status, 401);
  assertErrorBody(data);
});

test("renew with a bad token gets 401, and a good token on the same socket then works", async () => {
  const raw = await rawSocket(emu, "alice", { authenticate: false });
  const [, bad, badData] = await raw.request("POST", "/session/renew", { token: "garbage" });
  assert.equal(bad, 401);
  assertErrorBody(badData);
  const [, good, goodData] = await raw.request("POST", "/session/renew", { token: emu.jwt("alice") });
  assert.equal(good, 200);
  assert.ok(goodData.expiresInSeconds > 0);
  const [, status, users] = await raw.request("GET", "/users", { ids: ["alice", "nobody"], includePrivateFields: false });
  assert.equal(status, 200);
  assert.deepEqual(Object.keys(users), ["alice"]);
});

test("renew always answers expiresInSeconds: null without exp, the remaining seconds with it", async () => {
  const raw = await rawSocket(emu, "alice", { authenticate: false });
  const noExp = emu.jwt("alice", { exp: undefined });
  const [, s1, d1] = await raw.request("POST", "/session/renew", { token: noExp });
  assert.equal(s1, 200);
  assert.ok("expiresInSeconds" in d1, JSON.stringify(d1));
  assert.equal(d1.expiresInSeconds, null);
  const [, s2, d2] = await raw.request("POST", "/session/renew", { token: emu.jwt("alice", { exp: nowSeconds() + 1000 }) });
  assert.equal(s2, 200);
  assert.ok(d2.expiresInSeconds > 990 && d2.expiresInSeconds <= 1000, JSON.stringify(d2));
});

test("SUBSCRIBE succeeds even without access; the GET says no access", async () => {
  const id = uid("closed");
  await startConversation(alice, id);
  const raw = await rawSocket(emu, "bob");
  const [, subStatus, subData] = await raw.request("SUBSCRIBE", `/me/conversations/${id}`);
  assert.equal(subStatus, 200);
  assert.deepEqual(subData, {});
  const [, getStatus, getData] = await raw.request("GET", `/me/conversations/${id}`);
  assert.equal(getStatus, 403);
  assert.equal(getData.errorCode, "NOT_A_PARTICIPANT");
  const [, unsubStatus] = await raw.request("UNSUBSCRIBE", `/me/conversations/${uid("never")}`);
  assert.equal(unsubStatus, 200, "unsubscribing a path never subscribed is fine");
});

test("PUBLISH ids on a socket start at 1 and increase by one", async () => {
  const id = uid("ids");
  await startConversation(alice, id, ["bob"]);
  const bob = await rawSocket(emu, "bob");
  await bob.request("SUBSCRIBE", `/me/conversations/${id}/messages`);
  await bob.request("SUBSCRIBE", `/me/conversations`);
  const sender = await rawSocket(emu, "alice");
  for (let i = 0; i < 3; i++) {
    const [, status] = await sender.request(...sendFrame(id, `n${i}`, `ids-key-${i}-${id}`));
    assert.equal(status, 200);
  }
  await bob.publish((e) => e.type === "message.created" && e.state.content[0].children[0] === "n2", "the third message");
  await sleep(100);
  const ids = bob.publishes.map((f) => f[0]);
  assert.ok(ids.length >= 3, `PUBLISH ids ${ids}`);
  assert.deepEqual(ids, ids.map((_, i) => i + 1));
  for (const f of bob.publishes) for (const e of f.slice(2)) assert.equal(typeof e.type, "string");
  const created = bob.publishes.flatMap((f) => f.slice(2)).filter((e) => e.type === "message.created");
  assert.equal(created.length, 3);
  for (const e of created) {
    assert.equal(e.conversationId, id);
    assert.equal(e.messageId, e.state.id, "message.created carries messageId");
  }
});

test("a replayed send with the same idempotencyKey creates one message", async () => {
  const id = uid("idem");
  await startConversation(alice, id, ["bob"]);
  const watcher = await rawSocket(emu, "bob");
  await watcher.request("SUBSCRIBE", `/me/conversations/${id}/messages`);
  const raw = await rawSocket(emu, "alice");
  const key = "-P7D9oCguagxsdm9Hh_3";
  const [, s1, first] = await raw.request(...sendFrame(id, "only once", key));
  const [, s2, second] = await raw.request(...sendFrame(id, "only once", key));
  assert.equal(s1, 200);
  assert.equal(s2, 200);
  assert.equal(second.id, first.id, "the replay returns the first message");
  const [, s3, third] = await raw.request(...sendFrame(id, "a new one", "-P7D9oCguagxsdm9Hh_4"));
  assert.equal(s3, 200);
  assert.notEqual(third.id, first.id);
  const [, , page] = await raw.request("GET", `/me/conversations/${id}/messages`, { limit: 30 });
  assert.deepEqual(page.data.map((m) => m.id), [third.id, first.id]);
  await watcher.publish((e) => e.type === "message.created" && e.messageId === third.id, "the second message");
  const created = watcher.publishes.flatMap((f) => f.slice(2)).filter((e) => e.type === "message.created");
  assert.deepEqual(created.map((e) => e.messageId), [first.id, third.id], "the replay was not published again");
});

test("the client's replay of a send after a reconnect is one message in the official client's list", async () => {
  // Same key from two sockets of the same user (a replay on a new socket, notes §3.8).
  const id = uid("replay");
  await startConversation(alice, id);
  const key = "-Q0000000000000000_1";
  const one = await rawSocket(emu, "alice");
  const [, , a] = await one.request(...sendFrame(id, "sent before the drop", key));
  one.close();
  const two = await rawSocket(emu, "alice");
  const [, status, b] = await two.request(...sendFrame(id, "sent before the drop", key));
  assert.equal(status, 200);
  assert.equal(b.id, a.id);
  const list = await alice.conversation(id).subscribeMessages().connected;
  assert.equal(list.latestSnapshot.length, 1);
});

test("a socket whose token is about to expire gets session.expired, then 401, until it renews", async () => {
  const raw = await rawSocket(emu, "alice", { token: emu.jwt("alice", { exp: nowSeconds() + 3 }) });
  const frame = await raw.publish((e) => e.type === "session.expired", "session.expired");
  assert.ok(frame[0] >= 1);
  await sleep(3_200);
  const [, status, data] = await raw.request("GET", "/users", { ids: ["alice"], includePrivateFields: false });
  assert.equal(status, 401);
  assertErrorBody(data);
  const [, renewed] = await raw.request("POST", "/session/renew", { token: emu.jwt("alice") });
  assert.equal(renewed, 200);
  const [, after] = await raw.request("GET", "/users", { ids: ["alice"], includePrivateFields: false });
  assert.equal(after, 200);
});

test("session.expired comes 30 s before expiry, not earlier", async () => {
  const raw = await rawSocket(emu, "alice", { token: emu.jwt("alice", { exp: nowSeconds() + 33 }) });
  await sleep(1_000);
  assert.ok(!raw.publishes.some((f) => f.slice(2).some((e) => e.type === "session.expired")), "not yet");
  await raw.publish((e) => e.type === "session.expired", "session.expired about 3 s in", 6_000);
});

// ---------------------------------------------------------------------------
// HTTP

test("the app check answers 200 for the app and 404 with an error body for another app id", async () => {
  assert.equal((await fetch(`${emu.url}/api/v0/${emu.appId}`)).status, 200);
  const res = await fetch(`${emu.url}/api/v0/not-this-app`);
  assert.equal(res.status, 404);
  assertErrorBody(await res.json());
});

test("search and upload without a token get 401 with an error body", async () => {
  const search = await fetch(`${emu.url}/public_api/v1/${emu.appId}/me/messages/search?searchString=x&conversationFilter=%7B%7D&limit=3`);
  assert.equal(search.status, 401);
  assertErrorBody(await search.json());
  const form = new FormData();
  form.append("file", new Blob([new Uint8Array([1])]), "x.bin");
  const upload = await fetch(`${emu.url}/public_api/v1/${emu.appId}/files`, { method: "POST", body: form });
  assert.equal(upload.status, 401);
  assertErrorBody(await upload.json());
});

test("the realtime socket of another app id is refused", async () => {
  await assert.rejects(rawSocket(emu, "alice", { appId: "not-this-app", authenticate: false }));
});

test("a browser page on another origin may call the HTTP endpoints: preflights are answered and answers allow any origin", async () => {
  // The official client always needs a CORS preflight: it sends Authorization, x-talkjs-client-*
  // and Content-Type: application/json, even on GET (notes §1.3).
  const wanted = "authorization,content-type,x-talkjs-client-build,x-talkjs-client-date";
  for (const [method, path] of [
    ["GET", `/api/v0/${emu.appId}`],
    ["GET", `/api/v0/${emu.appId}/bokens/alice?signature=`],
    ["POST", `/public_api/v1/${emu.appId}/files`],
    ["GET", `/public_api/v1/${emu.appId}/me/messages/search?searchString=x`],
    ["GET", `/public_api/v1/${emu.appId}/me/conversations/search?searchString=x`],
  ]) {
    const pre = await fetch(`${emu.url}${path}`, {
      method: "OPTIONS",
      headers: { Origin: "http://localhost:3000", "Access-Control-Request-Method": method, "Access-Control-Request-Headers": wanted },
    });
    assert.ok(pre.status >= 200 && pre.status < 300, `preflight of ${path}: ${pre.status}`);
    assert.equal(pre.headers.get("access-control-allow-origin"), "*");
    assert.match(pre.headers.get("access-control-allow-methods") ?? "", new RegExp(method));
    for (const h of wanted.split(",")) assert.match(pre.headers.get("access-control-allow-headers") ?? "", new RegExp(h, "i"));
  }
  const check = await fetch(`${emu.url}/api/v0/${emu.appId}`, { headers: { Origin: "http://localhost:3000" } });
  assert.equal(check.headers.get("access-control-allow-origin"), "*");
  const refused = await fetch(`${emu.url}/public_api/v1/${emu.appId}/me/messages/search?searchString=x`, { headers: { Origin: "http://localhost:3000" } });
  assert.equal(refused.status, 401);
  assert.equal(refused.headers.get("access-control-allow-origin"), "*", "error answers are readable too");
});

test("an unknown HTTP path gets 404 with an error body", async () => {
  const res = await fetch(`${emu.url}/public_api/v1/${emu.appId}/no-such-endpoint`);
  assert.equal(res.status, 404);
  assertErrorBody(await res.json());
});
