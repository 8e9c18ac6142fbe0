//! Throwaway GnuPG homes for the PGP tests of every crate: a private temp directory per
//! home, keys generated at test time, a scripted pinentry for passphrase-protected keys,
//! and the guarantee that no gpg-agent of the home outlives the test (`gpgconf --homedir H
//! --kill all` on drop, then a wait until its agent is gone).
//!
//! sops runs gpg without `--pinentry-mode loopback`, so a protected key is unlocked by
//! gpg-agent through its `pinentry-program`: [`GpgHome::use_pinentry`] writes one that
//! answers every GETPIN with a fixed passphrase (or cancels), and logs each request.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// A temporary GnuPG home (mode 0700) for the gpg at `gpg`.
pub struct GpgHome {
    dir: tempfile::TempDir,
    gpg: PathBuf,
}

impl GpgHome {
    /// A new, empty home for the gpg program `gpg` (see [`crate::gpg`]).
    pub fn new(gpg: &Path) -> GpgHome {
        // A short name: gpg-agent's socket lives in the home when the per-user runtime
        // directory does not exist, and Unix socket paths are limited to ~108 bytes.
        let dir = tempfile::Builder::new()
            .prefix("sbx-gpg-")
            .tempdir()
            .expect("temp dir");
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
        GpgHome {
            dir,
            gpg: gpg.to_path_buf(),
        }
    }

    /// The home directory.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The gpg program.
    pub fn gpg(&self) -> &Path {
        &self.gpg
    }

    /// Runs gpg in this home with `args`, `stdin` as its input.
    pub fn run(&self, args: &[&str], stdin: &[u8]) -> Output {
        let mut child = Command::new(&self.gpg)
            .arg("--homedir")
            .arg(self.path())
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run gpg");
        let mut w = child.stdin.take().unwrap();
        let data = stdin.to_vec();
        let t = std::thread::spawn(move || {
            let _ = w.write_all(&data);
        });
        let out = child.wait_with_output().unwrap();
        let _ = t.join();
        out
    }

    /// Like [`GpgHome::run`], panicking with gpg's stderr when it fails; returns stdout.
    pub fn ok(&self, args: &[&str], stdin: &[u8]) -> Vec<u8> {
        let out = self.run(args, stdin);
        assert!(
            out.status.success(),
            "gpg {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    }

    /// Generates a key for `uid` (Curve25519: fast) protected by `passphrase` (empty:
    /// none); returns its fingerprint.
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

    /// Imports keys (armored or binary, public or secret) from `file`.
    pub fn import(&self, file: &Path) {
        self.ok(
            &["--batch", "--import", file.to_str().expect("a UTF-8 path")],
            b"",
        );
    }

    /// The armored public key of `fp` (to import into another home).
    pub fn export(&self, fp: &str) -> Vec<u8> {
        self.ok(&["--armor", "--export", fp], b"")
    }

    /// Imports armored key data.
    pub fn import_bytes(&self, data: &[u8]) {
        self.ok(&["--batch", "--import"], data);
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

    /// Makes gpg-agent ask a scripted pinentry for passphrases: every GETPIN is answered
    /// with `answer` (`None`: the user cancels) and appended to [`GpgHome::pinentry_log`].
    /// The agent is stopped first, so the next gpg call starts one that reads the new
    /// `gpg-agent.conf` with an empty passphrase cache.
    pub fn use_pinentry(&self, answer: Option<&str>) {
        self.kill_all();
        let getpin = match answer {
            Some(p) => format!("printf 'D %s\\nOK\\n' '{p}'"),
            None => "echo 'ERR 83886179 Operation cancelled <Pinentry>'".to_string(),
        };
        let script = format!(
            "#!/bin/sh\necho 'OK Pleased to meet you'\n\
             while IFS= read -r line; do\n  case \"$line\" in\n\
             \x20   GETPIN*) echo GETPIN >> '{}'; {getpin} ;;\n\
             \x20   BYE*) echo 'OK closing connection'; exit 0 ;;\n\
             \x20   *) echo OK ;;\n  esac\ndone\n",
            self.pinentry_log().display()
        );
        let path = self.path().join("pinentry-test");
        std::fs::write(&path, script).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::write(
            self.path().join("gpg-agent.conf"),
            format!("pinentry-program {}\n", path.display()),
        )
        .unwrap();
    }

    /// Where the scripted pinentry logs each passphrase request (one `GETPIN` line each).
    pub fn pinentry_log(&self) -> PathBuf {
        self.path().join("pinentry.log")
    }

    /// How many times the scripted pinentry was asked for a passphrase.
    pub fn pinentry_asked(&self) -> usize {
        std::fs::read_to_string(self.pinentry_log())
            .unwrap_or_default()
            .lines()
            .count()
    }

    /// `gpgconf` beside the gpg program, else from `PATH`.
    fn gpgconf(&self) -> PathBuf {
        let beside = self.gpg.with_file_name("gpgconf");
        if beside.is_file() {
            beside
        } else {
            PathBuf::from("gpgconf")
        }
    }

    /// Stops every daemon of the home (`gpgconf --homedir H --kill all`) and waits until
    /// its gpg-agent is gone.
    pub fn kill_all(&self) {
        let _ = Command::new(self.gpgconf())
            .arg("--homedir")
            .arg(self.path())
            .args(["--kill", "all"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        self.wait_agent_gone();
    }

    /// The process IDs of gpg-agents serving this home (from /proc: their command line
    /// names the home).
    pub fn agents(&self) -> Vec<u32> {
        agents_of(self.path())
    }

    /// Waits up to 5 s for the home's gpg-agent to exit (`gpgconf --kill` returns a
    /// moment before it does); true when it is gone.
    pub fn wait_agent_gone(&self) -> bool {
        for _ in 0..250 {
            if self.agents().is_empty() {
                return true;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        false
    }

    /// Panics when a gpg-agent of this home is running (after waiting for one that is
    /// stopping).
    pub fn assert_no_agent(&self) {
        assert!(
            self.wait_agent_gone(),
            "a gpg-agent of {} is still running: {:?}",
            self.path().display(),
            self.agents()
        );
    }
}

impl Drop for GpgHome {
    fn drop(&mut self) {
        // Also when the test failed: leave no agent behind.
        self.kill_all();
    }
}

/// The process IDs of gpg-agents whose command line names `home` (gpg starts its agent
/// with `--homedir HOME` when it was given one).
pub fn agents_of(home: &Path) -> Vec<u32> {
    let home = home.to_string_lossy().to_string();
    let mut pids = Vec::new();
    let Ok(rd) = std::fs::read_dir("/proc") else {
        return pids;
    };
    for e in rd.flatten() {
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
