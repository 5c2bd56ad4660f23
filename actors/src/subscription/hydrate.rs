//! Turning wire messages into snapshots: their senders from the user cache (watched, so later
//! edits reach the subscription), and the messages they reply to from the window or the
//! message cache.

use std::collections::HashMap;
use std::sync::Arc;

use talkjs_protocol::snapshot::{MessageSnapshot, ReferencedMessageSnapshot, UserSnapshot};
use talkjs_protocol::wire::MessageWire;

use super::Env;
use crate::cache::Watcher;
use crate::error::Error;

/// Messages hydrated together, with the users they show.
pub(crate) struct Hydrated {
    pub(crate) messages: Vec<Arc<MessageSnapshot>>,
    pub(crate) users: HashMap<String, Arc<UserSnapshot>>,
}

/// Hydrates `wires` (kept in their order). `local` holds replied-to messages the caller already
/// shows; the others are fetched (at most once each, through the cache) along with the users.
pub(crate) async fn messages(
    env: Env,
    watcher: Watcher,
    conversation: String,
    wires: Vec<MessageWire>,
    local: HashMap<String, Arc<ReferencedMessageSnapshot>>,
) -> Result<Hydrated, Error> {
    let in_batch: HashMap<&str, &MessageWire> = wires.iter().map(|w| (w.id.as_str(), w)).collect();
    let mut missing: Vec<String> = wires
        .iter()
        .filter_map(|w| w.referenced_message_id.clone())
        .filter(|id| !in_batch.contains_key(id.as_str()) && !local.contains_key(id))
        .collect();
    missing.sort();
    missing.dedup();
    let senders: Vec<String> = wires.iter().filter_map(|w| w.sender_id.clone()).collect();
    // Senders and replied-to messages are asked for together.
    let users = env.cache.users(senders, Some(watcher.clone()));
    let fetched: Vec<_> = missing
        .iter()
        .map(|id| env.cache.message(conversation.clone(), id.clone()))
        .collect();
    let (users, fetched) =
        futures_util::future::join(users, futures_util::future::join_all(fetched)).await;
    let mut users = users?;
    let mut referenced: HashMap<String, MessageWire> = HashMap::new();
    for (id, found) in missing.into_iter().zip(fetched) {
        if let Some(m) = found? {
            referenced.insert(id, m);
        }
    }
    let more: Vec<String> = referenced
        .values()
        .filter_map(|m| m.sender_id.clone())
        .filter(|s| !users.contains_key(s))
        .collect();
    if !more.is_empty() {
        users.extend(env.cache.users(more, Some(watcher)).await?);
    }
    let user = |id: &Option<String>| id.as_ref().and_then(|id| users.get(id).cloned());
    let messages = wires
        .iter()
        .map(|w| {
            let reference = w.referenced_message_id.as_ref().and_then(|id| {
                if let Some(r) = local.get(id) {
                    return Some(r.clone());
                }
                let wire = in_batch.get(id.as_str()).copied().or(referenced.get(id))?;
                Some(Arc::new(ReferencedMessageSnapshot::from_wire(
                    wire,
                    user(&wire.sender_id),
                )))
            });
            Arc::new(MessageSnapshot::from_wire(w, user(&w.sender_id), reference))
        })
        .collect();
    Ok(Hydrated { messages, users })
}

/// The message with its sender (and its reply's sender) replaced by `user` where they are that
/// user; `None` if it does not show them.
pub(crate) fn with_user(m: &MessageSnapshot, user: &Arc<UserSnapshot>) -> Option<MessageSnapshot> {
    let sender = m.sender.as_ref().is_some_and(|s| s.id == user.id);
    let reference = m
        .referenced_message
        .as_ref()
        .is_some_and(|r| r.sender.as_ref().is_some_and(|s| s.id == user.id));
    if !sender && !reference {
        return None;
    }
    let mut next = m.clone();
    if sender {
        next.sender = Some(user.clone());
    }
    if reference && let Some(r) = &m.referenced_message {
        let mut r = (**r).clone();
        r.sender = Some(user.clone());
        next.referenced_message = Some(Arc::new(r));
    }
    Some(next)
}

/// One item (`None` when absent: an error `absent` accepts) and the user it shows, fetched
/// together; the user is watched for `scope`'s subscription. The user is asked for first, so
/// their `SUBSCRIBE` goes with the item's, ahead of both `GET`s, as in the official client.
pub(crate) fn item_with_user<T: serde::de::DeserializeOwned + 'static>(
    scope: &super::Scope<'_>,
    operation: String,
    route: &talkjs_protocol::path::Route,
    user: &str,
    absent: impl Fn(&Error) -> bool + 'static,
) -> futures_util::future::LocalBoxFuture<'static, Result<ItemWithUser<T>, Error>> {
    let id = user.to_owned();
    let found = scope
        .env
        .cache
        .users([id.clone()], Some(scope.watcher.clone()));
    let item = scope
        .env
        .call::<_, T>(operation, route, &talkjs_protocol::request::Empty);
    Box::pin(async move {
        let (item, found) = futures_util::future::join(item, found).await;
        let item = match item {
            Ok(v) => Some(v),
            Err(e) if absent(&e) => None,
            Err(e) => return Err(e),
        };
        Ok((item, found?.remove(&id)))
    })
}

/// An item, if visible, and its user, if they exist.
pub(crate) type ItemWithUser<T> = (Option<T>, Option<Arc<UserSnapshot>>);
