//! Placeholder; docs written below.
mod client;
mod error;
mod http;
mod key;
mod settings;

pub use client::{Client, KeyInfo, FIRST_BACKOFF, MAX_BACKOFF};
pub use error::{Attempt, Error, ErrorKind, Result};
pub use key::{ciphertext_version, parse_transit_uri, parse_transit_uris, TransitKey, VaultKey};
pub use settings::{
    AppRole, Secret, Settings, Tls, DEFAULT_APPROLE_MOUNT, DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_DEADLINE, DEFAULT_MAX_RETRIES, DEFAULT_REQUEST_TIMEOUT,
};
