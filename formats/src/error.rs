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
    /// An error of `kind` with `message`. (Also takes a [`Code`]: see there.)
    pub fn new(kind: impl Into<ErrorKind>, message: impl Into<String>) -> Self {
        Error {
            kind: kind.into(),
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

pub use compat::Code;

/// Kept for callers not yet moved to [`ErrorKind`] (`activation/src`, `cli/src/fsio.rs`,
/// `cli/src/manifest.rs`); remove after the layout merge.
///
/// * [`Code`]: the former exit-code names; `Error::new(Code::…, msg)` maps them to a kind;
/// * [`Error::generic`]: `Error::new(ErrorKind::Other, msg)`;
/// * [`Error::with_code`]: [`Error::with_kind`] from a [`Code`];
/// * [`Error::exit_code`]: the sops exit code of the kind, for the tests of
///   `cli/src/fsio.rs` (the binary's own table is `cli/src/exit.rs`; a test there checks
///   that both agree).
mod compat {
    use super::{Error, ErrorKind};

    /// The former error codes (named after sops' exit codes), kept for callers not yet
    /// moved to [`ErrorKind`]; remove after the layout merge.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    #[non_exhaustive]
    pub enum Code {
        /// [`ErrorKind::Other`]
        Generic,
        /// [`ErrorKind::ReadInput`]
        CouldNotReadInputFile,
        /// [`ErrorKind::WriteOutput`]
        CouldNotWriteOutputFile,
        /// [`ErrorKind::Emit`]
        ErrorDumpingTree,
        /// [`ErrorKind::InvalidSetValue`]
        InvalidSetFormat,
        /// [`ErrorKind::ConflictingOptions`]
        ConflictingParameters,
        /// [`ErrorKind::MacEncrypt`]
        ErrorEncryptingMac,
        /// [`ErrorKind::Encrypt`]
        ErrorEncryptingTree,
        /// [`ErrorKind::ValueDecrypt`]
        ErrorDecryptingTree,
        /// [`ErrorKind::MacMismatch`]
        MacMismatch,
        /// [`ErrorKind::InvalidTreePath`]
        InvalidTreePathFormat,
        /// [`ErrorKind::EmptyInput`]
        NeedAtLeastOneDocument,
        /// [`ErrorKind::NoFile`]
        NoFileSpecified,
        /// [`ErrorKind::DuplicateDecryptionKeyType`]
        DuplicateDecryptionKeyType,
        /// [`ErrorKind::DataKeyUnavailable`]
        CouldNotRetrieveKey,
        /// [`ErrorKind::NotModified`]
        FileHasNotBeenModified,
        /// [`ErrorKind::NoEditor`]
        NoEditorFound,
        /// [`ErrorKind::AlreadyEncrypted`]
        FileAlreadyEncrypted,
    }

    impl From<Code> for ErrorKind {
        fn from(c: Code) -> ErrorKind {
            match c {
                Code::Generic => ErrorKind::Other,
                Code::CouldNotReadInputFile => ErrorKind::ReadInput,
                Code::CouldNotWriteOutputFile => ErrorKind::WriteOutput,
                Code::ErrorDumpingTree => ErrorKind::Emit,
                Code::InvalidSetFormat => ErrorKind::InvalidSetValue,
                Code::ConflictingParameters => ErrorKind::ConflictingOptions,
                Code::ErrorEncryptingMac => ErrorKind::MacEncrypt,
                Code::ErrorEncryptingTree => ErrorKind::Encrypt,
                Code::ErrorDecryptingTree => ErrorKind::ValueDecrypt,
                Code::MacMismatch => ErrorKind::MacMismatch,
                Code::InvalidTreePathFormat => ErrorKind::InvalidTreePath,
                Code::NeedAtLeastOneDocument => ErrorKind::EmptyInput,
                Code::NoFileSpecified => ErrorKind::NoFile,
                Code::DuplicateDecryptionKeyType => ErrorKind::DuplicateDecryptionKeyType,
                Code::CouldNotRetrieveKey => ErrorKind::DataKeyUnavailable,
                Code::FileHasNotBeenModified => ErrorKind::NotModified,
                Code::NoEditorFound => ErrorKind::NoEditor,
                Code::FileAlreadyEncrypted => ErrorKind::AlreadyEncrypted,
            }
        }
    }

    impl Error {
        /// `Error::new(ErrorKind::Other, message)`; kept for callers not yet moved.
        pub fn generic(message: impl Into<String>) -> Self {
            Self::new(ErrorKind::Other, message)
        }

        /// [`Error::with_kind`] from a [`Code`]; kept for callers not yet moved.
        pub fn with_code(self, code: Code) -> Self {
            self.with_kind(code.into())
        }

        /// The sops exit code of the error's kind; kept for the tests of callers not yet
        /// moved (the binary's table is `cli/src/exit.rs`).
        pub fn exit_code(&self) -> i32 {
            match self.kind {
                ErrorKind::Parse | ErrorKind::DuplicateKey | ErrorKind::ReadInput => 2,
                ErrorKind::WriteOutput => 3,
                ErrorKind::Emit => 4,
                ErrorKind::InvalidSetValue => 7,
                ErrorKind::ConflictingOptions => 8,
                ErrorKind::MacEncrypt => 21,
                ErrorKind::Encrypt => 23,
                ErrorKind::ValueDecrypt => 25,
                ErrorKind::MacMismatch => 51,
                ErrorKind::InvalidTreePath => 91,
                ErrorKind::EmptyInput => 92,
                ErrorKind::NoFile => 100,
                ErrorKind::DuplicateDecryptionKeyType => 112,
                ErrorKind::DataKeyUnavailable => 128,
                ErrorKind::NotModified => 200,
                ErrorKind::NoEditor => 201,
                ErrorKind::AlreadyEncrypted => 203,
                ErrorKind::InvalidEncryptedFile
                | ErrorKind::MetadataNotFound
                | ErrorKind::InvalidMetadata
                | ErrorKind::InvalidConfig
                | ErrorKind::NoMatchingRule
                | ErrorKind::InvalidKey
                | ErrorKind::Other => 1,
            }
        }
    }
}
