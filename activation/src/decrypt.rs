//! Decryption and template rendering (docs/activation.md#decryption,
//! docs/activation.md#templates; the `quirk N` notes are docs/activation.md#quirks).
//! Everything here works in memory: nothing is written until every secret has been
//! decrypted.

use crate::validate::{walk_key, PlannedSecret, PlannedTemplate};
use sealbox_formats::store::{self, Format, StoreOptions};
use sealbox_formats::{sops, Code, Document};
use sealbox_keys::age::Identities;
use std::collections::HashMap;
use zeroize::Zeroizing;

/// Decrypts sops files, each once per (file, format).
// quirk 12: fix – sops-nix re-decrypts the file for every secret; we cache per (file, format).
pub struct Decryptor<'a> {
    ids: &'a Identities,
    cache: HashMap<(String, &'static str), Result<Vec<Document>, String>>,
}

fn one_line(s: &str) -> String {
    s.replace('\n', "; ")
}

/// A library message without its leading `<file>: ` (our messages name the file already).
pub fn strip_file(msg: &str, file: &str) -> String {
    let m = msg
        .strip_prefix(file)
        .and_then(|m| m.strip_prefix(": "))
        .unwrap_or(msg);
    one_line(m)
}

impl<'a> Decryptor<'a> {
    /// A decryptor using `ids`.
    pub fn new(ids: &'a Identities) -> Self {
        Decryptor {
            ids,
            cache: HashMap::new(),
        }
    }

    /// How many distinct (file, format) pairs were decrypted.
    pub fn files_decrypted(&self) -> usize {
        self.cache.len()
    }

    fn docs(&mut self, file: &str, format: Format) -> &Result<Vec<Document>, String> {
        let ids = self.ids;
        self.cache
            .entry((file.to_string(), format.name()))
            .or_insert_with(|| decrypt_file(ids, file, format))
    }

    /// The bytes to install for `s`.
    pub fn value(&mut self, s: &PlannedSecret) -> Result<Zeroizing<Vec<u8>>, String> {
        let docs = self
            .docs(&s.sops_file, s.format)
            .as_ref()
            .map_err(Clone::clone)?;
        let opts = StoreOptions::default();
        let emit = |docs: &[Document]| {
            store::emit_plain(s.format, docs, &opts)
                .map(Zeroizing::new)
                .map_err(|e| {
                    format!(
                        "cannot emit the decrypted {} of '{}': {}",
                        s.format.name(),
                        s.sops_file,
                        one_line(&e.message)
                    )
                })
        };
        match s.format {
            // quirk 11: keep – dotenv and ini install the whole file; `key` is ignored.
            Format::Binary | Format::Dotenv | Format::Ini => emit(docs),
            Format::Yaml | Format::Json if s.key.is_empty() => emit(docs),
            // quirk 6: fix – nested keys work for JSON as well as YAML (same tree walk).
            Format::Yaml | Format::Json => {
                let empty = Document::default();
                let first = docs.first().unwrap_or(&empty);
                let v = walk_key(first, &s.key).map_err(|e| {
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
pub fn decrypt_file(ids: &Identities, file: &str, format: Format) -> Result<Vec<Document>, String> {
    let bytes = crate::inputs::read(std::path::Path::new(file), crate::inputs::MAX_SOPS_FILE)
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
    let key = sealbox_keys::recover(&md, &sealbox_keys::KeyServices::borrowing(ids), file).map_err(|e| {
        if e.kind == Code::CouldNotRetrieveKey.into() {
            let r = md.age_recipients();
            format!(
                "failed to decrypt '{file}': none of the configured identities can decrypt it (its age recipients: {}); add the matching key to ageKeyFile or ageSshKeyPaths, or re-encrypt the file for this host's key",
                if r.is_empty() { "none".to_string() } else { r.join(", ") }
            )
        } else {
            format!("failed to decrypt '{file}': {}", strip_file(&e.message, file))
        }
    })?;
    sops::decrypt_tree(&mut docs, &md, &key, false, file).map_err(|e| {
        format!(
            "failed to decrypt '{file}': {}",
            strip_file(&e.message, file)
        )
    })?;
    Ok(docs)
}

/// Renders a template: one left-to-right pass replacing each placeholder of `values` by its
/// bytes; inserted values are not scanned again.
// quirk 8: keep – placeholders of secrets that are not in this manifest stay verbatim;
// fix – the substitution is a single deterministic pass (Go's map order is random).
pub fn render(text: &str, values: &[(&str, &[u8])]) -> Zeroizing<Vec<u8>> {
    let t = text.as_bytes();
    let mut out = Zeroizing::new(Vec::with_capacity(t.len()));
    let mut i = 0;
    while i < t.len() {
        let hit = values
            .iter()
            .filter(|(p, _)| !p.is_empty() && t[i..].starts_with(p.as_bytes()))
            .max_by_key(|(p, _)| p.len());
        match hit {
            Some((p, v)) => {
                out.extend_from_slice(v);
                i += p.len();
            }
            None => {
                out.push(t[i]);
                i += 1;
            }
        }
    }
    out
}

/// The placeholders a template uses among `secrets` (to report which failed secret makes
/// it unrenderable).
pub fn used_secrets<'s>(t: &PlannedTemplate, secrets: &'s [PlannedSecret]) -> Vec<&'s str> {
    secrets
        .iter()
        .filter(|s| {
            s.placeholder
                .as_deref()
                .is_some_and(|p| !p.is_empty() && t.text.contains(p))
        })
        .map(|s| s.entry.name.as_str())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_pass_and_foreign_placeholders() {
        let a = "<SOPS:a:PLACEHOLDER>";
        let b = "<SOPS:b:PLACEHOLDER>";
        let text = format!("x={a} y={b} z=<SOPS:zz:PLACEHOLDER> {a}");
        // a's value contains b's placeholder: it must not be expanded again.
        let out = render(&text, &[(a, b.as_bytes()), (b, b"B")]);
        assert_eq!(
            String::from_utf8(out.to_vec()).unwrap(),
            format!("x={b} y=B z=<SOPS:zz:PLACEHOLDER> {b}")
        );
    }

    #[test]
    fn binary_values_and_empty_text() {
        assert!(render("", &[("p", b"v")]).is_empty());
        assert_eq!(
            render("[p]", &[("p", &[0, 255])]).to_vec(),
            vec![b'[', 0, 255, b']']
        );
    }
}
