//! `sealbox manifest`: builds the sops-nix manifest JSON that `sealbox-install` reads from a
//! small TOML or YAML description, for hosts without Nix.
//!
//! The description mirrors the NixOS module's `sops.*` options (docs/nixos-module.md#options)
//! with the same defaults, and the output is what the module's `manifestFor` would write
//! (docs/nixos-module.md#building-the-manifest): secrets and templates sorted by name, JSON
//! keys sorted. Templates write
//! `${secret:NAME}` where the module would interpolate `config.sops.placeholder.NAME`; it
//! becomes the module's placeholder `<SOPS:<sha256 hex of NAME>:PLACEHOLDER>`.
//!
//! Paths of input files (`defaultSopsFile`, `sopsFile`, a template's `file`, `ageKeyFile`,
//! `ageSshKeyPaths`) may be relative to the description's directory; they are written
//! absolute. Where secrets end up (`path`, `secretsMountPoint`, `symlinkPath`) must be
//! absolute.
//!
//! Validation: every problem is reported (one line each, naming the description file, the
//! entry and what to fix); then the manifest goes through `sealbox-install`'s own
//! validation (`sealbox_activation::validate`), so what passes here passes there.

use crate::fsio::{read_input, write_atomic, write_stdout, ENCRYPTED_MODE};
use crate::ManifestArgs;
use sealbox_activation::manifest as act_manifest;
use sealbox_activation::validate::{self as act_validate, Depth, Owners};
use sealbox_formats::store::{json, yaml};
use sealbox_formats::{Error, Map, Result, Value};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The description languages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lang {
    /// TOML.
    Toml,
    /// YAML.
    Yaml,
}

/// How deeply the referenced files are checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileChecks {
    /// Nothing is read but template files (for a manifest built on another machine).
    None,
    /// The sops files must exist (the module's `validateSopsFiles` eval checks).
    Exist,
    /// Also parse them and check every secret's key (`sealbox-install --check-mode sopsfile`).
    SopsFile,
}

/// `sealbox manifest`.
pub fn manifest(a: &ManifestArgs) -> Result<()> {
    let lang = lang_of(&a.file, a.input_type.as_deref())?;
    let text = String::from_utf8(read_input(&a.file)?)
        .map_err(|_| Error::generic(format!("{}: not UTF-8 text", a.file.display())))?;
    let stdin = a.file == Path::new("-");
    let shown = if stdin {
        "<stdin>".to_string()
    } else {
        a.file.display().to_string()
    };
    let cwd = std::env::current_dir()
        .map_err(|e| Error::generic(format!("cannot read the current directory: {e}")))?;
    let base = if stdin {
        cwd
    } else {
        cwd.join(a.file.parent().unwrap_or(Path::new("")))
    };
    let checks = if a.check_sopsfile {
        FileChecks::SopsFile
    } else if a.no_check_files {
        FileChecks::None
    } else {
        FileChecks::Exist
    };
    let out = build(&text, lang, &shown, &base, checks).map_err(|errs| {
        Error::generic(errs.join("\n")).with_hint(
            "fix the description and run `sealbox manifest` again (format: examples/systemd/README.md)",
        )
    })?;
    match &a.output {
        Some(p) if p != Path::new("-") => write_atomic(p, out.as_bytes(), ENCRYPTED_MODE),
        _ => write_stdout(out.as_bytes()),
    }
}

fn lang_of(file: &Path, flag: Option<&str>) -> Result<Lang> {
    let name = match flag {
        Some(f) => f.to_ascii_lowercase(),
        None => file
            .extension()
            .map(|e| e.to_string_lossy().to_ascii_lowercase())
            .unwrap_or_default(),
    };
    match name.as_str() {
        "toml" => Ok(Lang::Toml),
        "yaml" | "yml" => Ok(Lang::Yaml),
        _ => Err(Error::generic(format!(
            "{}: cannot tell whether the description is TOML or YAML",
            file.display()
        ))
        .with_hint("name it *.toml, *.yaml or *.yml, or pass --input-type toml|yaml")),
    }
}

/// The placeholder the NixOS module gives secret `name` (docs/activation.md#templates).
pub fn placeholder(name: &str) -> String {
    let digest = Sha256::digest(name.as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("<SOPS:{hex}:PLACEHOLDER>")
}

/// Replaces `${secret:NAME}` by NAME's placeholder; `$${secret:` is a literal `${secret:`.
/// Errors name the problem (unknown secret, no closing brace), never the text around it.
pub fn substitute(text: &str, secrets: &[String]) -> std::result::Result<String, String> {
    const OPEN: &str = "${secret:";
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find(OPEN) {
        if rest[..i].ends_with('$') {
            out.push_str(&rest[..i - 1]);
            out.push_str(OPEN);
            rest = &rest[i + OPEN.len()..];
            continue;
        }
        out.push_str(&rest[..i]);
        let after = &rest[i + OPEN.len()..];
        let end = after.find('}').ok_or_else(|| {
            "a '${secret:' has no closing '}'; write ${secret:NAME} (or $${secret: for the literal text)"
                .to_string()
        })?;
        let name = &after[..end];
        if !secrets.iter().any(|s| s == name) {
            return Err(format!(
                "${{secret:{name}}} names no secret of this description; add [secrets.\"{name}\"] or fix the name"
            ));
        }
        out.push_str(&placeholder(name));
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Parses the description text into a tree (TOML tables become maps).
fn parse(text: &str, lang: Lang) -> std::result::Result<Map, String> {
    match lang {
        Lang::Yaml => {
            let docs = yaml::parse(text).map_err(|e| e.message)?;
            match docs.len() {
                0 => Ok(Map::new()),
                1 => Ok(docs.into_iter().next().unwrap()),
                _ => Err("the YAML description must be a single document".into()),
            }
        }
        Lang::Toml => {
            let t: toml::Table = text
                .parse()
                .map_err(|e: toml::de::Error| e.to_string().trim_end().to_string())?;
            Ok(toml_table(t))
        }
    }
}

fn toml_table(t: toml::Table) -> Map {
    let mut m = Map::new();
    for (k, v) in t {
        m.push(k, toml_value(v));
    }
    m
}

fn toml_value(v: toml::Value) -> Value {
    match v {
        toml::Value::String(s) => Value::str(s),
        toml::Value::Integer(i) => Value::Int(i),
        toml::Value::Float(f) => Value::Float(f),
        toml::Value::Boolean(b) => Value::Bool(b),
        toml::Value::Datetime(d) => Value::Time(d.to_string()),
        toml::Value::Array(a) => Value::List(a.into_iter().map(toml_value).collect()),
        toml::Value::Table(t) => Value::Map(toml_table(t)),
    }
}

const TOP_KEYS: &[&str] = &[
    "secretsMountPoint",
    "symlinkPath",
    "keepGenerations",
    "ageKeyFile",
    "ageSshKeyPaths",
    "defaultSopsFile",
    "defaultSopsFormat",
    "defaultSopsKey",
    "useTmpfs",
    "logging",
    "secrets",
    "templates",
];
const SECRET_KEYS: &[&str] = &[
    "key",
    "path",
    "format",
    "mode",
    "owner",
    "uid",
    "group",
    "gid",
    "sopsFile",
    "restartUnits",
    "reloadUnits",
    "credentialName",
];
const TEMPLATE_KEYS: &[&str] = &[
    "content",
    "file",
    "path",
    "mode",
    "owner",
    "uid",
    "group",
    "gid",
    "restartUnits",
    "reloadUnits",
];
const FORMATS: &[&str] = &["yaml", "json", "binary", "dotenv", "ini"];

/// Reads typed fields of one table, collecting errors that name the entry.
struct Fields<'m, 'e> {
    map: &'m Map,
    /// `file: entry` prefix of every message.
    at: String,
    errs: &'e mut Vec<String>,
}

impl<'m> Fields<'m, '_> {
    fn err(&mut self, msg: String) {
        self.errs.push(format!("{}: {msg}", self.at));
    }

    fn unknown(&mut self, known: &[&str], hint: &str) {
        let bad: Vec<String> = self
            .map
            .pairs()
            .map(|(k, _)| k.to_string())
            .filter(|k| !known.contains(&k.as_str()))
            .collect();
        for k in bad {
            let extra = match k.as_str() {
                "gnupgHome" | "sshKeyPaths" | "gnupg" => {
                    " (PGP keys are not supported by sealbox-install; use ageKeyFile or ageSshKeyPaths)"
                }
                "neededForUsers" => " (not needed without NixOS: every secret is installed at once)",
                "name" => " (the table's name is the secret's name)",
                _ => "",
            };
            self.err(format!(
                "unknown setting '{k}'{extra}; {hint}: {}",
                known.join(", ")
            ));
        }
    }

    fn string(&mut self, key: &str) -> Option<String> {
        match self.map.get(key) {
            None | Some(Value::Null) => None,
            Some(Value::Str(s)) => Some(s.to_string()),
            Some(v) => {
                let hint = if key == "mode" {
                    " (quote it: mode = \"0440\", an unquoted number is not read as octal)"
                } else {
                    ""
                };
                self.err(format!(
                    "'{key}' must be a string (found: {}){hint}",
                    v.kind()
                ));
                None
            }
        }
    }

    fn boolean(&mut self, key: &str) -> Option<bool> {
        match self.map.get(key) {
            None | Some(Value::Null) => None,
            Some(Value::Bool(b)) => Some(*b),
            Some(v) => {
                self.err(format!(
                    "'{key}' must be true or false (found: {})",
                    v.kind()
                ));
                None
            }
        }
    }

    fn uint(&mut self, key: &str, max: u64) -> Option<u64> {
        match self.map.get(key) {
            None | Some(Value::Null) => None,
            Some(Value::Int(i)) if *i >= 0 && (*i as u64) <= max => Some(*i as u64),
            Some(_) => {
                self.err(format!("'{key}' must be an integer between 0 and {max}"));
                None
            }
        }
    }

    fn strings(&mut self, key: &str) -> Vec<String> {
        match self.map.get(key) {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::List(l)) => {
                let mut out = Vec::new();
                for v in l {
                    match v {
                        Value::Str(s) => out.push(s.to_string()),
                        Value::Comment(_) => {}
                        v => {
                            self.err(format!(
                                "'{key}' must be a list of strings (found a {})",
                                v.kind()
                            ));
                            return Vec::new();
                        }
                    }
                }
                out
            }
            Some(v) => {
                self.err(format!(
                    "'{key}' must be a list of strings such as [\"a.service\"] (found: {})",
                    v.kind()
                ));
                Vec::new()
            }
        }
    }

    fn table(&mut self, key: &str) -> Option<&'m Map> {
        match self.map.get(key) {
            None | Some(Value::Null) => None,
            Some(Value::Map(m)) => Some(m),
            Some(v) => {
                self.err(format!("'{key}' must be a table (found: {})", v.kind()));
                None
            }
        }
    }
}

/// Makes an input path absolute against the description's directory.
fn input_path(base: &Path, p: &str) -> String {
    let p = Path::new(p);
    if p.is_absolute() {
        p.display().to_string()
    } else {
        // Drop `./` components so the manifest stays readable.
        let rel: PathBuf = p
            .components()
            .filter(|c| !matches!(c, std::path::Component::CurDir))
            .collect();
        base.join(rel).display().to_string()
    }
}

/// Owner, group and units: the fields secrets and templates share.
struct Common {
    path: String,
    mode: String,
    owner: Option<String>,
    uid: u64,
    group: Option<String>,
    gid: u64,
    restart_units: Vec<String>,
    reload_units: Vec<String>,
}

fn common(f: &mut Fields<'_, '_>, default_path: String) -> Common {
    let path = f.string("path").unwrap_or(default_path);
    if !path.starts_with('/') {
        f.err(format!(
            "'path' must be absolute (where the secret should appear, e.g. /etc/app/{})",
            Path::new(&path)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        ));
    } else if path.contains('\0') || path.contains('\n') {
        f.err("'path' contains a NUL or newline character".into());
    }
    let mode = f.string("mode").unwrap_or_else(|| "0400".into());
    if let Err(e) = act_validate::parse_mode(&mode) {
        f.err(e);
    }
    let owner = f.string("owner");
    let uid = f.uint("uid", u32::MAX as u64);
    let group = f.string("group");
    let gid = f.uint("gid", u32::MAX as u64);
    for (what, name, id) in [("owner", &owner, uid), ("group", &group, gid)] {
        let idkey = if what == "owner" { "uid" } else { "gid" };
        if let Some(n) = name {
            if n.is_empty()
                || n.contains(':')
                || n.contains('/')
                || n.chars().any(char::is_whitespace)
            {
                f.err(format!(
                    "'{what}' must be a user/group name such as \"root\""
                ));
            }
            if id.is_some_and(|i| i != 0) {
                f.err(format!(
                    "exactly one of '{what}' and '{idkey}' may be set; remove one"
                ));
            }
        }
    }
    Common {
        path,
        mode,
        owner,
        uid: uid.unwrap_or(0),
        group,
        gid: gid.unwrap_or(0),
        restart_units: f.strings("restartUnits"),
        reload_units: f.strings("reloadUnits"),
    }
}

fn str_list(v: &[String]) -> Value {
    Value::List(v.iter().map(Value::str).collect())
}

fn opt_str(v: &Option<String>) -> Value {
    v.as_ref().map(Value::str).unwrap_or(Value::Null)
}

/// A JSON object with its keys sorted, as `builtins.toJSON` writes them.
fn object(mut pairs: Vec<(&str, Value)>) -> Value {
    pairs.sort_by(|a, b| a.0.cmp(b.0));
    let mut m = Map::new();
    for (k, v) in pairs {
        m.push(k, v);
    }
    Value::Map(m)
}

fn common_fields(c: &Common, name: &str) -> Vec<(&'static str, Value)> {
    vec![
        ("name", Value::str(name)),
        ("path", Value::str(&c.path)),
        ("mode", Value::str(&c.mode)),
        ("owner", opt_str(&c.owner)),
        ("uid", Value::Int(c.uid as i64)),
        ("group", opt_str(&c.group)),
        ("gid", Value::Int(c.gid as i64)),
        ("restartUnits", str_list(&c.restart_units)),
        ("reloadUnits", str_list(&c.reload_units)),
    ]
}

/// The entries of `secrets` or `templates`, sorted by name (what `attrValues` gives).
fn entries<'m>(f: &mut Fields<'m, '_>, key: &str) -> Vec<(&'m str, &'m Map)> {
    static EMPTY: Map = Map(Vec::new());
    let mut out: Vec<(&'m str, &'m Map)> = Vec::new();
    let Some(t) = f.table(key) else {
        return out;
    };
    for (name, v) in t.pairs() {
        match v {
            Value::Map(m) => out.push((name, m)),
            Value::Null => out.push((name, &EMPTY)),
            v => {
                f.err(format!(
                    "{key}.{name} must be a table ([{key}.\"{name}\"]) (found: {})",
                    v.kind()
                ));
            }
        }
    }
    out.sort_by(|a, b| a.0.cmp(b.0));
    out
}

/// Builds the manifest JSON from description text. `shown` names the description in
/// errors, `base` is its directory (for relative input paths).
pub fn build(
    text: &str,
    lang: Lang,
    shown: &str,
    base: &Path,
    checks: FileChecks,
) -> std::result::Result<String, Vec<String>> {
    let desc = parse(text, lang).map_err(|e| vec![format!("{shown}: {e}")])?;
    let mut errs: Vec<String> = Vec::new();
    let mut top = Fields {
        map: &desc,
        at: format!("{shown}: top level"),
        errs: &mut errs,
    };
    top.unknown(TOP_KEYS, "known top-level settings");
    let mount = top
        .string("secretsMountPoint")
        .unwrap_or_else(|| "/run/secrets.d".into());
    let symlink = top
        .string("symlinkPath")
        .unwrap_or_else(|| "/run/secrets".into());
    for (k, v) in [("secretsMountPoint", &mount), ("symlinkPath", &symlink)] {
        if !v.starts_with('/') || v.len() < 2 || v.ends_with('/') {
            top.err(format!(
                "'{k}' must be an absolute path without a trailing '/', such as {}",
                if k == "symlinkPath" {
                    "/run/secrets"
                } else {
                    "/run/secrets.d"
                }
            ));
        }
    }
    if mount == symlink
        || symlink.starts_with(&format!("{mount}/"))
        || mount.starts_with(&format!("{symlink}/"))
    {
        top.err("'secretsMountPoint' and 'symlinkPath' must be different paths, neither inside the other".into());
    }
    let keep = top.uint("keepGenerations", i64::MAX as u64).unwrap_or(1);
    let age_key_file = top.string("ageKeyFile").map(|p| input_path(base, &p));
    let age_ssh: Vec<String> = top
        .strings("ageSshKeyPaths")
        .iter()
        .map(|p| input_path(base, p))
        .collect();
    let default_sops_file = top.string("defaultSopsFile").map(|p| input_path(base, &p));
    let default_format = top
        .string("defaultSopsFormat")
        .unwrap_or_else(|| "yaml".into());
    if !FORMATS.contains(&default_format.as_str()) {
        top.err(format!(
            "'defaultSopsFormat' is '{default_format}'; use one of {}",
            FORMATS.join(", ")
        ));
    }
    let default_key = top.string("defaultSopsKey");
    let use_tmpfs = top.boolean("useTmpfs").unwrap_or(false);
    let (log_keys, log_changes) = match top.table("logging") {
        Some(l) => {
            let mut lf = Fields {
                map: l,
                at: format!("{shown}: logging"),
                errs: top.errs,
            };
            lf.unknown(&["keyImport", "secretChanges"], "known logging settings");
            (
                lf.boolean("keyImport").unwrap_or(true),
                lf.boolean("secretChanges").unwrap_or(true),
            )
        }
        None => (true, true),
    };
    let secret_entries = entries(&mut top, "secrets");
    let template_entries = entries(&mut top, "templates");
    let secret_names: Vec<String> = secret_entries.iter().map(|(n, _)| n.to_string()).collect();
    if !secret_entries.is_empty() && age_key_file.is_none() && age_ssh.is_empty() {
        top.err("no key source: set ageKeyFile = \"/var/lib/sealbox/key.txt\" (an age identity) or ageSshKeyPaths = [\"/etc/ssh/ssh_host_ed25519_key\"]".into());
    }

    // Where each entry lands, to find two entries claiming the same file.
    let mut paths: BTreeMap<String, String> = BTreeMap::new();
    // `default` is where the entry lives inside the current generation.
    let mut claim = |errs: &mut Vec<String>, path: &str, default: &str, who: String| {
        let inside = |dir: &str| path == dir || path.starts_with(&format!("{dir}/"));
        if path != default && (inside(&symlink) || inside(&mount)) {
            errs.push(format!(
                "{shown}: {who}: path {path} is inside {}, which sealbox-install replaces on every activation; choose a path outside it or leave 'path' out",
                if inside(&symlink) { &symlink } else { &mount }
            ));
        } else if let Some(first) = paths.get(path) {
            errs.push(format!(
                "{shown}: {who}: path {path} is already used by {first}; give one of them another 'path'"
            ));
        } else {
            paths.insert(path.to_string(), who);
        }
    };
    let mut credentials: BTreeMap<String, String> = BTreeMap::new();

    let mut sops_files: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut secrets = Vec::new();
    for (name, m) in &secret_entries {
        let who = format!("secrets.{name}");
        let mut f = Fields {
            map: m,
            at: format!("{shown}: {who}"),
            errs: &mut *top.errs,
        };
        f.unknown(SECRET_KEYS, "known secret settings");
        if let Err(e) = act_validate::check_name(name) {
            f.err(e);
        }
        if !template_entries.is_empty() && name.split('/').next() == Some("rendered") {
            f.err("the name 'rendered' is reserved for templates; rename the secret".into());
        }
        let default_path = format!("{symlink}/{name}");
        let c = common(&mut f, default_path.clone());
        let key = f
            .string("key")
            .or_else(|| default_key.clone())
            .unwrap_or_else(|| name.to_string());
        let format = f.string("format").unwrap_or_else(|| default_format.clone());
        if !FORMATS.contains(&format.as_str()) {
            f.err(format!(
                "unsupported format '{format}'; use one of {}",
                FORMATS.join(", ")
            ));
        }
        let sops_file = match f.string("sopsFile").map(|p| input_path(base, &p)) {
            Some(p) => Some(p),
            None if default_sops_file.is_some() => default_sops_file.clone(),
            None => {
                f.err("no sops file: set 'sopsFile' here or 'defaultSopsFile' at the top".into());
                None
            }
        };
        if let Some(p) = &sops_file {
            sops_files.entry(p.clone()).or_default().push(who.clone());
        }
        let credential = f.string("credentialName");
        if let Some(cn) = &credential {
            // The rule sealbox-install applies (systemd's, and no leading '.').
            if let Err(e) = sealbox_activation::credstore::check_name(cn) {
                f.err(format!(
                    "'credentialName' {cn:?}: {e}; it becomes /run/credstore/NAME"
                ));
            } else if let Some(first) = credentials.get(cn) {
                f.err(format!(
                    "credentialName '{cn}' is already used by {first}; credential names must be unique"
                ));
            } else {
                credentials.insert(cn.clone(), who.clone());
            }
        }
        claim(f.errs, &c.path, &default_path, who.clone());
        let mut fields = common_fields(&c, name);
        fields.push(("key", Value::str(key)));
        fields.push(("format", Value::str(format)));
        fields.push(("sopsFile", Value::str(sops_file.unwrap_or_default())));
        if let Some(cn) = credential {
            fields.push(("credentialName", Value::str(cn)));
        }
        secrets.push(object(fields));
    }

    if checks != FileChecks::None {
        for (p, users) in &sops_files {
            if !Path::new(p).exists() {
                top.errs.push(format!(
                    "{shown}: {}: sops file {p} does not exist; create it (`sealbox encrypt`), fix the path, or pass --no-check-files when the manifest is built on another machine",
                    users.join(", ")
                ));
            }
        }
    }

    let mut templates = Vec::new();
    for (name, m) in &template_entries {
        let who = format!("templates.{name}");
        let mut f = Fields {
            map: m,
            at: format!("{shown}: {who}"),
            errs: &mut *top.errs,
        };
        f.unknown(TEMPLATE_KEYS, "known template settings");
        if let Err(e) = act_validate::check_name(name) {
            f.err(e);
        }
        let default_path = format!("{symlink}/rendered/{name}");
        let c = common(&mut f, default_path.clone());
        let content = f.string("content");
        let file = f.string("file").map(|p| input_path(base, &p));
        let raw = match (&content, &file) {
            (Some(_), Some(_)) => {
                f.err("set either 'content' or 'file', not both".into());
                None
            }
            (Some(t), None) => Some(t.clone()),
            (None, Some(p)) => match std::fs::read_to_string(p) {
                Ok(t) => Some(t),
                Err(e) => {
                    f.err(format!("cannot read template file {p}: {e}"));
                    None
                }
            },
            (None, None) => {
                f.err("neither 'content' nor 'file' is set; give the template's text".into());
                None
            }
        };
        let text = match raw.map(|t| substitute(&t, &secret_names)) {
            Some(Ok(t)) if t.is_empty() => {
                f.err("the template text is empty".into());
                String::new()
            }
            Some(Ok(t)) => t,
            Some(Err(e)) => {
                f.err(e);
                String::new()
            }
            None => String::new(),
        };
        claim(f.errs, &c.path, &default_path, who.clone());
        let mut fields = common_fields(&c, name);
        fields.push(("content", Value::str(text)));
        fields.push(("file", Value::str(file.unwrap_or_default())));
        templates.push(object(fields));
    }

    let mut placeholders = Map::new();
    if !template_entries.is_empty() {
        for n in &secret_names {
            placeholders.push(n.as_str(), Value::str(placeholder(n)));
        }
    }
    let doc = object(vec![
        ("secrets", Value::List(secrets)),
        ("templates", Value::List(templates)),
        ("placeholderBySecretName", Value::Map(placeholders)),
        ("secretsMountPoint", Value::str(&mount)),
        ("symlinkPath", Value::str(&symlink)),
        ("keepGenerations", Value::Int(keep as i64)),
        ("sshKeyPaths", Value::List(Vec::new())),
        ("gnupgHome", Value::Null),
        ("ageKeyFile", opt_str(&age_key_file)),
        ("ageSshKeyPaths", str_list(&age_ssh)),
        ("useTmpfs", Value::Bool(use_tmpfs)),
        ("userMode", Value::Bool(false)),
        (
            "logging",
            object(vec![
                ("keyImport", Value::Bool(log_keys)),
                ("secretChanges", Value::Bool(log_changes)),
            ]),
        ),
    ]);
    if !errs.is_empty() {
        return Err(errs);
    }
    let Value::Map(doc) = doc else { unreachable!() };
    let out = json::emit(&doc, 2).map_err(|e| vec![format!("{shown}: {}", e.message)])?;

    // The same validation `sealbox-install` runs, on the JSON it will read.
    let parsed = act_manifest::parse(&out).map_err(|e| {
        vec![format!(
            "{shown}: the generated manifest does not parse: {e}"
        )]
    })?;
    let depth = if checks == FileChecks::SopsFile {
        Depth::SopsFile
    } else {
        Depth::Manifest
    };
    act_validate::validate(&parsed, Owners::Unresolved, depth).map_err(|es| {
        es.into_iter()
            .map(|e| {
                let e = e.strip_prefix("manifest is not valid: ").unwrap_or(&e);
                format!("{shown}: {}", entry_name(e))
            })
            .collect::<Vec<_>>()
    })?;
    Ok(out)
}

/// Rewrites `secret NAME…` / `template NAME…` of sealbox-install's messages as the
/// description's `secrets.NAME…` / `templates.NAME…`.
fn entry_name(e: &str) -> String {
    for (from, to) in [("secret ", "secrets."), ("template ", "templates.")] {
        if let Some(rest) = e.strip_prefix(from) {
            return format!("{to}{rest}");
        }
    }
    e.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholder_is_the_modules() {
        assert_eq!(
            placeholder("test_key"),
            "<SOPS:92488e1e3eeecdf99f3ed2ce59233efb4b4fb612d5655c0ce9ea52b5a502e655:PLACEHOLDER>"
        );
    }

    #[test]
    fn substitution() {
        let names = vec!["a".to_string(), "b/c".to_string()];
        assert_eq!(
            substitute("x=${secret:a} y=${secret:b/c}\n", &names).unwrap(),
            format!("x={} y={}\n", placeholder("a"), placeholder("b/c"))
        );
        assert_eq!(
            substitute("lit=$${secret:a} ${HOME} $x", &names).unwrap(),
            "lit=${secret:a} ${HOME} $x"
        );
        assert!(substitute("${secret:zz}", &names)
            .unwrap_err()
            .contains("zz"));
        assert!(substitute("${secret:a", &names)
            .unwrap_err()
            .contains("closing"));
        // Raw placeholders (copied from a sops-nix template) stay as they are.
        let raw = placeholder("a");
        assert_eq!(substitute(&raw, &names).unwrap(), raw);
    }

    #[test]
    fn toml_and_yaml_give_the_same_manifest() {
        let t = r#"
ageKeyFile = "/k"
defaultSopsFile = "/s.yaml"
[secrets.a]
mode = "0440"
[templates.t]
content = "A=${secret:a}"
"#;
        let y = "ageKeyFile: /k\ndefaultSopsFile: /s.yaml\nsecrets:\n  a:\n    mode: \"0440\"\ntemplates:\n  t:\n    content: \"A=${secret:a}\"\n";
        let base = Path::new("/d");
        let a = build(t, Lang::Toml, "d.toml", base, FileChecks::None).unwrap();
        let b = build(y, Lang::Yaml, "d.yaml", base, FileChecks::None).unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn relative_input_paths_follow_the_description() {
        let t = "ageKeyFile = \"key.txt\"\ndefaultSopsFile = \"./s/x.yaml\"\n[secrets.a]\n";
        let out = build(
            t,
            Lang::Toml,
            "d.toml",
            Path::new("/etc/sb"),
            FileChecks::None,
        )
        .unwrap();
        assert!(out.contains("\"/etc/sb/key.txt\""), "{out}");
        assert!(out.contains("\"/etc/sb/s/x.yaml\""), "{out}");
    }
}
