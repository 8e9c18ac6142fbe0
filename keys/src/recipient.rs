//! A recipient of any key source, as the command line and `.sops.yaml` name it.

use crate::{age, hcvault, pgp};
use sealbox_formats::{Error, ErrorKind, Result};
use std::fmt;

/// A key source sealbox can talk to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Source {
    /// `age`: X25519 and SSH recipients.
    Age,
    /// `pgp`: OpenPGP keys, through gpg or in-process.
    Pgp,
    /// `hc_vault`: a Vault/OpenBao transit key.
    HcVault,
}

impl Source {
    /// Every source, in sops' default decryption order (age before pgp).
    pub const ALL: [Source; 3] = [Source::Age, Source::Pgp, Source::HcVault];

    /// The source's name in the metadata and in `--decryption-order`.
    pub fn name(self) -> &'static str {
        match self {
            Source::Age => "age",
            Source::Pgp => "pgp",
            Source::HcVault => "hc_vault",
        }
    }

    /// The source named `s` (`age`, `pgp`, `hc_vault`).
    pub fn from_name(s: &str) -> Option<Source> {
        Source::ALL.into_iter().find(|src| src.name() == s)
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A master key to wrap a data key for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Recipient {
    /// An age or SSH recipient.
    Age(age::Recipient),
    /// An OpenPGP key, by fingerprint (normalised as sops does).
    Pgp(String),
    /// A transit key.
    HcVault(hcvault::TransitKey),
}

impl Recipient {
    /// Parses a recipient of `source` as written on the command line or in `.sops.yaml`
    /// (age: `age1…`/`ssh-…`; pgp: a fingerprint; hc_vault: a transit URI).
    pub fn parse(source: Source, s: &str) -> Result<Recipient> {
        match source {
            Source::Age => age::Recipient::parse(s).map(Recipient::Age),
            Source::Pgp => Ok(Recipient::Pgp(pgp::normalize_fingerprint(s))),
            Source::HcVault => hcvault::parse_transit_uri(s)
                .map(Recipient::HcVault)
                .map_err(|e| Error::new(ErrorKind::InvalidKey, e.to_string())),
        }
    }

    /// The source of the recipient.
    pub fn source(&self) -> Source {
        match self {
            Recipient::Age(_) => Source::Age,
            Recipient::Pgp(_) => Source::Pgp,
            Recipient::HcVault(_) => Source::HcVault,
        }
    }

    /// The recipient as the file's metadata names it (age recipient, fingerprint, URI).
    pub fn id(&self) -> String {
        match self {
            Recipient::Age(r) => r.as_str().to_string(),
            Recipient::Pgp(fp) => fp.clone(),
            Recipient::HcVault(k) => k.uri(),
        }
    }
}

impl From<age::Recipient> for Recipient {
    fn from(r: age::Recipient) -> Self {
        Recipient::Age(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const AGE: &str = "age1qfxn8ltsunju9p829z05ehj6mwq9l5x2v3jck8z3vdvywezcxdnqdnzhld";

    #[test]
    fn each_source_parses_its_own_recipient_form() {
        let a = Recipient::parse(Source::Age, AGE).unwrap();
        assert_eq!((a.source(), a.id().as_str()), (Source::Age, AGE));
        let p = Recipient::parse(Source::Pgp, "FBC7 B9E2 A4F9 289A").unwrap();
        assert_eq!(
            (p.source(), p.id().as_str()),
            (Source::Pgp, "FBC7B9E2A4F9289A")
        );
        let v = Recipient::parse(Source::HcVault, "https://v:8200/v1/sops/keys/k").unwrap();
        assert_eq!(v.source(), Source::HcVault);
        assert_eq!(v.id(), "https://v:8200/v1/sops/keys/k");
        assert!(Recipient::parse(Source::Age, "nope").is_err());
        let e = Recipient::parse(Source::HcVault, "https://v:8200/nope").unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidKey);
    }

    #[test]
    fn source_names_round_trip() {
        for s in Source::ALL {
            assert_eq!(Source::from_name(s.name()), Some(s));
        }
        assert_eq!(Source::from_name("kms"), None);
    }
}
