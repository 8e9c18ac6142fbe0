//! `sealbox keygen`: a new age identity (like age-keygen), or with `-y` the recipients of
//! an identity file.

use crate::files::{read_input, write_stdout};
use crate::session::display;
use crate::KeygenArgs;
use sealbox_formats::{timefmt, Error, ErrorKind, Result};
use sealbox_keys::age::{self, Identities};

/// Runs `sealbox keygen`.
pub fn run(a: &KeygenArgs) -> Result<()> {
    if let Some(idf) = &a.convert {
        let text = read_input(idf)?;
        let text = String::from_utf8(text).map_err(|_| {
            Error::new(
                ErrorKind::Other,
                format!("{}: not a text file", display(idf)),
            )
        })?;
        let ids = Identities::from_text(&text).map_err(|e| e.context(display(idf)))?;
        let out: String = ids.recipients().iter().map(|r| format!("{r}\n")).collect();
        return write_stdout(out.as_bytes());
    }
    let (identity, recipient) = age::generate_age_key();
    let text = zeroize::Zeroizing::new(format!(
        "# created: {}\n# public key: {recipient}\n{}\n",
        timefmt::now_rfc3339(),
        identity.as_str()
    ));
    match &a.output {
        Some(p) => {
            use std::io::Write;
            use std::os::unix::fs::OpenOptionsExt;
            crate::keyfile::make_parent_dirs(p)?;
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(p)
                .map_err(|e| crate::keyfile::create_error(p, e))?;
            f.write_all(text.as_bytes())
                .map_err(|e| Error::new(ErrorKind::WriteOutput, format!("{}: {e}", p.display())))?;
            eprintln!("Public key: {recipient}");
            Ok(())
        }
        None => {
            eprintln!("Public key: {recipient}");
            write_stdout(text.as_bytes())
        }
    }
}
