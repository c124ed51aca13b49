//! The corpus: every seed snippet must validate without errors, and each broken file must
//! produce the diagnostic its name starts with (`nk031-cycle.yml` → NK031). The full list
//! of diagnostics of every file is snapshotted, so a change of wording or position shows up
//! in review.

use nanokit_core::variables::Variables;
use nanokit_core::{analyze, AnalyzeOptions, Severity};
use std::path::{Path, PathBuf};

fn corpus(kind: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus").join(kind);
    let mut files: Vec<PathBuf> =
        std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).filter(|p| p.extension().is_some_and(|e| e == "yml")).collect();
    files.sort();
    assert!(!files.is_empty(), "no corpus files in {}", dir.display());
    files
}

/// `line:col severity[CODE] message (help: …)` per diagnostic, 1-based.
fn describe(path: &Path) -> (String, Vec<String>, bool) {
    let text = std::fs::read_to_string(path).unwrap();
    // The files share one `apps/` folder beside valid/ and invalid/, outside their own folder:
    // opted in, except for the file that shows NK048.
    let nk048 = path.file_name().is_some_and(|n| n.to_string_lossy().starts_with("nk048"));
    // `${…}` reads the folder's .env and a fixed "process environment", never the real one.
    let variables = Variables::load_with(
        path.parent(),
        None,
        [("NK_CORPUS_PROCESS".to_string(), "from-process".to_string()), ("NK_CORPUS_EMPTY".to_string(), String::new())],
    );
    let options = AnalyzeOptions {
        base_dir: path.parent().map(Path::to_path_buf),
        allow_outside_paths: !nk048,
        variables: Some(variables),
        ..AnalyzeOptions::default()
    };
    let analysis = analyze(text, &options);
    let doc = &analysis.document;
    let mut lines = Vec::new();
    let mut codes = Vec::new();
    for d in &analysis.diagnostics {
        let p = doc.lines.line_col(&doc.text, d.span.start);
        let help = d.help.as_deref().map(|h| format!(" (help: {h})")).unwrap_or_default();
        lines.push(format!("{}:{} {}[{}] {}{}", p.line + 1, p.col + 1, d.severity.as_str(), d.code, d.message, help));
        codes.push(d.code.as_str().to_string());
    }
    let has_errors = analysis.diagnostics.iter().any(|d| d.severity == Severity::Error);
    (lines.join("\n"), codes, has_errors)
}

#[test]
fn valid_files_have_no_errors() {
    for path in corpus("valid") {
        let (text, _, has_errors) = describe(&path);
        assert!(!has_errors, "{} should be valid:\n{text}", path.display());
        let name = path.file_stem().unwrap().to_string_lossy().to_string();
        insta::assert_snapshot!(format!("valid-{name}"), text);
    }
}

#[test]
fn each_broken_file_reports_its_code() {
    for path in corpus("invalid") {
        let (text, codes, _) = describe(&path);
        let name = path.file_stem().unwrap().to_string_lossy().to_string();
        let expected = name.split('-').next().unwrap().to_uppercase();
        assert!(codes.contains(&expected), "{} should report {expected}, got:\n{text}", path.display());
        insta::assert_snapshot!(format!("invalid-{name}"), text);
    }
}
