//! The library's own phone-number check. Its phone matches are never linked (the official client
//! has its own phone step, see `markup::phone`), but they still compete with URLs and e-mail
//! addresses that start at the same place, so the check has to agree with the library's.
//!
//! A candidate is valid if it has a delimiter (a leading `+`, or one of `-. ()`) and either starts
//! with a North-American or international number, or ends with a Japanese one. The patterns are
//! written out below as small backtracking matchers.

fn is_digit(u: u16) -> bool {
    (u16::from(b'0')..=u16::from(b'9')).contains(&u)
}

fn is(u: u16, ascii: &[u8]) -> bool {
    u8::try_from(u).is_ok_and(|b| ascii.contains(&b))
}

/// Separators inside numbers.
const SEPARATORS: &[u8] = b"-. ";
/// Characters that make a digit run look like a phone number.
const DELIMITERS: &[u8] = b"-. ()";

pub(super) fn is_valid_phone_number(text: &[u16]) -> bool {
    let delimited =
        text.first() == Some(&u16::from(b'+')) || text.iter().any(|&u| is(u, DELIMITERS));
    delimited && (matches_common_prefix(text) || matches_japanese_suffix(text))
}

/// A continuation: given the position reached, does the rest of the pattern match?
type Next<'a> = &'a dyn Fn(usize) -> bool;

/// Matches `count` digits (between `min` and `max`, greedy) at `i`.
fn digits(t: &[u16], i: usize, min: usize, max: usize, next: Next) -> bool {
    let available = t[i.min(t.len())..]
        .iter()
        .take(max)
        .take_while(|&&u| is_digit(u))
        .count();
    (min..=available).rev().any(|n| next(i + n))
}

/// Optionally matches one unit from `set` at `i` (greedy).
fn optional(t: &[u16], i: usize, set: &[u8], next: Next) -> bool {
    (t.get(i).is_some_and(|&u| is(u, set)) && next(i + 1)) || next(i)
}

fn literal(t: &[u16], i: usize, set: &[u8], next: Next) -> bool {
    t.get(i).is_some_and(|&u| is(u, set)) && next(i + 1)
}

/// `(?:(\+)?\d{1,3}[-. ]?)?\(?\d{3}\)?[-. ]?\d{3}[-. ]?\d{4}` or
/// `(\+)(?:COUNTRY)[-. ]?(?:\d[-. ]?){6,12}\d+`, at the start of `t`.
fn matches_common_prefix(t: &[u16]) -> bool {
    let local = |i: usize| -> bool {
        optional(t, i, b"(", &|i| {
            digits(t, i, 3, 3, &|i| {
                optional(t, i, b")", &|i| {
                    optional(t, i, SEPARATORS, &|i| {
                        digits(t, i, 3, 3, &|i| {
                            optional(t, i, SEPARATORS, &|i| digits(t, i, 4, 4, &|_| true))
                        })
                    })
                })
            })
        })
    };
    let with_prefix = optional(t, 0, b"+", &|i| {
        digits(t, i, 1, 3, &|i| optional(t, i, SEPARATORS, &local))
    });
    with_prefix || local(0) || international(t)
}

/// Country calling codes accepted after a `+` (tried in this order).
const COUNTRY_CODES: &[&str] = &[
    "9[976]d",
    "8[987530]d",
    "6[987]d",
    "5[90]d",
    "42d",
    "3[875]d",
    "2[98654321]d",
    "9[8543210]",
    "8[6421]",
    "6[6543210]",
    "5[87654321]",
    "4[987654310]",
    "3[9643210]",
    "2[70]",
    "7",
    "1",
];

/// Matches one country code pattern (digits, `[set]` classes and `d` for any digit) at `i`.
fn country_code(t: &[u16], i: usize, pattern: &str) -> Option<usize> {
    let mut i = i;
    let mut rest = pattern;
    while let Some(c) = rest.chars().next() {
        let u = *t.get(i)?;
        if c == '[' {
            let close = rest.find(']')?;
            if !is(u, &rest.as_bytes()[1..close]) {
                return None;
            }
            rest = &rest[close + 1..];
        } else {
            let ok = if c == 'd' { is_digit(u) } else { u == c as u16 };
            if !ok {
                return None;
            }
            rest = &rest[1..];
        }
        i += 1;
    }
    Some(i)
}

fn international(t: &[u16]) -> bool {
    if t.first() != Some(&u16::from(b'+')) {
        return false;
    }
    COUNTRY_CODES.iter().any(|code| {
        country_code(t, 1, code)
            .is_some_and(|i| optional(t, i, SEPARATORS, &|i| repeated_digits(t, i, 0)))
    })
}

/// `(?:\d[-. ]?){6,12}\d+` at `i`, having matched `done` repetitions.
fn repeated_digits(t: &[u16], i: usize, done: usize) -> bool {
    let more = done < 12
        && literal(t, i, b"0123456789", &|i| {
            optional(t, i, SEPARATORS, &|i| repeated_digits(t, i, done + 1))
        });
    more || (done >= 6 && digits(t, i, 1, usize::MAX, &|_| true))
}

/// The Japanese pattern, which must end at the end of `t` (it may start anywhere).
fn matches_japanese_suffix(t: &[u16]) -> bool {
    let end = t.len();
    let at_end = |i: usize| i == end;
    let dash = |i: usize, next: Next| optional(t, i, b"-", next);
    let nonzero = |i: usize, n: usize, next: Next| -> bool {
        t.get(i..i + n)
            .is_some_and(|s| s.iter().all(|&u| is(u, b"123456789")))
            && next(i + n)
    };
    let exact = |i: usize, n: usize, next: Next| digits(t, i, n, n, next);
    let landline_tail = |i: usize| dash(i, &|i| exact(i, 4, &at_end));
    (0..end).any(|start| {
        let zero = |next: Next| literal(t, start, b"0", next);
        let landline = zero(&|i| {
            nonzero(i, 1, &|i| {
                dash(i, &|i| nonzero(i, 1, &|i| exact(i, 3, &landline_tail)))
            }) || nonzero(i, 2, &|i| dash(i, &|i| exact(i, 3, &landline_tail)))
                || nonzero(i, 2, &|i| {
                    exact(i, 1, &|i| dash(i, &|i| exact(i, 2, &landline_tail)))
                })
                || nonzero(i, 2, &|i| {
                    exact(i, 2, &|i| dash(i, &|i| exact(i, 1, &landline_tail)))
                })
        });
        let mobile_tail =
            |i: usize| dash(i, &|i| exact(i, 4, &|i| dash(i, &|i| exact(i, 4, &at_end))));
        let mobile = zero(&|i| literal(t, i, b"789", &|i| literal(t, i, b"0", &mobile_tail)));
        let ip_phone = zero(&|i| literal(t, i, b"5", &|i| literal(t, i, b"0", &mobile_tail)));
        landline || mobile || ip_phone
    })
}
