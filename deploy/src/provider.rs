//! The Provider Abstraction Layer (seed 003): what every deploy target implements, built in
//! (Docker, AWS) or out of process (a `nkdev-provider-<id>` plugin, `crate::plugin`). The
//! trait is object-safe: the front end picks one from the [`crate::registry::Registry`] by
//! the environment's `infra.provider` and never names a concrete provider.

use crate::lock::LockInfo;
use async_trait::async_trait;
use futures_util::stream::BoxStream;
pub use nanokit_core::labels;
pub use nanokit_core::observed::{Observed, ObservedResource, ObservedService};
use nanokit_core::plan::{Desired, DesiredService, Plan, Step};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Progress and results a provider reports while applying a step.
pub trait Reporter: Send + Sync {
    fn step_started(&self, step: &Step);
    fn step_finished(&self, step: &Step, result: &Result<(), ProviderError>);
    fn note(&self, message: &str);
}

/// A reporter that shows nothing (status, logs, tests).
pub struct Silent;

impl Reporter for Silent {
    fn step_started(&self, _: &Step) {}
    fn step_finished(&self, _: &Step, _: &Result<(), ProviderError>) {}
    fn note(&self, _: &str) {}
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ProviderError {
    pub message: String,
    /// Extra lines shown under the error (e.g. the last log lines of a failing container).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
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

/// What a provider can do beyond observe/preflight/apply/wait_ready. The host asks before it
/// calls, so a provider without `logs` gets a clear "not supported" rather than a failure.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Capabilities {
    /// `status` gives a row per service (else the host derives one from `observe`).
    #[serde(default)]
    pub status: bool,
    /// `logs` streams the services' output.
    #[serde(default)]
    pub logs: bool,
    /// `lock`/`unlock` hold the cluster lock on the platform itself (else the host uses a lock
    /// file on this machine).
    #[serde(default)]
    pub lock: bool,
    /// `remove_volumes` removes the deploy's named volumes (`destroy --volumes`).
    #[serde(default)]
    pub volumes: bool,
    /// Whether services must wait for the gateway. Docker's gateway only routes to services,
    /// so it can come up beside them; on AWS services register with the load balancer and
    /// run in the cluster the gateway step creates, so they wait.
    #[serde(default = "yes")]
    pub services_need_gateway: bool,
    /// `restart` restarts a service's process in place, keeping its container (`nkdev
    /// restart`, `nkdev up --watch`).
    #[serde(default)]
    pub restart: bool,
}

fn yes() -> bool {
    true
}

/// One line of `nkdev status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct StatusRow {
    pub service: String,
    pub component: String,
    /// `running`, `exited`, `stopped`, … as the platform says.
    pub state: String,
    /// The platform's health verdict, when it has one.
    #[serde(default)]
    pub health: Option<String>,
    #[serde(default)]
    pub host: Option<String>,
    /// The container, task or process.
    pub instance: String,
    /// Whether it runs this file's configuration (its config hash matches).
    pub up_to_date: bool,
    /// The image it really runs (as the platform names it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// When its process last started, in seconds since the Unix epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<i64>,
    /// When its process last ended (an exited service), in seconds since the Unix epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<i64>,
    /// The exit code of an exited service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i64>,
    /// How often the platform restarted it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restarts: Option<u64>,
    /// Where it is served (`http://shop.localhost`), when it has a host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

impl StatusRow {
    /// A row with the facts every provider knows; the rest are filled in where known.
    pub fn new(service: &str, component: &str, state: &str, instance: &str, up_to_date: bool) -> StatusRow {
        StatusRow {
            service: service.into(),
            component: component.into(),
            state: state.into(),
            health: None,
            host: None,
            instance: instance.into(),
            up_to_date,
            image: None,
            started_at: None,
            finished_at: None,
            exit_code: None,
            restarts: None,
            url: None,
        }
    }
}

/// What `nkdev logs` asks for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct LogRequest {
    /// Services by name; empty: every service of the file.
    pub services: Vec<String>,
    pub follow: bool,
    /// Only the last N lines of each.
    pub tail: Option<usize>,
    /// Only lines written since this time (seconds since the Unix epoch): how `up --watch`
    /// follows a service again after restarting it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct LogLine {
    pub service: String,
    pub line: String,
}

/// A cluster lock held on the platform; released exactly once.
#[async_trait]
pub trait HeldLock: Send + Sync {
    async fn release(self: Box<Self>);
}

/// Where a cluster lock lives, for messages (`container nk-shop-local-lock on the engine`).
pub type LockPlace = String;

/// One deploy target. Every method that changes something must change only objects whose
/// labels name this deploy's project, environment and component (SPEC §6, `nanokit_core::
/// ownership`), and refuse, changing nothing, where a name is taken by anything else.
#[async_trait]
pub trait Provider: Send + Sync {
    /// The `infra.provider` id it serves.
    fn id(&self) -> &str;
    fn capabilities(&self) -> Capabilities;
    /// Where this provider deploys, for the plan header (`docker engine unix:///…`).
    fn target(&self) -> String {
        String::new()
    }
    /// Fit the desired state to this target before planning: what the plan compares that
    /// only the provider knows (the gateway's settings, a digest of files it copies). Changes
    /// nothing on the platform. `deploying`: a file that cannot be read is an error.
    async fn prepare(&self, desired: &mut Desired, deploying: bool) -> Result<(), ProviderError> {
        let _ = (desired, deploying);
        Ok(())
    }
    /// Lines the plan should show about how this target deploys (`!` notes).
    fn plan_notes(&self, desired: &Desired) -> Vec<String> {
        let _ = desired;
        Vec::new()
    }
    /// Checks that change nothing, run before the first step: a deploy that cannot succeed
    /// (the gateway's host port is taken, say) fails before it has created anything.
    async fn preflight(&self, plan: &Plan, desired: &Desired) -> Result<(), ProviderError> {
        let _ = (plan, desired);
        Ok(())
    }
    /// Resource discovery: everything tagged with this cluster's project and environment.
    async fn observe(&self, desired: &Desired) -> Result<Observed, ProviderError>;
    /// Orchestration: carry out one step (create network, recreate a service, update routes…).
    async fn apply(&self, step: &Step, desired: &Desired) -> Result<(), ProviderError>;
    /// Health monitoring: wait until a service is ready to receive traffic, or fail with why.
    async fn wait_ready(&self, service: &DesiredService, desired: &Desired) -> Result<(), ProviderError>;
    /// One row per deployed service (capability `status`; the default reads `observe`).
    async fn status(&self, desired: &Desired) -> Result<Vec<StatusRow>, ProviderError> {
        let observed = self.observe(desired).await?;
        Ok(rows_from_observed(&observed, desired))
    }
    /// The services' output (capability `logs`), ending when every stream ends (never, with
    /// `follow`, until dropped).
    fn logs<'a>(&'a self, desired: &'a Desired, request: LogRequest) -> BoxStream<'a, Result<LogLine, ProviderError>> {
        let _ = (desired, request);
        let id = self.id().to_string();
        Box::pin(futures_util::stream::once(async move { Err(ProviderError::new(format!("provider `{id}` does not stream logs"))) }))
    }
    /// Take the cluster lock on the platform (capability `lock`). `Ok(None)`: this provider
    /// keeps no lock of its own, the host takes its lock file.
    async fn lock(&self, desired: &Desired, holder: &LockInfo) -> Result<Option<Box<dyn HeldLock>>, ProviderError> {
        let _ = (desired, holder);
        Ok(None)
    }
    /// Clear the platform's cluster lock (`nkdev infra unlock`): who held it, and where it
    /// lives. `Ok(None)`: no lock on the platform (the host clears its lock file).
    async fn unlock(&self, desired: &Desired, force: bool) -> Result<Option<(Option<LockInfo>, LockPlace)>, ProviderError> {
        let _ = (desired, force);
        Ok(None)
    }
    /// Restart these services' processes in place (capability `restart`): the container,
    /// task or process stays, its files are brought up to date (copied again where the
    /// platform copies them) and, with `reinstall`, `install` runs again before `start`. Only
    /// ever a service of this deploy's own (the ownership guard); a missing one is an error.
    async fn restart(&self, desired: &Desired, services: &[String], reinstall: bool, reporter: &dyn Reporter) -> Result<(), ProviderError> {
        let _ = (desired, services, reinstall, reporter);
        Err(ProviderError::new(format!("provider `{}` cannot restart a service in place; `nkdev up` recreates it", self.id())))
    }
    /// A tick each time this cluster may have changed (`nkdev status --watch`): the engine's
    /// own events where the platform has them; by default, polling every `poll`. An error
    /// ends the stream (the platform is unreachable).
    fn changes<'a>(&'a self, desired: &'a Desired, poll: std::time::Duration) -> BoxStream<'a, Result<(), ProviderError>> {
        let _ = desired;
        Box::pin(futures_util::stream::unfold((), move |()| async move {
            tokio::time::sleep(poll).await;
            Some((Ok(()), ()))
        }))
    }
    /// Remove this component's named volumes (capability `volumes`, `destroy --volumes`).
    async fn remove_volumes(&self, desired: &Desired, reporter: &dyn Reporter) -> Result<(), ProviderError> {
        let _ = (desired, reporter);
        Err(ProviderError::new(format!("provider `{}` keeps no volumes to remove", self.id())))
    }
    /// Lines to show after a successful deploy (where each service is served), given what
    /// the platform now has.
    fn served_notes(&self, desired: &Desired, after: &Observed) -> Vec<String> {
        let _ = (desired, after);
        Vec::new()
    }
    /// End the connection in order: a provider running as its own process finishes the
    /// request it is in and exits (killed after a grace period). Called once a command is
    /// done with the provider, and before a lock file is released.
    async fn shutdown(&self) {}
    /// Why the way to the platform failed, if it did (a lost SSH connection), and whether
    /// `error` is such a failure (not, say, an ownership conflict after a session that
    /// failed once): the host then adds the transport's own account to the error.
    fn transport_problem(&self, error: &str) -> Option<String> {
        let _ = error;
        None
    }
}

/// Status rows from any provider's view: service, component, running, host.
pub fn rows_from_observed(observed: &Observed, desired: &Desired) -> Vec<StatusRow> {
    observed
        .services
        .iter()
        .map(|o| {
            let up_to_date = desired.service(&o.service).is_some_and(|d| d.config_hash == o.config_hash);
            let state = if o.running { "running" } else { "stopped" };
            StatusRow { host: o.host.clone(), ..StatusRow::new(&o.service, &o.component, state, &o.name, up_to_date) }
        })
        .collect()
}
