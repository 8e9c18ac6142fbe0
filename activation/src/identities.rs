//! The keys a run decrypts with (step 7 of
//! docs/activation.md#the-activation-sequence): the manifest's key sources – `ageKeyFile`
//! and the ed25519 keys of `ageSshKeyPaths`, converted like ssh-to-age; the RSA keys of
//! `sshKeyPaths`, turned into OpenPGP keys in memory as sops-nix does (no gpg); a
//! `gnupgHome`, used through gpg – or, without an age source, the usual sops sources of the
//! environment (`SOPS_AGE_KEY_FILE`, `SOPS_AGE_KEY`, …, and GnuPG as sops finds it); the
//! Vault/OpenBao client of the run; and the recovery of a file's data key with them.
//!
//! An `ageSshKeyPaths` key also opens files sealed to the raw `ssh-ed25519 AAAA…` recipient
//! (sops-nix opens only those sealed to the conversion). `ageKeyFile` may hold age plugin
//! identities (`AGE-PLUGIN-…`): the plugin runs from `PATH`, and nobody answers its
//! requests – sealbox-install never waits for a person, so a plugin that asks for a PIN or
//! a touch confirmation fails that file, naming the plugin and what it asked. So does a
//! passphrase-protected key: the installer never asks for a passphrase.
//!
//! The only module that uses the key code (`sealbox-keys`).

use crate::error::{strip_file, Error, Step};
use crate::report::{Note, Reporter};
use sealbox_formats::metadata::Metadata;
use sealbox_formats::ErrorKind;
use sealbox_keys::age::{self as keys, IdentitySources, Ui};
use sealbox_keys::pgp::{self, Decryptor, Gpg, Keyring};
use sealbox_keys::KeyServices;
use sealbox_manifest::Manifest;
use zeroize::Zeroizing;

pub(crate) use sealbox_formats::cipher::DataKey;
pub use sealbox_keys::age::Identities;

/// What a key that asks (a plugin's PIN or touch, a passphrase) is told.
const NOBODY: &str = "sealbox-install never waits for a person: at boot use a plugin identity that needs no PIN or touch, or a key without a passphrase";

/// The key sources of one run (age, PGP, Vault/OpenBao). With `gnupgHome`, decrypting
/// through gpg starts a gpg-agent for that home, which would outlive sealbox-install (in a
/// `RemainAfterExit` unit, holding the unlocked key): [`Keys::finish`] stops it, and dropping the keys
/// without `finish` (an error path) stops it too.
pub struct Keys {
    services: KeyServices<'static>,
    /// The gpg of `gnupgHome`, whose agent is stopped once gpg has run.
    agent_home: Option<Gpg>,
}

impl Keys {
    /// The sources, for the data-key recovery.
    pub fn services(&self) -> &KeyServices<'static> {
        &self.services
    }

    /// Stops the gpg-agent of `gnupgHome` if gpg ran (a failure is a note: the secrets
    /// are decrypted, the agent is what is left).
    pub fn finish(mut self, r: &mut dyn Reporter) {
        if let Err((home, reason)) = self.stop_agent() {
            r.note(Note::GpgAgentNotStopped { home, reason });
        }
    }

    fn stop_agent(&mut self) -> Result<(), (String, String)> {
        let Some(gpg) = self.agent_home.take() else {
            return Ok(());
        };
        if !self.services.pgp().ran_gpg() {
            return Ok(());
        }
        let home = gpg
            .home()
            .map(|h| h.display().to_string())
            .unwrap_or_default();
        gpg.kill_agent().map_err(|e| (home, e.to_string()))
    }
}

impl Drop for Keys {
    fn drop(&mut self) {
        if let Err((home, reason)) = self.stop_agent() {
            tracing::warn!("cannot stop the gpg-agent of {home}: {reason}");
        }
    }
}

/// The keys of `m`'s key sources (age identities from the environment when it names no
/// age source). `keep` receives the text of `age-keys.txt` (a header, the converted SSH
/// keys, then `ageKeyFile`'s content) before anything else can fail, as sops-nix writes
/// that file first; `shown` names it in errors.
pub(crate) fn load(
    m: &Manifest,
    r: &mut dyn Reporter,
    shown: &str,
    no_network: bool,
    keep: impl FnOnce(&str) -> Result<(), Error>,
) -> Result<Keys, Error> {
    // sops-nix sets up GnuPG (sshKeyPaths or gnupgHome) before the age keys.
    let (pgp, agent_home) = pgp_source(m, r);
    let ids = if !m.has_key_source() {
        Identities::load(&IdentitySources::from_env().with_ui(Ui::refusing(NOBODY)))
    } else {
        let (text, keyfile_err) = identity_text(m, r);
        keep(&text)?;
        if let Some(e) = keyfile_err {
            return Err(Error::Step(Step::Keys, e));
        }
        let mut ids = Identities::with_ui(Ui::refusing(NOBODY));
        ids.push_identity_text(&text, shown).map_err(|e| {
            Error::Step(
                Step::Keys,
                format!(
                    "cannot load age identities: {}",
                    e.message.replace('\n', "; ")
                ),
            )
        })?;
        // The same ed25519 keys as SSH identities too: both stanza kinds open.
        for p in &m.age_ssh_key_paths {
            if let Ok(pem) = crate::keywait::read_key(p) {
                if matches!(crate::keywait::ssh_key_type(&pem), Ok((alg, false)) if alg == "ssh-ed25519")
                {
                    // A key that does not parse was reported (and skipped) above.
                    let _ = ids.push_ssh_private_key(pem.as_bytes(), p);
                }
            }
        }
        ids
    };
    let mut services = KeyServices::with_identities(ids);
    if let Some(d) = pgp {
        services = services.with_pgp(d);
    }
    // Vault/OpenBao comes from the environment (`VAULT_*`, `SEALBOX_VAULT_*`: one client, one
    // AppRole login, one memory of dead addresses for every file of the run), unless the run
    // has `--no-network` (it runs before the network is up): then Vault keys are refused at
    // once, with the reason.
    if no_network {
        services = services.without_vault(
            "this run has --no-network (it runs before the network is up); install the \
             secrets of files that need Vault from the unit ordered after \
             network-online.target (NixOS: sops.secrets.<name>.needsNetwork)",
        );
    }
    Ok(Keys {
        services,
        agent_home,
    })
}

/// An SSH private key of `sshKeyPaths` or `ageSshKeyPaths`; an unreadable one is a note
/// (the other keys are still used, as in sops-nix).
fn read_ssh_key(p: &str, r: &mut dyn Reporter) -> Option<Zeroizing<String>> {
    crate::keywait::read_key(p)
        .map_err(|e| {
            r.note(Note::SshKeyUnreadable {
                path: p.to_string(),
                reason: e.to_string(),
            })
        })
        .ok()
}

/// The OpenPGP side (activation step 7a/7b): `sshKeyPaths` → OpenPGP keys in memory (as
/// sops-nix's temporary `secring.gpg`, whose keys sops decrypts with in-process: no gpg,
/// nothing on disk; unreadable or non-RSA keys are notes, the others are used);
/// `gnupgHome` → gpg with that home (its legacy keyring first, as sops). Neither: `None`,
/// GnuPG as sops finds it in the environment (as sops-nix leaves it).
fn pgp_source(m: &Manifest, r: &mut dyn Reporter) -> (Option<Decryptor>, Option<Gpg>) {
    if !m.ssh_key_paths.is_empty() {
        let mut ring = Keyring::new();
        for p in &m.ssh_key_paths {
            let Some(pem) = read_ssh_key(p, r) else {
                continue;
            };
            match ring.add_ssh_private_key(pem.as_bytes(), p) {
                Ok(i) => {
                    if m.logging.key_import {
                        r.note(Note::GpgKeyImported {
                            path: p.clone(),
                            fingerprint: i.fingerprint.to_ascii_lowercase(),
                        });
                    }
                }
                Err(e) => r.note(Note::SshKeyNotGpg {
                    path: p.clone(),
                    reason: e.to_string(),
                }),
            }
        }
        return (Some(Decryptor::in_memory(ring)), None);
    }
    if !m.gnupg_home.is_empty() {
        let gpg = Gpg::from_env().with_home(&m.gnupg_home);
        return (Some(Decryptor::with_gpg(gpg.clone())), Some(gpg));
    }
    (None, None)
}

/// The text of `age-keys.txt` (activation step 7c): a header, the converted ed25519 SSH keys
/// (failures are notes), then `ageKeyFile`'s content. The error is the fatal `ageKeyFile`
/// read failure, reported after the file is written (as sops-nix does).
fn identity_text(m: &Manifest, r: &mut dyn Reporter) -> (Zeroizing<String>, Option<String>) {
    let mut text = Zeroizing::new(format!(
        "# generated by sealbox-install at {}\n",
        sealbox_formats::timefmt::now_rfc3339()
    ));
    for p in &m.age_ssh_key_paths {
        let Some(pem) = read_ssh_key(p, r) else {
            continue;
        };
        match keys::ssh_to_age_private(&pem) {
            Ok(k) => {
                if m.logging.key_import {
                    let fingerprint = keys::x25519_public_of(&k).unwrap_or_else(|_| "?".into());
                    r.note(Note::KeyImported {
                        path: p.clone(),
                        fingerprint,
                    });
                }
                text.push_str(&k);
                text.push('\n');
            }
            Err(e) => r.note(Note::SshKeyUnconvertible {
                path: p.clone(),
                reason: match crate::keywait::ssh_key_type(&pem) {
                    Ok((_, true)) => crate::keywait::PROTECTED_SSH_KEY.to_string(),
                    _ => e.message.replace('\n', "; "),
                },
            }),
        }
    }
    let mut keyfile_err = None;
    if !m.age_key_file.is_empty() && crate::keywait::is_sealed(&m.age_key_file) {
        keyfile_err = Some(format!(
            "ageKeyFile '{}' {}",
            m.age_key_file,
            crate::keywait::SEALED_KEY_FILE
        ));
    } else if !m.age_key_file.is_empty() {
        match crate::keywait::read_key(&m.age_key_file) {
            Ok(s) => {
                text.push_str(&s);
                text.push('\n');
            }
            Err(e) => {
                keyfile_err = Some(format!(
                    "cannot read keyfile '{}': {e}; create it or fix ageKeyFile",
                    m.age_key_file
                ))
            }
        }
    }
    (text, keyfile_err)
}

/// The data key of `file` (whose metadata is `md`), recovered with `keys`; the error says
/// which recipients the file has when no key fits, what the PGP attempts met, what each
/// Vault server said, and what each key group's age identities said (a plugin that asked
/// for a PIN names itself there).
pub(crate) fn recover(md: &Metadata, keys: &Keys, file: &str) -> Result<DataKey, String> {
    let vault = md.key_groups.iter().any(|g| !g.hc_vault.is_empty());
    sealbox_keys::recover(md, keys.services(), file).map_err(|e| {
        if e.kind == ErrorKind::DataKeyUnavailable && !vault {
            let age = md.age_recipients();
            let fps: Vec<&str> = md
                .key_groups
                .iter()
                .flat_map(|g| g.pgp.iter().filter_map(|k| k.fields.get("fp")))
                .collect();
            let mut msg = format!(
                "failed to decrypt '{file}': none of the configured identities can decrypt it (its age recipients: {}",
                if age.is_empty() { "none".to_string() } else { age.join(", ") }
            );
            if !fps.is_empty() {
                msg.push_str(&format!("; its PGP keys: {}", fps.join(", ")));
            }
            msg.push_str("); add the matching key to ageKeyFile or ageSshKeyPaths");
            if !fps.is_empty() {
                msg.push_str(", import the PGP key into gnupgHome or list its RSA host key in sshKeyPaths");
            }
            msg.push_str(", or re-encrypt the file for this host's key");
            // What gpg or the in-memory keys said (a wrong passphrase, no secret key, …).
            let pgp: Vec<&str> = e
                .message
                .lines()
                .filter_map(|l| l.trim_start().strip_prefix(&format!("{}: ", pgp::KEY_TYPE)))
                .collect();
            if !pgp.is_empty() {
                msg.push_str(&format!(" (PGP: {})", pgp.join("; ")));
            }
            // Each key group's line: why age failed there (a plugin that asked for a PIN
            // names itself and the prompt).
            let groups: Vec<&str> = e
                .message
                .lines()
                .map(str::trim)
                .filter(|l| l.starts_with("group "))
                .collect();
            if !groups.is_empty() {
                msg.push_str(&format!(" [{}]", groups.join("; ")));
            }
            msg
        } else {
            // One line: the per-group report's lines, without their indentation.
            let m = strip_file(&e.message, file);
            let m: Vec<&str> = m
                .split("; ")
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .collect();
            format!("failed to decrypt '{file}': {}", m.join("; "))
        }
    })
}
