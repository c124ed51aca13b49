//! The cluster lock (SPEC §7): one deploy at a time per cluster, across repositories.
//!
//! Where the lock lives depends on the provider: on Docker a never-started container on the
//! engine itself (`crate::docker::lock`), on AWS an SSM parameter (`crate::aws::lock`), so
//! every machine deploying to one cluster sees it. This module has what they share (who
//! holds a lock, the messages, when `infra unlock` may clear one) and a lock file created
//! with `O_EXCL`, for a lock that only this machine needs to see.
//!
//! Each acquisition writes a random token; a holder releases the lock only while it still
//! holds its own token, so after a forced unlock the first holder never removes the next
//! holder's lock. A lock whose process is gone is reported as stale, never silently taken over.

use serde::{Deserialize, Serialize};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct LockInfo {
    pub pid: u32,
    pub host: String,
    pub user: String,
    pub component: String,
    pub command: String,
    /// Seconds since the Unix epoch.
    pub since: u64,
    /// Unique to one acquisition: release removes the lock only while it is still this one.
    #[serde(default)]
    pub token: String,
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
            token: new_token(),
        }
    }

    /// Stands in for a lock whose content cannot be read (written by another tool, or truncated).
    pub fn unreadable() -> Self {
        LockInfo {
            pid: 0,
            host: "?".into(),
            user: "?".into(),
            component: "?".into(),
            command: "unreadable lock".into(),
            since: 0,
            token: String::new(),
        }
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

/// A fresh acquisition token: pid, time and 16 random bytes, so no two acquisitions share one.
pub fn new_token() -> String {
    let mut random = [0u8; 16];
    let read = std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut random));
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    let mut token = format!("{:x}-{nanos:x}", std::process::id());
    // Without /dev/urandom, pid and time in nanoseconds still tell two acquisitions apart.
    if read.is_ok() {
        token.push('-');
        token.extend(random.iter().map(|b| format!("{b:02x}")));
    }
    token
}

/// The error for a lock another deploy holds; `place` says where the lock is.
pub fn held_message(info: &LockInfo, place: &str) -> String {
    if info.is_stale() {
        format!(
            "Shared modules are being initialized… but the lock ({place}) is stale: it is {}, and that process is no longer running.\n  run `nkdev infra unlock --env <env>` to clear it",
            info.describe()
        )
    } else {
        format!(
            "Shared modules are being initialized… another deploy of this cluster is running: the lock ({place}) is {}",
            info.describe()
        )
    }
}

/// Whether `nkdev infra unlock` may clear this lock: without `--force`, only when its holder
/// is known to be gone (a dead process on this host).
pub fn check_unlock(info: &LockInfo, force: bool, place: &str) -> anyhow::Result<()> {
    if force || info.is_stale() {
        return Ok(());
    }
    let why = if info.host == "?" {
        "its content cannot be read, so nkdev cannot tell whether its holder is still running".to_string()
    } else if info.host == hostname() {
        format!("that process (pid {}) is still running on this host", info.pid)
    } else {
        format!("it was taken on {}, another machine, where nkdev cannot tell whether that deploy is still running", info.host)
    };
    anyhow::bail!(
        "not clearing the cluster lock ({place}): it is {}, and {why}.\n  wait for that deploy to finish, or, if it is gone (its machine or container was stopped), run `nkdev infra unlock --force` to remove the lock anyway; a deploy still running would then go on without it and could overlap the next one",
        info.describe()
    )
}

#[derive(Debug)]
pub enum LockError {
    Held { info: Box<LockInfo>, path: PathBuf },
    Io(std::io::Error, PathBuf),
}

impl std::fmt::Display for LockError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LockError::Held { info, path } => write!(f, "{}", held_message(info, &format!("file {}", path.display()))),
            LockError::Io(e, path) => write!(f, "cannot take the cluster lock {}: {e}", path.display()),
        }
    }
}

impl std::error::Error for LockError {}

/// Held until dropped; dropping removes the lock file only while it still holds our token.
#[derive(Debug)]
pub struct ClusterLock {
    path: PathBuf,
    token: String,
}

impl Drop for ClusterLock {
    fn drop(&mut self) {
        // Read, compare, remove: after a forced unlock the file may be another deploy's lock.
        match read(&self.path) {
            Some(info) if info.token == self.token => {
                let _ = std::fs::remove_file(&self.path);
            }
            None if !self.path.exists() => {}
            _ => eprintln!(
                "warning: the cluster lock {} is no longer ours (cleared by `nkdev infra unlock --force`?); left it in place",
                self.path.display()
            ),
        }
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
            Ok(ClusterLock { path, token: info.token.clone() })
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

/// `nkdev infra unlock`: remove the lock, returning who held it; without `force` only when
/// its holder is gone (`check_unlock`).
pub fn unlock(cluster_dir: &Path, force: bool) -> anyhow::Result<Option<LockInfo>> {
    let path = lock_path(cluster_dir);
    if !path.exists() {
        return Ok(None);
    }
    let info = read(&path).unwrap_or_else(LockInfo::unreadable);
    check_unlock(&info, force, &format!("file {}", path.display()))?;
    match std::fs::remove_file(&path) {
        Ok(()) => Ok(Some(info)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(anyhow::anyhow!("cannot remove the lock {}: {e}", path.display())),
    }
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
        assert_eq!(unlock(dir.path(), false).unwrap().unwrap().pid, u32::MAX - 1);
        assert_eq!(unlock(dir.path(), false).unwrap(), None);
    }

    #[test]
    fn a_live_or_remote_holder_is_cleared_only_with_force() {
        let dir = tempfile::tempdir().unwrap();
        let _held = acquire(dir.path(), &LockInfo::current("auth", "nkdev up")).unwrap();
        let text = unlock(dir.path(), false).unwrap_err().to_string();
        assert!(text.contains("still running on this host") && text.contains("--force"), "{text}");
        assert!(lock_path(dir.path()).exists());
        let mut remote = LockInfo::current("billing", "nkdev up");
        remote.host = "build-agent-7".into();
        std::fs::write(lock_path(dir.path()), serde_json::to_vec(&remote).unwrap()).unwrap();
        let text = unlock(dir.path(), false).unwrap_err().to_string();
        assert!(text.contains("taken on build-agent-7, another machine") && text.contains("--force"), "{text}");
        assert_eq!(unlock(dir.path(), true).unwrap().unwrap().host, "build-agent-7");
        assert!(!lock_path(dir.path()).exists());
    }

    #[test]
    fn tokens_differ_and_a_lock_without_one_still_reads() {
        assert_ne!(new_token(), new_token());
        assert!(new_token().len() > 32);
        let old = r#"{"pid":1,"host":"h","user":"u","component":"c","command":"nkdev up","since":0}"#;
        assert_eq!(serde_json::from_str::<LockInfo>(old).unwrap().token, "");
    }

    #[test]
    fn a_holder_releases_only_its_own_lock() {
        let dir = tempfile::tempdir().unwrap();
        let first = acquire(dir.path(), &LockInfo::current("auth", "nkdev up")).unwrap();
        // a forced unlock, and another deploy takes the lock
        std::fs::remove_file(lock_path(dir.path())).unwrap();
        let second = acquire(dir.path(), &LockInfo::current("billing", "nkdev up")).unwrap();
        drop(first);
        assert_eq!(read(&lock_path(dir.path())).expect("the second lock is still there").component, "billing");
        drop(second);
        assert!(!lock_path(dir.path()).exists());
    }

    #[test]
    fn times_format_as_utc() {
        assert_eq!(format_time(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(format_time(1_795_511_962), "2026-11-24 09:19:22 UTC");
    }
}
