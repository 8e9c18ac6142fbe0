//! The format-neutral tree every store loads into and emits from.
//!
//! A file is a list of documents ([`Document`] = an ordered map). Maps keep insertion order
//! and may hold duplicate keys (JSON and dotenv keep them). Comments are items of maps and
//! elements of lists, one per comment line, holding the text after the `#`.
//!
//! Plaintext strings live in [`zeroize::Zeroizing`] buffers, so values are wiped when the
//! tree is dropped.

use std::fmt;
use zeroize::Zeroizing;

/// One document: an ordered map.
pub type Document = Map;

/// An ordered map whose items are key/value pairs or comments.
#[derive(Clone, PartialEq, Default)]
pub struct Map(pub Vec<Item>);

/// An item of a [`Map`].
#[derive(Clone, PartialEq)]
pub enum Item {
    /// A key and its value.
    Pair(String, Value),
    /// A comment line (text after `#`).
    Comment(Comment),
}

/// A comment's text: everything after the first `#` (a leading space is kept).
#[derive(Clone, PartialEq)]
pub struct Comment(pub Zeroizing<String>);

impl Comment {
    /// A comment holding `text`.
    pub fn new(text: impl Into<String>) -> Self {
        Comment(Zeroizing::new(text.into()))
    }
    /// The comment's text.
    pub fn text(&self) -> &str {
        &self.0
    }
}

/// A node of the tree.
#[derive(Clone, PartialEq)]
pub enum Value {
    /// An ordered map.
    Map(Map),
    /// A list; may contain [`Value::Comment`] elements.
    List(Vec<Value>),
    /// A UTF-8 string.
    Str(Zeroizing<String>),
    /// A string of raw bytes that are not UTF-8 (the binary store).
    Bytes(Zeroizing<Vec<u8>>),
    /// A 64-bit signed integer.
    Int(i64),
    /// A 64-bit float.
    Float(f64),
    /// A boolean.
    Bool(bool),
    /// A timestamp, held in its canonical RFC 3339 form (see [`crate::timefmt`]).
    Time(String),
    /// null: never encrypted, never hashed.
    Null,
    /// A comment inside a list.
    Comment(Comment),
}

impl Value {
    /// A string value.
    pub fn str(s: impl Into<String>) -> Value {
        Value::Str(Zeroizing::new(s.into()))
    }

    /// A string value from bytes: `Str` when they are UTF-8, `Bytes` otherwise.
    pub fn from_bytes(b: Vec<u8>) -> Value {
        match String::from_utf8(b) {
            Ok(s) => Value::Str(Zeroizing::new(s)),
            Err(e) => Value::Bytes(Zeroizing::new(e.into_bytes())),
        }
    }

    /// The string's bytes, for `Str` and `Bytes`.
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Value::Str(s) => Some(s.as_bytes()),
            Value::Bytes(b) => Some(b),
            _ => None,
        }
    }

    /// The string, for `Str`.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The map, for `Map`.
    pub fn as_map(&self) -> Option<&Map> {
        match self {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }

    /// A short name of the node's kind, for error messages (never the value).
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Map(_) => "map",
            Value::List(_) => "list",
            Value::Str(_) | Value::Bytes(_) => "string",
            Value::Int(_) => "integer",
            Value::Float(_) => "float",
            Value::Bool(_) => "boolean",
            Value::Time(_) => "timestamp",
            Value::Null => "null",
            Value::Comment(_) => "comment",
        }
    }
}

impl Map {
    /// An empty map.
    pub fn new() -> Self {
        Map(Vec::new())
    }

    /// Appends a key/value pair.
    pub fn push(&mut self, key: impl Into<String>, value: Value) {
        self.0.push(Item::Pair(key.into(), value));
    }

    /// Appends a comment.
    pub fn push_comment(&mut self, text: impl Into<String>) {
        self.0.push(Item::Comment(Comment::new(text)));
    }

    /// The value of the first pair with `key`. A linear scan: not for a loop over the
    /// keys of the same map (the linearity tests count its steps).
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.0.iter().find_map(|i| {
            crate::opcount::tick(1);
            match i {
                Item::Pair(k, v) if k == key => Some(v),
                _ => None,
            }
        })
    }

    /// The value of the first pair with `key`, mutably (a linear scan, as [`Map::get`]).
    pub fn get_mut(&mut self, key: &str) -> Option<&mut Value> {
        self.0.iter_mut().find_map(|i| {
            crate::opcount::tick(1);
            match i {
                Item::Pair(k, v) if k == key => Some(v),
                _ => None,
            }
        })
    }

    /// Removes every pair with `key`; returns the first removed value.
    pub fn remove(&mut self, key: &str) -> Option<Value> {
        let mut first = None;
        let mut kept = Vec::with_capacity(self.0.len());
        for item in self.0.drain(..) {
            match item {
                Item::Pair(k, v) if k == key => {
                    if first.is_none() {
                        first = Some(v);
                    }
                }
                other => kept.push(other),
            }
        }
        self.0 = kept;
        first
    }

    /// Iterates over the key/value pairs, skipping comments.
    pub fn pairs(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.0.iter().filter_map(|i| match i {
            Item::Pair(k, v) => Some((k.as_str(), v)),
            Item::Comment(_) => None,
        })
    }

    /// The first key that appears twice: (its first pair's index, the second pair's index),
    /// counting pairs only. Linear (a hash set; small maps compare directly), so the stores
    /// can check every map of a large file.
    pub fn first_duplicate(&self) -> Option<(usize, usize)> {
        first_duplicate(self.pairs().map(|(k, _)| k))
    }

    /// Number of items, comments included.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when the map has no items.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// The first name of `keys` seen before: (index of its first occurrence, index of the
/// repeat). Why every store refuses these: sops never writes two equal keys in one map, and
/// the MAC cannot tell them apart when the added one is empty (an empty string or null is
/// not hashed), so a second `key: ""` would blank a secret for whoever reads the last (or
/// the first) one.
pub fn first_duplicate<'a>(keys: impl Iterator<Item = &'a str>) -> Option<(usize, usize)> {
    let keys: Vec<&str> = keys.collect();
    crate::opcount::tick(keys.len());
    if keys.len() <= 8 {
        for j in 1..keys.len() {
            if let Some(i) = keys[..j].iter().position(|k| *k == keys[j]) {
                return Some((i, j));
            }
        }
        return None;
    }
    let mut seen = std::collections::HashMap::with_capacity(keys.len());
    for (j, k) in keys.iter().enumerate() {
        if let Some(&i) = seen.get(k) {
            return Some((i, j));
        }
        seen.insert(*k, j);
    }
    None
}

// Debug never prints string contents: trees hold secrets.
impl fmt::Debug for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Map(m) => m.fmt(f),
            Value::List(l) => f.debug_list().entries(l).finish(),
            Value::Str(s) => write!(f, "Str(<{} bytes>)", s.len()),
            Value::Bytes(b) => write!(f, "Bytes(<{} bytes>)", b.len()),
            Value::Int(_) => write!(f, "Int(..)"),
            Value::Float(_) => write!(f, "Float(..)"),
            Value::Bool(_) => write!(f, "Bool(..)"),
            Value::Time(_) => write!(f, "Time(..)"),
            Value::Null => write!(f, "Null"),
            Value::Comment(c) => c.fmt(f),
        }
    }
}

impl fmt::Debug for Map {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut m = f.debug_map();
        for item in &self.0 {
            match item {
                Item::Pair(k, v) => m.entry(k, v),
                Item::Comment(c) => m.entry(&"#", c),
            };
        }
        m.finish()
    }
}

impl fmt::Debug for Comment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Comment(<{} bytes>)", self.0.len())
    }
}
