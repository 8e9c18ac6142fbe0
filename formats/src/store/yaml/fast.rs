//! A fast path for the YAML that sops and sealbox write: block maps and lists, plain and
//! simple double-quoted scalars, `|`/`|-` literal blocks, no comments.
//!
//! The general loader ([`super::parse`]) goes through saphyr's event stream and a
//! comment scan, which costs most of the time of decrypting a large file. This parser reads
//! the common subset line by line and returns `None` on anything outside it (comments,
//! flow style, anchors, tags, escapes, tabs, non-ASCII text, multi-line plain scalars,
//! duplicate keys, errors…); the caller then uses the general loader. When it returns a
//! tree, it is the tree the general loader builds (checked by the tests, which run both).

use super::scalar::{resolve_plain, Resolved};
use crate::tree::{Document, Map, Value};
use std::collections::HashSet;

struct Line<'a> {
    indent: usize,
    /// The text after the indentation.
    text: &'a str,
}

struct P<'a> {
    lines: Vec<Line<'a>>,
    i: usize,
    /// Maps and lists open around the current line.
    depth: usize,
}

/// Documents nested deeper than this go to the general loader, which refuses nesting past
/// its own limit (256) with an error; the margin keeps the two from ever disagreeing.
const MAX_FAST_DEPTH: usize = 200;

/// Characters that cannot start a plain scalar here (YAML indicators, and a space).
fn bad_start(c: u8) -> bool {
    matches!(
        c,
        b'-' | b'?'
            | b':'
            | b','
            | b'['
            | b']'
            | b'{'
            | b'}'
            | b'#'
            | b'&'
            | b'*'
            | b'!'
            | b'|'
            | b'>'
            | b'\''
            | b'"'
            | b'%'
            | b'@'
            | b'`'
            | b' '
    )
}

/// Whether `b` has the byte `x` followed by `y` (`: ` or ` #`), without a substring
/// searcher's set-up cost (this runs on every line).
fn has_pair(b: &[u8], x: u8, y: u8) -> bool {
    let mut i = 0;
    while let Some(p) = b[i..].iter().position(|&c| c == x) {
        i += p + 1;
        if b.get(i) == Some(&y) {
            return true;
        }
    }
    false
}

/// A plain scalar on one line (a value or a list item), typed like the general loader.
fn plain(s: &str) -> Option<Value> {
    let b = s.as_bytes();
    let first = *b.first()?;
    // `-x` is a plain scalar (a negative number, say); `- x` is a list.
    let dash_ok = first == b'-' && b.len() > 1 && b[1] != b' ';
    if (bad_start(first) && !dash_ok)
        || has_pair(b, b':', b' ')
        || has_pair(b, b' ', b'#')
        || s.ends_with(':')
        || s.ends_with(' ')
    {
        return None;
    }
    match resolve_plain(s) {
        Resolved::Value(v) => Some(v),
        Resolved::TooBig => None,
    }
}

/// A double-quoted scalar without escapes filling the rest of the line.
fn quoted(s: &str) -> Option<Value> {
    let inner = s.strip_prefix('"')?.strip_suffix('"')?;
    if inner.contains(['"', '\\']) {
        return None;
    }
    Some(Value::str(inner))
}

impl<'a> P<'a> {
    fn cur(&self) -> Option<&Line<'a>> {
        self.lines.get(self.i)
    }

    /// Skips blank lines.
    fn skip_blank(&mut self) {
        while self.lines.get(self.i).is_some_and(|l| l.text.is_empty()) {
            self.i += 1;
        }
    }

    fn map(&mut self, indent: usize) -> Option<Map> {
        self.depth += 1;
        let r = if self.depth > MAX_FAST_DEPTH {
            None
        } else {
            self.map_at(indent)
        };
        self.depth -= 1;
        r
    }

    fn map_at(&mut self, indent: usize) -> Option<Map> {
        let mut m = Map::new();
        let mut seen: HashSet<&'a str> = HashSet::new();
        loop {
            self.skip_blank();
            let Some(line) = self.cur() else { break };
            if line.indent < indent {
                break;
            }
            if line.indent > indent {
                return None;
            }
            let text = line.text;
            let colon = text.as_bytes().windows(2).position(|w| w == b": ");
            let (key, rest) = match colon {
                Some(p) => (&text[..p], text[p + 2..].trim_start_matches(' ')),
                None => (text.strip_suffix(':')?, ""),
            };
            let kb = key.as_bytes();
            if kb.is_empty()
                || bad_start(kb[0])
                || key.ends_with([' ', ':'])
                || has_pair(kb, b' ', b'#')
                || key == "<<"
                || !matches!(resolve_plain(key), Resolved::Value(Value::Str(_)))
                || !seen.insert(key)
            {
                return None;
            }
            self.i += 1;
            let v = self.value_after(rest, indent)?;
            m.push(key, v);
        }
        Some(m)
    }

    /// The value after `key:` (`rest` is the text after `: `), the key being at `indent`.
    fn value_after(&mut self, rest: &'a str, indent: usize) -> Option<Value> {
        if rest.is_empty() {
            self.skip_blank();
            return Some(match self.cur() {
                Some(l) if l.indent > indent => {
                    let at = l.indent;
                    if l.text == "-" || l.text.starts_with("- ") {
                        Value::List(self.list(at)?)
                    } else {
                        Value::Map(self.map(at)?)
                    }
                }
                Some(l) if l.indent == indent && l.text.starts_with("- ") => {
                    Value::List(self.list(indent)?)
                }
                _ => Value::Null,
            });
        }
        match rest.as_bytes()[0] {
            b'"' => quoted(rest),
            b'|' => self.literal(rest, indent),
            _ => plain(rest),
        }
    }

    fn list(&mut self, indent: usize) -> Option<Vec<Value>> {
        self.depth += 1;
        let r = if self.depth > MAX_FAST_DEPTH {
            None
        } else {
            self.list_at(indent)
        };
        self.depth -= 1;
        r
    }

    fn list_at(&mut self, indent: usize) -> Option<Vec<Value>> {
        let mut l = Vec::new();
        loop {
            self.skip_blank();
            let Some(line) = self.cur() else { break };
            if line.indent < indent || (line.indent == indent && !line.text.starts_with("- ")) {
                break;
            }
            if line.indent > indent {
                return None;
            }
            let after = &line.text[2..];
            let rest = after.trim_start_matches(' ');
            let col = indent + 2 + (after.len() - rest.len());
            let first = *rest.as_bytes().first()?;
            if first == b'"' {
                self.i += 1;
                l.push(quoted(rest)?);
            } else if has_pair(rest.as_bytes(), b':', b' ') || rest.ends_with(':') {
                // `- k: v`: a map whose first key is on the dash's line.
                self.lines[self.i] = Line {
                    indent: col,
                    text: rest,
                };
                l.push(Value::Map(self.map(col)?));
            } else {
                self.i += 1;
                l.push(plain(rest)?);
            }
        }
        Some(l)
    }

    /// A `|` or `|-` block whose key (or dash) is at `indent`.
    fn literal(&mut self, header: &str, indent: usize) -> Option<Value> {
        let strip = match header {
            "|" => false,
            "|-" => true,
            _ => return None,
        };
        // The content indentation is the first content line's.
        let mut j = self.i;
        while self
            .lines
            .get(j)
            .is_some_and(|l| l.text.is_empty() && l.indent == 0)
        {
            j += 1;
        }
        let m = self.lines.get(j)?.indent;
        if m <= indent || self.lines[j].text.is_empty() {
            return None;
        }
        let mut s = String::new();
        while let Some(l) = self.lines.get(self.i) {
            if l.text.is_empty() {
                if l.indent != 0 {
                    return None; // spaces-only lines: not handled here
                }
                s.push('\n');
            } else if l.indent >= m {
                for _ in m..l.indent {
                    s.push(' ');
                }
                s.push_str(l.text);
                s.push('\n');
            } else {
                break;
            }
            self.i += 1;
        }
        // Blank lines at the end belong to what follows, not to the block.
        while s.ends_with("\n\n") {
            s.pop();
            self.i -= 1;
        }
        if strip {
            s.pop();
        }
        Some(Value::str(s))
    }
}

/// The documents of `text`, or None when it is outside the subset (use the general loader).
/// Lines indented deeper than this are left to the general loader (bounds the recursion).
const MAX_INDENT: usize = 1024;

pub(crate) fn parse(text: &str) -> Option<Vec<Document>> {
    let b = text.as_bytes();
    // ASCII without control characters other than newlines; ending with a newline.
    if b.is_empty()
        || b.last() != Some(&b'\n')
        || b.iter().any(|&c| c >= 0x7f || (c < 0x20 && c != b'\n'))
    {
        return None;
    }
    let lines: Vec<Line> = text[..text.len() - 1]
        .split('\n')
        .map(|l| {
            let t = l.trim_start_matches(' ');
            Line {
                indent: l.len() - t.len(),
                text: t,
            }
        })
        .collect();
    // The parser recurses once per level and a level takes at least one column: deep
    // indentation goes to the general loader, which limits nesting with an error.
    if lines.iter().any(|l| l.indent > MAX_INDENT) {
        return None;
    }
    if lines
        .iter()
        .any(|l| l.text.starts_with('#') || has_pair(l.text.as_bytes(), b' ', b'#'))
    {
        // Comments are placed by the general loader's rules.
        return None;
    }
    let mut p = P {
        lines,
        i: 0,
        depth: 0,
    };
    p.skip_blank();
    if p.cur()?.indent != 0 {
        return None;
    }
    let doc = p.map(0)?;
    p.skip_blank();
    if p.i != p.lines.len() || doc.is_empty() {
        return None;
    }
    Some(vec![doc])
}

#[cfg(test)]
mod tests {
    use super::super::parse_general;

    /// Inputs the fast path must take, with the general loader's tree.
    const TAKEN: &[&str] = &[
        "a: 1\n",
        "a: b\nc:\n    d: -5\n    e: 1.5\n    f: true\n    g: ~\n    h:\nk: 2024-01-01\n",
        "list:\n- a\n- 0x1F\nnext: x\n",
        "list:\n    - a\n    - \"quoted: yes\"\n    - b: c\n      d: e\n    - f:\n        g: h\n",
        "lit: |\n    line one\n\n    line two\n\n\nstrip: |-\n    x\n      y\nafter: 1\n",
        "k: ENC[AES256_GCM,data:QUJD,iv:AAAA,tag:BBBB,type:str]\nsops:\n    age:\n        - recipient: age1qqq\n          enc: |\n            -----BEGIN AGE ENCRYPTED FILE-----\n            YWdl\n            -----END AGE ENCRYPTED FILE-----\n    lastmodified: \"2024-01-01T00:00:00Z\"\n    mac: ENC[AES256_GCM,data:QUJD,iv:AAAA,tag:BBBB,type:str]\n    unencrypted_suffix: _unencrypted\n    version: 3.11.0\n",
        "a:b: c\nurl: http://x.y/z?q=1#frag\nn: 1_000\nt: 12:30:45\nyes_no: yes\nempty: \"\"\n",
        "\na: 1\n\n\nb:\n\n    c: 2\n",
    ];

    /// Inputs it must leave to the general loader.
    const LEFT: &[&str] = &[
        "# comment\na: 1\n",
        "a: 1 # comment\n",
        "a: 1",
        "---\na: 1\n",
        "a: &x 1\nb: *x\n",
        "a: !!str 1\n",
        "a: {b: c}\n",
        "a: [1, 2]\n",
        "a: 'q'\n",
        "a: \"esc\\n\"\n",
        "a:\tb\n",
        "a: b\r\n",
        "a: >\n    folded\n",
        "a: |+\n    keep\n",
        "a: |2\n    x\n",
        "a: b\n  c\n",
        "a: b\na: c\n",
        "1: x\n",
        "true: x\n",
        "<<: x\n",
        "a: 18446744073709551615\n",
        "a: caf\u{e9}\n",
        "  a: 1\n",
        "a:\n  b: 1\n c: 2\n",
        "a: b: c\n",
        "a: x:\n",
        "- a\n",
        "a:\n- - x\n",
        "a: |\n  \n  x\n",
        "? a\n: b\n",
        "{}\n",
        "",
    ];

    #[test]
    fn takes_the_common_subset_with_the_loaders_tree() {
        for t in TAKEN {
            let fast = super::parse(t).unwrap_or_else(|| panic!("not taken:\n{t}"));
            let general = parse_general(t).unwrap();
            assert!(fast == general, "differs:\n{t}\n{fast:?}\n{general:?}");
        }
    }

    #[test]
    fn leaves_everything_else_to_the_loader() {
        for t in LEFT {
            assert!(super::parse(t).is_none(), "taken:\n{t}");
        }
    }

    #[test]
    fn literal_blocks_keep_their_text() {
        let d = super::parse("a: |\n    x\n      y\n\n    z\n\n\nb: |-\n    q\n").unwrap();
        assert_eq!(d[0].get("a").unwrap().as_str(), Some("x\n  y\n\nz\n"));
        assert_eq!(d[0].get("b").unwrap().as_str(), Some("q"));
    }
}
