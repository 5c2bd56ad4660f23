// Plumbing for the browser test: builds the page (page.jsx, the official React Chatbox) with
// esbuild, serves it from 127.0.0.1, and opens it in Debian's Chromium through playwright-core.
// The assertions live in chatbox.test.mjs.
//
// API:
//   chromiumPath()             the browser to drive: env CHROMIUM_PATH, else Debian's /usr/bin/chromium
//   missingChromium()          null when it exists, else a message saying how to install it
//   const site = await startSite()
//       bundles page.jsx into browser/.build/ (git-ignored) and serves it on 127.0.0.1:0
//       -> { url, stop() }
//   const browser = await launch()   headless Chromium (never a downloaded one)
//   const page = await openChatbox(browser, site, emu, { userId, conversationId, token })
//       a new page showing the Chatbox of `userId` on `conversationId`, against `emu`, signed in
//       with `token` (default: a valid JWT; null: none, for an emulator without a secret). Requests that leave loopback (TalkJS's CDN fonts and emoji data) are aborted, so
//       the test is the same offline and online. `page.errors` collects uncaught page errors and
//       `page.refused` the emulator's error answers (status >= 400), for failure messages.

import fs from "node:fs";
import http from "node:http";
import path from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";
import { chromium } from "playwright-core";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const BUILD_DIR = path.join(HERE, ".build");
/// Where Debian's `chromium` package installs the browser.
const DEBIAN_CHROMIUM = "/usr/bin/chromium";
/// How long the UI may take to show something, and a click to find its element. The first render
/// loads a 1 MB bundle and opens a socket; everything is on loopback, so longer than this is a
/// failure, not slowness.
export const UI_WAIT_MS = 10_000;
/// The page's size: a desktop-sized chatbox, so the UI shows its desktop layout.
const VIEWPORT = { width: 1000, height: 700 };

const INDEX_HTML = `<!doctype html>
<html>
  <head><meta charset="utf-8"><title>Chatbox against talkjs-emulator</title><link rel="stylesheet" href="page.css"></head>
  <body style="margin:0"><div id="root" style="height:100vh"></div><script type="module" src="page.js"></script></body>
</html>
`;
const CONTENT_TYPES = { ".html": "text/html", ".js": "text/javascript", ".css": "text/css" };

export function chromiumPath() {
  return process.env.CHROMIUM_PATH || DEBIAN_CHROMIUM;
}

export function missingChromium() {
  if (fs.existsSync(chromiumPath())) return null;
  return `no Chromium at ${chromiumPath()}: install Debian's (apt-get install -y chromium) or set CHROMIUM_PATH`;
}

/// Bundles the page and serves it. The bundle is rebuilt on every run, so it always uses the
/// installed packages; nothing of them is committed.
export async function startSite() {
  fs.mkdirSync(BUILD_DIR, { recursive: true });
  await esbuild.build({
    entryPoints: [path.join(HERE, "page.jsx")],
    bundle: true,
    outdir: BUILD_DIR,
    format: "esm",
    jsx: "automatic",
    define: { "process.env.NODE_ENV": '"production"' },
    logLevel: "warning",
  });
  fs.writeFileSync(path.join(BUILD_DIR, "index.html"), INDEX_HTML);
  const server = http.createServer((req, res) => {
    const name = path.basename(new URL(req.url, "http://x").pathname) || "index.html";
    const type = CONTENT_TYPES[path.extname(name)];
    const file = path.join(BUILD_DIR, name);
    if (!type || !fs.existsSync(file)) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { "content-type": type }).end(fs.readFileSync(file));
  });
  // The page must be on loopback too: Chromium refuses requests from a public origin to a
  // loopback address (Local Network Access), and the emulator listens on 127.0.0.1.
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}/index.html`,
    stop: () => new Promise((resolve) => server.close(resolve)),
  };
}

export async function launch() {
  return chromium.launch({ executablePath: chromiumPath(), headless: true });
}

function isLoopback(url) {
  const { hostname } = new URL(url);
  return hostname === "127.0.0.1" || hostname === "localhost" || hostname === "[::1]";
}

export async function openChatbox(browser, site, emu, { userId, conversationId, token = emu.jwt(userId) }) {
  const context = await browser.newContext({ viewport: VIEWPORT });
  context.setDefaultTimeout(UI_WAIT_MS);
  await context.route((url) => !isLoopback(url.href), (route) => route.abort());
  const page = await context.newPage();
  page.errors = [];
  page.refused = [];
  page.on("pageerror", (e) => page.errors.push(e.message));
  page.on("response", (r) => {
    if (r.status() >= 400) page.refused.push(`${r.request().method()} ${new URL(r.url()).pathname} -> ${r.status()}`);
  });
  const query = new URLSearchParams({ appId: emu.appId, userId, host: emu.host, conversationId });
  if (token) query.set("token", token);
  await page.goto(`${site.url}?${query}`);
  return page;
}
