//! The JSON shape a manifest is read from and written to: objects keep their key order
//! (the writer sorts keys, `placeholderBySecretName` keeps the order given).
//!
//! This crate parses and emits no text: the callers convert between this and
//! sealbox-formats' JSON tree (whose parser refuses duplicate keys and whose emitter writes
//! what `builtins.toJSON` writes), so the manifest contract stays free of I/O and of the
//! sops format.

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
