// The official UI against the emulator: TalkJS's React `Chatbox` (@talkjs/react-components),
// rendered in headless Chromium, shows and sends messages through talkjs-emulator. The other
// participants are @talkjs/core sessions in Node, so every check crosses the emulator.
//
// Run it alone with `npm run test:browser` (after `cargo build -p talkjs-emulator`); `cargo test`
// runs it through emulator/tests/conformance.rs. Without Chromium this file fails when CI=true
// (CI must run it; .ci/run installs Debian's chromium) and is skipped with a message otherwise.

import { test, before, after, afterEach } from "node:test";
import assert from "node:assert/strict";
import { startEmulator, session, user, startConversation, watch, closeAll, uid } from "../lib/emulator.mjs";
import { UI_WAIT_MS, missingChromium, startSite, launch, openChatbox } from "./harness.mjs";

const missing = missingChromium();
if (missing && process.env.CI === "true") {
  throw new Error(`the browser test must run in CI, but ${missing}`);
}
const skip = missing ?? false;

let emu, site, browser, alice, carol;
const pages = [];

before(async () => {
  if (skip) return;
  [emu, site, browser] = await Promise.all([startEmulator(), startSite(), launch()]);
  alice = await user(session(emu, "alice"));
  carol = await user(session(emu, "carol"));
  await user(session(emu, "bob"));
});

after(async () => {
  await browser?.close();
  await site?.stop();
  await closeAll();
});

afterEach(async (t) => {
  for (const page of pages.splice(0)) {
    // SCREENSHOT_DIR=/tmp/shots keeps what each test ended on, to look at.
    if (process.env.SCREENSHOT_DIR) await page.screenshot({ path: `${process.env.SCREENSHOT_DIR}/${t.name.replace(/\W+/g, "-")}.png` });
    // An uncaught error in the page is how the UI fails when the emulator answers something it
    // does not expect (e.g. "Could not find app." for an unserved settings route).
    assert.deepEqual(page.errors, [], "no uncaught errors in the page");
    assert.deepEqual(page.refused, [], "the emulator refused none of the UI's requests");
    await page.context().close();
  }
});

/// A group conversation of alice, bob and carol (groups show each message's sender name), and
/// bob's Chatbox on it, rendered (its message field is shown). `on` is the emulator (default: this
/// file's, which has a secret), `owner` alice's session there, `token` bob's (openChatbox).
async function bobsChatbox({ on = emu, owner = alice, token } = {}) {
  const id = uid("ui");
  const conversation = await startConversation(owner, id, ["bob", "carol"]);
  const page = await openChatbox(browser, site, on, { userId: "bob", conversationId: id, token });
  pages.push(page);
  await shows(page, page.getByRole("textbox", { name: "Message Field" }), "the Chatbox's message field");
  return { id, conversation, page };
}

/// Waits until `locator` is visible; on timeout, fails with what went wrong in the page (a UI that
/// never renders shows only a spinner, so the page's errors are the useful part).
async function shows(page, locator, what) {
  try {
    await locator.waitFor({ timeout: UI_WAIT_MS });
  } catch {
    const refused = page.refused.join(", ") || "none";
    const errors = page.errors.join(" | ") || "none";
    throw new Error(`${what} not shown within ${UI_WAIT_MS} ms; emulator errors: ${refused}; page errors: ${errors}`);
  }
}

/// The rendered message whose text contains `text`.
const message = (page, text) => page.locator(".t-theme-message").filter({ hasText: text });

test("another user's message appears with its sender's name", { skip }, async () => {
  const { conversation, page } = await bobsChatbox();
  await conversation.send("hello from alice");
  const shown = message(page, "hello from alice");
  await shows(page, shown, "alice's message");
  assert.equal(await shown.locator(".t-message-sender-name").innerText(), "Alice");
  assert.equal(await shown.getAttribute("t-sender"), "other");
});

test("markup renders: *bold* is shown bold, without the asterisks", { skip }, async () => {
  const { conversation, page } = await bobsChatbox();
  await conversation.send("this is *important* news");
  const shown = message(page, "news");
  await shows(page, shown, "the message with markup");
  assert.equal(await shown.locator("strong").innerText(), "important");
  assert.match(await shown.locator(".t-text").innerText(), /^this is important news$/);
  const weight = await shown.locator("strong").evaluate((el) => getComputedStyle(el).fontWeight);
  assert.ok(Number(weight) >= 600, `bold is drawn bold (font-weight ${weight})`);
});

test("a message typed in the box and sent with Enter reaches the other user", { skip }, async () => {
  const { id, page } = await bobsChatbox();
  const alices = watch((cb) => alice.conversation(id).subscribeMessages(cb));
  await alices.until((list) => Array.isArray(list) && list.length === 0, "alice's empty message list");
  const field = page.getByRole("textbox", { name: "Message Field" });
  await field.click();
  await page.keyboard.type("typed in the browser");
  await page.keyboard.press("Enter");
  const [received] = await alices.until((list) => list?.length === 1, "bob's message at alice", UI_WAIT_MS);
  assert.equal(received.plaintext, "typed in the browser");
  assert.equal(received.sender.id, "bob");
  const own = message(page, "typed in the browser").and(page.locator("[t-sender=currentUser]"));
  await shows(page, own, "bob's message as his own");
  assert.equal((await field.innerText()).trim(), "", "the box is emptied after sending");
  alices.unsubscribe();
});

test("the typing indicator shows while another user types, and goes when they send", { skip }, async () => {
  const { id, page } = await bobsChatbox();
  const typing = page.getByLabel("Carol is typing");
  assert.equal(await typing.count(), 0, "nobody is typing yet");
  await carol.conversation(id).markAsTyping();
  await shows(page, typing, "the typing indicator");
  assert.ok(await typing.locator(".t-typing-bubble").isVisible(), "the typing bubble is drawn");
  await carol.conversation(id).send("done typing");
  await shows(page, message(page, "done typing"), "carol's message");
  await typing.waitFor({ state: "detached", timeout: UI_WAIT_MS });
});

test("a file attached with the paperclip is uploaded and reaches the other user", { skip }, async () => {
  // The emulator's settings turn file sharing on (docs/protocol.md §12.6); this is what it enables.
  const { id, page } = await bobsChatbox();
  const alices = watch((cb) => alice.conversation(id).subscribeMessages(cb));
  const [chooser] = await Promise.all([page.waitForEvent("filechooser"), page.getByLabel("Send file").click()]);
  await chooser.setFiles({ name: "notes.txt", mimeType: "text/plain", buffer: Buffer.from("file from the browser") });
  await page.locator("button", { hasText: /^Send$/ }).click(); // the preview's Send, not the icon
  const [received] = await alices.until((list) => list?.length === 1, "bob's file at alice", UI_WAIT_MS);
  const [block] = received.content;
  assert.equal(block.type, "file");
  assert.equal(block.filename, "notes.txt");
  assert.equal(await (await fetch(block.url)).text(), "file from the browser");
  await shows(page, message(page, "notes.txt").and(page.locator("[t-sender=currentUser]")), "bob's file as his own");
  alices.unsubscribe();
});

test("on an emulator without a secret, the Chatbox renders and shows messages with no token", { skip }, async () => {
  // No token: the client signs in with a boken (docs/protocol.md §12.1), which the app-settings
  // route accepts as it accepts a JWT.
  const open = await startEmulator({ secret: null });
  const owner = await user(session(open, "alice"));
  await Promise.all(["bob", "carol"].map((id) => user(session(open, id))));
  const { conversation, page } = await bobsChatbox({ on: open, owner, token: null });
  await conversation.send("no token needed");
  await shows(page, message(page, "no token needed"), "alice's message");
});
