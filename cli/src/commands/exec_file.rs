//! `exec-env` and `exec-file`: hand plaintext to a command without writing it to disk
//! (exec-file's `--no-fifo` uses a 0600 file in a private 0700 directory, removed after).

use crate::commands::display;
use crate::session::open;
use crate::fsio::{sweep_private_dirs, PrivateDir, PLAINTEXT_MODE};
use crate::{ExecEnvArgs, ExecFileArgs, FormatArgs};
use sealbox_formats::store::{self, dotenv, StoreOptions};
use sealbox_formats::{Error, ErrorKind, Item, Result};
use std::io::{Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;
use zeroize::Zeroizing;

fn child_status(status: std::process::ExitStatus) -> Result<()> {
    use std::os::unix::process::ExitStatusExt;
    match status.code() {
        Some(0) => Ok(()),
        Some(c) => std::process::exit(c),
        // Killed by a signal: exit like a shell would.
        None => std::process::exit(128 + status.signal().unwrap_or(1)),
    }
}

fn spawn_err(e: std::io::Error) -> Error {
    Error::new(ErrorKind::Other, format!("cannot run /bin/sh: {e}"))
}

pub fn exec_env(a: &ExecEnvArgs) -> Result<()> {
    let fmt = FormatArgs {
        input_type: None,
        output_type: None,
    };
    let o = open(&a.file, &fmt, false)?;
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
    child_status(status)
}

fn valid_name(name: &str) -> Result<&str> {
    if name.is_empty() || name.contains('/') || name == "." || name == ".." || name.contains('\0') {
        return Err(Error::new(
            ErrorKind::Other,
            format!("invalid --filename {name:?}: give a plain file name"),
        ));
    }
    Ok(name)
}

pub fn exec_file(a: &ExecFileArgs) -> Result<()> {
    // Plaintext that killed runs left in $TMPDIR goes first (their PID is gone).
    sweep_private_dirs();
    let o = open(&a.file, &a.format, false)?;
    let plain = Zeroizing::new(
        store::emit_plain(o.output, &o.docs, &StoreOptions::default())
            .map_err(|e| e.context(display(&a.file)))?,
    );
    drop(o);
    let dir = PrivateDir::new()?;
    let name = valid_name(a.filename.as_deref().unwrap_or("tmp-file"))?;
    let path = dir.path().join(name);
    let werr =
        |e: std::io::Error| Error::new(ErrorKind::WriteOutput, format!("{}: {e}", path.display()));
    let command = a.command.replace("{}", &path.to_string_lossy());
    let mut cmd = Command::new("/bin/sh");
    cmd.arg("-c").arg(&command);
    if a.no_fifo {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(PLAINTEXT_MODE)
            .open(&path)
            .map_err(werr)?;
        f.write_all(&plain).map_err(werr)?;
        drop(f);
        let status = cmd.status().map_err(spawn_err)?;
        drop(dir);
        return child_status(status);
    }
    nix::unistd::mkfifo(&path, nix::sys::stat::Mode::from_bits_truncate(0o600))
        .map_err(|e| werr(std::io::Error::from(e)))?;
    let mut child = cmd.spawn().map_err(spawn_err)?;
    let writer = {
        let path = path.clone();
        let plain = plain.clone();
        std::thread::spawn(move || {
            // Blocks until the command opens the FIFO for reading.
            if let Ok(mut f) = std::fs::OpenOptions::new().write(true).open(&path) {
                let _ = f.write_all(&plain);
            }
        })
    };
    let status = child.wait().map_err(spawn_err)?;
    // If the command never read the FIFO, the writer is blocked in open() or write(), or
    // has not reached open() yet: hold a read end open until it is done.
    if !writer.is_finished() {
        drain_until(&path, || writer.is_finished());
    }
    let _ = writer.join();
    drop(dir);
    child_status(status)
}

/// Reads and discards what arrives on `fifo` until `done()`. The read end stays open the whole
/// time, so a writer that opens the FIFO late never blocks waiting for a reader.
fn drain_until(fifo: &Path, done: impl Fn() -> bool) {
    let Ok(mut r) = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(nix::fcntl::OFlag::O_NONBLOCK.bits())
        .open(fifo)
    else {
        return;
    };
    let mut sink = Zeroizing::new(vec![0u8; 65536]);
    while !done() {
        match r.read(&mut sink) {
            Ok(n) if n > 0 => continue,
            // Ok(0): no writer yet (or it closed); WouldBlock: nothing written yet. Either way
            // the writer can still open: keep the read end and wait.
            _ => std::thread::sleep(std::time::Duration::from_millis(1)),
        }
    }
}
