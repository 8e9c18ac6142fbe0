//! A real systemd in a container, for the end-to-end suite (`tests/tests/systemd_e2e.rs`).
//!
//! The activation tests elsewhere run `sealbox-install` in a mount namespace with a
//! `systemctl` stand-in; only a booted systemd shows that the units we ship start in the
//! right order, that `LoadCredential=` finds the credential and that `try-restart` reaches a
//! running service. This module boots one with `systemd-nspawn`:
//!
//! * [`rootfs`]: a Debian bookworm root (`debootstrap --variant=minbase` with systemd and
//!   dbus), built once into `$XDG_CACHE_HOME/sealbox/nspawn-bookworm` (else
//!   `~/.cache/…`) and reused: built in a temp dir and renamed into place, under a lock
//!   file so parallel tests (and test processes) build it once. It is never booted itself.
//! * [`Machine`]: one container's own writable layer, an overlayfs upper dir over that root,
//!   kept across boots (a reboot sees the same `/etc` and `/var`, a fresh `/run`). Files are
//!   put in place before a boot; host files (the freshly built binaries, the example units)
//!   are bound read-only.
//! * [`Running`]: a booted container. Commands run inside with `nsenter`. Dropping it (also
//!   while a failed test unwinds) powers it off, kills what is left by PID and removes the
//!   cgroups `systemd-nspawn` leaves behind.
//!
//! The overlay is mounted in a private mount namespace (`unshare -m`) that exists only as
//! long as `systemd-nspawn` runs, so no mount outlives a test. Each container gets a cgroup
//! of its own under the test process's (name=systemd and unified hierarchies): with
//! `--keep-unit` nspawn makes `payload`/`supervisor` cgroups below its caller's, and two
//! containers started from the same cgroup would share them.

use std::ffi::OsStr;
use std::fs;
use std::io::{Read, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The Debian release of the container: the one whose systemd (252) the suite was written
/// against, and whose glibc (2.36) runs binaries built on a bookworm host.
pub const SUITE: &str = "bookworm";

/// `PATH` of commands run inside the container.
const PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// How long a container may take until its systemd answers on its bus.
const BOOT_TIMEOUT: Duration = Duration::from_secs(60);

/// `$XDG_CACHE_HOME/sealbox`, else `$HOME/.cache/sealbox`.
pub fn cache_dir() -> Result<PathBuf, String> {
    let base = match std::env::var_os("XDG_CACHE_HOME").filter(|v| !v.is_empty()) {
        Some(d) => PathBuf::from(d),
        None => std::env::var_os("HOME")
            .filter(|v| !v.is_empty())
            .map(|h| PathBuf::from(h).join(".cache"))
            .ok_or("neither XDG_CACHE_HOME nor HOME is set (the container root is cached there)")?,
    };
    Ok(base.join("sealbox"))
}

/// The cached container root, built on first use (about a minute with a nearby mirror).
/// Errors say why it cannot be had (the suite then skips by hand, fails under CI).
pub fn rootfs() -> Result<PathBuf, String> {
    static ROOT: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    ROOT.get_or_init(|| {
        sealbox_testkit::nspawn()?;
        build_rootfs()
    })
    .clone()
}

/// The file inside a finished root that says how it was made; a directory without it is
/// not one of ours (or is damaged) and is rebuilt.
const STAMP: &str = ".sealbox-rootfs";

fn build_rootfs() -> Result<PathBuf, String> {
    let cache = cache_dir()?;
    fs::create_dir_all(&cache).map_err(|e| format!("cannot create {}: {e}", cache.display()))?;
    let name = format!("nspawn-{SUITE}");
    let root = cache.join(&name);
    let lock_path = cache.join(format!("{name}.lock"));
    let lock = fs::File::create(&lock_path)
        .map_err(|e| format!("cannot create {}: {e}", lock_path.display()))?;
    // Held until the end of this function: a second test process waits here, then finds
    // the finished root.
    let _lock = nix::fcntl::Flock::lock(lock, nix::fcntl::FlockArg::LockExclusive)
        .map_err(|(_, e)| format!("cannot lock {}: {e}", lock_path.display()))?;
    if root.join(STAMP).is_file() {
        return Ok(root);
    }
    // Under the lock nobody else is building: leftovers are from interrupted runs.
    let tmp_prefix = format!("{name}.tmp-");
    for e in fs::read_dir(&cache).map_err(|e| format!("{}: {e}", cache.display()))? {
        let e = e.map_err(|e| format!("{}: {e}", cache.display()))?;
        if e.file_name().to_string_lossy().starts_with(&tmp_prefix) {
            let _ = fs::remove_dir_all(e.path());
        }
    }
    if root.exists() {
        fs::remove_dir_all(&root).map_err(|e| format!("cannot remove {}: {e}", root.display()))?;
    }
    let tmp = cache.join(format!("{tmp_prefix}{}", std::process::id()));
    let mirror = debian_mirror();
    let log_path = cache.join(format!("{name}.debootstrap.log"));
    let log = fs::File::create(&log_path)
        .map_err(|e| format!("cannot create {}: {e}", log_path.display()))?;
    let _ = writeln!(
        std::io::stderr(),
        "systemd e2e: building the container root {} (debootstrap {SUITE} from {mirror}, about a minute; log: {})",
        root.display(),
        log_path.display()
    );
    let started = Instant::now();
    let status = Command::new("debootstrap")
        .args([
            "--variant=minbase",
            "--include=systemd,systemd-sysv,dbus",
            SUITE,
        ])
        .arg(&tmp)
        .arg(&mirror)
        .stdin(Stdio::null())
        .stdout(log.try_clone().map_err(|e| e.to_string())?)
        .stderr(log)
        .status()
        .map_err(|e| format!("cannot run debootstrap: {e}"))?;
    if !status.success() {
        let _ = fs::remove_dir_all(&tmp);
        return Err(format!(
            "debootstrap {SUITE} from {mirror} failed ({status}); the end of {}:\n{}",
            log_path.display(),
            tail(&fs::read_to_string(&log_path).unwrap_or_default(), 15)
        ));
    }
    fs::write(
        tmp.join(STAMP),
        format!(
            "debootstrap --variant=minbase --include=systemd,systemd-sysv,dbus {SUITE} {mirror}\n"
        ),
    )
    .map_err(|e| format!("cannot write {}: {e}", tmp.join(STAMP).display()))?;
    fs::rename(&tmp, &root)
        .map_err(|e| format!("cannot rename {} to {}: {e}", tmp.display(), root.display()))?;
    let _ = writeln!(
        std::io::stderr(),
        "systemd e2e: container root built in {:.0} s",
        started.elapsed().as_secs_f64()
    );
    Ok(root)
}

/// The Debian mirror for debootstrap: `$SEALBOX_DEBIAN_MIRROR`, else the first apt source
/// of this machine that serves [`SUITE`] (one-line `sources.list` entries and deb822
/// `.sources` files), else deb.debian.org.
pub fn debian_mirror() -> String {
    if let Some(m) = std::env::var("SEALBOX_DEBIAN_MIRROR")
        .ok()
        .filter(|m| !m.is_empty())
    {
        return m;
    }
    let mut files = vec![PathBuf::from("/etc/apt/sources.list")];
    if let Ok(rd) = fs::read_dir("/etc/apt/sources.list.d") {
        let mut more: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
        more.sort();
        files.extend(more);
    }
    for f in files {
        let Ok(text) = fs::read_to_string(&f) else {
            continue;
        };
        let found = match f.extension().and_then(OsStr::to_str) {
            Some("sources") => mirror_in_deb822(&text),
            _ if f.ends_with("sources.list") || f.extension() == Some(OsStr::new("list")) => {
                mirror_in_one_line(&text)
            }
            _ => None,
        };
        if let Some(m) = found {
            return m;
        }
    }
    "http://deb.debian.org/debian".to_string()
}

/// `deb [options] URI SUITE COMPONENTS…` lines.
fn mirror_in_one_line(text: &str) -> Option<String> {
    text.lines().find_map(|l| {
        let l = l.split('#').next().unwrap_or("");
        let mut words = l.split_whitespace();
        if words.next() != Some("deb") {
            return None;
        }
        let mut uri = words.next()?;
        if uri.starts_with('[') {
            // Options: skip to the word that closes them.
            while !uri.ends_with(']') {
                uri = words.next()?;
            }
            uri = words.next()?;
        }
        (words.next()? == SUITE).then(|| uri.to_string())
    })
}

/// deb822 stanzas: `Types: deb`, `URIs: …`, `Suites: … bookworm …`.
fn mirror_in_deb822(text: &str) -> Option<String> {
    text.split("\n\n").find_map(|stanza| {
        let field = |name: &str| {
            stanza
                .lines()
                .filter(|l| !l.starts_with('#'))
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
                })
                .unwrap_or("")
        };
        let deb = field("Types").split_whitespace().any(|t| t == "deb");
        let suite = field("Suites").split_whitespace().any(|s| s == SUITE);
        let uri = field("URIs").split_whitespace().next()?;
        (deb && suite).then(|| uri.to_string())
    })
}

/// The last `n` lines of `text`.
pub fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// One container: its writable layer over the cached root, and what is bound into it.
pub struct Machine {
    dir: tempfile::TempDir,
    lower: PathBuf,
    binds: Vec<(PathBuf, String)>,
    /// Bound executables checked to run inside at each boot.
    probes: Vec<String>,
    boots: u32,
}

impl Machine {
    /// A container over `rootfs` with nothing of its own yet.
    pub fn new(rootfs: &Path) -> Machine {
        let dir = tempfile::Builder::new()
            .prefix("sealbox-nspawn-")
            .tempdir()
            .expect("create temp dir");
        for d in ["upper", "work", "merged"] {
            fs::create_dir(dir.path().join(d)).unwrap();
        }
        Machine {
            dir,
            lower: rootfs.to_path_buf(),
            binds: Vec::new(),
            probes: Vec::new(),
            boots: 0,
        }
    }

    /// A host directory of this container's own (for files to bind in).
    pub fn host_dir(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }

    /// Binds the host file or directory `host` read-only at `guest` in every boot.
    pub fn bind_ro(&mut self, host: impl AsRef<Path>, guest: &str) {
        let host = fs::canonicalize(host.as_ref())
            .unwrap_or_else(|e| panic!("bind {}: {e}", host.as_ref().display()));
        assert!(
            !host.to_string_lossy().contains(':') && !guest.contains(':'),
            "nspawn's --bind-ro= cannot take ':' in {} or {guest}",
            host.display()
        );
        self.binds.push((host, guest.to_string()));
    }

    /// Binds a host-built program at `guest`; each boot checks that it runs inside
    /// (`--version`), else the container "cannot start" (a glibc newer than bookworm's).
    pub fn bind_program(&mut self, host: impl AsRef<Path>, guest: &str) {
        self.bind_ro(host, guest);
        self.probes.push(guest.to_string());
    }

    fn upper(&self, guest: &str) -> PathBuf {
        assert!(guest.starts_with('/'), "{guest}: not absolute");
        self.dir.path().join("upper").join(&guest[1..])
    }

    /// Creates the parents of `guest` in the upper layer, with the owner and mode they have
    /// in the root where they exist there (a merged directory takes the upper one's).
    fn parents(&self, guest: &str) {
        let mut path = String::new();
        let comps: Vec<&str> = guest.split('/').filter(|c| !c.is_empty()).collect();
        for c in &comps[..comps.len() - 1] {
            path.push('/');
            path.push_str(c);
            let up = self.upper(&path);
            if up.exists() {
                continue;
            }
            let (mode, uid, gid) = match fs::symlink_metadata(self.lower.join(&path[1..])) {
                Ok(md) if md.is_dir() => (md.mode() & 0o7777, md.uid(), md.gid()),
                // A directory in the upper layer would replace the symlink (/bin → usr/bin).
                Ok(md) if md.file_type().is_symlink() => {
                    panic!("{path} is a symlink in the container root: write {guest} through its target")
                }
                _ => (0o755, 0, 0),
            };
            fs::create_dir(&up).unwrap();
            fs::set_permissions(&up, fs::Permissions::from_mode(mode)).unwrap();
            std::os::unix::fs::chown(&up, Some(uid), Some(gid)).unwrap();
        }
    }

    /// Before a boot: puts a file at `guest` (root-owned, `mode`).
    pub fn write(&self, guest: &str, contents: impl AsRef<[u8]>, mode: u32) {
        self.parents(guest);
        let p = self.upper(guest);
        fs::write(&p, contents).unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(mode)).unwrap();
    }

    /// Before a boot: a directory at `guest` (root-owned, `mode`), e.g. a private GnuPG
    /// home.
    pub fn mkdir(&self, guest: &str, mode: u32) {
        self.parents(guest);
        let p = self.upper(guest);
        fs::create_dir_all(&p).unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(mode)).unwrap();
    }

    /// Whether the container root has `guest` (a file or directory of the cached root,
    /// e.g. a program or a library).
    pub fn root_has(&self, guest: &str) -> bool {
        assert!(guest.starts_with('/'), "{guest}: not absolute");
        self.lower.join(&guest[1..]).exists()
    }

    /// Before a boot: a symlink at `guest` pointing to `target`.
    pub fn symlink(&self, guest: &str, target: &str) {
        self.parents(guest);
        let p = self.upper(guest);
        let _ = fs::remove_file(&p);
        std::os::unix::fs::symlink(target, p).unwrap();
    }

    /// The current text of `guest` (upper layer, else the root).
    pub fn read(&self, guest: &str) -> String {
        let up = self.upper(guest);
        let p = if up.exists() {
            up
        } else {
            self.lower.join(&guest[1..])
        };
        fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
    }

    /// Before a boot: appends `lines` to `guest` (e.g. a group to `/etc/group`), keeping
    /// the file's mode.
    pub fn append(&self, guest: &str, lines: &str) {
        let mut text = self.read(guest);
        let mode = fs::metadata(self.lower.join(&guest[1..]))
            .map(|m| m.mode() & 0o7777)
            .unwrap_or(0o644);
        if !text.is_empty() && !text.ends_with('\n') {
            text.push('\n');
        }
        text.push_str(lines);
        self.write(guest, text, mode);
    }

    /// An id (uid and gid) below 1000 that neither the root's `/etc/passwd` nor its
    /// `/etc/group` uses, counting down from `from`.
    pub fn free_system_id(&self, from: u32) -> u32 {
        let used: Vec<u32> = ["/etc/passwd", "/etc/group"]
            .iter()
            .flat_map(|f| {
                self.read(f)
                    .lines()
                    .filter_map(|l| l.split(':').nth(2)?.parse().ok())
                    .collect::<Vec<u32>>()
            })
            .collect();
        (100..=from)
            .rev()
            .find(|id| !used.contains(id))
            .expect("a free system id")
    }

    /// Enables `unit` the way `systemctl enable` does: a link in `<target>.wants/` for every
    /// `WantedBy=` of its `[Install]` section (`text` is the unit file's text).
    pub fn enable(&self, unit: &str, text: &str) {
        let mut in_install = false;
        let mut any = false;
        for l in text.lines().map(str::trim) {
            if l.starts_with('[') {
                in_install = l == "[Install]";
            } else if let (true, Some(v)) = (in_install, l.strip_prefix("WantedBy=")) {
                for target in v.split_whitespace() {
                    self.symlink(
                        &format!("/etc/systemd/system/{target}.wants/{unit}"),
                        &format!("/etc/systemd/system/{unit}"),
                    );
                    any = true;
                }
            }
        }
        assert!(
            any,
            "{unit} has no WantedBy= in [Install]: cannot enable it"
        );
    }

    /// Boots the container and returns once its systemd answers and every bound executable
    /// runs inside (`--version`). `Err` means the container cannot start here (the caller
    /// skips by hand, fails under CI); what the units then do is the test's business.
    pub fn boot(&mut self) -> Result<Running<'_>, String> {
        self.boots += 1;
        let console = self.dir.path().join(format!("console-{}.log", self.boots));
        let cgroups = Cgroups::create();
        let d = self.dir.path();
        let mut nspawn = vec![
            "systemd-nspawn".to_string(),
            "--quiet".into(),
            "--settings=no".into(),
            "--boot".into(),
            "--register=no".into(),
            // No systemd on the host to make a scope for the container ("Failed to open
            // system bus" without it): it stays in the cgroup the script below moves to.
            "--keep-unit".into(),
            "--private-network".into(),
            format!("--machine=sealbox-e2e-{}", self.boots),
            "-D".into(),
            d.join("merged").display().to_string(),
        ];
        for (host, guest) in &self.binds {
            nspawn.push(format!("--bind-ro={}:{guest}", host.display()));
        }
        let script = "set -e\n\
             for f in $SEALBOX_CGROUP_PROCS; do echo $$ > \"$f\"; done\n\
             mount -t overlay overlay -o \"lowerdir=$SEALBOX_LOWER,upperdir=$SEALBOX_D/upper,workdir=$SEALBOX_D/work\" \"$SEALBOX_D/merged\"\n\
             exec \"$@\"";
        let log = fs::File::create(&console).unwrap();
        let child = Command::new("unshare")
            .args(["-m", "--propagation", "private", "sh", "-c", script, "sh"])
            .args(&nspawn)
            .env("SEALBOX_CGROUP_PROCS", cgroups.procs_files())
            .env("SEALBOX_LOWER", &self.lower)
            .env("SEALBOX_D", d)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .map_err(|e| format!("cannot run unshare: {e}"))?;
        let mut r = Running {
            machine: self,
            child,
            leader: 0,
            cgroups,
            console,
            stopped: false,
        };
        r.wait_for_leader()?;
        for guest in r.machine.probes.clone() {
            let o = r.cmd([guest.as_str(), "--version"]).output().unwrap();
            if !o.status.success() {
                return Err(format!(
                    "{guest} (built on this host) does not run in the {SUITE} container: {}{}\
                     (build static binaries and point SEALBOX_INSTALL_BIN / SEALBOX_BIN at them)",
                    String::from_utf8_lossy(&o.stdout),
                    String::from_utf8_lossy(&o.stderr)
                ));
            }
        }
        Ok(r)
    }
}

/// A booted container; see [`Machine::boot`].
pub struct Running<'m> {
    machine: &'m mut Machine,
    /// `unshare` that became `systemd-nspawn`.
    child: Child,
    /// The container's PID 1, as seen from the host.
    leader: u32,
    cgroups: Cgroups,
    console: PathBuf,
    stopped: bool,
}

impl Running<'_> {
    fn console_tail(&self) -> String {
        tail(&fs::read_to_string(&self.console).unwrap_or_default(), 25)
    }

    fn wait_for_leader(&mut self) -> Result<(), String> {
        let pid = self.child.id();
        let deadline = Instant::now() + BOOT_TIMEOUT;
        loop {
            if let Ok(Some(st)) = self.child.try_wait() {
                self.stopped = true;
                return Err(format!(
                    "systemd-nspawn exited at once ({st}):\n{}",
                    self.console_tail()
                ));
            }
            // nspawn's child that is PID 1 of its own PID namespace (nspawn forks a helper
            // first, which is gone by then).
            let children =
                fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap_or_default();
            self.leader = children
                .split_whitespace()
                .filter_map(|c| c.parse::<u32>().ok())
                .find(|c| {
                    fs::read_to_string(format!("/proc/{c}/status"))
                        .unwrap_or_default()
                        .lines()
                        .find_map(|l| l.strip_prefix("NSpid:"))
                        .is_some_and(|ids| ids.split_whitespace().last() == Some("1"))
                })
                .unwrap_or(0);
            if self.leader != 0 {
                let o = self
                    .cmd(["systemctl", "show", "--property=Version", "--value"])
                    .output()
                    .unwrap();
                if o.status.success() && !o.stdout.is_empty() {
                    return Ok(());
                }
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "the container's systemd did not answer within {} s:\n{}",
                    BOOT_TIMEOUT.as_secs(),
                    self.console_tail()
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// A command running inside the container (all its namespaces, a plain environment).
    pub fn cmd<I, S>(&self, args: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut c = Command::new("nsenter");
        c.arg("-t")
            .arg(self.leader.to_string())
            .args(["-a", "--"])
            .args(args)
            .env_clear()
            .env("PATH", PATH)
            .env("LANG", "C.UTF-8")
            .env("SYSTEMD_PAGER", "")
            .env("SYSTEMD_COLORS", "0")
            .stdin(Stdio::null());
        c
    }

    /// Runs `sh -c script` inside.
    pub fn sh(&self, script: &str) -> Output {
        self.cmd(["sh", "-c", script]).output().unwrap()
    }

    /// Runs `sh -c script` inside with `input` on its stdin.
    pub fn sh_with_input(&self, script: &str, input: &[u8]) -> Output {
        let mut child = self
            .cmd(["sh", "-c", script])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(input).unwrap();
        child.wait_with_output().unwrap()
    }

    /// Runs `sh -c script` inside and returns its stdout; a failure fails the test with the
    /// end of the journal.
    pub fn ok(&self, script: &str) -> String {
        let o = self.sh(script);
        if !o.status.success() {
            self.fail(&format!(
                "`{script}` failed ({}): {}{}",
                o.status,
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            ));
        }
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    /// Panics with `msg` and the end of the container's journal.
    pub fn fail(&self, msg: &str) -> ! {
        let j = self.sh("journalctl -b --no-pager -o short-monotonic | tail -n 60");
        panic!(
            "{msg}\n--- end of the container's journal ---\n{}",
            String::from_utf8_lossy(&j.stdout)
        )
    }

    /// `systemctl show --value -p PROP UNIT`.
    pub fn show(&self, unit: &str, prop: &str) -> String {
        self.ok(&format!(
            "systemctl show --value --property={prop} '{unit}'"
        ))
        .trim()
        .to_string()
    }

    /// A monotonic timestamp property of `unit` in microseconds (0: never happened).
    pub fn mono(&self, unit: &str, prop: &str) -> u64 {
        let v = self.show(unit, prop);
        v.parse()
            .unwrap_or_else(|_| self.fail(&format!("{unit} {prop}: not a number: {v:?}")))
    }

    /// The messages `unit` logged this boot, one per line.
    pub fn journal(&self, unit: &str) -> String {
        self.ok(&format!("journalctl -b --no-pager -o cat --unit='{unit}'"))
    }

    /// Polls `cond` every 100 ms until it holds; after `secs` fails the test naming `what`.
    pub fn wait_until(&self, what: &str, secs: u64, mut cond: impl FnMut(&Self) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(secs);
        while !cond(self) {
            if Instant::now() > deadline {
                self.fail(&format!("timed out after {secs} s waiting for {what}"));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Waits for the end of the boot: `running` when no unit failed; else fails the test
    /// naming the failed units.
    pub fn wait_booted(&self) {
        let o = self
            .cmd(["timeout", "120", "systemctl", "is-system-running", "--wait"])
            .output()
            .unwrap();
        let state = String::from_utf8_lossy(&o.stdout).trim().to_string();
        if state != "running" {
            let failed = self.sh("systemctl --failed --no-legend --plain");
            self.fail(&format!(
                "the boot ended {state:?}, not \"running\"; failed units:\n{}",
                String::from_utf8_lossy(&failed.stdout)
            ));
        }
    }

    /// Powers the container off and waits until nspawn has exited (a clean shutdown, or
    /// the test fails); the machine can then boot again.
    pub fn poweroff(mut self) {
        let clean = self.stop(Duration::from_secs(60));
        assert!(
            clean,
            "the container did not power off cleanly:\n{}",
            self.console_tail()
        );
    }

    /// Asks systemd to power off, waits up to `grace`, then kills by PID; removes the
    /// cgroups. True when nspawn exited by itself with status 0.
    fn stop(&mut self, grace: Duration) -> bool {
        if self.stopped {
            return true;
        }
        self.stopped = true;
        if self.leader != 0 {
            let _ = self
                .cmd(["systemctl", "poweroff", "--no-block"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
        let deadline = Instant::now() + grace;
        let mut clean = false;
        loop {
            match self.child.try_wait() {
                Ok(Some(st)) => {
                    clean = st.success();
                    break;
                }
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(50))
                }
                _ => {
                    // Killing the container's PID 1 ends its PID namespace; nspawn follows.
                    kill(self.leader);
                    kill(self.child.id());
                    let _ = self.child.wait();
                    break;
                }
            }
        }
        self.cgroups.remove();
        clean
    }
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.stop(Duration::from_secs(20));
    }
}

fn kill(pid: u32) {
    if pid > 1 {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid as i32),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
}

/// The cgroups made for one container (one per hierarchy nspawn uses).
struct Cgroups {
    dirs: Vec<PathBuf>,
}

impl Cgroups {
    /// A new child of the test process's cgroup in the name=systemd (v1) and unified (v2)
    /// hierarchies, where they are mounted. Best effort: where one cannot be made, the
    /// container uses the test process's cgroup (fine unless containers run in parallel).
    fn create() -> Cgroups {
        static N: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "sealbox-e2e-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        );
        let mounts = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        let mut dirs = Vec::new();
        for line in fs::read_to_string("/proc/self/cgroup")
            .unwrap_or_default()
            .lines()
        {
            let mut f = line.splitn(3, ':');
            let (Some(id), Some(ctrl), Some(path)) = (f.next(), f.next(), f.next()) else {
                continue;
            };
            let unified = id == "0" && ctrl.is_empty();
            if !(unified || ctrl == "name=systemd") {
                continue;
            }
            let Some((mount_root, mount_point)) = mounts.lines().find_map(|m| {
                let (pre, post) = m.split_once(" - ")?;
                let pre: Vec<&str> = pre.split(' ').collect();
                let post: Vec<&str> = post.split(' ').collect();
                let ok = if unified {
                    post.first() == Some(&"cgroup2")
                } else {
                    post.first() == Some(&"cgroup")
                        && post
                            .get(2)
                            .is_some_and(|o| o.split(',').any(|o| o == "name=systemd"))
                };
                if !ok {
                    return None;
                }
                Some((pre.get(3)?.to_string(), pre.get(4)?.to_string()))
            }) else {
                continue;
            };
            let rel = path
                .strip_prefix(mount_root.trim_end_matches('/'))
                .unwrap_or(path)
                .trim_start_matches('/');
            let parent = Path::new(&mount_point).join(rel);
            reap(&parent);
            let dir = parent.join(&name);
            if fs::create_dir(&dir).is_ok() {
                dirs.push(dir);
            }
        }
        Cgroups { dirs }
    }

    /// The `cgroup.procs` files, space-separated, for the wrapper script.
    fn procs_files(&self) -> String {
        self.dirs
            .iter()
            .map(|d| d.join("cgroup.procs").display().to_string())
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// Kills what is left in them (by PID) and removes them, deepest first.
    fn remove(&mut self) {
        for _ in 0..150 {
            let mut all: Vec<PathBuf> = Vec::new();
            for d in &self.dirs {
                walk_dirs(d, &mut all);
            }
            if all.is_empty() {
                return;
            }
            for d in &all {
                let mut procs = String::new();
                if let Ok(mut f) = fs::File::open(d.join("cgroup.procs")) {
                    let _ = f.read_to_string(&mut procs);
                }
                for pid in procs.lines().filter_map(|p| p.trim().parse().ok()) {
                    kill(pid);
                }
            }
            // Children before parents.
            all.sort_by_key(|d| std::cmp::Reverse(d.components().count()));
            for d in &all {
                let _ = fs::remove_dir(d);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// Containers of a test process that was killed (its Drop never ran) keep running: their
/// cgroups (`sealbox-e2e-<pid>-<n>` under `parent`, `<pid>` no longer alive) are emptied and
/// removed when the next container starts.
fn reap(parent: &Path) {
    let Ok(rd) = fs::read_dir(parent) else {
        return;
    };
    for e in rd.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(pid) = name
            .strip_prefix("sealbox-e2e-")
            .and_then(|r| r.split('-').next())
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        // Alive: in /proc and not a zombie ("PID (comm) Z …").
        let alive = fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|st| Some(st.rsplit_once(") ")?.1.starts_with('Z')))
            == Some(false);
        if pid != std::process::id() && !alive {
            Cgroups {
                dirs: vec![e.path()],
            }
            .remove();
        }
    }
}

fn walk_dirs(d: &Path, out: &mut Vec<PathBuf>) {
    if !d.is_dir() {
        return;
    }
    out.push(d.to_path_buf());
    if let Ok(rd) = fs::read_dir(d) {
        for e in rd.flatten() {
            if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                walk_dirs(&e.path(), out);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mirror_is_read_from_one_line_and_deb822_sources() {
        assert_eq!(
            mirror_in_one_line(
                "# comment\ndeb-src http://x/debian bookworm main\n\
                 deb [arch=amd64 signed-by=/k.gpg] http://m.example/debian bookworm main\n"
            )
            .as_deref(),
            Some("http://m.example/debian")
        );
        assert_eq!(
            mirror_in_one_line("deb http://sec/debian-security bookworm-security main\n"),
            None
        );
        let deb822 = "Types: deb\n# http://snapshot\nURIs: http://a/debian\nSuites: bookworm bookworm-updates\nComponents: main\n\n\
                      Types: deb\nURIs: http://a/debian-security\nSuites: bookworm-security\n";
        assert_eq!(mirror_in_deb822(deb822).as_deref(), Some("http://a/debian"));
        assert_eq!(
            mirror_in_deb822("Types: deb-src\nURIs: http://a/debian\nSuites: bookworm\n"),
            None
        );
    }
}
