//! The sops-nix manifest (docs/activation.md#the-manifest), decoded with Go `encoding/json`
//! semantics: unknown fields are ignored, `null` or a missing field is the zero value, and a
//! value of the wrong JSON type is an error naming the field.

use sealbox_formats::store::json;
use sealbox_formats::{Map, Value};

/// The whole manifest.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Manifest {
    /// Secrets, in manifest order.
    pub secrets: Vec<Secret>,
    /// Templates, in manifest order.
    pub templates: Vec<Template>,
    /// Secret name → placeholder string, in manifest order.
    pub placeholder_by_secret_name: Vec<(String, String)>,
    /// Where the generations live (`/run/secrets.d`).
    pub secrets_mount_point: String,
    /// The symlink to the current generation (`/run/secrets`).
    pub symlink_path: String,
    /// How many generations to keep; 0 = never prune.
    pub keep_generations: u64,
    /// SSH RSA keys for PGP (unsupported here: warned about).
    pub ssh_key_paths: Vec<String>,
    /// GnuPG home (unsupported here: warned about).
    pub gnupg_home: String,
    /// An age identity file.
    pub age_key_file: String,
    /// SSH ed25519 keys converted to age identities.
    pub age_ssh_key_paths: Vec<String>,
    /// tmpfs instead of ramfs.
    pub use_tmpfs: bool,
    /// home-manager mode.
    pub user_mode: bool,
    /// `logging.keyImport`.
    pub log_key_import: bool,
    /// `logging.secretChanges`.
    pub log_secret_changes: bool,
}

/// The fields secrets and templates share.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Common {
    /// Relative name inside a generation (or inside `rendered/`).
    pub name: String,
    /// Where the user wants it (a symlink is made when it differs from the default).
    pub path: String,
    /// The mode string as given (octal).
    pub mode: String,
    /// User name; wins over `uid` when present.
    pub owner: Option<String>,
    /// Numeric owner, used when `owner` is null.
    pub uid: u32,
    /// Group name; wins over `gid` when present.
    pub group: Option<String>,
    /// Numeric group, used when `group` is null.
    pub gid: u32,
    /// Units to restart when the file changes.
    pub restart_units: Vec<String>,
    /// Units to reload when the file changes.
    pub reload_units: Vec<String>,
}

/// A secret entry (docs/activation.md#secret-entries).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Secret {
    /// Shared fields.
    pub common: Common,
    /// `/`-separated key path; "" = whole file.
    pub key: String,
    /// The encrypted file.
    pub sops_file: String,
    /// The format string as given ("" = yaml).
    pub format: String,
    /// `credentialName`: also place the secret at `<credstore>/<name>` for systemd's
    /// `LoadCredential=` (sealbox extension; null or absent = no credential).
    pub credential_name: Option<String>,
}

/// A template entry (docs/activation.md#template-entries).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Template {
    /// Shared fields.
    pub common: Common,
    /// Inline text; wins over `file` when non-empty.
    pub content: String,
    /// File holding the text.
    pub file: String,
}

type Res<T> = Result<T, String>;

fn field<'a>(m: &'a Map, name: &str) -> Option<&'a Value> {
    // Go's decoder matches keys case-insensitively, preferring an exact match.
    m.get(name).or_else(|| {
        m.pairs()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    })
}

fn string(m: &Map, name: &str, ctx: &str) -> Res<String> {
    match field(m, name) {
        None | Some(Value::Null) => Ok(String::new()),
        Some(Value::Str(s)) => Ok(s.to_string()),
        Some(v) => Err(format!(
            "{ctx}field '{name}' must be a string, not a {}",
            v.kind()
        )),
    }
}

fn opt_string(m: &Map, name: &str, ctx: &str) -> Res<Option<String>> {
    match field(m, name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Str(s)) => Ok(Some(s.to_string())),
        Some(v) => Err(format!(
            "{ctx}field '{name}' must be a string or null, not a {}",
            v.kind()
        )),
    }
}

fn boolean(m: &Map, name: &str, ctx: &str) -> Res<bool> {
    match field(m, name) {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(v) => Err(format!(
            "{ctx}field '{name}' must be a boolean, not a {}",
            v.kind()
        )),
    }
}

fn uint(m: &Map, name: &str, ctx: &str, max: u64) -> Res<u64> {
    let bad = || format!("{ctx}field '{name}' must be an integer between 0 and {max}");
    match field(m, name) {
        None | Some(Value::Null) => Ok(0),
        Some(Value::Int(i)) => u64::try_from(*i).ok().filter(|n| *n <= max).ok_or_else(bad),
        Some(Value::Float(f)) if f.fract() == 0.0 && *f >= 0.0 && *f <= max as f64 => Ok(*f as u64),
        Some(_) => Err(bad()),
    }
}

/// A uid or gid: like [`uint`] up to `u32::MAX` (validation explains why 4294967295, -1
/// to `chown`, is refused), and a negative number gets its own message.
fn id(m: &Map, name: &str, ctx: &str) -> Res<u32> {
    let negative = match field(m, name) {
        Some(Value::Int(i)) => *i < 0,
        Some(Value::Float(f)) => *f < 0.0,
        _ => false,
    };
    if negative {
        return Err(format!(
            "{ctx}field '{name}' is negative; -1 would mean \"leave unchanged\" to chown, not an id: give the numeric {name}"
        ));
    }
    Ok(uint(m, name, ctx, u32::MAX as u64)? as u32)
}

fn strings(m: &Map, name: &str, ctx: &str) -> Res<Vec<String>> {
    match field(m, name) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::List(l)) => l
            .iter()
            .map(|v| match v {
                Value::Str(s) => Ok(s.to_string()),
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

fn objects<'a>(m: &'a Map, name: &str) -> Res<Vec<&'a Map>> {
    match field(m, name) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::List(l)) => l
            .iter()
            .enumerate()
            .map(|(i, v)| match v {
                Value::Map(m) => Ok(m),
                v => Err(format!(
                    "'{name}' entry {i} must be an object, not a {}",
                    v.kind()
                )),
            })
            .collect(),
        Some(v) => Err(format!("field '{name}' must be a list, not a {}", v.kind())),
    }
}

fn common(m: &Map, ctx: &str) -> Res<Common> {
    Ok(Common {
        name: string(m, "name", ctx)?,
        path: string(m, "path", ctx)?,
        mode: string(m, "mode", ctx)?,
        owner: opt_string(m, "owner", ctx)?,
        uid: id(m, "uid", ctx)?,
        group: opt_string(m, "group", ctx)?,
        gid: id(m, "gid", ctx)?,
        restart_units: strings(m, "restartUnits", ctx)?,
        reload_units: strings(m, "reloadUnits", ctx)?,
    })
}

fn entry_ctx(kind: &str, i: usize, m: &Map) -> String {
    match m.get("name").and_then(Value::as_str) {
        Some(n) => format!("{kind} {n}: "),
        None => format!("{kind} #{i}: "),
    }
}

/// Parses manifest text. Errors never quote values from the manifest (only field names
/// and entry names).
pub fn parse(text: &str) -> Res<Manifest> {
    let doc = json::parse(text).map_err(|e| e.message)?;
    let top = "";
    let mut out = Manifest {
        secrets_mount_point: string(&doc, "secretsMountPoint", top)?,
        symlink_path: string(&doc, "symlinkPath", top)?,
        keep_generations: uint(&doc, "keepGenerations", top, i64::MAX as u64)?,
        ssh_key_paths: strings(&doc, "sshKeyPaths", top)?,
        gnupg_home: string(&doc, "gnupgHome", top)?,
        age_key_file: string(&doc, "ageKeyFile", top)?,
        age_ssh_key_paths: strings(&doc, "ageSshKeyPaths", top)?,
        use_tmpfs: boolean(&doc, "useTmpfs", top)?,
        user_mode: boolean(&doc, "userMode", top)?,
        ..Manifest::default()
    };
    match field(&doc, "logging") {
        None | Some(Value::Null) => {}
        Some(Value::Map(l)) => {
            out.log_key_import = boolean(l, "keyImport", "logging: ")?;
            out.log_secret_changes = boolean(l, "secretChanges", "logging: ")?;
        }
        Some(v) => {
            return Err(format!(
                "field 'logging' must be an object, not a {}",
                v.kind()
            ))
        }
    }
    match field(&doc, "placeholderBySecretName") {
        None | Some(Value::Null) => {}
        Some(Value::Map(p)) => {
            for (k, v) in p.pairs() {
                match v {
                    Value::Str(s) => out
                        .placeholder_by_secret_name
                        .push((k.to_string(), s.to_string())),
                    Value::Null => {}
                    v => {
                        return Err(format!(
                            "placeholderBySecretName: the entry for {k} must be a string, not a {}",
                            v.kind()
                        ))
                    }
                }
            }
        }
        Some(v) => {
            return Err(format!(
                "field 'placeholderBySecretName' must be an object, not a {}",
                v.kind()
            ))
        }
    }
    for (i, m) in objects(&doc, "secrets")?.into_iter().enumerate() {
        let ctx = entry_ctx("secret", i, m);
        out.secrets.push(Secret {
            common: common(m, &ctx)?,
            key: string(m, "key", &ctx)?,
            sops_file: string(m, "sopsFile", &ctx)?,
            format: string(m, "format", &ctx)?,
            credential_name: opt_string(m, "credentialName", &ctx)?,
        });
    }
    for (i, m) in objects(&doc, "templates")?.into_iter().enumerate() {
        let ctx = entry_ctx("template", i, m);
        out.templates.push(Template {
            common: common(m, &ctx)?,
            content: string(m, "content", &ctx)?,
            file: string(m, "file", &ctx)?,
        });
    }
    Ok(out)
}

/// Replaces `%r` by `runtime_dir` and `%%` by `%` (activation step 2: split on `%%` first).
pub fn expand_percent(s: &str, runtime_dir: &str) -> String {
    s.split("%%")
        .map(|piece| piece.replace("%r", runtime_dir))
        .collect::<Vec<_>>()
        .join("%")
}

impl Manifest {
    /// The placeholder of secret `name`, if the manifest has one.
    pub fn placeholder(&self, name: &str) -> Option<&str> {
        self.placeholder_by_secret_name
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// User mode: expands `%r`/`%%` in the mount point, the symlink and every path.
    pub fn expand_runtime_dir(&mut self, runtime_dir: &str) {
        self.secrets_mount_point = expand_percent(&self.secrets_mount_point, runtime_dir);
        self.symlink_path = expand_percent(&self.symlink_path, runtime_dir);
        for s in &mut self.secrets {
            s.common.path = expand_percent(&s.common.path, runtime_dir);
        }
        for t in &mut self.templates {
            t.common.path = expand_percent(&t.common.path, runtime_dir);
        }
    }
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
        assert!(m.log_key_import && m.log_secret_changes);
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

    #[test]
    fn percent_expansion() {
        assert_eq!(
            expand_percent("%r/secrets.d", "/run/user/1"),
            "/run/user/1/secrets.d"
        );
        assert_eq!(expand_percent("a%%r%r", "/R"), "a%r/R");
    }
}
