//! `--watch MANIFEST`: a long-running mode that re-activates when the manifest, a sops
//! file it references, a template file or a key file changes.
//!
//! * inotify watches the parent directory of every such file (editors and `git checkout`
//!   replace files by rename; a missing directory is watched through its nearest existing
//!   ancestor); only events naming a watched file (or the directory on the way to it)
//!   count.
//! * Bursts are debounced: an activation starts once no relevant event came for the
//!   debounce time (default 250 ms), or at the latest after max(10 s, 20 × debounce) of
//!   continuous events.
//! * Each activation is the normal one ([`crate::install::run`]): a new generation, the same
//!   atomic switch, unit requests only for what changed. A failed activation is logged,
//!   the previous generation stays active and watching goes on.
//! * SIGTERM/SIGINT end the loop with success between activations: the signals are
//!   blocked and read from a signalfd, so an activation in progress always finishes and a
//!   pending one does not start. SIGHUP forces an activation.

use crate::error::{Error, Step};
use crate::install::run;
use crate::manifest;
use crate::options::Options;
use crate::report::{Note, Reporter};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify, WatchDescriptor};
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use std::collections::HashMap;
use std::ffi::OsString;
use std::os::fd::AsFd;
use std::path::{Component, Path, PathBuf};
use std::time::{Duration, Instant};

/// The default debounce time.
pub const DEFAULT_DEBOUNCE: Duration = Duration::from_millis(250);

/// The files an activation of the manifest at `path` reads: the manifest, every
/// `sopsFile`, every template `file`, `ageKeyFile`, `ageSshKeyPaths` and `sshKeyPaths` (and
/// `SOPS_AGE_KEY_FILE` when the manifest has no key source). An unreadable manifest
/// yields just itself.
pub fn watched_files(path: &Path) -> Vec<PathBuf> {
    let mut out = vec![absolute(path)];
    let Ok(m) = manifest::read_file(path) else {
        return out;
    };
    let mut add = |p: &str| {
        if !p.is_empty() {
            let p = absolute(Path::new(p));
            if !out.contains(&p) {
                out.push(p);
            }
        }
    };
    for s in &m.secrets {
        add(&s.sops_file);
    }
    for t in &m.templates {
        if t.content.is_empty() {
            add(&t.file);
        }
    }
    add(&m.age_key_file);
    for k in &m.age_ssh_key_paths {
        add(k);
    }
    // The RSA host keys of sshKeyPaths; not gnupgHome: gpg itself writes there while it
    // decrypts (random_seed, trustdb.gpg), which would trigger an activation each time.
    for k in &m.ssh_key_paths {
        add(k);
    }
    if m.age_key_file.is_empty() && m.age_ssh_key_paths.is_empty() {
        if let Ok(k) = std::env::var("SOPS_AGE_KEY_FILE") {
            add(&k);
        }
    }
    out
}

fn absolute(p: &Path) -> PathBuf {
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir()
            .map(|d| d.join(p))
            .unwrap_or_else(|_| p.to_path_buf())
    }
}

/// inotify watches for a set of files: directory watch → names that matter in it.
pub struct Watches {
    ino: Inotify,
    names: HashMap<WatchDescriptor, Vec<OsString>>,
}

impl Watches {
    /// Watches the nearest existing ancestor directory of every file.
    pub fn new(files: &[PathBuf]) -> Result<Watches, String> {
        let ino = Inotify::init(InitFlags::IN_CLOEXEC | InitFlags::IN_NONBLOCK)
            .map_err(|e| format!("cannot initialise inotify: {e}"))?;
        let flags = AddWatchFlags::IN_CREATE
            | AddWatchFlags::IN_MOVED_TO
            | AddWatchFlags::IN_MOVED_FROM
            | AddWatchFlags::IN_CLOSE_WRITE
            | AddWatchFlags::IN_MODIFY
            | AddWatchFlags::IN_DELETE
            | AddWatchFlags::IN_ATTRIB
            | AddWatchFlags::IN_DELETE_SELF
            | AddWatchFlags::IN_MOVE_SELF;
        let mut names: HashMap<WatchDescriptor, Vec<OsString>> = HashMap::new();
        for f in files {
            // The nearest existing ancestor and the name, in it, on the way to `f`.
            let mut child: &Path = f;
            let mut dir = f.parent();
            while let Some(d) = dir {
                if d.is_dir() {
                    break;
                }
                child = d;
                dir = d.parent();
            }
            // A directory removed meanwhile: go further up.
            let wd = loop {
                let (Some(d), Some(Component::Normal(_))) = (dir, child.components().next_back())
                else {
                    break None;
                };
                match ino.add_watch(d, flags) {
                    Ok(wd) => break Some(wd),
                    Err(nix::errno::Errno::ENOENT | nix::errno::Errno::ENOTDIR) => {
                        child = d;
                        dir = d.parent();
                    }
                    Err(e) => return Err(format!("cannot watch {}: {e}", d.display())),
                }
            };
            let (Some(wd), Some(Component::Normal(name))) = (wd, child.components().next_back())
            else {
                continue;
            };
            let v = names.entry(wd).or_default();
            if !v.iter().any(|n| n == name) {
                v.push(name.to_os_string());
            }
        }
        Ok(Watches { ino, names })
    }

    /// Reads the queued events; true when one of them concerns a watched file.
    fn relevant(&self) -> Result<bool, String> {
        let mut any = false;
        loop {
            let evs = match self.ino.read_events() {
                Ok(evs) => evs,
                Err(nix::errno::Errno::EAGAIN) => return Ok(any),
                Err(e) => return Err(format!("cannot read inotify events: {e}")),
            };
            for ev in evs {
                let dir_gone = ev.mask.intersects(
                    AddWatchFlags::IN_DELETE_SELF
                        | AddWatchFlags::IN_MOVE_SELF
                        | AddWatchFlags::IN_IGNORED
                        | AddWatchFlags::IN_Q_OVERFLOW,
                );
                let named = match (&ev.name, self.names.get(&ev.wd)) {
                    (Some(n), Some(v)) => v.iter().any(|w| w == n),
                    _ => false,
                };
                if dir_gone || named {
                    tracing::debug!("relevant event {:?} {:?}", ev.mask, ev.name);
                    any = true;
                }
            }
        }
    }
}

enum Wake {
    Stop,
    Activate,
    Event,
    Timeout,
}

fn wait(w: &Watches, sfd: &SignalFd, timeout: Option<Duration>) -> Result<Wake, String> {
    let t = match timeout {
        None => PollTimeout::NONE,
        Some(d) => PollTimeout::try_from(d.as_millis().min(i32::MAX as u128) as i32 + 1)
            .unwrap_or(PollTimeout::MAX),
    };
    let mut fds = [
        PollFd::new(sfd.as_fd(), PollFlags::POLLIN),
        PollFd::new(w.ino.as_fd(), PollFlags::POLLIN),
    ];
    match poll(&mut fds, t) {
        Ok(0) => return Ok(Wake::Timeout),
        Ok(_) => {}
        Err(nix::errno::Errno::EINTR) => return Ok(Wake::Timeout),
        Err(e) => return Err(format!("poll failed: {e}")),
    }
    let sig_ready = fds[0].revents().is_some_and(|r| !r.is_empty());
    let ino_ready = fds[1].revents().is_some_and(|r| !r.is_empty());
    let mut wake = Wake::Timeout;
    if sig_ready {
        while let Ok(Some(si)) = sfd.read_signal() {
            match Signal::try_from(si.ssi_signo as i32) {
                Ok(Signal::SIGTERM) | Ok(Signal::SIGINT) => return Ok(Wake::Stop),
                Ok(Signal::SIGHUP) => wake = Wake::Activate,
                _ => {}
            }
        }
    }
    if ino_ready && w.relevant()? && !matches!(wake, Wake::Activate) {
        wake = Wake::Event;
    }
    Ok(wake)
}

/// One activation, reported.
fn activate(path: &Path, o: &Options, n: u64, r: &mut dyn Reporter) {
    match run(path, o, r) {
        Ok(()) => {
            let generation = manifest::read_file(path)
                .ok()
                .and_then(|m| std::fs::read_link(&m.symlink_path).ok())
                .map(|t| t.display().to_string())
                .unwrap_or_else(|| "?".into());
            r.note(Note::WatchActivated { n, generation });
        }
        Err(error) => r.note(Note::WatchFailed { n, error }),
    }
}

/// Runs watch mode until SIGTERM or SIGINT. Errors are setup failures (inotify, signals).
pub fn watch(
    path: &Path,
    o: &Options,
    debounce: Duration,
    r: &mut dyn Reporter,
) -> Result<(), Error> {
    watch_loop(path, o, debounce, r).map_err(Error::step(Step::Watch))
}

fn watch_loop(
    path: &Path,
    o: &Options,
    debounce: Duration,
    r: &mut dyn Reporter,
) -> Result<(), String> {
    let mut mask = SigSet::empty();
    mask.add(Signal::SIGTERM);
    mask.add(Signal::SIGINT);
    mask.add(Signal::SIGHUP);
    mask.thread_block()
        .map_err(|e| format!("cannot block signals: {e}"))?;
    let sfd = SignalFd::with_flags(&mask, SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC)
        .map_err(|e| format!("cannot create a signalfd: {e}"))?;
    // The key paths are watched here, so --wait-for-key is not needed (and would delay
    // SIGTERM handling while it waits).
    let o = &Options {
        wait_for_key: None,
        ..o.clone()
    };
    let max_delay = (debounce * 20).max(Duration::from_secs(10));
    let mut n = 0u64;
    loop {
        // Watches are (re)made before each activation: a change during the activation is
        // queued and causes the next one.
        let files = watched_files(path);
        let w = Watches::new(&files)?;
        n += 1;
        activate(path, o, n, r);
        r.note(Note::Watching(files));
        // Wait for the first relevant event (or SIGHUP).
        loop {
            match wait(&w, &sfd, None)? {
                Wake::Stop => return stop(r),
                Wake::Activate | Wake::Event => break,
                Wake::Timeout => {}
            }
        }
        // Debounce: until `debounce` passes without a relevant event.
        let first = Instant::now();
        let mut last = first;
        loop {
            let quiet_until = last + debounce;
            let now = Instant::now();
            if now >= quiet_until || now.duration_since(first) >= max_delay {
                break;
            }
            match wait(&w, &sfd, Some(quiet_until - now))? {
                Wake::Stop => return stop(r),
                Wake::Activate => break,
                Wake::Event => last = Instant::now(),
                Wake::Timeout => {}
            }
        }
    }
}

fn stop(r: &mut dyn Reporter) -> Result<(), String> {
    r.note(Note::WatchStopping);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn watched_files_cover_manifest_sops_files_templates_and_keys() {
        let d = tempfile::tempdir().unwrap();
        let m = d.path().join("m.json");
        std::fs::write(
            &m,
            r#"{"secrets":[{"name":"a","sopsFile":"/s/a.yaml"},{"name":"b","sopsFile":"/s/a.yaml"}],
               "templates":[{"name":"t","file":"/t/tpl"},{"name":"u","content":"x","file":"/t/ignored"}],
               "ageKeyFile":"/k/key.txt","ageSshKeyPaths":["/etc/ssh/k"]}"#,
        )
        .unwrap();
        let f = watched_files(&m);
        let want: Vec<PathBuf> = [
            m.to_str().unwrap(),
            "/s/a.yaml",
            "/t/tpl",
            "/k/key.txt",
            "/etc/ssh/k",
        ]
        .iter()
        .map(PathBuf::from)
        .collect();
        assert_eq!(f, want);
    }

    #[test]
    fn only_events_for_watched_names_count_and_missing_dirs_are_watched_above() {
        let d = tempfile::tempdir().unwrap();
        let target = d.path().join("f");
        let deep = d.path().join("later/sub/key");
        let w = Watches::new(&[target.clone(), deep.clone()]).unwrap();
        std::fs::write(d.path().join(".f.tmp"), "x").unwrap();
        assert!(!w.relevant().unwrap());
        std::fs::rename(d.path().join(".f.tmp"), &target).unwrap();
        assert!(w.relevant().unwrap());
        std::fs::create_dir(d.path().join("later")).unwrap();
        assert!(w.relevant().unwrap());
        assert!(!w.relevant().unwrap());
    }
}
