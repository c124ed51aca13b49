//! Rendering core diagnostics for a terminal (rustc style, via annotate-snippets), as one
//! line each, or as JSON. The text of each message is the core's; only the layout is ours.

use crate::args::ColorChoice;
use annotate_snippets::{Level, Renderer, Snippet};
use nanokit_core::{Diagnostic, LineIndex, Severity, Span};
use serde::Serialize;
use std::io::IsTerminal;

pub fn use_color(choice: ColorChoice, stream_is_tty: bool) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => stream_is_tty && std::env::var_os("NO_COLOR").is_none(),
    }
}

pub fn error_prefix() -> &'static str {
    if std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none() {
        "\x1b[1;31merror:\x1b[0m"
    } else {
        "error:"
    }
}

fn level(severity: Severity) -> Level {
    match severity {
        Severity::Error => Level::Error,
        Severity::Warning => Level::Warning,
        Severity::Info => Level::Info,
        Severity::Hint => Level::Help,
    }
}

/// rustc-style rendering of one diagnostic. Only the lines around the spans are handed to
/// the renderer, so rendering stays cheap on large files.
pub fn human(diagnostic: &Diagnostic, path: &str, text: &str, lines: &LineIndex, color: bool) -> String {
    let spans: Vec<Span> = std::iter::once(diagnostic.span).chain(diagnostic.related.iter().map(|r| r.span)).collect();
    let first_line = spans.iter().map(|s| lines.line_of(s.start)).min().unwrap_or(0);
    let last_line = spans.iter().map(|s| lines.line_of(s.end)).max().unwrap_or(0);
    let window_start = lines.line_start(first_line);
    let window_end = lines.line_end(text, last_line).max(window_start);
    let source = &text[window_start..window_end];
    let local = |s: Span| -> std::ops::Range<usize> {
        let start = s.start.clamp(window_start, window_end) - window_start;
        let end = s.end.clamp(window_start, window_end) - window_start;
        if end > start {
            start..end
        } else {
            // An empty span still gets a caret: widen it to the next character if any.
            let next = source[start..].chars().next().map_or(0, char::len_utf8);
            start..start + next
        }
    };
    let label = diagnostic.label.as_deref().unwrap_or_default();
    let mut snippet = Snippet::source(source)
        .line_start(first_line + 1)
        .origin(path)
        .fold(true)
        .annotation(level(diagnostic.severity).span(local(diagnostic.span)).label(label));
    for related in &diagnostic.related {
        snippet = snippet.annotation(Level::Info.span(local(related.span)).label(&related.message));
    }
    let code = diagnostic.code.as_str();
    let mut message = level(diagnostic.severity).title(&diagnostic.message).id(code).snippet(snippet);
    let help = diagnostic.help.as_deref();
    if let Some(help) = help {
        message = message.footer(Level::Help.title(help));
    }
    let renderer = if color { Renderer::styled() } else { Renderer::plain() };
    let rendered = renderer.render(message).to_string();
    rendered
}

/// `path:line:col: severity[CODE]: message` (1-based line and column).
pub fn short(diagnostic: &Diagnostic, path: &str, text: &str, lines: &LineIndex) -> String {
    let pos = lines.line_col(text, diagnostic.span.start);
    format!("{path}:{}:{}: {}[{}]: {}", pos.line + 1, pos.col + 1, diagnostic.severity.as_str(), diagnostic.code, diagnostic.message)
}

#[derive(Serialize)]
pub struct JsonPosition {
    pub line: usize,
    pub column: usize,
}

#[derive(Serialize)]
pub struct JsonRelated<'a> {
    pub start: JsonPosition,
    pub end: JsonPosition,
    pub message: &'a str,
}

#[derive(Serialize)]
pub struct JsonDiagnostic<'a> {
    pub file: &'a str,
    pub code: &'a str,
    pub severity: &'a str,
    pub message: &'a str,
    pub start: JsonPosition,
    pub end: JsonPosition,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub help: Option<&'a str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub related: Vec<JsonRelated<'a>>,
}

fn position(lines: &LineIndex, text: &str, offset: usize) -> JsonPosition {
    let p = lines.line_col(text, offset);
    JsonPosition { line: p.line + 1, column: p.col + 1 }
}

pub fn json<'a>(diagnostic: &'a Diagnostic, path: &'a str, text: &str, lines: &LineIndex) -> JsonDiagnostic<'a> {
    JsonDiagnostic {
        file: path,
        code: diagnostic.code.as_str(),
        severity: diagnostic.severity.as_str(),
        message: &diagnostic.message,
        start: position(lines, text, diagnostic.span.start),
        end: position(lines, text, diagnostic.span.end),
        label: diagnostic.label.as_deref(),
        help: diagnostic.help.as_deref(),
        related: diagnostic
            .related
            .iter()
            .map(|r| JsonRelated {
                start: position(lines, text, r.span.start),
                end: position(lines, text, r.span.end),
                message: &r.message,
            })
            .collect(),
    }
}

/// "2 errors, 1 warning" — or nothing to say.
pub fn counts(errors: usize, warnings: usize) -> String {
    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    match (errors, warnings) {
        (0, 0) => String::new(),
        (e, 0) => plural(e, "error"),
        (0, w) => plural(w, "warning"),
        (e, w) => format!("{}, {}", plural(e, "error"), plural(w, "warning")),
    }
}
