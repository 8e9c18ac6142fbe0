//! The per-process state of the key sources, built once and shared by every file a
//! command touches (and by its threads): age identities (loading them may run
//! `SOPS_AGE_KEY_CMD`), the OpenPGP decryptor (it reads the legacy keyring once), the Vault
//! client (it keeps its token). Each is set up on first use, so a command that never needs
//! a source pays nothing for it.

use crate::age::{Identities, IdentitySources};
use crate::{hcvault, pgp, Source};
use sealbox_formats::{Error, ErrorKind, Result};
use std::sync::OnceLock;

/// The order in which a key group's master keys are tried (sops' `--decryption-order`;
/// default age, then pgp, then hc_vault).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecryptionOrder(Vec<Source>);

impl Default for DecryptionOrder {
    fn default() -> Self {
        DecryptionOrder(Source::ALL.to_vec())
    }
}

impl DecryptionOrder {
    /// Parses a comma-separated list of key type names, as sops 3.11 does: a name given
    /// twice is [`ErrorKind::DuplicateDecryptionKeyType`] (exit 112); names of types
    /// sealbox has no source for (`kms`, `gcp_kms`, `azure_kv`, `hckms`, or anything else)
    /// are accepted and mean nothing, as sops ignores types no key of the file has. The
    /// sources not named follow in the default order.
    pub fn parse(list: &str) -> Result<DecryptionOrder> {
        let mut order = Vec::new();
        let mut seen: Vec<&str> = Vec::new();
        for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            if seen.contains(&name) {
                return Err(Error::new(
                    ErrorKind::DuplicateDecryptionKeyType,
                    format!("the key type {name} is named twice in the decryption order"),
                ));
            }
            seen.push(name);
            if let Some(s) = Source::from_name(name) {
                order.push(s);
            }
        }
        for s in Source::ALL {
            if !order.contains(&s) {
                order.push(s);
            }
        }
        Ok(DecryptionOrder(order))
    }

    /// The sources, in order.
    pub fn sources(&self) -> &[Source] {
        &self.0
    }
}

/// Where the age identities come from.
#[derive(Debug)]
enum AgeIdentities<'a> {
    /// Loaded from these sources on first use.
    Lazy(Box<IdentitySources>, OnceLock<Identities>),
    /// Already loaded by the caller.
    Given(&'a Identities),
    /// Already loaded, and owned.
    Owned(Identities),
}

/// The key sources' state for one process.
#[derive(Debug)]
pub struct KeyServices<'a> {
    age: AgeIdentities<'a>,
    pgp: OnceLock<pgp::Decryptor>,
    vault: OnceLock<std::result::Result<hcvault::Client, String>>,
    order: DecryptionOrder,
}

impl KeyServices<'static> {
    /// Sources found the way sops finds them: age identities from the environment and
    /// the usual files ([`IdentitySources::from_env`]), loaded on first use.
    pub fn from_env() -> KeyServices<'static> {
        KeyServices::with_identity_sources(IdentitySources::from_env())
    }

    /// Age identities from `sources`, loaded on first use.
    pub fn with_identity_sources(sources: IdentitySources) -> KeyServices<'static> {
        KeyServices::new(AgeIdentities::Lazy(Box::new(sources), OnceLock::new()))
    }

    /// These age identities, already loaded (sealbox-install's key sources); the other
    /// sources as [`KeyServices::from_env`] would set them up, on first use.
    pub fn with_identities(ids: Identities) -> KeyServices<'static> {
        KeyServices::new(AgeIdentities::Owned(ids))
    }
}

impl<'a> KeyServices<'a> {
    fn new(age: AgeIdentities<'a>) -> KeyServices<'a> {
        KeyServices {
            age,
            pgp: OnceLock::new(),
            vault: OnceLock::new(),
            order: DecryptionOrder::default(),
        }
    }

    /// These age identities, already loaded (e.g. from a manifest's key files); the other
    /// sources as [`KeyServices::from_env`] would set them up, on first use.
    pub fn borrowing(ids: &'a Identities) -> KeyServices<'a> {
        KeyServices::new(AgeIdentities::Given(ids))
    }

    /// Uses this OpenPGP decryptor (e.g. keys in memory only, or a given GnuPG home)
    /// instead of the one sops sets up from the environment.
    pub fn with_pgp(mut self, pgp: pgp::Decryptor) -> KeyServices<'a> {
        self.pgp = OnceLock::from(pgp);
        self
    }

    /// Tries the sources in `order`.
    pub fn with_decryption_order(mut self, order: DecryptionOrder) -> KeyServices<'a> {
        self.order = order;
        self
    }

    /// The age identities (loaded now if not yet).
    pub fn age(&self) -> &Identities {
        match &self.age {
            AgeIdentities::Lazy(sources, ids) => ids.get_or_init(|| Identities::load(sources)),
            AgeIdentities::Given(ids) => ids,
            AgeIdentities::Owned(ids) => ids,
        }
    }

    /// The OpenPGP decryptor, as sops sets it up (built now if not yet).
    pub fn pgp(&self) -> &pgp::Decryptor {
        self.pgp.get_or_init(pgp::Decryptor::new)
    }

    /// The gpg that encrypts data keys for PGP recipients: the decryptor's (its program
    /// and home), else gpg from the environment as sops runs it.
    pub fn pgp_gpg(&self) -> pgp::Gpg {
        self.pgp().gpg().cloned().unwrap_or_else(pgp::Gpg::from_env)
    }

    /// The Vault client from the environment (built now if not yet), or why there is none.
    pub fn vault(&self) -> std::result::Result<&hcvault::Client, &str> {
        self.vault
            .get_or_init(|| hcvault::Client::from_env().map_err(|e| e.to_string()))
            .as_ref()
            .map_err(String::as_str)
    }

    /// No Vault for this process: a Vault key fails with `why` and no request is made
    /// (`sealbox-install --no-network`, before the network is up).
    pub fn without_vault(self, why: impl Into<String>) -> KeyServices<'a> {
        let _ = self.vault.set(Err(why.into()));
        self
    }

    /// The order in which a group's keys are tried.
    pub fn order(&self) -> &DecryptionOrder {
        &self.order
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_decryption_order_puts_named_sources_first_and_refuses_repeats() {
        let o = DecryptionOrder::parse("pgp").unwrap();
        assert_eq!(o.sources(), [Source::Pgp, Source::Age, Source::HcVault]);
        assert_eq!(
            DecryptionOrder::parse("").unwrap(),
            DecryptionOrder::default()
        );
        let e = DecryptionOrder::parse("age, age").unwrap_err();
        assert_eq!(e.kind, ErrorKind::DuplicateDecryptionKeyType);
        // Types sealbox has no source for are accepted (sops accepts them), but not twice.
        assert_eq!(
            DecryptionOrder::parse("kms,pgp").unwrap().sources(),
            [Source::Pgp, Source::Age, Source::HcVault]
        );
        assert_eq!(
            DecryptionOrder::parse("kms,kms").unwrap_err().kind,
            ErrorKind::DuplicateDecryptionKeyType
        );
    }

    #[test]
    fn identities_are_loaded_once_on_first_use() {
        let t = tempfile::tempdir().unwrap();
        let (secret, _) = crate::age::generate_age_key();
        let file = t.path().join("keys.txt");
        std::fs::write(&file, format!("{}\n", secret.as_str())).unwrap();
        let ks = KeyServices::with_identity_sources(IdentitySources {
            age_key_file: Some(file.clone()),
            ..IdentitySources::default()
        });
        assert_eq!(ks.age().len(), 1);
        // The file is read once: removing it changes nothing for this process.
        std::fs::remove_file(&file).unwrap();
        assert_eq!(ks.age().len(), 1);
    }
}
