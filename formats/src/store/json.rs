//! JSON store: parse and emit the way sops' JSON store does (Go `encoding/json` + `json.Indent`).
//!
//! * The parser is hand-written so it keeps key order, and refuses **duplicate keys** in an
//!   object (sops 3.11 keeps them as separate items; see [`parse`] for why we do not). Parse
//!   errors give a line and column, never the offending text.
//! * Numbers: an integer literal that fits `i64` becomes [`Value::Int`] (sops 3.13 behaviour;
//!   the MAC bytes equal 3.11's float form for |n| < 2^53). Everything else is [`Value::Float`].
//!   `-0` is kept as `Float(-0.0)` so it still serialises as `-0`, as in 3.11.
//! * Emission reproduces what sops 3.11 writes byte for byte: Go's HTML-safe string escaping,
//!   Go's float formatting, `": "` after keys and `json.Indent` layout with the configured
//!   indent (`-1` tab, `0` newlines without indentation, `N` spaces). Comments are skipped.
//!
//! Deliberate difference: text after the top-level object is an error here (sops ignores it).

use crate::error::path_display;
use crate::{Document, Error, ErrorKind, Item, Map, Result, Value};
use zeroize::Zeroizing;

/// Maximum nesting depth accepted by the parser. It keeps the recursion (here and in the
/// tree walks that follow) well within a 2 MiB thread stack, even in debug builds; real
/// sops files are nowhere near it. (Go allows 10000.)
const MAX_DEPTH: usize = 256;

/// Parse a JSON document; the top level must be an object. Keys keep their order.
///
/// A key that appears twice in one object is an error naming its key path and line
/// (deliberately unlike sops 3.11, which keeps both): the MAC cannot tell a second,
/// empty `"key": ""` from nothing, so accepting it would let anyone who can write the
/// file blank a secret for readers that take the last (or the first) of the two.
///
/// Errors carry [`ErrorKind::Parse`] (callers may re-code them).
pub fn parse(text: &str) -> Result<Document> {
    let mut p = Parser {
        src: text,
        b: text.as_bytes(),
        pos: 0,
        depth: 0,
        dup_path: Vec::new(),
    };
    // Like Go's decoder, a UTF-8 BOM is not skipped (it is an error).
    p.skip_ws();
    match p.peek() {
        Some(b'{') => {}
        Some(_) => return Err(p.err("the top level of a JSON document must be an object")),
        None => return Err(p.err("empty JSON document")),
    }
    let map = p.parse_object().map_err(|e| {
        if p.dup_path.is_empty() {
            return e;
        }
        let path: Vec<&String> = p.dup_path.iter().rev().collect();
        Error::new(
            e.kind,
            e.message.replacen(
                ": duplicate key",
                &format!(": duplicate key {}", path_display(&path)),
                1,
            ),
        )
        .with_hint("remove one of the two keys: an object may hold each key once (sops never writes two unless its input had them)")
    })?;
    p.skip_ws();
    if p.pos < p.b.len() {
        return Err(p.err("unexpected data after the top-level object"));
    }
    Ok(map)
}

/// Emit a document like sops: Go's compact encoding re-indented with `indent`
/// (`-1` = tab, `0` = one token per line without indentation, `N > 0` = N spaces;
/// `< -1` is an error). The output ends with `"\n"`. Comments are skipped.
pub fn emit(doc: &Document, indent: i32) -> Result<String> {
    emit_with_meta(doc, indent, None)
}

/// [`emit`] of `doc` followed by a last key `sops` holding `meta`, when given.
pub fn emit_with_meta(doc: &Document, indent: i32, meta: Option<&Value>) -> Result<String> {
    let ind = indent_str(indent)?;
    let mut e = Emitter {
        out: String::new(),
        ind,
        path: Vec::new(),
    };
    e.pairs(doc.pairs().chain(meta.map(|m| ("sops", m))), 0)?;
    e.out.push('\n');
    Ok(e.out)
}

/// Emit one value alone (for `--extract` of a non-map value), re-indented the same way.
///
/// Like sops' `EmitValue`, the result has **no** trailing newline (`sops decrypt --extract`
/// on a JSON list prints `[…]` without one). A string is emitted as a JSON string; callers
/// that want sops' raw-bytes output for string leaves handle those themselves.
pub fn emit_value(v: &Value, indent: i32) -> Result<String> {
    let ind = indent_str(indent)?;
    let mut e = Emitter {
        out: String::new(),
        ind,
        path: Vec::new(),
    };
    e.value(v, 0)?;
    Ok(e.out)
}

fn indent_str(indent: i32) -> Result<String> {
    match indent {
        -1 => Ok("\t".to_string()),
        n if n >= 0 => Ok(" ".repeat(n as usize)),
        _ => Err(Error::new(
            ErrorKind::Emit,
            "JSON Indentation parameter smaller than -1 is not accepted",
        )
        .with_hint("use -1 (tab), 0 (no indentation) or a positive number of spaces")),
    }
}

// ---------------------------------------------------------------------------------------
// Parser

struct Parser<'a> {
    src: &'a str,
    b: &'a [u8],
    pos: usize,
    depth: usize,
    /// After a duplicate key was found: its key path, innermost first (filled in while the
    /// error returns through the objects around it).
    dup_path: Vec<String>,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.pos).copied()
    }

    /// An error at the current position: `invalid JSON at line L, column C: what`.
    fn err(&self, what: &str) -> Error {
        let pos = self.pos.min(self.b.len());
        // Only count up to a char boundary (pos always is one, but be safe).
        let mut end = pos;
        while !self.src.is_char_boundary(end) {
            end -= 1;
        }
        let before = &self.src[..end];
        let line = before.matches('\n').count() + 1;
        let col = match before.rfind('\n') {
            Some(i) => before[i + 1..].chars().count() + 1,
            None => before.chars().count() + 1,
        };
        Error::new(
            ErrorKind::Parse,
            format!("invalid JSON at line {line}, column {col}: {what}"),
        )
    }

    fn skip_ws(&mut self) {
        while let Some(c) = self.peek() {
            if matches!(c, b' ' | b'\t' | b'\n' | b'\r') {
                self.pos += 1;
            } else {
                break;
            }
        }
    }

    fn expect(&mut self, c: u8, what: &str) -> Result<()> {
        if self.peek() == Some(c) {
            self.pos += 1;
            Ok(())
        } else if self.peek().is_none() {
            Err(self.err(&format!("unexpected end of input, expected {what}")))
        } else {
            Err(self.err(&format!("unexpected character, expected {what}")))
        }
    }

    fn enter(&mut self) -> Result<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.err("nesting too deep"));
        }
        Ok(())
    }

    fn parse_object(&mut self) -> Result<Map> {
        self.enter()?;
        self.expect(b'{', "'{'")?;
        let mut map = Map::new();
        // Where each key starts, for the duplicate check when the object is complete.
        let mut key_at = Vec::new();
        self.skip_ws();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            self.depth -= 1;
            return Ok(map);
        }
        loop {
            self.skip_ws();
            if self.peek() != Some(b'"') {
                return Err(if self.peek().is_none() {
                    self.err("unexpected end of input, expected an object key")
                } else {
                    self.err("unexpected character, expected a string object key")
                });
            }
            key_at.push(self.pos);
            let key = self.parse_string()?;
            self.skip_ws();
            self.expect(b':', "':' after object key")?;
            self.skip_ws();
            let value = match self.parse_value() {
                Ok(v) => v,
                Err(e) => {
                    if !self.dup_path.is_empty() {
                        self.dup_path.push(take_string(key));
                    }
                    return Err(e);
                }
            };
            map.0.push(Item::Pair(take_string(key), value));
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    break;
                }
                None => return Err(self.err("unexpected end of input, expected ',' or '}'")),
                Some(_) => return Err(self.err("unexpected character, expected ',' or '}'")),
            }
        }
        if let Some((first, again)) = map.first_duplicate() {
            return Err(self.duplicate(&map, &key_at, first, again));
        }
        self.depth -= 1;
        Ok(map)
    }

    /// The error for pairs `first` and `again` of `map` having the same key (`key_at`:
    /// where each key starts). Its key path is completed by the objects around it.
    fn duplicate(&mut self, map: &Map, key_at: &[usize], first: usize, again: usize) -> Error {
        let key = map.pairs().nth(again).map(|(k, _)| k).unwrap_or_default();
        self.dup_path.push(key.to_string());
        let line = self.b[..key_at[first]]
            .iter()
            .filter(|&&c| c == b'\n')
            .count()
            + 1;
        self.pos = key_at[again];
        let mut e = self.err("duplicate key").with_kind(ErrorKind::DuplicateKey);
        e.message = format!("{} (already defined at line {line})", e.message);
        e
    }

    fn parse_array(&mut self) -> Result<Vec<Value>> {
        self.enter()?;
        self.expect(b'[', "'['")?;
        let mut list = Vec::new();
        self.skip_ws();
        if self.peek() == Some(b']') {
            self.pos += 1;
            self.depth -= 1;
            return Ok(list);
        }
        loop {
            self.skip_ws();
            list.push(self.parse_value()?);
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    break;
                }
                None => return Err(self.err("unexpected end of input, expected ',' or ']'")),
                Some(_) => return Err(self.err("unexpected character, expected ',' or ']'")),
            }
        }
        self.depth -= 1;
        Ok(list)
    }

    fn parse_value(&mut self) -> Result<Value> {
        match self.peek() {
            Some(b'{') => Ok(Value::Map(self.parse_object()?)),
            Some(b'[') => Ok(Value::List(self.parse_array()?)),
            Some(b'"') => Ok(Value::Str(self.parse_string()?)),
            Some(b't') => self.literal("true", Value::Bool(true)),
            Some(b'f') => self.literal("false", Value::Bool(false)),
            Some(b'n') => self.literal("null", Value::Null),
            Some(b'-' | b'0'..=b'9') => self.parse_number(),
            None => Err(self.err("unexpected end of input, expected a value")),
            Some(_) => Err(self.err("unexpected character, expected a value")),
        }
    }

    fn literal(&mut self, word: &str, v: Value) -> Result<Value> {
        if self.b[self.pos..].starts_with(word.as_bytes()) {
            self.pos += word.len();
            Ok(v)
        } else {
            Err(self.err("invalid literal, expected true, false or null"))
        }
    }

    fn digits(&mut self) -> usize {
        let start = self.pos;
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.pos += 1;
        }
        self.pos - start
    }

    fn parse_number(&mut self) -> Result<Value> {
        let start = self.pos;
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        match self.peek() {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => return Err(self.err("invalid number: expected a digit")),
        }
        let mut integral = true;
        if self.peek() == Some(b'.') {
            integral = false;
            self.pos += 1;
            if self.digits() == 0 {
                return Err(self.err("invalid number: expected a digit after '.'"));
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            integral = false;
            self.pos += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            if self.digits() == 0 {
                return Err(self.err("invalid number: expected a digit in the exponent"));
            }
        }
        let text = &self.src[start..self.pos];
        if integral && text != "-0" {
            if let Ok(i) = text.parse::<i64>() {
                return Ok(Value::Int(i));
            }
        }
        match text.parse::<f64>() {
            Ok(f) if f.is_finite() => Ok(Value::Float(f)),
            _ => {
                self.pos = start;
                Err(self.err("number out of the range of a 64-bit float"))
            }
        }
    }

    fn hex4(&mut self) -> Result<u32> {
        let mut v = 0u32;
        for _ in 0..4 {
            let d = match self.peek() {
                Some(c @ b'0'..=b'9') => c - b'0',
                Some(c @ b'a'..=b'f') => c - b'a' + 10,
                Some(c @ b'A'..=b'F') => c - b'A' + 10,
                _ => return Err(self.err("invalid \\u escape: expected 4 hex digits")),
            };
            v = v * 16 + u32::from(d);
            self.pos += 1;
        }
        Ok(v)
    }

    /// Parses a string starting at `"`. Lone surrogate escapes become U+FFFD, as in Go.
    fn parse_string(&mut self) -> Result<Zeroizing<String>> {
        self.expect(b'"', "'\"'")?;
        let mut s = Zeroizing::new(String::new());
        loop {
            let run = self.pos;
            self.pos += find_special(&self.b[run..]);
            if s.capacity() == 0 {
                // Most strings are one run: allocate once, exactly (each reallocation of a
                // Zeroizing string leaves an unwiped copy behind).
                s.reserve_exact(self.pos - run);
            }
            s.push_str(&self.src[run..self.pos]);
            match self.peek() {
                None => return Err(self.err("unexpected end of input inside a string")),
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(s);
                }
                Some(b'\\') => {
                    self.pos += 1;
                    let c = match self.peek() {
                        Some(c) => c,
                        None => return Err(self.err("unexpected end of input inside a string")),
                    };
                    self.pos += 1;
                    match c {
                        b'"' => s.push('"'),
                        b'\\' => s.push('\\'),
                        b'/' => s.push('/'),
                        b'b' => s.push('\u{8}'),
                        b'f' => s.push('\u{c}'),
                        b'n' => s.push('\n'),
                        b'r' => s.push('\r'),
                        b't' => s.push('\t'),
                        b'u' => {
                            let u = self.hex4()?;
                            let ch = if (0xD800..0xDC00).contains(&u) {
                                // A high surrogate: combine with a following low one if present.
                                let rest = &self.b[self.pos..];
                                let mut low = None;
                                if rest.len() >= 6 && rest[0] == b'\\' && rest[1] == b'u' {
                                    let save = self.pos;
                                    self.pos += 2;
                                    match self.hex4() {
                                        Ok(l) if (0xDC00..0xE000).contains(&l) => low = Some(l),
                                        _ => self.pos = save,
                                    }
                                }
                                match low {
                                    Some(l) => {
                                        let cp = 0x10000 + ((u - 0xD800) << 10) + (l - 0xDC00);
                                        char::from_u32(cp).unwrap_or('\u{FFFD}')
                                    }
                                    None => '\u{FFFD}',
                                }
                            } else {
                                char::from_u32(u).unwrap_or('\u{FFFD}')
                            };
                            s.push(ch);
                        }
                        _ => {
                            self.pos -= 1;
                            return Err(self.err("invalid escape in string"));
                        }
                    }
                }
                Some(_) => return Err(self.err("control character in string")),
            }
        }
    }
}

/// The length of the leading 32-byte blocks of `b` in which no byte satisfies `hit`: a
/// branch-free test of a whole block that the compiler vectorizes, so that the megabytes
/// of a binary file's value are scanned many bytes per cycle rather than one.
#[inline]
fn skip_blocks(b: &[u8], hit: impl Fn(u8) -> bool) -> usize {
    const N: usize = 32;
    let mut n = 0;
    for block in b.chunks_exact(N) {
        if block.iter().fold(0u8, |acc, &c| acc | hit(c) as u8) != 0 {
            break;
        }
        n += N;
    }
    n
}

/// The position of the first `"`, `\\` or control character in `b` (its length if none).
fn find_special(b: &[u8]) -> usize {
    let special = |c: u8| (c == b'"') | (c == b'\\') | (c < 0x20);
    let n = skip_blocks(b, special);
    n + b[n..]
        .iter()
        .position(|&c| special(c))
        .unwrap_or(b.len() - n)
}

/// Keys are plain `String`s in the tree: move the text out of the zeroizing buffer.
fn take_string(mut z: Zeroizing<String>) -> String {
    std::mem::take(&mut *z)
}

// ---------------------------------------------------------------------------------------
// Emitter

struct Emitter<'a> {
    out: String,
    ind: String,
    path: Vec<&'a str>,
}

impl<'a> Emitter<'a> {
    fn newline(&mut self, depth: usize) {
        self.out.push('\n');
        for _ in 0..depth {
            self.out.push_str(&self.ind);
        }
    }

    fn map(&mut self, m: &'a Map, depth: usize) -> Result<()> {
        self.pairs(m.pairs(), depth)
    }

    fn pairs(
        &mut self,
        pairs: impl Iterator<Item = (&'a str, &'a Value)>,
        depth: usize,
    ) -> Result<()> {
        let mut first = true;
        for (k, v) in pairs {
            self.out.push(if first { '{' } else { ',' });
            first = false;
            self.newline(depth + 1);
            write_text(&mut self.out, k);
            self.out.push_str(": ");
            self.path.push(k);
            self.value(v, depth + 1)?;
            self.path.pop();
        }
        if first {
            self.out.push_str("{}");
        } else {
            self.newline(depth);
            self.out.push('}');
        }
        Ok(())
    }

    fn list(&mut self, l: &'a [Value], depth: usize) -> Result<()> {
        let mut first = true;
        for v in l.iter().filter(|v| !matches!(v, Value::Comment(_))) {
            self.out.push(if first { '[' } else { ',' });
            first = false;
            self.newline(depth + 1);
            self.value(v, depth + 1)?;
        }
        if first {
            self.out.push_str("[]");
        } else {
            self.newline(depth);
            self.out.push(']');
        }
        Ok(())
    }

    fn value(&mut self, v: &'a Value, depth: usize) -> Result<()> {
        match v {
            Value::Map(m) => self.map(m, depth)?,
            Value::List(l) => self.list(l, depth)?,
            Value::Str(s) => write_text(&mut self.out, s),
            Value::Bytes(b) => write_str(&mut self.out, b),
            Value::Time(t) => write_text(&mut self.out, t),
            Value::Int(i) => self.out.push_str(&i.to_string()),
            Value::Float(f) => match format_float(*f) {
                Some(s) => self.out.push_str(&s),
                None => {
                    return Err(Error::new(
                        ErrorKind::Emit,
                        format!(
                            "cannot write the float at {} as JSON: NaN and infinities are not valid JSON",
                            path_display(&self.path)
                        ),
                    ))
                }
            },
            Value::Bool(b) => self.out.push_str(if *b { "true" } else { "false" }),
            Value::Null => self.out.push_str("null"),
            // A comment on its own (only reachable through emit_value): nothing to print.
            Value::Comment(_) => self.out.push_str("null"),
        }
        Ok(())
    }
}

/// Formats a float as Go's `encoding/json` does; `None` for NaN and infinities.
pub(crate) fn format_float(f: f64) -> Option<String> {
    if !f.is_finite() {
        return None;
    }
    let a = f.abs();
    if a != 0.0 && !(1e-6..1e21).contains(&a) {
        // Go: strconv 'e' with shortest digits, exponent at least two digits, then
        // "e-07" cleaned up to "e-7". Net effect: sign always present, no padding.
        let s = format!("{f:e}");
        let (mant, exp) = s.split_once('e').unwrap_or((&s, "0"));
        if let Some(neg) = exp.strip_prefix('-') {
            Some(format!("{mant}e-{neg}"))
        } else {
            Some(format!("{mant}e+{exp}"))
        }
    } else {
        Some(format!("{f}"))
    }
}

/// Writes `b` as a JSON string with Go's HTML-safe escaping. Invalid UTF-8 bytes become
/// `\ufffd`, one per byte, as Go does.
fn write_str(out: &mut String, b: &[u8]) {
    out.reserve(b.len() + 2);
    out.push('"');
    for chunk in b.utf8_chunks() {
        write_valid(out, chunk.valid());
        for _ in chunk.invalid() {
            out.push_str("\\ufffd");
        }
    }
    out.push('"');
}

/// [`write_str`] for text that is known to be UTF-8.
fn write_text(out: &mut String, s: &str) {
    out.reserve(s.len() + 2);
    out.push('"');
    write_valid(out, s);
    out.push('"');
}

/// The bytes that may start an escape: `"`, `\\`, `<`, `>`, `&`, controls, and 0xE2 (the
/// first byte of U+2028 and U+2029).
const MAY_ESCAPE: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 0x20 {
        t[i] = true;
        i += 1;
    }
    t[b'"' as usize] = true;
    t[b'\\' as usize] = true;
    t[b'<' as usize] = true;
    t[b'>' as usize] = true;
    t[b'&' as usize] = true;
    t[0xE2] = true;
    t
};

/// The escaped body of valid text: runs that need no escape are copied as they are (a
/// binary file's value is one run of megabytes).
fn write_valid(out: &mut String, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let b = s.as_bytes();
    let (mut run, mut i) = (0, 0);
    while i < b.len() {
        i += skip_blocks(&b[i..], |c| {
            (c < 0x20)
                | (c == b'"')
                | (c == b'\\')
                | (c == b'<')
                | (c == b'>')
                | (c == b'&')
                | (c == 0xE2)
        });
        match b[i..].iter().position(|&c| MAY_ESCAPE[c as usize]) {
            Some(n) => i += n,
            None => break,
        }
        // U+2028 and U+2029 are E2 80 A8 / E2 80 A9; other E2 sequences stay as they are.
        if b[i] == 0xE2
            && !(b.get(i + 1) == Some(&0x80) && matches!(b.get(i + 2), Some(0xA8 | 0xA9)))
        {
            i += 1;
            continue;
        }
        out.push_str(&s[run..i]);
        let c = s[i..].chars().next().expect("a char at a boundary");
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            _ => {
                let n = c as u32;
                out.push_str("\\u");
                for shift in [12, 8, 4, 0] {
                    out.push(HEX[((n >> shift) & 0xf) as usize] as char);
                }
            }
        }
        i += c.len_utf8();
        run = i;
    }
    out.push_str(&s[run..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &str) -> Value {
        Value::str(v)
    }

    /// The tree of the sample file used against real sops 3.11.0 (see `SAMPLE`).
    const SAMPLE: &str = r#"{"a": {"b": [1, 2.5, -0.0, 1e21, 1e-7, 0.000001, 1e20, 123456789012345678901234567890, {}, [], {"x": null}], "c": "<&>\u2028\u0001\t"}, "e": {}, "f": [], "h": true, "g": 12345678901234567890}"#;

    // What `sops decrypt` 3.11.0 printed for SAMPLE with stores.json.indent = -1, 0 and 3
    // (recorded when SAMPLE's key "h" was a second "a", which sealbox now refuses).
    const SOPS_TAB: &str = "{\n\t\"a\": {\n\t\t\"b\": [\n\t\t\t1,\n\t\t\t2.5,\n\t\t\t-0,\n\t\t\t1e+21,\n\t\t\t1e-7,\n\t\t\t0.000001,\n\t\t\t100000000000000000000,\n\t\t\t1.2345678901234568e+29,\n\t\t\t{},\n\t\t\t[],\n\t\t\t{\n\t\t\t\t\"x\": null\n\t\t\t}\n\t\t],\n\t\t\"c\": \"\\u003c\\u0026\\u003e\\u2028\\u0001\\t\"\n\t},\n\t\"e\": {},\n\t\"f\": [],\n\t\"h\": true,\n\t\"g\": 12345678901234567000\n}\n";
    const SOPS_ZERO: &str = "{\n\"a\": {\n\"b\": [\n1,\n2.5,\n-0,\n1e+21,\n1e-7,\n0.000001,\n100000000000000000000,\n1.2345678901234568e+29,\n{},\n[],\n{\n\"x\": null\n}\n],\n\"c\": \"\\u003c\\u0026\\u003e\\u2028\\u0001\\t\"\n},\n\"e\": {},\n\"f\": [],\n\"h\": true,\n\"g\": 12345678901234567000\n}\n";

    #[test]
    fn matches_sops_tab_zero_and_spaces() {
        let d = parse(SAMPLE).unwrap();
        assert_eq!(emit(&d, -1).unwrap(), SOPS_TAB);
        assert_eq!(emit(&d, 0).unwrap(), SOPS_ZERO);
        assert_eq!(emit(&d, 3).unwrap(), SOPS_TAB.replace('\t', "   "));
    }

    #[test]
    fn emit_value_like_sops_extract() {
        let d = parse(SAMPLE).unwrap();
        let a = d.get("a").unwrap().as_map().unwrap();
        // `sops decrypt --extract '["a"]["b"]'`: no trailing newline.
        let expect = "[\n\t1,\n\t2.5,\n\t-0,\n\t1e+21,\n\t1e-7,\n\t0.000001,\n\t100000000000000000000,\n\t1.2345678901234568e+29,\n\t{},\n\t[],\n\t{\n\t\t\"x\": null\n\t}\n]";
        assert_eq!(emit_value(a.get("b").unwrap(), -1).unwrap(), expect);
        assert_eq!(emit_value(&Value::Int(1), -1).unwrap(), "1");
        assert_eq!(emit_value(&Value::List(vec![]), -1).unwrap(), "[]");
        assert_eq!(emit_value(&s("a\"b"), 2).unwrap(), "\"a\\\"b\"");
        assert!(emit_value(&Value::Int(1), -2).is_err());
    }

    #[test]
    fn keeps_order_and_refuses_duplicates() {
        let d = parse(r#"{"z": 1, "a": 2, "y": 3}"#).unwrap();
        let keys: Vec<_> = d.pairs().map(|(k, _)| k.to_string()).collect();
        assert_eq!(keys, ["z", "a", "y"]);
        assert_eq!(
            emit(&d, 0).unwrap(),
            "{\n\"z\": 1,\n\"a\": 2,\n\"y\": 3\n}\n"
        );
        // A duplicate, also nested (in a list) and in a large object: named by its key path.
        let e = parse("{\"z\": 1,\n \"z\": \"\"}").unwrap_err();
        assert_eq!(
            e.message,
            r#"invalid JSON at line 2, column 2: duplicate key ["z"] (already defined at line 1)"#
        );
        let e = parse(r#"{"a": {"l": [0, {"b": {"c": 1, "c": 2}}]}, "z": 0}"#).unwrap_err();
        assert!(
            e.message.contains(r#"duplicate key ["a"]["l"]["b"]["c"]"#),
            "{e}"
        );
        let many: Vec<String> = (0..100).map(|i| format!("\"k{}\": {i}", i % 99)).collect();
        let e = parse(&format!("{{{}}}", many.join(","))).unwrap_err();
        assert!(e.message.contains(r#"duplicate key ["k0"]"#), "{e}");
    }

    #[test]
    fn round_trip() {
        let text = "{\n\t\"k\": \"v\",\n\t\"n\": {\n\t\t\"l\": [\n\t\t\ttrue,\n\t\t\tfalse,\n\t\t\tnull,\n\t\t\t-12,\n\t\t\t0.5\n\t\t]\n\t},\n\t\"u\": \"\u{e9}\u{1F389}\"\n}\n";
        let d = parse(text).unwrap();
        assert_eq!(emit(&d, -1).unwrap(), text);
        let d2 = parse(&emit(&d, 2).unwrap()).unwrap();
        assert!(d == d2);
    }

    #[test]
    fn numbers() {
        let d = parse(r#"{"a": 1, "b": -0, "c": -0.0, "d": 1.0, "e": 1e3, "f": 9223372036854775807, "g": 9223372036854775808, "h": -9223372036854775808}"#).unwrap();
        let get = |k| d.get(k).unwrap().clone();
        assert!(get("a") == Value::Int(1));
        assert!(matches!(get("b"), Value::Float(f) if f == 0.0 && f.is_sign_negative()));
        assert!(matches!(get("c"), Value::Float(f) if f == 0.0 && f.is_sign_negative()));
        assert!(get("d") == Value::Float(1.0));
        assert!(get("e") == Value::Float(1000.0));
        assert!(get("f") == Value::Int(i64::MAX));
        assert!(get("g") == Value::Float(9223372036854775808.0));
        assert!(get("h") == Value::Int(i64::MIN));
        for bad in [
            "{\"a\": 01}",
            "{\"a\": 1.}",
            "{\"a\": .5}",
            "{\"a\": +1}",
            "{\"a\": 1e}",
            "{\"a\": -}",
            "{\"a\": 1e400}",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn float_format_like_go() {
        let f = |x: f64| format_float(x).unwrap();
        assert_eq!(f(1.0), "1");
        assert_eq!(f(-0.0), "-0");
        assert_eq!(f(0.0), "0");
        assert_eq!(f(2.5), "2.5");
        assert_eq!(f(1e21), "1e+21");
        assert_eq!(f(1e20), "100000000000000000000");
        assert_eq!(f(1e-7), "1e-7");
        assert_eq!(f(1.5e-10), "1.5e-10");
        assert_eq!(f(0.000001), "0.000001");
        assert_eq!(f(-1.2345678901234568e29), "-1.2345678901234568e+29");
        assert_eq!(f(1e10), "10000000000");
        assert_eq!(f(0.1), "0.1");
        assert_eq!(f(12345678901234567890.0), "12345678901234567000");
        // Observed with sops 3.11.0 (input text -> output text).
        for (x, go) in [
            (5e-324, "5e-324"),
            (1.7976931348623157e308, "1.7976931348623157e+308"),
            (123.456e-9, "1.23456e-7"),
            (0.30000000000000004, "0.30000000000000004"),
            (1e-6, "0.000001"),
            (9.999999999999999e20, "999999999999999900000"),
            (-1.5e-7, "-1.5e-7"),
            (1E+2, "100"),
            (0.1e1, "1"),
        ] {
            assert_eq!(f(x), go);
        }
        assert!(format_float(f64::NAN).is_none());
        assert!(format_float(f64::INFINITY).is_none());
    }

    #[test]
    fn nan_is_an_error_naming_the_key() {
        let mut m = Map::new();
        let mut inner = Map::new();
        inner.push("x", Value::Float(f64::NAN));
        m.push("outer", Value::Map(inner));
        let e = emit(&m, -1).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Emit);
        assert!(e.message.contains("[\"outer\"][\"x\"]"), "{}", e.message);
    }

    #[test]
    fn escapes_in() {
        let d = parse(r#"{"a": "\"\\\/\b\f\n\r\t\u0041\u00e9\ud83d\ude00", "b": "\ud800x\udc00", "c": "\ud800\u0041"}"#)
            .unwrap();
        assert_eq!(
            d.get("a").unwrap().as_str().unwrap(),
            "\"\\/\u{8}\u{c}\n\r\tA\u{e9}\u{1F600}"
        );
        // Lone surrogates become U+FFFD (observed with sops 3.11.0).
        assert_eq!(d.get("b").unwrap().as_str().unwrap(), "\u{FFFD}x\u{FFFD}");
        assert_eq!(d.get("c").unwrap().as_str().unwrap(), "\u{FFFD}A");
        assert!(parse(r#"{"a": "\x"}"#).is_err());
        assert!(parse(r#"{"a": "\u12"}"#).is_err());
        assert!(parse("{\"a\": \"tab\there\"}").is_err());
    }

    #[test]
    fn escapes_out_like_go() {
        // Observed: a binary file "a\x08b\x0cc\xffd\x7fe\xc3" decrypted with --output-type json.
        let mut m = Map::new();
        m.push(
            "data",
            Value::from_bytes(b"a\x08b\x0cc\xffd\x7fe\xc3".to_vec()),
        );
        assert_eq!(
            emit(&m, -1).unwrap(),
            "{\n\t\"data\": \"a\\bb\\fc\\ufffdd\u{7f}e\\ufffd\"\n}\n"
        );
        let mut m = Map::new();
        m.push("<k&>", s("\u{2029}\u{1f}/é"));
        m.push("t", Value::Time("2024-01-01T00:00:00Z".into()));
        assert_eq!(
            emit(&m, 0).unwrap(),
            "{\n\"\\u003ck\\u0026\\u003e\": \"\\u2029\\u001f/é\",\n\"t\": \"2024-01-01T00:00:00Z\"\n}\n"
        );
        // Each invalid byte gives one replacement, as Go's DecodeRune does.
        let mut out = String::new();
        write_str(&mut out, b"\xe2\x82");
        assert_eq!(out, "\"\\ufffd\\ufffd\"");
    }

    #[test]
    fn comments_are_skipped() {
        let mut m = Map::new();
        m.push_comment(" top");
        m.push(
            "l",
            Value::List(vec![
                Value::Comment(crate::Comment::new("c")),
                Value::Int(1),
                Value::Comment(crate::Comment::new("d")),
            ]),
        );
        let mut only = Map::new();
        only.push_comment("x");
        m.push("m", Value::Map(only));
        assert_eq!(
            emit(&m, 1).unwrap(),
            "{\n \"l\": [\n  1\n ],\n \"m\": {}\n}\n"
        );
    }

    #[test]
    fn errors_have_positions_and_no_content() {
        let e = parse("{\n  \"secret\": [1,}").unwrap_err();
        assert_eq!(e.kind, ErrorKind::Parse);
        assert!(e.message.contains("line 2, column 16"), "{}", e.message);
        assert!(!e.message.contains("secret"));
        assert!(parse("[1]").is_err());
        assert!(parse("\"x\"").is_err());
        assert!(parse("").is_err());
        assert!(parse("{} x").is_err());
        assert!(parse("{\"a\" 1}").is_err());
        assert!(parse("{\"a\": 1,}").is_err());
        assert!(parse("{\"a\": tru}").is_err());
        assert!(parse("{\"a\": \"unterminated").is_err());
        assert!(parse(" \r\n\t{ } \n").unwrap().is_empty());
        let nest = |n: usize| format!("{{\"a\": {}{}}}", "[".repeat(n), "]".repeat(n));
        assert!(parse(&nest(MAX_DEPTH - 1)).is_ok());
        assert!(emit(&parse(&nest(MAX_DEPTH - 1)).unwrap(), -1).is_ok());
        assert!(parse(&nest(MAX_DEPTH)).is_err());
        assert!(parse(&nest(100_000)).is_err());
    }

    /// A file written by `sops encrypt` 3.11.0 (age, JSON) re-emits byte for byte.
    const SOPS_ENCRYPTED: &str = r#"{
	"n": "ENC[AES256_GCM,data:bA==,iv:iawrBG9Ut4H8KlzW6eMTrKEnmFLeJua1/VOH/kXCAnc=,tag:6LA01Z9gQokDMWxNjAbz6w==,type:float]",
	"l": [
		"ENC[AES256_GCM,data:L5K71g==,iv:fypAZlOnFZLdGUkL+6CbOD6YOk7rI2DJSlcDXKn+NXI=,tag:tj63tD3DrpIysfObh8q1mQ==,type:bool]",
		null,
		"ENC[AES256_GCM,data:zPAv,iv:7gvfWt2yPrmoOmyWn7YUJMvsgZHPqx83MpKDChQ3Ap4=,tag:UjUrfU9+O0P0+wgwgTbF5g==,type:str]"
	],
	"e": {},
	"sops": {
		"age": [
			{
				"recipient": "age1qfxn8ltsunju9p829z05ehj6mwq9l5x2v3jck8z3vdvywezcxdnqdnzhld",
				"enc": "-----BEGIN AGE ENCRYPTED FILE-----\nYWdlLWVuY3J5cHRpb24ub3JnL3YxCi0+IFgyNTUxOSBQV1ZmQzM1WFg2K0NNcG1T\nMlo4c0RZOXpickZtbFZDRFpOUFRaWEpCU1NjCnFTYzRHcmN4SUViczY1Mno2Q0pw\nRVJsN1p6YjRnSXlxOGNFYm5iOXVobEUKLS0tIDFrbjBSeWFwc3RjdTdmUWVOemFX\nK29vdXdzWWRCUDhLNTV1T3ZPckpNM2MK4r+5/EvG6fi/61JpCm7Q54JvEhw4plx0\ni/cVlQge+FrNUf5TfmTmQP9Ppy4yUTdevejwfl06CRG+4M/QJPXeJw==\n-----END AGE ENCRYPTED FILE-----\n"
			}
		],
		"lastmodified": "2026-11-22T23:33:15Z",
		"mac": "ENC[AES256_GCM,data:QKgvbm1TgfJcyzuzjrJpvj569pGrpirID9dgZcHH0iWqN9lgO+qArlM+OQcyV4bk17jpQjISKBlKUaBZ6EJuxkf4eha+sjbYbh/x/7V6nF/hkL+fPAcOKGrp3c1pRPkqlQOxD2iTcYese9aWxw2Elyd08GJzvt8UajN//E0hF3c=,iv:hy43pixbeTRLTcNuTvQMIYz3VyAuk5hnW5Eo6/X13LE=,tag:Vh0NDIc6mdK1ePgHPEnf0w==,type:str]",
		"unencrypted_suffix": "_unencrypted",
		"version": "3.11.0"
	}
}
"#;

    #[test]
    fn real_sops_file_round_trips_exactly() {
        let d = parse(SOPS_ENCRYPTED).unwrap();
        assert_eq!(emit(&d, -1).unwrap(), SOPS_ENCRYPTED);
    }
}
