//! `sealbox rotate FILE`: every value re-encrypted under a new data key, optionally for a
//! changed recipient list (`--add-age`, `--rm-age`, `--add-pgp`, `--rm-pgp`,
//! `--add-hc-vault-transit`, `--rm-hc-vault-transit`). Every master key wraps the new data
//! key anew, so a transit key's `enc` moves to the key's newest version.

use crate::context::{store_options, Context};
use crate::files::{write_atomic, write_stdout, ENCRYPTED_MODE};
use crate::policy::{age_recipients, pgp_recipients, recipients_of, vault_recipients};
use crate::session::{display, mac_check, open};
use crate::{FormatArgs, RotateArgs};
use sealbox_formats::{Error, ErrorKind, Result};
use sealbox_keys::{age, pgp};

/// Runs `sealbox rotate`.
pub fn run(cx: &Context, a: &RotateArgs) -> Result<()> {
    let what = display(&a.file);
    if a.in_place && a.output.is_some() {
        return Err(Error::new(
            ErrorKind::ConflictingOptions,
            "cannot operate on both --output and --in-place",
        ));
    }
    let fmt = FormatArgs {
        input_type: a.input_type.clone(),
        output_type: a.output_type.clone(),
    };
    let mut s = open(&a.file, &fmt, mac_check(a.ignore_mac), cx.keys())?;
    s.stash
        .allow_plaintext_downgrade(a.allow_plaintext_downgrade);
    let mut groups = s.md.key_groups.clone();
    if let Some(rm) = &a.rm_age {
        for r in age::parse_recipient_list(rm)? {
            for g in groups.iter_mut() {
                g.age.retain(|k| k.recipient != r.as_str());
            }
        }
    }
    if let Some(rm) = &a.rm_pgp {
        // As sops: a key goes when its fingerprint is the one given (spaces removed).
        for r in pgp_recipients(rm) {
            let fp = r.id();
            for g in groups.iter_mut() {
                g.pgp.retain(|e| {
                    e.fields.get("fp").map(pgp::normalize_fingerprint) != Some(fp.clone())
                });
            }
        }
    }
    if let Some(rm) = &a.rm_hc_vault_transit {
        let uris: Vec<String> = vault_recipients(rm)?.iter().map(|r| r.id()).collect();
        for g in groups.iter_mut() {
            g.hc_vault.retain(|e| !uris.contains(&e.uri()));
        }
    }
    let mut rs = recipients_of(&groups, &what)?;
    if let Some(add) = &a.add_age {
        rs[0].extend(age_recipients(add)?);
    }
    if let Some(add) = &a.add_pgp {
        for r in pgp_recipients(add) {
            if !rs[0].contains(&r) {
                rs[0].push(r);
            }
        }
    }
    if let Some(add) = &a.add_hc_vault_transit {
        rs[0].extend(vault_recipients(add)?);
    }
    if rs.iter().any(Vec::is_empty) {
        return Err(Error::new(
            ErrorKind::Other,
            format!("{what}: Could not generate data key: [empty key group provided] (a key group would have no recipient left)"),
        )
        .with_hint(
            "add a recipient with --add-age, --add-pgp or --add-hc-vault-transit before \
             removing the last one",
        ));
    }
    let threshold = s.md.shamir_threshold;
    s.rekey(&rs, threshold, cx.keys(), &what)?;
    let out = s.emit(&store_options(cx.load_config()?.as_ref())?)?;
    if a.in_place {
        write_atomic(&a.file, &out, ENCRYPTED_MODE)
    } else if let Some(p) = &a.output {
        write_atomic(p, &out, ENCRYPTED_MODE)
    } else {
        write_stdout(&out)
    }
}
