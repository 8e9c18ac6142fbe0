//! The manifest as JSON text, through sealbox-formats (as pure as this crate): its parser
//! refuses duplicate keys (Go's decoder would keep the last one silently); its emitter
//! writes what the NixOS module's `builtins.toJSON` writes (2-space indent, as `sealbox
//! manifest` prints it).

use crate::fields::{read, write};
use crate::model::Manifest;
use crate::value::Value;
use sealbox_formats::store::json;
use sealbox_formats::Value as Tree;

/// Parses manifest text. Errors never quote values from the manifest (only field names
/// and entry names).
pub fn from_json(text: &str) -> Result<Manifest, String> {
    let doc = json::parse(text).map_err(|e| e.message)?;
    let value = Value::from_map(&doc);
    // (a large manifest is held once as a tree, not twice)
    drop(doc);
    read(&value).map_err(|e| e.to_string())
}

/// The manifest's JSON text, as `sealbox manifest` writes it (keys sorted, 2-space indent).
pub fn to_json(m: &Manifest) -> Result<String, String> {
    let Tree::Map(doc) = write(m).to_tree() else {
        unreachable!("a manifest is written as an object")
    };
    json::emit(&doc, 2).map_err(|e| e.message)
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
        let m = from_json(MODULE_EXAMPLE).unwrap();
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
        let m = from_json(r#"{"secrets":[{"name":"a","owner":"","uid":null}]}"#).unwrap();
        assert_eq!(m.secrets[0].common.owner.as_deref(), Some(""));
        assert_eq!(m.secrets[0].common.uid, 0);
        assert!(m.templates.is_empty());
        assert_eq!(m.keep_generations, 0);
    }

    #[test]
    fn wrong_types_are_errors_naming_the_field() {
        let e = from_json(r#"{"secrets":[{"name":"a","uid":"x"}]}"#).unwrap_err();
        assert!(e.contains("secret a") && e.contains("uid"), "{e}");
        let e = from_json(r#"{"keepGenerations":-1}"#).unwrap_err();
        assert!(e.contains("keepGenerations"), "{e}");
        assert!(from_json("[1]").is_err());
    }
}
