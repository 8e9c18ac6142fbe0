//! The key sources of sops files: they wrap a file's data key for its recipients and
//! recover it with the identities at hand. Sources that need the outside world (files and
//! commands for age identities, GnuPG, Vault/OpenBao servers) live here; the sops format
//! itself (tree, stores, value cipher, MAC, metadata) is `sealbox-formats`, which does no
//! I/O.
//!
//! * [`age`], [`pgp`], [`hcvault`]: one module per source;
//! * [`Recipient`]: a recipient of any source, parsed from the command line or
//!   `.sops.yaml`;
//! * [`KeyServices`]: the per-process state of every source (age identities, the OpenPGP
//!   decryptor, the Vault client), each set up on first use, and the decryption order;
//! * [`wrap`] and [`recover`]: the data key for every key group (Shamir across groups), and
//!   back, in sops' order.
//!
//! Adding a key source is one module plus one arm in [`Source`], [`Recipient`] and the
//! two matches of `datakey.rs`.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod age;
mod datakey;
pub mod hcvault;
pub mod pgp;
mod recipient;
mod services;

pub use datakey::{recover, wrap};
pub use recipient::{Recipient, Source};
pub use services::{DecryptionOrder, KeyServices};
