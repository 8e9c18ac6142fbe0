//! Text from a pull request (file names, symlink targets, recipients, the words of a
//! `.sops.yaml`) made safe to print into a CI log.
//!
//! A CI runner reads its jobs' output for commands: GitHub's runner takes a line that
//! starts (after spaces) with `::` as a workflow command (`::error`, `::add-mask::`,
//! `::stop-commands::`) and looks for `##[` anywhere in a line (its older syntax); a
//! terminal takes escape sequences. A file named `a\n::add-mask::x` would add lines of the
//! author's choosing. So every piece of untrusted text is escaped before it is printed, in
//! every output format and in error messages:
//!
//! * control characters (C0, DEL, C1), Unicode line and paragraph separators and the
//!   bidirectional controls are written as `\n`, `\t`, `\xNN` or `\u{NNNN}`;
//! * `::` becomes `:\:` and `##[` becomes `#\#[`, so no line carries a command.
//!
//! The text stays readable; it is not meant to be unescaped (JSON output carries the exact
//! text: [`json_string`]).

use std::borrow::Cow;
use std::fmt::Write as _;

/// Whether `c` must not reach a log as it is.
fn is_control(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{2028}' | '\u{2029}' | '\u{200e}' | '\u{200f}' | '\u{061c}'
        )
        || ('\u{202a}'..='\u{202e}').contains(&c)
        || ('\u{2066}'..='\u{2069}').contains(&c)
}

/// Writes the control character `c` escaped: `\t`, `\xNN` below U+0100, else `\u{NNNN}`.
fn push_control(out: &mut String, c: char) {
    match c {
        '\t' => out.push_str("\\t"),
        c if (c as u32) < 0x100 => {
            let _ = write!(out, "\\x{:02x}", c as u32);
        }
        c => {
            let _ = write!(out, "\\u{{{:04x}}}", c as u32);
        }
    }
}

fn needs_escape(s: &str, keep_newlines: bool) -> bool {
    s.contains("::")
        || s.contains("##[")
        || s.chars()
            .any(|c| is_control(c) && !(keep_newlines && c == '\n'))
}

fn escape(s: &str, keep_newlines: bool) -> Cow<'_, str> {
    if !needs_escape(s, keep_newlines) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\n' if keep_newlines => out.push('\n'),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            ':' if chars.peek() == Some(&':') => out.push_str(":\\"),
            '#' if out.ends_with('#') && chars.peek() == Some(&'[') => out.push_str("\\#"),
            c if is_control(c) => push_control(&mut out, c),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// `s` as one line of a log: every control character escaped, no command sequence.
pub fn line(s: &str) -> Cow<'_, str> {
    escape(s, false)
}

/// `s` over several lines (an error message with its hint): as [`line`], but newlines
/// stay. No line can start a command: every `::` is escaped wherever it is.
pub fn lines(s: &str) -> Cow<'_, str> {
    escape(s, true)
}

/// `s` with its control characters escaped as in [`line`] except CR and LF, and `::`
/// and `##[` left alone: for the data of a GitHub workflow command, whose own escaping
/// (`%0A`, `%0D`, `%25`) covers line breaks and whose line starts with the command itself.
pub fn controls(s: &str) -> Cow<'_, str> {
    if !s.chars().any(|c| is_control(c) && c != '\n' && c != '\r') {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\n' | '\r' => out.push(c),
            c if is_control(c) => push_control(&mut out, c),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// An error as `main` prints it: message and hint, escaped ([`lines`]).
pub fn error(e: &sealbox_formats::Error) -> String {
    let mut out = lines(&e.message).into_owned();
    if let Some(h) = &e.hint {
        out.push_str("\n  hint: ");
        out.push_str(&lines(h));
    }
    out
}

/// A JSON string literal of `s`: exact (a JSON reader gets `s` back), and safe in a log:
/// control characters are `\uNNNN` escapes (the JSON store's encoder, as Go's), as are the
/// `:` of every `::`, the `#` that starts `##[` and the Unicode controls of [`line`].
pub fn json_string(s: &str) -> String {
    let quoted = sealbox_formats::store::json::emit_value(&sealbox_formats::Value::str(s), -1)
        .expect("a string always emits");
    let mut out = String::with_capacity(quoted.len());
    let mut chars = quoted.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            ':' if chars.peek() == Some(&':') => out.push_str("\\u003a"),
            '#' if chars.peek() == Some(&'#') => {
                // `##[`: escape the first `#` (one lookahead is enough: the second `#`
                // comes round again and is escaped too when a `#[` follows it).
                let mut ahead = chars.clone();
                ahead.next();
                if ahead.peek() == Some(&'[') {
                    out.push_str("\\u0023");
                } else {
                    out.push('#');
                }
            }
            c if is_control(c) => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_line_of_untrusted_text_can_carry_a_command() {
        assert_eq!(line("hosts/h01.yaml"), "hosts/h01.yaml");
        assert!(matches!(line("plain"), Cow::Borrowed(_)));
        assert_eq!(
            line("a\n::add-mask::x\r\t\x1b[31m"),
            "a\\n:\\:add-mask:\\:x\\r\\t\\x1b[31m"
        );
        assert_eq!(line("x ##[error]y"), "x #\\#[error]y");
        assert_eq!(line(":::"), ":\\:\\:");
        assert_eq!(
            line("a\u{202e}b\u{2028}c\u{85}"),
            "a\\u{202e}b\\u{2028}c\\x85"
        );
        assert_eq!(lines("one\n  ::error::two"), "one\n  :\\:error:\\:two");
        for s in [
            "\n::error::x",
            " ::stop-commands::t",
            "##[add-mask]s",
            "a\r\n::x::",
        ] {
            for l in line(s).lines().chain(lines(s).lines()) {
                assert!(
                    !l.trim_start().starts_with("::") && !l.contains("##["),
                    "{s:?}: {l:?}"
                );
            }
        }
    }

    #[test]
    fn json_strings_are_exact_and_inert() {
        let s = "a\n::add-mask::x ##[cmd] \u{202e}\"";
        let j = json_string(s);
        assert!(
            !j.contains("::") && !j.contains("##[") && !j.contains('\n'),
            "{j}"
        );
        assert!(!j.contains('\u{202e}'), "{j}");
        let back = sealbox_formats::store::json::parse(&format!("{{\"k\": {j}}}")).unwrap();
        assert_eq!(back.get("k").and_then(|v| v.as_str()), Some(s));
        assert_eq!(json_string("###["), "\"#\\u0023#[\"");
    }
}
