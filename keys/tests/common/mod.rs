//! Throwaway GnuPG homes for the pgp tests: each one a private temp directory, every
//! daemon of it stopped when it is dropped (`gpgconf --homedir H --kill all`), and a check
//! that no gpg-agent of it is left running.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use sealbox_keys::pgp::Gpg;

/// The repository's `tests/vectors/` directory.
pub fn vectors() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/vectors")
}

/// A temporary GnuPG home (mode 0700) and the gpg that uses it.
pub struct Home {
    dir: tempfile::TempDir,
    gpg_path: PathBuf,
}

impl Home {
    /// A new, empty home for the gpg at `gpg_path`.
    pub fn new(gpg_path: &Path) -> Home {
        // A short name: gpg-agent's socket lives in the home when the per-user runtime
        // directory does not exist, and Unix socket paths are limited to ~108 bytes.
        let dir = tempfile::Builder::new()
            .prefix("sbx-gpg-")
            .tempdir()
            .expect("temp dir");
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
        Home {
            dir,
            gpg_path: gpg_path.to_path_buf(),
        }
    }

    /// The home directory.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Our gpg runner for this home (`--homedir`).
    pub fn gpg(&self) -> Gpg {
        Gpg::new(&self.gpg_path).with_home(self.path())
    }

    /// Runs the real gpg directly in this home with `args` and `stdin`.
    pub fn run(&self, args: &[&str], stdin: &[u8]) -> Output {
        use std::io::Write;
        let mut child = Command::new(&self.gpg_path)
            .arg("--homedir")
            .arg(self.path())
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run gpg");
        child.stdin.take().unwrap().write_all(stdin).unwrap();
        child.wait_with_output().unwrap()
    }

    /// Like [`Home::run`], panicking with gpg's stderr when it fails; returns stdout.
    pub fn ok(&self, args: &[&str], stdin: &[u8]) -> Vec<u8> {
        let out = self.run(args, stdin);
        assert!(
            out.status.success(),
            "gpg {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    }

    /// Generates a key for `uid` (Curve25519: fast) protected by `passphrase` (empty: none);
    /// returns its fingerprint.
    pub fn generate(&self, uid: &str, passphrase: &str) -> String {
        self.ok(
            &[
                "--batch",
                "--pinentry-mode",
                "loopback",
                "--passphrase",
                passphrase,
                "--quick-gen-key",
                uid,
                "future-default",
                "default",
                "never",
            ],
            b"",
        );
        self.fingerprint_of(uid)
    }

    /// The primary fingerprint of the (first) key matching `query`.
    pub fn fingerprint_of(&self, query: &str) -> String {
        let out = self.ok(&["--with-colons", "--list-keys", query], b"");
        String::from_utf8(out)
            .unwrap()
            .lines()
            .find_map(|l| {
                l.strip_prefix("fpr:")
                    .map(|r| r.trim_matches(':').to_string())
            })
            .expect("a fingerprint")
    }

    /// The process IDs of gpg-agents serving this home (found in /proc by their command
    /// line, which names the home).
    pub fn agents(&self) -> Vec<u32> {
        let home = self.path().to_string_lossy().to_string();
        let mut pids = Vec::new();
        for e in std::fs::read_dir("/proc").unwrap().flatten() {
            let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
                continue;
            };
            let Ok(cmd) = std::fs::read(e.path().join("cmdline")) else {
                continue;
            };
            let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
            if cmd.contains("gpg-agent") && cmd.contains(&home) {
                pids.push(pid);
            }
        }
        pids
    }

    /// Stops every daemon of the home and checks that no gpg-agent of it is left.
    pub fn stop_and_check(&self) {
        self.gpg().kill_all().expect("gpgconf --kill all");
        self.assert_agent_gone();
    }

    /// Waits (up to 5 s) for the home's gpg-agent to exit; panics if it does not.
    /// `gpgconf --kill` returns once the agent was asked to stop, a moment before it exits.
    pub fn assert_agent_gone(&self) {
        for _ in 0..250 {
            if self.agents().is_empty() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        panic!(
            "gpg-agent of {} still running: {:?}",
            self.path().display(),
            self.agents()
        );
    }
}

impl Drop for Home {
    fn drop(&mut self) {
        // Also on a failing test: leave no agent behind.
        let _ = self.gpg().kill_all();
        for _ in 0..250 {
            if self.agents().is_empty() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
}
