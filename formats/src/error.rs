//! Errors with sops-compatible exit codes.
//!
//! Every error carries the exit code sops 3.11 uses for the same failure
//! (getsops/sops `cmd/sops/codes`), a message that names what failed (file, key path)
//! and, where there is one, a hint telling the user what to do. Messages never contain
//! secret values.

use std::fmt;

/// sops exit codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Code {
    /// 1: anything without a more specific code.
    Generic = 1,
    /// 2: the input could not be read or (plain input) parsed.
    CouldNotReadInputFile = 2,
    /// 3: the output could not be written.
    CouldNotWriteOutputFile = 3,
    /// 4: the tree could not be emitted in the output format.
    ErrorDumpingTree = 4,
    /// 7: a bad `set` path or value.
    InvalidSetFormat = 7,
    /// 8: flags that cannot be used together.
    ConflictingParameters = 8,
    /// 21: the MAC could not be encrypted.
    ErrorEncryptingMac = 21,
    /// 23: the tree could not be encrypted (non-string key, unsupported value).
    ErrorEncryptingTree = 23,
    /// 25: a value could not be decrypted (bad syntax, tampered, wrong path).
    ErrorDecryptingTree = 25,
    /// 51: the MAC does not verify.
    MacMismatch = 51,
    /// 91: a bad `--extract` path.
    InvalidTreePathFormat = 91,
    /// 92: no document to encrypt.
    NeedAtLeastOneDocument = 92,
    /// 100: no file given, or it does not exist.
    NoFileSpecified = 100,
    /// 112: a key type named twice in the decryption order.
    DuplicateDecryptionKeyType = 112,
    /// 128: no identity could recover the data key.
    CouldNotRetrieveKey = 128,
    /// 200: the editor left the file unchanged.
    FileHasNotBeenModified = 200,
    /// 201: no editor, or the editor failed.
    NoEditorFound = 201,
    /// 203: the input already has sops metadata.
    FileAlreadyEncrypted = 203,
}

/// An error: what failed, what to do, and the exit code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    /// The sops exit code.
    pub code: Code,
    /// What failed. Names files and key paths, never values.
    pub message: String,
    /// What the user can do about it.
    pub hint: Option<String>,
}

/// Result with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An error with `code` and `message`.
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        Error {
            code,
            message: message.into(),
            hint: None,
        }
    }

    /// A generic (exit 1) error.
    pub fn generic(message: impl Into<String>) -> Self {
        Self::new(Code::Generic, message)
    }

    /// Adds a hint for the user.
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// Replaces the exit code (callers know the context: a parse error is exit 2 on
    /// encrypt but exit 1 on decrypt).
    pub fn with_code(mut self, code: Code) -> Self {
        self.code = code;
        self
    }

    /// Prefixes the message with a context such as the file name.
    pub fn context(mut self, ctx: impl fmt::Display) -> Self {
        self.message = format!("{ctx}: {}", self.message);
        self
    }

    /// The process exit code.
    pub fn exit_code(&self) -> i32 {
        self.code as i32
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

/// Formats a key path for messages: `["a"]["b"][0]`-free form `a.b` is ambiguous, so we use
/// sops' own bracket syntax.
pub fn path_display<S: AsRef<str>>(path: &[S]) -> String {
    if path.is_empty() {
        return "(top level)".to_string();
    }
    path.iter()
        .map(|k| format!("[\"{}\"]", k.as_ref()))
        .collect()
}
