//! Where services and runtimes are defined and referenced in one document: the index behind
//! go-to-definition, find references and rename.

use crate::document::Document;
use crate::names;
use crate::source::Span;
use crate::yaml::{Node, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SymbolKind {
    Service,
    Runtime,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// `services.<name>` / `runtimes.<id>`
    Definition,
    /// `depends_on` entries, `runtime:` values, override keys
    Reference,
    /// `NANOKIT_URL_<NAME>` inside an env value: renamed with the service, in its own spelling
    UrlVariable,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Occurrence {
    pub kind: SymbolKind,
    pub name: String,
    pub role: Role,
    /// The exact text to replace (no quotes).
    pub span: Span,
}

/// Every occurrence of every service and runtime name, in document order.
pub fn occurrences(doc: &Document) -> Vec<Occurrence> {
    let mut out = Vec::new();
    let Some(root) = doc.root() else { return out };
    let services: UrlNames = root
        .get("services")
        .map(|e| e.value.entries().iter().map(|s| s.key.key_text().into_owned()).map(|name| (names::url_variable(&name), name)).collect())
        .unwrap_or_default();
    for (section, kind) in [("services", SymbolKind::Service), ("runtimes", SymbolKind::Runtime)] {
        for entry in root.get(section).map(|e| e.value.entries()).unwrap_or_default() {
            out.push(occurrence(doc, kind, &entry.key, Role::Definition));
        }
    }
    for entry in root.get("runtimes").map(|e| e.value.entries()).unwrap_or_default() {
        depends_on(doc, &entry.value, &mut out);
        env_urls(doc, &entry.value, &services, &mut out);
    }
    for entry in root.get("services").map(|e| e.value.entries()).unwrap_or_default() {
        service_body(doc, &entry.value, &services, &mut out);
    }
    for env in root.get("environments").map(|e| e.value.entries()).unwrap_or_default() {
        for over in env.value.get("services").map(|e| e.value.entries()).unwrap_or_default() {
            out.push(occurrence(doc, SymbolKind::Service, &over.key, Role::Reference));
            service_body(doc, &over.value, &services, &mut out);
        }
    }
    out.sort_by_key(|o| o.span.start);
    out
}

fn service_body(doc: &Document, body: &Node, services: &UrlNames, out: &mut Vec<Occurrence>) {
    if let Some(runtime) = body.get("runtime") {
        if runtime.value.as_str().is_some() {
            out.push(occurrence(doc, SymbolKind::Runtime, &runtime.value, Role::Reference));
        }
    }
    depends_on(doc, body, out);
    env_urls(doc, body, services, out);
}

fn depends_on(doc: &Document, body: &Node, out: &mut Vec<Occurrence>) {
    if let Some(Value::Seq(items)) = body.get("depends_on").map(|e| &e.value.value) {
        for item in items.iter().filter(|i| i.as_str().is_some()) {
            out.push(occurrence(doc, SymbolKind::Service, item, Role::Reference));
        }
    }
}

/// `NANOKIT_URL_<S>` mentions inside env values: find the prefix, read the identifier, look
/// it up (linear in the text; trying every service name on every value was quadratic).
fn env_urls(doc: &Document, body: &Node, urls: &UrlNames, out: &mut Vec<Occurrence>) {
    const PREFIX: &str = crate::names::injected::URL_PREFIX;
    for var in body.get("env").map(|e| e.value.entries()).unwrap_or_default() {
        if var.value.as_str().is_none() {
            continue;
        }
        let base = var.value.span.start;
        let text = &doc.text[base..var.value.span.end.min(doc.text.len())];
        let mut from = 0;
        while let Some(i) = text[from..].find(PREFIX) {
            let start = from + i;
            let end = text[start..].find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).map_or(text.len(), |e| start + e);
            if let Some(service) = urls.get(&text[start..end]) {
                out.push(Occurrence {
                    kind: SymbolKind::Service,
                    name: service.clone(),
                    role: Role::UrlVariable,
                    span: Span::new(base + start, base + end),
                });
            }
            from = end.max(start + PREFIX.len());
        }
    }
}

type UrlNames = rustc_hash::FxHashMap<String, String>;

/// The span of the name itself, without the quotes of a quoted scalar.
fn occurrence(doc: &Document, kind: SymbolKind, node: &Node, role: Role) -> Occurrence {
    let name = node.key_text().into_owned();
    let raw = &doc.text[node.span.start..node.span.end.min(doc.text.len())];
    let span = match raw.find(&name) {
        Some(i) => Span::new(node.span.start + i, node.span.start + i + name.len()),
        None => node.span,
    };
    Occurrence { kind, name, role, span }
}

/// The occurrence under a byte offset, if any.
pub fn at(occurrences: &[Occurrence], offset: usize) -> Option<&Occurrence> {
    occurrences.iter().find(|o| o.span.contains(offset))
}

/// All occurrences of the same symbol.
pub fn same_symbol<'a>(occurrences: &'a [Occurrence], target: &Occurrence) -> impl Iterator<Item = &'a Occurrence> {
    let (kind, name) = (target.kind, target.name.clone());
    occurrences.iter().filter(move |o| o.kind == kind && o.name == name)
}

/// The text an occurrence takes after renaming its symbol to `new_name`.
pub fn renamed_text(occurrence: &Occurrence, new_name: &str) -> String {
    match occurrence.role {
        Role::UrlVariable => names::url_variable(new_name),
        _ => new_name.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "name: x\nruntimes:\n  node:\n    depends_on: [hub]\nservices:\n  hub:\n    image: h\n  api:\n    runtime: node\n    env:\n      HUB: \"http://${NANOKIT_URL_HUB}/x\"\n      OTHER: $NANOKIT_URL_HUBBY\n  web:\n    runtime: \"node\"\n    depends_on:\n      - api\n      - hub\nenvironments:\n  prod:\n    services:\n      hub:\n        expose: 9000\n";

    #[test]
    fn finds_definitions_references_and_url_variables() {
        let doc = Document::parse(TEXT);
        let occ = occurrences(&doc);
        let hub: Vec<_> = occ.iter().filter(|o| o.name == "hub" && o.kind == SymbolKind::Service).collect();
        let roles: Vec<Role> = hub.iter().map(|o| o.role).collect();
        assert_eq!(roles, vec![Role::Reference, Role::Definition, Role::UrlVariable, Role::Reference, Role::Reference]);
        for o in &hub {
            let text = &TEXT[o.span.start..o.span.end];
            assert!(text == "hub" || text == "NANOKIT_URL_HUB", "{text}");
        }
        let node: Vec<_> = occ.iter().filter(|o| o.kind == SymbolKind::Runtime).map(|o| &TEXT[o.span.start..o.span.end]).collect();
        assert_eq!(node, vec!["node", "node", "node"], "quoted `\"node\"` yields the bare name");
    }

    #[test]
    fn rename_rewrites_url_variables_in_their_spelling() {
        let doc = Document::parse(TEXT);
        let occ = occurrences(&doc);
        let target = at(&occ, TEXT.find("hub:\n    image").unwrap()).unwrap().clone();
        let mut text = TEXT.to_string();
        let mut edits: Vec<_> = same_symbol(&occ, &target).map(|o| (o.span, renamed_text(o, "core-hub"))).collect();
        edits.sort_by_key(|(s, _)| std::cmp::Reverse(s.start));
        for (span, new) in edits {
            text.replace_range(span.start..span.end, &new);
        }
        assert!(text.contains("depends_on: [core-hub]"));
        assert!(text.contains("${NANOKIT_URL_CORE_HUB}"));
        assert!(text.contains("$NANOKIT_URL_HUBBY"), "a longer variable is left alone");
        assert!(text.contains("      core-hub:\n        expose: 9000"));
        let after = crate::analyze(text, &Default::default());
        assert!(!after.has_errors(), "{:?}", after.diagnostics);
    }
}
