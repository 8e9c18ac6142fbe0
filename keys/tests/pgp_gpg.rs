//! The pgp key source against the real GnuPG, with keys generated at test time in
//! throwaway homes. Every home's daemons are stopped and checked gone at the end.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use common::Home;
use sealbox_keys::pgp::{self, Decryptor, Error, Gpg, Method, PgpKey};

const DATA_KEY: &[u8; 32] = b"0123456789abcdef0123456789ABCDEF";

#[test]
fn a_data_key_we_encrypt_opens_with_gpg_d_and_what_gpg_encrypts_opens_with_us() {
    let gpg = sealbox_testkit::require!(sealbox_testkit::gpg());
    let home = Home::new(&gpg);
    let fp = home.generate("alice <alice@example.org>", "");

    // Ours -> gpg -d. The fingerprint is given in lower case with spaces, as a user may.
    let given = fp.to_ascii_lowercase();
    let given = format!("{} {}", &given[..20], &given[20..]);
    let key = pgp::encrypt(&home.gpg(), &given, DATA_KEY).unwrap();
    assert_eq!(
        key.fingerprint,
        fp.to_ascii_lowercase(),
        "case kept, spaces gone"
    );
    assert!(key.enc.starts_with("-----BEGIN PGP MESSAGE-----\n"));
    assert!(
        key.enc.ends_with("-----END PGP MESSAGE-----"),
        "trimmed as sops trims"
    );
    assert_eq!(home.ok(&["-d"], key.enc.as_bytes()), DATA_KEY);

    // gpg -e -> ours, through gpg and, with the exported secret key, in-process.
    let enc = home.ok(
        &["--trust-model", "always", "-e", "-a", "-r", &fp],
        DATA_KEY,
    );
    let entry = PgpKey::new(&fp, "2024-01-01T00:00:00Z", String::from_utf8(enc).unwrap());
    let via_gpg = Decryptor::with_gpg(home.gpg())
        .without_legacy_keyring()
        .decrypt(&entry)
        .unwrap();
    assert_eq!(&via_gpg[..], DATA_KEY);

    let secret = home.ok(&["--batch", "--export-secret-keys", "-a", &fp], b"");
    let mut ring = pgp::Keyring::new();
    ring.add_keys(&secret, "exported key").unwrap();
    assert_eq!(ring.fingerprints(), [fp.as_str()]);
    let in_process = Decryptor::in_memory(ring).decrypt(&entry).unwrap();
    assert_eq!(&in_process[..], DATA_KEY);

    // And what we encrypted opens in-process too (gpg's Curve25519 message).
    let mut ring = pgp::Keyring::new();
    ring.add_keys(&secret, "exported key").unwrap();
    assert_eq!(&ring.decrypt(&key.enc).unwrap()[..], DATA_KEY);

    home.stop_and_check();
}

/// A pinentry speaking just enough Assuan: answers GETPIN with `answer` (a `D` line) or,
/// when `answer` is None, as a user cancelling. Each GETPIN is logged to `log`.
fn write_pinentry(dir: &Path, answer: Option<&str>, log: &Path) -> std::path::PathBuf {
    let getpin = match answer {
        Some(p) => format!("printf 'D %s\\nOK\\n' '{p}'"),
        None => "echo 'ERR 83886179 Operation cancelled <Pinentry>'".to_string(),
    };
    let script = format!(
        "#!/bin/sh\necho 'OK Pleased to meet you'\n\
         while IFS= read -r line; do\n  case \"$line\" in\n\
         \x20   GETPIN*) echo GETPIN >> '{}'; {getpin} ;;\n\
         \x20   BYE*) echo 'OK closing connection'; exit 0 ;;\n\
         \x20   *) echo OK ;;\n  esac\ndone\n",
        log.display()
    );
    let path = dir.join("pinentry-test");
    std::fs::write(&path, script).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

#[test]
fn a_passphrase_protected_key_is_unlocked_by_gpg_agent_through_its_pinentry() {
    let gpg = sealbox_testkit::require!(sealbox_testkit::gpg());
    let home = Home::new(&gpg);
    let fp = home.generate("bob <bob@example.org>", "sesame");
    let key = pgp::encrypt(&home.gpg(), &fp, DATA_KEY).unwrap();
    // Generating used loopback; start the agent again with our pinentry and no cache.
    home.gpg().kill_agent().unwrap();
    home.assert_agent_gone();
    let log = home.path().join("pinentry.log");
    let pinentry = write_pinentry(home.path(), Some("sesame"), &log);
    std::fs::write(
        home.path().join("gpg-agent.conf"),
        format!("pinentry-program {}\n", pinentry.display()),
    )
    .unwrap();

    let got = Decryptor::with_gpg(home.gpg()).decrypt(&key).unwrap();
    assert_eq!(&got[..], DATA_KEY);
    let asked = std::fs::read_to_string(&log).unwrap_or_default();
    assert_eq!(asked.lines().count(), 1, "pinentry asked once: {asked:?}");

    // A wrong or cancelled passphrase is a passphrase error, not "no key".
    home.gpg().kill_agent().unwrap();
    home.assert_agent_gone();
    let pinentry = write_pinentry(home.path(), None, &log);
    std::fs::write(
        home.path().join("gpg-agent.conf"),
        format!("pinentry-program {}\n", pinentry.display()),
    )
    .unwrap();
    let e = Decryptor::with_gpg(home.gpg()).decrypt(&key).unwrap_err();
    let Error::AllFailed { attempts, .. } = &e else {
        panic!("{e:?}")
    };
    assert!(
        matches!(&attempts[..], [(Method::Gpg, Error::Passphrase { .. })]),
        "{e:?}"
    );
    assert!(e.hint().unwrap().contains("GPG_TTY"), "{e}");

    home.stop_and_check();
}

#[test]
fn a_recipient_without_a_public_key_is_a_clear_error_naming_it_and_how_to_import_it() {
    let gpg = sealbox_testkit::require!(sealbox_testkit::gpg());
    let home = Home::new(&gpg);
    let fp = "0123456789ABCDEF0123456789ABCDEF01234567";
    let e = pgp::encrypt(&home.gpg(), fp, DATA_KEY).unwrap_err();
    assert!(
        matches!(&e, Error::MissingPublicKey { fingerprint } if fingerprint == fp),
        "{e:?}"
    );
    assert!(e.is_missing_public_key());
    assert!(e.to_string().contains(fp), "{e}");
    let hint = e.hint().unwrap();
    assert!(
        hint.contains("gpg --import KEY.asc") && hint.contains(&format!("gpg --recv-keys {fp}")),
        "{hint}"
    );
    home.stop_and_check();
}

#[test]
fn a_message_for_a_key_we_lack_is_no_secret_key_with_its_key_id() {
    let gpg = sealbox_testkit::require!(sealbox_testkit::gpg());
    let alice = Home::new(&gpg);
    let fp = alice.generate("alice <alice@example.org>", "");
    let key = pgp::encrypt(&alice.gpg(), &fp, DATA_KEY).unwrap();

    // Bob has only Alice's public key.
    let bob = Home::new(&gpg);
    let public = alice.ok(&["--export", "-a", &fp], b"");
    assert_eq!(bob.gpg().import(&public).unwrap(), [fp.as_str()]);
    let e = Decryptor::with_gpg(bob.gpg()).decrypt(&key).unwrap_err();
    let Error::AllFailed {
        fingerprint,
        attempts,
    } = &e
    else {
        panic!("{e:?}")
    };
    assert_eq!(fingerprint, &fp);
    let [(Method::Gpg, Error::NoSecretKey { key_ids })] = &attempts[..] else {
        panic!("{e:?}")
    };
    // The message is encrypted to Alice's encryption subkey.
    let sub = alice.ok(&["--with-colons", "--list-keys", &fp], b"");
    let sub = String::from_utf8(sub).unwrap();
    let sub_id = sub
        .lines()
        .find(|l| l.starts_with("sub:"))
        .and_then(|l| l.split(':').nth(4))
        .unwrap();
    assert_eq!(key_ids, &[sub_id.to_string()]);
    assert!(e.to_string().contains(sub_id), "{e}");
    assert!(e.hint().unwrap().contains("gpg --import"), "{e}");

    alice.stop_and_check();
    bob.stop_and_check();
}

#[test]
fn kill_agent_stops_the_agent_that_decrypting_started() {
    let gpg = sealbox_testkit::require!(sealbox_testkit::gpg());
    let home = Home::new(&gpg);
    let fp = home.generate("carol <carol@example.org>", "");
    home.gpg().kill_agent().unwrap();
    home.assert_agent_gone();
    let key = pgp::encrypt(&home.gpg(), &fp, DATA_KEY).unwrap();
    Decryptor::with_gpg(home.gpg()).decrypt(&key).unwrap();
    assert!(!home.agents().is_empty(), "decrypting started an agent");
    home.gpg().kill_agent().unwrap();
    home.assert_agent_gone();
    // No agent is no error.
    home.gpg().kill_agent().unwrap();
}

#[test]
fn sops_gpg_exec_names_the_program_and_a_missing_one_says_how_to_fix_it() {
    // Gpg::from_env reads SOPS_GPG_EXEC; set it in a child process only.
    if std::env::var_os("SEALBOX_PGP_TEST_CHILD").is_some() {
        let g = Gpg::from_env();
        assert_eq!(g.program(), "/nonexistent/gpg-for-test");
        let e = pgp::encrypt(&g, "ABCD", DATA_KEY).unwrap_err();
        assert!(matches!(e, Error::GpgNotFound { .. }), "{e:?}");
        assert!(e.to_string().contains("/nonexistent/gpg-for-test"));
        return;
    }
    let st = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "sops_gpg_exec_names_the_program_and_a_missing_one_says_how_to_fix_it",
        ])
        .env("SEALBOX_PGP_TEST_CHILD", "1")
        .env(pgp::GPG_EXEC_ENV, "/nonexistent/gpg-for-test")
        .output()
        .unwrap();
    assert!(
        st.status.success(),
        "{}",
        String::from_utf8_lossy(&st.stdout)
    );
    // The child really ran the test (and did not filter it away).
    assert!(String::from_utf8_lossy(&st.stdout).contains("1 passed"));
}

#[test]
fn a_public_key_without_trust_is_used_as_sops_uses_it_and_encrypt_to_adds_no_recipient() {
    let gpg = sealbox_testkit::require!(sealbox_testkit::gpg());
    let alice = Home::new(&gpg);
    let fp = alice.generate("alice <alice@example.org>", "");
    // Bob imported Alice's key but never signed or trusted it; his gpg.conf adds his own
    // key to every encryption. sops passes --trusted-key (no "use this key anyway?" on a
    // terminal it has not got) and --no-encrypt-to (only the recipient can read `enc`).
    let bob = Home::new(&gpg);
    let bob_fp = bob.generate("bob <bob@example.org>", "");
    let public = alice.ok(&["--export", "-a", &fp], b"");
    bob.gpg().import(&public).unwrap();
    std::fs::write(
        bob.path().join("gpg.conf"),
        format!("encrypt-to {bob_fp}\n"),
    )
    .unwrap();

    let key = pgp::encrypt(&bob.gpg(), &fp, DATA_KEY).unwrap();
    let packets = bob.run(&["--list-packets"], key.enc.as_bytes());
    let listing = String::from_utf8_lossy(&packets.stdout);
    assert_eq!(
        listing.matches(":pubkey enc packet:").count(),
        1,
        "{listing}"
    );
    assert_eq!(alice.ok(&["-d"], key.enc.as_bytes()), DATA_KEY);

    alice.stop_and_check();
    bob.stop_and_check();
}
