//! Where the URL recogniser looks: text outside HTML tags, comments and doctypes, and outside the
//! content of `<a>`, `<script>` and `<style>` elements.
//!
//! A small HTML tokenizer in the spirit of the HTML5 one: anything that stops looking like a tag
//! (a quote in an attribute name, `<` followed by a non-letter, ...) is text after all. A tag that
//! is still open at the end of the text is text too.

/// Elements whose content is never linked.
const SKIPPED_ELEMENTS: [&str; 3] = ["a", "style", "script"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Data,
    TagOpen,
    EndTagOpen,
    TagName,
    BeforeAttributeName,
    AttributeName,
    AfterAttributeName,
    BeforeAttributeValue,
    AttributeValueDoubleQuoted,
    AttributeValueSingleQuoted,
    AttributeValueUnquoted,
    AfterAttributeValueQuoted,
    SelfClosingStartTag,
    MarkupDeclarationOpen,
    CommentStart,
    CommentStartDash,
    Comment,
    CommentEndDash,
    CommentEnd,
    CommentEndBang,
    Doctype,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TagKind {
    Tag,
    Comment,
    Doctype,
}

/// The tag being read.
#[derive(Debug, Clone, Copy)]
struct Tag {
    /// Index of its `<`.
    start: usize,
    kind: TagKind,
    /// Code-unit range of its name, once known.
    name: Option<(usize, usize)>,
    opening: bool,
    closing: bool,
}

impl Tag {
    fn at(start: usize) -> Tag {
        Tag {
            start,
            kind: TagKind::Tag,
            name: None,
            opening: false,
            closing: false,
        }
    }
}

const LT: u16 = b'<' as u16;
const GT: u16 = b'>' as u16;
const SLASH: u16 = b'/' as u16;
const BANG: u16 = b'!' as u16;
const EQUALS: u16 = b'=' as u16;
const DASH: u16 = b'-' as u16;
const DOUBLE_QUOTE: u16 = b'"' as u16;
const SINGLE_QUOTE: u16 = b'\'' as u16;
const BACKTICK: u16 = b'`' as u16;
const COMMENT_OPEN: &str = "--";
const DOCTYPE: &str = "DOCTYPE";

fn is_letter(u: u16) -> bool {
    u8::try_from(u).is_ok_and(|b| b.is_ascii_alphabetic())
}

fn is_digit(u: u16) -> bool {
    u8::try_from(u).is_ok_and(|b| b.is_ascii_digit())
}

fn is_whitespace(u: u16) -> bool {
    char::from_u32(u32::from(u)).is_some_and(super::super::chars::is_js_whitespace)
}

fn is_quote(u: u16) -> bool {
    u == DOUBLE_QUOTE || u == SINGLE_QUOTE
}

fn is_control(u: u16) -> bool {
    u <= 0x1F || u == 0x7F
}

/// The code-unit ranges of `units` whose text may contain links, in order.
pub(super) fn text_ranges(units: &[u16]) -> Vec<(usize, usize)> {
    let mut parser = Parser {
        units,
        state: State::Data,
        data_start: 0,
        tag: None,
        skip_depth: 0,
        ranges: Vec::new(),
    };
    let mut i = 0;
    while i < units.len() {
        i = parser.step(i);
    }
    if parser.data_start < i {
        parser.text(parser.data_start, i.min(units.len()));
    }
    parser.ranges
}

struct Parser<'a> {
    units: &'a [u16],
    state: State,
    /// Where the current run of text started.
    data_start: usize,
    tag: Option<Tag>,
    /// How many skipped elements are open.
    skip_depth: usize,
    ranges: Vec<(usize, usize)>,
}

impl Parser<'_> {
    /// Handles the code unit at `i`; returns the index of the next unit to read.
    fn step(&mut self, i: usize) -> usize {
        let u = self.units[i];
        match self.state {
            State::Data => {
                if u == LT {
                    self.start_tag(i);
                }
            }
            State::TagOpen => {
                if u == BANG {
                    self.state = State::MarkupDeclarationOpen;
                } else if u == SLASH {
                    self.state = State::EndTagOpen;
                    self.update(|t| t.closing = true);
                } else if u == LT {
                    self.start_tag(i);
                } else if is_letter(u) {
                    self.state = State::TagName;
                    self.update(|t| t.opening = true);
                } else {
                    self.reset();
                }
            }
            State::TagName => {
                if is_whitespace(u) {
                    self.capture_name(i);
                    self.state = State::BeforeAttributeName;
                } else if u == LT {
                    self.start_tag(i);
                } else if u == SLASH {
                    self.capture_name(i);
                    self.state = State::SelfClosingStartTag;
                } else if u == GT {
                    self.capture_name(i);
                    self.emit_tag(i);
                } else if !is_letter(u) && !is_digit(u) {
                    self.reset();
                }
            }
            State::EndTagOpen => {
                if is_letter(u) {
                    self.state = State::TagName;
                } else {
                    self.reset();
                }
            }
            State::BeforeAttributeName => {
                if is_whitespace(u) {
                } else if u == SLASH {
                    self.state = State::SelfClosingStartTag;
                } else if u == GT {
                    self.emit_tag(i);
                } else if u == LT {
                    self.start_tag(i);
                } else if u == EQUALS || is_quote(u) || is_control(u) {
                    self.reset();
                } else {
                    self.state = State::AttributeName;
                }
            }
            State::AttributeName => {
                if is_whitespace(u) {
                    self.state = State::AfterAttributeName;
                } else if u == SLASH {
                    self.state = State::SelfClosingStartTag;
                } else if u == EQUALS {
                    self.state = State::BeforeAttributeValue;
                } else if u == GT {
                    self.emit_tag(i);
                } else if u == LT {
                    self.start_tag(i);
                } else if is_quote(u) {
                    self.reset();
                }
            }
            State::AfterAttributeName => {
                if is_whitespace(u) {
                } else if u == SLASH {
                    self.state = State::SelfClosingStartTag;
                } else if u == EQUALS {
                    self.state = State::BeforeAttributeValue;
                } else if u == GT {
                    self.emit_tag(i);
                } else if u == LT {
                    self.start_tag(i);
                } else if is_quote(u) {
                    self.reset();
                } else {
                    self.state = State::AttributeName;
                }
            }
            State::BeforeAttributeValue => {
                if is_whitespace(u) {
                } else if u == DOUBLE_QUOTE {
                    self.state = State::AttributeValueDoubleQuoted;
                } else if u == SINGLE_QUOTE {
                    self.state = State::AttributeValueSingleQuoted;
                } else if u == GT || u == EQUALS || u == BACKTICK {
                    self.reset();
                } else if u == LT {
                    self.start_tag(i);
                } else {
                    self.state = State::AttributeValueUnquoted;
                }
            }
            State::AttributeValueDoubleQuoted => {
                if u == DOUBLE_QUOTE {
                    self.state = State::AfterAttributeValueQuoted;
                }
            }
            State::AttributeValueSingleQuoted => {
                if u == SINGLE_QUOTE {
                    self.state = State::AfterAttributeValueQuoted;
                }
            }
            State::AttributeValueUnquoted => {
                if is_whitespace(u) {
                    self.state = State::BeforeAttributeName;
                } else if u == GT {
                    self.emit_tag(i);
                } else if u == LT {
                    self.start_tag(i);
                } else if is_quote(u) || u == EQUALS || u == BACKTICK {
                    self.reset();
                }
            }
            State::AfterAttributeValueQuoted => {
                if is_whitespace(u) {
                    self.state = State::BeforeAttributeName;
                } else if u == SLASH {
                    self.state = State::SelfClosingStartTag;
                } else if u == GT {
                    self.emit_tag(i);
                } else if u == LT {
                    self.start_tag(i);
                } else {
                    // Re-read this character as the start of an attribute name.
                    self.state = State::BeforeAttributeName;
                    return i;
                }
            }
            State::SelfClosingStartTag => {
                if u == GT {
                    self.update(|t| t.closing = true);
                    self.emit_tag(i);
                } else {
                    self.state = State::BeforeAttributeName;
                }
            }
            State::MarkupDeclarationOpen => {
                if self.ascii_at(i, COMMENT_OPEN, false) {
                    self.update(|t| t.kind = TagKind::Comment);
                    self.state = State::CommentStart;
                    // The library skips the two dashes and, by an off-by-one, the unit after them.
                    return i + COMMENT_OPEN.len() + 1;
                } else if self.ascii_at(i, DOCTYPE, true) {
                    self.update(|t| t.kind = TagKind::Doctype);
                    self.state = State::Doctype;
                    // Likewise the unit after the keyword.
                    return i + DOCTYPE.len() + 1;
                } else {
                    self.reset();
                }
            }
            State::CommentStart => {
                if u == DASH {
                    self.state = State::CommentStartDash;
                } else if u == GT {
                    self.reset();
                } else {
                    self.state = State::Comment;
                }
            }
            State::CommentStartDash => {
                if u == DASH {
                    self.state = State::CommentEnd;
                } else if u == GT {
                    self.reset();
                } else {
                    self.state = State::Comment;
                }
            }
            State::Comment => {
                if u == DASH {
                    self.state = State::CommentEndDash;
                }
            }
            State::CommentEndDash => {
                self.state = if u == DASH {
                    State::CommentEnd
                } else {
                    State::Comment
                };
            }
            State::CommentEnd => {
                if u == GT {
                    self.emit_tag(i);
                } else if u == BANG {
                    self.state = State::CommentEndBang;
                } else if u != DASH {
                    self.state = State::Comment;
                }
            }
            State::CommentEndBang => {
                if u == DASH {
                    self.state = State::CommentEndDash;
                } else if u == GT {
                    self.emit_tag(i);
                } else {
                    self.state = State::Comment;
                }
            }
            State::Doctype => {
                if u == GT {
                    self.emit_tag(i);
                } else if u == LT {
                    self.start_tag(i);
                }
            }
        }
        i + 1
    }

    /// Whether the units at `i` spell `ascii` (case-insensitively if asked).
    fn ascii_at(&self, i: usize, ascii: &str, ignore_case: bool) -> bool {
        let Some(units) = self.units.get(i..i + ascii.len()) else {
            return false;
        };
        ascii.bytes().zip(units).all(|(a, &u)| {
            u8::try_from(u).is_ok_and(|u| {
                if ignore_case {
                    u.eq_ignore_ascii_case(&a)
                } else {
                    u == a
                }
            })
        })
    }

    fn start_tag(&mut self, i: usize) {
        self.state = State::TagOpen;
        self.tag = Some(Tag::at(i));
    }

    fn reset(&mut self) {
        self.state = State::Data;
        self.tag = None;
    }

    fn update(&mut self, f: impl FnOnce(&mut Tag)) {
        if let Some(tag) = self.tag.as_mut() {
            f(tag);
        }
    }

    fn capture_name(&mut self, i: usize) {
        self.update(|t| {
            let start = t.start + if t.closing { 2 } else { 1 };
            t.name = Some((start.min(i), i));
        });
    }

    fn text(&mut self, start: usize, end: usize) {
        if self.skip_depth == 0 && start < end {
            self.ranges.push((start, end));
        }
    }

    /// A tag (or comment, or doctype) ended at `i`: the text before it is done.
    fn emit_tag(&mut self, i: usize) {
        if let Some(tag) = self.tag {
            self.text(self.data_start, tag.start);
            if tag.kind == TagKind::Tag {
                let skipped = tag.name.is_some_and(|(s, e)| {
                    let name = String::from_utf16_lossy(&self.units[s..e]).to_ascii_lowercase();
                    SKIPPED_ELEMENTS.contains(&name.as_str())
                });
                if skipped && tag.opening {
                    self.skip_depth += 1;
                }
                if skipped && tag.closing {
                    self.skip_depth = self.skip_depth.saturating_sub(1);
                }
            }
        }
        self.reset();
        self.data_start = i + 1;
    }
}
