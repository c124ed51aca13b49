//! Random edit sequences through the real server: it never crashes, and the diagnostics it
//! publishes for the last version equal a fresh analysis of the final text.

mod client;

use client::Client;
use nanokit_core::{analyze, AnalyzeOptions, LineIndex};
use proptest::prelude::*;
use serde_json::{json, Value};

const URI: &str = "file:///tmp/nanokit-fuzz/nanokit.yml";
const START: &str = "name: demo\nservices:\n  api:\n    image: x\n    expose: 3000\n    depends_on: [db]\n  db:\n    image: postgres\n    env:\n      GRÜSSE: \"😀\"\n";
const INSERTS: &[&str] =
    &["", "a", "\n", "  ", ":", "- ", "é", "😀", "depends_on: [api]\n", "expose: 99999", "\t", "[", "}", "runtime: nope\n", "\r\n", "#"];

fn position(text: &str, char_index: usize) -> Value {
    let offset = text.char_indices().nth(char_index).map_or(text.len(), |(i, _)| i);
    let p = LineIndex::new(text).line_col_utf16(text, offset);
    json!({"line": p.line, "character": p.col})
}

fn byte(text: &str, char_index: usize) -> usize {
    text.char_indices().nth(char_index).map_or(text.len(), |(i, _)| i)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]
    #[test]
    fn edits_never_crash_and_end_in_fresh_diagnostics(edits in proptest::collection::vec((0usize..400, 0usize..6, proptest::sample::select(INSERTS)), 1..25)) {
        let mut c = Client::start();
        let mut text = START.to_string();
        c.open(URI, &text);
        let mut version = 1;
        for (at, delete, insert) in edits {
            let chars = text.chars().count();
            let start = at % (chars + 1);
            let end = (start + delete).min(chars);
            // CRLF must not be split: an edit inside "\r\n" would make the two sides disagree on lines
            let (sb, eb) = (byte(&text, start), byte(&text, end));
            if text[..sb].ends_with('\r') || text[..eb].ends_with('\r') {
                continue;
            }
            let range = json!({"start": position(&text, start), "end": position(&text, end)});
            text.replace_range(sb..eb, insert);
            version += 1;
            c.change(URI, version, json!([{"range": range, "text": insert}]));
        }
        let published = c.diagnostics(URI, version);
        let expected = analyze(text.clone(), &AnalyzeOptions {
                base_dir: Some("/tmp/nanokit-fuzz".into()),
                variables: Some(nanokit_core::variables::Variables::load(Some(std::path::Path::new("/tmp/nanokit-fuzz")), None)),
                ..AnalyzeOptions::default()
            });
        let doc = &expected.document;
        let want: Vec<(String, Value)> = expected.diagnostics.iter().map(|d| {
            let r = nanokit_lsp::convert::range(&doc.lines, &doc.text, d.span);
            (d.code.as_str().to_string(), serde_json::to_value(r).unwrap())
        }).collect();
        let got: Vec<(String, Value)> = published.iter().map(|d| (d["code"].as_str().unwrap().to_string(), d["range"].clone())).collect();
        prop_assert_eq!(got, want, "final text: {:?}", text);
        c.shutdown();
    }
}
