//! `sealbox exec-file FILE COMMAND`: the plaintext handed to a command through a FIFO,
//! without writing it to disk (`--no-fifo`: a 0600 file in a private 0700 directory,
//! removed after).

use crate::context::Context;
use crate::files::{sweep_private_dirs, PrivateDir, PLAINTEXT_MODE};
use crate::process::{child_status, spawn_err};
use crate::session::{display, open};
use crate::ExecFileArgs;
use sealbox_formats::sops::MacCheck;
use sealbox_formats::store::{self, StoreOptions};
use sealbox_formats::{Error, ErrorKind, Result};
use std::io::{Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::process::{Command, ExitCode};
use zeroize::Zeroizing;

/// A `--filename` that names a file in the private directory, nothing else.
fn valid_name(name: &str) -> Result<&str> {
    if name.is_empty() || name.contains('/') || name == "." || name == ".." || name.contains('\0') {
        return Err(Error::new(
            ErrorKind::Other,
            format!("invalid --filename {name:?}: give a plain file name"),
        ));
    }
    Ok(name)
}

/// Runs `sealbox exec-file`; the command's status is ours.
pub fn run(cx: &Context, a: &ExecFileArgs) -> Result<ExitCode> {
    // Plaintext that killed runs left in $TMPDIR goes first (their PID is gone).
    sweep_private_dirs();
    let o = open(&a.file, &a.format, MacCheck::Verify, cx.keys())?;
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
        return Ok(child_status(status));
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
    Ok(child_status(status))
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
