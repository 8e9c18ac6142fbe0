//! The fixtures of `tests/vectors/generated/` (made by its `make.sh` with the real tools)
//! are what their README says they are, checked with the real tools again: each
//! passphrase opens its key on a terminal, each sops file decrypts to its plaintext with
//! the key named for it, and the ssh-to-age conversions are re-derived here from the SSH
//! key (RFC 7748's Edwards-to-Montgomery map; SHA-512 of the seed), independently of
//! `make.sh` and of sealbox's own code.

use sealbox_testkit::pty::{Pty, TIMEOUT};
use sealbox_tests::scratch::Scratch;
use sealbox_tests::{require, vectors_dir};
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

fn run(mut c: Command) -> Output {
    c.stdin(Stdio::null()).output().unwrap()
}

/// Runs `c` on a terminal and types `answer` at `prompt` once echo is off.
fn on_tty(c: &Command, prompt: &str, answer: &str) -> Pty {
    let mut t = Pty::spawn(c).unwrap();
    t.expect(prompt, TIMEOUT).unwrap();
    t.wait_echo_off(TIMEOUT).unwrap();
    t.send_line(answer).unwrap();
    t
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn the_age_p_identity_files_open_with_their_passphrase_on_a_terminal() {
    let age = require!(sealbox_testkit::age());
    let age_keygen = require!(sealbox_testkit::age_keygen());
    require!(sealbox_testkit::pty::setsid());
    let files = ["age-identity.txt.age", "age-identity.txt.age.asc"];
    let s = require!(Scratch::new(&files));
    let identity = read("age-identity.txt");
    assert!(identity.contains("\nAGE-SECRET-KEY-1"), "{identity}");
    // Binary and armored, both scrypt-sealed (what `age -p` writes).
    assert!(read("age-identity.txt.age.asc").starts_with("-----BEGIN AGE ENCRYPTED FILE-----\n"));
    let bin = fs::read(gen().join("age-identity.txt.age")).unwrap();
    assert!(bin.starts_with(b"age-encryption.org/v1\n-> scrypt "));
    for f in files {
        let mut c = s.cmd(&age);
        c.args(["-d", "-o", "out.txt", f]);
        let mut t = on_tty(&c, "Enter passphrase:", &line("age-identity.passphrase"));
        assert!(t.wait(TIMEOUT).unwrap().success(), "{f}: {}", t.output());
        assert_eq!(fs::read_to_string(s.p("out.txt")).unwrap(), identity, "{f}");
        fs::remove_file(s.p("out.txt")).unwrap();
    }
    let o = run({
        let mut c = s.cmd(&age_keygen);
        c.arg("-y").arg(gen().join("age-identity.txt"));
        c
    });
    assert_eq!(
        String::from_utf8_lossy(&o.stdout).trim(),
        line("age-identity.recipient")
    );
}

#[test]
fn the_ssh_keys_open_with_their_passphrases_and_match_their_public_keys() {
    let ssh_keygen = require!(sealbox_testkit::ssh_keygen());
    require!(sealbox_testkit::pty::setsid());
    let s = require!(Scratch::new(&[
        "ssh-ed25519",
        "ssh-ed25519.unprotected",
        "ssh-rsa"
    ]));
    let key_part = |pub_file: &str| {
        read(pub_file)
            .split_whitespace()
            .take(2)
            .collect::<Vec<_>>()
            .join(" ")
    };
    for (key, pass, public) in [
        ("ssh-ed25519", "ssh-ed25519.passphrase", "ssh-ed25519.pub"),
        ("ssh-rsa", "ssh-rsa.passphrase", "ssh-rsa.pub"),
    ] {
        assert!(
            read(key).contains("-----BEGIN OPENSSH PRIVATE KEY-----"),
            "{key}"
        );
        let mut c = s.cmd(&ssh_keygen);
        c.args(["-y", "-f", key]);
        let mut t = on_tty(&c, "Enter passphrase", &line(pass));
        t.expect(&key_part(public), TIMEOUT).unwrap();
        assert!(t.wait(TIMEOUT).unwrap().success(), "{key}: {}", t.output());
    }
    assert!(key_part("ssh-rsa.pub").starts_with("ssh-rsa AAAA"));
    // The unprotected copy is the same ed25519 key, and opens without a prompt.
    let o = run({
        let mut c = s.cmd(&ssh_keygen);
        c.args(["-y", "-f", "ssh-ed25519.unprotected"]);
        c
    });
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        String::from_utf8_lossy(&o.stdout).trim(),
        read("ssh-ed25519.pub").trim(),
        "the public key, comment included"
    );
}

#[test]
fn the_ssh_to_age_conversions_are_rederived_from_the_ssh_key() {
    use base64::Engine;
    use sha2::Digest;
    let key = ssh_key::PrivateKey::from_openssh(read("ssh-ed25519.unprotected")).unwrap();
    let ed = key.key_data().ed25519().expect("an ed25519 key");
    // The public side from the .pub file, the private side from the key.
    let blob = base64::engine::general_purpose::STANDARD
        .decode(read("ssh-ed25519.pub").split_whitespace().nth(1).unwrap())
        .unwrap();
    assert_eq!(&blob[blob.len() - 32..], ed.public.0.as_slice());
    let point = curve25519_dalek::edwards::CompressedEdwardsY(ed.public.0)
        .decompress()
        .expect("a valid Edwards point");
    let u = point.to_montgomery().to_bytes();
    let recipient =
        bech32::encode::<bech32::Bech32>(bech32::Hrp::parse("age").unwrap(), &u).unwrap();
    assert_eq!(recipient, line("ssh-ed25519.age-recipient"));
    let scalar = sha2::Sha512::digest(ed.private.to_bytes());
    let identity = bech32::encode::<bech32::Bech32>(
        bech32::Hrp::parse("age-secret-key-").unwrap(),
        &scalar[..32],
    )
    .unwrap()
    .to_ascii_uppercase();
    assert_eq!(identity, line("ssh-ed25519.age-identity"));
}

#[test]
fn the_plugin_identities_belong_to_the_plugin_recipient() {
    let recipient = line("plugin.recipient");
    assert!(recipient.starts_with("age1sealboxtest1"), "{recipient}");
    for (f, mode) in [
        ("plugin-identity.txt", "silent"),
        ("plugin-pin-identity.txt", "pin"),
    ] {
        let text = read(f);
        assert!(text.contains(&format!("# mode: {mode}")), "{f}: {text}");
        assert!(text.contains(&format!("# recipient: {recipient}\n")), "{f}");
        assert!(text.contains("\nAGE-PLUGIN-SEALBOXTEST-1"), "{f}");
    }
    // The plugin itself agrees (-y: identities in, recipients out).
    let plugin = require!(sealbox_testkit::sealboxtest_plugin());
    let o = Command::new(plugin)
        .arg("-y")
        .stdin(fs::File::open(gen().join("plugin-pin-identity.txt")).unwrap())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(String::from_utf8_lossy(&o.stdout), format!("{recipient}\n"));
}

/// The `recipient:` of an encrypted file's single age entry.
fn sops_recipient(enc: &str) -> String {
    let mut it = enc
        .lines()
        .filter_map(|l| l.trim().strip_prefix("- recipient: "));
    let r = it.next().expect("an age recipient").to_string();
    assert!(it.next().is_none(), "one age recipient only");
    r
}

#[test]
fn each_sops_file_is_sealed_to_its_key_and_decrypts_with_the_real_sops() {
    let sops = require!(sealbox_testkit::sops());
    require!(sealbox_testkit::pty::setsid());
    let s = require!(Scratch::new(&[
        "ssh-ed25519",
        "ssh-ed25519.pub",
        "ssh-ed25519.unprotected",
        "ssh-rsa",
        "ssh-rsa.pub",
        "age-identity.txt.age",
        "plugin-identity.txt",
        "plugin-pin-identity.txt",
        "ssh-ed25519.age-identity",
    ]));
    let ssh_pub = |f: &str| {
        read(f)
            .split_whitespace()
            .take(2)
            .collect::<Vec<_>>()
            .join(" ")
    };
    for (name, recipient) in [
        ("plugin", line("plugin.recipient")),
        ("ssh-ed25519", ssh_pub("ssh-ed25519.pub")),
        ("ssh-to-age", line("ssh-ed25519.age-recipient")),
        ("ssh-rsa", ssh_pub("ssh-rsa.pub")),
        ("age-passphrase", line("age-identity.recipient")),
    ] {
        let enc = read(&format!("sops-{name}.enc.yaml"));
        assert_eq!(sops_recipient(&enc), recipient, "{name}");
        assert!(enc.contains("version: 3.11.0"), "{name}");
        assert!(!enc.contains(&format!("{name}-secret-value")), "{name}");
        fs::write(s.p(&format!("{name}.enc.yaml")), enc).unwrap();
    }
    let plain = |name: &str| read(&format!("sops-{name}.plain.yaml"));
    let decrypt = |name: &str, var: &str, key: &str| {
        let mut c = s.cmd(&sops);
        c.args(["decrypt", &format!("{name}.enc.yaml")])
            .env(var, s.p(key));
        run(c)
    };

    // Without a prompt.
    for (name, var, key) in [
        ("plugin", "SOPS_AGE_KEY_FILE", "plugin-identity.txt"),
        (
            "ssh-ed25519",
            "SOPS_AGE_SSH_PRIVATE_KEY_FILE",
            "ssh-ed25519.unprotected",
        ),
        (
            "ssh-to-age",
            "SOPS_AGE_KEY_FILE",
            "ssh-ed25519.age-identity",
        ),
    ] {
        let o = decrypt(name, var, key);
        assert!(o.status.success(), "{name}: {}", stderr(&o));
        assert_eq!(String::from_utf8_lossy(&o.stdout), plain(name), "{name}");
    }

    // The cross-stanza case is sealbox's (and sops-nix's) extension, not sops': given
    // the SSH key, sops opens the ssh-ed25519 stanza but not the X25519 stanza of the
    // key's ssh-to-age conversion.
    let o = decrypt(
        "ssh-to-age",
        "SOPS_AGE_SSH_PRIVATE_KEY_FILE",
        "ssh-ed25519.unprotected",
    );
    assert_eq!(o.status.code(), Some(128), "{}", stderr(&o));

    // With a prompt on the terminal: sops' own prompt texts.
    let on_terminal = |name: &str, var: &str, key: &str, prompt: &str, answer: &str| {
        let _ = fs::remove_file(s.p("out.yaml"));
        let mut c = s.cmd(&sops);
        c.args([
            "decrypt",
            "--output",
            "out.yaml",
            &format!("{name}.enc.yaml"),
        ])
        .env(var, s.p(key));
        let mut t = on_tty(&c, prompt, answer);
        assert!(t.wait(TIMEOUT).unwrap().success(), "{name}: {}", t.output());
        assert_eq!(
            fs::read_to_string(s.p("out.yaml")).unwrap(),
            plain(name),
            "{name}"
        );
    };
    let path = |f: &str| s.p(f).display().to_string();
    on_terminal(
        "ssh-ed25519",
        "SOPS_AGE_SSH_PRIVATE_KEY_FILE",
        "ssh-ed25519",
        &format!("Enter passphrase for {:?}:", path("ssh-ed25519")),
        &line("ssh-ed25519.passphrase"),
    );
    on_terminal(
        "ssh-rsa",
        "SOPS_AGE_SSH_PRIVATE_KEY_FILE",
        "ssh-rsa",
        &format!("Enter passphrase for {:?}:", path("ssh-rsa")),
        &line("ssh-rsa.passphrase"),
    );
    on_terminal(
        "age-passphrase",
        "SOPS_AGE_KEY_FILE",
        "age-identity.txt.age",
        // sops names the variable, not the file (quirk of sops 3.11).
        "Enter passphrase for identity 'SOPS_AGE_KEY_FILE':",
        &line("age-identity.passphrase"),
    );
    on_terminal(
        "plugin",
        "SOPS_AGE_KEY_FILE",
        "plugin-pin-identity.txt",
        "Enter the PIN of sealboxtest key",
        "123456",
    );
}
