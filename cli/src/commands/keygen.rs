//! `sealbox keygen`: a new age identity (like age-keygen), or with `-y` the recipients of
//! an identity file. With `-p` the identity is sealed with a passphrase as `age -p -a`
//! does (rage-keygen and age-keygen have no such option; users pipe age-keygen into
//! `age -p`): the passphrase is asked twice on the terminal, never read from stdin.

use crate::files::{read_input, write_stdout};
use crate::session::display;
use crate::KeygenArgs;
use sealbox_formats::{timefmt, Error, ErrorKind, Result};
use sealbox_keys::age::{self, Identities, Ui};
use zeroize::Zeroizing;

/// The passphrase for a new sealed identity: asked twice on the terminal.
fn new_passphrase() -> Result<Zeroizing<String>> {
    let ui = Ui::terminal();
    let fail = |why: String| Error::new(ErrorKind::Other, format!("keygen -p: {why}"));
    let first = ui.secret("keygen", "Enter passphrase:").map_err(fail)?;
    if first.is_empty() {
        return Err(fail("the passphrase is empty".into()).with_hint(
            "an empty passphrase protects nothing; leave out -p for an unprotected key",
        ));
    }
    let again = ui.secret("keygen", "Confirm passphrase:").map_err(fail)?;
    if *first != *again {
        return Err(fail("the passphrases do not match".into()));
    }
    Ok(first)
}

/// Runs `sealbox keygen`.
pub fn run(a: &KeygenArgs) -> Result<()> {
    if let Some(idf) = &a.convert {
        let text = read_input(idf)?;
        let mut ids = Identities::with_ui(Ui::terminal());
        ids.push_identity_file(&text, &display(idf).to_string())?;
        ids.open_sealed_files()?;
        let out: String = ids.recipients().iter().map(|r| format!("{r}\n")).collect();
        return write_stdout(out.as_bytes());
    }
    let pass = if a.passphrase {
        Some(new_passphrase()?)
    } else {
        None
    };
    let (identity, recipient) = age::generate_age_key();
    let mut text = zeroize::Zeroizing::new(format!(
        "# created: {}\n# public key: {recipient}\n{}\n",
        timefmt::now_rfc3339(),
        identity.as_str()
    ));
    if let Some(pass) = pass {
        let sealed = age::seal_identity_file(&text, &pass)?;
        // Armored, hence text.
        text = Zeroizing::new(String::from_utf8_lossy(&sealed).into_owned());
    }
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
