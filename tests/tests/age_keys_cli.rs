//! Every kind of age key a user holds, through the `sealbox` command line and against the
//! real tools (issue 18): the sops 3.11 files of `tests/vectors/generated/` (one per key
//! kind, made by the real sops) open with sealbox, each prompt asked once on the terminal;
//! what sealbox writes for each key kind opens with the real sops; an SSH ed25519 key
//! opens both the `ssh-ed25519` stanza and the X25519 stanza of its ssh-to-age conversion
//! (sops opens only the first); and `keygen -p` writes what the real age opens with the
//! passphrase. Prompts are answered on a pseudo-terminal: sealbox, sops and age ask on
//! `/dev/tty`, never on stdin.

use sealbox_testkit::pty::{Pty, TIMEOUT};
use sealbox_tests::scratch::Scratch;
use sealbox_tests::{require, sealbox_bin, vectors_dir};
use std::fs;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

fn gen() -> PathBuf {
    vectors_dir("generated")
}

fn read(name: &str) -> String {
    fs::read_to_string(gen().join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// The first line of a one-line file.
fn line(name: &str) -> String {
    read(name).lines().next().unwrap_or("").to_string()
}

/// `ssh-TYPE BASE64` of a `.pub` file (the recipient form, without the comment).
fn ssh_pub(name: &str) -> String {
    read(name)
        .split_whitespace()
        .take(2)
        .collect::<Vec<_>>()
        .join(" ")
}

fn run(mut c: Command) -> Output {
    c.stdin(Stdio::null()).output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Runs `c` on a terminal, types `answer` at `prompt` (once echo is off), waits for it to
/// succeed and returns everything it wrote there.
fn answered(c: &Command, prompt: &str, answer: &str) -> String {
    let mut t = Pty::spawn(c).unwrap();
    t.expect(prompt, TIMEOUT)
        .unwrap_or_else(|e| panic!("{prompt}: {e}\n{}", t.output()));
    t.wait_echo_off(TIMEOUT).unwrap();
    t.send_line(answer).unwrap();
    let ok = t.wait(TIMEOUT).unwrap().success();
    let out = t.output();
    assert!(ok, "{out}");
    assert!(!out.contains(answer), "the answer was echoed: {out}");
    out
}

/// The sealbox prompt of each key kind, its answer, and the sops file of that kind:
/// (file NAME of `sops-NAME.enc.yaml`, variable, key file, prompt, answer).
fn prompted_cases(s: &Scratch) -> Vec<(&'static str, &'static str, &'static str, String, String)> {
    let at = |f: &str| s.p(f).display().to_string();
    vec![
        (
            "ssh-ed25519",
            "SOPS_AGE_SSH_PRIVATE_KEY_FILE",
            "ssh-ed25519",
            format!("Enter passphrase for {:?}:", at("ssh-ed25519")),
            line("ssh-ed25519.passphrase"),
        ),
        // The cross-stanza case: the protected SSH key opens the X25519 stanza of its
        // ssh-to-age conversion, which sops cannot do.
        (
            "ssh-to-age",
            "SOPS_AGE_SSH_PRIVATE_KEY_FILE",
            "ssh-ed25519",
            format!("Enter passphrase for {:?}:", at("ssh-ed25519")),
            line("ssh-ed25519.passphrase"),
        ),
        (
            "ssh-rsa",
            "SOPS_AGE_SSH_PRIVATE_KEY_FILE",
            "ssh-rsa",
            format!("Enter passphrase for {:?}:", at("ssh-rsa")),
            line("ssh-rsa.passphrase"),
        ),
        (
            "age-passphrase",
            "SOPS_AGE_KEY_FILE",
            "age-identity.txt.age",
            "Enter passphrase for identity '".to_string(),
            line("age-identity.passphrase"),
        ),
        (
            "plugin",
            "SOPS_AGE_KEY_FILE",
            "plugin-pin-identity.txt",
            "Enter the PIN of sealboxtest key".to_string(),
            "123456".to_string(),
        ),
    ]
}

/// A prompt and what to type there.
type Prompt = (String, String);

const KEY_FILES: &[&str] = &[
    "ssh-ed25519",
    "ssh-ed25519.unprotected",
    "ssh-rsa",
    "age-identity.txt",
    "age-identity.txt.age",
    "plugin-identity.txt",
    "plugin-pin-identity.txt",
];

#[test]
fn sops_files_of_every_key_kind_open_with_sealbox_asking_once_on_the_terminal() {
    let sealbox = require!(sealbox_bin());
    require!(sealbox_testkit::pty::setsid());
    let s = require!(Scratch::new(KEY_FILES));
    let mut opened = 0;
    for (name, var, key, prompt, answer) in prompted_cases(&s) {
        fs::write(
            s.p(&format!("{name}.enc.yaml")),
            read(&format!("sops-{name}.enc.yaml")),
        )
        .unwrap();
        let _ = fs::remove_file(s.p("out.yaml"));
        let mut c = s.cmd(&sealbox);
        c.args([
            "decrypt",
            "--output",
            "out.yaml",
            &format!("{name}.enc.yaml"),
        ])
        .env(var, s.p(key));
        let out = answered(&c, &prompt, &answer);
        assert_eq!(
            out.matches(&*prompt).count(),
            1,
            "{name}: asked again: {out}"
        );
        assert_eq!(
            fs::read_to_string(s.p("out.yaml")).unwrap(),
            read(&format!("sops-{name}.plain.yaml")),
            "{name}"
        );
        opened += 1;
    }
    assert_eq!(opened, 5);
}

#[test]
fn an_unprotected_ed25519_key_opens_both_stanza_kinds_from_the_variable_and_from_home() {
    let sealbox = require!(sealbox_bin());
    let sops = require!(sealbox_testkit::sops());
    let s = require!(Scratch::new(&["ssh-ed25519.unprotected"]));
    fs::create_dir(s.p(".ssh")).unwrap();
    fs::copy(s.p("ssh-ed25519.unprotected"), s.p(".ssh/id_ed25519")).unwrap();
    for name in ["ssh-ed25519", "ssh-to-age"] {
        fs::write(
            s.p(&format!("{name}.enc.yaml")),
            read(&format!("sops-{name}.enc.yaml")),
        )
        .unwrap();
        let plain = read(&format!("sops-{name}.plain.yaml"));
        for from_variable in [true, false] {
            let mut c = s.cmd(&sealbox);
            c.args(["decrypt", &format!("{name}.enc.yaml")]);
            if from_variable {
                c.env(
                    "SOPS_AGE_SSH_PRIVATE_KEY_FILE",
                    s.p("ssh-ed25519.unprotected"),
                );
            }
            let o = run(c);
            assert!(
                o.status.success(),
                "{name} {from_variable}: {}",
                text(&o.stderr)
            );
            assert_eq!(text(&o.stdout), plain, "{name} {from_variable}");
        }
    }
    // The real sops opens only the stanza kind the file was written for.
    let mut c = s.cmd(&sops);
    c.args(["decrypt", "ssh-to-age.enc.yaml"]).env(
        "SOPS_AGE_SSH_PRIVATE_KEY_FILE",
        s.p("ssh-ed25519.unprotected"),
    );
    let o = run(c);
    assert_eq!(o.status.code(), Some(128), "{}", text(&o.stderr));
}

#[test]
fn what_sealbox_writes_for_every_key_kind_opens_with_the_real_sops() {
    let sealbox = require!(sealbox_bin());
    let sops = require!(sealbox_testkit::sops());
    require!(sealbox_testkit::pty::setsid());
    let s = require!(Scratch::new(KEY_FILES));
    let at = |f: &str| s.p(f).display().to_string();
    // (recipient, variable, key file, prompt and answer if the key asks)
    let cases: Vec<(String, &str, &str, Option<Prompt>)> = vec![
        (
            line("plugin.recipient"),
            "SOPS_AGE_KEY_FILE",
            "plugin-identity.txt",
            None,
        ),
        (
            ssh_pub("ssh-ed25519.pub"),
            "SOPS_AGE_SSH_PRIVATE_KEY_FILE",
            "ssh-ed25519.unprotected",
            None,
        ),
        (
            line("age-identity.recipient"),
            "SOPS_AGE_KEY_FILE",
            "age-identity.txt",
            None,
        ),
        (
            ssh_pub("ssh-rsa.pub"),
            "SOPS_AGE_SSH_PRIVATE_KEY_FILE",
            "ssh-rsa",
            Some((
                format!("Enter passphrase for {:?}:", at("ssh-rsa")),
                line("ssh-rsa.passphrase"),
            )),
        ),
        (
            line("age-identity.recipient"),
            "SOPS_AGE_KEY_FILE",
            "age-identity.txt.age",
            Some((
                "Enter passphrase for identity 'SOPS_AGE_KEY_FILE':".into(),
                line("age-identity.passphrase"),
            )),
        ),
        (
            line("plugin.recipient"),
            "SOPS_AGE_KEY_FILE",
            "plugin-pin-identity.txt",
            Some(("Enter the PIN of sealboxtest key".into(), "123456".into())),
        ),
    ];
    for (n, (recipient, var, key, ask)) in cases.into_iter().enumerate() {
        let plain = format!("kind: {key}\nsecret: value-{n}\n");
        fs::write(s.p("plain.yaml"), &plain).unwrap();
        let mut c = s.cmd(&sealbox);
        c.args([
            "encrypt",
            "--age",
            &recipient,
            "--output",
            "enc.yaml",
            "plain.yaml",
        ]);
        let o = run(c);
        assert!(o.status.success(), "{key}: {}", text(&o.stderr));
        let _ = fs::remove_file(s.p("out.yaml"));
        let mut c = s.cmd(&sops);
        c.args(["decrypt", "--output", "out.yaml", "enc.yaml"])
            .env(var, s.p(key));
        match ask {
            None => {
                let o = run(c);
                assert!(o.status.success(), "sops, {key}: {}", text(&o.stderr));
            }
            Some((prompt, answer)) => {
                answered(&c, &prompt, &answer);
            }
        }
        assert_eq!(fs::read_to_string(s.p("out.yaml")).unwrap(), plain, "{key}");
    }
}

#[test]
fn keygen_p_asks_twice_and_the_real_age_opens_the_key_with_that_passphrase() {
    let sealbox = require!(sealbox_bin());
    let age = require!(sealbox_testkit::age());
    require!(sealbox_testkit::pty::setsid());
    let s = require!(Scratch::new(&[]));
    let pass = "keygen-test-passphrase";

    // Two different answers: nothing is written.
    let mut c = s.cmd(&sealbox);
    c.args(["keygen", "-p", "-o", "bad.age"]);
    let mut t = Pty::spawn(&c).unwrap();
    for (prompt, answer) in [
        ("Enter passphrase:", pass),
        ("Confirm passphrase:", "other"),
    ] {
        t.expect(prompt, TIMEOUT).unwrap();
        t.wait_echo_off(TIMEOUT).unwrap();
        t.send_line(answer).unwrap();
    }
    assert!(!t.wait(TIMEOUT).unwrap().success(), "{}", t.output());
    assert!(t.output().contains("do not match"), "{}", t.output());
    assert!(!s.p("bad.age").exists());

    let mut c = s.cmd(&sealbox);
    c.args(["keygen", "-p", "-o", "id.age"]);
    let mut t = Pty::spawn(&c).unwrap();
    for prompt in ["Enter passphrase:", "Confirm passphrase:"] {
        t.expect(prompt, TIMEOUT).unwrap();
        t.wait_echo_off(TIMEOUT).unwrap();
        t.send_line(pass).unwrap();
    }
    assert!(t.wait(TIMEOUT).unwrap().success(), "{}", t.output());
    let sealed = fs::read_to_string(s.p("id.age")).unwrap();
    assert!(
        sealed.starts_with("-----BEGIN AGE ENCRYPTED FILE-----\n"),
        "{sealed}"
    );
    assert!(!sealed.contains("AGE-SECRET-KEY-"), "{sealed}");

    // The real age decrypts the key file with the passphrase: it is an age -p file.
    let mut c = s.cmd(&age);
    c.args(["-d", "-o", "id.txt", "id.age"]);
    answered(&c, "Enter passphrase:", pass);
    let identity = fs::read_to_string(s.p("id.txt")).unwrap();
    let recipient = identity
        .lines()
        .find_map(|l| l.strip_prefix("# public key: "))
        .expect("a public key comment")
        .to_string();
    assert!(identity.contains("\nAGE-SECRET-KEY-1"), "{identity}");

    // keygen -y asks for the passphrase and prints that recipient.
    let mut c = s.cmd(&sealbox);
    c.args(["keygen", "-y", "id.age"]);
    let out = answered(&c, "Enter passphrase for identity '", pass);
    assert!(out.contains(&recipient), "{out}");

    // The real age uses the sealed file as an identity (-i), asking for its passphrase.
    fs::write(s.p("msg.txt"), "for the sealed key\n").unwrap();
    let mut c = s.cmd(&age);
    c.args(["-r", &recipient, "-o", "msg.age", "msg.txt"]);
    let o = run(c);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let mut c = s.cmd(&age);
    c.args(["-d", "-i", "id.age", "-o", "msg.out", "msg.age"]);
    answered(&c, "Enter passphrase", pass);
    assert_eq!(
        fs::read_to_string(s.p("msg.out")).unwrap(),
        "for the sealed key\n"
    );
}
