//! The encrypt and decrypt walks over the tree, and the MAC.
//!
//! Both walks visit every leaf depth-first in file order, keeping the key path (map keys
//! only; list indices are not part of it) and sops' comment stack, decide per leaf whether
//! it is encrypted (docs/format.md#which-values-are-encrypted), and feed the MAC
//! (docs/format.md#mac): SHA-512 over the plaintext bytes of the hashed leaves, concatenated,
//! stored as uppercase hex encrypted with `lastmodified` as additional data.
//!
//! How it is made fast: the walk runs once and collects the values to encrypt or decrypt
//! (with their additional data in one shared buffer, and their key path as an index into a
//! shared list of path nodes, so nothing is allocated per value); the AES-GCM work then
//! runs over that list, on several threads for large files; the MAC is fed in file order.

use crate::cipher::{Cipher, DataKey, ValueType};
use crate::error::{path_display, Error, ErrorKind, Result};
use crate::metadata::{Metadata, Selector};
use crate::numfmt::{go_float_f, parse_go_bool, parse_go_float, parse_go_int, sops_bool};
use crate::timefmt::{canonical_time, mac_aad};
use crate::tree::{Comment, Document, Item, Map, Value};
use regex::Regex;
use sha2::{Digest, Sha256, Sha512};
use std::collections::{HashMap, HashSet};
use zeroize::Zeroizing;

/// The IVs of the values a decryption saw, so that re-encrypting an unchanged value
/// (same plaintext, type and path) under the same data key gives the same `ENC[…]` string
/// and `edit`/`set` diffs show only what changed (sops does the same).
///
/// Entries are keyed by a SHA-256 of the type, path and plaintext, so the stash itself
/// holds no plaintext.
///
/// It also remembers where the file held encrypted values and comments (a hash of each
/// one's full path: keys and list indices), so that writing the file back refuses to put
/// plaintext where there was ciphertext: the selectors in the metadata
/// (`encrypted_regex`, `unencrypted_suffix`, …) are not covered by the MAC, and a changed
/// selector would otherwise make the next `set`/`edit` publish a secret.
#[derive(Default)]
pub struct Stash {
    ivs: HashMap<[u8; 32], [u8; 32]>,
    encrypted: HashSet<[u8; 32]>,
    allow_plaintext_downgrade: bool,
}

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

    fn record(&mut self, typ: ValueType, aad: &[u8], plain: &[u8], iv: [u8; 32]) {
        self.ivs.insert(Self::id(typ, aad, plain), iv);
    }

    fn get(&self, typ: ValueType, aad: &[u8], plain: &[u8]) -> Option<&[u8; 32]> {
        self.ivs.get(&Self::id(typ, aad, plain))
    }

    /// Number of remembered values.
    pub fn len(&self) -> usize {
        self.ivs.len()
    }

    /// Whether nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.ivs.is_empty()
    }

    /// Lets a re-encryption write in plaintext what was encrypted (the
    /// `--allow-plaintext-downgrade` flag): by default it is refused.
    pub fn allow_plaintext_downgrade(&mut self, allow: bool) {
        self.allow_plaintext_downgrade = allow;
    }

    /// Whether the value or comment at full path `id` was encrypted and may not become
    /// plaintext.
    fn guards(&self, id: &[u8; 32]) -> bool {
        !self.allow_plaintext_downgrade && self.encrypted.contains(id)
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
    /// The selector as the metadata names it (`encrypted_regex "^x$"`), for messages.
    shown: String,
}

impl Selection {
    /// Compiles `selector` (None = the default unencrypted suffix).
    pub fn new(selector: Option<&Selector>, mac_only_encrypted: bool) -> Result<Self> {
        let re = |r: &str| {
            Regex::new(r).map_err(|e| {
                Error::new(
                    ErrorKind::Other,
                    format!("invalid regular expression {r:?}: {e}"),
                )
                .with_hint("fix the regex in .sops.yaml or on the command line")
            })
        };
        let default = Selector::default();
        let chosen = selector.unwrap_or(&default);
        let shown = format!("{} {:?}", chosen.key(), chosen.value());
        let rule = match chosen {
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
            shown,
        })
    }

    /// The selection a file's metadata records.
    pub fn for_metadata(md: &Metadata) -> Result<Self> {
        Self::new(md.selector.as_ref(), md.mac_only_encrypted)
    }

    /// Whether a key makes the values under it match the key rule (suffix or regex);
    /// false for the comment rules. Evaluated once per key of the file, not once per leaf
    /// under it: a long key above many leaves would otherwise be scanned again for each.
    fn key_matches(&self, k: &str) -> bool {
        crate::opcount::tick(1 + k.len());
        match &self.rule {
            Rule::UnencryptedSuffix(s) | Rule::EncryptedSuffix(s) => k.ends_with(s.as_str()),
            Rule::UnencryptedRegex(r) | Rule::EncryptedRegex(r) => r.is_match(k),
            Rule::UnencryptedCommentRegex(_) | Rule::EncryptedCommentRegex(_) => false,
        }
    }

    /// Whether a comment matches the comment rule (false for the key rules). Evaluated once
    /// per comment, when the walk meets it.
    fn comment_matches(&self, c: &str) -> bool {
        crate::opcount::tick(1 + c.len());
        match &self.rule {
            Rule::UnencryptedCommentRegex(r) | Rule::EncryptedCommentRegex(r) => r.is_match(c),
            _ => false,
        }
    }

    /// sops' decision for a leaf (or, `is_comment`, a comment just pushed on the stack):
    /// `key_hit` is whether any key of its path matches the key rule, `comments` the
    /// comment stack's counts.
    fn should_encrypt(&self, key_hit: bool, comments: &CommentStack, is_comment: bool) -> bool {
        match &self.rule {
            Rule::UnencryptedSuffix(_) | Rule::UnencryptedRegex(_) => !key_hit,
            Rule::EncryptedSuffix(_) | Rule::EncryptedRegex(_) => key_hit,
            Rule::UnencryptedCommentRegex(_) => comments.matching == 0,
            Rule::EncryptedCommentRegex(_) => {
                // The comment being decided is not part of its own context.
                let own = is_comment && comments.levels.last().is_some_and(|l| l.last_matched);
                comments.matching > usize::from(own)
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

/// Where a leaf is: its key path, an index into the walk's path nodes ([`ROOT`] at the
/// top level). Its additional data is built from the path when it is needed.
#[derive(Clone)]
struct At {
    node: usize,
}

/// The path node of the top level.
const ROOT: usize = usize::MAX;

/// The key paths of the walk: one node (parent, key) per map key visited.
#[derive(Default)]
struct Paths<'t>(Vec<(usize, &'t str)>);

impl Paths<'_> {
    /// Appends the additional data of `node`'s values to `out`: `a:b:`, or `:` at the top
    /// level. Built for each value when it is encrypted or decrypted (the same bytes AES-GCM
    /// reads anyway) rather than kept for every key: keeping them cost the length of a
    /// key times the number of keys under it, so one long key above many short ones could
    /// take far more memory than the file.
    fn write_aad(&self, node: usize, out: &mut Vec<u8>) {
        if node == ROOT {
            out.push(b':');
            return;
        }
        let (parent, k) = self.0[node];
        if parent != ROOT {
            self.write_aad(parent, out);
        }
        crate::opcount::tick(1);
        out.extend_from_slice(k.as_bytes());
        out.push(b':');
    }

    /// Calls `f` with the additional data of `node` (in a buffer reused per thread).
    fn with_aad<R>(&self, node: usize, f: impl FnOnce(&[u8]) -> R) -> R {
        thread_local!(static BUF: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) });
        BUF.with(|b| {
            let mut b = b.borrow_mut();
            b.clear();
            self.write_aad(node, &mut b);
            f(&b)
        })
    }

    fn keys(&self, mut node: usize) -> Vec<&str> {
        let mut keys = Vec::new();
        while node != ROOT {
            let (parent, k) = self.0[node];
            keys.push(k);
            node = parent;
        }
        keys.reverse();
        keys
    }

    fn display(&self, node: usize) -> String {
        path_display(&self.keys(node))
    }
}

/// What the walk does at each leaf and comment.
trait Visitor<'t> {
    /// The exit code of [`check_ambiguous_paths`]' error, and the file to name in it
    /// (empty: the caller names it).
    fn ambiguity_context(&self) -> (ErrorKind, &str);
    fn leaf(&mut self, v: &'t mut Value, w: &WalkState<'t>, encrypted: bool) -> Result<()>;
    fn comment(&mut self, c: &'t mut Comment, w: &WalkState<'t>, encrypted: bool) -> Result<()>;
}

/// sops' comment stack, as counts: one level per open map or list, holding how many of
/// the comments met at that level since its last key (or list element) match the comment
/// rule. A leaf's decision then costs nothing per comment above it (with the texts
/// themselves on the stack, each leaf under a key preceded by many comments rescanned them
/// all: quadratic).
#[derive(Default)]
struct CommentStack {
    levels: Vec<Level>,
    /// The sum of `matching` over the levels.
    matching: usize,
}

#[derive(Default, Clone, Copy)]
struct Level {
    matching: usize,
    /// Whether the last comment pushed at this level matched.
    last_matched: bool,
}

impl CommentStack {
    fn push_level(&mut self) {
        self.levels.push(Level::default());
    }

    fn pop_level(&mut self) {
        let l = self.levels.pop().expect("pushed");
        self.matching -= l.matching;
    }

    /// Forgets the current level's comments (after a key or list element).
    fn clear_level(&mut self) {
        let l = self.levels.last_mut().expect("pushed");
        self.matching -= l.matching;
        *l = Level::default();
    }

    fn push_comment(&mut self, matched: bool) {
        let l = self.levels.last_mut().expect("comments live in containers");
        l.matching += usize::from(matched);
        l.last_matched = matched;
        self.matching += usize::from(matched);
    }
}

/// The walk's position: key path, its path node, whether a key of it matches the key rule,
/// and the comment stack.
struct WalkState<'t> {
    path: Vec<&'t str>,
    node: usize,
    /// For each key of `path`: whether it or a key above it matches the key rule.
    key_hits: Vec<bool>,
    comments: CommentStack,
    paths: Paths<'t>,
    /// What each path node holds ([`LEAF`], [`OTHER`], [`CONTAINER`] bits), for
    /// [`check_ambiguous_paths`].
    kinds: Vec<u8>,
    /// Whether a key with a `:` was met (only then can two paths share additional data).
    colon_key: bool,
    /// Whether full-path ids are kept (for the [`Stash`]'s downgrade guard).
    track: bool,
    /// The full-path id of the value being visited (or, at a comment, of the comment).
    id: [u8; 32],
    /// For each open map or list: its id and how many comments it has had.
    frames: Vec<([u8; 32], usize)>,
}

/// The full-path id of a child of `parent`: a key (`b'k'`), a list index (`b'i'`), a
/// comment's ordinal (`b'c'`) or a document's index (`b'd'`).
fn child_id(parent: &[u8; 32], tag: u8, name: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(parent);
    h.update([tag]);
    h.update((name.len() as u64).to_le_bytes());
    h.update(name);
    h.finalize().into()
}

/// A path node holds a scalar or null.
const LEAF: u8 = 1;
/// ... something other than an encrypted, non-empty value (plaintext, empty, null).
const OTHER: u8 = 2;
/// ... a map or list.
const CONTAINER: u8 = 4;

impl WalkState<'_> {
    fn key_hit(&self) -> bool {
        self.key_hits.last().copied().unwrap_or(false)
    }
}

struct Walk<'s, 't, V> {
    sel: &'s Selection,
    visitor: &'s mut V,
    st: WalkState<'t>,
}

impl<'t, V: Visitor<'t>> Walk<'_, 't, V> {
    fn map(&mut self, m: &'t mut Map) -> Result<()> {
        self.st.comments.push_level();
        let me = self.st.id;
        if self.st.track {
            self.st.frames.push((me, 0));
        }
        for item in m.0.iter_mut() {
            match item {
                Item::Comment(c) => self.comment(c)?,
                Item::Pair(k, v) => {
                    let k: &'t String = k;
                    if self.st.track {
                        self.st.id = child_id(&me, b'k', k.as_bytes());
                    }
                    let node = self.st.node;
                    self.st.paths.0.push((node, k.as_str()));
                    self.st.kinds.push(0);
                    self.st.colon_key |= k.contains(':');
                    self.st.node = self.st.paths.0.len() - 1;
                    self.st.path.push(k);
                    let hit = self.st.key_hit() || self.sel.key_matches(k);
                    self.st.key_hits.push(hit);
                    let r = self.value(v);
                    self.st.key_hits.pop();
                    self.st.path.pop();
                    self.st.node = node;
                    r?;
                    self.st.comments.clear_level();
                }
            }
        }
        self.st.comments.pop_level();
        if self.st.track {
            self.st.frames.pop();
            self.st.id = me;
        }
        Ok(())
    }

    fn mark(&mut self, kind: u8) {
        if let Some(k) = self.st.kinds.get_mut(self.st.node) {
            *k |= kind;
        }
    }

    fn value(&mut self, v: &'t mut Value) -> Result<()> {
        match v {
            Value::Map(m) => {
                self.mark(CONTAINER);
                self.map(m)?
            }
            Value::List(l) => {
                self.mark(CONTAINER);
                self.st.comments.push_level();
                let me = self.st.id;
                if self.st.track {
                    self.st.frames.push((me, 0));
                }
                let mut index = 0u64;
                for e in l.iter_mut() {
                    if let Value::Comment(c) = e {
                        self.comment(c)?;
                    } else {
                        if self.st.track {
                            self.st.id = child_id(&me, b'i', &index.to_le_bytes());
                            index += 1;
                        }
                        self.value(e)?;
                        self.st.comments.clear_level();
                    }
                }
                self.st.comments.pop_level();
                if self.st.track {
                    self.st.frames.pop();
                    self.st.id = me;
                }
            }
            Value::Null => self.mark(LEAF | OTHER),
            Value::Comment(c) => self.comment(c)?,
            leaf => {
                let enc = self
                    .sel
                    .should_encrypt(self.st.key_hit(), &self.st.comments, false);
                let secret = enc && with_plain(leaf, |p, _| !p.is_empty()) == Some(true);
                self.mark(if secret { LEAF } else { LEAF | OTHER });
                self.visitor.leaf(leaf, &self.st, enc)?;
            }
        }
        Ok(())
    }

    fn comment(&mut self, c: &'t mut Comment) -> Result<()> {
        let value_id = self.st.id;
        if let Some((container, n)) = self.st.frames.last_mut() {
            self.st.id = child_id(container, b'c', &(*n as u64).to_le_bytes());
            *n += 1;
        }
        let r = self.comment_at(c);
        self.st.id = value_id;
        r
    }

    fn comment_at(&mut self, c: &'t mut Comment) -> Result<()> {
        let matched = self.sel.comment_matches(c.text());
        self.st.comments.push_comment(matched);
        let enc = self
            .sel
            .should_encrypt(self.st.key_hit(), &self.st.comments, true);
        self.visitor.comment(c, &self.st, enc)
    }
}

/// Walks `docs` in file order. The walk's state (additional data, path nodes) is returned
/// with the result, for the phase that works on what the visitor collected.
fn walk<'t, V: Visitor<'t>>(
    docs: &'t mut [Document],
    sel: &Selection,
    visitor: &mut V,
    track: bool,
) -> (WalkState<'t>, Result<()>) {
    let mut w = Walk {
        sel,
        visitor,
        st: WalkState {
            path: Vec::new(),
            node: ROOT,
            key_hits: Vec::new(),
            comments: CommentStack::default(),
            paths: Paths::default(),
            kinds: Vec::new(),
            colon_key: false,
            track,
            id: [0; 32],
            frames: Vec::new(),
        },
    };
    let mut r = Ok(());
    for (i, doc) in docs.iter_mut().enumerate() {
        if track {
            w.st.id = child_id(&[0; 32], b'd', &(i as u64).to_le_bytes());
        }
        r = w.map(doc);
        if r.is_err() {
            break;
        }
    }
    if r.is_ok() && w.st.colon_key {
        let (kind, file) = w.visitor.ambiguity_context();
        r = check_ambiguous_paths(&w.st, kind, file);
    }
    (w.st, r)
}

/// Refuses a tree where two different key paths share their additional data and one of
/// them holds something other than an encrypted, non-empty value.
///
/// sops binds a value to its key path joined with `:` (`a:b:`), so the key `"a:b"` and
/// the key `b` under `a` give the same additional data: a ciphertext moved from one to the
/// other still decrypts. Someone without the key could move `db.password`'s ciphertext to
/// a new top-level key `"db:password"` at the same place in the MAC's order and leave
/// `db.password` empty (not hashed) or, under `mac_only_encrypted`, plaintext of their
/// choosing (not hashed either): the MAC still verifies. Files whose colliding paths all
/// hold encrypted values (which only the file's author can write, e.g. test vector TV-7 in docs/format.md#test-vectors)
/// are kept readable, as sops reads them.
///
/// Linear: each key is split at `:` once into a trie of the parts (its additional data)
/// next to a trie of whole keys (its key path); two paths collide when they reach the
/// same node of the first through different nodes of the second.
fn check_ambiguous_paths(st: &WalkState<'_>, kind: ErrorKind, file: &str) -> Result<()> {
    #[derive(Default)]
    struct Group {
        /// The first path node of each distinct key path in the group.
        paths: Vec<(usize, usize)>,
        kinds: u8,
    }
    let nodes = &st.paths.0;
    let mut key_trie: HashMap<(usize, &str), usize> = HashMap::new();
    let mut part_trie: HashMap<(usize, &str), usize> = HashMap::new();
    let mut groups: HashMap<usize, Group> = HashMap::new();
    let (mut kid, mut pid) = (vec![ROOT; nodes.len()], vec![ROOT; nodes.len()]);
    for (i, &(parent, key)) in nodes.iter().enumerate() {
        crate::opcount::tick(1 + key.len());
        let (pk, mut pp) = if parent == ROOT {
            (ROOT, ROOT)
        } else {
            (kid[parent], pid[parent])
        };
        let n = key_trie.len();
        kid[i] = *key_trie.entry((pk, key)).or_insert(n);
        for part in key.split(':') {
            let n = part_trie.len();
            pp = *part_trie.entry((pp, part)).or_insert(n);
        }
        pid[i] = pp;
        let g = groups.entry(pp).or_default();
        g.kinds |= st.kinds[i];
        if !g.paths.iter().any(|&(k, _)| k == kid[i]) {
            g.paths.push((kid[i], i));
        }
    }
    let mut bad: Vec<&Group> = groups
        .values()
        .filter(|g| g.paths.len() > 1 && g.kinds & LEAF != 0 && g.kinds & (OTHER | CONTAINER) != 0)
        .collect();
    bad.sort_by_key(|g| g.paths[0].1);
    match bad.first() {
        None => Ok(()),
        Some(g) => {
            let shown: Vec<String> = g.paths.iter().map(|&(_, n)| st.paths.display(n)).collect();
            let mut aad = Vec::new();
            st.paths.write_aad(g.paths[0].1, &mut aad);
            Err(Error::new(
                kind,
                format!(
                    "the key paths {}{} share their additional data ({:?}) and one of them holds no encrypted value: a ciphertext could have been moved between them without changing the MAC",
                    shown.join(" and "),
                    if file.is_empty() { String::new() } else { format!(" in {file}") },
                    String::from_utf8_lossy(&aad)
                ),
            )
            .with_hint("restore the file from version control; to keep such keys, rename one so that the paths, joined with ':', differ"))
        }
    }
}

/// The additional data for a value at `path`: `a:b:c:`.
pub fn aad<S: AsRef<str>>(path: &[S]) -> String {
    let mut s = String::new();
    for k in path {
        s.push_str(k.as_ref());
        s.push(':');
    }
    if path.is_empty() {
        s.push(':');
    }
    s
}

/// Calls `f` with the plaintext bytes of a scalar: what is encrypted and hashed
/// (docs/format.md#plaintext-forms).
/// None for non-scalars.
fn with_plain<R>(v: &Value, f: impl FnOnce(&[u8], ValueType) -> R) -> Option<R> {
    Some(match v {
        Value::Str(s) => f(s.as_bytes(), ValueType::Str),
        Value::Bytes(b) => f(b, ValueType::Str),
        Value::Int(i) => f(Zeroizing::new(i.to_string()).as_bytes(), ValueType::Int),
        Value::Float(x) => f(Zeroizing::new(go_float_f(*x)).as_bytes(), ValueType::Float),
        Value::Bool(b) => f(sops_bool(*b).as_bytes(), ValueType::Bool),
        Value::Time(t) => f(t.as_bytes(), ValueType::Time),
        _ => return None,
    })
}

/// Below this many values the work stays on the calling thread.
const PARALLEL_MIN: usize = 2048;

/// Runs `f` over `items`, on up to 8 threads when there are many (at least 1024 per
/// thread). Returns the first error in item order.
fn for_each_par<T: Send>(items: &mut [T], f: impl Fn(&mut T) -> Result<()> + Sync) -> Result<()> {
    let threads = if items.len() < PARALLEL_MIN {
        1
    } else {
        crate::par::threads_for(items.len(), PARALLEL_MIN / 2, 8)
    };
    crate::par::try_for_each_mut(items, threads, f)
}

/// A value or comment to encrypt.
enum EncSlot<'t> {
    Leaf(&'t mut Value),
    Comment(&'t mut Comment),
}

struct Encryptor<'t> {
    sel: &'t Selection,
    mac: Sha512,
    /// The values and comments to encrypt, with their path node.
    jobs: Vec<(EncSlot<'t>, usize)>,
    /// The unencrypted_comment_regex matches encrypted comments.
    ucr_matches_enc: bool,
    /// What the decryption saw: where plaintext must not replace ciphertext.
    guard: Option<&'t Stash>,
}

impl Encryptor<'_> {
    /// Refuses to write the value or comment at the walk's position in plaintext when it
    /// was encrypted in the file (see [`Stash`]).
    fn check_downgrade(&self, w: &WalkState<'_>, what: &str, text: Option<&str>) -> Result<()> {
        // The same ciphertext written back as it was (kept by a decryption under a changed
        // selector), or an emptied value, publishes nothing.
        let harmless = text.is_some_and(|t| t.is_empty() || crate::cipher::is_encrypted(t));
        if harmless || !self.guard.is_some_and(|s| s.guards(&w.id)) {
            return Ok(());
        }
        Err(Error::new(
            ErrorKind::Encrypt,
            format!(
                "the {what} at {} was encrypted in the file and would now be written in plaintext: the file's selector ({}{}) no longer selects it; the selectors in the metadata are not covered by the MAC, so someone may have changed them",
                path_display(&w.path),
                self.sel.shown,
                if self.sel.mac_only_encrypted { ", mac_only_encrypted" } else { "" }
            ),
        )
        .with_hint("restore the sops metadata's selector from version control; if the change is intended, run again with --allow-plaintext-downgrade"))
    }
}

impl<'t> Visitor<'t> for Encryptor<'t> {
    fn ambiguity_context(&self) -> (ErrorKind, &str) {
        (ErrorKind::Encrypt, "")
    }

    fn leaf(&mut self, v: &'t mut Value, w: &WalkState<'t>, encrypted: bool) -> Result<()> {
        if !encrypted {
            self.check_downgrade(w, "value", v.as_str())?;
        }
        let hash = encrypted || !self.sel.mac_only_encrypted;
        let mac = &mut self.mac;
        let empty = with_plain(v, |plain, _| {
            if hash {
                mac.update(plain);
            }
            plain.is_empty()
        })
        .ok_or_else(|| {
            Error::new(
                ErrorKind::Encrypt,
                format!(
                    "cannot encrypt the {} at {}",
                    v.kind(),
                    path_display(&w.path)
                ),
            )
        })?;
        if encrypted && !empty {
            self.jobs.push((EncSlot::Leaf(v), w.node));
        }
        Ok(())
    }

    fn comment(&mut self, c: &'t mut Comment, w: &WalkState<'t>, encrypted: bool) -> Result<()> {
        if !encrypted && !c.text().is_empty() {
            self.check_downgrade(w, "comment", Some(c.text()))?;
        }
        if !encrypted || c.text().is_empty() {
            return Ok(());
        }
        if self.ucr_matches_enc {
            // The stored ENC[…] text would itself match: sops refuses (exit 23), because the
            // decrypt walk would then see a different comment stack.
            return Err(Error::new(
                ErrorKind::Encrypt,
                format!(
                    "the unencrypted_comment_regex matches encrypted comments (at {}); decryption could not tell them apart",
                    path_display(&w.path)
                ),
            ));
        }
        self.jobs.push((EncSlot::Comment(c), w.node));
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
    let ucr_matches_enc = match &sel.rule {
        Rule::UnencryptedCommentRegex(r) => r.is_match("ENC[AES256_GCM,data:"),
        _ => false,
    };
    let mut enc = Encryptor {
        sel,
        mac: sel.new_hasher(),
        jobs: Vec::new(),
        ucr_matches_enc,
        guard: stash.filter(|s| !s.encrypted.is_empty()),
    };
    let track = enc.guard.is_some();
    let (st, r) = walk(docs, sel, &mut enc, track);
    r?;
    let paths = &st.paths;
    let iv_for = |plain: &[u8], aad: &[u8], typ: ValueType| match stash
        .and_then(|s| s.get(typ, aad, plain))
    {
        Some(iv) => *iv,
        None => crate::cipher::random_iv(),
    };
    let encrypt = |plain: &[u8], aad: &[u8], typ: ValueType| {
        cipher.encrypt_with_iv(plain, aad, typ, &iv_for(plain, aad, typ))
    };
    for_each_par(&mut enc.jobs, |(slot, node)| {
        paths.with_aad(*node, |aad| {
            match slot {
                EncSlot::Leaf(v) => {
                    // Strings are encrypted in their own buffer (taken out of the tree, which
                    // gets the ciphertext): no copy, and no wipe of the plaintext needed.
                    let owned = match &mut **v {
                        Value::Str(s) => Some(std::mem::take(&mut **s).into_bytes()),
                        Value::Bytes(b) => Some(std::mem::take(&mut **b)),
                        _ => None,
                    };
                    let out = match owned {
                        Some(p) => {
                            let iv = iv_for(&p, aad, ValueType::Str);
                            cipher.encrypt_owned(p, aad, ValueType::Str, &iv)
                        }
                        None => with_plain(v, |p, t| encrypt(p, aad, t)).expect("a scalar"),
                    }?;
                    **v = Value::Str(Zeroizing::new(out));
                }
                EncSlot::Comment(c) => {
                    let out = encrypt(c.text().as_bytes(), aad, ValueType::Comment)?;
                    **c = Comment::new(out);
                }
            }
            Ok(())
        })
    })?;
    let mac = hex_upper(&enc.mac.finalize());
    cipher
        .encrypt(mac.as_bytes(), lastmodified.as_bytes(), ValueType::Str)
        .map_err(|e| e.with_kind(ErrorKind::MacEncrypt))
}

type Decrypted = Result<(Zeroizing<Vec<u8>>, ValueType, [u8; 32])>;

/// What the decrypt walk found, in file order.
enum DecItem<'t> {
    /// The plaintext bytes of an unencrypted leaf that the MAC covers.
    Plain(Zeroizing<Vec<u8>>),
    /// An encrypted value, and (after the parallel phase) its decryption.
    Leaf(&'t mut Value, At, Option<Decrypted>),
    /// An encrypted comment, and its decryption.
    Comment(&'t mut Comment, At, Option<Decrypted>),
}

struct Decryptor<'t> {
    sel: &'t Selection,
    items: Vec<DecItem<'t>>,
    file: &'t str,
    /// The full-path ids of the encrypted values and comments (when a stash is wanted).
    encrypted: Option<HashSet<[u8; 32]>>,
}

fn at_dec(w: &WalkState<'_>) -> At {
    At { node: w.node }
}

impl<'t> Visitor<'t> for Decryptor<'t> {
    fn ambiguity_context(&self) -> (ErrorKind, &str) {
        (ErrorKind::ValueDecrypt, self.file)
    }

    fn leaf(&mut self, v: &'t mut Value, w: &WalkState<'t>, encrypted: bool) -> Result<()> {
        if !encrypted {
            // A ciphertext where the selector now says plaintext (the selector was changed
            // and --ignore-mac used): what replaces it must not be written in clear.
            if let (Some(e), Value::Str(s)) = (&mut self.encrypted, &*v) {
                if crate::cipher::is_encrypted(s) {
                    e.insert(w.id);
                }
            }
            if !self.sel.mac_only_encrypted {
                if let Some(b) = with_plain(v, |b, _| Zeroizing::new(b.to_vec())) {
                    self.items.push(DecItem::Plain(b));
                }
            }
            return Ok(());
        }
        match v {
            Value::Str(s) if s.is_empty() => Ok(()),
            Value::Str(_) => {
                if let Some(e) = &mut self.encrypted {
                    e.insert(w.id);
                }
                self.items.push(DecItem::Leaf(v, at_dec(w), None));
                Ok(())
            }
            other => Err(Error::new(
                ErrorKind::ValueDecrypt,
                format!(
                    "the value at {} in {} is an unencrypted {} where an encrypted value was expected",
                    path_display(&w.path),
                    self.file,
                    other.kind()
                ),
            )
            .with_hint("restore the file from version control, or set the value again with sealbox")),
        }
    }

    fn comment(&mut self, c: &'t mut Comment, w: &WalkState<'t>, encrypted: bool) -> Result<()> {
        if crate::cipher::is_encrypted(c.text()) {
            if let Some(e) = &mut self.encrypted {
                e.insert(w.id);
            }
        }
        if encrypted && crate::cipher::is_encrypted(c.text()) {
            self.items.push(DecItem::Comment(c, at_dec(w), None));
        }
        Ok(())
    }
}

/// Whether a decryption checks the MAC.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MacCheck {
    /// Verify it: a mismatch is [`ErrorKind::MacMismatch`].
    Verify,
    /// Skip it (`--ignore-mac`).
    Ignore,
}

/// Decrypts `docs` in place and checks the MAC (unless [`MacCheck::Ignore`]). `file` names
/// the file in messages.
pub fn decrypt_tree(
    docs: &mut [Document],
    md: &Metadata,
    key: &DataKey,
    mac: MacCheck,
    file: &str,
) -> Result<()> {
    decrypt_tree_inner(docs, md, key, mac, file, false)
        .map(|_| ())
        .map_err(|e| e.in_file_if_unknown(file))
}

/// [`decrypt_tree`], also returning the [`Stash`] of the IVs seen, for re-encryption.
pub fn decrypt_tree_with_stash(
    docs: &mut [Document],
    md: &Metadata,
    key: &DataKey,
    mac: MacCheck,
    file: &str,
) -> Result<Stash> {
    decrypt_tree_inner(docs, md, key, mac, file, true)
        .map(Option::unwrap_or_default)
        .map_err(|e| e.in_file_if_unknown(file))
}

/// The tree value of a decrypted plaintext of type `typ`; `bad` builds the error.
fn typed_value(
    plain: &mut Zeroizing<Vec<u8>>,
    typ: ValueType,
    bad: impl Fn() -> Error,
) -> Result<Value> {
    let as_str = |p: &[u8]| {
        std::str::from_utf8(p)
            .map(str::to_string)
            .map_err(|_| bad())
    };
    Ok(match typ {
        ValueType::Str | ValueType::Bytes => Value::from_bytes(std::mem::take(&mut **plain)),
        ValueType::Int => Value::Int(parse_go_int(&as_str(plain)?).ok_or_else(&bad)?),
        ValueType::Float => Value::Float(parse_go_float(&as_str(plain)?).ok_or_else(&bad)?),
        ValueType::Bool => Value::Bool(parse_go_bool(&as_str(plain)?).ok_or_else(&bad)?),
        ValueType::Time => Value::Time(canonical_time(&as_str(plain)?).ok_or_else(&bad)?),
        ValueType::Comment => Value::Comment(Comment::new(as_str(plain)?)),
    })
}

fn decrypt_tree_inner(
    docs: &mut [Document],
    md: &Metadata,
    key: &DataKey,
    mac_check: MacCheck,
    file: &str,
    want_stash: bool,
) -> Result<Option<Stash>> {
    let sel = Selection::for_metadata(md)?;
    let cipher = Cipher::new(key);
    let mut dec = Decryptor {
        sel: &sel,
        items: Vec::new(),
        file,
        encrypted: want_stash.then(HashSet::new),
    };
    // A walk error (an unencrypted value where one was expected) is reported after the
    // values before it, which would have failed first in a sequential walk.
    let (st, walk_result) = walk(docs, &sel, &mut dec, want_stash);
    let paths = &st.paths;
    for_each_par(&mut dec.items, |item| {
        let (stored, at, out) = match item {
            DecItem::Plain(_) => return Ok(()),
            DecItem::Leaf(v, at, out) => (v.as_str().unwrap_or_default(), &*at, out),
            DecItem::Comment(c, at, out) => (c.text(), &*at, out),
        };
        let what = || format!("{} in {file}", paths.display(at.node));
        *out = Some(paths.with_aad(at.node, |aad| cipher.decrypt_parts(stored, aad, &what)));
        Ok(())
    })?;
    let mut stash = dec.encrypted.take().map(|encrypted| Stash {
        encrypted,
        ..Stash::default()
    });
    let mut mac = sel.new_hasher();
    for item in dec.items {
        match item {
            DecItem::Plain(b) => mac.update(&b[..]),
            DecItem::Leaf(v, at, out) => {
                let (mut plain, typ, iv) = out.expect("decrypted")?;
                if let Some(st) = &mut stash {
                    paths.with_aad(at.node, |aad| st.record(typ, aad, &plain, iv));
                }
                let bad = || {
                    Error::new(
                        ErrorKind::ValueDecrypt,
                        format!(
                            "the decrypted value at {} in {file} is not a valid {}",
                            paths.display(at.node),
                            typ.name()
                        ),
                    )
                };
                let new = typed_value(&mut plain, typ, bad)?;
                // A list comment stored as a string (sops 3.11's writer) is never hashed.
                if !matches!(new, Value::Comment(_)) {
                    with_plain(&new, |b, _| mac.update(b));
                }
                // The stored ENC[…] text is not secret: freed without the wipe.
                if let Value::Str(s) = v {
                    drop(std::mem::take(&mut **s));
                }
                *v = new;
            }
            DecItem::Comment(c, at, out) => {
                let what = || format!("comment under {} in {file}", paths.display(at.node));
                match out.expect("decrypted") {
                    Ok((plain, typ, iv)) => match std::str::from_utf8(&plain) {
                        Ok(s) => {
                            if let Some(st) = &mut stash {
                                paths.with_aad(at.node, |aad| st.record(typ, aad, &plain, iv));
                            }
                            *c = Comment::new(s);
                        }
                        Err(_) => tracing::warn!(
                            "{}: decrypted comment is not UTF-8; kept encrypted",
                            what()
                        ),
                    },
                    // sops keeps comments it cannot decrypt, with a warning.
                    Err(_) => tracing::warn!("could not decrypt the {}; kept as it is", what()),
                }
            }
        }
    }
    walk_result?;
    if mac_check == MacCheck::Ignore {
        return Ok(stash);
    }
    let computed = hex_upper(&mac.finalize());
    let mac_err = |m: String| {
        Error::new(ErrorKind::MacMismatch, m).with_hint(
            "the file was changed outside sops/sealbox; if you trust the change, decrypt with --ignore-mac and re-encrypt",
        )
    };
    if md.mac.is_empty() {
        return Err(mac_err(format!("{file}: the file has no MAC")));
    }
    let aad = mac_aad(&md.lastmodified).ok_or_else(|| {
        Error::new(
            ErrorKind::InvalidMetadata,
            format!("{file}: sops.lastmodified is not an RFC 3339 time"),
        )
    })?;
    let (stored, _) = cipher
        .decrypt(&md.mac, aad.as_bytes(), "sops.mac")
        .map_err(|_| {
            mac_err(format!(
                "{file}: Cannot decrypt MAC: it does not decrypt with the data key (sops.mac or sops.lastmodified was altered)"
            ))
        })?;
    if stored.as_slice() != computed.as_bytes() {
        return Err(mac_err(format!(
            "{file}: MAC mismatch. The values do not match the MAC stored in the file"
        )));
    }
    Ok(stash)
}

/// A place where an encrypted file holds something other than one encrypted value although
/// its selection says an encrypted value belongs there: plaintext that every reader takes
/// as it is (sops' decryption leaves plaintext comments alone, and ignores text after an
/// `ENC[…]`'s `]`). Found without the data key ([`exposed_places`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Exposed {
    /// Where: the key path of the value, or the one a comment is under.
    pub path: String,
    /// `value` or `comment`.
    pub what: &'static str,
    /// Why it is not an encrypted value (never the value itself).
    pub why: &'static str,
}

struct Auditor {
    found: Vec<Exposed>,
    limit: usize,
    total: usize,
}

impl Auditor {
    fn note(&mut self, w: &WalkState<'_>, what: &'static str, why: &'static str) {
        self.total += 1;
        if self.found.len() < self.limit {
            self.found.push(Exposed {
                path: path_display(&w.path),
                what,
                why,
            });
        }
    }
}

impl<'t> Visitor<'t> for Auditor {
    fn ambiguity_context(&self) -> (ErrorKind, &str) {
        (ErrorKind::ValueDecrypt, "")
    }

    fn leaf(&mut self, v: &'t mut Value, w: &WalkState<'t>, encrypted: bool) -> Result<()> {
        if !encrypted {
            return Ok(());
        }
        match v {
            // sops never encrypts an empty string (decryption takes it as it is).
            Value::Str(s) if s.is_empty() => {}
            Value::Str(s) => {
                if let Some(why) = crate::cipher::shape_problem(s) {
                    self.note(w, "value", why);
                }
            }
            _ => self.note(
                w,
                "value",
                "it is a plaintext number, boolean, date or binary value",
            ),
        }
        Ok(())
    }

    fn comment(&mut self, c: &'t mut Comment, w: &WalkState<'t>, encrypted: bool) -> Result<()> {
        if encrypted && !c.text().is_empty() {
            if let Some(why) = crate::cipher::shape_problem(c.text()) {
                self.note(w, "comment", why);
            }
        }
        Ok(())
    }
}

/// Every place of an encrypted file's `docs` where `sel` (the selection a file *should*
/// have, e.g. its creation rule's) says a value or comment is encrypted and the file holds
/// anything but exactly one well-formed `ENC[…]` value ([`crate::cipher::shape_problem`]):
/// the first `limit` of them and how many there are. The walk is the one encryption and
/// decryption use, so the decision per leaf is theirs. Needs no key. An error is a tree
/// whose key paths share their additional data ([`ErrorKind::ValueDecrypt`]).
pub fn exposed_places(
    docs: &mut [Document],
    sel: &Selection,
    limit: usize,
) -> Result<(Vec<Exposed>, usize)> {
    let mut a = Auditor {
        found: Vec::new(),
        limit,
        total: 0,
    };
    let (_, r) = walk(docs, sel, &mut a, false);
    r?;
    Ok((a.found, a.total))
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

    /// The TV-2/TV-3 tree (docs/format.md#test-vectors) before encryption.
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
    fn exposed_places_are_the_plaintext_a_selection_says_is_encrypted() {
        let key = tv_key();
        let mut docs = vec![tv_tree()];
        encrypt_tree(&mut docs, &key, &sel(None), "2024-01-01T00:00:00Z").unwrap();
        // As written: nothing exposed, under the selection it was written with.
        let (found, n) = exposed_places(&mut docs.clone(), &sel(None), 10).unwrap();
        assert_eq!((found.len(), n), (0, 0), "{found:?}");
        // Under a stricter selection the `_unencrypted` value is exposed.
        let strict = sel(Some(Selector::UnencryptedSuffix("_never".into())));
        let (found, _) = exposed_places(&mut docs.clone(), &strict, 10).unwrap();
        assert_eq!(
            found,
            [Exposed {
                path: "[\"note_unencrypted\"]".into(),
                what: "value",
                why: "it is not an ENC[AES256_GCM,…] value"
            }]
        );
        // Planted plaintext: a value, a number, text after a ciphertext, a comment.
        let d = &mut docs[0];
        d.push("added", Value::str("hunter2"));
        d.push("port", Value::Int(5432));
        let Some(Value::Str(h)) = d.get("hello").cloned() else {
            panic!()
        };
        d.push("tail", Value::str(format!("{} hunter2", h.as_str())));
        d.push_comment(" password: hunter2");
        d.push("empty", Value::str(""));
        let (found, n) = exposed_places(&mut docs.clone(), &sel(None), 2).unwrap();
        assert_eq!((found.len(), n), (2, 4));
        let (found, _) = exposed_places(&mut docs, &sel(None), 10).unwrap();
        let got: Vec<(&str, &str)> = found.iter().map(|e| (e.path.as_str(), e.what)).collect();
        assert_eq!(
            got,
            [
                ("[\"added\"]", "value"),
                ("[\"port\"]", "value"),
                ("[\"tail\"]", "value"),
                ("(top level)", "comment"),
            ]
        );
        for e in &found {
            assert!(!e.why.contains("hunter2"));
        }
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
        decrypt_tree(&mut docs, &md_for(mac, None), &key, MacCheck::Verify, "f").unwrap();
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
        let e = decrypt_tree(
            &mut t,
            &md_for(mac.clone(), None),
            &key,
            MacCheck::Verify,
            "f",
        )
        .unwrap_err();
        assert_eq!(e.kind, crate::ErrorKind::MacMismatch);
        // ... which --ignore-mac lets through.
        let mut t2 = docs.clone();
        *t2[0].get_mut("note_unencrypted").unwrap() = Value::str("other");
        decrypt_tree(
            &mut t2,
            &md_for(mac.clone(), None),
            &key,
            MacCheck::Ignore,
            "f",
        )
        .unwrap();
        // Swap two encrypted values: AEAD failure (25), even with --ignore-mac.
        let mut t = docs.clone();
        let a = t[0].get("hello").unwrap().clone();
        *t[0].get_mut("n").unwrap() = a;
        let e = decrypt_tree(
            &mut t,
            &md_for(mac.clone(), None),
            &key,
            MacCheck::Ignore,
            "f",
        )
        .unwrap_err();
        assert_eq!(e.kind, crate::ErrorKind::ValueDecrypt);
        // Remove a value (set it to ""): MAC mismatch.
        let mut t = docs.clone();
        *t[0].get_mut("hello").unwrap() = Value::str("");
        let e = decrypt_tree(
            &mut t,
            &md_for(mac.clone(), None),
            &key,
            MacCheck::Verify,
            "f",
        )
        .unwrap_err();
        assert_eq!(e.kind, crate::ErrorKind::MacMismatch);
        // Different lastmodified: cannot decrypt MAC.
        let mut m = md_for(mac, None);
        m.lastmodified = "2024-01-01T00:00:01Z".into();
        let mut t = docs.clone();
        assert_eq!(
            decrypt_tree(&mut t, &m, &key, MacCheck::Verify, "f")
                .unwrap_err()
                .kind,
            ErrorKind::MacMismatch
        );
    }

    #[test]
    fn comment_regex_semantics_match_spec_example() {
        // sops' example of encrypted_comment_regex sops:enc (docs/format.md#the-comment-stack).
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
            decrypt_tree_with_stash(&mut docs, &md_for(mac, None), &key, MacCheck::Verify, "f")
                .unwrap();
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

    /// A tree large enough for the parallel phase: nested maps, lists, comments and
    /// unencrypted leaves, so that chunk boundaries fall everywhere.
    fn big_tree() -> Document {
        let mut top = Map::new();
        for s in 0..40 {
            let mut svc = Map::new();
            svc.push_comment(format!(" service {s}"));
            for k in 0..100 {
                match k % 5 {
                    0 => svc.push(format!("k{k}"), Value::Int(k * s)),
                    1 => svc.push(format!("k{k}_unencrypted"), Value::str(format!("p{k}"))),
                    2 => svc.push(
                        format!("l{k}"),
                        Value::List(vec![Value::str("a"), Value::Comment(Comment::new(" c"))]),
                    ),
                    _ => svc.push(format!("k{k}"), Value::str(format!("v{s}-{k}"))),
                }
            }
            top.push(format!("svc{s}"), Value::Map(svc));
        }
        top.push("last", Value::Bool(true));
        top
    }

    #[test]
    fn parallel_walk_round_trips_and_reports_the_first_error() {
        let key = tv_key();
        let mut docs = vec![big_tree()];
        let mac = encrypt_tree(&mut docs, &key, &sel(None), "2024-01-01T00:00:00Z").unwrap();
        // Each value is bound to its own path.
        let v = docs[0]
            .get("svc7")
            .unwrap()
            .as_map()
            .unwrap()
            .get("k3")
            .unwrap();
        let (p, _) = Cipher::new(&key)
            .decrypt(v.as_str().unwrap(), b"svc7:k3:", "x")
            .unwrap();
        assert_eq!(&p[..], b"v7-3");
        let encrypted = docs.clone();
        decrypt_tree(
            &mut docs,
            &md_for(mac.clone(), None),
            &key,
            MacCheck::Verify,
            "f",
        )
        .unwrap();
        assert_eq!(docs[0], big_tree());
        // Two broken values: the error names the first one in file order.
        let mut t = encrypted.clone();
        for (svc, k) in [("svc30", "k4"), ("svc2", "k8")] {
            let m = match t[0].get_mut(svc).unwrap() {
                Value::Map(m) => m,
                _ => unreachable!(),
            };
            *m.get_mut(k).unwrap() = m.get("k3").unwrap().clone();
        }
        let e = decrypt_tree(&mut t, &md_for(mac, None), &key, MacCheck::Verify, "f").unwrap_err();
        assert_eq!(e.kind, crate::ErrorKind::ValueDecrypt);
        assert!(
            e.message.contains(r#"["svc2"]["k8"] in f"#),
            "{}",
            e.message
        );
    }

    /// The "db:password" trick: `db.password`'s ciphertext moved to a new top-level key
    /// `"db:password"` (same additional data, same place in the MAC's order) still
    /// decrypts and keeps the MAC; `db.password` is left empty, or under
    /// `mac_only_encrypted` set to plaintext of the attacker's choosing.
    #[test]
    fn a_ciphertext_moved_to_a_key_with_the_same_additional_data_is_refused() {
        let key = tv_key();
        for (mac_only, selector, blank) in [
            (false, None, Value::str("")),
            (false, None, Value::Null),
            (false, None, Value::Map(Map::new())),
            (
                true,
                Some(Selector::UnencryptedRegex("^password$".into())),
                Value::str("chosen"),
            ),
        ] {
            let mut db = Map::new();
            db.push("password", Value::str("s3cret"));
            let mut m = Map::new();
            m.push("db", Value::Map(db));
            m.push("other", Value::str("x"));
            let mut docs = vec![m];
            // The file is encrypted with the default selector (db.password encrypted).
            let orig = Selection::new(None, mac_only).unwrap();
            let mac = encrypt_tree(&mut docs, &key, &orig, "2024-01-01T00:00:00Z").unwrap();
            let enc = docs[0]
                .get("db")
                .unwrap()
                .as_map()
                .unwrap()
                .get("password")
                .unwrap()
                .clone();
            let mut db = Map::new();
            db.push("password", blank.clone());
            let mut forged = Map::new();
            forged.push("db:password", enc);
            forged.push("db", Value::Map(db));
            forged.push("other", docs[0].get("other").unwrap().clone());
            let mut md = md_for(mac, selector.clone());
            md.mac_only_encrypted = mac_only;
            let e = decrypt_tree(&mut [forged], &md, &key, MacCheck::Verify, "f").unwrap_err();
            assert_eq!(e.kind, crate::ErrorKind::ValueDecrypt, "{e}");
            assert!(
                e.message.contains(r#"the key paths ["db:password"] and ["db"]["password"] in f share their additional data ("db:password:")"#),
                "{e}"
            );
        }
        // Colliding paths that both hold ciphertext (which only the author can write, as in
        // test vector TV-7) stay readable, as in sops; and so does `"a:b"` next to `a.c`.
        let mut a = Map::new();
        a.push("b", Value::str("nested"));
        a.push("c", Value::str("other"));
        let mut m = Map::new();
        m.push("a:b", Value::str("colon"));
        m.push("a", Value::Map(a));
        let mut docs = vec![m.clone()];
        let mac = encrypt_tree(&mut docs, &key, &sel(None), "2024-01-01T00:00:00Z").unwrap();
        decrypt_tree(&mut docs, &md_for(mac, None), &key, MacCheck::Verify, "f").unwrap();
        assert_eq!(docs[0], m);
        // Encrypting a tree that would be refused is refused too.
        let mut m = Map::new();
        m.push("a:b", Value::str("colon"));
        m.push(
            "a",
            Value::Map(Map(vec![Item::Pair("b".into(), Value::str(""))])),
        );
        let e = encrypt_tree(&mut [m], &key, &sel(None), "2024-01-01T00:00:00Z").unwrap_err();
        assert_eq!(e.kind, crate::ErrorKind::Encrypt, "{e}");
    }

    /// Selectors are not covered by the MAC. After a decryption under a changed selector
    /// (with --ignore-mac), or an edit that removes the comment selecting a value, writing
    /// the file back must not publish what was encrypted.
    #[test]
    fn what_was_encrypted_is_not_written_back_in_plaintext() {
        let key = tv_key();
        let mut docs = vec![tv_tree()];
        let mac = encrypt_tree(&mut docs, &key, &sel(None), "2024-01-01T00:00:00Z").unwrap();
        // Someone changes the metadata to a selector that selects nothing.
        let changed = Some(Selector::EncryptedRegex("^nothing$".into()));
        let mut t = docs.clone();
        let stash = decrypt_tree_with_stash(
            &mut t,
            &md_for(mac.clone(), changed.clone()),
            &key,
            MacCheck::Ignore,
            "f",
        )
        .unwrap();
        // The admin sees ENC[…] in place of db.password and types the password back.
        let db = match t[0].get_mut("db").unwrap() {
            Value::Map(m) => m,
            _ => unreachable!(),
        };
        *db.get_mut("password").unwrap() = Value::str("s3crét");
        let downgraded = sel(changed.clone());
        let e = encrypt_tree_with_stash(
            &mut t.clone(),
            &key,
            &downgraded,
            "2024-01-02T00:00:00Z",
            Some(&stash),
        )
        .unwrap_err();
        assert_eq!(e.kind, crate::ErrorKind::Encrypt);
        assert!(
            e.message.starts_with(r#"the value at ["db"]["password"] was encrypted in the file and would now be written in plaintext: the file's selector (encrypted_regex "^nothing$")"#),
            "{e}"
        );
        assert!(!e.message.contains("s3cr"), "{e}");
        // Values left as they were (still ciphertext) or emptied are not a downgrade.
        let mut untouched = docs.clone();
        let st2 = decrypt_tree_with_stash(
            &mut untouched,
            &md_for(mac.clone(), changed),
            &key,
            MacCheck::Ignore,
            "f",
        )
        .unwrap();
        encrypt_tree_with_stash(
            &mut untouched,
            &key,
            &downgraded,
            "2024-01-02T00:00:00Z",
            Some(&st2),
        )
        .unwrap();
        // The override lets it through.
        let mut stash = stash;
        stash.allow_plaintext_downgrade(true);
        encrypt_tree_with_stash(
            &mut t,
            &key,
            &downgraded,
            "2024-01-02T00:00:00Z",
            Some(&stash),
        )
        .unwrap();
        assert_eq!(
            t[0].get("db").unwrap().as_map().unwrap().get("password"),
            Some(&Value::str("s3crét"))
        );

        // encrypted_comment_regex: removing the marking comment in an edit would publish
        // the value under it, and an encrypted comment too.
        let ecr = Some(Selector::EncryptedCommentRegex("sops:enc".into()));
        let mut m = Map::new();
        m.push_comment(" sops:enc");
        m.push("secret", Value::str("s"));
        m.push_comment(" sops:enc");
        m.push_comment(" a secret note");
        m.push("k", Value::str("v"));
        let mut docs = vec![m];
        let mac = encrypt_tree(&mut docs, &key, &sel(ecr.clone()), "2024-01-01T00:00:00Z").unwrap();
        let mut t = docs.clone();
        let stash = decrypt_tree_with_stash(
            &mut t,
            &md_for(mac, ecr.clone()),
            &key,
            MacCheck::Verify,
            "f",
        )
        .unwrap();
        // Unchanged: written back fine.
        encrypt_tree_with_stash(
            &mut t.clone(),
            &key,
            &sel(ecr.clone()),
            "2024-01-02T00:00:00Z",
            Some(&stash),
        )
        .unwrap();
        let mut edited = t.clone();
        edited[0].0.remove(0);
        let e = encrypt_tree_with_stash(
            &mut edited,
            &key,
            &sel(ecr),
            "2024-01-02T00:00:00Z",
            Some(&stash),
        )
        .unwrap_err();
        assert!(
            e.message
                .starts_with(r#"the value at ["secret"] was encrypted"#),
            "{e}"
        );
    }

    #[test]
    fn aad_rules() {
        assert_eq!(aad::<String>(&[]), ":");
        assert_eq!(aad(&["a", "b"]), "a:b:");
    }
}
