//! Manifest validation (step 3 of docs/activation.md#the-activation-sequence, and
//! docs/activation.md#check-modes): names, modes, formats, owners, placeholders, template
//! texts and – in `sopsfile` check mode – the encrypted files themselves.

use crate::manifest::{Common, Manifest};
use sealbox_formats::store::{self, Format};
use sealbox_formats::{Document, Value};

/// A resolved secret or template: what gets written where, with which mode and owner.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    /// Relative name (validated).
    pub name: String,
    /// The custom path ("" or the default means no extra symlink).
    pub path: String,
    /// Permission bits, already `& 0o777`.
    pub mode: u32,
    /// Resolved owner.
    pub uid: u32,
    /// Resolved group.
    pub gid: u32,
    /// Units to restart on change.
    pub restart_units: Vec<String>,
    /// Units to reload on change.
    pub reload_units: Vec<String>,
}

/// A validated secret.
#[derive(Clone, Debug, PartialEq)]
pub struct PlannedSecret {
    /// Where and how.
    pub entry: Entry,
    /// Key path ("" = whole file).
    pub key: String,
    /// Encrypted file.
    pub sops_file: String,
    /// Its format.
    pub format: Format,
    /// Its placeholder when templates exist.
    pub placeholder: Option<String>,
    /// `credentialName` (validated): also placed in the systemd credential store.
    pub credential: Option<String>,
}

/// A validated template.
#[derive(Clone, Debug, PartialEq)]
pub struct PlannedTemplate {
    /// Where and how (name relative to `rendered/`).
    pub entry: Entry,
    /// The template text.
    pub text: String,
}

/// How owners and groups are resolved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Owners {
    /// Look names up in the user and group databases.
    Lookup,
    /// Everything 0/0 (`-ignore-passwd`, dry activation).
    Root,
    /// No lookups, values as given (check modes: nothing is looked up).
    Unresolved,
}

/// What to check (docs/activation.md#check-modes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Depth {
    /// Manifest only.
    Manifest,
    /// Also parse the encrypted files and check that keys exist.
    SopsFile,
}

/// The validated manifest.
#[derive(Debug, Default)]
pub struct Plan {
    /// Secrets in manifest order.
    pub secrets: Vec<PlannedSecret>,
    /// Templates in manifest order.
    pub templates: Vec<PlannedTemplate>,
    /// With `--keep-going`: the errors of templates left out because their file could
    /// not be read (reported as failures; the rest is installed).
    pub unreadable: Vec<String>,
}

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
const SYSTEM_DIRS: &[&str] = &[
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
const FORBIDDEN_TREES: &[&str] = &["/nix/store", "/proc", "/sys", "/dev"];

/// Whether `p` is `dir` or below it (both plain paths).
fn is_within(p: &str, dir: &str) -> bool {
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
/// kernel filesystem, distinct and not inside each other. One message per problem.
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
    errs.into_iter()
        .map(|e| format!("manifest is not valid: {e}"))
        .collect()
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

/// Looks up a user's uid in the user database.
pub fn lookup_user(name: &str) -> Result<u32, String> {
    match nix::unistd::User::from_name(name) {
        Ok(Some(u)) => Ok(u.uid.as_raw()),
        Ok(None) => Err(format!(
            "failed to lookup user '{name}': no such user; create it or fix 'owner'"
        )),
        Err(e) => Err(format!("failed to lookup user '{name}': {e}")),
    }
}

/// Looks up a group's gid in the group database.
pub fn lookup_group(name: &str) -> Result<Option<u32>, String> {
    match nix::unistd::Group::from_name(name) {
        Ok(g) => Ok(g.map(|g| g.gid.as_raw())),
        Err(e) => Err(format!("failed to lookup group '{name}': {e}")),
    }
}

fn resolve(c: &Common, owners: Owners) -> Result<(u32, u32), String> {
    match owners {
        Owners::Root => Ok((0, 0)),
        Owners::Unresolved => Ok((c.uid, c.gid)),
        Owners::Lookup => {
            let uid = match &c.owner {
                Some(o) => lookup_user(o)?,
                None => c.uid,
            };
            let gid = match &c.group {
                Some(g) => lookup_group(g)?.ok_or_else(|| {
                    format!("failed to lookup group '{g}': no such group; create it or fix 'group'")
                })?,
                None => c.gid,
            };
            Ok((uid, gid))
        }
    }
}

fn entry(c: &Common, owners: Owners) -> Result<Entry, String> {
    check_name(&c.name)?;
    check_path(&c.path)?;
    let mode = parse_mode(&c.mode)?;
    let (uid, gid) = resolve(c, owners)?;
    // (uid_t)-1 tells chown "leave it": the file would silently stay root's. (In check
    // modes names are not looked up: a number next to a name is not used.)
    let unresolved = owners == Owners::Unresolved;
    for (what, v, named, field) in [
        ("uid", uid, c.owner.is_some(), "owner/uid"),
        ("gid", gid, c.group.is_some(), "group/gid"),
    ] {
        if v == u32::MAX && !(unresolved && named) {
            return Err(format!(
                "{what} 4294967295 is -1, which chown takes as \"leave unchanged\" (the file would stay root's); give a real {what} in `{field}`"
            ));
        }
    }
    for u in c.restart_units.iter().chain(&c.reload_units) {
        check_unit(u)?;
    }
    Ok(Entry {
        name: c.name.clone(),
        path: c.path.clone(),
        mode,
        uid,
        gid,
        restart_units: c.restart_units.clone(),
        reload_units: c.reload_units.clone(),
    })
}

/// Where a key-walk failed (docs/activation.md#decryption), with the messages sops-nix uses.
pub fn walk_key<'a>(doc: &'a Document, key: &str) -> Result<&'a Value, String> {
    let parts: Vec<&str> = key.split('/').collect();
    let mut cur: Option<&Value> = None;
    for (i, p) in parts.iter().enumerate() {
        let prefix = parts[..=i].join("/");
        let map = match cur {
            None => doc,
            Some(Value::Map(m)) => m,
            Some(_) => {
                return Err(format!(
                    "key '{}' does not refer to a dictionary",
                    parts[..i].join("/")
                ))
            }
        };
        cur = Some(
            map.get(p)
                .ok_or_else(|| format!("the key '{prefix}' cannot be found"))?,
        );
    }
    let v = cur.expect("split yields at least one part");
    match v {
        Value::Str(_) | Value::Bytes(_) => Ok(v),
        // quirk 7: fix – the message names the full key path, not its parent.
        other => Err(format!(
            "the value of key '{key}' is not a string (it is a {}); secrets must be strings",
            other.kind()
        )),
    }
}

/// Validates the manifest. Returns every problem found, one line each, naming the secret
/// or template. Template files and (sopsfile depth) encrypted files are read.
pub fn validate(m: &Manifest, owners: Owners, depth: Depth) -> Result<Plan, Vec<String>> {
    validate_opts(m, owners, depth, false)
}

/// [`validate`]; with `defer_unreadable` (an activation with `--keep-going`), a template
/// whose file cannot be read is left out of the plan and its error put in
/// [`Plan::unreadable`] instead of failing the whole manifest.
pub fn validate_opts(
    m: &Manifest,
    owners: Owners,
    depth: Depth,
    defer_unreadable: bool,
) -> Result<Plan, Vec<String>> {
    let mut errs = Vec::new();
    let mut plan = Plan::default();
    if !m.gnupg_home.is_empty() && (!m.ssh_key_paths.is_empty() || !m.age_key_file.is_empty()) {
        errs.push("manifest is not valid: gnupgHome and sshKeyPaths|ageKeyFile were specified in the manifest. Both options are mutually exclusive.".to_string());
    }
    errs.extend(check_locations(m));
    let mut file_formats: Vec<(String, Format, String)> = Vec::new();
    let mut parsed: Vec<(String, Format, Result<Vec<Document>, String>)> = Vec::new();
    let mut names: Vec<&str> = Vec::new();
    for s in &m.secrets {
        let n = &s.common.name;
        let fail = |e: String| format!("manifest is not valid: secret {n}: {e}");
        if names.contains(&n.as_str()) {
            errs.push(fail(
                "another secret has the same name; names must be unique".into(),
            ));
            continue;
        }
        names.push(n);
        let e = match entry(&s.common, owners) {
            Ok(e) => e,
            Err(e) => {
                errs.push(fail(e));
                continue;
            }
        };
        if !m.templates.is_empty() && n.split('/').next() == Some("rendered") {
            errs.push(fail(
                "the name 'rendered' is reserved for templates; rename the secret".into(),
            ));
            continue;
        }
        let format = match parse_format(&s.format) {
            Ok(f) => f,
            Err(e) => {
                errs.push(fail(e));
                continue;
            }
        };
        if s.sops_file.is_empty() {
            errs.push(fail("'sopsFile' is empty; name the encrypted file".into()));
            continue;
        }
        if let Some((_, f0, first)) = file_formats.iter().find(|(f, _, _)| *f == s.sops_file) {
            if *f0 != format {
                errs.push(fail(format!(
                    "it defines the format of {} as {}, but it was specified as {} in {first} before; use one format per file",
                    s.sops_file,
                    format.name(),
                    f0.name()
                )));
                continue;
            }
        } else {
            file_formats.push((s.sops_file.clone(), format, n.clone()));
        }
        if depth == Depth::SopsFile {
            if !parsed.iter().any(|(f, _, _)| *f == s.sops_file) {
                parsed.push((
                    s.sops_file.clone(),
                    format,
                    parse_encrypted(&s.sops_file, format),
                ));
            }
            let (_, _, docs) = parsed.iter().find(|(f, _, _)| *f == s.sops_file).unwrap();
            match docs {
                Err(e) => {
                    errs.push(fail(e.clone()));
                    continue;
                }
                Ok(docs) => {
                    if matches!(format, Format::Yaml | Format::Json) && !s.key.is_empty() {
                        let doc = docs.first().cloned().unwrap_or_default();
                        if let Err(e) = walk_key(&doc, &s.key) {
                            errs.push(format!(
                                "manifest is not valid: secret {n} in {} is not valid: {e}",
                                s.sops_file
                            ));
                            continue;
                        }
                    }
                }
            }
        }
        let placeholder = if m.templates.is_empty() {
            None
        } else {
            match m.placeholder(n) {
                Some(p) if !p.is_empty() => Some(p.to_string()),
                _ => {
                    errs.push(fail(format!(
                        "placeholder for {n} not found in manifest (placeholderBySecretName); regenerate the manifest"
                    )));
                    continue;
                }
            }
        };
        let credential = match &s.credential_name {
            None => None,
            Some(c) => {
                if let Err(e) = crate::credstore::check_name(c) {
                    errs.push(fail(format!("credentialName: {e}")));
                    continue;
                }
                if m.user_mode {
                    errs.push(fail(
                        "credentialName is not supported in user mode (the credential store is system-wide); remove it".into(),
                    ));
                    continue;
                }
                if let Some(other) = plan
                    .secrets
                    .iter()
                    .find(|p| p.credential.as_deref() == Some(c.as_str()))
                {
                    errs.push(fail(format!(
                        "credentialName '{c}' is already used by secret {}; credential names must be unique",
                        other.entry.name
                    )));
                    continue;
                }
                Some(c.clone())
            }
        };
        plan.secrets.push(PlannedSecret {
            entry: e,
            key: s.key.clone(),
            sops_file: s.sops_file.clone(),
            format,
            placeholder,
            credential,
        });
    }
    let mut tnames: Vec<&str> = Vec::new();
    for t in &m.templates {
        let n = &t.common.name;
        let fail = |e: String| format!("manifest is not valid: template {n}: {e}");
        if tnames.contains(&n.as_str()) {
            errs.push(fail(
                "another template has the same name; names must be unique".into(),
            ));
            continue;
        }
        tnames.push(n);
        let e = match entry(&t.common, owners) {
            Ok(e) => e,
            Err(e) => {
                errs.push(fail(e));
                continue;
            }
        };
        let text = if !t.content.is_empty() {
            t.content.clone()
        } else if !t.file.is_empty() {
            match sealbox_os::inputs::read_text(
                std::path::Path::new(&t.file),
                sealbox_os::inputs::MAX_TEMPLATE_FILE,
            ) {
                Ok(s) => s.to_string(),
                Err(err) => {
                    let e = fail(format!("cannot read {}: {err}", t.file));
                    if defer_unreadable {
                        plan.unreadable.push(e);
                    } else {
                        errs.push(e);
                    }
                    continue;
                }
            }
        } else {
            errs.push(fail(format!(
                "neither content nor file was specified for template {n}"
            )));
            continue;
        };
        plan.templates.push(PlannedTemplate { entry: e, text });
    }
    errs.extend(check_custom_paths(m, &plan));
    if errs.is_empty() {
        Ok(plan)
    } else {
        Err(errs)
    }
}

/// Where a custom `path` may not go (one message per entry): a system directory, the
/// mount point or inside it, `symlinkPath` or one of its parents, the installed location
/// of another entry, or the custom path of another entry.
fn check_custom_paths(m: &Manifest, plan: &Plan) -> Vec<String> {
    let link = m.symlink_path.as_str();
    let mp = m.secrets_mount_point.as_str();
    let default = |kind: &str, name: &str| match kind {
        "secret" => format!("{link}/{name}"),
        _ => format!("{link}/rendered/{name}"),
    };
    let all: Vec<(&str, &Entry)> = plan
        .secrets
        .iter()
        .map(|s| ("secret", &s.entry))
        .chain(plan.templates.iter().map(|t| ("template", &t.entry)))
        .collect();
    let mut errs = Vec::new();
    for (i, (kind, e)) in all.iter().enumerate() {
        let p = e.path.as_str();
        if p.is_empty() || (!link.is_empty() && p == default(kind, &e.name)) {
            continue;
        }
        let problem = if SYSTEM_DIRS.contains(&p) {
            Some("it is a system directory, which the symlink would replace".to_string())
        } else if let Some(t) = FORBIDDEN_TREES.iter().find(|t| is_within(p, t)) {
            Some(format!("it is inside {t}, where sealbox must not write"))
        } else if !mp.is_empty() && is_within(p, mp) {
            Some(format!(
                "it is inside secretsMountPoint {mp:?}, among the generations and age-keys.txt"
            ))
        } else if !mp.is_empty() && is_within(mp, p) {
            Some(format!(
                "it is a parent directory of secretsMountPoint {mp:?}"
            ))
        } else if !link.is_empty() && is_within(link, p) {
            Some(format!(
                "it is symlinkPath {link:?} or one of its parent directories"
            ))
        } else if let Some((k2, e2)) = all
            .iter()
            .find(|(k2, e2)| !link.is_empty() && default(k2, &e2.name) == p)
        {
            Some(format!("it is where {k2} {} is installed", e2.name))
        } else {
            all[..i]
                .iter()
                .find(|(_, e2)| e2.path == p)
                .map(|(k2, e2)| format!("{k2} {} has the same path", e2.name))
        };
        if let Some(why) = problem {
            errs.push(format!(
                "manifest is not valid: {kind} {}: path {p:?}: {why}; give each secret and template a path of its own",
                e.name
            ));
        }
    }
    errs
}

fn parse_encrypted(file: &str, format: Format) -> Result<Vec<Document>, String> {
    let bytes = sealbox_os::inputs::read(
        std::path::Path::new(file),
        sealbox_os::inputs::MAX_SOPS_FILE,
    )
    .map_err(|e| format!("failed reading {file}: {e}"))?;
    store::load_encrypted(format, &bytes, file)
        .map(|(docs, _)| docs)
        .map_err(|e| {
            format!(
                "cannot parse {} of '{file}': {}",
                format.name(),
                crate::decrypt::strip_file(&e.message, file)
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use sealbox_formats::Map;

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

    fn doc() -> Document {
        let mut inner = Map::new();
        inner.push("leaf", Value::str("v"));
        inner.push("num", Value::Int(3));
        let mut top = Map::new();
        top.push("a", Value::Map(inner));
        top.push("s", Value::str("x"));
        top
    }

    #[test]
    fn key_walk_messages() {
        let d = doc();
        assert_eq!(walk_key(&d, "a/leaf").unwrap().as_str(), Some("v"));
        assert_eq!(walk_key(&d, "s").unwrap().as_str(), Some("x"));
        assert_eq!(
            walk_key(&d, "a/nope").unwrap_err(),
            "the key 'a/nope' cannot be found"
        );
        assert_eq!(
            walk_key(&d, "s/x").unwrap_err(),
            "key 's' does not refer to a dictionary"
        );
        assert!(walk_key(&d, "a/num")
            .unwrap_err()
            .contains("'a/num' is not a string"));
        assert!(walk_key(&d, "a")
            .unwrap_err()
            .contains("'a' is not a string"));
    }
}
