//! `sealbox edit FILE` (and the bare `sealbox FILE`): decrypt into a 0600 file in a
//! private 0700 directory, run the editor, re-encrypt what changed.
//!
//! Unchanged values keep their ciphertext (the IV stash), so the git diff shows only the
//! edited keys. An edit that does not parse is offered back to the editor; the temporary
//! file is overwritten and removed on every exit path, Ctrl-C included.

use crate::context::{store_options, Context};
use crate::editor::{ask_reopen, digest, run_editor, write_private};
use crate::files::{sweep_private_dirs, write_atomic, PrivateDir, ENCRYPTED_MODE};
use crate::policy::CreationPlan;
use crate::session::{display, mac_check, open, Session};
use crate::EditArgs;
use sealbox_formats::cipher::DataKey;
use sealbox_formats::metadata::{Metadata, WRITER_VERSION};
use sealbox_formats::sops::Stash;
use sealbox_formats::store::{self, Format, StoreOptions};
use sealbox_formats::{Document, Error, ErrorKind, Result};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use zeroize::Zeroizing;

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

/// Runs the edit: the file exists (decrypted, then saved under its data key) or is new
/// (sops' example, then encrypted by the creation plan).
pub fn run(cx: &Context, a: &EditArgs) -> Result<()> {
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
    let cfg = cx.load_config()?;
    let opts = store_options(cfg.as_ref())?;
    let (session, plan) = if a.file.exists() {
        let mut s = open(&a.file, &a.format, mac_check(a.ignore_mac), cx.keys())?;
        s.stash
            .allow_plaintext_downgrade(a.allow_plaintext_downgrade);
        (s, None)
    } else {
        let (s, plan) = new_file(cfg.as_ref(), a)?;
        (s, Some(plan))
    };
    // -s (sops' --show-master-keys): the metadata is shown below the values, for reading.
    // sops 3.11 means to take an edited `sops` section back but drops the whole edit
    // instead (it replaces a copy of the tree); sealbox keeps the values and leaves the
    // metadata as it was: keys change through rotate and updatekeys, which re-wrap the
    // data key.
    let shown = match (a.show_master_keys, &plan) {
        (false, _) => None,
        (true, None) => Some(session.md.clone()),
        (true, Some(plan)) => Some(
            plan.encrypt(&mut session.docs.clone(), &session.key, cx.keys())
                .map_err(|e| e.context(&what))?,
        ),
    };
    let docs = edit_plaintext(&session, shown.as_ref(), a, &opts, &what, &interrupted)?;
    let mut s = session;
    s.docs = docs;
    match plan {
        None => {
            if semver_older(&s.md.version, WRITER_VERSION) {
                s.md.version = WRITER_VERSION.to_string();
            }
            s.save(&a.file, &opts)
        }
        Some(plan) => {
            let md = plan
                .encrypt(&mut s.docs, &s.key, cx.keys())
                .map_err(|e| e.context(&what))?;
            let out = store::emit_encrypted(s.output, &s.docs, &md, &opts)?;
            write_atomic(&a.file, &out, ENCRYPTED_MODE)
        }
    }
}

/// A session for a file that does not exist yet: sops' example document under a fresh data
/// key, and the plan that will encrypt it.
fn new_file(
    cfg: Option<&sealbox_formats::config::Config>,
    a: &EditArgs,
) -> Result<(Session, CreationPlan)> {
    let format = Format::resolve(a.format.input_type.as_deref(), &a.file);
    let abs = std::path::absolute(&a.file).unwrap_or_else(|_| a.file.clone());
    let rule = match cfg {
        Some(c) => c.rule_for(&abs)?,
        None => None,
    };
    let plan = CreationPlan::new(cfg, rule, &a.keys, format)?;
    let docs = store::load_plain(format, example(format).as_bytes(), "example")?;
    let s = Session {
        docs,
        md: Metadata {
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
    Ok((s, plan))
}

/// Writes the plaintext of `s` to a private file, runs the editor until the result parses
/// (or the user gives up), and returns the edited documents. With `shown` metadata (`-s`),
/// it is written below the values and read back (changes to it are not applied). The
/// private directory is removed on return, whatever happens.
fn edit_plaintext(
    s: &Session,
    shown: Option<&Metadata>,
    a: &EditArgs,
    opts: &StoreOptions,
    what: &str,
    interrupted: &AtomicBool,
) -> Result<Vec<Document>> {
    let plain = Zeroizing::new(match shown {
        Some(md) => store::emit_encrypted(s.input, &s.docs, md, opts)?,
        None => store::emit_plain(s.input, &s.docs, opts)?,
    });
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
    loop {
        run_editor(&tmp, interrupted)?;
        let text = read_edit(&tmp)?;
        if digest(&text) == before {
            eprintln!("File has not changed, exiting.");
            return Err(Error::new(
                ErrorKind::NotModified,
                format!("{what}: not modified"),
            ));
        }
        let parsed = match shown {
            Some(md) => parse_shown_edit(s.input, &text, md, what),
            None => parse_edit(s.input, &text, what),
        };
        match parsed {
            Ok(d) => return Ok(d),
            Err(e) => {
                if !ask_reopen(&e) {
                    return Err(Error::new(ErrorKind::Other, format!(
                        "{what}: the edit does not parse and there is no terminal to reopen the editor; the edit was discarded and the file is unchanged"
                    )));
                }
            }
        }
    }
}

/// The edited file's bytes.
fn read_edit(tmp: &Path) -> Result<Zeroizing<Vec<u8>>> {
    std::fs::read(tmp)
        .map(Zeroizing::new)
        .map_err(|e| Error::new(ErrorKind::ReadInput, format!("{}: {e}", tmp.display())))
}

/// The text edited under `-s` as documents: it must parse with its metadata and not be
/// empty; a changed metadata is reported and left as it was.
fn parse_shown_edit(
    format: Format,
    text: &[u8],
    shown: &Metadata,
    what: &str,
) -> Result<Vec<Document>> {
    let (docs, md) = store::load_encrypted(format, text, what)?;
    if md != *shown {
        eprintln!(
            "sealbox: warning: {what}: the changes to the sops metadata were not applied (use `sealbox rotate` or `updatekeys` to change keys)"
        );
    }
    if docs.is_empty() {
        Err(Error::new(ErrorKind::Other, "the edited file is empty"))
    } else {
        Ok(docs)
    }
}

/// The edited text as documents: it must parse, hold no `sops` key and not be empty.
fn parse_edit(format: Format, text: &[u8], what: &str) -> Result<Vec<Document>> {
    let docs = store::load_plain(format, text, what)?;
    if store::has_metadata(format, &docs) {
        Err(Error::new(
            ErrorKind::Other,
            "the edited text has a top-level `sops` key",
        )
        .with_hint("remove it: the metadata is managed by sealbox and is not part of the edit"))
    } else if docs.is_empty() {
        Err(Error::new(ErrorKind::Other, "the edited file is empty"))
    } else {
        Ok(docs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions() {
        assert!(semver_older("3.7.1", "3.11.0"));
        assert!(!semver_older("3.11.0", "3.11.0"));
        assert!(!semver_older("3.12.0", "3.11.0"));
    }
}
