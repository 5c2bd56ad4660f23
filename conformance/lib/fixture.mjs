// Turns a stub transcript into a byte-stable fixture object (see
// protocol/tests/fixtures/frames/README.md for the format and placeholders).

const JWT_RE = /eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+/g;

export function buildFixture(scenario, log, results) {
  const jwtNames = new Map();
  const keyNames = new Map();
  const boundaries = new Set();

  for (const e of log) {
    if (e.kind !== "http") continue;
    const ct = e.headers["content-type"] || "";
    const m = /boundary=(.+)$/.exec(ct);
    if (m) boundaries.add(m[1]);
  }

  const jwtName = (tok) => {
    if (!jwtNames.has(tok)) {
      jwtNames.set(tok, jwtNames.size === 0 ? "<JWT>" : `<JWT_${jwtNames.size + 1}>`);
    }
    return jwtNames.get(tok);
  };
  const keyName = (k) => {
    if (!keyNames.has(k)) {
      keyNames.set(k, "IDEMPOTENCYKEY" + String(keyNames.size + 1).padStart(6, "0"));
    }
    return keyNames.get(k);
  };

  const fixString = (s) => {
    let out = s.replace(JWT_RE, (t) => jwtName(t));
    out = out.replace(/talkjs-client-id=[0-9]+/g, "talkjs-client-id=<CID>");
    out = out.replace(/talkjs-time=[0-9]+/g, "talkjs-time=<TS>");
    for (const b of boundaries) out = out.split(b).join("<BOUNDARY>");
    return out;
  };

  const walk = (v) => {
    if (typeof v === "string") return fixString(v);
    if (Array.isArray(v)) return v.map(walk);
    if (v && typeof v === "object") {
      const out = {};
      for (const [k, val] of Object.entries(v)) {
        if (k === "idempotencyKey" && typeof val === "string") out[k] = keyName(val);
        else out[k] = walk(val);
      }
      return out;
    }
    return v;
  };

  const fixture = {
    name: scenario.name,
    description: scenario.description,
    calls: scenario.calls,
    ws_urls: [],
    http: [],
    frames: [],
  };
  for (const e of log) {
    if (e.kind === "ws-open") fixture.ws_urls.push(walk(e.url));
    else if (e.kind === "http")
      fixture.http.push({ method: e.method, url: walk(e.url), headers: walk(e.headers), body: walk(e.body) });
    else if (e.kind === "ws") fixture.frames.push({ from: e.from, frame: walk(e.frame) });
  }
  if (results && Object.keys(results).length > 0) fixture.results = walk(results);
  return fixture;
}

export function fixtureText(fixture) {
  return JSON.stringify(fixture, null, 2) + "\n";
}

// Converts a value produced by the official client into plain JSON.
export function plain(v, seen = new Set()) {
  if (v === undefined) return null;
  if (v === null || typeof v !== "object") {
    if (typeof v === "function") return "<function>";
    return v;
  }
  if (v instanceof Error) return { error: v.message };
  if (seen.has(v)) return "<cycle>";
  seen.add(v);
  let out;
  if (Array.isArray(v)) out = v.map((x) => plain(x, seen));
  else if (typeof v.edit === "function" && typeof v.reactions === "function" && "conversationId" in v)
    out = { messageRef: { id: v.id, conversationId: v.conversationId } };
  else {
    out = {};
    for (const [k, val] of Object.entries(v)) {
      if (typeof val === "function") continue;
      out[k] = plain(val, seen);
    }
  }
  seen.delete(v);
  return out;
}

// Awaits a promise and describes how it settled, as JSON.
export async function settled(p) {
  try {
    return { resolved: plain(await p) };
  } catch (e) {
    if (e instanceof Error) return { rejected: { error: e.message } };
    return { rejected: plain(e) };
  }
}
