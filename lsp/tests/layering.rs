//! Language-server types stay at the edge: the modules that compute completion, hover,
//! navigation, outline and code actions return the server's own values (spans, core types),
//! and only `convert.rs` turns them into LSP types, as rust-analyzer's `ide` and `to_proto`.
//! `lib.rs` (the protocol handlers) and `documents.rs` (applying the client's text edits) are
//! protocol code by nature.

const PROTOCOL_MODULES: &[&str] = &["convert.rs", "lib.rs", "documents.rs", "main.rs"];

#[test]
fn only_the_conversion_module_names_lsp_types() {
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut checked = 0;
    let mut offenders = Vec::new();
    for entry in std::fs::read_dir(&src).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if !name.ends_with(".rs") || PROTOCOL_MODULES.contains(&name.as_str()) {
            continue;
        }
        checked += 1;
        let text = std::fs::read_to_string(&path).unwrap();
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or_default();
            if code.contains("ls_types") || code.contains("tower_lsp_server") {
                offenders.push(format!("src/{name}:{}: {}", n + 1, line.trim()));
            }
        }
    }
    assert!(checked >= 6, "found only {checked} logic modules under {}", src.display());
    assert!(offenders.is_empty(), "LSP types outside convert.rs:\n{}", offenders.join("\n"));
}
