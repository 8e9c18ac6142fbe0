//! sops' tree path syntax: `["a"][0]["b"]` (for `--extract`, `set` and `unset`).

use crate::error::{Code, Error, Result};
use crate::tree::{Document, Value};

/// One step of a tree path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// A map key.
    Key(String),
    /// A list index.
    Index(usize),
}

/// Parses a path. Errors carry `code` (91 for `--extract`, 7 for `set`/`unset`).
///
/// Fixes two sops 3.11 panics (an empty `[]` and a lone quote `["]`): both are reported as
/// malformed paths instead.
pub fn parse(s: &str, code: Code) -> Result<Vec<Step>> {
    let bad = |why: &str| {
        Error::new(code, format!("invalid tree path {s:?}: {why}"))
            .with_hint(r#"write the path as ["key"]["nested key"][0]"#)
    };
    let mut steps = Vec::new();
    for piece in s.split('[').filter(|p| !p.is_empty()) {
        let inner = piece
            .strip_suffix(']')
            .ok_or_else(|| bad("each component must end with ]"))?;
        if inner.is_empty() {
            return Err(bad("empty component []"));
        }
        if inner.starts_with('"') || inner.starts_with('\'') {
            if inner.len() < 2 {
                return Err(bad("unterminated quoted key"));
            }
            // Like sops: drop the first and last character.
            let mut chars = inner.chars();
            chars.next();
            chars.next_back();
            steps.push(Step::Key(chars.as_str().to_string()));
        } else {
            let i = inner
                .parse::<usize>()
                .map_err(|_| bad("a component must be a quoted key or a list index"))?;
            steps.push(Step::Index(i));
        }
    }
    Ok(steps)
}

fn describe(steps: &[Step]) -> String {
    steps
        .iter()
        .map(|s| match s {
            Step::Key(k) => format!("[{k:?}]"),
            Step::Index(i) => format!("[{i}]"),
        })
        .collect()
}

/// The value at `steps` in `doc`. Missing components are exit 1, as in sops.
pub fn lookup<'a>(doc: &'a Document, steps: &[Step]) -> Result<&'a Value> {
    let not_found = |n: usize| {
        Error::generic(format!(
            "component {} not found (looking up {})",
            describe(&steps[n..=n]),
            describe(steps)
        ))
    };
    let mut cur: Option<&Value> = None;
    for (n, step) in steps.iter().enumerate() {
        let next = match (cur, step) {
            (None, Step::Key(k)) => doc.get(k),
            (Some(Value::Map(m)), Step::Key(k)) => m.get(k),
            (Some(Value::List(l)), Step::Index(i)) => {
                l.iter().filter(|v| !matches!(v, Value::Comment(_))).nth(*i)
            }
            _ => None,
        };
        cur = Some(next.ok_or_else(|| not_found(n))?);
    }
    cur.ok_or_else(|| Error::generic("empty tree path"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tree::Map;

    #[test]
    fn parses_sops_syntax() {
        assert_eq!(
            parse(r#"["a"][0]['b']"#, Code::InvalidTreePathFormat).unwrap(),
            vec![Step::Key("a".into()), Step::Index(0), Step::Key("b".into())]
        );
        for bad in [r#"["a""#, "[]", r#"["]"#, "[x]", "a"] {
            let e = parse(bad, Code::InvalidTreePathFormat).unwrap_err();
            assert_eq!(e.exit_code(), 91, "{bad}");
        }
    }

    #[test]
    fn looks_up_values() {
        let mut inner = Map::new();
        inner.push("b", Value::Int(1));
        let mut d = Map::new();
        d.push("a", Value::List(vec![Value::Map(inner)]));
        let steps = parse(r#"["a"][0]["b"]"#, Code::InvalidTreePathFormat).unwrap();
        assert_eq!(lookup(&d, &steps).unwrap(), &Value::Int(1));
        let e = lookup(&d, &parse(r#"["x"]"#, Code::Generic).unwrap()).unwrap_err();
        assert_eq!(e.exit_code(), 1);
        assert!(e.message.contains("\"x\""));
    }
}
