//! Reactions: add and remove (one per user and emoji, at most
//! [`MAX_REACTIONS_PER_MESSAGE`] distinct emoji per message), the events that tell viewers, and
//! pages of reacting users.

use std::collections::BTreeMap;

use talkjs_protocol::error::codes;
use talkjs_protocol::event::{Event, MessageEdited, ReactionAdded, ReactionRemoved};
use talkjs_protocol::wire::{MessageDiff, Millis, Page, ReactionSummaryDiff, ReactionUserWire};

use super::conversations::page_size;
use super::cursor;
use super::messages::{
    DEFAULT_REACTION_PAGE, MAX_CUSTOM_EMOJI_CHARS, MAX_EMOJI_BYTES, MAX_REACTIONS_PER_MESSAGE,
    TOO_MANY_REACTIONS,
};
use super::{ApiError, ApiResult, World};
use crate::store::{MessageRecord, ReactionRecord};

/// Where a page of reacting users continues.
type ReactionCursor = (Millis, String);

impl World {
    /// The message `user` may change a reaction of, as `target`: only their own, and only as a
    /// participant (`may` completes "users can only ..." in the refusal). `check` runs between
    /// the two, so refusals come in the same order for adding and removing.
    fn reactable(
        &self,
        conversation: &str,
        user: &str,
        message: &str,
        target: &str,
        may: &str,
        check: impl FnOnce() -> ApiResult<()>,
    ) -> ApiResult<MessageRecord> {
        if target != user {
            return Err(ApiError::forbidden(
                codes::FORBIDDEN,
                format!("users can only {may}"),
            ));
        }
        check()?;
        self.member(conversation, user)?;
        Ok(self.message_in(conversation, message)?.clone())
    }

    /// `PUT /conversations/{c}/messages/{m}/reactions/{emoji}/{u}`: `u` must be the current user.
    pub fn add_reaction(
        &mut self,
        conversation: &str,
        user: &str,
        message: &str,
        emoji: &str,
        target: &str,
    ) -> ApiResult<()> {
        let mut m = self.reactable(
            conversation,
            user,
            message,
            target,
            "react as themselves",
            || validate_emoji(emoji),
        )?;
        if m.reactions
            .get(emoji)
            .is_some_and(|r| r.users.iter().any(|(u, _)| u == user))
        {
            return Ok(());
        }
        if !m.reactions.contains_key(emoji) && m.reactions.len() >= MAX_REACTIONS_PER_MESSAGE {
            return Err(ApiError::new(
                400,
                TOO_MANY_REACTIONS,
                format!(
                    "a message can have at most {MAX_REACTIONS_PER_MESSAGE} different reactions"
                ),
            ));
        }
        let now = self.clock.now();
        let entry = m
            .reactions
            .entry(emoji.to_owned())
            .or_insert_with(|| ReactionRecord {
                first_at: now,
                users: Vec::new(),
            });
        entry.users.push((user.to_owned(), now));
        self.store.put_message(m);
        self.publish_reaction_change(conversation, message, emoji);
        let users = self.participants_of(conversation);
        self.publish_to_users(
            users.iter().map(String::as_str),
            &Event::ReactionAdded(ReactionAdded {
                conversation_id: conversation.to_owned(),
                message_id: message.to_owned(),
                emoji: emoji.to_owned(),
                user_id: user.to_owned(),
                created_at: now,
            }),
        );
        Ok(())
    }

    /// `DELETE /conversations/{c}/messages/{m}/reactions/{emoji}/{u}`; 404 if there is no such
    /// reaction (which clients treat as done).
    pub fn remove_reaction(
        &mut self,
        conversation: &str,
        user: &str,
        message: &str,
        emoji: &str,
        target: &str,
    ) -> ApiResult<()> {
        let mut m = self.reactable(
            conversation,
            user,
            message,
            target,
            "remove their own reactions",
            || Ok(()),
        )?;
        let Some(r) = m.reactions.get_mut(emoji) else {
            return Err(ApiError::not_found(codes::NOT_FOUND, "no such reaction"));
        };
        let before = r.users.len();
        r.users.retain(|(u, _)| u != user);
        if r.users.len() == before {
            return Err(ApiError::not_found(codes::NOT_FOUND, "no such reaction"));
        }
        if r.users.is_empty() {
            m.reactions.remove(emoji);
        }
        self.store.put_message(m);
        self.publish_reaction_change(conversation, message, emoji);
        let users = self.participants_of(conversation);
        self.publish_to_users(
            users.iter().map(String::as_str),
            &Event::ReactionRemoved(ReactionRemoved {
                conversation_id: conversation.to_owned(),
                message_id: message.to_owned(),
                emoji: emoji.to_owned(),
                user_id: user.to_owned(),
            }),
        );
        Ok(())
    }

    /// Sends each participant the new summary entry for one emoji (it differs per viewer in
    /// `currentUserReacted`).
    fn publish_reaction_change(&self, conversation: &str, message: &str, emoji: &str) {
        let Some(m) = self.store.message(conversation, message) else {
            return;
        };
        let users = self.participants_of(conversation);
        let probe = Event::MessageEdited(MessageEdited {
            conversation_id: conversation.to_owned(),
            message_id: message.to_owned(),
            diff: MessageDiff::default(),
        });
        self.publish_per_user(users.iter().map(String::as_str), &probe, |viewer| {
            let entry = m.reactions.get(emoji).map(|r| ReactionSummaryDiff {
                count: Some(r.users.len() as u64),
                current_user_reacted: Some(r.users.iter().any(|(u, _)| u == viewer)),
                created_at: Some(r.first_at),
            });
            Some(Event::MessageEdited(MessageEdited {
                conversation_id: conversation.to_owned(),
                message_id: message.to_owned(),
                diff: MessageDiff {
                    reactions: Some(Some(BTreeMap::from([(emoji.to_owned(), entry)]))),
                    ..MessageDiff::default()
                },
            }))
        });
    }

    /// `GET /me/conversations/{c}/messages/{m}/reactions/{emoji}`: oldest first.
    pub fn list_reactions(
        &self,
        conversation: &str,
        user: &str,
        message: &str,
        emoji: &str,
        limit: Option<usize>,
        cursor: Option<&str>,
    ) -> ApiResult<Page<ReactionUserWire>> {
        self.member(conversation, user)?;
        let m = self.message_in(conversation, message)?;
        let limit = page_size(limit, DEFAULT_REACTION_PAGE);
        let after: Option<ReactionCursor> = cursor.map(cursor::decode).transpose()?;
        let users: &[(String, Millis)] = m
            .reactions
            .get(emoji)
            .map(|r| r.users.as_slice())
            .unwrap_or(&[]);
        let start = match &after {
            Some((t, id)) => users
                .iter()
                .position(|(u, at)| at > t || (at == t && u > id))
                .unwrap_or(users.len()),
            None => 0,
        };
        let data: Vec<ReactionUserWire> = users[start..]
            .iter()
            .take(limit)
            .map(|(u, at)| ReactionUserWire {
                user_id: u.clone(),
                created_at: *at,
            })
            .collect();
        let more = start + data.len() < users.len();
        let cursor = match (more, data.last()) {
            (true, Some(last)) => Some(cursor::encode(&(last.created_at, last.user_id.clone()))),
            _ => None,
        };
        Ok(Page { data, cursor })
    }
}

/// Accepts a custom emoji (`:name:`) or a short non-ASCII string without letters, digits or spaces.
fn validate_emoji(emoji: &str) -> ApiResult<()> {
    let custom = emoji.len() > 2
        && emoji.len() <= MAX_CUSTOM_EMOJI_CHARS
        && emoji.starts_with(':')
        && emoji.ends_with(':')
        && emoji[1..emoji.len() - 1]
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '+'));
    let unicode = emoji.len() <= MAX_EMOJI_BYTES
        && !emoji.is_ascii()
        && !emoji
            .chars()
            .any(|c| c.is_ascii_alphanumeric() || c.is_whitespace());
    if custom || unicode {
        Ok(())
    } else {
        Err(ApiError::bad_request(format!("{emoji:?} is not an emoji")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emoji_validation() {
        for ok in ["👍", ":cat-roomba:", "👩‍👩‍👧‍👦", "❤️"] {
            assert!(validate_emoji(ok).is_ok(), "{ok}");
        }
        for bad in ["", "abc", "👍 x", "::", ":a b:"] {
            assert!(validate_emoji(bad).is_err(), "{bad}");
        }
    }
}
