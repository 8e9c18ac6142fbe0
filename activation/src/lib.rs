//! sealbox activation: the library behind `sealbox-install`, the sops-nix
//! `sops-install-secrets` analogue. It reads a sops-nix manifest, decrypts every secret in
//! memory, writes them into a new generation `<secretsMountPoint>/N`, switches
//! `symlinkPath` to it atomically, prunes old generations and requests unit restarts.
//!
//! * [`manifest`]: the manifest JSON (Go `encoding/json` semantics);
//! * [`validate`]: names, modes, formats, owners, placeholders, check modes;
//! * [`decrypt`]: decryption (each file once) and template rendering;
//! * [`fsops`]: mount, files, symlinks, pruning;
//! * [`safedir`]: directory descriptors, through which every change is made;
//! * [`inputs`]: bounded, non-blocking reads of the files a manifest names;
//! * [`run`]: the sequence and change detection;
//! * [`keywait`]: finding the machine's key, explaining its absence, `--wait-for-key`;
//! * [`credstore`]: systemd credentials (`credentialName`);
//! * [`diff`]: `--diff`, what an activation would change;
//! * [`watch`]: `--watch`, re-activation on changes;
//! * [`fault`]: crash-test checkpoints (feature `fault-injection` only).
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod credstore;
pub mod decrypt;
pub mod diff;
pub mod fault;
pub mod fsops;
pub mod inputs;
pub mod keywait;
pub mod manifest;
pub mod run;
pub mod safedir;
pub mod validate;
pub mod watch;
