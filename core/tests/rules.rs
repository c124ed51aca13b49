//! Every rule's document (core/rules/NKxxx.md) is complete and true: its example reports the
//! code, its fixed version reports no error and not the code, and it declares a fix safety
//! exactly when the rule's diagnostic carries an automatic fix.

use nanokit_core::project_set::{self, Member};
use nanokit_core::rules::Example;
use nanokit_core::variables::Variables;
use nanokit_core::{analyze, Analysis, AnalyzeOptions, Code, Diagnostic, Severity};
use std::path::{Path, PathBuf};

/// The example's files in a fresh folder; the project folder is one level down, so that
/// `../other/nanokit.yml` stays inside it. Returns the folder and every nanokit.yml, the
/// example's own first.
fn write(example: &Example) -> (tempfile::TempDir, Vec<PathBuf>) {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("repo");
    std::fs::create_dir_all(&root).unwrap();
    let main = root.join("nanokit.yml");
    let mut files = vec![main.clone()];
    for file in &example.files[1..] {
        let path = root.join(&file.path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &file.text).unwrap();
        if nanokit_core::FILE_NAMES.iter().any(|n| path.file_name().is_some_and(|f| f == *n)) {
            files.push(path);
        }
    }
    std::fs::write(&main, example.main_text()).unwrap();
    (tmp, files)
}

/// How `nkdev validate` analyses a file of the example: its folder, its own `.env` and no
/// process environment.
fn options(path: &Path, example: &Example) -> AnalyzeOptions {
    let dir = path.parent().unwrap();
    let env = example.env.as_deref();
    AnalyzeOptions {
        base_dir: Some(dir.to_path_buf()),
        env: env.map(str::to_string),
        variables: Some(Variables::load_with(Some(dir), env, [])),
        ..AnalyzeOptions::default()
    }
}

/// The diagnostics of the example's nanokit.yml when every nanokit.yml of the example is
/// checked together, as `nkdev validate a b` does.
fn run(example: &Example) -> Vec<Diagnostic> {
    let (_tmp, files) = write(example);
    let analyses: Vec<(PathBuf, Analysis)> =
        files.iter().map(|p| (p.clone(), analyze(std::fs::read_to_string(p).unwrap(), &options(p, example)))).collect();
    let members: Vec<Member<'_>> = analyses.iter().map(|(path, analysis)| Member { path, analysis }).collect();
    let cross = project_set::findings_for(&members, 0);
    let mut out = analyses.into_iter().next().unwrap().1.diagnostics;
    out.extend(cross);
    out
}

/// The example after `nkdev validate --fix`, and how many fixes it applied.
fn fixed_safely(example: &Example) -> (String, usize, Vec<Diagnostic>) {
    let (_tmp, files) = write(example);
    let options = options(&files[0], example);
    let (text, applied) = nanokit_core::rules::fix_safely(&example.main_text(), |t| analyze(t, &options).diagnostics);
    let after = analyze(text.as_str(), &options).diagnostics;
    (text, applied, after)
}

fn describe(diagnostics: &[Diagnostic]) -> String {
    diagnostics.iter().map(|d| format!("  {}[{}] {}", d.severity.as_str(), d.code, d.message)).collect::<Vec<_>>().join("\n")
}

#[test]
fn every_rule_is_documented_with_examples_that_hold() {
    let mut failures = Vec::new();
    for &code in Code::ALL {
        let doc = code.doc();
        if doc.why.is_empty() {
            failures.push(format!("{code}: no `## Why it matters` section"));
        }
        for (name, example) in [("Example", &doc.example), ("Fixed", &doc.fixed)] {
            if example.files.first().is_none_or(|f| f.path != "nanokit.yml") {
                failures.push(format!("{code}: `## {name}` has no nanokit.yml block"));
            }
        }
        if doc.example.files.is_empty() || doc.fixed.files.is_empty() {
            continue;
        }
        let reported = run(&doc.example);
        let own: Vec<&Diagnostic> = reported.iter().filter(|d| d.code == code).collect();
        if own.is_empty() {
            failures.push(format!("{code}: the example does not report it; it reports:\n{}", describe(&reported)));
        }
        let has_fix = own.iter().any(|d| !d.fixes.is_empty());
        match (&doc.fix_safety, has_fix) {
            (None, true) => failures.push(format!("{code}: the diagnostic carries a fix, the document has no `## Fix safety`")),
            (Some(_), false) if !own.is_empty() => {
                failures.push(format!("{code}: `## Fix safety` for a diagnostic that carries no fix in the example"))
            }
            _ => {}
        }
        // A safe fix applied to the example removes the problem and never adds an error.
        if doc.fix_safety.as_ref().is_some_and(|f| f.safe) {
            let before = reported.iter().filter(|d| d.is_error()).count();
            let (text, applied, after) = fixed_safely(&doc.example);
            if applied == 0 || after.iter().filter(|d| d.is_error()).count() > before {
                failures.push(format!("{code}: `validate --fix` applied {applied} fixes and left:\n{text}\n{}", describe(&after)));
            }
        }
        let fixed = run(&doc.fixed);
        if fixed.iter().any(|d| d.code == code || d.severity == Severity::Error) {
            failures.push(format!("{code}: the fixed version still reports:\n{}", describe(&fixed)));
        }
    }
    assert!(failures.is_empty(), "{} rule documents are wrong:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn documents_parse_into_their_sections() {
    let doc = Code::UnquotedVersion.doc();
    assert!(doc.why.contains("version"), "{doc:?}");
    assert_eq!(doc.example.files.len(), 1);
    assert!(doc.example.files[0].text.contains("version: 1"), "{:?}", doc.example);
    assert_eq!(doc.fix_safety.as_ref().map(|f| f.safe), Some(true));
    assert_eq!(Code::UnknownKey.fix_is_safe(), Some(false));
    assert_eq!(Code::DuplicateHost.fix_is_safe(), None);
    // A multi-repository example keeps each file's path; the main file is first.
    let multi = &Code::SharedAcrossRepos.doc().example;
    assert_eq!(multi.files.iter().map(|f| f.path.as_str()).collect::<Vec<_>>(), ["nanokit.yml", "../billing/nanokit.yml"]);
    // Attributes reach the example.
    assert_eq!(Code::UnknownEnvironment.doc().example.env.as_deref(), Some("staging"));
    let large = &Code::FileTooLarge.doc().example;
    assert!(large.main_text().len() >= large.pad_to_bytes.unwrap(), "padding stops short");
}

#[test]
fn links_point_at_the_rule_anchor() {
    assert!(nanokit_core::rules::href(Code::DuplicateHost).ends_with("/docs/rules.md#nk040"));
    let md = nanokit_core::rules::markdown();
    assert!(md.contains("<a id=\"nk040\"></a>"));
    assert!(md.contains("## NK040: Two services routed from the same `host`."));
}

#[test]
fn the_readme_shows_the_current_provider_table() {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md")).unwrap();
    let (start, end) = ("<!-- provider-support:start -->\n", "<!-- provider-support:end -->");
    let table = readme.split_once(start).and_then(|(_, rest)| rest.split_once(end)).map(|(t, _)| t).expect("README lacks the markers");
    let current = nanokit_core::provider_support::markdown_table();
    if table != current {
        if std::env::var_os("NANOKIT_UPDATE_DOCS").is_some() {
            let updated = readme.replacen(&format!("{start}{table}{end}"), &format!("{start}{current}{end}"), 1);
            std::fs::write(Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md"), updated).unwrap();
        } else {
            panic!("README.md's provider table is stale: run `NANOKIT_UPDATE_DOCS=1 cargo test -p nanokit-core --test rules`");
        }
    }
}
