//! sealbox activation: the library behind `sealbox-install`, the sops-nix
//! `sops-install-secrets` analogue. It reads a sops-nix manifest, decrypts every secret in
//! memory, writes them into a new generation `<secretsMountPoint>/N`, switches
//! `symlinkPath` to it atomically, prunes old generations and requests unit restarts.
//!
//! In one direction (each module imports only those above it):
//!
//! * [`options`]: the flags and environment of a run;
//! * [`error`], [`report`]: what a run returns (typed errors) and tells (notes the binary
//!   prints);
//! * [`manifest`]: reading the manifest file (the contract itself is sealbox-manifest);
//! * [`generations`]: the installed tree: mount, files, symlinks, pruning, unit lists;
//! * [`keywait`]: finding the machine's key, explaining its absence, `--wait-for-key`;
//! * [`identities`]: the age identities and data-key recovery (the only user of key code);
//! * [`decrypt`]: decryption (each file once) and template rendering;
//! * [`plan`]: manifest → validated plan, against this machine;
//! * [`changes`]: the one change set (log lines, unit requests, `--diff`);
//! * [`credstore`]: systemd credentials (`credentialName`);
//! * [`install`]: the activation sequence;
//! * [`diff`]: `--diff`, what an activation would change;
//! * [`watch`]: `--watch`, re-activation on changes.
//!
//! Directory descriptors, bounded reads, atomic replace and crash-test checkpoints are in
//! sealbox-os; the manifest's types, rules and validation in sealbox-manifest.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod changes;
pub mod credstore;
pub mod decrypt;
pub mod diff;
pub mod error;
pub mod generations;
pub mod identities;
pub mod install;
pub mod keywait;
pub mod manifest;
pub mod options;
pub mod plan;
pub mod report;
pub mod watch;

pub use error::Error;
pub use options::{CheckMode, Options};
pub use report::{Note, Reporter};
