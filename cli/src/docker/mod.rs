//! `provider: docker` on a real engine through bollard: a network per cluster, a Caddy
//! gateway, one container per service, everything labelled for ownership (SPEC §6).

pub mod gateway;
pub mod lock;
pub mod probe;

use bollard::container::{
    Config, CreateContainerOptions, DownloadFromContainerOptions, ListContainersOptions, LogOutput, LogsOptions, RemoveContainerOptions,
    StartContainerOptions, UploadToContainerOptions,
};
use bollard::exec::{CreateExecOptions, StartExecResults};
use bollard::image::CreateImageOptions;
use bollard::models::{ContainerSummary, EndpointSettings, HealthConfig, HostConfig, PortBinding, RestartPolicy, RestartPolicyNameEnum};
use bollard::network::{CreateNetworkOptions, ListNetworksOptions};
use bollard::volume::CreateVolumeOptions;
use bollard::Docker;
use futures_util::StreamExt;
use nanokit_core::plan::{Action, Desired, DesiredService, Plan, Route, Step, APP_DIR};
use nanokit_core::provider::{labels, Observed, ObservedResource, ObservedService, Provider, ProviderError};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Settings a user may change without touching nanokit.yml.
#[derive(Debug, Clone)]
pub struct DockerSettings {
    /// `--gateway-image` / `NANOKIT_GATEWAY_IMAGE`
    pub gateway_image: String,
    /// `--gateway-port` / `NANOKIT_GATEWAY_PORT`: the host port the gateway publishes.
    pub gateway_port: u16,
    /// `NANOKIT_GATEWAY_BIND`: host address the gateway port binds to.
    pub gateway_bind: String,
    /// How long a service may take to become ready.
    pub ready_timeout: Duration,
    /// How long a container gets to exit after SIGTERM before it is killed, when it is
    /// replaced or removed (docker compose's default too).
    pub stop_grace: Duration,
}

impl Default for DockerSettings {
    fn default() -> Self {
        DockerSettings {
            gateway_image: "caddy:2-alpine".into(),
            gateway_port: 80,
            gateway_bind: "127.0.0.1".into(),
            ready_timeout: Duration::from_secs(60),
            stop_grace: Duration::from_secs(10),
        }
    }
}

pub struct DockerProvider {
    docker: Docker,
    settings: DockerSettings,
    /// Images known to be on the engine: twenty services of one image make one check, not
    /// twenty, while the engine is busy creating their containers.
    /// (Behind an `Arc` only to keep the provider small to move around.)
    images_present: Arc<tokio::sync::Mutex<HashSet<String>>>,
}

fn err(context: impl std::fmt::Display, e: impl std::fmt::Display) -> ProviderError {
    ProviderError::new(format!("{context}: {e}"))
}

/// The engine went away mid-command (stopped, restarted, socket gone), as opposed to
/// answering with an error: the user's next move is different, so the message says so.
fn engine_lost(e: &bollard::errors::Error) -> bool {
    use bollard::errors::Error as E;
    matches!(
        e,
        E::IOError { .. } | E::HyperResponseError { .. } | E::HyperLegacyError { .. } | E::SocketNotFoundError(_) | E::RequestTimeoutError
    )
}

/// `err` for a failed engine call, with what to do when the engine itself stopped answering.
fn engine_err(context: impl std::fmt::Display, e: &bollard::errors::Error) -> ProviderError {
    let mut pe = err(context, e);
    if engine_lost(e) {
        pe.details.push(
            "the Docker engine stopped answering (restarted or stopped?); once `docker info` works again, run `nkdev up` to converge"
                .into(),
        );
    }
    pe
}

fn is_not_found(e: &bollard::errors::Error) -> bool {
    matches!(e, bollard::errors::Error::DockerResponseServerError { status_code: 404, .. })
}

impl DockerProvider {
    /// Connect with the usual defaults (`DOCKER_HOST` or the local socket) and negotiate the
    /// API version, so an older engine (API 1.41 on Debian) is spoken to in its own version.
    pub async fn connect(settings: DockerSettings) -> Result<Self, ProviderError> {
        let target = std::env::var("DOCKER_HOST").unwrap_or_else(|_| "unix:///var/run/docker.sock".into());
        let hint = "is the Docker engine running? (`sudo dockerd` or `systemctl start docker`)";
        let docker = Docker::connect_with_local_defaults()
            .map_err(|e| engine_err(format!("cannot connect to the Docker engine at {target}; {hint}"), &e))?;
        let docker =
            docker.negotiate_version().await.map_err(|e| engine_err(format!("cannot reach the Docker engine at {target}; {hint}"), &e))?;
        Ok(DockerProvider { docker, settings, images_present: Default::default() })
    }

    pub fn client(&self) -> &Docker {
        &self.docker
    }

    fn cluster_filters(desired: &Desired) -> HashMap<String, Vec<String>> {
        HashMap::from([(
            "label".to_string(),
            vec![format!("{}={}", labels::PROJECT, desired.cluster.project), format!("{}={}", labels::ENV, desired.cluster.env)],
        )])
    }

    pub async fn containers(&self, desired: &Desired) -> Result<Vec<ContainerSummary>, ProviderError> {
        self.docker
            .list_containers(Some(ListContainersOptions { all: true, filters: Self::cluster_filters(desired), ..Default::default() }))
            .await
            .map_err(|e| engine_err("cannot list containers", &e))
    }

    fn base_labels(desired: &Desired, role: &str) -> HashMap<String, String> {
        HashMap::from([
            (labels::PROJECT.to_string(), desired.cluster.project.clone()),
            (labels::ENV.to_string(), desired.cluster.env.clone()),
            (labels::COMPONENT.to_string(), desired.cluster.component.clone()),
            (labels::ROLE.to_string(), role.to_string()),
        ])
    }

    /// The image is there, or is pulled; a clear error names it otherwise.
    async fn ensure_image(&self, image: &str) -> Result<(), ProviderError> {
        // Held across the check and any pull, so concurrent creates of one image wait for the
        // first check instead of all pulling it.
        let mut present = self.images_present.lock().await;
        if present.contains(image) || self.docker.inspect_image(image).await.is_ok() {
            present.insert(image.to_string());
            return Ok(());
        }
        let (from_image, tag) = match image.rsplit_once(':').filter(|(_, t)| !t.contains('/')) {
            Some((i, t)) => (i, t),
            None => (image, "latest"),
        };
        let mut pull = self.docker.create_image(Some(CreateImageOptions { from_image, tag, ..Default::default() }), None, None);
        while let Some(progress) = pull.next().await {
            if let Err(e) = progress {
                return Err(ProviderError::new(format!("image `{image}` is not available locally and could not be pulled: {e}")));
            }
        }
        present.insert(image.to_string());
        Ok(())
    }

    /// Stop gracefully (SIGTERM, then SIGKILL after the grace period), then remove: a service
    /// being replaced gets to finish its requests and flush its data.
    async fn remove(&self, name: &str) -> Result<(), ProviderError> {
        let grace = bollard::container::StopContainerOptions { t: self.settings.stop_grace.as_secs() as i64 };
        // Errors are 304 (already stopped) or 404 (gone); any other, the removal reports.
        let _ = self.docker.stop_container(name, Some(grace)).await;
        match self.docker.remove_container(name, Some(RemoveContainerOptions { force: true, ..Default::default() })).await {
            Ok(()) => Ok(()),
            Err(e) if is_not_found(&e) => Ok(()),
            Err(e) => Err(engine_err(format!("cannot remove container `{name}`"), &e)),
        }
    }

    async fn create_service(&self, s: &DesiredService, desired: &Desired) -> Result<(), ProviderError> {
        self.ensure_image(&s.image).await?;
        let mut env: Vec<String> = s.env.iter().map(|(k, v)| format!("{k}={v}")).collect();
        // Transparent metadata (seed 003): where the service runs, for cloud-aware apps.
        env.push("NANOKIT_PROVIDER=docker".into());
        env.push(format!("NANOKIT_NETWORK={}", desired.cluster.network));
        env.push(format!("NANOKIT_CONTAINER={}", s.instance));
        let mut container_labels = Self::base_labels(desired, "service");
        container_labels.insert(labels::SERVICE.into(), s.name.clone());
        container_labels.insert(labels::CONFIG_HASH.into(), s.config_hash.clone());
        if let (Some(host), Some(port)) = (&s.host, s.expose) {
            container_labels.insert(labels::HOST.into(), host.clone());
            container_labels.insert(labels::PORT.into(), port.to_string());
        }
        let mut binds: Vec<String> = s.volumes.iter().map(|(name, path)| format!("{name}:{path}")).collect();
        if let Some(mount) = &s.mount {
            let absolute = std::fs::canonicalize(mount).map_err(|e| err(format!("service `{}`: path {}", s.name, mount.display()), e))?;
            binds.push(format!("{}:{APP_DIR}", absolute.display()));
        }
        let healthcheck = s.healthcheck.as_ref().and_then(|h| {
            let cmd = h.cmd.as_ref()?;
            let ns = |d: &Option<nanokit_core::model::Duration>| d.as_ref().and_then(|d| d.as_millis()).map(|ms| (ms * 1_000_000) as i64);
            Some(HealthConfig {
                test: Some(vec!["CMD-SHELL".into(), cmd.clone()]),
                interval: ns(&h.interval),
                timeout: ns(&h.timeout),
                retries: h.retries.map(i64::from),
                ..Default::default()
            })
        });
        let config = Config {
            image: Some(s.image.clone()),
            env: Some(env),
            cmd: s.command.as_ref().map(|c| vec!["sh".to_string(), "-c".to_string(), c.clone()]),
            working_dir: s.mount.as_ref().map(|_| APP_DIR.to_string()),
            labels: Some(container_labels),
            healthcheck,
            host_config: Some(HostConfig {
                binds: Some(binds),
                network_mode: Some(desired.cluster.network.clone()),
                restart_policy: Some(RestartPolicy { name: Some(RestartPolicyNameEnum::UNLESS_STOPPED), maximum_retry_count: None }),
                // docker-init as PID 1 (`docker run --init`): SIGTERM reaches the service even
                // when it is started through `sh -c`, so a graceful stop is quick, and zombies
                // of install scripts are reaped.
                init: Some(true),
                ..Default::default()
            }),
            networking_config: Some(bollard::container::NetworkingConfig {
                endpoints_config: HashMap::from([(
                    desired.cluster.network.clone(),
                    EndpointSettings { aliases: Some(vec![s.instance.clone()]), ..Default::default() },
                )]),
            }),
            ..Default::default()
        };
        self.docker
            .create_container(Some(CreateContainerOptions { name: s.instance.clone(), platform: None }), config)
            .await
            .map_err(|e| engine_err(format!("cannot create container `{}`", s.instance), &e))?;
        self.docker
            .start_container(&s.instance, None::<StartContainerOptions<String>>)
            .await
            .map_err(|e| engine_err(format!("cannot start `{}`", s.instance), &e))
    }

    async fn create_gateway(&self, desired: &Desired) -> Result<(), ProviderError> {
        let image = &self.settings.gateway_image;
        self.ensure_image(image).await?;
        let port = format!("{}/tcp", gateway::LISTEN_PORT);
        let config = Config {
            image: Some(image.clone()),
            cmd: Some(vec!["caddy".into(), "run".into(), "--config".into(), gateway::CONFIG_FILE.into(), "--resume".into()]),
            entrypoint: Some(vec![]),
            labels: Some(Self::base_labels(desired, "gateway")),
            exposed_ports: Some(HashMap::from([(port.clone(), HashMap::new())])),
            host_config: Some(HostConfig {
                network_mode: Some(desired.cluster.network.clone()),
                port_bindings: Some(HashMap::from([(
                    port,
                    Some(vec![PortBinding {
                        host_ip: Some(self.settings.gateway_bind.clone()),
                        host_port: Some(self.settings.gateway_port.to_string()),
                    }]),
                )])),
                restart_policy: Some(RestartPolicy { name: Some(RestartPolicyNameEnum::UNLESS_STOPPED), maximum_retry_count: None }),
                ..Default::default()
            }),
            ..Default::default()
        };
        let name = &desired.cluster.gateway;
        self.docker
            .create_container(Some(CreateContainerOptions { name: name.clone(), platform: None }), config)
            .await
            .map_err(|e| engine_err(format!("cannot create gateway `{name}`"), &e))?;
        let started = match self.upload_config(name, &[]).await {
            Ok(()) => self.docker.start_container(name, None::<StartContainerOptions<String>>).await.map_err(|e| {
                let mut pe = engine_err(format!("cannot start gateway `{name}`"), &e);
                if e.to_string().contains("address already in use") || e.to_string().contains("port is already allocated") {
                    // Taken after the preflight looked, or on a remote engine's host.
                    pe.details.push(port_taken(&self.settings));
                }
                pe
            }),
            Err(e) => Err(e),
        };
        if started.is_err() {
            // A gateway that exists but cannot start would be kept by the next plan as if it
            // worked; removing it makes the next `up` create it again.
            let _ = self.remove(name).await;
        }
        started
    }

    async fn upload_config(&self, gateway: &str, routes: &[Route]) -> Result<(), ProviderError> {
        let tar = gateway::archive(&gateway::config(routes)).map_err(|e| err("cannot build the gateway config", e))?;
        self.docker
            .upload_to_container(gateway, Some(UploadToContainerOptions { path: "/etc".to_string(), ..Default::default() }), tar.into())
            .await
            .map_err(|e| engine_err(format!("cannot write the config of gateway `{gateway}`"), &e))
    }

    async fn exec(&self, container: &str, cmd: Vec<String>) -> Result<(i64, String), ProviderError> {
        let exec = self
            .docker
            .create_exec(
                container,
                CreateExecOptions { cmd: Some(cmd), attach_stdout: Some(true), attach_stderr: Some(true), ..Default::default() },
            )
            .await
            .map_err(|e| engine_err(format!("cannot exec in `{container}`"), &e))?;
        let mut text = String::new();
        if let StartExecResults::Attached { mut output, .. } =
            self.docker.start_exec(&exec.id, None).await.map_err(|e| engine_err(format!("cannot exec in `{container}`"), &e))?
        {
            while let Some(Ok(chunk)) = output.next().await {
                text.push_str(&chunk.to_string());
            }
        }
        let code = self.docker.inspect_exec(&exec.id).await.ok().and_then(|i| i.exit_code).unwrap_or(-1);
        Ok((code, text))
    }

    async fn update_routes(&self, desired: &Desired, routes: &[Route]) -> Result<(), ProviderError> {
        let gw = &desired.cluster.gateway;
        self.upload_config(gw, routes).await?;
        // `--force`: Caddy skips a reload whose config it thinks unchanged, and ours changed on disk.
        let (code, output) =
            self.exec(gw, vec!["caddy".into(), "reload".into(), "--config".into(), gateway::CONFIG_FILE.into(), "--force".into()]).await?;
        if code != 0 {
            let mut e = ProviderError::new(format!("gateway `{gw}` rejected its new routes (caddy reload exited {code})"));
            e.details = output.lines().rev().take(10).map(str::to_string).collect::<Vec<_>>().into_iter().rev().collect();
            return Err(e);
        }
        Ok(())
    }

    async fn current_routes(&self, gateway: &str) -> Option<Vec<Route>> {
        let mut stream =
            self.docker.download_from_container(gateway, Some(DownloadFromContainerOptions { path: gateway::CONFIG_FILE.to_string() }));
        let mut bytes = Vec::new();
        while let Some(chunk) = stream.next().await {
            bytes.extend_from_slice(&chunk.ok()?);
        }
        gateway::from_archive(&bytes).map(|c| gateway::routes_of(&c))
    }

    /// The last `n` log lines of a container, for error messages.
    pub async fn tail(&self, container: &str, n: usize) -> Vec<String> {
        let mut logs =
            self.docker.logs(container, Some(LogsOptions { stdout: true, stderr: true, tail: n.to_string(), ..Default::default() }));
        let mut out = String::new();
        while let Some(Ok(chunk)) = logs.next().await {
            out.push_str(&chunk.to_string());
        }
        out.lines().map(str::to_string).collect()
    }

    pub fn logs(
        &self,
        container: &str,
        follow: bool,
        tail: Option<usize>,
    ) -> impl futures_util::Stream<Item = Result<LogOutput, bollard::errors::Error>> + use<> {
        self.docker.logs(
            container,
            Some(LogsOptions {
                stdout: true,
                stderr: true,
                follow,
                tail: tail.map_or_else(|| "all".to_string(), |n| n.to_string()),
                ..Default::default()
            }),
        )
    }
}

fn label<'a>(c: &'a ContainerSummary, key: &str) -> Option<&'a String> {
    c.labels.as_ref()?.get(key)
}

impl Provider for DockerProvider {
    fn services_need_gateway(&self) -> bool {
        false
    }

    async fn preflight(&self, plan: &Plan, _desired: &Desired) -> Result<(), ProviderError> {
        if plan.steps.iter().any(|s| matches!(s.action, Action::CreateGateway)) {
            check_gateway_port(&self.settings)?;
        }
        Ok(())
    }

    async fn observe(&self, desired: &Desired) -> Result<Observed, ProviderError> {
        let containers = self.containers(desired).await?;
        let mut observed = Observed::default();
        for c in &containers {
            let name = c.names.as_ref().and_then(|n| n.first()).map(|n| n.trim_start_matches('/').to_string()).unwrap_or_default();
            let component = label(c, labels::COMPONENT).cloned();
            match label(c, labels::ROLE).map(String::as_str) {
                Some("gateway") => observed.gateway = Some(ObservedResource { name, component }),
                Some("service") => observed.services.push(ObservedService {
                    service: label(c, labels::SERVICE).cloned().unwrap_or_default(),
                    name,
                    component: component.unwrap_or_default(),
                    config_hash: label(c, labels::CONFIG_HASH).cloned().unwrap_or_default(),
                    running: c.state.as_deref() == Some("running"),
                    host: label(c, labels::HOST).cloned(),
                    port: label(c, labels::PORT).and_then(|p| p.parse().ok()),
                }),
                _ => {}
            }
        }
        let networks = self
            .docker
            .list_networks(Some(ListNetworksOptions {
                filters: HashMap::from([("name".to_string(), vec![desired.cluster.network.clone()])]),
            }))
            .await
            .map_err(|e| engine_err("cannot list networks", &e))?;
        // `name` filters by substring: keep the exact match only.
        if let Some(n) = networks.into_iter().find(|n| n.name.as_deref() == Some(desired.cluster.network.as_str())) {
            observed.network = Some(ObservedResource {
                name: desired.cluster.network.clone(),
                component: n.labels.and_then(|l| l.get(labels::COMPONENT).cloned()),
            });
        }
        if let Some(gw) = &observed.gateway {
            observed.routes = self.current_routes(&gw.name).await;
        }
        let volumes = self
            .docker
            .list_volumes(Some(bollard::volume::ListVolumesOptions { filters: Self::cluster_filters(desired) }))
            .await
            .map_err(|e| engine_err("cannot list volumes", &e))?;
        observed.volumes = volumes.volumes.unwrap_or_default().into_iter().map(|v| v.name).collect();
        Ok(observed)
    }

    async fn apply(&self, step: &Step, desired: &Desired) -> Result<(), ProviderError> {
        let cluster = &desired.cluster;
        match &step.action {
            Action::CreateNetwork => {
                let options = CreateNetworkOptions {
                    name: cluster.network.clone(),
                    driver: "bridge".into(),
                    check_duplicate: true,
                    labels: Self::base_labels(desired, "network"),
                    ..Default::default()
                };
                self.docker
                    .create_network(options)
                    .await
                    .map(|_| ())
                    .map_err(|e| engine_err(format!("cannot create network `{}`", cluster.network), &e))
            }
            Action::CreateGateway => self.create_gateway(desired).await,
            Action::CreateVolume { name } => {
                let options =
                    CreateVolumeOptions { name: name.clone(), labels: Self::base_labels(desired, "volume"), ..Default::default() };
                self.docker.create_volume(options).await.map(|_| ()).map_err(|e| engine_err(format!("cannot create volume `{name}`"), &e))
            }
            Action::Create { service } | Action::Recreate { service } => {
                let s = desired.service(service).ok_or_else(|| ProviderError::new(format!("no desired service `{service}`")))?;
                self.remove(&s.instance).await?;
                self.create_service(s, desired).await
            }
            Action::Start { service } => {
                let s = desired.service(service).ok_or_else(|| ProviderError::new(format!("no desired service `{service}`")))?;
                self.docker
                    .start_container(&s.instance, None::<StartContainerOptions<String>>)
                    .await
                    .map_err(|e| engine_err(format!("cannot start `{}`", s.instance), &e))
            }
            Action::Keep { .. } => Ok(()),
            Action::Remove { instance, .. } => self.remove(instance).await,
            Action::UpdateRoutes { routes } => self.update_routes(desired, routes).await,
            Action::RemoveGateway => self.remove(&cluster.gateway).await,
            Action::RemoveNetwork => match self.docker.remove_network(&cluster.network).await {
                Err(e) if !is_not_found(&e) => Err(engine_err(format!("cannot remove network `{}`", cluster.network), &e)),
                _ => Ok(()),
            },
        }
    }

    async fn wait_ready(&self, s: &DesiredService, desired: &Desired) -> Result<(), ProviderError> {
        let deadline = Instant::now() + self.settings.ready_timeout;
        let mut why = String::from("not started");
        // Most services are ready within a few hundred milliseconds: poll fast at first,
        // then back off, so a quick service is not held up by the polling interval.
        let mut pause = Duration::from_millis(20);
        while Instant::now() < deadline {
            let info = self
                .docker
                .inspect_container(&s.instance, None)
                .await
                .map_err(|e| engine_err(format!("cannot inspect `{}`", s.instance), &e))?;
            // The same inspect gives the address to probe: one engine call per poll, not two,
            // while the engine is busy creating the rest of the deploy's containers.
            let ip = info
                .network_settings
                .as_ref()
                .and_then(|n| n.networks.as_ref()?.get(&desired.cluster.network)?.ip_address.clone())
                .filter(|ip| !ip.is_empty());
            let state = info.state.unwrap_or_default();
            // Under `unless-stopped` a crashing service restarts in a loop: it never "exits".
            let crashing = state.restarting == Some(true) || (info.restart_count.unwrap_or(0) > 0 && state.exit_code.unwrap_or(0) != 0);
            if crashing {
                let mut e = ProviderError::new(format!(
                    "service `{}` keeps exiting (exit code {}) before it is ready; its last log lines:",
                    s.name,
                    state.exit_code.unwrap_or(-1)
                ));
                e.details = self.tail(&s.instance, 20).await;
                return Err(e);
            }
            if state.running != Some(true) {
                if state.status.map(|s| s.to_string()).as_deref() == Some("exited") || state.exit_code.unwrap_or(0) != 0 {
                    let mut e = ProviderError::new(format!(
                        "service `{}` exited with code {} before it was ready; its last log lines:",
                        s.name,
                        state.exit_code.unwrap_or(-1)
                    ));
                    e.details = self.tail(&s.instance, 20).await;
                    return Err(e);
                }
                why = "not running yet".into();
            } else if let Some(health) = state
                .health
                .and_then(|h| h.status)
                .filter(|h| *h != bollard::models::HealthStatusEnum::NONE && *h != bollard::models::HealthStatusEnum::EMPTY)
            {
                if health == bollard::models::HealthStatusEnum::HEALTHY {
                    if port_ready(s, ip.as_deref()).await {
                        return Ok(());
                    }
                    why = "healthy, but its port is not open".into();
                } else {
                    why = format!("healthcheck status `{health}`");
                }
            } else if port_ready(s, ip.as_deref()).await {
                return Ok(());
            } else {
                why = match (&s.expose, s.healthcheck.as_ref().and_then(|h| h.path.as_ref())) {
                    (Some(p), Some(path)) => format!("GET {path} on port {p} does not answer 2xx/3xx"),
                    (Some(p), None) => format!("port {p} is not open"),
                    _ => "not ready".into(),
                };
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_millis(200));
        }
        let mut e = ProviderError::new(format!(
            "service `{}` was not ready after {}s ({why}); its last log lines:",
            s.name,
            self.settings.ready_timeout.as_secs()
        ));
        e.details = self.tail(&s.instance, 20).await;
        Err(e)
    }
}

fn port_taken(settings: &DockerSettings) -> String {
    format!(
        "host port {}:{} is taken; free it, or choose another with --gateway-port or NANOKIT_GATEWAY_PORT",
        settings.gateway_bind, settings.gateway_port
    )
}

/// The engine only finds the gateway's host port taken when it starts the gateway, by then
/// beside the services; looking first lets a deploy that would fail change nothing.
fn check_gateway_port(settings: &DockerSettings) -> Result<(), ProviderError> {
    // A remote engine publishes on its own host, where this machine's ports say nothing.
    let remote = std::env::var("DOCKER_HOST").is_ok_and(|h| !h.starts_with("unix://") && !h.is_empty());
    if remote {
        return Ok(());
    }
    match std::net::TcpListener::bind((settings.gateway_bind.as_str(), settings.gateway_port)) {
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => Err(ProviderError {
            message: format!("the gateway cannot publish its port: {}", port_taken(settings)),
            details: vec!["nothing was created or changed".into()],
        }),
        // Free, or not ours to bind (a port below 1024 without root): the engine decides.
        _ => Ok(()),
    }
}

/// The service's port answers at `ip` (with 2xx/3xx on the healthcheck path, if it has one).
async fn port_ready(s: &DesiredService, ip: Option<&str>) -> bool {
    let Some(port) = s.expose else { return true };
    let Some(ip) = ip else { return false };
    if let Some(path) = s.healthcheck.as_ref().and_then(|h| h.path.as_ref()) {
        return probe::http_status(ip, port, path, s.host.as_deref()).await.is_some_and(|c| (200..400).contains(&c));
    }
    probe::port_open(ip, port).await
}
