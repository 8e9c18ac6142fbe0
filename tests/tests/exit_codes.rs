//! Error situations: sealbox exits with the same code as the real sops 3.11, and says something.

use sealbox_tests::{Keys, Peers, Sandbox};

#[test]
fn exit_codes_match_sops_yaml() {
    exit_codes_match_sops("yaml");
}

#[test]
fn exit_codes_match_sops_json() {
    exit_codes_match_sops("json");
}

fn exit_codes_match_sops(ext: &str) {
    let yaml = ext == "yaml";
    let peers = sealbox_tests::require!(Peers::get());
    let keys = Keys::generate(&peers);
    let other = Keys::generate(&peers);
    let sb = Sandbox::new();
    let r = keys.age1.recipient.as_str();
    let pick = |y: &'static str, j: &'static str| if yaml { y } else { j };
    sb.write(
        "ok",
        pick("a: b\nc: [1, 2]\n", "{\"a\": \"b\", \"c\": [1, 2]}\n"),
    );
    sb.write("empty", "");
    sb.write("list", pick("- a\n- b\n", "[1, 2]\n"));
    sb.write("dup", pick("a: 1\na: 2\n", "{\"a\": 1, \"a\": 2}\n"));
    sb.write("bad", pick("a: [unclosed\n", "{\"a\": "));
    sb.write("plain", pick("a: 1\n", "{\"a\": 1}\n"));
    sb.write(
        "bigint",
        pick(
            "a: 18446744073709551615\n",
            "{\"a\": 18446744073709551615}\n",
        ),
    );
    for f in ["ok", "empty", "list", "dup", "bad", "plain", "bigint"] {
        std::fs::rename(sb.work().join(f), sb.work().join(format!("{f}.{ext}"))).unwrap();
    }
    let ok = format!("ok.{ext}");
    let enc = sb
        .run(&peers.sops, &["encrypt", "--age", r, &ok], &[], None)
        .ok("sops encrypt");
    sb.write(&format!("enc.{ext}"), &enc.stdout);
    let f = |n: &str| -> &'static str { Box::leak(format!("{n}.{ext}").into_boxed_str()) };
    let good = keys.age1.key_file.to_str().unwrap();
    let wrong = other.age1.key_file.to_str().unwrap();
    type Case<'a> = (&'a str, Vec<&'a str>, Vec<(&'a str, &'a str)>, Option<i32>);
    let cases: Vec<Case> = vec![
        (
            "encrypt an encrypted file",
            vec!["encrypt", "--age", r, f("enc")],
            vec![],
            Some(203),
        ),
        (
            "encrypt an empty file",
            vec!["encrypt", "--age", r, f("empty")],
            vec![],
            if yaml { Some(92) } else { None },
        ),
        (
            "encrypt a top-level list",
            vec!["encrypt", "--age", r, f("list")],
            vec![],
            Some(2),
        ),
        (
            "encrypt duplicate keys",
            vec!["encrypt", "--age", r, f("dup")],
            vec![],
            if yaml { Some(2) } else { Some(-3) },
        ),
        (
            "encrypt a broken file",
            vec!["encrypt", "--age", r, f("bad")],
            vec![],
            if yaml { Some(2) } else { Some(-2) },
        ),
        (
            "encrypt without recipients",
            vec!["encrypt", f("ok")],
            vec![],
            Some(1),
        ),
        (
            "encrypt a uint64 leaf",
            vec!["encrypt", "--age", r, f("bigint")],
            vec![],
            None,
        ),
        (
            "two selectors",
            vec![
                "encrypt",
                "--age",
                r,
                "--encrypted-suffix",
                "_s",
                "--unencrypted-suffix",
                "_u",
                "ok.yaml",
            ],
            vec![],
            None,
        ),
        (
            "encrypt a missing file",
            vec!["encrypt", "--age", r, f("nope")],
            vec![],
            None,
        ),
        (
            "decrypt without identity",
            vec!["decrypt", f("enc")],
            vec![],
            Some(128),
        ),
        (
            "decrypt with a wrong identity",
            vec!["decrypt", f("enc")],
            vec![("SOPS_AGE_KEY_FILE", wrong)],
            Some(128),
        ),
        (
            "decrypt a plaintext file",
            vec!["decrypt", f("plain")],
            vec![("SOPS_AGE_KEY_FILE", good)],
            Some(1),
        ),
        (
            "decrypt a missing file",
            vec!["decrypt", f("nope")],
            vec![("SOPS_AGE_KEY_FILE", good)],
            None,
        ),
        (
            "extract a missing key",
            vec!["decrypt", "--extract", "[\"zz\"]", f("enc")],
            vec![("SOPS_AGE_KEY_FILE", good)],
            Some(1),
        ),
        (
            "extract a malformed path",
            vec!["decrypt", "--extract", "[zz]", f("enc")],
            vec![("SOPS_AGE_KEY_FILE", good)],
            Some(91),
        ),
        (
            "extract a string",
            vec!["decrypt", "--extract", "[\"a\"]", f("enc")],
            vec![("SOPS_AGE_KEY_FILE", good)],
            Some(0),
        ),
        (
            "extract a list element",
            vec!["decrypt", "--extract", "[\"c\"][1]", f("enc")],
            vec![("SOPS_AGE_KEY_FILE", good)],
            Some(0),
        ),
    ];
    let mut failures = Vec::new();
    for (what, args, env, want) in cases {
        let sops = sb.run(&peers.sops, &args, &env, None);
        let ours = sb.run(&peers.sealbox, &args, &env, None);
        // Some(-2): sops 3.11 encrypts a truncated JSON object as an empty document (exit 0),
        // a quirk sealbox need not copy; it may instead reject the input as unparsable (2).
        // Some(-3): sops 3.11 keeps both keys of a JSON object given twice (exit 0);
        // sealbox refuses them (exit 2), deliberately: see SECURITY.md.
        if want == Some(-3) {
            if sops.code != 0 || ours.code != 2 || !ours.stderr.contains("duplicate key") {
                failures.push(format!(
                    "{ext}: {what}: sops exits {} (expected 0), sealbox {} (expected 2, naming the duplicate key): {}",
                    sops.code,
                    ours.code,
                    ours.stderr.trim()
                ));
            }
            continue;
        }
        if want == Some(-2) {
            if ours.code != 2 && ours.code != sops.code {
                failures.push(format!(
                    "{ext}: {what}: sealbox exits {}, expected 2: {}",
                    ours.code,
                    ours.stderr.trim()
                ));
            }
            continue;
        }
        if let Some(w) = want {
            if sops.code != w {
                failures.push(format!(
                    "{ext}: {what}: real sops exits {} (test expects {w}): {}",
                    sops.code,
                    sops.stderr.trim()
                ));
            }
        }
        if ours.code != sops.code {
            failures.push(format!(
                "{ext}: {what}: sealbox exits {}, real sops exits {}\n  sealbox stderr: {}\n  sops stderr: {}",
                ours.code,
                sops.code,
                ours.stderr.trim(),
                sops.stderr.trim()
            ));
        } else if ours.code != 0 && ours.stderr.trim().is_empty() {
            failures.push(format!(
                "{ext}: {what}: sealbox exits {} without a message",
                ours.code
            ));
        } else if ours.code == 0 && args[0] == "decrypt" && ours.stdout != sops.stdout {
            failures.push(format!(
                "{ext}: {what}: sealbox prints {:?}, sops prints {:?}",
                ours.stdout_str(),
                sops.stdout_str()
            ));
        }
    }
    if !failures.is_empty() {
        let dir = sb.keep();
        panic!(
            "{} mismatches (files in {}):\n\n{}",
            failures.len(),
            dir.display(),
            failures.join("\n\n")
        );
    }
}

/// `-i`, `--output`, stdin with `--filename-override`: results readable by the real sops,
/// plaintext outputs not readable by others.
#[test]
fn io_flags() {
    use sealbox_tests::json;
    use std::os::unix::fs::PermissionsExt;
    let peers = sealbox_tests::require!(Peers::get());
    let keys = Keys::generate(&peers);
    let sb = Sandbox::new();
    let r = keys.age1.recipient.as_str();
    let key_env = [(keys.age1.env_var, keys.age1.key_file.to_str().unwrap())];
    let doc = "{\"a\": \"secret-a\", \"n\": {\"b\": [1, true, null]}}\n";
    let want = json::parse(doc).unwrap();
    let same =
        |bytes: &[u8]| json::parse(&String::from_utf8_lossy(bytes)).ok() == Some(want.clone());

    // encrypt -i, then the real sops decrypts the file in place of the plaintext
    let p = sb.write("inplace.json", doc);
    sb.run(
        &peers.sealbox,
        &["encrypt", "-i", "--age", r, "inplace.json"],
        &[],
        None,
    )
    .ok("sealbox encrypt -i");
    let enc = std::fs::read_to_string(&p).unwrap();
    assert!(
        enc.contains("ENC[AES256_GCM,") && !enc.contains("secret-a"),
        "not encrypted in place:\n{enc}"
    );
    let d = sb
        .run(&peers.sops, &["decrypt", "inplace.json"], &key_env, None)
        .ok("sops decrypt");
    assert!(
        same(&d.stdout),
        "sops reads sealbox's -i output as {}",
        d.stdout_str()
    );

    // decrypt --output F: plaintext file, not readable by others
    let d = sb
        .run(
            &peers.sealbox,
            &["decrypt", "--output", "out.json", "inplace.json"],
            &key_env,
            None,
        )
        .ok("sealbox decrypt --output");
    assert!(d.stdout.is_empty(), "--output must leave stdout empty");
    let out = sb.work().join("out.json");
    assert!(same(&std::fs::read(&out).unwrap()), "--output content");
    let mode = std::fs::metadata(&out).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode & 0o077, 0, "plaintext --output file has mode {mode:o}");

    // decrypt -i
    sb.run(
        &peers.sealbox,
        &["decrypt", "-i", "inplace.json"],
        &key_env,
        None,
    )
    .ok("sealbox decrypt -i");
    assert!(same(&std::fs::read(&p).unwrap()), "decrypt -i content");

    // encrypt from stdin with --filename-override, read back by sops
    let e = sb
        .run(
            &peers.sealbox,
            &["encrypt", "--age", r, "--filename-override", "x.json", "-"],
            &[],
            Some(doc.as_bytes()),
        )
        .ok("sealbox encrypt - --filename-override x.json");
    sb.write("stdin.enc.json", &e.stdout);
    let d = sb
        .run(&peers.sops, &["decrypt", "stdin.enc.json"], &key_env, None)
        .ok("sops decrypt");
    assert!(
        same(&d.stdout),
        "sops reads sealbox's stdin encryption as {}",
        d.stdout_str()
    );

    // -i with --output conflicts (sops: exit 8)
    sb.write("c.json", doc);
    let args = ["encrypt", "-i", "--output", "o.json", "--age", r, "c.json"];
    let sops = sb.run(&peers.sops, &args, &[], None);
    let ours = sb.run(&peers.sealbox, &args, &[], None);
    assert_eq!(
        ours.code, sops.code,
        "-i with --output: sealbox {} ({}), sops {}",
        ours.code, ours.stderr, sops.code
    );
}
