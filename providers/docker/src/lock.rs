//! The cluster lock of a Docker cluster, held on the engine itself so that every machine
//! deploying to that engine sees it: a container created (never started) under the fixed
//! name `nk-<project>-<env>-lock`. Creating a container by name is atomic on the engine (a
//! second create gets 409 Conflict), which makes it a "create if absent".
//!
//! The container comes from the gateway image (already needed on the engine), runs nothing
//! (`true`, no network), and carries the usual nanokit labels with `nk-role=lock` plus the
//! holder as JSON in `nk-lock`. It is removed only by its id and only while it carries our
//! token; a container of that name without our labels is never removed.

use anyhow::{anyhow, bail, Result};
use bollard::container::{Config, CreateContainerOptions, RemoveContainerOptions};
use bollard::errors::Error as DockerError;
use bollard::image::CreateImageOptions;
use bollard::models::HostConfig;
use bollard::Docker;
use futures_util::StreamExt;
use nanokit_deploy::lock::{self, LockInfo};
use nanokit_deploy::provider::labels;
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// The value of `nk-role` on the lock container.
pub const ROLE: &str = "lock";
/// The label holding the holder's `LockInfo` as JSON.
pub const INFO_LABEL: &str = "nk-lock";

pub fn container_name(project: &str, env: &str) -> String {
    format!("{}-lock", nanokit_core::names::cluster_prefix(project, env))
}

fn status(e: &DockerError) -> Option<u16> {
    match e {
        DockerError::DockerResponseServerError { status_code, .. } => Some(*status_code),
        _ => None,
    }
}

fn place(name: &str) -> String {
    format!("container `{name}` on the Docker engine")
}

/// Held until `release`d.
#[derive(Debug)]
pub struct EngineLock {
    docker: Docker,
    name: String,
    id: String,
    token: String,
}

/// The image is on the engine, or is pulled.
async fn ensure_image(docker: &Docker, image: &str) -> Result<()> {
    if docker.inspect_image(image).await.is_ok() {
        return Ok(());
    }
    let (from_image, tag) = match image.rsplit_once(':').filter(|(_, t)| !t.contains('/')) {
        Some((i, t)) => (i, t),
        None => (image, "latest"),
    };
    let mut pull = docker.create_image(Some(CreateImageOptions { from_image, tag, ..Default::default() }), None, None);
    while let Some(progress) = pull.next().await {
        if let Err(e) = progress {
            bail!("cannot take the cluster lock: it is a container of the gateway image `{image}`, which is not on the engine and could not be pulled: {e}");
        }
    }
    Ok(())
}

/// Take the lock, or say who holds it.
pub async fn acquire(docker: &Docker, image: &str, project: &str, env: &str, info: &LockInfo) -> Result<EngineLock> {
    ensure_image(docker, image).await?;
    let name = container_name(project, env);
    let container_labels = HashMap::from([
        (labels::PROJECT.to_string(), project.to_string()),
        (labels::ENV.to_string(), env.to_string()),
        (labels::COMPONENT.to_string(), info.component.clone()),
        (labels::ROLE.to_string(), ROLE.to_string()),
        (INFO_LABEL.to_string(), serde_json::to_string(info)?),
    ]);
    // A lock released between our create and our look at it: try again, a few times.
    for _ in 0..3 {
        let config = Config {
            image: Some(image.to_string()),
            entrypoint: Some(vec!["true".to_string()]),
            cmd: Some(vec![]),
            labels: Some(container_labels.clone()),
            network_disabled: Some(true),
            host_config: Some(HostConfig { network_mode: Some("none".into()), ..Default::default() }),
            ..Default::default()
        };
        match docker.create_container(Some(CreateContainerOptions { name: name.as_str(), platform: None }), config).await {
            Ok(created) => {
                return Ok(EngineLock { docker: docker.clone(), name, id: created.id, token: info.token.clone() });
            }
            Err(e) if status(&e) == Some(409) => {
                if let Some((_, holder)) = held(docker, project, env).await? {
                    bail!(lock::held_message(&holder, &place(&name)));
                }
            }
            Err(e) => bail!("cannot take the cluster lock ({}): {e}", place(&name)),
        }
    }
    bail!("cannot take the cluster lock ({}): it was taken and released again several times; try again", place(&name))
}

/// The lock container's id and holder, if there is one; an error for a container of that
/// name that is not a nanokit lock of this cluster (it is never touched).
pub async fn held(docker: &Docker, project: &str, env: &str) -> Result<Option<(String, LockInfo)>> {
    let name = container_name(project, env);
    let container = match docker.inspect_container(&name, None).await {
        Ok(c) => c,
        Err(e) if status(&e) == Some(404) => return Ok(None),
        Err(e) => bail!("cannot read the cluster lock ({}): {e}", place(&name)),
    };
    let found = container.config.and_then(|c| c.labels).unwrap_or_default();
    let is_lock = found.get(labels::PROJECT).map(String::as_str) == Some(project)
        && found.get(labels::ENV).map(String::as_str) == Some(env)
        && found.get(labels::ROLE).map(String::as_str) == Some(ROLE);
    if !is_lock {
        bail!(
            "the container `{name}` on the Docker engine is not a nanokit lock (it lacks the labels {}={project}, {}={env}, {}={ROLE}), so nkdev will not take its name nor remove it.\n  rename or remove it yourself (`docker rm {name}`) if it is not needed, then run the command again",
            labels::PROJECT,
            labels::ENV,
            labels::ROLE
        );
    }
    let info = found.get(INFO_LABEL).and_then(|j| serde_json::from_str(j).ok()).unwrap_or_else(LockInfo::unreadable);
    Ok(Some((container.id.unwrap_or(name), info)))
}

/// How long `release` waits for an engine that stopped answering (restarted mid-deploy):
/// the lock lives on the engine, so without it the next deploy would find it stale.
const RELEASE_PATIENCE: Duration = Duration::from_secs(60);

impl EngineLock {
    /// Remove the lock container, only while it is still ours: removal by id, so a lock
    /// container created by the next holder after a forced unlock (a new id) is never removed.
    pub async fn release(self) {
        let deadline = Instant::now() + RELEASE_PATIENCE;
        let mut told = false;
        loop {
            match self.try_release().await {
                Ok(()) => return,
                Err(e) if status(&e).is_none() && Instant::now() < deadline => {
                    if !told {
                        eprintln!("the Docker engine is not answering ({e}); waiting for it to release the cluster lock…");
                        told = true;
                    }
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
                Err(e) => {
                    eprintln!(
                        "warning: could not release the cluster lock ({}): {e}\n  once the engine answers, `nkdev infra unlock` clears it",
                        place(&self.name)
                    );
                    return;
                }
            }
        }
    }

    async fn try_release(&self) -> Result<(), DockerError> {
        let ours = match self.docker.inspect_container(&self.id, None).await {
            Ok(c) => c
                .config
                .and_then(|c| c.labels)
                .and_then(|l| l.get(INFO_LABEL).cloned())
                .and_then(|j| serde_json::from_str::<LockInfo>(&j).ok())
                .is_some_and(|i| i.token == self.token),
            Err(e) if status(&e) == Some(404) => false,
            Err(e) => return Err(e),
        };
        if !ours {
            eprintln!(
                "warning: the cluster lock ({}) is no longer ours (cleared by `nkdev infra unlock --force`?); left the current one in place",
                place(&self.name)
            );
            return Ok(());
        }
        match self.docker.remove_container(&self.id, Some(RemoveContainerOptions { force: true, ..Default::default() })).await {
            Err(e) if status(&e) != Some(404) => Err(e),
            _ => Ok(()),
        }
    }
}

/// `nkdev infra unlock` on Docker: remove the lock container, returning who held it; without
/// `force` only when its holder is gone (`lock::check_unlock`).
pub async fn unlock(docker: &Docker, project: &str, env: &str, force: bool) -> Result<Option<LockInfo>> {
    let Some((id, info)) = held(docker, project, env).await? else {
        return Ok(None);
    };
    let name = container_name(project, env);
    lock::check_unlock(&info, force, &place(&name))?;
    match docker.remove_container(&id, Some(RemoveContainerOptions { force: true, ..Default::default() })).await {
        Ok(()) => Ok(Some(info)),
        Err(e) if status(&e) == Some(404) => Ok(None),
        Err(e) => Err(anyhow!("cannot remove the cluster lock ({}): {e}", place(&name))),
    }
}

#[async_trait::async_trait]
impl nanokit_deploy::provider::HeldLock for EngineLock {
    async fn release(self: Box<Self>) {
        EngineLock::release(*self).await
    }
}
