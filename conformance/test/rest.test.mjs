// The REST API v1 with browser sync off (TalkJS's recommended production setup): a backend
// creates users and conversations and sends messages over REST, and the official client sees
// them, live, as it would with TalkJS (docs/protocol.md §12.6).

import { test, before, after } from "node:test";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import assert from "node:assert/strict";
import { startEmulator, session, watch, closeAll, uid, SECRET } from "../lib/emulator.mjs";

/// The official client reconnects 5-15 s after a close (docs/protocol.md §3.8), with margin.
const RECONNECT_MS = 20_000;

let emu;

before(async () => {
  emu = await startEmulator({ args: ["--no-user-sync", "--no-conversation-sync"] });
});
after(closeAll);

/// One REST call as a backend makes it, with the secret key.
async function rest(method, path, body) {
  const resp = await fetch(`${emu.url}/v1/${emu.appId}${path}`, {
    method,
    headers: { Authorization: `Bearer ${SECRET}`, "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = await resp.json();
  assert.equal(resp.status, 200, `${method} ${path}: ${JSON.stringify(json)}`);
  return json;
}

test("a message a backend sends over REST appears live in the official client, with its sender", async () => {
  const id = uid("rest");
  await rest("PUT", "/users", { alice: { name: "Alice" }, bob: { name: "Bob" } });
  await rest("PUT", `/conversations/${id}`, { participants: ["alice", "bob"], subject: "From REST" });
  const bob = session(emu, "bob");
  const conv = await bob.conversation(id).get();
  assert.equal(conv.subject, "From REST");

  const w = watch((cb) => bob.conversation(id).subscribeMessages(cb));
  await w.until((l) => Array.isArray(l) && l.length === 0, "an empty list");
  await rest("POST", `/conversations/${id}/messages`, [
    { type: "UserMessage", sender: "alice", text: "hello *bob*" },
  ]);
  const [m] = await w.until((l) => l?.length === 1, "the REST message");
  assert.equal(m.plaintext, "hello bob");
  assert.equal(m.sender.id, "alice");
  assert.equal(m.sender.name, "Alice");
  assert.deepEqual(m.content[0].children[1], { type: "bold", children: ["bob"] });

  await rest("POST", `/conversations/${id}/messages`, [{ type: "SystemMessage", text: "a note" }]);
  const list = await w.until((l) => l?.length === 2, "the system message");
  assert.equal(list[0].type, "SystemMessage");
  assert.equal(list[0].sender, null);
  w.unsubscribe();
});

test("a REST edit, delete and removal of the participant reach the official client", async () => {
  const id = uid("rest");
  await rest("PUT", "/users/carol", { name: "Carol" });
  await rest("PUT", "/users/dave", { name: "Dave" });
  await rest("PUT", `/conversations/${id}`, { participants: ["carol", "dave"] });
  await rest("POST", `/conversations/${id}/messages`, [{ type: "UserMessage", sender: "carol", text: "first" }]);
  const dave = session(emu, "dave");
  const w = watch((cb) => dave.conversation(id).subscribeMessages(cb));
  const [m] = await w.until((l) => l?.length === 1, "the first message");
  await rest("PATCH", `/conversations/${id}/messages/${m.id}`, { text: "edited" });
  await w.until((l) => l?.[0]?.plaintext === "edited", "the edit");
  await rest("DELETE", `/conversations/${id}/messages/${m.id}`);
  await w.until((l) => l?.length === 0, "the deletion");
  w.unsubscribe();

  const convs = watch((cb) => dave.subscribeConversations(cb));
  await convs.until((l) => l?.some((c) => c.id === id), "the conversation in dave's list");
  await rest("DELETE", `/conversations/${id}/participants/dave`);
  await convs.until((l) => Array.isArray(l) && !l.some((c) => c.id === id), "dave no longer in it");
  convs.unsubscribe();
});

test("a REST delete of a conversation takes it out of the list", async () => {
  const [gone, kept] = [uid("gone"), uid("kept")];
  await rest("PUT", "/users/erin", { name: "Erin" });
  for (const id of [gone, kept]) {
    await rest("PUT", `/conversations/${id}`, { participants: ["erin"] });
  }
  const erin = session(emu, "erin");
  const convs = watch((cb) => erin.subscribeConversations(cb));
  const has = (l, id) => Array.isArray(l) && l.some((c) => c.id === id);
  await convs.until((l) => has(l, gone) && has(l, kept), "both conversations");
  await rest("DELETE", `/conversations/${gone}`);
  await convs.until((l) => !has(l, gone) && has(l, kept), "the deleted one gone");
  convs.unsubscribe();
});

test("a reset goes back to the seed; the client reconnects, refetches and sees the seeded state", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "talkjs-seed-"));
  const seed = path.join(dir, "seed.json");
  fs.writeFileSync(seed, JSON.stringify({
    users: [{ id: "frank", name: "Frank" }],
    conversations: [{ id: "seeded", subject: "Seeded", participants: { frank: {} } }],
  }));
  const seeded = await startEmulator({ args: ["--no-user-sync", "--no-conversation-sync", "--seed", seed] });
  const call = (method, p, body) =>
    fetch(`${seeded.url}${p}`, {
      method,
      headers: { Authorization: `Bearer ${SECRET}`, "Content-Type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  assert.equal((await call("PUT", `/v1/${seeded.appId}/conversations/extra`, { participants: ["frank"] })).status, 200);
  const frank = session(seeded, "frank");
  const convs = watch((cb) => frank.subscribeConversations(cb));
  const ids = (l) => (Array.isArray(l) ? l.map((c) => c.id).sort().join(",") : null);
  await convs.until((l) => ids(l) === "extra,seeded", "the seeded and the added conversation");
  assert.equal((await call("POST", `/emulator/v1/apps/${seeded.appId}/reset`)).status, 200);
  await convs.until((l) => ids(l) === "seeded", "only the seeded conversation after the reset", RECONNECT_MS);
  convs.unsubscribe();
  fs.rmSync(dir, { recursive: true, force: true });
});
