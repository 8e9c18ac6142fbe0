//! How the YAML store types a plain scalar: as yaml.v3 does when sops decodes into
//! `interface{}` (null and boolean words, Go integer bases, YAML-style floats,
//! timestamps). Shared by the general loader and the fast line parser, which must build
//! the same tree.

use crate::timefmt::canonical_time;
use crate::tree::Value;

pub(super) fn is_null_word(s: &str) -> bool {
    matches!(s, "" | "~" | "null" | "Null" | "NULL")
}

pub(super) fn bool_word(s: &str) -> Option<bool> {
    match s {
        "true" | "True" | "TRUE" => Some(true),
        "false" | "False" | "FALSE" => Some(false),
        _ => None,
    }
}

fn special_float(s: &str) -> Option<f64> {
    match s {
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => Some(f64::INFINITY),
        "-.inf" | "-.Inf" | "-.INF" => Some(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => Some(f64::NAN),
        _ => None,
    }
}

/// yaml.v3's float syntax: `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`.
fn yaml_style_float(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
        i += 1;
    }
    let digits = |i: &mut usize| {
        let st = *i;
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
        *i - st
    };
    if i < b.len() && b[i] == b'.' {
        i += 1;
        if digits(&mut i) == 0 {
            return false;
        }
    } else {
        if digits(&mut i) == 0 {
            return false;
        }
        if i < b.len() && b[i] == b'.' {
            i += 1;
            digits(&mut i);
        }
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == b.len()
}

/// The result of Go's `strconv.ParseInt(s, 0, 64)` (after yaml.v3 removed underscores),
/// widened so that values in the uint64 range can be told apart.
fn parse_go_int_base0(s: &str) -> Option<i128> {
    let (neg, body) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let (radix, digits) =
        if let Some(d) = body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
            (16, d)
        } else if let Some(d) = body.strip_prefix("0b").or_else(|| body.strip_prefix("0B")) {
            (2, d)
        } else if let Some(d) = body.strip_prefix("0o").or_else(|| body.strip_prefix("0O")) {
            (8, d)
        } else if body.len() > 1 && body.starts_with('0') {
            (8, &body[1..])
        } else {
            (10, body)
        };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let v = u128::from_str_radix(digits, radix).ok()?;
    if v > u64::MAX as u128 {
        return None;
    }
    Some(if neg { -(v as i128) } else { v as i128 })
}

pub(super) enum Resolved {
    Value(Value),
    /// An integer in 2^63..2^64-1: sops cannot encrypt it (exit 23).
    TooBig,
}

/// Types a plain scalar as yaml.v3 does.
pub(super) fn resolve_plain(s: &str) -> Resolved {
    if is_null_word(s) {
        return Resolved::Value(Value::Null);
    }
    if let Some(b) = bool_word(s) {
        return Resolved::Value(Value::Bool(b));
    }
    if let Some(f) = special_float(s) {
        return Resolved::Value(Value::Float(f));
    }
    let first = s.as_bytes()[0];
    if first.is_ascii_digit() || matches!(first, b'+' | b'-' | b'.') {
        let plain = s.replace('_', "");
        if let Some(i) = parse_go_int_base0(&plain) {
            if i >= i64::MIN as i128 && i <= i64::MAX as i128 {
                return Resolved::Value(Value::Int(i as i64));
            }
            if i > 0 {
                return Resolved::TooBig;
            }
        }
        if yaml_style_float(&plain) {
            if let Ok(f) = plain.parse::<f64>() {
                return Resolved::Value(Value::Float(f));
            }
        }
        if let Some(t) = canonical_time(s) {
            return Resolved::Value(Value::Time(t));
        }
    }
    Resolved::Value(Value::str(s))
}
