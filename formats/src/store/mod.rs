//! Stores: load a file's bytes into documents and emit them again.
//!
//! YAML and JSON files carry the metadata as a top-level `sops` key (YAML: in every
//! document); the binary store wraps the whole file as `{"data": …}` and is written as
//! JSON. dotenv and INI arrive with their own issue.

pub mod dotenv;
pub mod flatten;
pub mod ini;
pub mod json;
pub mod yaml;

use crate::error::{Error, ErrorKind, Result};
use crate::metadata::Metadata;
use crate::tree::{Document, Map, Value};
use std::path::Path;

/// A file format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// YAML (`.yaml`, `.yml`)
    Yaml,
    /// JSON (`.json`)
    Json,
    /// dotenv (`.env`)
    Dotenv,
    /// INI (`.ini`)
    Ini,
    /// Anything else: the whole file is one value.
    Binary,
}

impl Format {
    /// The format sops picks for a path: a plain suffix test, binary otherwise.
    pub fn from_path(p: &Path) -> Format {
        let s = p.to_string_lossy();
        if s.ends_with(".yaml") || s.ends_with(".yml") {
            Format::Yaml
        } else if s.ends_with(".json") {
            Format::Json
        } else if s.ends_with(".env") {
            Format::Dotenv
        } else if s.ends_with(".ini") {
            Format::Ini
        } else {
            Format::Binary
        }
    }

    /// The format for an `--input-type`/`--output-type` name; unknown names mean binary,
    /// as in sops.
    pub fn from_name(s: &str) -> Format {
        match s {
            "yaml" => Format::Yaml,
            "json" => Format::Json,
            "dotenv" => Format::Dotenv,
            "ini" => Format::Ini,
            _ => Format::Binary,
        }
    }

    /// The format named by a `--input-type`/`--output-type` flag, else the one of `path`.
    pub fn resolve(flag: Option<&str>, path: &Path) -> Format {
        flag.map(Format::from_name)
            .unwrap_or_else(|| Format::from_path(path))
    }

    /// The format's name.
    pub fn name(self) -> &'static str {
        match self {
            Format::Yaml => "yaml",
            Format::Json => "json",
            Format::Dotenv => "dotenv",
            Format::Ini => "ini",
            Format::Binary => "binary",
        }
    }
}

/// Output settings (`stores` in `.sops.yaml`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StoreOptions {
    /// YAML indent (default 4).
    pub yaml_indent: usize,
    /// JSON indent: -1 tab (default), 0 none, N spaces.
    pub json_indent: i32,
    /// Indent of encrypted binary files (JSON).
    pub json_binary_indent: i32,
    /// A negative YAML indent was asked for (`--indent -1`, `stores.yaml.indent: -1`):
    /// writing YAML then fails, as in sops, while the other formats are written as usual.
    pub yaml_indent_negative: bool,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            yaml_indent: 4,
            json_indent: -1,
            json_binary_indent: -1,
            yaml_indent_negative: false,
        }
    }
}

impl StoreOptions {
    /// The YAML indent, or sops' error for a negative one.
    fn yaml_indent(&self) -> Result<usize> {
        if self.yaml_indent_negative {
            return Err(
                Error::new(ErrorKind::Emit, "YAML Negative indentation not accepted")
                    .with_hint("use an indent of 0 (the default, 4) or more"),
            );
        }
        Ok(self.yaml_indent)
    }
}

/// The key of the binary store's single value.
pub const BINARY_KEY: &str = "data";

fn utf8<'a>(bytes: &'a [u8], what: &str) -> Result<&'a str> {
    std::str::from_utf8(bytes).map_err(|e| {
        Error::new(
            ErrorKind::Parse,
            format!("{what}: not valid UTF-8 (at byte {})", e.valid_up_to()),
        )
        .with_hint("use --input-type binary to encrypt arbitrary bytes")
    })
}

/// [`load_plain`] taking the bytes: the binary store keeps them without a copy.
pub fn load_plain_owned(f: Format, bytes: Vec<u8>, what: &str) -> Result<Vec<Document>> {
    match f {
        Format::Binary => {
            let mut m = Map::new();
            m.push(BINARY_KEY, Value::from_bytes(bytes));
            Ok(vec![m])
        }
        _ => load_plain(f, &bytes, what),
    }
}

/// Loads a plaintext file. `what` names it in messages (and is the errors' file).
pub fn load_plain(f: Format, bytes: &[u8], what: &str) -> Result<Vec<Document>> {
    load_plain_inner(f, bytes, what).map_err(|e| e.in_file_if_unknown(what))
}

fn load_plain_inner(f: Format, bytes: &[u8], what: &str) -> Result<Vec<Document>> {
    let ctx = |e: Error| e.context(what);
    match f {
        Format::Yaml => yaml::parse(utf8(bytes, what)?).map_err(ctx),
        Format::Json => json::parse(utf8(bytes, what)?)
            .map(|d| vec![d])
            .map_err(ctx),
        Format::Binary => {
            let mut m = Map::new();
            m.push(BINARY_KEY, Value::from_bytes(bytes.to_vec()));
            Ok(vec![m])
        }
        Format::Dotenv => dotenv::parse(utf8(bytes, what)?)
            .map(|d| vec![d])
            .map_err(ctx),
        Format::Ini => ini::parse(utf8(bytes, what)?).map(|d| vec![d]).map_err(ctx),
    }
}

/// Whether plaintext documents already carry sops metadata (a top-level `sops` key; in
/// dotenv, any `sops_*` key).
pub fn has_metadata(f: Format, docs: &[Document]) -> bool {
    match f {
        Format::Dotenv => docs
            .iter()
            .any(|d| d.pairs().any(|(k, _)| k.starts_with(dotenv::PREFIX))),
        _ => docs.iter().any(|d| d.get("sops").is_some()),
    }
}

/// Loads an encrypted file: the documents (without metadata) and the metadata.
///
/// A file that does not parse is [`ErrorKind::InvalidEncryptedFile`] here (sops: exit 1,
/// "Error unmarshalling input"), where the same text as plaintext input is
/// [`ErrorKind::Parse`] (exit 2).
pub fn load_encrypted(f: Format, bytes: &[u8], what: &str) -> Result<(Vec<Document>, Metadata)> {
    load_encrypted_inner(f, bytes, what).map_err(|e| {
        let e = e.in_file_if_unknown(what);
        match e.kind {
            ErrorKind::Parse | ErrorKind::DuplicateKey => {
                e.with_kind(ErrorKind::InvalidEncryptedFile)
            }
            _ => e,
        }
    })
}

fn load_encrypted_inner(f: Format, bytes: &[u8], what: &str) -> Result<(Vec<Document>, Metadata)> {
    let ctx = |e: Error| e.context(what);
    let not_found = || {
        Error::new(
            ErrorKind::MetadataNotFound,
            format!("{what}: sops metadata not found"),
        )
        .with_hint(
            "the file is not encrypted (or was encrypted in another format: try --input-type)",
        )
    };
    let mut docs = match f {
        Format::Yaml => yaml::parse(utf8(bytes, what)?).map_err(ctx)?,
        // Go's encoding/json reads invalid UTF-8 in a string as U+FFFD, so sops refuses such
        // a file only where the damaged value fails (its ENC syntax, the MAC, the data
        // key); reading it the same way gives the same exit codes. Nothing is accepted that
        // would not be: a replaced character changes a value, key or ciphertext.
        Format::Json | Format::Binary => {
            // (`from_utf8` first: its ASCII fast path is much quicker than the lossy
            // decoder on a large binary file.)
            let text = match std::str::from_utf8(bytes) {
                Ok(s) => std::borrow::Cow::Borrowed(s),
                Err(_) => String::from_utf8_lossy(bytes),
            };
            vec![json::parse(&text).map_err(ctx)?]
        }
        Format::Dotenv => {
            let mut doc = dotenv::parse(utf8(bytes, what)?).map_err(ctx)?;
            let mut flat = Vec::new();
            doc.0.retain(|item| match item {
                crate::tree::Item::Pair(k, v) if k.starts_with(dotenv::PREFIX) => {
                    let v = v.as_str().unwrap_or_default().replace('\n', "\\n");
                    flat.push((k[dotenv::PREFIX.len()..].to_string(), v));
                    false
                }
                _ => true,
            });
            if flat.is_empty() {
                return Err(Error::new(
                    ErrorKind::MetadataNotFound,
                    format!("{what}: sops metadata not found"),
                )
                .with_hint("the file is not encrypted (no sops_* lines)"));
            }
            let md = Metadata::from_value(&flatten::unflatten(&flat)?, what)?;
            return Ok((vec![doc], md));
        }
        Format::Ini => {
            let mut doc = ini::parse(utf8(bytes, what)?).map_err(ctx)?;
            let meta = doc.remove(ini::SOPS_SECTION).ok_or_else(not_found)?;
            let flat: Vec<(String, String)> = meta
                .as_map()
                .map(|m| {
                    m.pairs()
                        .map(|(k, v)| (k.to_string(), v.as_str().unwrap_or_default().to_string()))
                        .collect()
                })
                .unwrap_or_default();
            let md = Metadata::from_value(&flatten::unflatten(&flat)?, what)?;
            return Ok((vec![doc], md));
        }
    };
    let meta = docs
        .first()
        .and_then(|d| d.get("sops"))
        .ok_or_else(not_found)?;
    let md = Metadata::from_value(meta, what)?;
    for d in docs.iter_mut() {
        d.remove("sops");
    }
    Ok((docs, md))
}

/// Emits plaintext documents.
pub fn emit_plain(f: Format, docs: &[Document], opts: &StoreOptions) -> Result<Vec<u8>> {
    match f {
        Format::Yaml => Ok(yaml::emit(docs, opts.yaml_indent()?).into_bytes()),
        Format::Json => Ok(json::emit(first_or_empty(docs), opts.json_indent)?.into_bytes()),
        Format::Binary => binary_data(docs).map(<[u8]>::to_vec),
        Format::Dotenv => Ok(dotenv::emit(first_or_empty(docs), &[])?.into_bytes()),
        Format::Ini => {
            let merged = merge_documents(docs);
            Ok(ini::emit(&merged, None)?.into_bytes())
        }
    }
}

/// The bytes binary output writes: the single top-level `data` string (borrowed, so a
/// large file is not copied once more before it is written).
pub fn binary_data(docs: &[Document]) -> Result<&[u8]> {
    let data = match docs {
        [d] => d.get(BINARY_KEY).and_then(Value::as_bytes),
        _ => None,
    };
    data.ok_or_else(|| {
        Error::new(ErrorKind::Emit, "no binary data found in tree").with_hint(
            "binary output needs a single top-level \"data\" string; pick another --output-type",
        )
    })
}

/// The first document, or an empty one (JSON and dotenv write only the first).
fn first_or_empty(docs: &[Document]) -> &Document {
    static EMPTY: Map = Map(Vec::new());
    docs.first().unwrap_or(&EMPTY)
}

/// INI output takes every document's sections (borrowed when there is one document).
fn merge_documents(docs: &[Document]) -> std::borrow::Cow<'_, Document> {
    if let [d] = docs {
        return std::borrow::Cow::Borrowed(d);
    }
    let mut m = Map::new();
    for d in docs {
        m.0.extend(d.0.iter().cloned());
    }
    std::borrow::Cow::Owned(m)
}

/// Emits encrypted documents with their metadata (written as a last `sops` key of each
/// document, without copying the documents).
pub fn emit_encrypted(
    f: Format,
    docs: &[Document],
    md: &Metadata,
    opts: &StoreOptions,
) -> Result<Vec<u8>> {
    let meta = md.to_value();
    match f {
        Format::Yaml => {
            Ok(yaml::emit_with_meta(docs, opts.yaml_indent()?, Some(&meta)).into_bytes())
        }
        Format::Json | Format::Binary => {
            let indent = if f == Format::Binary {
                opts.json_binary_indent
            } else {
                opts.json_indent
            };
            Ok(json::emit_with_meta(first_or_empty(docs), indent, Some(&meta))?.into_bytes())
        }
        Format::Dotenv => {
            Ok(dotenv::emit(first_or_empty(docs), &flatten::flatten(&meta))?.into_bytes())
        }
        Format::Ini => {
            let merged = merge_documents(docs);
            Ok(ini::emit(&merged, Some(&flatten::flatten(&meta)))?.into_bytes())
        }
    }
}

/// Emits one value (for `--extract`): a string as its raw bytes without a newline,
/// a map as a document, anything else in the format's value syntax.
pub fn emit_value(f: Format, v: &Value, opts: &StoreOptions) -> Result<Vec<u8>> {
    if let Some(b) = v.as_bytes() {
        return Ok(b.to_vec());
    }
    if let Value::Map(m) = v {
        if matches!(f, Format::Yaml | Format::Json) {
            return emit_plain(f, std::slice::from_ref(m), opts);
        }
    }
    match f {
        Format::Json => Ok(json::emit_value(v, opts.json_indent)?.into_bytes()),
        _ => Ok(yaml::emit_value(v, opts.yaml_indent()?).into_bytes()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_from_path_is_a_suffix_test() {
        assert_eq!(Format::from_path(Path::new("a/foo.enc.yaml")), Format::Yaml);
        assert_eq!(Format::from_path(Path::new("x.yml")), Format::Yaml);
        assert_eq!(
            Format::from_path(Path::new("secrets.yaml.enc")),
            Format::Binary
        );
        assert_eq!(Format::from_path(Path::new("a.json")), Format::Json);
        assert_eq!(Format::from_path(Path::new(".env")), Format::Dotenv);
        assert_eq!(Format::from_name("nonsense"), Format::Binary);
    }

    #[test]
    fn binary_round_trip_keeps_raw_bytes() {
        let raw = vec![0u8, 0xff, b'\n', 0x80];
        let docs = load_plain(Format::Binary, &raw, "f").unwrap();
        assert_eq!(
            emit_plain(Format::Binary, &docs, &StoreOptions::default()).unwrap(),
            raw
        );
    }

    #[test]
    fn errors_name_their_file() {
        let e = load_encrypted(Format::Yaml, b"a: [", "s.yaml").unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidEncryptedFile);
        assert_eq!(e.file.as_deref(), Some("s.yaml"));
        let e = load_encrypted(Format::Yaml, b"a: 1\n", "s.yaml").unwrap_err();
        assert_eq!(e.kind, ErrorKind::MetadataNotFound);
        let e = load_plain(Format::Json, b"{\"a\": 1, \"a\": 2}", "p.json").unwrap_err();
        assert_eq!(
            (e.kind, e.file.as_deref()),
            (ErrorKind::DuplicateKey, Some("p.json"))
        );
    }
}
