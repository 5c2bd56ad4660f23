//! The snapshots the public API hands out, and the pure functions that keep them current.
//!
//! Every type here is the Rust counterpart of a snapshot or state type of the official client's
//! `talkSession.d.ts`: fields are snake_case in Rust and serialise in camelCase, so a snapshot
//! turns into the same JSON object the official client shows (docs/protocol.md §6).
//!
//! Three kinds of code live here, none of which does I/O:
//!
//! - **Constructors from wire models** ([`UserSnapshot::from`], [`MessageSnapshot::from_wire`],
//!   [`ConversationSnapshot::from_wire`], ...). They take already-built nested snapshots (a
//!   message's sender, a conversation's last message) as arguments, because finding those is the
//!   cache's job, not the model's.
//! - **Diff application** (`apply`): what a `*.edited` event does to a snapshot, following the
//!   official client rule for rule, including its quirks where they are observable (see each
//!   method). The runtime's cache calls these; they are unit-tested one rule at a time.
//! - **Subscription states** ([`SubscriptionState`]): `pending`, `active`, `unsubscribed`, `error`.
//!
//! # Why nested snapshots are `Arc`s
//!
//! A snapshot is immutable once built, and the same one is shown in many places at once: one
//! user's [`UserSnapshot`] is the sender of each of their messages, a participant, a typing user
//! and a reacting user; a [`MessageSnapshot`] is both an entry of a message list and a
//! conversation's `last_message`. So every snapshot nested inside another value is held by
//! [`Arc`]: building a list or re-emitting a conversation clones pointers, not trees, and when a
//! user is edited the cache builds one new `Arc<UserSnapshot>` and links it everywhere. Top-level
//! values are left to the runtime to wrap as it likes. `Arc` is transparent in the JSON form.
//!
//! # Where the official client's shape and ours differ
//!
//! - [`ParticipantSnapshot::user`], [`MessageSnapshot::sender`] and
//!   [`ReferencedMessageSnapshot::sender`] follow the public types, which the official client
//!   itself does not always honour: see each field.
//! - The official client's first conversation snapshot also carries the wire's `lastMessageAt`
//!   (it spreads the whole wire object), but later ones do not. [`ConversationSnapshot`] sticks to
//!   the public type; the cache keeps the [`ConversationWire`] (see
//!   [`ConversationWire::apply`]) for ordering and filtering.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use serde::de::Deserializer;
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};

use crate::content::ContentBlock;
use crate::message_diff::patch_custom;
/// The enums snapshots carry, here beside them (they are defined with the wire models).
pub use crate::wire::{Access, MessageType, Notify, Origin};
use crate::wire::{
    ConversationDiff, ConversationWire, Custom, MessageDiff, MessageWire, Millis, OnlineWire,
    ParticipantDiff, ParticipantWire, Patch, ReactionSummaryDiff, ReactionSummaryWire,
    ReactionUserWire, TypingDiff, TypingWire, UserDiff, UserWire,
};

// ---------------------------------------------------------------------------------------------
// Users
// ---------------------------------------------------------------------------------------------

/// A user: exactly the public fields of a [`UserWire`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserSnapshot {
    /// The user's id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Custom data.
    pub custom: Custom,
    /// Locale, such as `en-US`.
    pub locale: Option<String>,
    /// URL of the user's picture.
    pub photo_url: Option<String>,
    /// The user's role (`"default"` unless one was set).
    pub role: String,
    /// Text shown when a conversation with this user starts.
    pub welcome_message: Option<String>,
}

impl From<UserWire> for UserSnapshot {
    fn from(w: UserWire) -> Self {
        UserSnapshot {
            id: w.id,
            name: w.name,
            custom: w.custom,
            locale: w.locale,
            photo_url: w.photo_url,
            role: w.role,
            welcome_message: w.welcome_message,
        }
    }
}

impl From<&UserWire> for UserSnapshot {
    fn from(w: &UserWire) -> Self {
        UserSnapshot::from(w.clone())
    }
}

impl UserSnapshot {
    /// Applies a `user.edited` diff: absent fields stay, `null` clears, `custom` merges key by key
    /// (a `null` value deletes the key, `custom: null` empties it).
    ///
    /// ```
    /// # mod talkjs { pub use talkjs_protocol::{filter, params, snapshot}; pub use talkjs_protocol as protocol; }
    /// use talkjs::snapshot::UserSnapshot;
    /// use talkjs::protocol::wire::{UserDiff, UserWire};
    /// let wire: UserWire = serde_json::from_str(
    ///     r#"{"id":"bob","name":"Bob","custom":{"team":"a"},"locale":null,"photoUrl":null,"role":"default","welcomeMessage":null}"#,
    /// ).unwrap();
    /// let mut bob = UserSnapshot::from(wire);
    /// let diff: UserDiff = serde_json::from_str(r#"{"name":"Bobby","custom":{"team":null}}"#).unwrap();
    /// bob.apply(&diff);
    /// assert_eq!(bob.name, "Bobby");
    /// assert!(bob.custom.is_empty());
    /// ```
    pub fn apply(&mut self, diff: &UserDiff) {
        if let Some(name) = &diff.name {
            self.name.clone_from(name);
        }
        patch_custom(&mut self.custom, &diff.custom);
        patch(&mut self.locale, &diff.locale);
        patch(&mut self.photo_url, &diff.photo_url);
        if let Some(role) = &diff.role {
            self.role.clone_from(role);
        }
        patch(&mut self.welcome_message, &diff.welcome_message);
    }
}

/// Whether a user is connected, with the user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserOnlineSnapshot {
    /// The user.
    #[serde(with = "arc")]
    pub user: Arc<UserSnapshot>,
    /// True while the user has at least one connected session.
    pub is_connected: bool,
}

impl UserOnlineSnapshot {
    /// Joins the online state with the user it belongs to.
    pub fn from_wire(online: &OnlineWire, user: Arc<UserSnapshot>) -> Self {
        UserOnlineSnapshot {
            user,
            is_connected: online.is_connected,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Conversations
// ---------------------------------------------------------------------------------------------

/// The current user's view of a conversation, with its newest message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConversationSnapshot {
    /// The conversation's id.
    pub id: String,
    /// Subject line.
    pub subject: Option<String>,
    /// URL of the conversation's picture.
    pub photo_url: Option<String>,
    /// Messages shown at the start of the conversation.
    pub welcome_messages: Vec<String>,
    /// Custom data.
    pub custom: Custom,
    /// When the conversation was created.
    pub created_at: Millis,
    /// When the current user joined it.
    pub joined_at: Millis,
    /// The newest message, fully hydrated; `None` when there are no messages.
    #[serde(with = "opt_arc")]
    pub last_message: Option<Arc<MessageSnapshot>>,
    /// Messages the current user has not read.
    pub unread_message_count: u64,
    /// The current user has read everything up to this time.
    pub read_until: Millis,
    /// Every participant has read everything up to this time.
    pub everyone_read_until: Millis,
    /// Whether the current user has unread messages (or marked the conversation unread).
    pub is_unread: bool,
    /// The current user's access.
    pub access: Access,
    /// The current user's notification setting.
    pub notify: Notify,
}

impl ConversationSnapshot {
    /// Builds the snapshot from the wire object and the hydrated newest message.
    pub fn from_wire(wire: &ConversationWire, last_message: Option<Arc<MessageSnapshot>>) -> Self {
        ConversationSnapshot {
            id: wire.id.clone(),
            subject: wire.subject.clone(),
            photo_url: wire.photo_url.clone(),
            welcome_messages: wire.welcome_messages.clone(),
            custom: wire.custom.clone(),
            created_at: wire.created_at,
            joined_at: wire.joined_at,
            last_message,
            unread_message_count: wire.unread_message_count,
            read_until: wire.read_until,
            everyone_read_until: wire.everyone_read_until,
            is_unread: wire.is_unread,
            access: wire.access,
            notify: wire.notify,
        }
    }

    /// Applies a `side.edited` or `conversation.edited` diff.
    ///
    /// As in the official client, `createdAt` and `joinedAt` in a diff are ignored (a conversation
    /// is not re-created, and re-joining is a `side.created`), `lastMessageAt` is not part of the
    /// snapshot, and `welcomeMessages: null` empties the list.
    pub fn apply(&mut self, diff: &ConversationDiff) {
        patch(&mut self.subject, &diff.subject);
        patch(&mut self.photo_url, &diff.photo_url);
        if let Some(w) = &diff.welcome_messages {
            self.welcome_messages = w.clone().unwrap_or_default();
        }
        patch_custom(&mut self.custom, &diff.custom);
        set(&mut self.unread_message_count, diff.unread_message_count);
        set(&mut self.read_until, diff.read_until);
        set(&mut self.everyone_read_until, diff.everyone_read_until);
        set(&mut self.is_unread, diff.is_unread);
        set(&mut self.access, diff.access);
        set(&mut self.notify, diff.notify);
    }

    /// Applies a `participant.edited` diff about the *current* user: their access and notification
    /// setting are part of their view of the conversation.
    pub fn apply_own_participant_diff(&mut self, diff: &ParticipantDiff) {
        set(&mut self.access, diff.access);
        set(&mut self.notify, diff.notify);
    }
}

impl ConversationWire {
    /// Applies a `side.edited` or `conversation.edited` diff to the wire object, every field
    /// included (unlike [`ConversationSnapshot::apply`], which follows the official client in
    /// ignoring `createdAt` and `joinedAt`). This is the state a cache filters and orders by.
    pub fn apply(&mut self, diff: &ConversationDiff) {
        patch(&mut self.subject, &diff.subject);
        patch(&mut self.photo_url, &diff.photo_url);
        if let Some(w) = &diff.welcome_messages {
            self.welcome_messages = w.clone().unwrap_or_default();
        }
        patch_custom(&mut self.custom, &diff.custom);
        set(&mut self.created_at, diff.created_at);
        set(&mut self.joined_at, diff.joined_at);
        set(&mut self.last_message_at, diff.last_message_at);
        set(&mut self.unread_message_count, diff.unread_message_count);
        set(&mut self.is_unread, diff.is_unread);
        set(&mut self.access, diff.access);
        set(&mut self.notify, diff.notify);
        set(&mut self.read_until, diff.read_until);
        set(&mut self.everyone_read_until, diff.everyone_read_until);
    }

    /// Applies a `participant.edited` diff about the current user.
    pub fn apply_own_participant_diff(&mut self, diff: &ParticipantDiff) {
        set(&mut self.access, diff.access);
        set(&mut self.notify, diff.notify);
    }
}

// ---------------------------------------------------------------------------------------------
// Messages and reactions
// ---------------------------------------------------------------------------------------------

/// One emoji of a message's reaction summary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReactionsSummarySnapshot {
    /// The emoji (a Unicode emoji, or a custom emoji name such as `:cat:`).
    pub emoji: String,
    /// How many users reacted with it.
    pub count: u64,
    /// Whether the current user is one of them.
    pub current_user_reacted: bool,
}

/// The public API's other name for [`ReactionsSummarySnapshot`].
pub type ReactionSnapshot = ReactionsSummarySnapshot;

impl ReactionsSummarySnapshot {
    /// The summary list of a message's wire reactions, in display order: by when each emoji was
    /// first added, then by the emoji itself.
    ///
    /// The official client breaks ties with a locale-aware comparison; this uses plain string
    /// order, which agrees on everything but ties within the same millisecond.
    pub fn list_from_wire(reactions: &BTreeMap<String, ReactionSummaryWire>) -> Vec<Self> {
        let mut entries: Vec<_> = reactions.iter().collect();
        entries
            .sort_by(|(ea, a), (eb, b)| a.created_at.cmp(&b.created_at).then_with(|| ea.cmp(eb)));
        entries
            .into_iter()
            .map(|(emoji, r)| ReactionsSummarySnapshot {
                emoji: emoji.clone(),
                count: r.count,
                current_user_reacted: r.current_user_reacted,
            })
            .collect()
    }
}

/// A message, with its sender and the message it replies to.
///
/// Besides the public fields, a snapshot remembers what it needs to apply later diffs the way the
/// official client does: when each reaction emoji was first added (which orders the summary), and
/// the id of the referenced message even when that message could not be hydrated.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", from = "MessageSnapshotRepr")]
pub struct MessageSnapshot {
    /// The message's id.
    pub id: String,
    /// User or system message.
    #[serde(rename = "type")]
    pub kind: MessageType,
    /// The sender's live snapshot. `None` for system messages and for senders that do not exist.
    #[serde(with = "opt_arc")]
    pub sender: Option<Arc<UserSnapshot>>,
    /// Custom data.
    pub custom: Custom,
    /// When it was sent.
    pub created_at: Millis,
    /// When it was last edited.
    pub edited_at: Option<Millis>,
    /// The message this one replies to; `None` when it does not reply, or the replied-to message
    /// was deleted.
    #[serde(with = "opt_arc")]
    pub referenced_message: Option<Arc<ReferencedMessageSnapshot>>,
    /// Where it came from.
    pub origin: Origin,
    /// The content as plain text, computed from `content` (docs/protocol.md §6.6).
    pub plaintext: String,
    /// The content blocks (normally one).
    pub content: Vec<ContentBlock>,
    /// Reaction summary in display order.
    pub reactions: Vec<ReactionsSummarySnapshot>,
    /// Per emoji, when it was first added: the sort key of `reactions`.
    #[serde(skip)]
    reaction_times: BTreeMap<String, Millis>,
    /// The wire's `referencedMessageId`.
    #[serde(skip)]
    referenced_message_id: Option<String>,
}

/// Equality is what a user can observe: the public fields.
impl PartialEq for MessageSnapshot {
    fn eq(&self, o: &Self) -> bool {
        self.id == o.id
            && self.kind == o.kind
            && self.sender == o.sender
            && self.custom == o.custom
            && self.created_at == o.created_at
            && self.edited_at == o.edited_at
            && self.referenced_message == o.referenced_message
            && self.origin == o.origin
            && self.plaintext == o.plaintext
            && self.content == o.content
            && self.reactions == o.reactions
    }
}

/// The deserialised form of a [`MessageSnapshot`], before its private fields are derived.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct MessageSnapshotRepr {
    id: String,
    #[serde(rename = "type")]
    kind: MessageType,
    #[serde(with = "opt_arc")]
    sender: Option<Arc<UserSnapshot>>,
    custom: Custom,
    created_at: Millis,
    edited_at: Option<Millis>,
    #[serde(with = "opt_arc")]
    referenced_message: Option<Arc<ReferencedMessageSnapshot>>,
    origin: Origin,
    plaintext: String,
    content: Vec<ContentBlock>,
    reactions: Vec<ReactionsSummarySnapshot>,
}

impl From<MessageSnapshotRepr> for MessageSnapshot {
    fn from(r: MessageSnapshotRepr) -> Self {
        // The JSON form has no first-added times; numbering the entries keeps their order.
        let reaction_times = r
            .reactions
            .iter()
            .enumerate()
            .map(|(i, e)| (e.emoji.clone(), i as Millis))
            .collect();
        MessageSnapshot {
            referenced_message_id: r.referenced_message.as_ref().map(|m| m.id.clone()),
            id: r.id,
            kind: r.kind,
            sender: r.sender,
            custom: r.custom,
            created_at: r.created_at,
            edited_at: r.edited_at,
            referenced_message: r.referenced_message,
            origin: r.origin,
            plaintext: r.plaintext,
            content: r.content,
            reactions: r.reactions,
            reaction_times,
        }
    }
}

impl MessageSnapshot {
    /// Builds the snapshot from the wire message, its sender's snapshot and the snapshot of the
    /// message it replies to. `plaintext` is computed from the content.
    pub fn from_wire(
        wire: &MessageWire,
        sender: Option<Arc<UserSnapshot>>,
        referenced_message: Option<Arc<ReferencedMessageSnapshot>>,
    ) -> Self {
        MessageSnapshot {
            id: wire.id.clone(),
            kind: wire.kind,
            sender,
            custom: wire.custom.clone(),
            created_at: wire.created_at,
            edited_at: wire.edited_at,
            referenced_message,
            origin: wire.origin,
            plaintext: crate::plaintext::plaintext(&wire.content),
            content: wire.content.clone(),
            reactions: ReactionsSummarySnapshot::list_from_wire(&wire.reactions),
            reaction_times: wire
                .reactions
                .iter()
                .map(|(e, r)| (e.clone(), r.created_at))
                .collect(),
            referenced_message_id: wire.referenced_message_id.clone(),
        }
    }

    /// The id of the message this one replies to, as the wire gave it (even when that message could
    /// not be hydrated into [`MessageSnapshot::referenced_message`]).
    pub fn referenced_message_id(&self) -> Option<&str> {
        self.referenced_message_id.as_deref()
    }

    /// This message as another message's `referenced_message`.
    pub fn to_referenced(&self) -> ReferencedMessageSnapshot {
        ReferencedMessageSnapshot {
            id: self.id.clone(),
            kind: self.kind,
            sender: self.sender.clone(),
            custom: self.custom.clone(),
            created_at: self.created_at,
            edited_at: self.edited_at,
            referenced_message_id: self.referenced_message_id.clone(),
            origin: self.origin,
            plaintext: self.plaintext.clone(),
            content: self.content.clone(),
            reactions: self.reactions.clone(),
        }
    }

    /// Applies a `message.edited` diff.
    ///
    /// - `content` replaces the content, and `plaintext` is recomputed.
    /// - `custom` is a patch; `editedAt` is set or cleared.
    /// - `reactions` patches the summary per emoji: `null` removes an emoji, an object updates
    ///   `count` and `currentUserReacted` or adds a new emoji at the end, `reactions: null`
    ///   empties the summary. An entry whose count is 0 is removed. The list is re-sorted (by
    ///   first-added time, then emoji) only when the diff could change a first-added time: when it
    ///   removes an emoji or carries a `createdAt`.
    ///
    /// The content, custom data and edit time follow the same rules as [`MessageWire::apply`];
    /// the reaction summary cannot (see [`crate::message_diff`] for why).
    ///
    /// One deliberate difference from the official client: it re-appends an emoji whose count a
    /// diff sets to 0 (with count 0), and appends new emoji that come without a count; here both
    /// are left out, so a summary never shows a zero count.
    pub fn apply(&mut self, diff: &MessageDiff) {
        if diff.apply_fields(&mut self.content, &mut self.custom, &mut self.edited_at) {
            self.plaintext = crate::plaintext::plaintext(&self.content);
        }
        apply_reactions(
            &mut self.reactions,
            &mut self.reaction_times,
            &diff.reactions,
        );
    }

    /// Forgets the replied-to message if it is `deleted_id`, as `message.deleted` does to the
    /// messages that reply to the deleted one. Returns whether anything changed.
    pub fn clear_reference_to(&mut self, deleted_id: &str) -> bool {
        if self.referenced_message_id.as_deref() != Some(deleted_id) {
            return false;
        }
        self.referenced_message_id = None;
        self.referenced_message = None;
        true
    }
}

/// The reaction-summary part of [`MessageSnapshot::apply`].
fn apply_reactions(
    list: &mut Vec<ReactionsSummarySnapshot>,
    times: &mut BTreeMap<String, Millis>,
    diff: &Patch<BTreeMap<String, Option<ReactionSummaryDiff>>>,
) {
    let Some(diff) = diff else { return };
    let Some(diff) = diff else {
        list.clear();
        times.clear();
        return;
    };

    // A removal or a `createdAt` can move entries; anything else keeps the current order.
    let times_changed = diff
        .values()
        .any(|d| d.is_none_or(|d| d.created_at.is_some()));
    if times_changed {
        for (emoji, d) in diff {
            match d {
                None => {
                    times.remove(emoji);
                }
                Some(ReactionSummaryDiff {
                    created_at: Some(t),
                    ..
                }) => {
                    times.insert(emoji.clone(), *t);
                }
                Some(_) => {}
            }
        }
    }

    let counts_changed = diff
        .values()
        .any(|d| d.is_none_or(|d| d.count.is_some() || d.current_user_reacted.is_some()));
    if counts_changed {
        for entry in list.iter_mut() {
            match diff.get(&entry.emoji) {
                None => {}
                Some(None) => entry.count = 0,
                Some(Some(d)) => {
                    set(&mut entry.count, d.count);
                    set(&mut entry.current_user_reacted, d.current_user_reacted);
                }
            }
        }
        let known: Vec<String> = list.iter().map(|e| e.emoji.clone()).collect();
        list.retain(|e| e.count > 0);
        for (emoji, d) in diff {
            let Some(d) = d else { continue };
            let count = d.count.unwrap_or(0);
            if count > 0 && !known.contains(emoji) {
                list.push(ReactionsSummarySnapshot {
                    emoji: emoji.clone(),
                    count,
                    current_user_reacted: d.current_user_reacted.unwrap_or(false),
                });
            }
        }
    }

    if times_changed {
        // Stable, and an emoji without a known time goes after those with one.
        list.sort_by(|a, b| {
            let key = |e: &ReactionsSummarySnapshot| {
                (times.get(&e.emoji).is_none(), times.get(&e.emoji).copied())
            };
            key(a).cmp(&key(b)).then_with(|| a.emoji.cmp(&b.emoji))
        });
    }
}

/// The message another message replies to: a [`MessageSnapshot`] without its own
/// `referenced_message` (no recursion), but with the id of the message it replies to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReferencedMessageSnapshot {
    /// The message's id.
    pub id: String,
    /// User or system message. The public types promise `UserMessage`; nothing on the wire
    /// enforces it, so both are representable.
    #[serde(rename = "type")]
    pub kind: MessageType,
    /// The sender's snapshot. The public types promise one; like the official client, this is
    /// `None` when the sender does not exist.
    #[serde(with = "opt_arc")]
    pub sender: Option<Arc<UserSnapshot>>,
    /// Custom data.
    pub custom: Custom,
    /// When it was sent.
    pub created_at: Millis,
    /// When it was last edited.
    pub edited_at: Option<Millis>,
    /// The id of the message *this* one replies to.
    pub referenced_message_id: Option<String>,
    /// Where it came from.
    pub origin: Origin,
    /// The content as plain text.
    pub plaintext: String,
    /// The content blocks.
    pub content: Vec<ContentBlock>,
    /// Reaction summary in display order.
    pub reactions: Vec<ReactionsSummarySnapshot>,
}

impl ReferencedMessageSnapshot {
    /// Builds the snapshot from the wire message and its sender's snapshot.
    pub fn from_wire(wire: &MessageWire, sender: Option<Arc<UserSnapshot>>) -> Self {
        MessageSnapshot::from_wire(wire, sender, None).to_referenced()
    }
}

/// One user's reaction with a given emoji.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SingleReactionSnapshot {
    /// Who reacted.
    #[serde(with = "arc")]
    pub user: Arc<UserSnapshot>,
    /// When.
    pub created_at: Millis,
}

impl SingleReactionSnapshot {
    /// Joins a wire reaction with the reacting user's snapshot.
    pub fn from_wire(wire: &ReactionUserWire, user: Arc<UserSnapshot>) -> Self {
        SingleReactionSnapshot {
            user,
            created_at: wire.created_at,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Participants and typing
// ---------------------------------------------------------------------------------------------

/// A participant of a conversation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ParticipantSnapshot {
    /// The participating user. The official client shows `null` here for a participant whose
    /// user does not exist; a runtime leaves such participants out instead.
    #[serde(with = "arc")]
    pub user: Arc<UserSnapshot>,
    /// Their access.
    pub access: Access,
    /// Their notification setting.
    pub notify: Notify,
    /// When they joined.
    pub joined_at: Millis,
}

impl ParticipantSnapshot {
    /// Joins a wire participant with its user's snapshot.
    pub fn from_wire(wire: &ParticipantWire, user: Arc<UserSnapshot>) -> Self {
        ParticipantSnapshot {
            user,
            access: wire.access,
            notify: wire.notify,
            joined_at: wire.joined_at,
        }
    }

    /// Applies a `participant.edited` diff.
    pub fn apply(&mut self, diff: &ParticipantDiff) {
        set(&mut self.access, diff.access);
        set(&mut self.notify, diff.notify);
    }
}

impl ParticipantWire {
    /// Applies a `participant.edited` diff to the wire object.
    pub fn apply(&mut self, diff: &ParticipantDiff) {
        set(&mut self.access, diff.access);
        set(&mut self.notify, diff.notify);
    }
}

/// Who is typing in a conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TypingSnapshot {
    /// A few users are typing, the one who started first first.
    Few {
        /// The typing users.
        users: Vec<Arc<UserSnapshot>>,
    },
    /// Too many users are typing to list them.
    Many,
}

impl TypingSnapshot {
    /// Builds the snapshot from the wire state, looking each typing user up with `user`. Users
    /// are ordered by when they started typing; users `user` does not know are left out.
    pub fn from_wire(
        wire: &TypingWire,
        mut user: impl FnMut(&str) -> Option<Arc<UserSnapshot>>,
    ) -> Self {
        match wire {
            TypingWire::Many => TypingSnapshot::Many,
            TypingWire::Few(typing) => {
                let mut ids: Vec<(&String, &Millis)> = typing.iter().collect();
                ids.sort_by(|(ia, a), (ib, b)| a.cmp(b).then_with(|| ia.cmp(ib)));
                TypingSnapshot::Few {
                    users: ids.into_iter().filter_map(|(id, _)| user(id)).collect(),
                }
            }
        }
    }

    /// The typing users; empty when there are too many to list.
    pub fn users(&self) -> &[Arc<UserSnapshot>] {
        match self {
            TypingSnapshot::Few { users } => users,
            TypingSnapshot::Many => &[],
        }
    }
}

impl Serialize for TypingSnapshot {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        match self {
            TypingSnapshot::Few { users } => {
                m.serialize_entry("users", &ArcSlice(users))?;
                m.serialize_entry("many", &false)?;
            }
            TypingSnapshot::Many => m.serialize_entry("many", &true)?,
        }
        m.end()
    }
}

impl<'de> Deserialize<'de> for TypingSnapshot {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Repr {
            many: bool,
            #[serde(default, with = "vec_arc")]
            users: Vec<Arc<UserSnapshot>>,
        }
        let r = Repr::deserialize(d)?;
        Ok(if r.many {
            TypingSnapshot::Many
        } else {
            TypingSnapshot::Few { users: r.users }
        })
    }
}

impl TypingWire {
    /// Applies a `typing.changed` diff, as the official client does:
    ///
    /// - `many` absent: per user, a timestamp starts typing and `null` stops it; ignored while
    ///   the state is "many".
    /// - `many: true`: switch to "many".
    /// - `many: false`: switch from "many" to the users in the diff. While the state already
    ///   lists users, the official client ignores such a diff, and so does this.
    ///
    /// A `typing.available` event is not a diff: it replaces the whole state.
    pub fn apply(&mut self, diff: &TypingDiff) {
        match (diff.many, &mut *self) {
            (None, TypingWire::Few(typing)) => {
                for (id, at) in diff.users_typing.iter().flatten() {
                    match at {
                        Some(at) => {
                            typing.insert(id.clone(), *at);
                        }
                        None => {
                            typing.remove(id);
                        }
                    }
                }
            }
            (None, TypingWire::Many) | (Some(false), TypingWire::Few(_)) => {}
            (Some(true), _) => *self = TypingWire::Many,
            (Some(false), TypingWire::Many) => {
                let users = diff.users_typing.iter().flatten();
                *self = TypingWire::Few(
                    users
                        .filter_map(|(id, at)| Some((id.clone(), (*at)?)))
                        .collect(),
                );
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Search
// ---------------------------------------------------------------------------------------------

/// One message search result: the message and the conversation it is in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchMessageSnapshot {
    /// The conversation the message is in.
    #[serde(with = "arc")]
    pub conversation: Arc<ConversationSnapshot>,
    /// The message found.
    #[serde(with = "arc")]
    pub message: Arc<MessageSnapshot>,
}

/// The results of a conversation search so far.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConversationSearchState {
    /// The conversations found so far.
    #[serde(with = "vec_arc")]
    pub results: Vec<Arc<ConversationSnapshot>>,
    /// True when there are no more results to load.
    pub loaded_all: bool,
}

/// The results of a message search so far.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageSearchState {
    /// The messages found so far.
    pub results: Vec<SearchMessageSnapshot>,
    /// True when there are no more results to load.
    pub loaded_all: bool,
}

// ---------------------------------------------------------------------------------------------
// Subscription states
// ---------------------------------------------------------------------------------------------

/// The state of a subscription whose snapshots are `T`.
///
/// One generic type stands for the official client's `PendingState`, its per-subscription
/// active states (`UserActiveState`, `MessageActiveState`, ...), `UnsubscribedState` and
/// `ErrorState`. `T` is what the active state's `latestSnapshot` holds: for example
/// `Option<Arc<UserSnapshot>>` for a user, `Vec<Arc<MessageSnapshot>>` for a conversation list.
///
/// ```
/// # mod talkjs { pub use talkjs_protocol::{filter, params, snapshot}; pub use talkjs_protocol as protocol; }
/// use talkjs::snapshot::SubscriptionState;
/// let s: SubscriptionState<Option<u32>> = SubscriptionState::Active { latest_snapshot: None, loaded_all: true };
/// assert_eq!(serde_json::to_string(&s).unwrap(), r#"{"type":"active","latestSnapshot":null,"loadedAll":true}"#);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(
    tag = "type",
    rename_all = "lowercase",
    rename_all_fields = "camelCase"
)]
pub enum SubscriptionState<T> {
    /// Waiting for the first snapshot.
    Pending,
    /// Running.
    Active {
        /// The newest snapshot.
        latest_snapshot: T,
        /// For lists, whether every item has been loaded; always true for other subscriptions.
        loaded_all: bool,
    },
    /// Ended by the caller.
    Unsubscribed,
    /// Ended by an error.
    Error {
        /// What went wrong.
        error: SubscriptionError,
    },
}

impl<T> SubscriptionState<T> {
    /// The newest snapshot, if the subscription is active.
    pub fn latest_snapshot(&self) -> Option<&T> {
        match self {
            SubscriptionState::Active {
                latest_snapshot, ..
            } => Some(latest_snapshot),
            _ => None,
        }
    }

    /// True for the unsubscribed and error states, which a subscription never leaves.
    pub fn is_terminal(&self) -> bool {
        matches!(
            self,
            SubscriptionState::Unsubscribed | SubscriptionState::Error { .. }
        )
    }

    /// The same state with the snapshot transformed.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> SubscriptionState<U> {
        match self {
            SubscriptionState::Pending => SubscriptionState::Pending,
            SubscriptionState::Active {
                latest_snapshot,
                loaded_all,
            } => SubscriptionState::Active {
                latest_snapshot: f(latest_snapshot),
                loaded_all,
            },
            SubscriptionState::Unsubscribed => SubscriptionState::Unsubscribed,
            SubscriptionState::Error { error } => SubscriptionState::Error { error },
        }
    }
}

/// Why a subscription ended in the error state: a message in the official client's wording,
/// such as `Subscribe to me/conversations/c1/messages failed, got status 400 BAD_REQUEST, reasons: bad`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SubscriptionError {
    /// The message.
    pub message: String,
}

impl SubscriptionError {
    /// An error with this message.
    pub fn new(message: impl Into<String>) -> Self {
        SubscriptionError {
            message: message.into(),
        }
    }
}

impl fmt::Display for SubscriptionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for SubscriptionError {}

// ---------------------------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------------------------

/// Sets `field` when the diff carries a value.
fn set<T: Copy>(field: &mut T, value: Option<T>) {
    if let Some(v) = value {
        *field = v;
    }
}

/// Applies a nullable diff field: absent leaves it, `null` clears it, a value sets it.
fn patch<T: Clone>(field: &mut Option<T>, value: &Patch<T>) {
    if let Some(v) = value {
        field.clone_from(v);
    }
}

/// Serialises a slice of `Arc`s as the values they point to.
struct ArcSlice<'a, T>(&'a [Arc<T>]);

impl<T: Serialize> Serialize for ArcSlice<'_, T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter().map(|a| &**a))
    }
}

// serde's own `Arc` support needs its `rc` feature, which this crate does not enable; these
// `with` modules do the same for the three shapes used here.

/// Serde glue for `Arc<T>` fields.
mod arc {
    use super::*;

    pub fn serialize<T: Serialize, S: Serializer>(v: &Arc<T>, s: S) -> Result<S::Ok, S::Error> {
        (**v).serialize(s)
    }

    pub fn deserialize<'de, T: Deserialize<'de>, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Arc<T>, D::Error> {
        T::deserialize(d).map(Arc::new)
    }
}

/// Serde glue for `Option<Arc<T>>` fields.
mod opt_arc {
    use super::*;

    pub fn serialize<T: Serialize, S: Serializer>(
        v: &Option<Arc<T>>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        v.as_deref().serialize(s)
    }

    pub fn deserialize<'de, T: Deserialize<'de>, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Arc<T>>, D::Error> {
        Ok(Option::<T>::deserialize(d)?.map(Arc::new))
    }
}

/// Serde glue for `Vec<Arc<T>>` fields.
mod vec_arc {
    use super::*;

    pub fn serialize<T: Serialize, S: Serializer>(v: &[Arc<T>], s: S) -> Result<S::Ok, S::Error> {
        ArcSlice(v).serialize(s)
    }

    pub fn deserialize<'de, T: Deserialize<'de>, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Vec<Arc<T>>, D::Error> {
        Ok(Vec::<T>::deserialize(d)?
            .into_iter()
            .map(Arc::new)
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn reactions(v: serde_json::Value) -> BTreeMap<String, ReactionSummaryWire> {
        serde_json::from_value(v).unwrap()
    }

    fn message(reactions_json: serde_json::Value) -> MessageSnapshot {
        let wire: MessageWire = serde_json::from_value(json!({
            "id": "m1", "type": "UserMessage", "senderId": "bob", "custom": {}, "createdAt": 1,
            "editedAt": null, "referencedMessageId": "m0", "origin": "web",
            "content": [{"type": "text", "children": ["hi"]}], "reactions": reactions_json
        }))
        .unwrap();
        MessageSnapshot::from_wire(&wire, None, None)
    }

    fn emojis(m: &MessageSnapshot) -> Vec<(&str, u64)> {
        m.reactions
            .iter()
            .map(|r| (r.emoji.as_str(), r.count))
            .collect()
    }

    fn diff(v: serde_json::Value) -> MessageDiff {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn summary_is_ordered_by_first_added_then_emoji() {
        let list = ReactionsSummarySnapshot::list_from_wire(&reactions(json!({
            "👍": {"count": 2, "currentUserReacted": true, "createdAt": 5},
            ":cat:": {"count": 1, "currentUserReacted": false, "createdAt": 1},
            "🎉": {"count": 1, "currentUserReacted": false, "createdAt": 5},
        })));
        let order: Vec<_> = list.iter().map(|r| r.emoji.as_str()).collect();
        // 🎉 (U+1F389) and 👍 (U+1F44D) were first added at the same time: string order decides.
        assert_eq!(order, [":cat:", "🎉", "👍"]);
    }

    #[test]
    fn reaction_count_zero_or_null_removes_the_emoji() {
        let mut m = message(json!({
            "a": {"count": 1, "currentUserReacted": false, "createdAt": 1},
            "b": {"count": 1, "currentUserReacted": false, "createdAt": 2},
            "c": {"count": 1, "currentUserReacted": false, "createdAt": 3},
        }));
        m.apply(&diff(json!({"reactions": {"a": {"count": 0}, "b": null}})));
        assert_eq!(emojis(&m), [("c", 1)]);
    }

    #[test]
    fn new_emoji_is_appended_without_resort_when_no_time_is_given() {
        let mut m =
            message(json!({"b": {"count": 1, "currentUserReacted": false, "createdAt": 2}}));
        m.apply(&diff(
            json!({"reactions": {"a": {"count": 1, "currentUserReacted": true}}}),
        ));
        assert_eq!(emojis(&m), [("b", 1), ("a", 1)]);
        assert!(m.reactions[1].current_user_reacted);
    }

    #[test]
    fn a_created_at_in_the_diff_resorts_the_summary() {
        let mut m =
            message(json!({"b": {"count": 1, "currentUserReacted": false, "createdAt": 2}}));
        m.apply(&diff(
            json!({"reactions": {"a": {"count": 3, "currentUserReacted": false, "createdAt": 1}}}),
        ));
        assert_eq!(emojis(&m), [("a", 3), ("b", 1)]);
        // Moving b's first-added time later than a's keeps that order; moving it earlier flips it.
        m.apply(&diff(json!({"reactions": {"b": {"createdAt": 0}}})));
        assert_eq!(emojis(&m), [("b", 1), ("a", 3)]);
    }

    #[test]
    fn count_only_diffs_update_in_place() {
        let mut m = message(json!({
            "a": {"count": 1, "currentUserReacted": false, "createdAt": 1},
            "b": {"count": 1, "currentUserReacted": false, "createdAt": 2},
        }));
        m.apply(&diff(
            json!({"reactions": {"a": {"count": 2, "currentUserReacted": true}}}),
        ));
        assert_eq!(emojis(&m), [("a", 2), ("b", 1)]);
        assert!(m.reactions[0].current_user_reacted);
    }

    #[test]
    fn reactions_null_clears_the_summary() {
        let mut m =
            message(json!({"a": {"count": 1, "currentUserReacted": false, "createdAt": 1}}));
        m.apply(&diff(json!({"reactions": null})));
        assert!(m.reactions.is_empty());
    }

    #[test]
    fn content_edit_recomputes_plaintext_and_custom_patches() {
        let mut m = message(json!({}));
        m.apply(&diff(json!({
            "content": [{"type": "text", "children": ["edited"]}],
            "custom": {"k": "v"}, "editedAt": 9
        })));
        assert_eq!(m.plaintext, "edited");
        assert_eq!(m.custom.get("k").map(String::as_str), Some("v"));
        assert_eq!(m.edited_at, Some(9));
        m.apply(&diff(json!({"custom": null, "editedAt": null})));
        assert!(m.custom.is_empty());
        assert_eq!(m.edited_at, None);
    }

    #[test]
    fn deleting_the_referenced_message_clears_the_reference() {
        let mut m = message(json!({}));
        assert_eq!(m.referenced_message_id(), Some("m0"));
        assert!(!m.clear_reference_to("m9"));
        assert!(m.clear_reference_to("m0"));
        assert_eq!(m.referenced_message_id(), None);
        assert_eq!(m.to_referenced().referenced_message_id, None);
    }

    #[test]
    fn typing_rules() {
        let users = |v: serde_json::Value| -> TypingDiff { serde_json::from_value(v).unwrap() };
        let mut t = TypingWire::Few(BTreeMap::new());
        t.apply(&users(json!({"usersTyping": {"bob": 5, "carol": 3}})));
        assert_eq!(
            t,
            TypingWire::Few([("bob".into(), 5), ("carol".into(), 3)].into())
        );
        t.apply(&users(json!({"usersTyping": {"bob": null}})));
        assert_eq!(t, TypingWire::Few([("carol".into(), 3)].into()));
        // `many: false` while users are listed: ignored.
        t.apply(&users(json!({"many": false, "usersTyping": {"dave": 1}})));
        assert_eq!(t, TypingWire::Few([("carol".into(), 3)].into()));
        t.apply(&users(json!({"many": true})));
        assert_eq!(t, TypingWire::Many);
        // Per-user changes are ignored while "many".
        t.apply(&users(json!({"usersTyping": {"bob": 5}})));
        assert_eq!(t, TypingWire::Many);
        t.apply(&users(
            json!({"many": false, "usersTyping": {"bob": 7, "eve": null}}),
        ));
        assert_eq!(t, TypingWire::Few([("bob".into(), 7)].into()));
    }

    #[test]
    fn typing_users_are_ordered_by_start_time() {
        let wire =
            TypingWire::Few([("bob".into(), 5), ("carol".into(), 3), ("ghost".into(), 1)].into());
        let snap = TypingSnapshot::from_wire(&wire, |id| {
            (id != "ghost").then(|| {
                Arc::new(UserSnapshot {
                    id: id.into(),
                    name: id.into(),
                    custom: Custom::new(),
                    locale: None,
                    photo_url: None,
                    role: "default".into(),
                    welcome_message: None,
                })
            })
        });
        let ids: Vec<_> = snap.users().iter().map(|u| u.id.as_str()).collect();
        assert_eq!(ids, ["carol", "bob"]);
        assert_eq!(
            serde_json::to_value(TypingSnapshot::Many).unwrap(),
            json!({"many": true})
        );
        assert_eq!(
            serde_json::to_value(TypingSnapshot::Few { users: vec![] }).unwrap(),
            json!({"users": [], "many": false})
        );
    }
}
