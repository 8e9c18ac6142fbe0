//! `sealbox filestatus FILE`: whether a file is encrypted, as JSON (no key needed).

use crate::files::{read_input, write_stdout};
use crate::session::display;
use crate::FilestatusArgs;
use sealbox_formats::store::{self, Format};
use sealbox_formats::{ErrorKind, Result};

/// Runs `sealbox filestatus`.
pub fn run(a: &FilestatusArgs) -> Result<()> {
    let f = Format::resolve(a.input_type.as_deref(), &a.file);
    // sops fails here with its generic status (1), a missing file included.
    let bytes = read_input(&a.file).map_err(|e| {
        e.with_kind(ErrorKind::Other)
            .context("cannot check file status: cannot load encrypted file")
    })?;
    let encrypted = match store::load_encrypted(f, &bytes, &display(&a.file)) {
        Ok((_, md)) => !md.version.is_empty() && !md.mac.is_empty(),
        Err(_) => false,
    };
    write_stdout(format!("{{\"encrypted\":{encrypted}}}\n").as_bytes())
}
