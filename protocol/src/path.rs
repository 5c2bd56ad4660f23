//! Request paths and the routes they name.
//!
//! On the wire a path is `"/" + segments.map(encodeURIComponent).join("/")`, so an id may contain
//! `/` (`al/ice` is sent as `al%2Fice`). [`Path`] holds the decoded segments; [`Path::parse`]
//! splits on `/` first and decodes each segment afterwards, as a server must.
//!
//! [`Route`] is the typed form of every (method, path) pair the official client sends: the client
//! runtime builds frames from it and the emulator dispatches on it, so both sides agree by
//! construction. `Route::parse(m, p)?.path()` reproduces `p` for every path the official client
//! writes.

use std::fmt;

use crate::frame::Method;

/// A request path: decoded segments.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Path {
    segments: Vec<String>,
}

/// Why a path could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    /// Paths start with `/`.
    #[error("path does not start with '/'")]
    NoLeadingSlash,
    /// A `%` not followed by two hex digits.
    #[error("bad percent-encoding in path segment {0:?}")]
    BadEscape(String),
    /// Percent-decoding produced bytes that are not UTF-8.
    #[error("path segment {0:?} does not decode to UTF-8")]
    NotUtf8(String),
}

/// Why a request does not name a known route.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RouteError {
    /// The path itself is malformed.
    #[error(transparent)]
    Path(#[from] PathError),
    /// The path is well formed but no route has it (with this method).
    #[error("no route for {method} {path}")]
    Unknown {
        /// The method sent.
        method: Method,
        /// The path sent, as on the wire.
        path: String,
    },
    /// An id segment is empty.
    #[error("empty id in path {0}")]
    EmptyId(String),
}

/// Characters `encodeURIComponent` leaves as they are, besides ASCII letters and digits.
const UNRESERVED_MARKS: &[u8] = b"-_.!~*'()";

/// Percent-encodes one segment exactly as JavaScript's `encodeURIComponent` does.
pub fn encode_component(segment: &str, out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in segment.as_bytes() {
        if b.is_ascii_alphanumeric() || UNRESERVED_MARKS.contains(&b) {
            out.push(b as char);
        } else {
            out.push('%');
            out.push(HEX[(b >> 4) as usize] as char);
            out.push(HEX[(b & 0xF) as usize] as char);
        }
    }
}

/// Decodes a percent-encoded segment (any `%XX`, upper or lower case).
pub fn decode_component(segment: &str) -> Result<String, PathError> {
    if !segment.contains('%') {
        return Ok(segment.to_owned());
    }
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| PathError::BadEscape(segment.to_owned()))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| PathError::NotUtf8(segment.to_owned()))
}

impl Path {
    /// A path from decoded segments.
    pub fn new<I, S>(segments: I) -> Path
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Path {
            segments: segments.into_iter().map(Into::into).collect(),
        }
    }

    /// Parses a wire path: split on `/`, then percent-decode each segment.
    pub fn parse(encoded: &str) -> Result<Path, PathError> {
        let rest = encoded.strip_prefix('/').ok_or(PathError::NoLeadingSlash)?;
        let segments = rest
            .split('/')
            .map(decode_component)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Path { segments })
    }

    /// The decoded segments.
    pub fn segments(&self) -> &[String] {
        &self.segments
    }

    /// The wire form, e.g. `/users/al%2Fice`.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        for s in &self.segments {
            out.push('/');
            encode_component(s, &mut out);
        }
        out
    }
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.encode())
    }
}

/// A live topic a client subscribes to (docs/protocol.md §5.1).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Topic {
    /// `/users`: subscribe to several users at once; the ids go in the request data.
    Users,
    /// `/users/{u}`: one user (only ever *un*subscribed this way by the official client).
    User {
        /// User id.
        user: String,
    },
    /// `/users/{u}/online`: a user's online status.
    UserOnline {
        /// User id.
        user: String,
    },
    /// `/me/conversations`: the current user's conversation list (all filters share it).
    Conversations,
    /// `/me/conversations/{c}`: one conversation as the current user sees it.
    Conversation {
        /// Conversation id.
        conversation: String,
    },
    /// `/me/conversations/{c}/messages`: a conversation's messages.
    Messages {
        /// Conversation id.
        conversation: String,
    },
    /// `/me/conversations/{c}/participants`: a conversation's participants.
    Participants {
        /// Conversation id.
        conversation: String,
    },
    /// `/me/conversations/{c}/participants/{u}`: one participant.
    Participant {
        /// Conversation id.
        conversation: String,
        /// User id.
        user: String,
    },
    /// `/me/conversations/{c}/typing`: who is typing.
    Typing {
        /// Conversation id.
        conversation: String,
    },
    /// `/me/conversations/{c}/messages/{m}/reactions/{emoji}`: the users who reacted with an emoji.
    Reactions {
        /// Conversation id.
        conversation: String,
        /// Message id.
        message: String,
        /// The emoji.
        emoji: String,
    },
}

impl Topic {
    /// The topic's path.
    pub fn path(&self) -> Path {
        use Topic::*;
        match self {
            Users => Path::new(["users"]),
            User { user } => Path::new(["users", user]),
            UserOnline { user } => Path::new(["users", user, "online"]),
            Conversations => Path::new(["me", "conversations"]),
            Conversation { conversation: c } => Path::new(["me", "conversations", c]),
            Messages { conversation: c } => Path::new(["me", "conversations", c, "messages"]),
            Participants { conversation: c } => {
                Path::new(["me", "conversations", c, "participants"])
            }
            Participant {
                conversation: c,
                user,
            } => Path::new(["me", "conversations", c, "participants", user]),
            Typing { conversation: c } => Path::new(["me", "conversations", c, "typing"]),
            Reactions {
                conversation: c,
                message: m,
                emoji,
            } => Path::new(["me", "conversations", c, "messages", m, "reactions", emoji]),
        }
    }

    /// The topic a path names, if any.
    pub fn from_path(path: &Path) -> Option<Topic> {
        let s: Vec<&str> = path.segments().iter().map(String::as_str).collect();
        let o = |x: &str| x.to_owned();
        Some(match s.as_slice() {
            ["users"] => Topic::Users,
            ["users", u] => Topic::User { user: o(u) },
            ["users", u, "online"] => Topic::UserOnline { user: o(u) },
            ["me", "conversations"] => Topic::Conversations,
            ["me", "conversations", c] => Topic::Conversation { conversation: o(c) },
            ["me", "conversations", c, "messages"] => Topic::Messages { conversation: o(c) },
            ["me", "conversations", c, "participants"] => {
                Topic::Participants { conversation: o(c) }
            }
            ["me", "conversations", c, "participants", u] => Topic::Participant {
                conversation: o(c),
                user: o(u),
            },
            ["me", "conversations", c, "typing"] => Topic::Typing { conversation: o(c) },
            ["me", "conversations", c, "messages", m, "reactions", e] => Topic::Reactions {
                conversation: o(c),
                message: o(m),
                emoji: o(e),
            },
            _ => return None,
        })
    }

    fn ids(&self) -> Vec<&str> {
        use Topic::*;
        match self {
            Users | Conversations => vec![],
            User { user } | UserOnline { user } => vec![user],
            Conversation { conversation }
            | Messages { conversation }
            | Participants { conversation }
            | Typing { conversation } => vec![conversation],
            Participant { conversation, user } => vec![conversation, user],
            Reactions {
                conversation,
                message,
                emoji,
            } => vec![conversation, message, emoji],
        }
    }
}

/// Every request the official client sends, by method and path (docs/protocol.md §4.2, R1–R30).
///
/// `c` is a conversation id, `m` a message id, `u` a user id.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[allow(missing_docs)] // The fields are the ids named in each variant's doc.
pub enum Route {
    /// R1 `POST /session/renew`: authenticate the socket.
    SessionRenew,
    /// R2 `GET /ping`: heartbeat.
    Ping,
    /// R3 `GET /users`: batched user fetch.
    GetUsers,
    /// R4 `POST /users/{u}`: create a user if it does not exist.
    CreateUser { user: String },
    /// R5 `PUT /users/{u}`: create or update a user.
    SetUser { user: String },
    /// R6 `GET /users/{u}/online`: online status.
    GetUserOnline { user: String },
    /// R7 `GET /me/conversations`: a page of the conversation list.
    ListConversations,
    /// R8 `GET /me/conversations/{c}`: one conversation.
    GetConversation { conversation: String },
    /// R9 `POST /conversations/{c}`: create a conversation if it does not exist.
    CreateConversation { conversation: String },
    /// R10 `PUT /conversations/{c}`: create or update a conversation.
    SetConversation { conversation: String },
    /// R11 `POST /conversations/{c}/participants`: batched participant writes.
    ParticipantActions { conversation: String },
    /// R12 `DELETE /conversations/{c}/participants/{u}`: remove a participant.
    DeleteParticipant { conversation: String, user: String },
    /// R13 `GET /me/conversations/{c}/participants`: a page of participants.
    ListParticipants { conversation: String },
    /// R14 `GET /me/conversations/{c}/participants/{u}`: one participant.
    GetParticipant { conversation: String, user: String },
    /// R15 `GET /me/conversations/{c}/messages`: a page of messages, newest first.
    ListMessages { conversation: String },
    /// R16 `GET /me/conversations/{c}/messages/{m}`: one message.
    GetMessage {
        conversation: String,
        message: String,
    },
    /// R17 `POST /conversations/{c}/messages`: send a message.
    SendMessage { conversation: String },
    /// R18 `PATCH /conversations/{c}/messages/{m}`: edit a message.
    EditMessage {
        conversation: String,
        message: String,
    },
    /// R19 `DELETE /conversations/{c}/messages/{m}`: delete a message.
    DeleteMessage {
        conversation: String,
        message: String,
    },
    /// R20 `PUT /conversations/{c}/messages/{m}/reactions/{emoji}/{u}`: add a reaction.
    AddReaction {
        conversation: String,
        message: String,
        emoji: String,
        user: String,
    },
    /// R21 `DELETE /conversations/{c}/messages/{m}/reactions/{emoji}/{u}`: remove a reaction.
    RemoveReaction {
        conversation: String,
        message: String,
        emoji: String,
        user: String,
    },
    /// R22 `GET /me/conversations/{c}/messages/{m}/reactions/{emoji}`: a page of reacting users.
    ListReactions {
        conversation: String,
        message: String,
        emoji: String,
    },
    /// R23 `POST /me/conversations/{c}/read`: mark as read.
    MarkAsRead { conversation: String },
    /// R24 `POST /me/conversations/{c}/unread`: mark as unread.
    MarkAsUnread { conversation: String },
    /// R25 `POST /me/conversations/{c}/typing`: the current user is typing.
    MarkAsTyping { conversation: String },
    /// R26 `GET /me/conversations/{c}/typing`: who is typing.
    GetTyping { conversation: String },
    /// R27 `GET /me/conversations/{c}/translate`: batched translation.
    Translate { conversation: String },
    /// R28 `POST /files/validate`: check a file before uploading it.
    ValidateFile,
    /// R29 `SUBSCRIBE {topic}`.
    Subscribe(Topic),
    /// R30 `UNSUBSCRIBE {topic}`.
    Unsubscribe(Topic),
}

impl Route {
    /// The route's method.
    pub fn method(&self) -> Method {
        use Route::*;
        match self {
            Ping | GetUsers | GetUserOnline { .. } | ListConversations | GetConversation { .. } => {
                Method::Get
            }
            ListParticipants { .. }
            | GetParticipant { .. }
            | ListMessages { .. }
            | GetMessage { .. } => Method::Get,
            ListReactions { .. } | GetTyping { .. } | Translate { .. } => Method::Get,
            SessionRenew
            | CreateUser { .. }
            | CreateConversation { .. }
            | ParticipantActions { .. } => Method::Post,
            SendMessage { .. }
            | MarkAsRead { .. }
            | MarkAsUnread { .. }
            | MarkAsTyping { .. }
            | ValidateFile => Method::Post,
            SetUser { .. } | SetConversation { .. } | AddReaction { .. } => Method::Put,
            EditMessage { .. } => Method::Patch,
            DeleteParticipant { .. } | DeleteMessage { .. } | RemoveReaction { .. } => {
                Method::Delete
            }
            Subscribe(_) => Method::Subscribe,
            Unsubscribe(_) => Method::Unsubscribe,
        }
    }

    /// The route's path.
    pub fn path(&self) -> Path {
        use Route::*;
        match self {
            SessionRenew => Path::new(["session", "renew"]),
            Ping => Path::new(["ping"]),
            GetUsers => Path::new(["users"]),
            CreateUser { user } | SetUser { user } => Path::new(["users", user]),
            GetUserOnline { user } => Path::new(["users", user, "online"]),
            ListConversations => Path::new(["me", "conversations"]),
            GetConversation { conversation: c } => Path::new(["me", "conversations", c]),
            CreateConversation { conversation: c } | SetConversation { conversation: c } => {
                Path::new(["conversations", c])
            }
            ParticipantActions { conversation: c } => {
                Path::new(["conversations", c, "participants"])
            }
            DeleteParticipant {
                conversation: c,
                user,
            } => Path::new(["conversations", c, "participants", user]),
            ListParticipants { conversation: c } => {
                Path::new(["me", "conversations", c, "participants"])
            }
            GetParticipant {
                conversation: c,
                user,
            } => Path::new(["me", "conversations", c, "participants", user]),
            ListMessages { conversation: c } => Path::new(["me", "conversations", c, "messages"]),
            GetMessage {
                conversation: c,
                message: m,
            } => Path::new(["me", "conversations", c, "messages", m]),
            SendMessage { conversation: c } => Path::new(["conversations", c, "messages"]),
            EditMessage {
                conversation: c,
                message: m,
            }
            | DeleteMessage {
                conversation: c,
                message: m,
            } => Path::new(["conversations", c, "messages", m]),
            AddReaction {
                conversation: c,
                message: m,
                emoji,
                user,
            }
            | RemoveReaction {
                conversation: c,
                message: m,
                emoji,
                user,
            } => Path::new(["conversations", c, "messages", m, "reactions", emoji, user]),
            ListReactions {
                conversation: c,
                message: m,
                emoji,
            } => Path::new(["me", "conversations", c, "messages", m, "reactions", emoji]),
            MarkAsRead { conversation: c } => Path::new(["me", "conversations", c, "read"]),
            MarkAsUnread { conversation: c } => Path::new(["me", "conversations", c, "unread"]),
            MarkAsTyping { conversation: c } | GetTyping { conversation: c } => {
                Path::new(["me", "conversations", c, "typing"])
            }
            Translate { conversation: c } => Path::new(["me", "conversations", c, "translate"]),
            ValidateFile => Path::new(["files", "validate"]),
            Subscribe(t) | Unsubscribe(t) => t.path(),
        }
    }

    /// Parses a request's method and wire path into a route.
    ///
    /// ```
    /// # mod talkjs { pub use talkjs_protocol::{filter, params, snapshot}; pub use talkjs_protocol as protocol; }
    /// use talkjs::protocol::frame::Method;
    /// use talkjs::protocol::path::Route;
    /// let r = Route::parse(Method::Put, "/conversations/c1/messages/m9/reactions/%F0%9F%91%8D/alice").unwrap();
    /// assert!(matches!(&r, Route::AddReaction { emoji, .. } if emoji == "👍"));
    /// assert_eq!(r.path().encode(), "/conversations/c1/messages/m9/reactions/%F0%9F%91%8D/alice");
    /// ```
    pub fn parse(method: Method, encoded_path: &str) -> Result<Route, RouteError> {
        let path = Path::parse(encoded_path)?;
        let unknown = || RouteError::Unknown {
            method,
            path: encoded_path.to_owned(),
        };
        let route = match method {
            Method::Subscribe | Method::Unsubscribe => {
                let topic = Topic::from_path(&path).ok_or_else(unknown)?;
                if topic.ids().iter().any(|id| id.is_empty()) {
                    return Err(RouteError::EmptyId(encoded_path.to_owned()));
                }
                return Ok(if method == Method::Subscribe {
                    Route::Subscribe(topic)
                } else {
                    Route::Unsubscribe(topic)
                });
            }
            _ => Self::match_request(method, &path).ok_or_else(unknown)?,
        };
        if route.ids().iter().any(|id| id.is_empty()) {
            return Err(RouteError::EmptyId(encoded_path.to_owned()));
        }
        Ok(route)
    }

    fn match_request(method: Method, path: &Path) -> Option<Route> {
        use Method::*;
        let s: Vec<&str> = path.segments().iter().map(String::as_str).collect();
        let o = |x: &str| x.to_owned();
        Some(match (method, s.as_slice()) {
            (Post, ["session", "renew"]) => Route::SessionRenew,
            (Get, ["ping"]) => Route::Ping,
            (Get, ["users"]) => Route::GetUsers,
            (Post, ["users", u]) => Route::CreateUser { user: o(u) },
            (Put, ["users", u]) => Route::SetUser { user: o(u) },
            (Get, ["users", u, "online"]) => Route::GetUserOnline { user: o(u) },
            (Get, ["me", "conversations"]) => Route::ListConversations,
            (Get, ["me", "conversations", c]) => Route::GetConversation { conversation: o(c) },
            (Post, ["conversations", c]) => Route::CreateConversation { conversation: o(c) },
            (Put, ["conversations", c]) => Route::SetConversation { conversation: o(c) },
            (Post, ["conversations", c, "participants"]) => {
                Route::ParticipantActions { conversation: o(c) }
            }
            (Delete, ["conversations", c, "participants", u]) => Route::DeleteParticipant {
                conversation: o(c),
                user: o(u),
            },
            (Get, ["me", "conversations", c, "participants"]) => {
                Route::ListParticipants { conversation: o(c) }
            }
            (Get, ["me", "conversations", c, "participants", u]) => Route::GetParticipant {
                conversation: o(c),
                user: o(u),
            },
            (Get, ["me", "conversations", c, "messages"]) => {
                Route::ListMessages { conversation: o(c) }
            }
            (Get, ["me", "conversations", c, "messages", m]) => Route::GetMessage {
                conversation: o(c),
                message: o(m),
            },
            (Post, ["conversations", c, "messages"]) => Route::SendMessage { conversation: o(c) },
            (Patch, ["conversations", c, "messages", m]) => Route::EditMessage {
                conversation: o(c),
                message: o(m),
            },
            (Delete, ["conversations", c, "messages", m]) => Route::DeleteMessage {
                conversation: o(c),
                message: o(m),
            },
            (Put, ["conversations", c, "messages", m, "reactions", e, u]) => Route::AddReaction {
                conversation: o(c),
                message: o(m),
                emoji: o(e),
                user: o(u),
            },
            (Delete, ["conversations", c, "messages", m, "reactions", e, u]) => {
                Route::RemoveReaction {
                    conversation: o(c),
                    message: o(m),
                    emoji: o(e),
                    user: o(u),
                }
            }
            (Get, ["me", "conversations", c, "messages", m, "reactions", e]) => {
                Route::ListReactions {
                    conversation: o(c),
                    message: o(m),
                    emoji: o(e),
                }
            }
            (Post, ["me", "conversations", c, "read"]) => Route::MarkAsRead { conversation: o(c) },
            (Post, ["me", "conversations", c, "unread"]) => {
                Route::MarkAsUnread { conversation: o(c) }
            }
            (Post, ["me", "conversations", c, "typing"]) => {
                Route::MarkAsTyping { conversation: o(c) }
            }
            (Get, ["me", "conversations", c, "typing"]) => Route::GetTyping { conversation: o(c) },
            (Get, ["me", "conversations", c, "translate"]) => {
                Route::Translate { conversation: o(c) }
            }
            (Post, ["files", "validate"]) => Route::ValidateFile,
            _ => return None,
        })
    }

    /// The ids the route's path carries, in path order.
    pub fn ids(&self) -> Vec<&str> {
        use Route::*;
        match self {
            SessionRenew | Ping | GetUsers | ListConversations | ValidateFile => vec![],
            CreateUser { user } | SetUser { user } | GetUserOnline { user } => vec![user],
            GetConversation { conversation }
            | CreateConversation { conversation }
            | SetConversation { conversation }
            | ParticipantActions { conversation }
            | ListParticipants { conversation }
            | ListMessages { conversation }
            | SendMessage { conversation }
            | MarkAsRead { conversation }
            | MarkAsUnread { conversation }
            | MarkAsTyping { conversation }
            | GetTyping { conversation }
            | Translate { conversation } => vec![conversation],
            DeleteParticipant { conversation, user } | GetParticipant { conversation, user } => {
                vec![conversation, user]
            }
            GetMessage {
                conversation,
                message,
            }
            | EditMessage {
                conversation,
                message,
            }
            | DeleteMessage {
                conversation,
                message,
            } => vec![conversation, message],
            AddReaction {
                conversation,
                message,
                emoji,
                user,
            }
            | RemoveReaction {
                conversation,
                message,
                emoji,
                user,
            } => vec![conversation, message, emoji, user],
            ListReactions {
                conversation,
                message,
                emoji,
            } => vec![conversation, message, emoji],
            Subscribe(t) | Unsubscribe(t) => t.ids(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_are_encoded_like_encode_uri_component() {
        let p = Path::new(["users", "al/ice", "a b", "ü", "-_.!~*'()", "%"]);
        assert_eq!(p.encode(), "/users/al%2Fice/a%20b/%C3%BC/-_.!~*'()/%25");
        assert_eq!(Path::parse(&p.encode()).unwrap(), p);
    }

    #[test]
    fn split_first_then_decode() {
        let p = Path::parse("/users/al%2Fice/online").unwrap();
        assert_eq!(p.segments(), ["users", "al/ice", "online"]);
        assert_eq!(
            Route::parse(Method::Get, "/users/al%2Fice/online").unwrap(),
            Route::GetUserOnline {
                user: "al/ice".into()
            }
        );
    }

    #[test]
    fn malformed_paths_are_errors() {
        assert_eq!(Path::parse("users"), Err(PathError::NoLeadingSlash));
        assert!(matches!(Path::parse("/a%2"), Err(PathError::BadEscape(_))));
        assert!(matches!(Path::parse("/a%zz"), Err(PathError::BadEscape(_))));
        assert!(matches!(Path::parse("/a%FF"), Err(PathError::NotUtf8(_))));
        assert!(matches!(
            Route::parse(Method::Get, "/nope"),
            Err(RouteError::Unknown { .. })
        ));
        assert!(matches!(
            Route::parse(Method::Patch, "/users/a"),
            Err(RouteError::Unknown { .. })
        ));
        assert!(matches!(
            Route::parse(Method::Post, "/users/"),
            Err(RouteError::EmptyId(_))
        ));
        assert!(matches!(
            Route::parse(Method::Subscribe, "/me/conversations//typing"),
            Err(RouteError::EmptyId(_))
        ));
    }

    #[test]
    fn method_and_path_round_trip_for_each_route() {
        let c = || "c 1".to_string();
        let routes = vec![
            Route::SessionRenew,
            Route::Ping,
            Route::GetUsers,
            Route::CreateUser { user: "u".into() },
            Route::SetUser { user: "u".into() },
            Route::GetUserOnline { user: "u".into() },
            Route::ListConversations,
            Route::GetConversation { conversation: c() },
            Route::CreateConversation { conversation: c() },
            Route::SetConversation { conversation: c() },
            Route::ParticipantActions { conversation: c() },
            Route::DeleteParticipant {
                conversation: c(),
                user: "u".into(),
            },
            Route::ListParticipants { conversation: c() },
            Route::GetParticipant {
                conversation: c(),
                user: "u".into(),
            },
            Route::ListMessages { conversation: c() },
            Route::GetMessage {
                conversation: c(),
                message: "m".into(),
            },
            Route::SendMessage { conversation: c() },
            Route::EditMessage {
                conversation: c(),
                message: "m".into(),
            },
            Route::DeleteMessage {
                conversation: c(),
                message: "m".into(),
            },
            Route::AddReaction {
                conversation: c(),
                message: "m".into(),
                emoji: ":cat:".into(),
                user: "u".into(),
            },
            Route::RemoveReaction {
                conversation: c(),
                message: "m".into(),
                emoji: "👍".into(),
                user: "u".into(),
            },
            Route::ListReactions {
                conversation: c(),
                message: "m".into(),
                emoji: "👍".into(),
            },
            Route::MarkAsRead { conversation: c() },
            Route::MarkAsUnread { conversation: c() },
            Route::MarkAsTyping { conversation: c() },
            Route::GetTyping { conversation: c() },
            Route::Translate { conversation: c() },
            Route::ValidateFile,
            Route::Subscribe(Topic::Users),
            Route::Subscribe(Topic::UserOnline { user: "u".into() }),
            Route::Subscribe(Topic::Conversations),
            Route::Subscribe(Topic::Conversation { conversation: c() }),
            Route::Subscribe(Topic::Messages { conversation: c() }),
            Route::Subscribe(Topic::Participants { conversation: c() }),
            Route::Subscribe(Topic::Participant {
                conversation: c(),
                user: "u".into(),
            }),
            Route::Subscribe(Topic::Typing { conversation: c() }),
            Route::Subscribe(Topic::Reactions {
                conversation: c(),
                message: "m".into(),
                emoji: "👍".into(),
            }),
            Route::Unsubscribe(Topic::User { user: "u".into() }),
        ];
        for r in routes {
            let wire = r.path().encode();
            assert_eq!(
                Route::parse(r.method(), &wire).unwrap(),
                r,
                "{} {wire}",
                r.method()
            );
        }
    }
}
