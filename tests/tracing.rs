//! What the runtime tells `tracing`: a span per session, per connection and per request, in that
//! tree, and never a token, whatever happens to the tokens (refreshes after `session.expired`,
//! `set_token`, a refused token, uploads and searches over HTTP with the token).
//!
//! The test binary installs a subscriber of its own that records every span and event at every
//! level, with all their fields, so the check covers everything any subscriber could print.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use talkjs::params::{CreateUserParams, GenericFileMetadata};
use talkjs::token::{JwtSigner, TokenFn, TokenRequest};
use talkjs_emulator::Emulator;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

/// One span as recorded: its name, its parent's id, and its fields as text.
#[derive(Debug, Clone)]
struct SpanRecord {
    name: &'static str,
    parent: Option<u64>,
    fields: String,
}

/// One event as recorded: the span it happened in, and its message and fields as text.
#[derive(Debug, Clone)]
struct EventRecord {
    span: Option<u64>,
    text: String,
}

/// A subscriber that keeps everything, for inspection.
#[derive(Default)]
struct Recorder {
    next_id: AtomicU64,
    spans: Mutex<HashMap<u64, SpanRecord>>,
    events: Mutex<Vec<EventRecord>>,
}

thread_local! {
    /// The spans entered on this thread, innermost last (for events and spans without an
    /// explicit parent).
    static ENTERED: std::cell::RefCell<Vec<u64>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Writes every field as `name=value`.
struct Text<'a>(&'a mut String);

impl Visit for Text<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let _ = write!(self.0, " {}={value:?}", field.name());
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        let _ = write!(self.0, " {}={value}", field.name());
    }
}

fn current() -> Option<u64> {
    ENTERED.with(|e| e.borrow().last().copied())
}

impl Subscriber for Recorder {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }

    fn new_span(&self, attrs: &Attributes<'_>) -> Id {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed) + 1;
        let parent = if attrs.is_root() {
            None
        } else {
            attrs.parent().map(Id::into_u64).or_else(current)
        };
        let mut fields = String::new();
        attrs.record(&mut Text(&mut fields));
        let name = attrs.metadata().name();
        let record = SpanRecord {
            name,
            parent,
            fields,
        };
        self.spans.lock().unwrap().insert(id, record);
        Id::from_u64(id)
    }

    fn record(&self, span: &Id, values: &Record<'_>) {
        if let Some(s) = self.spans.lock().unwrap().get_mut(&span.into_u64()) {
            values.record(&mut Text(&mut s.fields));
        }
    }

    fn record_follows_from(&self, _: &Id, _: &Id) {}

    fn event(&self, event: &Event<'_>) {
        let span = if event.is_root() {
            None
        } else {
            event.parent().map(Id::into_u64).or_else(current)
        };
        let mut text = String::new();
        event.record(&mut Text(&mut text));
        self.events.lock().unwrap().push(EventRecord { span, text });
    }

    fn enter(&self, span: &Id) {
        ENTERED.with(|e| e.borrow_mut().push(span.into_u64()));
    }

    fn exit(&self, span: &Id) {
        ENTERED.with(|e| {
            let mut e = e.borrow_mut();
            if let Some(at) = e.iter().rposition(|s| *s == span.into_u64()) {
                e.remove(at);
            }
        });
    }
}

/// The recorder shared with the global dispatcher.
#[derive(Clone)]
struct Shared(Arc<Recorder>);

impl Subscriber for Shared {
    fn enabled(&self, m: &Metadata<'_>) -> bool {
        self.0.enabled(m)
    }
    fn new_span(&self, a: &Attributes<'_>) -> Id {
        self.0.new_span(a)
    }
    fn record(&self, s: &Id, v: &Record<'_>) {
        self.0.record(s, v)
    }
    fn record_follows_from(&self, s: &Id, f: &Id) {
        self.0.record_follows_from(s, f)
    }
    fn event(&self, e: &Event<'_>) {
        self.0.event(e)
    }
    fn enter(&self, s: &Id) {
        self.0.enter(s)
    }
    fn exit(&self, s: &Id) {
        self.0.exit(s)
    }
}

const APP: &str = "traced";
const SECRET: &str = "tracing-secret";

#[actix_rt::test]
async fn spans_nest_session_connection_request_and_no_token_is_ever_logged() {
    let recorder = Arc::new(Recorder::default());
    tracing::subscriber::set_global_default(Shared(recorder.clone())).expect("first subscriber");

    let emu = Emulator::builder()
        .app_id(APP)
        .secret(SECRET)
        .start("127.0.0.1:0")
        .await
        .unwrap();
    // Every token the runtime is given, to look for afterwards. Tokens live 32 s: the emulator
    // pushes `session.expired` 30 s before expiry, so the first refresh comes after about 2 s.
    let issued = Arc::new(Mutex::new(Vec::<String>::new()));
    let signer = JwtSigner::new(SECRET).lifetime(Duration::from_secs(32));
    let provider = {
        let (issued, signer) = (issued.clone(), signer.clone());
        TokenFn::new(move |req: TokenRequest| {
            let token = signer.sign(&req.app_id, &req.user_id);
            if let Ok(t) = &token {
                issued.lock().unwrap().push(t.clone());
            }
            async move { token.map_err(|e| e.to_string()) }
        })
    };
    let alice = talkjs::get_talk_session(APP, "alice")
        .host(emu.host())
        .token_provider(provider)
        .force_create_new()
        .await
        .unwrap();
    alice
        .current_user()
        .create_if_not_exists(CreateUserParams::new("Alice"))
        .await
        .unwrap();
    let chat = alice.conversation("traced-chat");
    chat.create_if_not_exists(Default::default()).await.unwrap();
    chat.send("a message to find").await.unwrap();
    let file = alice
        .upload_file(
            b"contents".to_vec(),
            GenericFileMetadata {
                filename: "notes.txt".into(),
            },
        )
        .await
        .unwrap();
    chat.send(file).await.unwrap();
    let found = alice
        .search_messages()
        .set_query("find", None)
        .await
        .unwrap();
    assert_eq!(found.results.len(), 1);

    // Uses the session until the provider has been asked `n` times.
    let asked = async |n: usize| {
        for _ in 0..100 {
            chat.send("keeping the socket busy").await.unwrap();
            if issued.lock().unwrap().len() >= n {
                return;
            }
            actix_rt::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the provider was asked {n} times");
    };
    // A token the server refuses (signed with another secret): the session asks the provider
    // for another one and goes on.
    let refused = JwtSigner::new("not-the-secret").sign(APP, "alice").unwrap();
    alice.set_token(refused.clone());
    asked(2).await;
    // A good token set by hand, then the server's `session.expired` asks for a third.
    let set = signer.sign(APP, "alice").unwrap();
    alice.set_token(set.clone());
    asked(3).await;
    chat.send("after the refresh").await.unwrap();
    alice.terminate("done");
    emu.stop().await;

    let spans = recorder.spans.lock().unwrap().clone();
    let events = recorder.events.lock().unwrap().clone();

    // No token, and no token's signature, in any span or event, at any level.
    let mut tokens = issued.lock().unwrap().clone();
    tokens.extend([refused, set]);
    let everything: Vec<&str> = spans
        .values()
        .map(|s| s.fields.as_str())
        .chain(events.iter().map(|e| e.text.as_str()))
        .collect();
    assert!(everything.len() > 20, "tracing saw the session's work");
    for token in &tokens {
        let signature = token.rsplit('.').next().unwrap();
        for text in &everything {
            assert!(
                !text.contains(token.as_str()) && !text.contains(signature),
                "a token appears in the logs: {text}"
            );
        }
    }

    // The span tree: session > connection > connect, session > request.
    let named = |name: &str| -> Vec<(u64, SpanRecord)> {
        spans
            .iter()
            .filter(|(_, s)| s.name == name)
            .map(|(id, s)| (*id, s.clone()))
            .collect()
    };
    let parent_name = |s: &SpanRecord| s.parent.and_then(|p| spans.get(&p)).map(|p| p.name);
    let sessions = named("session");
    let session = sessions
        .iter()
        .find(|(_, s)| s.fields.contains("user=alice") && s.fields.contains("app=traced"))
        .expect("a span for alice's session");
    let connections = named("connection");
    assert!(
        connections.iter().any(|(_, c)| c.parent == Some(session.0)),
        "alice's connection is a child of her session: {connections:?}"
    );
    let connects = named("connect");
    assert!(
        connects
            .iter()
            .all(|(_, c)| parent_name(c) == Some("connection")),
        "dialling happens in the connection's span: {connects:?}"
    );
    let requests = named("request");
    let mine: Vec<_> = requests
        .iter()
        .filter(|(_, r)| r.parent == Some(session.0))
        .collect();
    assert!(
        mine.iter()
            .any(|(_, r)| r.fields.contains("Send message to conversation")),
        "each request has a span under the session: {requests:?}"
    );
    // The request spans say how each request ended.
    let answered = events
        .iter()
        .filter(|e| e.text.contains("answered"))
        .filter(|e| e.span.is_some_and(|s| mine.iter().any(|(id, _)| *id == s)))
        .count();
    assert!(answered >= mine.len() / 2, "requests log their answers");
    // The connection reports its states and the token requests, with reasons but no tokens.
    let in_connection = |e: &&EventRecord| {
        e.span
            .and_then(|s| spans.get(&s))
            .is_some_and(|s| s.name == "connection")
    };
    let connection_events: Vec<&str> = events
        .iter()
        .filter(in_connection)
        .map(|e| e.text.as_str())
        .collect();
    for expected in ["Connected", "SessionExpired", "Rejected"] {
        assert!(
            connection_events.iter().any(|t| t.contains(expected)),
            "the connection logged {expected}: {connection_events:#?}"
        );
    }
}
