//! A parsed document: the YAML tree, its JSON view for schema validation, and a map from
//! JSON pointer to source spans, so that an error found on the JSON view (by the schema
//! validator or a semantic rule) can be reported at the exact key or value in the text.

use crate::source::{LineIndex, Span};
use crate::yaml::{self, Node, Value};
use serde_json::{Map, Number, Value as Json};
use std::fmt::Write as _;
// FxHash instead of SipHash: hashing ~10k pointers per keystroke was a tenth of the analysis
// time. Keys come from the user's own file; a crafted collision only slows down its author.
use rustc_hash::FxHashMap as HashMap;

/// Where one JSON pointer lives in the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Location {
    /// The mapping key that introduces the value (none for list items and the root).
    pub key: Option<Span>,
    pub value: Span,
}

impl Location {
    /// The span to underline for "this key is wrong": the key if there is one.
    pub fn key_or_value(&self) -> Span {
        self.key.unwrap_or(self.value)
    }
}

#[derive(Debug, Clone)]
pub struct Document {
    pub text: String,
    pub lines: LineIndex,
    pub yaml: yaml::Parsed,
    pub json: Json,
    pub locations: HashMap<String, Location>,
    /// String values that held `${…}`, by pointer: the text as written and what it read.
    /// Their values in `json` are the interpolated ones ([`crate::interpolate::apply`]).
    pub interpolated: HashMap<String, crate::provenance::Interpolation>,
}

impl Document {
    pub fn parse(text: impl Into<String>) -> Self {
        let text = text.into();
        let lines = LineIndex::new(&text);
        let yaml = yaml::parse(&text);
        let mut locations = HashMap::default();
        let json = match &yaml.root {
            Some(root) => to_json(root, &mut String::new(), None, &mut locations),
            None => Json::Null,
        };
        Document { text, lines, yaml, json, locations, interpolated: HashMap::default() }
    }

    pub fn root(&self) -> Option<&Node> {
        self.yaml.root.as_ref()
    }

    pub fn location(&self, pointer: &str) -> Option<Location> {
        self.locations.get(pointer).copied()
    }

    /// The span for a pointer, falling back to the nearest ancestor that exists
    /// (a missing key is reported on the mapping that should hold it).
    pub fn span_of(&self, pointer: &str) -> Span {
        let mut p = pointer;
        loop {
            if let Some(loc) = self.locations.get(p) {
                return loc.value;
            }
            match p.rfind('/') {
                Some(i) => p = &p[..i],
                None => return self.first_line_span(),
            }
        }
    }

    pub fn key_span_of(&self, pointer: &str) -> Span {
        self.location(pointer).map_or_else(|| self.span_of(pointer), |l| l.key_or_value())
    }

    /// The edit that deletes the mapping entry at `pointer` (a quick fix's "remove this
    /// key"): its whole lines, when nothing else shares them (a block entry, not one inside a
    /// `{ … }` flow mapping); when it is the only key of its mapping, the mapping is left as
    /// `{}`, since a key with no value (`infra:`) would be an error of its own. `None` when
    /// no clean removal exists.
    pub fn entry_removal(&self, pointer: &str) -> Option<(Span, String)> {
        let loc = self.location(pointer)?;
        let span = loc.key_or_value().cover(loc.value);
        let lines = crate::source::line_removal_span(&self.text, span);
        // Text an anchor repeats elsewhere (or a `<<` merge brought here from there) is not
        // this entry's alone; and a block scalar's span runs into the next line.
        if self.yaml.anchored.iter().any(|a| a.start < lines.end && lines.start < a.end)
            || self.text.get(loc.value.start..).is_some_and(|v| v.starts_with(['|', '>', '&', '*']))
        {
            return None;
        }
        let before = self.text.get(lines.start..span.start)?;
        let after = self.text.get(span.end..lines.end)?.trim();
        if !before.chars().all(|c| c == ' ') || !(after.is_empty() || after.starts_with('#')) {
            return None;
        }
        let (parent, _) = pointer.rsplit_once('/')?;
        if self.json.pointer(parent).and_then(Json::as_object).is_some_and(|m| m.len() > 1) {
            return Some((lines, String::new()));
        }
        // `infra:` ⏎ `  min: 2` ⏎ → `infra: {}` ⏎, when only the colon separates them.
        let parent_key = self.location(parent)?.key?;
        let newline = if self.text.get(..lines.end)?.ends_with("\r\n") { "\r\n" } else { "\n" };
        (self.text.get(parent_key.end..lines.start)?.trim() == ":")
            .then(|| (Span::new(parent_key.end, lines.end), format!(": {{}}{newline}")))
    }

    fn first_line_span(&self) -> Span {
        Span::new(0, self.lines.line_end(&self.text, 0))
    }

    /// The deepest pointer at `offset`, and whether the offset is on its key (not its value).
    pub fn pointer_at(&self, offset: usize) -> Option<(String, bool)> {
        let mut best: Option<(&String, bool, usize)> = None;
        for (pointer, loc) in &self.locations {
            let hit = if loc.key.is_some_and(|k| k.contains(offset)) {
                Some((true, loc.key.map_or(0, |k| k.len())))
            } else if loc.value.contains(offset) {
                Some((false, loc.value.len()))
            } else {
                None
            };
            if let Some((on_key, size)) = hit {
                if best.is_none_or(|(_, _, s)| size < s) {
                    best = Some((pointer, on_key, size));
                }
            }
        }
        best.map(|(p, k, _)| (p.clone(), k))
    }

    /// The node at a pointer, for rules that need the YAML shape (quotedness, key spans).
    pub fn node(&self, pointer: &str) -> Option<&Node> {
        let mut node = self.root()?;
        for segment in pointer.split('/').skip(1) {
            let segment = unescape(segment);
            node = match &node.value {
                Value::Map(entries) => &entries.iter().find(|e| e.key.key_text() == segment)?.value,
                Value::Seq(items) => items.get(segment.parse::<usize>().ok()?)?,
                _ => return None,
            };
        }
        Some(node)
    }
}

/// JSON-pointer escaping; borrows in the common case (pointers are built on the hot path).
pub fn escape(segment: &str) -> std::borrow::Cow<'_, str> {
    // A byte scan: the char-set `contains` was most of the cost of building a pointer.
    if segment.bytes().any(|b| b == b'~' || b == b'/') {
        segment.replace('~', "~0").replace('/', "~1").into()
    } else {
        segment.into()
    }
}

pub fn unescape(segment: &str) -> String {
    segment.replace("~1", "/").replace("~0", "~")
}

/// A JSON pointer into the document, built segment by segment so that every segment is
/// escaped (a service named `a/b` is `/services/a~1b`): rules say `base.child("port")`
/// rather than pasting strings together.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Pointer(String);

impl Pointer {
    /// The pointer of `parts` below the root.
    pub fn of(parts: &[&str]) -> Pointer {
        Pointer(pointer(parts))
    }
    /// The key or list index `segment` below this one.
    pub fn child(&self, segment: impl std::fmt::Display) -> Pointer {
        let segment = segment.to_string();
        let mut out = String::with_capacity(self.0.len() + segment.len() + 1);
        out.push_str(&self.0);
        out.push('/');
        out.push_str(&escape(&segment));
        Pointer(out)
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::ops::Deref for Pointer {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Pointer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

pub fn pointer(parts: &[&str]) -> String {
    let mut out = String::with_capacity(parts.iter().map(|p| p.len() + 1).sum());
    for p in parts {
        out.push('/');
        out.push_str(&escape(p));
    }
    out
}

/// `path` is the node's pointer; children extend it in place and restore it, so a pointer is
/// allocated once, when it is stored (this runs for every node on every keystroke).
fn to_json(node: &Node, path: &mut String, key: Option<Span>, locations: &mut HashMap<String, Location>) -> Json {
    let json = match &node.value {
        Value::Null => Json::Null,
        Value::Bool(b) => Json::Bool(*b),
        Value::Int(i) => Json::Number((*i).into()),
        Value::Float(f) => Number::from_f64(*f).map_or(Json::Null, Json::Number),
        Value::Str { text, .. } => Json::String(text.clone()),
        Value::Seq(items) => {
            let mut array = Vec::with_capacity(items.len());
            let len = path.len();
            for (i, n) in items.iter().enumerate() {
                let _ = write!(path, "/{i}");
                array.push(to_json(n, path, None, locations));
                path.truncate(len);
            }
            Json::Array(array)
        }
        Value::Map(entries) => {
            let mut map = Map::with_capacity(entries.len());
            let len = path.len();
            for e in entries {
                let k = e.key.key_text().into_owned();
                path.push('/');
                path.push_str(&escape(&k));
                let child = to_json(&e.value, path, Some(e.key.span), locations);
                path.truncate(len);
                map.insert(k, child);
            }
            Json::Object(map)
        }
    };
    locations.insert(path.clone(), Location { key, value: node.span });
    json
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removing_an_entry_keeps_the_file_valid() {
        let remove = |text: &str, p: &str| {
            let doc = Document::parse(text);
            doc.entry_removal(p).map(|(span, new)| {
                let mut out = text.to_string();
                out.replace_range(span.start..span.end, &new);
                out
            })
        };
        assert_eq!(remove("a:\n  b: 1 # why\n  c: 2\n", "/a/b").as_deref(), Some("a:\n  c: 2\n"));
        assert_eq!(remove("a:\n  b:\n    - 1\n    - 2\n  c: 2\n", "/a/b").as_deref(), Some("a:\n  c: 2\n"));
        assert_eq!(remove("x: 1\na:\n  b: 1\n", "/a/b").as_deref(), Some("x: 1\na: {}\n"));
        assert_eq!(remove("x: 1\r\na:\r\n  b: 1\r\n", "/a/b").as_deref(), Some("x: 1\r\na: {}\r\n"));
        // Text an alias repeats, a `<<` merge from an anchor, a block scalar: none either.
        assert_eq!(remove("a: &x\n  b: 1\n  c: 2\nd:\n  <<: *x\n", "/a/b"), None);
        assert_eq!(remove("a: &x\n  b: 1\n  c: 2\nd:\n  <<: *x\n  e: 3\n", "/d/b"), None);
        assert_eq!(remove("a:\n  b: |\n    text\n  c: 2\n", "/a/b"), None);
        // Inside a flow mapping, or after a comment on the parent: no clean removal.
        assert_eq!(remove("a: {b: 1, c: 2}\n", "/a/b"), None);
        assert_eq!(remove("a: # note\n  b: 1\n", "/a/b"), None);
    }

    #[test]
    fn pointers_escape_each_segment() {
        let p = Pointer::of(&["services", "a/b"]).child("volumes").child(0);
        assert_eq!(p.as_str(), "/services/a~1b/volumes/0");
        assert_eq!(Pointer::of(&["x"]).child("~k").as_str(), "/x/~0k");
    }

    #[test]
    fn pointers_map_to_spans() {
        let text = "services:\n  a/b:\n    depends_on: [x, y]\n";
        let doc = Document::parse(text);
        let loc = doc.location("/services/a~1b/depends_on/1").unwrap();
        assert_eq!(&text[loc.value.start..loc.value.end], "y");
        let key = doc.location("/services/a~1b").unwrap().key.unwrap();
        assert_eq!(&text[key.start..key.end], "a/b");
        assert_eq!(doc.node("/services/a~1b/depends_on/0").unwrap().as_str(), Some("x"));
        // missing pointers fall back to their closest ancestor
        assert_eq!(doc.span_of("/services/a~1b/nope"), doc.location("/services/a~1b").unwrap().value);
    }
}
