//! The Provider Abstraction Layer (seed 003): what every deploy target implements. The core
//! plans against it; providers (Docker, AWS) live in the CLI crate, so the core and the
//! language server never link a Docker or AWS client.

pub use crate::observed::{Observed, ObservedResource, ObservedService};
use crate::plan::{Desired, Plan, Step};
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
