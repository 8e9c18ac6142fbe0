//! One HTTP request to one Vault address, with at most one redirect, and what came of it.
//!
//! The HTTP/1.1 client is `ureq` 3 with `rustls` (ring provider). Nothing here runs before
//! the first request: the agents, the system CA store and the TLS configuration are made
//! on first use, and an `http://` address never loads the CA store at all. A `sealbox`
//! that decrypts only age files pays nothing for this module at start-up.
//!
//! Redirects are followed by hand, as the Vault client does (one hop, 301/302/307/308,
//! never from https to http), with one more rule of ours: the target must be an address
//! the operator named (the file's, a fallback, the agent) or the same host and port,
//! because the token goes with the request.

use super::error::{Error, ErrorKind, Result};
use super::settings::{allowed, Settings};
use std::io::Read;
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use ureq::tls::{Certificate, ClientCert, PemItem, RootCerts, TlsConfig, TlsProvider};
use zeroize::Zeroizing;

/// Largest response body we read: Vault's answers here are a few hundred bytes.
const MAX_BODY: usize = 1 << 20;

/// HTTP method of a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Method {
    Get,
    /// The Vault client's `Logical().Write` uses PUT, so sops does; Vault treats PUT and
    /// POST alike.
    Put,
}

/// What one attempt gave.
pub(crate) enum Outcome {
    /// A 2xx answer's body.
    Ok(Zeroizing<Vec<u8>>),
    /// A failure another address, or a later try, may not have. `skip`: do not try this
    /// address again in this operation (a TLS failure, an uninitialised node, a refused
    /// redirect). `transition`: the server answered but is between states (5xx, 429, a
    /// standby pointing at an active node that is gone): a cluster electing a leader.
    Retry {
        kind: ErrorKind,
        what: String,
        skip: bool,
        transition: bool,
    },
    /// An answer that would be the same anywhere (403, 400, 404): stop.
    Fatal { kind: ErrorKind, what: String },
}

/// The two lazily built agents (plain HTTP never needs the TLS set-up).
#[derive(Default)]
pub(crate) struct Transport {
    plain: OnceLock<ureq::Agent>,
    tls: OnceLock<std::result::Result<ureq::Agent, Error>>,
}

impl Transport {
    fn agent(&self, s: &Settings, https: bool) -> Result<&ureq::Agent> {
        if https {
            self.tls
                .get_or_init(|| build_agent(s, true))
                .as_ref()
                .map_err(Clone::clone)
        } else {
            Ok(self.plain.get_or_init(|| {
                build_agent(s, false).expect("a plain-HTTP agent needs no fallible set-up")
            }))
        }
    }

    /// Sends one request (and follows one redirect) to `address` + `/v1/` + `path`.
    /// `known` lists the addresses a redirect may go to.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn attempt(
        &self,
        s: &Settings,
        address: &str,
        known: &[String],
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<&[u8]>,
        timeout: Duration,
    ) -> Outcome {
        let mut url = format!("{}/v1/{}", address.trim_end_matches('/'), path);
        for hop in 0..2 {
            let resp = match self.send(s, &url, method, token, body, timeout) {
                Ok(r) => r,
                Err(Outcome::Retry { kind, what, .. }) if hop == 1 => {
                    // A standby sent us to an active node that does not answer: the
                    // cluster is most likely electing a new one.
                    return Outcome::Retry {
                        kind,
                        what: format!("redirected to {url}, which failed: {what}"),
                        skip: false,
                        transition: true,
                    };
                }
                Err(o) => return o,
            };
            let status = resp.status().as_u16();
            if matches!(status, 301 | 302 | 307 | 308) {
                let loc = resp
                    .headers()
                    .get("location")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .to_string();
                if s.disable_redirects || hop == 1 {
                    return Outcome::Retry {
                        kind: ErrorKind::Server,
                        what: format!("redirected (HTTP {status}) to {loc:?}, not followed"),
                        skip: true,
                        transition: false,
                    };
                }
                match check_redirect(s, &url, &loc, known) {
                    Ok(()) => {
                        tracing::debug!(from = %url, to = %loc, "following a Vault redirect");
                        url = loc;
                        continue;
                    }
                    Err(why) => {
                        return Outcome::Retry {
                            kind: ErrorKind::Server,
                            what: format!("redirected (HTTP {status}) to {loc:?}: {why}"),
                            skip: true,
                            transition: false,
                        }
                    }
                }
            }
            let mut resp = resp;
            let body = match read_limited(resp.body_mut().as_reader(), MAX_BODY) {
                Ok(b) => b,
                Err(e) => {
                    return Outcome::Retry {
                        kind: ErrorKind::Unreachable,
                        what: format!("reading the answer failed: {e}"),
                        skip: false,
                        transition: false,
                    }
                }
            };
            return classify(status, body);
        }
        unreachable!("the loop returns on its second hop")
    }

    fn send(
        &self,
        s: &Settings,
        url: &str,
        method: Method,
        token: Option<&str>,
        body: Option<&[u8]>,
        timeout: Duration,
    ) -> std::result::Result<ureq::http::Response<ureq::Body>, Outcome> {
        let https = url.starts_with("https://");
        let agent = self.agent(s, https).map_err(|e| Outcome::Fatal {
            kind: e.kind(),
            what: e.message().to_string(),
        })?;
        let headers = |mut h: Vec<(&'static str, String)>| {
            h.push(("X-Vault-Request", "true".into()));
            if let Some(ns) = &s.namespace {
                h.push(("X-Vault-Namespace", ns.clone()));
            }
            h
        };
        let hs = headers(Vec::new());
        let r = match method {
            Method::Get => {
                let mut rb = agent
                    .get(url)
                    .config()
                    .timeout_global(Some(timeout))
                    .build();
                for (k, v) in &hs {
                    rb = rb.header(*k, v);
                }
                if let Some(t) = token {
                    rb = rb.header("X-Vault-Token", t);
                }
                rb.call()
            }
            Method::Put => {
                let mut rb = agent
                    .put(url)
                    .config()
                    .timeout_global(Some(timeout))
                    .build()
                    .header("Content-Type", "application/json");
                for (k, v) in &hs {
                    rb = rb.header(*k, v);
                }
                if let Some(t) = token {
                    rb = rb.header("X-Vault-Token", t);
                }
                rb.send(body.unwrap_or(b"{}"))
            }
        };
        r.map_err(|e| transport_error(e, timeout))
    }
}

/// Maps a ureq error to a retryable outcome with a short, specific text.
fn transport_error(e: ureq::Error, timeout: Duration) -> Outcome {
    let (kind, what, skip) = match &e {
        ureq::Error::Timeout(t) => (
            ErrorKind::Timeout,
            format!("no answer within {timeout:?} ({t})"),
            false,
        ),
        ureq::Error::HostNotFound => (ErrorKind::Unreachable, "host not found".into(), false),
        ureq::Error::Io(io) => {
            use std::io::ErrorKind as K;
            match io.kind() {
                K::ConnectionRefused => (
                    ErrorKind::Unreachable,
                    "connection refused".to_string(),
                    false,
                ),
                K::TimedOut | K::WouldBlock => (
                    ErrorKind::Timeout,
                    format!("no answer within {timeout:?}"),
                    false,
                ),
                // rustls reports handshake and certificate failures as InvalidData.
                K::InvalidData => (ErrorKind::Unreachable, format!("TLS: {io}"), true),
                _ => (ErrorKind::Unreachable, io.to_string(), false),
            }
        }
        ureq::Error::Tls(m) => (ErrorKind::Unreachable, format!("TLS: {m}"), true),
        ureq::Error::BadUri(m) => (ErrorKind::Unreachable, format!("bad URL: {m}"), true),
        other => (ErrorKind::Unreachable, other.to_string(), false),
    };
    Outcome::Retry {
        kind,
        what,
        skip,
        transition: false,
    }
}

/// Vault's error list (`{"errors":[…]}`) as one line.
pub(crate) fn vault_errors(body: &[u8]) -> String {
    let v: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    let list: Vec<&str> = v["errors"]
        .as_array()
        .map(|a| a.iter().filter_map(|x| x.as_str()).collect())
        .unwrap_or_default();
    if list.is_empty() {
        String::from_utf8_lossy(&body[..body.len().min(200)])
            .trim()
            .to_string()
    } else {
        list.join("; ")
    }
}

fn classify(status: u16, body: Zeroizing<Vec<u8>>) -> Outcome {
    if (200..300).contains(&status) {
        return Outcome::Ok(body);
    }
    let errs = vault_errors(&body);
    let what = |w: &str| {
        if errs.is_empty() {
            format!("{w} (HTTP {status})")
        } else {
            format!("{w} (HTTP {status}: {errs})")
        }
    };
    let lower = errs.to_ascii_lowercase();
    match status {
        503 if lower.contains("sealed") => Outcome::Retry {
            kind: ErrorKind::Sealed,
            what: what("sealed"),
            skip: false,
            transition: false,
        },
        501 => Outcome::Retry {
            kind: ErrorKind::Server,
            what: what("not initialised"),
            skip: true,
            transition: false,
        },
        412 | 429 | 500..=599 => Outcome::Retry {
            kind: ErrorKind::Server,
            what: what("server error"),
            skip: false,
            transition: true,
        },
        403 => Outcome::Fatal {
            kind: ErrorKind::PermissionDenied,
            what: what("permission denied"),
        },
        // quirk 3: OpenBao standbys answer reads such as transit decrypt themselves, and
        // one that has not caught up with a key created a moment ago says "not found".
        // The other addresses are asked once each before the key is declared unknown.
        404 => Outcome::Retry {
            kind: ErrorKind::UnknownKey,
            what: what("no such key or engine"),
            skip: true,
            transition: false,
        },
        400 if lower.contains("not found") => Outcome::Retry {
            kind: ErrorKind::UnknownKey,
            what: what("unknown key"),
            skip: true,
            transition: false,
        },
        _ => Outcome::Fatal {
            kind: ErrorKind::Rejected,
            what: what("rejected"),
        },
    }
}

/// `scheme://host:port` of a URL (lower-cased scheme and host), for comparisons.
fn origin(url: &str) -> Option<(String, String)> {
    let (scheme, rest) = url.split_once("://")?;
    let auth = rest.split(['/', '?', '#']).next()?;
    let host = auth.rsplit_once('@').map(|x| x.1).unwrap_or(auth);
    let scheme = scheme.to_ascii_lowercase();
    let host = host.to_ascii_lowercase();
    let host = if host.contains(':') && !host.ends_with(']') {
        host
    } else {
        format!("{host}:{}", if scheme == "https" { 443 } else { 80 })
    };
    Some((scheme, host))
}

fn check_redirect(
    s: &Settings,
    from: &str,
    to: &str,
    known: &[String],
) -> std::result::Result<(), String> {
    let (fs, fh) = origin(from).ok_or("bad request URL")?;
    let (ts, th) = origin(to).ok_or("not an absolute http(s) URL")?;
    if ts != "http" && ts != "https" {
        return Err("not an http(s) URL".into());
    }
    if fs == "https" && ts != "https" {
        return Err("redirect would cause protocol downgrade".into());
    }
    let target_base = to.split("/v1/").next().unwrap_or(to);
    if !allowed(&s.allowlist, target_base) {
        return Err("not allowed by SOPS_HC_VAULT_ALLOWLIST".into());
    }
    let named = th == fh
        || known
            .iter()
            .filter_map(|k| origin(k))
            .any(|(ks, kh)| kh == th && (ks == ts || ts == "https"));
    if !named {
        return Err(
            "not a configured Vault address, so the token is not sent there \
             (list it in SEALBOX_VAULT_FALLBACK_ADDRS to allow it)"
                .into(),
        );
    }
    Ok(())
}

/// Reads at most `limit` bytes into a buffer that is wiped when dropped, also when it
/// grows (the answer to a decrypt holds the data key).
fn read_limited(mut r: impl Read, limit: usize) -> std::io::Result<Zeroizing<Vec<u8>>> {
    let mut buf = Zeroizing::new(Vec::with_capacity(4096));
    let mut chunk = Zeroizing::new([0u8; 4096]);
    loop {
        let n = r.read(&mut chunk[..])?;
        if n == 0 {
            return Ok(buf);
        }
        if buf.len() + n > limit {
            return Err(std::io::Error::other(format!(
                "the answer is larger than {limit} bytes"
            )));
        }
        if buf.len() + n > buf.capacity() {
            let mut bigger = Zeroizing::new(Vec::with_capacity((buf.len() + n) * 2));
            bigger.extend_from_slice(&buf);
            buf = bigger;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

fn build_agent(s: &Settings, https: bool) -> Result<ureq::Agent> {
    // ring rather than aws-lc-rs: no C/CMake build of aws-lc, a smaller binary. rustls
    // 0.23.48 deprecates it for lacking post-quantum key exchange, which an internal Vault
    // connection can do without for now.
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut tls = TlsConfig::builder()
        .provider(TlsProvider::Rustls)
        .unversioned_rustls_crypto_provider(provider.clone());
    if https {
        if s.tls.skip_verify {
            tracing::warn!("VAULT_SKIP_VERIFY is set: Vault's TLS certificate is not checked");
            tls = tls.disable_verification(true);
        } else {
            tls = tls.root_certs(RootCerts::Specific(Arc::new(root_certs(s)?)));
        }
        if let (Some(c), Some(k)) = (&s.tls.client_cert, &s.tls.client_key) {
            tls = tls.client_cert(Some(client_cert(c, k, &provider)?));
        }
    }
    let proxy =
        match &s.proxy {
            Some(p) => Some(ureq::Proxy::new(p).map_err(|e| {
                Error::new(ErrorKind::Config, format!("VAULT_PROXY_ADDR={p:?}: {e}"))
            })?),
            None => ureq::Proxy::try_from_env(),
        };
    Ok(ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .timeout_connect(Some(s.connect_timeout))
        .user_agent(concat!("sealbox/", env!("CARGO_PKG_VERSION")))
        .proxy(proxy)
        .tls_config(tls.build())
        .build()
        .new_agent())
}

fn config_err(what: &str, why: impl std::fmt::Display) -> Error {
    Error::new(ErrorKind::Config, format!("{what}: {why}"))
}

fn pem_certs(pem: &[u8], what: &str) -> Result<Vec<Certificate<'static>>> {
    let mut out = Vec::new();
    for item in ureq::tls::parse_pem(pem) {
        if let PemItem::Certificate(c) = item.map_err(|e| config_err(what, e))? {
            out.push(c);
        }
    }
    Ok(out)
}

/// The trusted roots: `VAULT_CACERT`, else `VAULT_CACERT_BYTES`, else `VAULT_CAPATH` (each
/// replacing the system store, as in the Vault client), else the system store.
fn root_certs(s: &Settings) -> Result<Vec<Certificate<'static>>> {
    let nonempty = |v: Vec<Certificate<'static>>, what: &str| {
        if v.is_empty() {
            Err(config_err(what, "no PEM certificate in it"))
        } else {
            Ok(v)
        }
    };
    if let Some(p) = &s.tls.ca_cert {
        let what = format!("VAULT_CACERT={}", p.display());
        let pem = std::fs::read(p).map_err(|e| config_err(&what, e))?;
        return nonempty(pem_certs(&pem, &what)?, &what);
    }
    if let Some(b) = &s.tls.ca_cert_bytes {
        return nonempty(
            pem_certs(b.as_bytes(), "VAULT_CACERT_BYTES")?,
            "VAULT_CACERT_BYTES",
        );
    }
    if let Some(d) = &s.tls.ca_path {
        let what = format!("VAULT_CAPATH={}", d.display());
        let mut all = Vec::new();
        let mut entries: Vec<_> = std::fs::read_dir(d)
            .map_err(|e| config_err(&what, e))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file())
            .collect();
        entries.sort();
        for p in entries {
            let pem = std::fs::read(&p).map_err(|e| config_err(&what, e))?;
            all.extend(pem_certs(&pem, &format!("{what}: {}", p.display()))?);
        }
        return nonempty(all, &what);
    }
    let found = rustls_native_certs::load_native_certs();
    if found.certs.is_empty() {
        let why = found
            .errors
            .iter()
            .map(|e| e.to_string())
            .collect::<Vec<_>>()
            .join("; ");
        return Err(Error::new(
            ErrorKind::Config,
            format!(
                "no CA certificates found in the system store{}; set VAULT_CACERT to the \
                 PEM file of your Vault server's CA",
                if why.is_empty() {
                    String::new()
                } else {
                    format!(" ({why})")
                }
            ),
        ));
    }
    Ok(found
        .certs
        .iter()
        .map(|c| Certificate::from_der(c.as_ref()).to_owned())
        .collect())
}

/// `VAULT_CLIENT_CERT` and `VAULT_CLIENT_KEY`, checked with the crypto provider here, so a
/// key rustls cannot use is a clear error rather than a panic inside the HTTP client.
fn client_cert(
    cert: &std::path::Path,
    key: &std::path::Path,
    provider: &rustls::crypto::CryptoProvider,
) -> Result<ClientCert> {
    let cw = format!("VAULT_CLIENT_CERT={}", cert.display());
    let kw = format!("VAULT_CLIENT_KEY={}", key.display());
    let chain = pem_certs(&std::fs::read(cert).map_err(|e| config_err(&cw, e))?, &cw)?;
    if chain.is_empty() {
        return Err(config_err(&cw, "no PEM certificate in it"));
    }
    let key_pem = Zeroizing::new(std::fs::read(key).map_err(|e| config_err(&kw, e))?);
    use rustls::pki_types::{pem::PemObject, PrivateKeyDer};
    let der = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| config_err(&kw, e))?;
    provider
        .key_provider
        .load_private_key(der)
        .map_err(|e| config_err(&kw, e))?;
    let pk = ureq::tls::PrivateKey::from_pem(&key_pem).map_err(|e| config_err(&kw, e))?;
    Ok(ClientCert::new_with_certs(&chain, pk))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn known(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_redirect_to_a_named_address_is_followed() {
        let s = Settings::default();
        let k = known(&["http://10.0.0.1:8200", "http://10.0.0.2:8200"]);
        assert!(check_redirect(
            &s,
            "http://10.0.0.1:8200/v1/t/decrypt/k",
            "http://10.0.0.2:8200/v1/t/decrypt/k",
            &k
        )
        .is_ok());
    }

    #[test]
    fn a_redirect_elsewhere_or_down_to_http_is_refused() {
        let s = Settings::default();
        let k = known(&["https://a:8200"]);
        let e =
            check_redirect(&s, "https://a:8200/v1/x", "https://evil:8200/v1/x", &k).unwrap_err();
        assert!(e.contains("not a configured Vault address"), "{e}");
        let e = check_redirect(&s, "https://a:8200/v1/x", "http://a:8200/v1/x", &k).unwrap_err();
        assert!(e.contains("downgrade"), "{e}");
        let e = check_redirect(&s, "https://a:8200/v1/x", "/v1/x", &k).unwrap_err();
        assert!(e.contains("absolute"), "{e}");
    }

    #[test]
    fn status_codes_map_to_kinds() {
        let b = |s: &str| Zeroizing::new(s.as_bytes().to_vec());
        let kind = |o: Outcome| match o {
            Outcome::Ok(_) => None,
            Outcome::Retry { kind, .. } | Outcome::Fatal { kind, .. } => Some(kind),
        };
        assert_eq!(
            kind(classify(503, b(r#"{"errors":["Vault is sealed"]}"#))),
            Some(ErrorKind::Sealed)
        );
        assert_eq!(
            kind(classify(403, b(r#"{"errors":["permission denied"]}"#))),
            Some(ErrorKind::PermissionDenied)
        );
        assert_eq!(
            kind(classify(
                400,
                b(r#"{"errors":["encryption key not found"]}"#)
            )),
            Some(ErrorKind::UnknownKey)
        );
        assert_eq!(
            kind(classify(
                400,
                b(r#"{"errors":["invalid ciphertext: no prefix"]}"#)
            )),
            Some(ErrorKind::Rejected)
        );
        assert!(matches!(classify(502, b("")), Outcome::Retry { .. }));
        assert!(matches!(classify(200, b("{}")), Outcome::Ok(_)));
    }

    #[test]
    fn a_grown_body_buffer_keeps_every_byte() {
        let data: Vec<u8> = (0..20_000u32).map(|i| i as u8).collect();
        let got = read_limited(&data[..], MAX_BODY).unwrap();
        assert_eq!(&got[..], &data[..]);
        assert!(read_limited(&data[..], 100).is_err());
    }
}
