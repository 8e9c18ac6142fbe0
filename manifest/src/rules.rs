//! The manifest's naming rules: entry names, custom paths, the mount point and symlink,
//! unit names, modes, formats, credential names and placeholders. Each check returns
//! what is wrong and what to do, without repeating a possibly hostile value's control
//! characters.

use crate::model::Manifest;
use sha2::{Digest, Sha256};

/// Checks a secret or template name: relative, no `.`/`..`/empty components, no NUL or
/// newline. The message says what is wrong without repeating a possibly hostile name's
/// control characters.
pub fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("the name is empty; give it a relative file name".into());
    }
    if name.contains('\0') || name.contains('\n') || name.contains('\r') {
        return Err("the name contains a NUL or newline character; rename it".into());
    }
    if name.starts_with('/') {
        return Err(
            "the name is an absolute path; use a name relative to the secrets directory".into(),
        );
    }
    for c in name.split('/') {
        match c {
            "" => {
                return Err(
                    "the name has an empty path component (// or a trailing /); remove it".into(),
                )
            }
            "." | ".." => {
                return Err(
                    "the name contains a '.' or '..' component; use a plain relative name".into(),
                )
            }
            _ => {}
        }
    }
    Ok(())
}

/// Checks an entry's `path` (where its symlink goes): empty (the default) or a plain
/// absolute path naming a file – no empty, `.` or `..` component, no trailing `/`, not
/// `/` – without NUL or newline.
pub fn check_path(path: &str) -> Result<(), String> {
    if path.contains('\0') || path.contains('\n') || path.contains('\r') {
        return Err("the path contains a NUL or newline character; fix `path`".into());
    }
    // `%r` (user mode's runtime dir) is still there in check modes.
    if !path.is_empty() && !path.starts_with('/') && !path.starts_with("%r/") {
        return Err(format!(
            "the path {path:?} is not absolute; give an absolute `path`"
        ));
    }
    if path.split('/').any(|c| c == "..") {
        return Err(format!(
            "the path {path:?} contains a '..' component; give a plain absolute `path`"
        ));
    }
    if !path.is_empty() {
        check_plain("path", path)?;
    }
    Ok(())
}

/// System directories: a mount point there would hide what it holds, a directory at
/// `symlinkPath` is removed (quirk 5), and a custom `path` replaces what is there.
pub(crate) const SYSTEM_DIRS: &[&str] = &[
    "/",
    "/bin",
    "/boot",
    "/dev",
    "/etc",
    "/home",
    "/lib",
    "/lib32",
    "/lib64",
    "/media",
    "/mnt",
    "/nix",
    "/nix/store",
    "/nix/var",
    "/opt",
    "/proc",
    "/root",
    "/run",
    "/run/user",
    "/run/wrappers",
    "/sbin",
    "/srv",
    "/sys",
    "/tmp",
    "/usr",
    "/var",
    "/var/lib",
    "/var/run",
    "/var/tmp",
];

/// Trees where sealbox must never mount or write (the read-only store, kernel
/// filesystems).
pub(crate) const FORBIDDEN_TREES: &[&str] = &["/nix/store", "/proc", "/sys", "/dev"];

/// Whether `p` is `dir` or below it (both plain paths).
pub(crate) fn is_within(p: &str, dir: &str) -> bool {
    p == dir || dir == "/" || (p.starts_with(dir) && p[dir.len()..].starts_with('/'))
}

/// A plain absolute path (or `%r/…` before user mode's expansion): no empty, `.` or `..`
/// component, no trailing `/`, not `/` itself.
fn check_plain(field: &str, p: &str) -> Result<(), String> {
    let rest = p.strip_prefix("%r").unwrap_or(p);
    if !rest.starts_with('/') {
        return Err(format!(
            "{field} {p:?} is not an absolute path; give an absolute path"
        ));
    }
    if rest == "/" {
        return Err(format!(
            "{field} is \"/\", which names no file; give a path such as /run/secrets"
        ));
    }
    if rest[1..]
        .split('/')
        .any(|c| c.is_empty() || c == "." || c == "..")
    {
        return Err(format!(
            "{field} {p:?} has an empty, '.' or '..' component or a trailing '/'; write it plainly, like /a/b"
        ));
    }
    Ok(())
}

/// Checks `secretsMountPoint` and `symlinkPath` (each when set; the activation requires
/// both): plain absolute paths, not a system directory, not under the Nix store or a
/// kernel filesystem, distinct and not inside each other. One message per problem
/// (without "manifest is not valid: ", which a validation problem adds).
pub fn check_locations(m: &Manifest) -> Vec<String> {
    let mut errs = Vec::new();
    let mut ok = Vec::new();
    for (field, p, what) in [
        (
            "secretsMountPoint",
            &m.secrets_mount_point,
            "mounting the secrets filesystem there would hide what it holds",
        ),
        (
            "symlinkPath",
            &m.symlink_path,
            "a directory at symlinkPath is removed to make room for the symlink",
        ),
    ] {
        if p.is_empty() {
            continue;
        }
        if p.contains('\0') || p.contains('\n') || p.contains('\r') {
            errs.push(format!("{field} contains a NUL or newline character"));
            continue;
        }
        if let Err(e) = check_plain(field, p) {
            errs.push(e);
            continue;
        }
        if SYSTEM_DIRS.contains(&p.as_str()) {
            errs.push(format!(
                "{field} {p:?} is a system directory: {what}; use a directory of its own such as /run/secrets.d"
            ));
            continue;
        }
        if let Some(t) = FORBIDDEN_TREES.iter().find(|t| is_within(p, t)) {
            errs.push(format!(
                "{field} {p:?} is inside {t}, where sealbox must not mount or write; use a directory under /run"
            ));
            continue;
        }
        ok.push(p.as_str());
    }
    if let [mp, link] = ok[..] {
        if mp == link {
            errs.push(format!(
                "secretsMountPoint and symlinkPath are the same path {mp:?}; the symlink must live outside the mount point (e.g. /run/secrets.d and /run/secrets)"
            ));
        } else if is_within(link, mp) {
            errs.push(format!(
                "symlinkPath {link:?} is inside secretsMountPoint {mp:?}, among the generations; put it outside (e.g. /run/secrets)"
            ));
        } else if is_within(mp, link) {
            errs.push(format!(
                "secretsMountPoint {mp:?} is inside symlinkPath {link:?}: replacing the directory at symlinkPath would remove the mounted secrets; put them side by side"
            ));
        }
    }
    errs
}

/// Checks a unit name of `restartUnits`/`reloadUnits` the way systemd names units: it is
/// passed to `systemctl` and written as one line of the restart list, so a name starting
/// with `-` (an option), holding whitespace, `/` or a newline (another line) is refused.
pub fn check_unit(u: &str) -> Result<(), String> {
    let valid = !u.is_empty()
        && u.len() <= 255
        && !u.starts_with('-')
        && u.contains('.')
        && u.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b":-_.\\@".contains(&b));
    if valid {
        Ok(())
    } else {
        Err(format!(
            "{u:?} is not a systemd unit name (letters, digits and :-_.\\@, with a type suffix such as .service, not starting with '-'); fix restartUnits/reloadUnits"
        ))
    }
}

/// Parses a mode string like Go's `strconv.ParseUint(m, 8, 16)` and keeps the permission
/// bits.
// quirk 3: fix – the result is `mode & 0o777` and is applied with an explicit fchmod, so
// the umask never changes it; setuid/setgid/sticky bits are dropped as Go's FileMode does.
pub fn parse_mode(m: &str) -> Result<u32, String> {
    let bad =
        || format!("invalid mode '{m}': give an octal number of at most 16 bits such as \"0400\"");
    if m.is_empty() || !m.bytes().all(|b| (b'0'..=b'7').contains(&b)) {
        return Err(bad());
    }
    let v = u32::from_str_radix(m, 8).map_err(|_| bad())?;
    if v > 0xffff {
        return Err(bad());
    }
    Ok(v & 0o777)
}

/// The format of a secret's sops file (`format`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Format {
    /// `yaml` (or "").
    Yaml,
    /// `json`.
    Json,
    /// `binary`: the whole file is one value.
    Binary,
    /// `dotenv`.
    Dotenv,
    /// `ini`.
    Ini,
}

impl Format {
    /// Every format, in the order messages list them.
    pub const ALL: [Format; 5] = [
        Format::Yaml,
        Format::Json,
        Format::Binary,
        Format::Dotenv,
        Format::Ini,
    ];

    /// The name a manifest uses.
    pub fn name(self) -> &'static str {
        match self {
            Format::Yaml => "yaml",
            Format::Json => "json",
            Format::Binary => "binary",
            Format::Dotenv => "dotenv",
            Format::Ini => "ini",
        }
    }

    /// Whether a secret's `key` selects a value in it (yaml and json; dotenv and ini
    /// install the whole file).
    pub fn has_keys(self) -> bool {
        matches!(self, Format::Yaml | Format::Json)
    }
}

/// Parses a manifest format string.
// quirk 2: fix – an unknown format is an error instead of silently meaning yaml.
pub fn parse_format(f: &str) -> Result<Format, String> {
    match f {
        "" | "yaml" => Ok(Format::Yaml),
        "json" => Ok(Format::Json),
        "binary" => Ok(Format::Binary),
        "dotenv" => Ok(Format::Dotenv),
        "ini" => Ok(Format::Ini),
        other => Err(format!(
            "unsupported format '{other}'; use one of yaml, json, binary, dotenv, ini"
        )),
    }
}

/// Checks a credential name the way systemd does (a valid file name of printable ASCII
/// without `:`), and also rejects a leading `.` (sealbox's own bookkeeping files).
pub fn check_credential_name(n: &str) -> Result<(), String> {
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

/// The placeholder the NixOS module gives secret `name` (docs/activation.md#templates):
/// `<SOPS:<sha256 hex of NAME>:PLACEHOLDER>`.
pub fn placeholder(name: &str) -> String {
    let digest = Sha256::digest(name.as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("<SOPS:{hex}:PLACEHOLDER>")
}

/// A node of a sops file's tree, as [`walk_key`] sees it (the callers' trees are
/// sealbox-formats documents; this crate does not know them).
pub trait KeyNode: Copy {
    /// The value at `key` when this is a map (`Ok(None)`: no such key); `Err(())` when
    /// this is not a map.
    #[allow(clippy::result_unit_err)]
    fn get(self, key: &str) -> Result<Option<Self>, ()>;
    /// `None` when this is a string (what a secret's value must be); else what it is
    /// (`map`, `integer`, …).
    fn non_string(self) -> Option<&'static str>;
}

/// Walks a secret's `key` (`a/b/c`) from `root`, with the messages sops-nix uses
/// (docs/activation.md#decryption): the string value, or what went wrong where.
pub fn walk_key<N: KeyNode>(root: N, key: &str) -> Result<N, String> {
    let parts: Vec<&str> = key.split('/').collect();
    let mut cur = root;
    for (i, p) in parts.iter().enumerate() {
        cur = match cur.get(p) {
            Ok(Some(next)) => next,
            Ok(None) => {
                return Err(format!(
                    "the key '{}' cannot be found",
                    parts[..=i].join("/")
                ))
            }
            Err(()) => {
                return Err(format!(
                    "key '{}' does not refer to a dictionary",
                    parts[..i].join("/")
                ))
            }
        };
    }
    match cur.non_string() {
        None => Ok(cur),
        // quirk 7: fix – the message names the full key path, not its parent.
        Some(kind) => Err(format!(
            "the value of key '{key}' is not a string (it is a {kind}); secrets must be strings"
        )),
    }
}

impl KeyNode for &crate::Value {
    fn get(self, key: &str) -> Result<Option<Self>, ()> {
        match self {
            crate::Value::Object(o) => Ok(o.iter().find(|(k, _)| k == key).map(|(_, v)| v)),
            _ => Err(()),
        }
    }
    fn non_string(self) -> Option<&'static str> {
        match self {
            crate::Value::Str(_) => None,
            v => Some(v.kind()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Value;

    #[test]
    fn names() {
        for ok in ["a", "a/b", "x.y", "..a", "a..b"] {
            assert!(check_name(ok).is_ok(), "{ok}");
        }
        for bad in [
            "", "/a", "../a", "a/../b", "a/..", "a//b", "a/", "./a", "a\nb", "a\0b",
        ] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn paths() {
        for ok in ["", "/etc/a", "/etc/..a/b", "%r/secrets/x"] {
            assert!(check_path(ok).is_ok(), "{ok}");
        }
        for bad in [
            "rel/a",
            "/etc/../shadow",
            "/a/..",
            "/a\nb",
            "/a\0b",
            "/a\rb",
        ] {
            assert!(check_path(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn locations_units_and_nesting() {
        assert!(is_within("/run/a/b", "/run/a") && is_within("/run/a", "/run/a"));
        assert!(!is_within("/run/ab", "/run/a") && is_within("/x", "/"));
        for ok in ["/run/secrets", "%r/secrets.d", "/a/..b"] {
            assert!(check_plain("p", ok).is_ok(), "{ok}");
        }
        for bad in ["/", "%r/", "rel", "/a//b", "/a/", "/a/./b", "/a/../b", ""] {
            assert!(check_plain("p", bad).is_err(), "{bad:?}");
        }
        let m = |mp: &str, link: &str| Manifest {
            secrets_mount_point: mp.into(),
            symlink_path: link.into(),
            ..Manifest::default()
        };
        assert!(check_locations(&m("/run/secrets.d", "/run/secrets")).is_empty());
        assert!(check_locations(&m("", "")).is_empty());
        for (mp, link, why) in [
            ("/run", "/run/secrets", "system directory"),
            ("/nix/store/x", "/run/secrets", "inside /nix/store"),
            ("/run/s", "/run/s", "the same path"),
            ("/run/s", "/run/s/cur", "inside secretsMountPoint"),
            ("/run/s/d", "/run/s", "inside symlinkPath"),
        ] {
            let e = check_locations(&m(mp, link));
            assert!(e.len() == 1 && e[0].contains(why), "{mp} {link}: {e:?}");
        }
        for ok in [
            "nginx.service",
            "a@b.service",
            "x-y_z.timer",
            "a\\x2db.mount",
        ] {
            assert!(check_unit(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "-x.service",
            "a b.service",
            "a.service\nb.service",
            "noext",
            "a/b.service",
        ] {
            assert!(check_unit(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn modes() {
        assert_eq!(parse_mode("0400").unwrap(), 0o400);
        assert_eq!(parse_mode("440").unwrap(), 0o440);
        assert_eq!(parse_mode("4755").unwrap(), 0o755);
        assert_eq!(parse_mode("177777").unwrap(), 0o777);
        for bad in ["", "0999", "+400", "0o400", "1777777", "rw"] {
            assert!(parse_mode(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn formats() {
        assert_eq!(parse_format("").unwrap(), Format::Yaml);
        assert_eq!(parse_format("ini").unwrap(), Format::Ini);
        assert!(parse_format("toml").unwrap_err().contains("toml"));
    }

    fn doc() -> Value {
        let obj = |pairs: Vec<(&str, Value)>| {
            Value::Object(pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
        };
        let inner = obj(vec![("leaf", Value::str("v")), ("num", Value::Int(3))]);
        obj(vec![("a", inner), ("s", Value::str("x"))])
    }

    #[test]
    fn key_walk_messages() {
        let d = &doc();
        assert_eq!(walk_key(d, "a/leaf").unwrap().as_str(), Some("v"));
        assert_eq!(walk_key(d, "s").unwrap().as_str(), Some("x"));
        assert_eq!(
            walk_key(d, "a/nope").unwrap_err(),
            "the key 'a/nope' cannot be found"
        );
        assert_eq!(
            walk_key(d, "s/x").unwrap_err(),
            "key 's' does not refer to a dictionary"
        );
        assert!(walk_key(d, "a/num")
            .unwrap_err()
            .contains("'a/num' is not a string"));
        assert!(walk_key(d, "a")
            .unwrap_err()
            .contains("'a' is not a string"));
    }

    #[test]
    fn credential_names() {
        for ok in ["db-password", "a.b", "x_y", "with space", "a..b"] {
            assert!(check_credential_name(ok).is_ok(), "{ok}");
        }
        for bad in ["", ".", "..", "a/b", "../x", ".hidden", "a:b", "a\nb", "é"] {
            assert!(check_credential_name(bad).is_err(), "{bad:?}");
        }
        assert!(check_credential_name(&"x".repeat(256)).is_err());
    }

    #[test]
    fn placeholder_is_the_modules() {
        assert_eq!(
            placeholder("test_key"),
            "<SOPS:92488e1e3eeecdf99f3ed2ce59233efb4b4fb612d5655c0ce9ea52b5a502e655:PLACEHOLDER>"
        );
    }
}
