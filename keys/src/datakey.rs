//! Wrapping the data key for every master key, and getting it back: the seam between the
//! sops format and the key sources.
//!
//! One key group: each master key gets the whole data key. Several groups: the data key is
//! split with Shamir (formats' `shamir`) and every master key of group `i` gets share `i`.
//! To recover, each group is tried in turn; within a group the master keys are tried
//! source by source in the [`DecryptionOrder`](crate::DecryptionOrder) (sops: age before
//! pgp), the first that unwraps wins.

use crate::{KeyServices, Recipient, Source};
use sealbox_formats::cipher::DataKey;
use sealbox_formats::metadata::{AgeKey, KeyGroup, Metadata};
use sealbox_formats::{shamir, Error, ErrorKind, Result};
use zeroize::Zeroizing;

/// The error of a source whose wrapping and unwrapping are not part of the data-key path
/// yet (its core exists in its module).
fn not_wired(s: Source) -> Error {
    Error::new(
        ErrorKind::Other,
        format!("{s} keys are not wired into sealbox's data-key handling yet"),
    )
    .with_hint("use age or SSH recipients for this file")
}

/// Wraps `part` (the data key or a share) for one recipient, adding its entry to `group`.
fn wrap_one(r: &Recipient, part: &[u8], group: &mut KeyGroup, _keys: &KeyServices) -> Result<()> {
    match r {
        Recipient::Age(a) => group.age.push(AgeKey {
            recipient: a.as_str().to_string(),
            enc: a.wrap(part)?,
        }),
        Recipient::Pgp(_) => return Err(not_wired(Source::Pgp)),
        Recipient::HcVault(_) => return Err(not_wired(Source::HcVault)),
    }
    Ok(())
}

/// Tries the master keys of `source` in `g`; the unwrapped part, or why not.
fn unwrap_with(
    source: Source,
    g: &KeyGroup,
    keys: &KeyServices,
) -> Option<Result<Zeroizing<Vec<u8>>>> {
    match source {
        Source::Age => {
            if g.age.is_empty() {
                return None;
            }
            let ids = keys.age();
            let mut last = None;
            for k in &g.age {
                match ids.unwrap(&k.enc) {
                    Ok(p) => return Some(Ok(p)),
                    Err(e) => last = Some(e),
                }
            }
            last.map(Err)
        }
        Source::Pgp => (!g.pgp.is_empty()).then(|| Err(not_wired(Source::Pgp))),
        Source::HcVault => (!g.hc_vault.is_empty()).then(|| Err(not_wired(Source::HcVault))),
    }
}

/// Wraps `key` for every recipient. One group: each recipient gets the whole key. Several
/// groups: the key is split with Shamir (threshold `threshold`, or all groups when 0) and
/// every recipient of group `i` gets share `i`.
pub fn wrap(
    key: &DataKey,
    groups: &[Vec<Recipient>],
    threshold: usize,
    keys: &KeyServices,
) -> Result<Vec<KeyGroup>> {
    if let Some(i) = groups.iter().position(Vec::is_empty) {
        // sops' message (scripts match on it), then which group.
        return Err(Error::new(
            ErrorKind::Other,
            format!("Could not generate data key: [empty key group provided] (key group {i})"),
        )
        .with_hint("give every key group of the creation rule at least one key"));
    }
    if groups.is_empty() || groups.iter().any(Vec::is_empty) {
        return Err(
            Error::new(ErrorKind::Other, "no recipients to encrypt the data key to").with_hint(
                "pass --age RECIPIENT, set SOPS_AGE_RECIPIENTS, or add a creation rule to .sops.yaml",
            ),
        );
    }
    let parts: Vec<Zeroizing<Vec<u8>>> = if groups.len() == 1 {
        vec![Zeroizing::new(key.as_bytes().to_vec())]
    } else {
        let k = if threshold == 0 {
            groups.len()
        } else {
            threshold
        };
        shamir::split(key.as_bytes(), groups.len(), k)?
    };
    groups
        .iter()
        .zip(&parts)
        .map(|(rs, part)| {
            let mut g = KeyGroup::default();
            for r in rs {
                wrap_one(r, part, &mut g, keys)?;
            }
            Ok(g)
        })
        .collect()
}

/// Recovers the data key of a file with the key sources at hand. `file` names it in
/// messages.
pub fn recover(md: &Metadata, keys: &KeyServices, file: &str) -> Result<DataKey> {
    let mut parts = Vec::new();
    let mut report = Vec::new();
    for (i, g) in md.key_groups.iter().enumerate() {
        let mut got = None;
        for &source in keys.order().sources() {
            match unwrap_with(source, g, keys) {
                Some(Ok(p)) => {
                    got = Some(p);
                    break;
                }
                Some(Err(e)) => tracing::debug!("{file}: group {i}: {source}: {e}"),
                None => {}
            }
        }
        report.push(format!(
            "  group {i}: {} ({})",
            if got.is_some() { "SUCCESS" } else { "FAILED" },
            g.describe().join(", ")
        ));
        if let Some(p) = got {
            parts.push(p);
        }
    }
    let fail = |why: &str| {
        Error::new(
            ErrorKind::DataKeyUnavailable,
            format!(
                "{file}: Failed to get the data key required to decrypt the SOPS file: {why}\n{}",
                report.join("\n")
            ),
        )
        .with_hint(format!(
            "none of your identities matches these recipients; identities looked for: {}",
            keys.age().describe_sources()
        ))
        .in_file(file)
    };
    if md.key_groups.len() == 1 {
        let p = parts
            .pop()
            .ok_or_else(|| fail("no identity could decrypt it"))?;
        return DataKey::from_slice(&p);
    }
    let need = if md.shamir_threshold == 0 {
        md.key_groups.len()
    } else {
        md.shamir_threshold
    };
    if parts.len() < need {
        return Err(fail(&format!(
            "{} of {} key groups decrypted, {need} needed",
            parts.len(),
            md.key_groups.len()
        )));
    }
    let key = shamir::combine(&parts)?;
    DataKey::from_slice(&key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::age::{self, Identities};
    use sealbox_formats::metadata::{EntryFields, PgpEntry, WRITER_VERSION};

    fn metadata(key_groups: Vec<KeyGroup>, shamir_threshold: usize) -> Metadata {
        Metadata {
            key_groups,
            shamir_threshold,
            lastmodified: "2024-01-01T00:00:00Z".into(),
            mac: String::new(),
            selector: None,
            mac_only_encrypted: false,
            version: WRITER_VERSION.into(),
        }
    }

    /// A new age identity: its secret text and its recipient.
    fn new_age() -> (String, Recipient) {
        let (secret, public) = age::generate_age_key();
        let r = Recipient::Age(age::Recipient::parse(&public).unwrap());
        (format!("{}\n", secret.as_str()), r)
    }

    fn ids(text: &str) -> Identities {
        Identities::from_text(text).unwrap()
    }

    #[test]
    fn age_wraps_and_recovers_through_the_seam_across_shamir_groups() {
        let (sa, a) = new_age();
        let (sb, b) = new_age();
        let (_, c) = new_age();
        let key = DataKey::generate();
        let only_a = ids(&sa);
        let keys = KeyServices::borrowing(&only_a);
        let groups = wrap(&key, &[vec![a], vec![b], vec![c]], 2, &keys).unwrap();
        assert!(groups.iter().all(|g| g.age.len() == 1));
        let md = metadata(groups, 2);
        // Three groups, threshold two: a and b together recover the key.
        let a_and_b = ids(&format!("{sa}{sb}"));
        let got = recover(&md, &KeyServices::borrowing(&a_and_b), "f").unwrap();
        assert_eq!(got.as_bytes(), key.as_bytes());
        // One group alone is not enough.
        let e = recover(&md, &keys, "f").unwrap_err();
        assert_eq!(e.kind, ErrorKind::DataKeyUnavailable);
        assert!(
            e.message.contains("1 of 3 key groups decrypted, 2 needed"),
            "{e}"
        );
    }

    #[test]
    fn pgp_and_vault_arms_say_they_are_not_wired_yet() {
        let (sa, a) = new_age();
        let only_a = ids(&sa);
        let keys = KeyServices::borrowing(&only_a);
        let key = DataKey::generate();
        for r in [
            Recipient::parse(Source::Pgp, "ABCDEF").unwrap(),
            Recipient::parse(Source::HcVault, "https://v:8200/v1/sops/keys/k").unwrap(),
        ] {
            let e = wrap(&key, &[vec![a.clone(), r.clone()]], 0, &keys).unwrap_err();
            assert!(e.message.contains("not wired"), "{e}");
        }
        // A group holding a pgp key and the age key: age is tried first and wins; a
        // group with the pgp key only fails as "no identity", naming the key type.
        let mut g = wrap(&key, &[vec![a]], 0, &keys).unwrap().remove(0);
        g.pgp.push(PgpEntry {
            fields: EntryFields::from_pairs([("fp", "ABCDEF"), ("enc", "x")]),
        });
        let got = recover(&metadata(vec![g.clone()], 0), &keys, "f").unwrap();
        assert_eq!(got.as_bytes(), key.as_bytes());
        g.age.clear();
        let e = recover(&metadata(vec![g], 0), &keys, "f").unwrap_err();
        assert_eq!(e.kind, ErrorKind::DataKeyUnavailable);
        assert!(e.message.contains("group 0: FAILED ((pgp key))"), "{e}");
    }
}
