//! Any text through the whole analysis (schema, resolution, graph, semantic rules): no panic,
//! the same diagnostics twice (no hidden state), and every diagnostic and related location
//! inside the text on character boundaries.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nanokit_core::{analyze, AnalyzeOptions, Span};

fn check(text: &str, span: Span) {
    assert!(span.start <= span.end && span.end <= text.len(), "{span:?} outside {} bytes", text.len());
    assert!(text.is_char_boundary(span.start) && text.is_char_boundary(span.end), "{span:?} splits a character");
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let options = AnalyzeOptions::default();
    let first = analyze(text, &options);
    for d in &first.diagnostics {
        check(text, d.span);
        for r in &d.related {
            check(text, r.span);
        }
    }
    let again = analyze(text, &options);
    assert_eq!(first.diagnostics, again.diagnostics);
});
