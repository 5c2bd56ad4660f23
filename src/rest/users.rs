//! Users: create or merge one (`PUT /users/{id}`), many at once (`PUT /users`), read one, and
//! page through a user's conversations.

use std::collections::BTreeMap;

use awc::http::Method;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::client::Client;
use super::conversations::UserConversation;
use super::paging::{ListQuery, Paged};
use super::request::{Request, Segment};
use crate::{Error, Result};

/// Most users one [`Client::set_users`] may set (TalkJS's documented limit).
pub const MAX_USERS_PER_BATCH: usize = 100;

/// A field of a merge: `None` leaves it as it is, `Some(None)` clears it (`null`), `Some(Some(v))`
/// sets it.
pub type Patch<T> = Option<Option<T>>;

/// What `PUT /users/{id}` sets: only the fields given change (TalkJS merges like a PATCH). A new
/// user needs a [`name`](UserParams::name).
///
/// ```
/// use talkjs::rest::UserParams;
///
/// let alice = UserParams::new()
///     .name("Alice")
///     .email("alice@example.com")
///     .custom("team", "red")
///     .remove_custom("seat");
/// assert_eq!(
///     serde_json::to_value(&alice).unwrap(),
///     serde_json::json!({"name": "Alice", "email": ["alice@example.com"],
///                        "custom": {"team": "red", "seat": null}}),
/// );
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct UserParams {
    /// Display name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// E-mail addresses (replacing the old ones).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Patch<Vec<String>>,
    /// Phone numbers (replacing the old ones).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone: Patch<Vec<String>>,
    /// Picture URL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub photo_url: Patch<String>,
    /// Text shown when a conversation with the user starts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub welcome_message: Patch<String>,
    /// Role.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Patch<String>,
    /// Locale, such as `en-US`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub locale: Patch<String>,
    /// Custom data changes: string values set a key, `null` removes it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub custom: Option<Map<String, Value>>,
    /// Push registrations (`"fcm:TOKEN"`, `"apns:TOKEN"`): `true` registers, `null` unregisters.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub push_tokens: Option<Map<String, Value>>,
}

impl UserParams {
    /// Parameters that change nothing.
    pub fn new() -> UserParams {
        UserParams::default()
    }

    /// Sets the display name.
    pub fn name(mut self, name: impl Into<String>) -> UserParams {
        self.name = Some(name.into());
        self
    }

    /// Adds an e-mail address to the new list.
    pub fn email(mut self, email: impl Into<String>) -> UserParams {
        push(&mut self.email, email.into());
        self
    }

    /// Adds a phone number to the new list.
    pub fn phone(mut self, phone: impl Into<String>) -> UserParams {
        push(&mut self.phone, phone.into());
        self
    }

    /// Sets the picture URL.
    pub fn photo_url(mut self, url: impl Into<String>) -> UserParams {
        self.photo_url = Some(Some(url.into()));
        self
    }

    /// Sets the welcome message.
    pub fn welcome_message(mut self, text: impl Into<String>) -> UserParams {
        self.welcome_message = Some(Some(text.into()));
        self
    }

    /// Sets the role.
    pub fn role(mut self, role: impl Into<String>) -> UserParams {
        self.role = Some(Some(role.into()));
        self
    }

    /// Sets the locale.
    pub fn locale(mut self, locale: impl Into<String>) -> UserParams {
        self.locale = Some(Some(locale.into()));
        self
    }

    /// Sets one custom data key.
    pub fn custom(mut self, key: impl Into<String>, value: impl Into<String>) -> UserParams {
        super::set_key(&mut self.custom, key.into(), Value::String(value.into()));
        self
    }

    /// Removes one custom data key.
    pub fn remove_custom(mut self, key: impl Into<String>) -> UserParams {
        super::set_key(&mut self.custom, key.into(), Value::Null);
        self
    }

    /// Registers a push token (`fcm:...` or `apns:...`).
    pub fn push_token(mut self, token: impl Into<String>) -> UserParams {
        super::set_key(&mut self.push_tokens, token.into(), Value::Bool(true));
        self
    }

    /// Unregisters a push token.
    pub fn remove_push_token(mut self, token: impl Into<String>) -> UserParams {
        super::set_key(&mut self.push_tokens, token.into(), Value::Null);
        self
    }
}

fn push(list: &mut Patch<Vec<String>>, item: String) {
    list.get_or_insert_with(|| Some(Vec::new()))
        .get_or_insert_with(Vec::new)
        .push(item);
}

/// A user as the REST API shows it, private fields included.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct User {
    /// The id.
    pub id: String,
    /// Display name.
    #[serde(default)]
    pub name: Option<String>,
    /// E-mail addresses.
    #[serde(default)]
    pub email: Option<Vec<String>>,
    /// Phone numbers.
    #[serde(default)]
    pub phone: Option<Vec<String>>,
    /// Picture URL.
    #[serde(default)]
    pub photo_url: Option<String>,
    /// Welcome message.
    #[serde(default)]
    pub welcome_message: Option<String>,
    /// Role.
    #[serde(default)]
    pub role: Option<String>,
    /// Locale.
    #[serde(default)]
    pub locale: Option<String>,
    /// Custom data.
    #[serde(default, deserialize_with = "super::null_as_empty")]
    pub custom: Map<String, Value>,
    /// Push registrations.
    #[serde(default)]
    pub push_tokens: Option<Map<String, Value>>,
    /// When the user was created (ms since the epoch), if the server says (the emulator does
    /// not).
    #[serde(default)]
    pub created_at: Option<i64>,
}

/// Filters of [`UserRef::conversations`]; paging is the [`Paged`] stream's.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConversationListQuery {
    /// Only conversations with unread messages.
    pub unreads_only: bool,
    /// Only conversations whose last activity is before this time (ms, exclusive).
    pub last_message_before: Option<i64>,
    /// Only conversations whose last activity is after this time (ms, exclusive).
    pub last_message_after: Option<i64>,
    /// Page size and starting point.
    pub list: ListQuery,
}

impl ConversationListQuery {
    /// Every conversation, newest activity first.
    pub fn new() -> ConversationListQuery {
        ConversationListQuery::default()
    }

    /// Only those with unread messages.
    pub fn unreads_only(mut self) -> ConversationListQuery {
        self.unreads_only = true;
        self
    }

    /// Only those active before `ms`.
    pub fn last_message_before(mut self, ms: i64) -> ConversationListQuery {
        self.last_message_before = Some(ms);
        self
    }

    /// Only those active after `ms`.
    pub fn last_message_after(mut self, ms: i64) -> ConversationListQuery {
        self.last_message_after = Some(ms);
        self
    }

    /// Pages of `limit` conversations (1 to [`MAX_PAGE_SIZE`](super::MAX_PAGE_SIZE)).
    pub fn limit(mut self, limit: usize) -> ConversationListQuery {
        self.list.limit = limit;
        self
    }

    /// Starts after this conversation (one of a page seen before).
    pub fn starting_after(mut self, id: impl Into<String>) -> ConversationListQuery {
        self.list.starting_after = Some(id.into());
        self
    }
}

/// One user of the REST API: [`Client::user`]. Nothing is sent until a method is called.
#[derive(Debug, Clone)]
pub struct UserRef {
    client: Client,
    id: String,
}

impl UserRef {
    /// The user's id.
    pub fn id(&self) -> &str {
        &self.id
    }

    fn request(&self, method: Method) -> Result<Request> {
        Request::new(
            method,
            &[Segment::Word("users"), Segment::Id("user id", &self.id)],
        )
    }

    /// Creates the user or merges `params` into it (`PUT /users/{id}`).
    pub async fn set(&self, params: &UserParams) -> Result<()> {
        let request = self.request(Method::PUT)?.json(params)?;
        self.client.call_unit(request).await
    }

    /// Reads the user (`GET /users/{id}`); `NotFound` if there is none.
    pub async fn get(&self) -> Result<User> {
        self.client.call(self.request(Method::GET)?).await
    }

    /// The user's conversations, newest activity first, fetched a page at a time as the stream
    /// is read (`GET /users/{id}/conversations`).
    pub fn conversations(&self, query: ConversationListQuery) -> Paged<UserConversation> {
        let request = Request::new(
            Method::GET,
            &[
                Segment::Word("users"),
                Segment::Id("user id", &self.id),
                Segment::Word("conversations"),
            ],
        )
        .map(|mut r| {
            if query.unreads_only {
                r = r.query("unreadsOnly", "true");
            }
            if let Some(t) = query.last_message_before {
                r = r.query("lastMessageBefore", t);
            }
            if let Some(t) = query.last_message_after {
                r = r.query("lastMessageAfter", t);
            }
            r
        });
        Paged::new(self.client.clone(), request, query.list, |c| {
            &c.conversation.id
        })
    }
}

impl Client {
    /// The user `id` (nothing is sent yet).
    pub fn user(&self, id: impl Into<String>) -> UserRef {
        UserRef {
            client: self.clone(),
            id: id.into(),
        }
    }

    /// Creates or merges up to [`MAX_USERS_PER_BATCH`] users at once (`PUT /users`), all or
    /// nothing. More than that, or an empty id, is refused before sending.
    pub async fn set_users(&self, users: &BTreeMap<String, UserParams>) -> Result<()> {
        let request = Request::new(Method::PUT, &[Segment::Word("users")])?;
        if users.len() > MAX_USERS_PER_BATCH {
            return Err(Error::invalid(
                request.operation,
                format!(
                    "at most {MAX_USERS_PER_BATCH} users at once, got {}",
                    users.len()
                ),
            ));
        }
        if users.keys().any(String::is_empty) {
            return Err(Error::invalid(request.operation, "a user id is empty"));
        }
        self.call_unit(request.json(users)?).await
    }
}
