//! What a user may put in the text of a message they send or edit.
//!
//! The official client's .d.ts documents two server rules for text nodes, and this module applies
//! both to every text block before it is stored:
//!
//! - Permission: "By default, users do not have permission to send messages containing
//!   `LinkNode`", nor `ActionLinkNode` or action buttons, because they can hide where a link goes or
//!   trick others into invoking custom actions. The emulator has no role settings, so the default
//!   holds: such messages get 403 [`LINK_NOT_ALLOWED`].
//! - Honest autolinks: an `AutoLinkNode` is allowed only when its `text` shows where its `url`
//!   goes: the same e-mail address (`mailto:`), the same phone number (`tel:`), or for a website
//!   the same domain, plus the same protocol, path, query and fragment wherever the text spells
//!   them out (a text without a protocol needs an `http`/`https` url). Otherwise 400
//!   [`INVALID_AUTOLINK`].
//!
//! Node types the .d.ts does not list are refused too (400): clients turn them into `null`.

use talkjs_protocol::content::TextNode;

use super::{ApiError, ApiResult};

/// Error code: the text holds a link, action link or action button, which users may not send.
pub const LINK_NOT_ALLOWED: &str = "LINK_NOT_ALLOWED";
/// Error code: an autolink's text does not show where its url goes.
pub const INVALID_AUTOLINK: &str = "INVALID_AUTOLINK";

/// Checks the nodes of one text block, recursively.
pub(crate) fn check_text(nodes: &[TextNode]) -> ApiResult<()> {
    for node in nodes {
        match node {
            TextNode::Link { .. } | TextNode::ActionLink { .. } | TextNode::ActionButton { .. } => {
                return Err(ApiError::forbidden(
                    LINK_NOT_ALLOWED,
                    "users may not send links, action links or action buttons",
                ));
            }
            TextNode::AutoLink { url, text } if !autolink_is_honest(text, url) => {
                return Err(ApiError::new(
                    400,
                    INVALID_AUTOLINK,
                    format!("the autolink text {text:?} does not match its url {url:?}"),
                ));
            }
            TextNode::Unknown(object) => {
                let kind = object.get("type").and_then(|t| t.as_str()).unwrap_or("?");
                return Err(ApiError::bad_request(format!(
                    "unknown text node type {kind:?}"
                )));
            }
            other => {
                if let Some(children) = other.children() {
                    check_text(children)?;
                }
            }
        }
    }
    Ok(())
}

/// Whether an autolink's text shows where it goes (see the module docs).
fn autolink_is_honest(text: &str, url: &str) -> bool {
    let (scheme, rest) = match url.split_once(':') {
        Some((scheme, rest)) => (scheme.to_ascii_lowercase(), rest),
        None => return false,
    };
    match scheme.as_str() {
        "mailto" => rest.eq_ignore_ascii_case(text.trim()),
        "tel" => {
            let digits = |s: &str| {
                s.chars()
                    .filter(|c| c.is_ascii_digit() || *c == '+')
                    .collect::<String>()
            };
            !digits(rest).is_empty() && digits(rest) == digits(text)
        }
        _ => website_matches(text, url),
    }
}

/// The parts of a web address; `None` where the address does not spell a part out.
#[derive(Debug, PartialEq)]
struct WebAddress<'a> {
    scheme: Option<String>,
    host: String,
    path: Option<&'a str>,
    query: Option<&'a str>,
    fragment: Option<&'a str>,
}

fn parse_web_address(s: &str) -> Option<WebAddress<'_>> {
    let (scheme, rest) = match s.split_once("://") {
        Some((scheme, rest)) => (Some(scheme.to_ascii_lowercase()), rest),
        None => (None, s),
    };
    let (rest, fragment) = match rest.split_once('#') {
        Some((rest, fragment)) => (rest, Some(fragment)),
        None => (rest, None),
    };
    let (rest, query) = match rest.split_once('?') {
        Some((rest, query)) => (rest, Some(query)),
        None => (rest, None),
    };
    let (host, path) = match rest.find('/') {
        Some(i) => (&rest[..i], Some(&rest[i..])),
        None => (rest, None),
    };
    if host.is_empty() {
        return None;
    }
    Some(WebAddress {
        scheme,
        host: host.to_ascii_lowercase(),
        path,
        query,
        fragment,
    })
}

fn website_matches(text: &str, url: &str) -> bool {
    let (Some(shown), Some(target)) = (parse_web_address(text.trim()), parse_web_address(url))
    else {
        return false;
    };
    let Some(target_scheme) = &target.scheme else {
        return false;
    };
    let scheme_ok = match &shown.scheme {
        Some(s) => s == target_scheme,
        None => target_scheme == "http" || target_scheme == "https",
    };
    // A part the text spells out must be the url's; a part it leaves out may be anything.
    let same = |shown: Option<&str>, target: Option<&str>| shown.is_none() || shown == target;
    scheme_ok
        && shown.host == target.host
        && same(shown.path, target.path)
        && same(shown.query, target.query)
        && same(shown.fragment, target.fragment)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn autolinks_the_official_client_makes_are_honest() {
        for (text, url) in [
            ("www.example.com", "http://www.example.com"),
            (
                "https://example.com/path?q=1#f",
                "https://example.com/path?q=1#f",
            ),
            ("me@example.org", "mailto:me@example.org"),
            ("123-4567", "tel:1234567"),
            ("+31 6 12345678", "tel:+31612345678"),
            (
                "talkjs.com",
                "https://talkjs.com/docs/JavaScript_Data_API/Message_Content/#AutoLinkNode",
            ),
        ] {
            assert!(autolink_is_honest(text, url), "{text} -> {url}");
        }
    }

    #[test]
    fn autolinks_that_hide_their_target_are_not() {
        for (text, url) in [
            ("talkjs.com", "https://evil.com"),
            ("talkjs.com", "https://talkjs.com.evil.com"),
            ("sub.talkjs.com", "https://talkjs.com"),
            ("https://talkjs.com", "http://talkjs.com"),
            ("talkjs.com", "ftp://talkjs.com"),
            ("talkjs.com/page", "https://talkjs.com/other"),
            ("talkjs.com?a=1", "https://talkjs.com?a=2"),
            ("talkjs.com#x", "https://talkjs.com#y"),
            ("me@example.org", "mailto:you@example.org"),
            ("123-4567", "tel:7654321"),
            ("talkjs.com", "talkjs.com"),
        ] {
            assert!(!autolink_is_honest(text, url), "{text} -> {url}");
        }
    }
}
