//! `.sops.yaml` creation rules: sealbox picks the same recipients and selector as the real sops,
//! and each tool decrypts the other's file.

use sealbox_tests::json::{self, Value};
use sealbox_tests::{Keys, Peers, Sandbox};

/// (sorted recipients, selector entries) from an encrypted JSON file's metadata.
fn summary(enc: &str) -> (Vec<String>, Vec<(String, Value)>) {
    let v = json::parse(enc).unwrap_or_else(|e| panic!("{e}\n{enc}"));
    let md = v.get("sops").expect("sops metadata");
    let mut recips: Vec<String> = match md.get("age") {
        Some(Value::Arr(a)) => a
            .iter()
            .map(|e| {
                e.get("recipient")
                    .and_then(Value::as_str)
                    .unwrap_or("?")
                    .to_string()
            })
            .collect(),
        _ => Vec::new(),
    };
    recips.sort();
    let sel = match md {
        Value::Obj(m) => m
            .iter()
            .filter(|(k, _)| {
                k.ends_with("_suffix") || k.ends_with("_regex") || k == "mac_only_encrypted"
            })
            .cloned()
            .collect(),
        _ => Vec::new(),
    };
    (recips, sel)
}

#[test]
fn creation_rules_match_sops() {
    let peers = sealbox_tests::require!(Peers::get());
    let keys = Keys::generate(&peers);
    let sb = Sandbox::new();
    sb.write(
        ".sops.yaml",
        format!(
            "creation_rules:\n  - path_regex: \\.special\\.json$\n    age: {}\n    encrypted_regex: ^sec_\n  - path_regex: nested/.*\\.json$\n    age: '{}, {}'\n    unencrypted_suffix: _open\n  - age: {}\n",
            keys.age2.recipient, keys.age1.recipient, keys.ssh.recipient, keys.age1.recipient
        ),
    );
    let doc = "{\"sec_a\": \"one\", \"b_open\": \"two\", \"c\": {\"sec_d\": 3, \"e\": true}}\n";
    let all_env: Vec<(String, String)> = vec![
        ("SOPS_AGE_KEY".into(), {
            let a = std::fs::read_to_string(&keys.age1.key_file).unwrap();
            let b = std::fs::read_to_string(&keys.age2.key_file).unwrap();
            format!("{a}\n{b}")
        }),
        (
            keys.ssh.env_var.into(),
            keys.ssh.key_file.display().to_string(),
        ),
    ];
    let env: Vec<(&str, &str)> = all_env
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let mut failures = Vec::new();
    for name in ["x.special.json", "nested/y.json", "z.json"] {
        sb.write(name, doc);
        let sops = sb
            .run(&peers.sops, &["-e", name], &[], None)
            .ok(&format!("sops -e {name}"));
        let ours = sb.run(&peers.sealbox, &["encrypt", name], &[], None);
        if ours.code != 0 {
            failures.push(format!(
                "{name}: sealbox encrypt exits {}: {}",
                ours.code, ours.stderr
            ));
            continue;
        }
        let (s, o) = (summary(&sops.stdout_str()), summary(&ours.stdout_str()));
        if s != o {
            failures.push(format!("{name}: sops chose {s:?}, sealbox chose {o:?}"));
        }
        // cross-decrypt
        let enc_ours = format!("{name}.sealbox.json");
        let enc_sops = format!("{name}.sops.json");
        sb.write(&enc_ours, &ours.stdout);
        sb.write(&enc_sops, &sops.stdout);
        let a = sb.run(&peers.sops, &["decrypt", &enc_ours], &env, None);
        let b = sb.run(&peers.sealbox, &["decrypt", &enc_sops], &env, None);
        for (who, out) in [
            ("sops decrypting sealbox's", a),
            ("sealbox decrypting sops'", b),
        ] {
            if out.code != 0 {
                failures.push(format!(
                    "{name}: {who} file exits {}: {}",
                    out.code, out.stderr
                ));
            } else if json::parse(&out.stdout_str()).ok() != json::parse(doc).ok() {
                failures.push(format!("{name}: {who} file gives {}", out.stdout_str()));
            }
        }
    }
    if !failures.is_empty() {
        let dir = sb.keep();
        panic!("files kept in {}\n{}", dir.display(), failures.join("\n\n"));
    }
}
