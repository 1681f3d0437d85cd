//! Escaping of attacker-controlled text (comm, exe, labels) for every human-facing output.
//!
//! A container names its own binaries, so a `comm` may carry terminal escapes, newlines
//! or bidirectional overrides. Everything shown to a person goes through [`escape`].

use std::borrow::Cow;
use std::fmt::Write;

/// True for characters that must never reach a terminal raw: C0 controls, DEL, C1
/// controls, and the Unicode bidirectional overrides and isolates.
pub fn is_dangerous(c: char) -> bool {
    matches!(c, '\0'..='\x1f' | '\x7f'..='\u{9f}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
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
}
