//! Every frame the official client sent or received in the recorded scenarios
//! (`tests/fixtures/frames/`, made by `conformance/record.mjs`) must:
//!
//! - parse as a [`Frame`] and re-encode to the same bytes;
//! - if it is a request, name a known [`Route`] whose path re-encodes to the same string, and have
//!   data that decodes into the route's typed body and serialises back to the same JSON;
//! - if it is a push, decode into typed [`Event`]s that serialise back to the same JSON;
//! - if it is a response, decode into the type its request's route promises, and back.
//!
//! The decoded forms of each scenario are kept as insta snapshots, so a change in how we read
//! the protocol shows up as a reviewable diff.

use std::collections::HashMap;
use std::path::Path as FsPath;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use talkjs_protocol::ErrorBody;
use talkjs_protocol::event::Event;
use talkjs_protocol::frame::{Frame, Method, Request, Response};
use talkjs_protocol::path::{Route, Topic};
use talkjs_protocol::request::RequestBody;
use talkjs_protocol::wire::{
    ConversationWire, MessageWire, OnlineWire, Page, ParticipantWire, ReactionUserWire, TypingWire,
    UserWire,
};

#[derive(serde::Deserialize)]
struct Fixture {
    name: String,
    frames: Vec<Recorded>,
}

#[derive(serde::Deserialize)]
struct Recorded {
    from: String,
    frame: Value,
}

/// What one frame decoded to; the snapshot of a scenario is the list of these.
#[derive(Debug)]
#[allow(dead_code)] // Fields are read through Debug, for the snapshots.
enum Decoded {
    Request {
        seq: u64,
        route: Route,
        data: Value,
    },
    Response {
        seq: u64,
        status: u16,
        body: TypedBody,
    },
    Publish {
        id: u64,
        events: Vec<Event>,
    },
    Ack {
        id: u64,
    },
}

#[derive(Debug)]
#[allow(dead_code)] // Fields are read through Debug, for the snapshots.
enum TypedBody {
    Users(std::collections::BTreeMap<String, UserWire>),
    Conversation(ConversationWire),
    Conversations(Page<ConversationWire>),
    Message(MessageWire),
    Messages(Page<MessageWire>),
    Participant(ParticipantWire),
    Participants(Page<ParticipantWire>),
    ReactionUsers(Page<ReactionUserWire>),
    Typing(TypingWire),
    Online(OnlineWire),
    Error(ErrorBody),
    /// Routes whose result the client ignores or that carry a small object (renew, send, ...):
    /// kept as JSON; their typed bodies are checked in `types.rs`.
    Json(Value),
}

/// Decodes `data` as `T` and checks that `T` serialises back to the same JSON value.
fn typed<T: DeserializeOwned + Serialize>(resp: &Response, what: &str) -> T {
    let value: T = resp.data().unwrap_or_else(|e| {
        panic!(
            "{what}: response data does not decode: {e}\n{}",
            resp.data.get()
        )
    });
    let original: Value = serde_json::from_str(resp.data.get()).expect("valid JSON");
    assert_eq!(
        serde_json::to_value(&value).expect("serialises"),
        original,
        "{what}: typed round trip"
    );
    value
}

fn typed_response(route: Option<&Route>, resp: &Response, what: &str) -> TypedBody {
    if !resp.is_ok() {
        let body: ErrorBody = resp
            .data()
            .unwrap_or_else(|e| panic!("{what}: error body does not decode: {e}"));
        return TypedBody::Error(body);
    }
    match route {
        Some(Route::GetUsers) => TypedBody::Users(typed(resp, what)),
        Some(Route::GetConversation { .. }) => TypedBody::Conversation(typed(resp, what)),
        Some(Route::ListConversations) => TypedBody::Conversations(typed(resp, what)),
        Some(Route::GetMessage { .. }) => TypedBody::Message(typed(resp, what)),
        Some(Route::ListMessages { .. }) => TypedBody::Messages(typed(resp, what)),
        Some(Route::GetParticipant { .. }) => TypedBody::Participant(typed(resp, what)),
        Some(Route::ListParticipants { .. }) => TypedBody::Participants(typed(resp, what)),
        Some(Route::ListReactions { .. }) => TypedBody::ReactionUsers(typed(resp, what)),
        Some(Route::GetTyping { .. }) => TypedBody::Typing(typed(resp, what)),
        Some(Route::GetUserOnline { .. }) => TypedBody::Online(typed(resp, what)),
        _ => TypedBody::Json(serde_json::from_str(resp.data.get()).expect("valid JSON")),
    }
}

fn decode_request(req: &Request, what: &str) -> Route {
    let route = Route::parse(req.method, &req.path).unwrap_or_else(|e| panic!("{what}: {e}"));
    // Our typed body must say exactly what the official client said. `Value` equality compares
    // everything but object key order (which in JavaScript is the caller's insertion order), and
    // tells `1` from `1.0`.
    let body = RequestBody::decode(&route, req.data.get()).unwrap_or_else(|e| {
        panic!(
            "{what}: data does not decode as {route:?}: {e}\n{}",
            req.data.get()
        )
    });
    let ours = serde_json::to_string(&body).expect("serialises");
    let original: Value = serde_json::from_str(req.data.get()).expect("JSON");
    assert_eq!(
        serde_json::from_str::<Value>(&ours).expect("JSON"),
        original,
        "{what}: typed request round trip"
    );

    assert_eq!(route.path().encode(), req.path, "{what}: path re-encodes");
    assert_eq!(route.method(), req.method, "{what}: method");
    // The only batched subscription carries its ids in the data.
    if route == Route::Subscribe(Topic::Users) {
        let data: Value = req.data().expect("JSON");
        assert!(
            data["ids"].is_array(),
            "{what}: SUBSCRIBE /users without ids"
        );
    }
    route
}

fn decode_fixture(path: &FsPath) -> (String, Vec<Decoded>) {
    let text = std::fs::read_to_string(path).expect("fixture readable");
    let fixture: Fixture = serde_json::from_str(&text).expect("fixture is valid JSON");
    // Sequence numbers restart on every socket, so a response answers the latest request with its seq.
    let mut routes: HashMap<u64, Route> = HashMap::new();
    let mut decoded = Vec::new();
    for (i, rec) in fixture.frames.iter().enumerate() {
        let what = format!("{} frame #{i} from {}", fixture.name, rec.from);
        let wire = serde_json::to_string(&rec.frame).expect("serialises");
        let frame = Frame::parse(&wire).unwrap_or_else(|e| panic!("{what}: {e}\n{wire}"));
        assert_eq!(frame.to_text(), wire, "{what}: byte-exact round trip");
        let expected_sender = match &frame {
            Frame::Request(_) | Frame::Ack(_) => "client",
            Frame::Response(_) | Frame::Publish(_) => "server",
        };
        assert_eq!(rec.from, expected_sender, "{what}: frame kind vs direction");
        decoded.push(match frame {
            Frame::Request(req) => {
                let route = decode_request(&req, &what);
                routes.insert(req.seq, route.clone());
                Decoded::Request {
                    seq: req.seq,
                    route,
                    data: req.data().expect("JSON"),
                }
            }
            Frame::Response(resp) => Decoded::Response {
                seq: resp.seq,
                status: resp.status,
                body: typed_response(routes.get(&resp.seq), &resp, &what),
            },
            Frame::Publish(p) => {
                let mut events = Vec::new();
                for (raw, event) in p.events.iter().zip(p.events()) {
                    let event = event.unwrap_or_else(|e| panic!("{what}: {e}\n{}", raw.get()));
                    let original: Value = serde_json::from_str(raw.get()).expect("JSON");
                    if let Event::Other(_) = event {
                        let ty = original["type"].as_str().unwrap_or_default();
                        assert!(
                            ty.starts_with("custom."),
                            "{what}: known-looking event {ty} fell through"
                        );
                    }
                    assert_eq!(
                        serde_json::to_value(&event).expect("serialises"),
                        original,
                        "{what}: event round trip"
                    );
                    events.push(event);
                }
                Decoded::Publish { id: p.id, events }
            }
            Frame::Ack(a) => Decoded::Ack { id: a.id },
        });
    }
    (fixture.name, decoded)
}

#[test]
fn every_recorded_frame_decodes_and_round_trips() {
    let dir = FsPath::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/frames");
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .expect("fixtures folder exists")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    paths.sort();
    assert!(
        paths.len() >= 40,
        "expected the recorded scenarios, found {}",
        paths.len()
    );
    let mut frames = 0;
    for path in &paths {
        let (_, decoded) = decode_fixture(path);
        frames += decoded.len();
    }
    assert!(frames > 500, "suspiciously few recorded frames: {frames}");
}

#[test]
fn every_route_and_event_type_is_covered_by_a_recording() {
    let dir = FsPath::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/frames");
    let mut methods = std::collections::BTreeSet::new();
    let mut events = std::collections::BTreeSet::new();
    for entry in std::fs::read_dir(&dir).expect("fixtures folder") {
        let path = entry.expect("entry").path();
        if path.extension().is_none_or(|x| x != "json") {
            continue;
        }
        for d in decode_fixture(&path).1 {
            match d {
                Decoded::Request { route, .. } => {
                    let name = format!("{route:?}");
                    let variant = name
                        .split([' ', '(', '{'])
                        .next()
                        .unwrap_or_default()
                        .to_owned();
                    methods.insert(variant);
                }
                Decoded::Publish { events: evs, .. } => {
                    events.extend(evs.iter().map(|e| e.type_name().to_owned()))
                }
                _ => {}
            }
        }
    }
    for route in [
        "SessionRenew",
        "GetUsers",
        "CreateUser",
        "SetUser",
        "GetUserOnline",
        "ListConversations",
        "GetConversation",
        "CreateConversation",
        "SetConversation",
        "ParticipantActions",
        "DeleteParticipant",
        "ListParticipants",
        "GetParticipant",
        "ListMessages",
        "GetMessage",
        "SendMessage",
        "EditMessage",
        "DeleteMessage",
        "AddReaction",
        "RemoveReaction",
        "ListReactions",
        "MarkAsRead",
        "MarkAsUnread",
        "MarkAsTyping",
        "GetTyping",
        "Translate",
        "ValidateFile",
        "Subscribe",
        "Unsubscribe",
    ] {
        assert!(
            methods.contains(route),
            "no recording sends {route}; have {methods:?}"
        );
    }
    for ty in [
        "user.created",
        "user.edited",
        "user.online.changed",
        "side.created",
        "side.edited",
        "side.deleted",
        "conversation.edited",
        "conversation.cleared",
        "message.created",
        "message.edited",
        "message.deleted",
        "participant.created",
        "participant.edited",
        "participant.deleted",
        "typing.available",
        "typing.changed",
        "reaction.added",
        "reaction.removed",
        "session.expired",
        "upstream.restarting",
    ] {
        assert!(events.contains(ty), "no recording pushes {ty}");
    }
}

#[test]
fn decoded_scenarios_match_their_snapshots() {
    insta::glob!("fixtures/frames/*.json", |path| {
        let (_, decoded) = decode_fixture(path);
        insta::assert_debug_snapshot!(decoded);
    });
}

#[test]
fn requests_with_unknown_methods_or_paths_are_rejected_cleanly() {
    for (method, path) in [
        (Method::Get, "/me/conversations/c1/nonsense"),
        (Method::Delete, "/users/alice"),
        (Method::Subscribe, "/session/renew"),
        (Method::Get, "me/conversations"),
    ] {
        assert!(Route::parse(method, path).is_err(), "{method} {path}");
    }
}
