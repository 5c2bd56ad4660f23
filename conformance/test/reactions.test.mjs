// MessageRef.reactions / reaction and ReactionsRef (add, remove, getFirstReactions, subscribe,
// loadMore), plus the reaction summary in MessageSnapshot (notes §4.3.6, §6.4, §6.5).

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
  rawSocket,
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

async function messageWithBob() {
  const id = uid("react");
  const conv = await startConversation(alice, id, ["bob"]);
  const ref = await conv.send("react to me");
  return { id, ref };
}

test("reactions() and reaction() name the same emoji on the same message", async () => {
  const { id, ref } = await messageWithBob();
  const a = alice.conversation(id).message(ref.id).reactions("👍");
  const b = alice.conversation(id).message(ref.id).reaction("👍");
  for (const r of [a, b]) {
    assert.equal(r.emoji, "👍");
    assert.equal(r.messageId, ref.id);
    assert.equal(r.conversationId, id);
  }
});

test("alice's reaction shows in the summary: count 1, reacted for her, not for bob", async () => {
  const { id, ref } = await messageWithBob();
  const aliceList = watch((cb) => alice.conversation(id).subscribeMessages(cb));
  const bobList = watch((cb) => bob.conversation(id).subscribeMessages(cb));
  await aliceList.until((l) => l?.length === 1, "alice's list");
  await bobList.until((l) => l?.length === 1, "bob's list");
  await alice.conversation(id).message(ref.id).reactions("👍").add();
  const [mine] = await aliceList.until((l) => l[0].reactions.length === 1, "alice sees the reaction");
  assert.deepEqual(mine.reactions, [{ emoji: "👍", count: 1, currentUserReacted: true }]);
  const [theirs] = await bobList.until((l) => l[0].reactions.length === 1, "bob sees the reaction");
  assert.deepEqual(theirs.reactions, [{ emoji: "👍", count: 1, currentUserReacted: false }]);

  await bob.conversation(id).message(ref.id).reactions("👍").add();
  await aliceList.until((l) => l[0].reactions[0]?.count === 2, "count 2 for alice");
  const [both] = await bobList.until((l) => l[0].reactions[0]?.count === 2 && l[0].reactions[0].currentUserReacted, "bob reacted");
  assert.deepEqual(both.reactions, [{ emoji: "👍", count: 2, currentUserReacted: true }]);

  await alice.conversation(id).message(ref.id).reactions("👍").remove();
  const [after] = await bobList.until((l) => l[0].reactions[0]?.count === 1, "count back to 1");
  assert.deepEqual(after.reactions, [{ emoji: "👍", count: 1, currentUserReacted: true }]);
  const [alices] = await aliceList.until((l) => l[0].reactions[0]?.count === 1, "alice: count 1");
  assert.equal(alices.reactions[0].currentUserReacted, false);
  aliceList.unsubscribe();
  bobList.unsubscribe();
});

test("the summary lists emoji in the order they were first used, and drops an emoji at count 0", async () => {
  const { id, ref } = await messageWithBob();
  const msg = alice.conversation(id).message(ref.id);
  await msg.reactions(":cat-roomba:").add();
  await msg.reactions("🎉").add();
  await msg.reactions("👍").add();
  let m = await msg.get();
  assert.deepEqual(m.reactions.map((r) => r.emoji), [":cat-roomba:", "🎉", "👍"]);
  await msg.reactions("🎉").remove();
  const w = watch((cb) => alice.conversation(id).subscribeMessages(cb));
  [m] = await w.until((l) => l?.[0]?.reactions.length === 2, "two emoji left");
  assert.deepEqual(m.reactions.map((r) => r.emoji), [":cat-roomba:", "👍"]);
  w.unsubscribe();
});

test("adding the same reaction twice counts once, and removing one that is not there resolves", async () => {
  const { id, ref } = await messageWithBob();
  const r = alice.conversation(id).message(ref.id).reactions("❤️");
  await r.add();
  await r.add();
  assert.deepEqual((await alice.conversation(id).message(ref.id).get()).reactions, [{ emoji: "❤️", count: 1, currentUserReacted: true }]);
  await r.remove();
  await r.remove();
  assert.deepEqual((await bob.conversation(id).message(ref.id).get()).reactions, []);
});

test("the reaction list names who reacted, oldest first, and follows adds and removes live", async () => {
  const { id, ref } = await messageWithBob();
  await bob.conversation(id).message(ref.id).reactions("👍").add();
  const w = watch((cb) => alice.conversation(id).message(ref.id).reactions("👍").subscribe(cb));
  const first = await w.until((l) => l?.length === 1, "bob's reaction");
  assert.equal(first[0].user.id, "bob");
  assert.equal(first[0].user.name, "Bob");
  assert.equal(typeof first[0].createdAt, "number");
  assert.equal(w.loadedAll.at(-1), true);
  await alice.conversation(id).message(ref.id).reactions("👍").add();
  const two = await w.until((l) => l?.length === 2, "alice's reaction added");
  assert.deepEqual(two.map((r) => r.user.id), ["bob", "alice"]);
  assert.ok(two[0].createdAt < two[1].createdAt);
  await bob.conversation(id).message(ref.id).reactions("👍").remove();
  const one = await w.until((l) => l?.length === 1, "bob's reaction removed");
  assert.equal(one[0].user.id, "alice");
  w.unsubscribe();
});

test("an emoji nobody used has an empty reaction list", async () => {
  const { id, ref } = await messageWithBob();
  assert.deepEqual(await alice.conversation(id).message(ref.id).reactions("🦀").getFirstReactions(), []);
});

test("the reaction list of a message in a conversation bob is not in is null", async () => {
  const id = uid("private");
  const conv = await startConversation(alice, id);
  const ref = await conv.send("mine");
  await conv.message(ref.id).reactions("👍").add();
  assert.equal(await bob.conversation(id).message(ref.id).reactions("👍").getFirstReactions(), null);
  const e = await rejection(bob.conversation(id).message(ref.id).reactions("👍").add());
  assert.match(errorText(e), new RegExp(`^Add 👍 reaction on message ${ref.id} in conversation ${id} failed, got status 403 `));
});

test("31 reactions: the list loads 30, loadMore the 31st; getFirstReactions gives the first 10", async () => {
  const id = uid("popular");
  const fans = Array.from({ length: 31 }, (_, i) => uid(`fan${i}`));
  await createUsers(alice, fans);
  const conv = await startConversation(alice, id, fans);
  const ref = await conv.send("popular message");
  const path = `/conversations/${id}/messages/${ref.id}/reactions/${encodeURIComponent("🔥")}`;
  // One raw socket per fan, reacting in order, so that createdAt follows the fan's index.
  for (const fan of fans) {
    const raw = await rawSocket(emu, fan);
    const [, status, data] = await raw.request("PUT", `${path}/${encodeURIComponent(fan)}`);
    assert.equal(status, 200, JSON.stringify(data));
    raw.close();
  }
  const r = alice.conversation(id).message(ref.id).reactions("🔥");
  const firstTen = await r.getFirstReactions();
  assert.deepEqual(firstTen.map((x) => x.user.id), fans.slice(0, 10));

  const w = watch((cb) => r.subscribe(cb));
  const state = await w.sub.connected;
  assert.equal(state.latestSnapshot.length, 30);
  assert.deepEqual(state.latestSnapshot.map((x) => x.user.id), fans.slice(0, 30));
  assert.equal(state.loadedAll, false);
  await w.sub.loadMore();
  const all = await w.until((l, loadedAll) => l?.length === 31 && loadedAll, "31 reactions, loadedAll");
  assert.equal(all[30].user.id, fans[30]);
  w.unsubscribe();

  const m = await alice.conversation(id).message(ref.id).get();
  assert.deepEqual(m.reactions, [{ emoji: "🔥", count: 31, currentUserReacted: false }]);
});

test("a custom emoji of up to 50 characters is accepted, and a longer one is refused", async () => {
  const { id, ref } = await messageWithBob();
  const msg = alice.conversation(id).message(ref.id);
  const fifty = `:${"a".repeat(48)}:`;
  await msg.reactions(fifty).add();
  const tooLong = `:${"b".repeat(58)}:`;
  const e = await rejection(msg.reactions(tooLong).add());
  assert.match(errorText(e), /failed, got status 400 /);
  assert.deepEqual((await msg.get()).reactions.map((r) => r.emoji), [fifty]);
});

test("a message takes at most 50 different reactions", async () => {
  const { id, ref } = await messageWithBob();
  const msg = alice.conversation(id).message(ref.id);
  for (let i = 0; i < 50; i++) await msg.reactions(`:e${i}:`).add();
  const e = await rejection(msg.reactions(":one-too-many:").add());
  assert.match(errorText(e), /failed, got status 400 /);
  // Reacting again with an emoji already there is still fine.
  await bob.conversation(id).message(ref.id).reactions(":e0:").add();
  const m = await bob.conversation(id).message(ref.id).get();
  assert.equal(m.reactions.length, 50);
  assert.deepEqual(m.reactions[0], { emoji: ":e0:", count: 2, currentUserReacted: true });
});
