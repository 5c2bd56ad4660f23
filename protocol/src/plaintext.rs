//! The plaintext the official client derives from message content (`MessageSnapshot.plaintext`).
//!
//! Servers do not send a plaintext; the official client computes it from the content blocks, and
//! UIs show it in notifications and conversation lists. A runtime that exposes snapshots must
//! produce the same string, so this module follows the official derivation exactly (checked by
//! `tests/plaintext.rs` against recorded snapshots):
//!
//! * Blocks are joined with a blank line (`"\n\n"`); a block of an unknown type contributes `""`.
//! * Text: strings as they are; bold, italic, strikethrough, links, action links/buttons and
//!   block quotes contribute their children; a bullet list is `"\n"` and its children, a bullet
//!   point `"- "`, its children and `"\n"`; autolinks, code spans, code blocks, emoji and custom
//!   emoji their `text`; a mention `"@"` and its name. Any other node, including `suppressed`,
//!   contributes nothing. Both spellings of the camelCase types are understood.
//! * Files: an emoji for the kind of file and the file's name, taken from the URL (not from
//!   `filename`): its last path segment without the query string, percent-decoded.
//! * Voice recordings: `🎙️`, plus the duration as `(m:ss)` when the block has one. Minutes are not
//!   folded into hours (`3600` s is `60:00`).
//! * Locations: `📍`.

use crate::content::{ContentBlock, FileBlock, FileSubtype, TextNode};
use crate::markup::percent::decode_uri_component;
use serde_json::{Map, Value};

/// Separates the plaintext of consecutive blocks.
const BLOCK_SEPARATOR: &str = "\n\n";
const IMAGE_PREFIX: &str = "📷 ";
const VIDEO_PREFIX: &str = "🎥 ";
const AUDIO_PREFIX: &str = "🎧 ";
const FILE_PREFIX: &str = "📎 ";
const VOICE: &str = "🎙️";
const LOCATION: &str = "📍";
const BULLET_LIST_PREFIX: &str = "\n";
const BULLET_POINT_PREFIX: &str = "- ";
const BULLET_POINT_SUFFIX: &str = "\n";
const MENTION_PREFIX: &str = "@";
const SECONDS_PER_MINUTE: f64 = 60.0;
/// Above this magnitude JavaScript prints numbers in exponent notation.
const JS_EXPONENT_THRESHOLD: f64 = 1e21;

/// The plaintext of a message's content, as the official client shows it.
///
/// ```
/// # mod talkjs { pub use talkjs_protocol::{filter, params, snapshot}; pub use talkjs_protocol as protocol; }
/// use talkjs::protocol::content::{ContentBlock, LocationBlock, TextBlock, TextNode};
/// use talkjs::protocol::plaintext::plaintext;
///
/// let blocks = vec![
///     ContentBlock::Text(TextBlock { children: vec![TextNode::text("meet here")] }),
///     ContentBlock::Location(LocationBlock { latitude: 52.37, longitude: 4.89 }),
/// ];
/// assert_eq!(plaintext(&blocks), "meet here\n\n📍");
/// ```
pub fn plaintext(blocks: &[ContentBlock]) -> String {
    blocks
        .iter()
        .map(block_plaintext)
        .collect::<Vec<_>>()
        .join(BLOCK_SEPARATOR)
}

/// The plaintext of the children of one text block.
///
/// ```
/// # mod talkjs { pub use talkjs_protocol::{filter, params, snapshot}; pub use talkjs_protocol as protocol; }
/// use talkjs::protocol::content::TextNode;
/// use talkjs::protocol::plaintext::text_plaintext;
///
/// let nodes = vec![
///     TextNode::text("hi "),
///     TextNode::Mention { id: "u1".into(), text: "Bob".into() },
/// ];
/// assert_eq!(text_plaintext(&nodes), "hi @Bob");
/// ```
pub fn text_plaintext(nodes: &[TextNode]) -> String {
    let mut out = String::new();
    for node in nodes {
        push_node(&mut out, node);
    }
    out
}

fn block_plaintext(block: &ContentBlock) -> String {
    match block {
        ContentBlock::Text(text) => text_plaintext(&text.children),
        ContentBlock::File(file) => file_plaintext(file),
        ContentBlock::Location(_) => LOCATION.to_owned(),
    }
}

fn push_node(out: &mut String, node: &TextNode) {
    match node {
        TextNode::Text(text) => out.push_str(text),
        TextNode::Bold(c)
        | TextNode::Italic(c)
        | TextNode::Strikethrough(c)
        | TextNode::Link { children: c, .. }
        | TextNode::ActionLink { children: c, .. }
        | TextNode::ActionButton { children: c, .. } => out.push_str(&text_plaintext(c)),
        TextNode::BulletList(c) => {
            out.push_str(BULLET_LIST_PREFIX);
            out.push_str(&text_plaintext(c));
        }
        TextNode::BulletPoint(c) => {
            out.push_str(BULLET_POINT_PREFIX);
            out.push_str(&text_plaintext(c));
            out.push_str(BULLET_POINT_SUFFIX);
        }
        TextNode::CodeSpan(text)
        | TextNode::CustomEmoji(text)
        | TextNode::AutoLink { text, .. } => out.push_str(text),
        TextNode::Mention { text, .. } => {
            out.push_str(MENTION_PREFIX);
            out.push_str(text);
        }
        TextNode::Unknown(map) => push_unknown(out, map),
    }
}

/// Node types this crate keeps as [`TextNode::Unknown`] but the official plaintext knows.
fn push_unknown(out: &mut String, map: &Map<String, Value>) {
    match map.get("type").and_then(Value::as_str) {
        Some("blockquote") => {
            if let Some(Value::Array(children)) = map.get("children") {
                for child in children {
                    match child {
                        Value::String(s) => out.push_str(s),
                        other => {
                            // A child that is not a valid node contributes nothing.
                            if let Ok(node) = serde_json::from_value::<TextNode>(other.clone()) {
                                push_node(out, &node);
                            }
                        }
                    }
                }
            }
        }
        Some("codeBlock" | "codeblock" | "emoji") => {
            if let Some(Value::String(text)) = map.get("text") {
                out.push_str(text);
            }
        }
        _ => {}
    }
}

fn file_plaintext(file: &FileBlock) -> String {
    match file.subtype {
        Some(FileSubtype::Voice) => match file.duration {
            Some(seconds) => format!("{VOICE} ({})", js_duration(seconds)),
            None => VOICE.to_owned(),
        },
        Some(FileSubtype::Image) => format!("{IMAGE_PREFIX}{}", file_name(&file.url)),
        Some(FileSubtype::Video) => format!("{VIDEO_PREFIX}{}", file_name(&file.url)),
        Some(FileSubtype::Audio) => format!("{AUDIO_PREFIX}{}", file_name(&file.url)),
        None => format!("{FILE_PREFIX}{}", file_name(&file.url)),
    }
}

/// `m:ss` with JavaScript arithmetic: floored minutes, floored remainder seconds padded to two
/// characters. Negative durations keep JavaScript's signs (`-5` is `-1:-5`).
fn js_duration(seconds: f64) -> String {
    let minutes = (seconds / SECONDS_PER_MINUTE).floor();
    let rest = (seconds % SECONDS_PER_MINUTE).floor();
    format!("{}:{:0>2}", js_number(minutes), js_number(rest))
}

/// JavaScript's `String(n)` for an integral number.
fn js_number(n: f64) -> String {
    if n == 0.0 {
        // Covers -0, which JavaScript prints as "0".
        "0".to_owned()
    } else if n.abs() < JS_EXPONENT_THRESHOLD {
        format!("{n}")
    } else {
        let exp = format!("{n:e}");
        match exp.split_once('e') {
            Some((mantissa, power)) if !power.starts_with('-') => format!("{mantissa}e+{power}"),
            _ => exp,
        }
    }
}

/// The file name shown for a file: the URL's last path segment without its query string,
/// percent-decoded, after `%2F` has been turned into `/`. When the URL has no such segment (it
/// ends with `/`, or a line break comes before its last `/`) the whole URL is used.
fn file_name(url: &str) -> String {
    let url = url.replace("%2F", "/");
    let name = last_segment(&url).unwrap_or(&url);
    // The official client throws on a malformed escape; show the name undecoded instead.
    decode_uri_component(name).unwrap_or_else(|| name.to_owned())
}

/// The official pattern: the first `/` (with no line break before it) after which a non-empty
/// name without `/` runs either to the end or to a `?` that starts a query with no line break.
fn last_segment(url: &str) -> Option<&str> {
    let is_break = |c: char| matches!(c, '\n' | '\r' | '\u{2028}' | '\u{2029}');
    let prefix_end = url.find(is_break).unwrap_or(url.len());
    url[..prefix_end]
        .match_indices('/')
        .map(|(slash, _)| &url[slash + 1..])
        .find_map(|rest| {
            rest.char_indices()
                .map(|(i, c)| i + c.len_utf8())
                .take_while(|&end| !rest[..end].contains('/'))
                .find(|&end| {
                    let tail = &rest[end..];
                    tail.is_empty() || (tail.starts_with('?') && !tail.contains(is_break))
                })
                .map(|end| &rest[..end])
        })
}
