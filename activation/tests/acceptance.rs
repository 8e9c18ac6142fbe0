//! Acceptance tests of `sealbox-install`: a 30-secret manifest over five sops formats
//! across successive activations, the atomic switch under concurrent readers, and the
//! absence of any moment where a secret file is more open than its final mode.
//!
//! Watchers run *inside* the test's mount namespace: this test binary is re-executed
//! there through `nsenter` (the ignored test `helper_in_namespace`, selected by the
//! environment variable `SEALBOX_ACC_HELPER`), and talks to the test through files in
//! the host temp dir.

mod common;
use common::*;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

/// A `&'static str` from a computed string (test manifests keep `&'static str` names).
fn st(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

/// "0440" → "440", as `stat -c %a` prints it.
fn mode_a(mode: &str) -> String {
    format!("{:o}", u32::from_str_radix(mode, 8).unwrap() & 0o7777)
}

fn uid_of(name: &str) -> u32 {
    match name {
        "root" => 0,
        "alice" => 1234,
        "bob" => 1300,
        "nobody" => 65534,
        _ => panic!("unknown user {name}"),
    }
}

fn gid_of(name: &str) -> u32 {
    match name {
        "root" => 0,
        "svc" => 2345,
        "bob" => 1300,
        "keys" => 96,
        "nogroup" => 65534,
        _ => panic!("unknown group {name}"),
    }
}

/// Sets owner/group of an entry from a spec: "" = unset (0), "#N" = numeric id, else a name.
/// Returns the resolved (uid, gid).
fn own(x: &mut E, owner: &'static str, group: &'static str) -> (u32, u32) {
    let u = if owner.is_empty() {
        0
    } else if let Some(n) = owner.strip_prefix('#') {
        x.uid = n.parse().unwrap();
        x.uid
    } else {
        x.owner = Some(owner);
        uid_of(owner)
    };
    let g = if group.is_empty() {
        0
    } else if let Some(n) = group.strip_prefix('#') {
        x.gid = n.parse().unwrap();
        x.gid
    } else {
        x.group = Some(group);
        gid_of(group)
    };
    (u, g)
}

/// `stat -c '%F|%a|%u|%g'` of many paths in one call (not following symlinks).
fn stat_many(ns: &Ns, paths: &[PathBuf]) -> Vec<String> {
    let args: Vec<String> = paths.iter().map(|p| format!("'{}'", p.display())).collect();
    let out = ns.ok(&format!("stat -c '%F|%a|%u|%g' {}", args.join(" ")));
    let v: Vec<String> = out.lines().map(str::to_string).collect();
    assert_eq!(v.len(), paths.len());
    v
}

/// The restart and reload lists (empty when the file does not exist), then removes them.
fn take_lists(ns: &Ns) -> (String, String) {
    let dir = ns.t.join("nixos");
    let read = |n: &str| {
        let p = dir.join(n);
        if ns.exists(&p) {
            let s = String::from_utf8(ns.cat(&p)).unwrap();
            ns.ok(&format!("rm '{}'", p.display()));
            s
        } else {
            String::new()
        }
    };
    (
        read("activation-restart-list"),
        read("activation-reload-list"),
    )
}

// ------------------------------------------------------------------------------------------
// 1. thirty secrets, five formats, three templates, four activations

const YAML_1: &str = r#"db:
    host: db.example.org
    password: yaml-db-pw-1
    replica:
        password: replica-pw
api:
    key: api-key-yaml
    token: api-token-yaml
smtp:
    user: mailer
    pass: 'smtp: pass # not a comment'
tls:
    key: |
        -----BEGIN PRIVATE KEY-----
        MIIBVwIBADANBgkq
        -----END PRIVATE KEY-----
plain: simple-yaml
empty: ""
quoted: "yes"
num_str: "0123"
spaces: "  padded  "
colon_key: "a:b"
"#;
const JSON_1: &str = r#"{"a": {"b": {"c": "json-abc", "d": "json-abd"}}, "svc": {"one": "s1", "two": "s2", "three": "s3"}, "flat": "jflat", "unicode": "h\u00e9llo \u2713 'q'", "multi": "line1\nline2\n"}"#;
const DOTENV: &str = "# env file\nDB_URL=postgres://u:p@h/db\nAPI_KEY=env-key\n";
const INI: &str = "[db]\nuser = u\npass = p\n\n[api]\nkey = k\n";
const BLOB: &[u8] = b"\x00\x01binary\xff\xfe\n\x00end";

/// One secret row: name, file index (0 yaml, 1 json, 2 dotenv, 3 ini, 4 binary), key,
/// mode, owner spec, group spec, custom path (relative to the namespace tmpfs).
type Row = (
    &'static str,
    usize,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    Option<&'static str>,
);

const ROWS: [Row; 30] = [
    ("db_host", 0, "db/host", "0444", "", "", None),
    (
        "db_password",
        0,
        "db/password",
        "0440",
        "alice",
        "svc",
        Some("etc/db/password"),
    ),
    (
        "db/replica/password",
        0,
        "db/replica/password",
        "0400",
        "#4242",
        "#4343",
        None,
    ),
    (
        "api_key",
        0,
        "api/key",
        "0400",
        "bob",
        "bob",
        Some("etc/api_key"),
    ),
    (
        "api_token",
        0,
        "api/token",
        "0600",
        "nobody",
        "nogroup",
        None,
    ),
    ("smtp_user", 0, "smtp/user", "0644", "", "svc", None),
    ("smtp_pass", 0, "smtp/pass", "0640", "alice", "#2345", None),
    (
        "tls/key.pem",
        0,
        "tls/key",
        "0400",
        "alice",
        "",
        Some("etc/ssl/private/key.pem"),
    ),
    ("plain", 0, "plain", "0444", "", "", None),
    ("empty", 0, "empty", "0400", "", "", None),
    ("quoted_yes", 0, "quoted", "0400", "bob", "", None),
    ("num_str", 0, "num_str", "0440", "#0", "svc", None),
    ("spaces", 0, "spaces", "0600", "#1234", "#2345", None),
    ("colon", 0, "colon_key", "0400", "", "nogroup", None),
    (
        "a_b_c",
        1,
        "a/b/c",
        "0440",
        "alice",
        "svc",
        Some("etc/json/abc"),
    ),
    ("a/b/d", 1, "a/b/d", "0400", "", "", None),
    ("svc_one", 1, "svc/one", "0400", "alice", "", None),
    ("svc_two", 1, "svc/two", "0640", "bob", "svc", None),
    ("svc_three", 1, "svc/three", "0644", "#5000", "#5001", None),
    ("flat", 1, "flat", "0400", "", "", None),
    ("unicode", 1, "unicode", "0444", "nobody", "nogroup", None),
    ("multi", 1, "multi", "0400", "", "", None),
    ("json_whole", 1, "", "0400", "", "", None),
    ("env_a", 2, "", "0400", "", "", None),
    (
        "env_b",
        2,
        "ignored",
        "0440",
        "alice",
        "svc",
        Some("etc/env_b"),
    ),
    ("env/c", 2, "", "0640", "#1300", "#1300", None),
    ("ini_a", 3, "", "0400", "", "", None),
    ("ini/b", 3, "", "0444", "bob", "bob", None),
    ("bin_a", 4, "", "0400", "", "", None),
    ("bin/b", 4, "", "0440", "", "svc", Some("opt/bin_b")),
];

/// What one installed file must look like.
struct Want {
    rel: String,
    content: Vec<u8>,
    mode: String,
    uid: u32,
    gid: u32,
    custom: Option<PathBuf>,
}

fn yaml_value(key: &str, yaml_pw: &str) -> Vec<u8> {
    let v: &str = match key {
        "db/host" => "db.example.org",
        "db/password" => yaml_pw,
        "db/replica/password" => "replica-pw",
        "api/key" => "api-key-yaml",
        "api/token" => "api-token-yaml",
        "smtp/user" => "mailer",
        "smtp/pass" => "smtp: pass # not a comment",
        "tls/key" => "-----BEGIN PRIVATE KEY-----\nMIIBVwIBADANBgkq\n-----END PRIVATE KEY-----\n",
        "plain" => "simple-yaml",
        "empty" => "",
        "quoted" => "yes",
        "num_str" => "0123",
        "spaces" => "  padded  ",
        "colon_key" => "a:b",
        _ => panic!("{key}"),
    };
    v.as_bytes().to_vec()
}

fn json_value(key: &str) -> Vec<u8> {
    let v = match key {
        "a/b/c" => "json-abc",
        "a/b/d" => "json-abd",
        "svc/one" => "s1",
        "svc/two" => "s2",
        "svc/three" => "s3",
        "flat" => "jflat",
        "unicode" => "h\u{e9}llo \u{2713} 'q'",
        "multi" => "line1\nline2\n",
        _ => panic!("{key}"),
    };
    v.as_bytes().to_vec()
}

#[test]
fn thirty_secrets_five_formats_three_templates_four_activations() {
    sealbox_testkit::require!(common::peers());
    let started = Instant::now();
    let f = Fixture::new();
    let ns = &f.ns;
    let t = ns.t.clone();
    let files = [
        f.enc("app.yaml", "yaml", YAML_1.as_bytes()),
        f.enc("app.json", "json", JSON_1.as_bytes()),
        f.enc("app.env", "dotenv", DOTENV.as_bytes()),
        f.enc("app.ini", "ini", INI.as_bytes()),
        f.enc("blob.bin", "binary", BLOB),
    ];
    let formats = ["yaml", "json", "dotenv", "ini", "binary"];
    // Whole-file outputs: what the real sops decrypts them to.
    let whole: Vec<Vec<u8>> = files
        .iter()
        .zip(formats)
        .map(|(p, fmt)| sops_decrypt_as(p, &f.key_file, Some(fmt)))
        .collect();
    assert_eq!(whole[4], BLOB);
    assert_eq!(whole[2], DOTENV.as_bytes());

    let mut secrets = Vec::new();
    let mut wants: Vec<Want> = Vec::new();
    let want_of = |row: &Row, yaml_pw: &str| -> Vec<u8> {
        match row.1 {
            0 => yaml_value(row.2, yaml_pw),
            1 if row.2.is_empty() => whole[1].clone(),
            1 => json_value(row.2),
            i => whole[i].clone(),
        }
    };
    for (i, row) in ROWS.iter().enumerate() {
        let n = i + 1;
        let (name, fi, key, mode, owner, group, custom) = *row;
        let mut x = e(name, &files[fi], formats[fi], key);
        x.mode = mode;
        let (uid, gid) = own(&mut x, owner, group);
        x.path = custom.map(|c| t.join(c).display().to_string());
        x.restart = vec![st(format!("r-{n}.service"))];
        if n % 3 == 0 {
            x.reload = vec![st(format!("l-{n}.service"))];
        }
        secrets.push(x);
        wants.push(Want {
            rel: name.to_string(),
            content: want_of(row, "yaml-db-pw-1"),
            mode: mode_a(mode),
            uid,
            gid,
            custom: custom.map(|c| t.join(c)),
        });
    }
    // templates: inline content, and a template file
    let ph = placeholder;
    let mut t1 = e("app.conf", Path::new(""), "", "");
    t1.content = Some(format!(
        "[db]\npassword = {}\n[api]\nkey = {}\n",
        ph("db_password"),
        ph("api_key")
    ));
    t1.mode = "0440";
    let (u1, g1) = own(&mut t1, "alice", "svc");
    t1.path = Some(t.join("etc/app.conf").display().to_string());
    t1.restart = vec!["app-tmpl.service"];
    let mut t2 = e("nested/dir/mail.ini", Path::new(""), "", "");
    t2.content = Some(format!(
        "user={}\npass={}\n",
        ph("smtp_user"),
        ph("smtp_pass")
    ));
    t2.mode = "0400";
    let (u2, g2) = own(&mut t2, "#1300", "#2345");
    t2.path = Some(t.join("etc/mail/mail.ini").display().to_string());
    t2.reload = vec!["mail-tmpl.service"];
    let tf = ns.h().join("env.sh.tmpl");
    std::fs::write(&tf, format!("ABC={}\n{}", ph("a_b_c"), ph("env_a"))).unwrap();
    let mut t3 = e("env.sh", &tf, "", "");
    t3.mode = "0600";
    let (u3, g3) = own(&mut t3, "bob", "#65534");
    t3.path = Some(t.join("srv/env.sh").display().to_string());
    t3.restart = vec!["env-tmpl.service"];
    let t1_text = |pw: &str| format!("[db]\npassword = {pw}\n[api]\nkey = api-key-yaml\n");
    let mut env_sh = b"ABC=json-abc\n".to_vec();
    env_sh.extend_from_slice(&whole[2]);
    for (rel, content, mode, uid, gid, custom) in [
        (
            "app.conf",
            t1_text("yaml-db-pw-1").into_bytes(),
            "0440",
            u1,
            g1,
            "etc/app.conf",
        ),
        (
            "nested/dir/mail.ini",
            b"user=mailer\npass=smtp: pass # not a comment\n".to_vec(),
            "0400",
            u2,
            g2,
            "etc/mail/mail.ini",
        ),
        ("env.sh", env_sh, "0600", u3, g3, "srv/env.sh"),
    ] {
        wants.push(Want {
            rel: format!("rendered/{rel}"),
            content,
            mode: mode_a(mode),
            uid,
            gid,
            custom: Some(t.join(custom)),
        });
    }
    let templates = vec![t1, t2, t3];
    assert_eq!(secrets.len(), 30);

    let m = f.manifest(secrets.clone(), templates.clone(), 2);
    let mf = m.write(ns.h(), "m.json");
    let mp = m.mount();
    let link = m.link();

    let verify = |gen: u64, wants: &[Want], gens: &[&str]| {
        assert_eq!(
            ns.readlink(&link),
            mp.join(gen.to_string()).display().to_string(),
            "symlink after activation {gen}"
        );
        let mut ls: Vec<String> = gens.iter().map(|s| s.to_string()).collect();
        ls.push("age-keys.txt".into());
        assert_eq!(ns.ls(&mp), ls, "generations kept after activation {gen}");
        let d = mp.join(gen.to_string());
        let mut paths: Vec<PathBuf> = wants.iter().map(|w| join_rel(&d, &w.rel)).collect();
        let customs: Vec<(&Want, &PathBuf)> = wants
            .iter()
            .filter_map(|w| w.custom.as_ref().map(|c| (w, c)))
            .collect();
        paths.extend(customs.iter().map(|(_, c)| (*c).clone()));
        let stats = stat_many(ns, &paths);
        for (w, s) in wants.iter().zip(&stats) {
            let kind = if w.content.is_empty() {
                "regular empty file"
            } else {
                "regular file"
            };
            assert_eq!(
                s,
                &format!("{kind}|{}|{}|{}", w.mode, w.uid, w.gid),
                "stat of {} in generation {gen}",
                w.rel
            );
            assert_eq!(
                ns.cat(&join_rel(&link, &w.rel)),
                w.content,
                "content of {} through the symlink, generation {gen}",
                w.rel
            );
        }
        for ((w, c), s) in customs.iter().zip(&stats[wants.len()..]) {
            assert_eq!(
                s,
                &format!("symbolic link|777|{}|{}", w.uid, w.gid),
                "custom path of {}",
                w.rel
            );
            assert_eq!(
                ns.readlink(c),
                join_rel(&link, &w.rel).display().to_string()
            );
            assert_eq!(ns.cat(c), w.content, "content through {}", c.display());
        }
        // directories of names with '/' and rendered/
        for dir in [
            "db",
            "db/replica",
            "tls",
            "a",
            "a/b",
            "env",
            "ini",
            "bin",
            "rendered",
            "rendered/nested",
            "rendered/nested/dir",
        ] {
            assert_eq!(ns.stat(&d.join(dir)), "directory|751|0|96", "{dir}");
        }
    };

    // --- activation 1
    let t0 = Instant::now();
    let o = ns.install(&[&mf], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    eprintln!(
        "activation 1 (30 secrets, 3 templates) took {:?}",
        t0.elapsed()
    );
    verify(1, &wants, &["1"]);
    assert_eq!(stdout(&o), "");
    assert_eq!(take_lists(ns), (String::new(), String::new()));

    // --- activation 2: nothing changed
    let o = ns.install(&[&mf], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    verify(2, &wants, &["1", "2"]);
    assert_eq!(stdout(&o), "", "no change is logged");
    assert_eq!(
        take_lists(ns),
        (String::new(), String::new()),
        "no change: no unit"
    );

    // --- activation 3: one value changes (yaml db/password)
    sops_encrypt(
        YAML_1.replace("yaml-db-pw-1", "yaml-db-pw-2").as_bytes(),
        "yaml",
        &f.recipient,
        &files[0],
    );
    let o = ns.install(&[&mf], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    for w in wants.iter_mut() {
        if w.rel == "db_password" {
            w.content = b"yaml-db-pw-2".to_vec();
        }
        if w.rel == "rendered/app.conf" {
            w.content = t1_text("yaml-db-pw-2").into_bytes();
        }
    }
    verify(3, &wants, &["2", "3"]);
    assert_eq!(
        stdout(&o),
        "modifying secret: db_password\nmodifying rendered secret: app.conf\n"
    );
    assert_eq!(
        take_lists(ns),
        ("r-2.service\napp-tmpl.service\n".into(), String::new()),
        "only db_password's units and the template using it"
    );

    // --- activation 4: an owner changes (a_b_c: alice → bob), nothing else
    let mut secrets4 = secrets.clone();
    for s in &mut secrets4 {
        if s.name == "a_b_c" {
            s.owner = Some("bob");
        }
    }
    let m4 = f.manifest(secrets4, templates, 2);
    let mf4 = m4.write(ns.h(), "m4.json");
    let o = ns.install(&[&mf4], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    for w in wants.iter_mut() {
        if w.rel == "a_b_c" {
            w.uid = 1300;
        }
    }
    verify(4, &wants, &["3", "4"]);
    assert_eq!(stdout(&o), "modifying secret: a_b_c\n");
    assert_eq!(
        take_lists(ns),
        ("r-15.service\n".into(), "l-15.service\n".into()),
        "only a_b_c's units"
    );
    eprintln!("test 1 took {:?}", started.elapsed());
}

fn join_rel(base: &Path, rel: &str) -> PathBuf {
    let mut p = base.to_path_buf();
    for c in rel.split('/') {
        p.push(c);
    }
    p
}

// ------------------------------------------------------------------------------------------
// helpers run inside the namespace

const HELPER_ENV: &str = "SEALBOX_ACC_HELPER";

/// Starts this test binary inside the namespace as helper `which`, with its files in `dir`.
fn spawn_helper(ns: &Ns, prefix: &[&str], which: &str, dir: &Path) -> Child {
    let exe = std::env::current_exe().unwrap();
    let mut c = ns.nsenter();
    c.args(prefix)
        .arg(exe)
        .args([
            "--exact",
            "helper_in_namespace",
            "--ignored",
            "--nocapture",
            "--test-threads",
            "1",
        ])
        .env(HELPER_ENV, which)
        .env("SEALBOX_ACC_DIR", dir)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    c.spawn().expect("helper")
}

fn wait_for(p: &Path, what: &str) {
    let t0 = Instant::now();
    while !p.exists() {
        assert!(t0.elapsed() < Duration::from_secs(30), "{what} never came");
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// Reads the helper's `result` file: counters (`key=value`) and `bad ` lines.
fn result(dir: &Path) -> (HashMap<String, u64>, Vec<String>) {
    let text = std::fs::read_to_string(dir.join("result")).unwrap();
    let mut counts = HashMap::new();
    let mut bad = Vec::new();
    for l in text.lines() {
        if let Some(b) = l.strip_prefix("bad ") {
            bad.push(b.to_string());
        } else if let Some((k, v)) = l.split_once('=') {
            counts.insert(k.to_string(), v.parse().unwrap());
        }
    }
    (counts, bad)
}

#[test]
#[ignore = "a helper the other tests run inside their mount namespace"]
fn helper_in_namespace() {
    sealbox_testkit::require!(common::peers());
    let Ok(which) = std::env::var(HELPER_ENV) else {
        return;
    };
    let dir = PathBuf::from(std::env::var("SEALBOX_ACC_DIR").unwrap());
    match which.as_str() {
        "reader" => reader(&dir),
        "inotify" => inotify_watcher(&dir),
        w => panic!("unknown helper {w}"),
    }
}

/// Reads every secret through the symlink in a loop until `dir/stop` exists: each read
/// must return the complete old or new value; each snapshot (all files through one open
/// of the symlinked directory) must be entirely old or entirely new.
/// Spec: `dir/spec` = first line the symlink, then `name<TAB>hexA<TAB>hexB` lines.
fn reader(dir: &Path) {
    use std::os::fd::AsRawFd;
    let spec = std::fs::read_to_string(dir.join("spec")).unwrap();
    let mut lines = spec.lines();
    let link = PathBuf::from(lines.next().unwrap());
    let files: Vec<(String, Vec<u8>, Vec<u8>)> = lines
        .map(|l| {
            let v: Vec<&str> = l.split('\t').collect();
            (v[0].to_string(), unhex(v[1]), unhex(v[2]))
        })
        .collect();
    let mut reads = 0u64;
    let mut snapshots = 0u64;
    let mut seen = [0u64; 2];
    let mut pruned = 0u64;
    let mut bad: Vec<String> = Vec::new();
    let describe = |name: &str, got: &std::io::Result<Vec<u8>>| match got {
        Ok(b) => format!("{name}: {:?}", String::from_utf8_lossy(b)),
        Err(e) => format!("{name}: {e}"),
    };
    std::fs::write(dir.join("ready"), "").unwrap();
    let stop = dir.join("stop");
    while !stop.exists() {
        // per-file reads through the symlink path
        for (name, a, b) in &files {
            let before = std::fs::read_link(&link).ok();
            let got = std::fs::read(join_rel(&link, name));
            reads += 1;
            match &got {
                Ok(v) if v == a => seen[0] += 1,
                Ok(v) if v == b => seen[1] += 1,
                // Two switches during this one read (a descheduled reader on a loaded
                // machine) let pruning remove the generation the path walk had reached:
                // gone whole, which is pruning, not a partial generation.
                Err(e)
                    if e.kind() == std::io::ErrorKind::NotFound
                        && std::fs::read_link(&link).ok() != before =>
                {
                    pruned += 1
                }
                _ => {
                    if bad.len() < 50 {
                        bad.push(describe(name, &got));
                    }
                }
            }
        }
        // one snapshot through a single resolution of the symlink
        let d = match std::fs::File::open(&link) {
            Ok(d) => d,
            Err(e) => {
                if bad.len() < 50 {
                    bad.push(format!("snapshot: open {}: {e}", link.display()));
                }
                continue;
            }
        };
        let base = PathBuf::from(format!("/proc/self/fd/{}", d.as_raw_fd()));
        let gen = std::fs::read_link(&base)
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        let mut sets = Vec::new();
        for (name, a, b) in &files {
            let got = std::fs::read(join_rel(&base, name));
            match &got {
                Ok(v) if v == a => sets.push('A'),
                Ok(v) if v == b => sets.push('B'),
                // The generation this snapshot holds open is no longer the current one and
                // is being pruned (files go first, then the directory): not a partial
                // generation. A file missing from the current generation stays an error.
                Err(e)
                    if e.kind() == std::io::ErrorKind::NotFound
                        && std::fs::canonicalize(&link)
                            .map(|p| p.display().to_string() != gen)
                            .unwrap_or(true) =>
                {
                    pruned += 1;
                    sets.push('P');
                }
                _ => {
                    sets.push('?');
                    if bad.len() < 50 {
                        bad.push(format!("snapshot of {gen}: {}", describe(name, &got)));
                    }
                }
            }
        }
        snapshots += 1;
        // ('?' is already recorded above)
        if sets.contains(&'P') {
            continue;
        }
        if !sets.contains(&'?') && sets.iter().any(|c| *c != sets[0]) && bad.len() < 50 {
            bad.push(format!(
                "snapshot of {gen} mixes value sets: {}",
                sets.iter().collect::<String>()
            ));
        }
    }
    let mut out = format!(
        "reads={reads}\nsnapshots={snapshots}\nseen_a={}\nseen_b={}\npruned={pruned}\n",
        seen[0], seen[1]
    );
    for b in bad {
        out.push_str(&format!("bad {}\n", b.replace('\n', "\\n")));
    }
    std::fs::write(dir.join("result.tmp"), out).unwrap();
    std::fs::rename(dir.join("result.tmp"), dir.join("result")).unwrap();
}

/// Watches the mount point; for every new generation directory (and its sub-directories)
/// checks every created/modified/chmod'ed file at once with lstat: never group/other bits
/// beyond its final mode, and once it has content exactly its final mode, owner and group.
/// Spec: `dir/spec` = first line the mount point, then `rel<TAB>mode<TAB>uid<TAB>gid`.
/// Stops when a file `.stop` is created in the mount point.
fn inotify_watcher(dir: &Path) {
    use nix::sys::inotify::{AddWatchFlags as F, InitFlags, Inotify};
    use std::os::unix::fs::MetadataExt;
    let spec = std::fs::read_to_string(dir.join("spec")).unwrap();
    let mut lines = spec.lines();
    let mp = PathBuf::from(lines.next().unwrap());
    let finals: HashMap<String, (u32, u32, u32)> = lines
        .map(|l| {
            let v: Vec<&str> = l.split('\t').collect();
            (
                v[0].to_string(),
                (
                    u32::from_str_radix(v[1], 8).unwrap(),
                    v[2].parse().unwrap(),
                    v[3].parse().unwrap(),
                ),
            )
        })
        .collect();
    let ino = Inotify::init(InitFlags::IN_CLOEXEC).unwrap();
    let mp_wd = ino
        .add_watch(&mp, F::IN_CREATE | F::IN_MOVED_TO | F::IN_ONLYDIR)
        .unwrap();
    let file_flags = F::IN_CREATE
        | F::IN_MODIFY
        | F::IN_ATTRIB
        | F::IN_CLOSE_WRITE
        | F::IN_MOVED_TO
        | F::IN_ONLYDIR
        | F::IN_DONT_FOLLOW;
    // watch → (directory, path relative to its generation, generation)
    let mut watches = HashMap::new();
    let mut creates = 0u64;
    let mut creates_by_gen: HashMap<String, u64> = HashMap::new();
    let mut checks = 0u64;
    let mut generations = 0u64;
    let mut bad: Vec<String> = Vec::new();
    let mut check = |path: &Path, rel: &str, gen: &str, bad: &mut Vec<String>| {
        let Ok(md) = std::fs::symlink_metadata(path) else {
            return;
        };
        checks += 1;
        let mode = md.mode() & 0o7777;
        let (fm, fu, fg) = finals.get(rel).copied().unwrap_or((0o400, 0, 0));
        let known = finals.contains_key(rel);
        let wider = mode & 0o077 & !fm;
        if !known || wider != 0 || md.len() > 0 && (mode != fm || md.uid() != fu || md.gid() != fg)
        {
            bad.push(format!(
                "{gen}/{rel}: mode {mode:o} uid {} gid {} size {} (final {fm:o} {fu} {fg}{})",
                md.uid(),
                md.gid(),
                md.len(),
                if known { "" } else { ", unknown file" }
            ));
        }
    };
    // Adds a watch on a directory and checks what is already in it (the watch may come
    // after the first files were created).
    fn scan(
        ino: &Inotify,
        flags: nix::sys::inotify::AddWatchFlags,
        watches: &mut HashMap<nix::sys::inotify::WatchDescriptor, (PathBuf, String, String)>,
        d: &Path,
        rel: &str,
        gen: &str,
        found: &mut Vec<(PathBuf, String)>,
    ) {
        if let Ok(wd) = ino.add_watch(d, flags) {
            watches.insert(wd, (d.to_path_buf(), rel.to_string(), gen.to_string()));
        }
        let Ok(rd) = std::fs::read_dir(d) else { return };
        for ent in rd.flatten() {
            let name = ent.file_name().to_string_lossy().into_owned();
            let r = if rel.is_empty() {
                name
            } else {
                format!("{rel}/{name}")
            };
            if ent.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                scan(ino, flags, watches, &ent.path(), &r, gen, found);
            } else {
                found.push((ent.path(), r));
            }
        }
    }
    std::fs::write(dir.join("ready"), "").unwrap();
    'outer: loop {
        let events = ino.read_events().unwrap();
        for ev in events {
            let Some(name) = ev.name.as_ref().map(|n| n.to_string_lossy().into_owned()) else {
                continue;
            };
            let mut found = Vec::new();
            if ev.wd == mp_wd {
                if name == ".stop" {
                    break 'outer;
                }
                if ev.mask.contains(F::IN_ISDIR) && name.parse::<u64>().is_ok() {
                    generations += 1;
                    scan(
                        &ino,
                        file_flags,
                        &mut watches,
                        &mp.join(&name),
                        "",
                        &name,
                        &mut found,
                    );
                }
            } else if let Some((d, rel, gen)) = watches.get(&ev.wd).cloned() {
                let p = d.join(&name);
                let r = if rel.is_empty() {
                    name.clone()
                } else {
                    format!("{rel}/{name}")
                };
                if ev.mask.contains(F::IN_ISDIR) {
                    if ev.mask.contains(F::IN_CREATE) {
                        scan(&ino, file_flags, &mut watches, &p, &r, &gen, &mut found);
                    }
                } else {
                    if ev.mask.contains(F::IN_CREATE) {
                        creates += 1;
                        *creates_by_gen.entry(gen.clone()).or_insert(0u64) += 1;
                    }
                    check(&p, &r, &gen, &mut bad);
                }
            }
            for (p, r) in found {
                let gen = p
                    .strip_prefix(&mp)
                    .ok()
                    .and_then(|x| x.iter().next())
                    .map(|x| x.to_string_lossy().into_owned())
                    .unwrap_or_default();
                check(&p, &r, &gen, &mut bad);
            }
        }
    }
    let files = finals.len() as u64;
    // generations where every file was seen from its IN_CREATE on
    let complete = creates_by_gen.values().filter(|n| **n == files).count();
    let mut out = format!(
        "generations={generations}\ncreates={creates}\nchecks={checks}\nwatches={}\ncomplete_generations={complete}\n",
        watches.len()
    );
    for b in bad.iter().take(100) {
        out.push_str(&format!("bad {b}\n"));
    }
    std::fs::write(dir.join("result.tmp"), out).unwrap();
    std::fs::rename(dir.join("result.tmp"), dir.join("result")).unwrap();
}

// ------------------------------------------------------------------------------------------
// 2. the switch is atomic for concurrent readers

#[test]
fn atomic_switch_under_concurrent_readers() {
    sealbox_testkit::require!(common::peers());
    let started = Instant::now();
    let f = Fixture::new();
    let ns = &f.ns;
    let h = ns.h().to_path_buf();
    let json = |v: &str| {
        format!(
            r#"{{"db": {{"password": "db-pw-{v}", "user": "user-{v}"}}, "api": {{"key": "api-key-{v}-{v}{v}"}}, "token": "tok-{v}", "cert": "-----BEGIN-----\n{v}{v}{v}{v}\n-----END-----\n"}}"#
        )
    };
    let yaml = |v: &str| {
        format!("smtp:\n    user: mail-{v}\n    pass: pass-{v}-{v}\nldap:\n    bind: cn={v},dc=x\nplain: plain-{v}\n")
    };
    // Two encrypted variants of each file; the manifest's sopsFile gets one copied over it.
    let variants: Vec<[PathBuf; 2]> = ["A", "B-longer-value"]
        .iter()
        .map(|v| {
            [
                f.enc(&format!("json-{}", &v[..1]), "json", json(v).as_bytes()),
                f.enc(&format!("yaml-{}", &v[..1]), "yaml", yaml(v).as_bytes()),
            ]
        })
        .collect();
    let jf = h.join("app.json");
    let yf = h.join("app.yaml");
    let use_variant = |i: usize| {
        std::fs::copy(&variants[i][0], &jf).unwrap();
        std::fs::copy(&variants[i][1], &yf).unwrap();
    };
    use_variant(0);
    let rows: [(&str, bool, &str); 10] = [
        ("db_password", true, "db/password"),
        ("db_user", true, "db/user"),
        ("api/key", true, "api/key"),
        ("token", true, "token"),
        ("tls/cert", true, "cert"),
        ("json_whole", true, ""),
        ("smtp_user", false, "smtp/user"),
        ("smtp/pass", false, "smtp/pass"),
        ("ldap_bind", false, "ldap/bind"),
        ("plain", false, "plain"),
    ];
    let mut secrets: Vec<E> = rows
        .iter()
        .map(|(n, is_json, k)| {
            if *is_json {
                e(n, &jf, "json", k)
            } else {
                e(n, &yf, "yaml", k)
            }
        })
        .collect();
    secrets[1].mode = "0440";
    secrets[1].group = Some("svc");
    secrets[2].owner = Some("alice");
    let mut tm = e("app.conf", Path::new(""), "", "");
    tm.content = Some(format!(
        "pw={} mail={}\n",
        placeholder("db_password"),
        placeholder("smtp/pass")
    ));
    let m = f.manifest(secrets, vec![tm], 2);
    let mf = m.write(&h, "m.json");
    let o = ns.install(&[&mf], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    // The expected values of both variants, as installed (read after activation 1 and 2).
    let mut names: Vec<String> = rows.iter().map(|r| r.0.to_string()).collect();
    names.push("rendered/app.conf".into());
    let snap = |ns: &Ns| -> Vec<Vec<u8>> {
        names
            .iter()
            .map(|n| ns.cat(&join_rel(&m.link(), n)))
            .collect()
    };
    let a = snap(ns);
    use_variant(1);
    let o = ns.install(&[&mf], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let b = snap(ns);
    assert_eq!(a[0], b"db-pw-A");
    assert_eq!(b[0], b"db-pw-B-longer-value");
    assert_eq!(a[10], b"pw=db-pw-A mail=pass-A-A\n", "the template renders");
    for (i, n) in names.iter().enumerate() {
        assert_ne!(a[i], b[i], "{n} differs between the variants");
    }

    let wd = h.join("reader");
    std::fs::create_dir(&wd).unwrap();
    let mut spec = format!("{}\n", m.link().display());
    for (i, n) in names.iter().enumerate() {
        spec.push_str(&format!("{n}\t{}\t{}\n", hex(&a[i]), hex(&b[i])));
    }
    std::fs::write(wd.join("spec"), spec).unwrap();
    let mut child = spawn_helper(ns, &[], "reader", &wd);
    wait_for(&wd.join("ready"), "reader");
    let runs = 30;
    let t0 = Instant::now();
    for r in 0..runs {
        use_variant(r % 2);
        let o = ns.install(&[&mf], &[]);
        assert!(o.status.success(), "run {r}: {}", stderr(&o));
    }
    let loop_time = t0.elapsed();
    assert_eq!(
        ns.readlink(&m.link()),
        m.mount().join((runs + 2).to_string()).display().to_string()
    );
    // Negative control: a non-atomic in-place write must be caught by the reader. (`1<>`
    // overwrites without truncating, so no read sees an empty file in between.)
    std::thread::sleep(Duration::from_millis(50));
    ns.ok(&format!(
        "printf BOGUS 1<> '{}'",
        m.link().join("token").display()
    ));
    std::thread::sleep(Duration::from_millis(100));
    std::fs::write(wd.join("stop"), "").unwrap();
    assert!(child.wait().unwrap().success(), "reader failed");
    let (counts, bad) = result(&wd);
    eprintln!(
        "reader: {counts:?} during {runs} activations in {loop_time:?}; test took {:?}",
        started.elapsed()
    );
    let genuine: Vec<&String> = bad.iter().filter(|b| !b.contains("BOGUS")).collect();
    assert!(
        genuine.is_empty(),
        "reads that saw a partial or mixed state: {genuine:#?}"
    );
    assert!(
        bad.iter()
            .any(|b| b.contains("token: \"BOGUS-longer-value\"")),
        "the reader must notice the in-place write (negative control): {bad:?}"
    );
    assert!(counts["reads"] >= 1000, "too few reads: {counts:?}");
    assert!(counts["snapshots"] >= 100, "too few snapshots: {counts:?}");
    assert!(
        counts["seen_a"] >= 100 && counts["seen_b"] >= 100,
        "the reader saw both value sets: {counts:?}"
    );
}

// ------------------------------------------------------------------------------------------
// 3. no secret is ever more readable than its final mode, even under umask 000

#[test]
fn no_moment_with_a_secret_more_open_than_its_final_mode() {
    sealbox_testkit::require!(common::peers());
    let started = Instant::now();
    let f = Fixture::new();
    let ns = &f.ns;
    let h = ns.h().to_path_buf();
    let json = f.enc(
        "app.json",
        "json",
        br#"{"a": {"b": "value-ab"}, "c": "value-c", "d": "value-d"}"#,
    );
    let yaml = f.enc("app.yaml", "yaml", b"x:\n    y: value-xy\nz: value-z\n");
    let env = f.enc("app.env", "dotenv", b"K=v\nL=w\n");
    let bin = f.enc("blob.bin", "binary", b"\x00blob\xff");
    let specs: [(&str, &Path, &str, &str, &str, &str, &str); 14] = [
        ("s1", &json, "json", "a/b", "0400", "", ""),
        ("s2", &json, "json", "c", "0440", "alice", "svc"),
        ("dir/s3", &json, "json", "d", "0440", "bob", "#65534"),
        ("dir/sub/s4", &yaml, "yaml", "x/y", "0400", "alice", ""),
        ("s5", &yaml, "yaml", "z", "0440", "#4242", "#4343"),
        ("s6", &env, "dotenv", "", "0400", "nobody", "nogroup"),
        ("s7", &env, "dotenv", "", "0440", "", "svc"),
        ("s8", &bin, "binary", "", "0400", "bob", "bob"),
        ("deep/a/b/c/s9", &bin, "binary", "", "0440", "alice", "svc"),
        ("s10", &json, "json", "", "0400", "", ""),
        ("s11", &yaml, "yaml", "", "0440", "#0", "svc"),
        ("s12", &json, "json", "c", "0400", "#1234", ""),
        ("s13", &yaml, "yaml", "z", "0440", "bob", "svc"),
        ("s14", &json, "json", "a/b", "0400", "nobody", ""),
    ];
    let mut finals = Vec::new();
    let mut secrets = Vec::new();
    for (name, file, fmt, key, mode, owner, group) in specs {
        let mut x = e(name, file, fmt, key);
        x.mode = mode;
        let (u, g) = own(&mut x, owner, group);
        finals.push((name.to_string(), mode, u, g));
        secrets.push(x);
    }
    let mut t1 = e("t1.conf", Path::new(""), "", "");
    t1.content = Some(format!(
        "s1={} s2={}\n",
        placeholder("s1"),
        placeholder("s2")
    ));
    t1.mode = "0440";
    let (u, g) = own(&mut t1, "alice", "svc");
    finals.push(("rendered/t1.conf".into(), "0440", u, g));
    let mut t2 = e("sub/t2.conf", Path::new(""), "", "");
    t2.content = Some(format!("s8={}\n", placeholder("s8")));
    t2.mode = "0400";
    let (u, g) = own(&mut t2, "bob", "");
    finals.push(("rendered/sub/t2.conf".into(), "0400", u, g));
    let m = f.manifest(secrets, vec![t1, t2], 2);
    let mf = m.write(&h, "m.json");
    let mp = m.mount();
    // activation 1 creates the mount point; the watcher then sees every later generation
    let o = ns.install_umask("000", &[&mf], &[]);
    assert!(o.status.success(), "{}", stderr(&o));

    let wd = h.join("inotify");
    std::fs::create_dir(&wd).unwrap();
    let mut spec = format!("{}\n", mp.display());
    for (rel, mode, u, g) in &finals {
        spec.push_str(&format!("{rel}\t{}\t{u}\t{g}\n", &mode[1..]));
    }
    std::fs::write(wd.join("spec"), spec).unwrap();
    // Even runs share one CPU with the watcher at the lowest priority, so that the watcher
    // preempts the activation on each event and lstat()s the file in the state it was
    // just created in; odd runs race it freely on another CPU.
    let mut child = spawn_helper(
        ns,
        &["taskset", "-c", "0", "chrt", "-f", "10"],
        "inotify",
        &wd,
    );
    wait_for(&wd.join("ready"), "inotify watcher");
    let runs = 16;
    for r in 0..runs {
        let prefix: &[&str] = if r % 2 == 0 {
            &["taskset", "-c", "0", "nice", "-n", "19"]
        } else {
            &["taskset", "-c", "1"]
        };
        let o = ns.install_with(prefix, "000", &[&mf], &[]);
        assert!(o.status.success(), "run {r}: {}", stderr(&o));
    }
    // the final state, for the record
    let gen = mp.join((runs + 1).to_string());
    for (rel, mode, u, g) in &finals {
        assert_eq!(
            ns.stat(&join_rel(&gen, rel)),
            format!("regular file|{}|{u}|{g}", mode_a(mode))
        );
    }
    // Negative control: a generation-like directory written the careless way (file
    // created 0644 under umask 022, content written, then chmod 0400) must be caught.
    ns.ok(&format!(
        "umask 022; mkdir '{mp}/999' && sleep 0.2 && echo secret > '{mp}/999/s1' && sleep 0.2 && chmod 0400 '{mp}/999/s1'",
        mp = mp.display()
    ));
    std::thread::sleep(Duration::from_millis(100));
    ns.ok(&format!(
        "rm -r '{mp}/999' && touch '{mp}/.stop'",
        mp = mp.display()
    ));
    assert!(child.wait().unwrap().success(), "watcher failed");
    ns.ok(&format!("rm '{}/.stop'", mp.display()));
    let (counts, bad) = result(&wd);
    eprintln!(
        "inotify watcher: {counts:?}; test took {:?}",
        started.elapsed()
    );
    let files = finals.len() as u64;
    let genuine: Vec<&String> = bad.iter().filter(|b| !b.starts_with("999/")).collect();
    assert!(
        genuine.is_empty(),
        "secret files more open than their final mode: {genuine:#?}"
    );
    assert!(
        bad.iter().any(|b| b.starts_with("999/s1: mode 644")),
        "the watcher must catch a careless write (negative control): {bad:?}"
    );
    // every activation's generation, and the negative control's directory
    assert_eq!(counts["generations"], runs as u64 + 1, "{counts:?}");
    // most files are seen from their creation on (the watch on a new generation directory
    // is added right after its IN_CREATE, so its first files may be created before it)
    assert!(
        counts["creates"] >= files * runs as u64 / 2,
        "too few IN_CREATE events seen: {counts:?}"
    );
    // the runs sharing the watcher's CPU are seen completely
    assert!(
        counts["complete_generations"] >= runs as u64 / 2,
        "too few generations seen from the first file on: {counts:?}"
    );
    assert!(counts["checks"] >= files * runs as u64, "{counts:?}");
}
