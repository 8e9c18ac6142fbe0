//! Mic92/ssh-to-age's reading of its input, for `sealbox ssh-to-age` (and sealbox started
//! as `ssh-to-age`): what it accepts, skips and refuses, with its messages, so scripts
//! written for that tool (sops-nix's README: `ssh-keyscan host | ssh-to-age`) work
//! unchanged. tests/vectors/ssh-to-age/README.md has the behaviour case by case.
//!
//! The tool hands each input line to golang.org/x/crypto/ssh: a line starting with `ssh-`
//! to `ParseAuthorizedKey`, any other to `ParseKnownHosts`; this module follows those two
//! functions (field splitting, the retry with an options field, the 3-to-5 field rule of
//! known_hosts, Go's base64 error offsets) closely enough to give the same result and
//! message for every case of the table; the key blob itself is read with the ssh-key
//! crate, and malformed non-ed25519 blobs get our own wording. Private keys follow
//! `ParseRawPrivateKey(WithPassphrase)`: the first PEM block, its type, the passphrase
//! rules.

use zeroize::Zeroizing;

use super::convert::{ed25519_public_to_age, x25519_secret_from_ed25519_seed};

/// What one public key line gave.
#[derive(Debug, PartialEq, Eq)]
pub enum Converted {
    /// The `age1…` recipient of an ed25519 key.
    Recipient(String),
    /// A key of another type (`ssh-rsa`, `ecdsa-sha2-nistp256`, a certificate…): the tool
    /// skips it with `skipped key: got TYPE key type, but only ed25519 keys are supported`.
    Skipped(String),
}

/// Go's `unicode.IsSpace` on the UTF-8 sequence at the start of `b`: its length if it is
/// a space.
fn space_at(b: &[u8]) -> Option<usize> {
    match b {
        [b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r', ..] => Some(1),
        [0xc2, 0x85 | 0xa0, ..] => Some(2),
        [0xe1, 0x9a, 0x80, ..] | [0xe3, 0x80, 0x80, ..] | [0xe2, 0x81, 0x9f, ..] => Some(3),
        [0xe2, 0x80, c, ..] if (0x80..=0x8a).contains(c) || matches!(c, 0xa8 | 0xa9 | 0xaf) => {
            Some(3)
        }
        _ => None,
    }
}

/// Go's `bytes.TrimSpace`.
fn trim_space(mut b: &[u8]) -> &[u8] {
    while let Some(n) = space_at(b) {
        b = &b[n..];
    }
    loop {
        let Some(n) = (1..=3.min(b.len())).find(|&n| space_at(&b[b.len() - n..]) == Some(n)) else {
            return b;
        };
        b = &b[..b.len() - n];
    }
}

/// Go's `bytes.Fields`.
fn fields(mut b: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    loop {
        while let Some(n) = space_at(b) {
            b = &b[n..];
        }
        if b.is_empty() {
            return out;
        }
        let mut i = 0;
        while i < b.len() && space_at(&b[i..]).is_none() {
            i += 1;
        }
        out.push(&b[..i]);
        b = &b[i..];
    }
}

/// Go's `bytes.IndexAny(b, " \t")`.
fn index_blank(b: &[u8]) -> Option<usize> {
    b.iter().position(|&c| c == b' ' || c == b'\t')
}

/// Go's `base64.StdEncoding.Decode`, with its error: `illegal base64 data at input byte N`.
fn go_base64(src: &[u8]) -> Result<Vec<u8>, String> {
    fn value(c: u8) -> Option<u8> {
        match c {
            b'A'..=b'Z' => Some(c - b'A'),
            b'a'..=b'z' => Some(c - b'a' + 26),
            b'0'..=b'9' => Some(c - b'0' + 52),
            b'+' => Some(62),
            b'/' => Some(63),
            _ => None,
        }
    }
    let corrupt = |at: usize| format!("illegal base64 data at input byte {at}");
    let mut out = Vec::with_capacity(src.len() / 4 * 3);
    let mut si = 0;
    'quanta: while si < src.len() || si == 0 {
        let mut buf = [0u8; 4];
        let mut len = 4;
        let mut j = 0;
        while j < 4 {
            if si == src.len() {
                if j == 0 {
                    break 'quanta;
                }
                // StdEncoding pads: a short last quantum is an error at its start.
                return Err(corrupt(si - j));
            }
            let c = src[si];
            si += 1;
            if let Some(v) = value(c) {
                buf[j] = v;
                j += 1;
                continue;
            }
            if c == b'\n' || c == b'\r' {
                continue;
            }
            if c != b'=' {
                return Err(corrupt(si - 1));
            }
            // Padding.
            match j {
                0 | 1 => return Err(corrupt(si - 1)),
                2 => {
                    while si < src.len() && (src[si] == b'\n' || src[si] == b'\r') {
                        si += 1;
                    }
                    if si == src.len() {
                        return Err(corrupt(src.len()));
                    }
                    if src[si] != b'=' {
                        return Err(corrupt(si - 1));
                    }
                    si += 1;
                }
                _ => {}
            }
            while si < src.len() && (src[si] == b'\n' || src[si] == b'\r') {
                si += 1;
            }
            if si < src.len() {
                return Err(corrupt(si));
            }
            len = j;
            break;
        }
        let v = u32::from(buf[0]) << 18
            | u32::from(buf[1]) << 12
            | u32::from(buf[2]) << 6
            | u32::from(buf[3]);
        let bytes = [(v >> 16) as u8, (v >> 8) as u8, v as u8];
        out.extend_from_slice(&bytes[..len.saturating_sub(1)]);
        if len < 4 {
            break;
        }
    }
    Ok(out)
}

/// An SSH wire string at the start of `b`: (contents, rest).
fn wire_string(b: &[u8]) -> Option<(&[u8], &[u8])> {
    let (len, rest) = b.split_first_chunk::<4>()?;
    let len = u32::from_be_bytes(*len) as usize;
    (rest.len() >= len).then(|| rest.split_at(len))
}

/// The key types x/crypto reads, other than `ssh-ed25519`.
const OTHER_TYPES: &[&str] = &[
    "ssh-rsa",
    "ssh-dss",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "sk-ecdsa-sha2-nistp256@openssh.com",
    "sk-ssh-ed25519@openssh.com",
];

/// x/crypto's `ParsePublicKey`: the type and, for ed25519, the 32 key bytes.
fn parse_public_key(blob: &[u8]) -> Result<(String, Option<[u8; 32]>), String> {
    let (algo, rest) = wire_string(blob).ok_or("ssh: short read")?;
    let algo = String::from_utf8_lossy(algo).into_owned();
    if algo == "ssh-ed25519" {
        let (key, rest) = wire_string(rest).ok_or("ssh: short read")?;
        let key: [u8; 32] = key
            .try_into()
            .map_err(|_| format!("ssh: invalid size {} for Ed25519 public key", key.len()))?;
        if !rest.is_empty() {
            return Err("ssh: trailing junk in public key".into());
        }
        return Ok((algo, Some(key)));
    }
    if algo.ends_with("-cert-v01@openssh.com") {
        // A certificate: skipped whatever it certifies.
        return Ok((algo, None));
    }
    if OTHER_TYPES.contains(&algo.as_str()) {
        return match ssh_key::PublicKey::from_bytes(blob) {
            Ok(_) => Ok((algo, None)),
            Err(e) => Err(format!("ssh: malformed {algo} key: {e}")),
        };
    }
    match algo.as_str() {
        "rsa-sha2-256" | "rsa-sha2-512" => Err(format!(
            "ssh: signature algorithm {algo:?} isn't a key format; key is malformed and should be re-encoded with type \"ssh-rsa\""
        )),
        _ => Err(format!("ssh: unknown key algorithm: {algo}")),
    }
}

/// x/crypto's `parseAuthorizedKey`: the base64 key of `in` (type and options removed).
fn authorized_key(input: &[u8]) -> Result<(String, Option<[u8; 32]>), String> {
    let input = trim_space(input);
    let end = index_blank(input).unwrap_or(input.len());
    parse_public_key(&go_base64(&input[..end])?)
}

/// The line up to `\r`, as x/crypto cuts it.
fn cut_cr(line: &[u8]) -> &[u8] {
    match line.iter().position(|&c| c == b'\r') {
        Some(i) => &line[..i],
        None => line,
    }
}

/// x/crypto's `ParseAuthorizedKey` on one line.
fn parse_authorized_line(line: &[u8]) -> Result<(String, Option<[u8; 32]>), String> {
    let no_key = |last: Option<String>| match last {
        Some(e) => Err(format!(
            "ssh: no key found; last parsing error for ignored line: {e}"
        )),
        None => Err("ssh: no key found".to_string()),
    };
    let input = trim_space(cut_cr(line));
    if input.is_empty() || input[0] == b'#' {
        return no_key(None);
    }
    let Some(i) = index_blank(input) else {
        return no_key(None);
    };
    let first = match authorized_key(&input[i..]) {
        Ok(k) => return Ok(k),
        Err(e) => e,
    };
    // Perhaps an options field first: skip it, honouring quotes.
    let mut in_quote = false;
    let mut i = 0;
    while i < input.len() {
        let b = input[i];
        if !in_quote && (b == b' ' || b == b'\t') {
            break;
        }
        if b == b'"' && (i == 0 || input[i - 1] != b'\\') {
            in_quote = !in_quote;
        }
        i += 1;
    }
    while i < input.len() && (input[i] == b' ' || input[i] == b'\t') {
        i += 1;
    }
    if i == input.len() {
        return no_key(Some(first));
    }
    let rest = &input[i..];
    let Some(j) = index_blank(rest) else {
        return no_key(Some(first));
    };
    match authorized_key(&rest[j..]) {
        Ok(k) => Ok(k),
        Err(e) => no_key(Some(e)),
    }
}

/// x/crypto's `ParseKnownHosts` on one line.
fn parse_known_hosts_line(line: &[u8]) -> Result<(String, Option<[u8; 32]>), String> {
    let input = trim_space(cut_cr(line));
    if input.is_empty() || input[0] == b'#' || index_blank(input).is_none() {
        return Err("EOF".into());
    }
    let mut f = fields(input);
    if f.len() < 3 || f.len() > 5 {
        return Err("ssh: invalid entry in known_hosts data".into());
    }
    if f[0][0] == b'@' {
        f.remove(0);
    }
    // f[0]: hosts, f[1]: key type (the blob says it again), then key and comment.
    authorized_key(&f[2..].join(&b' '))
}

/// Converts one public key line as Mic92/ssh-to-age does (the caller skips empty lines and
/// lines starting with `#`). The error is the tool's, after `failed to convert 'LINE': `.
pub fn convert_public_line(line: &[u8]) -> Result<Converted, String> {
    let parsed = if line.starts_with(b"ssh-") {
        parse_authorized_line(line)
    } else {
        parse_known_hosts_line(line)
    };
    match parsed.map_err(|e| format!("failed to parse ssh public key: {e}"))? {
        (_, Some(ed)) => ed25519_public_to_age(&ed)
            .map(Converted::Recipient)
            .map_err(|e| {
                format!(
                    "cannot convert ed25519 public key to curve25519: {}",
                    e.message
                )
            }),
        (algo, None) => Ok(Converted::Skipped(algo)),
    }
}

/// The first PEM block of `input`, as Go's `pem.Decode` finds it: (type, has
/// `Proc-Type: 4,ENCRYPTED`, the text of the block).
fn first_pem_block(input: &[u8]) -> Option<(String, bool, &[u8])> {
    const BEGIN: &[u8] = b"-----BEGIN ";
    let mut from = 0;
    loop {
        let at = if input[from..].starts_with(BEGIN) && (from == 0 || input[from - 1] == b'\n') {
            from
        } else {
            let i = input[from..]
                .windows(BEGIN.len() + 1)
                .position(|w| w[0] == b'\n' && &w[1..] == BEGIN)?;
            from + i + 1
        };
        let after = &input[at + BEGIN.len()..];
        let line_end = after
            .iter()
            .position(|&c| c == b'\n')
            .unwrap_or(after.len());
        let line = trim_space(&after[..line_end]);
        from = at + BEGIN.len();
        let Some(kind) = line.strip_suffix(b"-----") else {
            continue;
        };
        let kind = String::from_utf8_lossy(kind).into_owned();
        let end = format!("\n-----END {kind}-----");
        let Some(e) = input[at..]
            .windows(end.len())
            .position(|w| w == end.as_bytes())
        else {
            continue;
        };
        let block = &input[at..at + e + end.len()];
        let body = &after[line_end.min(after.len())..];
        let encrypted = body
            .split(|&c| c == b'\n')
            .take_while(|l| !trim_space(l).is_empty())
            .any(|l| {
                trim_space(l).starts_with(b"Proc-Type:") && l.windows(9).any(|w| w == b"ENCRYPTED")
            });
        return Some((kind, encrypted, block));
    }
}

/// The Go type x/crypto returns for a PKCS#8 key (by its algorithm identifier).
fn pkcs8_type(block: &[u8]) -> &'static str {
    use base64::Engine;
    let body: Vec<u8> = block
        .split(|&c| c == b'\n')
        .filter(|l| !l.starts_with(b"-----"))
        .flatten()
        .copied()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(body)
        .unwrap_or_default();
    let has = |oid: &[u8]| der.windows(oid.len()).any(|w| w == oid);
    if has(&[0x06, 0x03, 0x2b, 0x65, 0x70]) {
        "ed25519.PrivateKey"
    } else if has(&[
        0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01,
    ]) {
        "*rsa.PrivateKey"
    } else if has(&[0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01]) {
        "*ecdsa.PrivateKey"
    } else {
        "unknown"
    }
}

/// Converts a private key as Mic92/ssh-to-age `-private-key` does, with `passphrase`
/// (empty: none). The error is the tool's, after `failed to convert …: `.
pub fn convert_private(input: &[u8], passphrase: &[u8]) -> Result<Zeroizing<String>, String> {
    let parse = |e: &str| format!("failed to parse ssh private key: {e}");
    let unsupported = |t: &str| format!("got {t} key type but: only ed25519 keys are supported");
    let (kind, encrypted_pem, block) =
        first_pem_block(input).ok_or_else(|| parse("ssh: no key found"))?;
    if kind != "OPENSSH PRIVATE KEY" {
        if !passphrase.is_empty() && !encrypted_pem {
            return Err(parse("ssh: not an encrypted key"));
        }
        if encrypted_pem && passphrase.is_empty() {
            return Err(parse("ssh: this private key is passphrase protected"));
        }
        if encrypted_pem {
            return Err(parse(
                "legacy PEM encryption (Proc-Type: 4,ENCRYPTED) is not supported; convert the key to the OpenSSH format: ssh-keygen -p -f KEY",
            ));
        }
        return Err(match kind.as_str() {
            "RSA PRIVATE KEY" => unsupported("*rsa.PrivateKey"),
            "EC PRIVATE KEY" => unsupported("*ecdsa.PrivateKey"),
            "DSA PRIVATE KEY" => unsupported("*dsa.PrivateKey"),
            "PRIVATE KEY" => match pkcs8_type(block) {
                "unknown" => {
                    parse("x509: PKCS#8 wrapping contained private key with unknown algorithm")
                }
                t => unsupported(t),
            },
            other => parse(&format!("ssh: unsupported key type {other:?}")),
        });
    }
    let text =
        std::str::from_utf8(block).map_err(|_| parse("ssh: invalid openssh private key format"))?;
    let key = ssh_key::PrivateKey::from_openssh(text)
        .map_err(|_| parse("ssh: invalid openssh private key format"))?;
    let key = match (key.is_encrypted(), passphrase.is_empty()) {
        (true, true) => return Err(parse("ssh: this private key is passphrase protected")),
        (false, false) => return Err(parse("ssh: key is not password protected")),
        (false, true) => key,
        (true, false) => key
            .decrypt(passphrase)
            .map_err(|_| parse("x509: decryption password incorrect"))?,
    };
    let pair = match key.key_data() {
        ssh_key::private::KeypairData::Ed25519(pair) => pair,
        ssh_key::private::KeypairData::Rsa(_) => return Err(unsupported("*rsa.PrivateKey")),
        ssh_key::private::KeypairData::Ecdsa(_) => return Err(unsupported("*ecdsa.PrivateKey")),
        _ => return Err(parse("ssh: unhandled key type")),
    };
    let seed = Zeroizing::new(pair.private.to_bytes());
    Ok(x25519_secret_from_ed25519_seed(&seed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_base64_errors_at_the_bytes_go_names() {
        assert_eq!(go_base64(b"AAAA").unwrap(), [0, 0, 0]);
        assert_eq!(go_base64(b"YQ==").unwrap(), b"a");
        assert_eq!(go_base64(b"YWI=").unwrap(), b"ab");
        assert_eq!(go_base64(b"").unwrap(), b"");
        for (input, at) in [
            (&b"not"[..], 0),
            (b"garbled", 4),
            (b"ssh-ed25519", 3),
            (b"root@host", 4),
            (b"YQ=", 3),
            (b"YQ==YQ==", 4),
            (b"Y===", 1),
        ] {
            assert_eq!(
                go_base64(input).unwrap_err(),
                format!("illegal base64 data at input byte {at}"),
                "{}",
                String::from_utf8_lossy(input)
            );
        }
    }

    #[test]
    fn go_white_space_rules() {
        assert_eq!(trim_space(b" \t a b \r\n"), b"a b");
        assert_eq!(trim_space("\u{a0}x\u{3000}".as_bytes()), b"x");
        assert_eq!(fields(b"  a \tb\x0bc  "), vec![&b"a"[..], b"b", b"c"]);
    }
}
