//! An encrypted file opened for a change: read, parsed, version checked, data key
//! recovered, values decrypted (remembering their IVs), and written back under the same
//! data key (or a new one). `decrypt`, `set`, `unset`, `edit`, `rotate`, `updatekeys` and
//! the `exec-*` commands all go through here.

use crate::files::{read_input, write_atomic, ENCRYPTED_MODE};
use crate::FormatArgs;
use sealbox_formats::cipher::DataKey;
use sealbox_formats::metadata::Metadata;
use sealbox_formats::sops::{self, MacCheck, Selection, Stash};
use sealbox_formats::store::{self, Format, StoreOptions};
use sealbox_formats::{timefmt, Document, Error, ErrorKind, Result};
use sealbox_keys::{KeyServices, Recipient};
use std::path::Path;

/// A decrypted file, ready to be changed and written back.
pub struct Session {
    /// The documents, decrypted.
    pub docs: Vec<Document>,
    /// The metadata as read (until [`Session::reencrypt`] or [`Session::rekey`]).
    pub md: Metadata,
    /// The data key.
    pub key: DataKey,
    /// The IVs (and the encrypted places) the decryption saw.
    pub stash: Stash,
    /// The format read.
    pub input: Format,
    /// The format to write.
    pub output: Format,
}

/// The MAC check a command's `--ignore-mac` flag asks for.
pub fn mac_check(ignore_mac: bool) -> MacCheck {
    if ignore_mac {
        MacCheck::Ignore
    } else {
        MacCheck::Verify
    }
}

/// How a file is named in messages (`-` is stdin).
pub fn display(p: &Path) -> String {
    if p == Path::new("-") {
        "stdin".into()
    } else {
        p.display().to_string()
    }
}

/// The input and output formats of `file` given the flags.
pub fn formats(file: &Path, f: &FormatArgs) -> (Format, Format) {
    let input = Format::resolve(f.input_type.as_deref(), file);
    let output = f
        .output_type
        .as_deref()
        .map(Format::from_name)
        .unwrap_or(input);
    (input, output)
}

/// sops refuses files whose `version` is not Major.Minor.Patch (a check for a historic
/// AWS KMS bug); so do we, with the same exit code.
pub fn check_version(v: &str, what: &str) -> Result<()> {
    let bad = |why: &str| {
        Error::new(
            ErrorKind::InvalidMetadata,
            format!("{what}: invalid sops.version {v:?}: {why}"),
        )
        .with_hint("the metadata was altered; restore `version` (e.g. 3.11.0) from version control")
    };
    if v.is_empty() {
        return Err(bad("version string empty"));
    }
    let core = v.strip_prefix('v').unwrap_or(v);
    let core = core.split(['-', '+']).next().unwrap_or("");
    if core.starts_with("1.") {
        return Ok(());
    }
    let parts: Vec<&str> = core.split('.').collect();
    let numeric = |p: &&str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
    if parts.len() != 3 || !parts.iter().all(numeric) {
        return Err(bad("no Major.Minor.Patch elements found"));
    }
    Ok(())
}

/// Reads `file` and parses it as an encrypted file of `format` (nothing decrypted). A missing
/// file is unreadable input (exit 2), as in sops' `set`, `unset`, `rotate` and `exec-*`;
/// only `decrypt`, `encrypt` and the classic `-d`/`-e`/`-r` check for it first (exit 100).
pub fn load_encrypted(file: &Path, format: Format) -> Result<(Vec<Document>, Metadata)> {
    let bytes = read_input(file).map_err(|e| match e.kind {
        ErrorKind::NoFile => e.with_kind(ErrorKind::ReadInput),
        _ => e,
    })?;
    store::load_encrypted(format, &bytes, &display(file))
}

/// Reads, unwraps and decrypts `file`, remembering IVs so unchanged values keep their
/// ciphertext when written back.
pub fn open(file: &Path, f: &FormatArgs, mac: MacCheck, keys: &KeyServices) -> Result<Session> {
    let what = display(file);
    let (input, output) = formats(file, f);
    let (mut docs, md) = load_encrypted(file, input)?;
    check_version(&md.version, &what)?;
    let key = sealbox_keys::recover(&md, keys, &what)?;
    let stash = sops::decrypt_tree_with_stash(&mut docs, &md, &key, mac, &what)?;
    Ok(Session {
        docs,
        md,
        key,
        stash,
        input,
        output,
    })
}

impl Session {
    /// The first document, where `set` and `unset` work.
    pub fn first_doc(&mut self) -> Result<&mut Document> {
        self.docs
            .first_mut()
            .ok_or_else(|| Error::new(ErrorKind::Other, "the file has no document"))
    }

    /// Encrypts the documents again under the session's data key, reusing the IVs of
    /// unchanged values, and stamps the metadata (MAC, lastmodified).
    pub fn reencrypt(&mut self, what: &str) -> Result<()> {
        let sel = Selection::for_metadata(&self.md)?;
        let lastmodified = timefmt::now_rfc3339();
        self.md.mac = sops::encrypt_tree_with_stash(
            &mut self.docs,
            &self.key,
            &sel,
            &lastmodified,
            Some(&self.stash),
        )
        .map_err(|e| e.context(what))?;
        self.md.lastmodified = lastmodified;
        Ok(())
    }

    /// Encrypts every value under a fresh data key wrapped for `groups`.
    pub fn rekey(
        &mut self,
        groups: &[Vec<Recipient>],
        threshold: usize,
        keys: &KeyServices,
        what: &str,
    ) -> Result<()> {
        let key = DataKey::generate();
        self.md.key_groups = sealbox_keys::wrap(&key, groups, threshold, keys)?;
        self.md.shamir_threshold = crate::policy::effective_threshold(threshold, groups.len());
        self.key = key;
        // Like sops, keep the value IVs: under a new key they give new ciphertexts anyway.
        self.reencrypt(what)
    }

    /// The file's bytes in the output format.
    pub fn emit(&self, opts: &StoreOptions) -> Result<Vec<u8>> {
        store::emit_encrypted(self.output, &self.docs, &self.md, opts)
    }

    /// Re-encrypts and replaces `file` atomically (same mode and owner).
    pub fn save(mut self, file: &Path, opts: &StoreOptions) -> Result<()> {
        let what = display(file);
        self.reencrypt(&what)?;
        let out = self.emit(opts).map_err(|e| e.context(&what))?;
        write_atomic(file, &out, ENCRYPTED_MODE)
    }
}

#[cfg(test)]
mod tests {
    use super::check_version;
    use sealbox_formats::ErrorKind;

    #[test]
    fn version_check_like_sops() {
        assert!(check_version("3.11.0", "f").is_ok());
        assert!(check_version("v3.7.1", "f").is_ok());
        assert!(check_version("1.5", "f").is_ok());
        assert!(check_version("3.2", "f").is_err());
        assert!(check_version("garbage", "f").is_err());
        assert_eq!(
            check_version("", "f").unwrap_err().kind,
            ErrorKind::InvalidMetadata
        );
    }
}
