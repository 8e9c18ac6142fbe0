//! Flattened metadata for the dotenv and INI stores.
//!
//! The `sops` block becomes flat `key = string` pairs: a nested map key `k` adds
//! `__map_k`, a list index `i` adds `__list_i`; nulls and empty lists vanish; newlines in
//! values become the two characters `\n`.

use crate::error::{Error, ErrorKind, Result};
use crate::numfmt::go_float_f;
use crate::tree::{Item, Map, Value};

fn scalar(v: &Value) -> Option<String> {
    Some(match v {
        Value::Str(s) => s.to_string(),
        Value::Bytes(b) => String::from_utf8_lossy(b).into_owned(),
        Value::Int(i) => i.to_string(),
        Value::Float(f) => go_float_f(*f),
        Value::Bool(b) => b.to_string(),
        Value::Time(t) => t.clone(),
        _ => return None,
    })
}

fn walk(prefix: &str, v: &Value, out: &mut Vec<(String, String)>) {
    match v {
        Value::Map(m) => {
            for (k, v) in m.pairs() {
                let key = if prefix.is_empty() {
                    k.to_string()
                } else {
                    format!("{prefix}__map_{k}")
                };
                walk(&key, v, out);
            }
        }
        Value::List(l) => {
            for (i, v) in l.iter().enumerate() {
                walk(&format!("{prefix}__list_{i}"), v, out);
            }
        }
        other => {
            if let Some(s) = scalar(other) {
                out.push((prefix.to_string(), s.replace('\n', "\\n")));
            }
        }
    }
}

/// Flattens the metadata tree into sorted `(key, value)` pairs.
pub fn flatten(meta: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    walk("", meta, &mut out);
    out.sort();
    out
}

enum Seg<'a> {
    Map(&'a str),
    List(usize),
}

/// The largest list index a flattened metadata key may hold. Indices may skip (null items
/// are not written), so the entry count is no bound; this one keeps a hostile key such as
/// `sops_age__list_5555555555__map_enc` from making us allocate gigabytes.
const MAX_LIST_INDEX: usize = 65_535;

fn segments(key: &str) -> Result<Vec<Seg<'_>>> {
    let bad = || {
        Error::new(
            ErrorKind::Other,
            format!("invalid flattened metadata key {key:?}"),
        )
    };
    let mut segs = Vec::new();
    let mut rest = key;
    // The first segment is a plain map key.
    let first_end = rest
        .find("__map_")
        .into_iter()
        .chain(rest.find("__list_"))
        .min();
    let (first, tail) = rest.split_at(first_end.unwrap_or(rest.len()));
    segs.push(Seg::Map(first));
    rest = tail;
    while !rest.is_empty() {
        let (is_map, body) = if let Some(b) = rest.strip_prefix("__map_") {
            (true, b)
        } else if let Some(b) = rest.strip_prefix("__list_") {
            (false, b)
        } else {
            return Err(bad());
        };
        let end = [body.find("__map_"), body.find("__list_")]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(body.len());
        let (seg, tail) = body.split_at(end);
        segs.push(if is_map {
            Seg::Map(seg)
        } else {
            let i: usize = seg.parse().map_err(|_| bad())?;
            if i > MAX_LIST_INDEX {
                return Err(Error::new(ErrorKind::Other, format!(
                    "invalid flattened metadata key {key:?}: list index {i} is over {MAX_LIST_INDEX}"
                )));
            }
            Seg::List(i)
        });
        rest = tail;
    }
    Ok(segs)
}

fn insert(node: &mut Value, segs: &[Seg<'_>], value: String) -> Result<()> {
    let Some((first, rest)) = segs.split_first() else {
        *node = Value::str(value);
        return Ok(());
    };
    let fresh = |next: Option<&Seg<'_>>| match next {
        Some(Seg::List(_)) => Value::List(Vec::new()),
        Some(Seg::Map(_)) => Value::Map(Map::new()),
        None => Value::Null,
    };
    match first {
        Seg::Map(k) => {
            if !matches!(node, Value::Map(_)) {
                *node = Value::Map(Map::new());
            }
            let Value::Map(m) = node else { unreachable!() };
            if m.get(k).is_none() {
                m.0.push(Item::Pair(k.to_string(), fresh(rest.first())));
            }
            insert(m.get_mut(k).expect("just inserted"), rest, value)
        }
        Seg::List(i) => {
            if !matches!(node, Value::List(_)) {
                *node = Value::List(Vec::new());
            }
            let Value::List(l) = node else { unreachable!() };
            while l.len() <= *i {
                l.push(fresh(rest.first()));
            }
            if matches!(l[*i], Value::Null) {
                l[*i] = fresh(rest.first());
            }
            insert(&mut l[*i], rest, value)
        }
    }
}

/// Rebuilds the metadata tree from flat pairs (values with `\n` escapes).
pub fn unflatten(pairs: &[(String, String)]) -> Result<Value> {
    let mut root = Value::Map(Map::new());
    for (k, v) in pairs {
        insert(&mut root, &segments(k)?, v.replace("\\n", "\n"))?;
    }
    Ok(root)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metadata::{AgeKey, KeyGroup, Metadata, Selector};

    #[test]
    fn flatten_round_trip_with_groups() {
        let g = |r: &str| KeyGroup {
            age: vec![AgeKey {
                recipient: r.into(),
                enc: "-----BEGIN AGE ENCRYPTED FILE-----\nabc\n-----END AGE ENCRYPTED FILE-----\n"
                    .into(),
            }],
            ..KeyGroup::default()
        };
        let md = Metadata {
            key_groups: vec![g("age1a"), g("age1b")],
            shamir_threshold: 2,
            lastmodified: "2026-11-22T19:17:43Z".into(),
            mac: "ENC[x]".into(),
            selector: Some(Selector::default()),
            mac_only_encrypted: false,
            version: "3.11.0".into(),
        };
        let flat = flatten(&md.to_value());
        let keys: Vec<&str> = flat.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            keys,
            [
                "key_groups__list_0__map_age__list_0__map_enc",
                "key_groups__list_0__map_age__list_0__map_recipient",
                "key_groups__list_1__map_age__list_0__map_enc",
                "key_groups__list_1__map_age__list_0__map_recipient",
                "lastmodified",
                "mac",
                "shamir_threshold",
                "unencrypted_suffix",
                "version",
            ]
        );
        assert!(flat[0].1.contains("\\n") && !flat[0].1.contains('\n'));
        let back = Metadata::from_value(&unflatten(&flat).unwrap(), "f").unwrap();
        assert_eq!(back, md);
    }
}
