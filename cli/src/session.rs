//! Commands that change an encrypted file in place: `set`, `unset`; and `filestatus`.

use crate::commands::{check_version, display, load_config, store_options};
use crate::fsio::{read_input, write_atomic, write_stdout, ENCRYPTED_MODE};
use crate::{Cli, FilestatusArgs, FormatArgs, SetArgs, UnsetArgs};
use sealbox_formats::cipher::DataKey;
use sealbox_formats::metadata::Metadata;
use sealbox_formats::path::{self as tree_path, PathUse};
use sealbox_formats::sops::{self, Selection, Stash};
use sealbox_formats::store::{self, Format, StoreOptions};
use sealbox_formats::{timefmt, Document, Error, ErrorKind, Result, Value};
use sealbox_keys::KeyServices;
use std::path::Path;

/// A decrypted file, ready to be changed and written back under the same data key.
pub struct Opened {
    pub docs: Vec<Document>,
    pub md: Metadata,
    pub key: DataKey,
    pub stash: Stash,
    pub input: Format,
    pub output: Format,
}

fn formats(file: &Path, f: &FormatArgs) -> (Format, Format) {
    let input = Format::resolve(f.input_type.as_deref(), file);
    let output = f
        .output_type
        .as_deref()
        .map(Format::from_name)
        .unwrap_or(input);
    (input, output)
}

/// Reads, unwraps and decrypts `file`, remembering IVs so unchanged values keep their
/// ciphertext when written back.
pub fn open(file: &Path, f: &FormatArgs, ignore_mac: bool) -> Result<Opened> {
    open_with(file, f, ignore_mac, &KeyServices::from_env())
}

/// [`open`] with the key sources already set up (commands that open many files load the
/// identities once).
pub fn open_with(
    file: &Path,
    f: &FormatArgs,
    ignore_mac: bool,
    keys: &KeyServices,
) -> Result<Opened> {
    let what = display(file);
    let (input, output) = formats(file, f);
    let bytes = read_input(file)?;
    let (mut docs, md) = store::load_encrypted(input, &bytes, &what)?;
    check_version(&md.version, &what)?;
    let key = sealbox_keys::recover(&md, keys, &what)?;
    let stash = sops::decrypt_tree_with_stash(&mut docs, &md, &key, ignore_mac, &what)?;
    Ok(Opened {
        docs,
        md,
        key,
        stash,
        input,
        output,
    })
}

/// Re-encrypts and replaces `file` atomically (same mode and owner).
pub fn save(file: &Path, mut o: Opened, opts: &StoreOptions) -> Result<()> {
    let what = display(file);
    let sel = Selection::for_metadata(&o.md)?;
    let lastmodified = timefmt::now_rfc3339();
    o.md.mac =
        sops::encrypt_tree_with_stash(&mut o.docs, &o.key, &sel, &lastmodified, Some(&o.stash))
            .map_err(|e| e.context(&what))?;
    o.md.lastmodified = lastmodified;
    let out =
        store::emit_encrypted(o.output, &o.docs, &o.md, opts).map_err(|e| e.context(&what))?;
    write_atomic(file, &out, ENCRYPTED_MODE)
}

/// Parses a `set` value: JSON (an array is accepted too, unlike sops 3.11).
pub fn parse_json_value(text: &str) -> Result<Value> {
    let bad = || {
        Error::new(ErrorKind::InvalidSetValue, "the value is not valid JSON").with_hint(
            r#"quote strings as JSON: '"text"'; numbers, true/false, null and {…} are fine"#,
        )
    };
    let wrapped = format!("{{\"v\": {text}\n}}");
    let mut doc = store::json::parse(&wrapped).map_err(|_| bad())?;
    if doc.len() != 1 {
        return Err(bad());
    }
    doc.remove("v").ok_or_else(bad)
}

pub fn set(cli: &Cli, a: &SetArgs) -> Result<()> {
    let steps = tree_path::parse(&a.path, PathUse::Set)?;
    if steps.is_empty() {
        return Err(Error::new(ErrorKind::InvalidSetValue, "the path is empty"));
    }
    let text = if a.value_stdin {
        if a.value.is_some() {
            return Err(Error::new(
                ErrorKind::InvalidSetValue,
                "give either VALUE or --value-stdin, not both",
            ));
        }
        zeroize::Zeroizing::new(read_input(Path::new("-"))?)
    } else {
        let v = a.value.as_deref().ok_or_else(|| {
            Error::new(ErrorKind::NoFile, "missing VALUE")
                .with_hint(r#"sealbox set FILE '["key"]' '"value"'"#)
        })?;
        if a.value_file {
            zeroize::Zeroizing::new(read_input(Path::new(v))?)
        } else {
            zeroize::Zeroizing::new(v.as_bytes().to_vec())
        }
    };
    let text = std::str::from_utf8(&text)
        .map_err(|_| Error::new(ErrorKind::InvalidSetValue, "the value is not UTF-8"))?;
    let value = parse_json_value(text)?;
    let mut o = open(&a.file, &a.format, a.ignore_mac)?;
    o.stash
        .allow_plaintext_downgrade(a.allow_plaintext_downgrade);
    let doc = o
        .docs
        .first_mut()
        .ok_or_else(|| Error::new(ErrorKind::Other, "the file has no document"))?;
    if a.idempotent && tree_path::lookup(doc, &steps).ok() == Some(&value) {
        return Ok(());
    }
    tree_path::set(doc, &steps, value);
    save(&a.file, o, &store_options(load_config(cli)?.as_ref())?)
}

pub fn unset(cli: &Cli, a: &UnsetArgs) -> Result<()> {
    let steps = tree_path::parse(&a.path, PathUse::Set)?;
    let mut o = open(&a.file, &a.format, a.ignore_mac)?;
    o.stash
        .allow_plaintext_downgrade(a.allow_plaintext_downgrade);
    let doc = o
        .docs
        .first_mut()
        .ok_or_else(|| Error::new(ErrorKind::Other, "the file has no document"))?;
    if !tree_path::unset(doc, &steps) {
        if a.idempotent {
            return Ok(());
        }
        return Err(Error::new(
            ErrorKind::Other,
            format!("{}: {} not found", display(&a.file), a.path),
        ));
    }
    save(&a.file, o, &store_options(load_config(cli)?.as_ref())?)
}

pub fn filestatus(a: &FilestatusArgs) -> Result<()> {
    let f = Format::resolve(a.input_type.as_deref(), &a.file);
    let bytes = read_input(&a.file)?;
    let encrypted = match store::load_encrypted(f, &bytes, &display(&a.file)) {
        Ok((_, md)) => !md.version.is_empty() && !md.mac.is_empty(),
        Err(_) => false,
    };
    write_stdout(format!("{{\"encrypted\":{encrypted}}}\n").as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_values() {
        assert_eq!(parse_json_value("\"x\"").unwrap(), Value::str("x"));
        assert_eq!(parse_json_value("true").unwrap(), Value::Bool(true));
        assert!(matches!(
            parse_json_value("[1, 2]").unwrap(),
            Value::List(_)
        ));
        assert_eq!(
            parse_json_value("x").unwrap_err().kind,
            ErrorKind::InvalidSetValue
        );
        assert_eq!(
            parse_json_value("1, \"w\": 2").unwrap_err().kind,
            ErrorKind::InvalidSetValue
        );
    }
}
