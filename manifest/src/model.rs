//! The manifest's types (docs/activation.md#the-manifest): what sops-nix's `manifestFor`
//! writes and `sealbox-install` reads. The JSON names of the fields and how each is read
//! and written are in `fields.rs`, one line per field.

/// The whole manifest.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Manifest {
    /// Secrets, in manifest order.
    pub secrets: Vec<Secret>,
    /// Templates, in manifest order.
    pub templates: Vec<Template>,
    /// Secret name → placeholder string, in manifest order.
    pub placeholder_by_secret_name: Vec<(String, String)>,
    /// Where the generations live (`/run/secrets.d`).
    pub secrets_mount_point: String,
    /// The symlink to the current generation (`/run/secrets`).
    pub symlink_path: String,
    /// How many generations to keep; 0 = never prune.
    pub keep_generations: u64,
    /// SSH RSA keys for PGP (unsupported here: warned about).
    pub ssh_key_paths: Vec<String>,
    /// GnuPG home (unsupported here: warned about); "" = none (written as `null`).
    pub gnupg_home: String,
    /// An age identity file; "" = none (written as `null`).
    pub age_key_file: String,
    /// SSH ed25519 keys converted to age identities.
    pub age_ssh_key_paths: Vec<String>,
    /// tmpfs instead of ramfs.
    pub use_tmpfs: bool,
    /// home-manager mode.
    pub user_mode: bool,
    /// `logging`.
    pub logging: Logging,
}

/// `logging`: what the activation reports.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Logging {
    /// `logging.keyImport`: a line per imported SSH key.
    pub key_import: bool,
    /// `logging.secretChanges`: lines naming the secrets added, modified and removed.
    pub secret_changes: bool,
}

/// The fields secrets and templates share.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Common {
    /// Relative name inside a generation (or inside `rendered/`).
    pub name: String,
    /// Where the user wants it (a symlink is made when it differs from the default).
    pub path: String,
    /// The mode string as given (octal).
    pub mode: String,
    /// User name; wins over `uid` when present.
    pub owner: Option<String>,
    /// Numeric owner, used when `owner` is null.
    pub uid: u32,
    /// Group name; wins over `gid` when present.
    pub group: Option<String>,
    /// Numeric group, used when `group` is null.
    pub gid: u32,
    /// Units to restart when the file changes.
    pub restart_units: Vec<String>,
    /// Units to reload when the file changes.
    pub reload_units: Vec<String>,
}

/// A secret entry (docs/activation.md#secret-entries).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Secret {
    /// Shared fields.
    pub common: Common,
    /// `/`-separated key path; "" = whole file.
    pub key: String,
    /// The encrypted file.
    pub sops_file: String,
    /// The format string as given ("" = yaml).
    pub format: String,
    /// `credentialName`: also place the secret at `<credstore>/<name>` for systemd's
    /// `LoadCredential=` (sealbox extension; null or absent = no credential, and absent
    /// when written).
    pub credential_name: Option<String>,
}

/// A template entry (docs/activation.md#template-entries).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Template {
    /// Shared fields.
    pub common: Common,
    /// Inline text; wins over `file` when non-empty.
    pub content: String,
    /// File holding the text.
    pub file: String,
}

/// Replaces `%r` by `runtime_dir` and `%%` by `%` (activation step 2: split on `%%` first).
pub fn expand_percent(s: &str, runtime_dir: &str) -> String {
    s.split("%%")
        .map(|piece| piece.replace("%r", runtime_dir))
        .collect::<Vec<_>>()
        .join("%")
}

impl Manifest {
    /// The placeholder of secret `name`, if the manifest has one.
    pub fn placeholder(&self, name: &str) -> Option<&str> {
        self.placeholder_by_secret_name
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// User mode: expands `%r`/`%%` in the mount point, the symlink and every path.
    pub fn expand_runtime_dir(&mut self, runtime_dir: &str) {
        self.secrets_mount_point = expand_percent(&self.secrets_mount_point, runtime_dir);
        self.symlink_path = expand_percent(&self.symlink_path, runtime_dir);
        for s in &mut self.secrets {
            s.common.path = expand_percent(&s.common.path, runtime_dir);
        }
        for t in &mut self.templates {
            t.common.path = expand_percent(&t.common.path, runtime_dir);
        }
    }

    /// Whether the manifest names a key source of its own (`ageKeyFile`,
    /// `ageSshKeyPaths`); without one the usual sops sources of the environment are used.
    pub fn has_key_source(&self) -> bool {
        !self.age_key_file.is_empty() || !self.age_ssh_key_paths.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_expansion() {
        assert_eq!(
            expand_percent("%r/secrets.d", "/run/user/1"),
            "/run/user/1/secrets.d"
        );
        assert_eq!(expand_percent("a%%r%r", "/R"), "a%r/R");
    }
}
