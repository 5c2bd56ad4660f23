//! One-off reads: a message with the users and referenced message it shows (through the one
//! hydrator, with the plain requests the official client makes for a read), and the first
//! snapshot of a short-lived subscription.

use std::collections::HashMap;
use std::sync::Arc;

use talkjs_actors::subscription::hydrate;
use talkjs_protocol::snapshot::MessageSnapshot;
use talkjs_protocol::wire::MessageWire;

use crate::session::TalkSession;
use crate::{ErrorKind, Result};

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

/// A message's snapshot, from the one hydrator with plain requests, as the official client reads
/// a message (see `talkjs_actors::subscription::hydrate`): its sender and the message it replies
/// to are fetched together, then the replied-to message's sender. A reply whose original is
/// gone shows no referenced message rather than failing.
pub(crate) async fn message(
    session: &TalkSession,
    conversation: &str,
    wire: &MessageWire,
) -> Result<MessageSnapshot> {
    let hydrated = hydrate::messages(
        session.env().clone(),
        hydrate::Fetch::Plain,
        conversation.to_owned(),
        vec![wire.clone()],
        HashMap::new(),
    )
    .await?;
    match hydrated.messages.into_iter().next() {
        Some(m) => Ok(Arc::unwrap_or_clone(m)),
        // One wire in, one snapshot out: not reached, but no reason to panic.
        None => Ok(MessageSnapshot::from_wire(wire, None, None)),
    }
}

/// `GET /me/conversations/{c}/messages/{m}` (the hydrator's plain fetch), with "not found" and
/// "not a participant" as `None`.
pub(crate) async fn fetch_message(
    session: &TalkSession,
    conversation: &str,
    id: &str,
) -> Result<Option<MessageWire>> {
    hydrate::Fetch::Plain
        .message(session.env(), conversation, id)
        .await
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
