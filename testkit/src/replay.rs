//! A server that replays a recorded transcript of the official client (one fixture of
//! `protocol/tests/fixtures/frames/`), so a test can check that our runtime, making the same
//! calls, sends the same frames.
//!
//! The recording stub answered in rounds: it held its answers until the client had been silent
//! for 20 ms, then sent them all in request order. The replay does the same (after [`QUIET`]), so
//! the order of requests within a round, and the split into rounds, are compared too.
//!
//! How it answers:
//! - Each websocket the client opens plays the next socket of the recording (a recording with a
//!   reconnect has two).
//! - A request is matched with the first not yet used recorded request of that socket with the
//!   same method, path and data (idempotency keys and renew tokens are ignored), and is answered
//!   with that request's recorded answer, under our sequence number. A request the recording has
//!   no answer for is not answered (the stub did not answer it either). A request the recording
//!   does not have is answered `400 REPLAY_UNMATCHED`; the comparison then fails and shows it.
//! - A recorded `PUBLISH` is sent once everything recorded before it has happened: the client's
//!   requests and acks before it were received, and the answers before it were sent.
//! - Plain HTTP (app check, bokens, uploads, search) gets the stub's default answers unless the
//!   test's [`HttpAnswers`] gives one.
//!
//! [`Transcript::lines`] turns the client's frames, ours or recorded, into comparable lines:
//! sequence numbers dropped, object keys sorted, renew tokens and idempotency keys replaced by placeholders numbered
//! in order of first appearance (so a retry that reuses its key still shows), pings left out.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use futures_util::StreamExt;
use serde_json::{Value, json};
use tokio::sync::mpsc;

/// How long the client must be silent before held answers go out. The recording stub used
/// 20 ms; more keeps rounds stable on a loaded machine (a client paused mid-burst by the
/// scheduler would otherwise split a round), and changes nothing else: a round still ends at the
/// first answer the client waits for.
pub const QUIET: Duration = Duration::from_millis(100);

/// A recorded scenario: its client and server frames per socket, and its HTTP requests.
#[derive(Debug, Clone)]
pub struct Fixture {
    /// The scenario's name (the file name without `.json`).
    pub name: String,
    /// Per socket, the frames in the order the stub saw them.
    sockets: Vec<Vec<Recorded>>,
    /// `(method, url)` of every plain HTTP request, in arrival order.
    pub http: Vec<(String, String)>,
    /// How the official client's calls settled (the fixture's `results`).
    pub results: Value,
}

#[derive(Debug, Clone)]
enum Recorded {
    /// A client request: `[seq, method, path, data, headers]`.
    Request(Value),
    /// A client ack of a push id.
    Ack(Value),
    /// A server answer `[seq, status, data]`.
    Answer(Value),
    /// A server push (or any other server frame), sent as recorded.
    Push(Value),
}

impl Fixture {
    /// Reads `dir/name.json`.
    pub fn load(dir: &Path, name: &str) -> Fixture {
        let path = dir.join(format!("{name}.json"));
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
        let file: Value = serde_json::from_str(&text).expect("fixture is JSON");
        let mut sockets: Vec<Vec<Recorded>> = Vec::new();
        for f in file["frames"].as_array().expect("frames") {
            let frame = f["frame"].clone();
            let from_client = f["from"] == "client";
            let entry = match (from_client, &frame[1]) {
                (true, Value::String(m)) if m == "ACK" => Recorded::Ack(frame),
                (true, _) => Recorded::Request(frame),
                (false, Value::Number(_)) => Recorded::Answer(frame),
                (false, _) => Recorded::Push(frame),
            };
            // A renew with sequence number 0 starts a new socket.
            let starts_socket = matches!(&entry, Recorded::Request(r) if r[0] == 0);
            if starts_socket || sockets.is_empty() {
                sockets.push(Vec::new());
            }
            sockets.last_mut().expect("a socket").push(entry);
        }
        let http = file["http"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|h| {
                        let s = |k: &str| h[k].as_str().unwrap_or_default().to_owned();
                        (s("method"), s("url"))
                    })
                    .collect()
            })
            .unwrap_or_default();
        Fixture {
            name: name.to_owned(),
            sockets,
            http,
            results: file["results"].clone(),
        }
    }

    /// The recorded client frames, as comparable lines (see [`Transcript::lines`]).
    pub fn client_lines(&self) -> Vec<String> {
        let frames = self.sockets.iter().enumerate().flat_map(|(i, s)| {
            s.iter().map(move |e| match e {
                Recorded::Request(f) | Recorded::Ack(f) => (i, true, f.clone()),
                Recorded::Answer(f) | Recorded::Push(f) => (i, false, f.clone()),
            })
        });
        Transcript::lines(frames)
    }
}

/// Turns client frames into comparable lines.
pub struct Transcript;

/// The line that separates two rounds (see [`Transcript::lines`]).
pub const ROUND: &str = "--";

impl Transcript {
    /// `socket method path data headers` per request and `socket ACK id` per ack; pings
    /// dropped, tokens and idempotency keys replaced by `<TOKEN n>` / `<KEY n>` in order of
    /// first appearance. Frames are `(socket, from client, frame)`; where server frames came
    /// between two client frames, a [`ROUND`] line marks the start of the client's next round.
    pub fn lines(frames: impl IntoIterator<Item = (usize, bool, Value)>) -> Vec<String> {
        let mut tokens: HashMap<String, usize> = HashMap::new();
        let mut keys: HashMap<String, usize> = HashMap::new();
        let mut out: Vec<String> = Vec::new();
        let mut server_spoke = false;
        for (socket, from_client, frame) in frames {
            if !from_client {
                server_spoke = true;
                continue;
            }
            if frame[1] == "GET" && frame[2] == "/ping" {
                continue;
            }
            if std::mem::take(&mut server_spoke) && !out.is_empty() {
                out.push(ROUND.to_owned());
            }
            if frame[1] == "ACK" {
                out.push(format!("s{socket} ACK {}", frame[0]));
                continue;
            }
            let (method, path) = (
                frame[1].as_str().unwrap_or("?"),
                frame[2].as_str().unwrap_or("?"),
            );
            let mut data = frame[3].clone();
            let placeholder = |v: &mut Value, seen: &mut HashMap<String, usize>, label| {
                if let Some(s) = v.as_str() {
                    let n = seen.len() + 1;
                    let n = *seen.entry(s.to_owned()).or_insert(n);
                    *v = Value::String(format!("<{label} {n}>"));
                }
            };
            if let (true, Some(t)) = (
                method == "POST" && path == "/session/renew",
                data.get_mut("token"),
            ) {
                placeholder(t, &mut tokens, "TOKEN");
            }
            if let Some(k) = data.get_mut("idempotencyKey") {
                placeholder(k, &mut keys, "KEY");
            }
            out.push(format!(
                "s{socket} {method} {path} {} {}",
                canonical(&data),
                canonical(&frame[4])
            ));
        }
        out
    }
}

/// JSON text with object keys sorted, at every depth: key order carries no meaning in JSON, and
/// the two clients build their objects in different orders.
pub fn canonical(v: &Value) -> String {
    match v {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let fields: Vec<String> = keys
                .into_iter()
                .map(|k| format!("{}:{}", Value::String(k.clone()), canonical(&map[k])))
                .collect();
            format!("{{{}}}", fields.join(","))
        }
        Value::Array(items) => {
            let items: Vec<String> = items.iter().map(canonical).collect();
            format!("[{}]", items.join(","))
        }
        other => other.to_string(),
    }
}

/// A plain HTTP request as the replay server saw it.
#[derive(Debug, Clone)]
pub struct HttpSeen {
    /// Request method.
    pub method: String,
    /// Path and query.
    pub url: String,
    /// Selected headers (lower-case names): authorization, content-type.
    pub headers: HashMap<String, String>,
    /// The raw body.
    pub body: Vec<u8>,
}

/// An HTTP answer: status and JSON (or any text) body.
pub type HttpAnswer = (u16, String);

/// A test's own HTTP answers; `None` falls back to the stub's defaults.
pub type HttpAnswers = Arc<dyn Fn(&HttpSeen) -> Option<HttpAnswer> + Send + Sync>;

/// What a held answer answers.
#[derive(Clone, Copy)]
enum Entry {
    /// The recorded request at this index of the script.
    Script(usize),
    /// A heartbeat.
    Ping,
    /// A request the recording does not have.
    Unmatched,
}

struct SocketState {
    script: Vec<Recorded>,
    /// Per script entry: has it happened (request or ack received, answer or push sent)?
    done: Vec<bool>,
    /// Answers waiting for the client to go quiet, with what each one answers.
    held: Vec<(Entry, Value)>,
    /// Bumped by every client frame; a flush timer only fires if it is still current.
    generation: u64,
    out: mpsc::UnboundedSender<String>,
}

#[derive(Default)]
struct Shared {
    fixture_sockets: Vec<Vec<Recorded>>,
    opened: usize,
    sockets: Vec<SocketState>,
    /// Every frame: (socket, from the client, frame); answers to pings left out.
    log: Vec<(usize, bool, Value)>,
    http: Vec<HttpSeen>,
    /// Frames the recording has no match for.
    unmatched: Vec<String>,
}

/// A running replay server.
pub struct ReplayServer {
    shared: Arc<Mutex<Shared>>,
    addr: SocketAddr,
    handle: actix_web::dev::ServerHandle,
}

fn lock(shared: &Mutex<Shared>) -> MutexGuard<'_, Shared> {
    shared.lock().unwrap_or_else(|p| p.into_inner())
}

impl ReplayServer {
    /// Starts replaying `fixture` on a free loopback port. Must run inside an actix system.
    pub fn start(fixture: &Fixture, answers: Option<HttpAnswers>) -> std::io::Result<ReplayServer> {
        let shared = Arc::new(Mutex::new(Shared {
            fixture_sockets: fixture.sockets.clone(),
            ..Shared::default()
        }));
        let data = web::Data::new((shared.clone(), answers));
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .app_data(web::PayloadConfig::new(64 * 1024 * 1024))
                .default_service(web::to(serve))
        })
        .workers(1)
        .disable_signals()
        .shutdown_timeout(0)
        .bind("127.0.0.1:0")?;
        let addr = server.addrs()[0];
        let server = server.run();
        let handle = server.handle();
        actix_rt::spawn(server);
        Ok(ReplayServer {
            shared,
            addr,
            handle,
        })
    }

    /// `127.0.0.1:PORT`, for the runtime's `host` option.
    pub fn host(&self) -> String {
        self.addr.to_string()
    }

    /// Every client frame so far, as comparable lines.
    pub fn client_lines(&self) -> Vec<String> {
        Transcript::lines(lock(&self.shared).log.clone())
    }

    /// How many client frames have arrived.
    pub fn client_frames(&self) -> usize {
        lock(&self.shared).log.iter().filter(|f| f.1).count()
    }

    /// Every plain HTTP request so far.
    pub fn http(&self) -> Vec<HttpSeen> {
        lock(&self.shared).http.clone()
    }

    /// Requests the recording has no match for.
    pub fn unmatched(&self) -> Vec<String> {
        lock(&self.shared).unmatched.clone()
    }

    /// Whether everything recorded has happened: every socket of the recording was opened, each
    /// recorded request and ack came, and each recorded answer and push went out.
    pub fn played_all(&self) -> bool {
        let s = lock(&self.shared);
        s.opened >= s.fixture_sockets.len() && s.sockets.iter().all(|k| k.done.iter().all(|d| *d))
    }

    /// Waits until [`played_all`](Self::played_all) (at most `limit`); false if it never did.
    pub async fn wait_played_all(&self, limit: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + limit;
        while !self.played_all() {
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        true
    }

    /// Waits until the client has sent nothing for `quiet` (at most `limit` in all).
    pub async fn quiesce(&self, quiet: Duration, limit: Duration) {
        let deadline = tokio::time::Instant::now() + limit;
        let mut seen = (self.client_frames(), self.http().len());
        let mut since = tokio::time::Instant::now();
        while tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
            let now = (self.client_frames(), self.http().len());
            if now != seen {
                seen = now;
                since = tokio::time::Instant::now();
            } else if since.elapsed() >= quiet {
                return;
            }
        }
    }

    /// Stops the server, dropping every connection.
    pub async fn stop(self) {
        self.handle.stop(false).await;
    }
}

type Data = web::Data<(Arc<Mutex<Shared>>, Option<HttpAnswers>)>;

async fn serve(req: HttpRequest, body: web::Payload, data: Data) -> HttpResponse {
    let (shared, answers) = data.get_ref();
    let is_ws = req
        .headers()
        .get("upgrade")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
    if is_ws {
        return match actix_ws::handle(&req, body) {
            Ok((response, session, stream)) => {
                actix_rt::spawn(run_socket(shared.clone(), session, stream));
                response
            }
            Err(e) => HttpResponse::BadRequest().body(e.to_string()),
        };
    }
    let bytes = match body.to_bytes().await {
        Ok(b) => b.to_vec(),
        Err(e) => return HttpResponse::BadRequest().body(e.to_string()),
    };
    let headers = ["authorization", "content-type"]
        .iter()
        .filter_map(|h| {
            let v = req.headers().get(*h)?.to_str().ok()?;
            Some((h.to_string(), v.to_owned()))
        })
        .collect();
    let seen = HttpSeen {
        method: req.method().to_string(),
        url: req.uri().to_string(),
        headers,
        body: bytes,
    };
    lock(shared).http.push(seen.clone());
    let (status, text) = answers
        .as_ref()
        .and_then(|a| a(&seen))
        .unwrap_or_else(|| default_http(&seen.method, &seen.url));
    HttpResponse::build(actix_web::http::StatusCode::from_u16(status).expect("status"))
        .content_type("application/json")
        .body(text)
}

/// The recording stub's default HTTP answers.
fn default_http(method: &str, url: &str) -> HttpAnswer {
    let path = url.split('?').next().unwrap_or(url);
    let seg: Vec<&str> = path.split('/').skip(1).collect();
    match (method, seg.as_slice()) {
        ("GET", ["api", "v0", _]) => (200, "{}".into()),
        ("GET", ["api", "v0", _, "bokens", _]) => (200, json!({"boken": "BOKEN_1"}).to_string()),
        ("POST", ["public_api", "v1", _, "files"]) => {
            (200, json!({"fileToken": "FILETOKEN_1"}).to_string())
        }
        _ => (
            404,
            json!({"errorCode": "NOT_FOUND", "reasons": [format!("no route for {method} {path}")]})
                .to_string(),
        ),
    }
}

/// The data a request is matched on: renew tokens and idempotency keys left out.
fn match_key(frame: &Value) -> (Value, Value, Value) {
    let mut data = frame[3].clone();
    if let Some(o) = data.as_object_mut() {
        o.remove("idempotencyKey");
        if frame[2] == "/session/renew" {
            o.remove("token");
        }
    }
    (frame[1].clone(), frame[2].clone(), data)
}

async fn run_socket(
    shared: Arc<Mutex<Shared>>,
    mut session: actix_ws::Session,
    stream: actix_ws::MessageStream,
) {
    let (tx, mut rx) = mpsc::unbounded_channel::<String>();
    let index = {
        let mut s = lock(&shared);
        let index = s.opened;
        s.opened += 1;
        let script = s.fixture_sockets.get(index).cloned().unwrap_or_default();
        let done = vec![false; script.len()];
        s.sockets.push(SocketState {
            script,
            done,
            held: Vec::new(),
            generation: 0,
            out: tx,
        });
        index
    };
    let mut writer_session = session.clone();
    actix_rt::spawn(async move {
        while let Some(text) = rx.recv().await {
            if writer_session.text(text).await.is_err() {
                break;
            }
        }
    });
    let mut stream = stream.max_frame_size(16 * 1024 * 1024);
    while let Some(msg) = stream.next().await {
        match msg {
            Ok(actix_ws::Message::Text(text)) => {
                let frame: Value = match serde_json::from_str(&text) {
                    Ok(v) => v,
                    Err(_) => {
                        lock(&shared).unmatched.push(format!("not JSON: {text}"));
                        continue;
                    }
                };
                let generation = on_client_frame(&shared, index, frame);
                arm(&shared, index, generation);
            }
            Ok(actix_ws::Message::Ping(b)) => {
                let _ = session.pong(&b).await;
            }
            Ok(actix_ws::Message::Close(_)) | Err(_) => break,
            Ok(_) => {}
        }
    }
    let _ = session.close(None).await;
}

/// Records a client frame, finds its recorded counterpart, holds its answer. Returns the
/// generation a flush timer should check.
fn on_client_frame(shared: &Mutex<Shared>, index: usize, frame: Value) -> u64 {
    let mut s = lock(shared);
    s.log.push((index, true, frame.clone()));
    let Shared {
        sockets, unmatched, ..
    } = &mut *s;
    let sock = &mut sockets[index];
    sock.generation += 1;
    if frame[1] == "ACK" {
        let at =
            sock.script.iter().enumerate().position(|(i, e)| {
                !sock.done[i] && matches!(e, Recorded::Ack(a) if a[0] == frame[0])
            });
        match at {
            Some(i) => sock.done[i] = true,
            None => unmatched.push(format!("s{index} {frame}")),
        }
        // Pushes wait for the client to be quiet too.
        return sock.generation;
    }
    if frame[1] == "GET" && frame[2] == "/ping" {
        sock.held.push((Entry::Ping, json!([frame[0], 200, {}])));
        return sock.generation;
    }
    let key = match_key(&frame);
    let at = sock.script.iter().enumerate().position(|(i, e)| {
        !sock.done[i] && matches!(e, Recorded::Request(r) if match_key(r) == key)
    });
    match at {
        Some(i) => {
            sock.done[i] = true;
            let recorded_seq = match &sock.script[i] {
                Recorded::Request(r) => r[0].clone(),
                _ => unreachable!("matched a request"),
            };
            // Its answer: the first answer after it with the same sequence number.
            let answer = (i + 1..sock.script.len()).find(|&j| {
                !sock.done[j]
                    && matches!(&sock.script[j], Recorded::Answer(a) if a[0] == recorded_seq)
            });
            if let Some(j) = answer {
                let Recorded::Answer(a) = &sock.script[j] else {
                    unreachable!("found an answer")
                };
                let reply = json!([frame[0], a[1], a[2]]);
                sock.held.push((Entry::Script(j), reply));
            }
        }
        None => {
            unmatched.push(format!("s{index} {frame}"));
            let reply = json!([
                frame[0],
                400,
                {"errorCode": "REPLAY_UNMATCHED", "reasons": ["the recording has no such request"]}
            ]);
            sock.held.push((Entry::Unmatched, reply));
        }
    }
    sock.generation
}

/// Sends the held answers if the client has stayed quiet since `generation`, then any pushes
/// that became due.
/// After [`QUIET`] with no client frame since `generation`: [`flush`].
fn arm(shared: &Arc<Mutex<Shared>>, index: usize, generation: u64) {
    let shared = shared.clone();
    actix_rt::spawn(async move {
        tokio::time::sleep(QUIET).await;
        flush(&shared, index, generation);
    });
}

/// Sends the held answers if the client has stayed quiet since `generation`; if there were
/// none, the pushes that became due. A push thus waits until the client has been quiet for
/// [`QUIET`] after the answers before it, as the recorder waited for the client to settle before
/// it pushed.
fn flush(shared: &Arc<Mutex<Shared>>, index: usize, generation: u64) {
    let mut s = lock(shared);
    let Shared { sockets, log, .. } = &mut *s;
    let sock = &mut sockets[index];
    if sock.generation != generation {
        return;
    }
    if sock.held.is_empty() {
        send_ready_pushes(sock, index, log);
        return;
    }
    for (entry, answer) in std::mem::take(&mut sock.held) {
        match entry {
            Entry::Script(j) => {
                sock.done[j] = true;
                log.push((index, false, answer.clone()));
            }
            Entry::Unmatched => log.push((index, false, answer.clone())),
            Entry::Ping => {}
        }
        let _ = sock.out.send(answer.to_string());
    }
    drop(s);
    arm(shared, index, generation);
}

/// Sends every recorded push whose predecessors have all happened.
fn send_ready_pushes(sock: &mut SocketState, index: usize, log: &mut Vec<(usize, bool, Value)>) {
    loop {
        let Some(p) = (0..sock.script.len())
            .find(|&i| !sock.done[i] && matches!(sock.script[i], Recorded::Push(_)))
        else {
            return;
        };
        if !sock.done[..p].iter().all(|d| *d) {
            return;
        }
        sock.done[p] = true;
        let Recorded::Push(frame) = &sock.script[p] else {
            unreachable!("found a push")
        };
        log.push((index, false, frame.clone()));
        let _ = sock.out.send(frame.to_string());
    }
}
