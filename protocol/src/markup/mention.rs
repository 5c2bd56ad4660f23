//! Mentions: `<!!mention:ID|Name>`, the markup a UI inserts when a user is picked.
//!
//! The id is percent-decoded (`user%2F1` is user `user/1`); it may not contain whitespace, `|` or
//! `>`. The name runs to the first `>` and may not contain a line break.

use super::chars::{is_js_whitespace, is_line_terminator};
use super::percent::decode_uri_component;
use super::push_text;
use crate::content::TextNode;

const OPEN: &str = "<!!mention:";

pub(super) fn mentions(leaf: &str) -> Vec<TextNode> {
    let mut out = Vec::new();
    let mut rest = leaf;
    while let Some(open) = rest.find(OPEN) {
        let after = &rest[open + OPEN.len()..];
        match mention_at(after) {
            Some((id, name, len)) => {
                push_text(&mut out, &rest[..open]);
                // The official client throws on a malformed escape (the whole send fails); a
                // parser that cannot fail keeps the id as written instead.
                let id = decode_uri_component(id).unwrap_or_else(|| id.to_owned());
                out.push(TextNode::Mention {
                    id,
                    text: name.to_owned(),
                });
                rest = &after[len..];
            }
            None => {
                push_text(&mut out, &rest[..open + 1]);
                rest = &rest[open + 1..];
            }
        }
    }
    push_text(&mut out, rest);
    out
}

/// Parses `ID|NAME>` at the start of `s`: returns the id, the name and the length consumed.
fn mention_at(s: &str) -> Option<(&str, &str, usize)> {
    let bar = s.find(|c: char| is_js_whitespace(c) || c == '|' || c == '>')?;
    if !s[bar..].starts_with('|') {
        return None;
    }
    let name = &s[bar + 1..];
    let gt = name
        .char_indices()
        .take_while(|&(_, c)| !is_line_terminator(c))
        .find(|&(_, c)| c == '>')
        .map(|(i, _)| i)?;
    Some((&s[..bar], &name[..gt], bar + 1 + gt + 1))
}
