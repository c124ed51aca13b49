//! The cluster lock (SPEC §7): one deploy at a time per cluster, across repositories.
//!
//! The lock is a file created with `O_EXCL` in the cluster's directory under
//! `~/.nanokit/clusters/`, which every repository deploying to that cluster from this machine
//! shares (the owner and the `shared: true` repos alike). It records who holds it; a lock whose
//! process is gone is reported as stale, never silently taken over.

use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockInfo {
    pub pid: u32,
    pub host: String,
    pub user: String,
    pub component: String,
    pub command: String,
    /// Seconds since the Unix epoch.
    pub since: u64,
}

impl LockInfo {
    pub fn current(component: &str, command: &str) -> Self {
        LockInfo {
            pid: std::process::id(),
            host: hostname(),
            user: std::env::var("USER").or_else(|_| std::env::var("LOGNAME")).unwrap_or_else(|_| "unknown".into()),
            component: component.to_string(),
            command: command.to_string(),
            since: now(),
        }
    }

    /// Stands in for a lock whose content cannot be read (written by another tool, or truncated).
    pub fn unreadable() -> Self {
        LockInfo { pid: 0, host: "?".into(), user: "?".into(), component: "?".into(), command: "unreadable lock".into(), since: 0 }
    }

    /// A lock whose process is gone. Only decidable for locks taken on this host.
    pub fn is_stale(&self) -> bool {
        self.host == hostname() && !Path::new(&format!("/proc/{}", self.pid)).exists()
    }

    pub fn describe(&self) -> String {
        let age = now().saturating_sub(self.since);
        format!(
            "held by `{}` (component `{}`, pid {} on {}, user {}) since {} ({} ago)",
            self.command,
            self.component,
            self.pid,
            self.host,
            self.user,
            format_time(self.since),
            human_age(age)
        )
    }
}

#[derive(Debug)]
pub enum LockError {
    Held { info: Box<LockInfo>, path: PathBuf },
    Io(std::io::Error, PathBuf),
}

impl std::fmt::Display for LockError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LockError::Held { info, .. } if info.is_stale() => write!(
                f,
                "Shared modules are being initialized… but the lock is stale: it is {}, and that process is no longer running.\n  run `nkdev infra unlock --env <env>` to clear it",
                info.describe()
            ),
            LockError::Held { info, .. } => write!(f, "Shared modules are being initialized… another deploy of this cluster is running: the lock is {}", info.describe()),
            LockError::Io(e, path) => write!(f, "cannot take the cluster lock {}: {e}", path.display()),
        }
    }
}

impl std::error::Error for LockError {}

/// Held until dropped: released on success, on error and on Ctrl-C (the command returns).
#[derive(Debug)]
pub struct ClusterLock {
    path: PathBuf,
}

impl Drop for ClusterLock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

pub fn lock_path(cluster_dir: &Path) -> PathBuf {
    cluster_dir.join("lock")
}

pub fn acquire(cluster_dir: &Path, info: &LockInfo) -> Result<ClusterLock, LockError> {
    let path = lock_path(cluster_dir);
    std::fs::create_dir_all(cluster_dir).map_err(|e| LockError::Io(e, path.clone()))?;
    match std::fs::OpenOptions::new().write(true).create_new(true).open(&path) {
        Ok(mut file) => {
            let body = serde_json::to_vec_pretty(info).unwrap_or_default();
            file.write_all(&body).and_then(|_| file.sync_all()).map_err(|e| LockError::Io(e, path.clone()))?;
            Ok(ClusterLock { path })
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            let info = read(&path).unwrap_or_else(LockInfo::unreadable);
            Err(LockError::Held { info: Box::new(info), path })
        }
        Err(e) => Err(LockError::Io(e, path)),
    }
}

pub fn read(path: &Path) -> Option<LockInfo> {
    serde_json::from_slice(&std::fs::read(path).ok()?).ok()
}

/// `nkdev infra unlock`: remove the lock, returning who held it.
pub fn unlock(cluster_dir: &Path) -> std::io::Result<Option<LockInfo>> {
    let path = lock_path(cluster_dir);
    if !path.exists() {
        return Ok(None);
    }
    let info = read(&path);
    std::fs::remove_file(&path)?;
    Ok(Some(info.unwrap_or_else(LockInfo::unreadable)))
}

/// This machine's name (locks and the `nk-source` of a checkout name it).
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .or_else(|_| std::env::var("HOSTNAME"))
        .unwrap_or_else(|_| "localhost".into())
}

pub fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

fn human_age(secs: u64) -> String {
    match secs {
        0..=59 => format!("{secs}s"),
        60..=3599 => format!("{}m{}s", secs / 60, secs % 60),
        _ => format!("{}h{}m", secs / 3600, (secs % 3600) / 60),
    }
}

/// UTC `YYYY-MM-DD HH:MM:SS` without a date-time dependency (days-from-civil inverse).
pub fn format_time(epoch: u64) -> String {
    let days = epoch / 86_400;
    let rem = epoch % 86_400;
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC", rem / 3600, (rem % 3600) / 60, rem % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_acquire_is_refused_with_the_holder_and_drop_releases() {
        let dir = tempfile::tempdir().unwrap();
        let first = acquire(dir.path(), &LockInfo::current("auth", "nkdev up")).unwrap();
        let err = acquire(dir.path(), &LockInfo::current("billing", "nkdev up")).unwrap_err();
        let text = err.to_string();
        assert!(text.starts_with("Shared modules are being initialized…"), "{text}");
        assert!(text.contains("component `auth`"), "{text}");
        drop(first);
        acquire(dir.path(), &LockInfo::current("billing", "nkdev up")).unwrap();
    }

    #[test]
    fn a_dead_holder_is_reported_stale_and_unlock_clears_it() {
        let dir = tempfile::tempdir().unwrap();
        let mut info = LockInfo::current("auth", "nkdev up");
        info.pid = u32::MAX - 1; // no such process
        std::fs::write(lock_path(dir.path()), serde_json::to_vec(&info).unwrap()).unwrap();
        let text = acquire(dir.path(), &LockInfo::current("auth", "nkdev up")).unwrap_err().to_string();
        assert!(text.contains("stale") && text.contains("nkdev infra unlock"), "{text}");
        assert_eq!(unlock(dir.path()).unwrap().unwrap().pid, u32::MAX - 1);
        assert_eq!(unlock(dir.path()).unwrap(), None);
    }

    #[test]
    fn times_format_as_utc() {
        assert_eq!(format_time(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(format_time(1_795_511_962), "2026-11-24 09:19:22 UTC");
    }
}
