//! sealbox-install with sops-nix's PGP key sources, on sops-nix's own test assets
//! (`tests/vectors/sops-nix/`: five files written by sops, two PGP keys):
//!
//! * `gnupgHome`: a GnuPG home holding `key.asc` (imported with the real gpg); every file
//!   installs, and the gpg-agent that decrypting started is stopped before
//!   sealbox-install exits;
//! * `sshKeyPaths`: the RSA host key `ssh-key` becomes an OpenPGP key in memory, with no
//!   gpg on `PATH` (and `SOPS_GPG_EXEC` pointing nowhere); the files encrypted to it
//!   install, the key import is logged as sops-nix logs it, and a file encrypted to
//!   another PGP key fails with an error naming that key;
//! * `--wait-for-key` and the "no usable key" message know both sources.

mod common;
use common::*;
use sealbox_testkit::gnupg::GpgHome;
use std::path::{Path, PathBuf};

fn vectors() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/vectors/sops-nix")
}

fn js(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// One manifest secret: (name, file in the vectors, format, key).
type Secret = (&'static str, &'static str, &'static str, &'static str);

/// sops-nix's five files, one secret each.
const FIVE: [Secret; 5] = [
    ("yaml", "secrets.yaml", "yaml", "test_key"),
    ("json", "secrets.json", "json", "test_key"),
    ("bin", "secrets.bin", "binary", ""),
    ("env", "secrets.env", "dotenv", ""),
    ("ini", "secrets.ini", "ini", ""),
];

/// What each secret of [`FIVE`] installs (sops' plaintext; a key's value for yaml/json).
fn expected(name: &str) -> Vec<u8> {
    let v = vectors();
    match name {
        "yaml" | "json" => b"test_value".to_vec(),
        "bin" => std::fs::read(v.join("secrets.bin.plain")).unwrap(),
        "env" => std::fs::read(v.join("secrets.env.plain")).unwrap(),
        "ini" => std::fs::read(v.join("secrets.ini.plain")).unwrap(),
        _ => unreachable!(),
    }
}

/// A manifest installing `secrets` into the namespace with the key sources `keys` (JSON
/// members, e.g. `"gnupgHome":"/x"`).
fn manifest(ns: &Ns, secrets: &[Secret], keys: &str) -> PathBuf {
    let t = &ns.t;
    let items: Vec<String> = secrets
        .iter()
        .map(|(name, file, format, key)| {
            format!(
                r#"{{"name":{},"sopsFile":{},"format":{},"key":{},"mode":"0400","owner":null,"group":null,"path":{}}}"#,
                js(name),
                js(&vectors().join(file).display().to_string()),
                js(format),
                js(key),
                js(&t.join("secrets").join(name).display().to_string()),
            )
        })
        .collect();
    let mut sources = vec![keys.to_string()];
    for (member, default) in [("sshKeyPaths", "[]"), ("gnupgHome", "null")] {
        if !keys.contains(member) {
            sources.push(format!("\"{member}\":{default}"));
        }
    }
    let m = format!(
        r#"{{"secrets":[{}],"secretsMountPoint":{},"symlinkPath":{},"keepGenerations":1,"ageKeyFile":"","ageSshKeyPaths":[],{},"logging":{{"keyImport":true,"secretChanges":false}}}}"#,
        items.join(","),
        js(&t.join("secrets.d").display().to_string()),
        js(&t.join("secrets").display().to_string()),
        sources.join(","),
    );
    let path = ns.h().join("m.json");
    std::fs::write(&path, m).unwrap();
    path
}

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn a_gnupg_home_installs_sops_nix_files_and_leaves_no_gpg_agent_running() {
    sealbox_testkit::require!(common::peers());
    let gpg = sealbox_testkit::require!(sealbox_testkit::gpg());
    let ns = Ns::new();
    let home = GpgHome::new(&gpg);
    home.import(&vectors().join("key.asc"));
    // Importing needs no agent for an unprotected key; make sure none runs before the
    // install, so the one found afterwards would be the install's.
    home.kill_all();
    let mf = manifest(
        &ns,
        &FIVE,
        &format!(r#""gnupgHome":{}"#, js(&home.path().display().to_string())),
    );
    let path = format!(
        "{}:/usr/bin:/bin",
        gpg.parent().unwrap().display() // gpg, gpgconf
    );
    let o = ns.install(
        &[mf.to_str().unwrap()],
        &[("PATH", &path), ("SOPS_GPG_EXEC", gpg.to_str().unwrap())],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    for (name, ..) in FIVE {
        assert_eq!(
            ns.cat(&ns.t.join("secrets").join(name)),
            expected(name),
            "secret {name}"
        );
    }
    // The agent decrypting started is gone (no waiting: sealbox-install waited for
    // gpgconf, which returns once the agent was told to stop; allow it a moment to exit).
    home.assert_no_agent();
}

#[test]
fn without_stopping_it_a_gnupg_home_agent_would_outlive_the_install() {
    // The control for the test above: decrypting through gpg in this home does leave an
    // agent running, so "no agent afterwards" is sealbox-install's doing.
    let gpg = sealbox_testkit::require!(sealbox_testkit::gpg());
    let home = GpgHome::new(&gpg);
    home.import(&vectors().join("key.asc"));
    home.kill_all();
    let enc = std::fs::read_to_string(vectors().join("secrets.json")).unwrap();
    let start = enc.find("-----BEGIN PGP MESSAGE-----").unwrap();
    let end = enc.find("-----END PGP MESSAGE-----").unwrap() + 25;
    let msg = enc[start..end].replace("\\n", "\n");
    home.ok(&["-d"], msg.as_bytes());
    assert!(!home.agents().is_empty(), "gpg -d started no agent");
}

#[test]
fn ssh_key_paths_decrypt_in_memory_without_gpg_and_log_the_import_like_sops_nix() {
    sealbox_testkit::require!(common::peers());
    let ns = Ns::new();
    // No gpg anywhere: PATH is a directory holding only what the harness runs (nsenter,
    // sh), and SOPS_GPG_EXEC names nothing.
    let bin = ns.h().join("bin-without-gpg");
    std::fs::create_dir(&bin).unwrap();
    for tool in ["nsenter", "sh"] {
        let real = sealbox_testkit::which(tool).unwrap();
        std::os::unix::fs::symlink(real, bin.join(tool)).unwrap();
    }
    let env = [
        ("PATH", bin.to_str().unwrap()),
        ("SOPS_GPG_EXEC", "/nonexistent/gpg"),
    ];
    let ssh = vectors().join("ssh-key");
    let keys = format!(
        r#""sshKeyPaths":["/nonexistent/ssh_host_rsa_key",{}]"#,
        js(&ssh.display().to_string())
    );
    // secrets.yaml, .env and .ini have ssh-key's OpenPGP key among their recipients.
    let three: Vec<Secret> = FIVE
        .iter()
        .copied()
        .filter(|(n, ..)| ["yaml", "env", "ini"].contains(n))
        .collect();
    let mf = manifest(&ns, &three, &keys);
    let o = ns.install(&[mf.to_str().unwrap()], &env);
    assert!(o.status.success(), "{}", stderr(&o));
    for (name, ..) in &three {
        assert_eq!(
            ns.cat(&ns.t.join("secrets").join(name)),
            expected(name),
            "secret {name}"
        );
    }
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains(&format!(
            "sealbox-install: Imported {} as GPG key with fingerprint 2504791468b153b8a3963cc97ba53d1919c5dfd4",
            ssh.display()
        )),
        "stdout: {out}\nstderr: {}",
        stderr(&o)
    );
    let err = stderr(&o);
    assert!(
        err.contains("Cannot read ssh key '/nonexistent/ssh_host_rsa_key'"),
        "{err}"
    );
    assert!(!err.contains("not supported"), "{err}");
    // Nothing of the keyring reaches the disk: the mount point holds no gpg home.
    let listing = ns.ok(&format!("ls -a '{}'", ns.t.join("secrets.d").display()));
    assert!(!listing.contains("gpg"), "{listing}");

    // secrets.json is encrypted to key.asc's key only: a clear failure naming it, and no
    // attempt to run gpg.
    let json: Vec<Secret> = vec![FIVE[1]];
    let mf = manifest(&ns, &json, &keys);
    let o = ns.install(&[mf.to_str().unwrap()], &env);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("secret json")
            && err.contains("its PGP keys: 7FB89715AADA920D65D25E63F9BA9DEBD03F57C0")
            && err.contains("sshKeyPaths"),
        "{err}"
    );
    assert!(!err.contains("GnuPG binary"), "{err}");
}

#[test]
fn the_no_key_message_and_wait_for_key_know_ssh_key_paths_and_gnupg_home() {
    sealbox_testkit::require!(common::peers());
    let ns = Ns::new();
    let h = ns.h();
    let rsa = h.join("keys/ssh_host_rsa_key");
    let gh = h.join("gnupg");
    let three = [FIVE[0]];

    // sshKeyPaths: missing, then an ed25519 key in its place is refused with the reason.
    let mf = manifest(
        &ns,
        &three,
        &format!(r#""sshKeyPaths":[{}]"#, js(&rsa.display().to_string())),
    );
    let o = ns.install(&[mf.to_str().unwrap()], &[]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(
        err.contains("no usable key found")
            && err.contains(&format!("sshKeyPaths {} does not exist", rsa.display()))
            && err.contains("ssh-keygen -t rsa"),
        "{err}"
    );
    std::fs::create_dir_all(rsa.parent().unwrap()).unwrap();
    std::fs::copy(vectors().join("ssh-ed25519-key"), &rsa).unwrap();
    let o = ns.install(&[mf.to_str().unwrap()], &[]);
    let err = stderr(&o);
    assert!(
        err.contains("it is an ssh-ed25519 key, but sshKeyPaths needs ssh-rsa keys"),
        "{err}"
    );

    // --wait-for-key: the RSA key appearing while sealbox-install waits is used.
    std::fs::remove_file(&rsa).unwrap();
    let rsa2 = rsa.clone();
    let writer = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_millis(400));
        let tmp = rsa2.with_extension("tmp");
        std::fs::copy(vectors().join("ssh-key"), &tmp).unwrap();
        std::fs::rename(&tmp, &rsa2).unwrap();
    });
    let o = ns.install(&["--wait-for-key", "20", mf.to_str().unwrap()], &[]);
    writer.join().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains(&format!(
            "waiting up to 20 s for a key to appear at {}",
            rsa.display()
        )),
        "{}",
        stderr(&o)
    );
    assert_eq!(ns.cat(&ns.t.join("secrets/yaml")), b"test_value");

    // gnupgHome: missing, then present without a secret key.
    let mf = manifest(
        &ns,
        &three,
        &format!(r#""gnupgHome":{}"#, js(&gh.display().to_string())),
    );
    let o = ns.install(&[mf.to_str().unwrap()], &[]);
    let err = stderr(&o);
    assert!(
        err.contains(&format!("gnupgHome {} does not exist", gh.display()))
            && err.contains(&format!("gpg --homedir {} --import KEY.asc", gh.display())),
        "{err}"
    );
    std::fs::create_dir(&gh).unwrap();
    let o = ns.install(&[mf.to_str().unwrap()], &[]);
    assert!(stderr(&o).contains("holds no secret key"), "{}", stderr(&o));
}
