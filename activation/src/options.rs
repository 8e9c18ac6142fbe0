//! What decides a run besides the manifest: the flags of `sealbox-install` and the
//! environment variables it reads.

use std::path::PathBuf;

/// `--check-mode`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CheckMode {
    /// Really install.
    Off,
    /// Validate the manifest only.
    Manifest,
    /// Also parse the encrypted files and check keys.
    SopsFile,
}

impl CheckMode {
    /// Parses the flag value.
    pub fn parse(s: &str) -> Result<CheckMode, String> {
        match s {
            "off" => Ok(CheckMode::Off),
            "manifest" => Ok(CheckMode::Manifest),
            "sopsfile" => Ok(CheckMode::SopsFile),
            // The Go binary prints an empty value here (quirk); we print the value.
            other => Err(format!(
                "invalid value provided for -check-mode flag: '{other}' (use off, manifest or sopsfile)"
            )),
        }
    }
}

/// Everything besides the manifest that decides what a run does.
#[derive(Clone, Debug)]
pub struct Options {
    /// `--check-mode`.
    pub check_mode: CheckMode,
    /// `--ignore-passwd`.
    pub ignore_passwd: bool,
    /// `--keep-going`: install what can be installed and switch even when secrets fail.
    pub keep_going: bool,
    /// `--restart-units` or `SOPS_RESTART_UNITS_VIA_SYSTEMCTL=1`.
    pub restart_via_systemctl: bool,
    /// `NIXOS_ACTION=dry-activate`.
    pub dry: bool,
    /// `$XDG_RUNTIME_DIR` (user mode).
    pub runtime_dir: Option<String>,
    /// Where the restart/reload lists go (`SEALBOX_NIXOS_RUN_DIR`, default `/run/nixos`).
    pub nixos_run_dir: PathBuf,
    /// `--wait-for-key SECONDS`: wait this long for a key to appear when none exists.
    pub wait_for_key: Option<std::time::Duration>,
    /// The systemd credential store (`SEALBOX_CREDSTORE_DIR`, default `/run/credstore`).
    pub credstore_dir: PathBuf,
    /// `--no-network`: never talk to Vault/OpenBao (a run before the network is up); a
    /// file whose data key needs it fails at once, saying so.
    pub no_network: bool,
}

impl Options {
    /// Defaults plus the environment variables the binary reads.
    pub fn from_env() -> Options {
        let env = |k: &str| std::env::var(k).ok();
        Options {
            check_mode: CheckMode::Off,
            ignore_passwd: false,
            keep_going: false,
            restart_via_systemctl: env("SOPS_RESTART_UNITS_VIA_SYSTEMCTL").as_deref() == Some("1"),
            dry: env("NIXOS_ACTION").as_deref() == Some("dry-activate"),
            runtime_dir: env("XDG_RUNTIME_DIR").filter(|s| !s.is_empty()),
            nixos_run_dir: env("SEALBOX_NIXOS_RUN_DIR")
                .filter(|s| !s.is_empty())
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from("/run/nixos")),
            wait_for_key: None,
            credstore_dir: crate::credstore::dir_from_env(),
            no_network: false,
        }
    }
}
