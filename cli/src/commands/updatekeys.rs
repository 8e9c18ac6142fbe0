//! Recipient lifecycle: `rotate`, `updatekeys`, `recipients`.

use crate::commands::{display, load_config, store_options};
use crate::session::{open_with, Opened};
use crate::fsio::{read_input, write_atomic, write_stdout, ENCRYPTED_MODE};
use crate::{Cli, FormatArgs, RecipientsArgs, RotateArgs, UpdatekeysArgs};
use sealbox_formats::cipher::DataKey;
use sealbox_formats::config::{Config, CreationRule};
use sealbox_formats::metadata::{KeyGroup, Metadata};
use sealbox_formats::sops::{self, Selection};
use sealbox_formats::store::{self, Format, StoreOptions};
use sealbox_formats::{timefmt, Error, ErrorKind, Result};
use sealbox_keys::age;
use sealbox_keys::{KeyServices, Recipient};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

/// Parses the age recipients of existing groups so the data key can be wrapped again.
fn recipients_of(groups: &[KeyGroup], what: &str) -> Result<Vec<Vec<Recipient>>> {
    groups
        .iter()
        .map(|g| {
            if let Some(kind) = g.non_age_types().next() {
                return Err(Error::new(ErrorKind::Other, format!(
                    "{what}: the file also has {kind} keys, which sealbox cannot wrap a data key for"
                ))
                .with_hint("use sops for this file, or remove those keys first"));
            }
            g.age
                .iter()
                .map(|k| age::Recipient::parse(&k.recipient).map(Recipient::Age))
                .collect()
        })
        .collect()
}

/// Re-encrypts every value of an opened file under a fresh data key for `groups`.
fn reencrypt_new_key(
    o: &mut Opened,
    groups: &[Vec<Recipient>],
    threshold: usize,
    keys: &KeyServices,
    what: &str,
) -> Result<()> {
    let key = DataKey::generate();
    o.md.key_groups = sealbox_keys::wrap(&key, groups, threshold, keys)?;
    o.md.shamir_threshold = if groups.len() > 1 {
        if threshold == 0 {
            groups.len()
        } else {
            threshold
        }
    } else {
        0
    };
    let sel = Selection::for_metadata(&o.md)?;
    let lastmodified = timefmt::now_rfc3339();
    // Like sops, keep the value IVs: under a new key they give new ciphertexts anyway.
    o.md.mac =
        sops::encrypt_tree_with_stash(&mut o.docs, &key, &sel, &lastmodified, Some(&o.stash))
            .map_err(|e| e.context(what))?;
    o.md.lastmodified = lastmodified;
    o.key = key;
    Ok(())
}

pub fn rotate(cli: &Cli, a: &RotateArgs) -> Result<()> {
    let what = display(&a.file);
    if a.in_place && a.output.is_some() {
        return Err(Error::new(
            sealbox_formats::ErrorKind::ConflictingOptions,
            "cannot use --in-place together with --output",
        ));
    }
    let fmt = FormatArgs {
        input_type: a.input_type.clone(),
        output_type: a.output_type.clone(),
    };
    let keys = KeyServices::from_env();
    let mut o = open_with(&a.file, &fmt, false, &keys)?;
    o.stash
        .allow_plaintext_downgrade(a.allow_plaintext_downgrade);
    let mut groups = o.md.key_groups.clone();
    if let Some(rm) = &a.rm_age {
        for r in age::parse_recipient_list(rm)? {
            for g in groups.iter_mut() {
                g.age.retain(|k| k.recipient != r.as_str());
            }
        }
    }
    let mut rs = recipients_of(&groups, &what)?;
    if let Some(add) = &a.add_age {
        rs[0].extend(
            age::parse_recipient_list(add)?
                .into_iter()
                .map(Recipient::Age),
        );
    }
    if rs.iter().any(Vec::is_empty) {
        return Err(Error::new(
            ErrorKind::Other,
            format!("{what}: a key group would have no recipient left"),
        )
        .with_hint("add a recipient with --add-age before removing the last one"));
    }
    let threshold = o.md.shamir_threshold;
    reencrypt_new_key(&mut o, &rs, threshold, &keys, &what)?;
    let cfg = load_config(cli)?;
    let out = store::emit_encrypted(o.output, &o.docs, &o.md, &store_options(cfg.as_ref())?)?;
    if a.in_place {
        write_atomic(&a.file, &out, ENCRYPTED_MODE)
    } else if let Some(p) = &a.output {
        write_atomic(p, &out, ENCRYPTED_MODE)
    } else {
        write_stdout(&out)
    }
}

/// What `updatekeys` would change in one file.
struct Plan {
    file: PathBuf,
    report: String,
    changed: bool,
    removed_any: bool,
    groups: Vec<Vec<Recipient>>,
    threshold: usize,
}

fn recipient_strings(g: &KeyGroup) -> Vec<&str> {
    g.age.iter().map(|k| k.recipient.as_str()).collect()
}

/// How a file's key groups compare with its creation rule's: shared by `updatekeys` (which
/// rewrites the file) and `check` (which reports the differences).
pub(crate) struct KeyComparison {
    /// The rule's groups, parsed.
    pub groups: Vec<Vec<Recipient>>,
    /// The threshold the file should have (0 with one group); a rule without one keeps the
    /// file's.
    pub want_threshold: usize,
    /// Per group (up to the larger count): recipients in the rule only, in the file only.
    pub per_group: Vec<GroupComparison>,
    /// The first key type of the rule other than age, if any (sealbox cannot wrap for it).
    pub rule_other_kind: Option<String>,
}

/// One key group's comparison.
pub(crate) struct GroupComparison {
    /// In the rule, not in the file.
    pub missing: Vec<String>,
    /// In the file, not in the rule.
    pub extra: Vec<String>,
    /// The file's group has keys of types sealbox does not manage.
    pub file_has_other: bool,
}

/// The effective threshold of `groups` groups recorded as `t` (0 = all; one group: 0).
pub(crate) fn effective_threshold(t: usize, groups: usize) -> usize {
    if groups <= 1 {
        0
    } else if t == 0 {
        groups
    } else {
        t.min(groups)
    }
}

/// Compares the file's metadata with the creation rule (age recipients only).
pub(crate) fn compare_keys(rule: &CreationRule, md: &Metadata) -> Result<KeyComparison> {
    let mut groups = Vec::new();
    for (i, g) in rule.key_groups.iter().enumerate() {
        groups.push(
            g.age
                .iter()
                .map(|r| age::Recipient::parse(r).map(Recipient::Age))
                .collect::<Result<Vec<_>>>()
                .map_err(|e| e.context(format!("key group {i}")))?,
        );
    }
    let rule_other_kind = rule
        .key_groups
        .iter()
        .find_map(|g| g.other.first().map(|(k, _)| k.clone()));
    let want_threshold = if groups.len() > 1 {
        let t = if rule.shamir_threshold == 0 {
            md.shamir_threshold
        } else {
            rule.shamir_threshold
        };
        effective_threshold(t, groups.len())
    } else {
        0
    };
    let mut per_group = Vec::new();
    for i in 0..groups.len().max(md.key_groups.len()) {
        let have: Vec<&str> = md
            .key_groups
            .get(i)
            .map(recipient_strings)
            .unwrap_or_default();
        let want: Vec<String> = groups
            .get(i)
            .map(|g| g.iter().map(Recipient::id).collect())
            .unwrap_or_default();
        let want: Vec<&str> = want.iter().map(String::as_str).collect();
        let mut c = GroupComparison {
            missing: Vec::new(),
            extra: Vec::new(),
            file_has_other: md
                .key_groups
                .get(i)
                .is_some_and(|g| g.non_age_types().next().is_some()),
        };
        for r in &want {
            if !have.contains(r) {
                c.missing.push(r.to_string());
            }
        }
        for r in &have {
            if !want.contains(r) {
                c.extra.push(r.to_string());
            }
        }
        per_group.push(c);
    }
    Ok(KeyComparison {
        groups,
        want_threshold,
        per_group,
        rule_other_kind,
    })
}

fn plan_file(cfg: &Config, file: &Path, input_type: Option<&str>) -> Result<Plan> {
    let what = display(file);
    let abs = std::path::absolute(file).unwrap_or_else(|_| file.to_path_buf());
    let rule: &CreationRule = cfg.rule_for(&abs)?.ok_or_else(|| {
        Error::new(
            ErrorKind::NoMatchingRule,
            format!("{what}: no creation rule matches this file"),
        )
        .with_hint(format!("add a rule to {}", cfg.path.display()))
    })?;
    let f = Format::resolve(input_type, file);
    let bytes = read_input(file)?;
    let (_, md) = store::load_encrypted(f, &bytes, &what)?;
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
            let r = r.as_str();
            if g.missing.iter().any(|m| m == r) {
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
    Ok(Plan {
        file: file.to_path_buf(),
        report,
        changed,
        removed_any,
        groups: cmp.groups,
        threshold: want_threshold,
    })
}

fn apply(p: &Plan, a: &UpdatekeysArgs, keys: &KeyServices, opts: &StoreOptions) -> Result<()> {
    let what = display(&p.file);
    let fmt = FormatArgs {
        input_type: a.input_type.clone(),
        output_type: None,
    };
    if p.removed_any && !a.keep_data_key {
        // A removed recipient may have kept the old data key: rotate it.
        let mut o = open_with(&p.file, &fmt, false, keys)?;
        o.stash
            .allow_plaintext_downgrade(a.allow_plaintext_downgrade);
        reencrypt_new_key(&mut o, &p.groups, p.threshold, keys, &what)?;
        let out = store::emit_encrypted(o.output, &o.docs, &o.md, opts)?;
        return write_atomic(&p.file, &out, ENCRYPTED_MODE);
    }
    // Same data key, wrapped for the new recipients; values, MAC and lastmodified stay.
    let f = Format::resolve(a.input_type.as_deref(), &p.file);
    let bytes = read_input(&p.file)?;
    let (docs, mut md): (_, Metadata) = store::load_encrypted(f, &bytes, &what)?;
    let key = sealbox_keys::recover(&md, keys, &what)?;
    md.key_groups = sealbox_keys::wrap(&key, &p.groups, p.threshold, keys)?;
    md.shamir_threshold = p.threshold;
    let out = store::emit_encrypted(f, &docs, &md, opts)?;
    write_atomic(&p.file, &out, ENCRYPTED_MODE)
}

pub fn updatekeys(cli: &Cli, a: &UpdatekeysArgs) -> Result<()> {
    let cfg = load_config(cli)?.ok_or_else(|| {
        Error::new(ErrorKind::InvalidConfig, "no .sops.yaml found").with_hint(
            "updatekeys applies the creation rules of .sops.yaml; create one or pass --config",
        )
    })?;
    let interactive = std::io::stdin().is_terminal();
    // Plan every file in parallel (parsing and reading only).
    let plans: Vec<Result<Plan>> = std::thread::scope(|s| {
        let handles: Vec<_> = a
            .files
            .iter()
            .map(|f| {
                let cfg = &cfg;
                let it = a.input_type.as_deref();
                s.spawn(move || plan_file(cfg, f, it))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("planning thread"))
            .collect()
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
                println!(
                    "{}: the following changes will be made to the file's key groups:",
                    display(file)
                );
                print!("{}", p.report);
                let go = if a.yes {
                    true
                } else if interactive {
                    eprint!("Is this okay? (y/n): ");
                    let mut line = String::new();
                    let _ = std::io::stdin().read_line(&mut line);
                    line.trim().eq_ignore_ascii_case("y")
                } else {
                    println!("(dry run: pass -y to apply)");
                    false
                };
                if go {
                    to_apply.push(p);
                }
            }
        }
    }
    // Apply in parallel: each file is independent and written atomically. Identities
    // (which may run SOPS_AGE_KEY_CMD) and the store options are loaded once.
    let keys = KeyServices::from_env();
    let opts = store_options(Some(&cfg))?;
    let results: Vec<(PathBuf, Result<()>)> = std::thread::scope(|s| {
        let handles: Vec<_> = to_apply
            .iter()
            .map(|p| {
                let (keys, opts) = (&keys, &opts);
                s.spawn(move || (p.file.clone(), apply(p, a, keys, opts)))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("update thread"))
            .collect()
    });
    for (file, r) in results {
        match r {
            Ok(()) => eprintln!("{}: updated", display(&file)),
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

pub fn recipients(a: &RecipientsArgs) -> Result<()> {
    let what = display(&a.file);
    let f = Format::resolve(a.input_type.as_deref(), &a.file);
    let bytes = read_input(&a.file)?;
    let (_, md) = store::load_encrypted(f, &bytes, &what)?;
    let mut out = String::new();
    let several = md.key_groups.len() > 1;
    for (i, g) in md.key_groups.iter().enumerate() {
        if several {
            out.push_str(&format!("# group {i}\n"));
        }
        for r in g.describe() {
            out.push_str(&r);
            out.push('\n');
        }
    }
    if several {
        let t = if md.shamir_threshold == 0 {
            md.key_groups.len()
        } else {
            md.shamir_threshold
        };
        out.push_str(&format!("# {t} of {} groups needed\n", md.key_groups.len()));
    }
    write_stdout(out.as_bytes())
}
