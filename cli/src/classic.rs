//! sops' own command line: `sops -d FILE`, `sops -e -i FILE`, `sops --set '["k"] "v"' FILE`.
//!
//! sops users switch by putting `sealbox` where `sops` was (a `sops -> sealbox` symlink, an
//! alias, or `sealbox -d FILE`), and their scripts, CI jobs and READMEs use the flag form
//! that predates sops' subcommands. This module turns that form into the equivalent sealbox
//! subcommand line ([`translate`], a pure function, tested by table below); [`hook`] runs it
//! from `main` before clap sees the arguments.
//!
//! Which form: after an optional leading `--config FILE`, a first word that is a subcommand,
//! or any word not starting with `-`, is sealbox's form (a bare `sops FILE` then edits FILE
//! through `firstword`); a leading flag is the classic form. Called as `sealbox`, clap's own
//! `-h`, `--help`, `-V` and `--version` stay sealbox's; called as `sops`, every flag is
//! sops' (`-V` is then unknown, as in sops).
//!
//! The flags are read the way sops 3.11 reads them (urfave/cli v1 over Go's `flag` package),
//! because scripts depend on the corners:
//! * one dash or two, for long and short names alike (`-decrypt`, `--d`); `-x=v` or `-x v`;
//!   `-d=false`; no combined short flags (`-di` is an unknown flag); `--` ends the flags;
//! * the flags stop at the first word that does not start with `-`: flags after FILE are
//!   ignored (sops warns, and so do we); if that word is one of sops' subcommands, it runs
//!   with its own flags and the ones before it are ignored. Called as sops, a line that
//!   starts with an existing FILE followed by more words (`sops FILE -d`) edits FILE with
//!   that warning, as sops does; called as sealbox, it is sealbox's `edit FILE …`.
//! * `-d --decrypt` together is an error ("two forms of the same flag");
//! * environment variables are the defaults of their flags (`SOPS_AGE_RECIPIENTS`, …), and
//!   one holding a bad boolean fails every command, as in sops.
//!
//! Several modes at once (`-e -d`, `-r --set`) are deprecated in sops, which warns, runs
//! them all in the order encrypt, decrypt, rotate, set on the original file and keeps the
//! last one's output; but an earlier mode can still fail the command: encrypt when no keys
//! can be found for it (exit 1), decrypt on a bad `--extract` path (exit 91) and, unless a
//! `--set` follows, on any failure (sops keeps its error past the rotate), rotate whenever
//! it fails. We run the last mode, and the earlier ones first as checks whose output is
//! thrown away ([`Check`]).
//!
//! Refused, naming what to use instead: AWS/GCP/Azure/HuaweiCloud KMS keys, key services,
//! sops' `publish`, `groups`, `keyservice` and `completion` commands; PGP and Vault keys
//! while the subcommand lacks the flag (we ask clap, so they work as soon as it has it).

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::Path;
use std::process::ExitCode;

use sealbox_formats::metadata::WRITER_VERSION;
use sealbox_formats::store::Format;

/// The sops exit codes this module returns itself.
mod code {
    pub const GENERIC: u8 = 1;
    pub const INVALID_SET_FORMAT: u8 = 7;
    pub const CONFLICTING_PARAMETERS: u8 = 8;
    pub const INVALID_TREE_PATH_FORMAT: u8 = 91;
    pub const CANNOT_CHANGE_KEYS_FROM_NON_EXISTENT_FILE: u8 = 49;
    pub const NO_FILE_SPECIFIED: u8 = 100;
    pub const DUPLICATE_DECRYPTION_KEY_TYPE: u8 = 112;
}

/// How a flag takes its value (urfave/cli v1 flag types).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// `BoolFlag`: false unless given.
    Bool,
    /// `BoolTFlag`: true unless given `=false`.
    BoolTrue,
    /// `StringFlag`.
    Text,
    /// `IntFlag`.
    Int,
    /// `StringSliceFlag`: repeatable.
    List,
}

/// One of sops' top-level flags.
struct Flag {
    /// Long name first, then the short alias, as sops declares them.
    names: &'static [&'static str],
    kind: Kind,
    /// The environment variable giving its default.
    env: Option<&'static str>,
    /// What sealbox does with it (for `sops --help`).
    help: &'static str,
}

const fn flag(names: &'static [&'static str], kind: Kind, help: &'static str) -> Flag {
    Flag {
        names,
        kind,
        env: None,
        help,
    }
}

const fn env_flag(
    names: &'static [&'static str],
    kind: Kind,
    env: &'static str,
    help: &'static str,
) -> Flag {
    Flag {
        names,
        kind,
        env: Some(env),
        help,
    }
}

use Kind::*;

/// sops 3.11's top-level flags, in its order (the order decides which "two forms" error
/// is reported first), with the `--hckms` family that the sops 3.11 builds in circulation
/// (the one the interop tests run included) already have; `help` and `version` come last,
/// as urfave/cli appends them.
#[rustfmt::skip]
const FLAGS: &[Flag] = &[
    flag(&["decrypt", "d"], Bool, "decrypt FILE (sealbox decrypt)"),
    flag(&["encrypt", "e"], Bool, "encrypt FILE (sealbox encrypt)"),
    flag(&["rotate", "r"], Bool, "new data key, re-encrypt (sealbox rotate)"),
    env_flag(&["disable-version-check"], Bool, "SOPS_DISABLE_VERSION_CHECK", "accepted (sealbox never checks online)"),
    flag(&["check-for-updates"], Bool, "accepted (sealbox never checks online)"),
    env_flag(&["kms", "k"], Text, "SOPS_KMS_ARN", "refused: AWS KMS is not supported"),
    flag(&["aws-profile"], Text, "ignored (AWS KMS only)"),
    env_flag(&["gcp-kms"], Text, "SOPS_GCP_KMS_IDS", "refused: GCP KMS is not supported"),
    env_flag(&["hckms"], Text, "SOPS_HUAWEICLOUD_KMS_IDS", "refused: HuaweiCloud KMS is not supported"),
    env_flag(&["azure-kv"], Text, "SOPS_AZURE_KEYVAULT_URLS", "refused: Azure Key Vault is not supported"),
    env_flag(&["hc-vault-transit"], Text, "SOPS_VAULT_URIS", "Vault transit keys to encrypt for, where supported"),
    env_flag(&["pgp", "p"], Text, "SOPS_PGP_FP", "PGP fingerprints to encrypt for, where supported"),
    env_flag(&["age", "a"], Text, "SOPS_AGE_RECIPIENTS", "age recipients to encrypt for, comma-separated"),
    flag(&["in-place", "i"], Bool, "write the result back to FILE"),
    flag(&["extract"], Text, "decrypt only this path, e.g. '[\"a\"][0]'"),
    flag(&["input-type"], Text, "yaml, json, dotenv, ini or binary (default: from the name)"),
    flag(&["output-type"], Text, "output format (default: from the name)"),
    flag(&["show-master-keys", "s"], Bool, "edit with the sops metadata shown (read-only)"),
    flag(&["add-gcp-kms"], Text, "refused: GCP KMS is not supported"),
    flag(&["rm-gcp-kms"], Text, "refused: GCP KMS is not supported"),
    flag(&["add-hckms"], Text, "refused: HuaweiCloud KMS is not supported"),
    flag(&["rm-hckms"], Text, "refused: HuaweiCloud KMS is not supported"),
    flag(&["add-azure-kv"], Text, "refused: Azure Key Vault is not supported"),
    flag(&["rm-azure-kv"], Text, "refused: Azure Key Vault is not supported"),
    flag(&["add-kms"], Text, "refused: AWS KMS is not supported"),
    flag(&["rm-kms"], Text, "refused: AWS KMS is not supported"),
    flag(&["add-hc-vault-transit"], Text, "with -r: add Vault keys, where supported"),
    flag(&["rm-hc-vault-transit"], Text, "with -r: remove Vault keys, where supported"),
    flag(&["add-age"], Text, "with -r: add age recipients"),
    flag(&["rm-age"], Text, "with -r: remove age recipients"),
    flag(&["add-pgp"], Text, "with -r: add PGP keys, where supported"),
    flag(&["rm-pgp"], Text, "with -r: remove PGP keys, where supported"),
    flag(&["ignore-mac"], Bool, "go on when the MAC does not verify"),
    flag(&["mac-only-encrypted"], Bool, "MAC over encrypted values only"),
    flag(&["unencrypted-suffix"], Text, "leave keys with this suffix in clear"),
    flag(&["encrypted-suffix"], Text, "encrypt only keys with this suffix"),
    flag(&["unencrypted-regex"], Text, "leave keys matching this in clear"),
    flag(&["encrypted-regex"], Text, "encrypt only keys matching this"),
    flag(&["unencrypted-comment-regex"], Text, "leave values after such a comment in clear"),
    flag(&["encrypted-comment-regex"], Text, "encrypt only values after such a comment"),
    env_flag(&["config"], Text, "SOPS_CONFIG", "the .sops.yaml to use (no search)"),
    flag(&["encryption-context"], Text, "ignored (AWS KMS only)"),
    flag(&["set"], Text, "set one value in FILE: '[\"a\"][0] JSON'"),
    flag(&["shamir-secret-sharing-threshold"], Int, "key groups needed to decrypt"),
    flag(&["indent"], Int, "YAML/JSON indentation of the output"),
    flag(&["verbose"], Bool, "accepted (use SEALBOX_LOG=debug)"),
    flag(&["output"], Text, "write the result to this file"),
    flag(&["filename-override"], Text, "use this name for the format and the creation rule"),
    env_flag(&["decryption-order"], Text, "SOPS_DECRYPTION_ORDER", "key types in the order to try them, e.g. pgp,age"),
    env_flag(&["enable-local-keyservice"], BoolTrue, "SOPS_ENABLE_LOCAL_KEYSERVICE", "accepted when true (sealbox always uses its own keys)"),
    env_flag(&["keyservice"], List, "SOPS_KEYSERVICE", "refused: key services are not supported"),
    flag(&["help", "h"], Bool, "show this help"),
    flag(&["version", "v"], Bool, "print the version"),
];

/// sops' subcommands; the first positional word naming one runs it.
const SOPS_COMMANDS: &[&str] = &[
    "completion",
    "exec-env",
    "exec-file",
    "publish",
    "keyservice",
    "filestatus",
    "groups",
    "updatekeys",
    "decrypt",
    "encrypt",
    "rotate",
    "edit",
    "set",
    "unset",
    "help",
    "h",
];

/// What the translator needs from outside: the environment, the file system, and clap.
pub trait World {
    /// An environment variable (set, even if empty).
    fn var(&self, name: &str) -> Option<OsString>;
    /// Whether `path` exists (following symlinks, as sops' `os.Stat`).
    fn exists(&self, path: &Path) -> bool;
    /// Whether `sealbox SUBCOMMAND` has the option `--LONG`.
    fn accepts(&self, subcommand: &str, long: &str) -> bool;
    /// Whether `WORD` is a sealbox subcommand.
    fn is_subcommand(&self, word: &str) -> bool;
}

/// What to do with the command line.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Not the classic form: parse it as it is.
    Subcommand,
    /// Run this sealbox command line (without the program name).
    Run(Translation),
    /// Print this on stdout and exit 0 (help, version).
    Print(String),
}

/// A classic command line turned into a sealbox one.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Translation {
    /// The sealbox arguments, program name excluded.
    pub argv: Vec<OsString>,
    /// sops' warnings, printed first.
    pub warnings: Vec<String>,
    /// Earlier modes to run first (see the module header).
    pub checks: Vec<Check>,
}

/// An earlier mode of a multi-mode command line, run for its exit status only.
#[derive(Debug, PartialEq, Eq)]
pub struct Check {
    /// Its sealbox arguments: the subcommand first (the runner adds `--output` to a
    /// throw-away file right after it), the file last.
    pub argv: Vec<OsString>,
    /// Which failures end the command.
    pub fatal: Fatal,
}

/// Which failures of a [`Check`] end the command with its exit code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fatal {
    /// Any failure (rotate; decrypt when no `--set` follows).
    Any,
    /// Only this exit code: sops ignores an earlier encrypt's failure once it has keys
    /// (exit 1 is the "no keys, bad config" family; reading or encrypting the file has
    /// other codes), and an earlier decrypt's before a `--set` unless its `--extract` path
    /// does not parse (exit 91).
    Only(u8),
}

/// A classic command line sealbox cannot run, with sops' exit code.
#[derive(Debug, PartialEq, Eq)]
pub struct ClassicError {
    pub code: u8,
    pub message: String,
    pub hint: Option<String>,
}

impl ClassicError {
    fn new(code: u8, message: impl Into<String>) -> Self {
        ClassicError {
            code,
            message: message.into(),
            hint: None,
        }
    }

    fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// A usage error (sops: "Incorrect Usage.", exit 1).
    fn usage(message: impl Into<String>, as_sops: bool) -> Self {
        let name = if as_sops { "sops" } else { "sealbox" };
        ClassicError::new(
            code::GENERIC,
            format!("incorrect usage: {}", message.into()),
        )
        .hint(format!("see `{name} --help`"))
    }
}

/// A parsed value.
#[derive(Clone, Debug)]
enum Val {
    Bool(bool),
    Text(OsString),
    Int(i64),
    List(Vec<OsString>),
}

/// The flags as sops sees them: each flag's value (default, environment, command line)
/// and whether the command line gave it.
struct Parsed {
    vals: Vec<Option<Val>>,
    given: Vec<bool>,
    /// The names used on the command line, per flag (for the "two forms" check).
    used: Vec<Vec<&'static str>>,
    positionals: Vec<OsString>,
}

fn index(name: &str) -> usize {
    FLAGS
        .iter()
        .position(|f| f.names.contains(&name))
        .unwrap_or_else(|| panic!("unknown sops flag {name}"))
}

impl Parsed {
    fn on(&self, name: &str) -> bool {
        matches!(self.vals[index(name)], Some(Val::Bool(true)))
    }

    /// The flag's text, `None` when empty (sops treats "" as unset).
    fn text(&self, name: &str) -> Option<&OsStr> {
        match &self.vals[index(name)] {
            Some(Val::Text(t)) if !t.is_empty() => Some(t.as_os_str()),
            _ => None,
        }
    }

    fn int(&self, name: &str) -> Option<i64> {
        match self.vals[index(name)] {
            Some(Val::Int(n)) => Some(n),
            _ => None,
        }
    }

    fn list(&self, name: &str) -> &[OsString] {
        match &self.vals[index(name)] {
            Some(Val::List(l)) => l,
            _ => &[],
        }
    }

    fn given(&self, name: &str) -> bool {
        self.given[index(name)]
    }
}

/// Go's `strconv.ParseBool`.
fn go_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// Go's `strconv.ParseInt(s, 0, 64)`: a sign, then decimal, `0x`, `0o`, `0b` or a leading
/// `0` for octal; `_` between digits when there is a prefix. Err: Go's error word.
fn go_int(s: &str) -> Result<i64, &'static str> {
    let (neg, body) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let lower = body.to_ascii_lowercase();
    let (radix, digits, prefixed) = if let Some(d) = lower.strip_prefix("0x") {
        (16, d.to_string(), true)
    } else if let Some(d) = lower.strip_prefix("0b") {
        (2, d.to_string(), true)
    } else if let Some(d) = lower.strip_prefix("0o") {
        (8, d.to_string(), true)
    } else if lower.len() > 1 && lower.starts_with('0') {
        (8, lower[1..].to_string(), true)
    } else {
        (10, lower.clone(), false)
    };
    if digits.is_empty()
        || (!prefixed && digits.contains('_'))
        || digits.starts_with('_') && radix == 10
        || digits.ends_with('_')
        || digits.contains("__")
    {
        return Err("parse error");
    }
    let clean: String = digits.chars().filter(|&c| c != '_').collect();
    if clean.is_empty() || !clean.chars().all(|c| c.is_digit(radix)) {
        return Err("parse error");
    }
    let magnitude = u128::from_str_radix(&clean, radix).map_err(|_| "value out of range")?;
    let v = if neg {
        -(i128::try_from(magnitude).map_err(|_| "value out of range")?)
    } else {
        i128::try_from(magnitude).map_err(|_| "value out of range")?
    };
    i64::try_from(v).map_err(|_| "value out of range")
}

/// Reads the flags as urfave/cli v1 does (see the module header).
fn parse(args: &[OsString], w: &dyn World, as_sops: bool) -> Result<Parsed, ClassicError> {
    let mut p = Parsed {
        vals: vec![None; FLAGS.len()],
        given: vec![false; FLAGS.len()],
        used: vec![Vec::new(); FLAGS.len()],
        positionals: Vec::new(),
    };
    // Defaults and environment variables, before the command line (urfave: at Apply).
    for (i, f) in FLAGS.iter().enumerate() {
        let env = f.env.and_then(|e| w.var(e));
        p.vals[i] = match (f.kind, env) {
            (Bool, None) => Some(Val::Bool(false)),
            (BoolTrue, None) => Some(Val::Bool(true)),
            (Bool | BoolTrue, Some(v)) => {
                let v = v.to_string_lossy();
                if v.is_empty() {
                    Some(Val::Bool(false))
                } else {
                    let b = go_bool(&v).ok_or_else(|| {
                        ClassicError::new(
                            code::GENERIC,
                            format!(
                                "could not parse {v} as bool value for flag {}: strconv.ParseBool: parsing \"{v}\": invalid syntax",
                                f.names[0]
                            ),
                        )
                        .hint(format!("unset {} or set it to true or false", f.env.unwrap_or("")))
                    })?;
                    Some(Val::Bool(b))
                }
            }
            (Text, v) => v.map(Val::Text),
            (Int, _) => None,
            (List, v) => Some(Val::List(
                v.map(|v| {
                    v.as_bytes()
                        .split(|&b| b == b',')
                        .map(|s| OsString::from_vec(s.to_vec()))
                        .collect()
                })
                .unwrap_or_default(),
            )),
        };
    }
    let mut list_from_args: Vec<bool> = vec![false; FLAGS.len()];
    let mut i = 0;
    let mut parse_error = None;
    while i < args.len() {
        let a = args[i].as_bytes();
        if a.len() < 2 || a[0] != b'-' {
            break;
        }
        let mut body = &a[1..];
        if body[0] == b'-' {
            body = &body[1..];
            if body.is_empty() {
                i += 1;
                break;
            }
        }
        if body.is_empty() || body[0] == b'-' || body[0] == b'=' {
            parse_error = Some(format!("bad flag syntax: {}", args[i].to_string_lossy()));
            break;
        }
        i += 1;
        let (name, inline) = match body.iter().position(|&b| b == b'=') {
            Some(eq) => (
                &body[..eq],
                Some(OsString::from_vec(body[eq + 1..].to_vec())),
            ),
            None => (body, None),
        };
        let name_s = String::from_utf8_lossy(name).into_owned();
        let Some(fi) = FLAGS
            .iter()
            .position(|f| f.names.iter().any(|n| n.as_bytes() == name))
        else {
            parse_error = Some(format!("flag provided but not defined: -{name_s}"));
            break;
        };
        let f = &FLAGS[fi];
        let used_name = f
            .names
            .iter()
            .find(|n| n.as_bytes() == name)
            .copied()
            .unwrap_or("");
        if !p.used[fi].contains(&used_name) {
            p.used[fi].push(used_name);
        }
        p.given[fi] = true;
        match f.kind {
            Bool | BoolTrue => {
                let b = match &inline {
                    None => true,
                    Some(v) => match go_bool(&v.to_string_lossy()) {
                        Some(b) => b,
                        None => {
                            parse_error = Some(format!(
                                "invalid boolean value {:?} for -{name_s}: parse error",
                                v.to_string_lossy()
                            ));
                            break;
                        }
                    },
                };
                p.vals[fi] = Some(Val::Bool(b));
            }
            Text | Int | List => {
                let value = match inline {
                    Some(v) => v,
                    None if i < args.len() => {
                        i += 1;
                        args[i - 1].clone()
                    }
                    None => {
                        parse_error = Some(format!("flag needs an argument: -{name_s}"));
                        break;
                    }
                };
                match f.kind {
                    Text => p.vals[fi] = Some(Val::Text(value)),
                    Int => match go_int(&value.to_string_lossy()) {
                        Ok(n) => p.vals[fi] = Some(Val::Int(n)),
                        Err(why) => {
                            parse_error = Some(format!(
                                "invalid value {:?} for flag -{name_s}: {why}",
                                value.to_string_lossy()
                            ));
                            break;
                        }
                    },
                    _ => {
                        // The command line replaces the environment's list, then appends.
                        if !list_from_args[fi] {
                            p.vals[fi] = Some(Val::List(Vec::new()));
                            list_from_args[fi] = true;
                        }
                        if let Some(Val::List(l)) = &mut p.vals[fi] {
                            l.push(value);
                        }
                    }
                }
            }
        }
    }
    // urfave checks the two forms of a flag before it reports a parse error.
    for (fi, f) in FLAGS.iter().enumerate() {
        if f.names.len() > 1 && p.used[fi].len() > 1 {
            return Err(ClassicError::usage(
                format!(
                    "Cannot use two forms of the same flag: {} {}",
                    f.names[1], f.names[0]
                ),
                as_sops,
            ));
        }
    }
    if let Some(e) = parse_error {
        return Err(ClassicError::usage(e, as_sops));
    }
    p.positionals = args[i..].to_vec();
    Ok(p)
}

/// The first line of `--version`. Called as sops, it keeps sops' `sops X.Y.Z` shape (the
/// version whose format and command line sealbox follows) so that scripts reading the
/// second word keep working, and names sealbox in parentheses, where sops itself writes
/// `(latest)`.
fn version_text(as_sops: bool) -> String {
    let ours = env!("CARGO_PKG_VERSION");
    if as_sops {
        format!("sops {WRITER_VERSION} (sealbox {ours})\n")
    } else {
        format!("sealbox {ours}\n")
    }
}

/// `sops --help`: the classic form, in urfave/cli's layout.
fn help_text(as_sops: bool) -> String {
    let mut s = format!(
        "NAME:\n   sops - the sops {WRITER_VERSION} command line, run by sealbox {}\n\n\
         USAGE:\n   sops [options] FILE              edit FILE (created when missing)\n   \
         sops -d|-e|-r [options] FILE     decrypt, encrypt, rotate: stdout, --output or -i\n   \
         sops --set '[\"key\"] JSON' FILE    set one value in FILE\n   \
         sops COMMAND [options] ARGS...   decrypt, encrypt, edit, set, unset, rotate,\n                                    \
         updatekeys, filestatus, exec-env, exec-file\n\n   \
         Options go before FILE, as in sops. Keys: age; PGP and Vault where this sealbox\n   \
         supports them. AWS, GCP, Azure and HuaweiCloud KMS and key services are refused.\n   \
         sealbox's own commands (keygen, check, recipients, ...): `sealbox --help`.\n\n\
         GLOBAL OPTIONS:\n",
        env!("CARGO_PKG_VERSION")
    );
    if !as_sops {
        s = s.replace("   sops", "   sealbox");
    }
    for f in FLAGS {
        let mut names = format!("--{}", f.names[0]);
        let value = matches!(f.kind, Text | Int | List);
        if value {
            names.push_str(" value");
        }
        for n in &f.names[1..] {
            names.push_str(&format!(", -{n}"));
            if value {
                names.push_str(" value");
            }
        }
        let env = f.env.map(|e| format!(" [${e}]")).unwrap_or_default();
        s.push_str(&format!("   {names:<38} {}{env}\n", f.help));
    }
    s
}

/// The program name, as messages should give it.
fn prog(as_sops: bool) -> &'static str {
    if as_sops {
        "sops"
    } else {
        "sealbox"
    }
}

/// sops' commands that sealbox does not have, and what to use instead.
fn missing_command(word: &str, as_sops: bool) -> Option<ClassicError> {
    let p = prog(as_sops);
    let (what, hint) = match word {
        "publish" => (
            "sealbox has no `publish` (copying files to S3, GCS or Vault)",
            "copy the files with your own tools; re-encrypt for other keys with `sealbox updatekeys`".to_string(),
        ),
        "keyservice" => (
            "sealbox has no key service",
            "run sealbox where the keys are (age identities, SSH keys)".to_string(),
        ),
        "groups" => (
            "sealbox has no `groups` command",
            "edit key_groups in .sops.yaml, then run `sealbox updatekeys FILE`".to_string(),
        ),
        "completion" => (
            "sealbox has no `completion` command",
            "`sealbox completions bash|zsh|fish` prints one (it completes the sealbox command)"
                .to_string(),
        ),
        _ => return None,
    };
    Some(
        ClassicError::new(
            code::GENERIC,
            format!("`{p} {word}` is not supported: {what}"),
        )
        .hint(hint),
    )
}

/// The index of the first argument after a leading `--config FILE` (or `--config=FILE`),
/// which sealbox's own form also takes before the subcommand.
fn skip_config(args: &[OsString]) -> usize {
    let mut at = 0;
    while let Some(a) = args.get(at).and_then(|a| a.to_str()) {
        if a == "--config" {
            at += 2;
        } else if a.starts_with("--config=") {
            at += 1;
        } else {
            break;
        }
    }
    at
}

/// Whether a command line is in the classic form (see the module header).
fn is_classic(args: &[OsString], as_sops: bool, w: &dyn World) -> bool {
    let at = skip_config(args);
    let Some(first) = args.get(at) else {
        // `sops` alone: sops' "no file specified"; `sealbox` alone: clap's usage.
        return as_sops;
    };
    let b = first.as_bytes();
    if b.len() < 2 || b[0] != b'-' {
        // `sops FILE -d`: sops edits FILE and ignores the rest (with a warning). A lone
        // word, a command or a missing file stays with `firstword` (which also catches a
        // mistyped command).
        let s = first.to_string_lossy();
        return as_sops
            && args.len() > at + 1
            && !w.is_subcommand(&s)
            && !SOPS_COMMANDS.contains(&&*s)
            && w.exists(Path::new(first));
    }
    if as_sops {
        return true;
    }
    let s = first.to_string_lossy();
    !(matches!(&*s, "-h" | "--help" | "-V" | "--version") || w.is_subcommand(&s))
}

/// Turns `args` (without the program name) into what to do; see the module header.
pub fn translate(args: &[OsString], as_sops: bool, w: &dyn World) -> Result<Outcome, ClassicError> {
    // sops' commands that sealbox lacks are named as such, in either form: otherwise
    // `sops groups add …` would open an editor on a file named `groups`.
    // (`completion` is left to `firstword`, whose "did you mean" names `completions`.)
    let at = skip_config(args);
    if let Some(word) = args.get(at).and_then(|a| a.to_str()) {
        if let Some(e) = missing_command(word, as_sops).filter(|_| word != "completion") {
            return Err(e);
        }
        if as_sops && (word == "h" || (word == "help" && args.len() == at + 1)) {
            return Ok(Outcome::Print(help_text(as_sops)));
        }
    }
    if !is_classic(args, as_sops, w) {
        return Ok(Outcome::Subcommand);
    }
    let p = parse(args, w, as_sops)?;
    if p.on("help") {
        return Ok(Outcome::Print(help_text(as_sops)));
    }
    if p.on("version") {
        return Ok(Outcome::Print(version_text(as_sops)));
    }
    // The first positional word naming a sops command runs it; the flags before it are
    // ignored, except --config, which sops' commands read as a global flag.
    if let Some(word) = p.positionals.first().and_then(|w| w.to_str()) {
        if SOPS_COMMANDS.contains(&word) {
            if let Some(e) = missing_command(word, as_sops) {
                return Err(e);
            }
            let mut argv = Vec::new();
            if p.given("config") {
                if let Some(c) = p.text("config") {
                    argv.push("--config".into());
                    argv.push(c.to_os_string());
                }
            }
            let rest = &p.positionals[1..];
            match word {
                "help" | "h" => match rest.first() {
                    None => return Ok(Outcome::Print(help_text(as_sops))),
                    Some(c) => {
                        argv.push(c.clone());
                        argv.push("--help".into());
                    }
                },
                _ => {
                    argv.push(word.into());
                    argv.extend(rest.iter().cloned());
                }
            }
            return Ok(Outcome::Run(Translation {
                argv,
                ..Default::default()
            }));
        }
    }
    action(&p, as_sops, w)
}

/// The sealbox flags for sops' key-source flags: used by encrypt (and edit of a new file,
/// and rotate's `--add-*`/`--rm-*`).
struct KeyFlag {
    /// sops' flag.
    sops: &'static str,
    /// What it is, for messages.
    what: &'static str,
    /// Whether some sealbox subcommand is meant to take it under the same name (PGP and
    /// Vault, being added); the others are refused outright.
    planned: bool,
}

#[rustfmt::skip]
const KEY_FLAGS: &[KeyFlag] = &[
    KeyFlag { sops: "kms", what: "AWS KMS keys", planned: false },
    KeyFlag { sops: "gcp-kms", what: "GCP KMS keys", planned: false },
    KeyFlag { sops: "hckms", what: "HuaweiCloud KMS keys", planned: false },
    KeyFlag { sops: "azure-kv", what: "Azure Key Vault keys", planned: false },
    KeyFlag { sops: "hc-vault-transit", what: "HashiCorp Vault transit keys", planned: true },
    KeyFlag { sops: "pgp", what: "PGP keys", planned: true },
    KeyFlag { sops: "age", what: "age recipients", planned: true },
];

/// Adds the key-source flags of `prefix` ("" for encrypt, "add-"/"rm-" for rotate) to
/// `argv`, or refuses those sealbox cannot use.
fn key_flags(
    p: &Parsed,
    w: &dyn World,
    sub: &str,
    prefix: &str,
    argv: &mut Vec<OsString>,
) -> Result<(), ClassicError> {
    for k in KEY_FLAGS {
        let name = format!("{prefix}{}", k.sops);
        let i = index(&name);
        let value = p.text(&name);
        // An empty flag given on the command line still overrides the environment
        // variable, which the subcommand would otherwise read again.
        let env_set = FLAGS[i]
            .env
            .and_then(|e| w.var(e))
            .is_some_and(|v| !v.is_empty());
        let pass_empty = value.is_none() && p.given(&name) && env_set;
        if value.is_none() && !pass_empty {
            continue;
        }
        let shown = match FLAGS[i].names {
            [long, short] => format!("--{long}/-{short}"),
            _ => format!("--{name}"),
        };
        let from_env = !p.given(&name);
        let source = match (from_env, FLAGS[i].env) {
            (true, Some(e)) => format!("{e} (the environment variable behind {shown})"),
            _ => shown.clone(),
        };
        if !k.planned {
            return Err(ClassicError::new(
                code::GENERIC,
                format!("{source}: {} are not supported by sealbox", k.what),
            )
            .hint(if from_env {
                format!(
                    "unset {} and use age recipients (--age) instead",
                    FLAGS[i].env.unwrap_or("")
                )
            } else {
                "use age recipients (--age) instead".to_string()
            }));
        }
        if !w.accepts(sub, &name) {
            if value.is_none() {
                continue;
            }
            return Err(ClassicError::new(
                code::GENERIC,
                format!(
                    "{source}: {} are not supported yet; `sealbox {sub}` has no --{name}",
                    k.what
                ),
            )
            .hint("use age recipients (--age) for now"));
        }
        argv.push(format!("--{name}").into());
        argv.push(value.map(OsStr::to_os_string).unwrap_or_default());
    }
    Ok(())
}

/// The file operand: `--` then the path, with a lone `-` made a path (sops has no stdin
/// here: `sops -d -` means a file named `-`).
fn push_file(argv: &mut Vec<OsString>, file: &OsStr) {
    argv.push("--".into());
    if file == "-" {
        argv.push("./-".into());
    } else {
        argv.push(file.to_os_string());
    }
}

/// `--input-type`/`--output-type` for subcommands without `--filename-override`, chosen as
/// sops chooses them: each from its flag, else from the name (the override, else FILE).
/// Both are given whenever sops' choice could differ from the subcommand's default (which
/// takes the output format from the input format).
fn format_flags(p: &Parsed, file: &OsStr, argv: &mut Vec<OsString>) {
    let name = p.text("filename-override").unwrap_or(file);
    let by_name = Format::from_path(Path::new(name)).name();
    let explicit = p.text("input-type").is_some() || p.text("filename-override").is_some();
    let input = p.text("input-type").map(OsStr::to_os_string);
    let output = p.text("output-type").map(OsStr::to_os_string);
    if explicit {
        argv.push("--input-type".into());
        argv.push(input.unwrap_or_else(|| by_name.into()));
        argv.push("--output-type".into());
        argv.push(output.unwrap_or_else(|| by_name.into()));
    } else if let Some(o) = output {
        argv.push("--output-type".into());
        argv.push(o);
    }
}

/// Flags every mode passes: `--indent`, `--decryption-order` (its environment variable is
/// read by the subcommand itself).
fn common_flags(p: &Parsed, argv: &mut Vec<OsString>) {
    if let Some(n) = p.int("indent") {
        if p.given("indent") {
            argv.push("--indent".into());
            argv.push(n.to_string().into());
        }
    }
    if p.given("decryption-order") {
        argv.push("--decryption-order".into());
        argv.push(
            p.text("decryption-order")
                .map(OsStr::to_os_string)
                .unwrap_or_default(),
        );
    }
}

/// `sealbox encrypt …` for `-e`, with its output going to `out` (stdout, `-i`, `--output`).
fn encrypt_argv(
    p: &Parsed,
    w: &dyn World,
    file: &OsStr,
    with_output: bool,
) -> Result<Vec<OsString>, ClassicError> {
    let mut argv = start("encrypt", p);
    if with_output {
        io_flags(p, &mut argv);
    }
    for name in ["input-type", "output-type", "filename-override"] {
        if let Some(v) = p.text(name) {
            argv.push(format!("--{name}").into());
            argv.push(v.to_os_string());
        }
    }
    creation_flags(p, w, "encrypt", &mut argv)?;
    common_flags(p, &mut argv);
    push_file(&mut argv, file);
    Ok(argv)
}

/// A subcommand line's start: its name, then `--config FILE` when the command line gave one
/// (the subcommand reads `SOPS_CONFIG` itself).
fn start(sub: &str, p: &Parsed) -> Vec<OsString> {
    let mut argv: Vec<OsString> = vec![sub.into()];
    if let (true, Some(c)) = (p.given("config"), p.text("config")) {
        argv.push("--config".into());
        argv.push(c.to_os_string());
    }
    argv
}

/// `-i` and `--output`.
fn io_flags(p: &Parsed, argv: &mut Vec<OsString>) {
    if p.on("in-place") {
        argv.push("--in-place".into());
    } else if let Some(o) = p.text("output") {
        argv.push("--output".into());
        argv.push(o.to_os_string());
    }
}

/// How a new file is encrypted: keys, selectors, MAC and threshold flags.
fn creation_flags(
    p: &Parsed,
    w: &dyn World,
    sub: &str,
    argv: &mut Vec<OsString>,
) -> Result<(), ClassicError> {
    key_flags(p, w, sub, "", argv)?;
    for name in [
        "unencrypted-suffix",
        "encrypted-suffix",
        "unencrypted-regex",
        "encrypted-regex",
        "unencrypted-comment-regex",
        "encrypted-comment-regex",
    ] {
        if let Some(v) = p.text(name) {
            argv.push(format!("--{name}").into());
            argv.push(v.to_os_string());
        }
    }
    if p.on("mac-only-encrypted") {
        argv.push("--mac-only-encrypted".into());
    }
    // sops: 0 means "from the creation rule".
    if let Some(n) = p.int("shamir-secret-sharing-threshold").filter(|&n| n != 0) {
        argv.push("--shamir-secret-sharing-threshold".into());
        argv.push(n.to_string().into());
    }
    Ok(())
}

/// `sealbox rotate …` for `-r`.
fn rotate_argv(
    p: &Parsed,
    w: &dyn World,
    file: &OsStr,
    with_output: bool,
) -> Result<Vec<OsString>, ClassicError> {
    let mut argv = start("rotate", p);
    if with_output {
        io_flags(p, &mut argv);
    }
    format_flags(p, file, &mut argv);
    key_flags(p, w, "rotate", "add-", &mut argv)?;
    key_flags(p, w, "rotate", "rm-", &mut argv)?;
    if p.on("ignore-mac") {
        argv.push("--ignore-mac".into());
    }
    common_flags(p, &mut argv);
    push_file(&mut argv, file);
    Ok(argv)
}

/// `sealbox decrypt …` for `-d`.
fn decrypt_argv(p: &Parsed, file: &OsStr, with_output: bool) -> Vec<OsString> {
    let mut argv = start("decrypt", p);
    if with_output {
        io_flags(p, &mut argv);
    }
    for name in ["input-type", "output-type", "filename-override", "extract"] {
        if let Some(v) = p.text(name) {
            argv.push(format!("--{name}").into());
            argv.push(v.to_os_string());
        }
    }
    if p.on("ignore-mac") {
        argv.push("--ignore-mac".into());
    }
    common_flags(p, &mut argv);
    push_file(&mut argv, file);
    argv
}

/// sops' `extractSetArguments`: the path runs up to the first `] `, the value is the rest.
fn split_set(set: &OsStr) -> Result<(OsString, OsString), ClassicError> {
    let b = set.as_bytes();
    let Some(at) = b.windows(2).position(|w| w == b"] ") else {
        return Err(ClassicError::new(code::INVALID_SET_FORMAT, "Invalid --set format").hint(
            r#"--set takes a path and a JSON value separated by a space: --set '["key"] "value"'"#,
        ));
    };
    let mut path = &b[..at + 1];
    while let [rest @ .., b' '] = path {
        path = rest;
    }
    Ok((
        OsString::from_vec(path.to_vec()),
        OsString::from_vec(b[at + 2..].to_vec()),
    ))
}

/// sops' top-level action: one file, one mode (see the module header).
fn action(p: &Parsed, as_sops: bool, w: &dyn World) -> Result<Outcome, ClassicError> {
    let decrypt = p.on("decrypt");
    let encrypt = p.on("encrypt");
    let rotate = p.on("rotate");
    let set = p.text("set").is_some();
    let mut t = Translation::default();
    let Some(file) = p.positionals.first() else {
        return Err(
            ClassicError::new(code::NO_FILE_SPECIFIED, "Error: no file specified").hint(format!(
                "{} [options] FILE; `{} --help` lists the options",
                prog(as_sops),
                prog(as_sops)
            )),
        );
    };
    if p.positionals.len() > 1 {
        t.warnings.push(
            "More than one positional argument provided. Only the first one will be used!".into(),
        );
        if let Some(f) = p.positionals[1..]
            .iter()
            .rev()
            .find(|a| a.as_bytes().starts_with(b"-"))
        {
            t.warnings.push(format!(
                "Note that one of the ignored positional argument is {:?}, which looks like a flag. Flags must always be provided before the first positional argument!",
                f.to_string_lossy()
            ));
        }
    }
    if p.on("in-place") && p.text("output").is_some() {
        return Err(ClassicError::new(
            code::CONFLICTING_PARAMETERS,
            "Error: cannot operate on both --output and --in-place",
        ));
    }
    let exists = w.exists(Path::new(file));
    // sops names the file by its absolute path here.
    let shown = std::path::absolute(Path::new(file))
        .map(|a| a.to_string_lossy().into_owned())
        .unwrap_or_else(|_| file.to_string_lossy().into_owned());
    if !exists {
        let changes_keys = FLAGS
            .iter()
            .flat_map(|f| f.names.first())
            .filter(|n| n.starts_with("add-") || n.starts_with("rm-"))
            .any(|n| p.text(n).is_some());
        if changes_keys {
            return Err(ClassicError::new(
                code::CANNOT_CHANGE_KEYS_FROM_NON_EXISTENT_FILE,
                format!("Error: cannot add or remove keys on non-existent file {shown:?}, use `--kms` and `--pgp` instead."),
            )
            .hint("to create it, encrypt it with --age (or edit it) instead"));
        }
        if encrypt || decrypt || rotate {
            return Err(ClassicError::new(
                code::NO_FILE_SPECIFIED,
                format!("Error: cannot operate on non-existent file {shown:?}"),
            ));
        }
    }
    if [encrypt, decrypt, rotate, set]
        .iter()
        .filter(|&&m| m)
        .count()
        > 1
    {
        t.warnings.push("More than one command (--encrypt, --decrypt, --rotate, --set) has been specified. Only the changes made by the last one will be visible. Note that this behavior is deprecated and will cause an error eventually.".into());
    }
    if !p.list("keyservice").is_empty() {
        let from_env = !p.given("keyservice");
        return Err(ClassicError::new(
            code::GENERIC,
            format!(
                "{}: sops key services are not supported by sealbox",
                if from_env {
                    "SOPS_KEYSERVICE"
                } else {
                    "--keyservice"
                }
            ),
        )
        .hint("run sealbox where the keys are (age identities, SSH keys)"));
    }
    if !p.on("enable-local-keyservice") {
        return Err(ClassicError::new(
            code::GENERIC,
            "--enable-local-keyservice=false: sealbox has no key service and always uses its own keys",
        )
        .hint("drop the option (or SOPS_ENABLE_LOCAL_KEYSERVICE)"));
    }
    if let Some(order) = p.text("decryption-order") {
        let mut seen: Vec<&[u8]> = Vec::new();
        for kind in order.as_bytes().split(|&b| b == b',') {
            if seen.contains(&kind) {
                return Err(ClassicError::new(
                    code::DUPLICATE_DECRYPTION_KEY_TYPE,
                    format!(
                        "Duplicate decryption key type: {}",
                        String::from_utf8_lossy(kind)
                    ),
                ));
            }
            seen.push(kind);
        }
    }

    // Earlier modes that can still fail the command (see the module header).
    let last_is_encrypt = !decrypt && !rotate && !set;
    if encrypt && !last_is_encrypt {
        t.checks.push(Check {
            argv: encrypt_argv(p, w, file, false)?,
            fatal: Fatal::Only(code::GENERIC),
        });
    }
    if decrypt && set && p.text("extract").is_some() {
        t.checks.push(Check {
            argv: decrypt_argv(p, file, false),
            fatal: Fatal::Only(code::INVALID_TREE_PATH_FORMAT),
        });
    } else if decrypt && rotate && !set {
        t.checks.push(Check {
            argv: decrypt_argv(p, file, false),
            fatal: Fatal::Any,
        });
    }
    if rotate && set {
        t.checks.push(Check {
            argv: rotate_argv(p, w, file, false)?,
            fatal: Fatal::Any,
        });
    }

    let mut argv: Vec<OsString> = Vec::new();
    if set {
        let (path, value) = split_set(p.text("set").unwrap_or_default())?;
        argv = start("set", p);
        format_flags(p, file, &mut argv);
        if p.on("ignore-mac") {
            argv.push("--ignore-mac".into());
        }
        common_flags(p, &mut argv);
        push_file(&mut argv, file);
        argv.push(path);
        argv.push(value);
    } else if rotate {
        argv.extend(rotate_argv(p, w, file, true)?);
    } else if decrypt {
        argv = decrypt_argv(p, file, true);
    } else if encrypt {
        argv.extend(encrypt_argv(p, w, file, true)?);
    } else {
        argv = start("edit", p);
        format_flags(p, file, &mut argv);
        if !exists {
            if p.text("filename-override").is_some() && !w.accepts("edit", "filename-override") {
                return Err(ClassicError::new(
                    code::GENERIC,
                    "--filename-override when creating a file with the editor is not supported yet",
                )
                .hint(format!(
                    "create it with `sealbox encrypt --filename-override NAME …`, then `{} FILE`",
                    prog(as_sops)
                )));
            }
            creation_flags(p, w, "edit", &mut argv)?;
        }
        if p.on("ignore-mac") {
            argv.push("--ignore-mac".into());
        }
        if p.on("show-master-keys") {
            argv.push("--show-master-keys".into());
        }
        common_flags(p, &mut argv);
        push_file(&mut argv, file);
    }
    t.argv = argv;
    Ok(Outcome::Run(t))
}

/// What `main` does next.
pub enum Hook {
    /// Parse these arguments (program name included) as usual.
    Args(Vec<OsString>),
    /// Exit now.
    Exit(ExitCode),
}

/// The real [`World`]: this process's environment and file system, and clap's definition.
struct Real<'a>(&'a clap::Command);

impl World for Real<'_> {
    fn var(&self, name: &str) -> Option<OsString> {
        std::env::var_os(name)
    }

    fn exists(&self, path: &Path) -> bool {
        match std::fs::metadata(path) {
            Ok(_) => true,
            Err(e) => e.kind() != std::io::ErrorKind::NotFound,
        }
    }

    fn accepts(&self, subcommand: &str, long: &str) -> bool {
        self.0
            .find_subcommand(subcommand)
            .is_some_and(|c| c.get_arguments().any(|a| a.get_long() == Some(long)))
    }

    fn is_subcommand(&self, word: &str) -> bool {
        word == "help" || self.0.find_subcommand(word).is_some()
    }
}

/// Called by `main` before clap: turns a classic command line into a subcommand one,
/// prints help, the version or an error, and runs the checks of a multi-mode line.
pub fn hook(args: Vec<OsString>, command: &clap::Command) -> Hook {
    let as_sops = args
        .first()
        .and_then(|a| Path::new(a).file_name())
        .is_some_and(|n| n == "sops");
    let rest = args.get(1..).unwrap_or(&[]);
    match translate(rest, as_sops, &Real(command)) {
        Ok(Outcome::Subcommand) => Hook::Args(args),
        Ok(Outcome::Print(text)) => {
            use std::io::Write;
            let _ = std::io::stdout().write_all(text.as_bytes());
            Hook::Exit(ExitCode::SUCCESS)
        }
        Ok(Outcome::Run(t)) => {
            for w in &t.warnings {
                eprintln!("sealbox: warning: {w}");
            }
            for c in &t.checks {
                if let Err(code) = run_check(c) {
                    return Hook::Exit(code);
                }
            }
            let mut argv = vec![args[0].clone()];
            argv.extend(t.argv);
            Hook::Args(argv)
        }
        Err(e) => {
            eprintln!("sealbox: {}", e.message);
            if let Some(h) = &e.hint {
                eprintln!("  hint: {h}");
            }
            Hook::Exit(ExitCode::from(e.code))
        }
    }
}

/// Runs a [`Check`] (this executable, output to a throw-away file in a private
/// directory); Err: the exit code that ends the command, its messages already printed.
fn run_check(c: &Check) -> Result<(), ExitCode> {
    let fail = |msg: String| {
        eprintln!("sealbox: {msg}");
        Err(ExitCode::from(code::GENERIC))
    };
    let exe = match std::env::current_exe() {
        Ok(e) => e,
        Err(e) => return fail(format!("cannot find this executable to run a check: {e}")),
    };
    let base = std::env::temp_dir();
    let dir = match sealbox_os::private::PrivateDir::new_in(&base) {
        Ok(d) => d,
        Err(e) => {
            return fail(format!(
                "cannot create a private directory in {}: {e}",
                base.display()
            ))
        }
    };
    let mut argv = c.argv.clone();
    argv.insert(1, "--output".into());
    argv.insert(2, dir.path().join("out").into_os_string());
    let out = match std::process::Command::new(exe)
        .args(&argv)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .output()
    {
        Ok(o) => o,
        Err(e) => return fail(format!("cannot run a check: {e}")),
    };
    let status = out.status.code().unwrap_or(1);
    let fatal = status != 0
        && match c.fatal {
            Fatal::Any => true,
            Fatal::Only(code) => status == i32::from(code),
        };
    if fatal {
        use std::io::Write;
        let _ = std::io::stderr().write_all(&out.stderr);
        return Err(ExitCode::from(
            u8::try_from(status).unwrap_or(code::GENERIC),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    /// A made-up world: some files exist, some variables are set, and the subcommands
    /// take the flags sealbox has today plus, when `pgp` is set, `--pgp`.
    struct Fake {
        files: Vec<&'static str>,
        env: HashMap<&'static str, &'static str>,
        pgp: bool,
    }

    impl Fake {
        fn new() -> Self {
            Fake {
                files: vec!["f.yaml", "enc.json", "-", "secrets"],
                env: HashMap::new(),
                pgp: false,
            }
        }
    }

    impl World for Fake {
        fn var(&self, name: &str) -> Option<OsString> {
            self.env.get(name).map(|v| OsString::from(*v))
        }
        fn exists(&self, path: &Path) -> bool {
            self.files.iter().any(|f| Path::new(f) == path)
        }
        fn accepts(&self, sub: &str, long: &str) -> bool {
            let _ = sub;
            long.contains("age") || (self.pgp && long.ends_with("pgp"))
        }
        fn is_subcommand(&self, word: &str) -> bool {
            [
                "decrypt", "encrypt", "edit", "set", "unset", "rotate", "keygen", "check", "help",
            ]
            .contains(&word)
        }
    }

    /// The words of a command line; `·` is a space inside a word.
    fn words(s: &str) -> Vec<OsString> {
        s.split_whitespace()
            .map(|w| OsString::from(w.replace('·', " ")))
            .collect()
    }

    fn run_in(w: &Fake, as_sops: bool, line: &str) -> Result<Outcome, ClassicError> {
        translate(&words(line), as_sops, w)
    }

    /// The sealbox line for a classic one (called as sops).
    fn to(line: &str) -> String {
        to_in(&Fake::new(), line)
    }

    fn to_in(w: &Fake, line: &str) -> String {
        match run_in(w, true, line) {
            Ok(Outcome::Run(t)) => t
                .argv
                .iter()
                .map(|a| a.to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join(" "),
            other => panic!("{line:?}: {other:?}"),
        }
    }

    fn err(line: &str) -> ClassicError {
        err_in(&Fake::new(), line)
    }

    fn err_in(w: &Fake, line: &str) -> ClassicError {
        match run_in(w, true, line) {
            Err(e) => e,
            other => panic!("{line:?} was not refused: {other:?}"),
        }
    }

    #[test]
    fn each_classic_mode_becomes_its_subcommand() {
        let table = [
            ("-d f.yaml", "decrypt -- f.yaml"),
            ("--decrypt f.yaml", "decrypt -- f.yaml"),
            ("-decrypt f.yaml", "decrypt -- f.yaml"),
            ("--d f.yaml", "decrypt -- f.yaml"),
            ("-d=true f.yaml", "decrypt -- f.yaml"),
            ("-e f.yaml", "encrypt -- f.yaml"),
            ("-e -i f.yaml", "encrypt --in-place -- f.yaml"),
            (
                "--encrypt --age age1x f.yaml",
                "encrypt --age age1x -- f.yaml",
            ),
            (
                "-e -a=age1x,age1y f.yaml",
                "encrypt --age age1x,age1y -- f.yaml",
            ),
            (
                "-d --extract [\"a\"] f.yaml",
                "decrypt --extract [\"a\"] -- f.yaml",
            ),
            (
                "--decrypt --output-type json f.yaml",
                "decrypt --output-type json -- f.yaml",
            ),
            ("-d --output out f.yaml", "decrypt --output out -- f.yaml"),
            ("-d --ignore-mac f.yaml", "decrypt --ignore-mac -- f.yaml"),
            (
                "-r -i --add-age age1x f.yaml",
                "rotate --in-place --add-age age1x -- f.yaml",
            ),
            (
                "-r --rm-age age1x f.yaml",
                "rotate --rm-age age1x -- f.yaml",
            ),
            ("-s f.yaml", "edit --show-master-keys -- f.yaml"),
            ("--ignore-mac f.yaml", "edit --ignore-mac -- f.yaml"),
            ("-- f.yaml", "edit -- f.yaml"),
            ("--indent 2 -d f.yaml", "decrypt --indent 2 -- f.yaml"),
            ("--indent=0x10 -d f.yaml", "decrypt --indent 16 -- f.yaml"),
            ("-d -", "decrypt -- ./-"),
            (
                "-e --encrypted-regex ^data$ --mac-only-encrypted f.yaml",
                "encrypt --encrypted-regex ^data$ --mac-only-encrypted -- f.yaml",
            ),
            (
                "-e --shamir-secret-sharing-threshold 2 f.yaml",
                "encrypt --shamir-secret-sharing-threshold 2 -- f.yaml",
            ),
            (
                "-e --shamir-secret-sharing-threshold 0 f.yaml",
                "encrypt -- f.yaml",
            ),
            (
                "--config c.yaml -e f.yaml",
                "encrypt --config c.yaml -- f.yaml",
            ),
            (
                "-d --verbose --disable-version-check f.yaml",
                "decrypt -- f.yaml",
            ),
            (
                "-d --decryption-order age,pgp f.yaml",
                "decrypt --decryption-order age,pgp -- f.yaml",
            ),
            (
                "-r --decryption-order= f.yaml",
                "rotate --decryption-order  -- f.yaml",
            ),
        ];
        for (classic, sealbox) in table {
            assert_eq!(to(classic), sealbox, "sops {classic}");
        }
    }

    #[test]
    fn set_splits_its_value_at_the_first_bracket_and_space() {
        let t = translate(
            &[
                OsString::from("--set"),
                OsString::from(r#"["a"]["b c"] {"x": "] y"}"#),
                OsString::from("f.yaml"),
            ],
            true,
            &Fake::new(),
        )
        .unwrap();
        let Outcome::Run(t) = t else { panic!() };
        assert_eq!(
            t.argv,
            ["set", "--", "f.yaml", r#"["a"]["b c"]"#, r#"{"x": "] y"}"#].map(OsString::from)
        );
        let e = translate(
            &[
                OsString::from("--set"),
                OsString::from(r#"["a"]"b""#),
                OsString::from("f.yaml"),
            ],
            true,
            &Fake::new(),
        )
        .unwrap_err();
        assert_eq!((e.code, e.message.as_str()), (7, "Invalid --set format"));
    }

    #[test]
    fn set_writes_in_place_and_ignores_output_as_sops_does() {
        let t = translate(
            &["--set", r#"["a"] 1"#, "--output", "o", "f.yaml"].map(OsString::from),
            true,
            &Fake::new(),
        )
        .unwrap();
        let Outcome::Run(t) = t else { panic!() };
        assert_eq!(
            t.argv,
            ["set", "--", "f.yaml", r#"["a"]"#, "1"].map(OsString::from)
        );
    }

    #[test]
    fn formats_follow_the_override_and_each_flag_as_in_sops() {
        // sops takes the output format from the name, not from --input-type.
        assert_eq!(
            to("-r --input-type json f.yaml"),
            "rotate --input-type json --output-type yaml -- f.yaml"
        );
        assert_eq!(
            to("-s --filename-override x.json f.yaml"),
            "edit --input-type json --output-type json --show-master-keys -- f.yaml"
        );
        assert_eq!(
            to("-d --filename-override x.json f.yaml"),
            "decrypt --filename-override x.json -- f.yaml"
        );
        assert_eq!(
            to("-r --output-type json f.yaml"),
            "rotate --output-type json -- f.yaml"
        );
    }

    #[test]
    fn several_modes_run_the_last_and_check_the_ones_that_can_fail() {
        let Ok(Outcome::Run(t)) = run_in(&Fake::new(), true, "-e -d --age age1x enc.json") else {
            panic!()
        };
        assert_eq!(t.argv, words("decrypt -- enc.json"));
        assert_eq!(
            t.checks,
            [Check {
                argv: words("encrypt --age age1x -- enc.json"),
                fatal: Fatal::Only(1)
            }]
        );
        assert!(
            t.warnings[0].starts_with("More than one command"),
            "{:?}",
            t.warnings
        );

        let Ok(Outcome::Run(t)) = run_in(&Fake::new(), true, "-r -i --set [\"a\"]·1 f.yaml")
        else {
            panic!()
        };
        assert_eq!(t.checks.len(), 1);
        assert_eq!(t.checks[0].fatal, Fatal::Any);
        assert_eq!(t.checks[0].argv[0], "rotate");
        // An earlier -d: its --extract path must parse before a --set, and it must succeed
        // before a rotate.
        let Ok(Outcome::Run(t)) = run_in(
            &Fake::new(),
            true,
            "-d --extract [\"a\"] --set [\"a\"]·1 f.yaml",
        ) else {
            panic!()
        };
        assert_eq!(t.argv[0], "set");
        assert_eq!(
            t.checks,
            [Check {
                argv: words("decrypt --extract [\"a\"] -- f.yaml"),
                fatal: Fatal::Only(91)
            }]
        );
        let Ok(Outcome::Run(t)) = run_in(&Fake::new(), true, "-d --set [\"a\"]·1 f.yaml") else {
            panic!()
        };
        assert!(t.checks.is_empty());
        let Ok(Outcome::Run(t)) = run_in(&Fake::new(), true, "-d -r f.yaml") else {
            panic!()
        };
        assert_eq!(t.argv[0], "rotate");
        assert_eq!(
            t.checks,
            [Check {
                argv: words("decrypt -- f.yaml"),
                fatal: Fatal::Any
            }]
        );
        // Same mode twice is one mode.
        let Ok(Outcome::Run(t)) = run_in(&Fake::new(), true, "-d -d f.yaml") else {
            panic!()
        };
        assert!(t.checks.is_empty() && t.warnings.is_empty());
    }

    #[test]
    fn usage_errors_exit_1_like_sops() {
        for (line, says) in [
            ("-di f.yaml", "flag provided but not defined: -di"),
            ("--unset x f.yaml", "flag provided but not defined: -unset"),
            // Not top-level flags in sops 3.11 either (only of its subcommands).
            (
                "--idempotent --set x f.yaml",
                "flag provided but not defined: -idempotent",
            ),
            ("--exec x f.yaml", "flag provided but not defined: -exec"),
            ("-V", "flag provided but not defined: -V"),
            ("-d --extract", "flag needs an argument: -extract"),
            (
                "--indent abc f.yaml",
                "invalid value \"abc\" for flag -indent: parse error",
            ),
            (
                "--decrypt=maybe f.yaml",
                "invalid boolean value \"maybe\" for -decrypt: parse error",
            ),
            (
                "-d --decrypt f.yaml",
                "Cannot use two forms of the same flag: d decrypt",
            ),
            ("---d f.yaml", "bad flag syntax: ---d"),
            ("-=x f.yaml", "bad flag syntax: -=x"),
        ] {
            let e = err(line);
            assert_eq!(e.code, 1, "{line}");
            assert!(e.message.contains(says), "{line}: {}", e.message);
        }
    }

    #[test]
    fn sops_exit_codes_for_bad_combinations() {
        assert_eq!(err("-d").code, 100);
        assert_eq!(err("--config c.yaml").code, 100);
        assert_eq!(err("-d nope.yaml").code, 100);
        assert_eq!(err("-e nope.yaml").code, 100);
        assert_eq!(err("-i --output o -d nope.yaml").code, 8);
        assert_eq!(err("-r --add-age age1x nope.yaml").code, 49);
        assert_eq!(err("--rm-kms arn nope.yaml").code, 49);
        assert_eq!(err("-d --decryption-order age,age f.yaml").code, 112);
        // A missing file is fine for edit and set (edit creates it; set fails reading it).
        assert_eq!(
            to("-s nope.yaml --x"),
            "edit --show-master-keys -- nope.yaml"
        );
        assert_eq!(
            to("--set [\"a\"]·1 nope.yaml"),
            "set -- nope.yaml [\"a\"] 1"
        );
    }

    #[test]
    fn flags_after_the_file_are_ignored_with_sops_warning() {
        // `sops f.yaml -d` edits f.yaml, as in sops, saying that -d was ignored…
        let Ok(Outcome::Run(t)) = run_in(&Fake::new(), true, "f.yaml -d") else {
            panic!()
        };
        assert_eq!(t.argv, words("edit -- f.yaml"));
        assert!(t.warnings[1].contains("\"-d\", which looks like a flag"));
        // …but a missing file, a command or a lone word is left to `firstword`, and so is
        // the line under the name sealbox (its `edit` takes flags after FILE).
        for line in ["nope.yaml -d", "decrpyt f.yaml", "f.yaml", "keygen -o k"] {
            assert_eq!(
                run_in(&Fake::new(), true, line),
                Ok(Outcome::Subcommand),
                "{line}"
            );
        }
        assert_eq!(
            run_in(&Fake::new(), false, "f.yaml -d"),
            Ok(Outcome::Subcommand)
        );
        let Ok(Outcome::Run(t)) = run_in(&Fake::new(), true, "-s f.yaml -d") else {
            panic!()
        };
        assert_eq!(t.argv, words("edit --show-master-keys -- f.yaml"));
        assert_eq!(t.warnings.len(), 2);
        assert!(t.warnings[1].contains("\"-d\", which looks like a flag"));
    }

    #[test]
    fn unsupported_key_sources_are_refused_by_name() {
        let e = err("-e --kms arn:aws:kms:x f.yaml");
        assert_eq!(e.code, 1);
        assert!(
            e.message.contains("AWS KMS keys are not supported"),
            "{}",
            e.message
        );
        let e = err("-e -k arn f.yaml");
        assert!(e.message.starts_with("--kms/-k"), "{}", e.message);
        let e = err("-r --add-azure-kv https://v f.yaml");
        assert!(e.message.contains("Azure Key Vault"), "{}", e.message);
        // In a mode that does not use them, sops ignores them, and so do we.
        assert_eq!(to("-d --kms arn f.yaml"), "decrypt -- f.yaml");
        // The environment variable counts when encrypting.
        let mut w = Fake::new();
        w.env.insert("SOPS_GCP_KMS_IDS", "projects/x");
        let e = err_in(&w, "-e f.yaml");
        assert!(e.message.starts_with("SOPS_GCP_KMS_IDS"), "{}", e.message);
        assert!(e.hint.unwrap().contains("unset SOPS_GCP_KMS_IDS"));
    }

    #[test]
    fn pgp_and_vault_go_through_once_the_subcommand_takes_them() {
        let e = err("-e --pgp FP f.yaml");
        assert!(e.message.contains("not supported yet"), "{}", e.message);
        let e = err("-r --add-hc-vault-transit https://v/v1/transit/keys/k f.yaml");
        assert!(
            e.message.contains("--add-hc-vault-transit"),
            "{}",
            e.message
        );
        let mut w = Fake::new();
        w.pgp = true;
        assert_eq!(to_in(&w, "-e -p FP f.yaml"), "encrypt --pgp FP -- f.yaml");
        assert_eq!(
            to_in(&w, "-r --rm-pgp FP f.yaml"),
            "rotate --rm-pgp FP -- f.yaml"
        );
    }

    #[test]
    fn an_empty_flag_still_overrides_its_environment_variable() {
        let mut w = Fake::new();
        w.env.insert("SOPS_AGE_RECIPIENTS", "age1env");
        assert_eq!(to_in(&w, "-e --age= f.yaml"), "encrypt --age  -- f.yaml");
        assert_eq!(to_in(&w, "-e f.yaml"), "encrypt --age age1env -- f.yaml");
    }

    #[test]
    fn key_services_are_refused_and_bad_booleans_in_the_environment_fail() {
        assert!(err("--keyservice tcp://x:5000 -d f.yaml")
            .message
            .contains("key services"));
        assert!(err("--enable-local-keyservice=false -d f.yaml")
            .message
            .contains("enable-local-keyservice"));
        assert_eq!(
            to("--enable-local-keyservice -d f.yaml"),
            "decrypt -- f.yaml"
        );
        let mut w = Fake::new();
        w.env.insert("SOPS_DISABLE_VERSION_CHECK", "yes");
        let e = err_in(&w, "-d f.yaml");
        assert_eq!(e.code, 1);
        assert!(
            e.message.contains("could not parse yes as bool value"),
            "{}",
            e.message
        );
        w.env.insert("SOPS_DISABLE_VERSION_CHECK", "");
        assert_eq!(to_in(&w, "-d f.yaml"), "decrypt -- f.yaml");
    }

    #[test]
    fn subcommand_lines_and_bare_files_are_left_to_clap() {
        let w = Fake::new();
        for line in [
            "decrypt f.yaml",
            "f.yaml",
            "decrpyt",
            "--config c.yaml decrypt f.yaml",
            "check",
            "",
        ] {
            assert_eq!(
                run_in(&w, false, line),
                Ok(Outcome::Subcommand),
                "sealbox {line}"
            );
        }
        for line in [
            "decrypt f.yaml",
            "f.yaml",
            "--config c.yaml decrypt f.yaml",
            "keygen",
        ] {
            assert_eq!(
                run_in(&w, true, line),
                Ok(Outcome::Subcommand),
                "sops {line}"
            );
        }
        // sealbox's own flags stay clap's when called as sealbox…
        for line in ["-h", "--help", "-V", "--version", "--version x"] {
            assert_eq!(
                run_in(&w, false, line),
                Ok(Outcome::Subcommand),
                "sealbox {line}"
            );
        }
        // …and the classic form works under that name too.
        assert_eq!(
            run_in(&w, false, "-d f.yaml"),
            Ok(Outcome::Run(Translation {
                argv: words("decrypt -- f.yaml"),
                ..Default::default()
            }))
        );
    }

    #[test]
    fn a_sops_command_after_the_flags_runs_with_its_own_arguments() {
        assert_eq!(to("-d decrypt f.yaml"), "decrypt f.yaml");
        assert_eq!(
            to("--config c.yaml -e decrypt --extract x f.yaml"),
            "--config c.yaml decrypt --extract x f.yaml"
        );
        assert_eq!(to("-d help decrypt"), "decrypt --help");
    }

    #[test]
    fn sops_commands_sealbox_lacks_name_what_to_use() {
        for (line, says) in [
            ("groups add f.yaml", "sealbox updatekeys"),
            ("publish f.yaml", "updatekeys"),
            ("keyservice", "sealbox where the keys are"),
            ("-d completion bash", "sealbox completions"),
            ("-d groups", "sealbox updatekeys"),
        ] {
            let e = err(line);
            assert_eq!(e.code, 1);
            assert!(
                e.message.contains("is not supported"),
                "{line}: {}",
                e.message
            );
            assert!(
                e.hint.as_deref().unwrap_or("").contains(says),
                "{line}: {e:?}"
            );
        }
    }

    #[test]
    fn version_keeps_sops_shape_and_names_sealbox() {
        let v = format!(
            "sops {WRITER_VERSION} (sealbox {})\n",
            env!("CARGO_PKG_VERSION")
        );
        for line in [
            "-v",
            "--version",
            "-version",
            "-d -v f.yaml",
            "--version f.yaml",
        ] {
            assert_eq!(
                run_in(&Fake::new(), true, line),
                Ok(Outcome::Print(v.clone())),
                "{line}"
            );
        }
        // The word scripts take: `sops --version | head -1 | awk '{print $2}'`.
        assert_eq!(v.split_whitespace().nth(1), Some(WRITER_VERSION));
        assert_eq!(
            run_in(&Fake::new(), false, "-v"),
            Ok(Outcome::Print(format!(
                "sealbox {}\n",
                env!("CARGO_PKG_VERSION")
            )))
        );
        assert_eq!(
            run_in(&Fake::new(), true, "-v=false -d f.yaml"),
            Ok(Outcome::Run(Translation {
                argv: words("decrypt -- f.yaml"),
                ..Default::default()
            }))
        );
    }

    #[test]
    fn help_lists_every_sops_flag() {
        for line in ["--help", "-h", "-d -h f.yaml", "help", "h"] {
            let Ok(Outcome::Print(h)) = run_in(&Fake::new(), true, line) else {
                panic!("{line}")
            };
            for f in FLAGS {
                assert!(
                    h.contains(&format!("--{} ", f.names[0]))
                        || h.contains(&format!("--{},", f.names[0])),
                    "{line}: {}",
                    f.names[0]
                );
            }
        }
    }

    #[test]
    fn go_number_and_boolean_syntax() {
        assert_eq!(go_int("12"), Ok(12));
        assert_eq!(go_int("-3"), Ok(-3));
        assert_eq!(go_int("0x1f"), Ok(31));
        assert_eq!(go_int("010"), Ok(8));
        assert_eq!(go_int("0b1_0"), Ok(2));
        assert_eq!(go_int("1_0"), Err("parse error"));
        assert_eq!(go_int(""), Err("parse error"));
        assert_eq!(go_int("99999999999999999999"), Err("value out of range"));
        assert_eq!(go_bool("T"), Some(true));
        assert_eq!(go_bool("yes"), None);
    }

    #[test]
    fn every_flag_name_is_unique_and_looked_up() {
        let mut seen = std::collections::HashSet::new();
        for f in FLAGS {
            for n in f.names {
                assert!(seen.insert(*n), "{n} twice");
                assert_eq!(FLAGS[index(n)].names, f.names);
            }
        }
        for k in KEY_FLAGS {
            index(k.sops);
            index(&format!("add-{}", k.sops));
            index(&format!("rm-{}", k.sops));
        }
    }
}
