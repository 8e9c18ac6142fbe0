//! Seeded generator of plaintext YAML and JSON documents, with the tree they mean and the
//! selector model (docs/format.md#which-values-are-encrypted) to predict which leaves a
//! sops-compatible writer encrypts.

use crate::json::{self, Value};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

#[derive(Debug, Clone)]
pub enum Scalar {
    /// A string and how it is written in YAML.
    Str(String, StrStyle),
    Int(i64),
    /// Float: the literal text (valid in YAML and JSON).
    Float(&'static str),
    Bool(bool),
    Null,
    /// YAML timestamp, already in the canonical RFC 3339 form sops prints.
    Time(&'static str),
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum StrStyle {
    Double,
    Plain,
    Single,
    /// Literal block `|` (value ends with a newline).
    Block,
}

#[derive(Debug, Clone)]
pub enum Node {
    Map(Vec<Entry>, Vec<String>),
    List(Vec<Entry>, Vec<String>),
    Scalar(Scalar),
}

/// A map entry (key `Some`) or list element (key `None`), with the comment lines placed before
/// it and an optional inline comment (scalars only). Comment texts exclude the `#`.
#[derive(Debug, Clone)]
pub struct Entry {
    pub comments: Vec<String>,
    pub key: Option<String>,
    pub value: Node,
    pub inline: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Yaml,
    Json,
}

impl Format {
    pub fn ext(self) -> &'static str {
        match self {
            Format::Yaml => "yaml",
            Format::Json => "json",
        }
    }
}

/// A generated document: the tree and its text.
#[derive(Debug, Clone)]
pub struct Doc {
    pub seed: u64,
    pub format: Format,
    pub root: Node,
    pub text: String,
}

impl Doc {
    /// The value sops prints for this document with `--output-type json`.
    pub fn expected(&self) -> Value {
        to_value(&self.root)
    }
    /// Every comment line (`#text`, trimmed) of the document.
    pub fn comments(&self) -> Vec<String> {
        let mut v = Vec::new();
        collect_comments(&self.root, &mut v);
        let mut v: Vec<String> = v
            .into_iter()
            .map(|c| format!("#{c}").trim().to_string())
            .collect();
        v.sort();
        v
    }
}

fn collect_comments(n: &Node, out: &mut Vec<String>) {
    if let Node::Map(es, foot) | Node::List(es, foot) = n {
        for e in es {
            out.extend(e.comments.iter().cloned());
            out.extend(e.inline.iter().cloned());
            collect_comments(&e.value, out);
        }
        out.extend(foot.iter().cloned());
    }
}

pub fn to_value(n: &Node) -> Value {
    match n {
        Node::Map(es, _) => Value::Obj(
            es.iter()
                .map(|e| (e.key.clone().unwrap(), to_value(&e.value)))
                .collect(),
        ),
        Node::List(es, _) => Value::Arr(es.iter().map(|e| to_value(&e.value)).collect()),
        Node::Scalar(s) => match s {
            Scalar::Str(s, _) => Value::Str(s.clone()),
            Scalar::Int(i) => Value::Num(i.to_string()),
            Scalar::Float(f) => Value::Num(f.to_string()),
            Scalar::Bool(b) => Value::Bool(*b),
            Scalar::Null => Value::Null,
            Scalar::Time(t) => Value::Str(t.to_string()),
        },
    }
}

// ---------------------------------------------------------------------------------------------
// Generation

const WORDS: &[&str] = &[
    "name", "host", "port", "password", "token", "db", "items", "user", "api", "config", "data",
    "value", "url", "region", "replicas",
];
const AFFIX: &[&str] = &["_plain", "_secret", "_unencrypted"];
const PREFIX: &[&str] = &["pub_", "sec_"];
const ODD_KEYS: &[&str] = &[
    "ünï",
    "ключ",
    "キー",
    "clé_accentuée",
    "🔑 key",
    "a:b",
    "with space",
    "#hash",
    "- dash",
    "yes",
    "123",
    "true",
    "null",
    "[x]",
    "{y}",
    "quote\"d",
    "back\\slash",
    "key: colon",
    "ü_plain",
    "密钥_secret",
    "tab\tkey",
    "<a&b>",
    "y",
    "~",
    "-1",
    "1.5",
    "on",
    "@at",
    "`tick",
    "*star",
];
const ODD_STRINGS: &[&str] = &[
    "",
    "yes",
    "no",
    "on",
    "off",
    "y",
    "n",
    "42",
    "-7",
    "true",
    "False",
    "null",
    "~",
    "1e3",
    "0x1F",
    "0o17",
    "1_000",
    ".inf",
    "2024-01-01",
    "12:30",
    "cödé çà",
    "秘密の値",
    "🎉🔑✨",
    "значение 🎉",
    "a: b",
    "x # y",
    " leading",
    "trailing ",
    "tab\there",
    "line1\nline2",
    "line1\nline2\n",
    "quote \" and \\ backslash",
    "<a&b> \u{2028} sep",
    "- not a list",
    "{not: map}",
    "[1, 2]",
    "&anchor",
    "*alias",
    "!tag",
    "%percent",
    "@at",
    "`tick",
    "|",
    ">",
    "'single'",
    "ENC not really",
    "\u{7f}del",
    "nul\u{1}ctl",
    "e\u{301}",
    "😀 emoji 😀",
];
const FLOATS: &[&str] = &[
    "1e10", "0.1", "3.25", "-2.5", "1e-7", "1.5e+3", "0.5", "-0.25", "1e21", "123.456",
];
const INTS: &[i64] = &[
    0,
    1,
    -1,
    42,
    -17,
    123_456_789,
    65_536,
    -9_007_199_254_740_991,
    9_007_199_254_740_991,
];
const BIG_INTS: &[i64] = &[i64::MAX, i64::MIN + 1, 9_007_199_254_740_993];
const TIMES: &[&str] = &[
    "2024-01-02T03:04:05Z",
    "2001-12-14T21:59:43.1-05:00",
    "2030-06-30T23:59:59Z",
];
const COMMENT_TEXTS: &[&str] = &[
    " a comment",
    " sops:enc",
    " sops:plain",
    " ünïcödé comment 🎉",
    " 注释",
    " key: value # nested",
    " TODO: rotate",
    " sops:enc governs the next item",
    " sops:plain here too",
    " --- ",
];

struct G {
    rng: StdRng,
    format: Format,
    long_budget: u32,
    list_comments: bool,
}

/// The selector the interop tests use for `seed`.
pub fn selector_for(seed: u64) -> Selector {
    SELECTORS[(seed % SELECTORS.len() as u64) as usize]
}

/// Generates the document for `seed` in `format`.
pub fn generate(seed: u64, format: Format) -> Doc {
    let mut g = G {
        rng: StdRng::seed_from_u64(seed ^ 0x5ea1_b0c5),
        format,
        long_budget: 1,
        // With a comment regex, sops 3.11 itself cannot read back comments inside lists
        // (docs/format.md#the-comment-stack: encrypted list comments are list strings), so
        // avoid them.
        list_comments: !matches!(
            selector_for(seed),
            Selector::EncryptedCommentRegex | Selector::UnencryptedCommentRegex
        ),
    };
    let n = g.rng.gen_range(3..10);
    let mut root = g.map(0, n);
    if format == Format::Yaml {
        if let Node::Map(es, foot) = &mut root {
            // top comments and bottom comments
            if g.rng.gen_bool(0.6) {
                let c = g.comment();
                es[0].comments.insert(0, c);
            }
            if g.rng.gen_bool(0.5) {
                foot.push(g.comment());
            }
        }
    }
    let text = match format {
        Format::Yaml => {
            let mut s = String::new();
            render_yaml_map(&root, 0, false, &mut s);
            s
        }
        Format::Json => {
            let pretty = g.rng.gen_bool(0.5);
            let ascii = g.rng.gen_bool(0.3);
            let mut s = String::new();
            render_json(&root, 0, pretty, ascii, &mut s);
            s.push('\n');
            s
        }
    };
    Doc {
        seed,
        format,
        root,
        text,
    }
}

impl G {
    fn pick<'a, T>(&mut self, v: &'a [T]) -> &'a T {
        &v[self.rng.gen_range(0..v.len())]
    }

    fn comment(&mut self) -> String {
        self.pick(COMMENT_TEXTS).to_string()
    }

    fn key(&mut self) -> String {
        let r = self.rng.gen_range(0..100);
        let w = self.pick(WORDS).to_string();
        if r < 35 {
            w
        } else if r < 60 {
            format!("{w}{}", self.pick(AFFIX))
        } else if r < 75 {
            format!("{}{w}", self.pick(PREFIX))
        } else {
            self.pick(ODD_KEYS).to_string()
        }
    }

    fn map(&mut self, depth: u32, n: usize) -> Node {
        let mut es: Vec<Entry> = Vec::new();
        for _ in 0..n {
            let mut k = self.key();
            let mut i = 2;
            while es.iter().any(|e| e.key.as_deref() == Some(&k)) {
                k = format!("{k}{i}");
                i += 1;
            }
            let value = self.node(depth + 1);
            es.push(self.entry(Some(k), value));
        }
        Node::Map(es, Vec::new())
    }

    fn entry(&mut self, key: Option<String>, value: Node) -> Entry {
        let mut comments = Vec::new();
        let mut inline = None;
        if self.format == Format::Yaml && (key.is_some() || self.list_comments) {
            while self.rng.gen_bool(0.2) {
                comments.push(self.comment());
            }
            let scalar_ok =
                matches!(&value, Node::Scalar(s) if !matches!(s, Scalar::Str(_, StrStyle::Block)));
            if scalar_ok && key.is_some() && self.rng.gen_bool(0.1) {
                inline = Some(self.comment());
            }
        }
        Entry {
            comments,
            key,
            value,
            inline,
        }
    }

    fn node(&mut self, depth: u32) -> Node {
        let r = self.rng.gen_range(0..100);
        if depth < 4 && r < 15 {
            let n = self.rng.gen_range(0..5);
            self.map(depth, n)
        } else if depth < 4 && r < 27 {
            let n = self.rng.gen_range(0..5);
            let mut es = Vec::new();
            for _ in 0..n {
                let v = self.node(depth + 1);
                let mut e = self.entry(None, v);
                // the first entry of a container written after `- ` has no room for comments
                if let Node::Map(inner, _) | Node::List(inner, _) = &mut e.value {
                    if let Some(first) = inner.first_mut() {
                        first.comments.clear();
                    }
                }
                es.push(e);
            }
            Node::List(es, Vec::new())
        } else {
            Node::Scalar(self.scalar())
        }
    }

    fn scalar(&mut self) -> Scalar {
        let yaml = self.format == Format::Yaml;
        let r = self.rng.gen_range(0..100);
        match r {
            0..=29 => {
                let s = self.pick(ODD_STRINGS).to_string();
                let style = if yaml
                    && s.is_ascii()
                    && s.chars().all(|c| !c.is_control())
                    && self.rng.gen_bool(0.2)
                {
                    StrStyle::Single
                } else {
                    StrStyle::Double
                };
                Scalar::Str(s, style)
            }
            30..=44 => {
                let w = self.pick(WORDS);
                let n: u32 = self.rng.gen_range(0..1000);
                Scalar::Str(
                    format!("{w}-value {n}"),
                    if yaml {
                        StrStyle::Plain
                    } else {
                        StrStyle::Double
                    },
                )
            }
            45..=52 if yaml => {
                let n = self.rng.gen_range(1..5);
                let mut s = String::new();
                for i in 0..n {
                    let w = self.pick(&[
                        "line",
                        "zeile ü",
                        "行 🎉",
                        "not # a comment",
                        "key: v",
                        "- item",
                    ]);
                    s.push_str(&format!("{w} {i}\n"));
                }
                Scalar::Str(s, StrStyle::Block)
            }
            53..=58 if self.long_budget > 0 => {
                self.long_budget -= 1;
                let unit = "long välue 長い 🎉 ";
                let mut s = String::new();
                while s.chars().count() < 5000 {
                    s.push_str(unit);
                }
                let s: String = s.chars().take(5000).collect();
                Scalar::Str(s, StrStyle::Double)
            }
            59..=70 => Scalar::Int(*self.pick(INTS)),
            71..=72 if yaml => Scalar::Int(*self.pick(BIG_INTS)),
            73..=82 => Scalar::Float(FLOATS[self.rng.gen_range(0..FLOATS.len())]),
            83..=89 => Scalar::Bool(self.rng.gen_bool(0.5)),
            90..=93 => Scalar::Null,
            94..=96 if yaml => Scalar::Time(TIMES[self.rng.gen_range(0..TIMES.len())]),
            _ => Scalar::Str(String::new(), StrStyle::Double),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// YAML rendering

fn yaml_dq(s: &str) -> String {
    let mut o = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            '\n' => o.push_str("\\n"),
            '\t' => o.push_str("\\t"),
            '\r' => o.push_str("\\r"),
            '\u{2028}' => o.push_str("\\L"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => o.push_str(&format!("\\x{:02x}", c as u32)),
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

fn yaml_key(k: &str) -> String {
    let simple = !k.is_empty()
        && k.chars().next().is_some_and(|c| c.is_alphabetic())
        && k.chars().all(|c| c.is_alphanumeric() || c == '_')
        && !matches!(
            k.to_ascii_lowercase().as_str(),
            "true" | "false" | "null" | "yes" | "no" | "on" | "off" | "y" | "n"
        );
    if simple {
        k.to_string()
    } else {
        yaml_dq(k)
    }
}

fn yaml_scalar(s: &Scalar, indent: usize, out: &mut String) {
    match s {
        Scalar::Str(v, StrStyle::Plain) => out.push_str(v),
        Scalar::Str(v, StrStyle::Single) => {
            out.push('\'');
            out.push_str(&v.replace('\'', "''"));
            out.push('\'');
        }
        Scalar::Str(v, StrStyle::Double) => out.push_str(&yaml_dq(v)),
        Scalar::Str(v, StrStyle::Block) => {
            out.push('|');
            for l in v.lines() {
                out.push('\n');
                out.push_str(&" ".repeat(indent));
                out.push_str(l);
            }
        }
        Scalar::Int(i) => out.push_str(&i.to_string()),
        Scalar::Float(f) => out.push_str(f),
        Scalar::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Scalar::Null => out.push_str(["null", "~", ""][(indent / 2) % 3]),
        Scalar::Time(t) => out.push_str(t),
    }
}

fn push_comments(cs: &[String], indent: usize, out: &mut String) {
    for c in cs {
        out.push_str(&" ".repeat(indent));
        out.push('#');
        out.push_str(c);
        out.push('\n');
    }
}

/// Renders the value after `key:` or `- ` (the cursor is right after the indicator).
fn yaml_value(e: &Entry, indent: usize, out: &mut String) {
    match &e.value {
        Node::Scalar(s) => {
            let mut v = String::new();
            yaml_scalar(s, indent + 2, &mut v);
            if !v.is_empty() {
                out.push(' ');
                out.push_str(&v);
            }
            if let Some(c) = &e.inline {
                out.push_str(" #");
                out.push_str(c);
            }
            out.push('\n');
        }
        Node::Map(es, _) if es.is_empty() => out.push_str(" {}\n"),
        Node::List(es, _) if es.is_empty() => out.push_str(" []\n"),
        n @ Node::Map(..) => {
            if e.key.is_some() {
                out.push('\n');
                render_yaml_map(n, indent + 2, false, out);
            } else {
                out.push(' ');
                render_yaml_map(n, indent + 2, true, out);
            }
        }
        n @ Node::List(..) => {
            if e.key.is_some() {
                out.push('\n');
                render_yaml_list(n, indent + 2, false, out);
            } else {
                out.push(' ');
                render_yaml_list(n, indent + 2, true, out);
            }
        }
    }
}

/// `first_inline`: the cursor is after `- ` and the first entry goes on that line (its comments
/// are then written before the whole list item instead, by moving them to the front).
fn render_yaml_map(n: &Node, indent: usize, first_inline: bool, out: &mut String) {
    let Node::Map(es, foot) = n else {
        unreachable!()
    };
    for (i, e) in es.iter().enumerate() {
        if !(first_inline && i == 0) {
            push_comments(&e.comments, indent, out);
            out.push_str(&" ".repeat(indent));
        }
        out.push_str(&yaml_key(e.key.as_deref().unwrap()));
        out.push(':');
        yaml_value(e, indent, out);
    }
    push_comments(foot, indent, out);
}

fn render_yaml_list(n: &Node, indent: usize, first_inline: bool, out: &mut String) {
    let Node::List(es, foot) = n else {
        unreachable!()
    };
    for (i, e) in es.iter().enumerate() {
        if !(first_inline && i == 0) {
            push_comments(&e.comments, indent, out);
            out.push_str(&" ".repeat(indent));
        }
        out.push('-');
        yaml_value(e, indent, out);
    }
    push_comments(foot, indent, out);
}

// ---------------------------------------------------------------------------------------------
// JSON rendering

fn json_str(s: &str, ascii: bool) -> String {
    let q = json::quote(s);
    if !ascii {
        return q;
    }
    let mut o = String::new();
    for c in q.chars() {
        if (c as u32) < 0x80 {
            o.push(c);
        } else {
            let mut b = [0u16; 2];
            for u in c.encode_utf16(&mut b) {
                o.push_str(&format!("\\u{:04x}", u));
            }
        }
    }
    o
}

fn render_json(n: &Node, indent: usize, pretty: bool, ascii: bool, out: &mut String) {
    let nl = |out: &mut String, ind: usize| {
        if pretty {
            out.push('\n');
            out.push_str(&"  ".repeat(ind));
        }
    };
    match n {
        Node::Map(es, _) | Node::List(es, _) => {
            let is_map = matches!(n, Node::Map(..));
            out.push(if is_map { '{' } else { '[' });
            for (i, e) in es.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                nl(out, indent + 1);
                if let Some(k) = &e.key {
                    out.push_str(&json_str(k, ascii));
                    out.push_str(if pretty { ": " } else { ":" });
                }
                render_json(&e.value, indent + 1, pretty, ascii, out);
            }
            if !es.is_empty() {
                nl(out, indent);
            }
            out.push(if is_map { '}' } else { ']' });
        }
        Node::Scalar(s) => match s {
            Scalar::Str(v, _) => out.push_str(&json_str(v, ascii)),
            Scalar::Int(i) => out.push_str(&i.to_string()),
            Scalar::Float(f) => out.push_str(f),
            Scalar::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Scalar::Null => out.push_str("null"),
            Scalar::Time(t) => out.push_str(&json::quote(t)),
        },
    }
}

// ---------------------------------------------------------------------------------------------
// Selector model (docs/format.md#which-values-are-encrypted)

/// Which leaves get encrypted, and the flags that select it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Selector {
    Default,
    UnencryptedSuffix,
    EncryptedSuffix,
    UnencryptedRegex,
    EncryptedRegex,
    EncryptedCommentRegex,
    UnencryptedCommentRegex,
    MacOnlyEncrypted,
}

pub const SELECTORS: [Selector; 8] = [
    Selector::Default,
    Selector::UnencryptedSuffix,
    Selector::EncryptedSuffix,
    Selector::UnencryptedRegex,
    Selector::EncryptedRegex,
    Selector::EncryptedCommentRegex,
    Selector::UnencryptedCommentRegex,
    Selector::MacOnlyEncrypted,
];

impl Selector {
    /// (flag, value) pairs; the same spelling for sops (top-level form) and sealbox.
    pub fn flags(self) -> Vec<String> {
        let v: &[&str] = match self {
            Selector::Default => &[],
            Selector::UnencryptedSuffix => &["--unencrypted-suffix", "_plain"],
            Selector::EncryptedSuffix => &["--encrypted-suffix", "_secret"],
            Selector::UnencryptedRegex => &["--unencrypted-regex", "^pub_"],
            Selector::EncryptedRegex => &["--encrypted-regex", "^(sec_|password)"],
            Selector::EncryptedCommentRegex => &["--encrypted-comment-regex", "sops:enc"],
            Selector::UnencryptedCommentRegex => &["--unencrypted-comment-regex", "sops:plain"],
            Selector::MacOnlyEncrypted => &["--mac-only-encrypted"],
        };
        v.iter().map(|s| s.to_string()).collect()
    }

    fn key_match(self, k: &str) -> bool {
        match self {
            Selector::Default | Selector::MacOnlyEncrypted => k.ends_with("_unencrypted"),
            Selector::UnencryptedSuffix => k.ends_with("_plain"),
            Selector::EncryptedSuffix => k.ends_with("_secret"),
            Selector::UnencryptedRegex => k.starts_with("pub_"),
            Selector::EncryptedRegex => k.starts_with("sec_") || k.starts_with("password"),
            _ => false,
        }
    }

    /// sops' `shouldBeEncrypted` (docs/format.md#which-values-are-encrypted).
    pub fn should_encrypt(self, path: &[String], stack: &[Vec<String>], is_comment: bool) -> bool {
        let any_key = path.iter().any(|k| self.key_match(k));
        match self {
            Selector::Default
            | Selector::MacOnlyEncrypted
            | Selector::UnencryptedSuffix
            | Selector::UnencryptedRegex => !any_key,
            Selector::EncryptedSuffix | Selector::EncryptedRegex => any_key,
            Selector::UnencryptedCommentRegex => {
                !stack.iter().flatten().any(|c| c.contains("sops:plain"))
            }
            Selector::EncryptedCommentRegex => {
                let n = stack.len();
                stack.iter().enumerate().any(|(li, level)| {
                    let m = if is_comment && li + 1 == n {
                        level.len().saturating_sub(1)
                    } else {
                        level.len()
                    };
                    level[..m].iter().any(|c| c.contains("sops:enc"))
                })
            }
        }
    }
}

/// Expected encryption of every leaf, in the walk order.
#[derive(Debug, Default, Clone)]
pub struct Prediction {
    /// Non-empty, non-null values that are encrypted.
    pub enc_values: usize,
    /// Values left plain (path, value).
    pub plain_values: Vec<(String, Value)>,
    /// Non-empty comments that are encrypted.
    pub enc_comments: usize,
    /// Comments left in plain text (`#text`, trimmed), sorted.
    pub plain_comments: Vec<String>,
    /// Every scalar leaf in walk order: (path, `None` = must be `ENC[…]`, `Some(v)` = stays `v`).
    pub leaves: Vec<(String, Option<Value>)>,
}

pub fn predict(doc: &Doc, sel: Selector) -> Prediction {
    let mut p = Prediction::default();
    let mut stack = Vec::new();
    walk(&doc.root, &mut Vec::new(), &mut stack, sel, &mut p);
    p.plain_comments.sort();
    p
}

fn walk(
    n: &Node,
    path: &mut Vec<String>,
    stack: &mut Vec<Vec<String>>,
    sel: Selector,
    p: &mut Prediction,
) {
    match n {
        Node::Map(es, foot) | Node::List(es, foot) => {
            stack.push(Vec::new());
            let comment = |c: &String,
                           stack: &mut Vec<Vec<String>>,
                           path: &Vec<String>,
                           p: &mut Prediction| {
                stack.last_mut().unwrap().push(c.clone());
                if sel.should_encrypt(path, stack, true) && !c.is_empty() {
                    p.enc_comments += 1;
                } else {
                    p.plain_comments.push(format!("#{c}").trim().to_string());
                }
            };
            for e in es {
                for c in e.comments.iter().chain(e.inline.iter()) {
                    comment(c, stack, path, p);
                }
                if let Some(k) = &e.key {
                    path.push(k.clone());
                }
                walk(&e.value, path, stack, sel, p);
                if e.key.is_some() {
                    path.pop();
                }
                stack.last_mut().unwrap().clear();
            }
            for c in foot {
                comment(c, stack, path, p);
            }
            stack.pop();
        }
        Node::Scalar(s) => {
            let empty = matches!(s, Scalar::Null) || matches!(s, Scalar::Str(v, _) if v.is_empty());
            if !empty && sel.should_encrypt(path, stack, false) {
                p.enc_values += 1;
                p.leaves.push((path.join(":"), None));
            } else {
                if !matches!(s, Scalar::Null) {
                    p.plain_values.push((path.join(":"), to_value(n)));
                }
                p.leaves.push((path.join(":"), Some(to_value(n))));
            }
        }
    }
}
