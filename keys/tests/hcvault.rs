//! The Vault transit key source against a real OpenBao dev server (and the real sops 3.11
//! for interop). Each test starts its own server on a free loopback port; settings are
//! passed as a map, never through the process environment, so tests run in parallel.

use sealbox_keys::hcvault::{Client, ErrorKind, Settings, TransitKey, VaultKey};
use sealbox_testkit::openbao::{dead_address, DevServer, TempDir};
use std::collections::HashMap;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const DATA_KEY: [u8; 32] = *b"0123456789abcdef0123456789ABCDEF";

fn settings(pairs: &[(&str, &str)]) -> Settings {
    let m: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    // HOME points at a directory without .vault-token unless a test sets it.
    let home = std::env::temp_dir().join("sealbox-no-such-home");
    Settings::from_lookup(|k| {
        m.get(k)
            .cloned()
            .or_else(|| (k == "HOME").then(|| home.to_string_lossy().into_owned()))
    })
    .unwrap()
}

fn client(pairs: &[(&str, &str)]) -> Client {
    Client::new(settings(pairs))
}

fn server(bao: &Path, keys: &[&str]) -> DevServer {
    let s = DevServer::start(bao).unwrap();
    s.enable_transit().unwrap();
    for k in keys {
        s.create_key(k).unwrap();
    }
    s
}

fn key(srv: &DevServer, name: &str) -> TransitKey {
    TransitKey::new(&srv.addr, "transit", name)
}

fn b64(b: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(b)
}

#[test]
fn a_data_key_wrapped_with_transit_unwraps_to_the_same_bytes() {
    let bao = sealbox_testkit::require!(sealbox_testkit::bao());
    let srv = server(&bao, &["app"]);
    let c = client(&[("VAULT_TOKEN", &srv.root_token)]);
    let vk = VaultKey::wrap(&c, key(&srv, "app"), &DATA_KEY, "2025-01-01T00:00:00Z").unwrap();
    assert!(vk.enc.starts_with("vault:v1:"), "{}", vk.enc);
    assert_eq!(vk.version().unwrap(), 1);
    assert_eq!(&vk.unwrap_data_key(&c).unwrap()[..], &DATA_KEY);
}

#[test]
fn our_ciphertext_decrypts_with_the_bao_cli_to_the_base64_of_the_data_key() {
    let bao = sealbox_testkit::require!(sealbox_testkit::bao());
    let srv = server(&bao, &["app"]);
    let c = client(&[("VAULT_TOKEN", &srv.root_token)]);
    let enc = c.encrypt(&key(&srv, "app"), &DATA_KEY).unwrap();
    let out = srv
        .bao(&[
            "write",
            "-field=plaintext",
            "transit/decrypt/app",
            &format!("ciphertext={enc}"),
        ])
        .unwrap();
    // sops sends base64(raw data key) as the transit plaintext; so do we.
    assert_eq!(out.trim(), b64(&DATA_KEY));
}

#[test]
fn a_ciphertext_made_by_the_bao_cli_decrypts_to_the_raw_key() {
    let bao = sealbox_testkit::require!(sealbox_testkit::bao());
    let srv = server(&bao, &["app"]);
    let enc = srv
        .bao(&[
            "write",
            "-field=ciphertext",
            "transit/encrypt/app",
            &format!("plaintext={}", b64(&DATA_KEY)),
        ])
        .unwrap();
    let c = client(&[("VAULT_TOKEN", &srv.root_token)]);
    let got = c.decrypt(&key(&srv, "app"), enc.trim()).unwrap();
    assert_eq!(&got[..], &DATA_KEY);
}

/// The real sops encrypts a YAML file with a key on an engine mounted two segments deep;
/// we parse its metadata entry, unwrap its data key and decrypt the file with it.
#[test]
fn a_file_sops_encrypted_with_hc_vault_transit_decrypts_with_the_key_we_unwrap() {
    let bao = sealbox_testkit::require!(sealbox_testkit::bao());
    let sops = sealbox_testkit::require!(sealbox_testkit::sops());
    let srv = DevServer::start(&bao).unwrap();
    srv.enable_transit_at("team/prod/transit").unwrap();
    srv.create_key_at("team/prod/transit", "db").unwrap();
    let dir = TempDir::new("hcvault-sops").unwrap();
    let plain = dir.path().join("secrets.yaml");
    std::fs::write(&plain, "password: hunter2\nport: 5432\n").unwrap();
    let uri = format!("{}/v1/team/prod/transit/keys/db", srv.addr);
    let out = Command::new(&sops)
        .args(["encrypt", "--hc-vault-transit", &uri])
        .arg(&plain)
        // Outside the repository, so sops finds no .sops.yaml above the working directory.
        .current_dir(dir.path())
        .env("HOME", dir.path())
        .env("VAULT_TOKEN", &srv.root_token)
        .env_remove("VAULT_ADDR")
        .env_remove("SOPS_AGE_RECIPIENTS")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "sops: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let enc_file = out.stdout;

    use sealbox_formats::store::{self, Format};
    let (mut docs, md) = store::load_encrypted(Format::Yaml, &enc_file, "secrets.yaml").unwrap();
    let entries = md.key_groups[0].hc_vault.clone();
    assert!(!entries.is_empty(), "an hc_vault entry");
    let sealbox_formats::Value::Map(m) = &entries[0].fields.0 else {
        panic!("entry is not a map: {:?}", entries[0]);
    };
    let get = |k: &str| match m.get(k)? {
        sealbox_formats::Value::Time(s) => Some(s.as_str()),
        v => v.as_str(),
    };
    let vk = VaultKey::from_fields(get, "secrets.yaml").unwrap();
    // Our URI parser splits the same way sops did when it wrote the entry.
    assert_eq!(
        sealbox_keys::hcvault::parse_transit_uri(&uri).unwrap(),
        vk.key
    );
    assert_eq!(vk.key.engine_path, "team/prod/transit");
    assert_eq!(vk.version().unwrap(), 1);

    let c = client(&[("VAULT_TOKEN", &srv.root_token)]);
    let raw = vk.unwrap_data_key(&c).unwrap();
    let dk = sealbox_formats::cipher::DataKey::from_slice(&raw).unwrap();
    sealbox_formats::sops::decrypt_tree(
        &mut docs,
        &md,
        &dk,
        sealbox_formats::sops::MacCheck::Verify,
        "secrets.yaml",
    )
    .unwrap();
    let text = store::emit_plain(Format::Yaml, &docs, &Default::default()).unwrap();
    let text = String::from_utf8(text).unwrap();
    assert!(text.contains("password: hunter2"), "{text}");
    assert!(text.contains("port: 5432"), "{text}");

    // The other way: our wrapping of the same data key, put in place of sops' `enc`,
    // decrypts with the real sops.
    let ours = c.encrypt(&vk.key, &raw).unwrap();
    assert_ne!(ours, vk.enc);
    let swapped = String::from_utf8(enc_file.clone())
        .unwrap()
        .replace(&vk.enc, &ours);
    assert!(swapped.contains(&ours));
    let f = dir.path().join("swapped.yaml");
    std::fs::write(&f, swapped).unwrap();
    let out = Command::new(&sops)
        .arg("decrypt")
        .arg(&f)
        .current_dir(dir.path())
        .env("HOME", dir.path())
        .env("VAULT_TOKEN", &srv.root_token)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "sops decrypt: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("password: hunter2"));
}

#[test]
fn the_token_comes_from_vault_token_before_the_home_token_file() {
    let bao = sealbox_testkit::require!(sealbox_testkit::bao());
    let srv = server(&bao, &["app"]);
    let home = TempDir::new("hcvault-home").unwrap();
    let home_s = home.path().to_string_lossy().into_owned();
    let k = key(&srv, "app");
    // No VAULT_TOKEN: ~/.vault-token (with a trailing newline, as `bao login` writes it).
    std::fs::write(
        home.path().join(".vault-token"),
        format!("{}\n", srv.root_token),
    )
    .unwrap();
    let c = client(&[("HOME", &home_s)]);
    let enc = c.encrypt(&k, &DATA_KEY).unwrap();
    // VAULT_TOKEN wins over the file: a wrong one is used, and refused.
    let c = client(&[("HOME", &home_s), ("VAULT_TOKEN", "not-a-token")]);
    let e = c.decrypt(&k, &enc).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::PermissionDenied, "{e}");
    assert!(e.to_string().contains("VAULT_TOKEN"), "{e}");
    // And a good VAULT_TOKEN with a bad file works.
    std::fs::write(home.path().join(".vault-token"), "stale\n").unwrap();
    let c = client(&[("HOME", &home_s), ("VAULT_TOKEN", &srv.root_token)]);
    assert_eq!(&c.decrypt(&k, &enc).unwrap()[..], &DATA_KEY);
}

#[test]
fn without_any_token_the_error_says_where_one_is_looked_for() {
    let bao = sealbox_testkit::require!(sealbox_testkit::bao());
    let srv = server(&bao, &["app"]);
    let e = client(&[])
        .encrypt(&key(&srv, "app"), &DATA_KEY)
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Auth, "{e}");
    let m = e.to_string();
    assert!(
        m.contains("VAULT_TOKEN") && m.contains(".vault-token") && m.contains("VAULT_ROLE_ID"),
        "{m}"
    );
}

#[test]
fn an_approle_with_a_secret_id_file_logs_in_and_its_policy_is_enforced() {
    let bao = sealbox_testkit::require!(sealbox_testkit::bao());
    let srv = server(&bao, &["app", "other"]);
    let role = srv.approle("hosts", "web1", "app").unwrap();
    let dir = TempDir::new("hcvault-approle").unwrap();
    let sid = dir.path().join("secret-id");
    std::fs::write(&sid, format!("{}\n", role.secret_id)).unwrap();
    let sid_s = sid.to_string_lossy().into_owned();
    let c = client(&[
        ("VAULT_ROLE_ID", &role.role_id),
        ("VAULT_SECRET_ID_FILE", &sid_s),
        ("VAULT_APPROLE_MOUNT", "hosts"),
    ]);
    let enc = c.encrypt(&key(&srv, "app"), &DATA_KEY).unwrap();
    assert_eq!(&c.decrypt(&key(&srv, "app"), &enc).unwrap()[..], &DATA_KEY);
    // The role's policy covers `app` only.
    let e = c.encrypt(&key(&srv, "other"), &DATA_KEY).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::PermissionDenied, "{e}");
    assert!(e.to_string().contains("AppRole login at auth/hosts"), "{e}");

    // A wrong secret id is an authentication error naming the login path.
    std::fs::write(&sid, "00000000-0000-0000-0000-000000000000").unwrap();
    let c = client(&[
        ("VAULT_ROLE_ID", &role.role_id),
        ("VAULT_SECRET_ID_FILE", &sid_s),
        ("VAULT_APPROLE_MOUNT", "hosts"),
    ]);
    let e = c.decrypt(&key(&srv, "app"), &enc).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Auth, "{e}");
    assert!(e.to_string().contains("auth/hosts/login"), "{e}");
}

#[test]
fn a_server_that_is_down_fails_fast_naming_the_address() {
    let dead = dead_address();
    let c = client(&[("VAULT_TOKEN", "t")]);
    let start = Instant::now();
    let e = c
        .decrypt(&TransitKey::new(&dead, "transit", "app"), "vault:v1:AAAA")
        .unwrap_err();
    let took = start.elapsed();
    assert_eq!(e.kind(), ErrorKind::Unreachable, "{e}");
    let m = e.to_string();
    assert!(m.contains(&dead) && m.contains("connection refused"), "{m}");
    // Three rounds (VAULT_MAX_RETRIES=2) with 0.5 s and 1 s between them.
    assert_eq!(e.attempts().len(), 3, "{m}");
    assert!(took < Duration::from_secs(10), "took {took:?}");
}

#[test]
fn a_dead_server_costs_one_call_its_retries_and_later_calls_fail_at_once() {
    let dead = dead_address();
    let k = TransitKey::new(&dead, "transit", "app");
    let c = client(&[("VAULT_TOKEN", "t")]);
    let e = c.decrypt(&k, "vault:v1:AAAA").unwrap_err();
    assert_eq!(
        e.attempts().len(),
        3,
        "the first call tries three rounds: {e}"
    );
    let start = Instant::now();
    for _ in 0..100 {
        let e = c.decrypt(&k, "vault:v1:AAAA").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Unreachable, "{e}");
        // No new request: the one remembered failure, said as such.
        assert_eq!(e.attempts().len(), 1, "{e}");
        let m = e.to_string();
        assert!(
            m.contains(&dead)
                && m.contains("connection refused")
                && m.contains("SEALBOX_VAULT_RECHECK_AFTER"),
            "{m}"
        );
    }
    // A hundred calls without a backoff between rounds (each would wait 1.5 s).
    assert!(start.elapsed() < Duration::from_secs(10));
    // With the memory turned off every call goes through its rounds again.
    let c = client(&[("VAULT_TOKEN", "t"), ("SEALBOX_VAULT_RECHECK_AFTER", "0")]);
    for _ in 0..2 {
        let e = c.decrypt(&k, "vault:v1:AAAA").unwrap_err();
        assert_eq!(e.attempts().len(), 3, "{e}");
    }
}

#[test]
fn a_dead_address_is_left_out_while_a_fallback_answers() {
    let bao = sealbox_testkit::require!(sealbox_testkit::bao());
    let srv = server(&bao, &["app"]);
    let dead = dead_address();
    let c = client(&[
        ("VAULT_TOKEN", &srv.root_token),
        ("SEALBOX_VAULT_FALLBACK_ADDRS", &srv.addr),
    ]);
    let k = TransitKey::new(&dead, "transit", "app");
    let enc = c.encrypt(&k, &DATA_KEY).unwrap();
    // The fallback is sealed now: the error lists the dead address as remembered and the
    // sealed one as tried, so the file's address was not asked again.
    srv.seal().unwrap();
    let e = c.decrypt(&k, &enc).unwrap_err();
    let m = e.to_string();
    assert_eq!(e.kind(), ErrorKind::Sealed, "{m}");
    assert!(e.attempts().iter().all(|a| a.address == srv.addr), "{m}");
    // Both remembered: the next call fails at once, naming both.
    let e = c.decrypt(&k, &enc).unwrap_err();
    assert_eq!(e.attempts().len(), 2, "{e}");
    assert!(
        e.to_string().contains(&dead) && e.to_string().contains("sealed"),
        "{e}"
    );
}

#[test]
fn a_sealed_server_is_reported_as_sealed() {
    let bao = sealbox_testkit::require!(sealbox_testkit::bao());
    let srv = server(&bao, &["app"]);
    // Asked again at once after failing (by default a sealed address is left alone for
    // SEALBOX_VAULT_RECHECK_AFTER).
    let c = client(&[
        ("VAULT_TOKEN", &srv.root_token),
        ("VAULT_MAX_RETRIES", "0"),
        ("SEALBOX_VAULT_RECHECK_AFTER", "0"),
    ]);
    let enc = c.encrypt(&key(&srv, "app"), &DATA_KEY).unwrap();
    srv.seal().unwrap();
    let e = c.decrypt(&key(&srv, "app"), &enc).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Sealed, "{e}");
    assert!(
        e.to_string().contains(&srv.addr) && e.to_string().contains("sealed"),
        "{e}"
    );
    srv.unseal().unwrap();
    assert_eq!(&c.decrypt(&key(&srv, "app"), &enc).unwrap()[..], &DATA_KEY);
}

#[test]
fn a_wrong_token_is_permission_denied_at_once() {
    let bao = sealbox_testkit::require!(sealbox_testkit::bao());
    let srv = server(&bao, &["app"]);
    let c = client(&[("VAULT_TOKEN", "wrong-token")]);
    let e = c.encrypt(&key(&srv, "app"), &DATA_KEY).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::PermissionDenied, "{e}");
    assert_eq!(e.attempts().len(), 1, "a 403 is not retried: {e}");
    assert!(e.to_string().contains("transit/encrypt/app"), "{e}");
}

#[test]
fn an_unknown_key_or_engine_is_reported_as_such() {
    let bao = sealbox_testkit::require!(sealbox_testkit::bao());
    let srv = server(&bao, &["app"]);
    let c = client(&[("VAULT_TOKEN", &srv.root_token)]);
    let enc = c.encrypt(&key(&srv, "app"), &DATA_KEY).unwrap();
    for k in [
        key(&srv, "nokey"),
        TransitKey::new(&srv.addr, "nomount", "app"),
    ] {
        let e = c.decrypt(&k, &enc).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::UnknownKey, "{e}");
        assert!(e.to_string().contains(&k.key_name), "{e}");
    }
    // A ciphertext the key did not make is rejected, not retried.
    let e = c.decrypt(&key(&srv, "app"), "vault:v1:AAAA").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Rejected, "{e}");
}

#[test]
fn after_rotation_the_version_report_shows_the_file_behind_and_rewrap_catches_up() {
    let bao = sealbox_testkit::require!(sealbox_testkit::bao());
    let srv = server(&bao, &["app"]);
    // A least-privilege token: the transit policy includes rewrap and reading the key.
    srv.put_policy("app", &DevServer::transit_policy("transit", "app"))
        .unwrap();
    let tok = srv.token_with_policy("app").unwrap();
    let c = client(&[("VAULT_TOKEN", &tok)]);
    let k = key(&srv, "app");
    let mut vk = VaultKey::wrap(&c, k.clone(), &DATA_KEY, "2025-01-01T00:00:00Z").unwrap();
    srv.rotate_key("app").unwrap();
    let info = c.key_info(&k).unwrap();
    assert_eq!(info.latest_version, 2);
    assert_eq!(vk.version().unwrap(), 1);
    assert!(vk.version().unwrap() < c.latest_version(&k).unwrap());
    assert_eq!(vk.rewrap(&c).unwrap(), 2);
    assert!(vk.enc.starts_with("vault:v2:"), "{}", vk.enc);
    assert_eq!(vk.created_at, "2025-01-01T00:00:00Z");
    assert_eq!(&vk.unwrap_data_key(&c).unwrap()[..], &DATA_KEY);
}

#[test]
fn when_the_files_address_is_dead_the_fallback_list_is_used() {
    let bao = sealbox_testkit::require!(sealbox_testkit::bao());
    let srv = server(&bao, &["app"]);
    let dead = dead_address();
    let fallbacks = format!("{dead},{}", srv.addr);
    let c = client(&[
        ("VAULT_TOKEN", &srv.root_token),
        ("SEALBOX_VAULT_FALLBACK_ADDRS", &fallbacks),
    ]);
    // The file names a dead address; the first fallback is dead too.
    let k = TransitKey::new(dead_address(), "transit", "app");
    let enc = c.encrypt(&k, &DATA_KEY).unwrap();
    assert_eq!(&c.decrypt(&k, &enc).unwrap()[..], &DATA_KEY);
    // Without the fallbacks the same call fails.
    let e = client(&[("VAULT_TOKEN", &srv.root_token)])
        .decrypt(&k, &enc)
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unreachable, "{e}");
}

#[test]
fn a_sealed_primary_fails_over_to_the_next_address() {
    let bao = sealbox_testkit::require!(sealbox_testkit::bao());
    let a = server(&bao, &["app"]);
    let b = server(&bao, &["app"]);
    // Different servers have different keys: encrypt on b, seal a, name a in the file.
    let cb = client(&[("VAULT_TOKEN", &b.root_token)]);
    let enc = cb.encrypt(&key(&b, "app"), &DATA_KEY).unwrap();
    a.seal().unwrap();
    // One token for both: b's root token is refused by a, but a is sealed and answers 503
    // before it looks at tokens.
    let c = client(&[
        ("VAULT_TOKEN", &b.root_token),
        ("SEALBOX_VAULT_FALLBACK_ADDRS", &b.addr),
    ]);
    let got = c.decrypt(&key(&a, "app"), &enc).unwrap();
    assert_eq!(&got[..], &DATA_KEY);
}

#[test]
fn vault_agent_addr_replaces_the_files_address_as_in_sops() {
    let bao = sealbox_testkit::require!(sealbox_testkit::bao());
    let srv = server(&bao, &["app"]);
    let c = client(&[
        ("VAULT_TOKEN", &srv.root_token),
        ("VAULT_AGENT_ADDR", &srv.addr),
    ]);
    let k = TransitKey::new(dead_address(), "transit", "app");
    let enc = c.encrypt(&k, &DATA_KEY).unwrap();
    assert_eq!(&c.decrypt(&k, &enc).unwrap()[..], &DATA_KEY);
}

#[test]
fn the_namespace_header_comes_from_vault_namespace() {
    let bao = sealbox_testkit::require!(sealbox_testkit::bao());
    let srv = DevServer::start(&bao).unwrap();
    srv.bao(&["namespace", "create", "team1"]).unwrap();
    srv.bao(&["secrets", "enable", "-ns=team1", "transit"])
        .or_else(|_| srv.bao(&["secrets", "enable", "-namespace=team1", "transit"]))
        .unwrap();
    srv.bao(&["write", "-namespace=team1", "-f", "transit/keys/app"])
        .unwrap();
    let k = key(&srv, "app");
    let c = client(&[
        ("VAULT_TOKEN", &srv.root_token),
        ("VAULT_NAMESPACE", "team1"),
    ]);
    let enc = c.encrypt(&k, &DATA_KEY).unwrap();
    assert_eq!(&c.decrypt(&k, &enc).unwrap()[..], &DATA_KEY);
    // The root namespace has no transit engine.
    let e = client(&[("VAULT_TOKEN", &srv.root_token)])
        .decrypt(&k, &enc)
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::UnknownKey, "{e}");
}

#[test]
fn tls_checks_the_server_against_vault_cacert() {
    let bao = sealbox_testkit::require!(sealbox_testkit::bao());
    let srv = DevServer::start_tls(&bao).unwrap();
    srv.enable_transit().unwrap();
    srv.create_key("app").unwrap();
    let ca = srv.ca_cert.clone().unwrap().to_string_lossy().into_owned();
    let k = key(&srv, "app");
    assert!(k.vault_address.starts_with("https://"));
    let c = client(&[("VAULT_TOKEN", &srv.root_token), ("VAULT_CACERT", &ca)]);
    let enc = c.encrypt(&k, &DATA_KEY).unwrap();
    assert_eq!(&c.decrypt(&k, &enc).unwrap()[..], &DATA_KEY);
    // The system store does not know the dev CA: a TLS failure, not retried.
    let e = client(&[("VAULT_TOKEN", &srv.root_token)])
        .decrypt(&k, &enc)
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unreachable, "{e}");
    assert!(e.to_string().contains("TLS"), "{e}");
    assert_eq!(e.attempts().len(), 1, "{e}");
    // VAULT_SKIP_VERIFY turns the check off.
    let c = client(&[
        ("VAULT_TOKEN", &srv.root_token),
        ("VAULT_SKIP_VERIFY", "true"),
    ]);
    assert_eq!(&c.decrypt(&k, &enc).unwrap()[..], &DATA_KEY);
}

#[test]
fn the_allowlist_refuses_an_address_before_any_request() {
    let bao = sealbox_testkit::require!(sealbox_testkit::bao());
    let srv = server(&bao, &["app"]);
    let c = client(&[
        ("VAULT_TOKEN", &srv.root_token),
        ("SOPS_HC_VAULT_ALLOWLIST", "https://vault.example.com:8200"),
    ]);
    let e = c.encrypt(&key(&srv, "app"), &DATA_KEY).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotAllowed, "{e}");
    assert!(e.attempts().is_empty());
    let allowed = client(&[
        ("VAULT_TOKEN", &srv.root_token),
        ("SOPS_HC_VAULT_ALLOWLIST", &srv.addr),
    ]);
    allowed.encrypt(&key(&srv, "app"), &DATA_KEY).unwrap();
}

#[test]
fn a_server_that_never_answers_is_bounded_by_the_deadline() {
    // A listener that accepts and then says nothing: the worst case for a client.
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = format!("http://{}", l.local_addr().unwrap());
    let c = client(&[
        ("VAULT_TOKEN", "t"),
        ("VAULT_CLIENT_TIMEOUT", "1s"),
        ("SEALBOX_VAULT_DEADLINE", "2500ms"),
    ]);
    let start = Instant::now();
    let e = c
        .decrypt(&TransitKey::new(&addr, "transit", "app"), "vault:v1:AAAA")
        .unwrap_err();
    let took = start.elapsed();
    assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
    assert!(took < Duration::from_secs(5), "took {took:?}: {e}");
    drop(l);
}
