//! What the front end asks of the Docker provider beyond carrying out a plan: fitting the
//! desired state to the engine, status, logs, volume removal and the URLs served.

use crate::{copy, fingerprint_served, served_url, DockerProvider};
use bollard::volume::{ListVolumesOptions, RemoveVolumeOptions};
use futures_util::stream::BoxStream;
use futures_util::StreamExt;
use nanokit_core::plan::Desired;
use nanokit_deploy::provider::{labels, LogLine, LogRequest, Observed, ProviderError, Reporter};

impl DockerProvider {
    /// The gateway's settings are part of what is compared; on a remote engine a service's
    /// files are copied, not mounted, so a change to them is a change to the service.
    pub(crate) fn fit(&self, desired: &mut Desired, deploying: bool) -> Result<(), ProviderError> {
        desired.cluster.gateway_settings = Some(self.settings.gateway_fingerprint());
        if !self.engine.is_remote() {
            return Ok(());
        }
        for s in desired.services.iter_mut() {
            if let Some(folder) = &s.mount {
                match copy::digest(folder) {
                    Ok(files) => s.config_hash = copy::config_hash_with_files(&s.config_hash, &files),
                    Err(e) if deploying => {
                        return Err(ProviderError::new(format!("service `{}`: cannot read its path {}: {e}", s.name, folder.display())))
                    }
                    Err(_) => {}
                }
            }
        }
        Ok(())
    }

    /// What the plan should say about how services reach their files on this engine.
    pub(crate) fn copy_notes(&self, desired: &Desired) -> Vec<String> {
        if !self.engine.is_remote() {
            return Vec::new();
        }
        desired
            .services
            .iter()
            .filter_map(|s| {
                let folder = s.mount.as_ref()?;
                let shown = folder.strip_prefix(&self.project_dir).unwrap_or(folder);
                Some(format!(
                    "`{}`: {} is copied into its container (the engine at {} cannot mount a folder of this machine); a change to its files redeploys it",
                    s.name,
                    shown.display(),
                    self.engine.address
                ))
            })
            .collect()
    }

    /// Each asked service's container output, merged as lines arrive.
    pub(crate) fn log_lines<'a>(&'a self, desired: &'a Desired, request: LogRequest) -> BoxStream<'a, Result<LogLine, ProviderError>> {
        let streams = desired.services.iter().filter(|s| request.services.is_empty() || request.services.contains(&s.name)).map(|s| {
            let service = s.name.clone();
            self.logs(&s.instance, request.follow, request.tail, request.since)
                .flat_map(move |item| {
                    let lines: Vec<Result<LogLine, ProviderError>> = match item {
                        Ok(chunk) => {
                            chunk.to_string().lines().map(|line| Ok(LogLine { service: service.clone(), line: line.to_string() })).collect()
                        }
                        // Said once to `nkdev logs`; `up --watch` follows again (`since`) quietly.
                        Err(e) if e.to_string().contains("No such container") => match request.since {
                            None => vec![Ok(LogLine { service: service.clone(), line: "(not deployed)".into() })],
                            Some(_) => Vec::new(),
                        },
                        Err(e) => vec![Err(ProviderError::new(format!("cannot read the logs of `{service}`: {e}")))],
                    };
                    futures_util::stream::iter(lines)
                })
                .boxed()
        });
        futures_util::stream::select_all(streams).boxed()
    }

    /// This component's named volumes, except the gateway's certificates while the gateway
    /// stays (another component still uses it).
    pub(crate) async fn remove_component_volumes(&self, desired: &Desired, reporter: &dyn Reporter) -> Result<(), ProviderError> {
        let c = &desired.cluster;
        let filters = std::collections::HashMap::from([(
            "label".to_string(),
            vec![
                format!("{}={}", labels::PROJECT, c.project),
                format!("{}={}", labels::ENV, c.env),
                format!("{}={}", labels::COMPONENT, c.component),
            ],
        )]);
        let err = |what: &str, e: bollard::errors::Error| ProviderError::new(format!("{what}: {e}"));
        let list = self.docker.list_volumes(Some(ListVolumesOptions { filters })).await.map_err(|e| err("cannot list volumes", e))?;
        let gateway_kept = self.docker.inspect_container(&c.gateway, None).await.is_ok();
        for v in list.volumes.unwrap_or_default() {
            if gateway_kept && v.labels.get(labels::ROLE).map(String::as_str) == Some("gateway") {
                reporter.note(&format!("kept volume {} (the certificates of the gateway, still in use)", v.name));
                continue;
            }
            self.docker
                .remove_volume(&v.name, Some(RemoveVolumeOptions { force: false }))
                .await
                .map_err(|e| err(&format!("cannot remove volume {}", v.name), e))?;
            reporter.note(&format!("removed volume {}", v.name));
        }
        Ok(())
    }

    /// Where each service with a host is served. A shared repo's gateway, or one this deploy
    /// did not recreate, may serve with other settings than this command's.
    pub(crate) fn urls(&self, desired: &Desired, after: &Observed) -> Vec<String> {
        let mine = self.settings.gateway_fingerprint();
        let fingerprint = after.gateway.as_ref().and_then(|g| g.settings.clone()).unwrap_or(mine.clone());
        let (scheme, port) = fingerprint_served(&fingerprint).unwrap_or(("http", 80));
        let mut notes = Vec::new();
        if fingerprint != mine && desired.cluster.shared {
            notes.push(format!("the shared gateway serves {scheme} on port {port} (its owner's settings, not this command's)"));
        }
        for (name, host) in desired.services.iter().filter_map(|s| Some((&s.name, s.host.as_deref()?))) {
            notes.push(format!("{name} → {}", served_url(&fingerprint, host)));
        }
        notes
    }
}
