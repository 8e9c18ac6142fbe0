//! Key groups with Shamir thresholds, and `updatekeys`, against the real sops: each tool
//! decrypts the other's multi-group files with any `threshold` groups' keys and fails with
//! fewer; after `updatekeys` a removed recipient can no longer decrypt.

use sealbox_tests::json::{self, Value};
use sealbox_tests::{Peers, Sandbox};
use std::path::Path;

/// A fresh age identity: (recipient, the identity file's text).
fn age_key(peers: &Peers, dir: &Path, name: &str) -> (String, String) {
    let (r, f) = sealbox_tests::age_keygen(peers, dir, name);
    (r, std::fs::read_to_string(f).unwrap())
}

const PLAIN: &str =
    "db:\n    user: admin\n    password: correct horse battery staple\nport: 5432\n";

fn groups_config(recipients: &[&str], threshold: usize) -> String {
    let mut s = String::from("creation_rules:\n  - path_regex: \\.yaml$\n    key_groups:\n");
    for r in recipients {
        s.push_str(&format!("      - age:\n          - {r}\n"));
    }
    s.push_str(&format!("    shamir_threshold: {threshold}\n"));
    s
}

/// Every subset of `0..n` of size `k`.
fn subsets(n: usize, k: usize) -> Vec<Vec<usize>> {
    (0u32..(1 << n))
        .filter(|m| m.count_ones() as usize == k)
        .map(|m| (0..n).filter(|i| m & (1 << i) != 0).collect())
        .collect()
}

fn run_groups(n: usize, threshold: usize) {
    let peers = sealbox_tests::require!(Peers::get());
    let dir = tempfile::tempdir().unwrap();
    let keys: Vec<(String, String)> = (0..n)
        .map(|i| age_key(&peers, dir.path(), &format!("g{i}")))
        .collect();
    let sb = Sandbox::new();
    let rs: Vec<&str> = keys.iter().map(|k| k.0.as_str()).collect();
    sb.write(".sops.yaml", groups_config(&rs, threshold));
    sb.write("plain.yaml", PLAIN);
    let ours = sb
        .run(&peers.sealbox, &["encrypt", "plain.yaml"], &[], None)
        .ok("sealbox encrypt")
        .stdout_str();
    assert!(
        ours.contains(&format!("shamir_threshold: {threshold}")) && ours.contains("key_groups:"),
        "{ours}"
    );
    sb.write("ours.yaml", &ours);
    let theirs = sb
        .run(&peers.sops, &["-e", "plain.yaml"], &[], None)
        .ok("sops -e")
        .stdout_str();
    sb.write("theirs.yaml", &theirs);

    let env_for = |set: &[usize]| {
        let text: Vec<&str> = set.iter().map(|&i| keys[i].1.as_str()).collect();
        text.join("\n")
    };
    for set in subsets(n, threshold) {
        let k = env_for(&set);
        let env = [("SOPS_AGE_KEY", k.as_str())];
        let out = sb
            .run(&peers.sops, &["-d", "ours.yaml"], &env, None)
            .ok(&format!("sops -d (sealbox's file) with groups {set:?}"));
        assert_eq!(out.stdout_str(), PLAIN, "sops, groups {set:?}");
        let out = sb
            .run(&peers.sealbox, &["decrypt", "theirs.yaml"], &env, None)
            .ok(&format!("sealbox decrypt (sops' file) with groups {set:?}"));
        assert_eq!(out.stdout_str(), PLAIN, "sealbox, groups {set:?}");
    }
    for set in subsets(n, threshold - 1) {
        let k = env_for(&set);
        let env = [("SOPS_AGE_KEY", k.as_str())];
        let out = sb.run(&peers.sops, &["-d", "ours.yaml"], &env, None);
        assert_eq!(out.code, 128, "sops with groups {set:?}: {}", out.stderr);
        let out = sb.run(&peers.sealbox, &["decrypt", "theirs.yaml"], &env, None);
        assert_eq!(out.code, 128, "sealbox with groups {set:?}: {}", out.stderr);
        assert!(out.stdout.is_empty());
    }
    // Both files match the rule: `check` is clean for each.
    let out = sb.run(
        &peers.sealbox,
        &["check", "ours.yaml", "theirs.yaml"],
        &[],
        None,
    );
    assert_eq!(out.code, 0, "{}{}", out.stdout_str(), out.stderr);
}

#[test]
fn three_groups_threshold_two_interoperate() {
    run_groups(3, 2);
}

#[test]
fn two_groups_threshold_two_interoperate() {
    run_groups(2, 2);
}

/// The `sops.age` recipients and the values' ENC strings of an encrypted JSON file.
fn recipients_and_values(text: &str) -> (Vec<String>, Vec<String>) {
    let v = json::parse(text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    let Some(Value::Arr(list)) = v.get("sops").and_then(|s| s.get("age")) else {
        panic!("no sops.age in {text}")
    };
    let rs = list
        .iter()
        .map(|e| {
            e.get("recipient")
                .and_then(Value::as_str)
                .unwrap()
                .to_string()
        })
        .collect();
    let vals = ["a", "b"]
        .iter()
        .map(|k| v.get(k).and_then(Value::as_str).unwrap().to_string())
        .collect();
    (rs, vals)
}

#[test]
fn updatekeys_removes_a_recipient_for_the_real_sops() {
    let peers = sealbox_tests::require!(Peers::get());
    let dir = tempfile::tempdir().unwrap();
    let (ra, ka) = age_key(&peers, dir.path(), "a");
    let (rb, kb) = age_key(&peers, dir.path(), "b");
    let sb = Sandbox::new();
    let both = format!("creation_rules:\n  - path_regex: \\.json$\n    age: {ra},{rb}\n");
    let only_a = format!("creation_rules:\n  - path_regex: \\.json$\n    age: {ra}\n");
    let plain = "{\"a\": \"alpha secret\", \"b\": \"beta secret\"}";
    let env_a = [("SOPS_AGE_KEY", ka.as_str())];
    let env_b = [("SOPS_AGE_KEY", kb.as_str())];

    for keep in [false, true] {
        sb.write(".sops.yaml", &both);
        sb.write("s.json", plain);
        sb.run(&peers.sealbox, &["encrypt", "-i", "s.json"], &[], None)
            .ok("sealbox encrypt");
        let before = std::fs::read_to_string(sb.work().join("s.json")).unwrap();
        let (r0, v0) = recipients_and_values(&before);
        assert_eq!(r0, [ra.clone(), rb.clone()]);
        sb.run(&peers.sops, &["-d", "s.json"], &env_b, None)
            .ok("sops -d as b before");

        sb.write(".sops.yaml", &only_a);
        // `check` notices the extra recipient before the update, and not after.
        let out = sb.run(&peers.sealbox, &["check"], &[], None);
        assert_eq!(out.code, 1);
        assert!(
            out.stdout_str()
                .starts_with(&format!("s.json: extra-recipient: key group 0: {rb} ")),
            "{}",
            out.stdout_str()
        );
        let mut args = vec!["updatekeys", "-y"];
        if keep {
            args.push("--keep-data-key");
        }
        args.push("s.json");
        sb.run(&peers.sealbox, &args, &env_a, None)
            .ok(&format!("sealbox {args:?}"));
        let after = std::fs::read_to_string(sb.work().join("s.json")).unwrap();
        let (r1, v1) = recipients_and_values(&after);
        assert_eq!(r1, vec![ra.clone()], "keep={keep}: {after}");
        let out = sb
            .run(&peers.sops, &["-d", "s.json"], &env_a, None)
            .ok(&format!("sops -d as a after (keep={keep})"));
        let dec = json::parse(&out.stdout_str()).unwrap();
        assert_eq!(dec.get("a").and_then(Value::as_str), Some("alpha secret"));
        assert_eq!(dec.get("b").and_then(Value::as_str), Some("beta secret"));
        let out = sb.run(&peers.sealbox, &["check"], &[], None);
        assert_eq!(
            out.code,
            0,
            "keep={keep}: {}{}",
            out.stdout_str(),
            out.stderr
        );
        if keep {
            assert_eq!(v0, v1, "--keep-data-key must keep the values' ciphertexts");
        } else {
            let out = sb.run(&peers.sops, &["-d", "s.json"], &env_b, None);
            assert_eq!(out.code, 128, "b still decrypts: {}", out.stderr);
            for (x, y) in v0.iter().zip(&v1) {
                assert_ne!(x, y, "the data key was not changed");
            }
        }
    }
}
