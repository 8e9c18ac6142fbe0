//! Systemd credentials (sealbox extension): a secret whose manifest entry has
//! `credentialName` is also placed at `<credstore>/<credentialName>` (default
//! `/run/credstore`, `SEALBOX_CREDSTORE_DIR` overrides it), mode 0400 root:root in a 0700
//! root directory, for `LoadCredential=NAME` in a unit.
//!
//! Files are replaced atomically (temporary file with its final mode and owner, then
//! rename; a symlink planted at the name is replaced, never followed). sealbox records
//! the names it placed for one manifest (keyed by its `symlinkPath`) in
//! `<credstore>/.sealbox-managed.<escaped symlinkPath>`; a name the manifest no longer
//! has is removed on the next activation. Files sealbox did not place are never touched;
//! temporary files (`.<name>.tmp<pid>.<i>`) of a run killed before its rename are removed
//! by the next run once their process is gone.

use crate::fsops;
use crate::manifest::Manifest;
use crate::run::Installed;
use crate::validate::Plan;
use std::fs;
use std::io::{ErrorKind, Read};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use zeroize::Zeroizing;

/// The default credential store.
pub const DEFAULT_DIR: &str = "/run/credstore";

type Res<T> = Result<T, String>;

/// `SEALBOX_CREDSTORE_DIR`, else [`DEFAULT_DIR`].
pub fn dir_from_env() -> PathBuf {
    std::env::var("SEALBOX_CREDSTORE_DIR")
        .ok()
        .filter(|s| !s.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(DEFAULT_DIR))
}

/// Checks a credential name the way systemd does (a valid file name of printable ASCII
/// without `:`), and also rejects a leading `.` (sealbox's own bookkeeping files).
pub fn check_name(n: &str) -> Res<()> {
    if n.is_empty() {
        return Err("the credential name is empty; give a name such as \"db-password\"".into());
    }
    if n.len() > 255 {
        return Err("the credential name is longer than 255 bytes".into());
    }
    if n.contains('/') {
        return Err("the credential name contains '/'; use a plain file name".into());
    }
    if n == "." || n == ".." || n.starts_with('.') {
        return Err(
            "the credential name starts with '.' ('.', '..' and hidden names are not allowed)"
                .into(),
        );
    }
    if !n.bytes().all(|b| (0x20..0x7f).contains(&b)) || n.contains(':') {
        return Err(
            "the credential name may only contain printable ASCII characters other than ':'".into(),
        );
    }
    Ok(())
}

fn ledger(dir: &Path, symlink_path: &str) -> PathBuf {
    let mut esc = String::new();
    for b in symlink_path.bytes() {
        if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' {
            esc.push(b as char);
        } else {
            esc.push_str(&format!("%{b:02X}"));
        }
    }
    dir.join(format!(".sealbox-managed.{esc}"))
}

fn read_ledger(p: &Path) -> Res<Vec<String>> {
    match fs::read_to_string(p) {
        Ok(s) => Ok(s
            .lines()
            .filter(|l| check_name(l).is_ok())
            .map(str::to_string)
            .collect()),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(format!("cannot read {}: {e}", p.display())),
    }
}

fn write_ledger(p: &Path, names: &[String]) -> Res<()> {
    if names.is_empty() {
        return match fs::remove_file(p) {
            Err(e) if e.kind() != ErrorKind::NotFound => {
                Err(format!("cannot remove {}: {e}", p.display()))
            }
            _ => Ok(()),
        };
    }
    let mut text = String::new();
    for n in names {
        text.push_str(n);
        text.push('\n');
    }
    fsops::replace_file(p, text.as_bytes(), 0o600, Some((0, 0)))
}

/// Creates the store (0700 root:root) or checks and tightens an existing one.
fn ensure_dir(dir: &Path) -> Res<()> {
    match fs::symlink_metadata(dir) {
        Err(e) if e.kind() == ErrorKind::NotFound => {
            if let Some(parent) = dir.parent() {
                fsops::make_dir_all(parent, 0o755)
                    .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
            }
            match fs::DirBuilder::new().mode(0o700).create(dir) {
                Err(e) if e.kind() != ErrorKind::AlreadyExists => {
                    return Err(format!("cannot create {}: {e}", dir.display()))
                }
                _ => {}
            }
            ensure_dir_checked(dir)
        }
        Err(e) => Err(format!("cannot stat {}: {e}", dir.display())),
        Ok(_) => ensure_dir_checked(dir),
    }
}

fn ensure_dir_checked(dir: &Path) -> Res<()> {
    let md =
        fs::symlink_metadata(dir).map_err(|e| format!("cannot stat {}: {e}", dir.display()))?;
    if !md.file_type().is_dir() {
        return Err(format!(
            "{} is not a directory (a symlink is never followed); remove it",
            dir.display()
        ));
    }
    if md.uid() != 0 {
        return Err(format!(
            "{} is owned by uid {}, not root; remove it or fix its owner",
            dir.display(),
            md.uid()
        ));
    }
    if md.mode() & 0o7777 != 0o700 {
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
            .map_err(|e| format!("cannot chmod {} to 0700: {e}", dir.display()))?;
    }
    Ok(())
}

/// Places the credentials of one manifest and removes those it placed before but no
/// longer names. `named` = every credential name of the manifest (also those whose secret
/// failed under `--keep-going`: they are kept as they are); `values` = what to write.
/// Returns the removed names.
pub fn sync(
    dir: &Path,
    symlink_path: &str,
    named: &[&str],
    values: &[(&str, &[u8])],
) -> Res<Vec<String>> {
    let led = ledger(dir, symlink_path);
    if named.is_empty() && fs::symlink_metadata(&led).is_err() {
        // Nothing to place, but a run killed half-way may have left temporary files in
        // an existing store of ours.
        if fs::symlink_metadata(dir).is_ok_and(|m| m.is_dir() && m.uid() == 0) {
            fsops::remove_stale_temps(dir);
        }
        return Ok(Vec::new());
    }
    ensure_dir(dir)?;
    // Temporary files of runs killed before their rename, also of names no longer placed.
    fsops::remove_stale_temps(dir);
    let old = read_ledger(&led)?;
    // Record the new names before placing them, so a crash never leaves a credential
    // sealbox placed but does not know about.
    let mut union: Vec<String> = old.clone();
    for n in named {
        if !union.iter().any(|o| o == n) {
            union.push(n.to_string());
        }
    }
    union.sort();
    if union != old {
        write_ledger(&led, &union)?;
    }
    for (name, bytes) in values {
        check_name(name)?;
        fsops::replace_file(&dir.join(name), bytes, 0o400, Some((0, 0)))
            .map_err(|e| format!("credential {name}: {e}"))?;
    }
    let mut removed = Vec::new();
    for n in &old {
        if named.contains(&n.as_str()) {
            continue;
        }
        let p = dir.join(n);
        match fs::remove_file(&p) {
            Ok(()) => removed.push(n.clone()),
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) => return Err(format!("cannot remove {}: {e}", p.display())),
        }
    }
    let mut now: Vec<String> = named.iter().map(|s| s.to_string()).collect();
    now.sort();
    if now != union {
        write_ledger(&led, &now)?;
    }
    Ok(removed)
}

/// The values to place for a run: (credential name, bytes) of every installed secret that
/// has one; `named` also holds the names of secrets that failed (kept as they are).
pub(crate) fn values<'a>(
    plan: &'a Plan,
    secrets: &'a [Installed],
) -> (Vec<&'a str>, Vec<(&'a str, &'a [u8])>) {
    let named: Vec<&str> = plan
        .secrets
        .iter()
        .filter_map(|s| s.credential.as_deref())
        .collect();
    let values = plan
        .secrets
        .iter()
        .filter_map(|s| {
            let c = s.credential.as_deref()?;
            let v = secrets.iter().find(|i| i.entry.name == s.entry.name)?;
            Some((c, &v.bytes[..]))
        })
        .collect();
    (named, values)
}

/// [`sync`] for an activation (nothing in user mode: the store is system-wide).
pub(crate) fn sync_installed(
    dir: &Path,
    m: &Manifest,
    plan: &Plan,
    secrets: &[Installed],
) -> Res<()> {
    if m.user_mode {
        return Ok(());
    }
    let (named, values) = values(plan, secrets);
    let removed = sync(dir, &m.symlink_path, &named, &values)?;
    if m.log_secret_changes && !removed.is_empty() {
        println!("removing credentials: {}", removed.join(", "));
    }
    Ok(())
}

/// What [`sync`] would do, without writing: (verb, name) with verb `added`, `changed` or
/// `removed`, sorted by name within each verb.
pub fn diff(
    dir: &Path,
    symlink_path: &str,
    named: &[&str],
    values: &[(&str, &[u8])],
) -> Res<Vec<(&'static str, String)>> {
    let old = read_ledger(&ledger(dir, symlink_path))?;
    let mut added = Vec::new();
    let mut changed = Vec::new();
    for (name, bytes) in values {
        let p = dir.join(name);
        let f = fs::OpenOptions::new()
            .read(true)
            .custom_flags(nix::libc::O_NOFOLLOW | nix::libc::O_NONBLOCK)
            .open(&p);
        let mut f = match f {
            Ok(f) => f,
            Err(e) if e.kind() == ErrorKind::NotFound => {
                added.push(name.to_string());
                continue;
            }
            Err(_) => {
                changed.push(name.to_string());
                continue;
            }
        };
        let md = f
            .metadata()
            .map_err(|e| format!("cannot stat {}: {e}", p.display()))?;
        let mut buf = Zeroizing::new(Vec::new());
        if !md.is_file() || f.read_to_end(&mut buf).is_err() {
            changed.push(name.to_string());
            continue;
        }
        if buf[..] != bytes[..] || md.mode() & 0o777 != 0o400 || md.uid() != 0 || md.gid() != 0 {
            changed.push(name.to_string());
        }
    }
    let mut removed: Vec<String> = old
        .into_iter()
        .filter(|n| !named.contains(&n.as_str()))
        .filter(|n| fs::symlink_metadata(dir.join(n)).is_ok())
        .collect();
    let mut out = Vec::new();
    for (verb, list) in [
        ("added", &mut added),
        ("changed", &mut changed),
        ("removed", &mut removed),
    ] {
        list.sort();
        out.extend(list.drain(..).map(|n| (verb, n)));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for ok in ["db-password", "a.b", "x_y", "with space", "a..b"] {
            assert!(check_name(ok).is_ok(), "{ok}");
        }
        for bad in ["", ".", "..", "a/b", "../x", ".hidden", "a:b", "a\nb", "é"] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
        assert!(check_name(&"x".repeat(256)).is_err());
    }

    #[test]
    fn ledger_names_are_distinct() {
        let d = Path::new("/c");
        assert_ne!(ledger(d, "/run/a-b"), ledger(d, "/run/a/b"));
        assert_eq!(
            ledger(d, "/run/secrets"),
            Path::new("/c/.sealbox-managed.%2Frun%2Fsecrets")
        );
    }

    #[test]
    fn sync_places_replaces_and_removes_only_its_own() {
        let t = tempfile::tempdir().unwrap();
        let dir = t.path().join("credstore");
        // nothing named, nothing placed before: the store is not even created
        assert!(sync(&dir, "/run/secrets", &[], &[]).unwrap().is_empty());
        assert!(!dir.exists());
        sync(
            &dir,
            "/run/secrets",
            &["a", "b"],
            &[("a", b"1"), ("b", b"2")],
        )
        .unwrap();
        let md = fs::metadata(&dir).unwrap();
        assert_eq!(md.mode() & 0o7777, 0o700);
        assert_eq!(fs::metadata(dir.join("a")).unwrap().mode() & 0o7777, 0o400);
        assert_eq!(fs::read(dir.join("a")).unwrap(), b"1");
        fs::write(dir.join("foreign"), "x").unwrap();
        // another manifest's credentials are separate
        sync(&dir, "/run/secrets-for-users", &["u"], &[("u", b"u")]).unwrap();
        let d = diff(&dir, "/run/secrets", &["a"], &[("a", b"9")]).unwrap();
        assert_eq!(
            d,
            vec![("changed", "a".to_string()), ("removed", "b".to_string())]
        );
        let removed = sync(&dir, "/run/secrets", &["a"], &[("a", b"9")]).unwrap();
        assert_eq!(removed, ["b"]);
        assert_eq!(fs::read(dir.join("a")).unwrap(), b"9");
        assert!(!dir.join("b").exists());
        assert!(dir.join("foreign").exists() && dir.join("u").exists());
        assert!(diff(&dir, "/run/secrets", &["a"], &[("a", b"9")])
            .unwrap()
            .is_empty());
        sync(&dir, "/run/secrets", &[], &[]).unwrap();
        assert!(!dir.join("a").exists() && dir.join("u").exists());
        assert!(!ledger(&dir, "/run/secrets").exists());
    }
}
