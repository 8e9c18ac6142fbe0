//! The Mic92/ssh-to-age behaviour table (`tests/vectors/ssh-to-age/cases.json`) is usable
//! and right where it can be checked without Mic92's tool: every case is well formed, and
//! every age key it expects is the conversion of the SSH key in that case's input,
//! re-derived here (RFC 7748's Edwards-to-Montgomery map for recipients; `age-keygen -y`
//! of each expected identity must give the recipient of the key it came from). What the
//! tool prints on errors was read from its Go source (see the table's README).

use sealbox_tests::json::{self, Value};
use sealbox_tests::{require, vectors_dir};
use std::collections::BTreeSet;
use std::process::{Command, Stdio};

fn table() -> Value {
    let text = std::fs::read_to_string(vectors_dir("ssh-to-age").join("cases.json")).unwrap();
    json::parse(&text).unwrap()
}

fn cases(t: &Value) -> &[Value] {
    match t.get("cases") {
        Some(Value::Arr(c)) => c,
        other => panic!("no cases array: {other:?}"),
    }
}

fn s<'a>(c: &'a Value, key: &str) -> &'a str {
    c.get(key)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("{key} is not a string in {c:?}"))
}

fn name(c: &Value) -> &str {
    s(c, "name")
}

/// Every text of a case's input: stdin and the files it writes.
fn inputs(c: &Value) -> Vec<&str> {
    let mut out = vec![s(c, "stdin")];
    if let Some(Value::Obj(files)) = c.get("files") {
        out.extend(files.iter().filter_map(|(_, v)| v.as_str()));
    }
    out
}

/// The age recipient of an ssh-ed25519 public key blob (base64 of the SSH wire format).
fn age_recipient_of_blob(b64: &str) -> Option<String> {
    use base64::Engine;
    let blob = base64::engine::general_purpose::STANDARD.decode(b64).ok()?;
    let (prefix, key) = blob.split_at(blob.len().checked_sub(32)?);
    if prefix != b"\0\0\0\x0bssh-ed25519\0\0\0\x20" {
        return None;
    }
    recipient_of(key.try_into().ok()?)
}

fn recipient_of(ed_public: [u8; 32]) -> Option<String> {
    let point = curve25519_dalek::edwards::CompressedEdwardsY(ed_public).decompress()?;
    let u = point.to_montgomery().to_bytes();
    bech32::encode::<bech32::Bech32>(bech32::Hrp::parse("age").unwrap(), &u).ok()
}

/// The recipients of every ssh-ed25519 key of a case's input (public key lines and
/// OpenSSH private keys, encrypted or not: their public part is in the clear).
fn input_recipients(c: &Value) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for text in inputs(c) {
        for word in text.split([' ', '\n', '\r']) {
            if let Some(r) = age_recipient_of_blob(word) {
                out.insert(r);
            }
        }
        if let Ok(k) = ssh_key::PrivateKey::from_openssh(text) {
            if let Some(ed) = k.public_key().key_data().ed25519() {
                out.extend(recipient_of(ed.0));
            }
        }
    }
    out
}

#[test]
fn every_case_is_well_formed() {
    let t = table();
    let cases = cases(&t);
    assert!(cases.len() >= 60, "{} cases", cases.len());
    let mut names = BTreeSet::new();
    for c in cases {
        let n = name(c);
        assert!(names.insert(n.to_string()), "duplicate case {n}");
        assert!(!s(c, "why").is_empty(), "{n}");
        let Some(Value::Arr(args)) = c.get("args") else {
            panic!("{n}: args")
        };
        assert!(args.iter().all(|a| a.as_str().is_some()), "{n}: args");
        for key in ["files", "env"] {
            let Some(Value::Obj(m)) = c.get(key) else {
                panic!("{n}: {key}")
            };
            assert!(m.iter().all(|(_, v)| v.as_str().is_some()), "{n}: {key}");
        }
        assert!(matches!(c.get("dirs"), Some(Value::Arr(_))), "{n}: dirs");
        if let Some(after) = c.get("files_after") {
            let Value::Obj(m) = after else {
                panic!("{n}: files_after")
            };
            assert!(
                m.iter()
                    .all(|(_, v)| matches!(v, Value::Str(_) | Value::Null)),
                "{n}"
            );
        }
        let (stdout, stderr) = (s(c, "stdout"), s(c, "stderr"));
        let exit = match c.get("exit") {
            Some(Value::Num(x)) => x.clone(),
            other => panic!("{n}: exit {other:?}"),
        };
        match exit.as_str() {
            // Success: stderr holds only skip warnings or the usage of -h.
            "0" => assert!(
                stderr.lines().all(|l| l.starts_with("skipped key: got "))
                    || stderr.starts_with("Usage of {argv0}:\n"),
                "{n}: {stderr}"
            ),
            // Errors: one message, prefixed with the program name as Go's main prints it.
            "1" => assert!(
                stderr.starts_with("{argv0}: ") && stderr.ends_with('\n'),
                "{n}: {stderr}"
            ),
            // Flag errors: the flag package's message, then the usage.
            "2" => assert!(stderr.contains("\nUsage of {argv0}:\n"), "{n}: {stderr}"),
            x => panic!("{n}: exit {x}"),
        }
        assert!(
            stdout.is_empty() || stdout.ends_with('\n'),
            "{n}: {stdout:?}"
        );
    }
}

#[test]
fn every_expected_recipient_is_the_conversion_of_an_input_key() {
    let t = table();
    let mut checked = 0;
    for c in cases(&t) {
        let mut outputs: Vec<&str> = s(c, "stdout").lines().collect();
        if let Some(Value::Obj(after)) = c.get("files_after") {
            outputs.extend(
                after
                    .iter()
                    .filter_map(|(_, v)| v.as_str())
                    .flat_map(str::lines),
            );
        }
        let recipients: Vec<&str> = outputs
            .into_iter()
            .filter(|l| l.starts_with("age1"))
            .collect();
        if recipients.is_empty() {
            continue;
        }
        let derived = input_recipients(c);
        for r in recipients {
            assert!(derived.contains(r), "{}: {r} not in {derived:?}", name(c));
            checked += 1;
        }
    }
    assert!(checked >= 25, "only {checked} recipients checked");
}

#[test]
fn every_expected_identity_belongs_to_the_input_key() {
    let age_keygen = require!(sealbox_testkit::age_keygen());
    let t = table();
    let mut checked = 0;
    for c in cases(&t) {
        let mut outputs: Vec<&str> = s(c, "stdout").lines().collect();
        if let Some(Value::Obj(after)) = c.get("files_after") {
            outputs.extend(
                after
                    .iter()
                    .filter_map(|(_, v)| v.as_str())
                    .flat_map(str::lines),
            );
        }
        for id in outputs
            .into_iter()
            .filter(|l| l.starts_with("AGE-SECRET-KEY-1"))
        {
            let mut child = Command::new(&age_keygen)
                .arg("-y")
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .spawn()
                .unwrap();
            use std::io::Write;
            writeln!(child.stdin.take().unwrap(), "{id}").unwrap();
            let o = child.wait_with_output().unwrap();
            assert!(o.status.success(), "{}", name(c));
            let r = String::from_utf8(o.stdout).unwrap();
            let derived = input_recipients(c);
            assert!(
                derived.contains(r.trim()),
                "{}: {} not in {derived:?}",
                name(c),
                r.trim()
            );
            checked += 1;
        }
    }
    assert!(checked >= 6, "only {checked} identities checked");
}

/// A case's expected field for sealbox: its `sealbox` override, else the tool's.
fn expected<'a>(c: &'a Value, key: &str) -> Option<&'a Value> {
    c.get("sealbox")
        .and_then(|o| o.get(key))
        .or_else(|| c.get(key))
}

/// Runs one case with `program` (and `pre` before the case's arguments); `argv0` is what
/// the program prints as its name. Returns the mismatches.
fn run_case(
    c: &Value,
    program: &std::path::Path,
    pre: &[&str],
    path: &std::ffi::OsStr,
    argv0: &str,
) -> Vec<String> {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    if let Some(Value::Obj(files)) = c.get("files") {
        for (f, v) in files {
            std::fs::write(dir.path().join(f), v.as_str().unwrap()).unwrap();
        }
    }
    if let Some(Value::Arr(dirs)) = c.get("dirs") {
        for d in dirs {
            std::fs::create_dir_all(dir.path().join(d.as_str().unwrap())).unwrap();
        }
    }
    let mut cmd = Command::new(program);
    cmd.args(pre)
        .current_dir(dir.path())
        .env("PATH", path)
        .env_remove("SSH_TO_AGE_PASSPHRASE")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(Value::Arr(args)) = c.get("args") {
        cmd.args(args.iter().map(|a| a.as_str().unwrap()));
    }
    if let Some(Value::Obj(env)) = c.get("env") {
        for (k, v) in env {
            cmd.env(k, v.as_str().unwrap());
        }
    }
    let mut child = cmd.spawn().unwrap();
    let stdin = s(c, "stdin").to_string();
    let mut w = child.stdin.take().unwrap();
    let feeder = std::thread::spawn(move || {
        let _ = w.write_all(stdin.as_bytes());
    });
    let o = child.wait_with_output().unwrap();
    feeder.join().unwrap();
    let fill = |t: &str| {
        t.replace("{argv0}", argv0)
            .replace("{version}", env!("CARGO_PKG_VERSION"))
    };
    let mut bad = Vec::new();
    let exit = match expected(c, "exit") {
        Some(Value::Num(x)) => x.parse::<i32>().unwrap(),
        other => panic!("{}: exit {other:?}", name(c)),
    };
    if o.status.code() != Some(exit) {
        bad.push(format!("exit {:?}, expected {exit}", o.status.code()));
    }
    for (stream, got) in [("stdout", &o.stdout), ("stderr", &o.stderr)] {
        let want = fill(expected(c, stream).and_then(Value::as_str).unwrap());
        if got.as_slice() != want.as_bytes() {
            bad.push(format!(
                "{stream}: got {:?}, expected {want:?}",
                String::from_utf8_lossy(got)
            ));
        }
    }
    if let Some(Value::Obj(after)) = expected(c, "files_after") {
        for (f, v) in after {
            let got = std::fs::read_to_string(dir.path().join(f)).ok();
            if got.as_deref() != v.as_str() {
                bad.push(format!("{f}: got {got:?}, expected {v:?}"));
            }
        }
    }
    bad
}

/// Every case of the table against `sealbox ssh-to-age` and against sealbox started through
/// a link named `ssh-to-age` (found on PATH, so its argv[0] is `ssh-to-age`, as when users
/// type it): exact stdout, stderr, exit code and files, with the deliberate differences of
/// the cases' `sealbox` entries.
#[test]
fn every_case_runs_as_the_table_says_as_a_subcommand_and_as_a_link_named_ssh_to_age() {
    let sealbox = require!(sealbox_tests::sealbox_bin());
    let t = table();
    let links = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(&sealbox, links.path().join("ssh-to-age")).unwrap();
    let path = std::env::join_paths(std::iter::once(links.path().to_path_buf()).chain(
        std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()),
    ))
    .unwrap();
    let sub_argv0 = format!("{} ssh-to-age", sealbox.display());
    let mut failures = Vec::new();
    let mut ran = 0;
    for c in cases(&t) {
        for (program, pre, argv0) in [
            (sealbox.clone(), &["ssh-to-age"][..], sub_argv0.as_str()),
            (
                std::path::PathBuf::from("ssh-to-age"),
                &[][..],
                "ssh-to-age",
            ),
        ] {
            let bad = run_case(c, &program, pre, &path, argv0);
            if !bad.is_empty() {
                failures.push(format!("{} ({argv0}): {}", name(c), bad.join("; ")));
            }
            ran += 1;
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {ran} runs differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(ran >= 120, "{ran}");
}

#[test]
fn every_deliberate_difference_says_why() {
    let t = table();
    let mut n = 0;
    for c in cases(&t) {
        if let Some(sb) = c.get("sealbox") {
            assert!(
                sb.get("why")
                    .and_then(Value::as_str)
                    .is_some_and(|w| w.len() > 20),
                "{}",
                name(c)
            );
            n += 1;
        }
    }
    assert!((10..=20).contains(&n), "{n} differences");
}
