//! The candidate scanner: a set of small state machines run side by side over one piece of text.
//!
//! This follows the behaviour of Autolinker.js 4.1.5's parser, including the parts that look
//! accidental but decide what gets linked: new candidates only start when no machine is running
//! (plus a few explicit restarts), so a running phone-number or hashtag machine can hide a URL; a
//! URL preceded by `@` is dropped; trailing punctuation and unbalanced closing brackets are cut
//! off.

use super::phone_number::is_valid_phone_number;
use super::tables::{ALNUM_RANGES, KNOWN_TLDS};

/// Longest hashtag (with its `#`) the library accepts.
const MAX_HASHTAG_LEN: usize = 140;
/// Longest `@handle` (without the `@`) the library accepts, in its Twitter flavour.
const MAX_MENTION_HANDLE_LEN: usize = 15;

/// How a URL candidate was recognised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum UrlKind {
    /// `scheme:…`, such as `https://x.com` or `git:host.org`.
    Scheme,
    /// A bare host name ending in a known top-level domain, or a protocol-relative `//host`.
    Tld,
    /// A bare IPv4 address.
    IpV4,
}

impl UrlKind {
    /// Whether the link target is the text as written (otherwise `http://` is put in front).
    pub(super) fn keeps_text_as_url(self) -> bool {
        self == UrlKind::Scheme
    }
}

/// What a candidate is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Url(UrlKind),
    Email,
    Hashtag,
    Mention,
    Phone,
}

/// A recognised candidate: UTF-16 offset and length within the scanned text.
#[derive(Debug, Clone, Copy)]
pub(super) struct Found {
    pub(super) kind: Kind,
    pub(super) offset: usize,
    pub(super) len: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    SchemeChar,
    SchemeHyphen,
    SchemeColon,
    SchemeSlash1,
    SchemeSlash2,
    DomainLabelChar,
    DomainHyphen,
    DomainDot,
    PortColon,
    PortNumber,
    Path,
    ProtocolRelativeSlash1,
    ProtocolRelativeSlash2,
    IpV4Digit,
    IpV4Dot,
    /// Reading a possible `mailto:` prefix; the number is how many of its letters were read.
    EmailMailto(u8),
    EmailMailtoColon,
    EmailLocalPart,
    EmailLocalPartDot,
    EmailAtSign,
    EmailDomainChar,
    EmailDomainHyphen,
    EmailDomainDot,
    HashtagHashChar,
    HashtagTextChar,
    MentionAtChar,
    MentionTextChar,
    PhoneOpenParen,
    PhoneAreaCodeDigit(u8),
    PhoneCloseParen,
    PhonePlus,
    PhoneDigit,
    PhoneSeparator,
    PhoneControlChar,
    PhonePoundChar,
}

#[derive(Debug, Clone, Copy)]
struct Machine {
    kind: Kind,
    state: State,
    start: usize,
    accepted: bool,
    /// IPv4 octets seen so far.
    octets: u8,
}

impl Machine {
    fn new(kind: Kind, start: usize, state: State) -> Machine {
        Machine {
            kind,
            state,
            start,
            accepted: false,
            octets: 1,
        }
    }

    fn is_scheme(&self) -> bool {
        self.kind == Kind::Url(UrlKind::Scheme)
    }
}

/// The `mailto:` prefix the e-mail machine recognises (letters in any case).
const MAILTO_LETTERS: &[u8] = b"mailto";

const fn unit(c: u8) -> u16 {
    c as u16
}

const DOT: u16 = unit(b'.');
const DASH: u16 = unit(b'-');
const COLON: u16 = unit(b':');
const SLASH: u16 = unit(b'/');
const AT: u16 = unit(b'@');
const HASH: u16 = unit(b'#');
const OPEN_PAREN: u16 = unit(b'(');
const CLOSE_PAREN: u16 = unit(b')');
const UNDERSCORE: u16 = unit(b'_');

fn ascii(u: u16) -> Option<u8> {
    u8::try_from(u).ok().filter(u8::is_ascii)
}

pub(super) fn is_alnum(u: u16) -> bool {
    ALNUM_RANGES
        .binary_search_by(|&(lo, hi)| {
            if hi < u {
                std::cmp::Ordering::Less
            } else if lo > u {
                std::cmp::Ordering::Greater
            } else {
                std::cmp::Ordering::Equal
            }
        })
        .is_ok()
}

fn is_digit(u: u16) -> bool {
    ascii(u).is_some_and(|b| b.is_ascii_digit())
}

fn is_scheme_start(u: u16) -> bool {
    ascii(u).is_some_and(|b| b.is_ascii_alphabetic())
}

fn is_scheme_char(u: u16) -> bool {
    ascii(u).is_some_and(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
}

fn is_domain_label_start(u: u16) -> bool {
    is_alnum(u)
}

fn is_domain_label_char(u: u16) -> bool {
    u == UNDERSCORE || is_alnum(u)
}

fn is_url_suffix_start(u: u16) -> bool {
    matches!(ascii(u), Some(b'/' | b'?' | b'#'))
}

/// Punctuation that may appear in a path but not end a URL.
fn is_not_allowed_last(u: u16) -> bool {
    matches!(
        ascii(u),
        Some(b'?' | b'!' | b':' | b',' | b'.' | b';' | b'^')
    )
}

fn is_path_char(u: u16) -> bool {
    is_alnum(u)
        || u == 0x2713 // ✓
        || matches!(
            ascii(u),
            Some(
                b'-' | b'+' | b'&' | b'@' | b'#' | b'/' | b'%' | b'=' | b'~' | b'_' | b'(' | b')'
                    | b'|' | b'\'' | b'$' | b'*' | b'[' | b']' | b'{' | b'}'
            )
        )
        || is_not_allowed_last(u)
}

fn is_email_local_char(u: u16) -> bool {
    is_alnum(u)
        || matches!(
            ascii(u),
            Some(
                b'!' | b'#'
                    | b'$'
                    | b'%'
                    | b'&'
                    | b'\''
                    | b'*'
                    | b'+'
                    | b'/'
                    | b'='
                    | b'?'
                    | b'^'
                    | b'_'
                    | b'`'
                    | b'{'
                    | b'|'
                    | b'}'
                    | b'~'
                    | b'-'
            )
        )
}

fn is_hashtag_char(u: u16) -> bool {
    u == UNDERSCORE || is_alnum(u)
}

fn is_mention_char(u: u16) -> bool {
    ascii(u).is_some_and(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'))
}

fn is_phone_separator(u: u16) -> bool {
    matches!(ascii(u), Some(b'-' | b'.' | b' '))
}

fn is_phone_control(u: u16) -> bool {
    matches!(ascii(u), Some(b',' | b';'))
}

/// Scans one piece of text; returns candidates in the order the library records them.
pub(super) fn scan(text: &[u16]) -> Vec<Found> {
    let mut s = Scanner {
        text,
        idx: 0,
        machines: Vec::new(),
        found: Vec::new(),
    };
    while s.idx < text.len() {
        let u = text[s.idx];
        if s.machines.is_empty() {
            s.no_match(u);
        } else {
            // Newest first, as in the library; a machine may remove itself or add new ones.
            let mut i = s.machines.len();
            while i > 0 {
                i -= 1;
                if i < s.machines.len() {
                    s.step(i, u);
                }
            }
            // A letter after a non-letter may start a scheme (`Link 1:http://…`).
            if !s.machines.iter().any(Machine::is_scheme)
                && s.idx > 0
                && is_scheme_start(u)
                && !is_scheme_start(text[s.idx - 1])
            {
                s.add(Kind::Url(UrlKind::Scheme), State::SchemeChar);
            }
        }
        s.idx += 1;
    }
    let remaining = std::mem::take(&mut s.machines);
    for machine in remaining {
        s.capture(machine);
    }
    s.found
}

struct Scanner<'a> {
    text: &'a [u16],
    idx: usize,
    machines: Vec<Machine>,
    found: Vec<Found>,
}

impl Scanner<'_> {
    fn add(&mut self, kind: Kind, state: State) {
        self.machines.push(Machine::new(kind, self.idx, state));
    }

    /// Starts the machines a character can start when nothing is running.
    fn no_match(&mut self, u: u16) {
        match ascii(u) {
            Some(b'#') => self.add(Kind::Hashtag, State::HashtagHashChar),
            Some(b'@') => self.add(Kind::Mention, State::MentionAtChar),
            Some(b'/') => self.add(Kind::Url(UrlKind::Tld), State::ProtocolRelativeSlash1),
            Some(b'+') => self.add(Kind::Phone, State::PhonePlus),
            Some(b'(') => self.add(Kind::Phone, State::PhoneOpenParen),
            _ => {
                if is_digit(u) {
                    self.add(Kind::Phone, State::PhoneDigit);
                    self.add(Kind::Url(UrlKind::IpV4), State::IpV4Digit);
                }
                if is_alnum(u) {
                    let state = if ascii(u).is_some_and(|b| b.eq_ignore_ascii_case(&b'm')) {
                        State::EmailMailto(1)
                    } else {
                        State::EmailLocalPart
                    };
                    self.add(Kind::Email, state);
                }
                if is_scheme_start(u) {
                    self.add(Kind::Url(UrlKind::Scheme), State::SchemeChar);
                }
                if is_alnum(u) {
                    self.add(Kind::Url(UrlKind::Tld), State::DomainLabelChar);
                }
            }
        }
    }

    fn set(&mut self, i: usize, state: State) {
        self.machines[i].state = state;
    }

    fn accept(&mut self, i: usize) {
        self.machines[i].accepted = true;
    }

    fn remove(&mut self, i: usize) -> Machine {
        self.machines.remove(i)
    }

    fn capture_at(&mut self, i: usize) {
        let machine = self.remove(i);
        self.capture(machine);
    }

    /// Advances machine `i` over the unit `u`.
    fn step(&mut self, i: usize, u: u16) {
        let state = self.machines[i].state;
        match state {
            State::ProtocolRelativeSlash1 => {
                if u == SLASH {
                    self.set(i, State::ProtocolRelativeSlash2);
                } else {
                    self.remove(i);
                }
            }
            State::ProtocolRelativeSlash2 => {
                if is_domain_label_start(u) {
                    self.set(i, State::DomainLabelChar);
                } else {
                    self.remove(i);
                }
            }
            State::SchemeChar => {
                if u == COLON {
                    self.set(i, State::SchemeColon);
                } else if u == DASH {
                    self.set(i, State::SchemeHyphen);
                } else if !is_scheme_char(u) {
                    self.remove(i);
                }
            }
            State::SchemeHyphen => {
                if u == DASH {
                } else if u == SLASH {
                    self.remove(i);
                    self.add(Kind::Url(UrlKind::Tld), State::ProtocolRelativeSlash1);
                } else if is_scheme_char(u) {
                    self.set(i, State::SchemeChar);
                } else {
                    self.remove(i);
                }
            }
            State::SchemeColon => {
                if u == SLASH {
                    self.set(i, State::SchemeSlash1);
                } else if u == DOT {
                    self.remove(i);
                } else if is_domain_label_start(u) {
                    self.set(i, State::DomainLabelChar);
                    if is_scheme_start(u) {
                        self.add(Kind::Url(UrlKind::Scheme), State::SchemeChar);
                    }
                } else {
                    self.remove(i);
                }
            }
            State::SchemeSlash1 => {
                if u == SLASH {
                    self.set(i, State::SchemeSlash2);
                } else if is_path_char(u) {
                    self.set(i, State::Path);
                    self.accept(i);
                } else {
                    self.capture_at(i);
                }
            }
            State::SchemeSlash2 => {
                if u == SLASH {
                    self.set(i, State::Path);
                    self.accept(i);
                } else if is_domain_label_start(u) {
                    self.set(i, State::DomainLabelChar);
                    self.accept(i);
                } else {
                    self.remove(i);
                }
            }
            State::DomainLabelChar => {
                if u == DOT {
                    self.set(i, State::DomainDot);
                } else if u == DASH {
                    self.set(i, State::DomainHyphen);
                } else if u == COLON {
                    self.set(i, State::PortColon);
                } else if is_url_suffix_start(u) {
                    self.set(i, State::Path);
                } else if !is_domain_label_char(u) {
                    self.capture_at(i);
                }
            }
            State::DomainHyphen => {
                if u == DASH {
                } else if u == DOT {
                    self.capture_at(i);
                } else if is_domain_label_start(u) {
                    self.set(i, State::DomainLabelChar);
                } else {
                    self.capture_at(i);
                }
            }
            State::DomainDot => {
                if u == DOT {
                    self.capture_at(i);
                } else if is_domain_label_start(u) {
                    self.set(i, State::DomainLabelChar);
                    self.accept(i);
                } else {
                    self.capture_at(i);
                }
            }
            State::IpV4Digit => {
                if u == DOT {
                    self.set(i, State::IpV4Dot);
                } else if u == COLON {
                    self.set(i, State::PortColon);
                } else if is_digit(u) {
                } else if is_url_suffix_start(u) {
                    self.set(i, State::Path);
                } else if is_alnum(u) {
                    self.remove(i);
                } else {
                    self.capture_at(i);
                }
            }
            State::IpV4Dot => {
                if is_digit(u) {
                    self.machines[i].octets = self.machines[i].octets.saturating_add(1);
                    if self.machines[i].octets == 4 {
                        self.accept(i);
                    }
                    self.set(i, State::IpV4Digit);
                } else {
                    self.capture_at(i);
                }
            }
            State::PortColon => {
                if is_digit(u) {
                    self.set(i, State::PortNumber);
                } else {
                    self.capture_at(i);
                }
            }
            State::PortNumber => {
                if is_digit(u) {
                } else if is_url_suffix_start(u) {
                    self.set(i, State::Path);
                } else {
                    self.capture_at(i);
                }
            }
            State::Path => {
                if !is_path_char(u) {
                    self.capture_at(i);
                }
            }
            State::EmailMailto(read) => {
                let expected = MAILTO_LETTERS.get(usize::from(read));
                if let Some(&letter) = expected {
                    if ascii(u).is_some_and(|b| b.eq_ignore_ascii_case(&letter)) {
                        self.set(i, State::EmailMailto(read + 1));
                    } else {
                        self.email_local_part(i, u);
                    }
                } else if u == COLON {
                    self.set(i, State::EmailMailtoColon);
                } else {
                    self.email_local_part(i, u);
                }
            }
            State::EmailMailtoColon => {
                if is_email_local_char(u) {
                    self.set(i, State::EmailLocalPart);
                } else {
                    self.remove(i);
                }
            }
            State::EmailLocalPart => self.email_local_part(i, u),
            State::EmailLocalPartDot => {
                if u == DOT || u == AT {
                    self.remove(i);
                } else if is_email_local_char(u) {
                    self.set(i, State::EmailLocalPart);
                } else {
                    self.remove(i);
                }
            }
            State::EmailAtSign => {
                if is_domain_label_start(u) {
                    self.set(i, State::EmailDomainChar);
                } else {
                    self.remove(i);
                }
            }
            State::EmailDomainChar => {
                if u == DOT {
                    self.set(i, State::EmailDomainDot);
                } else if u == DASH {
                    self.set(i, State::EmailDomainHyphen);
                } else if !is_domain_label_char(u) {
                    self.capture_at(i);
                }
            }
            State::EmailDomainHyphen => {
                if u == DASH || u == DOT {
                    self.capture_at(i);
                } else if is_domain_label_char(u) {
                    self.set(i, State::EmailDomainChar);
                } else {
                    self.capture_at(i);
                }
            }
            State::EmailDomainDot => {
                if u == DOT || u == DASH {
                    self.capture_at(i);
                } else if is_domain_label_start(u) {
                    self.set(i, State::EmailDomainChar);
                    self.accept(i);
                } else {
                    self.capture_at(i);
                }
            }
            State::HashtagHashChar => {
                if is_hashtag_char(u) {
                    self.set(i, State::HashtagTextChar);
                    self.accept(i);
                } else {
                    self.remove(i);
                }
            }
            State::HashtagTextChar => {
                if !is_hashtag_char(u) {
                    self.capture_at(i);
                }
            }
            State::MentionAtChar => {
                if is_mention_char(u) {
                    self.set(i, State::MentionTextChar);
                    self.accept(i);
                } else {
                    self.remove(i);
                }
            }
            State::MentionTextChar => {
                if is_mention_char(u) {
                } else if is_alnum(u) {
                    self.remove(i);
                } else {
                    self.capture_at(i);
                }
            }
            State::PhonePlus => {
                if is_digit(u) {
                    self.set(i, State::PhoneDigit);
                } else {
                    self.remove(i);
                    self.no_match(u);
                }
            }
            State::PhoneOpenParen => {
                if is_digit(u) {
                    self.set(i, State::PhoneAreaCodeDigit(1));
                } else {
                    self.remove(i);
                }
                self.no_match(u);
            }
            State::PhoneAreaCodeDigit(n) => {
                if n < 3 {
                    if is_digit(u) {
                        self.set(i, State::PhoneAreaCodeDigit(n + 1));
                    } else {
                        self.remove(i);
                    }
                } else if u == CLOSE_PAREN {
                    self.set(i, State::PhoneCloseParen);
                } else {
                    self.remove(i);
                }
            }
            State::PhoneCloseParen => {
                if is_digit(u) {
                    self.set(i, State::PhoneDigit);
                } else if is_phone_separator(u) {
                    self.set(i, State::PhoneSeparator);
                } else {
                    self.remove(i);
                }
            }
            State::PhoneDigit => {
                self.accept(i);
                if is_phone_control(u) {
                    self.set(i, State::PhoneControlChar);
                } else if u == HASH {
                    self.set(i, State::PhonePoundChar);
                } else if is_digit(u) {
                } else if u == OPEN_PAREN {
                    self.set(i, State::PhoneOpenParen);
                } else if is_phone_separator(u) {
                    self.set(i, State::PhoneSeparator);
                } else {
                    self.capture_at(i);
                    if is_scheme_start(u) {
                        self.add(Kind::Url(UrlKind::Scheme), State::SchemeChar);
                    }
                }
            }
            State::PhoneSeparator => {
                if is_digit(u) {
                    self.set(i, State::PhoneDigit);
                } else if u == OPEN_PAREN {
                    self.set(i, State::PhoneOpenParen);
                } else {
                    self.capture_at(i);
                    self.no_match(u);
                }
            }
            State::PhoneControlChar => {
                if is_phone_control(u) {
                } else if u == HASH {
                    self.set(i, State::PhonePoundChar);
                } else if is_digit(u) {
                    self.set(i, State::PhoneDigit);
                } else {
                    self.capture_at(i);
                }
            }
            State::PhonePoundChar => {
                if is_phone_control(u) {
                    self.set(i, State::PhoneControlChar);
                } else if is_digit(u) {
                    self.remove(i);
                } else {
                    self.capture_at(i);
                }
            }
        }
    }

    fn email_local_part(&mut self, i: usize, u: u16) {
        if u == DOT {
            self.set(i, State::EmailLocalPartDot);
        } else if u == AT {
            self.set(i, State::EmailAtSign);
        } else if is_email_local_char(u) {
            self.set(i, State::EmailLocalPart);
        } else {
            self.remove(i);
        }
    }

    /// Checks a finished machine's text and records it if it is a valid candidate.
    fn capture(&mut self, machine: Machine) {
        if !machine.accepted {
            return;
        }
        let mut start = machine.start;
        let end = start + trimmed_len(&self.text[start..self.idx]);
        let text = &self.text[start..end];
        let kind = machine.kind;
        let valid = match kind {
            Kind::Url(url_kind) => {
                if start > 0 && self.text[start - 1] == AT {
                    return;
                }
                match url_kind {
                    UrlKind::Scheme => {
                        let shift = find_http_scheme(text).unwrap_or(0);
                        start += shift;
                        is_valid_scheme_url(&self.text[start..end])
                    }
                    UrlKind::Tld => is_valid_tld_url(text),
                    UrlKind::IpV4 => is_valid_ipv4_url(text),
                }
            }
            Kind::Email => is_valid_email(text),
            Kind::Hashtag => text.len() <= MAX_HASHTAG_LEN,
            Kind::Mention => {
                text.len() > 1
                    && text.len() <= MAX_MENTION_HANDLE_LEN + 1
                    && text[1..]
                        .iter()
                        .all(|&u| ascii(u).is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_'))
            }
            Kind::Phone => {
                let spaces = text.iter().rev().take_while(|&&u| u == unit(b' ')).count();
                let text = &text[..text.len() - spaces];
                if !is_valid_phone_number(text) {
                    return;
                }
                self.found.push(Found {
                    kind,
                    offset: start,
                    len: text.len(),
                });
                return;
            }
        };
        if valid {
            self.found.push(Found {
                kind,
                offset: start,
                len: end - start,
            });
        }
    }
}

/// The length of `text` without unbalanced closing brackets and sentence punctuation at its end.
fn trimmed_len(text: &[u16]) -> usize {
    let pairs = [(b'(', b')'), (b'{', b'}'), (b'[', b']')];
    let mut balance = [0i64; 3];
    for &u in text {
        for (k, &(open, close)) in pairs.iter().enumerate() {
            if u == unit(open) {
                balance[k] += 1;
            } else if u == unit(close) {
                balance[k] -= 1;
            }
        }
    }
    let mut end = text.len();
    while end > 0 {
        let u = text[end - 1];
        if let Some(k) = pairs.iter().position(|&(_, close)| u == unit(close)) {
            if balance[k] < 0 {
                balance[k] += 1;
                end -= 1;
                continue;
            }
            break;
        } else if is_not_allowed_last(u) {
            end -= 1;
        } else {
            break;
        }
    }
    end
}

/// Where `http://` or `https://` (any case) first occurs in `text`.
fn find_http_scheme(text: &[u16]) -> Option<usize> {
    const HTTP: &[u8] = b"http";
    (0..text.len()).find(|&i| {
        let rest = &text[i..];
        let starts = |s: &[u8], at: usize| {
            rest.len() >= at + s.len()
                && s.iter()
                    .zip(&rest[at..])
                    .all(|(&a, &u)| ascii(u).is_some_and(|b| b.eq_ignore_ascii_case(&a)))
        };
        starts(HTTP, 0) && (starts(b"://", 4) || starts(b"s://", 4))
    })
}

/// `scheme:` must be followed by `//`, or by a host with a dot and a letter; `javascript:` and
/// `vbscript:` never count.
fn is_valid_scheme_url(text: &[u16]) -> bool {
    let lower: String = String::from_utf16_lossy(text).to_ascii_lowercase();
    if lower.starts_with("javascript:") || lower.starts_with("vbscript:") {
        return false;
    }
    if !text.first().is_some_and(|&u| is_scheme_start(u)) {
        return false;
    }
    let scheme_len = text.iter().take_while(|&&u| is_scheme_char(u)).count();
    if text.get(scheme_len) != Some(&COLON) {
        return false;
    }
    let rest = &text[scheme_len + 1..];
    if rest.starts_with(&[SLASH, SLASH]) {
        return true;
    }
    let host: Vec<u16> = rest
        .iter()
        .copied()
        .take_while(|&u| u != COLON && u != SLASH)
        .collect();
    host.contains(&DOT) && host.iter().any(|&u| is_scheme_start(u))
}

/// The host (up to `/`, `#`, `?` or `:`) must have a known last label.
fn is_valid_tld_url(text: &[u16]) -> bool {
    let rest = text.strip_prefix(&[SLASH, SLASH][..]).unwrap_or(text);
    let host_len = rest
        .iter()
        .take_while(|&&u| !matches!(ascii(u), Some(b'/' | b'#' | b'?' | b':')))
        .count();
    if host_len == 0 {
        return false;
    }
    let host = &rest[..host_len];
    let mut labels = host.split(|&u| u == DOT);
    let first = labels.next();
    match (first, labels.next_back()) {
        (Some(_), Some(tld)) => is_known_tld(tld),
        _ => false,
    }
}

fn is_known_tld(tld: &[u16]) -> bool {
    let lower = String::from_utf16_lossy(tld).to_lowercase();
    KNOWN_TLDS.binary_search(&lower.as_str()).is_ok()
}

/// The part before any `:`, `/`, `?` or `#` must be four octets of 0-255.
fn is_valid_ipv4_url(text: &[u16]) -> bool {
    let address = text
        .split(|&u| matches!(ascii(u), Some(b':' | b'/' | b'?' | b'#')))
        .next()
        .unwrap_or_default();
    let octets: Vec<&[u16]> = address.split(|&u| u == DOT).collect();
    octets.len() == 4 && octets.iter().all(|octet| is_octet(octet))
}

fn is_octet(octet: &[u16]) -> bool {
    let digits: Option<Vec<u8>> = octet
        .iter()
        .map(|&u| ascii(u).filter(u8::is_ascii_digit))
        .collect();
    matches!(
        digits.as_deref(),
        Some(
            [_] | [_, _] | [b'0' | b'1', _, _] | [b'2', b'0'..=b'4', _] | [b'2', b'5', b'0'..=b'5']
        )
    )
}

/// The part after the last `.` must be a known top-level domain.
fn is_valid_email(text: &[u16]) -> bool {
    let tld = text.rsplit(|&u| u == DOT).next().unwrap_or_default();
    is_known_tld(tld)
}
