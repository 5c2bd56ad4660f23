// The page the browser test renders: the official React `Chatbox` against talkjs-emulator.
// Everything it needs comes from the query string (appId, userId, host, conversationId, and token
// unless the app runs without authentication), so one bundle serves every test. It is bundled at test time by esbuild (see harness.mjs).
import { createRoot } from "react-dom/client";
import { getTalkSession } from "@talkjs/core";
import { Chatbox } from "@talkjs/react-components";
import "@talkjs/react-components/default.css";

const params = new URLSearchParams(location.search);
const appId = params.get("appId");
const userId = params.get("userId");
const host = params.get("host");
const token = params.get("token") ?? undefined;
const conversationId = params.get("conversationId");

// A session for (appId, userId) made first with the emulator's host: the Chatbox asks
// getTalkSession for the same (appId, userId) and gets this one, so its realtime connection goes
// to the emulator. `host` is also passed to the Chatbox, which reads it (undeclared in its typings)
// for its own HTTP requests.
const session = getTalkSession({ appId, userId, host });
if (token) session.setToken(token);

const props = { appId, userId, host, token, conversationId, style: { height: "100%", width: "100%" } };
createRoot(document.getElementById("root")).render(<Chatbox {...props} />);
