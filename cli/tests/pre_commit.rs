//! The real `pre-commit` (PyPI) runs this repository's hook on a sample repository with a good
//! and then a broken nanokit.yml. scripts/test-deps.sh installs pre-commit; without it this
//! test fails with that instruction.

use std::path::{Path, PathBuf};
use std::process::Command;

fn pre_commit() -> PathBuf {
    let tools = std::env::var_os("NANOKIT_TOOLS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var("HOME").unwrap()).join(".cache/nanokit-tools"));
    let path = tools.join("venv/bin/pre-commit");
    assert!(path.is_file(), "pre-commit is not installed at {}; run scripts/test-deps.sh", path.display());
    path
}

fn git(dir: &Path, args: &[&str]) {
    let ok = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.com")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.com")
        .status()
        .unwrap()
        .success();
    assert!(ok, "git {args:?}");
}

fn run_hook(sample: &Path) -> (bool, String) {
    let hooks_repo = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_nkdev")).parent().unwrap();
    let path = format!("{}:{}", bin_dir.display(), std::env::var("PATH").unwrap_or_default());
    let out = Command::new(pre_commit())
        .args(["try-repo"])
        .arg(hooks_repo)
        .args(["nkdev-validate", "--all-files"])
        .current_dir(sample)
        .env("PATH", path)
        .env("PRE_COMMIT_HOME", sample.join(".pre-commit-cache"))
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.com")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.com")
        .output()
        .unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr))
}

#[test]
fn the_hook_passes_a_good_file_and_stops_a_broken_one() {
    let dir = tempfile::tempdir().unwrap();
    let sample = dir.path();
    git(sample, &["init", "-q"]);
    std::fs::write(sample.join(".gitignore"), ".pre-commit-cache/\n").unwrap();
    std::fs::write(sample.join("nanokit.yml"), "name: sample\nservices:\n  web:\n    image: nginx\n").unwrap();
    git(sample, &["add", "."]);
    git(sample, &["commit", "-qm", "good"]);
    let (ok, out) = run_hook(sample);
    assert!(ok, "{out}");
    assert!(out.contains("nkdev validate") && out.contains("Passed"), "{out}");

    std::fs::write(sample.join("nanokit.yml"), "name: sample\nservices:\n  web:\n    image: nginx\n    depends_on: [db]\n").unwrap();
    git(sample, &["add", "."]);
    let (ok, out) = run_hook(sample);
    assert!(!ok, "{out}");
    assert!(out.contains("Failed") && out.contains("error[NK030]") && out.contains("nanokit.yml:5:18"), "{out}");
}
