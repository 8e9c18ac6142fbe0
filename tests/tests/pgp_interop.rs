//! PGP recipients end to end, against the real gpg and the real sops 3.11, with keys made
//! at test time: what sealbox writes opens with sops and the other way round in all five
//! formats; a passphrase-protected key is unlocked through gpg-agent's pinentry by both;
//! Shamir groups mix age and PGP; `updatekeys`, `rotate --add-pgp/--rm-pgp`, `set` and
//! `edit` of mixed files; a missing public key and a repeated decryption-order type end
//! with sops' exit codes; `check` compares PGP recipients with the rule; sops 3.13's
//! fixtures open.
//!
//! Two GnuPG homes play two people: alice holds her secret key and bob's public key, bob
//! the other way round, so "bob can read it" is tested by decrypting in bob's home. Every
//! home stops its daemons when dropped, and each test ends by checking that no gpg-agent
//! of its homes is left.

use sealbox_testkit::gnupg::GpgHome;
use sealbox_tests::{vectors_dir, Out, Peers, Sandbox};
use std::path::PathBuf;

/// Two people with a PGP key each, and a sandbox to work in.
struct World {
    peers: Peers,
    sb: Sandbox,
    gpg: PathBuf,
    alice: GpgHome,
    bob: GpgHome,
    fp_a: String,
    fp_b: String,
}

impl World {
    /// Alice's key and bob's, each home holding the other's public key.
    fn new() -> Option<World> {
        let peers = match Peers::get() {
            Ok(p) => p,
            Err(e) => {
                sealbox_testkit::skip(&e);
                return None;
            }
        };
        let gpg = match sealbox_testkit::gpg() {
            Ok(g) => g,
            Err(e) => {
                sealbox_testkit::skip(&e);
                return None;
            }
        };
        let alice = GpgHome::new(&gpg);
        let bob = GpgHome::new(&gpg);
        let fp_a = alice.generate("alice <alice@example.org>", "");
        let fp_b = bob.generate("bob <bob@example.org>", "");
        alice.import_bytes(&bob.export(&fp_b));
        bob.import_bytes(&alice.export(&fp_a));
        Some(World {
            peers,
            sb: Sandbox::new(),
            gpg,
            alice,
            bob,
            fp_a,
            fp_b,
        })
    }

    /// Runs `prog` in the sandbox as the owner of `home`, plus `env`.
    fn run(
        &self,
        prog: &std::path::Path,
        home: &GpgHome,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> Out {
        let mut all = vec![
            ("GNUPGHOME", home.path().to_str().unwrap()),
            ("SOPS_GPG_EXEC", self.gpg.to_str().unwrap()),
        ];
        all.extend_from_slice(env);
        self.sb.run(prog, args, &all, None)
    }

    fn sealbox(&self, home: &GpgHome, args: &[&str]) -> Out {
        self.run(&self.peers.sealbox, home, args, &[])
    }

    fn sops(&self, home: &GpgHome, args: &[&str]) -> Out {
        self.run(&self.peers.sops, home, args, &[])
    }

    /// Stops every daemon of both homes and checks that no gpg-agent of theirs is left.
    fn finish(self) {
        for h in [&self.alice, &self.bob] {
            h.kill_all();
            h.assert_no_agent();
        }
    }
}

/// The `ENC[…]` values of an encrypted text, in order.
fn enc_values(text: &str) -> Vec<String> {
    text.match_indices("ENC[")
        .map(|(i, _)| text[i..].split(']').next().unwrap().to_string())
        .collect()
}

/// The plaintexts of the five stores (input type, file name, content).
const FORMATS: [(&str, &str, &str); 5] = [
    (
        "yaml",
        "p.yaml",
        "password: hunter2\nlist:\n    - 1\n    - two\n",
    ),
    (
        "json",
        "p.json",
        "{\n\t\"password\": \"hunter2\",\n\t\"n\": 42\n}",
    ),
    ("dotenv", "p.env", "PASSWORD=hunter2\nOTHER=x y\n"),
    ("ini", "p.ini", "[db]\npassword = hunter2\n"),
    ("binary", "p.bin", "\u{1}binary\npayload\u{0}"),
];

#[test]
fn every_format_opens_with_the_other_tool_both_ways_with_a_pgp_key() {
    let Some(w) = World::new() else { return };
    for (ty, name, plain) in FORMATS {
        w.sb.write(name, plain);
        let io = ["--input-type", ty, "--output-type", ty];
        let mut args = vec!["encrypt", "--pgp", &w.fp_a];
        args.extend(io);
        args.push(name);
        let ours = w
            .sealbox(&w.alice, &args)
            .ok(&format!("sealbox encrypt {ty}"));
        w.sb.write(&format!("ours.{name}"), &ours.stdout);
        let mut args = vec!["encrypt", "--pgp", &w.fp_a];
        args.extend(io);
        args.push(name);
        let theirs = w.sops(&w.alice, &args).ok(&format!("sops encrypt {ty}"));
        w.sb.write(&format!("theirs.{name}"), &theirs.stdout);

        let dec = |tool: &std::path::Path, file: &str| {
            let mut args = vec!["decrypt"];
            args.extend(io);
            args.push(file);
            w.run(tool, &w.alice, &args, &[])
                .ok(&format!("{} decrypt {file}", tool.display()))
                .stdout
        };
        let want = dec(&w.peers.sops, &format!("theirs.{name}"));
        assert_eq!(
            dec(&w.peers.sops, &format!("ours.{name}")),
            want,
            "sops opens ours ({ty})"
        );
        assert_eq!(
            dec(&w.peers.sealbox, &format!("theirs.{name}")),
            want,
            "we open sops' ({ty})"
        );
        assert_eq!(
            dec(&w.peers.sealbox, &format!("ours.{name}")),
            want,
            "we open ours ({ty})"
        );

        // The metadata entry is sops' own: the same fields in the same order, the
        // fingerprint as given, `enc` trimmed.
        if ty == "yaml" || ty == "dotenv" {
            let shape = |t: &[u8]| -> Vec<String> {
                String::from_utf8_lossy(t)
                    .lines()
                    .map(|l| l.split([':', '=']).next().unwrap().trim().to_string())
                    .filter(|k| {
                        k.contains("pgp") || ["- created_at", "enc", "fp"].contains(&k.as_str())
                    })
                    .collect()
            };
            assert_eq!(shape(&ours.stdout), shape(&theirs.stdout), "{ty} metadata");
            let text = ours.stdout_str();
            assert!(text.contains(&w.fp_a), "{text}");
        }
        if ty == "yaml" {
            let text = ours.stdout_str();
            assert!(
                text.contains("    pgp:\n        - created_at: \"")
                    && text.contains("          enc: |-\n            -----BEGIN PGP MESSAGE-----")
                    && text.contains(&format!(
                        "-----END PGP MESSAGE-----\n          fp: {}\n",
                        w.fp_a
                    )),
                "{text}"
            );
        }
    }
    // Bob has no secret key for these: both tools refuse with exit 128, and ours says
    // which key the message is for and how to get it.
    let out = w.sealbox(&w.bob, &["decrypt", "theirs.p.yaml"]);
    assert_eq!(out.code, 128, "{}", out.stderr);
    assert!(
        out.stderr.contains(&w.fp_a) && out.stderr.contains("no secret key for this message"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("gpg --import SECRET.asc"),
        "{}",
        out.stderr
    );
    assert_eq!(w.sops(&w.bob, &["decrypt", "ours.p.yaml"]).code, 128);
    w.finish();
}

#[test]
fn a_passphrase_protected_key_is_unlocked_through_pinentry_by_both_tools() {
    let Some(w) = World::new() else { return };
    let fp = w.alice.generate("carol <carol@example.org>", "sesame");
    w.alice.use_pinentry(Some("sesame"));
    w.sb.write("p.yaml", "k: v\n");
    let ours = w
        .sealbox(&w.alice, &["encrypt", "--pgp", &fp, "p.yaml"])
        .ok("sealbox encrypt");
    w.sb.write("ours.yaml", &ours.stdout);
    let theirs = w
        .sops(&w.alice, &["encrypt", "--pgp", &fp, "p.yaml"])
        .ok("sops encrypt");
    w.sb.write("theirs.yaml", &theirs.stdout);
    assert_eq!(w.alice.pinentry_asked(), 0, "encrypting asks for nothing");

    let out = w
        .sops(&w.alice, &["decrypt", "ours.yaml"])
        .ok("sops decrypt ours");
    assert_eq!(out.stdout_str(), "k: v\n");
    assert_eq!(w.alice.pinentry_asked(), 1, "sops asked through pinentry");
    // A fresh agent (no cached passphrase) for our turn.
    w.alice.use_pinentry(Some("sesame"));
    let out = w
        .sealbox(&w.alice, &["decrypt", "theirs.yaml"])
        .ok("sealbox decrypt sops'");
    assert_eq!(out.stdout_str(), "k: v\n");
    assert_eq!(
        w.alice.pinentry_asked(),
        2,
        "sealbox asked through pinentry"
    );

    // The user cancels: exit 128, and the message is about the passphrase.
    w.alice.use_pinentry(None);
    let out = w.sealbox(&w.alice, &["decrypt", "theirs.yaml"]);
    assert_eq!(out.code, 128, "{}", out.stderr);
    assert!(
        out.stderr.contains("cannot unlock the secret key") && out.stderr.contains("GPG_TTY"),
        "{}",
        out.stderr
    );
    assert_eq!(w.sops(&w.alice, &["decrypt", "ours.yaml"]).code, 128);
    w.finish();
}

#[test]
fn shamir_groups_mix_age_and_pgp_keys() {
    let Some(w) = World::new() else { return };
    let dir = tempfile::tempdir().unwrap();
    let (r1, k1) = sealbox_tests::age_keygen(&w.peers, dir.path(), "one");
    let (r2, k2) = sealbox_tests::age_keygen(&w.peers, dir.path(), "two");
    w.sb.write(
        ".sops.yaml",
        format!(
            "creation_rules:\n  - shamir_threshold: 2\n    key_groups:\n      - age: [{r1}]\n      - pgp: [{}]\n      - age: [{r2}]\n",
            w.fp_a
        ),
    );
    w.sb.write("p.yaml", "k: v\n");
    let ours = w
        .sealbox(&w.alice, &["encrypt", "p.yaml"])
        .ok("sealbox encrypt");
    w.sb.write("ours.yaml", &ours.stdout);
    let theirs = w.sops(&w.alice, &["encrypt", "p.yaml"]).ok("sops encrypt");
    w.sb.write("theirs.yaml", &theirs.stdout);
    assert!(ours.stdout_str().contains("shamir_threshold: 2"));
    let k1 = k1.to_str().unwrap();
    let k2 = k2.to_str().unwrap();
    // Each tool opens each file with the PGP key and one age key (bob has no PGP key
    // for it, so the age keys must do without).
    for (tool, file) in [
        (&w.peers.sops, "ours.yaml"),
        (&w.peers.sealbox, "theirs.yaml"),
        (&w.peers.sealbox, "ours.yaml"),
    ] {
        for k in [k1, k2] {
            let out = w.run(
                tool,
                &w.alice,
                &["decrypt", file],
                &[("SOPS_AGE_KEY_FILE", k)],
            );
            assert_eq!(
                out.ok(&format!("{} {file}", tool.display())).stdout_str(),
                "k: v\n"
            );
        }
        let both = format!(
            "{}\n{}",
            std::fs::read_to_string(k1).unwrap(),
            std::fs::read_to_string(k2).unwrap()
        );
        let out = w.run(tool, &w.bob, &["decrypt", file], &[("SOPS_AGE_KEY", &both)]);
        assert_eq!(out.ok("two age groups").stdout_str(), "k: v\n");
        // The PGP key alone is one group of two needed.
        let out = w.run(tool, &w.alice, &["decrypt", file], &[]);
        assert_eq!(out.code, 128, "{}", out.stderr);
    }
    w.finish();
}

#[test]
fn updatekeys_adds_a_pgp_recipient_and_removing_one_changes_the_data_key() {
    let Some(w) = World::new() else { return };
    let rule = |fps: &[&str]| format!("creation_rules:\n  - pgp: {}\n", fps.join(","));
    w.sb.write(".sops.yaml", rule(&[&w.fp_a]));
    w.sb.write("p.yaml", "a: 1\nb: two\n");
    let out = w.sealbox(&w.alice, &["encrypt", "p.yaml"]).ok("encrypt");
    w.sb.write("s.yaml", &out.stdout);
    let before = enc_values(&out.stdout_str());
    assert_eq!(w.sops(&w.bob, &["decrypt", "s.yaml"]).code, 128);

    // Adding bob keeps the data key (values unchanged) and lets bob in.
    w.sb.write(".sops.yaml", rule(&[&w.fp_a, &w.fp_b]));
    let out = w
        .sealbox(&w.alice, &["updatekeys", "-y", "s.yaml"])
        .ok("updatekeys add");
    assert!(
        out.stdout_str().contains(&format!("+++ {}", w.fp_b)),
        "{}",
        out.stdout_str()
    );
    let text = std::fs::read_to_string(w.sb.work().join("s.yaml")).unwrap();
    assert_eq!(enc_values(&text)[..2], before[..2], "values kept");
    assert_eq!(
        w.sops(&w.bob, &["decrypt", "s.yaml"])
            .ok("bob opens it")
            .stdout_str(),
        "a: 1\nb: two\n"
    );
    // Already up to date: nothing to do, for both tools' view.
    let out = w
        .sealbox(&w.alice, &["updatekeys", "-y", "s.yaml"])
        .ok("no-op");
    assert!(out.stderr.contains("already up to date"), "{}", out.stderr);

    // Removing alice: a new data key (every value re-encrypted), and alice is out.
    w.sb.write(".sops.yaml", rule(&[&w.fp_b]));
    let out = w
        .sealbox(&w.alice, &["updatekeys", "-y", "s.yaml"])
        .ok("updatekeys remove");
    assert!(
        out.stdout_str().contains(&format!("--- {}", w.fp_a)),
        "{}",
        out.stdout_str()
    );
    let text = std::fs::read_to_string(w.sb.work().join("s.yaml")).unwrap();
    let after = enc_values(&text);
    assert!(before[..2].iter().all(|v| !after.contains(v)), "{text}");
    assert!(!text.contains(&w.fp_a), "{text}");
    assert_eq!(w.sops(&w.alice, &["decrypt", "s.yaml"]).code, 128);
    assert_eq!(
        w.sops(&w.bob, &["decrypt", "s.yaml"])
            .ok("bob")
            .stdout_str(),
        "a: 1\nb: two\n"
    );
    // sops' updatekeys agrees that the file matches its rule.
    let out = w
        .sops(&w.bob, &["updatekeys", "-y", "s.yaml"])
        .ok("sops updatekeys");
    assert!(out.stderr.contains("already up to date"), "{}", out.stderr);
    w.finish();
}

#[test]
fn rotate_adds_and_removes_pgp_keys_and_sops_agrees() {
    let Some(w) = World::new() else { return };
    let dir = tempfile::tempdir().unwrap();
    let (r, k) = sealbox_tests::age_keygen(&w.peers, dir.path(), "age");
    let k = k.to_str().unwrap();
    w.sb.write("p.yaml", "k: v\n");
    let out = w
        .sealbox(
            &w.alice,
            &["encrypt", "--age", &r, "--pgp", &w.fp_a, "p.yaml"],
        )
        .ok("encrypt mixed");
    w.sb.write("s.yaml", &out.stdout);
    // A mixed file edited with the age key still opens with the PGP key alone.
    w.run(
        &w.peers.sealbox,
        &w.bob,
        &["set", "s.yaml", "[\"k\"]", "\"w\""],
        &[("SOPS_AGE_KEY_FILE", k)],
    )
    .ok("set with the age key");
    assert_eq!(
        w.sops(&w.alice, &["decrypt", "s.yaml"])
            .ok("pgp")
            .stdout_str(),
        "k: w\n"
    );

    let before = enc_values(&std::fs::read_to_string(w.sb.work().join("s.yaml")).unwrap());
    w.sealbox(
        &w.alice,
        &[
            "rotate",
            "-i",
            "--add-pgp",
            &w.fp_b,
            "--rm-pgp",
            &w.fp_a,
            "s.yaml",
        ],
    )
    .ok("rotate");
    let text = std::fs::read_to_string(w.sb.work().join("s.yaml")).unwrap();
    assert!(!enc_values(&text).contains(&before[0]), "a new data key");
    assert!(text.contains(&w.fp_b) && !text.contains(&w.fp_a), "{text}");
    assert_eq!(
        w.sops(&w.alice, &["decrypt", "s.yaml"]).code,
        128,
        "alice is out"
    );
    assert_eq!(
        w.sops(&w.bob, &["decrypt", "s.yaml"])
            .ok("bob")
            .stdout_str(),
        "k: w\n"
    );
    let out = w.run(
        &w.peers.sops,
        &w.alice,
        &["decrypt", "s.yaml"],
        &[("SOPS_AGE_KEY_FILE", k)],
    );
    assert_eq!(out.ok("the age key stays").stdout_str(), "k: w\n");

    // sops rotates it back; we open the result with alice's key.
    w.sops(
        &w.bob,
        &[
            "rotate",
            "-i",
            "--add-pgp",
            &w.fp_a,
            "--rm-pgp",
            &w.fp_b,
            "s.yaml",
        ],
    )
    .ok("sops rotate");
    assert_eq!(
        w.sealbox(&w.alice, &["decrypt", "s.yaml"])
            .ok("alice")
            .stdout_str(),
        "k: w\n"
    );
    let out = w
        .sealbox(&w.alice, &["recipients", "s.yaml"])
        .ok("recipients");
    assert_eq!(out.stdout_str(), format!("{r}\n{}\n", w.fp_a));

    // An edit of the mixed file opened with the PGP key alone keeps the age recipient:
    // sops opens the result with the age key alone.
    let editor = w.sb.path().join("editor.sh");
    std::fs::write(&editor, "#!/bin/sh\nsed -i 's/^k: w$/k: edited/' \"$1\"\n").unwrap();
    std::fs::set_permissions(&editor, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    w.run(
        &w.peers.sealbox,
        &w.alice,
        &["edit", "s.yaml"],
        &[("EDITOR", editor.to_str().unwrap())],
    )
    .ok("edit with the PGP key");
    let out = w.run(
        &w.peers.sops,
        &w.bob,
        &["decrypt", "s.yaml"],
        &[("SOPS_AGE_KEY_FILE", k)],
    );
    assert_eq!(
        out.ok("the age key after the edit").stdout_str(),
        "k: edited\n"
    );
    w.finish();
}

#[test]
fn a_missing_public_key_and_a_repeated_decryption_type_end_as_in_sops() {
    let Some(w) = World::new() else { return };
    let fp = "0123456789ABCDEF0123456789ABCDEF01234567";
    w.sb.write("p.yaml", "k: v\n");
    let ours = w.sealbox(&w.alice, &["encrypt", "--pgp", fp, "p.yaml"]);
    let theirs = w.sops(&w.alice, &["encrypt", "--pgp", fp, "p.yaml"]);
    assert_eq!(ours.code, theirs.code, "{}", ours.stderr);
    assert_eq!(ours.code, 1);
    assert!(
        ours.stderr
            .contains(&format!("the public key {fp} is not in the GnuPG keyring"))
            && ours.stderr.contains("gpg --import KEY.asc")
            && ours.stderr.contains(&format!("gpg --recv-keys {fp}")),
        "{}",
        ours.stderr
    );
    // SOPS_PGP_FP names the keys like --pgp.
    let out = w.run(
        &w.peers.sealbox,
        &w.alice,
        &["encrypt", "p.yaml"],
        &[("SOPS_PGP_FP", &w.fp_a)],
    );
    w.sb.write("s.yaml", &out.ok("SOPS_PGP_FP").stdout);
    let env = ("SOPS_DECRYPTION_ORDER", "pgp,age,pgp");
    let o = w.run(&w.peers.sealbox, &w.alice, &["decrypt", "s.yaml"], &[env]);
    let t = w.run(&w.peers.sops, &w.alice, &["decrypt", "s.yaml"], &[env]);
    assert_eq!((o.code, t.code), (112, 112), "{} / {}", o.stderr, t.stderr);
    // Types sealbox has no source for are accepted in the order, as sops accepts them.
    let o = w.run(
        &w.peers.sealbox,
        &w.alice,
        &["decrypt", "s.yaml"],
        &[("SOPS_DECRYPTION_ORDER", "kms,pgp")],
    );
    assert_eq!(o.ok("kms,pgp").stdout_str(), "k: v\n");
    w.finish();
}

#[test]
fn check_compares_pgp_recipients_with_the_rule() {
    let Some(w) = World::new() else { return };
    w.sb.write(
        ".sops.yaml",
        format!("creation_rules:\n  - pgp: {}\n", w.fp_a),
    );
    w.sb.write("p.yaml", "k: v\n");
    let out = w.sealbox(&w.alice, &["encrypt", "p.yaml"]).ok("encrypt");
    w.sb.write("s.yaml", &out.stdout);
    w.sealbox(&w.alice, &["check", "s.yaml"])
        .ok("in line with the rule");
    w.sb.write(
        ".sops.yaml",
        format!(
            "creation_rules:\n  - key_groups:\n      - pgp:\n          - {}\n          - {}\n",
            w.fp_a, w.fp_b
        ),
    );
    let out = w.sealbox(&w.alice, &["check", "s.yaml"]);
    assert_eq!(out.code, 1, "{}", out.stdout_str());
    assert!(
        out.stdout_str().contains(&format!(
            "missing-recipient: key group 0: {} (pgp) is in the rule",
            w.fp_b
        )),
        "{}",
        out.stdout_str()
    );
    let out = w.sealbox(&w.alice, &["check", "--decrypt", "s.yaml"]);
    assert!(
        !out.stdout_str().contains("decrypt"),
        "{}",
        out.stdout_str()
    );
    w.finish();
}

#[test]
fn sops_3_13_files_open_with_the_functional_tests_key() {
    let Some(w) = World::new() else { return };
    let v = vectors_dir("sops-3.13");
    w.alice.import(&v.join("sops_functional_tests_key.asc"));
    for (enc, plain) in [
        ("format.enc.yaml", "format.yaml.plain"),
        ("format.enc.json", "format.json.plain"),
        ("format.enc.ini", "format.ini.plain"),
        ("format-2.enc.ini", "format-2.ini.plain"),
        ("format.enc.env", "format.env.plain"),
        ("comments.enc.yaml", "comments.yaml.plain"),
    ] {
        let path = v.join(enc);
        let out = w
            .sealbox(&w.alice, &["decrypt", path.to_str().unwrap()])
            .ok(enc);
        assert_eq!(out.stdout, std::fs::read(v.join(plain)).unwrap(), "{enc}");
    }
    w.finish();
}
