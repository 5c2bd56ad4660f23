//! Bold `*x*`, italic `_x_` and strikethrough `~x~`, the way the official parser matches them.
//!
//! At each position of a line, from left to right, the parser tries to match
//! `(^|B)M(content)M` followed by `B` or the end of the line, where `M` is one of the three
//! markers and `B` a boundary: whitespace or one of [`BOUNDARY_PUNCTUATION`]. The content either
//! starts and ends with a character that is neither whitespace nor `M` and has no line break in
//! between (shortest first), or is one such character; the longer form is tried first, which is
//! why `*a* *b*` is one bold run `a* *b`. After a match the search goes on after the closing
//! marker, so the boundary after it cannot serve as the boundary before the next one.
//!
//! Two quirks follow the official client exactly:
//!
//! * the boundary character before the opening marker is consumed and replaced by a single space
//!   (`(*x*)` gives `" ", bold, ")"`);
//! * the content is parsed again for the other two styles, never for its own.

use super::chars::{is_js_whitespace, is_line_terminator};
use super::push_text;
use crate::content::TextNode;

/// Non-whitespace characters that may stand right before an opening or after a closing marker.
pub(super) const BOUNDARY_PUNCTUATION: &str =
    "’'()[]{}<>:,‒–—―…!.«»-‐?‘’“”;/⁄␠·&@*\\•^¤¢$€£¥₩₪†‡°¡¿¬#№%‰‱¶′§~¨_|¦⁂☞∴‽※";

/// What replaces the boundary character consumed before an opening marker.
const REPLACED_BOUNDARY: &str = " ";

/// A set of emphasis styles (bit set).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Styles(u8);

impl Styles {
    const BOLD: Styles = Styles(1);
    const ITALIC: Styles = Styles(2);
    const STRIKETHROUGH: Styles = Styles(4);
    /// All three styles.
    pub(super) const ALL: Styles = Styles(7);

    fn contains(self, other: Styles) -> bool {
        self.0 & other.0 != 0
    }

    fn without(self, other: Styles) -> Styles {
        Styles(self.0 & !other.0)
    }
}

fn is_boundary(c: char) -> bool {
    is_js_whitespace(c) || BOUNDARY_PUNCTUATION.contains(c)
}

/// The style a marker character opens, if it is one of `allowed`.
fn style_of(marker: char, allowed: Styles) -> Option<Styles> {
    let style = match marker {
        '*' => Styles::BOLD,
        '_' => Styles::ITALIC,
        '~' => Styles::STRIKETHROUGH,
        _ => return None,
    };
    allowed.contains(style).then_some(style)
}

fn node(style: Styles, children: Vec<TextNode>) -> TextNode {
    match style {
        Styles::BOLD => TextNode::Bold(children),
        Styles::ITALIC => TextNode::Italic(children),
        _ => TextNode::Strikethrough(children),
    }
}

/// A match: char indices of the consumed boundary (if any), of the content, and of the end.
struct Found {
    boundary: bool,
    content: (usize, usize),
    end: usize,
    style: Styles,
}

/// Finds the emphasis runs of one line and parses their content for the remaining styles.
pub(super) fn emphasis(leaf: &str, allowed: Styles) -> Vec<TextNode> {
    let chars: Vec<(usize, char)> = leaf.char_indices().collect();
    let byte = |i: usize| chars.get(i).map_or(leaf.len(), |&(b, _)| b);
    let mut out = Vec::new();
    let mut copied = 0;
    let mut pos = 0;
    while pos < chars.len() {
        match find_at(&chars, pos, allowed) {
            Some(found) => {
                push_text(&mut out, &leaf[byte(copied)..byte(pos)]);
                if found.boundary {
                    out.push(TextNode::text(REPLACED_BOUNDARY));
                }
                let content = &leaf[byte(found.content.0)..byte(found.content.1)];
                out.push(node(
                    found.style,
                    emphasis(content, allowed.without(found.style)),
                ));
                copied = found.end;
                pos = found.end;
            }
            None => pos += 1,
        }
    }
    push_text(&mut out, &leaf[byte(copied)..]);
    out
}

/// Tries `(^|B)M…M(?=B|$)` at `pos`: first with `^` (only at the start), then with a boundary.
fn find_at(chars: &[(usize, char)], pos: usize, allowed: Styles) -> Option<Found> {
    if pos == 0
        && let Some(found) = run_at(chars, 0, allowed, false)
    {
        return Some(found);
    }
    if is_boundary(chars[pos].1) {
        return run_at(chars, pos + 1, allowed, true);
    }
    None
}

/// Matches a run whose opening marker is at `open`.
fn run_at(chars: &[(usize, char)], open: usize, allowed: Styles, boundary: bool) -> Option<Found> {
    let marker = chars.get(open)?.1;
    let style = style_of(marker, allowed)?;
    let at = |i: usize| chars.get(i).map(|&(_, c)| c);
    let edge_ok = |i: usize| at(i).is_some_and(|c| !is_js_whitespace(c) && c != marker);
    let closes_at = |i: usize| at(i) == Some(marker) && at(i + 1).is_none_or(is_boundary);
    let first = open + 1;
    if !edge_ok(first) {
        return None;
    }
    // Longer form: first and last content characters are edges, shortest content first.
    let mut last = first + 1;
    while let Some(c) = at(last) {
        if edge_ok(last) && closes_at(last + 1) {
            return Some(Found {
                boundary,
                content: (first, last + 1),
                end: last + 2,
                style,
            });
        }
        if is_line_terminator(c) {
            break;
        }
        last += 1;
    }
    // One-character form.
    closes_at(first + 1).then_some(Found {
        boundary,
        content: (first, first + 1),
        end: first + 2,
        style,
    })
}
