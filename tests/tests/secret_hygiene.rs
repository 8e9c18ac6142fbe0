//! Memory hygiene and leaks.
//!
//! * `secrets_are_held_in_wiping_types`: the data key, identities, plaintext values and every
//!   function that hands out secret bytes use `zeroize` types (checked by the compiler: the
//!   assertions below stop compiling if a type changes), and `Debug` never shows them.
//! * `no_error_path_prints_a_planted_secret`: distinctive secret values (plaintext values,
//!   a comment, the age identity itself, a value given to `set`) are planted, and every
//!   error path we can trigger in `sealbox` and `sealbox-install` runs; none of their
//!   outputs (stdout and stderr) may contain a planted value, except the outputs whose
//!   purpose is the value (a successful decrypt's stdout).

use sealbox_formats::cipher::{Cipher, DataKey, ValueType};
use sealbox_formats::{shamir, Comment, Map, Value};
use sealbox_keys::age::{self as keys, Identities, IdentitySources};
use sealbox_tests::{age_keygen, install_bin, Out, Peers, Sandbox};
use zeroize::{ZeroizeOnDrop, Zeroizing};

fn wipes_on_drop<T: ZeroizeOnDrop>() {}

#[test]
// The spelled-out fn types are the assertions.
#[allow(clippy::type_complexity, clippy::extra_unused_lifetimes)]
fn secrets_are_held_in_wiping_types() {
    // The data key: its bytes are a Zeroizing array (cipher.rs).
    wipes_on_drop::<DataKey>();
    wipes_on_drop::<Zeroizing<String>>();
    wipes_on_drop::<Zeroizing<Vec<u8>>>();

    // Plaintext in the tree: strings, raw bytes and comments are Zeroizing buffers.
    let v = Value::str("x");
    if let Value::Str(s) = &v {
        let _: &Zeroizing<String> = s;
    }
    if let Value::Bytes(b) = &Value::from_bytes(vec![0xff]) {
        let _: &Zeroizing<Vec<u8>>;
        let _ = b;
    }
    let c = Comment::new("c");
    let _: &Zeroizing<String> = &c.0;

    // Everything that returns secret bytes returns them in Zeroizing buffers.
    let _: fn(&str) -> sealbox_formats::Result<Zeroizing<String>> = keys::ssh_to_age_private;
    let _: fn() -> (Zeroizing<String>, String) = keys::generate_age_key;
    let _: fn(&Identities, &str) -> sealbox_formats::Result<Zeroizing<Vec<u8>>> =
        Identities::unwrap;
    let _: fn(
        &Cipher,
        &str,
        &[u8],
        &str,
    ) -> sealbox_formats::Result<(Zeroizing<Vec<u8>>, ValueType)> = Cipher::decrypt;
    let _: fn(&[u8], usize, usize) -> sealbox_formats::Result<Vec<Zeroizing<Vec<u8>>>> =
        shamir::split;
    let _: fn(&[Zeroizing<Vec<u8>>]) -> sealbox_formats::Result<Zeroizing<Vec<u8>>> =
        shamir::combine;
    let _: fn(&str, &[(&str, &[u8])]) -> Zeroizing<Vec<u8>> = sealbox_manifest::render;
    fn activation_value<'a>() {
        use sealbox_activation::decrypt::Decryptor;
        let _: for<'b, 'c> fn(
            &'b mut Decryptor<'a>,
            &'c sealbox_manifest::PlannedSecret,
        ) -> Result<Zeroizing<Vec<u8>>, String> = Decryptor::<'a>::value;
    }
    activation_value();
    // SOPS_AGE_KEY as read from the environment.
    let src = IdentitySources::default();
    let _: &Option<Zeroizing<String>> = &src.age_key;
    // Identities hold age's x25519::Identity (an x25519-dalek StaticSecret, wiped on drop:
    // age enables x25519-dalek's default "zeroize" feature) and age's ssh::Identity (key
    // bytes in a SecretBox, RSA keys in rsa::RsaPrivateKey, which zeroizes on drop); neither
    // type exposes a trait to check here, so their Debug output is checked instead.

    // Debug output never shows a value or key material.
    let (secret, _) = keys::generate_age_key();
    let ids = Identities::from_text(&secret).unwrap();
    let mut m = Map::new();
    m.push("k", Value::str("PLANTED-debug-value"));
    m.push_comment("PLANTED-debug-comment");
    m.push("b", Value::from_bytes(b"PLANTED-bytes\xff".to_vec()));
    let key = DataKey::from_slice(&[0x41; 32]).unwrap();
    let shown = format!("{m:?} {ids:?} {key:?} {v:?}");
    for bad in ["PLANTED", &secret[..], "AAAAAAAA", "AGE-SECRET-KEY"] {
        assert!(!shown.contains(bad), "Debug output shows {bad:?}: {shown}");
    }
}

const PLAIN: &str = "\
# PLANTED-comment-9f3a1c
db_password: PLANTED-value-4b8e2d
nested:
    api_token: PLANTED-value-7c1f9a
    port: 31337
list:
    - PLANTED-value-e2d6b0
visible_unencrypted: public-value
";

/// Strings that must not appear in error output.
fn planted(identity_secret: &str) -> Vec<String> {
    vec![
        "PLANTED-comment-9f3a1c".into(),
        "PLANTED-value-4b8e2d".into(),
        "PLANTED-value-7c1f9a".into(),
        "PLANTED-value-e2d6b0".into(),
        "PLANTED-set-value-55aa".into(),
        "PLANTED-env-value".into(),
        identity_secret.to_string(),
        // the secret key's data part alone (as a message might quote it lower-cased)
        identity_secret["AGE-SECRET-KEY-1".len()..].to_ascii_lowercase(),
    ]
}

struct Case {
    what: String,
    out: Out,
    /// Expected: failure (non-zero) unless said otherwise.
    expect_fail: bool,
}

#[test]
fn no_error_path_prints_a_planted_secret() {
    let peers = sealbox_tests::require!(Peers::get());
    let sb = Sandbox::new();
    let (recipient, key_file) = age_keygen(&peers, sb.path(), "id");
    let (other_recipient, other_key) = age_keygen(&peers, sb.path(), "other");
    let _ = other_recipient;
    let id_text = std::fs::read_to_string(&key_file).unwrap();
    let identity_secret = id_text
        .lines()
        .find(|l| l.starts_with("AGE-SECRET-KEY-1"))
        .unwrap()
        .to_string();
    let key = key_file.to_str().unwrap();
    let env_ok = [("SOPS_AGE_KEY_FILE", key)];
    let sealbox = |args: &[&str], env: &[(&str, &str)]| sb.run(&peers.sealbox, args, env, None);

    sb.write("plain.yaml", PLAIN);
    let enc = sealbox(&["encrypt", "--age", &recipient, "plain.yaml"], &[]).ok("encrypt");
    let enc = enc.stdout_str();
    sb.write("s.enc.yaml", &enc);
    // damaged copies
    sb.write(
        "mac.enc.yaml",
        enc.replacen("public-value", "public-valuX", 1),
    );
    let vs = enc.find("db_password: ").unwrap() + "db_password: ".len();
    let ve = vs + enc[vs..].find('\n').unwrap();
    sb.write(
        "plainval.enc.yaml",
        format!("{}PLANTED-value-4b8e2d{}", &enc[..vs], &enc[ve..]),
    );
    let iv = vs + enc[vs..].find("iv:").unwrap() + 3;
    let mut t = enc.clone().into_bytes();
    t[iv] = if t[iv] == b'A' { b'B' } else { b'A' };
    sb.write("badiv.enc.yaml", t);
    sb.write(
        "broken.yaml",
        "db_password: \"PLANTED-value-4b8e2d\n  : [\n",
    );
    sb.write(
        "dup.yaml",
        "a: PLANTED-value-4b8e2d\na: PLANTED-value-7c1f9a\n",
    );
    sb.write(
        "badkeys.txt",
        format!("{identity_secret}\nAGE-SECRET-KEY-1PLANTEDNOTAKEY\n"),
    );
    sb.write("nested.yaml", "a:\n    b: PLANTED-value-7c1f9a\n");
    sb.write("bad.pem", "-----BEGIN OPENSSH PRIVATE KEY-----\nPLANTED-value-7c1f9a\n-----END OPENSSH PRIVATE KEY-----\n");
    // an editor that writes text that does not parse, holding a secret
    sb.write(
        "editor.sh",
        "#!/bin/sh\nprintf 'x: \"PLANTED-value-4b8e2d\\n  : [\\n' > \"$1\"\n",
    );
    std::fs::set_permissions(
        sb.work().join("editor.sh"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let editor = sb.work().join("editor.sh").display().to_string();
    let bad_id_env = format!("{identity_secret}x");

    let mut cases = vec![
        (
            "decrypt: MAC mismatch",
            sealbox(&["decrypt", "mac.enc.yaml"], &env_ok),
            true,
        ),
        (
            "decrypt: wrong identity",
            sealbox(
                &["decrypt", "s.enc.yaml"],
                &[("SOPS_AGE_KEY_FILE", other_key.to_str().unwrap())],
            ),
            true,
        ),
        (
            "decrypt: no identity at all",
            sealbox(&["decrypt", "s.enc.yaml"], &[]),
            true,
        ),
        (
            "decrypt: a value replaced by plaintext",
            sealbox(&["decrypt", "plainval.enc.yaml"], &env_ok),
            true,
        ),
        (
            "decrypt: a damaged IV",
            sealbox(&["decrypt", "badiv.enc.yaml"], &env_ok),
            true,
        ),
        (
            "decrypt --extract: missing key",
            sealbox(
                &["decrypt", "--extract", "[\"nope\"]", "s.enc.yaml"],
                &env_ok,
            ),
            true,
        ),
        (
            "decrypt --extract: bad path",
            sealbox(
                &["decrypt", "--extract", "[\"db_password\"", "s.enc.yaml"],
                &env_ok,
            ),
            true,
        ),
        (
            "decrypt --extract: index into a string",
            sealbox(
                &["decrypt", "--extract", "[\"db_password\"][0]", "s.enc.yaml"],
                &env_ok,
            ),
            true,
        ),
        (
            "decrypt to dotenv: nested values",
            sealbox(
                &["decrypt", "--output-type", "dotenv", "s.enc.yaml"],
                &env_ok,
            ),
            true,
        ),
        (
            "decrypt: identity file with a bad line",
            sealbox(
                &["decrypt", "s.enc.yaml"],
                &[(
                    "SOPS_AGE_KEY_FILE",
                    sb.work().join("badkeys.txt").to_str().unwrap(),
                )],
            ),
            false,
        ),
        (
            "decrypt: SOPS_AGE_KEY malformed",
            sealbox(&["decrypt", "s.enc.yaml"], &[("SOPS_AGE_KEY", &bad_id_env)]),
            true,
        ),
        (
            "encrypt: YAML syntax error in a secret",
            sealbox(&["encrypt", "--age", &recipient, "broken.yaml"], &[]),
            true,
        ),
        (
            "encrypt: duplicate keys",
            sealbox(&["encrypt", "--age", &recipient, "dup.yaml"], &[]),
            true,
        ),
        (
            "encrypt: to dotenv, nested",
            sealbox(
                &[
                    "encrypt",
                    "--age",
                    &recipient,
                    "--output-type",
                    "dotenv",
                    "nested.yaml",
                ],
                &[],
            ),
            true,
        ),
        (
            "encrypt: already encrypted",
            sealbox(&["encrypt", "--age", &recipient, "s.enc.yaml"], &[]),
            true,
        ),
        (
            "set: bad path",
            sealbox(
                &[
                    "set",
                    "s.enc.yaml",
                    "[\"db_password\"",
                    "\"PLANTED-set-value-55aa\"",
                ],
                &env_ok,
            ),
            true,
        ),
        (
            "set: value is not JSON",
            sealbox(
                &[
                    "set",
                    "s.enc.yaml",
                    "[\"db_password\"]",
                    "PLANTED-set-value-55aa",
                ],
                &env_ok,
            ),
            true,
        ),
        (
            "set: wrong identity",
            sealbox(
                &["set", "s.enc.yaml", "[\"x\"]", "\"PLANTED-set-value-55aa\""],
                &[("SOPS_AGE_KEY_FILE", other_key.to_str().unwrap())],
            ),
            true,
        ),
        (
            "unset: missing key",
            sealbox(&["unset", "s.enc.yaml", "[\"nope\"]"], &env_ok),
            true,
        ),
        (
            "exec-env: command fails",
            sealbox(&["exec-env", "s.enc.yaml", "false"], &env_ok),
            true,
        ),
        (
            "exec-env: command not found",
            sealbox(&["exec-env", "s.enc.yaml", "/nonexistent/cmd"], &env_ok),
            true,
        ),
        (
            "exec-env: MAC mismatch",
            sealbox(&["exec-env", "mac.enc.yaml", "env"], &env_ok),
            true,
        ),
        (
            "exec-file: command fails",
            sealbox(&["exec-file", "s.enc.yaml", "false {}"], &env_ok),
            true,
        ),
        (
            "edit: the editor writes text that does not parse",
            sealbox(
                &["edit", "s.enc.yaml"],
                &[("SOPS_AGE_KEY_FILE", key), ("EDITOR", &editor)],
            ),
            true,
        ),
        (
            "rotate: wrong identity",
            sealbox(
                &["rotate", "s.enc.yaml"],
                &[("SOPS_AGE_KEY_FILE", other_key.to_str().unwrap())],
            ),
            true,
        ),
        (
            "updatekeys: no .sops.yaml",
            sealbox(&["updatekeys", "-y", "s.enc.yaml"], &env_ok),
            true,
        ),
        (
            "check --decrypt: MAC mismatch",
            sealbox(&["check", "--decrypt", "mac.enc.yaml"], &env_ok),
            true,
        ),
        (
            "keygen -y: malformed key file",
            sealbox(&["keygen", "-y", "badkeys.txt"], &[]),
            true,
        ),
        (
            "ssh-to-age -private-key: broken key",
            sealbox(&["ssh-to-age", "-private-key", "-i", "bad.pem"], &[]),
            true,
        ),
    ];

    // sealbox-install: a manifest whose secrets fail in different ways, checked and run.
    let install = install_bin();
    let t = sb.path().join("ns");
    std::fs::create_dir(&t).unwrap();
    let file = sb.work().join("s.enc.yaml").display().to_string();
    let macfile = sb.work().join("mac.enc.yaml").display().to_string();
    let secret = |name: &str, key: &str, file: &str, format: &str| {
        format!(
            r#"{{"name":"{name}","key":"{key}","sopsFile":"{file}","format":"{format}","mode":"0400","owner":null,"group":null,"uid":0,"gid":0,"path":"{}/secrets/{name}","restartUnits":[],"reloadUnits":[],"neededForUsers":false,"sopsFileHash":"x"}}"#,
            t.display()
        )
    };
    let manifest = |secrets: Vec<String>, templates: &str, placeholders: &str| {
        format!(
            r#"{{"secrets":[{}],"templates":[{templates}],"placeholderBySecretName":{{{placeholders}}},"secretsMountPoint":"{t}/secrets.d","symlinkPath":"{t}/secrets","keepGenerations":1,"ageKeyFile":"{key}","ageSshKeyPaths":[],"sshKeyPaths":[],"gnupgHome":null,"useTmpfs":true,"userMode":false,"logging":{{"keyImport":true,"secretChanges":true}}}}"#,
            secrets.join(","),
            t = t.display()
        )
    };
    let template = format!(
        r#"{{"name":"tpl","mode":"0400","owner":null,"group":null,"uid":0,"gid":0,"path":"{t}/secrets/rendered/tpl","restartUnits":[],"reloadUnits":[],"content":"a=<SOPS:ok:PLACEHOLDER> b=<SOPS:missing:PLACEHOLDER>","file":""}}"#,
        t = t.display()
    );
    // (what, manifest, whether --check-mode=sopsfile finds the problem: it parses the
    // files and looks the keys up, but has no key to check a MAC)
    let manifests = [
        (
            "missing key path",
            manifest(
                vec![
                    secret("ok", "db_password", &file, "yaml"),
                    secret("missing", "nope/deeper", &file, "yaml"),
                ],
                "",
                "",
            ),
            true,
        ),
        (
            "key path into a string",
            manifest(vec![secret("deep", "db_password/x", &file, "yaml")], "", ""),
            true,
        ),
        (
            "MAC mismatch",
            manifest(vec![secret("ok", "db_password", &macfile, "yaml")], "", ""),
            false,
        ),
        (
            "wrong format",
            manifest(vec![secret("ok", "db_password", &file, "json")], "", ""),
            true,
        ),
        (
            "non-string value",
            manifest(vec![secret("list", "list", &file, "yaml")], "", ""),
            true,
        ),
        (
            "template with a placeholder of a failing secret",
            manifest(
                vec![
                    secret("ok", "db_password", &file, "yaml"),
                    secret("missing", "nope", &file, "yaml"),
                ],
                &template,
                r#""ok":"<SOPS:ok:PLACEHOLDER>","missing":"<SOPS:missing:PLACEHOLDER>""#,
            ),
            true,
        ),
    ];
    for (i, (what, m, sopsfile_fails)) in manifests.iter().enumerate() {
        let path = sb.write(&format!("manifest{i}.json"), m);
        for mode in ["sopsfile", "manifest"] {
            let o = sb.run(
                &install,
                &[&format!("--check-mode={mode}"), path.to_str().unwrap()],
                &[],
                None,
            );
            cases.push((
                Box::leak(format!("sealbox-install --check-mode={mode}: {what}").into_boxed_str()),
                o,
                mode == "sopsfile" && *sopsfile_fails,
            ));
        }
        // A real run in a private mount namespace (tmpfs on `t`).
        let script = "set -e; mount -t tmpfs -o mode=0755 tmpfs \"$T\"; mkdir -p \"$T/nixos\"; exec \"$BIN\" \"$M\"";
        let o = sb.run(
            std::path::Path::new("unshare"),
            &["-m", "--propagation", "private", "sh", "-c", script],
            &[
                ("T", t.to_str().unwrap()),
                ("BIN", install.to_str().unwrap()),
                ("M", path.to_str().unwrap()),
                ("SEALBOX_NIXOS_RUN_DIR", t.join("nixos").to_str().unwrap()),
            ],
            None,
        );
        cases.push((
            Box::leak(format!("sealbox-install: {what}").into_boxed_str()),
            o,
            true,
        ));
    }

    let cases: Vec<Case> = cases
        .into_iter()
        .map(|(what, out, expect_fail)| Case {
            what: what.to_string(),
            out,
            expect_fail,
        })
        .collect();
    let secrets = planted(&identity_secret);
    let mut failures = Vec::new();
    for c in &cases {
        let all = format!("{}\n{}", c.out.stdout_str(), c.out.stderr);
        if c.expect_fail && c.out.code == 0 {
            failures.push(format!(
                "{}: expected a failure, exit 0:\n{}",
                c.what, c.out.stderr
            ));
        }
        // (exec-env/exec-file pass the command's own exit status through, like sops)
        if c.out.code != 0 && c.out.stderr.trim().is_empty() && !c.what.contains("command fails") {
            failures.push(format!(
                "{}: fails (exit {}) without a message",
                c.what, c.out.code
            ));
        }
        // A successful decrypt's stdout is the plaintext on purpose; only errors count.
        let checked = if c.out.code == 0 { &c.out.stderr } else { &all };
        for s in &secrets {
            if checked.contains(s.as_str()) {
                failures.push(format!(
                    "{} (exit {}): the output contains the planted secret {s:?}:\n{checked}",
                    c.what, c.out.code
                ));
            }
        }
    }
    eprintln!("{} error paths checked", cases.len());
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
