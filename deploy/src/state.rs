//! Deploy state (SPEC §7): `.nanokit/` beside nanokit.yml for a local Docker owner, else the
//! cluster directory under `~/.nanokit/clusters/<provider>_<project>_<env>/`. Written
//! atomically (temp file, fsync, rename). It holds hashes and names, never variable values.

use anyhow::{Context, Result};
use nanokit_core::files::write_atomically;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// `$NANOKIT_HOME` or `~/.nanokit`. Without either there is no private place for locks and
/// state (a shared `/tmp` would let any local user forge them): refused, with what to set.
pub fn nanokit_home() -> Result<PathBuf> {
    let non_empty = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from);
    non_empty("NANOKIT_HOME")
        .or_else(|| non_empty("HOME").map(|h| h.join(".nanokit")))
        .ok_or_else(|| anyhow::anyhow!("neither NANOKIT_HOME nor HOME is set: nkdev keeps cluster state and locks there; set one of them"))
}

pub fn cluster_dir(provider: &str, project: &str, env: &str) -> Result<PathBuf> {
    Ok(nanokit_home()?.join("clusters").join(format!("{provider}_{project}_{env}")))
}

/// Where state lives for this deploy.
pub fn state_dir(provider: &str, project: &str, env: &str, shared: bool, project_dir: &Path) -> Result<PathBuf> {
    if provider == "docker" && !shared {
        Ok(project_dir.join(".nanokit"))
    } else {
        cluster_dir(provider, project, env)
    }
}

/// The state format this nkdev writes; a file of a newer format is refused, not misread.
pub const STATE_VERSION: u32 = 1;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ServiceState {
    pub instance: String,
    pub image: String,
    pub config_hash: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ComponentState {
    pub deployed_at: u64,
    pub services: BTreeMap<String, ServiceState>,
    /// Services the last deploy changed but never saw ready; the next one retries them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unready: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct State {
    /// [`STATE_VERSION`] of the nkdev that wrote it (files from before the field: 0).
    #[serde(default)]
    pub version: u32,
    pub project: String,
    pub env: String,
    pub provider: String,
    pub components: BTreeMap<String, ComponentState>,
}

pub fn file(dir: &Path, env: &str) -> PathBuf {
    dir.join(format!("state-{env}.json"))
}

pub fn load(dir: &Path, env: &str) -> Result<Option<State>> {
    let path = file(dir, env);
    match std::fs::read(&path) {
        Ok(bytes) => {
            // The version first, so a newer format is named as such rather than as corrupt.
            #[derive(Deserialize)]
            struct Version {
                #[serde(default)]
                version: u32,
            }
            if let Ok(Version { version }) = serde_json::from_slice::<Version>(&bytes) {
                if version > STATE_VERSION {
                    anyhow::bail!(
                        "{} was written by a newer nkdev (state version {version}; this nkdev reads up to {STATE_VERSION}); upgrade nkdev",
                        path.display()
                    );
                }
            }
            Ok(Some(
                serde_json::from_slice(&bytes)
                    .with_context(|| format!("{} is corrupt; remove it and run `nkdev up` again", path.display()))?,
            ))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
}

pub fn save(dir: &Path, state: &State) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let state = State { version: STATE_VERSION, ..state.clone() };
    let body = serde_json::to_vec_pretty(&state)?;
    Ok(write_atomically(&file(dir, &state.env), &body)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn save_and_load_round_trip_atomically() {
        let dir = tempfile::tempdir().unwrap();
        let mut state = State { project: "p".into(), env: "local".into(), provider: "docker".into(), ..State::default() };
        state.components.insert("auth".into(), ComponentState { deployed_at: 1, services: BTreeMap::new(), unready: vec!["api".into()] });
        save(dir.path(), &state).unwrap();
        assert_eq!(load(dir.path(), "local").unwrap(), Some(State { version: STATE_VERSION, ..state }));
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "no temp file left behind");
        std::fs::write(file(dir.path(), "local"), b"{").unwrap();
        assert!(load(dir.path(), "local").unwrap_err().to_string().contains("is corrupt"));
    }

    #[test]
    fn a_newer_state_format_is_refused_and_an_older_one_read() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            file(dir.path(), "local"),
            br#"{"version": 99, "project": "p", "env": "local", "provider": "docker", "components": {}, "new": 1}"#,
        )
        .unwrap();
        let e = load(dir.path(), "local").unwrap_err().to_string();
        assert!(e.contains("newer nkdev") && e.contains("state version 99"), "{e}");
        std::fs::write(file(dir.path(), "local"), br#"{"project": "p", "env": "local", "provider": "docker", "components": {}}"#).unwrap();
        assert_eq!(load(dir.path(), "local").unwrap().unwrap().version, 0);
    }
}
