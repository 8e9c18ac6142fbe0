//! age recipients as sops writes them (docs/format.md#age-wrapping,
//! docs/format.md#recipient-strings).
//!
//! Each `enc` blob is an armored age file for one recipient, written by the `age` crate.
//! It may carry a random "grease" stanza next to the recipient's (rage does this on purpose
//! to keep parsers tolerant); Go age, and so sops, skips stanzas it does not know.

use std::fmt;
use std::str::FromStr;

use super::plugin::PluginRecipient;
use super::ui::Ui;
use sealbox_formats::{Error, ErrorKind, Result};

/// First line of the ASCII armor.
pub const ARMOR_BEGIN: &str = "-----BEGIN AGE ENCRYPTED FILE-----";
/// Last line of the ASCII armor.
pub const ARMOR_END: &str = "-----END AGE ENCRYPTED FILE-----";

/// The parsed form of a recipient.
#[derive(Clone)]
enum Kind {
    X25519(age::x25519::Recipient),
    Ssh(Box<age::ssh::Recipient>),
    /// `age1NAME1…`: wrapping runs `age-plugin-NAME`.
    Plugin(PluginRecipient),
}

/// A recipient as written in a sops file: the verbatim string (trimmed) and the parsed age
/// recipient.
#[derive(Clone)]
pub struct Recipient {
    text: String,
    kind: Kind,
}

impl fmt::Debug for Recipient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Recipient").field(&self.text).finish()
    }
}

impl fmt::Display for Recipient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl PartialEq for Recipient {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

impl Eq for Recipient {}

/// The "type" part of a recipient string for messages: the SSH key type, or the text up to
/// the first `1` (bech32 separator), capped in length.
fn type_prefix(s: &str) -> String {
    let head = s.split_whitespace().next().unwrap_or("");
    let head = match head.find('1') {
        Some(i) if !head.starts_with("ssh-") => &head[..=i],
        _ => head,
    };
    head.chars().take(32).collect()
}

/// `age1NAME1` of a plugin recipient (capped in length), for messages.
fn plugin_prefix(s: &str) -> String {
    let end = s[4..].find('1').map_or(s.len(), |i| i + 5);
    s[..end].chars().take(40).collect()
}

/// Whether `line` is an `ssh-rsa` public key whose exponent or modulus is one or more zero
/// bytes. age 0.12's SSH reader panics on such an integer (it strips leading zeros past the
/// end); it is never a valid key, so it is refused before age sees it. Found by fuzzing.
fn rsa_key_has_zero_integer(line: &str) -> bool {
    use base64::Engine;
    let mut fields = line.split_whitespace();
    if fields.next() != Some("ssh-rsa") {
        return false;
    }
    // age's reader is lenient about the end of the base64: look at the whole 4-character
    // groups, which is enough to see the integers.
    // (age reads the run of base64 characters, unpadded, and ignores what follows)
    let Some(b64) = fields.next().map(|f| {
        let end = f
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '+' || c == '/'))
            .unwrap_or(f.len());
        &f[..end]
    }) else {
        return false;
    };
    let lenient = base64::engine::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent)
            .with_decode_allow_trailing_bits(true),
    );
    let Ok(blob) = lenient.decode(&b64.as_bytes()[..b64.len() / 4 * 4]) else {
        return false;
    };
    // string "ssh-rsa", mpint e, mpint n (RFC 4253 §6.6)
    let mut rest = &blob[..];
    for i in 0..3 {
        let Some((len, tail)) = rest.split_first_chunk::<4>() else {
            return false;
        };
        let len = u32::from_be_bytes(*len) as usize;
        let Some(bytes) = tail.get(..len) else {
            return false;
        };
        if i > 0 && !bytes.is_empty() && bytes.iter().all(|&b| b == 0) {
            return true;
        }
        rest = &tail[len..];
    }
    false
}

impl Recipient {
    /// Parses a recipient string (docs/format.md#recipient-strings), after trimming
    /// surrounding whitespace:
    ///
    /// * `age1…` with more than one `1`: an age plugin recipient `age1NAME1…` (as sops
    ///   tells them apart), wrapped by the program `age-plugin-NAME` from `PATH`;
    /// * `age1…`: X25519;
    /// * `ssh-ed25519 AAAA… [comment]`, `ssh-rsa AAAA… [comment]`: age-ssh (RSA ≥ 2048 bits);
    /// * anything else: `failed to parse input, unknown recipient type` (exit 1), naming only
    ///   the string's type prefix.
    pub fn parse(s: &str) -> Result<Recipient> {
        let text = s.trim();
        let kind = if text.starts_with("age1") && text.matches('1').count() > 1 {
            Kind::Plugin(PluginRecipient::parse(text).map_err(|e| {
                Error::new(
                    ErrorKind::InvalidKey,
                    format!(
                        "failed to parse input as age key from age plugin {:?}: {e}",
                        plugin_prefix(text)
                    ),
                )
            })?)
        } else if text.starts_with("age1") {
            Kind::X25519(age::x25519::Recipient::from_str(text).map_err(|e| {
                Error::new(
                    ErrorKind::InvalidKey,
                    format!("malformed X25519 recipient {text:?}: {e}"),
                )
            })?)
        } else if text.starts_with("ssh-") {
            use age::ssh::ParseRecipientKeyError as P;
            if rsa_key_has_zero_integer(text) {
                return Err(Error::new(
                    ErrorKind::InvalidKey,
                    format!(
                        "failed to parse SSH recipient of type {:?}: invalid RSA key",
                        type_prefix(text)
                    ),
                ));
            }
            let r = age::ssh::Recipient::from_str(text).map_err(|e| {
                let why = match e {
                    P::RsaModulusTooSmall => "RSA key size is too small (minimum 2048 bits)".into(),
                    P::RsaModulusTooLarge => "RSA key size is too large".into(),
                    P::Unsupported(t) => format!("unsupported SSH key type {t:?}"),
                    P::Invalid(m) => m.to_string(),
                    P::Ignore => "unsupported SSH key".into(),
                    _ => "invalid SSH recipient".into(),
                };
                Error::new(
                    ErrorKind::InvalidKey,
                    format!(
                        "failed to parse SSH recipient of type {:?}: {why}",
                        type_prefix(text)
                    ),
                )
            })?;
            Kind::Ssh(Box::new(r))
        } else {
            return Err(Error::new(
                ErrorKind::InvalidKey,
                format!(
                    "failed to parse input, unknown recipient type: {:?}",
                    type_prefix(text)
                ),
            ));
        };
        Ok(Recipient {
            text: text.to_string(),
            kind,
        })
    }

    /// The recipient string exactly as stored in the sops file (trimmed).
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// True for `ssh-ed25519` / `ssh-rsa` recipients.
    pub fn is_ssh(&self) -> bool {
        matches!(self.kind, Kind::Ssh(_))
    }

    /// True for an age plugin recipient (`age1NAME1…`).
    pub fn is_plugin(&self) -> bool {
        matches!(self.kind, Kind::Plugin(_))
    }

    /// age-encrypts `data_key` to this recipient alone, ASCII-armored
    /// (`-----BEGIN AGE ENCRYPTED FILE-----` … `-----END AGE ENCRYPTED FILE-----\n`), exactly
    /// the shape sops stores in `enc`: one recipient stanza, no grease, base64 lines of 64
    /// columns. A plugin recipient runs its plugin with nobody to answer its requests: see
    /// [`Recipient::wrap_with`].
    pub fn wrap(&self, data_key: &[u8]) -> Result<String> {
        self.wrap_with(data_key, &Ui::none())
    }

    /// [`Recipient::wrap`], a plugin's requests (if it makes any) going to `ui`.
    pub fn wrap_with(&self, data_key: &[u8], ui: &Ui) -> Result<String> {
        use std::io::Write;
        let fail = |e: &dyn fmt::Display| {
            Error::new(
                ErrorKind::Other,
                format!(
                    "failed to wrap the data key for {self}: {}",
                    super::plugin::one_line(&e.to_string())
                ),
            )
        };
        let plugin;
        let r: &dyn age::Recipient = match &self.kind {
            Kind::X25519(r) => r,
            Kind::Ssh(r) => r.as_ref(),
            Kind::Plugin(p) => {
                plugin = p.with_ui(ui).map_err(|e| fail(&e))?;
                plugin.as_ref()
            }
        };
        let enc = age::Encryptor::with_recipients(std::iter::once(r)).map_err(|e| fail(&e))?;
        let mut out = Vec::with_capacity(512);
        let armor =
            age::armor::ArmoredWriter::wrap_output(&mut out, age::armor::Format::AsciiArmor)
                .map_err(|e| fail(&e))?;
        let mut w = enc.wrap_output(armor).map_err(|e| fail(&e))?;
        w.write_all(data_key).map_err(|e| fail(&e))?;
        w.finish()
            .and_then(|armor| armor.finish())
            .map_err(|e| fail(&e))?;
        let mut text = String::from_utf8(out).map_err(|e| fail(&e))?;
        if !text.ends_with('\n') {
            text.push('\n');
        }
        Ok(text)
    }
}

/// Comma-splits a recipient list (`--age`, `SOPS_AGE_RECIPIENTS`, …), trims each item and
/// parses it. An empty item (e.g. a trailing comma) is an error, as in sops.
pub fn parse_recipient_list(s: &str) -> Result<Vec<Recipient>> {
    s.split(',')
        .map(|item| {
            if item.trim().is_empty() {
                Err(Error::new(
                    ErrorKind::InvalidKey,
                    "failed to parse input, unknown recipient type: empty recipient in the list",
                )
                .with_hint("remove the empty item (e.g. a trailing comma)"))
            } else {
                Recipient::parse(item)
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const X_RECIPIENT: &str = "age1yt3tfqlfrwdwx0z0ynwplcr6qxcxfaqycuprpmy89nr83ltx74tqdpszlw";

    #[test]
    fn keys_parse_recipient_kinds() {
        let r = Recipient::parse(&format!("  {X_RECIPIENT}\n")).unwrap();
        assert_eq!(r.as_str(), X_RECIPIENT);
        assert!(!r.is_ssh());

        let ssh = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHsKLqeplhpW+uObz5dvMgjz1OxfM/XXUB+VHtZ6isGN test-ed";
        let r = Recipient::parse(ssh).unwrap();
        assert_eq!(r.as_str(), ssh, "comment kept verbatim");
        assert!(r.is_ssh());

        // A plugin recipient (the test plugin's, from the generated fixtures).
        let plugin = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../tests/vectors/generated/plugin.recipient"
        ))
        .unwrap();
        let r = Recipient::parse(&plugin).unwrap();
        assert!(r.is_plugin() && !r.is_ssh());
        assert_eq!(r.as_str(), plugin.trim());
        let e = Recipient::parse("age1yubikey1qwertyuiop").unwrap_err();
        assert!(e.message.contains("age plugin \"age1yubikey1\""), "{e}");
        assert!(!e.message.contains("qwerty"), "{e}");

        let ecdsa = "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBHFliOyIZs1gxGF3fmDxFykQhE88wy6AKDGFBfn0R6ZuvRmENABZQa9+pj9hMki+LX0qDJbmHTiWDbYv/cmFt/Q=";
        let e = Recipient::parse(ecdsa).unwrap_err();
        assert_eq!(e.kind, sealbox_formats::ErrorKind::InvalidKey);
        assert!(e
            .message
            .contains("failed to parse input, unknown recipient type"));
        assert!(e.message.contains("ecdsa-sha2-nistp256"));
        assert!(!e.message.contains("AAAAE2"), "only the type prefix: {e}");

        assert!(Recipient::parse("age1notbech32").is_err());
        assert!(Recipient::parse("ssh-ed25519 AAAAnotakey").is_err());
    }

    #[test]
    fn keys_parse_recipient_list_rules() {
        let l = parse_recipient_list(&format!("{X_RECIPIENT} , {X_RECIPIENT}")).unwrap();
        assert_eq!(l.len(), 2);
        assert!(parse_recipient_list(&format!("{X_RECIPIENT},")).is_err());
        assert!(parse_recipient_list("").is_err());
        assert!(parse_recipient_list(&format!("{X_RECIPIENT},,{X_RECIPIENT}")).is_err());
    }

    #[test]
    fn keys_wrap_shape() {
        let r = Recipient::parse(X_RECIPIENT).unwrap();
        let armored = r.wrap(&[7u8; 32]).unwrap();
        assert!(armored.starts_with("-----BEGIN AGE ENCRYPTED FILE-----\n"));
        assert!(armored.ends_with("\n-----END AGE ENCRYPTED FILE-----\n"));
        assert!(armored.lines().all(|l| l.len() <= 64));
        let b64: String = armored
            .lines()
            .filter(|l| !l.starts_with("-----"))
            .collect();
        use base64::Engine;
        let bin = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap();
        let text = String::from_utf8_lossy(&bin);
        assert!(text.starts_with("age-encryption.org/v1\n-> X25519 "));
        // One X25519 stanza; the age crate may add one grease stanza of another type.
        assert_eq!(text.matches("\n-> X25519 ").count(), 1);
        assert!(text.matches("\n-> ").count() <= 2);
        let hdr_end = bin.windows(4).position(|w| w == b"\n---").unwrap();
        let mac_end = hdr_end + 1 + bin[hdr_end + 1..].iter().position(|&b| b == b'\n').unwrap();
        // payload: 16 nonce + 32 + 16 tag.
        assert_eq!(bin.len() - mac_end - 1, 64);
    }

    /// Found by fuzzing: an ssh-rsa key whose integers are zero bytes made age panic.
    #[test]
    fn rsa_key_with_zero_integers_is_an_error() {
        let key = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../fuzz/regressions/ssh_key/rsa-public-key-empty-modulus"
        ))
        .unwrap();
        let e = Recipient::parse(&key).unwrap_err();
        assert!(e.message.contains("invalid RSA key"), "{e}");
        assert!(parse_recipient_list(&key).is_err());
    }
}
