//! Real OpenBao servers for the Vault transit tests: a dev server, and a three-node Raft
//! cluster, each on free loopback ports with its own temporary directory.
//!
//! Why real servers: the transit client's whole job is to talk to Vault/OpenBao the way
//! sops does and to survive what real clusters do (sealed nodes, standbys that answer 307
//! while the active node is gone, re-elections). A fake server would only test our own
//! reading of the API.
//!
//! Every process started here is stopped by its PID when its handle is dropped (also when
//! a test panics), and every wait is bounded. The `bao` CLI runs with `HOME` set to the
//! server's temporary directory, so no token helper ever writes into the real home, and
//! with the caller's `VAULT_*`/`BAO_*` variables removed, so a developer's own Vault
//! settings cannot leak into a test.
//!
//! Typical use:
//!
//! ```no_run
//! let bao = sealbox_testkit::require!(sealbox_testkit::bao());
//! let srv = sealbox_testkit::openbao::DevServer::start(&bao).unwrap();
//! srv.enable_transit().unwrap();
//! srv.create_key("app").unwrap();
//! ```

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// How long a server may take to listen (a dev server needs about 0.2 s here).
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// A private temporary directory, removed on drop.
#[derive(Debug)]
pub struct TempDir(PathBuf);

impl TempDir {
    /// A new empty directory under the system temp dir, mode 0700.
    pub fn new(tag: &str) -> std::io::Result<TempDir> {
        use std::os::unix::fs::DirBuilderExt;
        static N: AtomicU32 = AtomicU32::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let p = std::env::temp_dir().join(format!(
            "sealbox-{tag}-{}-{}-{nanos}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::DirBuilder::new().mode(0o700).create(&p)?;
        Ok(TempDir(p))
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A loopback port nobody listens on right now, with `port + 1` free too (OpenBao puts a
/// dev server's cluster listener on the next port). Another process may take it before
/// the server binds; the start functions retry with new ports when that happens.
pub fn free_port_pair() -> u16 {
    loop {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        let p = l.local_addr().expect("local addr").port();
        if p < u16::MAX && TcpListener::bind(("127.0.0.1", p + 1)).is_ok() {
            return p;
        }
    }
}

/// A loopback address where nothing listens (for "server down" tests): a port that was
/// free a moment ago.
pub fn dead_address() -> String {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    let p = l.local_addr().expect("local addr").port();
    drop(l);
    format!("http://127.0.0.1:{p}")
}

/// A minimal plain-HTTP/1.0 request to a loopback server: `(status, body)`. Only for the
/// harness's own readiness checks (sys/health, sys/leader), which must not depend on the
/// client under test.
pub fn http(
    addr: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&str>,
) -> std::io::Result<(u16, String)> {
    let hostport = addr
        .strip_prefix("http://")
        .ok_or_else(|| std::io::Error::other(format!("{addr}: only http:// is supported")))?;
    let sa: SocketAddr = hostport
        .parse()
        .map_err(|e| std::io::Error::other(format!("{hostport}: {e}")))?;
    let mut s = TcpStream::connect_timeout(&sa, Duration::from_secs(2))?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    s.set_write_timeout(Some(Duration::from_secs(5)))?;
    let body = body.unwrap_or("");
    let mut req = format!("{method} {path} HTTP/1.0\r\nHost: {hostport}\r\n");
    if let Some(t) = token {
        req.push_str(&format!("X-Vault-Token: {t}\r\n"));
    }
    req.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    s.write_all(req.as_bytes())?;
    let mut out = Vec::new();
    s.read_to_end(&mut out)?;
    let text = String::from_utf8_lossy(&out).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("no HTTP status in {text:?}")))?;
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    Ok((status, body))
}

/// `sys/health`'s status code: 200 active, 429 standby, 501 not initialised, 503 sealed.
pub fn health(addr: &str) -> Option<u16> {
    http(addr, "GET", "/v1/sys/health", None, None)
        .ok()
        .map(|(s, _)| s)
}

/// Polls `f` every 50 ms until it returns `Some`, for at most `limit`.
pub fn wait_for<T>(
    limit: Duration,
    what: &str,
    mut f: impl FnMut() -> Option<T>,
) -> Result<T, String> {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return Ok(v);
        }
        if start.elapsed() > limit {
            return Err(format!("timed out after {limit:?} waiting for {what}"));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn json(s: &str, what: &str) -> Result<serde_json::Value, String> {
    serde_json::from_str(s).map_err(|e| format!("{what}: not JSON ({e}): {s}"))
}

fn json_str(v: &serde_json::Value, ptr: &str, what: &str) -> Result<String, String> {
    v.pointer(ptr)
        .and_then(|x| x.as_str())
        .map(str::to_string)
        .ok_or_else(|| format!("{what}: no {ptr} in {v}"))
}

/// Runs the `bao` CLI against `addr` with `token`: its stdout, or an error with its stderr.
fn run_bao(
    bin: &Path,
    home: &Path,
    addr: &str,
    token: Option<&str>,
    cacert: Option<&Path>,
    args: &[&str],
) -> Result<String, String> {
    let mut c = Command::new(bin);
    c.args(args).stdin(Stdio::null()).env("HOME", home);
    for (k, _) in std::env::vars_os() {
        let k = k.to_string_lossy();
        if k.starts_with("VAULT_") || k.starts_with("BAO_") {
            c.env_remove(&*k);
        }
    }
    c.env("BAO_ADDR", addr);
    if let Some(t) = token {
        c.env("BAO_TOKEN", t);
    }
    if let Some(ca) = cacert {
        c.env("BAO_CACERT", ca);
    }
    let out = c.output().map_err(|e| format!("{}: {e}", bin.display()))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "bao {} (at {addr}) failed: {}{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout)
        ))
    }
}

type Bao<'a> = &'a dyn Fn(&[&str]) -> Result<String, String>;

fn put_policy(bao: Bao<'_>, dir: &Path, name: &str, hcl: &str) -> Result<(), String> {
    let f = dir.join(format!("policy-{name}.hcl"));
    std::fs::write(&f, hcl).map_err(|e| e.to_string())?;
    bao(&["policy", "write", name, &f.to_string_lossy()]).map(drop)
}

fn approle(
    bao: Bao<'_>,
    dir: &Path,
    mount: &str,
    role: &str,
    key: &str,
) -> Result<AppRole, String> {
    let auths = bao(&["auth", "list", "-format=json"])?;
    if json(&auths, "auth list")?
        .get(format!("{mount}/"))
        .is_none()
    {
        bao(&["auth", "enable", &format!("-path={mount}"), "approle"])?;
    }
    let policy = format!("transit-{key}");
    put_policy(
        bao,
        dir,
        &policy,
        &DevServer::transit_policy("transit", key),
    )?;
    bao(&[
        "write",
        &format!("auth/{mount}/role/{role}"),
        &format!("token_policies={policy}"),
        "token_ttl=10m",
        "secret_id_ttl=10m",
    ])?;
    let r = bao(&[
        "read",
        "-format=json",
        &format!("auth/{mount}/role/{role}/role-id"),
    ])?;
    let role_id = json_str(&json(&r, "role-id")?, "/data/role_id", "role-id")?;
    let s = bao(&[
        "write",
        "-f",
        "-format=json",
        &format!("auth/{mount}/role/{role}/secret-id"),
    ])?;
    let secret_id = json_str(&json(&s, "secret-id")?, "/data/secret_id", "secret-id")?;
    Ok(AppRole { role_id, secret_id })
}

/// Stops a child by its PID (SIGKILL) and reaps it.
fn stop(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// The credentials of an AppRole made by [`DevServer::approle`].
#[derive(Clone, Debug)]
pub struct AppRole {
    /// `role_id`.
    pub role_id: String,
    /// A fresh `secret_id`.
    pub secret_id: String,
}

/// An OpenBao dev server (in-memory storage, unsealed, with a known root token), on a
/// free loopback port.
#[derive(Debug)]
pub struct DevServer {
    /// `http://127.0.0.1:PORT` (or `https://` for [`DevServer::start_tls`]).
    pub addr: String,
    /// The root token.
    pub root_token: String,
    /// The CA certificate of a TLS dev server.
    pub ca_cert: Option<PathBuf>,
    unseal_key: String,
    bin: PathBuf,
    child: Child,
    dir: TempDir,
}

impl DevServer {
    /// Starts a plain-HTTP dev server and waits until it answers.
    pub fn start(bin: &Path) -> Result<DevServer, String> {
        Self::start_inner(bin, false)
    }

    /// Starts a dev server with TLS (`-dev-tls`: OpenBao makes a CA and a certificate for
    /// 127.0.0.1; [`DevServer::ca_cert`] is the CA's PEM file).
    pub fn start_tls(bin: &Path) -> Result<DevServer, String> {
        Self::start_inner(bin, true)
    }

    fn start_inner(bin: &Path, tls: bool) -> Result<DevServer, String> {
        let mut last = String::new();
        for _ in 0..3 {
            match Self::try_start(bin, tls) {
                Ok(s) => return Ok(s),
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    fn try_start(bin: &Path, tls: bool) -> Result<DevServer, String> {
        let dir = TempDir::new("bao-dev").map_err(|e| e.to_string())?;
        let port = free_port_pair();
        let root_token = format!("root-{port}-{}", std::process::id());
        let log =
            std::fs::File::create(dir.path().join("server.log")).map_err(|e| e.to_string())?;
        let mut c = Command::new(bin);
        c.arg("server")
            .arg("-dev")
            .arg(format!("-dev-root-token-id={root_token}"))
            .arg(format!("-dev-listen-address=127.0.0.1:{port}"))
            .arg("-dev-no-store-token")
            .env("HOME", dir.path())
            .stdin(Stdio::null())
            .stdout(log.try_clone().map_err(|e| e.to_string())?)
            .stderr(log);
        if tls {
            c.arg("-dev-tls")
                .arg(format!("-dev-tls-cert-dir={}", dir.path().display()));
        }
        for (k, _) in std::env::vars_os() {
            let k = k.to_string_lossy();
            if k.starts_with("VAULT_") || k.starts_with("BAO_") {
                c.env_remove(&*k);
            }
        }
        let child = c.spawn().map_err(|e| format!("{}: {e}", bin.display()))?;
        let scheme = if tls { "https" } else { "http" };
        let mut srv = DevServer {
            addr: format!("{scheme}://127.0.0.1:{port}"),
            root_token,
            ca_cert: tls.then(|| dir.path().join("vault-ca.pem")),
            unseal_key: String::new(),
            bin: bin.to_path_buf(),
            child,
            dir,
        };
        let log_path = srv.dir.path().join("server.log");
        // The unseal key is printed once the server is up; "Unseal Key: <b64>".
        let key = wait_for(START_TIMEOUT, "the dev server's unseal key", || {
            if let Ok(Some(st)) = srv.child.try_wait() {
                return Some(Err(format!(
                    "bao server -dev exited ({st}): {}",
                    std::fs::read_to_string(&log_path).unwrap_or_default()
                )));
            }
            let log = std::fs::read_to_string(&log_path).ok()?;
            log.lines()
                .find_map(|l| l.trim().strip_prefix("Unseal Key: "))
                .map(|k| Ok(k.trim().to_string()))
        })??;
        srv.unseal_key = key;
        // Ready when the CLI gets an answer (works for TLS and plain HTTP alike).
        wait_for(START_TIMEOUT, "the dev server to answer", || {
            srv.bao(&["status"]).ok()
        })?;
        Ok(srv)
    }

    /// The server's PID.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The `host:port` the server listens on.
    pub fn host_port(&self) -> &str {
        self.addr
            .split_once("://")
            .map(|x| x.1)
            .unwrap_or(&self.addr)
    }

    /// The server's temporary directory (its log is `server.log` there).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Runs the `bao` CLI against this server as root: its stdout.
    pub fn bao(&self, args: &[&str]) -> Result<String, String> {
        run_bao(
            &self.bin,
            self.dir.path(),
            &self.addr,
            Some(&self.root_token),
            self.ca_cert.as_deref(),
            args,
        )
    }

    /// `bao secrets enable [-path=PATH] transit`.
    pub fn enable_transit_at(&self, path: &str) -> Result<(), String> {
        self.bao(&["secrets", "enable", &format!("-path={path}"), "transit"])
            .map(drop)
    }

    /// `bao secrets enable transit` (at `transit/`).
    pub fn enable_transit(&self) -> Result<(), String> {
        self.enable_transit_at("transit")
    }

    /// `bao write -f ENGINE/keys/NAME`.
    pub fn create_key_at(&self, engine: &str, name: &str) -> Result<(), String> {
        self.bao(&["write", "-f", &format!("{engine}/keys/{name}")])
            .map(drop)
    }

    /// `bao write -f transit/keys/NAME`.
    pub fn create_key(&self, name: &str) -> Result<(), String> {
        self.create_key_at("transit", name)
    }

    /// `bao write -f transit/keys/NAME/rotate`.
    pub fn rotate_key(&self, name: &str) -> Result<(), String> {
        self.bao(&["write", "-f", &format!("transit/keys/{name}/rotate")])
            .map(drop)
    }

    /// Writes ACL policy `name` from HCL text.
    pub fn put_policy(&self, name: &str, hcl: &str) -> Result<(), String> {
        put_policy(&|a| self.bao(a), self.dir.path(), name, hcl)
    }

    /// A policy allowing transit encrypt, decrypt and rewrap with key `key`, and reading
    /// the key (for its latest version).
    pub fn transit_policy(engine: &str, key: &str) -> String {
        format!(
            "path \"{engine}/encrypt/{key}\" {{ capabilities = [\"update\"] }}\n\
             path \"{engine}/decrypt/{key}\" {{ capabilities = [\"update\"] }}\n\
             path \"{engine}/rewrap/{key}\" {{ capabilities = [\"update\"] }}\n\
             path \"{engine}/keys/{key}\" {{ capabilities = [\"read\"] }}\n"
        )
    }

    /// A new token with only `policy` (no default policy).
    pub fn token_with_policy(&self, policy: &str) -> Result<String, String> {
        let out = self.bao(&[
            "token",
            "create",
            "-no-default-policy",
            &format!("-policy={policy}"),
            "-format=json",
        ])?;
        json_str(
            &json(&out, "token create")?,
            "/auth/client_token",
            "token create",
        )
    }

    /// Enables AppRole at `mount` (once), makes role `role` whose tokens carry a policy
    /// allowing transit on `key` (see [`DevServer::transit_policy`]), and returns its role
    /// id and a new secret id.
    pub fn approle(&self, mount: &str, role: &str, key: &str) -> Result<AppRole, String> {
        approle(&|a| self.bao(a), self.dir.path(), mount, role, key)
    }

    /// `bao operator seal`.
    pub fn seal(&self) -> Result<(), String> {
        self.bao(&["operator", "seal"]).map(drop)
    }

    /// `bao operator unseal` with the dev server's unseal key.
    pub fn unseal(&self) -> Result<(), String> {
        self.bao(&["operator", "unseal", &self.unseal_key])
            .map(drop)
    }

    /// Stops the server (SIGKILL by PID) and waits for it; also done on drop.
    pub fn stop(&mut self) {
        stop(&mut self.child);
    }
}

impl Drop for DevServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// One node of a [`RaftCluster`].
#[derive(Debug)]
pub struct RaftNode {
    /// `http://127.0.0.1:PORT` (its `api_addr`).
    pub addr: String,
    child: Option<Child>,
}

impl RaftNode {
    /// Its PID while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }
}

/// A Raft cluster of OpenBao servers on loopback (non-dev mode, TLS off on the API
/// listeners), initialised with one unseal key (1 share, threshold 1), every node
/// unsealed and a voter.
#[derive(Debug)]
pub struct RaftCluster {
    /// The nodes, in start order (node 0 was initialised first).
    pub nodes: Vec<RaftNode>,
    /// The root token.
    pub root_token: String,
    unseal_key: String,
    bin: PathBuf,
    dir: TempDir,
}

impl RaftCluster {
    /// Starts `n` nodes, initialises and unseals node 0, joins and unseals the others and
    /// waits until all are voters (bounded: about a minute at most).
    pub fn start(bin: &Path, n: usize) -> Result<RaftCluster, String> {
        let dir = TempDir::new("bao-raft").map_err(|e| e.to_string())?;
        let mut c = RaftCluster {
            nodes: Vec::new(),
            root_token: String::new(),
            unseal_key: String::new(),
            bin: bin.to_path_buf(),
            dir,
        };
        for i in 0..n {
            c.spawn_node(i)?;
        }
        let a0 = c.nodes[0].addr.clone();
        wait_for(START_TIMEOUT, "node 0 to listen", || {
            (health(&a0) == Some(501)).then_some(())
        })?;
        let init = c.bao_at(
            0,
            None,
            &[
                "operator",
                "init",
                "-key-shares=1",
                "-key-threshold=1",
                "-format=json",
            ],
        )?;
        let init = json(&init, "operator init")?;
        c.unseal_key = json_str(&init, "/unseal_keys_b64/0", "operator init")?;
        c.root_token = json_str(&init, "/root_token", "operator init")?;
        c.bao_at(0, None, &["operator", "unseal", &c.unseal_key.clone()])?;
        wait_for(START_TIMEOUT, "node 0 to become active", || {
            (health(&a0) == Some(200)).then_some(())
        })?;
        // New nodes are promoted to voters after the stabilisation time (10 s by default).
        let tok = c.root_token.clone();
        c.bao_at(
            0,
            Some(&tok),
            &[
                "operator",
                "raft",
                "autopilot",
                "set-config",
                "-server-stabilization-time=1s",
                "-cleanup-dead-servers=false",
            ],
        )?;
        for i in 1..n {
            let ai = c.nodes[i].addr.clone();
            wait_for(START_TIMEOUT, &format!("node {i} to listen"), || {
                (health(&ai) == Some(501)).then_some(())
            })?;
            c.bao_at(i, None, &["operator", "raft", "join", &a0])?;
            c.bao_at(i, None, &["operator", "unseal", &c.unseal_key.clone()])?;
            wait_for(
                START_TIMEOUT,
                &format!("node {i} to become a standby"),
                || (health(&ai) == Some(429)).then_some(()),
            )?;
        }
        c.wait_for_voters(n, Duration::from_secs(60))?;
        Ok(c)
    }

    fn spawn_node(&mut self, i: usize) -> Result<(), String> {
        let nd = self.dir.path().join(format!("node{i}"));
        std::fs::create_dir_all(nd.join("data")).map_err(|e| e.to_string())?;
        let port = free_port_pair();
        let addr = format!("http://127.0.0.1:{port}");
        // performance_multiplier = 1: the tightest Raft timings (elections in ~1-3 s
        // instead of the production default's 5x).
        let cfg = format!(
            "storage \"raft\" {{\n  path = \"{data}\"\n  node_id = \"node{i}\"\n  performance_multiplier = 1\n}}\n\
             listener \"tcp\" {{\n  address = \"127.0.0.1:{port}\"\n  cluster_address = \"127.0.0.1:{cport}\"\n  tls_disable = true\n}}\n\
             api_addr = \"{addr}\"\ncluster_addr = \"https://127.0.0.1:{cport}\"\ndisable_mlock = true\n",
            data = nd.join("data").display(),
            cport = port + 1,
        );
        let cfg_path = nd.join("config.hcl");
        std::fs::write(&cfg_path, cfg).map_err(|e| e.to_string())?;
        let log = std::fs::File::create(nd.join("server.log")).map_err(|e| e.to_string())?;
        let mut c = Command::new(&self.bin);
        c.arg("server")
            .arg(format!("-config={}", cfg_path.display()))
            .env("HOME", self.dir.path())
            .stdin(Stdio::null())
            .stdout(log.try_clone().map_err(|e| e.to_string())?)
            .stderr(log);
        for (k, _) in std::env::vars_os() {
            let k = k.to_string_lossy();
            if k.starts_with("VAULT_") || k.starts_with("BAO_") {
                c.env_remove(&*k);
            }
        }
        let child = c
            .spawn()
            .map_err(|e| format!("{}: {e}", self.bin.display()))?;
        self.nodes.push(RaftNode {
            addr,
            child: Some(child),
        });
        Ok(())
    }

    fn bao_at(&self, i: usize, token: Option<&str>, args: &[&str]) -> Result<String, String> {
        run_bao(
            &self.bin,
            self.dir.path(),
            &self.nodes[i].addr,
            token,
            None,
            args,
        )
    }

    /// Runs the `bao` CLI as root against node `i`.
    pub fn bao(&self, i: usize, args: &[&str]) -> Result<String, String> {
        self.bao_at(i, Some(&self.root_token), args)
    }

    /// The API addresses of all nodes.
    pub fn addrs(&self) -> Vec<String> {
        self.nodes.iter().map(|n| n.addr.clone()).collect()
    }

    /// The index of the active node, as a running node's `sys/leader` says (`None` while
    /// there is none, e.g. during an election).
    pub fn leader(&self) -> Option<usize> {
        for n in self.nodes.iter().filter(|n| n.child.is_some()) {
            let Ok((200, body)) = http(&n.addr, "GET", "/v1/sys/leader", None, None) else {
                continue;
            };
            let Ok(v) = serde_json::from_str::<serde_json::Value>(&body) else {
                continue;
            };
            let la = v["leader_address"].as_str().unwrap_or("");
            if let Some(i) = self
                .nodes
                .iter()
                .position(|m| m.addr == la && m.child.is_some())
            {
                // Only an answer from the leader itself counts once it is alive.
                if health(&self.nodes[i].addr) == Some(200) {
                    return Some(i);
                }
            }
        }
        None
    }

    /// [`DevServer::approle`] on the cluster, through node `i`.
    pub fn approle(&self, i: usize, mount: &str, role: &str, key: &str) -> Result<AppRole, String> {
        approle(&|a| self.bao(i, a), self.dir.path(), mount, role, key)
    }

    /// Waits until every running node has applied all writes made so far: writes a marker
    /// policy through the active node and polls each node's own copy (standbys answer
    /// reads locally, from Raft state they apply in order).
    pub fn sync(&self, limit: Duration) -> Result<(), String> {
        static N: AtomicU32 = AtomicU32::new(0);
        let leader = self.wait_for_leader(limit)?;
        let name = format!("sync-{}", N.fetch_add(1, Ordering::Relaxed));
        put_policy(
            &|a| self.bao(leader, a),
            self.dir.path(),
            &name,
            "path \"sys/health\" { capabilities = [\"read\"] }\n",
        )?;
        for n in self.nodes.iter().filter(|n| n.child.is_some()) {
            wait_for(limit, &format!("{} to apply the writes", n.addr), || {
                let path = format!("/v1/sys/policies/acl/{name}");
                matches!(
                    http(&n.addr, "GET", &path, Some(&self.root_token), None),
                    Ok((200, _))
                )
                .then_some(())
            })?;
        }
        Ok(())
    }

    /// Waits until some running node is active; its index.
    pub fn wait_for_leader(&self, limit: Duration) -> Result<usize, String> {
        wait_for(limit, "an active node", || self.leader())
    }

    /// Waits until `n` Raft peers are voters.
    pub fn wait_for_voters(&self, n: usize, limit: Duration) -> Result<(), String> {
        let leader = self.wait_for_leader(limit)?;
        wait_for(limit, &format!("{n} Raft voters"), || {
            let out = self
                .bao(leader, &["operator", "raft", "list-peers", "-format=json"])
                .ok()?;
            let v: serde_json::Value = serde_json::from_str(&out).ok()?;
            let voters = v
                .pointer("/data/config/servers")?
                .as_array()?
                .iter()
                .filter(|s| s["voter"].as_bool() == Some(true))
                .count();
            (voters >= n).then_some(())
        })
    }

    /// Kills node `i` (SIGKILL by PID), as a crash would.
    pub fn kill(&mut self, i: usize) {
        if let Some(mut c) = self.nodes[i].child.take() {
            stop(&mut c);
        }
    }

    /// The cluster's directory (each node's `server.log` is in `node<i>/`).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for RaftCluster {
    fn drop(&mut self) {
        for i in 0..self.nodes.len() {
            self.kill(i);
        }
    }
}
