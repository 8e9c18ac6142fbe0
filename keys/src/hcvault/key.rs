//! The transit key a file names, and its `hc_vault` metadata entry.
//!
//! sops 3.11 takes a key as one URI, `https://vault.example.com:8200/v1/ENGINE/keys/NAME`
//! (`--hc-vault-transit`, `SOPS_VAULT_URIS`, `.sops.yaml`'s `hc_vault_transit_uri` and key
//! groups' `hc_vault`), splits it into the three strings it stores in the file
//! (`vault_address`, `engine_path`, `key_name`), and never looks at the URI again. The
//! rules below are sops' `NewMasterKeyFromURI` and `engineAndKeyFromPath`; the URL parsing
//! under them follows Go's `net/url` closely enough to split the same way.

use super::error::{Error, ErrorKind, Result};
use std::sync::OnceLock;

/// A transit key: where the server is, where the engine is mounted, the key's name.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TransitKey {
    /// The server, `scheme://host[:port]` (as sops stores it: the URI without its path).
    pub vault_address: String,
    /// The transit engine's mount path, without slashes around it (may have several
    /// segments, e.g. `team/transit`).
    pub engine_path: String,
    /// The key's name.
    pub key_name: String,
}

impl TransitKey {
    /// A key from its three parts, as read from a file's metadata.
    pub fn new(
        vault_address: impl Into<String>,
        engine_path: impl Into<String>,
        key_name: impl Into<String>,
    ) -> TransitKey {
        TransitKey {
            vault_address: vault_address.into(),
            engine_path: engine_path.into(),
            key_name: key_name.into(),
        }
    }

    /// The URI sops shows for the key (its `ToString`): `ADDR/v1/ENGINE/keys/NAME`.
    pub fn uri(&self) -> String {
        format!(
            "{}/v1/{}/keys/{}",
            self.vault_address, self.engine_path, self.key_name
        )
    }

    /// The API path of an operation (`encrypt`, `decrypt`, `rewrap`, `keys`) on this key,
    /// relative to `/v1/`: Go's `path.Join(engine, op, name)`, which also cleans it.
    pub(crate) fn api_path(&self, op: &str) -> String {
        go_path_join(&[&self.engine_path, op, &self.key_name])
    }
}

impl std::fmt::Display for TransitKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.uri())
    }
}

/// Parses one transit URI as sops 3.11 does (`hcvault.NewMasterKeyFromURI`).
pub fn parse_transit_uri(uri: &str) -> Result<TransitKey> {
    let bad = |why: String| Error::new(ErrorKind::InvalidUri, why);
    if uri.is_empty() {
        // sops returns no key and no error here; a caller asking for one key gets told.
        return Err(bad("empty Vault transit URI".into()));
    }
    let u = GoUrl::parse(uri).map_err(|e| bad(format!("parse {uri:?}: {e}")))?;
    if u.scheme.is_empty() {
        // quirk 1: the text (with its stray "+") is sops' own message.
        return Err(bad(format!(
            "missing scheme in Vault URL (should be like this: +\
             https://vault.example.com:8200/v1/transit/keys/keyName), got: {uri}"
        )));
    }
    let (engine_path, key_name) = engine_and_key_from_path(&u.request_uri())?;
    Ok(TransitKey {
        vault_address: u.without_path(),
        engine_path,
        key_name,
    })
}

/// Parses a comma-separated list of transit URIs (`SOPS_VAULT_URIS`, `--hc-vault-transit`,
/// a `.sops.yaml` string): empty items are skipped, as sops does; no trimming.
pub fn parse_transit_uris(list: &str) -> Result<Vec<TransitKey>> {
    list.split(',')
        .filter(|s| !s.is_empty())
        .map(parse_transit_uri)
        .collect()
}

fn engine_and_key_from_path(full: &str) -> Result<(String, String)> {
    static PREFIXED: OnceLock<regex::Regex> = OnceLock::new();
    static FORMAT: OnceLock<regex::Regex> = OnceLock::new();
    // sops' expressions, with Go's ASCII `\d` spelled out (Rust's `\d` is Unicode).
    let prefixed = PREFIXED
        .get_or_init(|| regex::Regex::new("/[^/]+/v[0-9]+/[^/]+/[^/]+/[^/]+").expect("regex"));
    let format =
        FORMAT.get_or_init(|| regex::Regex::new("/v[0-9]+/[^/]+/[^/]+/[^/]+").expect("regex"));
    if prefixed.is_match(full) {
        return Err(Error::new(
            ErrorKind::InvalidUri,
            "running Vault with a prefixed URL is not supported! (Format has to be like \
             https://vault.example.com:8200/v1/transit/keys/keyName)",
        ));
    }
    if !format.is_match(full) {
        return Err(Error::new(
            ErrorKind::InvalidUri,
            "vault path does not seem to be formatted correctly: (eg. \
             https://vault.example.com:8200/v1/transit/keys/keyName)",
        ));
    }
    // quirk 2: like sops, the segment before the name is not checked to be `keys`, and the
    // engine is everything between `v1` and it.
    let dirs: Vec<&str> = full.trim_matches('/').split('/').collect();
    let key = dirs[dirs.len() - 1].to_string();
    let engine = go_path_join(&dirs[1..dirs.len() - 2]);
    Ok((engine, key))
}

/// Go's `path.Join`: the non-empty elements joined with `/`, then cleaned (no empty or
/// `.` segments, `..` resolved); `""` when all are empty.
pub(crate) fn go_path_join(parts: &[&str]) -> String {
    let joined = parts
        .iter()
        .filter(|p| !p.is_empty())
        .copied()
        .collect::<Vec<_>>()
        .join("/");
    if joined.is_empty() {
        return String::new();
    }
    let rooted = joined.starts_with('/');
    let mut out: Vec<&str> = Vec::new();
    for seg in joined.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                if out.last().is_some_and(|s| *s != "..") {
                    out.pop();
                } else if !rooted {
                    out.push("..");
                }
            }
            s => out.push(s),
        }
    }
    let body = out.join("/");
    match (rooted, body.is_empty()) {
        (true, _) => format!("/{body}"),
        (false, true) => ".".into(),
        (false, false) => body,
    }
}

/// The parts of a URL as Go's `url.Parse` splits them (only what sops uses).
#[derive(Debug, Default)]
struct GoUrl {
    scheme: String,
    opaque: String,
    /// `user@` (with the `@`), verbatim.
    userinfo: String,
    host: String,
    path: String,
    query: Option<String>,
    fragment: Option<String>,
}

impl GoUrl {
    fn parse(raw: &str) -> std::result::Result<GoUrl, String> {
        if raw.bytes().any(|b| b < 0x20 || b == 0x7f) {
            return Err("net/url: invalid control character in URL".into());
        }
        let mut u = GoUrl::default();
        let (rest, frag) = match raw.split_once('#') {
            Some((r, f)) => (r, Some(f.to_string())),
            None => (raw, None),
        };
        u.fragment = frag;
        // getScheme: letters, then letters, digits, `+-.`, up to the first `:`.
        let mut rest = rest;
        for (i, c) in rest.char_indices() {
            if c.is_ascii_alphabetic() {
                continue;
            }
            if c.is_ascii_digit() || matches!(c, '+' | '-' | '.') {
                if i == 0 {
                    break;
                }
                continue;
            }
            if c == ':' {
                if i == 0 {
                    return Err("missing protocol scheme".into());
                }
                u.scheme = rest[..i].to_ascii_lowercase();
                rest = &rest[i + 1..];
            }
            break;
        }
        if let Some((r, q)) = rest.split_once('?') {
            u.query = Some(q.to_string());
            rest = r;
        }
        if !rest.starts_with('/') {
            if !u.scheme.is_empty() {
                u.opaque = rest.to_string();
                return Ok(u);
            }
            let first = rest.split('/').next().unwrap_or("");
            if first.contains(':') {
                return Err("first path segment in URL cannot contain colon".into());
            }
        }
        if !u.scheme.is_empty() && rest.starts_with("//") && !rest.starts_with("///") {
            let after = &rest[2..];
            let end = after.find('/').unwrap_or(after.len());
            let authority = &after[..end];
            rest = &after[end..];
            let (userinfo, host) = match authority.rfind('@') {
                Some(i) => (&authority[..=i], &authority[i + 1..]),
                None => ("", authority),
            };
            check_host(host)?;
            u.userinfo = userinfo.to_string();
            u.host = host.to_string();
        }
        check_escapes(rest)?;
        u.path = rest.to_string();
        Ok(u)
    }

    /// Go's `URL.RequestURI`: the path (or opaque part) and the query.
    fn request_uri(&self) -> String {
        let mut r = if self.opaque.is_empty() {
            if self.path.is_empty() {
                "/".to_string()
            } else {
                self.path.clone()
            }
        } else if self.opaque.starts_with("//") {
            format!("{}:{}", self.scheme, self.opaque)
        } else {
            self.opaque.clone()
        };
        if let Some(q) = &self.query {
            r.push('?');
            r.push_str(q);
        }
        r
    }

    /// Go's `URL.String` after `u.Path = ""`: what sops stores as `vault_address`.
    fn without_path(&self) -> String {
        let mut s = String::new();
        if !self.scheme.is_empty() {
            s.push_str(&self.scheme);
            s.push(':');
        }
        if !self.opaque.is_empty() {
            s.push_str(&self.opaque);
        } else if !self.host.is_empty() || !self.userinfo.is_empty() {
            s.push_str("//");
            s.push_str(&self.userinfo);
            s.push_str(&self.host);
        }
        if let Some(q) = &self.query {
            s.push('?');
            s.push_str(q);
        }
        if let Some(f) = &self.fragment {
            s.push('#');
            s.push_str(f);
        }
        s
    }
}

fn check_host(host: &str) -> std::result::Result<(), String> {
    let port = if host.starts_with('[') {
        match host.find(']') {
            Some(i) => &host[i + 1..],
            None => return Err("missing ']' in host".into()),
        }
    } else {
        host.rfind(':').map(|i| &host[i..]).unwrap_or("")
    };
    if !port.is_empty()
        && (!port.starts_with(':') || !port[1..].bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(format!("invalid port {port:?} after host"));
    }
    if let Some(c) = host
        .chars()
        .find(|c| matches!(c, ' ' | '<' | '>' | '"' | '`'))
    {
        return Err(format!(
            "invalid character {:?} in host name",
            c.to_string()
        ));
    }
    Ok(())
}

fn check_escapes(s: &str) -> std::result::Result<(), String> {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let ok = b.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                && b.get(i + 2).is_some_and(u8::is_ascii_hexdigit);
            if !ok {
                let end = (i + 3).min(b.len());
                return Err(format!("invalid URL escape {:?}", &s[i..end]));
            }
            i += 3;
        } else {
            i += 1;
        }
    }
    Ok(())
}

/// The version of the transit key that made `enc` (`vault:vN:…` → N).
pub fn ciphertext_version(enc: &str) -> Result<u32> {
    let bad = || {
        Error::new(
            ErrorKind::InvalidKey,
            format!(
                "not a Vault transit ciphertext (expected `vault:v<N>:…`): {:?}",
                enc.chars().take(24).collect::<String>()
            ),
        )
    };
    let rest = enc.strip_prefix("vault:v").ok_or_else(bad)?;
    let (n, body) = rest.split_once(':').ok_or_else(bad)?;
    if n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) || body.is_empty() {
        return Err(bad());
    }
    n.parse().map_err(|_| bad())
}

/// One `hc_vault` entry of a file's metadata: the key and the data key wrapped by it.
///
/// The fields are the entry's, one to one (see [`VaultKey::FIELDS`]); `created_at` is kept
/// as the RFC 3339 text the file has, `enc` as the `vault:vN:…` ciphertext.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VaultKey {
    /// `vault_address`, `engine_path`, `key_name`.
    pub key: TransitKey,
    /// `created_at` (RFC 3339, UTC, as sops writes it).
    pub created_at: String,
    /// `enc`: the transit ciphertext of the data key.
    pub enc: String,
}

impl VaultKey {
    /// The entry's field names, in sops 3.11's order.
    pub const FIELDS: [&'static str; 5] = [
        "vault_address",
        "engine_path",
        "key_name",
        "created_at",
        "enc",
    ];

    /// The entry's `(name, value)` pairs in sops' order, for writing the metadata.
    pub fn fields(&self) -> [(&'static str, &str); 5] {
        [
            ("vault_address", &self.key.vault_address),
            ("engine_path", &self.key.engine_path),
            ("key_name", &self.key.key_name),
            ("created_at", &self.created_at),
            ("enc", &self.enc),
        ]
    }

    /// Builds the entry from a field lookup (e.g. over the metadata map). A missing field
    /// is an error naming it; `what` names the entry in messages.
    pub fn from_fields<'a>(get: impl Fn(&str) -> Option<&'a str>, what: &str) -> Result<Self> {
        let field = |k: &str| {
            get(k).map(str::to_string).ok_or_else(|| {
                Error::new(
                    ErrorKind::InvalidKey,
                    format!("{what}: the hc_vault entry has no `{k}`"),
                )
            })
        };
        Ok(VaultKey {
            key: TransitKey {
                vault_address: field("vault_address")?,
                engine_path: field("engine_path")?,
                key_name: field("key_name")?,
            },
            created_at: field("created_at")?,
            enc: field("enc")?,
        })
    }

    /// The transit key version that wrapped the data key (`vault:vN:` → N).
    pub fn version(&self) -> Result<u32> {
        ciphertext_version(&self.enc)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(uri: &str) -> (String, String, String) {
        let k = parse_transit_uri(uri).unwrap_or_else(|e| panic!("{uri}: {e}"));
        (k.vault_address, k.engine_path, k.key_name)
    }

    fn err(uri: &str) -> String {
        parse_transit_uri(uri).unwrap_err().to_string()
    }

    fn t(a: &str, e: &str, k: &str) -> (String, String, String) {
        (a.into(), e.into(), k.into())
    }

    #[test]
    fn a_plain_transit_uri_splits_into_address_engine_and_key() {
        assert_eq!(
            ok("https://vault.example.com:8200/v1/transit/keys/app"),
            t("https://vault.example.com:8200", "transit", "app")
        );
        assert_eq!(
            ok("http://127.0.0.1:8200/v1/transit/keys/k/"),
            t("http://127.0.0.1:8200", "transit", "k")
        );
    }

    #[test]
    fn an_engine_mounted_several_segments_deep_keeps_all_of_them() {
        assert_eq!(
            ok("https://v:8200/v1/team/prod/transit/keys/db"),
            t("https://v:8200", "team/prod/transit", "db")
        );
    }

    #[test]
    fn like_sops_the_segment_before_the_name_is_not_checked() {
        // sops keeps whatever stands where `keys` should be.
        assert_eq!(
            ok("https://v/v1/transit/notkeys/k"),
            t("https://v", "transit", "k")
        );
    }

    #[test]
    fn a_uri_without_a_scheme_gets_sops_message() {
        let e = err("vault.example.com/v1/transit/keys/k");
        assert!(e.starts_with("missing scheme in Vault URL"), "{e}");
        assert!(
            e.ends_with("got: vault.example.com/v1/transit/keys/k"),
            "{e}"
        );
    }

    #[test]
    fn a_prefixed_url_is_refused_as_sops_does() {
        let e = err("https://v:8200/vault/v1/transit/keys/k");
        assert!(
            e.starts_with("running Vault with a prefixed URL is not supported"),
            "{e}"
        );
    }

    #[test]
    fn too_short_a_path_is_refused_as_sops_does() {
        for u in [
            "https://v:8200/v1/transit/k",
            "https://v:8200/transit/keys/k",
            "https://v:8200",
            "https://v:8200/v1//transit/keys/k",
        ] {
            let e = err(u);
            assert!(
                e.starts_with("vault path does not seem to be formatted correctly"),
                "{u}: {e}"
            );
        }
    }

    #[test]
    fn a_bad_port_is_a_url_error() {
        let e = err("https://v:80x/v1/transit/keys/k");
        assert!(e.contains("invalid port \":80x\" after host"), "{e}");
    }

    #[test]
    fn url_errors_read_as_sops_prints_them() {
        // Both messages checked against the real sops 3.11.
        let e = err("127.0.0.1:8200/v1/transit/keys/k");
        assert_eq!(
            e,
            "parse \"127.0.0.1:8200/v1/transit/keys/k\": first path segment in URL cannot contain colon"
        );
        let e = err("http://127.0.0.1:80x/v1/transit/keys/k");
        assert_eq!(
            e,
            "parse \"http://127.0.0.1:80x/v1/transit/keys/k\": invalid port \":80x\" after host"
        );
    }

    #[test]
    fn a_query_string_lands_where_sops_puts_it() {
        // quirk 4: sops keeps the query on the address and on the key name (and the
        // server then refuses the path); we split the same way rather than guess.
        assert_eq!(
            ok("http://127.0.0.1:8200/v1/transit/keys/k?x=1"),
            t("http://127.0.0.1:8200?x=1", "transit", "k?x=1")
        );
    }

    #[test]
    fn a_list_skips_empty_items_and_fails_on_a_bad_one() {
        let ks = parse_transit_uris("https://a/v1/t/keys/x,,https://b/v1/t/keys/y,").unwrap();
        assert_eq!(ks.len(), 2);
        assert_eq!(ks[1].vault_address, "https://b");
        assert!(parse_transit_uris("https://a/v1/t/keys/x,nope").is_err());
    }

    #[test]
    fn the_uri_round_trips_through_sops_string_form() {
        let u = "https://vault.example.com:8200/v1/a/b/keys/k";
        assert_eq!(parse_transit_uri(u).unwrap().uri(), u);
    }

    #[test]
    fn api_paths_are_joined_and_cleaned_as_go_path_join_does() {
        let k = TransitKey::new("https://v", "/transit/", "k");
        assert_eq!(k.api_path("decrypt"), "/transit/decrypt/k");
        let k = TransitKey::new("https://v", "a/./b/../transit", "k");
        assert_eq!(k.api_path("encrypt"), "a/transit/encrypt/k");
        assert_eq!(go_path_join(&["", ""]), "");
    }

    #[test]
    fn the_version_comes_from_the_ciphertext_prefix() {
        assert_eq!(ciphertext_version("vault:v1:abc").unwrap(), 1);
        assert_eq!(ciphertext_version("vault:v12:abc").unwrap(), 12);
        for bad in [
            "vault:v:abc",
            "vault:vx:abc",
            "vault:v1:",
            "v1:abc",
            "",
            "vault:v1",
        ] {
            assert!(ciphertext_version(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_metadata_entry_maps_field_for_field() {
        let pairs = [
            ("vault_address", "https://v:8200"),
            ("engine_path", "transit"),
            ("key_name", "k"),
            ("created_at", "2024-01-02T03:04:05Z"),
            ("enc", "vault:v3:xyz"),
        ];
        let get = |k: &str| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| *v);
        let vk = VaultKey::from_fields(get, "f.yaml").unwrap();
        assert_eq!(vk.fields(), pairs);
        assert_eq!(vk.version().unwrap(), 3);
        let missing = |k: &str| if k == "enc" { None } else { get(k) };
        let e = VaultKey::from_fields(missing, "f.yaml").unwrap_err();
        assert!(
            e.to_string().contains("f.yaml") && e.to_string().contains("`enc`"),
            "{e}"
        );
    }
}
