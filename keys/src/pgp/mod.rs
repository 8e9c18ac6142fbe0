//! sops' `pgp` key source: the data key encrypted to OpenPGP keys, with the real GnuPG
//! as sops 3.11 uses it, and in-process (rpgp) where sops and sops-nix work without gpg.
//!
//! # What sops does, and what we keep
//!
//! sops 3.11 (`pgp/keysource.go`) tries two ways for every PGP master key, in order:
//!
//! 1. **In-process OpenPGP** (Go's OpenPGP library) on the *legacy* keyrings of the GnuPG
//!    home: `secring.gpg` to decrypt (or `pubring.gpg` when there is no `secring.gpg`),
//!    `pubring.gpg` to encrypt. GnuPG ≥ 2.1 no longer writes these files (it uses
//!    `pubring.kbx` and `private-keys-v1.d/`), so on a modern home this step fails and
//!    sops falls through.
//! 2. **The gpg binary** (see [`Gpg`] for the exact arguments).
//!
//! Our choices, for [`Decryptor::decrypt`]:
//!
//! * **Keys in memory first** ([`Keyring`]): this replaces the file sops-nix writes. Its
//!   `sshKeyPaths` turns RSA SSH host keys into OpenPGP keys, writes them to a
//!   `secring.gpg` in a temporary home and lets step 1 decrypt, with no gpg at boot. We
//!   build the same keys (same fingerprints, see `ssh.rs`) and keep them in memory.
//! * **The legacy keyring, in-process, kept**: when `secring.gpg` (else `pubring.gpg`)
//!   exists in the GnuPG home, its unprotected secret keys are tried in-process, as sops
//!   does. This keeps working what works with sops on a machine without gpg, e.g. a home
//!   laid out the way sops-nix lays it out. Protected keys are skipped here; sops would ask
//!   gpg-agent for their passphrase itself, we let gpg do it in the next step (gpg ≥ 2.1
//!   migrates `secring.gpg` into the agent on first use), which gives the same result
//!   with gpg's own pinentry and smartcard handling. [`Decryptor::without_legacy_keyring`]
//!   switches this step off (sops' `DisableOpenPGP`).
//! * **gpg last**, with sops' arguments.
//!
//! Every failure is collected and reported together ([`Error::AllFailed`]), as sops
//! joins its errors with `; `.
//!
//! For encryption ([`encrypt`]) only gpg is used. sops' in-process attempt reads the
//! legacy `pubring.gpg`, which gpg ≥ 2.1 also reads when there is no `pubring.kbx`, so
//! with gpg installed the same key is found either way; the message differs only in
//! packet details any OpenPGP reader accepts. Encrypting without gpg is not a case sops
//! users rely on (sops-nix only decrypts), and gpg's checks (expired or revoked keys, the
//! encryption subkey it picks) are the ones users expect.
//!
//! # The metadata entry
//!
//! [`PgpKey`] is one `sops.pgp` (or `key_groups[i].pgp`) entry, `{created_at, enc, fp}`,
//! kept as sops writes it: see `entry.rs` for the exact rules (fingerprint case kept,
//! `enc` trimmed, `created_at` RFC 3339).
//!
//! # Environment
//!
//! * `SOPS_GPG_EXEC`: the gpg program (default `gpg` from `PATH`).
//! * `GNUPGHOME`: gpg's home (default `~/.gnupg`); where the legacy keyrings are looked
//!   for unless [`Gpg::with_home`] names one.
//! * `GPG_TTY` (and `DISPLAY`): where gpg-agent's pinentry asks for a passphrase; as with
//!   sops, gpg's stdin is the data, so a terminal pinentry needs `GPG_TTY=$(tty)`.
//!
//! # gpg-agent
//!
//! Decrypting with a secret key starts a gpg-agent for the home, which keeps running.
//! [`Gpg::kill_agent`] stops it (for a home the caller owns, e.g. sealbox-install's
//! `gnupgHome`); the user's own agent is left alone by the CLI, as sops leaves it.

mod entry;
mod error;
mod gpg;
mod keyring;
mod ssh;
mod status;
mod time;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;

use zeroize::Zeroizing;

pub use entry::{fingerprints_from_list, normalize_fingerprint, short_key_id, PgpKey, KEY_TYPE};
pub use error::{Error, Method, Result};
pub use gpg::{Gpg, GPG_EXEC_ENV};
pub use keyring::{Imported, Keyring, MAX_KEYRING_BYTES};

/// The legacy keyring files of a GnuPG home that sops reads in-process.
pub const LEGACY_SECRING: &str = "secring.gpg";
/// See [`LEGACY_SECRING`]; read when there is no `secring.gpg`.
pub const LEGACY_PUBRING: &str = "pubring.gpg";

/// Encrypts `data_key` (or a Shamir share) to the key `fingerprint` with gpg, as sops does:
/// the new metadata entry, stamped now. `fingerprint` is normalised as sops normalises it
/// (spaces removed, case kept).
pub fn encrypt(gpg: &Gpg, fingerprint: &str, data_key: &[u8]) -> Result<PgpKey> {
    let fp = normalize_fingerprint(fingerprint);
    let enc = gpg.encrypt(&fp, data_key)?;
    tracing::info!(fingerprint = %fp, "Encryption succeeded");
    Ok(PgpKey::created_now(&fp, enc))
}

/// Unwraps `pgp` entries: keys in memory, then the home's legacy keyring (in-process),
/// then gpg. Build one per run and use it for every file: the legacy keyring is read once.
#[derive(Debug)]
pub struct Decryptor {
    keyring: Keyring,
    legacy: bool,
    gpg: Option<Gpg>,
    legacy_ring: OnceLock<std::result::Result<Keyring, String>>,
    ran_gpg: AtomicBool,
}

impl Default for Decryptor {
    fn default() -> Decryptor {
        Decryptor::new()
    }
}

impl Decryptor {
    /// sops' behaviour: no keys in memory, the legacy keyring of the GnuPG home, then
    /// gpg from the environment ([`Gpg::from_env`]).
    pub fn new() -> Decryptor {
        Decryptor::with_gpg(Gpg::from_env())
    }

    /// As [`Decryptor::new`], with this gpg (and its home).
    pub fn with_gpg(gpg: Gpg) -> Decryptor {
        Decryptor {
            keyring: Keyring::new(),
            legacy: true,
            gpg: Some(gpg),
            legacy_ring: OnceLock::new(),
            ran_gpg: AtomicBool::new(false),
        }
    }

    /// Only the keys in memory: no legacy keyring, no gpg (sealbox-install with
    /// `sshKeyPaths`: nothing on disk, no gpg at boot).
    pub fn in_memory(keyring: Keyring) -> Decryptor {
        Decryptor {
            keyring,
            legacy: false,
            gpg: None,
            legacy_ring: OnceLock::new(),
            ran_gpg: AtomicBool::new(false),
        }
    }

    /// Tries these keys first.
    pub fn keyring(mut self, keyring: Keyring) -> Decryptor {
        self.keyring = keyring;
        self
    }

    /// Skips the in-process attempt on the home's legacy keyring (sops' `DisableOpenPGP`).
    pub fn without_legacy_keyring(mut self) -> Decryptor {
        self.legacy = false;
        self
    }

    /// Never runs gpg.
    pub fn without_gpg(mut self) -> Decryptor {
        self.gpg = None;
        self
    }

    /// The gpg used, if any.
    pub fn gpg(&self) -> Option<&Gpg> {
        self.gpg.as_ref()
    }

    /// Whether [`Decryptor::decrypt`] has run gpg (which starts a gpg-agent for the home
    /// that outlives it: see [`Gpg::kill_agent`]).
    pub fn ran_gpg(&self) -> bool {
        self.ran_gpg.load(Ordering::Relaxed)
    }

    /// The data key (or share) of one entry, trying each way in order; every failure is
    /// reported in [`Error::AllFailed`].
    pub fn decrypt(&self, key: &PgpKey) -> Result<Zeroizing<Vec<u8>>> {
        let mut attempts = Vec::new();
        if !self.keyring.is_empty() {
            match self.keyring.decrypt(&key.enc) {
                Ok(k) => return Ok(succeeded(key, Method::InMemory, k)),
                Err(e) => attempts.push((Method::InMemory, e)),
            }
        }
        if self.legacy {
            match self.legacy_keyring() {
                Ok(Some(ring)) => match ring.decrypt(&key.enc) {
                    Ok(k) => return Ok(succeeded(key, Method::LegacyKeyring, k)),
                    Err(e) => attempts.push((Method::LegacyKeyring, e)),
                },
                // No legacy keyring: the usual case with GnuPG ≥ 2.1, not worth reporting.
                Ok(None) => {}
                Err(e) => attempts.push((Method::LegacyKeyring, e)),
            }
        }
        if let Some(gpg) = &self.gpg {
            self.ran_gpg.store(true, Ordering::Relaxed);
            match gpg.decrypt(&key.enc) {
                Ok(k) => return Ok(succeeded(key, Method::Gpg, k)),
                Err(e) => attempts.push((Method::Gpg, e)),
            }
        }
        tracing::info!(fingerprint = %key.fingerprint, "Decryption failed");
        Err(Error::AllFailed {
            fingerprint: key.fingerprint.clone(),
            attempts,
        })
    }

    /// The secret keys of the home's `secring.gpg` (else `pubring.gpg`), read once;
    /// `None` when neither file exists or it holds no secret key.
    fn legacy_keyring(&self) -> Result<Option<&Keyring>> {
        let home = self
            .gpg
            .as_ref()
            .map_or_else(|| Gpg::from_env().gnupg_home(), |g| g.gnupg_home());
        let ring = self.legacy_ring.get_or_init(|| {
            let Some(home) = home else {
                return Ok(Keyring::new());
            };
            let mut ring = Keyring::new();
            for name in [LEGACY_SECRING, LEGACY_PUBRING] {
                let path = home.join(name);
                match read_bounded(&path) {
                    Ok(bytes) if bytes.is_empty() => break,
                    Ok(bytes) => {
                        let what = path.display().to_string();
                        ring.add_keys(&bytes, &what).map_err(|e| e.to_string())?;
                        // sops reads pubring.gpg only when there is no secring.gpg.
                        break;
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                    Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
                }
            }
            Ok(ring)
        });
        match ring {
            Ok(r) if r.is_empty() => Ok(None),
            Ok(r) => Ok(Some(r)),
            Err(e) => Err(Error::BadKey {
                what: "the legacy GnuPG keyring".into(),
                detail: e.clone(),
            }),
        }
    }
}

fn succeeded(key: &PgpKey, how: Method, k: Zeroizing<Vec<u8>>) -> Zeroizing<Vec<u8>> {
    tracing::info!(fingerprint = %key.fingerprint, method = %how, "Decryption succeeded");
    k
}

/// Reads a keyring file of at most [`MAX_KEYRING_BYTES`] (a larger one is refused as
/// "too large" through `add_keys`).
fn read_bounded(path: &std::path::Path) -> std::io::Result<Zeroizing<Vec<u8>>> {
    use std::io::Read;
    let f = std::fs::File::open(path)?;
    let mut buf = Zeroizing::new(Vec::new());
    f.take(MAX_KEYRING_BYTES as u64 + 1).read_to_end(&mut buf)?;
    Ok(buf)
}
