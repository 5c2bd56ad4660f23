//! Character classes shared by the markup steps, in the official parser's (JavaScript) terms.

/// JavaScript's `\s`: what the official parser treats as whitespace. Unlike
/// [`char::is_whitespace`] it includes U+FEFF and excludes U+0085.
pub(super) fn is_js_whitespace(c: char) -> bool {
    matches!(
        c,
        '\t' | '\n' | '\u{0B}' | '\u{0C}' | '\r' | ' ' | '\u{A0}' | '\u{1680}' | '\u{2000}'
            ..='\u{200A}'
                | '\u{2028}'
                | '\u{2029}'
                | '\u{202F}'
                | '\u{205F}'
                | '\u{3000}'
                | '\u{FEFF}'
    )
}

/// The characters JavaScript's `.` does not match (without the `s` flag).
pub(super) fn is_line_terminator(c: char) -> bool {
    matches!(c, '\n' | '\r' | '\u{2028}' | '\u{2029}')
}

/// JavaScript's `\w`: ASCII letters, digits and `_`.
pub(super) fn is_js_word(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}
