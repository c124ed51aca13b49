//! Document symbols, folding ranges, document links (`path:`) and inlay hints, in the
//! server's own terms (spans and offsets); `convert` makes LSP values of them.

use crate::documents::Snapshot;
use nanokit_core::resolve::Origin;
use nanokit_core::yaml::{Node, Value};
use nanokit_core::Span;
use std::path::PathBuf;

/// What an outline entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SymbolKind {
    Service,
    Runtime,
    Environment,
    Mapping,
    List,
    Number,
    Boolean,
    Field,
}

/// One key of the file in the outline, with the keys below it (three levels deep).
#[derive(Debug, Clone, PartialEq)]
pub struct Symbol {
    pub name: String,
    /// The value, when it is a scalar.
    pub detail: Option<String>,
    pub kind: SymbolKind,
    /// The key and its value.
    pub span: Span,
    /// The key alone.
    pub selection: Span,
    pub children: Vec<Symbol>,
}

/// A block that folds, by zero-based line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fold {
    pub start_line: usize,
    pub end_line: usize,
}

/// A `path:` value that opens its folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub span: Span,
    pub target: PathBuf,
    pub tooltip: String,
}

/// Text shown after a service key: what resolution decided that the file does not say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hint {
    pub offset: usize,
    pub label: String,
}

fn symbol_kind(depth: usize, parent: &str, node: &Node) -> SymbolKind {
    match (depth, parent) {
        (1, "services") => SymbolKind::Service,
        (1, "runtimes") => SymbolKind::Runtime,
        (1, "environments") => SymbolKind::Environment,
        _ => match node.value {
            Value::Map(_) => SymbolKind::Mapping,
            Value::Seq(_) => SymbolKind::List,
            Value::Int(_) | Value::Float(_) => SymbolKind::Number,
            Value::Bool(_) => SymbolKind::Boolean,
            _ => SymbolKind::Field,
        },
    }
}

pub fn symbols(snapshot: &Snapshot) -> Vec<Symbol> {
    fn walk(node: &Node, depth: usize, parent: &str) -> Vec<Symbol> {
        node.entries()
            .iter()
            .map(|e| {
                let name = e.key.key_text().into_owned();
                let children = if depth < 3 { walk(&e.value, depth + 1, &name) } else { Vec::new() };
                let detail = e.value.as_str().map(str::to_string).or_else(|| match e.value.value {
                    Value::Int(i) => Some(i.to_string()),
                    Value::Bool(b) => Some(b.to_string()),
                    _ => None,
                });
                Symbol {
                    kind: symbol_kind(depth, parent, &e.value),
                    name,
                    detail,
                    span: e.key.span.cover(e.value.span),
                    selection: e.key.span,
                    children,
                }
            })
            .collect()
    }
    snapshot.analysis.document.root().map(|r| walk(r, 0, "")).unwrap_or_default()
}

pub fn folding(snapshot: &Snapshot) -> Vec<Fold> {
    let doc = &snapshot.analysis.document;
    let mut out = Vec::new();
    fn walk(doc: &nanokit_core::document::Document, node: &Node, out: &mut Vec<Fold>) {
        for e in node.entries() {
            if matches!(e.value.value, Value::Map(_) | Value::Seq(_)) {
                let start_line = doc.lines.line_of(e.key.span.start);
                let end_line = doc.lines.line_of(e.value.span.end.saturating_sub(1));
                if end_line > start_line {
                    out.push(Fold { start_line, end_line });
                }
                walk(doc, &e.value, out);
            }
        }
    }
    if let Some(root) = doc.root() {
        walk(doc, root, &mut out);
    }
    out
}

pub fn links(snapshot: &Snapshot) -> Vec<Link> {
    let doc = &snapshot.analysis.document;
    let Some(base) = &snapshot.base_dir else { return Vec::new() };
    let mut out = Vec::new();
    let mut add = |pointer: String| {
        if let (Some(node), Some(loc)) = (doc.node(&pointer), doc.location(&pointer)) {
            if let Some(path) = node.as_str() {
                if let Ok(target) = base.join(path).canonicalize() {
                    out.push(Link { span: loc.value, target, tooltip: format!("Open {path}") });
                }
            }
        }
    };
    for name in snapshot.analysis.project.services.keys() {
        add(nanokit_core::document::pointer(&["services", name, "path"]));
    }
    for (env, e) in &snapshot.analysis.project.environments {
        for name in e.services.keys() {
            add(nanokit_core::document::pointer(&["environments", env, "services", name, "path"]));
        }
    }
    out
}

/// After each service key: what the file does not say but resolution decided
/// (an auto-discovered runtime, an inherited image, a default port).
pub fn inlay_hints(snapshot: &Snapshot, env: &str) -> Vec<Hint> {
    let doc = &snapshot.analysis.document;
    let Some(resolved) = crate::hover::pick_environment(snapshot, env) else { return Vec::new() };
    let mut out = Vec::new();
    for (name, service) in &resolved.services {
        let Some(loc) = doc.location(&nanokit_core::document::pointer(&["services", name])) else { continue };
        let Some(key) = loc.key else { continue };
        let mut parts = Vec::new();
        if let Some(r) = &service.runtime {
            if matches!(r.origin, Origin::AutoDiscovered { .. }) {
                parts.push(format!("{} (auto)", r.value));
            }
        }
        if let Some(image) = service.image.as_ref().filter(|i| i.origin != Origin::Service) {
            parts.push(image.value.clone());
        }
        if let Some(port) = service.expose.as_ref().filter(|p| p.origin != Origin::Service) {
            parts.push(format!(":{}", port.value));
        }
        if parts.is_empty() {
            continue;
        }
        // Place the hint after `name:` on the key's line.
        let colon = doc.text[key.end..].find(':').map_or(key.end, |i| key.end + i + 1);
        out.push(Hint { offset: colon, label: format!(" {}", parts.join(" · ")) });
    }
    out
}
