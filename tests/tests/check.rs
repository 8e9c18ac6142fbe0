//! `sealbox check`: in a repository of 51 files it finds exactly the planted problems, in
//! every output format; with `--decrypt` it finds a tampered MAC. (What a hostile pull
//! request tries is `check_hostile.rs`.)

use sealbox_tests::json::{self, Value};
use sealbox_tests::{Peers, Sandbox};
use std::path::{Path, PathBuf};

/// A fresh age identity: (recipient, key file).
fn age_key(peers: &Peers, dir: &Path, name: &str) -> (String, PathBuf) {
    sealbox_tests::age_keygen(peers, dir, name)
}

struct Repo {
    sb: Sandbox,
    peers: Peers,
    host: (String, PathBuf),
    admin: (String, PathBuf),
    p1: (String, PathBuf),
    p2: (String, PathBuf),
    _keys: tempfile::TempDir,
}

/// The planted problems: (file, kind, a fragment of the message).
fn expected(r: &Repo) -> Vec<(String, String, String)> {
    vec![
        (
            // Hidden directories are walked: a plaintext secret there is found.
            "hosts/.cache/plain.yaml".into(),
            "unencrypted".into(),
            "not encrypted".into(),
        ),
        (
            "hosts/h03.yaml".into(),
            "unencrypted".into(),
            "not encrypted".into(),
        ),
        (
            "hosts/h07.yaml".into(),
            "missing-recipient".into(),
            r.host.0.clone(),
        ),
        (
            "hosts/h11.yaml".into(),
            "bad-metadata".into(),
            "version".into(),
        ),
        (
            "team/t05.json".into(),
            "extra-recipient".into(),
            r.admin.0.clone(),
        ),
        (
            "team/t09.json".into(),
            "stale-data-key".into(),
            "2020-01-01T00:00:00Z".into(),
        ),
    ]
}

fn setup(peers: &Peers) -> Repo {
    let keys = tempfile::tempdir().unwrap();
    let host = age_key(peers, keys.path(), "host");
    let admin = age_key(peers, keys.path(), "admin");
    let p1 = age_key(peers, keys.path(), "p1");
    let p2 = age_key(peers, keys.path(), "p2");
    let sb = Sandbox::new();
    sb.write(
        ".sops.yaml",
        format!(
            "creation_rules:\n  - path_regex: ^hosts/\n    age: {},{}\n  - path_regex: ^team/\n    age: >-\n      {},\n      {}\n",
            host.0, admin.0, p1.0, p2.0
        ),
    );
    // Not matched by any rule and holding no sops data: never reported.
    sb.write("README.md", "# secrets\n");
    sb.write("hosts/.cache/plain.yaml", "password: hunter2\n");
    sb.write("target/hosts/plain.yaml", "password: hunter2\n");
    let run_ok = |args: &[&str]| {
        sb.run(&peers.sealbox, args, &[], None)
            .ok(&format!("sealbox {args:?}"));
    };
    for i in 0..25 {
        let name = format!("hosts/h{i:02}.yaml");
        sb.write(&name, format!("db_password: secret-{i}\nport: {i}\n"));
        match i {
            3 => {} // left unencrypted
            7 => run_ok(&["encrypt", "--age", &admin.0, "-i", &name]),
            _ => run_ok(&["encrypt", "-i", &name]),
        }
    }
    for i in 0..25 {
        let name = format!("team/t{i:02}.json");
        sb.write(&name, format!("{{\"token\": \"tok-{i}\", \"n\": {i}}}\n"));
        if i == 5 {
            let all = format!("{},{},{}", p1.0, p2.0, admin.0);
            run_ok(&["encrypt", "--age", &all, "-i", &name]);
        } else {
            run_ok(&["encrypt", "-i", &name]);
        }
    }
    // A stale data key: an old lastmodified, edited by hand.
    let t9 = sb.work().join("team/t09.json");
    let text = std::fs::read_to_string(&t9).unwrap();
    let start = text.find("\"lastmodified\": \"").unwrap() + "\"lastmodified\": \"".len();
    let end = start + text[start..].find('"').unwrap();
    let text = format!("{}2020-01-01T00:00:00Z{}", &text[..start], &text[end..]);
    std::fs::write(&t9, text).unwrap();
    // Broken metadata: a version that is not Major.Minor.Patch.
    let h11 = sb.work().join("hosts/h11.yaml");
    let text = std::fs::read_to_string(&h11).unwrap();
    assert!(text.contains("version: 3.11.0"), "{text}");
    std::fs::write(&h11, text.replace("version: 3.11.0", "version: banana")).unwrap();
    Repo {
        sb,
        peers: peers.clone(),
        host,
        admin,
        p1,
        p2,
        _keys: keys,
    }
}

#[test]
fn check_finds_exactly_the_planted_problems() {
    let peers = sealbox_tests::require!(Peers::get());
    let r = setup(&peers);
    let want = expected(&r);
    let check = |extra: &[&str]| {
        let mut args = vec!["check", "--max-age", "30"];
        args.extend_from_slice(extra);
        let out = r.sb.run(&r.peers.sealbox, &args, &[], None);
        assert_eq!(
            out.code,
            1,
            "check {extra:?} should exit 1\nstdout:\n{}\nstderr:\n{}",
            out.stdout_str(),
            out.stderr
        );
        assert!(
            out.stderr.contains("51 files checked, 6 findings"),
            "summary: {}",
            out.stderr
        );
        out.stdout_str()
    };

    // text
    let text = check(&[]);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), want.len(), "text output:\n{text}");
    for ((file, kind, frag), line) in want.iter().zip(&lines) {
        let prefix = format!("{file}: {kind}: ");
        assert!(
            line.starts_with(&prefix) && line.contains(frag.as_str()),
            "expected {prefix}…{frag}…, got {line}\n{text}"
        );
    }

    // json
    let out = check(&["--format", "json"]);
    let v = json::parse(&out).unwrap_or_else(|e| panic!("{e}\n{out}"));
    let Value::Arr(items) = v else {
        panic!("not an array: {out}")
    };
    let got: Vec<(String, String, String)> = items
        .iter()
        .map(|o| {
            let f = |k: &str| o.get(k).and_then(Value::as_str).unwrap().to_string();
            (f("file"), f("kind"), f("message"))
        })
        .collect();
    assert_eq!(got.len(), want.len(), "{out}");
    for ((file, kind, frag), (gf, gk, gm)) in want.iter().zip(&got) {
        assert_eq!((file, kind), (gf, gk), "{out}");
        assert!(gm.contains(frag.as_str()), "{gm} lacks {frag}");
    }

    // github
    let out = check(&["--format", "github"]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), want.len(), "{out}");
    for ((file, kind, frag), line) in want.iter().zip(&lines) {
        let prefix = format!("::error file={file}::{kind}: ");
        assert!(
            line.starts_with(&prefix) && line.contains(frag.as_str()),
            "expected {prefix}…, got {line}"
        );
    }

    // No secret in any output.
    for o in [&text, &out] {
        assert!(
            !o.contains("secret-") && !o.contains("tok-") && !o.contains("hunter2"),
            "{o}"
        );
    }

    // Without --max-age the stale key is not a finding; paths narrow the check.
    let out = r.sb.run(&r.peers.sealbox, &["check", "team"], &[], None);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert_eq!(
        out.stdout_str().lines().collect::<Vec<_>>(),
        [format!(
            "team/t05.json: extra-recipient: key group 0: {} is in the file but not in the rule",
            r.admin.0
        )]
    );
    let clean = ["hosts/h00.yaml", "team/t00.json"];
    let out = r.sb.run(
        &r.peers.sealbox,
        &[&["check"][..], &clean].concat(),
        &[],
        None,
    );
    assert_eq!(out.code, 0, "{}{}", out.stdout_str(), out.stderr);
    assert_eq!(out.stdout_str(), "");
    assert!(
        out.stderr.contains("2 files checked, 0 findings"),
        "{}",
        out.stderr
    );
    let out = r.sb.run(
        &r.peers.sealbox,
        &["check", "--format", "json", "team/t01.json"],
        &[],
        None,
    );
    assert_eq!((out.code, out.stdout_str().trim()), (0, "[]"));
}

#[test]
fn check_decrypt_finds_a_tampered_mac() {
    let peers = sealbox_tests::require!(Peers::get());
    let r = setup(&peers);
    // h01 gets h02's MAC (encrypted under another data key).
    let mac_of = |p: &Path| {
        let t = std::fs::read_to_string(p).unwrap();
        t.lines()
            .find(|l| l.trim_start().starts_with("mac: "))
            .unwrap()
            .to_string()
    };
    let h01 = r.sb.work().join("hosts/h01.yaml");
    let h02 = r.sb.work().join("hosts/h02.yaml");
    let (m1, m2) = (mac_of(&h01), mac_of(&h02));
    let t = std::fs::read_to_string(&h01).unwrap().replace(&m1, &m2);
    std::fs::write(&h01, t).unwrap();

    let host_key = r.host.1.display().to_string();
    let env = [("SOPS_AGE_KEY_FILE", host_key.as_str())];
    // Without --decrypt nothing is wrong with h01.
    let out =
        r.sb.run(&r.peers.sealbox, &["check", "hosts/h01.yaml"], &env, None);
    assert_eq!(out.code, 0, "{}{}", out.stdout_str(), out.stderr);
    let out = r.sb.run(
        &r.peers.sealbox,
        &["check", "--decrypt", "hosts/h01.yaml", "hosts/h02.yaml"],
        &env,
        None,
    );
    assert_eq!(out.code, 1, "{}", out.stderr);
    let text = out.stdout_str();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 1, "{text}");
    assert!(lines[0].starts_with("hosts/h01.yaml: mac: "), "{text}");
    assert!(!text.contains("secret-"), "{text}");
    // The real sops agrees that h01 is damaged and h02 is fine.
    let sops =
        r.sb.run(&r.peers.sops, &["-d", "hosts/h01.yaml"], &env, None);
    assert_ne!(sops.code, 0, "sops decrypted the tampered file");
    r.sb.run(&r.peers.sops, &["-d", "hosts/h02.yaml"], &env, None)
        .ok("sops -d h02");
    // Someone without a key for the team files: no-key.
    let out = r.sb.run(
        &r.peers.sealbox,
        &["check", "--decrypt", "team/t00.json"],
        &env,
        None,
    );
    assert_eq!(out.code, 1);
    assert!(
        out.stdout_str().starts_with("team/t00.json: no-key: "),
        "{}",
        out.stdout_str()
    );
    let p1 = r.p1.1.display().to_string();
    let out = r.sb.run(
        &r.peers.sealbox,
        &["check", "--decrypt", "team/t00.json"],
        &[("SOPS_AGE_KEY_FILE", p1.as_str())],
        None,
    );
    assert_eq!(out.code, 0, "{}{}", out.stdout_str(), out.stderr);
    let _ = (&r.admin, &r.p2);
}
