//! Typed errors: what failed ([`ErrorKind`]), in which file, a message and a hint.
//!
//! The library says what went wrong; it does not decide how a process exits. The `sealbox`
//! binary maps each kind to the exit code sops 3.11 uses for the same failure
//! (`cli/src/exit.rs`), and the installer prints the message. Messages name what failed
//! (file, key path) and never contain secret values.

use std::fmt;

/// What failed. One kind per failure a caller may want to tell apart (an exit code, a
/// `check` finding, a retry); the message says the rest.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The input does not parse in its format (syntax, not UTF-8, not a map at the top).
    Parse,
    /// A map of the input has the same key twice.
    DuplicateKey,
    /// The input could not be read.
    ReadInput,
    /// The output could not be written.
    WriteOutput,
    /// The tree cannot be written in the output format (bad indent, no binary data, …).
    Emit,
    /// A bad `set` value or path.
    InvalidSetValue,
    /// Options that cannot be used together (two selectors, `--in-place` with `--output`).
    ConflictingOptions,
    /// The MAC could not be encrypted.
    MacEncrypt,
    /// The tree could not be encrypted (a non-string key, a value sops cannot encrypt,
    /// key paths that share their additional data, a plaintext downgrade).
    Encrypt,
    /// A value could not be decrypted (bad syntax, tampered, moved, unencrypted).
    ValueDecrypt,
    /// The MAC does not verify, or is missing.
    MacMismatch,
    /// A bad `--extract` tree path.
    InvalidTreePath,
    /// No document to encrypt.
    EmptyInput,
    /// No file given, or it does not exist.
    NoFile,
    /// A key type named twice in the decryption order.
    DuplicateDecryptionKeyType,
    /// No identity at hand recovers the data key (or a share of it).
    DataKeyUnavailable,
    /// The editor left the file unchanged.
    NotModified,
    /// No editor, or the editor failed.
    NoEditor,
    /// The input already has sops metadata.
    AlreadyEncrypted,
    /// A file read as encrypted does not parse in its format.
    InvalidEncryptedFile,
    /// A file read as encrypted has no `sops` metadata.
    MetadataNotFound,
    /// The `sops` metadata is damaged (wrong types, no keys, two selectors, …).
    InvalidMetadata,
    /// `.sops.yaml` does not parse or holds a bad value.
    InvalidConfig,
    /// No creation rule of `.sops.yaml` matches the file.
    NoMatchingRule,
    /// A recipient, identity or key that does not parse.
    InvalidKey,
    /// Anything else.
    Other,
}

/// An error: what failed, where, and what to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    /// What failed.
    pub kind: ErrorKind,
    /// The file concerned, as named in messages, when known.
    pub file: Option<String>,
    /// What failed. Names files and key paths, never values.
    pub message: String,
    /// What the user can do about it.
    pub hint: Option<String>,
}

/// Result with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An error of `kind` with `message`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            file: None,
            message: message.into(),
            hint: None,
        }
    }

    /// Adds a hint for the user.
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// Replaces the kind (callers know the context: a file that does not parse is
    /// [`ErrorKind::Parse`] as plaintext input but [`ErrorKind::InvalidEncryptedFile`] when
    /// it should be encrypted).
    pub fn with_kind(mut self, kind: ErrorKind) -> Self {
        self.kind = kind;
        self
    }

    /// Records the file concerned (the message is unchanged).
    pub fn in_file(mut self, file: impl Into<String>) -> Self {
        self.file = Some(file.into());
        self
    }

    /// Records the file concerned unless one is already recorded.
    pub fn in_file_if_unknown(self, file: &str) -> Self {
        if self.file.is_some() {
            self
        } else {
            self.in_file(file)
        }
    }

    /// Prefixes the message with a context such as the file name.
    pub fn context(mut self, ctx: impl fmt::Display) -> Self {
        self.message = format!("{ctx}: {}", self.message);
        self
    }

    /// Whether the error is of `kind`.
    pub fn is(&self, kind: ErrorKind) -> bool {
        self.kind == kind
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        if let Some(h) = &self.hint {
            write!(f, "\n  hint: {h}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {}

/// Formats a key path for messages: `["a"]["b"]`-free form `a.b` is ambiguous, so we use
/// sops' own bracket syntax.
pub fn path_display<S: AsRef<str>>(path: &[S]) -> String {
    if path.is_empty() {
        return "(top level)".to_string();
    }
    path.iter()
        .map(|k| format!("[\"{}\"]", k.as_ref()))
        .collect()
}
