// Network failures: the client reconnects after 5-15 s, re-subscribes, refetches, and replays the
// requests that were in flight (notes §3.8, §9.13, §9.14). The emulator sits behind a TCP relay
// that the tests cut.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startEmulator, startProxy, session, user, watch, closeAll, uid, startConversation, sleep } from "../lib/emulator.mjs";

/// The client waits a random 5-15 s before reconnecting; allow for the slowest case.
const RECONNECT_MS = 20_000;

let emu, alice;

before(async () => {
  emu = await startEmulator();
  alice = await user(session(emu, "alice"));
});
after(closeAll);

test("a send whose answer was lost is replayed after the reconnect and makes one message", async () => {
  const proxy = await startProxy(emu);
  const bob = await user(session(proxy, uid("bob")));
  const id = uid("replay");
  await startConversation(alice, id, [bob.currentUser.id]);
  await alice.conversation(id).send("before the failure");
  // A live subscription makes the client reconnect on its own (notes §3.8, reconnect gap).
  const w = watch((cb) => bob.conversation(id).subscribeMessages(cb));
  await w.until((l) => l?.length === 1, "the first message");

  proxy.deaf = true;
  const sent = bob.conversation(id).send("sent into the void");
  await sleep(300); // the emulator has stored it; its answer is lost
  await alice.conversation(id).send("while bob is away");
  proxy.cut();

  // The client replays the send with the same idempotencyKey on the new socket.
  const ref = await sent;
  const list = await w.until((l) => l?.length >= 3, "the list after the reconnect", RECONNECT_MS);
  assert.deepEqual(
    list.map((m) => m.plaintext),
    ["while bob is away", "sent into the void", "before the failure"],
  );
  assert.equal(list[1].id, ref.id, "the replay answered with the first send's message");
  const fresh = await alice.conversation(id).subscribeMessages().connected;
  assert.equal(fresh.latestSnapshot.filter((m) => m.plaintext === "sent into the void").length, 1);
  w.unsubscribe();
});

test(
  "after a reconnect bob still sees a sender's rename on their message",
  async () => {
    const proxy = await startProxy(emu);
    const bob = await user(session(proxy, uid("bob")));
    const writer = await user(session(emu, uid("writer")), { name: "Writer" });
    const carol = uid("carol");
    await alice.user(carol).createIfNotExists({ name: "Carol" });
    const id = uid("rename");
    await (await startConversation(writer, id, [bob.currentUser.id])).send("signed");
    const c = watch((cb) => bob.user(carol).subscribe(cb));
    await c.until((u) => u?.name === "Carol", "carol");
    const w = watch((cb) => bob.conversation(id).subscribeMessages(cb));
    await w.until((l) => l?.[0]?.sender?.name === "Writer", "the sender's name");
    proxy.cut();
    await writer.conversation(id).send("during the gap");
    await w.until((l) => l?.[0]?.plaintext === "during the gap", "the refetch after the reconnect", RECONNECT_MS);
    await writer.currentUser.set({ name: "Renamed" });
    await w.until((l) => l?.[0]?.sender?.name === "Renamed", "the rename", 3_000);
    c.unsubscribe();
    w.unsubscribe();
  },
);
