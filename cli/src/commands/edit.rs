//! `sealbox edit FILE` (and the bare `sealbox FILE`): decrypt into a 0600 file in a
//! private 0700 directory, run the editor, re-encrypt what changed.
//!
//! Unchanged values keep their ciphertext (the IV stash), so the git diff shows only the
//! edited keys. An edit that does not parse is offered back to the editor; the temporary
//! file is overwritten and removed on every exit path, Ctrl-C included.

use crate::commands::{display, load_config, store_options, CreationPlan};
use crate::session::{open, save, Opened};
use crate::fsio::{sweep_private_dirs, write_atomic, PrivateDir, ENCRYPTED_MODE, PLAINTEXT_MODE};
use crate::{Cli, EditArgs};
use sealbox_formats::cipher::DataKey;
use sealbox_formats::metadata::WRITER_VERSION;
use sealbox_formats::sops::Stash;
use sealbox_formats::store::{self, Format};
use sealbox_formats::{Document, Error, ErrorKind, Result};
use sealbox_keys::KeyServices;
use std::io::{BufRead, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use zeroize::Zeroizing;

/// SHA-256 of the temporary file, to tell whether the editor changed it.
fn digest(b: &[u8]) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(b).into()
}

/// The document a new file starts from (sops' example, so muscle memory carries over).
fn example(format: Format) -> &'static str {
    match format {
        Format::Yaml => "hello: Welcome to SOPS! Edit this file as you please!\nexample_key: example_value\n# Example comment\nexample_array:\n    - example_value1\n    - example_value2\nexample_number: 1234.56789\nexample_booleans:\n    - true\n    - false\n",
        Format::Json => "{\n\t\"hello\": \"Welcome to SOPS! Edit this file as you please!\",\n\t\"example_key\": \"example_value\",\n\t\"example_array\": [\n\t\t\"example_value1\",\n\t\t\"example_value2\"\n\t],\n\t\"example_number\": 1234.56789,\n\t\"example_booleans\": [\n\t\ttrue,\n\t\tfalse\n\t]\n}\n",
        Format::Dotenv => "# This is an example file.\nhello=Welcome to SOPS! Edit this file as you please!\nexample_key=example_value\nexample_multiline=foo\\nbar\\nbaz\n",
        Format::Ini => "; This is an example file.\n[Welcome!]\nhello = Welcome to SOPS! Edit this file as you please!\nexample_key = example_value\n",
        Format::Binary => "Welcome to SOPS! Edit this file as you please!\n",
    }
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

fn run_editor(path: &Path, interrupted: &AtomicBool) -> Result<()> {
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

fn write_private(path: &Path, data: &[u8]) -> Result<()> {
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
fn ask_reopen(problem: &Error) -> bool {
    eprintln!("sealbox: the edited file does not parse: {problem}");
    eprint!("Press Enter to return to the editor, or Ctrl+C to discard the edit. ");
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    matches!(std::io::stdin().lock().read_line(&mut line), Ok(n) if n > 0)
}

fn semver_older(have: &str, than: &str) -> bool {
    let parse = |v: &str| -> Vec<u64> {
        v.trim_start_matches('v')
            .split(['-', '+'])
            .next()
            .unwrap_or("")
            .split('.')
            .map(|p| p.parse().unwrap_or(0))
            .collect()
    };
    parse(have) < parse(than)
}

pub fn edit(cli: &Cli, a: &EditArgs) -> Result<()> {
    // Plaintext that killed runs left in $TMPDIR goes first (their PID is gone).
    sweep_private_dirs();
    let what = display(&a.file);
    let interrupted = Arc::new(AtomicBool::new(false));
    for sig in [
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGTERM,
        signal_hook::consts::SIGHUP,
    ] {
        // While the editor runs, a signal must not kill us before the plaintext is wiped.
        let _ = signal_hook::flag::register(sig, Arc::clone(&interrupted));
    }
    let cfg = load_config(cli)?;
    let opts = store_options(cfg.as_ref())?;
    let exists = a.file.exists();
    let (opened, plan) = if exists {
        let mut o = open(&a.file, &a.format, a.ignore_mac)?;
        o.stash
            .allow_plaintext_downgrade(a.allow_plaintext_downgrade);
        (o, None)
    } else {
        let format = Format::resolve(a.format.input_type.as_deref(), &a.file);
        let abs = std::path::absolute(&a.file).unwrap_or_else(|_| a.file.clone());
        let rule = match &cfg {
            Some(c) => c.rule_for(&abs)?,
            None => None,
        };
        let plan = CreationPlan::new(cfg.as_ref(), rule, &a.keys, format)?;
        let docs = store::load_plain(format, example(format).as_bytes(), "example")?;
        let o = Opened {
            docs,
            md: sealbox_formats::metadata::Metadata {
                key_groups: Vec::new(),
                shamir_threshold: 0,
                lastmodified: String::new(),
                mac: String::new(),
                selector: None,
                mac_only_encrypted: false,
                version: WRITER_VERSION.into(),
            },
            key: DataKey::generate(),
            stash: Stash::default(),
            input: format,
            output: a
                .format
                .output_type
                .as_deref()
                .map(Format::from_name)
                .unwrap_or(format),
        };
        (o, Some(plan))
    };
    let plain = Zeroizing::new(store::emit_plain(opened.input, &opened.docs, &opts)?);
    let dir = PrivateDir::new()?;
    let name = a
        .file
        .file_name()
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("secrets"));
    let tmp = dir.path().join(name);
    write_private(&tmp, &plain)?;
    let before = digest(&plain);
    drop(plain);

    let docs: Vec<Document> = loop {
        run_editor(&tmp, &interrupted)?;
        let text =
            Zeroizing::new(std::fs::read(&tmp).map_err(|e| {
                Error::new(ErrorKind::ReadInput, format!("{}: {e}", tmp.display()))
            })?);
        if digest(&text) == before {
            eprintln!("File has not changed, exiting.");
            return Err(Error::new(
                ErrorKind::NotModified,
                format!("{what}: not modified"),
            ));
        }
        let parsed = store::load_plain(opened.input, &text, &what).and_then(|docs| {
            if store::has_metadata(opened.input, &docs) {
                Err(Error::new(
                    ErrorKind::Other,
                    "the edited text has a top-level `sops` key",
                )
                .with_hint(
                    "remove it: the metadata is managed by sealbox and is not part of the edit",
                ))
            } else if docs.is_empty() {
                Err(Error::new(ErrorKind::Other, "the edited file is empty"))
            } else {
                Ok(docs)
            }
        });
        match parsed {
            Ok(d) => break d,
            Err(e) => {
                if !ask_reopen(&e) {
                    return Err(Error::new(ErrorKind::Other, format!(
                        "{what}: the edit does not parse and there is no terminal to reopen the editor; the edit was discarded and the file is unchanged"
                    )));
                }
            }
        }
    };
    drop(dir);

    let mut o = opened;
    o.docs = docs;
    match plan {
        None => {
            if semver_older(&o.md.version, WRITER_VERSION) {
                o.md.version = WRITER_VERSION.to_string();
            }
            save(&a.file, o, &opts)
        }
        Some(plan) => {
            let md = plan
                .encrypt(&mut o.docs, &o.key, &KeyServices::from_env())
                .map_err(|e| e.context(&what))?;
            let out = store::emit_encrypted(o.output, &o.docs, &md, &opts)?;
            write_atomic(&a.file, &out, ENCRYPTED_MODE)
        }
    }
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

    #[test]
    fn versions() {
        assert!(semver_older("3.7.1", "3.11.0"));
        assert!(!semver_older("3.11.0", "3.11.0"));
        assert!(!semver_older("3.12.0", "3.11.0"));
    }
}
