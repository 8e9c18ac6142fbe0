//! gpg's status lines (`--status-fd`, GnuPG's `doc/DETAILS`).
//!
//! gpg's human messages are translated and change between releases; its status lines are
//! a documented interface. We ask for them on stderr (`--status-fd 2`), so the same pipe
//! carries both: a line that starts with `[GNUPG:] ` is a status line, every other line is
//! human text that we keep for error messages. Passing the status on a third descriptor
//! would need `unsafe` file-descriptor plumbing before `exec`, which this crate forbids.

use super::error::Error;

/// The status prefix gpg puts before every status line.
const PREFIX: &str = "[GNUPG:] ";

/// gpg's stderr split into status lines and human text.
#[derive(Debug, Default)]
pub(crate) struct Status {
    /// `(keyword, arguments)` of every status line, in order.
    pub lines: Vec<(String, Vec<String>)>,
    /// The other lines, joined with `\n` and trimmed.
    pub human: String,
}

impl Status {
    /// Splits gpg's stderr.
    pub fn parse(stderr: &[u8]) -> Status {
        let text = String::from_utf8_lossy(stderr);
        let mut lines = Vec::new();
        let mut human = Vec::new();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix(PREFIX) {
                let mut words = rest.split(' ').filter(|w| !w.is_empty());
                if let Some(kw) = words.next() {
                    lines.push((kw.to_string(), words.map(str::to_string).collect()));
                }
            } else {
                human.push(line);
            }
        }
        Status {
            lines,
            human: human.join("\n").trim().to_string(),
        }
    }

    /// The arguments of every line with this keyword.
    pub fn all<'a>(&'a self, keyword: &'a str) -> impl Iterator<Item = &'a [String]> + 'a {
        self.lines
            .iter()
            .filter(move |(k, _)| k == keyword)
            .map(|(_, a)| a.as_slice())
    }

    /// Whether some line has this keyword.
    pub fn has(&self, keyword: &str) -> bool {
        self.all(keyword).next().is_some()
    }

    /// The error an encryption to `fingerprint` failed with, from `INV_RECP`.
    pub fn encrypt_error(&self, fingerprint: &str) -> Option<Error> {
        let args = self.all("INV_RECP").next()?;
        let code: u32 = args.first()?.parse().ok()?;
        Some(match code {
            1 => Error::MissingPublicKey {
                fingerprint: fingerprint.to_string(),
            },
            _ => Error::InvalidRecipient {
                fingerprint: fingerprint.to_string(),
                reason: inv_recp_reason(code),
            },
        })
    }

    /// The error a decryption failed with, when the status lines say which.
    pub fn decrypt_error(&self) -> Option<Error> {
        if let Some(detail) = self.passphrase_problem() {
            return Some(Error::Passphrase { detail });
        }
        // NO_SECKEY names each recipient key gpg has no secret for; when one of them was
        // usable gpg would have decrypted, so all of them missing means "no key".
        let missing: Vec<String> = self
            .all("NO_SECKEY")
            .filter_map(|a| a.first().cloned())
            .collect();
        if !missing.is_empty() && self.has("DECRYPTION_FAILED") {
            let enc_to = self
                .all("ENC_TO")
                .filter_map(|a| a.first())
                .filter(|k| !missing.contains(k))
                .count();
            if enc_to == 0 {
                return Some(Error::NoSecretKey { key_ids: missing });
            }
        }
        None
    }

    /// A passphrase or pinentry failure, from `BAD_PASSPHRASE`, `MISSING_PASSPHRASE` or
    /// an `ERROR`/`FAILURE` line with a GnuPG error code that means one.
    fn passphrase_problem(&self) -> Option<String> {
        if self.has("BAD_PASSPHRASE") {
            return Some("bad passphrase".into());
        }
        if self.has("MISSING_PASSPHRASE") {
            return Some("no passphrase was given".into());
        }
        for kw in ["ERROR", "FAILURE"] {
            for args in self.all(kw) {
                let Some(code) = args.get(1).and_then(|c| c.parse::<u32>().ok()) else {
                    continue;
                };
                // gpg-error codes: the low 16 bits; the high bits name the source.
                let detail = match code & 0xffff {
                    11 => "bad passphrase",
                    85 => "no pinentry (gpg-agent could not ask for the passphrase)",
                    99 => "the passphrase prompt was cancelled",
                    177 => "no passphrase was given",
                    _ => continue,
                };
                return Some(detail.into());
            }
        }
        None
    }
}

/// The words for an `INV_RECP` / `INV_SGNR` reason code (GnuPG `doc/DETAILS`).
fn inv_recp_reason(code: u32) -> &'static str {
    match code {
        1 => "not found",
        2 => "ambiguous specification",
        3 => "wrong key usage (the key cannot encrypt)",
        4 => "key revoked",
        5 => "key expired",
        6 => "no CRL known",
        7 => "CRL too old",
        8 => "policy mismatch",
        9 => "not a secret key",
        10 => "key not trusted",
        11 => "missing certificate",
        12 => "missing issuer certificate",
        13 => "key disabled",
        14 => "syntax error in the specification",
        _ => "no specific reason given",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_lines_are_split_from_human_text() {
        let s = Status::parse(
            b"gpg: 0000: skipped: No public key\n[GNUPG:] INV_RECP 1 0000\n\
              [GNUPG:] FAILURE encrypt 9\ngpg: [stdin]: encryption failed: No public key\n",
        );
        assert_eq!(s.lines.len(), 2);
        assert_eq!(s.lines[0].0, "INV_RECP");
        assert_eq!(s.lines[0].1, ["1", "0000"]);
        assert_eq!(
            s.human,
            "gpg: 0000: skipped: No public key\ngpg: [stdin]: encryption failed: No public key"
        );
    }

    #[test]
    fn inv_recp_not_found_is_a_missing_public_key_and_other_reasons_are_not() {
        let s = Status::parse(b"[GNUPG:] INV_RECP 1 ABCD\n");
        assert!(matches!(
            s.encrypt_error("ABCD"),
            Some(Error::MissingPublicKey { fingerprint }) if fingerprint == "ABCD"
        ));
        let s = Status::parse(b"[GNUPG:] INV_RECP 5 ABCD\n");
        assert!(matches!(
            s.encrypt_error("ABCD"),
            Some(Error::InvalidRecipient {
                reason: "key expired",
                ..
            })
        ));
        assert!(Status::parse(b"[GNUPG:] FAILURE encrypt 9\n")
            .encrypt_error("ABCD")
            .is_none());
    }

    #[test]
    fn no_seckey_for_every_recipient_is_no_secret_key() {
        let s = Status::parse(
            b"[GNUPG:] ENC_TO CE2700644C330471 1 0\n[GNUPG:] NO_SECKEY CE2700644C330471\n\
              [GNUPG:] BEGIN_DECRYPTION\n[GNUPG:] DECRYPTION_FAILED\n",
        );
        assert!(matches!(
            s.decrypt_error(),
            Some(Error::NoSecretKey { key_ids }) if key_ids == ["CE2700644C330471"]
        ));
    }

    #[test]
    fn a_cancelled_pinentry_is_a_passphrase_error() {
        // GPG_ERR_CANCELED (99) from the agent (source 5 in the high bits).
        let s = Status::parse(b"[GNUPG:] ERROR pkdecrypt_failed 83886179\n");
        assert!(matches!(
            s.decrypt_error(),
            Some(Error::Passphrase { detail }) if detail.contains("cancelled")
        ));
    }
}
