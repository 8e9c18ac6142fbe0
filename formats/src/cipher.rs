//! The value codec: `ENC[AES256_GCM,data:…,iv:…,tag:…,type:…]`.
//!
//! AES-256-GCM under the file's data key, a 32-byte random IV (GCM's non-96-bit IV path),
//! a 16-byte tag, and the value's key path (`a:b:c:`) as additional data. Base64 is
//! standard with padding.

use crate::error::{Error, ErrorKind, Result};
use aes_gcm::aead::{AeadInPlace, KeyInit};
use aes_gcm::aes::Aes256;
use aes_gcm::{AesGcm, Nonce, Tag};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use rand::RngCore;
use zeroize::Zeroizing;

/// AES-256-GCM with the 32-byte nonce sops uses.
type Aes256Gcm32 = AesGcm<Aes256, aes_gcm::aead::consts::U32>;

/// Length of the data key.
pub const DATA_KEY_LEN: usize = 32;

/// The file's data key, wiped on drop.
#[derive(Clone)]
pub struct DataKey(Zeroizing<[u8; DATA_KEY_LEN]>);

impl DataKey {
    /// A fresh random data key.
    pub fn generate() -> Self {
        let mut k = Zeroizing::new([0u8; DATA_KEY_LEN]);
        rand::rngs::OsRng.fill_bytes(&mut k[..]);
        DataKey(k)
    }

    /// A data key from bytes; must be 32 long.
    pub fn from_slice(b: &[u8]) -> Result<Self> {
        if b.len() != DATA_KEY_LEN {
            return Err(Error::new(
                ErrorKind::DataKeyUnavailable,
                format!(
                    "the recovered data key is {} bytes long, expected {DATA_KEY_LEN}",
                    b.len()
                ),
            ));
        }
        let mut k = Zeroizing::new([0u8; DATA_KEY_LEN]);
        k.copy_from_slice(b);
        Ok(DataKey(k))
    }

    /// The key bytes.
    pub fn as_bytes(&self) -> &[u8; DATA_KEY_LEN] {
        &self.0
    }
}

/// The key bytes live in a [`Zeroizing`] array, wiped when the key is dropped.
impl zeroize::ZeroizeOnDrop for DataKey {}

impl std::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DataKey(..)")
    }
}

/// The value types written in `type:`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ValueType {
    /// `str`
    Str,
    /// `int`
    Int,
    /// `float`
    Float,
    /// `bool`
    Bool,
    /// `time`
    Time,
    /// `comment`
    Comment,
    /// `bytes` (read only: sops never writes it)
    Bytes,
}

impl ValueType {
    /// The name written in `type:`.
    pub fn name(self) -> &'static str {
        match self {
            ValueType::Str => "str",
            ValueType::Int => "int",
            ValueType::Float => "float",
            ValueType::Bool => "bool",
            ValueType::Time => "time",
            ValueType::Comment => "comment",
            ValueType::Bytes => "bytes",
        }
    }

    fn from_name(s: &str) -> Option<Self> {
        Some(match s {
            "str" => ValueType::Str,
            "int" => ValueType::Int,
            "float" => ValueType::Float,
            "bool" => ValueType::Bool,
            "time" => ValueType::Time,
            "comment" => ValueType::Comment,
            "bytes" => ValueType::Bytes,
            _ => return None,
        })
    }
}

/// The parts of an `ENC[…]` string.
#[derive(Debug)]
pub struct Encoded<'a> {
    /// base64 ciphertext
    pub data: &'a str,
    /// base64 IV
    pub iv: &'a str,
    /// base64 tag
    pub tag: &'a str,
    /// type name
    pub typ: &'a str,
}

/// Splits an `ENC[…]` string as sops' reader does: the regular expression
/// `^ENC\[AES256_GCM,data:(.+),iv:(.+),tag:(.+),type:(.+)\]` (anchored at the start, greedy
/// groups that do not cross a newline, trailing text ignored). None if it does not match.
///
/// Hand-written because this runs once per value: a regex search here was a third of the
/// time of decrypting a large file. Greedy groups mean: the longest `data` for which the
/// rest matches, then the longest `iv`, and so on; so each separator is tried from the
/// right.
pub fn parse_encoded(s: &str) -> Option<Encoded<'_>> {
    let rest = s.strip_prefix("ENC[AES256_GCM,data:")?;
    if let Some(e) = parse_plain_encoded(rest) {
        return Some(e);
    }
    let line = &rest[..rest.find('\n').unwrap_or(rest.len())];
    // The rightmost `sep` in `t[..end]` that leaves a non-empty group before it and for
    // which `then` matches what follows, trying further left on failure.
    fn split<'a, T>(
        t: &'a str,
        sep: &str,
        then: impl Fn(&'a str) -> Option<T>,
    ) -> Option<(&'a str, T)> {
        let mut end = t.len();
        while let Some(p) = rfind(&t[..end], sep) {
            if p == 0 {
                return None;
            }
            if let Some(r) = then(&t[p + sep.len()..]) {
                return Some((&t[..p], r));
            }
            end = p + sep.len() - 1;
        }
        None
    }
    // `str::rfind` with a substring sets up a searcher on every call; the separators are
    // short and found near the end, so look for their first byte from the right.
    fn rfind(t: &str, sep: &str) -> Option<usize> {
        let (b, s) = (t.as_bytes(), sep.as_bytes());
        let mut end = b.len();
        while let Some(p) = b[..end].iter().rposition(|&c| c == s[0]) {
            if b[p..].starts_with(s) {
                return Some(p);
            }
            end = p;
        }
        None
    }
    fn typ(u: &str) -> Option<&str> {
        match u.rfind(']') {
            Some(p) if p > 0 => Some(&u[..p]),
            _ => None,
        }
    }
    let (data, (iv, (tag, typ))) = split(line, ",iv:", |t| {
        split(t, ",tag:", |t| split(t, ",type:", typ))
    })?;
    Some(Encoded { data, iv, tag, typ })
}

/// The fast path of [`parse_encoded`] for what sops writes (`rest` follows the `data:`):
/// exactly three commas, no newline, and one `]`, at the end. The three commas must then be
/// the separators, so the one possible match is the greedy one. None when the text is not
/// of that shape (the general splitter decides then).
fn parse_plain_encoded(rest: &str) -> Option<Encoded<'_>> {
    let b = rest.as_bytes();
    let (&last, body) = b.split_last()?;
    // One branch-free pass (vectorized): count the commas, look for `\n` and `]`.
    let (commas, odd) = body.iter().fold((0usize, false), |(n, odd), &c| {
        (n + (c == b',') as usize, odd | (c == b'\n') | (c == b']'))
    });
    if last != b']' || commas != 3 || odd {
        return None;
    }
    let c1 = body.iter().position(|&c| c == b',')?;
    let c2 = c1 + 1 + body[c1 + 1..].iter().position(|&c| c == b',')?;
    let c3 = c2 + 1 + body[c2 + 1..].iter().position(|&c| c == b',')?;
    let groups = rest[c1..].starts_with(",iv:")
        && rest[c2..].starts_with(",tag:")
        && rest[c3..].starts_with(",type:")
        && c1 > 0
        && c2 > c1 + 4
        && c3 > c2 + 5
        && body.len() > c3 + 6;
    groups.then(|| Encoded {
        data: &rest[..c1],
        iv: &rest[c1 + 4..c2],
        tag: &rest[c2 + 5..c3],
        typ: &rest[c3 + 6..body.len()],
    })
}

/// Why `s` is not exactly one encrypted value as sops writes it, or `None` when it is:
/// `ENC[AES256_GCM,data:…,iv:…,tag:…,type:…]` and nothing else, with base64 data, a 32-byte
/// IV, a 16-byte tag and a known type. Stricter than the reader ([`parse_encoded`] ignores
/// text after the `]` and after a newline, which a decryption never sees: plaintext could
/// hide there); `sealbox check` holds files to this without a key.
pub fn shape_problem(s: &str) -> Option<&'static str> {
    let Some(rest) = s.strip_prefix("ENC[AES256_GCM,data:") else {
        return Some("it is not an ENC[AES256_GCM,…] value");
    };
    let Some(e) = parse_plain_encoded(rest) else {
        return Some("it is not exactly one ENC[AES256_GCM,data:…,iv:…,tag:…,type:…] value");
    };
    if ValueType::from_name(e.typ).is_none() {
        return Some("its type is not one sops writes");
    }
    let len = |f: &str| B64.decode(f).map(|b| b.len()).ok();
    match (len(e.data), len(e.iv), len(e.tag)) {
        (None, _, _) | (Some(0), _, _) => Some("its data is not base64 ciphertext"),
        (_, l, _) if l != Some(32) => Some("its IV is not 32 bytes of base64"),
        (_, _, l) if l != Some(16) => Some("its tag is not 16 bytes of base64"),
        _ => None,
    }
}

/// Whether `s` looks like an encrypted value.
pub fn is_encrypted(s: &str) -> bool {
    parse_encoded(s).is_some()
}

/// A fresh IV from the thread's CSPRNG (ChaCha, seeded and reseeded from the OS): one
/// system call per value was a measurable part of encrypting a large file.
pub fn random_iv() -> [u8; 32] {
    let mut iv = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut iv);
    iv
}

/// Encrypts and decrypts values under one data key (the AES key schedule is built once).
pub struct Cipher {
    aead: Aes256Gcm32,
}

impl Cipher {
    /// A cipher for `key`.
    pub fn new(key: &DataKey) -> Self {
        Cipher {
            aead: Aes256Gcm32::new_from_slice(key.as_bytes()).expect("32-byte key"),
        }
    }

    /// Encrypts `plaintext` with additional data `aad`, a fresh random IV ([`random_iv`]),
    /// and type `typ`.
    pub fn encrypt(&self, plaintext: &[u8], aad: &[u8], typ: ValueType) -> Result<String> {
        self.encrypt_with_iv(plaintext, aad, typ, &random_iv())
    }

    /// Encrypts with a given IV (test vectors, and reusing IVs of unchanged values).
    pub fn encrypt_with_iv(
        &self,
        plaintext: &[u8],
        aad: &[u8],
        typ: ValueType,
        iv: &[u8; 32],
    ) -> Result<String> {
        self.encrypt_owned(plaintext.to_vec(), aad, typ, iv)
    }

    /// [`Cipher::encrypt_with_iv`] taking the plaintext buffer: it is encrypted in place
    /// (the plaintext is overwritten by the ciphertext, which is not secret and so not
    /// wiped), saving a copy and a wipe of large values.
    pub fn encrypt_owned(
        &self,
        plaintext: Vec<u8>,
        aad: &[u8],
        typ: ValueType,
        iv: &[u8; 32],
    ) -> Result<String> {
        let mut buf = Zeroizing::new(plaintext);
        let tag = self
            .aead
            .encrypt_in_place_detached(Nonce::from_slice(iv), aad, &mut buf)
            .map_err(|_| Error::new(ErrorKind::Encrypt, "AES-GCM encryption failed"))?;
        // Ciphertext from here on: no need to wipe it.
        let buf = std::mem::take(&mut *buf);
        let mut out = String::with_capacity(4 * buf.len().div_ceil(3) + 110);
        out.push_str("ENC[AES256_GCM,data:");
        B64.encode_string(&buf[..], &mut out);
        out.push_str(",iv:");
        B64.encode_string(iv, &mut out);
        out.push_str(",tag:");
        B64.encode_string(tag, &mut out);
        out.push_str(",type:");
        out.push_str(typ.name());
        out.push(']');
        Ok(out)
    }

    /// Decrypts an `ENC[…]` string with additional data `aad`. Errors name `what` (the key
    /// path) and never the value.
    pub fn decrypt(
        &self,
        value: &str,
        aad: &[u8],
        what: &str,
    ) -> Result<(Zeroizing<Vec<u8>>, ValueType)> {
        self.decrypt_parts(value, aad, &|| what.to_string())
            .map(|(p, t, _)| (p, t))
    }

    /// [`Cipher::decrypt`], also returning the IV; `what` is only called to build an error.
    pub fn decrypt_parts(
        &self,
        value: &str,
        aad: &[u8],
        what: &dyn Fn() -> String,
    ) -> Result<(Zeroizing<Vec<u8>>, ValueType, [u8; 32])> {
        let bad = |why: &str| {
            Error::new(
                ErrorKind::ValueDecrypt,
                format!("could not decrypt the value at {}: {why}", what()),
            )
        };
        let enc = parse_encoded(value).ok_or_else(|| {
            bad("it is not in sops' ENC[AES256_GCM,data:…,iv:…,tag:…,type:…] format").with_hint(
                "restore the value from version control, or re-set it with `sealbox set`",
            )
        })?;
        let typ = ValueType::from_name(enc.typ)
            .ok_or_else(|| bad(&format!("unknown value type {:?}", enc.typ)))?;
        let mut data = Zeroizing::new(
            B64.decode(enc.data)
                .map_err(|_| bad("the data field is not valid base64"))?,
        );
        // Decoded into fixed buffers (no allocation); larger than needed so that a wrong
        // length is reported as such rather than as a decoding error.
        let mut iv = [0u8; 48];
        let iv_len = B64.decode_slice(enc.iv, &mut iv).map_err(|e| match e {
            base64::DecodeSliceError::OutputSliceTooSmall => {
                bad("the IV is longer than 32 bytes; sops writes 32")
            }
            base64::DecodeSliceError::DecodeError(_) => bad("the iv field is not valid base64"),
        })?;
        let mut tag = [0u8; 24];
        let tag_len = B64.decode_slice(enc.tag, &mut tag).map_err(|e| match e {
            base64::DecodeSliceError::OutputSliceTooSmall => bad("the tag is not 16 bytes long"),
            base64::DecodeSliceError::DecodeError(_) => bad("the tag field is not valid base64"),
        })?;
        if iv_len != 32 {
            return Err(bad(&format!(
                "the IV is {iv_len} bytes long; sops writes 32"
            )));
        }
        if tag_len != 16 {
            return Err(bad("the tag is not 16 bytes long"));
        }
        let iv: [u8; 32] = iv[..32].try_into().expect("32 bytes");
        self.aead
            .decrypt_in_place_detached(
                Nonce::from_slice(&iv),
                aad,
                &mut data,
                Tag::from_slice(&tag[..16]),
            )
            .map_err(|_| {
                bad("authentication failed (the value was altered, moved to another key, or the file's data key is wrong)")
            })?;
        Ok((data, typ, iv))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tv_key() -> DataKey {
        let b: Vec<u8> = (0u8..32).collect();
        DataKey::from_slice(&b).unwrap()
    }

    // TV-2 (docs/format.md#test-vectors): deterministic values under DK = 00..1f, IV = one
    // byte repeated.
    #[test]
    fn spec_tv2_vectors() {
        let c = Cipher::new(&tv_key());
        let cases: [(&str, ValueType, &[u8], u8, &str); 8] = [
            ("hello:", ValueType::Str, b"world", 1, "ENC[AES256_GCM,data:zsvbi70=,iv:AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=,tag:cPyACupaRycEEMgTOcVu6w==,type:str]"),
            ("n:", ValueType::Int, b"42", 2, "ENC[AES256_GCM,data:W0k=,iv:AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI=,tag:n8oGjv6FNr6xulgvsO4HZQ==,type:int]"),
            ("pi:", ValueType::Float, b"3.25", 3, "ENC[AES256_GCM,data:WVpxWQ==,iv:AwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwM=,tag:sHMpGLRND5L0t/VL6HN6rw==,type:float]"),
            ("ok:", ValueType::Bool, b"True", 4, "ENC[AES256_GCM,data:On4aDA==,iv:BAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQ=,tag:b5oZGWyRkopL9FTP17GdNQ==,type:bool]"),
            ("db:password:", ValueType::Str, "s3crét".as_bytes(), 5, "ENC[AES256_GCM,data:g4mbzgdrGw==,iv:BQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQU=,tag:mdVPt0xAiL4zNY+Qg/cpJg==,type:str]"),
            ("list:", ValueType::Str, b"a", 6, "ENC[AES256_GCM,data:2Q==,iv:BgYGBgYGBgYGBgYGBgYGBgYGBgYGBgYGBgYGBgYGBgY=,tag:ukIPVm5FUhdAsjCcbN95tQ==,type:str]"),
            ("list:", ValueType::Int, b"7", 7, "ENC[AES256_GCM,data:Dg==,iv:BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=,tag:cPaYnhQIOonvfyTEgHjf8w==,type:int]"),
            (":", ValueType::Comment, b" top comment", 8, "ENC[AES256_GCM,data:tt2KtMimvr07XSUJ,iv:CAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAg=,tag:+NeN3LwA97JjEt7yOSs4rQ==,type:comment]"),
        ];
        for (aad, typ, pt, ivb, want) in cases {
            let got = c
                .encrypt_with_iv(pt, aad.as_bytes(), typ, &[ivb; 32])
                .unwrap();
            assert_eq!(got, want, "aad {aad}");
            let (back, t) = c.decrypt(&got, aad.as_bytes(), aad).unwrap();
            assert_eq!(&back[..], pt);
            assert_eq!(t, typ);
        }
    }

    #[test]
    fn wrong_aad_or_flipped_bit_fails_with_25() {
        let c = Cipher::new(&tv_key());
        let v = c.encrypt(b"secret-value", b"a:", ValueType::Str).unwrap();
        let e = c.decrypt(&v, b"b:", "[\"b\"]").unwrap_err();
        assert_eq!(e.kind, crate::ErrorKind::ValueDecrypt);
        assert!(!e.message.contains("secret-value"));
        // Flip a character inside the tag.
        let i = v.find("tag:").unwrap() + 5;
        let mut t = v.clone().into_bytes();
        t[i] = if t[i] == b'A' { b'B' } else { b'A' };
        let t = String::from_utf8(t).unwrap();
        assert_eq!(
            c.decrypt(&t, b"a:", "a").unwrap_err().kind,
            crate::ErrorKind::ValueDecrypt
        );
        let e = c.decrypt("plaintext!", b"a:", "[\"a\"]").unwrap_err();
        assert_eq!(e.kind, crate::ErrorKind::ValueDecrypt);
        assert!(!e.message.contains("plaintext!"));
    }

    #[test]
    fn the_strict_shape_refuses_what_the_reader_would_ignore() {
        let c = Cipher::new(&tv_key());
        let v = c.encrypt(b"x", b"a:", ValueType::Str).unwrap();
        assert_eq!(shape_problem(&v), None);
        let c2 = c.encrypt(b"", b"a:", ValueType::Comment).unwrap();
        assert!(shape_problem(&c2).is_some(), "empty data is never written");
        for bad in [
            format!("{v} hunter2"),
            format!("{v}\nhunter2"),
            v.replace("type:str", "type:secret"),
            v.replace(",iv:", ",iv:AAAA"),
            v.replace(",tag:", ",tag:AA"),
            v.replace("data:", "data:!"),
            "hunter2".to_string(),
            String::new(),
        ] {
            assert!(shape_problem(&bad).is_some(), "{bad}");
        }
        // The reader still takes the trailing text (as sops does): hence the strict check.
        assert!(is_encrypted(&format!("{v} hunter2")));
    }

    #[test]
    fn reader_ignores_trailing_text_and_is_greedy() {
        let e =
            parse_encoded("ENC[AES256_GCM,data:AA==,iv:BB==,tag:CC==,type:str] trailing").unwrap();
        assert_eq!(e.data, "AA==");
        assert_eq!(e.typ, "str");
        assert!(parse_encoded("ENC[AES256_GCM,data:,iv:a,tag:b,type:str]").is_none());
        assert!(!is_encrypted("hello"));
    }

    /// The hand-written splitter gives what sops' regular expression gives.
    #[test]
    fn parser_matches_the_regex() {
        let re =
            regex::Regex::new(r"^ENC\[AES256_GCM,data:(.+),iv:(.+),tag:(.+),type:(.+)\]").unwrap();
        let cases = [
            "ENC[AES256_GCM,data:AA==,iv:BB==,tag:CC==,type:str]",
            "ENC[AES256_GCM,data:AA==,iv:BB==,tag:CC==,type:str] trailing ] more]",
            "ENC[AES256_GCM,data:a,iv:b,iv:c,tag:d,tag:e,type:f,type:g]]",
            "ENC[AES256_GCM,data:a,iv:b,tag:c,type:]",
            "ENC[AES256_GCM,data:a,iv:b,tag:c,type:x]\n]",
            "ENC[AES256_GCM,data:a,iv:b,tag:c,type:x\n]",
            "ENC[AES256_GCM,data:,iv:,iv:b,tag:c,type:x]",
            "ENC[AES256_GCM,data:a,iv:b,tag:,tag:c,type:x]",
            "ENC[AES256_GCM,data:a,iv:,tag:c,type:x]",
            "ENC[AES256_GCM,data:a,iv:b,tag:c,type:d,iv:e,tag:f,type:g]",
            "ENC[AES256_GCM,data:é,iv:ü,tag:ß,type:ñ]x",
            "ENC[AES256_GCM,data:a,iv:b,tag:c,type:x",
            "ENC[AES256_GCM,data:a,iv:b,tag:c,type:]]",
            "ENC[AES256_GCM,data:a,iv:b,tag:c,type:x]]\n",
            "ENC[AES256_GCM,data:,iv:b,tag:c,type:x]",
            "ENC[AES256_GCM,data",
            "",
            "ENC[AES256_GCM,data:a,iv:b,tag:c,type:x] ",
            "ENC[AES256_GCM,data:a,iv:b,tag:c,typ:x]",
            "ENC[AES256_GCM,data:a,iv:,tag:c,type:x]",
            "ENC[AES256_GCM,data:a,iv:b,tag:,type:x]",
            "ENC[AES256_GCM,data:a,iv:b,tag:c,type:]",
            "ENC[AES256_GCM,data:,iv:b,tag:c,type:x]",
            "ENC[AES256_GCM,data:a,iv:b,tag:c,,type:x]",
            "ENC[AES256_GCM,data:a;iv:b,tag:c,type:x,]",
            "ENC[AES256_GCM,data:a\n,iv:b,tag:c,type:x]",
            "ENC[AES256_GCM,data:a],iv:b,tag:c,type:x]",
            "ENC[AES256_GCM,data:a,iv:b,tag:c,type:x]]",
            "ENC[AES256_GCM,data:zsvbi70=,iv:AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=,tag:cPyACupaRycEEMgTOcVu6w==,type:str]",
        ];
        for c in cases {
            let want = re.captures(c).map(|m| {
                (1..=4)
                    .map(|i| m.get(i).unwrap().as_str())
                    .collect::<Vec<_>>()
            });
            let got = parse_encoded(c).map(|e| vec![e.data, e.iv, e.tag, e.typ]);
            assert_eq!(got, want, "{c:?}");
        }
    }
}
