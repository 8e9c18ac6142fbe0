//! sealbox as a drop-in for the sops command line: with a `sops -> sealbox` symlink first
//! on PATH, each classic form (`sops -d f`, `sops -e -i f`, `sops --set '…' f`, …) behaves
//! as the real sops 3.11 does on the same inputs: the same exit code, the same output where
//! it is deterministic, and encryptions each tool decrypts for the other (README "Switching
//! from sops", cli/src/classic.rs). Where sops prints one of the fixed messages scripts
//! match on ([`SOPS_LINES`]), sealbox prints it too.

use sealbox_tests::{Identity, Keys, Out, Peers, Sandbox};
use std::path::{Path, PathBuf};

/// The plaintext fixtures, one per format.
const PLAIN: &[(&str, &[u8])] = &[
    (
        "p.yaml",
        b"a: b\ndb:\n    password: hunter2\n    user: admin\nlist:\n    - 1\n    - two\nn: 3.5\ntoken_pub: visible\n",
    ),
    (
        "p.json",
        b"{\"a\": \"b\", \"db\": {\"password\": \"hunter2\"}, \"list\": [1, \"two\"], \"n\": 3.5}\n",
    ),
    ("p.env", b"A=b\nDB_PASSWORD=hunter2\n"),
    ("p.ini", b"[db]\npassword = hunter2\nuser = admin\n"),
    ("p.bin", b"some bytes\n\x00\x01\xff\n"),
];

/// The fixed parts of sops' messages that scripts and tests match on. Whenever sops' stderr
/// holds one, sealbox's must hold it too (each case of [`CASES`] checks all of them).
const SOPS_LINES: &[&str] = &[
    "sops metadata not found",
    "MAC mismatch",
    "Cannot decrypt MAC",
    "Failed to get the data key required to decrypt the SOPS file",
    "Could not generate data key: [empty key group provided]",
    "error loading config: no matching creation rules found",
    "config file not found, or has no creation rules, and no keys provided through command line options",
    // sops wraps this one; its first line:
    "The file you have provided contains a top-level entry called 'sops', or for",
    "File cannot be completely empty, it must contain at least one document",
    "Error: no file specified",
    "Error: cannot operate on non-existent file",
    "cannot operate on both --output and --in-place",
    "cannot add or remove keys on non-existent file",
    "Invalid --set format",
    "Value for --set is not valid JSON",
    "error parsing --extract path",
    "error truncating tree",
    "Duplicate decryption key type",
    "YAML Negative indentation not accepted",
    "JSON Indentation parameter smaller than -1 is not accepted",
    "File has not changed, exiting.",
    "cannot check file status",
    "flag provided but not defined: ",
    "Cannot use two forms of the same flag",
    "flag needs an argument: ",
    "More than one command (--encrypt, --decrypt, --rotate, --set) has been specified",
    "More than one positional argument provided. Only the first one will be used!",
];

/// What to compare between the two runs (the exit code always).
#[derive(Clone, Copy, Debug)]
enum Cmp {
    /// Only the exit code (messages and usage text differ by design).
    Code,
    /// The exit code and stdout, byte for byte.
    Stdout,
    /// The exit code and this file's bytes afterwards.
    File(&'static str),
    /// Ciphertext on stdout (of this format): each tool's output decrypted by the other
    /// tool, with this identity, gives the same plaintext.
    CipherOut(&'static str, Who),
    /// The same, for a file written by the command.
    CipherFile(&'static str, &'static str, Who),
    /// The editor's view (an editor script copies it to $SHOWN), byte for byte.
    Shown,
    /// `--version`: the first line starts `sops X.Y.Z` with sops' X.Y.Z.
    Version,
}

/// Which identity decrypts a result.
#[derive(Clone, Copy, Debug)]
enum Who {
    Age1,
    Age2,
}

struct Case {
    name: &'static str,
    /// Arguments after `sops`; `{R1}`, `{R2}` are the test's age recipients.
    args: &'static [&'static str],
    /// Extra environment (`{EDIT}`: the editing script, `{SHOW}`: the copying script).
    env: &'static [(&'static str, &'static str)],
    /// Decrypt with this identity (SOPS_AGE_KEY_FILE).
    key: Who,
    cmp: Cmp,
}

const fn case(name: &'static str, args: &'static [&'static str], cmp: Cmp) -> Case {
    Case {
        name,
        args,
        env: &[],
        key: Who::Age1,
        cmp,
    }
}

use Cmp::*;
use Who::*;

#[rustfmt::skip]
const CASES: &[Case] = &[
    // Decrypt, every format.
    case("-d yaml", &["-d", "e.yaml"], Stdout),
    case("-d json", &["-d", "e.json"], Stdout),
    case("-d dotenv", &["-d", "e.env"], Stdout),
    case("-d ini", &["-d", "e.ini"], Stdout),
    case("-d binary", &["-d", "e.bin"], Stdout),
    case("--decrypt --output-type json", &["--decrypt", "--output-type", "json", "e.yaml"], Stdout),
    case("-d --input-type/--output-type", &["-d", "--input-type", "json", "--output-type", "yaml", "e.json"], Stdout),
    case("-d --extract a leaf", &["-d", "--extract", "[\"db\"][\"password\"]", "e.yaml"], Stdout),
    case("-d --extract a branch", &["-d", "--extract", "[\"db\"]", "e.yaml"], Stdout),
    case("-d --extract a list item", &["-d", "--extract", "[\"list\"][1]", "e.json"], Stdout),
    case("-d --extract a missing key", &["-d", "--extract", "[\"nope\"]", "e.yaml"], Code),
    case("-d --extract a bad path", &["-d", "--extract", "db", "e.yaml"], Code),
    case("-d --output", &["-d", "--output", "out.yaml", "e.yaml"], File("out.yaml")),
    case("-d -i", &["-d", "-i", "e.yaml"], File("e.yaml")),
    case("-d --indent 2", &["-d", "--indent", "2", "--output-type", "json", "e.yaml"], Stdout),
    case("-d --indent=-1 (tabs)", &["-d", "--indent=-1", "--output-type", "json", "e.yaml"], Stdout),
    case("-d --filename-override", &["-d", "--filename-override", "x.json", "e.json"], Stdout),
    case("-decrypt (one dash)", &["-decrypt", "e.yaml"], Stdout),
    case("--d (two dashes)", &["--d", "e.yaml"], Stdout),
    case("-d=true", &["-d=true", "e.yaml"], Stdout),
    case("-d -- FILE", &["-d", "--", "e.yaml"], Stdout),
    case("-d FILE extra words", &["-d", "e.yaml", "p.yaml", "-i"], Stdout),
    case("-d -d", &["-d", "-d", "e.yaml"], Stdout),
    case("-d --decryption-order", &["-d", "--decryption-order", "age,pgp", "e.yaml"], Stdout),
    case("-d --verbose --disable-version-check", &["-d", "--verbose", "--disable-version-check", "e.yaml"], Stdout),
    case("-d a plaintext file", &["-d", "p.yaml"], Code),
    case("-d a tampered value (MAC mismatch)", &["-d", "tampered.yaml"], Code),
    case("-d a tampered MAC", &["-d", "badmac.yaml"], Code),
    case("-d --ignore-mac a tampered value", &["-d", "--ignore-mac", "tampered.yaml"], Stdout),
    case("-d --indent=-1 to YAML", &["-d", "--indent=-1", "e.yaml"], Code),
    case("-d --indent=-1 to dotenv", &["-d", "--indent=-1", "--output-type", "dotenv", "e.yaml"], Stdout),
    case("-d --indent=-2 to JSON", &["-d", "--indent=-2", "--output-type", "json", "e.yaml"], Code),
    case("-d --decryption-order pgp,age", &["-d", "--decryption-order", "pgp,age", "e.yaml"], Stdout),
    case("-d --decryption-order with unknown types", &["-d", "--decryption-order", "kms,age,nope", "e.yaml"], Stdout),
    Case { name: "-d SOPS_DECRYPTION_ORDER repeated", args: &["-d", "e.yaml"], env: &[("SOPS_DECRYPTION_ORDER", "pgp,pgp")], key: Age1, cmp: Code },
    Case { name: "decrypt SOPS_DECRYPTION_ORDER repeated", args: &["decrypt", "e.yaml"], env: &[("SOPS_DECRYPTION_ORDER", "age,age")], key: Age1, cmp: Code },
    Case { name: "-d with the wrong key", args: &["-d", "e.yaml"], env: &[], key: Age2, cmp: Code },
    // Encrypt, every format.
    case("--encrypt --age yaml", &["--encrypt", "--age", "{R1}", "p.yaml"], CipherOut("yaml", Age1)),
    case("-e -a json", &["-e", "-a", "{R1}", "p.json"], CipherOut("json", Age1)),
    case("-e dotenv", &["-e", "--age", "{R1}", "p.env"], CipherOut("dotenv", Age1)),
    case("-e ini", &["-e", "--age", "{R1}", "p.ini"], CipherOut("ini", Age1)),
    case("-e binary", &["-e", "--age", "{R1}", "p.bin"], CipherOut("binary", Age1)),
    case("-e -i", &["-e", "-i", "--age", "{R1}", "p.yaml"], CipherFile("p.yaml", "yaml", Age1)),
    case("-e --output --output-type", &["-e", "--age", "{R1}", "--output", "o.json", "--output-type", "json", "p.yaml"], CipherFile("o.json", "json", Age1)),
    case("-e two recipients", &["-e", "--age", "{R1},{R2}", "p.yaml"], CipherOut("yaml", Age2)),
    case("-e --encrypted-regex --mac-only-encrypted", &["-e", "--age", "{R1}", "--encrypted-regex", "^db$", "--mac-only-encrypted", "p.yaml"], CipherOut("yaml", Age1)),
    case("-e --unencrypted-suffix", &["-e", "--age", "{R1}", "--unencrypted-suffix", "_pub", "p.yaml"], CipherOut("yaml", Age1)),
    Case { name: "-e recipients from SOPS_AGE_RECIPIENTS", args: &["-e", "p.yaml"], env: &[("SOPS_AGE_RECIPIENTS", "{R2}")], key: Age2, cmp: CipherOut("yaml", Age2) },
    case("-e -i with --config", &["--config", "c.yaml", "-e", "-i", "p.yaml"], CipherFile("p.yaml", "yaml", Age2)),
    Case { name: "-e -i with SOPS_CONFIG", args: &["-e", "-i", "p.json"], env: &[("SOPS_CONFIG", "c.yaml")], key: Age2, cmp: CipherFile("p.json", "json", Age2) },
    case("-e --config with no matching rule", &["--config", "c.yaml", "-e", "p.env"], Code),
    case("-e without keys", &["-e", "p.yaml"], Code),
    case("-e an encrypted file", &["-e", "--age", "{R1}", "e.yaml"], Code),
    case("-e a missing file", &["-e", "--age", "{R1}", "nope.yaml"], Code),
    case("-e an empty file", &["-e", "--age", "{R1}", "empty.yaml"], Code),
    case("-e an empty key group", &["--config", "c-empty.yaml", "-e", "p.yaml"], Code),
    case("encrypt a missing file", &["encrypt", "--age", "{R1}", "nope.yaml"], Code),
    case("-e --indent=-1 to YAML", &["-e", "--indent=-1", "--age", "{R1}", "p.yaml"], Code),
    // Rotate.
    case("-r", &["-r", "e.yaml"], CipherOut("yaml", Age1)),
    case("-r -i --add-age", &["-r", "-i", "--add-age", "{R2}", "e.yaml"], CipherFile("e.yaml", "yaml", Age2)),
    case("-r -i --rm-age --add-age", &["-r", "-i", "--rm-age", "{R1}", "--add-age", "{R2}", "e.json"], CipherFile("e.json", "json", Age2)),
    case("-r --output", &["-r", "--output", "r.yaml", "e.yaml"], CipherFile("r.yaml", "yaml", Age1)),
    case("-r --add-age on a missing file", &["-r", "--add-age", "{R2}", "nope.yaml"], Code),
    case("-r removing the last key", &["-r", "--rm-age", "{R1}", "e.yaml"], Code),
    case("-r --ignore-mac a tampered value", &["-r", "--ignore-mac", "tampered.yaml"], CipherOut("yaml", Age1)),
    case("rotate a missing file", &["rotate", "nope.yaml"], Code),
    // Set.
    case("--set a string", &["--set", "[\"a\"] \"new\"", "e.yaml"], CipherFile("e.yaml", "yaml", Age1)),
    case("-i --set a JSON object", &["-i", "--set", "[\"db\"][\"password\"] {\"x\": [1, true]}", "e.yaml"], CipherFile("e.yaml", "yaml", Age1)),
    case("--set in JSON", &["--set", "[\"list\"][0] 42", "e.json"], CipherFile("e.json", "json", Age1)),
    case("--set ignores --output", &["--set", "[\"a\"] \"o\"", "--output", "o.yaml", "e.yaml"], CipherFile("e.yaml", "yaml", Age1)),
    case("--set without a value", &["--set", "[\"a\"]\"x\"", "e.yaml"], Code),
    case("--set a value that is not JSON", &["--set", "[\"a\"] x y", "e.yaml"], Code),
    case("--set on a missing file", &["--set", "[\"a\"] 1", "nope.yaml"], Code),
    case("set on a missing file", &["set", "nope.yaml", "[\"a\"]", "1"], Code),
    case("unset on a missing file", &["unset", "nope.yaml", "[\"a\"]"], Code),
    // Edit.
    Case { name: "FILE (edit)", args: &["e.yaml"], env: &[("EDITOR", "{EDIT}")], key: Age1, cmp: CipherFile("e.yaml", "yaml", Age1) },
    Case { name: "--ignore-mac FILE, unchanged", args: &["--ignore-mac", "e.yaml"], env: &[("EDITOR", "true")], key: Age1, cmp: Code },
    Case { name: "-s FILE", args: &["-s", "e.yaml"], env: &[("EDITOR", "{SHOW}")], key: Age1, cmp: Shown },
    Case { name: "edit --show-master-keys FILE", args: &["edit", "--show-master-keys", "e.json"], env: &[("EDITOR", "{SHOW}")], key: Age1, cmp: Shown },
    Case { name: "--age NEW (edit creates)", args: &["--age", "{R1}", "new.yaml"], env: &[("EDITOR", "{EDIT}")], key: Age1, cmp: CipherFile("new.yaml", "yaml", Age1) },
    Case { name: "FILE -d (flags after FILE: edit)", args: &["e.yaml", "-d"], env: &[("EDITOR", "{EDIT}")], key: Age1, cmp: CipherFile("e.yaml", "yaml", Age1) },
    Case { name: "FILE unchanged", args: &["e.yaml"], env: &[("EDITOR", "true")], key: Age1, cmp: Code },
    // Several modes (deprecated in sops: a warning, the last one wins).
    case("-e -d without keys", &["-e", "-d", "e.yaml"], Code),
    case("-e -d with keys", &["-e", "-d", "--age", "{R1}", "e.yaml"], Stdout),
    case("-e -d on a plaintext file", &["-e", "-d", "--age", "{R1}", "p.yaml"], Code),
    case("-d -r", &["-d", "-r", "e.yaml"], CipherOut("yaml", Age1)),
    case("-r --set, the rotate failing", &["-r", "--rm-age", "{R1}", "--set", "[\"a\"] \"q\"", "e.yaml"], Code),
    case("-r --set", &["-r", "--set", "[\"a\"] \"q\"", "e.yaml"], CipherFile("e.yaml", "yaml", Age1)),
    case("-d --extract BAD -r (the decrypt's failure wins)", &["-d", "--extract", "[\"nope\"]", "-r", "e.yaml"], Code),
    case("-d --extract UNPARSABLE --set", &["-d", "--extract", "nope", "--set", "[\"a\"] 1", "e.yaml"], Code),
    case("-d --extract BAD --set (the set wins)", &["-d", "--extract", "[\"nope\"]", "--set", "[\"a\"] \"q\"", "e.yaml"], CipherFile("e.yaml", "yaml", Age1)),
    // Usage errors and conflicts.
    case("no file", &["-d"], Code),
    case("nothing at all", &[], Code),
    case("-d a missing file", &["-d", "nope.yaml"], Code),
    case("-i with --output", &["-d", "-i", "--output", "x", "e.yaml"], Code),
    case("-d --decrypt", &["-d", "--decrypt", "e.yaml"], Code),
    case("combined short flags", &["-di", "e.yaml"], Code),
    case("unknown flag", &["--unset", "x", "e.yaml"], Code),
    case("missing flag value", &["-d", "--extract"], Code),
    case("bad boolean", &["--decrypt=maybe", "e.yaml"], Code),
    case("bad number", &["-d", "--indent", "two", "e.yaml"], Code),
    case("duplicate decryption order", &["-d", "--decryption-order", "age,age", "e.yaml"], Code),
    case("-V is not sops'", &["-V"], Code),
    Case { name: "bad SOPS_DISABLE_VERSION_CHECK", args: &["-d", "e.yaml"], env: &[("SOPS_DISABLE_VERSION_CHECK", "yes")], key: Age1, cmp: Code },
    // Subcommands, help and version.
    case("decrypt FILE", &["decrypt", "e.yaml"], Stdout),
    case("-d decrypt FILE (the command wins)", &["-d", "decrypt", "e.yaml"], Stdout),
    case("filestatus encrypted", &["filestatus", "e.yaml"], Stdout),
    case("filestatus plaintext", &["filestatus", "p.yaml"], Stdout),
    case("filestatus a missing file", &["filestatus", "nope.yaml"], Code),
    case("exec-env a missing file", &["exec-env", "nope.yaml", "true"], Code),
    case("exec-file a missing file", &["exec-file", "nope.yaml", "true"], Code),
    case("unset", &["unset", "e.yaml", "[\"a\"]"], CipherFile("e.yaml", "yaml", Age1)),
    case("--help", &["--help"], Code),
    case("help", &["help"], Code),
    case("--version", &["--version"], Version),
    case("-v", &["-v"], Version),
    case("--version --disable-version-check", &["--version", "--disable-version-check"], Version),
    case("-d -v FILE", &["-d", "-v", "e.yaml"], Version),
];

/// Forms sops runs and sealbox refuses: (arguments, exit code, words the message must hold).
#[rustfmt::skip]
const REFUSED: &[(&[&str], i32, &str)] = &[
    (&["-e", "--kms", "arn:aws:kms:eu-west-1:111122223333:key/x", "p.yaml"], 1, "AWS KMS keys are not supported"),
    (&["-r", "--add-gcp-kms", "projects/p/locations/l/keyRings/r/cryptoKeys/k", "e.yaml"], 1, "GCP KMS keys are not supported"),
    (&["--keyservice", "tcp://localhost:5000", "-d", "e.yaml"], 1, "key services are not supported"),
    (&["groups", "add", "--file", "e.yaml", "--age", "{R2}"], 1, "sealbox updatekeys"),
    (&["publish", "e.yaml"], 1, "is not supported"),
    (&["completion", "bash"], 1, "sealbox completions"),
];

/// One run's view: its sandbox and what the command did.
struct Run {
    sb: Sandbox,
    out: Out,
}

struct Env<'a> {
    peers: &'a Peers,
    keys: &'a Keys,
    /// The encrypted fixtures (by the real sops, for age1): (name, bytes).
    encrypted: Vec<(String, Vec<u8>)>,
    /// `bin/sops -> sealbox`.
    sops_link: PathBuf,
    scripts: tempfile::TempDir,
}

impl Env<'_> {
    fn identity(&self, who: Who) -> &Identity {
        match who {
            Age1 => &self.keys.age1,
            Age2 => &self.keys.age2,
        }
    }

    fn subst(&self, s: &str) -> String {
        s.replace("{R1}", &self.keys.age1.recipient)
            .replace("{R2}", &self.keys.age2.recipient)
            .replace("{EDIT}", &self.script("edit").display().to_string())
            .replace("{SHOW}", &self.script("show").display().to_string())
    }

    fn script(&self, name: &str) -> PathBuf {
        self.scripts.path().join(name)
    }

    /// Runs `prog` (the real sops, or the symlink) on fresh fixtures.
    fn run(&self, prog: &Path, c: &Case) -> Run {
        let sb = Sandbox::new();
        for (name, bytes) in PLAIN {
            sb.write(name, bytes);
        }
        for (name, bytes) in &self.encrypted {
            sb.write(name, bytes);
        }
        // A config found only through --config or SOPS_CONFIG (not by the search).
        sb.write(
            "c.yaml",
            self.subst("creation_rules:\n  - path_regex: \\.(yaml|json)$\n    age: {R2}\n"),
        );
        // A rule whose only key group is empty.
        sb.write(
            "c-empty.yaml",
            "creation_rules:\n  - path_regex: \\.yaml$\n    key_groups:\n      - age: []\n",
        );
        sb.write("empty.yaml", b"");
        let args: Vec<String> = c.args.iter().map(|a| self.subst(a)).collect();
        let key = self.identity(c.key).key_file.display().to_string();
        let shown = sb.path().join("shown").display().to_string();
        let mut env: Vec<(String, String)> = vec![
            ("SOPS_AGE_KEY_FILE".into(), key),
            ("SHOWN".into(), shown),
            ("EDITOR".into(), "false".into()),
        ];
        for (k, v) in c.env {
            env.push((k.to_string(), self.subst(v)));
        }
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let out = sb.run(prog, &args, &env, None);
        Run { sb, out }
    }

    /// Decrypts `ct` (of format `ty`) with `prog` as `who`: the plaintext.
    fn decrypt_with(&self, prog: &Path, ct: &[u8], ty: &str, who: Who) -> Result<Vec<u8>, String> {
        let sb = Sandbox::new();
        let f = sb.write("ct", ct);
        let key = self.identity(who).key_file.display().to_string();
        let f = f.display().to_string();
        let out = sb.run(
            prog,
            &[
                "decrypt",
                "--input-type",
                ty,
                "--output-type",
                ty,
                f.as_str(),
            ],
            &[("SOPS_AGE_KEY_FILE", key.as_str())],
            None,
        );
        if out.code == 0 {
            Ok(out.stdout)
        } else {
            Err(format!("exit {}: {}", out.code, out.stderr))
        }
    }
}

fn show(r: &Run) -> String {
    format!(
        "exit {}\nstdout:\n{}\nstderr:\n{}",
        r.out.code,
        String::from_utf8_lossy(&r.out.stdout),
        r.out.stderr
    )
}

/// Compares one case; Err: what differs.
fn compare(env: &Env, c: &Case) -> Result<(), String> {
    let theirs = env.run(&env.peers.sops, c);
    let ours = env.run(&env.sops_link, c);
    let both = || {
        format!(
            "\n-- sops:\n{}\n-- sealbox as sops:\n{}",
            show(&theirs),
            show(&ours)
        )
    };
    if theirs.out.code != ours.out.code {
        return Err(format!("exit codes differ{}", both()));
    }
    for line in SOPS_LINES {
        if theirs.out.stderr.contains(line) && !ours.out.stderr.contains(line) {
            return Err(format!("sops says {line:?}, sealbox does not{}", both()));
        }
    }
    let read = |r: &Run, name: &str| std::fs::read(r.sb.work().join(name)).ok();
    match c.cmp {
        Code => Ok(()),
        Stdout if theirs.out.stdout == ours.out.stdout => Ok(()),
        Stdout => Err(format!("stdout differs{}", both())),
        File(name) => match (read(&theirs, name), read(&ours, name)) {
            (Some(a), Some(b)) if a == b => Ok(()),
            (a, b) => Err(format!(
                "{name} differs:\n-- sops:\n{}\n-- sealbox:\n{}{}",
                String::from_utf8_lossy(&a.unwrap_or_default()),
                String::from_utf8_lossy(&b.unwrap_or_default()),
                both()
            )),
        },
        CipherOut(ty, who) => {
            cross(env, &theirs.out.stdout, &ours.out.stdout, ty, who).map_err(|e| e + &both())
        }
        CipherFile(name, ty, who) => {
            let (Some(a), Some(b)) = (read(&theirs, name), read(&ours, name)) else {
                return Err(format!("{name} missing{}", both()));
            };
            cross(env, &a, &b, ty, who).map_err(|e| e + &both())
        }
        Shown => {
            let shown = |r: &Run| std::fs::read(r.sb.path().join("shown")).unwrap_or_default();
            let (a, b) = (shown(&theirs), shown(&ours));
            if !a.is_empty() && a == b {
                Ok(())
            } else {
                Err(format!(
                    "the editor saw different text:\n-- sops:\n{}\n-- sealbox:\n{}",
                    String::from_utf8_lossy(&a),
                    String::from_utf8_lossy(&b)
                ))
            }
        }
        Version => {
            let first = |r: &Run| {
                let s = String::from_utf8_lossy(&r.out.stdout).into_owned();
                let line = s.lines().next().unwrap_or("").to_string();
                line.split_whitespace()
                    .take(2)
                    .collect::<Vec<_>>()
                    .join(" ")
            };
            let line = String::from_utf8_lossy(&ours.out.stdout).into_owned();
            if first(&theirs) == first(&ours)
                && first(&ours).starts_with("sops 3.")
                && line.lines().next().is_some_and(|l| l.contains("sealbox"))
            {
                Ok(())
            } else {
                Err(format!("version lines differ in shape{}", both()))
            }
        }
    }
}

/// sops' ciphertext decrypted by sealbox, and sealbox's by sops: the same plaintext.
fn cross(env: &Env, theirs: &[u8], ours: &[u8], ty: &str, who: Who) -> Result<(), String> {
    if theirs.is_empty() || ours.is_empty() {
        return Err("no ciphertext".into());
    }
    let ours_by_sops = env.decrypt_with(&env.peers.sops, ours, ty, who)?;
    let theirs_by_sealbox = env.decrypt_with(&env.peers.sealbox, theirs, ty, who)?;
    if ours_by_sops == theirs_by_sealbox {
        Ok(())
    } else {
        Err(format!(
            "the decryptions differ:\n-- sealbox's, by sops:\n{}\n-- sops', by sealbox:\n{}",
            String::from_utf8_lossy(&ours_by_sops),
            String::from_utf8_lossy(&theirs_by_sealbox)
        ))
    }
}

#[test]
fn classic_sops_command_lines_behave_as_in_sops() {
    let peers = sealbox_tests::require!(Peers::get());
    let keys = Keys::generate(&peers);
    let scripts = tempfile::tempdir().unwrap();
    let bin = scripts.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    let sops_link = bin.join("sops");
    std::os::unix::fs::symlink(&peers.sealbox, &sops_link).unwrap();
    let write_script = |name: &str, body: &str| {
        use std::os::unix::fs::PermissionsExt;
        let p = scripts.path().join(name);
        std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    };
    // Edits the first line (existing files), or writes a new document (new files).
    write_script(
        "edit",
        "if grep -q '^a:' \"$1\"; then sed -i 's/^a: .*/a: edited/' \"$1\"; else printf 'k: v\\n' > \"$1\"; fi",
    );
    write_script("show", "cp \"$1\" \"$SHOWN\"");

    // The encrypted fixtures, by the real sops.
    let sb = Sandbox::new();
    let mut encrypted = Vec::new();
    for (name, bytes) in PLAIN {
        sb.write(name, bytes);
        let out = sb
            .run(
                &peers.sops,
                &["encrypt", "--age", keys.age1.recipient.as_str(), name],
                &[],
                None,
            )
            .ok(&format!("sops encrypt {name}"));
        encrypted.push((name.replacen("p.", "e.", 1), out.stdout));
    }
    // A value changed outside sops (MAC mismatch), and a damaged MAC.
    let out = sb
        .run(
            &peers.sops,
            &[
                "encrypt",
                "--age",
                keys.age1.recipient.as_str(),
                "--unencrypted-suffix",
                "_pub",
                "p.yaml",
            ],
            &[],
            None,
        )
        .ok("sops encrypt --unencrypted-suffix");
    let text = out.stdout_str();
    assert!(text.contains("token_pub: visible\n"), "{text}");
    let tampered = text.replace("token_pub: visible\n", "token_pub: changed\n");
    encrypted.push(("tampered.yaml".into(), tampered.into_bytes()));
    let e_yaml = String::from_utf8(encrypted[0].1.clone()).unwrap();
    let at = e_yaml.find("mac: ENC[AES256_GCM,data:").unwrap() + 30;
    let badmac = sealbox_tests::flip_b64_char(&e_yaml, at);
    encrypted.push(("badmac.yaml".into(), badmac.into_bytes()));
    let env = Env {
        peers: &peers,
        keys: &keys,
        encrypted,
        sops_link,
        scripts,
    };
    let mut failures = Vec::new();
    for c in CASES {
        if let Err(e) = compare(&env, c) {
            failures.push(format!("== sops {} ({}): {e}", c.args.join(" "), c.name));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} forms differ from sops:\n{}",
        failures.len(),
        CASES.len(),
        failures.join("\n\n")
    );
}

#[test]
fn forms_sealbox_refuses_say_so_and_name_what_to_use() {
    let peers = sealbox_tests::require!(Peers::get());
    let keys = Keys::generate(&peers);
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("sops");
    std::os::unix::fs::symlink(&peers.sealbox, &link).unwrap();
    let sb = Sandbox::new();
    for (name, bytes) in PLAIN {
        sb.write(name, bytes);
    }
    sb.write("e.yaml", b"a: b\n");
    for (args, code, says) in REFUSED {
        let args: Vec<String> = args
            .iter()
            .map(|a| a.replace("{R2}", &keys.age2.recipient))
            .collect();
        let out = sb.run(&link, &args, &[], None);
        assert_eq!(out.code, *code, "sops {args:?}: {}", out.stderr);
        assert!(
            out.stderr.contains(says),
            "sops {args:?}: the message does not say {says:?}:\n{}",
            out.stderr
        );
    }
}

#[test]
fn the_classic_form_works_under_the_name_sealbox_too() {
    let peers = sealbox_tests::require!(Peers::get());
    let keys = Keys::generate(&peers);
    let sb = Sandbox::new();
    sb.write("p.yaml", PLAIN[0].1);
    let r = keys.age1.recipient.as_str();
    let key = keys.age1.key_file.display().to_string();
    let env = [("SOPS_AGE_KEY_FILE", key.as_str())];
    let enc = sb
        .run(&peers.sealbox, &["-e", "--age", r, "p.yaml"], &env, None)
        .ok("sealbox -e");
    sb.write("e.yaml", &enc.stdout);
    let ours = sb
        .run(&peers.sealbox, &["-d", "e.yaml"], &env, None)
        .ok("sealbox -d");
    let theirs = sb
        .run(&peers.sops, &["-d", "e.yaml"], &env, None)
        .ok("sops -d");
    assert_eq!(ours.stdout, theirs.stdout);
    // sealbox's own flags and first words keep their meaning under that name.
    let v = sb
        .run(&peers.sealbox, &["--version"], &[], None)
        .ok("--version");
    assert!(v.stdout_str().starts_with("sealbox "), "{}", v.stdout_str());
    let v = sb.run(&peers.sealbox, &["-v"], &[], None).ok("-v");
    assert!(v.stdout_str().starts_with("sealbox "), "{}", v.stdout_str());
    let typo = sb.run(&peers.sealbox, &["decrpyt", "e.yaml"], &[], None);
    assert_eq!(typo.code, 1);
    assert!(
        typo.stderr.contains("did you mean `sealbox decrypt`"),
        "{}",
        typo.stderr
    );
    let sub = sb
        .run(
            &peers.sealbox,
            &["--config", "none.yaml", "filestatus", "e.yaml"],
            &env,
            None,
        )
        .ok("--config X filestatus");
    assert_eq!(sub.stdout_str(), "{\"encrypted\":true}\n");
}

#[test]
fn show_master_keys_keeps_the_value_edits_and_leaves_the_metadata() {
    // sops 3.11 drops the whole edit made under -s (it replaces a copy of its tree); sealbox
    // keeps the values and ignores changes to the shown metadata, saying so.
    let peers = sealbox_tests::require!(Peers::get());
    let keys = Keys::generate(&peers);
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("sops");
    std::os::unix::fs::symlink(&peers.sealbox, &link).unwrap();
    let editor = dir.path().join("ed");
    std::fs::write(
        &editor,
        "#!/bin/sh\nsed -i -e 's/^a: b/a: edited/' -e 's/^    version: .*/    version: 9.9.9/' \"$1\"\n",
    )
    .unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&editor, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let sb = Sandbox::new();
    sb.write("p.yaml", PLAIN[0].1);
    let enc = sb
        .run(
            &peers.sops,
            &["encrypt", "--age", keys.age1.recipient.as_str(), "p.yaml"],
            &[],
            None,
        )
        .ok("sops encrypt");
    sb.write("e.yaml", &enc.stdout);
    let key = keys.age1.key_file.display().to_string();
    let ed = editor.display().to_string();
    let env = [("SOPS_AGE_KEY_FILE", key.as_str()), ("EDITOR", ed.as_str())];
    let out = sb.run(&link, &["-s", "e.yaml"], &env, None).ok("sops -s");
    assert!(
        out.stderr
            .contains("changes to the sops metadata were not applied"),
        "{}",
        out.stderr
    );
    let dec = sb
        .run(&peers.sops, &["-d", "e.yaml"], &env, None)
        .ok("sops -d after the edit");
    let text = dec.stdout_str();
    assert!(text.starts_with("a: edited\n"), "{text}");
    let file = std::fs::read_to_string(sb.work().join("e.yaml")).unwrap();
    assert!(file.contains("version: 3.11.0"), "{file}");
}

#[test]
fn pgp_flags_of_the_classic_form_reach_the_subcommands_and_sops_reads_the_result() {
    let peers = sealbox_tests::require!(Peers::get());
    let gpg = sealbox_tests::require!(sealbox_testkit::gpg());
    let keys = Keys::generate(&peers);
    let home = sealbox_testkit::gnupg::GpgHome::new(&gpg);
    let fp = home.generate("drop-in <drop-in@example.org>", "");
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("sops");
    std::os::unix::fs::symlink(&peers.sealbox, &link).unwrap();
    let sb = Sandbox::new();
    let plain = "a: b\ndb:\n    password: hunter2\n";
    sb.write("p.yaml", plain);
    let gnupg = home.path().display().to_string();
    let pgp_only = [("GNUPGHOME", gnupg.as_str())];
    let age_key = keys.age1.key_file.display().to_string();
    let both = [
        ("GNUPGHOME", gnupg.as_str()),
        (keys.age1.env_var, age_key.as_str()),
    ];

    // `sops -e -p FP f` (and SOPS_PGP_FP) encrypt to the PGP key; sops decrypts with gpg.
    for (args, env) in [
        (vec!["-e", "-p", fp.as_str(), "p.yaml"], vec![]),
        (vec!["-e", "p.yaml"], vec![("SOPS_PGP_FP", fp.as_str())]),
    ] {
        let env: Vec<(&str, &str)> = pgp_only.iter().copied().chain(env).collect();
        let enc = sb
            .run(&link, &args, &env, None)
            .ok("sops(sealbox) -e --pgp");
        sb.write("by-link.enc.yaml", &enc.stdout);
        let dec = sb
            .run(&peers.sops, &["-d", "by-link.enc.yaml"], &pgp_only, None)
            .ok("real sops -d of the PGP file");
        assert_eq!(dec.stdout_str(), plain, "{args:?}");
    }

    // `sops -r -i --add-pgp FP f` on an age file: afterwards gpg alone opens it in sops.
    let enc = sb
        .run(
            &peers.sops,
            &["-e", "--age", &keys.age1.recipient, "p.yaml"],
            &[],
            None,
        )
        .ok("real sops -e --age");
    sb.write("f.enc.yaml", &enc.stdout);
    sb.run(
        &link,
        &["-r", "-i", "--add-pgp", &fp, "f.enc.yaml"],
        &both,
        None,
    )
    .ok("sops(sealbox) -r -i --add-pgp");
    let dec = sb
        .run(&peers.sops, &["-d", "f.enc.yaml"], &pgp_only, None)
        .ok("real sops -d with the PGP key only");
    assert_eq!(dec.stdout_str(), plain);
    // and `--rm-pgp` takes it away again: gpg alone no longer opens it.
    sb.run(
        &link,
        &["-r", "-i", "--rm-pgp", &fp, "f.enc.yaml"],
        &both,
        None,
    )
    .ok("sops(sealbox) -r -i --rm-pgp");
    let dec = sb.run(&peers.sops, &["-d", "f.enc.yaml"], &pgp_only, None);
    assert_ne!(dec.code, 0, "the removed PGP key still opens the file");
}
