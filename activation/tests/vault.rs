//! Issue 19: `sealbox-install` with Vault/OpenBao transit keys, end to end in a private
//! mount namespace against a real OpenBao dev server, with files encrypted by the real
//! sops: a 2-of-2 key group (the host's age key and a transit key) installs with an
//! AppRole login from a secret-id file, opens with neither alone, `--no-network` refuses
//! it at once, and fifty files whose Vault is down cost one failure, not fifty.

mod common;
use common::*;
use sealbox_testkit::openbao::{dead_address, DevServer};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// Encrypts `plain` (YAML) with the real sops under `.sops.yaml` text `config`, into `out`.
fn sops_encrypt_with(config: &str, plain: &str, out: &Path, vault_token: &str) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(".sops.yaml"), config).unwrap();
    std::fs::write(dir.path().join("plain.yaml"), plain).unwrap();
    let o = Command::new(sops_path())
        .current_dir(dir.path())
        .env("SOPS_DISABLE_VERSION_CHECK", "1")
        .env("VAULT_TOKEN", vault_token)
        .env("HOME", dir.path())
        .args(["encrypt", "plain.yaml"])
        .output()
        .unwrap();
    assert!(o.status.success(), "sops: {}", stderr(&o));
    std::fs::write(out, o.stdout).unwrap();
}

/// A 2-of-2 rule: group 0 the host's age key, group 1 the transit key.
fn two_of_two(recipient: &str, uri: &str) -> String {
    format!(
        "creation_rules:\n  - key_groups:\n      - age:\n          - {recipient}\n      - hc_vault:\n          - {uri}\n    shamir_threshold: 2\n"
    )
}

struct Setup {
    f: Fixture,
    srv: DevServer,
    vault_file: PathBuf,
    role_env: Vec<(&'static str, String)>,
}

fn setup() -> Option<Setup> {
    let bao = match sealbox_testkit::bao() {
        Ok(b) => b,
        Err(why) => {
            sealbox_testkit::skip(&why);
            return None;
        }
    };
    let f = Fixture::new();
    let srv = DevServer::start(&bao).unwrap();
    srv.enable_transit().unwrap();
    srv.create_key("host").unwrap();
    let role = srv.approle("approle", "web1", "host").unwrap();
    let uri = format!("{}/v1/transit/keys/host", srv.addr);
    let vault_file = f.ns.h().join("db.yaml");
    sops_encrypt_with(
        &two_of_two(&f.recipient, &uri),
        "password: from-vault\nuser: app\n",
        &vault_file,
        &srv.root_token,
    );
    // The secret id lives in a root-only file, as on a host.
    let sid = f.ns.h().join("secret-id");
    std::fs::write(&sid, format!("{}\n", role.secret_id)).unwrap();
    let role_env = vec![
        ("VAULT_ROLE_ID", role.role_id.clone()),
        ("VAULT_SECRET_ID_FILE", sid.display().to_string()),
    ];
    Some(Setup {
        f,
        srv,
        vault_file,
        role_env,
    })
}

fn env_of<'a>(v: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    v.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

#[test]
fn a_two_of_two_age_and_transit_file_installs_with_an_approle_login() {
    sealbox_testkit::require!(common::peers());
    let Some(s) = setup() else { return };
    let (f, ns) = (&s.f, &s.f.ns);
    let local = f.enc("local.yaml", "yaml", b"token: local-only\n");
    let m = f.manifest(
        vec![
            e("db_password", &s.vault_file, "yaml", "password"),
            e("db_user", &s.vault_file, "yaml", "user"),
            e("token", &local, "yaml", "token"),
        ],
        vec![],
        1,
    );
    let mf = m.write(ns.h(), "m.json");
    let link = m.link();

    // Without Vault credentials the host key alone opens nothing: nothing is installed,
    // and the error names the file, the group and what is missing.
    let o = ns.install(&[&mf], &[]);
    assert!(!o.status.success());
    let err = stderr(&o);
    assert!(
        err.contains("db.yaml")
            && err.contains("1 of 2 key groups decrypted, 2 needed")
            && err.contains("no Vault token"),
        "{err}"
    );
    assert!(!ns.exists(&link.join("db_password")));

    // --no-network refuses the Vault key at once, saying why.
    let start = Instant::now();
    let o = ns.install(&["--no-network", &mf], &env_of(&s.role_env));
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("--no-network") && stderr(&o).contains("network-online.target"),
        "{}",
        stderr(&o)
    );
    assert!(start.elapsed() < Duration::from_secs(10));

    // With the AppRole: installed.
    let o = ns.install(&[&mf], &env_of(&s.role_env));
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(ns.cat(&link.join("db_password")), b"from-vault");
    assert_eq!(ns.cat(&link.join("db_user")), b"app");
    assert_eq!(ns.cat(&link.join("token")), b"local-only");

    // The Vault token alone (a stolen AppRole, no disk) does not open it either.
    let no_key = f.manifest(
        vec![e("db_password", &s.vault_file, "yaml", "password")],
        vec![],
        1,
    );
    let mut no_key = no_key;
    no_key.key_file = ns.h().join("other-key.txt").display().to_string();
    age_keygen(&ns.h().join("other-key.txt"));
    let mf2 = no_key.write(ns.h(), "m2.json");
    let o = ns.install(&[&mf2], &env_of(&s.role_env));
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("1 of 2 key groups decrypted"),
        "{}",
        stderr(&o)
    );
    drop(s.srv);
}

#[test]
fn fifty_files_whose_vault_is_down_cost_one_failure_not_fifty() {
    sealbox_testkit::require!(common::peers());
    let Some(s) = setup() else { return };
    let (f, ns) = (&s.f, &s.f.ns);
    // Fifty files naming a Vault that is not there (the metadata's address is not
    // covered by the MAC; sops reads such files the same way).
    let dead = dead_address();
    let text = std::fs::read_to_string(&s.vault_file)
        .unwrap()
        .replace(&s.srv.addr, &dead);
    let names: Vec<&'static str> = (0..50)
        .map(|i| &*Box::leak(format!("s{i:02}").into_boxed_str()))
        .collect();
    let mut entries = Vec::new();
    for n in &names {
        let p = ns.h().join(format!("{n}.yaml"));
        std::fs::write(&p, &text).unwrap();
        entries.push(e(n, &p, "yaml", "password"));
    }
    let mf = f.manifest(entries, vec![], 1).write(ns.h(), "m.json");
    let start = Instant::now();
    let o = ns.install(&[&mf], &env_of(&s.role_env));
    let took = start.elapsed();
    assert!(!o.status.success());
    let err = stderr(&o);
    // Every secret is reported, each naming the address.
    assert!(err.matches(&dead).count() >= 50, "{err}");
    // One login attempt went through its retries; the 49 others were told at once.
    assert!(err.matches("not asked again").count() >= 49, "{err}");
    // Without the memory this is 50 x 1.5 s of retries.
    assert!(took < Duration::from_secs(30), "took {took:?}");
    eprintln!("sealbox-install, 50 files, Vault down: {took:?}");
}
