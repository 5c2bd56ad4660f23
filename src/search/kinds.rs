//! What differs between the two searches: where each is sent, what its answer lines are, and
//! how they are hydrated into snapshots.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};

use serde::de::DeserializeOwned;
use talkjs_protocol::path::Route;
use talkjs_protocol::request::{ListRequest, SearchConversationLine, SearchMessageLine};
use talkjs_protocol::snapshot::{
    ConversationSearchState, ConversationSnapshot, MessageSearchState, SearchMessageSnapshot,
};
use talkjs_protocol::wire::{ConversationWire, MessageWire, Page};

use crate::hydrate;
use crate::session::{EMPTY, TalkSession};
use crate::{Error, ErrorKind, Result};

/// One kind of search: where it is sent, what its answer lines are, how they are hydrated.
pub(super) trait Kind: 'static {
    /// The URL segment: `messages` or `conversations`.
    const WHAT: &'static str;
    /// One line of the answer.
    type Line: DeserializeOwned + 'static;
    /// One hydrated result.
    type Item: Clone + Send + Sync + 'static;
    /// The public state.
    type State;

    /// Turns a page's lines into results, leaving out those the user cannot see.
    fn hydrate(
        session: TalkSession,
        lines: Vec<Self::Line>,
        held: Held,
    ) -> impl Future<Output = Result<Vec<Self::Item>>> + 'static;

    /// The public state for these results.
    fn state(results: &[Self::Item], loaded_all: bool) -> Self::State;
}

/// Message search.
pub(super) enum Messages {}

impl Kind for Messages {
    const WHAT: &'static str = "messages";
    type Line = SearchMessageLine;
    type Item = SearchMessageSnapshot;
    type State = MessageSearchState;

    /// Each message with its sender and replied-to message, and each distinct conversation
    /// once, with its last message, through a subscription the search holds (as the official
    /// client reads them through its conversation store: later pages of the same search cost no
    /// request for a conversation already shown); all concurrently (user lookups share
    /// batches). A message whose conversation cannot be read is left out.
    async fn hydrate(
        session: TalkSession,
        lines: Vec<SearchMessageLine>,
        held: Held,
    ) -> Result<Vec<Self::Item>> {
        let lines: Vec<SearchMessageLine> = lines
            .into_iter()
            .filter(|m| match m.conversation_id.as_deref() {
                Some(c) if !c.is_empty() => true,
                _ => {
                    tracing::debug!(message = %m.id, "search result without a conversation; left out");
                    false
                }
            })
            .collect();
        let mut ids: Vec<&str> = lines
            .iter()
            .filter_map(|m| m.conversation_id.as_deref())
            .collect();
        ids.sort_unstable();
        ids.dedup();
        let conversations = futures_util::future::join_all(
            ids.iter()
                .map(|id| held_conversation(&session, &held, (*id).to_owned())),
        );
        let messages = futures_util::future::join_all(lines.iter().map(|m| {
            let conversation = m.conversation_id.as_deref().unwrap_or_default();
            hydrate::message(&session, conversation, m)
        }));
        let (conversations, messages) = futures_util::future::join(conversations, messages).await;
        let mut visible = HashMap::new();
        for (id, found) in ids.iter().zip(conversations) {
            if let Some(c) = found? {
                visible.insert(*id, c);
            }
        }
        let mut out = Vec::with_capacity(lines.len());
        for (line, message) in lines.iter().zip(messages) {
            let message = message?;
            let id = line.conversation_id.as_deref().unwrap_or_default();
            match visible.get(id) {
                Some(conversation) => out.push(SearchMessageSnapshot {
                    conversation: conversation.clone(),
                    message: Arc::new(message),
                }),
                None => {
                    tracing::debug!(message = %line.id, conversation = id, "search result in a conversation the user cannot read; left out");
                }
            }
        }
        Ok(out)
    }

    fn state(results: &[SearchMessageSnapshot], loaded_all: bool) -> MessageSearchState {
        MessageSearchState {
            results: results.to_vec(),
            loaded_all,
        }
    }
}

/// Conversation search.
pub(super) enum Conversations {}

impl Kind for Conversations {
    const WHAT: &'static str = "conversations";
    type Line = SearchConversationLine;
    type Item = Arc<ConversationSnapshot>;
    type State = ConversationSearchState;

    /// Each conversation read with its last message, concurrently, with plain GETs as the
    /// official client reads them (no subscription); one that cannot be read is left out.
    async fn hydrate(
        session: TalkSession,
        lines: Vec<SearchConversationLine>,
        _held: Held,
    ) -> Result<Vec<Arc<ConversationSnapshot>>> {
        let found = futures_util::future::join_all(
            lines
                .into_iter()
                .filter(|l| !l.id.is_empty())
                .map(|l| read_conversation(&session, l.id)),
        )
        .await;
        let mut out = Vec::with_capacity(found.len());
        for c in found {
            out.extend(c?);
        }
        Ok(out)
    }

    fn state(results: &[Arc<ConversationSnapshot>], loaded_all: bool) -> ConversationSearchState {
        ConversationSearchState {
            results: results.to_vec(),
            loaded_all,
        }
    }
}

/// The conversations a message search holds subscriptions to, by id: those its results are in.
/// Dropped (and so unsubscribed) when a new query starts or the search handle goes away.
pub(super) type Held = Arc<Mutex<HashMap<String, crate::ConversationSubscription>>>;

/// A conversation with its last message, from the search's subscription to it (made on first
/// use); `None` when it does not exist or the user is not a participant.
async fn held_conversation(
    session: &TalkSession,
    held: &Held,
    id: String,
) -> Result<Option<Arc<ConversationSnapshot>>> {
    let subscription = {
        let mut held = held.lock().unwrap_or_else(PoisonError::into_inner);
        match held.get(&id) {
            Some(s) if !s.is_terminated() => s.clone(),
            _ => {
                let s = session.conversation(id.clone()).subscribe();
                held.insert(id.clone(), s.clone());
                s
            }
        }
    };
    let first = subscription.connected().await;
    let snapshot = match first {
        Ok(update) => update.snapshot,
        Err(talkjs_actors::subscription::Terminated::Error(e)) if e.is_absent() => None,
        Err(talkjs_actors::subscription::Terminated::Error(e)) => {
            return Err(e.with_operation(format!("Get conversation {id}")));
        }
        Err(talkjs_actors::subscription::Terminated::Unsubscribed) => {
            return Err(Error::new(
                format!("Get conversation {id}"),
                ErrorKind::SessionTerminated("the subscription ended".into()),
            ));
        }
    };
    if snapshot.is_none() {
        // Nothing to show: no reason to keep it.
        held.lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&id);
    }
    Ok(snapshot)
}

/// A conversation with its last message, read with `GET /me/conversations/{id}/messages`
/// (limit 1) and `GET /me/conversations/{id}` sent together, in that order, as the official
/// conversation search does; `None` when it does not exist or the user is not a participant.
async fn read_conversation(
    session: &TalkSession,
    id: String,
) -> Result<Option<Arc<ConversationSnapshot>>> {
    let op: Arc<str> = format!("Get conversation {id}").into();
    let messages = Route::ListMessages {
        conversation: id.clone(),
    };
    let conversation = Route::GetConversation {
        conversation: id.clone(),
    };
    let (page, wire) = futures_util::future::join(
        session.call_typed::<_, Page<MessageWire>>(
            op.clone(),
            &messages,
            &ListRequest::first_page(1),
        ),
        session.call_typed::<_, ConversationWire>(op, &conversation, EMPTY),
    )
    .await;
    let Some(wire) = hydrate::none_if_absent(wire)? else {
        return Ok(None);
    };
    let Some(page) = hydrate::none_if_absent(page)? else {
        return Ok(None);
    };
    let last = match page.data.into_iter().next() {
        Some(m) => Some(Arc::new(hydrate::message(session, &id, &m).await?)),
        None => None,
    };
    Ok(Some(Arc::new(ConversationSnapshot::from_wire(&wire, last))))
}
