//! The plugin's own command line: `--generate` makes the documented key of each mode (and
//! the same key again for the same `--seed`), `-y` turns identities into recipients, and
//! bad arguments are refused with the usage.

use age_plugin_sealboxtest::{Identity, Mode};
use std::io::Write;
use std::process::{Command, Output, Stdio};

fn plugin(args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_age-plugin-sealboxtest"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn generate_prints_a_key_of_the_asked_mode_and_its_recipient() {
    let seed = "07".repeat(32);
    for mode in Mode::ALL {
        let o = plugin(&["--generate", "--mode", mode.name(), "--seed", &seed], "");
        assert!(o.status.success(), "{}", text(&o.stderr));
        let out = text(&o.stdout);
        let id_line = out
            .lines()
            .find(|l| l.starts_with("AGE-PLUGIN-SEALBOXTEST-1"))
            .unwrap_or_else(|| panic!("{out}"));
        let id = Identity::parse(id_line).unwrap();
        assert_eq!((id.mode, id.seed), (mode, [7; 32]), "{out}");
        assert!(out.contains(&format!("# mode: {}", mode.name())), "{out}");
        assert!(
            out.contains(&format!("# recipient: {}\n", id.recipient().encode())),
            "{out}"
        );
        // The same seed, the same key.
        let again = plugin(&["--generate", "--mode", mode.name(), "--seed", &seed], "");
        assert_eq!(again.stdout, o.stdout);
    }
    // Without --seed: a fresh random key each time, silent by default.
    let a = text(&plugin(&["--generate"], "").stdout);
    let b = text(&plugin(&["--generate"], "").stdout);
    assert_ne!(a, b);
    assert!(a.contains("# mode: silent"), "{a}");
}

#[test]
fn y_prints_one_recipient_per_identity_and_names_a_bad_line_by_number() {
    let k1 = Identity {
        mode: Mode::Pin,
        seed: [1; 32],
    };
    let k2 = Identity {
        mode: Mode::Silent,
        seed: [2; 32],
    };
    let input = format!("# keys\n{}\n\n{}\n", k1.encode(), k2.encode());
    let o = plugin(&["-y"], &input);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(
        text(&o.stdout),
        format!("{}\n{}\n", k1.recipient().encode(), k2.recipient().encode())
    );
    let o = plugin(
        &["-y"],
        &format!("{}\nAGE-PLUGIN-SEALBOXTEST-1BROKEN\n", k1.encode()),
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o.stderr).contains("stdin line 2"),
        "{}",
        text(&o.stderr)
    );
}

#[test]
fn bad_arguments_get_the_usage_and_exit_2() {
    for args in [
        &[][..],
        &["--mode", "loud", "--generate"],
        &["--seed", "abc", "--generate"],
        &["--frobnicate"],
        &["--mode"],
    ] {
        let o = plugin(args, "");
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        assert!(
            text(&o.stderr).contains("usage: age-plugin-sealboxtest"),
            "{args:?}"
        );
    }
    let o = plugin(&["--age-plugin=no-such-v1"], "");
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o.stderr).contains("unknown plugin state machine"),
        "{}",
        text(&o.stderr)
    );
}
