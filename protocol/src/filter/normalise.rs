//! Filter normalisation: the canonical form of a filter, as the official client computes it before
//! sending (docs/protocol.md §5.5).
//!
//! Two filters that mean the same thing normalise to the same value, so they can share one list
//! subscription, and the normalised JSON is what goes on the wire. Each predicate is rewritten on
//! its own, then the simple filters, then the compound:
//!
//! | predicate | becomes |
//! |---|---|
//! | `access` (`Read`/`ReadWrite`), message `type` and `origin` | the set of accepted values, written as `==`, `!=` (one value rejected) or `oneOf`; all values accepted: dropped; none: matches nothing |
//! | `[">=", n]` / `["<=", n]` | `[">", n-1]` / `["<", n+1]` |
//! | `["oneOf", vs]` / `["!oneOf", vs]` | de-duplicated and sorted; one value becomes `==` / `!=`; empty: matches nothing / dropped |
//! | `["between", [a,b]]` / `["!between", [a,b]]` with `a >= b` | matches nothing / dropped |
//! | `"exists"`, `"!exists"`, booleans, `==`, `!=`, `>`, `<` | unchanged |
//! | `custom` | keys sorted; a key that matches everything is dropped; one that matches nothing makes the whole simple filter match nothing |
//!
//! A simple filter left with no fields matches everything. In a compound, members are
//! normalised; one that matches everything makes the whole filter `{}`; members that match
//! nothing are dropped; the rest are de-duplicated and sorted by their JSON text; a single
//! survivor stands alone, and no survivor at all gives `["any",[]]` (matches nothing).
//!
//! Sorting follows JavaScript's default sort: strings compare by UTF-16 code units, and `null`
//! sorts as the string `"null"`.

use std::borrow::Cow;
use std::cmp::Ordering;

use serde::Serialize;

use super::{
    ConversationFilter, CustomFieldFilter, CustomFilter, MessageFilter, NumberFilter,
    SimpleConversationFilter, SimpleMessageFilter, StringFilter,
};
use crate::wire::{Access, MessageType, Origin};

/// What a predicate or filter turned into.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Normalised<T> {
    /// It can never match.
    Nothing,
    /// It always matches, so it can be dropped.
    Everything,
    /// Its canonical form.
    Keep(T),
}

impl ConversationFilter {
    /// The canonical form of this filter, as the official client sends it.
    ///
    /// "Matches everything" is `{}` (the default simple filter) and "matches nothing" is
    /// `["any",[]]`.
    ///
    /// ```
    /// # mod talkjs { pub use talkjs_protocol::{filter, params, snapshot}; pub use talkjs_protocol as protocol; }
    /// use talkjs::filter::ConversationFilter;
    /// let f: ConversationFilter = serde_json::from_str(r#"{"subject":["oneOf",["s"]],"isUnread":true}"#).unwrap();
    /// assert_eq!(serde_json::to_string(&f.normalise()).unwrap(), r#"{"isUnread":true,"subject":["==","s"]}"#);
    /// ```
    pub fn normalise(&self) -> ConversationFilter {
        match compound(self.members(), simple_conversation) {
            Compound::Everything => ConversationFilter::default(),
            Compound::One(f) => ConversationFilter::Simple(f),
            Compound::Any(fs) => ConversationFilter::Any(fs.into_iter().map(|(_, f)| f).collect()),
        }
    }

    /// The official client's key for this filter: the normalised JSON, except that a compound is
    /// written `["any", [..]]` with a space after the first comma. It appears in the official
    /// client's error messages, as the path `<filtered>/me/conversations/{key}`.
    pub fn normalised_key(&self) -> String {
        key(compound(self.members(), simple_conversation))
    }

    /// True if the filter can never match (its normalised form is `["any",[]]`).
    pub fn matches_nothing(&self) -> bool {
        matches!(compound(self.members(), simple_conversation), Compound::Any(v) if v.is_empty())
    }
}

impl MessageFilter {
    /// The canonical form of this filter (see [`ConversationFilter::normalise`]).
    pub fn normalise(&self) -> MessageFilter {
        match compound(self.members(), simple_message) {
            Compound::Everything => MessageFilter::default(),
            Compound::One(f) => MessageFilter::Simple(f),
            Compound::Any(fs) => MessageFilter::Any(fs.into_iter().map(|(_, f)| f).collect()),
        }
    }

    /// The official client's key for this filter (see [`ConversationFilter::normalised_key`]).
    pub fn normalised_key(&self) -> String {
        key(compound(self.members(), simple_message))
    }
}

impl SimpleConversationFilter {
    /// Normalises this simple filter on its own.
    pub fn normalise(&self) -> Normalised<SimpleConversationFilter> {
        simple_conversation(self)
    }
}

impl SimpleMessageFilter {
    /// Normalises this simple filter on its own.
    pub fn normalise(&self) -> Normalised<SimpleMessageFilter> {
        simple_message(self)
    }
}

// ---------------------------------------------------------------------------------------------
// Predicates
// ---------------------------------------------------------------------------------------------

/// A value of a string field, as JavaScript's default sort sees it.
pub trait JsSortKey {
    /// The string JavaScript's `Array.prototype.sort` compares.
    fn js_sort_key(&self) -> Cow<'_, str>;
}

impl JsSortKey for String {
    fn js_sort_key(&self) -> Cow<'_, str> {
        Cow::Borrowed(self)
    }
}

impl JsSortKey for Option<String> {
    fn js_sort_key(&self) -> Cow<'_, str> {
        Cow::Borrowed(self.as_deref().unwrap_or("null"))
    }
}

/// A field with a small fixed set of values, normalised by which values it accepts.
pub trait Domain: Sized + Copy + PartialEq + 'static {
    /// Every value, in the order the official client lists them.
    const ALL: &'static [Self];
}

impl Domain for Access {
    const ALL: &'static [Self] = &[Access::Read, Access::ReadWrite];
}

impl Domain for MessageType {
    const ALL: &'static [Self] = &[MessageType::UserMessage, MessageType::SystemMessage];
}

impl Domain for Origin {
    const ALL: &'static [Self] = &[Origin::Rest, Origin::Import, Origin::Email, Origin::Web];
}

/// Compares strings as JavaScript does: by UTF-16 code units.
fn cmp_js(a: &str, b: &str) -> Ordering {
    a.encode_utf16().cmp(b.encode_utf16())
}

/// De-duplicates (keeping first occurrences) and sorts a list of values.
fn dedup_sorted<T: JsSortKey + Clone + PartialEq>(values: &[T]) -> Vec<T> {
    let mut out: Vec<T> = Vec::with_capacity(values.len());
    for v in values {
        if !out.contains(v) {
            out.push(v.clone());
        }
    }
    out.sort_by(|a, b| cmp_js(&a.js_sort_key(), &b.js_sort_key()));
    out
}

/// Normalises a predicate on a free-form string field (subject, custom values, sender).
pub fn string<T: JsSortKey + Clone + PartialEq>(
    f: &StringFilter<T>,
) -> Normalised<StringFilter<T>> {
    match f {
        StringFilter::Eq(_) | StringFilter::Ne(_) => Normalised::Keep(f.clone()),
        StringFilter::OneOf(v) if v.is_empty() => Normalised::Nothing,
        StringFilter::NotOneOf(v) if v.is_empty() => Normalised::Everything,
        StringFilter::OneOf(v) => {
            let mut v = dedup_sorted(v);
            Normalised::Keep(if v.len() == 1 {
                StringFilter::Eq(v.remove(0))
            } else {
                StringFilter::OneOf(v)
            })
        }
        StringFilter::NotOneOf(v) => {
            let mut v = dedup_sorted(v);
            Normalised::Keep(if v.len() == 1 {
                StringFilter::Ne(v.remove(0))
            } else {
                StringFilter::NotOneOf(v)
            })
        }
    }
}

/// Normalises a predicate on a field with a fixed set of values, by the values it accepts.
pub fn domain<T: Domain>(f: &StringFilter<T>) -> Normalised<StringFilter<T>> {
    let (accept, reject): (Vec<T>, Vec<T>) = T::ALL.iter().copied().partition(|v| f.test(Some(v)));
    match (accept.as_slice(), reject.as_slice()) {
        ([], _) => Normalised::Nothing,
        (_, []) => Normalised::Everything,
        ([one], _) => Normalised::Keep(StringFilter::Eq(*one)),
        (_, [one]) => Normalised::Keep(StringFilter::Ne(*one)),
        _ => Normalised::Keep(StringFilter::OneOf(accept)),
    }
}

/// Normalises a predicate on a timestamp.
pub fn number(f: &NumberFilter) -> Normalised<NumberFilter> {
    match *f {
        NumberFilter::Gt(_) | NumberFilter::Lt(_) => Normalised::Keep(*f),
        NumberFilter::Ge(n) => Normalised::Keep(NumberFilter::Gt(n.saturating_sub(1))),
        NumberFilter::Le(n) => Normalised::Keep(NumberFilter::Lt(n.saturating_add(1))),
        NumberFilter::Between(a, b) if a >= b => Normalised::Nothing,
        NumberFilter::NotBetween(a, b) if a >= b => Normalised::Everything,
        NumberFilter::Between(..) | NumberFilter::NotBetween(..) => Normalised::Keep(*f),
    }
}

/// Normalises the predicates on custom data keys.
pub fn custom(c: &CustomFilter) -> Normalised<CustomFilter> {
    let mut keys: Vec<(&str, &CustomFieldFilter)> = c.iter().collect();
    keys.sort_by(|(a, _), (b, _)| cmp_js(a, b));
    let mut out = CustomFilter::new();
    for (k, f) in keys {
        let f = match f {
            CustomFieldFilter::Exists | CustomFieldFilter::NotExists => f.clone(),
            CustomFieldFilter::Value(v) => match string(v) {
                Normalised::Nothing => return Normalised::Nothing,
                Normalised::Everything => continue,
                Normalised::Keep(v) => CustomFieldFilter::Value(v),
            },
        };
        out.insert(k.to_owned(), f);
    }
    if out.is_empty() {
        Normalised::Everything
    } else {
        Normalised::Keep(out)
    }
}

// ---------------------------------------------------------------------------------------------
// Simple and compound filters
// ---------------------------------------------------------------------------------------------

/// Marks a simple filter with a predicate that can never match.
struct MatchesNothing;

/// Normalises one optional field of a simple filter.
fn field<T, U>(
    slot: &Option<T>,
    norm: impl Fn(&T) -> Normalised<U>,
) -> Result<Option<U>, MatchesNothing> {
    match slot.as_ref().map(norm) {
        None | Some(Normalised::Everything) => Ok(None),
        Some(Normalised::Nothing) => Err(MatchesNothing),
        Some(Normalised::Keep(u)) => Ok(Some(u)),
    }
}

/// Turns a rebuilt simple filter into its verdict.
fn verdict<T: Default + PartialEq>(rebuilt: Result<T, MatchesNothing>) -> Normalised<T> {
    match rebuilt {
        Err(MatchesNothing) => Normalised::Nothing,
        Ok(f) if f == T::default() => Normalised::Everything,
        Ok(f) => Normalised::Keep(f),
    }
}

fn simple_conversation(f: &SimpleConversationFilter) -> Normalised<SimpleConversationFilter> {
    verdict((|| {
        Ok(SimpleConversationFilter {
            access: field(&f.access, domain)?,
            created_at: field(&f.created_at, number)?,
            custom: field(&f.custom, custom)?,
            has_messages: f.has_messages,
            is_unread: f.is_unread,
            joined_at: field(&f.joined_at, number)?,
            last_activity_at: field(&f.last_activity_at, number)?,
            subject: field(&f.subject, string)?,
        })
    })())
}

fn simple_message(f: &SimpleMessageFilter) -> Normalised<SimpleMessageFilter> {
    verdict((|| {
        Ok(SimpleMessageFilter {
            created_at: field(&f.created_at, number)?,
            custom: field(&f.custom, custom)?,
            origin: field(&f.origin, domain)?,
            sender: field(&f.sender, string)?,
            kind: field(&f.kind, domain)?,
        })
    })())
}

/// A normalised compound: everything, one simple filter, or sorted members with their JSON.
enum Compound<F> {
    Everything,
    One(F),
    Any(Vec<(String, F)>),
}

fn compound<F: Serialize>(members: &[F], norm: impl Fn(&F) -> Normalised<F>) -> Compound<F> {
    let mut kept: Vec<(String, F)> = Vec::new();
    for m in members {
        match norm(m) {
            Normalised::Everything => return Compound::Everything,
            Normalised::Nothing => {}
            Normalised::Keep(f) => {
                let json = serde_json::to_string(&f).expect("filters always serialise");
                if !kept.iter().any(|(j, _)| *j == json) {
                    kept.push((json, f));
                }
            }
        }
    }
    if kept.len() == 1 {
        return Compound::One(kept.remove(0).1);
    }
    kept.sort_by(|(a, _), (b, _)| cmp_js(a, b));
    Compound::Any(kept)
}

fn key<F: Serialize>(c: Compound<F>) -> String {
    match c {
        Compound::Everything => "{}".to_owned(),
        Compound::One(f) => serde_json::to_string(&f).expect("filters always serialise"),
        Compound::Any(fs) => {
            let members: Vec<String> = fs.into_iter().map(|(json, _)| json).collect();
            format!(r#"["any", [{}]]"#, members.join(","))
        }
    }
}
