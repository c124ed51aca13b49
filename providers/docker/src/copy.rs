//! A service's `path` on a remote engine. Locally the folder is bind-mounted at `/app`; a
//! remote engine has no such folder (it is on the deploying machine), so its files are copied
//! into the container instead (a tar upload before the container starts, as the gateway's
//! config travels), and their digest joins the config hash, so that a changed file redeploys
//! the service. Never copied: `.git`, and `.env` files (secrets stay on the machine).

use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// Whether a file or folder of a service's `path` stays behind.
fn skipped(name: &str) -> bool {
    name == ".git" || name == ".env" || name.starts_with(".env.")
}

/// Every file under `root` (relative path, absolute path), sorted, symlinks kept as links.
fn files(root: &Path) -> std::io::Result<Vec<(PathBuf, PathBuf)>> {
    let mut out = Vec::new();
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        let mut entries: Vec<_> = std::fs::read_dir(root.join(&rel))?.collect::<Result<_, _>>()?;
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            let name = entry.file_name();
            if skipped(&name.to_string_lossy()) {
                continue;
            }
            let rel = rel.join(&name);
            // `file_type` does not follow a symlink: a link to a folder is copied as a link,
            // never walked (it may point anywhere on this machine).
            if entry.file_type()?.is_dir() {
                stack.push(rel.clone());
            }
            out.push((rel, entry.path()));
        }
    }
    out.sort();
    Ok(out)
}

/// A digest of the folder's names, kinds, modes and contents (what the container would see).
pub fn digest(root: &Path) -> std::io::Result<String> {
    use std::os::unix::fs::PermissionsExt;
    let mut hash = Sha256::new();
    for (rel, abs) in files(root)? {
        let meta = std::fs::symlink_metadata(&abs)?;
        hash.update(rel.to_string_lossy().as_bytes());
        hash.update([0]);
        hash.update(meta.permissions().mode().to_le_bytes());
        if meta.file_type().is_symlink() {
            hash.update(std::fs::read_link(&abs)?.to_string_lossy().as_bytes());
        } else if meta.is_file() {
            hash.update(std::fs::read(&abs)?);
        }
        hash.update([0]);
    }
    Ok(hash.finalize().iter().take(8).map(|b| format!("{b:02x}")).collect())
}

/// The config hash of a service whose folder is copied: its own, joined with the folder's.
pub fn config_hash_with_files(config_hash: &str, files_digest: &str) -> String {
    nanokit_core::resolve::fold_config_hash(config_hash, "files", files_digest)
}

/// A tar of the folder as `<target without leading />/…`, to upload at `/`.
pub fn archive(root: &Path, target: &str) -> std::io::Result<Vec<u8>> {
    let prefix = Path::new(target.trim_start_matches('/'));
    let mut builder = tar::Builder::new(Vec::new());
    builder.follow_symlinks(false);
    builder.append_dir(prefix, root)?;
    for (rel, abs) in files(root)? {
        builder.append_path_with_name(&abs, prefix.join(&rel))?;
    }
    builder.into_inner()
}

/// The `.env` files at the top of a bind-mounted folder, which the container must not see:
/// each is covered by an empty read-only file (`/dev/null`) at the same place. A link to a
/// file counts (the container would follow it); a name that is not UTF-8 cannot be named to
/// the engine and is left as it is.
pub fn dotenv_files(root: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(root) else { return Vec::new() };
    let mut names: Vec<String> = entries
        .filter_map(Result::ok)
        .filter(|e| std::fs::metadata(e.path()).is_ok_and(|m| m.is_file()))
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| n != ".git" && skipped(n))
        .collect();
    names.sort();
    names
}

/// A tar of secret files (`as: file`) under [`SECRET_FILE_DIR`], readable by any user of the
/// container (the service may not run as root), to upload at `/` before the container starts.
pub fn secret_files(secrets: &[(&str, &str)]) -> std::io::Result<Vec<u8>> {
    let dir = Path::new(nanokit_core::secrets::SECRET_FILE_DIR.trim_start_matches('/'));
    let mut builder = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(tar::EntryType::Directory);
    header.set_mode(0o755);
    header.set_size(0);
    builder.append_data(&mut header, dir, std::io::empty())?;
    for (name, value) in secrets {
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(tar::EntryType::Regular);
        header.set_mode(0o444);
        header.set_size(value.len() as u64);
        builder.append_data(&mut header, dir.join(name), value.as_bytes())?;
    }
    builder.into_inner()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_copy_leaves_git_and_env_files_behind_and_its_digest_follows_the_files() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("src/.git")).unwrap();
        std::fs::write(dir.path().join("src/main.sh"), "echo hi").unwrap();
        std::fs::write(dir.path().join(".env"), "TOKEN=secret").unwrap();
        std::fs::write(dir.path().join(".env.prod"), "TOKEN=secret").unwrap();
        std::os::unix::fs::symlink("/etc", dir.path().join("etc-link")).unwrap();
        let tar = archive(dir.path(), "/app").unwrap();
        let mut names: Vec<String> = tar::Archive::new(tar.as_slice())
            .entries()
            .unwrap()
            .map(|e| e.unwrap().path().unwrap().to_string_lossy().trim_end_matches('/').to_string())
            .collect();
        names.sort();
        assert_eq!(names, ["app", "app/etc-link", "app/src", "app/src/main.sh"]);
        let before = digest(dir.path()).unwrap();
        std::fs::write(dir.path().join(".env"), "TOKEN=other").unwrap();
        assert_eq!(digest(dir.path()).unwrap(), before, "an .env file is not part of what is deployed");
        std::fs::write(dir.path().join("src/main.sh"), "echo bye").unwrap();
        assert_ne!(digest(dir.path()).unwrap(), before);
        let h = config_hash_with_files("0123456789abcdef", &before);
        assert_eq!(h.len(), 16);
        assert_ne!(h, config_hash_with_files("0123456789abcdef", "other"));
    }
}
