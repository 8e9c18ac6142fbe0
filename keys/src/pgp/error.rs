//! One error type for the PGP key source.
//!
//! The variants that a user can act on (gpg missing, a recipient's public key missing, no
//! secret key, a passphrase problem) are told apart from "gpg failed for another reason",
//! so the CLI can print the right hint. They are recognised from gpg's machine-readable
//! status lines (`--status-fd`), never from its translated human text. Messages carry
//! fingerprints, key IDs and gpg's own stderr, never key material or plaintext.

use std::ffi::OsString;
use std::fmt;
use std::io;

/// Which way of unwrapping a data key an attempt used (for [`Error::AllFailed`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Method {
    /// Secret keys held in memory (SSH RSA host keys, imported armored keys).
    InMemory,
    /// The legacy keyring (`secring.gpg`, else `pubring.gpg`) in the GnuPG home, read
    /// in-process as sops does.
    LegacyKeyring,
    /// The GnuPG binary.
    Gpg,
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Method::InMemory => "in-memory OpenPGP keys",
            Method::LegacyKeyring => "legacy GnuPG keyring (in-process)",
            Method::Gpg => "GnuPG binary",
        })
    }
}

/// Errors of the PGP key source.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The gpg program (`gpg`, or `$SOPS_GPG_EXEC`) or `gpgconf` could not be started.
    GpgNotFound {
        /// The program that was run.
        program: OsString,
        /// Why it could not be started.
        source: io::Error,
    },
    /// gpg has no public key for this recipient (status `INV_RECP 1`).
    MissingPublicKey {
        /// The fingerprint as given.
        fingerprint: String,
    },
    /// gpg refused the recipient for another reason (`INV_RECP` with a reason other
    /// than "not found": expired, revoked, wrong key usage, …).
    InvalidRecipient {
        /// The fingerprint as given.
        fingerprint: String,
        /// gpg's reason, in words.
        reason: &'static str,
    },
    /// None of the secret keys the message is encrypted to is available (`NO_SECKEY`),
    /// or none of the in-memory keys matches.
    NoSecretKey {
        /// The long key IDs (16 hex digits) the message is encrypted to.
        key_ids: Vec<String>,
    },
    /// The secret key is there, but its passphrase was wrong or not given (pinentry
    /// cancelled, no pinentry, bad passphrase), or an in-memory key is protected.
    Passphrase {
        /// What failed, in words (from gpg's status codes or our own check).
        detail: String,
    },
    /// gpg failed for a reason not recognised above.
    Gpg {
        /// `encrypt`, `decrypt`, `import` or `kill agent`.
        operation: &'static str,
        /// gpg's exit code (`None` when killed by a signal).
        code: Option<i32>,
        /// gpg's human-readable stderr, trimmed (status lines removed).
        stderr: String,
    },
    /// gpg exited 0 but wrote no plaintext (sops' check: an old gpg drops AEAD packets it
    /// does not know and reports success).
    EmptyPlaintext,
    /// Talking to a child process failed.
    Io {
        /// What was being done.
        what: String,
        /// The I/O error.
        source: io::Error,
    },
    /// A key (SSH private key, armored OpenPGP key, keyring) could not be read.
    BadKey {
        /// Which key, e.g. a path or "armored key".
        what: String,
        /// Why, in words.
        detail: String,
    },
    /// The `enc` value is not an OpenPGP message that can be read.
    BadMessage(String),
    /// The message is for one of our keys, but decrypting it failed (wrong session key,
    /// integrity check failed, corrupt data). Deliberately opaque.
    DecryptionFailed,
    /// Every way of unwrapping the data key failed; each attempt in order, as sops
    /// reports them.
    AllFailed {
        /// The master key's fingerprint.
        fingerprint: String,
        /// Each attempt and its error, in the order they were made.
        attempts: Vec<(Method, Error)>,
    },
}

impl Error {
    /// Whether some attempt (or this error itself) says a recipient's public key is
    /// missing from the keyring.
    pub fn is_missing_public_key(&self) -> bool {
        match self {
            Error::MissingPublicKey { .. } => true,
            Error::AllFailed { attempts, .. } => {
                attempts.iter().any(|(_, e)| e.is_missing_public_key())
            }
            _ => false,
        }
    }

    /// A line telling the user what to do next, when there is one.
    pub fn hint(&self) -> Option<String> {
        match self {
            Error::GpgNotFound { program, .. } => Some(format!(
                "install GnuPG (`gpg`), or set SOPS_GPG_EXEC to the gpg program to run \
                 (tried `{}`)",
                program.to_string_lossy()
            )),
            Error::MissingPublicKey { fingerprint } => Some(format!(
                "import the recipient's public key first: `gpg --import KEY.asc`, or \
                 `gpg --recv-keys {fingerprint}` from a keyserver"
            )),
            Error::NoSecretKey { .. } => Some(
                "import the secret key into GnuPG (`gpg --import SECRET.asc`), insert the \
                 smartcard that holds it, or point GNUPGHOME at the keyring that has it"
                    .to_string(),
            ),
            Error::Passphrase { .. } => Some(
                "gpg-agent asks for the passphrase through pinentry: run in a terminal with \
                 GPG_TTY=$(tty) exported, or configure a graphical pinentry"
                    .to_string(),
            ),
            Error::AllFailed { attempts, .. } => attempts.iter().rev().find_map(|(_, e)| e.hint()),
            _ => None,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::GpgNotFound { program, source } => {
                write!(f, "cannot run `{}`: {source}", program.to_string_lossy())
            }
            Error::MissingPublicKey { fingerprint } => write!(
                f,
                "the public key {fingerprint} is not in the GnuPG keyring"
            ),
            Error::InvalidRecipient {
                fingerprint,
                reason,
            } => write!(f, "gpg cannot encrypt to {fingerprint}: {reason}"),
            Error::NoSecretKey { key_ids } => {
                if key_ids.is_empty() {
                    write!(f, "no secret key for this message")
                } else {
                    write!(
                        f,
                        "no secret key for this message (it is encrypted to key ID {})",
                        key_ids.join(", ")
                    )
                }
            }
            Error::Passphrase { detail } => write!(f, "cannot unlock the secret key: {detail}"),
            Error::Gpg {
                operation,
                code,
                stderr,
            } => {
                write!(f, "gpg {operation} failed")?;
                match code {
                    Some(c) => write!(f, " (exit code {c})")?,
                    None => write!(f, " (killed by a signal)")?,
                }
                if !stderr.is_empty() {
                    write!(f, ": {stderr}")?;
                }
                Ok(())
            }
            Error::EmptyPlaintext => write!(
                f,
                "gpg decrypted zero bytes (an old gpg that cannot read this message's \
                 packets?)"
            ),
            Error::Io { what, source } => write!(f, "{what}: {source}"),
            Error::BadKey { what, detail } => write!(f, "cannot read {what}: {detail}"),
            Error::BadMessage(m) => write!(f, "the pgp `enc` value is not readable: {m}"),
            Error::DecryptionFailed => write!(f, "decryption failed"),
            Error::AllFailed {
                fingerprint,
                attempts,
            } => {
                write!(
                    f,
                    "could not decrypt the data key with PGP key {fingerprint}"
                )?;
                for (i, (m, e)) in attempts.iter().enumerate() {
                    write!(f, "{} {m}: {e}", if i == 0 { ":" } else { ";" })?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::GpgNotFound { source, .. } | Error::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// Results of this module.
pub type Result<T> = std::result::Result<T, Error>;
