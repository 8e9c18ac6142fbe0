//! Tampered files: sealbox must refuse them with the exit code real sops 3.11 gives, name what
//! failed, never print a plaintext value, and let `--ignore-mac` through only MAC-level changes.

use sealbox_tests::{flip_b64_char, Keys, Peers, Sandbox};

const PLAIN: &str = "\
# top-comment-plaintext
hello_key: world-greeting-plaintext
nested:
    deep_secret: s3cr3t-value-plaintext
    count_num: 424242
list_items:
    - alpha-item-plaintext
    - 7
note_unencrypted: visible-note
";

const PLAIN_JSON: &str = r#"{
    "hello_key": "world-greeting-plaintext",
    "nested": {"deep_secret": "s3cr3t-value-plaintext", "count_num": 424242},
    "list_items": ["alpha-item-plaintext", 7],
    "note_unencrypted": "visible-note"
}
"#;

/// Plaintexts that must never appear in an error message.
const SECRETS: &[&str] = &[
    "world-greeting-plaintext",
    "s3cr3t-value-plaintext",
    "424242",
    "alpha-item-plaintext",
    "top-comment-plaintext",
    "leaked-plaintext-xyz",
];

#[derive(Debug)]
struct Mutation {
    name: String,
    text: String,
    /// Exit code expected from sops and sealbox.
    code: i32,
    /// Exit code expected with `--ignore-mac`.
    ignore_mac_code: i32,
    /// Word the error message must contain (key name, or "MAC").
    names: Option<&'static str>,
}

/// Byte index of the value of `field:` (data, iv, tag) within the ENC[…] on `line_no`.
fn field_pos(text: &str, line_start: usize, field: &str) -> usize {
    let line_end = text[line_start..]
        .find('\n')
        .map_or(text.len(), |i| line_start + i);
    let line = &text[line_start..line_end];
    let enc = line.find("ENC[AES256_GCM,").expect("ENC on line");
    let f = line[enc..]
        .find(&format!("{field}:"))
        .expect("field in ENC")
        + enc;
    line_start + f + field.len() + 1
}

fn line_start(text: &str, pred: impl Fn(&str) -> bool) -> usize {
    let mut pos = 0;
    for l in text.split_inclusive('\n') {
        if pred(l.trim()) {
            return pos;
        }
        pos += l.len();
    }
    panic!("no such line in\n{text}");
}

/// Whether a trimmed line holds `key`'s ENC value, in YAML (`key: ENC[`) or JSON
/// (`"key": "ENC[`) form; `key == ""` means a list element (`- ENC[` / `"ENC[`).
fn enc_line(l: &str, key: &str) -> bool {
    if key.is_empty() {
        return l.starts_with("- ENC[") || l.starts_with("\"ENC[");
    }
    l.starts_with(&format!("{key}: ENC[")) || l.starts_with(&format!("\"{key}\": \"ENC["))
}

fn mutations(enc: &str) -> Vec<Mutation> {
    let mut v = Vec::new();
    let values = [
        ("hello_key", "hello_key", "hello_key"),
        ("nested.deep_secret", "deep_secret", "deep_secret"),
        ("nested.count_num", "count_num", "count_num"),
        ("list_items[0]", "", "list_items"),
    ];
    for (what, key, names) in values {
        let ls = line_start(enc, |l| enc_line(l, key));
        for field in ["data", "iv", "tag"] {
            v.push(Mutation {
                name: format!("{what}: flipped {field}"),
                text: flip_b64_char(enc, field_pos(enc, ls, field)),
                code: 25,
                ignore_mac_code: 25,
                names: Some(names),
            });
        }
    }
    // a value replaced with plaintext ("does not match sops' data format"; sops leaks it)
    let ls = line_start(enc, |l| enc_line(l, "hello_key"));
    let vs = ls + enc[ls..].find("ENC[").unwrap();
    let ve = vs + enc[vs..].find(']').unwrap() + 1;
    v.push(Mutation {
        name: "hello_key replaced by a plaintext".into(),
        text: format!("{}leaked-plaintext-xyz{}", &enc[..vs], &enc[ve..]),
        code: 25,
        ignore_mac_code: 25,
        names: Some("hello_key"),
    });
    // two values swapped (each AEAD-bound to its own path)
    let span = |key: &str| {
        let ls = line_start(enc, |l| enc_line(l, key));
        let vs = ls + enc[ls..].find("ENC[").unwrap();
        (vs, vs + enc[vs..].find(']').unwrap() + 1)
    };
    let (a, b) = (span("hello_key"), span("deep_secret"));
    let (first, second) = if a.0 < b.0 { (a, b) } else { (b, a) };
    v.push(Mutation {
        name: "hello_key and deep_secret swapped".into(),
        text: format!(
            "{}{}{}{}{}",
            &enc[..first.0],
            &enc[second.0..second.1],
            &enc[first.1..second.0],
            &enc[first.0..first.1],
            &enc[second.1..]
        ),
        code: 25,
        ignore_mac_code: 25,
        names: None,
    });
    // a value emptied: "" is never encrypted, so only the MAC notices
    let (vs, ve) = span("deep_secret");
    let json = enc.trim_start().starts_with('{');
    v.push(Mutation {
        name: "deep_secret emptied".into(),
        text: format!(
            "{}{}{}",
            &enc[..vs - usize::from(json)],
            if json { "\"" } else { "\"\"" },
            &enc[ve..]
        ),
        code: 51,
        ignore_mac_code: 0,
        names: Some("MAC"),
    });
    // the MAC
    let ls = line_start(enc, |l| enc_line(l, "mac"));
    for field in ["data", "iv", "tag"] {
        v.push(Mutation {
            name: format!("mac: flipped {field}"),
            text: flip_b64_char(enc, field_pos(enc, ls, field)),
            code: 51,
            ignore_mac_code: 0,
            names: Some("MAC"),
        });
    }
    // lastmodified: one second later (still valid RFC 3339)
    let ls = line_start(enc, |l| {
        l.starts_with("lastmodified:") || l.starts_with("\"lastmodified\":")
    });
    let z = ls + enc[ls..].find("Z\"").expect("lastmodified ends with Z\"");
    let mut t = enc.as_bytes().to_vec();
    t[z - 1] = if t[z - 1] == b'0' { b'1' } else { b'0' };
    v.push(Mutation {
        name: "lastmodified changed by a second".into(),
        text: String::from_utf8(t).unwrap(),
        code: 51,
        ignore_mac_code: 0,
        names: Some("MAC"),
    });
    // an unencrypted value
    v.push(Mutation {
        name: "unencrypted value edited".into(),
        text: enc.replacen("visible-note", "visible-notf", 1),
        code: 51,
        ignore_mac_code: 0,
        names: Some("MAC"),
    });
    // the age-encrypted data key: a character in the middle of the armored body
    const BEGIN: &str = "-----BEGIN AGE ENCRYPTED FILE-----";
    let b = enc.find(BEGIN).expect("armored enc") + BEGIN.len();
    // YAML: a newline and indentation; JSON: a `\n` escape
    let body = if enc[b..].starts_with("\\n") {
        b + 2
    } else {
        b + 1 + enc[b + 1..].find(|c: char| c != ' ').unwrap()
    };
    v.push(Mutation {
        name: "age enc blob: flipped a char of the header".into(),
        text: flip_b64_char(enc, body + 30),
        code: 128,
        ignore_mac_code: 128,
        names: None,
    });
    v
}

fn check_file(peers: &Peers, keys: &Keys, writer: &str, ext: &str, enc: &str) -> Vec<String> {
    let mut failures = Vec::new();
    let env = [(keys.age1.env_var, keys.age1.key_file.to_str().unwrap())];
    let sb = Sandbox::new();
    // the untampered file decrypts
    let orig = format!("orig.enc.{ext}");
    sb.write(&orig, enc);
    let o = sb.run(&peers.sealbox, &["decrypt", &orig], &env, None);
    if o.code != 0 {
        failures.push(format!(
            "{writer}: untampered file fails to decrypt (exit {}): {}",
            o.code, o.stderr
        ));
    }
    for (i, m) in mutations(enc).into_iter().enumerate() {
        let name = format!("t{i}.enc.{ext}");
        sb.write(&name, &m.text);
        let sops = sb.run(&peers.sops, &["decrypt", &name], &env, None);
        let ours = sb.run(&peers.sealbox, &["decrypt", &name], &env, None);
        let ours_im = sb.run(
            &peers.sealbox,
            &["decrypt", "--ignore-mac", &name],
            &env,
            None,
        );
        let ctx = format!("{writer}-written {ext} file, {} ({})", m.name, name);
        if sops.code != m.code {
            failures.push(format!(
                "{ctx}: real sops exits {} (test expects {}): {}",
                sops.code,
                m.code,
                sops.stderr.trim()
            ));
        }
        if ours.code != m.code {
            failures.push(format!(
                "{ctx}: sealbox exits {}, expected {} (real sops: {})\nstderr: {}",
                ours.code,
                m.code,
                sops.code,
                ours.stderr.trim()
            ));
        }
        let printed = String::from_utf8_lossy(&ours.stdout);
        if ours.code != 0 && SECRETS.iter().any(|p| printed.contains(p)) {
            failures.push(format!(
                "{ctx}: sealbox failed but still printed plaintext on stdout"
            ));
        }
        for leak in SECRETS {
            for (label, err) in [("", &ours.stderr), (" --ignore-mac", &ours_im.stderr)] {
                if err.contains(leak) {
                    failures.push(format!("{ctx}: sealbox decrypt{label} error message leaks the plaintext {leak:?}: {err}"));
                }
            }
        }
        if ours.code != 0 {
            if ours.stderr.trim().is_empty() {
                failures.push(format!("{ctx}: sealbox fails without an error message"));
            }
            if let Some(word) = m.names {
                if !ours.stderr.to_lowercase().contains(&word.to_lowercase()) {
                    failures.push(format!(
                        "{ctx}: sealbox's error does not name {word:?}: {}",
                        ours.stderr.trim()
                    ));
                }
            }
        }
        if ours_im.code != m.ignore_mac_code {
            failures.push(format!(
                "{ctx}: sealbox decrypt --ignore-mac exits {}, expected {}\nstderr: {}",
                ours_im.code,
                m.ignore_mac_code,
                ours_im.stderr.trim()
            ));
        }
        let sops_im = sb.run(&peers.sops, &["decrypt", "--ignore-mac", &name], &env, None);
        if sops_im.code != ours_im.code {
            failures.push(format!(
                "{ctx}: with --ignore-mac sealbox exits {} but real sops exits {}",
                ours_im.code, sops_im.code
            ));
        }
        if m.ignore_mac_code == 0 && ours_im.code == 0 {
            let out = String::from_utf8_lossy(&ours_im.stdout);
            if !out.contains("world-greeting-plaintext") {
                failures.push(format!(
                    "{ctx}: --ignore-mac output lacks the decrypted values:\n{out}"
                ));
            }
        }
    }
    if !failures.is_empty() {
        let dir = sb.keep();
        failures.push(format!("{writer}: files kept in {}", dir.display()));
    }
    failures
}

#[test]
fn tampered_yaml_fails_like_sops() {
    tampered_files_fail_like_sops("yaml", PLAIN);
}

#[test]
fn tampered_json_fails_like_sops() {
    tampered_files_fail_like_sops("json", PLAIN_JSON);
}

fn tampered_files_fail_like_sops(ext: &str, plain: &str) {
    let peers = sealbox_tests::require!(Peers::get());
    let keys = Keys::generate(&peers);
    let sb = Sandbox::new();
    let file = format!("plain.{ext}");
    sb.write(&file, plain);
    let r = keys.age1.recipient.as_str();
    let sops = sb
        .run(&peers.sops, &["--age", r, "-e", &file], &[], None)
        .ok("sops encrypt");
    let ours = sb
        .run(&peers.sealbox, &["encrypt", "--age", r, &file], &[], None)
        .ok("sealbox encrypt");
    let mut failures = check_file(&peers, &keys, "sops", ext, &sops.stdout_str());
    failures.extend(check_file(
        &peers,
        &keys,
        "sealbox",
        ext,
        &ours.stdout_str(),
    ));
    assert!(
        failures.is_empty(),
        "{} tamper failures:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

/// A tampered encrypted comment is not an error in sops 3.11 (kept with a warning); sealbox
/// must give the same exit code as sops.
#[test]
fn tampered_comment_matches_sops() {
    let peers = sealbox_tests::require!(Peers::get());
    let keys = Keys::generate(&peers);
    let env = [(keys.age1.env_var, keys.age1.key_file.to_str().unwrap())];
    let sb = Sandbox::new();
    sb.write("plain.yaml", PLAIN);
    let enc = sb
        .run(
            &peers.sops,
            &["--age", &keys.age1.recipient, "-e", "plain.yaml"],
            &[],
            None,
        )
        .ok("sops encrypt");
    let enc = enc.stdout_str();
    let ls = line_start(&enc, |l| l.starts_with("#ENC["));
    let t = flip_b64_char(&enc, field_pos(&enc, ls, "data"));
    sb.write("c.enc.yaml", &t);
    let sops = sb.run(&peers.sops, &["decrypt", "c.enc.yaml"], &env, None);
    let ours = sb.run(&peers.sealbox, &["decrypt", "c.enc.yaml"], &env, None);
    assert_eq!(
        ours.code, sops.code,
        "tampered comment: sealbox exits {} ({}) but sops exits {} ({})",
        ours.code, ours.stderr, sops.code, sops.stderr
    );
    for leak in SECRETS {
        assert!(
            !ours.stderr.contains(leak),
            "stderr leaks {leak}: {}",
            ours.stderr
        );
    }
    if ours.code == 0 {
        assert!(
            ours.stdout_str().contains("world-greeting-plaintext"),
            "sealbox output lacks the other values:\n{}",
            ours.stdout_str()
        );
    }
}
