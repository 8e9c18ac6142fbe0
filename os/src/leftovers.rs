//! Crash leftovers: what a process SIGKILLed half-way through a change leaves behind, and
//! how the next run recognises and removes it.
//!
//! A SIGKILL (which no program can intercept) can leave a temporary file of an atomic
//! replace next to its target, a temporary directory of a symlink switch, or a private
//! directory holding plaintext under `$TMPDIR`. Each such name carries the creating
//! process's PID (or a random part only this code makes), so a later run removes exactly
//! those whose process is gone, and only when they are ours: owned by the user we run as,
//! a regular file (wiped first: it may hold plaintext) or a directory holding at most the
//! one entry we put there. Nothing found is followed (every entry is reached relative to an
//! open directory, `O_NOFOLLOW`), and a sweep never fails its caller: a leftover is
//! harmless, so errors are only logged at debug level.

use crate::safedir::{euid, Dir, Follow, Kind, Stat};
use rustix::fs::{AtFlags, Mode, OFlags};
use std::ffi::OsStr;
use std::io::Write;
use std::path::Path;

/// Whether process `pid` is gone (`kill(pid, 0)` fails with ESRCH): what it left is a
/// leftover. Our own PID, a live process of another user (EPERM), a zombie and any live
/// process (another activation, say a `--watch` one, writing the same directory) count as
/// alive.
pub fn pid_is_dead(pid: i32) -> bool {
    pid > 0
        && pid as u32 != std::process::id()
        && nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None)
            == Err(nix::errno::Errno::ESRCH)
}

/// The temporary file an atomic replace (`replace.rs`) writes for `base`:
/// `.<base>.sealbox-<pid>-<16 hex digits>.tmp`.
pub fn temp_name(base: &str, pid: u32, random: u64) -> String {
    format!(".{base}.sealbox-{pid}-{random:016x}.tmp")
}

/// The PID in `<pid>-<16 hex digits>` (the variable part of our leftover names).
pub fn pid_of(tail: &str) -> Option<i32> {
    let (pid, random) = tail.split_once('-')?;
    if pid.is_empty()
        || !pid.bytes().all(|b| b.is_ascii_digit())
        || random.len() != 16
        || !random.bytes().all(|b| b.is_ascii_hexdigit())
    {
        return None;
    }
    pid.parse::<i32>().ok().filter(|p| *p > 0)
}

/// The PID of a temporary file name of earlier sealbox-install versions,
/// `.<base>.tmp<pid>.<i>`, given the part after `.tmp`.
fn legacy_pid(rest: &str) -> Option<i32> {
    let (pid, i) = rest.split_once('.')?;
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(pid) || !digits(i) {
        return None;
    }
    pid.parse().ok()
}

/// The target and PID of a temporary file name of an atomic replace (either spelling),
/// or `None` when `name` is not one.
fn temp_file(name: &str) -> Option<(&str, i32)> {
    let name = name.strip_prefix('.')?;
    if let Some((base, tail)) = name
        .strip_suffix(".tmp")
        .and_then(|n| n.rsplit_once(".sealbox-"))
    {
        if let Some(pid) = pid_of(tail) {
            return Some((base, pid));
        }
    }
    let (base, rest) = name.rsplit_once(".tmp")?;
    Some((base, legacy_pid(rest)?))
}

/// Removes the temporary files that atomic replaces killed before their rename left in
/// `dir`: those of the target `base`, or (`None`) of any target – for directories only
/// sealbox writes (the credential store), where a name may be gone from the manifest by
/// the next run. Only regular files owned by us whose process is gone are removed, wiped
/// first.
pub fn remove_stale_temps(dir: &Dir, base: Option<&str>) {
    remove_leftovers(
        dir,
        |n| {
            temp_file(n).is_some_and(|(b, pid)| {
                !b.is_empty() && base.is_none_or(|base| b == base) && pid_is_dead(pid)
            })
        },
        None,
    );
}

/// Whether `name` is `prefix` followed by exactly six ASCII letters or digits (the
/// temporary directory names [`Dir::make_temp_dir`] makes).
pub fn is_temp_dir_name(name: &str, prefix: &str) -> bool {
    name.strip_prefix(prefix)
        .is_some_and(|r| r.len() == 6 && r.bytes().all(|b| b.is_ascii_alphanumeric()))
}

/// Removes the temporary directories `<prefix><6 characters>` of `dir` (ours, holding at
/// most the symlink `inner`) that a run killed between their mkdir and their removal left.
pub fn remove_temp_dirs(dir: &Dir, prefix: &str, inner: &str) {
    remove_leftovers(dir, |n| is_temp_dir_name(n, prefix), Some(inner));
}

/// Removes what an earlier run killed half-way left in `dir`: for each entry whose name
/// `is_ours`, owned by this user, either a regular file (`inner` is `None`; wiped, then
/// removed) or a directory holding at most the symlink `inner`.
fn remove_leftovers(dir: &Dir, is_ours: impl Fn(&str) -> bool, inner: Option<&str>) {
    let names = match dir.names() {
        Ok(n) => n,
        Err(e) => {
            tracing::debug!("crash leftovers: cannot list {}: {e}", dir.path().display());
            return;
        }
    };
    let me = euid();
    for name in names {
        let Some(name) = name.to_str().filter(|n| is_ours(n)) else {
            continue;
        };
        let Ok(Some(st)) = dir.lstat(name) else {
            continue;
        };
        let shown = dir.shown(name);
        if st.uid != me {
            tracing::debug!(
                "crash leftovers: {} is not ours; left alone",
                shown.display()
            );
            continue;
        }
        let r = match inner {
            None if st.kind == Kind::RegularFile => wipe_and_remove(dir, name.as_ref()),
            Some(inner) if st.kind == Kind::Directory => {
                let Ok(sub) = dir.sub(name) else { continue };
                if let Ok(Some(st)) = sub.lstat(inner) {
                    if st.kind == Kind::Symlink {
                        let _ = sub.unlink(inner);
                    }
                }
                // Only an empty directory goes.
                dir.rmdir(name)
            }
            _ => continue,
        };
        match r {
            Ok(()) => tracing::debug!("crash leftovers: removed {}", shown.display()),
            Err(e) => tracing::debug!("crash leftovers: cannot remove {}: {e}", shown.display()),
        }
    }
}

/// Overwrites the regular file `name` of `dir` with zeros (it may hold plaintext) and
/// removes it. A file that cannot be opened for writing is still removed. (`name` is any
/// file name, also one that is not UTF-8: the editor's file is named like the file edited.)
fn wipe_and_remove(dir: &Dir, name: &OsStr) -> std::io::Result<()> {
    let flags = OFlags::WRONLY | OFlags::NONBLOCK | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    if let Ok(fd) = rustix::fs::openat(dir.fd(), name, flags, Mode::empty()) {
        let mut f = std::fs::File::from(fd);
        if let Ok(m) = f.metadata() {
            if m.is_file() {
                wipe(&mut f, m.len());
            }
        }
    }
    unlink(dir, name, false)
}

/// `lstat` of any name in `dir`.
fn lstat(dir: &Dir, name: &OsStr) -> Option<Stat> {
    rustix::fs::statat(dir.fd(), name, AtFlags::SYMLINK_NOFOLLOW)
        .ok()
        .map(Stat::from)
}

/// Removes any name in `dir` (an empty directory when `is_dir`).
fn unlink(dir: &Dir, name: &OsStr, is_dir: bool) -> std::io::Result<()> {
    let flags = if is_dir {
        AtFlags::REMOVEDIR
    } else {
        AtFlags::empty()
    };
    rustix::fs::unlinkat(dir.fd(), name, flags)
        .map_err(|e| std::io::Error::from_raw_os_error(e.raw_os_error()))
}

/// Overwrites the first `len` bytes of `f` with zeros and syncs it (errors end the wipe:
/// the file is removed next anyway).
pub fn wipe(f: &mut std::fs::File, len: u64) {
    let zeros = [0u8; 8192];
    let mut left = len;
    while left > 0 {
        let n = left.min(zeros.len() as u64) as usize;
        if f.write_all(&zeros[..n]).is_err() {
            break;
        }
        left -= n as u64;
    }
    let _ = f.sync_all();
}

/// Name prefix of the private directories under `$TMPDIR`:
/// `.sealbox-private-<pid>-<16 hex digits>`.
pub const PRIVATE_PREFIX: &str = ".sealbox-private-";

/// Removes the private directories under `$TMPDIR` that killed sealbox runs of this user
/// left (named [`PRIVATE_PREFIX`]`<pid>-<16 hex>` with the process gone, a 0700 directory
/// owned by us, not a symlink): regular files are overwritten with zeros, then everything
/// is removed. Called at the start of the commands that make a private directory; never
/// fails (errors are logged at debug level).
pub fn sweep_private_dirs() {
    sweep_private_dirs_in(&std::env::temp_dir());
}

/// [`sweep_private_dirs`] in `base` instead of `$TMPDIR`.
pub fn sweep_private_dirs_in(base: &Path) {
    let t = match Dir::open_io(base, None, Follow::Any) {
        Ok(t) => t,
        Err(e) => {
            tracing::debug!("crash leftovers: cannot open {}: {e}", base.display());
            return;
        }
    };
    let names = match t.names() {
        Ok(n) => n,
        Err(e) => {
            tracing::debug!("crash leftovers: cannot list {}: {e}", base.display());
            return;
        }
    };
    let me = euid();
    for name in names {
        let Some((name, pid)) = name.to_str().and_then(|n| {
            n.strip_prefix(PRIVATE_PREFIX)
                .and_then(pid_of)
                .map(|pid| (n, pid))
        }) else {
            continue;
        };
        if !pid_is_dead(pid) {
            continue;
        }
        let shown = t.shown(name);
        // Open it without following a symlink, then check what was opened.
        let d = match t.sub(name) {
            Ok(d) => d,
            Err(e) => {
                tracing::debug!("crash leftovers: {} left alone: {e}", shown.display());
                continue;
            }
        };
        match d.stat() {
            Ok(st) if st.kind == Kind::Directory && st.uid == me && st.mode == 0o700 => {}
            _ => {
                tracing::debug!(
                    "crash leftovers: {} is not a private 0700 directory of ours; left alone",
                    shown.display()
                );
                continue;
            }
        }
        for inner in d.names().unwrap_or_default() {
            let r = match lstat(&d, &inner) {
                Some(st) if st.kind == Kind::RegularFile => wipe_and_remove(&d, &inner),
                Some(st) if st.kind == Kind::Directory => continue,
                Some(_) => unlink(&d, &inner, false),
                None => continue,
            };
            if let Err(e) = r {
                tracing::debug!(
                    "crash leftovers: cannot remove {}: {e}",
                    shown.join(&inner).display()
                );
            }
        }
        match t.rmdir(name) {
            Ok(()) => tracing::debug!(
                "crash leftovers: removed the private directory {} (process {pid} is gone)",
                shown.display()
            ),
            Err(e) => tracing::debug!("crash leftovers: cannot remove {}: {e}", shown.display()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sealbox_testkit::{dead_pid, dir_names as names};
    use std::fs;
    use std::os::unix::fs::{symlink, PermissionsExt};

    #[test]
    fn leftover_names_carry_the_pid() {
        assert_eq!(
            temp_name("s.yaml", 42, 0xab),
            ".s.yaml.sealbox-42-00000000000000ab.tmp"
        );
        assert_eq!(pid_of("42-00000000000000ab"), Some(42));
        for bad in [
            "42",
            "-00000000000000ab",
            "x2-00000000000000ab",
            "42-00ab",
            "0-00000000000000ab",
        ] {
            assert_eq!(pid_of(bad), None, "{bad}");
        }
        assert!(!pid_is_dead(std::process::id() as i32));
        assert!(pid_is_dead(dead_pid() as i32));
    }

    #[test]
    fn private_dirs_of_gone_processes_are_wiped_and_removed() {
        let t = tempfile::tempdir().unwrap();
        let base = t.path().join("tmp");
        fs::create_dir(&base).unwrap();
        let outside = t.path().join("outside");
        fs::create_dir(&outside).unwrap();
        let dead = dead_pid();
        let mut live = std::process::Command::new("sleep")
            .arg("60")
            .spawn()
            .unwrap();
        let mk = |name: &str, mode: u32| {
            let p = base.join(name);
            fs::create_dir(&p).unwrap();
            fs::write(p.join("s.yaml"), b"plain secret").unwrap();
            fs::set_permissions(&p, fs::Permissions::from_mode(mode)).unwrap();
            p
        };
        let stale = mk(&format!("{PRIVATE_PREFIX}{dead}-00000000000000aa"), 0o700);
        // a hard link outside shows the file was overwritten before it was removed
        fs::hard_link(stale.join("s.yaml"), outside.join("witness")).unwrap();
        nix::unistd::mkfifo(
            &stale.join("fifo"),
            nix::sys::stat::Mode::from_bits_truncate(0o600),
        )
        .unwrap();
        std::os::unix::fs::symlink(outside.join("witness"), stale.join("link")).unwrap();
        let alive = format!("{PRIVATE_PREFIX}{}-00000000000000bb", live.id());
        mk(&alive, 0o700);
        let open = format!("{PRIVATE_PREFIX}{dead}-00000000000000cc");
        mk(&open, 0o755);
        let old_style = ".sealbox00000000000000dd".to_string();
        mk(&old_style, 0o700);
        // a symlink with our name pointing at a directory of ours is not followed
        let target = outside.join("dir");
        fs::create_dir(&target).unwrap();
        fs::write(target.join("keep"), b"keep").unwrap();
        fs::set_permissions(&target, fs::Permissions::from_mode(0o700)).unwrap();
        let link = format!("{PRIVATE_PREFIX}{dead}-00000000000000ee");
        std::os::unix::fs::symlink(&target, base.join(&link)).unwrap();
        sweep_private_dirs_in(&base);
        let _ = live.kill();
        let _ = live.wait();
        let mut want = vec![alive, open, old_style, link];
        want.sort();
        assert_eq!(names(&base), want);
        assert_eq!(fs::read(outside.join("witness")).unwrap(), [0u8; 12]);
        assert_eq!(fs::read(target.join("keep")).unwrap(), b"keep");
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
        remove_stale_temps(&Dir::open(p, None, Follow::Trusted).unwrap(), None);
        let mut left: Vec<String> = fs::read_dir(p)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        left.sort();
        kept.sort();
        assert_eq!(left, kept);
        assert_eq!(fs::read(&victim).unwrap(), b"keep");
    }
}
