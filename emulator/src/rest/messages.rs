//! `/conversations/{c}/messages`: send (user and system messages), list, read, edit, delete.

use serde::Deserialize;
use serde_json::{Value, json};
use talkjs_protocol::content::SendContentBlock;
use talkjs_protocol::markup;
use talkjs_protocol::request::{EditMessageRequest, IdempotencyKey, SendMessageRequest};
use talkjs_protocol::wire::{Access, Custom, CustomPatch};

use super::{Call, Reply, decode, limit, object, page, patch_field, shapes};
use crate::world::{ApiError, ApiResult, World};

/// Most messages one `POST .../messages` may carry (TalkJS's documented limit).
pub const MAX_MESSAGES_PER_POST: usize = 10;

/// One message of a `POST`: TalkJS's `UserMessage` or `SystemMessage`.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", deny_unknown_fields)]
enum NewMessage {
    #[serde(rename_all = "camelCase")]
    UserMessage {
        sender: String,
        text: String,
        #[serde(default)]
        referenced_message_id: Option<String>,
        #[serde(default)]
        custom: Option<Custom>,
        #[serde(default)]
        idempotency_key: Option<String>,
    },
    #[serde(rename_all = "camelCase")]
    SystemMessage {
        text: String,
        #[serde(default)]
        custom: Option<Custom>,
    },
}

/// Everything a send could be refused for, checked for every message before any is sent.
fn check(w: &World, c: &str, m: &NewMessage) -> ApiResult<()> {
    let text = match m {
        NewMessage::UserMessage {
            sender,
            text,
            referenced_message_id,
            ..
        } => {
            w.user_exists(sender)?;
            let (_, me) = w.member(c, sender)?;
            if me.access == Access::Read {
                return Err(ApiError::forbidden(
                    crate::world::READ_ONLY_ACCESS,
                    format!("{sender} has read-only access to {c}"),
                ));
            }
            if let Some(r) = referenced_message_id {
                w.message_in(c, r)?;
            }
            text
        }
        NewMessage::SystemMessage { text, .. } => {
            w.conversation_record(c)?;
            text
        }
    };
    if text.trim().is_empty() {
        return Err(ApiError::bad_request("a message needs some text"));
    }
    Ok(())
}

/// `POST /conversations/{c}/messages`: an array of at most [`MAX_MESSAGES_PER_POST`] messages,
/// validated together (one refusal sends none), then sent in order. A `UserMessage` with an
/// `idempotencyKey` already used by its sender in this conversation is not sent again.
pub fn post(w: &mut World, c: &str, call: &Call) -> Reply {
    let items: Vec<Value> = match &call.body {
        Some(Value::Array(items)) => items.clone(),
        _ => {
            return Err(ApiError::bad_request(
                "the body must be an array of messages",
            ));
        }
    };
    if items.is_empty() || items.len() > MAX_MESSAGES_PER_POST {
        return Err(ApiError::bad_request(format!(
            "send 1 to {MAX_MESSAGES_PER_POST} messages per request, got {}",
            items.len()
        )));
    }
    let messages: Vec<NewMessage> = items
        .into_iter()
        .map(|v| decode("message", v))
        .collect::<ApiResult<_>>()?;
    for m in &messages {
        check(w, c, m)?;
    }
    for m in messages {
        match m {
            NewMessage::UserMessage {
                sender,
                text,
                referenced_message_id,
                custom,
                idempotency_key,
            } => {
                let key = idempotency_key.unwrap_or_else(|| w.new_id("rest"));
                let request = SendMessageRequest {
                    content: vec![SendContentBlock::Text(markup::parse_send(&text))],
                    referenced_message_id,
                    custom,
                    idempotency_key: IdempotencyKey(key),
                };
                w.send_message(c, &sender, request)?;
            }
            NewMessage::SystemMessage { text, custom } => {
                w.post_system_message(c, &text, custom.unwrap_or_default())?;
            }
        }
    }
    Ok(json!({}))
}

/// `GET /conversations/{c}/messages`: newest first; `limit`, and `startingAfter` (the id of the
/// last message of the previous page).
pub fn list(w: &World, c: &str, call: &Call) -> Reply {
    let conv = w.conversation_record(c)?;
    let limit = limit(call)?;
    let before = match call.query.get("startingAfter") {
        None => None,
        Some(id) => {
            let m = w.store().message(c, id).ok_or_else(|| {
                ApiError::bad_request(format!("startingAfter {id} is not a message of {c}"))
            })?;
            Some((m.created_at, m.id.clone()))
        }
    };
    let data = w
        .store()
        .messages(c, before.as_ref(), limit)
        .into_iter()
        .map(|m| shapes::message(conv, m))
        .collect();
    Ok(page(data))
}

/// `GET` (the message), `PUT`/`PATCH` (`{text?, custom?}`: new markup text, custom changes where
/// `null` removes a key) and `DELETE` of one message.
pub fn one(w: &mut World, method: &str, c: &str, m: &str, call: &Call) -> Reply {
    w.conversation_record(c)?;
    w.message_in(c, m)?;
    match method {
        "GET" => {}
        "PUT" | "PATCH" => {
            let body = object(call)?;
            if let Some(k) = body
                .keys()
                .find(|k| !matches!(k.as_str(), "text" | "custom"))
            {
                return Err(ApiError::bad_request(format!(
                    "a message edit has text and custom only, not {k}"
                )));
            }
            let text: Option<String> = match body.get("text") {
                None => None,
                Some(v) => Some(decode("text", v.clone())?),
            };
            if text.as_deref().is_some_and(|t| t.trim().is_empty()) {
                return Err(ApiError::bad_request("a message needs some text"));
            }
            let custom: talkjs_protocol::wire::Patch<CustomPatch> = patch_field(body, "custom")?;
            let edit = EditMessageRequest {
                content: text.map(|t| vec![SendContentBlock::Text(markup::parse_send(&t))]),
                custom,
            };
            w.apply_edit(c, m, edit)?;
            return Ok(json!({}));
        }
        "DELETE" => {
            w.apply_delete(c, m)?;
            return Ok(json!({}));
        }
        _ => {
            return Err(ApiError::new(
                405,
                crate::realtime::METHOD_NOT_ALLOWED,
                format!("{method} is not allowed on a message (GET, PUT, PATCH, DELETE)"),
            ));
        }
    }
    let conv = w.conversation_record(c)?;
    let message = w.message_in(c, m)?;
    Ok(shapes::message(conv, message))
}
