//! How key code asks a person: passphrases of SSH keys and identity files, and the requests
//! of age plugins (a PIN, a confirmation, a public value, a message such as "touch your
//! token").
//!
//! Two answers to "who is there": [`Ui::terminal`] for the `sealbox` command line, which
//! talks on the controlling terminal (`/dev/tty`) and never on stdin, which may carry the
//! input being encrypted, nor on stdout, which carries the output; and [`Ui::none`] for
//! `sealbox-install` and every other program that must never wait for a person: each
//! request fails at once, and the failure names what was asked so the caller can say so.
//! [`Ui::scripted`] answers from a list, for tests and callers that hold the answers.
//!
//! The terminal is shared by every thread of the process: one request at a time holds it.

use std::fmt;
use std::fs::File;
use std::io::{Read, Write};
use std::sync::{Arc, Mutex};

use zeroize::Zeroizing;

/// One request to a person.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Request {
    /// A secret (passphrase, PIN), read without echo.
    Secret(String),
    /// A value that is not secret, read with echo.
    Public(String),
    /// A choice: the prompt, the "yes" label, the optional "no" label.
    Confirm(String, String, Option<String>),
}

impl Request {
    /// What was asked, for messages: `a secret ("Enter the PIN…")`.
    pub fn describe(&self) -> String {
        match self {
            Request::Secret(p) => format!("a secret ({p:?})"),
            Request::Public(p) => format!("a value ({p:?})"),
            Request::Confirm(p, ..) => format!("a confirmation ({p:?})"),
        }
    }
}

/// An answer.
pub enum Answer {
    /// To [`Request::Secret`] and [`Request::Public`].
    Text(Zeroizing<String>),
    /// To [`Request::Confirm`]: true for "yes".
    Choice(bool),
}

impl Clone for Answer {
    fn clone(&self) -> Self {
        match self {
            Answer::Text(t) => Answer::Text(t.clone()),
            Answer::Choice(c) => Answer::Choice(*c),
        }
    }
}

impl fmt::Debug for Answer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Answer::Text(_) => f.write_str("Text(<redacted>)"),
            Answer::Choice(c) => write!(f, "Choice({c})"),
        }
    }
}

/// What talks to the person (if anyone).
trait Prompter: Send + Sync {
    /// Shows a message; never waits.
    fn message(&self, from: &str, text: &str);
    /// Asks; `Err` says why there is no answer.
    fn ask(&self, from: &str, request: &Request) -> Result<Answer, String>;
    /// What was asked and shown (kept by [`Ui::scripted`] only).
    fn transcript(&self) -> Vec<String> {
        Vec::new()
    }
}

/// A handle on the way to reach a person; cheap to clone. The default is [`Ui::none`].
#[derive(Clone)]
pub struct Ui(Arc<dyn Prompter>, &'static str);

impl Default for Ui {
    fn default() -> Self {
        Ui::none()
    }
}

impl fmt::Debug for Ui {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Ui({})", self.1)
    }
}

impl Ui {
    /// The controlling terminal (`/dev/tty`): prompts and messages are written there,
    /// answers read from there. Without a terminal every request fails, naming why.
    pub fn terminal() -> Ui {
        Ui(Arc::new(Terminal), "terminal")
    }

    /// Nobody: every request fails at once with `why` (e.g. "sealbox-install never waits
    /// for a person"); messages go to the log.
    pub fn none() -> Ui {
        Ui::refusing("nobody is there to answer (this program never waits for a person)")
    }

    /// Nobody, and every request fails with `why` (what the caller wants users to read:
    /// why nobody answers here, and what to do instead).
    pub fn refusing(why: impl Into<String>) -> Ui {
        Ui(Arc::new(Nobody(why.into())), "none")
    }

    /// Answers from `answers`, in order, and records every request and message (see
    /// [`Ui::transcript`]). When the answers run out, requests fail.
    pub fn scripted(answers: Vec<Answer>) -> Ui {
        Ui(
            Arc::new(Scripted {
                answers: Mutex::new(answers.into_iter().rev().collect()),
                transcript: Mutex::new(Vec::new()),
            }),
            "scripted",
        )
    }

    /// Whether requests can be answered at all (false for [`Ui::none`]).
    pub fn is_interactive(&self) -> bool {
        self.1 != "none"
    }

    /// Shows `text` from `from` (a plugin's name, a key's path).
    pub fn message(&self, from: &str, text: &str) {
        self.0.message(from, text)
    }

    /// Asks `request` on behalf of `from`.
    pub fn ask(&self, from: &str, request: &Request) -> Result<Answer, String> {
        self.0.ask(from, request)
    }

    /// Asks for a secret: the text typed, or why there is none.
    pub fn secret(&self, from: &str, prompt: &str) -> Result<Zeroizing<String>, String> {
        match self.ask(from, &Request::Secret(prompt.to_string()))? {
            Answer::Text(t) => Ok(t),
            Answer::Choice(_) => Err("the answer was a choice, not a text".into()),
        }
    }

    /// What a [`Ui::scripted`] was asked and shown, one line each (`secret: PROMPT`,
    /// `public: PROMPT`, `confirm: PROMPT`, `message: FROM: TEXT`); empty for the others.
    pub fn transcript(&self) -> Vec<String> {
        self.0.transcript()
    }
}

struct Nobody(String);

impl Prompter for Nobody {
    fn message(&self, from: &str, text: &str) {
        tracing::info!("{from}: {text}");
    }

    fn ask(&self, _from: &str, _request: &Request) -> Result<Answer, String> {
        Err(self.0.clone())
    }
}

struct Scripted {
    answers: Mutex<Vec<Answer>>,
    transcript: Mutex<Vec<String>>,
}

impl Scripted {
    fn log(&self, line: String) {
        self.transcript
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(line);
    }
}

impl Prompter for Scripted {
    fn message(&self, from: &str, text: &str) {
        self.log(format!("message: {from}: {text}"));
    }

    fn ask(&self, _from: &str, request: &Request) -> Result<Answer, String> {
        self.log(match request {
            Request::Secret(p) => format!("secret: {p}"),
            Request::Public(p) => format!("public: {p}"),
            Request::Confirm(p, ..) => format!("confirm: {p}"),
        });
        self.answers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .pop()
            .ok_or_else(|| "no scripted answer left".to_string())
    }

    fn transcript(&self) -> Vec<String> {
        self.transcript
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

/// The one lock on the terminal: one prompt at a time, whatever the thread.
static TERMINAL: Mutex<()> = Mutex::new(());

struct Terminal;

fn open_tty() -> Result<File, String> {
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/tty")
        .map_err(|e| format!("there is no terminal to ask on (/dev/tty: {e})"))
}

/// The terminal's settings, put back when dropped (also when reading fails).
struct Mode<'a> {
    tty: &'a File,
    saved: nix::sys::termios::Termios,
}

impl<'a> Mode<'a> {
    /// Switches `tty` to `change(settings)`.
    fn set(
        tty: &'a File,
        change: impl FnOnce(&mut nix::sys::termios::Termios),
    ) -> Result<Mode<'a>, String> {
        use nix::sys::termios::{tcgetattr, tcsetattr, SetArg};
        let saved = tcgetattr(tty).map_err(|e| format!("cannot read the terminal's mode: {e}"))?;
        let mut t = saved.clone();
        change(&mut t);
        tcsetattr(tty, SetArg::TCSAFLUSH, &t)
            .map_err(|e| format!("cannot set the terminal's mode: {e}"))?;
        Ok(Mode { tty, saved })
    }
}

impl Drop for Mode<'_> {
    fn drop(&mut self) {
        use nix::sys::termios::{tcsetattr, SetArg};
        let _ = tcsetattr(self.tty, SetArg::TCSAFLUSH, &self.saved);
    }
}

/// Reads one line (without its end) from `tty`, at most 4 KiB.
fn read_line(mut tty: &File) -> Result<Zeroizing<String>, String> {
    let mut line = Zeroizing::new(Vec::with_capacity(64));
    let mut b = [0u8; 1];
    loop {
        match tty.read(&mut b) {
            Ok(0) => break,
            Ok(_) if b[0] == b'\n' || b[0] == b'\r' => break,
            Ok(_) if line.len() >= 4096 => return Err("the answer is too long".into()),
            Ok(_) => line.push(b[0]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(format!("cannot read the terminal: {e}")),
        }
    }
    String::from_utf8(std::mem::take(&mut *line))
        .map(Zeroizing::new)
        .map_err(|_| "the answer is not UTF-8".into())
}

impl Prompter for Terminal {
    fn message(&self, from: &str, text: &str) {
        let _held = TERMINAL.lock().unwrap_or_else(|e| e.into_inner());
        match open_tty() {
            Ok(mut tty) => {
                let _ = writeln!(tty, "sealbox: {from}: {text}");
            }
            Err(_) => eprintln!("sealbox: {from}: {text}"),
        }
    }

    fn ask(&self, _from: &str, request: &Request) -> Result<Answer, String> {
        use nix::sys::termios::{LocalFlags, SpecialCharacterIndices as Cc};
        let _held = TERMINAL.lock().unwrap_or_else(|e| e.into_inner());
        let mut tty = open_tty()?;
        let w = |tty: &mut File, s: &str| {
            tty.write_all(s.as_bytes())
                .and_then(|()| tty.flush())
                .map_err(|e| format!("cannot write to the terminal: {e}"))
        };
        match request {
            Request::Secret(prompt) => {
                w(&mut tty, &format!("{prompt} "))?;
                let line = {
                    let _mode = Mode::set(&tty, |t| {
                        t.local_flags.remove(LocalFlags::ECHO);
                        t.local_flags.insert(LocalFlags::ECHONL);
                    })?;
                    read_line(&tty)
                };
                line.map(Answer::Text)
            }
            Request::Public(prompt) => {
                w(&mut tty, &format!("{prompt} "))?;
                read_line(&tty).map(Answer::Text)
            }
            Request::Confirm(prompt, yes, no) => {
                let question = match no {
                    Some(no) => format!("{prompt} (press [1] for {yes:?} or [2] for {no:?}) "),
                    None => format!("{prompt} (press [1] for {yes:?}) "),
                };
                w(&mut tty, &question)?;
                let choice = {
                    let _mode = Mode::set(&tty, |t| {
                        t.local_flags.remove(LocalFlags::ECHO | LocalFlags::ICANON);
                        t.control_chars[Cc::VMIN as usize] = 1;
                        t.control_chars[Cc::VTIME as usize] = 0;
                    })?;
                    let mut b = [0u8; 1];
                    let mut input: &File = &tty;
                    loop {
                        match input.read(&mut b) {
                            Ok(0) => break Err("the terminal closed".to_string()),
                            Ok(_) if b[0] == b'1' => break Ok(true),
                            Ok(_) if b[0] == b'2' && no.is_some() => break Ok(false),
                            Ok(_) => {}
                            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                            Err(e) => break Err(format!("cannot read the terminal: {e}")),
                        }
                    }
                };
                let _ = w(&mut tty, "\n");
                choice.map(Answer::Choice)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nobody_refuses_every_request() {
        let ui = Ui::none();
        assert!(!ui.is_interactive());
        let e = ui.secret("age-plugin-x", "Enter PIN:").unwrap_err();
        assert!(e.contains("never waits for a person"), "{e}");
        let confirm = Request::Confirm("Touch?".into(), "yes".into(), Some("no".into()));
        assert!(ui.ask("x", &confirm).is_err());
        assert_eq!(confirm.describe(), "a confirmation (\"Touch?\")");
    }

    #[test]
    fn a_script_answers_in_order_then_runs_out() {
        let ui = Ui::scripted(vec![
            Answer::Text(Zeroizing::new("one".into())),
            Answer::Choice(true),
        ]);
        assert_eq!(ui.secret("k", "first?").unwrap().as_str(), "one");
        assert!(matches!(
            ui.ask("k", &Request::Confirm("ok?".into(), "y".into(), None)),
            Ok(Answer::Choice(true))
        ));
        assert!(ui.secret("k", "third?").is_err());
        assert_eq!(
            format!("{:?}", Answer::Text(Zeroizing::new("pw".into()))),
            "Text(<redacted>)"
        );
    }
}
