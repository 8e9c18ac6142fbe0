//! Hand-picked YAML edge cases in both directions (docs/format.md#yaml, TV-7 of
//! docs/format.md#test-vectors, docs/format.md#edge-cases).
//!
//! "Same document" here means: the same text after a round trip through the real sops
//! (`canon(x) = sops decrypt(sops encrypt(x))`), which normalises both sides with yaml.v3,
//! comments and multiple documents included.

use sealbox_tests::{Keys, Out, Peers, Sandbox};

const CASES: &[(&str, &str)] = &[
    (
        "tv7-edge",
        "# edge cases\nünï: cödé\n\"a:b\": colon\na:\n    b: nested\nbig: 1e10\nempty: \"\"\ntext: |\n    l1\n    l2\nwhen: 2024-01-02T03:04:05Z\nnest:\n    - m:\n        - k: 1\n    - [x, [y]]\n",
    ),
    ("multi-doc", "a: 1\n# first\n---\n# second head\nb: two\nc: [3, 4]\n---\nd: {e: f}\n"),
    ("empty-doc", "---\n"),
    (
        "anchors-merge",
        "base: &b\n  x: 1\n  y: secret\ncopy: *b\nmerged:\n  <<: *b\n  z: 3\nlist: &l [p, q]\nlist2: *l\n",
    ),
    ("folded", "f: >\n  folded\n  text\nkeep: |+\n  kept\n\nstrip: |-\n  stripped\n"),
    (
        "floats",
        "i: .inf\nn: -.inf\nnan: .nan\nbig: 123456789012345678901234567890\none: 1.0\nsmall: 1e-7\n",
    ),
    ("yaml11-words", "yes: no\ny: n\non: off\n\"true\": \"false\"\nnull_str: \"null\"\ntilde: \"~\"\n"),
    ("ints", "hex: 0x1F\noct: 0o17\nplus: +5\nunders: 1_000\nmax: 9223372036854775807\nmin: -9223372036854775808\n"),
    ("times", "d: 2024-01-01\nt: 2001-12-14T21:59:43.10-05:00\ntagged: !!timestamp 2024-02-03\n"),
    ("tags", "bin: !!binary aGVsbG8=\ns: !!str 42\n"),
    ("unicode", "unicode_ключ: значение 🎉\n\"🔑\": \"\\U0001F389 \\u00e9\"\nk: \"\\t tab \\\\ \\\" q\"\n"),
    (
        "comments",
        "# top\n# top 2\na: 1 # inline\n# before b\nb:\n    # inside b\n    c: 2\n    # end of b\nl:\n    # before item\n    - x\n    - y # inline item\n    # after items\n# bottom\n",
    ),
    ("nested-lists", "n:\n- - - deep\n    - [1, [2, [3]]]\n- {}\n- []\n- ''\n- ~\n"),
    ("unencrypted", "pub_unencrypted: visible\nsecret: hidden\nnest_unencrypted:\n  inner: also visible\n"),
];

fn canon(peers: &Peers, keys: &Keys, sb: &Sandbox, name: &str, text: &[u8]) -> Result<Out, String> {
    let plain = format!("{name}.canon-in.yaml");
    sb.write(&plain, text);
    let e = sb.run(
        &peers.sops,
        &["--age", &keys.age1.recipient, "-e", &plain],
        &[],
        None,
    );
    if e.code != 0 {
        return Err(format!(
            "sops cannot encrypt {plain} (exit {}): {}",
            e.code, e.stderr
        ));
    }
    let enc = format!("{name}.canon.enc.yaml");
    sb.write(&enc, &e.stdout);
    let env = [(keys.age1.env_var, keys.age1.key_file.to_str().unwrap())];
    let d = sb.run(&peers.sops, &["decrypt", &enc], &env, None);
    if d.code != 0 {
        return Err(format!(
            "sops cannot decrypt {enc} (exit {}): {}",
            d.code, d.stderr
        ));
    }
    Ok(d)
}

#[test]
fn yaml_edge_cases_both_directions() {
    let peers = sealbox_tests::require!(Peers::get());
    let keys = Keys::generate(&peers);
    let sb = Sandbox::new();
    let env = [(keys.age1.env_var, keys.age1.key_file.to_str().unwrap())];
    let r = keys.age1.recipient.as_str();
    let mut failures = Vec::new();
    for (name, text) in CASES {
        let want = match canon(&peers, &keys, &sb, name, text.as_bytes()) {
            Ok(o) => o.stdout_str(),
            Err(e) => panic!("{name}: the test case itself is broken: {e}"),
        };
        let plain = format!("{name}.yaml");
        sb.write(&plain, text);

        // real sops encrypt -> sealbox decrypt
        let e = sb
            .run(&peers.sops, &["--age", r, "-e", &plain], &[], None)
            .ok("sops encrypt");
        let sops_enc = format!("{name}.sops.enc.yaml");
        sb.write(&sops_enc, &e.stdout);
        let d = sb.run(&peers.sealbox, &["decrypt", &sops_enc], &env, None);
        if d.code != 0 {
            failures.push(format!(
                "{name}: sealbox decrypt of the sops file exits {}: {}",
                d.code, d.stderr
            ));
        } else {
            sb.write(&format!("{name}.sealbox-dec.yaml"), &d.stdout);
            match canon(&peers, &keys, &sb, &format!("{name}.sealbox-dec"), &d.stdout) {
                Ok(c) if c.stdout_str() == want => {}
                Ok(c) => failures.push(format!(
                    "{name}: sealbox's decryption differs\n--- want (canonical)\n{want}--- got (canonical)\n{}--- sealbox raw\n{}",
                    c.stdout_str(),
                    d.stdout_str()
                )),
                Err(e) => failures.push(format!(
                    "{name}: sealbox's decryption is not YAML sops reads: {e}\n{}",
                    d.stdout_str()
                )),
            }
        }

        // sealbox encrypt -> real sops decrypt
        let e = sb.run(&peers.sealbox, &["encrypt", "--age", r, &plain], &[], None);
        if e.code != 0 {
            failures.push(format!(
                "{name}: sealbox encrypt exits {}: {}",
                e.code, e.stderr
            ));
            continue;
        }
        let ours_enc = format!("{name}.sealbox.enc.yaml");
        sb.write(&ours_enc, &e.stdout);
        if *name == "unencrypted" {
            let t = e.stdout_str();
            if !t.contains("visible") || !t.contains("also visible") || t.contains("hidden") {
                failures.push(format!("{name}: wrong leaves left plain:\n{t}"));
            }
        }
        let d = sb.run(&peers.sops, &["decrypt", &ours_enc], &env, None);
        if d.code != 0 {
            failures.push(format!(
                "{name}: real sops cannot decrypt sealbox's file (exit {}): {}",
                d.code, d.stderr
            ));
        } else if d.stdout_str() != want {
            failures.push(format!(
                "{name}: sops decrypts sealbox's file to something else\n--- want\n{want}--- got\n{}",
                d.stdout_str()
            ));
        }
    }
    if !failures.is_empty() {
        let dir = sb.keep();
        panic!(
            "{} failures (files in {}):\n\n{}",
            failures.len(),
            dir.display(),
            failures.join("\n\n")
        );
    }
}

// Duplicate keys, and keys whose paths give the same additional data (`a:b` and `a`/`b`),
// are refused by sealbox where sops accepts them: `hostile_files.rs` checks both.
const JSON_CASES: &[(&str, &str)] = &[
    ("numbers", "{\"neg0\": -0.0, \"big\": 12345678901234567890, \"e\": 1e21, \"small\": 0.000001, \"tiny\": 1e-7, \"one\": 1.0, \"i\": -17}"),
    ("html", "{\"<a&b>\": \"<script>&amp;</script>\", \"sep\": \"\\u2028\\u2029\"}"),
    ("empties", "{\"o\": {}, \"l\": [], \"s\": \"\", \"n\": null, \"nested\": [[], [{}], [[null]]]}"),
    ("escapes", "{\"k\\n\\t\": \"\\u0000\\u001f\\\"\\\\\\/\", \"emoji\": \"\\ud83c\\udf89\"}"),
    ("key-colons", "{\"a:b\": \"colon\", \"a\": {\"c\": \"nested\"}, \"x:\": 1, \":y\": 2}"),
];

#[test]
fn json_edge_cases_both_directions() {
    use sealbox_tests::json;
    let peers = sealbox_tests::require!(Peers::get());
    let keys = Keys::generate(&peers);
    let sb = Sandbox::new();
    let env = [(keys.age1.env_var, keys.age1.key_file.to_str().unwrap())];
    let r = keys.age1.recipient.as_str();
    let mut failures = Vec::new();
    // one huge value (1,000,000 chars, as in docs/format.md#edge-cases)
    let huge = format!("{{\"huge\": \"{}\"}}", "xé🎉".repeat(250_000));
    let mut cases: Vec<(&str, String)> = JSON_CASES
        .iter()
        .map(|(n, t)| (*n, t.to_string()))
        .collect();
    cases.push(("huge", huge));
    for (name, text) in &cases {
        let plain = format!("{name}.json");
        sb.write(&plain, text);
        let e = sb
            .run(&peers.sops, &["--age", r, "-e", &plain], &[], None)
            .ok("sops encrypt");
        let sops_enc = format!("{name}.sops.enc.json");
        sb.write(&sops_enc, &e.stdout);
        let want = sb
            .run(&peers.sops, &["decrypt", &sops_enc], &env, None)
            .ok("sops decrypt");
        let want = json::parse(&want.stdout_str()).expect("sops output is JSON");
        let d = sb.run(&peers.sealbox, &["decrypt", &sops_enc], &env, None);
        match json::parse(&d.stdout_str()) {
            Ok(v) if d.code == 0 && v == want => {}
            _ => failures.push(format!(
                "{name}: sealbox decrypt of the sops file (exit {}) differs from sops: {}\n{}",
                d.code,
                d.stderr,
                d.stdout_str().chars().take(500).collect::<String>()
            )),
        }
        let e = sb.run(&peers.sealbox, &["encrypt", "--age", r, &plain], &[], None);
        if e.code != 0 {
            failures.push(format!(
                "{name}: sealbox encrypt exits {}: {}",
                e.code, e.stderr
            ));
            continue;
        }
        let ours_enc = format!("{name}.sealbox.enc.json");
        sb.write(&ours_enc, &e.stdout);
        let d = sb.run(&peers.sops, &["decrypt", &ours_enc], &env, None);
        match json::parse(&d.stdout_str()) {
            Ok(v) if d.code == 0 && v == want => {}
            _ => failures.push(format!(
                "{name}: sops decrypt of sealbox's file (exit {}) differs: {}\n{}",
                d.code,
                d.stderr,
                d.stdout_str().chars().take(500).collect::<String>()
            )),
        }
    }
    if !failures.is_empty() {
        let dir = sb.keep();
        panic!(
            "{} failures (files in {}):\n\n{}",
            failures.len(),
            dir.display(),
            failures.join("\n\n")
        );
    }
}
