//! `sealbox`: encrypt, decrypt and manage sops-format secrets files.
//!
//! `main` is the only place the process exits: commands return what happened (an error,
//! whose kind [`exit`] turns into sops' exit code, or the status `check` and the `exec-*`
//! commands end with). The module map is in ARCHITECTURE.md.

#![forbid(unsafe_code)]

mod classic;
mod cli;
mod commands;
mod context;
mod editor;
mod exit;
mod files;
mod firstword;
mod gate;
mod keyfile;
mod policy;
mod process;
mod session;
mod target;
mod transit;

pub use cli::*;

use std::process::ExitCode;

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("SEALBOX_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .without_time()
        .with_target(false)
        .try_init();
}

fn main() -> ExitCode {
    init_logging();
    // Started through a link named `ssh-to-age`: Mic92's tool, flags and all.
    let mut argv = std::env::args_os();
    if let Some(argv0) = argv.next() {
        if commands::ssh_to_age::invoked_as_ssh_to_age(&argv0) {
            return commands::ssh_to_age::run(&argv0, &argv.collect::<Vec<_>>());
        }
    }
    // The command is built once (building it is a measurable part of start-up).
    let command = cli::command();
    // sops' flag form (`sops -d FILE`, also as `sealbox -d FILE`) becomes a subcommand line.
    let args = match classic::hook(std::env::args_os().collect(), &command) {
        classic::Hook::Args(a) => a,
        classic::Hook::Exit(code) => return code,
    };
    let args = match cli::args(args, &command) {
        Ok(a) => a,
        Err(typo) => {
            eprintln!("{typo}");
            return ExitCode::from(1);
        }
    };
    let parsed = command
        .try_get_matches_from(args)
        .and_then(|m| <Cli as clap::FromArgMatches>::from_arg_matches(&m));
    let cli = match parsed {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            // sops exits 1 on usage errors; help and version are not errors.
            return match e.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => {
                    ExitCode::SUCCESS
                }
                _ => ExitCode::from(1),
            };
        }
    };
    match commands::run(&cli) {
        Ok(code) => code,
        Err(e) => {
            // Escaped: a message may quote a file name or a `.sops.yaml` someone else wrote,
            // and CI runners take some lines of stderr as commands (gate/escape.rs).
            eprintln!("sealbox: {}", gate::escape::error(&e));
            ExitCode::from(exit::of(&e))
        }
    }
}
