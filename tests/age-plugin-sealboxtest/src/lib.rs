//! The keys of `age-plugin-sealboxtest`, the age plugin sealbox's tests run: how they are
//! encoded, how a file key is wrapped to one, and which user interaction each one asks for.
//!
//! Real plugins (YubiKeys, TPMs, cloud KMSs) need hardware or accounts a test machine does
//! not have. This one needs nothing, so the tests can prove that sealbox and the real
//! peers (age, sops) run a plugin from `PATH`, hand its UI requests to the user, and fail
//! clearly where nobody can answer. Every behaviour is fixed by the key (or an environment
//! variable), so a test knows exactly what the plugin will ask.
//!
//! * Identity `AGE-PLUGIN-SEALBOXTEST-1…`: Bech32 of `mode byte || 32-byte seed`.
//! * Recipient `age1sealboxtest1…`: Bech32 of the X25519 public key of the seed. The mode
//!   is not in the recipient: identities of one seed in different modes open the same
//!   files, so one file can be opened silently and with a PIN.
//! * Stanza `-> sealboxtest <tag> <ephemeral share>` with a 32-byte body: the file key
//!   sealed like age's own X25519 recipient (ephemeral X25519, HKDF-SHA256, ChaCha20-
//!   Poly1305) under this plugin's own label. `tag` is the first 4 bytes of the recipient
//!   (Base64), so an identity knows a stanza is its own before it asks for anything, as a
//!   hardware plugin does before it asks for a PIN.
//!
//! These keys protect nothing: the PIN is public and the wrap is only there so a file
//! really does need the right key. Never use them for real secrets.

use age_core::format::{FileKey, Stanza, FILE_KEY_BYTES};
use age_core::primitives::{aead_decrypt, aead_encrypt, bech32_decode, bech32_encode, hkdf};
use age_core::secrecy::ExposeSecret;
use base64::prelude::{Engine, BASE64_STANDARD_NO_PAD};
use x25519_dalek::{PublicKey, StaticSecret};

/// The plugin's name: binary `age-plugin-sealboxtest`, the HRPs below, the stanza tag.
pub const PLUGIN_NAME: &str = "sealboxtest";
/// The Bech32 HRP of recipients (`age1` + name).
pub const RECIPIENT_HRP: &str = "age1sealboxtest";
/// The Bech32 HRP of identities (`AGE-PLUGIN-` + NAME + `-`), written in upper case.
pub const IDENTITY_HRP: &str = "AGE-PLUGIN-SEALBOXTEST-";
/// The recipient stanza's tag.
pub const STANZA_TAG: &str = "sealboxtest";
/// The PIN that keys in [`Mode::Pin`] accept; any other answer fails.
pub const PIN: &str = "123456";
/// The public value that keys in [`Mode::Public`] accept.
pub const PUBLIC_VALUE: &str = "open-sesame";
/// The environment variable that overrides every identity's mode when unwrapping.
pub const ENV_MODE: &str = "SEALBOXTEST_MODE";
/// The environment variable that makes wrapping (encryption) interact too (default silent).
pub const ENV_WRAP_MODE: &str = "SEALBOXTEST_WRAP_MODE";
/// The environment variable naming a file the plugin appends one line to per request.
pub const ENV_LOG: &str = "SEALBOXTEST_LOG";

/// HKDF label of the wrap key (distinct from age's X25519 label, so a sealboxtest stanza
/// can never be mistaken for an X25519 one).
const WRAP_LABEL: &[u8] = b"age-plugin-sealboxtest wrap";

/// What the plugin asks the user before it unwraps with a key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Asks nothing.
    Silent = 0,
    /// Shows a message ([`Mode::message`]), then unwraps.
    Message = 1,
    /// Requests a secret (the PIN [`PIN`]); a wrong answer fails.
    Pin = 2,
    /// Requests a yes/no confirmation; "no" fails.
    Confirm = 3,
    /// Requests a non-secret value ([`PUBLIC_VALUE`]); a wrong answer fails.
    Public = 4,
    /// Always fails with an identity error, asking nothing.
    Fail = 5,
}

impl Mode {
    /// Every mode, in byte order.
    pub const ALL: [Mode; 6] = [
        Mode::Silent,
        Mode::Message,
        Mode::Pin,
        Mode::Confirm,
        Mode::Public,
        Mode::Fail,
    ];

    /// The mode's name on the command line and in `SEALBOXTEST_MODE`.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Silent => "silent",
            Mode::Message => "message",
            Mode::Pin => "pin",
            Mode::Confirm => "confirm",
            Mode::Public => "public",
            Mode::Fail => "fail",
        }
    }

    /// The mode called `name`.
    pub fn from_name(name: &str) -> Option<Mode> {
        Mode::ALL.into_iter().find(|m| m.name() == name)
    }

    fn from_byte(b: u8) -> Option<Mode> {
        Mode::ALL.into_iter().find(|m| *m as u8 == b)
    }
}

/// The texts the plugin sends; tests match on them.
pub mod text {
    /// The `msg` of [`super::Mode::Message`].
    pub fn message(key: &str) -> String {
        format!("sealboxtest key {key}: touch the imaginary token")
    }
    /// The `request-secret` of [`super::Mode::Pin`].
    pub fn pin_prompt(key: &str) -> String {
        format!("Enter the PIN of sealboxtest key {key}:")
    }
    /// The `confirm` of [`super::Mode::Confirm`] (answers "yes" / "no").
    pub fn confirm_prompt(key: &str) -> String {
        format!("Use sealboxtest key {key}?")
    }
    /// The `request-public` of [`super::Mode::Public`].
    pub fn public_prompt(key: &str) -> String {
        format!("Type the public test value to use sealboxtest key {key}:")
    }
}

/// A recipient: an X25519 public key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recipient(pub [u8; 32]);

/// An identity: a mode and a 32-byte seed (the X25519 secret).
#[derive(Clone)]
pub struct Identity {
    pub mode: Mode,
    pub seed: [u8; 32],
}

/// Shows the mode and the recipient, not the seed (a habit worth keeping even here).
impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Identity")
            .field("mode", &self.mode)
            .field("recipient", &self.recipient().short_id())
            .finish_non_exhaustive()
    }
}

impl Recipient {
    /// `age1sealboxtest1…`.
    pub fn encode(&self) -> String {
        bech32_encode(hrp(RECIPIENT_HRP), &self.0)
    }

    /// Parses `age1sealboxtest1…` (or its data bytes as the plugin protocol hands them).
    pub fn parse(s: &str) -> Result<Recipient, String> {
        let bytes = decode(s, RECIPIENT_HRP)?;
        Recipient::from_bytes(&bytes)
    }

    /// The recipient from its Bech32 data.
    pub fn from_bytes(bytes: &[u8]) -> Result<Recipient, String> {
        let pk: [u8; 32] = bytes.try_into().map_err(|_| {
            format!(
                "a sealboxtest recipient holds 32 bytes, this one {}",
                bytes.len()
            )
        })?;
        Ok(Recipient(pk))
    }

    /// The short name used in the plugin's prompts: the first 4 bytes in hex.
    pub fn short_id(&self) -> String {
        self.0[..4].iter().map(|b| format!("{b:02x}")).collect()
    }

    fn tag(&self) -> String {
        BASE64_STANDARD_NO_PAD.encode(&self.0[..4])
    }

    /// Wraps `file_key` to this recipient: a fresh ephemeral key each time (from
    /// `ephemeral`, 32 random bytes), so two wraps differ but both open.
    pub fn wrap(&self, file_key: &FileKey, ephemeral: [u8; 32]) -> Stanza {
        let esk = StaticSecret::from(ephemeral);
        let epk = PublicKey::from(&esk);
        let shared = esk.diffie_hellman(&PublicKey::from(self.0));
        let key = wrap_key(epk.as_bytes(), &self.0, shared.as_bytes());
        Stanza {
            tag: STANZA_TAG.to_string(),
            args: vec![self.tag(), BASE64_STANDARD_NO_PAD.encode(epk.as_bytes())],
            body: aead_encrypt(&key, file_key.expose_secret()),
        }
    }
}

impl Identity {
    /// `AGE-PLUGIN-SEALBOXTEST-1…` (upper case, as age writes identities).
    pub fn encode(&self) -> String {
        let mut data = Vec::with_capacity(33);
        data.push(self.mode as u8);
        data.extend_from_slice(&self.seed);
        bech32_encode(hrp(&IDENTITY_HRP.to_ascii_lowercase()), &data).to_ascii_uppercase()
    }

    /// Parses `AGE-PLUGIN-SEALBOXTEST-1…`.
    pub fn parse(s: &str) -> Result<Identity, String> {
        let bytes = decode(s, &IDENTITY_HRP.to_ascii_lowercase())?;
        Identity::from_bytes(&bytes)
    }

    /// The identity from its Bech32 data (`mode || seed`).
    pub fn from_bytes(bytes: &[u8]) -> Result<Identity, String> {
        let [mode, seed @ ..] = bytes else {
            return Err("an empty sealboxtest identity".into());
        };
        let mode = Mode::from_byte(*mode)
            .ok_or_else(|| format!("unknown sealboxtest identity mode {mode}"))?;
        let seed: [u8; 32] = seed.try_into().map_err(|_| {
            format!(
                "a sealboxtest identity holds 33 bytes, this one {}",
                bytes.len()
            )
        })?;
        Ok(Identity { mode, seed })
    }

    /// This identity's recipient.
    pub fn recipient(&self) -> Recipient {
        Recipient(*PublicKey::from(&StaticSecret::from(self.seed)).as_bytes())
    }

    /// Whether `stanza` is a sealboxtest stanza addressed to this identity (its tag
    /// matches); says nothing yet about whether it opens.
    pub fn is_addressed(&self, stanza: &Stanza) -> bool {
        stanza.tag == STANZA_TAG && stanza.args.first() == Some(&self.recipient().tag())
    }

    /// Unwraps an addressed stanza: the file key, or why not (a malformed stanza, or one
    /// whose tag matched by chance but which does not open).
    pub fn unwrap(&self, stanza: &Stanza) -> Result<FileKey, String> {
        let [_, epk] = &stanza.args[..] else {
            return Err("a sealboxtest stanza has two arguments".into());
        };
        let epk: [u8; 32] = BASE64_STANDARD_NO_PAD
            .decode(epk)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or("a sealboxtest stanza's ephemeral share is not 32 Base64 bytes")?;
        let esk_pub = PublicKey::from(epk);
        let shared = StaticSecret::from(self.seed).diffie_hellman(&esk_pub);
        let key = wrap_key(&epk, &self.recipient().0, shared.as_bytes());
        let plain = aead_decrypt(&key, FILE_KEY_BYTES, &stanza.body)
            .map_err(|_| "the sealboxtest stanza does not open with this key".to_string())?;
        Ok(FileKey::init_with_mut(|k| k.copy_from_slice(&plain)))
    }
}

fn wrap_key(epk: &[u8; 32], recipient: &[u8; 32], shared: &[u8; 32]) -> [u8; 32] {
    let mut salt = [0u8; 64];
    salt[..32].copy_from_slice(epk);
    salt[32..].copy_from_slice(recipient);
    hkdf(&salt, WRAP_LABEL, shared)
}

fn hrp(s: &str) -> bech32::Hrp {
    bech32::Hrp::parse(s).expect("constant HRPs are valid")
}

/// Bech32 data of `s` if its HRP is `want` (compared without case).
fn decode(s: &str, want: &str) -> Result<Vec<u8>, String> {
    bech32_decode(
        s.trim(),
        |e| format!("not Bech32: {e}"),
        |h| {
            if h.as_str().eq_ignore_ascii_case(want) {
                Ok(())
            } else {
                Err(format!("HRP {} is not {want}", h.as_str()))
            }
        },
        |_, bytes| Ok(bytes.collect()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file_key(b: u8) -> FileKey {
        FileKey::init_with_mut(|k| k.fill(b))
    }

    #[test]
    fn keys_encode_with_the_plugin_s_prefixes_and_parse_back() {
        for (i, mode) in Mode::ALL.into_iter().enumerate() {
            let id = Identity {
                mode,
                seed: [i as u8; 32],
            };
            let s = id.encode();
            assert!(s.starts_with("AGE-PLUGIN-SEALBOXTEST-1"), "{s}");
            assert_eq!(s, s.to_ascii_uppercase());
            let back = Identity::parse(&s).unwrap();
            assert_eq!((back.mode, back.seed), (mode, id.seed));
            // Lower case parses too (Bech32 is case-insensitive).
            assert_eq!(Identity::parse(&s.to_lowercase()).unwrap().mode, mode);
            let r = id.recipient().encode();
            assert!(r.starts_with("age1sealboxtest1"), "{r}");
            assert_eq!(Recipient::parse(&r).unwrap(), id.recipient());
            assert_eq!(Mode::from_name(mode.name()), Some(mode));
        }
    }

    #[test]
    fn the_mode_is_not_in_the_recipient() {
        let a = Identity {
            mode: Mode::Silent,
            seed: [7; 32],
        };
        let b = Identity {
            mode: Mode::Pin,
            seed: [7; 32],
        };
        assert_ne!(a.encode(), b.encode());
        assert_eq!(a.recipient(), b.recipient());
    }

    #[test]
    fn bad_keys_are_refused_with_a_reason() {
        let id = Identity {
            mode: Mode::Silent,
            seed: [1; 32],
        };
        // A recipient is no identity and the other way round (the HRP is checked).
        assert!(Identity::parse(&id.recipient().encode())
            .unwrap_err()
            .contains("HRP"));
        assert!(Recipient::parse(&id.encode()).unwrap_err().contains("HRP"));
        // One flipped character breaks the checksum.
        let mut s = id.encode().into_bytes();
        let last = s.len() - 1;
        s[last] = if s[last] == b'Q' { b'P' } else { b'Q' };
        assert!(Identity::parse(std::str::from_utf8(&s).unwrap())
            .unwrap_err()
            .contains("not Bech32"));
        // An unknown mode byte and a short seed.
        let mut data = vec![9u8];
        data.extend_from_slice(&[0; 32]);
        assert!(Identity::from_bytes(&data).unwrap_err().contains("mode 9"));
        assert!(Identity::from_bytes(&[0; 10])
            .unwrap_err()
            .contains("33 bytes"));
        assert!(Recipient::from_bytes(&[0; 31])
            .unwrap_err()
            .contains("32 bytes"));
    }

    #[test]
    fn a_wrapped_file_key_opens_with_its_identity_and_no_other() {
        let id = Identity {
            mode: Mode::Silent,
            seed: [3; 32],
        };
        let other = Identity {
            mode: Mode::Silent,
            seed: [4; 32],
        };
        let s1 = id.recipient().wrap(&file_key(0xaa), [5; 32]);
        let s2 = id.recipient().wrap(&file_key(0xaa), [6; 32]);
        assert_ne!(s1, s2, "a fresh ephemeral key per wrap");
        for s in [&s1, &s2] {
            assert_eq!(s.tag, STANZA_TAG);
            assert!(id.is_addressed(s));
            assert_eq!(id.unwrap(s).unwrap().expose_secret(), &[0xaa; 16]);
            assert!(!other.is_addressed(s));
            assert!(other.unwrap(s).is_err());
        }
        // A changed body does not open (the AEAD tag).
        let mut bad = id.recipient().wrap(&file_key(1), [8; 32]);
        bad.body[0] ^= 1;
        let Err(e) = id.unwrap(&bad) else {
            panic!("a changed body opened")
        };
        assert!(e.contains("does not open"), "{e}");
    }
}
