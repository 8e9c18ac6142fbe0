//! The `hc_vault` key source through the `sealbox` binary, against a real OpenBao dev
//! server and the real sops 3.11: whole files in every format both ways, Shamir with age +
//! transit, the token sources and AppRole, a server that is down, sealed or black-holed,
//! key rotation with `check --min-transit-version` and `updatekeys`, and recipients
//! added and removed.
//!
//! Each test starts its own server on a free loopback port with its own root token and
//! stops it by PID (the harness's handle does that on drop). Without `bao` or `sops` the
//! tests say SKIPPED by hand and fail under `CI=true`.

use sealbox_testkit::openbao::{dead_address, DevServer};
use sealbox_tests::{Out, Peers, Sandbox};
use std::path::Path;
use std::time::{Duration, Instant};

/// A dev server with transit at `transit/` and key `app`.
fn server() -> Option<DevServer> {
    let bao = match sealbox_testkit::bao() {
        Ok(b) => b,
        Err(why) => {
            sealbox_testkit::skip(&why);
            return None;
        }
    };
    let srv = DevServer::start(&bao).unwrap();
    srv.enable_transit().unwrap();
    srv.create_key("app").unwrap();
    Some(srv)
}

fn uri(srv: &DevServer, key: &str) -> String {
    format!("{}/v1/transit/keys/{key}", srv.addr)
}

fn run(sb: &Sandbox, prog: &Path, args: &[&str], env: &[(&str, &str)]) -> Out {
    sb.run(prog, args, env, None)
}

fn write_out(sb: &Sandbox, name: &str, o: Out) {
    sb.write(name, &o.stdout);
}

/// The enc of every hc_vault entry of a YAML file (`enc: vault:vN:…` lines).
fn vault_encs(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| l.trim().strip_prefix("enc: vault:"))
        .map(|e| format!("vault:{e}"))
        .collect()
}

fn yaml_field(text: &str, key: &str) -> String {
    text.lines()
        .find_map(|l| l.trim().strip_prefix(&format!("{key}: ")))
        .unwrap_or_default()
        .to_string()
}

/// Plaintexts of every store, named so both tools pick the store from the name.
const FILES: [(&str, &str); 5] = [
    (
        "s.yaml",
        "# top comment\ndb:\n    user: admin\n    password: hunter2 # inline\nports:\n    - 5432\n    - 5433\nratio: 0.5\nenabled: true\n",
    ),
    (
        "s.json",
        "{\n\t\"db\": {\n\t\t\"user\": \"admin\",\n\t\t\"password\": \"hunter2\"\n\t},\n\t\"n\": 42,\n\t\"list\": [\n\t\t1,\n\t\t\"two\"\n\t]\n}",
    ),
    ("s.env", "# comment\nDB_USER=admin\nDB_PASSWORD=hunter2=with=equals\nEMPTY=\n"),
    ("s.ini", "[db]\nuser = admin\npassword = hunter2\n\n[other]\nkey = value\n"),
    ("s.txt", "arbitrary bytes\n\twith tabs\n\u{1F512}\n"),
];

#[test]
fn every_format_crosses_between_sops_and_sealbox_through_transit() {
    let peers = sealbox_tests::require!(Peers::get());
    let Some(srv) = server() else { return };
    srv.enable_transit_at("team/prod/transit").unwrap();
    srv.create_key_at("team/prod/transit", "db").unwrap();
    let flat = uri(&srv, "app");
    let deep = format!("{}/v1/team/prod/transit/keys/db", srv.addr);
    let sb = Sandbox::new();
    let tok = [("VAULT_TOKEN", srv.root_token.as_str())];
    // YAML and JSON get the key from the flag, resp. SOPS_VAULT_URIS; the others from a
    // creation rule's hc_vault_transit_uri (an engine mounted three segments deep).
    sb.write(
        "ruled/.sops.yaml",
        format!("creation_rules:\n  - path_regex: \\.(env|ini|txt)$\n    hc_vault_transit_uri: {deep}\n"),
    );
    for (name, plain) in FILES {
        let ruled = !name.ends_with(".yaml") && !name.ends_with(".json");
        let dir = if ruled { "ruled/" } else { "" };
        let p = format!("{dir}{name}");
        sb.write(&p, plain);
        let uris_env = [
            ("VAULT_TOKEN", srv.root_token.as_str()),
            ("SOPS_VAULT_URIS", flat.as_str()),
        ];
        let (args, env): (Vec<&str>, &[(&str, &str)]) = match name {
            "s.yaml" => (vec!["encrypt", "--hc-vault-transit", &flat, &p], &tok),
            "s.json" => (vec!["encrypt", &p], &uris_env),
            _ => (vec!["--config", "ruled/.sops.yaml", "encrypt", &p], &tok),
        };
        let ours = format!("{dir}ours.{name}");
        let theirs = format!("{dir}theirs.{name}");
        write_out(
            &sb,
            &ours,
            run(&sb, &peers.sealbox, &args, env).ok("sealbox encrypt"),
        );
        write_out(
            &sb,
            &theirs,
            run(&sb, &peers.sops, &args, env).ok("sops encrypt"),
        );
        for f in [&ours, &theirs] {
            let text = std::fs::read_to_string(sb.work().join(f)).unwrap();
            let want = if ruled { &deep } else { &flat };
            let addr = &srv.addr;
            assert!(
                text.contains(addr) && text.contains("vault:v1:") && !text.contains("hunter2"),
                "{f} ({want}):\n{text}"
            );
        }
        // The reference: sops' own round trip of the input.
        let reference = run(&sb, &peers.sops, &["decrypt", &theirs], &tok)
            .ok("sops decrypt (its own file)")
            .stdout;
        let by_sops = run(&sb, &peers.sops, &["decrypt", &ours], &tok)
            .ok("sops decrypt (sealbox's file)")
            .stdout;
        let by_us = run(&sb, &peers.sealbox, &["decrypt", &theirs], &tok)
            .ok("sealbox decrypt (sops' file)")
            .stdout;
        let ours_back = run(&sb, &peers.sealbox, &["decrypt", &ours], &tok)
            .ok("sealbox decrypt (its own file)")
            .stdout;
        assert_eq!(
            String::from_utf8_lossy(&by_sops),
            String::from_utf8_lossy(&reference),
            "{name}: sops on sealbox's file"
        );
        assert_eq!(
            String::from_utf8_lossy(&by_us),
            String::from_utf8_lossy(&reference),
            "{name}: sealbox on sops' file"
        );
        assert_eq!(by_us, ours_back, "{name}: sealbox on its own file");
        if name == "s.txt" {
            assert_eq!(by_us, plain.as_bytes());
        }
    }
}

#[test]
fn a_two_of_two_group_of_age_and_transit_needs_both_with_either_tool() {
    let peers = sealbox_tests::require!(Peers::get());
    let Some(srv) = server() else { return };
    let sb = Sandbox::new();
    let (recipient, keyfile) = sealbox_tests::age_keygen(&peers, sb.path(), "host");
    let keyfile = keyfile.to_string_lossy().into_owned();
    sb.write(
        ".sops.yaml",
        format!(
            "creation_rules:\n  - key_groups:\n      - age:\n          - {recipient}\n      - hc_vault:\n          - {}\n    shamir_threshold: 2\n",
            uri(&srv, "app")
        ),
    );
    let plain = "password: hunter2\n";
    sb.write("plain.yaml", plain);
    let both = [
        ("VAULT_TOKEN", srv.root_token.as_str()),
        ("SOPS_AGE_KEY_FILE", keyfile.as_str()),
    ];
    for (prog, out) in [(&peers.sealbox, "ours.yaml"), (&peers.sops, "theirs.yaml")] {
        let o = run(&sb, prog, &["encrypt", "plain.yaml"], &both).ok("encrypt");
        let text = o.stdout_str();
        assert!(
            text.contains("shamir_threshold: 2") && text.contains("hc_vault:"),
            "{text}"
        );
        write_out(&sb, out, o);
    }
    let age_only = [("SOPS_AGE_KEY_FILE", keyfile.as_str())];
    let vault_only = [("VAULT_TOKEN", srv.root_token.as_str())];
    for file in ["ours.yaml", "theirs.yaml"] {
        for prog in [&peers.sealbox, &peers.sops] {
            let o = run(&sb, prog, &["decrypt", file], &both).ok("decrypt with both");
            assert_eq!(o.stdout_str(), plain);
            // A stolen disk (the host key alone) or the Vault token alone opens nothing.
            for env in [&age_only[..], &vault_only[..]] {
                let o = run(&sb, prog, &["decrypt", file], env);
                assert_eq!(
                    o.code,
                    128,
                    "{} {file} with {env:?}: {}",
                    prog.display(),
                    o.stderr
                );
            }
        }
    }
    // sealbox says which group failed and why.
    let o = run(&sb, &peers.sealbox, &["decrypt", "theirs.yaml"], &age_only);
    assert!(
        o.stderr.contains("1 of 2 key groups decrypted, 2 needed")
            && o.stderr
                .contains(&format!("group 1: FAILED ({})", uri(&srv, "app")))
            && o.stderr.contains("no Vault token"),
        "{}",
        o.stderr
    );
}

#[test]
fn tokens_come_from_vault_token_the_home_file_or_an_approle_login() {
    let peers = sealbox_tests::require!(Peers::get());
    let Some(srv) = server() else { return };
    let sb = Sandbox::new();
    sb.write("plain.yaml", "a: secret\n");
    let u = uri(&srv, "app");
    let o = run(
        &sb,
        &peers.sops,
        &["encrypt", "--hc-vault-transit", &u, "plain.yaml"],
        &[("VAULT_TOKEN", &srv.root_token)],
    )
    .ok("sops encrypt");
    write_out(&sb, "theirs.yaml", o);
    // ~/.vault-token, as `bao login` leaves it.
    std::fs::write(
        sb.path().join("home/.vault-token"),
        format!("{}\n", srv.root_token),
    )
    .unwrap();
    let o = run(&sb, &peers.sealbox, &["decrypt", "theirs.yaml"], &[]).ok("home token");
    assert_eq!(o.stdout_str(), "a: secret\n");
    std::fs::remove_file(sb.path().join("home/.vault-token")).unwrap();
    // AppRole with a secret-id file (a host's set-up).
    let role = srv.approle("approle", "web1", "app").unwrap();
    let sid = sb.write("secret-id", format!("{}\n", role.secret_id));
    let sid = sid.to_string_lossy().into_owned();
    let approle = [
        ("VAULT_ROLE_ID", role.role_id.as_str()),
        ("VAULT_SECRET_ID_FILE", sid.as_str()),
    ];
    let o = run(&sb, &peers.sealbox, &["decrypt", "theirs.yaml"], &approle).ok("approle");
    assert_eq!(o.stdout_str(), "a: secret\n");
    // The role may encrypt too, and sops reads the result.
    let o = run(
        &sb,
        &peers.sealbox,
        &["encrypt", "--hc-vault-transit", &u, "plain.yaml"],
        &approle,
    )
    .ok("encrypt with approle");
    write_out(&sb, "ours.yaml", o);
    let o = run(
        &sb,
        &peers.sops,
        &["decrypt", "ours.yaml"],
        &[("VAULT_TOKEN", &srv.root_token)],
    )
    .ok("sops decrypt");
    assert_eq!(o.stdout_str(), "a: secret\n");
    // A wrong secret id: exit 128, naming the login path.
    std::fs::write(sb.work().join("secret-id"), "not-the-secret-id\n").unwrap();
    let o = run(&sb, &peers.sealbox, &["decrypt", "theirs.yaml"], &approle);
    assert_eq!(o.code, 128, "{}", o.stderr);
    assert!(o.stderr.contains("auth/approle/login"), "{}", o.stderr);
}

#[test]
fn a_server_that_is_down_or_sealed_fails_in_bounded_time_naming_the_address() {
    let peers = sealbox_tests::require!(Peers::get());
    let Some(srv) = server() else { return };
    let sb = Sandbox::new();
    sb.write("plain.yaml", "a: secret\n");
    let tok = [("VAULT_TOKEN", srv.root_token.as_str())];
    let u = uri(&srv, "app");
    let o = run(
        &sb,
        &peers.sealbox,
        &["encrypt", "--hc-vault-transit", &u, "plain.yaml"],
        &tok,
    )
    .ok("encrypt");
    let text = o.stdout_str();
    write_out(&sb, "enc.yaml", o);
    // Down: the file names an address where nothing listens.
    let dead = dead_address();
    sb.write("down.yaml", text.replace(&srv.addr, &dead));
    let start = Instant::now();
    let o = run(&sb, &peers.sealbox, &["decrypt", "down.yaml"], &tok);
    let took = start.elapsed();
    assert_eq!(o.code, 128, "{}", o.stderr);
    assert!(
        o.stderr.contains(&dead) && o.stderr.contains("connection refused"),
        "{}",
        o.stderr
    );
    assert!(took < Duration::from_secs(15), "took {took:?}");
    // Encrypting for a dead server fails too, naming it (sops' generic exit code).
    let dead_uri = format!("{dead}/v1/transit/keys/app");
    let o = run(
        &sb,
        &peers.sealbox,
        &["encrypt", "--hc-vault-transit", &dead_uri, "plain.yaml"],
        &tok,
    );
    assert_eq!(o.code, 1, "{}", o.stderr);
    assert!(o.stderr.contains(&dead), "{}", o.stderr);
    // Sealed.
    srv.seal().unwrap();
    let o = run(&sb, &peers.sealbox, &["decrypt", "enc.yaml"], &tok);
    assert_eq!(o.code, 128, "{}", o.stderr);
    assert!(
        o.stderr.contains(&srv.addr) && o.stderr.contains("sealed"),
        "{}",
        o.stderr
    );
    srv.unseal().unwrap();
    run(&sb, &peers.sealbox, &["decrypt", "enc.yaml"], &tok).ok("decrypt after unsealing");
}

/// The worst case for a client: a server that accepts connections and never answers.
/// `updatekeys` over many files pays for it once, not once per file.
#[test]
fn updatekeys_over_many_files_pays_for_a_black_holed_server_once() {
    let peers = sealbox_tests::require!(Peers::get());
    let Some(srv) = server() else { return };
    let sb = Sandbox::new();
    sb.write("plain.yaml", "a: secret\n");
    let tok = [("VAULT_TOKEN", srv.root_token.as_str())];
    let o = run(
        &sb,
        &peers.sealbox,
        &[
            "encrypt",
            "--hc-vault-transit",
            &uri(&srv, "app"),
            "plain.yaml",
        ],
        &tok,
    )
    .ok("encrypt");
    let hole = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let hole_addr = format!("http://{}", hole.local_addr().unwrap());
    let text = o.stdout_str().replace(&srv.addr, &hole_addr);
    let (recipient, _) = sealbox_tests::age_keygen(&peers, sb.path(), "new");
    // The rule adds an age recipient: each file needs its data key from Vault.
    sb.write(
        ".sops.yaml",
        format!(
            "creation_rules:\n  - key_groups:\n      - age:\n          - {recipient}\n        hc_vault:\n          - {hole_addr}/v1/transit/keys/app\n"
        ),
    );
    let n = 48;
    let mut args = vec!["updatekeys".to_string(), "-y".into()];
    for i in 0..n {
        let f = format!("f{i:02}.yaml");
        sb.write(&f, &text);
        args.push(f);
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let env = [
        ("VAULT_TOKEN", srv.root_token.as_str()),
        ("VAULT_CLIENT_TIMEOUT", "1s"),
    ];
    let start = Instant::now();
    let o = run(&sb, &peers.sealbox, &args, &env);
    let took = start.elapsed();
    assert_eq!(o.code, 1, "{}", o.stderr);
    assert!(
        o.stderr.contains(&format!("failed updating {n} file(s)")),
        "{}",
        o.stderr
    );
    // At most one wave of parallel calls (16 threads) waited; the others were told at
    // once that the address had just timed out.
    let remembered = o.stderr.matches("not asked again").count();
    assert!(remembered >= n - 16, "{remembered} of {n}:\n{}", o.stderr);
    assert!(
        o.stderr.contains(&hole_addr) && o.stderr.contains("no answer within"),
        "{}",
        o.stderr
    );
    // Every file is as it was.
    for i in 0..n {
        let got = std::fs::read_to_string(sb.work().join(format!("f{i:02}.yaml"))).unwrap();
        assert_eq!(got, text);
    }
    eprintln!("updatekeys over {n} files with a black-holed Vault: {took:?}");
    drop(hole);
}

#[test]
fn after_a_key_rotation_check_reports_old_versions_and_updatekeys_rewraps_them() {
    let peers = sealbox_tests::require!(Peers::get());
    let Some(srv) = server() else { return };
    let sb = Sandbox::new();
    let u = uri(&srv, "app");
    sb.write(
        ".sops.yaml",
        format!("creation_rules:\n  - path_regex: \\.yaml$\n    hc_vault_transit_uri: {u}\n"),
    );
    // A least-privilege token: encrypt, decrypt, rewrap and read on `app`.
    srv.put_policy("app", &DevServer::transit_policy("transit", "app"))
        .unwrap();
    let tok = srv.token_with_policy("app").unwrap();
    let env = [("VAULT_TOKEN", tok.as_str())];
    sb.write("plain.yaml", "a: secret\nb: 2\n");
    for (prog, f) in [
        (&peers.sealbox, "a.yaml"),
        (&peers.sealbox, "b.yaml"),
        (&peers.sops, "c.yaml"),
    ] {
        let o = run(&sb, prog, &["encrypt", "plain.yaml"], &env).ok("encrypt");
        write_out(&sb, f, o);
    }
    std::fs::remove_file(sb.work().join("plain.yaml")).unwrap();
    let o = run(
        &sb,
        &peers.sealbox,
        &["check", "--min-transit-version", "latest"],
        &env,
    );
    assert_eq!(
        o.code,
        0,
        "nothing old before the rotation: {}{}",
        o.stdout_str(),
        o.stderr
    );

    srv.rotate_key("app").unwrap();
    let o = run(
        &sb,
        &peers.sealbox,
        &["check", "--min-transit-version", "latest"],
        &env,
    );
    assert_eq!(o.code, 1, "{}", o.stderr);
    let report = o.stdout_str();
    for f in ["a.yaml", "b.yaml", "c.yaml"] {
        assert!(
            report.contains(&format!(
                "{f}: old-transit-version: key group 0: {u} wraps the data key with version 1, older than 2"
            )),
            "{report}"
        );
    }
    // A number needs no server at all.
    let o = run(
        &sb,
        &peers.sealbox,
        &["check", "--min-transit-version", "2"],
        &[],
    );
    assert_eq!(o.code, 1, "{}", o.stderr);
    assert_eq!(o.stdout_str().matches("old-transit-version").count(), 3);
    let o = run(
        &sb,
        &peers.sealbox,
        &["check", "--min-transit-version", "1"],
        &[],
    );
    assert_eq!(o.code, 0, "{}", o.stdout_str());

    // updatekeys moves a and c forward on the server: same data key, values, MAC and
    // lastmodified; only enc changes.
    let before: Vec<String> = ["a.yaml", "c.yaml"]
        .iter()
        .map(|f| std::fs::read_to_string(sb.work().join(f)).unwrap())
        .collect();
    let o = run(
        &sb,
        &peers.sealbox,
        &[
            "updatekeys",
            "-y",
            "--min-transit-version",
            "latest",
            "a.yaml",
            "c.yaml",
        ],
        &env,
    )
    .ok("updatekeys --min-transit-version");
    assert!(
        o.stdout_str().contains("~~~ ") && o.stdout_str().contains("version 1 -> newest"),
        "{}",
        o.stdout_str()
    );
    for (f, old) in ["a.yaml", "c.yaml"].iter().zip(&before) {
        let new = std::fs::read_to_string(sb.work().join(f)).unwrap();
        let (eo, en) = (vault_encs(old), vault_encs(&new));
        assert!(
            eo[0].starts_with("vault:v1:") && en[0].starts_with("vault:v2:"),
            "{new}"
        );
        assert_eq!(old.replace(&eo[0], &en[0]), new, "{f}: only enc changes");
        assert_eq!(yaml_field(old, "mac"), yaml_field(&new, "mac"));
        let o = run(&sb, &peers.sops, &["decrypt", f], &env).ok("sops decrypt after rewrap");
        assert_eq!(o.stdout_str(), "a: secret\nb: 2\n");
    }
    // rotate: a new data key, wrapped with the newest version.
    run(&sb, &peers.sealbox, &["rotate", "-i", "b.yaml"], &env).ok("rotate");
    let b = std::fs::read_to_string(sb.work().join("b.yaml")).unwrap();
    assert!(vault_encs(&b)[0].starts_with("vault:v2:"), "{b}");
    let o = run(
        &sb,
        &peers.sealbox,
        &["check", "--min-transit-version", "latest"],
        &env,
    );
    assert_eq!(o.code, 0, "{}{}", o.stdout_str(), o.stderr);
    // A rerun has nothing to do.
    let o = run(
        &sb,
        &peers.sealbox,
        &[
            "updatekeys",
            "-y",
            "--min-transit-version",
            "latest",
            "a.yaml",
        ],
        &env,
    )
    .ok("updatekeys again");
    assert!(o.stderr.contains("already up to date"), "{}", o.stderr);
}

#[test]
fn transit_keys_are_added_and_removed_by_updatekeys_and_rotate_and_listed() {
    let peers = sealbox_tests::require!(Peers::get());
    let Some(srv) = server() else { return };
    srv.create_key("other").unwrap();
    let sb = Sandbox::new();
    let (recipient, keyfile) = sealbox_tests::age_keygen(&peers, sb.path(), "me");
    let keyfile = keyfile.to_string_lossy().into_owned();
    let (u, other) = (uri(&srv, "app"), uri(&srv, "other"));
    sb.write("plain.yaml", "a: secret\n");
    let o = run(
        &sb,
        &peers.sealbox,
        &["encrypt", "--age", &recipient, "plain.yaml"],
        &[],
    )
    .ok("encrypt");
    write_out(&sb, "f.yaml", o);
    std::fs::remove_file(sb.work().join("plain.yaml")).unwrap();
    sb.write(
        ".sops.yaml",
        format!("creation_rules:\n  - key_groups:\n      - age:\n          - {recipient}\n        hc_vault:\n          - {u}\n"),
    );
    let env = [
        ("VAULT_TOKEN", srv.root_token.as_str()),
        ("SOPS_AGE_KEY_FILE", keyfile.as_str()),
    ];
    let o = run(&sb, &peers.sealbox, &["updatekeys", "-y", "f.yaml"], &env).ok("updatekeys");
    assert!(
        o.stdout_str().contains(&format!("+++ {u}")),
        "{}",
        o.stdout_str()
    );
    // The token alone now opens it, with either tool.
    let tok = [("VAULT_TOKEN", srv.root_token.as_str())];
    for prog in [&peers.sealbox, &peers.sops] {
        let o = run(&sb, prog, &["decrypt", "f.yaml"], &tok).ok("decrypt with the token only");
        assert_eq!(o.stdout_str(), "a: secret\n");
    }
    let o = run(&sb, &peers.sealbox, &["recipients", "f.yaml"], &[]).ok("recipients");
    assert_eq!(o.stdout_str(), format!("{recipient}\n{u}\n"));
    let o = run(&sb, &peers.sealbox, &["check"], &[]);
    assert_eq!(o.code, 0, "{}", o.stdout_str());

    // rotate swaps one transit key for another.
    run(
        &sb,
        &peers.sealbox,
        &[
            "rotate",
            "-i",
            "--rm-hc-vault-transit",
            &u,
            "--add-hc-vault-transit",
            &other,
            "f.yaml",
        ],
        &env,
    )
    .ok("rotate");
    let o = run(&sb, &peers.sealbox, &["recipients", "f.yaml"], &[]).ok("recipients");
    assert_eq!(o.stdout_str(), format!("{recipient}\n{other}\n"));
    let o = run(&sb, &peers.sops, &["decrypt", "f.yaml"], &tok).ok("sops decrypt after rotate");
    assert_eq!(o.stdout_str(), "a: secret\n");
    // check sees the difference from the rule, naming both keys.
    let o = run(&sb, &peers.sealbox, &["check"], &[]);
    assert_eq!(o.code, 1);
    let r = o.stdout_str();
    assert!(
        r.contains(&format!("missing-recipient: key group 0: {u}"))
            && r.contains(&format!("extra-recipient: key group 0: {other}")),
        "{r}"
    );
    // updatekeys puts it back as the rule says (a key removed: a new data key).
    let o = run(&sb, &peers.sealbox, &["updatekeys", "-y", "f.yaml"], &env).ok("updatekeys back");
    assert!(
        o.stdout_str().contains(&format!("--- {other}")),
        "{}",
        o.stdout_str()
    );
    let o = run(&sb, &peers.sealbox, &["recipients", "f.yaml"], &[]).ok("recipients");
    assert_eq!(o.stdout_str(), format!("{recipient}\n{u}\n"));
    // A bad URI on the command line is sops' error.
    sb.write("plain.yaml", "a: secret\n");
    let o = run(
        &sb,
        &peers.sealbox,
        &[
            "encrypt",
            "--hc-vault-transit",
            "vault.example.com/v1/transit/keys/k",
            "plain.yaml",
        ],
        &[],
    );
    assert_ne!(o.code, 0);
    assert!(
        o.stderr.contains("missing scheme in Vault URL"),
        "{}",
        o.stderr
    );
}
