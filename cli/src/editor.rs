//! Running the user's editor on a plaintext file: which editor (`$SOPS_EDITOR`, `$EDITOR`,
//! split into words as a shell would), the private file it edits, and asking to reopen it
//! after an edit that does not parse. The `edit` command (`commands/edit.rs`) decides
//! what is decrypted and re-encrypted.

use crate::files::PLAINTEXT_MODE;
use sealbox_formats::{Error, ErrorKind, Result};
use std::io::{BufRead, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};

/// SHA-256 of the temporary file, to tell whether the editor changed it.
pub fn digest(b: &[u8]) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(b).into()
}

/// Splits an `$EDITOR` value into words (quotes and backslashes as a shell would).
fn shell_words(s: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = s.chars();
    let mut quote: Option<char> = None;
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some('"'), '\\') => {
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
            }
            (Some(_), c) => cur.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                in_word = true;
            }
            (None, '\\') => {
                if let Some(n) = chars.next() {
                    cur.push(n);
                    in_word = true;
                }
            }
            (None, c) if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            (None, c) => {
                cur.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        words.push(cur);
    }
    words
}

/// The editor to run: `$SOPS_EDITOR`, `$EDITOR`, else vim, nano or vi from `PATH`.
fn editor_command() -> Result<Vec<String>> {
    for var in ["SOPS_EDITOR", "EDITOR"] {
        if let Ok(v) = std::env::var(var) {
            let w = shell_words(&v);
            if !w.is_empty() {
                return Ok(w);
            }
        }
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    for name in ["vim", "nano", "vi"] {
        if std::env::split_paths(&path).any(|d| d.join(name).is_file()) {
            return Ok(vec![name.to_string()]);
        }
    }
    Err(Error::new(ErrorKind::NoEditor, "no editor found")
        .with_hint("set $SOPS_EDITOR or $EDITOR (e.g. EDITOR=nano)"))
}

/// Runs the editor on `path` and waits; an interruption or a failed editor discards the
/// edit.
pub fn run_editor(path: &Path, interrupted: &AtomicBool) -> Result<()> {
    let words = editor_command()?;
    let status = Command::new(&words[0])
        .args(&words[1..])
        .arg(path)
        .status()
        .map_err(|e| {
            Error::new(
                ErrorKind::NoEditor,
                format!("could not run the editor {:?}: {e}", words[0]),
            )
            .with_hint("set $SOPS_EDITOR or $EDITOR to an editor on your PATH")
        })?;
    if interrupted.load(Ordering::SeqCst) {
        return Err(Error::new(
            ErrorKind::NoEditor,
            "interrupted: the edit was discarded",
        ));
    }
    if !status.success() {
        return Err(Error::new(
            ErrorKind::NoEditor,
            format!(
                "the editor exited with {status}: the edit was discarded, the file is unchanged"
            ),
        ));
    }
    Ok(())
}

/// Writes the plaintext to edit into `path`, created 0600 (never through a symlink).
pub fn write_private(path: &Path, data: &[u8]) -> Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(PLAINTEXT_MODE)
        .custom_flags(nix::fcntl::OFlag::O_NOFOLLOW.bits())
        .open(path)
        .map_err(|e| Error::new(ErrorKind::WriteOutput, format!("{}: {e}", path.display())))?;
    f.write_all(data)
        .map_err(|e| Error::new(ErrorKind::WriteOutput, format!("{}: {e}", path.display())))
}

/// Asks whether to reopen the editor after a parse error. False on EOF (no terminal):
/// sops 3.11 loops forever there; we give up instead.
pub fn ask_reopen(problem: &Error) -> bool {
    eprintln!("sealbox: the edited file does not parse: {problem}");
    eprint!("Press Enter to return to the editor, or Ctrl+C to discard the edit. ");
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    matches!(std::io::stdin().lock().read_line(&mut line), Ok(n) if n > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn editor_words() {
        assert_eq!(shell_words("code --wait"), ["code", "--wait"]);
        assert_eq!(
            shell_words(r#"'my editor' -x "a b""#),
            ["my editor", "-x", "a b"]
        );
        assert!(shell_words("   ").is_empty());
    }
}
