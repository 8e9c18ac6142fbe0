//! `sealbox updatekeys FILE…`: the creation rules' recipients applied to existing files
//! (a dry run unless `-y` or answered `y`). Files are planned, then applied, in parallel;
//! each is written atomically.

use crate::context::{store_options, Context};
use crate::files::{write_atomic, ENCRYPTED_MODE};
use crate::policy::compare_keys;
use crate::session::{display, load_encrypted, open};
use crate::transit::{self, Stale, VersionPolicy};
use crate::{FormatArgs, UpdatekeysArgs};
use sealbox_formats::config::{Config, CreationRule};
use sealbox_formats::par;
use sealbox_formats::sops::MacCheck;
use sealbox_formats::store::{Format, StoreOptions};
use sealbox_formats::{store, Error, ErrorKind, Result};
use sealbox_keys::{KeyServices, Recipient};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

/// At most this many files are read or rewritten at once.
const MAX_THREADS: usize = 16;

/// What `updatekeys` would change in one file.
struct Plan {
    file: PathBuf,
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

/// Compares `file` with its creation rule (no key needed, except to learn a transit key's
/// latest version for `--min-transit-version latest`).
fn plan_file(
    cfg: &Config,
    file: &Path,
    input_type: Option<&str>,
    transit: Option<(&VersionPolicy, &KeyServices)>,
) -> Result<Plan> {
    let what = display(file);
    let abs = std::path::absolute(file).unwrap_or_else(|_| file.to_path_buf());
    let rule: &CreationRule = cfg.rule_for(&abs)?.ok_or_else(|| {
        Error::new(
            ErrorKind::NoMatchingRule,
            format!("{what}: no creation rule matches this file"),
        )
        .with_hint(format!("add a rule to {}", cfg.path.display()))
    })?;
    let (_, md) = load_encrypted(file, Format::resolve(input_type, file))?;
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
    let mut changed = cmp.groups.len() != md.key_groups.len();
    let mut removed_any = false;
    for (i, g) in cmp.per_group.iter().enumerate() {
        report.push_str(&format!("Group {}\n", i + 1));
        // In the rule's order, as before.
        for r in cmp.groups.get(i).into_iter().flatten() {
            let r = r.id();
            if g.missing.contains(&r) {
                report.push_str(&format!("+++ {r}\n"));
                changed = true;
            } else {
                report.push_str(&format!("    {r}\n"));
            }
        }
        for r in &g.extra {
            report.push_str(&format!("--- {r}\n"));
            changed = true;
            removed_any = true;
        }
        if g.file_has_other {
            removed_any = true;
            changed = true;
            report.push_str("--- (keys of types sealbox does not manage)\n");
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
        file: file.to_path_buf(),
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
/// old one), else the same data key wrapped for the new recipients.
fn apply(p: &Plan, a: &UpdatekeysArgs, keys: &KeyServices, opts: &StoreOptions) -> Result<()> {
    let what = display(&p.file);
    if p.removed_any && !a.keep_data_key {
        let fmt = FormatArgs {
            input_type: a.input_type.clone(),
            output_type: None,
        };
        let mut s = open(&p.file, &fmt, MacCheck::Verify, keys)?;
        s.stash
            .allow_plaintext_downgrade(a.allow_plaintext_downgrade);
        s.rekey(&p.groups, p.threshold, keys, &what)?;
        return write_atomic(&p.file, &s.emit(opts)?, ENCRYPTED_MODE);
    }
    // Same data key, wrapped for the new recipients (transit keys at their newest
    // version); values, MAC and lastmodified stay.
    let f = Format::resolve(a.input_type.as_deref(), &p.file);
    let (docs, mut md) = load_encrypted(&p.file, f)?;
    if p.keys_changed {
        let key = sealbox_keys::recover(&md, keys, &what)?;
        md.key_groups = sealbox_keys::wrap(&key, &p.groups, p.threshold, keys)?;
        md.shamir_threshold = p.threshold;
    } else {
        // Only old transit versions: rewrapped on the server, no data key needed here.
        transit::rewrap(&mut md, &p.rewrap, keys).map_err(|e| e.context(&what))?;
    }
    let out = store::emit_encrypted(f, &docs, &md, opts)?;
    write_atomic(&p.file, &out, ENCRYPTED_MODE)
}

/// Shows a plan and asks whether to apply it (yes with `-y`; no without a terminal).
fn confirm(p: &Plan, a: &UpdatekeysArgs, interactive: bool) -> bool {
    println!(
        "{}: the following changes will be made to the file's key groups:",
        display(&p.file)
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

/// Runs `sealbox updatekeys`.
pub fn run(cx: &Context, a: &UpdatekeysArgs) -> Result<()> {
    let cfg = cx.load_config()?.ok_or_else(|| {
        Error::new(ErrorKind::InvalidConfig, "no .sops.yaml found").with_hint(
            "updatekeys applies the creation rules of .sops.yaml; create one or pass --config",
        )
    })?;
    let interactive = std::io::stdin().is_terminal();
    let threads = par::threads_for(a.files.len(), 1, MAX_THREADS);
    // Plan every file (parsing and reading only).
    let policy = a.min_transit_version.map(VersionPolicy::new);
    let plans = par::map(&a.files, threads, |f| {
        plan_file(
            &cfg,
            f,
            a.input_type.as_deref(),
            policy.as_ref().map(|p| (p, cx.keys())),
        )
    });
    let mut failures = 0usize;
    let mut to_apply = Vec::new();
    for (file, plan) in a.files.iter().zip(plans) {
        match plan {
            Err(e) => {
                eprintln!("sealbox: {e}");
                failures += 1;
            }
            Ok(p) if !p.changed => eprintln!("{}: already up to date", display(file)),
            Ok(p) => {
                if confirm(&p, a, interactive) {
                    to_apply.push(p);
                }
            }
        }
    }
    // Each file is independent and written atomically. Identities (which may run
    // SOPS_AGE_KEY_CMD) and the store options are loaded once.
    let opts = store_options(Some(&cfg))?;
    let threads = par::threads_for(to_apply.len(), 1, MAX_THREADS);
    let results = par::map(&to_apply, threads, |p| apply(p, a, cx.keys(), &opts));
    for (p, r) in to_apply.iter().zip(results) {
        match r {
            Ok(()) => eprintln!("{}: updated", display(&p.file)),
            Err(e) => {
                eprintln!("sealbox: {e}");
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
