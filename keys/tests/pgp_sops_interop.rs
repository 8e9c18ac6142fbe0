//! The pgp key source against the real sops 3.11, at the data-key level: sops encrypts a
//! file to a gpg key of a test home and we open its `enc`; we put an `enc` of our own in
//! that file's metadata and sops decrypts the file with it.

mod common;

use std::process::Command;

use common::Home;
use sealbox_formats::store::{self, Format, StoreOptions};
use sealbox_formats::{Map, Value};
use sealbox_keys::pgp::{self, Decryptor, PgpKey};

fn sops(home: &Home, gpg: &std::path::Path, args: &[&str]) -> std::process::Output {
    let sops = sealbox_testkit::sops().unwrap();
    Command::new(sops)
        .args(args)
        // Away from the repository's .sops.yaml (sops looks for one from the working
        // directory up).
        .current_dir(home.path())
        .env("GNUPGHOME", home.path())
        .env(pgp::GPG_EXEC_ENV, gpg)
        // No age identities of the machine may take part.
        .env_remove("SOPS_AGE_KEY_FILE")
        .env_remove("SOPS_AGE_KEY")
        .output()
        .unwrap()
}

#[test]
fn sops_pgp_entries_open_with_us_and_ours_open_with_sops() {
    let gpg = sealbox_testkit::require!(sealbox_testkit::gpg());
    sealbox_testkit::require!(sealbox_testkit::sops());
    let home = Home::new(&gpg);
    let fp = home.generate("dave <dave@example.org>", "");
    let dir = tempfile::tempdir().unwrap();
    let plain = dir.path().join("s.yaml");
    std::fs::write(&plain, "password: hunter2\nlist:\n    - 1\n").unwrap();

    let out = sops(
        &home,
        &gpg,
        &["encrypt", "--pgp", &fp, plain.to_str().unwrap()],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let enc_file = dir.path().join("s.enc.yaml");
    std::fs::write(&enc_file, &out.stdout).unwrap();

    // sops' entry, read through the stores and mapped to ours.
    let (docs, mut md) = store::load_encrypted(Format::Yaml, &out.stdout, "s.enc.yaml").unwrap();
    let entries = &mut md.key_groups[0].pgp;
    assert!(!entries.is_empty(), "a pgp entry");
    let Value::Map(m) = &entries[0].fields.0 else {
        panic!("{entries:?}")
    };
    let field = |k: &str| m.get(k).and_then(|v| v.as_str()).unwrap().to_string();
    let theirs = PgpKey::from_fields([
        ("fp", field("fp").as_str()),
        ("created_at", field("created_at").as_str()),
        ("enc", field("enc").as_str()),
    ])
    .unwrap();
    assert_eq!(theirs.fingerprint, fp);
    assert!(!theirs.enc.ends_with('\n'), "sops 3.11 trims gpg's output");
    let data_key = Decryptor::with_gpg(home.gpg()).decrypt(&theirs).unwrap();
    assert_eq!(data_key.len(), 32);

    // Ours, in place of sops' entry: sops must open the file with it.
    let ours = pgp::encrypt(&home.gpg(), &fp, &data_key).unwrap();
    assert_ne!(ours.enc, theirs.enc);
    let mut m = Map::new();
    for (k, v) in ours.fields() {
        m.push(k, Value::str(v));
    }
    entries[0].fields.0 = Value::Map(m);
    let rewritten =
        store::emit_encrypted(Format::Yaml, &docs, &md, &StoreOptions::default()).unwrap();
    let (_, back) = store::load_encrypted(Format::Yaml, &rewritten, "rewritten").unwrap();
    assert_eq!(
        back.key_groups[0].pgp, md.key_groups[0].pgp,
        "our entry, verbatim"
    );
    std::fs::write(&enc_file, &rewritten).unwrap();
    let out = sops(&home, &gpg, &["decrypt", enc_file.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "password: hunter2\nlist:\n    - 1\n"
    );

    home.stop_and_check();
}
