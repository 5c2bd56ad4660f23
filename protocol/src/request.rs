//! The typed `data` of every request route, and of its `200` response (docs/protocol.md §4.2).
//!
//! Each request type serialises its fields in the order the official client sends them, so a
//! frame built from these types matches the official client's byte for byte. Decoding is what
//! a server needs: [`RequestBody::decode`] picks the type from the route.
//!
//! | route | request `data` | `200` response `data` |
//! |---|---|---|
//! | R1 `POST /session/renew` | [`RenewRequest`] | [`RenewResponse`] |
//! | R2 `GET /ping` | [`Empty`] | anything (ignored) |
//! | R3 `GET /users` | [`GetUsersRequest`] | [`GetUsersResponse`] |
//! | R4 `POST /users/{u}` | [`CreateUserParams`] | ignored |
//! | R5 `PUT /users/{u}` | [`SetUserParams`] | ignored |
//! | R6 `GET /users/{u}/online` | [`Empty`] | [`OnlineWire`](crate::wire::OnlineWire) |
//! | R7 `GET /me/conversations` | [`ListConversationsRequest`] | [`Page`]`<`[`ConversationWire`](crate::wire::ConversationWire)`>` |
//! | R8 `GET /me/conversations/{c}` | [`Empty`] | [`ConversationWire`](crate::wire::ConversationWire) |
//! | R9 `POST /conversations/{c}` | [`CreateConversationParams`] | ignored |
//! | R10 `PUT /conversations/{c}` | [`SetConversationParams`] | ignored |
//! | R11 `POST /conversations/{c}/participants` | [`ParticipantActionsRequest`] | [`ParticipantActionsResponse`] |
//! | R12 `DELETE /conversations/{c}/participants/{u}` | [`Empty`] | ignored |
//! | R13 `GET /me/conversations/{c}/participants` | [`ListRequest`] | [`Page`]`<`[`ParticipantWire`](crate::wire::ParticipantWire)`>` |
//! | R14 `GET /me/conversations/{c}/participants/{u}` | [`Empty`] | [`ParticipantWire`](crate::wire::ParticipantWire) |
//! | R15 `GET /me/conversations/{c}/messages` | [`ListRequest`] | [`Page`]`<`[`MessageWire`](crate::wire::MessageWire)`>`, newest first |
//! | R16 `GET /me/conversations/{c}/messages/{m}` | [`Empty`] | [`MessageWire`](crate::wire::MessageWire) |
//! | R17 `POST /conversations/{c}/messages` | [`SendMessageRequest`] | [`SendMessageResponse`] |
//! | R18 `PATCH /conversations/{c}/messages/{m}` | [`EditMessageRequest`] | ignored |
//! | R19 `DELETE /conversations/{c}/messages/{m}` | [`Empty`] | ignored |
//! | R20, R21 `PUT`/`DELETE …/reactions/{emoji}/{u}` | [`Empty`] | ignored |
//! | R22 `GET /me/…/messages/{m}/reactions/{emoji}` | [`ListRequest`] | [`Page`]`<`[`ReactionUserWire`](crate::wire::ReactionUserWire)`>`, oldest first |
//! | R23–R25 `POST /me/conversations/{c}/read`, `unread`, `typing` | [`Empty`] | ignored |
//! | R26 `GET /me/conversations/{c}/typing` | [`Empty`] | [`TypingWire`](crate::wire::TypingWire) |
//! | R27 `GET /me/conversations/{c}/translate` | [`TranslateRequest`] | [`TranslateResponse`] |
//! | R28 `POST /files/validate` | [`ValidateFileRequest`] | ignored |
//! | R29 `SUBSCRIBE` | [`SubscribeUsersRequest`] for `/users`, else [`Empty`] | [`Empty`] |
//! | R30 `UNSUBSCRIBE` | [`Empty`] | [`Empty`] |
//!
//! Outside the socket: the boken fetch returns a [`BokenResponse`], an upload an
//! [`UploadResponse`], and a search a line-oriented body read and written by [`SearchPage`].
//!
//! # Content is sent in lower-case spelling
//!
//! The official client sends the output of its markup parser as it is, with lower-case node
//! types (`bulletlist`, `autolink`, ...); servers answer with camelCase ones (see
//! [`content`](crate::content)). [`SendMessageRequest`] and [`EditMessageRequest`] hold ordinary
//! [`SendContentBlock`]s, and their `Serialize` writes them through
//! [`SentContent`] with [`Spelling::Sent`], so a request is byte for byte what the official client
//! sends. Decoding accepts both spellings, so a server reads either.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};

use crate::content::{ContentBlock, FileToken, SendContentBlock, SentContent, Spelling};
use crate::filter::ConversationFilter;
use crate::params::{
    CreateConversationParams, CreateUserParams, SetConversationParams, SetUserParams,
};
use crate::path::{Route, Topic};
use crate::wire::{Custom, CustomPatch, Patch, UserWire};

pub use crate::wire::Page;

/// The empty object `{}`: the data of most requests and of subscription responses.
///
/// Decoding accepts any object and ignores its fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Empty;

impl Serialize for Empty {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_map(Some(0))?.end()
    }
}

impl<'de> Deserialize<'de> for Empty {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Empty;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Empty, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Empty)
            }
        }
        d.deserialize_map(V)
    }
}

// ---------------------------------------------------------------------------------------------
// Session and users
// ---------------------------------------------------------------------------------------------

/// R1: authenticate the socket with a JWT or boken.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RenewRequest {
    /// The token.
    pub token: String,
}

/// R1's answer. `expiresInSeconds` must always be present: without it the official client renews
/// in a tight loop. `null` means the token does not expire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RenewResponse {
    /// Seconds until the token expires.
    pub expires_in_seconds: Option<u64>,
}

/// R3: fetch several users at once (the official client batches up to 1000 ids).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GetUsersRequest {
    /// The user ids, without duplicates.
    pub ids: Vec<String>,
    /// Always `false` from the official client: email, phone and push tokens are never asked for.
    pub include_private_fields: bool,
}

impl GetUsersRequest {
    /// A request for these users' public fields, with duplicates removed (first occurrence kept).
    pub fn new<I: IntoIterator<Item = S>, S: Into<String>>(ids: I) -> Self {
        GetUsersRequest {
            ids: dedup(ids),
            include_private_fields: false,
        }
    }
}

/// R3's answer: the users found, by id. A requested id that is missing does not exist.
pub type GetUsersResponse = BTreeMap<String, UserWire>;

/// R29 on `/users`: subscribe to several users at once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubscribeUsersRequest {
    /// The user ids.
    pub ids: Vec<String>,
}

impl SubscribeUsersRequest {
    /// A subscription to these users, with duplicates removed.
    pub fn new<I: IntoIterator<Item = S>, S: Into<String>>(ids: I) -> Self {
        SubscribeUsersRequest { ids: dedup(ids) }
    }
}

// ---------------------------------------------------------------------------------------------
// Lists
// ---------------------------------------------------------------------------------------------

/// R7: one page of the conversation list. The first page carries the (normalised) filter; later
/// pages carry only the cursor, so a server must remember the filter in its cursor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListConversationsRequest {
    /// How many conversations to return.
    pub limit: u32,
    /// Where the previous page ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    /// The filter (first page only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<ConversationFilter>,
}

impl ListConversationsRequest {
    /// The first page, with the filter normalised as the official client does.
    ///
    /// ```
    /// # mod talkjs { pub use talkjs_protocol::{filter, params, snapshot}; pub use talkjs_protocol as protocol; }
    /// use talkjs::filter::ConversationFilter;
    /// use talkjs::protocol::request::ListConversationsRequest;
    /// let r = ListConversationsRequest::first_page(20, &ConversationFilter::default());
    /// assert_eq!(serde_json::to_string(&r).unwrap(), r#"{"limit":20,"filter":{}}"#);
    /// ```
    pub fn first_page(limit: u32, filter: &ConversationFilter) -> Self {
        ListConversationsRequest {
            limit,
            cursor: None,
            filter: Some(filter.normalise()),
        }
    }

    /// A later page.
    pub fn next_page(limit: u32, cursor: impl Into<String>) -> Self {
        ListConversationsRequest {
            limit,
            cursor: Some(cursor.into()),
            filter: None,
        }
    }
}

/// R13, R15, R22: one page of participants, messages or reacting users.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListRequest {
    /// How many items to return.
    pub limit: u32,
    /// Where the previous page ended; absent for the first page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
}

impl ListRequest {
    /// The first page.
    pub fn first_page(limit: u32) -> Self {
        ListRequest {
            limit,
            cursor: None,
        }
    }

    /// A later page.
    pub fn next_page(limit: u32, cursor: impl Into<String>) -> Self {
        ListRequest {
            limit,
            cursor: Some(cursor.into()),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Participants
// ---------------------------------------------------------------------------------------------

/// R11: a batch of participant writes in one conversation (the official client batches up to 100).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParticipantActionsRequest {
    /// The writes, applied in order.
    pub actions: Vec<ParticipantAction>,
}

/// One participant write.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParticipantAction {
    /// The participant's user id.
    pub id: String,
    /// What to do.
    pub method: ParticipantMethod,
    /// The parameters, as the caller gave them.
    ///
    /// For `ParticipantRef` calls these are participant parameters (`access`, `notify`). For
    /// `ConversationRef::set` and `create_if_not_exists`, the official client puts the *whole*
    /// conversation parameters here; [`SetConversationParams`] can hold every one of these shapes
    /// (see its `From` impls), and a server reads only `access` and `notify` from it.
    pub params: SetConversationParams,
}

/// The method of a [`ParticipantAction`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum ParticipantMethod {
    /// Add the participant or update them (`ParticipantRef::set`).
    Put,
    /// Add the participant unless they are one already; 409 counts as success
    /// (`create_if_not_exists`).
    Post,
    /// Update an existing participant (`ParticipantRef::edit`).
    Patch,
}

/// R11's answer: one result per action, in action order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParticipantActionsResponse {
    /// The results.
    pub responses: Vec<ActionResult>,
}

/// The outcome of one participant action: a status and, when it failed, an error body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ActionResult {
    /// The HTTP-like status; only 200 is success (and 409 for `POST`).
    pub status: u16,
    /// The error code of a failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    /// The reasons of a failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasons: Option<Vec<String>>,
}

impl ActionResult {
    /// A success.
    pub fn ok() -> Self {
        ActionResult {
            status: crate::frame::STATUS_OK,
            error_code: None,
            reasons: None,
        }
    }

    /// A failure with this status and error body.
    pub fn error(status: u16, body: crate::error::ErrorBody) -> Self {
        ActionResult {
            status,
            error_code: Some(body.error_code),
            reasons: Some(body.reasons),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Messages
// ---------------------------------------------------------------------------------------------

/// R17: send a message.
///
/// ```
/// # mod talkjs { pub use talkjs_protocol::{filter, params, snapshot}; pub use talkjs_protocol as protocol; }
/// use talkjs::protocol::content::{SendContentBlock, TextBlock, TextNode};
/// use talkjs::protocol::request::{IdempotencyKey, SendMessageRequest};
/// let block = SendContentBlock::Text(TextBlock { children: vec![TextNode::CodeSpan("x".into())] });
/// let key = IdempotencyKey::generate(1_700_000_000_000, || 0);
/// let r = SendMessageRequest { content: vec![block], referenced_message_id: Some("m5".into()), custom: None, idempotency_key: key };
/// assert_eq!(
///     serde_json::to_string(&r).unwrap(),
///     r#"{"content":[{"type":"text","children":[{"type":"codespan","text":"x"}]}],"referencedMessageId":"m5","idempotencyKey":"-NjEtLV-------------"}"#,
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SendMessageRequest {
    /// The content (one block), written in lower-case spelling.
    #[serde(serialize_with = "sent_blocks")]
    pub content: Vec<SendContentBlock>,
    /// The id of the message this one replies to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub referenced_message_id: Option<String>,
    /// Custom data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom: Option<Custom>,
    /// A key the server uses to recognise a replayed send; re-sent unchanged on a retry.
    pub idempotency_key: IdempotencyKey,
}

/// R17's answer. Only `id` is read; a server may send the whole [`MessageWire`](crate::wire::MessageWire).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendMessageResponse {
    /// The new message's id.
    pub id: String,
}

/// R18: edit a message.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EditMessageRequest {
    /// Replacement content (one block), written in lower-case spelling; absent keeps the content.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "opt_sent_blocks"
    )]
    pub content: Option<Vec<SendContentBlock>>,
    /// Custom data changes, or clear all.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "crate::wire::patch_ser"
    )]
    pub custom: Patch<CustomPatch>,
}

fn sent_blocks<S: Serializer>(blocks: &[SendContentBlock], s: S) -> Result<S::Ok, S::Error> {
    SentContent(blocks, Spelling::Sent).serialize(s)
}

fn opt_sent_blocks<S: Serializer>(
    blocks: &Option<Vec<SendContentBlock>>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match blocks {
        Some(b) => sent_blocks(b, s),
        None => s.serialize_none(),
    }
}

/// The key that makes a send idempotent: 20 characters from
/// [`IdempotencyKey::ALPHABET`], 8 for the time in milliseconds (most significant first) and 12
/// random ones.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct IdempotencyKey(pub String);

impl IdempotencyKey {
    /// The 64 characters of a key, in digit order.
    pub const ALPHABET: &'static [u8; 64] =
        b"-0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz";
    /// Characters encoding the time.
    pub const TIME_CHARS: usize = 8;
    /// Random characters after the time.
    pub const RANDOM_CHARS: usize = 12;

    /// A key for a send at `millis` (Unix milliseconds). `random` is called once per random
    /// character and its low 6 bits pick the character; the caller chooses the source, so tests
    /// can be deterministic. Eight base-64 digits hold 48 bits of time (until the year 10889);
    /// higher bits are dropped.
    ///
    /// ```
    /// # mod talkjs { pub use talkjs_protocol::{filter, params, snapshot}; pub use talkjs_protocol as protocol; }
    /// use talkjs::protocol::request::IdempotencyKey;
    /// let mut n = 0;
    /// let key = IdempotencyKey::generate(0, || { n += 1; n });
    /// assert_eq!(key.as_str(), "--------0123456789AB");
    /// ```
    pub fn generate(millis: u64, mut random: impl FnMut() -> u64) -> Self {
        let digit = |d: u64| char::from(Self::ALPHABET[(d & 63) as usize]);
        let mut key = String::with_capacity(Self::TIME_CHARS + Self::RANDOM_CHARS);
        for i in (0..Self::TIME_CHARS).rev() {
            key.push(digit(millis >> (6 * i)));
        }
        for _ in 0..Self::RANDOM_CHARS {
            key.push(digit(random()));
        }
        IdempotencyKey(key)
    }

    /// The key as sent.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for IdempotencyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

// ---------------------------------------------------------------------------------------------
// Translation and files
// ---------------------------------------------------------------------------------------------

/// R27: translate messages of one conversation (the official client batches up to 100 ids).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TranslateRequest {
    /// The message ids.
    pub ids: Vec<String>,
    /// The target language, such as `fr`.
    pub lang: String,
}

/// R27's answer: per message id, its translation, or `null` when there is none.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct TranslateResponse {
    /// The translations.
    pub data: BTreeMap<String, Option<Translation>>,
}

/// One translated message.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Translation {
    /// Ready content blocks, used as they are.
    Content {
        /// The translated content.
        content: Vec<ContentBlock>,
    },
    /// TalkJS markup, which the client parses (with the edit parser) into one text block.
    Markup {
        /// The translated text.
        markup: String,
    },
}

/// Reads `{content}` or `{markup}`; when both are there, `content` wins, as in the official
/// client. (Not a serde `untagged` enum: that would buffer the content, which
/// [`ContentBlock`]'s decoder does not support.)
impl<'de> Deserialize<'de> for Translation {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Repr {
            #[serde(default)]
            content: Option<Vec<ContentBlock>>,
            #[serde(default)]
            markup: Option<String>,
        }
        match Repr::deserialize(d)? {
            Repr {
                content: Some(content),
                ..
            } => Ok(Translation::Content { content }),
            Repr {
                markup: Some(markup),
                ..
            } => Ok(Translation::Markup { markup }),
            _ => Err(serde::de::Error::missing_field("content")),
        }
    }
}

/// R28: check a file before uploading it; a non-200 answer rejects the upload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValidateFileRequest {
    /// The file's name.
    pub filename: String,
    /// Its size in bytes.
    pub filesize: u64,
}

/// The answer of `POST {REST}/{appId}/files` (an upload).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UploadResponse {
    /// The token to send the file with.
    pub file_token: FileToken,
}

/// The answer of `GET {INT}/{appId}/bokens/{u}`: a token for signature (unauthenticated) mode,
/// used like a JWT.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BokenResponse {
    /// The boken.
    pub boken: String,
}

// ---------------------------------------------------------------------------------------------
// Search
// ---------------------------------------------------------------------------------------------

/// One line of a conversation search result. Only `id` is read; the client fetches the rest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchConversationLine {
    /// The conversation's id.
    pub id: String,
}

/// A line of a message search result is a [`MessageWire`](crate::wire::MessageWire) with its
/// `conversation_id` set.
pub type SearchMessageLine = crate::wire::MessageWire;

/// One page of search results, in the line-oriented body a search answers with:
///
/// ```text
/// {"data":[
/// {"id":"m1",...}
/// ,{"id":"m2",...}
/// ],"cursor":"CUR1"}
/// ```
///
/// The first line is ignored by readers; each result is one line (after the first, with a
/// leading comma); the last line starts with `]` and carries the cursor. The `cursor` key is
/// left out on the last page: the official client takes `"cursor":null` for "more to load".
#[derive(Debug, Clone, PartialEq)]
pub struct SearchPage<T> {
    /// The results.
    pub results: Vec<T>,
    /// The cursor of the next page; `None` on the last page.
    pub cursor: Option<String>,
}

impl<T: Serialize> SearchPage<T> {
    /// Writes the body. It ends without a newline, which would make the official client log a
    /// warning.
    pub fn to_body(&self) -> Result<String, serde_json::Error> {
        let mut body = String::from("{\"data\":[\n");
        for (i, r) in self.results.iter().enumerate() {
            if i > 0 {
                body.push(',');
            }
            body.push_str(&serde_json::to_string(r)?);
            body.push('\n');
        }
        body.push(']');
        if let Some(c) = &self.cursor {
            body.push_str(",\"cursor\":");
            body.push_str(&serde_json::to_string(c)?);
        }
        body.push('}');
        Ok(body)
    }
}

impl<T: serde::de::DeserializeOwned> SearchPage<T> {
    /// Reads a body as the official client does: line by line, skipping the first line and any
    /// result line that does not parse. Returns the page and the number of skipped lines.
    pub fn parse_body(body: &str) -> (Self, usize) {
        #[derive(Deserialize)]
        struct Tail {
            #[serde(default)]
            cursor: Option<String>,
        }
        let mut page = SearchPage {
            results: Vec::new(),
            cursor: None,
        };
        let mut skipped = 0;
        for line in body.split('\n').skip(1) {
            if line.starts_with(']') {
                match serde_json::from_str::<Tail>(&format!("{{\"data\":[{line}")) {
                    Ok(t) => page.cursor = t.cursor,
                    Err(_) => skipped += 1,
                }
                continue;
            }
            match serde_json::from_str(line.strip_prefix(',').unwrap_or(line)) {
                Ok(r) => page.results.push(r),
                Err(_) => skipped += 1,
            }
        }
        (page, skipped)
    }
}

// ---------------------------------------------------------------------------------------------
// Decoding by route
// ---------------------------------------------------------------------------------------------

/// The `data` of any request, typed by its route: what a server decodes.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum RequestBody {
    /// R1.
    Renew(RenewRequest),
    /// R3.
    GetUsers(GetUsersRequest),
    /// R4.
    CreateUser(CreateUserParams),
    /// R5.
    SetUser(SetUserParams),
    /// R7.
    ListConversations(ListConversationsRequest),
    /// R9.
    CreateConversation(CreateConversationParams),
    /// R10.
    SetConversation(SetConversationParams),
    /// R11.
    ParticipantActions(ParticipantActionsRequest),
    /// R13, R15, R22.
    List(ListRequest),
    /// R17.
    SendMessage(SendMessageRequest),
    /// R18.
    EditMessage(EditMessageRequest),
    /// R27.
    Translate(TranslateRequest),
    /// R28.
    ValidateFile(ValidateFileRequest),
    /// R29 on `/users`.
    SubscribeUsers(SubscribeUsersRequest),
    /// Every other route.
    Empty(Empty),
}

impl RequestBody {
    /// Decodes a request's `data` (JSON text) as the type its route expects.
    ///
    /// ```
    /// use talkjs_protocol::frame::Method;
    /// use talkjs_protocol::path::Route;
    /// use talkjs_protocol::request::RequestBody;
    /// let route = Route::parse(Method::Get, "/users").unwrap();
    /// let body = RequestBody::decode(&route, r#"{"ids":["a"],"includePrivateFields":false}"#).unwrap();
    /// assert!(matches!(body, RequestBody::GetUsers(r) if r.ids == ["a"]));
    /// ```
    pub fn decode(route: &Route, data: &str) -> Result<RequestBody, serde_json::Error> {
        use serde_json::from_str;
        Ok(match route {
            Route::SessionRenew => RequestBody::Renew(from_str(data)?),
            Route::GetUsers => RequestBody::GetUsers(from_str(data)?),
            Route::CreateUser { .. } => RequestBody::CreateUser(from_str(data)?),
            Route::SetUser { .. } => RequestBody::SetUser(from_str(data)?),
            Route::ListConversations => RequestBody::ListConversations(from_str(data)?),
            Route::CreateConversation { .. } => RequestBody::CreateConversation(from_str(data)?),
            Route::SetConversation { .. } => RequestBody::SetConversation(from_str(data)?),
            Route::ParticipantActions { .. } => RequestBody::ParticipantActions(from_str(data)?),
            Route::ListParticipants { .. }
            | Route::ListMessages { .. }
            | Route::ListReactions { .. } => RequestBody::List(from_str(data)?),
            Route::SendMessage { .. } => RequestBody::SendMessage(from_str(data)?),
            Route::EditMessage { .. } => RequestBody::EditMessage(from_str(data)?),
            Route::Translate { .. } => RequestBody::Translate(from_str(data)?),
            Route::ValidateFile => RequestBody::ValidateFile(from_str(data)?),
            Route::Subscribe(Topic::Users) => RequestBody::SubscribeUsers(from_str(data)?),
            Route::Ping
            | Route::GetUserOnline { .. }
            | Route::GetConversation { .. }
            | Route::DeleteParticipant { .. }
            | Route::GetParticipant { .. }
            | Route::GetMessage { .. }
            | Route::DeleteMessage { .. }
            | Route::AddReaction { .. }
            | Route::RemoveReaction { .. }
            | Route::MarkAsRead { .. }
            | Route::MarkAsUnread { .. }
            | Route::MarkAsTyping { .. }
            | Route::GetTyping { .. }
            | Route::Subscribe(_)
            | Route::Unsubscribe(_) => RequestBody::Empty(from_str(data)?),
        })
    }
}

/// Removes duplicates, keeping first occurrences in order.
fn dedup<I: IntoIterator<Item = S>, S: Into<String>>(ids: I) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for id in ids {
        let id = id.into();
        if !out.contains(&id) {
            out.push(id);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idempotency_key_encodes_time_most_significant_first() {
        // 1 ms is the last time digit; 64 ms carries into the one before it.
        assert_eq!(&IdempotencyKey::generate(1, || 0).as_str()[..8], "-------0");
        assert_eq!(
            &IdempotencyKey::generate(64, || 0).as_str()[..8],
            "------0-"
        );
        assert_eq!(
            &IdempotencyKey::generate((1 << 48) - 1, || 0).as_str()[..8],
            "zzzzzzzz"
        );
        let key = IdempotencyKey::generate(1_700_000_000_000, || 63);
        assert_eq!(key.as_str().len(), 20);
        assert!(key.as_str().ends_with("zzzzzzzzzzzz"));
    }

    #[test]
    fn search_body_round_trip() {
        let page = SearchPage {
            results: vec![
                SearchConversationLine { id: "c1".into() },
                SearchConversationLine { id: "c2".into() },
            ],
            cursor: Some("CUR1".into()),
        };
        let body = page.to_body().unwrap();
        assert_eq!(
            body,
            "{\"data\":[\n{\"id\":\"c1\"}\n,{\"id\":\"c2\"}\n],\"cursor\":\"CUR1\"}"
        );
        let (back, skipped) = SearchPage::<SearchConversationLine>::parse_body(&body);
        assert_eq!((back, skipped), (page, 0));
        let (last, _) = SearchPage::<SearchConversationLine>::parse_body("{\"data\":[\n]}");
        assert_eq!(last.cursor, None);
        let (bad, skipped) = SearchPage::<SearchConversationLine>::parse_body(
            "{\"data\":[\nnope\n,{\"id\":\"c\"}\n]}\n",
        );
        // "nope" and the empty line after the trailing newline are skipped, as the official client does.
        assert_eq!((bad.results.len(), skipped), (1, 2));
    }
}
