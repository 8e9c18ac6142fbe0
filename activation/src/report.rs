//! What a run tells its user besides its result: warnings, key imports, the changes it
//! makes, progress of `--wait-for-key` and `--watch`. The library hands each [`Note`] to
//! a [`Reporter`] when it happens (a wait announces itself before it waits); the binary
//! prints them (`src/bin/sealbox-install.rs`), the tests may collect them.

use crate::error::Error;
use std::path::PathBuf;
use std::time::Duration;

/// What happens to an entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verb {
    /// It is new.
    Add,
    /// Its content, mode, owner or group changes.
    Modify,
    /// The new generation no longer has it.
    Remove,
}

/// Something worth telling while a run goes on.
#[derive(Debug)]
pub enum Note {
    /// An `ageSshKeyPaths` or `sshKeyPaths` entry cannot be read (the others are used).
    SshKeyUnreadable {
        /// The key file.
        path: String,
        /// Why.
        reason: String,
    },
    /// An `ageSshKeyPaths` entry is not an ed25519 key that converts (the others are used).
    SshKeyUnconvertible {
        /// The key file.
        path: String,
        /// Why.
        reason: String,
    },
    /// An `sshKeyPaths` entry is not an RSA key that can be an OpenPGP key (the others are
    /// used).
    SshKeyNotGpg {
        /// The key file.
        path: String,
        /// Why.
        reason: String,
    },
    /// `logging.keyImport`: an `sshKeyPaths` RSA key was imported as this OpenPGP key.
    GpgKeyImported {
        /// The key file.
        path: String,
        /// The OpenPGP fingerprint, lower-case hex (as sops-nix prints it).
        fingerprint: String,
    },
    /// The gpg-agent that decrypting through `gnupgHome` started could not be stopped.
    GpgAgentNotStopped {
        /// The GnuPG home.
        home: String,
        /// Why.
        reason: String,
    },
    /// `logging.keyImport`: an SSH key was imported as this age identity.
    KeyImported {
        /// The key file.
        path: String,
        /// The age recipient of the identity.
        fingerprint: String,
    },
    /// `--wait-for-key`: no key yet; waiting up to `limit` for one at `paths`.
    WaitingForKey {
        /// How long at most.
        limit: Duration,
        /// The configured key paths.
        paths: Vec<String>,
    },
    /// `logging.secretChanges`: what the new generation adds, modifies or removes
    /// (`dry`: a dry activation, which would).
    Changes {
        /// A dry activation.
        dry: bool,
        /// `secret` or `rendered secret`.
        kind: &'static str,
        /// What happens to them.
        verb: Verb,
        /// Their names, sorted.
        names: Vec<String>,
    },
    /// A dry activation with `--restart-units`: the units it would restart and reload.
    WouldRequest {
        /// Units to restart.
        restart: Vec<String>,
        /// Units to reload.
        reload: Vec<String>,
    },
    /// `logging.secretChanges`: credentials removed from the store (the manifest no
    /// longer names them).
    CredentialsRemoved(Vec<String>),
    /// `--watch`: activation `n` is done; `generation` is what `symlinkPath` points at.
    WatchActivated {
        /// Its number.
        n: u64,
        /// The current generation (`?` when unknown).
        generation: String,
    },
    /// `--watch`: activation `n` failed; the previous generation stays.
    WatchFailed {
        /// Its number.
        n: u64,
        /// Why.
        error: Error,
    },
    /// `--watch`: the files now watched.
    Watching(Vec<PathBuf>),
    /// `--watch`: stopping on SIGTERM/SIGINT.
    WatchStopping,
}

/// Where notes go.
pub trait Reporter {
    /// Tells one note.
    fn note(&mut self, note: Note);
}

/// Collects the notes (tests; a caller that prints them afterwards).
impl Reporter for Vec<Note> {
    fn note(&mut self, note: Note) {
        self.push(note);
    }
}
