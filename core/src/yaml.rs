//! YAML text → a tree of nodes that remember their byte spans.
//!
//! We build our own small tree from `saphyr-parser` events rather than use a serde
//! deserializer because every later stage (schema errors, semantic checks, LSP hover,
//! rename) needs the exact span of keys *and* values, duplicate keys must be reported
//! instead of silently overwritten, and hostile input (alias bombs, deep nesting) must
//! end in an error, not in memory exhaustion.

use crate::source::Span;
use rustc_hash::FxHashMap as HashMap;
use saphyr_parser::{Event, Parser, ScalarStyle};
use std::borrow::Cow;

/// Deeper nesting than this is an error; no real nanokit.yml gets close.
pub const MAX_DEPTH: usize = 64;
/// Upper bound on nodes materialised through aliases (the "billion laughs" guard).
pub const MAX_ALIAS_NODES: usize = 10_000;
/// Larger files are refused before parsing. A 1,000-service nanokit.yml is about 100 KiB, so
/// this leaves forty times that; the bound keeps time and memory of every later stage (JSON
/// view, pointer map, LSP index) proportional to something a person could have written.
pub const MAX_SOURCE_BYTES: usize = 4 * 1024 * 1024;

#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub value: Value,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    /// `quoted` distinguishes `"1"` from `1` for hints like "quote the version".
    Str {
        text: String,
        quoted: bool,
    },
    Seq(Vec<Node>),
    Map(Vec<Entry>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub key: Node,
    pub value: Node,
}

impl Node {
    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::Str { text, .. } => Some(text),
            _ => None,
        }
    }
    pub fn entries(&self) -> &[Entry] {
        match &self.value {
            Value::Map(entries) => entries,
            _ => &[],
        }
    }
    pub fn get(&self, key: &str) -> Option<&Entry> {
        self.entries().iter().find(|e| e.key.key_text() == key)
    }
    /// The text of a mapping key, whatever scalar type YAML gave it.
    /// Borrowed for string keys, which is nearly every key: this runs for each key of the file.
    pub fn key_text(&self) -> Cow<'_, str> {
        match &self.value {
            Value::Str { text, .. } => Cow::Borrowed(text),
            Value::Null => "null".into(),
            Value::Bool(b) => b.to_string().into(),
            Value::Int(i) => i.to_string().into(),
            Value::Float(f) => f.to_string().into(),
            Value::Seq(_) | Value::Map(_) => "<complex key>".into(),
        }
    }
    pub fn type_name(&self) -> &'static str {
        match self.value {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Int(_) | Value::Float(_) => "a number",
            Value::Str { .. } => "a string",
            Value::Seq(_) => "a list",
            Value::Map(_) => "a mapping",
        }
    }
}

/// A problem found while reading the YAML itself.
#[derive(Debug, Clone, PartialEq)]
pub struct YamlProblem {
    pub kind: YamlProblemKind,
    pub message: String,
    pub span: Span,
    /// For duplicate keys: where the key was first defined.
    pub first: Option<Span>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum YamlProblemKind {
    Syntax,
    DuplicateKey,
    TooDeep,
    AliasBomb,
    MultipleDocuments,
    TooLarge,
}

/// The result of reading a YAML text: a tree when the syntax allowed one, and every problem.
#[derive(Debug, Clone, Default)]
pub struct Parsed {
    pub root: Option<Node>,
    pub problems: Vec<YamlProblem>,
    /// Spans of the nodes that carry an `&anchor`: text an alias elsewhere repeats, which an
    /// edit must not touch as if it were only here.
    pub anchored: Vec<Span>,
}

pub fn parse(text: &str) -> Parsed {
    if text.len() > MAX_SOURCE_BYTES {
        return Parsed { root: None, problems: vec![too_large(text)], anchored: Vec::new() };
    }
    let offsets = CharToByte::new(text);
    let mut builder = Builder {
        offsets: &offsets,
        stack: Vec::new(),
        anchors: HashMap::default(),
        alias_nodes: 0,
        root: None,
        problems: Vec::new(),
        documents: 0,
        anchored: Vec::new(),
    };
    let mut parser = Parser::new_from_str(text);
    loop {
        match parser.next_event() {
            None => break,
            Some(Ok((event, span))) => {
                let span = Span::new(offsets.byte(span.start.index()), offsets.byte(span.end.index()));
                if let Err(problem) = builder.event(event, span) {
                    builder.problems.push(problem);
                    return Parsed { root: None, problems: builder.problems, anchored: Vec::new() };
                }
            }
            Some(Err(err)) => {
                let mut at = offsets.byte(err.marker().index());
                // The reader flags a tab after reading it; point at the first tab of the run.
                while err.info().contains("tab") && text[..at].ends_with('\t') {
                    at -= 1;
                }
                let end = next_char_end(text, at);
                // The reader has its own nesting limit for flow collections, which it can reach
                // while scanning ahead of ours: the same problem, so the same code.
                let too_deep = err.info().contains("recursion limit");
                builder.problems.push(YamlProblem {
                    kind: if too_deep { YamlProblemKind::TooDeep } else { YamlProblemKind::Syntax },
                    message: if too_deep { "nesting too deep for the YAML reader".to_string() } else { syntax_message(err.info()) },
                    span: Span::new(at, end),
                    first: None,
                });
                return Parsed { root: None, problems: builder.problems, anchored: Vec::new() };
            }
        }
    }
    Parsed { root: builder.root, problems: builder.problems, anchored: builder.anchored }
}

/// Reported where the limit falls, so the position tells how far past it the file goes.
fn too_large(text: &str) -> YamlProblem {
    let mut at = MAX_SOURCE_BYTES;
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    YamlProblem {
        kind: YamlProblemKind::TooLarge,
        message: format!("file is larger than the {} MiB nanokit reads; the limit falls here", MAX_SOURCE_BYTES / (1024 * 1024)),
        span: Span::new(at, next_char_end(text, at)),
        first: None,
    }
}

fn next_char_end(text: &str, at: usize) -> usize {
    text[at.min(text.len())..].chars().next().map_or(at, |c| at + c.len_utf8())
}

/// saphyr's messages are terse ("mapping values are not allowed in this context");
/// we keep them but add what a person usually did wrong.
fn syntax_message(info: &str) -> String {
    let hint = if info.contains("mapping values are not allowed") {
        " (a `key: value` where a plain value was expected — check the indentation, or quote a value containing `: `)"
    } else if info.contains("tabs") || info.contains("tab") {
        " (YAML indentation must use spaces, not tabs)"
    } else if info.contains("did not find expected key") {
        " (check the indentation of this line against its siblings)"
    } else {
        ""
    };
    format!("invalid YAML: {info}{hint}")
}

/// saphyr reports positions in characters; we work in bytes.
struct CharToByte {
    table: Option<Vec<usize>>,
    len: usize,
}

impl CharToByte {
    fn new(text: &str) -> Self {
        let table = (!text.is_ascii()).then(|| text.char_indices().map(|(b, _)| b).chain(std::iter::once(text.len())).collect());
        CharToByte { table, len: text.len() }
    }
    fn byte(&self, char_index: usize) -> usize {
        match &self.table {
            None => char_index.min(self.len),
            Some(t) => t.get(char_index).copied().unwrap_or(self.len),
        }
    }
}

enum Frame {
    Seq { start: usize, items: Vec<Node>, anchor: usize },
    Map { start: usize, entries: Vec<Entry>, key: Option<Node>, anchor: usize, merged: Vec<String>, seen: HashMap<String, Span> },
}

struct Builder<'a> {
    offsets: &'a CharToByte,
    stack: Vec<Frame>,
    anchors: HashMap<usize, Node>,
    alias_nodes: usize,
    root: Option<Node>,
    problems: Vec<YamlProblem>,
    documents: usize,
    anchored: Vec<Span>,
}

impl Builder<'_> {
    fn event(&mut self, event: Event<'_>, span: Span) -> Result<(), YamlProblem> {
        let _ = self.offsets;
        match event {
            Event::DocumentStart(_) => {
                self.documents += 1;
                if self.documents > 1 {
                    return Err(YamlProblem {
                        kind: YamlProblemKind::MultipleDocuments,
                        message: "nanokit.yml holds one YAML document; remove this `---` and what follows".into(),
                        span,
                        first: None,
                    });
                }
            }
            Event::Scalar(text, style, anchor, tag) => {
                let tagged_str = tag.as_ref().is_some_and(|t| t.suffix == "str");
                let value = scalar(&text, style, tagged_str);
                self.push(Node { value, span }, anchor)?;
            }
            Event::SequenceStart(anchor, _) => {
                self.enter(span)?;
                self.stack.push(Frame::Seq { start: span.start, items: Vec::new(), anchor });
            }
            Event::MappingStart(anchor, _) => {
                self.enter(span)?;
                self.stack.push(Frame::Map {
                    start: span.start,
                    entries: Vec::new(),
                    key: None,
                    anchor,
                    merged: Vec::new(),
                    seen: HashMap::default(),
                });
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let (node, anchor) = match self.stack.pop() {
                    Some(Frame::Seq { start, items, anchor }) => {
                        let end = items.last().map_or(span.end, |n| n.span.end.max(start));
                        (Node { value: Value::Seq(items), span: Span::new(start, end) }, anchor)
                    }
                    Some(Frame::Map { start, entries, anchor, .. }) => {
                        let end = entries.last().map_or(span.end, |e| e.value.span.end.max(start));
                        (Node { value: Value::Map(entries), span: Span::new(start, end) }, anchor)
                    }
                    None => return Ok(()),
                };
                self.push(node, anchor)?;
            }
            Event::Alias(id) => {
                let open = self.stack.iter().any(|f| matches!(f, Frame::Seq { anchor, .. } | Frame::Map { anchor, .. } if *anchor == id));
                if open {
                    return Err(YamlProblem {
                        kind: YamlProblemKind::AliasBomb,
                        message: "recursive alias: it refers to the anchor of a node that contains it".into(),
                        span,
                        first: None,
                    });
                }
                let Some(target) = self.anchors.get(&id).cloned() else {
                    return Err(YamlProblem {
                        kind: YamlProblemKind::Syntax,
                        message: "alias refers to an anchor that is not defined before it".into(),
                        span,
                        first: None,
                    });
                };
                self.alias_nodes += count_nodes(&target);
                if self.alias_nodes > MAX_ALIAS_NODES {
                    return Err(YamlProblem {
                        kind: YamlProblemKind::AliasBomb,
                        message: format!(
                            "aliases expand to more than {MAX_ALIAS_NODES} nodes; refusing to expand (is this an alias bomb?)"
                        ),
                        span,
                        first: None,
                    });
                }
                // The alias keeps its own span so diagnostics point at `*name`, not the anchor.
                let mut node = target;
                relocate(&mut node, span);
                self.push(node, 0)?;
            }
            Event::StreamStart | Event::StreamEnd | Event::DocumentEnd | Event::Nothing => {}
        }
        Ok(())
    }

    fn enter(&self, span: Span) -> Result<(), YamlProblem> {
        if self.stack.len() >= MAX_DEPTH {
            return Err(YamlProblem {
                kind: YamlProblemKind::TooDeep,
                message: format!("nesting deeper than {MAX_DEPTH} levels"),
                span,
                first: None,
            });
        }
        Ok(())
    }

    fn push(&mut self, node: Node, anchor: usize) -> Result<(), YamlProblem> {
        if anchor != 0 {
            self.anchored.push(node.span);
            self.anchors.insert(anchor, node.clone());
        }
        match self.stack.last_mut() {
            None => {
                if self.root.is_none() {
                    self.root = Some(node);
                }
            }
            Some(Frame::Seq { items, .. }) => items.push(node),
            Some(Frame::Map { entries, key, merged, seen, .. }) => match key.take() {
                None => *key = Some(node),
                Some(k) if k.as_str() == Some("<<") => merged.extend(merge_into(entries, node)),
                Some(k) => {
                    let name = k.key_text().into_owned();
                    if let Some(i) = merged.iter().position(|m| *m == name) {
                        // An explicit key wins over the same key brought in by `<<`.
                        merged.swap_remove(i);
                        entries.retain(|e| e.key.key_text() != name);
                        seen.clear(); // rebuilt from `entries` when next needed
                        entries.push(Entry { key: k, value: node });
                    } else if let Some(first) = earlier_key(entries, seen, &name) {
                        self.problems.push(YamlProblem {
                            kind: YamlProblemKind::DuplicateKey,
                            message: format!("duplicate key `{name}`"),
                            span: k.span,
                            first: Some(first),
                        });
                    } else {
                        if !seen.is_empty() {
                            seen.insert(name, k.span);
                        }
                        entries.push(Entry { key: k, value: node });
                    }
                }
            },
        }
        Ok(())
    }
}

/// Mappings from this size on get an index of their keys for duplicate detection.
const INDEXED_MAPPING: usize = 16;

/// The span of an earlier key `name` in a mapping. Small mappings, nearly all of them, are
/// scanned; large ones (`services:` of a big project) build an index once, so duplicate
/// detection stays linear.
fn earlier_key(entries: &[Entry], index: &mut HashMap<String, Span>, name: &str) -> Option<Span> {
    if entries.len() < INDEXED_MAPPING {
        return entries.iter().find(|e| e.key.key_text() == name).map(|e| e.key.span);
    }
    if index.is_empty() {
        index.extend(entries.iter().map(|e| (e.key.key_text().into_owned(), e.key.span)));
    }
    index.get(name).copied()
}

/// YAML merge keys (`<<: *base`): entries of the merged mapping(s) that the
/// mapping does not set itself, as docker compose files use them.
fn merge_into(entries: &mut Vec<Entry>, merged: Node) -> Vec<String> {
    let sources = match merged.value {
        Value::Map(m) => vec![m],
        Value::Seq(items) => items
            .into_iter()
            .filter_map(|n| match n.value {
                Value::Map(m) => Some(m),
                _ => None,
            })
            .collect(),
        _ => return Vec::new(),
    };
    let mut added = Vec::new();
    for source in sources {
        for entry in source {
            let name = entry.key.key_text().into_owned();
            if !entries.iter().any(|e| e.key.key_text() == name) {
                added.push(name);
                entries.push(entry);
            }
        }
    }
    added
}

fn count_nodes(node: &Node) -> usize {
    1 + match &node.value {
        Value::Seq(items) => items.iter().map(count_nodes).sum(),
        Value::Map(entries) => entries.iter().map(|e| count_nodes(&e.key) + count_nodes(&e.value)).sum(),
        _ => 0,
    }
}

fn relocate(node: &mut Node, span: Span) {
    node.span = span;
    match &mut node.value {
        Value::Seq(items) => items.iter_mut().for_each(|n| relocate(n, span)),
        Value::Map(entries) => entries.iter_mut().for_each(|e| {
            relocate(&mut e.key, span);
            relocate(&mut e.value, span);
        }),
        _ => {}
    }
}

/// Resolve a scalar by the YAML 1.2 core schema.
fn scalar(text: &str, style: ScalarStyle, tagged_str: bool) -> Value {
    if style != ScalarStyle::Plain || tagged_str {
        return Value::Str { text: text.to_string(), quoted: true };
    }
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        _ => {}
    }
    if let Some(i) = parse_int(text) {
        return Value::Int(i);
    }
    if looks_like_float(text) {
        if let Ok(f) = text.parse::<f64>() {
            return Value::Float(f);
        }
    }
    match text {
        ".inf" | ".Inf" | ".INF" | "+.inf" => Value::Float(f64::INFINITY),
        "-.inf" | "-.Inf" | "-.INF" => Value::Float(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => Value::Float(f64::NAN),
        _ => Value::Str { text: text.to_string(), quoted: false },
    }
}

fn parse_int(text: &str) -> Option<i64> {
    if let Some(hex) = text.strip_prefix("0x") {
        return i64::from_str_radix(hex, 16).ok();
    }
    if let Some(oct) = text.strip_prefix("0o") {
        return i64::from_str_radix(oct, 8).ok();
    }
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        return text.parse().ok();
    }
    None
}

fn looks_like_float(text: &str) -> bool {
    let body = text.strip_prefix(['-', '+']).unwrap_or(text);
    !body.is_empty()
        && body.bytes().any(|b| b.is_ascii_digit())
        && body.bytes().all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'-' | b'+'))
        && body.as_bytes()[0] != b'e'
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root(text: &str) -> Node {
        let parsed = parse(text);
        assert!(parsed.problems.is_empty(), "{:?}", parsed.problems);
        parsed.root.unwrap()
    }

    #[test]
    fn spans_point_at_keys_and_values() {
        let text = "name: demo\nservices:\n  api:\n    expose: 3000\n";
        let r = root(text);
        let api = r.get("services").unwrap().value.get("api").unwrap();
        assert_eq!(&text[api.key.span.start..api.key.span.end], "api");
        let expose = api.value.get("expose").unwrap();
        assert_eq!(expose.value.value, Value::Int(3000));
        assert_eq!(&text[expose.value.span.start..expose.value.span.end], "3000");
    }

    #[test]
    fn quoted_numbers_stay_strings() {
        let r = root("version: \"1\"\nother: 1\n");
        assert_eq!(r.get("version").unwrap().value.value, Value::Str { text: "1".into(), quoted: true });
        assert_eq!(r.get("other").unwrap().value.value, Value::Int(1));
    }

    #[test]
    fn syntax_error_has_a_position() {
        let text = "name: demo\nservices:\n  api: [1, 2\n";
        let parsed = parse(text);
        assert!(parsed.root.is_none());
        assert_eq!(parsed.problems.len(), 1);
        assert_eq!(parsed.problems[0].kind, YamlProblemKind::Syntax);
        assert!(parsed.problems[0].span.start > 10);
    }

    #[test]
    fn duplicate_keys_are_reported_with_first_definition() {
        let text = "a: 1\nb: 2\na: 3\n";
        let parsed = parse(text);
        assert_eq!(parsed.problems.len(), 1);
        let p = &parsed.problems[0];
        assert_eq!(p.kind, YamlProblemKind::DuplicateKey);
        assert_eq!(p.span.start, 10);
        assert_eq!(p.first, Some(Span::new(0, 1)));
    }

    #[test]
    fn duplicate_keys_are_found_in_large_mappings_too() {
        // Past INDEXED_MAPPING keys the lookup switches from a scan to an index.
        let mut text: String = (0..40).map(|i| format!("k{i}: {i}\n")).collect();
        let first = text.find("k3:").unwrap();
        let again = text.len();
        text.push_str("k3: again\nk39: again\n");
        let parsed = parse(&text);
        let found: Vec<(usize, Option<Span>)> = parsed.problems.iter().map(|p| (p.span.start, p.first)).collect();
        assert_eq!(found.len(), 2, "{:?}", parsed.problems);
        assert_eq!(found[0], (again, Some(Span::new(first, first + 2))));
        assert!(parsed.problems.iter().all(|p| p.kind == YamlProblemKind::DuplicateKey));
    }

    #[test]
    fn a_merged_key_set_explicitly_in_a_large_mapping_is_no_duplicate_but_setting_it_twice_is() {
        let mut text = String::from("base: &b {image: x, port: 1}\nsvc:\n  <<: *b\n");
        text.extend((0..20).map(|i| format!("  k{i}: {i}\n")));
        text.push_str("  image: y\n");
        let parsed = parse(&text);
        assert!(parsed.problems.is_empty(), "{:?}", parsed.problems);
        let svc = &parsed.root.as_ref().unwrap().get("svc").unwrap().value;
        assert_eq!(svc.get("image").unwrap().value.as_str(), Some("y"));
        assert_eq!(svc.get("port").unwrap().value.value, Value::Int(1));

        text.push_str("  image: z\n");
        let parsed = parse(&text);
        assert_eq!(parsed.problems.len(), 1, "{:?}", parsed.problems);
        assert_eq!(parsed.problems[0].kind, YamlProblemKind::DuplicateKey);
    }

    #[test]
    fn alias_bomb_is_refused() {
        let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..10 {
            let prev = i - 1;
            text.push_str(&format!(
                "a{i}: &a{i} [*a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}]\n"
            ));
        }
        let parsed = parse(&text);
        assert!(parsed.problems.iter().any(|p| p.kind == YamlProblemKind::AliasBomb));
    }

    #[test]
    fn deep_nesting_is_refused() {
        let text = "[".repeat(500);
        let parsed = parse(&text);
        assert!(parsed.problems.iter().any(|p| matches!(p.kind, YamlProblemKind::TooDeep | YamlProblemKind::Syntax)));
    }

    #[test]
    fn oversized_file_is_refused_where_the_limit_falls_even_inside_a_character() {
        // 'é' is two bytes; an odd prefix puts the limit in the middle of one.
        let text = format!("x{}", "é".repeat(MAX_SOURCE_BYTES / 2 + 1));
        let parsed = parse(&text);
        assert!(parsed.root.is_none());
        let [p] = parsed.problems.as_slice() else { panic!("{:?}", parsed.problems) };
        assert_eq!(p.kind, YamlProblemKind::TooLarge);
        assert_eq!(p.span, Span::new(MAX_SOURCE_BYTES - 1, MAX_SOURCE_BYTES + 1));
        assert!(text.is_char_boundary(p.span.start) && text.is_char_boundary(p.span.end));
    }

    #[test]
    fn a_file_at_the_limit_is_still_read() {
        let text = format!("a: {}", "b".repeat(MAX_SOURCE_BYTES - 3));
        assert_eq!(text.len(), MAX_SOURCE_BYTES);
        assert!(parse(&text).problems.is_empty());
    }

    #[test]
    fn merge_keys_apply() {
        let r = root("base: &b {image: x, env: {A: 1}}\nsvc:\n  <<: *b\n  image: y\n");
        let svc = &r.get("svc").unwrap().value;
        assert_eq!(svc.get("image").unwrap().value.as_str(), Some("y"));
        assert!(svc.get("env").is_some());
    }

    #[test]
    fn non_ascii_spans_are_bytes() {
        let text = "name: \"héllo\"\nx: y\n";
        let r = root(text);
        let x = r.get("x").unwrap();
        assert_eq!(&text[x.key.span.start..x.key.span.end], "x");
    }
}
