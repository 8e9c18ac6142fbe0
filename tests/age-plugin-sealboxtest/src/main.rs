//! `age-plugin-sealboxtest`: the test plugin's binary. Started by an age client as
//! `age-plugin-sealboxtest --age-plugin=recipient-v1|identity-v1` it speaks the plugin
//! protocol on stdin/stdout (through the `age-plugin` SDK); started by a person or a test
//! it makes keys (`--generate`) or turns identities into recipients (`-y`). See README.md.

use age_core::format::{FileKey, Stanza};
use age_plugin::{identity, recipient, run_state_machine, Callbacks, PluginHandler};
use age_plugin_sealboxtest::{
    text, Identity, Mode, Recipient, ENV_LOG, ENV_MODE, ENV_WRAP_MODE, PIN, PLUGIN_NAME,
    PUBLIC_VALUE, STANZA_TAG,
};
use std::collections::{HashMap, HashSet};
use std::io::{self, BufRead, Read, Write};
use std::process::ExitCode;

const USAGE: &str = "\
usage: age-plugin-sealboxtest --generate [--mode MODE] [--seed HEX]
       age-plugin-sealboxtest -y            (identities on stdin, recipients on stdout)
       age-plugin-sealboxtest --age-plugin=STATE_MACHINE   (run by age clients)
MODE: silent (default), message, pin, confirm, public, fail; HEX: 64 hex digits.
A test plugin: its keys are public test keys, never use them for secrets.";

struct Handler;

impl PluginHandler for Handler {
    type RecipientV1 = RecipientPlugin;
    type IdentityV1 = IdentityPlugin;

    fn recipient_v1(self) -> io::Result<RecipientPlugin> {
        Ok(RecipientPlugin::default())
    }

    fn identity_v1(self) -> io::Result<IdentityPlugin> {
        Ok(IdentityPlugin::default())
    }
}

/// Appends `line` to `$SEALBOXTEST_LOG` if set: tests read it to see what was asked, and
/// how often.
fn log(line: &str) {
    if let Some(path) = std::env::var_os(ENV_LOG) {
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
        {
            let _ = writeln!(f, "{line}");
        }
    }
}

/// A mode named by the environment variable `var`, if set (an unknown name is an error
/// the user sees, not silently "silent").
fn env_mode(var: &str) -> Result<Option<Mode>, String> {
    match std::env::var(var) {
        Ok(v) if !v.is_empty() => Mode::from_name(&v)
            .map(Some)
            .ok_or_else(|| format!("{var}={v} is not a sealboxtest mode")),
        _ => Ok(None),
    }
}

/// Asks the user what `mode` asks about key `key` (through the client's UI). `Ok(Ok(()))`
/// lets the caller go on; `Ok(Err(why))` fails this key; `Err` is a broken connection.
fn interact<E, C: Callbacks<E>>(
    op: &str,
    mode: Mode,
    key: &str,
    cb: &mut C,
) -> io::Result<Result<(), String>> {
    let name = mode.name();
    let outcome: Result<(), String> = match mode {
        Mode::Silent => Ok(()),
        Mode::Message => {
            // A message the client cannot show does not stop the unwrap: real plugins
            // only inform with it ("touch your key").
            let shown = cb.message(&text::message(key))?;
            log(&format!(
                "{op} {key} {name} message {}",
                if shown.is_ok() { "shown" } else { "not-shown" }
            ));
            Ok(())
        }
        Mode::Pin => match cb.request_secret(&text::pin_prompt(key))? {
            Ok(pin) if age_core::secrecy::ExposeSecret::expose_secret(&pin) == PIN => Ok(()),
            Ok(_) => Err(format!("sealboxtest key {key}: wrong PIN")),
            Err(e) => Err(format!(
                "sealboxtest key {key}: the client could not ask for the PIN ({e})"
            )),
        },
        Mode::Confirm => match cb.confirm(&text::confirm_prompt(key), "yes", Some("no"))? {
            Ok(true) => Ok(()),
            Ok(false) => Err(format!("sealboxtest key {key}: the user said no")),
            Err(e) => Err(format!(
                "sealboxtest key {key}: the client could not ask for a confirmation ({e})"
            )),
        },
        Mode::Public => match cb.request_public(&text::public_prompt(key))? {
            Ok(v) if v == PUBLIC_VALUE => Ok(()),
            Ok(_) => Err(format!("sealboxtest key {key}: wrong public value")),
            Err(e) => Err(format!(
                "sealboxtest key {key}: the client could not ask for a public value ({e})"
            )),
        },
        Mode::Fail => Err(format!(
            "sealboxtest key {key}: this key always fails (mode fail)"
        )),
    };
    log(&format!(
        "{op} {key} {name} {}",
        match &outcome {
            Ok(()) => "ok".to_string(),
            Err(why) => format!("error: {why}"),
        }
    ));
    Ok(outcome)
}

fn random32() -> io::Result<[u8; 32]> {
    let mut b = [0u8; 32];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut b)?;
    Ok(b)
}

/// recipient-v1: encryption to `age1sealboxtest1…` recipients (and to the recipients of
/// `AGE-PLUGIN-SEALBOXTEST-1…` identities, as `age -e -i` does).
#[derive(Default)]
struct RecipientPlugin {
    /// (is an identity, its index in the client's list, the recipient).
    targets: Vec<(bool, usize, Recipient)>,
}

impl recipient::RecipientPluginV1 for RecipientPlugin {
    fn add_recipient(
        &mut self,
        index: usize,
        plugin_name: &str,
        bytes: &[u8],
    ) -> Result<(), recipient::Error> {
        let r = (plugin_name == PLUGIN_NAME)
            .then_some(())
            .ok_or_else(|| format!("age1{plugin_name} is not a sealboxtest recipient"))
            .and_then(|()| Recipient::from_bytes(bytes))
            .map_err(|message| recipient::Error::Recipient { index, message })?;
        self.targets.push((false, index, r));
        Ok(())
    }

    fn add_identity(
        &mut self,
        index: usize,
        plugin_name: &str,
        bytes: &[u8],
    ) -> Result<(), recipient::Error> {
        let id = (plugin_name == PLUGIN_NAME)
            .then_some(())
            .ok_or_else(|| format!("AGE-PLUGIN-{plugin_name} is not a sealboxtest identity"))
            .and_then(|()| Identity::from_bytes(bytes))
            .map_err(|message| recipient::Error::Identity { index, message })?;
        self.targets.push((true, index, id.recipient()));
        Ok(())
    }

    fn labels(&mut self) -> HashSet<String> {
        HashSet::new()
    }

    fn wrap_file_keys(
        &mut self,
        file_keys: Vec<FileKey>,
        mut callbacks: impl Callbacks<recipient::Error>,
    ) -> io::Result<Result<Vec<Vec<Stanza>>, Vec<recipient::Error>>> {
        let mode = match env_mode(ENV_WRAP_MODE) {
            Ok(m) => m.unwrap_or(Mode::Silent),
            Err(message) => return Ok(Err(vec![recipient::Error::Internal { message }])),
        };
        let mut errors = Vec::new();
        for (is_identity, index, r) in &self.targets {
            if let Err(message) = interact("wrap", mode, &r.short_id(), &mut callbacks)? {
                let (index, message) = (*index, message);
                errors.push(if *is_identity {
                    recipient::Error::Identity { index, message }
                } else {
                    recipient::Error::Recipient { index, message }
                });
            }
        }
        if !errors.is_empty() {
            return Ok(Err(errors));
        }
        let mut out = Vec::with_capacity(file_keys.len());
        for fk in &file_keys {
            let mut stanzas = Vec::with_capacity(self.targets.len());
            for (_, _, r) in &self.targets {
                stanzas.push(r.wrap(fk, random32()?));
            }
            out.push(stanzas);
        }
        Ok(Ok(out))
    }
}

/// identity-v1: decryption with `AGE-PLUGIN-SEALBOXTEST-1…` identities.
#[derive(Default)]
struct IdentityPlugin {
    identities: Vec<(usize, Identity)>,
}

impl identity::IdentityPluginV1 for IdentityPlugin {
    fn add_identity(
        &mut self,
        index: usize,
        plugin_name: &str,
        bytes: &[u8],
    ) -> Result<(), identity::Error> {
        let id = (plugin_name == PLUGIN_NAME)
            .then_some(())
            .ok_or_else(|| format!("AGE-PLUGIN-{plugin_name} is not a sealboxtest identity"))
            .and_then(|()| Identity::from_bytes(bytes))
            .map_err(|message| identity::Error::Identity { index, message })?;
        self.identities.push((index, id));
        Ok(())
    }

    fn unwrap_file_keys(
        &mut self,
        files: Vec<Vec<Stanza>>,
        mut callbacks: impl Callbacks<identity::Error>,
    ) -> io::Result<HashMap<usize, Result<FileKey, Vec<identity::Error>>>> {
        let forced = env_mode(ENV_MODE);
        let mut out = HashMap::new();
        for (file_index, stanzas) in files.iter().enumerate() {
            if let Err(message) = &forced {
                let message = message.clone();
                out.insert(file_index, Err(vec![identity::Error::Internal { message }]));
                continue;
            }
            let mut errors = Vec::new();
            let mut found = None;
            'stanzas: for (stanza_index, stanza) in stanzas.iter().enumerate() {
                if stanza.tag != STANZA_TAG {
                    continue; // not ours: the protocol says to ignore it
                }
                for (index, id) in &self.identities {
                    if !id.is_addressed(stanza) {
                        continue;
                    }
                    let mode = forced.clone().ok().flatten().unwrap_or(id.mode);
                    let key = id.recipient().short_id();
                    if let Err(message) = interact("unwrap", mode, &key, &mut callbacks)? {
                        errors.push(identity::Error::Identity {
                            index: *index,
                            message,
                        });
                        continue;
                    }
                    match id.unwrap(stanza) {
                        Ok(fk) => {
                            found = Some(fk);
                            break 'stanzas;
                        }
                        Err(message) => errors.push(identity::Error::Stanza {
                            file_index,
                            stanza_index,
                            message,
                        }),
                    }
                }
            }
            match found {
                Some(fk) => {
                    out.insert(file_index, Ok(fk));
                }
                None if !errors.is_empty() => {
                    out.insert(file_index, Err(errors));
                }
                // No stanza for our keys: say nothing, the client tries its other
                // identities (plugin protocol: unknown files have no entry).
                None => {}
            }
        }
        Ok(out)
    }
}

fn parse_seed(hex: &str) -> Result<[u8; 32], String> {
    let bad = || format!("--seed wants 64 hex digits, not {hex:?}");
    if hex.len() != 64 || !hex.is_ascii() {
        return Err(bad());
    }
    let mut seed = [0u8; 32];
    for (i, b) in seed.iter_mut().enumerate() {
        *b = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).map_err(|_| bad())?;
    }
    Ok(seed)
}

fn generate(mode: Mode, seed: Option<[u8; 32]>) -> Result<(), String> {
    let seed = match seed {
        Some(s) => s,
        None => random32().map_err(|e| format!("reading /dev/urandom: {e}"))?,
    };
    let id = Identity { mode, seed };
    let hint = match mode {
        Mode::Pin => format!(" (PIN {PIN})"),
        Mode::Public => format!(" (answer {PUBLIC_VALUE})"),
        Mode::Confirm => " (answer yes)".to_string(),
        _ => String::new(),
    };
    println!("# age-plugin-sealboxtest public test key: never use it for secrets");
    println!("# mode: {}{hint}", mode.name());
    println!("# recipient: {}", id.recipient().encode());
    println!("{}", id.encode());
    Ok(())
}

/// `-y`: one recipient per identity line of stdin (blank and `#` lines skipped).
fn to_recipients() -> Result<(), String> {
    for (n, line) in io::stdin().lock().lines().enumerate() {
        let line = line.map_err(|e| format!("reading stdin: {e}"))?;
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        // The line number, not the line: it holds a secret.
        let id = Identity::parse(line).map_err(|e| format!("stdin line {}: {e}", n + 1))?;
        println!("{}", id.recipient().encode());
    }
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage_error = |why: &str| {
        eprintln!("age-plugin-sealboxtest: {why}\n{USAGE}");
        ExitCode::from(2)
    };
    let mut state_machine = None;
    let mut gen = false;
    let mut to_recip = false;
    let mut mode = Mode::Silent;
    let mut seed = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--generate" => gen = true,
            "-y" => to_recip = true,
            "-h" | "--help" => {
                println!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            "--age-plugin" | "--mode" | "--seed" => {
                let Some(v) = it.next() else {
                    return usage_error(&format!("{a} needs a value"));
                };
                match a.as_str() {
                    "--age-plugin" => state_machine = Some(v.clone()),
                    "--mode" => match Mode::from_name(v) {
                        Some(m) => mode = m,
                        None => return usage_error(&format!("unknown mode {v:?}")),
                    },
                    _ => match parse_seed(v) {
                        Ok(s) => seed = Some(s),
                        Err(e) => return usage_error(&e),
                    },
                }
            }
            _ => match a.strip_prefix("--age-plugin=") {
                Some(sm) => state_machine = Some(sm.to_string()),
                None => return usage_error(&format!("unknown argument {a:?}")),
            },
        }
    }
    let result = if let Some(sm) = state_machine {
        log(&format!("start {sm}"));
        run_state_machine(&sm, Handler).map_err(|e| format!("state machine {sm}: {e}"))
    } else if gen {
        generate(mode, seed)
    } else if to_recip {
        to_recipients()
    } else {
        return usage_error("nothing to do");
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("age-plugin-sealboxtest: {e}");
            ExitCode::FAILURE
        }
    }
}
