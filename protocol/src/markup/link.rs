//! Formatted links `<URL|label>`.
//!
//! URL must start with `http:`, `https:` or `mailto:` (any case) and runs to the first `|`; the
//! label runs to the next `>`. Neither may contain a line break; the URL may contain spaces, `<`
//! and `>`.
//!
//! In the edit profile (before emphasis) the markup becomes a link whose label is parsed further
//! (emphasis), with autolinks found in it turned back into text at the end. The send profile does
//! not make links, but after emphasis the official client still cuts the markup into the leaves
//! `<`, `URL` and `|label>`, and that is visible: the URL is autolinked on its own, outside any
//! HTML context around it (`<a><https://x.io|y>` links `https://x.io`).

use super::chars::is_line_terminator;
use super::{Profile, push_text};
use crate::content::TextNode;

/// Schemes a formatted link may use, matched case-insensitively.
const SCHEMES: [&str; 3] = ["http:", "https:", "mailto:"];

pub(super) fn links(leaf: &str, profile: Profile) -> Vec<TextNode> {
    let mut out = Vec::new();
    let mut rest = leaf;
    let mut search_from = 0;
    while let Some(offset) = rest[search_from..].find('<') {
        let open = search_from + offset;
        match link_at(&rest[open + 1..]) {
            Some((url, label, len)) => {
                push_text(&mut out, &rest[..open]);
                match profile {
                    Profile::Edit => out.push(TextNode::Link {
                        url: url.to_owned(),
                        children: label_children(label),
                    }),
                    Profile::Send => {
                        out.push(TextNode::text("<"));
                        push_text(&mut out, url);
                        out.push(TextNode::text(format!("|{label}>")));
                    }
                }
                rest = &rest[open + 1 + len..];
                search_from = 0;
            }
            None => search_from = open + 1,
        }
    }
    push_text(&mut out, rest);
    out
}

/// The children of a link or action label before further parsing: the label text, if any.
pub(super) fn label_children(label: &str) -> Vec<TextNode> {
    let mut children = Vec::new();
    push_text(&mut children, label);
    children
}

/// Parses `URL|label>` right after a `<`: returns the URL, the label and the length consumed.
fn link_at(s: &str) -> Option<(&str, &str, usize)> {
    let has_scheme = SCHEMES.iter().any(|scheme| {
        s.get(..scheme.len())
            .is_some_and(|p| p.eq_ignore_ascii_case(scheme))
    });
    if !has_scheme {
        return None;
    }
    let bar = s
        .char_indices()
        .take_while(|&(_, c)| !is_line_terminator(c))
        .find(|&(_, c)| c == '|')
        .map(|(i, _)| i)?;
    let label = &s[bar + 1..];
    let gt = label
        .char_indices()
        .take_while(|&(_, c)| !is_line_terminator(c))
        .find(|&(_, c)| c == '>')
        .map(|(i, _)| i)?;
    Some((&s[..bar], &label[..gt], bar + 1 + gt + 1))
}
