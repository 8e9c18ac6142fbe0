//! SSH private keys as age identities: unencrypted or passphrase-protected OpenSSH keys
//! (ed25519, RSA) and PEM RSA keys, and both stanza kinds of an ed25519 key.
//!
//! **Both stanza kinds.** Users seal files to an SSH ed25519 key in two ways: to the key
//! itself (`ssh-ed25519 AAAA…`, an `ssh-ed25519` stanza) or to its ssh-to-age conversion
//! (`age1…`, an `X25519` stanza), which is what sops-nix's `sshKeyPaths` expects. sops
//! opens each only with the matching key source (getsops/sops#1999, Mic92/sops-nix#824).
//! An ed25519 key here carries its conversion too (the X25519 secret ssh-to-age derives,
//! `SHA-512(seed)[..32]`, which is also the scalar the `ssh-ed25519` stanza uses), so the
//! one key opens both. Nothing changes in what is written.
//!
//! **Passphrases.** A protected key is kept locked until a stanza is for it: an SSH stanza
//! whose tag is the key's (the tag is in the clear), or an X25519 stanza of an entry whose
//! recipient is the key's ssh-to-age conversion (the public key of an OpenSSH file is in
//! the clear too). Only then is the passphrase asked, once; the unlocked key (or the
//! failure) is kept for the process.

use std::sync::OnceLock;

use age_core::format::{FileKey, Stanza};
use zeroize::Zeroizing;

use super::convert::{ed25519_public_to_age, x25519_secret_from_ed25519_seed};
use super::ui::Ui;

/// A usable SSH key: the age-ssh identity and, for ed25519, its ssh-to-age conversion.
#[derive(Clone)]
pub(crate) struct Unlocked {
    ssh: age::ssh::Identity,
    converted: Option<age::x25519::Identity>,
}

impl Unlocked {
    /// `ssh` (unencrypted), and the conversion of `ed25519` (the same key, read by the
    /// ssh-key crate) when it is one.
    fn new(ssh: age::ssh::Identity, key: Option<&ssh_key::PrivateKey>) -> Unlocked {
        let converted = key.and_then(|k| k.key_data().ed25519()).and_then(|pair| {
            let seed = Zeroizing::new(pair.private.to_bytes());
            x25519_secret_from_ed25519_seed(&seed)
                .parse::<age::x25519::Identity>()
                .ok()
        });
        Unlocked { ssh, converted }
    }

    /// The file key from a stanza of either kind, if one is for this key.
    pub(crate) fn unwrap(&self, stanzas: &[Stanza]) -> Option<Result<FileKey, age::DecryptError>> {
        age::Identity::unwrap_stanzas(&self.ssh, stanzas).or_else(|| {
            self.converted
                .as_ref()
                .and_then(|x| age::Identity::unwrap_stanzas(x, stanzas))
        })
    }
}

/// A passphrase-protected key, unlocked on first need.
pub(crate) struct Locked {
    /// The file, as the prompt and messages name it.
    path: String,
    /// The key as read (its public half is in the clear).
    key: ssh_key::PrivateKey,
    /// The stanza type and tag (`ssh-ed25519`, Base64 of the first 4 bytes of SHA-256 of
    /// the public key's wire form).
    kind: String,
    tag: String,
    /// The ssh-to-age recipient of an ed25519 key.
    converted: Option<String>,
    ui: Ui,
    unlocked: OnceLock<Result<Unlocked, String>>,
}

impl Locked {
    /// The unlocked key, when the passphrase was given already.
    pub(crate) fn unlocked(&self) -> Option<&Result<Unlocked, String>> {
        self.unlocked.get()
    }

    /// Whether one of `stanzas` (of an entry sealed to `recipient`) is for this key.
    pub(crate) fn is_for(&self, stanzas: &[Stanza], recipient: &str) -> bool {
        stanzas.iter().any(|s| {
            (s.tag == self.kind && s.args.first() == Some(&self.tag))
                || (s.tag == "X25519" && self.converted.as_deref() == Some(recipient.trim()))
        })
    }

    /// Asks for the passphrase (once for the process) and unlocks the key.
    pub(crate) fn unlock(&self) -> &Result<Unlocked, String> {
        self.unlocked.get_or_init(|| {
            let prompt = format!("Enter passphrase for {:?}:", self.path);
            let pass = self.ui.secret(&self.path, &prompt).map_err(|why| {
                format!("passphrase-protected SSH key: cannot ask for its passphrase: {why}")
            })?;
            unlock_with(&self.key, &pass)
        })
    }
}

/// The key `key` (passphrase-protected) decrypted with `pass`.
fn unlock_with(key: &ssh_key::PrivateKey, pass: &str) -> Result<Unlocked, String> {
    if pass.is_empty() {
        return Err("passphrase-protected SSH key: no passphrase was given".into());
    }
    let open = key
        .decrypt(pass.as_bytes())
        .map_err(|_| "incorrect passphrase for this SSH key".to_string())?;
    let text = open
        .to_openssh(ssh_key::LineEnding::LF)
        .map_err(|e| format!("cannot re-encode the unlocked SSH key: {e}"))?;
    let ssh = age::ssh::Identity::from_buffer(std::io::BufReader::new(text.as_bytes()), None)
        .map_err(|_| "cannot read the unlocked SSH key".to_string())?;
    Ok(Unlocked::new(ssh, Some(&open)))
}

/// An SSH private key as read.
pub(crate) enum SshKey {
    /// Unencrypted.
    Unlocked(Unlocked),
    /// Passphrase-protected (OpenSSH format).
    Locked(Box<Locked>),
}

/// Whether `text` is (or, cut short, starts like) an OpenSSH private key file holding an
/// `ssh-rsa` key. Lenient like age's reader, which decodes the base64 lines before it looks
/// for the end marker.
fn is_openssh_rsa(text: &str) -> bool {
    use base64::Engine;
    let Some((_, body)) = text.split_once("-----BEGIN OPENSSH PRIVATE KEY-----") else {
        return false;
    };
    let body = body.split("-----END").next().unwrap_or(body);
    let b64: Vec<u8> = body
        .bytes()
        .filter(|c| c.is_ascii_alphanumeric() || *c == b'+' || *c == b'/')
        .collect();
    let lenient = base64::engine::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent)
            .with_decode_allow_trailing_bits(true),
    );
    let Ok(blob) = lenient.decode(&b64[..b64.len() / 4 * 4]) else {
        return false;
    };
    blob.windows(7).any(|w| w == b"ssh-rsa")
}

/// The stanza tag of a public key in SSH wire form.
fn stanza_tag(wire: &[u8]) -> String {
    use base64::Engine;
    use sha2::Digest;
    base64::engine::general_purpose::STANDARD_NO_PAD.encode(&sha2::Sha256::digest(wire)[..4])
}

/// Parses an SSH private key (OpenSSH ed25519 or RSA, or PEM RSA); `path` names it in
/// prompts and messages. A protected key asks `ui` for its passphrase when first needed.
pub(crate) fn parse(pem: &[u8], path: &str, ui: &Ui) -> Result<SshKey, String> {
    use age::ssh::{Identity as SshId, UnsupportedKey};
    use std::io::BufReader;
    let text = std::str::from_utf8(pem).map_err(|_| "not a PEM/OpenSSH text key".to_string())?;
    let text = text.trim_start();
    let parsed = ssh_key::PrivateKey::from_openssh(text);
    if is_openssh_rsa(text) && parsed.is_err() {
        // age 0.12's OpenSSH reader panics on an RSA integer made of zero bytes (found by
        // fuzzing); the ssh-key crate refuses such a key with an error, so RSA keys pass it
        // first.
        return Err("failed to parse SSH private key (invalid RSA key)".into());
    }
    let id = SshId::from_buffer(BufReader::new(text.as_bytes()), Some(path.into()))
        .map_err(|_| "failed to parse SSH private key (expected OpenSSH ed25519 or RSA)")?;
    match id {
        SshId::Unencrypted(_) => Ok(SshKey::Unlocked(Unlocked::new(id, parsed.ok().as_ref()))),
        SshId::Encrypted(_) => {
            // The public half of an OpenSSH file is in the clear.
            let key = parsed.map_err(|e| format!("failed to read the SSH key: {e}"))?;
            let public = key.public_key();
            let wire = public
                .to_bytes()
                .map_err(|e| format!("failed to encode the SSH public key: {e}"))?;
            let converted = match public.key_data().ed25519() {
                Some(ed) => Some(ed25519_public_to_age(&ed.0).map_err(|e| e.message)?),
                None => None,
            };
            Ok(SshKey::Locked(Box::new(Locked {
                path: path.to_string(),
                kind: public.algorithm().as_str().to_string(),
                tag: stanza_tag(&wire),
                converted,
                key,
                ui: ui.clone(),
                unlocked: OnceLock::new(),
            })))
        }
        SshId::Unsupported(UnsupportedKey::EncryptedPem) => Err(
            "passphrase-protected PEM RSA keys (Proc-Type: 4,ENCRYPTED) are not supported; convert a copy to the OpenSSH format: ssh-keygen -p -f KEY"
                .into(),
        ),
        SshId::Unsupported(UnsupportedKey::EncryptedSsh(c)) => Err(format!(
            "passphrase-protected SSH keys encrypted with {c} are not supported"
        )),
        SshId::Unsupported(UnsupportedKey::Type(t) | UnsupportedKey::Hardware(t)) => Err(format!(
            "unsupported SSH key type {t:?} (only ed25519 and rsa)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stanza_tag_is_what_age_writes() {
        // The age-ssh recipient of this key writes `-> ssh-ed25519 <tag> …`.
        let k = ssh_key::PrivateKey::random(&mut rand::rngs::OsRng, ssh_key::Algorithm::Ed25519)
            .unwrap();
        let line = k.public_key().to_openssh().unwrap();
        let r: age::ssh::Recipient = line.parse().unwrap();
        let mut out = vec![];
        let enc =
            age::Encryptor::with_recipients(std::iter::once(&r as &dyn age::Recipient)).unwrap();
        let w = enc.wrap_output(&mut out).unwrap();
        w.finish().unwrap();
        let header = String::from_utf8_lossy(&out);
        let tag = stanza_tag(&k.public_key().to_bytes().unwrap());
        assert!(
            header.contains(&format!("-> ssh-ed25519 {tag} ")),
            "{header}"
        );
    }
}
