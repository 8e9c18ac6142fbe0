//! The one definition of every manifest field: its JSON name, where it lives in the types
//! of `model.rs` and how it is read and written (its codec). [`read`] and [`write`] are
//! loops over these tables, so a field cannot be read under one name and written under
//! another, and `sealbox manifest` knows the settings of an entry from them.
//!
//! Reading follows Go's `encoding/json` as sops-nix decodes the manifest: unknown fields
//! are ignored, `null` or a missing field is the zero value, keys match
//! case-insensitively (an exact match first), and a value of the wrong JSON type is an
//! error naming the field (and the entry). Errors never quote values, only names.
//! Writing gives what the NixOS module's `builtins.toJSON` gives: keys sorted, every field
//! present (`credentialName` only when set), "" written as `null` where the module writes
//! `null` for an unset option.
//!
//! A new manifest field is one line in a table below (and a field in `model.rs`).

use crate::model::{Common, Logging, Manifest, Secret, Template};
use crate::value::{field, Object, Value};

/// A manifest that does not decode: the message names the field and the entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReadError(pub String);

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ReadError {}

type Res<T> = Result<T, String>;

/// How one kind of field is read and written. `ctx` prefixes read errors (`secret NAME: `).
trait Codec {
    type T;
    fn read(v: Option<&Value>, name: &str, ctx: &str) -> Res<Self::T>;
    /// `None`: the field is left out.
    fn write(t: &Self::T) -> Option<Value>;
}

/// One field of `T`.
pub struct Field<T> {
    /// The JSON name.
    pub name: &'static str,
    read: fn(&mut T, Option<&Value>, &str) -> Res<()>,
    write: fn(&T) -> Option<Value>,
}

/// `fields!(T { "jsonName" => path.in.t: Codec, … })`: a table of [`Field`]s.
macro_rules! fields {
    ($t:ty { $($name:literal => $($path:ident).+ : $codec:ty),* $(,)? }) => {
        &[$(Field::<$t> {
            name: $name,
            read: |t, v, ctx| {
                t.$($path).+ = <$codec as Codec>::read(v, $name, ctx)?;
                Ok(())
            },
            write: |t| <$codec as Codec>::write(&t.$($path).+),
        }),*]
    };
}

/// The top level (in sops-nix's order; `logging`, the placeholders, secrets and templates
/// are objects and lists of their own).
pub const TOP: &[Field<Manifest>] = fields!(Manifest {
    "secretsMountPoint" => secrets_mount_point: Text,
    "symlinkPath" => symlink_path: Text,
    "keepGenerations" => keep_generations: Count,
    "sshKeyPaths" => ssh_key_paths: Texts,
    "gnupgHome" => gnupg_home: TextOrNull,
    "ageKeyFile" => age_key_file: TextOrNull,
    "ageSshKeyPaths" => age_ssh_key_paths: Texts,
    "useTmpfs" => use_tmpfs: Flag,
    "userMode" => user_mode: Flag,
    "logging" => logging: LoggingObject,
    "placeholderBySecretName" => placeholder_by_secret_name: Placeholders,
    "secrets" => secrets: Entries<Secret>,
    "templates" => templates: Entries<Template>,
});

/// `logging`.
pub const LOGGING: &[Field<Logging>] = fields!(Logging {
    "keyImport" => key_import: Flag,
    "secretChanges" => secret_changes: Flag,
});

/// What secrets and templates share.
pub const COMMON: &[Field<Common>] = fields!(Common {
    "name" => name: Text,
    "path" => path: Text,
    "mode" => mode: Text,
    "owner" => owner: OptText,
    "uid" => uid: Id,
    "group" => group: OptText,
    "gid" => gid: Id,
    "restartUnits" => restart_units: Texts,
    "reloadUnits" => reload_units: Texts,
});

/// A secret's own fields (besides [`COMMON`]).
pub const SECRET: &[Field<Secret>] = fields!(Secret {
    "key" => key: Text,
    "sopsFile" => sops_file: Text,
    "format" => format: Text,
    "credentialName" => credential_name: Omitted,
});

/// A template's own fields (besides [`COMMON`]).
pub const TEMPLATE: &[Field<Template>] = fields!(Template {
    "content" => content: Text,
    "file" => file: Text,
});

/// An entry of `secrets` or `templates`: [`COMMON`] plus its own fields.
pub trait Entry: Default + 'static {
    /// `secret` or `template` (error messages).
    const KIND: &'static str;
    /// Its own fields.
    const OWN: &'static [Field<Self>];
    /// The shared fields.
    fn common_mut(&mut self) -> &mut Common;
    /// The shared fields.
    fn common(&self) -> &Common;
}

impl Entry for Secret {
    const KIND: &'static str = "secret";
    const OWN: &'static [Field<Self>] = SECRET;
    fn common_mut(&mut self) -> &mut Common {
        &mut self.common
    }
    fn common(&self) -> &Common {
        &self.common
    }
}

impl Entry for Template {
    const KIND: &'static str = "template";
    const OWN: &'static [Field<Self>] = TEMPLATE;
    fn common_mut(&mut self) -> &mut Common {
        &mut self.common
    }
    fn common(&self) -> &Common {
        &self.common
    }
}

/// The JSON names of an entry's fields, shared ones first.
pub fn entry_field_names<E: Entry>() -> impl Iterator<Item = &'static str> {
    COMMON
        .iter()
        .map(|f| f.name)
        .chain(E::OWN.iter().map(|f| f.name))
}

/// Decodes a manifest.
pub fn read(doc: &Value) -> Result<Manifest, ReadError> {
    let Value::Object(top) = doc else {
        return Err(ReadError(format!(
            "the manifest must be a JSON object, not a {}",
            doc.kind()
        )));
    };
    let mut m = Manifest::default();
    read_fields(&mut m, TOP, top, "").map_err(ReadError)?;
    Ok(m)
}

/// Encodes a manifest (keys sorted, as `builtins.toJSON` writes them).
pub fn write(m: &Manifest) -> Value {
    object(write_fields(m, TOP))
}

fn read_fields<T>(t: &mut T, fields: &[Field<T>], m: &Object, ctx: &str) -> Res<()> {
    for f in fields {
        (f.read)(t, field(m, f.name), ctx)?;
    }
    Ok(())
}

fn write_fields<T>(t: &T, fields: &[Field<T>]) -> Vec<(String, Value)> {
    fields
        .iter()
        .filter_map(|f| Some((f.name.to_string(), (f.write)(t)?)))
        .collect()
}

fn object(mut pairs: Vec<(String, Value)>) -> Value {
    pairs.sort_by(|a, b| a.0.cmp(&b.0));
    Value::Object(pairs)
}

// ---- codecs

/// A string; `null` or missing = "".
struct Text;
impl Codec for Text {
    type T = String;
    fn read(v: Option<&Value>, name: &str, ctx: &str) -> Res<String> {
        match v {
            None | Some(Value::Null) => Ok(String::new()),
            Some(Value::Str(s)) => Ok(s.clone()),
            Some(v) => Err(format!(
                "{ctx}field '{name}' must be a string, not a {}",
                v.kind()
            )),
        }
    }
    fn write(t: &String) -> Option<Value> {
        Some(Value::str(t))
    }
}

/// [`Text`] that is written as `null` when empty (an unset path option of the module).
struct TextOrNull;
impl Codec for TextOrNull {
    type T = String;
    fn read(v: Option<&Value>, name: &str, ctx: &str) -> Res<String> {
        Text::read(v, name, ctx)
    }
    fn write(t: &String) -> Option<Value> {
        Some(if t.is_empty() {
            Value::Null
        } else {
            Value::str(t)
        })
    }
}

/// A string or `null` (missing = `null`): "" and `null` differ.
struct OptText;
impl Codec for OptText {
    type T = Option<String>;
    fn read(v: Option<&Value>, name: &str, ctx: &str) -> Res<Option<String>> {
        match v {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Str(s)) => Ok(Some(s.clone())),
            Some(v) => Err(format!(
                "{ctx}field '{name}' must be a string or null, not a {}",
                v.kind()
            )),
        }
    }
    fn write(t: &Option<String>) -> Option<Value> {
        Some(t.as_ref().map_or(Value::Null, Value::str))
    }
}

/// [`OptText`] that is left out when unset (sealbox's own extensions).
struct Omitted;
impl Codec for Omitted {
    type T = Option<String>;
    fn read(v: Option<&Value>, name: &str, ctx: &str) -> Res<Option<String>> {
        OptText::read(v, name, ctx)
    }
    fn write(t: &Option<String>) -> Option<Value> {
        t.as_ref().map(Value::str)
    }
}

/// A boolean; `null` or missing = false.
struct Flag;
impl Codec for Flag {
    type T = bool;
    fn read(v: Option<&Value>, name: &str, ctx: &str) -> Res<bool> {
        match v {
            None | Some(Value::Null) => Ok(false),
            Some(Value::Bool(b)) => Ok(*b),
            Some(v) => Err(format!(
                "{ctx}field '{name}' must be a boolean, not a {}",
                v.kind()
            )),
        }
    }
    fn write(t: &bool) -> Option<Value> {
        Some(Value::Bool(*t))
    }
}

/// A non-negative integer up to `max` (a float without fraction counts, as Go's decoder
/// takes `1.0` for an int); `null` or missing = 0.
fn uint(v: Option<&Value>, name: &str, ctx: &str, max: u64) -> Res<u64> {
    let bad = || format!("{ctx}field '{name}' must be an integer between 0 and {max}");
    match v {
        None | Some(Value::Null) => Ok(0),
        Some(Value::Int(i)) => u64::try_from(*i).ok().filter(|n| *n <= max).ok_or_else(bad),
        Some(Value::Float(f)) if f.fract() == 0.0 && *f >= 0.0 && *f <= max as f64 => Ok(*f as u64),
        Some(_) => Err(bad()),
    }
}

/// `keepGenerations`: up to Go's int64.
struct Count;
impl Codec for Count {
    type T = u64;
    fn read(v: Option<&Value>, name: &str, ctx: &str) -> Res<u64> {
        uint(v, name, ctx, i64::MAX as u64)
    }
    fn write(t: &u64) -> Option<Value> {
        Some(Value::Int(i64::try_from(*t).unwrap_or(i64::MAX)))
    }
}

/// A uid or gid: like [`uint`] up to `u32::MAX` (validation explains why 4294967295, -1
/// to `chown`, is refused), and a negative number gets its own message.
struct Id;
impl Codec for Id {
    type T = u32;
    fn read(v: Option<&Value>, name: &str, ctx: &str) -> Res<u32> {
        let negative = match v {
            Some(Value::Int(i)) => *i < 0,
            Some(Value::Float(f)) => *f < 0.0,
            _ => false,
        };
        if negative {
            return Err(format!(
                "{ctx}field '{name}' is negative; -1 would mean \"leave unchanged\" to chown, not an id: give the numeric {name}"
            ));
        }
        Ok(uint(v, name, ctx, u32::MAX as u64)? as u32)
    }
    fn write(t: &u32) -> Option<Value> {
        Some(Value::Int(*t as i64))
    }
}

/// A list of strings (a `null` item = ""); `null` or missing = empty.
struct Texts;
impl Codec for Texts {
    type T = Vec<String>;
    fn read(v: Option<&Value>, name: &str, ctx: &str) -> Res<Vec<String>> {
        match v {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::List(l)) => l
                .iter()
                .map(|v| match v {
                    Value::Str(s) => Ok(s.clone()),
                    Value::Null => Ok(String::new()),
                    v => Err(format!(
                        "{ctx}field '{name}' must be a list of strings (found a {})",
                        v.kind()
                    )),
                })
                .collect(),
            Some(v) => Err(format!(
                "{ctx}field '{name}' must be a list, not a {}",
                v.kind()
            )),
        }
    }
    fn write(t: &Vec<String>) -> Option<Value> {
        Some(Value::List(t.iter().map(Value::str).collect()))
    }
}

/// `logging`: an object of [`LOGGING`].
struct LoggingObject;
impl Codec for LoggingObject {
    type T = Logging;
    fn read(v: Option<&Value>, name: &str, _ctx: &str) -> Res<Logging> {
        let mut l = Logging::default();
        match v {
            None | Some(Value::Null) => {}
            Some(Value::Object(o)) => read_fields(&mut l, LOGGING, o, &format!("{name}: "))?,
            Some(v) => {
                return Err(format!(
                    "field '{name}' must be an object, not a {}",
                    v.kind()
                ))
            }
        }
        Ok(l)
    }
    fn write(t: &Logging) -> Option<Value> {
        Some(object(write_fields(t, LOGGING)))
    }
}

/// `placeholderBySecretName`: secret name → placeholder, in order (`null` values are left
/// out).
struct Placeholders;
impl Codec for Placeholders {
    type T = Vec<(String, String)>;
    fn read(v: Option<&Value>, name: &str, _ctx: &str) -> Res<Vec<(String, String)>> {
        let mut out = Vec::new();
        match v {
            None | Some(Value::Null) => {}
            Some(Value::Object(p)) => {
                for (k, v) in p {
                    match v {
                        Value::Str(s) => out.push((k.clone(), s.clone())),
                        Value::Null => {}
                        v => {
                            return Err(format!(
                                "{name}: the entry for {k} must be a string, not a {}",
                                v.kind()
                            ))
                        }
                    }
                }
            }
            Some(v) => {
                return Err(format!(
                    "field '{name}' must be an object, not a {}",
                    v.kind()
                ))
            }
        }
        Ok(out)
    }
    fn write(t: &Vec<(String, String)>) -> Option<Value> {
        Some(Value::Object(
            t.iter().map(|(k, v)| (k.clone(), Value::str(v))).collect(),
        ))
    }
}

/// `secrets` or `templates`: a list of entry objects. Errors in an entry name it (`secret
/// NAME: `, or `secret #I: ` without a name).
struct Entries<E>(std::marker::PhantomData<E>);
impl<E: Entry> Codec for Entries<E> {
    type T = Vec<E>;
    fn read(v: Option<&Value>, name: &str, _ctx: &str) -> Res<Vec<E>> {
        let list = match v {
            None | Some(Value::Null) => return Ok(Vec::new()),
            Some(Value::List(l)) => l,
            Some(v) => return Err(format!("field '{name}' must be a list, not a {}", v.kind())),
        };
        let mut objects = Vec::new();
        for (i, v) in list.iter().enumerate() {
            match v {
                Value::Object(o) => objects.push(o),
                v => {
                    return Err(format!(
                        "'{name}' entry {i} must be an object, not a {}",
                        v.kind()
                    ))
                }
            }
        }
        let mut out = Vec::new();
        for (i, o) in objects.into_iter().enumerate() {
            // (the exact key only, as the message names what the entry is called)
            let ctx = match o.iter().find(|(k, _)| k == "name").map(|(_, v)| v) {
                Some(Value::Str(n)) => format!("{} {n}: ", E::KIND),
                _ => format!("{} #{i}: ", E::KIND),
            };
            let mut e = E::default();
            read_fields(e.common_mut(), COMMON, o, &ctx)?;
            read_fields(&mut e, E::OWN, o, &ctx)?;
            out.push(e);
        }
        Ok(out)
    }
    fn write(t: &Vec<E>) -> Option<Value> {
        Some(Value::List(
            t.iter()
                .map(|e| {
                    let mut pairs = write_fields(e.common(), COMMON);
                    pairs.extend(write_fields(e, E::OWN));
                    object(pairs)
                })
                .collect(),
        ))
    }
}
