//! sops' exit codes: the one table that turns what failed ([`ErrorKind`]) into the status
//! `sealbox` exits with. Scripts written for sops 3.11 test these numbers
//! (getsops/sops `cmd/sops/codes`), and `tests/tests/exit_codes.rs` compares them with the
//! real sops, case by case.
//!
//! Only `main` exits; commands return errors (and `check` its findings).

use sealbox_formats::{Error, ErrorKind};

/// The sops exit code for an error of `kind`.
pub fn code(kind: ErrorKind) -> u8 {
    match kind {
        // CouldNotReadInputFile
        ErrorKind::Parse | ErrorKind::DuplicateKey | ErrorKind::ReadInput => 2,
        // CouldNotWriteOutputFile
        ErrorKind::WriteOutput => 3,
        // ErrorDumpingTree
        ErrorKind::Emit => 4,
        // InvalidSetFormat
        ErrorKind::InvalidSetValue => 7,
        // ConflictingParameters
        ErrorKind::ConflictingOptions => 8,
        // ErrorEncryptingMac
        ErrorKind::MacEncrypt => 21,
        // ErrorEncryptingTree
        ErrorKind::Encrypt => 23,
        // ErrorDecryptingTree
        ErrorKind::ValueDecrypt => 25,
        // MacMismatch
        ErrorKind::MacMismatch => 51,
        // InvalidTreePathFormat
        ErrorKind::InvalidTreePath => 91,
        // NeedAtLeastOneDocument
        ErrorKind::EmptyInput => 92,
        // NoFileSpecified
        ErrorKind::NoFile => 100,
        // DuplicateDecryptionKeyType
        ErrorKind::DuplicateDecryptionKeyType => 112,
        // CouldNotRetrieveKey
        ErrorKind::DataKeyUnavailable => 128,
        // FileHasNotBeenModified
        ErrorKind::NotModified => 200,
        // NoEditorFound
        ErrorKind::NoEditor => 201,
        // FileAlreadyEncrypted
        ErrorKind::AlreadyEncrypted => 203,
        // ErrorGeneric: sops reports these through a plain error (an encrypted file that
        // does not parse is "Error unmarshalling input", exit 1, where the same text as
        // plaintext input is exit 2).
        ErrorKind::InvalidEncryptedFile
        | ErrorKind::MetadataNotFound
        | ErrorKind::InvalidMetadata
        | ErrorKind::InvalidConfig
        | ErrorKind::NoMatchingRule
        | ErrorKind::InvalidKey
        | ErrorKind::Other => 1,
        // A kind added to the library later: generic until it gets its row here.
        _ => 1,
    }
}

/// The exit code for `e`.
pub fn of(e: &Error) -> u8 {
    code(e.kind)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [ErrorKind; 26] = [
        ErrorKind::Parse,
        ErrorKind::DuplicateKey,
        ErrorKind::ReadInput,
        ErrorKind::WriteOutput,
        ErrorKind::Emit,
        ErrorKind::InvalidSetValue,
        ErrorKind::ConflictingOptions,
        ErrorKind::MacEncrypt,
        ErrorKind::Encrypt,
        ErrorKind::ValueDecrypt,
        ErrorKind::MacMismatch,
        ErrorKind::InvalidTreePath,
        ErrorKind::EmptyInput,
        ErrorKind::NoFile,
        ErrorKind::DuplicateDecryptionKeyType,
        ErrorKind::DataKeyUnavailable,
        ErrorKind::NotModified,
        ErrorKind::NoEditor,
        ErrorKind::AlreadyEncrypted,
        ErrorKind::InvalidEncryptedFile,
        ErrorKind::MetadataNotFound,
        ErrorKind::InvalidMetadata,
        ErrorKind::InvalidConfig,
        ErrorKind::NoMatchingRule,
        ErrorKind::InvalidKey,
        ErrorKind::Other,
    ];

    #[test]
    fn every_sops_code_has_a_kind() {
        let mut codes: Vec<u8> = ALL.iter().map(|k| code(*k)).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(
            codes,
            [1, 2, 3, 4, 7, 8, 21, 23, 25, 51, 91, 92, 100, 112, 128, 200, 201, 203]
        );
    }
}
