//! [`MessageRef`]: a message, by conversation and id.

use std::sync::Arc;

use talkjs_actors::batch::{BatchItem, BatchKey};
use talkjs_protocol::content::{ContentBlock, SendContentBlock};
use talkjs_protocol::markup;
use talkjs_protocol::params::{EditMessageParams, EditTextMessageParams};
use talkjs_protocol::path::Route;
use talkjs_protocol::plaintext::plaintext;
use talkjs_protocol::request::{EditMessageRequest, Translation};
use talkjs_protocol::snapshot::MessageSnapshot;

use crate::hydrate;
use crate::reactions::ReactionsRef;
use crate::session::{EMPTY, TalkSession, require_id};
use crate::{ErrorKind, Result};

/// How to change a message: new markup text, or a new content block, and/or custom data.
#[derive(Debug, Clone, PartialEq)]
pub enum Edit {
    /// Replace the content with this markup text (parsed with the full parser, which also knows
    /// `<url|label>` links and action links). An empty string empties the message, as the
    /// official client's `edit("")` does. This is what a plain string converts into.
    Markup(String),
    /// New text and/or custom data; an empty or absent `text` keeps the content, as the official
    /// client's `edit({text: ""})` does.
    Text(EditTextMessageParams),
    /// A new content block.
    Content(EditMessageParams),
}

impl From<&str> for Edit {
    fn from(text: &str) -> Edit {
        Edit::Markup(text.to_owned())
    }
}

impl From<String> for Edit {
    fn from(text: String) -> Edit {
        Edit::Markup(text)
    }
}

impl From<EditTextMessageParams> for Edit {
    fn from(p: EditTextMessageParams) -> Edit {
        Edit::Text(p)
    }
}

impl From<EditMessageParams> for Edit {
    fn from(p: EditMessageParams) -> Edit {
        Edit::Content(p)
    }
}

/// A translated message.
#[derive(Debug, Clone, PartialEq)]
pub struct Translated {
    /// The translated content.
    pub content: Vec<ContentBlock>,
    /// Its plaintext.
    pub plaintext: String,
}

/// A reference to a message. Cheap to create and clone.
#[derive(Clone, Debug)]
pub struct MessageRef {
    session: TalkSession,
    conversation_id: String,
    id: String,
}

impl PartialEq for MessageRef {
    fn eq(&self, other: &MessageRef) -> bool {
        self.id == other.id
            && self.conversation_id == other.conversation_id
            && self.session.app_id() == other.session.app_id()
    }
}

/// A message's id, so a [`MessageRef`] goes wherever a message id does, as in
/// `SendTextMessageParams::new("Agreed").reply_to(&message)`.
impl From<&MessageRef> for String {
    fn from(message: &MessageRef) -> String {
        message.id.clone()
    }
}

/// A message's id, so a [`MessageRef`] goes wherever a message id does.
impl From<MessageRef> for String {
    fn from(message: MessageRef) -> String {
        message.id
    }
}

impl Eq for MessageRef {}

impl MessageRef {
    pub(crate) fn new(session: TalkSession, conversation_id: String, id: String) -> MessageRef {
        MessageRef {
            session,
            conversation_id,
            id,
        }
    }

    /// The message's id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The conversation's id.
    pub fn conversation_id(&self) -> &str {
        &self.conversation_id
    }

    /// The reactions with one emoji on this message.
    pub fn reactions(&self, emoji: impl Into<String>) -> ReactionsRef {
        ReactionsRef::new(
            self.session.clone(),
            self.conversation_id.clone(),
            self.id.clone(),
            emoji.into(),
        )
    }

    /// Alias of [`MessageRef::reactions`], as in the official client.
    pub fn reaction(&self, emoji: impl Into<String>) -> ReactionsRef {
        self.reactions(emoji)
    }

    fn check(&self, op: &Arc<str>) -> Result<()> {
        require_id(op, "conversation id", &self.conversation_id)?;
        require_id(op, "message id", &self.id)
    }

    fn route_write(&self) -> (String, String) {
        (self.conversation_id.clone(), self.id.clone())
    }

    /// The message with its sender and the message it replies to; `None` if it does not exist
    /// or the current user cannot see it.
    ///
    /// A live subscription of this session that shows the message (its conversation's message
    /// list) answers without a request, as in the official client.
    pub async fn get(&self) -> Result<Option<MessageSnapshot>> {
        let op: Arc<str> = format!("Get message {}", self.id).into();
        self.check(&op)?;
        // A live message list that shows it answers at once.
        let lookup = talkjs_actors::Lookup::Message {
            conversation: self.conversation_id.clone(),
            message: self.id.clone(),
        };
        if let Some(talkjs_actors::Found::Message(m)) = self.session.find_live(lookup).await {
            return Ok(Some((*m).clone()));
        }
        let Some(wire) =
            hydrate::fetch_message(&self.session, &self.conversation_id, &self.id).await?
        else {
            return Ok(None);
        };
        Ok(Some(
            hydrate::message(&self.session, &self.conversation_id, &wire).await?,
        ))
    }

    /// Changes the message's content and/or custom data. Only its sender may.
    ///
    /// ```no_run
    /// # async fn demo(session: talkjs::TalkSession) -> talkjs::Result<()> {
    /// use talkjs::{ErrorCode, ErrorKind};
    /// let sent = session.conversation("support").send("Helo").await?;
    /// match sent.edit("Hello").await {
    ///     Ok(()) => {}
    ///     Err(e) if e.code() == Some(ErrorCode::NotMessageSender) => { /* not ours */ }
    ///     Err(e) if matches!(e.kind(), ErrorKind::NotFound(_)) => { /* deleted meanwhile */ }
    ///     Err(e) => return Err(e),
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn edit(&self, edit: impl Into<Edit>) -> Result<()> {
        let op: Arc<str> = format!(
            "Edit message {} in conversation {}",
            self.id, self.conversation_id
        )
        .into();
        self.check(&op)?;
        let request = match edit.into() {
            Edit::Markup(text) => EditMessageRequest {
                content: Some(vec![SendContentBlock::Text(markup::parse_edit(&text))]),
                custom: None,
            },
            Edit::Text(p) => EditMessageRequest {
                // An empty `text` keeps the content, as in the official client.
                content: p
                    .text
                    .filter(|t| !t.is_empty())
                    .map(|t| vec![SendContentBlock::Text(markup::parse_edit(&t))]),
                custom: p.custom,
            },
            Edit::Content(p) => EditMessageRequest {
                content: p.content.map(|c| vec![c]),
                custom: p.custom,
            },
        };
        let (conversation, message) = self.route_write();
        self.session
            .call_unit(
                op,
                &Route::EditMessage {
                    conversation,
                    message,
                },
                &request,
            )
            .await
    }

    /// Deletes the message; deleting one that is gone succeeds.
    pub async fn delete(&self) -> Result<()> {
        let op: Arc<str> = format!(
            "Delete message {} in conversation {}",
            self.id, self.conversation_id
        )
        .into();
        self.check(&op)?;
        let (conversation, message) = self.route_write();
        match self
            .session
            .call_unit(
                op,
                &Route::DeleteMessage {
                    conversation,
                    message,
                },
                EMPTY,
            )
            .await
        {
            Err(e) if matches!(e.kind(), ErrorKind::NotFound(_)) => Ok(()),
            other => other,
        }
    }

    /// The message translated into `language` (e.g. `"fr"`); `None` if there is no translation.
    pub async fn translate(&self, language: &str) -> Result<Option<Translated>> {
        let op: Arc<str> = format!(
            "Translate message {} in conversation {}",
            self.id, self.conversation_id
        )
        .into();
        self.check(&op)?;
        if language.trim().is_empty() {
            return Err(crate::Error::invalid(op, "language must not be empty"));
        }
        let key = BatchKey::Translate {
            conversation: self.conversation_id.clone(),
            lang: language.to_owned(),
        };
        let part = self
            .session
            .batched(op.clone(), key, BatchItem::Translate(self.id.clone()))
            .await?;
        let translation: Option<Translation> =
            serde_json::from_value(part).map_err(|e| crate::Error::unreadable(op, e))?;
        Ok(translation.map(|t| {
            let content = match t {
                Translation::Content { content } => content,
                // Translated markup is parsed with the full parser, as the official client does.
                Translation::Markup { markup: text } => {
                    vec![ContentBlock::Text(markup::parse_edit(&text))]
                }
            };
            Translated {
                plaintext: plaintext(&content),
                content,
            }
        }))
    }
}
