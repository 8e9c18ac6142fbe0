//! `sealbox updatekeys -y` over 300 files while the OpenBao node their metadata names is
//! killed, on a real three-node Raft cluster.
//!
//! The files are Vault-only; the creation rule adds an age recipient, so each file needs
//! its data key from Vault (decrypt) and a new transit wrapping (encrypt). The active node,
//! the one every file names, is killed once some files are done. With the other nodes in
//! `SEALBOX_VAULT_FALLBACK_ADDRS` the run goes on through them once a new active node is
//! elected, or fails cleanly; either way every file is whole (byte for byte the old one,
//! or a new one that decrypts and verifies), and a rerun completes.
//!
//! The cluster takes about 15 s to come up, so this is one test in its own binary; the
//! times are printed (`cargo test --test vault_cluster -- --nocapture`).

use sealbox_formats::sops::{self, MacCheck};
use sealbox_formats::store::{self, Format};
use sealbox_keys::age::Identities;
use sealbox_keys::KeyServices;
use sealbox_testkit::openbao::RaftCluster;
use sealbox_tests::{Peers, Sandbox};
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const FILES: usize = 300;
const PLAIN: &str = "db:\n    password: hunter2\nport: 5432\n";

fn name(i: usize) -> String {
    format!("f{i:03}.yaml")
}

#[test]
fn updatekeys_over_300_files_survives_the_named_node_being_killed_and_a_rerun_completes() {
    let peers = sealbox_tests::require!(Peers::get());
    let bao = sealbox_testkit::require!(sealbox_testkit::bao());
    let t0 = Instant::now();
    let mut cl = RaftCluster::start(&bao, 3).unwrap();
    let leader = cl.wait_for_leader(Duration::from_secs(30)).unwrap();
    cl.bao(leader, &["secrets", "enable", "transit"]).unwrap();
    cl.bao(leader, &["write", "-f", "transit/keys/app"])
        .unwrap();
    cl.sync(Duration::from_secs(30)).unwrap();
    let up = t0.elapsed();
    let addrs = cl.addrs();
    let uri = format!("{}/v1/transit/keys/app", addrs[leader]);
    let sb = Sandbox::new();
    let env = [
        ("VAULT_TOKEN", cl.root_token.clone()),
        ("SEALBOX_VAULT_FALLBACK_ADDRS", addrs.join(",")),
    ];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();

    // One Vault-only file, copied: the files name the active node.
    sb.write("plain.yaml", PLAIN);
    let template = sb
        .run(
            &peers.sealbox,
            &["encrypt", "--hc-vault-transit", &uri, "plain.yaml"],
            &env,
            None,
        )
        .ok("encrypt")
        .stdout;
    std::fs::remove_file(sb.work().join("plain.yaml")).unwrap();
    for i in 0..FILES {
        sb.write(&name(i), &template);
    }
    let (recipient, keyfile) = sealbox_tests::age_keygen(&peers, sb.path(), "host");
    sb.write(
        ".sops.yaml",
        format!("creation_rules:\n  - key_groups:\n      - age:\n          - {recipient}\n        hc_vault:\n          - {uri}\n"),
    );
    let ids = Identities::from_text(&std::fs::read_to_string(&keyfile).unwrap()).unwrap();
    let is_new = |i: usize| {
        std::fs::read_to_string(sb.work().join(name(i)))
            .map(|t| t.contains(&recipient))
            .unwrap_or(false)
    };

    let mut args = vec!["updatekeys".to_string(), "-y".into()];
    args.extend((0..FILES).map(name));
    let run = |what: &str| {
        let mut c = Command::new(&peers.sealbox);
        c.args(&args)
            .current_dir(sb.work())
            .env_clear()
            .env("HOME", sb.path().join("home"))
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (k, v) in &env {
            c.env(k, v);
        }
        let child = c.spawn().unwrap_or_else(|e| panic!("{what}: {e}"));
        (Instant::now(), child)
    };

    // The first run; the active node dies once 30 files are done.
    let (start, child) = run("updatekeys");
    let mut killed_at = None;
    let mut done_at_kill = 0;
    let child_pid = child.id();
    let out = std::thread::scope(|s| {
        let waiter = s.spawn(move || child.wait_with_output().unwrap());
        while !waiter.is_finished() {
            let done = (0..FILES).filter(|&i| is_new(i)).count();
            if killed_at.is_none() && done >= 30 {
                cl.kill(leader);
                killed_at = Some(start.elapsed());
                done_at_kill = done;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        waiter.join().unwrap()
    });
    let first = start.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let killed_at = killed_at.unwrap_or_else(|| {
        panic!("the run (pid {child_pid}) ended before 30 files were done: {stderr}")
    });
    assert!(
        done_at_kill < FILES,
        "every file was done before the kill; nothing was tested"
    );
    // Either it went on through the other nodes, or it failed cleanly, file by file.
    let updated = stderr.matches(": updated").count();
    if out.status.success() {
        assert_eq!(updated, FILES, "{stderr}");
    } else {
        assert!(stderr.contains("failed updating"), "{stderr}");
    }

    // Every file is whole: the old bytes, or a new file the host key alone opens.
    let keys = KeyServices::borrowing(&ids);
    let check = |i: usize| -> bool {
        let bytes = std::fs::read(sb.work().join(name(i))).unwrap();
        if bytes == template {
            return false;
        }
        let (mut docs, md) = store::load_encrypted(Format::Yaml, &bytes, &name(i))
            .unwrap_or_else(|e| panic!("{}: not whole: {e}", name(i)));
        assert!(
            md.key_groups[0].hc_vault.len() == 1 && md.key_groups[0].age.len() == 1,
            "{}",
            name(i)
        );
        let key = sealbox_keys::recover(&md, &keys, &name(i)).unwrap();
        sops::decrypt_tree(&mut docs, &md, &key, MacCheck::Verify, &name(i)).unwrap();
        let text = store::emit_plain(Format::Yaml, &docs, &Default::default()).unwrap();
        assert_eq!(String::from_utf8(text).unwrap(), PLAIN, "{}", name(i));
        true
    };
    let new_after_first = (0..FILES).filter(|&i| check(i)).count();
    assert!(new_after_first >= done_at_kill);

    // A rerun completes.
    let (start, child) = run("rerun");
    let out = child.wait_with_output().unwrap();
    let rerun = start.elapsed();
    let stderr2 = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "rerun: {stderr2}");
    assert_eq!((0..FILES).filter(|&i| check(i)).count(), FILES);

    let _ = writeln!(
        std::io::stderr(),
        "cluster up in {up:.1?}; updatekeys over {FILES} files: node {leader} killed at \
         {killed_at:.1?} with {done_at_kill} done; run ended after {first:.1?} ({}; {updated} \
         updated); rerun {rerun:.1?}; new leader {:?}",
        if out.status.success() {
            "ok"
        } else {
            "failed cleanly"
        },
        cl.leader()
    );
}
