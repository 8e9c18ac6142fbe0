//! `hc_vault`: the data key wrapped by a HashiCorp Vault or OpenBao transit key, as sops
//! 3.11 does it, plus what a fleet of hosts needs to rely on it at boot.
//!
//! # What sops does
//!
//! * A key is named by a URI, `https://vault.example.com:8200/v1/ENGINE/keys/NAME`, which
//!   sops splits into `vault_address`, `engine_path` (possibly several segments) and
//!   `key_name` ([`parse_transit_uri`]; the same checks and messages). Those three strings,
//!   `created_at` and `enc` are the file's `hc_vault` entry ([`VaultKey`]).
//! * To wrap, sops sends the raw 32-byte data key **base64-encoded** as transit's
//!   `plaintext` (`PUT {addr}/v1/{engine}/encrypt/{name}`) and stores the answer's
//!   `ciphertext`, `vault:vN:…`, as `enc`. To unwrap it sends `enc` to `…/decrypt/…` and
//!   base64-decodes `plaintext`. The paths are Go's `path.Join(engine, op, name)`.
//! * The token: `VAULT_TOKEN`, else `~/.vault-token` (trimmed; `HOME`, else the password
//!   database). A missing file means no token. `VAULT_ADDR` plays no part: the file's
//!   address wins, except that `VAULT_AGENT_ADDR`, when set, replaces it (the Vault client
//!   sops uses does that).
//! * The Vault client's conventions apply: `VAULT_CACERT`, `VAULT_CACERT_BYTES` and
//!   `VAULT_CAPATH` replace the system CA store, `VAULT_CLIENT_CERT`/`VAULT_CLIENT_KEY`,
//!   `VAULT_SKIP_VERIFY`, `VAULT_NAMESPACE` (the `X-Vault-Namespace` header),
//!   `VAULT_CLIENT_TIMEOUT`, `VAULT_MAX_RETRIES`, `VAULT_DISABLE_REDIRECTS`,
//!   `VAULT_PROXY_ADDR`/`VAULT_HTTP_PROXY`, and one redirect is followed, never from
//!   https to http. sops 3.13 adds `SOPS_HC_VAULT_ALLOWLIST` (`all`, `none`, or address
//!   prefixes); it is honoured here too.
//!
//! # What sealbox adds
//!
//! * **AppRole login**, so a host needs no long-lived token: `VAULT_ROLE_ID` (or
//!   `VAULT_ROLE_ID_FILE`) and `VAULT_SECRET_ID` (or `VAULT_SECRET_ID_FILE`), at
//!   `auth/$VAULT_APPROLE_MOUNT/login` (default mount `approle`). Used when `VAULT_TOKEN`
//!   is unset, before `~/.vault-token`. The token is kept for the process and renewed by
//!   a new login once if the server refuses it.
//! * **Fallback addresses**: `SEALBOX_VAULT_FALLBACK_ADDRS=https://a:8200,https://b:8200`
//!   are tried in order after the file's address (which names one node only).
//! * **Bounds**: every request has a timeout (`VAULT_CLIENT_TIMEOUT`, default 10 s; connect
//!   `SEALBOX_VAULT_CONNECT_TIMEOUT`, 3 s), and a whole call, with its retries, fallbacks
//!   and login, never takes longer than `SEALBOX_VAULT_DEADLINE` (default 30 s). Between
//!   rounds over the addresses the client waits 0.5 s, doubling to 4 s (±20 %). A round in
//!   which no server answered counts against `VAULT_MAX_RETRIES` (default 2, so a Vault
//!   that is down is reported in about 1.5 s); a round in which a server answered but was
//!   between states (5xx, 429, a standby redirecting to an active node that is gone) is
//!   bounded by the deadline only, so a Raft election is waited out.
//! * **One price for a dead server per process**: an address that did not answer
//!   (refused, timed out, sealed) is remembered by the [`Client`] and left out of later
//!   calls for `SEALBOX_VAULT_RECHECK_AFTER` (default 30 s); when every address of a call
//!   is remembered so, the call fails at once, saying when and how each failed. So
//!   `updatekeys` over 300 files, or `sealbox-install` with 50, pays for a Vault that is
//!   down once (about 1.5 s refused, about 10 s black-holed), not once per file, and a
//!   killed cluster node costs one failed connection, not one per file.
//! * **Clear errors** ([`Error`], [`ErrorKind`]): the key's URI, the address, what failed
//!   there (connection refused, sealed, permission denied, unknown key, timeout), every
//!   attempt made, and what to do.
//! * **Safe redirects**: besides the Vault client's rules, a redirect is followed only to
//!   an address the operator named (the file's, a fallback, the agent) or the same host,
//!   because the token goes with it.
//! * **Key versions**: [`VaultKey::version`] reads `N` from `enc`, [`Client::key_info`]
//!   the key's `latest_version`, and [`VaultKey::rewrap`] moves `enc` to the latest
//!   version on the server (transit `rewrap`: the data key never leaves Vault).
//!
//! # TLS roots
//!
//! By default the system store (`rustls-native-certs`, honouring `SSL_CERT_FILE` and
//! `SSL_CERT_DIR`), as Go's TLS does for sops: a host where sops trusts its Vault trusts it
//! here too, a private CA installed system-wide works, and no root list is compiled into
//! the binary. Private CAs are usually given with `VAULT_CACERT`, which then replaces the
//! system store. The store is read on the first `https://` request only.
//!
//! # Cost when unused
//!
//! Building a [`Client`] reads the environment only. The HTTP agents, the crypto
//! provider, the CA store and client certificates are set up on the first request that
//! needs them, so a process that never talks to Vault pays nothing at start-up.
//!
//! Secrets (tokens, secret ids, data keys, response bodies) are held in buffers wiped on
//! drop; the HTTP and TLS libraries' own buffers are not under our control.

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
    DEFAULT_DEADLINE, DEFAULT_MAX_RETRIES, DEFAULT_RECHECK_AFTER, DEFAULT_REQUEST_TIMEOUT,
};
