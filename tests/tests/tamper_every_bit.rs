//! Every single-bit change of an encrypted file is refused, unless it cannot change what
//! the file decrypts to.
//!
//! Four files (YAML and JSON, written by the real sops and by sealbox) are tampered with
//! one bit at a time:
//!
//! * **decoded bits**: every bit of every value's ciphertext, IV and tag, and of the MAC's
//!   (flipped in the decoded bytes, re-encoded as canonical base64);
//! * **text bits**: every bit of every byte of each `ENC[…]` string (field names, base64
//!   characters, type) and of the whole metadata block (`sops:` / `"sops"`: the age
//!   recipient and its armored `enc`, `lastmodified`, `mac`, the selector, `version`, key
//!   names, indentation, quotes), for the sops-written files.
//!
//! The exhaustive sweep runs in-process through the library, exactly the steps of
//! `sealbox decrypt` (load, recover the data key, decrypt and check the MAC, emit). A
//! sample of the cases is then run through the `sealbox` CLI and the real sops, whose exit
//! codes must agree.
//!
//! A change that is accepted must leave the decrypted output exactly as it was, and must
//! fall in one of the [`Accepted`] classes below, each justified where it is defined. Any
//! other accepted change fails the test.

use sealbox_formats::store::{self, Format, StoreOptions};
use sealbox_formats::{cipher::DataKey, metadata::KeyGroup, sops};
use sealbox_keys::age::Identities;
use sealbox_keys::KeyServices;

/// The exit code `sealbox` gives for an error.
fn code(e: sealbox_formats::Error) -> i32 {
    i32::from(exit::of(&e))
}

/// The `sealbox` binary's exit-code table, the one its `main` uses.
#[path = "../../cli/src/exit.rs"]
#[allow(dead_code)]
mod exit;
use sealbox_tests::{Keys, Peers, Sandbox};

const PLAIN_YAML: &str = "\
# a comment
hello: world-greeting-plaintext
nested:
    deep: s3cr3t-value-plaintext
    n: 424242
    pi: 3.5
    ok: true
list:
    - alpha-item-plaintext
    - 7
note_unencrypted: visible-note
";

const PLAIN_JSON: &str = r#"{
    "hello": "world-greeting-plaintext",
    "nested": {"deep": "s3cr3t-value-plaintext", "n": 424242, "pi": 3.5, "ok": true},
    "list": ["alpha-item-plaintext", 7],
    "note_unencrypted": "visible-note"
}
"#;

const SECRETS: &[&str] = &[
    "world-greeting-plaintext",
    "s3cr3t-value-plaintext",
    "424242",
    "alpha-item-plaintext",
];

/// Why an accepted change cannot change the meaning of the file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Accepted {
    /// An encrypted comment: comments are not covered by the MAC in sops 3.11, and a
    /// comment that no longer decrypts is kept as it is with a warning (sops does the
    /// same, see tamper.rs `tampered_comment_matches_sops`). No value changes.
    Comment,
    /// `version` changed to another valid Major.Minor.Patch (a damaged one is refused, as
    /// sops does): informational, it selects nothing when decrypting and is not
    /// authenticated in sops' format.
    Version,
    /// The age `recipient` string: a label. The data key is recovered by trying the
    /// identities on the armored `enc` (which is authenticated by age); the recipient is
    /// only used when the data key is wrapped again (rotate/updatekeys). Unauthenticated in
    /// sops' format as well; sops decrypts such a file too.
    Recipient,
    /// A change that parses to the same metadata: in the JSON files, a tab of the
    /// indentation turned into a carriage return, both JSON whitespace. The loaded
    /// metadata is equal, so nothing downstream can differ. (A `lastmodified` respelled as
    /// the same instant, e.g. `t` or `z`, is refused, as sops does.)
    SameMetadata,
    /// The selector's key renamed to an unknown key (ignored, like every unknown metadata
    /// key in sops 3.11): without a selector the default, `unencrypted_suffix:
    /// _unencrypted`, applies, and that is the selector the file was written with, so the
    /// same leaves are decrypted and hashed.
    DefaultSelector,
    /// A metadata field name respelled in another case (`Age:`, `Version:`, `"MAC":`):
    /// sops 3.12+ matches metadata names case-insensitively (mapstructure), and 3.13
    /// files are read so (tests/tests/sops_313.rs); sops 3.11 does too in JSON
    /// (encoding/json) but not in YAML, where it refuses the file. The name means the same
    /// field, so the loaded metadata is the same.
    NameCase,
}

/// Every n-th refused case is also run through the CLI and the real sops.
const SAMPLE_EVERY: usize = 211;

struct Sweep {
    ext: &'static str,
    orig: Vec<u8>,
    plain_out: Vec<u8>,
    ids: Identities,
    key_groups: Vec<KeyGroup>,
    key: DataKey,
    cases: usize,
    accepted: Vec<(String, Accepted)>,
    failures: Vec<String>,
    /// Cases to run through the CLI and the real sops: (name, bytes, accepted class).
    sample: Vec<(String, Vec<u8>, Option<Accepted>)>,
}

impl Sweep {
    fn format(&self) -> Format {
        if self.ext == "json" {
            Format::Json
        } else {
            Format::Yaml
        }
    }

    fn new(ext: &'static str, text: &str, ids: Identities) -> Sweep {
        let f = if ext == "json" {
            Format::Json
        } else {
            Format::Yaml
        };
        let (mut docs, md) = store::load_encrypted(f, text.as_bytes(), "f").unwrap();
        let key = sealbox_keys::recover(&md, &KeyServices::borrowing(&ids), "f").unwrap();
        sops::decrypt_tree(&mut docs, &md, &key, sops::MacCheck::Verify, "f").unwrap();
        let plain_out = store::emit_plain(f, &docs, &StoreOptions::default()).unwrap();
        Sweep {
            ext,
            orig: text.as_bytes().to_vec(),
            plain_out,
            ids,
            key_groups: md.key_groups,
            key,
            cases: 0,
            accepted: Vec::new(),
            failures: Vec::new(),
            sample: Vec::new(),
        }
    }

    /// `sealbox decrypt` in-process: Ok(output) or the error's exit code. The data key is
    /// recovered again only when the key groups changed (recovering is deterministic).
    fn decrypt(&self, bytes: &[u8]) -> Result<(Vec<u8>, sealbox_formats::metadata::Metadata), i32> {
        let f = self.format();
        let (mut docs, md) = store::load_encrypted(f, bytes, "f").map_err(code)?;
        check_version(&md.version)?;
        let key = if md.key_groups == self.key_groups {
            self.key.clone()
        } else {
            sealbox_keys::recover(&md, &KeyServices::borrowing(&self.ids), "f").map_err(code)?
        };
        sops::decrypt_tree(&mut docs, &md, &key, sops::MacCheck::Verify, "f").map_err(code)?;
        let out = store::emit_plain(f, &docs, &StoreOptions::default()).map_err(code)?;
        Ok((out, md))
    }

    /// Runs one tampered file. `class` says why an acceptance would be justified here
    /// (None: it must be refused).
    fn case(&mut self, name: String, bytes: Vec<u8>, class: impl Fn(&[u8]) -> Option<Accepted>) {
        self.cases += 1;
        match self.decrypt(&bytes) {
            Err(code) => {
                if code == 0 {
                    self.failures
                        .push(format!("{name}: error with exit code 0"));
                }
                if self.cases.is_multiple_of(SAMPLE_EVERY) {
                    self.sample.push((name, bytes, None));
                }
            }
            Ok((out, md)) => {
                let cls = class(&bytes);
                // A comment that no longer decrypts stays as it was (ciphertext): compare
                // everything else.
                let same = if cls == Some(Accepted::Comment) {
                    strip_comments(&out) == strip_comments(&self.plain_out)
                } else {
                    out == self.plain_out
                };
                if !same {
                    self.failures.push(format!(
                        "{name}: accepted and the output CHANGED:\n{}",
                        String::from_utf8_lossy(&out)
                    ));
                } else {
                    match cls {
                        Some(a) => {
                            // the first case of each class goes to the CLI sample
                            if !self.accepted.iter().any(|(_, b)| *b == a) {
                                self.sample.push((name.clone(), bytes.clone(), Some(a)));
                            }
                            self.accepted.push((name, a))
                        }
                        None => self.failures.push(format!(
                            "{name}: accepted, and no justification applies (selector {:?})",
                            md.selector
                        )),
                    }
                }
            }
        }
    }
}

/// `sealbox decrypt`'s (and sops') check of `version`: Major.Minor.Patch, or a 1.x version
/// (cli/src/session.rs `check_version`). Exit 1.
fn check_version(v: &str) -> Result<(), i32> {
    let core = v.strip_prefix('v').unwrap_or(v);
    let core = core.split(['-', '+']).next().unwrap_or("");
    let parts: Vec<&str> = core.split('.').collect();
    let numeric = |p: &&str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
    if core.starts_with("1.") || (parts.len() == 3 && parts.iter().all(numeric)) {
        Ok(())
    } else {
        Err(1)
    }
}

fn strip_comments(out: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(out)
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .map(str::to_string)
        .collect()
}

fn b64() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::STANDARD
}

/// Byte spans of every `ENC[…]` string in `text`, with whether it is a comment.
fn enc_spans(text: &[u8]) -> Vec<(usize, usize, bool)> {
    let t = String::from_utf8_lossy(text);
    let mut v = Vec::new();
    let mut from = 0;
    while let Some(i) = t[from..].find("ENC[AES256_GCM,") {
        let s = from + i;
        let e = s + t[s..].find(']').unwrap() + 1;
        let comment = t[s..e].ends_with("type:comment]");
        v.push((s, e, comment));
        from = e;
    }
    v
}

/// The span of the field `name:` (data, iv, tag) inside the ENC string at `s..e`.
fn field_span(text: &[u8], s: usize, e: usize, name: &str) -> (usize, usize) {
    let t = std::str::from_utf8(&text[s..e]).unwrap();
    let a = t.find(&format!("{name}:")).unwrap() + name.len() + 1;
    let b = a + t[a..].find([',', ']']).unwrap();
    (s + a, s + b)
}

/// Where the metadata block starts.
fn metadata_start(text: &[u8], ext: &str) -> usize {
    let t = String::from_utf8_lossy(text);
    if ext == "json" {
        t.find("\"sops\":").unwrap()
    } else {
        t.find("\nsops:").unwrap() + 1
    }
}

/// The whole line (start, end) around byte `i`.
fn line_of(text: &[u8], i: usize) -> &str {
    let s = text[..i]
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |p| p + 1);
    let e = text[i..]
        .iter()
        .position(|&b| b == b'\n')
        .map_or(text.len(), |p| i + p);
    std::str::from_utf8(&text[s..e]).unwrap_or("")
}

fn decoded_bit_flips(sw: &mut Sweep) {
    let orig = sw.orig.clone();
    for (s, e, comment) in enc_spans(&orig) {
        for field in ["data", "iv", "tag"] {
            let (a, b) = field_span(&orig, s, e, field);
            use base64::Engine;
            let bytes = b64().decode(&orig[a..b]).unwrap();
            for bit in 0..bytes.len() * 8 {
                let mut m = bytes.clone();
                m[bit / 8] ^= 1 << (bit % 8);
                let mut t = orig[..a].to_vec();
                t.extend_from_slice(b64().encode(&m).as_bytes());
                t.extend_from_slice(&orig[b..]);
                let name = format!("{}: ENC at {s}, {field} bit {bit}", sw.ext);
                sw.case(name, t, |_| comment.then_some(Accepted::Comment));
            }
        }
    }
}

fn text_bit_flips(sw: &mut Sweep) {
    let orig = sw.orig.clone();
    let md_start = metadata_start(&orig, sw.ext);
    let (_, orig_md) = sw.decrypt(&orig).unwrap();
    let mut ranges: Vec<(usize, usize, bool)> = enc_spans(&orig)
        .into_iter()
        .filter(|(s, _, _)| *s < md_start)
        .collect();
    ranges.push((md_start, orig.len(), false));
    for (s, e, comment) in ranges {
        for i in s..e {
            for bit in 0..8 {
                let mut t = orig.clone();
                t[i] ^= 1 << bit;
                let line = line_of(&orig, i).trim_start().to_string();
                let name = format!(
                    "{}: byte {i} ({:?} in line {line:?}) bit {bit}",
                    sw.ext, orig[i] as char
                );
                if sw.failures.len() > 200 {
                    return;
                }
                let ext = sw.ext;
                let orig_md = &orig_md;
                let class = |bytes: &[u8]| -> Option<Accepted> {
                    if comment {
                        return Some(Accepted::Comment);
                    }
                    let line_start = orig[..i]
                        .iter()
                        .rposition(|&b| b == b'\n')
                        .map_or(0, |p| p + 1);
                    if bit == 5
                        && orig[i].is_ascii_alphabetic()
                        && !orig[line_start..i].contains(&b':')
                        && line.contains(':')
                    {
                        return Some(Accepted::NameCase);
                    }
                    let key = |k: &str| {
                        line.starts_with(&format!("{k}:"))
                            || line.starts_with(&format!("\"{k}\":"))
                            || line.starts_with(&format!("- {k}:"))
                    };
                    if key("version") {
                        return Some(Accepted::Version);
                    }
                    if key("recipient") {
                        return Some(Accepted::Recipient);
                    }
                    let f = if ext == "json" {
                        Format::Json
                    } else {
                        Format::Yaml
                    };
                    let (_, md) = store::load_encrypted(f, bytes, "f").ok()?;
                    if md == *orig_md {
                        return Some(Accepted::SameMetadata);
                    }
                    let mut norm = md.clone();
                    norm.selector = Some(md.effective_selector());
                    (md.selector.is_none() && norm.selector == orig_md.selector && norm == *orig_md)
                        .then_some(Accepted::DefaultSelector)
                };
                sw.case(name, t, class);
            }
        }
    }
}

struct Made {
    writer: &'static str,
    ext: &'static str,
    text: String,
}

fn make_files(peers: &Peers, keys: &Keys, sb: &Sandbox) -> Vec<Made> {
    let r = keys.age1.recipient.as_str();
    let mut v = Vec::new();
    for (ext, plain) in [("yaml", PLAIN_YAML), ("json", PLAIN_JSON)] {
        let file = format!("plain.{ext}");
        sb.write(&file, plain);
        let s = sb
            .run(&peers.sops, &["--age", r, "-e", &file], &[], None)
            .ok("sops encrypt");
        v.push(Made {
            writer: "sops",
            ext,
            text: s.stdout_str(),
        });
        let o = sb
            .run(&peers.sealbox, &["encrypt", "--age", r, &file], &[], None)
            .ok("sealbox encrypt");
        v.push(Made {
            writer: "sealbox",
            ext,
            text: o.stdout_str(),
        });
    }
    v
}

/// Runs the sampled cases through `sealbox decrypt` and the real `sops decrypt`: the exit
/// codes must agree (0 exactly for the accepted classes), a refusal must say why, and no
/// message may contain a plaintext.
fn compare_with_sops(
    peers: &Peers,
    keys: &Keys,
    sb: &Sandbox,
    m: &Made,
    sample: &[(String, Vec<u8>, Option<Accepted>)],
) -> Vec<String> {
    let env = [(keys.age1.env_var, keys.age1.key_file.to_str().unwrap())];
    let mut failures = Vec::new();
    let file = format!("sample.enc.{}", m.ext);
    for (name, bytes, class) in sample {
        sb.write(&file, bytes);
        let sops = sb.run(&peers.sops, &["decrypt", &file], &env, None);
        let ours = sb.run(&peers.sealbox, &["decrypt", &file], &env, None);
        let ctx = format!("{}-written {}: {name}", m.writer, m.ext);
        // sops 3.11's YAML reader matches metadata names case-sensitively; sealbox reads
        // them as sops 3.12+ does.
        let newer = *class == Some(Accepted::NameCase) && m.ext == "yaml" && ours.code == 0;
        if ours.code != sops.code && !newer {
            failures.push(format!(
                "{ctx}: sealbox exits {} but sops exits {}\n  sealbox: {}\n  sops: {}",
                ours.code,
                sops.code,
                ours.stderr.trim(),
                sops.stderr.trim()
            ));
        }
        if class.is_some() && ours.code != 0 {
            failures.push(format!(
                "{ctx}: accepted in-process but the CLI exits {}",
                ours.code
            ));
        }
        if ours.code != 0 && ours.stderr.trim().is_empty() {
            failures.push(format!("{ctx}: refused without a message"));
        }
        for p in SECRETS {
            if ours.stderr.contains(p) || (ours.code != 0 && ours.stdout_str().contains(p)) {
                failures.push(format!("{ctx}: the output of a refusal contains {p:?}"));
            }
        }
    }
    eprintln!(
        "{}-written {}: {} sampled cases compared with sops",
        m.writer,
        m.ext,
        sample.len()
    );
    failures
}

#[test]
fn every_bit_flip_is_refused_or_changes_nothing() {
    let peers = sealbox_tests::require!(Peers::get());
    let keys = Keys::generate(&peers);
    let sb = Sandbox::new();
    let files = make_files(&peers, &keys, &sb);
    let id_text = std::fs::read_to_string(&keys.age1.key_file).unwrap();
    let mut report = Vec::new();
    let mut failures = Vec::new();
    for m in &files {
        let ids = Identities::from_text(&id_text).unwrap();
        let mut sw = Sweep::new(m.ext, &m.text, ids);
        decoded_bit_flips(&mut sw);
        if m.writer == "sops" {
            text_bit_flips(&mut sw);
        }
        let mut classes: Vec<(Accepted, usize)> = Vec::new();
        for (_, a) in &sw.accepted {
            match classes.iter_mut().find(|(c, _)| c == a) {
                Some((_, n)) => *n += 1,
                None => classes.push((*a, 1)),
            }
        }
        report.push(format!(
            "{}-written {}: {} single-bit changes, {} refused, accepted unchanged: {classes:?}",
            m.writer,
            m.ext,
            sw.cases,
            sw.cases - sw.accepted.len() - sw.failures.len(),
        ));
        failures.extend(compare_with_sops(&peers, &keys, &sb, m, &sw.sample));
        failures.extend(
            sw.failures
                .iter()
                .map(|f| format!("{}-written {}: {f}", m.writer, m.ext)),
        );
    }
    eprintln!("{}", report.join("\n"));
    assert!(
        failures.is_empty(),
        "{} failures (first 40):\n{}",
        failures.len(),
        failures
            .iter()
            .take(40)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}
