// ParticipantRef (get, set, edit, createIfNotExists, delete, subscribe) and
// ConversationRef.participant / subscribeParticipants (notes §4.3.4, §6.4).

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import {
  startEmulator,
  session,
  user,
  watch,
  closeAll,
  uid,
  startConversation,
  createUsers,
  rejection,
  errorText,
} from "../lib/emulator.mjs";

let emu, alice, bob;

before(async () => {
  emu = await startEmulator();
  alice = await user(session(emu, "alice"));
  bob = await user(session(emu, "bob"));
});
after(closeAll);

test("alice adds bob with access and notify, and get() returns his participant snapshot", async () => {
  const id = uid("conv");
  const conv = await startConversation(alice, id);
  const before = Date.now();
  await conv.participant("bob").createIfNotExists({ access: "Read", notify: "MentionsOnly" });
  const p = await conv.participant("bob").get();
  assert.deepEqual(Object.keys(p).sort(), ["access", "joinedAt", "notify", "user"]);
  assert.deepEqual(p.user, await alice.user("bob").get());
  assert.equal(p.access, "Read");
  assert.equal(p.notify, "MentionsOnly");
  assert.ok(p.joinedAt >= before - 1000 && p.joinedAt <= Date.now() + 1000, "joinedAt is now, in ms");
});

test("a participant added without params gets ReadWrite access and notify true", async () => {
  const id = uid("conv");
  const conv = await startConversation(alice, id, ["bob"]);
  const p = await conv.participant("bob").get();
  assert.equal(p.access, "ReadWrite");
  assert.equal(p.notify, true);
});

test("participant() accepts a UserRef as well as an id", async () => {
  const id = uid("conv");
  const conv = await startConversation(alice, id, ["bob"]);
  const ref = conv.participant(alice.user("bob"));
  assert.equal(ref.userId, "bob");
  assert.equal(ref.conversationId, id);
  assert.equal((await ref.get()).user.id, "bob");
});

test("createIfNotExists on an existing participant resolves and changes nothing", async () => {
  const id = uid("conv");
  const conv = await startConversation(alice, id, [["bob", { access: "Read" }]]);
  await conv.participant("bob").createIfNotExists({ access: "ReadWrite" });
  assert.equal((await conv.participant("bob").get()).access, "Read");
});

test("set changes access and notify; edit changes only what it is given", async () => {
  const id = uid("conv");
  const conv = await startConversation(alice, id, ["bob"]);
  const w = watch((cb) => alice.conversation(id).participant("bob").subscribe(cb));
  await w.until((p) => p?.access === "ReadWrite", "bob ReadWrite");
  await conv.participant("bob").set({ access: "Read", notify: false });
  await w.until((p) => p?.access === "Read" && p.notify === false, "Read, notify false");
  await conv.participant("bob").edit({ notify: "MentionsOnly" });
  const p = await w.until((p) => p?.notify === "MentionsOnly", "notify MentionsOnly");
  assert.equal(p.access, "Read");
  w.unsubscribe();
});

test("set with access null and notify null puts both back to their defaults", async () => {
  const id = uid("conv");
  const conv = await startConversation(alice, id, [["bob", { access: "Read", notify: false }]]);
  await conv.participant("bob").set({ access: null, notify: null });
  const p = await conv.participant("bob").get();
  assert.equal(p.access, "ReadWrite");
  assert.equal(p.notify, true);
});

test("set on a user who is not a participant adds them", async () => {
  const id = uid("conv");
  const conv = await startConversation(alice, id);
  await conv.participant("bob").set({ access: "Read" });
  const p = await conv.participant("bob").get();
  assert.equal(p.access, "Read");
});

test("edit on a user who is not a participant rejects and adds no one", async () => {
  const id = uid("conv");
  const conv = await startConversation(alice, id);
  const e = await rejection(conv.participant("bob").edit({ access: "Read" }));
  assert.match(errorText(e), new RegExp(`^Edit participant bob in conversation ${id} failed, got status 404 `));
  assert.equal(await conv.participant("bob").get(), null);
});

test("adding a user who does not exist rejects", async () => {
  const id = uid("conv");
  const conv = await startConversation(alice, id);
  const e = await rejection(conv.participant(uid("nobody")).createIfNotExists());
  assert.match(errorText(e), /failed, got status 40\d /);
});

test("delete removes bob, and deleting him again resolves", async () => {
  const id = uid("conv");
  const conv = await startConversation(alice, id, ["bob"]);
  await conv.participant("bob").delete();
  assert.equal(await conv.participant("bob").get(), null);
  assert.equal(await bob.conversation(id).get(), null);
  await conv.participant("bob").delete();
});

test("get of someone who is not a participant is null while alice is one", async () => {
  const id = uid("conv");
  const conv = await startConversation(alice, id);
  assert.equal(await conv.participant("bob").get(), null);
});

test("get of another user in a conversation alice is not in rejects with NOT_A_PARTICIPANT", async () => {
  const id = uid("conv");
  await startConversation(bob, id);
  const e = await rejection(alice.conversation(id).participant("bob").get());
  assert.match(errorText(e), new RegExp(`^Get participant bob in conversation ${id} failed, got status 403 NOT_A_PARTICIPANT`));
});

test("get of herself in a conversation alice is not in is null", async () => {
  const id = uid("conv");
  await startConversation(bob, id);
  assert.equal(await alice.conversation(id).participant("alice").get(), null);
});

test("the participant list shows the 10 newest participants first, and loadMore the rest", async () => {
  const id = uid("crowd");
  const people = Array.from({ length: 12 }, (_, i) => uid(`p${i}`));
  await createUsers(alice, people);
  const conv = await startConversation(alice, id, people);
  const w = watch((cb) => conv.subscribeParticipants(cb));
  const state = await w.sub.connected;
  const newestFirst = ["alice", ...people].reverse();
  assert.equal(state.latestSnapshot.length, 10);
  assert.deepEqual(state.latestSnapshot.map((p) => p.user.id), newestFirst.slice(0, 10));
  assert.equal(state.loadedAll, false);
  for (let i = 1; i < 10; i++) assert.ok(state.latestSnapshot[i - 1].joinedAt > state.latestSnapshot[i].joinedAt);
  await assert.rejects(w.sub.loadMore(51), /cannot load more than 50/);
  await w.sub.loadMore();
  const all = await w.until((l, loadedAll) => l.length === 13 && loadedAll, "13 participants, loadedAll");
  assert.deepEqual(all.map((p) => p.user.id), newestFirst);
  w.unsubscribe();
});

test("a non-participant gets a null participant list", async () => {
  const id = uid("conv");
  await startConversation(alice, id);
  const w = watch((cb) => bob.conversation(id).subscribeParticipants(cb));
  const state = await w.sub.connected;
  assert.equal(state.latestSnapshot, null);
  w.unsubscribe();
});

test("bob sees carol join and leave in his participant list", async () => {
  const id = uid("conv");
  const carol = uid("carol");
  await createUsers(alice, [carol]);
  const conv = await startConversation(alice, id, ["bob"]);
  const w = watch((cb) => bob.conversation(id).subscribeParticipants(cb));
  await w.until((l) => l?.length === 2, "alice and bob");
  await conv.participant(carol).createIfNotExists();
  const joined = await w.until((l) => l?.length === 3, "carol joined");
  assert.equal(joined[0].user.id, carol, "the newest participant comes first");
  await conv.participant(carol).delete();
  const left = await w.until((l) => l?.length === 2, "carol left");
  assert.deepEqual(left.map((p) => p.user.id).sort(), ["alice", "bob"]);
  w.unsubscribe();
});

test("bob's own participant subscription follows his access and becomes null when he is removed", async () => {
  const id = uid("conv");
  const conv = await startConversation(alice, id, ["bob"]);
  const w = watch((cb) => bob.conversation(id).participant("bob").subscribe(cb));
  await w.until((p) => p?.access === "ReadWrite", "ReadWrite");
  await conv.participant("bob").set({ access: "Read" });
  await w.until((p) => p?.access === "Read", "Read");
  await conv.participant("bob").delete();
  await w.until((p) => p === null, "null after removal");
  w.unsubscribe();
});

test("a change to bob's own participation shows in his conversation snapshot", async () => {
  const id = uid("conv");
  const conv = await startConversation(alice, id, ["bob"]);
  const w = watch((cb) => bob.conversation(id).subscribe(cb));
  await w.until((c) => c?.access === "ReadWrite", "ReadWrite");
  await conv.participant("bob").edit({ access: "Read", notify: false });
  const c = await w.until((c) => c?.access === "Read", "Read");
  await w.until((c) => c?.notify === false, "notify false");
  assert.equal(c.id, id);
  w.unsubscribe();
});

test("ConversationRef.set by a participant changes only their own participation in it", async () => {
  const id = uid("conv");
  await startConversation(alice, id, ["bob"]);
  await bob.conversation(id).set({ notify: false });
  assert.equal((await bob.conversation(id).get()).notify, false);
  assert.equal((await alice.conversation(id).get()).notify, true);
});

test("alice leaves a conversation by deleting her own participant: it leaves her list", async () => {
  const id = uid("leave");
  const conv = await startConversation(alice, id, ["bob"]);
  const w = watch((cb) => alice.subscribeConversations(cb));
  await w.until((l) => l.some((c) => c.id === id), "in alice's list");
  await conv.participant("alice").delete();
  await w.until((l) => !l.some((c) => c.id === id), "gone from alice's list");
  assert.equal(await alice.conversation(id).get(), null);
  const rest = await bob.conversation(id).subscribeParticipants().connected;
  assert.deepEqual(rest.latestSnapshot.map((p) => p.user.id), ["bob"]);
  w.unsubscribe();
});
