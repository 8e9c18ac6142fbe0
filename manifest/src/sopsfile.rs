//! The sops files `--check-mode=sopsfile` looks into: the first document of an encrypted
//! file, parsed (not decrypted) by sealbox-formats' stores, as the contract's [`Value`]. The
//! bytes come from the [`Host`](crate::Host); its maps, lists and `ENC[…]` leaves are
//! enough to tell whether a secret's key is there.

use crate::rules::Format;
use crate::value::Value;
use sealbox_formats::store;

/// Why a sops file cannot be looked into (`sopsfile` depth).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum SopsFileError {
    /// It cannot be read (the system's message).
    Unreadable(String),
    /// It does not parse as its format (the parser's message).
    Unparsable(String),
}

impl Format {
    /// The sops store that reads files of this format (the manifest's names are the stores').
    pub fn store(self) -> store::Format {
        match self {
            Format::Yaml => store::Format::Yaml,
            Format::Json => store::Format::Json,
            Format::Binary => store::Format::Binary,
            Format::Dotenv => store::Format::Dotenv,
            Format::Ini => store::Format::Ini,
        }
    }
}

/// The first document of the encrypted (not decrypted) sops file `bytes`, named `file`,
/// parsed as `format` (none: an empty object); its leaves are `ENC[…]` strings.
pub(crate) fn sops_document(
    bytes: &[u8],
    file: &str,
    format: Format,
) -> Result<Value, SopsFileError> {
    let (docs, _) = store::load_encrypted(format.store(), bytes, file).map_err(|e| {
        // The message without its leading `<file>: ` (validation names the file), on one line.
        let m = e
            .message
            .strip_prefix(file)
            .and_then(|m| m.strip_prefix(": "))
            .unwrap_or(&e.message);
        SopsFileError::Unparsable(m.replace('\n', "; "))
    })?;
    Ok(docs
        .first()
        .map_or(Value::Object(Vec::new()), Value::from_map))
}
