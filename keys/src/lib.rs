//! Master-key sources of sealbox that talk to the outside world: they run programs (GnuPG)
//! or reach servers (Vault/OpenBao transit) to wrap and unwrap a file's data key.
//!
//! The sops format itself (tree, stores, value cipher, MAC, metadata) lives in
//! `sealbox-formats` and does no I/O; this crate is where a key source that needs I/O goes.
//! Each source is one module.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod hcvault;
pub mod pgp;
