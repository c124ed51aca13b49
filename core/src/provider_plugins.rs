//! Where provider plugins are found: an executable `nkdev-provider-<id>` in
//! `$NANOKIT_HOME/providers` (else `~/.nanokit/providers`), then on PATH. Here, without any
//! deploy code, so that the editor's NK052 and `nkdev up` agree on what is installed.

use std::path::{Path, PathBuf};

/// The prefix of a plugin's executable: `nkdev-provider-<id>`.
pub const PREFIX: &str = "nkdev-provider-";

/// The folders searched, in order.
pub fn dirs() -> Vec<PathBuf> {
    let non_empty = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from);
    let mut dirs: Vec<PathBuf> = non_empty("NANOKIT_HOME")
        .or_else(|| non_empty("HOME").map(|h| h.join(".nanokit")))
        .map(|h| h.join("providers"))
        .into_iter()
        .collect();
    if let Some(path) = std::env::var_os("PATH") {
        dirs.extend(std::env::split_paths(&path).filter(|p| !p.as_os_str().is_empty()));
    }
    dirs
}

/// The plugin for `id`, if one is installed.
pub fn find(id: &str) -> Option<PathBuf> {
    if !crate::names::is_provider_id(id) {
        return None;
    }
    dirs().into_iter().map(|d| d.join(format!("{PREFIX}{id}"))).find(|p| is_executable(p))
}

/// Every installed plugin: (id, executable), the first of each id in search order.
pub fn discover() -> Vec<(String, PathBuf)> {
    let mut found: Vec<(String, PathBuf)> = Vec::new();
    for dir in dirs() {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        let mut here: Vec<(String, PathBuf)> = entries
            .filter_map(Result::ok)
            .filter_map(|e| {
                let id = e.file_name().to_str()?.strip_prefix(PREFIX)?.to_string();
                (crate::names::is_provider_id(&id) && is_executable(&e.path())).then(|| (id, e.path()))
            })
            .collect();
        here.sort();
        for (id, path) in here {
            if !found.iter().any(|(f, _)| *f == id) {
                found.push((id, path));
            }
        }
    }
    found
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}
