//! Core byte spans ↔ LSP ranges (UTF-16), and core diagnostics → LSP diagnostics.

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
