//! Open directories: every create, chmod, chown, rename and unlink of the installer goes
//! through a directory descriptor (issue 13).
//!
//! Why: a path is looked up again by every call that takes one. Between `mkdir(p)` and
//! `chmod(p)` a user who can write an ancestor of `p` (a custom `path` under their home,
//! under a service's state directory) can rename the new directory away and put a
//! symlink in its place; root's chmod then lands on the symlink's target (say the host
//! key file). With a descriptor the object is looked up once: `mkdirat`, then `openat`
//! with `O_NOFOLLOW|O_DIRECTORY`, an `fstat` owner check (a directory we just made is
//! ours; anything else was swapped in), then `fchmod`/`fchown` on the descriptor. Names
//! inside an open directory are reached with the `*at` calls, never by a path.
//!
//! [`Dir::open`] resolves a path one component at a time from `/` (or the working
//! directory for a relative path), each with `O_NOFOLLOW`. A symlink on the way is
//! followed only when it belongs to root or to the user we run as (`/var/run → /run` is
//! root's); its target is read from the link itself (`O_PATH|O_NOFOLLOW`, then
//! `readlinkat(fd, "")`), so it cannot be swapped between the owner check and the read.
//! A symlink owned by anyone else is refused: that user could point it anywhere.
//! ([`Follow::Any`] follows every symlink, for a process acting only with its own user's
//! rights, such as the `sealbox` CLI run by a normal user.)
//!
//! What this does not cover (documented in SECURITY.md): a hard link to a root-owned
//! symlink placed by a user in their own directory, which `fs.protected_hardlinks=1`
//! (the default of systemd and NixOS) forbids.

/// File types of [`Stat::kind`].
pub use rustix::fs::FileType as Kind;
use rustix::fs::{AtFlags, FileType, Gid, Mode, OFlags, Uid};
use std::ffi::OsString;
use std::fs::File;
use std::io::ErrorKind;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStringExt;
use std::path::{Component, Path, PathBuf};

use crate::fault;

/// Which symlinks [`Dir::open`] follows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Follow {
    /// Only those owned by root or by the user we run as.
    Trusted,
    /// Every symlink (for a process that acts with no one's rights but its user's).
    Any,
}

/// Most symlinks followed while opening one path (Linux's own limit is 40).
const MAX_HOPS: usize = 40;

const DIR_FLAGS: OFlags = OFlags::RDONLY
    .union(OFlags::DIRECTORY)
    .union(OFlags::NOFOLLOW)
    .union(OFlags::CLOEXEC);

fn io(e: rustix::io::Errno) -> std::io::Error {
    std::io::Error::from_raw_os_error(e.raw_os_error())
}

/// The user we run as.
pub fn euid() -> u32 {
    nix::unistd::geteuid().as_raw()
}

/// A uid/gid pair for `fchown`; -1 would mean "leave unchanged", which is never meant.
fn ids(uid: u32, gid: u32) -> std::io::Result<(Uid, Gid)> {
    if uid == u32::MAX || gid == u32::MAX {
        return Err(std::io::Error::new(
            ErrorKind::InvalidInput,
            "uid/gid 4294967295 (-1) means \"unchanged\" to chown; refusing it",
        ));
    }
    Ok((Uid::from_raw(uid), Gid::from_raw(gid)))
}

/// An open directory and the path it was opened by (for messages only).
#[derive(Debug)]
pub struct Dir {
    fd: OwnedFd,
    path: PathBuf,
}

/// `lstat` of a name in a directory.
#[derive(Clone, Copy, Debug)]
pub struct Stat {
    /// File type.
    pub kind: FileType,
    /// Permission bits (`& 0o7777`).
    pub mode: u32,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
    /// Size in bytes.
    pub size: u64,
    /// Device.
    pub dev: u64,
    /// Inode.
    pub ino: u64,
    /// Number of hard links (a name whose file has others may be the same file as
    /// another name).
    pub nlink: u64,
}

impl From<rustix::fs::Stat> for Stat {
    // The field types of `struct stat` differ between architectures.
    #[allow(clippy::unnecessary_cast)]
    fn from(st: rustix::fs::Stat) -> Stat {
        Stat {
            kind: FileType::from_raw_mode(st.st_mode as _),
            mode: st.st_mode as u32 & 0o7777,
            uid: st.st_uid as u32,
            gid: st.st_gid as u32,
            size: st.st_size as u64,
            dev: st.st_dev as u64,
            ino: st.st_ino as u64,
            nlink: st.st_nlink as u64,
        }
    }
}

/// A random suffix of six ASCII letters and digits (temporary names).
pub fn random_suffix() -> String {
    const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut r = crate::random_u64();
    (0..6)
        .map(|_| {
            let c = ALNUM[(r % ALNUM.len() as u64) as usize] as char;
            r /= ALNUM.len() as u64;
            c
        })
        .collect()
}

/// One path component: a plain name, no `/`, not `.` or `..`.
fn check_component(name: &str) -> std::io::Result<()> {
    if name.is_empty() || name == "." || name == ".." || name.contains('/') {
        return Err(std::io::Error::new(
            ErrorKind::InvalidInput,
            format!("{name:?} is not a plain file name"),
        ));
    }
    Ok(())
}

impl Dir {
    /// The path this directory was opened by (for messages).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Another handle on the same directory.
    pub fn try_clone(&self) -> std::io::Result<Dir> {
        Ok(Dir {
            fd: self.fd.try_clone()?,
            path: self.path.clone(),
        })
    }

    /// The descriptor.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// `/proc/self/fd/N`: a path that resolves to exactly this directory (for calls that
    /// only take a path, such as `mount`).
    pub fn proc_path(&self) -> PathBuf {
        PathBuf::from(format!("/proc/self/fd/{}", self.fd.as_raw_fd()))
    }

    /// The path of `name` in this directory (for messages).
    pub fn shown(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    /// `fstat` of the directory itself.
    pub fn stat(&self) -> std::io::Result<Stat> {
        rustix::fs::fstat(&self.fd).map(Stat::from).map_err(io)
    }

    /// `fstatfs` type magic of the filesystem the directory is on.
    // (`f_type` is an i64 here, an i32 or u32 elsewhere)
    #[allow(clippy::unnecessary_cast)]
    pub fn fs_type(&self) -> std::io::Result<i64> {
        rustix::fs::fstatfs(&self.fd)
            .map(|s| s.f_type as i64)
            .map_err(io)
    }

    /// Opens the directory `p`: missing components are created with exactly `create`'s
    /// mode (owned by us) when it is given; symlinks on the way are followed as `follow`
    /// says (see the module header).
    pub fn open(p: &Path, create: Option<u32>, follow: Follow) -> Result<Dir, String> {
        Self::open_io(p, create, follow).map_err(|e| format!("{}: {e}", p.display()))
    }

    /// [`Dir::open`] with the error kind kept (`NotFound` for a missing component).
    pub fn open_io(p: &Path, create: Option<u32>, follow: Follow) -> std::io::Result<Dir> {
        let me = euid();
        let start = |abs: bool| -> std::io::Result<(OwnedFd, PathBuf)> {
            let (from, shown) = if abs {
                ("/", PathBuf::from("/"))
            } else {
                (".", PathBuf::new())
            };
            let fd =
                rustix::fs::openat(rustix::fs::CWD, from, DIR_FLAGS, Mode::empty()).map_err(io)?;
            Ok((fd, shown))
        };
        let mut todo: std::collections::VecDeque<OsString> = std::collections::VecDeque::new();
        let push_front = |todo: &mut std::collections::VecDeque<OsString>, p: &Path| {
            let mut v = Vec::new();
            for c in p.components() {
                match c {
                    Component::Normal(n) => v.push(n.to_os_string()),
                    Component::ParentDir => v.push(OsString::from("..")),
                    _ => {}
                }
            }
            for c in v.into_iter().rev() {
                todo.push_front(c);
            }
        };
        push_front(&mut todo, p);
        let (mut cur, mut shown) = start(p.is_absolute())?;
        let mut hops = 0;
        while let Some(c) = todo.pop_front() {
            if c == ".." {
                cur = rustix::fs::openat(&cur, "..", DIR_FLAGS, Mode::empty()).map_err(io)?;
                shown.pop();
                continue;
            }
            let here = shown.join(&c);
            match rustix::fs::openat(&cur, c.as_os_str(), DIR_FLAGS, Mode::empty()) {
                Ok(fd) => {
                    cur = fd;
                    shown = here;
                }
                Err(rustix::io::Errno::NOENT) if create.is_some() => {
                    let mode = create.unwrap_or_default();
                    match rustix::fs::mkdirat(&cur, c.as_os_str(), Mode::from_raw_mode(mode)) {
                        Ok(()) => fault::point("mkdir -p"),
                        // made meanwhile by someone else: look again
                        Err(rustix::io::Errno::EXIST) => {
                            todo.push_front(c);
                            hops += 1;
                            if hops > MAX_HOPS {
                                return Err(io(rustix::io::Errno::LOOP));
                            }
                            continue;
                        }
                        Err(e) => return Err(io(e)),
                    }
                    let fd = Self::opened_ours(&cur, &c, &here, me)?;
                    // The umask narrowed it: the mode must not depend on who ran us.
                    rustix::fs::fchmod(&fd, Mode::from_raw_mode(mode)).map_err(io)?;
                    fault::point("chmod dir");
                    cur = fd;
                    shown = here;
                }
                Err(rustix::io::Errno::LOOP | rustix::io::Errno::NOTDIR) => {
                    let link = rustix::fs::openat(
                        &cur,
                        c.as_os_str(),
                        OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                        Mode::empty(),
                    )
                    .map_err(io)?;
                    let st = Stat::from(rustix::fs::fstat(&link).map_err(io)?);
                    if st.kind != FileType::Symlink {
                        // (the kind of ENOTDIR, whose name needs a newer Rust)
                        return Err(std::io::Error::new(
                            io(rustix::io::Errno::NOTDIR).kind(),
                            format!("{} is not a directory", here.display()),
                        ));
                    }
                    if follow == Follow::Trusted && st.uid != 0 && st.uid != me {
                        return Err(std::io::Error::new(
                            ErrorKind::PermissionDenied,
                            format!(
                                "{} is a symlink owned by uid {}: refusing to follow it (make it a directory, or own it by root)",
                                here.display(),
                                st.uid
                            ),
                        ));
                    }
                    hops += 1;
                    if hops > MAX_HOPS {
                        return Err(io(rustix::io::Errno::LOOP));
                    }
                    let target = rustix::fs::readlinkat(&link, "", Vec::new()).map_err(io)?;
                    let target = PathBuf::from(OsString::from_vec(target.into_bytes()));
                    push_front(&mut todo, &target);
                    if target.is_absolute() {
                        (cur, shown) = start(true)?;
                    }
                }
                Err(e) => {
                    let e = io(e);
                    return Err(std::io::Error::new(
                        e.kind(),
                        format!("{}: {e}", here.display()),
                    ));
                }
            }
        }
        Ok(Dir {
            fd: cur,
            path: if p.is_absolute() {
                p.to_path_buf()
            } else {
                shown
            },
        })
    }

    /// Opens `name` in `at` right after we made it: it must be a directory (not a
    /// symlink: `O_NOFOLLOW`) owned by `me`, or someone swapped it.
    fn opened_ours(
        at: &OwnedFd,
        name: &OsString,
        shown: &Path,
        me: u32,
    ) -> std::io::Result<OwnedFd> {
        let swapped = |what: String| {
            std::io::Error::new(
                ErrorKind::PermissionDenied,
                format!(
                    "{} was replaced right after it was created ({what}): someone who can write its parent directory is interfering; nothing was changed through it",
                    shown.display()
                ),
            )
        };
        let fd = rustix::fs::openat(at, name.as_os_str(), DIR_FLAGS, Mode::empty())
            .map_err(|e| swapped(format!("{}", io(e))))?;
        let st = Stat::from(rustix::fs::fstat(&fd).map_err(io)?);
        if st.uid != me {
            return Err(swapped(format!("it is owned by uid {}", st.uid)));
        }
        Ok(fd)
    }

    /// The subdirectory `name`, never following a symlink there.
    pub fn sub(&self, name: &str) -> std::io::Result<Dir> {
        check_component(name)?;
        let fd = rustix::fs::openat(&self.fd, name, DIR_FLAGS, Mode::empty()).map_err(|e| {
            if e == rustix::io::Errno::LOOP || e == rustix::io::Errno::NOTDIR {
                let link = matches!(self.lstat(name), Ok(Some(st)) if st.kind == FileType::Symlink);
                std::io::Error::new(
                    ErrorKind::InvalidInput,
                    if link {
                        "it is a symlink (a symlink is never followed)"
                    } else {
                        "it is not a directory"
                    },
                )
            } else {
                io(e)
            }
        })?;
        Ok(Dir {
            fd,
            path: self.shown(name),
        })
    }

    /// Creates the subdirectory `name` with exactly `mode` (and `owner`), through its
    /// descriptor. When it exists already: `Err(AlreadyExists)` unless `existing` says
    /// what to do with it ([`Existing::Keep`]: open it as it is; [`Existing::Fix`]: it
    /// must be ours, and gets `mode` and `owner`).
    pub fn make_sub(
        &self,
        name: &str,
        mode: u32,
        owner: Option<(u32, u32)>,
        existing: Existing,
    ) -> std::io::Result<Dir> {
        check_component(name)?;
        let me = euid();
        let made = match rustix::fs::mkdirat(&self.fd, name, Mode::from_raw_mode(mode)) {
            Ok(()) => {
                fault::point("mkdir");
                true
            }
            Err(rustix::io::Errno::EXIST) if existing != Existing::Fail => false,
            Err(e) => return Err(io(e)),
        };
        let shown = self.shown(name);
        let fd = if made || existing == Existing::Fix {
            Self::opened_ours(&self.fd, &OsString::from(name), &shown, me)?
        } else {
            self.sub(name)?.fd
        };
        if made || existing == Existing::Fix {
            rustix::fs::fchmod(&fd, Mode::from_raw_mode(mode)).map_err(io)?;
            fault::point("chmod dir");
            if let Some((u, g)) = owner {
                let (u, g) = ids(u, g)?;
                rustix::fs::fchown(&fd, Some(u), Some(g)).map_err(io)?;
                fault::point("chown dir");
            }
        }
        Ok(Dir { fd, path: shown })
    }

    /// Creates a temporary directory `<prefix><6 random characters>` (0700, ours) and
    /// returns its name and handle.
    pub fn make_temp_dir(&self, prefix: &str) -> std::io::Result<(String, Dir)> {
        for _ in 0..100 {
            let name = format!("{prefix}{}", random_suffix());
            match self.make_sub(&name, 0o700, None, Existing::Fail) {
                Err(e) if e.kind() == ErrorKind::AlreadyExists => continue,
                r => return r.map(|d| (name, d)),
            }
        }
        Err(std::io::Error::new(
            ErrorKind::AlreadyExists,
            "no free temporary name",
        ))
    }

    /// `lstat` of `name`; `None` when there is nothing.
    pub fn lstat(&self, name: &str) -> std::io::Result<Option<Stat>> {
        check_component(name)?;
        match rustix::fs::statat(&self.fd, name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) => Ok(Some(st.into())),
            Err(rustix::io::Errno::NOENT) => Ok(None),
            Err(e) => Err(io(e)),
        }
    }

    /// Opens `name` with `flags` plus `O_NOFOLLOW|O_CLOEXEC` (and `mode` when creating).
    pub fn open_file(&self, name: &str, flags: OFlags, mode: u32) -> std::io::Result<File> {
        check_component(name)?;
        rustix::fs::openat(
            &self.fd,
            name,
            flags | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::from_raw_mode(mode),
        )
        .map(File::from)
        .map_err(io)
    }

    /// Creates the new file `name` (`O_EXCL|O_NOFOLLOW`) with `mode` (narrowed by the
    /// umask until the caller's `fchmod`), open for writing.
    pub fn create_file(&self, name: &str, mode: u32) -> std::io::Result<File> {
        self.open_file(name, OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL, mode)
    }

    /// Creates the symlink `name → target`.
    pub fn symlink(&self, target: &Path, name: &str) -> std::io::Result<()> {
        check_component(name)?;
        rustix::fs::symlinkat(target, &self.fd, name).map_err(io)
    }

    /// The target of the symlink `name`.
    pub fn read_link(&self, name: &str) -> std::io::Result<PathBuf> {
        check_component(name)?;
        let t = rustix::fs::readlinkat(&self.fd, name, Vec::new()).map_err(io)?;
        Ok(PathBuf::from(OsString::from_vec(t.into_bytes())))
    }

    /// `lchown` of the symlink (or anything) `name`, not following it.
    pub fn lchown(&self, name: &str, uid: u32, gid: u32) -> std::io::Result<()> {
        check_component(name)?;
        let (u, g) = ids(uid, gid)?;
        rustix::fs::chownat(&self.fd, name, Some(u), Some(g), AtFlags::SYMLINK_NOFOLLOW).map_err(io)
    }

    /// `fchown` of the directory itself.
    pub fn chown(&self, uid: u32, gid: u32) -> std::io::Result<()> {
        let (u, g) = ids(uid, gid)?;
        rustix::fs::fchown(&self.fd, Some(u), Some(g)).map_err(io)
    }

    /// `fsync` of the directory itself (makes a rename in it durable).
    pub fn sync(&self) -> std::io::Result<()> {
        rustix::fs::fsync(&self.fd).map_err(io)
    }

    /// `fchmod` of the directory itself.
    pub fn chmod(&self, mode: u32) -> std::io::Result<()> {
        rustix::fs::fchmod(&self.fd, Mode::from_raw_mode(mode)).map_err(io)
    }

    /// Renames `from` (in this directory) to `to` in `dest`, replacing what is there.
    pub fn rename(&self, from: &str, dest: &Dir, to: &str) -> std::io::Result<()> {
        check_component(from)?;
        check_component(to)?;
        rustix::fs::renameat(&self.fd, from, &dest.fd, to).map_err(io)
    }

    /// Removes the non-directory `name` (a symlink itself, never its target).
    pub fn unlink(&self, name: &str) -> std::io::Result<()> {
        check_component(name)?;
        rustix::fs::unlinkat(&self.fd, name, AtFlags::empty()).map_err(io)
    }

    /// Removes the empty directory `name`.
    pub fn rmdir(&self, name: &str) -> std::io::Result<()> {
        check_component(name)?;
        rustix::fs::unlinkat(&self.fd, name, AtFlags::REMOVEDIR).map_err(io)
    }

    /// Removes whatever is at `name` (a file, a symlink itself, or a directory tree),
    /// following no symlink: each directory is opened `O_NOFOLLOW` and emptied through
    /// its descriptor. Nothing there is fine.
    pub fn remove_tree(&self, name: &str) -> std::io::Result<()> {
        match self.lstat(name)? {
            None => return Ok(()),
            Some(st) if st.kind == FileType::Directory => {
                let sub = self.sub(name)?;
                for n in sub.names()? {
                    let Some(n) = n.to_str() else {
                        return Err(std::io::Error::new(
                            ErrorKind::InvalidData,
                            format!("{}: a name that is not UTF-8", sub.path.display()),
                        ));
                    };
                    sub.remove_tree(n)?;
                }
                self.rmdir(name)?;
            }
            Some(_) => self.unlink(name)?,
        }
        fault::point("remove");
        Ok(())
    }

    /// The names in this directory (without `.` and `..`).
    pub fn names(&self) -> std::io::Result<Vec<OsString>> {
        let mut d = rustix::fs::Dir::read_from(&self.fd).map_err(io)?;
        let mut out = Vec::new();
        while let Some(e) = d.read() {
            let e = e.map_err(io)?;
            let n = e.file_name().to_bytes();
            if n != b"." && n != b".." {
                out.push(OsString::from_vec(n.to_vec()));
            }
        }
        Ok(out)
    }
}

/// What [`Dir::make_sub`] does with a directory that exists already.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Existing {
    /// An error (`AlreadyExists`).
    Fail,
    /// Open it as it is (not following a symlink).
    Keep,
    /// It must be ours; it gets the mode and owner asked for.
    Fix,
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{symlink, MetadataExt};

    #[test]
    fn open_creates_missing_components_with_exact_modes_and_follows_only_trusted_links() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("a/b/c");
        let dir = Dir::open(&p, Some(0o751), Follow::Trusted).unwrap();
        assert_eq!(dir.path(), p);
        for q in ["a", "a/b", "a/b/c"] {
            let md = std::fs::metadata(d.path().join(q)).unwrap();
            assert_eq!(md.mode() & 0o7777, 0o751, "{q}");
        }
        // our own symlink (relative, with ..) is followed
        symlink("a/b/../b", d.path().join("l")).unwrap();
        let via = Dir::open(&d.path().join("l/c"), None, Follow::Trusted).unwrap();
        assert_eq!(via.stat().unwrap().ino, dir.stat().unwrap().ino);
        // a missing one without create: NotFound
        let e = Dir::open_io(&d.path().join("nope/x"), None, Follow::Trusted).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::NotFound);
        // a file on the way
        std::fs::write(d.path().join("f"), "").unwrap();
        assert!(
            Dir::open(&d.path().join("f/x"), Some(0o755), Follow::Trusted)
                .unwrap_err()
                .contains("is not a directory")
        );
        // a symlink loop
        symlink("loop", d.path().join("loop")).unwrap();
        assert!(Dir::open(&d.path().join("loop"), None, Follow::Any).is_err());
    }

    #[test]
    fn make_sub_remove_tree_and_names_never_follow_symlinks() {
        let d = tempfile::tempdir().unwrap();
        let root = Dir::open(d.path(), None, Follow::Trusted).unwrap();
        let outside = d.path().join("outside");
        std::fs::create_dir(&outside).unwrap();
        std::fs::write(outside.join("keep"), "keep").unwrap();
        symlink(&outside, d.path().join("link")).unwrap();
        assert!(root.sub("link").is_err());
        assert!(root.make_sub("link", 0o700, None, Existing::Keep).is_err());
        let t = root.make_sub("t", 0o751, None, Existing::Fail).unwrap();
        assert_eq!(t.stat().unwrap().mode, 0o751);
        assert_eq!(
            root.make_sub("t", 0o700, None, Existing::Fail)
                .unwrap_err()
                .kind(),
            ErrorKind::AlreadyExists
        );
        assert_eq!(
            root.make_sub("t", 0o700, None, Existing::Fix)
                .unwrap()
                .stat()
                .unwrap()
                .mode,
            0o700
        );
        symlink(&outside, d.path().join("t/inner")).unwrap();
        t.make_sub("sub", 0o755, None, Existing::Fail).unwrap();
        std::fs::write(d.path().join("t/sub/f"), "x").unwrap();
        let mut names: Vec<_> = t.names().unwrap();
        names.sort();
        assert_eq!(names, ["inner", "sub"]);
        root.remove_tree("t").unwrap();
        root.remove_tree("link").unwrap();
        root.remove_tree("missing").unwrap();
        assert!(!d.path().join("t").exists() && !d.path().join("link").exists());
        assert_eq!(std::fs::read(outside.join("keep")).unwrap(), b"keep");
        for bad in ["", ".", "..", "a/b"] {
            assert!(root.lstat(bad).is_err(), "{bad:?}");
        }
        let (name, tmp) = root.make_temp_dir(".x").unwrap();
        assert!(name.starts_with(".x") && name.len() == 8, "{name}");
        assert_eq!(tmp.stat().unwrap().mode, 0o700);
        assert_ne!(random_suffix(), random_suffix());
    }
}
