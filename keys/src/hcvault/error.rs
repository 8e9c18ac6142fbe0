//! One error type for the transit key source, with a kind a caller can act on (exit codes,
//! "try again later" versus "fix your policy") and a message that names the address and
//! what failed there.

use std::fmt;

/// What went wrong, coarsely.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A transit URI that sops would refuse too.
    InvalidUri,
    /// A metadata entry that lacks a field or has a malformed `enc`.
    InvalidKey,
    /// A bad setting in the environment (duration, boolean, unreadable CA file, …).
    Config,
    /// No token could be had: none given, no `~/.vault-token`, no AppRole; or the
    /// AppRole login was refused.
    Auth,
    /// The address is not allowed by `SOPS_HC_VAULT_ALLOWLIST`.
    NotAllowed,
    /// No TCP/TLS connection (refused, unreachable, DNS, TLS handshake or certificate).
    Unreachable,
    /// A request did not complete within its timeout.
    Timeout,
    /// The server is sealed (HTTP 503 "Vault is sealed").
    Sealed,
    /// HTTP 403: the token is wrong, expired, or its policy does not allow the path.
    PermissionDenied,
    /// The transit key, or the engine mount, does not exist (400 "encryption key not
    /// found", 404).
    UnknownKey,
    /// Another 4xx answer, e.g. a ciphertext the key cannot decrypt.
    Rejected,
    /// A 5xx answer other than sealed, or a redirect we would not follow.
    Server,
    /// A 2xx answer without the expected fields.
    Protocol,
}

/// What one request to one address gave, for the failover report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attempt {
    /// The address tried.
    pub address: String,
    /// What happened, in words.
    pub outcome: String,
}

/// An error of the Vault transit key source.
#[derive(Clone, Debug)]
pub struct Error {
    kind: ErrorKind,
    message: String,
    attempts: Vec<Attempt>,
}

impl Error {
    /// A new error of `kind`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Error {
        Error {
            kind,
            message: message.into(),
            attempts: Vec::new(),
        }
    }

    /// Adds the list of attempts made before giving up.
    pub fn with_attempts(mut self, attempts: Vec<Attempt>) -> Error {
        self.attempts = attempts;
        self
    }

    /// The kind.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The message without the attempt list.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Every request made, in order, when the error ends a failover run.
    pub fn attempts(&self) -> &[Attempt] {
        &self.attempts
    }

    /// Whether trying again later may help (server down, sealed, timing out).
    pub fn is_transient(&self) -> bool {
        matches!(
            self.kind,
            ErrorKind::Unreachable | ErrorKind::Timeout | ErrorKind::Sealed | ErrorKind::Server
        )
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        if self.attempts.len() > 1 {
            write!(f, " (after {} attempts:", self.attempts.len())?;
            for a in &self.attempts {
                write!(f, "\n  {}: {}", a.address, a.outcome)?;
            }
            f.write_str(")")?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {}

/// This module's result type.
pub type Result<T> = std::result::Result<T, Error>;
