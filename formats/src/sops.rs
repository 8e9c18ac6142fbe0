//! The encrypt and decrypt walks over the tree, and the MAC.
//!
//! Both walks visit every leaf depth-first in file order, keeping the key path (map keys
//! only; list indices are not part of it) and sops' comment stack, decide per leaf whether
//! it is encrypted (§4.2 of the spec), and feed the MAC: SHA-512 over the plaintext bytes
//! of the hashed leaves, concatenated, stored as uppercase hex encrypted with
//! `lastmodified` as additional data.

use crate::cipher::{Cipher, DataKey, ValueType};
use crate::error::{path_display, Code, Error, Result};
use crate::metadata::{Metadata, Selector};
use crate::numfmt::{go_float_f, parse_go_bool, parse_go_float, parse_go_int, sops_bool};
use crate::timefmt::{canonical_time, mac_aad};
use crate::tree::{Comment, Document, Item, Value};
use regex::Regex;
use sha2::{Digest, Sha256, Sha512};
use std::collections::HashMap;
use zeroize::Zeroizing;

/// The IVs of the values a decryption saw, so that re-encrypting an unchanged value
/// (same plaintext, type and path) under the same data key gives the same `ENC[…]` string
/// and `edit`/`set` diffs show only what changed (sops does the same).
///
/// Entries are keyed by a SHA-256 of the type, path and plaintext, so the stash itself
/// holds no plaintext.
#[derive(Default)]
pub struct Stash(HashMap<[u8; 32], [u8; 32]>);

impl Stash {
    fn id(typ: ValueType, aad: &[u8], plain: &[u8]) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(typ.name().as_bytes());
        h.update([0]);
        h.update((aad.len() as u64).to_le_bytes());
        h.update(aad);
        h.update(plain);
        h.finalize().into()
    }

    fn record(&mut self, typ: ValueType, aad: &[u8], plain: &[u8], stored: &str) {
        use base64::Engine;
        let iv = crate::cipher::parse_encoded(stored)
            .and_then(|e| base64::engine::general_purpose::STANDARD.decode(e.iv).ok())
            .and_then(|iv| <[u8; 32]>::try_from(iv).ok());
        if let Some(iv) = iv {
            self.0.insert(Self::id(typ, aad, plain), iv);
        }
    }

    fn get(&self, typ: ValueType, aad: &[u8], plain: &[u8]) -> Option<&[u8; 32]> {
        self.0.get(&Self::id(typ, aad, plain))
    }

    /// Number of remembered values.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// A compiled selector.
enum Rule {
    UnencryptedSuffix(String),
    EncryptedSuffix(String),
    UnencryptedRegex(Regex),
    EncryptedRegex(Regex),
    UnencryptedCommentRegex(Regex),
    EncryptedCommentRegex(Regex),
}

/// Decides which leaves are encrypted.
pub struct Selection {
    rule: Rule,
    mac_only_encrypted: bool,
}

impl Selection {
    /// Compiles `selector` (None = the default unencrypted suffix).
    pub fn new(selector: Option<&Selector>, mac_only_encrypted: bool) -> Result<Self> {
        let re = |r: &str| {
            Regex::new(r).map_err(|e| {
                Error::generic(format!("invalid regular expression {r:?}: {e}"))
                    .with_hint("fix the regex in .sops.yaml or on the command line")
            })
        };
        let default = Selector::default();
        let rule = match selector.unwrap_or(&default) {
            Selector::UnencryptedSuffix(s) => Rule::UnencryptedSuffix(s.clone()),
            Selector::EncryptedSuffix(s) => Rule::EncryptedSuffix(s.clone()),
            Selector::UnencryptedRegex(r) => Rule::UnencryptedRegex(re(r)?),
            Selector::EncryptedRegex(r) => Rule::EncryptedRegex(re(r)?),
            Selector::UnencryptedCommentRegex(r) => Rule::UnencryptedCommentRegex(re(r)?),
            Selector::EncryptedCommentRegex(r) => Rule::EncryptedCommentRegex(re(r)?),
        };
        Ok(Selection {
            rule,
            mac_only_encrypted,
        })
    }

    /// The selection a file's metadata records.
    pub fn for_metadata(md: &Metadata) -> Result<Self> {
        Self::new(md.selector.as_ref(), md.mac_only_encrypted)
    }

    fn should_encrypt(&self, path: &[String], stack: &[Vec<String>], is_comment: bool) -> bool {
        match &self.rule {
            Rule::UnencryptedSuffix(s) => !path.iter().any(|k| k.ends_with(s.as_str())),
            Rule::EncryptedSuffix(s) => path.iter().any(|k| k.ends_with(s.as_str())),
            Rule::UnencryptedRegex(r) => !path.iter().any(|k| r.is_match(k)),
            Rule::EncryptedRegex(r) => path.iter().any(|k| r.is_match(k)),
            Rule::UnencryptedCommentRegex(r) => !stack.iter().flatten().any(|c| r.is_match(c)),
            Rule::EncryptedCommentRegex(r) => {
                let last = stack.len().saturating_sub(1);
                stack.iter().enumerate().any(|(li, level)| {
                    let n = if is_comment && li == last {
                        level.len().saturating_sub(1)
                    } else {
                        level.len()
                    };
                    level[..n].iter().any(|c| r.is_match(c))
                })
            }
        }
    }

    fn new_hasher(&self) -> Sha512 {
        let mut h = Sha512::new();
        if self.mac_only_encrypted {
            h.update(Sha256::digest(b"sops"));
        }
        h
    }
}

/// What the walk does at each leaf.
trait Visitor {
    fn leaf(&mut self, v: &mut Value, path: &[String], encrypted: bool) -> Result<()>;
    fn comment(&mut self, c: &mut Comment, path: &[String], encrypted: bool) -> Result<()>;
}

struct Walk<'a, V> {
    sel: &'a Selection,
    visitor: V,
    path: Vec<String>,
    stack: Vec<Vec<String>>,
}

impl<V: Visitor> Walk<'_, V> {
    fn value(&mut self, v: &mut Value) -> Result<()> {
        match v {
            Value::Map(m) => {
                self.stack.push(Vec::new());
                for item in m.0.iter_mut() {
                    match item {
                        Item::Comment(c) => self.comment(c)?,
                        Item::Pair(k, v) => {
                            self.path.push(k.clone());
                            let r = self.value(v);
                            self.path.pop();
                            r?;
                            self.stack.last_mut().expect("pushed").clear();
                        }
                    }
                }
                self.stack.pop();
            }
            Value::List(l) => {
                self.stack.push(Vec::new());
                for e in l.iter_mut() {
                    if let Value::Comment(c) = e {
                        self.comment(c)?;
                    } else {
                        self.value(e)?;
                        self.stack.last_mut().expect("pushed").clear();
                    }
                }
                self.stack.pop();
            }
            Value::Null => {}
            Value::Comment(c) => self.comment(c)?,
            leaf => {
                let enc = self.sel.should_encrypt(&self.path, &self.stack, false);
                self.visitor.leaf(leaf, &self.path, enc)?;
            }
        }
        Ok(())
    }

    fn comment(&mut self, c: &mut Comment) -> Result<()> {
        self.stack
            .last_mut()
            .expect("comments live in containers")
            .push(c.text().to_string());
        let enc = self.sel.should_encrypt(&self.path, &self.stack, true);
        self.visitor.comment(c, &self.path, enc)
    }
}

fn walk<V: Visitor>(docs: &mut [Document], sel: &Selection, visitor: V) -> Result<V> {
    let mut w = Walk {
        sel,
        visitor,
        path: Vec::new(),
        stack: Vec::new(),
    };
    for doc in docs.iter_mut() {
        let mut v = Value::Map(std::mem::take(doc));
        let r = w.value(&mut v);
        if let Value::Map(m) = v {
            *doc = m;
        }
        r?;
    }
    Ok(w.visitor)
}

/// The additional data for a value at `path`: `a:b:c:`.
pub fn aad(path: &[String]) -> String {
    let mut s = String::new();
    for k in path {
        s.push_str(k);
        s.push(':');
    }
    if path.is_empty() {
        s.push(':');
    }
    s
}

/// The plaintext bytes of a scalar: what is encrypted and hashed (§2.4).
fn plain_bytes(v: &Value) -> Option<(Zeroizing<Vec<u8>>, ValueType)> {
    let (b, t) = match v {
        Value::Str(s) => (s.as_bytes().to_vec(), ValueType::Str),
        Value::Bytes(b) => (b.to_vec(), ValueType::Str),
        Value::Int(i) => (i.to_string().into_bytes(), ValueType::Int),
        Value::Float(f) => (go_float_f(*f).into_bytes(), ValueType::Float),
        Value::Bool(b) => (sops_bool(*b).as_bytes().to_vec(), ValueType::Bool),
        Value::Time(t) => (t.as_bytes().to_vec(), ValueType::Time),
        _ => return None,
    };
    Some((Zeroizing::new(b), t))
}

struct Encryptor<'a> {
    cipher: &'a Cipher,
    stash: Option<&'a Stash>,
    sel: &'a Selection,
    mac: Sha512,
    unencrypted_comment_regex: Option<&'a Regex>,
}

impl Encryptor<'_> {
    fn encrypt(&self, plain: &[u8], aad: &[u8], typ: ValueType) -> Result<String> {
        match self.stash.and_then(|s| s.get(typ, aad, plain)) {
            Some(iv) => self.cipher.encrypt_with_iv(plain, aad, typ, iv),
            None => self.cipher.encrypt(plain, aad, typ),
        }
    }
}

impl Visitor for Encryptor<'_> {
    fn leaf(&mut self, v: &mut Value, path: &[String], encrypted: bool) -> Result<()> {
        let (plain, typ) = plain_bytes(v).ok_or_else(|| {
            Error::new(
                Code::ErrorEncryptingTree,
                format!("cannot encrypt the {} at {}", v.kind(), path_display(path)),
            )
        })?;
        if encrypted || !self.sel.mac_only_encrypted {
            self.mac.update(&plain[..]);
        }
        if encrypted && !plain.is_empty() {
            *v = Value::str(self.encrypt(&plain, aad(path).as_bytes(), typ)?);
        }
        Ok(())
    }

    fn comment(&mut self, c: &mut Comment, path: &[String], encrypted: bool) -> Result<()> {
        if !encrypted || c.text().is_empty() {
            return Ok(());
        }
        if let Some(r) = self.unencrypted_comment_regex {
            // The stored ENC[…] text would itself match: sops refuses (exit 23), because the
            // decrypt walk would then see a different comment stack.
            if r.is_match("ENC[AES256_GCM,data:") {
                return Err(Error::new(
                    Code::ErrorEncryptingTree,
                    format!(
                        "the unencrypted_comment_regex matches encrypted comments (at {}); decryption could not tell them apart",
                        path_display(path)
                    ),
                ));
            }
        }
        let enc = self.encrypt(
            c.text().as_bytes(),
            aad(path).as_bytes(),
            ValueType::Comment,
        )?;
        *c = Comment::new(enc);
        Ok(())
    }
}

fn hex_upper(b: &[u8]) -> String {
    const H: &[u8; 16] = b"0123456789ABCDEF";
    let mut s = String::with_capacity(b.len() * 2);
    for &x in b {
        s.push(H[(x >> 4) as usize] as char);
        s.push(H[(x & 15) as usize] as char);
    }
    s
}

/// Encrypts the selected leaves of `docs` in place and returns the encrypted MAC for
/// `lastmodified`.
pub fn encrypt_tree(
    docs: &mut [Document],
    key: &DataKey,
    sel: &Selection,
    lastmodified: &str,
) -> Result<String> {
    encrypt_tree_with_stash(docs, key, sel, lastmodified, None)
}

/// [`encrypt_tree`], reusing the IVs a decryption under the same key recorded in `stash`.
pub fn encrypt_tree_with_stash(
    docs: &mut [Document],
    key: &DataKey,
    sel: &Selection,
    lastmodified: &str,
    stash: Option<&Stash>,
) -> Result<String> {
    let cipher = Cipher::new(key);
    let ucr = match &sel.rule {
        Rule::UnencryptedCommentRegex(r) => Some(r),
        _ => None,
    };
    let enc = walk(
        docs,
        sel,
        Encryptor {
            cipher: &cipher,
            stash,
            sel,
            mac: sel.new_hasher(),
            unencrypted_comment_regex: ucr,
        },
    )?;
    let mac = hex_upper(&enc.mac.finalize());
    cipher
        .encrypt(mac.as_bytes(), lastmodified.as_bytes(), ValueType::Str)
        .map_err(|e| e.with_code(Code::ErrorEncryptingMac))
}

struct Decryptor<'a> {
    cipher: &'a Cipher,
    stash: Option<Stash>,
    sel: &'a Selection,
    mac: Sha512,
    file: &'a str,
}

impl Visitor for Decryptor<'_> {
    fn leaf(&mut self, v: &mut Value, path: &[String], encrypted: bool) -> Result<()> {
        if !encrypted {
            if !self.sel.mac_only_encrypted {
                if let Some((b, _)) = plain_bytes(v) {
                    self.mac.update(&b[..]);
                }
            }
            return Ok(());
        }
        let what = format!("{} in {}", path_display(path), self.file);
        let stored = match v {
            Value::Str(s) => s,
            other => {
                return Err(Error::new(
                    Code::ErrorDecryptingTree,
                    format!(
                        "the value at {what} is an unencrypted {} where an encrypted value was expected",
                        other.kind()
                    ),
                )
                .with_hint("restore the file from version control, or set the value again with sealbox"))
            }
        };
        if stored.is_empty() {
            return Ok(());
        }
        let (plain, typ) = self.cipher.decrypt(stored, aad(path).as_bytes(), &what)?;
        if let Some(st) = &mut self.stash {
            st.record(typ, aad(path).as_bytes(), &plain, stored);
        }
        let bad_plain = || {
            Error::new(
                Code::ErrorDecryptingTree,
                format!(
                    "the decrypted value at {what} is not a valid {}",
                    typ.name()
                ),
            )
        };
        let as_str = || std::str::from_utf8(&plain).map_err(|_| bad_plain());
        let new = match typ {
            ValueType::Str | ValueType::Bytes => Value::from_bytes(plain.to_vec()),
            ValueType::Int => Value::Int(parse_go_int(as_str()?).ok_or_else(bad_plain)?),
            ValueType::Float => Value::Float(parse_go_float(as_str()?).ok_or_else(bad_plain)?),
            ValueType::Bool => Value::Bool(parse_go_bool(as_str()?).ok_or_else(bad_plain)?),
            ValueType::Time => Value::Time(canonical_time(as_str()?).ok_or_else(bad_plain)?),
            ValueType::Comment => {
                // A list comment stored as a string (sops 3.11's writer): never hashed.
                *v = Value::Comment(Comment::new(as_str()?));
                return Ok(());
            }
        };
        if let Some((b, _)) = plain_bytes(&new) {
            self.mac.update(&b[..]);
        }
        *v = new;
        Ok(())
    }

    fn comment(&mut self, c: &mut Comment, path: &[String], encrypted: bool) -> Result<()> {
        if !encrypted || !crate::cipher::is_encrypted(c.text()) {
            return Ok(());
        }
        let what = format!("comment under {} in {}", path_display(path), self.file);
        match self.cipher.decrypt(c.text(), aad(path).as_bytes(), &what) {
            Ok((plain, typ)) => match String::from_utf8(plain.to_vec()) {
                Ok(s) if self.stash.is_some() => {
                    if let Some(st) = &mut self.stash {
                        st.record(typ, aad(path).as_bytes(), &plain, c.text());
                    }
                    *c = Comment::new(s)
                }
                Ok(s) => *c = Comment::new(s),
                Err(_) => tracing::warn!("{what}: decrypted comment is not UTF-8; kept encrypted"),
            },
            // sops keeps comments it cannot decrypt, with a warning.
            Err(_) => tracing::warn!("could not decrypt the {what}; kept as it is"),
        }
        Ok(())
    }
}

/// Decrypts `docs` in place and checks the MAC (unless `ignore_mac`). `file` names the
/// file in messages.
pub fn decrypt_tree(
    docs: &mut [Document],
    md: &Metadata,
    key: &DataKey,
    ignore_mac: bool,
    file: &str,
) -> Result<()> {
    decrypt_tree_inner(docs, md, key, ignore_mac, file, false).map(|_| ())
}

/// [`decrypt_tree`], also returning the [`Stash`] of the IVs seen, for re-encryption.
pub fn decrypt_tree_with_stash(
    docs: &mut [Document],
    md: &Metadata,
    key: &DataKey,
    ignore_mac: bool,
    file: &str,
) -> Result<Stash> {
    decrypt_tree_inner(docs, md, key, ignore_mac, file, true).map(Option::unwrap_or_default)
}

fn decrypt_tree_inner(
    docs: &mut [Document],
    md: &Metadata,
    key: &DataKey,
    ignore_mac: bool,
    file: &str,
    want_stash: bool,
) -> Result<Option<Stash>> {
    let sel = Selection::for_metadata(md)?;
    let cipher = Cipher::new(key);
    let dec = walk(
        docs,
        &sel,
        Decryptor {
            stash: want_stash.then(Stash::default),
            cipher: &cipher,
            sel: &sel,
            mac: sel.new_hasher(),
            file,
        },
    )?;
    let stash = dec.stash;
    if ignore_mac {
        return Ok(stash);
    }
    let computed = hex_upper(&dec.mac.finalize());
    let mac_err = |m: String| {
        Error::new(Code::MacMismatch, m).with_hint(
            "the file was changed outside sops/sealbox; if you trust the change, decrypt with --ignore-mac and re-encrypt",
        )
    };
    if md.mac.is_empty() {
        return Err(mac_err(format!("{file}: the file has no MAC")));
    }
    let aad = mac_aad(&md.lastmodified).ok_or_else(|| {
        Error::generic(format!("{file}: sops.lastmodified is not an RFC 3339 time"))
    })?;
    let (stored, _) = cipher
        .decrypt(&md.mac, aad.as_bytes(), "sops.mac")
        .map_err(|_| {
            mac_err(format!(
                "{file}: cannot decrypt the MAC (sops.mac or sops.lastmodified was altered)"
            ))
        })?;
    if stored.as_slice() != computed.as_bytes() {
        return Err(mac_err(format!(
            "{file}: MAC mismatch: the values do not match the MAC stored in the file"
        )));
    }
    Ok(stash)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tree::Map;

    fn tv_key() -> DataKey {
        DataKey::from_slice(&(0u8..32).collect::<Vec<_>>()).unwrap()
    }

    fn sel(s: Option<Selector>) -> Selection {
        Selection::new(s.as_ref(), false).unwrap()
    }

    /// The TV-2/TV-3 tree of the spec (before encryption).
    fn tv_tree() -> Document {
        let mut m = Map::new();
        m.push_comment(" top comment");
        m.push("hello", Value::str("world"));
        m.push("n", Value::Int(42));
        m.push("pi", Value::Float(3.25));
        m.push("ok", Value::Bool(true));
        let mut db = Map::new();
        db.push("password", Value::str("s3crét"));
        m.push("db", Value::Map(db));
        m.push("list", Value::List(vec![Value::str("a"), Value::Int(7)]));
        m.push("note_unencrypted", Value::str("visible"));
        m
    }

    #[test]
    fn mac_matches_spec_tv2() {
        let mut docs = vec![tv_tree()];
        let key = tv_key();
        let mac = encrypt_tree(&mut docs, &key, &sel(None), "2024-01-01T00:00:00Z").unwrap();
        let (plain, _) = Cipher::new(&key)
            .decrypt(&mac, b"2024-01-01T00:00:00Z", "mac")
            .unwrap();
        assert_eq!(
            std::str::from_utf8(&plain).unwrap(),
            "BE9480E15DCD68D0CB818437ACB36BC5DC4B437701947AB0B65E0352E42EAEC7B71841254E74798928E82D053F63E9406F6B9F934C6E7F626635A85BF23D981E"
        );
        // mac_only_encrypted variant.
        let mut docs = vec![tv_tree()];
        let s = Selection::new(None, true).unwrap();
        let mac = encrypt_tree(&mut docs, &key, &s, "2024-01-01T00:00:00Z").unwrap();
        let (plain, _) = Cipher::new(&key)
            .decrypt(&mac, b"2024-01-01T00:00:00Z", "mac")
            .unwrap();
        assert_eq!(
            std::str::from_utf8(&plain).unwrap(),
            "5A5CA51ABDC8DC2BDD96BCD03272D5E6D10E85D66009CEB8545A8BD59638C0F0DEFA7B565FA6FB3824CD65B09AEBBE2F0026768CC11208EFB6B6ECD1B37B8C5D"
        );
    }

    fn md_for(mac: String, selector: Option<Selector>) -> Metadata {
        Metadata {
            key_groups: vec![],
            shamir_threshold: 0,
            lastmodified: "2024-01-01T00:00:00Z".into(),
            mac,
            selector,
            mac_only_encrypted: false,
            version: "3.11.0".into(),
        }
    }

    #[test]
    fn round_trip_and_selected_leaves() {
        let key = tv_key();
        let mut docs = vec![tv_tree()];
        let mac = encrypt_tree(&mut docs, &key, &sel(None), "2024-01-01T00:00:00Z").unwrap();
        let d = &docs[0];
        assert_eq!(d.get("note_unencrypted"), Some(&Value::str("visible")));
        for k in ["hello", "n", "pi", "ok"] {
            assert!(
                d.get(k).unwrap().as_str().unwrap().starts_with("ENC["),
                "{k}"
            );
        }
        match &d.0[0] {
            Item::Comment(c) => assert!(c.text().ends_with("type:comment]")),
            _ => panic!("comment first"),
        }
        decrypt_tree(&mut docs, &md_for(mac, None), &key, false, "f").unwrap();
        assert_eq!(docs[0], tv_tree());
    }

    #[test]
    fn tampering_is_caught() {
        let key = tv_key();
        let mut docs = vec![tv_tree()];
        let mac = encrypt_tree(&mut docs, &key, &sel(None), "2024-01-01T00:00:00Z").unwrap();
        // Change the unencrypted value: MAC mismatch (51).
        let mut t = docs.clone();
        *t[0].get_mut("note_unencrypted").unwrap() = Value::str("other");
        let e = decrypt_tree(&mut t, &md_for(mac.clone(), None), &key, false, "f").unwrap_err();
        assert_eq!(e.exit_code(), 51);
        // ... which --ignore-mac lets through.
        let mut t2 = docs.clone();
        *t2[0].get_mut("note_unencrypted").unwrap() = Value::str("other");
        decrypt_tree(&mut t2, &md_for(mac.clone(), None), &key, true, "f").unwrap();
        // Swap two encrypted values: AEAD failure (25), even with --ignore-mac.
        let mut t = docs.clone();
        let a = t[0].get("hello").unwrap().clone();
        *t[0].get_mut("n").unwrap() = a;
        let e = decrypt_tree(&mut t, &md_for(mac.clone(), None), &key, true, "f").unwrap_err();
        assert_eq!(e.exit_code(), 25);
        // Remove a value (set it to ""): MAC mismatch.
        let mut t = docs.clone();
        *t[0].get_mut("hello").unwrap() = Value::str("");
        let e = decrypt_tree(&mut t, &md_for(mac.clone(), None), &key, false, "f").unwrap_err();
        assert_eq!(e.exit_code(), 51);
        // Different lastmodified: cannot decrypt MAC.
        let mut m = md_for(mac, None);
        m.lastmodified = "2024-01-01T00:00:01Z".into();
        let mut t = docs.clone();
        assert_eq!(
            decrypt_tree(&mut t, &m, &key, false, "f")
                .unwrap_err()
                .exit_code(),
            51
        );
    }

    #[test]
    fn comment_regex_semantics_match_spec_example() {
        // §4.2 example with encrypted_comment_regex sops:enc.
        let mut m = Map::new();
        m.push_comment(" sops:enc");
        m.push("secret", Value::str("s"));
        m.push("plain", Value::str("p1"));
        m.push_comment(" sops:enc");
        m.push_comment(" second comment");
        let mut tree = Map::new();
        tree.push("x", Value::str("x"));
        tree.push("y", Value::str("y"));
        m.push("tree", Value::Map(tree));
        m.push(
            "list",
            Value::List(vec![
                Value::Comment(Comment::new(" sops:enc")),
                Value::str("l1"),
                Value::str("l2"),
            ]),
        );
        let s = sel(Some(Selector::EncryptedCommentRegex("sops:enc".into())));
        let mut docs = vec![m.clone()];
        encrypt_tree(&mut docs, &tv_key(), &s, "2024-01-01T00:00:00Z").unwrap();
        let d = &docs[0];
        let enc = |v: &Value| v.as_str().is_some_and(|s| s.starts_with("ENC["));
        let comments: Vec<bool> =
            d.0.iter()
                .filter_map(|i| match i {
                    Item::Comment(c) => Some(c.text().starts_with("ENC[")),
                    _ => None,
                })
                .collect();
        assert_eq!(comments, [false, false, true]);
        assert!(enc(d.get("secret").unwrap()));
        assert!(!enc(d.get("plain").unwrap()));
        let t = d.get("tree").unwrap().as_map().unwrap();
        assert!(enc(t.get("x").unwrap()) && enc(t.get("y").unwrap()));
        let Value::List(l) = d.get("list").unwrap() else {
            panic!()
        };
        assert!(enc(&l[1]) && !enc(&l[2]));
    }

    #[test]
    fn stash_keeps_unchanged_ciphertexts() {
        let key = tv_key();
        let mut docs = vec![tv_tree()];
        let mac = encrypt_tree(&mut docs, &key, &sel(None), "2024-01-01T00:00:00Z").unwrap();
        let encrypted = docs.clone();
        let stash =
            decrypt_tree_with_stash(&mut docs, &md_for(mac, None), &key, false, "f").unwrap();
        assert_eq!(stash.len(), 8, "7 values and 1 comment");
        *docs[0].get_mut("pi").unwrap() = Value::Float(2.5);
        encrypt_tree_with_stash(
            &mut docs,
            &key,
            &sel(None),
            "2024-01-02T00:00:00Z",
            Some(&stash),
        )
        .unwrap();
        for (k, _) in encrypted[0].pairs() {
            let same = docs[0].get(k) == encrypted[0].get(k);
            assert_eq!(same, k != "pi", "{k}");
        }
        assert!(
            docs[0].0[0] == encrypted[0].0[0],
            "the comment keeps its ciphertext"
        );
    }

    #[test]
    fn aad_rules() {
        assert_eq!(aad(&[]), ":");
        assert_eq!(aad(&["a".into(), "b".into()]), "a:b:");
    }
}
