//! Files as sops 3.12/3.13 write them, beyond the six that 3.13 itself wrote
//! (`tests/vectors/sops-3.13/`): `tests/vectors/sops-3.13-derived/` holds fixtures made by
//! `make.py` there from sops 3.11's output and what the 3.13 sources say it changes
//! (metadata sorted, in another case, empty lists left out, INI `"""` blocks and `\n`
//! escapes, YAML inline comments, `hckms` and a key source no sops knows). No sops newer
//! than 3.11 can be installed here, so these stand in for its files.
//!
//! Each must decrypt with sealbox to its plaintext, and a file sealbox rewrites must keep
//! what it does not understand, write comments inside lists as comment lines (the form
//! 3.11 and 3.13.2 both read with the same MAC), and still load in the real sops 3.11.

use sealbox_tests::{vectors_dir, Peers, Sandbox};

/// Every fixture and the plaintext sops 3.11 decrypts it to.
fn fixtures() -> Vec<(String, String)> {
    let dir = vectors_dir("sops-3.13-derived");
    let mut v: Vec<(String, String)> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter_map(|n| {
            let (stem, ext) = n.split_once(".enc.")?;
            Some((n.clone(), format!("{stem}.{ext}.plain")))
        })
        .collect();
    v.sort();
    v
}

fn copy_in(sb: &Sandbox, name: &str) {
    let dir = vectors_dir("sops-3.13-derived");
    sb.write(name, std::fs::read(dir.join(name)).unwrap());
    sb.write("key.txt", std::fs::read(dir.join("age-key.txt")).unwrap());
}

fn key_env(sb: &Sandbox) -> String {
    sb.work().join("key.txt").display().to_string()
}

#[test]
fn every_file_shaped_as_sops_3_13_writes_it_decrypts_to_its_plaintext() {
    let peers = sealbox_tests::require!(Peers::get());
    let dir = vectors_dir("sops-3.13-derived");
    let all = fixtures();
    assert!(all.len() >= 10, "fixtures missing in {}", dir.display());
    let mut failures = Vec::new();
    for (file, plain) in &all {
        let sb = Sandbox::new();
        copy_in(&sb, file);
        let key = key_env(&sb);
        let out = sb.run(
            &peers.sealbox,
            &["decrypt", file.as_str()],
            &[("SOPS_AGE_KEY_FILE", key.as_str())],
            None,
        );
        let want = std::fs::read(dir.join(plain)).unwrap();
        if out.code != 0 || out.stdout != want {
            failures.push(format!(
                "{file}: exit {} {}\n{}",
                out.code,
                out.stderr,
                out.stdout_str()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn metadata_names_in_another_case_are_rewritten_in_sops_case_so_sops_3_11_loads_the_file() {
    let peers = sealbox_tests::require!(Peers::get());
    let sb = Sandbox::new();
    copy_in(&sb, "mixed-case.enc.yaml");
    let key = key_env(&sb);
    let env = [("SOPS_AGE_KEY_FILE", key.as_str())];
    // The reference point: sops 3.11 reads YAML names case-sensitively and refuses it.
    let before = sb.run(&peers.sops, &["decrypt", "mixed-case.enc.yaml"], &env, None);
    assert_ne!(before.code, 0, "sops 3.11 read `LastModified` after all");
    sb.run(
        &peers.sealbox,
        &[
            "set",
            "mixed-case.enc.yaml",
            r#"["api_token"]"#,
            r#""rotated""#,
        ],
        &env,
        None,
    )
    .ok("sealbox set");
    let text = std::fs::read_to_string(sb.work().join("mixed-case.enc.yaml")).unwrap();
    for name in ["LastModified", "MAC", "Recipient", "ENC:", "Version"] {
        assert!(!text.contains(name), "`{name}` kept in:\n{text}");
    }
    let out = sb
        .run(
            &peers.sops,
            &[
                "decrypt",
                "--extract",
                r#"["api_token"]"#,
                "mixed-case.enc.yaml",
            ],
            &env,
            None,
        )
        .ok("sops 3.11 decrypt of sealbox's rewrite");
    assert_eq!(out.stdout_str(), "rotated");
}

#[test]
fn hckms_and_unknown_key_sources_are_kept_verbatim_when_sealbox_rewrites_a_file() {
    let peers = sealbox_tests::require!(Peers::get());
    let sb = Sandbox::new();
    copy_in(&sb, "hckms.enc.yaml");
    let key = key_env(&sb);
    let env = [("SOPS_AGE_KEY_FILE", key.as_str())];
    sb.run(
        &peers.sealbox,
        &["set", "hckms.enc.yaml", r#"["api_token"]"#, r#""rotated""#],
        &env,
        None,
    )
    .ok("sealbox set");
    let text = std::fs::read_to_string(sb.work().join("hckms.enc.yaml")).unwrap();
    for kept in [
        "    hckms:\n        - created_at: \"2026-01-02T03:04:05Z\"\n          enc: bm90IGEgcmVhbCBIdWF3ZWlDbG91ZCBjaXBoZXJ0ZXh0\n          key_id: tr-west-1:00000000-1111-2222-3333-444444444444\n",
        "    zz_future_kms:\n        - enc: b3BhcXVl\n          endpoint: https://kms.example\n          weight: 3\n",
    ] {
        assert!(text.contains(kept), "not kept verbatim:\n{kept}\nin:\n{text}");
    }
    let out = sb
        .run(
            &peers.sops,
            &["decrypt", "--extract", r#"["api_token"]"#, "hckms.enc.yaml"],
            &env,
            None,
        )
        .ok("sops 3.11 decrypt of sealbox's rewrite");
    assert_eq!(out.stdout_str(), "rotated");
}

#[test]
fn sealbox_rewrites_of_3_13_shaped_files_decrypt_to_the_same_plaintext_in_sops_3_11() {
    let peers = sealbox_tests::require!(Peers::get());
    let dir = vectors_dir("sops-3.13-derived");
    let mut failures = Vec::new();
    // Not hckms.enc.yaml: a new data key cannot be wrapped for its hckms key, so sealbox
    // refuses to rotate it rather than drop that recipient (the `set` test above rewrites it).
    for (file, plain) in fixtures()
        .into_iter()
        .filter(|(f, _)| !f.starts_with("hckms"))
    {
        let sb = Sandbox::new();
        copy_in(&sb, &file);
        let key = key_env(&sb);
        let env = [("SOPS_AGE_KEY_FILE", key.as_str())];
        // A new data key re-encrypts every value and rewrites the metadata.
        let rotated = sb.run(&peers.sealbox, &["rotate", "-i", file.as_str()], &env, None);
        let out = sb.run(&peers.sops, &["decrypt", file.as_str()], &env, None);
        let want = std::fs::read(dir.join(&plain)).unwrap();
        // sops 3.13.2 hashes a list item `- ENC[…,type:comment]` (3.11's form) into the MAC
        // on decrypt, though it was not hashed on encrypt (its walker asks whether the
        // *input* is a comment), so it refuses such files; a `#ENC[…]` comment line is
        // read as a comment by every version.
        let text = std::fs::read_to_string(sb.work().join(&file)).unwrap();
        if let Some(l) = text
            .lines()
            .find(|l| l.trim_start().starts_with("- ENC[") && l.contains(",type:comment]"))
        {
            failures.push(format!(
                "{file}: a list comment written as a list item: {l}"
            ));
        }
        if rotated.code != 0 || out.code != 0 || out.stdout != want {
            failures.push(format!(
                "{file}: sealbox rotate exit {} {}; sops decrypt exit {} {}\n{}",
                rotated.code,
                rotated.stderr,
                out.code,
                out.stderr,
                out.stdout_str()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
