//! Applying a `message.edited` diff ([`MessageDiff`]): the one place its rules live.
//!
//! A diff is applied to two shapes of a message, with the same rules for everything but the
//! reaction summary:
//!
//! - [`MessageWire::apply`] (here): the message as the server returns it, which the runtime's
//!   cache keeps current. Its reactions are a map keyed by emoji, each with its first-added
//!   time, and their display order is *derived* from those times
//!   ([`ReactionsSummarySnapshot::list_from_wire`](crate::snapshot::ReactionsSummarySnapshot::list_from_wire)).
//!   A new emoji that comes without its count or its first-added time cannot be written into
//!   that map exactly, so the applier answers `false` ("cannot follow: fetch it again").
//! - [`MessageSnapshot::apply`](crate::snapshot::MessageSnapshot::apply): the message a
//!   subscription shows, which has no one to refetch from and must follow every diff the way the
//!   official client does. Its reaction summary is a *list* whose order is state of its own: a new
//!   emoji without a first-added time is appended at the end, and the list is re-sorted only when
//!   a diff can move a first-added time. That order is not a function of a wire map, so the
//!   snapshot keeps its own reaction rules; the fields both shapes share (content, custom data,
//!   edit time) go through one helper (`MessageDiff::apply_fields`), and where both can follow a diff
//!   they agree (the unit tests below check it).

use std::collections::BTreeMap;

use crate::content::ContentBlock;
use crate::wire::{
    Custom, CustomPatch, MessageDiff, MessageWire, Millis, Patch, ReactionSummaryDiff,
    ReactionSummaryWire, apply_custom_patch,
};

impl MessageDiff {
    /// Applies the parts of the diff every shape of a message has: `content` replaces the
    /// content, `custom` patches the custom data (`null` empties it), `editedAt` is set or
    /// cleared. Returns whether the content was replaced (a snapshot then recomputes its
    /// plaintext).
    pub(crate) fn apply_fields(
        &self,
        content: &mut Vec<ContentBlock>,
        custom: &mut Custom,
        edited_at: &mut Option<Millis>,
    ) -> bool {
        patch_custom(custom, &self.custom);
        if let Some(t) = &self.edited_at {
            edited_at.clone_from(t);
        }
        match &self.content {
            Some(c) => {
                content.clone_from(c);
                true
            }
            None => false,
        }
    }
}

impl MessageWire {
    /// Applies a `message.edited` diff (see the [module docs](self)); `false` when the outcome
    /// cannot be known exactly from the diff (an emoji the message did not have, without its
    /// count or first-added time): the caller must fetch the message again, and `self` is then
    /// only partly updated.
    ///
    /// Reactions: `reactions: null` empties the summary, an emoji mapped to `null` is removed,
    /// an object updates the fields it carries, and an entry whose count is 0 is removed.
    ///
    /// ```
    /// # mod talkjs { pub use talkjs_protocol::{filter, params, snapshot}; pub use talkjs_protocol as protocol; }
    /// use talkjs::protocol::wire::{MessageDiff, MessageWire};
    ///
    /// let mut m: MessageWire = serde_json::from_str(r#"{"id":"m1","type":"UserMessage",
    ///     "createdAt":1,"origin":"web","content":[],
    ///     "reactions":{"👍":{"count":1,"currentUserReacted":true,"createdAt":1}}}"#).unwrap();
    /// let diff: MessageDiff = serde_json::from_str(r#"{"reactions":{"👍":{"count":2}}}"#).unwrap();
    /// assert!(m.apply(&diff));
    /// assert_eq!(m.reactions["👍"].count, 2);
    /// ```
    pub fn apply(&mut self, diff: &MessageDiff) -> bool {
        diff.apply_fields(&mut self.content, &mut self.custom, &mut self.edited_at);
        apply_reactions(&mut self.reactions, &diff.reactions)
    }
}

/// Applies a custom-data diff: absent leaves it, `null` empties it, a map merges key by key.
pub(crate) fn patch_custom(custom: &mut Custom, value: &Patch<CustomPatch>) {
    match value {
        None => {}
        Some(None) => custom.clear(),
        Some(Some(p)) => apply_custom_patch(custom, p),
    }
}

/// The reaction part of [`MessageWire::apply`].
fn apply_reactions(
    reactions: &mut BTreeMap<String, ReactionSummaryWire>,
    diff: &Patch<BTreeMap<String, Option<ReactionSummaryDiff>>>,
) -> bool {
    let Some(diff) = diff else { return true };
    let Some(per_emoji) = diff else {
        reactions.clear();
        return true;
    };
    for (emoji, d) in per_emoji {
        let Some(d) = d else {
            reactions.remove(emoji);
            continue;
        };
        match reactions.get_mut(emoji) {
            Some(r) => {
                if let Some(c) = d.count {
                    r.count = c;
                }
                if let Some(c) = d.current_user_reacted {
                    r.current_user_reacted = c;
                }
                if let Some(t) = d.created_at {
                    r.created_at = t;
                }
            }
            None => {
                let (Some(count), Some(created_at)) = (d.count, d.created_at) else {
                    return false;
                };
                reactions.insert(
                    emoji.clone(),
                    ReactionSummaryWire {
                        count,
                        current_user_reacted: d.current_user_reacted.unwrap_or(false),
                        created_at,
                    },
                );
            }
        }
    }
    reactions.retain(|_, r| r.count > 0);
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::{MessageSnapshot, ReactionsSummarySnapshot};
    use serde_json::json;

    fn message(reactions: serde_json::Value) -> MessageWire {
        serde_json::from_value(json!({
            "id": "m1", "type": "UserMessage", "senderId": "alice", "custom": {"a": "1"},
            "createdAt": 1, "editedAt": null, "referencedMessageId": null, "origin": "web",
            "content": [{"type": "text", "children": ["hi"]}], "reactions": reactions
        }))
        .unwrap()
    }

    fn diff(v: serde_json::Value) -> MessageDiff {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn content_custom_and_edit_time_are_patched() {
        let mut m = message(json!({}));
        assert!(m.apply(&diff(json!({
            "content": [{"type": "text", "children": ["edited"]}],
            "custom": {"k": "v", "a": null}, "editedAt": 9
        }))));
        let edited: Vec<ContentBlock> =
            serde_json::from_value(json!([{"type": "text", "children": ["edited"]}])).unwrap();
        assert_eq!(m.content, edited);
        assert_eq!(m.custom.len(), 1);
        assert_eq!(m.custom.get("k").map(String::as_str), Some("v"));
        assert_eq!(m.edited_at, Some(9));
        assert!(m.apply(&diff(json!({"custom": null, "editedAt": null}))));
        assert!(m.custom.is_empty());
        assert_eq!(m.edited_at, None);
    }

    #[test]
    fn reactions_are_updated_added_and_removed() {
        let mut m = message(json!({
            "👍": {"count": 1, "currentUserReacted": false, "createdAt": 1},
            "🎉": {"count": 1, "currentUserReacted": false, "createdAt": 2},
            "❤️": {"count": 3, "currentUserReacted": false, "createdAt": 3},
        }));
        assert!(m.apply(&diff(json!({"reactions": {
            "👍": null,
            "🎉": {"count": 0},
            "❤️": {"count": 4, "currentUserReacted": true, "createdAt": 0},
            ":cat:": {"count": 2, "createdAt": 5},
        }}))));
        assert_eq!(m.reactions.keys().collect::<Vec<_>>(), [":cat:", "❤️"]);
        assert_eq!(
            m.reactions["❤️"],
            ReactionSummaryWire {
                count: 4,
                current_user_reacted: true,
                created_at: 0
            }
        );
        assert!(!m.reactions[":cat:"].current_user_reacted);
        assert!(m.apply(&diff(json!({"reactions": null}))));
        assert!(m.reactions.is_empty());
    }

    #[test]
    fn a_new_emoji_without_count_or_time_cannot_be_followed() {
        for vague in [
            json!({"reactions": {"❤️": {"currentUserReacted": true}}}),
            json!({"reactions": {"❤️": {"count": 1}}}),
            json!({"reactions": {"❤️": {"createdAt": 1}}}),
        ] {
            assert!(!message(json!({})).apply(&diff(vague)));
        }
        // The same fields for an emoji the message has are an ordinary update.
        let mut m =
            message(json!({"❤️": {"count": 1, "currentUserReacted": false, "createdAt": 1}}));
        assert!(m.apply(&diff(
            json!({"reactions": {"❤️": {"currentUserReacted": true}}})
        )));
        assert!(m.reactions["❤️"].current_user_reacted);
    }

    #[test]
    fn wire_and_snapshot_agree_where_the_wire_can_follow() {
        let start = json!({
            "a": {"count": 1, "currentUserReacted": false, "createdAt": 1},
            "b": {"count": 2, "currentUserReacted": true, "createdAt": 2},
        });
        for d in [
            json!({"reactions": {"a": {"count": 5}}}),
            json!({"reactions": {"b": null, "c": {"count": 1, "createdAt": 0}}}),
            json!({"reactions": {"a": {"createdAt": 3}, "b": {"count": 0}}}),
            json!({"reactions": null, "custom": {"x": "y"}, "editedAt": 4}),
            json!({"content": [{"type": "text", "children": ["new"]}]}),
        ] {
            let d = diff(d);
            let mut wire = message(start.clone());
            let mut snapshot = MessageSnapshot::from_wire(&wire, None, None);
            assert!(wire.apply(&d));
            snapshot.apply(&d);
            let from_wire = MessageSnapshot::from_wire(&wire, None, None);
            assert_eq!(
                snapshot.reactions,
                ReactionsSummarySnapshot::list_from_wire(&wire.reactions)
            );
            assert_eq!(snapshot.content, from_wire.content);
            assert_eq!(snapshot.plaintext, from_wire.plaintext);
            assert_eq!(snapshot.custom, from_wire.custom);
            assert_eq!(snapshot.edited_at, from_wire.edited_at);
        }
    }
}
