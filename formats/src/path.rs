//! sops' tree path syntax: `["a"][0]["b"]` (for `--extract`, `set` and `unset`).

use crate::error::{Error, ErrorKind, Result};
use crate::tree::{Document, Value};

/// One step of a tree path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// A map key.
    Key(String),
    /// A list index.
    Index(usize),
}

/// What a tree path is parsed for: its errors are of a different kind (sops exits 91 for
/// `--extract`, 7 for `set`/`unset`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PathUse {
    /// `--extract`: errors are [`ErrorKind::InvalidTreePath`].
    Extract,
    /// `set` and `unset`: errors are [`ErrorKind::InvalidSetValue`].
    Set,
}

/// Parses a path; `at` says what for (the kind of its errors).
///
/// Fixes two sops 3.11 panics (an empty `[]` and a lone quote `["]`): both are reported as
/// malformed paths instead.
pub fn parse(s: &str, at: PathUse) -> Result<Vec<Step>> {
    let kind = match at {
        PathUse::Extract => ErrorKind::InvalidTreePath,
        PathUse::Set => ErrorKind::InvalidSetValue,
    };
    let bad = |why: &str| {
        Error::new(kind, format!("invalid tree path {s:?}: {why}"))
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
        Error::new(
            ErrorKind::Other,
            format!(
                "component {} not found (looking up {})",
                describe(&steps[n..=n]),
                describe(steps)
            ),
        )
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
    cur.ok_or_else(|| Error::new(ErrorKind::Other, "empty tree path"))
}

fn empty_for(step: Option<&Step>) -> Value {
    match step {
        Some(Step::Index(_)) => Value::List(Vec::new()),
        _ => Value::Map(crate::tree::Map::new()),
    }
}

/// Position of the `i`-th non-comment element of a list, or its length.
fn list_slot(l: &[Value], i: usize) -> Option<usize> {
    l.iter()
        .enumerate()
        .filter(|(_, v)| !matches!(v, Value::Comment(_)))
        .nth(i)
        .map(|(pos, _)| pos)
}

fn set_in(node: &mut Value, steps: &[Step], value: Value) {
    let Some((step, rest)) = steps.split_first() else {
        *node = value;
        return;
    };
    match step {
        Step::Key(k) => {
            if !matches!(node, Value::Map(_)) {
                *node = Value::Map(crate::tree::Map::new());
            }
            let Value::Map(m) = node else { unreachable!() };
            if m.get(k).is_none() {
                m.push(k.clone(), empty_for(rest.first()));
            }
            set_in(m.get_mut(k).expect("present"), rest, value);
        }
        Step::Index(i) => {
            if !matches!(node, Value::List(_)) {
                *node = Value::List(Vec::new());
            }
            let Value::List(l) = node else { unreachable!() };
            // An index past the end appends, as in sops.
            let pos = match list_slot(l, *i) {
                Some(p) => p,
                None => {
                    l.push(empty_for(rest.first()));
                    l.len() - 1
                }
            };
            set_in(&mut l[pos], rest, value);
        }
    }
}

/// Sets the value at `steps`, creating missing maps and lists on the way.
pub fn set(doc: &mut Document, steps: &[Step], value: Value) {
    let mut root = Value::Map(std::mem::take(doc));
    set_in(&mut root, steps, value);
    if let Value::Map(m) = root {
        *doc = m;
    }
}

/// Removes the value at `steps`. Returns false when it is not there.
pub fn unset(doc: &mut Document, steps: &[Step]) -> bool {
    let Some((last, parents)) = steps.split_last() else {
        return false;
    };
    let mut root = Value::Map(std::mem::take(doc));
    let mut node = Some(&mut root);
    for step in parents {
        node = match (node, step) {
            (Some(Value::Map(m)), Step::Key(k)) => m.get_mut(k),
            (Some(Value::List(l)), Step::Index(i)) => match list_slot(l, *i) {
                Some(p) => l.get_mut(p),
                None => None,
            },
            _ => None,
        };
    }
    let removed = match (node, last) {
        (Some(Value::Map(m)), Step::Key(k)) => m.remove(k).is_some(),
        (Some(Value::List(l)), Step::Index(i)) => match list_slot(l, *i) {
            Some(p) => {
                l.remove(p);
                true
            }
            None => false,
        },
        _ => false,
    };
    if let Value::Map(m) = root {
        *doc = m;
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tree::Map;

    #[test]
    fn parses_sops_syntax() {
        assert_eq!(
            parse(r#"["a"][0]['b']"#, PathUse::Extract).unwrap(),
            vec![Step::Key("a".into()), Step::Index(0), Step::Key("b".into())]
        );
        for bad in [r#"["a""#, "[]", r#"["]"#, "[x]", "a"] {
            let e = parse(bad, PathUse::Extract).unwrap_err();
            assert_eq!(e.kind, crate::ErrorKind::InvalidTreePath, "{bad}");
        }
    }

    #[test]
    fn set_creates_and_unset_removes() {
        let mut d = Map::new();
        let p = parse(r#"["a"]["b"][0]["c"]"#, PathUse::Set).unwrap();
        set(&mut d, &p, Value::Int(1));
        assert_eq!(lookup(&d, &p).unwrap(), &Value::Int(1));
        // An index past the end appends.
        let q = parse(r#"["a"]["b"][5]"#, PathUse::Set).unwrap();
        set(&mut d, &q, Value::str("x"));
        let r = parse(r#"["a"]["b"][1]"#, PathUse::Set).unwrap();
        assert_eq!(lookup(&d, &r).unwrap(), &Value::str("x"));
        assert!(unset(&mut d, &r));
        assert!(lookup(&d, &r).is_err());
        assert!(!unset(&mut d, &parse(r#"["zz"]"#, PathUse::Set).unwrap()));
        assert!(unset(&mut d, &parse(r#"["a"]"#, PathUse::Set).unwrap()));
        assert!(d.is_empty());
    }

    #[test]
    fn looks_up_values() {
        let mut inner = Map::new();
        inner.push("b", Value::Int(1));
        let mut d = Map::new();
        d.push("a", Value::List(vec![Value::Map(inner)]));
        let steps = parse(r#"["a"][0]["b"]"#, PathUse::Extract).unwrap();
        assert_eq!(lookup(&d, &steps).unwrap(), &Value::Int(1));
        let e = lookup(&d, &parse(r#"["x"]"#, PathUse::Set).unwrap()).unwrap_err();
        assert_eq!(e.kind, crate::ErrorKind::Other);
        assert!(e.message.contains("\"x\""));
    }
}
