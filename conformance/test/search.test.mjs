// TalkSession.searchMessages / searchConversations: setQuery, loadMore, filters (notes §1.7).

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startEmulator, session, user, closeAll, uid, startConversation } from "../lib/emulator.mjs";

let emu, alice, bob;

before(async () => {
  emu = await startEmulator();
  alice = await user(session(emu, "alice"));
  bob = await user(session(emu, "bob"));
});
after(closeAll);

/// A word no other test uses.
const word = (prefix) => `${prefix}${process.pid}x${Math.random().toString(36).slice(2, 8)}`;

test("message search finds alice's messages 3 at a time, with their conversation, and loadMore the rest", async () => {
  const w = word("kumquat");
  const [a, b, hidden] = [uid("sa"), uid("sb"), uid("shidden")];
  const convA = await startConversation(alice, a, ["bob"]);
  const convB = await startConversation(alice, b, [], { custom: { topic: "b" } });
  const convHidden = await startConversation(bob, hidden);
  for (let i = 0; i < 4; i++) await convA.send(`${w} number ${i}`);
  await bob.conversation(a).send(`bob says ${w}`);
  await convB.send(`in b: ${w}`);
  await convA.send("nothing to see");
  await convHidden.send(`bob alone: ${w}`);

  const statuses = [];
  const search = alice.searchMessages((results, status) => statuses.push([results.length, status]));
  const first = await search.setQuery(w);
  assert.equal(first.results.length, 3);
  assert.equal(first.loadedAll, false);
  for (const r of first.results) {
    assert.ok(r.message.plaintext.includes(w), r.message.plaintext);
    assert.ok([a, b].includes(r.conversation.id));
    assert.equal(typeof r.conversation.subject === "string" || r.conversation.subject === null, true);
  }
  const more = await search.loadMore();
  assert.equal(more.loadedAll, true);
  assert.equal(more.results.length, 6);
  const texts = more.results.map((r) => r.message.plaintext).sort();
  assert.deepEqual(texts, [...[0, 1, 2, 3].map((i) => `${w} number ${i}`), `bob says ${w}`, `in b: ${w}`].sort());
  assert.ok(!texts.some((t) => t.startsWith("bob alone")), "nothing from a conversation alice is not in");
  const bobs = more.results.find((r) => r.message.plaintext.startsWith("bob says"));
  assert.equal(bobs.message.sender.id, "bob");
  assert.equal(bobs.conversation.id, a);
  assert.ok(statuses.some(([, s]) => s === "searching"), "reported searching");
  assert.deepEqual(statuses.at(-1), [6, "loadedAll"]);
});

test("message search with a conversation filter only searches matching conversations", async () => {
  const w = word("quince");
  const [a, b] = [uid("fa"), uid("fb")];
  await (await startConversation(alice, a, [], { custom: { topic: "a" } })).send(`${w} in a`);
  await (await startConversation(alice, b, [], { custom: { topic: "b" } })).send(`${w} in b`);
  const search = alice.searchMessages();
  const state = await search.setQuery(w, { conversation: { custom: { topic: ["==", "b"] } } });
  assert.deepEqual(state.results.map((r) => r.message.plaintext), [`${w} in b`]);
  assert.equal(state.results[0].conversation.id, b);
  assert.equal(state.loadedAll, true);
});

test("message search handles spaces, accents and ampersands in the query", async () => {
  const w = word("tricky");
  const id = uid("enc");
  await (await startConversation(alice, id)).send(`say hello wörld & more ${w}`);
  await alice.conversation(id).send(`hello world and more ${w}`);
  const state = await alice.searchMessages().setQuery(`wörld & more ${w}`);
  assert.deepEqual(state.results.map((r) => r.message.plaintext), [`say hello wörld & more ${w}`]);
});

test("an empty search query gives no results and is fully loaded", async () => {
  const state = await alice.searchMessages().setQuery("");
  assert.deepEqual(state, { results: [], loadedAll: true });
});

test("a query that matches nothing gives no results and is fully loaded", async () => {
  const state = await alice.searchMessages().setQuery(word("nothing"));
  assert.deepEqual(state.results, []);
  assert.equal(state.loadedAll, true);
});

test("conversation search finds conversations by subject, 3 at a time, and loadMore the rest", async () => {
  const w = word("topic");
  const ids = [];
  for (let i = 0; i < 5; i++) {
    ids.push(uid(`cs${i}`));
    await startConversation(alice, ids[i], [], { subject: `About ${w} #${i}` });
  }
  await startConversation(alice, uid("other"), [], { subject: "Unrelated" });
  await startConversation(bob, uid("bobs"), [], { subject: `Bob's ${w}` });
  const search = alice.searchConversations();
  const first = await search.setQuery(w);
  assert.equal(first.results.length, 3);
  assert.equal(first.loadedAll, false);
  const all = await search.loadMore();
  assert.equal(all.loadedAll, true);
  assert.deepEqual(all.results.map((c) => c.id).sort(), [...ids].sort());
  for (const c of all.results) {
    assert.ok(c.subject.includes(w));
    assert.equal(c.access, "ReadWrite");
  }
});

test("conversation search with a filter only returns matching conversations", async () => {
  const w = word("filtered");
  const [keep, drop] = [uid("keep"), uid("drop")];
  await startConversation(alice, keep, [], { subject: `${w} keep`, custom: { team: "x" } });
  await startConversation(alice, drop, [], { subject: `${w} drop`, custom: { team: "y" } });
  const state = await alice.searchConversations().setQuery(w, { conversation: { custom: { team: ["==", "x"] } } });
  assert.deepEqual(state.results.map((c) => c.id), [keep]);
});
