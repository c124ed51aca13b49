//! Writing the files nanokit owns (state, a generated or fixed nanokit.yml) so that a crash or a
//! full disk never leaves half a file behind.

use std::io::Result;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// Write to a temporary file beside `path`, fsync, then rename: readers never see half a
/// file. A file written over keeps its mode from the first byte (a 0600 nanokit.yml is never
/// briefly readable by others); the temporary name is created, never followed if something
/// is already there, and removed again when anything fails.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let tmp = dir.join(format!(".{}.tmp{}", path.file_name().and_then(|n| n.to_str()).unwrap_or("out"), std::process::id()));
    let mode = std::fs::metadata(path).map(|m| m.permissions().mode() & 0o7777).unwrap_or(0o644);
    let written = (|| -> Result<()> {
        let open = || std::fs::OpenOptions::new().write(true).create_new(true).mode(mode).open(&tmp);
        // A leftover of a crashed run with the same process id: removed (a link there is
        // removed, not followed), then created afresh.
        let mut file = match open() {
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                std::fs::remove_file(&tmp)?;
                open()
            }
            other => other,
        }
        .map_err(|e| named(e, &tmp))?;
        // `mode` is filtered by the umask on creation; set it exactly.
        file.set_permissions(std::fs::Permissions::from_mode(mode))?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path).map_err(|e| named(e, path))
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

/// The error, saying which file could not be written.
fn named(e: std::io::Error, path: &Path) -> std::io::Error {
    std::io::Error::new(e.kind(), format!("cannot write {}: {e}", path.display()))
}
