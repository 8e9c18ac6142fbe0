//! The NixOS module end to end: `nix/tests/every-option.nix` (a host that sets every `sops.*`
//! option) is evaluated with nixpkgs' lib, the manifests it yields pass
//! `sealbox-install --check-mode=sopsfile`, and installing them gives the tree sops-nix's
//! semantics call for (paths, symlinks, owners, modes, contents).
//!
//! Needs `NIXPKGS_LIB` (a checkout of nixpkgs' lib, e.g. nix-community/nixpkgs.lib); without it
//! the tests say SKIPPED. With `SOPS_NIX_SRC` (a sops-nix checkout) as well, the same
//! configuration is evaluated with sops-nix's own module and both manifests are installed side
//! by side: the two trees must be identical.
//!
//! The evaluation runs on `--store dummy://`, which computes store paths without copying: the
//! test maps each store path back to the file it came from (the `storePaths` the expression
//! returns) and moves `/run/…` into the namespace's tmpfs.

mod common;
use common::*;
use sealbox_formats::store::json;
use sealbox_formats::{Map, Value};
use std::path::{Path, PathBuf};
use std::process::Command;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// nixpkgs' lib directory from `NIXPKGS_LIB` (the checkout root or its lib/), or None.
fn nixpkgs_lib() -> Option<PathBuf> {
    let v = std::env::var_os("NIXPKGS_LIB").filter(|v| !v.is_empty())?;
    let mut p = std::fs::canonicalize(&v)
        .unwrap_or_else(|e| panic!("NIXPKGS_LIB={}: {e}", Path::new(&v).display()));
    if !p.join("fixed-points.nix").exists() && p.join("lib/fixed-points.nix").exists() {
        p.push("lib");
    }
    assert!(
        p.join("modules.nix").exists(),
        "NIXPKGS_LIB={} is not nixpkgs' lib directory",
        p.display()
    );
    Some(p)
}

/// Evaluates `nix/tests/every-option.nix` and returns its JSON result.
fn evaluate(lib: &Path, files: &[(&str, &Path)], key: &Path, root: &Path, extra: &[&str]) -> Map {
    let scratch = tempfile::tempdir().unwrap();
    let files_expr = files
        .iter()
        .map(|(k, p)| format!("{k} = {};", p.display()))
        .collect::<Vec<_>>()
        .join(" ");
    let out = Command::new("nix-instantiate")
        .args(["--store", "dummy://", "--eval", "--strict", "--json"])
        .arg("nix/tests/every-option.nix")
        .arg("--arg")
        .arg("lib")
        .arg(format!("import {}", lib.display()))
        .arg("--arg")
        .arg("files")
        .arg(format!("{{ {files_expr} }}"))
        .arg("--argstr")
        .arg("keyFile")
        .arg(key)
        .arg("--argstr")
        .arg("root")
        .arg(root)
        .args(extra)
        .current_dir(repo_root())
        .env("HOME", scratch.path())
        .env_remove("NIX_PATH")
        .output()
        .expect("nix-instantiate (apt-get install nix-bin)");
    assert!(
        out.status.success(),
        "evaluating nix/tests/every-option.nix failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    json::parse(&String::from_utf8(out.stdout).unwrap()).expect("JSON from nix-instantiate")
}

fn text<'a>(m: &'a Map, key: &str) -> &'a str {
    m.get(key)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("no string {key} in the evaluation result"))
}

/// The manifest text with store paths replaced by their sources and `/run/` moved to `run`.
fn localise(manifest: &str, result: &Map, run: &Path) -> String {
    let mut s = manifest.to_string();
    let stores = result
        .get("storePaths")
        .and_then(Value::as_map)
        .expect("storePaths");
    for (store, local) in stores.pairs() {
        s = s.replace(store, local.as_str().unwrap());
    }
    s.replace("\"/run/", &format!("\"{}/", run.display()))
}

struct Inputs {
    f: Fixture,
    files: Vec<(&'static str, PathBuf)>,
}

const YAML: &str =
    "database:\n    password: pw-db\n    user: dbuser\nusers:\n    root: $6$salt$hash\n";
const JSON: &str = r#"{"api": {"token": "tok-123"}, "other": 1}"#;
const DOTENV: &str = "A=1\nB=two\n";
const INI: &str = "[s]\nk = v\n";
const BLOB: &[u8] = b"\x00\x01bin\xff\n";

fn inputs() -> Inputs {
    inputs_with(|f, name, format, plain| f.enc(name, format, plain))
}

/// The five sops files (encrypted by `enc`) and the template file.
fn inputs_with(enc: impl Fn(&Fixture, &str, &str, &[u8]) -> PathBuf) -> Inputs {
    let f = Fixture::new();
    let mut files = vec![
        ("yaml", enc(&f, "s.yaml", "yaml", YAML.as_bytes())),
        ("json", enc(&f, "s.json", "json", JSON.as_bytes())),
        ("dotenv", enc(&f, "s.env", "dotenv", DOTENV.as_bytes())),
        ("ini", enc(&f, "s.ini", "ini", INI.as_bytes())),
        ("binary", enc(&f, "s.bin", "binary", BLOB)),
    ];
    let tmpl = f.ns.h().join("from-file.tmpl");
    std::fs::write(&tmpl, format!("token={}\n", placeholder("api_token"))).unwrap();
    files.push(("template", tmpl));
    Inputs { f, files }
}

impl Inputs {
    fn eval(&self, lib: &Path, root: &Path, extra: &[&str]) -> Map {
        let files: Vec<(&str, &Path)> = self.files.iter().map(|(k, p)| (*k, p.as_path())).collect();
        evaluate(lib, &files, &self.f.key_file, root, extra)
    }
    fn file(&self, kind: &str) -> &Path {
        &self.files.iter().find(|(k, _)| *k == kind).unwrap().1
    }
    /// Writes both manifests of `result` (localised to `run`) and returns their paths.
    fn write_manifests(&self, result: &Map, run: &Path, tag: &str) -> (String, String) {
        let h = self.f.ns.h();
        let m = h.join(format!("{tag}-manifest.json"));
        let u = h.join(format!("{tag}-manifest-for-users.json"));
        std::fs::write(&m, localise(text(result, "manifest"), result, run)).unwrap();
        std::fs::write(&u, localise(text(result, "usersManifest"), result, run)).unwrap();
        (m.display().to_string(), u.display().to_string())
    }
    fn install(&self, manifest: &str, flags: &[&str]) {
        let credstore = self.f.ns.t.join("credstore").display().to_string();
        let mut args: Vec<&str> = flags.to_vec();
        args.push(manifest);
        let o = self
            .f
            .ns
            .install(&args, &[("SEALBOX_CREDSTORE_DIR", credstore.as_str())]);
        assert!(
            o.status.success(),
            "sealbox-install {args:?} failed:\n{}",
            stderr(&o)
        );
    }
}

#[test]
fn every_option_manifest_passes_the_sopsfile_check_and_installs_the_expected_tree() {
    sealbox_testkit::require!(common::peers());
    let Some(lib) = nixpkgs_lib() else {
        println!(
            "SKIPPED: evaluating the NixOS module needs NIXPKGS_LIB (a checkout of nixpkgs' lib)"
        );
        return;
    };
    let inp = inputs();
    let ns = &inp.f.ns;
    let t = ns.t.clone();
    let root = t.join("root");
    let result = inp.eval(&lib, &root, &[]);
    let failed = result.get("failedAssertions");
    assert!(
        matches!(failed, Some(Value::List(l)) if l.is_empty()),
        "assertions failed: {failed:?}"
    );
    assert!(
        text(&result, "checkPhase").contains("/bin/sealbox-install --check-mode=sopsfile \"$out\""),
        "the manifest build does not run the sopsfile check: {}",
        text(&result, "checkPhase")
    );
    let run = t.join("run");
    let (m, u) = inp.write_manifests(&result, &run, "sealbox");

    // What the module's build step runs, on both manifests.
    inp.install(&m, &["--check-mode=sopsfile"]);
    inp.install(&u, &["--check-mode=sopsfile", "--ignore-passwd"]);
    assert!(
        !ns.exists(&run),
        "the check modes must not write anything, but {} exists",
        run.display()
    );
    // The check is real: a key the file lacks fails it, naming secret and key.
    let broken = std::fs::read_to_string(&m)
        .unwrap()
        .replace("\"database/password\"", "\"database/nope\"");
    let broken_path = ns.h().join("broken-manifest.json");
    std::fs::write(&broken_path, broken).unwrap();
    let o = ns.install(
        &["--check-mode=sopsfile", &broken_path.display().to_string()],
        &[],
    );
    assert!(
        !o.status.success(),
        "a missing key passed the sopsfile check"
    );
    assert!(
        stderr(&o).contains("db/password"),
        "the error does not name the secret: {}",
        stderr(&o)
    );

    // Install as the activation scripts do: the for-users manifest first, without passwd.
    inp.install(&u, &["--ignore-passwd"]);
    inp.install(&m, &[]);

    let secrets = run.join("secrets");
    let sops_plain = |kind: &str| sops_decrypt(inp.file(kind), &inp.f.key_file);
    // (path, "type|mode|uid|gid" of the file, content)
    let expect: Vec<(PathBuf, &str, Vec<u8>)> = vec![
        (
            secrets.join("db/password"),
            "regular file|440|1234|2345",
            b"pw-db".to_vec(),
        ),
        (
            secrets.join("api_token"),
            "regular file|400|1300|1300",
            b"tok-123".to_vec(),
        ),
        (
            secrets.join("json_whole"),
            "regular file|400|0|0",
            sops_plain("json"),
        ),
        (
            secrets.join("env_file"),
            "regular file|640|0|2345",
            sops_plain("dotenv"),
        ),
        (
            secrets.join("ini_file"),
            "regular file|400|0|0",
            sops_plain("ini"),
        ),
        (secrets.join("blob"), "regular file|444|0|0", BLOB.to_vec()),
        (
            secrets.join("renamed-file"),
            "regular file|400|0|0",
            b"dbuser".to_vec(),
        ),
        (
            secrets.join("rendered/app.env"),
            "regular file|440|1234|2345",
            b"DB_PASSWORD=pw-db\nTOKEN=tok-123\n".to_vec(),
        ),
        (
            secrets.join("rendered/nested/from-file.conf"),
            "regular file|400|1300|2345",
            b"token=tok-123\n".to_vec(),
        ),
        (
            secrets.join("rendered/renamed.txt"),
            "regular file|400|0|0",
            b"user=dbuser\n".to_vec(),
        ),
        (
            run.join("secrets-for-users/root_password"),
            "regular file|400|0|0",
            b"$6$salt$hash".to_vec(),
        ),
    ];
    for (path, stat, content) in &expect {
        let real = ns.ok(&format!("readlink -f '{}'", path.display()));
        let real = Path::new(real.trim());
        assert_eq!(&ns.stat(real), stat, "{}", path.display());
        assert_eq!(&ns.cat(real), content, "{}", path.display());
    }
    // Custom paths are symlinks to the files in the generation.
    for (link, target) in [
        (root.join("etc/app/token"), secrets.join("api_token")),
        (
            root.join("etc/app/from-file.conf"),
            secrets.join("rendered/nested/from-file.conf"),
        ),
    ] {
        assert!(
            ns.stat(&link).starts_with("symbolic link|"),
            "{}",
            link.display()
        );
        assert_eq!(
            ns.cat(&link),
            ns.cat(&target),
            "{} does not lead to {}",
            link.display(),
            target.display()
        );
    }
    // credentialName: the secret is also a systemd credential, root-only.
    let cred = t.join("credstore/app-token");
    assert_eq!(ns.stat(&cred), "regular file|400|0|0");
    assert_eq!(ns.cat(&cred), b"tok-123");
    // The generation: secrets.d/1 on its own tmpfs (useTmpfs), /run/secrets → it.
    assert_eq!(
        ns.readlink(&secrets),
        run.join("secrets.d/1").display().to_string()
    );
    let fstype = ns.ok(&format!(
        "stat -f -c %T '{}'",
        run.join("secrets.d").display()
    ));
    assert_eq!(fstype.trim(), "tmpfs", "useTmpfs = true must mount a tmpfs");
}

/// Walks `dir` inside the namespace: one line per entry, "path|type|mode|uid|gid|target|sha256"
/// with paths relative to `dir` and `prefix` removed from symlink targets.
fn tree(ns: &Ns, dir: &Path, prefix: &Path) -> Vec<String> {
    let listing = ns.ok(&format!(
        "cd '{}' && find . -mindepth 1 -printf '%P|%y|%m|%U|%G|%l|' -exec sh -c \
         'if [ -f \"$1\" ] && [ ! -L \"$1\" ]; then sha256sum < \"$1\" | cut -c1-64; else echo; fi' _ {{}} \\;",
        dir.display()
    ));
    let mut v: Vec<String> = listing
        .lines()
        .map(|l| l.replace(&prefix.display().to_string(), "<root>"))
        .collect();
    v.sort();
    v
}

#[test]
fn sops_nix_and_sealbox_modules_install_the_same_tree() {
    sealbox_testkit::require!(common::peers());
    let Some(lib) = nixpkgs_lib() else {
        println!(
            "SKIPPED: evaluating the NixOS module needs NIXPKGS_LIB (a checkout of nixpkgs' lib)"
        );
        return;
    };
    let Some(sops_nix) = std::env::var_os("SOPS_NIX_SRC").filter(|v| !v.is_empty()) else {
        println!(
            "SKIPPED: comparing with sops-nix needs SOPS_NIX_SRC (a checkout of Mic92/sops-nix)"
        );
        return;
    };
    let module = Path::new(&sops_nix).join("modules/sops");
    assert!(
        module.join("default.nix").exists(),
        "SOPS_NIX_SRC={}: no modules/sops/default.nix",
        module.display()
    );
    let inp = inputs();
    let ns = &inp.f.ns;
    let mut trees = Vec::new();
    for tag in ["sealbox", "sops-nix"] {
        let base = ns.t.join(tag);
        let root = base.join("root");
        let module_arg = module.display().to_string();
        let extra: Vec<&str> = if tag == "sops-nix" {
            vec![
                "--arg",
                "module",
                &module_arg,
                "--arg",
                "sealboxExtras",
                "false",
            ]
        } else {
            vec!["--arg", "sealboxExtras", "false"]
        };
        let result = inp.eval(&lib, &root, &extra);
        let (m, u) = inp.write_manifests(&result, &base.join("run"), tag);
        // sops-nix's build step: its manifest passes our sopsfile check too.
        inp.install(&m, &["--check-mode=sopsfile"]);
        inp.install(&u, &["--ignore-passwd"]);
        inp.install(&m, &[]);
        trees.push(tree(ns, &base, &base));
    }
    assert!(
        trees[0].len() > 15,
        "suspiciously small tree: {:?}",
        trees[0]
    );
    assert_eq!(
        trees[0], trees[1],
        "the sealbox module's tree differs from sops-nix's (left: sealbox, right: sops-nix)"
    );
}

/// sops-nix's `sops.gnupg.home` and `sops.gnupg.sshKeyPaths` (the age key unset): no
/// assertion or warning, the manifest sops-nix's module makes for the same configuration
/// (with `SOPS_NIX_SRC`), and installing it decrypts files encrypted to PGP keys only: with
/// the home through gpg (no gpg-agent left afterwards), with the RSA host key in memory.
#[test]
fn gnupg_options_make_sops_nix_manifest_and_install_with_pgp_keys() {
    sealbox_testkit::require!(common::peers());
    let gpg = sealbox_testkit::require!(sealbox_testkit::gpg());
    let Some(lib) = nixpkgs_lib() else {
        println!(
            "SKIPPED: evaluating the NixOS module needs NIXPKGS_LIB (a checkout of nixpkgs' lib)"
        );
        return;
    };
    let sops_nix = std::env::var_os("SOPS_NIX_SRC")
        .filter(|v| !v.is_empty())
        .map(|v| Path::new(&v).join("modules/sops"));
    let vectors = repo_root().join("tests/vectors/sops-nix");
    // Encrypted with the real sops to sops-nix's two test keys: key.asc's and the
    // OpenPGP key of the RSA host key ssh-key.
    let enc_home = sealbox_testkit::gnupg::GpgHome::new(&gpg);
    enc_home.import(&vectors.join("key.asc"));
    enc_home.import(&vectors.join("ssh-key.asc"));
    let fps = "7FB89715AADA920D65D25E63F9BA9DEBD03F57C0,2504791468B153B8A3963CC97BA53D1919C5DFD4";
    let inp = inputs_with(|f, name, format, plain| {
        let out = f.ns.h().join(name);
        let src = f.ns.h().join(format!(".plain-{name}"));
        std::fs::write(&src, plain).unwrap();
        let o = Command::new(sops_path())
            .current_dir(f.ns.h())
            .env("SOPS_DISABLE_VERSION_CHECK", "1")
            .env("GNUPGHOME", enc_home.path())
            .env("SOPS_GPG_EXEC", &gpg)
            .args([
                "encrypt",
                "--pgp",
                fps,
                "--input-type",
                format,
                "--output-type",
                format,
            ])
            .arg(&src)
            .output()
            .unwrap();
        assert!(o.status.success(), "sops: {}", stderr(&o));
        std::fs::write(&out, &o.stdout).unwrap();
        out
    });
    enc_home.kill_all();
    // The host's GnuPG home holds key.asc only.
    let host_home = sealbox_testkit::gnupg::GpgHome::new(&gpg);
    host_home.import(&vectors.join("key.asc"));
    host_home.kill_all();
    let ns = &inp.f.ns;
    let cases = [
        (
            "home",
            format!(
                "{{ home = \"{}\"; sshKeyPaths = [ ]; }}",
                host_home.path().display()
            ),
        ),
        (
            "ssh",
            format!(
                "{{ home = null; sshKeyPaths = [ \"{}\" ]; }}",
                vectors.join("ssh-key").display()
            ),
        ),
    ];
    for (tag, gnupg) in &cases {
        let base = ns.t.join(tag);
        let root = base.join("root");
        let args = ["--arg", "gnupg", gnupg, "--arg", "sealboxExtras", "false"];
        let ours = inp.eval(&lib, &root, &args);
        for list in ["failedAssertions", "warnings"] {
            assert!(
                matches!(ours.get(list), Some(Value::List(l)) if l.is_empty()),
                "{tag}: {list}: {:?}",
                ours.get(list)
            );
        }
        let manifest = json::parse(text(&ours, "manifest")).unwrap();
        let field = |k: &str| manifest.get(k).cloned().unwrap_or(Value::Null);
        if *tag == "home" {
            assert_eq!(
                field("gnupgHome").as_str(),
                Some(host_home.path().to_str().unwrap())
            );
        } else {
            assert_eq!(
                field("sshKeyPaths"),
                Value::List(vec![Value::str(vectors.join("ssh-key").to_str().unwrap())])
            );
        }
        assert_eq!(field("ageKeyFile"), Value::Null, "{tag}");
        if let Some(module) = &sops_nix {
            let module = module.display().to_string();
            let mut theirs_args = args.to_vec();
            theirs_args.extend(["--arg", "module", &module]);
            let theirs = inp.eval(&lib, &root, &theirs_args);
            let theirs = json::parse(text(&theirs, "manifest")).unwrap();
            assert_eq!(
                manifest, theirs,
                "{tag}: the sealbox module's manifest differs from sops-nix's"
            );
        }
        let (m, _) = inp.write_manifests(&ours, &base.join("run"), tag);
        inp.install(&m, &[]);
        let secrets = base.join("run/secrets");
        for (name, want) in [
            ("db/password", &b"pw-db"[..]),
            ("api_token", b"tok-123"),
            ("blob", BLOB),
            ("rendered/app.env", b"DB_PASSWORD=pw-db\nTOKEN=tok-123\n"),
        ] {
            assert_eq!(ns.cat(&secrets.join(name)), want, "{tag}: {name}");
        }
        if *tag == "home" {
            host_home.assert_no_agent();
        }
    }
}
