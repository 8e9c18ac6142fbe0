//! What the writer writes, the reader reads back as it was: for generated manifests (every
//! field, awkward strings, extreme numbers, set and unset options) and for the shapes the
//! NixOS module writes. (The same through JSON text, with sealbox-formats' parser and
//! emitter: `json_roundtrip.rs`.)

use sealbox_manifest::{read, write, Common, Logging, Manifest, Secret, Template, Value};

/// A small deterministic generator (xorshift64*), so a failure is reproducible by seed.
struct Gen(u64);

impl Gen {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn flag(&mut self) -> bool {
        self.below(2) == 0
    }
    fn text(&mut self) -> String {
        const PIECES: &[&str] = &[
            "",
            "a",
            "db/password",
            "/run/secrets/x",
            "0440",
            "ü",
            "\"",
            "\\",
            "\n",
            "<SOPS:",
            "%r",
            " ",
            "nginx.service",
            "\u{1F512}",
            "null",
            "0",
        ];
        (0..self.below(4))
            .map(|_| PIECES[self.below(PIECES.len() as u64) as usize])
            .collect()
    }
    fn texts(&mut self) -> Vec<String> {
        (0..self.below(4)).map(|_| self.text()).collect()
    }
    fn opt(&mut self) -> Option<String> {
        self.flag().then(|| self.text())
    }
    fn id(&mut self) -> u32 {
        match self.below(4) {
            0 => 0,
            1 => u32::MAX,
            _ => self.next() as u32,
        }
    }
    fn common(&mut self, i: usize) -> Common {
        Common {
            name: format!("{}{i}", self.text()),
            path: self.text(),
            mode: self.text(),
            owner: self.opt(),
            uid: self.id(),
            group: self.opt(),
            gid: self.id(),
            restart_units: self.texts(),
            reload_units: self.texts(),
        }
    }
    fn manifest(&mut self) -> Manifest {
        let secrets: Vec<Secret> = (0..self.below(4) as usize)
            .map(|i| Secret {
                common: self.common(i),
                key: self.text(),
                sops_file: self.text(),
                format: self.text(),
                credential_name: self.opt(),
            })
            .collect();
        let templates = (0..self.below(3) as usize)
            .map(|i| Template {
                common: self.common(i),
                content: self.text(),
                file: self.text(),
            })
            .collect();
        let mut placeholder_by_secret_name = Vec::new();
        for s in &secrets {
            if self.flag() {
                placeholder_by_secret_name.push((s.common.name.clone(), self.text()));
            }
        }
        Manifest {
            secrets,
            templates,
            placeholder_by_secret_name,
            secrets_mount_point: self.text(),
            symlink_path: self.text(),
            keep_generations: match self.below(3) {
                0 => 0,
                1 => i64::MAX as u64,
                _ => self.below(100),
            },
            ssh_key_paths: self.texts(),
            gnupg_home: self.text(),
            age_key_file: self.text(),
            age_ssh_key_paths: self.texts(),
            use_tmpfs: self.flag(),
            user_mode: self.flag(),
            logging: Logging {
                key_import: self.flag(),
                secret_changes: self.flag(),
            },
        }
    }
}

#[test]
fn generated_manifests_read_back_as_written() {
    for seed in 1..=2000u64 {
        let m = Gen(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15)).manifest();
        let back = read(&write(&m)).unwrap_or_else(|e| panic!("seed {seed}: {e}"));
        assert_eq!(back, m, "seed {seed}");
    }
}

fn keys(v: &Value) -> Vec<&str> {
    match v {
        Value::Object(o) => o.iter().map(|(k, _)| k.as_str()).collect(),
        _ => panic!("not an object"),
    }
}

fn get<'a>(v: &'a Value, k: &str) -> &'a Value {
    match v {
        Value::Object(o) => &o.iter().find(|(n, _)| n == k).unwrap().1,
        _ => panic!("not an object"),
    }
}

/// The shape `builtins.toJSON` gives the module's manifest: every field, keys sorted,
/// unset paths `null`, `credentialName` only where set.
#[test]
fn the_writer_writes_every_field_sorted_like_the_module() {
    let mut m = Manifest::default();
    m.secrets.push(Secret::default());
    m.secrets.push(Secret {
        credential_name: Some("c".into()),
        ..Secret::default()
    });
    m.templates.push(Template::default());
    let v = write(&m);
    assert_eq!(
        keys(&v),
        [
            "ageKeyFile",
            "ageSshKeyPaths",
            "gnupgHome",
            "keepGenerations",
            "logging",
            "placeholderBySecretName",
            "secrets",
            "secretsMountPoint",
            "sshKeyPaths",
            "symlinkPath",
            "templates",
            "useTmpfs",
            "userMode"
        ]
    );
    assert_eq!(*get(&v, "ageKeyFile"), Value::Null);
    assert_eq!(*get(&v, "gnupgHome"), Value::Null);
    assert_eq!(keys(get(&v, "logging")), ["keyImport", "secretChanges"]);
    let Value::List(secrets) = get(&v, "secrets") else {
        panic!()
    };
    let common = [
        "format",
        "gid",
        "group",
        "key",
        "mode",
        "name",
        "owner",
        "path",
        "reloadUnits",
        "restartUnits",
        "sopsFile",
        "uid",
    ];
    assert_eq!(keys(&secrets[0]), common);
    let mut with_cred = common.to_vec();
    with_cred.insert(0, "credentialName");
    assert_eq!(keys(&secrets[1]), with_cred);
    assert_eq!(*get(&secrets[0], "owner"), Value::Null);
    let Value::List(templates) = get(&v, "templates") else {
        panic!()
    };
    assert_eq!(
        keys(&templates[0]),
        [
            "content",
            "file",
            "gid",
            "group",
            "mode",
            "name",
            "owner",
            "path",
            "reloadUnits",
            "restartUnits",
            "uid"
        ]
    );
}

/// Reading follows Go's decoder: keys match case-insensitively (an exact one first), the
/// rest is ignored, `null` is the zero value.
#[test]
fn reading_is_case_insensitive_and_ignores_unknown_fields() {
    let obj = |pairs: Vec<(&str, Value)>| {
        Value::Object(pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
    };
    let v = obj(vec![
        ("SYMLINKPATH", Value::str("/loose")),
        ("symlinkPath", Value::str("/exact")),
        ("SecretsMountPoint", Value::str("/mp")),
        ("neededForUsers", Value::Bool(true)),
        ("ageKeyFile", Value::Null),
    ]);
    let m = read(&v).unwrap();
    assert_eq!(m.symlink_path, "/exact");
    assert_eq!(m.secrets_mount_point, "/mp");
    assert_eq!(m.age_key_file, "");
}
