//! The Nix side: every tracked `*.nix` file parses, and the module evaluation
//! tests of `nix/tests/eval.nix` pass (the latter needs a checkout of nixpkgs'
//! lib in `NIXPKGS_LIB`, e.g. nix-community/nixpkgs.lib or nixpkgs itself).
//!
//! `nix-instantiate` runs with `--store dummy://`: parsing and `--eval` never
//! need a real store, so this works as root or any user, without a daemon and
//! without a writable /nix.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests crate lives in the workspace")
        .to_path_buf()
}

fn nix_instantiate(args: &[&str], scratch: &Path) -> Output {
    Command::new("nix-instantiate")
        .arg("--store")
        .arg("dummy://")
        .args(args)
        .current_dir(repo_root())
        .env("HOME", scratch)
        .env("XDG_CACHE_HOME", scratch.join("cache"))
        .env_remove("NIX_PATH")
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run nix-instantiate ({e}); install Nix (Debian/Ubuntu: apt-get install nix-bin)")
        })
}

/// The `*.nix` files tracked by git, or (outside a git checkout) all of them
/// below the repository root except `target` and hidden directories.
fn nix_files() -> Vec<PathBuf> {
    let root = repo_root();
    let git = Command::new("git")
        .args(["ls-files", "-z", "--", "*.nix"])
        .current_dir(&root)
        .output();
    if let Ok(out) = git {
        if out.status.success() && !out.stdout.is_empty() {
            return out
                .stdout
                .split(|b| *b == 0)
                .filter(|p| !p.is_empty())
                .map(|p| root.join(String::from_utf8_lossy(p).as_ref()))
                .collect();
        }
    }
    let mut found = Vec::new();
    let mut stack = vec![root];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("readable repository") {
            let path = entry.expect("directory entry").path();
            let name = path.file_name().unwrap_or_default().to_string_lossy();
            if path.is_dir() {
                if !name.starts_with('.') && name != "target" {
                    stack.push(path);
                }
            } else if name.ends_with(".nix") {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

#[test]
fn every_tracked_nix_file_parses() {
    let scratch = tempfile::tempdir().expect("temp dir");
    let files = nix_files();
    assert!(
        files.iter().any(|f| f.ends_with("nix/modules/nixos.nix")),
        "nix/modules/nixos.nix not found among {files:?}"
    );
    let mut failed = Vec::new();
    for file in &files {
        let out = nix_instantiate(&["--parse", &file.to_string_lossy()], scratch.path());
        if !out.status.success() {
            failed.push(format!(
                "{}: {}",
                file.display(),
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
    }
    assert!(
        failed.is_empty(),
        "unparsable Nix files:\n{}",
        failed.join("\n")
    );
}

/// A Nix string literal holding `s`.
fn nix_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' | '\\' | '$' => {
                out.push('\\');
                out.push(c);
            }
            _ => out.push(c),
        }
    }
    out.push('"');
    out
}

/// nixpkgs' lib from `NIXPKGS_LIB` as a Nix expression, with its directory; None when unset.
fn nixpkgs_lib() -> Option<(String, PathBuf)> {
    let lib = std::env::var_os("NIXPKGS_LIB").filter(|v| !v.is_empty())?;
    let mut lib = std::fs::canonicalize(&lib)
        .unwrap_or_else(|e| panic!("NIXPKGS_LIB={}: {e}", Path::new(&lib).display()));
    // Accept the checkout's root (nixpkgs or nixpkgs.lib) as well as its lib/.
    if !lib.join("fixed-points.nix").exists() && lib.join("lib/fixed-points.nix").exists() {
        lib.push("lib");
    }
    assert!(
        lib.join("default.nix").exists() && lib.join("modules.nix").exists(),
        "NIXPKGS_LIB={} is not nixpkgs' lib directory",
        lib.display()
    );
    let expr = format!("import (/. + {})", nix_string(&lib.to_string_lossy()));
    Some((expr, lib))
}

#[test]
fn module_evaluation() {
    let Some((lib_expr, lib)) = nixpkgs_lib() else {
        println!("SKIPPED: module evaluation needs NIXPKGS_LIB (a checkout of nixpkgs' lib)");
        return;
    };

    let scratch = tempfile::tempdir().expect("temp dir");
    let out = nix_instantiate(
        &[
            "--eval",
            "--strict",
            "--json",
            "nix/tests/eval.nix",
            "--arg",
            "lib",
            &lib_expr,
        ],
        scratch.path(),
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "nix-instantiate failed ({}):\n{stderr}",
        out.status
    );
    let result = stdout.trim();
    assert!(
        result.starts_with("{\"failures\":["),
        "unexpected result of nix/tests/eval.nix: {result}"
    );
    assert_eq!(
        result, "{\"failures\":[]}",
        "module evaluation tests failed (each string is one failed check)"
    );
    println!("module evaluation tests passed with lib {}", lib.display());
}

/// Configurations that cannot build fail at evaluation with a message that names the option
/// (or the secret) and says what is wrong: each case of `nix/tests/throws.nix`.
#[test]
fn evaluation_errors_name_the_option_and_the_fix() {
    let Some((lib_expr, _)) = nixpkgs_lib() else {
        println!("SKIPPED: module evaluation needs NIXPKGS_LIB (a checkout of nixpkgs' lib)");
        return;
    };
    let cases: [(&str, &[&str]); 6] = [
        (
            "missing-sops-file",
            &["Failed assertions:", "- Cannot find path '/nonexistent/secrets.yaml' set in sops.secrets.a.sopsFile"],
        ),
        (
            "sops-file-not-in-store",
            &["- '/etc/hostname' is not in the Nix store. Either add it to the Nix store or set sops.validateSopsFiles to false"],
        ),
        (
            "unknown-format",
            &["`sops.secrets.a.format' is not of type `one of \"yaml\", \"json\", \"binary\", \"dotenv\", \"ini\"'", "\"toml\""],
        ),
        (
            "unknown-default-format",
            &["`sops.defaultSopsFormat' is not of type `one of \"yaml\""],
        ),
        (
            "key-file-in-store",
            &["`sops.age.keyFile' is not of type `null or absolute path not in the Nix store'"],
        ),
        (
            "no-default-sops-file",
            &["The option `sops.defaultSopsFile' was accessed but has no value defined"],
        ),
    ];
    let scratch = tempfile::tempdir().expect("temp dir");
    for (case, needles) in cases {
        let out = nix_instantiate(
            &[
                "--eval",
                "--strict",
                "nix/tests/throws.nix",
                "--arg",
                "lib",
                &lib_expr,
                "--argstr",
                "case",
                case,
            ],
            scratch.path(),
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success(),
            "{case}: evaluation succeeded: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        for needle in needles {
            assert!(
                stderr.contains(needle),
                "{case}: the error does not say {needle:?}:\n{stderr}"
            );
        }
    }
}
