//! Issue 18 at install time: every age key a host holds, end to end in a private mount
//! namespace, with the sops files of `tests/vectors/generated/` (written by the real sops
//! 3.11).
//!
//! * an `ageSshKeyPaths` ed25519 key opens both a file sealed to its raw `ssh-ed25519`
//!   recipient and one sealed to its ssh-to-age conversion (sops-nix opens the second only);
//! * an `ageKeyFile` plugin identity runs its plugin from `PATH`; a plugin that asks for a
//!   PIN fails its file, naming the plugin and the prompt, never waiting for a person, and
//!   the other secrets install with `--keep-going` (without it nothing is installed);
//! * passphrase-protected keys (an SSH host key, an `age -p` key file) are clear errors
//!   naming the file: the installer never asks for a passphrase.

mod common;
use common::*;
use std::path::{Path, PathBuf};

fn generated(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/vectors/generated")
        .join(name)
}

fn read(name: &str) -> String {
    std::fs::read_to_string(generated(name)).unwrap()
}

/// A copy of a generated key, private (keys in a checkout are 0644).
fn private_copy(ns: &Ns, name: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let p = ns.h().join(name);
    std::fs::copy(generated(name), &p).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
    p
}

/// A manifest of `secrets` (name, sops file, key) with `ageKeyFile` `key_file` and
/// `ageSshKeyPaths` `ssh`.
fn manifest(ns: &Ns, secrets: &[(&str, &Path, &str)], key_file: &str, ssh: &[&Path]) -> String {
    let t = &ns.t;
    let secrets: Vec<String> = secrets
        .iter()
        .map(|(name, file, key)| {
            format!(
                r#"{{"name":{},"sopsFile":{},"format":"yaml","key":{},"mode":"0400","owner":null,"group":null,"path":{}}}"#,
                js(name),
                js(&file.display().to_string()),
                js(key),
                js(&t.join("secrets").join(name).display().to_string())
            )
        })
        .collect();
    let ssh: Vec<String> = ssh.iter().map(|p| js(&p.display().to_string())).collect();
    let m = format!(
        r#"{{"secrets":[{}],"secretsMountPoint":{},"symlinkPath":{},"keepGenerations":1,"ageSshKeyPaths":[{}],"sshKeyPaths":[],"ageKeyFile":{},"logging":{{"keyImport":false}}}}"#,
        secrets.join(","),
        js(&t.join("secrets.d").display().to_string()),
        js(&t.join("secrets").display().to_string()),
        ssh.join(","),
        js(key_file)
    );
    let p = ns.h().join("m.json");
    std::fs::write(&p, m).unwrap();
    p.display().to_string()
}

/// The value of `key` in a generated plaintext (`key: value` lines).
fn plain_value(file: &str, key: &str) -> String {
    read(file)
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{key}: ")))
        .unwrap_or_else(|| panic!("{key} in {file}"))
        .trim_matches('"')
        .to_string()
}

/// The key of the secret value in every generated plaintext.
fn first_key(_file: &str) -> String {
    "secret".to_string()
}

#[test]
fn an_ssh_host_key_opens_files_sealed_to_it_and_to_its_ssh_to_age_conversion() {
    if !need_root("mount namespaces") {
        return;
    }
    let ns = Ns::new();
    let key = private_copy(&ns, "ssh-ed25519.unprotected");
    let native = generated("sops-ssh-ed25519.enc.yaml");
    let converted = generated("sops-ssh-to-age.enc.yaml");
    let (kn, kc) = (
        first_key("sops-ssh-ed25519.plain.yaml"),
        first_key("sops-ssh-to-age.plain.yaml"),
    );
    let mf = manifest(
        &ns,
        &[("native", &native, &kn), ("converted", &converted, &kc)],
        "",
        &[&key],
    );
    let o = ns.install(&[&mf], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let t = &ns.t;
    assert_eq!(
        String::from_utf8(ns.cat(&t.join("secrets/native"))).unwrap(),
        plain_value("sops-ssh-ed25519.plain.yaml", &kn)
    );
    assert_eq!(
        String::from_utf8(ns.cat(&t.join("secrets/converted"))).unwrap(),
        plain_value("sops-ssh-to-age.plain.yaml", &kc)
    );
}

#[test]
fn a_plugin_identity_installs_and_one_that_asks_for_a_pin_fails_its_file_only() {
    if !need_root("mount namespaces") {
        return;
    }
    let f = Fixture::new();
    let ns = &f.ns;
    let plugin_dir = ns.h().join("bin");
    let path = sealbox_testkit::plugin_path_dir(&plugin_dir).unwrap();
    let path = path.to_string_lossy().into_owned();
    let log = ns.h().join("plugin.log");
    let log_s = log.display().to_string();
    let env = [("PATH", path.as_str()), ("SEALBOXTEST_LOG", log_s.as_str())];
    let sealed = generated("sops-plugin.enc.yaml");
    let key = first_key("sops-plugin.plain.yaml");
    let want = plain_value("sops-plugin.plain.yaml", &key);
    let x25519 = f.enc("x.yaml", "yaml", b"token: from-x25519\n");
    let t = ns.t.clone();

    // A silent plugin key: the plugin runs, the secret installs.
    let keys = ns.h().join("silent-keys.txt");
    std::fs::write(&keys, read("plugin-identity.txt")).unwrap();
    let mf = manifest(
        ns,
        &[("p", &sealed, &key)],
        &keys.display().to_string(),
        &[],
    );
    let o = ns.install(&[&mf], &env);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        String::from_utf8(ns.cat(&t.join("secrets/p"))).unwrap(),
        want
    );

    // A PIN key next to an X25519 key: the plugin's file fails, naming the plugin and what
    // it asked; nothing waits for a person; the rest installs with --keep-going.
    let keys = ns.h().join("pin-keys.txt");
    let text = std::fs::read_to_string(&f.key_file).unwrap() + &read("plugin-pin-identity.txt");
    std::fs::write(&keys, text).unwrap();
    let mf = manifest(
        ns,
        &[("p", &sealed, &key), ("x", &x25519, "token")],
        &keys.display().to_string(),
        &[],
    );
    std::fs::write(&log, "").unwrap();
    let started = std::time::Instant::now();
    let o = ns.install(&["--keep-going", &mf], &env);
    assert!(started.elapsed() < std::time::Duration::from_secs(30));
    let err = stderr(&o);
    assert_ne!(o.status.code(), Some(0), "{err}");
    assert!(
        err.contains("secret p")
            && err.contains("'age-plugin-sealboxtest' couldn't use an identity")
            && err.contains("asked for a secret (\"Enter the PIN of sealboxtest key")
            && err.contains("sealbox-install never waits for a person"),
        "{err}"
    );
    assert!(
        err.contains("--keep-going: the other secrets were installed"),
        "{err}"
    );
    assert_eq!(ns.cat(&t.join("secrets/x")), b"from-x25519");
    assert!(!ns.exists(&t.join("secrets/p")));
    let log_text = std::fs::read_to_string(&log).unwrap();
    assert!(
        log_text.contains("unwrap") && log_text.contains(" pin "),
        "{log_text}"
    );

    // Without --keep-going nothing is installed and the old generation stays.
    let o = ns.install(&[&mf], &env);
    let err = stderr(&o);
    assert_ne!(o.status.code(), Some(0), "{err}");
    assert!(err.contains("nothing was installed"), "{err}");
}

#[test]
fn passphrase_protected_keys_are_errors_naming_the_file() {
    if !need_root("mount namespaces") {
        return;
    }
    let ns = Ns::new();
    let ssh = private_copy(&ns, "ssh-ed25519");
    let native = generated("sops-ssh-ed25519.enc.yaml");
    let kn = first_key("sops-ssh-ed25519.plain.yaml");
    let mf = manifest(&ns, &[("native", &native, &kn)], "", &[&ssh]);
    let o = ns.install(&[&mf], &[]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!("ageSshKeyPaths {} cannot be used", ssh.display()))
            && err.contains("passphrase-protected")
            && err.contains("never asks for a passphrase"),
        "{err}"
    );

    let sealed = private_copy(&ns, "age-identity.txt.age");
    let age_file = generated("sops-age-passphrase.enc.yaml");
    let ka = first_key("sops-age-passphrase.plain.yaml");
    let mf = manifest(
        &ns,
        &[("a", &age_file, &ka)],
        &sealed.display().to_string(),
        &[],
    );
    let o = ns.install(&[&mf], &[]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!("ageKeyFile {} cannot be used", sealed.display()))
            && err.contains("passphrase-protected (age -p)"),
        "{err}"
    );
}
