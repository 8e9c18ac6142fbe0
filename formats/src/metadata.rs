//! The `sops` metadata block.
//!
//! Written in sops 3.11's struct order so that diffs against files written by the real
//! sops stay small; read in any order, ignoring unknown fields. Master keys are typed by
//! source ([`AgeKey`], [`PgpEntry`], [`VaultEntry`]); the `pgp` and `hc_vault` entries, and
//! those of sources sealbox cannot use (`kms`, `gcp_kms`, `azure_kv`, `hckms`, and any
//! list of a type sealbox does not know), are kept as read (fields and their order) so
//! that rewriting a file never drops or reorders another team's recipients. Turning an
//! entry into a usable key is the keys crate's work.
//!
//! Field names are matched as sops 3.12+ matches them (mapstructure): the exact name
//! first, else one that differs only in case (`MAC`, `LastModified`, `Recipient`). sops
//! 3.13 writes the fields sorted by name and leaves empty lists out; 3.11 reads YAML
//! names case-sensitively. Reading a known field under another case, we keep the
//! canonical name, so a rewritten file loads in 3.11 too (an entry field 3.11 cannot find,
//! such as a kms `created_at`, makes it refuse the whole file).

use crate::error::{Error, ErrorKind, Result};
use crate::tree::{Item, Map, Value};

/// Which leaves are encrypted (at most one selector per file; docs/format.md#selectors).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Selector {
    /// `unencrypted_suffix`
    UnencryptedSuffix(String),
    /// `encrypted_suffix`
    EncryptedSuffix(String),
    /// `unencrypted_regex`
    UnencryptedRegex(String),
    /// `encrypted_regex`
    EncryptedRegex(String),
    /// `unencrypted_comment_regex`
    UnencryptedCommentRegex(String),
    /// `encrypted_comment_regex`
    EncryptedCommentRegex(String),
}

/// The metadata keys of the selectors, in sops' order.
pub const SELECTOR_KEYS: [&str; 6] = [
    "unencrypted_suffix",
    "encrypted_suffix",
    "unencrypted_regex",
    "encrypted_regex",
    "unencrypted_comment_regex",
    "encrypted_comment_regex",
];

/// The default selector: `unencrypted_suffix: _unencrypted`.
pub const DEFAULT_UNENCRYPTED_SUFFIX: &str = "_unencrypted";

impl Default for Selector {
    fn default() -> Self {
        Selector::UnencryptedSuffix(DEFAULT_UNENCRYPTED_SUFFIX.to_string())
    }
}

impl Selector {
    /// Builds a selector from `(metadata key, value)` pairs; empty values are unset.
    /// More than one set is an error (exit 8); none gives `None`.
    pub fn from_pairs<'a>(
        pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Option<Self>> {
        let mut found: Option<Selector> = None;
        for (k, v) in pairs {
            if v.is_empty() {
                continue;
            }
            let s = match k {
                "unencrypted_suffix" => Selector::UnencryptedSuffix(v.to_string()),
                "encrypted_suffix" => Selector::EncryptedSuffix(v.to_string()),
                "unencrypted_regex" => Selector::UnencryptedRegex(v.to_string()),
                "encrypted_regex" => Selector::EncryptedRegex(v.to_string()),
                "unencrypted_comment_regex" => Selector::UnencryptedCommentRegex(v.to_string()),
                "encrypted_comment_regex" => Selector::EncryptedCommentRegex(v.to_string()),
                _ => continue,
            };
            if let Some(prev) = &found {
                return Err(Error::new(
                    ErrorKind::ConflictingOptions,
                    format!(
                        "cannot use both {} and {}: at most one of {} may be set",
                        prev.key(),
                        s.key(),
                        SELECTOR_KEYS.join(", ")
                    ),
                ));
            }
            found = Some(s);
        }
        Ok(found)
    }

    /// The metadata (and `.sops.yaml`) key.
    pub fn key(&self) -> &'static str {
        match self {
            Selector::UnencryptedSuffix(_) => SELECTOR_KEYS[0],
            Selector::EncryptedSuffix(_) => SELECTOR_KEYS[1],
            Selector::UnencryptedRegex(_) => SELECTOR_KEYS[2],
            Selector::EncryptedRegex(_) => SELECTOR_KEYS[3],
            Selector::UnencryptedCommentRegex(_) => SELECTOR_KEYS[4],
            Selector::EncryptedCommentRegex(_) => SELECTOR_KEYS[5],
        }
    }

    /// The suffix or regex.
    pub fn value(&self) -> &str {
        match self {
            Selector::UnencryptedSuffix(s)
            | Selector::EncryptedSuffix(s)
            | Selector::UnencryptedRegex(s)
            | Selector::EncryptedRegex(s)
            | Selector::UnencryptedCommentRegex(s)
            | Selector::EncryptedCommentRegex(s) => s,
        }
    }
}

/// An age master key: the recipient and the armored age file holding the data key (or a
/// Shamir share) for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AgeKey {
    /// The recipient string, verbatim (trimmed).
    pub recipient: String,
    /// The armored age file, with its final newline.
    pub enc: String,
}

/// The fields of a master-key entry exactly as read (a map, in file order), so that it is
/// written back unchanged. Built from `(key, value)` pairs when sealbox writes a new one.
#[derive(Clone, Debug, PartialEq)]
pub struct EntryFields(pub Value);

impl EntryFields {
    /// An entry of string fields, in the order given.
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        let mut m = Map::new();
        for (k, v) in pairs {
            m.push(k, Value::str(v));
        }
        EntryFields(Value::Map(m))
    }

    /// The text of field `k` (a timestamp the YAML store read as such included); None when
    /// missing, not text, or the entry is not a map.
    pub fn get(&self, k: &str) -> Option<&str> {
        match self.0.as_map()?.get(k)? {
            Value::Time(t) => Some(t),
            v => v.as_str(),
        }
    }

    /// Every text field as `(key, value)`, in file order.
    pub fn pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.as_map().into_iter().flat_map(|m| {
            m.pairs().filter_map(|(k, v)| match v {
                Value::Time(t) => Some((k, t.as_str())),
                v => v.as_str().map(|s| (k, s)),
            })
        })
    }
}

/// A `pgp` master key (`fp`, `created_at`, `enc`), as read.
#[derive(Clone, Debug, PartialEq)]
pub struct PgpEntry {
    /// The entry's fields.
    pub fields: EntryFields,
}

/// An `hc_vault` master key (`vault_address`, `engine_path`, `key_name`, `created_at`,
/// `enc`), as read.
#[derive(Clone, Debug, PartialEq)]
pub struct VaultEntry {
    /// The entry's fields.
    pub fields: EntryFields,
}

impl VaultEntry {
    /// The key's URI as sops shows it, `ADDR/v1/ENGINE/keys/NAME` (`(hc_vault key)` when
    /// a part is missing).
    pub fn uri(&self) -> String {
        match (
            self.fields.get("vault_address"),
            self.fields.get("engine_path"),
            self.fields.get("key_name"),
        ) {
            (Some(a), Some(e), Some(k)) => format!("{a}/v1/{e}/keys/{k}"),
            _ => "(hc_vault key)".into(),
        }
    }
}

/// One key group: everyone in it can recover the group's part of the data key.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct KeyGroup {
    /// age master keys.
    pub age: Vec<AgeKey>,
    /// `pgp` master keys.
    pub pgp: Vec<PgpEntry>,
    /// `hc_vault` master keys.
    pub hc_vault: Vec<VaultEntry>,
    /// Master keys of sources sealbox does not use (`kms`, `gcp_kms`, `hckms`,
    /// `azure_kv`), kept verbatim: `(type, entries)`, in sops' order.
    pub other: Vec<(String, Vec<Value>)>,
}

/// The sources kept verbatim in [`KeyGroup::other`], in sops 3.11's struct order.
const OTHER_TYPES: [&str; 4] = ["kms", "gcp_kms", "hckms", "azure_kv"];

impl KeyGroup {
    /// A group of age keys only.
    pub fn of_age(age: Vec<AgeKey>) -> Self {
        KeyGroup {
            age,
            ..KeyGroup::default()
        }
    }

    /// Whether the group has no key at all.
    pub fn is_empty(&self) -> bool {
        self.age.is_empty() && self.non_age_types().next().is_none()
    }

    fn other_list(&self, t: &str) -> Option<&Vec<Value>> {
        self.other.iter().find(|(k, _)| k == t).map(|(_, v)| v)
    }

    /// The type of each master key that is not age (`kms`, …, `hc_vault`, `pgp`, in that
    /// order), one item per key.
    pub fn non_age_types(&self) -> impl Iterator<Item = &str> {
        let other = self
            .other
            .iter()
            .flat_map(|(t, v)| v.iter().map(move |_| t.as_str()));
        other
            .chain(self.hc_vault.iter().map(|_| "hc_vault"))
            .chain(self.pgp.iter().map(|_| "pgp"))
    }

    /// The recipients of every key in the group, for messages (age recipients, the URI of
    /// each `hc_vault` key as sops shows it, PGP fingerprints, and the type of each other
    /// key).
    pub fn describe(&self) -> Vec<String> {
        let mut out: Vec<String> = self.age.iter().map(|k| k.recipient.clone()).collect();
        let mut vault = self.hc_vault.iter().map(VaultEntry::uri);
        let others = self.non_age_types().filter(|t| *t != "pgp");
        out.extend(others.map(|t| match t {
            "hc_vault" => vault.next().unwrap_or_default(),
            t => format!("({t} key)"),
        }));
        out.extend(self.pgp.iter().map(|e| match e.fields.get("fp") {
            Some(fp) => fp.to_string(),
            None => "(pgp key)".to_string(),
        }));
        out
    }
}

/// The whole `sops` block.
#[derive(Clone, Debug, PartialEq)]
pub struct Metadata {
    /// Key groups; one group is written in the flat form.
    pub key_groups: Vec<KeyGroup>,
    /// Groups needed to rebuild the data key (0 = all).
    pub shamir_threshold: usize,
    /// RFC 3339 time of the last re-encryption; the MAC's additional data.
    pub lastmodified: String,
    /// The encrypted MAC (`""` = none).
    pub mac: String,
    /// The selector in use (`None` when the file records none, e.g. binary files).
    pub selector: Option<Selector>,
    /// Whether only encrypted values are hashed.
    pub mac_only_encrypted: bool,
    /// Writer version.
    pub version: String,
}

/// The version sealbox writes: the sops version whose format it follows.
pub const WRITER_VERSION: &str = "3.11.0";

fn s(v: &str) -> Value {
    Value::str(v)
}

/// Whether two field names are the same but for case (Go's `strings.EqualFold`, which
/// mapstructure uses).
fn same_name(a: &str, b: &str) -> bool {
    a.chars()
        .flat_map(char::to_lowercase)
        .eq(b.chars().flat_map(char::to_lowercase))
}

/// The value of field `k` of `m`: the exact name, else the first that differs only in case
/// (as sops 3.12+ reads its metadata).
fn field<'a>(m: &'a Map, k: &str) -> Option<&'a Value> {
    m.get(k).or_else(|| {
        m.pairs()
            .find(|(name, _)| same_name(name, k))
            .map(|(_, v)| v)
    })
}

/// The fields sops knows in an entry of each key type it knows (3.13).
fn entry_fields(key_type: &str) -> &'static [&'static str] {
    match key_type {
        "pgp" => &["created_at", "enc", "fp"],
        "hc_vault" => &[
            "vault_address",
            "engine_path",
            "key_name",
            "created_at",
            "enc",
        ],
        "kms" => &["arn", "role", "context", "created_at", "enc", "aws_profile"],
        "gcp_kms" => &["resource_id", "created_at", "enc"],
        "azure_kv" => &["vault_url", "name", "version", "created_at", "enc"],
        "hckms" => &["key_id", "created_at", "enc"],
        _ => &[],
    }
}

/// An entry of a known key type as read, its field names put in sops' case (a field
/// already there under its own name keeps it); entries of unknown types are untouched.
fn canonical_entry(key_type: &str, e: &Value) -> Value {
    let (Value::Map(m), names) = (e, entry_fields(key_type)) else {
        return e.clone();
    };
    let mut out = Map::new();
    for item in &m.0 {
        match item {
            Item::Pair(k, v) => {
                let name = names
                    .iter()
                    .find(|n| same_name(k, n) && (k == *n || m.get(n).is_none()))
                    .map_or(k.as_str(), |n| *n);
                out.push(name, v.clone());
            }
            other => out.0.push(other.clone()),
        }
    }
    Value::Map(out)
}

/// Go's `strconv.ParseBool`, which sops 3.12+ applies to a text `mac_only_encrypted`.
fn go_bool(s: &str) -> bool {
    matches!(s, "1" | "t" | "T" | "TRUE" | "true" | "True")
}

/// How a key group is written: flat in the `sops` block (one group) or as an item of
/// `key_groups` (sops 3.11 writes every type there, even empty).
#[derive(Clone, Copy, PartialEq, Eq)]
enum GroupForm {
    Flat,
    InKeyGroups,
}

fn pgp_list(g: &KeyGroup) -> Value {
    Value::List(g.pgp.iter().map(|e| e.fields.0.clone()).collect())
}

fn group_to_map(g: &KeyGroup, form: GroupForm) -> Vec<Item> {
    let in_key_groups = form == GroupForm::InKeyGroups;
    let mut items = Vec::new();
    // 3.11 group order: pgp, kms, gcp_kms, hckms, azure_kv, then hc_vault and age always.
    // Flat order: kms, gcp_kms, hckms, azure_kv, hc_vault, age, (lastmodified, mac), pgp.
    if in_key_groups && !g.pgp.is_empty() {
        items.push(Item::Pair("pgp".into(), pgp_list(g)));
    }
    for t in OTHER_TYPES {
        if let Some(v) = g.other_list(t) {
            if !v.is_empty() {
                items.push(Item::Pair(t.to_string(), Value::List(v.clone())));
            }
        }
    }
    // Any type we do not know goes here, verbatim.
    for (t, v) in &g.other {
        if !OTHER_TYPES.contains(&t.as_str()) && !v.is_empty() {
            items.push(Item::Pair(t.clone(), Value::List(v.clone())));
        }
    }
    if in_key_groups || !g.hc_vault.is_empty() {
        let vault = g.hc_vault.iter().map(|e| e.fields.0.clone()).collect();
        items.push(Item::Pair("hc_vault".into(), Value::List(vault)));
    }
    if in_key_groups || !g.age.is_empty() {
        let list = g
            .age
            .iter()
            .map(|k| {
                let mut m = Map::new();
                m.push("recipient", s(&k.recipient));
                m.push("enc", s(&k.enc));
                Value::Map(m)
            })
            .collect();
        items.push(Item::Pair("age".into(), Value::List(list)));
    }
    items
}

impl Metadata {
    /// The metadata as a tree, in sops 3.11's field order.
    pub fn to_value(&self) -> Value {
        let mut m = Map::new();
        if self.key_groups.len() == 1 {
            m.0.extend(group_to_map(&self.key_groups[0], GroupForm::Flat));
        } else {
            if self.shamir_threshold > 0 {
                m.push("shamir_threshold", Value::Int(self.shamir_threshold as i64));
            }
            let groups = self
                .key_groups
                .iter()
                .map(|g| Value::Map(Map(group_to_map(g, GroupForm::InKeyGroups))))
                .collect();
            m.push("key_groups", Value::List(groups));
        }
        m.push("lastmodified", s(&self.lastmodified));
        m.push("mac", s(&self.mac));
        if self.key_groups.len() == 1 && !self.key_groups[0].pgp.is_empty() {
            m.push("pgp", pgp_list(&self.key_groups[0]));
        }
        if let Some(sel) = &self.selector {
            m.push(sel.key(), s(sel.value()));
        }
        if self.mac_only_encrypted {
            m.push("mac_only_encrypted", Value::Bool(true));
        }
        m.push("version", s(&self.version));
        Value::Map(m)
    }

    /// Reads the metadata from its tree. `what` names the file for messages.
    pub fn from_value(v: &Value, what: &str) -> Result<Metadata> {
        let bad = |msg: String| {
            Error::new(
                ErrorKind::InvalidMetadata,
                format!("{what}: invalid sops metadata: {msg}"),
            )
            .with_hint(
                "the `sops` block was edited by hand or damaged; restore it from version control",
            )
        };
        let m = v
            .as_map()
            .ok_or_else(|| bad("the `sops` key is not a map".into()))?;
        let get_str = |k: &str| -> Result<Option<String>> {
            match field(m, k) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::Str(s)) => Ok(Some(s.to_string())),
                // yaml may read an unquoted lastmodified as a timestamp
                Some(Value::Time(t)) if k == "lastmodified" => Ok(Some(t.clone())),
                Some(other) => Err(bad(format!(
                    "`{k}` is a {}, expected a string",
                    other.kind()
                ))),
            }
        };
        let mut flat = read_group(m, &bad)?;
        let key_groups = if !flat.is_empty() {
            flat.other.extend(unknown_types(m));
            vec![flat]
        } else {
            match field(m, "key_groups") {
                None | Some(Value::Null) => Vec::new(),
                Some(Value::List(gs)) => {
                    let mut out = Vec::new();
                    for (i, g) in gs.iter().enumerate() {
                        let gm = g
                            .as_map()
                            .ok_or_else(|| bad(format!("key_groups[{i}] is not a map")))?;
                        let mut g = read_group(gm, &bad)?;
                        g.other.extend(unknown_types(gm));
                        out.push(g);
                    }
                    out
                }
                Some(other) => return Err(bad(format!("`key_groups` is a {}", other.kind()))),
            }
        };
        if key_groups.is_empty() {
            return Err(bad("no keys found in file".into())
                .with_hint("the file lists no recipients; it cannot be decrypted"));
        }
        let shamir_threshold = match field(m, "shamir_threshold") {
            None | Some(Value::Null) => 0,
            Some(Value::Int(i)) if *i >= 0 => *i as usize,
            Some(Value::Float(f)) if *f >= 0.0 && f.fract() == 0.0 => *f as usize,
            Some(Value::Str(s)) => s
                .parse::<f64>()
                .ok()
                .filter(|f| *f >= 0.0 && f.fract() == 0.0)
                .map(|f| f as usize)
                .ok_or_else(|| bad("`shamir_threshold` is not a whole number".into()))?,
            Some(_) => return Err(bad("`shamir_threshold` is not a whole number".into())),
        };
        let lastmodified = get_str("lastmodified")?.unwrap_or_default();
        let mac = get_str("mac")?.unwrap_or_default();
        let version = match field(m, "version") {
            Some(Value::Float(_)) | Some(Value::Int(_)) => return Err(bad(
                "`version` is a number; this looks like a sops 1.x file, which is not supported"
                    .into(),
            )),
            _ => get_str("version")?.unwrap_or_default(),
        };
        let mut sel_pairs = Vec::new();
        for k in SELECTOR_KEYS {
            if let Some(v) = get_str(k)? {
                sel_pairs.push((k, v));
            }
        }
        let selector = Selector::from_pairs(sel_pairs.iter().map(|(k, v)| (*k, v.as_str())))
            .map_err(|e| bad(e.message))?;
        let mac_only_encrypted = match field(m, "mac_only_encrypted") {
            Some(Value::Bool(b)) => *b,
            Some(Value::Str(s)) => go_bool(s),
            Some(Value::Int(i)) => *i != 0,
            _ => false,
        };
        Ok(Metadata {
            key_groups,
            shamir_threshold,
            lastmodified,
            mac,
            selector,
            mac_only_encrypted,
            version,
        })
    }

    /// The selector that governs the file: the recorded one, else the default suffix.
    pub fn effective_selector(&self) -> Selector {
        self.selector.clone().unwrap_or_default()
    }

    /// Every age recipient of the file, across groups.
    pub fn age_recipients(&self) -> Vec<&str> {
        self.key_groups
            .iter()
            .flat_map(|g| g.age.iter().map(|k| k.recipient.as_str()))
            .collect()
    }
}

const KEY_TYPES: [&str; 7] = [
    "kms", "gcp_kms", "hckms", "azure_kv", "hc_vault", "pgp", "age",
];

/// The fields of the `sops` block that are neither key types nor selectors (sops 3.13's
/// struct; the selectors are [`SELECTOR_KEYS`]).
const FIELDS: [&str; 6] = [
    "shamir_threshold",
    "key_groups",
    "lastmodified",
    "mac",
    "mac_only_encrypted",
    "version",
];

/// Lists of maps under names that are neither a known key type nor a known field: the
/// entries of a key source newer than sealbox, kept verbatim (sops itself drops them).
fn unknown_types(m: &Map) -> Vec<(String, Vec<Value>)> {
    m.pairs()
        .filter(|(k, _)| {
            !KEY_TYPES
                .iter()
                .chain(FIELDS.iter())
                .chain(SELECTOR_KEYS.iter())
                .any(|n| same_name(k, n))
        })
        .filter_map(|(k, v)| match v {
            Value::List(l) if !l.is_empty() && l.iter().all(|e| e.as_map().is_some()) => {
                Some((k.to_string(), l.clone()))
            }
            _ => None,
        })
        .collect()
}

fn read_group(m: &Map, bad: &dyn Fn(String) -> Error) -> Result<KeyGroup> {
    let mut g = KeyGroup::default();
    for t in KEY_TYPES {
        let entries = match field(m, t) {
            None | Some(Value::Null) => continue,
            Some(Value::List(l)) => l,
            Some(other) => {
                return Err(bad(format!("`{t}` is a {}, expected a list", other.kind())))
            }
        };
        if t == "age" {
            for (i, e) in entries.iter().enumerate() {
                let em = e
                    .as_map()
                    .ok_or_else(|| bad(format!("age[{i}] is not a map")))?;
                // A missing field is empty, as in sops (found by the tamper sweep: sops
                // decrypts a file whose `recipient` key is damaged, since only `enc` is
                // needed; a missing `enc` then fails as "no identity could decrypt").
                let field = |k: &str| match field(em, k) {
                    Some(Value::Str(s)) => Ok(s.to_string()),
                    None | Some(Value::Null) => Ok(String::new()),
                    _ => Err(bad(format!("age[{i}] has no string `{k}`"))),
                };
                g.age.push(AgeKey {
                    recipient: field("recipient")?.trim().to_string(),
                    enc: field("enc")?,
                });
            }
        } else if t == "pgp" {
            g.pgp.extend(entries.iter().map(|e| PgpEntry {
                fields: EntryFields(canonical_entry(t, e)),
            }));
        } else if t == "hc_vault" {
            g.hc_vault.extend(entries.iter().map(|e| VaultEntry {
                fields: EntryFields(canonical_entry(t, e)),
            }));
        } else if !entries.is_empty() {
            let entries = entries.iter().map(|e| canonical_entry(t, e)).collect();
            g.other.push((t.to_string(), entries));
        }
    }
    Ok(g)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn md(groups: Vec<KeyGroup>) -> Metadata {
        Metadata {
            key_groups: groups,
            shamir_threshold: 0,
            lastmodified: "2024-01-01T00:00:00Z".into(),
            mac: "ENC[x]".into(),
            selector: Some(Selector::default()),
            mac_only_encrypted: false,
            version: WRITER_VERSION.into(),
        }
    }

    fn keys(v: &Value) -> Vec<String> {
        v.as_map()
            .unwrap()
            .pairs()
            .map(|(k, _)| k.to_string())
            .collect()
    }

    #[test]
    fn single_group_is_flat_in_311_order() {
        let g = KeyGroup {
            age: vec![AgeKey {
                recipient: "age1x".into(),
                enc: "E\n".into(),
            }],
            pgp: vec![PgpEntry {
                fields: EntryFields(Value::str("p")),
            }],
            ..KeyGroup::default()
        };
        let v = md(vec![g]).to_value();
        assert_eq!(
            keys(&v),
            [
                "age",
                "lastmodified",
                "mac",
                "pgp",
                "unencrypted_suffix",
                "version"
            ]
        );
        let back = Metadata::from_value(&v, "f").unwrap();
        assert_eq!(back, md(back.key_groups.clone()));
        assert_eq!(back.key_groups[0].age[0].recipient, "age1x");
        assert_eq!(back.key_groups[0].non_age_types().next(), Some("pgp"));
    }

    #[test]
    fn several_groups_use_key_groups() {
        let g = |r: &str| KeyGroup {
            age: vec![AgeKey {
                recipient: r.into(),
                enc: "E\n".into(),
            }],
            ..KeyGroup::default()
        };
        let mut m = md(vec![g("a"), g("b")]);
        m.shamir_threshold = 2;
        let v = m.to_value();
        assert_eq!(
            keys(&v),
            [
                "shamir_threshold",
                "key_groups",
                "lastmodified",
                "mac",
                "unencrypted_suffix",
                "version"
            ]
        );
        let groups = v.as_map().unwrap().get("key_groups").unwrap();
        let Value::List(gs) = groups else { panic!() };
        assert_eq!(keys(&gs[0]), ["hc_vault", "age"]);
        assert_eq!(Metadata::from_value(&v, "f").unwrap(), m);
    }

    #[test]
    fn errors_name_the_problem() {
        let mut m = Map::new();
        m.push("lastmodified", Value::str("x"));
        let e = Metadata::from_value(&Value::Map(m.clone()), "f.yaml").unwrap_err();
        assert!(e.message.contains("no keys"), "{}", e.message);
        m.push("unencrypted_suffix", Value::str("_u"));
        m.push("encrypted_regex", Value::str("x"));
        let mut age = Map::new();
        age.push("recipient", Value::str("r"));
        age.push("enc", Value::str("e"));
        m.push("age", Value::List(vec![Value::Map(age)]));
        let e = Metadata::from_value(&Value::Map(m), "f.yaml").unwrap_err();
        assert!(e.message.contains("at most one"), "{}", e.message);
    }

    #[test]
    fn pgp_vault_and_unknown_sources_round_trip_exactly_in_both_forms() {
        // Fields in an order sops would not write, a timestamp, an extra field, and sources
        // sealbox cannot use: all must come back as read.
        let text = "a: ENC[x]\nsops:\n    kms:\n        - arn: arn:aws:kms:x\n          enc: K\n          created_at: \"2024-01-01T00:00:00Z\"\n    hc_vault:\n        - vault_address: http://v\n          enc: vault:v1:x\n          engine_path: sops\n          key_name: k\n          created_at: 2024-01-01T00:00:00Z\n    age:\n        - recipient: age1x\n          enc: E\n    lastmodified: \"2024-01-01T00:00:00Z\"\n    mac: ENC[m]\n    pgp:\n        - fp: ABCD\n          enc: P\n          created_at: \"2024-01-01T00:00:00Z\"\n          extra: kept\n    unencrypted_suffix: _unencrypted\n    version: 3.11.0\n";
        let docs = crate::store::yaml::parse(text).unwrap();
        let meta = docs[0].get("sops").unwrap();
        let md = Metadata::from_value(meta, "f").unwrap();
        let g = &md.key_groups[0];
        assert_eq!(g.pgp.len(), 1);
        assert_eq!(g.pgp[0].fields.get("fp"), Some("ABCD"));
        assert_eq!(
            g.pgp[0].fields.pairs().map(|(k, _)| k).collect::<Vec<_>>(),
            ["fp", "enc", "created_at", "extra"]
        );
        assert_eq!(
            g.hc_vault[0].fields.get("created_at"),
            Some("2024-01-01T00:00:00Z")
        );
        assert_eq!(g.other[0].0, "kms");
        assert_eq!(
            g.describe(),
            ["age1x", "(kms key)", "http://v/v1/sops/keys/k", "ABCD"]
        );
        assert_eq!(&md.to_value(), meta, "flat form written back as read");
        // The same group inside key_groups, next to another.
        let mut two = md.clone();
        two.key_groups.push(KeyGroup::of_age(vec![AgeKey {
            recipient: "age1y".into(),
            enc: "F".into(),
        }]));
        let v = two.to_value();
        let Some(Value::List(gs)) = v.as_map().unwrap().get("key_groups") else {
            panic!("no key_groups")
        };
        assert_eq!(keys(&gs[0]), ["pgp", "kms", "hc_vault", "age"]);
        assert_eq!(Metadata::from_value(&v, "f").unwrap(), two);
    }
}
