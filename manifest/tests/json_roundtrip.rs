//! The manifest contract through JSON text: what [`to_json`] writes (what `sealbox
//! manifest` writes) is read back by [`from_json`] (sealbox-install's reader) as it was –
//! for the committed example manifest (byte for byte), the sops-nix module's example, and
//! manifests with awkward strings and extreme numbers. (The same without text, over
//! generated manifests of every shape: `roundtrip.rs`.)

use sealbox_manifest::{from_json as parse, to_json, Manifest, Secret, Template};
use std::path::Path;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap()
}

#[test]
fn the_example_manifest_is_written_back_byte_for_byte() {
    let text = std::fs::read_to_string(root().join("examples/systemd/manifest.json")).unwrap();
    let m = parse(&text).unwrap();
    assert!(!m.secrets.is_empty() && !m.templates.is_empty());
    assert_eq!(to_json(&m).unwrap(), text);
}

#[test]
fn the_module_example_reads_back_as_written() {
    // sops-nix's own shape, with fields sealbox ignores (neededForUsers, sopsFileHash).
    let text = std::fs::read_to_string(root().join("fuzz/corpus/manifest/example.json")).unwrap();
    let m = parse(&text).unwrap();
    assert!(!m.secrets.is_empty());
    assert_eq!(parse(&to_json(&m).unwrap()).unwrap(), m);
}

#[test]
fn awkward_strings_and_extreme_numbers_survive_the_text() {
    const AWKWARD: &[&str] = &[
        "",
        "\"quoted\"",
        "back\\slash",
        "line\nbreak\ttab",
        "<SOPS:x:PLACEHOLDER> & </script>",
        "ü \u{1F512} \u{7f} \u{1}",
        "%r/%%",
    ];
    for (i, s) in AWKWARD.iter().enumerate() {
        let s = s.to_string();
        let mut m = Manifest {
            secrets_mount_point: s.clone(),
            symlink_path: format!("{s}/link"),
            keep_generations: [0, 1, i64::MAX as u64][i % 3],
            age_key_file: s.clone(),
            age_ssh_key_paths: vec![s.clone(), String::new()],
            placeholder_by_secret_name: vec![(s.clone(), s.clone())],
            ..Manifest::default()
        };
        m.secrets.push(Secret {
            key: s.clone(),
            credential_name: (i % 2 == 0).then(|| s.clone()),
            ..Secret::default()
        });
        m.secrets[0].common.name = s.clone();
        m.secrets[0].common.uid = u32::MAX;
        m.secrets[0].common.owner = Some(s.clone());
        m.secrets[0].common.restart_units = vec![s.clone()];
        m.templates.push(Template {
            content: s.clone(),
            ..Template::default()
        });
        assert_eq!(parse(&to_json(&m).unwrap()).unwrap(), m, "{s:?}");
    }
}
