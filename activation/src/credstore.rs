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
//! temporary files (`.<name>.sealbox-<pid>-<random>.tmp`, sealbox-os's atomic replace) of a
//! run killed before its rename are removed
//! by the next run once their process is gone.

use crate::decrypt::Installed;
use crate::generations;
use rustix::fs::OFlags;
use sealbox_manifest::{check_credential_name as check_name, Plan};
use sealbox_os::leftovers::remove_stale_temps;
use sealbox_os::replace::{replace, Owner};
use sealbox_os::safedir::{Dir, Existing, Follow};
use std::io::{ErrorKind, Read};
use std::os::unix::fs::MetadataExt;
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

/// The name of the file in the store that records what sealbox placed for the manifest
/// whose `symlinkPath` is `symlink_path`.
fn ledger(symlink_path: &str) -> String {
    let mut esc = String::new();
    for b in symlink_path.bytes() {
        if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' {
            esc.push(b as char);
        } else {
            esc.push_str(&format!("%{b:02X}"));
        }
    }
    format!(".sealbox-managed.{esc}")
}

/// Largest ledger read (a list of names).
const MAX_LEDGER: u64 = 4 << 20;

fn read_ledger(dir: &Dir, name: &str) -> Res<Vec<String>> {
    let shown = dir.shown(name);
    let f = dir.open_file(name, OFlags::RDONLY | OFlags::NONBLOCK, 0);
    let mut f = match f {
        Ok(f) => f,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(format!("cannot read {}: {e}", shown.display())),
    };
    if !f.metadata().is_ok_and(|m| m.is_file()) {
        return Err(format!("{} is not a regular file", shown.display()));
    }
    let mut s = String::new();
    (&mut f)
        .take(MAX_LEDGER)
        .read_to_string(&mut s)
        .map_err(|e| format!("cannot read {}: {e}", shown.display()))?;
    Ok(s.lines()
        .filter(|l| check_name(l).is_ok())
        .map(str::to_string)
        .collect())
}

fn write_ledger(dir: &Dir, name: &str, names: &[String]) -> Res<()> {
    if names.is_empty() {
        return match dir.unlink(name) {
            Err(e) if e.kind() != ErrorKind::NotFound => {
                Err(format!("cannot remove {}: {e}", dir.shown(name).display()))
            }
            _ => {
                sealbox_os::fault::point("remove ledger");
                Ok(())
            }
        };
    }
    let mut text = String::new();
    for n in names {
        text.push_str(n);
        text.push('\n');
    }
    replace(dir, name, text.as_bytes(), 0o600, Owner::Exact(0, 0)).map_err(|e| e.to_string())
}

/// Creates the store (0700 root:root) or checks and tightens an existing one; returns it
/// open. Missing parents are created 0755.
fn ensure_dir(dir: &Path) -> Res<Dir> {
    let (parent, name) = generations::split(dir)?;
    let parent = Dir::open(parent, Some(0o755), Follow::Trusted)
        .map_err(|e| format!("cannot create {e}"))?;
    let d = parent
        .make_sub(name, 0o700, None, Existing::Keep)
        .map_err(|e| format!("{} is not a directory ({e}); remove it", dir.display()))?;
    checked(d)
}

/// The open store, if it is a root-owned directory; its mode is tightened to 0700.
fn checked(d: Dir) -> Res<Dir> {
    let st = d
        .stat()
        .map_err(|e| format!("cannot stat {}: {e}", d.path().display()))?;
    if st.uid != 0 {
        return Err(format!(
            "{} is owned by uid {}, not root; remove it or fix its owner",
            d.path().display(),
            st.uid
        ));
    }
    if st.mode != 0o700 {
        d.chmod(0o700)
            .map_err(|e| format!("cannot chmod {} to 0700: {e}", d.path().display()))?;
        sealbox_os::fault::point("chmod credstore");
    }
    Ok(d)
}

/// The store if it exists (opened, not created).
fn existing(dir: &Path) -> Res<Option<Dir>> {
    match Dir::open_io(dir, None, Follow::Trusted) {
        Ok(d) => Ok(Some(d)),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("{}: {e}", dir.display())),
    }
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
    let led = ledger(symlink_path);
    if named.is_empty() {
        // No store: nothing placed before either.
        let Ok(Some(store)) = existing(dir) else {
            return Ok(Vec::new());
        };
        if !matches!(store.lstat(&led), Ok(Some(_))) {
            // Nothing to place, but a run killed half-way may have left temporary files
            // in an existing store of ours.
            if store.stat().is_ok_and(|s| s.uid == 0) {
                remove_stale_temps(&store, None);
            }
            return Ok(Vec::new());
        }
    }
    let store = ensure_dir(dir)?;
    // Temporary files of runs killed before their rename, also of names no longer placed.
    remove_stale_temps(&store, None);
    let old = read_ledger(&store, &led)?;
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
        write_ledger(&store, &led, &union)?;
    }
    for (name, bytes) in values {
        check_name(name)?;
        replace(&store, name, bytes, 0o400, Owner::Exact(0, 0))
            .map_err(|e| format!("credential {name}: {e}"))?;
    }
    let mut removed = Vec::new();
    for n in &old {
        if named.contains(&n.as_str()) {
            continue;
        }
        match store.unlink(n) {
            Ok(()) => {
                sealbox_os::fault::point("remove credential");
                removed.push(n.clone())
            }
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) => return Err(format!("cannot remove {}: {e}", store.shown(n).display())),
        }
    }
    let mut now: Vec<String> = named.iter().map(|s| s.to_string()).collect();
    now.sort();
    if now != union {
        write_ledger(&store, &led, &now)?;
    }
    Ok(removed)
}

/// The values to place for a run: (credential name, bytes) of every installed secret that
/// has one; `named` also holds the names of secrets that failed (kept as they are).
pub fn values<'a>(
    plan: &'a Plan,
    secrets: &'a [Installed],
) -> (Vec<&'a str>, Vec<(&'a str, &'a [u8])>) {
    let named: Vec<&str> = plan
        .secrets
        .iter()
        .filter_map(|s| s.credential.as_deref())
        .collect();
    let values = crate::decrypt::secret_values(plan, secrets, |s| s.credential.as_deref());
    (named, values)
}

/// What [`sync`] would do, without writing: (verb, name) with verb `added`, `changed` or
/// `removed`, sorted by name within each verb.
pub fn diff(
    dir: &Path,
    symlink_path: &str,
    named: &[&str],
    values: &[(&str, &[u8])],
) -> Res<Vec<(&'static str, String)>> {
    let store = existing(dir)?;
    let old = match &store {
        Some(d) => read_ledger(d, &ledger(symlink_path))?,
        None => Vec::new(),
    };
    let mut added = Vec::new();
    let mut changed = Vec::new();
    for (name, bytes) in values {
        let Some(store) = &store else {
            added.push(name.to_string());
            continue;
        };
        let f = store.open_file(name, OFlags::RDONLY | OFlags::NONBLOCK, 0);
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
            .map_err(|e| format!("cannot stat {}: {e}", store.shown(name).display()))?;
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
        .filter(|n| {
            store
                .as_ref()
                .is_some_and(|d| matches!(d.lstat(n), Ok(Some(_))))
        })
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
    use std::fs;

    #[test]
    fn ledger_names_are_distinct() {
        assert_ne!(ledger("/run/a-b"), ledger("/run/a/b"));
        assert_eq!(ledger("/run/secrets"), ".sealbox-managed.%2Frun%2Fsecrets");
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
        assert!(!dir.join(ledger("/run/secrets")).exists());
    }
}
