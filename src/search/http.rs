//! A search's HTTP side (docs/protocol.md §1.7): the URL of a page (the query and filter for a
//! first page, the cursor for later ones, encoded as the official client encodes them) and its
//! fetch with the session's token. The request itself runs on the session's thread
//! (`send_authorized` uses `SessionHandle::run_local`: awc's futures are not `Send`).

use std::fmt::Write;
use std::time::Duration;

use serde::de::DeserializeOwned;
use talkjs_protocol::path::encode_component;
use talkjs_protocol::request::SearchPage;

use crate::Result;
use crate::session::TalkSession;
use crate::upload::{AuthorizedRequest, send_authorized};

/// How long one search request may take, answer included (TalkJS says a page can take up to a
/// minute).
const SEARCH_TIMEOUT: Duration = Duration::from_secs(120);
/// The largest answer read: 50 results of large messages fit easily.
const SEARCH_ANSWER_LIMIT: usize = 32 * 1024 * 1024;

/// One page over HTTP, with the session's token and the official client's retry policy.
pub(super) async fn fetch<L: DeserializeOwned>(
    session: &TalkSession,
    url: String,
) -> Result<SearchPage<L>> {
    let request = AuthorizedRequest {
        method: awc::http::Method::GET,
        url,
        content_type: "application/json".into(),
        body: None,
        timeout: SEARCH_TIMEOUT,
        body_limit: SEARCH_ANSWER_LIMIT,
    };
    let body = send_authorized(session, &"Search".into(), request).await?;
    let (page, skipped) = SearchPage::parse_body(&String::from_utf8_lossy(&body));
    if skipped > 0 {
        tracing::warn!(
            skipped,
            "search answer lines that do not parse were left out; some results may be missing"
        );
    }
    Ok(page)
}

/// One page to ask for.
pub(super) struct PageRequest<'a> {
    /// The URL segment: `messages` or `conversations`.
    pub(super) what: &'static str,
    /// The query, for a first page.
    pub(super) query: &'a str,
    /// The conversation filter's JSON, for a first page.
    pub(super) filter: &'a str,
    /// The previous page's cursor; `None` for a first page.
    pub(super) cursor: Option<&'a str>,
    /// How many results.
    pub(super) limit: u32,
}

impl PageRequest<'_> {
    /// The page's URL: query and filter for a first page, the cursor otherwise.
    pub(super) fn url(&self, session: &TalkSession) -> String {
        let mut url = format!(
            "{}/{}/me/{}/search?",
            session.urls().rest,
            session.app_id(),
            self.what
        );
        match self.cursor {
            Some(cursor) => {
                url.push_str("cursor=");
                form_encode(cursor, &mut url);
            }
            None => {
                // Encoded once here and once more as a query parameter, as the official client.
                let mut once = String::new();
                encode_component(self.query, &mut once);
                url.push_str("searchString=");
                form_encode(&once, &mut url);
                url.push_str("&conversationFilter=");
                form_encode(self.filter, &mut url);
            }
        }
        let _ = write!(url, "&limit={limit}", limit = self.limit);
        url
    }
}

/// Appends `value` encoded as `URLSearchParams` encodes a parameter
/// (`application/x-www-form-urlencoded`): ASCII letters, digits and `*-._` stay, a space
/// becomes `+`, every other byte is `%XX`.
fn form_encode(value: &str, out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in value.as_bytes() {
        match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'*' | b'-' | b'.' | b'_' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => {
                out.push('%');
                out.push(HEX[(b >> 4) as usize] as char);
                out.push(HEX[(b & 0xF) as usize] as char);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_query_is_encoded_twice_like_the_official_client() {
        // docs/protocol.md §1.7 and protocol/tests/fixtures/frames/search_messages.json.
        let mut once = String::new();
        encode_component("hello wörld & more", &mut once);
        let mut twice = String::new();
        form_encode(&once, &mut twice);
        assert_eq!(twice, "hello%2520w%25C3%25B6rld%2520%2526%2520more");
        let mut filter = String::new();
        form_encode(r#"{"custom":{"a":["==","b"]}}"#, &mut filter);
        assert_eq!(
            filter,
            "%7B%22custom%22%3A%7B%22a%22%3A%5B%22%3D%3D%22%2C%22b%22%5D%7D%7D"
        );
        let mut marks = String::new();
        form_encode("a b*~'()!", &mut marks);
        assert_eq!(marks, "a+b*%7E%27%28%29%21");
    }
}
