//! The editing workflow: `edit`, `set`, `unset`, with scripted editors.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

struct Env {
    dir: tempfile::TempDir,
    tmp: PathBuf,
    key_file: PathBuf,
    recipient: String,
}

fn setup() -> Env {
    let dir = tempfile::tempdir().unwrap();
    let tmp = dir.path().join("tmp");
    fs::create_dir(&tmp).unwrap();
    let key_file = dir.path().join("key.txt");
    let out = Command::new(env!("CARGO_BIN_EXE_sealbox"))
        .args(["keygen", "-o"])
        .arg(&key_file)
        .output()
        .unwrap();
    let recipient = String::from_utf8(out.stderr)
        .unwrap()
        .trim()
        .trim_start_matches("Public key: ")
        .to_string();
    Env {
        dir,
        tmp,
        key_file,
        recipient,
    }
}

fn cmd(env: &Env, args: &[&str], editor: Option<&Path>) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_sealbox"));
    c.args(args)
        .current_dir(env.dir.path())
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", env.dir.path())
        .env("TMPDIR", &env.tmp)
        .env("SOPS_AGE_KEY_FILE", &env.key_file)
        .stdin(Stdio::null());
    if let Some(e) = editor {
        c.env("EDITOR", e);
    }
    c
}

fn run(env: &Env, args: &[&str], editor: Option<&Path>) -> Output {
    cmd(env, args, editor).output().unwrap()
}

fn script(env: &Env, name: &str, body: &str) -> PathBuf {
    let p = env.dir.path().join(name);
    fs::write(&p, format!("#!/bin/sh\n{body}\n")).unwrap();
    fs::set_permissions(&p, fs::Permissions::from_mode(0o755)).unwrap();
    p
}

fn encrypted_json(env: &Env) -> PathBuf {
    let p = env.dir.path().join("s.json");
    fs::write(&p, r#"{"a": "one", "b": "two", "c": {"d": "three"}}"#).unwrap();
    let o = run(
        env,
        &["encrypt", "-i", "--age", &env.recipient, "s.json"],
        None,
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    p
}

fn enc_lines(text: &str) -> Vec<&str> {
    text.lines()
        .filter(|l| l.contains("ENC[") && !l.contains("\"mac\""))
        .collect()
}

fn tmp_is_empty(env: &Env) -> bool {
    fs::read_dir(&env.tmp).unwrap().next().is_none()
}

fn decrypt(env: &Env, file: &str) -> String {
    let o = run(env, &["decrypt", file], None);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout).unwrap()
}

#[test]
fn edit_changes_exactly_one_value() {
    let env = setup();
    let p = encrypted_json(&env);
    let before = fs::read_to_string(&p).unwrap();
    let ed = script(&env, "ed.sh", r#"sed -i 's/"two"/"TWO"/' "$1""#);
    let o = run(&env, &["edit", "s.json"], Some(&ed));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let after = fs::read_to_string(&p).unwrap();
    let (b, a) = (enc_lines(&before), enc_lines(&after));
    assert_eq!(b.len(), a.len());
    let differing: Vec<_> = b.iter().zip(&a).filter(|(x, y)| x != y).collect();
    assert_eq!(differing.len(), 1, "{differing:?}");
    assert!(differing[0].0.contains("\"b\""));
    assert!(decrypt(&env, "s.json").contains("\"TWO\""));
    assert!(tmp_is_empty(&env));
}

#[test]
fn bare_form_and_unchanged_file() {
    let env = setup();
    let p = encrypted_json(&env);
    let before = fs::read(&p).unwrap();
    let ed = script(&env, "noop.sh", "true");
    let o = run(&env, &["s.json"], Some(&ed));
    assert_eq!(o.status.code(), Some(200), "unchanged: sops exits 200");
    assert_eq!(fs::read(&p).unwrap(), before);
    assert!(tmp_is_empty(&env));
}

#[test]
fn invalid_edit_keeps_the_original_and_leaves_nothing() {
    let env = setup();
    let p = encrypted_json(&env);
    let before = fs::read(&p).unwrap();
    let ed = script(&env, "bad.sh", r#"echo '{"a": ' > "$1""#);
    let o = run(&env, &["edit", "s.json"], Some(&ed));
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("does not parse"), "{err}");
    assert_eq!(fs::read(&p).unwrap(), before);
    assert!(tmp_is_empty(&env));
}

#[test]
fn invalid_edit_is_offered_again() {
    let env = setup();
    let p = encrypted_json(&env);
    // First run writes broken JSON, the second fixes it; stdin answers the prompt.
    let ed = script(
        &env,
        "twice.sh",
        r#"if [ -e "$0.ran" ]; then cp "$1" "$0.kept"; sed 's/"one"/"ONE"/' "$0.orig" > "$1"; else cp "$1" "$0.orig"; printf '{"a": "one", ' > "$1"; touch "$0.ran"; fi"#,
    );
    let mut c = cmd(&env, &["edit", "s.json"], Some(&ed));
    c.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(b"\n").unwrap();
    let o = child.wait_with_output().unwrap();
    // The second editor run sees the user's broken text, not a fresh copy.
    let kept = fs::read_to_string(env.dir.path().join("twice.sh.kept")).unwrap();
    assert_eq!(
        kept, "{\"a\": \"one\", ",
        "the user's broken text is offered again"
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stderr).contains("does not parse"));
    assert!(decrypt(&env, "s.json").contains("\"ONE\""));
    assert!(p.exists());
    assert!(tmp_is_empty(&env));
}

#[test]
fn editor_killed_by_sigkill_leaves_no_plaintext() {
    let env = setup();
    let p = encrypted_json(&env);
    let before = fs::read(&p).unwrap();
    let ed = script(&env, "kill9.sh", r#"kill -9 $$"#);
    let o = run(&env, &["edit", "s.json"], Some(&ed));
    assert_eq!(o.status.code(), Some(201));
    assert_eq!(fs::read(&p).unwrap(), before);
    assert!(tmp_is_empty(&env));
}

#[test]
fn sigint_to_the_process_group_leaves_no_plaintext() {
    let env = setup();
    let p = encrypted_json(&env);
    let before = fs::read(&p).unwrap();
    // Ctrl-C reaches every process of the foreground group: sealbox and the editor.
    let ed = script(&env, "int.sh", "kill -INT 0; sleep 1");
    let mut c = cmd(&env, &["edit", "s.json"], Some(&ed));
    c.process_group(0);
    let o = c.output().unwrap();
    assert_ne!(o.status.code(), Some(0));
    assert!(
        o.status.code().is_some(),
        "sealbox must exit by itself, not die of SIGINT"
    );
    assert_eq!(fs::read(&p).unwrap(), before);
    assert!(tmp_is_empty(&env));
}

#[test]
fn set_and_unset_keep_other_ciphertexts() {
    let env = setup();
    let p = encrypted_json(&env);
    let before = fs::read_to_string(&p).unwrap();
    let o = run(
        &env,
        &["set", "s.json", r#"["c"]["e"]"#, r#"{"x": 1}"#],
        None,
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let after = fs::read_to_string(&p).unwrap();
    for line in enc_lines(&before) {
        assert!(after.contains(line), "unchanged value re-encrypted: {line}");
    }
    let plain = decrypt(&env, "s.json");
    assert!(plain.contains("\"x\": 1"), "{plain}");
    let o = run(&env, &["unset", "s.json", r#"["a"]"#], None);
    assert!(o.status.success());
    assert!(!decrypt(&env, "s.json").contains("\"a\""));
    let o = run(&env, &["unset", "s.json", r#"["a"]"#], None);
    assert_eq!(o.status.code(), Some(1));
    let o = run(&env, &["unset", "--idempotent", "s.json", r#"["a"]"#], None);
    assert!(o.status.success());
    let o = run(&env, &["set", "s.json", r#"["b"]"#, "not json"], None);
    assert_eq!(o.status.code(), Some(7));
}

#[test]
fn new_file_from_example_uses_the_given_recipient() {
    let env = setup();
    let ed = script(&env, "ed.sh", r#"sed -i 's/example_value"/changed"/' "$1""#);
    let o = run(
        &env,
        &["edit", "--age", &env.recipient, "new.json"],
        Some(&ed),
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let plain = decrypt(&env, "new.json");
    assert!(plain.contains("\"example_key\": \"changed\""), "{plain}");
    assert!(tmp_is_empty(&env));
}

#[test]
fn filestatus_and_exec() {
    let env = setup();
    encrypted_json(&env);
    fs::write(env.dir.path().join("plain.json"), "{}").unwrap();
    let o = run(&env, &["filestatus", "s.json"], None);
    assert_eq!(String::from_utf8_lossy(&o.stdout), "{\"encrypted\":true}\n");
    let o = run(&env, &["filestatus", "plain.json"], None);
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "{\"encrypted\":false}\n"
    );
    let o = run(
        &env,
        &["exec-env", "s.json", "test \"$a$b\" = onetwo"],
        None,
    );
    assert_eq!(o.status.code(), Some(1), "c is a map: refused");
    let o = run(
        &env,
        &["exec-file", "s.json", "grep -q three {} && exit 7"],
        None,
    );
    assert_eq!(
        o.status.code(),
        Some(7),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let o = run(
        &env,
        &[
            "exec-file",
            "--no-fifo",
            "s.json",
            "test -f {} && ! grep -q nothing {}",
        ],
        None,
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // The command not reading the FIFO must not hang sealbox, however the writer thread's
    // open() races with the command's exit (it once hung when the writer opened late).
    for _ in 0..30 {
        let o = run(&env, &["exec-file", "s.json", "true"], None);
        assert!(o.status.success());
    }
    assert!(tmp_is_empty(&env));
}
