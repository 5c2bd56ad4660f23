//! Request batching, as the official client does it (docs/protocol.md §3.10): user GETs,
//! participant writes and translations issued in the same tick go out as one frame.
//!
//! This module is the pure part: what can be batched together ([`BatchKey`]), how items combine
//! into one request, and how the combined answer splits back into one result per item. The
//! session actor owns the timing (flush at the end of the tick, when a batch is full, and before
//! any request that cannot be batched, so order is kept).

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::Value;
use talkjs_protocol::frame::Method;
use talkjs_protocol::path::{Route, Topic};
use talkjs_protocol::request::{
    ActionResult, GetUsersRequest, ParticipantAction, ParticipantActionsRequest,
    SubscribeUsersRequest, TranslateRequest,
};
use tokio::sync::oneshot;

use crate::error::Error;

/// Most user ids in one `GET /users` (official client: 1000).
pub const MAX_USERS: usize = 1000;
/// Most actions in one participants batch (official client: 100).
pub const MAX_PARTICIPANT_ACTIONS: usize = 100;
/// Most message ids in one translation (official client: 100).
pub const MAX_TRANSLATIONS: usize = 100;

/// What items can share a frame.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum BatchKey {
    /// `GET /users`.
    Users,
    /// `GET /users` of users just subscribed (the cache's reads), one frame per
    /// `SUBSCRIBE /users` frame: the session numbers them (the cache passes 0). Requests sent
    /// meanwhile go before it, as the official client reads subscribed users one step after
    /// subscribing them: `SUBSCRIBE /users`, then the tick's other requests, then this.
    SubscribedUsers(u64),
    /// `SUBSCRIBE /users`: several users' live updates in one frame.
    SubscribeUsers,
    /// `POST /conversations/{c}/participants`, one conversation per batch.
    Participants(String),
    /// `GET /me/conversations/{c}/translate`, one conversation and language per batch.
    Translate {
        /// Conversation.
        conversation: String,
        /// Language.
        lang: String,
    },
}

/// One item of a batch.
#[derive(Debug, Clone, PartialEq)]
pub enum BatchItem {
    /// A user id to fetch.
    User(String),
    /// A participant action.
    Participant(ParticipantAction),
    /// A message id to translate.
    Translate(String),
}

/// An item waiting for its batch.
pub(crate) struct Waiting {
    /// The operation, for errors.
    pub(crate) operation: Arc<str>,
    /// The item.
    pub(crate) item: BatchItem,
    /// Where its answer goes.
    pub(crate) reply: oneshot::Sender<Result<Value, Error>>,
    /// 500s this item was answered with on its own so far (a participant action goes through
    /// the status policy by itself, §3.10), for the retry limit.
    pub(crate) tries_500: u32,
    /// Times this item was sent again after a 429 or 500 of its own, for the delay.
    pub(crate) retries: u32,
}

/// Items waiting for their batch to go out.
#[derive(Default)]
pub(crate) struct Pending {
    pub(crate) items: Vec<Waiting>,
}

impl BatchKey {
    /// Whether a request with this method, sent while this batch is pending, goes first; other
    /// batches are sent before the request, keeping call order. As in the official client's
    /// order: subscribed users' reads wait for the tick's other requests
    /// ([`BatchKey::SubscribedUsers`]), and plain user reads let `SUBSCRIBE`s go first.
    pub fn yields_to(&self, method: Method) -> bool {
        match self {
            BatchKey::SubscribedUsers(_) => true,
            BatchKey::Users => method == Method::Subscribe,
            _ => false,
        }
    }

    /// How many items fill a batch.
    pub fn capacity(&self) -> usize {
        match self {
            BatchKey::Users | BatchKey::SubscribedUsers(_) | BatchKey::SubscribeUsers => MAX_USERS,
            BatchKey::Participants(_) => MAX_PARTICIPANT_ACTIONS,
            BatchKey::Translate { .. } => MAX_TRANSLATIONS,
        }
    }

    /// The combined request: its route and data.
    pub fn request(&self, items: &[BatchItem]) -> (Route, Value) {
        let ids = || {
            dedup(items.iter().filter_map(|i| match i {
                BatchItem::User(id) | BatchItem::Translate(id) => Some(id.clone()),
                BatchItem::Participant(_) => None,
            }))
        };
        let data = match self {
            BatchKey::Users | BatchKey::SubscribedUsers(_) => {
                serde_json::to_value(GetUsersRequest::new(ids()))
            }
            BatchKey::SubscribeUsers => serde_json::to_value(SubscribeUsersRequest::new(ids())),
            BatchKey::Participants(_) => serde_json::to_value(ParticipantActionsRequest {
                actions: items
                    .iter()
                    .filter_map(|i| match i {
                        BatchItem::Participant(a) => Some(a.clone()),
                        _ => None,
                    })
                    .collect(),
            }),
            BatchKey::Translate { lang, .. } => serde_json::to_value(TranslateRequest {
                ids: ids(),
                lang: lang.clone(),
            }),
        }
        .unwrap_or(Value::Null);
        let route = match self {
            BatchKey::Users | BatchKey::SubscribedUsers(_) => Route::GetUsers,
            BatchKey::SubscribeUsers => Route::Subscribe(Topic::Users),
            BatchKey::Participants(c) => Route::ParticipantActions {
                conversation: c.clone(),
            },
            BatchKey::Translate { conversation, .. } => Route::Translate {
                conversation: conversation.clone(),
            },
        };
        (route, data)
    }

    /// The status of an item's own part of the answer, where the server answers each item with
    /// a status of its own (participant actions): such an item goes through the status policy
    /// by itself, so a 429 or 500 retries that action alone.
    pub fn item_status(&self, part: &Value) -> Option<u16> {
        match self {
            BatchKey::Participants(_) => {
                part["status"].as_u64().and_then(|s| u16::try_from(s).ok())
            }
            _ => None,
        }
    }

    /// Each item's part of the combined answer, in item order.
    pub fn split(&self, items: &[BatchItem], answer: &Value) -> Vec<Value> {
        match self {
            BatchKey::Users | BatchKey::SubscribedUsers(_) => items
                .iter()
                .map(|i| match i {
                    BatchItem::User(id) => answer.get(id).cloned().unwrap_or(Value::Null),
                    _ => Value::Null,
                })
                .collect(),
            // A subscription's answer is `{}` for all; each item gets it.
            BatchKey::SubscribeUsers => vec![answer.clone(); items.len()],
            BatchKey::Translate { .. } => items
                .iter()
                .map(|i| match i {
                    BatchItem::Translate(id) => {
                        answer["data"].get(id).cloned().unwrap_or(Value::Null)
                    }
                    _ => Value::Null,
                })
                .collect(),
            BatchKey::Participants(_) => {
                let responses = answer["responses"].as_array().cloned().unwrap_or_default();
                (0..items.len())
                    .map(|n| {
                        responses.get(n).cloned().unwrap_or_else(|| {
                            // A server that answers fewer actions than it was sent: a clear error
                            // for the missing ones rather than a hang.
                            serde_json::to_value(ActionResult::error(
                                500,
                                talkjs_protocol::ErrorBody::new(
                                    "MISSING_RESPONSE",
                                    "the server did not answer this action",
                                ),
                            ))
                            .unwrap_or(Value::Null)
                        })
                    })
                    .collect()
            }
        }
    }
}

/// Removes duplicates, keeping first occurrences in order.
fn dedup(ids: impl Iterator<Item = String>) -> Vec<String> {
    let mut seen = BTreeMap::new();
    ids.filter(|id| seen.insert(id.clone(), ()).is_none())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn user_gets_combine_without_duplicates_and_split_back_with_nulls_for_missing() {
        let items = [
            BatchItem::User("a".into()),
            BatchItem::User("b".into()),
            BatchItem::User("a".into()),
        ];
        let (route, data) = BatchKey::Users.request(&items);
        assert_eq!(route, Route::GetUsers);
        assert_eq!(
            data,
            json!({"ids": ["a", "b"], "includePrivateFields": false})
        );
        let answer = json!({"a": {"id": "a"}});
        assert_eq!(
            BatchKey::Users.split(&items, &answer),
            vec![json!({"id": "a"}), Value::Null, json!({"id": "a"})]
        );
    }

    #[test]
    fn participant_actions_answer_in_order_and_missing_answers_are_errors() {
        let action = |id: &str| {
            BatchItem::Participant(ParticipantAction {
                id: id.into(),
                method: talkjs_protocol::request::ParticipantMethod::Put,
                params: Default::default(),
            })
        };
        let items = [action("a"), action("b")];
        let key = BatchKey::Participants("c".into());
        let parts = key.split(&items, &json!({"responses": [{"status": 200}]}));
        assert_eq!(parts[0], json!({"status": 200}));
        assert_eq!(parts[1]["status"], 500);
    }
}
