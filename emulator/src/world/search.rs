//! Search over the current user's conversations: messages by their plaintext, conversations by
//! subject and participant names. Case-insensitive substring matching, newest first.
//!
//! Later pages are requested with only a cursor, so the cursor carries the query and filter.

use talkjs_protocol::filter::ConversationFilter;
use talkjs_protocol::plaintext::plaintext;
use talkjs_protocol::request::{SearchConversationLine, SearchPage};
use talkjs_protocol::wire::{MessageWire, Millis};

use super::conversations::page_size;
use super::cursor;
use super::view::message_wire;
use super::{ApiResult, World};

/// Results per page when the request gives no limit (what the official client asks for first).
pub const DEFAULT_SEARCH_PAGE: usize = 3;

/// A search request: the first page gives query and filter, later pages only a cursor.
#[derive(Debug, Clone, Default)]
pub struct SearchQuery {
    /// The text to find.
    pub query: String,
    /// Only conversations matching this.
    pub filter: Option<ConversationFilter>,
    /// Where to continue (from an earlier page).
    pub cursor: Option<String>,
    /// Page size.
    pub limit: Option<usize>,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct SearchCursor {
    query: String,
    filter: Option<ConversationFilter>,
    after: (Millis, String),
}

/// A search request with its cursor unpacked.
struct Resolved {
    query: String,
    filter: Option<ConversationFilter>,
    after: Option<(Millis, String)>,
    limit: usize,
}

impl World {
    /// The query, filter and position a request means: its own for a first page, the cursor's
    /// for a later one.
    fn resolve(&self, q: SearchQuery) -> ApiResult<Resolved> {
        let limit = page_size(q.limit, DEFAULT_SEARCH_PAGE);
        Ok(match q.cursor {
            Some(c) => {
                let c: SearchCursor = cursor::decode(&c)?;
                Resolved {
                    query: c.query,
                    filter: c.filter,
                    after: Some(c.after),
                    limit,
                }
            }
            None => Resolved {
                query: q.query,
                filter: q.filter,
                after: None,
                limit,
            },
        })
    }

    /// The conversations of `user` that pass the filter.
    fn searchable_conversations(
        &self,
        user: &str,
        filter: Option<&ConversationFilter>,
    ) -> Vec<String> {
        self.store
            .conversations_of(user)
            .into_iter()
            .filter(|c| {
                let Some(conv) = self.store.conversation(c) else {
                    return false;
                };
                let Some(view) = self.conversation_wire(conv, user) else {
                    return false;
                };
                filter.is_none_or(|f| f.matches(&view))
            })
            .collect()
    }

    /// `GET /me/messages/search`.
    pub fn search_messages(
        &self,
        user: &str,
        q: SearchQuery,
    ) -> ApiResult<SearchPage<MessageWire>> {
        let Resolved {
            query,
            filter,
            after,
            limit,
        } = self.resolve(q)?;
        let needle = query.to_lowercase();
        let mut hits: Vec<MessageWire> = Vec::new();
        if !needle.is_empty() {
            for c in self.searchable_conversations(user, filter.as_ref()) {
                for m in self.store.messages(&c, None, usize::MAX) {
                    if plaintext(&m.content).to_lowercase().contains(&needle) {
                        let mut w = message_wire(m, user);
                        w.conversation_id = Some(c.clone());
                        hits.push(w);
                    }
                }
            }
        }
        hits.sort_by(|a, b| {
            b.created_at
                .cmp(&a.created_at)
                .then_with(|| a.id.cmp(&b.id))
        });
        let start = after.map_or(0, |(t, id)| {
            hits.iter()
                .position(|m| m.created_at < t || (m.created_at == t && m.id > id))
                .unwrap_or(hits.len())
        });
        let more = hits.len() > start + limit;
        let results: Vec<MessageWire> = hits.into_iter().skip(start).take(limit).collect();
        let cursor = match (more, results.last()) {
            (true, Some(last)) => Some(cursor::encode(&SearchCursor {
                query,
                filter,
                after: (last.created_at, last.id.clone()),
            })),
            _ => None,
        };
        Ok(SearchPage { results, cursor })
    }

    /// `GET /me/conversations/search`: by subject or by a participant's name.
    pub fn search_conversations(
        &self,
        user: &str,
        q: SearchQuery,
    ) -> ApiResult<SearchPage<SearchConversationLine>> {
        let Resolved {
            query,
            filter,
            after,
            limit,
        } = self.resolve(q)?;
        let needle = query.to_lowercase();
        let mut hits: Vec<(Millis, String)> = Vec::new();
        if !needle.is_empty() {
            for c in self.searchable_conversations(user, filter.as_ref()) {
                let Some(conv) = self.store.conversation(&c) else {
                    continue;
                };
                let subject = conv
                    .subject
                    .as_deref()
                    .is_some_and(|s| s.to_lowercase().contains(&needle));
                let names = conv.participants.keys().any(|u| {
                    u != user
                        && self
                            .store
                            .user(u)
                            .is_some_and(|u| u.name.to_lowercase().contains(&needle))
                });
                if (subject || names)
                    && let Some(view) = self.conversation_wire(conv, user)
                {
                    hits.push((view.last_message_at, c));
                }
            }
        }
        hits.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
        let start = after.map_or(0, |(t, id)| {
            hits.iter()
                .position(|(at, c)| *at < t || (*at == t && *c > id))
                .unwrap_or(hits.len())
        });
        let more = hits.len() > start + limit;
        let page: Vec<(Millis, String)> = hits.into_iter().skip(start).take(limit).collect();
        let cursor = match (more, page.last()) {
            (true, Some(last)) => Some(cursor::encode(&SearchCursor {
                query,
                filter,
                after: last.clone(),
            })),
            _ => None,
        };
        Ok(SearchPage {
            results: page
                .into_iter()
                .map(|(_, id)| SearchConversationLine { id })
                .collect(),
            cursor,
        })
    }
}
