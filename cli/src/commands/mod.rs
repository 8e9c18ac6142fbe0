//! The subcommands, one file each. A new command is one file here, its arguments in
//! `cli.rs`, and one arm in [`run`].

mod check;
mod completions;
mod decrypt;
mod edit;
mod encrypt;
mod exec_env;
mod exec_file;
mod filestatus;
mod keygen;
mod man;
mod manifest;
mod recipients;
mod rotate;
mod set;
pub(crate) mod ssh_to_age;
mod unset;
mod updatekeys;

use crate::context::Context;
use crate::{Cli, Command};
use sealbox_formats::Result;
use std::process::ExitCode;

/// Runs the parsed command line: the status to exit with (`check` exits 1 on findings,
/// `exec-env` and `exec-file` with their command's status), or the error.
pub fn run(cli: &Cli) -> Result<ExitCode> {
    let cx = Context::new(cli);
    if cli.decrypts() {
        cx.check_decryption_order()?;
    }
    let done = match &cli.command {
        Command::Check(a) => {
            return check::run(&cx, a).map(|clean| {
                if clean {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::from(1)
                }
            })
        }
        Command::ExecEnv(a) => return exec_env::run(&cx, a),
        Command::ExecFile(a) => return exec_file::run(&cx, a),
        Command::Encrypt(a) => encrypt::run(&cx, a),
        Command::Decrypt(a) => decrypt::run(&cx, a),
        Command::Edit(a) => edit::run(&cx, a),
        Command::Set(a) => set::run(&cx, a),
        Command::Unset(a) => unset::run(&cx, a),
        Command::Filestatus(a) => filestatus::run(a),
        Command::Rotate(a) => rotate::run(&cx, a),
        Command::Updatekeys(a) => updatekeys::run(&cx, a),
        Command::Recipients(a) => recipients::run(a),
        Command::Keygen(a) => keygen::run(a),
        Command::SshToAge(a) => {
            // Messages start with the program as started, as the Go tool's do.
            let mut program = std::env::args_os()
                .next()
                .unwrap_or_else(|| "sealbox".into());
            program.push(" ssh-to-age");
            return Ok(ssh_to_age::run(&program, &a.args));
        }
        Command::Manifest(a) => manifest::run(a),
        Command::Completions(a) => completions::run(a),
        Command::Man(a) => man::run(a),
    };
    done.map(|()| ExitCode::SUCCESS)
}
