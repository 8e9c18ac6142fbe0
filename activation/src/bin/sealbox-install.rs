//! `sealbox-install [--check-mode off|manifest|sopsfile] [--ignore-passwd] [--keep-going]
//! [--restart-units] [--wait-for-key SECONDS] [--watch [--debounce MS] | --diff]
//! MANIFEST.json` – installs a sops-nix manifest's secrets. `sealbox-install --man` prints
//! its manual page (section 8), made from the same definitions as `--help`.

use clap::Parser;
use sealbox_activation::changes::Verb;
use sealbox_activation::diff::diff;
use sealbox_activation::install::run;
use sealbox_activation::watch::watch;
use sealbox_activation::{CheckMode, Error, Note, Options, Reporter};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

#[derive(Parser, Debug)]
#[command(
    name = "sealbox-install",
    version,
    about = "Install the secrets of a sops-nix manifest into /run/secrets.d generations"
)]
struct Cli {
    /// off = install; manifest / sopsfile = validate only, touch nothing.
    #[arg(long = "check-mode", default_value = "off", value_name = "MODE")]
    check_mode: String,
    /// Never consult the user/group database: owners become 0/0.
    #[arg(long = "ignore-passwd")]
    ignore_passwd: bool,
    /// Install the secrets that work and switch even when some fail (exit status still 1).
    #[arg(long = "keep-going")]
    keep_going: bool,
    /// Restart/reload units with systemctl instead of writing the activation lists
    /// (also SOPS_RESTART_UNITS_VIA_SYSTEMCTL=1).
    #[arg(long = "restart-units")]
    restart_units: bool,
    /// When no key exists yet (first boot), wait up to SECONDS for one of the configured
    /// key paths to appear instead of failing.
    #[arg(long = "wait-for-key", value_name = "SECONDS", value_parser = seconds)]
    wait_for_key: Option<Duration>,
    /// Keep running: re-install whenever the manifest, a sops file, a template file or a
    /// key file changes; exit on SIGTERM/SIGINT.
    #[arg(long, conflicts_with = "diff")]
    watch: bool,
    /// With --watch: activate once no change came for MS milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 250, requires = "watch")]
    debounce: u64,
    /// Print what an activation would add, change or remove and which units it would
    /// restart or reload; write nothing.
    #[arg(long)]
    diff: bool,
    /// Never talk to a Vault/OpenBao server (for a unit that runs before the network is
    /// up): a file whose data key needs one fails at once instead of timing out.
    #[arg(long = "no-network")]
    no_network: bool,
    /// Print the manual page (roff, section 8) and exit: `sealbox-install --man | man -l -`,
    /// or save it as sealbox-install.8 in a man8 directory.
    #[arg(long, exclusive = true)]
    man: bool,
    /// The manifest JSON file.
    // Required; an `Option` only because `--man` (an exclusive flag) comes without one.
    #[arg(required = true)]
    manifest: Option<PathBuf>,
}

/// The manual page: clap's rendering of the options, plus what `--help` does not say.
fn man_page() -> std::io::Result<Vec<u8>> {
    use clap::CommandFactory;
    use clap_mangen::roff::{bold, roman, Roff};
    let mut buf = Vec::new();
    clap_mangen::Man::new(Cli::command())
        .section("8")
        .manual("sealbox manual")
        .render(&mut buf)?;
    let mut r = Roff::new();
    let item = |r: &mut Roff, term: &str, text: &str| {
        r.control("TP", []);
        r.text([bold(term)]);
        r.text([roman(text)]);
    };
    r.control("SH", ["DESCRIPTION OF A RUN"]);
    r.text([roman(
        "Every secret is decrypted in memory first; only then is generation N+1 written under \
         secretsMountPoint (a ramfs, or tmpfs), each file created with its final mode and \
         owner. Templates are rendered into N+1/rendered, the units of changed secrets are \
         restarted or reloaded, symlinkPath is switched to the new generation atomically, \
         custom paths are linked and old generations pruned. If any secret fails, nothing is \
         written. The Go spellings of the flags (-check-mode=manifest) are accepted.",
    )]);
    r.control("SH", ["ENVIRONMENT"]);
    item(
        &mut r,
        "NIXOS_ACTION=dry-activate",
        "Dry activation: the new generation is written, nothing is switched.",
    );
    item(
        &mut r,
        "SOPS_RESTART_UNITS_VIA_SYSTEMCTL=1",
        "Restart and reload units with systemctl, like --restart-units.",
    );
    item(
        &mut r,
        "SEALBOX_NIXOS_RUN_DIR",
        "Where the restart and reload lists go (default /run/nixos; skipped when missing).",
    );
    item(
        &mut r,
        "SEALBOX_CREDSTORE_DIR",
        "The systemd credential store (default /run/credstore).",
    );
    item(
        &mut r,
        "XDG_RUNTIME_DIR",
        "The value of %r in user mode (home-manager).",
    );
    item(
        &mut r,
        "SOPS_AGE_KEY_FILE, SOPS_AGE_KEY",
        "Identities used when the manifest names no key.",
    );
    item(
        &mut r,
        "VAULT_TOKEN, VAULT_ROLE_ID, VAULT_SECRET_ID_FILE, SEALBOX_VAULT_FALLBACK_ADDRS, VAULT_CACERT",
        "Vault/OpenBao transit keys (hc_vault): the token, or an AppRole login with a secret-id \
         file; other nodes of the cluster; a private CA. The whole list is in the README \
         (\"Key custody with OpenBao or Vault\").",
    );
    item(
        &mut r,
        "SEALBOX_LOG",
        "Log filter for stderr (default: warn).",
    );
    r.control("SH", ["EXIT STATUS"]);
    r.text([roman(
        "0 on success; 1 on any error (one line per problem, naming the secret and the file); \
         2 on a usage error.",
    )]);
    r.control("SH", ["SEE ALSO"]);
    r.text([
        bold("sealbox"),
        roman("(1), "),
        bold("systemd.exec"),
        roman("(5)"),
    ]);
    r.to_writer(&mut buf)?;
    Ok(buf)
}

fn seconds(s: &str) -> Result<Duration, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && (0.0..=1e9).contains(&v) => Ok(Duration::from_secs_f64(v)),
        _ => Err(format!("'{s}' is not a number of seconds")),
    }
}

/// Go's flag package spells long flags with one dash (`-check-mode=x`): rewrite them.
fn go_spelling(args: impl Iterator<Item = String>) -> Vec<String> {
    const LONG: [&str; 10] = [
        "check-mode",
        "no-network",
        "ignore-passwd",
        "keep-going",
        "restart-units",
        "wait-for-key",
        "watch",
        "debounce",
        "diff",
        "man",
    ];
    let mut out = Vec::new();
    let mut positional = false;
    for a in args {
        if !positional && a == "--" {
            positional = true;
        } else if !positional && a.starts_with('-') && !a.starts_with("--") {
            let name = a[1..].split('=').next().unwrap_or_default();
            if LONG.contains(&name) || name == "help" {
                out.push(format!("-{a}"));
                continue;
            }
        }
        out.push(a);
    }
    out
}

/// Prints the library's notes as sealbox-install always has (stdout: the change lines;
/// stderr: the rest).
struct Printer<'a> {
    prog: &'a str,
}

impl Printer<'_> {
    /// An error, one line per problem, and exit status 1.
    fn fail(&self, e: &Error) -> ExitCode {
        for l in e.lines() {
            eprintln!("{}: {l}", self.prog);
        }
        ExitCode::from(1)
    }
}

impl Reporter for Printer<'_> {
    fn note(&mut self, note: Note) {
        let prog = self.prog;
        match note {
            Note::SshKeyNotGpg { path, reason } => {
                eprintln!("Cannot import ssh key '{path}' as a GPG key: {reason}")
            }
            // sops-nix prints this one on stdout.
            Note::GpgKeyImported { path, fingerprint } => {
                println!("{prog}: Imported {path} as GPG key with fingerprint {fingerprint}")
            }
            Note::GpgAgentNotStopped { home, reason } => eprintln!(
                "{prog}: warning: cannot stop the gpg-agent of {home}: {reason}; stop it with 'gpgconf --homedir {home} --kill gpg-agent'"
            ),
            Note::SshKeyUnreadable { path, reason } => {
                eprintln!("Cannot read ssh key '{path}': {reason}")
            }
            Note::SshKeyUnconvertible { path, reason } => {
                eprintln!("Cannot convert ssh key '{path}': {reason}")
            }
            Note::KeyImported { path, fingerprint } => {
                eprintln!("{prog}: Imported {path} as age key with fingerprint {fingerprint}")
            }
            Note::WaitingForKey { limit, paths } => eprintln!(
                "{prog}: waiting up to {} s for a key to appear at {}",
                limit.as_secs_f64(),
                paths.join(", ")
            ),
            Note::Changes {
                dry,
                kind,
                verb,
                names,
            } => {
                let verb = match (verb, dry) {
                    (Verb::Add, false) => "adding",
                    (Verb::Modify, false) => "modifying",
                    (Verb::Remove, false) => "removing",
                    (Verb::Add, true) => "would add",
                    (Verb::Modify, true) => "would modify",
                    (Verb::Remove, true) => "would remove",
                };
                let s = if names.len() > 1 { "s" } else { "" };
                println!("{verb} {kind}{s}: {}", names.join(", "));
            }
            Note::WouldRequest { restart, reload } => {
                for u in &restart {
                    eprintln!("would restart {u}");
                }
                for u in &reload {
                    eprintln!("would reload {u}");
                }
            }
            Note::CredentialsRemoved(names) => {
                println!("removing credentials: {}", names.join(", "))
            }
            Note::WatchActivated { n, generation } => {
                eprintln!("{prog}: watch: activation {n} done, current generation {generation}")
            }
            Note::WatchFailed { n, error } => {
                let _ = self.fail(&error);
                eprintln!(
                    "{prog}: watch: activation {n} failed; the previous generation stays active; still watching"
                );
            }
            Note::Watching(files) => eprintln!(
                "{prog}: watch: watching {} file(s): {}",
                files.len(),
                files
                    .iter()
                    .map(|f| f.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Note::WatchStopping => eprintln!("{prog}: watch: stopping on signal"),
        }
    }
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("SEALBOX_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .without_time()
        .init();
    let argv = go_spelling(std::env::args());
    let prog = argv
        .first()
        .map(|a| a.rsplit('/').next().unwrap_or(a).to_string())
        .unwrap_or_else(|| "sealbox-install".into());
    // quirk 1: fix – a wrong number of positional arguments is a usage error (exit 2), not
    // a silent exit 0 (clap's usage errors exit 2).
    let cli = Cli::parse_from(argv);
    if cli.man {
        use std::io::Write;
        return match man_page().and_then(|p| std::io::stdout().write_all(&p)) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("{prog}: cannot write the manual page: {e}");
                ExitCode::from(1)
            }
        };
    }
    let Some(manifest) = cli.manifest else {
        unreachable!("clap requires MANIFEST without --man");
    };
    let mut p = Printer { prog: &prog };
    let mut o = Options::from_env();
    o.check_mode = match CheckMode::parse(&cli.check_mode) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{prog}: {e}");
            return ExitCode::from(1);
        }
    };
    o.ignore_passwd = cli.ignore_passwd;
    o.keep_going = cli.keep_going;
    o.restart_via_systemctl |= cli.restart_units;
    o.wait_for_key = cli.wait_for_key;
    o.no_network = cli.no_network;
    if (cli.watch || cli.diff) && o.check_mode != CheckMode::Off {
        eprintln!("{prog}: --check-mode cannot be combined with --watch or --diff");
        return ExitCode::from(2);
    }
    if cli.diff {
        return match diff(&manifest, &o, &mut p) {
            Ok(d) => {
                for l in d.lines() {
                    println!("{l}");
                }
                ExitCode::SUCCESS
            }
            Err(e) => p.fail(&e),
        };
    }
    if cli.watch {
        return match watch(&manifest, &o, Duration::from_millis(cli.debounce), &mut p) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => p.fail(&e),
        };
    }
    match run(&manifest, &o, &mut p) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => p.fail(&e),
    }
}
