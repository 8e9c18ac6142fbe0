//! Settings of the transit client, read from the environment once, without touching the
//! network or the disk (files named here are read at the first request that needs them).
//!
//! The `VAULT_*` names are the Vault Go client's conventions, which sops inherits; the
//! `SEALBOX_VAULT_*` ones and the AppRole variables are ours. See the module docs for the
//! table.

use super::error::{Error, ErrorKind, Result};
use std::path::PathBuf;
use std::time::Duration;
use zeroize::Zeroizing;

/// Default for `SEALBOX_VAULT_CONNECT_TIMEOUT`.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// Default for `VAULT_CLIENT_TIMEOUT` (the Go client's is 60 s; a host at boot should not
/// wait that long for one answer).
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Default for `SEALBOX_VAULT_DEADLINE`: no operation (all retries, fallbacks and the
/// AppRole login included) takes longer.
pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(30);
/// Default for `VAULT_MAX_RETRIES` (the Vault client's): rounds over all addresses after
/// the first in which no server answered. With the backoff (0.5 s, then 1 s) a Vault that
/// is down is reported after about 1.5 s. Rounds in which a server answered but was
/// between states (a Raft election) are limited by the deadline only.
pub const DEFAULT_MAX_RETRIES: u32 = 2;
/// Default for `SEALBOX_VAULT_RECHECK_AFTER`: an address that did not answer (refused,
/// timed out, sealed) is not asked again by this process for this long. A run over many
/// files then pays for a Vault that is down once, not once per file.
pub const DEFAULT_RECHECK_AFTER: Duration = Duration::from_secs(30);
/// The AppRole mount when `VAULT_APPROLE_MOUNT` is unset.
pub const DEFAULT_APPROLE_MOUNT: &str = "approle";

/// Where a secret comes from: the environment itself, or a file read when needed.
#[derive(Clone)]
pub enum Secret {
    /// The value (from a variable).
    Value(Zeroizing<String>),
    /// A file whose content, trimmed, is the value.
    File(PathBuf),
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Secret::Value(_) => f.write_str("Secret::Value(<redacted>)"),
            Secret::File(p) => write!(f, "Secret::File({})", p.display()),
        }
    }
}

impl Secret {
    /// The value: the variable's, or the file's content with surrounding whitespace
    /// trimmed. `what` names it in errors.
    pub fn read(&self, what: &str) -> Result<Zeroizing<String>> {
        match self {
            Secret::Value(v) => Ok(v.clone()),
            Secret::File(p) => {
                let raw = Zeroizing::new(std::fs::read(p).map_err(|e| {
                    Error::new(ErrorKind::Auth, format!("{what}: {}: {e}", p.display()))
                })?);
                let s = std::str::from_utf8(&raw).map_err(|_| {
                    Error::new(
                        ErrorKind::Auth,
                        format!("{what}: {} is not UTF-8", p.display()),
                    )
                })?;
                Ok(Zeroizing::new(s.trim().to_string()))
            }
        }
    }
}

/// AppRole credentials (beyond sops).
#[derive(Clone, Debug)]
pub struct AppRole {
    /// The auth mount (`auth/<mount>/login`).
    pub mount: String,
    /// `VAULT_ROLE_ID` or `VAULT_ROLE_ID_FILE`.
    pub role_id: Secret,
    /// `VAULT_SECRET_ID` or `VAULT_SECRET_ID_FILE`; none for a role with
    /// `bind_secret_id=false`.
    pub secret_id: Option<Secret>,
}

/// TLS settings (the Vault client's `VAULT_CACERT` & co.).
#[derive(Clone, Debug, Default)]
pub struct Tls {
    /// `VAULT_CACERT`: a PEM file of CA certificates; replaces the system store.
    pub ca_cert: Option<PathBuf>,
    /// `VAULT_CACERT_BYTES`: PEM text; replaces the system store (after `ca_cert`).
    pub ca_cert_bytes: Option<String>,
    /// `VAULT_CAPATH`: a directory of PEM files; replaces the system store (after the two
    /// above).
    pub ca_path: Option<PathBuf>,
    /// `VAULT_CLIENT_CERT` (PEM chain) for TLS client authentication.
    pub client_cert: Option<PathBuf>,
    /// `VAULT_CLIENT_KEY` (PEM key) for TLS client authentication.
    pub client_key: Option<PathBuf>,
    /// `VAULT_SKIP_VERIFY`: no certificate checks at all (tests only!).
    pub skip_verify: bool,
}

/// Everything the client needs besides the key itself.
#[derive(Clone, Debug)]
pub struct Settings {
    /// `VAULT_TOKEN` (first choice).
    pub token: Option<Secret>,
    /// AppRole login (second choice).
    pub approle: Option<AppRole>,
    /// `$HOME/.vault-token` (last choice; missing file = no token, as sops).
    pub token_file: Option<PathBuf>,
    /// `VAULT_AGENT_ADDR`: when set, every request goes there instead of the file's
    /// `vault_address` (the Vault client sops uses does this).
    pub agent_address: Option<String>,
    /// `SEALBOX_VAULT_FALLBACK_ADDRS`: tried in order after the file's address fails.
    pub fallback_addresses: Vec<String>,
    /// `VAULT_NAMESPACE`: sent as `X-Vault-Namespace`.
    pub namespace: Option<String>,
    /// TLS.
    pub tls: Tls,
    /// `VAULT_PROXY_ADDR` (or the older `VAULT_HTTP_PROXY`); else `HTTPS_PROXY` & co.
    pub proxy: Option<String>,
    /// `SOPS_HC_VAULT_ALLOWLIST` (sops 3.13): `None` allows all; else address prefixes,
    /// each ending in `/` (empty list: `none`).
    pub allowlist: Option<Vec<String>>,
    /// `VAULT_DISABLE_REDIRECTS`.
    pub disable_redirects: bool,
    /// `SEALBOX_VAULT_CONNECT_TIMEOUT`.
    pub connect_timeout: Duration,
    /// `VAULT_CLIENT_TIMEOUT`: one request, connect to last byte.
    pub request_timeout: Duration,
    /// `SEALBOX_VAULT_DEADLINE`: one whole operation.
    pub deadline: Duration,
    /// `VAULT_MAX_RETRIES`: rounds over all addresses after the first in which no server
    /// answered.
    pub max_retries: u32,
    /// `SEALBOX_VAULT_RECHECK_AFTER`: how long an address that did not answer is left
    /// out of this process's calls (0: always ask again).
    pub recheck_after: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            token: None,
            approle: None,
            token_file: None,
            agent_address: None,
            fallback_addresses: Vec::new(),
            namespace: None,
            tls: Tls::default(),
            proxy: None,
            allowlist: None,
            disable_redirects: false,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            deadline: DEFAULT_DEADLINE,
            max_retries: DEFAULT_MAX_RETRIES,
            recheck_after: DEFAULT_RECHECK_AFTER,
        }
    }
}

impl Settings {
    /// Reads the process environment.
    pub fn from_env() -> Result<Settings> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// Reads settings through `get` (a variable's value, `None` when unset), so tests and
    /// callers with their own environment need not change the process's. Empty values
    /// count as unset, as in the Vault client.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Settings> {
        let var = |k: &str| get(k).filter(|v| !v.is_empty());
        let path = |k: &str| var(k).map(PathBuf::from);
        let mut s = Settings {
            token: var("VAULT_TOKEN").map(|t| Secret::Value(Zeroizing::new(t))),
            agent_address: var("VAULT_AGENT_ADDR").map(|a| a.trim_end_matches('/').to_string()),
            namespace: var("VAULT_NAMESPACE"),
            proxy: var("VAULT_PROXY_ADDR").or_else(|| var("VAULT_HTTP_PROXY")),
            ..Settings::default()
        };
        s.token_file = match var("HOME") {
            Some(h) => Some(PathBuf::from(h).join(".vault-token")),
            None => home_from_passwd().map(|h| h.join(".vault-token")),
        };
        s.tls = Tls {
            ca_cert: path("VAULT_CACERT"),
            ca_cert_bytes: var("VAULT_CACERT_BYTES"),
            ca_path: path("VAULT_CAPATH"),
            client_cert: path("VAULT_CLIENT_CERT"),
            client_key: path("VAULT_CLIENT_KEY"),
            skip_verify: match var("VAULT_SKIP_VERIFY") {
                Some(v) => parse_bool(&v).ok_or_else(|| bad_var("VAULT_SKIP_VERIFY", &v))?,
                None => false,
            },
        };
        if s.tls.client_cert.is_some() != s.tls.client_key.is_some() {
            return Err(Error::new(
                ErrorKind::Config,
                "VAULT_CLIENT_CERT and VAULT_CLIENT_KEY: both client cert and client key must be provided",
            ));
        }
        if let Some(v) = var("VAULT_DISABLE_REDIRECTS") {
            s.disable_redirects =
                parse_bool(&v).ok_or_else(|| bad_var("VAULT_DISABLE_REDIRECTS", &v))?;
        }
        if let Some(v) = var("VAULT_CLIENT_TIMEOUT") {
            s.request_timeout =
                parse_duration(&v).ok_or_else(|| bad_var("VAULT_CLIENT_TIMEOUT", &v))?;
        }
        if let Some(v) = var("SEALBOX_VAULT_CONNECT_TIMEOUT") {
            s.connect_timeout =
                parse_duration(&v).ok_or_else(|| bad_var("SEALBOX_VAULT_CONNECT_TIMEOUT", &v))?;
        }
        if let Some(v) = var("SEALBOX_VAULT_DEADLINE") {
            s.deadline = parse_duration(&v).ok_or_else(|| bad_var("SEALBOX_VAULT_DEADLINE", &v))?;
        }
        if let Some(v) = var("SEALBOX_VAULT_RECHECK_AFTER") {
            s.recheck_after =
                parse_duration(&v).ok_or_else(|| bad_var("SEALBOX_VAULT_RECHECK_AFTER", &v))?;
        }
        if let Some(v) = var("VAULT_MAX_RETRIES") {
            s.max_retries = v.parse().map_err(|_| bad_var("VAULT_MAX_RETRIES", &v))?;
        }
        if let Some(v) = var("SEALBOX_VAULT_FALLBACK_ADDRS") {
            s.fallback_addresses = v
                .split(',')
                .map(|a| a.trim().trim_end_matches('/').to_string())
                .filter(|a| !a.is_empty())
                .collect();
            for a in &s.fallback_addresses {
                if !(a.starts_with("https://") || a.starts_with("http://")) {
                    return Err(Error::new(
                        ErrorKind::Config,
                        format!(
                            "SEALBOX_VAULT_FALLBACK_ADDRS: {a:?} is not an http:// or https:// address"
                        ),
                    ));
                }
            }
        }
        if let Some(v) = var("SOPS_HC_VAULT_ALLOWLIST") {
            s.allowlist = parse_allowlist(&v)?;
        }
        let role_id = var("VAULT_ROLE_ID")
            .map(|v| Secret::Value(Zeroizing::new(v)))
            .or_else(|| path("VAULT_ROLE_ID_FILE").map(Secret::File));
        let secret_id = var("VAULT_SECRET_ID")
            .map(|v| Secret::Value(Zeroizing::new(v)))
            .or_else(|| path("VAULT_SECRET_ID_FILE").map(Secret::File));
        match (role_id, secret_id) {
            (Some(role_id), secret_id) => {
                s.approle = Some(AppRole {
                    mount: var("VAULT_APPROLE_MOUNT")
                        .map(|m| m.trim_matches('/').to_string())
                        .unwrap_or_else(|| DEFAULT_APPROLE_MOUNT.to_string()),
                    role_id,
                    secret_id,
                })
            }
            (None, Some(_)) => {
                return Err(Error::new(
                    ErrorKind::Config,
                    "VAULT_SECRET_ID(_FILE) is set but VAULT_ROLE_ID(_FILE) is not: \
                     AppRole login needs the role id too",
                ))
            }
            (None, None) => {}
        }
        Ok(s)
    }
}

fn bad_var(name: &str, v: &str) -> Error {
    Error::new(ErrorKind::Config, format!("could not parse {name}={v:?}"))
}

/// Go's `strconv.ParseBool`.
pub(crate) fn parse_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// The Vault client's durations (`parseutil.ParseDurationSecond`): a bare number is
/// seconds; else Go durations like `1m30s`, `1.5s`, `250ms`; `Nd` is days.
pub(crate) fn parse_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    if let Ok(n) = s.parse::<u64>() {
        return Some(Duration::from_secs(n));
    }
    if let Some(d) = s.strip_suffix('d') {
        return d
            .parse::<u64>()
            .ok()
            .map(|n| Duration::from_secs(n * 86_400));
    }
    let mut total = 0f64;
    let mut rest = s;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let num_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let n: f64 = rest[..num_end].parse().ok()?;
        rest = &rest[num_end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let secs = match &rest[..unit_end] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        total += n * secs;
        rest = &rest[unit_end..];
    }
    Duration::try_from_secs_f64(total).ok()
}

/// sops 3.13's `SOPS_HC_VAULT_ALLOWLIST`: `all`, `none`, or comma-separated address
/// prefixes (each made to end in `/`).
fn parse_allowlist(v: &str) -> Result<Option<Vec<String>>> {
    match v {
        "all" => Ok(None),
        "none" => Ok(Some(Vec::new())),
        _ => v
            .split(',')
            .enumerate()
            .map(|(i, u)| {
                let u = u.trim_matches(' ');
                if u.is_empty() {
                    return Err(Error::new(
                        ErrorKind::Config,
                        format!("SOPS_HC_VAULT_ALLOWLIST's entry {} is empty", i + 1),
                    ));
                }
                Ok(if u.ends_with('/') {
                    u.to_string()
                } else {
                    format!("{u}/")
                })
            })
            .collect::<Result<Vec<_>>>()
            .map(Some),
    }
}

/// Whether `address` is allowed by the allowlist (sops 3.13's rule: a prefix match on the
/// address with a `/` appended).
pub(crate) fn allowed(allowlist: &Option<Vec<String>>, address: &str) -> bool {
    let Some(list) = allowlist else { return true };
    let a = if address.ends_with('/') {
        address.to_string()
    } else {
        format!("{address}/")
    };
    list.iter().any(|p| a.starts_with(p.as_str()))
}

/// The current user's home from the password database, as Go's `go-homedir` falls back to
/// when `HOME` is unset (e.g. a service started with an empty environment).
fn home_from_passwd() -> Option<PathBuf> {
    nix::unistd::User::from_uid(nix::unistd::getuid())
        .ok()
        .flatten()
        .map(|u| u.dir)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn from(pairs: &[(&str, &str)]) -> Result<Settings> {
        let m: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::from_lookup(|k| m.get(k).cloned())
    }

    #[test]
    fn an_empty_environment_gives_the_documented_defaults() {
        let s = from(&[("HOME", "/h")]).unwrap();
        assert!(s.token.is_none() && s.approle.is_none());
        assert_eq!(s.token_file.unwrap(), PathBuf::from("/h/.vault-token"));
        assert_eq!(s.request_timeout, DEFAULT_REQUEST_TIMEOUT);
        assert_eq!(s.deadline, DEFAULT_DEADLINE);
        assert_eq!(s.max_retries, DEFAULT_MAX_RETRIES);
        assert_eq!(s.recheck_after, DEFAULT_RECHECK_AFTER);
        assert!(s.allowlist.is_none());
    }

    #[test]
    fn vault_client_durations_parse_as_go_does() {
        assert_eq!(parse_duration("5"), Some(Duration::from_secs(5)));
        assert_eq!(parse_duration("1m30s"), Some(Duration::from_secs(90)));
        assert_eq!(parse_duration("250ms"), Some(Duration::from_millis(250)));
        assert_eq!(parse_duration("1.5s"), Some(Duration::from_millis(1500)));
        assert_eq!(parse_duration("2d"), Some(Duration::from_secs(172_800)));
        for bad in ["", "s", "5x", "-1s", "1..2s"] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
    }

    #[test]
    fn bad_numbers_and_booleans_name_the_variable() {
        for (k, v) in [
            ("VAULT_CLIENT_TIMEOUT", "soon"),
            ("VAULT_SKIP_VERIFY", "yes"),
            ("VAULT_MAX_RETRIES", "-1"),
            ("SEALBOX_VAULT_DEADLINE", "1y"),
            ("SEALBOX_VAULT_RECHECK_AFTER", "later"),
        ] {
            let e = from(&[(k, v)]).unwrap_err().to_string();
            assert!(e.contains(k), "{e}");
        }
    }

    #[test]
    fn approle_needs_a_role_id_and_takes_files() {
        let s = from(&[
            ("VAULT_ROLE_ID", "r"),
            ("VAULT_SECRET_ID_FILE", "/run/secret-id"),
            ("VAULT_APPROLE_MOUNT", "/hosts/"),
        ])
        .unwrap();
        let a = s.approle.unwrap();
        assert_eq!(a.mount, "hosts");
        assert!(
            matches!(a.secret_id, Some(Secret::File(ref p)) if p == &PathBuf::from("/run/secret-id"))
        );
        let e = from(&[("VAULT_SECRET_ID", "s")]).unwrap_err();
        assert!(e.to_string().contains("VAULT_ROLE_ID"), "{e}");
    }

    #[test]
    fn a_client_cert_without_its_key_is_refused() {
        let e = from(&[("VAULT_CLIENT_CERT", "/c.pem")]).unwrap_err();
        assert!(
            e.to_string().contains("both client cert and client key"),
            "{e}"
        );
    }

    #[test]
    fn fallback_addresses_are_a_trimmed_list_of_urls() {
        let s = from(&[(
            "SEALBOX_VAULT_FALLBACK_ADDRS",
            " https://a:8200/, http://b:8200 ,,",
        )])
        .unwrap();
        assert_eq!(s.fallback_addresses, ["https://a:8200", "http://b:8200"]);
        assert!(from(&[("SEALBOX_VAULT_FALLBACK_ADDRS", "a:8200")]).is_err());
    }

    #[test]
    fn the_allowlist_matches_address_prefixes_as_sops_3_13() {
        let l = parse_allowlist("https://a:8200, https://b").unwrap();
        assert!(allowed(&l, "https://a:8200"));
        assert!(allowed(&l, "https://b"));
        assert!(!allowed(&l, "https://a:82001"));
        assert!(!allowed(&l, "https://bb"));
        assert!(!allowed(
            &parse_allowlist("none").unwrap(),
            "https://a:8200"
        ));
        assert!(allowed(&parse_allowlist("all").unwrap(), "https://x"));
        assert!(parse_allowlist("https://a,,https://b").is_err());
    }

    #[test]
    fn secrets_do_not_show_in_debug_output() {
        let s = from(&[("VAULT_TOKEN", "s.topsecret"), ("VAULT_ROLE_ID", "rid")]).unwrap();
        let d = format!("{s:?}");
        assert!(!d.contains("topsecret") && !d.contains("rid\""), "{d}");
    }
}
