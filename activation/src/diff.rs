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

use crate::changes::{self, Verb};
use crate::decrypt::decrypt_all;
use crate::error::{Error, Outcome, Step};
use crate::options::Options;
use crate::plan::load;
use crate::report::Reporter;
use crate::{credstore, identities, keywait};
use std::path::Path;

/// What an activation would change: the change set of the secrets and templates, and the
/// credentials (verb and name, sorted by name within each verb).
pub struct Diff {
    /// The secrets' and templates' changes, and the units they request.
    pub changes: changes::ChangeSet,
    /// Whether units are listed (not in user mode: the activation requests none there).
    pub units: bool,
    /// The credentials' changes (none in user mode).
    pub credentials: Vec<(&'static str, String)>,
}

impl Diff {
    /// The output lines (see the module header), without trailing newlines.
    pub fn lines(&self) -> Vec<String> {
        let verb = |v: Verb| match v {
            Verb::Add => "added",
            Verb::Modify => "changed",
            Verb::Remove => "removed",
        };
        let mut lines = Vec::new();
        for (kind, c) in [
            ("secret", &self.changes.secrets),
            ("template", &self.changes.templates),
        ] {
            for (v, names) in c.by_verb() {
                lines.extend(names.iter().map(|n| format!("{} {kind} {n}", verb(v))));
            }
        }
        lines.extend(
            self.credentials
                .iter()
                .map(|(v, n)| format!("{v} credential {n}")),
        );
        if self.units && self.changes.current.is_some() {
            for (verb, units) in [
                ("restart", &self.changes.restart),
                ("reload", &self.changes.reload),
            ] {
                let mut units = units.clone();
                units.sort();
                units.dedup();
                lines.extend(units.iter().map(|u| format!("{verb} {u}")));
            }
        }
        lines
    }
}

/// What an activation of the manifest at `path` would change.
pub fn diff(path: &Path, o: &Options, r: &mut dyn Reporter) -> Result<Diff, Error> {
    let (m, plan) = load(path, o)?;
    if !plan.secrets.is_empty() {
        keywait::ensure(&m, None, r).map_err(Error::NoKey)?;
    }
    let keys = identities::load(
        &m,
        r,
        "the key sources of the manifest",
        o.no_network,
        |_| Ok(()),
    )?;
    let decrypted = decrypt_all(&plan, &keys);
    keys.finish(r);
    if !decrypted.failures.is_empty() {
        return Err(Error::Failed {
            problems: Vec::new(),
            failures: decrypted.failures,
            outcome: Outcome::Unsaid,
        });
    }
    let link = Path::new(&m.symlink_path);
    let compare_owner = !(o.dry || m.user_mode);
    let changes = changes::detect(
        link,
        &decrypted.secrets,
        &decrypted.templates,
        compare_owner,
    )
    .map_err(Error::step(Step::Generation))?;
    let credentials = if m.user_mode {
        Vec::new()
    } else {
        let (named, values) = credstore::values(&plan, &decrypted.secrets);
        credstore::diff(&o.credstore_dir, &m.symlink_path, &named, &values)
            .map_err(Error::step(Step::CredentialStore))?
    };
    Ok(Diff {
        changes,
        units: !m.user_mode,
        credentials,
    })
}
