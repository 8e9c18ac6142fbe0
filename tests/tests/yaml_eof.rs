//! YAML block scalars at the end of a file, with and without a final line break, against
//! the real sops 3.11: every chomping indicator (`|`, `|-`, `|+`, `>`, `>-`, `>+`), with
//! and without an indentation indicator, followed by nothing, line breaks, blank lines or
//! an unterminated line of spaces. Each text is encrypted by each tool and decrypted by the
//! other (and by sops itself, the reference), and the values (`--extract`, raw bytes) must
//! be the same byte for byte: an extra line break read at the end would be encrypted and
//! change the secret (formats/src/store/yaml/mod.rs, `fix_unterminated_block_scalar`).

use sealbox_tests::{Keys, Out, Peers, Sandbox};

const HEADS: &[&str] = &["|", "|-", "|+", ">", ">-", ">+", "|2", "|+2", ">-2", ">2+"];

/// What follows the block's last content line.
const TAILS: &[&str] = &["", "\n", "\n\n", "\n\n\n", "\n  ", "\n\n  ", "\n    "];

/// Texts beyond the matrix: nesting, lists, no content line, CR LF, what may follow.
const MORE: &[(&str, &str)] = &[
    ("k:\n  n: |+\n    a\n\n  ", r#"["k"]["n"]"#),
    ("k:\n  n: >\n    a\n    b", r#"["k"]["n"]"#),
    ("k:\n  - |\n    a\n    b", r#"["k"][0]"#),
    ("k:\n  - |+\n    a\n\n", r#"["k"][0]"#),
    ("k: |+\n  ", r#"["k"]"#),
    ("k: |+\n\n ", r#"["k"]"#),
    ("k: >+\n\n\n   ", r#"["k"]"#),
    ("k: |2+\n   ", r#"["k"]"#),
    ("k: |", r#"["k"]"#),
    ("k: |\r\n  a\r\n  b", r#"["k"]"#),
    ("k: |+\r\n  a\r\n\r\n", r#"["k"]"#),
    ("k: |\n  a\n# c", r#"["k"]"#),
    ("k: |+\n  a\n\n# c", r#"["k"]"#),
    ("k: |\n  a\nz: 1", r#"["k"]"#),
];

fn cases() -> Vec<(String, &'static str)> {
    let mut v = Vec::new();
    for h in HEADS {
        for t in TAILS {
            // A more indented line too, which folding keeps on its own line.
            v.push((format!("k: {h}\n  multi\n    more\n  line{t}"), r#"["k"]"#));
        }
    }
    v.extend(MORE.iter().map(|(t, p)| (t.to_string(), *p)));
    v
}

/// One step's output, or why it failed.
fn ok(o: Out, what: &str) -> Result<Vec<u8>, String> {
    if o.code == 0 {
        Ok(o.stdout)
    } else {
        Err(format!("{what}: exit {}: {}", o.code, o.stderr))
    }
}

/// Encrypts `text` with each tool and decrypts each result with the other; Err: what
/// differs.
fn check(peers: &Peers, keys: &Keys, text: &str, path: &str) -> Result<(), String> {
    let sb = Sandbox::new();
    sb.write("in.yaml", text);
    let r = keys.age1.recipient.as_str();
    let key = keys.age1.key_file.display().to_string();
    let env = [("SOPS_AGE_KEY_FILE", key.as_str())];
    let extract =
        |prog, file: &str| sb.run(prog, &["decrypt", "--extract", path, file], &env, None);
    let by_sops = ok(
        sb.run(&peers.sops, &["encrypt", "--age", r, "in.yaml"], &[], None),
        "sops encrypt",
    )?;
    sb.write("sops.enc.yaml", &by_sops);
    let by_sealbox = ok(
        sb.run(
            &peers.sealbox,
            &["encrypt", "--age", r, "in.yaml"],
            &[],
            None,
        ),
        "sealbox encrypt",
    )?;
    sb.write("sealbox.enc.yaml", &by_sealbox);
    let want = ok(
        extract(&peers.sops, "sops.enc.yaml"),
        "sops decrypt of sops'",
    )?;
    let ours_of_theirs = ok(
        extract(&peers.sealbox, "sops.enc.yaml"),
        "sealbox decrypt of sops'",
    )?;
    let theirs_of_ours = ok(
        extract(&peers.sops, "sealbox.enc.yaml"),
        "sops decrypt of sealbox's",
    )?;
    if ours_of_theirs == want && theirs_of_ours == want {
        Ok(())
    } else {
        Err(format!(
            "values differ: sops {:?}, sealbox decrypting sops' {:?}, sops decrypting sealbox's {:?}",
            String::from_utf8_lossy(&want),
            String::from_utf8_lossy(&ours_of_theirs),
            String::from_utf8_lossy(&theirs_of_ours)
        ))
    }
}

#[test]
fn block_scalars_at_the_end_of_a_file_decrypt_to_the_same_bytes_in_both_tools() {
    let peers = sealbox_tests::require!(Peers::get());
    let keys = Keys::generate(&peers);
    let cases = cases();
    // Five short runs per text; four at a time.
    let next = std::sync::atomic::AtomicUsize::new(0);
    let failures = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let Some((text, path)) = cases.get(i) else {
                    break;
                };
                if let Err(e) = check(&peers, &keys, text, path) {
                    failures
                        .lock()
                        .unwrap()
                        .push(format!("{text:?} {path}: {e}"));
                }
            });
        }
    });
    let failures = failures.into_inner().unwrap();
    assert!(
        failures.is_empty(),
        "{} of {} texts differ:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}
