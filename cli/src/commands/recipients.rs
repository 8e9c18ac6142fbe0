//! `sealbox recipients FILE`: who can decrypt a file, by key group (no key needed).

use crate::files::write_stdout;
use crate::session::load_encrypted;
use crate::RecipientsArgs;
use sealbox_formats::store::Format;
use sealbox_formats::Result;

/// Runs `sealbox recipients`.
pub fn run(a: &RecipientsArgs) -> Result<()> {
    let f = Format::resolve(a.input_type.as_deref(), &a.file);
    let (_, md) = load_encrypted(&a.file, f)?;
    let mut out = String::new();
    let several = md.key_groups.len() > 1;
    for (i, g) in md.key_groups.iter().enumerate() {
        if several {
            out.push_str(&format!("# group {i}\n"));
        }
        for r in g.describe() {
            out.push_str(&r);
            out.push('\n');
        }
    }
    if several {
        // As the file records it (not capped to the number of groups).
        let t = if md.shamir_threshold == 0 {
            md.key_groups.len()
        } else {
            md.shamir_threshold
        };
        out.push_str(&format!("# {t} of {} groups needed\n", md.key_groups.len()));
    }
    write_stdout(out.as_bytes())
}
