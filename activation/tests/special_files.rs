//! Special files where a manifest names a file (issue 13, item 5): a FIFO, a character
//! device (a stand-in for /dev/zero, made with mknod), a directory, and a sparse file
//! larger than the 64 MiB limit, as a `sopsFile`, a template `file`, `ageKeyFile`, an
//! `ageSshKeyPaths` entry, and as the manifest itself. Before the fix a FIFO blocked the
//! activation and `--check-mode=sopsfile` forever and the device filled memory. Every run
//! here is under `timeout -s KILL`, so a hang fails the test instead of blocking CI; each
//! must end with a clear error naming the file (and the limit), and `--keep-going`
//! still installs the other secrets.

mod common;
use common::*;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Seconds a run may take before it counts as hung.
const HANG: &str = "20";

/// (what, file inside the namespace, words the error must contain); `limit` is the limit
/// for the kind of file in the message.
fn specials(ns: &Ns, limit: &'static str) -> Vec<(&'static str, PathBuf, &'static str)> {
    let d = ns.t.join("in");
    ns.ok(&format!(
        "mkdir -p '{d}' && mkfifo '{d}/fifo' && mknod '{d}/zero' c 1 5 && mkdir '{d}/dir' && truncate -s 65M '{d}/big'",
        d = d.display()
    ));
    vec![
        (
            "FIFO",
            d.join("fifo"),
            "a FIFO (named pipe), not a regular file",
        ),
        (
            "character device",
            d.join("zero"),
            "a character device, not a regular file",
        ),
        (
            "directory",
            d.join("dir"),
            "a directory, not a regular file",
        ),
        ("oversized sparse file", d.join("big"), limit),
    ]
}

fn run(ns: &Ns, args: &[&str]) -> std::process::Output {
    let started = Instant::now();
    let o = ns.install_with(&["timeout", "-s", "KILL", HANG], "077", args, &[]);
    // timeout(1) exits 124 (or 137, killed) when the time is up
    assert!(
        !matches!(o.status.code(), None | Some(124) | Some(137)),
        "{args:?} hung (killed after {:?}): {}",
        started.elapsed(),
        stderr(&o)
    );
    o
}

#[test]
fn fifos_devices_directories_and_huge_files_named_by_a_manifest_fail_fast_and_clearly() {
    sealbox_testkit::require!(common::peers());
    if !need_root("the special-file tests need root (mount namespaces, mknod)") {
        return;
    }
    let f = Fixture::new();
    let ns = &f.ns;
    let json = f.enc("app.json", "json", br#"{"token": "tok-1"}"#);
    let sp = specials(ns, "68157440 bytes, more than the limit of 64 MiB");
    let mut secrets = vec![e("good", &json, "json", "token")];
    let mut templates = Vec::new();
    let mut inline = e("inline", Path::new(""), "", "");
    inline.content = Some(format!("t={}\n", placeholder("good")));
    templates.push(inline);
    let names = ["s-fifo", "s-zero", "s-dir", "s-big"];
    let tnames = ["t-fifo", "t-zero", "t-dir", "t-big"];
    for (i, (_, p, _)) in sp.iter().enumerate() {
        secrets.push(e(names[i], p, "yaml", "token"));
        templates.push(e(tnames[i], p, "", ""));
    }
    let m = f.manifest(secrets, templates, 2);
    let mf = m.write(ns.h(), "m.json");

    // --check-mode=sopsfile: every sops file and template file is named, with the reason
    let o = run(ns, &["--check-mode=sopsfile", &mf]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let err = stderr(&o);
    for (i, (what, p, why)) in sp.iter().enumerate() {
        let p = p.display().to_string();
        let line = err
            .lines()
            .find(|l| l.contains(&format!("secret {}:", names[i])))
            .unwrap_or_else(|| panic!("no error for the {what} sops file: {err}"));
        assert!(line.contains(&p) && line.contains(why), "{what}: {line}");
        let line = err
            .lines()
            .find(|l| l.contains(&format!("template {}:", tnames[i])))
            .unwrap_or_else(|| panic!("no error for the {what} template file: {err}"));
        assert!(line.contains(&p) && line.contains(why), "{what}: {line}");
    }
    assert!(!err.contains("secret good") && !err.contains("template inline"));
    // --check-mode=manifest reads the template files (not the sops files)
    let o = run(ns, &["--check-mode=manifest", &mf]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    for t in tnames {
        assert!(
            stderr(&o).contains(&format!("template {t}:")),
            "{}",
            stderr(&o)
        );
    }
    assert!(!ns.exists(&m.mount()), "check modes write nothing");

    // a real activation stops before anything is installed
    let o = run(ns, &[&mf]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(!ns.exists(&m.link()), "nothing switched");
    // --keep-going installs the good secret and the inline template, names every failure
    let o = run(ns, &["--keep-going", &mf]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let err = stderr(&o);
    for (i, (what, p, why)) in sp.iter().enumerate() {
        let p = p.display().to_string();
        for n in [
            format!("secret {}:", names[i]),
            format!("template {}:", tnames[i]),
        ] {
            let line = err
                .lines()
                .find(|l| l.contains(&n))
                .unwrap_or_else(|| panic!("no error for {n} ({what}): {err}"));
            assert!(line.contains(&p) && line.contains(why), "{what}: {line}");
        }
    }
    assert!(err.contains("--keep-going: the other secrets were installed as generation 1"));
    assert_eq!(ns.cat(&m.link().join("good")), b"tok-1");
    assert_eq!(ns.cat(&m.link().join("rendered/inline")), b"t=tok-1\n");
    assert_eq!(ns.ls(&m.link()), ["good", "rendered"]);
    assert_eq!(ns.ls(&m.link().join("rendered")), ["inline"]);

    // the manifest itself
    for (what, p, why) in &sp {
        let o = run(ns, &["--check-mode=manifest", &p.display().to_string()]);
        assert_eq!(o.status.code(), Some(1), "{what}: {}", stderr(&o));
        let err = stderr(&o);
        assert!(
            err.contains("failed to open manifest") && err.contains(&p.display().to_string()),
            "{what}: {err}"
        );
        // (a directory's size is not checked: it is refused as a directory)
        assert!(err.contains(why), "{what}: {err}");
    }
}

#[test]
fn special_key_files_never_block_and_other_keys_still_work() {
    sealbox_testkit::require!(common::peers());
    if !need_root("the special-file tests need root (mount namespaces, mknod)") {
        return;
    }
    let f = Fixture::new();
    let ns = &f.ns;
    let json = f.enc("app.json", "json", br#"{"token": "tok-1"}"#);
    let sp = specials(ns, "68157440 bytes, more than the limit of 1 MiB");
    let m = f.manifest(vec![e("good", &json, "json", "token")], vec![], 2);
    // ageKeyFile is one of them: a clear error naming it, nothing installed
    for (what, p, why) in &sp {
        let mut m2 = f.manifest(vec![e("good", &json, "json", "token")], vec![], 2);
        m2.key_file = p.display().to_string();
        let mf = m2.write(ns.h(), "k.json");
        let o = run(ns, &[&mf]);
        assert_eq!(o.status.code(), Some(1), "{what}: {}", stderr(&o));
        let err = stderr(&o);
        assert!(
            err.contains(&format!("ageKeyFile {} cannot be used", p.display()))
                && err.contains(why),
            "{what}: {err}"
        );
        assert!(!ns.exists(&m2.link()), "{what}");
    }
    // every ageSshKeyPaths entry is one of them, next to a real ageKeyFile: warnings,
    // and the secret installs
    let ssh: Vec<String> = sp.iter().map(|(_, p, _)| p.display().to_string()).collect();
    let json_text = m.json().replace(
        "\"ageSshKeyPaths\":[]",
        &format!(
            "\"ageSshKeyPaths\":{}",
            list(&ssh.iter().map(|s| s.as_str()).collect::<Vec<_>>())
        ),
    );
    let mf = ns.h().join("ssh.json");
    std::fs::write(&mf, json_text).unwrap();
    let o = run(ns, &[&mf.display().to_string()]);
    assert!(o.status.success(), "{}", stderr(&o));
    for (what, p, why) in &sp {
        assert!(
            stderr(&o).lines().any(|l| l
                .contains(&format!("Cannot read ssh key '{}'", p.display()))
                && l.contains(why)),
            "{what}: {}",
            stderr(&o)
        );
    }
    assert_eq!(ns.cat(&m.link().join("good")), b"tok-1");
    // a missing ageSshKeyPaths entry whose directory holds a FIFO named like a host key:
    // the explanation looks at it without blocking
    let dir = ns.t.join("ssh");
    ns.ok(&format!(
        "mkdir '{d}' && mkfifo '{d}/ssh_host_rsa_key'",
        d = dir.display()
    ));
    let missing = dir.join("ssh_host_ed25519_key").display().to_string();
    let mut m3 = f.manifest(vec![e("good", &json, "json", "token")], vec![], 2);
    m3.key_file = String::new();
    let text = m3
        .json()
        .replace("\"ageKeyFile\":\"\"", "\"ageKeyFile\":null")
        .replace(
            "\"ageSshKeyPaths\":[]",
            &format!("\"ageSshKeyPaths\":{}", list(&[&missing])),
        );
    let mf = ns.h().join("missing.json");
    std::fs::write(&mf, text).unwrap();
    let o = run(ns, &[&mf.display().to_string()]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains(&format!("ageSshKeyPaths {missing} does not exist")),
        "{}",
        stderr(&o)
    );
}
