// ConversationRef (get, set, createIfNotExists, markAsRead, markAsUnread, subscribe) and
// TalkSession.subscribeConversations with and without a filter (notes §4.3.2, §4.3.3, §5.5, §5.6).

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
  rejection,
  errorText,
  sleep,
} from "../lib/emulator.mjs";

let emu, alice, bob;

before(async () => {
  emu = await startEmulator();
  alice = await user(session(emu, "alice"));
  bob = await user(session(emu, "bob"));
});
after(closeAll);

const CONVERSATION_FIELDS = [
  "access",
  "createdAt",
  "custom",
  "everyoneReadUntil",
  "id",
  "isUnread",
  "joinedAt",
  "lastMessage",
  "notify",
  "photoUrl",
  "readUntil",
  "subject",
  "unreadMessageCount",
  "welcomeMessages",
];

test("alice creates a conversation and get() returns her view of it", async () => {
  const id = uid("conv");
  const before = Date.now();
  await alice.conversation(id).createIfNotExists({
    subject: "Hello",
    photoUrl: "https://example.com/c.png",
    welcomeMessages: ["Welcome!"],
    custom: { topic: "greetings" },
  });
  const c = await alice.conversation(id).get();
  for (const field of CONVERSATION_FIELDS) assert.ok(field in c, `snapshot has ${field}`);
  assert.equal(c.id, id);
  assert.equal(c.subject, "Hello");
  assert.equal(c.photoUrl, "https://example.com/c.png");
  assert.deepEqual(c.welcomeMessages, ["Welcome!"]);
  assert.deepEqual(c.custom, { topic: "greetings" });
  assert.equal(c.lastMessage, null);
  assert.equal(c.unreadMessageCount, 0);
  assert.equal(c.isUnread, false);
  assert.equal(c.access, "ReadWrite");
  assert.equal(c.notify, true);
  assert.ok(c.createdAt >= before - 1000 && c.createdAt <= Date.now() + 1000, "createdAt is now, in ms");
  assert.ok(c.joinedAt >= c.createdAt, "joined after creation");
  assert.equal(typeof c.readUntil, "number");
  assert.equal(typeof c.everyoneReadUntil, "number");
});

test("createIfNotExists with access and notify sets alice's own participation", async () => {
  const id = uid("conv");
  await alice.conversation(id).createIfNotExists({ access: "Read", notify: "MentionsOnly" });
  const c = await alice.conversation(id).get();
  assert.equal(c.access, "Read");
  assert.equal(c.notify, "MentionsOnly");
});

test("createIfNotExists on an existing conversation resolves and keeps its attributes", async () => {
  const id = uid("conv");
  await alice.conversation(id).createIfNotExists({ subject: "First" });
  await alice.conversation(id).createIfNotExists({ subject: "Second" });
  assert.equal((await alice.conversation(id).get()).subject, "First");
});

test("get() of a conversation that does not exist is null", async () => {
  assert.equal(await alice.conversation(uid("missing")).get(), null);
});

test("get() of a conversation alice is not a participant of is null", async () => {
  const id = uid("private");
  await startConversation(bob, id);
  assert.notEqual(await bob.conversation(id).get(), null);
  assert.equal(await alice.conversation(id).get(), null);
});

test("set changes the subject, merges custom (null deletes a key) and alice's own notify", async () => {
  const id = uid("conv");
  await alice.conversation(id).createIfNotExists({ subject: "Old", custom: { a: "1", b: "2" } });
  await alice.conversation(id).set({ subject: "New", custom: { a: null, c: "3" }, notify: false });
  const c = await alice.conversation(id).get();
  assert.equal(c.subject, "New");
  assert.deepEqual(c.custom, { b: "2", c: "3" });
  assert.equal(c.notify, false);
  assert.equal(c.access, "ReadWrite");
});

test("set on a conversation that does not exist creates it with alice as a participant", async () => {
  const id = uid("conv");
  await alice.conversation(id).set({ subject: "Made by set", custom: { k: "v", gone: null } });
  const c = await alice.conversation(id).get();
  assert.equal(c.subject, "Made by set");
  assert.deepEqual(c.custom, { k: "v" });
});

test("set with photoUrl null and welcomeMessages null clears them", async () => {
  const id = uid("conv");
  await alice.conversation(id).createIfNotExists({ photoUrl: "https://p/1.png", welcomeMessages: ["w"] });
  await alice.conversation(id).set({ photoUrl: null, welcomeMessages: null });
  const c = await alice.conversation(id).get();
  assert.equal(c.photoUrl, null);
  assert.deepEqual(c.welcomeMessages, []);
});

test("the conversation's lastMessage is the newest message, with its sender", async () => {
  const id = uid("conv");
  const conv = await startConversation(alice, id, ["bob"]);
  await conv.send("first");
  await bob.conversation(id).send("second");
  const w = watch((cb) => alice.conversation(id).subscribe(cb));
  const c = await w.until((c) => c?.lastMessage?.plaintext === "second", "lastMessage = second");
  assert.equal(c.lastMessage.sender.id, "bob");
  assert.equal(c.lastMessage.sender.name, "Bob");
  await conv.send("third");
  const c2 = await w.until((c) => c?.lastMessage?.plaintext === "third", "lastMessage = third");
  assert.equal(c2.lastMessage.sender.id, "alice");
  w.unsubscribe();
});

test("bob, who is not a participant, sees a null conversation snapshot", async () => {
  const id = uid("conv");
  await startConversation(alice, id);
  const w = watch((cb) => bob.conversation(id).subscribe(cb));
  const state = await w.sub.connected;
  assert.equal(state.latestSnapshot, null);
  w.unsubscribe();
});

// ---------------------------------------------------------------------------
// Lists

test("a user with no conversations has an empty, fully loaded conversation list", async () => {
  const loner = await user(session(emu, uid("loner")));
  const w = watch((cb) => loner.subscribeConversations(cb));
  const state = await w.sub.connected;
  assert.deepEqual(state.latestSnapshot, []);
  assert.equal(state.loadedAll, true);
  w.unsubscribe();
});

test("the conversation list shows the 20 most recently active conversations, and loadMore the rest", async () => {
  const lister = await user(session(emu, uid("lister")));
  const ids = [];
  for (let i = 0; i < 23; i++) {
    const id = uid(`list${i}`);
    ids.push(id);
    await lister.conversation(id).createIfNotExists();
  }
  const newestFirst = [...ids].reverse();
  const w = watch((cb) => lister.subscribeConversations(cb));
  const state = await w.sub.connected;
  assert.equal(state.latestSnapshot.length, 20);
  assert.deepEqual(state.latestSnapshot.map((c) => c.id), newestFirst.slice(0, 20));
  assert.equal(state.loadedAll, false);
  await w.sub.loadMore();
  const all = await w.until((list, loadedAll) => list.length === 23 && loadedAll, "23 conversations, loadedAll");
  assert.deepEqual(all.map((c) => c.id), newestFirst);
  assert.equal(w.sub.state.loadedAll, true);
  w.unsubscribe();
});

test("loadMore(n) on the conversation list loads n more, and refuses more than 30 at once", async () => {
  const lister = await user(session(emu, uid("lister")));
  for (let i = 0; i < 26; i++) await lister.conversation(uid(`more${i}`)).createIfNotExists();
  const w = watch((cb) => lister.subscribeConversations(cb));
  await w.sub.connected;
  await assert.rejects(w.sub.loadMore(31), /cannot load more than 30/);
  await w.sub.loadMore(3);
  const s = await w.until((list) => list.length === 23, "23 conversations");
  assert.equal(w.loadedAll.at(-1), false);
  assert.equal(s.length, 23);
  await w.sub.loadMore(10);
  await w.until((list, loadedAll) => list.length === 26 && loadedAll, "all 26, loadedAll");
  w.unsubscribe();
});

test("a conversation with a new message moves to the top of the list", async () => {
  const lister = await user(session(emu, uid("lister")));
  const [a, b, c] = [uid("a"), uid("b"), uid("c")];
  for (const id of [a, b, c]) await lister.conversation(id).createIfNotExists();
  const w = watch((cb) => lister.subscribeConversations(cb));
  await w.until((l) => l.map((x) => x.id).join() === [c, b, a].join(), "c, b, a");
  await lister.conversation(a).send("bump");
  const list = await w.until((l) => l[0]?.id === a, "a on top");
  assert.deepEqual(list.map((x) => x.id), [a, c, b]);
  assert.equal(list[0].lastMessage?.plaintext, "bump");
  w.unsubscribe();
});

test("a conversation beyond the first 20 comes to the top of the list when it gets a message", async () => {
  const lister = await user(session(emu, uid("lister")));
  const ids = [];
  for (let i = 0; i < 22; i++) {
    ids.push(uid(`deep${i}`));
    await lister.conversation(ids[i]).createIfNotExists();
  }
  await startConversation(lister, ids[0], ["bob"]);
  const w = watch((cb) => lister.subscribeConversations(cb));
  const state = await w.sub.connected;
  assert.ok(!state.latestSnapshot.some((c) => c.id === ids[0]), "the oldest is not in the first page");
  await bob.conversation(ids[0]).send("wake up");
  const list = await w.until((l) => l[0]?.id === ids[0], "the oldest on top");
  assert.equal(list[0].lastMessage?.plaintext, "wake up");
  assert.equal(w.loadedAll.at(-1), false);
  w.unsubscribe();
});

test("the list orders conversations by last activity across pages (messages, not creation)", async () => {
  const lister = await user(session(emu, uid("lister")));
  const ids = [];
  for (let i = 0; i < 4; i++) {
    ids.push(uid(`act${i}`));
    await lister.conversation(ids[i]).createIfNotExists();
  }
  // Activity order, newest last: 2, 0, 3, 1.
  for (const i of [2, 0, 3, 1]) await lister.conversation(ids[i]).send(`in ${i}`);
  const w = watch((cb) => lister.subscribeConversations(cb));
  const state = await w.sub.connected;
  assert.deepEqual(state.latestSnapshot.map((c) => c.id), [1, 3, 0, 2].map((i) => ids[i]));
  w.unsubscribe();
});

test("a conversation bob joins after its messages were sent counts as having messages and sorts by its last message", async () => {
  // The official client sorts lists by `lastMessage.createdAt ?? joinedAt` and evaluates
  // `hasMessages` as `lastMessageAt !== joinedAt` (notes §5.5, §5.6), and the .d.ts documents
  // lastActivityAt as "the last message sent, falling back to joinedAt": the server's
  // lastMessageAt must be the last message's time, not the join time, for the pages it serves to
  // agree with the order the client shows.
  const joiner = await user(session(emu, uid("joiner")));
  const history = uid("history");
  const old = await startConversation(alice, history);
  await old.send("said before the joiner came");
  await sleep(2);
  const afterHistory = Date.now();
  await sleep(2);
  const own = [];
  for (let i = 0; i < 20; i++) {
    own.push(uid(`own${i}`));
    await joiner.conversation(own[i]).createIfNotExists();
    await joiner.conversation(own[i]).send(`own ${i}`);
  }
  await old.participant(joiner.currentUser.id).createIfNotExists();

  const w = watch((cb) => joiner.subscribeConversations(cb));
  const first = await w.sub.connected;
  assert.deepEqual(
    first.latestSnapshot.map((c) => c.id),
    [...own].reverse(),
    "the first page holds the 20 conversations with the newest messages",
  );
  await w.sub.loadMore();
  const all = await w.until((l, loadedAll) => l.length === 21 && loadedAll, "all 21");
  assert.equal(all[20].id, history);
  assert.equal(all[20].lastMessage.plaintext, "said before the joiner came");
  w.unsubscribe();

  const ids = async (filter) => {
    const f = watch((cb) => joiner.subscribeConversations({ filter }, cb));
    await f.sub.connected;
    await f.sub.loadMore(30);
    const list = await f.until((_, loadedAll) => loadedAll, "the whole filtered list");
    f.unsubscribe();
    return list.map((c) => c.id);
  };
  assert.ok((await ids({ hasMessages: true })).includes(history), "hasMessages: true includes it");
  assert.ok(!(await ids({ hasMessages: false })).includes(history), "hasMessages: false excludes it");
  assert.deepEqual(await ids({ lastActivityAt: ["<", afterHistory] }), [history]);
});

test("the conversation list of a user who does not exist yet is empty, and fills once they exist", async () => {
  const id = uid("unborn");
  const s = session(emu, id);
  const w = watch((cb) => s.subscribeConversations(cb));
  const state = await w.sub.connected;
  assert.deepEqual(state.latestSnapshot, []);
  await s.currentUser.createIfNotExists({ name: "Unborn" });
  const conv = uid("first");
  await s.conversation(conv).createIfNotExists();
  const list = await w.until((l) => l.length === 1, "the first conversation");
  assert.equal(list[0].id, conv);
  w.unsubscribe();
});

test("a filtered conversation list holds only the conversations that match", async () => {
  const lister = await user(session(emu, uid("lister")));
  const [support, sales, quiet, readOnly] = [uid("support"), uid("sales"), uid("quiet"), uid("ro")];
  await lister.conversation(support).createIfNotExists({ custom: { kind: "support" }, subject: "Help" });
  await lister.conversation(sales).createIfNotExists({ custom: { kind: "sales" } });
  await lister.conversation(quiet).createIfNotExists({ custom: { kind: "support" } });
  await lister.conversation(readOnly).createIfNotExists({ access: "Read" });
  await lister.conversation(support).send("hello");
  await lister.conversation(sales).send("buy");

  const ids = async (options) => {
    const w = watch((cb) => lister.subscribeConversations(options, cb));
    const state = await w.sub.connected;
    w.unsubscribe();
    return state.latestSnapshot.map((c) => c.id).sort();
  };
  assert.deepEqual(await ids({ filter: { custom: { kind: ["==", "support"] } } }), [support, quiet].sort());
  // A conversation without the key matches "!=", as in the client's own full filter evaluation
  // (it compares `undefined !== "support"`).
  assert.deepEqual(await ids({ filter: { custom: { kind: ["!=", "support"] } } }), [sales, readOnly].sort());
  assert.deepEqual(await ids({ filter: { custom: { kind: "exists" } } }), [support, sales, quiet].sort());
  assert.deepEqual(await ids({ filter: { hasMessages: true } }), [support, sales].sort());
  assert.deepEqual(await ids({ filter: { hasMessages: false } }), [quiet, readOnly].sort());
  assert.deepEqual(await ids({ filter: { access: ["==", "Read"] } }), [readOnly]);
  assert.deepEqual(await ids({ filter: { subject: ["==", "Help"] } }), [support]);
  assert.deepEqual(
    await ids({ filter: ["any", [{ subject: ["==", "Help"] }, { access: ["==", "Read"] }]] }),
    [support, readOnly].sort(),
  );
  assert.deepEqual(await ids({ filter: {} }), [support, sales, quiet, readOnly].sort());
});

test("a filtered list pages with its filter: loadMore returns only matching conversations", async () => {
  const lister = await user(session(emu, uid("lister")));
  const tagged = [];
  for (let i = 0; i < 30; i++) {
    const id = uid(`f${i}`);
    // Every fifth conversation is untagged, so they sit between the matching ones on every page.
    if (i % 5 === 4) {
      await lister.conversation(id).createIfNotExists();
    } else {
      tagged.push(id);
      await lister.conversation(id).createIfNotExists({ custom: { tag: "x" } });
    }
  }
  const w = watch((cb) => lister.subscribeConversations({ filter: { custom: { tag: "exists" } } }, cb));
  const first = await w.sub.connected;
  assert.equal(first.latestSnapshot.length, 20);
  assert.ok(first.latestSnapshot.every((c) => c.custom.tag === "x"), "first page matches");
  assert.equal(first.loadedAll, false);
  // The second page is requested with the cursor only (notes §5.5): the cursor carries the filter.
  await w.sub.loadMore();
  const full = await w.until((l, loadedAll) => l.length >= 24 && loadedAll, "24 tagged, loadedAll");
  assert.deepEqual(full.map((c) => c.id), [...tagged].reverse());
  w.unsubscribe();
});

test("an unread-only list gains a conversation when bob gets a message and loses it when he reads it", async () => {
  const id = uid("unread");
  const conv = await startConversation(alice, id, ["bob"]);
  const w = watch((cb) => bob.subscribeConversations({ filter: { isUnread: true } }, cb));
  await w.sub.connected;
  assert.ok(!w.latest.some((c) => c.id === id), "not unread yet");
  await conv.send("ping");
  const list = await w.until((l) => l.some((c) => c.id === id), "conversation in the unread list");
  assert.equal(list.find((c) => c.id === id).unreadMessageCount, 1);
  await bob.conversation(id).markAsRead();
  await w.until((l) => !l.some((c) => c.id === id), "conversation gone from the unread list");
  w.unsubscribe();
});

// ---------------------------------------------------------------------------
// Read state

test("bob's unread count counts alice's messages and markAsRead resets it", async () => {
  const id = uid("read");
  const conv = await startConversation(alice, id, ["bob"]);
  const w = watch((cb) => bob.conversation(id).subscribe(cb));
  await w.until((c) => c?.unreadMessageCount === 0, "no unread messages");
  await conv.send("one");
  await conv.send("two");
  const unread = await w.until((c) => c?.unreadMessageCount === 2, "2 unread");
  assert.equal(unread.isUnread, true);
  // The sender has read her own messages.
  const mine = await alice.conversation(id).get();
  assert.equal(mine.unreadMessageCount, 0);
  assert.equal(mine.isUnread, false);

  await bob.conversation(id).markAsRead();
  const read = await w.until((c) => c?.unreadMessageCount === 0 && c.isUnread === false, "read");
  assert.ok(read.readUntil >= unread.lastMessage.createdAt, "readUntil covers the last message");
  w.unsubscribe();
});

test("markAsUnread flags a read conversation as unread until it is read again", async () => {
  const id = uid("unread");
  const conv = await startConversation(alice, id, ["bob"]);
  await conv.send("hi");
  await bob.conversation(id).markAsRead();
  const w = watch((cb) => bob.conversation(id).subscribe(cb));
  await w.until((c) => c?.isUnread === false, "read");
  await bob.conversation(id).markAsUnread();
  await w.until((c) => c?.isUnread === true, "marked unread");
  await bob.conversation(id).markAsRead();
  await w.until((c) => c?.isUnread === false, "read again");
  w.unsubscribe();
});

test("everyoneReadUntil moves forward once every participant has read", async () => {
  const id = uid("everyone");
  const conv = await startConversation(alice, id, ["bob"]);
  const w = watch((cb) => alice.conversation(id).subscribe(cb));
  const first = await w.until((c) => c !== undefined && c !== null, "alice's view");
  await conv.send("read me");
  const afterSend = await w.until((c) => c?.lastMessage !== null, "the message");
  assert.ok(afterSend.everyoneReadUntil < afterSend.lastMessage.createdAt, "bob has not read it yet");
  await bob.conversation(id).markAsRead();
  const read = await w.until((c) => c?.everyoneReadUntil >= afterSend.lastMessage.createdAt, "everyone read");
  assert.ok(read.everyoneReadUntil >= first.everyoneReadUntil);
  w.unsubscribe();
});

test("markAsRead on a conversation alice is not in rejects with NOT_A_PARTICIPANT", async () => {
  const id = uid("notmine");
  await startConversation(bob, id);
  const e = await rejection(alice.conversation(id).markAsRead());
  assert.match(errorText(e), new RegExp(`^Mark ${id} as read failed, got status 403 NOT_A_PARTICIPANT`));
});

test("ids with slashes, spaces, percent signs and emoji work in every path", async () => {
  const odd = "al/ice ü%20?#";
  await alice.user(odd).createIfNotExists({ name: "Odd" });
  const s = session(emu, odd);
  const id = `conv/with space?&%2F🦀-${uid("x")}`;
  const conv = await startConversation(s, id, ["alice"], { subject: "odd ids" });
  const ref = await conv.send("hello from an odd id");
  await alice.conversation(id).message(ref.id).reactions("🦀").add();
  const m = await s.conversation(id).message(ref.id).get();
  assert.equal(m.sender.id, odd);
  assert.deepEqual(m.reactions, [{ emoji: "🦀", count: 1, currentUserReacted: false }]);
  const list = await alice.conversation(id).subscribeMessages().connected;
  assert.equal(list.latestSnapshot[0].plaintext, "hello from an odd id");
  const people = await alice.conversation(id).subscribeParticipants().connected;
  assert.deepEqual(people.latestSnapshot.map((p) => p.user.id).sort(), [odd, "alice"].sort());
  assert.equal((await alice.conversation(id).participant(odd).get()).user.name, "Odd");
  const convs = await s.subscribeConversations().connected;
  assert.ok(convs.latestSnapshot.some((c) => c.id === id));
});

test("a list filtered on subject follows subject changes: the conversation leaves and comes back", async () => {
  const id = uid("subjectfilter");
  const conv = await startConversation(alice, id, ["bob"], { subject: "Open" });
  const w = watch((cb) => bob.subscribeConversations({ filter: { subject: ["==", "Open"] } }, cb));
  await w.until((l) => l.some((c) => c.id === id), "in the Open list");
  await conv.set({ subject: "Closed" });
  await w.until((l) => !l.some((c) => c.id === id), "gone when Closed");
  await conv.set({ subject: "Open" });
  await w.until((l) => l.some((c) => c.id === id), "back when Open again");
  w.unsubscribe();
});

test("a list filtered on access follows bob's access: Read brings the conversation in, ReadWrite takes it out", async () => {
  const id = uid("accessfilter");
  const conv = await startConversation(alice, id, ["bob"]);
  const w = watch((cb) => bob.subscribeConversations({ filter: { access: ["==", "Read"] } }, cb));
  await w.sub.connected;
  assert.ok(!w.latest.some((c) => c.id === id));
  await conv.participant("bob").set({ access: "Read" });
  const list = await w.until((l) => l.some((c) => c.id === id), "in the Read list");
  assert.equal(list.find((c) => c.id === id).access, "Read");
  await conv.participant("bob").set({ access: "ReadWrite" });
  await w.until((l) => !l.some((c) => c.id === id), "out of the Read list");
  w.unsubscribe();
});
