//! age identities: where sops finds them (docs/format.md#identity-sources) and unwrapping
//! `enc` blobs (docs/format.md#unwrapping-order).
//!
//! Every kind of key a user holds: X25519 identities, SSH keys (unencrypted or
//! passphrase-protected, opening both stanza kinds of an ed25519 key: `sshkey`), age
//! plugin identities (`plugin`), passphrase-sealed identity files (`passphrase`), and the
//! commands sops 3.12 runs for a key (`SOPS_AGE_KEY_CMD`, `SOPS_AGE_SSH_PRIVATE_KEY_CMD`,
//! each given the entry's recipient in `SOPS_AGE_RECIPIENT`).
//!
//! **Two rounds.** Unwrapping first tries every identity that needs nobody (X25519 keys,
//! unlocked SSH keys, keys unlocked earlier in the process) on all of a group's entries;
//! only when none opens does it go through the others in sops' order: a locked key whose
//! stanza is there asks for its passphrase, a plugin runs (and may ask for a PIN), a key
//! command runs for the entry's recipient. So a user with a passphrase-protected
//! `~/.ssh/id_ed25519` and a plain `keys.txt` is not asked anything for files sealed to
//! `keys.txt`. Everything unlocked (or fetched by a command) is kept for the process: at
//! most one prompt per key per command.

use std::collections::HashMap;
use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};

use age_core::format::{FileKey, Stanza};
use zeroize::Zeroizing;

use super::passphrase;
use super::plugin::{one_line, PluginIdentity};
use super::recipient::ARMOR_BEGIN;
use super::sshkey::{self, Locked, SshKey, Unlocked};
use super::ui::Ui;
use sealbox_formats::{Error, ErrorKind, Result};

const ENV_SSH_KEY_FILE: &str = "SOPS_AGE_SSH_PRIVATE_KEY_FILE";
const ENV_SSH_KEY_CMD: &str = "SOPS_AGE_SSH_PRIVATE_KEY_CMD";
const ENV_AGE_KEY: &str = "SOPS_AGE_KEY";
const ENV_AGE_KEY_FILE: &str = "SOPS_AGE_KEY_FILE";
const ENV_AGE_KEY_CMD: &str = "SOPS_AGE_KEY_CMD";
/// Given to the key commands: the recipient of the entry being opened (sops 3.12).
pub const ENV_RECIPIENT: &str = "SOPS_AGE_RECIPIENT";

/// The largest identity file read (sops' limit).
const MAX_KEY_FILE: u64 = 16 << 20;

/// Where identities come from, so tests need not touch the real environment or `HOME`.
///
/// Build it with [`IdentitySources::from_env`], or with a struct literal and
/// `..Default::default()`.
#[derive(Clone, Default)]
pub struct IdentitySources {
    /// `SOPS_AGE_SSH_PRIVATE_KEY_FILE`: an OpenSSH/PEM ed25519 or RSA key.
    pub ssh_private_key_file: Option<PathBuf>,
    /// `SOPS_AGE_SSH_PRIVATE_KEY_CMD`: a command line whose stdout is an unencrypted SSH
    /// private key (sops 3.12).
    pub ssh_private_key_cmd: Option<String>,
    /// `HOME`: for `~/.ssh/id_ed25519`, `~/.ssh/id_rsa` and the default keys file.
    pub home: Option<PathBuf>,
    /// `SOPS_AGE_KEY`: identity text (kept in a zeroizing buffer); several identities may
    /// share a line, separated by white space (sops 3.13).
    pub age_key: Option<Zeroizing<String>>,
    /// `SOPS_AGE_KEY_FILE`: path to an identity file (plain or passphrase-sealed).
    pub age_key_file: Option<PathBuf>,
    /// `SOPS_AGE_KEY_CMD`: a command line (split shell-style, run without a shell) whose
    /// stdout is identity text; run once per recipient, with `SOPS_AGE_RECIPIENT`.
    pub age_key_cmd: Option<String>,
    /// `XDG_CONFIG_HOME`: overrides `~/.config` for the default keys file when non-empty.
    pub xdg_config_home: Option<PathBuf>,
    /// `APPDATA` (Windows only): base of the default keys file there.
    pub app_data: Option<PathBuf>,
    /// Who answers passphrase prompts and plugin requests (default: nobody).
    pub ui: Ui,
}

impl fmt::Debug for IdentitySources {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IdentitySources")
            .field("ssh_private_key_file", &self.ssh_private_key_file)
            .field("ssh_private_key_cmd", &self.ssh_private_key_cmd)
            .field("home", &self.home)
            .field("age_key", &self.age_key.as_ref().map(|_| "<redacted>"))
            .field("age_key_file", &self.age_key_file)
            .field("age_key_cmd", &self.age_key_cmd)
            .field("xdg_config_home", &self.xdg_config_home)
            .field("app_data", &self.app_data)
            .field("ui", &self.ui)
            .finish()
    }
}

fn env_path(name: &str) -> Option<PathBuf> {
    std::env::var_os(name).map(PathBuf::from)
}

fn non_empty(p: Option<PathBuf>) -> Option<PathBuf> {
    p.filter(|p| !p.as_os_str().is_empty())
}

impl IdentitySources {
    /// Reads `SOPS_AGE_SSH_PRIVATE_KEY_FILE`, `SOPS_AGE_SSH_PRIVATE_KEY_CMD`, `HOME`,
    /// `SOPS_AGE_KEY`, `SOPS_AGE_KEY_FILE`, `SOPS_AGE_KEY_CMD`, `XDG_CONFIG_HOME` (and
    /// `APPDATA`). A variable set to the empty string counts as set (like Go's
    /// `os.LookupEnv`), except `HOME`, `XDG_CONFIG_HOME` and `APPDATA`, where empty means
    /// unset. Nobody answers prompts: set [`IdentitySources::ui`] for that.
    pub fn from_env() -> Self {
        let cmd = |name: &str| std::env::var_os(name).map(|v| v.to_string_lossy().into_owned());
        IdentitySources {
            ssh_private_key_file: env_path(ENV_SSH_KEY_FILE),
            ssh_private_key_cmd: cmd(ENV_SSH_KEY_CMD),
            home: non_empty(env_path("HOME")),
            age_key: std::env::var_os(ENV_AGE_KEY)
                .map(|v| Zeroizing::new(v.to_string_lossy().into_owned())),
            age_key_file: env_path(ENV_AGE_KEY_FILE),
            age_key_cmd: cmd(ENV_AGE_KEY_CMD),
            xdg_config_home: non_empty(env_path("XDG_CONFIG_HOME")),
            app_data: non_empty(env_path("APPDATA")),
            ui: Ui::none(),
        }
    }

    /// The same sources, answered by `ui`.
    pub fn with_ui(mut self, ui: Ui) -> Self {
        self.ui = ui;
        self
    }

    /// The default keys file, `<UserConfigDir>/sops/age/keys.txt`, if it can be determined.
    pub fn default_keys_file(&self) -> Option<PathBuf> {
        let xdg = non_empty(self.xdg_config_home.clone());
        let home = non_empty(self.home.clone());
        let base = if cfg!(windows) {
            non_empty(self.app_data.clone())
        } else if let Some(x) = xdg {
            Some(x)
        } else if cfg!(target_os = "macos") {
            home.map(|h| h.join("Library").join("Application Support"))
        } else {
            home.map(|h| h.join(".config"))
        }?;
        Some(base.join("sops").join("age").join("keys.txt"))
    }
}

/// What happened to one identity source.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SourceStatus {
    /// The environment variable is not set.
    NotSet,
    /// The file does not exist.
    Missing,
    /// Loaded this many identities.
    Loaded(usize),
    /// Loaded, but opened only when needed: a passphrase-sealed file, or a command run per
    /// recipient.
    Deferred(&'static str),
    /// The source failed as a whole; the message names no key material.
    Failed(String),
}

/// One location tried, with its outcome.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceReport {
    /// `SOPS_AGE_KEY_FILE=/path`, `/home/u/.ssh/id_ed25519`, `SOPS_AGE_KEY`, …
    pub location: String,
    /// The outcome.
    pub status: SourceStatus,
}

impl fmt::Display for SourceReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.status {
            SourceStatus::NotSet => write!(f, "{} (not set)", self.location),
            SourceStatus::Missing => write!(f, "{} (missing)", self.location),
            SourceStatus::Loaded(1) => write!(f, "{} (1 key)", self.location),
            SourceStatus::Loaded(n) => write!(f, "{} ({n} keys)", self.location),
            SourceStatus::Deferred(what) => write!(f, "{} ({what})", self.location),
            SourceStatus::Failed(e) => write!(f, "{} (error: {e})", self.location),
        }
    }
}

/// When an identity may be tried (see the module's "two rounds").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Round {
    /// Only what needs nobody and runs nothing.
    Ready,
    /// The rest: prompts, plugins, commands.
    Asking,
}

/// One usable identity.
#[derive(Clone)]
enum Ident {
    X25519(age::x25519::Identity),
    /// An unencrypted SSH key (both stanza kinds for ed25519).
    Ssh(Box<Unlocked>),
    /// A passphrase-protected SSH key.
    LockedSsh(Arc<Locked>),
    /// An age plugin identity.
    Plugin(Arc<PluginIdentity>),
    /// A passphrase-sealed identity file.
    LockedFile(Arc<LockedFile>),
    /// `SOPS_AGE_KEY_CMD` or `SOPS_AGE_SSH_PRIVATE_KEY_CMD`, run per recipient.
    Command(Arc<KeyCommand>),
}

/// The outcome of trying one identity.
type Try = Option<std::result::Result<FileKey, String>>;

fn age_result(r: Option<std::result::Result<FileKey, age::DecryptError>>) -> Try {
    r.map(|r| r.map_err(|e| one_line(&e.to_string())))
}

/// The first identity of `ids` that opens, else the first error, else `None`.
fn first_of(ids: &[Ident], stanzas: &[Stanza], recipient: &str, round: Round) -> Try {
    let mut err = None;
    for id in ids {
        match id.try_unwrap(stanzas, recipient, round) {
            Some(Ok(k)) => return Some(Ok(k)),
            Some(Err(e)) => {
                err.get_or_insert(e);
            }
            None => {}
        }
    }
    err.map(Err)
}

/// `first_of` in both rounds (for identities just unlocked or fetched).
fn first_of_all(ids: &[Ident], stanzas: &[Stanza], recipient: &str) -> Try {
    match first_of(ids, stanzas, recipient, Round::Ready) {
        Some(Ok(k)) => Some(Ok(k)),
        ready => match first_of(ids, stanzas, recipient, Round::Asking) {
            None => ready,
            asking => asking,
        },
    }
}

impl Ident {
    fn try_unwrap(&self, stanzas: &[Stanza], recipient: &str, round: Round) -> Try {
        let ready = round == Round::Ready;
        match self {
            Ident::X25519(x) if ready => age_result(age::Identity::unwrap_stanzas(x, stanzas)),
            Ident::Ssh(k) if ready => age_result(k.unwrap(stanzas)),
            Ident::X25519(_) | Ident::Ssh(_) => None,
            Ident::LockedSsh(l) => match (l.unlocked(), round) {
                (Some(Ok(k)), Round::Ready) => age_result(k.unwrap(stanzas)),
                (Some(Ok(_)), Round::Asking) | (_, Round::Ready) => None,
                (_, Round::Asking) if !l.is_for(stanzas, recipient) => None,
                (Some(Err(e)), Round::Asking) => Some(Err(e.clone())),
                (None, Round::Asking) => match l.unlock() {
                    Ok(k) => age_result(k.unwrap(stanzas)),
                    Err(e) => Some(Err(e.clone())),
                },
            },
            Ident::Plugin(p) => match round {
                Round::Asking => p.unwrap(stanzas),
                Round::Ready => None,
            },
            Ident::LockedFile(f) => match (f.opened.get(), round) {
                (Some(Ok(ids)), _) => first_of(ids, stanzas, recipient, round),
                (_, Round::Ready) => None,
                (_, Round::Asking) if !LockedFile::may_be_for(stanzas) => None,
                (Some(Err(e)), Round::Asking) => Some(Err(e.clone())),
                (None, Round::Asking) => match f.open() {
                    Ok(ids) => first_of_all(ids, stanzas, recipient),
                    Err(e) => Some(Err(e.clone())),
                },
            },
            Ident::Command(c) => match round {
                Round::Ready => match c.ran(recipient) {
                    Some(r) => match &*r {
                        Ok(ids) => first_of(ids, stanzas, recipient, round),
                        Err(_) => None,
                    },
                    None => None,
                },
                Round::Asking => match &*c.run(recipient) {
                    Ok(ids) => first_of_all(ids, stanzas, recipient),
                    Err(e) => Some(Err(e.clone())),
                },
            },
        }
    }

    /// The `age1…` recipient of an X25519 identity.
    fn x25519_recipient(&self) -> Option<String> {
        match self {
            Ident::X25519(x) => Some(x.to_public().to_string()),
            _ => None,
        }
    }
}

/// A passphrase-sealed identity file, opened when first needed.
struct LockedFile {
    /// As the prompt names it.
    location: String,
    bytes: Zeroizing<Vec<u8>>,
    ui: Ui,
    opened: OnceLock<std::result::Result<Vec<Ident>, String>>,
}

impl LockedFile {
    /// Whether a stanza may be for an identity such a file holds (X25519 or a plugin's):
    /// anything but SSH, scrypt and the random "grease" stanzas rage adds.
    fn may_be_for(stanzas: &[Stanza]) -> bool {
        stanzas.iter().any(|s| {
            !(s.tag.starts_with("ssh-") || s.tag == "scrypt" || s.tag.ends_with("-grease"))
        })
    }

    fn open(&self) -> &std::result::Result<Vec<Ident>, String> {
        self.opened.get_or_init(|| {
            let prompt = format!("Enter passphrase for identity '{}':", self.location);
            let pass = self.ui.secret(&self.location, &prompt).map_err(|why| {
                format!("passphrase-protected identity file: cannot ask for its passphrase: {why}")
            })?;
            let text = passphrase::open(&self.bytes, &pass)?;
            parse_identity_text(&text, &self.ui, false)
        })
    }
}

/// What a key command gave for one recipient: its identities, or why none.
type Fetched = Arc<std::result::Result<Vec<Ident>, String>>;

/// `SOPS_AGE_KEY_CMD` or `SOPS_AGE_SSH_PRIVATE_KEY_CMD`: run once per recipient.
struct KeyCommand {
    var: &'static str,
    cmdline: String,
    ui: Ui,
    runs: Mutex<HashMap<String, Fetched>>,
}

impl KeyCommand {
    fn ran(&self, recipient: &str) -> Option<Fetched> {
        self.runs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(recipient)
            .cloned()
    }

    fn run(&self, recipient: &str) -> Fetched {
        let mut runs = self.runs.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(r) = runs.get(recipient) {
            return r.clone();
        }
        let got = run_key_cmd(&self.cmdline, recipient).and_then(|out| {
            if self.var == ENV_SSH_KEY_CMD {
                match sshkey::parse(out.as_bytes(), self.var, &self.ui)? {
                    SshKey::Unlocked(k) => Ok(vec![Ident::Ssh(Box::new(k))]),
                    SshKey::Locked(_) => Err(format!(
                        "the SSH key {} printed is passphrase-protected: it must print an unprotected key",
                        self.var
                    )),
                }
            } else {
                parse_identity_text(&out, &self.ui, false)
            }
        });
        let got = Arc::new(got);
        runs.insert(recipient.to_string(), got.clone());
        got
    }
}

impl fmt::Debug for Ident {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Ident::X25519(_) => "X25519",
            Ident::Ssh(_) => "Ssh",
            Ident::LockedSsh(_) => "LockedSsh",
            Ident::Plugin(_) => "Plugin",
            Ident::LockedFile(_) => "LockedFile",
            Ident::Command(_) => "Command",
        })
    }
}

/// An identity and where it came from (messages name the location).
#[derive(Clone)]
struct Entry {
    location: Arc<str>,
    ident: Ident,
}

/// All identities found, in sops order (docs/format.md#identity-sources), with the list of
/// locations tried and the per-source errors. A source that fails (a bad line, an
/// unreadable file, a failing command) contributes no identity, but the other sources
/// still load.
#[derive(Clone, Default)]
pub struct Identities {
    ids: Vec<Entry>,
    sources: Vec<SourceReport>,
    ui: Ui,
}

impl fmt::Debug for Identities {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Identities")
            .field("count", &self.ids.len())
            .field("sources", &self.sources)
            .finish()
    }
}

/// Parses identity-file text: `AGE-SECRET-KEY-1…` and `AGE-PLUGIN-…` lines, `#` comments;
/// with `words`, several identities may share a line (sops 3.13's `SOPS_AGE_KEY`). The
/// error names a line number, never the line.
fn parse_identity_text(
    text: &str,
    ui: &Ui,
    words: bool,
) -> std::result::Result<Vec<Ident>, String> {
    let mut out = Vec::new();
    for (i, raw) in text.split('\n').enumerate() {
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        let n = i + 1;
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let items: Vec<&str> = if words {
            line.split_whitespace().collect()
        } else {
            vec![line]
        };
        for item in items {
            if item.starts_with("AGE-PLUGIN-") {
                let p = PluginIdentity::parse(item, ui).map_err(|e| format!("{e} at line {n}"))?;
                out.push(Ident::Plugin(Arc::new(p)));
            } else if item.starts_with("AGE-SECRET-KEY-1") {
                let id = item
                    .parse::<age::x25519::Identity>()
                    .map_err(|_| format!("malformed secret key at line {n}"))?;
                out.push(Ident::X25519(id));
            } else {
                return Err(format!("unknown identity type at line {n}"));
            }
        }
    }
    Ok(out)
}

/// Identities from the bytes of an identity source: a passphrase-sealed age file (opened
/// when first needed) or identity text.
fn parse_identity_bytes(
    bytes: Zeroizing<Vec<u8>>,
    location: &str,
    ui: &Ui,
    words: bool,
) -> std::result::Result<(Vec<Ident>, Option<&'static str>), String> {
    if passphrase::is_age_file(&bytes) {
        passphrase::check_passphrase_file(&bytes)?;
        let f = LockedFile {
            location: location.to_string(),
            bytes,
            ui: ui.clone(),
            opened: OnceLock::new(),
        };
        return Ok((
            vec![Ident::LockedFile(Arc::new(f))],
            Some("passphrase-protected: opened when needed"),
        ));
    }
    let text = std::str::from_utf8(&bytes).map_err(|_| "not a text file".to_string())?;
    parse_identity_text(text, ui, words).map(|ids| (ids, None))
}

/// Splits a command line shell-style (POSIX quoting: `'…'`, `"…"` with `\` escapes of
/// `\ " $` and newline, `\` outside quotes, `#` comments at word start), like
/// `github.com/google/shlex`.
pub(crate) fn shell_split(s: &str) -> std::result::Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            '#' if !in_word => {
                // Comment to end of line.
                for c in chars.by_ref() {
                    if c == '\n' {
                        break;
                    }
                }
            }
            '\\' => match chars.next() {
                Some('\n') => {}
                Some(n) => {
                    cur.push(n);
                    in_word = true;
                }
                None => return Err("unexpected end of input after \\".into()),
            },
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(n) => cur.push(n),
                        None => return Err("unclosed single quote".into()),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(n @ ('\\' | '"' | '$' | '`')) => cur.push(n),
                            Some('\n') => {}
                            Some(n) => {
                                cur.push('\\');
                                cur.push(n);
                            }
                            None => return Err("unclosed double quote".into()),
                        },
                        Some(n) => cur.push(n),
                        None => return Err("unclosed double quote".into()),
                    }
                }
            }
            c => {
                cur.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        words.push(cur);
    }
    Ok(words)
}

/// Runs a key command without a shell, `SOPS_AGE_RECIPIENT` set to `recipient`, and returns
/// its stdout.
fn run_key_cmd(cmdline: &str, recipient: &str) -> std::result::Result<Zeroizing<String>, String> {
    let args = shell_split(cmdline).map_err(|e| format!("failed to parse command: {e}"))?;
    let Some((prog, rest)) = args.split_first() else {
        return Err("failed to parse command: empty command".into());
    };
    let out = Command::new(prog)
        .args(rest)
        .env(ENV_RECIPIENT, recipient)
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .stdout(Stdio::piped())
        .output()
        .map_err(|e| format!("failed to execute command {prog:?}: {e}"))?;
    let stdout = Zeroizing::new(out.stdout);
    if !out.status.success() {
        return Err(format!(
            "failed to execute command {prog:?}: {}",
            out.status
        ));
    }
    match std::str::from_utf8(&stdout) {
        Ok(s) => Ok(Zeroizing::new(s.to_string())),
        Err(_) => Err(format!("command {prog:?} printed non-UTF-8 output")),
    }
}

fn read_secret_file(path: &Path) -> std::io::Result<Zeroizing<Vec<u8>>> {
    let f = std::fs::File::open(path)?;
    let len = f.metadata().map(|m| m.len() as usize).unwrap_or(0);
    let mut buf = Zeroizing::new(Vec::with_capacity(len.min(MAX_KEY_FILE as usize) + 1));
    f.take(MAX_KEY_FILE + 1).read_to_end(&mut buf)?;
    if buf.len() as u64 > MAX_KEY_FILE {
        return Err(std::io::Error::other("file too long"));
    }
    Ok(buf)
}

fn io_message(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => e.to_string(),
    }
}

/// One attempt at an `enc` blob: age's view of every identity of one round, which collects
/// their errors instead of stopping at the first (a plugin that fails must not hide a key
/// further down).
struct Attempt<'a> {
    ids: &'a [Entry],
    recipient: &'a str,
    round: Round,
    errors: std::cell::RefCell<Vec<String>>,
}

impl age::Identity for Attempt<'_> {
    fn unwrap_stanza(
        &self,
        stanza: &Stanza,
    ) -> Option<std::result::Result<FileKey, age::DecryptError>> {
        self.unwrap_stanzas(std::slice::from_ref(stanza))
    }

    fn unwrap_stanzas(
        &self,
        stanzas: &[Stanza],
    ) -> Option<std::result::Result<FileKey, age::DecryptError>> {
        for e in self.ids {
            match e.ident.try_unwrap(stanzas, self.recipient, self.round) {
                Some(Ok(k)) => return Some(Ok(k)),
                Some(Err(why)) => {
                    let msg = format!("{}: {why}", e.location);
                    let mut errors = self.errors.borrow_mut();
                    if !errors.contains(&msg) {
                        errors.push(msg);
                    }
                }
                None => {}
            }
        }
        None
    }
}

impl Identities {
    /// No identities, no sources; nobody answers prompts.
    pub fn new() -> Self {
        Self::default()
    }

    /// No identities yet; prompts and plugin requests go to `ui`.
    pub fn with_ui(ui: Ui) -> Self {
        Identities {
            ui,
            ..Self::default()
        }
    }

    /// Who answers prompts for these identities.
    pub fn ui(&self) -> &Ui {
        &self.ui
    }

    /// Loads every identity source in sops order: the SSH key file, the SSH key command,
    /// `~/.ssh/id_ed25519`, `~/.ssh/id_rsa`, `SOPS_AGE_KEY`, `SOPS_AGE_KEY_FILE`,
    /// `SOPS_AGE_KEY_CMD`, the default keys file. Errors are recorded per source (see
    /// [`Identities::sources`]), never fatal. Nothing is asked and no command runs here:
    /// locked keys and commands wait for an entry that needs them.
    pub fn load(src: &IdentitySources) -> Identities {
        let mut me = Identities::with_ui(src.ui.clone());

        // 1. SOPS_AGE_SSH_PRIVATE_KEY_FILE
        match &src.ssh_private_key_file {
            Some(p) => {
                let loc = format!("{ENV_SSH_KEY_FILE}={}", p.display());
                me.load_ssh_file(p, loc, false);
            }
            None => me.record(ENV_SSH_KEY_FILE.into(), SourceStatus::NotSet),
        }

        // 2. SOPS_AGE_SSH_PRIVATE_KEY_CMD (sops 3.12)
        me.load_cmd(ENV_SSH_KEY_CMD, src.ssh_private_key_cmd.as_deref());

        // 3., 4. ~/.ssh/id_ed25519, ~/.ssh/id_rsa
        if let Some(home) = non_empty(src.home.clone()) {
            for name in ["id_ed25519", "id_rsa"] {
                let p = home.join(".ssh").join(name);
                let loc = p.display().to_string();
                me.load_ssh_file(&p, loc, true);
            }
        }

        // 5. SOPS_AGE_KEY
        match &src.age_key {
            Some(text) => me.load_bytes(
                Zeroizing::new(text.as_bytes().to_vec()),
                ENV_AGE_KEY.into(),
                true,
            ),
            None => me.record(ENV_AGE_KEY.into(), SourceStatus::NotSet),
        }

        // 6. SOPS_AGE_KEY_FILE
        match &src.age_key_file {
            Some(p) => {
                let loc = format!("{ENV_AGE_KEY_FILE}={}", p.display());
                me.load_identity_file(p, loc, false);
            }
            None => me.record(ENV_AGE_KEY_FILE.into(), SourceStatus::NotSet),
        }

        // 7. SOPS_AGE_KEY_CMD
        me.load_cmd(ENV_AGE_KEY_CMD, src.age_key_cmd.as_deref());

        // 8. <UserConfigDir>/sops/age/keys.txt
        if let Some(p) = src.default_keys_file() {
            let loc = p.display().to_string();
            me.load_identity_file(&p, loc, true);
        }
        me
    }

    fn record(&mut self, location: String, status: SourceStatus) {
        self.sources.push(SourceReport { location, status });
    }

    fn push(&mut self, location: &str, idents: Vec<Ident>) {
        let location: Arc<str> = Arc::from(location);
        self.ids.extend(idents.into_iter().map(|ident| Entry {
            location: location.clone(),
            ident,
        }));
    }

    fn load_cmd(&mut self, var: &'static str, cmd: Option<&str>) {
        let Some(cmd) = cmd else {
            return self.record(var.into(), SourceStatus::NotSet);
        };
        let prog = shell_split(cmd)
            .ok()
            .and_then(|a| a.into_iter().next())
            .unwrap_or_default();
        let loc = format!("{var} ({prog})");
        let c = KeyCommand {
            var,
            cmdline: cmd.to_string(),
            ui: self.ui.clone(),
            runs: Mutex::default(),
        };
        self.push(&loc, vec![Ident::Command(Arc::new(c))]);
        self.record(loc, SourceStatus::Deferred("run per recipient when needed"));
    }

    fn load_ssh_file(&mut self, p: &Path, loc: String, optional: bool) {
        if optional && !p.exists() {
            return self.record(loc, SourceStatus::Missing);
        }
        match read_secret_file(p) {
            Ok(pem) => match self.parse_ssh(&pem, &p.display().to_string()) {
                Ok((id, status)) => {
                    self.push(&loc, vec![id]);
                    self.record(loc, status);
                }
                Err(e) => self.record(loc, SourceStatus::Failed(e)),
            },
            Err(e) => self.record(loc, SourceStatus::Failed(io_message(&e))),
        }
    }

    fn parse_ssh(
        &self,
        pem: &[u8],
        path: &str,
    ) -> std::result::Result<(Ident, SourceStatus), String> {
        Ok(match sshkey::parse(pem, path, &self.ui)? {
            SshKey::Unlocked(k) => (Ident::Ssh(Box::new(k)), SourceStatus::Loaded(1)),
            SshKey::Locked(l) => (
                Ident::LockedSsh(Arc::from(l)),
                SourceStatus::Deferred("passphrase-protected: unlocked when needed"),
            ),
        })
    }

    fn load_identity_file(&mut self, p: &Path, loc: String, optional: bool) {
        if optional && !p.exists() {
            return self.record(loc, SourceStatus::Missing);
        }
        match read_secret_file(p) {
            Ok(bytes) => {
                let shown = p.display().to_string();
                match parse_identity_bytes(bytes, &shown, &self.ui, false) {
                    Ok((ids, deferred)) => self.add_source(loc, ids, deferred),
                    Err(e) => self.record(loc, SourceStatus::Failed(e)),
                }
            }
            Err(e) => self.record(loc, SourceStatus::Failed(io_message(&e))),
        }
    }

    fn load_bytes(&mut self, bytes: Zeroizing<Vec<u8>>, loc: String, words: bool) {
        match parse_identity_bytes(bytes, &loc, &self.ui, words) {
            Ok((ids, deferred)) => self.add_source(loc, ids, deferred),
            Err(e) => self.record(loc, SourceStatus::Failed(e)),
        }
    }

    fn add_source(&mut self, loc: String, ids: Vec<Ident>, deferred: Option<&'static str>) {
        let n = ids.len();
        self.push(&loc, ids);
        self.record(
            loc,
            match deferred {
                Some(what) => SourceStatus::Deferred(what),
                None => SourceStatus::Loaded(n),
            },
        );
    }

    /// Identities from identity-file text (`AGE-SECRET-KEY-1…` and `AGE-PLUGIN-…` lines,
    /// `#` comments). Any bad line is an error naming its line number only.
    pub fn from_text(text: &str) -> Result<Identities> {
        let mut me = Identities::new();
        me.push_identity_text(text, "identity text")?;
        Ok(me)
    }

    /// Adds the identities in `text` (identity-file format), recorded as source `location`.
    /// On error nothing is added and the error names `location` and a line number.
    pub fn push_identity_text(&mut self, text: &str, location: &str) -> Result<()> {
        let parsed = parse_identity_text(text, &self.ui, false).map(|ids| (ids, None));
        self.push_parsed(location, parsed)
    }

    /// Adds the identities of an identity file's bytes: identity text, or a
    /// passphrase-sealed age file (`age -p`), opened when first needed with this set's
    /// [`Ui`]. On error nothing is added and the error names `location`.
    pub fn push_identity_file(&mut self, bytes: &[u8], location: &str) -> Result<()> {
        let parsed =
            parse_identity_bytes(Zeroizing::new(bytes.to_vec()), location, &self.ui, false);
        self.push_parsed(location, parsed)
    }

    /// Adds what a parse of `location` gave as one source, or records its failure and
    /// returns it naming `location`.
    fn push_parsed(
        &mut self,
        location: &str,
        parsed: std::result::Result<(Vec<Ident>, Option<&'static str>), String>,
    ) -> Result<()> {
        match parsed {
            Ok((ids, deferred)) => {
                self.add_source(location.into(), ids, deferred);
                Ok(())
            }
            Err(e) => {
                self.record(location.into(), SourceStatus::Failed(e.clone()));
                Err(Error::new(
                    ErrorKind::InvalidKey,
                    format!("{location}: {e}"),
                ))
            }
        }
    }

    /// Adds an SSH private key (OpenSSH ed25519 or RSA, or PEM RSA) as an age-ssh
    /// identity; an ed25519 key also opens X25519 stanzas of its ssh-to-age conversion.
    /// `path_for_messages` names it in messages and in the passphrase prompt of a protected
    /// key, which is asked (with this set's [`Ui`]) only when a stanza is for the key.
    pub fn push_ssh_private_key(&mut self, pem: &[u8], path_for_messages: &str) -> Result<()> {
        match self.parse_ssh(pem, path_for_messages) {
            Ok((id, status)) => {
                self.push(path_for_messages, vec![id]);
                self.record(path_for_messages.into(), status);
                Ok(())
            }
            Err(e) => {
                self.record(path_for_messages.into(), SourceStatus::Failed(e.clone()));
                Err(Error::new(
                    ErrorKind::InvalidKey,
                    format!("{path_for_messages}: {e}"),
                ))
            }
        }
    }

    /// True when no identity was found (a locked key or a key command counts as one).
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// How many identities were found (a locked file or a key command counts as one).
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Every location tried, in order, with its outcome.
    pub fn sources(&self) -> &[SourceReport] {
        &self.sources
    }

    /// The `age1…` recipients of the X25519 identities, in order (what `age-keygen -y`
    /// prints), those of passphrase-sealed files once opened included. SSH and plugin
    /// identities are not listed.
    pub fn recipients(&self) -> Vec<String> {
        let mut out = Vec::new();
        for e in &self.ids {
            match &e.ident {
                Ident::LockedFile(f) => {
                    if let Some(Ok(ids)) = f.opened.get() {
                        out.extend(ids.iter().filter_map(Ident::x25519_recipient));
                    }
                }
                other => out.extend(other.x25519_recipient()),
            }
        }
        out
    }

    /// Opens every passphrase-sealed identity file now (asking for each passphrase), so
    /// that [`Identities::recipients`] lists their keys; the first failure is returned.
    pub fn open_sealed_files(&self) -> Result<()> {
        for e in &self.ids {
            if let Ident::LockedFile(f) = &e.ident {
                if let Err(why) = f.open() {
                    return Err(Error::new(
                        ErrorKind::InvalidKey,
                        format!("{}: {why}", e.location),
                    ));
                }
            }
        }
        Ok(())
    }

    /// Locations tried and their outcomes, for error messages, e.g.
    /// `SOPS_AGE_KEY_FILE=/x (2 keys), /home/u/.config/sops/age/keys.txt (missing)`.
    pub fn describe_sources(&self) -> String {
        if self.sources.is_empty() {
            return "(no locations)".into();
        }
        self.sources
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Unwraps an armored `enc` blob of an unknown recipient; see
    /// [`Identities::unwrap_entries`].
    pub fn unwrap(&self, armored: &str) -> Result<Zeroizing<Vec<u8>>> {
        self.unwrap_entries(&[("", armored)])
    }

    /// Unwraps the first of a key group's age entries (`(recipient, armored enc)`) that an
    /// identity opens: the plaintext (32-byte data key or 33-byte Shamir share). Every
    /// identity that needs nobody is tried on every entry before anything is asked or run
    /// (see the module's "two rounds"). Fails with exit code 128
    /// ([`ErrorKind::DataKeyUnavailable`]) when no identity fits or a blob is malformed;
    /// the message lists what failed and the hint the locations tried, never key material.
    pub fn unwrap_entries(&self, entries: &[(&str, &str)]) -> Result<Zeroizing<Vec<u8>>> {
        let fail = |msg: String| {
            Error::new(ErrorKind::DataKeyUnavailable, msg)
                .with_hint(format!("locations tried: {}", self.describe_sources()))
        };
        if self.ids.is_empty() {
            let unused: Vec<&str> = self
                .sources
                .iter()
                .filter(|s| matches!(s.status, SourceStatus::NotSet | SourceStatus::Missing))
                .map(|s| s.location.as_str())
                .collect();
            return Err(fail(format!(
                "failed to load age identities. Did not find keys in locations '{}'.",
                unused.join("', '")
            )));
        }
        let mut errors: Vec<String> = Vec::new();
        let mut note = |e: String| {
            if !errors.contains(&e) {
                errors.push(e);
            }
        };
        for round in [Round::Ready, Round::Asking] {
            for (recipient, armored) in entries {
                match self.attempt(recipient, armored, round) {
                    Ok((Some(key), _)) => return Ok(key),
                    Ok((None, errs)) => errs.into_iter().for_each(&mut note),
                    Err(e) => note(e),
                }
            }
        }
        Err(fail(if errors.is_empty() {
            "no age identity matched any of the recipients".into()
        } else {
            format!(
                "no age identity matched any of the recipients: {}",
                errors.join("; ")
            )
        }))
    }

    /// One round on one blob: the plaintext or `None` with the identities' errors; `Err`
    /// for a malformed blob.
    #[allow(clippy::type_complexity)]
    fn attempt(
        &self,
        recipient: &str,
        armored: &str,
        round: Round,
    ) -> std::result::Result<(Option<Zeroizing<Vec<u8>>>, Vec<String>), String> {
        let armored = armored.trim_start();
        if !armored.starts_with(ARMOR_BEGIN) {
            return Err(
                "failed to decrypt the age data key: the enc value is not an ASCII-armored age file"
                    .into(),
            );
        }
        let reader = age::armor::ArmoredReader::new(armored.as_bytes());
        let decryptor = age::Decryptor::new_buffered(reader).map_err(|e| {
            format!(
                "failed to decrypt the age data key: {}",
                one_line(&e.to_string())
            )
        })?;
        let attempt = Attempt {
            ids: &self.ids,
            recipient,
            round,
            errors: Default::default(),
        };
        let got = decryptor.decrypt(std::iter::once(&attempt as &dyn age::Identity));
        let errors = attempt.errors.take();
        let mut stream = match got {
            Ok(s) => s,
            Err(age::DecryptError::NoMatchingKeys) => return Ok((None, errors)),
            Err(e) => {
                return Err(format!(
                    "failed to decrypt the age data key: {}",
                    one_line(&e.to_string())
                ))
            }
        };
        let mut out = Zeroizing::new(Vec::with_capacity(64));
        stream
            .read_to_end(&mut out)
            .map_err(|e| format!("failed to read the age payload: {e}"))?;
        Ok((Some(out), errors))
    }
}

/// Parses one `AGE-SECRET-KEY-1…` string and returns its `age1…` recipient.
pub fn x25519_public_of(secret: &str) -> Result<String> {
    let id = secret
        .trim()
        .parse::<age::x25519::Identity>()
        .map_err(|_| Error::new(ErrorKind::InvalidKey, "malformed age secret key"))?;
    Ok(id.to_public().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::age::{generate_age_key, ssh_to_age_private, ssh_to_age_public, Answer, Recipient};

    fn ed25519_key() -> (Zeroizing<String>, String) {
        let k = ssh_key::PrivateKey::random(&mut rand::rngs::OsRng, ssh_key::Algorithm::Ed25519)
            .unwrap();
        let pem = k.to_openssh(ssh_key::LineEnding::LF).unwrap();
        let mut pubk = k.public_key().clone();
        pubk.set_comment("test-ed");
        (Zeroizing::new(pem.to_string()), pubk.to_openssh().unwrap())
    }

    fn rsa_key() -> (Zeroizing<String>, String) {
        let kp = ssh_key::private::RsaKeypair::random(&mut rand::rngs::OsRng, 2048).unwrap();
        let k =
            ssh_key::PrivateKey::new(ssh_key::private::KeypairData::Rsa(kp), "test-rsa").unwrap();
        let pem = k.to_openssh(ssh_key::LineEnding::LF).unwrap();
        (
            Zeroizing::new(pem.to_string()),
            k.public_key().to_openssh().unwrap(),
        )
    }

    #[test]
    fn keys_roundtrip_x25519() {
        let (secret, recipient) = generate_age_key();
        let r = Recipient::parse(&recipient).unwrap();
        let ids = Identities::from_text(&format!("# c\n{}\n", secret.as_str())).unwrap();
        for data in [vec![0xabu8; 32], vec![1u8; 33]] {
            let enc = r.wrap(&data).unwrap();
            assert_eq!(ids.unwrap(&enc).unwrap().as_slice(), &data[..]);
        }
        // Without a trailing newline, with CRLF.
        let ids = Identities::from_text(&format!("{}\r\n", secret.as_str())).unwrap();
        assert_eq!(ids.unwrap(&r.wrap(&[5; 32]).unwrap()).unwrap().len(), 32);
        assert_eq!(x25519_public_of(&secret).unwrap(), recipient);
    }

    #[test]
    fn keys_roundtrip_ssh_ed25519() {
        let (pem, pubs) = ed25519_key();
        let r = Recipient::parse(&pubs).unwrap();
        assert!(r.as_str().ends_with(" test-ed"));
        let enc = r.wrap(&[9u8; 32]).unwrap();
        let mut ids = Identities::new();
        ids.push_ssh_private_key(pem.as_bytes(), "/tmp/id_ed25519")
            .unwrap();
        assert_eq!(ids.unwrap(&enc).unwrap().as_slice(), &[9u8; 32]);

        // The converted X25519 key does not open an ssh-ed25519 stanza (it lacks the
        // Ed25519 public key the stanza's tweak is made of).
        let conv = Identities::from_text(&ssh_to_age_private(&pem).unwrap()).unwrap();
        assert_eq!(
            conv.unwrap(&enc).unwrap_err().kind,
            ErrorKind::DataKeyUnavailable
        );
        // The SSH key opens the X25519 stanza of its conversion too.
        let converted = ssh_to_age_public(&pubs).unwrap();
        let enc = Recipient::parse(&converted)
            .unwrap()
            .wrap(&[7u8; 32])
            .unwrap();
        assert_eq!(ids.unwrap(&enc).unwrap().as_slice(), &[7u8; 32]);
    }

    #[test]
    fn keys_roundtrip_ssh_rsa() {
        let (pem, pubs) = rsa_key();
        let r = Recipient::parse(&pubs).unwrap();
        let enc = r.wrap(&[3u8; 33]).unwrap();
        let mut ids = Identities::new();
        ids.push_ssh_private_key(pem.as_bytes(), "id_rsa").unwrap();
        assert_eq!(ids.unwrap(&enc).unwrap().as_slice(), &[3u8; 33]);
    }

    /// sops-nix's test assets, kept in the repository (`tests/vectors/sops-nix`).
    fn vectors() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/vectors/sops-nix")
    }

    /// The `enc` blocks of the sops-nix `secrets.yaml` (written by the real sops).
    fn sops_nix_age_encs(dir: &Path) -> Vec<String> {
        let y = std::fs::read_to_string(dir.join("secrets.yaml")).unwrap();
        let mut out = Vec::new();
        let mut cur: Option<String> = None;
        for line in y.lines() {
            let t = line.trim();
            if t == ARMOR_BEGIN {
                cur = Some(String::new());
            }
            if let Some(c) = cur.as_mut() {
                c.push_str(t);
                c.push('\n');
            }
            if t == super::super::recipient::ARMOR_END {
                out.extend(cur.take());
            }
        }
        out
    }

    #[test]
    fn keys_unwrap_real_sops_blobs() {
        let dir = vectors();
        let encs = sops_nix_age_encs(&dir);
        assert_eq!(encs.len(), 2);
        let text = std::fs::read_to_string(dir.join("age-keys.txt")).unwrap();
        let ids = Identities::from_text(&text).unwrap();
        let k1 = ids.unwrap(&encs[0]).unwrap();
        assert_eq!(k1.len(), 32);
        assert!(ids.unwrap(&encs[1]).is_err());

        // The ssh-to-age converted host key opens the second blob: same data key.
        let pem = std::fs::read_to_string(dir.join("ssh-ed25519-key")).unwrap();
        let conv = Identities::from_text(&ssh_to_age_private(&pem).unwrap()).unwrap();
        let k2 = conv.unwrap(&encs[1]).unwrap();
        assert_eq!(k1, k2);
        // The raw SSH key opens it too (sops does not: the cross-stanza case).
        let mut ssh = Identities::new();
        ssh.push_ssh_private_key(pem.as_bytes(), "ssh-ed25519-key")
            .unwrap();
        assert_eq!(ssh.unwrap(&encs[1]).unwrap(), k1);
    }

    fn write(p: &Path, s: &str) {
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, s).unwrap();
    }

    #[test]
    fn keys_discovery_precedence() {
        let tmp = tempfile::tempdir().unwrap();
        let home = tmp.path().join("home");
        let (ed_pem, ed_pub) = ed25519_key();
        write(&home.join(".ssh/id_ed25519"), &ed_pem);
        let (sk_default, r_default) = generate_age_key();
        write(&home.join(".config/sops/age/keys.txt"), &sk_default);
        let (sk_env, r_env) = generate_age_key();
        let (sk_file, r_file) = generate_age_key();
        let key_file = tmp.path().join("k.txt");
        write(&key_file, &format!("# created\n{}\n", sk_file.as_str()));

        let src = IdentitySources {
            home: Some(home.clone()),
            age_key: Some(Zeroizing::new(sk_env.to_string())),
            age_key_file: Some(key_file.clone()),
            ..Default::default()
        };
        let ids = Identities::load(&src);
        assert_eq!(ids.len(), 4);
        let locs: Vec<_> = ids.sources().iter().map(|s| s.location.clone()).collect();
        assert_eq!(
            locs,
            vec![
                ENV_SSH_KEY_FILE.to_string(),
                ENV_SSH_KEY_CMD.to_string(),
                home.join(".ssh/id_ed25519").display().to_string(),
                home.join(".ssh/id_rsa").display().to_string(),
                ENV_AGE_KEY.to_string(),
                format!("{ENV_AGE_KEY_FILE}={}", key_file.display()),
                ENV_AGE_KEY_CMD.to_string(),
                home.join(".config/sops/age/keys.txt").display().to_string(),
            ]
        );
        assert_eq!(ids.sources()[3].status, SourceStatus::Missing);
        assert_eq!(ids.sources()[0].status, SourceStatus::NotSet);
        assert_eq!(
            ids.recipients(),
            vec![r_env.clone(), r_file.clone(), r_default.clone()]
        );
        for r in [&ed_pub, &r_default, &r_env, &r_file] {
            let enc = Recipient::parse(r).unwrap().wrap(&[4; 32]).unwrap();
            assert_eq!(ids.unwrap(&enc).unwrap().as_slice(), &[4; 32]);
        }
        let d = ids.describe_sources();
        assert!(d.contains("(missing)") && d.contains("(1 key)"), "{d}");

        // XDG_CONFIG_HOME moves the default keys file.
        let xdg = tmp.path().join("xdg");
        let src = IdentitySources {
            home: Some(home.clone()),
            xdg_config_home: Some(xdg.clone()),
            ..Default::default()
        };
        let ids = Identities::load(&src);
        assert_eq!(ids.len(), 1, "only ~/.ssh/id_ed25519");
        assert_eq!(
            ids.sources().last().unwrap().location,
            xdg.join("sops/age/keys.txt").display().to_string()
        );
        // SOPS_AGE_SSH_PRIVATE_KEY_FILE comes first and does not hide ~/.ssh/id_ed25519.
        let other = tmp.path().join("other_key");
        let (o_pem, o_pub) = ed25519_key();
        write(&other, &o_pem);
        let src = IdentitySources {
            ssh_private_key_file: Some(other),
            home: Some(home.clone()),
            ..Default::default()
        };
        let ids = Identities::load(&src);
        assert_eq!(ids.len(), 3);
        for r in [&o_pub, &ed_pub] {
            let enc = Recipient::parse(r).unwrap().wrap(&[6; 32]).unwrap();
            assert_eq!(ids.unwrap(&enc).unwrap().as_slice(), &[6; 32]);
        }
    }

    #[test]
    fn keys_bad_line_fails_only_its_source() {
        let tmp = tempfile::tempdir().unwrap();
        let (good, r_good) = generate_age_key();
        let (bad_sk, r_bad) = generate_age_key();
        let key_file = tmp.path().join("keys.txt");
        write(&key_file, &format!("{}\n", good.as_str()));
        // A bad line after a valid key: the whole SOPS_AGE_KEY source fails.
        let bad_text = format!(
            "{}\nsecret-looking junk {}\n",
            bad_sk.as_str(),
            &bad_sk[16..]
        );
        let src = IdentitySources {
            age_key: Some(Zeroizing::new(bad_text)),
            age_key_file: Some(key_file),
            ..Default::default()
        };
        let ids = Identities::load(&src);
        assert_eq!(ids.len(), 1);
        let st = &ids.sources()[2];
        assert_eq!(st.location, ENV_AGE_KEY);
        assert_eq!(
            st.status,
            SourceStatus::Failed("unknown identity type at line 2".into())
        );
        let enc = Recipient::parse(&r_good).unwrap().wrap(&[1; 32]).unwrap();
        assert_eq!(ids.unwrap(&enc).unwrap().as_slice(), &[1; 32]);

        // The failing key is not loaded; the error names locations, no key material.
        let enc = Recipient::parse(&r_bad).unwrap().wrap(&[1; 32]).unwrap();
        let err = ids.unwrap(&enc).unwrap_err();
        assert_eq!(err.kind, ErrorKind::DataKeyUnavailable);
        let full = err.to_string();
        assert!(
            full.contains("SOPS_AGE_KEY (error: unknown identity type at line 2)"),
            "{full}"
        );
        for secret in [&bad_sk, &good] {
            assert!(!full.contains(&secret[16..]), "{full}");
            assert!(!format!("{ids:?}").contains(&secret[16..]));
        }
        assert!(!full.contains("junk"));

        // from_text and other line kinds.
        let e = Identities::from_text(&format!("{}\nAGE-PLUGIN-YUBIKEY-1XYZ\n", good.as_str()))
            .unwrap_err();
        assert!(
            e.message.contains("malformed plugin identity") && e.message.contains("at line 2"),
            "{e}"
        );
        assert!(!e.message.contains("XYZ"));
        let e = Identities::from_text(" AGE-SECRET-KEY-1ABC").unwrap_err();
        assert!(e.message.contains("unknown identity type at line 1"), "{e}");
        let e = Identities::from_text("AGE-SECRET-KEY-1ABCDEF").unwrap_err();
        assert!(e.message.contains("malformed secret key at line 1"), "{e}");
        assert!(!e.message.contains("ABCDEF"));
        // A sealed identity file is not identity text.
        let e = Identities::from_text("age-encryption.org/v1\n-> scrypt x 18\n").unwrap_err();
        assert!(e.message.contains("unknown identity type at line 1"), "{e}");
        assert!(Identities::from_text("# only comments\n\n")
            .unwrap()
            .is_empty());
    }

    #[test]
    fn keys_no_identities_message() {
        let tmp = tempfile::tempdir().unwrap();
        let src = IdentitySources {
            home: Some(tmp.path().to_path_buf()),
            ..Default::default()
        };
        let ids = Identities::load(&src);
        assert!(ids.is_empty());
        let (_, r) = generate_age_key();
        let enc = Recipient::parse(&r).unwrap().wrap(&[0; 32]).unwrap();
        let e = ids.unwrap(&enc).unwrap_err();
        assert_eq!(e.kind, sealbox_formats::ErrorKind::DataKeyUnavailable);
        assert!(e
            .message
            .starts_with("failed to load age identities. Did not find keys in locations '"));
        assert!(e.message.contains("SOPS_AGE_KEY_FILE"));
        assert!(e.message.contains("keys.txt"));
    }

    #[test]
    fn keys_unwrap_rejects_non_armored_and_bad_input() {
        let (sk, r) = generate_age_key();
        let ids = Identities::from_text(&sk).unwrap();
        let enc = Recipient::parse(&r).unwrap().wrap(&[2; 32]).unwrap();
        // Leading/trailing whitespace (as in a YAML block) is fine.
        assert!(ids.unwrap(&format!("\n{enc}\n")).is_ok());
        assert_eq!(
            ids.unwrap("garbage").unwrap_err().kind,
            ErrorKind::DataKeyUnavailable
        );
        let mut tampered = enc.clone().into_bytes();
        let i = tampered.len() - 40;
        tampered[i] = if tampered[i] == b'A' { b'B' } else { b'A' };
        let e = ids
            .unwrap(&String::from_utf8(tampered).unwrap())
            .unwrap_err();
        assert_eq!(e.kind, ErrorKind::DataKeyUnavailable);
    }

    /// The committed fixtures made by the real tools (`tests/vectors/generated`).
    fn generated(name: &str) -> String {
        let p = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../tests/vectors/generated")
            .join(name);
        std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
    }

    fn text(s: &str) -> Answer {
        Answer::Text(Zeroizing::new(s.to_string()))
    }

    /// `(recipient, enc)` of `data` sealed to `recipient`.
    fn entry(recipient: &str, data: &[u8]) -> (String, String) {
        let r = Recipient::parse(recipient).unwrap();
        (r.as_str().to_string(), r.wrap(data).unwrap())
    }

    fn unwrap_one(ids: &Identities, e: &(String, String)) -> Result<Zeroizing<Vec<u8>>> {
        ids.unwrap_entries(&[(e.0.as_str(), e.1.as_str())])
    }

    #[test]
    fn a_protected_ed25519_key_asks_once_and_opens_both_stanza_kinds() {
        let pass = generated("ssh-ed25519.passphrase");
        let ui = Ui::scripted(vec![text(pass.trim())]);
        let mut ids = Identities::with_ui(ui.clone());
        ids.push_ssh_private_key(generated("ssh-ed25519").as_bytes(), "/keys/id_ed25519")
            .unwrap();
        assert_eq!(
            ids.sources()[0].status,
            SourceStatus::Deferred("passphrase-protected: unlocked when needed")
        );
        // A stanza for another key asks nothing.
        let (_, other) = generate_age_key();
        let e = unwrap_one(&ids, &entry(&other, &[1; 32])).unwrap_err();
        assert_eq!(e.kind, ErrorKind::DataKeyUnavailable);
        assert!(ui.transcript().is_empty(), "{:?}", ui.transcript());
        // Its own ssh-ed25519 stanza asks, once; its conversion's X25519 stanza then opens
        // without asking again.
        let native = entry(generated("ssh-ed25519.pub").trim(), &[2; 32]);
        let converted = entry(generated("ssh-ed25519.age-recipient").trim(), &[3; 32]);
        assert_eq!(unwrap_one(&ids, &native).unwrap().as_slice(), &[2; 32]);
        assert_eq!(unwrap_one(&ids, &converted).unwrap().as_slice(), &[3; 32]);
        assert_eq!(unwrap_one(&ids, &native).unwrap().as_slice(), &[2; 32]);
        assert_eq!(
            ui.transcript(),
            ["secret: Enter passphrase for \"/keys/id_ed25519\":"]
        );
    }

    #[test]
    fn a_protected_key_is_asked_for_by_the_x25519_entry_of_its_conversion() {
        let pass = generated("ssh-ed25519.passphrase");
        let ui = Ui::scripted(vec![text(pass.trim())]);
        let mut ids = Identities::with_ui(ui.clone());
        ids.push_ssh_private_key(generated("ssh-ed25519").as_bytes(), "k")
            .unwrap();
        let converted = entry(generated("ssh-ed25519.age-recipient").trim(), &[3; 32]);
        assert_eq!(unwrap_one(&ids, &converted).unwrap().as_slice(), &[3; 32]);
        assert_eq!(ui.transcript().len(), 1);
    }

    #[test]
    fn a_wrong_passphrase_is_asked_once_and_named() {
        let ui = Ui::scripted(vec![text("not it"), text("again")]);
        let mut ids = Identities::with_ui(ui.clone());
        ids.push_ssh_private_key(generated("ssh-rsa").as_bytes(), "/keys/id_rsa")
            .unwrap();
        let native = entry(generated("ssh-rsa.pub").trim(), &[4; 32]);
        for _ in 0..2 {
            let e = unwrap_one(&ids, &native).unwrap_err();
            assert!(
                e.message
                    .contains("/keys/id_rsa: incorrect passphrase for this SSH key"),
                "{e}"
            );
        }
        assert_eq!(ui.transcript().len(), 1, "{:?}", ui.transcript());
    }

    #[test]
    fn a_protected_rsa_key_opens_with_its_passphrase_and_nobody_is_a_clear_error() {
        let pass = generated("ssh-rsa.passphrase");
        let native = entry(generated("ssh-rsa.pub").trim(), &[5; 32]);
        let mut ids = Identities::with_ui(Ui::scripted(vec![text(pass.trim())]));
        ids.push_ssh_private_key(generated("ssh-rsa").as_bytes(), "id_rsa")
            .unwrap();
        assert_eq!(unwrap_one(&ids, &native).unwrap().as_slice(), &[5; 32]);
        // Without anybody to ask.
        let mut ids = Identities::new();
        ids.push_ssh_private_key(generated("ssh-rsa").as_bytes(), "/etc/ssh/key")
            .unwrap();
        let e = unwrap_one(&ids, &native).unwrap_err();
        assert!(
            e.message.contains("/etc/ssh/key: passphrase-protected SSH key: cannot ask for its passphrase: nobody is there to answer"),
            "{e}"
        );
    }

    #[test]
    fn a_sealed_identity_file_asks_once_and_only_when_nothing_else_opens() {
        let tmp = tempfile::tempdir().unwrap();
        let sealed = tmp.path().join("keys.txt.age");
        std::fs::copy(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../tests/vectors/generated/age-identity.txt.age"),
            &sealed,
        )
        .unwrap();
        let (plain_sk, plain_r) = generate_age_key();
        let ui = Ui::scripted(vec![text(generated("age-identity.passphrase").trim())]);
        let ids = Identities::load(&IdentitySources {
            age_key: Some(Zeroizing::new(plain_sk.to_string())),
            age_key_file: Some(sealed.clone()),
            ui: ui.clone(),
            ..Default::default()
        });
        // A group with an entry for the sealed key first and one for the plain key: the
        // plain key opens it, nobody is asked.
        let mine = entry(generated("age-identity.recipient").trim(), &[6; 32]);
        let plain = entry(&plain_r, &[6; 32]);
        let both = [
            (mine.0.as_str(), mine.1.as_str()),
            (plain.0.as_str(), plain.1.as_str()),
        ];
        assert_eq!(ids.unwrap_entries(&both).unwrap().as_slice(), &[6; 32]);
        assert!(ui.transcript().is_empty());
        // The sealed key's own entry asks once.
        for _ in 0..3 {
            assert_eq!(unwrap_one(&ids, &mine).unwrap().as_slice(), &[6; 32]);
        }
        let shown = sealed.display().to_string();
        assert_eq!(
            ui.transcript(),
            [format!("secret: Enter passphrase for identity '{shown}':")]
        );
        assert_eq!(
            ids.recipients()[1],
            generated("age-identity.recipient").trim()
        );
    }

    #[test]
    fn sops_age_key_holds_several_identities_on_a_line() {
        let (a, ra) = generate_age_key();
        let (b, rb) = generate_age_key();
        let ids = Identities::load(&IdentitySources {
            age_key: Some(Zeroizing::new(format!(
                "# two keys\n{}  {}\t\n",
                a.as_str(),
                b.as_str()
            ))),
            ..Default::default()
        });
        assert_eq!(ids.len(), 2);
        assert_eq!(ids.recipients(), [ra, rb]);
        // A keys file keeps one identity per line, as sops.
        let e = Identities::from_text(&format!("{} {}", a.as_str(), b.as_str())).unwrap_err();
        assert!(e.message.contains("malformed secret key at line 1"), "{e}");
    }

    #[cfg(unix)]
    #[test]
    fn keys_key_cmd_runs_per_recipient_with_sops_age_recipient() {
        let tmp = tempfile::tempdir().unwrap();
        let (sk, r) = generate_age_key();
        let f = tmp.path().join("dir with space/keys.txt");
        write(&f, &sk);
        let log = tmp.path().join("log");
        let cmd = format!(
            "sh -c 'echo \"$SOPS_AGE_RECIPIENT\" >> \"$0\"; cat \"$1\"' '{}' '{}'",
            log.display(),
            f.display()
        );
        let ids = Identities::load(&IdentitySources {
            age_key_cmd: Some(cmd),
            ..Default::default()
        });
        assert_eq!(ids.len(), 1, "{}", ids.describe_sources());
        assert!(!log.exists(), "nothing runs before an entry needs it");
        let (_, other) = generate_age_key();
        let mine = entry(&r, &[8; 32]);
        let theirs = entry(&other, &[8; 32]);
        for _ in 0..2 {
            let got = ids
                .unwrap_entries(&[(&theirs.0, &theirs.1), (&mine.0, &mine.1)])
                .unwrap();
            assert_eq!(got.as_slice(), &[8; 32]);
        }
        // Once per recipient, in the order of the entries; the second time from the cache.
        assert_eq!(
            std::fs::read_to_string(&log).unwrap(),
            format!("{other}\n{r}\n")
        );

        for bad in ["false", "/nonexistent/prog"] {
            let ids = Identities::load(&IdentitySources {
                age_key_cmd: Some(bad.into()),
                ..Default::default()
            });
            let e = unwrap_one(&ids, &mine).unwrap_err();
            assert!(e.message.contains("SOPS_AGE_KEY_CMD ("), "{e}");
            assert!(e.message.contains("failed to execute command"), "{e}");
        }
    }

    #[cfg(unix)]
    #[test]
    fn the_ssh_key_command_gives_a_key_that_opens_both_stanza_kinds() {
        let tmp = tempfile::tempdir().unwrap();
        let key = tmp.path().join("id");
        write(&key, &generated("ssh-ed25519.unprotected"));
        let ids = Identities::load(&IdentitySources {
            ssh_private_key_cmd: Some(format!("cat {}", key.display())),
            ..Default::default()
        });
        let native = entry(generated("ssh-ed25519.pub").trim(), &[9; 32]);
        let converted = entry(generated("ssh-ed25519.age-recipient").trim(), &[9; 32]);
        assert_eq!(unwrap_one(&ids, &native).unwrap().as_slice(), &[9; 32]);
        assert_eq!(unwrap_one(&ids, &converted).unwrap().as_slice(), &[9; 32]);
        // A protected key printed by the command is refused, as sops does.
        write(&key, &generated("ssh-ed25519"));
        let ids = Identities::load(&IdentitySources {
            ssh_private_key_cmd: Some(format!("cat {}", key.display())),
            ..Default::default()
        });
        let e = unwrap_one(&ids, &native).unwrap_err();
        assert!(e.message.contains("is passphrase-protected"), "{e}");
    }

    #[test]
    fn a_protected_home_key_does_not_ask_when_a_plain_key_opens() {
        let tmp = tempfile::tempdir().unwrap();
        let home = tmp.path().join("home");
        write(&home.join(".ssh/id_ed25519"), &generated("ssh-ed25519"));
        let (sk, r) = generate_age_key();
        write(&home.join(".config/sops/age/keys.txt"), &sk);
        let ui = Ui::scripted(vec![]);
        let ids = Identities::load(&IdentitySources {
            home: Some(home),
            ui: ui.clone(),
            ..Default::default()
        });
        assert_eq!(
            unwrap_one(&ids, &entry(&r, &[1; 32])).unwrap().as_slice(),
            &[1; 32]
        );
        assert!(ui.transcript().is_empty());
    }

    #[test]
    fn keys_shell_split() {
        assert_eq!(shell_split("a b  c").unwrap(), ["a", "b", "c"]);
        assert_eq!(
            shell_split(r#"cat 'x y' "a\"b" c\ d"#).unwrap(),
            ["cat", "x y", "a\"b", "c d"]
        );
        assert_eq!(shell_split("a # comment").unwrap(), ["a"]);
        assert_eq!(shell_split("a#b").unwrap(), ["a#b"]);
        assert_eq!(shell_split("''").unwrap(), [""]);
        assert!(shell_split("'open").is_err());
        assert!(shell_split("").unwrap().is_empty());
    }

    /// Found by fuzzing: an OpenSSH RSA key whose integers are zero bytes made age panic.
    #[test]
    fn openssh_rsa_key_with_zero_integers_is_an_error() {
        let key = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../fuzz/regressions/ssh_key/rsa-private-key-zero-integers"
        ))
        .unwrap();
        let e = Identities::new()
            .push_ssh_private_key(&key, "k")
            .unwrap_err();
        assert!(e.message.contains("invalid RSA key"), "{e}");
    }
}
