//! Reading the files a manifest names – sops files, template files, `ageKeyFile`,
//! `ageSshKeyPaths` – and the manifest itself (issue 13, item 5).
//!
//! A FIFO there would block `read` forever (and with it the activation, or a
//! `--check-mode=sopsfile` build); `/dev/zero` would fill memory; a huge file would too.
//! So every such file is first opened with `O_PATH|O_NOFOLLOW` (which never blocks and
//! has no effect on a device) and `fstat`ed: it must be a regular file no larger than its
//! limit. Only then is it opened for reading (`O_NONBLOCK|O_NOFOLLOW|O_NOCTTY`), checked
//! to be the same file, and read up to the limit (a file that grows past it meanwhile is
//! refused too). A symlink at the name is followed only when root or the user we run as
//! owns it (when we run as root; an unprivileged run, such as a check-mode build, follows
//! any, as it can only read what its user may read anyway); directories on the way are
//! resolved the same way ([`crate::safedir::Dir::open`]).
//!
//! Limits: [`MAX_SOPS_FILE`] and [`MAX_TEMPLATE_FILE`] 64 MiB, [`MAX_MANIFEST`] 64 MiB,
//! [`MAX_KEY_FILE`] 1 MiB. The error names the limit; callers name the file.

use crate::safedir::{euid, Dir, Follow, Stat};
use rustix::fs::{FileType, OFlags};
use std::io::{ErrorKind, Read};
use std::os::unix::ffi::OsStringExt;
use std::path::{Path, PathBuf};
use zeroize::Zeroizing;

/// Largest sops file read (64 MiB; sops files are text, far smaller in practice).
pub const MAX_SOPS_FILE: u64 = 64 << 20;
/// Largest template file read (64 MiB).
pub const MAX_TEMPLATE_FILE: u64 = 64 << 20;
/// Largest manifest read (64 MiB; 10,000 secrets are about 5 MB).
pub const MAX_MANIFEST: u64 = 64 << 20;
/// Largest key file read (`ageKeyFile`, an `ageSshKeyPaths` entry: 1 MiB; keys are a few
/// hundred bytes).
pub const MAX_KEY_FILE: u64 = 1 << 20;

/// Most symlinks followed at the name itself.
const MAX_HOPS: usize = 40;

/// `64 MiB`, `1 MiB`, or bytes.
pub fn human(n: u64) -> String {
    if n >= 1 << 20 && n.is_multiple_of(1 << 20) {
        format!("{} MiB", n >> 20)
    } else {
        format!("{n} bytes")
    }
}

fn kind_name(k: FileType) -> &'static str {
    match k {
        FileType::Fifo => "a FIFO (named pipe)",
        FileType::CharacterDevice => "a character device",
        FileType::BlockDevice => "a block device",
        FileType::Directory => "a directory",
        FileType::Socket => "a socket",
        FileType::Symlink => "a symlink",
        _ => "not a regular file",
    }
}

/// Which symlinks reads follow: trusted ones when we run as root, any otherwise.
pub fn read_policy() -> Follow {
    if euid() == 0 {
        Follow::Trusted
    } else {
        Follow::Any
    }
}

/// Reads the regular file at `path`, at most `limit` bytes (see the module header). The
/// error's kind is `NotFound` when the file (or a directory on the way) does not exist;
/// its message does not repeat the path.
pub fn read(path: &Path, limit: u64) -> std::io::Result<Zeroizing<Vec<u8>>> {
    read_hops(path, limit, 0)
}

/// [`read`] as UTF-8 text.
pub fn read_text(path: &Path, limit: u64) -> std::io::Result<Zeroizing<String>> {
    let b = read(path, limit)?;
    match std::str::from_utf8(&b) {
        Ok(s) => Ok(Zeroizing::new(s.to_string())),
        Err(_) => Err(std::io::Error::new(
            ErrorKind::InvalidData,
            "stream did not contain valid UTF-8",
        )),
    }
}

fn read_hops(path: &Path, limit: u64, hops: usize) -> std::io::Result<Zeroizing<Vec<u8>>> {
    let other = |m: String| std::io::Error::new(ErrorKind::InvalidInput, m);
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
        return Err(other("it does not name a file".into()));
    };
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let follow = read_policy();
    let dir = Dir::open_io(&parent, None, follow).map_err(|e| {
        // the message of open_io names the directory; keep NotFound for the callers
        std::io::Error::new(e.kind(), e.to_string())
    })?;
    // 1. look without opening: O_PATH never blocks and does nothing to a device
    let probe = dir.open_file(name, OFlags::PATH, 0)?;
    let st = Stat::from(rustix::fs::fstat(&probe).map_err(errno)?);
    if st.kind == FileType::Symlink {
        if follow == Follow::Trusted && st.uid != 0 && st.uid != euid() {
            return Err(std::io::Error::new(
                ErrorKind::PermissionDenied,
                format!(
                    "it is a symlink owned by uid {}: refusing to follow it (own it by root, or name the file itself)",
                    st.uid
                ),
            ));
        }
        if hops >= MAX_HOPS {
            return Err(other("too many levels of symbolic links".into()));
        }
        let t = rustix::fs::readlinkat(&probe, "", Vec::new()).map_err(errno)?;
        let t = PathBuf::from(std::ffi::OsString::from_vec(t.into_bytes()));
        return read_hops(&parent.join(t), limit, hops + 1);
    }
    read_looked_at(&dir, name, st, limit)
}

/// Reads the regular file `name` of the open directory `dir`, at most `limit` bytes, never
/// following a symlink there (a symlink is an error: `InvalidInput`, "it is a symlink").
/// For a tree someone else wrote (a pull request's checkout), where a symlink must not
/// lead a read elsewhere: the caller reaches `dir` without following symlinks either
/// ([`Dir::sub`]). Returns the bytes and the file's `fstat` (the file actually read).
pub fn read_in(dir: &Dir, name: &str, limit: u64) -> std::io::Result<(Zeroizing<Vec<u8>>, Stat)> {
    let probe = dir.open_file(name, OFlags::PATH, 0)?;
    let st = Stat::from(rustix::fs::fstat(&probe).map_err(errno)?);
    let b = read_looked_at(dir, name, st, limit)?;
    Ok((b, st))
}

/// Steps 2 and 3 of the module header for `name` in `dir`, which was looked at (`st`,
/// from `O_PATH|O_NOFOLLOW`) and must be a regular file within `limit`.
fn read_looked_at(
    dir: &Dir,
    name: &str,
    st: Stat,
    limit: u64,
) -> std::io::Result<Zeroizing<Vec<u8>>> {
    let other = |m: String| std::io::Error::new(ErrorKind::InvalidInput, m);
    if st.kind != FileType::RegularFile {
        return Err(other(format!(
            "it is {}, not a regular file; name a regular file",
            kind_name(st.kind)
        )));
    }
    let too_big = |n: u64| {
        std::io::Error::new(
            ErrorKind::InvalidData,
            format!(
                "it is {n} bytes, more than the limit of {} for this file",
                human(limit)
            ),
        )
    };
    if st.size > limit {
        return Err(too_big(st.size));
    }
    // 2. open it for reading; it must still be the file looked at
    let f = dir.open_file(name, OFlags::RDONLY | OFlags::NONBLOCK | OFlags::NOCTTY, 0)?;
    let now = Stat::from(rustix::fs::fstat(&f).map_err(errno)?);
    if now.kind != FileType::RegularFile || (now.dev, now.ino) != (st.dev, st.ino) {
        return Err(other(
            "it was replaced while it was being opened; try again".into(),
        ));
    }
    // 3. read at most limit + 1 bytes
    let mut buf = Zeroizing::new(Vec::with_capacity(now.size.min(limit) as usize));
    f.take(limit + 1).read_to_end(&mut buf)?;
    if buf.len() as u64 > limit {
        return Err(too_big(buf.len() as u64));
    }
    Ok(buf)
}

fn errno(e: rustix::io::Errno) -> std::io::Error {
    std::io::Error::from_raw_os_error(e.raw_os_error())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regular_files_are_read_and_everything_else_is_refused_without_blocking() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("f");
        std::fs::write(&p, "hello").unwrap();
        assert_eq!(&read(&p, 5).unwrap()[..], b"hello");
        assert!(read(&p, 4).unwrap_err().to_string().contains("more than"));
        std::os::unix::fs::symlink("f", d.path().join("l")).unwrap();
        assert_eq!(&read(&d.path().join("l"), 5).unwrap()[..], b"hello");
        let fifo = d.path().join("fifo");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
        assert!(read(&fifo, 5).unwrap_err().to_string().contains("FIFO"));
        assert!(read(Path::new("/dev/zero"), 5)
            .unwrap_err()
            .to_string()
            .contains("character device"));
        assert!(read(d.path(), 5)
            .unwrap_err()
            .to_string()
            .contains("directory"));
        assert_eq!(
            read(&d.path().join("missing"), 5).unwrap_err().kind(),
            ErrorKind::NotFound
        );
        assert_eq!(
            read(&d.path().join("missing/x"), 5).unwrap_err().kind(),
            ErrorKind::NotFound
        );
        assert_eq!(human(MAX_SOPS_FILE), "64 MiB");
    }

    #[test]
    fn read_in_a_directory_never_follows_a_symlink_and_never_blocks() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("f"), "hello").unwrap();
        std::os::unix::fs::symlink("f", d.path().join("l")).unwrap();
        let fifo = d.path().join("fifo");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
        let dir = Dir::open_io(d.path(), None, Follow::Any).unwrap();
        let (b, st) = read_in(&dir, "f", 5).unwrap();
        assert_eq!((&b[..], st.size, st.nlink), (&b"hello"[..], 5, 1));
        let e = read_in(&dir, "l", 5).unwrap_err().to_string();
        assert!(e.contains("symlink"), "{e}");
        assert!(read_in(&dir, "fifo", 5)
            .unwrap_err()
            .to_string()
            .contains("FIFO"));
        assert!(read_in(&dir, "f", 4)
            .unwrap_err()
            .to_string()
            .contains("more than"));
        assert_eq!(
            read_in(&dir, "missing", 5).unwrap_err().kind(),
            ErrorKind::NotFound
        );
    }
}
