//! `sealbox completions SHELL`: a shell completion script made from the same clap
//! definitions as `--help`, so it cannot drift from the parser (a subcommand, not a build
//! output, for the reason given in `man.rs`).

use crate::files::write_stdout;
use crate::CompletionsArgs;
use sealbox_formats::Result;

/// Runs `sealbox completions`: prints the completion script for `a.shell`.
pub fn run(a: &CompletionsArgs) -> Result<()> {
    let mut cmd = completion_command();
    let mut out = Vec::new();
    clap_complete::generate(a.shell, &mut cmd, "sealbox", &mut out);
    write_stdout(&out)
}

/// The command line as the completions see it: `--config` offered only where it does
/// something. (clap's bash generator offers hidden options too, so the hidden copies of
/// [`crate::command`] would still be proposed.)
fn completion_command() -> clap::Command {
    let mut cmd = <crate::Cli as clap::CommandFactory>::command();
    let config = cmd
        .get_arguments()
        .find(|a| a.get_id() == "config")
        .expect("the --config argument")
        .clone()
        .global(false);
    cmd = cmd.mut_arg("config", |a| a.global(false));
    let reading: Vec<String> = cmd
        .get_subcommands()
        .map(|s| s.get_name().to_string())
        .filter(|n| !crate::WITHOUT_CONFIG.contains(&n.as_str()))
        .collect();
    for name in reading {
        cmd = cmd.mut_subcommand(name, |s| s.arg(config.clone()));
    }
    cmd
}
