//! `sealbox encrypt`: a plaintext file (or stdin) encrypted for the recipients of the flags
//! or of its creation rule.

use crate::context::{store_options, Context};
use crate::files::ENCRYPTED_MODE;
use crate::policy::CreationPlan;
use crate::session::display;
use crate::target::Target;
use crate::EncryptArgs;
use sealbox_formats::cipher::DataKey;
use sealbox_formats::store;
use sealbox_formats::{Error, ErrorKind, Result};

/// sops' message for a file with a top-level `sops` entry (its first two sentences, on one
/// line: scripts match on them).
const ALREADY_ENCRYPTED: &str = "The file you have provided contains a top-level entry called 'sops', or for flat file formats top-level entries starting with 'sops_'. This is generally due to the file already being encrypted.";

/// Runs `sealbox encrypt`.
pub fn run(cx: &Context, a: &EncryptArgs) -> Result<()> {
    let t = Target::new(&a.file, &a.io)?;
    let Some(name) = t.name.clone() else {
        return Err(Error::new(
            ErrorKind::ConflictingOptions,
            "must specify --filename-override when reading from stdin (it chooses the format and the creation rule)",
        ));
    };
    let what = display(&t.input);
    let cfg = cx.load_config()?;
    let abs = std::path::absolute(&name).unwrap_or(name.clone());
    // Like sops, the creation rules are consulted even when keys come from flags, so a
    // config whose rules match nothing is an error either way.
    let rule = match &cfg {
        Some(c) => c.rule_for(&abs)?,
        None => None,
    };
    let plain = t.read()?;
    // The keys before the content, as sops: without keys, a file that does not parse or is
    // already encrypted fails on the keys (exit 1; `sops -e -d` relies on that order).
    let plan = CreationPlan::new(cfg.as_ref(), rule, &a.keys, t.input_format)?;
    let mut docs =
        store::load_plain_owned(t.input_format, plain, &what).map_err(|e| match e.kind {
            // sops: a plaintext input that does not load is exit 2, whatever the cause, but
            // a key or value it cannot encrypt is exit 23.
            ErrorKind::Encrypt | ErrorKind::Parse | ErrorKind::DuplicateKey => e,
            _ => e.with_kind(ErrorKind::ReadInput),
        })?;
    if docs.is_empty() {
        return Err(Error::new(
            ErrorKind::EmptyInput,
            format!(
                "{what}: File cannot be completely empty, it must contain at least one document"
            ),
        ));
    }
    if store::has_metadata(t.input_format, &docs) {
        return Err(Error::new(
            ErrorKind::AlreadyEncrypted,
            format!("{what}: {ALREADY_ENCRYPTED}"),
        )
        .with_hint("if it is encrypted, change it with `sealbox edit`/`set`; if it is not, rename its `sops` entry"));
    }

    let md = plan
        .encrypt(&mut docs, &DataKey::generate(), cx.keys())
        .map_err(|e| e.context(&what))?;
    let opts = store_options(cfg.as_ref())?;
    let out =
        store::emit_encrypted(t.output_format, &docs, &md, &opts).map_err(|e| e.context(&what))?;
    t.write(&a.io, &out, ENCRYPTED_MODE)?;
    // The process ends now, and the tree holds nothing secret any more (ciphertext, and
    // the unencrypted values just written out in clear; plaintext was wiped as it was
    // replaced): leave it, and the output, to the exit instead of wiping and freeing
    // every node (a measurable part of encrypting a large file).
    std::mem::forget(docs);
    std::mem::forget(out);
    Ok(())
}
