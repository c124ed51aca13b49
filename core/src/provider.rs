//! The Provider Abstraction Layer (seed 003): what every deploy target implements. The core
//! plans against it; providers (Docker, AWS) live in the CLI crate, so the core and the
//! language server never link a Docker or AWS client.

use crate::plan::{Desired, Plan, Route, Step};
use std::future::Future;

/// Labels (Docker) and tags (AWS) put on everything nanokit creates (SPEC §6).
pub mod labels {
    pub const PROJECT: &str = "nk-project";
    pub const ENV: &str = "nk-env";
    pub const COMPONENT: &str = "nk-component";
    pub const SERVICE: &str = "nk-service";
    pub const CONFIG_HASH: &str = "nk-config-hash";
    /// `service`, `gateway` or `network`.
    pub const ROLE: &str = "nk-role";
    /// The service's host and port, read back to rebuild the shared gateway's routes.
    pub const HOST: &str = "nk-host";
    pub const PORT: &str = "nk-port";
    /// The checkout a service was deployed from (a stable id) and where that is, for messages.
    pub const SOURCE: &str = "nk-source";
    pub const SOURCE_PATH: &str = "nk-source-path";
    /// The settings a gateway was created with (image, host port, bind address).
    pub const GATEWAY_SETTINGS: &str = "nk-gateway-settings";
}

/// A resource found on the platform, with the component that owns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObservedResource {
    pub name: String,
    pub component: Option<String>,
    /// Whether it is running (a gateway); resources that do not run report `true`.
    pub running: bool,
    /// The settings it was created with (a gateway's [`labels::GATEWAY_SETTINGS`]).
    pub settings: Option<String>,
}

impl ObservedResource {
    /// A resource that exists and has no running state or settings to compare.
    pub fn present(name: impl Into<String>, component: Option<String>) -> Self {
        ObservedResource { name: name.into(), component, running: true, settings: None }
    }
}

/// A service instance found on the platform (a container, an ECS service…).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObservedService {
    pub service: String,
    /// Platform name (container name, ECS service name).
    pub name: String,
    pub component: String,
    pub config_hash: String,
    pub running: bool,
    pub host: Option<String>,
    pub port: Option<u16>,
    /// `nk-source` / `nk-source-path`: the checkout it was deployed from (absent on services
    /// deployed before the label existed, which count as another checkout's).
    pub source: Option<String>,
    pub source_path: Option<String>,
}

/// Everything of one cluster (project + environment) on the platform, of every component.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Observed {
    pub network: Option<ObservedResource>,
    pub gateway: Option<ObservedResource>,
    pub services: Vec<ObservedService>,
    /// What the gateway routes now; `None` when it cannot be read.
    pub routes: Option<Vec<Route>>,
    /// Names of the cluster's volumes.
    pub volumes: Vec<String>,
    /// Services of this component that the last deploy changed but never saw ready (read
    /// from the state file, not the platform): they are planned again even with an unchanged
    /// configuration, so a re-run after a failure retries instead of reporting "up to date".
    pub unready: Vec<String>,
}

/// Progress and results a provider reports while applying a step.
pub trait Reporter: Send + Sync {
    fn step_started(&self, step: &Step);
    fn step_finished(&self, step: &Step, result: &Result<(), ProviderError>);
    fn note(&self, message: &str);
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderError {
    pub message: String,
    /// Extra lines shown under the error (e.g. the last log lines of a failing container).
    pub details: Vec<String>,
}

impl ProviderError {
    pub fn new(message: impl Into<String>) -> Self {
        ProviderError { message: message.into(), details: Vec::new() }
    }
}

impl std::fmt::Display for ProviderError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)?;
        for line in &self.details {
            write!(f, "\n  | {line}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ProviderError {}

/// One deploy target. Methods are async; the CLI drives them on tokio.
pub trait Provider: Send + Sync {
    /// Whether services may start while the gateway is still being created. Docker's gateway
    /// only routes to services, so it can come up beside them; on AWS services register with
    /// the load balancer and run in the cluster the gateway step creates, so they wait.
    fn services_need_gateway(&self) -> bool {
        true
    }
    /// Where this provider deploys, for the plan header (`docker engine unix:///…`).
    fn target(&self) -> String {
        String::new()
    }
    /// Checks that change nothing, run before the first step: a deploy that cannot succeed
    /// (the gateway's host port is taken, say) fails before it has created anything.
    fn preflight(&self, plan: &Plan, desired: &Desired) -> impl Future<Output = Result<(), ProviderError>> + Send {
        let _ = (plan, desired);
        async { Ok(()) }
    }
    /// Resource discovery: everything tagged with this cluster's project and environment.
    fn observe(&self, desired: &Desired) -> impl Future<Output = Result<Observed, ProviderError>> + Send;
    /// Orchestration: carry out one step (create network, recreate a service, update routes…).
    fn apply(&self, step: &Step, desired: &Desired) -> impl Future<Output = Result<(), ProviderError>> + Send;
    /// Health monitoring: wait until a service is ready to receive traffic, or fail with why.
    fn wait_ready(
        &self,
        service: &crate::plan::DesiredService,
        desired: &Desired,
    ) -> impl Future<Output = Result<(), ProviderError>> + Send;
}
