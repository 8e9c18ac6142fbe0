//! Manifest validation (spec §4 step 3, §9): names, modes, formats, owners, placeholders,
//! template texts and – in `sopsfile` check mode – the encrypted files themselves.

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

/// What to check (spec §9).
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

/// Checks an entry's `path` (where its symlink goes): empty (the default) or absolute, no
/// `..` component, no NUL or newline.
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
    Ok(())
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

/// Where a key-walk failed (spec §5), with the messages sops-nix uses.
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
            match crate::inputs::read_text(
                std::path::Path::new(&t.file),
                crate::inputs::MAX_TEMPLATE_FILE,
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
    if errs.is_empty() {
        Ok(plan)
    } else {
        Err(errs)
    }
}

fn parse_encrypted(file: &str, format: Format) -> Result<Vec<Document>, String> {
    let bytes = crate::inputs::read(std::path::Path::new(file), crate::inputs::MAX_SOPS_FILE)
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
