//! `sealbox updatekeys FILE…`: the creation rules' recipients applied to existing files
//! (a dry run unless `-y` or answered `y`). Files are planned, then applied, in parallel;
//! each is written atomically.
//!
//! Made for a bot that runs `updatekeys -y` on a pull request's checkout, whose author
//! chooses every name in it. Such an author could add `public/readme.yaml ->
//! ../secrets/app.yaml` and a rule for `^public/` naming their own key: applying the rule of
//! the link's *name* to the file it points to would wrap that file's data key for them. So
//! a file is reached from the config's directory without following any symlink
//! (`gate::tree`): a symlink at the name or on the way, a file with other hard links, or a
//! path outside that directory that resolves elsewhere is refused; the file is read and
//! replaced through the same directory descriptor, and only if it is still the file
//! planned. Before anything is written the log shows every file, the rule applied and every
//! recipient added or removed, and what the same rules would change in files not named, so
//! a reviewer of the bot's log sees what a changed rule reaches.

use crate::context::{store_options, Context};
use crate::gate::escape;
use crate::gate::scope::rule_name;
use crate::gate::tree::{Checkout, Node};
use crate::policy::compare_keys;
use crate::session::{check_version, display, Session};
use crate::transit::{self, Stale, VersionPolicy};
use crate::UpdatekeysArgs;
use sealbox_formats::config::{absolute_clean, CompiledRules, Config, CreationRule};
use sealbox_formats::par;
use sealbox_formats::sops::{self, MacCheck};
use sealbox_formats::store::{self, Format, StoreOptions};
use sealbox_formats::{Error, ErrorKind, Result};
use sealbox_keys::{KeyServices, Recipient};
use sealbox_os::inputs::MAX_SOPS_FILE;
use sealbox_os::safedir::{Kind, Stat};
use std::collections::BTreeSet;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use zeroize::Zeroizing;

/// At most this many files are read or rewritten at once.
const MAX_THREADS: usize = 16;

/// Files not named whose changes are listed (the rest are counted).
const MAX_OTHERS_SHOWN: usize = 50;

/// Where a file is: the directory it is reached from (without following symlinks below
/// it), its path there, and the path its rule is matched against.
struct Place {
    checkout: Arc<Checkout>,
    rel: String,
    /// Relative to the config's directory when inside it, else absolute (as sops).
    match_path: String,
    shown: String,
}

/// What `updatekeys` would change in one file.
struct Plan {
    place: Place,
    /// The file as read (and its `lstat`): the file written is this one, or none.
    bytes: Zeroizing<Vec<u8>>,
    stat: Stat,
    format: Format,
    rule: usize,
    report: String,
    changed: bool,
    removed_any: bool,
    groups: Vec<Vec<Recipient>>,
    threshold: usize,
    /// Whether the key groups or the threshold change (else only `rewrap`).
    keys_changed: bool,
    /// Transit entries older than `--min-transit-version`.
    rewrap: Vec<Stale>,
}

/// Why a file is refused: its name does not lead to the file its rule would be for.
fn refused(shown: &str, why: impl std::fmt::Display) -> Error {
    Error::new(
        ErrorKind::Other,
        format!("{shown}: refused: {why}"),
    )
    .with_hint("updatekeys never writes through a symlink, and applies a rule only to the file its name is: name the file itself (a regular file, one link)")
}

/// Finds `file` the way its rule will see it (see the module header).
fn place(file: &Path, base: &Path, base_checkout: &Arc<Checkout>, cwd: &Path) -> Result<Place> {
    let shown = escape::line(&display(file)).into_owned();
    let abs = absolute_clean(&cwd.join(file));
    let not_utf8 = || refused(&shown, "the path is not UTF-8");
    if let Ok(rel) = abs.strip_prefix(base) {
        let rel = rel.to_str().ok_or_else(not_utf8)?.to_string();
        return Ok(Place {
            checkout: base_checkout.clone(),
            match_path: rel.clone(),
            rel,
            shown,
        });
    }
    // Outside the config's directory the rule is matched against the absolute path: it
    // must name the file itself, with no symlink on the way.
    let parent = abs.parent().unwrap_or(Path::new("/"));
    let name = abs
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(not_utf8)?
        .to_string();
    match std::fs::canonicalize(parent) {
        Ok(real) if real == parent => {}
        Ok(real) => {
            return Err(refused(
                &shown,
                format!(
                    "its directory {} is reached through a symlink (it is {})",
                    parent.display(),
                    real.display()
                ),
            ))
        }
        Err(e) => {
            return Err(Error::new(
                ErrorKind::NoFile,
                format!("{shown}: cannot read: {e}"),
            ))
        }
    }
    let checkout = Checkout::open(parent)
        .map_err(|e| Error::new(ErrorKind::NoFile, format!("{shown}: cannot read: {e}")))?;
    Ok(Place {
        checkout: Arc::new(checkout),
        match_path: abs.to_str().ok_or_else(not_utf8)?.to_string(),
        rel: name,
        shown,
    })
}

/// The rule for a place (as `Config::rule_for`, with the regexes compiled once).
fn rule_for<'c>(rules: &CompiledRules<'c>, p: &Place, cfg: &Config) -> Result<&'c CreationRule> {
    let rule = rules.first_match(&p.match_path).ok_or_else(|| {
        Error::new(
            ErrorKind::NoMatchingRule,
            format!("{}: no creation rule matches this file", p.shown),
        )
        .with_hint(format!("add a rule to {}", cfg.path.display()))
    })?;
    if let Some(e) = rule.problem() {
        return Err(e.clone().context(&p.shown));
    }
    Ok(rule)
}

/// Reads the file at `p` (a regular file with one name, reached without following a
/// symlink) and compares it with its creation rule (no key needed).
fn plan_file(
    cfg: &Config,
    rules: &CompiledRules,
    p: Place,
    input_type: Option<&str>,
    transit: Option<(&VersionPolicy, &KeyServices)>,
) -> Result<Plan> {
    let what = p.shown.clone();
    match p.checkout.lstat(&p.rel) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(Error::new(
                ErrorKind::NoFile,
                format!("{what}: cannot read: {e}"),
            ))
        }
        Err(e) => return Err(refused(&what, escape::line(&e.to_string()))),
        Ok(None) => {
            return Err(Error::new(
                ErrorKind::NoFile,
                format!("{what}: cannot read: no such file"),
            ))
        }
        Ok(Some(st)) if st.kind == Kind::Symlink => {
            let target = match p.checkout.walk(&p.rel, &|_| None) {
                Ok(w) => match w.entries.first().map(|e| &e.node) {
                    Some(Node::Symlink(t)) => escape::line(t).into_owned(),
                    _ => "?".into(),
                },
                Err(_) => "?".into(),
            };
            return Err(refused(&what, format!("it is a symlink (to {target})")));
        }
        Ok(Some(st)) if st.kind != Kind::RegularFile => {
            return Err(refused(&what, "it is not a regular file"));
        }
        Ok(Some(st)) if st.nlink > 1 => {
            return Err(refused(
                &what,
                format!(
                    "the file has {} names (hard links): the rule of this one may not be the rule of the others",
                    st.nlink
                ),
            ));
        }
        Ok(Some(_)) => {}
    }
    let rule = rule_for(rules, &p, cfg)?;
    let (bytes, stat) = p.checkout.read(&p.rel, MAX_SOPS_FILE).map_err(|e| {
        Error::new(
            ErrorKind::ReadInput,
            format!("{what}: cannot read: {}", escape::line(&e.to_string())),
        )
    })?;
    let format = Format::resolve(input_type, Path::new(&p.rel));
    let (_, md) = store::load_encrypted(format, &bytes, &what)?;
    let cmp = compare_keys(rule, &md).map_err(|e| e.context(&what))?;
    if let Some(kind) = &cmp.rule_other_kind {
        return Err(Error::new(
            ErrorKind::Other,
            format!(
                "{what}: the creation rule uses {kind} keys, which sealbox does not support yet"
            ),
        ));
    }
    let mut report = String::new();
    let mut changed = cmp.rule_ids.len() != md.key_groups.len();
    let mut removed_any = false;
    for (i, g) in cmp.per_group.iter().enumerate() {
        report.push_str(&format!("Group {}\n", i + 1));
        // In the rule's order, as before.
        for k in cmp.rule_ids.get(i).into_iter().flatten() {
            let shown = escape::line(&k.to_string()).into_owned();
            if g.missing.contains(k) {
                report.push_str(&format!("+++ {shown}\n"));
                changed = true;
            } else {
                report.push_str(&format!("    {shown}\n"));
            }
        }
        for k in &g.extra {
            report.push_str(&format!("--- {}\n", escape::line(&k.to_string())));
            changed = true;
            removed_any = true;
        }
    }
    let want_threshold = cmp.want_threshold;
    if want_threshold != md.shamir_threshold && cmp.groups.len() > 1 {
        report.push_str(&format!(
            "shamir_threshold: {} -> {want_threshold}\n",
            md.shamir_threshold
        ));
        changed = true;
    }
    let keys_changed = changed;
    let rewrap = match transit {
        Some((policy, keys)) => policy.stale(&md, keys).map_err(|e| e.context(&what))?,
        None => Vec::new(),
    };
    for s in &rewrap {
        report.push_str(&format!(
            "~~~ {}: version {} -> newest (rewrap)\n",
            s.uri, s.version
        ));
        changed = true;
    }
    Ok(Plan {
        place: p,
        bytes,
        stat,
        format,
        rule: rule.index,
        report,
        changed,
        removed_any,
        groups: cmp.groups,
        threshold: want_threshold,
        keys_changed,
        rewrap,
    })
}

/// Rewrites one file as planned: a new data key when a recipient goes (it may have kept the
/// old one), else the same data key wrapped for the new recipients. The bytes planned are
/// the ones rewritten, and the result replaces that same file or nothing.
fn apply(p: &Plan, a: &UpdatekeysArgs, keys: &KeyServices, opts: &StoreOptions) -> Result<()> {
    let what = &p.place.shown;
    let (mut docs, mut md) = store::load_encrypted(p.format, &p.bytes, what)?;
    check_version(&md.version, what)?;
    let out = if p.removed_any && !a.keep_data_key {
        let key = sealbox_keys::recover(&md, keys, what)?;
        let mut stash =
            sops::decrypt_tree_with_stash(&mut docs, &md, &key, MacCheck::Verify, what)?;
        stash.allow_plaintext_downgrade(a.allow_plaintext_downgrade);
        let mut s = Session {
            docs,
            md,
            key,
            stash,
            input: p.format,
            output: p.format,
        };
        s.rekey(&p.groups, p.threshold, keys, what)?;
        s.emit(opts)?
    } else {
        // Same data key, wrapped for the new recipients (transit keys at their newest
        // version); values, MAC and lastmodified stay.
        if p.keys_changed {
            let key = sealbox_keys::recover(&md, keys, what)?;
            md.key_groups = sealbox_keys::wrap(&key, &p.groups, p.threshold, keys)?;
            md.shamir_threshold = p.threshold;
        } else {
            // Only old transit versions: rewrapped on the server, no data key needed here.
            transit::rewrap(&mut md, &p.rewrap, keys).map_err(|e| e.context(what))?;
        }
        store::emit_encrypted(p.format, &docs, &md, opts)?
    };
    p.place
        .checkout
        .replace(&p.place.rel, &out, &p.stat)
        .map_err(|e| {
            Error::new(
                ErrorKind::WriteOutput,
                format!("{what}: cannot write: {}", escape::line(&e.to_string())),
            )
        })
}

/// Shows a plan and asks whether to apply it (yes with `-y`; no without a terminal).
fn confirm(p: &Plan, rules: &[CreationRule], a: &UpdatekeysArgs, interactive: bool) -> bool {
    println!(
        "{}: the following changes will be made to the file's key groups ({}):",
        p.place.shown,
        escape::line(&rule_name(&rules[p.rule]))
    );
    print!("{}", p.report);
    if a.yes {
        true
    } else if interactive {
        eprint!("Is this okay? (y/n): ");
        let mut line = String::new();
        let _ = std::io::stdin().read_line(&mut line);
        line.trim().eq_ignore_ascii_case("y")
    } else {
        println!("(dry run: pass -y to apply)");
        false
    }
}

/// What the rules applied would change in the files of the config's directory that were
/// not named: printed, never written. A rule changed in a pull request reaches every file
/// it matches at the next run; the log says so now.
fn show_reach(
    cfg: &Config,
    rules: &CompiledRules,
    base: &Arc<Checkout>,
    used: &BTreeSet<usize>,
    named: &BTreeSet<String>,
    input_type: Option<&str>,
) {
    if used.is_empty() {
        return;
    }
    let skip = |rel: &str| (rel.rsplit('/').next() == Some(".git")).then(|| "git".to_string());
    let Ok(w) = base.walk("", &skip) else {
        return;
    };
    let others: Vec<&str> = w
        .entries
        .iter()
        .filter(|e| {
            matches!(e.node, Node::File(_)) && !named.contains(&e.rel) && e.rel != ".sops.yaml"
        })
        .filter(|e| {
            rules
                .first_match(&e.rel)
                .is_some_and(|r| used.contains(&r.index))
        })
        .map(|e| e.rel.as_str())
        .collect();
    if others.is_empty() {
        return;
    }
    let threads = par::threads_for(others.len(), 1, MAX_THREADS);
    let plans = par::map(&others, threads, |rel| {
        let p = Place {
            checkout: base.clone(),
            rel: rel.to_string(),
            match_path: rel.to_string(),
            shown: escape::line(rel).into_owned(),
        };
        // (Recipient changes only: no key server is asked about files not named.)
        plan_file(cfg, rules, p, input_type, None)
    });
    let mut would: Vec<&Plan> = Vec::new();
    let (mut unchanged, mut unusable) = (0, 0);
    for p in &plans {
        match p {
            Ok(p) if p.changed => would.push(p),
            Ok(_) => unchanged += 1,
            Err(_) => unusable += 1,
        }
    }
    let names: Vec<String> = used
        .iter()
        .map(|i| escape::line(&rule_name(&rules.rules()[*i])).into_owned())
        .collect();
    println!(
        "The same rules ({}) also match {} file(s) not named here: {} would change if updated, {} are up to date, {} are not sops files this run can read. Not written:",
        names.join(", "),
        others.len(),
        would.len(),
        unchanged,
        unusable
    );
    for p in would.iter().take(MAX_OTHERS_SHOWN) {
        let changes: Vec<&str> = p
            .report
            .lines()
            .filter(|l| l.starts_with("+++") || l.starts_with("---") || l.starts_with("shamir"))
            .collect();
        println!("{}: {}", p.place.shown, changes.join("; "));
    }
    if would.len() > MAX_OTHERS_SHOWN {
        println!("… and {} more", would.len() - MAX_OTHERS_SHOWN);
    }
}

/// Runs `sealbox updatekeys`.
pub fn run(cx: &Context, a: &UpdatekeysArgs) -> Result<()> {
    let cfg = cx.load_config()?.ok_or_else(|| {
        Error::new(ErrorKind::InvalidConfig, "no .sops.yaml found").with_hint(
            "updatekeys applies the creation rules of .sops.yaml; create one or pass --config",
        )
    })?;
    let rules = cfg.compile_rules()?.ok_or_else(|| {
        Error::new(
            ErrorKind::NoMatchingRule,
            "error loading config: no matching creation rules found",
        )
        .with_hint(format!("{} has no creation_rules", cfg.path.display()))
    })?;
    let cwd = crate::context::current_dir()?;
    let base: PathBuf = absolute_clean(cfg.path.parent().unwrap_or(Path::new("")));
    let base_checkout = Arc::new(Checkout::open(&base).map_err(|e| {
        Error::new(
            ErrorKind::InvalidConfig,
            format!("cannot open the directory of {}: {e}", cfg.path.display()),
        )
    })?);
    let interactive = std::io::stdin().is_terminal();
    let threads = par::threads_for(a.files.len(), 1, MAX_THREADS);
    // Plan every file (reading only; a transit key's newest version may be asked).
    let policy = a.min_transit_version.map(VersionPolicy::new);
    let plans = par::map(&a.files, threads, |f| {
        let p = place(f, &base, &base_checkout, &cwd)?;
        plan_file(
            &cfg,
            &rules,
            p,
            a.input_type.as_deref(),
            policy.as_ref().map(|p| (p, cx.keys())),
        )
    });
    let mut failures = 0usize;
    let mut to_apply = Vec::new();
    let mut used = BTreeSet::new();
    let mut named = BTreeSet::new();
    for (file, plan) in a.files.iter().zip(plans) {
        match plan {
            Err(e) => {
                eprintln!("sealbox: {}", escape::error(&e));
                failures += 1;
            }
            Ok(p) => {
                if Arc::ptr_eq(&p.place.checkout, &base_checkout) {
                    named.insert(p.place.rel.clone());
                }
                if !p.changed {
                    eprintln!("{}: already up to date", escape::line(&display(file)));
                    continue;
                }
                used.insert(p.rule);
                if confirm(&p, rules.rules(), a, interactive) {
                    to_apply.push(p);
                }
            }
        }
    }
    show_reach(
        &cfg,
        &rules,
        &base_checkout,
        &used,
        &named,
        a.input_type.as_deref(),
    );
    // Each file is independent and written atomically. Identities (which may run
    // SOPS_AGE_KEY_CMD) and the store options are loaded once.
    let opts = store_options(Some(&cfg))?;
    let threads = par::threads_for(to_apply.len(), 1, MAX_THREADS);
    let results = par::map(&to_apply, threads, |p| apply(p, a, cx.keys(), &opts));
    for (p, r) in to_apply.iter().zip(results) {
        match r {
            Ok(()) => eprintln!("{}: updated", p.place.shown),
            Err(e) => {
                eprintln!("sealbox: {}", escape::error(&e));
                failures += 1;
            }
        }
    }
    if failures > 0 {
        return Err(Error::new(
            ErrorKind::Other,
            format!("failed updating {failures} file(s)"),
        ));
    }
    Ok(())
}
