// ConversationRef.send / subscribeMessages / message(), and MessageRef get, edit, delete, translate
// (notes §4.3.5, §6.3, §6.6, §7).

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
} from "../lib/emulator.mjs";

let emu, alice, bob;

before(async () => {
  emu = await startEmulator();
  alice = await user(session(emu, "alice"));
  bob = await user(session(emu, "bob"));
});
after(closeAll);

/// The message list of `s` in conversation `id`, once it holds a message matching `pred`.
async function messagesUntil(s, id, pred, what) {
  const w = watch((cb) => s.conversation(id).subscribeMessages(cb));
  const list = await w.until((l) => l && pred(l), what);
  w.unsubscribe();
  return list;
}

/// Every node in a content tree, depth first.
function nodes(content) {
  const out = [];
  const walk = (n) => {
    out.push(n);
    if (n && typeof n === "object") for (const c of n.children ?? []) walk(c);
  };
  for (const block of content) walk(block);
  return out;
}

test("a string with markup is sent parsed and comes back with camelCase node types", async () => {
  const id = uid("markup");
  const conv = await startConversation(alice, id, ["bob"]);
  const ref = await conv.send("*bold* see www.example.com");
  assert.equal(typeof ref.id, "string");
  assert.equal(ref.conversationId, id);
  const [m] = await messagesUntil(bob, id, (l) => l.length === 1, "the message");
  assert.deepEqual(m.content, [
    {
      type: "text",
      children: [
        { type: "bold", children: ["bold"] },
        " see ",
        { type: "autoLink", url: "http://www.example.com", text: "www.example.com" },
      ],
    },
  ]);
  assert.equal(m.plaintext, "bold see www.example.com");
});

test("code spans, bullet lists and custom emoji keep their content (no null nodes)", async () => {
  const id = uid("markup");
  const conv = await startConversation(alice, id);
  await conv.send("intro\n- one\n- two\n```let x = 1``` <!!customemoji::cat:> <!!mention:bob|Bob>");
  const [m] = await messagesUntil(alice, id, (l) => l.length === 1, "the message");
  const all = nodes(m.content);
  assert.ok(!all.includes(null), `no node was dropped: ${JSON.stringify(m.content)}`);
  const types = all.filter((n) => typeof n === "object").map((n) => n.type);
  for (const t of ["bulletList", "bulletPoint", "codeSpan", "customEmoji", "mention"]) assert.ok(types.includes(t), `has ${t}`);
  assert.equal(all.find((n) => n?.type === "codeSpan").text, "let x = 1");
  assert.deepEqual(all.find((n) => n?.type === "mention"), { type: "mention", id: "bob", text: "Bob" });
  assert.equal(m.plaintext, "intro\n- one\n- two\nlet x = 1 :cat: @Bob");
});

test("a message snapshot has the documented fields, sent by the current user", async () => {
  const id = uid("fields");
  const conv = await startConversation(alice, id);
  const before = Date.now();
  await conv.send("hello");
  const [m] = await messagesUntil(alice, id, (l) => l.length === 1, "the message");
  assert.deepEqual(Object.keys(m).sort(), [
    "content",
    "createdAt",
    "custom",
    "editedAt",
    "id",
    "origin",
    "plaintext",
    "reactions",
    "referencedMessage",
    "sender",
    "type",
  ]);
  assert.equal(m.type, "UserMessage");
  assert.deepEqual(m.sender, await alice.currentUser.get());
  assert.deepEqual(m.custom, {});
  assert.equal(m.editedAt, null);
  assert.equal(m.referencedMessage, null);
  assert.ok(["rest", "import", "email", "web"].includes(m.origin), `origin ${m.origin}`);
  assert.deepEqual(m.reactions, []);
  assert.ok(m.createdAt >= before - 1000 && m.createdAt <= Date.now() + 1000, "createdAt is now, in ms");
});

test("send({text, referencedMessage, custom}) makes a reply with custom data", async () => {
  const id = uid("reply");
  const conv = await startConversation(alice, id, ["bob"]);
  const original = await conv.send("original");
  await bob.conversation(id).send({ text: "by ref", referencedMessage: original, custom: { k: "v" } });
  await bob.conversation(id).send({ text: "by id", referencedMessage: original.id });
  const list = await messagesUntil(alice, id, (l) => l.length === 3, "three messages");
  const [byId, byRef] = list;
  assert.equal(byRef.plaintext, "by ref");
  assert.deepEqual(byRef.custom, { k: "v" });
  assert.equal(byRef.referencedMessage.id, original.id);
  assert.equal(byRef.referencedMessage.plaintext, "original");
  assert.equal(byRef.referencedMessage.sender.id, "alice");
  assert.equal(byRef.referencedMessage.referencedMessageId, null);
  assert.equal(byId.referencedMessage.id, original.id);
});

test("a reply whose original is outside the 30-message window still shows the original", async () => {
  const id = uid("farreply");
  const conv = await startConversation(alice, id);
  const original = await conv.send("long ago");
  for (let i = 0; i < 30; i++) await conv.send(`filler ${i}`);
  await conv.send({ text: "replying to the past", referencedMessage: original });
  const list = await messagesUntil(alice, id, (l) => l[0]?.plaintext === "replying to the past", "the reply");
  assert.equal(list.length, 30);
  assert.equal(list[0].referencedMessage.plaintext, "long ago");
});

test("send({content:[location]}) stores a location block", async () => {
  const id = uid("location");
  const conv = await startConversation(alice, id);
  await conv.send({ content: [{ type: "location", latitude: 52.3676, longitude: 4.9041 }] });
  const [m] = await messagesUntil(alice, id, (l) => l.length === 1, "the location");
  assert.deepEqual(m.content, [{ type: "location", latitude: 52.3676, longitude: 4.9041 }]);
  assert.equal(m.plaintext, "📍");
});

test("a location outside the documented ranges is refused", async () => {
  const id = uid("badlocation");
  const conv = await startConversation(alice, id);
  for (const [latitude, longitude] of [[90.5, 0], [0, -180.5]]) {
    const e = await rejection(conv.send({ content: [{ type: "location", latitude, longitude }] }));
    assert.match(errorText(e), new RegExp(`^Send message to conversation ${id} failed, got status 400 `));
  }
  await conv.send({ content: [{ type: "location", latitude: -90, longitude: 180 }] });
});

test("send({content:[text block]}) stores the given nodes as they are", async () => {
  const id = uid("rawtext");
  const conv = await startConversation(alice, id);
  const content = [{ type: "text", children: ["raw ", { type: "italic", children: ["nodes"] }] }];
  await conv.send({ content, custom: { via: "content" } });
  const [m] = await messagesUntil(alice, id, (l) => l.length === 1, "the message");
  assert.deepEqual(m.content, content);
  assert.deepEqual(m.custom, { via: "content" });
  assert.equal(m.plaintext, "raw nodes");
});

test("users may not send links, action links or action buttons, by send or by edit", async () => {
  // The .d.ts: "By default, users do not have permission to send messages containing LinkNode"
  // (and ActionLinkNode, ActionButtonNode).
  const id = uid("links");
  const conv = await startConversation(alice, id);
  const label = ["label"];
  for (const node of [
    { type: "link", url: "https://a.com", children: label },
    { type: "actionLink", action: "accept", params: { offer: "1" }, children: label },
    { type: "actionButton", action: "accept", params: {}, children: label },
    { type: "bold", children: [{ type: "link", url: "https://hidden.com", children: label }] },
  ]) {
    const e = await rejection(conv.send({ content: [{ type: "text", children: ["see ", node] }] }));
    assert.match(errorText(e), new RegExp(`^Send message to conversation ${id} failed, got status 403 `), JSON.stringify(node));
  }
  const ref = await conv.send("plain");
  // The edit profile of the markup parser turns <url|label> into a link node (notes §7.1).
  const e = await rejection(conv.message(ref.id).edit("<https://a.com|label>"));
  assert.match(errorText(e), new RegExp(`^Edit message ${ref.id} in conversation ${id} failed, got status 403 `));
  assert.equal((await conv.message(ref.id).get()).plaintext, "plain");
  const list = await messagesUntil(alice, id, () => true, "the list");
  assert.equal(list.length, 1);
});

test("an autolink must show where it goes: honest ones are accepted, disguised ones refused", async () => {
  const id = uid("autolinks");
  const conv = await startConversation(alice, id);
  const send = (text, url) => conv.send({ content: [{ type: "text", children: [{ type: "autoLink", text, url }] }] });
  // The .d.ts's own example: the text names the domain, the url may add a path and fragment.
  await send("talkjs.com", "https://talkjs.com/docs/JavaScript_Data_API/Message_Content/#AutoLinkNode");
  await send("me@example.org", "mailto:me@example.org");
  await send("+31 6 12345678", "tel:+31612345678");
  for (const [text, url] of [
    ["talkjs.com", "https://evil.com"],
    ["talkjs.com", "https://talkjs.com.evil.com/"],
    ["https://talkjs.com/a", "https://talkjs.com/b"],
    ["me@example.org", "mailto:them@example.org"],
    ["555-1234", "tel:5559999"],
  ]) {
    const e = await rejection(send(text, url));
    assert.match(errorText(e), new RegExp(`^Send message to conversation ${id} failed, got status 400 `), `${text} -> ${url}`);
  }
  const list = await messagesUntil(alice, id, (l) => l.length === 3, "the three honest links");
  assert.deepEqual(list.map((m) => m.plaintext), ["+31 6 12345678", "me@example.org", "talkjs.com"]);
});

test("a text node type the .d.ts does not list is refused", async () => {
  const id = uid("unknownnode");
  const conv = await startConversation(alice, id);
  const e = await rejection(conv.send({ content: [{ type: "text", children: [{ type: "blink", children: ["x"] }] }] }));
  assert.match(errorText(e), new RegExp(`^Send message to conversation ${id} failed, got status 400 `));
});

test("the message list shows the newest 30 messages first, and loadMore the older ones", async () => {
  const id = uid("window");
  const conv = await startConversation(alice, id);
  for (let i = 0; i < 35; i++) await conv.send(`m${i}`);
  const w = watch((cb) => alice.conversation(id).subscribeMessages(cb));
  const state = await w.sub.connected;
  assert.equal(state.latestSnapshot.length, 30);
  assert.deepEqual(
    state.latestSnapshot.map((m) => m.plaintext),
    Array.from({ length: 30 }, (_, i) => `m${34 - i}`),
  );
  assert.equal(state.loadedAll, false);
  for (let i = 1; i < 30; i++) assert.ok(state.latestSnapshot[i - 1].createdAt > state.latestSnapshot[i].createdAt);
  await assert.rejects(w.sub.loadMore(101), /cannot load more than 100/);
  await w.sub.loadMore();
  const all = await w.until((l, loadedAll) => l.length === 35 && loadedAll, "35 messages, loadedAll");
  assert.deepEqual(all.slice(30).map((m) => m.plaintext), ["m4", "m3", "m2", "m1", "m0"]);
  w.unsubscribe();
});

test("loadMore(n) on messages loads exactly n older messages", async () => {
  const id = uid("window");
  const conv = await startConversation(alice, id);
  for (let i = 0; i < 33; i++) await conv.send(`m${i}`);
  const w = watch((cb) => alice.conversation(id).subscribeMessages(cb));
  await w.sub.connected;
  await w.sub.loadMore(2);
  const l = await w.until((l) => l.length === 32, "32 messages");
  assert.equal(l.at(-1).plaintext, "m1");
  assert.equal(w.loadedAll.at(-1), false);
  w.unsubscribe();
});

test("a conversation with no messages has an empty, fully loaded message list", async () => {
  const id = uid("empty");
  await startConversation(alice, id);
  const w = watch((cb) => alice.conversation(id).subscribeMessages(cb));
  const state = await w.sub.connected;
  assert.deepEqual(state.latestSnapshot, []);
  assert.equal(state.loadedAll, true);
  w.unsubscribe();
});

test("bob, who is not a participant, gets a null message list", async () => {
  const id = uid("secret");
  const conv = await startConversation(alice, id);
  await conv.send("secret");
  const w = watch((cb) => bob.conversation(id).subscribeMessages(cb));
  const state = await w.sub.connected;
  assert.equal(state.latestSnapshot, null);
  w.unsubscribe();
});

test("MessageRef.get returns the message, and null for unknown ids and for non-participants", async () => {
  const id = uid("get");
  const conv = await startConversation(alice, id);
  const ref = await conv.send({ text: "fetch me", custom: { a: "b" } });
  const m = await alice.conversation(id).message(ref.id).get();
  assert.equal(m.id, ref.id);
  assert.equal(m.plaintext, "fetch me");
  assert.deepEqual(m.custom, { a: "b" });
  assert.equal(m.sender.id, "alice");
  assert.equal(await alice.conversation(id).message("no-such-message").get(), null);
  assert.equal(await bob.conversation(id).message(ref.id).get(), null);
});

test("alice edits her message: bob sees the new text, the edit time and the custom patch", async () => {
  const id = uid("edit");
  const conv = await startConversation(alice, id, ["bob"]);
  const ref = await conv.send({ text: "typo", custom: { keep: "1", drop: "2" } });
  const w = watch((cb) => bob.conversation(id).subscribeMessages(cb));
  await w.until((l) => l?.length === 1, "the original");
  await alice.conversation(id).message(ref.id).edit({ text: "fixed *now*", custom: { drop: null, add: "3" } });
  const [m] = await w.until((l) => l?.[0]?.editedAt !== null, "the edit");
  assert.deepEqual(m.content, [{ type: "text", children: ["fixed ", { type: "bold", children: ["now"] }] }]);
  assert.equal(m.plaintext, "fixed now");
  assert.deepEqual(m.custom, { keep: "1", add: "3" });
  assert.ok(m.editedAt >= m.createdAt);
  w.unsubscribe();
});

test("edit({text: ''}) changes only custom, and edit({custom: null}) clears custom", async () => {
  const id = uid("edit");
  const conv = await startConversation(alice, id);
  const ref = await conv.send({ text: "stays", custom: { a: "1" } });
  const msg = alice.conversation(id).message(ref.id);
  await msg.edit({ text: "", custom: { b: "2" } });
  let [m] = await messagesUntil(alice, id, (l) => l[0]?.custom.b === "2", "custom b");
  assert.equal(m.plaintext, "stays");
  assert.deepEqual(m.custom, { a: "1", b: "2" });
  await msg.edit({ content: [{ type: "location", latitude: 1, longitude: 2 }], custom: null });
  [m] = await messagesUntil(alice, id, (l) => l[0]?.content[0].type === "location", "location content");
  assert.deepEqual(m.custom, {});
});

test("bob cannot edit alice's message", async () => {
  const id = uid("noedit");
  const conv = await startConversation(alice, id, ["bob"]);
  const ref = await conv.send("mine");
  const e = await rejection(bob.conversation(id).message(ref.id).edit("hijacked"));
  assert.match(errorText(e), new RegExp(`^Edit message ${ref.id} in conversation ${id} failed, got status 403 `));
  const m = await alice.conversation(id).message(ref.id).get();
  assert.equal(m.plaintext, "mine");
});

test("bob cannot delete alice's message", async () => {
  const id = uid("nodelete");
  const conv = await startConversation(alice, id, ["bob"]);
  const ref = await conv.send("mine");
  const e = await rejection(bob.conversation(id).message(ref.id).delete());
  assert.match(errorText(e), new RegExp(`^Delete message ${ref.id} in conversation ${id} failed, got status 403 `));
  assert.notEqual(await alice.conversation(id).message(ref.id).get(), null);
});

test("alice deletes her message: it leaves bob's list and replies lose their reference", async () => {
  const id = uid("delete");
  const conv = await startConversation(alice, id, ["bob"]);
  const original = await conv.send("to be deleted");
  await bob.conversation(id).send({ text: "a reply", referencedMessage: original });
  const w = watch((cb) => bob.conversation(id).subscribeMessages(cb));
  await w.until((l) => l?.length === 2, "two messages");
  await alice.conversation(id).message(original.id).delete();
  const list = await w.until((l) => l?.length === 1, "one message left");
  assert.equal(list[0].plaintext, "a reply");
  assert.equal(list[0].referencedMessage, null);
  w.unsubscribe();
  // A fresh read agrees (the server nulls the reference, the client does not just hide it).
  const [fresh] = await messagesUntil(alice, id, (l) => l.length === 1, "fresh list");
  assert.equal(fresh.referencedMessage, null);
  assert.equal(await alice.conversation(id).message(original.id).get(), null);
});

test("editing a message that does not exist rejects", async () => {
  const id = uid("edit");
  await startConversation(alice, id);
  const e = await rejection(alice.conversation(id).message("never-sent").edit("new text"));
  assert.match(errorText(e), new RegExp(`^Edit message never-sent in conversation ${id} failed, got status 404 `));
});

test("bob, who is not a participant, cannot delete alice's message", async () => {
  const id = uid("nodelete");
  const conv = await startConversation(alice, id);
  const ref = await conv.send("mine");
  const e = await rejection(bob.conversation(id).message(ref.id).delete());
  assert.match(errorText(e), new RegExp(`^Delete message ${ref.id} in conversation ${id} failed, got status 403 NOT_A_PARTICIPANT`));
  assert.notEqual(await alice.conversation(id).message(ref.id).get(), null);
});

test("deleting a message that does not exist resolves (404 counts as done)", async () => {
  const id = uid("delete");
  await startConversation(alice, id);
  await alice.conversation(id).message("never-sent").delete();
});

test("translate returns content and plaintext, null for unknown messages, and throws for no language", async () => {
  const id = uid("translate");
  const conv = await startConversation(alice, id);
  const ref = await conv.send("*hola* mundo");
  const t = await alice.conversation(id).message(ref.id).translate("en");
  assert.ok(Array.isArray(t.content) && t.content[0].type === "text", `content: ${JSON.stringify(t)}`);
  assert.equal(typeof t.plaintext, "string");
  assert.ok(t.plaintext.length > 0);
  assert.equal(await alice.conversation(id).message("unknown").translate("en"), null);
  await assert.rejects(async () => alice.conversation(id).message(ref.id).translate(""));
});

test("translate rejects for a user who is not a participant", async () => {
  const id = uid("translate");
  const conv = await startConversation(alice, id);
  const ref = await conv.send("private");
  const e = await rejection(bob.conversation(id).message(ref.id).translate("fr"));
  assert.match(errorText(e), /failed, got status 403 NOT_A_PARTICIPANT/);
});

test("translating a location returns the original content block", async () => {
  const id = uid("translate");
  const conv = await startConversation(alice, id);
  const ref = await conv.send({ content: [{ type: "location", latitude: 10, longitude: 20 }] });
  const t = await conv.message(ref.id).translate("de");
  assert.deepEqual(t, { content: [{ type: "location", latitude: 10, longitude: 20 }], plaintext: "📍" });
});

// ---------------------------------------------------------------------------
// Forbidden sends

test("a participant with Read access cannot send", async () => {
  const id = uid("readonly");
  await startConversation(alice, id, [["bob", { access: "Read" }]]);
  const e = await rejection(bob.conversation(id).send("let me in"));
  assert.match(errorText(e), new RegExp(`^Send message to conversation ${id} failed, got status 403 `));
  const list = await messagesUntil(alice, id, () => true, "the list");
  assert.equal(list.length, 0);
});

test("a user who is not a participant cannot send", async () => {
  const id = uid("outsider");
  await startConversation(alice, id);
  const e = await rejection(bob.conversation(id).send("hello?"));
  assert.match(errorText(e), new RegExp(`^Send message to conversation ${id} failed, got status 403 NOT_A_PARTICIPANT`));
});

test("sending to a conversation that does not exist rejects", async () => {
  const id = uid("nowhere");
  const e = await rejection(alice.conversation(id).send("hello?"));
  assert.match(errorText(e), new RegExp(`^Send message to conversation ${id} failed, got status 40[34] `));
});
