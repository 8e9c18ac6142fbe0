//! The binary, dotenv and INI stores, and conversions between stores (`--input-type` /
//! `--output-type`), crossing between sealbox and the real sops 3.11 in both directions
//! (docs/format.md#stores).
//!
//! "Reference" output is what the real sops gives for its own round trip of the same input, so
//! sops' own normalisation (dropped blank lines, go-ini layout, …) is the expected result.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sealbox_tests::{Identity, Keys, Out, Peers, Sandbox};
use std::path::Path;

fn run(sb: &Sandbox, prog: &Path, args: &[&str], id: Option<&Identity>) -> Out {
    let env: Vec<(&str, String)> = id.map(|i| i.env().to_vec()).unwrap_or_default();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    sb.run(prog, args, &env, None)
}

/// Encrypts `plain` with `prog` (flags `extra` before the file) and writes the result to `out`.
fn encrypt(sb: &Sandbox, prog: &Path, keys: &Keys, extra: &[&str], plain: &str, out: &str) {
    let mut args = vec!["encrypt", "--age", keys.age1.recipient.as_str()];
    args.extend_from_slice(extra);
    args.push(plain);
    let o = run(sb, prog, &args, None).ok(&format!("{} encrypt {plain}", prog.display()));
    sb.write(out, &o.stdout);
}

fn decrypt(sb: &Sandbox, prog: &Path, keys: &Keys, extra: &[&str], file: &str) -> Vec<u8> {
    let mut args = vec!["decrypt"];
    args.extend_from_slice(extra);
    args.push(file);
    run(sb, prog, &args, Some(&keys.age1))
        .ok(&format!("{} decrypt {file}", prog.display()))
        .stdout
}

/// First differing line of two outputs, for readable failures.
fn first_diff(want: &[u8], got: &[u8]) -> String {
    let w = String::from_utf8_lossy(want);
    let g = String::from_utf8_lossy(got);
    for (i, (a, b)) in w.lines().zip(g.lines()).enumerate() {
        if a != b {
            return format!("line {}:\n  want {a:?}\n  got  {b:?}", i + 1);
        }
    }
    format!(
        "lengths differ: want {} bytes / {} lines, got {} bytes / {} lines",
        want.len(),
        w.lines().count(),
        got.len(),
        g.lines().count()
    )
}

fn assert_same(what: &str, want: &[u8], got: &[u8]) {
    if want != got {
        panic!(
            "{what}: output differs from the reference\n{}",
            first_diff(want, got)
        );
    }
}

// ---------------------------------------------------------------------------------------------
// binary

#[test]
fn binary_1mib_both_directions() {
    let peers = sealbox_tests::require!(Peers::get());
    let keys = Keys::generate(&peers);
    let sb = Sandbox::new();
    let mut rng = StdRng::seed_from_u64(0xb1a2_0001);
    let mut data = vec![0u8; 1 << 20];
    rng.fill(&mut data[..]);
    // make sure the awkward bytes are there, and a long run of each
    data[0] = 0;
    data[1] = 0xff;
    data[2..1026].fill(0);
    data[1026..2050].fill(0xff);
    data[2050..2052].copy_from_slice(b"\r\n");
    sb.write("blob.bin", &data);

    encrypt(
        &sb,
        &peers.sealbox,
        &keys,
        &[],
        "blob.bin",
        "sealbox.enc.bin",
    );
    encrypt(&sb, &peers.sops, &keys, &[], "blob.bin", "sops.enc.bin");

    let got = decrypt(&sb, &peers.sops, &keys, &[], "sealbox.enc.bin");
    assert!(
        got == data,
        "sops decrypt of sealbox's binary file differs ({} bytes)",
        got.len()
    );
    let got = decrypt(&sb, &peers.sealbox, &keys, &[], "sops.enc.bin");
    assert!(
        got == data,
        "sealbox decrypt of sops' binary file differs ({} bytes)",
        got.len()
    );
    // explicit types on a name that says nothing
    std::fs::copy(
        sb.work().join("sops.enc.bin"),
        sb.work().join("sops.enc.data"),
    )
    .unwrap();
    let got = decrypt(
        &sb,
        &peers.sealbox,
        &keys,
        &["--input-type", "binary", "--output-type", "binary"],
        "sops.enc.data",
    );
    assert!(got == data, "sealbox decrypt --input-type binary differs");
}

// ---------------------------------------------------------------------------------------------
// dotenv

fn dotenv_doc() -> String {
    let mut rng = StdRng::seed_from_u64(0xd07e_0500);
    let mut s = String::from("# generated dotenv file\n");
    let mut keys = 0;
    let mut i = 0;
    while keys < 500 {
        i += 1;
        if i % 23 == 0 {
            s.push_str(&format!(
                "# comment {i} with = signs and \"quotes\" and ключ\n"
            ));
            continue;
        }
        if i % 41 == 0 {
            s.push('\n');
            continue;
        }
        let key = match i % 7 {
            0 => format!("export EXPORTED_{i}"),
            1 => format!("lower_key_{i}"),
            _ => format!("KEY_{i}"),
        };
        let rand_word: String = (0..rng.gen_range(1..40))
            .map(|_| rng.sample(rand::distributions::Alphanumeric) as char)
            .collect();
        let value = match i % 11 {
            0 => format!("value with spaces {i}"),
            1 => format!("a=b==c {i}="),
            2 => format!("\"double quoted {i}\""),
            3 => format!("'single quoted {i}'"),
            4 => format!("ünïcødé значение 🎉 {i}"),
            5 => format!("line1\\nline2\\n{i}"),
            6 => String::new(),
            7 => rand_word,
            8 => format!(" leading and trailing spaces {i} "),
            9 => format!("#not a comment {i}; also not"),
            _ => format!("mixed \"q\" 'q' = \\n end {i}"),
        };
        s.push_str(&format!("{key}={value}\n"));
        keys += 1;
    }
    s
}

#[test]
fn dotenv_500_keys_both_directions() {
    let peers = sealbox_tests::require!(Peers::get());
    let keys = Keys::generate(&peers);
    let sb = Sandbox::new();
    sb.write("plain.env", dotenv_doc());

    encrypt(&sb, &peers.sops, &keys, &[], "plain.env", "sops.enc.env");
    encrypt(
        &sb,
        &peers.sealbox,
        &keys,
        &[],
        "plain.env",
        "sealbox.enc.env",
    );
    let reference = decrypt(&sb, &peers.sops, &keys, &[], "sops.enc.env");
    assert_eq!(
        String::from_utf8_lossy(&reference)
            .lines()
            .filter(|l| !l.starts_with('#'))
            .count(),
        500,
        "sops' own round trip lost keys"
    );

    let got = decrypt(&sb, &peers.sealbox, &keys, &[], "sops.enc.env");
    assert_same("sealbox decrypt of sops' dotenv file", &reference, &got);
    let got = decrypt(&sb, &peers.sops, &keys, &[], "sealbox.enc.env");
    assert_same("sops decrypt of sealbox's dotenv file", &reference, &got);
    let got = decrypt(&sb, &peers.sealbox, &keys, &[], "sealbox.enc.env");
    assert_same("sealbox's own dotenv round trip", &reference, &got);
}

// ---------------------------------------------------------------------------------------------
// INI

const INI_DOC: &str = "\
; leading comment, before any section
top_key = top value
colon_top: colon delimited top
# hash comment above a default key
another_top = 42

[database]
; database section comment
host = db.example.com
port = 5432
password = \"quoted value = kept\"
user : admin ; inline comment on user
  indented   =   padded value   
empty =

# comment above server
[server]
name = 'single quoted value'
path = /usr/local/bin:/usr/bin
url = `http://example.com/?a=b`
ratio = 0.75
flag = true

[unicode]
ключ = значение 🎉
with spaces in key = value = with = equals
escaped = literal \\n stays

[last]
; only a comment and one key
k = v
";

#[derive(Debug, PartialEq)]
struct IniSummary {
    /// (section, [(key, value)]) in order; keys before any header are in `DEFAULT`.
    sections: Vec<(String, Vec<(String, String)>)>,
    /// Sorted comment texts (leading `;`/`#` and spaces stripped).
    comments: Vec<String>,
}

fn unquote(v: &str) -> &str {
    for q in ["\"\"\"", "\"", "'", "`"] {
        if v.len() >= 2 * q.len() && v.starts_with(q) && v.ends_with(q) {
            return &v[q.len()..v.len() - q.len()];
        }
    }
    v
}

/// A summary of decrypted INI output as written by go-ini (`key = value`, `; comment`).
fn ini_summary(text: &[u8]) -> IniSummary {
    let text = String::from_utf8_lossy(text);
    let mut sections: Vec<(String, Vec<(String, String)>)> = vec![("DEFAULT".into(), vec![])];
    let mut comments = Vec::new();
    for line in text.lines() {
        let t = line.trim();
        if t.is_empty() {
            continue;
        }
        if t.starts_with(';') || t.starts_with('#') {
            comments.push(t.trim_start_matches([';', '#', ' ']).to_string());
        } else if let Some(name) = t.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
            sections.push((name.to_string(), vec![]));
        } else {
            let at = t.find(['=', ':']).unwrap_or(t.len());
            let (k, v) = t.split_at(at);
            let v = v.get(1..).unwrap_or("").trim();
            sections
                .last_mut()
                .unwrap()
                .1
                .push((k.trim().to_string(), unquote(v).to_string()));
        }
    }
    if sections[0].1.is_empty() {
        sections.remove(0);
    }
    comments.sort();
    IniSummary { sections, comments }
}

#[test]
fn ini_sections_comments_both_directions() {
    ini_case(INI_DOC);
}

/// go-ini (real sops) does not honour quotes around `;`/`#`: `p = "a ; b"` loads as value
/// `"a` with the comment `b"`. sealbox must read the same plaintext the same way.
#[test]
fn ini_quoted_value_with_comment_chars() {
    ini_case("[s]\npassword = \"quoted ; value # kept\"\nother = x\n");
}

fn ini_case(doc: &str) {
    let peers = sealbox_tests::require!(Peers::get());
    let keys = Keys::generate(&peers);
    let sb = Sandbox::new();
    sb.write("plain.ini", doc);

    encrypt(&sb, &peers.sops, &keys, &[], "plain.ini", "sops.enc.ini");
    encrypt(
        &sb,
        &peers.sealbox,
        &keys,
        &[],
        "plain.ini",
        "sealbox.enc.ini",
    );
    let reference = decrypt(&sb, &peers.sops, &keys, &[], "sops.enc.ini");
    let want = ini_summary(&reference);
    // the reference itself has what we wrote

    for (what, prog, file) in [
        (
            "sealbox decrypt of sops' INI file",
            &peers.sealbox,
            "sops.enc.ini",
        ),
        (
            "sops decrypt of sealbox's INI file",
            &peers.sops,
            "sealbox.enc.ini",
        ),
        (
            "sealbox's own INI round trip",
            &peers.sealbox,
            "sealbox.enc.ini",
        ),
    ] {
        let got = decrypt(&sb, prog, &keys, &[], file);
        let got_sum = ini_summary(&got);
        assert_eq!(
            want,
            got_sum,
            "{what}: sections/keys/values or comments differ\nreference:\n{}\ngot:\n{}",
            String::from_utf8_lossy(&reference),
            String::from_utf8_lossy(&got)
        );
    }
    // sops decrypting sealbox's file and sops' own file: same summary as sops's reference of
    // the same encrypted file (checked above); also compare sealbox vs sops on sealbox's file
    let a = decrypt(&sb, &peers.sops, &keys, &[], "sealbox.enc.ini");
    let b = decrypt(&sb, &peers.sealbox, &keys, &[], "sealbox.enc.ini");
    assert_eq!(
        ini_summary(&a),
        ini_summary(&b),
        "sops vs sealbox on sealbox's INI file"
    );
}

// ---------------------------------------------------------------------------------------------
// conversions

const YAML_DOC: &str = "\
name: demo
# a comment
db:
    user: admin
    password: hunter2
    port: 5432
    ratio: 0.5
    enabled: true
list:
    - one
    - 2
    - nested: map
empty: \"\"
unicode: значение 🎉
";

const JSON_DOC: &str = r#"{
  "name": "demo",
  "db": {"user": "admin", "password": "hunter2", "port": 5432, "ratio": 0.5, "on": false},
  "list": ["one", 2, {"nested": "map"}, null],
  "unicode": "значение é ü",
  "escapes": "tab\t quote\" back\\ <a&b>"
}
"#;

const DOTENV_DOC: &str = "\
# comment
USER=admin
PASSWORD=hunter2 with spaces
export EXPORTED=yes
MULTI=line1\\nline2
EMPTY=
EQ=a=b
";

const FLAT_YAML_DOC: &str = "\
user: admin
password: hunter2
port: 5432
ratio: 1.5
whole: 1.0
big: 1e21
on: true
quoted: \"yes\"
multi: \"l1\\nl2\"
";

/// (name, input type, input text, output type)
const CONVERSIONS: &[(&str, &str, &str, &str)] = &[
    ("yaml-to-json", "yaml", YAML_DOC, "json"),
    ("json-to-yaml", "json", JSON_DOC, "yaml"),
    ("dotenv-to-json", "dotenv", DOTENV_DOC, "json"),
    ("flat-yaml-to-dotenv", "yaml", FLAT_YAML_DOC, "dotenv"),
];

fn ext(t: &str) -> &'static str {
    match t {
        "yaml" => "yaml",
        "json" => "json",
        "dotenv" => "env",
        other => panic!("no extension for {other}"),
    }
}

/// Conversion at encryption time: `encrypt --input-type A --output-type B` by one tool, the
/// other tool decrypts; the result must equal sops' own round trip of the same conversion.
#[test]
fn conversions_at_encrypt_cross_tools() {
    let peers = sealbox_tests::require!(Peers::get());
    let keys = Keys::generate(&peers);
    let mut failures = Vec::new();
    for &(name, input, text, output) in CONVERSIONS {
        let sb = Sandbox::new();
        sb.write("plain.txt", text);
        let flags = ["--input-type", input, "--output-type", output];
        let sops_enc = format!("sops.enc.{}", ext(output));
        let sealbox_enc = format!("sealbox.enc.{}", ext(output));
        encrypt(&sb, &peers.sops, &keys, &flags, "plain.txt", &sops_enc);
        encrypt(
            &sb,
            &peers.sealbox,
            &keys,
            &flags,
            "plain.txt",
            &sealbox_enc,
        );
        let reference = decrypt(&sb, &peers.sops, &keys, &[], &sops_enc);
        for (what, prog, file) in [
            ("sealbox decrypts sops' file", &peers.sealbox, &sops_enc),
            ("sops decrypts sealbox's file", &peers.sops, &sealbox_enc),
        ] {
            let got = decrypt(&sb, prog, &keys, &[], file);
            if got != reference {
                failures.push(format!(
                    "{name}: {what}: {}\nreference:\n{}\ngot:\n{}",
                    first_diff(&reference, &got),
                    String::from_utf8_lossy(&reference),
                    String::from_utf8_lossy(&got)
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// Conversion at decryption time: a file encrypted in its own type by one tool, decrypted with
/// `--output-type B` by the other; the result must equal sops' decryption of the same file.
#[test]
fn conversions_at_decrypt_cross_tools() {
    let peers = sealbox_tests::require!(Peers::get());
    let keys = Keys::generate(&peers);
    let mut failures = Vec::new();
    for &(name, input, text, output) in CONVERSIONS {
        let sb = Sandbox::new();
        let plain = format!("plain.{}", ext(input));
        sb.write(&plain, text);
        encrypt(&sb, &peers.sops, &keys, &[], &plain, "sops.enc");
        encrypt(&sb, &peers.sealbox, &keys, &[], &plain, "sealbox.enc");
        let flags = ["--input-type", input, "--output-type", output];
        let reference = decrypt(&sb, &peers.sops, &keys, &flags, "sops.enc");
        for (file, prog, what) in [
            ("sops.enc", &peers.sealbox, "sealbox decrypts sops' file"),
            ("sealbox.enc", &peers.sops, "sops decrypts sealbox's file"),
            (
                "sealbox.enc",
                &peers.sealbox,
                "sealbox decrypts its own file",
            ),
        ] {
            let got = decrypt(&sb, prog, &keys, &flags, file);
            if got != reference {
                failures.push(format!(
                    "{name}: {what}: {}\nreference:\n{}\ngot:\n{}",
                    first_diff(&reference, &got),
                    String::from_utf8_lossy(&reference),
                    String::from_utf8_lossy(&got)
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// yaml.v3 double-quotes a string holding a character outside the BMP and writes it as
/// `\U0001F389` (docs/format.md#edge-cases); the YAML output of sealbox must be the same bytes.
#[test]
fn yaml_output_quotes_non_bmp_like_sops() {
    let peers = sealbox_tests::require!(Peers::get());
    let keys = Keys::generate(&peers);
    let sb = Sandbox::new();
    sb.write("plain.json", "{\"u\": \"значение 🎉\", \"e\": \"é\"}\n");
    sb.write("plain.yaml", "u: значение 🎉\ne: é\n");
    let mut failures = Vec::new();
    for plain in ["plain.json", "plain.yaml"] {
        encrypt(&sb, &peers.sops, &keys, &[], plain, "sops.enc");
        let flags = [
            "--input-type",
            if plain.ends_with("json") {
                "json"
            } else {
                "yaml"
            },
            "--output-type",
            "yaml",
        ];
        let reference = decrypt(&sb, &peers.sops, &keys, &flags, "sops.enc");
        let got = decrypt(&sb, &peers.sealbox, &keys, &flags, "sops.enc");
        if got != reference {
            failures.push(format!("{plain} -> yaml: {}", first_diff(&reference, &got)));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
