//! sealbox-os: the one operating-system layer that `sealbox` (the CLI) and
//! `sealbox-install` (the root installer) share. Nothing of the sops format lives here,
//! and nothing here knows about manifests: only how to touch the filesystem safely.
//!
//! * [`safedir`]: directory descriptors, through which every change is made;
//! * [`inputs`]: bounded, non-blocking reads of files that someone else may have placed;
//! * [`fault`]: crash-test checkpoints (feature `fault-injection` only).
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod fault;
pub mod inputs;
pub mod safedir;
