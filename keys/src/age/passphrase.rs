//! Passphrase-encrypted age identity files: an identity file sealed with `age -p` (one
//! `scrypt` stanza), binary or armored, which age (`age -d -i FILE`) and sops
//! (`SOPS_AGE_KEY_FILE`) read after asking for the passphrase; and writing one
//! (`sealbox keygen -p`).

use std::io::{Read, Write};

use age_core::secrecy::SecretString;
use zeroize::Zeroizing;

use sealbox_formats::{Error, ErrorKind, Result};

/// The largest decrypted identity file accepted (sops' limit).
const MAX_IDENTITY_FILE: u64 = 16 << 20;

/// The largest scrypt work factor accepted (log2 N), Go age's.
const MAX_WORK_FACTOR: u8 = 22;

/// Whether `bytes` is an age file rather than identity text: sops looks at the first 14
/// bytes (`age-encryption`, `-----BEGIN AGE`), and so does this.
pub(crate) fn is_age_file(bytes: &[u8]) -> bool {
    bytes.starts_with(b"age-encryption") || bytes.starts_with(b"-----BEGIN AGE")
}

/// The decryptor of an age file, binary or armored.
fn decryptor(
    bytes: &[u8],
) -> std::result::Result<age::Decryptor<impl std::io::BufRead + '_>, String> {
    age::Decryptor::new_buffered(age::armor::ArmoredReader::new(bytes)).map_err(|e| {
        format!(
            "not a valid age file: {}",
            super::plugin::one_line(&e.to_string())
        )
    })
}

/// Checks that an age file is sealed with a passphrase (not to a recipient), before anyone
/// is asked for one.
pub(crate) fn check_passphrase_file(bytes: &[u8]) -> std::result::Result<(), String> {
    if decryptor(bytes)?.is_scrypt() {
        Ok(())
    } else {
        Err("it is an age file sealed to a recipient, not with a passphrase (age -p); decrypt it first".into())
    }
}

/// Opens a passphrase-sealed age file: its plaintext (the identity text), or why not.
pub(crate) fn open(
    bytes: &[u8],
    passphrase: &str,
) -> std::result::Result<Zeroizing<String>, String> {
    let d = decryptor(bytes)?;
    let mut id = age::scrypt::Identity::new(SecretString::from(passphrase.to_string()));
    // Go's age (and so sops) accepts work factors up to 2^22; the age crate's default bound
    // depends on this machine's speed, and a file made on a faster one must still open.
    id.set_max_work_factor(MAX_WORK_FACTOR);
    let mut r = d
        .decrypt(std::iter::once(&id as &dyn age::Identity))
        .map_err(|e| match e {
            age::DecryptError::NoMatchingKeys | age::DecryptError::DecryptionFailed => {
                "incorrect passphrase".to_string()
            }
            e => format!(
                "failed to decrypt the identity file: {}",
                super::plugin::one_line(&e.to_string())
            ),
        })?;
    let mut out = Zeroizing::new(Vec::new());
    (&mut r)
        .take(MAX_IDENTITY_FILE + 1)
        .read_to_end(&mut out)
        .map_err(|e| format!("failed to decrypt the identity file: {e}"))?;
    if out.len() as u64 > MAX_IDENTITY_FILE {
        return Err("the decrypted identity file is too long".into());
    }
    String::from_utf8(std::mem::take(&mut *out))
        .map(Zeroizing::new)
        .map_err(|_| "the decrypted identity file is not text".into())
}

/// Seals identity text with `passphrase` as `age -p -a` does: an armored age file with one
/// `scrypt` stanza (work factor chosen by the age crate for about a second here).
pub fn seal_identity_file(text: &str, passphrase: &str) -> Result<Vec<u8>> {
    let fail = |e: &dyn std::fmt::Display| {
        Error::new(
            ErrorKind::Other,
            format!("failed to encrypt the identity with the passphrase: {e}"),
        )
    };
    let enc = age::Encryptor::with_user_passphrase(SecretString::from(passphrase.to_string()));
    let mut out = Vec::with_capacity(512);
    let armor = age::armor::ArmoredWriter::wrap_output(&mut out, age::armor::Format::AsciiArmor)
        .map_err(|e| fail(&e))?;
    let mut w = enc.wrap_output(armor).map_err(|e| fail(&e))?;
    w.write_all(text.as_bytes()).map_err(|e| fail(&e))?;
    w.finish().and_then(|a| a.finish()).map_err(|e| fail(&e))?;
    if !out.ends_with(b"\n") {
        out.push(b'\n');
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_identity_opens_with_its_passphrase_only() {
        let sealed = seal_identity_file("AGE-SECRET-KEY-1XYZ\n", "pw").unwrap();
        assert!(is_age_file(&sealed));
        assert!(sealed.starts_with(b"-----BEGIN AGE ENCRYPTED FILE-----\n"));
        check_passphrase_file(&sealed).unwrap();
        assert_eq!(
            open(&sealed, "pw").unwrap().as_str(),
            "AGE-SECRET-KEY-1XYZ\n"
        );
        assert_eq!(open(&sealed, "wrong").unwrap_err(), "incorrect passphrase");
        assert!(!is_age_file(b"# created\nAGE-SECRET-KEY-1"));
    }
}
