//! The command line: clap's definitions of every subcommand and flag, and the few rules
//! clap cannot express (`sealbox FILE` edits FILE, `ssh-to-age` taking Go-style flags raw,
//! `--config` hidden where it does nothing). Completions and manual pages are made from the
//! same definitions.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

/// Secrets files in the sops format: encrypt, decrypt, and keys.
#[derive(Parser, Debug)]
#[command(
    name = "sealbox",
    version,
    about,
    max_term_width = 100,
    after_help = "`sealbox FILE` edits FILE, as `sops FILE` does. Manual: `sealbox man`; \
                  completions: `sealbox completions bash|zsh|fish`."
)]
pub struct Cli {
    /// Path to the .sops.yaml to use (disables the search upward from the current directory);
    /// before or after the subcommand.
    #[arg(long, global = true, env = "SOPS_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// YAML and JSON indentation of the output, overriding .sops.yaml's `stores` (sops'
    /// `--indent`; what `sops --indent N` becomes).
    #[arg(
        long,
        global = true,
        hide = true,
        value_name = "N",
        allow_negative_numbers = true
    )]
    pub indent: Option<i64>,

    /// The order in which a key group's keys are tried, e.g. `pgp,age` (sops'
    /// `--decryption-order`; default age, pgp, hc_vault).
    #[arg(
        long,
        global = true,
        env = "SOPS_DECRYPTION_ORDER",
        value_name = "TYPES"
    )]
    pub decryption_order: Option<String>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Encrypt a file (stdout, or --output / -i).
    Encrypt(EncryptArgs),
    /// Decrypt a file (stdout, or --output / -i).
    Decrypt(DecryptArgs),
    /// Edit a file in $SOPS_EDITOR / $EDITOR (also: `sealbox FILE`).
    Edit(EditArgs),
    /// Set one value: `sealbox set FILE '["a"]["b"]' JSON_VALUE`.
    Set(SetArgs),
    /// Remove one value: `sealbox unset FILE '["a"]["b"]'`.
    Unset(UnsetArgs),
    /// Print whether a file is encrypted, as JSON: {"encrypted":true}.
    Filestatus(FilestatusArgs),
    /// Run COMMAND with the file's top-level values as environment variables.
    #[command(name = "exec-env")]
    ExecEnv(ExecEnvArgs),
    /// Run COMMAND with `{}` replaced by the path of a FIFO (or 0600 file) holding the plaintext.
    #[command(name = "exec-file")]
    ExecFile(ExecFileArgs),
    /// Re-encrypt a file under a new data key (`--add-age`, `--rm-age`, `--add-pgp`,
    /// `--rm-pgp`).
    Rotate(RotateArgs),
    /// Apply the creation rules' recipients to files (dry run unless -y or answered y).
    Updatekeys(UpdatekeysArgs),
    /// List who can decrypt a file (no key needed).
    Recipients(RecipientsArgs),
    /// For CI: report files whose recipients, key groups or metadata do not match
    /// .sops.yaml (exit 1 if any; no key needed unless --decrypt).
    Check(CheckArgs),
    /// Generate an age key (like age-keygen).
    Keygen(KeygenArgs),
    /// Convert SSH ed25519 keys to age: Mic92's ssh-to-age, same flags and behaviour (also
    /// when sealbox is started through a link named ssh-to-age).
    #[command(name = "ssh-to-age", disable_help_flag = true)]
    SshToAge(SshToAgeArgs),
    /// Build a sealbox-install manifest (JSON) from a TOML or YAML description, for hosts
    /// without Nix (see examples/systemd/README.md).
    Manifest(ManifestArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions(CompletionsArgs),
    /// Print a manual page, or write them all with -o DIR.
    Man(ManArgs),
}

/// Subcommands that never read `.sops.yaml`. `--config` stays accepted there (it is a global
/// flag, as in sops, so scripts may pass it everywhere) but is left out of their help.
pub(crate) const WITHOUT_CONFIG: &[&str] = &[
    "filestatus",
    "exec-env",
    "exec-file",
    "recipients",
    "keygen",
    "ssh-to-age",
    "manifest",
    "completions",
    "man",
];

impl Cli {
    /// Whether the command may decrypt a data key (and so reads `--decryption-order`): all
    /// but those of [`WITHOUT_DECRYPTION`].
    pub fn decrypts(&self) -> bool {
        !matches!(
            self.command,
            Command::Encrypt(_)
                | Command::Filestatus(_)
                | Command::Recipients(_)
                | Command::Keygen(_)
                | Command::SshToAge(_)
                | Command::Manifest(_)
                | Command::Completions(_)
                | Command::Man(_)
        )
    }
}

/// Subcommands that never decrypt a data key: `--decryption-order` is accepted there (a
/// global flag) but left out of their help, as `--config` is for [`WITHOUT_CONFIG`].
pub(crate) const WITHOUT_DECRYPTION: &[&str] = &[
    "encrypt",
    "filestatus",
    "recipients",
    "keygen",
    "ssh-to-age",
    "manifest",
    "completions",
    "man",
];

/// The command line definition: the derived one, with `--config` (and
/// `--decryption-order`) hidden where it does nothing. clap copies a global argument into a subcommand only when the subcommand has
/// none of that id, so a hidden copy there keeps it working (its value still reaches
/// `Cli::config`) and out of the help, the completions and the manual pages.
pub fn command() -> clap::Command {
    let mut cmd = <Cli as clap::CommandFactory>::command();
    let config = cmd
        .get_arguments()
        .find(|a| a.get_id() == "config")
        .expect("the global --config argument")
        .clone()
        .global(false)
        .hide(true);
    for name in WITHOUT_CONFIG {
        cmd = cmd.mut_subcommand(name, |s| s.arg(config.clone()));
    }
    let order = cmd
        .get_arguments()
        .find(|a| a.get_id() == "decryption_order")
        .expect("the global --decryption-order argument")
        .clone()
        .global(false)
        .hide(true);
    for name in WITHOUT_DECRYPTION {
        cmd = cmd.mut_subcommand(name, |s| s.arg(order.clone()));
    }
    cmd
}

/// Options shared by commands that read and write a file.
#[derive(Args, Debug, Clone)]
pub struct IoArgs {
    /// Write the output to FILE instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Replace the input file.
    #[arg(short = 'i', long = "in-place")]
    pub in_place: bool,
    /// Input format: yaml, json, dotenv, ini or binary (default: from the file name).
    #[arg(long, value_name = "TYPE")]
    pub input_type: Option<String>,
    /// Output format (default: the input file's format).
    #[arg(long, value_name = "TYPE")]
    pub output_type: Option<String>,
    /// Use this path for format detection and .sops.yaml rule matching.
    #[arg(long, value_name = "PATH")]
    pub filename_override: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct EncryptArgs {
    /// The plaintext file (`-` or none: stdin, which needs --filename-override).
    pub file: Option<PathBuf>,
    #[command(flatten)]
    pub io: IoArgs,
    #[command(flatten)]
    pub keys: KeyArgs,
}

/// How a new file is encrypted: recipients and which values to encrypt.
#[derive(Args, Debug, Clone, Default)]
pub struct KeyArgs {
    /// age recipients (age1…, ssh-ed25519 …, ssh-rsa …), comma-separated.
    #[arg(
        short = 'a',
        long,
        env = "SOPS_AGE_RECIPIENTS",
        value_name = "RECIPIENTS"
    )]
    pub age: Option<String>,
    /// PGP fingerprints, comma-separated (the keys must be in your GnuPG keyring).
    #[arg(short = 'p', long, env = "SOPS_PGP_FP", value_name = "FINGERPRINTS")]
    pub pgp: Option<String>,
    /// Vault/OpenBao transit keys, comma-separated URIs
    /// (https://vault.example.com:8200/v1/transit/keys/NAME).
    #[arg(long, env = "SOPS_VAULT_URIS", value_name = "URIS")]
    pub hc_vault_transit: Option<String>,
    /// Leave values whose key (or an ancestor's) ends with this suffix unencrypted.
    #[arg(long, value_name = "SUFFIX")]
    pub unencrypted_suffix: Option<String>,
    /// Encrypt only values whose key (or an ancestor's) ends with this suffix.
    #[arg(long, value_name = "SUFFIX")]
    pub encrypted_suffix: Option<String>,
    /// Leave values whose key (or an ancestor's) matches this regex unencrypted.
    #[arg(long, value_name = "REGEX")]
    pub unencrypted_regex: Option<String>,
    /// Encrypt only values whose key (or an ancestor's) matches this regex.
    #[arg(long, value_name = "REGEX")]
    pub encrypted_regex: Option<String>,
    /// Leave values after a comment matching this regex unencrypted.
    #[arg(long, value_name = "REGEX")]
    pub unencrypted_comment_regex: Option<String>,
    /// Encrypt only values after a comment matching this regex.
    #[arg(long, value_name = "REGEX")]
    pub encrypted_comment_regex: Option<String>,
    /// Hash only encrypted values into the MAC.
    #[arg(long)]
    pub mac_only_encrypted: bool,
    /// Key groups needed to decrypt (with several key groups).
    #[arg(long = "shamir-secret-sharing-threshold", value_name = "N")]
    pub shamir_threshold: Option<usize>,
}

#[derive(Args, Debug)]
pub struct EditArgs {
    /// The file to edit (created if it does not exist).
    pub file: PathBuf,
    #[command(flatten)]
    pub keys: KeyArgs,
    #[command(flatten)]
    pub format: FormatArgs,
    /// Edit even if the MAC does not verify (a fresh MAC is written).
    #[arg(long)]
    pub ignore_mac: bool,
    /// Write in plaintext a value or comment that was encrypted, when the file's
    /// selector no longer selects it (refused by default: selectors are not covered by
    /// the MAC, so a changed selector may be someone else's doing).
    #[arg(long)]
    pub allow_plaintext_downgrade: bool,
    /// Show the file's `sops` metadata (keys, MAC, …) below the values while editing; it
    /// is for reading: changes made to it are not applied.
    #[arg(short = 's', long)]
    pub show_master_keys: bool,
}

#[derive(Args, Debug)]
pub struct DecryptArgs {
    /// The encrypted file (`-` or none: stdin).
    pub file: Option<PathBuf>,
    #[command(flatten)]
    pub io: IoArgs,
    /// Print only this part of the tree, e.g. '["db"]["password"]'.
    #[arg(long, value_name = "PATH")]
    pub extract: Option<String>,
    /// Decrypt even if the MAC does not verify.
    #[arg(long)]
    pub ignore_mac: bool,
}

/// Format options of commands that rewrite an encrypted file in place.
#[derive(Args, Debug, Clone)]
pub struct FormatArgs {
    /// Input format (default: from the file name).
    #[arg(long, value_name = "TYPE")]
    pub input_type: Option<String>,
    /// Output format (default: the input format).
    #[arg(long, value_name = "TYPE")]
    pub output_type: Option<String>,
}

#[derive(Args, Debug)]
pub struct SetArgs {
    /// The encrypted file.
    pub file: PathBuf,
    /// Where, e.g. '["db"]["password"]'.
    pub path: String,
    /// The new value, as JSON ('"text"', 42, true, {"k": "v"}); with --value-file, a file
    /// holding it.
    pub value: Option<String>,
    #[command(flatten)]
    pub format: FormatArgs,
    /// VALUE is the path of a file holding the JSON value.
    #[arg(long)]
    pub value_file: bool,
    /// Read the JSON value from stdin.
    #[arg(long, conflicts_with = "value_file")]
    pub value_stdin: bool,
    /// Do not rewrite the file when the value is already the same.
    #[arg(long)]
    pub idempotent: bool,
    /// Proceed even if the MAC does not verify (a fresh MAC is written).
    #[arg(long)]
    pub ignore_mac: bool,
    /// Write in plaintext a value or comment that was encrypted, when the file's
    /// selector no longer selects it (refused by default: selectors are not covered by
    /// the MAC, so a changed selector may be someone else's doing).
    #[arg(long)]
    pub allow_plaintext_downgrade: bool,
}

#[derive(Args, Debug)]
pub struct UnsetArgs {
    /// The encrypted file.
    pub file: PathBuf,
    /// What to remove, e.g. '["db"]["password"]'.
    pub path: String,
    #[command(flatten)]
    pub format: FormatArgs,
    /// Succeed without writing when the path is already absent.
    #[arg(long)]
    pub idempotent: bool,
    /// Proceed even if the MAC does not verify (a fresh MAC is written).
    #[arg(long)]
    pub ignore_mac: bool,
    /// Write in plaintext a value or comment that was encrypted, when the file's
    /// selector no longer selects it (refused by default: selectors are not covered by
    /// the MAC, so a changed selector may be someone else's doing).
    #[arg(long)]
    pub allow_plaintext_downgrade: bool,
}

#[derive(Args, Debug)]
pub struct FilestatusArgs {
    /// The file.
    pub file: PathBuf,
    /// Input format (default: from the file name).
    #[arg(long, value_name = "TYPE")]
    pub input_type: Option<String>,
}

#[derive(Args, Debug)]
pub struct ExecEnvArgs {
    /// The encrypted file.
    pub file: PathBuf,
    /// The command, run with /bin/sh -c.
    pub command: String,
    /// Start the command with only the file's values, not this environment.
    #[arg(long)]
    pub pristine: bool,
    /// Replace sealbox with the command instead of running it as a child.
    #[arg(long)]
    pub same_process: bool,
}

#[derive(Args, Debug)]
pub struct ExecFileArgs {
    /// The encrypted file.
    pub file: PathBuf,
    /// The command, run with /bin/sh -c; every `{}` becomes the plaintext's path.
    pub command: String,
    /// Use a regular 0600 file instead of a FIFO (for programs that seek or read twice).
    #[arg(long)]
    pub no_fifo: bool,
    /// Name of the file or FIFO (default: tmp-file).
    #[arg(long, value_name = "NAME")]
    pub filename: Option<String>,
    #[command(flatten)]
    pub format: FormatArgs,
}

#[derive(Args, Debug)]
pub struct RotateArgs {
    /// The encrypted file.
    pub file: PathBuf,
    /// Replace the file (default: print the result).
    #[arg(short = 'i', long = "in-place")]
    pub in_place: bool,
    /// Write the result to FILE.
    #[arg(long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Rotate even if the MAC does not verify (a fresh MAC is written).
    #[arg(long)]
    pub ignore_mac: bool,
    /// age recipients to add to the first key group (comma-separated).
    #[arg(long, value_name = "RECIPIENTS")]
    pub add_age: Option<String>,
    /// age recipients to remove from every key group (comma-separated).
    #[arg(long, value_name = "RECIPIENTS")]
    pub rm_age: Option<String>,
    /// PGP fingerprints to add to the first key group (comma-separated).
    #[arg(long, value_name = "FINGERPRINTS")]
    pub add_pgp: Option<String>,
    /// PGP fingerprints to remove from every key group (comma-separated).
    #[arg(long, value_name = "FINGERPRINTS")]
    pub rm_pgp: Option<String>,
    /// Vault transit keys to add to the first key group (comma-separated URIs).
    #[arg(long, value_name = "URIS")]
    pub add_hc_vault_transit: Option<String>,
    /// Vault transit keys to remove from every key group (comma-separated URIs).
    #[arg(long, value_name = "URIS")]
    pub rm_hc_vault_transit: Option<String>,
    /// Write in plaintext a value or comment that was encrypted, when the file's
    /// selector no longer selects it (refused by default: selectors are not covered by
    /// the MAC, so a changed selector may be someone else's doing).
    #[arg(long)]
    pub allow_plaintext_downgrade: bool,
    /// Input format (default: from the file name).
    #[arg(long, value_name = "TYPE")]
    pub input_type: Option<String>,
    /// Output format (default: the input format).
    #[arg(long, value_name = "TYPE")]
    pub output_type: Option<String>,
}

#[derive(Args, Debug)]
pub struct UpdatekeysArgs {
    /// The encrypted files.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Apply without asking.
    #[arg(short = 'y', long)]
    pub yes: bool,
    /// Keep the data key even when a recipient is removed (they may still hold it).
    #[arg(long)]
    pub keep_data_key: bool,
    /// Write in plaintext a value or comment that was encrypted, when the file's
    /// selector no longer selects it (refused by default: selectors are not covered by
    /// the MAC, so a changed selector may be someone else's doing).
    #[arg(long)]
    pub allow_plaintext_downgrade: bool,
    /// Input format (default: from each file name).
    #[arg(long, value_name = "TYPE")]
    pub input_type: Option<String>,
    /// Also move every Vault transit key's `enc` older than version N (or than the key's
    /// `latest` version, asked from the server) to the newest version (transit rewrap:
    /// the data key stays the same and on the server).
    #[arg(long, value_name = "N|latest")]
    pub min_transit_version: Option<crate::transit::MinVersion>,
}

#[derive(Args, Debug)]
pub struct RecipientsArgs {
    /// The encrypted file.
    pub file: PathBuf,
    /// Input format (default: from the file name).
    #[arg(long, value_name = "TYPE")]
    pub input_type: Option<String>,
}

#[derive(Args, Debug)]
#[command(
    after_help = "For a pull request, check its checkout against the base branch's \
    rules: `sealbox check --config BASE/.sops.yaml --root CHECKOUT` (never the pull request's \
    own .sops.yaml; see README, \"sealbox check in CI\"). Symlinks are reported and never \
    followed; only regular files are read; every directory left out is named on stderr."
)]
pub struct CheckArgs {
    /// Files or directories to check (default: the whole checkout); directories are
    /// walked (only .git is left out, and named).
    pub paths: Vec<PathBuf>,
    /// The checkout to check: paths are matched against the rules relative to DIR (as if
    /// the --config file were DIR/.sops.yaml). Needs --config: the trusted rules, e.g. the
    /// base branch's .sops.yaml. Default: the directory of the .sops.yaml in use.
    #[arg(long, value_name = "DIR")]
    pub root: Option<PathBuf>,
    /// Files larger than this are not read (a finding where a rule applies).
    #[arg(long, value_name = "BYTES", default_value_t = 64 << 20)]
    pub max_size: u64,
    /// Also leave out the directory DIR (relative to the checkout; repeatable). Named on
    /// stderr like every directory left out.
    #[arg(long, value_name = "DIR")]
    pub skip_dir: Vec<String>,
    /// Walk .git too (left out by default).
    #[arg(long)]
    pub no_default_skips: bool,
    /// Leave out files whose path (relative to the checkout) matches REGEX (repeatable);
    /// they are counted and named on stderr.
    #[arg(long, value_name = "REGEX")]
    pub exclude: Vec<String>,
    /// Exit 0 when no file was checked (by default that is a finding: a gate that checked
    /// nothing has not passed).
    #[arg(long)]
    pub allow_empty: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = CheckFormat::Text)]
    pub format: CheckFormat,
    /// Report files whose data key (lastmodified) is older than DAYS days.
    #[arg(long, value_name = "DAYS")]
    pub max_age: Option<u64>,
    /// Also recover the data key with the usual identities and verify the MAC.
    #[arg(long)]
    pub decrypt: bool,
    /// Report Vault transit keys whose `enc` uses a version older than N, or than the
    /// key's `latest` version (asked from the server; the token needs `read` on
    /// ENGINE/keys/NAME). `updatekeys --min-transit-version` moves them forward.
    #[arg(long, value_name = "N|latest")]
    pub min_transit_version: Option<crate::transit::MinVersion>,
}

/// How `check` prints its findings.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckFormat {
    /// `FILE: kind: message` lines.
    Text,
    /// One JSON array of {"file", "kind", "message"} objects.
    Json,
    /// GitHub Actions `::error file=FILE::kind: message` lines.
    Github,
}

#[derive(Args, Debug)]
#[command(after_help = "Install: `sealbox completions bash > \
    ~/.local/share/bash-completion/completions/sealbox`, `sealbox completions zsh > \
    ~/.zfunc/_sealbox` (with `fpath+=~/.zfunc` before `compinit` in ~/.zshrc), `sealbox \
    completions fish > ~/.config/fish/completions/sealbox.fish`.")]
pub struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Args, Debug)]
#[command(
    after_help = "Install: `sealbox man -o ~/.local/share/man/man1` (then `man sealbox`, \
    `man sealbox-decrypt`, …). Read one now: `sealbox man decrypt | man -l -`."
)]
pub struct ManArgs {
    /// Print this command's page (e.g. decrypt) instead of sealbox(1).
    #[arg(value_name = "COMMAND", conflicts_with = "output")]
    pub command: Option<String>,
    /// Write sealbox.1 and sealbox-COMMAND.1 for every command into DIR (created if missing).
    #[arg(short = 'o', long, value_name = "DIR")]
    pub output: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct KeygenArgs {
    /// Write the identity to FILE (created 0600, never overwritten; missing directories are
    /// created 0700).
    #[arg(short = 'o', long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Print the recipients of an existing identity file instead (like age-keygen -y); a
    /// passphrase-protected file asks for its passphrase on the terminal.
    #[arg(short = 'y', value_name = "IDENTITY_FILE")]
    pub convert: Option<PathBuf>,
    /// Protect the new identity with a passphrase, asked twice on the terminal: the file is
    /// what `age -p -a` writes, which `age -d -i` and sops (SOPS_AGE_KEY_FILE) read.
    #[arg(short = 'p', long = "passphrase", conflicts_with = "convert")]
    pub passphrase: bool,
}

#[derive(Args, Debug)]
pub struct SshToAgeArgs {
    /// ssh-to-age's flags, read as Go's flag package does (one dash or two): `-i FILE`
    /// (default stdin), `-o FILE` (default stdout; missing directories are created 0700),
    /// `-private-key` (the X25519 identity of a private key; its passphrase from
    /// SSH_TO_AGE_PASSPHRASE, or stdin with `-stdinpass`), `-version`, `-h`. Public keys:
    /// authorized_keys, known_hosts and `ssh-keyscan` lines; other key types than ed25519
    /// are skipped with a warning.
    #[arg(
        value_name = "FLAGS",
        trailing_var_arg = true,
        allow_hyphen_values = true,
        num_args = 0..
    )]
    pub args: Vec<std::ffi::OsString>,
}

#[derive(Args, Debug)]
pub struct ManifestArgs {
    /// The description: *.toml, *.yaml or *.yml (`-`: stdin, which needs --input-type).
    /// Relative input paths in it are taken from its directory.
    pub file: PathBuf,
    /// Write the manifest to FILE instead of stdout (replaced atomically).
    #[arg(short = 'o', long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Description language: toml or yaml (default: from the file name).
    #[arg(long, value_name = "TYPE")]
    pub input_type: Option<String>,
    /// Also parse every sops file and check that each secret's key is in it (no key needed),
    /// as `sealbox-install --check-mode sopsfile` does.
    #[arg(long)]
    pub check_sopsfile: bool,
    /// Do not check that the sops files exist (building the manifest on another machine).
    #[arg(long, conflicts_with = "check_sopsfile")]
    pub no_check_files: bool,
}

/// The arguments as clap should see them: `sealbox FILE` turned into `sealbox edit FILE` (as
/// `sops FILE` edits FILE). A first word that is neither a command nor a file but close to
/// a command is a typo: the message to print is the error. (`ssh-to-age` takes its flags
/// raw, as Go's flag package reads them.)
pub fn args(
    args: impl IntoIterator<Item = std::ffi::OsString>,
    command: &clap::Command,
) -> Result<Vec<std::ffi::OsString>, String> {
    let mut args: Vec<std::ffi::OsString> = args.into_iter().collect();
    // The global `--config X` may come first (`sops --config X FILE` edits FILE too).
    let mut at = 1;
    while let Some(a) = args.get(at) {
        match a.to_str() {
            Some("--config") => at += 2,
            Some(a) if a.starts_with("--config=") => at += 1,
            _ => break,
        }
    }
    if let Some(first) = args.get(at) {
        let s = first.to_string_lossy();
        let known = command.get_subcommands().any(|c| c.get_name() == s) || s == "help";
        if !known && !s.starts_with('-') {
            let names: Vec<&str> = command.get_subcommands().map(|c| c.get_name()).collect();
            match crate::firstword::classify(first, &names) {
                crate::firstword::FirstWord::File => args.insert(at, "edit".into()),
                crate::firstword::FirstWord::Typo(close) => {
                    return Err(crate::firstword::typo_message(&s, &close))
                }
            }
        }
    }
    Ok(args)
}
