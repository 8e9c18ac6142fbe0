//! The YAML store.
//!
//! Parsing uses `saphyr-parser`'s event stream, whose events carry exact source spans.
//! The ordered tree is built from the events; comments, which the parser does not report,
//! are recovered from the source text between events (outside every scalar's span, a `#`
//! at a line start or after whitespace starts a comment). Scalars are typed the way sops'
//! yaml.v3 types them when decoding into `interface{}`.
//!
//! Comment placement follows sops 3.11: one Comment item per comment line, before the
//! item it precedes; a comment on the same line as a key (`k: v # c`) goes before that
//! key; a comment after the last item of a nested block goes to the deepest open block
//! whose indentation is at most the comment's column.
//!
//! The emitter is our own: block style, `indent` spaces, sequences indented inside their
//! parent map, strings quoted whenever YAML 1.1 or 1.2 would read them as anything else.

use crate::error::{Error, ErrorKind, Result};
use crate::numfmt::go_float_g;
use crate::timefmt::{canonical_time, is_timestamp};
use crate::tree::{Document, Item, Map, Value};
use base64::Engine;
use saphyr_parser::{Event, Parser, ScalarStyle, Span};
use std::collections::HashMap;

mod fast;
mod scalar;

use scalar::{bool_word, is_null_word, resolve_plain, Resolved};

struct CommentTok {
    index: usize,
    line: usize,
    col: usize,
    text: String,
}

struct Loader<'a> {
    events: Vec<(Event<'a>, Span)>,
    pos: usize,
    comments: Vec<CommentTok>,
    next_comment: usize,
    anchors: HashMap<usize, Anchored>,
    /// Nesting depth of the node being read (aliases count with their own depth).
    depth: usize,
    /// Bytes that anchors and aliases may still copy in (see [`alias_budget`]).
    alias_budget: usize,
    /// The budget the file started with (for the message).
    alias_budget_total: usize,
}

/// An anchored node: its copy, what copying it costs (see [`node_weight`]), its depth.
struct Anchored {
    value: Value,
    cost: usize,
    depth: usize,
}

/// Maximum nesting depth, as in the JSON store: keeps the recursion here and in the tree
/// walks after it within a thread's stack. (yaml.v3 allows 10000.)
const MAX_DEPTH: usize = 256;

/// What one node costs in the alias budget beyond its text: about the memory of a tree
/// node and its allocation.
const NODE_COST: usize = 48;

/// The alias budget of a file: anchors and aliases may copy in at most
/// `ALIAS_FACTOR` times the file's size, and at least `ALIAS_MIN` bytes (so that small
/// files with ordinary `<<: *defaults` merges never reach it). Every copy counts, whether
/// the alias is a value or a mapping key, and so does the copy an anchor keeps. Without
/// it a few levels of aliases of aliases ("billion laughs"), or one long string used as
/// the key of thousands of alias keys, would expand a small file to more memory than any
/// machine has; yaml.v3 refuses such documents too ("excessive aliasing"). Proportional
/// to the input, so the memory of a parse stays a small multiple of the file's size.
const ALIAS_FACTOR: usize = 16;
/// See [`ALIAS_FACTOR`].
const ALIAS_MIN: usize = 16 << 20;

/// The alias budget for a text of `len` bytes.
fn alias_budget(len: usize) -> usize {
    len.saturating_mul(ALIAS_FACTOR).max(ALIAS_MIN)
}

/// What copying `v` costs in the alias budget (bytes, roughly its memory) and its nesting
/// depth.
fn node_weight(v: &Value) -> (usize, usize) {
    match v {
        Value::Map(m) => m.0.iter().fold((NODE_COST, 1), |(n, d), item| match item {
            Item::Pair(k, v) => {
                let (vn, vd) = node_weight(v);
                (
                    n.saturating_add(NODE_COST + k.len()).saturating_add(vn),
                    d.max(vd + 1),
                )
            }
            Item::Comment(c) => (n.saturating_add(NODE_COST + c.text().len()), d),
        }),
        Value::List(l) => l.iter().fold((NODE_COST, 1), |(n, d), v| {
            let (vn, vd) = node_weight(v);
            (n.saturating_add(vn), d.max(vd + 1))
        }),
        Value::Str(s) => (NODE_COST + s.len(), 0),
        Value::Bytes(b) => (NODE_COST + b.len(), 0),
        Value::Time(t) => (NODE_COST + t.len(), 0),
        Value::Comment(c) => (NODE_COST + c.text().len(), 0),
        _ => (NODE_COST, 0),
    }
}

fn syntax_error(line: usize, col: usize, what: &str) -> Error {
    Error::new(
        ErrorKind::Parse,
        format!("invalid YAML at line {line}, column {}: {what}", col + 1),
    )
    .with_hint("fix the syntax at that position")
}

/// The source text indexed by character (saphyr's spans count characters): the bytes
/// themselves when the text is ASCII (no copy), else the decoded characters.
trait Chars {
    fn at(&self, i: usize) -> char;
    fn count(&self) -> usize;
}

impl Chars for [u8] {
    fn at(&self, i: usize) -> char {
        self[i] as char
    }
    fn count(&self) -> usize {
        self.len()
    }
}

impl Chars for [char] {
    fn at(&self, i: usize) -> char {
        self[i]
    }
    fn count(&self) -> usize {
        self.len()
    }
}

/// Finds the comments in the gaps between events.
fn scan_comments<C: Chars + ?Sized>(chars: &C, events: &[(Event<'_>, Span)]) -> Vec<CommentTok> {
    let mut out = Vec::new();
    let mut line = 1usize;
    let mut col = 0usize;
    let mut i = 0usize;
    // Walk the characters once, skipping scalar spans, keeping line/column.
    let mut spans: Vec<(usize, usize)> = events
        .iter()
        .filter(|(e, s)| {
            matches!(e, Event::Scalar(..) | Event::Alias(_)) && s.end.index() > s.start.index()
        })
        .map(|(e, s)| {
            let (start, end) = (s.start.index(), s.end.index());
            match e {
                // saphyr's span of a quoted scalar runs past the closing quote (over a
                // trailing comment): end it at the quote itself.
                Event::Scalar(_, ScalarStyle::DoubleQuoted | ScalarStyle::SingleQuoted, ..) => {
                    (start, quoted_end(chars, start).unwrap_or(end).min(end))
                }
                _ => (start, end),
            }
        })
        .collect();
    spans.sort_unstable();
    let mut next_span = 0usize;
    while i < chars.count() {
        while next_span < spans.len() && spans[next_span].1 <= i {
            next_span += 1;
        }
        if next_span < spans.len() && spans[next_span].0 <= i {
            // Inside a scalar: skip to its end, tracking lines.
            let end = spans[next_span].1.min(chars.count());
            while i < end {
                if chars.at(i) == '\n' {
                    line += 1;
                    col = 0;
                } else {
                    col += 1;
                }
                i += 1;
            }
            continue;
        }
        let c = chars.at(i);
        if c == '#' && (i == 0 || chars.at(i - 1).is_whitespace()) {
            let start = i;
            let (cl, cc) = (line, col);
            // A comment ends at a line break: `\n`, or a lone `\r`, which YAML also counts.
            while i < chars.count() && !matches!(chars.at(i), '\n' | '\r') {
                i += 1;
            }
            let text: String = (start + 1..i).map(|j| chars.at(j)).collect();
            out.push(CommentTok {
                index: start,
                line: cl,
                col: cc,
                text: text.trim_end_matches('\r').to_string(),
            });
            col += i - start;
            continue;
        }
        if c == '\n' {
            line += 1;
            col = 0;
        } else {
            col += 1;
        }
        i += 1;
    }
    out
}

/// The index just past the closing quote of a quoted scalar whose opening quote (after
/// any anchor or tag) is at or after `start`.
fn quoted_end<C: Chars + ?Sized>(chars: &C, start: usize) -> Option<usize> {
    let open = (start..chars.count()).find(|&i| matches!(chars.at(i), '"' | '\''))?;
    let q = chars.at(open);
    let mut i = open + 1;
    while i < chars.count() {
        match chars.at(i) {
            '\\' if q == '"' => i += 2,
            '\'' if q == '\'' && i + 1 < chars.count() && chars.at(i + 1) == '\'' => i += 2,
            c if c == q => return Some(i + 1),
            _ => i += 1,
        }
    }
    None
}

impl<'a> Loader<'a> {
    fn peek(&self) -> Option<&(Event<'a>, Span)> {
        self.events.get(self.pos)
    }

    fn next(&mut self) -> Result<(Event<'a>, Span)> {
        let e =
            self.events.get(self.pos).cloned().ok_or_else(|| {
                Error::new(ErrorKind::Parse, "invalid YAML: unexpected end of input")
            })?;
        self.pos += 1;
        Ok(e)
    }

    /// Comments before char `index`, in order.
    fn take_before(&mut self, index: usize) -> Vec<String> {
        let mut out = Vec::new();
        while self.next_comment < self.comments.len()
            && self.comments[self.next_comment].index < index
        {
            out.push(self.comments[self.next_comment].text.clone());
            self.next_comment += 1;
        }
        out
    }

    /// Comments on `line` before char `index` (inline comments of a key or list item).
    fn take_on_line(&mut self, line: usize, index: usize) -> Vec<String> {
        let mut out = Vec::new();
        while self.next_comment < self.comments.len() {
            let c = &self.comments[self.next_comment];
            if c.line == line && c.index < index {
                out.push(c.text.clone());
                self.next_comment += 1;
            } else {
                break;
            }
        }
        out
    }

    /// At the end of a block at column `indent`: the comments before `end` indented at
    /// least as deep belong to it.
    fn take_foot(&mut self, end: usize, indent: usize) -> Vec<String> {
        let mut out = Vec::new();
        while self.next_comment < self.comments.len() {
            let c = &self.comments[self.next_comment];
            if c.index < end && c.col >= indent {
                out.push(c.text.clone());
                self.next_comment += 1;
            } else {
                break;
            }
        }
        out
    }

    /// Takes `cost` bytes from the alias budget, or fails naming the alias at `span`.
    fn charge(&mut self, cost: usize, span: &Span) -> Result<()> {
        self.alias_budget = self.alias_budget.checked_sub(cost).ok_or_else(|| {
            syntax_error(
                span.start.line(),
                span.start.col(),
                &format!(
                    "anchors and aliases expand the document to more than {} MiB ({ALIAS_FACTOR} times the file's size, at least {} MiB)",
                    self.alias_budget_total >> 20,
                    ALIAS_MIN >> 20
                ),
            )
            .with_hint("use fewer aliases (of aliases), or write the values out")
        })?;
        Ok(())
    }

    /// Records anchor `id` for `v` (a copy, charged to the alias budget: nested anchors
    /// would otherwise copy a subtree once per level).
    fn anchor(&mut self, id: usize, v: &Value, span: &Span) -> Result<()> {
        let (cost, depth) = node_weight(v);
        self.charge(cost, span)?;
        self.anchors.insert(
            id,
            Anchored {
                value: v.clone(),
                cost,
                depth,
            },
        );
        Ok(())
    }

    fn key(&mut self, path: &[String]) -> Result<(String, Span)> {
        let (ev, span) = self.next()?;
        let non_string = |what: &str| {
            Error::new(
                ErrorKind::Encrypt,
                format!(
                    "non-string key ({what}) at line {} under {}",
                    span.start.line(),
                    crate::error::path_display(path)
                ),
            )
            .with_hint("quote the key to make it a string")
        };
        match ev {
            Event::Scalar(s, style, anchor, tag) => {
                let key = s.to_string();
                let tagged_str = tag.as_ref().is_some_and(|t| t.suffix == "str");
                if style == ScalarStyle::Plain && !tagged_str && key != "<<" {
                    match resolve_plain(&key) {
                        Resolved::Value(Value::Str(_)) => {}
                        Resolved::Value(v) => return Err(non_string(v.kind())),
                        Resolved::TooBig => return Err(non_string("integer")),
                    }
                }
                if anchor > 0 {
                    self.anchor(anchor, &Value::str(key.clone()), &span)?;
                }
                Ok((key, span))
            }
            Event::Alias(id) => match self.anchors.get(&id) {
                Some(Anchored {
                    value: Value::Str(s),
                    cost,
                    ..
                }) => {
                    // A key copied from an anchor costs as much as a value would.
                    let (s, cost) = (s.to_string(), *cost);
                    self.charge(cost, &span)?;
                    Ok((s, span))
                }
                _ => Err(non_string("alias")),
            },
            _ => Err(non_string("map or list")),
        }
    }

    fn scalar(
        &self,
        s: &str,
        style: ScalarStyle,
        tag: Option<&saphyr_parser::Tag>,
        span: &Span,
        path: &[String],
    ) -> Result<Value> {
        let bad = |what: &str| {
            Error::new(
                ErrorKind::Parse,
                format!(
                    "invalid {what} at line {} ({})",
                    span.start.line(),
                    crate::error::path_display(path)
                ),
            )
        };
        if let Some(t) = tag {
            if t.handle == "tag:yaml.org,2002:" || t.handle == "!!" {
                return Ok(match t.suffix.as_str() {
                    "str" => Value::str(s),
                    "binary" => {
                        let clean: String = s.chars().filter(|c| !c.is_whitespace()).collect();
                        let b = base64::engine::general_purpose::STANDARD
                            .decode(clean)
                            .map_err(|_| bad("!!binary value"))?;
                        Value::from_bytes(b)
                    }
                    "null" => Value::Null,
                    "bool" => Value::Bool(bool_word(s).ok_or_else(|| bad("!!bool value"))?),
                    "int" => match resolve_plain(s) {
                        Resolved::Value(v @ Value::Int(_)) => v,
                        _ => return Err(bad("!!int value")),
                    },
                    "float" => match resolve_plain(s) {
                        Resolved::Value(Value::Int(i)) => Value::Float(i as f64),
                        Resolved::Value(v @ Value::Float(_)) => v,
                        _ => return Err(bad("!!float value")),
                    },
                    "timestamp" => {
                        Value::Time(canonical_time(s).ok_or_else(|| bad("!!timestamp value"))?)
                    }
                    _ => self.untagged(s, style, span, path)?,
                });
            }
        }
        self.untagged(s, style, span, path)
    }

    fn untagged(&self, s: &str, style: ScalarStyle, span: &Span, path: &[String]) -> Result<Value> {
        if style != ScalarStyle::Plain {
            return Ok(Value::str(s));
        }
        match resolve_plain(s) {
            Resolved::Value(v) => Ok(v),
            Resolved::TooBig => Err(Error::new(
                ErrorKind::Encrypt,
                format!(
                    "the integer at line {} ({}) does not fit in 64 bits",
                    span.start.line(),
                    crate::error::path_display(path)
                ),
            )
            .with_hint("quote it to keep it as a string")),
        }
    }

    fn node(&mut self, path: &mut Vec<String>) -> Result<Value> {
        let (ev, span) = self.next()?;
        match ev {
            Event::Scalar(s, style, anchor, tag) => {
                let v = self.scalar(&s, style, tag.as_deref(), &span, path)?;
                if anchor > 0 {
                    self.anchor(anchor, &v, &span)?;
                }
                Ok(v)
            }
            Event::Alias(id) => {
                let a = self.anchors.get(&id).ok_or_else(|| {
                    syntax_error(span.start.line(), span.start.col(), "unknown alias")
                })?;
                let (cost, depth) = (a.cost, a.depth);
                if self.depth + depth > MAX_DEPTH {
                    return Err(syntax_error(
                        span.start.line(),
                        span.start.col(),
                        &format!("the alias nests the document more than {MAX_DEPTH} levels deep"),
                    ));
                }
                self.charge(cost, &span)?;
                Ok(self.anchors[&id].value.clone())
            }
            Event::MappingStart(..) | Event::SequenceStart(..) if self.depth >= MAX_DEPTH => {
                Err(syntax_error(
                    span.start.line(),
                    span.start.col(),
                    &format!("the document is nested more than {MAX_DEPTH} levels deep"),
                ))
            }
            Event::MappingStart(anchor, _) => {
                self.depth += 1;
                let m = self.map(path, &span);
                self.depth -= 1;
                let v = Value::Map(m?);
                if anchor > 0 {
                    self.anchor(anchor, &v, &span)?;
                }
                Ok(v)
            }
            Event::SequenceStart(anchor, _) => {
                self.depth += 1;
                let l = self.seq(path, &span);
                self.depth -= 1;
                let v = Value::List(l?);
                if anchor > 0 {
                    self.anchor(anchor, &v, &span)?;
                }
                Ok(v)
            }
            _ => Err(syntax_error(
                span.start.line(),
                span.start.col(),
                "unexpected token",
            )),
        }
    }

    fn map(&mut self, path: &mut Vec<String>, start: &Span) -> Result<Map> {
        let mut m = Map::new();
        // The line of each key, for the duplicate check when the map is complete.
        let mut key_lines = Vec::new();
        let indent = start.start.col();
        loop {
            let (ev, span) = self
                .peek()
                .cloned()
                .ok_or_else(|| Error::new(ErrorKind::Parse, "invalid YAML: unterminated map"))?;
            if ev == Event::MappingEnd {
                for c in self.take_foot(span.start.index(), indent) {
                    m.push_comment(c);
                }
                self.pos += 1;
                if let Some((first, again)) = m.first_duplicate() {
                    return Err(duplicate_key(&m, path, &key_lines, first, again));
                }
                return Ok(m);
            }
            for c in self.take_before(span.start.index()) {
                m.push_comment(c);
            }
            let at = m.len();
            let (key, kspan) = self.key(path)?;
            key_lines.push(kspan.start.line());
            // A comment on the key's line before its value (`k: # c`) goes before the key.
            let value_start = self
                .peek()
                .map(|(_, s)| s.start.index())
                .unwrap_or(usize::MAX);
            let mut inline = self.take_on_line(kspan.start.line(), value_start);
            path.push(key.clone());
            let v = self.node(path);
            path.pop();
            let v = v?;
            // ... and so does a trailing comment after a scalar value (`k: v # c`).
            let next_start = self
                .peek()
                .map(|(_, s)| s.start.index())
                .unwrap_or(usize::MAX);
            if !matches!(v, Value::Map(_) | Value::List(_)) {
                inline.extend(self.take_on_line(kspan.start.line(), next_start));
            }
            m.push(key, v);
            for (k, c) in inline.into_iter().enumerate() {
                m.0.insert(at + k, Item::Comment(crate::tree::Comment::new(c)));
            }
        }
    }

    fn seq(&mut self, path: &mut Vec<String>, start: &Span) -> Result<Vec<Value>> {
        let mut l = Vec::new();
        let indent = start.start.col();
        loop {
            let (ev, span) = self
                .peek()
                .cloned()
                .ok_or_else(|| Error::new(ErrorKind::Parse, "invalid YAML: unterminated list"))?;
            if ev == Event::SequenceEnd {
                for c in self.take_foot(span.start.index(), indent) {
                    l.push(Value::Comment(crate::tree::Comment::new(c)));
                }
                self.pos += 1;
                return Ok(l);
            }
            for c in self.take_before(span.start.index()) {
                l.push(Value::Comment(crate::tree::Comment::new(c)));
            }
            let at = l.len();
            let line = span.start.line();
            let v = self.node(path)?;
            let next_start = self
                .peek()
                .map(|(_, s)| s.start.index())
                .unwrap_or(usize::MAX);
            let inline = if matches!(v, Value::Map(_) | Value::List(_)) {
                Vec::new()
            } else {
                self.take_on_line(line, next_start)
            };
            l.push(v);
            for (k, c) in inline.into_iter().enumerate() {
                l.insert(at + k, Value::Comment(crate::tree::Comment::new(c)));
            }
        }
    }

    fn documents(&mut self) -> Result<Vec<Document>> {
        let mut docs = Vec::new();
        loop {
            let (ev, span) = self.next()?;
            match ev {
                Event::StreamStart => continue,
                Event::StreamEnd => break,
                Event::DocumentStart(_) => {}
                _ => {
                    return Err(syntax_error(
                        span.start.line(),
                        span.start.col(),
                        "expected a document",
                    ))
                }
            }
            let mut path = Vec::new();
            let mut doc = Map::new();
            let (ev, span) = self.peek().cloned().ok_or_else(|| {
                Error::new(ErrorKind::Parse, "invalid YAML: unterminated document")
            })?;
            match ev {
                Event::MappingStart(..) => {
                    let v = self.node(&mut path)?;
                    if let Value::Map(m) = v {
                        doc = m;
                    }
                }
                Event::Scalar(ref s, ScalarStyle::Plain, _, None) if is_null_word(s) => {
                    self.pos += 1;
                }
                Event::DocumentEnd => {}
                _ => {
                    return Err(Error::new(ErrorKind::Parse, format!(
                        "the YAML document at line {} is not a map: sops files must be maps at the top level",
                        span.start.line()
                    )))
                }
            }
            // Everything up to the end of the document belongs to its top-level map.
            let (ev, span) = self.next()?;
            if ev != Event::DocumentEnd {
                return Err(syntax_error(
                    span.start.line(),
                    span.start.col(),
                    "expected the end of the document",
                ));
            }
            let end = match self.peek() {
                Some((Event::DocumentStart(_), s)) => s.start.index(),
                Some((_, s)) => s.start.index().max(span.end.index()),
                None => usize::MAX,
            };
            let doc_end = if matches!(self.peek(), Some((Event::DocumentStart(true), _))) {
                end
            } else {
                usize::MAX
            };
            for c in self.take_before(doc_end) {
                doc.push_comment(c);
            }
            docs.push(doc);
        }
        Ok(docs)
    }
}

/// The error for a key defined twice in one map (pairs `first` and `again` of `m`, whose
/// key lines are `lines`), like yaml.v3's "mapping key … already defined at line …", which
/// sops 3.11 gives for plain input. sealbox refuses it in encrypted files as well.
fn duplicate_key(m: &Map, path: &[String], lines: &[usize], first: usize, again: usize) -> Error {
    let key = m.pairs().nth(again).map(|(k, _)| k).unwrap_or_default();
    let mut full = path.to_vec();
    full.push(key.to_string());
    Error::new(
        ErrorKind::DuplicateKey,
        format!(
            "duplicate key {} at line {} (already defined at line {})",
            crate::error::path_display(&full),
            lines.get(again).copied().unwrap_or(0),
            lines.get(first).copied().unwrap_or(0)
        ),
    )
    .with_hint("remove one of the two keys: a map may hold each key once (sops never writes two)")
}

/// Refuses the characters YAML does not allow in a stream (C0 controls other than tab, LF
/// and CR, DEL, C1 controls other than NEL, surrogates, U+FFFE/U+FFFF), as yaml.v3 does
/// ("control characters are not allowed"); saphyr-parser lets them through.
fn check_printable(text: &str) -> Result<()> {
    let bad = |c: char| !matches!(c, '\t' | '\n' | '\r' | ' '..='~' | '\u{85}' | '\u{a0}'..='\u{d7ff}' | '\u{e000}'..='\u{fffd}' | '\u{10000}'..);
    match text.char_indices().find(|&(_, c)| bad(c)) {
        None => Ok(()),
        Some((i, _)) => {
            let line = text[..i].matches('\n').count() + 1;
            let col = i - text[..i].rfind('\n').map_or(0, |p| p + 1);
            Err(syntax_error(
                line,
                col,
                "control characters are not allowed",
            ))
        }
    }
}

/// A `|` or `>` block scalar that runs to the end of a text without a final line break:
/// saphyr (0.3) reads one line break more than there is (`k: |⏎  multi⏎  line` gives
/// `"multi\nline\n"`), where yaml.v3 and PyYAML read `"multi\nline"`: the text ends
/// without one, so clipping (`|`, `>`) and keeping (`|+`, `>+`) have no last break to
/// keep. Taken as it came, the extra break would be encrypted and the secret changed.
///
/// saphyr adds it after the content lines when the chomping is not `-` and the
/// unterminated last line is at least as long as the content's indentation (a content
/// line, or spaces reaching that column); the content's indentation is the column where
/// its span starts. The value then ends with that break; remove it. A kept (`|+`) scalar
/// with no content line and no blank line, only an unterminated line of spaces after its
/// header, is `"\n"` to saphyr and empty to yaml.v3 (its span, which starts at the header,
/// holds the header's line break only).
fn fix_unterminated_block_scalar(text: &str, events: &mut [(Event<'_>, Span)]) {
    if text.is_empty() || text.ends_with(['\n', '\r']) {
        return;
    }
    let end = text.chars().count();
    let last_line = text
        .rsplit(['\n', '\r'])
        .next()
        .map_or(0, |l| l.chars().count());
    for (ev, span) in events.iter_mut().rev() {
        if let Event::Scalar(s, ScalarStyle::Literal | ScalarStyle::Folded, ..) = ev {
            if span.end.index() != end {
                return;
            }
            let indent = span.start.col().max(1);
            let content = s.contains(|c| c != '\n');
            if content && s.ends_with('\n') && last_line >= indent {
                let mut fixed = s.to_string();
                fixed.pop();
                *s = fixed.into();
            } else if !content && *s == "\n" {
                let tail = text.chars().skip(span.start.index());
                let breaks = tail
                    .clone()
                    .zip(tail.skip(1).chain(std::iter::once(' ')))
                    .filter(|&(c, next)| c == '\n' || (c == '\r' && next != '\n'))
                    .count();
                if breaks == 1 {
                    *s = String::new().into();
                }
            }
            return;
        }
        if matches!(ev, Event::Scalar(..) | Event::Alias(_)) {
            return;
        }
    }
}

/// Parses a YAML stream (plain or encrypted file) into documents. A key defined twice in
/// one map is an error in both (sops checks plain input only).
pub fn parse(text: &str) -> Result<Vec<Document>> {
    // The YAML that sops and sealbox write is read by a fast line parser; anything it does
    // not handle goes through the general loader below.
    if let Some(docs) = fast::parse(text) {
        return Ok(docs);
    }
    parse_general(text)
}

/// [`parse`] without the fast path: saphyr's events, the comment scan, the loader.
pub(crate) fn parse_general(text: &str) -> Result<Vec<Document>> {
    // The fast path takes printable ASCII only, so this check belongs to the general loader.
    check_printable(text)?;
    let mut parser = Parser::new_from_str(text);
    let mut events = Vec::new();
    while let Some(r) = parser.next_event() {
        let (ev, span) = r.map_err(|e| {
            let m = e.marker();
            syntax_error(m.line(), m.col(), e.info())
        })?;
        let end = ev == Event::StreamEnd;
        events.push((ev, span));
        if end {
            break;
        }
    }
    fix_unterminated_block_scalar(text, &mut events);
    // Character indices are byte indices in ASCII text: no copy then.
    let comments = if text.is_ascii() {
        scan_comments(text.as_bytes(), &events)
    } else {
        let chars: Vec<char> = text.chars().collect();
        scan_comments(&chars[..], &events)
    };
    let mut loader = Loader {
        events,
        pos: 0,
        comments,
        next_comment: 0,
        anchors: HashMap::new(),
        depth: 0,
        alias_budget: alias_budget(text.len()),
        alias_budget_total: alias_budget(text.len()),
    };
    loader.documents()
}

// ---------------------------------------------------------------------------------------
// Emitting
// ---------------------------------------------------------------------------------------

const YAML11_WORDS: [&str; 22] = [
    "y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO", "on", "On", "ON", "off", "Off",
    "OFF", "true", "false", "null", "~", "=", "<<",
];

/// YAML 1.1 sexagesimal numbers (`1:20`, `-1:30.5`), which yaml.v3 quotes.
fn is_base60_float(s: &str) -> bool {
    let t = s.strip_prefix(['+', '-']).unwrap_or(s);
    let mut parts = t.split(':');
    let first = parts.next().unwrap_or("");
    if first.is_empty()
        || !first.starts_with(|c: char| c.is_ascii_digit())
        || !first.chars().all(|c| c.is_ascii_digit() || c == '_')
    {
        return false;
    }
    let rest: Vec<&str> = parts.collect();
    if rest.is_empty() {
        return false;
    }
    for (i, p) in rest.iter().enumerate() {
        let (num, frac) = match p.split_once('.') {
            Some((n, f)) if i == rest.len() - 1 => (n, Some(f)),
            Some(_) => return false,
            None => (*p, None),
        };
        let ok = matches!(num.len(), 1 | 2)
            && num.chars().all(|c| c.is_ascii_digit())
            && num.parse::<u32>().map(|n| n <= 59).unwrap_or(false);
        if !ok || frac.is_some_and(|f| !f.chars().all(|c| c.is_ascii_digit() || c == '_')) {
            return false;
        }
    }
    true
}

/// Letters, digits and `_+/=,:.[]-`: the bytes of the quoting fast path.
const PLAIN_SAFE: [bool; 256] = {
    let mut t = [false; 256];
    let mut c = 0;
    while c < 256 {
        let b = c as u8;
        t[c] = b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'_' | b'+' | b'/' | b'=' | b',' | b':' | b'.' | b'[' | b']' | b'-'
            );
        c += 1;
    }
    t
};

/// Whether a string must be quoted to read back as the same string.
fn needs_quotes(s: &str) -> bool {
    // Fast path for the common keys and values, `ENC[…]` strings included: a letter, then
    // letters, digits and `_+/=,:.[]-`, not ending with `:`. Among those only the null and
    // boolean words need quotes: the checks below are about spaces, tabs, other
    // characters, a leading digit or indicator, or a trailing colon.
    let b = s.as_bytes();
    if b.first().is_some_and(u8::is_ascii_alphabetic)
        && b.last() != Some(&b':')
        && b.iter().all(|&c| PLAIN_SAFE[c as usize])
    {
        return YAML11_WORDS.contains(&s) || bool_word(s).is_some() || is_null_word(s);
    }
    if s.is_empty() || YAML11_WORDS.contains(&s) || s.chars().any(|c| (c as u32) > 0xffff) {
        return true;
    }
    if !matches!(resolve_plain(s), Resolved::Value(Value::Str(_))) || is_timestamp(s) {
        return true;
    }
    let first = s.chars().next().expect("non-empty");
    if "-?:,[]{}#&*!|>'\"%@`".contains(first) || first.is_whitespace() {
        // `-x` and `?x`/`:x` are plain-safe in YAML 1.2, but quote them to be sure.
        return true;
    }
    if s.ends_with(|c: char| c.is_whitespace()) || s.ends_with(':') {
        return true;
    }
    if s.contains(": ") || s.contains(" #") || s.contains(":\t") || s.contains('\t') {
        return true;
    }
    if s.starts_with("---") || s.starts_with("...") {
        return true;
    }
    if is_base60_float(s) {
        return true;
    }
    s.chars().any(|c| {
        c.is_control() || c == '\u{feff}' || c == '\u{85}' || c == '\u{2028}' || c == '\u{2029}'
    })
}

fn double_quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\0' => out.push_str("\\0"),
            // yaml.v3 escapes characters outside the BMP (emoji): `\U0001F389`.
            c if (c as u32) > 0xffff => out.push_str(&format!("\\U{:08X}", c as u32)),
            c if c.is_control()
                || c == '\u{feff}'
                || c == '\u{2028}'
                || c == '\u{2029}'
                || c == '\u{85}' =>
            {
                let n = c as u32;
                if n <= 0xff {
                    out.push_str(&format!("\\x{n:02X}"));
                } else {
                    out.push_str(&format!("\\u{n:04X}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A string as a one-line scalar.
/// [`inline_str`] appended to `out` (no intermediate string).
fn push_inline(out: &mut String, s: &str) {
    if needs_quotes(s) {
        out.push_str(&double_quoted(s));
    } else {
        out.push_str(s);
    }
}

fn inline_str(s: &str) -> String {
    if needs_quotes(s) {
        double_quoted(s)
    } else {
        s.to_string()
    }
}

/// Whether a multi-line string can be written as a literal block that reads back exactly.
fn literal_ok(s: &str) -> bool {
    let body = s.trim_end_matches('\n');
    !body.is_empty()
        && !s.chars().any(|c| (c as u32) > 0xffff)
        && !body.starts_with([' ', '\t'])
        && !s.chars().any(|c| {
            (c.is_control() && c != '\n')
                || c == '\u{feff}'
                || c == '\u{85}'
                || c == '\u{2028}'
                || c == '\u{2029}'
        })
        && !body
            .lines()
            .any(|l| l.ends_with([' ', '\t']) && l.trim().is_empty())
}

fn scalar_text(v: &Value) -> String {
    match v {
        Value::Str(s) => inline_str(s),
        Value::Bytes(b) => format!(
            "!!binary {}",
            base64::engine::general_purpose::STANDARD.encode(&b[..])
        ),
        Value::Int(i) => i.to_string(),
        Value::Float(f) if f.is_nan() => ".nan".into(),
        Value::Float(f) if f.is_infinite() => if *f > 0.0 { ".inf" } else { "-.inf" }.into(),
        Value::Float(f) => go_float_g(*f, false),
        Value::Bool(b) => b.to_string(),
        Value::Time(t) => t.clone(),
        Value::Null => "null".into(),
        Value::Map(_) => "{}".into(),
        Value::List(_) => "[]".into(),
        Value::Comment(_) => String::new(),
    }
}

struct Emitter {
    out: String,
    indent: usize,
}

fn has_content_map(m: &Map) -> bool {
    m.pairs().next().is_some()
}

fn has_content_list(l: &[Value]) -> bool {
    l.iter().any(|v| !matches!(v, Value::Comment(_)))
}

impl Emitter {
    fn pad(&mut self, n: usize) {
        for _ in 0..n {
            self.out.push(' ');
        }
    }

    fn comment(&mut self, col: usize, text: &str) {
        self.pad(col);
        self.out.push('#');
        self.out.push_str(text);
        self.out.push('\n');
    }

    /// Writes the value after `key:` or `- ` (the cursor is right after the indicator).
    /// `col` is the column of the key or dash; nested blocks go to `child`.
    fn value_after(&mut self, v: &Value, child: usize) {
        match v {
            Value::Map(m) if has_content_map(m) => {
                self.out.push('\n');
                self.map(m, child);
            }
            Value::List(l) if has_content_list(l) => {
                self.out.push('\n');
                self.list(l, child);
            }
            Value::Str(s) if s.contains('\n') && literal_ok(s) => {
                let trailing = s.len() - s.trim_end_matches('\n').len();
                self.out.push_str(match trailing {
                    0 => " |-\n",
                    1 => " |\n",
                    _ => " |+\n",
                });
                let body = if trailing > 1 {
                    &s[..s.len() - 1]
                } else {
                    s.trim_end_matches('\n')
                };
                for line in body.split('\n') {
                    if !line.is_empty() {
                        self.pad(child);
                        self.out.push_str(line);
                    }
                    self.out.push('\n');
                }
            }
            other => {
                self.out.push(' ');
                match other {
                    Value::Str(s) => push_inline(&mut self.out, s),
                    _ => self.out.push_str(&scalar_text(other)),
                }
                self.out.push('\n');
            }
        }
    }

    fn map(&mut self, m: &Map, col: usize) {
        self.map_with_children_at(&m.0, col, col + self.indent);
    }

    /// A map's items, keys at `col`, nested blocks at `child`.
    fn map_with_children_at(&mut self, items: &[Item], col: usize, child: usize) {
        for item in items {
            match item {
                Item::Comment(c) => self.comment(col, c.text()),
                Item::Pair(k, v) => {
                    self.pad(col);
                    push_inline(&mut self.out, k);
                    self.out.push(':');
                    self.value_after(v, child);
                }
            }
        }
    }

    fn list(&mut self, l: &[Value], col: usize) {
        for v in l {
            match v {
                Value::Comment(c) => self.comment(col, c.text()),
                Value::Map(m) if has_content_map(m) => {
                    // Comments before the first key cannot follow "- ": write them above.
                    let lead =
                        m.0.iter()
                            .take_while(|i| matches!(i, Item::Comment(_)))
                            .count();
                    for item in &m.0[..lead] {
                        if let Item::Comment(c) = item {
                            self.comment(col, c.text());
                        }
                    }
                    self.pad(col);
                    self.out.push_str("- ");
                    let inner = col + 2;
                    let start = self.out.len();
                    // Like yaml.v3, nested blocks of an item's keys are indented from the
                    // dash, not from the keys (`- k: |` content at dash + indent).
                    let child = col + self.indent.max(4);
                    self.map_with_children_at(&m.0[lead..], inner, child);
                    // The first key goes on the dash's line.
                    self.out.replace_range(start..start + inner, "");
                }
                Value::List(inner) if has_content_list(inner) => {
                    let lead = inner
                        .iter()
                        .take_while(|v| matches!(v, Value::Comment(_)))
                        .count();
                    for c in &inner[..lead] {
                        if let Value::Comment(c) = c {
                            self.comment(col, c.text());
                        }
                    }
                    self.pad(col);
                    self.out.push_str("- ");
                    let start = self.out.len();
                    self.list(&inner[lead..], col + 2);
                    self.out.replace_range(start..start + col + 2, "");
                }
                other => {
                    self.pad(col);
                    self.out.push('-');
                    self.value_after(other, col + 2);
                }
            }
        }
    }
}

/// Emits documents separated by `---`, `indent` spaces per level (yaml.v3's clamp: 2..=9,
/// anything else gives 2).
pub fn emit(docs: &[Document], indent: usize) -> String {
    emit_with_meta(docs, indent, None)
}

/// [`emit`] with a last key `sops` holding `meta` in every document, when given.
pub fn emit_with_meta(docs: &[Document], indent: usize, meta: Option<&Value>) -> String {
    let indent = if (2..=9).contains(&indent) { indent } else { 2 };
    let mut e = Emitter {
        out: String::new(),
        indent,
    };
    for (i, d) in docs.iter().enumerate() {
        if i > 0 {
            e.out.push_str("---\n");
        }
        e.map(d, 0);
        match meta {
            Some(m) => {
                e.out.push_str("sops:");
                e.value_after(m, indent);
            }
            // A document without keys is `{}` (as sops writes an empty one), also in a
            // stream and after its comments: written as nothing (or as comments alone), it
            // would vanish when the output is read again.
            None if d.pairs().next().is_none() => e.out.push_str("{}\n"),
            None => {}
        }
    }
    e.out
}

/// Emits one value alone (`--extract` of a non-string): `42\n`, or a block list or map.
pub fn emit_value(v: &Value, indent: usize) -> String {
    let indent = if (2..=9).contains(&indent) { indent } else { 2 };
    let mut e = Emitter {
        out: String::new(),
        indent,
    };
    match v {
        Value::Map(m) if has_content_map(m) => e.map(m, 0),
        Value::List(l) if has_content_list(l) => e.list(l, 0),
        Value::Str(_) => {
            e.out.push_str("x:");
            e.value_after(v, 0);
            e.out.replace_range(0..3, "");
        }
        other => {
            e.out.push_str(&scalar_text(other));
            e.out.push('\n');
        }
    }
    e.out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every parse in these tests also checks that the fast path, when it takes the input,
    /// builds the same tree as the general loader.
    fn parse(text: &str) -> Result<Vec<Document>> {
        let general = parse_general(text);
        if let Some(fast) = super::fast::parse(text) {
            match &general {
                Ok(g) => assert!(*g == fast, "fast path differs on:\n{text}"),
                Err(e) => panic!("fast path accepted what the loader rejects ({e}):\n{text}"),
            }
        }
        general
    }

    fn one(text: &str) -> Document {
        let mut d = parse(text).unwrap();
        assert_eq!(d.len(), 1);
        d.remove(0)
    }

    /// Strings on the quoting fast path read back as the same strings.
    #[test]
    fn quoting_fast_path_agrees() {
        for w in [
            "ENC[AES256_GCM,data:Ab+/9=,iv:x,tag:y,type:str]",
            "a:b",
            "yes",
            "No",
            "TRUE",
            "Null",
            "on",
            "y",
            "abc-def.ghi",
            "x1_000",
            "e1",
            "a,b",
            "a[0]",
            "key=value",
        ] {
            let quoted = needs_quotes(w);
            let emitted = emit_value(&Value::str(w), 2);
            let back = parse(&format!("k: {}", emitted.trim_end())).unwrap();
            assert_eq!(
                back[0].get("k"),
                Some(&Value::str(w)),
                "{w}: quoted={quoted}"
            );
        }
    }

    fn round_trip(text: &str) {
        let docs = parse(text).unwrap();
        let out = emit(&docs, 4);
        let again = parse(&out).unwrap_or_else(|e| panic!("{e}\n{out}"));
        assert!(
            again == docs,
            "round trip changed the tree:\n{text}\n---\n{out}"
        );
    }

    #[test]
    fn resolution_like_yaml_v3() {
        let d = one("a: true\nb: yes\nc: 42\nd: 0x1F\ne: 0o17\nf: 017\ng: 0b101\nh: 1_000\ni: 1e10\nj: .inf\nk: ~\nl:\nm: 2024-01-01\nn: '42'\no: !!str 7\np: !!binary aGVsbG8=\nq: 1.0\nr: -0.5\ns: .nan\nt: 123456789012345678901234567890\n");
        let g = |k: &str| d.get(k).unwrap().clone();
        assert_eq!(g("a"), Value::Bool(true));
        assert_eq!(g("b"), Value::str("yes"));
        assert_eq!(g("c"), Value::Int(42));
        assert_eq!(g("d"), Value::Int(31));
        assert_eq!(g("e"), Value::Int(15));
        assert_eq!(g("f"), Value::Int(15));
        assert_eq!(g("g"), Value::Int(5));
        assert_eq!(g("h"), Value::Int(1000));
        assert_eq!(g("i"), Value::Float(1e10));
        assert_eq!(g("j"), Value::Float(f64::INFINITY));
        assert_eq!(g("k"), Value::Null);
        assert_eq!(g("l"), Value::Null);
        assert_eq!(g("m"), Value::Time("2024-01-01T00:00:00Z".into()));
        assert_eq!(g("n"), Value::str("42"));
        assert_eq!(g("o"), Value::str("7"));
        assert_eq!(g("p"), Value::str("hello"));
        assert_eq!(g("q"), Value::Float(1.0));
        assert_eq!(g("r"), Value::Float(-0.5));
        assert!(matches!(g("s"), Value::Float(f) if f.is_nan()));
        assert_eq!(g("t"), Value::Float(1.2345678901234568e29));
    }

    #[test]
    fn errors_never_echo_content() {
        let e = parse("a: 18446744073709551615\n").unwrap_err();
        assert_eq!(e.kind, crate::ErrorKind::Encrypt);
        let e = parse("1: secret-value\n").unwrap_err();
        assert_eq!(e.kind, crate::ErrorKind::Encrypt);
        assert!(!e.message.contains("secret-value"));
        let e = parse("a: x\na: secret-two\n").unwrap_err();
        assert!(e.message.contains("duplicate") && !e.message.contains("secret-two"));
        // Nested and alias keys too, and the message names the key path and both lines.
        let e = parse("a:\n  b: x\n  c: y\n  b: \"\"\n").unwrap_err();
        assert!(
            e.message
                .contains(r#"duplicate key ["a"]["b"] at line 4 (already defined at line 2)"#),
            "{e}"
        );
        let e = parse("k: &n name\nm:\n  name: x\n  *n : y\n").unwrap_err();
        assert!(e.message.contains(r#"["m"]["name"]"#), "{e}");
        let e = parse("- a\n- b\n").unwrap_err();
        assert!(e.message.contains("not a map"));
        let e = parse("a: [secret-three\n").unwrap_err();
        assert!(!e.message.contains("secret-three"), "{}", e.message);
        assert!(parse("").unwrap().is_empty());
        assert_eq!(parse("---\n").unwrap(), vec![Map::new()]);
    }

    #[test]
    fn comments_are_placed_like_sops() {
        let d = one("# head\na: 1 # inline\nb:\n    c: x\n    # foot of b\n# before e\ne:\n    - x\n    # in list\n    - y\n# end\n");
        let items: Vec<String> =
            d.0.iter()
                .map(|i| match i {
                    Item::Comment(c) => format!("#{}", c.text()),
                    Item::Pair(k, _) => k.clone(),
                })
                .collect();
        assert_eq!(
            items,
            ["# head", "# inline", "a", "b", "# before e", "e", "# end"]
        );
        let q = one("a: \"q # not\" # c1\nb: 'it''s # no' # c2\nc: x\n");
        let texts: Vec<&str> =
            q.0.iter()
                .filter_map(|i| match i {
                    Item::Comment(c) => Some(c.text()),
                    _ => None,
                })
                .collect();
        assert_eq!(texts, [" c1", " c2"]);
        assert_eq!(q.get("a"), Some(&Value::str("q # not")));
        let b = d.get("b").unwrap().as_map().unwrap();
        assert!(matches!(&b.0[1], Item::Comment(c) if c.text() == " foot of b"));
        let Value::List(e) = d.get("e").unwrap() else {
            panic!()
        };
        assert!(matches!(&e[1], Value::Comment(c) if c.text() == " in list"));
    }

    #[test]
    fn anchors_merge_and_multi_documents() {
        let docs = parse("a: &x {k: v}\nb: *x\n<<: *x\n---\nc: 1\n").unwrap();
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[0].get("b"), docs[0].get("a"));
        assert_eq!(docs[0].get("<<"), docs[0].get("a"));
        assert_eq!(docs[1].get("c"), Some(&Value::Int(1)));
    }

    /// A string anchored once and used as the key of thousands of alias keys was copied
    /// for every key without being charged (a 0.6 MB file took gigabytes). Every copy now
    /// counts, keys and values alike, against a budget proportional to the file's size.
    #[test]
    fn alias_keys_and_anchors_are_charged_to_a_budget_proportional_to_the_file() {
        let big = "A".repeat(200_000);
        let mut bomb = format!("k: &s \"{big}\"\nl:\n");
        for i in 0..25_000 {
            bomb.push_str(&format!("    - *s : {i}\n"));
        }
        let budget = alias_budget(bomb.len());
        assert!(budget < 16 * bomb.len() + ALIAS_MIN);
        let e = parse_general(&bomb).unwrap_err();
        assert!(e.message.contains("anchors and aliases expand"), "{e}");
        // The alias that crosses the budget is named by its line, well before the end.
        let line: usize = e.message["invalid YAML at line ".len()..]
            .split(',')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        assert!(line < 2 + budget / 200_000 + 2, "{e}");
        // Nested anchors each keep a copy of their subtree: charged too.
        let mut nest = String::from("a: &a0 [");
        nest.push_str(&"x".repeat(1 << 20));
        nest.push(']');
        for i in 1..40 {
            nest = format!("a: &a{i} [{}, {}]", &nest[3..], "y");
        }
        let e = parse_general(&format!("{nest}\n")).unwrap_err();
        assert!(e.message.contains("anchors and aliases expand"), "{e}");
        // Ordinary use stays far below it: merges of a defaults map into many services.
        let mut ok = String::from("defaults: &d {image: x, restart: always, port: 80}\n");
        for i in 0..2000 {
            ok.push_str(&format!("svc{i}:\n  <<: *d\n  name: s{i}\n"));
        }
        let d = parse(&ok).unwrap();
        assert_eq!(
            d[0].get("svc1999").unwrap().as_map().unwrap().get("<<"),
            d[0].get("defaults")
        );
    }

    #[test]
    fn round_trips() {
        round_trip("# edge cases\nünï: cödé\n\"a:b\": colon\na:\n    b: nested\nbig: 1e10\nempty: \"\"\ntext: |\n    l1\n    l2\nwhen: 2024-01-02T03:04:05Z\nnest:\n    - m:\n        - k: 1\n    - [x, [y]]\n");
        round_trip("s1: ' lead'\ns2: 'trail '\ns3: 'a: b'\ns4: 'a #b'\ns5: \"yes\"\ns6: \"y\"\ns7: \"0x1\"\ns8: \"1:20\"\ns9: \"-x\"\ns10: \"@a\"\ns11: \"tab\\there\"\ns12: \"nl\\n\"\ns13: \"two\\n\\n\"\ns14: \" lead\\nline\"\ns15: \"emoji 🎉\"\ns16: \"null\"\ns17: \"~\"\ns18: \"2024-01-01\"\ns19: \"\\u0001ctl\"\ns20: \"-\"\ns21: \"<<\"\n");
        round_trip("l:\n    - - a\n      - b\n    - {}\n    - []\n    - k: v\n      k2: v2\n    # trailing\nm: {}\nf: -0.000001\ng: 1.5e+300\n");
        round_trip("a: 1\n---\nb: 2\n---\n");
        round_trip("top:\n    # lead comment in nested map\n    k: v\nlist:\n    -   # comment before first key of item\n        k: v\n");
    }

    #[test]
    fn emits_like_sops() {
        let d = parse("# greeting\nhello: world\nport: 8080\nratio: 0.5\nenabled: true\nempty: \"\"\nnothing: null\nitems:\n    - one\n    - k: v\npublic_unencrypted: shown\n").unwrap();
        assert_eq!(
            emit(&d, 4),
            "# greeting\nhello: world\nport: 8080\nratio: 0.5\nenabled: true\nempty: \"\"\nnothing: null\nitems:\n    - one\n    - k: v\npublic_unencrypted: shown\n"
        );
        let mut m = Map::new();
        m.push(
            "enc",
            Value::str(
                "-----BEGIN AGE ENCRYPTED FILE-----\nabc\n-----END AGE ENCRYPTED FILE-----\n",
            ),
        );
        m.push("lastmodified", Value::str("2026-11-22T19:17:36Z"));
        assert_eq!(
            emit(&[m], 4),
            "enc: |\n    -----BEGIN AGE ENCRYPTED FILE-----\n    abc\n    -----END AGE ENCRYPTED FILE-----\nlastmodified: \"2026-11-22T19:17:36Z\"\n"
        );
        assert_eq!(emit_value(&Value::Int(42), 4), "42\n");
        assert_eq!(emit_value(&Value::Float(1e10), 4), "1e+10\n");
        assert_eq!(inline_str("3.11.0"), "3.11.0");
        assert_eq!(inline_str("1:20"), "\"1:20\"");
        assert_eq!(inline_str("0o17"), "\"0o17\"");
    }

    /// Found by fuzzing (fuzz/regressions/yaml/): each must be an error or round-trip,
    /// never a crash, a hang or unbounded memory.
    #[test]
    fn fuzz_regressions() {
        // An empty document in a stream is written as `{}` (like sops), not dropped.
        let docs = parse("---\n---\nb: 2\n").unwrap();
        assert_eq!(docs.len(), 2);
        assert_eq!(emit(&docs, 4), "{}\n---\nb: 2\n");
        assert_eq!(parse(&emit(&docs, 4)).unwrap(), docs);
        // ... and so is a document holding only comments (found by cargo fuzz).
        let docs = parse("---\n# c\n---\n").unwrap();
        let out = emit(&docs, 4);
        assert_eq!(emit(&parse(&out).unwrap(), 4), out);
        // A lone carriage return ends a comment: the key after it is a key, not comment text.
        let docs = parse("# top\rhello: world\n").unwrap();
        assert_eq!(docs[0].get("hello"), Some(&Value::str("world")));
        assert_eq!(parse(&emit(&docs, 4)).unwrap(), docs);
        // Nesting is limited (the recursion would otherwise overflow the stack).
        let nest = |n: usize| format!("a: {}{}\n", "[".repeat(n), "]".repeat(n));
        assert!(parse(&nest(MAX_DEPTH - 1)).is_ok());
        // (saphyr-parser has a flow limit of its own; block nesting reaches ours.)
        assert!(parse(&nest(MAX_DEPTH + 1)).is_err());
        assert!(parse(&nest(50_000)).is_err());
        let block =
            |n: usize| -> String { (0..n).map(|i| format!("{}k:\n", " ".repeat(i))).collect() };
        assert!(parse(&block(MAX_DEPTH - 1)).is_ok());
        let e = parse(&block(MAX_DEPTH + 1)).unwrap_err();
        assert!(e.message.contains("levels deep"), "{e}");
        assert!(parse(&block(3000)).is_err());
        // Aliases of aliases (billion laughs) stop at the budget instead of eating memory...
        let mut bomb = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..12 {
            let refs = vec![format!("*a{}", i - 1); 10].join(", ");
            bomb.push_str(&format!("a{i}: &a{i} [{refs}]\n"));
        }
        let e = parse(&bomb).unwrap_err();
        assert!(e.message.contains("aliases expand"), "{e}");
        // ... and cannot nest deeper than the limit either.
        let mut deep = format!("a0: &a0 {}x{}\n", "[".repeat(200), "]".repeat(200));
        deep.push_str(&format!(
            "a1: &a1 {}*a0{}\n",
            "[".repeat(70),
            "]".repeat(70)
        ));
        let e = parse(&deep).unwrap_err();
        assert!(e.message.contains("levels deep"), "{e}");
        // Control characters are refused, as yaml.v3 does (found by the tamper sweep: sops
        // exits 1 "control characters are not allowed" where the value failed later).
        for c in ['\u{0}', '\u{19}', '\u{7f}', '\u{9f}', '\u{fffe}'] {
            let e = parse(&format!("a: x{c}y\n")).unwrap_err();
            assert!(
                e.message.contains("line 1, column 5: control characters"),
                "{e}"
            );
        }
        assert!(parse("a: \"tab\there\u{85}\u{a0}\u{1f600}\"\r\n").is_ok());
        // Ordinary aliases still work.
        let d = parse("a: &x {k: v}\nb: *x\n").unwrap();
        assert_eq!(d[0].get("a"), d[0].get("b"));
    }

    /// Block scalars at the end of the text, with and without a final line break, read as
    /// yaml.v3 reads them (the values are those sops 3.11 decrypts after encrypting the
    /// same text; `tests/tests/yaml_eof.rs` checks the whole matrix against it). Every row
    /// also goes through the fast path when it takes the text.
    #[test]
    fn block_scalars_at_the_end_of_the_text_keep_only_the_breaks_there_are() {
        let rows: &[(&str, &str)] = &[
            ("k: |\n  multi\n  line", "multi\nline"),
            ("k: |\n  multi\n  line\n", "multi\nline\n"),
            ("k: |\n  multi\n  line\n\n", "multi\nline\n"),
            ("k: |\n  multi\n  line\n  ", "multi\nline\n"),
            ("k: |\n  multi\n  line\n\n  ", "multi\nline\n"),
            ("k: |-\n  multi\n  line", "multi\nline"),
            ("k: |-\n  multi\n  line\n", "multi\nline"),
            ("k: |-\n  multi\n  line\n\n", "multi\nline"),
            ("k: |-\n  multi\n  line\n  ", "multi\nline"),
            ("k: |-\n  multi\n  line\n\n  ", "multi\nline"),
            ("k: |+\n  multi\n  line", "multi\nline"),
            ("k: |+\n  multi\n  line\n", "multi\nline\n"),
            ("k: |+\n  multi\n  line\n\n", "multi\nline\n\n"),
            ("k: |+\n  multi\n  line\n  ", "multi\nline\n"),
            ("k: |+\n  multi\n  line\n\n  ", "multi\nline\n\n"),
            ("k: >\n  multi\n  line", "multi line"),
            ("k: >\n  multi\n  line\n", "multi line\n"),
            ("k: >\n  multi\n  line\n\n", "multi line\n"),
            ("k: >\n  multi\n  line\n  ", "multi line\n"),
            ("k: >\n  multi\n  line\n\n  ", "multi line\n"),
            ("k: >\n  multi\n    more\n  line", "multi\n  more\nline"),
            ("k: >\n  multi\n    more\n  line\n", "multi\n  more\nline\n"),
            ("k: >-\n  multi\n  line", "multi line"),
            ("k: >-\n  multi\n  line\n", "multi line"),
            ("k: >-\n  multi\n  line\n\n", "multi line"),
            ("k: >-\n  multi\n  line\n  ", "multi line"),
            ("k: >-\n  multi\n  line\n\n  ", "multi line"),
            ("k: >+\n  multi\n  line", "multi line"),
            ("k: >+\n  multi\n  line\n", "multi line\n"),
            ("k: >+\n  multi\n  line\n\n", "multi line\n\n"),
            ("k: >+\n  multi\n  line\n  ", "multi line\n"),
            ("k: >+\n  multi\n  line\n\n  ", "multi line\n\n"),
            ("k: >+\n  multi\n    more\n  line", "multi\n  more\nline"),
            (
                "k: >+\n  multi\n    more\n  line\n",
                "multi\n  more\nline\n",
            ),
            ("k: |2\n  multi\n  line", "multi\nline"),
            ("k: |2\n  multi\n  line\n", "multi\nline\n"),
            ("k: |2\n  multi\n  line\n\n", "multi\nline\n"),
            ("k: |2\n  multi\n  line\n  ", "multi\nline\n"),
            ("k: |2\n  multi\n  line\n\n  ", "multi\nline\n"),
            ("k: |+2\n  multi\n  line", "multi\nline"),
            ("k: |+2\n  multi\n  line\n", "multi\nline\n"),
            ("k: |+2\n  multi\n  line\n\n", "multi\nline\n\n"),
            ("k: |+2\n  multi\n  line\n  ", "multi\nline\n"),
            ("k: |+2\n  multi\n  line\n\n  ", "multi\nline\n\n"),
            ("k: >-2\n  multi\n  line", "multi line"),
            ("k: >-2\n  multi\n  line\n", "multi line"),
            ("k: >-2\n  multi\n  line\n\n", "multi line"),
            ("k: >-2\n  multi\n  line\n  ", "multi line"),
            ("k: >-2\n  multi\n  line\n\n  ", "multi line"),
            // Nested, with an unterminated line of spaces shorter than the content's
            // indentation: it is a trailing blank line, kept by `+`.
            ("k:\n  n: |+\n    a\n\n  ", "a\n\n"),
            ("k:\n  - |\n    a\n    b", "a\nb"),
            // No content line: only the blank lines there are.
            ("k: |+\n  ", ""),
            ("l:\n  k: |+\n ", ""),
            ("k: |+\n\n ", "\n"),
            ("k: |+\n\n\n   ", "\n\n"),
            ("k: |2+\n   ", " "),
            ("k: |", ""),
            ("k: |\n  ", ""),
            // Line breaks as CR LF.
            ("k: |\r\n  a\r\n  b", "a\nb"),
            ("k: |\r\n  a\r\n  b\r\n", "a\nb\n"),
            // A comment or another key after the block: its last break is real.
            ("k: |\n  a\n# c", "a\n"),
            ("k: |\n  a\nz: 1", "a\n"),
        ];
        for (text, want) in rows {
            let d = parse(text).unwrap_or_else(|e| panic!("{text:?}: {e}"));
            let mut v = d[0].get("k").or_else(|| d[0].get("l")).unwrap();
            while let Value::Map(m) = v {
                v = m.get("k").or_else(|| m.get("n")).unwrap();
            }
            if let Value::List(l) = v {
                v = &l[0];
            }
            assert_eq!(v, &Value::str(*want), "{text:?}");
        }
    }
}
