//! `sealbox ssh-to-age`: SSH ed25519 keys as age recipients or identities (like Mic92's
//! ssh-to-age).

use crate::files::{read_input, write_atomic, write_stdout, ENCRYPTED_MODE, PLAINTEXT_MODE};
use crate::session::display;
use crate::SshToAgeArgs;
use sealbox_formats::{Error, ErrorKind, Result};
use sealbox_keys::age;
use std::path::PathBuf;

/// Runs `sealbox ssh-to-age`.
pub fn run(a: &SshToAgeArgs) -> Result<()> {
    let input = a.input.clone().unwrap_or_else(|| PathBuf::from("-"));
    let raw = zeroize::Zeroizing::new(read_input(&input)?);
    let text = std::str::from_utf8(&raw).map_err(|_| {
        Error::new(
            ErrorKind::Other,
            format!("{}: not a text file", display(&input)),
        )
    })?;
    let out = if a.private_key {
        let k = age::ssh_to_age_private(text).map_err(|e| e.context(display(&input)))?;
        zeroize::Zeroizing::new(format!("{}\n", k.as_str()))
    } else {
        let mut out = String::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let r = age::ssh_to_age_public(line)
                .map_err(|e| e.context(format!("{} line {}", display(&input), n + 1)))?;
            out.push_str(&r);
            out.push('\n');
        }
        if out.is_empty() {
            return Err(Error::new(
                ErrorKind::Other,
                format!("{}: no SSH public key found", display(&input)),
            ));
        }
        zeroize::Zeroizing::new(out)
    };
    match &a.output {
        Some(p) => crate::keyfile::make_parent_dirs(p).and_then(|()| {
            write_atomic(
                p,
                out.as_bytes(),
                if a.private_key {
                    PLAINTEXT_MODE
                } else {
                    ENCRYPTED_MODE
                },
            )
            .map_err(|e| crate::keyfile::write_hint(p, e))
        }),
        None => write_stdout(out.as_bytes()),
    }
}
