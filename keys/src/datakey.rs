//! Wrapping the data key for every master key, and getting it back: the seam between the
//! sops format and the key sources.
//!
//! One key group: each master key gets the whole data key. Several groups: the data key is
//! split with Shamir (formats' `shamir`) and every master key of group `i` gets share `i`.
//! To recover, each group is tried in turn; within a group the master keys are tried
//! source by source in the [`DecryptionOrder`](crate::DecryptionOrder) (sops: age before
//! pgp), the first that unwraps wins.

use crate::{hcvault, pgp, KeyServices, Recipient, Source};
use sealbox_formats::cipher::DataKey;
use sealbox_formats::metadata::{AgeKey, EntryFields, KeyGroup, Metadata, VaultEntry};
use sealbox_formats::{shamir, timefmt, Error, ErrorKind, Result};
use zeroize::Zeroizing;

/// A PGP failure as the format's error: `kind`, the message naming the key (the core's
/// errors name the fingerprint), and the core's hint (`gpg --import`, pinentry, …).
fn pgp_error(kind: ErrorKind, e: &pgp::Error) -> Error {
    let err = Error::new(kind, e.to_string());
    match e.hint() {
        Some(h) => err.with_hint(h),
        None => err,
    }
}

/// Wraps `part` (the data key or a share) for one recipient, adding its entry to `group`.
fn wrap_one(r: &Recipient, part: &[u8], group: &mut KeyGroup, keys: &KeyServices) -> Result<()> {
    match r {
        // A plugin recipient may ask the person at hand (keys.ui()).
        Recipient::Age(a) => group.age.push(AgeKey {
            recipient: a.as_str().to_string(),
            enc: a.wrap_with(part, keys.ui())?,
        }),
        // Through gpg, with sops' arguments (the core's `encrypt`); sops exits 1 when it
        // cannot ("Could not generate data key").
        Recipient::Pgp(fp) => {
            let k = pgp::encrypt(&keys.pgp_gpg(), fp, part).map_err(|e| {
                pgp_error(ErrorKind::Other, &e)
                    .context(format!("cannot encrypt the data key for PGP key {fp}"))
            })?;
            group.pgp.push(k.to_entry());
        }
        Recipient::HcVault(k) => {
            let client = keys.vault().map_err(vault_unavailable)?;
            // sops stamps each new master key with the time, RFC 3339 UTC.
            let vk = hcvault::VaultKey::wrap(client, k.clone(), part, timefmt::now_rfc3339())
                .map_err(|e| vault_error(e, ErrorKind::Other))?;
            group.hc_vault.push(VaultEntry {
                fields: EntryFields::from_pairs(vk.fields()),
            });
        }
    }
    Ok(())
}

/// A Vault error as the format's error: the message (address, key, every attempt) and
/// what to do. `kind` is the kind of a failure to reach or use the server.
fn vault_error(e: hcvault::Error, kind: ErrorKind) -> Error {
    let kind = match e.kind() {
        hcvault::ErrorKind::InvalidUri | hcvault::ErrorKind::InvalidKey => ErrorKind::InvalidKey,
        _ => kind,
    };
    let hint = match e.kind() {
        hcvault::ErrorKind::Auth => Some(
            "set VAULT_TOKEN, run `bao login`/`vault login`, or set VAULT_ROLE_ID and \
             VAULT_SECRET_ID_FILE for an AppRole login",
        ),
        hcvault::ErrorKind::Config => Some("fix the variable named above"),
        _ => None,
    };
    let err = Error::new(kind, e.to_string());
    match hint {
        Some(h) => err.with_hint(h),
        None => err,
    }
}

/// The error when there is no Vault client (a bad setting, or Vault turned off).
fn vault_unavailable(why: &str) -> Error {
    Error::new(ErrorKind::Other, format!("cannot use Vault: {why}"))
}

/// The entry `e` of a file's metadata as a transit key with its ciphertext.
pub(crate) fn vault_key(e: &VaultEntry) -> Result<hcvault::VaultKey> {
    hcvault::VaultKey::from_fields(|k| e.fields.get(k), "hc_vault key")
        .map_err(|e| Error::new(ErrorKind::InvalidMetadata, e.to_string()))
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
            // All entries at once: identities that need nobody are tried on every entry
            // before any prompt, plugin or key command (see age::Identities).
            let entries: Vec<(&str, &str)> = g
                .age
                .iter()
                .map(|k| (k.recipient.as_str(), k.enc.as_str()))
                .collect();
            Some(keys.age().unwrap_entries(&entries))
        }
        Source::Pgp => {
            if g.pgp.is_empty() {
                return None;
            }
            // Every key of the group in file order, as sops; each failure is kept (the
            // decryptor's own error lists its attempts: in memory, legacy keyring, gpg).
            let dec = keys.pgp();
            let mut lines = Vec::new();
            let mut hint = None;
            for e in &g.pgp {
                let k = match pgp::PgpKey::from_entry(e) {
                    Ok(k) => k,
                    Err(why) => {
                        lines.push(why);
                        continue;
                    }
                };
                match dec.decrypt(&k) {
                    Ok(p) => return Some(Ok(p)),
                    Err(err) => {
                        hint = err.hint().or(hint);
                        lines.push(err.to_string());
                    }
                }
            }
            let err = Error::new(ErrorKind::DataKeyUnavailable, lines.join("\n"));
            Some(Err(match hint {
                Some(h) => err.with_hint(h),
                None => err,
            }))
        }
        Source::HcVault => {
            if g.hc_vault.is_empty() {
                return None;
            }
            let client = match keys.vault() {
                Ok(c) => c,
                Err(why) => return Some(Err(vault_unavailable(why))),
            };
            let mut last = None;
            for e in &g.hc_vault {
                let got = vault_key(e).and_then(|vk| {
                    vk.unwrap_data_key(client)
                        .map_err(|e| vault_error(e, ErrorKind::DataKeyUnavailable))
                });
                match got {
                    Ok(p) => return Some(Ok(p)),
                    Err(e) => last = Some(e),
                }
            }
            last.map(Err)
        }
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
    // What the sources other than age said, under their group (age's "no identity
    // matched" is what the hint below explains), and their hints.
    let mut hints: Vec<String> = Vec::new();
    // A key server's failure (address, reason) in a group that failed: the hint then
    // points at it.
    let mut server_failed = false;
    for (i, g) in md.key_groups.iter().enumerate() {
        let mut got = None;
        // Why age failed goes on the group's line (a plugin's request, a wrong passphrase);
        // the other sources' lines go under it.
        let mut why = Vec::new();
        let mut said = Vec::new();
        let mut server = false;
        for &source in keys.order().sources() {
            match unwrap_with(source, g, keys) {
                Some(Ok(p)) => {
                    got = Some(p);
                    break;
                }
                Some(Err(e)) if source == Source::Age => {
                    tracing::debug!("{file}: group {i}: {source}: {e}");
                    why.push(format!("{source}: {}", e.message.replace('\n', "; ")));
                }
                Some(Err(e)) if source == Source::HcVault => {
                    tracing::debug!("{file}: group {i}: {source}: {e}");
                    said.push(format!(
                        "    {source}: {}",
                        e.message.replace('\n', "\n      ")
                    ));
                    server = true;
                }
                Some(Err(e)) => {
                    tracing::debug!("{file}: group {i}: {source}: {e}");
                    said.extend(e.message.lines().map(|l| format!("    {source}: {l}")));
                    if let Some(h) = e.hint {
                        if !hints.contains(&h) {
                            hints.push(h);
                        }
                    }
                }
                None => {}
            }
        }
        report.push(format!(
            "  group {i}: {} ({}){}",
            if got.is_some() { "SUCCESS" } else { "FAILED" },
            g.describe().join(", "),
            if got.is_some() || why.is_empty() {
                String::new()
            } else {
                format!(": {}", why.join("; "))
            }
        ));
        match got {
            Some(p) => parts.push(p),
            None => {
                server_failed |= server;
                report.append(&mut said)
            }
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
        .with_hint({
            // The key servers' reasons, or the age sources looked at when the file has age
            // keys; then what the other sources advise (import a key, pinentry, …).
            let mut h: Vec<String> = Vec::new();
            if server_failed {
                h.push(format!(
                    "the reasons of the key servers are above; age identities looked for: {}",
                    keys.age().describe_sources()
                ));
            } else if md.key_groups.iter().any(|g| !g.age.is_empty()) || hints.is_empty() {
                h.push(format!(
                    "none of your identities matches these recipients; identities looked for: {}",
                    keys.age().describe_sources()
                ));
            }
            h.extend(hints.iter().cloned());
            h.join("; ")
        })
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
    use crate::DecryptionOrder;
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

    /// The metadata of sops 3.13's `format.enc.yaml` (one PGP key) and the functional
    /// tests' secret keys, in memory.
    fn sops_313_pgp() -> (Metadata, pgp::Keyring) {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/vectors/sops-3.13/");
        let text = std::fs::read(format!("{dir}format.enc.yaml")).unwrap();
        let (_, md) = sealbox_formats::store::load_encrypted(
            sealbox_formats::store::Format::Yaml,
            &text,
            "format.enc.yaml",
        )
        .unwrap();
        let asc = std::fs::read(format!("{dir}sops_functional_tests_key.asc")).unwrap();
        let mut ring = pgp::Keyring::new();
        ring.add_keys(&asc, "sops_functional_tests_key.asc")
            .unwrap();
        (md, ring)
    }

    #[test]
    fn pgp_entries_unwrap_in_memory_and_age_is_tried_first_in_a_mixed_group() {
        let (md, ring) = sops_313_pgp();
        let fp = "FBC7B9E2A4F9289AC0C1D4843D16CEE4A27381B4";
        let (sa, a) = new_age();
        let only_a = ids(&sa);
        let none = Identities::new();
        let in_memory =
            || KeyServices::borrowing(&none).with_pgp(pgp::Decryptor::in_memory(ring.clone()));
        let key = recover(&md, &in_memory(), "f").unwrap();

        // The same data key also wrapped for an age recipient: a group with both.
        let mut g = md.key_groups[0].clone();
        g.age = wrap(&key, &[vec![a]], 0, &KeyServices::borrowing(&only_a))
            .unwrap()
            .remove(0)
            .age;
        let mixed = metadata(vec![g.clone()], 0);
        // age is tried first: with the age identity and no PGP key at all, it wins.
        let no_pgp = KeyServices::borrowing(&only_a)
            .with_pgp(pgp::Decryptor::in_memory(pgp::Keyring::new()));
        assert_eq!(
            recover(&mixed, &no_pgp, "f").unwrap().as_bytes(),
            key.as_bytes()
        );
        // The PGP key alone recovers it too; pgp first in the order changes nothing.
        let pgp_first = in_memory().with_decryption_order(DecryptionOrder::parse("pgp").unwrap());
        assert_eq!(
            recover(&mixed, &pgp_first, "f").unwrap().as_bytes(),
            key.as_bytes()
        );
        // Neither (another OpenPGP key in memory): the error names the group's keys and
        // says what the PGP attempt met, with its hint.
        let mut other = pgp::Keyring::new();
        let ssh = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../tests/vectors/sops-nix/ssh-key"
        );
        other
            .add_ssh_private_key(&std::fs::read(ssh).unwrap(), "ssh-key")
            .unwrap();
        let nothing = KeyServices::borrowing(&none).with_pgp(pgp::Decryptor::in_memory(other));
        let e = recover(&metadata(vec![g], 0), &nothing, "f").unwrap_err();
        assert_eq!(e.kind, ErrorKind::DataKeyUnavailable);
        assert!(e.message.contains("group 0: FAILED ("), "{e}");
        assert!(e.message.contains(fp), "{e}");
        assert!(
            e.message.contains(&format!(
                "pgp: could not decrypt the data key with PGP key {fp}"
            )),
            "{e}"
        );
        let hint = e.hint.clone().unwrap();
        assert!(hint.contains("import the secret key"), "{hint}");
        assert!(e.message.contains("no secret key for this message"), "{e}");
    }

    #[test]
    fn a_pgp_entry_without_enc_is_reported_not_skipped() {
        let (_, ring) = sops_313_pgp();
        let mut g = KeyGroup::default();
        g.pgp.push(PgpEntry {
            fields: EntryFields::from_pairs([("fp", "ABCDEF")]),
        });
        let none = Identities::new();
        let keys = KeyServices::borrowing(&none).with_pgp(pgp::Decryptor::in_memory(ring));
        let e = recover(&metadata(vec![g], 0), &keys, "f").unwrap_err();
        assert!(
            e.message.contains("pgp: a pgp key entry has no `enc`"),
            "{e}"
        );
    }

    /// An `hc_vault` entry as sops writes it.
    fn vault_entry(addr: &str, enc: &str) -> VaultEntry {
        VaultEntry {
            fields: EntryFields::from_pairs([
                ("vault_address", addr),
                ("engine_path", "transit"),
                ("key_name", "k"),
                ("created_at", "2025-01-01T00:00:00Z"),
                ("enc", enc),
            ]),
        }
    }

    #[test]
    fn without_vault_a_transit_key_fails_with_the_reason_and_age_still_works() {
        let (sa, a) = new_age();
        let only_a = ids(&sa);
        let keys = KeyServices::borrowing(&only_a).without_vault("turned off for this test");
        let key = DataKey::generate();
        let v = Recipient::parse(Source::HcVault, "http://127.0.0.1:1/v1/transit/keys/k").unwrap();
        let e = wrap(&key, &[vec![a.clone(), v]], 0, &keys).unwrap_err();
        assert!(e.message.contains("turned off for this test"), "{e}");
        // Two groups of two needed: age, and a transit key that cannot be asked.
        let mut groups = wrap(&key, &[vec![a.clone()], vec![a.clone()]], 0, &keys).unwrap();
        groups[1].age.clear();
        groups[1]
            .hc_vault
            .push(vault_entry("http://127.0.0.1:1", "vault:v1:AAAA"));
        let e = recover(&metadata(groups.clone(), 2), &keys, "f").unwrap_err();
        assert_eq!(e.kind, ErrorKind::DataKeyUnavailable);
        assert!(
            e.message
                .contains("group 1: FAILED (http://127.0.0.1:1/v1/transit/keys/k)"),
            "{e}"
        );
        assert!(
            e.message
                .contains("hc_vault: cannot use Vault: turned off for this test"),
            "{e}"
        );
        // With the transit key in the same group as the age key, age alone suffices.
        let mut one = wrap(&key, &[vec![a]], 0, &keys).unwrap().remove(0);
        one.hc_vault
            .push(vault_entry("http://127.0.0.1:1", "vault:v1:AAAA"));
        let got = recover(&metadata(vec![one], 0), &keys, "f").unwrap();
        assert_eq!(got.as_bytes(), key.as_bytes());
    }

    #[test]
    fn a_vault_entry_missing_a_field_is_invalid_metadata_naming_it() {
        let mut e = vault_entry("http://v", "vault:v1:AAAA");
        if let sealbox_formats::Value::Map(m) = &mut e.fields.0 {
            m.remove("key_name");
        }
        let err = vault_key(&e).unwrap_err();
        assert_eq!(err.kind, ErrorKind::InvalidMetadata);
        assert!(err.message.contains("`key_name`"), "{err}");
    }
}
