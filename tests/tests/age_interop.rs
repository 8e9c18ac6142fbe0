//! The age layer: data keys in sealbox files open with the real `age`, `sealbox keygen` and
//! `sealbox ssh-to-age` agree with age-keygen and the sops-nix vectors, and the sops-nix file
//! decrypts as the real sops decrypts it.

use sealbox_tests::json::{self, Value};
use sealbox_tests::{vectors_dir, Keys, Peers, Sandbox};
use std::path::PathBuf;

fn vectors() -> PathBuf {
    vectors_dir("sops-nix")
}

const SOPS_NIX_SSH_RECIPIENT: &str =
    "age1a8pk4akrdamj7nvqy3zywgtny8dxz7t5xzu7u8v9mhrayp9freqsqatyrs";

/// (recipient, armored enc) pairs from the `sops.age` list of an encrypted JSON file.
fn age_entries(enc_json: &str) -> Vec<(String, String)> {
    let v = json::parse(enc_json).unwrap_or_else(|e| panic!("{e}\n{enc_json}"));
    let Some(Value::Arr(list)) = v.get("sops").and_then(|s| s.get("age")) else {
        panic!("no sops.age list in\n{enc_json}")
    };
    list.iter()
        .map(|e| {
            (
                e.get("recipient")
                    .and_then(Value::as_str)
                    .expect("recipient")
                    .to_string(),
                e.get("enc")
                    .and_then(Value::as_str)
                    .expect("enc")
                    .to_string(),
            )
        })
        .collect()
}

/// (recipient, armored enc) pairs from an encrypted YAML file (literal block `enc: |`).
fn age_entries_yaml(enc: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut recipient = None;
    let mut armor: Option<String> = None;
    for line in enc.lines() {
        let t = line.trim();
        if let Some(r) = t
            .strip_prefix("- recipient:")
            .or_else(|| t.strip_prefix("recipient:"))
        {
            recipient = Some(r.trim().trim_matches('"').to_string());
        } else if t == "-----BEGIN AGE ENCRYPTED FILE-----" {
            armor = Some(format!("{t}\n"));
        } else if let Some(a) = armor.as_mut() {
            a.push_str(t);
            a.push('\n');
            if t == "-----END AGE ENCRYPTED FILE-----" {
                out.push((
                    recipient.clone().expect("recipient before enc"),
                    armor.take().unwrap(),
                ));
            }
        }
    }
    out
}

#[test]
fn data_key_opens_with_real_age() {
    let peers = sealbox_tests::require!(Peers::get());
    let keys = Keys::generate(&peers);
    let sb = Sandbox::new();
    sb.write("plain.yaml", "secret: value\n");
    sb.write("plain.json", "{\"secret\": \"value\"}\n");
    let recips = format!("{},{}", keys.age1.recipient, keys.ssh.recipient);
    let j = sb
        .run(
            &peers.sealbox,
            &["encrypt", "--age", &recips, "plain.json"],
            &[],
            None,
        )
        .ok("sealbox encrypt json");
    let from_json = age_entries(&j.stdout_str());
    let y = sb
        .run(
            &peers.sealbox,
            &["encrypt", "--age", &recips, "plain.yaml"],
            &[],
            None,
        )
        .ok("sealbox encrypt yaml");
    for (what, entries) in [
        ("json", from_json),
        ("yaml", age_entries_yaml(&y.stdout_str())),
    ] {
        assert_eq!(
            entries.len(),
            2,
            "{what}: expected two age entries: {entries:?}"
        );
        let mut data_keys = Vec::new();
        for (id, (recipient, armored)) in [&keys.age1, &keys.ssh].into_iter().zip(&entries) {
            assert_eq!(recipient, &id.recipient, "{what}: recipient order/spelling");
            assert!(
                armored.ends_with("-----END AGE ENCRYPTED FILE-----\n"),
                "{what}: enc must end with a newline: {armored:?}"
            );
            let out = sb.run(
                &peers.age,
                &["-d", "-i", id.key_file.to_str().unwrap()],
                &[],
                Some(armored.as_bytes()),
            );
            let out = out.ok(&format!("{what}: age -d with the {} identity", id.name));
            assert_eq!(
                out.stdout.len(),
                32,
                "{what}: data key via {} is {} bytes",
                id.name,
                out.stdout.len()
            );
            data_keys.push(out.stdout);
        }
        assert_eq!(
            data_keys[0], data_keys[1],
            "{what}: both recipients must wrap the same data key"
        );
    }
}

#[test]
fn keygen_matches_age_keygen() {
    let peers = sealbox_tests::require!(Peers::get());
    let sb = Sandbox::new();
    let out = sb
        .run(&peers.sealbox, &["keygen", "-o", "k.txt"], &[], None)
        .ok("sealbox keygen");
    let key_file = sb.work().join("k.txt");
    let pubk = sb
        .run(
            &peers.age_keygen,
            &["-y", key_file.to_str().unwrap()],
            &[],
            None,
        )
        .ok("age-keygen -y on sealbox's key");
    let pubk = pubk.stdout_str().trim().to_string();
    assert!(pubk.starts_with("age1"), "{pubk}");
    assert!(
        out.stderr.contains(&pubk),
        "sealbox keygen stderr should print {pubk}: {}",
        out.stderr
    );
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&key_file).unwrap().permissions().mode() & 0o777;
    assert_eq!(
        mode & 0o077,
        0,
        "key file mode {mode:o} is readable by others"
    );
    // the real age encrypts to it and sealbox decrypts a sops file for it
    sb.write("p.json", "{\"a\": \"b\"}\n");
    let enc = sb
        .run(&peers.sops, &["--age", &pubk, "-e", "p.json"], &[], None)
        .ok("sops encrypt");
    sb.write("p.enc.json", &enc.stdout);
    let dec = sb
        .run(
            &peers.sealbox,
            &["decrypt", "p.enc.json"],
            &[("SOPS_AGE_KEY_FILE", key_file.to_str().unwrap())],
            None,
        )
        .ok("sealbox decrypt with its own key");
    assert_eq!(
        json::parse(&dec.stdout_str()).ok(),
        json::parse("{\"a\": \"b\"}").ok()
    );
}

#[test]
fn ssh_to_age_sops_nix_vectors() {
    let peers = sealbox_tests::require!(Peers::get());
    let v = vectors();
    let sb = Sandbox::new();
    let pubf = v.join("ssh-ed25519-key.pub");
    let out = sb
        .run(
            &peers.sealbox,
            &["ssh-to-age", "-i", pubf.to_str().unwrap()],
            &[],
            None,
        )
        .ok("sealbox ssh-to-age -i pub");
    assert_eq!(out.stdout_str().trim(), SOPS_NIX_SSH_RECIPIENT);
    let pub_text = std::fs::read(&pubf).unwrap();
    let out = sb
        .run(&peers.sealbox, &["ssh-to-age"], &[], Some(&pub_text))
        .ok("sealbox ssh-to-age < pub");
    assert_eq!(out.stdout_str().trim(), SOPS_NIX_SSH_RECIPIENT);

    let privf = v.join("ssh-ed25519-key");
    let out = sb
        .run(
            &peers.sealbox,
            &["ssh-to-age", "-private-key", "-i", privf.to_str().unwrap()],
            &[],
            None,
        )
        .ok("sealbox ssh-to-age -private-key");
    let secret = out.stdout_str().trim().to_string();
    assert!(
        secret.starts_with("AGE-SECRET-KEY-1"),
        "not an age secret key"
    );
    sb.write("converted.txt", format!("{secret}\n"));
    let y = sb
        .run(&peers.age_keygen, &["-y", "converted.txt"], &[], None)
        .ok("age-keygen -y on the converted key");
    assert_eq!(y.stdout_str().trim(), SOPS_NIX_SSH_RECIPIENT);

    // the converted key decrypts the sops-nix file, with sealbox and with the real sops
    let file = v.join("secrets.yaml");
    let file = file.to_str().unwrap();
    let want = sb
        .run(
            &peers.sops,
            &["decrypt", "--output-type", "json", file],
            &[("SOPS_AGE_KEY", &secret)],
            None,
        )
        .ok("real sops decrypt with the converted key");
    let got = sb
        .run(
            &peers.sealbox,
            &["decrypt", "--output-type", "json", file],
            &[("SOPS_AGE_KEY", &secret)],
            None,
        )
        .ok("sealbox decrypt with SOPS_AGE_KEY = converted ssh key");
    assert_eq!(
        json::parse(&got.stdout_str()).unwrap(),
        json::parse(&want.stdout_str()).unwrap(),
        "sealbox and sops disagree on secrets.yaml"
    );

    // the SSH key alone: the recipient is the converted X25519 key, so sops cannot use it
    // (exit 128); sealbox can (issue 18: an ed25519 key opens both stanza kinds, as the
    // same key does in sops-nix), and gives the same tree.
    let ssh_env = [("SOPS_AGE_SSH_PRIVATE_KEY_FILE", privf.to_str().unwrap())];
    let sops = sb.run(
        &peers.sops,
        &["decrypt", "--output-type", "json", file],
        &ssh_env,
        None,
    );
    assert_eq!(
        sops.code, 128,
        "sops with the ssh key alone: {}",
        sops.stderr
    );
    let ours = sb
        .run(
            &peers.sealbox,
            &["decrypt", "--output-type", "json", file],
            &ssh_env,
            None,
        )
        .ok("sealbox decrypt with the ssh key alone");
    assert_eq!(
        json::parse(&ours.stdout_str()).unwrap(),
        json::parse(&want.stdout_str()).unwrap(),
        "the ssh key alone opens secrets.yaml to another tree"
    );
}

#[test]
fn sops_nix_file_decrypts_like_sops() {
    let peers = sealbox_tests::require!(Peers::get());
    let v = vectors();
    let sb = Sandbox::new();
    let file = v.join("secrets.yaml");
    let file = file.to_str().unwrap();
    let keyfile = v.join("age-keys.txt");
    let env = [("SOPS_AGE_KEY_FILE", keyfile.to_str().unwrap())];
    let ours = sb
        .run(&peers.sealbox, &["decrypt", file], &env, None)
        .ok("sealbox decrypt secrets.yaml");
    let plain = std::fs::read_to_string(v.join("secrets.plain.yaml")).unwrap();
    let ours_json = sb
        .run(
            &peers.sealbox,
            &["decrypt", "--output-type", "json", file],
            &env,
            None,
        )
        .ok("sealbox decrypt --output-type json");
    let sops_json = sb
        .run(
            &peers.sops,
            &["decrypt", "--output-type", "json", file],
            &env,
            None,
        )
        .ok("sops decrypt --output-type json");
    assert_eq!(
        json::parse(&ours_json.stdout_str()).unwrap(),
        json::parse(&sops_json.stdout_str()).unwrap(),
        "sealbox and sops disagree on secrets.yaml"
    );
    // the YAML output, read back by sops, is the same tree as secrets.plain.yaml
    sb.write("ours.yaml", &ours.stdout);
    sb.write("plain.yaml", &plain);
    let r = Keys::generate(&peers);
    let renv = [(r.age1.env_var, r.age1.key_file.to_str().unwrap())];
    let mut trees = Vec::new();
    for f in ["ours.yaml", "plain.yaml"] {
        let e = sb
            .run(
                &peers.sops,
                &["--age", &r.age1.recipient, "-e", f],
                &[],
                None,
            )
            .ok("sops encrypt");
        let ef = format!("{f}.enc.yaml");
        sb.write(&ef, &e.stdout);
        let d = sb
            .run(
                &peers.sops,
                &["decrypt", "--output-type", "json", &ef],
                &renv,
                None,
            )
            .ok("sops decrypt");
        trees.push(json::parse(&d.stdout_str()).unwrap());
    }
    assert_eq!(
        trees[0],
        trees[1],
        "sealbox's YAML output differs from secrets.plain.yaml:\n{}",
        ours.stdout_str()
    );
}
