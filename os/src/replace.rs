//! Atomic replace: the one way both binaries write a file that readers may be looking at
//! (the CLI's outputs, `age-keys.txt`, the credential store's files and ledgers); and
//! [`create_new`], the same steps for a new file in a directory nobody reads yet (a
//! generation being written).
//!
//! A temporary file is created next to the target (`O_EXCL|O_NOFOLLOW`, at most 0600
//! until its owner is set), `fchown`ed, `fchmod`ed to exactly its mode (the umask cannot
//! widen or narrow it), written, synced, renamed over the target and the directory synced:
//! a reader sees the old file or the new one, never a part, and an error at any step
//! leaves the old file as it was. Everything goes through the open directory, so a symlink
//! at the target is replaced, never followed. One crash checkpoint follows each step.
//!
//! The temporary file's name, `.<target>.sealbox-<pid>-<16 hex>.tmp`
//! ([`crate::leftovers::temp_name`]), carries our PID: the temporary files of runs killed
//! before their rename are removed by the next replace of the same target
//! ([`crate::leftovers::remove_stale_temps`]).

use crate::fault;
use crate::leftovers::{remove_stale_temps, temp_name};
use crate::safedir::Dir;
use std::fs::File;
use std::io::{ErrorKind, Write};
use std::os::unix::fs::{fchown, PermissionsExt};
use std::path::PathBuf;

/// Who owns the new file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Owner {
    /// Whoever creates it (us).
    Creator,
    /// Exactly this uid and gid; failing to set them fails the replace.
    Exact(u32, u32),
    /// This uid and gid if we may give the file away (root may; a user keeps it
    /// otherwise): the old file's owner, kept where possible.
    Keep(u32, u32),
}

/// The step of a replace that failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// Creating the temporary file (or, for [`create_new`], the file).
    CreateTemp,
    /// Setting its owner ([`Owner::Exact`]).
    Chown,
    /// Setting its mode.
    Chmod,
    /// Writing the content.
    Write,
    /// Syncing the content to disk.
    Sync,
    /// Renaming it over the target.
    Rename,
}

/// A failed replace: the step, the file it acted on (the temporary file, or the target
/// for [`Step::Rename`]) and the system's error. Its `Display` is sealbox-install's line,
/// e.g. `cannot write /run/credstore/.db.sealbox-12-….tmp: No space left on device`; the
/// CLI words its own from the parts.
#[derive(Debug)]
pub struct Error {
    /// What failed.
    pub step: Step,
    /// The file it failed on.
    pub path: PathBuf,
    /// Why.
    pub source: std::io::Error,
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (what, p) = (self.path.display(), &self.source);
        match self.step {
            Step::CreateTemp => write!(f, "cannot create {what}: {p}"),
            Step::Chown => write!(f, "cannot chown {what}: {p}"),
            Step::Chmod => write!(f, "cannot chmod {what}: {p}"),
            Step::Write | Step::Sync => write!(f, "cannot write {what}: {p}"),
            Step::Rename => write!(f, "cannot rename onto {what}: {p}"),
        }
    }
}

impl std::error::Error for Error {}

/// Replaces `base` in `dir` atomically with a new file holding `bytes`, with exactly
/// `mode` and `owner` (see the module header).
pub fn replace(dir: &Dir, base: &str, bytes: &[u8], mode: u32, owner: Owner) -> Result<(), Error> {
    remove_stale_temps(dir, Some(base));
    let tmp = temp_name(base, std::process::id(), crate::random_u64());
    let f = create(dir, &tmp, mode)?;
    fault::point("create temp file");
    let result = fill(f, dir, &tmp, New { bytes, mode, owner }).and_then(|()| {
        dir.rename(&tmp, dir, base)
            .map_err(failed(Step::Rename, dir, base))?;
        fault::point("rename file");
        // Makes the rename durable; an error here changes nothing that was done.
        let _ = dir.sync();
        fault::point("fsync dir");
        Ok(())
    });
    if result.is_err() {
        let _ = dir.unlink(&tmp);
    }
    result
}

/// Writes the new file `name` in `dir` (it must not exist: `O_EXCL`), with exactly `mode`
/// and `owner` before its first byte; on an error the partial file stays (the caller's
/// directory is not in use yet, see sealbox-install's generations).
pub fn create_new(
    dir: &Dir,
    name: &str,
    bytes: &[u8],
    mode: u32,
    owner: Owner,
) -> Result<(), Error> {
    let f = create(dir, name, mode)?;
    fault::point("create file");
    fill(f, dir, name, New { bytes, mode, owner })
}

/// The `map_err` of a step on `name` in `dir`.
fn failed(step: Step, dir: &Dir, name: &str) -> impl FnOnce(std::io::Error) -> Error {
    let path = dir.shown(name);
    move |source| Error { step, path, source }
}

/// Creates `name` (`O_EXCL|O_NOFOLLOW`), never more open than 0600 (nor than `mode`)
/// before its owner is right.
fn create(dir: &Dir, name: &str, mode: u32) -> Result<File, Error> {
    dir.create_file(name, mode & 0o600)
        .map_err(failed(Step::CreateTemp, dir, name))
}

/// What a new file gets: its content, exact mode and owner.
struct New<'a> {
    bytes: &'a [u8],
    mode: u32,
    owner: Owner,
}

/// Owner, then the exact mode, then the content, synced.
fn fill(mut f: File, dir: &Dir, name: &str, new: New<'_>) -> Result<(), Error> {
    let New { bytes, mode, owner } = new;
    match owner {
        Owner::Creator => {}
        Owner::Exact(u, g) => {
            if u == u32::MAX || g == u32::MAX {
                return Err(failed(Step::Chown, dir, name)(std::io::Error::new(
                    ErrorKind::InvalidInput,
                    "uid/gid 4294967295 (-1) means \"unchanged\"",
                )));
            }
            fchown(&f, Some(u), Some(g)).map_err(failed(Step::Chown, dir, name))?;
            fault::point("fchown");
        }
        Owner::Keep(u, g) => {
            // Only root can give a file away: EPERM otherwise, and the file stays ours.
            let _ = fchown(&f, Some(u), Some(g));
            fault::point("fchown");
        }
    }
    f.set_permissions(std::fs::Permissions::from_mode(mode))
        .map_err(failed(Step::Chmod, dir, name))?;
    fault::point("fchmod");
    f.write_all(bytes).map_err(failed(Step::Write, dir, name))?;
    fault::point("write");
    f.sync_all().map_err(failed(Step::Sync, dir, name))?;
    fault::point("fsync");
    Ok(())
}
