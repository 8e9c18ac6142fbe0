//! End-to-end tests of the `sealbox` binary on its own (the interop tests against the real
//! sops and age live in the workspace's `tests/` crate).

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

struct Env {
    dir: tempfile::TempDir,
    key_file: PathBuf,
    recipient: String,
}

fn sealbox(env: &Env, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sealbox"))
        .args(args)
        .current_dir(env.dir.path())
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", env.dir.path())
        .env("SOPS_AGE_KEY_FILE", &env.key_file)
        .stdin(Stdio::null())
        .output()
        .expect("run sealbox")
}

fn setup() -> Env {
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("key.txt");
    let out = Command::new(env!("CARGO_BIN_EXE_sealbox"))
        .args(["keygen", "-o"])
        .arg(&key_file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stderr = String::from_utf8(out.stderr).unwrap();
    let recipient = stderr
        .trim()
        .strip_prefix("Public key: ")
        .expect("public key on stderr")
        .to_string();
    Env {
        dir,
        key_file,
        recipient,
    }
}

fn write(env: &Env, name: &str, text: &str) -> PathBuf {
    let p = env.dir.path().join(name);
    fs::write(&p, text).unwrap();
    p
}

fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

fn ok(o: &Output) -> String {
    assert!(
        o.status.success(),
        "exit {}: {}",
        code(o),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout.clone()).unwrap()
}

const PLAIN: &str = "# top\ndb:\n    password: hunter2\n    port: 5432\nlist:\n    - a\n    - 1.5\nflag: true\npublic_unencrypted: visible\n";

#[test]
fn keygen_writes_a_0600_file_and_never_overwrites() {
    let env = setup();
    let mode = fs::metadata(&env.key_file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let text = fs::read_to_string(&env.key_file).unwrap();
    assert!(text.contains("AGE-SECRET-KEY-1"));
    assert!(text.contains(&format!("# public key: {}", env.recipient)));
    let again = sealbox(&env, &["keygen", "-o", env.key_file.to_str().unwrap()]);
    assert_eq!(code(&again), 3);
    assert_eq!(fs::read_to_string(&env.key_file).unwrap(), text);
}

#[test]
fn encrypt_decrypt_round_trip_yaml() {
    let env = setup();
    write(&env, "s.yaml", PLAIN);
    let enc = ok(&sealbox(
        &env,
        &["encrypt", "--age", &env.recipient, "s.yaml"],
    ));
    assert!(!enc.contains("hunter2"));
    assert!(enc.contains("public_unencrypted: visible"));
    assert!(enc.contains("#ENC[AES256_GCM,"));
    assert!(enc.contains(&format!("recipient: {}", env.recipient)));
    write(&env, "s.enc.yaml", &enc);
    let dec = ok(&sealbox(&env, &["decrypt", "s.enc.yaml"]));
    assert_eq!(dec, PLAIN);
    let one = sealbox(
        &env,
        &[
            "decrypt",
            "--extract",
            r#"["db"]["password"]"#,
            "s.enc.yaml",
        ],
    );
    assert_eq!(ok(&one), "hunter2");
    let port = sealbox(
        &env,
        &["decrypt", "--extract", r#"["db"]["port"]"#, "s.enc.yaml"],
    );
    assert_eq!(ok(&port), "5432\n");
}

#[test]
fn in_place_keeps_the_mode() {
    let env = setup();
    let p = write(&env, "s.json", r#"{"a": "b", "n": 1}"#);
    fs::set_permissions(&p, fs::Permissions::from_mode(0o640)).unwrap();
    ok(&sealbox(
        &env,
        &["encrypt", "-i", "--age", &env.recipient, "s.json"],
    ));
    assert_eq!(
        fs::metadata(&p).unwrap().permissions().mode() & 0o777,
        0o640
    );
    let text = fs::read_to_string(&p).unwrap();
    assert!(text.contains("\"sops\"") && !text.contains("\"b\""));
    let again = sealbox(&env, &["encrypt", "--age", &env.recipient, "s.json"]);
    assert_eq!(code(&again), 203, "already encrypted");
    ok(&sealbox(&env, &["decrypt", "-i", "s.json"]));
    assert_eq!(
        fs::read_to_string(&p).unwrap(),
        "{\n\t\"a\": \"b\",\n\t\"n\": 1\n}\n"
    );
}

#[test]
fn exit_codes_match_sops() {
    let env = setup();
    write(&env, "empty.yaml", "");
    let o = sealbox(&env, &["encrypt", "--age", &env.recipient, "empty.yaml"]);
    assert_eq!(code(&o), 92);
    let o = sealbox(&env, &["decrypt", "missing.yaml"]);
    assert_eq!(code(&o), 100);
    write(&env, "bad.yaml", "a: [\n");
    let o = sealbox(&env, &["encrypt", "--age", &env.recipient, "bad.yaml"]);
    assert_eq!(code(&o), 2);
    let o = sealbox(&env, &["encrypt", "s.yaml"]);
    assert_ne!(code(&o), 0);
    write(&env, "s.yaml", PLAIN);
    let o = sealbox(&env, &["encrypt", "s.yaml"]);
    assert_eq!(code(&o), 1, "no recipients");
    let o = sealbox(&env, &["decrypt", "--extract", "[]", "s.yaml"]);
    assert_eq!(code(&o), 91);
    let o = sealbox(&env, &["encrypt", "--nonsense", "s.yaml"]);
    assert_eq!(code(&o), 1);
    let o = sealbox(
        &env,
        &[
            "encrypt",
            "--age",
            &env.recipient,
            "--encrypted-regex",
            "a",
            "--unencrypted-suffix",
            "b",
            "s.yaml",
        ],
    );
    assert_eq!(code(&o), 8);
}

#[test]
fn wrong_key_is_128_and_tampering_is_caught() {
    let env = setup();
    write(&env, "s.yaml", PLAIN);
    let enc = ok(&sealbox(
        &env,
        &["encrypt", "--age", &env.recipient, "s.yaml"],
    ));
    write(&env, "e.yaml", &enc);
    // Another key cannot decrypt.
    let other = setup();
    let o = Command::new(env!("CARGO_BIN_EXE_sealbox"))
        .args(["decrypt", "e.yaml"])
        .current_dir(env.dir.path())
        .env_clear()
        .env("HOME", env.dir.path())
        .env("SOPS_AGE_KEY_FILE", &other.key_file)
        .output()
        .unwrap();
    assert_eq!(code(&o), 128, "{}", String::from_utf8_lossy(&o.stderr));
    // An altered unencrypted value fails the MAC.
    write(&env, "t.yaml", &enc.replace("visible", "changed"));
    let o = sealbox(&env, &["decrypt", "t.yaml"]);
    assert_eq!(code(&o), 51);
    assert!(!String::from_utf8_lossy(&o.stderr).contains("hunter2"));
    let o = sealbox(&env, &["decrypt", "--ignore-mac", "t.yaml"]);
    assert!(ok(&o).contains("changed"));
}

#[test]
fn stdin_needs_filename_override() {
    let env = setup();
    let o = sealbox(&env, &["encrypt", "--age", &env.recipient]);
    assert_eq!(code(&o), 8);
}

#[test]
fn creation_rules_choose_recipients() {
    let env = setup();
    write(
        &env,
        ".sops.yaml",
        &format!(
            "creation_rules:\n  - path_regex: ^secrets/.*\\.yaml$\n    age: {}\n    encrypted_regex: ^pass\n",
            env.recipient
        ),
    );
    fs::create_dir(env.dir.path().join("secrets")).unwrap();
    write(&env, "secrets/a.yaml", "password: x\nuser: bob\n");
    let enc = ok(&sealbox(&env, &["encrypt", "secrets/a.yaml"]));
    assert!(enc.contains("user: bob") && !enc.contains("password: x"));
    assert!(enc.contains("encrypted_regex: ^pass"));
    write(&env, "other.yaml", "a: b\n");
    let o = sealbox(&env, &["encrypt", "--age", &env.recipient, "other.yaml"]);
    assert_eq!(code(&o), 1, "no rule matches, even with --age (as sops)");
    assert!(String::from_utf8_lossy(&o.stderr).contains("no matching creation rules"));
}

#[allow(dead_code)]
fn exists(p: &Path) -> bool {
    p.exists()
}
