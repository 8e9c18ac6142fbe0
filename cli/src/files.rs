//! Reading inputs and writing outputs safely: the CLI's side of `sealbox-os`.
//!
//! Outputs replace their target atomically ([`sealbox_os::replace`]): a temporary file in
//! the same directory, created with its final mode (and owner) before any byte is written,
//! synced, then renamed over the target. An error at any step leaves the old file as it
//! was. What is the CLI's own here: which file a symlinked output means, which mode and
//! owner an output gets (plaintext is never group- or other-readable), and the wording of
//! errors (their kinds give sops' exit codes).
//!
//! Crash leftovers: a SIGKILL (which no program can intercept) can leave a temporary file
//! next to the target or a private directory holding plaintext under `$TMPDIR`. Both names
//! carry the creating process's PID, and the next sealbox run by the same user removes
//! those whose process is gone: [`write_atomic`] the temporary files of its target,
//! [`sweep_private_dirs`] (at the start of `edit` and `exec-file`) the private directories,
//! wiping their files first ([`sealbox_os::leftovers`]). Nothing found there is followed,
//! and a sweep never fails the command.

use sealbox_formats::{Error, ErrorKind, Result};
use sealbox_os::replace::{self, Owner, Step};
use sealbox_os::safedir::{Dir, Kind};
use std::fs::{self, File};
use std::io::{Read, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

pub use sealbox_os::leftovers::sweep_private_dirs;

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
            .map_err(|e| Error::new(ErrorKind::ReadInput, format!("reading stdin: {e}")))?;
        return Ok(buf);
    }
    let mut f = File::open(path).map_err(|e| {
        let kind = if e.kind() == std::io::ErrorKind::NotFound {
            ErrorKind::NoFile
        } else {
            ErrorKind::ReadInput
        };
        Error::new(kind, format!("{}: cannot read: {e}", path.display()))
    })?;
    f.read_to_end(&mut buf).map_err(|e| {
        Error::new(
            ErrorKind::ReadInput,
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
    let werr = |what: &str, e: std::io::Error| {
        Error::new(
            ErrorKind::WriteOutput,
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
        Ok(Some(st)) if st.kind == Kind::RegularFile => Some(st),
        _ => None,
    };
    let plaintext = new_mode == PLAINTEXT_MODE;
    let (mode, owner) = match &existing {
        Some(m) if plaintext => {
            let old = m.mode & 0o7777;
            if old & !0o700 != 0 {
                tracing::warn!(
                    "{}: written with mode {:04o} instead of {old:04o}: plaintext is never group- or other-readable",
                    path.display(),
                    old & 0o700
                );
            }
            (old & 0o700, Owner::Creator)
        }
        // Keep the owner (only root can give a file away; a user keeps the file).
        Some(m) => (m.mode, Owner::Keep(m.uid, m.gid)),
        None if plaintext => (new_mode, Owner::Creator),
        None => (new_mode & !current_umask(), Owner::Creator),
    };
    replace::replace(&dir, &base, data, mode, owner).map_err(|e| {
        let what = match e.step {
            Step::CreateTemp => "create a temporary file next to it",
            Step::Chown => "set the owner",
            Step::Chmod => "set the mode",
            Step::Write => "write",
            Step::Sync => "sync",
            Step::Rename => "replace",
        };
        werr(what, e.source)
    })
}

/// Writes to stdout.
pub fn write_stdout(data: &[u8]) -> Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(data).and_then(|_| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(Error::new(
            ErrorKind::WriteOutput,
            format!("writing to stdout: {e}"),
        )),
    }
}

/// A private 0700 directory under `$TMPDIR`, removed (with its contents, wiped) on drop
/// ([`sealbox_os::private::PrivateDir`]).
pub struct PrivateDir(sealbox_os::private::PrivateDir);

impl PrivateDir {
    /// A new private directory under `$TMPDIR`.
    pub fn new() -> Result<Self> {
        let base = std::env::temp_dir();
        sealbox_os::private::PrivateDir::new_in(&base)
            .map(PrivateDir)
            .map_err(|e| {
                Error::new(
                    ErrorKind::WriteOutput,
                    format!(
                        "cannot create a private directory in {}: {e}",
                        base.display()
                    ),
                )
            })
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        self.0.path()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sealbox_os::leftovers::temp_name;
    use sealbox_testkit::{dead_pid, dir_names as names};
    use std::os::unix::fs::PermissionsExt;

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
        assert_eq!(crate::exit::of(&e), 3);
    }
}
