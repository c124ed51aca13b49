//! Built-in runtimes (SPEC §2): the lowest layer of resolution, and auto-discovery (seed 002).

use std::path::Path;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BuiltinRuntime {
    pub id: &'static str,
    pub image: &'static str,
    pub install: Option<&'static str>,
    /// `None` means "the image's own command" (static sites served by nginx).
    pub start: Option<&'static str>,
    pub port: u16,
    /// The file whose presence in a service directory selects this runtime.
    pub marker: &'static str,
}

/// The files `install` reads: the markers of the runtimes that install something, and their
/// lock files. `nkdev up --watch` runs `install` again when one of them changes (and only then).
pub const LOCK_FILES: &[&str] = &[
    "package-lock.json",
    "npm-shrinkwrap.json",
    "yarn.lock",
    "pnpm-lock.yaml",
    "bun.lockb",
    "go.sum",
    "composer.lock",
    "Gemfile.lock",
    "poetry.lock",
    "Pipfile.lock",
];

/// Whether a file called `name` is an input of `install` (see [`LOCK_FILES`]).
pub fn is_install_input(name: &str) -> bool {
    LOCK_FILES.contains(&name) || BUILTIN_RUNTIMES.iter().any(|r| r.install.is_some() && r.marker == name)
}

/// In auto-discovery order: the first marker found wins.
pub const BUILTIN_RUNTIMES: &[BuiltinRuntime] = &[
    BuiltinRuntime {
        id: "node",
        image: "node:22-slim",
        install: Some("npm install"),
        start: Some("npm start"),
        port: 3000,
        marker: "package.json",
    },
    BuiltinRuntime {
        id: "python",
        image: "python:3.12-slim",
        install: Some("pip install -r requirements.txt"),
        start: Some("python main.py"),
        port: 8000,
        marker: "requirements.txt",
    },
    BuiltinRuntime {
        id: "go",
        image: "golang:1.23",
        install: Some("go mod download"),
        start: Some("go run ."),
        port: 8080,
        marker: "go.mod",
    },
    BuiltinRuntime {
        id: "php",
        image: "php:8.3-cli",
        install: Some("composer install"),
        start: Some("php -S 0.0.0.0:$PORT"),
        port: 8000,
        marker: "composer.json",
    },
    BuiltinRuntime {
        id: "ruby",
        image: "ruby:3.3-slim",
        install: Some("bundle install"),
        start: Some("bundle exec ruby app.rb"),
        port: 4567,
        marker: "Gemfile",
    },
    BuiltinRuntime { id: "static", image: "nginx:alpine", install: None, start: None, port: 80, marker: "index.html" },
];

pub fn builtin(id: &str) -> Option<&'static BuiltinRuntime> {
    BUILTIN_RUNTIMES.iter().find(|r| r.id == id)
}

/// What auto-discovery found in a directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Discovery {
    Found { runtime: &'static BuiltinRuntime },
    NoMarker,
    MissingDirectory,
}

pub fn discover(dir: &Path) -> Discovery {
    if !dir.is_dir() {
        return Discovery::MissingDirectory;
    }
    BUILTIN_RUNTIMES.iter().find(|r| dir.join(r.marker).is_file()).map_or(Discovery::NoMarker, |runtime| Discovery::Found { runtime })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn discovery_follows_the_documented_order() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(discover(dir.path()), Discovery::NoMarker);
        std::fs::write(dir.path().join("index.html"), "").unwrap();
        assert!(matches!(discover(dir.path()), Discovery::Found { runtime } if runtime.id == "static"));
        std::fs::write(dir.path().join("go.mod"), "").unwrap();
        assert!(matches!(discover(dir.path()), Discovery::Found { runtime } if runtime.id == "go"));
        std::fs::write(dir.path().join("package.json"), "{}").unwrap();
        assert!(matches!(discover(dir.path()), Discovery::Found { runtime } if runtime.id == "node"));
        assert_eq!(discover(&dir.path().join("nope")), Discovery::MissingDirectory);
    }
}
