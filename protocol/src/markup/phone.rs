//! Phone numbers, with the official client's own rules (not the URL library's).
//!
//! A number is 7 to 13 ASCII digits, optionally starting with `(` or `+`, with at most one
//! separator (`-`, `_`, `+`, space, `(`, `)` or `.`) between two digits, and ending in two digits
//! in a row. The character before it must be the start of the line or anything but an ASCII
//! letter, digit, `_`, `-`, `:` or `/`; the same goes for the character after it, or the end of the
//! line. Those two characters are consumed by the match, so a number right after another one
//! (`0612345678 0612345678`) is not linked.
//!
//! Two shapes are matched but left as text: year ranges `YYYY-YYYY` whose first year is smaller,
//! and time ranges `H.MM-H.MM` of two valid times (hours 0-23, minutes 00-59). The link target is
//! `tel:` followed by the digits and `+` signs of the number.

use super::chars::is_js_word;
use super::push_text;
use crate::content::TextNode;

/// Digits a phone number has at least and at most.
const MIN_DIGITS: usize = 7;
const MAX_DIGITS: usize = 13;
/// Characters allowed between two digits.
const SEPARATORS: &[char] = &['-', '_', '+', ' ', '(', ')', '.'];
/// Characters allowed before the first digit (at most one).
const LEADERS: &[char] = &['(', '+'];
const TEL: &str = "tel:";
/// The highest hour and minute of a time in a time range.
const MAX_HOUR: u32 = 23;
const MAX_MINUTE: u32 = 59;

fn is_edge(c: char) -> bool {
    !(is_js_word(c) || matches!(c, '-' | ':' | '/'))
}

pub(super) fn phone_numbers(leaf: &str) -> Vec<TextNode> {
    let chars: Vec<(usize, char)> = leaf.char_indices().collect();
    let byte = |i: usize| chars.get(i).map_or(leaf.len(), |&(b, _)| b);
    let mut out = Vec::new();
    let mut copied = 0;
    let mut pos = 0;
    while pos < chars.len() {
        // `(^|edge)`: at the start the number may begin right away, otherwise after one edge
        // character.
        let found = (pos == 0)
            .then(|| number_at(&chars, 0))
            .flatten()
            .map(|(body_end, end)| (0, body_end, end))
            .or_else(|| {
                is_edge(chars[pos].1)
                    .then(|| number_at(&chars, pos + 1))
                    .flatten()
                    .map(|(body_end, end)| (pos + 1, body_end, end))
            });
        match found {
            Some((body_start, body_end, end)) => {
                let body = &leaf[byte(body_start)..byte(body_end)];
                push_text(&mut out, &leaf[byte(copied)..byte(body_start)]);
                if is_year_range(body) || is_time_range(body) {
                    push_text(&mut out, body);
                } else {
                    let digits: String = body
                        .chars()
                        .filter(|c| c.is_ascii_digit() || *c == '+')
                        .collect();
                    out.push(TextNode::AutoLink {
                        url: format!("{TEL}{digits}"),
                        text: body.to_owned(),
                    });
                }
                push_text(&mut out, &leaf[byte(body_end)..byte(end)]);
                copied = end;
                pos = end.max(pos + 1);
            }
            None => pos += 1,
        }
    }
    push_text(&mut out, &leaf[byte(copied)..]);
    out
}

/// Matches a number starting at `start`, followed by an edge character or the end. Returns the
/// end of the number and the end of the match (after the consumed edge character).
fn number_at(chars: &[(usize, char)], start: usize) -> Option<(usize, usize)> {
    let at = |i: usize| chars.get(i).map(|&(_, c)| c);
    let digit = |i: usize| at(i).is_some_and(|c| c.is_ascii_digit());
    let first = if at(start).is_some_and(|c| LEADERS.contains(&c)) {
        start + 1
    } else {
        start
    };
    if !digit(first) {
        return None;
    }
    // After the first digit, each step is `separator? digit`; the steps are deterministic, and the
    // count backtracks from the most the line allows.
    let mut steps = vec![first + 1];
    while steps.len() <= MAX_DIGITS - 2 {
        let q = *steps.last()?;
        let next = if at(q).is_some_and(|c| SEPARATORS.contains(&c)) && digit(q + 1) {
            q + 2
        } else if digit(q) {
            q + 1
        } else {
            break;
        };
        steps.push(next);
    }
    let min_steps = MIN_DIGITS - 2;
    (min_steps..steps.len()).rev().find_map(|k| {
        let last_digit = steps[k];
        if !digit(last_digit) {
            return None;
        }
        let body_end = last_digit + 1;
        match at(body_end) {
            None => Some((body_end, body_end)),
            Some(c) if is_edge(c) => Some((body_end, body_end + 1)),
            Some(_) => None,
        }
    })
}

/// `YYYY-YYYY` with the first year smaller than the second.
fn is_year_range(body: &str) -> bool {
    let Some((from, to)) = body.split_once('-') else {
        return false;
    };
    let four_digits = |s: &str| s.len() == 4 && s.bytes().all(|b| b.is_ascii_digit());
    four_digits(from) && four_digits(to) && from < to
}

/// `H.MM-H.MM` (hour with one or two digits) where both are valid times of day.
fn is_time_range(body: &str) -> bool {
    let Some((from, to)) = body.split_once('-') else {
        return false;
    };
    is_time(from) && is_time(to)
}

fn is_time(s: &str) -> bool {
    let Some((hour, minute)) = s.split_once('.') else {
        return false;
    };
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    (1..=2).contains(&hour.len())
        && minute.len() == 2
        && all_digits(hour)
        && all_digits(minute)
        && hour.parse::<u32>().is_ok_and(|h| h <= MAX_HOUR)
        && minute.parse::<u32>().is_ok_and(|m| m <= MAX_MINUTE)
}
