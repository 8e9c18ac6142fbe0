//! Files written by someone with write access to the repository but no key (issue 13):
//! each attack found by the independent review, what sealbox does with it, and, where the
//! real sops 3.11 behaves differently, what sops does.
//!
//! * alias bombs and other inputs that expand to far more memory than their size, run
//!   under an address-space limit (`prlimit --as`) so that a regression fails the test
//!   instead of the machine;
//! * a key given twice (`password: ""` added next to an encrypted password), in every
//!   store, encrypted and plain;
//! * a ciphertext moved to a key with the same additional data (`"db:password"`);
//! * a selector changed in the metadata, then `set`/`edit` under `--ignore-mac`;
//! * a `.sops.yaml` owned by another user above the working directory.

use sealbox_tests::{Keys, Out, Peers, Sandbox};
use std::path::Path;

/// The address-space limit of the processes under test: far above what these small files
/// need, far below what the expansions they hold would take.
const LIMIT: &str = "--as=1073741824";

/// Runs `sealbox args…` under [`LIMIT`].
fn limited(sb: &Sandbox, peers: &Peers, args: &[&str], env: &[(&str, &str)]) -> Out {
    let mut a = vec![LIMIT, peers.sealbox.to_str().unwrap()];
    a.extend_from_slice(args);
    sb.run(Path::new("prlimit"), &a, env, None)
}

fn assert_fails_cleanly(o: &Out, code: i32, words: &[&str], what: &str) {
    assert_eq!(
        o.code, code,
        "{what}: exit {} (killed: -1): {}",
        o.code, o.stderr
    );
    for w in words {
        assert!(o.stderr.contains(w), "{what}: no {w:?} in: {}", o.stderr);
    }
    assert!(
        o.stdout.is_empty() || o.stdout.starts_with(b"{\"encrypted\""),
        "{what}"
    );
}

/// A YAML file whose one anchored 200 kB string is used as the key of 25,000 alias keys:
/// 0.6 MB that expand to 5 GB (alias keys were not charged to the alias budget).
fn alias_key_bomb(prefix: &str) -> String {
    let mut s = format!("{prefix}bomb: &s \"{}\"\nlist:\n", "A".repeat(200_000));
    for i in 0..25_000 {
        s.push_str(&format!("    - *s : {i}\n"));
    }
    s
}

#[test]
fn memory_bombs_fail_alone_with_a_clear_error_under_a_memory_limit() {
    let peers = sealbox_tests::require!(Peers::get());
    let keys = Keys::generate(&peers);
    let sb = Sandbox::new();
    let env = keys.age1.env();
    let env = [(env[0].0, env[0].1.as_str())];
    let r = keys.age1.recipient.as_str();
    sb.write("good.yaml", "password: hunter2\n");
    let enc = sb
        .run(
            &peers.sealbox,
            &["encrypt", "--age", r, "good.yaml"],
            &[],
            None,
        )
        .ok("encrypt");
    // The bomb goes before the (valid) metadata: the file is parsed before any MAC check.
    let bomb = alias_key_bomb(&enc.stdout_str());
    sb.write("bomb.yaml", &bomb);
    let o = limited(&sb, &peers, &["decrypt", "bomb.yaml"], &env);
    assert_fails_cleanly(
        &o,
        1,
        &["bomb.yaml", "anchors and aliases expand the document"],
        "decrypt",
    );
    let o = limited(&sb, &peers, &["filestatus", "bomb.yaml"], &env);
    assert_eq!(o.code, 0, "filestatus: {}", o.stderr);
    assert_eq!(o.stdout_str(), "{\"encrypted\":false}\n");
    // As plain input too.
    sb.write("plain-bomb.yaml", alias_key_bomb(""));
    let o = limited(
        &sb,
        &peers,
        &["encrypt", "--age", r, "plain-bomb.yaml"],
        &env,
    );
    assert_fails_cleanly(&o, 2, &["anchors and aliases expand"], "encrypt");

    // The walk's additional data: one 100 kB key above 20,000 short ones used to keep
    // 100 kB per key (2 GB). The last value is a plaintext number where a ciphertext is
    // expected, so decryption stops there with exit 25 after the whole walk.
    sb.write("small.json", "{\"a\": \"x\"}");
    let small = sb
        .run(
            &peers.sealbox,
            &["encrypt", "--age", r, "small.json"],
            &[],
            None,
        )
        .ok("encrypt small.json");
    let enc = small.stdout_str();
    let children: Vec<String> = (0..20_000).map(|i| format!("\"k{i}\": \"\"")).collect();
    let wide = format!(
        "{{\"{}\": {{{}, \"z\": 1}},{}",
        "K".repeat(100_000),
        children.join(", "),
        &enc[1..]
    );
    sb.write("wide.json", &wide);
    let o = limited(&sb, &peers, &["decrypt", "--ignore-mac", "wide.json"], &env);
    assert_fails_cleanly(
        &o,
        25,
        &["[\"z\"] in wide.json is an unencrypted integer"],
        "decrypt wide.json",
    );
}

/// The same data in each store, with `password` encrypted.
const STORES: &[(&str, &str)] = &[
    ("yaml", "password: hunter2\nuser: admin\n"),
    ("json", "{\"password\": \"hunter2\", \"user\": \"admin\"}\n"),
    ("env", "password=hunter2\nuser=admin\n"),
    ("ini", "[db]\npassword = hunter2\nuser = admin\n"),
];

/// `text` with a second, empty `password` put first (where a reader taking the first
/// occurrence finds it).
fn with_blank_password(ext: &str, text: &str) -> String {
    match ext {
        "yaml" => format!("password: \"\"\n{text}"),
        "json" => text.replacen('{', "{\n\t\"password\": \"\",", 1),
        "env" => format!("password=\n{text}"),
        "ini" => text.replacen("[db]\n", "[db]\npassword =\n", 1),
        _ => unreachable!(),
    }
}

#[test]
fn a_key_given_twice_is_refused_in_every_store() {
    let peers = sealbox_tests::require!(Peers::get());
    let keys = Keys::generate(&peers);
    let sb = Sandbox::new();
    let env = keys.age1.env();
    let env = [(env[0].0, env[0].1.as_str())];
    let r = keys.age1.recipient.as_str();
    for (ext, plain) in STORES {
        let p = format!("s.{ext}");
        sb.write(&p, plain);
        let enc = sb
            .run(&peers.sealbox, &["encrypt", "--age", r, &p], &[], None)
            .ok("encrypt");
        // The MAC does not see an added empty value: only the duplicate check does.
        let forged = format!("forged.{ext}");
        sb.write(&forged, with_blank_password(ext, &enc.stdout_str()));
        let o = sb.run(&peers.sealbox, &["decrypt", &forged], &env, None);
        assert_eq!(o.code, 1, "{ext}: {}", o.stderr);
        assert!(o.stdout.is_empty(), "{ext}: nothing is printed");
        assert!(
            o.stderr.contains(&forged)
                && o.stderr.contains("duplicate")
                && o.stderr.contains("password"),
            "{ext}: the error names the file and the key: {}",
            o.stderr
        );
        // sops 3.11 refuses it in YAML only; elsewhere the file decrypts, blanked.
        let s = sb.run(&peers.sops, &["decrypt", &forged], &env, None);
        if *ext == "yaml" {
            assert_eq!(s.code, 1, "sops yaml: {}", s.stderr);
        } else {
            assert_eq!(s.code, 0, "sops {ext}: {}", s.stderr);
        }
        // Plain input with a key given twice is refused too (sops: YAML only).
        let dup = format!("dup.{ext}");
        sb.write(&dup, with_blank_password(ext, plain));
        let o = sb.run(&peers.sealbox, &["encrypt", "--age", r, &dup], &[], None);
        assert_eq!(o.code, 2, "{ext} plain: {}", o.stderr);
        assert!(
            o.stderr.contains("duplicate") && o.stderr.contains(&dup),
            "{}",
            o.stderr
        );
        let s = sb.run(&peers.sops, &["encrypt", "--age", r, &dup], &[], None);
        assert_eq!(
            s.code,
            if *ext == "yaml" { 2 } else { 0 },
            "sops {ext} plain"
        );
    }
    // INI: a section given twice.
    sb.write(
        "sections.ini",
        "[db]\npassword = a\n[web]\nx = 1\n[db]\nuser = b\n",
    );
    let o = sb.run(
        &peers.sealbox,
        &["encrypt", "--age", r, "sections.ini"],
        &[],
        None,
    );
    assert_eq!(o.code, 2, "{}", o.stderr);
    assert!(o.stderr.contains("duplicate section [db]"), "{}", o.stderr);
}

#[test]
fn a_ciphertext_moved_to_a_key_with_the_same_additional_data_is_refused() {
    let peers = sealbox_tests::require!(Peers::get());
    let keys = Keys::generate(&peers);
    let sb = Sandbox::new();
    let env = keys.age1.env();
    let env = [(env[0].0, env[0].1.as_str())];
    let r = keys.age1.recipient.as_str();
    sb.write("s.yaml", "db:\n    password: hunter2\nother: x\n");
    let enc = sb
        .run(
            &peers.sealbox,
            &["encrypt", "--age", r, "s.yaml"],
            &[],
            None,
        )
        .ok("encrypt")
        .stdout_str();
    // Move db.password's ciphertext to a new top-level key "db:password" (additional data
    // `db:password:` both) at the same place in the MAC's order, and blank db.password.
    let line = enc
        .lines()
        .find(|l| l.trim_start().starts_with("password: ENC["))
        .unwrap();
    let value = line.trim_start().strip_prefix("password: ").unwrap();
    let forged = enc.replacen(
        &format!("db:\n{line}\n"),
        &format!("\"db:password\": {value}\ndb:\n    password: \"\"\n"),
        1,
    );
    assert_ne!(forged, enc);
    sb.write("forged.yaml", &forged);
    // The real sops 3.11 accepts it: the MAC verifies and db.password is empty.
    let s = sb
        .run(&peers.sops, &["decrypt", "forged.yaml"], &env, None)
        .ok("sops decrypt of the forged file");
    assert!(
        s.stdout_str().contains("password: \"\""),
        "{}",
        s.stdout_str()
    );
    let o = sb.run(&peers.sealbox, &["decrypt", "forged.yaml"], &env, None);
    assert_eq!(o.code, 25, "{}", o.stderr);
    assert!(
        o.stderr.contains("forged.yaml")
            && o.stderr.contains(r#"["db:password"] and ["db"]["password"] in forged.yaml share their additional data"#),
        "{}",
        o.stderr
    );
    assert!(o.stdout.is_empty() && !o.stderr.contains("hunter2"));
}

#[test]
fn a_changed_selector_does_not_make_set_or_edit_publish_a_secret() {
    let peers = sealbox_tests::require!(Peers::get());
    let keys = Keys::generate(&peers);
    let sb = Sandbox::new();
    let env = keys.age1.env();
    let env = [(env[0].0, env[0].1.as_str())];
    let r = keys.age1.recipient.as_str();
    sb.write("s.yaml", "password: hunter2\nuser: admin\n");
    let enc = sb
        .run(
            &peers.sealbox,
            &[
                "encrypt",
                "--age",
                r,
                "--encrypted-regex",
                "^password$",
                "s.yaml",
            ],
            &[],
            None,
        )
        .ok("encrypt")
        .stdout_str();
    assert!(enc.contains("encrypted_regex: ^password$"));
    // Someone changes the selector: it is not covered by the MAC.
    let forged = enc.replace("encrypted_regex: ^password$", "encrypted_regex: ^nothing$");
    sb.write("f.yaml", &forged);
    // Without --ignore-mac the existing ciphertext no longer verifies.
    let o = sb.run(
        &peers.sealbox,
        &["set", "f.yaml", "[\"password\"]", "\"n3w\""],
        &env,
        None,
    );
    assert_eq!(o.code, 51, "{}", o.stderr);
    // The admin follows the MAC error's hint: --ignore-mac. Writing the new password in
    // clear where the file held ciphertext is refused, and the file is left as it was.
    let o = sb.run(
        &peers.sealbox,
        &[
            "set",
            "--ignore-mac",
            "f.yaml",
            "[\"password\"]",
            "\"n3w-secret\"",
        ],
        &env,
        None,
    );
    assert_eq!(o.code, 23, "{}", o.stderr);
    assert!(
        o.stderr.contains(r#"the value at ["password"] was encrypted in the file and would now be written in plaintext"#)
            && o.stderr.contains("encrypted_regex \"^nothing$\"")
            && o.stderr.contains("--allow-plaintext-downgrade")
            && !o.stderr.contains("n3w-secret"),
        "{}",
        o.stderr
    );
    assert_eq!(
        std::fs::read_to_string(sb.work().join("f.yaml")).unwrap(),
        forged
    );
    // The same through the editor.
    let editor = sb.write(
        "ed.sh",
        "#!/bin/sh\nsed -i 's/^password: .*/password: typed-back/' \"$1\"\n",
    );
    std::fs::set_permissions(&editor, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let ed = [env[0], ("EDITOR", editor.to_str().unwrap())];
    let o = sb.run(
        &peers.sealbox,
        &["edit", "--ignore-mac", "f.yaml"],
        &ed,
        None,
    );
    assert_eq!(o.code, 23, "{}", o.stderr);
    assert_eq!(
        std::fs::read_to_string(sb.work().join("f.yaml")).unwrap(),
        forged
    );
    // With the explicit override it is written, in clear, as asked.
    sb.run(
        &peers.sealbox,
        &[
            "set",
            "--ignore-mac",
            "--allow-plaintext-downgrade",
            "f.yaml",
            "[\"password\"]",
            "\"n3w-secret\"",
        ],
        &env,
        None,
    )
    .ok("set --allow-plaintext-downgrade");
    let text = std::fs::read_to_string(sb.work().join("f.yaml")).unwrap();
    assert!(text.contains("password: n3w-secret"), "{text}");
}

/// A `.sops.yaml` planted by another user in a shared (sticky, world-writable) directory
/// above the working directory, with a rule that leaves every value in clear.
#[test]
fn a_config_owned_by_another_user_is_refused() {
    let peers = sealbox_tests::require!(Peers::get());
    let keys = Keys::generate(&peers);
    let sb = Sandbox::new();
    let r = keys.age1.recipient.as_str();
    let shared = sb.path().join("shared");
    let work = shared.join("project");
    std::fs::create_dir_all(&work).unwrap();
    std::fs::set_permissions(
        &shared,
        std::os::unix::fs::PermissionsExt::from_mode(0o1777),
    )
    .unwrap();
    let planted = shared.join(".sops.yaml");
    std::fs::write(
        &planted,
        format!("creation_rules:\n  - age: {r}\n    encrypted_regex: ^nothing$\n"),
    )
    .unwrap();
    // A config of root's one level further up, which the search must not fall back to.
    std::fs::write(
        sb.path().join(".sops.yaml"),
        format!("creation_rules:\n  - age: {r}\n"),
    )
    .unwrap();
    if let Err(e) = std::os::unix::fs::chown(&planted, Some(4321), Some(4321)) {
        let msg = format!("SKIPPED: chown to a test uid needs root: {e}");
        assert!(std::env::var("CI").as_deref() != Ok("true"), "{msg}");
        println!("{msg}");
        return;
    }
    std::fs::write(work.join("s.yaml"), "password: hunter2\n").unwrap();
    let run = |env: &[(&str, &str)]| {
        let mut c = std::process::Command::new(&peers.sealbox);
        c.args(["encrypt", "s.yaml"])
            .current_dir(&work)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", sb.path().join("home"));
        for (k, v) in env {
            c.env(k, v);
        }
        c.output().unwrap()
    };
    let o = run(&[]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        o.stdout.is_empty(),
        "nothing is encrypted with another user's rules"
    );
    assert!(
        err.contains(&planted.display().to_string())
            && err.contains("uid 4321")
            && err.contains("SEALBOX_TRUSTED_CONFIG_OWNERS"),
        "{err}"
    );
    // The explicit opt-out (by uid, or by name when the uid has one).
    let o = run(&[("SEALBOX_TRUSTED_CONFIG_OWNERS", "nobody, 4321")]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stdout).contains("password: hunter2"));
    // Files of the user (root here) are used as before.
    std::os::unix::fs::chown(&planted, Some(0), Some(0)).unwrap();
    assert!(run(&[]).status.success());
    // A symlink planted by another user is refused as well, even to a root-owned file.
    std::fs::remove_file(&planted).unwrap();
    std::os::unix::fs::symlink(sb.path().join(".sops.yaml"), &planted).unwrap();
    std::os::unix::fs::lchown(&planted, Some(4321), Some(4321)).unwrap();
    let o = run(&[]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("the symlink"));
}
