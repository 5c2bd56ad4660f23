//! Content to plaintext, as the official client computes a snapshot's `plaintext`
//! (docs/protocol.md §6.6).
//!
//! Blocks are joined with a blank line. Text keeps its characters and drops formatting, except
//! that bullet points become `- ` lines and mentions get an `@`. Files show an emoji for their kind
//! and the name from their URL; voice recordings show their duration; locations a pin.

use crate::content::{ContentBlock, FileBlock, FileSubtype, TextNode};
use crate::path::decode_component;

/// What separates blocks.
const BLOCK_SEPARATOR: &str = "\n\n";

/// The plaintext of a message's content.
pub fn plaintext(blocks: &[ContentBlock]) -> String {
    let parts: Vec<String> = blocks
        .iter()
        .map(|b| match b {
            ContentBlock::Text(t) => text_plaintext(&t.children),
            ContentBlock::File(f) => file_plaintext(f),
            ContentBlock::Location(_) => "📍".to_owned(),
        })
        .collect();
    parts.join(BLOCK_SEPARATOR)
}

/// The plaintext of a list of text nodes.
pub fn text_plaintext(nodes: &[TextNode]) -> String {
    let mut out = String::new();
    for n in nodes {
        push_node(n, &mut out);
    }
    out
}

fn push_node(node: &TextNode, out: &mut String) {
    match node {
        TextNode::Text(s) => out.push_str(s),
        TextNode::Bold(c)
        | TextNode::Italic(c)
        | TextNode::Strikethrough(c)
        | TextNode::Link { children: c, .. }
        | TextNode::ActionLink { children: c, .. }
        | TextNode::ActionButton { children: c, .. } => c.iter().for_each(|n| push_node(n, out)),
        TextNode::BulletList(c) => {
            out.push('\n');
            c.iter().for_each(|n| push_node(n, out));
        }
        TextNode::BulletPoint(c) => {
            out.push_str("- ");
            c.iter().for_each(|n| push_node(n, out));
            out.push('\n');
        }
        TextNode::CodeSpan(t) | TextNode::CustomEmoji(t) | TextNode::AutoLink { text: t, .. } => {
            out.push_str(t)
        }
        TextNode::Mention { text, .. } => {
            out.push('@');
            out.push_str(text);
        }
        TextNode::Unknown(map) => {
            // Types this crate does not model (blockquote, codeBlock, emoji, suppressed, ...):
            // the official client shows their children or their text, and nothing for `suppressed`.
            if map.get("type").and_then(|t| t.as_str()) == Some("suppressed") {
                return;
            }
            if let Some(children) = map.get("children").and_then(|c| c.as_array()) {
                for child in children {
                    if let Ok(n) = serde_json::from_value::<TextNode>(child.clone()) {
                        push_node(&n, out);
                    }
                }
            } else if let Some(text) = map.get("text").and_then(|t| t.as_str()) {
                out.push_str(text);
            }
        }
    }
}

fn file_plaintext(f: &FileBlock) -> String {
    let name = name_from_url(&f.url);
    match f.subtype {
        Some(FileSubtype::Image) => format!("📷 {name}"),
        Some(FileSubtype::Video) => format!("🎥 {name}"),
        Some(FileSubtype::Audio) => format!("🎧 {name}"),
        Some(FileSubtype::Voice) => match f.duration {
            Some(d) => format!("🎙️ ({})", minutes_seconds(d)),
            None => "🎙️".to_owned(),
        },
        None => format!("📎 {name}"),
    }
}

/// The last path segment of a URL, without query or fragment, percent-decoded.
fn name_from_url(url: &str) -> String {
    let path = url.split(['?', '#']).next().unwrap_or(url);
    let last = path.rsplit('/').next().unwrap_or(path);
    decode_component(last).unwrap_or_else(|_| last.to_owned())
}

/// `m:ss` from seconds, rounding down to whole seconds.
fn minutes_seconds(seconds: f64) -> String {
    let total = if seconds.is_finite() && seconds > 0.0 {
        seconds.floor() as u64
    } else {
        0
    };
    format!("{}:{:02}", total / 60, total % 60)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_documented_example() {
        let content: Vec<ContentBlock> = serde_json::from_value(json!([
            {"type": "text", "children": [
                "a ", {"type": "autoLink", "url": "http://x.com", "text": "x.com"}, " ",
                {"type": "autoLink", "url": "http://y.com", "text": "y.com"}, " ",
                {"type": "codeSpan", "text": "cs"}, {"type": "bold", "children": ["CS"]},
                {"type": "bulletList", "children": [{"type": "bulletPoint", "children": ["p1"]}]},
                {"type": "customEmoji", "text": ":cat:"}, {"type": "mention", "id": "b", "text": "Bob"}, "ALL"
            ]},
            {"type": "file", "subtype": "image", "fileToken": "t", "url": "https://cdn/x/some%20pic.png?x=1", "size": 1, "filename": "ignored.png"},
            {"type": "file", "subtype": "voice", "fileToken": "t", "url": "https://cdn/v.webm", "size": 1, "filename": "v.webm", "duration": 75.4},
            {"type": "file", "fileToken": "t", "url": "https://cdn/doc.pdf", "size": 1, "filename": "doc.pdf"},
            {"type": "location", "latitude": 1, "longitude": 2}
        ]))
        .unwrap();
        assert_eq!(
            plaintext(&content),
            "a x.com y.com csCS\n- p1\n:cat:@BobALL\n\n📷 some pic.png\n\n🎙️ (1:15)\n\n📎 doc.pdf\n\n📍"
        );
    }
}
