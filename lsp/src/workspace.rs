//! Multi-root workspaces: the multi-repo setup puts several nanokit.yml of one project side by
//! side. The files the editor has not opened are read here; the checks across them are the
//! core's (`nanokit_core::project_set`), found by its `discover`.

use crate::documents::{snapshot, Snapshot};
use std::path::Path;
use std::sync::Arc;

/// A sibling file the editor has not opened; one beyond the core's size limit is skipped
/// rather than read whole (it gets its NK011 when opened).
pub fn load(path: &Path) -> Option<Arc<Snapshot>> {
    if std::fs::metadata(path).ok()?.len() > nanokit_core::yaml::MAX_SOURCE_BYTES as u64 {
        return None;
    }
    let text = std::fs::read_to_string(path).ok()?;
    Some(Arc::new(snapshot(text, 0, path.parent().map(Path::to_path_buf), None)))
}
