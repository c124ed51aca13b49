//! Code actions: the quick fixes core attaches to its diagnostics.

use crate::convert;
use crate::documents::Snapshot;
use std::collections::HashMap;
use tower_lsp_server::ls_types::{CodeAction, CodeActionKind, CodeActionOrCommand, Range, TextEdit, Uri, WorkspaceEdit};

pub fn quick_fixes(snapshot: &Snapshot, uri: &Uri, range: Range) -> Vec<CodeActionOrCommand> {
    let doc = &snapshot.analysis.document;
    let start = convert::offset(&doc.lines, &doc.text, range.start);
    let end = convert::offset(&doc.lines, &doc.text, range.end);
    let mut out = Vec::new();
    for d in &snapshot.analysis.diagnostics {
        if d.span.end < start || d.span.start > end {
            continue;
        }
        // The rule's document says whether its fixes may be applied without review; only a
        // safe one is preferred (the one an editor applies on "auto fix").
        let safe = d.code.fix_is_safe() == Some(true);
        for (i, fix) in d.fixes.iter().enumerate() {
            let edits: Vec<TextEdit> = fix
                .edits
                .iter()
                .map(|e| TextEdit { range: convert::range(&doc.lines, &doc.text, e.span), new_text: e.new_text.clone() })
                .collect();
            out.push(CodeActionOrCommand::CodeAction(CodeAction {
                title: if safe { fix.title.clone() } else { format!("{} (unsafe fix: review the result)", fix.title) },
                kind: Some(CodeActionKind::QUICKFIX),
                diagnostics: Some(vec![convert::diagnostic(d, uri, &doc.lines, &doc.text)]),
                edit: Some(WorkspaceEdit { changes: Some(HashMap::from([(uri.clone(), edits)])), ..WorkspaceEdit::default() }),
                is_preferred: Some(i == 0 && safe),
                ..CodeAction::default()
            }));
        }
    }
    out
}
