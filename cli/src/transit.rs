//! Transit key versions: which `hc_vault` entries of a file wrap its data key with a version
//! of the transit key older than wanted, and moving them to the newest version.
//!
//! After `bao write -f transit/keys/NAME/rotate` old ciphertexts still decrypt, until the
//! key's `min_decryption_version` passes them. `check --min-transit-version N|latest`
//! reports the files that would then stop working; `updatekeys --min-transit-version …`
//! moves their `enc` forward with transit's `rewrap`, on the server, so neither the data
//! key nor the values change (nor the MAC, which does not cover the metadata). `rotate`
//! needs nothing of this: a new data key is wrapped with the newest version anyway.
//!
//! `latest` asks the server for each key's `latest_version` (the token's policy needs
//! `read` on `ENGINE/keys/NAME`), once per key and process.

use sealbox_formats::metadata::{Metadata, VaultEntry};
use sealbox_formats::{Error, ErrorKind, Result, Value};
use sealbox_keys::{hcvault, KeyServices};
use std::collections::HashMap;
use std::sync::Mutex;

/// The version an entry must have at least.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MinVersion {
    /// This version number.
    At(u32),
    /// The key's latest version, as the server says.
    Latest,
}

impl std::str::FromStr for MinVersion {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, String> {
        if s == "latest" {
            return Ok(MinVersion::Latest);
        }
        match s.parse::<u32>() {
            Ok(n) if n >= 1 => Ok(MinVersion::At(n)),
            _ => Err(format!(
                "{s:?} is neither a version number (1, 2, …) nor `latest`"
            )),
        }
    }
}

/// One `hc_vault` entry older than wanted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stale {
    /// Its key group.
    pub group: usize,
    /// Its place in the group's `hc_vault` list.
    pub index: usize,
    /// The key's URI.
    pub uri: String,
    /// The version that wrapped the data key.
    pub version: u32,
    /// The version wanted.
    pub want: u32,
}

impl std::fmt::Display for Stale {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "key group {}: {} wraps the data key with version {}, older than {}",
            self.group, self.uri, self.version, self.want
        )
    }
}

/// The minimum, and the latest versions learnt from the server (shared by threads).
pub struct VersionPolicy {
    min: MinVersion,
    latest: Mutex<HashMap<String, std::result::Result<u32, String>>>,
}

impl VersionPolicy {
    /// A policy wanting `min`.
    pub fn new(min: MinVersion) -> VersionPolicy {
        VersionPolicy {
            min,
            latest: Mutex::new(HashMap::new()),
        }
    }

    /// The version wanted for `key` (asking the server once for `latest`).
    fn want(&self, key: &hcvault::TransitKey, keys: &KeyServices) -> Result<u32> {
        let n = match self.min {
            MinVersion::At(n) => return Ok(n),
            MinVersion::Latest => {
                let uri = key.uri();
                let known = self.latest.lock().expect("latest lock").get(&uri).cloned();
                if let Some(r) = known {
                    r
                } else {
                    let r = match keys.vault() {
                        Ok(c) => c.latest_version(key).map_err(|e| e.to_string()),
                        Err(why) => Err(format!("cannot use Vault: {why}")),
                    };
                    self.latest
                        .lock()
                        .expect("latest lock")
                        .insert(uri, r.clone());
                    r
                }
            }
        };
        n.map_err(|m| {
            Error::new(
                ErrorKind::Other,
                format!("cannot read the latest version of the transit key: {m}"),
            )
            .with_hint("the token's policy needs `read` on ENGINE/keys/NAME; or pass a number")
        })
    }

    /// The entries of `md` older than wanted. A malformed entry is an error naming it.
    pub fn stale(&self, md: &Metadata, keys: &KeyServices) -> Result<Vec<Stale>> {
        let mut out = Vec::new();
        for (group, g) in md.key_groups.iter().enumerate() {
            for (index, e) in g.hc_vault.iter().enumerate() {
                let vk = entry(e)?;
                let version = vk
                    .version()
                    .map_err(|e| Error::new(ErrorKind::InvalidMetadata, e.to_string()))?;
                let want = self.want(&vk.key, keys)?;
                if version < want {
                    out.push(Stale {
                        group,
                        index,
                        uri: vk.key.uri(),
                        version,
                        want,
                    });
                }
            }
        }
        Ok(out)
    }
}

fn entry(e: &VaultEntry) -> Result<hcvault::VaultKey> {
    hcvault::VaultKey::from_fields(|k| e.fields.get(k), "hc_vault key")
        .map_err(|e| Error::new(ErrorKind::InvalidMetadata, e.to_string()))
}

/// Moves the `enc` of each stale entry to the key's newest version with transit's
/// `rewrap` (the data key stays on the server); the other fields keep their order and
/// text.
pub fn rewrap(md: &mut Metadata, stale: &[Stale], keys: &KeyServices) -> Result<()> {
    let client = keys
        .vault()
        .map_err(|why| Error::new(ErrorKind::Other, format!("cannot use Vault: {why}")))?;
    for s in stale {
        let e = &mut md.key_groups[s.group].hc_vault[s.index];
        let mut vk = entry(e)?;
        vk.rewrap(client)
            .map_err(|err| Error::new(ErrorKind::Other, err.to_string()))?;
        if let Value::Map(m) = &mut e.fields.0 {
            if let Some(v) = m.get_mut("enc") {
                *v = Value::str(vk.enc);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use sealbox_formats::metadata::{EntryFields, KeyGroup, WRITER_VERSION};

    fn md(encs: &[&str]) -> Metadata {
        let g = KeyGroup {
            hc_vault: encs
                .iter()
                .map(|enc| VaultEntry {
                    fields: EntryFields::from_pairs([
                        ("vault_address", "http://127.0.0.1:1"),
                        ("engine_path", "transit"),
                        ("key_name", "k"),
                        ("created_at", "2025-01-01T00:00:00Z"),
                        ("enc", enc),
                    ]),
                })
                .collect(),
            ..KeyGroup::default()
        };
        Metadata {
            key_groups: vec![g],
            shamir_threshold: 0,
            lastmodified: "2025-01-01T00:00:00Z".into(),
            mac: String::new(),
            selector: None,
            mac_only_encrypted: false,
            version: WRITER_VERSION.into(),
        }
    }

    #[test]
    fn a_number_needs_no_server_and_finds_the_older_entries() {
        let keys = KeyServices::from_env().without_vault("not in this test");
        let p = VersionPolicy::new("3".parse().unwrap());
        let s = p
            .stale(
                &md(&["vault:v2:AAAA", "vault:v3:BBBB", "vault:v12:CC"]),
                &keys,
            )
            .unwrap();
        assert_eq!(s.len(), 1);
        assert_eq!((s[0].index, s[0].version, s[0].want), (0, 2, 3));
        assert_eq!(
            s[0].to_string(),
            "key group 0: http://127.0.0.1:1/v1/transit/keys/k wraps the data key with version 2, older than 3"
        );
    }

    #[test]
    fn latest_without_a_server_is_an_error_saying_why() {
        let keys = KeyServices::from_env().without_vault("not in this test");
        let p = VersionPolicy::new(MinVersion::Latest);
        let e = p.stale(&md(&["vault:v1:AAAA"]), &keys).unwrap_err();
        assert!(e.message.contains("not in this test"), "{e}");
    }

    #[test]
    fn a_bad_minimum_or_ciphertext_is_refused() {
        assert!("0".parse::<MinVersion>().is_err());
        assert!("newest".parse::<MinVersion>().is_err());
        assert_eq!("latest".parse::<MinVersion>(), Ok(MinVersion::Latest));
        let keys = KeyServices::from_env().without_vault("-");
        let e = VersionPolicy::new(MinVersion::At(1))
            .stale(&md(&["v1:AAAA"]), &keys)
            .unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidMetadata);
    }
}
