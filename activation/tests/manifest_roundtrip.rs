//! The manifest contract through JSON text: what sealbox-manifest's writer writes,
//! emitted by sealbox-formats' JSON emitter (as `sealbox manifest` does), is read back by
//! sealbox-install's reader (`sealbox_activation::manifest::parse`) as it was – for the
//! committed example manifest (byte for byte), the sops-nix module's example, and
//! manifests with awkward strings and extreme numbers. (The same without text, over
//! generated manifests of every shape: `manifest/tests/roundtrip.rs`.)

use sealbox_activation::manifest::parse;
use sealbox_formats::store::json;
use sealbox_formats::{Map, Value};
use sealbox_manifest::{write, Manifest, Secret, Template};
use std::path::Path;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap()
}

/// The JSON text the writer's manifest becomes (as `sealbox manifest` writes it).
fn emit(m: &Manifest) -> String {
    fn tree(v: &sealbox_manifest::Value) -> Value {
        use sealbox_manifest::Value as V;
        match v {
            V::Null => Value::Null,
            V::Bool(b) => Value::Bool(*b),
            V::Int(i) => Value::Int(*i),
            V::Float(f) => Value::Float(*f),
            V::Str(s) => Value::str(s),
            V::List(l) => Value::List(l.iter().map(tree).collect()),
            V::Object(o) => {
                let mut m = Map::new();
                for (k, v) in o {
                    m.push(k, tree(v));
                }
                Value::Map(m)
            }
        }
    }
    let Value::Map(doc) = tree(&write(m)) else {
        panic!("a manifest is an object")
    };
    json::emit(&doc, 2).unwrap()
}

#[test]
fn the_example_manifest_is_written_back_byte_for_byte() {
    let text = std::fs::read_to_string(root().join("examples/systemd/manifest.json")).unwrap();
    let m = parse(&text).unwrap();
    assert!(!m.secrets.is_empty() && !m.templates.is_empty());
    assert_eq!(emit(&m), text);
}

#[test]
fn the_module_example_reads_back_as_written() {
    // sops-nix's own shape, with fields sealbox ignores (neededForUsers, sopsFileHash).
    let text = std::fs::read_to_string(root().join("fuzz/corpus/manifest/example.json")).unwrap();
    let m = parse(&text).unwrap();
    assert!(!m.secrets.is_empty());
    assert_eq!(parse(&emit(&m)).unwrap(), m);
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
        assert_eq!(parse(&emit(&m)).unwrap(), m, "{s:?}");
    }
}
