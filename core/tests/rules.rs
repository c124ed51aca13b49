//! Every rule's document (core/rules/NKxxx.md) is complete and true: its example reports the
//! code, its fixed version reports no error and not the code, and it declares a fix safety
//! exactly when the rule's diagnostic carries an automatic fix.

use nanokit_core::project_set::{self, Member};
use nanokit_core::rules::Example;
use nanokit_core::variables::Variables;
use nanokit_core::{analyze, Analysis, AnalyzeOptions, Code, Diagnostic, Severity};
use std::path::{Path, PathBuf};

/// Writes the example's files into a fresh folder and analyses them as `nkdev validate` does
/// when given every nanokit.yml of the example: the diagnostics of the example's nanokit.yml.
fn run(example: &Example) -> Vec<Diagnostic> {
    let tmp = tempfile::tempdir().unwrap();
    // The project folder is one level down, so that `../other/nanokit.yml` stays inside `tmp`.
    let root = tmp.path().join("repo");
    std::fs::create_dir_all(&root).unwrap();
    let mut others: Vec<PathBuf> = Vec::new();
    for file in &example.files[1..] {
        let path = root.join(&file.path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &file.text).unwrap();
        if nanokit_core::FILE_NAMES.iter().any(|n| path.file_name().is_some_and(|f| f == *n)) {
            others.push(path);
        }
    }
    let main = root.join("nanokit.yml");
    std::fs::write(&main, example.main_text()).unwrap();
    let analyze_file = |path: &Path| -> Analysis {
        let dir = path.parent().unwrap();
        let env = example.env.as_deref();
        let options = AnalyzeOptions {
            base_dir: Some(dir.to_path_buf()),
            env: env.map(str::to_string),
            // No process environment: an example's variables come from its own `.env`.
            variables: Some(Variables::load_with(Some(dir), env, [])),
            ..AnalyzeOptions::default()
        };
        analyze(std::fs::read_to_string(path).unwrap(), &options)
    };
    let mut analyses = vec![(main.clone(), analyze_file(&main))];
    analyses.extend(others.iter().map(|p| (p.clone(), analyze_file(p))));
    let members: Vec<Member<'_>> = analyses.iter().map(|(path, analysis)| Member { path, analysis }).collect();
    let cross = project_set::check(&members).swap_remove(0);
    let mut out = analyses.swap_remove(0).1.diagnostics;
    out.extend(cross);
    out
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
    let multi = Code::SharedAcrossRepos.doc().example;
    assert_eq!(multi.files.iter().map(|f| f.path.as_str()).collect::<Vec<_>>(), ["nanokit.yml", "../billing/nanokit.yml"]);
    // Attributes reach the example.
    assert_eq!(Code::UnknownEnvironment.doc().example.env.as_deref(), Some("staging"));
    let large = Code::FileTooLarge.doc().example;
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
