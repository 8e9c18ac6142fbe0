//! `sealbox completions SHELL` and `sealbox man`: shell completions and manual pages made from
//! the same clap definitions as `--help`, so they cannot drift from the parser.
//!
//! They are subcommands rather than files generated at build time because `cargo install`
//! installs binaries only: a build script's output would stay behind in the target
//! directory. After `cargo install`, the installed binary writes them where the shell and
//! `man` look (README: "Install"); a distribution package runs the same commands.

use crate::fsio::{write_atomic, write_stdout, ENCRYPTED_MODE};
use crate::{CompletionsArgs, ManArgs};
use clap_mangen::roff::{bold, italic, roman, Roff};
use sealbox_formats::{Error, ErrorKind, Result};
use std::path::Path;

/// Prints the completion script for `a.shell`.
pub fn completions(a: &CompletionsArgs) -> Result<()> {
    let mut cmd = completion_command();
    let mut out = Vec::new();
    clap_complete::generate(a.shell, &mut cmd, "sealbox", &mut out);
    write_stdout(&out)
}

/// The command line as the completions see it: `--config` offered only where it does
/// something. (clap's bash generator offers hidden options too, so the hidden copies of
/// [`crate::command`] would still be proposed.)
fn completion_command() -> clap::Command {
    let mut cmd = <crate::Cli as clap::CommandFactory>::command();
    let config = cmd
        .get_arguments()
        .find(|a| a.get_id() == "config")
        .expect("the --config argument")
        .clone()
        .global(false);
    cmd = cmd.mut_arg("config", |a| a.global(false));
    let reading: Vec<String> = cmd
        .get_subcommands()
        .map(|s| s.get_name().to_string())
        .filter(|n| !crate::WITHOUT_CONFIG.contains(&n.as_str()))
        .collect();
    for name in reading {
        cmd = cmd.mut_subcommand(name, |s| s.arg(config.clone()));
    }
    cmd
}

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

/// `sealbox man [COMMAND]` prints one page; `sealbox man -o DIR` writes them all.
pub fn man(a: &ManArgs) -> Result<()> {
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
