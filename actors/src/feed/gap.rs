//! What a feed reads from the server: where a conversation stands (`GET
//! /me/conversations/{c}`), the user's conversations (`GET /me/conversations`, every page), and
//! a conversation's messages since a cursor (`GET /me/conversations/{c}/messages`, newest first,
//! page by page back to the cursor).
//!
//! These go straight to the session, never through the cache's shared reads: a catch-up must be
//! answered after the `SUBSCRIBE` that precedes it on the wire, and a shared read could join a
//! `GET` sent before a reconnect.

use futures_util::future::BoxFuture;
use talkjs_protocol::filter::ConversationFilter;
use talkjs_protocol::path::Route;
use talkjs_protocol::request::{Empty, ListConversationsRequest, ListRequest};
use talkjs_protocol::wire::{ConversationWire, MessageWire, Page};

use super::cursor::Cursor;
use crate::error::Error;
use crate::session::handle::SessionHandle;

/// Messages asked for per page (the server's and the official client's largest page).
pub const MESSAGE_PAGE: usize = 100;
/// Conversations asked for per page (the official client's largest `loadMore`).
pub const CONVERSATION_PAGE: u32 = 30;

/// A conversation as the current user sees it; `None` when they cannot (not a participant, or
/// no such conversation).
pub(crate) fn conversation(
    session: &SessionHandle,
    conversation: &str,
) -> BoxFuture<'static, Result<Option<ConversationWire>, Error>> {
    let sent = session.request_typed::<_, ConversationWire>(
        format!("Get conversation {conversation}"),
        &Route::GetConversation {
            conversation: conversation.to_owned(),
        },
        &Empty,
    );
    Box::pin(async move {
        match sent.await {
            Ok(c) => Ok(Some(c)),
            Err(e) if e.is_absent() => Ok(None),
            Err(e) => Err(e),
        }
    })
}

/// Every conversation of the current user (all pages; the first is asked for now).
pub(crate) fn all_conversations(
    session: &SessionHandle,
) -> BoxFuture<'static, Result<Vec<ConversationWire>, Error>> {
    let operation = "Get conversations";
    let first = session.request_typed::<_, Page<ConversationWire>>(
        operation,
        &Route::ListConversations,
        &ListConversationsRequest::first_page(CONVERSATION_PAGE, &ConversationFilter::default()),
    );
    let session = session.clone();
    Box::pin(async move {
        let mut page = match first.await {
            Ok(p) => p,
            // No such user yet: no conversations.
            Err(e) if e.is_absent() => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        let mut all = std::mem::take(&mut page.data);
        while let Some(cursor) = page.cursor.take() {
            page = session
                .request_typed::<_, Page<ConversationWire>>(
                    operation,
                    &Route::ListConversations,
                    &ListConversationsRequest::next_page(CONVERSATION_PAGE, cursor),
                )
                .await?;
            all.append(&mut page.data);
        }
        Ok(all)
    })
}

/// What a catch-up found in one conversation.
#[derive(Debug)]
pub(crate) struct Gap {
    /// `false`: the user cannot see the conversation any more.
    pub(crate) visible: bool,
    /// The new messages, oldest first.
    pub(crate) messages: Vec<MessageWire>,
    /// More were new than `max_gap`: these are the newest, and older ones were skipped.
    pub(crate) lagged: bool,
}

/// The messages of `conversation` that are new to `cursor`, oldest first: pages from the newest
/// back to the cursor, at most `max_gap` messages (the first page is asked for now).
pub(crate) fn since(
    session: &SessionHandle,
    conversation: &str,
    cursor: Cursor,
    max_gap: usize,
) -> BoxFuture<'static, Result<Gap, Error>> {
    let operation = format!("Get messages of conversation {conversation}");
    let route = Route::ListMessages {
        conversation: conversation.to_owned(),
    };
    let limit = |want: usize| want.clamp(1, MESSAGE_PAGE) as u32;
    let first = session.request_typed::<_, Page<MessageWire>>(
        operation.clone(),
        &route,
        &ListRequest::first_page(limit(max_gap + 1)),
    );
    let session = session.clone();
    Box::pin(async move {
        let mut page = match first.await {
            Ok(p) => p,
            Err(e) if e.is_absent() => {
                return Ok(Gap {
                    visible: false,
                    messages: Vec::new(),
                    lagged: false,
                });
            }
            Err(e) => return Err(e),
        };
        // Newest first while reading.
        let mut found: Vec<MessageWire> = Vec::new();
        loop {
            let mut reached = false;
            for m in page.data.drain(..) {
                if cursor.is_new(&m) {
                    found.push(m);
                } else if m.created_at <= cursor.at() {
                    reached = true;
                    break;
                }
            }
            // One more than `max_gap` tells a gap of exactly `max_gap` from a longer one.
            let lagged = found.len() > max_gap;
            let next = match page.cursor.take() {
                Some(c) if !reached && !lagged => c,
                _ => {
                    found.truncate(max_gap);
                    found.reverse();
                    return Ok(Gap {
                        visible: true,
                        messages: found,
                        lagged,
                    });
                }
            };
            page = session
                .request_typed::<_, Page<MessageWire>>(
                    operation.clone(),
                    &route,
                    &ListRequest::next_page(limit(max_gap + 1 - found.len()), next),
                )
                .await?;
        }
    })
}
