//! sops' PGP entries from files the real tools wrote: sops-nix's test assets (sops 3.5 to
//! 3.7; `secrets.yaml` has two age and two PGP recipients, `.env` and `.ini` the two PGP
//! keys, `.json` and `.bin` only `key.asc`'s) and sops' own functional-test files (3.13).
//! The data key we get from each PGP entry must open its file with a valid MAC, and equal
//! the one the age path gives where there is one.

mod common;

use std::path::Path;

use common::{vectors, Home};
use sealbox_formats::metadata::Metadata;
use sealbox_formats::store::{self, Format};
use sealbox_keys::pgp::{Decryptor, Error, Keyring, Method, PgpKey};

const SSH_FP: &str = "2504791468B153B8A3963CC97BA53D1919C5DFD4";
const ASC_FP: &str = "7FB89715AADA920D65D25E63F9BA9DEBD03F57C0";
const SOPS_NIX_FILES: [&str; 5] = [
    "secrets.yaml",
    "secrets.json",
    "secrets.env",
    "secrets.ini",
    "secrets.bin",
];

/// A file's documents and metadata, through sealbox-formats' stores.
fn load(path: &Path) -> (Vec<sealbox_formats::Document>, Metadata) {
    let bytes = std::fs::read(path).unwrap();
    store::load_encrypted(Format::from_path(path), &bytes, &path.display().to_string())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The `pgp` entries of every key group, mapped to our type as the integration will.
fn pgp_entries(md: &Metadata) -> Vec<PgpKey> {
    let mut out = Vec::new();
    for g in &md.key_groups {
        for e in &g.pgp {
            let sealbox_formats::Value::Map(m) = &e.fields.0 else {
                panic!("a pgp entry that is not a map: {e:?}")
            };
            let field = |k: &str| m.get(k).and_then(|v| v.as_str()).unwrap_or("");
            let pairs = ["fp", "created_at", "enc"].map(|k| (k, field(k)));
            out.push(PgpKey::from_fields(pairs).unwrap());
        }
    }
    out
}

fn entry<'a>(entries: &'a [PgpKey], fp: &str) -> &'a PgpKey {
    entries
        .iter()
        .find(|k| k.fingerprint == fp)
        .unwrap_or_else(|| panic!("no pgp entry for {fp}"))
}

/// The data key the age identity of `age-keys.txt` recovers, for the files that have age
/// recipients (only `secrets.yaml`; the others were written for PGP keys alone).
fn age_data_key(md: &Metadata, file: &str) -> Option<Vec<u8>> {
    md.key_groups.iter().any(|g| !g.age.is_empty()).then(|| {
        let text = std::fs::read_to_string(vectors().join("sops-nix/age-keys.txt")).unwrap();
        let ids = sealbox_keys::age::Identities::from_text(&text).unwrap();
        sealbox_keys::recover(md, &sealbox_keys::KeyServices::borrowing(&ids), file)
            .unwrap()
            .as_bytes()
            .to_vec()
    })
}

/// Checks that `key` is the file's data key: every value decrypts and the MAC matches
/// (and it equals the key the age path gives, where the file has age recipients).
fn assert_is_data_key(path: &Path, key: &[u8]) {
    let name = path.file_name().unwrap().to_string_lossy().to_string();
    let (mut docs, md) = load(path);
    if let Some(reference) = age_data_key(&md, &name) {
        assert_eq!(key, &reference[..], "{name}: the age path's data key");
    }
    let key = sealbox_formats::cipher::DataKey::from_slice(key).unwrap();
    sealbox_formats::sops::decrypt_tree(
        &mut docs,
        &md,
        &key,
        sealbox_formats::sops::MacCheck::Verify,
        &name,
    )
    .unwrap_or_else(|err| panic!("{name}: {err}"));
}

/// Which sops-nix files have an entry for the SSH-derived key (sops-nix's `sshKeyPaths`);
/// `key.asc`'s key is in all five.
const SSH_FILES: [&str; 3] = ["secrets.yaml", "secrets.env", "secrets.ini"];

#[test]
fn the_sops_nix_rsa_host_key_opens_its_files_in_memory_with_the_files_data_key() {
    // No gpg at all: the keys come from the SSH key, the decryptor has no gpg step.
    let mut ring = Keyring::new();
    let ssh = std::fs::read(vectors().join("sops-nix/ssh-key")).unwrap();
    let imported = ring.add_ssh_private_key(&ssh, "ssh-key").unwrap();
    assert_eq!(imported.fingerprint, SSH_FP);
    let dec = Decryptor::in_memory(ring);
    assert!(dec.gpg().is_none());
    for name in SSH_FILES {
        let path = vectors().join("sops-nix").join(name);
        let (_, md) = load(&path);
        let entries = pgp_entries(&md);
        assert_eq!(entries.len(), 2, "{name}");
        let got = dec.decrypt(entry(&entries, SSH_FP)).unwrap();
        assert_eq!(got.len(), 32);
        assert_is_data_key(&path, &got);

        // The other PGP entry is not for this key: no secret key, naming its key ID.
        let e = dec.decrypt(entry(&entries, ASC_FP)).unwrap_err();
        let Error::AllFailed { attempts, .. } = &e else {
            panic!("{e:?}")
        };
        assert!(
            matches!(&attempts[..], [(Method::InMemory, Error::NoSecretKey { key_ids })]
                if key_ids == &["F9BA9DEBD03F57C0".to_string()]),
            "{e:?}"
        );
    }
}

#[test]
fn the_armored_sops_nix_key_opens_every_file_in_process() {
    let mut ring = Keyring::new();
    let asc = std::fs::read(vectors().join("sops-nix/key.asc")).unwrap();
    let added = ring.add_keys(&asc, "key.asc").unwrap();
    assert_eq!(added.len(), 1);
    assert_eq!(added[0].fingerprint, ASC_FP);
    let dec = Decryptor::in_memory(ring);
    for name in SOPS_NIX_FILES {
        let path = vectors().join("sops-nix").join(name);
        let (_, md) = load(&path);
        let got = dec.decrypt(entry(&pgp_entries(&md), ASC_FP)).unwrap();
        assert_is_data_key(&path, &got);
    }
}

#[test]
fn the_sops_nix_key_imported_into_a_gnupg_home_opens_every_file_with_gpg() {
    // sops-nix's `gnupgHome`: the real gpg with that home.
    let gpg = sealbox_testkit::require!(sealbox_testkit::gpg());
    let home = Home::new(&gpg);
    let asc = std::fs::read(vectors().join("sops-nix/key.asc")).unwrap();
    assert_eq!(home.gpg().import(&asc).unwrap(), [ASC_FP]);
    let dec = Decryptor::with_gpg(home.gpg()).without_legacy_keyring();
    for name in SOPS_NIX_FILES {
        let path = vectors().join("sops-nix").join(name);
        let (_, md) = load(&path);
        let got = dec.decrypt(entry(&pgp_entries(&md), ASC_FP)).unwrap();
        assert_is_data_key(&path, &got);
    }
    home.stop_and_check();
}

#[test]
fn a_legacy_secring_in_the_gnupg_home_is_read_in_process_without_gpg() {
    // The home sops-nix's sshKeyPaths lays out for sops: a binary secring.gpg (here the
    // dearmored ssh-key.asc) and pubring.gpg; the gpg program does not exist.
    let dir = tempfile::tempdir().unwrap();
    let asc = std::fs::read_to_string(vectors().join("sops-nix/ssh-key.asc")).unwrap();
    let mut binary = Vec::new();
    let mut dearmor = ::pgp::armor::Dearmor::new(asc.as_bytes());
    std::io::Read::read_to_end(&mut dearmor, &mut binary).unwrap();
    std::fs::write(dir.path().join("secring.gpg"), &binary).unwrap();
    let dec =
        Decryptor::with_gpg(sealbox_keys::pgp::Gpg::new("/nonexistent/gpg").with_home(dir.path()));
    let (_, md) = load(&vectors().join("sops-nix/secrets.yaml"));
    let entries = pgp_entries(&md);
    let got = dec.decrypt(entry(&entries, SSH_FP)).unwrap();
    assert_is_data_key(&vectors().join("sops-nix/secrets.yaml"), &got);

    // A key not in the legacy ring falls through to gpg, whose absence is reported too.
    let e = dec.decrypt(entry(&entries, ASC_FP)).unwrap_err();
    let Error::AllFailed { attempts, .. } = &e else {
        panic!("{e:?}")
    };
    assert!(
        matches!(
            &attempts[..],
            [
                (Method::LegacyKeyring, Error::NoSecretKey { .. }),
                (Method::Gpg, Error::GpgNotFound { .. })
            ]
        ),
        "{e:?}"
    );
    let msg = e.to_string();
    assert!(
        msg.contains(ASC_FP) && msg.contains("; GnuPG binary"),
        "{msg}"
    );
}

#[test]
fn the_sops_3_13_files_give_up_a_data_key_that_opens_them_with_a_valid_mac() {
    let gpg = sealbox_testkit::require!(sealbox_testkit::gpg());
    let home = Home::new(&gpg);
    let keys = std::fs::read(vectors().join("sops-3.13/sops_functional_tests_key.asc")).unwrap();
    let imported = home.gpg().import(&keys).unwrap();
    for fp in [
        "FBC7B9E2A4F9289AC0C1D4843D16CEE4A27381B4",
        "D7229043384BCC60326C6FB9D8720D957C3D3074",
    ] {
        assert!(imported.iter().any(|i| i == fp), "{imported:?}");
    }
    let dec = Decryptor::with_gpg(home.gpg()).without_legacy_keyring();
    let mut in_process = Keyring::new();
    in_process
        .add_keys(&keys, "sops_functional_tests_key.asc")
        .unwrap();
    let in_process = Decryptor::in_memory(in_process);

    let mut files: Vec<_> = std::fs::read_dir(vectors().join("sops-3.13"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().contains(".enc."))
        .collect();
    files.sort();
    assert_eq!(files.len(), 6, "{files:?}");
    for path in files {
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let (docs, md) = load(&path);
        let entries = pgp_entries(&md);
        assert!(!entries.is_empty(), "{name}");
        for e in &entries {
            let key = dec.decrypt(e).unwrap_or_else(|err| panic!("{name}: {err}"));
            assert_eq!(&in_process.decrypt(e).unwrap()[..], &key[..], "{name}");
            let key = sealbox_formats::cipher::DataKey::from_slice(&key).unwrap();
            // The MAC check proves the data key is the file's.
            let mut docs = docs.clone();
            sealbox_formats::sops::decrypt_tree(
                &mut docs,
                &md,
                &key,
                sealbox_formats::sops::MacCheck::Verify,
                &name,
            )
            .unwrap_or_else(|err| panic!("{name}: {err}"));
        }
    }
    home.stop_and_check();
}
