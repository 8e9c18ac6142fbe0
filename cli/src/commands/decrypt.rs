//! `sealbox decrypt`: the plaintext of a file (or of one part of it, `--extract`).

use crate::context::{store_options, Context};
use crate::files::PLAINTEXT_MODE;
use crate::session::{check_version, display, mac_check};
use crate::target::Target;
use crate::DecryptArgs;
use sealbox_formats::path::{self as tree_path, PathUse};
use sealbox_formats::sops;
use sealbox_formats::store::{self, Format};
use sealbox_formats::{Document, Result};
use std::borrow::Cow;

/// Runs `sealbox decrypt`.
pub fn run(cx: &Context, a: &DecryptArgs) -> Result<()> {
    let t = Target::new(&a.file, &a.io)?;
    let what = display(&t.input);
    let cfg = cx.load_config()?;
    let extract = a
        .extract
        .as_deref()
        .map(|p| tree_path::parse(p, PathUse::Extract))
        .transpose()
        .map_err(|e| e.context("error parsing --extract path"))?;
    let bytes = t.read()?;
    let (mut docs, md) = store::load_encrypted(t.input_format, &bytes, &what)?;
    drop(bytes);
    check_version(&md.version, &what)?;
    let key = sealbox_keys::recover(&md, cx.keys(), &what)?;
    sops::decrypt_tree(&mut docs, &md, &key, mac_check(a.ignore_mac), &what)?;
    let opts = store_options(cfg.as_ref())?;
    let empty = Document::default();
    let out = match &extract {
        Some(steps) => {
            let first = docs.first().unwrap_or(&empty);
            let v = tree_path::lookup(first, steps)
                .map_err(|e| e.context("error truncating tree").context(&what))?;
            store::emit_value(t.output_format, v, &opts).map(Cow::Owned)
        }
        // Binary output is the tree's own bytes: a large file is not copied again.
        None if t.output_format == Format::Binary => store::binary_data(&docs).map(Cow::Borrowed),
        None => store::emit_plain(t.output_format, &docs, &opts).map(Cow::Owned),
    }
    .map_err(|e| e.context(&what))?;
    t.write(&a.io, &out, PLAINTEXT_MODE)
}
