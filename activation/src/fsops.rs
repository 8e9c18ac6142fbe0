//! Filesystem operations: the secrets mount, generation directories, secret files, the
//! atomic symlink switch, custom-path symlinks and pruning (steps 6, 10–12 and 15–17 of
//! docs/activation.md#the-activation-sequence).
//!
//! Rules: a secret file is created with O_EXCL|O_NOFOLLOW and its final mode, `fchmod`ed to
//! that mode exactly (the umask cannot widen or narrow it), `fchown`ed before the first
//! byte is written; nothing here follows a symlink planted where a file or directory of
//! ours should be.

use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::os::unix::fs::{
    chown, fchown, lchown, symlink, DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt,
};
use std::path::{Path, PathBuf};

use crate::fault;

/// ramfs `statfs` magic.
pub const RAMFS_MAGIC: i64 = 0x858458f6;
/// tmpfs `statfs` magic.
pub const TMPFS_MAGIC: i64 = 0x01021994;

type Res<T> = Result<T, String>;

const O_NOFOLLOW: i32 = nix::libc::O_NOFOLLOW;
const O_CLOEXEC: i32 = nix::libc::O_CLOEXEC;

/// Creates a directory with exactly `mode` (chmod after mkdir, the umask applies to mkdir).
/// An existing directory (not a symlink) is accepted and chmod'ed.
pub fn make_dir(p: &Path, mode: u32) -> std::io::Result<()> {
    match DirBuilder::new().mode(mode).create(p) {
        Ok(()) => fault::point("mkdir"),
        Err(e) if e.kind() == ErrorKind::AlreadyExists => {
            let md = fs::symlink_metadata(p)?;
            if !md.file_type().is_dir() {
                return Err(std::io::Error::new(
                    ErrorKind::AlreadyExists,
                    "exists and is not a directory (symlinks are never followed)",
                ));
            }
        }
        Err(e) => return Err(e),
    }
    fs::set_permissions(p, fs::Permissions::from_mode(mode))?;
    fault::point("chmod dir");
    Ok(())
}

/// `mkdir -p` with exactly `mode` for missing components, whatever the umask (existing
/// ones are left alone).
pub fn make_dir_all(p: &Path, mode: u32) -> std::io::Result<()> {
    if p.is_dir() {
        return Ok(());
    }
    if let Some(parent) = p.parent() {
        if !parent.as_os_str().is_empty() {
            make_dir_all(parent, mode)?;
        }
    }
    match DirBuilder::new().mode(mode).create(p) {
        Err(e) if e.kind() == ErrorKind::AlreadyExists && p.is_dir() => Ok(()),
        Ok(()) => {
            fault::point("mkdir -p");
            // The umask narrowed it: the mode must not depend on who ran us.
            fs::set_permissions(p, fs::Permissions::from_mode(mode))?;
            fault::point("chmod dir");
            Ok(())
        }
        r => r,
    }
}

/// Creates the parent directories of `name` under `base` (0751, `0:keys_gid` unless
/// `chown` is false). Any existing component that is not a real directory is an error.
/// `made` holds the directories this run already made (each is made, chmod'ed and
/// chown'ed once, not once per file below it).
pub fn make_parents(
    base: &Path,
    name: &str,
    keys_gid: u32,
    do_chown: bool,
    made: &mut std::collections::HashSet<PathBuf>,
) -> Res<()> {
    let comps: Vec<&str> = name.split('/').collect();
    let mut p = base.to_path_buf();
    for c in &comps[..comps.len() - 1] {
        p.push(c);
        if made.contains(&p) {
            continue;
        }
        make_dir(&p, 0o751).map_err(|e| format!("cannot create directory {}: {e}", p.display()))?;
        if do_chown {
            chown(&p, Some(0), Some(keys_gid))
                .map_err(|e| format!("cannot chown directory {}: {e}", p.display()))?;
            fault::point("chown dir");
        }
        made.insert(p.clone());
    }
    Ok(())
}

/// Writes a new file with its final mode and owner before any byte of content.
pub fn write_new_file(p: &Path, bytes: &[u8], mode: u32, owner: Option<(u32, u32)>) -> Res<()> {
    let f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .custom_flags(O_NOFOLLOW | O_CLOEXEC)
        .open(p)
        .map_err(|e| format!("cannot create {}: {e}", p.display()))?;
    fault::point("create file");
    finish_file(f, p, bytes, mode, owner)
}

fn finish_file(
    mut f: File,
    p: &Path,
    bytes: &[u8],
    mode: u32,
    owner: Option<(u32, u32)>,
) -> Res<()> {
    // Created with `mode` narrowed by the umask, so it is never more open than `mode`; owner
    // first, then the exact mode, then the content.
    if let Some((u, g)) = owner {
        fchown(&f, Some(u), Some(g)).map_err(|e| format!("cannot chown {}: {e}", p.display()))?;
        fault::point("fchown");
    }
    f.set_permissions(fs::Permissions::from_mode(mode))
        .map_err(|e| format!("cannot chmod {}: {e}", p.display()))?;
    fault::point("fchmod");
    let werr = |e| format!("cannot write {}: {e}", p.display());
    f.write_all(bytes).map_err(werr)?;
    fault::point("write");
    f.sync_all().map_err(werr)?;
    fault::point("fsync");
    Ok(())
}

/// Whether `name` is `prefix` followed by exactly six ASCII letters or digits (the
/// temporary directory names `tempfile` makes).
fn is_temp_dir_name(name: &str, prefix: &str) -> bool {
    name.strip_prefix(prefix)
        .is_some_and(|r| r.len() == 6 && r.bytes().all(|b| b.is_ascii_alphanumeric()))
}

/// Removes what an earlier run killed half-way left in `dir` (crash repair): for each
/// entry whose name `is_ours`, owned by this user, either a regular file (`inner` is
/// `None`) or a directory holding at most the symlink `inner`. Nothing in `dir` is
/// followed: a leftover directory is opened `O_NOFOLLOW` and entries are removed relative
/// to open directories. Failures are ignored (a leftover is harmless; the run goes on).
fn remove_leftovers(dir: &Path, is_ours: impl Fn(&str) -> bool, inner: Option<&str>) {
    use nix::sys::stat::{fstatat, SFlag};
    use nix::unistd::{geteuid, unlinkat, UnlinkatFlags};
    use std::os::fd::AsRawFd;
    let open_dir = |p: &Path, nofollow: i32| {
        OpenOptions::new()
            .read(true)
            .custom_flags(nofollow | O_CLOEXEC | nix::libc::O_DIRECTORY)
            .open(p)
    };
    // `dir` itself may be reached through root's symlinks (/var/run); what is in it is not.
    let (Ok(dfd), Ok(rd)) = (open_dir(dir, 0), fs::read_dir(dir)) else {
        return;
    };
    let me = geteuid().as_raw();
    for ent in rd.flatten() {
        let name = ent.file_name();
        if !name.to_str().is_some_and(&is_ours) {
            continue;
        }
        let Ok(st) = fstatat(
            Some(dfd.as_raw_fd()),
            name.as_os_str(),
            nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
        ) else {
            continue;
        };
        let kind = SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT;
        if st.st_uid != me {
            continue;
        }
        match inner {
            None if kind == SFlag::S_IFREG => {
                let _ = unlinkat(
                    Some(dfd.as_raw_fd()),
                    name.as_os_str(),
                    UnlinkatFlags::NoRemoveDir,
                );
            }
            Some(inner) if kind == SFlag::S_IFDIR => {
                let Ok(sub) = open_dir(&dir.join(&name), O_NOFOLLOW) else {
                    continue;
                };
                if let Ok(st) = fstatat(
                    Some(sub.as_raw_fd()),
                    inner,
                    nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
                ) {
                    if SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFLNK {
                        let _ = unlinkat(Some(sub.as_raw_fd()), inner, UnlinkatFlags::NoRemoveDir);
                    }
                }
                // Only an empty directory goes.
                let _ = unlinkat(
                    Some(dfd.as_raw_fd()),
                    name.as_os_str(),
                    UnlinkatFlags::RemoveDir,
                );
            }
            _ => {}
        }
    }
}

/// The PID of a temporary file name of [`replace_file`], `.<base>.tmp<pid>.<i>`, given
/// the part after `.tmp`.
fn temp_pid(rest: &str) -> Option<i32> {
    let (pid, i) = rest.split_once('.')?;
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(pid) || !digits(i) {
        return None;
    }
    pid.parse().ok()
}

/// Whether process `pid` is gone (`kill(pid, 0)` fails with ESRCH): its temporary files
/// are leftovers. Our own PID and any live process (another activation, say a `--watch`
/// one, writing the same directory) count as alive.
fn pid_is_dead(pid: i32) -> bool {
    pid > 0
        && pid as u32 != std::process::id()
        && nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None)
            == Err(nix::errno::Errno::ESRCH)
}

/// Removes the temporary files of [`replace_file`] (`.<any name>.tmp<pid>.<i>`) that runs
/// killed before their rename left in `dir`, whatever file they were for: regular files
/// owned by this user whose process is gone; nothing is followed. For directories only
/// sealbox writes (the credential store), where a name may be gone from the manifest by
/// the next run.
pub fn remove_stale_temps(dir: &Path) {
    remove_leftovers(
        dir,
        |n| {
            n.strip_prefix('.')
                .and_then(|n| n.rsplit_once(".tmp"))
                .is_some_and(|(base, rest)| {
                    !base.is_empty() && temp_pid(rest).is_some_and(pid_is_dead)
                })
        },
        None,
    );
}

/// Replaces `p` atomically with a new file (temp file in the same directory + rename). A
/// symlink at `p` is replaced, never followed.
pub fn replace_file(p: &Path, bytes: &[u8], mode: u32, owner: Option<(u32, u32)>) -> Res<()> {
    let dir = p.parent().unwrap_or(Path::new("."));
    let base = p
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    // Temporary files of a run killed before its rename (`.<base>.tmp<pid>.<i>`).
    let tmp_prefix = format!(".{base}.tmp");
    remove_leftovers(
        dir,
        |n| {
            n.strip_prefix(&tmp_prefix)
                .and_then(temp_pid)
                .is_some_and(pid_is_dead)
        },
        None,
    );
    for i in 0..100u32 {
        let tmp = dir.join(format!(".{base}.tmp{}.{i}", std::process::id()));
        let f = match OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .custom_flags(O_NOFOLLOW | O_CLOEXEC)
            .open(&tmp)
        {
            Ok(f) => f,
            Err(e) if e.kind() == ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(format!("cannot create {}: {e}", tmp.display())),
        };
        fault::point("create temp file");
        let r = finish_file(f, &tmp, bytes, mode, owner).and_then(|()| {
            fs::rename(&tmp, p).map_err(|e| format!("cannot rename onto {}: {e}", p.display()))
        });
        fault::point("rename file");
        if r.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        return r;
    }
    Err(format!(
        "cannot create a temporary file in {}",
        dir.display()
    ))
}

/// Removes whatever is at `p` (file, symlink or directory tree) without following symlinks.
pub fn remove_any(p: &Path) -> std::io::Result<()> {
    match fs::symlink_metadata(p) {
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
        Ok(md) if md.file_type().is_dir() => fs::remove_dir_all(p),
        Ok(_) => fs::remove_file(p),
    }?;
    fault::point("remove");
    Ok(())
}

/// Mounts ramfs (or tmpfs) at `mp` unless it already is one, then `chown 0:keys_gid`;
/// `mkdir -p` first (step 6 of docs/activation.md#the-activation-sequence).
pub fn mount_secret_fs(mp: &Path, use_tmpfs: bool, keys_gid: u32) -> Res<()> {
    use nix::mount::{mount, MsFlags};
    let pre = "failed to mount filesystem for secrets";
    make_dir_all(mp, 0o751).map_err(|e| format!("{pre}: cannot create {}: {e}", mp.display()))?;
    let md = fs::symlink_metadata(mp).map_err(|e| format!("{pre}: {}: {e}", mp.display()))?;
    if !md.file_type().is_dir() {
        return Err(format!(
            "{pre}: {} is not a directory (a symlink is never followed); remove it",
            mp.display()
        ));
    }
    let (fstype, magic) = if use_tmpfs {
        ("tmpfs", TMPFS_MAGIC)
    } else {
        ("ramfs", RAMFS_MAGIC)
    };
    let is_mount_point = match mp.parent() {
        Some(parent) => fs::metadata(parent)
            .map(|p| p.dev() != md.dev())
            .unwrap_or(true),
        None => true,
    };
    let current = nix::sys::statfs::statfs(mp)
        .map_err(|e| format!("{pre}: statfs {}: {e}", mp.display()))?
        .filesystem_type()
        .0 as i64;
    if !is_mount_point || current != magic {
        let flags = MsFlags::MS_NODEV | MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC;
        let mut r = mount(
            Some("none"),
            mp,
            Some(fstype),
            flags,
            Some(if use_tmpfs {
                "mode=0751,noswap"
            } else {
                "mode=0751"
            }),
        );
        if use_tmpfs && r == Err(nix::errno::Errno::EINVAL) {
            // Kernels before 6.4 do not know `noswap`.
            r = mount(Some("none"), mp, Some(fstype), flags, Some("mode=0751"));
        }
        r.map_err(|e| format!("{pre}: cannot mount {fstype} on {}: {e}", mp.display()))?;
        fault::point("mount");
    }
    chown(mp, Some(0), Some(keys_gid))
        .map_err(|e| format!("{pre}: cannot chown {}: {e}", mp.display()))?;
    fault::point("chown mount point");
    Ok(())
}

/// The current generation number: the basename of `symlink`'s target when the target
/// starts with `mount_point` (plain string prefix, as sops-nix), else 0.
pub fn current_generation(symlink: &Path, mount_point: &str) -> Res<u64> {
    match fs::read_link(symlink) {
        Ok(t) => {
            let ts = t.to_string_lossy();
            if !ts.starts_with(mount_point) {
                return Ok(0);
            }
            let base = t
                .file_name()
                .map(|b| b.to_string_lossy().into_owned())
                .unwrap_or_default();
            base.parse::<u64>().map_err(|_| {
                format!(
                    "cannot parse the generation number of {} (it points to {ts}); remove the symlink",
                    symlink.display()
                )
            })
        }
        Err(_) => Ok(0),
    }
}

/// Points `link` at `target` atomically: a new symlink in a temporary directory next to it,
/// renamed over the old one.
pub fn switch_symlink(target: &Path, link: &Path) -> Res<()> {
    let parent = link.parent().unwrap_or(Path::new("/"));
    make_dir_all(parent, 0o755).map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
    let base = link
        .file_name()
        .map(|b| b.to_string_lossy().into_owned())
        .unwrap_or_default();
    // The temporary directory of a run killed between its mkdir and its removal.
    let tmp_prefix = format!(".{base}");
    remove_leftovers(
        parent,
        |n| is_temp_dir_name(n, &tmp_prefix),
        Some("tmp.symlink"),
    );
    match symlink(target, link) {
        Ok(()) => {
            fault::point("symlink");
            return Ok(());
        }
        Err(e) if e.kind() == ErrorKind::AlreadyExists => {}
        Err(e) => return Err(format!("cannot create symlink {}: {e}", link.display())),
    }
    let tmp = tempfile::Builder::new()
        .prefix(&format!(".{base}"))
        .tempdir_in(parent)
        .map_err(|e| {
            format!(
                "cannot create a temporary directory in {}: {e}",
                parent.display()
            )
        })?;
    fault::point("temp dir for the symlink");
    let tl = tmp.path().join("tmp.symlink");
    symlink(target, &tl).map_err(|e| format!("cannot create symlink {}: {e}", tl.display()))?;
    fault::point("temp symlink");
    fs::rename(&tl, link)
        .map_err(|e| format!("cannot rename a symlink onto {}: {e}", link.display()))?;
    fault::point("rename symlink (switch)");
    let _ = tmp.close();
    fault::point("remove temp dir");
    Ok(())
}

/// Refuses a path one of whose directories is a symlink owned by someone other than root:
/// that user could point it anywhere (say at `/etc`) and have us replace a file there with
/// the secret's symlink. Root's own symlinks (`/var/run → /run`) are followed.
fn check_parents(path: &Path) -> Res<()> {
    let mut p = PathBuf::new();
    for c in path.parent().into_iter().flat_map(Path::components) {
        p.push(c);
        if let Ok(md) = fs::symlink_metadata(&p) {
            if md.file_type().is_symlink() && md.uid() != 0 {
                return Err(format!(
                    "{} is a symlink owned by uid {}: refusing to follow it for {} (make it a directory, or own it by root)",
                    p.display(),
                    md.uid(),
                    path.display()
                ));
            }
        }
    }
    Ok(())
}

/// Creates or fixes the custom-path symlink `path → target` (activation step 16). `owner` is
/// `None` in user mode (plain symlink, no lchown).
pub fn custom_symlink(path: &Path, target: &Path, owner: Option<(u32, u32)>) -> Res<()> {
    if owner.is_some() {
        check_parents(path)?;
    }
    if let Some(parent) = path.parent() {
        // sops-nix uses 0777 & ~umask; under umask 000 that is a world-writable parent
        // in which anyone could replace the symlink. 0755 whatever the umask.
        make_dir_all(parent, 0o755)
            .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
        if owner.is_some() {
            // The temporary directory of a run killed before its removal.
            remove_leftovers(parent, |n| is_temp_dir_name(n, ".sealbox"), Some("link"));
        }
    }
    for _ in 0..8 {
        match fs::symlink_metadata(path) {
            Err(e) if e.kind() == ErrorKind::NotFound => {
                match owner {
                    None => {
                        symlink(target, path).map_err(|e| {
                            format!("cannot create symlink {}: {e}", path.display())
                        })?;
                        fault::point("custom symlink");
                    }
                    Some((u, g)) => {
                        let parent = path.parent().unwrap_or(Path::new("/"));
                        let tmp = tempfile::Builder::new()
                            .prefix(".sealbox")
                            .tempdir_in(parent)
                            .map_err(|e| {
                                format!(
                                    "cannot create a temporary directory in {}: {e}",
                                    parent.display()
                                )
                            })?;
                        fault::point("temp dir for a custom symlink");
                        let tl = tmp.path().join("link");
                        let lerr = |e| format!("cannot create symlink {}: {e}", path.display());
                        symlink(target, &tl).map_err(lerr)?;
                        fault::point("custom temp symlink");
                        lchown(&tl, Some(u), Some(g)).map_err(lerr)?;
                        fault::point("lchown custom symlink");
                        fs::rename(&tl, path).map_err(lerr)?;
                        fault::point("rename custom symlink");
                        let _ = tmp.close();
                        fault::point("remove temp dir");
                    }
                }
                continue;
            }
            Err(e) => return Err(format!("cannot stat {}: {e}", path.display())),
            Ok(md) => {
                let same_target = md.file_type().is_symlink()
                    && fs::read_link(path).map(|t| t == target).unwrap_or(false);
                let same_owner = owner.map_or(true, |(u, g)| md.uid() == u && md.gid() == g);
                if same_target && same_owner {
                    return Ok(());
                }
                let r = if md.file_type().is_dir() {
                    fs::remove_dir(path)
                } else {
                    fs::remove_file(path)
                };
                r.map_err(|e| format!("cannot override {}: {e}", path.display()))?;
                fault::point("remove custom path");
            }
        }
    }
    Err(format!(
        "cannot create symlink {}: it keeps changing",
        path.display()
    ))
}

/// Removes generations `N ≤ current − keep` (never `current`): activation step 17.
pub fn prune(mp: &Path, current: u64, keep: u64) -> Res<Vec<u64>> {
    let mut removed = Vec::new();
    if keep == 0 {
        return Ok(removed);
    }
    let rd = fs::read_dir(mp).map_err(|e| format!("cannot read {}: {e}", mp.display()))?;
    for ent in rd {
        let ent = ent.map_err(|e| format!("cannot read {}: {e}", mp.display()))?;
        let Some(n) = ent.file_name().to_str().and_then(|s| s.parse::<u64>().ok()) else {
            continue;
        };
        if n != current && n.saturating_add(keep) <= current {
            remove_any(&ent.path())
                .map_err(|e| format!("cannot remove {}: {e}", ent.path().display()))?;
            removed.push(n);
        }
    }
    removed.sort_unstable();
    Ok(removed)
}

/// Appends `units` (one per line) to `file`, creating it 0600; skipped when `units` is
/// empty or the directory does not exist.
pub fn append_units(file: &Path, units: &[String]) -> Res<()> {
    if units.is_empty() || !file.parent().is_some_and(Path::is_dir) {
        return Ok(());
    }
    let mut f = OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o600)
        .custom_flags(O_NOFOLLOW | O_CLOEXEC)
        .open(file)
        .map_err(|e| format!("cannot open {}: {e}", file.display()))?;
    fault::point("open unit list");
    let mut s = String::new();
    for u in units {
        s.push_str(u);
        s.push('\n');
    }
    f.write_all(s.as_bytes())
        .map_err(|e| format!("cannot write {}: {e}", file.display()))?;
    fault::point("write unit list");
    Ok(())
}

/// `a/b` joined onto `base`.
pub fn join(base: &Path, rel: &str) -> PathBuf {
    let mut p = base.to_path_buf();
    for c in rel.split('/') {
        p.push(c);
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_gets_exact_mode_despite_umask_and_never_follows_symlinks() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("s");
        write_new_file(&p, b"v", 0o640, None).unwrap();
        assert_eq!(fs::metadata(&p).unwrap().mode() & 0o7777, 0o640);
        assert_eq!(fs::read(&p).unwrap(), b"v");
        // exists: no overwrite
        assert!(write_new_file(&p, b"w", 0o600, None).is_err());
        let victim = d.path().join("victim");
        fs::write(&victim, b"keep").unwrap();
        let l = d.path().join("l");
        symlink(&victim, &l).unwrap();
        assert!(write_new_file(&l, b"x", 0o600, None).is_err());
        replace_file(&l, b"new", 0o600, None).unwrap();
        assert_eq!(fs::read(&victim).unwrap(), b"keep");
        assert!(!fs::symlink_metadata(&l).unwrap().file_type().is_symlink());
        assert_eq!(fs::read(&l).unwrap(), b"new");
    }

    #[test]
    fn leftovers_of_killed_runs_are_removed_and_nothing_else() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path();
        let decoy = p.join("decoy");
        fs::create_dir(&decoy).unwrap();
        fs::write(decoy.join("tmp.symlink"), "keep").unwrap();
        // (a PID above the kernel's maximum is never a live process)
        fs::write(p.join(".age-keys.txt.tmp99999999.0"), "half").unwrap();
        // a live process's (our own) is kept
        let live = format!(".age-keys.txt.tmp{}.0", std::process::id());
        fs::write(p.join(&live), "writing").unwrap();
        fs::create_dir(p.join(".secretsAbC123")).unwrap();
        symlink("/x", p.join(".secretsAbC123/tmp.symlink")).unwrap();
        // not ours: wrong shape, a symlink, a directory holding something else
        fs::write(p.join(".age-keys.txt.tmpX"), "other").unwrap();
        symlink(&decoy, p.join(".secretsDeF456")).unwrap();
        fs::create_dir(p.join(".secretsGhI789")).unwrap();
        fs::write(p.join(".secretsGhI789/note"), "x").unwrap();
        fs::create_dir(p.join(".secretsTooLong1")).unwrap();
        replace_file(&p.join("age-keys.txt"), b"k", 0o600, None).unwrap();
        fs::create_dir(p.join("secrets.d")).unwrap();
        switch_symlink(&p.join("secrets.d"), &p.join("secrets")).unwrap();
        let mut left: Vec<String> = fs::read_dir(p)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        left.sort();
        left.retain(|n| *n != live);
        assert_eq!(
            left,
            [
                ".age-keys.txt.tmpX",
                ".secretsDeF456",
                ".secretsGhI789",
                ".secretsTooLong1",
                "age-keys.txt",
                "decoy",
                "secrets",
                "secrets.d"
            ]
        );
        assert_eq!(fs::read(decoy.join("tmp.symlink")).unwrap(), b"keep");
    }

    #[test]
    fn stale_temps_of_any_name_are_removed_only_when_their_process_is_gone() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path();
        let me = std::process::id();
        for n in [
            ".gone.tmp99999999.0",
            "..sealbox-managed.%2Frun.tmp99999999.3",
        ] {
            fs::write(p.join(n), "half").unwrap();
        }
        let victim = p.join("victim");
        fs::write(&victim, "keep").unwrap();
        let mut kept = vec![
            format!(".live.tmp{me}.0"),
            ".x.tmp99999999".to_string(),
            ".x.tmpa.0".to_string(),
            ".tmp99999999.0".to_string(),
            "plain.tmp99999999.0".to_string(),
            ".link.tmp99999999.0".to_string(),
            ".dir.tmp99999999.0".to_string(),
            "victim".to_string(),
        ];
        for n in &kept[..5] {
            fs::write(p.join(n), "keep").unwrap();
        }
        symlink(&victim, p.join(".link.tmp99999999.0")).unwrap();
        fs::create_dir(p.join(".dir.tmp99999999.0")).unwrap();
        remove_stale_temps(p);
        let mut left: Vec<String> = fs::read_dir(p)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        left.sort();
        kept.sort();
        assert_eq!(left, kept);
        assert_eq!(fs::read(&victim).unwrap(), b"keep");
    }

    #[test]
    fn generations_switch_and_prune() {
        let d = tempfile::tempdir().unwrap();
        let mp = d.path().join("secrets.d");
        let link = d.path().join("secrets");
        fs::create_dir(&mp).unwrap();
        let mps = mp.to_str().unwrap();
        assert_eq!(current_generation(&link, mps).unwrap(), 0);
        for n in 1..=5u64 {
            fs::create_dir(mp.join(n.to_string())).unwrap();
            switch_symlink(&mp.join(n.to_string()), &link).unwrap();
            assert_eq!(current_generation(&link, mps).unwrap(), n);
        }
        fs::write(mp.join("age-keys.txt"), "").unwrap();
        fs::create_dir(mp.join("9")).unwrap();
        assert_eq!(prune(&mp, 5, 0).unwrap(), Vec::<u64>::new());
        assert_eq!(prune(&mp, 5, 2).unwrap(), vec![1, 2, 3]);
        assert_eq!(prune(&mp, 5, 1).unwrap(), vec![4]);
        let mut left: Vec<String> = fs::read_dir(&mp)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        left.sort();
        assert_eq!(left, ["5", "9", "age-keys.txt"]);
        // a symlink elsewhere is generation 0
        let other = d.path().join("other");
        symlink("/nowhere/7", &other).unwrap();
        assert_eq!(current_generation(&other, mps).unwrap(), 0);
        let bad = d.path().join("bad");
        symlink(mp.join("x"), &bad).unwrap();
        assert!(current_generation(&bad, mps).is_err());
    }

    #[test]
    fn keep_ten_at_generation_101_keeps_92_to_101() {
        let d = tempfile::tempdir().unwrap();
        for n in 1..=101u64 {
            fs::create_dir(d.path().join(n.to_string())).unwrap();
        }
        assert_eq!(
            prune(d.path(), 101, 10).unwrap(),
            (1..=91).collect::<Vec<_>>()
        );
        let mut left: Vec<u64> = fs::read_dir(d.path())
            .unwrap()
            .map(|e| {
                e.unwrap()
                    .file_name()
                    .into_string()
                    .unwrap()
                    .parse()
                    .unwrap()
            })
            .collect();
        left.sort_unstable();
        assert_eq!(left, (92..=101).collect::<Vec<_>>());
    }

    #[test]
    fn custom_symlinks_are_created_and_replaced() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("etc/app/secret");
        let t = Path::new("/run/secrets/a");
        custom_symlink(&p, t, None).unwrap();
        assert_eq!(fs::read_link(&p).unwrap(), t);
        custom_symlink(&p, Path::new("/run/secrets/b"), None).unwrap();
        assert_eq!(fs::read_link(&p).unwrap(), Path::new("/run/secrets/b"));
        fs::remove_file(&p).unwrap();
        fs::write(&p, "plain").unwrap();
        custom_symlink(&p, t, None).unwrap();
        assert_eq!(fs::read_link(&p).unwrap(), t);
        fs::remove_file(&p).unwrap();
        fs::create_dir(&p).unwrap();
        fs::write(p.join("x"), "").unwrap();
        assert!(custom_symlink(&p, t, None)
            .unwrap_err()
            .contains("cannot override"));
    }
}
