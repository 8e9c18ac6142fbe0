//! What a command may need from its surroundings, set up once per run: the `.sops.yaml` in
//! force (`--config`/`SOPS_CONFIG`, else the search upward from the current directory, with
//! the trusted-owner check), the store options it sets, and the key sources.
//!
//! The format crate parses a config from its text; finding and reading the file is here,
//! because it is the file system and the user's environment.

use crate::Cli;
use sealbox_formats::config::{absolute_clean, Config, StoresConfig, CONFIG_FILE_NAME};
use sealbox_formats::store::StoreOptions;
use sealbox_formats::{Error, ErrorKind, Result};
use sealbox_keys::{DecryptionOrder, KeyServices, Source};
use std::path::{Path, PathBuf};

/// How many directories [`find_config`] looks at (the start directory and its parents, as
/// sops).
const MAX_DEPTH: usize = 100;

/// Largest `.sops.yaml` read (4 MiB; a config is a few kilobytes): a config that is
/// `/dev/zero` or a huge file is an error, not a process filling memory.
pub const MAX_CONFIG: u64 = 4 << 20;

/// The variable listing other owners whose `.sops.yaml` the search may use.
pub const TRUSTED_OWNERS_VAR: &str = "SEALBOX_TRUSTED_CONFIG_OWNERS";

/// The run's surroundings.
pub struct Context<'c> {
    /// `--config`/`SOPS_CONFIG`, if given.
    config_flag: Option<&'c Path>,
    /// The key sources, each set up on first use.
    keys: KeyServices<'static>,
    /// Why `--decryption-order` is refused, if it is.
    order_error: Option<Error>,
}

/// sops' `--decryption-order`: a comma-separated list where a name given twice (exactly as
/// written) is refused with sops' message; names of no key source sealbox has (`kms`, a
/// misspelling, ` age` with a space) are ignored, as sops ignores names no key of the file
/// has; the sources not named follow in the default order.
fn decryption_order(list: &str) -> Result<DecryptionOrder> {
    let mut seen: Vec<&str> = Vec::new();
    for name in list.split(',') {
        if seen.contains(&name) {
            return Err(Error::new(
                ErrorKind::DuplicateDecryptionKeyType,
                format!("Duplicate decryption key type: {name}"),
            ));
        }
        seen.push(name);
    }
    let known: Vec<&str> = seen
        .into_iter()
        .filter(|n| Source::from_name(n).is_some())
        .collect();
    DecryptionOrder::parse(&known.join(","))
}

/// `--indent N` of this run (a global flag; read by [`store_options`], which every command
/// that writes a file calls with the config only).
static INDENT: std::sync::OnceLock<Option<i64>> = std::sync::OnceLock::new();

impl<'c> Context<'c> {
    /// The context of the parsed command line (reads the environment only).
    pub fn new(cli: &'c Cli) -> Context<'c> {
        let _ = INDENT.set(cli.indent);
        // Passphrases and age plugins' requests are asked on the terminal.
        let mut keys = KeyServices::with_identity_sources(
            sealbox_keys::age::IdentitySources::from_env()
                .with_ui(sealbox_keys::age::Ui::terminal()),
        );
        let mut order_error = None;
        match cli.decryption_order.as_deref().map(decryption_order) {
            Some(Ok(order)) => keys = keys.with_decryption_order(order),
            Some(Err(e)) => order_error = Some(e),
            None => {}
        }
        Context {
            config_flag: cli.config.as_deref(),
            keys,
            order_error,
        }
    }

    /// A bad `--decryption-order` (or `SOPS_DECRYPTION_ORDER`): the commands that decrypt
    /// fail with it before they start, as in sops; the others never look at it.
    pub fn check_decryption_order(&self) -> Result<()> {
        match &self.order_error {
            Some(e) => Err(e.clone()),
            None => Ok(()),
        }
    }

    /// `--config`/`SOPS_CONFIG`, if given (`check --root` needs rules from outside the
    /// checkout).
    pub fn config_flag(&self) -> Option<&Path> {
        self.config_flag
    }

    /// The key sources.
    pub fn keys(&self) -> &KeyServices<'static> {
        &self.keys
    }

    /// The `.sops.yaml` in force: `--config`/`SOPS_CONFIG`, else the first found upward
    /// from the current directory, if its owner is trusted (see [`load_trusted_config`]).
    pub fn load_config(&self) -> Result<Option<Config>> {
        match self.config_flag {
            Some(p) => load_config_file(p).map(Some),
            None => {
                let cwd = current_dir()?;
                find_config(&cwd)
                    .map(|p| load_trusted_config(&p))
                    .transpose()
            }
        }
    }
}

/// The current directory, for the commands that resolve paths against it.
pub fn current_dir() -> Result<PathBuf> {
    std::env::current_dir().map_err(|e| {
        Error::new(
            ErrorKind::Other,
            format!("cannot read the current directory: {e}"),
        )
    })
}

/// The store options a config sets (defaults without one), and `--indent`.
pub fn store_options(cfg: Option<&Config>) -> Result<StoreOptions> {
    let stores = cfg.map(|c| c.stores).unwrap_or_default();
    let mut opts = StoreOptions {
        json_indent: stores.json_indent,
        json_binary_indent: stores.json_binary_indent,
        ..StoreOptions::default()
    };
    // A negative YAML indent fails only when YAML is written, as in sops.
    set_yaml_indent(&mut opts, stores.yaml_indent)?;
    // As sops' --indent: one number for the YAML, JSON and binary (JSON) stores, with each
    // store's own rules (YAML: 0 is the default 4, negative is refused when writing YAML;
    // JSON: -1 is a tab, below is refused when writing JSON).
    if let Some(n) = INDENT.get().copied().flatten() {
        if n > MAX_INDENT {
            return Err(Error::new(
                ErrorKind::Emit,
                format!("--indent {n}: more than {MAX_INDENT} spaces"),
            ));
        }
        set_yaml_indent(&mut opts, n)?;
        let n = i32::try_from(n).unwrap_or(i32::MIN);
        opts.json_indent = n;
        opts.json_binary_indent = n;
    }
    Ok(opts)
}

/// The widest indent sealbox writes (a bound on the output a flag can ask for).
const MAX_INDENT: i64 = 256;

fn set_yaml_indent(opts: &mut StoreOptions, n: i64) -> Result<()> {
    opts.yaml_indent_negative = n < 0;
    if n >= 0 {
        let stores = StoresConfig {
            yaml_indent: n,
            ..StoresConfig::default()
        };
        opts.yaml_indent = stores.yaml_indent_width()?;
    }
    Ok(())
}

/// Finds `.sops.yaml` in `start_dir` or its parents (at most 100 directories, as sops).
/// A `.sops.yml` is ignored with a warning.
pub fn find_config(start_dir: &Path) -> Option<PathBuf> {
    let mut dir = absolute_clean(start_dir);
    for _ in 0..MAX_DEPTH {
        let candidate = dir.join(CONFIG_FILE_NAME);
        if candidate.metadata().is_ok() {
            return Some(candidate);
        }
        let yml = dir.join(".sops.yml");
        if yml.metadata().is_ok() {
            tracing::warn!(
                path = %yml.display(),
                "ignoring .sops.yml: the config file must be named .sops.yaml"
            );
        }
        if !dir.pop() {
            break;
        }
    }
    None
}

/// Reads and parses the config file named by `--config`. Errors name the file. Read with
/// the bounded, non-blocking reader: a FIFO, a device or a file over [`MAX_CONFIG`] is an
/// error, never a hang.
fn load_config_file(path: &Path) -> Result<Config> {
    let text = sealbox_os::inputs::read_text(path, MAX_CONFIG).map_err(|e| {
        Error::new(
            ErrorKind::InvalidConfig,
            format!("error loading config: cannot read {}: {e}", path.display()),
        )
    })?;
    Config::from_text(path, &text)
}

/// Whether `uid` may own a `.sops.yaml` found by the search: the user, root, or one listed
/// in `SEALBOX_TRUSTED_CONFIG_OWNERS` (user names or uids, comma-separated; `*`: anyone).
fn trusted_owner(uid: u32) -> bool {
    if uid == 0 || uid == nix::unistd::geteuid().as_raw() {
        return true;
    }
    let list = std::env::var(TRUSTED_OWNERS_VAR).unwrap_or_default();
    let name = user_name(uid);
    list.split(',').map(str::trim).any(|w| {
        w == "*"
            || w.parse::<u32>().ok() == Some(uid)
            || (!w.is_empty() && name.as_deref() == Some(w))
    })
}

fn user_name(uid: u32) -> Option<String> {
    nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid))
        .ok()
        .flatten()
        .map(|u| u.name)
}

/// The error for a config (or the symlink to it) owned by an untrusted `uid`.
fn untrusted(what: &str, shown: &std::path::Display<'_>, uid: u32) -> Error {
    let who = match user_name(uid) {
        Some(n) => format!("{n} (uid {uid})"),
        None => format!("uid {uid}"),
    };
    let me = nix::unistd::geteuid().as_raw();
    Error::new(ErrorKind::InvalidConfig, format!(
        "{what} {shown} is owned by {who}, who is neither you (uid {me}) nor root: sealbox does not use a .sops.yaml another user could have planted, and does not look further up"
    ))
    .with_hint(format!(
        "if you trust it, set {TRUSTED_OWNERS_VAR}={} (users or uids, comma-separated), or pass --config FILE; otherwise remove it or work in a directory of your own",
        user_name(uid).unwrap_or_else(|| uid.to_string())
    ))
}

/// Reads the `.sops.yaml` the search found, refusing it unless its owner is trusted
/// ([`trusted_owner`]); the search does not go on upward then. A config decides which
/// values are encrypted and for whom, so one planted by another user in a shared
/// directory (a `/tmp`-like one above the working directory) could leave secrets in clear
/// or encrypt them for the planter: git refuses repositories owned by others for the same
/// reason (`safe.directory`). The owner checked is that of the file actually read (`fstat`
/// of the open file, and `lstat` of a symlink at the name), so the file cannot be swapped
/// between the check and the read. An owned file in a directory others can write to is
/// fine: whoever replaces it owns the replacement, which is then refused. `--config` and
/// `SOPS_CONFIG` name a file explicitly and are not checked.
fn load_trusted_config(path: &Path) -> Result<Config> {
    use std::io::Read;
    use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
    let shown = path.display();
    let cannot = |e: std::io::Error| {
        Error::new(
            ErrorKind::InvalidConfig,
            format!("error loading config: cannot read {shown}: {e}"),
        )
    };
    let link = std::fs::symlink_metadata(path).map_err(cannot)?;
    if link.file_type().is_symlink() && !trusted_owner(link.uid()) {
        return Err(untrusted("the symlink", &shown, link.uid()));
    }
    // O_NONBLOCK: opening a FIFO planted as .sops.yaml must not wait for a writer.
    let f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(nix::fcntl::OFlag::O_NONBLOCK.bits())
        .open(path)
        .map_err(cannot)?;
    let meta = f.metadata().map_err(cannot)?;
    if !meta.is_file() {
        return Err(Error::new(
            ErrorKind::InvalidConfig,
            format!("error loading config: {shown} is not a regular file"),
        ));
    }
    if !trusted_owner(meta.uid()) {
        return Err(untrusted("the config file", &shown, meta.uid()));
    }
    let mut text = String::new();
    f.take(MAX_CONFIG + 1)
        .read_to_string(&mut text)
        .map_err(cannot)?;
    if text.len() as u64 > MAX_CONFIG {
        return Err(Error::new(
            ErrorKind::InvalidConfig,
            format!(
                "error loading config: {shown} is larger than {}",
                sealbox_os::inputs::human(MAX_CONFIG)
            ),
        ));
    }
    Config::from_text(path, &text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn find_config_walks_up_and_ignores_yml() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        let deep = root.join("a/b/c");
        std::fs::create_dir_all(&deep).unwrap();
        std::fs::write(root.join("a/.sops.yml"), "x").unwrap();
        // Only a .sops.yml so far: not found below `root`.
        assert!(find_config(&deep).is_none_or(|p| !p.starts_with(root)));
        std::fs::write(root.join(".sops.yaml"), "").unwrap();
        assert_eq!(
            find_config(&deep).unwrap(),
            absolute_clean(&root.join(".sops.yaml"))
        );
        std::fs::write(root.join("a/b/.sops.yaml"), "").unwrap();
        assert_eq!(
            find_config(&deep).unwrap(),
            absolute_clean(&root.join("a/b/.sops.yaml"))
        );
    }

    #[test]
    fn the_decryption_order_refuses_repeats_as_sops_and_ignores_unknown_types() {
        let e = decryption_order("age,pgp,age").unwrap_err();
        assert_eq!(e.kind, ErrorKind::DuplicateDecryptionKeyType);
        assert_eq!(e.message, "Duplicate decryption key type: age");
        // sops compares the names as written: " age" is another (unknown) name.
        assert_eq!(
            decryption_order("pgp, age").unwrap().sources(),
            [Source::Pgp, Source::Age, Source::HcVault]
        );
        assert_eq!(
            decryption_order("kms,hc_vault,nope").unwrap().sources(),
            [Source::HcVault, Source::Age, Source::Pgp]
        );
        assert_eq!(decryption_order("").unwrap(), DecryptionOrder::default());
    }

    #[test]
    fn load_reports_unreadable_file() {
        let e = load_config_file(Path::new("/nonexistent/dir/.sops.yaml")).unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidConfig);
        assert!(
            e.message.contains("/nonexistent/dir/.sops.yaml"),
            "{}",
            e.message
        );
    }
}
