//! `sealbox filestatus FILE`: whether a file is encrypted, as JSON (no key needed).

use crate::files::{read_input, write_stdout};
use crate::session::display;
use crate::FilestatusArgs;
use sealbox_formats::store::{self, Format};
use sealbox_formats::Result;

/// Runs `sealbox filestatus`.
pub fn run(a: &FilestatusArgs) -> Result<()> {
    let f = Format::resolve(a.input_type.as_deref(), &a.file);
    let bytes = read_input(&a.file)?;
    let encrypted = match store::load_encrypted(f, &bytes, &display(&a.file)) {
        Ok((_, md)) => !md.version.is_empty() && !md.mac.is_empty(),
        Err(_) => false,
    };
    write_stdout(format!("{{\"encrypted\":{encrypted}}}\n").as_bytes())
}
