//! Manifest validation (step 3 of docs/activation.md#the-activation-sequence, and
//! docs/activation.md#check-modes): names, modes, formats, owners, placeholders, template
//! texts, custom paths and – at [`Depth::SopsFile`] – the encrypted files themselves.
//!
//! Every problem is reported (one [`Problem`] each, naming the secret or template), in
//! manifest order: the manifest-wide checks, then each secret, each template, then the
//! custom paths. What needs the machine (the user and group databases, template files,
//! sops files) is asked of a [`Host`], so this stays pure: `sealbox-install` answers
//! with the real system, `sealbox manifest` with the description's machine.

use crate::model::{Common, Manifest, Secret, Template};
use crate::rules::{
    check_credential_name, check_locations, check_name, check_path, check_unit, is_within,
    parse_format, parse_mode, walk_key, Format, FORBIDDEN_TREES, SYSTEM_DIRS,
};
use crate::sopsfile::{sops_document, SopsFileError};
use crate::value::Value;
use std::collections::BTreeMap;

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

/// How a validation runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Checks {
    /// How owners and groups are resolved.
    pub owners: Owners,
    /// What is checked.
    pub depth: Depth,
    /// An activation with `--keep-going`: a template whose file cannot be read is left out
    /// of the plan and its problem put in [`Plan::unreadable`] instead of failing the
    /// whole manifest.
    pub defer_unreadable: bool,
}

/// The validated manifest.
#[derive(Debug, Default)]
pub struct Plan {
    /// Secrets in manifest order.
    pub secrets: Vec<PlannedSecret>,
    /// Templates in manifest order.
    pub templates: Vec<PlannedTemplate>,
    /// With [`Checks::defer_unreadable`]: the templates left out because their file could
    /// not be read (reported as failures; the rest is installed).
    pub unreadable: Vec<Problem>,
}

/// Secret or template.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EntryKind {
    /// A secret.
    Secret,
    /// A template.
    Template,
}

impl EntryKind {
    /// `secret` or `template`.
    pub fn name(self) -> &'static str {
        match self {
            EntryKind::Secret => "secret",
            EntryKind::Template => "template",
        }
    }
}

/// A secret or template, by name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EntryRef {
    /// Which list it is in.
    pub kind: EntryKind,
    /// Its name.
    pub name: String,
}

impl std::fmt::Display for EntryRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.kind.name(), self.name)
    }
}

/// What a problem is about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Subject {
    /// The manifest as a whole.
    Manifest,
    /// One entry.
    Entry(EntryRef),
    /// The key of a secret in its sops file (`sopsfile` depth).
    KeyIn(EntryRef, String),
}

/// One problem of a manifest: what it is about and what is wrong (and what to do).
/// Displayed as sealbox-install reports it: `manifest is not valid: secret NAME: …`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// What it is about.
    pub subject: Subject,
    /// What is wrong.
    pub detail: String,
}

impl Problem {
    fn entry(kind: EntryKind, name: &str, detail: String) -> Problem {
        Problem {
            subject: Subject::Entry(EntryRef {
                kind,
                name: name.to_string(),
            }),
            detail,
        }
    }

    fn manifest(detail: String) -> Problem {
        Problem {
            subject: Subject::Manifest,
            detail,
        }
    }

    /// The message without "manifest is not valid: ", with the entry named by `label`
    /// (sealbox-install: `secret NAME`; `sealbox manifest`: `secrets.NAME`).
    pub fn message(&self, label: impl Fn(&EntryRef) -> String) -> String {
        match &self.subject {
            Subject::Manifest => self.detail.clone(),
            Subject::Entry(e) => format!("{}: {}", label(e), self.detail),
            Subject::KeyIn(e, file) => {
                format!("{} in {file} is not valid: {}", label(e), self.detail)
            }
        }
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "manifest is not valid: {}",
            self.message(|e| e.to_string())
        )
    }
}

/// What validation asks of the machine.
pub trait Host {
    /// The uid of user `name`; `Ok(None)` when there is no such user, `Err` when the
    /// lookup itself failed (the system's message).
    fn user(&mut self, name: &str) -> Result<Option<u32>, String>;
    /// The gid of group `name`, as [`Host::user`].
    fn group(&mut self, name: &str) -> Result<Option<u32>, String>;
    /// The text of the template file `path` (`Err`: why it cannot be read).
    fn template_text(&mut self, path: &str) -> Result<String, String>;
    /// [`Depth::SopsFile`]: the bytes of the encrypted sops file `file` (`Err`: why it
    /// cannot be read). Asked once per file; validation parses it (sealbox-formats' stores)
    /// and looks for each secret's key.
    fn sops_file(&mut self, file: &str) -> Result<Vec<u8>, String>;
}

/// Validates the manifest: the plan of what to install, or every problem found.
pub fn validate(m: &Manifest, checks: Checks, host: &mut dyn Host) -> Result<Plan, Vec<Problem>> {
    let mut v = Validator {
        m,
        checks,
        host,
        problems: manifest_wide(m),
        plan: Plan::default(),
        formats: Vec::new(),
        sops_documents: BTreeMap::new(),
    };
    let mut names: Vec<&str> = Vec::new();
    for s in &m.secrets {
        let n = s.common.name.as_str();
        if names.contains(&n) {
            v.fail(
                EntryKind::Secret,
                n,
                "another secret has the same name; names must be unique",
            );
            continue;
        }
        names.push(n);
        v.secret(s);
    }
    let mut names: Vec<&str> = Vec::new();
    for t in &m.templates {
        let n = t.common.name.as_str();
        if names.contains(&n) {
            v.fail(
                EntryKind::Template,
                n,
                "another template has the same name; names must be unique",
            );
            continue;
        }
        names.push(n);
        v.template(t);
    }
    let Validator {
        mut problems, plan, ..
    } = v;
    problems.extend(custom_paths(m, &plan));
    if problems.is_empty() {
        Ok(plan)
    } else {
        Err(problems)
    }
}

/// The checks of the manifest as a whole: key sources, mount point and symlink.
fn manifest_wide(m: &Manifest) -> Vec<Problem> {
    let mut out = Vec::new();
    if !m.gnupg_home.is_empty() && (!m.ssh_key_paths.is_empty() || !m.age_key_file.is_empty()) {
        out.push(Problem::manifest("gnupgHome and sshKeyPaths|ageKeyFile were specified in the manifest. Both options are mutually exclusive.".to_string()));
    }
    out.extend(check_locations(m).into_iter().map(Problem::manifest));
    out
}

struct Validator<'m, 'h> {
    m: &'m Manifest,
    checks: Checks,
    host: &'h mut dyn Host,
    problems: Vec<Problem>,
    plan: Plan,
    /// sops file → (its format, the first secret that named it).
    formats: Vec<(&'m str, Format, &'m str)>,
    /// [`Depth::SopsFile`]: each sops file's first document (each file parsed once), or why
    /// there is none.
    sops_documents: BTreeMap<&'m str, Result<Value, SopsFileError>>,
}

impl<'m> Validator<'m, '_> {
    fn fail(&mut self, kind: EntryKind, name: &str, detail: impl Into<String>) {
        self.problems
            .push(Problem::entry(kind, name, detail.into()));
    }

    /// Checks one secret; a valid one goes into the plan.
    fn secret(&mut self, s: &'m Secret) {
        match self.secret_plan(s) {
            Ok(p) => self.plan.secrets.push(p),
            Err(p) => self.problems.push(p),
        }
    }

    fn secret_plan(&mut self, s: &'m Secret) -> Result<PlannedSecret, Problem> {
        let n = s.common.name.as_str();
        let fail = |d: String| Problem::entry(EntryKind::Secret, n, d);
        let entry = entry(&s.common, self.checks.owners, self.host).map_err(fail)?;
        if !self.m.templates.is_empty() && n.split('/').next() == Some("rendered") {
            return Err(fail(
                "the name 'rendered' is reserved for templates; rename the secret".into(),
            ));
        }
        let format = parse_format(&s.format).map_err(fail)?;
        if s.sops_file.is_empty() {
            return Err(fail("'sopsFile' is empty; name the encrypted file".into()));
        }
        self.one_format_per_file(s, format).map_err(fail)?;
        if self.checks.depth == Depth::SopsFile {
            self.check_key(s, format)?;
        }
        let placeholder = self.placeholder(n).map_err(fail)?;
        let credential = self.credential(s).map_err(fail)?;
        Ok(PlannedSecret {
            entry,
            key: s.key.clone(),
            sops_file: s.sops_file.clone(),
            format,
            placeholder,
            credential,
        })
    }

    /// [`Depth::SopsFile`]: the secret's file parses and has its key.
    fn check_key(&mut self, s: &'m Secret, format: Format) -> Result<(), Problem> {
        let (n, file) = (s.common.name.as_str(), s.sops_file.as_str());
        let host = &mut *self.host;
        let doc = self.sops_documents.entry(file).or_insert_with(|| {
            let bytes = host.sops_file(file).map_err(SopsFileError::Unreadable)?;
            sops_document(&bytes, file, format)
        });
        let doc = doc.as_ref().map_err(|e| {
            Problem::entry(
                EntryKind::Secret,
                n,
                match e {
                    SopsFileError::Unreadable(e) => format!("failed reading {file}: {e}"),
                    SopsFileError::Unparsable(e) => {
                        format!("cannot parse {} of '{file}': {e}", format.name())
                    }
                },
            )
        })?;
        if format.has_keys() && !s.key.is_empty() {
            walk_key(doc, &s.key).map_err(|detail| Problem {
                subject: Subject::KeyIn(
                    EntryRef {
                        kind: EntryKind::Secret,
                        name: n.to_string(),
                    },
                    file.to_string(),
                ),
                detail,
            })?;
        }
        Ok(())
    }

    /// A sops file has one format throughout the manifest.
    fn one_format_per_file(&mut self, s: &'m Secret, format: Format) -> Result<(), String> {
        match self.formats.iter().find(|(f, _, _)| *f == s.sops_file) {
            Some((_, f0, first)) if *f0 != format => Err(format!(
                "it defines the format of {} as {}, but it was specified as {} in {first} before; use one format per file",
                s.sops_file,
                format.name(),
                f0.name()
            )),
            Some(_) => Ok(()),
            None => {
                self.formats
                    .push((&s.sops_file, format, &s.common.name));
                Ok(())
            }
        }
    }

    /// The placeholder of secret `n` when the manifest has templates.
    fn placeholder(&self, n: &str) -> Result<Option<String>, String> {
        if self.m.templates.is_empty() {
            return Ok(None);
        }
        match self.m.placeholder(n) {
            Some(p) if !p.is_empty() => Ok(Some(p.to_string())),
            _ => Err(format!(
                "placeholder for {n} not found in manifest (placeholderBySecretName); regenerate the manifest"
            )),
        }
    }

    /// The secret's `credentialName`: valid, system mode only, unique.
    fn credential(&self, s: &Secret) -> Result<Option<String>, String> {
        let Some(c) = &s.credential_name else {
            return Ok(None);
        };
        check_credential_name(c).map_err(|e| format!("credentialName: {e}"))?;
        if self.m.user_mode {
            return Err("credentialName is not supported in user mode (the credential store is system-wide); remove it".into());
        }
        if let Some(other) = self
            .plan
            .secrets
            .iter()
            .find(|p| p.credential.as_deref() == Some(c.as_str()))
        {
            return Err(format!(
                "credentialName '{c}' is already used by secret {}; credential names must be unique",
                other.entry.name
            ));
        }
        Ok(Some(c.clone()))
    }

    /// Checks one template; a valid one goes into the plan (or, its file unreadable under
    /// `defer_unreadable`, into [`Plan::unreadable`]).
    fn template(&mut self, t: &Template) {
        let n = t.common.name.as_str();
        let entry = match entry(&t.common, self.checks.owners, self.host) {
            Ok(e) => e,
            Err(e) => return self.fail(EntryKind::Template, n, e),
        };
        let text = if !t.content.is_empty() {
            t.content.clone()
        } else if !t.file.is_empty() {
            match self.host.template_text(&t.file) {
                Ok(s) => s,
                Err(err) => {
                    let p = Problem::entry(
                        EntryKind::Template,
                        n,
                        format!("cannot read {}: {err}", t.file),
                    );
                    if self.checks.defer_unreadable {
                        self.plan.unreadable.push(p);
                    } else {
                        self.problems.push(p);
                    }
                    return;
                }
            }
        } else {
            return self.fail(
                EntryKind::Template,
                n,
                format!("neither content nor file was specified for template {n}"),
            );
        };
        self.plan.templates.push(PlannedTemplate { entry, text });
    }
}

/// An entry's name, path, mode, owner and units.
fn entry(c: &Common, owners: Owners, host: &mut dyn Host) -> Result<Entry, String> {
    check_name(&c.name)?;
    check_path(&c.path)?;
    let mode = parse_mode(&c.mode)?;
    let (uid, gid) = resolve(c, owners, host)?;
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

/// The uid and gid of an entry: names win over numbers.
fn resolve(c: &Common, owners: Owners, host: &mut dyn Host) -> Result<(u32, u32), String> {
    match owners {
        Owners::Root => Ok((0, 0)),
        Owners::Unresolved => Ok((c.uid, c.gid)),
        Owners::Lookup => {
            let uid = match &c.owner {
                Some(o) => host
                    .user(o)
                    .map_err(|e| format!("failed to lookup user '{o}': {e}"))?
                    .ok_or_else(|| {
                        format!(
                            "failed to lookup user '{o}': no such user; create it or fix 'owner'"
                        )
                    })?,
                None => c.uid,
            };
            let gid = match &c.group {
                Some(g) => host
                    .group(g)
                    .map_err(|e| format!("failed to lookup group '{g}': {e}"))?
                    .ok_or_else(|| {
                        format!(
                            "failed to lookup group '{g}': no such group; create it or fix 'group'"
                        )
                    })?,
                None => c.gid,
            };
            Ok((uid, gid))
        }
    }
}

/// Where a custom `path` may not go (one problem per entry): a system directory, the
/// mount point or inside it, `symlinkPath` or one of its parents, the installed location
/// of another entry, or the custom path of another entry.
fn custom_paths(m: &Manifest, plan: &Plan) -> Vec<Problem> {
    let link = m.symlink_path.as_str();
    let mp = m.secrets_mount_point.as_str();
    let default = |kind: EntryKind, name: &str| match kind {
        EntryKind::Secret => format!("{link}/{name}"),
        EntryKind::Template => format!("{link}/rendered/{name}"),
    };
    let all: Vec<(EntryKind, &Entry)> = plan
        .secrets
        .iter()
        .map(|s| (EntryKind::Secret, &s.entry))
        .chain(
            plan.templates
                .iter()
                .map(|t| (EntryKind::Template, &t.entry)),
        )
        .collect();
    let mut out = Vec::new();
    for (i, (kind, e)) in all.iter().enumerate() {
        let p = e.path.as_str();
        if p.is_empty() || (!link.is_empty() && p == default(*kind, &e.name)) {
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
            .find(|(k2, e2)| !link.is_empty() && default(*k2, &e2.name) == p)
        {
            Some(format!(
                "it is where {} {} is installed",
                k2.name(),
                e2.name
            ))
        } else {
            all[..i]
                .iter()
                .find(|(_, e2)| e2.path == p)
                .map(|(k2, e2)| format!("{} {} has the same path", k2.name(), e2.name))
        };
        if let Some(why) = problem {
            out.push(Problem::entry(
                *kind,
                &e.name,
                format!("path {p:?}: {why}; give each secret and template a path of its own"),
            ));
        }
    }
    out
}
