//! The JSON shape a manifest is read from and written to: objects keep their key order
//! (the writer sorts keys, `placeholderBySecretName` keeps the order given).
//!
//! The text is sealbox-formats' (`json.rs`: its parser refuses duplicate keys, its emitter
//! writes what `builtins.toJSON` writes); this is the shape the contract reads and writes,
//! converted once here from and to sealbox-formats' tree.

use sealbox_formats::{Map, Value as Tree};

/// A JSON value.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A number with a fraction or exponent.
    Float(f64),
    /// A string.
    Str(String),
    /// An array.
    List(Vec<Value>),
    /// An object, in key order.
    Object(Vec<(String, Value)>),
}

impl Value {
    /// What kind of value this is, as error messages name it.
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "boolean",
            Value::Int(_) => "integer",
            Value::Float(_) => "float",
            Value::Str(_) => "string",
            Value::List(_) => "list",
            Value::Object(_) => "map",
        }
    }

    /// The string, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// A string value.
    pub fn str(s: impl Into<String>) -> Value {
        Value::Str(s.into())
    }
}

impl Value {
    /// sealbox-formats' tree of a map (a JSON object, or a sops document) as a value. JSON
    /// text holds no timestamps, comments or bytes; a sops document may: timestamps and
    /// bytes read as strings, comments as `null`.
    pub fn from_map(m: &Map) -> Value {
        fn value(v: &Tree) -> Value {
            match v {
                Tree::Null | Tree::Comment(_) => Value::Null,
                Tree::Bool(b) => Value::Bool(*b),
                Tree::Int(i) => Value::Int(*i),
                Tree::Float(f) => Value::Float(*f),
                Tree::Str(s) => Value::str(s.as_str()),
                Tree::Time(t) => Value::str(t),
                Tree::Bytes(b) => Value::str(String::from_utf8_lossy(b)),
                Tree::List(l) => Value::List(l.iter().map(value).collect()),
                Tree::Map(m) => Value::from_map(m),
            }
        }
        Value::Object(m.pairs().map(|(k, v)| (k.to_string(), value(v))).collect())
    }

    /// The value as sealbox-formats' tree (what its JSON emitter writes).
    pub fn to_tree(&self) -> Tree {
        match self {
            Value::Null => Tree::Null,
            Value::Bool(b) => Tree::Bool(*b),
            Value::Int(i) => Tree::Int(*i),
            Value::Float(f) => Tree::Float(*f),
            Value::Str(s) => Tree::str(s),
            Value::List(l) => Tree::List(l.iter().map(Value::to_tree).collect()),
            Value::Object(o) => {
                let mut m = Map::new();
                for (k, v) in o {
                    m.push(k, v.to_tree());
                }
                Tree::Map(m)
            }
        }
    }
}

/// A JSON object's pairs.
pub type Object = [(String, Value)];

/// The value of `name` in an object: Go's decoder matches keys case-insensitively,
/// preferring an exact match.
pub fn field<'a>(m: &'a Object, name: &str) -> Option<&'a Value> {
    m.iter()
        .find(|(k, _)| k == name)
        .or_else(|| m.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)))
        .map(|(_, v)| v)
}
