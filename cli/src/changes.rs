//! What a burst of file events means to `nkdev up --watch`: the project file changed (deploy
//! again), or files under services' `path`s changed (restart those services in place, and run
//! `install` again when one of its inputs changed). Events nanokit causes itself (its state in
//! `.nanokit/`), version control's own files, editors' scratch files and whatever the
//! project's `.gitignore` or the service's `.gitignore`/`.dockerignore` excludes are no change.

use ignore::gitignore::{Gitignore, GitignoreBuilder};
use nanokit_core::runtimes::is_install_input;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A service folder being watched (canonical path) and the ignore rules that apply in it.
pub struct Folder {
    pub service: String,
    pub root: PathBuf,
    rules: Vec<Gitignore>,
}

/// The project file and the services' folders, with their ignore rules.
pub struct Watched {
    /// The project file, canonical.
    pub file: PathBuf,
    pub project_dir: PathBuf,
    project_rules: Gitignore,
    pub folders: Vec<Folder>,
}

/// What one burst of events asks for.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Changes {
    pub file: bool,
    /// Which of the project's files changed (nanokit.yml, a .env beside it), for messages.
    pub project_files: Vec<PathBuf>,
    /// Per service: the changed files (relative to the project, for messages), and whether
    /// one is an input of `install`.
    pub services: BTreeMap<String, ServiceChange>,
}

#[derive(Debug, Default, PartialEq, Eq)]
pub struct ServiceChange {
    pub files: Vec<PathBuf>,
    pub reinstall: bool,
}

impl Changes {
    pub fn is_empty(&self) -> bool {
        !self.file && self.services.is_empty()
    }

    /// Add the changes of `earlier` (held back while the file could not be read).
    pub fn absorb(&mut self, earlier: Changes) {
        self.file |= earlier.file;
        for f in earlier.project_files {
            if !self.project_files.contains(&f) {
                self.project_files.push(f);
            }
        }
        for (service, change) in earlier.services {
            let mine = self.services.entry(service).or_default();
            for f in change.files {
                if !mine.files.contains(&f) {
                    mine.files.push(f);
                }
            }
            mine.reinstall |= change.reinstall;
        }
    }
}

/// The rules of `names` found in `dir`, rooted there (a missing file adds nothing; a broken
/// line is skipped, as git does).
fn rules(dir: &Path, names: &[&str]) -> Gitignore {
    let mut builder = GitignoreBuilder::new(dir);
    for name in names {
        let path = dir.join(name);
        if path.is_file() {
            let _ = builder.add(path);
        }
    }
    builder.build().unwrap_or_else(|_| Gitignore::empty())
}

/// Scratch files editors write beside the one being saved (vim's swap files and its `4913`
/// probe, Emacs locks and backups, JetBrains' safe-write copies).
fn editor_scratch(name: &str) -> bool {
    name == "4913"
        || name.ends_with('~')
        || name.starts_with(".#")
        || name.ends_with(".swp")
        || name.ends_with(".swx")
        || name.ends_with("___jb_tmp___")
        || name.ends_with("___jb_old___")
}

impl Watched {
    /// `services`: each service's name and folder (as the plan names it).
    pub fn new(file: &Path, services: &[(String, PathBuf)]) -> Watched {
        let file = std::fs::canonicalize(file).unwrap_or_else(|_| file.to_path_buf());
        let project_dir = file.parent().map(Path::to_path_buf).unwrap_or_default();
        let folders = services
            .iter()
            .filter_map(|(service, folder)| {
                let root = std::fs::canonicalize(folder).ok()?;
                let rules = vec![rules(&root, &[".gitignore", ".dockerignore"])];
                Some(Folder { service: service.clone(), root, rules })
            })
            .collect();
        Watched { project_rules: rules(&project_dir, &[".gitignore"]), file, project_dir, folders }
    }

    /// Whether a change to `path` is nobody's business: nanokit's own state, version
    /// control, editors' scratch files, ignored files.
    fn ignored(&self, path: &Path, rules: &[&Gitignore]) -> bool {
        let name = path.file_name().map(|n| n.to_string_lossy()).unwrap_or_default();
        if editor_scratch(&name) {
            return true;
        }
        let own = path.strip_prefix(&self.project_dir).unwrap_or(path);
        if own.components().any(|c| matches!(c.as_os_str().to_str(), Some(".nanokit" | ".git" | ".hg" | ".svn"))) {
            return true;
        }
        let is_dir = path.is_dir();
        rules.iter().any(|r| path.starts_with(r.path()) && r.matched_path_or_any_parents(path, is_dir).is_ignore())
    }

    /// The rules that apply in `folder`.
    fn rules_of<'a>(&'a self, folder: &'a Folder) -> Vec<&'a Gitignore> {
        let mut rules: Vec<&Gitignore> = folder.rules.iter().collect();
        rules.push(&self.project_rules);
        rules
    }

    /// Every folder to watch, one by one: each service folder and its subfolders, except
    /// ignored ones (a `node_modules` in `.dockerignore` costs no inotify watches and sends no
    /// events). Symbolic links are not followed.
    pub fn directories(&self) -> Vec<PathBuf> {
        let mut seen = std::collections::HashSet::new();
        let mut out = Vec::new();
        for folder in &self.folders {
            let rules = self.rules_of(folder);
            let mut stack = vec![folder.root.clone()];
            while let Some(dir) = stack.pop() {
                if !seen.insert(dir.clone()) {
                    continue;
                }
                if let Ok(entries) = std::fs::read_dir(&dir) {
                    for entry in entries.flatten() {
                        let path = entry.path();
                        if entry.file_type().is_ok_and(|t| t.is_dir()) && !self.ignored(&path, &rules) {
                            stack.push(path);
                        }
                    }
                }
                out.push(dir);
            }
        }
        out
    }

    /// The folders to start watching among `paths` (created since): under a service folder,
    /// not ignored, with their own subfolders.
    pub fn new_directories(&self, paths: &[PathBuf], watched: &std::collections::HashSet<PathBuf>) -> Vec<PathBuf> {
        let mut out = Vec::new();
        for path in paths.iter().filter(|p| !watched.contains(*p) && std::fs::symlink_metadata(p).is_ok_and(|m| m.is_dir())) {
            for folder in self.folders.iter().filter(|f| path.starts_with(&f.root)) {
                let rules = self.rules_of(folder);
                if self.ignored(path, &rules) {
                    continue;
                }
                let below = Watched {
                    folders: vec![Folder { service: folder.service.clone(), root: path.clone(), rules: folder.rules.clone() }],
                    ..self.shallow()
                };
                out.extend(below.directories().into_iter().filter(|d| !self.ignored(d, &rules)));
            }
        }
        out
    }

    /// The project's file and rules, without folders.
    fn shallow(&self) -> Watched {
        Watched {
            file: self.file.clone(),
            project_dir: self.project_dir.clone(),
            project_rules: self.project_rules.clone(),
            folders: Vec::new(),
        }
    }

    /// Whether `path` is an input of `install` at the root of one of `services`' folders: what
    /// an install that just ran rewrites itself (a lock file), not an edit.
    pub fn is_install_churn(&self, path: &Path, services: &[String]) -> bool {
        let name = path.file_name().map(|n| n.to_string_lossy()).unwrap_or_default();
        self.folders.iter().any(|f| services.contains(&f.service) && path.parent() == Some(f.root.as_path())) && is_install_input(&name)
    }

    /// What the events on `paths` ask for.
    pub fn classify(&self, paths: &[PathBuf]) -> Changes {
        let mut changes = Changes::default();
        for path in paths {
            // The file itself, or the .env files beside it (what `${VAR}` and `env:` secrets
            // read): either may change what is deployed.
            let name = path.file_name().map(|n| n.to_string_lossy()).unwrap_or_default();
            if *path == self.file
                || (path.parent() == Some(self.project_dir.as_path()) && name.starts_with(".env") && !editor_scratch(&name))
            {
                changes.file = true;
                if !changes.project_files.contains(path) {
                    changes.project_files.push(path.clone());
                }
                continue;
            }
            for folder in self.folders.iter().filter(|f| path.starts_with(&f.root)) {
                let mut rules: Vec<&Gitignore> = folder.rules.iter().collect();
                rules.push(&self.project_rules);
                if self.ignored(path, &rules) {
                    continue;
                }
                let change = changes.services.entry(folder.service.clone()).or_default();
                let shown = path.strip_prefix(&self.project_dir).unwrap_or(path).to_path_buf();
                if !change.files.contains(&shown) {
                    change.files.push(shown);
                }
                let name = path.file_name().map(|n| n.to_string_lossy()).unwrap_or_default();
                change.reinstall |= path.parent() == Some(folder.root.as_path()) && is_install_input(&name);
            }
        }
        changes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn project() -> (tempfile::TempDir, Watched) {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        for d in ["apps/api/src", "apps/api/node_modules/x", "apps/web", ".nanokit", "apps/api/.git"] {
            std::fs::create_dir_all(root.join(d)).unwrap();
        }
        std::fs::write(root.join("nanokit.yml"), "name: x\n").unwrap();
        std::fs::write(root.join(".gitignore"), "*.log\n").unwrap();
        std::fs::write(root.join("apps/api/.dockerignore"), "node_modules\n").unwrap();
        std::fs::write(root.join("apps/api/.gitignore"), "dist/\n").unwrap();
        let services = [("api".to_string(), root.join("apps/api")), ("web".to_string(), root.join("apps/web"))];
        let watched = Watched::new(&root.join("nanokit.yml"), &services);
        (dir, watched)
    }

    #[test]
    fn a_source_file_restarts_its_service_and_an_install_input_reinstalls_it() {
        let (_dir, w) = project();
        let p = |rel: &str| w.project_dir.join(rel);
        let changes = w.classify(&[p("apps/api/src/main.js"), p("apps/api/src/main.js"), p("apps/web/index.html")]);
        assert!(!changes.file);
        assert_eq!(changes.services["api"], ServiceChange { files: vec![PathBuf::from("apps/api/src/main.js")], reinstall: false });
        assert!(!changes.services["web"].reinstall);
        assert!(w.classify(&[p("apps/api/package.json")]).services["api"].reinstall);
        assert!(w.classify(&[p("apps/api/package-lock.json")]).services["api"].reinstall);
        // only the service folder's own manifest is an install input
        assert!(!w.classify(&[p("apps/api/src/package.json")]).services["api"].reinstall);
        assert!(w.classify(&[p("nanokit.yml")]).file);
        assert!(w.classify(&[p(".env")]).file && w.classify(&[p(".env.local")]).file);
        assert!(!w.classify(&[p(".env.swp")]).file);
    }

    #[test]
    fn ignored_folders_are_not_watched() {
        let (_dir, w) = project();
        let p = |rel: &str| w.project_dir.join(rel);
        let dirs = w.directories();
        for watched in ["apps/api", "apps/api/src", "apps/web"] {
            assert!(dirs.contains(&p(watched)), "{watched}: {dirs:?}");
        }
        for quiet in ["apps/api/node_modules", "apps/api/node_modules/x", "apps/api/.git"] {
            assert!(!dirs.contains(&p(quiet)), "{quiet}: {dirs:?}");
        }
        std::fs::create_dir_all(p("apps/api/lib/deep")).unwrap();
        std::fs::create_dir_all(p("apps/api/dist/x")).unwrap();
        let known: std::collections::HashSet<PathBuf> = dirs.into_iter().collect();
        let new = w.new_directories(&[p("apps/api/lib"), p("apps/api/dist"), p("apps/api/src")], &known);
        assert_eq!(new.len(), 2, "{new:?}");
        assert!(new.contains(&p("apps/api/lib")) && new.contains(&p("apps/api/lib/deep")), "{new:?}");
    }

    #[test]
    fn ignored_files_and_nanokits_own_writes_are_no_change() {
        let (_dir, w) = project();
        let p = |rel: &str| w.project_dir.join(rel);
        for quiet in [
            "apps/api/node_modules/x/index.js", // .dockerignore of the service
            "apps/api/dist/bundle.js",          // .gitignore of the service
            "apps/api/server.log",              // .gitignore of the project
            "apps/api/.git/index",
            ".nanokit/state.json",
            "apps/api/.main.js.swp",
            "apps/api/4913",
            "apps/api/main.js~",
            "README.md", // in no service's folder
        ] {
            assert!(w.classify(&[p(quiet)]).is_empty(), "{quiet}");
        }
    }
}
