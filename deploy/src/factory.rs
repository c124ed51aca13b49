//! What makes a provider for an environment: a [`Factory`] per provider id (each built-in
//! provider crate has one, `crate::plugin::PluginFactory` stands for any installed plugin),
//! and the [`Environment`] it is given, the same in process and on the wire.

use crate::options::Options;
use crate::provider::{Capabilities, Provider, ProviderError};
use async_trait::async_trait;
use nanokit_core::model::Infra;
use nanokit_core::resolve::ResolvedEnvironment;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Makes a connected provider for one environment.
#[async_trait]
pub trait Factory: Send + Sync {
    fn id(&self) -> &str;
    /// What `nkdev providers` shows.
    fn info(&self) -> ProviderInfo;
    /// Connect to the environment's platform. Changes nothing there.
    async fn connect(&self, env: &Environment, options: &Options) -> Result<Box<dyn Provider>, ProviderError>;
}

/// The environment a provider deploys, as the file resolved it: what a provider needs to
/// know beyond the desired services, the same in process and on the wire (`initialize`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Environment {
    pub project: String,
    pub env: String,
    pub component: String,
    pub shared: bool,
    /// The `infra.provider` id.
    pub provider: String,
    /// The environment's `infra` settings.
    pub infra: Infra,
    /// The folder of nanokit.yml (absolute when nkdev could resolve it).
    pub project_dir: PathBuf,
}

impl Environment {
    pub fn of(resolved: &ResolvedEnvironment, project_dir: &Path) -> Environment {
        Environment {
            project: resolved.project.clone(),
            env: resolved.env.clone(),
            component: resolved.component.clone(),
            shared: resolved.shared,
            provider: resolved.provider.as_str().to_string(),
            infra: resolved.infra.clone(),
            project_dir: project_dir.to_path_buf(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProviderInfo {
    pub id: String,
    pub version: String,
    /// `built in`, or the plugin's executable.
    pub origin: String,
    /// Known once a plugin has answered `initialize` (`nkdev providers` asks each).
    pub capabilities: Option<Capabilities>,
}
