//! Load: a 100,000-key sops file through `sealbox encrypt` and `sealbox decrypt`, and 10,000
//! secrets in one activation manifest through `sealbox-install` (in a private mount
//! namespace, as in activation/tests/common). Each asserts that nothing is lost (the file
//! round-trips byte for byte; every secret file holds its value) and prints the peak
//! resident set size of the process (wait4 rusage). Times are printed, never asserted.
//!
//! The full counts take minutes in a debug build (encrypting 100,000 values: ~90 s), so
//! `cargo test` runs 20,000 keys and 2,000 secrets; `SEALBOX_LOAD_FULL=1` runs 100,000 and
//! 10,000, and `SEALBOX_LOAD_KEYS` / `SEALBOX_LOAD_SECRETS` set any count. The README's
//! figures come from `SEALBOX_LOAD_FULL=1 cargo test --release -p sealbox-tests --test load
//! -- --nocapture --test-threads 1`.

use sealbox_tests::{age_keygen, install_bin, run_measuring_rss, Peers, Sandbox};
use std::fmt::Write as _;
use std::process::Command;
use std::time::Instant;

fn count(var: &str, full: usize) -> usize {
    let default = if std::env::var("SEALBOX_LOAD_FULL").is_ok_and(|v| v == "1") {
        full
    } else {
        full / 5
    };
    std::env::var(var)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

/// `k000000: value-000000-…` lines: sealbox writes exactly this text back.
fn plain_yaml(n: usize) -> String {
    let mut s = String::with_capacity(n * 48);
    for i in 0..n {
        writeln!(s, "k{i:06}: value-{i:06}-abcdefghijklmnopqrstuvwxyz").unwrap();
    }
    s
}

#[test]
fn hundred_thousand_key_file_round_trips() {
    let n = count("SEALBOX_LOAD_KEYS", 100_000);
    let peers = sealbox_tests::require!(Peers::get());
    let sb = Sandbox::new();
    let (recipient, key_file) = age_keygen(&peers, sb.path(), "load");
    let plain = plain_yaml(n);
    sb.write("plain.yaml", &plain);

    let mut enc = Command::new(&peers.sealbox);
    enc.current_dir(sb.work())
        .args([
            "encrypt",
            "--age",
            &recipient,
            "--output",
            "big.enc.yaml",
            "plain.yaml",
        ])
        .env("SOPS_DISABLE_VERSION_CHECK", "1");
    let t = Instant::now();
    let (out, enc_rss) = run_measuring_rss(&enc);
    let enc_time = t.elapsed();
    assert!(
        out.status.success(),
        "encrypt: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    let mut dec = Command::new(&peers.sealbox);
    dec.current_dir(sb.work())
        .args(["decrypt", "big.enc.yaml"])
        .env("SOPS_AGE_KEY_FILE", &key_file)
        .env("SOPS_DISABLE_VERSION_CHECK", "1");
    let t = Instant::now();
    let (out, dec_rss) = run_measuring_rss(&dec);
    let dec_time = t.elapsed();
    assert!(
        out.status.success(),
        "decrypt: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stdout == plain.as_bytes(),
        "the decrypted {n}-key file differs from the plaintext"
    );
    let enc_size = std::fs::metadata(sb.work().join("big.enc.yaml"))
        .unwrap()
        .len();
    eprintln!(
        "LOAD {n} keys ({} plaintext, {} encrypted): encrypt peak RSS {} ({enc_time:.1?}), decrypt peak RSS {} ({dec_time:.1?})",
        mib(plain.len() as u64 / 1024),
        mib(enc_size / 1024),
        mib(enc_rss),
        mib(dec_rss)
    );
}

fn js(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

#[test]
fn ten_thousand_secrets_install() {
    let n = count("SEALBOX_LOAD_SECRETS", 10_000);
    let peers = sealbox_tests::require!(Peers::get());
    let bin = install_bin();
    let sb = Sandbox::new();
    let h = sb.path().to_path_buf();
    let (recipient, key_file) = age_keygen(&peers, &h, "act");
    let mut plain = String::new();
    for i in 0..n {
        writeln!(plain, "s{i}: secret-value-{i}").unwrap();
    }
    sb.write("plain.yaml", &plain);
    sb.run(
        &peers.sealbox,
        &[
            "encrypt",
            "--age",
            &recipient,
            "--output",
            "s.enc.yaml",
            "plain.yaml",
        ],
        &[],
        None,
    )
    .ok("encrypt the secrets file");
    let sops_file = sb.work().join("s.enc.yaml");

    // The namespace's tmpfs is mounted on `t`.
    let t = h.join("ns");
    std::fs::create_dir(&t).unwrap();
    let link = t.join("secrets");
    let secrets: Vec<String> = (0..n)
        .map(|i| {
            let name = format!("s{i}");
            format!(
                r#"{{"name":{},"key":{},"sopsFile":{},"format":"yaml","mode":"0400","owner":null,"group":null,"uid":0,"gid":0,"path":{},"restartUnits":[],"reloadUnits":[],"neededForUsers":false,"sopsFileHash":"x"}}"#,
                js(&name),
                js(&name),
                js(&sops_file.display().to_string()),
                js(&link.join(&name).display().to_string())
            )
        })
        .collect();
    let manifest = format!(
        r#"{{"secrets":[{}],"templates":[],"placeholderBySecretName":{{}},"secretsMountPoint":{},"symlinkPath":{},"keepGenerations":1,"ageKeyFile":{},"ageSshKeyPaths":[],"sshKeyPaths":[],"gnupgHome":null,"useTmpfs":false,"userMode":false,"logging":{{"keyImport":true,"secretChanges":false}}}}"#,
        secrets.join(","),
        js(&t.join("secrets.d").display().to_string()),
        js(&link.display().to_string()),
        js(&key_file.display().to_string())
    );
    std::fs::write(h.join("manifest.json"), manifest).unwrap();
    std::fs::write(h.join("passwd"), "root:x:0:0:root:/root:/bin/sh\n").unwrap();
    std::fs::write(h.join("group"), "root:x:0:\nkeys:x:96:\n").unwrap();
    std::fs::create_dir(h.join("out")).unwrap();

    // In a private mount namespace: a tmpfs on `t`, test passwd/group, then the install;
    // afterwards the installed files are copied out for checking.
    let script = r#"set -e
mount -t tmpfs -o mode=0755 tmpfs "$T"
mount --bind "$H/passwd" /etc/passwd
mount --bind "$H/group" /etc/group
mkdir -p "$T/nixos"
"$BIN" "$H/manifest.json"
cp -rL "$T/secrets/." "$H/out/""#;
    let mut cmd = Command::new("unshare");
    cmd.args(["-m", "--propagation", "private", "sh", "-c", script])
        .env("T", &t)
        .env("H", &h)
        .env("BIN", &bin)
        .env("SEALBOX_NIXOS_RUN_DIR", t.join("nixos"))
        .env("HOME", "/var/empty")
        .env_remove("SOPS_AGE_KEY_FILE")
        .env_remove("NIXOS_ACTION");
    let start = Instant::now();
    let (out, rss) = run_measuring_rss(&cmd);
    let took = start.elapsed();
    assert!(
        out.status.success(),
        "sealbox-install of {n} secrets failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut wrong = Vec::new();
    for i in 0..n {
        let p = h.join("out").join(format!("s{i}"));
        match std::fs::read_to_string(&p) {
            Ok(v) if v == format!("secret-value-{i}") => {}
            Ok(_) => wrong.push(format!("s{i}: wrong content")),
            Err(e) => wrong.push(format!("s{i}: {e}")),
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of {n} secrets not installed right, e.g. {:?}",
        wrong.len(),
        &wrong[..wrong.len().min(5)]
    );
    eprintln!(
        "LOAD {n} secrets installed by sealbox-install: peak RSS {} ({took:.1?})",
        mib(rss)
    );
}
