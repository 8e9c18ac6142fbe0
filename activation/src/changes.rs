//! Change detection (docs/activation.md#change-detection): what the new generation adds,
//! changes and removes compared with the current one, and which units that asks to restart
//! or reload. The one change set the activation (its log lines and unit requests), `--diff`
//! and `--watch` (through the activation) use.

use crate::decrypt::Installed;
use crate::generations::join;
pub use crate::report::Verb;
use std::fs;
use std::io::{ErrorKind, Read};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use zeroize::Zeroizing;

/// The changes of one list (secrets, or templates), names sorted.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Changes {
    /// New entries.
    pub added: Vec<String>,
    /// Entries whose content, mode, owner or group changes.
    pub changed: Vec<String>,
    /// Files of the current generation the new one does not have.
    pub removed: Vec<String>,
}

impl Changes {
    /// (verb, names) for each verb, in the order add, modify, remove.
    pub fn by_verb(&self) -> [(Verb, &[String]); 3] {
        [
            (Verb::Add, &self.added),
            (Verb::Modify, &self.changed),
            (Verb::Remove, &self.removed),
        ]
    }

    /// Everything is new (no current generation).
    fn all_added(list: &[Installed]) -> Changes {
        let mut added: Vec<String> = list.iter().map(|i| i.entry.name.clone()).collect();
        added.sort();
        Changes {
            added,
            ..Changes::default()
        }
    }
}

/// The changes of a new generation against the current one.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ChangeSet {
    /// The current generation (`symlinkPath` resolved), or `None` when there is none (the
    /// first activation after boot): everything is added and no unit is requested.
    pub current: Option<PathBuf>,
    /// Secrets.
    pub secrets: Changes,
    /// Templates (`rendered/`).
    pub templates: Changes,
    /// `restartUnits` of the added and changed entries, in manifest order (repeats kept).
    pub restart: Vec<String>,
    /// `reloadUnits` of the added and changed entries, likewise.
    pub reload: Vec<String>,
}

/// Compares the new generation's `secrets` and `templates` with the current generation
/// that `link` (`symlinkPath`) points at. Owner and group count only with `compare_owner`
/// (they were resolved).
pub fn detect(
    link: &Path,
    secrets: &[Installed],
    templates: &[Installed],
    compare_owner: bool,
) -> Result<ChangeSet, String> {
    // None when symlinkPath does not resolve to a directory (first activation after boot).
    if !fs::metadata(link).map(|md| md.is_dir()).unwrap_or(false) {
        return Ok(ChangeSet {
            current: None,
            secrets: Changes::all_added(secrets),
            templates: Changes::all_added(templates),
            ..ChangeSet::default()
        });
    }
    // Resolve once so the old tree is read consistently.
    let old_root =
        fs::canonicalize(link).map_err(|e| format!("cannot resolve {}: {e}", link.display()))?;
    let mut set = ChangeSet {
        current: Some(old_root.clone()),
        ..ChangeSet::default()
    };
    for (list, base, skip) in [
        (secrets, old_root.clone(), Some("rendered")),
        (templates, old_root.join("rendered"), None),
    ] {
        let mut c = Changes::default();
        for i in list {
            match differs(&join(&base, &i.entry.name), i, compare_owner)? {
                None => c.added.push(i.entry.name.clone()),
                Some(true) => c.changed.push(i.entry.name.clone()),
                Some(false) => continue,
            }
            set.restart.extend(i.entry.restart_units.iter().cloned());
            set.reload.extend(i.entry.reload_units.iter().cloned());
        }
        c.removed = old_files(&base, skip)
            .into_iter()
            .filter(|f| !list.iter().any(|i| &i.entry.name == f))
            .collect();
        for names in [&mut c.added, &mut c.changed, &mut c.removed] {
            names.sort();
        }
        if skip.is_some() {
            set.secrets = c;
        } else {
            set.templates = c;
        }
    }
    Ok(set)
}

/// Whether the file at `old` differs from what is installed now: content, mode, and (when
/// owners were resolved) owner and group. `None` = no old file.
fn differs(old: &Path, i: &Installed, compare_owner: bool) -> Result<Option<bool>, String> {
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
fn old_files(root: &Path, skip: Option<&str>) -> Vec<String> {
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
