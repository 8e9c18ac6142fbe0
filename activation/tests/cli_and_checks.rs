//! Command line, check modes (docs/activation.md#check-modes), the module's manifest shape
//! and SSH key import.

mod common;
use common::*;
use std::path::Path;
use std::process::{Command, Output};

fn run(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env_remove("NIXOS_ACTION")
        .env_remove("SOPS_AGE_KEY_FILE")
        .output()
        .unwrap()
}

#[test]
fn positional_count_and_flags() {
    sealbox_testkit::require!(common::peers());
    // quirk 1 fixed: wrong positional count is a usage error, exit 2
    assert_eq!(run(&[]).status.code(), Some(2));
    assert_eq!(run(&["a.json", "b.json"]).status.code(), Some(2));
    assert_eq!(run(&["--help"]).status.code(), Some(0));
    let o = run(&["-check-mode=bogus", "m.json"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("invalid value provided for -check-mode flag: 'bogus'"),
        "{}",
        stderr(&o)
    );
    let o = run(&["-check-mode=manifest", "/nonexistent/m.json"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("failed to open manifest"),
        "{}",
        stderr(&o)
    );
}

/// The manifest as the real NixOS module writes it (docs/activation.md#example), with `null`
/// owners, `sopsFileHash` and `neededForUsers`, passes manifest check mode.
#[test]
fn module_manifest_passes_manifest_check() {
    sealbox_testkit::require!(common::peers());
    let m = r#"{"ageKeyFile":"/var/lib/sops-nix/key.txt","ageSshKeyPaths":[],"gnupgHome":null,"keepGenerations":1,
 "logging":{"keyImport":true,"secretChanges":true},
 "placeholderBySecretName":{"test_key":"<SOPS:92488e1e3eeecdf99f3ed2ce59233efb4b4fb612d5655c0ce9ea52b5a502e655:PLACEHOLDER>"},
 "secrets":[{"format":"yaml","gid":0,"group":null,"key":"test_key","mode":"0400","name":"test_key",
   "neededForUsers":false,"owner":null,"path":"/run/secrets/test_key","reloadUnits":[],"restartUnits":[],
   "sopsFile":"/nix/store/x-secrets.yaml","sopsFileHash":"e155884d","uid":0}],
 "secretsMountPoint":"/run/secrets.d","sshKeyPaths":["/nonexistent/ssh_host_rsa_key"],"symlinkPath":"/run/secrets",
 "templates":[{"content":"password = \"<SOPS:92488e1e3eeecdf99f3ed2ce59233efb4b4fb612d5655c0ce9ea52b5a502e655:PLACEHOLDER>\"\n","file":"/nix/store/x-cfg.toml",
   "gid":0,"group":null,"mode":"0400","name":"cfg.toml","owner":null,"path":"/run/secrets/rendered/cfg.toml",
   "reloadUnits":[],"restartUnits":[],"uid":0}],
 "useTmpfs":false,"userMode":false}"#;
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("manifest.json");
    std::fs::write(&p, m).unwrap();
    let o = run(&["-check-mode=manifest", p.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), "");
    // sopsfile mode reads the (missing) sops file
    let o = run(&["--check-mode", "sopsfile", p.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("secret test_key")
            && stderr(&o).contains("failed reading /nix/store/x-secrets.yaml"),
        "{}",
        stderr(&o)
    );
}

struct Case {
    /// secret JSON objects (without placeholders)
    secrets: Vec<String>,
    templates: Vec<String>,
    placeholders: Vec<(&'static str, String)>,
}

fn secret(name: &str, file: &Path, format: &str, key: &str, mode: &str) -> String {
    format!(
        r#"{{"name":{},"sopsFile":{},"format":{},"key":{},"mode":{},"owner":"no-such-user","group":null,"uid":0,"gid":0,"path":""}}"#,
        js(name),
        js(&file.display().to_string()),
        js(format),
        js(key),
        js(mode)
    )
}

fn manifest(dir: &Path, c: &Case) -> String {
    let ph: Vec<String> = c
        .placeholders
        .iter()
        .map(|(n, p)| format!("{}:{}", js(n), js(p)))
        .collect();
    let text = format!(
        r#"{{"secrets":[{}],"templates":[{}],"placeholderBySecretName":{{{}}},"secretsMountPoint":"/nonexistent/secrets.d","symlinkPath":"/nonexistent/secrets","keepGenerations":1,"sshKeyPaths":[],"ageSshKeyPaths":[],"ageKeyFile":""}}"#,
        c.secrets.join(","),
        c.templates.join(","),
        ph.join(",")
    );
    let p = dir.join(format!("m{}.json", text.len()));
    std::fs::write(&p, text).unwrap();
    p.display().to_string()
}

#[test]
fn check_mode_errors_name_the_secret() {
    sealbox_testkit::require!(common::peers());
    let d = tempfile::tempdir().unwrap();
    let key = d.path().join("key.txt");
    let r = age_keygen(&key);
    let json = d.path().join("s.json");
    sops_encrypt(
        br#"{"db": {"password": "pw"}, "token": "t"}"#,
        "json",
        &r,
        &json,
    );
    let bin = d.path().join("s.bin");
    sops_encrypt(b"raw", "binary", &r, &bin);
    let missing = d.path().join("missing.json");
    let dir = d.path();
    // (case, manifest-mode error substring or "" for success, sopsfile-mode error substring)
    let ok_secret = secret("good", &json, "json", "db/password", "0400");
    let cases: Vec<(&str, Case, &str, &str)> = vec![
        (
            "valid",
            Case {
                secrets: vec![
                    ok_secret.clone(),
                    secret("blob", &bin, "binary", "", "0440"),
                ],
                templates: vec![],
                placeholders: vec![],
            },
            "",
            "",
        ),
        (
            "bad mode",
            Case {
                secrets: vec![secret("badmode", &json, "json", "token", "0999")],
                templates: vec![],
                placeholders: vec![],
            },
            "secret badmode: invalid mode '0999'",
            "secret badmode: invalid mode '0999'",
        ),
        (
            "unknown format",
            Case {
                secrets: vec![secret("fmt", &json, "toml", "token", "0400")],
                templates: vec![],
                placeholders: vec![],
            },
            "secret fmt: unsupported format 'toml'",
            "secret fmt: unsupported format 'toml'",
        ),
        (
            "format mismatch",
            Case {
                secrets: vec![
                    ok_secret.clone(),
                    secret("other", &json, "yaml", "token", "0400"),
                ],
                templates: vec![],
                placeholders: vec![],
            },
            "secret other: it defines the format of",
            "secret other: it defines the format of",
        ),
        (
            "missing key",
            Case {
                secrets: vec![secret("nokey", &json, "json", "db/user", "0400")],
                templates: vec![],
                placeholders: vec![],
            },
            "",
            "secret nokey in",
        ),
        (
            "key through a string",
            Case {
                secrets: vec![secret("deep", &json, "json", "token/x", "0400")],
                templates: vec![],
                placeholders: vec![],
            },
            "",
            "key 'token' does not refer to a dictionary",
        ),
        (
            "missing sops file",
            Case {
                secrets: vec![secret("gone", &missing, "json", "a", "0400")],
                templates: vec![],
                placeholders: vec![],
            },
            "",
            "secret gone: failed reading",
        ),
        (
            "binary file is not json",
            Case {
                secrets: vec![secret("bin_as_json", &key, "binary", "", "0400")],
                templates: vec![],
                placeholders: vec![],
            },
            "",
            "secret bin_as_json: cannot parse binary of",
        ),
        (
            "missing placeholder",
            Case {
                secrets: vec![ok_secret.clone()],
                templates: vec![r#"{"name":"t","content":"x","mode":"0400"}"#.into()],
                placeholders: vec![],
            },
            "placeholder for good not found in manifest",
            "placeholder for good not found in manifest",
        ),
        (
            "template without text",
            Case {
                secrets: vec![ok_secret.clone()],
                templates: vec![
                    r#"{"name":"empty","mode":"0400"}"#.into(),
                    r#"{"name":"nofile","mode":"0400","file":"/nonexistent/t"}"#.into(),
                ],
                placeholders: vec![("good", placeholder("good"))],
            },
            "neither content nor file was specified for template empty",
            "template nofile: cannot read /nonexistent/t",
        ),
        (
            "dot dot",
            Case {
                secrets: vec![secret("../x", &json, "json", "token", "0400")],
                templates: vec![],
                placeholders: vec![],
            },
            "secret ../x: the name contains a '.' or '..' component",
            "secret ../x",
        ),
    ];
    for (what, c, in_manifest, in_sopsfile) in cases {
        let m = manifest(dir, &c);
        for (mode, want) in [("manifest", in_manifest), ("sopsfile", in_sopsfile)] {
            let o = run(&[&format!("-check-mode={mode}"), &m]);
            if want.is_empty() {
                assert!(o.status.success(), "{what} ({mode}): {}", stderr(&o));
            } else {
                assert_eq!(o.status.code(), Some(1), "{what} ({mode})");
                assert!(stderr(&o).contains(want), "{what} ({mode}): {}", stderr(&o));
                assert!(!stderr(&o).contains("\"pw\""), "no values");
            }
        }
    }
    // every problem is reported, not just the first
    let m = manifest(
        dir,
        &Case {
            secrets: vec![
                secret("a", &json, "json", "token", "9"),
                secret("b", &json, "json", "nope", "0400"),
            ],
            templates: vec![],
            placeholders: vec![],
        },
    );
    let o = run(&["-check-mode=sopsfile", &m]);
    assert!(
        stderr(&o).contains("secret a:") && stderr(&o).contains("secret b in"),
        "{}",
        stderr(&o)
    );
}

/// `ageSshKeyPaths`: an ed25519 host key is converted and used in-process; a missing key
/// is only a warning; age-keys.txt holds the converted identity.
#[test]
fn age_ssh_key_paths_are_imported() {
    sealbox_testkit::require!(common::peers());
    let ns = Ns::new();
    let h = ns.h();
    let sk = h.join("ssh_host_ed25519_key");
    let st = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&sk)
        .status()
        .unwrap();
    assert!(st.success());
    let pubkey = std::fs::read_to_string(h.join("ssh_host_ed25519_key.pub")).unwrap();
    let r = sealbox_keys::age::ssh_to_age_public(&pubkey).unwrap();
    let json = h.join("s.json");
    sops_encrypt(br#"{"token": "from-ssh"}"#, "json", &r, &json);
    let t = &ns.t;
    let m = format!(
        r#"{{"secrets":[{{"name":"tok","sopsFile":{},"format":"json","key":"token","mode":"0400","owner":null,"group":null,"path":{}}}],"secretsMountPoint":{},"symlinkPath":{},"keepGenerations":1,"ageSshKeyPaths":["/nonexistent/key",{}],"sshKeyPaths":["/nonexistent/rsa"],"ageKeyFile":"","logging":{{"keyImport":true}}}}"#,
        js(&json.display().to_string()),
        js(&t.join("secrets/tok").display().to_string()),
        js(&t.join("secrets.d").display().to_string()),
        js(&t.join("secrets").display().to_string()),
        js(&sk.display().to_string())
    );
    let mf = h.join("m.json");
    std::fs::write(&mf, m).unwrap();
    let o = ns.install(&[mf.to_str().unwrap()], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("Cannot read ssh key '/nonexistent/key'"),
        "{err}"
    );
    // The missing RSA key of sshKeyPaths is a warning like the missing age key.
    assert!(
        err.contains("Cannot read ssh key '/nonexistent/rsa'"),
        "{err}"
    );
    assert!(
        err.contains(&format!("as age key with fingerprint {r}")),
        "{err}"
    );
    assert_eq!(ns.cat(&t.join("secrets/tok")), b"from-ssh");
    let keys = String::from_utf8(ns.cat(&t.join("secrets.d/age-keys.txt"))).unwrap();
    assert!(keys.starts_with("# generated by"), "{keys:.20}");
    assert_eq!(
        keys.lines()
            .filter(|l| l.starts_with("AGE-SECRET-KEY-1"))
            .count(),
        1
    );
    // with a key that cannot decrypt the file, the error names the file and its recipients
    let other = h.join("other_ed25519_key");
    let st = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&other)
        .status()
        .unwrap();
    assert!(st.success());
    let m2 = std::fs::read_to_string(&mf)
        .unwrap()
        .replace(&sk.display().to_string(), &other.display().to_string());
    std::fs::write(&mf, &m2).unwrap();
    let o = ns.install(&[mf.to_str().unwrap()], &[]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(
        err.contains("secret tok") && err.contains(&r) && err.contains(&json.display().to_string()),
        "{err}"
    );
    // with no key at all, the error names every path looked at and how to fix it
    let m3 = m2.replace(&other.display().to_string(), "/nonexistent/other");
    std::fs::write(&mf, m3).unwrap();
    let o = ns.install(&[mf.to_str().unwrap()], &[]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(
        err.contains("no usable key found")
            && err.contains("ageSshKeyPaths /nonexistent/key does not exist")
            && err.contains("sshKeyPaths /nonexistent/rsa does not exist")
            && err.contains("ageSshKeyPaths /nonexistent/other does not exist")
            && err.contains("ssh-keygen -A")
            && err.contains("--wait-for-key"),
        "{err}"
    );
}
