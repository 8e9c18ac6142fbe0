//! The installed tree: the secrets mount, generation directories, secret files, the
//! atomic symlink switch, custom-path symlinks, pruning and the unit lists (steps 6, 10–12
//! and 15–17 of docs/activation.md#the-activation-sequence).
//!
//! Rules: a secret file is created with O_EXCL|O_NOFOLLOW and its final mode, `fchmod`ed to
//! that mode exactly (the umask cannot widen or narrow it), `fchown`ed before the first
//! byte is written; nothing here follows a symlink planted where a file or directory of
//! ours should be. Every change is made through an open directory ([`Dir`], see
//! `safedir.rs`): a directory is created with `mkdirat`, opened `O_NOFOLLOW`, checked to
//! be ours and only then `fchmod`ed/`fchown`ed; names are created, renamed and removed
//! with the `*at` calls relative to it. Nothing is changed by a path that a user could
//! redirect between two calls (SECURITY.md, "Path-based calls: audit").

use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};

use rustix::fs::FileType;
use sealbox_os::fault;
use sealbox_os::leftovers::remove_temp_dirs;
use sealbox_os::replace::{self, Owner};
use sealbox_os::safedir::{Dir, Existing, Follow};

/// ramfs `statfs` magic.
pub const RAMFS_MAGIC: i64 = 0x858458f6;
/// tmpfs `statfs` magic.
pub const TMPFS_MAGIC: i64 = 0x01021994;

type Res<T> = Result<T, String>;

/// `p`'s parent directory and its last component (a plain name).
pub fn split(p: &Path) -> Res<(&Path, &str)> {
    match (p.parent(), p.file_name().and_then(|n| n.to_str())) {
        (Some(d), Some(n)) if !d.as_os_str().is_empty() => Ok((d, n)),
        (Some(_), Some(n)) => Ok((Path::new("."), n)),
        _ => Err(format!("{} does not name a file", p.display())),
    }
}

/// Creates the parent directories of `name` under the generation directory `gen` (0751,
/// `0:keys_gid` unless `chown` is false) and returns the one the file goes into. Any
/// existing component that is not a real directory is an error. `made` holds the
/// directories (relative names) this run already made: each is made, chmod'ed and chown'ed
/// once, not once per file below it.
pub fn make_parents(
    gen: &Dir,
    name: &str,
    keys_gid: u32,
    do_chown: bool,
    made: &mut std::collections::HashSet<String>,
) -> Res<Dir> {
    let comps: Vec<&str> = name.split('/').collect();
    let mut cur = gen
        .try_clone()
        .map_err(|e| format!("{}: {e}", gen.path().display()))?;
    let mut rel = String::new();
    for c in &comps[..comps.len() - 1] {
        if !rel.is_empty() {
            rel.push('/');
        }
        rel.push_str(c);
        let next = if made.contains(&rel) {
            cur.sub(c)
        } else {
            cur.make_sub(c, 0o751, do_chown.then_some((0, keys_gid)), Existing::Fix)
        };
        cur =
            next.map_err(|e| format!("cannot create directory {}: {e}", cur.shown(c).display()))?;
        made.insert(rel.clone());
    }
    Ok(cur)
}

/// Writes the new file `name` in `dir` with its final mode and owner before any byte of
/// content.
pub fn write_new_file(
    dir: &Dir,
    name: &str,
    bytes: &[u8],
    mode: u32,
    owner: Option<(u32, u32)>,
) -> Res<()> {
    let owner = owner.map_or(Owner::Creator, |(u, g)| Owner::Exact(u, g));
    replace::create_new(dir, name, bytes, mode, owner).map_err(|e| e.to_string())
}

/// Mounts ramfs (or tmpfs) at `mp` unless it already is one (step 6 of
/// docs/activation.md#the-activation-sequence), then
/// `chown 0:keys_gid`; returns the mounted directory. Missing directories are created
/// (0751) first. The mount goes onto the directory opened `O_NOFOLLOW` (through
/// `/proc/self/fd/N`), never onto whatever a path resolves to a moment later. (The
/// messages go after "failed to mount filesystem for secrets: ".)
pub fn mount_secret_fs(mp: &Path, use_tmpfs: bool, keys_gid: u32) -> Res<Dir> {
    use nix::mount::{mount, MsFlags};
    let (parent, name) = split(mp)?;
    let parent = Dir::open(parent, Some(0o751), Follow::Trusted)
        .map_err(|e| format!("cannot create {e}"))?;
    let mut d = parent
        .make_sub(name, 0o751, None, Existing::Keep)
        .map_err(|e| format!("{} is not a directory ({e}); remove it", mp.display()))?;
    let (fstype, magic) = if use_tmpfs {
        ("tmpfs", TMPFS_MAGIC)
    } else {
        ("ramfs", RAMFS_MAGIC)
    };
    let stat_err = |e: std::io::Error| format!("stat {}: {e}", mp.display());
    let parent_dev = parent.stat().map_err(stat_err)?.dev;
    let is_mount_point = d.stat().map_err(stat_err)?.dev != parent_dev;
    let current = d.fs_type().map_err(stat_err)?;
    if !is_mount_point || current != magic {
        let flags = MsFlags::MS_NODEV | MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC;
        let target = d.proc_path();
        let mut r = mount(
            Some("none"),
            &target,
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
            r = mount(
                Some("none"),
                &target,
                Some(fstype),
                flags,
                Some("mode=0751"),
            );
        }
        r.map_err(|e| {
            format!(
                "cannot mount {fstype} on {} (through {}; /proc must be mounted): {e}",
                mp.display(),
                target.display()
            )
        })?;
        fault::point("mount");
        // The new filesystem's root.
        d = parent.sub(name).map_err(stat_err)?;
        let st = d.stat().map_err(stat_err)?;
        if st.dev == parent_dev || d.fs_type().map_err(stat_err)? != magic || st.uid != 0 {
            return Err(format!(
                "{} is not the {fstype} just mounted (it was replaced meanwhile); nothing was written",
                mp.display()
            ));
        }
    }
    d.chown(0, keys_gid)
        .map_err(|e| format!("cannot chown {}: {e}", mp.display()))?;
    fault::point("chown mount point");
    Ok(d)
}

/// The directory holding `p`, if it exists (opened without creating anything).
fn existing_parent(p: &Path) -> Res<Option<(Dir, &str)>> {
    let (parent, name) = split(p)?;
    match Dir::open_io(parent, None, Follow::Trusted) {
        Ok(d) => Ok(Some((d, name))),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("{}: {e}", parent.display())),
    }
}

/// The current generation number: the basename of `symlink`'s target when the target
/// starts with `mount_point` (plain string prefix, as sops-nix), else 0.
pub fn current_generation(symlink: &Path, mount_point: &str) -> Res<u64> {
    let Some((dir, name)) = existing_parent(symlink)? else {
        return Ok(0);
    };
    match dir.read_link(name) {
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

/// Removes whatever is at `p` unless it is a symlink (activation step 10: a non-symlink at
/// `symlinkPath`), without following anything.
pub fn remove_unless_symlink(p: &Path) -> Res<()> {
    let Some((dir, name)) = existing_parent(p)? else {
        return Ok(());
    };
    match dir.lstat(name) {
        Ok(Some(st)) if st.kind != FileType::Symlink => dir
            .remove_tree(name)
            .map_err(|e| format!("cannot remove {}: {e}", p.display())),
        Ok(_) => Ok(()),
        Err(e) => Err(format!("cannot stat {}: {e}", p.display())),
    }
}

/// Points `link` at `target` atomically: a new symlink in a temporary directory next to it,
/// renamed over the old one.
pub fn switch_symlink(target: &Path, link: &Path) -> Res<()> {
    let (parent, base) = split(link)?;
    let dir = Dir::open(parent, Some(0o755), Follow::Trusted)
        .map_err(|e| format!("cannot create {e}"))?;
    // The temporary directory of a run killed between its mkdir and its removal.
    let tmp_prefix = format!(".{base}");
    remove_temp_dirs(&dir, &tmp_prefix, "tmp.symlink");
    match dir.symlink(target, base) {
        Ok(()) => {
            fault::point("symlink");
            return Ok(());
        }
        Err(e) if e.kind() == ErrorKind::AlreadyExists => {}
        Err(e) => return Err(format!("cannot create symlink {}: {e}", link.display())),
    }
    let (tmp_name, tmp) = dir.make_temp_dir(&tmp_prefix).map_err(|e| {
        format!(
            "cannot create a temporary directory in {}: {e}",
            parent.display()
        )
    })?;
    fault::point("temp dir for the symlink");
    tmp.symlink(target, "tmp.symlink").map_err(|e| {
        format!(
            "cannot create symlink {}: {e}",
            tmp.shown("tmp.symlink").display()
        )
    })?;
    fault::point("temp symlink");
    tmp.rename("tmp.symlink", &dir, base)
        .map_err(|e| format!("cannot rename a symlink onto {}: {e}", link.display()))?;
    fault::point("rename symlink (switch)");
    let _ = dir.rmdir(&tmp_name);
    fault::point("remove temp dir");
    Ok(())
}

/// Creates or fixes the custom-path symlink `path → target` (activation step 16). `owner` is
/// `None` in user mode (plain symlink, no lchown). The parent directory is opened (and
/// what is missing of it created, 0755) following only root's and our own symlinks: a
/// path through a symlink another user owns is refused, since that user could point it
/// anywhere (say at `/etc`) and have us replace a file there with the secret's symlink.
pub fn custom_symlink(path: &Path, target: &Path, owner: Option<(u32, u32)>) -> Res<()> {
    let (parent, name) = split(path)?;
    // sops-nix uses 0777 & ~umask; under umask 000 that is a world-writable parent
    // in which anyone could replace the symlink. 0755 whatever the umask.
    let dir = Dir::open(parent, Some(0o755), Follow::Trusted)
        .map_err(|e| format!("cannot create the directory of {}: {e}", path.display()))?;
    if owner.is_some() {
        // The temporary directory of a run killed before its removal.
        remove_temp_dirs(&dir, ".sealbox", "link");
    }
    for _ in 0..8 {
        match dir.lstat(name) {
            Ok(None) => {
                match owner {
                    None => {
                        match dir.symlink(target, name) {
                            Err(e) if e.kind() == ErrorKind::AlreadyExists => continue,
                            r => r.map_err(|e| {
                                format!("cannot create symlink {}: {e}", path.display())
                            })?,
                        }
                        fault::point("custom symlink");
                    }
                    Some((u, g)) => {
                        let (tmp_name, tmp) = dir.make_temp_dir(".sealbox").map_err(|e| {
                            format!(
                                "cannot create a temporary directory in {}: {e}",
                                parent.display()
                            )
                        })?;
                        fault::point("temp dir for a custom symlink");
                        let lerr = |e| format!("cannot create symlink {}: {e}", path.display());
                        tmp.symlink(target, "link").map_err(lerr)?;
                        fault::point("custom temp symlink");
                        tmp.lchown("link", u, g).map_err(lerr)?;
                        fault::point("lchown custom symlink");
                        tmp.rename("link", &dir, name).map_err(lerr)?;
                        fault::point("rename custom symlink");
                        let _ = dir.rmdir(&tmp_name);
                        fault::point("remove temp dir");
                    }
                }
                continue;
            }
            Err(e) => return Err(format!("cannot stat {}: {e}", path.display())),
            Ok(Some(st)) => {
                let same_target = st.kind == FileType::Symlink
                    && dir.read_link(name).map(|t| t == target).unwrap_or(false);
                let same_owner = owner.is_none_or(|(u, g)| st.uid == u && st.gid == g);
                if same_target && same_owner {
                    return Ok(());
                }
                let r = if st.kind == FileType::Directory {
                    dir.rmdir(name)
                } else {
                    dir.unlink(name)
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

/// Removes generations `N ≤ current − keep` (never `current`) from the mount point `mp`:
/// activation step 17.
pub fn prune(mp: &Dir, current: u64, keep: u64) -> Res<Vec<u64>> {
    let mut removed = Vec::new();
    if keep == 0 {
        return Ok(removed);
    }
    let names = mp
        .names()
        .map_err(|e| format!("cannot read {}: {e}", mp.path().display()))?;
    for name in names {
        let Some((s, n)) = name
            .to_str()
            .and_then(|s| Some((s, s.parse::<u64>().ok()?)))
        else {
            continue;
        };
        if n != current && n.saturating_add(keep) <= current {
            mp.remove_tree(s)
                .map_err(|e| format!("cannot remove {}: {e}", mp.shown(s).display()))?;
            removed.push(n);
        }
    }
    removed.sort_unstable();
    Ok(removed)
}

/// Appends `units` (one per line) to `file`, creating it 0600; skipped when `units` is
/// empty or the directory does not exist. Anything but a regular file there is refused
/// (a FIFO would block the activation).
pub fn append_units(file: &Path, units: &[String]) -> Res<()> {
    use rustix::fs::OFlags;
    if units.is_empty() {
        return Ok(());
    }
    let Some((dir, name)) = existing_parent(file)? else {
        return Ok(());
    };
    let mut f = dir
        .open_file(
            name,
            OFlags::WRONLY | OFlags::APPEND | OFlags::CREATE | OFlags::NONBLOCK,
            0o600,
        )
        .map_err(|e| format!("cannot open {}: {e}", file.display()))?;
    fault::point("open unit list");
    if !f.metadata().is_ok_and(|m| m.is_file()) {
        return Err(format!("{} is not a regular file", file.display()));
    }
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
    use sealbox_os::replace::replace;
    use std::fs;
    use std::os::unix::fs::{symlink, MetadataExt};

    fn open(p: &Path) -> Dir {
        Dir::open(p, None, Follow::Trusted).unwrap()
    }

    #[test]
    fn file_gets_exact_mode_despite_umask_and_never_follows_symlinks() {
        let d = tempfile::tempdir().unwrap();
        let dir = open(d.path());
        let p = d.path().join("s");
        write_new_file(&dir, "s", b"v", 0o640, None).unwrap();
        assert_eq!(fs::metadata(&p).unwrap().mode() & 0o7777, 0o640);
        assert_eq!(fs::read(&p).unwrap(), b"v");
        // exists: no overwrite
        assert!(write_new_file(&dir, "s", b"w", 0o600, None).is_err());
        let victim = d.path().join("victim");
        fs::write(&victim, b"keep").unwrap();
        let l = d.path().join("l");
        symlink(&victim, &l).unwrap();
        assert!(write_new_file(&dir, "l", b"x", 0o600, None).is_err());
        replace(&dir, "l", b"new", 0o600, Owner::Creator).unwrap();
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
        replace(&open(p), "age-keys.txt", b"k", 0o600, Owner::Creator).unwrap();
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
        let mpd = open(&mp);
        assert_eq!(prune(&mpd, 5, 0).unwrap(), Vec::<u64>::new());
        assert_eq!(prune(&mpd, 5, 2).unwrap(), vec![1, 2, 3]);
        assert_eq!(prune(&mpd, 5, 1).unwrap(), vec![4]);
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
            prune(&open(d.path()), 101, 10).unwrap(),
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
