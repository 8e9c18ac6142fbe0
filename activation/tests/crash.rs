//! Crash consistency of `sealbox-install` (issue 8): the binary, built with the cargo
//! feature `fault-injection`, SIGKILLs itself at the N-th filesystem step
//! (`SEALBOX_FAULT_AFTER=N`, see `os/src/fault.rs`). For every N of three scenarios — a first
//! activation, an update whose values change (old generations present, pruning on), and an
//! update whose secret set, modes, owners and custom paths change — and again with a second
//! kill during the recovery run, the test checks after each kill that
//!
//! * `symlinkPath` is absent (first activation only) or points at a *complete* generation,
//!   the old or the new one: every file and directory with exactly the content, mode and
//!   owner a clean activation gives (compared with reference snapshots);
//! * `age-keys.txt` is whole and 0600; custom-path symlinks point at `symlinkPath/name`;
//!
//! and that the next normal activation succeeds and repairs everything: the new values are
//! linked, only the generations `keepGenerations` keeps are left (each complete), and no
//! temporary file or directory of the killed run is left anywhere.
//!
//! A focused test does the same for systemd credentials: after a kill each credential is
//! whole (old or new value, 0400 root) and the next run leaves no temporary file in the
//! credential store, also when it no longer names the credential being written.
//!
//! Run with `cargo test -p sealbox-activation --features fault-injection --test crash`
//! (`.ci/run` does). The namespace's files are read from the test process through
//! `/proc/PID/root` of the namespace's keeper process.

mod common;
use common::*;
use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::time::Instant;

const KEEP: u64 = 3;

/// A generation's tree: relative path → "kind|mode|uid|gid|content".
type Snap = BTreeMap<String, String>;

/// The host path of `p` as the namespace sees it.
fn inside(ns: &Ns, p: &Path) -> PathBuf {
    PathBuf::from(format!("/proc/{}/root{}", ns.pid(), p.display()))
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Snapshot of the tree at `dir` (a path inside the namespace), not following symlinks.
fn snap(ns: &Ns, dir: &Path) -> Result<Snap, String> {
    fn walk(root: &Path, rel: &str, out: &mut Snap) -> Result<(), String> {
        let p = if rel.is_empty() {
            root.to_path_buf()
        } else {
            root.join(rel)
        };
        let md = fs::symlink_metadata(&p).map_err(|e| format!("{rel}: {e}"))?;
        let head = |k: &str| format!("{k}|{:o}|{}|{}", md.mode() & 0o7777, md.uid(), md.gid());
        let ft = md.file_type();
        if ft.is_dir() {
            out.insert(rel.to_string(), head("dir"));
            let mut names: Vec<String> = fs::read_dir(&p)
                .map_err(|e| format!("{rel}: {e}"))?
                .map(|e| e.map(|e| e.file_name().to_string_lossy().into_owned()))
                .collect::<Result<_, _>>()
                .map_err(|e| format!("{rel}: {e}"))?;
            names.sort();
            for n in names {
                let r = if rel.is_empty() {
                    n
                } else {
                    format!("{rel}/{n}")
                };
                walk(root, &r, out)?;
            }
        } else if ft.is_file() {
            let b = fs::read(&p).map_err(|e| format!("{rel}: {e}"))?;
            out.insert(rel.to_string(), format!("{}|{}", head("file"), hex(&b)));
        } else if ft.is_symlink() {
            let t = fs::read_link(&p).map_err(|e| format!("{rel}: {e}"))?;
            out.insert(rel.to_string(), format!("{}|{}", head("link"), t.display()));
        } else {
            out.insert(rel.to_string(), head("other"));
        }
        Ok(())
    }
    let mut out = Snap::new();
    walk(&inside(ns, dir), "", &mut out)?;
    Ok(out)
}

/// What differs between two snapshots (for messages; never secret values, only names).
fn diff(a: &Snap, b: &Snap) -> String {
    let mut d = Vec::new();
    for (k, v) in a {
        match b.get(k) {
            None => d.push(format!("-{k}")),
            Some(w) if w != v => {
                let meta = |s: &str| s.splitn(5, '|').take(4).collect::<Vec<_>>().join("|");
                d.push(format!("~{k} ({} vs {})", meta(v), meta(w)))
            }
            _ => {}
        }
    }
    for k in b.keys().filter(|k| !a.contains_key(*k)) {
        d.push(format!("+{k}"));
    }
    d.join(", ")
}

struct Case<'a> {
    f: &'a Fixture,
    m: BTreeMap<&'static str, M>,
    mf: BTreeMap<&'static str, String>,
    refs: BTreeMap<&'static str, Snap>,
    /// (custom path, symlink target, uid, gid) per manifest.
    customs: BTreeMap<&'static str, Vec<(PathBuf, PathBuf, u32, u32)>>,
    key_line: String,
}

impl Case<'_> {
    fn ns(&self) -> &Ns {
        &self.f.ns
    }
    fn any(&self) -> &M {
        &self.m["X"]
    }
    fn current_gen(&self) -> Result<Option<(u64, PathBuf)>, String> {
        let ns = self.ns();
        let link = self.any().link();
        match fs::read_link(inside(ns, &link)) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(format!("readlink {}: {e}", link.display())),
            Ok(t) => {
                let mp = self.any().mount();
                let n = t
                    .strip_prefix(&mp)
                    .ok()
                    .and_then(|r| r.to_str())
                    .and_then(|r| r.parse::<u64>().ok())
                    .ok_or_else(|| format!("the symlink points at {}", t.display()))?;
                Ok(Some((n, t)))
            }
        }
    }

    fn check_keys(&self) -> Result<(), String> {
        let p = inside(self.ns(), &self.any().mount().join("age-keys.txt"));
        let md = match fs::symlink_metadata(&p) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(format!("age-keys.txt: {e}")),
            Ok(md) => md,
        };
        if !md.is_file() || md.mode() & 0o7777 != 0o600 || md.uid() != 0 {
            return Err(format!(
                "age-keys.txt is not a 0600 root file: {:o} {}",
                md.mode(),
                md.uid()
            ));
        }
        let text = fs::read_to_string(&p).map_err(|e| format!("age-keys.txt: {e}"))?;
        if !text.lines().any(|l| l == self.key_line) {
            return Err("age-keys.txt does not hold the whole key".into());
        }
        Ok(())
    }

    /// After a kill: the link is absent (only if `old` is None) or points at a generation
    /// that is exactly `old` or `new`. Returns which.
    fn check_consistent(&self, old: Option<&str>, new: &str) -> Result<&'static str, String> {
        self.check_keys()?;
        let ns = self.ns();
        let Some((_, target)) = self.current_gen()? else {
            return match old {
                None => Ok("absent"),
                Some(_) => Err("the symlink is gone".into()),
            };
        };
        // Custom paths that exist point through the symlink (at a target the old or the
        // new manifest gives them; sops-nix never removes a custom path a manifest dropped).
        let mut allowed: BTreeMap<&Path, Vec<&Path>> = BTreeMap::new();
        for n in old.into_iter().chain([new]) {
            for (p, t, _, _) in &self.customs[n] {
                allowed.entry(p.as_path()).or_default().push(t.as_path());
            }
        }
        for (p, ts) in &allowed {
            if let Ok(l) = fs::read_link(inside(ns, p)) {
                if !ts.contains(&l.as_path()) {
                    return Err(format!("{} points at {}", p.display(), l.display()));
                }
            }
        }
        let s = snap(ns, &target)?;
        let mut why = Vec::new();
        for name in old.into_iter().chain([new]) {
            let r = &self.refs[name];
            if &s == r {
                return Ok(if Some(name) == old { "old" } else { "new" });
            }
            why.push(format!("vs {name}: {}", diff(r, &s)));
        }
        Err(format!(
            "{} is neither the old nor the new generation: {}",
            target.display(),
            why.join("; ")
        ))
    }

    /// After a normal activation of `new`: linked, complete, no leftovers.
    fn check_repaired(&self, new: &str) -> Result<(), String> {
        let ns = self.ns();
        self.check_keys()?;
        if !inside(ns, &self.any().mount().join("age-keys.txt")).exists() {
            return Err("age-keys.txt is missing".into());
        }
        let (g, target) = self.current_gen()?.ok_or("no symlink after the repair")?;
        let s = snap(ns, &target)?;
        if s != self.refs[new] {
            return Err(format!(
                "generation {g} is not {new}: {}",
                diff(&self.refs[new], &s)
            ));
        }
        let mp = self.any().mount();
        for ent in fs::read_dir(inside(ns, &mp)).map_err(|e| e.to_string())? {
            let name = ent.map_err(|e| e.to_string())?.file_name();
            let name = name.to_string_lossy();
            if name == "age-keys.txt" {
                continue;
            }
            let Ok(n) = name.parse::<u64>() else {
                return Err(format!("leftover in the mount point: {name}"));
            };
            if n > g || n + KEEP <= g {
                return Err(format!(
                    "generation {n} is left (current {g}, keepGenerations {KEEP})"
                ));
            }
            let sn = snap(ns, &mp.join(n.to_string()))?;
            if !self.refs.values().any(|r| r == &sn) {
                return Err(format!("kept generation {n} is incomplete"));
            }
        }
        let t = &ns.t;
        for ent in fs::read_dir(inside(ns, t)).map_err(|e| e.to_string())? {
            let name = ent.map_err(|e| e.to_string())?.file_name();
            if name.to_string_lossy().starts_with('.') {
                return Err(format!("leftover next to the symlink: {name:?}"));
            }
        }
        for (p, want, u, g) in &self.customs[new] {
            let md = fs::symlink_metadata(inside(ns, p))
                .map_err(|e| format!("custom path {}: {e}", p.display()))?;
            let l = fs::read_link(inside(ns, p)).map_err(|e| e.to_string())?;
            if &l != want || md.uid() != *u || md.gid() != *g {
                return Err(format!(
                    "custom path {} → {} {}:{}",
                    p.display(),
                    l.display(),
                    md.uid(),
                    md.gid()
                ));
            }
            let parent = inside(ns, p.parent().unwrap());
            for ent in fs::read_dir(&parent).map_err(|e| e.to_string())? {
                let name = ent.map_err(|e| e.to_string())?.file_name();
                if name.to_string_lossy().starts_with('.') {
                    return Err(format!("leftover next to {}: {name:?}", p.display()));
                }
            }
        }
        Ok(())
    }

    fn install(&self, which: &str, umask: &str, fault: Option<u64>) -> std::process::Output {
        let n = fault.map(|n| n.to_string());
        let env: Vec<(&str, &str)> = n
            .as_deref()
            .map(|n| vec![("SEALBOX_FAULT_AFTER", n)])
            .unwrap_or_default();
        self.ns().install_umask(umask, &[&self.mf[which]], &env)
    }

    /// A normal activation of `which`, checked.
    fn activate(&self, which: &str, umask: &str) {
        let o = self.install(which, umask, None);
        assert!(o.status.success(), "activation of {which}: {}", stderr(&o));
        if let Err(e) = self.check_repaired(which) {
            panic!("after a normal activation of {which}: {e}");
        }
    }

    /// A run killed at fault point `n`: Some(label of the point) when it was killed,
    /// None when it completed (fewer than `n` points).
    fn killed_at(&self, which: &str, umask: &str, n: u64) -> Option<String> {
        let o = self.install(which, umask, Some(n));
        let err = stderr(&o);
        let last = err
            .lines()
            .rev()
            .find_map(|l| l.strip_prefix("sealbox-fault: "))
            .unwrap_or("")
            .to_string();
        if o.status.signal() == Some(9) || o.status.code() == Some(137) {
            assert!(
                last.starts_with(&format!("{n} ")),
                "killed elsewhere than point {n}: {err}"
            );
            Some(last)
        } else {
            assert!(o.status.success(), "fault run {n} of {which}: {err}");
            None
        }
    }

    fn reset(&self) {
        let m = self.any();
        self.ns().ok(&format!(
            "while umount '{mp}' 2>/dev/null; do :; done; rm -rf '{mp}' '{l}' '{t}/etc' '{t}'/.[!.]*",
            mp = m.mount().display(),
            l = m.link().display(),
            t = self.ns().t.display()
        ));
    }
}

#[derive(Default, Debug)]
struct Tally {
    killed: u64,
    points: BTreeMap<&'static str, u64>,
    outcomes: BTreeMap<String, u64>,
    labels: BTreeMap<String, u64>,
}

/// One scenario: for N = 1, 2, … until a run completes, bring the state to `old`
/// (`None` = nothing installed), kill an activation of `new` at point N, check, optionally
/// kill the recovery run too (`second`), then repair and check.
fn scenario(
    c: &Case,
    tally: &mut Tally,
    name: &'static str,
    old: Option<&'static str>,
    new: &'static str,
    second: Option<u64>,
) {
    let mut n = 1u64;
    loop {
        let umask = if n.is_multiple_of(2) { "000" } else { "077" };
        // bring the state to `old`
        match old {
            None => c.reset(),
            Some(o) => {
                if c.current_gen().unwrap().is_none()
                    || snap(c.ns(), &c.current_gen().unwrap().unwrap().1).unwrap() != c.refs[o]
                {
                    c.activate(o, "022");
                }
            }
        }
        let Some(label) = c.killed_at(new, umask, n) else {
            // n exceeds the number of points: a complete activation
            c.check_repaired(new)
                .unwrap_or_else(|e| panic!("{name}: completed run {n}: {e}"));
            tally.points.insert(name, n - 1);
            return;
        };
        tally.killed += 1;
        *tally
            .labels
            .entry(label.split_once(' ').map_or("", |x| x.1).to_string())
            .or_default() += 1;
        let what = c
            .check_consistent(old, new)
            .unwrap_or_else(|e| panic!("{name}: killed at point {label}: {e}"));
        *tally.outcomes.entry(format!("{name}:{what}")).or_default() += 1;
        if let Some(p) = second {
            let m = (n * 31) % p.max(1) + 1;
            if let Some(l2) = c.killed_at(new, umask, m) {
                tally.killed += 1;
                c.check_consistent(old, new).unwrap_or_else(|e| {
                    panic!("{name}: killed at point {label}, then the recovery at {l2}: {e}")
                });
            }
        }
        let o = c.install(new, if umask == "000" { "077" } else { "000" }, None);
        assert!(
            o.status.success(),
            "{name}: the activation after a kill at {label} fails: {}",
            stderr(&o)
        );
        c.check_repaired(new).unwrap_or_else(|e| {
            panic!("{name}: the activation after a kill at {label} did not repair: {e}")
        });
        n += 1;
        assert!(n < 1000, "{name}: no end to the fault points");
    }
}

fn values(tag: &str) -> (String, String, String) {
    (
        format!(
            r#"{{"db": {{"password": "pw-{tag}", "user": "u"}}, "token": "tok-{tag}", "new": "fresh-{tag}"}}"#
        ),
        format!("deep:\n    a:\n        cert: cert-{tag}\nother: o-{tag}\n"),
        format!("\x00blob-{tag}\n\u{ff}"),
    )
}

#[test]
fn killed_activations_leave_the_old_or_the_new_generation_and_are_repaired() {
    sealbox_testkit::require!(common::peers());
    let started = Instant::now();
    let f = Fixture::new();
    let ns = &f.ns;
    let t = ns.t.clone();
    let key_line = fs::read_to_string(&f.key_file)
        .unwrap()
        .lines()
        .find(|l| l.starts_with("AGE-SECRET-KEY-"))
        .unwrap()
        .to_string();
    let mut files = BTreeMap::new();
    for tag in ["x", "y"] {
        let (j, y, b) = values(tag);
        files.insert(
            tag,
            (
                f.enc(&format!("app-{tag}.json"), "json", j.as_bytes()),
                f.enc(&format!("app-{tag}.yaml"), "yaml", y.as_bytes()),
                f.enc(&format!("blob-{tag}.bin"), "binary", b.as_bytes()),
            ),
        );
    }
    let make = |tag: &str, changed: bool| -> M {
        let (json, yaml, bin) = &files[tag];
        let mut db = e("db", json, "json", "db/password");
        db.mode = "0440";
        db.owner = Some("alice");
        db.group = Some("svc");
        db.path = Some(t.join("etc/app/db").display().to_string());
        db.restart = vec!["db.service"];
        let mut tok = e("api/token", json, "json", "token");
        tok.uid = 1234;
        tok.reload = vec!["api.service"];
        let mut cert = e("deep/a/b/cert", yaml, "yaml", "deep/a/cert");
        cert.mode = "0444";
        let blob = e("blob", bin, "binary", "");
        let whole = e("whole.json", json, "json", "");
        let mut t1 = e("app.conf", Path::new(""), "", "");
        t1.content = Some(format!(
            "pw={} tok={}\n",
            placeholder("db"),
            placeholder("api/token")
        ));
        t1.owner = Some("bob");
        t1.mode = "0440";
        t1.path = Some(t.join("etc/app.conf").display().to_string());
        let mut t2 = e("nested/t2", Path::new(""), "", "");
        t2.content = Some(format!("cert={}\n", placeholder("deep/a/b/cert")));
        let mut secrets = vec![db, tok, cert, blob, whole];
        if changed {
            // Z: one secret gone, one new, a mode, an owner and a custom path changed,
            // a template's text changed.
            secrets.retain(|s| s.name != "blob");
            secrets[0].mode = "0400";
            secrets[0].owner = Some("bob");
            secrets[0].path = Some(t.join("etc/app2/db").display().to_string());
            let mut fresh = e("extra/new", json, "json", "new");
            fresh.gid = 2345;
            fresh.mode = "0640";
            secrets.push(fresh);
            t1.content = Some(format!("only pw={}\n", placeholder("db")));
        }
        f.manifest(secrets, vec![t1, t2], KEEP)
    };
    let mut m = BTreeMap::new();
    m.insert("X", make("x", false));
    m.insert("Y", make("y", false));
    m.insert("Z", make("y", true));
    let mut mf = BTreeMap::new();
    let mut customs = BTreeMap::new();
    for (k, v) in &m {
        mf.insert(*k, v.write(ns.h(), &format!("{k}.json")));
        let link = v.link();
        let mut cs = Vec::new();
        for s in &v.secrets {
            if let Some(p) = &s.path {
                let uid = if s.owner == Some("bob") {
                    1300
                } else if s.owner == Some("alice") {
                    1234
                } else {
                    s.uid
                };
                let gid = if s.group == Some("svc") { 2345 } else { s.gid };
                cs.push((PathBuf::from(p), link.join(s.name), uid, gid));
            }
        }
        for s in &v.templates {
            if let Some(p) = &s.path {
                let uid = if s.owner == Some("bob") { 1300 } else { s.uid };
                cs.push((
                    PathBuf::from(p),
                    link.join("rendered").join(s.name),
                    uid,
                    s.gid,
                ));
            }
        }
        customs.insert(*k, cs);
    }
    let mut c = Case {
        f: &f,
        m,
        mf,
        refs: BTreeMap::new(),
        customs,
        key_line,
    };
    // Reference snapshots: clean activations of X, Y and Z, plus a few hard facts so a
    // wrong reference cannot pass unnoticed.
    for k in ["X", "Y", "Z"] {
        let o = c.install(k, "022", None);
        assert!(o.status.success(), "{}", stderr(&o));
        let (_, target) = c.current_gen().unwrap().unwrap();
        c.refs.insert(k, snap(ns, &target).unwrap());
    }
    let x = &c.refs["X"];
    assert_eq!(x[""], "dir|751|0|96");
    assert_eq!(x["db"], format!("file|440|1234|2345|{}", hex(b"pw-x")));
    assert_eq!(x["api"], "dir|751|0|96");
    assert_eq!(x["api/token"], format!("file|400|1234|0|{}", hex(b"tok-x")));
    assert_eq!(
        x["deep/a/b/cert"],
        format!("file|444|0|0|{}", hex(b"cert-x"))
    );
    assert_eq!(
        x["blob"],
        format!("file|400|0|0|{}", hex(values("x").2.as_bytes()))
    );
    assert_eq!(
        x["rendered/app.conf"],
        format!("file|440|1300|0|{}", hex(b"pw=pw-x tok=tok-x\n"))
    );
    assert_eq!(x.len(), 14, "{:?}", x.keys().collect::<Vec<_>>());
    assert_eq!(
        c.refs["Z"]["db"],
        format!("file|400|1300|2345|{}", hex(b"pw-y"))
    );
    assert!(!c.refs["Z"].contains_key("blob"));
    assert_ne!(c.refs["X"], c.refs["Y"]);

    // The checks can fail: a truncated file, a wrong mode and a stray generation in a
    // hand-made state are caught.
    c.activate("X", "022");
    let (g, target) = c.current_gen().unwrap().unwrap();
    let mp = c.any().mount();
    let link = c.any().link();
    let bad = mp.join((g + 1).to_string());
    for (break_it, what) in [
        (format!("truncate -s 2 '{}/db'", bad.display()), "truncated"),
        (format!("chmod 0644 '{}/api/token'", bad.display()), "mode"),
        (
            format!("rm '{}/rendered/app.conf'", bad.display()),
            "missing",
        ),
    ] {
        ns.ok(&format!(
            "cp -a '{d}' '{b}' && {break_it} && ln -sfn '{b}' '{l}'",
            d = target.display(),
            b = bad.display(),
            l = link.display()
        ));
        assert!(
            c.check_consistent(Some("X"), "Y").is_err(),
            "a {what} file is caught"
        );
        ns.ok(&format!(
            "ln -sfn '{}' '{}' && rm -r '{}'",
            target.display(),
            link.display(),
            bad.display()
        ));
        assert_eq!(c.check_consistent(Some("X"), "Y"), Ok("old"));
    }
    ns.ok(&format!(
        "mkdir '{}/{}'",
        mp.display(),
        g.saturating_sub(KEEP)
    ));
    assert!(
        c.check_repaired("X").is_err(),
        "a stray generation is caught"
    );
    ns.ok(&format!(
        "touch '{}/.age-keys.txt.tmp99999999.0'",
        mp.display()
    ));
    c.activate("X", "022");

    // A partial next generation (a killed run's) holding planted symlinks is replaced.
    let (g, _) = c.current_gen().unwrap().unwrap();
    let stale = mp.join((g + 1).to_string());
    ns.ok(&format!(
        "mkdir -p '{t}/decoy' '{s}/rendered' && echo keep > '{t}/decoy/db' && \
         ln -s '{t}/decoy/db' '{s}/db' && ln -s '{t}/decoy' '{s}/api' && chmod 777 '{s}'",
        t = t.display(),
        s = stale.display()
    ));
    c.activate("Y", "022");
    assert_eq!(ns.cat(&t.join("decoy/db")), b"keep\n");
    assert_eq!(ns.ls(&t.join("decoy")), ["db"]);
    ns.ok(&format!("rm -r '{}/decoy'", t.display()));

    let mut tally = Tally::default();
    // 1. first activation, nothing installed before
    scenario(&c, &mut tally, "first", None, "X", None);
    let p_first = tally.points["first"];
    scenario(&c, &mut tally, "first+recovery", None, "X", Some(p_first));
    // 2. update: values change (X ↔ Y have the same shape), old generations present
    c.activate("X", "022");
    let mut p_update = 0;
    for (name, old, new) in [("update", "X", "Y"), ("update+recovery", "Y", "X")] {
        let second = (p_update > 0).then_some(p_update);
        scenario(&c, &mut tally, name, Some(old), new, second);
        p_update = p_update.max(tally.points[name]);
    }
    // 3. update: the secret set, modes, owners, custom paths change
    scenario(&c, &mut tally, "change", Some("X"), "Z", None);
    let p_change = tally.points["change"];
    scenario(
        &c,
        &mut tally,
        "change+recovery",
        Some("X"),
        "Z",
        Some(p_change),
    );

    eprintln!(
        "crash test: {} killed runs in {:?}\npoints per scenario: {:?}\noutcomes: {:?}\nkilled after: {:?}",
        tally.killed,
        started.elapsed(),
        tally.points,
        tally.outcomes,
        tally.labels
    );
    assert!(tally.killed >= 500, "only {} killed runs", tally.killed);
    // Every scenario saw both sides of the switch.
    for s in ["update", "change"] {
        assert!(
            tally
                .outcomes
                .get(&format!("{s}:old"))
                .copied()
                .unwrap_or(0)
                > 0
        );
        assert!(
            tally
                .outcomes
                .get(&format!("{s}:new"))
                .copied()
                .unwrap_or(0)
                > 0
        );
    }
    assert!(tally.outcomes.get("first:absent").copied().unwrap_or(0) > 0);
    assert!(tally.outcomes.get("first:new").copied().unwrap_or(0) > 0);
}

#[test]
fn the_fault_hook_is_compiled_into_this_test_binary() {
    sealbox_testkit::require!(common::peers());
    // The other side of `permissions.rs`'s check that default builds lack it.
    let bin = fs::read(BIN).unwrap();
    assert!(bin.windows(19).any(|w| w == b"SEALBOX_FAULT_AFTER"));
}

// ---- systemd credentials (`credentialName`)

const CRED_OLD: [(&str, &[u8]); 2] = [("db-cred", b"pw-old"), ("api-cred", b"key-old")];
const CRED_NEW: [(&str, &[u8]); 2] = [("db-cred", b"pw-new"), ("api-cred", b"key-new")];

/// The credential store's entries other than sealbox's ledgers, sorted.
fn credstore_names(ns: &Ns, cs: &Path) -> Vec<String> {
    let mut v: Vec<String> = match fs::read_dir(inside(ns, cs)) {
        Ok(rd) => rd
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| !n.starts_with(".sealbox-managed."))
            .collect(),
        Err(_) => Vec::new(),
    };
    v.sort();
    v
}

/// Each credential in `names` is a whole 0400 root:root regular file holding one of
/// `allowed` values.
fn check_creds(
    ns: &Ns,
    cs: &Path,
    names: &[&str],
    allowed: &[&[(&str, &[u8])]],
) -> Result<(), String> {
    for name in names {
        let p = inside(ns, &cs.join(name));
        let md = fs::symlink_metadata(&p).map_err(|e| format!("credential {name}: {e}"))?;
        if !md.is_file() || md.mode() & 0o7777 != 0o400 || md.uid() != 0 || md.gid() != 0 {
            return Err(format!(
                "credential {name} is not a 0400 root:root file: {:o} {}:{}",
                md.mode(),
                md.uid(),
                md.gid()
            ));
        }
        let b = fs::read(&p).map_err(|e| format!("credential {name}: {e}"))?;
        let ok = allowed
            .iter()
            .any(|set| set.iter().any(|(n, v)| n == name && b == *v));
        if !ok {
            return Err(format!(
                "credential {name} holds neither the old nor the new value ({} bytes)",
                b.len()
            ));
        }
    }
    Ok(())
}

/// Activations placing credentials, SIGKILLed at every filesystem step: afterwards each
/// credential is the old or the new value (whole, 0400 root), and the next activation —
/// of the same manifest, or (every other time) of one that no longer names `api-cred` —
/// leaves no temporary file in the credential store.
#[test]
fn killed_credential_placements_leave_whole_credentials_and_no_temp_files() {
    sealbox_testkit::require!(common::peers());
    let started = Instant::now();
    let f = Fixture::new();
    let ns = &f.ns;
    let cs = ns.t.join("credstore");
    let csv = cs.display().to_string();
    let old = f.enc("cred-old.yaml", "yaml", b"db: pw-old\napi: key-old\n");
    let new = f.enc("cred-new.yaml", "yaml", b"db: pw-new\napi: key-new\n");
    let manifest = |name: &str, file: &Path, with_api: bool| -> String {
        let mut secrets = vec![e("db", file, "yaml", "db")];
        if with_api {
            secrets.push(e("api", file, "yaml", "api"));
        }
        let json = f
            .manifest(secrets, vec![], 2)
            .json()
            .replace(
                "\"key\":\"db\"",
                "\"key\":\"db\",\"credentialName\":\"db-cred\"",
            )
            .replace(
                "\"key\":\"api\"",
                "\"key\":\"api\",\"credentialName\":\"api-cred\"",
            );
        let p = ns.h().join(name);
        fs::write(&p, json).unwrap();
        p.display().to_string()
    };
    let m_old = manifest("cred-O.json", &old, true);
    let m_new = manifest("cred-N.json", &new, true);
    let m_drop = manifest("cred-D.json", &new, false);
    let run = |m: &str, umask: &str, fault: Option<u64>| {
        let n = fault.map(|n| n.to_string());
        let mut env = vec![("SEALBOX_CREDSTORE_DIR", csv.as_str())];
        if let Some(n) = n.as_deref() {
            env.push(("SEALBOX_FAULT_AFTER", n));
        }
        ns.install_umask(umask, &[m], &env)
    };
    let activate = |m: &str| {
        let o = run(m, "022", None);
        assert!(o.status.success(), "{m}: {}", stderr(&o));
    };
    // the checks can fail: a truncated or widened credential is caught
    activate(&m_old);
    assert_eq!(credstore_names(ns, &cs), ["api-cred", "db-cred"]);
    check_creds(ns, &cs, &["db-cred", "api-cred"], &[&CRED_OLD]).unwrap();
    for (break_it, what) in [
        ("truncate -s 2 db-cred", "truncated"),
        ("chmod 0444 db-cred", "mode"),
        ("rm db-cred && ln -s api-cred db-cred", "symlink"),
    ] {
        ns.ok(&format!("cd '{}' && {break_it}", cs.display()));
        assert!(
            check_creds(ns, &cs, &["db-cred", "api-cred"], &[&CRED_OLD, &CRED_NEW]).is_err(),
            "a {what} credential is caught"
        );
        ns.ok(&format!("rm -f '{}/db-cred'", cs.display()));
        activate(&m_old);
    }

    let (mut killed, mut temps_seen, mut api_temps_dropped, mut new_seen) =
        (0u64, 0u64, 0u64, 0u64);
    let mut n = 1u64;
    let points = loop {
        activate(&m_old);
        check_creds(ns, &cs, &["db-cred", "api-cred"], &[&CRED_OLD]).unwrap();
        let umask = if n.is_multiple_of(2) { "000" } else { "077" };
        let o = run(&m_new, umask, Some(n));
        let err = stderr(&o);
        let label = err
            .lines()
            .rev()
            .find_map(|l| l.strip_prefix("sealbox-fault: "))
            .unwrap_or("")
            .to_string();
        if !(o.status.signal() == Some(9) || o.status.code() == Some(137)) {
            assert!(o.status.success(), "fault run {n}: {err}");
            check_creds(ns, &cs, &["db-cred", "api-cred"], &[&CRED_NEW]).unwrap();
            break n - 1;
        }
        assert!(
            label.starts_with(&format!("{n} ")),
            "killed elsewhere than {n}: {err}"
        );
        killed += 1;
        check_creds(ns, &cs, &["db-cred", "api-cred"], &[&CRED_OLD, &CRED_NEW])
            .unwrap_or_else(|e| panic!("killed at {label}: {e}"));
        if fs::read(inside(ns, &cs.join("db-cred"))).unwrap() == b"pw-new" {
            new_seen += 1;
        }
        let left: Vec<String> = credstore_names(ns, &cs)
            .into_iter()
            .filter(|n| n.starts_with('.'))
            .collect();
        temps_seen += left.len() as u64;
        // the next run: the same manifest, or every other time one without api-cred
        let drop_api = n.is_multiple_of(2);
        if drop_api {
            api_temps_dropped += left.iter().filter(|n| n.starts_with(".api-cred.")).count() as u64;
        }
        let m = if drop_api { &m_drop } else { &m_new };
        let o = run(m, "077", None);
        assert!(
            o.status.success(),
            "the run after a kill at {label}: {}",
            stderr(&o)
        );
        let (names, want): (&[&str], Vec<&str>) = if drop_api {
            (&["db-cred"], vec!["db-cred"])
        } else {
            (&["db-cred", "api-cred"], vec!["api-cred", "db-cred"])
        };
        assert_eq!(
            credstore_names(ns, &cs),
            want,
            "after a kill at {label} ({left:?} left by it), the next run{} leaves temporary files or stale credentials",
            if drop_api { " without api-cred" } else { "" }
        );
        check_creds(ns, &cs, names, &[&CRED_NEW])
            .unwrap_or_else(|e| panic!("the run after a kill at {label}: {e}"));
        n += 1;
        assert!(n < 500, "no end to the fault points");
    };
    eprintln!(
        "credential crash test: {points} fault points, {killed} kills ({new_seen} with the new db-cred already in place), {temps_seen} temporary files left in the credstore by kills ({api_temps_dropped} of them for a credential the next manifest dropped), all removed by the next run; {:?}",
        started.elapsed()
    );
    assert!(killed >= 10, "only {killed} kills");
    assert!(
        new_seen > 0 && new_seen < killed,
        "both values seen after kills"
    );
    assert!(
        temps_seen > 0,
        "no kill left a temporary file: the sweep check saw nothing"
    );
    assert!(
        api_temps_dropped > 0,
        "no temp file of a dropped credential"
    );
}
