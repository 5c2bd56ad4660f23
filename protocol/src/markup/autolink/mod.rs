//! URL and e-mail autolinks.
//!
//! The official client finds these with the Autolinker.js library (4.1.5, MIT licensed; its notice
//! is in THIRD_PARTY_NOTICES.md at the repository root, since this module follows its logic closely),
//! configured for URLs and e-mail addresses only. This module reimplements the part of that
//! library's behaviour the client relies on, written for this crate from the library's public
//! rules and checked by black-box observation of the official client (see
//! `conformance/record-markup.mjs`; the character classes and the TLD list in [`tables`] were
//! measured that way):
//!
//! * The text is read as HTML ([`html`]): nothing inside a tag, a comment or the content of an
//!   `<a>`, `<script>` or `<style>` element is linked, and the character entities `&nbsp;`, `&lt;`,
//!   `&gt;`, `&quot;`, `&#39;` (and numeric twins) split the text into separately scanned pieces.
//! * Each piece is scanned by [`scanner`]: a set of small state machines, one per candidate kind
//!   (URL with a scheme, bare host name, IPv4 address, e-mail address, and also hashtag, `@handle`
//!   and phone number, which are recognised only to be thrown away, but whose presence blocks other
//!   candidates from starting, exactly as in the library).
//! * Candidates starting at the same place keep the longest; only URLs and e-mail addresses
//!   remain; candidates are turned into nodes left to right. Overlapping candidates (a URL inside
//!   the query of another) each produce a node, so their text appears twice, as in the official
//!   client.
//!
//! Everything works on UTF-16 code units, as JavaScript does: offsets, and character classes in
//! which every surrogate counts as a letter (so emoji may be part of a host name). The official
//! client can therefore cut a character outside the BMP in two (`/😀www.y.org` links from the
//! emoji's second half) and send lone surrogates; a Rust string cannot hold those, so the halves
//! become U+FFFD here.

mod html;
mod phone_number;
mod scanner;
mod tables;

use crate::content::TextNode;
use scanner::{Found, Kind};

/// The URL prefix added to links found without a scheme.
const DEFAULT_SCHEME: &str = "http://";
/// The URL prefix of e-mail links.
const MAILTO: &str = "mailto:";

/// Character entities that split text into separately scanned pieces (matched in any case).
const SPLITTING_ENTITIES: [&str; 9] = [
    "&nbsp;", "&#160;", "&lt;", "&#60;", "&gt;", "&#62;", "&quot;", "&#34;", "&#39;",
];

pub(super) fn autolinks(leaf: &str) -> Vec<TextNode> {
    let units: Vec<u16> = leaf.encode_utf16().collect();
    let mut found = Vec::new();
    for (start, end) in html::text_ranges(&units) {
        for (piece_start, piece_end) in entity_pieces(&units, start, end) {
            found.extend(
                scanner::scan(&units[piece_start..piece_end])
                    .into_iter()
                    .map(|f| Found {
                        offset: f.offset + piece_start,
                        ..f
                    }),
            );
        }
    }
    let found = compact(found);
    let mut out = Vec::new();
    let mut last = 0;
    for m in found
        .iter()
        .filter(|m| matches!(m.kind, Kind::Url(_) | Kind::Email))
    {
        if m.offset > last {
            push_units(&mut out, &units[last..m.offset]);
        }
        let text = String::from_utf16_lossy(&units[m.offset..m.offset + m.len]);
        let url = match m.kind {
            Kind::Email => format!("{MAILTO}{}", strip_mailto(&text)),
            Kind::Url(kind) if kind.keeps_text_as_url() || text.starts_with("//") => text.clone(),
            _ => format!("{DEFAULT_SCHEME}{text}"),
        };
        out.push(TextNode::AutoLink { url, text });
        last = m.offset + m.len;
    }
    if last < units.len() {
        push_units(&mut out, &units[last..]);
    }
    out
}

fn push_units(out: &mut Vec<TextNode>, units: &[u16]) {
    out.push(TextNode::Text(String::from_utf16_lossy(units)));
}

/// Removes a leading `mailto:` (any case) from an e-mail match.
fn strip_mailto(text: &str) -> &str {
    match text.get(..MAILTO.len()) {
        Some(prefix) if prefix.eq_ignore_ascii_case(MAILTO) => &text[MAILTO.len()..],
        _ => text,
    }
}

/// Splits `units[start..end]` at the splitting entities; returns the ranges between them.
fn entity_pieces(units: &[u16], start: usize, end: usize) -> Vec<(usize, usize)> {
    let mut pieces = Vec::new();
    let mut piece_start = start;
    let mut i = start;
    while i < end {
        let entity = (units[i] == u16::from(b'&'))
            .then(|| {
                SPLITTING_ENTITIES
                    .iter()
                    .find(|e| starts_with_ignore_ascii_case(&units[i..end], e))
            })
            .flatten();
        match entity {
            Some(entity) => {
                pieces.push((piece_start, i));
                i += entity.len();
                piece_start = i;
            }
            None => i += 1,
        }
    }
    pieces.push((piece_start, end));
    pieces
}

fn starts_with_ignore_ascii_case(units: &[u16], ascii: &str) -> bool {
    units.len() >= ascii.len()
        && ascii
            .bytes()
            .zip(units)
            .all(|(a, &u)| u8::try_from(u).is_ok_and(|u| u.eq_ignore_ascii_case(&a)))
}

/// Orders candidates by offset (stably) and, of candidates at the same offset, keeps the longer
/// one (the earlier one on a tie).
fn compact(mut found: Vec<Found>) -> Vec<Found> {
    found.sort_by_key(|f| f.offset);
    let mut i = 0;
    while i + 1 < found.len() {
        if found[i + 1].offset == found[i].offset {
            let remove = if found[i + 1].len > found[i].len {
                i
            } else {
                i + 1
            };
            found.remove(remove);
        } else {
            i += 1;
        }
    }
    found
}
