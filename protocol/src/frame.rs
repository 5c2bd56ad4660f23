//! Websocket frames: the four JSON array shapes that cross a TalkJS realtime socket.
//!
//! | direction        | shape                                  | type         |
//! |------------------|----------------------------------------|--------------|
//! | client → server  | `[seq, method, path, data, headers]`   | [`Request`]  |
//! | server → client  | `[seq, status, data]`                  | [`Response`] |
//! | server → client  | `[id, "PUBLISH", event, event, ...]`   | [`Publish`]  |
//! | client → server  | `[id, "ACK"]`                          | [`Ack`]      |
//!
//! A frame is an envelope. Its payloads (`data`, `headers`, events) are kept as raw JSON text
//! ([`RawValue`]) and decoded into typed models only by the code that knows what they should be:
//! the route of a request, the request a response answers. This means a frame is parsed once,
//! payloads are parsed once into their final types (never through an intermediate
//! `serde_json::Value`), and [`Frame::to_text`] reproduces the input byte for byte.
//!
//! Parsing never panics: anything that is not one of the four shapes is a [`FrameError`].

use std::fmt;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::ser::SerializeSeq;
use serde::{Serialize, Serializer};
use serde_json::value::RawValue;

use crate::error::ErrorBody;
use crate::event::Event;

/// The second element of a push frame.
pub const PUBLISH: &str = "PUBLISH";
/// The second element of an acknowledgement frame.
pub const ACK: &str = "ACK";
/// The only status the official client treats as success (201 and 204 break it).
pub const STATUS_OK: u16 = 200;

/// A request method. Besides HTTP's, the realtime protocol has `SUBSCRIBE` and `UNSUBSCRIBE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method {
    /// Read.
    Get,
    /// Create, or perform an action.
    Post,
    /// Create or replace.
    Put,
    /// Partially update.
    Patch,
    /// Remove.
    Delete,
    /// Start receiving the events of a topic.
    Subscribe,
    /// Stop receiving the events of a topic.
    Unsubscribe,
}

impl Method {
    /// The method as written on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
            Method::Subscribe => "SUBSCRIBE",
            Method::Unsubscribe => "UNSUBSCRIBE",
        }
    }

    /// Parses a wire method name (case-sensitive, as the protocol is).
    pub fn parse(s: &str) -> Option<Method> {
        Some(match s {
            "GET" => Method::Get,
            "POST" => Method::Post,
            "PUT" => Method::Put,
            "PATCH" => Method::Patch,
            "DELETE" => Method::Delete,
            "SUBSCRIBE" => Method::Subscribe,
            "UNSUBSCRIBE" => Method::Unsubscribe,
            _ => return None,
        })
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a text frame is not a valid frame.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    /// The text is not JSON at all.
    #[error("frame is not valid JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// The JSON is not an array of at least two elements.
    #[error("frame is not a JSON array of at least two elements")]
    NotAnArray,
    /// The array does not have one of the four frame shapes; the message says what is wrong.
    #[error("invalid frame: {0}")]
    Shape(&'static str),
}

/// Why a payload could not be decoded into the type the caller expected.
#[derive(Debug, thiserror::Error)]
#[error("invalid payload: {0}")]
pub struct PayloadError(#[from] pub serde_json::Error);

fn raw(json: &str) -> Box<RawValue> {
    // Only called with constants that are valid JSON.
    RawValue::from_string(json.to_owned())
        .unwrap_or_else(|_| unreachable!("constant is valid JSON"))
}

fn to_raw<T: Serialize + ?Sized>(value: &T) -> Result<Box<RawValue>, PayloadError> {
    Ok(serde_json::value::to_raw_value(value)?)
}

/// A client request: `[seq, method, path, data, headers]`.
#[derive(Debug, Clone)]
pub struct Request {
    /// Per-socket sequence number, from 0; the response carries the same number.
    pub seq: u64,
    /// What to do.
    pub method: Method,
    /// The percent-encoded path, e.g. `/users/al%2Fice`; see [`crate::path::Path`].
    pub path: String,
    /// The request body; always a JSON object, `{}` when empty. GET parameters go here too.
    pub data: Box<RawValue>,
    /// Always `{}` in the official client 1.12.0; kept for fidelity.
    pub headers: Box<RawValue>,
}

impl Request {
    /// A request with `data` serialised from `data` and empty headers.
    pub fn new<T: Serialize + ?Sized>(
        seq: u64,
        method: Method,
        path: impl Into<String>,
        data: &T,
    ) -> Result<Request, PayloadError> {
        Ok(Request {
            seq,
            method,
            path: path.into(),
            data: to_raw(data)?,
            headers: raw("{}"),
        })
    }

    /// Decodes `data` as `T`.
    pub fn data<T: DeserializeOwned>(&self) -> Result<T, PayloadError> {
        Ok(serde_json::from_str(self.data.get())?)
    }
}

/// A response to a request: `[seq, status, data]`.
#[derive(Debug, Clone)]
pub struct Response {
    /// The sequence number of the request this answers.
    pub seq: u64,
    /// HTTP-like status; only 200 is success.
    pub status: u16,
    /// The result on 200, an [`ErrorBody`] otherwise. Never `null`: the official client hangs on a
    /// `null` error body.
    pub data: Box<RawValue>,
}

impl Response {
    /// A 200 response with `data` serialised from `data`.
    pub fn ok<T: Serialize + ?Sized>(seq: u64, data: &T) -> Result<Response, PayloadError> {
        Ok(Response {
            seq,
            status: STATUS_OK,
            data: to_raw(data)?,
        })
    }

    /// A 200 response with an empty object, the answer to most writes.
    pub fn ok_empty(seq: u64) -> Response {
        Response {
            seq,
            status: STATUS_OK,
            data: raw("{}"),
        }
    }

    /// An error response.
    pub fn error(seq: u64, status: u16, body: &ErrorBody) -> Response {
        let data =
            to_raw(body).unwrap_or_else(|_| raw(r#"{"errorCode":"INTERNAL_ERROR","reasons":[]}"#));
        Response { seq, status, data }
    }

    /// Whether this is a success (status 200).
    pub fn is_ok(&self) -> bool {
        self.status == STATUS_OK
    }

    /// Decodes `data` as `T` (for a success).
    pub fn data<T: DeserializeOwned>(&self) -> Result<T, PayloadError> {
        Ok(serde_json::from_str(self.data.get())?)
    }

    /// Decodes `data` as an error body; lenient, as the official client is, so that a server's
    /// odd error body still yields a usable error.
    pub fn error_body(&self) -> ErrorBody {
        serde_json::from_str(self.data.get()).unwrap_or_else(|_| ErrorBody {
            error_code: String::new(),
            reasons: vec![self.data.get().to_owned()],
        })
    }
}

/// A server push: `[id, "PUBLISH", event, ...]`.
#[derive(Debug, Clone)]
pub struct Publish {
    /// Per-socket id: a number, at least 1, strictly increasing (the official client silently
    /// drops events that break these rules).
    pub id: u64,
    /// The events, in order, as raw JSON objects; decode them with [`Publish::events`].
    pub events: Vec<Box<RawValue>>,
}

impl Publish {
    /// Decodes every event. Unknown event types decode to [`Event::Other`]; only malformed known
    /// events are errors, and each event's result stands alone.
    pub fn events(&self) -> impl Iterator<Item = Result<Event, PayloadError>> + '_ {
        self.events
            .iter()
            .map(|e| Ok(serde_json::from_str(e.get())?))
    }
}

/// An acknowledgement of a push: `[id, "ACK"]`. The client sends one for every push, at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ack {
    /// The id of the push acknowledged.
    pub id: u64,
}

/// One websocket text frame.
#[derive(Debug, Clone)]
pub enum Frame {
    /// Client → server request.
    Request(Request),
    /// Server → client response.
    Response(Response),
    /// Server → client push of events.
    Publish(Publish),
    /// Client → server acknowledgement of a push.
    Ack(Ack),
}

impl Frame {
    /// Parses one text frame.
    ///
    /// ```
    /// # mod talkjs { pub use talkjs_protocol::{filter, params, snapshot}; pub use talkjs_protocol as protocol; }
    /// use talkjs::protocol::{Frame, Method};
    /// let f = Frame::parse(r#"[0,"POST","/session/renew",{"token":"t"},{}]"#).unwrap();
    /// let Frame::Request(r) = f else { panic!() };
    /// assert_eq!((r.seq, r.method, r.path.as_str()), (0, Method::Post, "/session/renew"));
    /// assert!(Frame::parse("[1]").is_err());
    /// ```
    pub fn parse(text: &str) -> Result<Frame, FrameError> {
        let parts: Vec<Box<RawValue>> = match serde_json::from_str(text) {
            Ok(parts) => parts,
            Err(e) if e.is_data() => return Err(FrameError::NotAnArray),
            Err(e) => return Err(FrameError::Json(e)),
        };
        if parts.len() < 2 {
            return Err(FrameError::NotAnArray);
        }
        let mut parts = parts.into_iter();
        let first = parts
            .next()
            .unwrap_or_else(|| unreachable!("length checked"));
        let second = parts
            .next()
            .unwrap_or_else(|| unreachable!("length checked"));
        let number: u64 = serde_json::from_str(first.get())
            .map_err(|_| FrameError::Shape("first element must be a non-negative integer"))?;
        let rest: Vec<Box<RawValue>> = parts.collect();

        if let Ok(status) = serde_json::from_str::<u16>(second.get()) {
            let [data] = <[Box<RawValue>; 1]>::try_from(rest)
                .map_err(|_| FrameError::Shape("a response has exactly three elements"))?;
            return Ok(Frame::Response(Response {
                seq: number,
                status,
                data,
            }));
        }
        // Owned, not borrowed: a JSON string with an escape (`"G\u0045T"`) cannot be borrowed.
        let word: String = serde_json::from_str(second.get())
            .map_err(|_| FrameError::Shape("second element must be a status or a method string"))?;
        match word.as_str() {
            PUBLISH => {
                if rest.iter().any(|e| !e.get().starts_with('{')) {
                    return Err(FrameError::Shape("published events must be objects"));
                }
                Ok(Frame::Publish(Publish {
                    id: number,
                    events: rest,
                }))
            }
            ACK if rest.is_empty() => Ok(Frame::Ack(Ack { id: number })),
            ACK => Err(FrameError::Shape("an ack has exactly two elements")),
            _ => {
                let method = Method::parse(&word).ok_or(FrameError::Shape("unknown method"))?;
                let [path, data, headers] = <[Box<RawValue>; 3]>::try_from(rest)
                    .map_err(|_| FrameError::Shape("a request has exactly five elements"))?;
                let path: String = serde_json::from_str(path.get())
                    .map_err(|_| FrameError::Shape("the path must be a string"))?;
                if !data.get().starts_with('{') || !headers.get().starts_with('{') {
                    return Err(FrameError::Shape(
                        "request data and headers must be objects",
                    ));
                }
                Ok(Frame::Request(Request {
                    seq: number,
                    method,
                    path,
                    data,
                    headers,
                }))
            }
        }
    }

    /// The frame as compact JSON text, ready to send. For a parsed compact frame this is the
    /// original text, byte for byte.
    pub fn to_text(&self) -> String {
        // Serialising strings, integers and raw JSON into a String cannot fail.
        serde_json::to_string(self)
            .unwrap_or_else(|_| unreachable!("frame serialisation is infallible"))
    }
}

impl Serialize for Frame {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Frame::Request(r) => {
                let mut seq = s.serialize_seq(Some(5))?;
                seq.serialize_element(&r.seq)?;
                seq.serialize_element(r.method.as_str())?;
                seq.serialize_element(&r.path)?;
                seq.serialize_element(&r.data)?;
                seq.serialize_element(&r.headers)?;
                seq.end()
            }
            Frame::Response(r) => {
                let mut seq = s.serialize_seq(Some(3))?;
                seq.serialize_element(&r.seq)?;
                seq.serialize_element(&r.status)?;
                seq.serialize_element(&r.data)?;
                seq.end()
            }
            Frame::Publish(p) => {
                let mut seq = s.serialize_seq(Some(2 + p.events.len()))?;
                seq.serialize_element(&p.id)?;
                seq.serialize_element(PUBLISH)?;
                for e in &p.events {
                    seq.serialize_element(e)?;
                }
                seq.end()
            }
            Frame::Ack(a) => {
                let mut seq = s.serialize_seq(Some(2))?;
                seq.serialize_element(&a.id)?;
                seq.serialize_element(ACK)?;
                seq.end()
            }
        }
    }
}

impl From<Request> for Frame {
    fn from(r: Request) -> Frame {
        Frame::Request(r)
    }
}

impl From<Response> for Frame {
    fn from(r: Response) -> Frame {
        Frame::Response(r)
    }
}

impl From<Publish> for Frame {
    fn from(p: Publish) -> Frame {
        Frame::Publish(p)
    }
}

impl From<Ack> for Frame {
    fn from(a: Ack) -> Frame {
        Frame::Ack(a)
    }
}

/// Events serialised once, to be pushed to many sockets.
///
/// A push frame differs per socket only in its id, so a server serialises the events of one
/// action once and builds each socket's frame by splicing in the id: one allocation per socket,
/// no re-serialisation.
///
/// ```
/// # mod talkjs { pub use talkjs_protocol::{filter, params, snapshot}; pub use talkjs_protocol as protocol; }
/// use talkjs::protocol::event::Event;
/// use talkjs::protocol::frame::EncodedEvents;
/// let events = EncodedEvents::encode(&[Event::UpstreamRestarting]).unwrap();
/// assert_eq!(events.frame(7), r#"[7,"PUBLISH",{"type":"upstream.restarting"}]"#);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedEvents(Arc<str>);

impl EncodedEvents {
    /// Serialises the events (comma-separated JSON objects).
    pub fn encode(events: &[Event]) -> Result<EncodedEvents, PayloadError> {
        let mut text = String::new();
        for (i, e) in events.iter().enumerate() {
            if i > 0 {
                text.push(',');
            }
            text.push_str(&serde_json::to_string(e)?);
        }
        Ok(EncodedEvents(text.into()))
    }

    /// The push frame carrying these events with the given id.
    pub fn frame(&self, id: u64) -> String {
        use std::fmt::Write;
        let mut out = String::with_capacity(self.0.len() + 32);
        // Writing to a String cannot fail.
        let _ = write!(out, "[{id},\"PUBLISH\",{}]", self.0);
        out
    }

    /// The serialised events, comma-separated.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shape_round_trips_byte_for_byte() {
        for text in [
            r#"[3,"GET","/users",{"ids":["a","b"],"includePrivateFields":false},{}]"#,
            r#"[3,200,{"a":{"id":"a"}}]"#,
            r#"[4,403,{"errorCode":"NOT_A_PARTICIPANT","reasons":["no"]}]"#,
            r#"[1,"PUBLISH",{"type":"session.expired"},{"type":"custom.x","z":[1,2.5]}]"#,
            r#"[1,"ACK"]"#,
        ] {
            assert_eq!(Frame::parse(text).unwrap().to_text(), text);
        }
    }

    #[test]
    fn words_written_with_json_escapes_are_read_like_any_string() {
        let Ok(Frame::Request(r)) = Frame::parse(r#"[7,"G\u0045T","/ping",{},{}]"#) else {
            panic!("an escaped method is still a request")
        };
        assert_eq!((r.seq, r.method), (7, Method::Get));
        assert!(matches!(
            Frame::parse(r#"[2,"\u0041CK"]"#),
            Ok(Frame::Ack(Ack { id: 2 }))
        ));
    }

    #[test]
    fn garbage_is_a_typed_error_never_a_panic() {
        let cases = [
            ("", "json"),
            ("{", "array"),
            ("[1,", "json"),
            ("{}", "array"),
            ("[]", "array"),
            ("[1]", "array"),
            ("\"x\"", "array"),
            (r#"[-1,"ACK"]"#, "shape"),
            (r#"[1.5,"ACK"]"#, "shape"),
            (r#"[1,"ACK",2]"#, "shape"),
            (r#"[1,"FETCH","/x",{},{}]"#, "shape"),
            (r#"[1,"GET","/x",{}]"#, "shape"),
            (r#"[1,"GET",5,{},{}]"#, "shape"),
            (r#"[1,"GET","/x",[],{}]"#, "shape"),
            (r#"[1,200]"#, "shape"),
            (r#"[1,70000,{}]"#, "shape"),
            (r#"[1,"PUBLISH",3]"#, "shape"),
            (r#"[1,null]"#, "shape"),
        ];
        for (text, kind) in cases {
            let err = Frame::parse(text).unwrap_err();
            let got = match err {
                FrameError::Json(_) => "json",
                FrameError::NotAnArray => "array",
                FrameError::Shape(_) => "shape",
            };
            assert_eq!(got, kind, "{text:?}: {err}");
        }
    }

    #[test]
    fn encoded_events_splice_the_id() {
        let ev =
            EncodedEvents::encode(&[Event::SessionExpired, Event::UpstreamRestarting]).unwrap();
        let text = ev.frame(42);
        let Frame::Publish(p) = Frame::parse(&text).unwrap() else {
            panic!("not a publish")
        };
        assert_eq!(p.id, 42);
        let events: Vec<Event> = p.events().collect::<Result<_, _>>().unwrap();
        assert_eq!(
            events,
            vec![Event::SessionExpired, Event::UpstreamRestarting]
        );
    }
}
