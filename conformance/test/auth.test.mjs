// TalkSession.appId / currentUser / setToken / onNeedToken / onError, and the emulator's
// authentication as the official client experiences it (notes §1.4, §1.5, §2).

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import crypto from "node:crypto";
import {
  startEmulator,
  session,
  user,
  watch,
  closeAll,
  uid,
  makeJwt,
  nowSeconds,
  withTimeout,
  startConversation,
  rejection,
  SECRET,
} from "../lib/emulator.mjs";

let emu;

before(async () => {
  emu = await startEmulator();
  await user(session(emu, "alice"));
  await user(session(emu, "bob"));
});
after(closeAll);

/// The first error the session reports through onError.
function firstError(s) {
  return new Promise((resolve) => s.onError(resolve));
}

const FATAL_NO_REFRESH = /^Could not authenticate, cannot recover automatically: Cannot refresh token, no `onNeedToken` provided/;

test("a session knows its app id and its current user", async () => {
  const s = session(emu, "alice");
  assert.equal(s.appId, emu.appId);
  assert.equal(s.currentUser.id, "alice");
  assert.equal((await s.currentUser.get()).name, "Alice");
});

test("a JWT signed with the wrong secret ends the session through onError", async () => {
  const s = session(emu, "alice", { token: makeJwt(emu.appId, "alice", "not-the-secret") });
  const error = firstError(s);
  const call = s.currentUser.get();
  const e = await withTimeout(error, "onError");
  assert.ok(e instanceof Error);
  assert.match(e.message, FATAL_NO_REFRESH);
  await rejection(call);
});

test("an expired JWT ends the session through onError", async () => {
  const s = session(emu, "alice", { token: emu.jwt("alice", { exp: nowSeconds() - 60 }) });
  const error = firstError(s);
  s.currentUser.get().catch(() => {});
  assert.match((await withTimeout(error, "onError")).message, FATAL_NO_REFRESH);
});

test("a JWT for another user is refused", async () => {
  const s = session(emu, "alice", { token: emu.jwt("bob") });
  const error = firstError(s);
  s.currentUser.get().catch(() => {});
  assert.match((await withTimeout(error, "onError")).message, FATAL_NO_REFRESH);
});

test("a JWT for another app is refused", async () => {
  const s = session(emu, "alice", { token: makeJwt("other-app", "alice", SECRET) });
  const error = firstError(s);
  s.currentUser.get().catch(() => {});
  assert.match((await withTimeout(error, "onError")).message, FATAL_NO_REFRESH);
});

test("an unsigned JWT (alg none) is refused", async () => {
  const b64 = (o) => Buffer.from(JSON.stringify(o)).toString("base64url");
  const unsigned = `${b64({ alg: "none", typ: "JWT" })}.${b64({ tokenType: "user", iss: emu.appId, sub: "alice" })}.`;
  const s = session(emu, "alice", { token: unsigned });
  const error = firstError(s);
  s.currentUser.get().catch(() => {});
  assert.match((await withTimeout(error, "onError")).message, FATAL_NO_REFRESH);
});

test("a JWT that is not valid yet (nbf in the future) is refused", async () => {
  const s = session(emu, "alice", { token: emu.jwt("alice", { nbf: nowSeconds() + 3600 }) });
  const error = firstError(s);
  s.currentUser.get().catch(() => {});
  assert.match((await withTimeout(error, "onError")).message, FATAL_NO_REFRESH);
});

test("an unknown app id ends the session through onError without any call", async () => {
  const s = session(emu, "alice", { appId: "no-such-app" });
  const e = await withTimeout(firstError(s), "onError");
  assert.match(e.message, /^The app ID no-such-app does not exist/);
});

test("an onError handler that was unsubscribed is not called", async () => {
  const s = session(emu, "alice", { appId: "no-such-app-either" });
  let called = false;
  s.onError(() => {
    called = true;
  }).unsubscribe();
  await withTimeout(firstError(s), "onError of the other handler");
  assert.equal(called, false);
});

test("onNeedToken replaces a refused token and the session carries on", async () => {
  let asked = 0;
  const s = session(emu, "alice", {
    token: makeJwt(emu.appId, "alice", "not-the-secret"),
    onNeedToken: () => {
      asked += 1;
      s.setToken(emu.jwt("alice"));
    },
  });
  const me = await withTimeout(s.currentUser.get(), "get() after the refresh");
  assert.equal(me.name, "Alice");
  assert.equal(asked, 1);
});

test("without setToken, onNeedToken is asked for the first token", async () => {
  let asked = 0;
  const s = session(emu, "alice", {
    token: false,
    onNeedToken: () => {
      asked += 1;
      s.setToken(emu.jwt("alice"));
    },
  });
  assert.equal((await withTimeout(s.currentUser.get(), "get()")).id, "alice");
  assert.equal(asked, 1);
});

test("a token that expires in under 2 minutes makes the client ask onNeedToken for a longer one", async () => {
  let asked = 0;
  const s = session(emu, "alice", {
    token: emu.jwt("alice", { exp: nowSeconds() + 60 }),
    onNeedToken: () => {
      asked += 1;
      s.setToken(emu.jwt("alice"));
    },
  });
  assert.equal((await withTimeout(s.currentUser.get(), "get()")).id, "alice");
  assert.ok(asked >= 1, "onNeedToken was called");
});

test("setToken while connected renews the session and live updates keep coming", async () => {
  let asked = 0;
  const s = session(emu, "alice", {
    token: emu.jwt("alice", { exp: nowSeconds() + 150 }),
    onNeedToken: () => {
      asked += 1;
    },
  });
  const bob = session(emu, "bob");
  const id = uid("renew");
  await startConversation(bob, id, ["alice"]);
  const w = watch((cb) => s.conversation(id).subscribeMessages(cb));
  await w.until((l) => Array.isArray(l), "the message list");
  s.setToken(emu.jwt("alice", { exp: nowSeconds() + 3600 }));
  await bob.conversation(id).send("after renew");
  const [m] = await w.until((l) => l?.length === 1, "bob's message after the renew");
  assert.equal(m.plaintext, "after renew");
  // A 150 s token is refreshed at half its life (75 s), not now.
  assert.equal(asked, 0);
  w.unsubscribe();
});

test("search and upload use the session's token over HTTP", async () => {
  const s = session(emu, "alice");
  const state = await s.searchMessages().setQuery(`nothing-${uid("q")}`);
  assert.equal(state.loadedAll, true);
  const token = await s.uploadFile(new Blob([new Uint8Array([1, 2, 3])]), { filename: "a.bin" });
  assert.equal(typeof token, "string");
});

// ---------------------------------------------------------------------------
// Bokens (no token at all)

test("without a secret, a session with no token gets a boken and works", async () => {
  const open = await startEmulator({ secret: null });
  const s = session(open, "walt", { token: false });
  await s.currentUser.createIfNotExists({ name: "Walt" });
  assert.equal((await s.currentUser.get()).name, "Walt");
  const token = await s.uploadFile(new Blob([new Uint8Array([9])]), { filename: "b.bin" });
  assert.equal(typeof token, "string");
});

test("with a secret, a session with no token needs the identity-verification signature", async () => {
  const signature = crypto.createHmac("sha256", SECRET).update("alice").digest("hex");
  const signed = session(emu, "alice", { token: false, signature });
  assert.equal((await withTimeout(signed.currentUser.get(), "get() with a signature")).id, "alice");

  const unsigned = session(emu, "alice", { token: false });
  unsigned.currentUser.get().catch(() => {});
  const e = await withTimeout(firstError(unsigned), "onError without a signature");
  assert.match(e.message, /^Could not authenticate, cannot recover automatically: Check that you provided a valid signature/);
});
