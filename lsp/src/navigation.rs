//! Go-to-definition, find references and rename of services and runtimes.

use crate::convert;
use crate::documents::Snapshot;
use nanokit_core::symbols::{self, Occurrence, Role, SymbolKind};
use std::collections::HashMap;
use tower_lsp_server::ls_types::{Location, Range, TextEdit, Uri, WorkspaceEdit};

fn range(snapshot: &Snapshot, span: nanokit_core::Span) -> Range {
    let doc = &snapshot.analysis.document;
    convert::range(&doc.lines, &doc.text, span)
}

pub fn definition(snapshot: &Snapshot, uri: &Uri, offset: usize) -> Option<Location> {
    let occ = symbols::at(&snapshot.occurrences, offset)?;
    let def = symbols::same_symbol(&snapshot.occurrences, occ).find(|o| o.role == Role::Definition)?;
    Some(Location::new(uri.clone(), range(snapshot, def.span)))
}

pub fn references(snapshot: &Snapshot, uri: &Uri, offset: usize, include_declaration: bool) -> Option<Vec<Location>> {
    let occ = symbols::at(&snapshot.occurrences, offset)?;
    Some(
        symbols::same_symbol(&snapshot.occurrences, occ)
            .filter(|o| include_declaration || o.role != Role::Definition)
            .map(|o| Location::new(uri.clone(), range(snapshot, o.span)))
            .collect(),
    )
}

/// The symbol that can be renamed at `offset`, or why it cannot.
pub fn prepare(snapshot: &Snapshot, offset: usize) -> Result<(Range, String), String> {
    let occ = symbols::at(&snapshot.occurrences, offset).ok_or("nothing to rename here: put the cursor on a service or runtime name")?;
    if occ.kind == SymbolKind::Runtime && !symbols::same_symbol(&snapshot.occurrences, occ).any(|o| o.role == Role::Definition) {
        return Err(format!("`{}` is a built-in runtime; declare it under `runtimes:` before renaming", occ.name));
    }
    let text = match occ.role {
        Role::UrlVariable => occ.name.clone(),
        _ => snapshot.text()[occ.span.start..occ.span.end].to_string(),
    };
    Ok((range(snapshot, occ.span), text))
}

pub fn rename(snapshot: &Snapshot, uri: &Uri, offset: usize, new_name: &str) -> Result<WorkspaceEdit, String> {
    prepare(snapshot, offset)?;
    let occ: &Occurrence = symbols::at(&snapshot.occurrences, offset).ok_or("nothing to rename here")?;
    match occ.kind {
        SymbolKind::Service => {
            if let Some(problem) = nanokit_core::names::dns_label_problem(new_name) {
                return Err(format!("`{new_name}` is not a valid service name: it {problem}"));
            }
        }
        SymbolKind::Runtime => {
            if new_name.is_empty() || new_name.contains(|c: char| c.is_whitespace() || c == ':' || c == '#') {
                return Err(format!("`{new_name}` is not a valid runtime id"));
            }
        }
    }
    let taken = symbols::occurrences(&snapshot.analysis.document)
        .iter()
        .any(|o| o.kind == occ.kind && o.role == Role::Definition && o.name == new_name);
    if taken && occ.name != new_name {
        return Err(format!("a {} named `{new_name}` already exists", if occ.kind == SymbolKind::Service { "service" } else { "runtime" }));
    }
    let edits: Vec<TextEdit> = symbols::same_symbol(&snapshot.occurrences, occ)
        .map(|o| TextEdit { range: range(snapshot, o.span), new_text: symbols::renamed_text(o, new_name) })
        .collect();
    Ok(WorkspaceEdit { changes: Some(HashMap::from([(uri.clone(), edits)])), ..WorkspaceEdit::default() })
}
