//! Decryption and template rendering (docs/activation.md#decryption,
//! docs/activation.md#templates; the `quirk N` notes are docs/activation.md#quirks).
//! Everything here works in memory: nothing is written until every secret has been
//! decrypted.

use crate::error::{one_line, strip_file, Failure};
use crate::identities::{self, Keys};
use sealbox_formats::store::{self, Format, StoreOptions};
use sealbox_formats::{sops, Document, Map, Value};
use sealbox_manifest::{
    render, used_secrets, walk_key, EntryKind, EntryRef, KeyNode, Plan, PlannedEntry, PlannedSecret,
};
use std::collections::HashMap;
use zeroize::Zeroizing;

/// A node of a sops document for sealbox-manifest's key walk.
#[derive(Clone, Copy)]
pub(crate) enum Node<'a> {
    /// The document (its top-level map).
    Doc(&'a Map),
    /// A value in it.
    Value(&'a Value),
}

impl KeyNode for Node<'_> {
    fn get(self, key: &str) -> Result<Option<Self>, ()> {
        match self {
            Node::Doc(m) | Node::Value(Value::Map(m)) => Ok(m.get(key).map(Node::Value)),
            Node::Value(_) => Err(()),
        }
    }
    fn non_string(self) -> Option<&'static str> {
        match self {
            Node::Value(Value::Str(_) | Value::Bytes(_)) => None,
            Node::Value(v) => Some(v.kind()),
            Node::Doc(_) => Some("map"),
        }
    }
}

/// The value at a secret's `key` in the first document (sops-nix's messages).
pub(crate) fn value_at<'d>(docs: &'d [Document], key: &str) -> Result<&'d Value, String> {
    static EMPTY: Map = Map(Vec::new());
    let first = docs.first().unwrap_or(&EMPTY);
    match walk_key(Node::Doc(first), key)? {
        Node::Value(v) => Ok(v),
        Node::Doc(_) => unreachable!("a walk moves at least one step"),
    }
}

/// Decrypts sops files, each once per (file, format).
// quirk 12: fix – sops-nix re-decrypts the file for every secret; we cache per (file, format).
pub struct Decryptor<'a> {
    keys: &'a Keys,
    cache: HashMap<(String, &'static str), Result<Vec<Document>, String>>,
}

impl<'a> Decryptor<'a> {
    /// A decryptor using `keys`.
    pub fn new(keys: &'a Keys) -> Self {
        Decryptor {
            keys,
            cache: HashMap::new(),
        }
    }

    /// How many distinct (file, format) pairs were decrypted.
    pub fn files_decrypted(&self) -> usize {
        self.cache.len()
    }

    fn docs(&mut self, file: &str, format: Format) -> &Result<Vec<Document>, String> {
        let keys = self.keys;
        self.cache
            .entry((file.to_string(), format.name()))
            .or_insert_with(|| decrypt_file(keys, file, format))
    }

    /// The bytes to install for `s`.
    pub fn value(&mut self, s: &PlannedSecret) -> Result<Zeroizing<Vec<u8>>, String> {
        let format = s.format.store();
        let docs = self
            .docs(&s.sops_file, format)
            .as_ref()
            .map_err(Clone::clone)?;
        let opts = StoreOptions::default();
        let emit = |docs: &[Document]| {
            store::emit_plain(format, docs, &opts)
                .map(Zeroizing::new)
                .map_err(|e| {
                    format!(
                        "cannot emit the decrypted {} of '{}': {}",
                        format.name(),
                        s.sops_file,
                        one_line(&e.message)
                    )
                })
        };
        match format {
            // quirk 11: keep – dotenv and ini install the whole file; `key` is ignored.
            Format::Binary | Format::Dotenv | Format::Ini => emit(docs),
            Format::Yaml | Format::Json if s.key.is_empty() => emit(docs),
            // quirk 6: fix – nested keys work for JSON as well as YAML (same tree walk).
            Format::Yaml | Format::Json => {
                let v = value_at(docs, &s.key).map_err(|e| {
                    format!(
                        "secret {} in {} is not valid: {e}",
                        s.entry.name, s.sops_file
                    )
                })?;
                Ok(Zeroizing::new(v.as_bytes().unwrap_or_default().to_vec()))
            }
        }
    }
}

/// Reads, parses and decrypts one file; the MAC is verified.
pub fn decrypt_file(keys: &Keys, file: &str, format: Format) -> Result<Vec<Document>, String> {
    let bytes = sealbox_os::inputs::read(
        std::path::Path::new(file),
        sealbox_os::inputs::MAX_SOPS_FILE,
    )
    .map_err(|e| {
        format!("cannot read the sops file '{file}': {e}; check that it exists and is readable")
    })?;
    let (mut docs, md) = store::load_encrypted(format, &bytes, file).map_err(|e| {
        format!(
            "cannot parse {} of '{file}': {}; check the secret's format",
            format.name(),
            strip_file(&e.message, file)
        )
    })?;
    let key = identities::recover(&md, keys, file)?;
    sops::decrypt_tree(&mut docs, &md, &key, sops::MacCheck::Verify, file).map_err(|e| {
        format!(
            "failed to decrypt '{file}': {}",
            strip_file(&e.message, file)
        )
    })?;
    Ok(docs)
}

/// What an entry installs: where and how (`entry`), its name in the generation (`rel`,
/// `rendered/…` for a template) and its bytes.
pub struct Installed<'p> {
    /// Secret or template.
    pub kind: EntryKind,
    /// Where and how.
    pub entry: &'p PlannedEntry,
    /// The name in the generation.
    pub rel: String,
    /// The decrypted or rendered bytes.
    pub bytes: Zeroizing<Vec<u8>>,
}

impl Installed<'_> {
    /// The entry, by name.
    pub fn entry_ref(&self) -> EntryRef {
        EntryRef {
            kind: self.kind,
            name: self.entry.name.clone(),
        }
    }
}

/// Everything decrypted and rendered, in memory (steps 8–9).
pub struct Decrypted<'p> {
    /// The secrets that decrypted, in manifest order.
    pub secrets: Vec<Installed<'p>>,
    /// The templates that rendered, in manifest order.
    pub templates: Vec<Installed<'p>>,
    /// The secrets that did not decrypt, then the templates not rendered because of them.
    pub failures: Vec<Failure>,
}

/// Steps 8–9: decrypts every secret and renders every template in memory.
pub fn decrypt_all<'p>(plan: &'p Plan, keys: &Keys) -> Decrypted<'p> {
    let mut failures = Vec::new();
    // 8. decrypt everything before anything is written
    let mut dec = Decryptor::new(keys);
    let mut secrets: Vec<Installed> = Vec::new();
    let mut failed_names: Vec<&str> = Vec::new();
    for s in &plan.secrets {
        match dec.value(s) {
            Ok(bytes) => secrets.push(Installed {
                kind: EntryKind::Secret,
                entry: &s.entry,
                rel: s.entry.name.clone(),
                bytes,
            }),
            Err(reason) => {
                failures.push(Failure {
                    entry: EntryRef {
                        kind: EntryKind::Secret,
                        name: s.entry.name.clone(),
                    },
                    file: Some(s.sops_file.clone()),
                    reason,
                });
                failed_names.push(&s.entry.name);
            }
        }
    }
    tracing::debug!("decrypted {} file(s)", dec.files_decrypted());
    // 9. templates
    let values = secret_values(plan, &secrets, |s| s.placeholder.as_deref());
    let mut templates: Vec<Installed> = Vec::new();
    for t in &plan.templates {
        let broken: Vec<&str> = used_secrets(t, &plan.secrets)
            .into_iter()
            .filter(|n| failed_names.contains(n))
            .collect();
        if !broken.is_empty() {
            failures.push(Failure {
                entry: EntryRef {
                    kind: EntryKind::Template,
                    name: t.entry.name.clone(),
                },
                file: None,
                reason: format!(
                    "not rendered because secret(s) {} failed",
                    broken.join(", ")
                ),
            });
            continue;
        }
        templates.push(Installed {
            kind: EntryKind::Template,
            entry: &t.entry,
            rel: format!("rendered/{}", t.entry.name),
            bytes: render(&t.text, &values),
        });
    }
    Decrypted {
        secrets,
        templates,
        failures,
    }
}

/// (`key(secret)`, decrypted value) of every secret of `plan` that has a key and decrypted
/// (the placeholders of the templates, the credential names).
pub(crate) fn secret_values<'a>(
    plan: &'a Plan,
    secrets: &'a [Installed],
    key: impl Fn(&'a PlannedSecret) -> Option<&'a str>,
) -> Vec<(&'a str, &'a [u8])> {
    plan.secrets
        .iter()
        .filter_map(|s| {
            let k = key(s)?;
            let v = secrets.iter().find(|i| i.entry.name == s.entry.name)?;
            Some((k, &v.bytes[..]))
        })
        .collect()
}
