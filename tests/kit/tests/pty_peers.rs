//! The pty harness against the real prompts it exists for: age's passphrase prompts
//! (`age -p`, twice; `age -d` of a passphrase-encrypted file, once) and OpenSSH's
//! "Enter passphrase" of `ssh-keygen -y` on a passphrase-protected key. All of them read
//! `/dev/tty`, so they pass only if the harness really gives the program a controlling
//! terminal.

use sealbox_testkit::pty::{setsid, Pty, TIMEOUT};
use sealbox_testkit::require;
use std::path::Path;
use std::process::{Command, Stdio};

const PASSPHRASE: &str = "correct horse battery staple";

fn in_dir(program: &Path, dir: &Path) -> Command {
    let mut c = Command::new(program);
    c.current_dir(dir);
    c
}

/// `age -p` in `dir`: encrypts plain.txt to secret.age with [`PASSPHRASE`], typed twice.
fn age_encrypt_with_passphrase(age: &Path, dir: &Path) {
    let mut c = in_dir(age, dir);
    c.args(["-p", "-o", "secret.age", "plain.txt"]);
    let mut t = Pty::spawn(&c).unwrap();
    t.expect(
        "Enter passphrase (leave empty to autogenerate a secure one):",
        TIMEOUT,
    )
    .unwrap();
    t.wait_echo_off(TIMEOUT).unwrap();
    t.send_line(PASSPHRASE).unwrap();
    t.expect("Confirm passphrase:", TIMEOUT).unwrap();
    t.wait_echo_off(TIMEOUT).unwrap();
    t.send_line(PASSPHRASE).unwrap();
    let st = t.wait(TIMEOUT).unwrap();
    assert!(st.success(), "{}", t.output());
    assert!(!t.output().contains(PASSPHRASE), "echoed: {}", t.output());
}

#[test]
fn age_p_asks_twice_on_the_terminal_and_age_d_once() {
    let age = require!(sealbox_testkit::age());
    require!(setsid());
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("plain.txt"), "passphrase-protected\n").unwrap();
    age_encrypt_with_passphrase(&age, dir.path());
    let enc = std::fs::read(dir.path().join("secret.age")).unwrap();
    assert!(
        enc.starts_with(b"age-encryption.org/v1\n-> scrypt "),
        "an scrypt stanza: {:?}",
        String::from_utf8_lossy(&enc[..40.min(enc.len())])
    );

    let mut c = in_dir(&age, dir.path());
    c.args(["-d", "-o", "out.txt", "secret.age"]);
    let mut t = Pty::spawn(&c).unwrap();
    t.expect("Enter passphrase:", TIMEOUT).unwrap();
    t.wait_echo_off(TIMEOUT).unwrap();
    t.send_line(PASSPHRASE).unwrap();
    assert!(t.wait(TIMEOUT).unwrap().success(), "{}", t.output());
    assert_eq!(
        std::fs::read_to_string(dir.path().join("out.txt")).unwrap(),
        "passphrase-protected\n"
    );
    assert_eq!(
        t.output().matches("Enter passphrase").count(),
        1,
        "{}",
        t.output()
    );

    // A wrong passphrase: age's own error, exit 1.
    let mut c = in_dir(&age, dir.path());
    c.args(["-d", "-o", "wrong.txt", "secret.age"]);
    let mut t = Pty::spawn(&c).unwrap();
    t.expect("Enter passphrase:", TIMEOUT).unwrap();
    t.wait_echo_off(TIMEOUT).unwrap();
    t.send_line("not the passphrase").unwrap();
    t.expect("age: error: incorrect passphrase", TIMEOUT)
        .unwrap();
    assert_eq!(t.wait(TIMEOUT).unwrap().code(), Some(1));
}

#[test]
fn age_d_without_a_terminal_cannot_ask_for_a_passphrase() {
    // The counterpart: with no controlling terminal (setsid without --ctty, stdin empty)
    // age cannot prompt, so the harness above is what makes those tests work.
    let age = require!(sealbox_testkit::age());
    let setsid = require!(setsid());
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("plain.txt"), "x\n").unwrap();
    age_encrypt_with_passphrase(&age, dir.path());
    let o = Command::new(setsid)
        .args(["--wait"])
        .arg(&age)
        .args(["-d", "secret.age"])
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(e.contains("/dev/tty is not available"), "{e}");
}

#[test]
fn ssh_keygen_y_reads_the_key_passphrase_from_the_terminal() {
    let ssh_keygen = require!(sealbox_testkit::ssh_keygen());
    require!(setsid());
    let dir = tempfile::tempdir().unwrap();
    let o = in_dir(&ssh_keygen, dir.path())
        .args(["-q", "-t", "ed25519", "-N", PASSPHRASE, "-C", "pty-test"])
        .args(["-f", "key"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let public = std::fs::read_to_string(dir.path().join("key.pub")).unwrap();
    let public = public
        .split_whitespace()
        .take(2)
        .collect::<Vec<_>>()
        .join(" ");

    let mut c = in_dir(&ssh_keygen, dir.path());
    c.args(["-y", "-f", "key"]);
    let mut t = Pty::spawn(&c).unwrap();
    t.expect("Enter passphrase", TIMEOUT).unwrap();
    t.wait_echo_off(TIMEOUT).unwrap();
    t.send_line(PASSPHRASE).unwrap();
    t.expect(&public, TIMEOUT).unwrap();
    assert!(t.wait(TIMEOUT).unwrap().success(), "{}", t.output());
    assert!(!t.output().contains(PASSPHRASE), "{}", t.output());

    // A wrong passphrase: OpenSSH's message, exit 255.
    let mut t = Pty::spawn(&c).unwrap();
    t.expect("Enter passphrase", TIMEOUT).unwrap();
    t.wait_echo_off(TIMEOUT).unwrap();
    t.send_line("wrong").unwrap();
    t.expect(
        "incorrect passphrase supplied to decrypt private key",
        TIMEOUT,
    )
    .unwrap();
    assert_eq!(t.wait(TIMEOUT).unwrap().code(), Some(255));
}
