//! Connecting the Docker provider for an environment: its engine (`infra.host`, else what the
//! `docker` CLI would use) and the gateway settings (the engine's defaults, then the user's).

use crate::{engine, DockerProvider, DockerSettings};
use async_trait::async_trait;
use nanokit_deploy::options::Options;
use nanokit_deploy::provider::{Provider, ProviderError};
use nanokit_deploy::registry::{Environment, Factory, ProviderInfo};

pub struct DockerFactory;

/// The provider's settings for `engine`: its defaults (local or remote), then the user's.
pub fn settings(options: &Options, engine: &engine::Engine) -> DockerSettings {
    let defaults = DockerSettings::for_engine(engine.is_remote());
    let g = &options.gateway;
    DockerSettings {
        gateway_image: g.image.clone(),
        gateway_port: g.port.unwrap_or(defaults.gateway_port),
        gateway_https_port: g.https_port.unwrap_or(defaults.gateway_https_port),
        gateway_bind: g.bind.clone().unwrap_or(defaults.gateway_bind.clone()),
        tls: g.tls.unwrap_or(defaults.tls),
        ready_timeout: options.ready_timeout,
        ..defaults
    }
}

/// The engine an environment deploys to. Known before connecting.
pub fn engine_of(env: &Environment) -> Result<engine::Engine, ProviderError> {
    engine::current(&env.env, env.infra.host.as_deref()).map_err(ProviderError::new)
}

#[async_trait]
impl Factory for DockerFactory {
    fn id(&self) -> &str {
        "docker"
    }

    fn info(&self) -> ProviderInfo {
        ProviderInfo {
            id: "docker".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            origin: "built in".into(),
            capabilities: Some(crate::CAPABILITIES),
        }
    }

    async fn connect(&self, env: &Environment, options: &Options) -> Result<Box<dyn Provider>, ProviderError> {
        let engine = engine_of(env)?;
        let settings = settings(options, &engine);
        let mut provider = DockerProvider::connect(engine, settings).await?;
        provider.project_dir = env.project_dir.clone();
        Ok(Box::new(provider))
    }
}
