//! The NixOS module's install units as unit files, for the real-systemd suite.
//!
//! `nix/modules/install-units.json` holds the settings of `sops-install-secrets.service`,
//! `sops-install-secrets-for-users.service` and `sops-install-secrets-network.service`; `nix/modules/nixos.nix` turns each entry
//! into `systemd.services.<name>` and completes it with what depends on the configuration.
//! nixpkgs' `lib` renders no unit files, so this module does what NixOS's unit builder does
//! with those options, for the same data: `description` → `Description=`,
//! `before`/`after`/`wants` → one `Before=`/`After=`/`Wants=` line, `unitConfig`/`serviceConfig` → `Key=value` lines (a list
//! gives one line per item, booleans `true`/`false`), `environment` → `Environment="K=V"`,
//! `wantedBy`/`requiredBy` → links in `<target>.wants/` / `<target>.requires/`. Like the
//! module it adds `RequiresMountsFor=` (the key paths) and
//! `ExecStart=<package>/bin/sealbox-install <flags> <manifest>`.
//!
//! A key it does not know is an error, so a setting added to the data file cannot go
//! untested by mistake. PATH (the module's `path = age.plugins`, to which NixOS adds its
//! base packages) is left to the container's default, which has `systemctl`.

use crate::json::{self, Value};
use std::path::PathBuf;

/// `nix/modules/install-units.json`.
pub fn data_file() -> PathBuf {
    crate::workspace_root()
        .join("nix")
        .join("modules")
        .join("install-units.json")
}

/// What the module adds to a unit of the data file.
pub struct Context<'a> {
    /// The sealbox package's prefix (`<prefix>/bin/sealbox-install`).
    pub package: &'a str,
    /// The manifest the unit installs.
    pub manifest: &'a str,
    /// The configured key paths (`RequiresMountsFor=`).
    pub key_paths: &'a [&'a str],
}

/// One rendered unit.
#[derive(Debug)]
pub struct Unit {
    /// `sops-install-secrets.service`.
    pub file_name: String,
    /// `regular`, `users` or `network`: which of the module's manifests it installs.
    pub manifest_kind: String,
    /// The unit file.
    pub text: String,
    /// (`/etc/systemd/system/<target>.wants/<file_name>` or `.requires/`): the links NixOS
    /// makes for `wantedBy` and `requiredBy`.
    pub links: Vec<String>,
}

/// Renders unit `name` of the data file `text`.
pub fn render(text: &str, name: &str, ctx: &Context) -> Result<Unit, String> {
    let doc = json::parse(text).map_err(|e| format!("install-units.json: {e}"))?;
    let u = doc
        .get("units")
        .and_then(|u| u.get(name))
        .ok_or_else(|| format!("install-units.json: no units.{name}"))?;
    let Value::Obj(fields) = u else {
        return Err(format!("install-units.json: units.{name} is not an object"));
    };
    let file_name = format!("{name}.service");
    let mut unit = vec!["[Unit]".to_string()];
    let mut service = vec!["[Service]".to_string()];
    let mut links = Vec::new();
    let mut manifest_kind = None;
    let mut flags = Vec::new();
    let mut retry_every = None;
    for (key, v) in fields {
        let what = format!("units.{name}.{key}");
        match key.as_str() {
            "manifest" => manifest_kind = Some(string(v, &what)?),
            "flags" => flags = strings(v, &what)?,
            "retryEvery" => match v {
                Value::Num(n) if n.parse::<u64>().is_ok_and(|n| n >= 1) => {
                    retry_every = Some(n.clone())
                }
                _ => return Err(format!("{what}: not a whole number of seconds")),
            },
            "description" => unit.push(format!("Description={}", string(v, &what)?)),
            "before" | "after" | "wants" => {
                let list = strings(v, &what)?;
                if !list.is_empty() {
                    let k = match key.as_str() {
                        "before" => "Before",
                        "after" => "After",
                        _ => "Wants",
                    };
                    unit.push(format!("{k}={}", list.join(" ")));
                }
            }
            "wantedBy" | "requiredBy" => {
                let dir = if key == "wantedBy" {
                    "wants"
                } else {
                    "requires"
                };
                for target in strings(v, &what)? {
                    links.push(format!("/etc/systemd/system/{target}.{dir}/{file_name}"));
                }
            }
            "unitConfig" => section(v, &what, &mut unit)?,
            "serviceConfig" => {
                if v.get("ExecStart").is_some() {
                    return Err(format!(
                        "{what}.ExecStart: the module sets it, not the data"
                    ));
                }
                section(v, &what, &mut service)?
            }
            "environment" => {
                let Value::Obj(env) = v else {
                    return Err(format!("{what}: not an object"));
                };
                for (k, val) in env {
                    let val = string(val, &format!("{what}.{k}"))?;
                    service.push(format!("Environment=\"{k}={val}\""));
                }
            }
            "comment" => {}
            _ => {
                return Err(format!(
                    "install-units.json: {what}: a setting the real-systemd suite does not \
                     render; teach tests/src/nixos_units.rs what NixOS makes of it"
                ))
            }
        }
    }
    let manifest_kind = manifest_kind
        .ok_or_else(|| format!("install-units.json: units.{name}.manifest missing"))?;
    for p in ctx.key_paths {
        unit.push(format!("RequiresMountsFor={p}"));
    }
    let flags: String = flags.iter().map(|f| format!(" {f}")).collect();
    let cmd = format!(
        "{}/bin/sealbox-install{flags} {}",
        ctx.package, ctx.manifest
    );
    // As nixos.nix: retried inside one start job.
    service.push(match retry_every {
        Some(n) => format!("ExecStart=/bin/sh -c 'until {cmd}; do sleep {n}; done'"),
        None => format!("ExecStart={cmd}"),
    });
    Ok(Unit {
        file_name,
        manifest_kind,
        text: format!("{}\n\n{}\n", unit.join("\n"), service.join("\n")),
        links,
    })
}

fn string(v: &Value, what: &str) -> Result<String, String> {
    v.as_str()
        .map(str::to_string)
        .ok_or_else(|| format!("install-units.json: {what}: not a string"))
}

fn strings(v: &Value, what: &str) -> Result<Vec<String>, String> {
    match v {
        Value::Arr(a) => a.iter().map(|x| string(x, what)).collect(),
        _ => Err(format!("install-units.json: {what}: not a list")),
    }
}

/// `Key=value` lines as NixOS's `attrsToSection` makes them.
fn section(v: &Value, what: &str, out: &mut Vec<String>) -> Result<(), String> {
    let Value::Obj(entries) = v else {
        return Err(format!("install-units.json: {what}: not an object"));
    };
    for (k, val) in entries {
        let one = |x: &Value| match x {
            Value::Str(s) => Ok(s.clone()),
            Value::Bool(b) => Ok(b.to_string()),
            Value::Num(n) => Ok(n.clone()),
            _ => Err(format!(
                "install-units.json: {what}.{k}: not a string, number or boolean"
            )),
        };
        match val {
            Value::Arr(items) => {
                for x in items {
                    out.push(format!("{k}={}", one(x)?));
                }
            }
            x => out.push(format!("{k}={}", one(x)?)),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const CTX: Context = Context {
        package: "/pkg",
        manifest: "/m.json",
        key_paths: &["/var/lib/k.txt"],
    };

    #[test]
    fn a_unit_renders_as_nixos_writes_it() {
        let data = r#"{"units": {"u": {"manifest": "users", "flags": ["--ignore-passwd"],
            "description": "d", "wantedBy": ["a.target"], "requiredBy": ["b.target"],
            "before": ["x.service", "y.target"], "after": [], "wants": ["w.target"],
            "unitConfig": {"DefaultDependencies": "no", "Documentation": ["one", "two"]},
            "environment": {"K": "v"},
            "serviceConfig": {"Type": "oneshot", "RemainAfterExit": true}}}}"#;
        let u = render(data, "u", &CTX).unwrap();
        assert_eq!(
            u.text,
            "[Unit]\nDescription=d\nBefore=x.service y.target\nWants=w.target\nDefaultDependencies=no\n\
             Documentation=one\nDocumentation=two\nRequiresMountsFor=/var/lib/k.txt\n\n\
             [Service]\nEnvironment=\"K=v\"\nType=oneshot\nRemainAfterExit=true\n\
             ExecStart=/pkg/bin/sealbox-install --ignore-passwd /m.json\n"
        );
        assert_eq!(
            u.links,
            [
                "/etc/systemd/system/a.target.wants/u.service",
                "/etc/systemd/system/b.target.requires/u.service"
            ]
        );
        assert_eq!(u.manifest_kind, "users");
    }

    #[test]
    fn retry_every_loops_the_install_inside_one_start_job() {
        let data = r#"{"units": {"u": {"manifest": "network", "flags": [], "retryEvery": 7}}}"#;
        let u = render(data, "u", &CTX).unwrap();
        assert!(
            u.text.ends_with(
                "ExecStart=/bin/sh -c 'until /pkg/bin/sealbox-install /m.json; do sleep 7; done'\n"
            ),
            "{}",
            u.text
        );
        for bad in ["0", "\"10s\"", "1.5"] {
            let data =
                format!(r#"{{"units": {{"u": {{"manifest": "network", "retryEvery": {bad}}}}}}}"#);
            let e = render(&data, "u", &CTX).unwrap_err();
            assert!(e.contains("units.u.retryEvery"), "{bad}: {e}");
        }
    }

    #[test]
    fn a_setting_the_renderer_does_not_know_is_an_error() {
        let data = r#"{"units": {"u": {"manifest": "regular", "partOf": ["x.target"]}}}"#;
        let e = render(data, "u", &CTX).unwrap_err();
        assert!(
            e.contains("units.u.partOf") && e.contains("nixos_units.rs"),
            "{e}"
        );
        let data =
            r#"{"units": {"u": {"manifest": "regular", "serviceConfig": {"ExecStart": "x"}}}}"#;
        assert!(render(data, "u", &CTX).unwrap_err().contains("ExecStart"));
    }

    #[test]
    fn the_modules_data_file_renders() {
        let text = std::fs::read_to_string(data_file()).unwrap();
        for name in [
            "sops-install-secrets",
            "sops-install-secrets-for-users",
            "sops-install-secrets-network",
        ] {
            let u = render(&text, name, &CTX).unwrap_or_else(|e| panic!("{e}"));
            assert!(u.text.contains("\nType=oneshot\n"), "{}", u.text);
        }
        // The early units refuse Vault; the network unit waits for the network.
        let early = render(&text, "sops-install-secrets", &CTX).unwrap();
        assert!(
            early.text.contains(" --no-network /m.json"),
            "{}",
            early.text
        );
        let net = render(&text, "sops-install-secrets-network", &CTX).unwrap();
        assert_eq!(net.manifest_kind, "network");
        assert!(
            net.text.contains("\nWants=network-online.target\n")
                && net
                    .text
                    .contains("\nAfter=network-online.target sops-install-secrets.service\n")
                && !net.text.contains("--no-network"),
            "{}",
            net.text
        );
    }
}
