//! Issue 7: `--wait-for-key` (first boot), `--diff` and systemd credentials
//! (`credentialName`), end to end in a private mount namespace with files encrypted by the
//! real sops.

mod common;
use common::*;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Starts sealbox-install inside the namespace without waiting for it.
fn spawn_install(ns: &Ns, args: &[&str], env: &[(&str, &str)]) -> Child {
    let mut c = ns.nsenter();
    c.arg(BIN).args(args);
    for (k, v) in env {
        c.env(k, v);
    }
    c.stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn wait_output(mut c: Child, limit: Duration) -> Output {
    let t0 = Instant::now();
    loop {
        if c.try_wait().unwrap().is_some() {
            return c.wait_with_output().unwrap();
        }
        if t0.elapsed() > limit {
            let _ = c.kill();
            let o = c.wait_with_output().unwrap();
            panic!("sealbox-install did not finish: {}", stderr(&o));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A manifest whose `ageKeyFile` is `key` (inside the namespace).
fn manifest_with_key(f: &Fixture, key: &Path) -> String {
    let yaml = f.enc("s.yaml", "yaml", b"token: first-boot\n");
    let mut m = f.manifest(vec![e("tok", &yaml, "yaml", "token")], vec![], 1);
    m.key_file = key.display().to_string();
    m.write(f.ns.h(), "m.json")
}

#[test]
fn wait_for_key_installs_when_the_key_appears() {
    sealbox_testkit::require!(common::peers());
    let f = Fixture::new();
    let ns = &f.ns;
    let t = ns.t.clone();
    // the key's directory does not exist yet either
    let key = t.join("var/lib/sops-nix/key.txt");
    let mf = manifest_with_key(&f, &key);
    let started = Instant::now();
    let child = spawn_install(ns, &["--wait-for-key", "10", &mf], &[]);
    std::thread::sleep(Duration::from_secs(2));
    assert!(!ns.exists(&t.join("secrets")), "installed without a key");
    // cp creates the file empty, then writes it: the waiter must not give up on the empty file
    ns.ok(&format!(
        "mkdir -p '{}' && cp '{}' '{}'",
        key.parent().unwrap().display(),
        f.key_file.display(),
        key.display()
    ));
    let o = wait_output(child, Duration::from_secs(60));
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(started.elapsed() >= Duration::from_secs(2));
    assert!(stderr(&o).contains("waiting up to 10 s"), "{}", stderr(&o));
    assert_eq!(ns.cat(&t.join("secrets/tok")), b"first-boot");
}

#[test]
fn missing_key_fails_naming_the_paths_with_and_without_waiting() {
    sealbox_testkit::require!(common::peers());
    let f = Fixture::new();
    let ns = &f.ns;
    let t = ns.t.clone();
    let key = t.join("var/lib/sops-nix/key.txt");
    let mf = manifest_with_key(&f, &key);
    // without the flag: at once, naming the path and the fixes
    let o = ns.install(&[&mf], &[]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(
        err.contains(&format!("ageKeyFile {} does not exist", key.display()))
            && err.contains(&format!("age-keygen -o {}", key.display()))
            && err.contains("--wait-for-key"),
        "{err}"
    );
    assert!(!ns.exists(&t.join("secrets.d")), "mounted without a key");
    // with the flag: after the timeout
    let t0 = Instant::now();
    let o = ns.install(&["--wait-for-key", "2", &mf], &[]);
    assert!(t0.elapsed() >= Duration::from_secs(2), "gave up early");
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(
        err.contains("no usable age identity appeared within 2 s")
            && err.contains(&format!("ageKeyFile {} does not exist", key.display())),
        "{err}"
    );
    assert!(!ns.exists(&t.join("secrets")));
    // a manifest without secrets (an empty for-users manifest on first boot) needs no host
    // key (a missing ageKeyFile stays an error, as in sops-nix)
    let mut empty = f.manifest(vec![], vec![], 1);
    empty.key_file = String::new();
    let json = empty.json().replace(
        "\"ageSshKeyPaths\":[]",
        "\"ageSshKeyPaths\":[\"/nonexistent/ssh_host_ed25519_key\"]",
    );
    std::fs::write(ns.h().join("empty.json"), json).unwrap();
    let o = ns.install(&[ns.h().join("empty.json").to_str().unwrap()], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn wrong_type_ssh_keys_are_reported_as_such() {
    sealbox_testkit::require!(common::peers());
    let f = Fixture::new();
    let ns = &f.ns;
    let h = ns.h();
    let yaml = f.enc("s.yaml", "yaml", b"token: x\n");
    let ssh = h.join("ssh");
    std::fs::create_dir(&ssh).unwrap();
    let rsa = ssh.join("ssh_host_rsa_key");
    let st = Command::new("ssh-keygen")
        .args(["-q", "-t", "rsa", "-b", "2048", "-N", "", "-f"])
        .arg(&rsa)
        .status()
        .unwrap();
    assert!(st.success());
    let ed = ssh.join("ssh_host_ed25519_key");
    let write = |paths: &[&Path]| {
        let mut m = f.manifest(vec![e("tok", &yaml, "yaml", "token")], vec![], 1);
        m.key_file = String::new();
        let list: Vec<String> = paths.iter().map(|p| js(&p.display().to_string())).collect();
        m.json()
            .replace(
                "\"ageSshKeyPaths\":[]",
                &format!("\"ageSshKeyPaths\":[{}]", list.join(",")),
            )
            .replace("\"ageKeyFile\":\"\"", "\"ageKeyFile\":null")
    };
    let mf = h.join("m.json");
    // the ed25519 key is expected but only an RSA host key exists
    std::fs::write(&mf, write(&[&ed])).unwrap();
    let o = ns.install(&[mf.to_str().unwrap()], &[]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(
        err.contains(&format!("ageSshKeyPaths {} does not exist", ed.display()))
            && err.contains(&format!("found only {} (ssh-rsa)", rsa.display()))
            && err.contains("needs ssh-ed25519 keys")
            && err.contains("ssh-keygen -A"),
        "{err}"
    );
    // the RSA key itself is configured
    std::fs::write(&mf, write(&[&rsa])).unwrap();
    let o = ns.install(&[mf.to_str().unwrap()], &[]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(
        err.contains(&format!(
            "ageSshKeyPaths {} cannot be used: it is an ssh-rsa key, but ageSshKeyPaths needs ssh-ed25519 keys",
            rsa.display()
        )),
        "{err}"
    );
}

// ------------------------------------------------------------------------------------------

fn credstore(ns: &Ns) -> PathBuf {
    ns.t.join("credstore")
}

fn cs_env(ns: &Ns) -> String {
    credstore(ns).display().to_string()
}

/// The diff against a known change: one secret changed, one added, one removed, one
/// template affected (its restart unit listed), a credential changed; unaffected units
/// are not listed; nothing is written.
#[test]
fn diff_reports_a_known_change_and_writes_nothing() {
    sealbox_testkit::require!(common::peers());
    let f = Fixture::new();
    let ns = &f.ns;
    let cs = cs_env(ns);
    let env = [("SEALBOX_CREDSTORE_DIR", cs.as_str())];
    let yaml = f.enc("app.yaml", "yaml", b"a: one\nb: two\nc: three\nd: four\n");
    let mut a = e("a", &yaml, "yaml", "a");
    a.restart = vec!["a.service"];
    let mut b = e("b", &yaml, "yaml", "b");
    b.restart = vec!["b.service"];
    let mut c = e("c", &yaml, "yaml", "c");
    c.restart = vec!["c.service"];
    let mut d = e("d", &yaml, "yaml", "d");
    d.restart = vec!["d.service"];
    let mut tt = e("t.conf", Path::new(""), "", "");
    tt.content = Some(format!("a={}\n", placeholder("a")));
    tt.restart = vec!["t.service"];
    let mut tu = e("u.conf", Path::new(""), "", "");
    tu.content = Some(format!("b={}\n", placeholder("b")));
    tu.reload = vec!["u.service"];
    let with_cred = |m: &M| {
        m.json().replace(
            "\"key\":\"a\"",
            "\"key\":\"a\",\"credentialName\":\"a-cred\"",
        )
    };
    let v1 = f.manifest(
        vec![a.clone(), b.clone(), d],
        vec![tt.clone(), tu.clone()],
        0,
    );
    let mf = ns.h().join("m.json");
    std::fs::write(&mf, with_cred(&v1)).unwrap();
    let mfs = mf.to_str().unwrap();
    // first activation: everything is added, no unit would restart
    let o = ns.install(&["--diff", mfs], &env);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        stdout(&o),
        "added secret a\nadded secret b\nadded secret d\nadded template t.conf\nadded template u.conf\nadded credential a-cred\n"
    );
    assert!(!ns.exists(&v1.link()) && !ns.exists(&credstore(ns)));
    let o = ns.install(&[mfs], &env);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = ns.install(&["--diff", mfs], &env);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), "", "no change, no output");

    // the change: a re-encrypted with a new value, c added, d removed
    sops_encrypt(
        b"a: ONE\nb: two\nc: three\nd: four\n",
        "yaml",
        &f.recipient,
        &yaml,
    );
    let v2 = f.manifest(vec![a, b, c], vec![tt, tu], 0);
    std::fs::write(&mf, with_cred(&v2)).unwrap();
    let before = ns.ok(&format!(
        "cd '{}' && find . | sort && cat ./*/* 2>/dev/null | md5sum; ls -la '{}'",
        ns.t.display(),
        credstore(ns).display()
    ));
    let o = ns.install(&["--diff", mfs], &env);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        stdout(&o),
        "added secret c\nchanged secret a\nremoved secret d\nchanged template t.conf\nchanged credential a-cred\nrestart a.service\nrestart c.service\nrestart t.service\n"
    );
    let after = ns.ok(&format!(
        "cd '{}' && find . | sort && cat ./*/* 2>/dev/null | md5sum; ls -la '{}'",
        ns.t.display(),
        credstore(ns).display()
    ));
    assert_eq!(before, after, "--diff wrote something");
    assert_eq!(
        ns.readlink(&v2.link()),
        v2.mount().join("1").display().to_string()
    );
    // the activation then does what the diff said
    let o = ns.install(&[mfs], &env);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        ns.cat(&ns.t.join("nixos/activation-restart-list")),
        b"a.service\nc.service\nt.service\n"
    );
    assert!(!ns.exists(&ns.t.join("nixos/activation-reload-list")));
    let o = ns.install(&["--diff", mfs], &env);
    assert_eq!(stdout(&o), "");
}

#[test]
fn credentials_are_placed_replaced_removed_and_validated() {
    sealbox_testkit::require!(common::peers());
    let f = Fixture::new();
    let ns = &f.ns;
    let cs = credstore(ns);
    let csv = cs_env(ns);
    let env = [("SEALBOX_CREDSTORE_DIR", csv.as_str())];
    let yaml = f.enc("app.yaml", "yaml", b"db: pw-1\napi: key-1\n");
    let mut db = e("db", &yaml, "yaml", "db");
    db.owner = Some("alice");
    let api = e("api", &yaml, "yaml", "api");
    let m = f.manifest(vec![db, api], vec![], 1);
    let mf = ns.h().join("m.json");
    let write = |db_cred: &str, api_cred: Option<&str>| {
        let mut j = m.json().replace(
            "\"key\":\"db\"",
            &format!("\"key\":\"db\",\"credentialName\":{}", js(db_cred)),
        );
        if let Some(c) = api_cred {
            j = j.replace(
                "\"key\":\"api\"",
                &format!("\"key\":\"api\",\"credentialName\":{}", js(c)),
            );
        }
        std::fs::write(&mf, j).unwrap();
    };
    let mfs = mf.to_str().unwrap();
    write("db-password", Some("api-key"));
    // a symlink planted at a credential's place is replaced, never followed
    ns.ok(&format!(
        "mkdir -m 0700 '{c}' && echo keep > '{t}/victim' && ln -s '{t}/victim' '{c}/api-key' && echo mine > '{c}/foreign'",
        c = cs.display(),
        t = ns.t.display()
    ));
    let o = ns.install_umask("000", &[mfs], &env);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(ns.stat(&cs), "directory|700|0|0");
    assert_eq!(ns.stat(&cs.join("db-password")), "regular file|400|0|0");
    assert_eq!(ns.stat(&cs.join("api-key")), "regular file|400|0|0");
    assert_eq!(ns.cat(&cs.join("db-password")), b"pw-1");
    assert_eq!(ns.cat(&cs.join("api-key")), b"key-1");
    assert_eq!(ns.cat(&ns.t.join("victim")), b"keep\n");
    // the secret itself keeps its owner; the credential is root's
    assert_eq!(ns.stat(&m.link().join("db")), "regular file|400|1234|0");

    // an update replaces the file (a new inode by rename), no temporary file is left
    let ino = |p: &Path| ns.ok(&format!("stat -c %i '{}'", p.display()));
    let ino1 = ino(&cs.join("db-password"));
    sops_encrypt(b"db: pw-2\napi: key-1\n", "yaml", &f.recipient, &yaml);
    let o = ns.install(&[mfs], &env);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(ns.cat(&cs.join("db-password")), b"pw-2");
    assert_ne!(ino1, ino(&cs.join("db-password")));
    let names = ns.ls(&cs);
    assert_eq!(
        names
            .iter()
            .filter(|n| !n.starts_with(".sealbox-managed"))
            .collect::<Vec<_>>(),
        ["api-key", "db-password", "foreign"]
    );

    // no longer named: removed; a file sealbox did not place stays
    write("db-password", None);
    let o = ns.install(&[mfs], &env);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!ns.exists(&cs.join("api-key")));
    assert!(ns.exists(&cs.join("db-password")) && ns.exists(&cs.join("foreign")));
    // renamed: the old name goes, the new one comes
    write("db", None);
    let o = ns.install(&[mfs], &env);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!ns.exists(&cs.join("db-password")));
    assert_eq!(ns.cat(&cs.join("db")), b"pw-2");

    // bad names are rejected before anything happens
    let gen = ns.readlink(&m.link());
    for bad in ["a/b", "..", "", ".hidden", "x:y"] {
        write(bad, None);
        let o = ns.install(&[mfs], &env);
        assert_eq!(o.status.code(), Some(1), "{bad:?}");
        let err = stderr(&o);
        assert!(
            err.contains("secret db") && err.contains("credentialName"),
            "{bad:?}: {err}"
        );
        assert_eq!(ns.readlink(&m.link()), gen);
    }
    write("same", Some("same"));
    let o = ns.install(&[mfs], &env);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("already used by secret db"),
        "{}",
        stderr(&o)
    );
    assert_eq!(ns.cat(&cs.join("db")), b"pw-2");
}
