//! SECURITY.md's promise "plaintext is never group- or other-readable", checked for every
//! way `sealbox` writes plaintext to disk, under umask 000 (so no mode comes from the
//! umask): `decrypt -i` and `decrypt --output` onto existing, more open files, `ssh-to-age
//! --private-key --output`, `keygen -o`, the editor's temporary file of `edit` and the file
//! of `exec-file --no-fifo`. Ciphertext outputs keep the target's mode.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

struct Env {
    dir: tempfile::TempDir,
    key_file: PathBuf,
    recipient: String,
}

/// Runs sealbox under umask 000 in the test directory, with `extra` environment.
fn sealbox(env: &Env, args: &[&str], extra: &[(&str, &str)]) -> Output {
    let mut c = Command::new("sh");
    c.arg("-c")
        .arg("umask 000; exec \"$0\" \"$@\"")
        .arg(env!("CARGO_BIN_EXE_sealbox"))
        .args(args)
        .current_dir(env.dir.path())
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", env.dir.path())
        .env("TMPDIR", env.dir.path().join("tmp"))
        .env("SOPS_AGE_KEY_FILE", &env.key_file)
        .stdin(Stdio::null());
    for (k, v) in extra {
        c.env(k, v);
    }
    c.output().expect("run sealbox")
}

fn ok(o: &Output) -> String {
    assert!(
        o.status.success(),
        "exit {:?}: {}",
        o.status.code(),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout.clone()).unwrap()
}

fn mode(p: &Path) -> u32 {
    fs::metadata(p).unwrap().permissions().mode() & 0o7777
}

fn set_mode(p: &Path, m: u32) {
    fs::set_permissions(p, fs::Permissions::from_mode(m)).unwrap();
}

fn setup() -> Env {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir(dir.path().join("tmp")).unwrap();
    let key_file = dir.path().join("key.txt");
    let env = Env {
        key_file: key_file.clone(),
        recipient: String::new(),
        dir,
    };
    let out = sealbox(&env, &["keygen", "-o", key_file.to_str().unwrap()], &[]);
    ok(&out);
    let recipient = String::from_utf8(out.stderr)
        .unwrap()
        .trim()
        .strip_prefix("Public key: ")
        .expect("public key on stderr")
        .to_string();
    Env { recipient, ..env }
}

const PLAIN: &str = "db:\n    password: hunter2\nport: 5432\n";

#[test]
fn decrypt_onto_existing_open_files_leaves_plaintext_private() {
    let env = setup();
    let d = env.dir.path();
    // keygen -o under umask 000
    assert_eq!(mode(&env.key_file), 0o600);
    let f = d.join("s.yaml");
    fs::write(&f, PLAIN).unwrap();
    set_mode(&f, 0o644);
    ok(&sealbox(
        &env,
        &["encrypt", "-i", "--age", &env.recipient, "s.yaml"],
        &[],
    ));
    assert_eq!(mode(&f), 0o644, "ciphertext keeps the target's mode");
    let enc = fs::read(&f).unwrap();
    let o = sealbox(&env, &["decrypt", "-i", "s.yaml"], &[]);
    ok(&o);
    assert_eq!(fs::read_to_string(&f).unwrap(), PLAIN);
    assert_eq!(mode(&f), 0o600, "decrypt -i onto a 0644 file");
    // ... and says why the mode changed.
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("never group- or other-readable"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    fs::write(d.join("enc.yaml"), &enc).unwrap();
    for (old, want) in [
        (0o644, 0o600),
        (0o666, 0o600),
        (0o750, 0o700),
        (0o400, 0o400),
    ] {
        let out = d.join(format!("out-{old:o}.yaml"));
        fs::write(&out, "previous contents\n").unwrap();
        set_mode(&out, old);
        ok(&sealbox(
            &env,
            &["decrypt", "--output", out.to_str().unwrap(), "enc.yaml"],
            &[],
        ));
        assert_eq!(fs::read_to_string(&out).unwrap(), PLAIN);
        assert_eq!(mode(&out), want, "decrypt --output onto a {old:o} file");
    }
    // A new output file is 0600 whatever the umask.
    ok(&sealbox(
        &env,
        &["decrypt", "--output", "new.yaml", "enc.yaml"],
        &[],
    ));
    assert_eq!(mode(&d.join("new.yaml")), 0o600);
}

#[test]
fn ssh_to_age_private_key_output_is_private() {
    let env = setup();
    let d = env.dir.path();
    let key = d.join("id_ed25519");
    let kg = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&key)
        .output()
        .expect("ssh-keygen (Debian package openssh-client)");
    assert!(kg.status.success());
    let out = d.join("age.txt");
    fs::write(&out, "old\n").unwrap();
    set_mode(&out, 0o644);
    ok(&sealbox(
        &env,
        &[
            "ssh-to-age",
            "--private-key",
            "-i",
            key.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
        ],
        &[],
    ));
    assert!(fs::read_to_string(&out)
        .unwrap()
        .starts_with("AGE-SECRET-KEY-1"));
    assert_eq!(mode(&out), 0o600);
}

#[test]
fn edit_and_exec_file_plaintext_is_0600_in_a_0700_directory() {
    let env = setup();
    let d = env.dir.path();
    fs::write(d.join("s.yaml"), PLAIN).unwrap();
    ok(&sealbox(
        &env,
        &["encrypt", "-i", "--age", &env.recipient, "s.yaml"],
        &[],
    ));
    // An editor that records the modes it sees, then changes the file.
    let log = d.join("modes.log");
    let editor = d.join("editor.sh");
    fs::write(
        &editor,
        format!(
            "#!/bin/sh\nstat -c '%a' \"$1\" \"$(dirname \"$1\")\" >> {log}\nsed -i 's/5432/5433/' \"$1\"\n",
            log = log.display()
        ),
    )
    .unwrap();
    set_mode(&editor, 0o755);
    ok(&sealbox(
        &env,
        &["edit", "s.yaml"],
        &[("EDITOR", editor.to_str().unwrap())],
    ));
    assert_eq!(fs::read_to_string(&log).unwrap(), "600\n700\n");
    let o = ok(&sealbox(
        &env,
        &[
            "exec-file",
            "--no-fifo",
            "s.yaml",
            "stat -c '%a' {} \"$(dirname {})\"; grep -c 5433 {}",
        ],
        &[],
    ));
    assert_eq!(o, "600\n700\n1\n");
    // The FIFO of exec-file too.
    let o = ok(&sealbox(
        &env,
        &[
            "exec-file",
            "s.yaml",
            "stat -c '%a %F' {}; cat {} > /dev/null",
        ],
        &[],
    ));
    assert_eq!(o, "600 fifo\n");
    // Nothing is left in $TMPDIR.
    assert_eq!(fs::read_dir(d.join("tmp")).unwrap().count(), 0);
}
