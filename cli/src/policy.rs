//! Recipient policy: who a new file is encrypted for (the creation plan: flags over the
//! creation rule), how a file's key groups compare with its rule (shared by `updatekeys`,
//! which rewrites them, and `check`, which reports them), and the one reading of a Shamir
//! threshold.

use crate::KeyArgs;
use sealbox_formats::cipher::DataKey;
use sealbox_formats::config::{Config, CreationRule};
use sealbox_formats::metadata::{KeyGroup, Metadata, Selector, WRITER_VERSION};
use sealbox_formats::sops::{self, Selection};
use sealbox_formats::store::Format;
use sealbox_formats::{timefmt, Document, Error, ErrorKind, Result};
use sealbox_keys::{age, hcvault, pgp, KeyServices, Recipient, Source};

/// The threshold in force for `groups` groups recorded as `t` (0 = all groups; one group:
/// 0, no Shamir).
pub fn effective_threshold(t: usize, groups: usize) -> usize {
    if groups <= 1 {
        0
    } else if t == 0 {
        groups
    } else {
        t.min(groups)
    }
}

/// Age recipients as the command line gives them (`--age`, `--add-age`, comma-separated).
pub fn age_recipients(list: &str) -> Result<Vec<Recipient>> {
    Ok(age::parse_recipient_list(list)?
        .into_iter()
        .map(Recipient::Age)
        .collect())
}

/// PGP recipients as the command line gives them (`--pgp`, `SOPS_PGP_FP`, `--add-pgp`:
/// comma-separated fingerprints, spaces removed, as sops splits them).
pub fn pgp_recipients(list: &str) -> Vec<Recipient> {
    pgp::fingerprints_from_list(list)
        .into_iter()
        .filter(|fp| !fp.is_empty())
        .map(Recipient::Pgp)
        .collect()
}

/// Vault transit keys as the command line gives them (`--hc-vault-transit`,
/// `SOPS_VAULT_URIS`, `--add-hc-vault-transit`: comma-separated URIs, as sops).
pub fn vault_recipients(list: &str) -> Result<Vec<Recipient>> {
    hcvault::parse_transit_uris(list)
        .map(|ks| ks.into_iter().map(Recipient::HcVault).collect())
        .map_err(|e| Error::new(ErrorKind::InvalidKey, e.to_string()))
}

/// A recipient of a creation rule's key type `ty` other than age (see
/// `formats::config::KeyGroup::other`); `None` for the types sealbox cannot wrap a data key
/// for.
fn rule_recipient(ty: &str, id: &str) -> Option<Result<Recipient>> {
    match ty {
        "pgp" => Some(Recipient::parse(Source::Pgp, id)),
        "hc_vault" => Some(
            hcvault::parse_transit_uri(id)
                .map(Recipient::HcVault)
                .map_err(|e| Error::new(ErrorKind::InvalidConfig, e.to_string())),
        ),
        _ => None,
    }
}

/// The first key type of a creation-rule group that sealbox cannot wrap a data key for.
fn unsupported_rule_kind(g: &sealbox_formats::config::KeyGroup) -> Option<&str> {
    g.other
        .iter()
        .find(|(ty, id)| rule_recipient(ty, id).is_none())
        .map(|(ty, _)| ty.as_str())
}

/// The key types of a file's group that sealbox does not manage (kept verbatim, never
/// wrapped for): one item per key.
fn unmanaged_types(g: &KeyGroup) -> impl Iterator<Item = &str> {
    g.non_age_types()
        .filter(|t| *t != "pgp" && *t != "hc_vault")
}

/// The recipients of one creation-rule group, parsed (age first, then the other types in
/// the rule's order); `i` names the group in errors.
fn rule_group(g: &sealbox_formats::config::KeyGroup, i: usize) -> Result<Vec<Recipient>> {
    let age = g
        .age
        .iter()
        .map(|r| age::Recipient::parse(r).map(Recipient::Age));
    let other = g.other.iter().filter_map(|(ty, id)| rule_recipient(ty, id));
    age.chain(other)
        .collect::<Result<Vec<_>>>()
        .map_err(|e| e.context(format!("key group {i}")))
}

/// The recipients of a file's existing groups, so the data key can be wrapped again: age
/// recipients, PGP fingerprints and Vault transit keys as the file records them.
pub fn recipients_of(groups: &[KeyGroup], what: &str) -> Result<Vec<Vec<Recipient>>> {
    groups
        .iter()
        .map(|g| {
            if let Some(kind) = unmanaged_types(g).next() {
                return Err(Error::new(ErrorKind::Other, format!(
                    "{what}: the file also has {kind} keys, which sealbox cannot wrap a data key for"
                ))
                .with_hint("use sops for this file, or remove those keys first"));
            }
            let age = g
                .age
                .iter()
                .map(|k| age::Recipient::parse(&k.recipient).map(Recipient::Age));
            let pgp = g.pgp.iter().map(|e| {
                e.fields
                    .get("fp")
                    .map(|fp| Recipient::Pgp(fp.to_string()))
                    .ok_or_else(|| {
                        Error::new(
                            ErrorKind::InvalidMetadata,
                            format!("{what}: a pgp key entry has no `fp`"),
                        )
                    })
            });
            let vault = g.hc_vault.iter().map(|e| {
                hcvault::VaultKey::from_fields(|k| e.fields.get(k), what)
                    .map(|vk| Recipient::HcVault(vk.key))
                    .map_err(|e| Error::new(ErrorKind::InvalidMetadata, e.to_string()))
            });
            age.chain(pgp).chain(vault).collect()
        })
        .collect()
}

/// How a new file is encrypted: from the flags, else from the creation rule.
pub struct CreationPlan {
    groups: Vec<Vec<Recipient>>,
    threshold: usize,
    selector: Option<Selector>,
    mac_only: bool,
    binary: bool,
}

impl CreationPlan {
    /// The plan for a file of `format` under `rule` (of `cfg`) with the flags `a`.
    pub fn new(
        cfg: Option<&Config>,
        rule: Option<&CreationRule>,
        a: &KeyArgs,
        format: Format,
    ) -> Result<Self> {
        let (groups, rule_threshold) = Self::recipients(cfg, rule, a)?;
        let flag = |v: &Option<String>| v.as_deref().unwrap_or("").to_string();
        let pairs = [
            ("unencrypted_suffix", flag(&a.unencrypted_suffix)),
            ("encrypted_suffix", flag(&a.encrypted_suffix)),
            ("unencrypted_regex", flag(&a.unencrypted_regex)),
            ("encrypted_regex", flag(&a.encrypted_regex)),
            (
                "unencrypted_comment_regex",
                flag(&a.unencrypted_comment_regex),
            ),
            ("encrypted_comment_regex", flag(&a.encrypted_comment_regex)),
        ];
        let flag_selector = Selector::from_pairs(pairs.iter().map(|(k, v)| (*k, v.as_str())))?;
        let mut selector = flag_selector.or_else(|| rule.and_then(|r| r.selector.clone()));
        let mut mac_only = a.mac_only_encrypted || rule.is_some_and(|r| r.mac_only_encrypted);
        let binary = format == Format::Binary;
        if binary {
            if selector.is_some() || mac_only {
                tracing::warn!("encryption selection options are ignored for binary files");
            }
            selector = None;
            mac_only = false;
        }
        Ok(CreationPlan {
            groups,
            threshold: a.shamir_threshold.unwrap_or(rule_threshold),
            selector,
            mac_only,
            binary,
        })
    }

    /// The key groups and the rule's threshold: flags win over the creation rule.
    fn recipients(
        cfg: Option<&Config>,
        rule: Option<&CreationRule>,
        a: &KeyArgs,
    ) -> Result<(Vec<Vec<Recipient>>, usize)> {
        // As sops: any key flag replaces the creation rule, and all of them make one group.
        let age_flag = a.age.as_deref().filter(|s| !s.is_empty());
        let pgp_flag = a.pgp.as_deref().filter(|s| !s.is_empty());
        let vault_flag = a.hc_vault_transit.as_deref().filter(|s| !s.is_empty());
        if age_flag.is_some() || pgp_flag.is_some() || vault_flag.is_some() {
            let mut group = pgp_flag.map(pgp_recipients).unwrap_or_default();
            if let Some(list) = age_flag {
                group.extend(age_recipients(list)?);
            }
            if let Some(list) = vault_flag {
                group.extend(vault_recipients(list)?);
            }
            return Ok((vec![group], 0));
        }
        let Some(rule) = rule else {
            return Err(Error::new(ErrorKind::Other,
                "config file not found, or has no creation rules, and no keys provided through command line options",
            )
            .with_hint("pass --age RECIPIENT (see `sealbox keygen`) or --pgp FINGERPRINT, or add a creation rule to .sops.yaml"));
        };
        let mut groups = Vec::new();
        for (i, g) in rule.key_groups.iter().enumerate() {
            if let Some(kind) = unsupported_rule_kind(g) {
                return Err(Error::new(
                    ErrorKind::Other,
                    format!(
                        "creation rule in {} uses {kind} keys, which sealbox does not support yet",
                        cfg.map(|c| c.path.display().to_string())
                            .unwrap_or_default()
                    ),
                )
                .with_hint("use age, SSH, PGP or Vault transit recipients"));
            }
            groups.push(rule_group(g, i)?);
        }
        Ok((groups, rule.shamir_threshold))
    }

    /// Encrypts `docs` in place under `key` and returns the metadata.
    pub fn encrypt(
        &self,
        docs: &mut [Document],
        key: &DataKey,
        keys: &KeyServices,
    ) -> Result<Metadata> {
        let key_groups = sealbox_keys::wrap(key, &self.groups, self.threshold, keys)?;
        let lastmodified = timefmt::now_rfc3339();
        let selector = self.selector.clone().unwrap_or_default();
        let sel = Selection::new(Some(&selector), self.mac_only)?;
        let mac = sops::encrypt_tree(docs, key, &sel, &lastmodified)?;
        Ok(Metadata {
            shamir_threshold: effective_threshold(self.threshold, key_groups.len()),
            key_groups,
            lastmodified,
            mac,
            // The binary store records no selector (sops writes none either).
            selector: (!self.binary).then_some(selector),
            mac_only_encrypted: self.mac_only,
            version: WRITER_VERSION.to_string(),
        })
    }
}

/// One master key as `check` and `updatekeys` compare them: its source as the metadata
/// names it (`age`, `pgp`, `hc_vault`, `kms`, `gcp_kms`, `azure_kv`, `hckms`) and its id
/// (age recipient, fingerprint, transit URI, ARN, resource id, key URL, key id).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyId {
    /// The source.
    pub source: &'static str,
    /// The id as shown.
    pub id: String,
}

impl KeyId {
    fn new(source: &'static str, id: impl Into<String>) -> KeyId {
        KeyId {
            source,
            id: id.into(),
        }
    }

    /// The form two ids of one key share: fingerprints without spaces and in upper case
    /// (sops keeps them as the user typed them), cloud key ids without a trailing `/`.
    fn key(&self) -> (&'static str, String) {
        let id = match self.source {
            "pgp" => self.id.replace(' ', "").to_ascii_uppercase(),
            "age" => self.id.clone(),
            _ => self.id.trim_end_matches('/').to_string(),
        };
        (self.source, id)
    }

    /// The rule's or file's key can be wrapped for by sealbox (age, pgp, hc_vault).
    fn wrappable(&self) -> bool {
        matches!(self.source, "age" | "pgp" | "hc_vault")
    }
}

impl std::fmt::Display for KeyId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.source == "age" {
            f.write_str(&self.id)
        } else {
            write!(f, "{} ({})", self.id, self.source)
        }
    }
}

/// The metadata name of a `.sops.yaml` key type (`azure_keyvault` is `azure_kv` there).
fn metadata_source(config_type: &str) -> Option<&'static str> {
    Some(match config_type {
        "pgp" => "pgp",
        "hc_vault" => "hc_vault",
        "kms" => "kms",
        "gcp_kms" => "gcp_kms",
        "azure_keyvault" => "azure_kv",
        "hckms" => "hckms",
        _ => return None,
    })
}

/// The keys of one creation-rule group, every source, and the wrappable ones parsed;
/// `i` names the group in errors.
fn rule_group_ids(
    g: &sealbox_formats::config::KeyGroup,
    i: usize,
) -> Result<(Vec<KeyId>, Vec<Recipient>)> {
    let mut ids = Vec::new();
    let mut wrap = Vec::new();
    let ctx = |e: Error| e.context(format!("key group {i}"));
    for r in &g.age {
        let r = Recipient::parse(Source::Age, r).map_err(ctx)?;
        ids.push(KeyId::new("age", r.id()));
        wrap.push(r);
    }
    for (ty, id) in &g.other {
        let Some(source) = metadata_source(ty) else {
            continue;
        };
        match source {
            "pgp" | "hc_vault" => {
                let src = Source::from_name(source).expect("a source of sealbox-keys");
                let r = Recipient::parse(src, id).map_err(ctx)?;
                ids.push(KeyId::new(source, r.id()));
                wrap.push(r);
            }
            // sops' string form `arn+role_arn`: the key is the ARN.
            "kms" => ids.push(KeyId::new(source, id.split('+').next().unwrap_or(id))),
            _ => ids.push(KeyId::new(source, id.as_str())),
        }
    }
    Ok((ids, wrap))
}

/// The keys of one of a file's key groups, every source.
pub fn file_group_ids(g: &KeyGroup) -> Vec<KeyId> {
    let mut ids: Vec<KeyId> = g
        .age
        .iter()
        .map(|k| KeyId::new("age", k.recipient.as_str()))
        .collect();
    for e in &g.pgp {
        ids.push(KeyId::new("pgp", e.fields.get("fp").unwrap_or_default()));
    }
    for e in &g.hc_vault {
        let f = |k: &str| e.fields.get(k).unwrap_or_default().to_string();
        let key = sealbox_keys::hcvault::TransitKey::new(
            f("vault_address"),
            f("engine_path"),
            f("key_name"),
        );
        ids.push(KeyId::new("hc_vault", key.uri()));
    }
    for (ty, entries) in &g.other {
        let (source, fields): (&'static str, &[&str]) = match ty.as_str() {
            "kms" => ("kms", &["arn"]),
            "gcp_kms" => ("gcp_kms", &["resource_id"]),
            "azure_kv" => ("azure_kv", &["vaultUrl", "name", "version"]),
            "hckms" => ("hckms", &["key_id"]),
            _ => ("unknown", &[]),
        };
        for e in entries {
            let get = |k: &str| {
                e.as_map()
                    .and_then(|m| m.get(k))
                    .and_then(|v| v.as_str())
                    .unwrap_or_default()
                    .to_string()
            };
            let id = match fields {
                [one] => get(one),
                [url, name, version] => {
                    format!(
                        "{}/keys/{}/{}",
                        get(url).trim_end_matches('/'),
                        get(name),
                        get(version)
                    )
                }
                _ => format!("({ty} entry)"),
            };
            ids.push(KeyId::new(source, id));
        }
    }
    ids
}

/// How a file's key groups compare with its creation rule's.
pub struct KeyComparison {
    /// The rule's groups, parsed (the sources sealbox wraps for: age, pgp, hc_vault).
    pub groups: Vec<Vec<Recipient>>,
    /// The rule's groups, every key of every source, in the rule's order.
    pub rule_ids: Vec<Vec<KeyId>>,
    /// The threshold the file should have (0 with one group); a rule without one keeps the
    /// file's.
    pub want_threshold: usize,
    /// Per group (up to the larger count): keys in the rule only, in the file only.
    pub per_group: Vec<GroupComparison>,
    /// The first key type of the rule sealbox cannot wrap a data key for (`kms`, …), if any.
    pub rule_other_kind: Option<String>,
}

/// One key group's comparison.
pub struct GroupComparison {
    /// In the rule, not in the file.
    pub missing: Vec<KeyId>,
    /// In the file, not in the rule.
    pub extra: Vec<KeyId>,
}

/// Compares the file's metadata with the creation rule: every source (age, pgp, hc_vault,
/// and the cloud KMS entries sealbox only keeps), group by group.
pub fn compare_keys(rule: &CreationRule, md: &Metadata) -> Result<KeyComparison> {
    let mut groups = Vec::new();
    let mut rule_ids = Vec::new();
    for (i, g) in rule.key_groups.iter().enumerate() {
        let (ids, wrap) = rule_group_ids(g, i)?;
        rule_ids.push(ids);
        groups.push(wrap);
    }
    let rule_other_kind = rule_ids
        .iter()
        .flatten()
        .find(|k| !k.wrappable())
        .map(|k| k.source.to_string());
    let want_threshold = if groups.len() > 1 {
        let t = if rule.shamir_threshold == 0 {
            md.shamir_threshold
        } else {
            rule.shamir_threshold
        };
        effective_threshold(t, groups.len())
    } else {
        0
    };
    let per_group = (0..rule_ids.len().max(md.key_groups.len()))
        .map(|i| {
            let have = md.key_groups.get(i).map(file_group_ids).unwrap_or_default();
            compare_group(
                rule_ids.get(i).map(Vec::as_slice).unwrap_or_default(),
                &have,
            )
        })
        .collect();
    Ok(KeyComparison {
        groups,
        rule_ids,
        want_threshold,
        per_group,
        rule_other_kind,
    })
}

/// One group of the rule (`want`) against the file's (`have`).
fn compare_group(want: &[KeyId], have: &[KeyId]) -> GroupComparison {
    let has = |set: &[KeyId], k: &KeyId| set.iter().any(|x| x.key() == k.key());
    GroupComparison {
        missing: want.iter().filter(|k| !has(have, k)).cloned().collect(),
        extra: have.iter().filter(|k| !has(want, k)).cloned().collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn md_of(groups: Vec<KeyGroup>) -> Metadata {
        Metadata {
            key_groups: groups,
            shamir_threshold: 0,
            lastmodified: String::new(),
            mac: String::new(),
            selector: None,
            mac_only_encrypted: false,
            version: String::new(),
        }
    }

    #[test]
    fn every_key_source_is_compared() {
        use sealbox_formats::metadata::{AgeKey, EntryFields, PgpEntry, VaultEntry};
        use sealbox_formats::Value;
        const A: &str = "age1qfxn8ltsunju9p829z05ehj6mwq9l5x2v3jck8z3vdvywezcxdnqdnzhld";
        let cfg = Config::from_text(
            std::path::Path::new("/r/.sops.yaml"),
            &format!(
                "creation_rules:\n  - age: {A}\n    pgp: 'aaaa bbbb, CCCC'\n    hc_vault_transit_uri: https://v:8200/v1/sops/keys/k\n"
            ),
        )
        .unwrap();
        let rule = &cfg.creation_rules.as_ref().unwrap()[0];
        let mut kms = sealbox_formats::Map::new();
        kms.push("arn", Value::str("arn:aws:kms:eu:1:key/x"));
        let file = KeyGroup {
            age: vec![AgeKey {
                recipient: A.into(),
                enc: String::new(),
            }],
            pgp: vec![PgpEntry {
                fields: EntryFields::from_pairs([("fp", "AAAABBBB"), ("enc", "")]),
            }],
            hc_vault: vec![VaultEntry {
                fields: EntryFields::from_pairs([
                    ("vault_address", "https://v:8200"),
                    ("engine_path", "sops"),
                    ("key_name", "k"),
                ]),
            }],
            other: vec![("kms".into(), vec![Value::Map(kms)])],
        };
        let c = compare_keys(rule, &md_of(vec![file])).unwrap();
        let g = &c.per_group[0];
        let show = |v: &[KeyId]| v.iter().map(ToString::to_string).collect::<Vec<_>>();
        assert_eq!(show(&g.missing), ["CCCC (pgp)"]);
        assert_eq!(show(&g.extra), ["arn:aws:kms:eu:1:key/x (kms)"]);
        assert_eq!(c.groups[0].len(), 4);
        assert_eq!(c.rule_other_kind, None);
    }

    #[test]
    fn thresholds_read_the_same_everywhere() {
        assert_eq!(effective_threshold(0, 1), 0);
        assert_eq!(effective_threshold(2, 1), 0);
        assert_eq!(effective_threshold(0, 3), 3);
        assert_eq!(effective_threshold(2, 3), 2);
        assert_eq!(effective_threshold(5, 3), 3);
    }
}
