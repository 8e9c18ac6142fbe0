//! SSH RSA host keys as OpenPGP keys, as sops-nix's `sshKeyPaths` makes them.
//!
//! sops-nix (`sops-install-secrets`, package `sshkeys`) wraps the RSA key of a host's SSH
//! private key in an OpenPGP v4 primary key whose creation time is the Unix epoch ("to
//! make keys reproducible"), and users encrypt to that key's fingerprint (they get it from
//! `ssh-to-pgp` or from sops-nix's log line). A v4 fingerprint is the SHA-1 of the public
//! key packet body, `0x99 ‖ len ‖ 4 ‖ created (4 bytes) ‖ algorithm ‖ MPI(n) ‖ MPI(e)`: it
//! depends only on the RSA modulus and exponent, the algorithm (1, RSA) and the creation
//! time (0). The user ID and self-signature sops-nix adds do not enter it, so a bare
//! primary key built from the same RSA numbers has the same fingerprint and the same key
//! ID, which is what a sops `enc` message's PKESK packet names. Nothing is written to disk:
//! the key lives in a [`Keyring`](super::Keyring) in memory, and no gpg runs.
//!
//! Accepted like Go's `ssh.ParseRawPrivateKey`: OpenSSH (`BEGIN OPENSSH PRIVATE KEY`),
//! PKCS#1 (`BEGIN RSA PRIVATE KEY`) and PKCS#8 (`BEGIN PRIVATE KEY`), unencrypted. Other key
//! types are refused as sops-nix refuses them (ed25519 host keys go through ssh-to-age).

use pgp::composed::{SignedKeyDetails, SignedSecretKey};
use pgp::crypto::public_key::PublicKeyAlgorithm;
use pgp::packet::{PubKeyInner, PublicKey, SecretKey};
use pgp::types::{KeyVersion, PlainSecretParams, PublicParams, SecretParams, Timestamp};
use rsa::pkcs1::DecodeRsaPrivateKey;
use rsa::pkcs8::DecodePrivateKey;
use zeroize::Zeroizing;

use super::error::{Error, Result};

/// Reads the RSA private key of an SSH private key file's text.
fn rsa_private_key(pem: &[u8], what: &str) -> Result<rsa::RsaPrivateKey> {
    let bad = |detail: String| Error::BadKey {
        what: what.to_string(),
        detail,
    };
    let text = Zeroizing::new(
        std::str::from_utf8(pem)
            .map_err(|_| bad("not a text (PEM) SSH private key".into()))?
            .trim()
            .to_string(),
    );
    if text.starts_with("-----BEGIN OPENSSH PRIVATE KEY-----") {
        let key = ssh_key::PrivateKey::from_openssh(text.as_bytes())
            .map_err(|e| bad(format!("not an OpenSSH private key: {e}")))?;
        if key.is_encrypted() {
            return Err(bad(
                "the SSH key is passphrase-protected (host keys are not)".into(),
            ));
        }
        let Some(rsa) = key.key_data().rsa() else {
            return Err(bad(format!(
                "only RSA SSH keys can be OpenPGP keys, this is {} (use it as an age key \
                 instead: ssh-to-age)",
                key.algorithm()
            )));
        };
        // Not `rsa::RsaPrivateKey::try_from(&RsaKeypair)`: ssh-key 0.6.7 passes `p` twice
        // as the primes there, and key validation then fails.
        let int = |m: &ssh_key::Mpint| {
            m.as_positive_bytes()
                .map(rsa::BigUint::from_bytes_be)
                .ok_or_else(|| bad("bad RSA key: a negative number".into()))
        };
        return rsa::RsaPrivateKey::from_components(
            int(&rsa.public.n)?,
            int(&rsa.public.e)?,
            int(&rsa.private.d)?,
            vec![int(&rsa.private.p)?, int(&rsa.private.q)?],
        )
        .map_err(|e| bad(format!("bad RSA key: {e}")));
    }
    if text.starts_with("-----BEGIN RSA PRIVATE KEY-----") {
        if text.contains("Proc-Type: 4,ENCRYPTED") {
            return Err(bad("the PEM key is passphrase-protected".into()));
        }
        return rsa::RsaPrivateKey::from_pkcs1_pem(&text)
            .map_err(|e| bad(format!("not a PKCS#1 RSA private key: {e}")));
    }
    if text.starts_with("-----BEGIN PRIVATE KEY-----") {
        return rsa::RsaPrivateKey::from_pkcs8_pem(&text)
            .map_err(|e| bad(format!("not a PKCS#8 RSA private key: {e}")));
    }
    Err(bad(
        "not an SSH private key (expected BEGIN OPENSSH PRIVATE KEY, BEGIN RSA PRIVATE KEY \
         or BEGIN PRIVATE KEY)"
            .into(),
    ))
}

/// The OpenPGP secret key sops-nix derives from an SSH RSA private key: a v4 RSA primary
/// key created at the Unix epoch, with no user ID or subkey (none is needed to decrypt,
/// and none changes the fingerprint). `what` names the key in errors (e.g. its path).
pub(crate) fn ssh_rsa_to_openpgp(pem: &[u8], what: &str) -> Result<SignedSecretKey> {
    let key = rsa_private_key(pem, what)?;
    let bad = |e: pgp::errors::Error| Error::BadKey {
        what: what.to_string(),
        detail: format!("cannot make an OpenPGP key of it: {e}"),
    };
    let inner = PubKeyInner::new(
        KeyVersion::V4,
        PublicKeyAlgorithm::RSA,
        Timestamp::from_secs(0),
        None,
        PublicParams::RSA(key.to_public_key().into()),
    )
    .map_err(bad)?;
    let public = PublicKey::from_inner(inner).map_err(bad)?;
    let secret = SecretKey::new(
        public,
        SecretParams::Plain(PlainSecretParams::RSA(key.into())),
    )
    .map_err(bad)?;
    Ok(SignedSecretKey::new(
        secret,
        SignedKeyDetails::new(Vec::new(), Vec::new(), Vec::new(), Vec::new()),
        Vec::new(),
        Vec::new(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use pgp::types::KeyDetails;

    const SSH_KEY: &str = include_str!("../../../tests/vectors/sops-nix/ssh-key");

    #[test]
    fn the_sops_nix_rsa_host_key_converts_to_the_fingerprint_users_encrypted_to() {
        let k = ssh_rsa_to_openpgp(SSH_KEY.as_bytes(), "ssh-key").unwrap();
        assert_eq!(
            format!("{:X}", k.primary_key.fingerprint()),
            "2504791468B153B8A3963CC97BA53D1919C5DFD4"
        );
    }

    #[test]
    fn the_same_rsa_key_in_pkcs1_and_pkcs8_pem_gives_the_same_fingerprint() {
        use rsa::pkcs1::EncodeRsaPrivateKey;
        use rsa::pkcs8::EncodePrivateKey;
        let key = rsa_private_key(SSH_KEY.as_bytes(), "ssh-key").unwrap();
        let pkcs1 = key.to_pkcs1_pem(rsa::pkcs8::LineEnding::LF).unwrap();
        let pkcs8 = key.to_pkcs8_pem(rsa::pkcs8::LineEnding::LF).unwrap();
        for pem in [pkcs1.as_bytes(), pkcs8.as_bytes()] {
            let k = ssh_rsa_to_openpgp(pem, "pem").unwrap();
            assert_eq!(
                format!("{:X}", k.primary_key.fingerprint()),
                "2504791468B153B8A3963CC97BA53D1919C5DFD4"
            );
        }
    }

    #[test]
    fn an_ed25519_host_key_is_refused_with_a_pointer_to_ssh_to_age() {
        let ed = include_str!("../../../tests/vectors/sops-nix/ssh-ed25519-key");
        let e = ssh_rsa_to_openpgp(ed.as_bytes(), "ssh-ed25519-key")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("ssh-ed25519-key") && e.contains("only RSA") && e.contains("ssh-to-age"),
            "{e}"
        );
    }

    #[test]
    fn text_that_is_no_ssh_key_is_refused_naming_the_file() {
        let e = ssh_rsa_to_openpgp(b"hello", "/etc/ssh/x")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("/etc/ssh/x") && e.contains("not an SSH private key"),
            "{e}"
        );
    }
}
