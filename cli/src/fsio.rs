//! Reading inputs and writing outputs safely.
//!
//! Outputs replace their target atomically: a temporary file in the same directory,
//! created with its final mode (and owner) before any byte is written, synced, then
//! renamed over the target. An error at any step leaves the old file as it was.
//!
//! Crash leftovers: a SIGKILL (which no program can intercept) can leave a temporary file
//! next to the target or a private directory holding plaintext under `$TMPDIR`. Both names
//! carry the creating process's PID, and the next sealbox run by the same user removes
//! those whose process is gone: [`write_atomic`] the temporary files of its target,
//! [`sweep_private_dirs`] (at the start of `edit` and `exec-file`) the private directories,
//! wiping their files first. Nothing found there is followed, and a sweep never fails the
//! command.

use sealbox_formats::{Code, Error, Result};
use std::ffi::{OsStr, OsString};
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// A crash-test checkpoint after a filesystem step: sealbox-install's, which is an empty
/// inline function unless the test-only feature `fault-injection` is on (this crate's
/// feature of that name turns it on; `tests/crash.rs`).
pub(crate) use sealbox_os::fault::point as fault_point;

/// Mode of new plaintext files.
pub const PLAINTEXT_MODE: u32 = 0o600;
/// Mode of new encrypted files before the umask (what sops' `os.Create` gives).
pub const ENCRYPTED_MODE: u32 = 0o666;

/// Reads a file, or stdin for `-`.
pub fn read_input(path: &Path) -> Result<Vec<u8>> {
    let mut buf = Vec::new();
    if path == Path::new("-") {
        std::io::stdin()
            .read_to_end(&mut buf)
            .map_err(|e| Error::new(Code::CouldNotReadInputFile, format!("reading stdin: {e}")))?;
        return Ok(buf);
    }
    let mut f = File::open(path).map_err(|e| {
        let code = if e.kind() == std::io::ErrorKind::NotFound {
            Code::NoFileSpecified
        } else {
            Code::CouldNotReadInputFile
        };
        Error::new(code, format!("{}: cannot read: {e}", path.display()))
    })?;
    f.read_to_end(&mut buf).map_err(|e| {
        Error::new(
            Code::CouldNotReadInputFile,
            format!("{}: cannot read: {e}", path.display()),
        )
    })?;
    Ok(buf)
}

fn current_umask() -> u32 {
    // Read from /proc to avoid changing the process umask (which is racy).
    fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Umask:"))
                .and_then(|v| u32::from_str_radix(v.trim(), 8).ok())
        })
        .unwrap_or(0o022)
}

/// Replaces `path` with `data` atomically.
///
/// Ciphertext ([`ENCRYPTED_MODE`]): an existing file keeps its mode and owner, a new one
/// gets 0666 minus the umask, as any created file. Plaintext ([`PLAINTEXT_MODE`]): never
/// group- or other-readable, whatever was there: a new file is 0600, an existing one keeps
/// only its owner bits (0644 becomes 0600, 0400 stays) and becomes the writer's (root
/// decrypting onto another user's file must not hand that user the plaintext).
///
/// A symlink at `path` is followed on purpose: the file it points to is replaced, as
/// sops (and an editor saving in place) does, so a secrets file kept as a symlink into a
/// repository stays one. sealbox acts with its user's rights, so a symlink of that user's
/// (or root's) sends the write nowhere the user could not write anyway. Run as root, a
/// symlink owned by another user is refused, and the target's directory is resolved
/// following only root's symlinks (another user could otherwise choose where root
/// writes). The temporary file is then created, renamed and synced through one open
/// directory, never by looking the directory's path up again.
pub fn write_atomic(path: &Path, data: &[u8], new_mode: u32) -> Result<()> {
    use sealbox_os::safedir::Dir;
    let werr = |what: &str, e: std::io::Error| {
        Error::new(
            Code::CouldNotWriteOutputFile,
            format!("{}: cannot {what}: {e}", path.display()),
        )
    };
    let as_root = nix::unistd::geteuid().is_root();
    // Write through a symlink to its target, as truncating in place would.
    let target: PathBuf = match fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => {
            if as_root && m.uid() != 0 {
                return Err(werr(
                    "follow the symlink",
                    std::io::Error::other(format!(
                        "it is owned by uid {}, and sealbox run as root follows only root's symlinks; write to the file itself",
                        m.uid()
                    )),
                ));
            }
            fs::canonicalize(path).map_err(|e| werr("resolve the symlink", e))?
        }
        _ => path.to_path_buf(),
    };
    let dir_path = match target.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let base = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".into());
    let dir = Dir::open_io(&dir_path, None, sealbox_os::inputs::read_policy())
        .map_err(|e| werr("open its directory", e))?;
    let existing = match dir.lstat(&base) {
        Ok(Some(st)) if st.kind == sealbox_os::safedir::Kind::RegularFile => Some(st),
        _ => None,
    };
    let plaintext = new_mode == PLAINTEXT_MODE;
    let mode = match &existing {
        Some(m) if plaintext => {
            let old = m.mode & 0o7777;
            if old & !0o700 != 0 {
                tracing::warn!(
                    "{}: written with mode {:04o} instead of {old:04o}: plaintext is never group- or other-readable",
                    path.display(),
                    old & 0o700
                );
            }
            old & 0o700
        }
        Some(m) => m.mode,
        None if plaintext => new_mode,
        None => new_mode & !current_umask(),
    };
    remove_stale_temps(&dir_path, &base);
    let tmp = temp_name(&base, std::process::id(), rand::random::<u64>());
    let result = (|| {
        let mut f = dir
            .create_file(&tmp, 0o600)
            .map_err(|e| werr("create a temporary file next to it", e))?;
        fault_point("create temp file");
        if let Some(m) = existing.as_ref().filter(|_| !plaintext) {
            // Keep the owner; only root can give a file away, so ignore EPERM otherwise.
            let _ = std::os::unix::fs::fchown(&f, Some(m.uid), Some(m.gid));
            fault_point("fchown");
        }
        f.set_permissions(fs::Permissions::from_mode(mode))
            .map_err(|e| werr("set the mode", e))?;
        fault_point("fchmod");
        f.write_all(data).map_err(|e| werr("write", e))?;
        fault_point("write");
        f.sync_all().map_err(|e| werr("sync", e))?;
        fault_point("fsync");
        dir.rename(&tmp, &dir, &base)
            .map_err(|e| werr("replace", e))?;
        fault_point("rename");
        let _ = dir.sync();
        fault_point("fsync dir");
        Ok(())
    })();
    if result.is_err() {
        let _ = dir.unlink(&tmp);
    }
    result
}

/// Writes to stdout.
pub fn write_stdout(data: &[u8]) -> Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(data).and_then(|_| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(Error::new(
            Code::CouldNotWriteOutputFile,
            format!("writing to stdout: {e}"),
        )),
    }
}

/// A private 0700 directory removed (with its contents) on drop.
pub struct PrivateDir(PathBuf);

impl PrivateDir {
    /// A new private directory under `$TMPDIR`.
    pub fn new() -> Result<Self> {
        let base = std::env::temp_dir();
        let p = base.join(format!(
            "{PRIVATE_PREFIX}{}-{:016x}",
            std::process::id(),
            rand::random::<u64>()
        ));
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&p)
            .map_err(|e| {
                Error::new(
                    Code::CouldNotWriteOutputFile,
                    format!(
                        "cannot create a private directory in {}: {e}",
                        base.display()
                    ),
                )
            })?;
        fault_point("mkdir private dir");
        Ok(PrivateDir(p))
    }
}

impl PrivateDir {
    /// The directory.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for PrivateDir {
    fn drop(&mut self) {
        if let Ok(entries) = std::fs::read_dir(&self.0) {
            for e in entries.flatten() {
                let p = e.path();
                // Overwrite regular files before removing them.
                if let Ok(m) = std::fs::symlink_metadata(&p) {
                    if m.is_file() {
                        if let Ok(mut f) = std::fs::OpenOptions::new().write(true).open(&p) {
                            let _ = f.write_all(&vec![0u8; m.len() as usize]);
                            let _ = f.sync_all();
                            fault_point("overwrite private file");
                        }
                    }
                }
                let _ = std::fs::remove_file(&p);
                fault_point("remove private file");
            }
        }
        let _ = std::fs::remove_dir(&self.0);
        fault_point("remove private dir");
    }
}

// ---- leftovers of killed runs

/// Name prefix of the private directories under `$TMPDIR`:
/// `.sealbox-private-<pid>-<16 hex digits>`.
pub const PRIVATE_PREFIX: &str = ".sealbox-private-";

/// The temporary file `write_atomic` writes for `base`: `.<base>.sealbox-<pid>-<16 hex>.tmp`.
fn temp_name(base: &str, pid: u32, random: u64) -> String {
    format!(".{base}.sealbox-{pid}-{random:016x}.tmp")
}

/// The PID in `<pid>-<16 hex digits>` (the variable part of our leftover names).
fn pid_of(tail: &str) -> Option<i32> {
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

/// Whether process `pid` is gone (`kill(pid, 0)` fails with ESRCH). Our own PID, a live
/// process of another user (EPERM) and a zombie count as alive.
fn pid_is_dead(pid: i32) -> bool {
    pid as u32 != std::process::id()
        && nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None)
            == Err(nix::errno::Errno::ESRCH)
}

/// An open directory whose entries are reached relative to it (`*at` calls, or
/// `/proc/self/fd/N/name` for `open`), never by looking its path up again.
struct OpenDir(File);

impl OpenDir {
    fn open(p: &Path, nofollow: bool) -> std::io::Result<OpenDir> {
        let mut flags = nix::libc::O_DIRECTORY | nix::libc::O_CLOEXEC;
        if nofollow {
            flags |= nix::libc::O_NOFOLLOW;
        }
        OpenOptions::new()
            .read(true)
            .custom_flags(flags)
            .open(p)
            .map(OpenDir)
    }

    fn fd_path(&self) -> PathBuf {
        PathBuf::from(format!("/proc/self/fd/{}", self.0.as_raw_fd()))
    }

    /// The subdirectory `name`, not following a symlink there.
    fn sub(&self, name: &OsStr) -> std::io::Result<OpenDir> {
        OpenDir::open(&self.fd_path().join(name), true)
    }

    fn names(&self) -> Vec<OsString> {
        match fs::read_dir(self.fd_path()) {
            Ok(rd) => rd.flatten().map(|e| e.file_name()).collect(),
            Err(e) => {
                tracing::debug!("crash leftovers: cannot list a directory: {e}");
                Vec::new()
            }
        }
    }

    /// `lstat` of an entry: (file type bits, uid).
    fn lstat(&self, name: &OsStr) -> Option<(u32, u32)> {
        let st = nix::sys::stat::fstatat(
            Some(self.0.as_raw_fd()),
            name,
            nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
        )
        .ok()?;
        Some((st.st_mode & nix::libc::S_IFMT, st.st_uid))
    }

    fn unlink(&self, name: &OsStr, dir: bool) -> nix::Result<()> {
        use nix::unistd::UnlinkatFlags;
        let flag = if dir {
            UnlinkatFlags::RemoveDir
        } else {
            UnlinkatFlags::NoRemoveDir
        };
        nix::unistd::unlinkat(Some(self.0.as_raw_fd()), name, flag)
    }

    /// Overwrites the regular file `name` with zeros (as [`PrivateDir`]'s drop does) and
    /// removes it. A file that cannot be opened for writing is still removed.
    fn wipe_and_remove(&self, name: &OsStr) -> nix::Result<()> {
        let f = OpenOptions::new()
            .write(true)
            .custom_flags(nix::libc::O_NOFOLLOW | nix::libc::O_NONBLOCK | nix::libc::O_CLOEXEC)
            .open(self.fd_path().join(name));
        if let Ok(mut f) = f {
            if let Ok(m) = f.metadata() {
                if m.is_file() {
                    let zeros = [0u8; 8192];
                    let mut left = m.len();
                    while left > 0 {
                        let n = left.min(zeros.len() as u64) as usize;
                        if f.write_all(&zeros[..n]).is_err() {
                            break;
                        }
                        left -= n as u64;
                    }
                    let _ = f.sync_all();
                }
            }
        }
        self.unlink(name, false)
    }
}

/// Removes the temporary files of earlier runs for the target `base` in `dir` whose process
/// is gone: regular files owned by us named `.<base>.sealbox-<pid>-<16 hex>.tmp` (wiped
/// first: `decrypt -i` writes plaintext through them). Errors are logged at debug level.
fn remove_stale_temps(dir: &Path, base: &str) {
    let prefix = format!(".{base}.sealbox-");
    let d = match OpenDir::open(dir, false) {
        Ok(d) => d,
        Err(e) => {
            tracing::debug!("crash leftovers: cannot open {}: {e}", dir.display());
            return;
        }
    };
    let me = nix::unistd::geteuid().as_raw();
    for name in d.names() {
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix(&prefix))
            .and_then(|r| r.strip_suffix(".tmp"))
            .and_then(pid_of)
        else {
            continue;
        };
        if !pid_is_dead(pid) {
            continue;
        }
        let shown = dir.join(&name);
        match d.lstat(&name) {
            Some((kind, uid)) if kind == nix::libc::S_IFREG && uid == me => {}
            _ => {
                tracing::debug!(
                    "crash leftovers: {} is not a regular file of ours; left alone",
                    shown.display()
                );
                continue;
            }
        }
        match d.wipe_and_remove(&name) {
            Ok(()) => tracing::debug!(
                "crash leftovers: removed {} (process {pid} is gone)",
                shown.display()
            ),
            Err(e) => tracing::debug!("crash leftovers: cannot remove {}: {e}", shown.display()),
        }
    }
}

/// Removes the private directories under `$TMPDIR` that killed sealbox runs of this user
/// left (named [`PRIVATE_PREFIX`]`<pid>-<16 hex>` with the process gone, a 0700 directory
/// owned by us, not a symlink): regular files are overwritten with zeros, then everything
/// is removed. Called at the start of the commands that make a private directory; never
/// fails (errors are logged at debug level).
pub fn sweep_private_dirs() {
    sweep_private_dirs_in(&std::env::temp_dir());
}

fn sweep_private_dirs_in(base: &Path) {
    let t = match OpenDir::open(base, false) {
        Ok(t) => t,
        Err(e) => {
            tracing::debug!("crash leftovers: cannot open {}: {e}", base.display());
            return;
        }
    };
    let me = nix::unistd::geteuid().as_raw();
    for name in t.names() {
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix(PRIVATE_PREFIX))
            .and_then(pid_of)
        else {
            continue;
        };
        if !pid_is_dead(pid) {
            continue;
        }
        let shown = base.join(&name);
        // Open it without following a symlink, then check what was opened.
        let d = match t.sub(&name) {
            Ok(d) => d,
            Err(e) => {
                tracing::debug!("crash leftovers: {} left alone: {e}", shown.display());
                continue;
            }
        };
        match d.0.metadata() {
            Ok(m) if m.is_dir() && m.uid() == me && m.mode() & 0o7777 == 0o700 => {}
            _ => {
                tracing::debug!(
                    "crash leftovers: {} is not a private 0700 directory of ours; left alone",
                    shown.display()
                );
                continue;
            }
        }
        for inner in d.names() {
            let r = match d.lstat(&inner) {
                Some((kind, _)) if kind == nix::libc::S_IFREG => d.wipe_and_remove(&inner),
                Some((kind, _)) if kind == nix::libc::S_IFDIR => continue,
                Some(_) => d.unlink(&inner, false),
                None => continue,
            };
            if let Err(e) = r {
                tracing::debug!(
                    "crash leftovers: cannot remove {}: {e}",
                    shown.join(&inner).display()
                );
            }
        }
        match t.unlink(&name, true) {
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

    #[test]
    fn atomic_write_keeps_mode_and_replaces() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("f.yaml");
        fs::write(&p, b"old").unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(0o640)).unwrap();
        write_atomic(&p, b"new", ENCRYPTED_MODE).unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"new");
        assert_eq!(
            fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o640
        );
        let q = d.path().join("plain");
        write_atomic(&q, b"x", PLAINTEXT_MODE).unwrap();
        assert_eq!(
            fs::metadata(&q).unwrap().permissions().mode() & 0o777,
            0o600
        );
        // No temporary file is left behind.
        assert_eq!(fs::read_dir(d.path()).unwrap().count(), 2);
    }

    /// A PID that is gone: a child that ran and was reaped.
    fn dead_pid() -> u32 {
        let mut c = std::process::Command::new("true").spawn().unwrap();
        let pid = c.id();
        c.wait().unwrap();
        pid
    }

    fn names(d: &Path) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        v.sort();
        v
    }

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
    fn write_atomic_removes_only_stale_temps_of_its_own_target() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("s.yaml");
        fs::write(&p, b"old").unwrap();
        let dead = dead_pid();
        let mut live = std::process::Command::new("sleep")
            .arg("60")
            .spawn()
            .unwrap();
        let stale = temp_name("s.yaml", dead, 1);
        fs::write(d.path().join(&stale), b"half").unwrap();
        // kept: a live writer's, another target's, a symlink, a directory, other names
        let kept = [
            temp_name("s.yaml", live.id(), 2),
            temp_name("other.yaml", dead, 3),
            ".s.yaml.sealbox-0123456789abcdef.tmp".to_string(),
            ".s.yaml.sealbox-1-2.tmp".to_string(),
        ];
        for k in &kept {
            fs::write(d.path().join(k), b"keep").unwrap();
        }
        let victim = d.path().join("victim");
        fs::write(&victim, b"keep").unwrap();
        let link = temp_name("s.yaml", dead, 4);
        std::os::unix::fs::symlink(&victim, d.path().join(&link)).unwrap();
        let dir = temp_name("s.yaml", dead, 5);
        fs::create_dir(d.path().join(&dir)).unwrap();
        write_atomic(&p, b"new", ENCRYPTED_MODE).unwrap();
        let _ = live.kill();
        let _ = live.wait();
        assert_eq!(fs::read(&p).unwrap(), b"new");
        let mut want: Vec<String> = kept.to_vec();
        want.extend([link, dir, "s.yaml".into(), "victim".into()]);
        want.sort();
        assert_eq!(names(d.path()), want);
        assert_eq!(fs::read(&victim).unwrap(), b"keep");
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

    /// SECURITY.md's promise: plaintext is never group- or other-readable, also when it
    /// replaces an existing, more open file (`decrypt -i`, `--output`).
    #[test]
    fn plaintext_never_keeps_a_more_open_mode() {
        let d = tempfile::tempdir().unwrap();
        for (old, want) in [
            (0o644, 0o600),
            (0o666, 0o600),
            (0o755, 0o700),
            (0o400, 0o400),
        ] {
            let p = d.path().join(format!("f{old:o}"));
            fs::write(&p, b"old").unwrap();
            fs::set_permissions(&p, fs::Permissions::from_mode(old)).unwrap();
            write_atomic(&p, b"plain", PLAINTEXT_MODE).unwrap();
            let m = fs::metadata(&p).unwrap().permissions().mode() & 0o7777;
            assert_eq!(m, want, "{old:o}");
        }
        // Ciphertext keeps the target's mode.
        let p = d.path().join("enc");
        fs::write(&p, b"old").unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(0o644)).unwrap();
        write_atomic(&p, b"enc", ENCRYPTED_MODE).unwrap();
        assert_eq!(
            fs::metadata(&p).unwrap().permissions().mode() & 0o7777,
            0o644
        );
    }

    #[test]
    fn a_symlinked_target_is_written_through_unless_root_would_follow_another_users_link() {
        let d = tempfile::tempdir().unwrap();
        let real = d.path().join("real.yaml");
        fs::write(&real, b"old").unwrap();
        let link = d.path().join("link.yaml");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        write_atomic(&link, b"new", ENCRYPTED_MODE).unwrap();
        assert!(fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
        assert_eq!(fs::read(&real).unwrap(), b"new");
        if !nix::unistd::geteuid().is_root() {
            eprintln!("SKIPPED (part): a symlink owned by another user needs root to make");
            return;
        }
        std::os::unix::fs::lchown(&link, Some(1234), Some(1234)).unwrap();
        let e = write_atomic(&link, b"evil", ENCRYPTED_MODE).unwrap_err();
        assert!(e.to_string().contains("owned by uid 1234"), "{e}");
        assert_eq!(fs::read(&real).unwrap(), b"new");
        // and no temporary file was left
        assert_eq!(names(d.path()), ["link.yaml", "real.yaml"]);
    }

    #[test]
    fn failed_write_leaves_the_old_file() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("missing-dir").join("f");
        let e = write_atomic(&p, b"x", PLAINTEXT_MODE).unwrap_err();
        assert_eq!(e.exit_code(), 3);
    }
}
