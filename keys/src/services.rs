//! The per-process state of the key sources, built once and shared by every file a
//! command touches (and by its threads): age identities (loading them may run
//! `SOPS_AGE_KEY_CMD`), the OpenPGP decryptor (it reads the legacy keyring once), the Vault
//! client (it keeps its token). Each is set up on first use, so a command that never needs
//! a source pays nothing for it.

use crate::age::{Identities, IdentitySources, Ui};
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
    /// Parses a comma-separated list of source names. The sources not named follow in the
    /// default order; a source named twice is [`ErrorKind::DuplicateDecryptionKeyType`], an
    /// unknown one [`ErrorKind::InvalidKey`].
    pub fn parse(list: &str) -> Result<DecryptionOrder> {
        let mut order = Vec::new();
        for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            let s = Source::from_name(name).ok_or_else(|| {
                Error::new(
                    ErrorKind::InvalidKey,
                    format!("unknown key type {name:?} in the decryption order"),
                )
                .with_hint("use age, pgp and hc_vault")
            })?;
            if order.contains(&s) {
                return Err(Error::new(
                    ErrorKind::DuplicateDecryptionKeyType,
                    format!("the key type {name} is named twice in the decryption order"),
                ));
            }
            order.push(s);
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
        }
    }

    /// Who answers the requests of key sources (passphrases, plugin PINs): the
    /// [`IdentitySources::ui`] or the borrowed identities' [`Identities::ui`].
    pub fn ui(&self) -> &Ui {
        match &self.age {
            AgeIdentities::Lazy(sources, _) => &sources.ui,
            AgeIdentities::Given(ids) => ids.ui(),
        }
    }

    /// The OpenPGP decryptor, as sops sets it up (built now if not yet).
    pub fn pgp(&self) -> &pgp::Decryptor {
        self.pgp.get_or_init(pgp::Decryptor::new)
    }

    /// The Vault client from the environment (built now if not yet), or why there is none.
    pub fn vault(&self) -> std::result::Result<&hcvault::Client, &str> {
        self.vault
            .get_or_init(|| hcvault::Client::from_env().map_err(|e| e.to_string()))
            .as_ref()
            .map_err(String::as_str)
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
        assert_eq!(
            DecryptionOrder::parse("kms").unwrap_err().kind,
            ErrorKind::InvalidKey
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
