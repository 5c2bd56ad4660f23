// UserRef: get, set, createIfNotExists, subscribe, subscribeOnline (notes §4.3.1, §6.1).

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startEmulator, session, user, watch, closeAll, endSession, uid } from "../lib/emulator.mjs";

let emu, alice;

before(async () => {
  emu = await startEmulator();
  alice = await user(session(emu, "alice"));
});
after(closeAll);

test("alice creates a user and reads back exactly the seven public fields", async () => {
  const id = uid("erin");
  await alice.user(id).createIfNotExists({
    name: "Erin",
    custom: { team: "red" },
    locale: "nl-NL",
    photoUrl: "https://example.com/erin.png",
    welcomeMessage: "Hi!",
    role: "agent",
    email: "erin@example.com",
    phone: ["+31600000000"],
    pushTokens: { "fcm:abc": true },
  });
  const snap = await alice.user(id).get();
  // email, phone and pushTokens are private: the client asks includePrivateFields:false.
  assert.deepEqual(snap, {
    id,
    name: "Erin",
    custom: { team: "red" },
    locale: "nl-NL",
    photoUrl: "https://example.com/erin.png",
    role: "agent",
    welcomeMessage: "Hi!",
  });
});

test("a user created without optional fields has null locale, photo and welcome message and role default", async () => {
  const id = uid("plain");
  await alice.user(id).createIfNotExists({ name: "Plain" });
  assert.deepEqual(await alice.user(id).get(), {
    id,
    name: "Plain",
    custom: {},
    locale: null,
    photoUrl: null,
    role: "default",
    welcomeMessage: null,
  });
});

test("createIfNotExists on an existing user resolves and changes nothing", async () => {
  const id = uid("keep");
  await alice.user(id).createIfNotExists({ name: "First" });
  await alice.user(id).createIfNotExists({ name: "Second", custom: { x: "y" } });
  const snap = await alice.user(id).get();
  assert.equal(snap.name, "First");
  assert.deepEqual(snap.custom, {});
});

test("get of a user id nobody created is null", async () => {
  assert.equal(await alice.user(uid("nobody")).get(), null);
});

test("set patches a user: absent fields stay, null clears, custom merges and null deletes a key", async () => {
  const id = uid("patch");
  await alice.user(id).createIfNotExists({ name: "Pat", custom: { a: "1", b: "2" }, locale: "en-US", photoUrl: "https://p/x.png" });
  await alice.user(id).set({ custom: { a: null, c: "3" }, locale: null });
  const snap = await alice.user(id).get();
  assert.equal(snap.name, "Pat");
  assert.deepEqual(snap.custom, { b: "2", c: "3" });
  assert.equal(snap.locale, null);
  assert.equal(snap.photoUrl, "https://p/x.png");
});

test("set with custom null clears every custom key and role null resets the role to default", async () => {
  const id = uid("clear");
  await alice.user(id).createIfNotExists({ name: "Cleo", custom: { a: "1" }, role: "admin" });
  await alice.user(id).set({ custom: null, role: null });
  const snap = await alice.user(id).get();
  assert.deepEqual(snap.custom, {});
  assert.equal(snap.role, "default");
});

test("set on a user that does not exist yet creates it", async () => {
  const id = uid("fresh");
  await alice.user(id).set({ name: "Fresh", custom: { k: "v" } });
  const snap = await alice.user(id).get();
  assert.equal(snap.name, "Fresh");
  assert.deepEqual(snap.custom, { k: "v" });
});

test("set without a name on a user that does not exist rejects and creates nothing", async () => {
  const id = uid("nameless");
  await assert.rejects(alice.user(id).set({ custom: { a: "b" } }), new RegExp(`^Error: Set user ${id} failed, got status 400 `));
  assert.equal(await alice.user(id).get(), null);
});

test("alice's user subscription shows bob's rename and custom change as they happen", async () => {
  const id = uid("bob");
  const bob = await user(session(emu, id), { name: "Bob" });
  const w = watch((cb) => alice.user(id).subscribe(cb));
  await w.until((u) => u?.name === "Bob", "Bob's first snapshot");
  await bob.currentUser.set({ name: "Bobby", custom: { mood: "happy" } });
  const renamed = await w.until((u) => u?.name === "Bobby", "the rename");
  assert.deepEqual(renamed.custom, { mood: "happy" });
  w.unsubscribe();
  endSession(bob);
});

test("subscribing to a user who does not exist yet shows null, then the user once created", async () => {
  const id = uid("later");
  const w = watch((cb) => alice.user(id).subscribe(cb));
  await w.until((u) => u === null, "a null snapshot");
  await alice.user(id).createIfNotExists({ name: "Later" });
  const snap = await w.until((u) => u !== null, "the created user");
  assert.equal(snap.name, "Later");
  w.unsubscribe();
});

test("subscribeOnline shows a user online while they have a session and offline once it ends", async () => {
  const id = uid("dana");
  const dana = await user(session(emu, id), { name: "Dana" });
  // Hold a subscription so dana's socket does not idle-close (notes §3.6).
  const keepAlive = watch((cb) => dana.currentUser.subscribe(cb));
  await keepAlive.nth(1);
  const w = watch((cb) => alice.user(id).subscribeOnline(cb));
  const online = await w.until((o) => o?.isConnected === true, "dana online");
  assert.equal(online.user.id, id);
  assert.equal(online.user.name, "Dana");
  endSession(dana);
  const offline = await w.until((o) => o?.isConnected === false, "dana offline");
  assert.equal(offline.user.id, id);
  w.unsubscribe();
});

test("a user who never connected is offline", async () => {
  const id = uid("ghost");
  await alice.user(id).createIfNotExists({ name: "Ghost" });
  const w = watch((cb) => alice.user(id).subscribeOnline(cb));
  const snap = await w.until((o) => o !== undefined, "the online snapshot");
  assert.equal(snap.isConnected, false);
  assert.equal(snap.user.name, "Ghost");
  w.unsubscribe();
});

test("subscribeOnline of a user who does not exist is null", async () => {
  const w = watch((cb) => alice.user(uid("nobody")).subscribeOnline(cb));
  const state = await w.sub.connected;
  assert.equal(state.latestSnapshot, null);
  w.unsubscribe();
});

test("the session's currentUser is a UserRef for its own user id", async () => {
  assert.equal(alice.currentUser.id, "alice");
  assert.equal(alice.appId, emu.appId);
  assert.equal((await alice.currentUser.get()).name, "Alice");
});
