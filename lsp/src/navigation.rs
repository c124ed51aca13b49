//! Go-to-definition, find references and rename of services and runtimes.

use crate::documents::Snapshot;
use nanokit_core::diagnostic::Edit;
use nanokit_core::symbols::{self, Occurrence, Role, SymbolKind};
use nanokit_core::Span;

/// Where the symbol at `offset` is defined.
pub fn definition(snapshot: &Snapshot, offset: usize) -> Option<Span> {
    let occ = symbols::at(&snapshot.occurrences, offset)?;
    let def = symbols::same_symbol(&snapshot.occurrences, occ).find(|o| o.role == Role::Definition)?;
    Some(def.span)
}

pub fn references(snapshot: &Snapshot, offset: usize, include_declaration: bool) -> Option<Vec<Span>> {
    let occ = symbols::at(&snapshot.occurrences, offset)?;
    Some(
        symbols::same_symbol(&snapshot.occurrences, occ)
            .filter(|o| include_declaration || o.role != Role::Definition)
            .map(|o| o.span)
            .collect(),
    )
}

/// The symbol that can be renamed at `offset`, or why it cannot.
pub fn prepare(snapshot: &Snapshot, offset: usize) -> Result<(Span, String), String> {
    let occ = symbols::at(&snapshot.occurrences, offset).ok_or("nothing to rename here: put the cursor on a service or runtime name")?;
    if occ.kind == SymbolKind::Runtime && !symbols::same_symbol(&snapshot.occurrences, occ).any(|o| o.role == Role::Definition) {
        return Err(format!("`{}` is a built-in runtime; declare it under `runtimes:` before renaming", occ.name));
    }
    let text = match occ.role {
        Role::UrlVariable => occ.name.clone(),
        _ => snapshot.text()[occ.span.start..occ.span.end].to_string(),
    };
    Ok((occ.span, text))
}

/// The edits that rename the symbol at `offset` everywhere in the file.
pub fn rename(snapshot: &Snapshot, offset: usize, new_name: &str) -> Result<Vec<Edit>, String> {
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
    Ok(symbols::same_symbol(&snapshot.occurrences, occ)
        .map(|o| Edit { span: o.span, new_text: symbols::renamed_text(o, new_name) })
        .collect())
}
