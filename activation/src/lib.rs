//! sealbox activation: the library behind `sealbox-install`, the sops-nix
//! `sops-install-secrets` analogue. It reads a sops-nix manifest, decrypts every secret in
//! memory, writes them into a new generation `<secretsMountPoint>/N`, switches
//! `symlinkPath` to it atomically, prunes old generations and requests unit restarts.
//!
//! * [`manifest`]: the manifest JSON (Go `encoding/json` semantics);
//! * [`validate`]: names, modes, formats, owners, placeholders, check modes;
//! * [`decrypt`]: decryption (each file once) and template rendering;
//! * [`fsops`]: mount, files, symlinks, pruning;
//! * [`run`]: the sequence and change detection;
//! * [`keywait`]: finding the machine's key, explaining its absence, `--wait-for-key`;
//! * [`credstore`]: systemd credentials (`credentialName`);
//! * [`diff`]: `--diff`, what an activation would change;
//! * [`watch`]: `--watch`, re-activation on changes;
//!
//! Directory descriptors, bounded reads and crash-test checkpoints are in `sealbox-os`.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod credstore;
pub mod decrypt;
pub mod diff;
pub mod fsops;
pub mod keywait;
pub mod manifest;
pub mod run;
pub mod validate;
pub mod watch;
