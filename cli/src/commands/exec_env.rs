//! `sealbox exec-env FILE COMMAND`: the file's top-level values handed to a command as
//! environment variables, without writing them to disk.

use crate::context::Context;
use crate::process::{child_status, spawn_err};
use crate::session::{display, open};
use crate::{ExecEnvArgs, FormatArgs};
use sealbox_formats::sops::MacCheck;
use sealbox_formats::store::dotenv;
use sealbox_formats::{Error, ErrorKind, Item, Result};
use std::os::unix::process::CommandExt;
use std::process::{Command, ExitCode};
use zeroize::Zeroizing;

/// Runs `sealbox exec-env`; the command's status is ours.
pub fn run(cx: &Context, a: &ExecEnvArgs) -> Result<ExitCode> {
    let fmt = FormatArgs {
        input_type: None,
        output_type: None,
    };
    let o = open(&a.file, &fmt, MacCheck::Verify, cx.keys())?;
    let mut vars: Vec<(String, Zeroizing<String>)> = Vec::new();
    if let Some(doc) = o.docs.first() {
        for item in &doc.0 {
            let Item::Pair(k, v) = item else { continue };
            if k.contains('=') || k.is_empty() {
                return Err(Error::new(
                    ErrorKind::Other,
                    format!(
                        "{}: the key {k:?} cannot be an environment variable name",
                        display(&a.file)
                    ),
                ));
            }
            let s = dotenv::val_to_string(v).ok_or_else(|| {
                Error::new(
                    ErrorKind::Other,
                    format!(
                        "{}: cannot use complex value in environment; offending key {k:?}",
                        display(&a.file)
                    ),
                )
                .with_hint("only top-level scalar values can become environment variables")
            })?;
            vars.push((k.clone(), Zeroizing::new(s)));
        }
    }
    drop(o);
    let mut cmd = Command::new("/bin/sh");
    cmd.arg("-c").arg(&a.command);
    if a.pristine {
        cmd.env_clear();
    }
    for (k, v) in &vars {
        cmd.env(k, v.as_str());
    }
    if a.same_process {
        return Err(spawn_err(cmd.exec()));
    }
    let status = cmd.status().map_err(spawn_err)?;
    drop(vars);
    Ok(child_status(status))
}
