//! Reading inputs and writing outputs safely.
//!
//! Outputs replace their target atomically: a temporary file in the same directory,
//! created with its final mode (and owner) before any byte is written, synced, then
//! renamed over the target. An error at any step leaves the old file as it was.

use sealbox_formats::{Code, Error, Result};
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// A crash-test checkpoint after a filesystem step. Only with the test-only cargo feature
/// `fault-injection` (a compile error in release builds): with `SEALBOX_FAULT_AFTER=N` set,
/// prints `sealbox-fault: <n> <label>` to stderr and SIGKILLs the process at the N-th
/// (`tests/crash.rs`). Otherwise an empty inline function.
#[cfg(not(feature = "fault-injection"))]
#[inline(always)]
pub(crate) fn fault_point(_label: &str) {}

#[cfg(all(feature = "fault-injection", not(debug_assertions)))]
compile_error!("the fault-injection feature is for test builds only, never for release builds");

/// See the other `fault_point`.
#[cfg(feature = "fault-injection")]
pub(crate) fn fault_point(label: &str) {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::OnceLock;
    static AFTER: OnceLock<Option<u64>> = OnceLock::new();
    static COUNT: AtomicU64 = AtomicU64::new(0);
    let Some(after) = *AFTER.get_or_init(|| {
        std::env::var("SEALBOX_FAULT_AFTER")
            .ok()
            .and_then(|v| v.parse().ok())
    }) else {
        return;
    };
    let n = COUNT.fetch_add(1, Ordering::SeqCst) + 1;
    eprintln!("sealbox-fault: {n} {label}");
    if n == after {
        let _ = nix::sys::signal::raise(nix::sys::signal::Signal::SIGKILL);
        std::process::abort();
    }
}

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

/// Replaces `path` with `data` atomically. An existing file keeps its mode and owner; a
/// new one gets `new_mode` (for [`ENCRYPTED_MODE`] the umask applies, as for any created
/// file; [`PLAINTEXT_MODE`] is used as is).
pub fn write_atomic(path: &Path, data: &[u8], new_mode: u32) -> Result<()> {
    let werr = |what: &str, e: std::io::Error| {
        Error::new(
            Code::CouldNotWriteOutputFile,
            format!("{}: cannot {what}: {e}", path.display()),
        )
    };
    // Write through a symlink to its target, as truncating in place would.
    let target: PathBuf = match fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => {
            fs::canonicalize(path).map_err(|e| werr("resolve the symlink", e))?
        }
        _ => path.to_path_buf(),
    };
    let existing = fs::metadata(&target).ok();
    let mode = match &existing {
        Some(m) => m.permissions().mode() & 0o7777,
        None if new_mode == PLAINTEXT_MODE => new_mode,
        None => new_mode & !current_umask(),
    };
    let dir = match target.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let base = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".into());
    let tmp = dir.join(format!(
        ".{base}.sealbox-{:016x}.tmp",
        rand::random::<u64>()
    ));
    let result = (|| {
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(nix::fcntl::OFlag::O_NOFOLLOW.bits())
            .open(&tmp)
            .map_err(|e| werr("create a temporary file next to it", e))?;
        fault_point("create temp file");
        if let Some(m) = &existing {
            // Keep the owner; only root can give a file away, so ignore EPERM otherwise.
            let _ = std::os::unix::fs::fchown(&f, Some(m.uid()), Some(m.gid()));
            fault_point("fchown");
        }
        f.set_permissions(fs::Permissions::from_mode(mode))
            .map_err(|e| werr("set the mode", e))?;
        fault_point("fchmod");
        f.write_all(data).map_err(|e| werr("write", e))?;
        fault_point("write");
        f.sync_all().map_err(|e| werr("sync", e))?;
        fault_point("fsync");
        fs::rename(&tmp, &target).map_err(|e| werr("replace", e))?;
        fault_point("rename");
        if let Ok(d) = File::open(&dir) {
            let _ = d.sync_all();
        }
        fault_point("fsync dir");
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
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
        let p = base.join(format!(".sealbox{:016x}", rand::random::<u64>()));
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

    #[test]
    fn failed_write_leaves_the_old_file() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("missing-dir").join("f");
        let e = write_atomic(&p, b"x", PLAINTEXT_MODE).unwrap_err();
        assert_eq!(e.exit_code(), 3);
    }
}
