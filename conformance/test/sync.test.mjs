// Apps that disable client-side synchronisation: what the .d.ts says must then reject
// (UserRef.set / createIfNotExists, ConversationRef.set / createIfNotExists, ParticipantRef.*).
//
// Here nothing exists beforehand, so these are the "not yet there" cases; with sync off, data is
// created over the REST API (test/rest.test.mjs).

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startEmulator, session, user, closeAll, uid, rejection, errorText } from "../lib/emulator.mjs";

let noUsers, noConversations;

before(async () => {
  noUsers = await startEmulator({ args: ["--no-user-sync"] });
  noConversations = await startEmulator({ args: ["--no-conversation-sync"] });
});
after(closeAll);

test("with user sync off, creating or setting a user that does not exist rejects", async () => {
  const s = session(noUsers, "alice");
  const e = await rejection(s.currentUser.createIfNotExists({ name: "Alice" }));
  assert.match(errorText(e), /^Create user alice if not exists failed, got status 403 /);
  const e2 = await rejection(s.currentUser.set({ name: "Alice" }));
  assert.match(errorText(e2), /^Set user alice failed, got status 403 /);
  assert.equal(await s.currentUser.get(), null);
});

test("with conversation sync off, users still work but a new conversation cannot be made or joined", async () => {
  const alice = await user(session(noConversations, "alice"));
  assert.equal((await alice.currentUser.get()).name, "Alice");
  const id = uid("conv");
  const e = await rejection(alice.conversation(id).createIfNotExists({ subject: "Nope" }));
  assert.match(errorText(e), new RegExp(`^Create conversation ${id} failed, got status 403 `));
  const e2 = await rejection(alice.conversation(id).set({ subject: "Nope" }));
  assert.match(errorText(e2), new RegExp(`^Set conversation ${id} failed, got status 403 `));
  assert.equal(await alice.conversation(id).get(), null);
});

test("with conversation sync off, participant writes reject, delete included", async () => {
  const alice = await user(session(noConversations, "alice"));
  await alice.user("bob").createIfNotExists({ name: "Bob" });
  const c = alice.conversation(uid("conv"));
  for (const [what, call] of [
    ["Add participant bob", () => c.participant("bob").createIfNotExists()],
    ["Set participant bob", () => c.participant("bob").set({ access: "Read" })],
    ["Edit participant bob", () => c.participant("bob").edit({ notify: false })],
    ["Remove participant bob", () => c.participant("bob").delete()],
  ]) {
    const e = await rejection(call());
    assert.match(errorText(e), new RegExp(`^${what} (to|in|from) conversation ${c.id} failed, got status 403 `));
  }
});
