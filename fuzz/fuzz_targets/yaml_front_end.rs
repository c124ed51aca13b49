//! Any text through the YAML front end: no panic, and every span it reports lies inside the
//! text on character boundaries (the renderers and the LSP slice the text with them).
#![no_main]

use libfuzzer_sys::fuzz_target;
use nanokit_core::document::Document;
use nanokit_core::yaml::{Node, Value};
use nanokit_core::Span;

fn check(text: &str, span: Span) {
    assert!(span.start <= span.end && span.end <= text.len(), "{span:?} outside {} bytes", text.len());
    assert!(text.is_char_boundary(span.start) && text.is_char_boundary(span.end), "{span:?} splits a character");
}

fn walk(text: &str, node: &Node) {
    check(text, node.span);
    match &node.value {
        Value::Seq(items) => items.iter().for_each(|n| walk(text, n)),
        Value::Map(entries) => entries.iter().for_each(|e| {
            walk(text, &e.key);
            walk(text, &e.value);
        }),
        _ => {}
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let doc = Document::parse(text);
    for p in &doc.yaml.problems {
        check(text, p.span);
    }
    if let Some(root) = doc.root() {
        walk(text, root);
    }
    for loc in doc.locations.values() {
        check(text, loc.value);
    }
});
