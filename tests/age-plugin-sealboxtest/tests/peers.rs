//! The test plugin against the real peers: age 1.1.1 and sops 3.11 find
//! `age-plugin-sealboxtest` on `PATH`, encrypt to `age1sealboxtest1…`, decrypt with
//! `AGE-PLUGIN-SEALBOXTEST-1…`, and put each UI request of the plugin on the terminal
//! (driven here through a pseudo-terminal). This pins down what sealbox must match: the
//! prompts the peers show, and what they do without a terminal.
//!
//! What the peers do, as these tests show:
//! * age 1.1.1 prints a plugin `msg` on stderr as `age: sealboxtest plugin: <message>`;
//!   reads a PIN (`request-secret`) and also a public value (`request-public`) from
//!   `/dev/tty` without echo after printing the plugin's prompt; asks a confirmation as
//!   `<prompt> (press [1] for "yes" or [2] for "no")` and reads one key. Without a
//!   terminal it warns `could not read value for age-plugin-sealboxtest: …` and answers
//!   the plugin `fail`; a plugin error ends age with `age: error: sealboxtest plugin:
//!   <message>`.
//! * sops 3.11 has the same terminal UI (a copy of age's) and reads from `/dev/tty` too,
//!   but logs the plugin's messages and the "could not read value" warning at info level:
//!   they are shown only with `--verbose`. A plugin error shows in the "Failed to get the
//!   data key" report, exit code 128.

use age_plugin_sealboxtest::{text, Identity, Mode, PIN, PUBLIC_VALUE};
use sealbox_testkit::pty::{Pty, TIMEOUT};
use sealbox_testkit::require;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

const PLAIN_YAML: &str = "db:\n    password: hunter2\n    port: 5432\n";

/// A scratch directory with the plugin on `PATH` and a `HOME` of its own (so neither age
/// nor sops finds the developer's keys).
struct Scratch {
    dir: tempfile::TempDir,
    path: OsString,
}

impl Scratch {
    fn new() -> Scratch {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("bin");
        std::fs::create_dir(&bin).unwrap();
        std::os::unix::fs::symlink(
            env!("CARGO_BIN_EXE_age-plugin-sealboxtest"),
            bin.join("age-plugin-sealboxtest"),
        )
        .unwrap();
        let mut dirs = vec![bin];
        dirs.extend(std::env::split_paths(
            &std::env::var_os("PATH").unwrap_or_default(),
        ));
        let path = std::env::join_paths(dirs).unwrap();
        Scratch { dir, path }
    }

    fn p(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn write(&self, name: &str, body: &str) -> PathBuf {
        let p = self.p(name);
        std::fs::write(&p, body).unwrap();
        p
    }

    fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.p(name)).unwrap_or_default()
    }

    /// The plugin's request log (`SEALBOXTEST_LOG`), one line per request.
    fn log(&self) -> Vec<String> {
        self.read("plugin.log")
            .lines()
            .map(str::to_string)
            .collect()
    }

    fn cmd(&self, program: &Path) -> Command {
        let mut c = Command::new(program);
        c.current_dir(self.dir.path())
            .env("PATH", &self.path)
            .env("HOME", self.dir.path())
            .env("XDG_CONFIG_HOME", self.dir.path().join(".config"))
            .env("SEALBOXTEST_LOG", self.p("plugin.log"))
            .env("SOPS_DISABLE_VERSION_CHECK", "1")
            .env_remove("SOPS_AGE_KEY")
            .env_remove("SOPS_AGE_KEY_FILE")
            .env_remove("SOPS_AGE_KEY_CMD")
            .env_remove("SOPS_AGE_SSH_PRIVATE_KEY_FILE")
            .env_remove("SEALBOXTEST_MODE")
            .env_remove("SEALBOXTEST_WRAP_MODE");
        c
    }

    /// Writes an identity file holding `id`.
    fn identity_file(&self, name: &str, id: &Identity) -> PathBuf {
        self.write(name, &format!("# test key\n{}\n", id.encode()))
    }
}

/// Runs `cmd` without a terminal at all: a new session with no controlling terminal
/// (so `/dev/tty` cannot be opened even when the tests run from one), stdin empty.
fn run_without_terminal(cmd: &Command) -> Output {
    let setsid = sealbox_testkit::pty::setsid().unwrap();
    let mut c = Command::new(setsid);
    c.arg("--wait").arg(cmd.get_program()).args(cmd.get_args());
    for (k, v) in cmd.get_envs() {
        match v {
            Some(v) => c.env(k, v),
            None => c.env_remove(k),
        };
    }
    if let Some(d) = cmd.get_current_dir() {
        c.current_dir(d);
    }
    c.stdin(Stdio::null()).output().unwrap()
}

fn key(mode: Mode, n: u8) -> Identity {
    Identity {
        mode,
        seed: [n; 32],
    }
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// `age -r <recipient of seed n> -o file.age`: the plaintext sealed to the plugin.
fn age_encrypt(s: &Scratch, age: &Path, id: &Identity, out: &str) -> String {
    s.write("plain.txt", "a plugin secret\n");
    let o = s
        .cmd(age)
        .args(["-r", &id.recipient().encode(), "-o", out, "plain.txt"])
        .output()
        .unwrap();
    assert!(o.status.success(), "age -r: {}", stderr(&o));
    "a plugin secret\n".to_string()
}

#[test]
fn real_age_encrypts_to_the_plugin_recipient_and_opens_with_its_identity_only() {
    let age = require!(sealbox_testkit::age());
    let s = Scratch::new();
    let id = key(Mode::Silent, 1);
    let plain = age_encrypt(&s, &age, &id, "secret.age");
    // The header holds the plugin's own stanza, addressed by the recipient's first bytes.
    let header = std::fs::read(s.p("secret.age")).unwrap();
    let header = String::from_utf8_lossy(&header[..200.min(header.len())]).into_owned();
    assert!(header.contains("\n-> sealboxtest "), "{header}");

    s.identity_file("id.txt", &id);
    let o = s
        .cmd(&age)
        .args(["-d", "-i", "id.txt", "secret.age"])
        .output()
        .unwrap();
    assert!(o.status.success(), "age -d: {}", stderr(&o));
    assert_eq!(String::from_utf8_lossy(&o.stdout), plain);
    assert_eq!(stderr(&o), "", "a silent key shows nothing");
    let short = id.recipient().short_id();
    assert_eq!(
        s.log(),
        [
            "start recipient-v1".to_string(),
            format!("wrap {short} silent ok"),
            "start identity-v1".to_string(),
            format!("unwrap {short} silent ok"),
        ]
    );

    // Another key of the plugin does not open it: the wrap is real.
    s.identity_file("other.txt", &key(Mode::Silent, 2));
    let o = s
        .cmd(&age)
        .args(["-d", "-i", "other.txt", "secret.age"])
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("no identity matched any of the recipients"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn real_age_encrypts_to_a_plugin_identity_s_own_recipient() {
    let age = require!(sealbox_testkit::age());
    let s = Scratch::new();
    let id = key(Mode::Silent, 3);
    s.identity_file("id.txt", &id);
    s.write("plain.txt", "to myself\n");
    // `age -e -i` hands the identity itself to the plugin's recipient-v1 (add-identity).
    let o = s
        .cmd(&age)
        .args(["-e", "-i", "id.txt", "-o", "self.age", "plain.txt"])
        .output()
        .unwrap();
    assert!(o.status.success(), "age -e -i: {}", stderr(&o));
    let o = s
        .cmd(&age)
        .args(["-d", "-i", "id.txt", "self.age"])
        .output()
        .unwrap();
    assert!(o.status.success(), "age -d: {}", stderr(&o));
    assert_eq!(String::from_utf8_lossy(&o.stdout), "to myself\n");
}

#[test]
fn real_age_prints_a_plugin_message_on_stderr_and_decrypts() {
    let age = require!(sealbox_testkit::age());
    require!(sealbox_testkit::pty::setsid());
    let s = Scratch::new();
    let id = key(Mode::Message, 4);
    let plain = age_encrypt(&s, &age, &id, "secret.age");
    s.identity_file("id.txt", &id);
    let o = run_without_terminal(s.cmd(&age).args(["-d", "-i", "id.txt", "secret.age"]));
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(String::from_utf8_lossy(&o.stdout), plain);
    let short = id.recipient().short_id();
    assert_eq!(
        stderr(&o),
        format!("age: sealboxtest plugin: {}\n", text::message(&short))
    );
}

/// Decrypts `secret.age` with `id.txt` on a terminal; returns the session after the
/// plugin's prompt `prompt` was shown.
fn age_decrypt_on_terminal(s: &Scratch, age: &Path, prompt: &str) -> Pty {
    let mut c = s.cmd(age);
    c.args(["-d", "-i", "id.txt", "-o", "out.txt", "secret.age"]);
    let mut t = Pty::spawn(&c).unwrap();
    t.expect(prompt, TIMEOUT).unwrap();
    // Every plugin prompt of age reads with echo off (a confirmation in raw mode).
    t.wait_echo_off(TIMEOUT).unwrap();
    t
}

#[test]
fn real_age_asks_for_the_plugin_pin_on_the_terminal_once() {
    let age = require!(sealbox_testkit::age());
    require!(sealbox_testkit::pty::setsid());
    let s = Scratch::new();
    let id = key(Mode::Pin, 5);
    let plain = age_encrypt(&s, &age, &id, "secret.age");
    s.identity_file("id.txt", &id);
    let short = id.recipient().short_id();

    let mut t = age_decrypt_on_terminal(&s, &age, &text::pin_prompt(&short));
    t.send_line(PIN).unwrap();
    let st = t.wait(TIMEOUT).unwrap();
    assert!(st.success(), "{}", t.output());
    assert_eq!(s.read("out.txt"), plain);
    // Not echoed: the PIN never shows on the terminal.
    assert!(!t.output().contains(PIN), "{}", t.output());
    assert_eq!(
        s.log()
            .iter()
            .filter(|l| l.starts_with("unwrap "))
            .collect::<Vec<_>>(),
        [&format!("unwrap {short} pin ok")]
    );
}

#[test]
fn real_age_fails_on_a_wrong_pin_with_the_plugin_s_message() {
    let age = require!(sealbox_testkit::age());
    require!(sealbox_testkit::pty::setsid());
    let s = Scratch::new();
    let id = key(Mode::Pin, 6);
    age_encrypt(&s, &age, &id, "secret.age");
    s.identity_file("id.txt", &id);
    let short = id.recipient().short_id();
    let mut t = age_decrypt_on_terminal(&s, &age, &text::pin_prompt(&short));
    t.send_line("000000").unwrap();
    t.expect(
        &format!("age: error: sealboxtest plugin: sealboxtest key {short}: wrong PIN"),
        TIMEOUT,
    )
    .unwrap();
    assert_eq!(t.wait(TIMEOUT).unwrap().code(), Some(1));
    assert_eq!(s.read("out.txt"), "", "nothing decrypted");
}

#[test]
fn real_age_without_a_terminal_answers_a_pin_request_with_fail() {
    let age = require!(sealbox_testkit::age());
    require!(sealbox_testkit::pty::setsid());
    let s = Scratch::new();
    let id = key(Mode::Pin, 7);
    age_encrypt(&s, &age, &id, "secret.age");
    s.identity_file("id.txt", &id);
    let short = id.recipient().short_id();
    let o = run_without_terminal(s.cmd(&age).args(["-d", "-i", "id.txt", "secret.age"]));
    assert_eq!(o.status.code(), Some(1));
    let e = stderr(&o);
    assert!(
        e.contains("age: warning: could not read value for age-plugin-sealboxtest: standard input is not a terminal, and /dev/tty is not available"),
        "{e}"
    );
    assert!(
        e.contains(&format!(
            "age: error: sealboxtest plugin: sealboxtest key {short}: the client could not ask for the PIN (General plugin protocol error)"
        )),
        "{e}"
    );
}

#[test]
fn real_age_asks_a_plugin_confirmation_as_one_key_press() {
    let age = require!(sealbox_testkit::age());
    require!(sealbox_testkit::pty::setsid());
    let s = Scratch::new();
    let id = key(Mode::Confirm, 8);
    let plain = age_encrypt(&s, &age, &id, "secret.age");
    s.identity_file("id.txt", &id);
    let short = id.recipient().short_id();
    let prompt = format!(
        "{} (press [1] for \"yes\" or [2] for \"no\")",
        text::confirm_prompt(&short)
    );

    // "1" is yes: decrypted.
    let mut t = age_decrypt_on_terminal(&s, &age, &prompt);
    t.send(b"1").unwrap();
    assert!(t.wait(TIMEOUT).unwrap().success(), "{}", t.output());
    assert_eq!(s.read("out.txt"), plain);

    // "2" is no: the plugin fails the key.
    std::fs::remove_file(s.p("out.txt")).unwrap();
    let mut t = age_decrypt_on_terminal(&s, &age, &prompt);
    t.send(b"2").unwrap();
    t.expect(
        &format!("age: error: sealboxtest plugin: sealboxtest key {short}: the user said no"),
        TIMEOUT,
    )
    .unwrap();
    assert_eq!(t.wait(TIMEOUT).unwrap().code(), Some(1));
}

#[test]
fn real_age_reads_a_plugin_public_value_like_a_secret() {
    let age = require!(sealbox_testkit::age());
    require!(sealbox_testkit::pty::setsid());
    let s = Scratch::new();
    let id = key(Mode::Public, 9);
    let plain = age_encrypt(&s, &age, &id, "secret.age");
    s.identity_file("id.txt", &id);
    let short = id.recipient().short_id();
    let mut t = age_decrypt_on_terminal(&s, &age, &text::public_prompt(&short));
    t.send_line(PUBLIC_VALUE).unwrap();
    assert!(t.wait(TIMEOUT).unwrap().success(), "{}", t.output());
    assert_eq!(s.read("out.txt"), plain);
    // age 1.1.1 reads request-public with echo off too (its one RequestValue ignores
    // the secret flag): the answer does not show.
    assert!(!t.output().contains(PUBLIC_VALUE), "{}", t.output());
}

#[test]
fn real_age_reports_a_failing_plugin_key_by_its_message() {
    let age = require!(sealbox_testkit::age());
    let s = Scratch::new();
    let id = key(Mode::Fail, 10);
    age_encrypt(&s, &age, &id, "secret.age");
    s.identity_file("id.txt", &id);
    let o = s
        .cmd(&age)
        .args(["-d", "-i", "id.txt", "secret.age"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let short = id.recipient().short_id();
    assert!(
        stderr(&o).contains(&format!(
            "age: error: sealboxtest plugin: sealboxtest key {short}: this key always fails (mode fail)"
        )),
        "{}",
        stderr(&o)
    );
}

// ---- sops 3.11 ----------------------------------------------------------------------------

/// `sops encrypt --age <recipient>` of [`PLAIN_YAML`] into `enc.yaml`.
fn sops_encrypt(s: &Scratch, sops: &Path, id: &Identity) {
    s.write("plain.yaml", PLAIN_YAML);
    let o = s
        .cmd(sops)
        .args(["encrypt", "--age", &id.recipient().encode(), "plain.yaml"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(o.status.success(), "sops encrypt: {}", stderr(&o));
    let enc = String::from_utf8(o.stdout).unwrap();
    assert!(
        enc.contains(&format!("recipient: {}", id.recipient().encode())),
        "{enc}"
    );
    assert!(!enc.contains("hunter2"), "{enc}");
    s.write("enc.yaml", &enc);
}

#[test]
fn real_sops_encrypts_to_the_plugin_recipient_and_decrypts_with_sops_age_key_file() {
    let sops = require!(sealbox_testkit::sops());
    let s = Scratch::new();
    let id = key(Mode::Silent, 11);
    sops_encrypt(&s, &sops, &id);
    s.identity_file("keys.txt", &id);
    let o = s
        .cmd(&sops)
        .args(["decrypt", "enc.yaml"])
        .env("SOPS_AGE_KEY_FILE", s.p("keys.txt"))
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(o.status.success(), "sops decrypt: {}", stderr(&o));
    assert_eq!(String::from_utf8_lossy(&o.stdout), PLAIN_YAML);
    let short = id.recipient().short_id();
    assert_eq!(
        s.log(),
        [
            "start recipient-v1".to_string(),
            format!("wrap {short} silent ok"),
            "start identity-v1".to_string(),
            format!("unwrap {short} silent ok"),
        ],
        "one plugin run each way"
    );

    // Another plugin key does not open it.
    s.identity_file("other.txt", &key(Mode::Silent, 12));
    let o = s
        .cmd(&sops)
        .args(["decrypt", "enc.yaml"])
        .env("SOPS_AGE_KEY_FILE", s.p("other.txt"))
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(128), "{}", stderr(&o));
}

#[test]
fn real_sops_asks_for_the_plugin_pin_on_the_terminal() {
    let sops = require!(sealbox_testkit::sops());
    require!(sealbox_testkit::pty::setsid());
    let s = Scratch::new();
    let id = key(Mode::Pin, 13);
    sops_encrypt(&s, &sops, &id);
    s.identity_file("keys.txt", &id);
    let short = id.recipient().short_id();
    let mut c = s.cmd(&sops);
    c.args(["decrypt", "--output", "out.yaml", "enc.yaml"])
        .env("SOPS_AGE_KEY_FILE", s.p("keys.txt"));
    let mut t = Pty::spawn(&c).unwrap();
    t.expect(&text::pin_prompt(&short), TIMEOUT).unwrap();
    t.wait_echo_off(TIMEOUT).unwrap();
    t.send_line(PIN).unwrap();
    assert!(t.wait(TIMEOUT).unwrap().success(), "{}", t.output());
    assert_eq!(s.read("out.yaml"), PLAIN_YAML);
    assert!(!t.output().contains(PIN), "{}", t.output());
}

#[test]
fn real_sops_confirms_and_reads_public_values_on_the_terminal_too() {
    let sops = require!(sealbox_testkit::sops());
    require!(sealbox_testkit::pty::setsid());
    let s = Scratch::new();
    let id = key(Mode::Confirm, 14);
    sops_encrypt(&s, &sops, &id);
    s.identity_file("keys.txt", &id);
    let short = id.recipient().short_id();
    let run = |mode: &str, prompt: &str, answer: &[u8]| {
        let _ = std::fs::remove_file(s.p("out.yaml"));
        let mut c = s.cmd(&sops);
        c.args(["decrypt", "--output", "out.yaml", "enc.yaml"])
            .env("SOPS_AGE_KEY_FILE", s.p("keys.txt"))
            .env("SEALBOXTEST_MODE", mode);
        let mut t = Pty::spawn(&c).unwrap();
        t.expect(prompt, TIMEOUT).unwrap();
        t.wait_echo_off(TIMEOUT).unwrap();
        t.send(answer).unwrap();
        let st = t.wait(TIMEOUT).unwrap();
        (st, t.output())
    };
    let confirm = format!(
        "{} (press [1] for \"yes\" or [2] for \"no\")",
        text::confirm_prompt(&short)
    );
    let (st, out) = run("confirm", &confirm, b"1");
    assert!(st.success(), "{out}");
    assert_eq!(s.read("out.yaml"), PLAIN_YAML);
    let (st, out) = run("confirm", &confirm, b"2");
    assert_eq!(st.code(), Some(128), "{out}");
    assert!(
        out.replace("\r\n      | ", " ")
            .contains("the user said no"),
        "{out}"
    );
    let (st, out) = run(
        "public",
        &text::public_prompt(&short),
        format!("{PUBLIC_VALUE}\r").as_bytes(),
    );
    assert!(st.success(), "{out}");
    assert_eq!(s.read("out.yaml"), PLAIN_YAML);
}

#[test]
fn real_sops_shows_plugin_messages_and_prompt_failures_only_when_verbose() {
    let sops = require!(sealbox_testkit::sops());
    require!(sealbox_testkit::pty::setsid());
    let s = Scratch::new();
    let id = key(Mode::Message, 15);
    sops_encrypt(&s, &sops, &id);
    s.identity_file("keys.txt", &id);
    let short = id.recipient().short_id();
    let message = format!("age: sealboxtest plugin: {}", text::message(&short));
    let decrypt = |verbose: bool, mode: &str| {
        let mut c = s.cmd(&sops);
        // `--verbose` is a flag of the legacy `sops -d` form, not of `sops decrypt`.
        if verbose {
            c.arg("--verbose");
        }
        c.args(["-d", "enc.yaml"])
            .env("SOPS_AGE_KEY_FILE", s.p("keys.txt"))
            .env("SEALBOXTEST_MODE", mode);
        run_without_terminal(&c)
    };

    let o = decrypt(false, "message");
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!stderr(&o).contains("sealboxtest plugin"), "{}", stderr(&o));
    // ... yet the plugin did send it (and sops answered ok).
    assert!(
        s.log()
            .contains(&format!("unwrap {short} message message shown")),
        "{:?}",
        s.log()
    );
    let o = decrypt(true, "message");
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains(&message), "{}", stderr(&o));

    // A PIN request without a terminal: sops answers fail, reports the plugin's error
    // and exits 128; the "could not read value" warning only with --verbose.
    let warning = "age: warning: could not read value for age-plugin-sealboxtest";
    let o = decrypt(false, "pin");
    assert_eq!(o.status.code(), Some(128), "{}", stderr(&o));
    let e = stderr(&o).replace("\n      | ", " ");
    assert!(
        e.contains(&format!(
            "sealboxtest plugin: sealboxtest key {short}: the client could not ask for the PIN"
        )),
        "{e}"
    );
    assert!(!e.contains(warning), "{e}");
    let o = decrypt(true, "pin");
    assert!(stderr(&o).contains(warning), "{}", stderr(&o));
}

#[test]
fn real_sops_runs_plugin_prompts_when_encrypting_too() {
    let sops = require!(sealbox_testkit::sops());
    require!(sealbox_testkit::pty::setsid());
    let s = Scratch::new();
    let id = key(Mode::Silent, 16);
    s.write("plain.yaml", PLAIN_YAML);
    let short = id.recipient().short_id();
    let mut c = s.cmd(&sops);
    c.args([
        "encrypt",
        "--age",
        &id.recipient().encode(),
        "--output",
        "enc.yaml",
        "plain.yaml",
    ])
    .env("SEALBOXTEST_WRAP_MODE", "pin");
    let mut t = Pty::spawn(&c).unwrap();
    t.expect(&text::pin_prompt(&short), TIMEOUT).unwrap();
    t.wait_echo_off(TIMEOUT).unwrap();
    t.send_line(PIN).unwrap();
    assert!(t.wait(TIMEOUT).unwrap().success(), "{}", t.output());
    assert!(
        s.read("enc.yaml").contains("sops:"),
        "{}",
        s.read("enc.yaml")
    );
    assert!(
        s.log().contains(&format!("wrap {short} pin ok")),
        "{:?}",
        s.log()
    );
}
