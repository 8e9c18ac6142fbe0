//! The dotenv store: `KEY=VALUE` lines, `#` comments, and the metadata as sorted
//! `sops_*` lines at the end.

use crate::error::{Error, ErrorKind, Result};
use crate::numfmt::val_to_string_float;
use crate::tree::{Document, Item, Map, Value};

/// The prefix of metadata keys.
pub const PREFIX: &str = "sops_";

/// Parses dotenv text. Keys and values are taken verbatim (sops does not trim or unquote);
/// the two characters `\n` in a value become a newline. A key given twice is an error
/// (sops 3.11 keeps both; see [`crate::tree::first_duplicate`] for why sealbox does not).
pub fn parse(text: &str) -> Result<Document> {
    let mut m = Map::new();
    let mut lines = Vec::new();
    for (n, line) in text.split('\n').enumerate() {
        if line.is_empty() {
            continue;
        }
        if let Some(c) = line.strip_prefix('#') {
            m.push_comment(c);
            continue;
        }
        let (k, v) = line.split_once('=').ok_or_else(|| {
            Error::new(
                ErrorKind::Parse,
                format!("invalid dotenv input line {}: no `=`", n + 1),
            )
            .with_hint("each line must be KEY=VALUE or a # comment")
        })?;
        // Most values hold no backslash: one exact copy, no search for `\n`.
        let v = if v.as_bytes().contains(&b'\\') {
            v.replace("\\n", "\n")
        } else {
            v.to_string()
        };
        m.push(k, Value::str(v));
        lines.push(n + 1);
    }
    if let Some((first, again)) = m.first_duplicate() {
        let key = m.pairs().nth(again).map(|(k, _)| k).unwrap_or_default();
        return Err(Error::new(
            ErrorKind::DuplicateKey,
            format!(
                "duplicate key {key:?} at line {} (already defined at line {})",
                lines[again], lines[first]
            ),
        )
        .with_hint("remove one of the two lines: a dotenv file may set each key once here"));
    }
    Ok(m)
}

/// sops' `ValToString`: how non-string scalars are written in dotenv, INI and exec-env.
pub fn val_to_string(v: &Value) -> Option<String> {
    Some(match v {
        Value::Str(s) => s.to_string(),
        Value::Bytes(b) => String::from_utf8_lossy(b).into_owned(),
        Value::Int(i) => i.to_string(),
        Value::Float(f) => val_to_string_float(*f),
        Value::Bool(b) => b.to_string(),
        Value::Time(t) => t.clone(),
        Value::Null => String::new(),
        _ => return None,
    })
}

/// Emits a document as dotenv text, then the `extra` lines (already flattened metadata).
pub fn emit(doc: &Document, extra: &[(String, String)]) -> Result<String> {
    let mut out = String::new();
    for item in &doc.0 {
        match item {
            Item::Comment(c) => {
                out.push('#');
                out.push_str(c.text());
                out.push('\n');
            }
            Item::Pair(k, v) => {
                let s = val_to_string(v).ok_or_else(|| {
                    Error::new(
                        ErrorKind::Emit,
                        format!("cannot use complex value in dotenv file; offending key {k:?}"),
                    )
                    .with_hint("dotenv holds only top-level scalars: pick yaml or json output")
                })?;
                out.push_str(k);
                out.push('=');
                for (i, part) in s.split('\n').enumerate() {
                    if i > 0 {
                        out.push_str("\\n");
                    }
                    out.push_str(part);
                }
                out.push('\n');
            }
        }
    }
    for (k, v) in extra {
        out.push_str(PREFIX);
        out.push_str(k);
        out.push('=');
        out.push_str(v);
        out.push('\n');
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verbatim_keys_and_values() {
        let d = parse("# db\nexport X=1\n  K = v \nM=a\\nb\n\n").unwrap();
        let pairs: Vec<(&str, String)> = d
            .pairs()
            .map(|(k, v)| (k, v.as_str().unwrap().to_string()))
            .collect();
        assert_eq!(
            pairs,
            [
                ("export X", "1".to_string()),
                ("  K ", " v ".to_string()),
                ("M", "a\nb".to_string())
            ]
        );
        assert_eq!(
            emit(&d, &[]).unwrap(),
            "# db\nexport X=1\n  K = v \nM=a\\nb\n"
        );
        let e = parse("A=1\nnoequals\n").unwrap_err();
        assert!(e.message.contains("line 2") && !e.message.contains("noequals"));
    }

    #[test]
    fn a_key_given_twice_is_refused() {
        let e = parse("# c\nA=1\nB=x\nA=\n").unwrap_err();
        assert_eq!(
            e.message,
            r#"duplicate key "A" at line 4 (already defined at line 2)"#
        );
        // The metadata lines are keys like any other.
        assert!(parse("A=1\nsops_mac=x\nsops_mac=y\n").is_err());
        assert!(parse("A=1\nexport A=1\n a=1\n").is_ok());
    }

    #[test]
    fn complex_values_are_refused() {
        let mut d = Map::new();
        d.push("m", Value::Map(Map::new()));
        assert_eq!(emit(&d, &[]).unwrap_err().kind, crate::ErrorKind::Emit);
        let mut d = Map::new();
        d.push("f", Value::Float(1.0));
        d.push("b", Value::Bool(true));
        assert_eq!(emit(&d, &[]).unwrap(), "f=1.0\nb=true\n");
    }
}
