//! Where `keygen -o` and `ssh-to-age -o` write a key.
//!
//! The usual place, `~/.config/sops/age/keys.txt`, is in a directory that a fresh home does
//! not have, so missing parent directories are created, private (0700: they hold secret
//! keys). And when the file cannot be created, the message names the real cause: an existing
//! file, a directory the user cannot write, or a path component that is not a directory.

use sealbox_formats::{Error, ErrorKind as Kind, Result};
use std::io::ErrorKind;
use std::os::unix::fs::DirBuilderExt;
use std::path::Path;

/// The directory `path` is created in (`.` for a bare name).
fn parent_of(path: &Path) -> &Path {
    match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    }
}

/// Creates the missing parent directories of `path` with mode 0700. Existing directories
/// are left as they are.
pub fn make_parent_dirs(path: &Path) -> Result<()> {
    let dir = parent_of(path);
    let fail = |why: String| {
        Error::new(
            Kind::WriteOutput,
            format!(
                "{}: cannot create its directory {}: {why}",
                path.display(),
                dir.display()
            ),
        )
    };
    let hint = |e: &std::io::Error| match e.kind() {
        ErrorKind::PermissionDenied => {
            "you may not create directories there; choose a path under your home"
        }
        ErrorKind::NotADirectory | ErrorKind::AlreadyExists => {
            "a part of that path is a file, not a directory"
        }
        _ => "choose another path",
    };
    match std::fs::metadata(dir) {
        Ok(m) if m.is_dir() => return Ok(()),
        Ok(_) => {
            return Err(fail("that is a file, not a directory".into())
                .with_hint("choose a path whose directories are directories"))
        }
        Err(e) if e.kind() == ErrorKind::NotFound => {}
        Err(e) => return Err(fail(e.to_string()).with_hint(hint(&e))),
    }
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| fail(e.to_string()).with_hint(hint(&e)))
}

/// The error for a key file `path` that could not be created (`O_CREAT|O_EXCL`), saying why.
pub fn create_error(path: &Path, e: std::io::Error) -> Error {
    let p = path.display();
    let err = |msg: String| Error::new(Kind::WriteOutput, msg);
    match e.kind() {
        ErrorKind::AlreadyExists => err(format!("{p}: a file of that name already exists"))
            .with_hint(format!(
            "sealbox keygen never overwrites a key file: choose another path, or move the old one \
             away first (`sealbox keygen -y {p}` prints its public key)"
        )),
        ErrorKind::PermissionDenied => err(format!("{p}: cannot create: {e}")).with_hint(format!(
            "you may not write in {}; choose a path in a directory you own",
            parent_of(path).display()
        )),
        ErrorKind::IsADirectory => {
            err(format!("{p}: is a directory")).with_hint("give the path of the file to create")
        }
        _ => err(format!("{p}: cannot create: {e}")),
    }
}

/// Adds a hint to a failed write of `path` when the cause is permissions.
pub fn write_hint(path: &Path, e: Error) -> Error {
    if e.hint.is_none() && e.to_string().contains("Permission denied") {
        let dir = parent_of(path).display().to_string();
        e.with_hint(format!(
            "you may not write in {dir}; choose a path in a directory you own"
        ))
    } else {
        e
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn missing_parents_are_created_private_and_existing_ones_left_alone() {
        let t = tempfile::tempdir().unwrap();
        let existing = t.path().join("home");
        std::fs::create_dir(&existing).unwrap();
        std::fs::set_permissions(&existing, std::fs::Permissions::from_mode(0o755)).unwrap();
        let key = existing.join(".config/sops/age/keys.txt");
        make_parent_dirs(&key).unwrap();
        for d in [".config", ".config/sops", ".config/sops/age"] {
            let m = std::fs::metadata(existing.join(d)).unwrap();
            assert!(m.is_dir(), "{d}");
            assert_eq!(m.permissions().mode() & 0o777, 0o700, "{d}");
        }
        let m = std::fs::metadata(&existing).unwrap();
        assert_eq!(
            m.permissions().mode() & 0o777,
            0o755,
            "an existing dir keeps its mode"
        );
        // A second call with everything in place is a no-op.
        make_parent_dirs(&key).unwrap();
        make_parent_dirs(Path::new("bare-name.txt")).unwrap();
    }

    #[test]
    fn a_file_in_the_way_is_named_as_the_cause() {
        let t = tempfile::tempdir().unwrap();
        std::fs::write(t.path().join("f"), "").unwrap();
        let e = make_parent_dirs(&t.path().join("f/keys.txt")).unwrap_err();
        assert!(e.to_string().contains("not a directory"), "{e}");
        let e = make_parent_dirs(&t.path().join("f/sub/keys.txt")).unwrap_err();
        assert_eq!(e.kind, Kind::WriteOutput);
        assert!(e.hint.unwrap().contains("is a file"));
    }

    #[test]
    fn each_create_failure_has_its_own_message() {
        let p = Path::new("dir/k.txt");
        let e = create_error(p, std::io::Error::from(ErrorKind::AlreadyExists));
        assert!(e.to_string().contains("already exists"), "{e}");
        assert!(e.hint.unwrap().contains("never overwrites"));
        let e = create_error(p, std::io::Error::from(ErrorKind::PermissionDenied));
        assert!(e.hint.unwrap().contains("you may not write in dir"));
        let e = create_error(p, std::io::Error::from(ErrorKind::NotFound));
        assert!(e.hint.is_none(), "no overwrite hint for another cause");
    }
}
