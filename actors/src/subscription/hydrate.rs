//! The one hydrator: turning wire messages into snapshots, with their senders and the messages
//! they reply to (and those messages' senders), for subscriptions and one-off reads alike.
//!
//! Where it fetches from is a [`Fetch`] strategy, because the two uses must send different
//! frames:
//!
//! - a **subscription** ([`Fetch::Watched`]) reads users from the session's cache and watches
//!   them, so later edits reach it, and reads replied-to messages from the cache;
//! - a **one-off read** (`message.get`, search results; [`Fetch::Plain`]) sends what the
//!   official client sends for it: plain batched `GET /users` (lookups made in the same tick
//!   share one) and `GET` of the replied-to message, every time, with no `SUBSCRIBE` and
//!   nothing kept. Going through the cache would answer a repeated read from memory, or
//!   subscribe to the users, and so change the frames the wire parity tests
//!   (`tests/wire_parity*.rs`) pin to the official client's.
//!
//! Either way the senders and the replied-to messages are asked for together, then the
//! replied-to messages' senders not already known: one round per level.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;

use talkjs_protocol::path::Route;
use talkjs_protocol::request::Empty;
use talkjs_protocol::snapshot::{MessageSnapshot, ReferencedMessageSnapshot, UserSnapshot};
use talkjs_protocol::wire::{MessageWire, UserWire};

use super::Env;
use crate::batch::{BatchItem, BatchKey};
use crate::cache::Watcher;
use crate::error::Error;

/// Where the hydrator fetches users and replied-to messages. See the module docs.
#[derive(Debug, Clone)]
pub enum Fetch {
    /// Through the session's cache, the users watched for this watcher's subscription.
    Watched(Watcher),
    /// Plain requests, as the official client makes for a one-off read: nothing cached or
    /// watched.
    Plain,
}

impl Fetch {
    /// Asks for these users now; the future answers those that exist.
    fn users(
        &self,
        env: &Env,
        ids: Vec<String>,
    ) -> impl Future<Output = Result<HashMap<String, Arc<UserSnapshot>>, Error>> + 'static {
        let (cached, plain) = match self {
            Fetch::Watched(w) => (Some(env.cache.users(ids, Some(w.clone()))), None),
            Fetch::Plain => (None, Some(plain_users(env, ids))),
        };
        async move {
            match (cached, plain) {
                (Some(cached), _) => cached.await,
                (_, Some(plain)) => plain.await,
                (None, None) => Ok(HashMap::new()),
            }
        }
    }

    /// Asks for a message now; the future answers it, or `None` if the user cannot see it.
    pub fn message(
        &self,
        env: &Env,
        conversation: &str,
        id: &str,
    ) -> futures_util::future::LocalBoxFuture<'static, Result<Option<MessageWire>, Error>> {
        match self {
            Fetch::Watched(_) => {
                Box::pin(env.cache.message(conversation.to_owned(), id.to_owned()))
            }
            Fetch::Plain => {
                let route = Route::GetMessage {
                    conversation: conversation.to_owned(),
                    message: id.to_owned(),
                };
                let sent = env.session.request_typed::<_, MessageWire>(
                    format!("Get message {id}"),
                    &route,
                    &Empty,
                );
                Box::pin(async move {
                    match sent.await {
                        Ok(m) => Ok(Some(m)),
                        Err(e) if e.is_absent() => Ok(None),
                        Err(e) => Err(e),
                    }
                })
            }
        }
    }
}

/// Each user through the session's user batch (one `GET /users` per tick), asked for now.
fn plain_users(
    env: &Env,
    mut ids: Vec<String>,
) -> impl Future<Output = Result<HashMap<String, Arc<UserSnapshot>>, Error>> + 'static {
    ids.sort();
    ids.dedup();
    let asks: Vec<_> = ids
        .into_iter()
        .map(|id| {
            let op: Arc<str> = format!("Get user {id}").into();
            let part =
                env.session
                    .batched(op.clone(), BatchKey::Users, BatchItem::User(id.clone()));
            async move { (id, op, part.await) }
        })
        .collect();
    async move {
        let mut users = HashMap::new();
        for (id, op, part) in futures_util::future::join_all(asks).await {
            let part = part?;
            if part.is_null() {
                continue;
            }
            let wire: UserWire =
                serde_json::from_value(part).map_err(|e| Error::unreadable(op, e))?;
            users.insert(id, Arc::new(UserSnapshot::from(wire)));
        }
        Ok(users)
    }
}

/// Messages hydrated together, with the users they show.
#[derive(Debug)]
pub struct Hydrated {
    /// The messages, in the order given.
    pub messages: Vec<Arc<MessageSnapshot>>,
    /// The users they show, by id.
    pub users: HashMap<String, Arc<UserSnapshot>>,
}

/// Hydrates `wires` (kept in their order) in `conversation`. `local` holds replied-to messages
/// the caller already shows; the others are fetched (at most once each) along with the users,
/// as `fetch` says.
pub async fn messages(
    env: Env,
    fetch: Fetch,
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
    let users = fetch.users(&env, senders);
    let fetched: Vec<_> = missing
        .iter()
        .map(|id| fetch.message(&env, &conversation, id))
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
        users.extend(fetch.users(&env, more).await?);
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
