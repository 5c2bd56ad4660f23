//! One-off reads: the users and referenced messages a message read shows (fetched the way the
//! official client reads them: plain batched `GET /users`, no subscription), and the first
//! snapshot of a short-lived subscription.

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
        .map_err(|e| crate::Error::unreadable(op, e))
}

/// The first snapshot of a short-lived subscription: how the official client reads
/// conversations, participants and reactions (`SUBSCRIBE`, `GET`, and `UNSUBSCRIBE` once the
/// path has gone unused for the session's unsubscribe delay, so reads soon after cost nothing
/// more on the wire). The subscription ends when this returns; its error, if any, is reported
/// as the read's.
pub(crate) async fn once<T: Clone + Send + Sync + 'static>(
    op: Arc<str>,
    subscription: talkjs_actors::subscription::Subscription<T>,
) -> Result<T> {
    use talkjs_actors::subscription::Terminated;
    let first = subscription.connected().await;
    subscription.unsubscribe();
    match first {
        Ok(update) => Ok(update.snapshot),
        Err(Terminated::Error(e)) => Err(e.with_operation(op)),
        Err(Terminated::Unsubscribed) => Err(crate::Error::new(
            op,
            ErrorKind::SessionTerminated("the read was cancelled".into()),
        )),
    }
}

/// A message's snapshot. As in the official client, its sender and the message it replies to
/// are fetched together, then the replied-to message's sender: one round per level. A reply
/// whose original is gone shows no referenced message rather than failing.
pub(crate) async fn message(
    session: &TalkSession,
    conversation: &str,
    wire: &MessageWire,
) -> Result<MessageSnapshot> {
    let sender = async {
        match &wire.sender_id {
            Some(id) => user(session, id).await,
            None => Ok(None),
        }
    };
    let referenced = async {
        let Some(id) = &wire.referenced_message_id else {
            return Ok::<_, crate::Error>(None);
        };
        let Some(r) = fetch_message(session, conversation, id).await? else {
            return Ok(None);
        };
        let sender = match &r.sender_id {
            Some(id) => user(session, id).await?,
            None => None,
        };
        let sender = sender.map(|w| Arc::new(UserSnapshot::from(w)));
        Ok(Some(Arc::new(ReferencedMessageSnapshot::from_wire(
            &r, sender,
        ))))
    };
    let (sender, referenced) = futures_util::future::join(sender, referenced).await;
    let sender = sender?.map(|w| Arc::new(UserSnapshot::from(w)));
    Ok(MessageSnapshot::from_wire(wire, sender, referenced?))
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
        Err(e) if e.is_absent() => Ok(None),
        Err(e) => Err(e),
    }
}
