//! age plugins (c2sp.org/age-plugin): recipients `age1NAME1…` and identities
//! `AGE-PLUGIN-NAME-1…`, run as the program `age-plugin-NAME` found on `PATH`, through the
//! age crate's client (`plugin` feature), as sops 3.10+ and age do.
//!
//! A plugin may ask the person at hand (a PIN, a confirmation, a value) or show a message
//! ("touch your token"): those requests go to the [`Ui`] the identities were loaded with.
//! Answers a plugin accepted are kept for the process, keyed by the exact request, so
//! decrypting ten files with a PIN-protected key asks for the PIN once; an answer given
//! during an attempt that failed is dropped rather than replayed (a hardware token counts
//! wrong PINs). One attempt per identity runs at a time: a token is one device, and two
//! prompts must not interleave on the terminal.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use age_core::format::{FileKey, Stanza};
use age_core::secrecy::SecretString;

use super::ui::{Answer, Request, Ui};

/// What a plugin's UI requests got, shared by the clones of one [`Callbacks`].
#[derive(Default)]
struct Answers {
    /// Accepted answers, for the process.
    kept: HashMap<Request, Answer>,
    /// Answers given during the attempt under way.
    pending: Vec<(Request, Answer)>,
    /// Requests nobody answered during the attempt under way: what and why.
    refused: Vec<String>,
}

/// The age crate's view of our [`Ui`] for one plugin.
#[derive(Clone)]
struct Callbacks {
    /// `sealboxtest plugin`: who asks, in prompts and messages.
    from: String,
    ui: Ui,
    answers: Arc<Mutex<Answers>>,
}

impl Callbacks {
    fn answer(&self, request: Request) -> Option<Answer> {
        let a = self.answers.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(kept) = a.kept.get(&request) {
            return Some(kept.clone());
        }
        // The terminal is not held while asking: a person may take their time, and
        // other plugins are serialised by their own lock anyway.
        drop(a);
        let got = self.ui.ask(&self.from, &request);
        let mut a = self.answers.lock().unwrap_or_else(|e| e.into_inner());
        match got {
            Ok(answer) => {
                a.pending.push((request, answer.clone()));
                Some(answer)
            }
            Err(why) => {
                a.refused
                    .push(format!("asked for {}: {why}", request.describe()));
                None
            }
        }
    }
}

impl age::Callbacks for Callbacks {
    fn display_message(&self, message: &str) {
        self.ui.message(&self.from, message);
    }

    fn confirm(&self, message: &str, yes_string: &str, no_string: Option<&str>) -> Option<bool> {
        match self.answer(Request::Confirm(
            message.to_string(),
            yes_string.to_string(),
            no_string.map(str::to_string),
        ))? {
            Answer::Choice(c) => Some(c),
            Answer::Text(_) => None,
        }
    }

    fn request_public_string(&self, description: &str) -> Option<String> {
        match self.answer(Request::Public(description.to_string()))? {
            Answer::Text(t) => Some(t.to_string()),
            Answer::Choice(_) => None,
        }
    }

    fn request_passphrase(&self, description: &str) -> Option<SecretString> {
        match self.answer(Request::Secret(description.to_string()))? {
            Answer::Text(t) => Some(SecretString::from(t.to_string())),
            Answer::Choice(_) => None,
        }
    }
}

/// One plugin identity, with its UI and the answers it got.
pub(crate) struct PluginIdentity {
    id: age::plugin::Identity,
    callbacks: Callbacks,
    /// One attempt at a time.
    busy: Mutex<()>,
}

/// `age-plugin-NAME`.
fn binary(name: &str) -> String {
    format!("age-plugin-{name}")
}

impl PluginIdentity {
    /// Parses an `AGE-PLUGIN-NAME-1…` line.
    pub(crate) fn parse(line: &str, ui: &Ui) -> Result<PluginIdentity, String> {
        let id: age::plugin::Identity = line
            .parse()
            .map_err(|e| format!("malformed plugin identity: {e}"))?;
        Ok(PluginIdentity {
            callbacks: Callbacks {
                from: format!("{} plugin", id.plugin()),
                ui: ui.clone(),
                answers: Arc::default(),
            },
            id,
            busy: Mutex::new(()),
        })
    }

    /// The plugin's program name, `age-plugin-NAME`.
    pub(crate) fn binary(&self) -> String {
        binary(self.id.plugin())
    }

    /// Runs the plugin on `stanzas`: the file key, an error (the plugin's, and what it
    /// asked that nobody answered), or `None` when none of the stanzas is for this key.
    pub(crate) fn unwrap(&self, stanzas: &[Stanza]) -> Option<Result<FileKey, String>> {
        let _one = self.busy.lock().unwrap_or_else(|e| e.into_inner());
        let plugin = match age::plugin::IdentityPluginV1::new(
            self.id.plugin(),
            std::slice::from_ref(&self.id),
            self.callbacks.clone(),
        ) {
            Ok(p) => p,
            Err(e) => return Some(Err(one_line(&e.to_string()))),
        };
        let got = age::Identity::unwrap_stanzas(&plugin, stanzas);
        let mut a = self
            .callbacks
            .answers
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let pending = std::mem::take(&mut a.pending);
        let refused = std::mem::take(&mut a.refused);
        let asked = |mut msg: String| {
            if !refused.is_empty() {
                if !msg.is_empty() {
                    msg.push_str("; ");
                }
                msg.push_str(&format!("{} {}", self.binary(), refused.join("; then ")));
            }
            msg
        };
        match got {
            Some(Ok(key)) => {
                a.kept.extend(pending);
                Some(Ok(key))
            }
            Some(Err(e)) => Some(Err(asked(one_line(&e.to_string())))),
            None if refused.is_empty() => None,
            None => Some(Err(asked(String::new()))),
        }
    }
}

/// A plugin recipient: wrapping runs the plugin (which may ask too).
#[derive(Clone)]
pub(crate) struct PluginRecipient(age::plugin::Recipient);

impl PluginRecipient {
    /// Parses an `age1NAME1…` recipient.
    pub(crate) fn parse(s: &str) -> Result<PluginRecipient, String> {
        s.parse().map(PluginRecipient).map_err(str::to_string)
    }

    /// The age crate's recipient that runs the plugin with `ui`.
    pub(crate) fn with_ui(&self, ui: &Ui) -> Result<Box<dyn age::Recipient>, String> {
        let callbacks = Callbacks {
            from: format!("{} plugin", self.0.plugin()),
            ui: ui.clone(),
            answers: Arc::default(),
        };
        age::plugin::RecipientPluginV1::new(
            self.0.plugin(),
            std::slice::from_ref(&self.0),
            &[],
            callbacks,
        )
        .map(|p| Box::new(p) as Box<dyn age::Recipient>)
        .map_err(|e| one_line(&e.to_string()))
    }
}

/// age's messages are localised with Unicode isolation marks around each value and may span
/// lines (a recommendation on the next); ours are one line of plain text.
pub(crate) fn one_line(s: &str) -> String {
    s.replace(['\u{2068}', '\u{2069}'], "")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}
