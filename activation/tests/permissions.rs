//! Permission safety of `sealbox-install` (issue 8): modes do not depend on the umask,
//! no directory that could reveal secret names is listable by others, planted symlinks
//! (standing in for `/etc/shadow`; the real one is never touched) are never followed, and
//! hostile names and paths are refused before anything is written.
//!
//! Complements `activation.rs` (`planted_symlinks_in_the_mount_point_are_never_followed`,
//! `names_with_dot_dot_are_rejected_before_anything_is_written`) and `acceptance.rs`
//! (`no_moment_with_a_secret_more_open_than_its_final_mode`).

mod common;
use common::*;
use std::path::Path;

const APP: &str = r#"{"db": {"password": "pw1"}, "token": "tok-1"}"#;
const SHADOW: &str = "root:$6$decoy$hash:19000:0:99999:7:::\n";

/// `find` of the given roots, not following symlinks: "path|type|mode|uid|gid" lines.
fn tree(ns: &Ns, roots: &[&Path]) -> Vec<String> {
    let args: Vec<String> = roots.iter().map(|p| format!("'{}'", p.display())).collect();
    let mut v: Vec<String> = ns
        .ok(&format!(
            "find {} -printf '%p|%y|%m|%u|%g\\n'",
            args.join(" ")
        ))
        .lines()
        .map(str::to_string)
        .collect();
    v.sort();
    v
}

fn reset(ns: &Ns, m: &M) {
    ns.ok(&format!(
        "while umount '{mp}' 2>/dev/null; do :; done; rm -rf '{mp}' '{l}' '{t}/etc' '{t}/rt'",
        mp = m.mount().display(),
        l = m.link().display(),
        t = ns.t.display()
    ));
}

/// A decoy standing in for `/etc/shadow`: root:42 0640 with hash-like content.
fn plant_decoy(ns: &Ns) -> std::path::PathBuf {
    let d = ns.t.join("decoy");
    ns.ok(&format!(
        "mkdir -p '{d}' && printf '%s' '{SHADOW}' > '{d}/shadow' && chown 0:42 '{d}/shadow' && chmod 0640 '{d}/shadow'",
        d = d.display()
    ));
    d
}

fn decoy_intact(ns: &Ns, d: &Path) {
    assert_eq!(
        ns.ls(d),
        ["shadow"],
        "nothing created in the decoy directory"
    );
    assert_eq!(
        ns.cat(&d.join("shadow")),
        SHADOW.as_bytes(),
        "decoy content"
    );
    assert_eq!(ns.stat(&d.join("shadow")), "regular file|640|0|42");
}

#[test]
fn umask_000_and_077_give_identical_modes_and_no_directory_is_listable_by_others() {
    sealbox_testkit::require!(common::peers());
    let f = Fixture::new();
    let ns = &f.ns;
    let t = ns.t.clone();
    let json = f.enc("app.json", "json", APP.as_bytes());
    let mut a = e("a", &json, "json", "token");
    a.path = Some(t.join("etc/app/a").display().to_string());
    let mut b = e("d1/d2/b", &json, "json", "db/password");
    b.mode = "0440";
    b.owner = Some("alice");
    b.group = Some("svc");
    let mut tm = e("sub/t", Path::new(""), "", "");
    tm.content = Some(format!("x={}\n", placeholder("a")));
    tm.path = Some(t.join("etc/other/deeper/t").display().to_string());
    let m = f.manifest(vec![a, b], vec![tm], 2);
    let mf = m.write(ns.h(), "m.json");
    // user mode: no mount, the mount point is a plain mkdir -p
    let user_json = m
        .json()
        .replace("\"userMode\":false", "\"userMode\":true")
        .replace(&m.mount().display().to_string(), "%r/secrets.d")
        .replace(&m.link().display().to_string(), "%r/link")
        .replace(&t.join("etc").display().to_string(), "%r/etc");
    let umf = ns.h().join("user.json");
    std::fs::write(&umf, user_json).unwrap();
    let umf = umf.display().to_string();
    let rt = t.join("rt");
    let rts = rt.display().to_string();
    let roots = [m.mount(), m.link(), t.join("etc"), rt.clone()];
    let roots: Vec<&Path> = roots.iter().map(|p| p.as_path()).collect();

    let mut seen = Vec::new();
    for umask in ["000", "077"] {
        reset(ns, &m);
        ns.ok(&format!("mkdir -m 0700 '{}'", rt.display()));
        let o = ns.install_umask(umask, &[&mf], &[]);
        assert!(o.status.success(), "umask {umask}: {}", stderr(&o));
        let o = ns.install_umask(
            umask,
            &["--ignore-passwd", &umf],
            &[("XDG_RUNTIME_DIR", &rts)],
        );
        assert!(
            o.status.success(),
            "user mode, umask {umask}: {}",
            stderr(&o)
        );
        // and a second activation under the other umask
        let other = if umask == "000" { "077" } else { "000" };
        let o = ns.install_umask(other, &[&mf], &[]);
        assert!(o.status.success(), "{}", stderr(&o));
        seen.push(tree(ns, &roots));
    }
    assert_eq!(seen[0], seen[1], "modes differ between umask 000 and 077");
    let lines = &seen[0];
    let find = |p: &Path| {
        let pre = format!("{}|", p.display());
        lines
            .iter()
            .find(|l| l.starts_with(&pre))
            .unwrap_or_else(|| panic!("{} missing: {lines:#?}", p.display()))
            .clone()
    };
    let mp = m.mount();
    assert_eq!(find(&mp), format!("{}|d|751|root|keys", mp.display()));
    for g in ["1", "2"] {
        assert_eq!(
            find(&mp.join(g)),
            format!("{}|d|751|root|keys", mp.join(g).display())
        );
    }
    assert!(find(&mp.join("2/d1/d2/b")).ends_with("|f|440|alice|svc"));
    assert!(find(&mp.join("2/a")).ends_with("|f|400|root|root"));
    assert!(find(&mp.join("age-keys.txt")).ends_with("|f|600|root|root"));
    // parents of custom paths: 0755 whatever the umask (never 0777)
    for p in ["etc", "etc/app", "etc/other", "etc/other/deeper"] {
        assert!(find(&t.join(p)).ends_with("|d|755|root|root"), "{p}");
    }
    assert!(find(&rt.join("secrets.d")).contains("|d|751|"));
    assert!(find(&rt.join("secrets.d/1")).contains("|d|751|"));
    // No directory under a mount point can be listed by others: 0751 gives them only
    // the search bit, so a service reaches the file it is told the name of, no more.
    for l in lines {
        let parts: Vec<&str> = l.split('|').collect();
        let mode = u32::from_str_radix(parts[2], 8).unwrap();
        if parts[1] == "d" && l.contains("secrets.d") {
            assert_eq!(mode & 0o006, 0, "{l}: others may not list or write it");
        }
        if parts[1] == "f" {
            assert_eq!(mode & 0o022, 0, "{l}: no secret is group/other writable");
        }
    }
}

#[test]
fn planted_symlinks_at_paths_and_in_parents_are_never_followed() {
    sealbox_testkit::require!(common::peers());
    let f = Fixture::new();
    let ns = &f.ns;
    let t = ns.t.clone();
    let json = f.enc("app.json", "json", APP.as_bytes());
    let decoy = plant_decoy(ns);

    // 1. symlinkPath and a secret's custom path are planted symlinks to the decoy
    let mut s = e("db", &json, "json", "db/password");
    s.owner = Some("alice");
    s.path = Some(t.join("etc/app/db").display().to_string());
    let m = f.manifest(vec![s.clone()], vec![], 2);
    let mf = m.write(ns.h(), "m.json");
    ns.ok(&format!(
        "mkdir -p '{t}/etc/app' && ln -s '{d}/shadow' '{t}/etc/app/db' && ln -s '{d}' '{l}'",
        t = t.display(),
        d = decoy.display(),
        l = m.link().display()
    ));
    let o = ns.install(&[&mf], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    decoy_intact(ns, &decoy);
    assert_eq!(
        ns.readlink(&m.link()),
        m.mount().join("1").display().to_string()
    );
    assert_eq!(
        ns.readlink(&t.join("etc/app/db")),
        m.link().join("db").display().to_string()
    );
    assert_eq!(ns.stat(&t.join("etc/app/db")), "symbolic link|777|1234|0");
    assert_eq!(ns.cat(&t.join("etc/app/db")), b"pw1");

    // 2. symlinks planted in the next generation directory (a real directory left by a
    //    killed run): a parent directory of a secret and the secret itself
    let next = m.mount().join("2");
    ns.ok(&format!(
        "mkdir '{n}' && ln -s '{d}' '{n}/sub' && ln -s '{d}/shadow' '{n}/db' && ln -s '{d}' '{n}/rendered'",
        n = next.display(),
        d = decoy.display()
    ));
    let mut nested = e("sub/shadow", &json, "json", "token");
    nested.mode = "0444";
    let mut tm = e("shadow", Path::new(""), "", "");
    tm.content = Some("x".into());
    let m2 = f.manifest(vec![s.clone(), nested], vec![tm], 2);
    let o = ns.install(&[&m2.write(ns.h(), "m2.json")], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    decoy_intact(ns, &decoy);
    assert_eq!(ns.stat(&next), "directory|751|0|96");
    assert_eq!(ns.stat(&next.join("sub")), "directory|751|0|96");
    assert_eq!(ns.cat(&next.join("sub/shadow")), b"tok-1");
    assert_eq!(
        ns.stat(&next.join("rendered/shadow")),
        "regular file|400|0|0"
    );

    // 3. a parent directory of a custom path is a symlink a user planted (alice owns
    //    home/alice and points app at the decoy directory): refused, decoy intact
    let mut evil = e("shadow", &json, "json", "token");
    evil.path = Some(t.join("home/alice/app/shadow").display().to_string());
    ns.ok(&format!(
        "mkdir -p '{t}/home/alice' && chown 1234 '{t}/home/alice' && ln -s '{d}' '{t}/home/alice/app' && chown -h 1234 '{t}/home/alice/app'",
        t = t.display(),
        d = decoy.display()
    ));
    let m3 = f.manifest(vec![evil], vec![], 2);
    let o = ns.install(&[&m3.write(ns.h(), "m3.json")], &[]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("is a symlink owned by uid 1234"),
        "{}",
        stderr(&o)
    );
    decoy_intact(ns, &decoy);
    // root's own symlinks in a parent (like /var/run → /run) are followed
    let mut ok = e("tok", &json, "json", "token");
    ok.path = Some(t.join("var/run/app/tok").display().to_string());
    ns.ok(&format!(
        "mkdir -p '{t}/run' '{t}/var' && ln -s '{t}/run' '{t}/var/run'",
        t = t.display()
    ));
    let m4 = f.manifest(vec![ok], vec![], 2);
    let o = ns.install(&[&m4.write(ns.h(), "m4.json")], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(ns.cat(&t.join("run/app/tok")), b"tok-1");

    // 4. the mount point itself is a planted symlink: refused, nothing mounted there
    let f2 = Fixture::new();
    let ns2 = &f2.ns;
    let decoy2 = plant_decoy(ns2);
    let json2 = f2.enc("app.json", "json", APP.as_bytes());
    let m5 = f2.manifest(vec![e("db", &json2, "json", "db/password")], vec![], 2);
    ns2.ok(&format!(
        "ln -s '{}' '{}'",
        decoy2.display(),
        m5.mount().display()
    ));
    let o = ns2.install(&[&m5.write(ns2.h(), "m.json")], &[]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("a symlink is never followed"),
        "{}",
        stderr(&o)
    );
    decoy_intact(ns2, &decoy2);
    assert_eq!(
        ns2.ok(&format!("stat -f -c %T '{}'", decoy2.display()))
            .trim(),
        "tmpfs",
        "nothing is mounted on the symlink's target"
    );
    assert!(!ns2.exists(&m5.link()));
}

#[test]
fn hostile_names_and_paths_are_refused_before_anything_is_written() {
    sealbox_testkit::require!(common::peers());
    let f = Fixture::new();
    let ns = &f.ns;
    let t = ns.t.clone();
    let json = f.enc("app.json", "json", APP.as_bytes());
    // Manifests are built with the marker name/path "HOSTILE" (placeholders are computed
    // by a shell, which cannot take a NUL), then the marker is swapped for the bad value.
    let check = |m: &M, bad: &str, what: &str| {
        let text = m.json().replace("\"HOSTILE\"", &js(bad));
        let mf = ns.h().join("m.json");
        std::fs::write(&mf, text).unwrap();
        let mf = mf.display().to_string();
        for args in [
            vec![mf.as_str()],
            vec!["--check-mode", "manifest", mf.as_str()],
        ] {
            let o = ns.install(&args, &[]);
            assert_eq!(o.status.code(), Some(1), "{what} {args:?}: {}", stderr(&o));
            assert!(
                stderr(&o).contains("manifest is not valid"),
                "{what}: {}",
                stderr(&o)
            );
            assert!(!ns.exists(&m.mount()), "{what}: nothing mounted or created");
            assert!(!ns.exists(&m.link()), "{what}");
        }
    };
    for bad in [
        "a\0b",
        "a\nb",
        "a\rb",
        "/etc/shadow",
        "..",
        "a/./b",
        "a//b",
        "",
    ] {
        let mut s = e("HOSTILE", &json, "json", "token");
        s.path = Some(t.join("etc/s").display().to_string());
        check(
            &f.manifest(vec![s], vec![], 1),
            bad,
            &format!("secret name {bad:?}"),
        );
        let mut tm = e("HOSTILE", Path::new(""), "", "");
        tm.content = Some("x".into());
        tm.path = Some(t.join("etc/t").display().to_string());
        check(
            &f.manifest(vec![e("ok", &json, "json", "token")], vec![tm], 1),
            bad,
            &format!("template name {bad:?}"),
        );
    }
    let evil = t.join("decoy").display().to_string();
    for bad in [
        "relative/path".to_string(),
        format!("{evil}/../../etc/shadow"),
        format!("{evil}/a\nb"),
        format!("{evil}/a\0b"),
    ] {
        let mut s = e("ok", &json, "json", "token");
        s.path = Some("HOSTILE".into());
        check(
            &f.manifest(vec![s], vec![], 1),
            &bad,
            &format!("path {bad:?}"),
        );
        let mut tm = e("tm", Path::new(""), "", "");
        tm.content = Some("x".into());
        tm.path = Some("HOSTILE".into());
        check(
            &f.manifest(vec![e("ok", &json, "json", "token")], vec![tm], 1),
            &bad,
            &format!("template path {bad:?}"),
        );
    }
    // the well-formed manifest next to them works (the refusals are about the names)
    let mut s = e("ok", &json, "json", "token");
    s.path = Some(t.join("etc/ok").display().to_string());
    let m = f.manifest(vec![s], vec![], 1);
    let o = ns.install(&[&m.write(ns.h(), "m.json")], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
}

/// The crash-test hook (`os/src/fault.rs`) is not in a default build: the binary has no
/// trace of its environment variable (`tests/crash.rs` checks the opposite with it on).
#[cfg(not(feature = "fault-injection"))]
#[test]
fn default_builds_have_no_fault_hook() {
    sealbox_testkit::require!(common::peers());
    let bin = std::fs::read(BIN).unwrap();
    assert!(!bin.windows(19).any(|w| w == b"SEALBOX_FAULT_AFTER"));
    assert!(!bin.windows(15).any(|w| w == b"sealbox-fault: "));
}
