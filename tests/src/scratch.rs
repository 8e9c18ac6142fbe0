//! A scratch directory for running sealbox, sops and age on the generated key vectors
//! (`tests/vectors/generated/`): private 0600 copies of the files a test names (ssh-keygen
//! and age refuse private keys others can read, and a checkout leaves them 0644), a HOME of
//! its own, an empty GNUPGHOME (so sops does not ask a gpg-agent for an age passphrase) and
//! the test age plugin first on PATH. Commands run without any key variable of the caller.

use crate::vectors_dir;
use std::ffi::OsString;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The variables that would hand a command a key or plugin mode from outside the test.
const KEY_VARS: &[&str] = &[
    "SOPS_AGE_KEY",
    "SOPS_AGE_KEY_FILE",
    "SOPS_AGE_KEY_CMD",
    "SOPS_AGE_SSH_PRIVATE_KEY_FILE",
    "SOPS_AGE_SSH_PRIVATE_KEY_CMD",
    "SOPS_AGE_RECIPIENTS",
    "SEALBOXTEST_MODE",
    "SEALBOXTEST_WRAP_MODE",
];

/// See the module header.
pub struct Scratch {
    dir: tempfile::TempDir,
    path: OsString,
}

impl Scratch {
    /// A scratch directory with 0600 copies of `files` from the generated vectors; an error
    /// when the test plugin cannot be put on PATH.
    pub fn new(files: &[&str]) -> Result<Scratch, String> {
        let dir = tempfile::tempdir().unwrap();
        for f in files {
            let to = dir.path().join(f);
            fs::copy(vectors_dir("generated").join(f), &to).unwrap();
            fs::set_permissions(&to, fs::Permissions::from_mode(0o600)).unwrap();
        }
        fs::create_dir(dir.path().join("gnupg")).unwrap();
        let path = sealbox_testkit::plugin_path_dir(&dir.path().join("bin"))?;
        Ok(Scratch { dir, path })
    }

    /// `name` inside the scratch directory.
    pub fn p(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// `program`, to run in the scratch directory with its environment.
    pub fn cmd(&self, program: &Path) -> Command {
        let mut c = Command::new(program);
        c.current_dir(self.dir.path())
            .env("PATH", &self.path)
            .env("HOME", self.dir.path())
            .env("XDG_CONFIG_HOME", self.p(".config"))
            .env("GNUPGHOME", self.p("gnupg"))
            .env("SOPS_DISABLE_VERSION_CHECK", "1");
        for v in KEY_VARS {
            c.env_remove(v);
        }
        c
    }
}
