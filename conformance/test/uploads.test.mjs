// TalkSession.uploadFile / uploadImage / uploadVideo / uploadAudio / uploadVoice, and sending the
// uploaded file as a message (notes §1.6, §6.6).

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import {
  startEmulator,
  session,
  user,
  closeAll,
  uid,
  startConversation,
  watch,
  rejection,
  errorText,
} from "../lib/emulator.mjs";

let emu, alice;

before(async () => {
  emu = await startEmulator();
  alice = await user(session(emu, "alice"));
});
after(closeAll);

const bytes = (n, seed = 1) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) % 256);

/// Sends a file message and returns the message as the message list shows it.
async function sendFile(token) {
  const id = uid("files");
  const conv = await startConversation(alice, id);
  await conv.send({ content: [{ type: "file", fileToken: token }] });
  const w = watch((cb) => conv.subscribeMessages(cb));
  const [m] = await w.until((l) => l?.length === 1, "the file message");
  w.unsubscribe();
  return m;
}

async function download(url) {
  const res = await fetch(url);
  assert.equal(res.status, 200, `GET ${url}`);
  return new Uint8Array(await res.arrayBuffer());
}

test("uploadImage returns a token; the sent image has its size, dimensions and a working url", async () => {
  const data = bytes(1234);
  const token = await alice.uploadImage(new Blob([data], { type: "image/png" }), { filename: "pic ü.png", width: 640, height: 480 });
  assert.equal(typeof token, "string");
  assert.ok(token.length > 0);
  const m = await sendFile(token);
  const [block] = m.content;
  assert.equal(block.type, "file");
  assert.equal(block.subtype, "image");
  assert.equal(block.fileToken, token);
  assert.equal(block.filename, "pic ü.png");
  assert.equal(block.size, 1234);
  assert.equal(block.width, 640);
  assert.equal(block.height, 480);
  // The client derives the name in plaintext from the url's last segment (notes §6.6).
  assert.equal(m.plaintext, "📷 pic ü.png");
  assert.deepEqual(await download(block.url), data);
});

test("uploadFile makes a generic file with no subtype", async () => {
  const data = bytes(10, 7);
  const token = await alice.uploadFile(new Blob([data], { type: "application/pdf" }), { filename: "doc.pdf" });
  const m = await sendFile(token);
  const [block] = m.content;
  assert.equal(block.subtype, undefined);
  assert.equal(block.filename, "doc.pdf");
  assert.equal(block.size, 10);
  assert.equal(m.plaintext, "📎 doc.pdf");
  assert.deepEqual(await download(block.url), data);
});

test("uploadVideo keeps width, height and duration", async () => {
  const token = await alice.uploadVideo(new Blob([bytes(64)], { type: "video/mp4" }), {
    filename: "clip.mp4",
    width: 1920,
    height: 1080,
    duration: 12.5,
  });
  const m = await sendFile(token);
  const [block] = m.content;
  assert.equal(block.subtype, "video");
  assert.equal(block.width, 1920);
  assert.equal(block.height, 1080);
  assert.equal(block.duration, 12.5);
  assert.equal(m.plaintext, "🎥 clip.mp4");
});

test("uploadAudio keeps the duration", async () => {
  const token = await alice.uploadAudio(new Blob([bytes(32)], { type: "audio/mpeg" }), { filename: "song.mp3", duration: 200 });
  const m = await sendFile(token);
  assert.equal(m.content[0].subtype, "audio");
  assert.equal(m.content[0].duration, 200);
  assert.equal(m.plaintext, "🎧 song.mp3");
});

test("uploadVoice makes a voice message shown with its duration", async () => {
  const token = await alice.uploadVoice(new Blob([bytes(16)], { type: "audio/ogg" }), { filename: "voice.ogg", duration: 75.4 });
  const m = await sendFile(token);
  assert.equal(m.content[0].subtype, "voice");
  assert.equal(m.content[0].duration, 75.4);
  assert.equal(m.plaintext, "🎙️ (1:15)");
});

test("an image uploaded without dimensions has none", async () => {
  const token = await alice.uploadImage(new Blob([bytes(8)], { type: "image/gif" }), { filename: "tiny.gif" });
  const m = await sendFile(token);
  assert.equal(m.content[0].subtype, "image");
  assert.equal(m.content[0].width, undefined);
  assert.equal(m.content[0].height, undefined);
});

test("sending a file token that no upload returned rejects", async () => {
  const id = uid("badfile");
  const conv = await startConversation(alice, id);
  const e = await rejection(conv.send({ content: [{ type: "file", fileToken: "not-a-real-token" }] }));
  assert.match(errorText(e), new RegExp(`^Send message to conversation ${id} failed, got status 400 `));
});

test("an upload larger than the emulator's limit is refused at validation", async () => {
  const small = await startEmulator({ args: ["--max-upload-bytes", "100"] });
  const s = await user(session(small, "alice"));
  const e = await rejection(s.uploadFile(new Blob([bytes(101)]), { filename: "big.bin" }));
  assert.match(errorText(e), /^Upload file failed, got status 400 /);
  const token = await s.uploadFile(new Blob([bytes(100)]), { filename: "ok.bin" });
  assert.equal(typeof token, "string");
});
