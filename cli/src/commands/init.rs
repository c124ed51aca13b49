//! `nkdev init`: propose a nanokit.yml from the folders auto-discovery recognises, ask on a
//! terminal, and write it only if the core finds no error in it.

use anyhow::{bail, Context, Result};
use nanokit_core::runtimes::{discover, Discovery};
use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};

/// A service found in a folder.
#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    pub name: String,
    pub path: String,
    pub runtime: &'static str,
    pub port: u16,
}

const SKIP: &[&str] = &["node_modules", "target", "vendor", "dist", "build", ".git", ".nanokit"];

/// Folders that auto-discovery recognises: the root, its children, and their children
/// (`apps/web`, `services/api`), nearest first.
pub fn scan(root: &Path) -> Vec<Found> {
    let mut found = Vec::new();
    let mut dirs: Vec<(PathBuf, usize)> = vec![(root.to_path_buf(), 0)];
    while let Some((dir, depth)) = dirs.pop() {
        if let Discovery::Found { runtime } = discover(&dir) {
            let rel = dir.strip_prefix(root).unwrap_or(&dir);
            let path = if rel.as_os_str().is_empty() { ".".to_string() } else { format!("./{}", rel.display()) };
            let base = if rel.as_os_str().is_empty() {
                root.canonicalize()
                    .ok()
                    .and_then(|p| p.file_name().map(|n| n.to_string_lossy().to_string()))
                    .unwrap_or_else(|| "app".into())
            } else {
                rel.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default()
            };
            found.push(Found { name: nanokit_core::names::to_dns_label(&base), path, runtime: runtime.id, port: runtime.port });
            // A recognised folder is one service: its own subfolders are its code.
            if depth > 0 {
                continue;
            }
        }
        if depth < 2 {
            let mut children: Vec<PathBuf> =
                std::fs::read_dir(&dir).into_iter().flatten().flatten().map(|e| e.path()).filter(|p| p.is_dir()).collect();
            children.retain(|p| {
                p.file_name().is_some_and(|n| !SKIP.contains(&n.to_string_lossy().as_ref()) && !n.to_string_lossy().starts_with('.'))
            });
            children.sort();
            children.reverse();
            dirs.extend(children.into_iter().map(|c| (c, depth + 1)));
        }
    }
    // The root only counts when nothing below it was found (a single-service repo).
    if found.len() > 1 {
        found.retain(|f| f.path != ".");
    }
    // Unique names and ports, in discovery order.
    let mut names = std::collections::HashSet::new();
    let mut ports = std::collections::HashSet::new();
    for f in &mut found {
        let mut name = f.name.clone();
        let mut i = 2;
        while !names.insert(name.clone()) {
            name = format!("{}-{i}", f.name);
            i += 1;
        }
        f.name = name;
        while !ports.insert(f.port) {
            f.port += 1;
        }
    }
    found
}

pub fn render(project: &str, services: &[Found]) -> String {
    let mut out = format!("name: {project}\nversion: \"1\"\n");
    if services.is_empty() {
        out.push_str("services: {}\n");
    } else {
        out.push_str("services:\n");
        for s in services {
            out.push_str(&format!(
                "  {}:\n    # runtime: {} (auto-discovered)\n    path: {}\n    expose: {}\n    host: {}.{project}.localhost\n",
                s.name, s.runtime, s.path, s.port, s.name
            ));
        }
    }
    out.push_str("environments:\n  local:\n    infra:\n      provider: docker\n");
    out
}

fn ask(question: &str, default: &str) -> Result<String> {
    print!("{question} [{default}]: ");
    std::io::stdout().flush()?;
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    let answer = line.trim();
    Ok(if answer.is_empty() { default.to_string() } else { answer.to_string() })
}

pub fn run(dir: &Path, yes: bool, force: bool, name: Option<&str>) -> Result<u8> {
    let target = dir.join("nanokit.yml");
    if (target.exists() || dir.join("nanokit.yaml").exists()) && !force {
        bail!("{} already has a nanokit file; pass --force to replace it", dir.display());
    }
    let interactive = !yes && std::io::stdin().is_terminal() && std::io::stdout().is_terminal();
    let folder = dir.canonicalize().with_context(|| format!("cannot read {}", dir.display()))?;
    let default_name =
        nanokit_core::names::to_dns_label(&folder.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_else(|| "project".into()));
    let mut project = name.map(str::to_string).unwrap_or(default_name);
    let mut services = scan(dir);
    if interactive {
        project = ask("project name", &project)?;
        let mut kept = Vec::new();
        for s in services {
            if ask(&format!("add service `{}` ({} in {}, port {})? y/n", s.name, s.runtime, s.path, s.port), "y")?.starts_with(['y', 'Y']) {
                kept.push(s);
            }
        }
        services = kept;
    }
    let text = render(&project, &services);
    let analysis =
        nanokit_core::analyze(text.clone(), &nanokit_core::AnalyzeOptions { base_dir: Some(dir.to_path_buf()), ..Default::default() });
    if let Some(d) = analysis.diagnostics.iter().find(|d| d.is_error()) {
        bail!("the proposed file would not be valid ({}: {}); nothing was written", d.code, d.message);
    }
    nanokit_core::files::write_atomically(&target, text.as_bytes())?;
    println!("wrote {} with {} service{}", target.display(), services.len(), if services.len() == 1 { "" } else { "s" });
    for s in &services {
        println!("  {} — {} in {}, port {}", s.name, s.runtime, s.path, s.port);
    }
    Ok(crate::exit::OK)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_services_in_app_folders_with_unique_ports() {
        let dir = tempfile::tempdir().unwrap();
        for (app, marker) in [
            ("apps/web", "package.json"),
            ("apps/admin", "package.json"),
            ("services/api", "requirements.txt"),
            ("apps/web/node_modules/x", "package.json"),
        ] {
            std::fs::create_dir_all(dir.path().join(app)).unwrap();
            std::fs::write(dir.path().join(app).join(marker), "{}").unwrap();
        }
        let found = scan(dir.path());
        let summary: Vec<(String, &str, u16)> = found.iter().map(|f| (f.path.clone(), f.runtime, f.port)).collect();
        assert_eq!(
            summary,
            vec![
                ("./apps/admin".to_string(), "node", 3000),
                ("./apps/web".into(), "node", 3001),
                ("./services/api".into(), "python", 8000)
            ]
        );
        let text = render("demo", &found);
        let analysis = nanokit_core::analyze(
            text.clone(),
            &nanokit_core::AnalyzeOptions { base_dir: Some(dir.path().to_path_buf()), ..Default::default() },
        );
        assert!(!analysis.has_errors(), "{text}\n{:?}", analysis.diagnostics);
    }
}
