//! `nkdev validate`: every diagnostic of every file, rendered; exit 1 on errors.

use crate::args::{DiagnosticFormat, FileArgs};
use crate::load::{self, Loaded};
use crate::render;
use anyhow::Result;
use nanokit_core::Severity;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;

pub fn run(files: &[PathBuf], format: DiagnosticFormat, deny_warnings: bool, common: &FileArgs) -> Result<u8> {
    let paths: Vec<PathBuf> = if files.is_empty() { vec![load::locate(common.file.as_deref())?] } else { files.to_vec() };
    let color = render::use_color(common.color, std::io::stdout().is_terminal());
    let mut stdout = std::io::stdout().lock();
    let (mut errors, mut warnings) = (0, 0);
    let mut json = Vec::new();
    let mut unreadable = Vec::new();
    for path in &paths {
        if !path.exists() {
            return Err(load::UsageError(format!("{}: no such file", path.display())).into());
        }
        let loaded = match load::load(path, common.env.as_deref()) {
            Ok(l) => l,
            Err(e) => {
                // An unreadable file is an error in the file; keep checking the others.
                writeln!(std::io::stderr(), "{} {e:#}", render::error_prefix())?;
                unreadable.push(path.display().to_string());
                errors += 1;
                continue;
            }
        };
        let (e, w) = nanokit_core::analysis::summary(&loaded.analysis.diagnostics);
        errors += e;
        warnings += w;
        match format {
            DiagnosticFormat::Human => print_human(&loaded, color, &mut stdout)?,
            DiagnosticFormat::Short => {
                let name = loaded.path.display().to_string();
                let doc = &loaded.analysis.document;
                for d in &loaded.analysis.diagnostics {
                    writeln!(stdout, "{}", render::short(d, &name, &doc.text, &doc.lines))?;
                }
            }
            DiagnosticFormat::Json => {
                let name = loaded.path.display().to_string();
                let doc = &loaded.analysis.document;
                for d in &loaded.analysis.diagnostics {
                    json.push(serde_json::to_value(render::json(d, &name, &doc.text, &doc.lines))?);
                }
            }
        }
    }
    if format == DiagnosticFormat::Json {
        writeln!(stdout, "{}", serde_json::to_string_pretty(&json)?)?;
    } else if format == DiagnosticFormat::Human {
        let summary = render::counts(errors, warnings);
        let files = if paths.len() == 1 { paths[0].display().to_string() } else { format!("{} files", paths.len()) };
        if summary.is_empty() {
            writeln!(std::io::stderr(), "{files}: ok")?;
        } else {
            writeln!(std::io::stderr(), "{files}: {summary}")?;
        }
    }
    let failed = errors > 0 || (deny_warnings && warnings > 0);
    Ok(if failed { crate::exit::ERRORS } else { crate::exit::OK })
}

pub fn print_human(loaded: &Loaded, color: bool, out: &mut dyn Write) -> Result<()> {
    let name = loaded.path.display().to_string();
    let doc = &loaded.analysis.document;
    for d in &loaded.analysis.diagnostics {
        if d.severity == Severity::Hint {
            continue;
        }
        writeln!(out, "{}\n", render::human(d, &name, &doc.text, &doc.lines, color))?;
    }
    Ok(())
}
