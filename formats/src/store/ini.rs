//! The INI store (go-ini semantics as sops 3.11 uses them).
//!
//! The tree is one document whose items are sections (`[name]` → a map of keys). Keys
//! before the first header belong to `DEFAULT`, written without a header. Values are
//! strings: surrounding quotes are stripped, `;`/`#` in an unquoted value starts an inline
//! comment. A comment above or beside a key becomes a Comment item after that key; a
//! section's leading comment becomes its first item. The metadata is a `[sops]` section
//! of flattened keys.

use super::dotenv::val_to_string;
use crate::error::{Error, ErrorKind, Result};
use crate::tree::{Document, Item, Map, Value};
use std::collections::HashMap;

/// The section of keys written before any header.
pub const DEFAULT_SECTION: &str = "DEFAULT";
/// The metadata section.
pub const SOPS_SECTION: &str = "sops";

fn strip_comment_marker(line: &str) -> &str {
    let set: &[char] = if line.starts_with(';') {
        &[';', ' ']
    } else {
        &['#', ' ']
    };
    line.trim_start_matches(set)
}

/// Strips one pair of surrounding `"` or `'` when the value holds exactly those two.
fn unquote_pair(v: &str) -> Option<&str> {
    for q in ['"', '\''] {
        if v.len() >= 2 && v.starts_with(q) && v.ends_with(q) && v.matches(q).count() == 2 {
            return Some(&v[1..v.len() - 1]);
        }
    }
    None
}

/// Parses INI text into one document of sections.
///
/// A section header given twice, or a key given twice in one section, is an error naming
/// it and both lines. (sops 3.11 keeps a repeated section as two, and go-ini keeps the
/// last value of a repeated key; neither is written by sops from a tree, and the MAC
/// cannot see an added empty value, see [`crate::tree::first_duplicate`].) The check is a
/// hash lookup per key, so a large section stays linear.
pub fn parse(text: &str) -> Result<Document> {
    let mut sections: Vec<(String, Map)> = vec![(DEFAULT_SECTION.to_string(), Map::new())];
    // The line of each section header and of each key of the current section.
    let mut section_lines: HashMap<String, usize> = HashMap::new();
    section_lines.insert(DEFAULT_SECTION.to_string(), 0);
    let mut key_lines: HashMap<String, usize> = HashMap::new();
    let dup = |what: String, line: usize, first: usize| {
        let first = if first == 0 {
            "before the first section header".to_string()
        } else {
            format!("at line {first}")
        };
        Error::new(
            ErrorKind::DuplicateKey,
            format!("INI line {line}: duplicate {what} (already defined {first})"),
        )
        .with_hint("remove or merge the two: an INI file may define each section, and each key of a section, once here")
    };
    let mut pending: Vec<String> = Vec::new();
    let mut lines = text.split('\n').enumerate();
    while let Some((n, raw)) = lines.next() {
        let line = raw.trim_end_matches('\r').trim();
        if line.is_empty() {
            continue;
        }
        if line.starts_with(';') || line.starts_with('#') {
            pending.push(strip_comment_marker(line).to_string());
            continue;
        }
        if let Some(rest) = line.strip_prefix('[') {
            let name = rest
                .strip_suffix(']')
                .ok_or_else(|| {
                    Error::new(
                        ErrorKind::Parse,
                        format!("INI line {}: unclosed section header", n + 1),
                    )
                })?
                .trim();
            if let Some(&first) = section_lines.get(name) {
                if first != 0 || !sections[0].1.is_empty() {
                    return Err(dup(format!("section [{name}]"), n + 1, first));
                }
            }
            section_lines.insert(name.to_string(), n + 1);
            key_lines.clear();
            let mut m = Map::new();
            for c in pending.drain(..) {
                m.push_comment(c);
            }
            sections.push((name.to_string(), m));
            continue;
        }
        let delim = line.find(['=', ':']).ok_or_else(|| {
            Error::new(
                ErrorKind::Parse,
                format!("INI line {}: a key without `=`", n + 1),
            )
            .with_hint("each line must be `key = value`, a [section] or a ; comment")
        })?;
        let key = line[..delim].trim().to_string();
        let mut value = line[delim + 1..].trim().to_string();
        let mut inline = None;
        if let Some(one_line) = value
            .strip_prefix("\"\"\"")
            .and_then(|rest| rest.rfind("\"\"\"").map(|end| rest[..end].to_string()))
        {
            // A """ value closed on its own line: up to the last """ (go-ini's
            // strings.LastIndex), which is what our emitter writes for a value with a `.
            value = one_line;
        } else if value.starts_with("\"\"\"") {
            // A multi-line """ value.
            let mut acc = value[3..].to_string();
            loop {
                let (_, next) = lines.next().ok_or_else(|| {
                    Error::new(
                        ErrorKind::Parse,
                        format!("INI line {}: unterminated \"\"\" value", n + 1),
                    )
                })?;
                let next = next.trim_end_matches('\r');
                acc.push('\n');
                if let Some(end) = next.rfind("\"\"\"") {
                    acc.push_str(&next[..end]);
                    break;
                }
                acc.push_str(next);
            }
            value = acc;
        } else if let Some(inner) = value
            .strip_prefix('`')
            .and_then(|v| v.rfind('`').map(|end| v[..end].to_string()))
        {
            // Backquoted: taken verbatim, `;` and `#` included.
            value = inner;
        } else {
            // go-ini looks for an inline comment before it strips quotes, so `"a;b"`
            // is the value `"a` and the comment `b"`.
            if let Some(i) = value.find([';', '#']) {
                inline = Some(strip_comment_marker(value[i..].trim()).to_string());
                value = value[..i].trim_end().to_string();
            }
            if let Some(u) = unquote_pair(&value) {
                value = u.to_string();
            }
        }
        let (name, section) = sections.last_mut().expect("DEFAULT");
        if let Some(&first) = key_lines.get(&key) {
            return Err(dup(
                format!("key {key:?} in section [{name}]"),
                n + 1,
                first,
            ));
        }
        key_lines.insert(key.clone(), n + 1);
        section.push(key, Value::str(value));
        for c in pending.drain(..).chain(inline) {
            section.push_comment(c);
        }
    }
    let mut doc = Map::new();
    for (name, m) in sections {
        if name == DEFAULT_SECTION && m.is_empty() {
            continue;
        }
        doc.push(name, Value::Map(m));
    }
    Ok(doc)
}

fn quote(v: &str) -> String {
    let plain_safe = !v.contains([';', '#', '\n', '`'])
        && v == v.trim()
        && unquote_pair(v).is_none()
        && !v.starts_with("\"\"\"");
    if plain_safe {
        v.to_string()
    } else if !v.contains('`') && !v.contains('\n') {
        format!("`{v}`")
    } else {
        format!("\"\"\"{v}\"\"\"")
    }
}

/// A comment line. The parser strips the leading run of the line's own marker (and spaces),
/// so a text that starts with `;` is written after `#`, where its `;` survives.
fn comment_line(text: &str) -> String {
    let marker = if text.starts_with(';') { '#' } else { ';' };
    format!("{marker} {text}\n")
}

fn emit_section(out: &mut String, name: &str, m: &Map, header: bool) -> Result<()> {
    let width = m.pairs().map(|(k, _)| k.chars().count()).max().unwrap_or(0);
    let mut comments: Vec<&str> = Vec::new();
    let mut lines: Vec<(String, Vec<&str>)> = Vec::new();
    // Comments before the first key stay on top; a comment after a key belongs above it.
    for item in &m.0 {
        match item {
            Item::Comment(c) => match lines.last_mut() {
                Some((_, cs)) => cs.push(c.text()),
                None => comments.push(c.text()),
            },
            Item::Pair(k, v) => {
                let s = val_to_string(v).ok_or_else(|| {
                    Error::new(
                        ErrorKind::Emit,
                        format!(
                            "cannot use a {} as the value of {name}.{k} in an INI file",
                            v.kind()
                        ),
                    )
                })?;
                let pad = width - k.chars().count();
                lines.push((
                    format!("{k}{} = {}", " ".repeat(pad), quote(&s)),
                    Vec::new(),
                ));
            }
        }
    }
    // A section's leading comments go above its header, where the parser finds them again.
    for c in comments {
        out.push_str(&comment_line(c));
    }
    if header {
        out.push_str(&format!("[{name}]\n"));
    }
    for (line, cs) in lines {
        for c in cs {
            out.push_str(&comment_line(c));
        }
        out.push_str(line.trim_end());
        if line.ends_with(' ') {
            out.push(' ');
        }
        out.push('\n');
    }
    Ok(())
}

/// Emits a document of sections, then the `[sops]` section from `meta` when given.
pub fn emit(doc: &Document, meta: Option<&[(String, String)]>) -> Result<String> {
    let mut out = String::new();
    let mut first = true;
    for item in &doc.0 {
        let Item::Pair(name, v) = item else { continue };
        let Value::Map(m) = v else {
            return Err(Error::new(
                ErrorKind::Emit,
                format!(
                    "section values should always be maps: {name:?} is a {}",
                    v.kind()
                ),
            )
            .with_hint("INI output needs every top-level key to be a section; pick yaml or json"));
        };
        if !first {
            out.push('\n');
        }
        first = false;
        emit_section(&mut out, name, m, name != DEFAULT_SECTION)?;
    }
    if let Some(pairs) = meta {
        if !first {
            out.push('\n');
        }
        let mut m = Map::new();
        for (k, v) in pairs {
            m.push(k.clone(), Value::str(v.clone()));
        }
        emit_section(&mut out, SOPS_SECTION, &m, true)?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(m: &Map) -> Vec<(String, String)> {
        m.pairs()
            .map(|(k, v)| (k.to_string(), v.as_str().unwrap_or("?").to_string()))
            .collect()
    }

    #[test]
    fn go_ini_semantics() {
        let d = parse("top = 1\n; lead\n[db]\nuser = admin ; inline\npass: `q;uoted`\nx = a#b\n")
            .unwrap();
        let def = d.get("DEFAULT").unwrap().as_map().unwrap();
        assert_eq!(pairs(def), [("top".into(), "1".into())]);
        let db = d.get("db").unwrap().as_map().unwrap();
        assert_eq!(
            pairs(db),
            [
                ("user".to_string(), "admin".to_string()),
                ("pass".into(), "q;uoted".into()),
                ("x".into(), "a".into())
            ]
        );
        let comments: Vec<&str> =
            db.0.iter()
                .filter_map(|i| match i {
                    Item::Comment(c) => Some(c.text()),
                    _ => None,
                })
                .collect();
        assert_eq!(comments, ["lead", "inline", "b"]);
        // Re-emitting and re-parsing gives the same tree.
        let text = emit(&d, None).unwrap();
        assert_eq!(parse(&text).unwrap(), d, "{text}");
        assert!(text.starts_with("top = 1\n\n; lead\n[db]\n"), "{text}");
    }

    #[test]
    fn double_quotes_do_not_protect_comment_characters() {
        // go-ini (and so sops) splits off the inline comment before stripping quotes.
        let d = parse("[s]\npassword = \"quoted ; value # kept\"\n").unwrap();
        let s = d.get("s").unwrap().as_map().unwrap();
        assert_eq!(pairs(s), [("password".to_string(), "\"quoted".to_string())]);
        assert!(matches!(&s.0[1], Item::Comment(c) if c.text() == "value # kept\""));
        assert_eq!(
            emit(&d, None).unwrap(),
            "[s]\n; value # kept\"\npassword = \"quoted\n"
        );
    }

    #[test]
    fn repeated_sections_and_keys_are_refused() {
        let e = parse("[a]\nk = 1\n[b]\nk = 2\n; c\n[a]\nj = 3\n").unwrap_err();
        assert_eq!(
            e.message,
            "INI line 6: duplicate section [a] (already defined at line 1)"
        );
        let e = parse("[s]\npassword = x\nuser = y\npassword =\n").unwrap_err();
        assert_eq!(
            e.message,
            r#"INI line 4: duplicate key "password" in section [s] (already defined at line 2)"#
        );
        let e = parse("k = 1\n[DEFAULT]\nj = 2\n").unwrap_err();
        assert!(e.message.contains("before the first section header"), "{e}");
        let e = parse("k = 1\nk : 2\n").unwrap_err();
        assert!(e.message.contains("section [DEFAULT]"), "{e}");
        // The same key in two sections, and an explicit [DEFAULT] first, are fine.
        assert!(parse("[DEFAULT]\nk = 1\n[a]\nk = 1\n[b]\nk = 1\n").is_ok());
    }

    #[test]
    fn errors() {
        assert!(parse("[a]\nnodelimiter\n")
            .unwrap_err()
            .message
            .contains("line 2"));
        let mut d = Map::new();
        d.push("k", Value::str("v"));
        assert_eq!(emit(&d, None).unwrap_err().kind, crate::ErrorKind::Emit);
    }

    #[test]
    fn multiline_and_quotes_round_trip() {
        let mut s = Map::new();
        s.push("m", Value::str("l1\nl2"));
        s.push("q", Value::str("say \"hi\""));
        s.push("sp", Value::str(" padded "));
        let mut d = Map::new();
        d.push("s", Value::Map(s));
        assert_eq!(parse(&emit(&d, None).unwrap()).unwrap(), d);
    }

    /// Found by fuzzing: a value with a backquote is written as `"""…"""` on one line, which
    /// the parser read back with the quotes kept (so every round trip added three more).
    #[test]
    fn triple_quoted_value_on_one_line_round_trips() {
        let mut s = Map::new();
        for v in ["x`y z", "a`\"", "\"x`", "a`\"\"\"b"] {
            s.push(format!("k{}", s.len()), Value::str(v));
        }
        let mut d = Map::new();
        d.push("s", Value::Map(s));
        let text = emit(&d, None).unwrap();
        assert!(text.contains("k0 = \"\"\"x`y z\"\"\"\n"), "{text}");
        assert_eq!(parse(&text).unwrap(), d);
        // go-ini: up to the last """ of the line; a multi-line value ends at its line's last """.
        let d = parse("a = \"\"\"v\"\"\" \nb = \"\"\"l1\nl2\"\"\"x\"\"\"\n").unwrap();
        let s = d.get(DEFAULT_SECTION).unwrap().as_map().unwrap();
        assert_eq!(s.get("a"), Some(&Value::str("v")));
        assert_eq!(s.get("b"), Some(&Value::str("l1\nl2\"\"\"x")));
    }

    /// Found by fuzzing: a comment `;c` (read from `# ;c`) was written as `; ;c`, which
    /// reads back as `c`.
    #[test]
    fn comment_starting_with_a_marker_round_trips() {
        for text in [
            "# ;c\n[s]\nk = v\n",
            "; #c\n[s]\nk = v\n",
            "[s]\nk = v # ;x\n",
        ] {
            let d = parse(text).unwrap();
            let out = emit(&d, None).unwrap();
            assert_eq!(parse(&out).unwrap(), d, "{text:?} -> {out:?}");
        }
    }
}
