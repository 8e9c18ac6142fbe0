//! OpenPGP secret keys held in memory, and decrypting sops' `enc` messages with them,
//! in-process (rpgp), with no gpg and no gpg-agent.
//!
//! This is what sops does first on every decryption (`decryptWithOpenPGP`: read the legacy
//! `secring.gpg` of the GnuPG home with Go's OpenPGP library) and what sops-nix's
//! `sshKeyPaths` relies on: it writes the keys derived from SSH host keys into such a
//! `secring.gpg`, so at boot sops decrypts without gpg. sealbox keeps those keys in a
//! [`Keyring`] instead of a file.
//!
//! Only unprotected secret keys are used here. sops would ask gpg-agent (or the terminal)
//! for a protected legacy key's passphrase; we leave protected keys to the gpg step that
//! follows, where gpg-agent and pinentry do that job (and smartcards work).

use std::fmt;
use std::io::Read;

use pgp::composed::{Esk, Message, PublicOrSecret, SignedSecretKey};
use pgp::types::{KeyDetails, KeyId, Password};
use zeroize::Zeroizing;

use super::error::{Error, Result};

/// The most plaintext an `enc` message may hold: a data key is 32 bytes and a Shamir
/// share 33; anything much larger is not a sops data key.
const MAX_PLAINTEXT: u64 = 1024;

/// The most bytes of keys read into a keyring at once (a legacy `secring.gpg`, an armored
/// file): far more than any real keyring of secret keys.
pub const MAX_KEYRING_BYTES: usize = 16 << 20;

/// OpenPGP secret keys in memory. Its `Debug` shows fingerprints only.
#[derive(Default, Clone)]
pub struct Keyring {
    keys: Vec<SignedSecretKey>,
}

/// What [`Keyring`]'s `add_*` methods added: one line of sops-nix's key-import log each.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Imported {
    /// The primary key's v4 fingerprint, 40 upper-case hex digits (as sops' `fp` holds it).
    pub fingerprint: String,
    /// Whether the secret key material is passphrase-protected (then it cannot be used
    /// in-process).
    pub protected: bool,
}

impl Imported {
    /// sops-nix's log line for an SSH key turned into an OpenPGP key, without its
    /// `program: ` prefix: `Imported SOURCE as GPG key with fingerprint fp` (sops-nix prints
    /// the fingerprint in lower case).
    pub fn log_line(&self, source: &str) -> String {
        format!(
            "Imported {source} as GPG key with fingerprint {}",
            self.fingerprint.to_ascii_lowercase()
        )
    }
}

fn fingerprint_of(k: &SignedSecretKey) -> String {
    format!("{:X}", k.primary_key.fingerprint())
}

/// A key ID as gpg prints it: 16 upper-case hex digits.
fn hex_id(id: &KeyId) -> String {
    id.as_ref().iter().map(|b| format!("{b:02X}")).collect()
}

fn info(k: &SignedSecretKey) -> Imported {
    Imported {
        fingerprint: fingerprint_of(k),
        protected: k.primary_key.secret_params().is_encrypted()
            && k.secret_subkeys
                .iter()
                .all(|s| s.key.secret_params().is_encrypted()),
    }
}

/// The armor blocks of ASCII-armored data (gpg writes one per `--export` call and files
/// often hold several, one after the other); binary data is one block.
fn armor_blocks(data: &[u8]) -> Vec<&[u8]> {
    const BEGIN: &[u8] = b"-----BEGIN PGP ";
    let starts: Vec<usize> = (0..data.len())
        .filter(|&i| (i == 0 || data[i - 1] == b'\n') && data[i..].starts_with(BEGIN))
        .collect();
    if starts.is_empty() {
        return vec![data];
    }
    starts
        .iter()
        .enumerate()
        .map(|(n, &s)| &data[s..starts.get(n + 1).copied().unwrap_or(data.len())])
        .collect()
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keyring")
            .field("fingerprints", &self.fingerprints())
            .finish()
    }
}

impl Keyring {
    /// An empty keyring.
    pub fn new() -> Keyring {
        Keyring::default()
    }

    /// Whether it holds no key.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// How many keys it holds.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// The primary-key fingerprints, upper-case hex, in the order added.
    pub fn fingerprints(&self) -> Vec<String> {
        self.keys.iter().map(fingerprint_of).collect()
    }

    /// Adds the OpenPGP key sops-nix derives from an SSH RSA private key (`sshKeyPaths`):
    /// the same fingerprint that `ssh-to-pgp` prints and users encrypt to. `what` names
    /// the key in errors (its path). The caller prints [`Imported::log_line`] when the
    /// user asked for key-import logging (sops-nix's `logging.keyImport`); here it is only
    /// logged at `debug` level.
    pub fn add_ssh_private_key(&mut self, pem: &[u8], what: &str) -> Result<Imported> {
        let key = super::ssh::ssh_rsa_to_openpgp(pem, what)?;
        let imported = info(&key);
        tracing::debug!("{}", imported.log_line(what));
        self.keys.push(key);
        Ok(imported)
    }

    /// Adds every secret key of OpenPGP data, ASCII-armored (`gpg --export-secret-keys -a`,
    /// a `key.asc`) or binary (a legacy `secring.gpg`). Public keys in it are skipped (a
    /// legacy `pubring.gpg` holds only those). `what` names the data in errors.
    pub fn add_keys(&mut self, data: &[u8], what: &str) -> Result<Vec<Imported>> {
        let bad = |detail: String| Error::BadKey {
            what: what.to_string(),
            detail,
        };
        if data.len() > MAX_KEYRING_BYTES {
            return Err(bad(format!(
                "larger than {} MiB, not a keyring of secret keys",
                MAX_KEYRING_BYTES >> 20
            )));
        }
        let mut added = Vec::new();
        for block in armor_blocks(data) {
            let (iter, _) = PublicOrSecret::from_reader_many(block)
                .map_err(|e| bad(format!("not OpenPGP key data: {e}")))?;
            for item in iter {
                match item {
                    Ok(PublicOrSecret::Secret(k)) => {
                        added.push(info(&k));
                        self.keys.push(k);
                    }
                    Ok(PublicOrSecret::Public(_)) => {}
                    // A key rpgp cannot parse (an old v3 key, an unknown algorithm) is
                    // skipped, as sops' loadRing skips unsupported keys.
                    Err(e) => tracing::debug!("{what}: skipping an unreadable key: {e}"),
                }
            }
        }
        Ok(added)
    }

    /// Decrypts a sops `enc` value (an ASCII-armored OpenPGP message) with the keys held:
    /// the data key, or the error. Only messages integrity-protected with an MDC or AEAD
    /// are accepted (what gpg and sops write); the plaintext is bounded to 1 KiB.
    pub fn decrypt(&self, enc: &str) -> Result<Zeroizing<Vec<u8>>> {
        let (msg, _) = Message::from_string(enc).map_err(|e| Error::BadMessage(format!("{e}")))?;
        let Message::Encrypted { esk, .. } = &msg else {
            return Err(Error::BadMessage("it is not an encrypted message".into()));
        };
        let mut ids: Vec<KeyId> = Vec::new();
        let mut any_recipient = false;
        for e in esk {
            if let Esk::PublicKeyEncryptedSessionKey(p) = e {
                match p.id() {
                    Ok(id) if !id.is_wildcard() => ids.push(*id),
                    // A hidden recipient (`gpg -R`) or a v6 PKESK: any key may fit.
                    _ => any_recipient = true,
                }
            }
        }
        let key_ids: Vec<String> = ids.iter().map(hex_id).collect();
        let matches = |k: &SignedSecretKey| {
            any_recipient
                || ids.contains(&k.primary_key.legacy_key_id())
                || k.secret_subkeys
                    .iter()
                    .any(|s| ids.contains(&s.key.legacy_key_id()))
        };
        let candidates: Vec<&SignedSecretKey> = self.keys.iter().filter(|k| matches(k)).collect();
        if candidates.is_empty() {
            return Err(Error::NoSecretKey { key_ids });
        }
        let usable: Vec<&SignedSecretKey> = candidates
            .iter()
            .copied()
            .filter(|k| !info(k).protected)
            .collect();
        if usable.is_empty() {
            return Err(Error::Passphrase {
                detail: format!(
                    "the secret key {} is passphrase-protected; keys in memory must be \
                     unprotected (use gpg with gpg-agent for this key)",
                    fingerprint_of(candidates[0])
                ),
            });
        }
        let empty = Password::empty();
        let passwords = vec![&empty; usable.len()];
        let mut msg = msg
            .decrypt_with_keys(passwords, usable)
            .map_err(|_| Error::DecryptionFailed)?;
        if msg.is_compressed() {
            msg = msg
                .decompress()
                .map_err(|e| Error::BadMessage(format!("cannot decompress: {e}")))?;
        }
        let mut out = Zeroizing::new(Vec::new());
        (&mut msg)
            .take(MAX_PLAINTEXT + 1)
            .read_to_end(&mut out)
            // Integrity (MDC/AEAD) failures surface here, at the end of the data.
            .map_err(|_| Error::DecryptionFailed)?;
        if out.len() as u64 > MAX_PLAINTEXT {
            return Err(Error::BadMessage(format!(
                "it holds more than {MAX_PLAINTEXT} bytes, not a sops data key"
            )));
        }
        if out.is_empty() {
            return Err(Error::EmptyPlaintext);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_debug_form_shows_fingerprints_and_no_key_material() {
        let mut k = Keyring::new();
        let pem = include_bytes!("../../../tests/vectors/sops-nix/ssh-key");
        k.add_ssh_private_key(pem, "ssh-key").unwrap();
        let d = format!("{k:?}");
        assert_eq!(
            d,
            "Keyring { fingerprints: [\"2504791468B153B8A3963CC97BA53D1919C5DFD4\"] }"
        );
    }

    #[test]
    fn the_import_log_line_is_sops_nix_wording_with_a_lower_case_fingerprint() {
        let i = Imported {
            fingerprint: "2504791468B153B8A3963CC97BA53D1919C5DFD4".into(),
            protected: false,
        };
        assert_eq!(
            i.log_line("/etc/ssh/ssh_host_rsa_key"),
            "Imported /etc/ssh/ssh_host_rsa_key as GPG key with fingerprint \
             2504791468b153b8a3963cc97ba53d1919c5dfd4"
        );
    }

    #[test]
    fn every_armor_block_of_a_file_is_read() {
        let asc = include_bytes!("../../../tests/vectors/sops-3.13/sops_functional_tests_key.asc");
        assert_eq!(armor_blocks(asc).len(), 5);
        let mut k = Keyring::new();
        let added = k.add_keys(asc, "sops_functional_tests_key.asc").unwrap();
        // Two secret keys; the three public-key blocks add nothing.
        assert_eq!(added.len(), 2, "{added:?}");
        assert_eq!(
            k.fingerprints(),
            [
                "FBC7B9E2A4F9289AC0C1D4843D16CEE4A27381B4",
                "D7229043384BCC60326C6FB9D8720D957C3D3074"
            ]
        );
        assert!(added.iter().all(|i| !i.protected));
        assert_eq!(armor_blocks(b"\x99binary").len(), 1);
    }

    #[test]
    fn text_that_is_no_pgp_message_is_a_bad_message() {
        let k = Keyring::new();
        assert!(matches!(k.decrypt("hello"), Err(Error::BadMessage(_))));
    }
}
