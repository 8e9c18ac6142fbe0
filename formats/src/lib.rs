//! The sops file format, for sealbox: pure code, no I/O (no files, environment, processes
//! or network); the CLI and the installer read and write, the key sources live in
//! `sealbox-keys`.
//!
//! * [`Value`], [`Map`], [`Document`]: the ordered, typed tree every store loads into
//!   (values are wiped when dropped, and their `Debug` hides them);
//! * [`store`]: YAML, JSON, dotenv, INI and binary load and emit;
//! * [`cipher`]: the `ENC[AES256_GCM,…]` value codec and the data key;
//! * [`sops`]: the encrypt/decrypt walks and the MAC;
//! * [`metadata`]: the `sops` block, with typed master-key entries;
//! * [`shamir`]: splitting the data key across key groups, and combining it;
//! * [`path`]: the `["a"]["b"]` tree paths of `--extract`, `set` and `unset`;
//! * [`config`]: the `.sops.yaml` file, from its text;
//! * [`timefmt`]: sops' RFC 3339 times (the MAC's additional data);
//! * [`par`]: work spread over threads;
//! * [`Error`] and [`ErrorKind`]: what failed (the CLI maps kinds to sops' exit codes).
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod cipher;
pub mod config;
mod error;
pub mod metadata;
mod numfmt;
mod opcount;
pub mod par;
pub mod path;
pub mod shamir;
pub mod sops;
pub mod store;
pub mod timefmt;
mod tree;

pub use error::{path_display, Error, ErrorKind, Result};
pub use tree::{Comment, Document, Item, Map, Value};
