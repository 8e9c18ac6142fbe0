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
