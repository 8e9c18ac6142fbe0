//! The activation sequence (docs/activation.md#the-activation-sequence, numbered as
//! below) and check modes (docs/activation.md#check-modes); the `quirk N` notes are
//! docs/activation.md#quirks. In one direction: the manifest becomes a plan
//! (`plan.rs`), the plan decrypted values (`decrypt.rs`), those a new generation, whose
//! changes (`changes.rs`) request unit restarts; then the switch, the credentials
//! (`credstore.rs`), the custom paths and pruning (`generations.rs`).

use crate::changes::{self, ChangeSet};
use crate::decrypt::{decrypt_all, Installed};
use crate::error::{EntryStep, Error, Failure, Outcome, Step};
use crate::generations::{self, join};
use crate::identities::{self, Keys};
use crate::options::{CheckMode, Options};
use crate::plan::{load, lookup_group};
use crate::report::{Note, Reporter};
use sealbox_manifest::{Manifest, Plan};
use sealbox_os::replace::{replace, Owner};
use sealbox_os::safedir::{Dir, Existing, Follow};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Runs the binary's job on the manifest at `path`.
pub fn run(path: &Path, o: &Options, r: &mut dyn Reporter) -> Result<(), Error> {
    let (m, plan) = load(path, o)?;
    // 4. check modes stop here
    if o.check_mode != CheckMode::Off {
        return Ok(());
    }
    install(&m, &plan, o, r)
}

/// Step 5: the group of the secrets directories.
fn keys_gid(o: &Options) -> Result<u32, String> {
    if o.ignore_passwd {
        return Ok(0);
    }
    for g in ["keys", "nogroup"] {
        if let Some(gid) =
            lookup_group(g).map_err(|e| format!("failed to lookup group '{g}': {e}"))?
        {
            return Ok(gid);
        }
    }
    Err("can't find group 'keys' nor 'nogroup'; create the 'keys' group or run with --ignore-passwd".into())
}

/// Step 6: the mounted secrets filesystem (in user mode a plain directory).
fn secrets_fs(m: &Manifest, kgid: u32) -> Result<Dir, Error> {
    let mp = Path::new(&m.secrets_mount_point);
    if m.user_mode {
        Dir::open(mp, Some(0o751), Follow::Trusted).map_err(|e| format!("cannot create {e}"))
    } else {
        generations::mount_secret_fs(mp, m.use_tmpfs, kgid)
    }
    .map_err(Error::step(Step::Mount))
}

/// Step 7: writes `<mp>/age-keys.txt` like sops-nix and returns the keys to use.
fn import_keys(
    m: &Manifest,
    mp: &Dir,
    no_network: bool,
    r: &mut dyn Reporter,
) -> Result<Keys, Error> {
    let shown = mp.shown("age-keys.txt").display().to_string();
    identities::load(m, r, &shown, no_network, |text| {
        // quirk 4: keep – age-keys.txt lives in the mount point (ramfs, root 0600) and
        // persists.
        let owner = if m.user_mode {
            Owner::Creator
        } else {
            Owner::Exact(0, 0)
        };
        replace(mp, "age-keys.txt", text.as_bytes(), 0o600, owner)
            .map_err(|e| Error::Step(Step::Keys, format!("cannot write the age key file: {e}")))
    })
}

/// Step 10: the new generation directory, empty; returns its number and handle.
fn prepare(m: &Manifest, mpd: &Dir, kgid: u32) -> Result<(u64, Dir), Error> {
    let link = Path::new(&m.symlink_path);
    let step = Error::step(Step::Prepare);
    let g = generations::current_generation(link, &m.secrets_mount_point).map_err(&step)?;
    // quirk 5: keep – a non-symlink at symlinkPath is removed, even in dry mode.
    generations::remove_unless_symlink(link).map_err(&step)?;
    let gen = g + 1;
    let gname = gen.to_string();
    let d = Path::new(&m.secrets_mount_point).join(&gname);
    mpd.remove_tree(&gname)
        .map_err(|e| step(format!("cannot remove {}: {e}", d.display())))?;
    let gd = mpd
        .make_sub(
            &gname,
            0o751,
            (!m.user_mode).then_some((0, kgid)),
            Existing::Fix,
        )
        .map_err(|e| step(format!("cannot create {}: {e}", d.display())))?;
    Ok((gen, gd))
}

/// Steps 11–12: writes the secrets and templates into the new generation.
// quirk 10: keep – on a write error the half-written generation stays (it is not linked,
// and it is replaced on the next run because G did not change).
fn write_generation(m: &Manifest, gd: &Dir, kgid: u32, items: &[&Installed]) -> Result<(), Error> {
    let mut made_dirs = std::collections::HashSet::new();
    for i in items {
        let owner = (!m.user_mode).then_some((i.entry.uid, i.entry.gid));
        let base = i.rel.rsplit('/').next().unwrap_or_default();
        generations::make_parents(gd, &i.rel, kgid, !m.user_mode, &mut made_dirs)
            .and_then(|dir| generations::write_new_file(&dir, base, &i.bytes, i.entry.mode, owner))
            .map_err(|reason| Error::Entry(EntryStep::Write, failure(i, reason)))?;
    }
    Ok(())
}

fn failure(i: &Installed, reason: String) -> Failure {
    Failure {
        entry: i.entry_ref(),
        file: None,
        reason,
    }
}

/// Units to restart and to reload with systemctl.
type UnitRequests = (Vec<String>, Vec<String>);

/// Step 13: change detection, its log lines and the unit requests. The NixOS
/// restart/reload lists are written here; the units to restart and reload with systemctl
/// (`--restart-units`, not dry) are returned, for the caller to request once the new
/// generation is in place.
// quirk 9: keep for the NixOS lists – they are written before the symlink switch
// (switch-to-configuration reads them only after the activation).
fn request_units(
    m: &Manifest,
    o: &Options,
    set: &ChangeSet,
    r: &mut dyn Reporter,
) -> Result<Option<UnitRequests>, String> {
    // Nothing to compare with (the first activation after boot): no lines, no requests.
    if set.current.is_none() {
        return Ok(None);
    }
    if m.logging.secret_changes {
        for (kind, c) in [
            ("secret", &set.secrets),
            ("rendered secret", &set.templates),
        ] {
            for (verb, names) in c.by_verb() {
                if !names.is_empty() {
                    r.note(Note::Changes {
                        dry: o.dry,
                        kind,
                        verb,
                        names: names.to_vec(),
                    });
                }
            }
        }
    }
    let (restart, reload) = (set.restart.clone(), set.reload.clone());
    if o.restart_via_systemctl {
        if o.dry {
            r.note(Note::WouldRequest { restart, reload });
            return Ok(None);
        }
        return Ok(Some((restart, reload)));
    }
    let prefix = if o.dry {
        "dry-activation"
    } else {
        "activation"
    };
    generations::append_units(
        &o.nixos_run_dir.join(format!("{prefix}-restart-list")),
        &restart,
    )?;
    generations::append_units(
        &o.nixos_run_dir.join(format!("{prefix}-reload-list")),
        &reload,
    )?;
    Ok(None)
}

/// Step 16: the custom-path symlinks.
fn link_custom_paths(m: &Manifest, link: &Path, items: &[&Installed]) -> Result<(), Error> {
    for i in items {
        let default = join(link, &i.rel);
        let p = &i.entry.path;
        if p.is_empty() || Path::new(p) == default {
            continue;
        }
        let owner = (!m.user_mode).then_some((i.entry.uid, i.entry.gid));
        generations::custom_symlink(Path::new(p), &default, owner)
            .map_err(|reason| Error::Entry(EntryStep::Link, failure(i, reason)))?;
    }
    Ok(())
}

/// The systemd credentials (sealbox extension; nothing in user mode: the store is
/// system-wide): placed after the switch, like the custom paths.
fn place_credentials(
    m: &Manifest,
    o: &Options,
    plan: &Plan,
    secrets: &[Installed],
    r: &mut dyn Reporter,
) -> Result<(), Error> {
    if m.user_mode {
        return Ok(());
    }
    let (named, values) = crate::credstore::values(plan, secrets);
    let removed = crate::credstore::sync(&o.credstore_dir, &m.symlink_path, &named, &values)
        .map_err(Error::step(Step::Credentials))?;
    if m.logging.secret_changes && !removed.is_empty() {
        r.note(Note::CredentialsRemoved(removed));
    }
    Ok(())
}

/// Steps 5–17 for a validated manifest.
fn install(m: &Manifest, plan: &Plan, o: &Options, r: &mut dyn Reporter) -> Result<(), Error> {
    let link = PathBuf::from(&m.symlink_path);
    // a key must exist (or appear within --wait-for-key) before anything is mounted; a
    // manifest without secrets (e.g. an empty for-users manifest) needs none
    if !plan.secrets.is_empty() {
        crate::keywait::ensure(m, o.wait_for_key, r).map_err(Error::NoKey)?;
    }
    // 5. keys gid
    let kgid = keys_gid(o).map_err(Error::step(Step::KeysGroup))?;
    // 6. mount
    let mpd = secrets_fs(m, kgid)?;
    // 7. keys
    let keys = import_keys(m, &mpd, o.no_network, r)?;
    // 8./9. decrypt everything before anything is written, render the templates
    let decrypted = decrypt_all(plan, &keys);
    // the keys are no longer needed: a gpg-agent started for gnupgHome stops now
    keys.finish(r);
    let failed = !plan.unreadable.is_empty() || !decrypted.failures.is_empty();
    let failures = |outcome| Error::Failed {
        problems: plan.unreadable.clone(),
        failures: decrypted.failures.clone(),
        outcome,
    };
    if failed && !o.keep_going {
        return Err(failures(Outcome::NothingInstalled(link)));
    }
    // 10. prepare the new generation
    let (gen, gd) = prepare(m, &mpd, kgid)?;
    // 11./12. write secrets and templates
    let items: Vec<&Installed> = decrypted
        .secrets
        .iter()
        .chain(&decrypted.templates)
        .collect();
    write_generation(m, &gd, kgid, &items)?;
    // 13. change detection and unit requests
    let mut deferred = None;
    if !m.user_mode {
        let units = |e: String| Error::Step(Step::Units, e);
        let set = changes::detect(&link, &decrypted.secrets, &decrypted.templates, !o.dry)
            .map_err(units)?;
        deferred = request_units(m, o, &set, r).map_err(units)?;
    }
    // 14. dry activation stops here
    if o.dry {
        return if failed {
            Err(failures(Outcome::Unsaid))
        } else {
            Ok(())
        };
    }
    // 15. switch
    generations::switch_symlink(
        &Path::new(&m.secrets_mount_point).join(gen.to_string()),
        &link,
    )
    .map_err(Error::step(Step::Switch))?;
    // the credentials, 16. custom paths
    let placed = place_credentials(m, o, plan, &decrypted.secrets, r)
        .and_then(|()| link_custom_paths(m, &link, &items));
    // quirk 9: fix – `systemctl --no-block try-restart` acts at once, so it is requested
    // only now that the new secrets are in place (generation, credentials, custom paths):
    // requested before the switch, a service restarted in that window read the old ones
    // (the real-systemd suite caught demo-app starting with its old credential). Requested
    // even when placing a credential or custom path failed: the generation has switched.
    if let Some((restart, reload)) = deferred {
        request_via_systemctl(&restart, &reload).map_err(Error::step(Step::Units))?;
    }
    placed?;
    // 17. prune
    generations::prune(&mpd, gen, m.keep_generations).map_err(Error::step(Step::Prune))?;
    if failed {
        Err(failures(Outcome::Installed(gen)))
    } else {
        Ok(())
    }
}

/// `systemctl --no-block try-restart <restart…>`, then `try-reload-or-restart <reload…>`
/// (each only when non-empty; systemctl's output goes to stderr).
fn request_via_systemctl(restart: &[String], reload: &[String]) -> Result<(), String> {
    for (verb, units) in [("try-restart", restart), ("try-reload-or-restart", reload)] {
        if units.is_empty() {
            continue;
        }
        let status = Command::new("systemctl")
            .arg("--no-block")
            .arg(verb)
            .args(units)
            .stdout(std::process::Stdio::from(std::io::stderr()))
            .status()
            .map_err(|e| {
                format!(
                    "error running 'systemctl --no-block {verb} {}': {e}",
                    units.join(" ")
                )
            })?;
        if !status.success() {
            return Err(format!(
                "error running 'systemctl --no-block {verb} {}': {status}",
                units.join(" ")
            ));
        }
    }
    Ok(())
}
