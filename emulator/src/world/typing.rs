//! Typing indicators.
//!
//! Each participant sees who *else* is typing; their own typing never shows (TalkJS leaves that
//! to the server, and the official client does not filter it). A user stops typing when they send,
//! when they leave, or [`TYPING_TIMEOUT`] after their last `markAsTyping`. When more than
//! [`MAX_LISTED_TYPISTS`] others type at once, a viewer sees "many" instead of a list.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use talkjs_protocol::event::{Event, TypingChanged};
use talkjs_protocol::wire::{Access, Millis, TypingDiff, TypingWire};

use super::{ApiError, ApiResult, World};

/// How long a `markAsTyping` lasts (TalkJS's documented 10 seconds).
pub const TYPING_TIMEOUT: Duration = Duration::from_secs(10);

/// Most typists listed by name before a viewer sees "many" (an emulator choice; TalkJS does not
/// document its threshold).
pub const MAX_LISTED_TYPISTS: usize = 5;

/// Error code for a write that needs read-write access.
pub const READ_ONLY_ACCESS: &str = "READ_ONLY_ACCESS";

impl World {
    /// Who is typing in a conversation, as `viewer` sees it.
    pub(crate) fn typing_view(&self, conversation: &str, viewer: &str) -> TypingWire {
        typing_view_of(self.typing.get(conversation), viewer)
    }

    /// `GET /me/conversations/{c}/typing`.
    pub fn get_typing(&self, conversation: &str, user: &str) -> ApiResult<TypingWire> {
        self.member(conversation, user)?;
        Ok(self.typing_view(conversation, user))
    }

    /// `POST /me/conversations/{c}/typing`. Returns the start time to pass to
    /// [`World::expire_typing`] after [`TYPING_TIMEOUT`].
    pub fn mark_typing(&mut self, conversation: &str, user: &str) -> ApiResult<Millis> {
        let (_, me) = self.member(conversation, user)?;
        if me.access == Access::Read {
            return Err(ApiError::forbidden(
                READ_ONLY_ACCESS,
                "read-only participants cannot type",
            ));
        }
        let now = self.clock.now();
        let before = self.typing.get(conversation).cloned();
        self.typing
            .entry(conversation.to_owned())
            .or_default()
            .insert(user.to_owned(), now);
        self.publish_typing_change(conversation, before.as_ref());
        Ok(now)
    }

    /// Ends `user`'s typing if it still is the one that started at `started` (a later
    /// `markAsTyping` extends it).
    pub fn expire_typing(&mut self, conversation: &str, user: &str, started: Millis) {
        let current = self
            .typing
            .get(conversation)
            .and_then(|t| t.get(user))
            .copied();
        if current == Some(started) {
            self.stop_typing(conversation, user);
        }
    }

    /// Ends `user`'s typing now (they sent a message or left).
    pub(crate) fn stop_typing(&mut self, conversation: &str, user: &str) {
        let Some(typists) = self.typing.get(conversation) else {
            return;
        };
        if !typists.contains_key(user) {
            return;
        }
        let before = typists.clone();
        if let Some(t) = self.typing.get_mut(conversation) {
            t.remove(user);
            if t.is_empty() {
                self.typing.remove(conversation);
            }
        }
        self.publish_typing_change(conversation, Some(&before));
    }

    /// Sends each participant the change in what they see.
    fn publish_typing_change(&self, conversation: &str, before: Option<&HashMap<String, Millis>>) {
        let Some(conv) = self.store.conversation(conversation) else {
            return;
        };
        let after = self.typing.get(conversation);
        let probe = Event::TypingChanged(TypingChanged {
            conversation_id: conversation.to_owned(),
            diff: TypingDiff::default(),
        });
        self.publish_per_user(
            conv.participants.keys().map(String::as_str),
            &probe,
            |viewer| {
                let diff = typing_diff(
                    &typing_view_of(before, viewer),
                    &typing_view_of(after, viewer),
                )?;
                Some(Event::TypingChanged(TypingChanged {
                    conversation_id: conversation.to_owned(),
                    diff,
                }))
            },
        );
    }
}

fn typing_view_of(typists: Option<&HashMap<String, Millis>>, viewer: &str) -> TypingWire {
    let others: BTreeMap<String, Millis> = typists
        .into_iter()
        .flatten()
        .filter(|(u, _)| *u != viewer)
        .map(|(u, t)| (u.clone(), *t))
        .collect();
    if others.len() > MAX_LISTED_TYPISTS {
        TypingWire::Many
    } else {
        TypingWire::Few(others)
    }
}

/// The `typing.changed` diff that turns `before` into `after`, or `None` if nothing changed.
fn typing_diff(before: &TypingWire, after: &TypingWire) -> Option<TypingDiff> {
    match (before, after) {
        (TypingWire::Many, TypingWire::Many) => None,
        (_, TypingWire::Many) => Some(TypingDiff {
            many: Some(true),
            users_typing: None,
        }),
        (TypingWire::Many, TypingWire::Few(users)) => Some(TypingDiff {
            many: Some(false),
            users_typing: Some(users.iter().map(|(u, t)| (u.clone(), Some(*t))).collect()),
        }),
        (TypingWire::Few(old), TypingWire::Few(new)) => {
            let mut changes = BTreeMap::new();
            for (u, t) in new {
                if old.get(u) != Some(t) {
                    changes.insert(u.clone(), Some(*t));
                }
            }
            for u in old.keys() {
                if !new.contains_key(u) {
                    changes.insert(u.clone(), None);
                }
            }
            (!changes.is_empty()).then_some(TypingDiff {
                many: None,
                users_typing: Some(changes),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn viewers_never_see_themselves_and_many_kicks_in_above_the_limit() {
        let mut t = HashMap::new();
        t.insert("me".to_string(), 1);
        assert_eq!(
            typing_view_of(Some(&t), "me"),
            TypingWire::Few(BTreeMap::new())
        );
        for i in 1..=MAX_LISTED_TYPISTS {
            t.insert(format!("u{i}"), 2);
        }
        // Exactly the limit of others: still listed.
        assert!(
            matches!(typing_view_of(Some(&t), "me"), TypingWire::Few(u) if u.len() == MAX_LISTED_TYPISTS)
        );
        t.insert("one_more".to_string(), 3);
        assert_eq!(typing_view_of(Some(&t), "me"), TypingWire::Many);
        assert_eq!(typing_view_of(Some(&t), "u1"), TypingWire::Many);
    }

    #[test]
    fn diffs_cover_each_transition() {
        let few = |xs: &[(&str, i64)]| {
            TypingWire::Few(xs.iter().map(|(u, t)| (u.to_string(), *t)).collect())
        };
        assert_eq!(typing_diff(&few(&[]), &few(&[])), None);
        let d = typing_diff(&few(&[("a", 1)]), &few(&[("b", 2)])).unwrap();
        assert_eq!(
            d.users_typing.unwrap(),
            BTreeMap::from([("a".into(), None), ("b".into(), Some(2))])
        );
        assert_eq!(
            typing_diff(&few(&[]), &TypingWire::Many).unwrap().many,
            Some(true)
        );
        assert_eq!(
            typing_diff(&TypingWire::Many, &few(&[("a", 1)]))
                .unwrap()
                .many,
            Some(false)
        );
    }
}
