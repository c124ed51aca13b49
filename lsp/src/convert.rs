//! The one place where the server's own values become LSP values (rust-analyzer's
//! `to_proto`): byte spans ↔ UTF-16 ranges, core diagnostics, and what completion, hover,
//! navigation, outline and code actions compute. Those modules never name an LSP type, so
//! their logic is tested and reused without the protocol (`lsp/tests/layering.rs`).

use crate::actions::QuickFix;
use crate::completion::{CompletionKind, Completions};
use crate::documents::Snapshot;
use crate::outline::{Fold, Hint, Link, Symbol, SymbolKind};
use nanokit_core::diagnostic::Edit;
use nanokit_core::{Diagnostic, LineIndex, Severity, Span};
use tower_lsp_server::ls_types::{self as lsp, DiagnosticRelatedInformation, Location, NumberOrString, Position, Range, Uri};

pub fn position(lines: &LineIndex, text: &str, offset: usize) -> Position {
    let p = lines.line_col_utf16(text, offset);
    Position::new(p.line as u32, p.col as u32)
}

pub fn range(lines: &LineIndex, text: &str, span: Span) -> Range {
    Range::new(position(lines, text, span.start), position(lines, text, span.end))
}

pub fn offset(lines: &LineIndex, text: &str, pos: Position) -> usize {
    lines.offset_utf16(text, nanokit_core::source::LineCol { line: pos.line as usize, col: pos.character as usize })
}

pub fn severity(s: Severity) -> lsp::DiagnosticSeverity {
    match s {
        Severity::Error => lsp::DiagnosticSeverity::ERROR,
        Severity::Warning => lsp::DiagnosticSeverity::WARNING,
        Severity::Info => lsp::DiagnosticSeverity::INFORMATION,
        Severity::Hint => lsp::DiagnosticSeverity::HINT,
    }
}

pub fn diagnostic(d: &Diagnostic, uri: &Uri, lines: &LineIndex, text: &str) -> lsp::Diagnostic {
    let mut message = d.message.clone();
    if let Some(help) = &d.help {
        message.push_str("\nhelp: ");
        message.push_str(help);
    }
    let related: Vec<DiagnosticRelatedInformation> = d
        .related
        .iter()
        .map(|r| DiagnosticRelatedInformation {
            location: Location::new(uri.clone(), range(lines, text, r.span)),
            message: r.message.clone(),
        })
        .collect();
    lsp::Diagnostic {
        range: range(lines, text, d.span),
        severity: Some(severity(d.severity)),
        code: Some(NumberOrString::String(d.code.as_str().to_string())),
        code_description: nanokit_core::rules::href(d.code).parse().ok().map(|href| lsp::CodeDescription { href }),
        source: Some("nanokit".into()),
        message,
        related_information: (!related.is_empty()).then_some(related),
        tags: (d.code == nanokit_core::Code::IneffectiveOverride).then(|| vec![lsp::DiagnosticTag::UNNECESSARY]),
        ..lsp::Diagnostic::default()
    }
}

/// The completion module's items as LSP items, each replacing the typed prefix.
pub fn completion_items(completions: &Completions, lines: &LineIndex, text: &str) -> Vec<lsp::CompletionItem> {
    let replace = range(lines, text, completions.replace);
    completions
        .items
        .iter()
        .map(|c| lsp::CompletionItem {
            label: c.label.clone(),
            kind: Some(match c.kind {
                CompletionKind::Property => lsp::CompletionItemKind::PROPERTY,
                CompletionKind::Module => lsp::CompletionItemKind::MODULE,
                CompletionKind::Reference => lsp::CompletionItemKind::REFERENCE,
                CompletionKind::Variable => lsp::CompletionItemKind::VARIABLE,
                CompletionKind::Value => lsp::CompletionItemKind::VALUE,
                CompletionKind::EnumMember => lsp::CompletionItemKind::ENUM_MEMBER,
            }),
            detail: c.detail.clone(),
            documentation: c.documentation.as_deref().map(markdown),
            filter_text: c.filter.clone(),
            insert_text_format: c.insert.is_some().then_some(lsp::InsertTextFormat::PLAIN_TEXT),
            text_edit: Some(lsp::CompletionTextEdit::Edit(lsp::TextEdit {
                range: replace,
                new_text: c.insert.clone().unwrap_or_else(|| c.label.clone()),
            })),
            ..lsp::CompletionItem::default()
        })
        .collect()
}

pub fn markdown(text: &str) -> lsp::Documentation {
    lsp::Documentation::MarkupContent(lsp::MarkupContent { kind: lsp::MarkupKind::Markdown, value: text.to_string() })
}

/// A span of an analysed document as an LSP range.
pub fn snapshot_range(snapshot: &Snapshot, span: Span) -> Range {
    let doc = &snapshot.analysis.document;
    range(&doc.lines, &doc.text, span)
}

pub fn location(snapshot: &Snapshot, uri: &Uri, span: Span) -> Location {
    Location::new(uri.clone(), snapshot_range(snapshot, span))
}

/// Edits of one document as a workspace edit.
pub fn workspace_edit(snapshot: &Snapshot, uri: &Uri, edits: &[Edit]) -> lsp::WorkspaceEdit {
    let edits = edits.iter().map(|e| lsp::TextEdit { range: snapshot_range(snapshot, e.span), new_text: e.new_text.clone() }).collect();
    lsp::WorkspaceEdit { changes: Some(std::collections::HashMap::from([(uri.clone(), edits)])), ..lsp::WorkspaceEdit::default() }
}

#[allow(deprecated)] // DocumentSymbol::deprecated is a required field of the struct
pub fn document_symbol(snapshot: &Snapshot, s: &Symbol) -> lsp::DocumentSymbol {
    let children: Vec<lsp::DocumentSymbol> = s.children.iter().map(|c| document_symbol(snapshot, c)).collect();
    lsp::DocumentSymbol {
        name: s.name.clone(),
        detail: s.detail.clone(),
        kind: match s.kind {
            SymbolKind::Service => lsp::SymbolKind::CLASS,
            SymbolKind::Runtime => lsp::SymbolKind::INTERFACE,
            SymbolKind::Environment => lsp::SymbolKind::NAMESPACE,
            SymbolKind::Mapping => lsp::SymbolKind::OBJECT,
            SymbolKind::List => lsp::SymbolKind::ARRAY,
            SymbolKind::Number => lsp::SymbolKind::NUMBER,
            SymbolKind::Boolean => lsp::SymbolKind::BOOLEAN,
            SymbolKind::Field => lsp::SymbolKind::FIELD,
        },
        tags: None,
        deprecated: None,
        range: snapshot_range(snapshot, s.span),
        selection_range: snapshot_range(snapshot, s.selection),
        children: (!children.is_empty()).then_some(children),
    }
}

pub fn folding_range(f: Fold) -> lsp::FoldingRange {
    lsp::FoldingRange { start_line: f.start_line as u32, end_line: f.end_line as u32, ..lsp::FoldingRange::default() }
}

/// A link, when its target can be written as a URI.
pub fn document_link(snapshot: &Snapshot, l: &Link) -> Option<lsp::DocumentLink> {
    Some(lsp::DocumentLink {
        range: snapshot_range(snapshot, l.span),
        target: Some(Uri::from_file_path(&l.target)?),
        tooltip: Some(l.tooltip.clone()),
        data: None,
    })
}

pub fn inlay_hint(snapshot: &Snapshot, h: &Hint) -> lsp::InlayHint {
    let doc = &snapshot.analysis.document;
    lsp::InlayHint {
        position: position(&doc.lines, &doc.text, h.offset),
        label: lsp::InlayHintLabel::String(h.label.clone()),
        kind: Some(lsp::InlayHintKind::TYPE),
        text_edits: None,
        tooltip: None,
        padding_left: Some(true),
        padding_right: None,
        data: None,
    }
}

pub fn code_action(snapshot: &Snapshot, uri: &Uri, f: &QuickFix<'_>) -> lsp::CodeActionOrCommand {
    let doc = &snapshot.analysis.document;
    lsp::CodeActionOrCommand::CodeAction(lsp::CodeAction {
        title: f.title.clone(),
        kind: Some(lsp::CodeActionKind::QUICKFIX),
        diagnostics: Some(vec![diagnostic(f.diagnostic, uri, &doc.lines, &doc.text)]),
        edit: Some(workspace_edit(snapshot, uri, &f.edits)),
        is_preferred: Some(f.preferred),
        ..lsp::CodeAction::default()
    })
}

/// A live-status lens; an action lens carries `[{uri, service}]` for its command.
pub fn code_lens(snapshot: &Snapshot, uri: &Uri, l: &crate::live::Lens) -> lsp::CodeLens {
    let range = snapshot_range(snapshot, l.span);
    let arguments = l.service.as_ref().map(|s| vec![serde_json::json!({"uri": uri.as_str(), "service": s})]);
    let command = match l.action {
        Some(a) => lsp::Command { title: l.title.clone(), command: a.command().into(), arguments },
        // A status lens does nothing when clicked (an empty command, as rust-analyzer's
        // informational lenses), but still says which service it is about.
        None => lsp::Command { title: l.title.clone(), command: String::new(), arguments },
    };
    lsp::CodeLens { range: lsp::Range { start: range.start, end: range.start }, command: Some(command), data: None }
}

/// A code action that runs a lens's command for `service`.
pub fn service_command(uri: &Uri, service: &str, action: crate::live::Action) -> lsp::CodeActionOrCommand {
    let verb = match action {
        crate::live::Action::Deploy => "Deploy",
        crate::live::Action::Logs => "Show the logs of",
        crate::live::Action::Restart => "Restart",
    };
    lsp::CodeActionOrCommand::Command(lsp::Command {
        title: format!("{verb} {service}"),
        command: action.command().into(),
        arguments: Some(vec![serde_json::json!({"uri": uri.as_str(), "service": service})]),
    })
}

/// The `{uri, service}` a lens or code action command names.
pub fn command_target(arguments: &[serde_json::Value]) -> Option<(Uri, String)> {
    let first = arguments.first()?;
    let uri = first.get("uri")?.as_str()?.parse().ok()?;
    Some((uri, first.get("service")?.as_str()?.to_string()))
}

pub fn hover(snapshot: &Snapshot, markdown: String, span: Span) -> lsp::Hover {
    lsp::Hover {
        contents: lsp::HoverContents::Markup(lsp::MarkupContent { kind: lsp::MarkupKind::Markdown, value: markdown }),
        range: Some(snapshot_range(snapshot, span)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The positions cargo-fuzz found where the document store and the core's LineIndex
    /// disagreed (documents.rs tests the store's side).
    #[test]
    fn positions_past_the_end_inside_a_surrogate_or_with_a_lone_cr() {
        for text in ["name: demo\nx: 1\n", "a\r", "x: \"😀\"\n"] {
            let lines = LineIndex::new(text);
            assert_eq!(offset(&lines, text, Position::new(9, 0)), text.len(), "a line past the end is the end of {text:?}");
        }
        let text = "x: \"😀\"\n";
        assert_eq!(offset(&LineIndex::new(text), text, Position::new(0, 5)), 4);
        assert_eq!(offset(&LineIndex::new("a\r"), "a\r", Position::new(0, 9)), 2);
    }
}
