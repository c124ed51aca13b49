//! `nkdev validate`: every diagnostic of every file, rendered; exit 1 on errors.

use crate::args::{DiagnosticFormat, FileArgs};
use crate::load::{self, Loaded};
use crate::render;
use anyhow::Result;
use nanokit_core::Severity;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;

pub struct Options {
    pub format: DiagnosticFormat,
    pub deny_warnings: bool,
    /// Apply the safe fixes first (`--fix`).
    pub fix: bool,
}

pub fn run(files: &[PathBuf], workspaces: &[PathBuf], options: Options, common: &FileArgs) -> Result<u8> {
    let Options { format, deny_warnings, fix } = options;
    let paths = paths_to_check(files, workspaces, common)?;
    let color = render::use_color(common.color, std::io::stdout().is_terminal());
    let mut stdout = std::io::stdout().lock();
    let (mut errors, mut warnings) = (0, 0);
    let mut json = Vec::new();
    let mut all = Vec::new();
    for path in &paths {
        let loaded = load::load(path, common.env.as_deref()).and_then(|l| if fix { fix_file(l, common) } else { Ok((l, true)) });
        match loaded {
            Ok((l, fixed)) => {
                // A fix that could not be written fails the run, even if what is left are warnings.
                if !fixed {
                    errors += 1;
                }
                all.push(l)
            }
            Err(e) => {
                // An unreadable file is an error in the file; keep checking the others.
                writeln!(std::io::stderr(), "{} {e:#}", render::error_prefix())?;
                errors += 1;
            }
        }
    }
    add_cross_file_findings(&mut all);
    for loaded in &all {
        let (e, w) = nanokit_core::analysis::summary(&loaded.analysis.diagnostics);
        errors += e;
        warnings += w;
        match format {
            DiagnosticFormat::Human => print_human(loaded, color, &mut stdout)?,
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

/// `--fix`: the safe fixes applied to the file, which is written atomically (a byte-order mark,
/// its mode and a link to it kept) and analysed again. A file cut at the size limit is never
/// written, nor one that changed on disk meanwhile; when writing fails, the file is reported
/// as it is.
///
/// Returns the file as it now is, and whether its fixes (if any) were written.
fn fix_file(loaded: Loaded, common: &FileArgs) -> Result<(Loaded, bool)> {
    if loaded.analysis.diagnostics.iter().any(|d| d.code == nanokit_core::Code::FileTooLarge) {
        return Ok((loaded, true));
    }
    let options = load::options(&loaded.path, common.env.as_deref());
    let original = loaded.analysis.document.text.clone();
    let (fixed, count) = nanokit_core::rules::fix_safely(&original, |text| nanokit_core::analyze(text, &options).diagnostics);
    if count == 0 {
        return Ok((loaded, true));
    }
    if let Err(e) = write_fixed(&loaded.path, &original, fixed) {
        writeln!(std::io::stderr(), "{} {e:#}", render::error_prefix())?;
        return Ok((loaded, false));
    }
    let plural = if count == 1 { "" } else { "es" };
    writeln!(std::io::stderr(), "{}: applied {count} safe fix{plural}", loaded.path.display())?;
    Ok((load::load(&loaded.path, common.env.as_deref())?, true))
}

fn write_fixed(path: &std::path::Path, original: &str, fixed: String) -> Result<()> {
    // One read for both questions: is it still what was fixed, and did it start with a BOM.
    let now = std::fs::read(path)?;
    let bom = now.starts_with(b"\xef\xbb\xbf");
    if now.get(if bom { 3 } else { 0 }..) != Some(original.as_bytes()) {
        anyhow::bail!("{} changed while it was being fixed; nothing written", path.display());
    }
    let bytes = if bom { format!("\u{feff}{fixed}") } else { fixed };
    // Through a link to the file it names, which stays a link.
    let target = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
    Ok(nanokit_core::files::write_atomically(&target, bytes.as_bytes())?)
}

/// The files named, then those found below each `--workspace` folder (each file once); with
/// neither, the project's own nanokit.yml.
fn paths_to_check(files: &[PathBuf], workspaces: &[PathBuf], common: &FileArgs) -> Result<Vec<PathBuf>> {
    for path in files {
        if !path.exists() {
            return Err(load::UsageError(format!("{}: no such file", path.display())).into());
        }
    }
    let mut paths = files.to_vec();
    for dir in workspaces {
        if !dir.is_dir() {
            return Err(load::UsageError(format!("--workspace {}: not a folder", dir.display())).into());
        }
        let found = nanokit_core::project_set::discover(std::slice::from_ref(dir));
        if found.is_empty() {
            return Err(load::UsageError(format!("--workspace {}: no nanokit.yml below it", dir.display())).into());
        }
        paths.extend(found);
    }
    if paths.is_empty() {
        paths.push(load::locate(common.file.as_deref())?);
    }
    let mut seen = std::collections::HashSet::new();
    paths.retain(|p| seen.insert(p.canonicalize().unwrap_or_else(|_| p.clone())));
    Ok(paths)
}

/// Findings across the files (two repositories of one project), added to each file's own.
fn add_cross_file_findings(all: &mut [Loaded]) {
    let members: Vec<nanokit_core::project_set::Member<'_>> =
        all.iter().map(|l| nanokit_core::project_set::Member { path: &l.path, analysis: &l.analysis }).collect();
    let found = nanokit_core::project_set::check(&members);
    for (loaded, found) in all.iter_mut().zip(found) {
        if !found.is_empty() {
            loaded.analysis.diagnostics.extend(found);
            nanokit_core::analysis::sort_and_dedup(&mut loaded.analysis.diagnostics);
        }
    }
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
