//! YAML secrets (needs the real YAML store of sealbox-formats) and a manifest shaped
//! exactly like the NixOS module's (docs/activation.md#example): `null` owners, `sopsFileHash`,
//! `neededForUsers`, a template.

mod common;
use common::*;

const YAML: &str = "test_key: test_value\nnested:\n    test:\n        file: another value\na_list:\n    - e1\n    - e3\n";

#[test]
fn module_shaped_manifest_with_yaml() {
    sealbox_testkit::require!(common::peers());
    let ns = Ns::new();
    let h = ns.h();
    let t = &ns.t;
    let key = h.join("key.txt");
    let r = age_keygen(&key);
    let yaml = h.join("secrets.yaml");
    sops_encrypt(YAML.as_bytes(), "yaml", &r, &yaml);
    let ph = placeholder("test_key");
    let ph_nested = placeholder("nested");
    let secret = |name: &str, key_: &str| {
        format!(
            r#"{{"format":"yaml","gid":0,"group":null,"key":{},"mode":"0400","name":{},"neededForUsers":false,"owner":null,"path":{},"reloadUnits":[],"restartUnits":["{name}.service"],"sopsFile":{},"sopsFileHash":"e155884d","uid":0}}"#,
            js(key_),
            js(name),
            js(&t.join("secrets").join(name).display().to_string()),
            js(&yaml.display().to_string())
        )
    };
    let manifest = |secrets: &[String], with_template: bool| {
        format!(
            r#"{{"ageKeyFile":{},"ageSshKeyPaths":[],"gnupgHome":null,"keepGenerations":1,
 "logging":{{"keyImport":true,"secretChanges":true}},
 "placeholderBySecretName":{{"test_key":{},"nested":{},"whole":{}}},
 "secrets":[{}],
 "secretsMountPoint":{},"sshKeyPaths":[],"symlinkPath":{},
 "templates":[{}],
 "useTmpfs":false,"userMode":false}}"#,
            js(&key.display().to_string()),
            js(&ph),
            js(&ph_nested),
            js(&placeholder("whole")),
            secrets.join(","),
            js(&t.join("secrets.d").display().to_string()),
            js(&t.join("secrets").display().to_string()),
            if with_template {
                format!(
                    r#"{{"content":{},"file":"/nix/store/x-cfg.toml","gid":0,"group":null,"mode":"0400","name":"cfg.toml","owner":null,"path":{},"reloadUnits":[],"restartUnits":[],"uid":0}}"#,
                    js(&format!("password = \"{ph}\"\nnested = \"{ph_nested}\"\n")),
                    js(&t.join("secrets/rendered/cfg.toml").display().to_string())
                )
            } else {
                String::new()
            }
        )
    };
    let m0 = h.join("m0.json");
    std::fs::write(&m0, manifest(&[], false)).unwrap();
    let o = ns.install(&[m0.to_str().unwrap()], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let m1 = h.join("m1.json");
    std::fs::write(
        &m1,
        manifest(
            &[
                secret("test_key", "test_key"),
                secret("nested", "nested/test/file"),
                secret("whole", ""),
            ],
            true,
        ),
    )
    .unwrap();
    let o = ns.install(&[m1.to_str().unwrap()], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        stdout(&o),
        "adding secrets: nested, test_key, whole\nadding rendered secret: cfg.toml\n"
    );
    let link = t.join("secrets");
    assert_eq!(ns.cat(&link.join("test_key")), b"test_value");
    assert_eq!(ns.cat(&link.join("nested")), b"another value");
    assert_eq!(ns.cat(&link.join("whole")), sops_decrypt(&yaml, &key));
    assert_eq!(
        ns.cat(&link.join("rendered/cfg.toml")),
        b"password = \"test_value\"\nnested = \"another value\"\n"
    );
    assert_eq!(ns.stat(&link.join("test_key")), "regular file|400|0|0");
    assert_eq!(ns.ls(&t.join("secrets.d")), ["2", "age-keys.txt"]);
    assert_eq!(
        ns.cat(&t.join("nixos/activation-restart-list")),
        b"test_key.service\nnested.service\nwhole.service\n"
    );
    // a list value is not a string
    let m2 = h.join("m2.json");
    std::fs::write(&m2, manifest(&[secret("a_list", "a_list")], false)).unwrap();
    let o = ns.install(&[m2.to_str().unwrap()], &[]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("secret a_list") && stderr(&o).contains("'a_list' is not a string"),
        "{}",
        stderr(&o)
    );
    // sopsfile check mode sees the keys in the encrypted YAML
    let o = ns.install(&["-check-mode=sopsfile", m1.to_str().unwrap()], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
}
