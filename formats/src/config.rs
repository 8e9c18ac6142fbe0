//! `.sops.yaml`: creation rules and store settings, from the file's text.
//!
//! The text is parsed by the YAML store into a [`Document`]; [`Config::from_document`] reads
//! that tree, so it can be tested with hand-built trees. Finding the file (the search upward
//! from the current directory) and reading it are the CLI's (`cli/src/context.rs`): this
//! crate does no I/O.
//!
//! Timing of errors follows sops 3.11:
//! * **load time** (breaks every command that reads the config, like Go's YAML unmarshal
//!   errors): a field of the wrong type (`shamir_threshold: "2"`, `creation_rules: 3`, a
//!   rule that is not a map, a non-integer `indent`, …);
//! * **match time** ([`Config::rule_for`]): an invalid `path_regex` (only for the rules tried
//!   before a match), no matching rule, and — for the matched rule only — more than one
//!   selector or an empty recipient item in a list.
//! * **emit time**: bad indents (`stores.json.indent < -1`, `stores.yaml.indent < 0`) are
//!   kept as written and rejected by the emitters (exit 4), as sops does.

use crate::{Document, Error, ErrorKind, Map, Result, Value};
use regex::Regex;
use std::path::{Component, Path, PathBuf};

/// The config file name searched for.
pub const CONFIG_FILE_NAME: &str = ".sops.yaml";

/// A parsed `.sops.yaml`.
#[derive(Clone, Debug)]
pub struct Config {
    /// Where the config was read from (as given; made absolute when matching paths).
    pub path: PathBuf,
    /// The creation rules; `None` when the file has no (or a null) `creation_rules` key,
    /// which sops treats like having no config. `Some(vec![])` (`creation_rules: []`)
    /// matches nothing.
    pub creation_rules: Option<Vec<CreationRule>>,
    /// The `stores` settings.
    pub stores: StoresConfig,
}

/// `stores` settings, as written in the file (defaults when absent).
///
/// Values are kept raw: invalid ones fail only when output is written (exit 4), as in sops.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StoresConfig {
    /// `stores.yaml.indent`: default 4; 0 also means 4; negative is an error at emit time
    /// (see [`StoresConfig::yaml_indent_width`]).
    pub yaml_indent: i64,
    /// `stores.json.indent`: -1 tab (default), 0 no indentation, N spaces; < -1 rejected by
    /// the JSON emitter.
    pub json_indent: i32,
    /// `stores.json_binary.indent`: same rules, for encrypted binary files.
    pub json_binary_indent: i32,
}

impl Default for StoresConfig {
    fn default() -> Self {
        StoresConfig {
            yaml_indent: 4,
            json_indent: -1,
            json_binary_indent: -1,
        }
    }
}

impl StoresConfig {
    /// The YAML indent to use: 0 means 4; negative is an error ([`ErrorKind::Emit`],
    /// sops: `YAML Negative indentation not accepted`).
    pub fn yaml_indent_width(&self) -> Result<usize> {
        match self.yaml_indent {
            0 => Ok(4),
            n if n < 0 => Err(Error::new(
                ErrorKind::Emit,
                "negative YAML indentation is not accepted (stores.yaml.indent)",
            )),
            n => Ok(usize::try_from(n).unwrap_or(usize::MAX)),
        }
    }
}

/// One creation rule.
#[derive(Clone, Debug)]
pub struct CreationRule {
    /// Position of the rule in `creation_rules` (0-based).
    pub index: usize,
    /// `path_regex` as written; `None` or empty matches every file. Compiled by
    /// [`Config::rule_for`] (Rust `regex`, unanchored search like Go's RE2 `MatchString`).
    pub path_regex: Option<String>,
    /// The key groups: `key_groups` when non-empty, else one group made of the flat keys
    /// (`age`, `pgp`, …), else none.
    pub key_groups: Vec<KeyGroup>,
    /// `shamir_threshold` (0 = not set).
    pub shamir_threshold: usize,
    /// The one encryption selector set by the rule, if any.
    pub selector: Option<Selector>,
    /// `mac_only_encrypted`.
    pub mac_only_encrypted: bool,
    /// A problem reported only if this rule is the one selected (as sops does).
    problem: Option<Error>,
}

/// A key group of a creation rule.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KeyGroup {
    /// age recipients, trimmed, in file order (merged groups first).
    pub age: Vec<String>,
    /// Other key types as `(type, id)`: `pgp`, `kms`, `gcp_kms`, `azure_keyvault`,
    /// `hc_vault`, `hckms`. Kept so the caller can report "unsupported key type".
    pub other: Vec<(String, String)>,
}

impl KeyGroup {
    /// True when the group has no keys at all.
    pub fn is_empty(&self) -> bool {
        self.age.is_empty() && self.other.is_empty()
    }

    /// The keys of one type other than age (`pgp`, `hc_vault`, `kms`, `gcp_kms`,
    /// `azure_keyvault`, `hckms`) as the rule names them, in file order (`check` compares
    /// them with a file's metadata).
    pub fn keys_of<'a>(&'a self, ty: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.other
            .iter()
            .filter(move |(t, _)| t == ty)
            .map(|(_, id)| id.as_str())
    }
}

impl CreationRule {
    /// The problem sops reports when this rule is the one selected (two selectors, an empty
    /// item in a recipient list), if any; [`Config::rule_for`] returns it as its error.
    pub fn problem(&self) -> Option<&Error> {
        self.problem.as_ref()
    }
}

/// The creation rules with every `path_regex` compiled once, for callers that match many
/// files (`check`, `updatekeys`): compiling a crafted regex again for each of a thousand
/// files took most of a minute. Matching is [`Config::rule_for`]'s: the first rule whose
/// regex matches the path anywhere (or that has none) wins.
pub struct CompiledRules<'c> {
    rules: &'c [CreationRule],
    /// One per rule; `None` matches every path.
    regexes: Vec<Option<Regex>>,
}

impl<'c> CompiledRules<'c> {
    /// The first rule matching `rel`, a path relative to the directory the rules are for
    /// (`/`-separated, as [`Config::rule_for`] makes it). Its [`CreationRule::problem`] is
    /// the caller's to report.
    pub fn first_match(&self, rel: &str) -> Option<&'c CreationRule> {
        let rules: &'c [CreationRule] = self.rules;
        rules
            .iter()
            .zip(&self.regexes)
            .find(|(_, re)| re.as_ref().is_none_or(|re| re.is_match(rel)))
            .map(|(r, _)| r)
    }

    /// The rules, in order.
    pub fn rules(&self) -> &'c [CreationRule] {
        self.rules
    }
}

pub use crate::metadata::Selector;
use crate::metadata::SELECTOR_KEYS;

impl Config {
    /// A config with no creation rules and default store settings (no file found).
    pub fn empty() -> Config {
        Config {
            path: PathBuf::new(),
            creation_rules: None,
            stores: StoresConfig::default(),
        }
    }

    /// Parses the text of the config file at `path` (read by the caller, e.g. after
    /// checking who owns it). Errors are [`ErrorKind::InvalidConfig`] and name the file.
    pub fn from_text(path: &Path, text: &str) -> Result<Config> {
        let docs = parse_yaml(text).map_err(|e| {
            Error::new(
                ErrorKind::InvalidConfig,
                format!(
                    "error loading config: could not parse {}: {}",
                    path.display(),
                    e.message
                ),
            )
        })?;
        // Like yaml.Unmarshal: the first document counts; an empty file is an empty config.
        let empty = Map::new();
        let doc = docs.first().unwrap_or(&empty);
        Config::from_document(path.to_path_buf(), doc)
    }

    /// Reads an already-parsed config document. `path` is where it came from (used to make
    /// file paths relative and in messages).
    pub fn from_document(path: PathBuf, doc: &Document) -> Result<Config> {
        let reader = ConfigReader { path: &path };
        let creation_rules = match doc.get("creation_rules") {
            None | Some(Value::Null) => None,
            Some(Value::List(items)) => {
                let mut rules = Vec::new();
                for (index, item) in elements(items).enumerate() {
                    match item {
                        Value::Map(m) => rules.push(reader.rule(index, m)?),
                        Value::Null => rules.push(reader.rule(index, &Map::new())?),
                        other => {
                            return Err(reader.type_err(
                                &format!("creation rule {}", index + 1),
                                "a map",
                                other,
                            ))
                        }
                    }
                }
                Some(rules)
            }
            Some(other) => return Err(reader.type_err("creation_rules", "a list", other)),
        };
        let stores = reader.stores(doc.get("stores"))?;
        Ok(Config {
            path,
            creation_rules,
            stores,
        })
    }

    /// The creation rule for `file` (an absolute path, or relative to the current
    /// directory). `Ok(None)` when the config has no `creation_rules`.
    ///
    /// The path is made relative to the config file's directory when it lies under it;
    /// the first rule with no/empty `path_regex` or whose regex matches (unanchored) wins.
    pub fn rule_for(&self, file: &Path) -> Result<Option<&CreationRule>> {
        let Some(rules) = &self.creation_rules else {
            return Ok(None);
        };
        let file_s = absolute_clean(file).to_string_lossy().into_owned();
        let config_dir = absolute_clean(self.path.parent().unwrap_or(Path::new("")));
        let mut prefix = config_dir.to_string_lossy().into_owned();
        if !prefix.ends_with('/') {
            prefix.push('/');
        }
        let rel = file_s.strip_prefix(&prefix).unwrap_or(&file_s);
        for rule in rules {
            let matched = match rule.path_regex.as_deref() {
                None | Some("") => true,
                Some(re) => Regex::new(re)
                    .map_err(|e| {
                        Error::new(ErrorKind::InvalidConfig, format!(
                            "error loading config: invalid path_regex in creation rule {} of {}: {e}",
                            rule.index + 1,
                            self.path.display()
                        ))
                        .with_hint("path_regex uses RE2 syntax (Rust regex); fix or quote it")
                    })?
                    .is_match(rel),
            };
            if matched {
                if let Some(p) = &rule.problem {
                    return Err(p.clone());
                }
                return Ok(Some(rule));
            }
        }
        Err(Error::new(
            ErrorKind::NoMatchingRule,
            "error loading config: no matching creation rules found",
        )
        .with_hint(format!(
            "no path_regex in {} matches \"{rel}\"; add a rule for it (a rule without \
                     path_regex matches every file)",
            self.path.display()
        )))
    }
}

impl Config {
    /// Every rule's `path_regex` compiled ([`CompiledRules`]); `None` without
    /// `creation_rules`. Unlike [`Config::rule_for`] (which, as sops, compiles only the
    /// rules it tries), an invalid regex in any rule is an error here
    /// ([`ErrorKind::InvalidConfig`]): a gate must not depend on which files it meets first.
    pub fn compile_rules(&self) -> Result<Option<CompiledRules<'_>>> {
        let Some(rules) = &self.creation_rules else {
            return Ok(None);
        };
        let regexes = rules
            .iter()
            .map(|rule| match rule.path_regex.as_deref() {
                None | Some("") => Ok(None),
                Some(re) => Regex::new(re).map(Some).map_err(|e| {
                    Error::new(
                        ErrorKind::InvalidConfig,
                        format!(
                            "error loading config: invalid path_regex in creation rule {} of {}: {e}",
                            rule.index + 1,
                            self.path.display()
                        ),
                    )
                    .with_hint("path_regex uses RE2 syntax (Rust regex); fix or quote it")
                }),
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Some(CompiledRules { rules, regexes }))
    }
}

/// Parses the config text. Kept apart so the YAML store is the only dependency.
fn parse_yaml(text: &str) -> Result<Vec<Document>> {
    crate::store::yaml::parse(text)
}

/// Iterates over list elements, skipping comments.
fn elements(items: &[Value]) -> impl Iterator<Item = &Value> {
    items.iter().filter(|v| !matches!(v, Value::Comment(_)))
}

/// Reads a config tree, naming the config file in its messages.
struct ConfigReader<'a> {
    path: &'a Path,
}

impl ConfigReader<'_> {
    fn type_err(&self, what: &str, expected: &str, got: &Value) -> Error {
        Error::new(
            ErrorKind::InvalidConfig,
            format!(
                "error loading config: could not parse {}: {what} must be {expected}, not a {}",
                self.path.display(),
                got.kind()
            ),
        )
    }

    fn rule_err(&self, index: usize, msg: &str) -> Error {
        Error::new(
            ErrorKind::InvalidConfig,
            format!(
                "error loading config: creation rule {} of {}: {msg}",
                index + 1,
                self.path.display()
            ),
        )
    }

    /// A scalar read into a Go string field: strings, and other scalars as their text.
    fn string(&self, v: Option<&Value>, what: &str) -> Result<String> {
        Ok(match v {
            None | Some(Value::Null) => String::new(),
            Some(Value::Str(s)) => s.to_string(),
            Some(Value::Int(i)) => i.to_string(),
            Some(Value::Float(f)) => f.to_string(),
            Some(Value::Bool(b)) => b.to_string(),
            Some(Value::Time(t)) => t.clone(),
            Some(other) => return Err(self.type_err(what, "a string", other)),
        })
    }

    fn int(&self, v: Option<&Value>, what: &str) -> Result<Option<i64>> {
        match v {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Int(i)) => Ok(Some(*i)),
            Some(other) => Err(self.type_err(what, "an integer", other)),
        }
    }

    fn bool(&self, v: Option<&Value>, what: &str) -> Result<bool> {
        match v {
            None | Some(Value::Null) => Ok(false),
            Some(Value::Bool(b)) => Ok(*b),
            // yaml.v3 accepts YAML 1.1 booleans when decoding into a bool.
            Some(Value::Str(s)) => match s.as_str() {
                "y" | "Y" | "yes" | "Yes" | "YES" | "on" | "On" | "ON" => Ok(true),
                "n" | "N" | "no" | "No" | "NO" | "off" | "Off" | "OFF" => Ok(false),
                _ => Err(self.type_err(what, "a boolean", &Value::str(""))),
            },
            Some(other) => Err(self.type_err(what, "a boolean", other)),
        }
    }

    /// A list of strings (a single string counts as a one-element list, as does null as
    /// none).
    fn string_list(&self, v: Option<&Value>, what: &str) -> Result<Vec<String>> {
        match v {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::List(items)) => elements(items)
                .map(|i| self.string(Some(i), what))
                .collect(),
            Some(other) => Err(self.type_err(what, "a list of strings", other)),
        }
    }

    /// Flat keys (`age: "a, b"` or `age: [a, b]`). String form: items trimmed, empty items
    /// skipped. List form: each item comma-split and trimmed; an empty item is an error
    /// (sops: `unknown recipient type: ""`), recorded in `problems`.
    fn flat_keys(
        &self,
        v: Option<&Value>,
        what: &str,
        problems: &mut Vec<String>,
    ) -> Result<Vec<String>> {
        match v {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::List(_)) => {
                let items = self.string_list(v, what)?;
                Ok(split_items(&items, what, problems))
            }
            Some(other) => {
                let s = self.string(Some(other), what)?;
                Ok(s.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .collect())
            }
        }
    }

    fn rule(&self, index: usize, m: &Map) -> Result<CreationRule> {
        let what = |k: &str| format!("creation rule {} field {k}", index + 1);
        let path_regex = match m.get("path_regex") {
            None | Some(Value::Null) => None,
            v => Some(self.string(v, &what("path_regex"))?),
        };
        let mut problems = Vec::new();

        // Flat (single-group) keys, in sops' order: age, pgp, kms, gcp_kms, azure, vault.
        let mut flat = KeyGroup {
            age: self.flat_keys(m.get("age"), &what("age"), &mut problems)?,
            other: Vec::new(),
        };
        for (key, ty) in [
            ("pgp", "pgp"),
            ("kms", "kms"),
            ("gcp_kms", "gcp_kms"),
            ("azure_keyvault", "azure_keyvault"),
            ("hc_vault_transit_uri", "hc_vault"),
            ("hckms", "hckms"),
        ] {
            for id in self.flat_keys(m.get(key), &what(key), &mut problems)? {
                flat.other.push((ty.to_string(), id));
            }
        }

        let mut key_groups = Vec::new();
        match m.get("key_groups") {
            None | Some(Value::Null) => {}
            Some(Value::List(groups)) => {
                for (gi, g) in elements(groups).enumerate() {
                    let what = format!("creation rule {} key group {}", index + 1, gi + 1);
                    let mut group = KeyGroup::default();
                    self.group(g, &what, &mut group, &mut problems, 0)?;
                    key_groups.push(group);
                }
            }
            Some(other) => return Err(self.type_err(&what("key_groups"), "a list", other)),
        }
        if key_groups.is_empty() && !flat.is_empty() {
            key_groups.push(flat);
        }

        let shamir_threshold = match self
            .int(m.get("shamir_threshold"), &what("shamir_threshold"))?
        {
            None => 0,
            Some(n) if n >= 0 => usize::try_from(n).unwrap_or(usize::MAX),
            Some(_) => return Err(self.rule_err(index, "shamir_threshold must not be negative")),
        };

        let mut fields = Vec::with_capacity(6);
        for key in SELECTOR_KEYS {
            fields.push((key, self.string(m.get(key), &what(key))?));
        }
        let (selector, selector_problem) =
            match Selector::from_pairs(fields.iter().map(|(k, v)| (*k, v.as_str()))) {
                Ok(s) => (s, None),
                Err(e) => (
                    None,
                    Some(
                        Error::new(
                            ErrorKind::InvalidConfig,
                            format!(
                                "error loading config: creation rule {} of {}: {}",
                                index + 1,
                                self.path.display(),
                                e.message
                            ),
                        )
                        .with_hint("keep only one selector in the rule"),
                    ),
                ),
            };
        let mac_only_encrypted =
            self.bool(m.get("mac_only_encrypted"), &what("mac_only_encrypted"))?;

        let problem = selector_problem.or_else(|| {
            problems.first().map(|p| {
                self.rule_err(index, p)
                    .with_hint("remove the empty item (a stray comma?) from the recipient list")
            })
        });
        Ok(CreationRule {
            index,
            path_regex,
            key_groups,
            shamir_threshold,
            selector,
            mac_only_encrypted,
            problem,
        })
    }

    /// Reads a group object into `group`: `merge`d groups first (recursively), then age,
    /// pgp, kms, gcp_kms, azure_keyvault, hc_vault. Duplicates are dropped.
    fn group(
        &self,
        v: &Value,
        what: &str,
        group: &mut KeyGroup,
        problems: &mut Vec<String>,
        depth: usize,
    ) -> Result<()> {
        let m = match v {
            Value::Map(m) => m,
            Value::Null => return Ok(()),
            other => return Err(self.type_err(what, "a map", other)),
        };
        if depth > 64 {
            return Err(Error::new(
                ErrorKind::InvalidConfig,
                format!(
                    "error loading config: {what} of {}: merge nested too deeply",
                    self.path.display()
                ),
            ));
        }
        match m.get("merge") {
            None | Some(Value::Null) => {}
            Some(Value::List(items)) => {
                for item in elements(items) {
                    self.group(item, &format!("{what} merge"), group, problems, depth + 1)?;
                }
            }
            Some(other) => return Err(self.type_err(&format!("{what} merge"), "a list", other)),
        }
        let age_what = format!("{what} age");
        let age = self.string_list(m.get("age"), &age_what)?;
        for r in split_items(&age, &age_what, problems) {
            if !group.age.contains(&r) {
                group.age.push(r);
            }
        }
        let mut add = |ty: &str, id: String| {
            let entry = (ty.to_string(), id);
            if !group.other.contains(&entry) {
                group.other.push(entry);
            }
        };
        for id in self.string_list(m.get("pgp"), &format!("{what} pgp"))? {
            add("pgp", id.trim().to_string());
        }
        for (key, ty, fields) in [
            ("kms", "kms", &["arn"][..]),
            ("gcp_kms", "gcp_kms", &["resource_id"][..]),
            (
                "azure_keyvault",
                "azure_keyvault",
                &["vaultUrl", "key", "version"][..],
            ),
            ("hckms", "hckms", &["key_id"][..]),
        ] {
            let kw = format!("{what} {key}");
            match m.get(key) {
                None | Some(Value::Null) => {}
                Some(Value::List(items)) => {
                    for item in elements(items) {
                        let Value::Map(km) = item else {
                            return Err(self.type_err(&kw, "a list of maps", item));
                        };
                        let mut parts = Vec::new();
                        for f in fields {
                            parts.push(self.string(km.get(f), &format!("{kw} {f}"))?);
                        }
                        let id = if ty == "azure_keyvault" {
                            format!("{}/keys/{}/{}", parts[0], parts[1], parts[2])
                        } else {
                            parts.remove(0)
                        };
                        add(ty, id);
                    }
                }
                Some(other) => return Err(self.type_err(&kw, "a list", other)),
            }
        }
        for id in self.string_list(m.get("hc_vault"), &format!("{what} hc_vault"))? {
            add("hc_vault", id.trim().to_string());
        }
        Ok(())
    }

    fn stores(&self, v: Option<&Value>) -> Result<StoresConfig> {
        let mut s = StoresConfig::default();
        let m = match v {
            None | Some(Value::Null) => return Ok(s),
            Some(Value::Map(m)) => m,
            Some(other) => return Err(self.type_err("stores", "a map", other)),
        };
        let indent = |store: &str| -> Result<Option<i64>> {
            match m.get(store) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::Map(sm)) => {
                    self.int(sm.get("indent"), &format!("stores.{store}.indent"))
                }
                Some(other) => Err(self.type_err(&format!("stores.{store}"), "a map", other)),
            }
        };
        if let Some(n) = indent("yaml")? {
            s.yaml_indent = n;
        }
        let clamp = |n: i64| i32::try_from(n).unwrap_or(if n < 0 { i32::MIN } else { i32::MAX });
        if let Some(n) = indent("json")? {
            s.json_indent = clamp(n);
        }
        if let Some(n) = indent("json_binary")? {
            s.json_binary_indent = clamp(n);
        }
        Ok(s)
    }
}

/// Comma-splits each item and trims the parts; empty parts are recorded as problems.
fn split_items(items: &[String], what: &str, problems: &mut Vec<String>) -> Vec<String> {
    let mut out = Vec::new();
    for item in items {
        for part in item.split(',') {
            let part = part.trim();
            if part.is_empty() {
                problems.push(format!(
                    "{what}: empty recipient in a list (sops: unknown recipient type: \"\")"
                ));
            } else {
                out.push(part.to_string());
            }
        }
    }
    out
}

/// The absolute, lexically cleaned form of `p` (like Go's `filepath.Abs`). A relative path
/// is taken from the current directory (the only thing here that looks outside: callers
/// that pass absolute paths get a pure function).
pub fn absolute_clean(p: &Path) -> PathBuf {
    let p = if p.as_os_str().is_empty() {
        Path::new(".")
    } else {
        p
    };
    let abs = std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
    let mut out = PathBuf::new();
    for c in abs.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                // `/..` stays `/`.
                if out.parent().is_some() {
                    out.pop();
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const R1: &str = "age1qfxn8ltsunju9p829z05ehj6mwq9l5x2v3jck8z3vdvywezcxdnqdnzhld";
    const R2: &str = "age16cy4ymtdg0pte5d960puz95d22w8m6v445n2nkz099u64zuexy0qcluj7k";

    fn s(v: &str) -> Value {
        Value::str(v)
    }
    fn list(items: &[&str]) -> Value {
        Value::List(items.iter().map(|i| s(i)).collect())
    }
    fn map(pairs: Vec<(&str, Value)>) -> Map {
        let mut m = Map::new();
        for (k, v) in pairs {
            m.push(k, v);
        }
        m
    }
    fn config(rules: Vec<Map>) -> Config {
        let doc = map(vec![(
            "creation_rules",
            Value::List(rules.into_iter().map(Value::Map).collect()),
        )]);
        Config::from_document(PathBuf::from("/proj/.sops.yaml"), &doc).unwrap()
    }
    fn rule(c: &Config, file: &str) -> Result<Option<CreationRule>> {
        c.rule_for(Path::new(file)).map(|r| r.cloned())
    }

    #[test]
    fn no_creation_rules_means_none() {
        let c = Config::from_document("/p/.sops.yaml".into(), &Map::new()).unwrap();
        assert!(c.creation_rules.is_none());
        assert!(c.rule_for(Path::new("/x.yaml")).unwrap().is_none());
        assert_eq!(c.stores, StoresConfig::default());
        let doc = map(vec![("creation_rules", Value::Null), ("other", s("x"))]);
        let c = Config::from_document("/p/.sops.yaml".into(), &doc).unwrap();
        assert!(c.rule_for(Path::new("/x.yaml")).unwrap().is_none());
    }

    #[test]
    fn empty_rule_list_matches_nothing() {
        let c = config(vec![]);
        let e = rule(&c, "/proj/a.yaml").unwrap_err();
        assert_eq!(e.kind, ErrorKind::NoMatchingRule);
        assert_eq!(
            e.message,
            "error loading config: no matching creation rules found"
        );
        let hint = e.hint.unwrap();
        assert!(
            hint.contains("/proj/.sops.yaml") && hint.contains("\"a.yaml\""),
            "{hint}"
        );
    }

    #[test]
    fn first_matching_rule_wins_with_relative_paths() {
        let c = config(vec![
            map(vec![("path_regex", s("^sub/deep/")), ("age", s(R1))]),
            map(vec![("path_regex", s("\\.json$")), ("age", s(R2))]),
            map(vec![("age", s(&format!("{R1},{R2}")))]),
        ]);
        let r = rule(&c, "/proj/sub/deep/x.yaml").unwrap().unwrap();
        assert_eq!(r.index, 0);
        assert_eq!(r.key_groups[0].age, [R1]);
        // Unanchored search; relative to the config directory.
        assert_eq!(rule(&c, "/proj/a/b.json").unwrap().unwrap().index, 1);
        // Outside the config dir: the absolute path is matched ("^sub/deep/" fails).
        assert_eq!(
            rule(&c, "/other/sub/deep/x.yaml").unwrap().unwrap().index,
            2
        );
        // Lexical cleaning.
        assert_eq!(
            rule(&c, "/proj/x/../sub/./deep/y").unwrap().unwrap().index,
            0
        );
        // `/projects/..` is not under `/proj/`.
        assert_eq!(rule(&c, "/projsub/deep/x").unwrap().unwrap().index, 2);
    }

    #[test]
    fn no_match_is_an_error_and_empty_regex_matches_all() {
        let c = config(vec![map(vec![("path_regex", s("^only$"))])]);
        assert!(rule(&c, "/proj/a.yaml").is_err());
        let c = config(vec![
            map(vec![("path_regex", s("^only$"))]),
            map(vec![("path_regex", s(""))]),
        ]);
        assert_eq!(rule(&c, "/proj/a.yaml").unwrap().unwrap().index, 1);
        // A numeric path_regex is read as its text, as yaml.v3 does for string fields.
        let c = config(vec![map(vec![("path_regex", Value::Int(123))])]);
        assert_eq!(
            rule(&c, "/proj/a123")
                .unwrap()
                .unwrap()
                .path_regex
                .as_deref(),
            Some("123")
        );
    }

    #[test]
    fn invalid_regex_is_reported_when_reached() {
        let c = config(vec![
            map(vec![("path_regex", s("^a"))]),
            map(vec![("path_regex", s("["))]),
        ]);
        assert_eq!(rule(&c, "/proj/abc").unwrap().unwrap().index, 0);
        let e = rule(&c, "/proj/xyz").unwrap_err();
        assert!(e.message.contains("creation rule 2"), "{}", e.message);
        assert!(e.message.contains("/proj/.sops.yaml"), "{}", e.message);
    }

    #[test]
    fn age_string_and_list_forms() {
        let c = config(vec![map(vec![("age", s(&format!(" {R1} , ,{R2},")))])]);
        let r = rule(&c, "/proj/f").unwrap().unwrap();
        assert_eq!(r.key_groups.len(), 1);
        assert_eq!(r.key_groups[0].age, [R1, R2]);
        // Lists: items comma-split and trimmed; duplicates kept in the flat form.
        let c = config(vec![map(vec![(
            "age",
            list(&[&format!("{R1}, {R2}"), &format!("  {R1} ")]),
        )])]);
        let r = rule(&c, "/proj/f").unwrap().unwrap();
        assert_eq!(r.key_groups[0].age, [R1, R2, R1]);
        // An empty item in the list form fails when the rule is used.
        let c = config(vec![map(vec![("age", list(&[R1, ""]))])]);
        assert!(rule(&c, "/proj/f").is_err());
        // No keys at all: no groups.
        let c = config(vec![map(vec![])]);
        assert!(rule(&c, "/proj/f").unwrap().unwrap().key_groups.is_empty());
    }

    #[test]
    fn other_key_types_are_kept() {
        let c = config(vec![map(vec![
            ("age", s(R1)),
            ("pgp", s("FP1,FP2")),
            ("kms", list(&["arn:a"])),
            ("hc_vault_transit_uri", s("https://v/t/keys/k")),
        ])]);
        let g = &rule(&c, "/proj/f").unwrap().unwrap().key_groups[0];
        assert_eq!(g.age, [R1]);
        let other: Vec<(&str, &str)> = g
            .other
            .iter()
            .map(|(a, b)| (a.as_str(), b.as_str()))
            .collect();
        assert_eq!(
            other,
            [
                ("pgp", "FP1"),
                ("pgp", "FP2"),
                ("kms", "arn:a"),
                ("hc_vault", "https://v/t/keys/k")
            ]
        );
    }

    #[test]
    fn key_groups_merge_dedup_and_override_flat_keys() {
        let merged = map(vec![("age", list(&[R2])), ("pgp", list(&["FP"]))]);
        let g1 = map(vec![
            ("merge", Value::List(vec![Value::Map(merged)])),
            ("age", list(&[&format!("{R1}, {R2}"), R1])),
            (
                "kms",
                Value::List(vec![Value::Map(map(vec![
                    ("arn", s("arn:x")),
                    ("role", s("r")),
                ]))]),
            ),
            (
                "azure_keyvault",
                Value::List(vec![Value::Map(map(vec![
                    ("vaultUrl", s("https://v.vault.azure.net")),
                    ("key", s("k")),
                    ("version", s("1")),
                ]))]),
            ),
            ("hc_vault", list(&["https://vault/v1/transit/keys/k"])),
        ]);
        let g2 = map(vec![("age", list(&[R2]))]);
        let c = config(vec![map(vec![
            ("age", s("ignored-because-key-groups")),
            (
                "key_groups",
                Value::List(vec![Value::Map(g1), Value::Map(g2)]),
            ),
            ("shamir_threshold", Value::Int(2)),
        ])]);
        let r = rule(&c, "/proj/f").unwrap().unwrap();
        assert_eq!(r.shamir_threshold, 2);
        assert_eq!(r.key_groups.len(), 2);
        assert_eq!(r.key_groups[0].age, [R2, R1]);
        let other: Vec<(&str, &str)> = r.key_groups[0]
            .other
            .iter()
            .map(|(a, b)| (a.as_str(), b.as_str()))
            .collect();
        assert_eq!(
            other,
            [
                ("pgp", "FP"),
                ("kms", "arn:x"),
                ("azure_keyvault", "https://v.vault.azure.net/keys/k/1"),
                ("hc_vault", "https://vault/v1/transit/keys/k"),
            ]
        );
        assert_eq!(r.key_groups[1].age, [R2]);
        // Empty items inside a group are an error for that rule only.
        let bad = map(vec![("age", list(&[&format!("{R1},")]))]);
        let c = config(vec![
            map(vec![("path_regex", s("^ok")), ("age", s(R1))]),
            map(vec![("key_groups", Value::List(vec![Value::Map(bad)]))]),
        ]);
        assert!(rule(&c, "/proj/ok").is_ok());
        let e = rule(&c, "/proj/other").unwrap_err();
        assert!(e.message.contains("creation rule 2"), "{}", e.message);
    }

    #[test]
    fn selectors() {
        let c = config(vec![map(vec![
            ("encrypted_regex", s("^(data|stringData)$")),
            ("mac_only_encrypted", Value::Bool(true)),
        ])]);
        let r = rule(&c, "/proj/f").unwrap().unwrap();
        assert_eq!(
            r.selector,
            Some(Selector::EncryptedRegex("^(data|stringData)$".into()))
        );
        assert_eq!(r.selector.as_ref().unwrap().key(), "encrypted_regex");
        assert_eq!(r.selector.as_ref().unwrap().value(), "^(data|stringData)$");
        assert!(r.mac_only_encrypted);
        // Two selectors: an error when (and only when) the rule is used; sops exits 1.
        let c = config(vec![
            map(vec![
                ("path_regex", s("^a")),
                ("unencrypted_suffix", s("_u")),
            ]),
            map(vec![
                ("encrypted_suffix", s("_e")),
                ("unencrypted_regex", s("x")),
            ]),
        ]);
        assert_eq!(
            rule(&c, "/proj/a").unwrap().unwrap().selector,
            Some(Selector::UnencryptedSuffix("_u".into()))
        );
        let e = rule(&c, "/proj/b").unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidConfig);
        assert!(
            e.message.contains("encrypted_suffix, unencrypted_regex"),
            "{}",
            e.message
        );
        // yaml.v3-style booleans.
        let c = config(vec![map(vec![("mac_only_encrypted", s("yes"))])]);
        assert!(rule(&c, "/proj/f").unwrap().unwrap().mac_only_encrypted);
    }

    #[test]
    fn selector_from_pairs() {
        let none: [(&str, &str); 0] = [];
        assert_eq!(Selector::from_pairs(none).unwrap(), None);
        assert_eq!(
            Selector::from_pairs([("encrypted_comment_regex", "sops:enc")]).unwrap(),
            Some(Selector::EncryptedCommentRegex("sops:enc".into()))
        );
        let e = Selector::from_pairs([
            ("unencrypted_suffix", "_u"),
            ("unencrypted_comment_regex", "c"),
        ])
        .unwrap_err();
        assert_eq!(e.kind, ErrorKind::ConflictingOptions);
        for (i, k) in SELECTOR_KEYS.iter().enumerate() {
            let v = format!("v{i}");
            let sel = Selector::from_pairs([(*k, v.as_str())]).unwrap().unwrap();
            assert_eq!(sel.key(), *k);
            assert_eq!(sel.value(), v);
        }
    }

    #[test]
    fn type_errors_fail_at_load() {
        let p = PathBuf::from("/p/.sops.yaml");
        let bad = [
            map(vec![("creation_rules", s("x"))]),
            map(vec![("creation_rules", Value::List(vec![s("x")]))]),
            map(vec![(
                "creation_rules",
                Value::List(vec![Value::Map(map(vec![("shamir_threshold", s("2"))]))]),
            )]),
            map(vec![(
                "creation_rules",
                Value::List(vec![Value::Map(map(vec![("key_groups", s("x"))]))]),
            )]),
            map(vec![(
                "stores",
                Value::Map(map(vec![(
                    "json",
                    Value::Map(map(vec![("indent", s("3"))])),
                )])),
            )]),
        ];
        for doc in bad {
            let e = Config::from_document(p.clone(), &doc).unwrap_err();
            assert_eq!(e.kind, ErrorKind::InvalidConfig);
            assert!(e.message.contains("/p/.sops.yaml"), "{}", e.message);
        }
    }

    #[test]
    fn stores_settings() {
        let stores = map(vec![
            ("yaml", Value::Map(map(vec![("indent", Value::Int(2))]))),
            ("json", Value::Map(map(vec![("indent", Value::Int(0))]))),
            (
                "json_binary",
                Value::Map(map(vec![("indent", Value::Int(-2))])),
            ),
            ("dotenv", Value::Map(Map::new())),
        ]);
        let c = Config::from_document(
            "/p/.sops.yaml".into(),
            &map(vec![("stores", Value::Map(stores))]),
        )
        .unwrap();
        assert_eq!(
            c.stores,
            StoresConfig {
                yaml_indent: 2,
                json_indent: 0,
                json_binary_indent: -2
            }
        );
        assert_eq!(c.stores.yaml_indent_width().unwrap(), 2);
        let z = StoresConfig {
            yaml_indent: 0,
            ..StoresConfig::default()
        };
        assert_eq!(z.yaml_indent_width().unwrap(), 4);
        let n = StoresConfig {
            yaml_indent: -1,
            ..StoresConfig::default()
        };
        assert_eq!(n.yaml_indent_width().unwrap_err().kind, ErrorKind::Emit);
    }

    #[test]
    fn absolute_clean_is_lexical() {
        assert_eq!(
            absolute_clean(Path::new("/a/./b/../c")),
            PathBuf::from("/a/c")
        );
        assert_eq!(absolute_clean(Path::new("/..")), PathBuf::from("/"));
        assert!(absolute_clean(Path::new("rel")).is_absolute());
        let cwd = std::env::current_dir().unwrap();
        assert_eq!(absolute_clean(Path::new("")), absolute_clean(&cwd));
        // A config given by a bare relative name: its directory is the current one.
        let doc = map(vec![(
            "creation_rules",
            Value::List(vec![Value::Map(map(vec![("path_regex", s("^x/y$"))]))]),
        )]);
        let c = Config::from_document(PathBuf::from(".sops.yaml"), &doc).unwrap();
        assert!(c.rule_for(&cwd.join("x/y")).unwrap().is_some());
        assert!(c.rule_for(Path::new("x/y")).unwrap().is_some());
    }

    #[test]
    fn compiled_rules_match_as_rule_for_and_refuse_any_invalid_regex() {
        let c = config(vec![
            map(vec![("path_regex", s("^sub/deep/")), ("age", s(R1))]),
            map(vec![("path_regex", s("\\.json$")), ("pgp", s("AB CD,EF"))]),
            map(vec![("age", s(R2))]),
        ]);
        let compiled = c.compile_rules().unwrap().unwrap();
        for (rel, index) in [("sub/deep/x.yaml", 0), ("a/b.json", 1), ("a.yaml", 2)] {
            assert_eq!(compiled.first_match(rel).unwrap().index, index, "{rel}");
            let by_path = rule(&c, &format!("/proj/{rel}")).unwrap().unwrap();
            assert_eq!(by_path.index, index, "{rel}");
        }
        assert_eq!(compiled.rules().len(), 3);
        let pgp: Vec<&str> = compiled.rules()[1].key_groups[0].keys_of("pgp").collect();
        assert_eq!(pgp, ["AB CD", "EF"]);
        // A rule that is never reached still fails to compile (rule_for would not notice).
        let c = config(vec![
            map(vec![("age", s(R1))]),
            map(vec![("path_regex", s("(unclosed"))]),
        ]);
        assert!(rule(&c, "/proj/a").is_ok());
        let e = c.compile_rules().err().unwrap();
        assert_eq!(e.kind, ErrorKind::InvalidConfig);
        assert!(e.message.contains("creation rule 2"), "{}", e.message);
        assert!(config(vec![])
            .compile_rules()
            .unwrap()
            .unwrap()
            .first_match("a")
            .is_none());
        let none = Config::from_document("/p/.sops.yaml".into(), &Map::new()).unwrap();
        assert!(none.compile_rules().unwrap().is_none());
    }

    #[test]
    fn a_rule_problem_is_exposed_for_the_matched_rule() {
        let c = config(vec![map(vec![
            ("encrypted_regex", s("a")),
            ("unencrypted_regex", s("b")),
            ("age", s(R1)),
        ])]);
        let compiled = c.compile_rules().unwrap().unwrap();
        let p = compiled.first_match("x").unwrap().problem().unwrap();
        assert_eq!(p.kind, ErrorKind::InvalidConfig);
        assert_eq!(Some(p.clone()), rule(&c, "/proj/x").err());
    }
}
