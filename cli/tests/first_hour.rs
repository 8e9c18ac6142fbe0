//! What a new user meets in the first hour: key files in a fresh home, a mistyped command,
//! `--config` in the help, shell completions and manual pages.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

const SEALBOX: &str = env!("CARGO_BIN_EXE_sealbox");

/// Runs sealbox in `dir` with a clean environment (HOME = `dir/home`) plus `env`.
fn run_in(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(SEALBOX);
    c.args(args)
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", dir.join("home"))
        .env("TMPDIR", std::env::temp_dir())
        .stdin(Stdio::null());
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn ok(o: Output) -> Output {
    assert!(
        o.status.success(),
        "exit {:?}: {}",
        o.status.code(),
        stderr(&o)
    );
    o
}

fn mode(p: &Path) -> u32 {
    fs::metadata(p).unwrap().permissions().mode() & 0o777
}

fn vectors() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/vectors/sops-nix")
}

#[test]
fn keygen_makes_the_key_directories_of_a_fresh_home_private() {
    let t = tempfile::tempdir().unwrap();
    let home = t.path().join("home");
    fs::create_dir(&home).unwrap();
    let key = home.join(".config/sops/age/keys.txt");
    let o = ok(run_in(
        t.path(),
        &["keygen", "-o", key.to_str().unwrap()],
        &[],
    ));
    assert!(stderr(&o).starts_with("Public key: age1"), "{}", stderr(&o));
    assert_eq!(mode(&key), 0o600);
    for d in [".config", ".config/sops", ".config/sops/age"] {
        assert_eq!(mode(&home.join(d)), 0o700, "{d}");
    }
    // The file is where sops and sealbox look by default: -y reads it back.
    let again = run_in(t.path(), &["keygen", "-o", key.to_str().unwrap()], &[]);
    assert_eq!(again.status.code(), Some(3));
    let e = stderr(&again);
    assert!(
        e.contains("already exists") && e.contains("never overwrites"),
        "{e}"
    );
}

#[test]
fn keygen_names_a_file_in_the_way_not_overwriting() {
    let t = tempfile::tempdir().unwrap();
    fs::write(t.path().join("config"), "").unwrap();
    let o = run_in(t.path(), &["keygen", "-o", "config/sops/keys.txt"], &[]);
    assert_eq!(o.status.code(), Some(3));
    let e = stderr(&o);
    assert!(e.contains("not a directory"), "{e}");
    assert!(
        !e.contains("overwrit"),
        "the hint must not blame overwriting: {e}"
    );
}

#[test]
fn ssh_to_age_creates_missing_directories_for_its_output() {
    let t = tempfile::tempdir().unwrap();
    let pubkey = vectors().join("ssh-ed25519-key.pub");
    let o = ok(run_in(
        t.path(),
        &[
            "ssh-to-age",
            "-i",
            pubkey.to_str().unwrap(),
            "-o",
            "keys/hosts/web.txt",
        ],
        &[],
    ));
    assert_eq!(stdout(&o), "");
    let written = fs::read_to_string(t.path().join("keys/hosts/web.txt")).unwrap();
    assert_eq!(
        written,
        "age1a8pk4akrdamj7nvqy3zywgtny8dxz7t5xzu7u8v9mhrayp9freqsqatyrs\n"
    );
    assert_eq!(mode(&t.path().join("keys")), 0o700);
    assert_eq!(mode(&t.path().join("keys/hosts")), 0o700);
    // The private key lands 0600 in a new private directory too.
    let private = vectors().join("ssh-ed25519-key");
    ok(run_in(
        t.path(),
        &[
            "ssh-to-age",
            "-private-key",
            "-i",
            private.to_str().unwrap(),
            "-o",
            "home/.config/sops/age/keys.txt",
        ],
        &[],
    ));
    let k = t.path().join("home/.config/sops/age/keys.txt");
    assert_eq!(mode(&k), 0o600);
    assert_eq!(mode(k.parent().unwrap()), 0o700);
    assert!(fs::read_to_string(&k)
        .unwrap()
        .starts_with("AGE-SECRET-KEY-1D88T3T22862F5SWX0V7M7CG9Q5T9FA90CCN9NVLJRCQATZ3WGL3QMR7CN4"));
}

/// An editor script that records that it ran and writes `a: b` into the file.
fn recording_editor(dir: &Path) -> PathBuf {
    let p = dir.join("editor.sh");
    fs::write(
        &p,
        "#!/bin/sh\necho ran >> \"$(dirname \"$0\")/editor-ran\"\nprintf 'a: b\\n' > \"$1\"\n",
    )
    .unwrap();
    fs::set_permissions(&p, fs::Permissions::from_mode(0o755)).unwrap();
    p
}

#[test]
fn a_mistyped_command_says_did_you_mean_and_opens_no_editor() {
    let t = tempfile::tempdir().unwrap();
    let editor = recording_editor(t.path());
    let env = [
        ("EDITOR", editor.to_str().unwrap()),
        (
            "SOPS_AGE_RECIPIENTS",
            "age1a8pk4akrdamj7nvqy3zywgtny8dxz7t5xzu7u8v9mhrayp9freqsqatyrs",
        ),
    ];
    for (typed, meant) in [
        ("decrpyt", "`sealbox decrypt`"),
        ("updatkeys", "`sealbox updatekeys`"),
        ("completion", "`sealbox completions`"),
        ("exec", "`sealbox exec-env` or `sealbox exec-file`"),
    ] {
        let o = run_in(t.path(), &[typed, "f.yaml"], &env);
        assert_eq!(o.status.code(), Some(1), "{typed}");
        let e = stderr(&o);
        assert!(
            e.contains(&format!("did you mean {meant}?")),
            "{typed}: {e}"
        );
        assert!(e.contains(&format!("sealbox edit {typed}")), "{typed}: {e}");
        assert!(!t.path().join(typed).exists(), "{typed} was created");
    }
    assert!(!t.path().join("editor-ran").exists(), "an editor ran");
}

#[test]
fn a_file_name_still_edits_the_file_as_in_sops() {
    let t = tempfile::tempdir().unwrap();
    let editor = recording_editor(t.path());
    let recipient = "age1a8pk4akrdamj7nvqy3zywgtny8dxz7t5xzu7u8v9mhrayp9freqsqatyrs";
    let env = [
        ("EDITOR", editor.to_str().unwrap()),
        ("SOPS_AGE_RECIPIENTS", recipient),
    ];
    // A new name with an extension, one with a directory part, and an existing file whose
    // name is one letter from a command.
    fs::create_dir(t.path().join("sub")).unwrap();
    for name in ["new-file.yaml", "sub/decrpyt"] {
        ok(run_in(t.path(), &[name], &env));
        let text = fs::read_to_string(t.path().join(name)).unwrap();
        // (`sub/decrpyt` has no extension: the binary store, as in sops.)
        assert!(
            text.contains("ENC[AES256_GCM,") && text.contains(recipient),
            "{name}: {text}"
        );
    }
    let key = t.path().join("key.txt");
    ok(run_in(
        t.path(),
        &["keygen", "-o", key.to_str().unwrap()],
        &[],
    ));
    let key_env = [("SOPS_AGE_KEY_FILE", key.to_str().unwrap())];
    let mine = stdout(&ok(run_in(
        t.path(),
        &["keygen", "-y", key.to_str().unwrap()],
        &[],
    )));
    fs::write(t.path().join("decrpyt"), "old\n").unwrap();
    ok(run_in(
        t.path(),
        &["encrypt", "-i", "--age", mine.trim(), "decrpyt"],
        &[],
    ));
    let o = run_in(
        t.path(),
        &["decrpyt"],
        &[key_env[0], ("EDITOR", editor.to_str().unwrap())],
    );
    // The existing file was opened in the editor (its content replaced by `a: b`).
    ok(o);
    assert_eq!(
        fs::read_to_string(t.path().join("editor-ran")).unwrap(),
        "ran\nran\nran\n"
    );
    let plain = ok(run_in(t.path(), &["decrypt", "decrpyt"], &key_env));
    assert_eq!(stdout(&plain), "a: b\n");
}

fn help(args: &[&str]) -> String {
    let t = tempfile::tempdir().unwrap();
    stdout(&ok(run_in(t.path(), args, &[])))
}

#[test]
fn config_shows_in_the_help_exactly_of_the_commands_that_read_sops_yaml() {
    let reads = [
        "encrypt",
        "decrypt",
        "edit",
        "set",
        "unset",
        "rotate",
        "updatekeys",
        "check",
    ];
    let ignores = [
        "filestatus",
        "exec-env",
        "exec-file",
        "recipients",
        "keygen",
        "ssh-to-age",
        "manifest",
        "completions",
        "man",
    ];
    assert!(help(&["--help"]).contains("--config <FILE>"));
    for c in reads {
        assert!(help(&[c, "--help"]).contains("--config <FILE>"), "{c}");
    }
    for c in ignores {
        let h = help(&[c, "--help"]);
        assert!(!h.contains("--config"), "{c}:\n{h}");
    }
    // Every subcommand is in one of the lists.
    let top = help(&["--help"]);
    let listed: Vec<&str> = top
        .lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter(|l| !l.starts_with("   ")) // wrapped descriptions
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .collect();
    assert!(listed.len() > 10, "{top}");
    for c in listed {
        assert!(
            reads.contains(&c) || ignores.contains(&c),
            "{c} in neither list"
        );
    }
    // Hidden is not removed: --config is still accepted there, as the global flag of sops.
    let t = tempfile::tempdir().unwrap();
    ok(run_in(
        t.path(),
        &["keygen", "--config", "nowhere.yaml"],
        &[],
    ));
}

/// A file encrypted to `first`, and a config elsewhere whose rule adds `second`.
fn updatekeys_setup(t: &Path, first: &str, second: &str) {
    fs::create_dir_all(t.join("cfg")).unwrap();
    fs::write(
        t.join("cfg/.sops.yaml"),
        format!("creation_rules:\n  - path_regex: f\\.yaml$\n    age: {first},{second}\n"),
    )
    .unwrap();
    fs::write(t.join("f.yaml"), "a: b\n").unwrap();
    ok(run_in(t, &["encrypt", "-i", "--age", first, "f.yaml"], &[]));
}

#[test]
fn config_works_before_and_after_the_subcommand_and_from_the_environment() {
    let t = tempfile::tempdir().unwrap();
    let key = t.path().join("key.txt");
    let o = ok(run_in(
        t.path(),
        &["keygen", "-o", key.to_str().unwrap()],
        &[],
    ));
    let first = stderr(&o)
        .trim()
        .trim_start_matches("Public key: ")
        .to_string();
    let second = "age1a8pk4akrdamj7nvqy3zywgtny8dxz7t5xzu7u8v9mhrayp9freqsqatyrs";
    let key_env = [("SOPS_AGE_KEY_FILE", key.to_str().unwrap())];
    for (i, args) in [
        vec!["--config", "cfg/.sops.yaml", "updatekeys", "-y", "f.yaml"],
        vec!["updatekeys", "--config", "cfg/.sops.yaml", "-y", "f.yaml"],
        vec!["updatekeys", "-y", "f.yaml"],
    ]
    .into_iter()
    .enumerate()
    {
        updatekeys_setup(t.path(), &first, second);
        let before = ok(run_in(t.path(), &["recipients", "f.yaml"], &[]));
        assert!(!stdout(&before).contains(second));
        let mut env = key_env.to_vec();
        if i == 2 {
            env.push(("SOPS_CONFIG", "cfg/.sops.yaml"));
        }
        ok(run_in(t.path(), &args, &env));
        let after = ok(run_in(t.path(), &["recipients", "f.yaml"], &[]));
        assert_eq!(stdout(&after), format!("{first}\n{second}\n"), "{args:?}");
    }
    // Without it there is no .sops.yaml in reach (the search starts in the current dir).
    updatekeys_setup(t.path(), &first, second);
    let o = run_in(t.path(), &["updatekeys", "-y", "f.yaml"], &key_env);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("no .sops.yaml found"), "{}", stderr(&o));
}

#[test]
fn bash_completion_completes_commands_and_their_options() {
    let bash = sealbox_testkit::require!(sealbox_testkit::tool("bash", "bash"));
    let complete = |words: &str| -> String {
        // COMP_WORDS as bash fills it; `_sealbox CMD CUR PREV` as `complete -F` calls it.
        let script = format!(
            "source <('{SEALBOX}' completions bash) || exit 9\n\
             COMP_WORDS=({words}); COMP_CWORD=$((${{#COMP_WORDS[@]}} - 1))\n\
             _sealbox sealbox \"${{COMP_WORDS[COMP_CWORD]}}\" \"${{COMP_WORDS[COMP_CWORD-1]}}\"\n\
             echo \"${{COMPREPLY[*]}}\""
        );
        let o = Command::new(&bash)
            .args(["--norc", "-c", &script])
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(o.status.success(), "{words}: {}", stderr(&o));
        stdout(&o).trim().to_string()
    };
    assert_eq!(complete("sealbox dec"), "decrypt");
    assert_eq!(complete("sealbox ssh"), "ssh-to-age");
    assert_eq!(complete("sealbox encrypt --con"), "--config");
    assert_eq!(complete("sealbox decrypt --ext"), "--extract");
    // --config is offered only where it does something.
    assert!(!complete("sealbox keygen --").contains("--config"));
    assert!(complete("sealbox keygen --").contains("--output"));
    for shell in ["zsh", "fish", "elvish", "powershell"] {
        let t = tempfile::tempdir().unwrap();
        let o = ok(run_in(t.path(), &["completions", shell], &[]));
        assert!(stdout(&o).contains("ssh-to-age"), "{shell}");
    }
}

#[test]
fn man_pages_render_with_man_for_every_command() {
    let man = sealbox_testkit::require!(sealbox_testkit::tool("man", "man-db"));
    let t = tempfile::tempdir().unwrap();
    let dir = t.path().join("man1");
    let o = ok(run_in(t.path(), &["man", "-o", dir.to_str().unwrap()], &[]));
    assert!(stderr(&o).contains("manual pages"), "{}", stderr(&o));
    let mut pages: Vec<String> = fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    pages.sort();
    assert!(pages.contains(&"sealbox.1".to_string()), "{pages:?}");
    for c in ["decrypt", "keygen", "ssh-to-age", "completions", "man"] {
        assert!(pages.contains(&format!("sealbox-{c}.1")), "{c}: {pages:?}");
    }
    assert!(!pages.iter().any(|p| p.contains("help")), "{pages:?}");
    for p in &pages {
        let o = Command::new(&man)
            .args(["-l", "-P", "cat"])
            .arg(dir.join(p))
            .env("MANWIDTH", "80")
            .env("LC_ALL", "C.UTF-8")
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(o.status.success(), "{p}: {}", stderr(&o));
        assert_eq!(stderr(&o), "", "{p}: groff warnings");
        let text = stdout(&o);
        let name = p.trim_end_matches(".1");
        assert!(text.contains("NAME") && text.contains(name), "{p}:\n{text}");
    }
    let top = Command::new(&man)
        .args(["-l", "-P", "cat"])
        .arg(dir.join("sealbox.1"))
        .env("MANWIDTH", "80")
        .env("LC_ALL", "C.UTF-8")
        .output()
        .unwrap();
    let text = stdout(&top);
    for s in [
        "ENVIRONMENT",
        "SOPS_AGE_KEY_FILE",
        "EXIT STATUS",
        "SEE ALSO",
        "sealbox-decrypt(1)",
    ] {
        assert!(text.contains(s), "{s} missing:\n{text}");
    }
    // One page on stdout is the same as the written one.
    let one = ok(run_in(t.path(), &["man", "decrypt"], &[]));
    assert_eq!(one.stdout, fs::read(dir.join("sealbox-decrypt.1")).unwrap());
    let bad = run_in(t.path(), &["man", "decrpyt"], &[]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(stderr(&bad).contains("sealbox-decrypt"), "{}", stderr(&bad));
}

#[test]
fn config_before_a_bare_file_name_still_edits_the_file() {
    let t = tempfile::tempdir().unwrap();
    let editor = recording_editor(t.path());
    let recipient = "age1a8pk4akrdamj7nvqy3zywgtny8dxz7t5xzu7u8v9mhrayp9freqsqatyrs";
    fs::create_dir(t.path().join("cfg")).unwrap();
    fs::write(
        t.path().join("cfg/rules.yaml"),
        format!("creation_rules:\n  - age: {recipient}\n"),
    )
    .unwrap();
    let env = [("EDITOR", editor.to_str().unwrap())];
    // As `sops --config X FILE`: the recipients come from that config.
    ok(run_in(
        t.path(),
        &["--config", "cfg/rules.yaml", "a.yaml"],
        &env,
    ));
    ok(run_in(
        t.path(),
        &["--config=cfg/rules.yaml", "b.yaml"],
        &env,
    ));
    for f in ["a.yaml", "b.yaml"] {
        let text = fs::read_to_string(t.path().join(f)).unwrap();
        assert!(text.contains(recipient), "{f}: {text}");
    }
    let typo = run_in(
        t.path(),
        &["--config", "cfg/rules.yaml", "decrpyt", "a.yaml"],
        &env,
    );
    assert_eq!(typo.status.code(), Some(1));
    assert!(stderr(&typo).contains("did you mean `sealbox decrypt`?"));
}
