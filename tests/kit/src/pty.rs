//! Running a program on a pseudo-terminal, as a person at a terminal would, for the tests of
//! prompts: age's passphrase and plugin prompts, OpenSSH's "Enter passphrase", and sealbox's
//! own. Those programs open `/dev/tty` rather than read stdin, so piping stdin proves
//! nothing; here the program's session has the pty as its **controlling terminal**, so
//! `/dev/tty` is the pty and the test types into it.
//!
//! The child runs as `setsid --ctty PROGRAM ARGS…` (util-linux): a new session, whose
//! controlling terminal becomes its stdin, the pty's slave side; stdout and stderr are the
//! same slave. Running it through `setsid(1)` keeps this crate free of `unsafe` (a
//! `pre_exec` hook would need it). The test holds the master side:
//!
//! ```no_run
//! # use std::process::Command;
//! # use sealbox_testkit::pty::{Pty, TIMEOUT};
//! let mut cmd = Command::new("age");
//! cmd.args(["-p", "-o", "secret.age", "plain.txt"]);
//! let mut t = Pty::spawn(&cmd).unwrap();
//! t.expect("Enter passphrase", TIMEOUT).unwrap();
//! t.wait_echo_off(TIMEOUT).unwrap();
//! t.send_line("correct horse").unwrap();
//! t.expect("Confirm passphrase", TIMEOUT).unwrap();
//! t.wait_echo_off(TIMEOUT).unwrap();
//! t.send_line("correct horse").unwrap();
//! assert!(t.wait(TIMEOUT).unwrap().success(), "{}", t.output());
//! ```
//!
//! Everything the program writes is kept ([`Pty::output`]); [`Pty::expect`] waits for a
//! text after the previous match. Dropping a `Pty` kills the program's process group (the
//! session it leads: the program and what it started, e.g. a plugin) and reaps it.
//! The terminal is a real one: it echoes what is typed unless the program turns echo off
//! (as password prompts do: [`Pty::wait_echo_off`] waits for that before a test types a
//! secret), writes `\r\n` for `\n`, and [`Pty::send_line`] ends a line with `\r`, as
//! the Enter key does.

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::pty::{openpty, Winsize};
use nix::sys::signal::{killpg, Signal};
use nix::sys::termios::{tcgetattr, LocalFlags};
use nix::unistd::Pid;
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// A generous default for one prompt or exit on a loaded test machine (scrypt in `age -p`
/// alone takes about a second).
pub const TIMEOUT: Duration = Duration::from_secs(60);

/// util-linux `setsid`, which starts the program in a new session with the pty as its
/// controlling terminal.
pub fn setsid() -> Result<PathBuf, String> {
    crate::tool("setsid", "util-linux")
}

/// A program running with a pseudo-terminal as its controlling terminal.
pub struct Pty {
    child: Child,
    master: File,
    /// Everything read from the terminal so far.
    seen: Vec<u8>,
    /// How much of `seen` earlier [`Pty::expect`] calls consumed.
    consumed: usize,
    /// The slave side is closed everywhere (the program and its children are gone).
    eof: bool,
    status: Option<ExitStatus>,
}

impl Pty {
    /// Starts `cmd` (its program, arguments, environment changes and directory; not an
    /// `env_clear`) on a new 80x24 pty. Its stdin, stdout and stderr are the terminal.
    pub fn spawn(cmd: &Command) -> Result<Pty, String> {
        let setsid = setsid()?;
        let ws = Winsize {
            ws_row: 24,
            ws_col: 80,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        let pty = openpty(&ws, None).map_err(|e| format!("openpty: {e}"))?;
        let dup = |fd: &OwnedFd| fd.try_clone().map_err(|e| format!("dup pty: {e}"));
        let mut c = Command::new(setsid);
        c.arg("--ctty")
            .arg("--")
            .arg(cmd.get_program())
            .args(cmd.get_args())
            .stdin(Stdio::from(dup(&pty.slave)?))
            .stdout(Stdio::from(dup(&pty.slave)?))
            .stderr(Stdio::from(pty.slave));
        for (k, v) in cmd.get_envs() {
            match v {
                Some(v) => c.env(k, v),
                None => c.env_remove(k),
            };
        }
        if let Some(d) = cmd.get_current_dir() {
            c.current_dir(d);
        }
        let child = c
            .spawn()
            .map_err(|e| format!("starting {:?} on a pty: {e}", cmd.get_program()))?;
        // `c` (and with it the last slave descriptors of this process) is dropped here, so
        // the master sees end-of-file once the program and its children are gone.
        drop(c);
        Ok(Pty {
            child,
            master: File::from(pty.master),
            seen: Vec::new(),
            consumed: 0,
            eof: false,
            status: None,
        })
    }

    /// The program's process id (also its session and process group id).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Reads what is available within `timeout`; false when nothing came (timeout or
    /// end-of-file).
    fn read_some(&mut self, timeout: Duration) -> Result<bool, String> {
        if self.eof {
            return Ok(false);
        }
        let ms = u16::try_from(timeout.as_millis()).unwrap_or(u16::MAX);
        let mut fds = [PollFd::new(self.master.as_fd(), PollFlags::POLLIN)];
        match poll(&mut fds, PollTimeout::from(ms)) {
            Ok(0) => return Ok(false),
            Ok(_) => {}
            Err(nix::errno::Errno::EINTR) => return Ok(false),
            Err(e) => return Err(format!("poll on the pty: {e}")),
        }
        let mut buf = [0u8; 4096];
        match self.master.read(&mut buf) {
            // Linux reports a pty whose slave side is closed everywhere as EIO.
            Ok(0) => self.eof = true,
            Err(e) if e.raw_os_error() == Some(nix::libc::EIO) => self.eof = true,
            Err(e) => return Err(format!("reading the pty: {e}")),
            Ok(n) => self.seen.extend_from_slice(&buf[..n]),
        }
        Ok(!self.eof)
    }

    /// Waits until the output after the previous match contains `pattern`; returns that
    /// output up to and including the match, and consumes it. Fails on timeout or when
    /// the program closes the terminal first, with what it wrote.
    pub fn expect(&mut self, pattern: &str, timeout: Duration) -> Result<String, String> {
        let deadline = Instant::now() + timeout;
        loop {
            let unread = &self.seen[self.consumed..];
            if let Some(i) = find(unread, pattern.as_bytes()) {
                let end = self.consumed + i + pattern.len();
                let got = String::from_utf8_lossy(&self.seen[self.consumed..end]).into_owned();
                self.consumed = end;
                return Ok(got);
            }
            let now = Instant::now();
            if self.eof || now >= deadline {
                return Err(format!(
                    "{} waiting for {pattern:?}; the terminal showed after the last match:\n{}",
                    if self.eof {
                        "the program closed the terminal"
                    } else {
                        "timed out"
                    },
                    String::from_utf8_lossy(unread)
                ));
            }
            self.read_some((deadline - now).min(Duration::from_millis(500)))?;
        }
    }

    /// Whether the terminal echoes what is typed now (a password prompt turns echo off
    /// while it reads; a raw-mode one-key prompt too).
    pub fn echo(&self) -> Result<bool, String> {
        let t = tcgetattr(self.master.as_fd()).map_err(|e| format!("tcgetattr on the pty: {e}"))?;
        Ok(t.local_flags.contains(LocalFlags::ECHO))
    }

    /// Waits until the program has turned echo off. A test types a secret only after
    /// this: typed earlier (right after the prompt shows, before the program reads) it
    /// would be echoed, as it would for a person typing ahead. Fails on timeout, so it
    /// also proves that a prompt hides what is typed.
    pub fn wait_echo_off(&mut self, timeout: Duration) -> Result<(), String> {
        let deadline = Instant::now() + timeout;
        while self.echo()? {
            if Instant::now() >= deadline {
                return Err(format!(
                    "the terminal still echoes after {timeout:?}; it showed:\n{}",
                    self.output()
                ));
            }
            // Keep reading meanwhile, so a chatty program cannot block on a full terminal.
            self.read_some(Duration::from_millis(10))?;
        }
        Ok(())
    }

    /// Types `bytes` as they are (e.g. `b"\x03"` for Ctrl-C, `b"1"` for a one-key answer).
    pub fn send(&mut self, bytes: &[u8]) -> Result<(), String> {
        self.master
            .write_all(bytes)
            .and_then(|()| self.master.flush())
            .map_err(|e| format!("writing to the pty: {e}"))
    }

    /// Types `line` and Enter (`\r`; the terminal turns it into `\n` for a program that
    /// reads lines).
    pub fn send_line(&mut self, line: &str) -> Result<(), String> {
        self.send(format!("{line}\r").as_bytes())
    }

    /// Waits for the program to exit, reading its output meanwhile (a full terminal
    /// buffer would block it) until the terminal closes, or for at most a second more if
    /// something the program started still holds it. Kills it on timeout.
    pub fn wait(&mut self, timeout: Duration) -> Result<ExitStatus, String> {
        let deadline = Instant::now() + timeout;
        let mut exited_at = None;
        loop {
            if self.status.is_none() {
                self.status = self
                    .child
                    .try_wait()
                    .map_err(|e| format!("waiting for the program: {e}"))?;
            }
            if let Some(st) = self.status {
                let since = *exited_at.get_or_insert_with(Instant::now);
                if self.eof || since.elapsed() > Duration::from_secs(1) {
                    return Ok(st);
                }
            }
            let now = Instant::now();
            if now >= deadline {
                self.kill();
                return Err(format!(
                    "the program did not exit within {timeout:?}; the terminal showed:\n{}",
                    self.output()
                ));
            }
            self.read_some((deadline - now).min(Duration::from_millis(100)))?;
        }
    }

    /// Everything the terminal showed so far (lossy UTF-8, `\r\n` line ends).
    pub fn output(&self) -> String {
        String::from_utf8_lossy(&self.seen).into_owned()
    }

    /// Kills the program's process group (by its id: the program leads its own session)
    /// and reaps the program.
    fn kill(&mut self) {
        if self.status.is_none() {
            if let Ok(pid) = i32::try_from(self.child.id()) {
                let _ = killpg(Pid::from_raw(pid), Signal::SIGKILL);
            }
            let _ = self.child.kill();
            self.status = self.child.wait().ok();
        }
    }
}

impl Drop for Pty {
    fn drop(&mut self) {
        self.kill();
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return Some(0);
    }
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str) -> Command {
        let mut c = Command::new("sh");
        c.args(["-c", script]);
        c
    }

    #[test]
    fn the_program_s_dev_tty_is_the_pty_and_it_reads_what_the_test_types() {
        crate::require!(setsid());
        let mut t = Pty::spawn(&sh(
            "echo prompt > /dev/tty; read line < /dev/tty; echo \"got [$line]\"; exit 7",
        ))
        .unwrap();
        t.expect("prompt", TIMEOUT).unwrap();
        t.send_line("typed text").unwrap();
        t.expect("got [typed text]", TIMEOUT).unwrap();
        let st = t.wait(TIMEOUT).unwrap();
        assert_eq!(st.code(), Some(7), "{}", t.output());
    }

    #[test]
    fn wait_echo_off_sees_a_prompt_that_hides_what_is_typed() {
        crate::require!(setsid());
        let mut t = Pty::spawn(&sh(
            "echo ready; read a < /dev/tty; stty -echo < /dev/tty; echo hidden; \
             read b < /dev/tty; stty echo < /dev/tty; echo \"[$a][$b]\"",
        ))
        .unwrap();
        t.expect("ready", TIMEOUT).unwrap();
        assert!(t.echo().unwrap(), "a fresh terminal echoes");
        t.send_line("shown").unwrap();
        t.expect("hidden", TIMEOUT).unwrap();
        t.wait_echo_off(TIMEOUT).unwrap();
        t.send_line("secret").unwrap();
        t.expect("[shown][secret]", TIMEOUT).unwrap();
        assert!(t.wait(TIMEOUT).unwrap().success());
        let out = t.output();
        assert_eq!(
            out.matches("shown").count(),
            2,
            "echoed once, printed once: {out}"
        );
        assert_eq!(out.matches("secret").count(), 1, "only printed: {out}");
        // And it times out on a terminal that keeps echoing.
        let mut t = Pty::spawn(&sh("sleep 30")).unwrap();
        let e = t.wait_echo_off(Duration::from_millis(200)).unwrap_err();
        assert!(e.contains("still echoes"), "{e}");
    }

    #[test]
    fn expect_times_out_with_what_the_terminal_showed() {
        crate::require!(setsid());
        let mut t = Pty::spawn(&sh("echo something else; sleep 30")).unwrap();
        let e = t
            .expect("never printed", Duration::from_millis(300))
            .unwrap_err();
        assert!(
            e.contains("timed out") && e.contains("something else"),
            "{e}"
        );
    }

    #[test]
    fn expect_fails_when_the_program_closes_the_terminal_first() {
        crate::require!(setsid());
        let mut t = Pty::spawn(&sh("echo bye")).unwrap();
        let e = t.expect("never printed", TIMEOUT).unwrap_err();
        assert!(
            e.contains("closed the terminal") && e.contains("bye"),
            "{e}"
        );
    }

    #[test]
    fn dropping_a_pty_kills_the_program_and_what_it_started() {
        crate::require!(setsid());
        // The shell starts a background sleep that ignores SIGHUP (so the terminal's
        // hangup alone does not end it) and prints its pid; both must die.
        let mut t = Pty::spawn(&sh(
            "(trap '' HUP; exec sleep 300) & echo \"child=$!\"; wait",
        ))
        .unwrap();
        let line = t.expect("\n", TIMEOUT).unwrap();
        let child: u32 = line
            .trim()
            .strip_prefix("child=")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("{line:?}"));
        let shell = t.pid();
        drop(t);
        let gone = |pid: u32| {
            // A killed child not yet reaped by its (dead) parent is a zombie: gone too.
            std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .map(|s| {
                    s.rsplit(')')
                        .next()
                        .unwrap_or("")
                        .trim_start()
                        .starts_with('Z')
                })
                .unwrap_or(true)
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while !(gone(shell) && gone(child)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(
            gone(shell) && gone(child),
            "shell {shell} or its child {child} survived"
        );
    }
}
