//! Running the user's command for `exec-env` and `exec-file`: how it is started and how its
//! end becomes ours.

use sealbox_formats::{Error, ErrorKind};
use std::process::ExitCode;

/// The status to exit with after the command ended with `status`: its code, or, killed by
/// a signal, 128 + the signal as a shell reports it.
pub fn child_status(status: std::process::ExitStatus) -> ExitCode {
    use std::os::unix::process::ExitStatusExt;
    match status.code() {
        Some(c) => ExitCode::from(c as u8),
        None => ExitCode::from((128 + status.signal().unwrap_or(1)) as u8),
    }
}

/// The error for a command that could not be started.
pub fn spawn_err(e: std::io::Error) -> Error {
    Error::new(ErrorKind::Other, format!("cannot run /bin/sh: {e}"))
}
