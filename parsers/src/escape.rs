//! Escaping of attacker-controlled text (comm, exe, labels) for every human-facing output.
//!
//! A container names its own binaries, so a `comm` may carry terminal escapes, newlines
//! or bidirectional overrides. Everything shown to a person goes through [`escape`].

use std::borrow::Cow;
use std::fmt::Write;

/// True for characters that must never reach a terminal raw: C0 controls, DEL, C1
/// controls, the Unicode bidirectional marks, overrides and isolates (U+061C, U+200E,
/// U+200F, U+202A to U+202E, U+2066 to U+2069), the invisible zero-width space, joiners
/// and byte order mark (U+200B to U+200D, U+FEFF: look-alike names) and the line and
/// paragraph separators (U+2028, U+2029: line breaks in editors and browsers).
pub fn is_dangerous(c: char) -> bool {
    matches!(
        c,
        '\0'..='\x1f'
            | '\x7f'..='\u{9f}'
            | '\u{061c}'
            | '\u{200b}'..='\u{200f}'
            | '\u{2028}'..='\u{202e}'
            | '\u{2066}'..='\u{2069}'
            | '\u{feff}'
    )
}

/// `s` with every dangerous character escaped (`\n`, `\t`, `\e`, `\xNN`, `\u{NNNN}`) and
/// backslashes doubled, so that the output is unambiguous. Borrows when nothing changes.
pub fn escape(s: &str) -> Cow<'_, str> {
    if !s.chars().any(|c| c == '\\' || is_dangerous(c)) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\x1b' => out.push_str("\\e"),
            c if (c as u32) < 0x100 && is_dangerous(c) => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if is_dangerous(c) => {
                let _ = write!(out, "\\u{{{:04x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// Bytes (not necessarily UTF-8) as escaped text: invalid UTF-8 bytes become `\xNN`.
pub fn escape_bytes(b: &[u8]) -> String {
    let mut out = String::with_capacity(b.len());
    for chunk in b.utf8_chunks() {
        out.push_str(&escape(chunk.valid()));
        for byte in chunk.invalid() {
            let _ = write!(out, "\\x{byte:02x}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_is_borrowed() {
        assert!(matches!(escape("/usr/bin/ls"), Cow::Borrowed(_)));
    }

    #[test]
    fn terminal_escapes_and_bidi_are_escaped() {
        assert_eq!(escape("a\x1b[31mb\nc"), "a\\e[31mb\\nc");
        assert_eq!(escape("x\u{202e}y"), "x\\u{202e}y");
        assert_eq!(escape("\u{9b}2J"), "\\x9b2J");
        assert_eq!(escape("a\\b"), "a\\\\b");
        assert_eq!(escape_bytes(b"ok\xff\x07"), "ok\\xff\\x07");
    }

    #[test]
    fn invisible_and_line_breaking_characters_are_escaped() {
        // Look-alike workload keys: `exe:/usr/bin/ls` and `exe:/usr/bin/l<ZWSP>s` print the
        // same unless the invisible ones are escaped; U+2028/2029 break lines in editors.
        for (c, want) in [
            ('\u{061c}', "\\u{061c}"),
            ('\u{200b}', "\\u{200b}"),
            ('\u{200c}', "\\u{200c}"),
            ('\u{200d}', "\\u{200d}"),
            ('\u{2028}', "\\u{2028}"),
            ('\u{2029}', "\\u{2029}"),
            ('\u{feff}', "\\u{feff}"),
        ] {
            assert!(is_dangerous(c), "{:04x}", c as u32);
            assert_eq!(escape(&format!("l{c}s")), format!("l{want}s"));
        }
        // Their neighbours stay as they are.
        for c in [
            '\u{061b}', '\u{200a}', '\u{2027}', '\u{202f}', '\u{fefe}', 'é', '日',
        ] {
            assert!(!is_dangerous(c), "{:04x}", c as u32);
        }
    }
}
