//! Manifest values that used to be taken silently (issue 13, item 8): a uid/gid of
//! 4294967295 (`chown`'s -1, "leave unchanged": the file stayed root's), however it is
//! spelled or when a user name resolves to it; `symlinkPath`/`secretsMountPoint` that are
//! `/`, relative, not plain, a system directory, under the Nix store, equal or inside each
//! other; custom `path`s that are `/`, a system directory, inside the mount point, a
//! parent of `symlinkPath`, another entry's location or another entry's path; unit names
//! that `systemctl` would take as options or that would split a line of the restart list.
//!
//! Each is refused with a clear error in `--check-mode=manifest`, `--check-mode=sopsfile`
//! and a real run, before anything is mounted or written. (`keepGenerations: 0` stays
//! valid: never prune, as in sops-nix.) A real run of a value that would be destructive if
//! it got through (`symlinkPath` `/run` would be removed) runs with a tmpfs over `/run` in
//! the test's namespace; `/` is only given to the check modes.

mod common;
use common::*;
use std::path::Path;

struct Case {
    what: String,
    json: String,
    expect: String,
    real_run: bool,
}

fn base(f: &Fixture) -> M {
    let json = f.enc("app.json", "json", br#"{"token": "tok-1", "other": "o"}"#);
    let mut a = e("a", &json, "json", "token");
    a.uid = 77;
    a.gid = 88;
    let b = e("b", &json, "json", "other");
    let mut t = e("t", Path::new(""), "", "");
    t.content = Some(format!("x={}\n", placeholder("a")));
    f.manifest(vec![a, b], vec![t], 0)
}

#[test]
fn values_that_were_silently_wrong_or_dangerous_are_refused_in_every_mode() {
    sealbox_testkit::require!(common::peers());
    if !need_root("the manifest sanity tests need root (mount namespaces)") {
        return;
    }
    let f = Fixture::new();
    let ns = &f.ns;
    let t = ns.t.display().to_string();
    let m = base(&f);
    let json = m.json();
    let mp = m.mount().display().to_string();
    let link = m.link().display().to_string();
    let q = |s: &str| js(s);
    let mut cases: Vec<Case> = Vec::new();
    let mut case = |what: &str, json: String, expect: &str, real_run: bool| {
        assert_ne!(json, m.json(), "{what}: the edit did not apply");
        cases.push(Case {
            what: what.into(),
            json,
            expect: expect.into(),
            real_run,
        })
    };
    // uid/gid -1, however spelled
    for spelled in ["4294967295", "4294967295.0", "4.294967295e9"] {
        case(
            &format!("uid {spelled}"),
            json.replace("\"uid\":77", &format!("\"uid\":{spelled}")),
            "uid 4294967295 is -1",
            true,
        );
        case(
            &format!("gid {spelled}"),
            json.replace("\"gid\":88", &format!("\"gid\":{spelled}")),
            "gid 4294967295 is -1",
            true,
        );
    }
    for spelled in ["-1", "-1.0"] {
        case(
            &format!("uid {spelled}"),
            json.replace("\"uid\":77", &format!("\"uid\":{spelled}")),
            "field 'uid' is negative",
            true,
        );
    }
    // the mount point and the symlink
    for (field, cur, other) in [
        ("secretsMountPoint", &mp, &link),
        ("symlinkPath", &link, &mp),
    ] {
        let set = |v: &str| json.replace(&q(cur), &q(v));
        case(&format!("{field} /"), set("/"), "names no file", false);
        case(
            &format!("{field} relative"),
            set("run/secrets-x"),
            "is not an absolute path",
            true,
        );
        case(
            &format!("{field} with //"),
            set(&format!("{t}//x")),
            "empty, '.' or '..' component",
            true,
        );
        case(
            &format!("{field} with a trailing /"),
            set(&format!("{cur}/")),
            "trailing '/'",
            true,
        );
        case(
            &format!("{field} with /./"),
            set(&format!("{t}/./x")),
            "'.' or '..' component",
            true,
        );
        case(
            &format!("{field} /run"),
            set("/run"),
            "is a system directory",
            true,
        );
        case(
            &format!("{field} /etc"),
            set("/etc"),
            "is a system directory",
            false,
        );
        case(
            &format!("{field} in the Nix store"),
            set("/nix/store/0000-secrets"),
            "is inside /nix/store",
            false,
        );
        case(
            &format!("{field} the same as the other"),
            set(other),
            "are the same path",
            true,
        );
    }
    case(
        "symlinkPath inside secretsMountPoint",
        json.replace(&q(&link), &q(&format!("{mp}/current"))),
        "symlinkPath",
        true,
    );
    case(
        "secretsMountPoint inside symlinkPath",
        json.replace(&q(&mp), &q(&format!("{link}/store"))),
        "would remove the mounted secrets",
        true,
    );
    // custom paths (a's path is its default, `<link>/a`)
    let a_path = q(&format!("{link}/a"));
    let set_path = |v: &str| json.replacen(&a_path, &q(v), 1);
    for (what, v, expect, real) in [
        ("/", "/".to_string(), "names no file", false),
        (
            "a system directory",
            "/etc".into(),
            "system directory",
            false,
        ),
        (
            "with //",
            format!("{t}/etc//a"),
            "empty, '.' or '..' component",
            true,
        ),
        (
            "age-keys.txt in the mount point",
            format!("{mp}/age-keys.txt"),
            "inside secretsMountPoint",
            true,
        ),
        (
            "a generation's name",
            format!("{mp}/1"),
            "inside secretsMountPoint",
            true,
        ),
        (
            "the mount point's parent",
            t.clone(),
            "parent directory of secretsMountPoint",
            true,
        ),
        ("symlinkPath", link.clone(), "symlinkPath", true),
        (
            "another secret's location",
            format!("{link}/b"),
            "it is where secret b is installed",
            true,
        ),
        (
            "a template's location",
            format!("{link}/rendered/t"),
            "it is where template t is installed",
            true,
        ),
    ] {
        case(&format!("path {what}"), set_path(&v), expect, real);
    }
    // two entries with the same custom path
    let b_path = q(&format!("{link}/b"));
    let same = q(&format!("{t}/etc/same"));
    case(
        "two entries with one path",
        json.replacen(&a_path, &same, 1).replacen(&b_path, &same, 1),
        "secret a has the same path",
        true,
    );
    // unit names
    for (what, unit) in [
        ("an option", "--force"),
        ("a space", "a b.service"),
        ("a newline", "a.service\nb.service"),
        ("no type suffix", "nginx"),
        ("empty", ""),
    ] {
        let j = json.replacen(
            "\"restartUnits\":[]",
            &format!("\"restartUnits\":[{}]", q(unit)),
            1,
        );
        case(
            &format!("restart unit with {what}"),
            j,
            "is not a systemd unit name",
            true,
        );
    }
    // nothing mounted, created or removed: the run dir's contents are compared as well
    ns.ok("mount -t tmpfs -o mode=0755 tmpfs /run && touch /run/sentinel");
    let snapshot = |ns: &Ns| ns.ok(&format!("ls -A '{t}' /run; find '{t}' | sort"));
    let mut before = snapshot(ns);
    let mut runs = 0;
    let mut accepted = Vec::new();
    for c in &cases {
        let mf = ns.h().join("m.json");
        std::fs::write(&mf, &c.json).unwrap();
        let mf = mf.display().to_string();
        let mut modes = vec![
            vec!["--check-mode=manifest", mf.as_str()],
            vec!["--check-mode=sopsfile", mf.as_str()],
        ];
        if c.real_run {
            modes.push(vec![mf.as_str()]);
        }
        for args in modes {
            runs += 1;
            let o = ns.install_with(&["env", "-C", &t], "077", &args, &[]);
            let err = stderr(&o);
            let refused = o.status.code() == Some(1)
                && (err.contains("manifest is not valid")
                    || err.contains("failed to parse manifest"))
                && err.contains(&c.expect);
            let now = snapshot(ns);
            if !refused || now != before {
                accepted.push(format!(
                    "{}: {args:?}: exit {:?}{}: {err}",
                    c.what,
                    o.status.code(),
                    if now != before {
                        ", and it changed files"
                    } else {
                        ""
                    }
                ));
                // clean up what it did, so the next cases are judged on their own
                ns.sh(&format!(
                    "cd '{t}' && for d in $(find . -mindepth 1 -maxdepth 3 -type d | sort -r); do umount \"$d\" 2>/dev/null; done; find . -mindepth 1 -maxdepth 1 ! -name nixos -exec rm -rf {{}} +; umount /run/secrets.d 2>/dev/null; rm -rf /run/*; touch /run/sentinel"
                ));
                before = snapshot(ns);
            }
        }
    }
    assert!(
        accepted.is_empty(),
        "{} of {runs} runs ({} cases) did not refuse the value with a clear error:\n{}",
        accepted.len(),
        cases.len(),
        accepted.join("\n")
    );
    // a user whose passwd entry says 4294967295 (a real run looks names up)
    ns.ok(&format!(
        "echo 'minus:x:4294967295:4294967295::/:/bin/false' >> '{}'",
        ns.h().join("passwd").display()
    ));
    let mut j = json.replacen("\"owner\":null", "\"owner\":\"minus\"", 1);
    assert_ne!(j, json);
    let mf = ns.h().join("m.json");
    std::fs::write(&mf, &j).unwrap();
    let o = ns.install(&[&mf.display().to_string()], &[]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("uid 4294967295 is -1"),
        "{}",
        stderr(&o)
    );
    assert_eq!(snapshot(ns), before);
    // keepGenerations 0 and the unchanged manifest install
    j = json.clone();
    std::fs::write(&mf, &j).unwrap();
    let o = ns.install(&[&mf.display().to_string()], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(ns.stat(&m.link().join("a")), "regular file|400|77|88");
    eprintln!("manifest sanity: {} cases, {runs} runs", cases.len());
}

#[test]
fn a_uid_next_to_an_owner_name_is_not_used_in_check_modes() {
    sealbox_testkit::require!(common::peers());
    // check modes do not look names up; the number beside a name is never applied
    if !need_root("the manifest sanity tests need root (mount namespaces)") {
        return;
    }
    let f = Fixture::new();
    let ns = &f.ns;
    let m = base(&f);
    let j = m
        .json()
        .replace("\"uid\":77", "\"uid\":4294967295")
        .replacen("\"owner\":null", "\"owner\":\"alice\"", 1);
    let mf = ns.h().join("m.json");
    std::fs::write(&mf, j).unwrap();
    let o = ns.install(&["--check-mode=manifest", &mf.display().to_string()], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
}
