//! Custom emoji: `<!!customemoji:NAME>`, where NAME runs to the first `>` on the line.

use super::chars::is_line_terminator;
use super::push_text;
use crate::content::TextNode;

const OPEN: &str = "<!!customemoji:";

pub(super) fn custom_emoji(leaf: &str) -> Vec<TextNode> {
    let mut out = Vec::new();
    let mut rest = leaf;
    while let Some(open) = rest.find(OPEN) {
        let after = &rest[open + OPEN.len()..];
        let close = after
            .char_indices()
            .take_while(|&(_, c)| !is_line_terminator(c))
            .find(|&(_, c)| c == '>')
            .map(|(i, _)| i);
        match close {
            Some(close) => {
                push_text(&mut out, &rest[..open]);
                out.push(TextNode::CustomEmoji(after[..close].to_owned()));
                rest = &after[close + 1..];
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
