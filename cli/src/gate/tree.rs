//! A checkout someone else wrote (a pull request's), walked, read and rewritten through
//! directory descriptors without ever following a symlink.
//!
//! The author of a pull request chooses every name in it: `public/readme.yaml ->
//! ../secrets/app.yaml`, a link to `/proc/self/pagemap` or out of the checkout, a FIFO, a
//! 2 GB sparse file. So below the root every directory is opened `O_NOFOLLOW` from its
//! parent's descriptor ([`Dir::sub`]), a symlink is reported with its target and never
//! followed, anything that is not a regular file or a directory is reported and never
//! opened, and files are read with `sealbox-os`'s bounded, non-blocking reader through the
//! descriptor of their directory ([`sealbox_os::inputs::read_in`]). A rewrite (`updatekeys`)
//! goes through the same descriptor ([`sealbox_os::replace`]) and only onto the regular
//! file that was planned (same device and inode), so it never lands anywhere else.
//!
//! The root itself is the caller's path (the runner's checkout), taken as given.

use sealbox_os::replace::{self, Owner};
use sealbox_os::safedir::{Dir, Follow, Kind, Stat};
use std::io::{Error, ErrorKind};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use zeroize::Zeroizing;

/// Directories nested deeper than this below the root are reported, not walked.
pub const MAX_DEPTH: usize = 256;

/// What a name of the checkout is (a directory is walked, not listed).
#[derive(Clone, Debug)]
pub enum Node {
    /// A regular file (its `lstat`).
    File(Stat),
    /// A symlink, and its target as written (lossy UTF-8).
    Symlink(String),
    /// Anything else: a FIFO, a socket, a device (what it is).
    Other(&'static str),
}

/// One name below the root: its path relative to the root (`/`-separated) and what it is.
#[derive(Clone, Debug)]
pub struct Entry {
    /// The path relative to the root.
    pub rel: String,
    /// What is there.
    pub node: Node,
}

/// What a walk found.
#[derive(Debug, Default)]
pub struct Walk {
    /// Files, symlinks and special files, sorted by path.
    pub entries: Vec<Entry>,
    /// Directories not walked because the caller skips them: path and why.
    pub skipped: Vec<(String, String)>,
    /// Names that could not be walked: path (lossy) and why (a name that is not UTF-8, a
    /// directory that cannot be opened, nesting deeper than [`MAX_DEPTH`]).
    pub problems: Vec<(String, String)>,
}

/// A checkout's root, open.
pub struct Checkout {
    root: Dir,
    path: PathBuf,
}

/// What the kind of a non-regular, non-directory name is called in messages.
fn kind_name(k: Kind) -> &'static str {
    match k {
        Kind::Fifo => "a FIFO (named pipe)",
        Kind::CharacterDevice => "a character device",
        Kind::BlockDevice => "a block device",
        Kind::Socket => "a socket",
        _ => "not a regular file",
    }
}

/// `a/b` from `a` and `b` (the root's own names have no prefix).
fn join(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        name.to_string()
    } else {
        format!("{dir}/{name}")
    }
}

impl Checkout {
    /// Opens the root `path` (symlinks in the path itself are the caller's and followed).
    pub fn open(path: &Path) -> std::io::Result<Checkout> {
        let root = Dir::open_io(path, None, Follow::Any)?;
        Ok(Checkout {
            root,
            path: path.to_path_buf(),
        })
    }

    /// The root's path, as given.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The directory holding `rel` (every directory on the way opened `O_NOFOLLOW`; a
    /// symlink there is an error naming it) and the last component.
    fn parent_of<'r>(&self, rel: &'r str) -> std::io::Result<(Dir, &'r str)> {
        let (dirs, name) = match rel.rsplit_once('/') {
            Some((d, n)) => (Some(d), n),
            None => (None, rel),
        };
        let mut dir = self.root.try_clone()?;
        let mut so_far = String::new();
        for c in dirs.into_iter().flat_map(|d| d.split('/')) {
            so_far = join(&so_far, c);
            dir = dir
                .sub(c)
                .map_err(|e| Error::new(e.kind(), format!("{so_far}: {e}")))?;
        }
        Ok((dir, name))
    }

    /// The `lstat` of `rel` (`None`: nothing there), reached without following symlinks.
    pub fn lstat(&self, rel: &str) -> std::io::Result<Option<Stat>> {
        let (dir, name) = self.parent_of(rel)?;
        dir.lstat(name)
    }

    /// Reads the regular file `rel`, at most `limit` bytes, with its `fstat`; a symlink,
    /// FIFO, device or larger file is an error ([`sealbox_os::inputs::read_in`]).
    pub fn read(&self, rel: &str, limit: u64) -> std::io::Result<(Zeroizing<Vec<u8>>, Stat)> {
        let (dir, name) = self.parent_of(rel)?;
        sealbox_os::inputs::read_in(&dir, name, limit)
    }

    /// Replaces the regular file `rel` atomically with `bytes`, keeping its mode and (where
    /// we may) its owner. It must still be the file `planned` describes (same device and
    /// inode, still a regular file): anything else there is refused, never written through.
    pub fn replace(&self, rel: &str, bytes: &[u8], planned: &Stat) -> std::io::Result<()> {
        let (dir, name) = self.parent_of(rel)?;
        match dir.lstat(name)? {
            Some(st)
                if st.kind == Kind::RegularFile && (st.dev, st.ino) == (planned.dev, planned.ino) =>
            {
                replace::replace(&dir, name, bytes, st.mode, Owner::Keep(st.uid, st.gid))
                    .map_err(|e| Error::new(e.source.kind(), e.to_string()))
            }
            _ => Err(Error::new(
                ErrorKind::InvalidInput,
                "it changed since it was read (it is no longer the same regular file); nothing was written",
            )),
        }
    }

    /// Walks the tree at `start` (relative to the root; empty: the root itself). A
    /// directory `skip` names a reason for is recorded in [`Walk::skipped`], not entered.
    /// `start` is reached like any other name: a symlink on the way, or at `start`, is an
    /// entry, never followed. An error only when `start` does not exist (or cannot be
    /// looked at).
    pub fn walk(
        &self,
        start: &str,
        skip: &dyn Fn(&str) -> Option<String>,
    ) -> std::io::Result<Walk> {
        let mut w = Walk::default();
        let mut dir = self.root.try_clone()?;
        let mut so_far = String::new();
        let comps: Vec<&str> = start.split('/').filter(|c| !c.is_empty()).collect();
        for (i, c) in comps.iter().enumerate() {
            so_far = join(&so_far, c);
            let st = dir.lstat(c)?.ok_or_else(|| {
                Error::new(
                    ErrorKind::NotFound,
                    format!("{so_far}: no such file or directory"),
                )
            })?;
            let last = i + 1 == comps.len();
            if st.kind == Kind::Directory {
                dir = dir.sub(c)?;
                continue;
            }
            if !last && st.kind != Kind::Symlink {
                return Err(Error::new(
                    ErrorKind::NotFound,
                    format!("{so_far}: not a directory"),
                ));
            }
            w.entries.push(Entry {
                node: node_of(&dir, c, st),
                rel: so_far,
            });
            return Ok(w);
        }
        if let Some(why) = skip(&so_far).filter(|_| !so_far.is_empty()) {
            w.skipped.push((so_far, why));
            return Ok(w);
        }
        walk_dir(&dir, &so_far, 0, skip, &mut w);
        w.entries.sort_by(|a, b| a.rel.cmp(&b.rel));
        Ok(w)
    }
}

/// What the name `name` of `dir` is, given its `lstat`.
fn node_of(dir: &Dir, name: &str, st: Stat) -> Node {
    match st.kind {
        Kind::RegularFile => Node::File(st),
        Kind::Symlink => Node::Symlink(
            dir.read_link(name)
                .map(|t| String::from_utf8_lossy(t.as_os_str().as_bytes()).into_owned())
                .unwrap_or_else(|e| format!("(unreadable: {e})")),
        ),
        k => Node::Other(kind_name(k)),
    }
}

fn walk_dir(
    dir: &Dir,
    rel: &str,
    depth: usize,
    skip: &dyn Fn(&str) -> Option<String>,
    w: &mut Walk,
) {
    let shown = |rel: &str| {
        if rel.is_empty() {
            ".".to_string()
        } else {
            rel.to_string()
        }
    };
    let mut names = match dir.names() {
        Ok(n) => n,
        Err(e) => {
            w.problems
                .push((shown(rel), format!("cannot list the directory: {e}")));
            return;
        }
    };
    names.sort();
    for n in names {
        let Some(name) = n.to_str() else {
            w.problems.push((
                join(rel, &String::from_utf8_lossy(n.as_bytes())),
                "the name is not UTF-8: no creation rule can be matched against it".into(),
            ));
            continue;
        };
        let path = join(rel, name);
        let st = match dir.lstat(name) {
            Ok(Some(st)) => st,
            Ok(None) => continue, // removed meanwhile
            Err(e) => {
                w.problems.push((path, format!("cannot look at it: {e}")));
                continue;
            }
        };
        if st.kind != Kind::Directory {
            w.entries.push(Entry {
                node: node_of(dir, name, st),
                rel: path,
            });
            continue;
        }
        if let Some(why) = skip(&path) {
            w.skipped.push((path, why));
            continue;
        }
        if depth + 1 >= MAX_DEPTH {
            w.problems.push((
                path,
                format!("nested deeper than {MAX_DEPTH} directories: not walked"),
            ));
            continue;
        }
        match dir.sub(name) {
            Ok(sub) => walk_dir(&sub, &path, depth + 1, skip, w),
            Err(e) => w
                .problems
                .push((path, format!("cannot open the directory: {e}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn the_walk_reports_links_and_special_files_and_follows_none() {
        let t = tempfile::tempdir().unwrap();
        let outside = t.path().join("outside");
        std::fs::create_dir_all(outside.join("deep")).unwrap();
        std::fs::write(outside.join("deep/secret.yaml"), "x: 1\n").unwrap();
        let r = t.path().join("repo");
        std::fs::create_dir_all(r.join("secrets/.staging")).unwrap();
        std::fs::create_dir_all(r.join(".git/objects")).unwrap();
        std::fs::write(r.join("secrets/a.yaml"), "a: 1\n").unwrap();
        std::fs::write(r.join("secrets/.staging/b.yaml"), "b: 1\n").unwrap();
        std::fs::write(r.join(".git/objects/x"), "").unwrap();
        symlink("../secrets/a.yaml", r.join("link.yaml")).unwrap();
        symlink(&outside, r.join("dirlink")).unwrap();
        nix::unistd::mkfifo(
            &r.join("fifo"),
            nix::sys::stat::Mode::from_bits_truncate(0o600),
        )
        .unwrap();
        let c = Checkout::open(&r).unwrap();
        let skip = |p: &str| (p.rsplit('/').next() == Some(".git")).then(|| "git".to_string());
        let w = c.walk("", &skip).unwrap();
        let got: Vec<(String, String)> = w
            .entries
            .iter()
            .map(|e| {
                let what = match &e.node {
                    Node::File(_) => "file".to_string(),
                    Node::Symlink(t) => format!("-> {t}"),
                    Node::Other(k) => k.to_string(),
                };
                (e.rel.clone(), what)
            })
            .collect();
        let want = [
            ("dirlink", format!("-> {}", outside.display())),
            ("fifo", "a FIFO (named pipe)".into()),
            ("link.yaml", "-> ../secrets/a.yaml".into()),
            ("secrets/.staging/b.yaml", "file".into()),
            ("secrets/a.yaml", "file".into()),
        ];
        let want: Vec<(String, String)> = want
            .iter()
            .map(|(a, b)| (a.to_string(), b.clone()))
            .collect();
        assert_eq!(got, want);
        assert_eq!(w.skipped, [(".git".to_string(), "git".to_string())]);
        // A start below a symlinked directory is that symlink, never what it points to.
        let w = c.walk("dirlink/deep", &skip).unwrap();
        assert_eq!(w.entries.len(), 1);
        assert_eq!(w.entries[0].rel, "dirlink");
        assert!(matches!(w.entries[0].node, Node::Symlink(_)));
        // Reads: regular files only, bounded; never through a link.
        assert_eq!(&c.read("secrets/a.yaml", 100).unwrap().0[..], b"a: 1\n");
        assert!(c.read("link.yaml", 100).is_err());
        assert!(c.read("dirlink/deep/secret.yaml", 100).is_err());
        assert!(c.read("fifo", 100).is_err());
        assert!(c.read("secrets/a.yaml", 2).is_err());
    }

    #[test]
    fn a_replace_lands_only_on_the_planned_file() {
        let t = tempfile::tempdir().unwrap();
        let r = t.path();
        std::fs::write(r.join("a.yaml"), "old").unwrap();
        std::fs::write(r.join("target.yaml"), "keep").unwrap();
        let c = Checkout::open(r).unwrap();
        let (_, st) = c.read("a.yaml", 10).unwrap();
        c.replace("a.yaml", b"new", &st).unwrap();
        assert_eq!(std::fs::read(r.join("a.yaml")).unwrap(), b"new");
        // Swapped for a symlink after planning: refused, the link's target untouched.
        let (_, st) = c.read("a.yaml", 10).unwrap();
        std::fs::remove_file(r.join("a.yaml")).unwrap();
        symlink("target.yaml", r.join("a.yaml")).unwrap();
        assert!(c.replace("a.yaml", b"evil", &st).is_err());
        assert_eq!(std::fs::read(r.join("target.yaml")).unwrap(), b"keep");
        assert!(std::fs::symlink_metadata(r.join("a.yaml"))
            .unwrap()
            .file_type()
            .is_symlink());
    }
}
