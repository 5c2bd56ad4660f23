//! Turning wire objects into snapshots: fetching the users and referenced messages a snapshot
//! shows. (Live subscriptions will serve these from the session's cache instead.)

use std::collections::HashMap;
use std::sync::Arc;

use talkjs_actors::batch::{BatchItem, BatchKey};
use talkjs_protocol::path::Route;
use talkjs_protocol::snapshot::{MessageSnapshot, ReferencedMessageSnapshot, UserSnapshot};
use talkjs_protocol::wire::{MessageWire, UserWire};

use crate::session::{EMPTY, TalkSession};
use crate::{ErrorKind, Result};

/// One user, fetched through the session's user batch (lookups made in the same tick share one
/// `GET /users`); `None` if the user does not exist.
pub(crate) async fn user(session: &TalkSession, id: &str) -> Result<Option<UserWire>> {
    let op: Arc<str> = format!("Get user {id}").into();
    let part = session
        .batched(op.clone(), BatchKey::Users, BatchItem::User(id.to_owned()))
        .await?;
    if part.is_null() {
        return Ok(None);
    }
    serde_json::from_value(part)
        .map(Some)
        .map_err(|e| unreadable(op, e))
}

/// The error for an answer that does not decode.
pub(crate) fn unreadable(op: Arc<str>, e: serde_json::Error) -> crate::Error {
    crate::Error::new(
        op,
        ErrorKind::Server {
            status: 200,
            body: talkjs_protocol::ErrorBody::new("UNREADABLE_RESPONSE", e.to_string()),
        },
    )
}

/// The snapshots of these users (one batched request); missing users are left out.
pub(crate) async fn users(
    session: &TalkSession,
    ids: &[&str],
) -> Result<HashMap<String, Arc<UserSnapshot>>> {
    let found = futures_util::future::join_all(ids.iter().map(|id| user(session, id))).await;
    let mut out = HashMap::new();
    for (id, found) in ids.iter().zip(found) {
        if let Some(w) = found? {
            out.insert((*id).to_owned(), Arc::new(UserSnapshot::from(w)));
        }
    }
    Ok(out)
}

/// A message's snapshot: its sender and the message it replies to fetched alongside. A reply
/// whose original is gone shows no referenced message rather than failing.
pub(crate) async fn message(
    session: &TalkSession,
    conversation: &str,
    wire: &MessageWire,
) -> Result<MessageSnapshot> {
    let referenced = match &wire.referenced_message_id {
        Some(id) => fetch_message(session, conversation, id).await?,
        None => None,
    };
    let mut ids: Vec<&str> = wire.sender_id.iter().map(String::as_str).collect();
    if let Some(r) = &referenced
        && let Some(s) = &r.sender_id
    {
        ids.push(s);
    }
    let users = users(session, &ids).await?;
    let user = |id: &Option<String>| id.as_ref().and_then(|id| users.get(id).cloned());
    let referenced =
        referenced.map(|r| Arc::new(ReferencedMessageSnapshot::from_wire(&r, user(&r.sender_id))));
    Ok(MessageSnapshot::from_wire(
        wire,
        user(&wire.sender_id),
        referenced,
    ))
}

/// `GET /me/conversations/{c}/messages/{m}`, with "not found" and "not a participant" as `None`.
pub(crate) async fn fetch_message(
    session: &TalkSession,
    conversation: &str,
    id: &str,
) -> Result<Option<MessageWire>> {
    let op: Arc<str> = format!("Get message {id}").into();
    let route = Route::GetMessage {
        conversation: conversation.to_owned(),
        message: id.to_owned(),
    };
    none_if_absent(session.call_typed(op, &route, EMPTY).await)
}

/// Maps the answers that mean "you cannot see it" (404, `NOT_A_PARTICIPANT`) to `None`, as the
/// official client does for reads.
pub(crate) fn none_if_absent<T>(result: Result<T>) -> Result<Option<T>> {
    match result {
        Ok(v) => Ok(Some(v)),
        Err(e) if is_absent(&e) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Whether an error means "not found or not visible to you".
pub(crate) fn is_absent(e: &crate::Error) -> bool {
    match e.kind() {
        ErrorKind::NotFound(_) => true,
        ErrorKind::Forbidden(b) => b.error_code == talkjs_protocol::error::codes::NOT_A_PARTICIPANT,
        _ => false,
    }
}
