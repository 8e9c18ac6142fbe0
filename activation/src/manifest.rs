//! Reading the manifest (docs/activation.md#the-manifest): a bounded read of the file
//! (sealbox-os), its JSON text parsed by sealbox-formats (which refuses duplicate keys),
//! decoded by sealbox-manifest with Go `encoding/json` semantics: unknown fields are
//! ignored, `null` or a missing field is the zero value, and a value of the wrong JSON type
//! is an error naming the field.

use crate::error::Error;
use sealbox_formats::store::json;
use sealbox_formats::Value as Tree;
use sealbox_manifest::Value;
use std::path::Path;

pub use sealbox_manifest::{expand_percent, Common, Manifest, Secret, Template};

/// Parses manifest text. Errors never quote values from the manifest (only field names
/// and entry names).
pub fn parse(text: &str) -> Result<Manifest, String> {
    let doc = json::parse(text).map_err(|e| e.message)?;
    let value = object(&doc);
    // (a large manifest is held once as a tree, not twice)
    drop(doc);
    sealbox_manifest::read(&value).map_err(|e| e.to_string())
}

/// Reads and parses the manifest at `path` (at most 64 MiB, a regular file).
pub fn read_file(path: &Path) -> Result<Manifest, Error> {
    let failed = |parse: bool| {
        move |reason: String| Error::Manifest {
            path: path.to_path_buf(),
            parse,
            reason,
        }
    };
    let text = sealbox_os::inputs::read_text(path, sealbox_os::inputs::MAX_MANIFEST)
        .map_err(|e| failed(false)(e.to_string()))?;
    parse(&text).map_err(failed(true))
}

/// A sops document (the first of a file; none = empty) as sealbox-manifest's tree, for
/// the key checks of `--check-mode=sopsfile` (an encrypted document: its leaves are
/// `ENC[…]` strings, no plaintext).
pub(crate) fn document_value(doc: Option<&sealbox_formats::Map>) -> Value {
    doc.map_or(Value::Object(Vec::new()), object)
}

/// sealbox-formats' JSON tree as sealbox-manifest's (JSON text holds no timestamps,
/// comments or bytes; were there any, they would read as strings).
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
        Tree::Map(m) => object(m),
    }
}

fn object(m: &sealbox_formats::Map) -> Value {
    Value::Object(m.pairs().map(|(k, v)| (k.to_string(), value(v))).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    const MODULE_EXAMPLE: &str = r#"{"ageKeyFile":"/var/lib/sops-nix/key.txt","ageSshKeyPaths":[],"gnupgHome":null,"keepGenerations":1,
 "logging":{"keyImport":true,"secretChanges":true},
 "placeholderBySecretName":{"test_key":"<SOPS:92488e1e3eeecdf99f3ed2ce59233efb4b4fb612d5655c0ce9ea52b5a502e655:PLACEHOLDER>"},
 "secrets":[{"format":"yaml","gid":0,"group":null,"key":"test_key","mode":"0400","name":"test_key",
   "neededForUsers":false,"owner":null,"path":"/run/secrets/test_key","reloadUnits":[],"restartUnits":[],
   "sopsFile":"/nix/store/x-secrets.yaml","sopsFileHash":"e155884d","uid":0}],
 "secretsMountPoint":"/run/secrets.d","sshKeyPaths":[],"symlinkPath":"/run/secrets",
 "templates":[{"content":"password = \"<SOPS:92488e1e3eeecdf99f3ed2ce59233efb4b4fb612d5655c0ce9ea52b5a502e655:PLACEHOLDER>\"\n","file":"/nix/store/x-cfg.toml",
   "gid":0,"group":null,"mode":"0400","name":"cfg.toml","owner":null,"path":"/run/secrets/rendered/cfg.toml",
   "reloadUnits":[],"restartUnits":[],"uid":0}],
 "useTmpfs":false,"userMode":false}"#;

    #[test]
    fn parses_the_module_example() {
        let m = parse(MODULE_EXAMPLE).unwrap();
        assert_eq!(m.secrets.len(), 1);
        assert_eq!(m.templates.len(), 1);
        let s = &m.secrets[0];
        assert_eq!(s.common.name, "test_key");
        assert_eq!(s.common.owner, None);
        assert_eq!(s.common.group, None);
        assert_eq!(s.key, "test_key");
        assert_eq!(s.format, "yaml");
        assert_eq!(m.keep_generations, 1);
        assert!(m.logging.key_import && m.logging.secret_changes);
        assert_eq!(m.gnupg_home, "");
        assert!(m.placeholder("test_key").unwrap().starts_with("<SOPS:9248"));
        assert_eq!(m.templates[0].common.path, "/run/secrets/rendered/cfg.toml");
    }

    #[test]
    fn null_and_missing_are_zero_values() {
        let m = parse(r#"{"secrets":[{"name":"a","owner":"","uid":null}]}"#).unwrap();
        assert_eq!(m.secrets[0].common.owner.as_deref(), Some(""));
        assert_eq!(m.secrets[0].common.uid, 0);
        assert!(m.templates.is_empty());
        assert_eq!(m.keep_generations, 0);
    }

    #[test]
    fn wrong_types_are_errors_naming_the_field() {
        let e = parse(r#"{"secrets":[{"name":"a","uid":"x"}]}"#).unwrap_err();
        assert!(e.contains("secret a") && e.contains("uid"), "{e}");
        let e = parse(r#"{"keepGenerations":-1}"#).unwrap_err();
        assert!(e.contains("keepGenerations"), "{e}");
        assert!(parse("[1]").is_err());
    }
}
