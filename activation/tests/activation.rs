//! End-to-end activation tests: the built `sealbox-install` runs as root inside a private
//! mount namespace, on files encrypted by the real sops.

mod common;
use common::*;
use std::path::Path;

const APP_JSON_1: &str = r#"{"db": {"password": "pw1", "user": "dbuser"}, "token": "tok-1"}"#;
const APP_JSON_2: &str = r#"{"db": {"password": "pw2", "user": "dbuser"}, "token": "tok-1"}"#;
const ENV: &str = "hello=world\nexample_key=example_value\n";
const INI: &str = "[section]\nkey = value\n";
const BLOB: &[u8] = b"binary\x00\xff value\n";

#[test]
fn full_cycle_yaml_json_binary_dotenv_ini_templates_generations_lists_pruning() {
    sealbox_testkit::require!(common::peers());
    let f = Fixture::new();
    let ns = &f.ns;
    let t = ns.t.clone();
    let json = f.enc("app.json", "json", APP_JSON_1.as_bytes());
    let bin = f.enc("blob.bin", "binary", BLOB);
    let env = f.enc("app.env", "dotenv", ENV.as_bytes());
    let ini = f.enc("app.ini", "ini", INI.as_bytes());
    let yaml = f.enc(
        "app.yaml",
        "yaml",
        b"top: t\nnested:\n    deep:\n        value: yaml-deep\n",
    );
    let tmpl_file = ns.h().join("t2.tmpl");
    std::fs::write(
        &tmpl_file,
        format!("token: {}\n", placeholder("sub/dir/token")),
    )
    .unwrap();

    let mut db = e("db_password", &json, "json", "db/password");
    db.owner = Some("alice");
    db.group = Some("svc");
    db.mode = "0440";
    db.path = Some(t.join("etc/app/db-password").display().to_string());
    db.restart = vec!["app.service"];
    let mut whole = e("json_whole", &json, "json", "");
    whole.mode = "0400";
    let mut tok = e("sub/dir/token", &json, "json", "token");
    tok.uid = 1234;
    tok.gid = 2345;
    tok.mode = "0640";
    tok.reload = vec!["nginx.service"];
    let mut blob = e("blob", &bin, "binary", "");
    blob.reload = vec!["blob.service"];
    let envs = e("env", &env, "dotenv", "ignored");
    let mut inis = e("ini", &ini, "ini", "");
    inis.mode = "4755"; // quirk 3: only 0755 takes effect
    let mut t1 = e("app.conf", Path::new(""), "", "");
    t1.content = Some(format!(
        "password={} token={} foreign=<SOPS:ffff:PLACEHOLDER>\n",
        placeholder("db_password"),
        placeholder("sub/dir/token")
    ));
    t1.owner = Some("alice");
    t1.restart = vec!["tmpl.service"];
    let mut t2 = e("nested/t2", &tmpl_file, "", "");
    t2.mode = "0444";
    t2.path = Some(t.join("etc/t2.conf").display().to_string());
    let mut ys = e("yaml/deep", &yaml, "yaml", "nested/deep/value");
    ys.owner = Some("alice");
    ys.mode = "0600";
    let secrets = vec![db, whole, tok, blob.clone(), envs, inis, ys];
    let m = f.manifest(secrets.clone(), vec![t1, t2], 0);
    let mf = m.write(ns.h(), "m1.json");

    // --- activation 1
    let started = std::time::Instant::now();
    let o = ns.install(&[&mf], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    eprintln!("activation 1 took {:?}", started.elapsed());
    assert_eq!(stdout(&o), "", "first activation logs no changes");
    let mp = m.mount();
    let link = m.link();
    assert_eq!(
        ns.ok(&format!("stat -f -c %T '{}'", mp.display())).trim(),
        "ramfs"
    );
    assert_eq!(ns.stat(&mp), "directory|751|0|96");
    assert_eq!(ns.stat(&mp.join("age-keys.txt")), "regular file|600|0|0");
    assert_eq!(ns.readlink(&link), mp.join("1").display().to_string());
    let d = mp.join("1");
    assert_eq!(ns.stat(&d), "directory|751|0|96");
    let check = |rel: &str, content: &[u8], st: &str| {
        assert_eq!(ns.cat(&d.join(rel)), content, "content of {rel}");
        assert_eq!(ns.stat(&d.join(rel)), st, "stat of {rel}");
        // and through the symlink
        assert_eq!(
            ns.cat(&link.join(rel)),
            content,
            "{rel} through the symlink"
        );
    };
    check("db_password", b"pw1", "regular file|440|1234|2345");
    check(
        "json_whole",
        b"{\n\t\"db\": {\n\t\t\"password\": \"pw1\",\n\t\t\"user\": \"dbuser\"\n\t},\n\t\"token\": \"tok-1\"\n}\n",
        "regular file|400|0|0",
    );
    check("sub/dir/token", b"tok-1", "regular file|640|1234|2345");
    assert_eq!(ns.stat(&d.join("sub")), "directory|751|0|96");
    assert_eq!(ns.stat(&d.join("sub/dir")), "directory|751|0|96");
    check("blob", BLOB, "regular file|400|0|0");
    check("env", ENV.as_bytes(), "regular file|400|0|0");
    check("ini", INI.as_bytes(), "regular file|755|0|0");
    check("yaml/deep", b"yaml-deep", "regular file|600|1234|0");
    let ph_foreign = "<SOPS:ffff:PLACEHOLDER>";
    check(
        "rendered/app.conf",
        format!("password=pw1 token=tok-1 foreign={ph_foreign}\n").as_bytes(),
        "regular file|400|1234|0",
    );
    check(
        "rendered/nested/t2",
        b"token: tok-1\n",
        "regular file|444|0|0",
    );
    assert_eq!(ns.stat(&d.join("rendered")), "directory|751|0|96");
    // custom paths: symlinks to symlinkPath/name, lchown'ed
    let cp = t.join("etc/app/db-password");
    assert_eq!(
        ns.readlink(&cp),
        link.join("db_password").display().to_string()
    );
    assert_eq!(ns.stat(&cp), "symbolic link|777|1234|2345");
    assert_eq!(ns.cat(&cp), b"pw1");
    assert_eq!(
        ns.readlink(&t.join("etc/t2.conf")),
        link.join("rendered/nested/t2").display().to_string()
    );
    let lists = |n: &str| {
        let p = t.join("nixos").join(n);
        if ns.exists(&p) {
            String::from_utf8(ns.cat(&p)).unwrap()
        } else {
            String::new()
        }
    };
    assert_eq!(lists("activation-restart-list"), "");
    assert_eq!(lists("activation-reload-list"), "");

    // --- activation 2: nothing changed
    let o = ns.install(&[&mf], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), "");
    assert_eq!(ns.readlink(&link), mp.join("2").display().to_string());
    assert_eq!(lists("activation-restart-list"), "");
    assert_eq!(lists("activation-reload-list"), "");
    assert_eq!(ns.stat(&cp), "symbolic link|777|1234|2345");

    // --- activation 3: a value changes
    sops_encrypt(APP_JSON_2.as_bytes(), "json", &f.recipient, &json);
    let o = ns.install(&[&mf], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        stdout(&o),
        "modifying secrets: db_password, json_whole\nmodifying rendered secret: app.conf\n"
    );
    assert_eq!(ns.readlink(&link), mp.join("3").display().to_string());
    assert_eq!(ns.cat(&link.join("db_password")), b"pw2");
    assert_eq!(ns.cat(&cp), b"pw2");
    assert!(String::from_utf8(ns.cat(&link.join("rendered/app.conf")))
        .unwrap()
        .starts_with("password=pw2 "));
    assert_eq!(
        lists("activation-restart-list"),
        "app.service\ntmpl.service\n"
    );
    assert_eq!(lists("activation-reload-list"), "");
    assert_eq!(
        ns.stat(&t.join("nixos/activation-restart-list")),
        "regular file|600|0|0"
    );

    // --- activation 4: an owner changes, a secret is removed
    let mut secrets4: Vec<E> = secrets
        .iter()
        .filter(|s| s.name != "ini")
        .cloned()
        .collect();
    for s in &mut secrets4 {
        if s.name == "blob" {
            s.owner = Some("bob");
        }
    }
    let mut m4 = f.manifest(secrets4, m.templates.clone(), 0);
    m4.templates = m.templates.clone();
    let mf4 = m4.write(ns.h(), "m4.json");
    let o = ns.install(&[&mf4], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), "modifying secret: blob\nremoving secret: ini\n");
    assert_eq!(ns.stat(&link.join("blob")), "regular file|400|1300|0");
    assert!(!ns.exists(&link.join("ini")));
    assert_eq!(
        lists("activation-restart-list"),
        "app.service\ntmpl.service\n"
    );
    assert_eq!(lists("activation-reload-list"), "blob.service\n");
    // keepGenerations 0: nothing pruned
    assert_eq!(ns.ls(&mp), ["1", "2", "3", "4", "age-keys.txt"]);

    // --- activation 5: keepGenerations 1 prunes everything but the current one
    let mut m5 = f.manifest(m4.secrets.clone(), m.templates.clone(), 1);
    m5.templates = m.templates.clone();
    let mf5 = m5.write(ns.h(), "m5.json");
    let o = ns.install(&[&mf5], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(ns.ls(&mp), ["5", "age-keys.txt"]);
    assert_eq!(ns.readlink(&link), mp.join("5").display().to_string());
    assert_eq!(ns.cat(&cp), b"pw2");
}

#[test]
fn a_failing_secret_leaves_the_old_generation_and_names_every_failure() {
    sealbox_testkit::require!(common::peers());
    let f = Fixture::new();
    let ns = &f.ns;
    let json = f.enc("app.json", "json", APP_JSON_1.as_bytes());
    // a file only some other key can decrypt
    let other = ns.h().join("other.txt");
    let other_r = age_keygen(&other);
    let foreign = ns.h().join("foreign.json");
    sops_encrypt(br#"{"a": "b"}"#, "json", &other_r, &foreign);

    let good = e("good", &json, "json", "token");
    let m1 = f.manifest(vec![good.clone()], vec![], 1);
    let mf1 = m1.write(ns.h(), "m1.json");
    let o = ns.install(&[&mf1], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let link = m1.link();
    let mp = m1.mount();

    let missing = e("missing_key", &json, "json", "db/nope");
    let undecryptable = e("undecryptable", &foreign, "json", "a");
    let notstring = e("not_a_string", &json, "json", "db");
    let m2 = f.manifest(
        vec![good.clone(), missing, undecryptable, notstring],
        vec![],
        1,
    );
    let mf2 = m2.write(ns.h(), "m2.json");
    let o = ns.install(&[&mf2], &[]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(
        err.contains("secret missing_key") && err.contains("the key 'db/nope' cannot be found"),
        "{err}"
    );
    assert!(
        err.contains("secret undecryptable") && err.contains(&other_r),
        "{err}"
    );
    assert!(err.contains(&foreign.display().to_string()), "{err}");
    assert!(
        err.contains("secret not_a_string") && err.contains("'db' is not a string"),
        "{err}"
    );
    assert!(
        !err.contains("tok-1") && !err.contains("pw1"),
        "no secret values in messages: {err}"
    );
    assert_eq!(ns.readlink(&link), mp.join("1").display().to_string());
    assert!(!ns.exists(&mp.join("2")), "no generation dir is created");

    // --keep-going installs the rest, switches, and still fails
    let o = ns.install(&["--keep-going", &mf2], &[]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("secret undecryptable"));
    assert_eq!(ns.readlink(&link), mp.join("2").display().to_string());
    assert_eq!(ns.cat(&link.join("good")), b"tok-1");
    assert!(!ns.exists(&link.join("undecryptable")));
}

#[test]
fn planted_symlinks_in_the_mount_point_are_never_followed() {
    sealbox_testkit::require!(common::peers());
    let f = Fixture::new();
    let ns = &f.ns;
    let t = ns.t.clone();
    let json = f.enc("app.json", "json", APP_JSON_1.as_bytes());
    let m = f.manifest(vec![e("token", &json, "json", "token")], vec![], 0);
    let mf = m.write(ns.h(), "m.json");
    let o = ns.install(&[&mf], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let mp = m.mount();
    // an attacker plants the next generation and the key file as symlinks
    ns.ok(&format!(
        "mkdir -p {t}/victim && echo keep > {t}/victim/token && echo keys > {t}/victim/keys && \
         ln -s {t}/victim {mp}/2 && rm {mp}/age-keys.txt && ln -s {t}/victim/keys {mp}/age-keys.txt",
        t = t.display(),
        mp = mp.display()
    ));
    let o = ns.install(&[&mf], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(ns.cat(&t.join("victim/token")), b"keep\n");
    assert_eq!(ns.cat(&t.join("victim/keys")), b"keys\n");
    assert_eq!(ns.stat(&mp.join("2")), "directory|751|0|96");
    assert_eq!(ns.stat(&mp.join("age-keys.txt")), "regular file|600|0|0");
    assert_eq!(ns.cat(&m.link().join("token")), b"tok-1");
    // quirk 5: a directory at symlinkPath is replaced by the symlink
    ns.ok(&format!(
        "rm {l} && mkdir {l} && touch {l}/junk",
        l = m.link().display()
    ));
    let o = ns.install(&[&mf], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(ns.readlink(&m.link()), mp.join("1").display().to_string());
}

#[test]
fn names_with_dot_dot_are_rejected_before_anything_is_written() {
    sealbox_testkit::require!(common::peers());
    let f = Fixture::new();
    let ns = &f.ns;
    let json = f.enc("app.json", "json", APP_JSON_1.as_bytes());
    for bad in ["../escape", "a/../../b", "/abs"] {
        let m = f.manifest(vec![e(bad, &json, "json", "token")], vec![], 0);
        let mf = m.write(ns.h(), "m.json");
        let o = ns.install(&[&mf], &[]);
        assert_eq!(o.status.code(), Some(1), "{bad}");
        assert!(
            stderr(&o).contains(&format!("secret {bad}")),
            "{}",
            stderr(&o)
        );
        assert!(
            !ns.exists(&m.mount()),
            "nothing mounted or created for {bad}"
        );
    }
    let mut t = e("../t", Path::new(""), "", "");
    t.content = Some("x".into());
    let m = f.manifest(vec![e("ok", &json, "json", "token")], vec![t], 0);
    let o = ns.install(&[&m.write(ns.h(), "m.json")], &[]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("template ../t"), "{}", stderr(&o));
}

#[test]
fn dry_activation_and_systemctl_mode() {
    sealbox_testkit::require!(common::peers());
    let f = Fixture::new();
    let ns = &f.ns;
    let t = ns.t.clone();
    let json = f.enc("app.json", "json", APP_JSON_1.as_bytes());
    let mut s = e("db", &json, "json", "db/password");
    s.restart = vec!["a.service"];
    s.reload = vec!["b.service"];
    s.owner = Some("alice");
    let m = f.manifest(vec![s], vec![], 0);
    let mf = m.write(ns.h(), "m.json");
    assert!(ns.install(&[&mf], &[]).status.success());
    sops_encrypt(APP_JSON_2.as_bytes(), "json", &f.recipient, &json);
    // dry: lists go to dry-activation-*, no switch, owners 0
    let o = ns.install(&[&mf], &[("NIXOS_ACTION", "dry-activate")]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), "would modify secret: db\n");
    assert_eq!(
        ns.cat(&t.join("nixos/dry-activation-restart-list")),
        b"a.service\n"
    );
    assert_eq!(
        ns.cat(&t.join("nixos/dry-activation-reload-list")),
        b"b.service\n"
    );
    assert!(!ns.exists(&t.join("nixos/activation-restart-list")));
    assert_eq!(
        ns.readlink(&m.link()),
        m.mount().join("1").display().to_string()
    );
    assert_eq!(ns.stat(&m.mount().join("2/db")), "regular file|400|0|0");
    // dry + systemctl mode: only "would …" lines
    let o = ns.install(
        &[&mf],
        &[
            ("NIXOS_ACTION", "dry-activate"),
            ("SOPS_RESTART_UNITS_VIA_SYSTEMCTL", "1"),
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("would restart a.service\nwould reload b.service\n"),
        "{}",
        stderr(&o)
    );
    // systemctl mode with a recording fake systemctl on PATH
    let path = ns.recording_systemctl();
    let o = ns.install(&["-restart-units", &mf], &[("PATH", &path)]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        ns.cat(&t.join("systemctl.log")),
        b"--no-block try-restart a.service\n--no-block try-reload-or-restart b.service\n"
    );
    assert!(!ns.exists(&t.join("nixos/activation-restart-list")));
    assert_eq!(
        ns.readlink(&m.link()),
        m.mount().join("2").display().to_string()
    );
}

#[test]
fn user_mode_and_ignore_passwd() {
    sealbox_testkit::require!(common::peers());
    let f = Fixture::new();
    let ns = &f.ns;
    let t = ns.t.clone();
    let json = f.enc("app.json", "json", APP_JSON_1.as_bytes());
    let mut s = e("tok", &json, "json", "token");
    s.owner = Some("no-such-user");
    let mut m = f.manifest(vec![s], vec![], 1);
    // user mode: %r paths, no mount, no chown
    m.extra = String::new();
    let json_text = m
        .json()
        .replace("\"userMode\":false", "\"userMode\":true")
        .replace(&m.mount().display().to_string(), "%r/secrets.d")
        .replace(&m.link().display().to_string(), "%r/link");
    let mf = ns.h().join("user.json");
    std::fs::write(&mf, json_text).unwrap();
    let mf = mf.display().to_string();
    let o = ns.install(&["-ignore-passwd", &mf], &[]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("XDG_RUNTIME_DIR"), "{}", stderr(&o));
    let rt = t.join("rt");
    ns.ok(&format!("mkdir -p {}", rt.display()));
    let rts = rt.display().to_string();
    let o = ns.install(&["-ignore-passwd", &mf], &[("XDG_RUNTIME_DIR", &rts)]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        ns.readlink(&rt.join("link")),
        rt.join("secrets.d/1").display().to_string()
    );
    assert_eq!(ns.cat(&rt.join("link/tok")), b"tok-1");
    assert_ne!(
        ns.ok(&format!("stat -f -c %T {}", rt.join("secrets.d").display()))
            .trim(),
        "ramfs"
    );
    // an unknown owner is an error without --ignore-passwd
    let m2 = f.manifest(m.secrets.clone(), vec![], 1);
    let o = ns.install(&[&m2.write(ns.h(), "m2.json")], &[]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("secret tok") && stderr(&o).contains("no-such-user"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn use_tmpfs_mounts_tmpfs() {
    sealbox_testkit::require!(common::peers());
    let f = Fixture::new();
    let ns = &f.ns;
    let json = f.enc("app.json", "json", APP_JSON_1.as_bytes());
    let mut m = f.manifest(vec![e("tok", &json, "json", "token")], vec![], 1);
    m.extra = String::new();
    let text = m.json().replace("\"useTmpfs\":false", "\"useTmpfs\":true");
    let mf = ns.h().join("m.json");
    std::fs::write(&mf, text).unwrap();
    let o = ns.install(&[mf.to_str().unwrap()], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        ns.ok(&format!("stat -f -c %T '{}'", m.mount().display()))
            .trim(),
        "tmpfs"
    );
    assert_eq!(ns.stat(&m.mount()), "directory|751|0|96");
}

#[test]
fn ignore_passwd_makes_everything_root_owned() {
    sealbox_testkit::require!(common::peers());
    let f = Fixture::new();
    let ns = &f.ns;
    let json = f.enc("app.json", "json", APP_JSON_1.as_bytes());
    let mut s = e("tok", &json, "json", "token");
    s.owner = Some("no-such-user");
    s.group = Some("svc");
    s.mode = "0444";
    let m = f.manifest(vec![s], vec![], 1);
    let mf = m.write(ns.h(), "m.json");
    let o = ns.install(&["--ignore-passwd", &mf], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(ns.stat(&m.mount()), "directory|751|0|0");
    assert_eq!(ns.stat(&m.mount().join("1")), "directory|751|0|0");
    assert_eq!(ns.stat(&m.link().join("tok")), "regular file|444|0|0");
}

/// With `--restart-units`, `systemctl --no-block try-restart` acts at once: it must be
/// called only when a restarted service finds the new secrets – the switched generation,
/// the credential and the custom path. The stand-in records what it sees when called.
#[test]
fn systemctl_is_called_once_the_new_secrets_are_in_place() {
    sealbox_testkit::require!(common::peers());
    let f = Fixture::new();
    let ns = &f.ns;
    let t = ns.t.clone();
    let json = f.enc("app.json", "json", APP_JSON_1.as_bytes());
    let mut s = e("db", &json, "json", "db/password");
    s.restart = vec!["a.service"];
    s.path = Some(t.join("etc/app/db").display().to_string());
    let m = f.manifest(vec![s], vec![], 0);
    let cs = t.join("credstore");
    let mf = ns.h().join("m.json");
    std::fs::write(
        &mf,
        m.json().replace(
            "\"key\":\"db/password\"",
            "\"key\":\"db/password\",\"credentialName\":\"db-cred\"",
        ),
    )
    .unwrap();
    let mfs = mf.to_str().unwrap();
    let env = [("SEALBOX_CREDSTORE_DIR", cs.to_str().unwrap())];
    assert!(ns.install(&[mfs], &env).status.success());
    // A systemctl that records the link, the secret, the custom path and the credential.
    let bin = t.join("bin");
    ns.ok(&format!(
        "mkdir -p {b} && cat > {b}/systemctl <<'EOS'\n#!/bin/sh\n\
         {{ echo \"$*\"; readlink {link}; cat {link}/db; echo; cat {custom}; echo; cat {cs}/db-cred; echo; }} >> {t}/systemctl.log\nEOS\n\
         chmod +x {b}/systemctl",
        b = bin.display(),
        link = m.link().display(),
        custom = t.join("etc/app/db").display(),
        cs = cs.display(),
        t = t.display()
    ));
    sops_encrypt(APP_JSON_2.as_bytes(), "json", &f.recipient, &json);
    let path = format!("{}:/usr/bin:/bin", bin.display());
    let o = ns.install(&["--restart-units", mfs], &[("PATH", &path), env[0]]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        String::from_utf8(ns.cat(&t.join("systemctl.log"))).unwrap(),
        format!(
            "--no-block try-restart a.service\n{}\npw2\npw2\npw2\n",
            m.mount().join("2").display()
        )
    );
}
