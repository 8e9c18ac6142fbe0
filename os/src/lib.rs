//! sealbox-os: the one operating-system layer that `sealbox` (the CLI) and
//! `sealbox-install` (the root installer) share. Nothing of the sops format lives here,
//! and nothing here knows about manifests: only how to touch the filesystem safely.
//!
//! * [`safedir`]: directory descriptors, through which every change is made;
//! * [`inputs`]: bounded, non-blocking reads of files that someone else may have placed;
//! * [`replace`]: atomic replace, the one way both binaries write a file;
//! * [`private`]: private 0700 directories for plaintext, wiped on drop;
//! * [`leftovers`]: what runs killed half-way leave, found by PID and removed;
//! * [`fault`]: crash-test checkpoints (feature `fault-injection` only).
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod fault;
pub mod inputs;
pub mod leftovers;
pub mod private;
pub mod replace;
pub mod safedir;

/// A random number for temporary names (never for keys): std's per-process random
/// hashing keys applied to our PID and a counter, so two calls never repeat in a process.
/// The names it makes are created `O_EXCL`; it only has to make collisions unlikely.
pub fn random_u64() -> u64 {
    use std::hash::BuildHasher;
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    std::collections::hash_map::RandomState::new()
        .hash_one((std::process::id(), N.fetch_add(1, Ordering::Relaxed)))
}
