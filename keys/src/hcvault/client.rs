//! The transit client: a token, the addresses to try, and the four transit calls sealbox
//! needs (encrypt, decrypt, rewrap, read the key's versions).
//!
//! Every call runs the same bounded loop: round after round over the addresses (the
//! file's, or `VAULT_AGENT_ADDR`, then `SEALBOX_VAULT_FALLBACK_ADDRS`), each request with
//! its own timeout, a backoff between rounds, and a deadline for the whole call. An answer
//! that another node would give the same way (403, 400, 404) ends the call at once.

use super::error::{Attempt, Error, ErrorKind, Result};
use super::http::{Method, Outcome, Transport};
use super::key::{TransitKey, VaultKey};
use super::settings::{allowed, Secret, Settings};
use base64::Engine as _;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use zeroize::Zeroizing;

/// First wait between rounds; doubles each round up to [`MAX_BACKOFF`].
pub const FIRST_BACKOFF: Duration = Duration::from_millis(500);
/// Longest wait between rounds.
pub const MAX_BACKOFF: Duration = Duration::from_secs(4);

/// What a transit key says about its versions (`GET ENGINE/keys/NAME`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeyInfo {
    /// The newest version; new ciphertexts are `vault:v<latest>:`.
    pub latest_version: u32,
    /// Ciphertexts older than this no longer decrypt.
    pub min_decryption_version: u32,
    /// The version encryption uses when not the latest (0 = latest).
    pub min_encryption_version: u32,
}

/// Where the token of a call came from, for messages.
#[derive(Clone, Debug)]
enum TokenSource {
    Env,
    AppRole(String),
    File(String),
}

impl std::fmt::Display for TokenSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TokenSource::Env => f.write_str("VAULT_TOKEN"),
            TokenSource::AppRole(m) => write!(f, "the AppRole login at auth/{m}"),
            TokenSource::File(p) => f.write_str(p),
        }
    }
}

/// A Vault/OpenBao transit client. Cheap to make (reads no file, opens no connection);
/// keep one per process so connections and the AppRole token are reused.
pub struct Client {
    settings: Settings,
    transport: Transport,
    /// AppRole tokens, by the address they were obtained from (one cluster each).
    logins: Mutex<HashMap<String, Zeroizing<String>>>,
    /// Addresses that did not answer, and when (see [`Settings::recheck_after`]).
    down: Mutex<HashMap<String, Down>>,
}

/// How an address last failed to answer.
#[derive(Clone, Debug)]
struct Down {
    /// When it was tried (or, once its time is up, when a call set out to try it again).
    at: Instant,
    kind: ErrorKind,
    what: String,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// A client with these settings.
    pub fn new(settings: Settings) -> Client {
        Client {
            settings,
            transport: Transport::default(),
            logins: Mutex::new(HashMap::new()),
            down: Mutex::new(HashMap::new()),
        }
    }

    /// A client configured from the process environment (see the module docs).
    pub fn from_env() -> Result<Client> {
        Settings::from_env().map(Client::new)
    }

    /// Its settings.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The addresses a call for `key` tries, in order: `VAULT_AGENT_ADDR` or the key's
    /// address, then the fallbacks (without repeats).
    pub fn addresses(&self, key: &TransitKey) -> Vec<String> {
        let first = self
            .settings
            .agent_address
            .clone()
            .unwrap_or_else(|| key.vault_address.trim_end_matches('/').to_string());
        let mut out = vec![first];
        for a in &self.settings.fallback_addresses {
            if !out.contains(a) {
                out.push(a.clone());
            }
        }
        out
    }

    /// Wraps a data key with transit (`PUT ENGINE/encrypt/NAME`, plaintext base64-encoded
    /// as sops sends it): the `vault:vN:…` ciphertext.
    pub fn encrypt(&self, key: &TransitKey, data_key: &[u8]) -> Result<String> {
        let b64 = Zeroizing::new(base64::engine::general_purpose::STANDARD.encode(data_key));
        // Base64 needs no JSON escaping.
        let body = Zeroizing::new(format!("{{\"plaintext\":\"{}\"}}", b64.as_str()).into_bytes());
        let what = "encrypt the sops data key";
        let out = self.call(
            key,
            what,
            Method::Put,
            &key.api_path("encrypt"),
            Some(&body),
        )?;
        string_field(&out, "/data/ciphertext", key, what)
    }

    /// Unwraps a data key (`PUT ENGINE/decrypt/NAME`): the raw bytes, base64-decoded from
    /// Vault's answer.
    pub fn decrypt(&self, key: &TransitKey, enc: &str) -> Result<Zeroizing<Vec<u8>>> {
        let body = serde_json::to_vec(&serde_json::json!({ "ciphertext": enc }))
            .expect("a JSON string always serialises");
        let what = "decrypt the sops data key";
        let out = self.call(
            key,
            what,
            Method::Put,
            &key.api_path("decrypt"),
            Some(&body),
        )?;
        let mut v: serde_json::Value = serde_json::from_slice(&out)
            .map_err(|e| protocol(key, what, format!("the answer is not JSON: {e}")))?;
        let pt = match v
            .pointer_mut("/data/plaintext")
            .map(serde_json::Value::take)
        {
            Some(serde_json::Value::String(s)) => Zeroizing::new(s),
            _ => {
                return Err(protocol(
                    key,
                    what,
                    "no data.plaintext in the answer".into(),
                ))
            }
        };
        let raw = base64::engine::general_purpose::STANDARD
            .decode(pt.as_bytes())
            .map_err(|_| {
                protocol(
                    key,
                    what,
                    "cannot decode base64 plaintext into data key bytes".into(),
                )
            })?;
        Ok(Zeroizing::new(raw))
    }

    /// Re-encrypts `enc` with the key's latest version on the server, without the data
    /// key leaving it (`PUT ENGINE/rewrap/NAME`).
    pub fn rewrap(&self, key: &TransitKey, enc: &str) -> Result<String> {
        let body = serde_json::to_vec(&serde_json::json!({ "ciphertext": enc }))
            .expect("a JSON string always serialises");
        let what = "rewrap the sops data key";
        let out = self.call(key, what, Method::Put, &key.api_path("rewrap"), Some(&body))?;
        string_field(&out, "/data/ciphertext", key, what)
    }

    /// Reads the key's version numbers (`GET ENGINE/keys/NAME`; the policy needs `read`
    /// there).
    pub fn key_info(&self, key: &TransitKey) -> Result<KeyInfo> {
        let what = "read the transit key";
        let out = self.call(key, what, Method::Get, &key.api_path("keys"), None)?;
        let v: serde_json::Value = serde_json::from_slice(&out)
            .map_err(|e| protocol(key, what, format!("the answer is not JSON: {e}")))?;
        let num = |f: &str| -> Result<u32> {
            v.pointer(&format!("/data/{f}"))
                .and_then(serde_json::Value::as_u64)
                .and_then(|n| u32::try_from(n).ok())
                .ok_or_else(|| protocol(key, what, format!("no data.{f} in the answer")))
        };
        Ok(KeyInfo {
            latest_version: num("latest_version")?,
            min_decryption_version: num("min_decryption_version")?,
            min_encryption_version: num("min_encryption_version").unwrap_or(0),
        })
    }

    /// The key's latest version.
    pub fn latest_version(&self, key: &TransitKey) -> Result<u32> {
        self.key_info(key).map(|i| i.latest_version)
    }

    /// One call with failover, retries and the deadline; renews an AppRole token once if
    /// the server refuses it.
    fn call(
        &self,
        key: &TransitKey,
        what: &str,
        method: Method,
        path: &str,
        body: Option<&[u8]>,
    ) -> Result<Zeroizing<Vec<u8>>> {
        let deadline = Instant::now() + self.settings.deadline;
        let addrs = self.addresses(key);
        if !allowed(&self.settings.allowlist, &addrs[0]) {
            return Err(Error::new(
                ErrorKind::NotAllowed,
                format!("Allowlist does not allow {}", addrs[0]),
            ));
        }
        let (token, source) = self.token(key, &addrs, deadline)?;
        let run = |token: &str| {
            self.failover(&addrs, deadline, method, path, Some(token), body)
                .map_err(|e| describe(e, key, what, path, &source))
        };
        match run(&token) {
            Err(e)
                if e.kind() == ErrorKind::PermissionDenied
                    && matches!(source, TokenSource::AppRole(_)) =>
            {
                // The cached login token may have expired: log in again, once.
                self.logins.lock().expect("logins lock").remove(&addrs[0]);
                let (token, _) = self.token(key, &addrs, deadline)?;
                run(&token)
            }
            r => r,
        }
    }

    /// The token for a call: `VAULT_TOKEN`, else an AppRole login (cached), else
    /// `~/.vault-token`.
    fn token(
        &self,
        key: &TransitKey,
        addrs: &[String],
        deadline: Instant,
    ) -> Result<(Zeroizing<String>, TokenSource)> {
        if let Some(t) = &self.settings.token {
            return Ok((t.read("VAULT_TOKEN")?, TokenSource::Env));
        }
        if let Some(ar) = &self.settings.approle {
            let source = TokenSource::AppRole(ar.mount.clone());
            if let Some(t) = self.logins.lock().expect("logins lock").get(&addrs[0]) {
                return Ok((t.clone(), source));
            }
            let t = self.login(key, addrs, deadline)?;
            self.logins
                .lock()
                .expect("logins lock")
                .insert(addrs[0].clone(), t.clone());
            return Ok((t, source));
        }
        if let Some(p) = &self.settings.token_file {
            match std::fs::read(p) {
                Ok(raw) => {
                    let raw = Zeroizing::new(raw);
                    let t = String::from_utf8_lossy(&raw).trim().to_string();
                    if !t.is_empty() {
                        return Ok((
                            Zeroizing::new(t),
                            TokenSource::File(p.display().to_string()),
                        ));
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    return Err(Error::new(
                        ErrorKind::Auth,
                        format!("cannot get Vault token: {}: {e}", p.display()),
                    ))
                }
            }
        }
        Err(Error::new(
            ErrorKind::Auth,
            format!(
                "no Vault token for {}: set VAULT_TOKEN, log in so that {} exists, or set \
                 VAULT_ROLE_ID and VAULT_SECRET_ID (or VAULT_SECRET_ID_FILE) for an AppRole login",
                key.uri(),
                self.settings
                    .token_file
                    .as_ref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_else(|| "~/.vault-token".into())
            ),
        ))
    }

    /// AppRole login (`PUT auth/MOUNT/login`), with the same failover as other calls.
    fn login(
        &self,
        key: &TransitKey,
        addrs: &[String],
        deadline: Instant,
    ) -> Result<Zeroizing<String>> {
        let ar = self
            .settings
            .approle
            .as_ref()
            .expect("login is only called with AppRole settings");
        let role_id = ar.role_id.read("VAULT_ROLE_ID")?;
        let mut req = serde_json::Map::new();
        req.insert("role_id".into(), role_id.as_str().into());
        let secret = match &ar.secret_id {
            Some(s) => Some(s.read(match s {
                Secret::File(_) => "VAULT_SECRET_ID_FILE",
                Secret::Value(_) => "VAULT_SECRET_ID",
            })?),
            None => None,
        };
        if let Some(s) = &secret {
            req.insert("secret_id".into(), s.as_str().into());
        }
        let body = Zeroizing::new(
            serde_json::to_vec(&serde_json::Value::Object(req)).expect("JSON object serialises"),
        );
        let path = format!("auth/{}/login", ar.mount);
        let out = self
            .failover(addrs, deadline, Method::Put, &path, None, Some(&body))
            .map_err(|e| {
                let kind = match e.kind() {
                    ErrorKind::PermissionDenied | ErrorKind::Rejected | ErrorKind::UnknownKey => {
                        ErrorKind::Auth
                    }
                    k => k,
                };
                Error::new(
                    kind,
                    format!(
                        "AppRole login at {path} for {} failed: {}",
                        key.uri(),
                        e.message()
                    ),
                )
                .with_attempts(e.attempts().to_vec())
            })?;
        let mut v: serde_json::Value = serde_json::from_slice(&out).map_err(|e| {
            Error::new(
                ErrorKind::Protocol,
                format!("AppRole login at {path}: the answer is not JSON: {e}"),
            )
        })?;
        match v
            .pointer_mut("/auth/client_token")
            .map(serde_json::Value::take)
        {
            Some(serde_json::Value::String(t)) if !t.is_empty() => Ok(Zeroizing::new(t)),
            _ => Err(Error::new(
                ErrorKind::Protocol,
                format!("AppRole login at {path}: no auth.client_token in the answer"),
            )),
        }
    }

    /// The bounded retry loop over `addrs`. Errors carry the last failure's kind and the
    /// attempt list; their message is completed by the caller.
    ///
    /// Rounds go over every address not yet ruled out, with a backoff between rounds
    /// ([`FIRST_BACKOFF`] doubling to [`MAX_BACKOFF`], ±20 %). A round in which no server
    /// answered (refused, timed out, TLS failure, sealed, uninitialised) counts against
    /// `VAULT_MAX_RETRIES`; a round in which some server answered but was between states
    /// (5xx, 429, a standby pointing at a vanished active node) does not, because a Raft
    /// election ends by itself. Nothing starts after the deadline and every request's
    /// timeout is clipped to it.
    fn failover(
        &self,
        addrs: &[String],
        deadline: Instant,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<&[u8]>,
    ) -> Result<Zeroizing<Vec<u8>>> {
        let s = &self.settings;
        let mut known = addrs.to_vec();
        if let Some(a) = &s.agent_address {
            known.push(a.clone());
        }
        let mut attempts: Vec<Attempt> = Vec::new();
        // Addresses that did not answer a moment ago are left out; when that is all of
        // them, the call fails now instead of paying for the same dead server again.
        let mut skip = self.remembered_down(addrs);
        if skip.iter().all(|x| *x) {
            return Err(self.still_down(addrs));
        }
        let mut last_kind = ErrorKind::Unreachable;
        let mut backoff = FIRST_BACKOFF;
        let mut counted = 0u32;
        let gave_up = 'rounds: loop {
            let mut transition = false;
            for (i, addr) in addrs.iter().enumerate() {
                if skip[i] {
                    continue;
                }
                if i > 0 && !allowed(&s.allowlist, addr) {
                    skip[i] = true;
                    attempts.push(Attempt {
                        address: addr.clone(),
                        outcome: "not allowed by SOPS_HC_VAULT_ALLOWLIST".into(),
                    });
                    continue;
                }
                let now = Instant::now();
                if now >= deadline {
                    break 'rounds "the deadline (SEALBOX_VAULT_DEADLINE) passed";
                }
                let timeout = s.request_timeout.min(deadline - now);
                let outcome = self
                    .transport
                    .attempt(s, addr, &known, method, path, token, body, timeout);
                self.note_health(addr, &outcome);
                match outcome {
                    Outcome::Ok(b) => return Ok(b),
                    Outcome::Fatal { kind, what } => {
                        attempts.push(Attempt {
                            address: addr.clone(),
                            outcome: what.clone(),
                        });
                        return Err(
                            Error::new(kind, format!("{what} at {addr}")).with_attempts(attempts)
                        );
                    }
                    Outcome::Retry {
                        kind,
                        what,
                        skip: sk,
                        transition: tr,
                    } => {
                        tracing::debug!(address = %addr, %what, transition = tr, "Vault request failed");
                        last_kind = kind;
                        skip[i] = sk;
                        transition |= tr;
                        attempts.push(Attempt {
                            address: addr.clone(),
                            outcome: what,
                        });
                    }
                }
            }
            if skip.iter().all(|x| *x) {
                break "no address is left to try";
            }
            if !transition {
                counted += 1;
                if counted > s.max_retries {
                    break "the retries (VAULT_MAX_RETRIES) are used up";
                }
            }
            let wait = jitter(backoff);
            if Instant::now() + wait >= deadline {
                break "the deadline (SEALBOX_VAULT_DEADLINE) would pass";
            }
            std::thread::sleep(wait);
            backoff = (backoff * 2).min(MAX_BACKOFF);
        };
        let last = attempts
            .last()
            .map(|a| format!("{} at {}", a.outcome, a.address))
            .unwrap_or_else(|| "no request could be made".into());
        let msg = if attempts.len() > 1 {
            format!(
                "{last}; gave up after {} attempts: {gave_up}",
                attempts.len()
            )
        } else {
            last
        };
        Err(Error::new(last_kind, msg).with_attempts(attempts))
    }
}

impl Client {
    /// Which of `addrs` to leave out because they did not answer less than
    /// `recheck_after` ago. An address whose time is up is claimed for one new try (its
    /// time restarts now), so parallel calls do not all probe a dead server at once.
    fn remembered_down(&self, addrs: &[String]) -> Vec<bool> {
        let wait = self.settings.recheck_after;
        let mut down = self.down.lock().expect("down lock");
        let now = Instant::now();
        addrs
            .iter()
            .map(|a| match down.get_mut(a) {
                Some(d) if now.duration_since(d.at) < wait => true,
                Some(d) => {
                    d.at = now;
                    false
                }
                None => false,
            })
            .collect()
    }

    /// The error of a call whose every address is remembered as down.
    fn still_down(&self, addrs: &[String]) -> Error {
        let down = self.down.lock().expect("down lock");
        let now = Instant::now();
        let mut attempts = Vec::new();
        let mut kind = ErrorKind::Unreachable;
        for a in addrs {
            if let Some(d) = down.get(a) {
                kind = d.kind;
                attempts.push(Attempt {
                    address: a.clone(),
                    outcome: format!(
                        "{} {:.1} s ago; not asked again for {:.0} s (SEALBOX_VAULT_RECHECK_AFTER)",
                        d.what,
                        now.duration_since(d.at).as_secs_f64(),
                        self.settings
                            .recheck_after
                            .saturating_sub(now.duration_since(d.at))
                            .as_secs_f64()
                            .ceil()
                    ),
                });
            }
        }
        let first = attempts
            .first()
            .map(|a| format!("{} at {}", a.outcome, a.address))
            .unwrap_or_default();
        Error::new(kind, first).with_attempts(attempts)
    }

    /// Remembers whether `addr` answered: refused, timed out and sealed mark it down; any
    /// other answer clears the mark.
    fn note_health(&self, addr: &str, o: &Outcome) {
        let mut down = self.down.lock().expect("down lock");
        match o {
            Outcome::Retry {
                kind: kind @ (ErrorKind::Unreachable | ErrorKind::Timeout | ErrorKind::Sealed),
                what,
                transition: false,
                ..
            } => {
                down.insert(
                    addr.to_string(),
                    Down {
                        at: Instant::now(),
                        kind: *kind,
                        what: what.clone(),
                    },
                );
            }
            // A standby pointing at a dead active node answered: it is up.
            _ => {
                down.remove(addr);
            }
        }
    }
}

/// 80–120 % of `d`, so hosts that fail together do not retry in lockstep.
fn jitter(d: Duration) -> Duration {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(Instant::now().elapsed().as_nanos());
    let r = (h.finish() % 401) as f64 / 1000.0; // 0.0 ..= 0.4
    d.mul_f64(0.8 + r)
}

/// Completes a failover error with the operation, the key and a hint.
fn describe(e: Error, key: &TransitKey, what: &str, path: &str, source: &TokenSource) -> Error {
    let hint = match e.kind() {
        ErrorKind::PermissionDenied => format!(
            "the token from {source} is invalid or expired, or its policy lacks the needed \
             capability on {path}"
        ),
        ErrorKind::Sealed => "unseal the server, or list the other nodes of the cluster in \
             SEALBOX_VAULT_FALLBACK_ADDRS"
            .into(),
        ErrorKind::Unreachable | ErrorKind::Timeout | ErrorKind::Server => {
            "check that the server runs and the address is right; other nodes of the cluster \
             can be listed in SEALBOX_VAULT_FALLBACK_ADDRS"
                .into()
        }
        ErrorKind::UnknownKey => format!(
            "check engine_path `{}` and key_name `{}`; the key is created with \
             `bao write -f {}/keys/{}`",
            key.engine_path, key.key_name, key.engine_path, key.key_name
        ),
        _ => String::new(),
    };
    let mut msg = format!(
        "failed to {what} with Vault transit key {}: {}",
        key.uri(),
        e.message()
    );
    if !hint.is_empty() {
        msg.push_str(" (");
        msg.push_str(&hint);
        msg.push(')');
    }
    Error::new(e.kind(), msg).with_attempts(e.attempts().to_vec())
}

fn protocol(key: &TransitKey, what: &str, why: String) -> Error {
    Error::new(
        ErrorKind::Protocol,
        format!(
            "failed to {what} with Vault transit key {}: {why}",
            key.uri()
        ),
    )
}

fn string_field(body: &[u8], ptr: &str, key: &TransitKey, what: &str) -> Result<String> {
    let v: serde_json::Value = serde_json::from_slice(body)
        .map_err(|e| protocol(key, what, format!("the answer is not JSON: {e}")))?;
    v.pointer(ptr)
        .and_then(|x| x.as_str())
        .map(str::to_string)
        .ok_or_else(|| {
            protocol(
                key,
                what,
                format!("no {} in the answer", &ptr[1..].replace('/', ".")),
            )
        })
}

impl VaultKey {
    /// Wraps `data_key` with `key`: the new metadata entry (`created_at` as given, RFC 3339
    /// UTC like sops writes it).
    pub fn wrap(
        client: &Client,
        key: TransitKey,
        data_key: &[u8],
        created_at: impl Into<String>,
    ) -> Result<VaultKey> {
        let enc = client.encrypt(&key, data_key)?;
        Ok(VaultKey {
            key,
            created_at: created_at.into(),
            enc,
        })
    }

    /// Unwraps the data key.
    pub fn unwrap_data_key(&self, client: &Client) -> Result<Zeroizing<Vec<u8>>> {
        client.decrypt(&self.key, &self.enc)
    }

    /// Re-encrypts `enc` with the key's latest version (server-side rewrap); returns the
    /// new version. `created_at` is left as it is: the data key did not change.
    pub fn rewrap(&mut self, client: &Client) -> Result<u32> {
        self.enc = client.rewrap(&self.key, &self.enc)?;
        self.version()
    }
}
