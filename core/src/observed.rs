//! What a provider found on the platform (resource discovery): the input the plan compares
//! with the desired state. Plain data, so the plan needs no provider to be tested.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// One gateway route: host → upstream instance and port (desired by the plan, or read back
/// from a running gateway).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema)]
pub struct Route {
    pub host: String,
    pub upstream: String,
    pub port: u16,
}

/// A resource found on the platform, with the component that owns it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
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
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
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
