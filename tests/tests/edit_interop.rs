//! `edit`, `set`, `unset`, `exec-env` and `exec-file` of sealbox on files the real sops 3.11
//! encrypted; the results are checked by the real sops (docs/format.md#tree-paths,
//! docs/format.md#editing, docs/format.md#exec-env-and-exec-file).

use sealbox_tests::json::{self, Value};
use sealbox_tests::{Keys, Out, Peers, Sandbox};
use std::path::{Path, PathBuf};

/// Runs sealbox under `timeout 30` (an editor loop must not hang the suite), with the identity.
fn sealbox(sb: &Sandbox, peers: &Peers, keys: &Keys, args: &[&str], env: &[(&str, &str)]) -> Out {
    let id = keys.age1.env();
    let mut all: Vec<(&str, &str)> = vec![(id[0].0, id[0].1.as_str())];
    all.extend_from_slice(env);
    let mut a: Vec<&str> = vec!["30", peers.sealbox.to_str().unwrap()];
    a.extend_from_slice(args);
    sb.run(Path::new("timeout"), &a, &all, None)
}

fn sops_encrypt(sb: &Sandbox, peers: &Peers, keys: &Keys, plain: &str, out: &str) -> PathBuf {
    let o = sb
        .run(
            &peers.sops,
            &["encrypt", "--age", keys.age1.recipient.as_str(), plain],
            &[],
            None,
        )
        .ok("sops encrypt");
    sb.write(out, &o.stdout)
}

/// The real sops' decryption of `file` as a JSON tree (this also checks the MAC).
fn sops_tree(sb: &Sandbox, peers: &Peers, keys: &Keys, file: &str) -> Value {
    let id = keys.age1.env();
    let o = sb
        .run(
            &peers.sops,
            &["decrypt", "--output-type", "json", file],
            &[(id[0].0, id[0].1.as_str())],
            None,
        )
        .ok(&format!("sops decrypt {file}"));
    json::parse(&o.stdout_str()).expect("sops' JSON output parses")
}

/// The part of an encrypted YAML or JSON file before its `sops` metadata.
fn data_part(text: &str) -> &str {
    let cut = text
        .find("\nsops:")
        .or_else(|| text.find("\"sops\":"))
        .expect("the file has a sops block");
    &text[..cut]
}

/// Every `ENC[…]` string in the data part, in order.
fn enc_values(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = data_part(text);
    while let Some(i) = rest.find("ENC[") {
        let end = rest[i..].find(']').expect("ENC[ is closed") + i + 1;
        out.push(rest[i..end].to_string());
        rest = &rest[end..];
    }
    out
}

fn read(sb: &Sandbox, name: &str) -> String {
    std::fs::read_to_string(sb.work().join(name)).unwrap()
}

fn editor_script(sb: &Sandbox, name: &str, body: &str) -> String {
    use std::os::unix::fs::PermissionsExt;
    let p = sb.path().join(name);
    std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    p.display().to_string()
}

const YAML_DOC: &str = "\
name: demo
db:
    user: admin
    password: oldpass
    port: 5432
a:
    b: keep
list:
    - one
    - two
";

const JSON_DOC: &str = r#"{
    "name": "demo",
    "db": {"user": "admin", "password": "oldpass", "port": 5432},
    "a": {"b": "keep"},
    "list": ["one", "two"]
}
"#;

const BASE_TREE: &str = r#"{"name": "demo", "db": {"user": "admin", "password": "oldpass", "port": 5432},
    "a": {"b": "keep"}, "list": ["one", "two"]}"#;

#[test]
fn edit_changes_one_value_and_sops_decrypts() {
    let peers = sealbox_tests::require!(Peers::get());
    let keys = Keys::generate(&peers);
    let sb = Sandbox::new();
    sb.write("plain.yaml", YAML_DOC);
    sops_encrypt(&sb, &peers, &keys, "plain.yaml", "secret.yaml");
    let before = read(&sb, "secret.yaml");
    let editor = editor_script(
        &sb,
        "editor.sh",
        "sed -i 's/password: oldpass$/password: newpass/' \"$1\"",
    );
    sealbox(
        &sb,
        &peers,
        &keys,
        &["edit", "secret.yaml"],
        &[("EDITOR", &editor)],
    )
    .ok("sealbox edit");
    let after = read(&sb, "secret.yaml");

    let b: Vec<&str> = data_part(&before).lines().collect();
    let a: Vec<&str> = data_part(&after).lines().collect();
    assert_eq!(
        b.len(),
        a.len(),
        "edit changed the number of data lines\nbefore:\n{before}\nafter:\n{after}"
    );
    let diff: Vec<(&str, &str)> = b
        .iter()
        .zip(&a)
        .filter(|(x, y)| x != y)
        .map(|(x, y)| (*x, *y))
        .collect();
    assert_eq!(
        diff.len(),
        1,
        "exactly one data line should differ, got {diff:#?}"
    );
    let (old, new) = diff[0];
    assert!(
        old.trim_start().starts_with("password: ENC[")
            && new.trim_start().starts_with("password: ENC["),
        "the changed line is not the password's ENC value: {old:?} -> {new:?}"
    );
    let want = json::parse(&BASE_TREE.replace("oldpass", "newpass")).unwrap();
    assert_eq!(sops_tree(&sb, &peers, &keys, "secret.yaml"), want);
}

/// The `sops` block minus `lastmodified` and `mac`, line by line.
fn meta_lines(t: &str) -> Vec<String> {
    t[data_part(t).len()..]
        .lines()
        .filter(|l| {
            let k = l.trim_start().trim_start_matches('"');
            !k.starts_with("lastmodified") && !k.starts_with("mac")
        })
        .map(str::to_string)
        .collect()
}

/// After `edit` or `set` of a file the real sops wrote, the `sops` block is byte-identical but for
/// `lastmodified` and `mac` (the real sops re-emits it so: the age `enc: |` body keeps its
/// indentation).
#[test]
fn rewrite_keeps_sops_block_bytes() {
    let peers = sealbox_tests::require!(Peers::get());
    let keys = Keys::generate(&peers);
    let mut failures = Vec::new();
    for (ext, doc) in [("yaml", YAML_DOC), ("json", JSON_DOC)] {
        let sb = Sandbox::new();
        let file = format!("secret.{ext}");
        sb.write(&format!("plain.{ext}"), doc);
        sops_encrypt(&sb, &peers, &keys, &format!("plain.{ext}"), &file);
        let before = read(&sb, &file);
        let editor = editor_script(&sb, "editor.sh", "sed -i 's/oldpass/newpass/' \"$1\"");
        let edit: &[&str] = &["edit", &file];
        let set: &[&str] = &["set", &file, r#"["name"]"#, r#""other""#];
        for args in [edit, set] {
            sealbox(&sb, &peers, &keys, args, &[("EDITOR", &editor)])
                .ok(&format!("sealbox {}", args.join(" ")));
            let after = read(&sb, &file);
            let (b, a) = (meta_lines(&before), meta_lines(&after));
            if b != a {
                let d = b
                    .iter()
                    .zip(&a)
                    .find(|(x, y)| x != y)
                    .map(|(x, y)| format!("sops wrote {x:?}\nsealbox wrote {y:?}"))
                    .unwrap_or_else(|| format!("{} vs {} lines", b.len(), a.len()));
                failures.push(format!("{ext} after `{}`: {d}", args[0]));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn edit_invalid_yaml_with_stdin_at_eof_leaves_everything() {
    let peers = sealbox_tests::require!(Peers::get());
    let keys = Keys::generate(&peers);
    let sb = Sandbox::new();
    sb.write("plain.yaml", YAML_DOC);
    sops_encrypt(&sb, &peers, &keys, "plain.yaml", "secret.yaml");
    let before = std::fs::read(sb.work().join("secret.yaml")).unwrap();
    let tmp = sb.path().join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    let editor = editor_script(&sb, "bad.sh", "printf 'a: [unclosed\\n  - :\\n' > \"$1\"");
    let out = sealbox(
        &sb,
        &peers,
        &keys,
        &["edit", "secret.yaml"],
        &[("EDITOR", &editor), ("TMPDIR", tmp.to_str().unwrap())],
    );
    assert_ne!(
        out.code, 124,
        "sealbox edit still running after 30 s (editor loop on EOF?)"
    );
    assert_ne!(out.code, 0, "sealbox edit accepted invalid YAML");
    assert!(!out.stderr.trim().is_empty(), "no error message");
    let after = std::fs::read(sb.work().join("secret.yaml")).unwrap();
    assert!(before == after, "the encrypted file changed");
    let left: Vec<_> = std::fs::read_dir(&tmp)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert!(left.is_empty(), "left behind under TMPDIR: {left:?}");
}

/// One `set`/`unset` step: arguments, the tree afterwards, how many of the previous ENC values
/// disappear and how many new ones appear.
struct Step {
    args: &'static [&'static str],
    tree: &'static str,
    lost: usize,
    added: usize,
}

const STEPS: &[Step] = &[
    Step {
        args: &["set", "F", r#"["db"]["password"]"#, r#""s3cret value""#],
        tree: r#"{"name": "demo", "db": {"user": "admin", "password": "s3cret value", "port": 5432},
            "a": {"b": "keep"}, "list": ["one", "two"]}"#,
        lost: 1,
        added: 1,
    },
    Step {
        args: &["set", "F", r#"["db"]["port"]"#, "6543"],
        tree: r#"{"name": "demo", "db": {"user": "admin", "password": "s3cret value", "port": 6543},
            "a": {"b": "keep"}, "list": ["one", "two"]}"#,
        lost: 1,
        added: 1,
    },
    Step {
        args: &["set", "F", r#"["a"]["new"]["deep"]"#, r#""deep value""#],
        tree: r#"{"name": "demo", "db": {"user": "admin", "password": "s3cret value", "port": 6543},
            "a": {"b": "keep", "new": {"deep": "deep value"}}, "list": ["one", "two"]}"#,
        lost: 0,
        added: 1,
    },
    Step {
        args: &[
            "set",
            "F",
            r#"["obj"]"#,
            r#"{"k": "v", "n": 1.5, "inner": {"t": true}}"#,
        ],
        tree: r#"{"name": "demo", "db": {"user": "admin", "password": "s3cret value", "port": 6543},
            "a": {"b": "keep", "new": {"deep": "deep value"}}, "list": ["one", "two"],
            "obj": {"k": "v", "n": 1.5, "inner": {"t": true}}}"#,
        lost: 0,
        added: 3,
    },
    Step {
        args: &["unset", "F", r#"["db"]["user"]"#],
        tree: r#"{"name": "demo", "db": {"password": "s3cret value", "port": 6543},
            "a": {"b": "keep", "new": {"deep": "deep value"}}, "list": ["one", "two"],
            "obj": {"k": "v", "n": 1.5, "inner": {"t": true}}}"#,
        lost: 1,
        added: 0,
    },
    Step {
        args: &["unset", "F", r#"["list"]"#],
        tree: r#"{"name": "demo", "db": {"password": "s3cret value", "port": 6543},
            "a": {"b": "keep", "new": {"deep": "deep value"}},
            "obj": {"k": "v", "n": 1.5, "inner": {"t": true}}}"#,
        lost: 2,
        added: 0,
    },
];

fn set_unset(ext: &str, doc: &str) {
    let peers = sealbox_tests::require!(Peers::get());
    let keys = Keys::generate(&peers);
    let sb = Sandbox::new();
    let file = format!("secret.{ext}");
    sb.write(&format!("plain.{ext}"), doc);
    sops_encrypt(&sb, &peers, &keys, &format!("plain.{ext}"), &file);
    assert_eq!(
        sops_tree(&sb, &peers, &keys, &file),
        json::parse(BASE_TREE).unwrap()
    );
    for step in STEPS {
        let what = step.args.join(" ");
        let before = enc_values(&read(&sb, &file));
        let args: Vec<&str> = step
            .args
            .iter()
            .map(|a| if *a == "F" { file.as_str() } else { *a })
            .collect();
        sealbox(&sb, &peers, &keys, &args, &[]).ok(&format!("sealbox {what}"));
        let text = read(&sb, &file);
        let after = enc_values(&text);
        let lost = before.iter().filter(|v| !after.contains(v)).count();
        let added = after.iter().filter(|v| !before.contains(v)).count();
        assert_eq!(
            (lost, added),
            (step.lost, step.added),
            "{ext}: `{what}`: (ENC values gone, ENC values new) -- other values must keep their \
             ciphertext\nfile:\n{text}"
        );
        let got = sops_tree(&sb, &peers, &keys, &file);
        let want = json::parse(step.tree).unwrap();
        assert_eq!(got, want, "{ext}: `{what}`: sops decrypts another tree");
    }
}

#[test]
fn set_unset_yaml_checked_by_sops() {
    set_unset("yaml", YAML_DOC);
}

#[test]
fn set_unset_json_checked_by_sops() {
    set_unset("json", JSON_DOC);
}

#[test]
fn exec_env_and_exec_file_on_sops_file() {
    let peers = sealbox_tests::require!(Peers::get());
    let keys = Keys::generate(&peers);
    let sb = Sandbox::new();
    sb.write(
        "plain.yaml",
        "user: admin\npassword: \"p@ss word = 'q' $HOME\"\nport: 5432\nratio: 1.5\non: true\n",
    );
    sops_encrypt(&sb, &peers, &keys, "plain.yaml", "secret.yaml");

    let out = sealbox(
        &sb,
        &peers,
        &keys,
        &[
            "exec-env",
            "secret.yaml",
            r#"printf '%s|%s|%s|%s|%s' "$user" "$password" "$port" "$ratio" "$on""#,
        ],
        &[],
    )
    .ok("sealbox exec-env");
    assert_eq!(
        out.stdout_str(),
        "admin|p@ss word = 'q' $HOME|5432|1.5|true"
    );

    let out = sealbox(
        &sb,
        &peers,
        &keys,
        &[
            "exec-env",
            "secret.yaml",
            r#"test "$user" = admin && exit 7"#,
        ],
        &[],
    );
    assert_eq!(out.code, 7, "exec-env passes the child's exit status");

    let out = sealbox(
        &sb,
        &peers,
        &keys,
        &[
            "exec-env",
            "--pristine",
            "secret.yaml",
            r#"printf '%s' "${HOME-unset}""#,
        ],
        &[],
    )
    .ok("sealbox exec-env --pristine");
    assert_eq!(
        out.stdout_str(),
        "unset",
        "--pristine passes no parent environment"
    );

    let id = keys.age1.env();
    let want = sb
        .run(
            &peers.sops,
            &["decrypt", "secret.yaml"],
            &[(id[0].0, id[0].1.as_str())],
            None,
        )
        .ok("sops decrypt")
        .stdout;
    for extra in [&[][..], &["--no-fifo"][..]] {
        let mut args = vec!["exec-file"];
        args.extend_from_slice(extra);
        args.extend(["secret.yaml", "cat {}"]);
        let out = sealbox(&sb, &peers, &keys, &args, &[]).ok("sealbox exec-file");
        assert!(
            out.stdout == want,
            "exec-file {extra:?}: the child read\n{}\nsops decrypts to\n{}",
            out.stdout_str(),
            String::from_utf8_lossy(&want)
        );
    }
    let out = sealbox(
        &sb,
        &peers,
        &keys,
        &[
            "exec-file",
            "--output-type",
            "json",
            "--filename",
            "conf.json",
            "secret.yaml",
            r#"case {} in */conf.json) grep -q '"port": 5432' {} && exit 5;; esac; exit 1"#,
        ],
        &[],
    );
    assert_eq!(
        out.code, 5,
        "exec-file --output-type json --filename: {}",
        out.stderr
    );
}
