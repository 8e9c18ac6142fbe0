//! `sealbox check`: for CI, report files whose encryption does not match `.sops.yaml`
//! (no private key needed, except with `--decrypt`).
//!
//! Every file under the given paths that a creation rule matches is read once; only its
//! metadata is parsed (YAML: just the top-level `sops:` block when it can be cut out),
//! in parallel. Findings name the file, a kind and a one-line message, never a value.

use crate::context::Context;
use crate::policy::{compare_keys, effective_threshold};
use crate::session::{check_version, display};
use crate::transit::VersionPolicy;
use crate::{CheckArgs, CheckFormat};
use sealbox_formats::cipher;
use sealbox_formats::config::{Config, CreationRule};
use sealbox_formats::metadata::Metadata;
use sealbox_formats::par;
use sealbox_formats::sops::{self, MacCheck};
use sealbox_formats::store::{self, Format};
use sealbox_formats::{timefmt, Document, Error, ErrorKind, Result};
use sealbox_keys::KeyServices;
use std::path::{Path, PathBuf};

/// One problem found in one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// The file, as reported.
    pub file: String,
    /// What kind of problem (`missing-recipient`, `mac`, …).
    pub kind: &'static str,
    /// One line saying what, never a value.
    pub message: String,
}

/// What to check beyond the recipients.
struct Options<'k> {
    max_age_secs: Option<i64>,
    now: i64,
    keys: Option<&'k KeyServices<'static>>,
    /// `--min-transit-version`, and the key sources to ask for a key's latest version.
    transit: Option<(VersionPolicy, &'k KeyServices<'static>)>,
}

/// At most this many files are checked at once.
const MAX_THREADS: usize = 16;

/// Runs `sealbox check`; whether there were no findings.
pub fn run(cx: &Context, a: &CheckArgs) -> Result<bool> {
    let cfg = cx.load_config()?.ok_or_else(|| {
        Error::new(ErrorKind::InvalidConfig, "no .sops.yaml found")
            .with_hint("check compares files with the creation rules of .sops.yaml; pass --config")
    })?;
    if cfg.creation_rules.is_none() {
        return Err(Error::new(
            ErrorKind::Other,
            format!("{}: no creation_rules to check against", cfg.path.display()),
        ));
    }
    let cwd = std::env::current_dir().map_err(|e| {
        Error::new(
            ErrorKind::Other,
            format!("cannot read the current directory: {e}"),
        )
    })?;
    let files = files_to_check(&cfg, a, &cwd)?;
    let opts = Options {
        max_age_secs: a.max_age.map(|d| (d as i64).saturating_mul(86_400)),
        now: timefmt::now_unix(),
        keys: a.decrypt.then(|| cx.keys()),
        transit: a
            .min_transit_version
            .map(|m| (VersionPolicy::new(m), cx.keys())),
    };
    let threads = par::threads_for(files.len(), 1, MAX_THREADS);
    let results = par::map(&files, threads, |f| {
        let mut out = Vec::new();
        check_file(&cfg, f, &cwd, &opts, &mut out).map(|checked| (checked, out))
    });
    let mut checked = 0;
    let mut findings = Vec::new();
    for r in results {
        let (was_checked, f) = r?;
        checked += usize::from(was_checked);
        findings.extend(f);
    }
    let text = render(&findings, a.format);
    crate::files::write_stdout(text.as_bytes())?;
    eprintln!(
        "sealbox check: {checked} file{} checked, {} finding{}",
        if checked == 1 { "" } else { "s" },
        findings.len(),
        if findings.len() == 1 { "" } else { "s" }
    );
    Ok(findings.is_empty())
}

/// The files under the paths given (default: the config's directory), sorted, without the
/// config itself.
fn files_to_check(cfg: &Config, a: &CheckArgs, cwd: &Path) -> Result<Vec<PathBuf>> {
    let config_abs = std::path::absolute(&cfg.path).unwrap_or_else(|_| cfg.path.clone());
    let roots: Vec<PathBuf> = if a.paths.is_empty() {
        vec![config_abs
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| cwd.to_path_buf())]
    } else {
        a.paths.clone()
    };
    let mut files = Vec::new();
    for r in &roots {
        collect(r, &mut files)?;
    }
    files.sort();
    files.dedup();
    files.retain(|f| std::path::absolute(f).map_or(true, |p| p != config_abs));
    Ok(files)
}

/// Adds the files under `p` (a file, or a directory walked recursively, skipping `.git`,
/// `target` and hidden directories).
fn collect(p: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let meta = std::fs::metadata(p)
        .map_err(|e| Error::new(ErrorKind::Other, format!("{}: {e}", p.display())))?;
    if !meta.is_dir() {
        out.push(p.to_path_buf());
        return Ok(());
    }
    let rd = std::fs::read_dir(p)
        .map_err(|e| Error::new(ErrorKind::Other, format!("{}: {e}", p.display())))?;
    for entry in rd {
        let entry =
            entry.map_err(|e| Error::new(ErrorKind::Other, format!("{}: {e}", p.display())))?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let ft = entry.file_type().map_err(|e| {
            Error::new(ErrorKind::Other, format!("{}: {e}", entry.path().display()))
        })?;
        let path = entry.path();
        if ft.is_dir() {
            if name == "target" || name.starts_with('.') {
                continue;
            }
            collect(&path, out)?;
        } else if ft.is_file() || (ft.is_symlink() && path.is_file()) {
            out.push(path);
        }
    }
    Ok(())
}

/// The name a file is reported under: relative to the current directory when inside it.
fn shown(f: &Path, cwd: &Path) -> String {
    let abs = std::path::absolute(f).unwrap_or_else(|_| f.to_path_buf());
    match abs.strip_prefix(cwd) {
        Ok(rel) if !rel.as_os_str().is_empty() => rel.display().to_string(),
        _ => display(f),
    }
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

/// Checks one file; returns whether a rule matched it (it was checked).
fn check_file(
    cfg: &Config,
    f: &Path,
    cwd: &Path,
    opts: &Options,
    out: &mut Vec<Finding>,
) -> Result<bool> {
    let abs = std::path::absolute(f).unwrap_or_else(|_| f.to_path_buf());
    let rule = match cfg.rule_for(&abs) {
        Ok(Some(r)) => r,
        Ok(None) => return Ok(false),
        // Files no rule matches are not checked.
        Err(e) if e.is(ErrorKind::NoMatchingRule) => return Ok(false),
        Err(e) => return Err(e),
    };
    if rule.key_groups.is_empty() {
        // A rule without keys exempts its files.
        return Ok(false);
    }
    let file = shown(f, cwd);
    let mut add = |kind: &'static str, message: String| {
        out.push(Finding {
            file: file.clone(),
            kind,
            message,
        })
    };
    let bytes = match std::fs::read(f) {
        Ok(b) => b,
        Err(e) => {
            add("unreadable", format!("cannot read the file: {}", e.kind()));
            return Ok(true);
        }
    };
    let format = Format::from_path(f);
    let (docs, md) = match load(format, &bytes, &file, opts.keys.is_some()) {
        Loaded::Ok(docs, md) => (docs, md),
        Loaded::Plain => {
            add(
                "unencrypted",
                "no sops metadata: the file is not encrypted".into(),
            );
            return Ok(true);
        }
        Loaded::Bad(msg) => {
            add("bad-metadata", msg);
            return Ok(true);
        }
    };
    let bad = metadata_problems(&md, &file);
    let metadata_ok = bad.is_empty();
    for m in bad {
        add("bad-metadata", m);
    }
    key_findings(rule, &md, &file, &mut add)?;
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
        }
    }
    if let (Some(keys), Some(docs)) = (opts.keys, docs) {
        if metadata_ok {
            if let Some((kind, msg)) = decrypt_finding(docs, &md, keys, &file) {
                add(kind, msg.into());
            }
        }
    }
    Ok(true)
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
    } else if cipher::parse_encoded(&md.mac).is_none() {
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

/// How the file's key groups differ from the rule's: their count, the threshold, and the
/// recipients missing or extra in each.
fn key_findings(
    rule: &CreationRule,
    md: &Metadata,
    file: &str,
    add: &mut impl FnMut(&'static str, String),
) -> Result<()> {
    let cmp = compare_keys(rule, md).map_err(|e| e.context(file))?;
    let (want_n, have_n) = (cmp.groups.len(), md.key_groups.len());
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
    /// The metadata, and the documents when asked for.
    Ok(Option<Vec<Document>>, Metadata),
    /// No sops metadata.
    Plain,
    /// Metadata present but unusable.
    Bad(String),
}

/// Loads a file's metadata; the documents too when `full`.
fn load(format: Format, bytes: &[u8], what: &str, full: bool) -> Loaded {
    if format == Format::Yaml && !full {
        if let Some(md) = yaml_metadata_only(bytes, what) {
            return md;
        }
    }
    match store::load_encrypted(format, bytes, what) {
        Ok((docs, md)) => Loaded::Ok(full.then_some(docs), md),
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
        Err(_) if looks_encrypted(bytes) => Loaded::Bad(format!(
            "the file does not parse as {} (damaged?)",
            format.name()
        )),
        Err(_) => Loaded::Plain,
    }
}

fn contains(bytes: &[u8], needle: &[u8]) -> bool {
    bytes.windows(needle.len()).any(|w| w == needle)
}

fn looks_encrypted(bytes: &[u8]) -> bool {
    contains(bytes, b"ENC[AES256_GCM,")
        || contains(bytes, b"sops_mac=")
        || contains(bytes, b"\"sops\"")
}

/// YAML fast path: cuts out the first top-level `sops:` block and parses only that.
/// None when it cannot be cut out cleanly (the caller then parses the whole file).
fn yaml_metadata_only(bytes: &[u8], what: &str) -> Option<Loaded> {
    let text = std::str::from_utf8(bytes).ok()?;
    let mut start = None;
    let mut pos = 0;
    for line in text.split_inclusive('\n') {
        if start.is_none() {
            if line.starts_with("sops:") {
                start = Some(pos);
            } else if line.starts_with("---") && pos > 0 {
                // A later document: the first one has no metadata; let the full parse say.
                return None;
            }
        } else if !line.is_empty()
            && !line.starts_with([' ', '\t', '\n', '\r', '#'])
            && !line.starts_with("- ")
        {
            break;
        }
        pos += line.len();
    }
    let start = start?;
    let block = &text[start..pos];
    let docs = store::yaml::parse(block).ok()?;
    let meta = docs.first()?.get("sops")?;
    Some(match Metadata::from_value(meta, what) {
        Ok(md) => Loaded::Ok(None, md),
        Err(e) => Loaded::Bad(bare(&e, what)),
    })
}

/// A JSON string literal, escaped by the JSON store.
fn json_str(s: &str) -> String {
    sealbox_formats::store::json::emit_value(&sealbox_formats::Value::str(s), -1)
        .expect("a string always emits")
}

/// GitHub workflow-command escaping (`%`, CR, LF; and in properties `:` and `,`).
fn gh_escape(s: &str, property: bool) -> String {
    let mut o = s
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
                out.push_str(&format!("{}: {}: {}\n", f.file, f.kind, f.message));
            }
        }
        CheckFormat::Github => {
            for f in findings {
                out.push_str(&format!(
                    "::error file={}::{}: {}\n",
                    gh_escape(&f.file, true),
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
                    json_str(&f.file),
                    json_str(f.kind),
                    json_str(&f.message)
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
    fn yaml_block_is_cut_out() {
        let y = "a: ENC[x]\nb:\n    - 1\nsops:\n    age:\n        - recipient: r\n          enc: |\n            -----BEGIN AGE ENCRYPTED FILE-----\n            x\n            -----END AGE ENCRYPTED FILE-----\n    lastmodified: \"2024-01-01T00:00:00Z\"\n    mac: m\n    version: 3.11.0\nz: 1\n";
        match yaml_metadata_only(y.as_bytes(), "f") {
            Some(Loaded::Ok(None, md)) => {
                assert_eq!(md.key_groups[0].age[0].recipient, "r");
                assert_eq!(md.version, "3.11.0");
            }
            _ => panic!("metadata not found"),
        }
        assert!(yaml_metadata_only(b"a: 1\n", "f").is_none());
    }

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
    }
}
