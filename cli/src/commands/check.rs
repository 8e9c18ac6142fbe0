//! `sealbox check`: the gate a pull request has to pass, with no private key (except with
//! `--decrypt`).
//!
//! Who is trusted: the rules (`--config`, in CI the base branch's `.sops.yaml`) and the
//! command line; not the checkout (`--root`), whose author chose every name, link, size
//! and byte. So the checkout is walked through directory descriptors that never follow a
//! symlink nor open a FIFO or device (`gate::tree`), every directory left out is named,
//! and the rules are matched against paths relative to the checkout's root, compiled once
//! (`gate::scope`).
//!
//! Each file a rule matches is read once (bounded), parsed whole and held to its rule: sound
//! metadata, the rule's recipients of every key source, the rule's selectors, and every
//! value and comment the rule's selectors encrypt being exactly one well-formed
//! `ENC[AES256_GCM,…]` (`sops::exposed_places`). A file no rule matches is reported when it
//! lies in a directory a rule is about or holds sops metadata: both are secrets the rules
//! would let through. A symlink or special file where a rule applies is a finding; others
//! are named. Checking nothing is a finding too. Findings name the file, a kind and a line,
//! never a value; every piece of text from the checkout is escaped (`gate::escape`).

use crate::context::{Context, MAX_CONFIG};
use crate::gate::escape;
use crate::gate::scope::{rule_name, Scope};
use crate::gate::tree::{Checkout, Node, Walk};
use crate::policy::{compare_keys, effective_threshold};
use crate::session::check_version;
use crate::transit::VersionPolicy;
use crate::{CheckArgs, CheckFormat};
use sealbox_formats::cipher;
use sealbox_formats::config::{absolute_clean, CreationRule};
use sealbox_formats::metadata::{Metadata, Selector};
use sealbox_formats::par;
use sealbox_formats::sops::{self, MacCheck, Selection};
use sealbox_formats::store::{self, Format};
use sealbox_formats::{timefmt, Document, Error, ErrorKind, Result};
use sealbox_keys::KeyServices;
use std::io::Write;
use std::path::Path;
use std::sync::OnceLock;

/// One problem found in one file (`.` for the run itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// The file, relative to the checkout's root.
    pub file: String,
    /// What kind of problem (`missing-recipient`, `plaintext-value`, …).
    pub kind: &'static str,
    /// One line saying what, never a value.
    pub message: String,
}

/// What to check beyond the recipients.
struct Options<'k> {
    max_age_secs: Option<i64>,
    now: i64,
    keys: Option<&'k KeyServices<'static>>,
    max_size: u64,
    /// `--min-transit-version`, and the key sources to ask for a key's latest version.
    transit: Option<(VersionPolicy, &'k KeyServices<'static>)>,
}

/// At most this many files are checked at once.
const MAX_THREADS: usize = 16;

/// Plaintext places reported per file (the count says how many more).
const MAX_EXPOSED: usize = 10;

/// A `lastmodified` this far ahead of the clock is in the future (clock skew below it).
const FUTURE_SKEW_SECS: i64 = 300;

/// What the run does with one name of the checkout.
enum Job<'c> {
    /// Check the file against its rule.
    Check(&'c str, &'c CreationRule),
    /// No rule matches: look for sops metadata in it (its size).
    Scan(&'c str, u64),
}

/// Runs `sealbox check`; whether there were no findings.
pub fn run(cx: &Context, a: &CheckArgs) -> Result<bool> {
    if a.root.is_some() && cx.config_flag().is_none() {
        return Err(Error::new(
            ErrorKind::ConflictingOptions,
            "check --root needs --config: the rules to hold the checkout to",
        )
        .with_hint("pass the trusted rules, e.g. the base branch's .sops.yaml: --config BASE/.sops.yaml --root CHECKOUT"));
    }
    let cfg = cx.load_config()?.ok_or_else(|| {
        Error::new(ErrorKind::InvalidConfig, "no .sops.yaml found")
            .with_hint("check compares files with the creation rules of .sops.yaml; pass --config")
    })?;
    let scope = Scope::new(&cfg, &a.exclude)?.ok_or_else(|| {
        Error::new(
            ErrorKind::InvalidConfig,
            format!("{}: no creation_rules to check against", cfg.path.display()),
        )
    })?;
    let cwd = crate::context::current_dir()?;
    let config_abs = absolute_clean(&cfg.path);
    let root = match &a.root {
        Some(r) => absolute_clean(&cwd.join(r)),
        None => config_abs
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| cwd.clone()),
    };
    let checkout = Checkout::open(&root).map_err(|e| {
        Error::new(
            ErrorKind::NoFile,
            format!("cannot open the checkout {}: {e}", root.display()),
        )
    })?;
    let walk = walk(&checkout, a, &cwd)?;
    let mut notes = Vec::new();
    let config_rel = config_abs
        .strip_prefix(&root)
        .ok()
        .and_then(Path::to_str)
        .map(str::to_string);
    if a.root.is_some() && config_rel.is_none() {
        note_checkout_config(&checkout, &cfg.path, &mut notes);
    }

    // Classify every name: a job, a finding, a note.
    let mut findings = Vec::new();
    let mut jobs = Vec::new();
    let mut excluded = Vec::new();
    for e in &walk.entries {
        let rel = e.rel.as_str();
        if rel == ".sops.yaml" || config_rel.as_deref() == Some(rel) {
            continue;
        }
        if scope.excluded(rel) {
            excluded.push(rel);
            continue;
        }
        let rule = scope.rule(rel);
        let reach = match (rule, scope.rule_dir_of(rel)) {
            (Some(r), _) => Some(format!("{} matches it", rule_name(r))),
            (None, Some((r, dir))) => Some(format!(
                "it lies in {dir}, the directory of {}",
                rule_name(r)
            )),
            (None, None) => None,
        };
        let mut find = |kind, message: String| findings.push(finding(rel, kind, message));
        match (&e.node, rule) {
            (Node::File(_), Some(r)) => jobs.push(Job::Check(rel, r)),
            (Node::File(st), None) => match &reach {
                Some(why) => find(
                    "no-rule",
                    format!("no creation rule matches this file, but {why}: a secret the rules would let through"),
                ),
                None => jobs.push(Job::Scan(rel, st.size)),
            },
            (Node::Symlink(target), _) => match &reach {
                Some(why) => find(
                    "symlink",
                    format!("a symlink to {target}, where {why}: not followed and not checked; a secret must be a regular file"),
                ),
                None => notes.push(format!("{rel}: a symlink to {target}: not followed")),
            },
            (Node::Other(kind), _) => match &reach {
                Some(why) => find(
                    "not-a-regular-file",
                    format!("{kind}, where {why}: never opened, not checked"),
                ),
                None => notes.push(format!("{rel}: {kind}: not opened")),
            },
        }
    }
    for (rel, why) in &walk.problems {
        findings.push(finding(rel, "unwalkable", why.clone()));
    }

    let opts = Options {
        max_age_secs: a.max_age.map(|d| (d as i64).saturating_mul(86_400)),
        now: timefmt::now_unix(),
        keys: a.decrypt.then(|| cx.keys()),
        max_size: a.max_size,
        transit: a
            .min_transit_version
            .map(|m| (VersionPolicy::new(m), cx.keys())),
    };
    let selections = Selections::new(scope.rules());
    let threads = par::threads_for(jobs.len(), 1, MAX_THREADS);
    let results = par::map(&jobs, threads, |job| {
        let mut out = Vec::new();
        match job {
            Job::Check(rel, rule) => check_file(&checkout, rel, rule, &selections, &opts, &mut out),
            Job::Scan(rel, size) if *size <= opts.max_size => {
                scan_file(&checkout, rel, opts.max_size, &mut out)
            }
            // Too large to read, and outside every rule's reach: nothing to hold it to.
            Job::Scan(..) => {}
        }
        out
    });
    findings.extend(results.into_iter().flatten());
    let checked = jobs.iter().filter(|j| matches!(j, Job::Check(..))).count();
    let unmatched = jobs.len() - checked;
    if checked == 0 && !a.allow_empty {
        findings.push(finding(
            ".",
            "nothing-checked",
            format!(
                "no file under {} matches a creation rule of {}: the gate checked nothing (--allow-empty accepts that)",
                root.display(),
                cfg.path.display()
            ),
        ));
    }
    findings.sort_by(|x, y| x.file.cmp(&y.file));

    let mut err = std::io::stderr().lock();
    for (dir, why) in &walk.skipped {
        let _ = writeln!(err, "sealbox check: skipped {}/: {why}", escape::line(dir));
    }
    for n in &notes {
        let _ = writeln!(err, "sealbox check: {}", escape::line(n));
    }
    const SHOWN: usize = 20;
    for rel in excluded.iter().take(SHOWN) {
        let _ = writeln!(
            err,
            "sealbox check: excluded by --exclude: {}",
            escape::line(rel)
        );
    }
    if excluded.len() > SHOWN {
        let _ = writeln!(
            err,
            "sealbox check: … and {} more excluded",
            excluded.len() - SHOWN
        );
    }
    drop(err);
    let text = render(&findings, a.format);
    crate::files::write_stdout(text.as_bytes())?;
    let s = |n: usize| if n == 1 { "" } else { "s" };
    eprintln!(
        "sealbox check: {checked} file{} checked, {} finding{} ({unmatched} other file{} matched no rule, {} director{} skipped, {} excluded)",
        s(checked),
        findings.len(),
        s(findings.len()),
        s(unmatched),
        walk.skipped.len(),
        if walk.skipped.len() == 1 { "y" } else { "ies" },
        excluded.len(),
    );
    Ok(findings.is_empty())
}

fn finding(file: &str, kind: &'static str, message: String) -> Finding {
    Finding {
        file: file.to_string(),
        kind,
        message,
    }
}

/// The names under the paths given (default: the whole checkout), each reached from the
/// root without following a symlink.
fn walk(checkout: &Checkout, a: &CheckArgs, cwd: &Path) -> Result<Walk> {
    let root = checkout.path();
    let mut starts = Vec::new();
    for p in &a.paths {
        let abs = absolute_clean(&cwd.join(p));
        let rel = abs
            .strip_prefix(root)
            .ok()
            .and_then(Path::to_str)
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::NoFile,
                    format!(
                        "{} is outside the checkout {}",
                        escape::line(&p.display().to_string()),
                        root.display()
                    ),
                )
                .with_hint("name files and directories inside the checkout, or pass --root")
            })?;
        starts.push(rel.to_string());
    }
    if starts.is_empty() {
        starts.push(String::new());
    }
    let skip = |rel: &str| -> Option<String> {
        let base = rel.rsplit('/').next().unwrap_or(rel);
        if a.skip_dir.iter().any(|d| d.trim_end_matches('/') == rel) {
            Some("--skip-dir".into())
        } else if base == ".git" && !a.no_default_skips {
            Some("version-control data (--no-default-skips walks it)".into())
        } else {
            None
        }
    };
    let mut all = Walk::default();
    for s in &starts {
        let w = checkout.walk(s, &skip).map_err(|e| {
            Error::new(
                if e.kind() == std::io::ErrorKind::NotFound {
                    ErrorKind::NoFile
                } else {
                    ErrorKind::ReadInput
                },
                format!(
                    "{}: {}",
                    if s.is_empty() { "." } else { s },
                    escape::line(&e.to_string())
                ),
            )
        })?;
        all.entries.extend(w.entries);
        all.skipped.extend(w.skipped);
        all.problems.extend(w.problems);
    }
    all.entries.sort_by(|x, y| x.rel.cmp(&y.rel));
    all.entries.dedup_by(|x, y| x.rel == y.rel);
    all.skipped.sort();
    all.skipped.dedup();
    Ok(all)
}

/// A note when the checkout carries a `.sops.yaml` other than the rules in use: its rules
/// were not used (which is the point), and a reviewer may want to look at the change.
fn note_checkout_config(checkout: &Checkout, trusted: &Path, notes: &mut Vec<String>) {
    let Ok((theirs, _)) = checkout.read(".sops.yaml", MAX_CONFIG) else {
        return;
    };
    let ours = sealbox_os::inputs::read(trusted, MAX_CONFIG).ok();
    if ours.as_deref().map(|b| &b[..]) != Some(&theirs[..]) {
        notes.push(format!(
            ".sops.yaml: the checkout's own .sops.yaml differs from {}; its rules were not used",
            trusted.display()
        ));
    }
}

/// The selection each rule's selectors make, compiled once (a binary file is held to the
/// default: sops records no selector for it).
struct Selections {
    per_rule: Vec<std::result::Result<Selection, String>>,
    default: Selection,
}

impl Selections {
    fn new(rules: &[CreationRule]) -> Selections {
        Selections {
            per_rule: rules
                .iter()
                .map(|r| {
                    Selection::new(r.selector.as_ref(), r.mac_only_encrypted).map_err(|e| e.message)
                })
                .collect(),
            default: Selection::new(None, false).expect("the default selection compiles"),
        }
    }
}

/// Reads a file no rule matches and reports it when it holds sops metadata or values.
fn scan_file(checkout: &Checkout, rel: &str, limit: u64, out: &mut Vec<Finding>) {
    let Ok((bytes, _)) = checkout.read(rel, limit) else {
        // Unreadable, and outside every rule's reach: nothing to hold it to.
        return;
    };
    if sops_marker().is_match(&bytes) {
        out.push(finding(
            rel,
            "no-rule",
            "the file holds sops metadata or encrypted values, but no creation rule matches it"
                .into(),
        ));
    }
}

/// What only a sops file holds: a `sops` block (YAML, JSON, INI), flattened metadata
/// (dotenv) or an encrypted value.
fn sops_marker() -> &'static regex::bytes::Regex {
    static RE: OnceLock<regex::bytes::Regex> = OnceLock::new();
    RE.get_or_init(|| {
        regex::bytes::Regex::new(
            r#"(?m)^sops:|"sops"[ \t\r\n]*:|^sops_(?:version|mac|lastmodified)=|^\[sops\]|ENC\[AES256_GCM,data:"#,
        )
        .expect("the marker regex compiles")
    })
}

/// Checks one file against its rule.
fn check_file(
    checkout: &Checkout,
    rel: &str,
    rule: &CreationRule,
    sel: &Selections,
    opts: &Options,
    out: &mut Vec<Finding>,
) {
    let mut add = |kind: &'static str, message: String| out.push(finding(rel, kind, message));
    if let Some(p) = rule.problem() {
        return add("bad-rule", format!("{}: {}", rule_name(rule), p.message));
    }
    if rule.key_groups.is_empty() || rule.key_groups.iter().any(|g| g.is_empty()) {
        return add(
            "bad-rule",
            format!(
                "{} has no keys{}: sops refuses to encrypt with it, and it exempts nothing",
                rule_name(rule),
                if rule.key_groups.is_empty() {
                    ""
                } else {
                    " in one of its key groups"
                }
            ),
        );
    }
    let bytes = match checkout.read(rel, opts.max_size) {
        Ok((b, _)) => b,
        // (the bounded reader's kind for a file over its limit)
        Err(e) if e.kind() == std::io::ErrorKind::InvalidData => {
            return add("too-large", format!("not read: {e} (--max-size)"));
        }
        Err(e) => return add("unreadable", format!("cannot read the file: {e}")),
    };
    let format = Format::from_path(Path::new(rel));
    let (mut docs, md) = match load(format, &bytes, rel) {
        Loaded::Ok(docs, md) => (docs, md),
        Loaded::Plain => {
            return add(
                "unencrypted",
                "no sops metadata: the file is not encrypted".into(),
            )
        }
        Loaded::Bad(msg) => return add("bad-metadata", msg),
    };
    let bad = metadata_problems(&md, rel);
    let metadata_ok = bad.is_empty();
    for m in bad {
        add("bad-metadata", m);
    }
    if let Err(e) = key_findings(rule, &md, &mut add) {
        add("bad-rule", format!("{}: {}", rule_name(rule), e.message));
    }
    let selection = if format == Format::Binary {
        Ok(&sel.default)
    } else {
        sel.per_rule[rule.index].as_ref()
    };
    match selection {
        Err(m) => add("bad-rule", format!("{}: {m}", rule_name(rule))),
        Ok(selection) => {
            selector_findings(rule, &md, format, &mut add);
            match sops::exposed_places(&mut docs, selection, MAX_EXPOSED) {
                Ok((found, total)) => {
                    for e in &found {
                        let kind = if e.what == "comment" {
                            "plaintext-comment"
                        } else {
                            "plaintext-value"
                        };
                        let at = if e.what == "comment" {
                            "a comment under"
                        } else {
                            "the value at"
                        };
                        add(
                            kind,
                            format!(
                                "{at} {} is not encrypted ({}), but the rule encrypts it",
                                e.path, e.why
                            ),
                        );
                    }
                    if total > found.len() {
                        add(
                            "plaintext-value",
                            format!("… and {} more places in plaintext", total - found.len()),
                        );
                    }
                }
                Err(e) => add("bad-metadata", e.message),
            }
        }
    }
    if let Some((policy, keys)) = &opts.transit {
        transit_findings(policy, keys, &md, &mut add);
    }
    if let (Some(max), Some(t)) = (
        opts.max_age_secs,
        timefmt::parse_rfc3339_unix(&md.lastmodified),
    ) {
        let age = opts.now - t;
        if age > max {
            add(
                "stale-data-key",
                format!(
                    "lastmodified {} is {} days old (max {})",
                    md.lastmodified,
                    age / 86_400,
                    max / 86_400
                ),
            );
        } else if age < -FUTURE_SKEW_SECS {
            add(
                "future-lastmodified",
                format!(
                    "lastmodified {} is in the future: its age cannot be trusted (--max-age)",
                    md.lastmodified
                ),
            );
        }
    }
    if let (Some(keys), true) = (opts.keys, metadata_ok) {
        // (The audit walk above reads the tree and changes nothing in it.)
        if let Some((kind, msg)) = decrypt_finding(docs, &md, keys, rel) {
            add(kind, msg.into());
        }
    }
}

/// What is wrong with the metadata itself (version, lastmodified, MAC, age entries).
fn metadata_problems(md: &Metadata, file: &str) -> Vec<String> {
    let mut bad = Vec::new();
    if let Err(e) = check_version(&md.version, file) {
        bad.push(bare(&e, file));
    }
    if timefmt::parse_rfc3339_unix(&md.lastmodified).is_none() {
        bad.push(if md.lastmodified.is_empty() {
            "sops.lastmodified is missing".to_string()
        } else {
            "sops.lastmodified is not an RFC 3339 time".to_string()
        });
    }
    if md.mac.is_empty() {
        bad.push("sops.mac is empty".into());
    } else if cipher::shape_problem(&md.mac).is_some() {
        bad.push("sops.mac is not an ENC[AES256_GCM,…] value".into());
    }
    for (i, g) in md.key_groups.iter().enumerate() {
        for k in &g.age {
            if !k
                .enc
                .trim_start()
                .starts_with("-----BEGIN AGE ENCRYPTED FILE-----")
            {
                bad.push(format!(
                    "key group {i}: the enc of {} is not an armored age file",
                    k.recipient
                ));
            }
        }
    }
    bad
}

/// The error's message without the leading `FILE: ` the loaders add.
fn bare(e: &Error, what: &str) -> String {
    let m = e.message.lines().next().unwrap_or_default();
    let m = m
        .strip_prefix(what)
        .and_then(|r| r.strip_prefix(": "))
        .unwrap_or(m);
    m.to_string()
}

/// How the file's key groups differ from the rule's: their count, the threshold, and the
/// keys (of every source) missing or extra in each.
fn key_findings(
    rule: &CreationRule,
    md: &Metadata,
    add: &mut impl FnMut(&'static str, String),
) -> Result<()> {
    let cmp = compare_keys(rule, md)?;
    let (want_n, have_n) = (cmp.rule_ids.len(), md.key_groups.len());
    if want_n != have_n {
        add(
            "key-groups",
            format!("the file has {have_n} key group(s), the rule {want_n}"),
        );
    } else {
        let have_t = effective_threshold(md.shamir_threshold, have_n);
        let want_t = if rule.shamir_threshold == 0 {
            have_t
        } else {
            effective_threshold(rule.shamir_threshold, want_n)
        };
        if want_t != have_t {
            add(
                "key-groups",
                format!("shamir_threshold is {have_t}, the rule says {want_t}"),
            );
        }
    }
    for (i, g) in cmp.per_group.iter().enumerate().take(want_n.min(have_n)) {
        for r in &g.missing {
            add(
                "missing-recipient",
                format!("key group {i}: {r} is in the rule but not in the file"),
            );
        }
        for r in &g.extra {
            add(
                "extra-recipient",
                format!("key group {i}: {r} is in the file but not in the rule"),
            );
        }
    }
    Ok(())
}

/// How the file's selectors differ from the rule's. They decide which values are
/// encrypted and are not covered by the MAC: anyone with the public key can write a file
/// that encrypts nothing (`unencrypted_regex: .*`) and still verifies.
fn selector_findings(
    rule: &CreationRule,
    md: &Metadata,
    format: Format,
    add: &mut impl FnMut(&'static str, String),
) {
    let binary = format == Format::Binary;
    let want = if binary {
        Selector::default()
    } else {
        rule.selector.clone().unwrap_or_default()
    };
    let want_mac_only = !binary && rule.mac_only_encrypted;
    let have = md.effective_selector();
    if have != want {
        add(
            "selector",
            format!(
                "the file's selector is {} {:?}, the rule's {} {:?}: the file may leave in plaintext what the rule encrypts",
                have.key(),
                have.value(),
                want.key(),
                want.value()
            ),
        );
    }
    if md.mac_only_encrypted != want_mac_only {
        add(
            "selector",
            format!(
                "mac_only_encrypted is {} in the file, {} in the rule{}",
                md.mac_only_encrypted,
                want_mac_only,
                if md.mac_only_encrypted {
                    ": its plaintext values are not covered by the MAC"
                } else {
                    ""
                }
            ),
        );
    }
}

/// With `--min-transit-version`: the Vault transit keys whose `enc` is older than wanted
/// (`old-transit-version`), or why that could not be told (`transit-version`).
fn transit_findings(
    policy: &VersionPolicy,
    keys: &KeyServices,
    md: &Metadata,
    add: &mut impl FnMut(&'static str, String),
) {
    match policy.stale(md, keys) {
        Ok(stale) => {
            for s in stale {
                add("old-transit-version", s.to_string());
            }
        }
        Err(e) => add(
            "transit-version",
            e.message.lines().next().unwrap_or_default().to_string(),
        ),
    }
}

/// With `--decrypt`: whether the data key can be recovered and the values and MAC verify.
/// The plaintext is dropped unread.
fn decrypt_finding(
    mut docs: Vec<Document>,
    md: &Metadata,
    keys: &KeyServices,
    file: &str,
) -> Option<(&'static str, &'static str)> {
    let Ok(key) = sealbox_keys::recover(md, keys, file) else {
        return Some((
            "no-key",
            "none of the identities at hand recovers the data key",
        ));
    };
    let e = sops::decrypt_tree(&mut docs, md, &key, MacCheck::Verify, file).err()?;
    Some((
        "mac",
        if e.is(ErrorKind::MacMismatch) {
            "the MAC does not verify (values or metadata were altered)"
        } else {
            "a value does not decrypt (ciphertext altered)"
        },
    ))
}

enum Loaded {
    /// The documents and the metadata.
    Ok(Vec<Document>, Metadata),
    /// No sops metadata.
    Plain,
    /// Metadata present but unusable.
    Bad(String),
}

/// Parses a whole file as an encrypted file of `format` (the values too: they are held
/// to the rule, so cutting out the `sops` block alone would let anything pass around it).
fn load(format: Format, bytes: &[u8], what: &str) -> Loaded {
    match store::load_encrypted(format, bytes, what) {
        Ok((docs, md)) => Loaded::Ok(docs, md),
        // Encrypted values without metadata: damaged (e.g. truncated), not plain.
        Err(e) if e.is(ErrorKind::MetadataNotFound) => {
            if contains(bytes, b"ENC[AES256_GCM,") {
                Loaded::Bad("encrypted values but no sops metadata (damaged?)".into())
            } else {
                Loaded::Plain
            }
        }
        Err(e) if e.is(ErrorKind::InvalidMetadata) => Loaded::Bad(bare(&e, what)),
        // The file does not parse in its format: report without quoting it.
        Err(_) if sops_marker().is_match(bytes) => Loaded::Bad(format!(
            "the file does not parse as {} but holds sops metadata or values (damaged, or plaintext around a copied sops block)",
            format.name()
        )),
        Err(_) => Loaded::Plain,
    }
}

fn contains(bytes: &[u8], needle: &[u8]) -> bool {
    bytes.windows(needle.len()).any(|w| w == needle)
}

/// GitHub workflow-command escaping (`%`, CR, LF; and in properties `:` and `,`), after
/// the other control characters are made visible and `##[` is broken up (the runner would
/// not parse it on a line that is already a command, but nothing depends on that).
fn gh_escape(s: &str, property: bool) -> String {
    let mut o = escape::controls(s)
        .replace("##[", "#\\#[")
        .replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A");
    if property {
        o = o.replace(':', "%3A").replace(',', "%2C");
    }
    o
}

/// The findings in the requested output format.
pub fn render(findings: &[Finding], format: CheckFormat) -> String {
    let mut out = String::new();
    match format {
        CheckFormat::Text => {
            for f in findings {
                out.push_str(&format!(
                    "{}: {}: {}\n",
                    escape::line(&f.file),
                    f.kind,
                    escape::line(&f.message)
                ));
            }
        }
        CheckFormat::Github => {
            for f in findings {
                let file = if f.file == "." {
                    String::new()
                } else {
                    format!(" file={}", gh_escape(&f.file, true))
                };
                out.push_str(&format!(
                    "::error{file}::{}: {}\n",
                    f.kind,
                    gh_escape(&f.message, false)
                ));
            }
        }
        CheckFormat::Json => {
            out.push('[');
            for (i, f) in findings.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&format!(
                    "\n  {{\"file\": {}, \"kind\": {}, \"message\": {}}}",
                    escape::json_string(&f.file),
                    escape::json_string(f.kind),
                    escape::json_string(&f.message)
                ));
            }
            out.push_str(if findings.is_empty() { "]\n" } else { "\n]\n" });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_escape() {
        let f = vec![Finding {
            file: "a,b:c.yaml".into(),
            kind: "mac",
            message: "x \"y\"\n100%".into(),
        }];
        assert_eq!(
            render(&f, CheckFormat::Github),
            "::error file=a%2Cb%3Ac.yaml::mac: x \"y\"%0A100%25\n"
        );
        assert_eq!(
            render(&f, CheckFormat::Json),
            "[\n  {\"file\": \"a,b:c.yaml\", \"kind\": \"mac\", \"message\": \"x \\\"y\\\"\\n100%\"}\n]\n"
        );
        assert_eq!(render(&[], CheckFormat::Json), "[]\n");
        assert_eq!(
            render(&f, CheckFormat::Text),
            "a,b:c.yaml: mac: x \"y\"\\n100%\n"
        );
    }

    #[test]
    fn no_rendered_line_carries_a_workflow_command() {
        let f = vec![
            Finding {
                file: "x\n::add-mask::s\u{1b}[2J".into(),
                kind: "unencrypted",
                message: "a symlink to ##[cmd]\r\n::error::forged".into(),
            },
            Finding {
                file: ".".into(),
                kind: "nothing-checked",
                message: "m".into(),
            },
        ];
        for fmt in [CheckFormat::Text, CheckFormat::Json, CheckFormat::Github] {
            let out = render(&f, fmt);
            for l in out.lines() {
                let t = l.trim_start();
                assert!(
                    !t.contains('\u{1b}') && (!t.starts_with("::") || t.starts_with("::error")),
                    "{fmt:?}: {l:?}"
                );
                if fmt != CheckFormat::Github {
                    assert!(!t.starts_with("::") && !t.contains("##["), "{fmt:?}: {l:?}");
                }
            }
            assert_eq!(
                out.lines().count(),
                if fmt == CheckFormat::Json { 4 } else { 2 },
                "{out}"
            );
        }
        assert!(render(&f, CheckFormat::Github).contains("::error::nothing-checked: m"));
    }

    #[test]
    fn the_sops_marker_finds_every_store() {
        for s in [
            "a: 1\nsops:\n    mac: x\n",
            "{\"data\": 1, \"sops\": {}}",
            "A=1\nsops_version=3.11.0\n",
            "[sops]\nversion = 3\n",
            "x: ENC[AES256_GCM,data:AA==,iv:x,tag:y,type:str]",
        ] {
            assert!(sops_marker().is_match(s.as_bytes()), "{s}");
        }
        for s in ["a: 1\n", "# sops: is great\n", "mysops: 1\n"] {
            assert!(!sops_marker().is_match(s.as_bytes()), "{s}");
        }
    }
}
