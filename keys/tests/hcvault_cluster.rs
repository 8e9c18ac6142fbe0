//! The Vault transit client against a real three-node OpenBao Raft cluster: the active
//! node is killed, and a client that lists every node completes once a new one is elected.
//!
//! What OpenBao does while it has no active node (seen here): standbys still answer reads,
//! transit decrypt included, from their own copy of the data; requests that must reach
//! the active node (an AppRole login writes a token) get a 307 to the dead node's address
//! until the election is over (about 2-3 s with `performance_multiplier = 1`). So the test
//! logs in after the kill: that is the call that must wait for the new active node.
//!
//! The cluster takes ~10-15 s to come up (init, unseal, join, autopilot promoting the new
//! nodes to voters), so this is one test in its own binary.

use sealbox_keys::hcvault::{Client, ErrorKind, Settings, TransitKey};
use sealbox_testkit::openbao::RaftCluster;
use std::collections::HashMap;
use std::io::Write;
use std::time::{Duration, Instant};

const DATA_KEY: [u8; 32] = *b"0123456789abcdef0123456789ABCDEF";

fn client(pairs: &[(&str, &str)]) -> Client {
    let m: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Client::new(Settings::from_lookup(|k| m.get(k).cloned()).unwrap())
}

#[test]
fn with_every_node_listed_a_login_and_decrypt_survive_the_active_node_being_killed() {
    let bao = sealbox_testkit::require!(sealbox_testkit::bao());
    let t0 = Instant::now();
    let mut cl = RaftCluster::start(&bao, 3).unwrap();
    let up = t0.elapsed();
    let leader = cl.wait_for_leader(Duration::from_secs(30)).unwrap();
    cl.bao(leader, &["secrets", "enable", "transit"]).unwrap();
    cl.bao(leader, &["write", "-f", "transit/keys/app"])
        .unwrap();
    let role = cl.approle(leader, "approle", "host1", "app").unwrap();
    let addrs = cl.addrs();
    let all = addrs.join(",");
    // The file names the active node, as it would if it was written through it.
    let key = TransitKey::new(&addrs[leader], "transit", "app");
    let root = client(&[("VAULT_TOKEN", &cl.root_token)]);
    let enc = root.encrypt(&key, &DATA_KEY).unwrap();
    // The standbys must have applied the key and the AppRole before the active node dies
    // (a standby that lags answers "invalid role or secret ID").
    cl.sync(Duration::from_secs(30)).unwrap();

    cl.kill(leader);
    let t1 = Instant::now();
    // A host booting now: AppRole login (needs the active node), then decrypt. With no
    // retries for rounds in which nothing answers, only the rule that a cluster between
    // states is waited for (until the deadline) lets this succeed.
    let host = client(&[
        ("VAULT_ROLE_ID", &role.role_id),
        ("VAULT_SECRET_ID", &role.secret_id),
        ("SEALBOX_VAULT_FALLBACK_ADDRS", &all),
        ("VAULT_MAX_RETRIES", "0"),
    ]);
    let got = host.decrypt(&key, &enc).unwrap();
    let took = t1.elapsed();
    assert_eq!(&got[..], &DATA_KEY);
    let new_leader = cl.wait_for_leader(Duration::from_secs(30)).unwrap();
    assert_ne!(new_leader, leader);
    // Bounded by the default deadline (SEALBOX_VAULT_DEADLINE, 30 s).
    assert!(took < Duration::from_secs(30), "took {took:?}");

    // With only the dead node's address, the same call fails, and says where.
    let alone = client(&[
        ("VAULT_ROLE_ID", &role.role_id),
        ("VAULT_SECRET_ID", &role.secret_id),
    ]);
    let e = alone.decrypt(&key, &enc).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unreachable, "{e}");
    assert!(e.to_string().contains(&addrs[leader]), "{e}");

    let _ = writeln!(
        std::io::stderr(),
        "cluster up in {up:?}; AppRole login + decrypt after killing the active node took {took:?}"
    );
}
