//! Property test of the message window: seeded random sequences of what the messages kind does
//! (live messages, late ones, edits, deletions, replies, renames, `load_more` pages, clears,
//! hiding, reconnect refetches), each checked against a plain `Vec` model of the official
//! semantics, and the recorded changes checked to turn each snapshot into the next.

use std::sync::Arc;

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use serde_json::json;
use talkjs_protocol::snapshot::{MessageSnapshot, UserSnapshot};
use talkjs_protocol::wire::{MessageDiff, MessageWire};

use super::MessageWindow;
use crate::subscription::diffs::Change;
use crate::subscription::{List, ListItems};

fn user(name: &str) -> Arc<UserSnapshot> {
    Arc::new(
        serde_json::from_value(json!({
            "id": "u", "name": name, "custom": {}, "locale": null, "photoUrl": null,
            "role": "default", "welcomeMessage": null
        }))
        .expect("a user snapshot"),
    )
}

fn message(
    id: u32,
    created: i64,
    replies_to: Option<&MessageSnapshot>,
    text: &str,
) -> Arc<MessageSnapshot> {
    let wire: MessageWire = serde_json::from_value(json!({
        "id": format!("m{id}"), "type": "UserMessage", "senderId": "u", "custom": {},
        "createdAt": created, "editedAt": null,
        "referencedMessageId": replies_to.map(|r| r.id.clone()), "origin": "web",
        "content": [{"type": "text", "children": [text]}], "reactions": {}
    }))
    .expect("a message wire");
    let shown = replies_to.map(|r| Arc::new(r.to_referenced()));
    Arc::new(MessageSnapshot::from_wire(
        &wire,
        Some(user("first")),
        shown,
    ))
}

fn edit(text: &str) -> MessageDiff {
    serde_json::from_value(json!({"content": [{"type": "text", "children": [text]}]}))
        .expect("a message diff")
}

/// The official semantics, on a `Vec`, newest first.
#[derive(Default)]
struct Model {
    visible: bool,
    items: Vec<Arc<MessageSnapshot>>,
    max: Option<usize>,
}

impl Model {
    fn trim(&mut self) {
        if let Some(max) = self.max {
            self.items.truncate(max);
        }
    }

    fn insert(&mut self, m: Arc<MessageSnapshot>) {
        if self.items.iter().any(|x| x.id == m.id) {
            return;
        }
        let at = self.items.partition_point(|x| x.created_at > m.created_at);
        self.items.insert(at, m);
        self.trim();
    }

    fn edit(&mut self, id: &str, diff: &MessageDiff) {
        let Some(at) = self.items.iter().position(|m| m.id == id) else {
            return;
        };
        let mut next = (*self.items[at]).clone();
        next.apply(diff);
        let referenced = Arc::new(next.to_referenced());
        for m in self.items.iter_mut() {
            if m.referenced_message_id() == Some(id) && m.referenced_message.is_some() {
                let mut r = (**m).clone();
                r.referenced_message = Some(referenced.clone());
                *m = Arc::new(r);
            }
        }
        self.items[at] = Arc::new(next);
    }

    fn delete(&mut self, id: &str) {
        self.items.retain(|m| m.id != id);
        for m in self.items.iter_mut() {
            if m.referenced_message_id() == Some(id) {
                let mut r = (**m).clone();
                r.clear_reference_to(id);
                *m = Arc::new(r);
            }
        }
    }
}

fn shown(w: &MessageWindow) -> Vec<Arc<MessageSnapshot>> {
    w.snapshot().items().to_vec()
}

fn run(seed: u64, max: Option<usize>) {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut window = MessageWindow::with_max(max);
    let mut model = Model {
        max: max.map(|m| m.max(1)),
        ..Model::default()
    };
    let mut next_id = 0u32;
    let mut clock = 1_000i64;
    let mut before: Option<List<MessageSnapshot>> = window.snapshot();
    window.take_change();
    for step in 0..400 {
        let shown_ids: Vec<String> = model.items.iter().map(|m| m.id.clone()).collect();
        let some_id = |rng: &mut StdRng| {
            if shown_ids.is_empty() || rng.random_bool(0.1) {
                format!("m{}", rng.random_range(0..next_id.max(1)))
            } else {
                shown_ids[rng.random_range(0..shown_ids.len())].clone()
            }
        };
        let op = rng.random_range(0..100);
        if !model.visible && op < 87 {
            // Events are ignored while the list cannot be seen: the kind loads first.
            model.visible = true;
            model.items.clear();
            window.reset(Vec::new());
        }
        match op {
            // A live message, sometimes replying to a shown one, sometimes at the same time.
            0..=44 => {
                clock += rng.random_range(0..3);
                let reply = (!model.items.is_empty() && rng.random_bool(0.3))
                    .then(|| model.items[rng.random_range(0..model.items.len())].clone());
                let m = message(next_id, clock, reply.as_deref(), "hi");
                next_id += 1;
                model.insert(m.clone());
                window.insert(m);
            }
            // A message created earlier, arriving late (or a repeat).
            45..=52 => {
                let m = if rng.random_bool(0.5) && !model.items.is_empty() {
                    model.items[rng.random_range(0..model.items.len())].clone()
                } else {
                    next_id += 1;
                    message(next_id - 1, clock - rng.random_range(0..50), None, "late")
                };
                model.insert(m.clone());
                window.insert(m);
            }
            53..=64 => {
                let id = some_id(&mut rng);
                let diff = edit(&format!("edit {step}"));
                model.edit(&id, &diff);
                window.edit(&id, &diff);
            }
            65..=76 => {
                let id = some_id(&mut rng);
                model.delete(&id);
                window.delete(&id);
            }
            77..=80 => {
                let renamed = user(&format!("name {step}"));
                for m in model.items.iter_mut() {
                    if let Some(next) = crate::subscription::hydrate::with_user(m, &renamed) {
                        *m = Arc::new(next);
                    }
                }
                window.on_user(&renamed);
            }
            // A `load_more` page of older messages (some already shown).
            81..=86 => {
                let oldest = model.items.last().map_or(clock, |m| m.created_at);
                let mut page = Vec::new();
                for i in 0..rng.random_range(0..5) {
                    page.push(message(next_id, oldest - 1 - i, None, "old"));
                    next_id += 1;
                }
                if let Some(m) = model.items.last()
                    && rng.random_bool(0.3)
                {
                    page.insert(0, m.clone());
                }
                for m in &page {
                    if !model.items.iter().any(|x| x.id == m.id) {
                        model.items.push(m.clone());
                    }
                }
                model.trim();
                window.append_older(page);
            }
            // A reconnect's refetch: some shown messages gone, new ones in the gap.
            87..=93 => {
                let mut items: Vec<_> = model
                    .items
                    .iter()
                    .filter(|_| rng.random_bool(0.9))
                    .cloned()
                    .collect();
                for _ in 0..rng.random_range(0..3) {
                    clock += 1;
                    items.insert(0, message(next_id, clock, None, "gap"));
                    next_id += 1;
                }
                model.visible = true;
                model.items = items.clone();
                model.trim();
                window.reset(items);
            }
            94..=96 => {
                model.items.clear();
                window.clear();
            }
            _ => {
                model.visible = false;
                model.items.clear();
                window.hide();
            }
        }
        let after = window.snapshot();
        assert_eq!(
            after.is_some(),
            model.visible,
            "seed {seed} step {step}: visibility"
        );
        assert_eq!(
            shown(&window),
            model.items,
            "seed {seed} step {step}: items"
        );
        for m in &model.items {
            assert_eq!(window.get(&m.id), Some(m), "seed {seed} step {step}: index");
        }
        match window.take_change() {
            Change::Diffs(diffs) => {
                let applied = before.items().apply(diffs);
                assert_eq!(applied, after.items(), "seed {seed} step {step}: diffs");
            }
            Change::Unchanged => assert_eq!(before, after, "seed {seed} step {step}: unchanged"),
            Change::Unknown => panic!("the window always knows its changes"),
        }
        before = after;
    }
}

#[test]
fn changes_turn_each_snapshot_into_the_next() {
    for seed in 0..40 {
        run(seed, None);
    }
}

#[test]
fn a_bounded_window_keeps_the_newest_and_says_so_in_its_changes() {
    for seed in 100..130 {
        run(seed, Some(1 + (seed as usize % 7)));
    }
}

#[test]
fn a_full_bounded_window_drops_its_oldest_as_a_pop_back() {
    let mut w = MessageWindow::with_max(Some(2));
    w.reset(vec![message(1, 2, None, "b"), message(0, 1, None, "a")]);
    w.take_change();
    w.insert(message(2, 3, None, "c"));
    let Change::Diffs(d) = w.take_change() else {
        panic!("a change")
    };
    use crate::subscription::VectorDiff;
    assert!(matches!(
        &d[..],
        [VectorDiff::PushFront { .. }, VectorDiff::PopBack]
    ));
    assert!(w.trimmed());
}
