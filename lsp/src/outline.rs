//! Document symbols, folding ranges, document links (`path:`) and inlay hints.

use crate::convert;
use crate::documents::Snapshot;
use nanokit_core::resolve::Origin;
use nanokit_core::yaml::{Node, Value};
use tower_lsp_server::ls_types::{DocumentLink, DocumentSymbol, FoldingRange, InlayHint, InlayHintKind, InlayHintLabel, SymbolKind, Uri};

fn symbol_kind(depth: usize, parent: &str, node: &Node) -> SymbolKind {
    match (depth, parent) {
        (1, "services") => SymbolKind::CLASS,
        (1, "runtimes") => SymbolKind::INTERFACE,
        (1, "environments") => SymbolKind::NAMESPACE,
        _ => match node.value {
            Value::Map(_) => SymbolKind::OBJECT,
            Value::Seq(_) => SymbolKind::ARRAY,
            Value::Int(_) | Value::Float(_) => SymbolKind::NUMBER,
            Value::Bool(_) => SymbolKind::BOOLEAN,
            _ => SymbolKind::FIELD,
        },
    }
}

#[allow(deprecated)] // DocumentSymbol::deprecated is a required field of the struct
pub fn symbols(snapshot: &Snapshot) -> Vec<DocumentSymbol> {
    let doc = &snapshot.analysis.document;
    fn walk(doc: &nanokit_core::document::Document, node: &Node, depth: usize, parent: &str) -> Vec<DocumentSymbol> {
        node.entries()
            .iter()
            .map(|e| {
                let name = e.key.key_text().into_owned();
                let children = if depth < 3 { walk(doc, &e.value, depth + 1, &name) } else { Vec::new() };
                let detail = e.value.as_str().map(str::to_string).or_else(|| match e.value.value {
                    Value::Int(i) => Some(i.to_string()),
                    Value::Bool(b) => Some(b.to_string()),
                    _ => None,
                });
                DocumentSymbol {
                    name,
                    detail,
                    kind: symbol_kind(depth, parent, &e.value),
                    tags: None,
                    deprecated: None,
                    range: convert::range(&doc.lines, &doc.text, e.key.span.cover(e.value.span)),
                    selection_range: convert::range(&doc.lines, &doc.text, e.key.span),
                    children: (!children.is_empty()).then_some(children),
                }
            })
            .collect()
    }
    doc.root().map(|r| walk(doc, r, 0, "")).unwrap_or_default()
}

pub fn folding(snapshot: &Snapshot) -> Vec<FoldingRange> {
    let doc = &snapshot.analysis.document;
    let mut out = Vec::new();
    fn walk(doc: &nanokit_core::document::Document, node: &Node, out: &mut Vec<FoldingRange>) {
        for e in node.entries() {
            if matches!(e.value.value, Value::Map(_) | Value::Seq(_)) {
                let start = doc.lines.line_of(e.key.span.start) as u32;
                let end = doc.lines.line_of(e.value.span.end.saturating_sub(1)) as u32;
                if end > start {
                    out.push(FoldingRange { start_line: start, end_line: end, ..FoldingRange::default() });
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

pub fn links(snapshot: &Snapshot) -> Vec<DocumentLink> {
    let doc = &snapshot.analysis.document;
    let Some(base) = &snapshot.base_dir else { return Vec::new() };
    let mut out = Vec::new();
    let mut add = |pointer: String| {
        if let (Some(node), Some(loc)) = (doc.node(&pointer), doc.location(&pointer)) {
            if let Some(path) = node.as_str() {
                let full = base.join(path);
                if let Some(target) = full.canonicalize().ok().and_then(Uri::from_file_path) {
                    out.push(DocumentLink {
                        range: convert::range(&doc.lines, &doc.text, loc.value),
                        target: Some(target),
                        tooltip: Some(format!("Open {path}")),
                        data: None,
                    });
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
pub fn inlay_hints(snapshot: &Snapshot, env: &str) -> Vec<InlayHint> {
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
        out.push(InlayHint {
            position: convert::position(&doc.lines, &doc.text, colon),
            label: InlayHintLabel::String(format!(" {}", parts.join(" · "))),
            kind: Some(InlayHintKind::TYPE),
            text_edits: None,
            tooltip: None,
            padding_left: Some(true),
            padding_right: None,
            data: None,
        });
    }
    out
}
