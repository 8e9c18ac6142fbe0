//! `sealbox unset FILE PATH`: one value removed in place, the rest of the file keeping its
//! ciphertext.

use crate::context::{store_options, Context};
use crate::session::{display, mac_check, open};
use crate::UnsetArgs;
use sealbox_formats::path::{self as tree_path, PathUse};
use sealbox_formats::{Error, ErrorKind, Result};

/// Runs `sealbox unset`.
pub fn run(cx: &Context, a: &UnsetArgs) -> Result<()> {
    let steps = tree_path::parse(&a.path, PathUse::Set)?;
    let mut s = open(&a.file, &a.format, mac_check(a.ignore_mac), cx.keys())?;
    s.stash
        .allow_plaintext_downgrade(a.allow_plaintext_downgrade);
    if !tree_path::unset(s.first_doc()?, &steps) {
        if a.idempotent {
            return Ok(());
        }
        return Err(Error::new(
            ErrorKind::Other,
            format!("{}: {} not found", display(&a.file), a.path),
        ));
    }
    s.save(&a.file, &store_options(cx.load_config()?.as_ref())?)
}
