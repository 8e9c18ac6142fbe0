//! Key conversions: ssh-to-age (Mic92/ssh-to-age v1.x `convert.go`) and age key generation.
//!
//! * public: the ed25519 point's Montgomery u-coordinate `u = (1+y)/(1−y)`, 32 bytes
//!   little-endian, bech32 (BIP-173) with HRP `age`, lower case;
//! * private: `SHA-512(seed)[0..32]`, **not clamped** (X25519 clamps at use), bech32 with
//!   HRP `age-secret-key-`, then upper-cased.

use bech32::{Bech32, Hrp};
use curve25519_dalek::edwards::CompressedEdwardsY;
use secrecy::ExposeSecret;
use sha2::{Digest, Sha512};
use zeroize::{Zeroize, Zeroizing};

use sealbox_formats::{Error, ErrorKind, Result};

const PUBLIC_HRP: &str = "age";
const SECRET_HRP: &str = "age-secret-key-";

/// ssh-to-age: an OpenSSH `ssh-ed25519 AAAA… [comment]` public key line → `age1…`.
///
/// Any other key type is an error saying that only ed25519 keys convert.
pub fn ssh_to_age_public(line: &str) -> Result<String> {
    let line = line.trim();
    let key = ssh_key::PublicKey::from_openssh(line).map_err(|e| {
        let kind = line.split_whitespace().next().unwrap_or("");
        Error::new(
            ErrorKind::InvalidKey,
            format!("failed to parse SSH public key of type {kind:?}: {e}"),
        )
    })?;
    let ed = key
        .key_data()
        .ed25519()
        .ok_or_else(|| not_ed25519(&key.algorithm()))?;
    ed25519_public_to_age(&ed.0)
}

/// The error for an SSH key of another type than ed25519 (ssh-to-age's words).
fn not_ed25519(algorithm: &impl std::fmt::Display) -> Error {
    Error::new(
        ErrorKind::InvalidKey,
        format!("got {algorithm} key type but: only ed25519 keys are supported"),
    )
}

/// The `age1…` recipient for a raw 32-byte ed25519 public key.
pub(crate) fn ed25519_public_to_age(bytes: &[u8; 32]) -> Result<String> {
    let point = CompressedEdwardsY(*bytes).decompress().ok_or_else(|| {
        Error::new(
            ErrorKind::InvalidKey,
            "invalid ed25519 public key: not a curve point",
        )
    })?;
    let u = point.to_montgomery().to_bytes();
    let hrp = Hrp::parse(PUBLIC_HRP).expect("valid HRP");
    bech32::encode::<Bech32>(hrp, &u).map_err(|e| {
        Error::new(
            ErrorKind::InvalidKey,
            format!("bech32 encoding failed: {e}"),
        )
    })
}

/// ssh-to-age `-private-key`: an unencrypted OpenSSH ed25519 private key (PEM text) →
/// `AGE-SECRET-KEY-1…`.
///
/// Passphrase-protected keys and non-ed25519 keys are errors. Messages never contain key
/// material.
pub fn ssh_to_age_private(pem: &str) -> Result<Zeroizing<String>> {
    let key = ssh_key::PrivateKey::from_openssh(pem.trim_start()).map_err(|e| {
        Error::new(
            ErrorKind::InvalidKey,
            format!("failed to parse SSH private key: {e}"),
        )
    })?;
    if key.is_encrypted() {
        return Err(Error::new(
            ErrorKind::InvalidKey,
            "passphrase-protected SSH private keys are not supported yet",
        )
        .with_hint("remove the passphrase from a copy of the key (ssh-keygen -p)"));
    }
    let kp = key
        .key_data()
        .ed25519()
        .ok_or_else(|| not_ed25519(&key.algorithm()))?;
    let seed = Zeroizing::new(kp.private.to_bytes());
    Ok(x25519_secret_from_ed25519_seed(&seed))
}

/// `SHA-512(seed)[0..32]`, unclamped, as `AGE-SECRET-KEY-1…`.
pub(crate) fn x25519_secret_from_ed25519_seed(seed: &[u8; 32]) -> Zeroizing<String> {
    let mut digest = Sha512::digest(seed);
    let mut scalar = Zeroizing::new([0u8; 32]);
    scalar.copy_from_slice(&digest[..32]);
    digest.as_mut_slice().zeroize();
    encode_secret(&scalar)
}

/// Bech32-encodes 32 secret bytes as an upper-case `AGE-SECRET-KEY-1…` string.
fn encode_secret(bytes: &[u8; 32]) -> Zeroizing<String> {
    let hrp = Hrp::parse(SECRET_HRP).expect("valid HRP");
    let mut lower = bech32::encode::<Bech32>(hrp, bytes).expect("74 characters fit bech32");
    let upper = Zeroizing::new(lower.to_ascii_uppercase());
    lower.zeroize();
    upper
}

/// A fresh X25519 identity: (identity text `AGE-SECRET-KEY-1…`, recipient `age1…`).
pub fn generate_age_key() -> (Zeroizing<String>, String) {
    let id = age::x25519::Identity::generate();
    let secret = Zeroizing::new(id.to_string().expose_secret().to_string());
    (secret, id.to_public().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// sops-nix's test assets, kept in the repository (`tests/vectors/sops-nix`).
    const VEC_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/vectors/sops-nix");
    const ED_PUB_AGE: &str = "age1a8pk4akrdamj7nvqy3zywgtny8dxz7t5xzu7u8v9mhrayp9freqsqatyrs";
    const ED_SECRET_AGE: &str =
        "AGE-SECRET-KEY-1D88T3T22862F5SWX0V7M7CG9Q5T9FA90CCN9NVLJRCQATZ3WGL3QMR7CN4";

    fn vector(name: &str) -> String {
        std::fs::read_to_string(format!("{VEC_DIR}/{name}"))
            .unwrap_or_else(|e| panic!("{VEC_DIR}/{name}: {e}"))
    }

    #[test]
    fn keys_ssh_to_age_public_vector() {
        let publine = vector("ssh-ed25519-key.pub");
        assert_eq!(ssh_to_age_public(&publine).unwrap(), ED_PUB_AGE);
    }

    #[test]
    fn keys_ssh_to_age_private_vector() {
        let pem = vector("ssh-ed25519-key");
        let secret = ssh_to_age_private(&pem).unwrap();
        assert_eq!(secret.as_str(), ED_SECRET_AGE);
        // The converted secret's public key is the converted public key.
        let id: age::x25519::Identity = secret.parse().unwrap();
        assert_eq!(id.to_public().to_string(), ED_PUB_AGE);
    }

    #[test]
    fn keys_ssh_to_age_generated_keys_agree() {
        let key = ssh_key::PrivateKey::random(&mut rand::rngs::OsRng, ssh_key::Algorithm::Ed25519)
            .unwrap();
        let pem = key.to_openssh(ssh_key::LineEnding::LF).unwrap();
        let pubs = key.public_key().to_openssh().unwrap();
        let secret = ssh_to_age_private(&pem).unwrap();
        let id: age::x25519::Identity = secret.parse().unwrap();
        assert_eq!(
            id.to_public().to_string(),
            ssh_to_age_public(&pubs).unwrap()
        );
        assert_eq!(secret.len(), 74);
    }

    #[test]
    fn keys_ssh_to_age_rejects_non_ed25519() {
        let rsa = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQDE7nIXTGNuaRBN9toI/wNALuQec8mvlt0iJ7o3OaD2UvoKHJ7S8rmIn4FiQDUed/Vac3OhUibei1k+TBmm16u2Rj3klgWZOIDgi8d4vXKI5N3YBhxr3jsQ+kz1c+iZ4z/tTtz306+4K46XViVMWwyyg9j82Jn41mOAy9vdeDIfQ5fLeaGqn5KwlT61GNkZ+ozWK/ZNlQIlNCcoXxhJULIs9XrtczWyVBAea1nlDo0WHODePxoJjmsNHrpQXn5mf9O83xs10qfTUjnRUt48jRmedFy4tcra3QGmSTQ3KZne+wXXSb0cIpXLGvZjQSPHgG1hc4r3uBpiSzvesGLv79XL alice@rust";
        let err = ssh_to_age_public(rsa).unwrap_err();
        assert!(err.message.contains("only ed25519"), "{}", err.message);
        assert!(ssh_to_age_public("garbage").is_err());
    }

    #[test]
    fn keys_generate_age_key_roundtrip() {
        let (secret, recipient) = generate_age_key();
        assert!(secret.starts_with("AGE-SECRET-KEY-1"));
        assert!(recipient.starts_with("age1"));
        let id: age::x25519::Identity = secret.parse().unwrap();
        assert_eq!(id.to_public().to_string(), recipient);
    }
}
