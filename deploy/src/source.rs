//! Which checkout a deploy runs from (`nk-source`): orphans are removed automatically only
//! when they were deployed from the same checkout.
//!
//! A checkout is named by its git remote and the folder of nanokit.yml inside the repository,
//! so every clone of one repository (a laptop, each CI runner) is the same source, and two
//! repositories that happen to share a project `name` are not. Without a git remote (a folder
//! that is not a clone), it is this machine and the absolute folder.

use nanokit_core::plan::Source;
use std::path::{Path, PathBuf};

/// The source of the project in `dir` (canonical) on the machine called `host`.
pub fn of(dir: &Path, host: &str) -> Source {
    match git_origin(dir) {
        Some((remote, inside)) => Source::named(&format!("{remote}#{}", inside.display())),
        None => Source::of(host, dir),
    }
}

/// The `origin` remote URL of the repository holding `dir`, and `dir` relative to its root.
fn git_origin(dir: &Path) -> Option<(String, PathBuf)> {
    let root = dir.ancestors().find(|d| d.join(".git").exists())?;
    let dot_git = root.join(".git");
    let git_dir = if dot_git.is_file() {
        // A worktree or submodule: `gitdir: <path>`; its config is in the common dir.
        let text = std::fs::read_to_string(&dot_git).ok()?;
        let gitdir = root.join(text.trim().strip_prefix("gitdir:")?.trim());
        match std::fs::read_to_string(gitdir.join("commondir")) {
            Ok(common) => gitdir.join(common.trim()),
            Err(_) => gitdir,
        }
    } else {
        dot_git
    };
    let config = std::fs::read_to_string(git_dir.join("config")).ok()?;
    let url = origin_url(&config)?;
    Some((url, dir.strip_prefix(root).ok()?.to_path_buf()))
}

/// `url` of `[remote "origin"]` in a git config file.
fn origin_url(config: &str) -> Option<String> {
    let mut in_origin = false;
    for line in config.lines().map(str::trim) {
        if line.starts_with('[') {
            in_origin = line.replace(' ', "") == "[remote\"origin\"]";
        } else if in_origin {
            if let Some((key, value)) = line.split_once('=') {
                if key.trim() == "url" {
                    return Some(value.trim().to_string());
                }
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clones_of_one_repository_are_one_source_and_other_folders_are_not() {
        let config = "[core]\n\tbare = false\n[remote \"upstream\"]\n\turl = git@x:up.git\n[remote \"origin\"]\n\turl = git@example.com:shop/auth.git\n\tfetch = +refs/heads/*\n";
        assert_eq!(origin_url(config).as_deref(), Some("git@example.com:shop/auth.git"));
        let clone = |root: &Path| {
            std::fs::create_dir_all(root.join(".git")).unwrap();
            std::fs::create_dir_all(root.join("deploy")).unwrap();
            std::fs::write(root.join(".git/config"), config).unwrap();
        };
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        clone(a.path());
        clone(b.path());
        let first = of(&a.path().join("deploy"), "laptop");
        assert_eq!(first, of(&b.path().join("deploy"), "ci-runner-7"), "two clones, two machines: one source");
        assert_eq!(first.describe, "git@example.com:shop/auth.git#deploy");
        assert_ne!(first, of(a.path(), "laptop"), "another folder of the repository is another source");
        let plain = tempfile::tempdir().unwrap();
        assert_eq!(of(plain.path(), "laptop").describe, format!("laptop:{}", plain.path().display()));
    }
}
