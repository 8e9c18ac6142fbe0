//! The activation sequence (docs/activation.md#the-activation-sequence, numbered as
//! below), check modes (docs/activation.md#check-modes) and change detection
//! (docs/activation.md#change-detection); the `quirk N` notes are docs/activation.md#quirks.

use crate::decrypt::{render, used_secrets, Decryptor};
use crate::fsops::{self, join};
use crate::manifest::{self, Manifest};
use crate::safedir::{Dir, Existing, Follow};
use crate::validate::{self, Depth, Entry, Owners, Plan};
use sealbox_keys::age::{Identities, IdentitySources};
use std::fs;
use std::io::{ErrorKind, Read};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use zeroize::Zeroizing;

/// `--check-mode`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CheckMode {
    /// Really install.
    Off,
    /// Validate the manifest only.
    Manifest,
    /// Also parse the encrypted files and check keys.
    SopsFile,
}

impl CheckMode {
    /// Parses the flag value.
    pub fn parse(s: &str) -> Result<CheckMode, String> {
        match s {
            "off" => Ok(CheckMode::Off),
            "manifest" => Ok(CheckMode::Manifest),
            "sopsfile" => Ok(CheckMode::SopsFile),
            // The Go binary prints an empty value here (quirk); we print the value.
            other => Err(format!(
                "invalid value provided for -check-mode flag: '{other}' (use off, manifest or sopsfile)"
            )),
        }
    }
}

/// Everything besides the manifest that decides what a run does.
#[derive(Clone, Debug)]
pub struct Options {
    /// `--check-mode`.
    pub check_mode: CheckMode,
    /// `--ignore-passwd`.
    pub ignore_passwd: bool,
    /// `--keep-going`: install what can be installed and switch even when secrets fail.
    pub keep_going: bool,
    /// `--restart-units` or `SOPS_RESTART_UNITS_VIA_SYSTEMCTL=1`.
    pub restart_via_systemctl: bool,
    /// `NIXOS_ACTION=dry-activate`.
    pub dry: bool,
    /// `$XDG_RUNTIME_DIR` (user mode).
    pub runtime_dir: Option<String>,
    /// Where the restart/reload lists go (`SEALBOX_NIXOS_RUN_DIR`, default `/run/nixos`).
    pub nixos_run_dir: PathBuf,
    /// Program name for log lines.
    pub prog: String,
    /// `--wait-for-key SECONDS`: wait this long for a key to appear when none exists.
    pub wait_for_key: Option<std::time::Duration>,
    /// The systemd credential store (`SEALBOX_CREDSTORE_DIR`, default `/run/credstore`).
    pub credstore_dir: PathBuf,
}

impl Options {
    /// Defaults plus the environment variables the binary reads.
    pub fn from_env(prog: &str) -> Options {
        let env = |k: &str| std::env::var(k).ok();
        Options {
            check_mode: CheckMode::Off,
            ignore_passwd: false,
            keep_going: false,
            restart_via_systemctl: env("SOPS_RESTART_UNITS_VIA_SYSTEMCTL").as_deref() == Some("1"),
            dry: env("NIXOS_ACTION").as_deref() == Some("dry-activate"),
            runtime_dir: env("XDG_RUNTIME_DIR").filter(|s| !s.is_empty()),
            nixos_run_dir: env("SEALBOX_NIXOS_RUN_DIR")
                .filter(|s| !s.is_empty())
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from("/run/nixos")),
            prog: prog.to_string(),
            wait_for_key: None,
            credstore_dir: crate::credstore::dir_from_env(),
        }
    }
}

type Errors = Vec<String>;

fn one(e: String) -> Errors {
    vec![e]
}

/// Runs the binary's job on the manifest at `path`. Errors are complete one-line messages.
pub fn run(path: &Path, o: &Options) -> Result<(), Errors> {
    let (m, plan) = load(path, o)?;
    // 4. check modes stop here
    if o.check_mode != CheckMode::Off {
        return Ok(());
    }
    install(&m, &plan, o)
}

/// Steps 1–3: reads, expands (user mode) and validates the manifest at `path`.
pub fn load(path: &Path, o: &Options) -> Result<(Manifest, Plan), Errors> {
    // 1. read the manifest
    let text = crate::inputs::read_text(path, crate::inputs::MAX_MANIFEST)
        .map_err(|e| one(format!("failed to open manifest: {}: {e}", path.display())))?;
    let mut m = manifest::parse(&text)
        .map_err(|e| one(format!("failed to parse manifest: {}: {e}", path.display())))?;
    // 2. user mode: %r
    if m.user_mode {
        match &o.runtime_dir {
            Some(r) => m.expand_runtime_dir(r),
            None if o.check_mode == CheckMode::Off => {
                return Err(one(
                    "cannot figure out runtime directory: $XDG_RUNTIME_DIR is not set".into(),
                ))
            }
            None => {}
        }
    }
    // 3. validate
    let owners = if o.check_mode != CheckMode::Off {
        Owners::Unresolved
    } else if o.ignore_passwd || o.dry {
        Owners::Root
    } else {
        Owners::Lookup
    };
    let depth = if o.check_mode == CheckMode::SopsFile {
        Depth::SopsFile
    } else {
        Depth::Manifest
    };
    let defer = o.check_mode == CheckMode::Off && o.keep_going;
    let plan = validate::validate_opts(&m, owners, depth, defer)?;
    if o.check_mode == CheckMode::Off
        && (m.secrets_mount_point.is_empty() || m.symlink_path.is_empty())
    {
        return Err(one(
            "manifest is not valid: secretsMountPoint and symlinkPath must be set".into(),
        ));
    }
    Ok((m, plan))
}

fn keys_gid(o: &Options) -> Result<u32, String> {
    if o.ignore_passwd {
        return Ok(0);
    }
    for g in ["keys", "nogroup"] {
        if let Some(gid) = validate::lookup_group(g)? {
            return Ok(gid);
        }
    }
    Err("can't find group 'keys' nor 'nogroup'; create the 'keys' group or run with --ignore-passwd".into())
}

/// Step 7: writes `<mp>/age-keys.txt` like sops-nix and returns the identities to use.
fn import_keys(m: &Manifest, mp: &Dir, o: &Options) -> Result<Identities, String> {
    if !m.ssh_key_paths.is_empty() {
        eprintln!(
            "{}: warning: sshKeyPaths is set but PGP (RSA SSH keys) is not supported; those keys are ignored, use ageSshKeyPaths or ageKeyFile",
            o.prog
        );
    }
    if !m.gnupg_home.is_empty() {
        eprintln!(
            "{}: warning: gnupgHome is set but PGP is not supported; use ageKeyFile or ageSshKeyPaths",
            o.prog
        );
    }
    if m.age_ssh_key_paths.is_empty() && m.age_key_file.is_empty() {
        // No key source in the manifest: the usual sops sources (SOPS_AGE_KEY_FILE, …).
        return Ok(Identities::load(&IdentitySources::from_env()));
    }
    let file = mp.shown("age-keys.txt");
    let (text, keyfile_err) = crate::keywait::identity_text(m, &o.prog);
    // quirk 4: keep – age-keys.txt lives in the mount point (ramfs, root 0600) and persists.
    let owner = if m.user_mode { None } else { Some((0, 0)) };
    fsops::replace_file(mp, "age-keys.txt", text.as_bytes(), 0o600, owner)
        .map_err(|e| format!("cannot write the age key file: {e}"))?;
    if let Some(e) = keyfile_err {
        return Err(e);
    }
    let mut ids = Identities::new();
    ids.push_identity_text(&text, &file.display().to_string())
        .map_err(|e| {
            format!(
                "cannot load age identities: {}",
                e.message.replace('\n', "; ")
            )
        })?;
    Ok(ids)
}

pub(crate) struct Installed<'p> {
    pub(crate) entry: &'p Entry,
    pub(crate) rel: String,
    pub(crate) bytes: Zeroizing<Vec<u8>>,
}

fn install(m: &Manifest, plan: &Plan, o: &Options) -> Result<(), Errors> {
    let mp = PathBuf::from(&m.secrets_mount_point);
    let link = PathBuf::from(&m.symlink_path);
    // a key must exist (or appear within --wait-for-key) before anything is mounted; a
    // manifest without secrets (e.g. an empty for-users manifest) needs none
    if !plan.secrets.is_empty() {
        crate::keywait::ensure(m, o.wait_for_key, &o.prog).map_err(one)?;
    }
    // 5. keys gid
    let kgid = keys_gid(o).map_err(one)?;
    let chown_dirs = !m.user_mode;
    // 6. mount
    let mpd = if m.user_mode {
        Dir::open(&mp, Some(0o751), Follow::Trusted).map_err(|e| {
            one(format!(
                "failed to mount filesystem for secrets: cannot create {e}"
            ))
        })?
    } else {
        fsops::mount_secret_fs(&mp, m.use_tmpfs, kgid).map_err(one)?
    };
    // 7. keys
    let ids = import_keys(m, &mpd, o).map_err(one)?;
    // 8./9. decrypt everything before anything is written, render the templates
    let (secrets, templates, mut failures) = decrypt_all(plan, &ids);
    failures.splice(0..0, plan.unreadable.iter().cloned());
    if !failures.is_empty() && !o.keep_going {
        failures.push(format!(
            "nothing was installed and {} was not switched (fix the errors above, or use --keep-going to install the rest)",
            link.display()
        ));
        return Err(failures);
    }
    // 10. prepare D
    let pre = "failed to prepare new secrets directory";
    let g = fsops::current_generation(&link, &m.secrets_mount_point)
        .map_err(|e| one(format!("{pre}: {e}")))?;
    // quirk 5: keep – a non-symlink at symlinkPath is removed, even in dry mode.
    fsops::remove_unless_symlink(&link).map_err(|e| one(format!("{pre}: {e}")))?;
    let gen = g + 1;
    let gname = gen.to_string();
    let d = mp.join(&gname);
    mpd.remove_tree(&gname)
        .map_err(|e| one(format!("{pre}: cannot remove {}: {e}", d.display())))?;
    let gd = mpd
        .make_sub(
            &gname,
            0o751,
            chown_dirs.then_some((0, kgid)),
            Existing::Fix,
        )
        .map_err(|e| one(format!("{pre}: cannot create {}: {e}", d.display())))?;
    // 11./12. write secrets and templates
    // quirk 10: keep – on a write error the half-written generation stays (it is not
    // linked, and it is replaced on the next run because G did not change).
    let mut made_dirs = std::collections::HashSet::new();
    for (what, list) in [
        ("cannot write secrets", &secrets),
        ("cannot render templates", &templates),
    ] {
        for i in list.iter() {
            let owner = (!m.user_mode).then_some((i.entry.uid, i.entry.gid));
            let base = i.rel.rsplit('/').next().unwrap_or_default();
            fsops::make_parents(&gd, &i.rel, kgid, chown_dirs, &mut made_dirs)
                .and_then(|dir| fsops::write_new_file(&dir, base, &i.bytes, i.entry.mode, owner))
                .map_err(|e| {
                    one(format!(
                        "{what}: {} {}: {e}",
                        if i.rel.starts_with("rendered/") {
                            "template"
                        } else {
                            "secret"
                        },
                        i.entry.name
                    ))
                })?;
        }
    }
    // 13. change detection and unit requests
    // quirk 9: keep for the NixOS lists – they are written before the symlink switch
    // (switch-to-configuration reads them only after the activation). Fixed for systemctl:
    // see `deferred` below.
    let mut deferred = None;
    if !m.user_mode {
        deferred = changes(m, o, &link, &secrets, &templates)
            .map_err(|e| one(format!("cannot request units to restart: {e}")))?;
    }
    // 14. dry activation stops here
    if o.dry {
        return if failures.is_empty() {
            Ok(())
        } else {
            Err(failures)
        };
    }
    // 15. switch
    fsops::switch_symlink(&d, &link)
        .map_err(|e| one(format!("cannot update secrets symlink: {e}")))?;
    let placed = (|| {
        // systemd credentials (sealbox extension): after the switch, like the custom paths
        crate::credstore::sync_installed(&o.credstore_dir, m, plan, &secrets)
            .map_err(|e| one(format!("cannot place systemd credentials: {e}")))?;
        // 16. custom paths
        for i in secrets.iter().chain(&templates) {
            let default = join(&link, &i.rel);
            let p = &i.entry.path;
            if p.is_empty() || Path::new(p) == default {
                continue;
            }
            let owner = (!m.user_mode).then_some((i.entry.uid, i.entry.gid));
            fsops::custom_symlink(Path::new(p), &default, owner).map_err(|e| {
                one(format!(
                    "failed to prepare symlinks to secret store: {} {}: {e}",
                    if i.rel.starts_with("rendered/") {
                        "template"
                    } else {
                        "secret"
                    },
                    i.entry.name
                ))
            })?;
        }
        Ok::<(), Errors>(())
    })();
    // quirk 9: fix – `systemctl --no-block try-restart` acts at once, so it is requested
    // only now that the new secrets are in place (generation, credentials, custom paths):
    // requested before the switch, a service restarted in that window read the old ones
    // (the real-systemd suite caught demo-app starting with its old credential). Requested
    // even when placing a credential or custom path failed: the generation has switched.
    if let Some((restart, reload)) = deferred {
        request_via_systemctl(&restart, &reload)
            .map_err(|e| one(format!("cannot request units to restart: {e}")))?;
    }
    placed?;
    // 17. prune
    fsops::prune(&mpd, gen, m.keep_generations)
        .map_err(|e| one(format!("cannot prune old secrets generations: {e}")))?;
    if failures.is_empty() {
        Ok(())
    } else {
        failures.push(format!(
            "--keep-going: the other secrets were installed as generation {gen}"
        ));
        Err(failures)
    }
}

/// Steps 8–9: decrypts every secret and renders every template in memory. Failures are
/// one line each, naming the secret or template.
pub(crate) fn decrypt_all<'p>(
    plan: &'p Plan,
    ids: &Identities,
) -> (Vec<Installed<'p>>, Vec<Installed<'p>>, Errors) {
    let mut failures: Errors = Vec::new();
    // 8. decrypt everything before anything is written
    let mut dec = Decryptor::new(ids);
    let mut secrets: Vec<Installed> = Vec::new();
    let mut failed_names: Vec<&str> = Vec::new();
    for s in &plan.secrets {
        match dec.value(s) {
            Ok(bytes) => secrets.push(Installed {
                entry: &s.entry,
                rel: s.entry.name.clone(),
                bytes,
            }),
            Err(e) => {
                failures.push(format!("secret {}: {e}", s.entry.name));
                failed_names.push(&s.entry.name);
            }
        }
    }
    tracing::debug!("decrypted {} file(s)", dec.files_decrypted());
    // 9. templates
    let values: Vec<(&str, &[u8])> = plan
        .secrets
        .iter()
        .filter_map(|s| {
            let p = s.placeholder.as_deref()?;
            let v = secrets.iter().find(|i| i.entry.name == s.entry.name)?;
            Some((p, &v.bytes[..]))
        })
        .collect();
    let mut templates: Vec<Installed> = Vec::new();
    for t in &plan.templates {
        let broken: Vec<&str> = used_secrets(t, &plan.secrets)
            .into_iter()
            .filter(|n| failed_names.contains(n))
            .collect();
        if !broken.is_empty() {
            failures.push(format!(
                "template {}: not rendered because secret(s) {} failed",
                t.entry.name,
                broken.join(", ")
            ));
            continue;
        }
        templates.push(Installed {
            entry: &t.entry,
            rel: format!("rendered/{}", t.entry.name),
            bytes: render(&t.text, &values),
        });
    }
    (secrets, templates, failures)
}

/// Whether the file at `old` differs from what is installed now: content, mode, and (when
/// owners were resolved) owner and group. `None` = no old file.
pub(crate) fn differs(
    old: &Path,
    i: &Installed,
    compare_owner: bool,
) -> Result<Option<bool>, String> {
    let f = fs::OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_NOFOLLOW | nix::libc::O_NONBLOCK)
        .open(old);
    let mut f = match f {
        Ok(f) => f,
        Err(e) if is_absent(&e) => return Ok(None),
        Err(e) => return Err(format!("cannot read {}: {e}", old.display())),
    };
    let md = f
        .metadata()
        .map_err(|e| format!("cannot stat {}: {e}", old.display()))?;
    if !md.is_file() {
        return Ok(None);
    }
    let mut buf = Zeroizing::new(Vec::new());
    match f.read_to_end(&mut buf) {
        Ok(_) => {}
        Err(e) if is_absent(&e) => return Ok(None),
        Err(e) => return Err(format!("cannot read {}: {e}", old.display())),
    }
    let meta_changed = md.mode() & 0o777 != i.entry.mode
        || compare_owner && (md.uid() != i.entry.uid || md.gid() != i.entry.gid);
    Ok(Some(buf[..] != i.bytes[..] || meta_changed))
}

fn is_absent(e: &std::io::Error) -> bool {
    use nix::libc::{EISDIR, ELOOP, ENOENT, ENOTDIR};
    matches!(e.raw_os_error(), Some(ENOENT | ENOTDIR | EISDIR | ELOOP))
        || e.kind() == ErrorKind::NotFound
}

/// Regular files under `root` (not following symlinks), relative, `/`-joined; `skip` is a
/// top-level directory name to leave out.
pub(crate) fn old_files(root: &Path, skip: Option<&str>) -> Vec<String> {
    fn walk(dir: &Path, prefix: &str, skip: Option<&str>, out: &mut Vec<String>) {
        let Ok(rd) = fs::read_dir(dir) else { return };
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let rel = if prefix.is_empty() {
                name.clone()
            } else {
                format!("{prefix}/{name}")
            };
            let Ok(ft) = e.file_type() else { continue };
            if ft.is_dir() {
                if prefix.is_empty() && Some(name.as_str()) == skip {
                    continue;
                }
                walk(&e.path(), &rel, None, out);
            } else if ft.is_file() {
                out.push(rel);
            }
        }
    }
    let mut out = Vec::new();
    walk(root, "", skip, &mut out);
    out
}

/// Units to restart and to reload with systemctl.
type UnitRequests = (Vec<String>, Vec<String>);

/// Change detection and its log lines; the NixOS restart/reload lists are written here.
/// Returns the units to restart and reload with systemctl (`--restart-units`, not dry),
/// which the caller requests once the new generation is in place.
fn changes(
    m: &Manifest,
    o: &Options,
    link: &Path,
    secrets: &[Installed],
    templates: &[Installed],
) -> Result<Option<UnitRequests>, String> {
    // Skipped when symlinkPath does not resolve (first activation after boot).
    if !fs::metadata(link).map(|md| md.is_dir()).unwrap_or(false) {
        return Ok(None);
    }
    // Resolve once so the old tree is read consistently.
    let old_root =
        fs::canonicalize(link).map_err(|e| format!("cannot resolve {}: {e}", link.display()))?;
    let mut restart = Vec::new();
    let mut reload = Vec::new();
    let mut lines = Vec::new();
    let (add, modify, remove) = if o.dry {
        ("would add", "would modify", "would remove")
    } else {
        ("adding", "modifying", "removing")
    };
    for (kind, list, base) in [
        ("secret", secrets, old_root.clone()),
        ("rendered secret", templates, old_root.join("rendered")),
    ] {
        let mut added = Vec::new();
        let mut modified = Vec::new();
        for i in list {
            match differs(&join(&base, &i.entry.name), i, !o.dry)? {
                None => added.push(i.entry.name.clone()),
                Some(true) => modified.push(i.entry.name.clone()),
                Some(false) => continue,
            }
            restart.extend(i.entry.restart_units.iter().cloned());
            reload.extend(i.entry.reload_units.iter().cloned());
        }
        let mut removed: Vec<String> = if m.log_secret_changes {
            let skip = (kind == "secret").then_some("rendered");
            old_files(&base, skip)
                .into_iter()
                .filter(|f| !list.iter().any(|i| &i.entry.name == f))
                .collect()
        } else {
            Vec::new()
        };
        for (verb, names) in [
            (add, &mut added),
            (modify, &mut modified),
            (remove, &mut removed),
        ] {
            if names.is_empty() {
                continue;
            }
            names.sort();
            let s = if names.len() > 1 { "s" } else { "" };
            lines.push(format!("{verb} {kind}{s}: {}", names.join(", ")));
        }
    }
    if m.log_secret_changes {
        for l in lines {
            println!("{l}");
        }
    }
    if o.restart_via_systemctl {
        if o.dry {
            for u in &restart {
                eprintln!("would restart {u}");
            }
            for u in &reload {
                eprintln!("would reload {u}");
            }
            return Ok(None);
        }
        return Ok(Some((restart, reload)));
    }
    let prefix = if o.dry {
        "dry-activation"
    } else {
        "activation"
    };
    fsops::append_units(
        &o.nixos_run_dir.join(format!("{prefix}-restart-list")),
        &restart,
    )?;
    fsops::append_units(
        &o.nixos_run_dir.join(format!("{prefix}-reload-list")),
        &reload,
    )?;
    Ok(None)
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
