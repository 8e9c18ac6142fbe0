//! What can go wrong in a run, typed: the binary prints each error's [`Error::lines`]
//! (`sealbox-install: <line>`) and exits 1. A failure of one secret or template is a
//! [`Failure`] naming it and its file; a step of the installation that fails names the
//! step (its message's prefix) and why.

use sealbox_manifest::{EntryKind, EntryRef, Problem};
use std::path::PathBuf;

/// A message on one line (a library's message may have several).
pub(crate) fn one_line(s: &str) -> String {
    s.replace('\n', "; ")
}

/// A library message without its leading `<file>: ` (our messages name the file already),
/// on one line.
pub(crate) fn strip_file(msg: &str, file: &str) -> String {
    let m = msg
        .strip_prefix(file)
        .and_then(|m| m.strip_prefix(": "))
        .unwrap_or(msg);
    one_line(m)
}

/// One secret or template that could not be decrypted or rendered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    /// The secret or template.
    pub entry: EntryRef,
    /// Its sops file (a secret) or template file, when it has one.
    pub file: Option<String>,
    /// Why (the message names the file where it matters).
    pub reason: String,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.entry, self.reason)
    }
}

/// A step of the installation (docs/activation.md#the-activation-sequence).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// Step 5: the `keys` (or `nogroup`) group.
    KeysGroup,
    /// Step 6: mounting the secrets filesystem.
    Mount,
    /// Step 7: the age identities (`age-keys.txt`, `ageKeyFile`).
    Keys,
    /// Step 10: removing a stale directory, creating the new generation.
    Prepare,
    /// Step 13: change detection and the unit restart/reload requests.
    Units,
    /// Step 15: switching `symlinkPath`.
    Switch,
    /// Placing the systemd credentials.
    Credentials,
    /// Step 17: pruning old generations.
    Prune,
    /// `--diff`: reading the credential store.
    CredentialStore,
    /// `--diff`: reading the current generation.
    Generation,
    /// `--watch`: setting up inotify or the signals.
    Watch,
}

impl Step {
    /// The prefix of this step's messages ("" for messages that say it themselves).
    fn prefix(self) -> &'static str {
        match self {
            Step::KeysGroup | Step::Keys | Step::Generation => "",
            Step::Mount => "failed to mount filesystem for secrets: ",
            Step::Prepare => "failed to prepare new secrets directory: ",
            Step::Units => "cannot request units to restart: ",
            Step::Switch => "cannot update secrets symlink: ",
            Step::Credentials => "cannot place systemd credentials: ",
            Step::Prune => "cannot prune old secrets generations: ",
            Step::CredentialStore => "cannot read the credential store: ",
            Step::Watch => "watch: ",
        }
    }
}

/// Writing one entry's file (step 11/12) or its custom-path symlink (step 16).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EntryStep {
    /// Writing the file into the new generation.
    Write,
    /// Linking its custom `path`.
    Link,
}

/// What was done anyway when secrets failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Nothing was written; `symlinkPath` (this path) still points where it did.
    NothingInstalled(PathBuf),
    /// `--keep-going`: the other secrets were installed as this generation.
    Installed(u64),
    /// Nothing to add (a dry activation, `--diff`).
    Unsaid,
}

/// Why a run failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The manifest file cannot be read (`parse` false) or decoded.
    Manifest {
        /// The manifest.
        path: PathBuf,
        /// Whether it was read but does not decode.
        parse: bool,
        /// Why.
        reason: String,
    },
    /// User mode without `$XDG_RUNTIME_DIR`.
    NoRuntimeDir,
    /// The manifest is not valid: every problem found.
    Invalid(Vec<Problem>),
    /// No usable key: the explanation names every key path looked at and what to do.
    NoKey(String),
    /// A step of the installation failed.
    Step(Step, String),
    /// Writing or linking one entry failed (the run stops there).
    Entry(EntryStep, Failure),
    /// Secrets or templates failed: the problems of templates whose file is unreadable,
    /// the failures of decryption and rendering, and what was installed anyway.
    Failed {
        /// Unreadable template files (`--keep-going`).
        problems: Vec<Problem>,
        /// Secrets that did not decrypt, templates that were not rendered.
        failures: Vec<Failure>,
        /// What was done anyway.
        outcome: Outcome,
    },
}

impl Error {
    /// A step's error.
    pub(crate) fn step(step: Step) -> impl Fn(String) -> Error {
        move |reason| Error::Step(step, reason)
    }

    /// The lines to print, one per problem.
    pub fn lines(&self) -> Vec<String> {
        match self {
            Error::Manifest {
                path,
                parse,
                reason,
            } => vec![format!(
                "failed to {} manifest: {}: {reason}",
                if *parse { "parse" } else { "open" },
                path.display()
            )],
            Error::NoRuntimeDir => {
                vec!["cannot figure out runtime directory: $XDG_RUNTIME_DIR is not set".into()]
            }
            Error::Invalid(problems) => problems.iter().map(Problem::to_string).collect(),
            Error::NoKey(why) => vec![why.clone()],
            Error::Step(step, reason) => vec![format!("{}{reason}", step.prefix())],
            Error::Entry(step, f) => {
                let what = match (step, f.entry.kind) {
                    (EntryStep::Write, EntryKind::Secret) => "cannot write secrets",
                    (EntryStep::Write, EntryKind::Template) => "cannot render templates",
                    (EntryStep::Link, _) => "failed to prepare symlinks to secret store",
                };
                vec![format!("{what}: {f}")]
            }
            Error::Failed {
                problems,
                failures,
                outcome,
            } => {
                let mut out: Vec<String> = problems.iter().map(Problem::to_string).collect();
                out.extend(failures.iter().map(Failure::to_string));
                match outcome {
                    Outcome::NothingInstalled(link) => out.push(format!(
                        "nothing was installed and {} was not switched (fix the errors above, or use --keep-going to install the rest)",
                        link.display()
                    )),
                    Outcome::Installed(generation) => out.push(format!(
                        "--keep-going: the other secrets were installed as generation {generation}"
                    )),
                    Outcome::Unsaid => {}
                }
                out
            }
        }
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.lines().join("\n"))
    }
}

impl std::error::Error for Error {}
