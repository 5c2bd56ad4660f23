//! Code spans: ```` ```code``` ````, lazily matched and allowed to span lines.
//!
//! The code is shown as written, with two exceptions the official client makes: mention markup
//! becomes `@Name` and custom-emoji markup becomes its name. These replacements use looser
//! patterns than the real mention step: the id may contain spaces (not line breaks) and the name
//! may contain line breaks.

use super::chars::is_line_terminator;
use super::push_text;
use crate::content::TextNode;

/// Opens and closes a code span.
const FENCE: &str = "```";
const MENTION_OPEN: &str = "<!!mention:";
const CUSTOM_EMOJI_OPEN: &str = "<!!customemoji:";

pub(super) fn code_spans(leaf: &str) -> Vec<TextNode> {
    let mut out = Vec::new();
    let mut rest = leaf;
    while let Some(open) = rest.find(FENCE) {
        let body = &rest[open + FENCE.len()..];
        // At least one character of code: the closing fence is searched after it.
        let Some(first) = body.chars().next() else {
            break;
        };
        let Some(close) = body[first.len_utf8()..].find(FENCE) else {
            // No closing fence after this opening; a later opening cannot find one either.
            break;
        };
        let code_len = first.len_utf8() + close;
        push_text(&mut out, &rest[..open]);
        out.push(TextNode::CodeSpan(code_text(&body[..code_len])));
        rest = &body[code_len + FENCE.len()..];
    }
    push_text(&mut out, rest);
    out
}

/// The text shown for a code span: mentions become `@Name`, custom emoji their name.
fn code_text(code: &str) -> String {
    let with_mentions = replace_mentions(code);
    replace_custom_emoji(&with_mentions)
}

/// `<!!mention:ID|NAME>` → `@NAME`, where ID is the shortest run without line breaks up to a `|`
/// and NAME runs to the first `>`.
fn replace_mentions(code: &str) -> String {
    let mut out = String::with_capacity(code.len());
    let mut rest = code;
    while let Some(open) = rest.find(MENTION_OPEN) {
        let after = &rest[open + MENTION_OPEN.len()..];
        let found = after
            .char_indices()
            .take_while(|&(_, c)| !is_line_terminator(c))
            .filter(|&(_, c)| c == '|')
            .find_map(|(bar, _)| {
                let name_start = bar + 1;
                after[name_start..]
                    .find('>')
                    .map(|gt| (name_start, name_start + gt))
            });
        match found {
            Some((name_start, name_end)) => {
                out.push_str(&rest[..open]);
                out.push('@');
                out.push_str(&after[name_start..name_end]);
                rest = &after[name_end + 1..];
            }
            None => {
                out.push_str(&rest[..open + 1]);
                rest = &rest[open + 1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// `<!!customemoji:NAME>` → `NAME`, where NAME has no line breaks.
fn replace_custom_emoji(code: &str) -> String {
    let mut out = String::with_capacity(code.len());
    let mut rest = code;
    while let Some(open) = rest.find(CUSTOM_EMOJI_OPEN) {
        let after = &rest[open + CUSTOM_EMOJI_OPEN.len()..];
        let close = after
            .char_indices()
            .take_while(|&(_, c)| !is_line_terminator(c))
            .find(|&(_, c)| c == '>')
            .map(|(i, _)| i);
        match close {
            Some(close) => {
                out.push_str(&rest[..open]);
                out.push_str(&after[..close]);
                rest = &after[close + 1..];
            }
            None => {
                out.push_str(&rest[..open + 1]);
                rest = &rest[open + 1..];
            }
        }
    }
    out.push_str(rest);
    out
}
