//! `sealbox manifest`: descriptions in, sops-nix manifests out, checked field by field and
//! by `sealbox-install --check-mode` itself.

use sealbox_formats::store::json;
use sealbox_formats::{Map, Value};
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn sealbox(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sealbox"))
        .args(args)
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", dir)
        .stdin(Stdio::null())
        .output()
        .expect("run sealbox")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Runs `sealbox manifest ARGS` and returns the manifest it printed.
fn manifest_ok(dir: &Path, args: &[&str]) -> String {
    let mut all = vec!["manifest"];
    all.extend_from_slice(args);
    let o = sealbox(dir, &all);
    assert!(o.status.success(), "sealbox {all:?}: {}", stderr(&o));
    String::from_utf8(o.stdout).unwrap()
}

/// `sealbox-install`, built into the same target directory as this test (or
/// `$SEALBOX_INSTALL_BIN`).
fn sealbox_install() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(p) = std::env::var_os("SEALBOX_INSTALL_BIN").filter(|p| !p.is_empty()) {
            return PathBuf::from(p);
        }
        // <target>/<profile>/sealbox
        let profile_dir = Path::new(env!("CARGO_BIN_EXE_sealbox")).parent().unwrap();
        let target_dir = profile_dir.parent().unwrap();
        let mut cmd = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
        cmd.current_dir(root())
            .args([
                "build",
                "--quiet",
                "-p",
                "sealbox-activation",
                "--bin",
                "sealbox-install",
            ])
            .arg("--target-dir")
            .arg(target_dir)
            .stdin(Stdio::null());
        if profile_dir.file_name().is_some_and(|n| n == "release") {
            cmd.arg("--release");
        }
        let out = cmd.output().expect("run cargo build");
        assert!(
            out.status.success(),
            "cargo build -p sealbox-activation: {}",
            stderr(&out)
        );
        let bin = profile_dir.join("sealbox-install");
        assert!(bin.exists(), "{} missing after the build", bin.display());
        bin
    })
    .clone()
}

fn check_mode(mode: &str, manifest: &Path) -> Output {
    Command::new(sealbox_install())
        .arg(format!("--check-mode={mode}"))
        .arg(manifest)
        .stdin(Stdio::null())
        .output()
        .expect("run sealbox-install")
}

fn obj<'a>(v: &'a Value, what: &str) -> &'a Map {
    v.as_map()
        .unwrap_or_else(|| panic!("{what} is not an object"))
}

fn list<'a>(m: &'a Map, key: &str) -> &'a [Value] {
    match m.get(key) {
        Some(Value::List(l)) => l,
        other => panic!("{key}: {other:?}"),
    }
}

fn s<'a>(m: &'a Map, key: &str) -> &'a str {
    m.get(key)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("{key} is not a string"))
}

fn strs(m: &Map, key: &str) -> Vec<String> {
    list(m, key)
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect()
}

/// The entry of `secrets`/`templates` with `name`.
fn entry<'a>(doc: &'a Map, kind: &str, name: &str) -> &'a Map {
    list(doc, kind)
        .iter()
        .map(|v| obj(v, kind))
        .find(|m| s(m, "name") == name)
        .unwrap_or_else(|| panic!("no {kind} {name}"))
}

/// The manifest as sealbox-install reads it.
fn read_manifest(text: &str) -> sealbox_manifest::Manifest {
    sealbox_manifest::from_json(text).unwrap()
}

/// A temp dir holding a copy of the demo sops file.
fn workdir() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    fs::copy(
        root().join("examples/secrets.enc.yaml"),
        d.path().join("secrets.enc.yaml"),
    )
    .unwrap();
    d
}

const PLACEHOLDER_TEST_KEY: &str =
    "<SOPS:92488e1e3eeecdf99f3ed2ce59233efb4b4fb612d5655c0ce9ea52b5a502e655:PLACEHOLDER>";

const FULL: &str = r#"
ageSshKeyPaths = ["/etc/ssh/ssh_host_ed25519_key"]
defaultSopsFile = "secrets.enc.yaml"
keepGenerations = 3
useTmpfs = true
logging = { secretChanges = false }

[secrets.test_key]
key = "api_token"
restartUnits = ["app.service", "worker.service"]

[secrets."db/password"]
key = "database/password"
path = "/etc/app/db-password"
mode = "0440"
owner = "app"
group = "app"
reloadUnits = ["nginx.service"]
credentialName = "app-db"

[secrets.numeric]
key = "database/user"
uid = 1000
gid = 1001

[templates."app.env"]
content = """
TOKEN=${secret:test_key}
DB=${secret:db/password}
LITERAL=$${secret:test_key}
"""
owner = "app"
mode = "0400"
restartUnits = ["app.service"]

[templates."nginx/auth.conf"]
file = "auth.conf.in"
path = "/etc/nginx/auth.conf"
reloadUnits = ["nginx.service"]
"#;

#[test]
fn secrets_templates_units_and_defaults() {
    let d = workdir();
    fs::write(d.path().join("desc.toml"), FULL).unwrap();
    fs::write(
        d.path().join("auth.conf.in"),
        "user app ${secret:db/password};\n",
    )
    .unwrap();
    let text = manifest_ok(d.path(), &["desc.toml"]);
    let doc = json::parse(&text).unwrap();
    let sops_file = d.path().join("secrets.enc.yaml").display().to_string();

    // Top level: the module's defaults where the description says nothing.
    assert_eq!(s(&doc, "secretsMountPoint"), "/run/secrets.d");
    assert_eq!(s(&doc, "symlinkPath"), "/run/secrets");
    assert_eq!(doc.get("keepGenerations"), Some(&Value::Int(3)));
    assert_eq!(doc.get("useTmpfs"), Some(&Value::Bool(true)));
    assert_eq!(doc.get("userMode"), Some(&Value::Bool(false)));
    assert_eq!(doc.get("ageKeyFile"), Some(&Value::Null));
    assert_eq!(
        strs(&doc, "ageSshKeyPaths"),
        ["/etc/ssh/ssh_host_ed25519_key"]
    );
    assert!(list(&doc, "sshKeyPaths").is_empty());
    let logging = obj(doc.get("logging").unwrap(), "logging");
    assert_eq!(logging.get("keyImport"), Some(&Value::Bool(true)));
    assert_eq!(logging.get("secretChanges"), Some(&Value::Bool(false)));

    // Sorted by name, as the module's attrValues.
    let names: Vec<&str> = list(&doc, "secrets")
        .iter()
        .map(|v| s(obj(v, "secret"), "name"))
        .collect();
    assert_eq!(names, ["db/password", "numeric", "test_key"]);

    let t = entry(&doc, "secrets", "test_key");
    assert_eq!(s(t, "key"), "api_token");
    assert_eq!(s(t, "path"), "/run/secrets/test_key");
    assert_eq!(s(t, "mode"), "0400");
    assert_eq!(s(t, "format"), "yaml");
    assert_eq!(s(t, "sopsFile"), sops_file);
    assert_eq!(t.get("owner"), Some(&Value::Null));
    assert_eq!(t.get("group"), Some(&Value::Null));
    assert_eq!(t.get("uid"), Some(&Value::Int(0)));
    assert_eq!(t.get("gid"), Some(&Value::Int(0)));
    assert_eq!(strs(t, "restartUnits"), ["app.service", "worker.service"]);
    assert!(list(t, "reloadUnits").is_empty());
    assert_eq!(t.get("credentialName"), None);

    let p = entry(&doc, "secrets", "db/password");
    assert_eq!(s(p, "key"), "database/password");
    assert_eq!(s(p, "path"), "/etc/app/db-password");
    assert_eq!(s(p, "mode"), "0440");
    assert_eq!(s(p, "owner"), "app");
    assert_eq!(s(p, "group"), "app");
    assert_eq!(strs(p, "reloadUnits"), ["nginx.service"]);
    assert_eq!(s(p, "credentialName"), "app-db");

    let n = entry(&doc, "secrets", "numeric");
    assert_eq!(n.get("uid"), Some(&Value::Int(1000)));
    assert_eq!(n.get("gid"), Some(&Value::Int(1001)));
    assert_eq!(n.get("owner"), Some(&Value::Null));

    // Placeholders: the module's form, for every secret, and substituted in templates.
    let ph = obj(doc.get("placeholderBySecretName").unwrap(), "placeholders");
    assert_eq!(s(ph, "test_key"), PLACEHOLDER_TEST_KEY);
    assert_eq!(ph.pairs().count(), 3);
    let db = s(ph, "db/password").to_string();
    assert!(db.starts_with("<SOPS:") && db.ends_with(":PLACEHOLDER>") && db.len() == 83);

    let env = entry(&doc, "templates", "app.env");
    assert_eq!(
        s(env, "content"),
        format!("TOKEN={PLACEHOLDER_TEST_KEY}\nDB={db}\nLITERAL=${{secret:test_key}}\n")
    );
    assert_eq!(s(env, "path"), "/run/secrets/rendered/app.env");
    assert_eq!(s(env, "owner"), "app");
    assert_eq!(strs(env, "restartUnits"), ["app.service"]);

    let auth = entry(&doc, "templates", "nginx/auth.conf");
    assert_eq!(s(auth, "content"), format!("user app {db};\n"));
    assert_eq!(
        s(auth, "file"),
        d.path().join("auth.conf.in").display().to_string()
    );
    assert_eq!(s(auth, "path"), "/etc/nginx/auth.conf");
    assert_eq!(s(auth, "mode"), "0400");

    // And sealbox-install reads it as such (placeholders included).
    let m = read_manifest(&text);
    assert_eq!(
        m.placeholder("test_key"),
        Some(PLACEHOLDER_TEST_KEY),
        "{text}"
    );
    assert_eq!(m.secrets.len(), 3);
    assert_eq!(m.templates.len(), 2);
}

#[test]
fn yaml_description_gives_the_same_manifest() {
    let d = workdir();
    fs::write(d.path().join("desc.toml"), FULL).unwrap();
    fs::write(
        d.path().join("auth.conf.in"),
        "user app ${secret:db/password};\n",
    )
    .unwrap();
    let yaml = r#"# the same as FULL
ageSshKeyPaths: [/etc/ssh/ssh_host_ed25519_key]
defaultSopsFile: secrets.enc.yaml
keepGenerations: 3
useTmpfs: true
logging:
  secretChanges: false
secrets:
  numeric: {key: database/user, uid: 1000, gid: 1001}
  test_key:
    key: api_token
    restartUnits: [app.service, worker.service]
  db/password:
    key: database/password
    path: /etc/app/db-password
    mode: "0440"
    owner: app
    group: app
    reloadUnits: [nginx.service]
    credentialName: app-db
templates:
  app.env:
    content: |
      TOKEN=${secret:test_key}
      DB=${secret:db/password}
      LITERAL=$${secret:test_key}
    owner: app
    mode: "0400"
    restartUnits: [app.service]
  nginx/auth.conf:
    file: ./auth.conf.in
    path: /etc/nginx/auth.conf
    reloadUnits: [nginx.service]
"#;
    fs::write(d.path().join("desc.yml"), yaml).unwrap();
    assert_eq!(
        manifest_ok(d.path(), &["desc.yml"]),
        manifest_ok(d.path(), &["desc.toml"])
    );
    // stdin needs the language, and relative paths are then taken from the current dir.
    let o = Command::new(env!("CARGO_BIN_EXE_sealbox"))
        .args(["manifest", "--input-type", "yaml", "-"])
        .current_dir(d.path())
        .stdin(fs::File::open(d.path().join("desc.yml")).unwrap())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        String::from_utf8(o.stdout).unwrap(),
        manifest_ok(d.path(), &["desc.toml"])
    );
}

#[test]
fn output_file_is_written_and_nothing_printed() {
    let d = workdir();
    fs::write(
        d.path().join("d.toml"),
        "ageKeyFile = \"/k\"\ndefaultSopsFile = \"secrets.enc.yaml\"\n[secrets.api_token]\n",
    )
    .unwrap();
    let o = sealbox(d.path(), &["manifest", "d.toml", "-o", "out/m.json"]);
    // The output directory must exist: no half-made trees.
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    fs::create_dir(d.path().join("out")).unwrap();
    let o = sealbox(d.path(), &["manifest", "d.toml", "-o", "out/m.json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(o.stdout.is_empty());
    let written = fs::read_to_string(d.path().join("out/m.json")).unwrap();
    assert_eq!(written, manifest_ok(d.path(), &["d.toml"]));
    let mode = fs::metadata(d.path().join("out/m.json"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o077 & !0o044, 0, "manifest mode {mode:o}");
}

/// Each bad description exits 1, prints nothing on stdout, and names the file, the entry
/// and the problem.
#[test]
fn invalid_descriptions_name_file_and_entry() {
    let d = workdir();
    let head = "ageKeyFile = \"/k\"\ndefaultSopsFile = \"secrets.enc.yaml\"\n";
    let cases: &[(&str, &str, &[&str])] = &[
        (
            "mode.toml",
            "[secrets.a]\nmode = \"0999\"\n",
            &["secrets.a", "invalid mode '0999'"],
        ),
        (
            "modeint.toml",
            "[secrets.a]\nmode = 440\n",
            &["secrets.a", "'mode' must be a string", "quote it"],
        ),
        (
            "format.toml",
            "[secrets.a]\nformat = \"toml\"\n",
            &["secrets.a", "unsupported format 'toml'", "yaml, json"],
        ),
        (
            "typo.toml",
            "[secrets.a]\nrestartUnit = [\"x.service\"]\n",
            &["secrets.a", "unknown setting 'restartUnit'", "restartUnits"],
        ),
        (
            "dup.toml",
            "[secrets.a]\npath = \"/etc/x\"\n[secrets.b]\npath = \"/etc/x\"\n",
            &["secrets.b", "path /etc/x is already used by secrets.a"],
        ),
        (
            "duptemplate.toml",
            "[secrets.a]\npath = \"/etc/a\"\n[templates.t]\ncontent = \"x\"\npath = \"/etc/a\"\n",
            &["templates.t", "already used by secrets.a"],
        ),
        (
            "inside.toml",
            "[secrets.a]\npath = \"/run/secrets/other/a\"\n",
            &[
                "secrets.a",
                "is inside /run/secrets, which sealbox-install replaces",
            ],
        ),
        (
            "owner.toml",
            "[secrets.a]\nowner = \"app\"\nuid = 5\n",
            &["secrets.a", "exactly one of 'owner' and 'uid'"],
        ),
        (
            "relpath.toml",
            "[secrets.a]\npath = \"etc/a\"\n",
            &["secrets.a", "'path' must be absolute"],
        ),
        (
            "name.toml",
            "[secrets.\"../a\"]\n",
            &["secrets.../a", "'..' component"],
        ),
        (
            "nosops.toml",
            "[secrets.a]\nsopsFile = \"missing.yaml\"\n",
            &[
                "secrets.a",
                "missing.yaml does not exist",
                "--no-check-files",
            ],
        ),
        (
            "placeholder.toml",
            "[secrets.a]\n[templates.t]\ncontent = \"x=${secret:b}\"\n",
            &["templates.t", "${secret:b} names no secret"],
        ),
        (
            "notext.toml",
            "[secrets.a]\n[templates.t]\nmode = \"0400\"\n",
            &["templates.t", "neither 'content' nor 'file'"],
        ),
        (
            "cred.toml",
            "[secrets.a]\ncredentialName = \"x\"\n[secrets.b]\ncredentialName = \"x\"\n",
            &[
                "secrets.b",
                "credentialName 'x' is already used by secrets.a",
            ],
        ),
        (
            "credslash.toml",
            "[secrets.a]\ncredentialName = \"a/b\"\n",
            &[
                "secrets.a",
                "'credentialName' \"a/b\": the credential name contains '/'",
            ],
        ),
        (
            "syntax.toml",
            "[secrets.a\n",
            &["syntax.toml", "TOML parse error"],
        ),
    ];
    for (file, body, want) in cases {
        fs::write(d.path().join(file), format!("{head}{body}")).unwrap();
        let o = sealbox(d.path(), &["manifest", file, "-o", "never.json"]);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(1), "{file}: {err}");
        assert!(o.stdout.is_empty(), "{file}");
        assert!(!d.path().join("never.json").exists(), "{file}");
        assert!(err.contains(&format!("{file}: ")), "{file}: {err}");
        for w in *want {
            assert!(err.contains(w), "{file}: want {w:?} in: {err}");
        }
    }

    // No key source at all (the module's assertion), and a setting sealbox cannot honour.
    fs::write(
        d.path().join("nokey.toml"),
        "defaultSopsFile = \"secrets.enc.yaml\"\ngnupgHome = \"/g\"\n[secrets.a]\n",
    )
    .unwrap();
    let o = sealbox(d.path(), &["manifest", "nokey.toml"]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("nokey.toml: top level: no key source"),
        "{err}"
    );
    assert!(err.contains("unknown setting 'gnupgHome'"), "{err}");

    // YAML errors name the entry the same way; duplicate keys are refused.
    fs::write(
        d.path().join("bad.yaml"),
        "ageKeyFile: /k\ndefaultSopsFile: secrets.enc.yaml\nsecrets:\n  a:\n    mode: 0400\n",
    )
    .unwrap();
    let o = sealbox(d.path(), &["manifest", "bad.yaml"]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("bad.yaml: secrets.a: 'mode' must be a string"),
        "{err}"
    );
    fs::write(
        d.path().join("dup.yaml"),
        "ageKeyFile: /k\ndefaultSopsFile: secrets.enc.yaml\nsecrets:\n  a: {}\n  a: {}\n",
    )
    .unwrap();
    let o = sealbox(d.path(), &["manifest", "dup.yaml"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("dup.yaml"), "{}", stderr(&o));

    // An unknown extension needs --input-type.
    fs::write(d.path().join("desc.conf"), head).unwrap();
    let o = sealbox(d.path(), &["manifest", "desc.conf"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("--input-type"), "{}", stderr(&o));
}

#[test]
fn check_sopsfile_finds_missing_keys_without_a_key() {
    let d = workdir();
    let desc = "ageKeyFile = \"/nonexistent/key.txt\"\ndefaultSopsFile = \"secrets.enc.yaml\"\n\
                [secrets.api_token]\n[secrets.pw]\nkey = \"database/password\"\n";
    fs::write(d.path().join("ok.toml"), desc).unwrap();
    manifest_ok(d.path(), &["--check-sopsfile", "ok.toml"]);
    fs::write(
        d.path().join("bad.toml"),
        format!("{desc}[secrets.gone]\nkey = \"database/gone\"\n"),
    )
    .unwrap();
    // Without --check-sopsfile the key is not looked up ...
    manifest_ok(d.path(), &["bad.toml"]);
    // ... with it, the missing key is reported by secret name and key.
    let o = sealbox(d.path(), &["manifest", "--check-sopsfile", "bad.toml"]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("bad.toml: secrets.gone"), "{err}");
    assert!(err.contains("'database/gone' cannot be found"), "{err}");
}

/// The manifest in examples/systemd is exactly what its description generates.
#[test]
fn example_manifest_matches_its_description() {
    let ex = root().join("examples/systemd");
    let generated = manifest_ok(&ex, &["--no-check-files", "sealbox.toml"]);
    let committed = fs::read_to_string(ex.join("manifest.json")).unwrap();
    assert_eq!(
        generated, committed,
        "examples/systemd/manifest.json is stale: run `sealbox manifest --no-check-files \
         examples/systemd/sealbox.toml -o examples/systemd/manifest.json`"
    );
}

/// sealbox-install accepts what sealbox manifest generates: the example at manifest depth,
/// and a description on the demo sops file at sopsfile depth.
#[test]
fn sealbox_install_accepts_generated_manifests() {
    let ex = root().join("examples/systemd");
    let d = workdir();
    let m = d.path().join("example.json");
    fs::write(&m, manifest_ok(&ex, &["--no-check-files", "sealbox.toml"])).unwrap();
    let o = check_mode("manifest", &m);
    assert!(o.status.success(), "{}", stderr(&o));

    // The same description with the demo file next to it: the keys are really there.
    let desc = fs::read_to_string(ex.join("sealbox.toml"))
        .unwrap()
        .replace("/etc/sealbox/secrets.enc.yaml", "secrets.enc.yaml");
    fs::write(d.path().join("sealbox.toml"), desc).unwrap();
    let m2 = d.path().join("local.json");
    fs::write(
        &m2,
        manifest_ok(d.path(), &["--check-sopsfile", "sealbox.toml"]),
    )
    .unwrap();
    let o = check_mode("sopsfile", &m2);
    assert!(o.status.success(), "{}", stderr(&o));

    // A control: sealbox-install does fail on a key the file lacks.
    let broken = fs::read_to_string(&m2)
        .unwrap()
        .replace("\"database/password\"", "\"database/nope\"");
    fs::write(&m2, broken).unwrap();
    let o = check_mode("sopsfile", &m2);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
}

/// The example units keep the host's mount namespace (the ramfs must be visible to every
/// service), keep exactly the capabilities sealbox-install needs, run the documented
/// commands, and – where `systemd-analyze` exists – verify.
#[test]
fn example_units_keep_the_host_mount_namespace() {
    const NAMESPACING: &[&str] = &[
        "ProtectSystem",
        "ProtectHome",
        "PrivateTmp",
        "PrivateDevices",
        "PrivateMounts",
        "PrivateNetwork",
        "ReadOnlyPaths",
        "ReadWritePaths",
        "InaccessiblePaths",
        "TemporaryFileSystem",
        "BindPaths",
        "BindReadOnlyPaths",
        "ProtectKernelTunables",
        "ProtectKernelModules",
        "ProtectKernelLogs",
        "ProtectControlGroups",
        "ProtectHostname",
        "ProtectProc",
        "MountAPIVFS",
        "RootDirectory",
        "RootImage",
        "UMask",
    ];
    let ex = root().join("examples/systemd");
    let d = tempfile::tempdir().unwrap();
    for (unit, cmd) in [
        (
            "sealbox.service",
            "ExecStart=/usr/local/bin/sealbox-install --restart-units --wait-for-key 60 /etc/sealbox/manifest.json",
        ),
        (
            "sealbox-watch.service",
            "ExecStart=/usr/local/bin/sealbox-install --watch --debounce 500 --restart-units /etc/sealbox/manifest.json",
        ),
    ] {
        let text = fs::read_to_string(ex.join(unit)).unwrap();
        let settings: Vec<(&str, &str)> = text
            .lines()
            .filter(|l| !l.starts_with('#') && !l.starts_with('['))
            .filter_map(|l| l.split_once('='))
            .collect();
        for (k, _) in &settings {
            assert!(
                !NAMESPACING.contains(k),
                "{unit}: {k}= would hide the ramfs in a private mount namespace (or change modes)"
            );
        }
        let caps: Vec<&str> = settings
            .iter()
            .filter(|(k, _)| *k == "CapabilityBoundingSet")
            .flat_map(|(_, v)| v.split_whitespace())
            .collect();
        assert_eq!(
            caps,
            ["CAP_SYS_ADMIN", "CAP_CHOWN", "CAP_FOWNER", "CAP_DAC_OVERRIDE"],
            "{unit}"
        );
        assert!(text.lines().any(|l| l == cmd), "{unit} lacks {cmd}");
        // A copy whose binary is the one just built, for systemd-analyze.
        let built = sealbox_install();
        fs::write(
            d.path().join(unit),
            text.replace("/usr/local/bin/sealbox-install", &built.display().to_string()),
        )
        .unwrap();
    }
    let text = fs::read_to_string(ex.join("sealbox-watch.service")).unwrap();
    assert!(text.contains("\nType=simple\n") && text.contains("\nRestart=on-failure\n"));
    let text = fs::read_to_string(ex.join("sealbox.service")).unwrap();
    assert!(text.contains("\nType=oneshot\n") && text.contains("\nRemainAfterExit=yes\n"));

    match Command::new("systemd-analyze")
        .args([
            "verify",
            "--man=no",
            "./sealbox.service",
            "./sealbox-watch.service",
        ])
        .current_dir(d.path())
        .stdin(Stdio::null())
        .output()
    {
        // Unknown keys are only warnings ("ignoring"): any output counts as a failure.
        Ok(o) => assert!(
            o.status.success() && o.stdout.is_empty() && o.stderr.is_empty(),
            "systemd-analyze verify: {}{}",
            String::from_utf8_lossy(&o.stdout),
            stderr(&o)
        ),
        Err(e) => eprintln!("SKIPPED systemd-analyze verify: {e}"),
    }
}

/// The example description, moved into a temp dir, installs for real (in a private mount
/// namespace): templates get the decrypted values where `${secret:NAME}` stood.
#[test]
fn example_installs_in_a_private_mount_namespace() {
    let ex = root().join("examples/systemd");
    let d = workdir();
    let t = d.path().display().to_string();
    fs::copy(
        root().join("examples/keys/demo-age-key.txt"),
        d.path().join("key.txt"),
    )
    .unwrap();
    // Same description, with every host path under the temp dir and numeric groups (no
    // demo-app group here).
    let desc = fs::read_to_string(ex.join("sealbox.toml"))
        .unwrap()
        .replace("/etc/sealbox/", "")
        .replace("/etc/demo-app/", &format!("{t}/etc/demo-app/"))
        .replace("group = \"demo-app\"", "gid = 4242")
        .replace(
            "defaultSopsFile",
            &format!("secretsMountPoint = \"{t}/secrets.d\"\nsymlinkPath = \"{t}/secrets\"\ndefaultSopsFile"),
        );
    fs::write(d.path().join("sealbox.toml"), desc).unwrap();
    let m = d.path().join("manifest.json");
    fs::write(
        &m,
        manifest_ok(d.path(), &["--check-sopsfile", "sealbox.toml"]),
    )
    .unwrap();
    let script = format!(
        "set -e; {bin} {m}; cat {t}/secrets/rendered/demo-app.env; echo ---; \
         cat {t}/etc/demo-app/db-password; echo; echo ---; \
         stat -c '%a %u %g' {t}/secrets/rendered/demo-app.env {t}/secrets/db-password {t}/secrets/api_token",
        bin = sealbox_install().display(),
        m = m.display(),
    );
    let o = Command::new("unshare")
        .args(["-m", "--propagation", "private", "sh", "-c", &script])
        .env("SEALBOX_NIXOS_RUN_DIR", d.path().join("nixos"))
        .env("SEALBOX_CREDSTORE_DIR", d.path().join("credstore"))
        .env_remove("SOPS_AGE_KEY_FILE")
        .stdin(Stdio::null())
        .output()
        .expect("run unshare (needs root)");
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}{out}", stderr(&o));
    let parts: Vec<&str> = out.split("---\n").collect();
    assert_eq!(
        parts[0],
        "DB_USER=app\nDB_PASSWORD=correct horse battery staple\nAPI_TOKEN=tok_live_0123456789abcdef\n"
    );
    assert_eq!(parts[1], "correct horse battery staple\n");
    assert_eq!(parts[2], "440 0 4242\n440 0 4242\n400 0 0\n");
    // credentialName is passed through; a sealbox-install that implements it (issue 7)
    // places the secret in the credential store, root-only.
    let cred = d.path().join("credstore/demo-app-db");
    if let Ok(v) = fs::read(&cred) {
        assert_eq!(v, b"correct horse battery staple");
        let mode = fs::metadata(&cred).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o400);
    }
}
