//! Running the real GnuPG exactly as sops 3.11 runs it.
//!
//! sops (`pgp/keysource.go`, `gpgExec`) runs `$SOPS_GPG_EXEC` (default `gpg`, looked up in
//! `PATH`), adds `--homedir H` only when a GnuPG home was set explicitly (otherwise gpg
//! reads `GNUPGHOME` itself), pipes the input to gpg's stdin, reads stdout and keeps
//! stderr for the error message. It passes no `--batch` and no pinentry mode, so a
//! protected key is unlocked by gpg-agent through its pinentry (`GPG_TTY`, a graphical
//! pinentry, or a smartcard's PIN prompt), and the environment goes to gpg unchanged.
//!
//! * encrypt: `--no-default-recipient --yes --encrypt -a -r FP --trusted-key ID
//!   --no-encrypt-to`, the data key on stdin; `-r FP` lets gpg pick the key's encryption
//!   subkey (`FP!` forces that exact key); `--trusted-key` with the last 16 hex digits of
//!   `FP` marks the key ultimately trusted for this run, so gpg does not ask "use this key
//!   anyway?" for a key without a trust path; `--no-encrypt-to` drops any `encrypt-to`
//!   of `gpg.conf`, so only the recipient can read `enc`. The armored stdout, whitespace
//!   trimmed, is `enc`.
//! * decrypt: `-d`, `enc` on stdin; zero bytes of output with exit 0 is an error.
//! * import: `--batch --import`, the key on stdin.
//!
//! One argument is ours: `--status-fd 2`, before the command. It makes gpg also write its
//! documented machine-readable status lines (`[GNUPG:] …`) to stderr; it changes nothing
//! else (not the output, the keys chosen, the prompts nor the exit code), and lets us tell
//! "no public key", "no secret key" and passphrase failures from other errors without
//! parsing translated text (see `status.rs`).

use std::ffi::{OsStr, OsString};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use zeroize::Zeroizing;

use super::entry::short_key_id;
use super::error::{Error, Result};
use super::status::Status;

/// The environment variable naming the gpg program (sops' `SOPS_GPG_EXEC`).
pub const GPG_EXEC_ENV: &str = "SOPS_GPG_EXEC";

/// The most a decryption may write to stdout: a data key or Shamir share is 32 or 33
/// bytes. gpg is stopped past this (a compression bomb in a hostile file).
const MAX_PLAINTEXT: usize = 1024;

/// The most an encryption may write: an armored message around a 32-byte key is ~1 KiB
/// per recipient key, so this leaves room for any key size.
const MAX_ARMORED: usize = 1 << 20;

/// A GnuPG program and, optionally, the GnuPG home it must use.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Gpg {
    program: OsString,
    home: Option<PathBuf>,
}

/// What one gpg run gave back.
struct Output {
    code: Option<i32>,
    stdout: Zeroizing<Vec<u8>>,
    status: Status,
}

impl Default for Gpg {
    fn default() -> Gpg {
        Gpg::from_env()
    }
}

impl Gpg {
    /// gpg as sops finds it: `$SOPS_GPG_EXEC` when set and not empty, else `gpg` from
    /// `PATH`; no explicit home (gpg uses `GNUPGHOME`, else `~/.gnupg`).
    pub fn from_env() -> Gpg {
        let program = std::env::var_os(GPG_EXEC_ENV)
            .filter(|p| !p.is_empty())
            .unwrap_or_else(|| OsString::from("gpg"));
        Gpg::new(program)
    }

    /// A given gpg program (a path, or a name looked up in `PATH`), no explicit home.
    pub fn new(program: impl Into<OsString>) -> Gpg {
        Gpg {
            program: program.into(),
            home: None,
        }
    }

    /// Uses this GnuPG home: gpg runs with `--homedir HOME`, as sops does for a home set
    /// through its key service, and as sops-nix's `gnupgHome` does by setting
    /// `GNUPGHOME`. The home is not checked here; gpg warns about unsafe permissions.
    pub fn with_home(mut self, home: impl Into<PathBuf>) -> Gpg {
        self.home = Some(home.into());
        self
    }

    /// The gpg program run.
    pub fn program(&self) -> &OsStr {
        &self.program
    }

    /// The explicit home, if one was set.
    pub fn home(&self) -> Option<&Path> {
        self.home.as_deref()
    }

    /// The GnuPG home gpg will use, where sops looks for the legacy keyrings: the explicit
    /// home, else `$GNUPGHOME`, else `$HOME/.gnupg` (`None` when neither variable is set).
    ///
    /// sops asks the user database for the home directory before `$HOME`; gpg itself uses
    /// `$HOME` first. We follow gpg, since the keyrings read in-process must be gpg's.
    pub fn gnupg_home(&self) -> Option<PathBuf> {
        if let Some(h) = &self.home {
            return Some(h.clone());
        }
        if let Some(h) = std::env::var_os("GNUPGHOME").filter(|h| !h.is_empty()) {
            return Some(PathBuf::from(h));
        }
        std::env::var_os("HOME")
            .filter(|h| !h.is_empty())
            .map(|h| PathBuf::from(h).join(".gnupg"))
    }

    /// Encrypts `data_key` to `fingerprint` (as stored in `fp`) with sops' gpg arguments;
    /// returns `enc`: gpg's ASCII-armored output, whitespace trimmed.
    pub fn encrypt(&self, fingerprint: &str, data_key: &[u8]) -> Result<String> {
        let args: [&OsStr; 9] = [
            "--no-default-recipient".as_ref(),
            "--yes".as_ref(),
            "--encrypt".as_ref(),
            "-a".as_ref(),
            "-r".as_ref(),
            fingerprint.as_ref(),
            "--trusted-key".as_ref(),
            short_key_id(fingerprint).as_ref(),
            "--no-encrypt-to".as_ref(),
        ];
        let out = self.run(&args, data_key, MAX_ARMORED, "encrypt")?;
        if out.code != Some(0) {
            return Err(out
                .status
                .encrypt_error(fingerprint)
                .unwrap_or_else(|| generic("encrypt", &out)));
        }
        let text = String::from_utf8(out.stdout.to_vec()).map_err(|_| Error::Gpg {
            operation: "encrypt",
            code: out.code,
            stderr: "gpg wrote output that is not ASCII armor".into(),
        })?;
        let enc = text.trim();
        if !enc.starts_with("-----BEGIN PGP MESSAGE-----") {
            return Err(Error::Gpg {
                operation: "encrypt",
                code: out.code,
                stderr: "gpg wrote no ASCII-armored message".into(),
            });
        }
        Ok(enc.to_string())
    }

    /// Decrypts `enc` with `gpg -d` (through gpg-agent, pinentry and smartcards as
    /// configured); returns the data key.
    pub fn decrypt(&self, enc: &str) -> Result<Zeroizing<Vec<u8>>> {
        let out = self.run(&["-d".as_ref()], enc.as_bytes(), MAX_PLAINTEXT, "decrypt")?;
        if out.code != Some(0) {
            return Err(out
                .status
                .decrypt_error()
                .unwrap_or_else(|| generic("decrypt", &out)));
        }
        if out.stdout.is_empty() {
            return Err(Error::EmptyPlaintext);
        }
        Ok(out.stdout)
    }

    /// Imports keys (armored or binary, public or secret) as sops' `GnuPGHome.Import`
    /// does (`--batch --import`); returns the fingerprint of every key gpg reports
    /// imported or already present, and logs each at `info` level.
    pub fn import(&self, key_data: &[u8]) -> Result<Vec<String>> {
        let out = self.run(
            &["--batch".as_ref(), "--import".as_ref()],
            key_data,
            MAX_ARMORED,
            "import",
        )?;
        if out.code != Some(0) {
            return Err(generic("import", &out));
        }
        let mut fps: Vec<String> = Vec::new();
        for args in out.status.all("IMPORT_OK") {
            if let Some(fp) = args.get(1) {
                if !fps.contains(fp) {
                    tracing::info!(
                        "Imported a GPG key with fingerprint {fp} into {}",
                        self.home_for_messages()
                    );
                    fps.push(fp.clone());
                }
            }
        }
        Ok(fps)
    }

    /// Stops the gpg-agent of this home (and the scdaemon it started): `gpgconf [--homedir
    /// H] --kill gpg-agent`. An agent that does not run is no error. `gpgconf` is taken
    /// from the directory of the gpg program when it has one there, else from `PATH`.
    ///
    /// Running gpg starts a gpg-agent for its home that outlives gpg; a program that ran
    /// gpg with a home of its own (sealbox-install with `gnupgHome`) calls this before it
    /// exits.
    pub fn kill_agent(&self) -> Result<()> {
        self.gpgconf_kill("gpg-agent")
    }

    /// Stops every GnuPG daemon of this home (`gpgconf --kill all`: gpg-agent, scdaemon,
    /// dirmngr, keyboxd). For throwaway homes, e.g. in tests.
    pub fn kill_all(&self) -> Result<()> {
        self.gpgconf_kill("all")
    }

    fn gpgconf_kill(&self, what: &str) -> Result<()> {
        let program = self.gpgconf();
        let mut cmd = Command::new(&program);
        if let Some(h) = &self.home {
            cmd.arg("--homedir").arg(h);
        }
        let out = cmd
            .args(["--kill", what])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .output()
            .map_err(|source| Error::GpgNotFound {
                program: program.clone(),
                source,
            })?;
        if !out.status.success() {
            return Err(Error::Gpg {
                operation: "kill agent",
                code: out.status.code(),
                stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
            });
        }
        Ok(())
    }

    /// `gpgconf` beside the gpg program, else from `PATH`.
    fn gpgconf(&self) -> OsString {
        let p = Path::new(&self.program);
        if let Some(dir) = p.parent().filter(|d| !d.as_os_str().is_empty()) {
            let c = dir.join("gpgconf");
            if c.is_file() {
                return c.into_os_string();
            }
        }
        OsString::from("gpgconf")
    }

    fn home_for_messages(&self) -> String {
        self.gnupg_home()
            .map(|h| h.display().to_string())
            .unwrap_or_else(|| "the default GnuPG home".into())
    }

    /// Runs gpg with `args` (after `--homedir` and `--status-fd 2`), `input` on stdin;
    /// stdout is read up to `limit` bytes (gpg is killed past it).
    fn run(&self, args: &[&OsStr], input: &[u8], limit: usize, op: &'static str) -> Result<Output> {
        let mut cmd = Command::new(&self.program);
        if let Some(h) = &self.home {
            cmd.arg("--homedir").arg(h);
        }
        cmd.args(["--status-fd", "2"])
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().map_err(|source| Error::GpgNotFound {
            program: self.program.clone(),
            source,
        })?;
        let io_err = |what: &str, source| Error::Io {
            what: format!("gpg {op}: {what}"),
            source,
        };
        let mut stdin = child.stdin.take().expect("stdin is piped");
        let mut stderr = child.stderr.take().expect("stderr is piped");
        let mut stdout = child.stdout.take().expect("stdout is piped");
        let result = std::thread::scope(|s| {
            // gpg may read its input only after writing output or prompting, so stdin and
            // stderr are served by their own threads.
            let writer = s.spawn(move || {
                // gpg may exit without reading everything (a bad key): not our error.
                let _ = stdin.write_all(input);
            });
            let err_reader = s.spawn(move || {
                let mut buf = Vec::new();
                stderr.read_to_end(&mut buf).map(|_| buf)
            });
            let mut out = Zeroizing::new(Vec::new());
            let read = (&mut stdout).take(limit as u64 + 1).read_to_end(&mut out);
            let too_much = out.len() > limit;
            if too_much {
                // Our own child, by its handle: nothing else is signalled.
                let _ = child.kill();
            }
            drop(stdout);
            let _ = writer.join();
            let errs = err_reader.join().expect("stderr reader does not panic");
            (read, too_much, out, errs)
        });
        let status = child.wait().map_err(|e| io_err("waiting for gpg", e))?;
        let (read, too_much, stdout, errs) = result;
        read.map_err(|e| io_err("reading gpg's output", e))?;
        let errs = errs.map_err(|e| io_err("reading gpg's messages", e))?;
        if too_much {
            return Err(Error::Gpg {
                operation: op,
                code: None,
                stderr: format!("gpg wrote more than {limit} bytes; stopped"),
            });
        }
        Ok(Output {
            code: status.code(),
            stdout,
            status: Status::parse(&errs),
        })
    }
}

fn generic(operation: &'static str, out: &Output) -> Error {
    Error::Gpg {
        operation,
        code: out.code,
        stderr: out.status.human.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_gpg_program_is_gpg_not_found_naming_it() {
        let g = Gpg::new("/nonexistent/sealbox-test-gpg");
        let e = g.decrypt("x").unwrap_err();
        assert!(matches!(e, Error::GpgNotFound { .. }), "{e:?}");
        assert!(e.to_string().contains("/nonexistent/sealbox-test-gpg"));
        assert!(e.hint().unwrap().contains("SOPS_GPG_EXEC"));
    }

    #[test]
    fn an_explicit_home_is_the_gnupg_home() {
        let g = Gpg::new("gpg").with_home("/some/home");
        assert_eq!(g.gnupg_home().unwrap(), PathBuf::from("/some/home"));
        assert_eq!(g.home(), Some(Path::new("/some/home")));
    }
}
