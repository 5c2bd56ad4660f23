//! Bullet lists: `- item`, `* item` or `+ item` lines.
//!
//! The official parser works in two passes, and both are observable:
//!
//! 1. [`lists`] finds runs of item lines that start the text or follow a `\n`, and wraps each run
//!    in a bullet list. The `\n` before the run and the one ending its last line are consumed, and
//!    blank lines between items belong to the run.
//! 2. [`items`] then turns every item in every leaf into a bullet point: inside the lists, but also
//!    a lone item that starts right after a `\r`, U+2028 or U+2029 (a line start for a JavaScript
//!    `^` with the `m` flag), which becomes a bullet point outside any list.
//!
//! An item is: optional whitespace (which may include line breaks), a marker `-`, `*` or `+`, at
//! least one whitespace character (which may also include line breaks, so `"- \n- b"` is the single
//! item `"- b"`), and the rest of the line (at least one character). A `\r` does not end the line.

use super::chars::is_js_whitespace;
use super::push_text;
use crate::content::TextNode;

/// Characters that start a bullet item.
const MARKERS: [char; 3] = ['-', '*', '+'];

/// Pass 1: wraps runs of item lines in bullet lists (items still raw text inside).
pub(super) fn lists(leaf: &str) -> Vec<TextNode> {
    let chars: Vec<(usize, char)> = leaf.char_indices().collect();
    let byte = |i: usize| chars.get(i).map_or(leaf.len(), |&(b, _)| b);
    let mut out = Vec::new();
    let mut copied = 0; // char index up to which the leaf is already in `out`
    let mut pos = 0;
    while pos <= chars.len() {
        // The run starts at the very beginning, or right after a `\n` that it consumes.
        let body = if pos == 0 {
            Some(0)
        } else if chars.get(pos).is_some_and(|&(_, c)| c == '\n') {
            Some(pos + 1)
        } else {
            None
        };
        let run = body.and_then(|start| {
            let mut end = item_end(&chars, start)?;
            while let Some(next) = item_end(&chars, end) {
                end = next;
            }
            Some((start, end))
        });
        match run {
            Some((start, end)) => {
                push_text(&mut out, &leaf[byte(copied)..byte(pos)]);
                out.push(TextNode::BulletList(vec![TextNode::text(
                    &leaf[byte(start)..byte(end)],
                )]));
                copied = end;
                pos = end.max(pos + 1);
            }
            None => pos += 1,
        }
    }
    push_text(&mut out, &leaf[byte(copied)..]);
    out
}

/// Pass 2: turns every item that starts a line (JavaScript `^` with the `m` flag) into a bullet
/// point.
pub(super) fn items(leaf: &str) -> Vec<TextNode> {
    let chars: Vec<(usize, char)> = leaf.char_indices().collect();
    let byte = |i: usize| chars.get(i).map_or(leaf.len(), |&(b, _)| b);
    let mut out = Vec::new();
    let mut copied = 0;
    let mut pos = 0;
    while pos < chars.len() {
        let line_start = pos == 0 || is_line_start_after(chars[pos - 1].1);
        match line_start.then(|| item(&chars, pos)).flatten() {
            Some(found) => {
                push_text(&mut out, &leaf[byte(copied)..byte(pos)]);
                out.push(TextNode::BulletPoint(vec![TextNode::text(
                    &leaf[byte(found.text.0)..byte(found.text.1)],
                )]));
                copied = found.end;
                pos = found.end.max(pos + 1);
            }
            None => pos += 1,
        }
    }
    push_text(&mut out, &leaf[byte(copied)..]);
    out
}

/// Characters after which a JavaScript `^` (with the `m` flag) matches.
fn is_line_start_after(c: char) -> bool {
    super::chars::is_line_terminator(c)
}

/// One bullet item found at a position.
struct Item {
    /// Char range of the item's text.
    text: (usize, usize),
    /// Char index after the item, including its line's `\n` if there is one.
    end: usize,
}

fn item_end(chars: &[(usize, char)], start: usize) -> Option<usize> {
    item(chars, start).map(|found| found.end)
}

/// Matches `\s*[-*+]\s+([^\n]+)\n?` at `start`, with JavaScript's backtracking.
fn item(chars: &[(usize, char)], start: usize) -> Option<Item> {
    let is_ws = |i: usize| chars.get(i).is_some_and(|&(_, c)| is_js_whitespace(c));
    let mut marker = start;
    while is_ws(marker) {
        marker += 1;
    }
    if !chars
        .get(marker)
        .is_some_and(|&(_, c)| MARKERS.contains(&c))
    {
        return None;
    }
    // `\s+` is greedy; it only gives characters back when it ran to the end of the text.
    let mut text_start = marker + 1;
    while is_ws(text_start) {
        text_start += 1;
    }
    if text_start == marker + 1 {
        return None;
    }
    if text_start == chars.len() {
        text_start = (marker + 2..chars.len())
            .rev()
            .find(|&i| chars[i].1 != '\n')?;
    }
    let mut text_end = text_start;
    while chars.get(text_end).is_some_and(|&(_, c)| c != '\n') {
        text_end += 1;
    }
    let end = if text_end < chars.len() {
        text_end + 1
    } else {
        text_end
    };
    Some(Item {
        text: (text_start, text_end),
        end,
    })
}
