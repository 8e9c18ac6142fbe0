//! `sealbox ssh-to-age`, and sealbox started through a link named `ssh-to-age`: Mic92's
//! ssh-to-age as its users call it (sops-nix's README: `ssh-keyscan host | ssh-to-age`,
//! `ssh-to-age -private-key -i ~/.ssh/id_ed25519 > keys.txt`).
//!
//! Its command line is Go's `flag` package: `-i FILE`, `-o FILE`, `-private-key`,
//! `-stdinpass`, `-version` (one dash or two, `-flag=value`), parsing stops at the first
//! word that is not a flag, `-h` prints the usage, a flag error exits 2. Messages are
//! `PROGRAM: MESSAGE` (`PROGRAM` is `argv[0]` as started, `sealbox ssh-to-age` for the
//! subcommand), exit 1. Input lines are read as the tool reads them (see
//! `sealbox_keys::age::convert_public_line`): ed25519 keys convert, other key types are
//! skipped with a warning, a line that does not parse ends the run.
//!
//! Where sealbox differs on purpose (tests/vectors/ssh-to-age/README.md lists the cases):
//! an error about a private key never quotes the key (the tool prints the whole input,
//! encrypted or not); `-o` creates missing directories (0700) and is written atomically at
//! the end, 0600 for a private key, so a failure leaves no partial or empty file.

use crate::files::{write_atomic, ENCRYPTED_MODE, PLAINTEXT_MODE};
use sealbox_keys::age::{convert_private, convert_public_line, Converted};
use std::ffi::{OsStr, OsString};
use std::io::{Read, Write};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::Path;
use std::process::ExitCode;
use zeroize::Zeroizing;

/// Go's flag usage for the tool's flags (`PrintDefaults`, sorted by name).
const DEFAULTS: &str = "  -i string
    \tInput path. Reads by default from standard input (default \"-\")
  -o string
    \tOutput path. Prints by default to standard output (default \"-\")
  -private-key
    \tconvert private key instead of public key
  -stdinpass
    \tread private key passphrase from standard input
  -version
    \tshow version and exit
";

/// The parsed flags.
struct Options {
    input: OsString,
    output: OsString,
    private_key: bool,
    stdin_pass: bool,
    version: bool,
}

/// How parsing ended without options.
enum Stop {
    /// `-h`/`-help`: the usage, exit 0.
    Help,
    /// A flag error: the message, the usage, exit 2.
    Error(String),
}

/// Go's `strconv.ParseBool`.
fn go_bool(v: &str) -> Option<bool> {
    match v {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// Go's `flag.FlagSet.Parse` over the tool's flags.
fn parse(args: &[OsString]) -> Result<Options, Stop> {
    let mut o = Options {
        input: "-".into(),
        output: "-".into(),
        private_key: false,
        stdin_pass: false,
        version: false,
    };
    let mut i = 0;
    while i < args.len() {
        let s = args[i].as_bytes();
        if s.len() < 2 || s[0] != b'-' {
            break;
        }
        let dashes = if s[1] == b'-' {
            if s.len() == 2 {
                break; // "--" ends the flags
            }
            2
        } else {
            1
        };
        let name_value = &s[dashes..];
        if name_value.is_empty() || name_value[0] == b'-' || name_value[0] == b'=' {
            return Err(Stop::Error(format!(
                "bad flag syntax: {}",
                String::from_utf8_lossy(s)
            )));
        }
        i += 1;
        let (name, value) = match name_value.iter().position(|&c| c == b'=') {
            Some(eq) => (&name_value[..eq], Some(&name_value[eq + 1..])),
            None => (name_value, None),
        };
        let name = String::from_utf8_lossy(name).into_owned();
        let boolean = |value: Option<&[u8]>| -> Result<bool, Stop> {
            match value {
                None => Ok(true),
                Some(v) => go_bool(&String::from_utf8_lossy(v)).ok_or_else(|| {
                    Stop::Error(format!(
                        "invalid boolean value {:?} for -{name}: parse error",
                        String::from_utf8_lossy(v)
                    ))
                }),
            }
        };
        match name.as_str() {
            "private-key" => o.private_key = boolean(value)?,
            "stdinpass" => o.stdin_pass = boolean(value)?,
            "version" => o.version = boolean(value)?,
            "i" | "o" => {
                let v: OsString = match value {
                    Some(v) => OsStr::from_bytes(v).to_os_string(),
                    None if i < args.len() => {
                        i += 1;
                        args[i - 1].clone()
                    }
                    None => return Err(Stop::Error(format!("flag needs an argument: -{name}"))),
                };
                if name == "i" {
                    o.input = v;
                } else {
                    o.output = v;
                }
            }
            "h" | "help" => return Err(Stop::Help),
            _ => {
                return Err(Stop::Error(format!(
                    "flag provided but not defined: -{name}"
                )))
            }
        }
    }
    Ok(o)
}

/// Go's text for an OS error: the C library's, starting lower-case.
fn go_errno(e: &std::io::Error) -> String {
    match e.raw_os_error() {
        Some(n) => {
            let s = nix::errno::Errno::from_raw(n).desc();
            let mut c = s.chars();
            match c.next() {
                Some(f) => f.to_lowercase().chain(c).collect(),
                None => String::new(),
            }
        }
        None => e.to_string(),
    }
}

/// What the run ended with: `PROGRAM: MESSAGE` (raw bytes: a quoted input line is printed
/// as it was).
struct Failure(Vec<u8>);

fn fail(msg: impl Into<Vec<u8>>) -> Failure {
    Failure(msg.into())
}

fn read_all(input: &OsStr) -> Result<Zeroizing<Vec<u8>>, Failure> {
    let mut buf = Zeroizing::new(Vec::new());
    if input == "-" {
        std::io::stdin().read_to_end(&mut buf).map_err(|e| {
            fail(format!(
                "error reading stdin: read /dev/stdin: {}",
                go_errno(&e)
            ))
        })?;
        return Ok(buf);
    }
    let shown = input.to_string_lossy();
    let mut f = std::fs::File::open(input).map_err(|e| {
        fail(format!(
            "error reading {shown}: open {shown}: {}",
            go_errno(&e)
        ))
    })?;
    f.read_to_end(&mut buf).map_err(|e| {
        fail(format!(
            "error reading {shown}: read {shown}: {}",
            go_errno(&e)
        ))
    })?;
    Ok(buf)
}

/// The conversion; what goes to stdout is written as it is made (as the tool does), what
/// goes to `-o` is written at the end.
fn convert(o: &Options) -> Result<(), Failure> {
    let input = read_all(&o.input)?;
    let to_file = o.output != "-";
    let mut out = Zeroizing::new(Vec::new());
    let mut emit = |line: &[u8]| -> Result<(), Failure> {
        if to_file {
            out.extend_from_slice(line);
            out.push(b'\n');
            return Ok(());
        }
        let mut so = std::io::stdout().lock();
        so.write_all(line)
            .and_then(|()| so.write_all(b"\n"))
            .and_then(|()| so.flush())
            .map_err(|e| {
                fail(format!(
                    "failed to write key: write /dev/stdout: {}",
                    go_errno(&e)
                ))
            })
    };
    if o.private_key {
        let mut pass = Zeroizing::new(
            std::env::var_os("SSH_TO_AGE_PASSPHRASE")
                .map(OsString::into_vec)
                .unwrap_or_default(),
        );
        if o.stdin_pass {
            if o.input == "-" {
                return Err(fail(
                    "cannot read both private key and passphrase from stdin",
                ));
            }
            let mut p = Zeroizing::new(Vec::new());
            std::io::stdin().read_to_end(&mut p).map_err(|e| {
                fail(format!(
                    "error reading passphrase from stdin: {}",
                    go_errno(&e)
                ))
            })?;
            while p.last().is_some_and(|&c| c == b'\r' || c == b'\n') {
                p.pop();
            }
            pass = p;
        }
        // Deliberately unlike the tool: the key is named, never quoted.
        let key = convert_private(&input, &pass).map_err(|e| {
            let from = if o.input == "-" {
                "on stdin".to_string()
            } else {
                format!("in '{}'", o.input.to_string_lossy())
            };
            fail(format!("failed to convert the private key {from}: {e}"))
        })?;
        emit(key.as_bytes())?;
    } else {
        for line in input.split(|&c| c == b'\n') {
            if line.is_empty() || line[0] == b'#' {
                continue;
            }
            match convert_public_line(line) {
                Ok(Converted::Recipient(r)) => emit(r.as_bytes())?,
                Ok(Converted::Skipped(t)) => {
                    eprintln!("skipped key: got {t} key type, but only ed25519 keys are supported")
                }
                Err(e) => {
                    let mut m = b"failed to convert '".to_vec();
                    m.extend_from_slice(line);
                    m.extend_from_slice(format!("': {e}").as_bytes());
                    return Err(Failure(m));
                }
            }
        }
    }
    if to_file {
        let path = Path::new(&o.output);
        let shown = path.display();
        let mode = if o.private_key {
            PLAINTEXT_MODE
        } else {
            ENCRYPTED_MODE
        };
        crate::keyfile::make_parent_dirs(path)
            .and_then(|()| write_atomic(path, &out, mode))
            .map_err(|e| {
                let e = crate::keyfile::write_hint(path, e);
                fail(format!("failed to create {shown}: {e}"))
            })?;
    }
    Ok(())
}

/// Runs the tool: `program` is what messages start with, `args` what follows it.
pub fn run(program: &OsStr, args: &[OsString]) -> ExitCode {
    let usage = || {
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "Usage of {}:\n{DEFAULTS}", program.to_string_lossy());
    };
    let o = match parse(args) {
        Ok(o) => o,
        Err(Stop::Help) => {
            usage();
            return ExitCode::SUCCESS;
        }
        Err(Stop::Error(m)) => {
            eprintln!("{m}");
            usage();
            return ExitCode::from(2);
        }
    };
    if o.version {
        println!("{}", env!("CARGO_PKG_VERSION"));
        return ExitCode::SUCCESS;
    }
    match convert(&o) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure(m)) => {
            let mut err = std::io::stderr().lock();
            let _ = err.write_all(program.as_bytes());
            let _ = err.write_all(b": ");
            let _ = err.write_all(&m);
            let _ = err.write_all(b"\n");
            ExitCode::from(1)
        }
    }
}

/// Whether sealbox was started through a link named `ssh-to-age`.
pub fn invoked_as_ssh_to_age(argv0: &OsStr) -> bool {
    Path::new(argv0).file_name() == Some(OsStr::new("ssh-to-age"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(args: &[&str]) -> Result<Options, Stop> {
        parse(&args.iter().map(OsString::from).collect::<Vec<_>>())
    }

    #[test]
    fn flags_parse_as_go_s_flag_package_does() {
        let o = p(&["--i", "k.pub", "-o=out", "-private-key=false", "-stdinpass"])
            .ok()
            .unwrap();
        assert_eq!(o.input, "k.pub");
        assert_eq!(o.output, "out");
        assert!(!o.private_key && o.stdin_pass);
        // Parsing stops at the first non-flag and at "--".
        assert_eq!(p(&["k.pub", "-i", "x"]).ok().unwrap().input, "-");
        assert_eq!(p(&["--", "-i", "x"]).ok().unwrap().input, "-");
        // A value may start with a dash.
        assert_eq!(p(&["-i", "-o"]).ok().unwrap().input, "-o");
        for (args, msg) in [
            (&["-x"][..], "flag provided but not defined: -x"),
            (&["-i"], "flag needs an argument: -i"),
            (&["---i"], "bad flag syntax: ---i"),
            (
                &["-version=maybe"],
                "invalid boolean value \"maybe\" for -version: parse error",
            ),
        ] {
            match p(args) {
                Err(Stop::Error(m)) => assert_eq!(m, msg),
                _ => panic!("{args:?}"),
            }
        }
        assert!(matches!(p(&["-help"]), Err(Stop::Help)));
        assert!(matches!(p(&["--h"]), Err(Stop::Help)));
    }

    #[test]
    fn the_link_name_is_what_counts() {
        assert!(invoked_as_ssh_to_age(OsStr::new("/usr/bin/ssh-to-age")));
        assert!(invoked_as_ssh_to_age(OsStr::new("ssh-to-age")));
        assert!(!invoked_as_ssh_to_age(OsStr::new("sealbox")));
    }
}
