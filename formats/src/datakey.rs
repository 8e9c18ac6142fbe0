//! Wrapping the data key for every master key, and getting it back.

use crate::cipher::DataKey;
use crate::error::{Error, ErrorKind, Result};
use crate::keys::{Identities, Recipient};
use crate::metadata::{AgeKey, KeyGroup, Metadata};
use crate::shamir;
use zeroize::Zeroizing;

/// Wraps `key` for every recipient. One group: each recipient gets the whole key. Several
/// groups: the key is split with Shamir (threshold `threshold`, or all groups when 0) and
/// every recipient of group `i` gets share `i`.
pub fn wrap(key: &DataKey, groups: &[Vec<Recipient>], threshold: usize) -> Result<Vec<KeyGroup>> {
    if groups.is_empty() || groups.iter().any(Vec::is_empty) {
        return Err(Error::new(ErrorKind::Other, "no recipients to encrypt the data key to").with_hint(
            "pass --age RECIPIENT, set SOPS_AGE_RECIPIENTS, or add a creation rule to .sops.yaml",
        ));
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
            let age = rs
                .iter()
                .map(|r| {
                    Ok(AgeKey {
                        recipient: r.as_str().to_string(),
                        enc: r.wrap(part)?,
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            Ok(KeyGroup::of_age(age))
        })
        .collect()
}

/// Recovers the data key of a file with the identities at hand. `file` names it in
/// messages.
pub fn recover(md: &Metadata, ids: &Identities, file: &str) -> Result<DataKey> {
    let mut parts = Vec::new();
    let mut report = Vec::new();
    for (i, g) in md.key_groups.iter().enumerate() {
        let got = g.age.iter().find_map(|k| ids.unwrap(&k.enc).ok());
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
                "{file}: failed to get the data key required to decrypt the file: {why}\n{}",
                report.join("\n")
            ),
        )
        .with_hint(format!(
            "none of your identities matches these recipients; identities looked for: {}",
            ids.describe_sources()
        ))
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
