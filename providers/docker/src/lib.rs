//! `provider: docker` on a real engine through bollard: a network per cluster, a Caddy
//! gateway, one container per service, everything labelled for ownership (SPEC §6).

pub mod copy;
pub mod engine;
pub mod factory;
pub mod gateway;
pub mod guard;
pub mod live;
pub mod lock;
mod operations;
pub mod probe;
pub mod ssh;

use bollard::container::{
    Config, CreateContainerOptions, DownloadFromContainerOptions, ListContainersOptions, LogOutput, LogsOptions, RemoveContainerOptions,
    StartContainerOptions, UploadToContainerOptions,
};
use bollard::exec::{CreateExecOptions, StartExecResults};
use bollard::image::CreateImageOptions;
use bollard::models::{
    ContainerSummary, EndpointSettings, HealthConfig, HostConfig, Mount, MountTypeEnum, PortBinding, RestartPolicy, RestartPolicyNameEnum,
};
use bollard::network::{CreateNetworkOptions, ListNetworksOptions};
use bollard::volume::CreateVolumeOptions;
use bollard::Docker;
pub use factory::DockerFactory;
use futures_util::StreamExt;
use nanokit_core::model::SecretDelivery;
use nanokit_core::names::injected;
use nanokit_core::ownership::{Intent, ObjectKind};
use nanokit_core::plan::{Action, Desired, DesiredService, Plan, Route, Step, APP_DIR};
use nanokit_deploy::lock::LockInfo;
use nanokit_deploy::provider::{
    labels, Capabilities, HeldLock, LockPlace, LogLine, LogRequest, Observed, ObservedResource, ObservedService, Provider, ProviderError,
    Reporter, StatusRow,
};
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
    /// `NANOKIT_GATEWAY_BIND`: host address the gateway ports bind to.
    pub gateway_bind: String,
    /// `--gateway-https-port` / `NANOKIT_GATEWAY_HTTPS_PORT`: the host port of HTTPS.
    pub gateway_https_port: u16,
    /// `--tls` / `NANOKIT_GATEWAY_TLS`: plain HTTP, or HTTPS with automatic certificates.
    pub tls: gateway::Tls,
    /// How long a service may take to become ready.
    pub ready_timeout: Duration,
    /// How long a container gets to exit after SIGTERM before it is killed, when it is
    /// replaced or removed (docker compose's default too).
    pub stop_grace: Duration,
}

impl DockerSettings {
    /// The gateway's settings as one label value (`image|bind:port`, then
    /// `|https=PORT|tls=MODE` when it serves HTTPS): a gateway created with other settings is
    /// recreated by its owner. (Plain HTTP keeps the first form, so gateways made before HTTPS
    /// existed are not recreated for nothing.)
    pub fn gateway_fingerprint(&self) -> String {
        let plain = format!("{}|{}:{}", self.gateway_image, self.gateway_bind, self.gateway_port);
        match self.tls {
            gateway::Tls::Off => plain,
            tls => format!("{plain}|https={}|tls={}", self.gateway_https_port, tls.as_str()),
        }
    }

    /// How a gateway made with these settings serves.
    pub fn serving(&self) -> gateway::Serving {
        gateway::Serving { tls: self.tls, http_port: self.gateway_port, https_port: self.gateway_https_port }
    }

    /// The settings a gateway was made with, from its fingerprint (`base` for the rest).
    pub fn from_fingerprint(fingerprint: &str, base: &DockerSettings) -> Option<DockerSettings> {
        let mut fields = fingerprint.split('|');
        let image = fields.next()?.to_string();
        let (bind, port) = fields.next()?.rsplit_once(':')?;
        let mut settings = DockerSettings {
            gateway_image: image,
            gateway_bind: bind.to_string(),
            gateway_port: port.parse().ok()?,
            tls: gateway::Tls::Off,
            ..base.clone()
        };
        for field in fields {
            if let Some(https) = field.strip_prefix("https=") {
                settings.gateway_https_port = https.parse().ok()?;
            } else if let Some(tls) = field.strip_prefix("tls=") {
                settings.tls = if tls == "internal" { gateway::Tls::Internal } else { gateway::Tls::Auto };
            }
        }
        Some(settings)
    }

    /// Defaults for an engine: a local one publishes plain HTTP on 127.0.0.1:80; a remote one
    /// (a VPS) HTTP and HTTPS on all its interfaces, with automatic certificates.
    pub fn for_engine(remote: bool) -> DockerSettings {
        let local = DockerSettings::default();
        if !remote {
            return local;
        }
        DockerSettings { gateway_bind: "0.0.0.0".into(), tls: gateway::Tls::Auto, ..local }
    }
}

/// Where a gateway with this fingerprint serves: its scheme and host port, for the URLs shown.
pub fn fingerprint_served(fingerprint: &str) -> Option<(&'static str, u16)> {
    let made = DockerSettings::from_fingerprint(fingerprint, &DockerSettings::default())?;
    Some(match made.tls {
        gateway::Tls::Off => ("http", made.gateway_port),
        _ => ("https", made.gateway_https_port),
    })
}

/// The URL of `host` on a gateway with this fingerprint (`http://shop.localhost:8080`; the
/// port only when it is not the scheme's own).
pub fn served_url(fingerprint: &str, host: &str) -> String {
    let (scheme, port) = fingerprint_served(fingerprint).unwrap_or(("http", 80));
    let default_port = if scheme == "https" { 443 } else { 80 };
    let shown = if port == default_port { String::new() } else { format!(":{port}") };
    format!("{scheme}://{host}{shown}")
}

impl Default for DockerSettings {
    fn default() -> Self {
        DockerSettings {
            gateway_image: "caddy:2-alpine".into(),
            gateway_port: 80,
            gateway_bind: "127.0.0.1".into(),
            gateway_https_port: 443,
            tls: gateway::Tls::Off,
            ready_timeout: Duration::from_secs(60),
            stop_grace: Duration::from_secs(10),
        }
    }
}

pub struct DockerProvider {
    docker: Docker,
    engine: engine::Engine,
    /// The way to a remote engine over SSH; it lives as long as the provider.
    tunnel: Option<ssh::SshTunnel>,
    settings: DockerSettings,
    /// The folder of nanokit.yml, to show service paths relative to it.
    project_dir: std::path::PathBuf,
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

/// The first line of what [`engine_err`] adds when the engine stopped answering.
const ENGINE_LOST: &str = "the Docker engine stopped answering";

/// Whether an error's text says the engine (or the way to it) went away, rather than that
/// the engine answered with an error.
pub fn is_transport_failure(text: &str) -> bool {
    text.contains(ENGINE_LOST) || text.contains("cannot reach the Docker engine") || text.contains("hyper legacy client")
}

/// `err` for a failed engine call, with what to do when the engine itself stopped answering.
fn engine_err(context: impl std::fmt::Display, e: &bollard::errors::Error) -> ProviderError {
    let mut pe = err(context, e);
    if engine_lost(e) {
        pe.details.push(format!("{ENGINE_LOST} (restarted or stopped?); once `docker info` works again, run `nkdev up` to converge"));
    }
    pe
}

fn is_not_found(e: &bollard::errors::Error) -> bool {
    matches!(e, bollard::errors::Error::DockerResponseServerError { status_code: 404, .. })
}

impl DockerProvider {
    /// Connect to `engine` (over SSH when it is an `ssh://` one) and negotiate the API version,
    /// so an older engine (API 1.41 on Debian) is spoken to in its own version.
    pub async fn connect(engine: engine::Engine, settings: DockerSettings) -> Result<Self, ProviderError> {
        use nanokit_core::engine_host::EngineAddress;
        let hint = match &engine.address {
            EngineAddress::Ssh(dest) => format!("is the Docker engine running there? (`ssh {dest} docker info`)"),
            _ => "is the Docker engine running? (`sudo dockerd` or `systemctl start docker`)".to_string(),
        };
        const TIMEOUT_SECS: u64 = 120;
        let mut tunnel = None;
        let docker = match &engine.address {
            EngineAddress::Unix(path) => Docker::connect_with_socket(&path.to_string_lossy(), TIMEOUT_SECS, bollard::API_DEFAULT_VERSION),
            EngineAddress::Tcp(addr) => Docker::connect_with_http(addr, TIMEOUT_SECS, bollard::API_DEFAULT_VERSION),
            EngineAddress::Ssh(dest) => {
                let home = nanokit_deploy::state::nanokit_home().map_err(|e| ProviderError::new(format!("{e:#}")))?;
                let opened = ssh::SshTunnel::open(dest, &home.join("ssh")).await.map_err(ProviderError::new)?;
                let socket = opened.socket();
                tunnel = Some(opened);
                ssh::pooled_client(socket, TIMEOUT_SECS)
            }
        }
        .map_err(|e| engine_err(format!("cannot connect to the Docker engine at {engine}; {hint}"), &e))?;
        let docker = match docker.negotiate_version().await {
            Ok(d) => d,
            Err(e) => {
                // Over SSH, what the remote side said is the useful part.
                if let Some(problem) = tunnel.as_ref().and_then(|t| t.problem()) {
                    return Err(ProviderError::new(format!("cannot reach the Docker engine at {engine}: {problem}")));
                }
                return Err(engine_err(format!("cannot reach the Docker engine at {engine}; {hint}"), &e));
            }
        };
        Ok(DockerProvider {
            docker,
            engine,
            tunnel,
            settings,
            project_dir: std::path::PathBuf::from("."),
            images_present: Default::default(),
        })
    }

    /// The engine this provider talks to (`unix:///var/run/docker.sock`, `ssh://deploy@vps`).
    pub fn engine(&self) -> &engine::Engine {
        &self.engine
    }

    pub fn settings(&self) -> &DockerSettings {
        &self.settings
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
        let (from_image, tag) = split_image_ref(image);
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
    /// being replaced gets to finish its requests and flush its data. Only ever called on a
    /// container the guard has let through (or that this deploy has just created).
    async fn remove_container(&self, name: &str) -> Result<(), ProviderError> {
        let grace = bollard::container::StopContainerOptions { t: self.settings.stop_grace.as_secs() as i64 };
        // Errors are 304 (already stopped) or 404 (gone); any other, the removal reports.
        let _ = self.docker.stop_container(name, Some(grace)).await;
        match self.docker.remove_container(name, Some(RemoveContainerOptions { force: true, ..Default::default() })).await {
            Ok(()) => Ok(()),
            Err(e) if is_not_found(&e) => Ok(()),
            Err(e) => Err(engine_err(format!("cannot remove container `{name}`"), &e)),
        }
    }

    /// Create and start the service's container under `name` (its instance name, or the
    /// temporary name of a replacement).
    async fn create_service(&self, s: &DesiredService, desired: &Desired, name: &str) -> Result<(), ProviderError> {
        self.ensure_image(&s.image).await?;
        let mut env: Vec<String> = s.env.iter().map(|(k, v)| format!("{k}={v}")).collect();
        // Transparent metadata (seed 003): where the service runs, for cloud-aware apps.
        env.push(format!("{}=docker", injected::PROVIDER));
        env.push(format!("{}={}", injected::NETWORK, desired.cluster.network));
        env.push(format!("{}={}", injected::CONTAINER, s.instance));
        // Secrets read by this deploy: as variables (visible to `docker inspect`, as with
        // Compose's `environment`), or as files under /run/secrets with `<NAME>_FILE` naming them.
        let mut secret_files: Vec<(&str, &str)> = Vec::new();
        for (key, secret) in &s.secrets {
            let Some(value) = &secret.value else {
                return Err(ProviderError::new(format!("service `{}`: secret `{key}` ({}) was not read", s.name, secret.secret.source)));
            };
            match secret.secret.delivery {
                SecretDelivery::Env => env.push(format!("{key}={}", value.expose())),
                SecretDelivery::File => {
                    env.push(format!("{key}_FILE={}/{key}", nanokit_core::secrets::SECRET_FILE_DIR));
                    secret_files.push((key, value.expose()));
                }
            }
        }
        let secret_files = if secret_files.is_empty() {
            None
        } else {
            Some(copy::secret_files(&secret_files).map_err(|e| err(format!("service `{}`: secret files", s.name), e))?)
        };
        let mut container_labels = Self::base_labels(desired, "service");
        container_labels.insert(labels::SERVICE.into(), s.name.clone());
        container_labels.insert(labels::CONFIG_HASH.into(), s.config_hash.clone());
        container_labels.insert(labels::SOURCE.into(), desired.cluster.source.id.clone());
        container_labels.insert(labels::SOURCE_PATH.into(), desired.cluster.source.describe.clone());
        if let (Some(host), Some(port)) = (&s.host, s.expose) {
            container_labels.insert(labels::HOST.into(), host.clone());
            container_labels.insert(labels::PORT.into(), port.to_string());
        }
        let mut binds: Vec<String> =
            s.volumes.iter().map(|v| format!("{}:{}{}", v.name, v.target, if v.read_only { ":ro" } else { "" })).collect();
        // Mounts, not bind strings: a file name may hold `:` or `,`.
        let mut masks: Vec<Mount> = Vec::new();
        // A remote engine cannot mount a folder of this machine: its files are archived now
        // (an unreadable file fails here, before any container exists) and copied in after create.
        let copy = match &s.mount {
            Some(mount) => {
                let absolute =
                    std::fs::canonicalize(mount).map_err(|e| err(format!("service `{}`: path {}", s.name, mount.display()), e))?;
                if self.engine.is_remote() {
                    let tar = copy::archive(&absolute, APP_DIR)
                        .map_err(|e| err(format!("service `{}`: cannot read {}", s.name, absolute.display()), e))?;
                    Some((absolute, tar))
                } else {
                    binds.push(format!("{}:{APP_DIR}", absolute.display()));
                    // The .env files beside the code hold the deploying machine's secrets.
                    for name in copy::dotenv_files(&absolute) {
                        masks.push(Mount {
                            target: Some(format!("{APP_DIR}/{name}")),
                            source: Some("/dev/null".into()),
                            typ: Some(MountTypeEnum::BIND),
                            read_only: Some(true),
                            ..Default::default()
                        });
                    }
                    None
                }
            }
            None => None,
        };
        let healthcheck = s.healthcheck.as_ref().and_then(|h| {
            let cmd = h.cmd.as_ref()?;
            // Bounded by NK054 (at most a day), and checked here too: never a wrapped value.
            let ns = |d: &Option<nanokit_core::model::Duration>| {
                d.as_ref().and_then(|d| d.as_millis()).and_then(|ms| ms.checked_mul(1_000_000)).and_then(|ns| i64::try_from(ns).ok())
            };
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
            cmd: live::container_command(s).map(|c| vec!["sh".to_string(), "-c".to_string(), c]),
            working_dir: s.mount.as_ref().map(|_| APP_DIR.to_string()),
            labels: Some(container_labels),
            healthcheck,
            host_config: Some(HostConfig {
                binds: Some(binds),
                mounts: (!masks.is_empty()).then_some(masks),
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
                    // A replacement gets no alias: nothing is sent to it before it is ready. Once
                    // renamed, the engine's DNS answers for it by its container name.
                    EndpointSettings { aliases: (name == s.instance).then(|| vec![s.instance.clone()]), ..Default::default() },
                )]),
            }),
            ..Default::default()
        };
        self.docker
            .create_container(Some(CreateContainerOptions { name: name.to_string(), platform: None }), config)
            .await
            .map_err(|e| engine_err(format!("cannot create container `{name}`"), &e))?;
        let started = async {
            if let Some((folder, tar)) = copy {
                self.extract_at_root(name, tar)
                    .await
                    .map_err(|e| engine_err(format!("cannot copy {} into `{name}`", folder.display()), &e))?;
            }
            if let Some(tar) = secret_files {
                self.extract_at_root(name, tar)
                    .await
                    .map_err(|e| engine_err(format!("cannot copy the secret files of `{}` into `{name}`", s.name), &e))?;
            }
            self.docker
                .start_container(name, None::<StartContainerOptions<String>>)
                .await
                .map_err(|e| engine_err(format!("cannot start `{name}`"), &e))
        };
        if let Err(e) = started.await {
            // This deploy just created it: never left behind half-made (without its files) for
            // another machine's `up` to start as it is.
            let _ = self.remove_container(name).await;
            return Err(e);
        }
        Ok(())
    }

    /// Replace a running service without taking it down when the replacement cannot start:
    /// the new container is created under a temporary name and waited for; only when it is
    /// ready is the old one removed and the new one renamed. A service with named volumes may
    /// hold files the new one needs (a database's data directory), so the old one is stopped
    /// first, and started again if the new one fails.
    async fn replace_service(&self, s: &DesiredService, desired: &Desired) -> Result<(), ProviderError> {
        let next = guard::replacement_name(&s.instance);
        // A replacement left by an interrupted deploy (the guard let it through: it is ours).
        self.remove_container(&next).await?;
        let exclusive = !s.volumes.is_empty();
        // Only a service that was running is started again if its replacement fails.
        let was_running =
            self.docker.inspect_container(&s.instance, None).await.ok().and_then(|c| c.state.and_then(|st| st.running)).unwrap_or(false);
        if exclusive {
            let grace = bollard::container::StopContainerOptions { t: self.settings.stop_grace.as_secs() as i64 };
            let _ = self.docker.stop_container(&s.instance, Some(grace)).await;
        }
        let started = match self.create_service(s, desired, &next).await {
            Ok(()) => self.wait_ready_as(s, desired, &next).await,
            Err(e) => Err(e),
        };
        if let Err(mut e) = started {
            let _ = self.remove_container(&next).await;
            let restarted =
                !exclusive || !was_running || self.docker.start_container(&s.instance, None::<StartContainerOptions<String>>).await.is_ok();
            e.details.push(if restarted {
                format!("the running `{}` was left as it was", s.name)
            } else {
                format!("the previous `{}` could not be started again; run `nkdev up` once the cause is fixed", s.name)
            });
            return Err(e);
        }
        self.remove_container(&s.instance).await?;
        self.docker
            .rename_container(&next, bollard::container::RenameContainerOptions { name: s.instance.clone() })
            .await
            .map_err(|e| engine_err(format!("cannot rename `{next}` to `{}`", s.instance), &e))
    }

    async fn create_gateway(&self, desired: &Desired) -> Result<(), ProviderError> {
        self.create_gateway_with(desired, &self.settings).await
    }

    /// Create and start the gateway as `settings` say (this command's, or those of the gateway
    /// being replaced, to put it back).
    async fn create_gateway_with(&self, desired: &Desired, settings: &DockerSettings) -> Result<(), ProviderError> {
        let image = &settings.gateway_image;
        self.ensure_image(image).await?;
        let mut gateway_labels = Self::base_labels(desired, "gateway");
        gateway_labels.insert(labels::GATEWAY_SETTINGS.into(), settings.gateway_fingerprint());
        let publish = |container: u16, host: u16| {
            (
                format!("{container}/tcp"),
                Some(vec![PortBinding { host_ip: Some(settings.gateway_bind.clone()), host_port: Some(host.to_string()) }]),
            )
        };
        let ports: HashMap<_, _> = settings.serving().published().into_iter().map(|(inside, host)| publish(inside, host)).collect();
        let mut binds = Vec::new();
        if settings.tls != gateway::Tls::Off {
            // Certificates and the gateway CA outlive the container: a recreated gateway keeps
            // serving the same certificates instead of asking the CA (and its rate limits) again.
            let volume = guard::gateway_data_volume(&desired.cluster);
            if !self.guard(desired, &guard::Target::gateway_data(&desired.cluster)).await? {
                let options =
                    CreateVolumeOptions { name: volume.clone(), labels: Self::base_labels(desired, "gateway"), ..Default::default() };
                self.docker.create_volume(options).await.map_err(|e| engine_err(format!("cannot create volume `{volume}`"), &e))?;
            }
            binds.push(format!("{volume}:{}", gateway::DATA_DIR));
        }
        let config = Config {
            image: Some(image.clone()),
            cmd: Some(vec!["caddy".into(), "run".into(), "--config".into(), gateway::CONFIG_FILE.into(), "--resume".into()]),
            entrypoint: Some(vec![]),
            env: Some(vec![format!("XDG_DATA_HOME={}", gateway::DATA_DIR)]),
            labels: Some(gateway_labels),
            exposed_ports: Some(ports.keys().map(|p| (p.clone(), HashMap::new())).collect()),
            host_config: Some(HostConfig {
                network_mode: Some(desired.cluster.network.clone()),
                binds: Some(binds),
                port_bindings: Some(ports),
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
        let started = match self.upload_config(name, gateway::CONFIG_FILE_NAME, &[], &settings.serving()).await {
            Ok(()) => self.docker.start_container(name, None::<StartContainerOptions<String>>).await.map_err(|e| {
                let mut pe = engine_err(format!("cannot start gateway `{name}`"), &e);
                if e.to_string().contains("address already in use") || e.to_string().contains("port is already allocated") {
                    // Taken after the preflight looked, or on a remote engine's host.
                    pe.details.push(port_taken(settings));
                }
                pe
            }),
            Err(e) => Err(e),
        };
        if started.is_err() {
            // A gateway that exists but cannot start would be kept by the next plan as if it
            // worked; removing it (this deploy just created it) makes the next `up` create it again.
            let _ = self.remove_container(name).await;
        }
        started
    }

    async fn upload_config(
        &self,
        gateway: &str,
        file_name: &str,
        routes: &[Route],
        serving: &gateway::Serving,
    ) -> Result<(), ProviderError> {
        let tar = gateway::archive(&gateway::config(routes, serving), file_name).map_err(|e| err("cannot build the gateway config", e))?;
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

    /// The new routes go to a staging file first; only once Caddy has loaded them do they
    /// become the config file that `observe` reads back. A rejected reload therefore leaves the
    /// file saying what the gateway really serves, and the next plan retries.
    async fn update_routes(&self, desired: &Desired, routes: &[Route]) -> Result<(), ProviderError> {
        let gw = &desired.cluster.gateway;
        // Served as the gateway was made to serve (a shared repo's settings may differ from
        // the owner's, who made it).
        let made_with = self.existing_labels(guard::Object::Container, gw).await?.unwrap_or_default();
        let serving = made_with
            .get(labels::GATEWAY_SETTINGS)
            .and_then(|f| DockerSettings::from_fingerprint(f, &self.settings))
            .map_or(gateway::Serving { tls: gateway::Tls::Off, http_port: gateway::LISTEN_PORT, https_port: 443 }, |s| s.serving());
        self.upload_config(gw, gateway::STAGING_FILE_NAME, routes, &serving).await?;
        // `--force`: Caddy skips a reload whose config it thinks unchanged, and ours changed on disk.
        let (code, output) =
            self.exec(gw, vec!["caddy".into(), "reload".into(), "--config".into(), gateway::STAGING_FILE.into(), "--force".into()]).await?;
        if code != 0 {
            let mut e = ProviderError::new(format!("gateway `{gw}` rejected its new routes (caddy reload exited {code})"));
            e.details = output.lines().rev().take(10).map(str::to_string).collect::<Vec<_>>().into_iter().rev().collect();
            return Err(e);
        }
        self.upload_config(gw, gateway::CONFIG_FILE_NAME, routes, &serving).await
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

    /// Extract a tar archive at `/` of a container (created, running or stopped alike).
    async fn extract_at_root(&self, container: &str, tar: Vec<u8>) -> Result<(), bollard::errors::Error> {
        self.docker
            .upload_to_container(container, Some(UploadToContainerOptions { path: "/".to_string(), ..Default::default() }), tar.into())
            .await
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
        since: Option<i64>,
    ) -> impl futures_util::Stream<Item = Result<LogOutput, bollard::errors::Error>> + use<> {
        self.docker.logs(
            container,
            Some(LogsOptions {
                stdout: true,
                stderr: true,
                follow,
                tail: tail.map_or_else(|| "all".to_string(), |n| n.to_string()),
                since: since.unwrap_or(0),
                ..Default::default()
            }),
        )
    }
}

/// What the Docker provider does beyond a plan (one home: the factory lists it too).
pub const CAPABILITIES: Capabilities =
    Capabilities { status: true, logs: true, lock: true, volumes: true, services_need_gateway: false, restart: true };

fn label<'a>(c: &'a ContainerSummary, key: &str) -> Option<&'a String> {
    c.labels.as_ref()?.get(key)
}

#[async_trait::async_trait]
impl Provider for DockerProvider {
    fn id(&self) -> &str {
        "docker"
    }

    fn capabilities(&self) -> Capabilities {
        CAPABILITIES
    }

    async fn prepare(&self, desired: &mut Desired, deploying: bool) -> Result<(), ProviderError> {
        self.fit(desired, deploying)
    }

    fn plan_notes(&self, desired: &Desired) -> Vec<String> {
        self.copy_notes(desired)
    }

    async fn status(&self, desired: &Desired) -> Result<Vec<StatusRow>, ProviderError> {
        self.status_rows(desired).await
    }

    fn logs<'a>(
        &'a self,
        desired: &'a Desired,
        request: LogRequest,
    ) -> futures_util::stream::BoxStream<'a, Result<LogLine, ProviderError>> {
        self.log_lines(desired, request)
    }

    async fn lock(&self, desired: &Desired, holder: &LockInfo) -> Result<Option<Box<dyn HeldLock>>, ProviderError> {
        let c = &desired.cluster;
        let held = lock::acquire(&self.docker, &self.settings.gateway_image, &c.project, &c.env, holder)
            .await
            .map_err(|e| ProviderError::new(format!("{e:#}")))?;
        Ok(Some(Box::new(held)))
    }

    async fn unlock(&self, desired: &Desired, force: bool) -> Result<Option<(Option<LockInfo>, LockPlace)>, ProviderError> {
        let c = &desired.cluster;
        let held = lock::unlock(&self.docker, &c.project, &c.env, force).await.map_err(|e| ProviderError::new(format!("{e:#}")))?;
        Ok(Some((held, format!("container {} on the Docker engine", lock::container_name(&c.project, &c.env)))))
    }

    async fn restart(&self, desired: &Desired, services: &[String], reinstall: bool, reporter: &dyn Reporter) -> Result<(), ProviderError> {
        self.restart_services(desired, services, reinstall, reporter).await
    }

    fn changes<'a>(&'a self, desired: &'a Desired, _poll: Duration) -> futures_util::stream::BoxStream<'a, Result<(), ProviderError>> {
        self.container_events(desired)
    }

    async fn remove_volumes(&self, desired: &Desired, reporter: &dyn Reporter) -> Result<(), ProviderError> {
        self.remove_component_volumes(desired, reporter).await
    }

    fn served_notes(&self, desired: &Desired, after: &Observed) -> Vec<String> {
        self.urls(desired, after)
    }

    fn transport_problem(&self, error: &str) -> Option<String> {
        if is_transport_failure(error) {
            self.tunnel.as_ref()?.problem()
        } else {
            None
        }
    }

    fn target(&self) -> String {
        format!("docker engine {}", self.engine)
    }

    /// Everything a deploy needs is checked and fetched before anything is replaced: every
    /// object a step touches passes the ownership guard, every image is present (or pulled),
    /// every mounted path exists, the gateway's host port is free.
    async fn preflight(&self, plan: &Plan, desired: &Desired) -> Result<(), ProviderError> {
        for step in plan.changes() {
            for target in guard::targets(step, desired) {
                self.guard(desired, &target).await?;
            }
        }
        for step in plan.changes() {
            match &step.action {
                Action::Create { service } | Action::Recreate { service } => {
                    let s = desired.service(service).ok_or_else(|| ProviderError::new(format!("no desired service `{service}`")))?;
                    self.ensure_image(&s.image).await.map_err(|mut e| {
                        e.details.push(format!("nothing was changed: `{}` keeps running as it was", s.name));
                        e
                    })?;
                    if let Some(mount) = &s.mount {
                        std::fs::canonicalize(mount).map_err(|e| err(format!("service `{}`: path {}", s.name, mount.display()), e))?;
                    }
                }
                Action::CreateGateway | Action::RecreateGateway => {
                    self.ensure_image(&self.settings.gateway_image).await?;
                    let moves = match &step.action {
                        Action::RecreateGateway => self.gateway_port_changes(desired).await?,
                        _ => true,
                    };
                    if moves && !self.engine.is_remote() {
                        check_gateway_port(&self.settings)?;
                    }
                }
                _ => {}
            }
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
                Some("gateway") => {
                    observed.gateway = Some(ObservedResource {
                        name,
                        component,
                        running: c.state.as_deref() == Some("running"),
                        settings: label(c, labels::GATEWAY_SETTINGS).cloned(),
                    })
                }
                // A replacement being started (`…_next`) is not the service yet; one left by an
                // interrupted deploy makes its service unready, so the next plan replaces it
                // (which removes the leftover) rather than keeping both.
                Some("service")
                    if guard::is_replacement_name(&name) && component.as_deref() == Some(desired.cluster.component.as_str()) =>
                {
                    observed.unready.extend(label(c, labels::SERVICE).cloned());
                }
                Some("service") if guard::is_replacement_name(&name) => {}
                Some("service") => {
                    // Created but never started: a deploy stopped between creating it and
                    // starting it (on a remote engine, while its files were being copied in). Not
                    // to be started as it is: the next plan recreates it.
                    let ours = component.as_deref() == Some(desired.cluster.component.as_str());
                    if ours && c.state.as_deref() == Some("created") {
                        observed.unready.extend(label(c, labels::SERVICE).cloned());
                    }
                    observed.services.push(ObservedService {
                        service: label(c, labels::SERVICE).cloned().unwrap_or_default(),
                        name,
                        component: component.unwrap_or_default(),
                        config_hash: label(c, labels::CONFIG_HASH).cloned().unwrap_or_default(),
                        running: c.state.as_deref() == Some("running"),
                        host: label(c, labels::HOST).cloned(),
                        port: label(c, labels::PORT).and_then(|p| p.parse().ok()),
                        source: label(c, labels::SOURCE).cloned(),
                        source_path: label(c, labels::SOURCE_PATH).cloned(),
                    });
                }
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
            let labels_of = n.labels.unwrap_or_default();
            // Adopted only when it is this cluster's (the guard says why not, naming the owner).
            let found = nanokit_core::ownership::Labels::from_lookup(|k| labels_of.get(k).map(String::as_str));
            nanokit_core::ownership::check(&desired.cluster, ObjectKind::Infra, Intent::Adopt, "network", &desired.cluster.network, &found)
                .map_err(|c| ProviderError::new(c.to_string()))?;
            observed.network = Some(ObservedResource::present(desired.cluster.network.clone(), found.component));
        }
        if let Some(gw) = &observed.gateway {
            observed.routes = self.current_routes(&gw.name).await;
        }
        // This component's volumes only: another component's volume of the same name is a
        // conflict the guard reports, never a volume to mount.
        let mut filters = Self::cluster_filters(desired);
        filters.entry("label".into()).or_default().push(format!("{}={}", labels::COMPONENT, desired.cluster.component));
        // Services' volumes only: the gateway's certificates are never a volume to mount.
        filters.entry("label".into()).or_default().push(format!("{}=volume", labels::ROLE));
        let volumes = self
            .docker
            .list_volumes(Some(bollard::volume::ListVolumesOptions { filters }))
            .await
            .map_err(|e| engine_err("cannot list volumes", &e))?;
        observed.volumes = volumes.volumes.unwrap_or_default().into_iter().map(|v| v.name).collect();
        Ok(observed)
    }

    async fn apply(&self, step: &Step, desired: &Desired) -> Result<(), ProviderError> {
        let cluster = &desired.cluster;
        // The ownership guard, again at the moment of change (the preflight ran it for every
        // step before the first one): an object that appeared meanwhile is refused too.
        let mut exists = Vec::new();
        for target in guard::targets(step, desired) {
            exists.push(self.guard(desired, &target).await?);
        }
        let first_exists = exists.first().copied().unwrap_or(false);
        match &step.action {
            Action::CreateNetwork if first_exists => Ok(()),
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
            Action::CreateVolume { .. } if first_exists => Ok(()),
            Action::CreateVolume { name } => {
                let options =
                    CreateVolumeOptions { name: name.clone(), labels: Self::base_labels(desired, "volume"), ..Default::default() };
                self.docker.create_volume(options).await.map(|_| ()).map_err(|e| engine_err(format!("cannot create volume `{name}`"), &e))
            }
            Action::Create { service } => {
                let s = desired.service(service).ok_or_else(|| ProviderError::new(format!("no desired service `{service}`")))?;
                // Ours (the guard let them through) but not observed: left by an interrupted deploy.
                if first_exists {
                    self.remove_container(&s.instance).await?;
                }
                if exists.get(1).copied().unwrap_or(false) {
                    self.remove_container(&guard::replacement_name(&s.instance)).await?;
                }
                self.create_service(s, desired, &s.instance).await
            }
            Action::Recreate { service } => {
                let s = desired.service(service).ok_or_else(|| ProviderError::new(format!("no desired service `{service}`")))?;
                self.replace_service(s, desired).await
            }
            Action::Start { service } => {
                let s = desired.service(service).ok_or_else(|| ProviderError::new(format!("no desired service `{service}`")))?;
                self.docker
                    .start_container(&s.instance, None::<StartContainerOptions<String>>)
                    .await
                    .map_err(|e| engine_err(format!("cannot start `{}`", s.instance), &e))
            }
            Action::Keep { .. } => Ok(()),
            Action::Remove { instance, .. } => {
                // With the replacement an interrupted deploy may have left beside it.
                if exists.get(1).copied().unwrap_or(false) {
                    self.remove_container(&guard::replacement_name(instance)).await?;
                }
                self.remove_container(instance).await
            }
            Action::UpdateRoutes { routes } => self.update_routes(desired, routes).await,
            Action::StartGateway => self
                .docker
                .start_container(&cluster.gateway, None::<StartContainerOptions<String>>)
                .await
                .map_err(|e| engine_err(format!("cannot start gateway `{}`", cluster.gateway), &e)),
            Action::RecreateGateway => {
                // The settings it was made with, to make it again if the new one cannot start
                // (its ports taken on a remote host, where the preflight cannot look).
                let made_with = self.existing_labels(guard::Object::Container, &cluster.gateway).await?.unwrap_or_default();
                let previous = made_with.get(labels::GATEWAY_SETTINGS).and_then(|f| DockerSettings::from_fingerprint(f, &self.settings));
                self.remove_container(&cluster.gateway).await?;
                match self.create_gateway_with(desired, &self.settings).await {
                    Ok(()) => Ok(()),
                    Err(mut e) => {
                        let restored = match &previous {
                            Some(old) => self.create_gateway_with(desired, old).await.is_ok(),
                            None => false,
                        };
                        e.details.push(if restored {
                            "the previous gateway was made again with its old settings; its routes follow at the next `nkdev up`"
                                .to_string()
                        } else {
                            "the gateway could not be made again; fix the cause and run `nkdev up`".to_string()
                        });
                        Err(e)
                    }
                }
            }
            Action::RemoveGateway => self.remove_container(&cluster.gateway).await,
            Action::RemoveNetwork => match self.docker.remove_network(&cluster.network).await {
                Err(e) if !is_not_found(&e) => Err(engine_err(format!("cannot remove network `{}`", cluster.network), &e)),
                _ => Ok(()),
            },
        }
    }

    async fn wait_ready(&self, s: &DesiredService, desired: &Desired) -> Result<(), ProviderError> {
        self.wait_ready_as(s, desired, &s.instance).await
    }
}

impl DockerProvider {
    /// Wait until the container `container` of service `s` is ready.
    async fn wait_ready_as(&self, s: &DesiredService, desired: &Desired, container: &str) -> Result<(), ProviderError> {
        let deadline = Instant::now() + self.settings.ready_timeout;
        let mut why = String::from("not started");
        // Most services are ready within a few hundred milliseconds: poll fast at first,
        // then back off, so a quick service is not held up by the polling interval.
        let mut pause = Duration::from_millis(20);
        while Instant::now() < deadline {
            let info = self
                .docker
                .inspect_container(container, None)
                .await
                .map_err(|e| engine_err(format!("cannot inspect `{container}`"), &e))?;
            // The same inspect gives the address to probe: one engine call per poll, not two,
            // while the engine is busy creating the rest of the deploy's containers.
            let ip = info
                .network_settings
                .as_ref()
                .and_then(|n| n.networks.as_ref()?.get(&desired.cluster.network)?.ip_address.clone())
                .filter(|ip| !ip.is_empty());
            let state = info.state.unwrap_or_default();
            let pid = state.pid.unwrap_or(0);
            // Under `unless-stopped` a crashing service restarts in a loop: it never "exits".
            let crashing = state.restarting == Some(true) || (info.restart_count.unwrap_or(0) > 0 && state.exit_code.unwrap_or(0) != 0);
            if crashing {
                let mut e = ProviderError::new(format!(
                    "service `{}` keeps exiting (exit code {}) before it is ready; its last log lines:",
                    s.name,
                    state.exit_code.unwrap_or(-1)
                ));
                e.details = self.tail(container, 20).await;
                return Err(e);
            }
            if state.running != Some(true) {
                if state.status.map(|s| s.to_string()).as_deref() == Some("exited") || state.exit_code.unwrap_or(0) != 0 {
                    let mut e = ProviderError::new(format!(
                        "service `{}` exited with code {} before it was ready; its last log lines:",
                        s.name,
                        state.exit_code.unwrap_or(-1)
                    ));
                    e.details = self.tail(container, 20).await;
                    return Err(e);
                }
                why = "not running yet".into();
            } else if let Some(health) = state
                .health
                .and_then(|h| h.status)
                .filter(|h| *h != bollard::models::HealthStatusEnum::NONE && *h != bollard::models::HealthStatusEnum::EMPTY)
            {
                if health == bollard::models::HealthStatusEnum::HEALTHY {
                    if self.port_ready(s, ip.as_deref(), pid).await {
                        return Ok(());
                    }
                    why = "healthy, but its port is not open".into();
                } else {
                    why = format!("healthcheck status `{health}`");
                }
            } else if self.port_ready(s, ip.as_deref(), pid).await {
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
        e.details = self.tail(container, 20).await;
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
/// (A remote engine publishes on its own host, where this machine's ports say nothing: the
/// caller skips this check for one.)
fn check_gateway_port(settings: &DockerSettings) -> Result<(), ProviderError> {
    let mut ports = vec![settings.gateway_port];
    if settings.tls != gateway::Tls::Off {
        ports.push(settings.gateway_https_port);
    }
    for port in ports {
        match std::net::TcpListener::bind((settings.gateway_bind.as_str(), port)) {
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => {
                return Err(ProviderError {
                    message: format!(
                        "the gateway cannot publish its port: host port {}:{port} is taken; free it, or choose another with --gateway-port / --gateway-https-port",
                        settings.gateway_bind
                    ),
                    details: vec!["nothing was created or changed".into()],
                })
            }
            // Free, or not ours to bind (a port below 1024 without root): the engine decides.
            _ => {}
        }
    }
    Ok(())
}

impl DockerProvider {
    /// The service's port answers at `ip` (with 2xx/3xx on the healthcheck path, if it has
    /// one), seen from where the address means something: this machine for a local engine,
    /// the engine's host for one reached over SSH (the healthcheck path through `ssh -W`; an
    /// open port read from the host's `/proc/<pid>/net/tcp` of the container's process, exact
    /// and needing no forwarding). A `tcp://` engine's containers cannot be reached from here
    /// at all: there, running (and healthy, with a Docker healthcheck) is ready.
    async fn port_ready(&self, s: &DesiredService, ip: Option<&str>, pid: i64) -> bool {
        let Some(port) = s.expose else { return true };
        let Some(ip) = ip else { return false };
        let path = s.healthcheck.as_ref().and_then(|h| h.path.as_ref());
        let ok = |c: u16| (200..400).contains(&c);
        match (&self.tunnel, path) {
            (Some(tunnel), Some(path)) if tunnel.forwarding().await => match tunnel.dial(ip, port) {
                Ok(stream) => {
                    let host = s.host.as_deref().unwrap_or(ip);
                    let status = tokio::time::timeout(Duration::from_secs(2), probe::http_status_over(stream, path, host)).await;
                    status.ok().flatten().is_some_and(ok)
                }
                Err(_) => false,
            },
            (Some(tunnel), _) => tunnel.listening(pid, port).await,
            (None, _) if self.engine.is_remote() => true,
            (None, Some(path)) => probe::http_status(ip, port, path, s.host.as_deref()).await.is_some_and(ok),
            (None, None) => probe::port_open(ip, port).await,
        }
    }
}

/// `repo[:tag]` or `repo@sha256:…` → (image, tag or digest) as the engine's pull wants them.
/// A registry port (`localhost:5000/app`) is not a tag.
pub fn split_image_ref(image: &str) -> (&str, &str) {
    if let Some((name, digest)) = image.split_once('@') {
        // The digest alone picks the image; a tag beside it would be read as part of the name.
        let name = match name.rsplit_once(':').filter(|(_, t)| !t.contains('/')) {
            Some((repo, _tag)) => repo,
            None => name,
        };
        return (name, digest);
    }
    match image.rsplit_once(':').filter(|(_, t)| !t.contains('/')) {
        Some((name, tag)) => (name, tag),
        None => (image, "latest"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_references_split_into_name_and_tag_or_digest() {
        assert_eq!(split_image_ref("busybox"), ("busybox", "latest"));
        assert_eq!(split_image_ref("caddy:2-alpine"), ("caddy", "2-alpine"));
        assert_eq!(split_image_ref("localhost:5000/app"), ("localhost:5000/app", "latest"));
        assert_eq!(split_image_ref("localhost:5000/app:v1"), ("localhost:5000/app", "v1"));
        let digest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
        assert_eq!(split_image_ref(&format!("app@{digest}")), ("app", digest));
        assert_eq!(split_image_ref(&format!("app:v1@{digest}")), ("app", digest));
    }

    #[test]
    fn gateway_fingerprints_carry_where_it_serves() {
        let s = DockerSettings { gateway_port: 8080, ..DockerSettings::default() };
        assert_eq!(s.gateway_fingerprint(), "caddy:2-alpine|127.0.0.1:8080");
        assert_eq!(fingerprint_served(&s.gateway_fingerprint()), Some(("http", 8080)));
        let tls_of = |f: &str| DockerSettings::from_fingerprint(f, &DockerSettings::default()).unwrap().tls;
        assert_eq!(tls_of(&s.gateway_fingerprint()), gateway::Tls::Off);
        let remote = DockerSettings::for_engine(true);
        assert_eq!(remote.gateway_fingerprint(), "caddy:2-alpine|0.0.0.0:80|https=443|tls=auto");
        for made in [&s, &remote, &DockerSettings { gateway_https_port: 8443, tls: gateway::Tls::Internal, ..remote.clone() }] {
            let back = DockerSettings::from_fingerprint(&made.gateway_fingerprint(), &DockerSettings::default()).unwrap();
            assert_eq!(back.gateway_fingerprint(), made.gateway_fingerprint());
        }
        assert_eq!(fingerprint_served(&remote.gateway_fingerprint()), Some(("https", 443)));
        assert_eq!(tls_of(&remote.gateway_fingerprint()), gateway::Tls::Auto);
    }
}
