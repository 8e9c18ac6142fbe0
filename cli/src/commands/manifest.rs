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
//! The manifest itself is sealbox-manifest's: the description is read into its types
//! (an entry's settings are its fields), its writer makes the JSON, and the result goes
//! through the validation `sealbox-install` runs on the JSON it reads, so what passes here
//! passes there. Every problem is reported (one line each, naming the description file,
//! the entry and what to fix).

use crate::files::{read_input, write_atomic, write_stdout, ENCRYPTED_MODE};
use crate::ManifestArgs;
use sealbox_formats::store::yaml;
use sealbox_formats::{Error, ErrorKind, Map, Result, Value};
use sealbox_manifest as contract;
use sealbox_manifest::{
    Checks, Common, Depth, Format, Logging, Manifest, Owners, Secret, Template,
};
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
pub fn run(a: &ManifestArgs) -> Result<()> {
    let lang = lang_of(&a.file, a.input_type.as_deref())?;
    let text = String::from_utf8(read_input(&a.file)?).map_err(|_| {
        Error::new(
            ErrorKind::Other,
            format!("{}: not UTF-8 text", a.file.display()),
        )
    })?;
    let stdin = a.file == Path::new("-");
    let shown = if stdin {
        "<stdin>".to_string()
    } else {
        a.file.display().to_string()
    };
    let cwd = crate::context::current_dir()?;
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
        Error::new(ErrorKind::Other, errs.join("\n")).with_hint(
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
        _ => Err(Error::new(
            ErrorKind::Other,
            format!(
                "{}: cannot tell whether the description is TOML or YAML",
                file.display()
            ),
        )
        .with_hint("name it *.toml, *.yaml or *.yml, or pass --input-type toml|yaml")),
    }
}

pub use sealbox_manifest::placeholder;

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

/// Top-level manifest settings a description does not have: PGP (not supported by
/// sealbox-install), user mode (home-manager's), the placeholders (computed).
const NOT_DESCRIBED: &[&str] = &[
    "sshKeyPaths",
    "gnupgHome",
    "userMode",
    "placeholderBySecretName",
];
/// Top-level settings only a description has (the module's defaults for entries).
const DESCRIPTION_ONLY: &[&str] = &["defaultSopsFile", "defaultSopsFormat", "defaultSopsKey"];

/// The top-level settings of a description.
fn top_keys() -> Vec<&'static str> {
    contract::TOP
        .iter()
        .map(|f| f.name)
        .filter(|n| !NOT_DESCRIBED.contains(n))
        .chain(DESCRIPTION_ONLY.iter().copied())
        .collect()
}

/// The settings of a secret or template of a description: the manifest entry's fields
/// but its name (the table's name).
fn entry_keys<E: contract::Entry>() -> Vec<&'static str> {
    contract::entry_field_names::<E>()
        .filter(|n| *n != "name")
        .collect()
}

/// The format names, as messages list them.
fn formats() -> Vec<&'static str> {
    Format::ALL.iter().map(|f| f.name()).collect()
}

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

/// Owner, group and units: the fields secrets and templates share (the name is the
/// caller's).
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
    if let Err(e) = contract::parse_mode(&mode) {
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
        name: String::new(),
        path,
        mode,
        owner,
        uid: uid.unwrap_or(0) as u32,
        group,
        gid: gid.unwrap_or(0) as u32,
        restart_units: f.strings("restartUnits"),
        reload_units: f.strings("reloadUnits"),
    }
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

/// The top level of a description: where the secrets go, the keys, the entries' defaults.
struct Top<'m> {
    mount: String,
    symlink: String,
    keep: u64,
    age_key_file: Option<String>,
    age_ssh: Vec<String>,
    default_sops_file: Option<String>,
    default_format: String,
    default_key: Option<String>,
    use_tmpfs: bool,
    logging: Logging,
    /// The secrets and templates, sorted by name.
    secrets: Vec<(&'m str, &'m Map)>,
    templates: Vec<(&'m str, &'m Map)>,
}

/// Reads the top level (its problems go to `top`'s errors).
fn top_level<'m>(top: &mut Fields<'m, '_>, shown: &str, base: &Path) -> Top<'m> {
    top.unknown(&top_keys(), "known top-level settings");
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
    if !formats().contains(&default_format.as_str()) {
        top.err(format!(
            "'defaultSopsFormat' is '{default_format}'; use one of {}",
            formats().join(", ")
        ));
    }
    let default_key = top.string("defaultSopsKey");
    let use_tmpfs = top.boolean("useTmpfs").unwrap_or(false);
    let logging = match top.table("logging") {
        Some(l) => {
            let mut lf = Fields {
                map: l,
                at: format!("{shown}: logging"),
                errs: top.errs,
            };
            let known: Vec<&str> = contract::LOGGING.iter().map(|f| f.name).collect();
            lf.unknown(&known, "known logging settings");
            Logging {
                key_import: lf.boolean("keyImport").unwrap_or(true),
                secret_changes: lf.boolean("secretChanges").unwrap_or(true),
            }
        }
        None => Logging {
            key_import: true,
            secret_changes: true,
        },
    };
    let secrets = entries(top, "secrets");
    let templates = entries(top, "templates");
    if !secrets.is_empty() && age_key_file.is_none() && age_ssh.is_empty() {
        top.err("no key source: set ageKeyFile = \"/var/lib/sealbox/key.txt\" (an age identity) or ageSshKeyPaths = [\"/etc/ssh/ssh_host_ed25519_key\"]".into());
    }
    Top {
        mount,
        symlink,
        keep,
        age_key_file,
        age_ssh,
        default_sops_file,
        default_format,
        default_key,
        use_tmpfs,
        logging,
        secrets,
        templates,
    }
}

/// The files entries claim, to find two claiming the same one: paths (where each entry
/// lands) and credential names.
struct Claims<'t> {
    shown: &'t str,
    symlink: &'t str,
    mount: &'t str,
    paths: BTreeMap<String, String>,
    credentials: BTreeMap<String, String>,
}

impl Claims<'_> {
    /// `who` claims `path`; `default` is where it lives inside the current generation.
    fn path(&mut self, errs: &mut Vec<String>, path: &str, default: &str, who: String) {
        let inside = |dir: &str| path == dir || path.starts_with(&format!("{dir}/"));
        let shown = self.shown;
        if path != default && (inside(self.symlink) || inside(self.mount)) {
            errs.push(format!(
                "{shown}: {who}: path {path} is inside {}, which sealbox-install replaces on every activation; choose a path outside it or leave 'path' out",
                if inside(self.symlink) { self.symlink } else { self.mount }
            ));
        } else if let Some(first) = self.paths.get(path) {
            errs.push(format!(
                "{shown}: {who}: path {path} is already used by {first}; give one of them another 'path'"
            ));
        } else {
            self.paths.insert(path.to_string(), who);
        }
    }

    /// `who` claims the credential `name` (checked by sealbox-install's rule first).
    fn credential(&mut self, f: &mut Fields<'_, '_>, name: &str, who: &str) {
        if let Err(e) = contract::check_credential_name(name) {
            f.err(format!(
                "'credentialName' {name:?}: {e}; it becomes /run/credstore/NAME"
            ));
        } else if let Some(first) = self.credentials.get(name) {
            f.err(format!(
                "credentialName '{name}' is already used by {first}; credential names must be unique"
            ));
        } else {
            self.credentials.insert(name.to_string(), who.to_string());
        }
    }
}

/// One secret of the description.
fn secret(
    f: &mut Fields<'_, '_>,
    name: &str,
    top: &Top,
    base: &Path,
    claims: &mut Claims,
) -> Secret {
    let who = format!("secrets.{name}");
    f.unknown(&entry_keys::<Secret>(), "known secret settings");
    if let Err(e) = contract::check_name(name) {
        f.err(e);
    }
    if !top.templates.is_empty() && name.split('/').next() == Some("rendered") {
        f.err("the name 'rendered' is reserved for templates; rename the secret".into());
    }
    let default_path = format!("{}/{name}", top.symlink);
    let mut common = common(f, default_path.clone());
    common.name = name.to_string();
    let key = f
        .string("key")
        .or_else(|| top.default_key.clone())
        .unwrap_or_else(|| name.to_string());
    let format = f
        .string("format")
        .unwrap_or_else(|| top.default_format.clone());
    if !formats().contains(&format.as_str()) {
        f.err(format!(
            "unsupported format '{format}'; use one of {}",
            formats().join(", ")
        ));
    }
    let sops_file = match f.string("sopsFile").map(|p| input_path(base, &p)) {
        Some(p) => Some(p),
        None if top.default_sops_file.is_some() => top.default_sops_file.clone(),
        None => {
            f.err("no sops file: set 'sopsFile' here or 'defaultSopsFile' at the top".into());
            None
        }
    };
    let credential_name = f.string("credentialName");
    if let Some(cn) = &credential_name {
        // The rule sealbox-install applies (systemd's, and no leading '.').
        claims.credential(f, cn, &who);
    }
    claims.path(f.errs, &common.path, &default_path, who);
    Secret {
        common,
        key,
        sops_file: sops_file.unwrap_or_default(),
        format,
        credential_name,
    }
}

/// One template of the description; `secrets` are the names `${secret:NAME}` may use.
fn template(
    f: &mut Fields<'_, '_>,
    name: &str,
    top: &Top,
    base: &Path,
    secrets: &[String],
    claims: &mut Claims,
) -> Template {
    let who = format!("templates.{name}");
    f.unknown(&entry_keys::<Template>(), "known template settings");
    if let Err(e) = contract::check_name(name) {
        f.err(e);
    }
    let default_path = format!("{}/rendered/{name}", top.symlink);
    let mut common = common(f, default_path.clone());
    common.name = name.to_string();
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
    let text = match raw.map(|t| substitute(&t, secrets)) {
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
    claims.path(f.errs, &common.path, &default_path, who);
    Template {
        common,
        content: text,
        file: file.unwrap_or_default(),
    }
}

/// The manifest a description means; its problems go to `errs`.
fn describe(
    desc: &Map,
    shown: &str,
    base: &Path,
    checks: FileChecks,
    errs: &mut Vec<String>,
) -> Manifest {
    let mut f = Fields {
        map: desc,
        at: format!("{shown}: top level"),
        errs,
    };
    let top = top_level(&mut f, shown, base);
    let secret_names: Vec<String> = top.secrets.iter().map(|(n, _)| n.to_string()).collect();
    let mut claims = Claims {
        shown,
        symlink: &top.symlink,
        mount: &top.mount,
        paths: BTreeMap::new(),
        credentials: BTreeMap::new(),
    };
    let at = |kind: &str, name: &str| format!("{shown}: {kind}.{name}");
    let mut secrets = Vec::new();
    for (name, m) in &top.secrets {
        let mut f = Fields {
            map: m,
            at: at("secrets", name),
            errs: &mut *f.errs,
        };
        secrets.push(secret(&mut f, name, &top, base, &mut claims));
    }
    if checks != FileChecks::None {
        sops_files_exist(&secrets, shown, f.errs);
    }
    let mut templates = Vec::new();
    for (name, m) in &top.templates {
        let mut f = Fields {
            map: m,
            at: at("templates", name),
            errs: &mut *f.errs,
        };
        templates.push(template(
            &mut f,
            name,
            &top,
            base,
            &secret_names,
            &mut claims,
        ));
    }
    let placeholder_by_secret_name = if templates.is_empty() {
        Vec::new()
    } else {
        secret_names
            .iter()
            .map(|n| (n.clone(), placeholder(n)))
            .collect()
    };
    Manifest {
        secrets,
        templates,
        placeholder_by_secret_name,
        secrets_mount_point: top.mount,
        symlink_path: top.symlink,
        keep_generations: top.keep,
        ssh_key_paths: Vec::new(),
        gnupg_home: String::new(),
        age_key_file: top.age_key_file.unwrap_or_default(),
        age_ssh_key_paths: top.age_ssh,
        use_tmpfs: top.use_tmpfs,
        user_mode: false,
        logging: top.logging,
    }
}

/// The module's `validateSopsFiles` check: every sops file exists (one message per file,
/// naming the secrets that use it).
fn sops_files_exist(secrets: &[Secret], shown: &str, errs: &mut Vec<String>) {
    let mut users: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for s in secrets.iter().filter(|s| !s.sops_file.is_empty()) {
        users
            .entry(&s.sops_file)
            .or_default()
            .push(format!("secrets.{}", s.common.name));
    }
    for (p, users) in users {
        if !Path::new(p).exists() {
            errs.push(format!(
                "{shown}: {}: sops file {p} does not exist; create it (`sealbox encrypt`), fix the path, or pass --no-check-files when the manifest is built on another machine",
                users.join(", ")
            ));
        }
    }
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
    let m = describe(&desc, shown, base, checks, &mut errs);
    if !errs.is_empty() {
        return Err(errs);
    }
    let out = contract::to_json(&m).map_err(|e| vec![format!("{shown}: {e}")])?;
    check_as_installed(&out, shown, checks)?;
    Ok(out)
}

/// The validation `sealbox-install` runs, on the JSON it will read.
fn check_as_installed(
    out: &str,
    shown: &str,
    checks: FileChecks,
) -> std::result::Result<(), Vec<String>> {
    let parsed = contract::from_json(out).map_err(|e| {
        vec![format!(
            "{shown}: the generated manifest does not parse: {e}"
        )]
    })?;
    let depth = if checks == FileChecks::SopsFile {
        Depth::SopsFile
    } else {
        Depth::Manifest
    };
    let checks = Checks {
        owners: Owners::Unresolved,
        depth,
        defer_unreadable: false,
    };
    contract::validate(&parsed, checks, &mut Files).map_err(|ps| {
        ps.iter()
            .map(|p| {
                let entry = p.message(|e| format!("{}s.{}", e.kind.name(), e.name));
                format!("{shown}: {entry}")
            })
            .collect::<Vec<_>>()
    })?;
    Ok(())
}

/// What validation asks of this machine: the sops files (`--check-sopsfile`) and
/// template files; owners are not resolved here (the manifest may be for another machine).
struct Files;

impl contract::Host for Files {
    fn user(&mut self, _: &str) -> std::result::Result<Option<u32>, String> {
        Ok(None)
    }

    fn group(&mut self, _: &str) -> std::result::Result<Option<u32>, String> {
        Ok(None)
    }

    fn template_text(&mut self, path: &str) -> std::result::Result<String, String> {
        sealbox_os::inputs::read_text(Path::new(path), sealbox_os::inputs::MAX_TEMPLATE_FILE)
            .map(|s| s.to_string())
            .map_err(|e| e.to_string())
    }

    fn sops_file(&mut self, file: &str) -> std::result::Result<Vec<u8>, String> {
        // (encrypted: no plaintext to wipe; at most 64 MiB, a regular file)
        sealbox_os::inputs::read(Path::new(file), sealbox_os::inputs::MAX_SOPS_FILE)
            .map(|mut b| std::mem::take(&mut *b))
            .map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
