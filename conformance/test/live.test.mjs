// Live updates between two sessions of different users: what one user does shows up in the
// other's subscriptions without re-reading (notes §5.2, §5.3).

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import {
  startEmulator,
  session,
  user,
  watch,
  closeAll,
  endSession,
  uid,
  startConversation,
  createUsers,
  sleep,
  rawSocket,
  rejection,
  errorText,
  loadedBy,
} from "../lib/emulator.mjs";

let emu, alice, bob;

before(async () => {
  emu = await startEmulator();
  alice = await user(session(emu, "alice"));
  bob = await user(session(emu, "bob"));
});
after(closeAll);

test("bob sees alice's message in his message list", async () => {
  const id = uid("live");
  const conv = await startConversation(alice, id, ["bob"]);
  const w = watch((cb) => bob.conversation(id).subscribeMessages(cb));
  await w.until((l) => Array.isArray(l) && l.length === 0, "an empty list");
  await conv.send("hi bob");
  const [m] = await w.until((l) => l?.length === 1, "alice's message");
  assert.equal(m.plaintext, "hi bob");
  assert.equal(m.sender.id, "alice");
  await bob.conversation(id).send("hi alice");
  const list = await w.until((l) => l?.length === 2, "his own reply");
  assert.deepEqual(list.map((m) => m.plaintext), ["hi alice", "hi bob"]);
  w.unsubscribe();
});

test("bob's conversation list shows alice's new message as lastMessage and moves it to the top", async () => {
  const [older, newer] = [uid("older"), uid("newer")];
  const conv = await startConversation(alice, older, ["bob"]);
  await startConversation(alice, newer, ["bob"]);
  const w = watch((cb) => bob.subscribeConversations(cb));
  await w.until((l) => l[0]?.id === newer, "newer first");
  await conv.send("news");
  await w.until((l) => l[0]?.id === older && l[0].lastMessage?.plaintext === "news", "older on top");
  // The unread count arrives in its own event (side.edited), after message.created.
  const list = await w.until((l) => l[0]?.unreadMessageCount === 1, "one unread");
  assert.equal(list[0].id, older);
  assert.equal(list[0].isUnread, true);
  w.unsubscribe();
});

test("typing: bob sees alice typing, alice does not see herself, and it stops when she sends", async () => {
  const id = uid("typing");
  const conv = await startConversation(alice, id, ["bob"]);
  const bobSees = watch((cb) => bob.conversation(id).subscribeTyping(cb));
  const aliceSees = watch((cb) => alice.conversation(id).subscribeTyping(cb));
  await bobSees.until((t) => t?.many === false && t.users.length === 0, "nobody typing");
  await aliceSees.until((t) => t?.many === false && t.users.length === 0, "nobody typing (alice)");
  await conv.markAsTyping();
  const typing = await bobSees.until((t) => t?.users?.length === 1, "alice typing");
  assert.equal(typing.many, false);
  assert.equal(typing.users[0].id, "alice");
  assert.equal(typing.users[0].name, "Alice");
  await conv.send("done typing");
  await bobSees.until((t) => t?.users?.length === 0, "alice stopped typing");
  assert.ok(aliceSees.snapshots.every((t) => t.users.length === 0), "alice never saw herself typing");
  bobSees.unsubscribe();
  aliceSees.unsubscribe();
});

test("typing of two users is listed in the order they started", async () => {
  const id = uid("typing");
  const carol = uid("carol");
  await createUsers(alice, [carol]);
  const carolSession = session(emu, carol);
  await startConversation(alice, id, ["bob", carol]);
  const w = watch((cb) => bob.conversation(id).subscribeTyping(cb));
  await w.until((t) => t?.users?.length === 0, "nobody typing");
  await carolSession.conversation(id).markAsTyping();
  await w.until((t) => t?.users?.length === 1, "carol typing");
  await alice.conversation(id).markAsTyping();
  const both = await w.until((t) => t?.users?.length === 2, "two typing");
  assert.deepEqual(both.users.map((u) => u.id), [carol, "alice"]);
  w.unsubscribe();
  endSession(carolSession);
});

test("typing ends by itself 10 s after the last markAsTyping, and markAsTyping again extends it", async () => {
  const id = uid("typing");
  const conv = await startConversation(alice, id, ["bob"]);
  const w = watch((cb) => bob.conversation(id).subscribeTyping(cb));
  await w.until((t) => t?.users?.length === 0, "nobody typing");
  const start = Date.now();
  await conv.markAsTyping();
  await w.until((t) => t?.users?.length === 1, "alice typing");
  await sleep(4_000);
  await conv.markAsTyping();
  const renewed = Date.now();
  await sleep(10_000 - (Date.now() - start) + 1_000);
  assert.equal(w.latest.users.length, 1, "still typing 11 s after the first call: the second one reset the timer");
  await w.until((t) => t?.users?.length === 0, "typing over", 6_000);
  const lasted = Date.now() - renewed;
  assert.ok(lasted >= 9_500 && lasted < 12_000, `typing lasted ${lasted} ms after the last markAsTyping`);
  w.unsubscribe();
});

test("more than 5 people typing show as many; when one stops, bob sees the 5 names again", async () => {
  const id = uid("many");
  const typists = Array.from({ length: 6 }, (_, i) => uid(`typist${i}`));
  await createUsers(alice, typists);
  await startConversation(alice, id, ["bob", ...typists]);
  const w = watch((cb) => bob.conversation(id).subscribeTyping(cb));
  await w.until((t) => t?.users?.length === 0, "nobody typing");
  const sockets = [];
  for (const t of typists) {
    const raw = await rawSocket(emu, t);
    sockets.push(raw);
    const [, status] = await raw.request("POST", `/me/conversations/${id}/typing`);
    assert.equal(status, 200);
  }
  await w.until((t) => t?.many === true, "many typing");
  assert.ok(w.snapshots.some((t) => t.many === false && t.users?.length === 5), "5 typists were still listed by name");
  assert.deepEqual(Object.keys(w.latest), ["many"]);
  const [, status] = await sockets[0].request("POST", `/conversations/${id}/messages`, {
    content: [{ type: "text", children: ["done"] }],
    idempotencyKey: `many-${id}`,
  });
  assert.equal(status, 200);
  const few = await w.until((t) => t?.many === false, "few typing again");
  assert.deepEqual(few.users.map((u) => u.id), typists.slice(1));
  for (const raw of sockets) raw.close();
  w.unsubscribe();
});

test("markAsTyping in a conversation alice is not in rejects", async () => {
  const id = uid("typing");
  await startConversation(bob, id);
  const e = await rejection(alice.conversation(id).markAsTyping());
  assert.match(errorText(e), new RegExp(`^Set user as typing in  ${id} failed, got status 403 NOT_A_PARTICIPANT`));
});

test("a non-participant's typing subscription is null", async () => {
  const id = uid("typing");
  await startConversation(alice, id);
  const w = watch((cb) => bob.conversation(id).subscribeTyping(cb));
  const state = await w.sub.connected;
  assert.equal(state.latestSnapshot, null);
  w.unsubscribe();
});

test("bob's conversation list gains the conversation when alice adds him and loses it when she removes him", async () => {
  const id = uid("joinleave");
  const conv = await startConversation(alice, id);
  await conv.send("before bob");
  const w = watch((cb) => bob.subscribeConversations(cb));
  await w.sub.connected;
  assert.ok(!w.latest.some((c) => c.id === id));
  await conv.participant("bob").createIfNotExists();
  const list = await w.until((l) => l.some((c) => c.id === id), "conversation appears");
  const c = list.find((c) => c.id === id);
  assert.equal(c.access, "ReadWrite");
  assert.equal(list[0].id, id, "it is bob's most recent conversation");
  await conv.participant("bob").delete();
  await w.until((l) => !l.some((c) => c.id === id), "conversation disappears");
  w.unsubscribe();
});

test("when alice removes bob, his conversation, messages and participants become null", async () => {
  const id = uid("kicked");
  const conv = await startConversation(alice, id, ["bob"]);
  await loadedBy(bob, id);
  await conv.send("bye soon");
  const c = watch((cb) => bob.conversation(id).subscribe(cb));
  const m = watch((cb) => bob.conversation(id).subscribeMessages(cb));
  const p = watch((cb) => bob.conversation(id).subscribeParticipants(cb));
  await c.until((x) => x?.id === id, "conversation");
  await m.until((x) => x?.length === 1, "messages");
  await p.until((x) => x?.length === 2, "participants");
  await conv.participant("bob").delete();
  await c.until((x) => x === null, "conversation null");
  await m.until((x) => x === null, "messages null");
  await p.until((x) => x === null, "participants null");
  // And back: re-adding him brings the data back.
  await conv.participant("bob").createIfNotExists();
  await c.until((x) => x?.id === id, "conversation back");
  await m.until((x) => x?.length === 1, "messages back");
  for (const w of [c, m, p]) w.unsubscribe();
});

test("bob's typing subscription works again after he is re-added to the conversation", async () => {
  const id = uid("rejoin");
  const conv = await startConversation(alice, id, ["bob"]);
  const w = watch((cb) => bob.conversation(id).subscribeTyping(cb));
  await w.until((t) => t?.users?.length === 0, "nobody typing");
  await conv.participant("bob").delete();
  await w.until((t) => t === null, "typing null after removal");
  await conv.participant("bob").createIfNotExists();
  // The client does not refetch typing on side.created; the server sends typing.available.
  await w.until((t) => t?.users?.length === 0, "typing available again");
  await conv.markAsTyping();
  await w.until((t) => t?.users?.length === 1, "alice typing");
  w.unsubscribe();
});

test("alice's rename shows in bob's message list as the sender's new name", async () => {
  const writerId = uid("writer");
  const writer = await user(session(emu, writerId), { name: "Writer" });
  const id = uid("rename");
  const conv = await startConversation(writer, id, ["bob"]);
  await loadedBy(bob, id);
  await conv.send("signed");
  const w = watch((cb) => bob.conversation(id).subscribeMessages(cb));
  await w.until((l) => l?.[0]?.sender?.name === "Writer", "the original name");
  await writer.currentUser.set({ name: "Renamed Writer" });
  const [m] = await w.until((l) => l?.[0]?.sender?.name === "Renamed Writer", "the new name");
  assert.equal(m.sender.id, writerId);
  w.unsubscribe();
  endSession(writer);
});

test("a rename shows in bob's participant list and conversation lastMessage too", async () => {
  const writerId = uid("writer");
  const writer = await user(session(emu, writerId), { name: "Before" });
  const id = uid("rename");
  const conv = await startConversation(writer, id, ["bob"]);
  await loadedBy(bob, id);
  await conv.send("hello");
  const p = watch((cb) => bob.conversation(id).subscribeParticipants(cb));
  const c = watch((cb) => bob.conversation(id).subscribe(cb));
  await p.until((l) => l?.some((x) => x.user.name === "Before"), "participant Before");
  await c.until((x) => x?.lastMessage?.sender.name === "Before", "lastMessage sender Before");
  await writer.currentUser.set({ name: "After" });
  await p.until((l) => l?.some((x) => x.user.name === "After"), "participant After");
  await c.until((x) => x?.lastMessage?.sender.name === "After", "lastMessage sender After");
  p.unsubscribe();
  c.unsubscribe();
  endSession(writer);
});

test("bob sees alice's subject change in his conversation snapshot", async () => {
  const id = uid("subject");
  const conv = await startConversation(alice, id, ["bob"], { subject: "Before", custom: { a: "1" } });
  const w = watch((cb) => bob.conversation(id).subscribe(cb));
  await w.until((c) => c?.subject === "Before", "subject Before");
  await conv.set({ subject: "After", custom: { a: null, b: "2" } });
  const c = await w.until((c) => c?.subject === "After", "subject After");
  await w.until((c) => c?.custom?.b === "2" && !("a" in c.custom), "custom patched");
  assert.equal(c.id, id);
  w.unsubscribe();
});

test("bob sees alice's edit and deletion of a message live", async () => {
  const id = uid("editlive");
  const conv = await startConversation(alice, id, ["bob"]);
  await loadedBy(bob, id);
  const ref = await conv.send("draft");
  await conv.send("second");
  const w = watch((cb) => bob.conversation(id).subscribeMessages(cb));
  await w.until((l) => l?.length === 2, "two messages");
  await conv.message(ref.id).edit("final");
  await w.until((l) => l?.[1]?.plaintext === "final", "the edit");
  await conv.message(ref.id).delete();
  const list = await w.until((l) => l?.length === 1, "the deletion");
  assert.equal(list[0].plaintext, "second");
  w.unsubscribe();
});

test("when the last message is deleted, bob's conversation shows the previous one as lastMessage", async () => {
  const id = uid("lastdel");
  const conv = await startConversation(alice, id, ["bob"]);
  await loadedBy(bob, id);
  await conv.send("stays");
  const gone = await conv.send("goes");
  const w = watch((cb) => bob.conversation(id).subscribe(cb));
  await w.until((c) => c?.lastMessage?.plaintext === "goes", "lastMessage goes");
  await conv.message(gone.id).delete();
  await w.until((c) => c?.lastMessage?.plaintext === "stays", "lastMessage stays");
  w.unsubscribe();
});

test("bob's unread count rises with each message from alice and markAsRead clears it in his list", async () => {
  const id = uid("unreadlive");
  const conv = await startConversation(alice, id, ["bob"]);
  const w = watch((cb) => bob.subscribeConversations(cb));
  await w.until((l) => l.some((c) => c.id === id), "the conversation");
  for (let i = 1; i <= 3; i++) {
    await conv.send(`n${i}`);
    await w.until((l) => l.find((c) => c.id === id)?.unreadMessageCount === i, `${i} unread`);
  }
  await bob.conversation(id).markAsRead();
  const list = await w.until((l) => l.find((c) => c.id === id)?.unreadMessageCount === 0, "read");
  assert.equal(list.find((c) => c.id === id).isUnread, false);
  w.unsubscribe();
});

test("online status: true when bob's session connects, false when it ends", async () => {
  const id = uid("onliner");
  await alice.user(id).createIfNotExists({ name: "Onliner" });
  const w = watch((cb) => alice.user(id).subscribeOnline(cb));
  await w.until((o) => o?.isConnected === false, "offline before connecting");
  const s = session(emu, id);
  const keep = watch((cb) => s.currentUser.subscribe(cb));
  await keep.nth(1);
  await w.until((o) => o?.isConnected === true, "online");
  endSession(s);
  await w.until((o) => o?.isConnected === false, "offline again");
  w.unsubscribe();
});

test("a user with two sessions stays online until both end", async () => {
  const id = uid("twice");
  await alice.user(id).createIfNotExists({ name: "Twice" });
  const w = watch((cb) => alice.user(id).subscribeOnline(cb));
  const s1 = session(emu, id);
  const s2 = session(emu, id);
  const k1 = watch((cb) => s1.currentUser.subscribe(cb));
  const k2 = watch((cb) => s2.currentUser.subscribe(cb));
  await Promise.all([k1.nth(1), k2.nth(1)]);
  await w.until((o) => o?.isConnected === true, "online");
  endSession(s1);
  await sleep(300);
  assert.equal(w.latest.isConnected, true, "still online with one session left");
  endSession(s2);
  await w.until((o) => o?.isConnected === false, "offline");
  w.unsubscribe();
});

test("alice's second session sees the message she sent from her first", async () => {
  const id = uid("twotabs");
  const conv = await startConversation(alice, id, ["bob"]);
  const tab2 = session(emu, "alice");
  const w = watch((cb) => tab2.conversation(id).subscribeMessages(cb));
  await w.until((l) => Array.isArray(l) && l.length === 0, "an empty list");
  await conv.send("from tab 1");
  const [m] = await w.until((l) => l?.length === 1, "the message in tab 2");
  assert.equal(m.sender.id, "alice");
  w.unsubscribe();
  endSession(tab2);
});

test("after the client's idle disconnect, the next call opens a new socket that works", async () => {
  const id = uid("idle");
  const s = session(emu, uid("idler"));
  await s.currentUser.createIfNotExists({ name: "Idler" });
  const watcher = watch((cb) => alice.user(s.currentUser.id).subscribeOnline(cb));
  await watcher.until((o) => o?.isConnected === true, "online while the socket is open");
  // With nothing subscribed and nothing in flight, the client closes its socket after 3 s (notes §3.6).
  await watcher.until((o) => o?.isConnected === false, "offline after the idle close", 6_000);
  await startConversation(s, id, ["alice"]);
  await s.conversation(id).send("back again");
  const list = await alice.conversation(id).subscribeMessages().connected;
  assert.equal(list.latestSnapshot[0].plaintext, "back again");
  await watcher.until((o) => o?.isConnected === true, "online again");
  watcher.unsubscribe();
});
