//! `--diff MANIFEST`: what an activation would change, without writing anything.
//!
//! Output (stdout), one line per item, in this order, names sorted within each group:
//!
//! ```text
//! added secret NAME
//! changed secret NAME
//! removed secret NAME
//! added template NAME
//! changed template NAME
//! removed template NAME
//! added credential NAME
//! changed credential NAME
//! removed credential NAME
//! restart UNIT
//! reload UNIT
//! ```
//!
//! NAME / UNIT is the rest of the line. `changed` means content, mode, owner or group
//! differ (as the activation's change detection). Units are those the activation would
//! request (restartUnits/reloadUnits of added or changed entries), deduplicated; with no
//! current generation (first activation) and in user mode no unit is listed, as the
//! activation requests none then. No output = nothing would change.

use crate::keywait;
use crate::run::{self, decrypt_all, differs, old_files, Installed, Options};
use crate::{credstore, fsops::join};
use sealbox_keys::age::{Identities, IdentitySources};
use std::fs;
use std::path::Path;

type Errors = Vec<String>;

/// The diff lines for the manifest at `path` (without trailing newlines).
pub fn diff(path: &Path, o: &Options) -> Result<Vec<String>, Errors> {
    let (m, plan) = run::load(path, o)?;
    if !plan.secrets.is_empty() {
        keywait::ensure(&m, None, &o.prog).map_err(|e| vec![e])?;
    }
    let ids = if m.age_ssh_key_paths.is_empty() && m.age_key_file.is_empty() {
        Identities::load(&IdentitySources::from_env())
    } else {
        let (text, err) = keywait::identity_text(&m, &o.prog);
        if let Some(e) = err {
            return Err(vec![e]);
        }
        let mut ids = Identities::new();
        ids.push_identity_text(&text, "the key sources of the manifest")
            .map_err(|e| {
                vec![format!(
                    "cannot load age identities: {}",
                    e.message.replace('\n', "; ")
                )]
            })?;
        ids
    };
    let (secrets, templates, failures) = decrypt_all(&plan, &ids);
    if !failures.is_empty() {
        return Err(failures);
    }
    let link = Path::new(&m.symlink_path);
    // The current generation, resolved once so it is read consistently.
    let old_root = fs::metadata(link)
        .ok()
        .filter(|md| md.is_dir())
        .and_then(|_| fs::canonicalize(link).ok());
    let compare_owner = !(o.dry || m.user_mode);
    let mut lines = Vec::new();
    let mut restart: Vec<String> = Vec::new();
    let mut reload: Vec<String> = Vec::new();
    for (kind, list, sub) in [
        ("secret", &secrets, None),
        ("template", &templates, Some("rendered")),
    ] {
        let (mut added, mut changed, mut removed) = (Vec::new(), Vec::new(), Vec::new());
        let base = old_root.as_ref().map(|r| match sub {
            Some(s) => r.join(s),
            None => r.clone(),
        });
        for i in list.iter() {
            let state = match &base {
                None => None,
                Some(b) => {
                    differs(&join(b, &i.entry.name), i, compare_owner).map_err(|e| vec![e])?
                }
            };
            match state {
                None => added.push(i.entry.name.clone()),
                Some(true) => changed.push(i.entry.name.clone()),
                Some(false) => continue,
            }
            if base.is_some() && !m.user_mode {
                restart.extend(i.entry.restart_units.iter().cloned());
                reload.extend(i.entry.reload_units.iter().cloned());
            }
        }
        if let Some(b) = &base {
            let skip = sub.is_none().then_some("rendered");
            removed = old_files(b, skip)
                .into_iter()
                .filter(|f| !list.iter().any(|i: &Installed| &i.entry.name == f))
                .collect();
        }
        for (verb, names) in [
            ("added", &mut added),
            ("changed", &mut changed),
            ("removed", &mut removed),
        ] {
            names.sort();
            lines.extend(names.iter().map(|n| format!("{verb} {kind} {n}")));
        }
    }
    if !m.user_mode {
        let (named, values) = credstore::values(&plan, &secrets);
        let c = credstore::diff(&o.credstore_dir, &m.symlink_path, &named, &values)
            .map_err(|e| vec![format!("cannot read the credential store: {e}")])?;
        lines.extend(c.into_iter().map(|(v, n)| format!("{v} credential {n}")));
    }
    for (verb, mut units) in [("restart", restart), ("reload", reload)] {
        units.sort();
        units.dedup();
        lines.extend(units.iter().map(|u| format!("{verb} {u}")));
    }
    Ok(lines)
}
