//! Multi-root workspaces: the multi-repo setup puts several nanokit.yml of one project side by
//! side. Checks across them: two repositories claiming one component, or one host.

use crate::documents::{analyse, Snapshot};
use nanokit_core::Span;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// nanokit.yml files under the workspace folders (bounded depth, skipping build output).
pub fn discover(folders: &[PathBuf]) -> Vec<PathBuf> {
    fn walk(dir: &Path, depth: usize, out: &mut Vec<PathBuf>) {
        if depth > 4 || out.len() > 200 {
            return;
        }
        let Ok(entries) = std::fs::read_dir(dir) else { return };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if path.is_dir() {
                if !matches!(name.as_ref(), "node_modules" | "target" | ".git" | ".nanokit" | "vendor") {
                    walk(&path, depth + 1, out);
                }
            } else if nanokit_core::FILE_NAMES.contains(&name.as_ref()) {
                out.push(path);
            }
        }
    }
    let mut out = Vec::new();
    for folder in folders {
        walk(folder, 0, &mut out);
    }
    out
}

/// A sibling file the editor has not opened; one beyond the core's size limit is skipped
/// rather than read whole (it gets its NK011 when opened).
pub fn load(path: &Path) -> Option<Arc<Snapshot>> {
    if std::fs::metadata(path).ok()?.len() > nanokit_core::yaml::MAX_SOURCE_BYTES as u64 {
        return None;
    }
    let text = std::fs::read_to_string(path).ok()?;
    Some(Arc::new(analyse(text, 0, path.parent().map(Path::to_path_buf), None)))
}

/// A finding about one file that involves another file.
#[derive(Debug, Clone, PartialEq)]
pub struct CrossFinding {
    pub span: Span,
    pub message: String,
}

/// For each file, findings against the other files of the same project.
pub fn cross_check(files: &[(PathBuf, Arc<Snapshot>)]) -> HashMap<PathBuf, Vec<CrossFinding>> {
    let mut out: HashMap<PathBuf, Vec<CrossFinding>> = HashMap::new();
    for (i, (path, snap)) in files.iter().enumerate() {
        let project = &snap.analysis.project;
        let Some(name) = &project.name else { continue };
        let component = project.component.clone().unwrap_or_else(|| name.clone());
        let doc = &snap.analysis.document;
        for (j, (other_path, other)) in files.iter().enumerate() {
            if i == j || other.analysis.project.name.as_ref() != Some(name) {
                continue;
            }
            let other_component = other.analysis.project.component.clone().unwrap_or_else(|| name.clone());
            let other_name = other_path.display();
            if other_component == component {
                let span = doc.location("/component").map_or_else(|| doc.span_of("/name"), |l| l.value);
                out.entry(path.clone()).or_default().push(CrossFinding {
                    span,
                    message: format!("component `{component}` of project `{name}` is also used by {other_name}; each repository needs its own component, or their deploys delete each other's containers"),
                });
            }
            for (service, s) in &project.services {
                let Some(host) = &s.host else { continue };
                if let Some((other_service, _)) = other.analysis.project.services.iter().find(|(_, o)| o.host.as_ref() == Some(host)) {
                    let span = doc.span_of(&nanokit_core::document::pointer(&["services", service, "host"]));
                    out.entry(path.clone())
                        .or_default()
                        .push(CrossFinding { span, message: format!("host `{host}` is also routed to `{other_service}` by {other_name}") });
                }
            }
        }
    }
    out
}
