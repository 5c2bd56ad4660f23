// What searchMessages / searchConversations find: the rules of the setQuery doc comments in the
// official .d.ts (each query word starts a word of the text; messages by their text, never files or
// locations; conversations by subject or custom.search, each on its own), and how a page limit
// the emulator refuses reaches the client (notes §1.7, §12.5).

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startEmulator, session, user, closeAll, uid, startConversation, rejection, errorText } from "../lib/emulator.mjs";

let emu, alice, bob;

before(async () => {
  emu = await startEmulator();
  alice = await user(session(emu, "alice"));
  bob = await user(session(emu, "bob"), { name: "Rainbow Bob" });
});
after(closeAll);

/// A word no other test uses: every query below includes one, so tests sharing alice's
/// conversations cannot find each other's messages.
const word = (prefix) => `${prefix}${process.pid}x${Math.random().toString(36).slice(2, 8)}`;

const texts = (state) => state.results.map((r) => r.message.plaintext);

test("a message is found when each word of the query starts a word of its text", async () => {
  const w = word("rules");
  const conv = await startConversation(alice, uid("words"));
  const rainbows = `I like to look at rainbows ${w}`;
  await conv.send(rainbows);
  await conv.send(`Bows, and arrows! ${w}`);
  const search = alice.searchMessages();
  for (const query of ["rainbows", "rain", "look at", "(look, i *LIKE* rain)", "look look look!"]) {
    assert.deepEqual(texts(await search.setQuery(`${query} ${w}`)), [rainbows], query);
  }
  for (const query of ["rain-bows", "look-at", "I like to look at rainbows too", "ainbows"]) {
    assert.deepEqual(texts(await search.setQuery(`${query} ${w}`)), [], query);
  }
  assert.deepEqual(texts(await search.setQuery(`bows ${w}`)), [`Bows, and arrows! ${w}`], "not rainbows");
  assert.deepEqual(texts(await search.setQuery(`${w.toUpperCase()} ARROWS`)), [`Bows, and arrows! ${w}`]);
});

test("file and location messages are never found, however their plaintext reads", async () => {
  const w = word("files");
  const conv = await startConversation(alice, uid("files"));
  const token = await alice.uploadImage(new Blob([new Uint8Array([1, 2, 3])], { type: "image/png" }), { filename: `${w}.png` });
  await conv.send({ content: [{ type: "file", fileToken: token }] });
  await conv.send({ content: [{ type: "location", latitude: 52.37, longitude: 4.89 }] });
  await conv.send(`a picture of ${w}`);
  const search = alice.searchMessages();
  const state = await search.setQuery(w);
  assert.deepEqual(texts(state), [`a picture of ${w}`]);
  assert.equal(state.loadedAll, true);
  for (const query of ["📷", "📍", `${w}.png`]) {
    assert.deepEqual(texts(await search.setQuery(query)), [], query);
  }
});

test("a conversation is found by its subject or its custom.search, never by words split across both", async () => {
  const w = word("conv");
  const [kittens, tagged, named] = [uid("kittens"), uid("tagged"), uid("named")];
  await startConversation(alice, kittens, [], { subject: `Kittens ${w}`, custom: { search: `where to buy food ${w}` } });
  await startConversation(alice, tagged, [], { subject: "Pets", custom: { search: `Kittens ${w}` } });
  await startConversation(alice, named, ["bob"], { custom: { topic: `kittens ${w}` } });
  const search = alice.searchConversations();
  const ids = async (query) => (await search.setQuery(query)).results.map((c) => c.id).sort();

  assert.deepEqual(await ids(`kittens ${w}`), [kittens, tagged].sort());
  assert.deepEqual(await ids(`buy food ${w}`), [kittens]);
  assert.deepEqual(await ids(`kitten food ${w}`), [], "subject and custom.search are not combined");
  assert.deepEqual(await ids(`pets ${w}`), [], "Pets is the subject, the word is in custom.search");
  assert.deepEqual(await ids("rainbow bob"), [], "participant names are not searched");
  assert.deepEqual(await ids(`ittens ${w}`), [], "a query word must start a word");
});

test("a page limit above 50 is refused by the emulator and the client rejects with a string", async () => {
  const w = word("limit");
  const conv = await startConversation(alice, uid("limit"));
  for (let i = 0; i < 4; i++) await conv.send(`${w} ${i}`);
  const search = alice.searchMessages();
  assert.equal((await search.setQuery(w)).results.length, 3);
  const e = await rejection(search.loadMore(51));
  assert.equal(typeof e, "string", "the official client rejects search errors with a plain string");
  assert.match(errorText(e), /^Search failed, got status 400 BAD_REQUEST, reasons: limit must be between 1 and 50/);
  const fine = await alice.searchMessages().setQuery(w);
  assert.equal(fine.results.length, 3, "a new search works");
});
