//! Edit sequences as an editor sends them (UTF-16 positions, possibly past a line's end or
//! inside a surrogate pair) through the server's document store: the stored text always
//! equals the same edits applied to a plain string by the core's position mapping, and
//! completion, hover and navigation at any position never panic.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use nanokit_core::LineIndex;
use nanokit_lsp::documents::{snapshot, Store};
use nanokit_lsp::{completion, convert, hover, navigation};
use tower_lsp_server::ls_types::{Position, Range, TextDocumentContentChangeEvent, Uri};

const START: &str = "name: demo\nservices:\n  api:\n    image: x\n    expose: 3000\n    depends_on: [db]\n  db:\n    image: postgres\n    env:\n      GRÜSSE: \"😀\"\n";

#[derive(Arbitrary, Debug)]
struct Edit {
    start: (u8, u8),
    end: (u8, u8),
    text: String,
}

fuzz_target!(|edits: Vec<Edit>| {
    let uri: Uri = "file:///tmp/fuzz/nanokit.yml".parse().unwrap();
    let store = Store::default();
    store.open(uri.clone(), START, 1);
    let mut reference = START.to_string();
    for (i, edit) in edits.iter().take(32).enumerate() {
        let start = Position::new(edit.start.0 as u32 % 16, edit.start.1 as u32);
        let end = Position::new(edit.end.0 as u32 % 16, edit.end.1 as u32);
        let lines = LineIndex::new(&reference);
        let (a, b) = (convert::offset(&lines, &reference, start), convert::offset(&lines, &reference, end));
        reference.replace_range(a..b.max(a), &edit.text);
        let change = TextDocumentContentChangeEvent { range: Some(Range::new(start, end)), range_length: None, text: edit.text.clone() };
        let (text, _) = store.change(&uri, i as i32 + 2, vec![change]).unwrap();
        assert_eq!(text, reference, "after {:?}", &edits[..=i]);
    }
    let reference_snapshot = snapshot(reference.clone(), 99, None, None);
    let lines = LineIndex::new(&reference);
    for d in &reference_snapshot.analysis.diagnostics {
        convert::diagnostic(d, &uri, &lines, &reference);
    }
    for offset in (0..=reference.len()).step_by(7).filter(|o| reference.is_char_boundary(*o)) {
        completion::complete(&reference, offset, Some(&reference_snapshot));
        hover::hover(&reference_snapshot, offset, "local");
        navigation::definition(&reference_snapshot, offset);
        let _ = navigation::rename(&reference_snapshot, offset, "renamed");
    }
});
