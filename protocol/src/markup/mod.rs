//! TalkJS markup strings to message content, exactly as the official client parses them.
//!
//! The official client never sends a plain string as message text: `send("…")`, `edit("…")` and
//! translated `{markup}` strings are turned into a tree of [`TextNode`]s on the client, and the
//! server receives that tree. A Rust runtime that wants its messages to look the same to every
//! other participant has to build the same tree, node for node and string for string, including
//! the official parser's quirks. This module does that; `tests/markup.rs` compares it with what the
//! official client sent for over a thousand recorded inputs.
//!
//! # The pipeline
//!
//! Parsing is a sequence of steps. Each step rewrites every plain-text leaf of the tree built so
//! far, including leaves inside nodes that earlier steps created (a bullet point, a bold run, a
//! link label), and leaves everything else alone:
//!
//! 1. `bullets`: runs of `- `, `* ` or `+ ` lines become a bullet list; a lone item that starts
//!    after a `\r`, U+2028 or U+2029 becomes a bullet point without a list.
//! 2. `code`: ```` ```…``` ```` becomes a code span (which may span lines).
//! 3. Each leaf is cut into lines, each keeping its `\n`: nothing below crosses a line.
//! 4. `mention`s, then `custom_emoji`.
//! 5. Only for [`Profile::Edit`]: formatted `link`s `<url|label>`, then `action` links and
//!    buttons.
//! 6. `emphasis`: `*bold*`, `_italic_`, `~strikethrough~`, nested.
//! 7. Only for [`Profile::Send`]: formatted links stay text, but their URL is cut out into a leaf
//!    of its own, so that it is autolinked even where the text around it would not be (inside an
//!    HTML `<a>`, say).
//! 8. `autolink`: URLs and e-mail addresses.
//! 9. `phone` numbers.
//! 10. Autolinks inside links and action links/buttons turn back into text, and adjacent strings
//!     are merged (empty ones dropped).
//!
//! The order matters and is observable: a mention is cut out before emphasis runs, so
//! `*<!!mention:bob|Bob>*` is not bold; emphasis runs before URL detection, so `*https://x.io*` is a
//! bold link but `https://a.com/_x_` loses its last segment to italics.
//!
//! Parsing never fails and never panics: text that does not form markup stays text.

mod action;
mod autolink;
mod bullets;
mod chars;
mod code;
mod custom_emoji;
mod emphasis;
mod link;
mod mention;
pub(crate) mod percent;
mod phone;

use crate::content::{TextBlock, TextNode};

/// Which of the official client's two parser configurations to follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Profile {
    /// What `conversation.send(text)` uses: every rule except formatted links `<url|label>` and
    /// action links/buttons, which stay text (the URL of a formatted link still becomes an
    /// autolink).
    Send,
    /// What `message.edit(text)` and translated `{markup}` strings use: every rule.
    Edit,
}

/// Parses a markup string into the children of a text block, as the official client does for the
/// given profile.
///
/// ```
/// # mod talkjs { pub use talkjs_protocol::{filter, params, snapshot}; pub use talkjs_protocol as protocol; }
/// use talkjs::protocol::content::TextNode;
/// use talkjs::protocol::markup::{parse, Profile};
///
/// let nodes = parse("hi *there*", Profile::Send);
/// assert_eq!(nodes, vec![TextNode::text("hi "), TextNode::Bold(vec![TextNode::text("there")])]);
/// ```
pub fn parse(text: &str, profile: Profile) -> Vec<TextNode> {
    let mut nodes = vec![TextNode::text(text)];
    nodes = map_leaves(nodes, &mut bullets::lists);
    nodes = map_leaves(nodes, &mut bullets::items);
    nodes = map_leaves(nodes, &mut code::code_spans);
    nodes = map_leaves(nodes, &mut split_lines);
    nodes = map_leaves(nodes, &mut mention::mentions);
    nodes = map_leaves(nodes, &mut custom_emoji::custom_emoji);
    if profile == Profile::Edit {
        nodes = map_leaves(nodes, &mut |leaf| link::links(leaf, Profile::Edit));
        nodes = map_leaves(nodes, &mut action::actions);
    }
    nodes = map_leaves(nodes, &mut |leaf| {
        emphasis::emphasis(leaf, emphasis::Styles::ALL)
    });
    if profile == Profile::Send {
        nodes = map_leaves(nodes, &mut |leaf| link::links(leaf, Profile::Send));
    }
    nodes = map_leaves(nodes, &mut autolink::autolinks);
    nodes = map_leaves(nodes, &mut phone::phone_numbers);
    merge_text(flatten_link_labels(nodes, false))
}

/// [`parse`] with [`Profile::Send`], wrapped in a text block: what `conversation.send(text)` sends.
pub fn parse_send(text: &str) -> TextBlock {
    TextBlock {
        children: parse(text, Profile::Send),
    }
}

/// [`parse`] with [`Profile::Edit`], wrapped in a text block: what `message.edit(text)` sends, and
/// what a translated `{markup}` string becomes.
pub fn parse_edit(text: &str) -> TextBlock {
    TextBlock {
        children: parse(text, Profile::Edit),
    }
}

/// Rewrites every plain-text leaf with `step`, descending into every node that has children.
/// Nodes the step returns are not visited again by the same step.
fn map_leaves(nodes: Vec<TextNode>, step: &mut dyn FnMut(&str) -> Vec<TextNode>) -> Vec<TextNode> {
    let mut out = Vec::with_capacity(nodes.len());
    for node in nodes {
        match node {
            TextNode::Text(text) => out.extend(step(&text)),
            other => out.push(map_children(other, &mut |children| {
                map_leaves(children, step)
            })),
        }
    }
    out
}

/// Applies `f` to the children of a node that has them; other nodes are returned unchanged.
fn map_children(node: TextNode, f: &mut dyn FnMut(Vec<TextNode>) -> Vec<TextNode>) -> TextNode {
    match node {
        TextNode::Bold(c) => TextNode::Bold(f(c)),
        TextNode::Italic(c) => TextNode::Italic(f(c)),
        TextNode::Strikethrough(c) => TextNode::Strikethrough(f(c)),
        TextNode::BulletList(c) => TextNode::BulletList(f(c)),
        TextNode::BulletPoint(c) => TextNode::BulletPoint(f(c)),
        TextNode::Link { url, children } => TextNode::Link {
            url,
            children: f(children),
        },
        TextNode::ActionLink {
            action,
            params,
            children,
        } => TextNode::ActionLink {
            action,
            params,
            children: f(children),
        },
        TextNode::ActionButton {
            action,
            params,
            children,
        } => TextNode::ActionButton {
            action,
            params,
            children: f(children),
        },
        other => other,
    }
}

/// Cuts a leaf into lines, each keeping its trailing `\n`.
fn split_lines(leaf: &str) -> Vec<TextNode> {
    leaf.split_inclusive('\n').map(TextNode::text).collect()
}

/// Inside links and action links/buttons the label is shown as written, so autolinks found in it
/// become plain text again (at any depth).
fn flatten_link_labels(nodes: Vec<TextNode>, in_label: bool) -> Vec<TextNode> {
    nodes
        .into_iter()
        .map(|node| match node {
            TextNode::AutoLink { text, .. } if in_label => TextNode::Text(text),
            TextNode::Link { .. } | TextNode::ActionLink { .. } | TextNode::ActionButton { .. } => {
                map_children(node, &mut |c| flatten_link_labels(c, true))
            }
            other => map_children(other, &mut |c| flatten_link_labels(c, in_label)),
        })
        .collect()
}

/// Joins adjacent strings and drops empty ones, at every depth.
fn merge_text(nodes: Vec<TextNode>) -> Vec<TextNode> {
    let mut out: Vec<TextNode> = Vec::with_capacity(nodes.len());
    for node in nodes {
        match node {
            TextNode::Text(text) if text.is_empty() => {}
            TextNode::Text(text) => match out.last_mut() {
                Some(TextNode::Text(prev)) => prev.push_str(&text),
                _ => out.push(TextNode::Text(text)),
            },
            other => out.push(map_children(other, &mut merge_text)),
        }
    }
    out
}

/// Appends `text` as a plain-text node unless it is empty.
fn push_text(out: &mut Vec<TextNode>, text: &str) {
    if !text.is_empty() {
        out.push(TextNode::text(text));
    }
}
