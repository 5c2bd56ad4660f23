//! Action links and buttons (edit profile only):
//! `<actionlink:ACTION?k=v&…|label>` and `<actionbutton:…|label>`, tag names in any case.
//!
//! Everything between the `:` and the first `|` is the action specification (at least one
//! character, line breaks allowed); it is split at its first `?` into the action name and a query
//! string decoded like `URLSearchParams` (a repeated key keeps its last value). The label runs to
//! the first `>` and may contain line breaks. Labels are parsed further like link labels.

use std::collections::BTreeMap;

use super::link::label_children;
use super::percent::decode_form_component;
use super::push_text;
use crate::content::TextNode;

const ACTION_LINK: &str = "actionlink:";
const ACTION_BUTTON: &str = "actionbutton:";

pub(super) fn actions(leaf: &str) -> Vec<TextNode> {
    let mut out = Vec::new();
    let mut rest = leaf;
    let mut search_from = 0;
    while let Some(offset) = rest[search_from..].find('<') {
        let open = search_from + offset;
        match action_at(&rest[open + 1..]) {
            Some((node, len)) => {
                push_text(&mut out, &rest[..open]);
                out.push(node);
                rest = &rest[open + 1 + len..];
                search_from = 0;
            }
            None => search_from = open + 1,
        }
    }
    push_text(&mut out, rest);
    out
}

/// Parses `actionlink:SPEC|label>` (or `actionbutton:`) right after a `<`.
fn action_at(s: &str) -> Option<(TextNode, usize)> {
    let starts = |tag: &str| {
        s.get(..tag.len())
            .is_some_and(|p| p.eq_ignore_ascii_case(tag))
    };
    let (is_button, tag_len) = if starts(ACTION_LINK) {
        (false, ACTION_LINK.len())
    } else if starts(ACTION_BUTTON) {
        (true, ACTION_BUTTON.len())
    } else {
        return None;
    };
    let body = &s[tag_len..];
    let bar = body.find('|').filter(|&bar| bar > 0)?;
    let label = &body[bar + 1..];
    let gt = label.find('>')?;
    let spec = &body[..bar];
    let (action, params) = match spec.split_once('?') {
        Some((action, query)) => (action, parse_query(query)),
        None => (spec, BTreeMap::new()),
    };
    let action = action.to_owned();
    let children = label_children(&label[..gt]);
    let node = if is_button {
        TextNode::ActionButton {
            action,
            params,
            children,
        }
    } else {
        TextNode::ActionLink {
            action,
            params,
            children,
        }
    };
    Some((node, tag_len + bar + 1 + gt + 1))
}

/// `URLSearchParams` parsing: `&`-separated pairs, empty ones skipped, split at the first `=`.
fn parse_query(query: &str) -> BTreeMap<String, String> {
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            (decode_form_component(name), decode_form_component(value))
        })
        .collect()
}
