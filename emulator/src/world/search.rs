//! Search over the current user's conversations, newest first.
//!
//! The rules are the ones the official `.d.ts` gives for `MessageSearch.setQuery` and
//! `ConversationSearch.setQuery` (docs/protocol.md §12.5):
//!
//! * A query matches a text when **each word of the query starts some word of the text**. Words
//!   are separated by whitespace, compared lower-cased, with punctuation at their start and end
//!   ignored (in the query and in the text); see [`Matcher`]. So `rain` and `look at` find
//!   "I like to look at rainbows", `bows` and `look-at` do not.
//! * Messages: the text is the plaintext (§6.6) of the message's text blocks. A message without a
//!   text block (a file, a location) is never found.
//! * Conversations: the query must match the subject, or `custom.search`; each on its own, never
//!   some words in one and the rest in the other.
//! * A query without words (empty, or only punctuation) finds nothing.
//! * `limit` is 1–50 (what the `.d.ts` allows `loadMore`); anything else is 400 `BAD_REQUEST`.
//!
//! Later pages are requested with only a cursor, so the cursor carries the query and filter.

use talkjs_protocol::content::ContentBlock;
use talkjs_protocol::filter::ConversationFilter;
use talkjs_protocol::plaintext::text_plaintext;
use talkjs_protocol::request::{SearchConversationLine, SearchPage};
use talkjs_protocol::wire::{MessageWire, Millis};

use super::cursor;
use super::view::message_wire;
use super::{ApiError, ApiResult, World};
use crate::store::MessageRecord;

/// Results per page when the request gives no limit (what the official client asks for first).
pub const DEFAULT_SEARCH_PAGE: usize = 3;
/// The largest page a search request may ask for: the `.d.ts` allows `loadMore` limits of 1–50.
pub const MAX_SEARCH_PAGE: usize = 50;
/// The key of a conversation's custom data that conversation search looks in, besides the subject.
pub const CUSTOM_SEARCH_KEY: &str = "search";
/// Messages message search reads from the store at a time, scanning a conversation.
const SCAN_CHUNK: usize = 64;
/// Joins the plaintext of several text blocks (as [`talkjs_protocol::plaintext::plaintext`] does).
const BLOCK_SEPARATOR: &str = "\n\n";

/// A search query, ready to test texts: its words, lower-cased, without edge punctuation.
///
/// ```
/// use talkjs_emulator::world::search::Matcher;
///
/// let text = "I like to look at rainbows";
/// assert!(Matcher::new("(look, i *LIKE* rain)").matches(text));
/// assert!(!Matcher::new("bows").matches(text));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matcher {
    words: Vec<String>,
}

impl Matcher {
    /// The matcher of `query`.
    pub fn new(query: &str) -> Matcher {
        Matcher {
            words: words(query).collect(),
        }
    }

    /// Whether the query has no words (it is empty or only punctuation): it matches nothing.
    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }

    /// Whether each word of the query starts some word of `text`.
    pub fn matches(&self, text: &str) -> bool {
        if self.is_empty() {
            return false;
        }
        let text: Vec<String> = words(text).collect();
        self.words
            .iter()
            .all(|q| text.iter().any(|t| t.starts_with(q.as_str())))
    }
}

/// The words of `text` as search compares them: split at whitespace, punctuation trimmed from
/// both ends, lower-cased; words that were only punctuation are dropped.
pub fn words(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split_whitespace().filter_map(|w| {
        let w = w.trim_matches(is_punctuation);
        (!w.is_empty()).then(|| w.to_lowercase())
    })
}

/// Punctuation, as search ignores it at the edges of words: ASCII punctuation (which includes
/// symbols such as `$`, `+` and `|`) and the punctuation of other scripts (Latin-1, Greek, Arabic,
/// Devanagari, the General and Supplemental Punctuation blocks, CJK and fullwidth forms). Letters,
/// digits, marks and emoji are not punctuation, so an emoji is a word that can be searched for.
fn is_punctuation(c: char) -> bool {
    c.is_ascii_punctuation()
        || matches!(
            c,
            '\u{00A1}' | '\u{00A7}' | '\u{00AB}' | '\u{00B6}' | '\u{00B7}' | '\u{00BB}' | '\u{00BF}'
                | '\u{037E}' | '\u{0387}'
                | '\u{060C}' | '\u{061B}' | '\u{061F}' | '\u{066A}'..='\u{066D}' | '\u{06D4}'
                | '\u{0964}' | '\u{0965}'
                | '\u{2010}'..='\u{2027}'
                | '\u{2030}'..='\u{205E}'
                | '\u{2E00}'..='\u{2E7F}'
                | '\u{3001}'..='\u{3003}'
                | '\u{3008}'..='\u{3011}'
                | '\u{3014}'..='\u{301F}'
                | '\u{30FB}'
                | '\u{FE10}'..='\u{FE19}'
                | '\u{FE30}'..='\u{FE6B}'
                | '\u{FF01}'..='\u{FF0F}'
                | '\u{FF1A}'..='\u{FF20}'
                | '\u{FF3B}'..='\u{FF40}'
                | '\u{FF5B}'..='\u{FF65}'
        )
}

/// What message search looks in: the plaintext of the message's text blocks, or `None` for a
/// message without one (a file, a location), which search never returns.
pub fn searchable_text(content: &[ContentBlock]) -> Option<String> {
    let texts: Vec<String> = content
        .iter()
        .filter_map(|b| match b {
            ContentBlock::Text(t) => Some(text_plaintext(&t.children)),
            _ => None,
        })
        .collect();
    (!texts.is_empty()).then(|| texts.join(BLOCK_SEPARATOR))
}

/// The page size a search asks for: missing means [`DEFAULT_SEARCH_PAGE`]; outside
/// 1–[`MAX_SEARCH_PAGE`] is 400.
fn search_page_size(limit: Option<usize>) -> ApiResult<usize> {
    match limit {
        None => Ok(DEFAULT_SEARCH_PAGE),
        Some(n) if (1..=MAX_SEARCH_PAGE).contains(&n) => Ok(n),
        Some(n) => Err(ApiError::bad_request(format!(
            "limit must be between 1 and {MAX_SEARCH_PAGE}, got {n}"
        ))),
    }
}

/// A search request: the first page gives query and filter, later pages only a cursor.
#[derive(Debug, Clone, Default)]
pub struct SearchQuery {
    /// The text to find.
    pub query: String,
    /// Only conversations matching this.
    pub filter: Option<ConversationFilter>,
    /// Where to continue (from an earlier page).
    pub cursor: Option<String>,
    /// Page size.
    pub limit: Option<usize>,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct SearchCursor {
    query: String,
    filter: Option<ConversationFilter>,
    after: (Millis, String),
}

/// A search request with its cursor unpacked.
struct Resolved {
    query: String,
    filter: Option<ConversationFilter>,
    after: Option<(Millis, String)>,
    limit: usize,
}

impl World {
    /// The query, filter and position a request means: its own for a first page, the cursor's
    /// for a later one.
    fn resolve(&self, q: SearchQuery) -> ApiResult<Resolved> {
        let limit = search_page_size(q.limit)?;
        Ok(match q.cursor {
            Some(c) => {
                let c: SearchCursor = cursor::decode(&c)?;
                Resolved {
                    query: c.query,
                    filter: c.filter,
                    after: Some(c.after),
                    limit,
                }
            }
            None => Resolved {
                query: q.query,
                filter: q.filter,
                after: None,
                limit,
            },
        })
    }

    /// The conversations of `user` that pass the filter.
    fn searchable_conversations(
        &self,
        user: &str,
        filter: Option<&ConversationFilter>,
    ) -> Vec<String> {
        self.store
            .conversations_of(user)
            .into_iter()
            .filter(|c| {
                let Some(conv) = self.store.conversation(c) else {
                    return false;
                };
                let Some(view) = self.conversation_wire(conv, user) else {
                    return false;
                };
                filter.is_none_or(|f| f.matches(&view))
            })
            .collect()
    }

    /// `GET /me/messages/search`: newest first (by time, then id, as the store orders a
    /// conversation). Each conversation is scanned newest first from the cursor and only until
    /// it has given a page and one more; nothing is copied until it is on the page.
    pub fn search_messages(
        &self,
        user: &str,
        q: SearchQuery,
    ) -> ApiResult<SearchPage<MessageWire>> {
        let Resolved {
            query,
            filter,
            after,
            limit,
        } = self.resolve(q)?;
        let matcher = Matcher::new(&query);
        let mut hits: Vec<&MessageRecord> = Vec::new();
        if !matcher.is_empty() {
            for c in self.searchable_conversations(user, filter.as_ref()) {
                hits.extend(self.newest_matches(&c, &matcher, after.as_ref(), limit + 1));
            }
        }
        hits.sort_by(|a, b| (b.created_at, &b.id).cmp(&(a.created_at, &a.id)));
        let more = hits.len() > limit;
        hits.truncate(limit);
        let cursor = match (more, hits.last()) {
            (true, Some(last)) => Some(cursor::encode(&SearchCursor {
                query,
                filter,
                after: (last.created_at, last.id.clone()),
            })),
            _ => None,
        };
        let results = hits
            .into_iter()
            .map(|m| {
                let mut w = message_wire(m, user);
                w.conversation_id = Some(m.conversation_id.clone());
                w
            })
            .collect();
        Ok(SearchPage { results, cursor })
    }

    /// Up to `want` messages of `conversation` that match, newest first, strictly before
    /// `before`, read from the store [`SCAN_CHUNK`] at a time.
    fn newest_matches<'a>(
        &'a self,
        conversation: &str,
        matcher: &Matcher,
        before: Option<&(Millis, String)>,
        want: usize,
    ) -> Vec<&'a MessageRecord> {
        let mut found = Vec::new();
        let mut before = before.cloned();
        loop {
            let chunk = self
                .store
                .messages(conversation, before.as_ref(), SCAN_CHUNK);
            for m in &chunk {
                if searchable_text(&m.content).is_some_and(|t| matcher.matches(&t)) {
                    found.push(*m);
                    if found.len() == want {
                        return found;
                    }
                }
            }
            match chunk.last() {
                Some(last) if chunk.len() == SCAN_CHUNK => {
                    before = Some((last.created_at, last.id.clone()));
                }
                _ => return found,
            }
        }
    }

    /// `GET /me/conversations/search`: by subject, or by `custom.search`.
    pub fn search_conversations(
        &self,
        user: &str,
        q: SearchQuery,
    ) -> ApiResult<SearchPage<SearchConversationLine>> {
        let Resolved {
            query,
            filter,
            after,
            limit,
        } = self.resolve(q)?;
        let matcher = Matcher::new(&query);
        let mut hits: Vec<(Millis, String)> = Vec::new();
        if !matcher.is_empty() {
            for c in self.searchable_conversations(user, filter.as_ref()) {
                let Some(conv) = self.store.conversation(&c) else {
                    continue;
                };
                // Each field on its own: the query's words may not be split between them.
                let found = [conv.subject.as_ref(), conv.custom.get(CUSTOM_SEARCH_KEY)]
                    .into_iter()
                    .flatten()
                    .any(|text| matcher.matches(text));
                if found && let Some(view) = self.conversation_wire(conv, user) {
                    hits.push((view.last_message_at, c));
                }
            }
        }
        hits.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
        let start = after.map_or(0, |(t, id)| {
            hits.iter()
                .position(|(at, c)| *at < t || (*at == t && *c > id))
                .unwrap_or(hits.len())
        });
        let more = hits.len() > start + limit;
        let page: Vec<(Millis, String)> = hits.into_iter().skip(start).take(limit).collect();
        let cursor = match (more, page.last()) {
            (true, Some(last)) => Some(cursor::encode(&SearchCursor {
                query,
                filter,
                after: last.clone(),
            })),
            _ => None,
        };
        Ok(SearchPage {
            results: page
                .into_iter()
                .map(|(_, id)| SearchConversationLine { id })
                .collect(),
            cursor,
        })
    }
}

#[cfg(test)]
mod tests {
    use talkjs_protocol::content::{
        FileBlock, FileSubtype, FileToken, LocationBlock, TextBlock, TextNode,
    };

    use super::*;

    const RAINBOWS: &str = "I like to look at rainbows";

    fn found(query: &str, text: &str) -> bool {
        Matcher::new(query).matches(text)
    }

    #[test]
    fn the_documented_examples() {
        for query in [
            "rainbows",
            "rain",
            "look at",
            "(look, i *LIKE* rain)",
            "look look look!",
        ] {
            assert!(found(query, RAINBOWS), "{query:?} should match");
        }
        for query in [
            "bows",
            "rain-bows",
            "look-at",
            "I like to look at rainbows too",
        ] {
            assert!(!found(query, RAINBOWS), "{query:?} should not match");
        }
    }

    #[test]
    fn every_word_must_start_a_word_in_any_order() {
        assert!(found("rainbows I", RAINBOWS));
        assert!(found("LoOk RAIN", RAINBOWS));
        assert!(
            !found("look clouds", RAINBOWS),
            "one word missing is no match"
        );
        assert!(
            !found("ike", RAINBOWS),
            "inside a word is not the start of it"
        );
        assert!(found("i", RAINBOWS));
        assert!(
            !found("rainbowss", RAINBOWS),
            "a query word longer than the text word"
        );
    }

    #[test]
    fn punctuation_at_the_edges_of_text_words_is_ignored_but_not_inside() {
        let text = "Hello, world! (Really?) \"quoted\" ‘curly’ «guillemets» ...dots... @Bob's";
        for query in [
            "hello",
            "world",
            "really",
            "quoted",
            "curly",
            "guillemets",
            "dots",
            "bob",
            "bob's",
            "@bob",
        ] {
            assert!(found(query, text), "{query:?}");
        }
        assert!(!found("bobs", text));
        assert!(
            found("rain", "rain-bows"),
            "a hyphenated word starts with its first part"
        );
        assert!(
            !found("bows", "rain-bows"),
            "the hyphen does not split the word"
        );
        assert!(found("rain-b", "rain-bows"));
    }

    #[test]
    fn words_are_split_at_any_whitespace() {
        let text = "one\ttwo\nthree\u{00A0}four\u{3000}five";
        assert!(found("one two three four five", text));
        assert_eq!(
            words("  a\n\nb  ").collect::<Vec<_>>(),
            ["a", "b"],
            "no empty words"
        );
    }

    #[test]
    fn unicode_is_lower_cased_and_compared_exactly() {
        assert!(found("WÖ", "hello wörld"));
        assert!(found("über", "ÜBERALL"));
        assert!(!found("world", "wörld"), "accents are not folded");
        assert!(!found("wörld", "world"));
        assert!(found("ΟΔΟΣ", "οδος"));
        assert!(
            !found("straße", "STRASSE"),
            "lower-casing only, no case folding"
        );
        // Scripts without spaces: a text without whitespace is one word.
        assert!(found("東京", "東京タワー"));
        assert!(!found("タワー", "東京タワー"));
        // CJK and fullwidth punctuation is punctuation.
        assert!(found("東京", "「東京」に行きました。"));
        assert!(found("ｈｅｌｌｏ", "（ｈｅｌｌｏ）"));
        assert!(found("hi", "¿hi?"));
        assert!(found("qué", "¡Qué!"));
    }

    #[test]
    fn emoji_are_words_not_punctuation() {
        assert!(found("🎉", "party 🎉 time"));
        assert!(
            found("❤", "I ❤\u{FE0F} it"),
            "a prefix of an emoji sequence"
        );
        assert!(!found("🎉", "party time"));
        assert!(
            !found("party", "🎉party🎉"),
            "an emoji is part of the word it touches"
        );
    }

    #[test]
    fn a_query_without_words_matches_nothing() {
        for query in ["", "   ", "\n\t", "!!!", "& - ...", "“”", "（）"] {
            let m = Matcher::new(query);
            assert!(m.is_empty(), "{query:?}");
            assert!(!m.matches(RAINBOWS), "{query:?}");
            assert!(!m.matches(""), "{query:?}");
        }
        // Punctuation-only words among others are ignored.
        assert!(found("look & at", RAINBOWS));
        assert!(!Matcher::new("a").matches(""));
        assert!(!Matcher::new("a").matches("!!!"));
    }

    fn text(nodes: Vec<TextNode>) -> ContentBlock {
        ContentBlock::Text(TextBlock { children: nodes })
    }

    fn file(subtype: Option<FileSubtype>, name: &str) -> ContentBlock {
        ContentBlock::File(FileBlock {
            subtype,
            file_token: FileToken("t".into()),
            url: format!("http://h/files/t/{name}"),
            size: 1,
            filename: name.into(),
            width: None,
            height: None,
            duration: None,
        })
    }

    #[test]
    fn only_text_blocks_are_searched_by_their_plaintext() {
        let formatted = text(vec![
            TextNode::text("see "),
            TextNode::Bold(vec![TextNode::text("rainbows")]),
            TextNode::text(" with "),
            TextNode::Mention {
                id: "u1".into(),
                text: "Bob".into(),
            },
        ]);
        let t = searchable_text(std::slice::from_ref(&formatted)).expect("a text message");
        assert_eq!(t, "see rainbows with @Bob");
        assert!(Matcher::new("rain bob").matches(&t));

        for non_text in [
            file(Some(FileSubtype::Image), "rainbows.png"),
            file(None, "rainbows.pdf"),
            file(Some(FileSubtype::Voice), "voice.webm"),
            ContentBlock::Location(LocationBlock {
                latitude: 1.0,
                longitude: 2.0,
            }),
        ] {
            assert_eq!(
                searchable_text(std::slice::from_ref(&non_text)),
                None,
                "{non_text:?}"
            );
        }
        // A message with text and a file: the text is searched, not the file's name.
        let mixed = [
            text(vec![TextNode::text("look")]),
            file(Some(FileSubtype::Image), "rainbows.png"),
        ];
        assert_eq!(searchable_text(&mixed).as_deref(), Some("look"));
        assert_eq!(searchable_text(&[]), None);
    }

    #[test]
    fn limits_are_1_to_50_and_default_to_3() {
        assert_eq!(search_page_size(None).unwrap(), DEFAULT_SEARCH_PAGE);
        assert_eq!(search_page_size(Some(1)).unwrap(), 1);
        assert_eq!(search_page_size(Some(50)).unwrap(), 50);
        for bad in [0, 51, usize::MAX] {
            let e = search_page_size(Some(bad)).unwrap_err();
            assert_eq!(e.status, 400);
            assert_eq!(e.body.error_code, "BAD_REQUEST");
        }
    }
}
