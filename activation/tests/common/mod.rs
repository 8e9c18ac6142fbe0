//! Test harness: a private mount namespace (`unshare -m --propagation private`) with a tmpfs
//! on a temp dir and test `/etc/passwd` and `/etc/group` bind-mounted over the real ones;
//! `sealbox-install` runs inside it through `nsenter`. Encrypted inputs are made with the
//! real sops (Go) binary and `age-keygen`.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

pub const BIN: &str = env!("CARGO_BIN_EXE_sealbox-install");

pub const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\nalice:x:1234:2345::/home/alice:/bin/sh\nbob:x:1300:1300::/home/bob:/bin/sh\nnobody:x:65534:65534::/:/bin/false\n";
pub const GROUP: &str = "root:x:0:\nsvc:x:2345:\nbob:x:1300:\nkeys:x:96:\nnogroup:x:65534:\n";

/// What every test here needs: root (mount namespaces, chown to test users), the real
/// sops, `age-keygen`, `ssh-keygen` and a C compiler (the racer). Each test starts with
/// `sealbox_testkit::require!(common::peers())`: SKIPPED by hand, a failure under CI=true.
pub fn peers() -> Result<(), String> {
    sealbox_testkit::root()?;
    sealbox_testkit::sops()?;
    sealbox_testkit::age_keygen()?;
    sealbox_testkit::ssh_keygen()?;
    sealbox_testkit::tool("cc", "gcc")?;
    Ok(())
}

/// The real sops 3.11 Go executable.
pub fn sops_path() -> PathBuf {
    sealbox_testkit::sops().unwrap_or_else(|e| panic!("{e}"))
}

/// An age key pair made by `age-keygen`: (identity file, recipient).
pub fn age_keygen(path: &Path) -> String {
    let out = Command::new("age-keygen")
        .arg("-o")
        .arg(path)
        .output()
        .expect("age-keygen");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(path).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix("# public key: "))
        .expect("public key line")
        .to_string()
}

/// Encrypts `plain` with the real sops for `recipient` into `out`.
pub fn sops_encrypt(plain: &[u8], format: &str, recipient: &str, out: &Path) {
    let dir = out.parent().unwrap();
    let src = dir.join(format!(
        ".plain-{}",
        out.file_name().unwrap().to_string_lossy()
    ));
    std::fs::write(&src, plain).unwrap();
    let o = Command::new(sops_path())
        .current_dir(dir)
        .env("SOPS_DISABLE_VERSION_CHECK", "1")
        .env_remove("SOPS_AGE_KEY_FILE")
        .args([
            "--encrypt",
            "--age",
            recipient,
            "--input-type",
            format,
            "--output-type",
            format,
        ])
        .arg(&src)
        .output()
        .expect("sops");
    assert!(
        o.status.success(),
        "sops: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    std::fs::write(out, &o.stdout).unwrap();
    std::fs::remove_file(&src).unwrap();
}

/// Decrypts `file` with the real sops (format from the file name).
pub fn sops_decrypt(file: &Path, key: &Path) -> Vec<u8> {
    sops_decrypt_as(file, key, None)
}

/// Decrypts `file` with the real sops, optionally forcing the input/output format.
pub fn sops_decrypt_as(file: &Path, key: &Path, format: Option<&str>) -> Vec<u8> {
    let mut c = Command::new(sops_path());
    c.env("SOPS_DISABLE_VERSION_CHECK", "1")
        .env("SOPS_AGE_KEY_FILE", key)
        .arg("-d");
    if let Some(f) = format {
        c.args(["--input-type", f, "--output-type", f]);
    }
    let o = c.arg(file).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    o.stdout
}

/// A private mount namespace kept alive by a `sleep` process.
pub struct Ns {
    child: Child,
    pub host: tempfile::TempDir,
    /// The tmpfs inside the namespace.
    pub t: PathBuf,
}

impl Ns {
    pub fn new() -> Ns {
        let host = tempfile::Builder::new()
            .prefix("sealbox-act")
            .tempdir()
            .unwrap();
        let h = host.path();
        std::fs::write(h.join("passwd"), PASSWD).unwrap();
        std::fs::write(h.join("group"), GROUP).unwrap();
        let t = h.join("ns");
        std::fs::create_dir(&t).unwrap();
        let script = r#"set -e
mount -t tmpfs -o mode=0755 tmpfs "$T"
mount --bind "$H/passwd" /etc/passwd
mount --bind "$H/group" /etc/group
mkdir -p "$T/nixos"
echo ready
exec sleep 600"#;
        let mut child = Command::new("unshare")
            .args(["-m", "--propagation", "private", "sh", "-c", script])
            .env("T", &t)
            .env("H", h)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("unshare");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(line.trim(), "ready", "namespace setup failed");
        Ns { child, host, t }
    }

    pub fn h(&self) -> &Path {
        self.host.path()
    }

    /// The namespace's `sleep` process: `/proc/PID/root/…` reads the namespace's view
    /// from the test process (absolute symlinks must be resolved by hand).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// A command prefix running inside the namespace (`nsenter -t PID -m --`).
    pub fn nsenter(&self) -> Command {
        let mut c = Command::new("nsenter");
        c.arg("-t")
            .arg(self.child.id().to_string())
            .arg("-m")
            .arg("--");
        c.env("SEALBOX_NIXOS_RUN_DIR", self.t.join("nixos"));
        c.env_remove("NIXOS_ACTION");
        c.env_remove("SOPS_RESTART_UNITS_VIA_SYSTEMCTL");
        c.env_remove("SOPS_AGE_KEY_FILE");
        c.env("HOME", "/var/empty");
        c
    }

    /// Runs a shell script inside the namespace.
    pub fn sh(&self, script: &str) -> Output {
        self.nsenter().args(["sh", "-c", script]).output().unwrap()
    }

    /// Runs `sh -c` and returns stdout, asserting success.
    pub fn ok(&self, script: &str) -> String {
        let o = self.sh(script);
        assert!(
            o.status.success(),
            "{script}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8(o.stdout).unwrap()
    }

    /// Runs sealbox-install inside the namespace.
    pub fn install(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        // A strict umask: modes must come from explicit chmods, not from the umask.
        self.install_umask("077", args, env)
    }

    /// Runs sealbox-install inside the namespace under the given umask.
    pub fn install_umask(&self, umask: &str, args: &[&str], env: &[(&str, &str)]) -> Output {
        self.install_with(&[], umask, args, env)
    }

    /// Runs sealbox-install inside the namespace under the given umask, through the
    /// command `prefix` (e.g. `taskset -c 0 nice -n 19`).
    pub fn install_with(
        &self,
        prefix: &[&str],
        umask: &str,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> Output {
        let mut c = self.nsenter();
        c.args(prefix)
            .args([
                "sh",
                "-c",
                "umask \"$SEALBOX_TEST_UMASK\"; exec \"$0\" \"$@\"",
                BIN,
            ])
            .env("SEALBOX_TEST_UMASK", umask)
            .args(args);
        for (k, v) in env {
            c.env(k, v);
        }
        c.output().unwrap()
    }

    /// Puts a `systemctl` stand-in into `<t>/bin` that appends its arguments to
    /// `<t>/systemctl.log`; returns a PATH with it first.
    pub fn recording_systemctl(&self) -> String {
        let bin = self.t.join("bin");
        self.ok(&format!(
            "mkdir -p {b} && printf '#!/bin/sh\\necho \"$@\" >> {t}/systemctl.log\\n' > {b}/systemctl && chmod +x {b}/systemctl",
            b = bin.display(),
            t = self.t.display()
        ));
        format!("{}:/usr/bin:/bin", bin.display())
    }

    /// `stat` of a path inside the namespace: "type|mode|uid|gid" (not following symlinks).
    pub fn stat(&self, p: &Path) -> String {
        self.ok(&format!("stat -c '%F|%a|%u|%g' '{}'", p.display()))
            .trim()
            .to_string()
    }

    pub fn cat(&self, p: &Path) -> Vec<u8> {
        let o = self.sh(&format!("cat '{}'", p.display()));
        assert!(
            o.status.success(),
            "cat {}: {}",
            p.display(),
            String::from_utf8_lossy(&o.stderr)
        );
        o.stdout
    }

    pub fn exists(&self, p: &Path) -> bool {
        self.sh(&format!(
            "test -e '{}' -o -L '{}'",
            p.display(),
            p.display()
        ))
        .status
        .success()
    }

    pub fn readlink(&self, p: &Path) -> String {
        self.ok(&format!("readlink '{}'", p.display()))
            .trim()
            .to_string()
    }

    /// Sorted entries of a directory.
    pub fn ls(&self, p: &Path) -> Vec<String> {
        let mut v: Vec<String> = self
            .ok(&format!("ls -A '{}'", p.display()))
            .lines()
            .map(str::to_string)
            .collect();
        v.sort();
        v
    }
}

impl Drop for Ns {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The placeholder sops-nix computes for a secret name (sha256 hex).
pub fn placeholder(name: &str) -> String {
    let out = Command::new("sh")
        .arg("-c")
        .arg("printf %s \"$N\" | sha256sum")
        .env("N", name)
        .output()
        .unwrap();
    let hex = String::from_utf8(out.stdout).unwrap();
    format!(
        "<SOPS:{}:PLACEHOLDER>",
        hex.split_whitespace().next().unwrap()
    )
}

/// JSON string literal.
pub fn js(s: &str) -> String {
    let mut o = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            '\n' => o.push_str("\\n"),
            c if (c as u32) < 0x20 => o.push_str(&format!("\\u{:04x}", c as u32)),
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

// ---- manifest builder shared by the activation test files

/// A secret or template entry of a test manifest.
#[derive(Clone)]
pub struct E {
    pub name: &'static str,
    pub key: &'static str,
    pub file: String,
    pub format: &'static str,
    pub mode: &'static str,
    pub owner: Option<&'static str>,
    pub group: Option<&'static str>,
    pub uid: u32,
    pub gid: u32,
    pub path: Option<String>,
    pub restart: Vec<&'static str>,
    pub reload: Vec<&'static str>,
    /// templates: content
    pub content: Option<String>,
}

pub fn e(name: &'static str, file: &Path, format: &'static str, key: &'static str) -> E {
    E {
        name,
        key,
        file: file.display().to_string(),
        format,
        mode: "0400",
        owner: None,
        group: None,
        uid: 0,
        gid: 0,
        path: None,
        restart: vec![],
        reload: vec![],
        content: None,
    }
}

pub fn list(v: &[&str]) -> String {
    format!(
        "[{}]",
        v.iter().map(|s| js(s)).collect::<Vec<_>>().join(",")
    )
}

pub fn opt(v: Option<&str>) -> String {
    v.map(js).unwrap_or_else(|| "null".into())
}

pub struct M {
    pub t: PathBuf,
    pub secrets: Vec<E>,
    pub templates: Vec<E>,
    pub keep: u64,
    pub key_file: String,
    pub extra: String,
}

impl M {
    pub fn mount(&self) -> PathBuf {
        self.t.join("secrets.d")
    }
    pub fn link(&self) -> PathBuf {
        self.t.join("secrets")
    }
    pub fn json(&self) -> String {
        let link = self.link();
        let common = |x: &E, default: PathBuf| {
            format!(
                r#""name":{},"mode":{},"owner":{},"group":{},"uid":{},"gid":{},"path":{},"restartUnits":{},"reloadUnits":{}"#,
                js(x.name),
                js(x.mode),
                opt(x.owner),
                opt(x.group),
                x.uid,
                x.gid,
                js(&x
                    .path
                    .clone()
                    .unwrap_or_else(|| default.display().to_string())),
                list(&x.restart),
                list(&x.reload)
            )
        };
        let secrets: Vec<String> = self
            .secrets
            .iter()
            .map(|x| {
                format!(
                    r#"{{{},"key":{},"sopsFile":{},"format":{},"neededForUsers":false,"sopsFileHash":"abc"}}"#,
                    common(x, link.join(x.name)),
                    js(x.key),
                    js(&x.file),
                    js(x.format)
                )
            })
            .collect();
        let templates: Vec<String> = self
            .templates
            .iter()
            .map(|x| {
                format!(
                    r#"{{{},"content":{},"file":{}}}"#,
                    common(x, link.join("rendered").join(x.name)),
                    js(x.content.as_deref().unwrap_or("")),
                    js(&x.file)
                )
            })
            .collect();
        let ph: Vec<String> = self
            .secrets
            .iter()
            .map(|x| format!("{}:{}", js(x.name), js(&placeholder(x.name))))
            .collect();
        format!(
            r#"{{"secrets":[{}],"templates":[{}],"placeholderBySecretName":{{{}}},"secretsMountPoint":{},"symlinkPath":{},"keepGenerations":{},"ageKeyFile":{},"ageSshKeyPaths":[],"sshKeyPaths":[],"gnupgHome":null,"useTmpfs":false,"userMode":false,"logging":{{"keyImport":true,"secretChanges":true}}{}}}"#,
            secrets.join(","),
            templates.join(","),
            ph.join(","),
            js(&self.mount().display().to_string()),
            js(&link.display().to_string()),
            self.keep,
            js(&self.key_file),
            self.extra
        )
    }
    pub fn write(&self, h: &Path, n: &str) -> String {
        let p = h.join(n);
        std::fs::write(&p, self.json()).unwrap();
        p.display().to_string()
    }
}

pub struct Fixture {
    pub ns: Ns,
    pub recipient: String,
    pub key_file: PathBuf,
}

impl Fixture {
    pub fn new() -> Fixture {
        let ns = Ns::new();
        let key_file = ns.h().join("key.txt");
        let recipient = age_keygen(&key_file);
        Fixture {
            ns,
            recipient,
            key_file,
        }
    }
    pub fn enc(&self, name: &str, format: &str, plain: &[u8]) -> PathBuf {
        let p = self.ns.h().join(name);
        sops_encrypt(plain, format, &self.recipient, &p);
        p
    }
    pub fn manifest(&self, secrets: Vec<E>, templates: Vec<E>, keep: u64) -> M {
        M {
            t: self.ns.t.clone(),
            secrets,
            templates,
            keep,
            key_file: self.key_file.display().to_string(),
            extra: String::new(),
        }
    }
}

/// Whether this root-only test can run: true as root. Otherwise it says `SKIPPED: <why>`
/// when run by hand and fails under `CI=true` (CI never passes by skipping).
pub fn need_root(why: &str) -> bool {
    if nix::unistd::geteuid().is_root() {
        return true;
    }
    assert_ne!(
        std::env::var("CI").as_deref(),
        Ok("true"),
        "{why}: not running as root under CI=true"
    );
    eprintln!("SKIPPED: {why}");
    false
}

/// A missing peer program: `SKIPPED: <why>` by hand (returns false), a failure under
/// `CI=true`.
pub fn need_tool(why: &str) -> bool {
    assert_ne!(
        std::env::var("CI").as_deref(),
        Ok("true"),
        "{why}: missing under CI=true"
    );
    eprintln!("SKIPPED: {why}");
    false
}
