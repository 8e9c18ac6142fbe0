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

/// The recipient ids of a file's group as the rule comparison sees them: age recipients,
/// then PGP fingerprints (as recorded, spaces removed: sops compares them as strings), then
/// Vault transit keys by URI.
fn file_ids(g: &KeyGroup) -> Vec<String> {
    let age = g.age.iter().map(|k| k.recipient.clone());
    let pgp = g
        .pgp
        .iter()
        .filter_map(|e| e.fields.get("fp"))
        .map(pgp::normalize_fingerprint);
    let vault = g.hc_vault.iter().map(|e| e.uri());
    age.chain(pgp).chain(vault).collect()
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

/// How a file's key groups compare with its creation rule's.
pub struct KeyComparison {
    /// The rule's groups, parsed.
    pub groups: Vec<Vec<Recipient>>,
    /// The threshold the file should have (0 with one group); a rule without one keeps the
    /// file's.
    pub want_threshold: usize,
    /// Per group (up to the larger count): recipients in the rule only, in the file only.
    pub per_group: Vec<GroupComparison>,
    /// The first key type of the rule sealbox cannot wrap for, if any.
    pub rule_other_kind: Option<String>,
}

/// One key group's comparison.
pub struct GroupComparison {
    /// In the rule, not in the file.
    pub missing: Vec<String>,
    /// In the file, not in the rule.
    pub extra: Vec<String>,
    /// The file's group has keys of types sealbox does not manage.
    pub file_has_other: bool,
}

/// Compares the file's metadata with the creation rule (age recipients, PGP fingerprints
/// and Vault transit keys, by URI).
pub fn compare_keys(rule: &CreationRule, md: &Metadata) -> Result<KeyComparison> {
    let groups = rule
        .key_groups
        .iter()
        .enumerate()
        .map(|(i, g)| rule_group(g, i))
        .collect::<Result<Vec<_>>>()?;
    let rule_other_kind = rule
        .key_groups
        .iter()
        .find_map(|g| unsupported_rule_kind(g).map(str::to_string));
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
    let per_group = (0..groups.len().max(md.key_groups.len()))
        .map(|i| compare_group(groups.get(i), md.key_groups.get(i)))
        .collect();
    Ok(KeyComparison {
        groups,
        want_threshold,
        per_group,
        rule_other_kind,
    })
}

/// One group of the rule (`want`) against the file's (`have`).
fn compare_group(want: Option<&Vec<Recipient>>, have: Option<&KeyGroup>) -> GroupComparison {
    let have_ids: Vec<String> = have.map(file_ids).unwrap_or_default();
    let want_ids: Vec<String> = want
        .map(|g| g.iter().map(Recipient::id).collect())
        .unwrap_or_default();
    GroupComparison {
        missing: want_ids
            .iter()
            .filter(|r| !have_ids.contains(r))
            .cloned()
            .collect(),
        extra: have_ids
            .iter()
            .filter(|r| !want_ids.contains(r))
            .cloned()
            .collect(),
        file_has_other: have.is_some_and(|g| unmanaged_types(g).next().is_some()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_read_the_same_everywhere() {
        assert_eq!(effective_threshold(0, 1), 0);
        assert_eq!(effective_threshold(2, 1), 0);
        assert_eq!(effective_threshold(0, 3), 3);
        assert_eq!(effective_threshold(2, 3), 2);
        assert_eq!(effective_threshold(5, 3), 3);
    }
}
