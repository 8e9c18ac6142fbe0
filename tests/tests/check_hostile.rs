//! `sealbox check` and `updatekeys -y` against a pull request written by an attacker, who
//! controls every file of the checkout: `.sops.yaml`, symlinks, names, sizes, contents
//! (issue 21). Each test builds its fixture repositories at run time (keys made by
//! `age-keygen`): `work/base/` is the base branch (its `.sops.yaml` holds the trusted
//! rules), `work/pr/` the pull request's checkout, `work/outside/` files of the runner
//! outside the checkout.
//!
//! Nothing outside the checkout may be read or written: a canary file there (and every
//! symlink target) is compared after the runs, content, modification time and access time
//! (set into the past first, so that under `relatime` any read moves it).
//!
//! Every run has a deadline: the code before this suite hung on a FIFO and read
//! `/dev/zero` without end; runs that could eat memory have their data size capped.

use sealbox_tests::json::{self, Value};
use sealbox_tests::{age_keygen, Out, Peers, Sandbox};
use std::fs;
use std::os::unix::fs::{symlink, MetadataExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

/// A file that must stay untouched (content, mtime, atime).
struct Canary {
    path: PathBuf,
    bytes: Vec<u8>,
    mtime: (i64, i64),
    atime: (i64, i64),
}

impl Canary {
    /// Records `path` after setting its access time into the past.
    fn watch(path: &Path) -> Canary {
        let bytes = fs::read(path).unwrap();
        let f = fs::File::options().write(true).open(path).unwrap();
        let past = SystemTime::UNIX_EPOCH + Duration::from_secs(1_577_836_800); // 2020-01-01
        f.set_times(fs::FileTimes::new().set_accessed(past))
            .unwrap();
        let m = fs::metadata(path).unwrap();
        Canary {
            path: path.to_path_buf(),
            bytes,
            mtime: (m.mtime(), m.mtime_nsec()),
            atime: (m.atime(), m.atime_nsec()),
        }
    }

    /// Fails when the file was read, written or replaced since [`Canary::watch`]. (The
    /// content is compared last: reading it moves the access time.)
    fn assert_untouched(&self, what: &str) {
        let m = fs::symlink_metadata(&self.path).unwrap();
        assert!(m.is_file(), "{what}: {} was replaced", self.path.display());
        assert_eq!(
            (m.mtime(), m.mtime_nsec()),
            self.mtime,
            "{what}: {} was written",
            self.path.display()
        );
        if atime_works() {
            assert_eq!(
                (m.atime(), m.atime_nsec()),
                self.atime,
                "{what}: {} was read",
                self.path.display()
            );
        }
        assert_eq!(
            fs::read(&self.path).unwrap(),
            self.bytes,
            "{what}: {} changed",
            self.path.display()
        );
        // Reading it just now moved the access time: record it again.
        let f = fs::File::options().write(true).open(&self.path).unwrap();
        let past = SystemTime::UNIX_EPOCH + Duration::from_secs(1_577_836_800);
        f.set_times(fs::FileTimes::new().set_accessed(past))
            .unwrap();
    }
}

/// Whether reading a file moves its access time here (not on a `noatime` mount): only
/// then do the canaries prove that nothing was read.
fn atime_works() -> bool {
    static WORKS: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *WORKS.get_or_init(|| {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("probe");
        fs::write(&p, "x").unwrap();
        let before = Canary::watch(&p).atime;
        let _ = fs::read(&p).unwrap();
        let after = fs::metadata(&p).unwrap();
        let works = (after.atime(), after.atime_nsec()) != before;
        if !works {
            eprintln!("SKIPPED (access times only): reads do not update atime on this filesystem");
        }
        works
    })
}

struct Fixture {
    sb: Sandbox,
    peers: Peers,
    /// (recipient, key file) of the base branch's recipient.
    admin: (String, PathBuf),
    /// The attacker's key.
    evil: (String, PathBuf),
    canary: Canary,
    _keys: tempfile::TempDir,
}

/// The trusted rules: everything under `secrets/` is encrypted for the admin.
fn base_rules(admin: &str) -> String {
    format!("creation_rules:\n  - path_regex: ^secrets/\n    age: {admin}\n")
}

impl Fixture {
    fn new(peers: &Peers) -> Fixture {
        let keys = tempfile::tempdir().unwrap();
        let admin = age_keygen(peers, keys.path(), "admin");
        let evil = age_keygen(peers, keys.path(), "evil");
        let sb = Sandbox::new();
        sb.write("base/.sops.yaml", base_rules(&admin.0));
        sb.write("pr/.sops.yaml", base_rules(&admin.0));
        sb.write("pr/.git/HEAD", "ref: refs/heads/main\n");
        sb.write("empty.yaml", "");
        sb.write(
            "outside/runner-secret-name.yaml",
            "password: the-runners-own-secret\n",
        );
        let canary =
            Canary::watch(&sb.write("outside/canary.yaml", "canary: must-never-be-read\n"));
        let f = Fixture {
            sb,
            peers: peers.clone(),
            admin,
            evil,
            canary,
            _keys: keys,
        };
        f.encrypt(
            "secrets/app.yaml",
            "db_password: s3cr3t-value\nport: 5432\n",
            &[],
        );
        f
    }

    fn pr(&self, rel: &str) -> PathBuf {
        self.sb.work().join("pr").join(rel)
    }

    fn write(&self, rel: &str, text: impl AsRef<[u8]>) -> PathBuf {
        self.sb.write(&format!("pr/{rel}"), text)
    }

    /// `rel` in the checkout, encrypted by sealbox for the admin (flags `extra`), the way
    /// an attacker who knows only the public key can.
    fn encrypt(&self, rel: &str, plain: &str, extra: &[&str]) -> String {
        self.write(rel, plain);
        let mut args = vec![
            "--config",
            "../empty.yaml",
            "encrypt",
            "--age",
            &self.admin.0,
        ];
        args.extend_from_slice(extra);
        args.extend_from_slice(&["-i", rel]);
        run(&self.peers.sealbox, &self.pr(""), &args, &[], 30).ok(&format!("encrypt {rel}"));
        fs::read_to_string(self.pr(rel)).unwrap()
    }

    /// `sealbox ARGS` in the checkout (`pr/`), with a deadline.
    fn sealbox(&self, args: &[&str], env: &[(&str, &str)]) -> Out {
        run(&self.peers.sealbox, &self.pr(""), args, env, 60)
    }

    /// The gate as CI runs it: the base branch's rules over the checkout, in a format.
    fn gate(&self, format: &str, extra: &[&str]) -> Out {
        let mut args = vec![
            "check",
            "--config",
            "base/.sops.yaml",
            "--root",
            "pr",
            "--format",
            format,
        ];
        args.extend_from_slice(extra);
        run(&self.peers.sealbox, &self.sb.work(), &args, &[], 60)
    }

    fn untouched(&self, what: &str) {
        self.canary.assert_untouched(what);
    }
}

/// Runs `prog` in `dir` with a clean environment plus `env`; killed (by its PID) after
/// `secs` seconds, which is then a failure of the run (exit -9 and a note on stderr).
fn run(prog: &Path, dir: &Path, args: &[&str], env: &[(&str, &str)], secs: u64) -> Out {
    let home = dir.join("../home");
    let mut cmd = Command::new(prog);
    cmd.args(args)
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", &home)
        .env("SOPS_DISABLE_VERSION_CHECK", "1")
        .env("LANG", "C.UTF-8")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", prog.display()));
    // Drain the pipes on threads so a chatty child cannot block on a full pipe.
    let mut so = child.stdout.take().unwrap();
    let mut se = child.stderr.take().unwrap();
    let out_t = std::thread::spawn(move || {
        let mut b = Vec::new();
        let _ = std::io::Read::read_to_end(&mut so, &mut b);
        b
    });
    let err_t = std::thread::spawn(move || {
        let mut b = Vec::new();
        let _ = std::io::Read::read_to_end(&mut se, &mut b);
        b
    });
    let deadline = Instant::now() + Duration::from_secs(secs);
    let code = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st.code().unwrap_or(-1);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break -9;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let stdout = out_t.join().unwrap();
    let mut stderr = String::from_utf8_lossy(&err_t.join().unwrap()).into_owned();
    if code == -9 {
        stderr.push_str(&format!("\n(killed after {secs} s: {args:?} hung)"));
    }
    Out {
        code,
        stdout,
        stderr,
    }
}

/// The findings of a JSON report: (file, kind, message).
fn findings(out: &Out) -> Vec<(String, String, String)> {
    let text = out.stdout_str();
    let Value::Arr(items) =
        json::parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}\n{}", out.stderr))
    else {
        panic!("not an array: {text}")
    };
    items
        .iter()
        .map(|o| {
            let f = |k: &str| o.get(k).and_then(Value::as_str).unwrap().to_string();
            (f("file"), f("kind"), f("message"))
        })
        .collect()
}

/// Asserts that the JSON report has a finding of `kind` for `file`; returns its message.
fn has(list: &[(String, String, String)], file: &str, kind: &str) -> String {
    list.iter()
        .find(|(f, k, _)| f == file && k == kind)
        .map(|(_, _, m)| m.clone())
        .unwrap_or_else(|| panic!("no {kind} finding for {file:?} in {list:#?}"))
}

/// No line of `text` is a workflow command (GitHub's `::cmd` after spaces, or `##[` in a
/// line), except the `::error` annotations of `--format github` itself.
fn no_forged_commands(text: &str, github: bool, what: &str) {
    for l in text.lines() {
        let t = l.trim_start();
        let ours = github && (t.starts_with("::error ") || t.starts_with("::error::"));
        assert!(
            ours || !t.starts_with("::"),
            "{what}: a forged command line: {l:?}\n{text}"
        );
        assert!(
            !l.contains("##["),
            "{what}: a forged ##[ command: {l:?}\n{text}"
        );
        assert!(!l.contains('\u{1b}'), "{what}: a terminal escape: {l:?}");
    }
}

/// The three output formats agree: the findings of `--format json`, the same count of text
/// lines and of `::error` annotations; no secret value anywhere.
fn gate_all_formats(f: &Fixture, extra: &[&str]) -> Vec<(String, String, String)> {
    let j = f.gate("json", extra);
    assert_eq!(
        j.code,
        1,
        "the gate must fail:\n{}\n{}",
        j.stdout_str(),
        j.stderr
    );
    let list = findings(&j);
    for fmt in ["text", "github"] {
        let o = f.gate(fmt, extra);
        assert_eq!(o.code, 1, "{fmt}: {}", o.stderr);
        let text = o.stdout_str();
        assert_eq!(text.lines().count(), list.len(), "{fmt}:\n{text}");
        no_forged_commands(&text, fmt == "github", fmt);
        no_forged_commands(&o.stderr, false, &format!("{fmt} stderr"));
        for secret in [
            "hunter2",
            "s3cr3t-value",
            "must-never-be-read",
            "the-runners-own-secret",
        ] {
            assert!(
                !text.contains(secret) && !o.stderr.contains(secret),
                "{fmt}: {secret}\n{text}"
            );
        }
    }
    list
}

#[test]
fn updatekeys_never_writes_through_a_symlink_nor_applies_a_links_rule_to_its_target() {
    let peers = sealbox_tests::require!(Peers::get());
    let f = Fixture::new(&peers);
    let app = f.pr("secrets/app.yaml");
    let before = fs::read(&app).unwrap();
    // The pull request: a rule for public/ with the attacker's key first, and names there
    // that lead to the secrets file, out of the checkout, and through a directory link.
    f.write(
        ".sops.yaml",
        format!(
            "creation_rules:\n  - path_regex: ^public/\n    age: {},{}\n  - path_regex: ^secrets/\n    age: {}\n",
            f.evil.0, f.admin.0, f.admin.0
        ),
    );
    fs::create_dir_all(f.pr("public")).unwrap();
    symlink("../secrets/app.yaml", f.pr("public/readme.yaml")).unwrap();
    symlink("../../outside/canary.yaml", f.pr("public/out.yaml")).unwrap();
    symlink("../secrets", f.pr("public/dir")).unwrap();
    fs::hard_link(&app, f.pr("public/hard.yaml")).unwrap();
    let key = f.admin.1.display().to_string();
    let env = [("SOPS_AGE_KEY_FILE", key.as_str())];
    for target in [
        "public/readme.yaml",
        "public/out.yaml",
        "public/dir/app.yaml",
        "public/hard.yaml",
    ] {
        let o = f.sealbox(&["updatekeys", "-y", target], &env);
        assert_ne!(
            o.code,
            0,
            "{target}: updatekeys wrote:\n{}{}",
            o.stdout_str(),
            o.stderr
        );
        assert!(o.stderr.contains("refused"), "{target}: {}", o.stderr);
        assert!(!o.stderr.contains("updated"), "{target}: {}", o.stderr);
        assert!(
            !o.stdout_str().contains(&f.evil.0),
            "{target}: offered the key: {}",
            o.stdout_str()
        );
        assert_eq!(
            fs::read(&app).unwrap(),
            before,
            "{target}: secrets/app.yaml was rewritten"
        );
        f.untouched(target);
    }
    for l in ["public/readme.yaml", "public/out.yaml", "public/dir"] {
        assert!(
            fs::symlink_metadata(f.pr(l))
                .unwrap()
                .file_type()
                .is_symlink(),
            "{l}"
        );
    }
    // The real file, named as itself, gets its own rule's recipients (nothing to add).
    fs::remove_file(f.pr("public/hard.yaml")).unwrap();
    let o = f.sealbox(&["updatekeys", "-y", "secrets/app.yaml"], &env);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(o.stderr.contains("already up to date"), "{}", o.stderr);
    assert_eq!(fs::read(&app).unwrap(), before);
}

#[test]
fn updatekeys_shows_every_recipient_it_adds_and_what_the_rule_reaches_beyond_the_files_named() {
    let peers = sealbox_tests::require!(Peers::get());
    let f = Fixture::new(&peers);
    f.encrypt("secrets/other.yaml", "token: hunter2\n", &[]);
    f.encrypt("secrets/third.yaml", "token: hunter2\n", &[]);
    // The pull request adds the attacker to the secrets rule and names one file.
    f.write(
        ".sops.yaml",
        format!(
            "creation_rules:\n  - path_regex: ^secrets/\n    age: {},{}\n",
            f.evil.0, f.admin.0
        ),
    );
    let key = f.admin.1.display().to_string();
    let o = f.sealbox(
        &["updatekeys", "-y", "secrets/app.yaml"],
        &[("SOPS_AGE_KEY_FILE", key.as_str())],
    );
    assert_eq!(o.code, 0, "{}", o.stderr);
    let log = o.stdout_str();
    assert!(
        log.contains("secrets/app.yaml: the following changes") && log.contains("creation rule 1"),
        "{log}"
    );
    assert!(log.contains(&format!("+++ {}", f.evil.0)), "{log}");
    // The files not named, which the same rule would give the attacker's key, are listed.
    for other in ["secrets/other.yaml", "secrets/third.yaml"] {
        let line = log
            .lines()
            .find(|l| l.starts_with(&format!("{other}: ")))
            .unwrap_or_else(|| panic!("{other} is not in the log:\n{log}"));
        assert!(line.contains(&format!("+++ {}", f.evil.0)), "{line}");
    }
    assert!(log.contains("Not written"), "{log}");
    assert!(!fs::read_to_string(f.pr("secrets/other.yaml"))
        .unwrap()
        .contains(&f.evil.0));
    f.untouched("updatekeys");
}

#[test]
fn plaintext_in_a_file_the_rule_encrypts_never_passes_the_gate() {
    let peers = sealbox_tests::require!(Peers::get());
    let f = Fixture::new(&peers);
    // A plaintext value added to an encrypted file.
    let text = f.encrypt("secrets/added.yaml", "a: s3cr3t-value\n", &[]);
    f.write("secrets/added.yaml", format!("added: hunter2\n{text}"));
    // Plaintext (not even YAML) around a sops block copied from another file.
    let app = fs::read_to_string(f.pr("secrets/app.yaml")).unwrap();
    let block = &app[app.find("\nsops:").unwrap() + 1..];
    f.write(
        "secrets/copied.yaml",
        format!("password = hunter2 [[ not yaml\n{block}"),
    );
    // Written with only the public key, encrypting nothing.
    f.encrypt(
        "secrets/regex.yaml",
        "password: hunter2\n",
        &["--unencrypted-regex", ".*"],
    );
    // Plaintext after a ciphertext (the reader ignores it; so does the MAC).
    let text = f.encrypt("secrets/tail.yaml", "password: s3cr3t-value\n", &[]);
    let line = text.lines().find(|l| l.starts_with("password: ")).unwrap();
    f.write(
        "secrets/tail.yaml",
        text.replace(line, &format!("{line} hunter2")),
    );
    // Plaintext values kept out of the MAC.
    f.encrypt(
        "secrets/maconly.yaml",
        "a: s3cr3t-value\n",
        &["--mac-only-encrypted"],
    );
    // A plaintext comment in an encrypted file.
    let text = f.encrypt("secrets/comment.yaml", "a: s3cr3t-value\n", &[]);
    f.write(
        "secrets/comment.yaml",
        format!("# password: hunter2\n{text}"),
    );

    // The form of the code before this suite (the checkout's own config, found upward).
    let legacy = f.sealbox(&["check", "--format", "json"], &[]);
    assert_eq!(legacy.code, 1, "{}", legacy.stdout_str());
    let list = gate_all_formats(&f, &[]);
    assert_eq!(
        findings(&legacy),
        list,
        "both forms see the same (the configs are equal)"
    );
    let m = has(&list, "secrets/added.yaml", "plaintext-value");
    assert!(m.contains("[\"added\"]"), "{m}");
    has(&list, "secrets/copied.yaml", "bad-metadata");
    has(&list, "secrets/regex.yaml", "selector");
    has(&list, "secrets/regex.yaml", "plaintext-value");
    let m = has(&list, "secrets/tail.yaml", "plaintext-value");
    assert!(m.contains("exactly one"), "{m}");
    has(&list, "secrets/maconly.yaml", "selector");
    has(&list, "secrets/comment.yaml", "plaintext-comment");
    assert!(
        list.iter().all(|(file, _, _)| file != "secrets/app.yaml"),
        "{list:#?}"
    );
    // With --decrypt too: the file written with the public key decrypts and verifies,
    // and is still found.
    let key = f.admin.1.display().to_string();
    let o = run(
        &f.peers.sealbox,
        &f.sb.work(),
        &[
            "check",
            "--config",
            "base/.sops.yaml",
            "--root",
            "pr",
            "--decrypt",
            "--format",
            "json",
            "pr/secrets/regex.yaml",
        ],
        &[("SOPS_AGE_KEY_FILE", key.as_str())],
        60,
    );
    assert_eq!(o.code, 1, "{}", o.stderr);
    let l = findings(&o);
    has(&l, "secrets/regex.yaml", "plaintext-value");
    assert!(
        l.iter().all(|(_, k, _)| k != "mac" && k != "no-key"),
        "{l:#?}"
    );
    f.untouched("plaintext");
}

#[test]
fn nothing_is_skipped_silently() {
    let peers = sealbox_tests::require!(Peers::get());
    let f = Fixture::new(&peers);
    fs::write(
        f.sb.work().join("base/.sops.yaml"),
        format!(
            "creation_rules:\n  - path_regex: ^secrets/.*\\.yaml$\n    age: {}\n",
            f.admin.0
        ),
    )
    .unwrap();
    f.write(
        ".sops.yaml",
        fs::read(f.sb.work().join("base/.sops.yaml")).unwrap(),
    );
    // Hidden and `target` directories are walked.
    f.write("secrets/.staging/prod.yaml", "password: hunter2\n");
    f.write("secrets/target/prod.yaml", "password: hunter2\n");
    // In a rule's directory, but no rule matches: a secret the rules forgot.
    f.write("secrets/new.json", "{\"password\": \"hunter2\"}\n");
    // Anywhere, sops data no rule covers.
    fs::create_dir_all(f.pr("config")).unwrap();
    let block = fs::read_to_string(f.pr("secrets/app.yaml")).unwrap();
    f.write("config/leak.yaml", block);
    // Outside every rule and holding no sops data: not a finding.
    f.write("README.md", "# docs\n");

    // The form the code before this suite knows (the checkout's own, equal, config).
    let legacy = f.sealbox(&["check", "--format", "json"], &[]);
    assert_eq!(legacy.code, 1, "{}{}", legacy.stdout_str(), legacy.stderr);
    let list = gate_all_formats(&f, &[]);
    assert_eq!(findings(&legacy), list);
    has(&list, "secrets/.staging/prod.yaml", "unencrypted");
    has(&list, "secrets/target/prod.yaml", "unencrypted");
    has(&list, "secrets/new.json", "no-rule");
    has(&list, "config/leak.yaml", "no-rule");
    assert_eq!(list.len(), 4, "{list:#?}");
    let o = f.gate("text", &[]);
    assert!(o.stderr.contains("skipped .git/"), "{}", o.stderr);
    assert!(o.stderr.contains("3 files checked"), "{}", o.stderr);
    // Leaving a directory out is the caller's choice, and said.
    let o = f.gate("text", &["--skip-dir", "secrets/target"]);
    assert!(
        o.stderr.contains("skipped secrets/target/: --skip-dir"),
        "{}",
        o.stderr
    );
    assert!(
        !o.stdout_str().contains("secrets/target/"),
        "{}",
        o.stdout_str()
    );
    f.untouched("skips");
}

#[test]
fn a_rule_without_keys_or_a_bad_regex_fails_the_gate() {
    let peers = sealbox_tests::require!(Peers::get());
    let f = Fixture::new(&peers);
    // A rule without keys before the real one: sops refuses it; it must not exempt files.
    f.write(
        ".sops.yaml",
        format!(
            "creation_rules:\n  - path_regex: ^secrets/exempt/\n  - path_regex: ^secrets/\n    age: {}\n",
            f.admin.0
        ),
    );
    f.write("secrets/exempt/prod.yaml", "password: hunter2\n");
    let o = f.sealbox(&["check", "--format", "json"], &[]);
    assert_eq!(o.code, 1, "{}{}", o.stdout_str(), o.stderr);
    let m = has(&findings(&o), "secrets/exempt/prod.yaml", "bad-rule");
    assert!(m.contains("no keys"), "{m}");
    // The same rule in the trusted config.
    fs::write(
        f.sb.work().join("base/.sops.yaml"),
        fs::read(f.pr(".sops.yaml")).unwrap(),
    )
    .unwrap();
    has(
        &gate_all_formats(&f, &[]),
        "secrets/exempt/prod.yaml",
        "bad-rule",
    );
    // An invalid path_regex whose text is the no-match message: an error, by its kind.
    f.write(
        ".sops.yaml",
        format!(
            "creation_rules:\n  - path_regex: '(no matching creation rules found'\n    age: {}\n  - age: {}\n",
            f.admin.0, f.admin.0
        ),
    );
    let o = f.sealbox(&["check"], &[]);
    assert_eq!(o.code, 1, "{}{}", o.stdout_str(), o.stderr);
    assert!(
        o.stderr.contains("invalid path_regex in creation rule 1"),
        "{}",
        o.stderr
    );
    assert_eq!(o.stdout_str(), "");
    f.untouched("rules");
}

#[test]
fn the_base_branchs_config_checks_the_checkout_and_an_empty_check_fails() {
    let peers = sealbox_tests::require!(Peers::get());
    let f = Fixture::new(&peers);
    f.write("secrets/plain.yaml", "password: hunter2\n");
    // The pull request's own config exempts everything; the base branch's rules apply.
    f.write(".sops.yaml", "creation_rules:\n  - path_regex: ^nothing$\n    age: age1qfxn8ltsunju9p829z05ehj6mwq9l5x2v3jck8z3vdvywezcxdnqdnzhld\n");
    // Before: `--config BASE check CHECKOUT` matched nothing (paths outside the config's
    // directory) and passed with 0 files. Now that is an error, and --root is the way.
    let o = run(
        &f.peers.sealbox,
        &f.sb.work(),
        &["--config", "base/.sops.yaml", "check", "pr"],
        &[],
        60,
    );
    assert_ne!(o.code, 0, "{}{}", o.stdout_str(), o.stderr);
    assert!(o.stderr.contains("--root"), "{}", o.stderr);
    let list = gate_all_formats(&f, &[]);
    has(&list, "secrets/plain.yaml", "unencrypted");
    let o = f.gate("text", &[]);
    assert!(o.stderr.contains("its rules were not used"), "{}", o.stderr);
    // A checkout with nothing a rule matches: the gate checked nothing, which fails.
    fs::remove_dir_all(f.pr("secrets")).unwrap();
    let o = f.gate("json", &[]);
    assert_eq!(o.code, 1, "{}", o.stderr);
    has(&findings(&o), ".", "nothing-checked");
    let o = f.gate("github", &[]);
    assert!(
        o.stdout_str().starts_with("::error::nothing-checked: "),
        "{}",
        o.stdout_str()
    );
    assert_eq!(f.gate("text", &["--allow-empty"]).code, 0);
    // --root without --config would be the checkout's own rules: refused.
    let o = run(
        &f.peers.sealbox,
        &f.sb.work(),
        &["check", "--root", "pr"],
        &[],
        60,
    );
    assert_ne!(o.code, 0);
    assert!(o.stderr.contains("needs --config"), "{}", o.stderr);
    f.untouched("base config");
}

#[test]
fn every_key_source_is_compared() {
    let peers = sealbox_tests::require!(Peers::get());
    let f = Fixture::new(&peers);
    const FP: &str = "FBC7B9E2A4F9289AC0C1D4843D16CEE4A27381B4";
    const ARN: &str = "arn:aws:kms:eu-west-1:123456789012:key/00000000-0000-0000-0000-000000000000";
    fs::write(
        f.sb.work().join("base/.sops.yaml"),
        format!(
            "creation_rules:\n  - path_regex: ^secrets/\n    age: {}\n    pgp: {FP}\n    hc_vault_transit_uri: https://vault.example:8200/v1/transit/keys/app\n",
            f.admin.0
        ),
    )
    .unwrap();
    // The file has the age key only, plus a KMS key the rule does not name.
    let text = fs::read_to_string(f.pr("secrets/app.yaml")).unwrap();
    let kms = format!(
        "sops:\n    kms:\n        - arn: {ARN}\n          created_at: \"2024-01-01T00:00:00Z\"\n          enc: AQICAHg=\n          aws_profile: \"\"\n"
    );
    f.write("secrets/app.yaml", text.replacen("sops:\n", &kms, 1));
    // The form the code before this suite knows (the same rules in the checkout).
    f.write(
        ".sops.yaml",
        fs::read(f.sb.work().join("base/.sops.yaml")).unwrap(),
    );
    let legacy = f.sealbox(&["check", "--format", "json"], &[]);
    assert_eq!(legacy.code, 1, "{}{}", legacy.stdout_str(), legacy.stderr);
    let list = gate_all_formats(&f, &[]);
    assert_eq!(findings(&legacy), list);
    let missing: Vec<&str> = list
        .iter()
        .filter(|(_, k, _)| k == "missing-recipient")
        .map(|(_, _, m)| m.as_str())
        .collect();
    assert!(
        missing.iter().any(|m| m.contains(&format!("{FP} (pgp)"))),
        "{missing:?}"
    );
    assert!(
        missing
            .iter()
            .any(|m| m.contains("https://vault.example:8200/v1/transit/keys/app (hc_vault)")),
        "{missing:?}"
    );
    let extra = has(&list, "secrets/app.yaml", "extra-recipient");
    assert!(extra.contains(&format!("{ARN} (kms)")), "{extra}");
    assert_eq!(list.len(), 3, "{list:#?}");
    f.untouched("key sources");
}

#[test]
fn names_and_recipients_cannot_forge_ci_log_lines() {
    let peers = sealbox_tests::require!(Peers::get());
    let f = Fixture::new(&peers);
    // File names carrying commands, and a recipient with one in the metadata.
    f.write(
        "secrets/x\n::error file=README.md::forged\n::add-mask::s3cr3t.yaml",
        "password: hunter2\n",
    );
    f.write(
        "secrets/y ##[add-mask]z\u{1b}[2J.yaml",
        "password: hunter2\n",
    );
    let text = fs::read_to_string(f.pr("secrets/app.yaml")).unwrap();
    let forged = text.replacen(
        &format!("recipient: {}", f.admin.0),
        &format!(
            "recipient: \"{}\\n::stop-commands::tok\\n##[error]x\"",
            f.admin.0
        ),
        1,
    );
    assert_ne!(forged, text);
    f.write("secrets/app.yaml", forged);
    // The form the code before this suite knows.
    let legacy = f.sealbox(&["check"], &[]);
    assert_eq!(legacy.code, 1, "{}", legacy.stderr);
    no_forged_commands(&legacy.stdout_str(), false, "legacy stdout");
    let list = gate_all_formats(&f, &[]);
    assert_eq!(
        list.iter().filter(|(_, k, _)| k == "unencrypted").count(),
        2,
        "{list:#?}"
    );
    // JSON keeps the exact name.
    has(
        &list,
        "secrets/x\n::error file=README.md::forged\n::add-mask::s3cr3t.yaml",
        "unencrypted",
    );
    // An error message quoting the pull request's .sops.yaml.
    f.write(
        ".sops.yaml",
        "creation_rules:\n  - path_regex: \"(\\n::add-mask::s3cr3t\\n##[group]x\"\n",
    );
    let o = f.sealbox(&["check"], &[]);
    assert_eq!(o.code, 1);
    assert!(o.stderr.contains("invalid path_regex"), "{}", o.stderr);
    no_forged_commands(&o.stderr, false, "error message");
    let o = f.sealbox(&["updatekeys", "-y", "secrets/app.yaml"], &[]);
    no_forged_commands(&o.stderr, false, "updatekeys stderr");
    f.untouched("log lines");
}

#[test]
fn links_fifos_devices_and_huge_files_are_never_followed_opened_or_read_whole() {
    let peers = sealbox_tests::require!(Peers::get());
    let prlimit = sealbox_tests::require!(sealbox_testkit::tool("prlimit", "util-linux"));
    let f = Fixture::new(&peers);
    // A catch-all rule in the checkout's own config (the legacy form reads it).
    f.write(
        ".sops.yaml",
        format!("creation_rules:\n  - age: {}\n", f.admin.0),
    );
    fs::write(
        f.sb.work().join("base/.sops.yaml"),
        format!("creation_rules:\n  - age: {}\n", f.admin.0),
    )
    .unwrap();
    symlink("/proc/self/pagemap", f.pr("secrets/pagemap.yaml")).unwrap();
    symlink("../../outside/canary.yaml", f.pr("secrets/canary.yaml")).unwrap();
    symlink("../outside", f.pr("runner")).unwrap();
    nix::unistd::mkfifo(
        &f.pr("secrets/fifo.yaml"),
        nix::sys::stat::Mode::from_bits_truncate(0o600),
    )
    .unwrap();
    let big = fs::File::create(f.pr("secrets/big.yaml")).unwrap();
    big.set_len(2 << 30).unwrap(); // 2 GiB, sparse
    drop(big);
    // Data size capped: a run that reads the 2 GiB file (or /dev/zero) whole fails
    // instead of taking the machine's memory.
    let capped = |dir: &Path, args: &[&str]| {
        let mut a = vec!["--data=1500000000", "--", f.peers.sealbox.to_str().unwrap()];
        a.extend_from_slice(args);
        run(&prlimit, dir, &a, &[], 30)
    };
    // The form the code before this suite knows: the checkout's own (catch-all) rules.
    let o = capped(&f.pr(""), &["check", "--format", "json"]);
    assert_eq!(o.code, 1, "{}{}", o.stdout_str(), o.stderr);
    let legacy = findings(&o);
    has(&legacy, "secrets/pagemap.yaml", "symlink");
    has(&legacy, "secrets/fifo.yaml", "not-a-regular-file");
    has(&legacy, "secrets/big.yaml", "too-large");
    let o = capped(
        &f.sb.work(),
        &[
            "check",
            "--config",
            "base/.sops.yaml",
            "--root",
            "pr",
            "--format",
            "json",
        ],
    );
    assert_eq!(o.code, 1, "{}{}", o.stdout_str(), o.stderr);
    let list = findings(&o);
    has(&list, "secrets/pagemap.yaml", "symlink");
    let m = has(&list, "secrets/canary.yaml", "symlink");
    assert!(m.contains("../../outside/canary.yaml"), "{m}");
    has(&list, "secrets/fifo.yaml", "not-a-regular-file");
    has(&list, "secrets/big.yaml", "too-large");
    has(&list, "runner", "symlink");
    assert_eq!(legacy, list);
    let all = format!("{}{}", o.stdout_str(), o.stderr);
    assert!(
        !all.contains("runner-secret-name"),
        "a name outside the checkout was printed:\n{all}"
    );
    // Named as arguments: the same, never followed or opened.
    let o = capped(
        &f.pr(""),
        &["check", "secrets/fifo.yaml", "runner", "secrets/big.yaml"],
    );
    assert_eq!(o.code, 1, "{}", o.stderr);
    let out = format!("{}{}", o.stdout_str(), o.stderr);
    assert!(!out.contains("runner-secret-name"), "{out}");
    assert!(
        out.contains("secrets/fifo.yaml: not-a-regular-file"),
        "{out}"
    );
    // A FIFO or /dev/zero as the .sops.yaml: an error, at once.
    fs::remove_file(f.pr(".sops.yaml")).unwrap();
    nix::unistd::mkfifo(
        &f.pr(".sops.yaml"),
        nix::sys::stat::Mode::from_bits_truncate(0o644),
    )
    .unwrap();
    let o = capped(&f.pr(""), &["check"]);
    assert_eq!(o.code, 1, "{}", o.stderr);
    assert!(o.stderr.contains("not a regular file"), "{}", o.stderr);
    let o = capped(&f.pr(""), &["--config", "/dev/zero", "check"]);
    assert_eq!(o.code, 1, "{}", o.stderr);
    assert!(o.stderr.contains("character device"), "{}", o.stderr);
    fs::remove_file(f.pr(".sops.yaml")).unwrap();
    symlink("/dev/zero", f.pr(".sops.yaml")).unwrap();
    let o = capped(
        &f.sb.work(),
        &["--config", "pr/.sops.yaml", "check", "--root", "pr"],
    );
    assert_eq!(o.code, 1, "{}", o.stderr);
    f.untouched("special files");
}

#[test]
fn a_future_lastmodified_is_a_finding_under_max_age() {
    let peers = sealbox_tests::require!(Peers::get());
    let f = Fixture::new(&peers);
    let text = fs::read_to_string(f.pr("secrets/app.yaml")).unwrap();
    let start = text.find("lastmodified: \"").unwrap() + "lastmodified: \"".len();
    let end = start + text[start..].find('"').unwrap();
    f.write(
        "secrets/app.yaml",
        format!("{}2999-01-01T00:00:00Z{}", &text[..start], &text[end..]),
    );
    let legacy = f.sealbox(&["check", "--max-age", "30", "--format", "json"], &[]);
    assert_eq!(legacy.code, 1, "{}{}", legacy.stdout_str(), legacy.stderr);
    let list = gate_all_formats(&f, &["--max-age", "30"]);
    assert_eq!(findings(&legacy), list);
    has(&list, "secrets/app.yaml", "future-lastmodified");
    assert_eq!(
        f.gate("text", &[]).code,
        0,
        "without --max-age the date is not checked"
    );
    f.untouched("future");
}

/// The README's GitHub Actions example, run as written: two checkouts side by side, the
/// gate over the pull request with the base branch's rules.
#[test]
fn the_readmes_github_actions_example_checks_with_the_base_branchs_rules() {
    let peers = sealbox_tests::require!(Peers::get());
    let readme = fs::read_to_string(sealbox_tests::workspace_root().join("README.md")).unwrap();
    let at = readme
        .find("\n## `sealbox check` in CI")
        .expect("the README's CI section");
    let section = &readme[at..];
    let section = &section[..section[1..].find("\n## ").map_or(section.len(), |i| i + 1)];
    let yaml = &section[section.find("```yaml\n").expect("a workflow") + 8..];
    let yaml = &yaml[..yaml.find("```").unwrap()];
    assert!(yaml.contains("pull_request_target"), "{yaml}");
    assert!(
        yaml.contains("github.event.pull_request.base.sha"),
        "{yaml}"
    );
    let line = yaml
        .lines()
        .map(str::trim)
        .find_map(|l| l.strip_prefix("run: sealbox check "))
        .expect("a `run: sealbox check` step");
    let args: Vec<&str> = std::iter::once("check")
        .chain(line.split_whitespace())
        .collect();
    assert!(
        line.contains("--config base/.sops.yaml") && line.contains("--root pr"),
        "{line}"
    );
    let f = Fixture::new(&peers);
    f.write("secrets/plain.yaml", "password: hunter2\n");
    f.write(".sops.yaml", "");
    let o = run(&f.peers.sealbox, &f.sb.work(), &args, &[], 60);
    assert_eq!(o.code, 1, "{}{}", o.stdout_str(), o.stderr);
    assert!(
        o.stdout_str()
            .contains("file=secrets/plain.yaml::unencrypted"),
        "{}",
        o.stdout_str()
    );
    fs::remove_file(f.pr("secrets/plain.yaml")).unwrap();
    let o = run(&f.peers.sealbox, &f.sb.work(), &args, &[], 60);
    assert_eq!(o.code, 0, "{}{}", o.stdout_str(), o.stderr);
    f.untouched("readme");
}
