//! Hostile sops files at activation (issue 13): a YAML alias bomb and a file with a key
//! given twice fail alone, with their names, under an address-space limit, while the
//! other secrets install (`--keep-going`); `--check-mode=sopsfile` (a Nix build) reports
//! them without running out of memory either.

mod common;
use common::*;

/// `prlimit` around sealbox-install: far above what these files need, far below what the
/// bomb expands to (0.6 MB of YAML copied into 5 GB by its alias keys).
const LIMIT: [&str; 2] = ["prlimit", "--as=1073741824"];

fn alias_key_bomb(prefix: &str) -> String {
    let mut s = format!("{prefix}bomb: &s \"{}\"\nlist:\n", "A".repeat(200_000));
    for i in 0..25_000 {
        s.push_str(&format!("    - *s : {i}\n"));
    }
    s
}

#[test]
fn a_bomb_and_a_duplicate_key_fail_alone_and_the_rest_installs() {
    sealbox_testkit::require!(common::peers());
    let f = Fixture::new();
    let ns = &f.ns;
    let good = f.enc("good.yaml", "yaml", b"token: tok-good\n");
    let base = f.enc("base.yaml", "yaml", b"password: hunter2\n");
    let enc = std::fs::read_to_string(&base).unwrap();
    // The bomb before valid metadata: parsing comes before any MAC check.
    let bomb = ns.h().join("bomb.yaml");
    std::fs::write(&bomb, alias_key_bomb(&enc)).unwrap();
    // A second, empty password first: the MAC does not see it, the first wins on lookup.
    let dup = ns.h().join("dup.yaml");
    std::fs::write(&dup, format!("password: \"\"\n{enc}")).unwrap();
    let m = f.manifest(
        vec![
            e("good", &good, "yaml", "token"),
            e("bombed", &bomb, "yaml", "password"),
            e("blanked", &dup, "yaml", "password"),
        ],
        vec![],
        1,
    );
    let mf = m.write(ns.h(), "m.json");

    // A Nix build's check reads every sops file.
    let o = std::process::Command::new(LIMIT[0])
        .args(&LIMIT[1..])
        .arg(BIN)
        .args(["--check-mode=sopsfile", &mf])
        .output()
        .unwrap();
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&bomb.display().to_string()) && err.contains("anchors and aliases expand"),
        "{err}"
    );
    assert!(
        err.contains(&dup.display().to_string()) && err.contains(r#"duplicate key ["password"]"#),
        "{err}"
    );

    let o = ns.install_with(&LIMIT, "077", &["--keep-going", &mf], &[]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("bombed") && err.contains(&bomb.display().to_string()),
        "the bomb is reported by name: {err}"
    );
    assert!(err.contains("anchors and aliases expand"), "{err}");
    assert!(
        err.contains("blanked")
            && err.contains(&dup.display().to_string())
            && err.contains("duplicate key"),
        "{err}"
    );
    assert!(
        !err.contains("hunter2") && !err.contains("tok-good"),
        "{err}"
    );
    let link = m.link();
    assert_eq!(ns.cat(&link.join("good")), b"tok-good");
    assert!(!ns.exists(&link.join("bombed")));
    assert!(!ns.exists(&link.join("blanked")));
}
