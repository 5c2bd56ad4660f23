//! Parameters of the public write calls: creating and setting users, conversations and
//! participants, sending and editing messages, and file metadata for uploads.
//!
//! These mirror the parameter types of the official client's `talkSession.d.ts`. Where a
//! parameter goes on the wire unchanged, its `Serialize` writes exactly the JSON the official
//! client sends (docs/protocol.md §4.3):
//!
//! - **Absent fields are absent.** A field left unset is not written at all.
//! - **Create vs set.** `Create*Params` fields are plain [`Option`]s: unset, or a value. `Set*Params`
//!   fields that may be cleared are [`Patch`]es, so the three states of the JavaScript API stay
//!   apart: `None` = leave unchanged (`undefined`, not written), `Some(None)` = clear (`null`),
//!   `Some(Some(v))` = set. Builders hide this: `SetUserParams::new().locale("nl")` sets,
//!   `.clear_locale()` clears. Custom data in a set is a [`CustomPatch`]: a `None` value deletes
//!   that key, and `clear_custom()` deletes them all.
//! - **Users** ([`CreateUserParams`], [`SetUserParams`]) get the official client's normalisation:
//!   `email` and `phone` are always arrays (one address is a one-element array), and `role`
//!   defaults to `"default"`: when unset in a create (the official client then adds it, so it
//!   comes last) and when cleared in a set (it then keeps its place).
//!
//! A JavaScript object keeps its caller's key order and a Rust struct has one order, so fields
//! are written in the order of `talkSession.d.ts`, which is what the official client sends when
//! the caller writes them in that order (`role` last in a create, as above). Custom data maps are
//! written in key order.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::content::{FileSubtype, SendContentBlock};
/// A participant's access and notification settings, here beside the params that set them.
pub use crate::wire::{Access, Notify};
use crate::wire::{Custom, CustomPatch, Patch};

/// The role a user has when none is given.
pub const DEFAULT_ROLE: &str = "default";

// ---------------------------------------------------------------------------------------------
// Users
// ---------------------------------------------------------------------------------------------

/// Parameters of `UserRef::create_if_not_exists` (`POST /users/{u}`).
///
/// ```
/// # mod talkjs { pub use talkjs_protocol::{filter, params, snapshot}; pub use talkjs_protocol as protocol; }
/// use talkjs::params::CreateUserParams;
/// let p = CreateUserParams::new("Alice").email("a@x.com").custom("k", "v");
/// assert_eq!(
///     serde_json::to_string(&p).unwrap(),
///     r#"{"name":"Alice","custom":{"k":"v"},"email":["a@x.com"],"role":"default"}"#,
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateUserParams {
    /// Display name (required).
    pub name: String,
    /// Custom data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom: Option<Custom>,
    /// Locale, such as `en-US`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locale: Option<String>,
    /// URL of the user's picture.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub photo_url: Option<String>,
    /// Text shown when a conversation with this user starts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub welcome_message: Option<String>,
    /// E-mail addresses.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "one_or_many")]
    pub email: Option<Vec<String>>,
    /// Phone numbers.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "one_or_many")]
    pub phone: Option<Vec<String>>,
    /// Push notification registrations, written as `{"<token>": true}`.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "push_token_set"
    )]
    pub push_tokens: Option<BTreeSet<String>>,
    /// The role; unset is sent as [`DEFAULT_ROLE`].
    #[serde(default, serialize_with = "role_or_default")]
    pub role: Option<String>,
}

impl CreateUserParams {
    /// A user with this name and nothing else set.
    pub fn new(name: impl Into<String>) -> Self {
        CreateUserParams {
            name: name.into(),
            email: None,
            phone: None,
            custom: None,
            locale: None,
            photo_url: None,
            welcome_message: None,
            push_tokens: None,
            role: None,
        }
    }

    /// Adds an e-mail address.
    pub fn email(mut self, email: impl Into<String>) -> Self {
        self.email.get_or_insert_with(Vec::new).push(email.into());
        self
    }

    /// Adds a phone number.
    pub fn phone(mut self, phone: impl Into<String>) -> Self {
        self.phone.get_or_insert_with(Vec::new).push(phone.into());
        self
    }

    /// Sets one custom data key.
    pub fn custom(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.custom
            .get_or_insert_with(Custom::new)
            .insert(key.into(), value.into());
        self
    }

    /// Sets the locale.
    pub fn locale(mut self, locale: impl Into<String>) -> Self {
        self.locale = Some(locale.into());
        self
    }

    /// Sets the picture URL.
    pub fn photo_url(mut self, url: impl Into<String>) -> Self {
        self.photo_url = Some(url.into());
        self
    }

    /// Sets the welcome message.
    pub fn welcome_message(mut self, text: impl Into<String>) -> Self {
        self.welcome_message = Some(text.into());
        self
    }

    /// Registers a push notification token.
    pub fn push_token(mut self, token: impl Into<String>) -> Self {
        self.push_tokens
            .get_or_insert_with(BTreeSet::new)
            .insert(token.into());
        self
    }

    /// Sets the role.
    pub fn role(mut self, role: impl Into<String>) -> Self {
        self.role = Some(role.into());
        self
    }
}

/// Parameters of `UserRef::set` (`PUT /users/{u}`): creates the user, or changes the given fields.
///
/// ```
/// # mod talkjs { pub use talkjs_protocol::{filter, params, snapshot}; pub use talkjs_protocol as protocol; }
/// use talkjs::params::SetUserParams;
/// let p = SetUserParams::new().name("Bob2").phone("+1555").clear_role().clear_custom_key("team");
/// assert_eq!(
///     serde_json::to_string(&p).unwrap(),
///     r#"{"name":"Bob2","custom":{"team":null},"role":"default","phone":["+1555"]}"#,
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SetUserParams {
    /// New display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Custom data changes, or clear all.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "crate::wire::patch_ser"
    )]
    pub custom: Patch<CustomPatch>,
    /// New locale, or none.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "crate::wire::patch_ser"
    )]
    pub locale: Patch<String>,
    /// New picture URL, or none.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "crate::wire::patch_ser"
    )]
    pub photo_url: Patch<String>,
    /// New role; clearing it sends [`DEFAULT_ROLE`].
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "patch_role_or_default",
        deserialize_with = "crate::wire::patch_ser::deserialize"
    )]
    pub role: Patch<String>,
    /// New welcome message, or none.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "crate::wire::patch_ser"
    )]
    pub welcome_message: Patch<String>,
    /// New e-mail addresses, or none.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "patch_one_or_many"
    )]
    pub email: Patch<Vec<String>>,
    /// New phone numbers, or none.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "patch_one_or_many"
    )]
    pub phone: Patch<Vec<String>>,
    /// Push token changes (`true` registers, `false` unregisters), or unregister all.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "push_token_patch"
    )]
    pub push_tokens: Patch<BTreeMap<String, bool>>,
}

impl SetUserParams {
    /// Parameters that change nothing.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the display name.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Adds an e-mail address to the new list.
    pub fn email(mut self, email: impl Into<String>) -> Self {
        push_patch(&mut self.email, email.into());
        self
    }

    /// Removes every e-mail address.
    pub fn clear_email(mut self) -> Self {
        self.email = Some(None);
        self
    }

    /// Adds a phone number to the new list.
    pub fn phone(mut self, phone: impl Into<String>) -> Self {
        push_patch(&mut self.phone, phone.into());
        self
    }

    /// Removes every phone number.
    pub fn clear_phone(mut self) -> Self {
        self.phone = Some(None);
        self
    }

    /// Sets one custom data key.
    pub fn custom(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        custom_patch(&mut self.custom, key.into(), Some(value.into()));
        self
    }

    /// Deletes one custom data key.
    pub fn clear_custom_key(mut self, key: impl Into<String>) -> Self {
        custom_patch(&mut self.custom, key.into(), None);
        self
    }

    /// Deletes all custom data.
    pub fn clear_custom(mut self) -> Self {
        self.custom = Some(None);
        self
    }

    /// Sets the locale.
    pub fn locale(mut self, locale: impl Into<String>) -> Self {
        self.locale = Some(Some(locale.into()));
        self
    }

    /// Removes the locale.
    pub fn clear_locale(mut self) -> Self {
        self.locale = Some(None);
        self
    }

    /// Sets the picture URL.
    pub fn photo_url(mut self, url: impl Into<String>) -> Self {
        self.photo_url = Some(Some(url.into()));
        self
    }

    /// Removes the picture.
    pub fn clear_photo_url(mut self) -> Self {
        self.photo_url = Some(None);
        self
    }

    /// Sets the welcome message.
    pub fn welcome_message(mut self, text: impl Into<String>) -> Self {
        self.welcome_message = Some(Some(text.into()));
        self
    }

    /// Removes the welcome message.
    pub fn clear_welcome_message(mut self) -> Self {
        self.welcome_message = Some(None);
        self
    }

    /// Registers a push notification token.
    pub fn push_token(mut self, token: impl Into<String>) -> Self {
        push_token_change(&mut self.push_tokens, token.into(), true);
        self
    }

    /// Unregisters a push notification token.
    pub fn remove_push_token(mut self, token: impl Into<String>) -> Self {
        push_token_change(&mut self.push_tokens, token.into(), false);
        self
    }

    /// Unregisters every push notification token.
    pub fn clear_push_tokens(mut self) -> Self {
        self.push_tokens = Some(None);
        self
    }

    /// Sets the role.
    pub fn role(mut self, role: impl Into<String>) -> Self {
        self.role = Some(Some(role.into()));
        self
    }

    /// Resets the role to [`DEFAULT_ROLE`].
    pub fn clear_role(mut self) -> Self {
        self.role = Some(None);
        self
    }
}

// ---------------------------------------------------------------------------------------------
// Conversations and participants
// ---------------------------------------------------------------------------------------------

/// Parameters of `ConversationRef::create_if_not_exists`. The official client sends the same
/// object to `POST /conversations/{c}` and, as the current user's join action, to the
/// participants batch; `access` and `notify` are the current user's.
///
/// ```
/// # mod talkjs { pub use talkjs_protocol::{filter, params, snapshot}; pub use talkjs_protocol as protocol; }
/// use talkjs::params::CreateConversationParams;
/// use talkjs::protocol::wire::{Access, Notify};
/// let p = CreateConversationParams::new()
///     .subject("Hello")
///     .custom("a", "b")
///     .access(Access::ReadWrite)
///     .notify(Notify::MentionsOnly);
/// assert_eq!(
///     serde_json::to_string(&p).unwrap(),
///     r#"{"subject":"Hello","custom":{"a":"b"},"access":"ReadWrite","notify":"MentionsOnly"}"#,
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateConversationParams {
    /// Subject line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// URL of the conversation's picture.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub photo_url: Option<String>,
    /// Messages shown at the start of the conversation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub welcome_messages: Option<Vec<String>>,
    /// Custom data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom: Option<Custom>,
    /// The current user's access.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access: Option<Access>,
    /// The current user's notification setting.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notify: Option<Notify>,
}

impl CreateConversationParams {
    /// Parameters with nothing set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the subject.
    pub fn subject(mut self, subject: impl Into<String>) -> Self {
        self.subject = Some(subject.into());
        self
    }

    /// Sets the picture URL.
    pub fn photo_url(mut self, url: impl Into<String>) -> Self {
        self.photo_url = Some(url.into());
        self
    }

    /// Adds a welcome message.
    pub fn welcome_message(mut self, text: impl Into<String>) -> Self {
        self.welcome_messages
            .get_or_insert_with(Vec::new)
            .push(text.into());
        self
    }

    /// Sets one custom data key.
    pub fn custom(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.custom
            .get_or_insert_with(Custom::new)
            .insert(key.into(), value.into());
        self
    }

    /// Sets the current user's access.
    pub fn access(mut self, access: Access) -> Self {
        self.access = Some(access);
        self
    }

    /// Sets the current user's notification setting.
    pub fn notify(mut self, notify: Notify) -> Self {
        self.notify = Some(notify);
        self
    }
}

/// Parameters of `ConversationRef::set`. Like a create, the official client sends the same object
/// to `PUT /conversations/{c}` and as the current user's `PUT` action in the participants batch.
///
/// ```
/// # mod talkjs { pub use talkjs_protocol::{filter, params, snapshot}; pub use talkjs_protocol as protocol; }
/// use talkjs::params::SetConversationParams;
/// use talkjs::protocol::wire::Notify;
/// let p = SetConversationParams::new().subject("New").clear_photo_url().clear_custom_key("a").notify(Notify::Off);
/// assert_eq!(
///     serde_json::to_string(&p).unwrap(),
///     r#"{"subject":"New","photoUrl":null,"custom":{"a":null},"notify":false}"#,
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SetConversationParams {
    /// New subject, or none.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "crate::wire::patch_ser"
    )]
    pub subject: Patch<String>,
    /// New picture URL, or none.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "crate::wire::patch_ser"
    )]
    pub photo_url: Patch<String>,
    /// New welcome messages, or none.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "crate::wire::patch_ser"
    )]
    pub welcome_messages: Patch<Vec<String>>,
    /// Custom data changes, or clear all.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "crate::wire::patch_ser"
    )]
    pub custom: Patch<CustomPatch>,
    /// The current user's new access (`null` asks for the server's default).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "crate::wire::patch_ser"
    )]
    pub access: Patch<Access>,
    /// The current user's new notification setting (`null` asks for the server's default).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "crate::wire::patch_ser"
    )]
    pub notify: Patch<Notify>,
}

impl SetConversationParams {
    /// Parameters that change nothing.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the subject.
    pub fn subject(mut self, subject: impl Into<String>) -> Self {
        self.subject = Some(Some(subject.into()));
        self
    }

    /// Removes the subject.
    pub fn clear_subject(mut self) -> Self {
        self.subject = Some(None);
        self
    }

    /// Sets the picture URL.
    pub fn photo_url(mut self, url: impl Into<String>) -> Self {
        self.photo_url = Some(Some(url.into()));
        self
    }

    /// Removes the picture.
    pub fn clear_photo_url(mut self) -> Self {
        self.photo_url = Some(None);
        self
    }

    /// Replaces the welcome messages.
    pub fn welcome_messages<I: IntoIterator<Item = S>, S: Into<String>>(
        mut self,
        texts: I,
    ) -> Self {
        self.welcome_messages = Some(Some(texts.into_iter().map(Into::into).collect()));
        self
    }

    /// Removes the welcome messages.
    pub fn clear_welcome_messages(mut self) -> Self {
        self.welcome_messages = Some(None);
        self
    }

    /// Sets one custom data key.
    pub fn custom(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        custom_patch(&mut self.custom, key.into(), Some(value.into()));
        self
    }

    /// Deletes one custom data key.
    pub fn clear_custom_key(mut self, key: impl Into<String>) -> Self {
        custom_patch(&mut self.custom, key.into(), None);
        self
    }

    /// Deletes all custom data.
    pub fn clear_custom(mut self) -> Self {
        self.custom = Some(None);
        self
    }

    /// Sets the current user's access.
    pub fn access(mut self, access: Access) -> Self {
        self.access = Some(Some(access));
        self
    }

    /// Sets the current user's notification setting.
    pub fn notify(mut self, notify: Notify) -> Self {
        self.notify = Some(Some(notify));
        self
    }

    /// True when a server that refuses conversation edits (`UNAUTHORIZED_TO_EDIT`) may be
    /// ignored: nothing but the current user's own participation changes. This is the official
    /// client's rule: no subject, picture or welcome messages, custom not cleared, and no custom key
    /// set or deleted.
    pub fn changes_only_participation(&self) -> bool {
        self.subject.is_none()
            && self.photo_url.is_none()
            && self.welcome_messages.is_none()
            && match &self.custom {
                None => true,
                Some(None) => false,
                Some(Some(p)) => p.is_empty(),
            }
    }

    /// True when the current user's participation does not change, so a server refusing it
    /// (`UNAUTHORIZED_TO_EDIT_PARTICIPANT`) may be ignored.
    pub fn changes_no_participation(&self) -> bool {
        self.access.is_none() && self.notify.is_none()
    }
}

impl From<CreateConversationParams> for SetConversationParams {
    /// The same changes as a set: every given field is set.
    fn from(p: CreateConversationParams) -> Self {
        SetConversationParams {
            subject: p.subject.map(Some),
            photo_url: p.photo_url.map(Some),
            welcome_messages: p.welcome_messages.map(Some),
            custom: p
                .custom
                .map(|c| Some(c.into_iter().map(|(k, v)| (k, Some(v))).collect())),
            access: p.access.map(Some),
            notify: p.notify.map(Some),
        }
    }
}

impl From<SetParticipantParams> for SetConversationParams {
    /// A participant change, as the participant part of conversation parameters.
    fn from(p: SetParticipantParams) -> Self {
        SetConversationParams {
            access: p.access,
            notify: p.notify,
            ..Default::default()
        }
    }
}

impl From<CreateParticipantParams> for SetConversationParams {
    /// A participant creation, as the participant part of conversation parameters.
    fn from(p: CreateParticipantParams) -> Self {
        SetConversationParams {
            access: p.access.map(Some),
            notify: p.notify.map(Some),
            ..Default::default()
        }
    }
}

/// Parameters of `ParticipantRef::create_if_not_exists`: the new participant's settings.
///
/// ```
/// # mod talkjs { pub use talkjs_protocol::{filter, params, snapshot}; pub use talkjs_protocol as protocol; }
/// use talkjs::params::CreateParticipantParams;
/// use talkjs::protocol::wire::{Access, Notify};
/// let p = CreateParticipantParams::new().access(Access::ReadWrite).notify(Notify::All);
/// assert_eq!(serde_json::to_string(&p).unwrap(), r#"{"access":"ReadWrite","notify":true}"#);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateParticipantParams {
    /// Their access.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access: Option<Access>,
    /// Their notification setting.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notify: Option<Notify>,
}

impl CreateParticipantParams {
    /// Parameters with nothing set (the server's defaults apply).
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets their access.
    pub fn access(mut self, access: Access) -> Self {
        self.access = Some(access);
        self
    }

    /// Sets their notification setting.
    pub fn notify(mut self, notify: Notify) -> Self {
        self.notify = Some(notify);
        self
    }
}

/// Parameters of `ParticipantRef::set` and `ParticipantRef::edit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SetParticipantParams {
    /// New access (`null` asks for the server's default).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "crate::wire::patch_ser"
    )]
    pub access: Patch<Access>,
    /// New notification setting (`null` asks for the server's default).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "crate::wire::patch_ser"
    )]
    pub notify: Patch<Notify>,
}

impl SetParticipantParams {
    /// Parameters that change nothing.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets their access.
    pub fn access(mut self, access: Access) -> Self {
        self.access = Some(Some(access));
        self
    }

    /// Sets their notification setting.
    pub fn notify(mut self, notify: Notify) -> Self {
        self.notify = Some(Some(notify));
        self
    }
}

// ---------------------------------------------------------------------------------------------
// Messages
// ---------------------------------------------------------------------------------------------

/// Parameters of `ConversationRef::send` with a ready-made content block (a file, a location,
/// or a text block built by hand).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SendMessageParams {
    /// Custom data of the new message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom: Option<Custom>,
    /// The id of the message this one replies to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub referenced_message: Option<String>,
    /// The one content block to send (the public type is a one-element array).
    #[serde(with = "one_block")]
    pub content: SendContentBlock,
}

impl SendMessageParams {
    /// A message with this content block.
    pub fn new(content: SendContentBlock) -> Self {
        SendMessageParams {
            custom: None,
            referenced_message: None,
            content,
        }
    }

    /// Sets one custom data key.
    pub fn custom(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.custom
            .get_or_insert_with(Custom::new)
            .insert(key.into(), value.into());
        self
    }

    /// Makes the message a reply to the message with this id.
    pub fn reply_to(mut self, message_id: impl Into<String>) -> Self {
        self.referenced_message = Some(message_id.into());
        self
    }
}

/// Parameters of `ConversationRef::send` with TalkJS markup text, which is parsed into a text
/// block before sending.
///
/// ```
/// # mod talkjs { pub use talkjs_protocol::{filter, params, snapshot}; pub use talkjs_protocol as protocol; }
/// use talkjs::params::SendTextMessageParams;
/// let p = SendTextMessageParams::new("*hi* there").reply_to("m5").custom("k", "v");
/// assert_eq!(p.referenced_message.as_deref(), Some("m5"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SendTextMessageParams {
    /// Custom data of the new message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom: Option<Custom>,
    /// The id of the message this one replies to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub referenced_message: Option<String>,
    /// The text, in TalkJS markup.
    pub text: String,
}

impl SendTextMessageParams {
    /// A message with this text.
    pub fn new(text: impl Into<String>) -> Self {
        SendTextMessageParams {
            custom: None,
            referenced_message: None,
            text: text.into(),
        }
    }

    /// Sets one custom data key.
    pub fn custom(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.custom
            .get_or_insert_with(Custom::new)
            .insert(key.into(), value.into());
        self
    }

    /// Makes the message a reply to the message with this id.
    pub fn reply_to(mut self, message_id: impl Into<String>) -> Self {
        self.referenced_message = Some(message_id.into());
        self
    }
}

impl From<&str> for SendTextMessageParams {
    fn from(text: &str) -> Self {
        SendTextMessageParams::new(text)
    }
}

impl From<String> for SendTextMessageParams {
    fn from(text: String) -> Self {
        SendTextMessageParams::new(text)
    }
}

/// Parameters of `MessageRef::edit` with a ready-made content block.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EditMessageParams {
    /// Custom data changes, or clear all.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "crate::wire::patch_ser"
    )]
    pub custom: Patch<CustomPatch>,
    /// The new content block; `None` keeps the content.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "opt_one_block"
    )]
    pub content: Option<SendContentBlock>,
}

impl EditMessageParams {
    /// Parameters that change nothing.
    pub fn new() -> Self {
        Self::default()
    }

    /// Replaces the content.
    pub fn content(mut self, block: SendContentBlock) -> Self {
        self.content = Some(block);
        self
    }

    /// Sets one custom data key.
    pub fn custom(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        custom_patch(&mut self.custom, key.into(), Some(value.into()));
        self
    }

    /// Deletes one custom data key.
    pub fn clear_custom_key(mut self, key: impl Into<String>) -> Self {
        custom_patch(&mut self.custom, key.into(), None);
        self
    }

    /// Deletes all custom data.
    pub fn clear_custom(mut self) -> Self {
        self.custom = Some(None);
        self
    }
}

/// Parameters of `MessageRef::edit` with TalkJS markup text.
///
/// As in the official client, an empty `text` leaves the content unchanged (only `custom` is
/// sent), whereas editing with a bare empty string sends an empty text block.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EditTextMessageParams {
    /// Custom data changes, or clear all.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "crate::wire::patch_ser"
    )]
    pub custom: Patch<CustomPatch>,
    /// The new text, in TalkJS markup; `None` (or empty) keeps the content.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
}

impl EditTextMessageParams {
    /// Parameters that change nothing.
    pub fn new() -> Self {
        Self::default()
    }

    /// Replaces the text.
    pub fn text(mut self, text: impl Into<String>) -> Self {
        self.text = Some(text.into());
        self
    }

    /// Sets one custom data key.
    pub fn custom(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        custom_patch(&mut self.custom, key.into(), Some(value.into()));
        self
    }

    /// Deletes one custom data key.
    pub fn clear_custom_key(mut self, key: impl Into<String>) -> Self {
        custom_patch(&mut self.custom, key.into(), None);
        self
    }

    /// Deletes all custom data.
    pub fn clear_custom(mut self) -> Self {
        self.custom = Some(None);
        self
    }
}

// ---------------------------------------------------------------------------------------------
// File metadata
// ---------------------------------------------------------------------------------------------

/// What an upload tells the server about a file besides its bytes.
///
/// The multipart form of an upload carries `subtype`, `width`, `height` and `duration` fields in
/// that order, each only when known (docs/protocol.md §1.6); [`FileMetadata::form_fields`] lists
/// them.
pub trait FileMetadata {
    /// The file's name (the multipart part's filename).
    fn filename(&self) -> &str;

    /// The `subtype` form field; `None` for a generic file.
    fn subtype(&self) -> Option<FileSubtype>;

    /// The form fields after `file`, in order, with the values written as the official client
    /// writes numbers (`640`, `12.5`).
    fn form_fields(&self) -> Vec<(&'static str, String)>;
}

/// Metadata of a generic file (`upload_file`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GenericFileMetadata {
    /// The file's name.
    pub filename: String,
}

/// Metadata of an image (`upload_image`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageFileMetadata {
    /// The file's name.
    pub filename: String,
    /// Width in pixels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width: Option<u32>,
    /// Height in pixels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height: Option<u32>,
}

/// Metadata of a video (`upload_video`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VideoFileMetadata {
    /// The file's name.
    pub filename: String,
    /// Width in pixels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width: Option<u32>,
    /// Height in pixels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height: Option<u32>,
    /// Duration in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<f64>,
}

/// Metadata of an audio file (`upload_audio`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AudioFileMetadata {
    /// The file's name.
    pub filename: String,
    /// Duration in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<f64>,
}

/// Metadata of a voice recording (`upload_voice`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VoiceRecordingFileMetadata {
    /// The file's name.
    pub filename: String,
    /// Duration in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<f64>,
}

/// The form fields of an upload, from its parts.
fn form_fields(
    subtype: Option<FileSubtype>,
    width: Option<u32>,
    height: Option<u32>,
    duration: Option<f64>,
) -> Vec<(&'static str, String)> {
    let mut fields = Vec::new();
    if let Some(s) = subtype {
        fields.push(("subtype", s.as_str().to_owned()));
    }
    if let Some(w) = width {
        fields.push(("width", w.to_string()));
    }
    if let Some(h) = height {
        fields.push(("height", h.to_string()));
    }
    // `f64`'s Display writes `12` for 12.0 and `12.5` for 12.5, as JavaScript's `String(n)` does.
    if let Some(d) = duration {
        fields.push(("duration", d.to_string()));
    }
    fields
}

impl FileMetadata for GenericFileMetadata {
    fn filename(&self) -> &str {
        &self.filename
    }
    fn subtype(&self) -> Option<FileSubtype> {
        None
    }
    fn form_fields(&self) -> Vec<(&'static str, String)> {
        form_fields(None, None, None, None)
    }
}

impl FileMetadata for ImageFileMetadata {
    fn filename(&self) -> &str {
        &self.filename
    }
    fn subtype(&self) -> Option<FileSubtype> {
        Some(FileSubtype::Image)
    }
    fn form_fields(&self) -> Vec<(&'static str, String)> {
        form_fields(self.subtype(), self.width, self.height, None)
    }
}

impl FileMetadata for VideoFileMetadata {
    fn filename(&self) -> &str {
        &self.filename
    }
    fn subtype(&self) -> Option<FileSubtype> {
        Some(FileSubtype::Video)
    }
    fn form_fields(&self) -> Vec<(&'static str, String)> {
        form_fields(self.subtype(), self.width, self.height, self.duration)
    }
}

impl FileMetadata for AudioFileMetadata {
    fn filename(&self) -> &str {
        &self.filename
    }
    fn subtype(&self) -> Option<FileSubtype> {
        Some(FileSubtype::Audio)
    }
    fn form_fields(&self) -> Vec<(&'static str, String)> {
        form_fields(self.subtype(), None, None, self.duration)
    }
}

impl FileMetadata for VoiceRecordingFileMetadata {
    fn filename(&self) -> &str {
        &self.filename
    }
    fn subtype(&self) -> Option<FileSubtype> {
        Some(FileSubtype::Voice)
    }
    fn form_fields(&self) -> Vec<(&'static str, String)> {
        form_fields(self.subtype(), None, None, self.duration)
    }
}

// ---------------------------------------------------------------------------------------------
// Builder and serde helpers
// ---------------------------------------------------------------------------------------------

/// Adds a value to a patched list, starting a new list if it was unset or cleared.
fn push_patch(field: &mut Patch<Vec<String>>, value: String) {
    field
        .get_or_insert(None)
        .get_or_insert_with(Vec::new)
        .push(value);
}

/// Sets or deletes one key of a custom data patch, starting a patch if there was none (or
/// replacing a clear-all with a patch).
fn custom_patch(field: &mut Patch<CustomPatch>, key: String, value: Option<String>) {
    field
        .get_or_insert(None)
        .get_or_insert_with(CustomPatch::new)
        .insert(key, value);
}

/// Records a push token change, starting a patch if there was none.
fn push_token_change(field: &mut Patch<BTreeMap<String, bool>>, token: String, register: bool) {
    field
        .get_or_insert(None)
        .get_or_insert_with(BTreeMap::new)
        .insert(token, register);
}

/// Writes the role, or [`DEFAULT_ROLE`] when there is none.
fn role_or_default<S: serde::Serializer>(role: &Option<String>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(role.as_deref().unwrap_or(DEFAULT_ROLE))
}

/// Writes a role patch; a cleared role is written as [`DEFAULT_ROLE`].
fn patch_role_or_default<S: serde::Serializer>(
    role: &Patch<String>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match role {
        Some(r) => role_or_default(r, s),
        None => s.serialize_none(),
    }
}

/// A list the public API also accepts as a single string (`email`, `phone`): always written as
/// an array, read from either form.
#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl From<OneOrMany> for Vec<String> {
    fn from(v: OneOrMany) -> Self {
        match v {
            OneOrMany::One(s) => vec![s],
            OneOrMany::Many(v) => v,
        }
    }
}

mod one_or_many {
    use super::OneOrMany;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(v: &Option<Vec<String>>, s: S) -> Result<S::Ok, S::Error> {
        v.serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<String>>, D::Error> {
        Ok(Option::<OneOrMany>::deserialize(d)?.map(Into::into))
    }
}

mod patch_one_or_many {
    use super::OneOrMany;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(
        v: &Option<Option<Vec<String>>>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        crate::wire::patch_ser::serialize(v, s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Option<Vec<String>>>, D::Error> {
        Ok(Some(Option::<OneOrMany>::deserialize(d)?.map(Into::into)))
    }
}

/// Push tokens in a create: a set, written as `{"<token>": true}`.
mod push_token_set {
    use std::collections::BTreeSet;

    use serde::de::Error;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &Option<BTreeSet<String>>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(set) => s.collect_map(set.iter().map(|t| (t, true))),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<BTreeSet<String>>, D::Error> {
        let Some(map) = Option::<std::collections::BTreeMap<String, bool>>::deserialize(d)? else {
            return Ok(None);
        };
        if map.values().any(|v| !v) {
            return Err(D::Error::custom("push token values must be `true`"));
        }
        Ok(Some(map.into_keys().collect()))
    }
}

/// Push tokens in a set: `true` registers, `null` (our `false`) unregisters.
mod push_token_patch {
    use std::collections::BTreeMap;

    use serde::de::Error;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(
        v: &Option<Option<BTreeMap<String, bool>>>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match v {
            Some(Some(map)) => s.collect_map(map.iter().map(|(t, on)| (t, on.then_some(true)))),
            _ => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Option<BTreeMap<String, bool>>>, D::Error> {
        let Some(map) = Option::<BTreeMap<String, Option<bool>>>::deserialize(d)? else {
            return Ok(Some(None));
        };
        let mut out = BTreeMap::new();
        for (token, v) in map {
            match v {
                Some(true) => out.insert(token, true),
                None => out.insert(token, false),
                Some(false) => {
                    return Err(D::Error::custom(
                        "push token values must be `true` or `null`",
                    ));
                }
            };
        }
        Ok(Some(Some(out)))
    }
}

/// A single content block written as a one-element array (the public type is `[SendContentBlock]`).
mod one_block {
    use serde::de::Error;
    use serde::{Deserialize, Deserializer, Serializer};

    use crate::content::SendContentBlock;

    pub fn serialize<S: Serializer>(v: &SendContentBlock, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(std::iter::once(v))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<SendContentBlock, D::Error> {
        let blocks = Vec::<SendContentBlock>::deserialize(d)?;
        let n = blocks.len();
        let mut it = blocks.into_iter();
        match (it.next(), n) {
            (Some(b), 1) => Ok(b),
            _ => Err(D::Error::invalid_length(n, &"exactly one content block")),
        }
    }
}

mod opt_one_block {
    use serde::{Deserialize, Deserializer, Serializer};

    use crate::content::SendContentBlock;

    pub fn serialize<S: Serializer>(v: &Option<SendContentBlock>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(b) => super::one_block::serialize(b, s),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<SendContentBlock>, D::Error> {
        #[derive(Deserialize)]
        struct One(#[serde(with = "super::one_block")] SendContentBlock);
        Ok(Option::<One>::deserialize(d)?.map(|o| o.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn role_defaults_and_goes_last() {
        let p = CreateUserParams::new("A").role("admin").locale("nl");
        assert_eq!(
            serde_json::to_string(&p).unwrap(),
            r#"{"name":"A","locale":"nl","role":"admin"}"#
        );
        assert_eq!(serde_json::to_string(&SetUserParams::new()).unwrap(), "{}");
        assert_eq!(
            serde_json::to_string(
                &SetUserParams::new()
                    .role("x")
                    .locale("nl")
                    .name("n")
                    .email("e")
            )
            .unwrap(),
            r#"{"name":"n","locale":"nl","role":"x","email":["e"]}"#
        );
    }

    #[test]
    fn single_addresses_are_read_as_lists() {
        let p: SetUserParams =
            serde_json::from_value(json!({"email": "a@x", "phone": null})).unwrap();
        assert_eq!(p.email, Some(Some(vec!["a@x".to_string()])));
        assert_eq!(p.phone, Some(None));
        let p: CreateUserParams =
            serde_json::from_value(json!({"name": "A", "email": ["a", "b"]})).unwrap();
        assert_eq!(p.email.unwrap().len(), 2);
    }

    #[test]
    fn push_tokens_are_true_or_null() {
        let p = CreateUserParams::new("A").push_token("fcm:1");
        assert_eq!(
            serde_json::to_value(&p).unwrap()["pushTokens"],
            json!({"fcm:1": true})
        );
        let p = SetUserParams::new().push_token("a").remove_push_token("b");
        assert_eq!(
            serde_json::to_value(&p).unwrap(),
            json!({"pushTokens": {"a": true, "b": null}})
        );
        let back: SetUserParams =
            serde_json::from_value(serde_json::to_value(&p).unwrap()).unwrap();
        assert_eq!(back, p);
        assert_eq!(
            serde_json::to_value(SetUserParams::new().clear_push_tokens()).unwrap(),
            json!({"pushTokens": null})
        );
    }

    #[test]
    fn file_form_fields_follow_the_official_order_and_number_format() {
        let v = VideoFileMetadata {
            filename: "v.mp4".into(),
            width: Some(640),
            height: Some(480),
            duration: Some(12.0),
        };
        assert_eq!(
            v.form_fields(),
            [
                ("subtype", "video".to_string()),
                ("width", "640".into()),
                ("height", "480".into()),
                ("duration", "12".into())
            ]
        );
        let a = VoiceRecordingFileMetadata {
            filename: "v.ogg".into(),
            duration: Some(75.4),
        };
        assert_eq!(
            a.form_fields(),
            [
                ("subtype", "voice".to_string()),
                ("duration", "75.4".into())
            ]
        );
        assert!(
            GenericFileMetadata {
                filename: "f".into()
            }
            .form_fields()
            .is_empty()
        );
    }

    #[test]
    fn set_conversation_tolerance_rules() {
        assert!(
            SetConversationParams::new()
                .notify(Notify::Off)
                .changes_only_participation()
        );
        assert!(
            !SetConversationParams::new()
                .clear_custom()
                .changes_only_participation()
        );
        assert!(
            !SetConversationParams::new()
                .custom("a", "b")
                .changes_only_participation()
        );
        assert!(
            SetConversationParams::new()
                .subject("s")
                .changes_no_participation()
        );
        assert!(
            !SetConversationParams::new()
                .access(Access::Read)
                .changes_no_participation()
        );
    }
}
