//! Helpers for sealbox's end-to-end and interop tests.
//!
//! * [`Peers::require`] finds the sealbox binary (building it once), the real `sops` Go
//!   executable, `age`, `age-keygen` and `ssh-keygen`, and fails the test when one is missing.
//! * [`Keys::generate`] makes fresh age and ssh-ed25519 keys in a temp dir.
//! * [`Sandbox::run`] runs a command with a clean environment (HOME and XDG_CONFIG_HOME in a
//!   temp dir, `SOPS_DISABLE_VERSION_CHECK=1`).
//! * [`gen`] is a seeded generator of YAML/JSON plaintext documents with the tree they mean.
//! * [`fuzz_targets`] are the fuzz targets, shared by `fuzz/` (cargo-fuzz) and the stable
//!   `fuzz_smoke` test.
//! * [`json`] is a small, independent JSON parser used to compare documents semantically.
//! * [`nspawn`] boots a real systemd in a container; [`nixos_units`] renders the NixOS
//!   module's install units for it (the `systemd_e2e` suite).
//! * [`scratch::Scratch`] is a private directory for running the tools on the generated key
//!   vectors.

pub mod check;
pub mod fuzz_targets;
pub mod gen;
pub mod json;
pub mod nixos_units;
pub mod nspawn;
pub mod scratch;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

/// Root of the cargo workspace (the parent of this crate).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests crate has a parent directory")
        .to_path_buf()
}

/// A directory of `tests/vectors/` (files written by other tools; see its README).
pub fn vectors_dir(set: &str) -> PathBuf {
    workspace_root().join("tests").join("vectors").join(set)
}

use sealbox_testkit::workspace_bin;
pub use sealbox_testkit::{require, skip};

/// Builds `sealbox` once per test process and returns its path.
///
/// `$SEALBOX_BIN` overrides. Otherwise `cargo build -p sealbox-cli` runs with the same profile
/// and target directory as the running test executable (`<target>/<profile>/deps/<test>`).
pub fn sealbox_bin() -> Result<PathBuf, String> {
    static BIN: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    BIN.get_or_init(|| workspace_bin("SEALBOX_BIN", "sealbox-cli", "sealbox"))
        .clone()
}

/// Builds `sealbox-install` once per test process (like [`Peers`] builds `sealbox`) and
/// returns its path; `$SEALBOX_INSTALL_BIN` overrides.
pub fn install_bin() -> PathBuf {
    static BIN: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    BIN.get_or_init(|| {
        workspace_bin(
            "SEALBOX_INSTALL_BIN",
            "sealbox-activation",
            "sealbox-install",
        )
    })
    .clone()
    .unwrap_or_else(|e| panic!("{e}"))
}

/// Runs `cmd` through a small python3 wrapper that waits for it and reports its peak
/// resident set size (`wait4` rusage of the child and its descendants): (output, peak RSS
/// in KiB). The command's own stdout and stderr are captured as usual.
pub fn run_measuring_rss(cmd: &Command) -> (std::process::Output, u64) {
    let rss_file = tempfile::NamedTempFile::new().unwrap();
    let mut w = Command::new("python3");
    w.arg("-c")
        .arg(
            "import os,resource,subprocess,sys\n\
             r=subprocess.run(sys.argv[2:]).returncode\n\
             open(sys.argv[1],'w').write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss))\n\
             sys.exit(r if r >= 0 else 128 - r)",
        )
        .arg(rss_file.path())
        .arg(cmd.get_program())
        .args(cmd.get_args());
    if let Some(d) = cmd.get_current_dir() {
        w.current_dir(d);
    }
    for (k, v) in cmd.get_envs() {
        match v {
            Some(v) => w.env(k, v),
            None => w.env_remove(k),
        };
    }
    let out = w.stdin(Stdio::null()).output().expect("python3");
    let rss = std::fs::read_to_string(rss_file.path())
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0);
    (out, rss)
}

/// Paths of the programs the interop tests run.
#[derive(Debug, Clone)]
pub struct Peers {
    pub sealbox: PathBuf,
    pub sops: PathBuf,
    pub age: PathBuf,
    pub age_keygen: PathBuf,
    pub ssh_keygen: PathBuf,
}

impl Peers {
    /// Every peer, or what is missing and how to install it. Tests call it through
    /// [`require!`]: by hand a missing peer skips the test (`SKIPPED: …`), under `CI=true`
    /// it fails it.
    pub fn get() -> Result<Peers, String> {
        static PEERS: OnceLock<Result<Peers, String>> = OnceLock::new();
        PEERS
            .get_or_init(Self::find)
            .clone()
            .map_err(|e| format!("interop test peers missing: {e}"))
    }

    fn find() -> Result<Peers, String> {
        let mut errors = Vec::new();
        let mut get = |r: Result<PathBuf, String>| match r {
            Ok(p) => p,
            Err(e) => {
                errors.push(e);
                PathBuf::new()
            }
        };
        let peers = Peers {
            sops: get(sealbox_testkit::sops()),
            age: get(sealbox_testkit::age()),
            age_keygen: get(sealbox_testkit::age_keygen()),
            ssh_keygen: get(sealbox_testkit::ssh_keygen()),
            sealbox: get(sealbox_bin()),
        };
        if errors.is_empty() {
            Ok(peers)
        } else {
            Err(errors.join("; "))
        }
    }
}

/// Result of running a command.
#[derive(Debug, Clone)]
pub struct Out {
    /// Exit code (-1 when killed by a signal).
    pub code: i32,
    pub stdout: Vec<u8>,
    pub stderr: String,
}

impl Out {
    pub fn stdout_str(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
    /// Panics with the command's output unless it exited 0.
    pub fn ok(self, what: &str) -> Out {
        assert_eq!(
            self.code,
            0,
            "{what} failed (exit {}):\nstderr:\n{}\nstdout:\n{}",
            self.code,
            self.stderr,
            self.stdout_str()
        );
        self
    }
}

/// A temp dir used as HOME / XDG_CONFIG_HOME / working dir, so no real keys or `.sops.yaml`
/// are picked up.
pub struct Sandbox {
    pub dir: tempfile::TempDir,
}

impl Default for Sandbox {
    fn default() -> Self {
        Self::new()
    }
}

impl Sandbox {
    pub fn new() -> Sandbox {
        let dir = tempfile::Builder::new()
            .prefix("sealbox-test-")
            .tempdir()
            .expect("create temp dir");
        std::fs::create_dir_all(dir.path().join("home/.config")).unwrap();
        std::fs::create_dir_all(dir.path().join("work")).unwrap();
        Sandbox { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The working directory commands run in (no `.sops.yaml` above it up to the temp root).
    pub fn work(&self) -> PathBuf {
        self.dir.path().join("work")
    }

    /// Writes `contents` to `work/<name>` and returns the path.
    pub fn write(&self, name: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        let p = self.work().join(name);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(&p, contents).unwrap();
        p
    }

    /// Keeps the directory on disk (for failure reports) and returns its path.
    pub fn keep(self) -> PathBuf {
        self.dir.keep()
    }

    /// Runs `prog args…` with a clean environment plus `env`, in `work/`.
    pub fn run<S: AsRef<std::ffi::OsStr>>(
        &self,
        prog: &Path,
        args: &[S],
        env: &[(&str, &str)],
        stdin: Option<&[u8]>,
    ) -> Out {
        let home = self.dir.path().join("home");
        let mut cmd = Command::new(prog);
        cmd.args(args)
            .current_dir(self.work())
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", &home)
            .env("XDG_CONFIG_HOME", home.join(".config"))
            .env("TMPDIR", std::env::temp_dir())
            .env("SOPS_DISABLE_VERSION_CHECK", "1")
            .env("LANG", "C.UTF-8")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            });
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", prog.display()));
        if let Some(input) = stdin {
            use std::io::Write;
            let mut w = child.stdin.take().unwrap();
            let data = input.to_vec();
            std::thread::spawn(move || {
                let _ = w.write_all(&data);
            });
        }
        let out = child.wait_with_output().expect("wait for child");
        Out {
            code: out.status.code().unwrap_or(-1),
            stdout: out.stdout,
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

/// An identity a test can hand to sops/sealbox, and the recipient it matches.
#[derive(Debug, Clone)]
pub struct Identity {
    /// Human name for messages ("age1", "ssh").
    pub name: &'static str,
    /// Recipient string for `--age`.
    pub recipient: String,
    /// Private key file.
    pub key_file: PathBuf,
    /// Environment variable that points sops at `key_file`.
    pub env_var: &'static str,
}

impl Identity {
    pub fn env(&self) -> [(&'static str, String); 1] {
        [(self.env_var, self.key_file.display().to_string())]
    }
}

/// A fresh age identity from the real `age-keygen`: (recipient, identity file
/// `DIR/NAME.txt`).
pub fn age_keygen(peers: &Peers, dir: &Path, name: &str) -> (String, PathBuf) {
    let f = dir.join(format!("{name}.txt"));
    let out = Command::new(&peers.age_keygen)
        .arg("-o")
        .arg(&f)
        .output()
        .expect("run age-keygen");
    assert!(out.status.success(), "age-keygen failed: {out:?}");
    let text = std::fs::read_to_string(&f).unwrap();
    let recipient = text
        .lines()
        .find_map(|l| l.strip_prefix("# public key: "))
        .expect("age-keygen output has a public key line")
        .trim()
        .to_string();
    (recipient, f)
}

/// Fresh keys for one test: two age X25519 identities and one ssh-ed25519 identity.
pub struct Keys {
    _dir: tempfile::TempDir,
    pub age1: Identity,
    pub age2: Identity,
    pub ssh: Identity,
}

impl Keys {
    pub fn generate(peers: &Peers) -> Keys {
        let dir = tempfile::Builder::new()
            .prefix("sealbox-keys-")
            .tempdir()
            .unwrap();
        let age = |name: &'static str| {
            let (recipient, f) = age_keygen(peers, dir.path(), name);
            Identity {
                name,
                recipient,
                key_file: f,
                env_var: "SOPS_AGE_KEY_FILE",
            }
        };
        let age1 = age("age1");
        let age2 = age("age2");
        let sshf = dir.path().join("id_ed25519");
        let out = Command::new(&peers.ssh_keygen)
            .args(["-q", "-t", "ed25519", "-N", "", "-C", "sealbox-test", "-f"])
            .arg(&sshf)
            .stdin(Stdio::null())
            .output()
            .expect("run ssh-keygen");
        assert!(out.status.success(), "ssh-keygen failed: {out:?}");
        let pubkey = std::fs::read_to_string(sshf.with_extension("pub")).unwrap();
        let recipient = pubkey
            .split_whitespace()
            .take(2)
            .collect::<Vec<_>>()
            .join(" ");
        Keys {
            _dir: dir,
            age1,
            age2,
            ssh: Identity {
                name: "ssh",
                recipient,
                key_file: sshf,
                env_var: "SOPS_AGE_SSH_PRIVATE_KEY_FILE",
            },
        }
    }

    pub fn all(&self) -> [&Identity; 3] {
        [&self.age1, &self.age2, &self.ssh]
    }
}

/// Lines that are YAML comments (trimmed, starting with `#`), sorted: a multiset for comparing.
pub fn comment_lines(yaml: &str) -> Vec<String> {
    let mut v: Vec<String> = yaml
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with('#'))
        .map(str::to_string)
        .collect();
    v.sort();
    v
}

/// Flip one character of a base64 string inside `text` at byte `pos` to another valid base64
/// character (changing the decoded bits).
pub fn flip_b64_char(text: &str, pos: usize) -> String {
    let mut bytes = text.as_bytes().to_vec();
    let c = bytes[pos];
    bytes[pos] = match c {
        b'A' => b'B',
        b'Z' => b'Y',
        b'a' => b'b',
        b'z' => b'y',
        b'0' => b'1',
        b'9' => b'8',
        b'+' => b'/',
        b'/' => b'+',
        c if c.is_ascii_alphanumeric() => c + 1,
        c => panic!("not a base64 char at {pos}: {:?}", c as char),
    };
    String::from_utf8(bytes).unwrap()
}
