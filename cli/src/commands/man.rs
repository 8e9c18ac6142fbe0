//! `sealbox man`: manual pages made from the same clap definitions as `--help`, so they
//! cannot drift from the parser.
//!
//! A subcommand rather than files generated at build time because `cargo install` installs
//! binaries only: a build script's output would stay behind in the target directory. After
//! `cargo install`, the installed binary writes them where `man` looks (README:
//! "Install"); a distribution package runs the same command.

use crate::files::{write_atomic, write_stdout, ENCRYPTED_MODE};
use crate::ManArgs;
use clap_mangen::roff::{bold, italic, roman, Roff};
use sealbox_formats::{Error, ErrorKind, Result};
use std::path::Path;

/// Every page: `sealbox.1`, then `sealbox-SUBCOMMAND.1` per subcommand, as (file name, roff).
fn pages() -> Result<Vec<(String, Vec<u8>)>> {
    let mut top = crate::command().disable_help_subcommand(true);
    top.build();
    let mut pages = vec![("sealbox.1".to_string(), render(&top, top_sections)?)];
    for sub in top.get_subcommands().filter(|s| !s.is_hide_set()) {
        let man = clap_mangen::Man::new(sub.clone());
        let name = man.get_filename();
        pages.push((name, render(sub, sub_sections)?));
    }
    Ok(pages)
}

fn render(cmd: &clap::Command, sections: fn(&mut Roff)) -> Result<Vec<u8>> {
    // clap_mangen puts the text after the help under the heading "EXTRA"; these are notes.
    let mut extra = Roff::new();
    if let Some(notes) = cmd.get_after_help() {
        section(&mut extra, "NOTES");
        extra.text([roman(notes.to_string())]);
    }
    sections(&mut extra);
    let mut buf = Vec::new();
    clap_mangen::Man::new(cmd.clone().after_help(None::<&str>))
        .manual("sealbox manual")
        .render(&mut buf)
        .and_then(|()| extra.to_writer(&mut buf))
        .map_err(|e| {
            Error::new(
                ErrorKind::Other,
                format!("cannot render the manual page: {e}"),
            )
        })?;
    Ok(buf)
}

/// Runs `sealbox man`: `sealbox man [COMMAND]` prints one page; `sealbox man -o DIR` writes
/// them all.
pub fn run(a: &ManArgs) -> Result<()> {
    let pages = pages()?;
    if let Some(dir) = &a.output {
        std::fs::create_dir_all(dir).map_err(|e| {
            Error::new(
                ErrorKind::WriteOutput,
                format!("{}: cannot create the directory: {e}", dir.display()),
            )
        })?;
        for (name, text) in &pages {
            write_atomic(&dir.join(name), text, ENCRYPTED_MODE)?;
        }
        eprintln!(
            "sealbox: wrote {} manual pages to {} (sealbox.1, sealbox-decrypt.1, …)",
            pages.len(),
            dir.display()
        );
        return Ok(());
    }
    let want = match &a.command {
        None => "sealbox.1".to_string(),
        Some(c) => format!("sealbox-{c}.1"),
    };
    match pages.iter().find(|(n, _)| *n == want) {
        Some((_, text)) => write_stdout(text),
        None => Err(Error::new(
            ErrorKind::Other,
            format!(
                "no manual page for `{}`",
                a.command.as_deref().unwrap_or_default()
            ),
        )
        .with_hint(format!(
            "the pages are: {}",
            pages
                .iter()
                .map(|(n, _)| Path::new(n)
                    .file_stem()
                    .unwrap_or_default()
                    .to_string_lossy())
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

fn section(r: &mut Roff, title: &str) {
    r.control("SH", [title]);
}

fn item(r: &mut Roff, term: &str, text: &str) {
    r.control("TP", []);
    r.text([bold(term)]);
    r.text([roman(text)]);
}

/// What `--help` does not say: environment, files, exit status.
fn top_sections(r: &mut Roff) {
    section(r, "ENVIRONMENT");
    for (k, v) in [
        ("SOPS_AGE_KEY", "age identities, as text."),
        ("SOPS_AGE_KEY_FILE", "A file of age identities."),
        (
            "SOPS_AGE_KEY_CMD",
            "A command that prints age identities (split like a shell would, run without one).",
        ),
        (
            "SOPS_AGE_SSH_PRIVATE_KEY_FILE",
            "An SSH ed25519 or RSA private key used as an age identity.",
        ),
        (
            "SOPS_AGE_RECIPIENTS",
            "Recipients for new files, like --age.",
        ),
        (
            "SOPS_CONFIG",
            "The .sops.yaml to use, like --config (no search upward).",
        ),
        (
            "SOPS_EDITOR, EDITOR",
            "The editor of edit and of sealbox FILE (split into words; the file is appended).",
        ),
        (
            "SEALBOX_LOG",
            "Log filter for stderr, e.g. debug (default: warn).",
        ),
    ] {
        item(r, k, v);
    }
    section(r, "FILES");
    item(
        r,
        ".sops.yaml",
        "Creation rules (who may read which files) and store settings; the first found from \
         the current directory upward, or --config.",
    );
    item(
        r,
        "$XDG_CONFIG_HOME/sops/age/keys.txt",
        "Default age identities (~/.config/sops/age/keys.txt without XDG_CONFIG_HOME); also \
         ~/.ssh/id_ed25519 and ~/.ssh/id_rsa.",
    );
    section(r, "EXIT STATUS");
    r.text([roman(
        "The codes of sops: 0 success, 1 generic error, 2 unreadable input, 3 unwritable \
         output, 4 cannot emit in the output format, 7 bad set value or path, 8 conflicting \
         flags, 23 cannot encrypt, 25 a value does not decrypt, 51 MAC mismatch, 91 bad \
         --extract path, 92 empty input, 100 no such file, 128 no identity can decrypt the \
         data key, 200 edited file unchanged, 201 no editor, 203 already encrypted. exec-env \
         and exec-file exit with the command's status.",
    )]);
    section(r, "SEE ALSO");
    r.text([
        bold("sealbox-install"),
        roman("(8), "),
        bold("sops"),
        roman("(1), "),
        bold("age"),
        roman("(1); one page per command: "),
        italic("sealbox-decrypt"),
        roman("(1) and so on."),
    ]);
}

fn sub_sections(r: &mut Roff) {
    section(r, "SEE ALSO");
    r.text([
        bold("sealbox"),
        roman("(1) for the environment, the files and the exit codes."),
    ]);
}
