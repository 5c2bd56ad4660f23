//! The predicates a filter is made of, one per kind of field: [`StringFilter`] for strings and
//! enums, [`NumberFilter`] for timestamps, [`CustomFieldFilter`] for one custom data key and
//! [`CustomFilter`] for all of them.
//!
//! On the wire each predicate is a two-element JSON array, `[operator, operand]`
//! (`["==","x"]`, `["oneOf",["a","b"]]`, `["between",[1,5]]`), or for custom keys also the
//! strings `"exists"` and `"!exists"`. Decoding is strict: an unknown operator or an operand of
//! the wrong shape is an error, never a filter that silently matches something else.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, DeserializeOwned, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::ser::{SerializeMap, SerializeTuple, Serializer};
use serde::{Deserialize, Serialize};

use crate::wire::{Custom, Millis};

/// A predicate on a string-like field (`T` is `String`, `Option<String>` for a nullable field,
/// or an enum such as [`Access`](crate::wire::Access)).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum StringFilter<T = String> {
    /// `["==", v]`: equal to `v`.
    Eq(T),
    /// `["!=", v]`: not equal to `v` (also true when the field is missing).
    Ne(T),
    /// `["oneOf", [..]]`: equal to one of the values.
    OneOf(Vec<T>),
    /// `["!oneOf", [..]]`: equal to none of the values (also true when the field is missing).
    NotOneOf(Vec<T>),
}

impl<T: PartialEq> StringFilter<T> {
    /// Tests a field's value; `None` means the field is missing (a custom key that is not set).
    pub fn test(&self, value: Option<&T>) -> bool {
        match self {
            StringFilter::Eq(x) => value == Some(x),
            StringFilter::Ne(x) => value != Some(x),
            StringFilter::OneOf(xs) => value.is_some_and(|v| xs.contains(v)),
            StringFilter::NotOneOf(xs) => !value.is_some_and(|v| xs.contains(v)),
        }
    }
}

impl<T> StringFilter<T> {
    /// The operator as written on the wire.
    pub fn operator(&self) -> &'static str {
        match self {
            StringFilter::Eq(_) => "==",
            StringFilter::Ne(_) => "!=",
            StringFilter::OneOf(_) => "oneOf",
            StringFilter::NotOneOf(_) => "!oneOf",
        }
    }
}

impl<T: Serialize> Serialize for StringFilter<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut t = s.serialize_tuple(2)?;
        t.serialize_element(self.operator())?;
        match self {
            StringFilter::Eq(v) | StringFilter::Ne(v) => t.serialize_element(v)?,
            StringFilter::OneOf(vs) | StringFilter::NotOneOf(vs) => t.serialize_element(vs)?,
        }
        t.end()
    }
}

impl<'de, T: DeserializeOwned> Deserialize<'de> for StringFilter<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_seq(StringFilterVisitor(PhantomData))
    }
}

/// Reads `[operator, operand]` for a [`StringFilter`]; shared with [`CustomFieldFilter`].
struct StringFilterVisitor<T>(PhantomData<T>);

impl<'de, T: DeserializeOwned> Visitor<'de> for StringFilterVisitor<T> {
    type Value = StringFilter<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(r#"a string filter such as ["==", value] or ["oneOf", [values]]"#)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let op: String = seq
            .next_element()?
            .ok_or_else(|| de::Error::invalid_length(0, &self))?;
        let missing = || de::Error::invalid_length(1, &"an operator and an operand");
        let filter = match op.as_str() {
            "==" => StringFilter::Eq(seq.next_element()?.ok_or_else(missing)?),
            "!=" => StringFilter::Ne(seq.next_element()?.ok_or_else(missing)?),
            "oneOf" => StringFilter::OneOf(seq.next_element()?.ok_or_else(missing)?),
            "!oneOf" => StringFilter::NotOneOf(seq.next_element()?.ok_or_else(missing)?),
            other => {
                return Err(de::Error::unknown_variant(
                    other,
                    &["==", "!=", "oneOf", "!oneOf"],
                ));
            }
        };
        end_of_pair(seq)?;
        Ok(filter)
    }
}

/// Fails if a two-element predicate array has more elements.
fn end_of_pair<'de, A: SeqAccess<'de>>(mut seq: A) -> Result<(), A::Error> {
    match seq.next_element::<IgnoredAny>()? {
        None => Ok(()),
        Some(_) => Err(de::Error::invalid_length(3, &"an operator and an operand")),
    }
}

/// A predicate on a timestamp (Unix milliseconds). `between` ranges include their lower bound
/// and exclude their upper bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NumberFilter {
    /// `[">", n]`
    Gt(Millis),
    /// `["<", n]`
    Lt(Millis),
    /// `[">=", n]`
    Ge(Millis),
    /// `["<=", n]`
    Le(Millis),
    /// `["between", [a, b]]`: `a <= x < b`.
    Between(Millis, Millis),
    /// `["!between", [a, b]]`: not `a <= x < b`.
    NotBetween(Millis, Millis),
}

impl NumberFilter {
    /// Tests a value.
    pub fn test(&self, x: Millis) -> bool {
        match *self {
            NumberFilter::Gt(n) => x > n,
            NumberFilter::Lt(n) => x < n,
            NumberFilter::Ge(n) => x >= n,
            NumberFilter::Le(n) => x <= n,
            NumberFilter::Between(a, b) => a <= x && x < b,
            NumberFilter::NotBetween(a, b) => !(a <= x && x < b),
        }
    }

    /// The operator as written on the wire.
    pub fn operator(&self) -> &'static str {
        match self {
            NumberFilter::Gt(_) => ">",
            NumberFilter::Lt(_) => "<",
            NumberFilter::Ge(_) => ">=",
            NumberFilter::Le(_) => "<=",
            NumberFilter::Between(..) => "between",
            NumberFilter::NotBetween(..) => "!between",
        }
    }
}

impl Serialize for NumberFilter {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut t = s.serialize_tuple(2)?;
        t.serialize_element(self.operator())?;
        match *self {
            NumberFilter::Gt(n)
            | NumberFilter::Lt(n)
            | NumberFilter::Ge(n)
            | NumberFilter::Le(n) => t.serialize_element(&n)?,
            NumberFilter::Between(a, b) | NumberFilter::NotBetween(a, b) => {
                t.serialize_element(&[a, b])?
            }
        }
        t.end()
    }
}

impl<'de> Deserialize<'de> for NumberFilter {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = NumberFilter;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(r#"a number filter such as [">", n] or ["between", [a, b]]"#)
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<NumberFilter, A::Error> {
                let op: String = seq
                    .next_element()?
                    .ok_or_else(|| de::Error::invalid_length(0, &self))?;
                let missing = || de::Error::invalid_length(1, &"an operator and an operand");
                let mut n =
                    || -> Result<Millis, A::Error> { seq.next_element()?.ok_or_else(missing) };
                let filter = match op.as_str() {
                    ">" => NumberFilter::Gt(n()?),
                    "<" => NumberFilter::Lt(n()?),
                    ">=" => NumberFilter::Ge(n()?),
                    "<=" => NumberFilter::Le(n()?),
                    "between" | "!between" => {
                        let [a, b]: [Millis; 2] = seq.next_element()?.ok_or_else(missing)?;
                        if op == "between" {
                            NumberFilter::Between(a, b)
                        } else {
                            NumberFilter::NotBetween(a, b)
                        }
                    }
                    other => {
                        return Err(de::Error::unknown_variant(
                            other,
                            &[">", "<", ">=", "<=", "between", "!between"],
                        ));
                    }
                };
                end_of_pair(seq)?;
                Ok(filter)
            }
        }
        d.deserialize_seq(V)
    }
}

/// A predicate on one custom data key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum CustomFieldFilter {
    /// `"exists"`: the key is set.
    Exists,
    /// `"!exists"`: the key is not set.
    NotExists,
    /// A predicate on the key's value; a key that is not set counts as missing (see
    /// [`StringFilter::test`]).
    Value(StringFilter<String>),
}

impl CustomFieldFilter {
    /// `["==", value]`
    pub fn eq(value: impl Into<String>) -> Self {
        CustomFieldFilter::Value(StringFilter::Eq(value.into()))
    }

    /// `["!=", value]`
    pub fn ne(value: impl Into<String>) -> Self {
        CustomFieldFilter::Value(StringFilter::Ne(value.into()))
    }

    /// `["oneOf", values]`
    pub fn one_of<I: IntoIterator<Item = S>, S: Into<String>>(values: I) -> Self {
        CustomFieldFilter::Value(StringFilter::OneOf(
            values.into_iter().map(Into::into).collect(),
        ))
    }

    /// `["!oneOf", values]`
    pub fn not_one_of<I: IntoIterator<Item = S>, S: Into<String>>(values: I) -> Self {
        CustomFieldFilter::Value(StringFilter::NotOneOf(
            values.into_iter().map(Into::into).collect(),
        ))
    }

    /// Tests a key's value (`None` when the key is not set).
    pub fn test(&self, value: Option<&String>) -> bool {
        match self {
            CustomFieldFilter::Exists => value.is_some(),
            CustomFieldFilter::NotExists => value.is_none(),
            CustomFieldFilter::Value(f) => f.test(value),
        }
    }
}

impl Serialize for CustomFieldFilter {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            CustomFieldFilter::Exists => s.serialize_str("exists"),
            CustomFieldFilter::NotExists => s.serialize_str("!exists"),
            CustomFieldFilter::Value(f) => f.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for CustomFieldFilter {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = CustomFieldFilter;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(r#""exists", "!exists" or a string filter"#)
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<CustomFieldFilter, E> {
                match v {
                    "exists" => Ok(CustomFieldFilter::Exists),
                    "!exists" => Ok(CustomFieldFilter::NotExists),
                    other => Err(E::unknown_variant(other, &["exists", "!exists"])),
                }
            }

            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<CustomFieldFilter, A::Error> {
                StringFilterVisitor(PhantomData)
                    .visit_seq(seq)
                    .map(CustomFieldFilter::Value)
            }
        }
        d.deserialize_any(V)
    }
}

/// Predicates on custom data keys, all of which must hold.
///
/// Keys keep the order they were added in (as a JavaScript object does), so a filter that is not
/// normalised is written in its author's order; normalisation sorts them.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct CustomFilter(Vec<(String, CustomFieldFilter)>);

impl CustomFilter {
    /// A filter on no keys (matches everything).
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a predicate on `key`, replacing any earlier one on the same key.
    pub fn with(mut self, key: impl Into<String>, filter: CustomFieldFilter) -> Self {
        self.insert(key.into(), filter);
        self
    }

    /// Adds a predicate on `key`, replacing any earlier one on the same key in place.
    pub fn insert(&mut self, key: String, filter: CustomFieldFilter) {
        match self.0.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = filter,
            None => self.0.push((key, filter)),
        }
    }

    /// The predicate on `key`, if any.
    pub fn get(&self, key: &str) -> Option<&CustomFieldFilter> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, f)| f)
    }

    /// The keys and their predicates, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &CustomFieldFilter)> {
        self.0.iter().map(|(k, f)| (k.as_str(), f))
    }

    /// The number of keys.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when there are no keys.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Tests custom data: every predicate must hold.
    pub fn test(&self, custom: &Custom) -> bool {
        self.0.iter().all(|(k, f)| f.test(custom.get(k)))
    }
}

impl FromIterator<(String, CustomFieldFilter)> for CustomFilter {
    fn from_iter<I: IntoIterator<Item = (String, CustomFieldFilter)>>(iter: I) -> Self {
        let mut c = CustomFilter::new();
        for (k, f) in iter {
            c.insert(k, f);
        }
        c
    }
}

impl Serialize for CustomFilter {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for (k, f) in &self.0 {
            m.serialize_entry(k, f)?;
        }
        m.end()
    }
}

impl<'de> Deserialize<'de> for CustomFilter {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = CustomFilter;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object of custom key filters")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<CustomFilter, A::Error> {
                let mut c = CustomFilter::new();
                while let Some((k, f)) = map.next_entry::<String, CustomFieldFilter>()? {
                    c.insert(k, f);
                }
                Ok(c)
            }
        }
        d.deserialize_map(V)
    }
}
