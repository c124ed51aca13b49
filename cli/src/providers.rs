//! The providers this nkdev can deploy with: the built-ins of this build (cargo features
//! `docker` and `aws`), registered here and nowhere else, then the installed plugins.

use nanokit_core::model::ProviderId;
use nanokit_deploy::registry::Registry;

/// Every built-in provider of this build.
pub fn registry() -> Registry {
    #[allow(unused_mut)]
    let mut registry = Registry::default();
    #[cfg(feature = "docker")]
    registry.register(Box::new(nanokit_provider_docker::DockerFactory));
    #[cfg(feature = "aws")]
    registry.register(Box::new(nanokit_provider_aws::AwsFactory));
    registry
}

/// The providers built into this build (the file may name any other, for a plugin).
pub fn built_in() -> Vec<ProviderId> {
    registry().built_in().filter_map(|f| ProviderId::new(f.id()).ok()).collect()
}
