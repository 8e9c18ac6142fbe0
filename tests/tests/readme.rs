//! The README's commands, run as a new user would type them, so the README cannot drift:
//! the set-up command, the test command `.ci/run` calls, the install block and the
//! five-minute walkthrough (in a fresh home and an empty directory, against the real sops).

use sealbox_tests::{install_bin, require, workspace_root, Peers};
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn readme() -> String {
    fs::read_to_string(workspace_root().join("README.md")).unwrap()
}

/// The ```sh blocks of the README section whose heading starts with `heading`, joined.
fn sh_block(heading: &str) -> String {
    let text = readme();
    let at = text
        .find(&format!("\n{heading}"))
        .unwrap_or_else(|| panic!("README has no heading {heading:?}"));
    let section = &text[at + 1..];
    let section = &section[..section.find("\n## ").unwrap_or(section.len())];
    let mut out = String::new();
    for piece in section.split("```sh\n").skip(1) {
        out.push_str(&piece[..piece.find("```\n").expect("the end of a block")]);
    }
    assert!(!out.is_empty(), "no ```sh block under {heading:?}");
    out
}

/// The block's commands: its lines without comments and blank lines.
fn commands(block: &str) -> Vec<String> {
    block
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(String::from)
        .collect()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A directory holding `name` → `target` links, to put first on PATH.
fn bin_dir(root: &Path, links: &[(&str, &Path)]) -> PathBuf {
    let d = root.join("bin");
    fs::create_dir_all(&d).unwrap();
    for (name, target) in links {
        std::os::unix::fs::symlink(target, d.join(name)).unwrap();
    }
    d
}

fn path_with(first: &[&Path]) -> std::ffi::OsString {
    let rest = std::env::var_os("PATH").unwrap_or_default();
    std::env::join_paths(
        first
            .iter()
            .map(|p| p.to_path_buf())
            .chain(std::env::split_paths(&rest)),
    )
    .unwrap()
}

#[test]
fn setup_command_one_decrypts_the_example_as_written() {
    let cmds = commands(&sh_block("## Set up on a fresh machine"));
    assert_eq!(cmds.len(), 2, "two commands: {cmds:?}");
    assert!(
        cmds[0].contains("cargo run") && !cmds[0].contains(" -q"),
        "command 1 shows the build's progress: {}",
        cmds[0]
    );
    // The test binary's own target directory, so the build is the one already done.
    let exe = std::env::current_exe().unwrap();
    if exe.ancestors().nth(2).unwrap().ends_with("release") {
        return; // the literal command builds the debug profile: minutes, not here
    }
    let target = exe.ancestors().nth(3).unwrap().to_path_buf();
    let cargo = PathBuf::from(std::env::var_os("CARGO").unwrap_or_else(|| env!("CARGO").into()));
    let mut c = Command::new("bash");
    c.args(["-euo", "pipefail", "-c", &cmds[0]])
        .current_dir(workspace_root())
        .env("CARGO_TARGET_DIR", &target)
        .env("PATH", path_with(&[cargo.parent().unwrap()]))
        .stdin(Stdio::null());
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("SOPS_") {
            c.env_remove(k);
        }
    }
    let o = c.output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let want = fs::read(workspace_root().join("examples/secrets.plain.yaml")).unwrap();
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&want)
    );
}

#[test]
fn the_readme_test_command_is_the_one_ci_runs() {
    let cmds = commands(&sh_block("## Set up on a fresh machine"));
    let ci = fs::read_to_string(workspace_root().join(".ci/run")).unwrap();
    let ci_lines: Vec<&str> = ci
        .lines()
        .map(|l| l.trim().trim_start_matches("bash "))
        .collect();
    for part in cmds[1].split("&&").map(str::trim) {
        assert!(
            ci_lines.contains(&part),
            "`{part}` (README's test command) is not a command of .ci/run"
        );
    }
    assert!(cmds[1].contains("cargo test --workspace"), "{}", cmds[1]);
}

/// The `[[bin]]` names of a package's Cargo.toml.
fn bins(manifest: &Path) -> Vec<String> {
    let text = fs::read_to_string(manifest).unwrap();
    let mut out = Vec::new();
    let mut in_bin = false;
    for l in text.lines() {
        let l = l.trim();
        if l.starts_with('[') {
            in_bin = l == "[[bin]]";
        } else if let Some(v) = l.strip_prefix("name = ").filter(|_| in_bin) {
            out.push(v.trim_matches('"').to_string());
        }
    }
    out
}

#[test]
fn the_install_block_installs_every_binary_with_its_pages_and_completions() {
    let block = sh_block("## Install");
    let mut installed = Vec::new();
    for c in commands(&block) {
        let words: Vec<&str> = c.split_whitespace().collect();
        if words.starts_with(&["cargo", "install"]) {
            assert!(
                words.contains(&"--locked"),
                "{c}: the tested dependency versions"
            );
            let at = words.iter().position(|w| *w == "--path").expect("--path");
            installed.extend(bins(
                &workspace_root().join(words[at + 1]).join("Cargo.toml"),
            ));
        }
    }
    installed.sort();
    let mut all: Vec<String> = ["cli", "activation", "formats", "tests", "tests/kit"]
        .iter()
        .flat_map(|m| bins(&workspace_root().join(m).join("Cargo.toml")))
        .collect();
    all.sort();
    assert_eq!(
        installed, all,
        "README's cargo install lines vs the workspace's binaries"
    );

    // The rest of both blocks, literally, with the built binaries on PATH as cargo install
    // would put them (cargo itself stubbed out: a release build would take minutes).
    let man = require!(sealbox_testkit::tool("man", "man-db"));
    let peers = require!(Peers::get());
    let t = tempfile::tempdir().unwrap();
    let home = t.path().join("home");
    fs::create_dir_all(home.join(".cargo/bin")).unwrap();
    let bin = bin_dir(
        &home.join(".cargo"),
        &[
            ("sealbox", &peers.sealbox),
            ("sealbox-install", &install_bin()),
        ],
    );
    let script = format!("cargo() {{ :; }}\n{block}");
    let o = Command::new("bash")
        .args(["-euo", "pipefail", "-c", &script])
        .current_dir(t.path())
        .env_clear()
        .env("HOME", &home)
        .env("PATH", path_with(&[&bin]))
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let completion = home.join(".local/share/bash-completion/completions/sealbox");
    assert!(fs::read_to_string(completion)
        .unwrap()
        .contains("_sealbox()"));
    // `man NAME` finds the pages through PATH, as it would for a user.
    for page in [
        &["sealbox"][..],
        &["sealbox-decrypt"],
        &["8", "sealbox-install"],
    ] {
        let o = Command::new(&man)
            .args(["-P", "cat"])
            .args(page)
            .env_clear()
            .env("HOME", &home)
            .env("PATH", path_with(&[&bin]))
            .env("MANWIDTH", "80")
            .env("LC_ALL", "C.UTF-8")
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(o.status.success(), "man {page:?}: {}", stderr(&o));
        let text = String::from_utf8_lossy(&o.stdout);
        assert!(text.contains("SYNOPSIS"), "man {page:?}:\n{text}");
    }
}

#[test]
fn the_five_minute_walkthrough_runs_word_for_word_in_a_fresh_home() {
    let peers = require!(Peers::get());
    let block = sh_block("## Five minutes");
    let t = tempfile::tempdir().unwrap();
    let home = t.path().join("home");
    let work = t.path().join("empty");
    fs::create_dir(&home).unwrap();
    fs::create_dir(&work).unwrap();
    // `sops` must be the real Go sops 3.11, whatever else is on PATH.
    let bin = bin_dir(
        t.path(),
        &[("sealbox", &peers.sealbox), ("sops", &peers.sops)],
    );
    let ssh_dir = peers.ssh_keygen.parent().unwrap();
    let o = Command::new("bash")
        .args(["-euo", "pipefail", "-c", &block])
        .current_dir(&work)
        .env_clear()
        .env("HOME", &home)
        .env("PATH", path_with(&[&bin, ssh_dir]))
        .env("TMPDIR", std::env::temp_dir())
        .env("SOPS_DISABLE_VERSION_CHECK", "1")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let err = stderr(&o);
    assert!(o.status.success(), "walkthrough failed:\n{err}");
    let plain = "db:\n    password: hunter2\n";
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        format!("{plain}hunter2{plain}"),
        "decrypt, --extract and sops decrypt"
    );
    assert!(err.contains("Public key: age1"), "{err}");
    let key = home.join(".config/sops/age/keys.txt");
    let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&key), 0o600);
    for d in [".config", ".config/sops", ".config/sops/age"] {
        assert_eq!(mode(&home.join(d)), 0o700, "{d}");
    }
    let enc = fs::read_to_string(work.join("secrets/app.yaml")).unwrap();
    assert_eq!(enc.matches("- recipient: age1").count(), 2, "{enc}");
    assert!(!enc.contains("hunter2"));
}

#[test]
fn sealbox_install_man_page_renders() {
    let man = require!(sealbox_testkit::tool("man", "man-db"));
    let page = Command::new(install_bin()).arg("--man").output().unwrap();
    assert!(page.status.success(), "{}", stderr(&page));
    let t = tempfile::tempdir().unwrap();
    let file = t.path().join("sealbox-install.8");
    fs::write(&file, &page.stdout).unwrap();
    let o = Command::new(man)
        .args(["-l", "-P", "cat"])
        .arg(&file)
        .env("MANWIDTH", "80")
        .env("LC_ALL", "C.UTF-8")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stderr(&o), "", "groff warnings");
    let text = String::from_utf8_lossy(&o.stdout);
    for s in [
        "sealbox-install(8)",
        "--check-mode",
        "--wait-for-key",
        "ENVIRONMENT",
        "NIXOS_ACTION",
        "EXIT STATUS",
    ] {
        assert!(text.contains(s), "{s} missing:\n{text}");
    }
    // The Go spelling works for it too, and without --man MANIFEST is still required.
    let go = Command::new(install_bin()).arg("-man").output().unwrap();
    assert_eq!(go.stdout, page.stdout);
    let none = Command::new(install_bin()).output().unwrap();
    assert_eq!(none.status.code(), Some(2));
}

#[test]
fn the_key_custody_walkthrough_runs_word_for_word_against_a_real_openbao() {
    let peers = require!(Peers::get());
    let bao = require!(sealbox_testkit::bao());
    let block = sh_block("## Key custody with OpenBao or Vault");
    // The block starts a dev server in the background on port 8200 with root token
    // `dev-root`. The test starts the same server itself, on a free port (stopped by PID
    // when the test ends, whatever happens), and runs every other line with its address
    // and token.
    let start = block
        .lines()
        .find(|l| l.starts_with("bao server -dev "))
        .expect("the walkthrough starts a dev server");
    for flag in [
        "-dev-root-token-id=dev-root",
        "-dev-listen-address=127.0.0.1:8200",
        "-dev-no-store-token",
    ] {
        assert!(start.contains(flag), "{flag} in {start}");
    }
    let srv = sealbox_testkit::openbao::DevServer::start(&bao).unwrap();
    let script = block
        .replace(start, "")
        .replace("127.0.0.1:8200", srv.host_port())
        .replace("dev-root", &srv.root_token);
    let t = tempfile::tempdir().unwrap();
    let home = t.path().join("home");
    let work = t.path().join("empty");
    fs::create_dir(&home).unwrap();
    fs::create_dir(&work).unwrap();
    let bin = bin_dir(t.path(), &[("sealbox", &peers.sealbox), ("bao", &bao)]);
    let o = Command::new("bash")
        .args(["-euo", "pipefail", "-c", &script])
        .current_dir(&work)
        .env_clear()
        .env("HOME", &home)
        .env("PATH", path_with(&[&bin]))
        .env("TMPDIR", std::env::temp_dir())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let (out, err) = (String::from_utf8_lossy(&o.stdout), stderr(&o));
    assert!(o.status.success(), "walkthrough failed:\n{out}\n{err}");
    // Step 5: the host's two halves open the value; the age key alone does not.
    assert!(
        out.contains("hunter2refused, as it should be\n"),
        "the AppRole + age decryption, then the age key alone refused:\n{out}"
    );
    assert!(
        err.contains("1 of 2 key groups decrypted, 2 needed"),
        "{err}"
    );
    // Step 6: check found the file wrapped by version 1, updatekeys rewrapped it, and the
    // second check found nothing.
    assert!(out.contains("found stale files"), "{out}");
    assert!(
        out.contains("wraps the data key with version 1, older than 2"),
        "{out}"
    );
    assert!(
        err.contains("1 file checked, 1 finding") && err.contains("1 file checked, 0 findings"),
        "{err}"
    );
    let enc = fs::read_to_string(work.join("secrets/db.yaml")).unwrap();
    assert!(
        enc.contains("shamir_threshold: 2")
            && enc.contains("enc: vault:v2:")
            && !enc.contains("vault:v1:")
            && !enc.contains("hunter2"),
        "{enc}"
    );
}
