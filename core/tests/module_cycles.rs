//! No two modules of a crate depend on each other, directly or around a longer loop: each
//! module can be read, tested and moved knowing only the modules below it. Checked over the
//! `crate::…` paths of every crate in the workspace (comments excluded), which is how the
//! modules of this project refer to each other.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Top-level module → (module it uses → first `file:line` that does).
type Graph = BTreeMap<String, BTreeMap<String, String>>;

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The first segment of each path that follows `crate::`, including every item of a
/// `crate::{a, b::c}` group.
fn crate_paths(code: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = code;
    while let Some(i) = rest.find("crate::") {
        let preceded_by_ident = rest[..i].chars().next_back().is_some_and(|c| c.is_alphanumeric() || c == '_');
        rest = &rest[i + "crate::".len()..];
        if preceded_by_ident {
            continue; // `nanokit_core::…` and the like
        }
        if let Some(group) = rest.strip_prefix('{') {
            // Top-level items of the group: split on commas outside nested braces.
            let (mut depth, mut item) = (0usize, String::new());
            for c in group.chars() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        out.push(first_segment(&item));
                        item.clear();
                        continue;
                    }
                    _ => {}
                }
                item.push(c);
            }
            out.push(first_segment(&item));
        } else {
            out.push(first_segment(rest));
        }
    }
    out.retain(|s| !s.is_empty());
    out
}

fn first_segment(path: &str) -> String {
    path.trim_start().chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect()
}

fn graph(crate_dir: &Path) -> Graph {
    let src = crate_dir.join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    let mut graph = Graph::new();
    for file in files {
        let rel = file.strip_prefix(&src).unwrap();
        let top = rel.components().next().unwrap().as_os_str().to_string_lossy().trim_end_matches(".rs").to_string();
        if matches!(top.as_str(), "lib" | "main" | "bin") {
            continue; // the crate root declares the modules; it is above all of them
        }
        let text = std::fs::read_to_string(&file).unwrap();
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or_default();
            for used in crate_paths(code) {
                let is_module = src.join(format!("{used}.rs")).exists() || src.join(&used).join("mod.rs").exists();
                if used != top && is_module {
                    graph.entry(top.clone()).or_default().entry(used).or_insert_with(|| format!("{}:{}", rel.display(), n + 1));
                }
            }
        }
    }
    graph
}

/// A loop of modules, if there is one (depth-first search for a back edge).
fn find_cycle(graph: &Graph) -> Option<Vec<String>> {
    fn visit(node: &str, graph: &Graph, path: &mut Vec<String>, done: &mut BTreeSet<String>) -> Option<Vec<String>> {
        if let Some(start) = path.iter().position(|n| n == node) {
            let mut cycle = path[start..].to_vec();
            cycle.push(node.to_string());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_string());
        for next in graph.get(node).into_iter().flat_map(|m| m.keys()) {
            if let Some(cycle) = visit(next, graph, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        done.insert(node.to_string());
        None
    }
    let mut done = BTreeSet::new();
    graph.keys().find_map(|node| visit(node, graph, &mut Vec::new(), &mut done))
}

#[test]
fn no_crate_has_a_module_cycle() {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    for krate in ["core", "lsp", "deploy", "providers/docker", "providers/aws", "cli"] {
        let graph = graph(&workspace.join(krate));
        assert!(!graph.is_empty(), "{krate}: the scan found almost no modules; is the test reading the right folder?");
        if let Some(cycle) = find_cycle(&graph) {
            let steps: Vec<String> = cycle.windows(2).map(|w| format!("  {} uses {} ({})", w[0], w[1], graph[&w[0]][&w[1]])).collect();
            panic!("{krate}: modules in a cycle:\n{}", steps.join("\n"));
        }
    }
}

#[test]
fn the_scan_sees_grouped_and_plain_paths() {
    assert_eq!(crate_paths("use crate::{a::{B, C}, d, e::f};"), ["a", "d", "e"]);
    assert_eq!(crate_paths("let x = crate::plan::Step::new(); nanokit_core::crate_like::x"), ["plan"]);
    let mut g = Graph::new();
    g.entry("a".into()).or_default().insert("b".into(), "a.rs:1".into());
    g.entry("b".into()).or_default().insert("c".into(), "b.rs:1".into());
    assert_eq!(find_cycle(&g), None);
    g.entry("c".into()).or_default().insert("a".into(), "c.rs:1".into());
    assert_eq!(find_cycle(&g), Some(vec!["a".into(), "b".into(), "c".into(), "a".into()]));
}
