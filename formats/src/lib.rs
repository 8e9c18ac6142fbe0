//! The sops file format, for sealbox.
//!
//! * [`tree`]: the ordered, typed tree every store loads into;
//! * [`store`]: YAML, JSON, dotenv, INI and binary load and emit;
//! * [`cipher`]: the `ENC[AES256_GCM,…]` value codec;
//! * [`sops`]: the encrypt/decrypt walks and the MAC;
//! * [`metadata`]: the `sops` block;
//! * [`shamir`]: splitting the data key across key groups, and combining it;
//! * [`path`]: the `["a"]["b"]` tree paths of `--extract`, `set` and `unset`;
//! * [`config`]: the `.sops.yaml` file.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod cipher;
pub mod config;
pub mod error;
pub mod metadata;
pub mod numfmt;
mod opcount;
pub mod path;
pub mod shamir;
pub mod sops;
pub mod store;
pub mod timefmt;
pub mod tree;

pub use error::{Code, Error, ErrorKind, Result};
pub use tree::{Comment, Document, Item, Map, Value};
