//! The units we ship, booted under a real systemd (Debian bookworm's 252, in a
//! `systemd-nspawn` container; see `sealbox_tests::nspawn`), with the freshly built
//! binaries bound in. Each case boots a container of its own:
//!
//! 1. the NixOS module's `sops-install-secrets.service` (rendered from
//!    `nix/modules/install-units.json`, the data the module reads) installs before the
//!    services that read `/run/secrets`, and a switch to new secrets `try-restart`s or
//!    reloads exactly the listed, running services;
//! 2. `examples/systemd/`'s `sealbox.service` waits for a host key that appears after it
//!    started, installs, and only then `demo-app.service` starts and gets its secret with
//!    `LoadCredential=`;
//! 3. `sealbox-watch.service`: an edit with the real sops reaches the consumer through one
//!    restart; a broken edit keeps the generation and the consumer;
//! 4. a reboot: the ramfs is gone and the secrets are back before the consumer starts;
//! 5. the module's for-users unit installs before `systemd-sysusers.service`, which
//!    creates a user with the hashed password it reads from there;
//! 6. PGP key sources: sops-nix's test files decrypt at boot with `sshKeyPaths` (an RSA host
//!    key, in a container without gpg), then with `gnupgHome` (the host's gpg bound in),
//!    and no gpg-agent is left running after the `RemainAfterExit` unit;
//! 7. Vault at boot: the network unit (NixOS module and `examples/systemd`, after
//!    `network-online.target`) retries until the OpenBao server in the container is set up,
//!    then installs a secret whose file is 2-of-2 (the host's age key and a transit key,
//!    AppRole with a secret-id file) into its own tree; the service that reads it starts
//!    once, after that; the early unit installs the rest without waiting;
//! 8. an age plugin identity as the host key: the plugin runs under `sealbox.service`'s
//!    hardening (issue 18).
//!
//! The units are the repository's files, bound into the container unchanged, or rendered
//! from the module's own data: a test cannot pass on a copy that has drifted.
//!
//! Needs root, `systemd-nspawn`, `debootstrap` and a Debian mirror (the first run builds
//! the container root, about a minute; later runs reuse it). Where a container cannot
//! start, a case says SKIPPED by hand and fails under `CI=true`. How to run it, what it
//! takes: activation/README.md, "The real-systemd suite".

use sealbox_tests::nixos_units::{self, Context};
use sealbox_tests::nspawn::{self, Machine, Running};
use sealbox_tests::{require, workspace_root, Peers};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

/// What every case needs.
struct Env {
    rootfs: PathBuf,
    install: PathBuf,
    peers: Peers,
}

fn env() -> Result<Env, String> {
    sealbox_testkit::nspawn()?;
    let peers = Peers::get()?;
    let rootfs = nspawn::rootfs()?;
    Ok(Env {
        rootfs,
        install: sealbox_tests::install_bin(),
        peers,
    })
}

fn examples(file: &str) -> PathBuf {
    workspace_root().join("examples").join(file)
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// A fresh age identity on the host: (recipient, identity file text).
fn age_key(env: &Env, dir: &Path) -> (String, String) {
    let (recipient, file) = sealbox_tests::age_keygen(&env.peers, dir, "host-key");
    (recipient, read(&file))
}

/// `plain` (YAML) encrypted by the real sops for `recipient`.
fn sops_encrypt(env: &Env, dir: &Path, recipient: &str, plain: &str) -> Vec<u8> {
    let scratch = tempfile::tempdir_in(dir).unwrap();
    let f = scratch.path().join("plain.yaml");
    std::fs::write(&f, plain).unwrap();
    let o = Command::new(&env.peers.sops)
        .args(["--encrypt", "--age", recipient])
        .arg(&f)
        .current_dir(scratch.path())
        .env("SOPS_DISABLE_VERSION_CHECK", "1")
        .env_remove("SOPS_AGE_KEY_FILE")
        .stdin(Stdio::null())
        .output()
        .expect("run sops");
    assert!(
        o.status.success(),
        "sops --encrypt: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    o.stdout
}

/// The manifest `sealbox manifest --no-check-files` makes of a TOML description: the
/// shape the NixOS module writes.
fn manifest(env: &Env, dir: &Path, toml: &str) -> String {
    let scratch = tempfile::tempdir_in(dir).unwrap();
    let f = scratch.path().join("description.toml");
    std::fs::write(&f, toml).unwrap();
    let o = Command::new(&env.peers.sealbox)
        .args(["manifest", "--no-check-files"])
        .arg(&f)
        .current_dir(scratch.path())
        .stdin(Stdio::null())
        .output()
        .expect("run sealbox manifest");
    assert!(
        o.status.success(),
        "sealbox manifest: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).unwrap()
}

/// Lines of `text` starting with `prefix`.
fn lines_with(text: &str, prefix: &str) -> Vec<String> {
    text.lines()
        .filter(|l| l.starts_with(prefix))
        .map(str::to_string)
        .collect()
}

// ---- the NixOS shape --------------------------------------------------------------------------

const NIXOS_KEY: &str = "/var/lib/sops-nix/key.txt";

/// Renders unit `name` of the module's data file for `manifest` and puts it (with the links
/// NixOS makes for `wantedBy`/`requiredBy`) into the machine.
fn nixos_unit(name: &str, manifest: &str) -> nixos_units::Unit {
    nixos_units::render(
        &read(&nixos_units::data_file()),
        name,
        &Context {
            package: "/usr/local",
            manifest,
            key_paths: &[NIXOS_KEY],
        },
    )
    .unwrap_or_else(|e| panic!("{e}"))
}

fn install_nixos_unit(m: &Machine, name: &str, manifest: &str) -> nixos_units::Unit {
    let u = nixos_unit(name, manifest);
    m.write(
        &format!("/etc/systemd/system/{}", u.file_name),
        &u.text,
        0o644,
    );
    for l in &u.links {
        m.symlink(l, &format!("/etc/systemd/system/{}", u.file_name));
    }
    u
}

/// What a NixOS system has and Debian's systemd lacks, and what the NixOS cases share.
fn nixos_base(env: &Env, m: &mut Machine, key: &str) {
    // NixOS's own target, restarted by switch-to-configuration; the install unit is
    // RequiredBy= and Before= it. Debian's systemd 252 has no such unit.
    m.write(
        "/etc/systemd/system/sysinit-reactivation.target",
        "[Unit]\nDescription=Reactivate sysinit units (as NixOS defines it)\n",
        0o644,
    );
    m.write(NIXOS_KEY, key, 0o600);
    m.bind_program(&env.install, "/usr/local/bin/sealbox-install");
}

/// A service that records, when it starts or reloads, what its secret file held then:
/// `/var/log/e2e/<name>.log` gets `start <value>` / `reload <value>` (`MISSING` when the
/// file was not there). NixOS-style: default dependencies only, no ordering on the install.
const CONSUMER: &str = r#"#!/bin/sh
# e2e-consumer start|reload NAME FILE
v=$(cat "$3" 2>/dev/null) || v=MISSING
echo "$1 $v" >> "/var/log/e2e/$2.log"
[ "$1" = start ] && exec sleep infinity
exit 0
"#;

fn consumer(m: &Machine, name: &str, secret: &str, enabled: bool) {
    let unit = format!("app-{name}.service");
    m.write(
        &format!("/etc/systemd/system/{unit}"),
        format!(
            "[Unit]\nDescription=e2e consumer of {secret}\n\n[Service]\n\
             ExecStart=/usr/local/bin/e2e-consumer start {name} {secret}\n\
             ExecReload=/usr/local/bin/e2e-consumer reload {name} {secret}\n"
        ),
        0o644,
    );
    if enabled {
        m.symlink(
            &format!("/etc/systemd/system/multi-user.target.wants/{unit}"),
            &format!("/etc/systemd/system/{unit}"),
        );
    }
}

fn consumer_log(r: &Running, name: &str) -> Vec<String> {
    r.ok(&format!("cat /var/log/e2e/{name}.log 2>/dev/null || true"))
        .lines()
        .map(str::to_string)
        .collect()
}

/// Makes a missing ordering fail every time instead of now and then: the install takes
/// two seconds longer, so a service not ordered after it starts before it is done. The
/// drop-in adds no ordering of its own.
const SLOW_INSTALL: &str = "[Service]\nExecStartPre=/bin/sleep 2\n";

fn nixos_description(sops_file: &str) -> String {
    format!(
        r#"ageKeyFile = "{NIXOS_KEY}"
defaultSopsFile = "{sops_file}"
[secrets.a]
restartUnits = ["app-a.service"]
[secrets.b]
reloadUnits = ["app-b.service"]
[secrets.c]
restartUnits = ["app-c.service"]
[secrets.d]
restartUnits = ["app-d.service"]
"#
    )
}

#[test]
fn nixos_install_unit_runs_before_services_and_a_switch_restarts_exactly_the_listed_running_ones() {
    let env = require!(env());
    let mut m = Machine::new(&env.rootfs);
    let host = m.host_dir();
    let (recipient, key) = age_key(&env, &host);
    nixos_base(&env, &mut m, &key);
    // The "store": the sops file and manifest of generation 1.
    let sops1 = "/nix/store/e2e-secrets-1.yaml";
    let man1 = "/nix/store/e2e-manifest-1.json";
    m.write(
        sops1,
        sops_encrypt(&env, &host, &recipient, "a: a-1\nb: b-1\nc: c-1\nd: d-1\n"),
        0o444,
    );
    m.write(
        man1,
        manifest(&env, &host, &nixos_description(sops1)),
        0o444,
    );
    install_nixos_unit(&m, "sops-install-secrets", man1);
    m.write(
        "/etc/systemd/system/sops-install-secrets.service.d/50-e2e-slow.conf",
        SLOW_INSTALL,
        0o644,
    );
    m.write("/usr/local/bin/e2e-consumer", CONSUMER, 0o755);
    m.write("/var/log/e2e/.keep", "", 0o644);
    // a: restarted, b: reloaded, c: listed by a secret that does not change, d: listed but
    // not running (try-restart must not start it).
    consumer(&m, "a", "/run/secrets/a", true);
    consumer(&m, "b", "/run/secrets/b", true);
    consumer(&m, "c", "/run/secrets/c", true);
    consumer(&m, "d", "/run/secrets/d", false);

    let r = require!(m.boot());
    r.wait_booted();
    assert_eq!(r.show("sops-install-secrets.service", "Result"), "success");
    assert_eq!(
        r.show("sops-install-secrets.service", "ActiveState"),
        "active"
    );
    // Each running consumer found its secret at its start.
    for (name, v) in [("a", "a-1"), ("b", "b-1"), ("c", "c-1")] {
        assert_eq!(
            consumer_log(&r, name),
            [format!("start {v}")],
            "app-{name} at boot"
        );
        let installed = r.mono(
            "sops-install-secrets.service",
            "ActiveEnterTimestampMonotonic",
        );
        let started = r.mono(
            &format!("app-{name}.service"),
            "ExecMainStartTimestampMonotonic",
        );
        assert!(
            installed > 0 && installed <= started,
            "app-{name} started at {started} µs, before the install finished at {installed} µs"
        );
    }
    assert_eq!(r.show("app-d.service", "ActiveState"), "inactive");
    assert_eq!(
        r.ok("readlink /run/secrets; stat -f -c %T /run/secrets.d/"),
        "/run/secrets.d/1\nramfs\n"
    );
    let inv = |r: &Running, n: &str| r.show(&format!("app-{n}.service"), "InvocationID");
    let (a0, b0, c0) = (inv(&r, "a"), inv(&r, "b"), inv(&r, "c"));

    // A switch, as NixOS does it: a new manifest (new store paths), the unit's ExecStart
    // changes, the unit restarts together with sysinit-reactivation.target.
    let sops2 = "/nix/store/e2e-secrets-2.yaml";
    let man2 = "/nix/store/e2e-manifest-2.json";
    let enc2 = sops_encrypt(&env, &host, &recipient, "a: a-2\nb: b-2\nc: c-1\nd: d-2\n");
    let put = |path: &str, bytes: &[u8]| {
        let o = r.sh_with_input(&format!("cat > {path}"), bytes);
        assert!(o.status.success(), "{path}: {o:?}");
    };
    put(sops2, &enc2);
    put(
        man2,
        manifest(&env, &host, &nixos_description(sops2)).as_bytes(),
    );
    put(
        "/etc/systemd/system/sops-install-secrets.service",
        nixos_unit("sops-install-secrets", man2).text.as_bytes(),
    );
    r.ok("systemctl daemon-reload && systemctl restart sops-install-secrets.service sysinit-reactivation.target");
    r.wait_until("app-a's restart and app-b's reload", 60, |r| {
        consumer_log(r, "a").len() == 2 && consumer_log(r, "b").len() == 2
    });
    // Anything else the switch would (wrongly) cause has had time to happen.
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(consumer_log(&r, "a"), ["start a-1", "start a-2"]);
    assert_ne!(inv(&r, "a"), a0, "app-a was restarted");
    assert_eq!(consumer_log(&r, "b"), ["start b-1", "reload b-2"]);
    assert_eq!(inv(&r, "b"), b0, "app-b was reloaded, not restarted");
    assert_eq!(consumer_log(&r, "c"), ["start c-1"]);
    assert_eq!(inv(&r, "c"), c0, "app-c's secret did not change");
    assert_eq!(r.show("app-d.service", "ActiveState"), "inactive");
    assert!(
        consumer_log(&r, "d").is_empty(),
        "try-restart started app-d"
    );
    assert_eq!(r.ok("readlink /run/secrets"), "/run/secrets.d/2\n");
    let journal = r.journal("sops-install-secrets.service");
    assert!(
        journal.contains("modifying secrets: a, b, d"),
        "the install's log:\n{journal}"
    );
}

// ---- Vault/OpenBao at boot (NixOS shape) ------------------------------------------------------

/// The container's OpenBao: a dev server on its loopback (`--private-network` leaves the
/// container nothing else), started by systemd like any service.
const OPENBAO_DEV: &str = "[Unit]\nDescription=OpenBao dev server (e2e)\n\n[Service]\n\
    ExecStart=/usr/local/bin/bao server -dev -dev-root-token-id=e2e-root \
    -dev-listen-address=127.0.0.1:8200 -dev-no-store-token\n";

/// The host's Vault set-up inside the container, once the dev server answers: transit key
/// `host`, an AppRole with a known role id and secret id allowed to use that key only, and
/// the sops file encrypted 2-of-2 by the real sops (the host's age key RECIPIENT and the
/// transit key; a dev server keeps nothing, so the file is made anew at every boot).
const OPENBAO_SETUP: &str = r#"set -e
export BAO_ADDR=http://127.0.0.1:8200 BAO_TOKEN=e2e-root
for i in $(seq 100); do bao status >/dev/null 2>&1 && break; sleep 0.2; done
bao secrets enable transit
bao write -f transit/keys/host
bao auth enable approle
printf 'path "transit/decrypt/host" { capabilities = ["update"] }\n' | bao policy write host -
bao write auth/approle/role/host token_policies=host token_ttl=10m
bao write auth/approle/role/host/role-id role_id=e2e-role
bao write auth/approle/role/host/custom-secret-id secret_id=e2e-secret-id
mkdir -p /var/lib/e2e/work
cd /var/lib/e2e/work
printf 'creation_rules:\n  - key_groups:\n      - age:\n          - RECIPIENT\n      - hc_vault:\n          - http://127.0.0.1:8200/v1/transit/keys/host\n    shamir_threshold: 2\n' > .sops.yaml
printf 'password: from-vault\n' > plain.yaml
VAULT_TOKEN=e2e-root SOPS_DISABLE_VERSION_CHECK=1 HOME=/root sops encrypt plain.yaml > /var/lib/e2e/.db.new
mv /var/lib/e2e/.db.new /var/lib/e2e/db.yaml
"#;

/// The network manifest of the Vault cases: one secret of `db` (a 2-of-2 file the OpenBao
/// set-up writes after boot) into `/run/secrets-network`'s own generations.
fn network_manifest(env: &Env, host: &Path, key_file: &str, db: &str) -> String {
    manifest(
        env,
        host,
        &format!(
            "ageKeyFile = \"{key_file}\"\ndefaultSopsFile = \"{db}\"\n\
             secretsMountPoint = \"/run/secrets-network.d\"\n\
             symlinkPath = \"/run/secrets-network\"\n\
             [secrets.db-password]\nkey = \"password\"\n"
        ),
    )
}

/// An OpenBao dev server that runs from boot on (set up only later, by [`OPENBAO_SETUP`]),
/// and `app-db.service`, a consumer of the network secret ordered after `install_unit`, as
/// the module's docs and the example's README say.
fn vault_server_and_consumer(m: &Machine, install_unit: &str) {
    m.write(
        "/etc/systemd/system/openbao-dev.service",
        OPENBAO_DEV,
        0o644,
    );
    m.symlink(
        "/etc/systemd/system/multi-user.target.wants/openbao-dev.service",
        "/etc/systemd/system/openbao-dev.service",
    );
    m.write("/usr/local/bin/e2e-consumer", CONSUMER, 0o755);
    m.write("/var/log/e2e/.keep", "", 0o644);
    m.write(
        "/etc/systemd/system/app-db.service",
        format!(
            "[Unit]\nWants={install_unit}\nAfter={install_unit}\n\n[Service]\n\
             ExecStart=/usr/local/bin/e2e-consumer start db /run/secrets-network/db-password\n"
        ),
        0o644,
    );
    m.symlink(
        "/etc/systemd/system/multi-user.target.wants/app-db.service",
        "/etc/systemd/system/app-db.service",
    );
}

/// The first attempt of `install_unit` fails (no `db` file, no transit key yet); the unit
/// keeps its start job and the consumer waits for it.
fn network_install_fails_first_and_the_consumer_waits(r: &Running, install_unit: &str, db: &str) {
    r.wait_until("the network install's first failure", 60, |r| {
        r.journal(install_unit).contains(db)
    });
    assert_eq!(r.show(install_unit, "ActiveState"), "activating");
    assert_eq!(r.show("app-db.service", "ActiveState"), "inactive");
    assert!(consumer_log(r, "db").is_empty());
}

/// The consumer started once, with the secret there, after `install_unit` was done.
fn consumer_started_once_after(r: &Running, install_unit: &str) {
    r.wait_until("app-db's start", 30, |r| !consumer_log(r, "db").is_empty());
    assert_eq!(consumer_log(r, "db"), ["start from-vault"]);
    let installed = r.mono(install_unit, "ActiveEnterTimestampMonotonic");
    let started = r.mono("app-db.service", "ExecMainStartTimestampMonotonic");
    assert!(
        installed > 0 && installed <= started,
        "app-db started at {started} µs, before the network install finished at {installed} µs"
    );
}

#[test]
fn nixos_network_unit_retries_until_vault_answers_then_installs_a_two_of_two_secret_with_approle() {
    let env = require!(env());
    let bao = require!(sealbox_testkit::bao());
    let mut m = Machine::new(&env.rootfs);
    let host = m.host_dir();
    let (recipient, key) = age_key(&env, &host);
    nixos_base(&env, &mut m, &key);
    m.bind_program(&bao, "/usr/local/bin/bao");
    m.bind_ro(&env.peers.sops, "/usr/local/bin/sops");
    // The early manifest: an age-only secret. The network manifest (needsNetwork = true):
    // a secret of the file the Vault set-up writes, after boot.
    let local = "/nix/store/e2e-local.yaml";
    m.write(
        local,
        sops_encrypt(&env, &host, &recipient, "local: local-1\n"),
        0o444,
    );
    let early = "/nix/store/e2e-manifest.json";
    m.write(
        early,
        manifest(
            &env,
            &host,
            &format!(
                "ageKeyFile = \"{NIXOS_KEY}\"\ndefaultSopsFile = \"{local}\"\n[secrets.local]\n"
            ),
        ),
        0o444,
    );
    let db = "/var/lib/e2e/db.yaml";
    let network = "/nix/store/e2e-manifest-network.json";
    m.write(network, network_manifest(&env, &host, NIXOS_KEY, db), 0o444);
    install_nixos_unit(&m, "sops-install-secrets", early);
    let u = install_nixos_unit(&m, "sops-install-secrets-network", network);
    assert_eq!(u.manifest_kind, "network");
    // What sops.environment adds to the unit (the renderer leaves it to the module).
    m.write(
        "/etc/systemd/system/sops-install-secrets-network.service.d/50-e2e.conf",
        "[Service]\nEnvironment=VAULT_ROLE_ID=e2e-role\n\
         Environment=VAULT_SECRET_ID_FILE=/var/lib/sealbox/vault-secret-id\n",
        0o644,
    );
    m.write("/var/lib/sealbox/vault-secret-id", "e2e-secret-id\n", 0o600);
    vault_server_and_consumer(&m, "sops-install-secrets-network.service");

    let r = require!(m.boot());
    network_install_fails_first_and_the_consumer_waits(
        &r,
        "sops-install-secrets-network.service",
        db,
    );
    // The early install did not wait for any of this.
    r.wait_until("the early install", 60, |r| {
        r.show("sops-install-secrets.service", "ActiveState") == "active"
    });
    assert_eq!(r.ok("cat /run/secrets/local"), "local-1");
    r.ok(&OPENBAO_SETUP.replace("RECIPIENT", &recipient));
    r.wait_until("the network install", 60, |r| {
        r.show("sops-install-secrets-network.service", "ActiveState") == "active"
    });
    r.wait_booted();
    assert_eq!(
        r.show("sops-install-secrets-network.service", "Result"),
        "success"
    );
    assert_eq!(r.ok("cat /run/secrets-network/db-password"), "from-vault");
    // The file really is 2-of-2: two key groups, one of them the transit key.
    let file = r.ok(&format!("cat {db}"));
    assert!(
        file.contains("shamir_threshold: 2") && file.contains("vault:v1:"),
        "{file}"
    );
    // Two trees, each with its own generations: the network install did not touch
    // /run/secrets.
    assert_eq!(
        r.ok("readlink /run/secrets /run/secrets-network; stat -f -c %T /run/secrets-network.d/; ls /run/secrets.d"),
        "/run/secrets.d/1\n/run/secrets-network.d/1\nramfs\n1\nage-keys.txt\n"
    );
    consumer_started_once_after(&r, "sops-install-secrets-network.service");
}

// ---- the Debian shape (examples/systemd) ------------------------------------------------------

/// The demo key the example's secrets are encrypted for, and their values.
const DB_PASSWORD: &str = "correct horse battery staple";

/// The walkthrough's `demo-app`: says what it found at its start, then keeps running.
const DEMO_APP: &str = r#"#!/bin/sh
# demo-app --db-password-file FILE (the systemd end-to-end suite's stand-in)
f=$2
echo "demo-app: started as $(id -un); $f is $(stat -c '%a %U' "$f" 2>&1); db password: $(cat "$f" 2>&1)"
exec sleep infinity
"#;

/// The example units and manifest bound unchanged; `units` are enabled as `systemctl
/// enable` would. The sops file is the caller's business (bound or editable).
fn debian_machine(env: &Env, units: &[&str]) -> Machine {
    let mut m = Machine::new(&env.rootfs);
    for u in units {
        let f = examples("systemd").join(u);
        m.enable(u, &read(&f));
        m.bind_ro(&f, &format!("/etc/systemd/system/{u}"));
    }
    m.bind_ro(
        examples("systemd").join("manifest.json"),
        "/etc/sealbox/manifest.json",
    );
    m.bind_program(&env.install, "/usr/local/bin/sealbox-install");
    m.write("/usr/local/bin/demo-app", DEMO_APP, 0o755);
    // README step 6: addgroup --system demo-app && adduser --system --ingroup demo-app demo-app
    let id = m.free_system_id(990);
    m.append("/etc/group", &format!("demo-app:x:{id}:\n"));
    m.append(
        "/etc/passwd",
        &format!("demo-app:x:{id}:{id}::/nonexistent:/usr/sbin/nologin\n"),
    );
    m
}

fn demo_key() -> String {
    read(&examples("keys").join("demo-age-key.txt"))
}

/// demo-app's start lines this boot.
fn demo_starts(r: &Running) -> Vec<String> {
    lines_with(&r.journal("demo-app.service"), "demo-app: started")
}

/// demo-app started once, after sealbox.service finished, with the password from its
/// credential.
fn assert_demo_app_started_once_after_install(r: &Running, password: &str) {
    r.wait_until("demo-app's start line", 30, |r| !demo_starts(r).is_empty());
    let starts = demo_starts(r);
    assert_eq!(starts.len(), 1, "{starts:?}");
    assert!(
        starts[0].ends_with(&format!("db password: {password}")),
        "{starts:?}"
    );
    assert!(
        starts[0].contains("/run/credentials/demo-app.service/demo-app-db is 400 demo-app;"),
        "the credential is demo-app's own, read-only: {starts:?}"
    );
    let installed = r.mono("sealbox.service", "ActiveEnterTimestampMonotonic");
    let started = r.mono("demo-app.service", "ExecMainStartTimestampMonotonic");
    assert!(
        installed > 0 && installed <= started,
        "demo-app started at {started} µs, before sealbox.service finished at {installed} µs"
    );
}

#[test]
fn debian_unit_waits_for_a_late_host_key_then_the_consumer_gets_its_credential() {
    let env = require!(env());
    let mut m = debian_machine(&env, &["sealbox.service", "demo-app.service"]);
    m.bind_ro(
        examples("secrets.enc.yaml"),
        "/etc/sealbox/secrets.enc.yaml",
    );
    let r = require!(m.boot());
    // First boot: no key yet. sealbox.service is waiting; demo-app waits for it.
    r.wait_until("sealbox.service to wait for the key", 60, |r| {
        r.journal("sealbox.service")
            .contains("waiting up to 60 s for a key to appear at /etc/sealbox/key.txt")
    });
    assert_eq!(r.show("sealbox.service", "ActiveState"), "activating");
    assert_eq!(r.show("demo-app.service", "ActiveState"), "inactive");
    assert!(!r.sh("test -e /run/secrets").status.success());
    // The key appears (as a provisioning step would write it).
    let o = r.sh_with_input(
        "umask 077 && cat > /etc/sealbox/.key.new && mv /etc/sealbox/.key.new /etc/sealbox/key.txt",
        demo_key().as_bytes(),
    );
    assert!(o.status.success(), "{o:?}");
    r.wait_booted();
    assert_eq!(r.show("sealbox.service", "Result"), "success");
    assert_demo_app_started_once_after_install(&r, DB_PASSWORD);
    assert_eq!(
        r.ok("stat -c '%a %U %G' /run/credstore/demo-app-db /etc/demo-app /run/secrets/rendered/demo-app.env; stat -f -c %T /run/secrets.d/; readlink /etc/demo-app/db-password"),
        "400 root root\n755 root root\n440 root demo-app\nramfs\n/run/secrets/db-password\n",
        "credential, custom path's parent (0755, see sealbox.service's comment), template"
    );
}

#[test]
fn debian_network_unit_retries_until_vault_answers_and_its_consumer_waits_for_the_secret() {
    let env = require!(env());
    let bao = require!(sealbox_testkit::bao());
    let mut m = debian_machine(&env, &["sealbox.service", "sealbox-network.service"]);
    m.bind_ro(
        examples("secrets.enc.yaml"),
        "/etc/sealbox/secrets.enc.yaml",
    );
    m.write("/etc/sealbox/key.txt", demo_key(), 0o600);
    m.bind_program(&bao, "/usr/local/bin/bao");
    m.bind_ro(&env.peers.sops, "/usr/local/bin/sops");
    // The second manifest (as the unit's comment describes it): a secret of a file that is
    // 2-of-2, the host key and a transit key; it is made once OpenBao is set up, after boot.
    let host = m.host_dir();
    let db = "/var/lib/e2e/db.yaml";
    m.write(
        "/etc/sealbox/manifest-network.json",
        network_manifest(&env, &host, "/etc/sealbox/key.txt", db),
        0o644,
    );
    m.write(
        "/etc/sealbox/vault.env",
        "VAULT_ROLE_ID=e2e-role\nVAULT_SECRET_ID_FILE=/etc/sealbox/vault-secret-id\n",
        0o600,
    );
    m.write("/etc/sealbox/vault-secret-id", "e2e-secret-id\n", 0o600);
    vault_server_and_consumer(&m, "sealbox-network.service");

    let r = require!(m.boot());
    network_install_fails_first_and_the_consumer_waits(&r, "sealbox-network.service", db);
    // The early unit did not wait for any of this.
    r.wait_until("the early install", 60, |r| {
        r.show("sealbox.service", "ActiveState") == "active"
    });
    assert_eq!(r.ok("cat /run/secrets/db-password"), DB_PASSWORD);
    let recipient = demo_key()
        .lines()
        .find_map(|l| l.strip_prefix("# public key: "))
        .expect("the demo key's recipient")
        .to_string();
    r.ok(&OPENBAO_SETUP.replace("RECIPIENT", &recipient));
    r.wait_until("the network install", 60, |r| {
        r.show("sealbox-network.service", "ActiveState") == "active"
    });
    r.wait_booted();
    assert_eq!(r.ok("cat /run/secrets-network/db-password"), "from-vault");
    assert_eq!(
        r.ok("readlink /run/secrets-network; stat -f -c %T /run/secrets-network.d/"),
        "/run/secrets-network.d/1\nramfs\n"
    );
    consumer_started_once_after(&r, "sealbox-network.service");
}

#[test]
fn watch_unit_restarts_the_consumer_once_per_sops_edit_and_keeps_all_on_a_broken_edit() {
    let env = require!(env());
    let mut m = debian_machine(
        &env,
        &[
            "sealbox.service",
            "sealbox-watch.service",
            "demo-app.service",
        ],
    );
    // Editable here: the edits are made with the real sops, inside the container.
    m.write(
        "/etc/sealbox/secrets.enc.yaml",
        read(&examples("secrets.enc.yaml")),
        0o644,
    );
    m.write("/etc/sealbox/key.txt", demo_key(), 0o600);
    // The Go sops is static: it runs in any container (no --version probe, which would
    // look for updates online).
    m.bind_ro(&env.peers.sops, "/usr/local/bin/sops");
    let r = require!(m.boot());
    r.wait_booted();
    assert_eq!(r.show("sealbox-watch.service", "ActiveState"), "active");
    assert_demo_app_started_once_after_install(&r, DB_PASSWORD);
    r.wait_until("the watch's first activation", 30, |r| {
        r.journal("sealbox-watch.service")
            .contains("watch: activation 1 done")
    });
    let inv0 = r.show("demo-app.service", "InvocationID");
    let gen0 = r.ok("readlink /run/secrets");

    // An edit with sops: one activation, one restart of demo-app.
    r.ok("SOPS_AGE_KEY_FILE=/etc/sealbox/key.txt SOPS_DISABLE_VERSION_CHECK=1 \
          sops set /etc/sealbox/secrets.enc.yaml '[\"database\"][\"password\"]' '\"rotated by sops\"'");
    r.wait_until("demo-app to start with the new password", 60, |r| {
        demo_starts(r)
            .last()
            .is_some_and(|l| l.ends_with("db password: rotated by sops"))
    });
    // Three debounce periods: a second activation or restart would have happened.
    std::thread::sleep(Duration::from_millis(1500));
    let starts = demo_starts(&r);
    assert_eq!(starts.len(), 2, "one restart for one edit: {starts:?}");
    let inv1 = r.show("demo-app.service", "InvocationID");
    assert_ne!(inv1, inv0);
    let gen1 = r.ok("readlink /run/secrets");
    assert_ne!(gen1, gen0, "a new generation");
    assert_eq!(
        r.ok("cat /run/secrets/db-password /run/credstore/demo-app-db"),
        "rotated by sopsrotated by sops"
    );
    let watch_log = r.journal("sealbox-watch.service");
    assert_eq!(
        lines_with(&watch_log, "sealbox-install: watch: activation 2 done").len(),
        1,
        "{watch_log}"
    );
    assert!(!watch_log.contains("activation 3"), "{watch_log}");

    // A broken edit: the value replaced by hand in the encrypted file (the MAC no longer
    // matches). The activation fails; generation, secret and consumer stay.
    r.ok("sed -i 's/^\\(    password: \\)ENC\\[.*$/\\1typed-in-by-hand/' /etc/sealbox/secrets.enc.yaml \
          && grep -q 'password: typed-in-by-hand' /etc/sealbox/secrets.enc.yaml");
    r.wait_until("the watch's failed activation", 60, |r| {
        r.journal("sealbox-watch.service")
            .contains("watch: activation 3 failed; the previous generation stays active")
    });
    std::thread::sleep(Duration::from_millis(1500));
    let watch_log = r.journal("sealbox-watch.service");
    assert!(
        watch_log.contains("/etc/sealbox/secrets.enc.yaml"),
        "the error names the file:\n{watch_log}"
    );
    assert_eq!(r.ok("readlink /run/secrets"), gen1);
    assert_eq!(r.ok("cat /run/secrets/db-password"), "rotated by sops");
    assert_eq!(demo_starts(&r).len(), 2);
    assert_eq!(r.show("demo-app.service", "InvocationID"), inv1);
    assert_eq!(r.show("sealbox-watch.service", "ActiveState"), "active");
    assert_eq!(r.show("sealbox-watch.service", "NRestarts"), "0");
}

#[test]
fn after_a_reboot_the_secrets_are_back_on_a_fresh_ramfs_before_the_consumer_starts() {
    let env = require!(env());
    let mut m = debian_machine(&env, &["sealbox.service", "demo-app.service"]);
    m.bind_ro(
        examples("secrets.enc.yaml"),
        "/etc/sealbox/secrets.enc.yaml",
    );
    m.write("/etc/sealbox/key.txt", demo_key(), 0o600);
    {
        let r = require!(m.boot());
        r.wait_booted();
        assert_demo_app_started_once_after_install(&r, DB_PASSWORD);
        // A second generation and a stray file: a ramfs that survived would show both.
        r.ok("systemctl restart sealbox.service && touch /run/secrets.d/left-from-boot-1");
        assert_eq!(r.ok("readlink /run/secrets"), "/run/secrets.d/2\n");
        r.poweroff();
    }
    let r = require!(m.boot());
    r.wait_booted();
    assert_eq!(
        r.ok("ls -A /run/secrets.d; readlink /run/secrets; stat -f -c %T /run/secrets.d/"),
        "1\nage-keys.txt\n/run/secrets.d/1\nramfs\n",
        "generation 1 on a fresh ramfs, nothing left from the first boot"
    );
    assert_demo_app_started_once_after_install(&r, DB_PASSWORD);
    assert_eq!(
        r.ok("cat /run/credstore/demo-app-db"),
        DB_PASSWORD,
        "the credential is back too"
    );
}

/// The shipped unit's hardening (no new privileges, a system call filter, unix sockets only,
/// `MemoryDenyWriteExecute=`, `DevicePolicy=closed`) lets an age plugin run (issue 18): the
/// host key is the test plugin's identity, the plugin sits in `/usr/local/bin` (on the
/// unit's default PATH), and the secrets file was written by the real sops to the plugin
/// recipient. A plugin that needs a device gets it through the drop-in examples/systemd's
/// README shows ("Age plugins at boot").
#[test]
fn a_plugin_key_opens_the_secrets_under_the_hardened_debian_unit() {
    let env = require!(env());
    let plugin = require!(sealbox_testkit::sealboxtest_plugin());
    let mut m = debian_machine(&env, &["sealbox.service", "demo-app.service"]);
    let gen = workspace_root().join("tests/vectors/generated");
    // The example's secrets, re-encrypted by the real sops to the plugin recipient (sops
    // runs the plugin from PATH to wrap).
    let dir = m.host_dir();
    let scratch = tempfile::tempdir_in(&dir).unwrap();
    let path = require!(sealbox_testkit::plugin_path_dir(
        &scratch.path().join("bin")
    ));
    let sops = |args: &[&str], envs: &[(&str, &Path)]| {
        let o = Command::new(&env.peers.sops)
            .args(args)
            .current_dir(scratch.path())
            .env("PATH", &path)
            .env("SOPS_DISABLE_VERSION_CHECK", "1")
            .env_remove("SOPS_AGE_KEY")
            .env_remove("SOPS_AGE_KEY_FILE")
            .envs(envs.iter().copied())
            .stdin(Stdio::null())
            .output()
            .expect("run sops");
        assert!(
            o.status.success(),
            "sops {args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        o.stdout
    };
    let plain = sops(
        &["decrypt", examples("secrets.enc.yaml").to_str().unwrap()],
        &[(
            "SOPS_AGE_KEY_FILE",
            &examples("keys").join("demo-age-key.txt"),
        )],
    );
    std::fs::write(scratch.path().join("secrets.yaml"), plain).unwrap();
    let recipient = read(&gen.join("plugin.recipient"));
    let enc = sops(&["encrypt", "--age", recipient.trim(), "secrets.yaml"], &[]);
    assert!(String::from_utf8_lossy(&enc).contains(&format!("recipient: {}", recipient.trim())));
    m.write("/etc/sealbox/secrets.enc.yaml", enc, 0o644);
    m.write(
        "/etc/sealbox/key.txt",
        read(&gen.join("plugin-identity.txt")),
        0o600,
    );
    // Bound without the --version probe bind_program makes (a plugin has no such flag);
    // it is built like sealbox-install, whose probe passed.
    m.bind_ro(&plugin, "/usr/local/bin/age-plugin-sealboxtest");
    let r = require!(m.boot());
    r.wait_booted();
    assert_eq!(r.show("sealbox.service", "Result"), "success");
    assert_demo_app_started_once_after_install(&r, DB_PASSWORD);
}

// ---- user secrets (NixOS shape) ---------------------------------------------------------------

/// sha512-crypt of "hunter2" (`openssl passwd -6 -salt sealboxe2e hunter2`).
const ALICE_HASH: &str =
    "$6$sealboxe2e$y6Sk0KyCqNP.1vl99EhccZ1OvkGKbhrCyxJMOi.ZblD4s1S8vsxnSHh0xkOwDiko62JFCmkpg1Zn86.pWdyub0";

#[test]
fn nixos_for_users_unit_installs_before_sysusers_creates_the_user_with_its_password() {
    let env = require!(env());
    let mut m = Machine::new(&env.rootfs);
    let host = m.host_dir();
    let (recipient, key) = age_key(&env, &host);
    nixos_base(&env, &mut m, &key);
    let sops = "/nix/store/e2e-secrets.yaml";
    m.write(
        sops,
        sops_encrypt(
            &env,
            &host,
            &recipient,
            &format!("alice-password: '{ALICE_HASH}'\nalice-token: tok-alice\n"),
        ),
        0o444,
    );
    // The module's two manifests: neededForUsers secrets apart, in /run/secrets-for-users.
    let users_manifest = "/nix/store/e2e-manifest-for-users.json";
    m.write(
        users_manifest,
        manifest(
            &env,
            &host,
            &format!(
                "ageKeyFile = \"{NIXOS_KEY}\"\ndefaultSopsFile = \"{sops}\"\n\
                 secretsMountPoint = \"/run/secrets-for-users.d\"\n\
                 symlinkPath = \"/run/secrets-for-users\"\n[secrets.alice-password]\n"
            ),
        ),
        0o444,
    );
    let regular_manifest = "/nix/store/e2e-manifest.json";
    m.write(
        regular_manifest,
        manifest(
            &env,
            &host,
            &format!(
                "ageKeyFile = \"{NIXOS_KEY}\"\ndefaultSopsFile = \"{sops}\"\n\
                 [secrets.alice-token]\nowner = \"alice\"\n"
            ),
        ),
        0o444,
    );
    let u = install_nixos_unit(&m, "sops-install-secrets-for-users", users_manifest);
    assert_eq!(u.manifest_kind, "users");
    assert!(u.text.contains(" --ignore-passwd "), "{}", u.text);
    install_nixos_unit(&m, "sops-install-secrets", regular_manifest);
    m.write(
        "/etc/systemd/system/sops-install-secrets-for-users.service.d/50-e2e-slow.conf",
        SLOW_INSTALL,
        0o644,
    );
    // The user, and its password handed to systemd-sysusers as a credential (what a
    // sysusers-based NixOS does with hashedPasswordFile).
    m.write(
        "/etc/sysusers.d/e2e-alice.conf",
        "u alice - \"sealbox e2e user\" /home/alice /bin/sh\n",
        0o644,
    );
    m.write(
        "/etc/systemd/system/systemd-sysusers.service.d/50-e2e-password.conf",
        "[Service]\nLoadCredential=passwd.hashed-password.alice:/run/secrets-for-users/alice-password\n",
        0o644,
    );
    assert!(
        !m.read("/etc/passwd").contains("\nalice:"),
        "alice must not exist before the boot"
    );

    let r = require!(m.boot());
    r.wait_booted();
    for unit in [
        "sops-install-secrets-for-users.service",
        "systemd-sysusers.service",
        "sops-install-secrets.service",
    ] {
        assert_eq!(r.show(unit, "Result"), "success", "{unit}");
        assert_eq!(r.show(unit, "ActiveState"), "active", "{unit}");
    }
    let for_users = r.mono(
        "sops-install-secrets-for-users.service",
        "ActiveEnterTimestampMonotonic",
    );
    let sysusers_start = r.mono(
        "systemd-sysusers.service",
        "ExecMainStartTimestampMonotonic",
    );
    assert!(
        for_users > 0 && for_users <= sysusers_start,
        "systemd-sysusers ran at {sysusers_start} µs, before the for-users install finished at {for_users} µs"
    );
    assert_eq!(
        r.ok("getent shadow alice | cut -d: -f2"),
        format!("{ALICE_HASH}\n"),
        "systemd-sysusers created alice with the password from /run/secrets-for-users"
    );
    assert_eq!(
        r.ok("readlink /run/secrets-for-users; stat -f -c %T /run/secrets-for-users.d/; stat -c '%a %U %G' /run/secrets-for-users/alice-password"),
        "/run/secrets-for-users.d/1\nramfs\n400 root root\n"
    );
    // The regular install runs after systemd-sysusers: alice exists for it.
    assert_eq!(
        r.ok("stat -c %U /run/secrets/alice-token; cat /run/secrets/alice-token"),
        "alice\ntok-alice"
    );
}

// ---- PGP key sources at boot (NixOS shape) ----------------------------------------------------

/// The install unit of the NixOS module reading `manifest`, with the key paths it names.
fn install_pgp_unit(m: &Machine, manifest: &str, key_paths: &[&str], gpg_exec: &str) {
    let u = nixos_units::render(
        &read(&nixos_units::data_file()),
        "sops-install-secrets",
        &Context {
            package: "/usr/local",
            manifest,
            key_paths,
        },
    )
    .unwrap_or_else(|e| panic!("{e}"));
    m.write(
        &format!("/etc/systemd/system/{}", u.file_name),
        &u.text,
        0o644,
    );
    for l in &u.links {
        m.symlink(l, &format!("/etc/systemd/system/{}", u.file_name));
    }
    // What the module adds from sops.environment with a gnupg key source.
    m.write(
        "/etc/systemd/system/sops-install-secrets.service.d/50-e2e-gpg.conf",
        format!("[Service]\nEnvironment=\"SOPS_GPG_EXEC={gpg_exec}\"\n"),
        0o644,
    );
}

/// A manifest installing sops-nix's test files `secrets` ((name, file in the container,
/// format, key)) into /run/secrets with the key sources `keys` (JSON members).
fn pgp_manifest(secrets: &[(&str, &str, &str, &str)], keys: &str) -> String {
    let items: Vec<String> = secrets
        .iter()
        .map(|(name, file, format, key)| {
            format!(
                r#"{{"name":"{name}","sopsFile":"{file}","format":"{format}","key":"{key}","mode":"0400","owner":null,"group":null,"path":"/run/secrets/{name}","restartUnits":[],"reloadUnits":[]}}"#
            )
        })
        .collect();
    format!(
        r#"{{"secrets":[{}],"templates":[],"placeholderBySecretName":{{}},"secretsMountPoint":"/run/secrets.d","symlinkPath":"/run/secrets","keepGenerations":1,"useTmpfs":false,"ageKeyFile":null,"ageSshKeyPaths":[],{keys},"userMode":false,"logging":{{"keyImport":true,"secretChanges":true}}}}"#,
        items.join(",")
    )
}

/// The command lines of the container's gpg-agents (none should be left).
fn gpg_agents(r: &Running) -> Vec<String> {
    r.ok("for p in /proc/[0-9]*; do tr '\\0' ' ' < $p/cmdline 2>/dev/null; echo; done")
        .lines()
        .filter(|l| l.contains("gpg-agent"))
        .map(str::to_string)
        .collect()
}

/// The host's GnuPG programs, bound into the container at their usual paths together with
/// the libraries the minbase root lacks (the host must run the same Debian release, as for
/// sealbox-install itself: each program's `--version` is checked at boot).
fn bind_host_gnupg(m: &mut Machine) -> Result<(), String> {
    let programs = ["gpg", "gpg-agent", "gpgconf", "gpg-connect-agent"];
    let mut libs = Vec::new();
    for p in programs {
        let host = sealbox_testkit::which(p).ok_or(format!("{p} is not installed (gnupg)"))?;
        m.bind_program(&host, &format!("/usr/bin/{p}"));
        let ldd = Command::new("ldd")
            .arg(&host)
            .output()
            .map_err(|e| format!("ldd: {e}"))?;
        for l in String::from_utf8_lossy(&ldd.stdout).lines() {
            let mut w = l.split_whitespace();
            if let (Some(name), Some("=>"), Some(path)) = (w.next(), w.next(), w.next()) {
                // At the host's library directory (whatever the architecture), with /lib
                // resolved to /usr/lib as in the merged-/usr root.
                let dir = Path::new(path)
                    .parent()
                    .and_then(|d| std::fs::canonicalize(d).ok())
                    .ok_or(format!("ldd {}: {path}: no directory", host.display()))?;
                let guest = format!("{}/{name}", dir.display());
                if !m.root_has(&guest) && !libs.contains(&guest) {
                    m.bind_ro(path, &guest);
                    libs.push(guest);
                }
            }
        }
    }
    Ok(())
}

const SOPS_NIX_FILES: &str = "/etc/sops-nix-test";

#[test]
fn nixos_install_unit_decrypts_at_boot_with_an_rsa_host_key_without_gpg_then_with_a_gnupg_home() {
    let env = require!(env());
    let gpg = require!(sealbox_testkit::gpg());
    let vectors = sealbox_tests::vectors_dir("sops-nix");
    let mut m = Machine::new(&env.rootfs);
    m.bind_program(&env.install, "/usr/local/bin/sealbox-install");
    m.write(
        "/etc/systemd/system/sysinit-reactivation.target",
        "[Unit]\nDescription=Reactivate sysinit units (as NixOS defines it)\n",
        0o644,
    );
    m.bind_ro(&vectors, SOPS_NIX_FILES);
    let file = |f: &str| format!("{SOPS_NIX_FILES}/{f}");
    let (yaml, env_file, json, bin, ini) = (
        file("secrets.yaml"),
        file("secrets.env"),
        file("secrets.json"),
        file("secrets.bin"),
        file("secrets.ini"),
    );

    // Boot 1: sshKeyPaths, the RSA host key sops-nix's files are encrypted to; the
    // minbase root has no gpg at all.
    let rsa = "/etc/ssh/ssh_host_rsa_key";
    m.write(rsa, read(&vectors.join("ssh-key")), 0o600);
    let man1 = "/nix/store/e2e-pgp-manifest-1.json";
    m.write(
        man1,
        pgp_manifest(
            &[
                ("yaml", &yaml, "yaml", "test_key"),
                ("env", &env_file, "dotenv", ""),
            ],
            &format!(r#""sshKeyPaths":["{rsa}"],"gnupgHome":null"#),
        ),
        0o444,
    );
    install_pgp_unit(&m, man1, &[rsa], "/nix/store/e2e-gnupg/bin/gpg");
    {
        let r = require!(m.boot());
        r.wait_booted();
        assert_eq!(
            r.ok("for p in gpg gpg-agent gpgconf; do for d in /usr/local/bin /usr/bin /usr/sbin; do \
                  if [ -e $d/$p ]; then echo $d/$p; fi; done; done"),
            "",
            "the container must have no gpg for this boot"
        );
        assert_eq!(r.show("sops-install-secrets.service", "Result"), "success");
        assert_eq!(r.ok("cat /run/secrets/yaml"), "test_value");
        assert_eq!(
            r.ok("cat /run/secrets/env"),
            read(&vectors.join("secrets.env.plain"))
        );
        let journal = r.journal("sops-install-secrets.service");
        assert!(
            journal.contains(&format!(
                "Imported {rsa} as GPG key with fingerprint 2504791468b153b8a3963cc97ba53d1919c5dfd4"
            )),
            "{journal}"
        );
        assert_eq!(r.ok("ls -A /run/secrets.d"), "1\n", "no keyring written");
        r.poweroff();
    }

    // Boot 2: gnupgHome holding key.asc (imported on the host with the real gpg), and the
    // host's gpg bound in. The gpg-agent decrypting starts must be gone once the
    // RemainAfterExit unit has finished.
    require!(bind_host_gnupg(&mut m));
    let host_home = sealbox_testkit::gnupg::GpgHome::new(&gpg);
    host_home.import(&vectors.join("key.asc"));
    host_home.kill_all();
    let home = "/var/lib/sops-nix/gnupg";
    m.mkdir(home, 0o700);
    for rel in ["pubring.kbx", "trustdb.gpg"] {
        if let Ok(bytes) = std::fs::read(host_home.path().join(rel)) {
            m.write(&format!("{home}/{rel}"), bytes, 0o600);
        }
    }
    m.mkdir(&format!("{home}/private-keys-v1.d"), 0o700);
    for e in std::fs::read_dir(host_home.path().join("private-keys-v1.d")).unwrap() {
        let e = e.unwrap();
        let name = e.file_name().to_string_lossy().into_owned();
        m.write(
            &format!("{home}/private-keys-v1.d/{name}"),
            std::fs::read(e.path()).unwrap(),
            0o600,
        );
    }
    let man2 = "/nix/store/e2e-pgp-manifest-2.json";
    m.write(
        man2,
        pgp_manifest(
            &[
                ("yaml", &yaml, "yaml", "test_key"),
                ("json", &json, "json", "test_key"),
                ("bin", &bin, "binary", ""),
                ("env", &env_file, "dotenv", ""),
                ("ini", &ini, "ini", ""),
            ],
            &format!(r#""sshKeyPaths":[],"gnupgHome":"{home}""#),
        ),
        0o444,
    );
    install_pgp_unit(&m, man2, &[home], "/usr/bin/gpg");
    let r = require!(m.boot());
    r.wait_booted();
    assert_eq!(
        r.show("sops-install-secrets.service", "Result"),
        "success",
        "{}",
        r.journal("sops-install-secrets.service")
    );
    assert_eq!(
        r.show("sops-install-secrets.service", "ActiveState"),
        "active"
    );
    for (name, plain) in [
        ("yaml", None),
        ("json", None),
        ("bin", Some("secrets.bin.plain")),
        ("env", Some("secrets.env.plain")),
        ("ini", Some("secrets.ini.plain")),
    ] {
        let want = match plain {
            None => "test_value".to_string(),
            Some(f) => read(&vectors.join(f)),
        };
        assert_eq!(r.ok(&format!("cat /run/secrets/{name}")), want, "{name}");
    }
    assert_eq!(
        gpg_agents(&r),
        Vec::<String>::new(),
        "a gpg-agent outlived sealbox-install"
    );
    let journal = r.journal("sops-install-secrets.service");
    assert!(!journal.contains("cannot stop the gpg-agent"), "{journal}");
}

// ---- the docs quote the files -------------------------------------------------------------------

/// examples/systemd/README.md quotes demo-app.service's important lines; they must be the
/// file's (the suite boots the file, readers copy the README).
#[test]
fn the_readme_quotes_lines_of_the_demo_app_unit_file() {
    let readme = read(&examples("systemd").join("README.md"));
    let unit = read(&examples("systemd").join("demo-app.service"));
    let block = readme
        .split("```ini\n")
        .find(|b| b.contains("LoadCredential=demo-app-db"))
        .and_then(|b| b.split("```").next())
        .expect("README.md quotes demo-app.service in an ini block");
    for l in block.lines().filter(|l| !l.trim().is_empty()) {
        assert!(
            unit.lines().any(|u| u == l),
            "README.md quotes {l:?}, which demo-app.service does not have"
        );
    }
}
