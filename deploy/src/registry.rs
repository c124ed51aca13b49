//! Which provider deploys `infra.provider: <id>`: one of this build's built-ins (registered by
//! the front end), else an executable `nkdev-provider-<id>` in `~/.nanokit/providers/` or on
//! PATH, spoken to through the provider protocol ([`crate::plugin`]).

pub use crate::factory::{Environment, Factory, ProviderInfo};
use crate::options::Options;
use crate::provider::{Provider, ProviderError};
use async_trait::async_trait;

/// The built-in providers of this build, then the installed plugins.
#[derive(Default)]
pub struct Registry {
    built_in: Vec<Box<dyn Factory>>,
}

pub use nanokit_core::provider_plugins::PREFIX as PLUGIN_PREFIX;

impl Registry {
    pub fn register(&mut self, factory: Box<dyn Factory>) {
        self.built_in.push(factory);
    }

    pub fn built_in(&self) -> impl Iterator<Item = &dyn Factory> {
        self.built_in.iter().map(|f| &**f)
    }

    /// The factory for `id`: a built-in, else an installed plugin; `None` when neither.
    pub fn find(&self, id: &str) -> Option<Box<dyn Factory + '_>> {
        if let Some(f) = self.built_in.iter().find(|f| f.id() == id) {
            return Some(Box::new(Borrowed(&**f)));
        }
        find_plugin(id).map(|path| Box::new(crate::plugin::PluginFactory::new(id, path)) as Box<dyn Factory>)
    }

    /// The error for an id that is neither built in nor installed, saying how to install one.
    pub fn not_found(&self, id: &str) -> ProviderError {
        let built: Vec<&str> = self.built_in.iter().map(|f| f.id()).collect();
        let mut e = ProviderError::new(format!(
            "no provider `{id}`: it is not built into this nkdev ({}) and no `{PLUGIN_PREFIX}{id}` is installed",
            if built.is_empty() { "none is".to_string() } else { format!("built in: {}", built.join(", ")) }
        ));
        e.details.push(format!(
            "install a provider plugin as an executable named `{PLUGIN_PREFIX}{id}` on PATH or in {} (see docs/providers.md)",
            plugin_dirs().first().map_or_else(|| "~/.nanokit/providers".to_string(), |d| d.display().to_string())
        ));
        e
    }
}

/// A built-in factory lent out by [`Registry::find`].
struct Borrowed<'a>(&'a dyn Factory);

#[async_trait]
impl Factory for Borrowed<'_> {
    fn id(&self) -> &str {
        self.0.id()
    }
    fn info(&self) -> ProviderInfo {
        self.0.info()
    }
    async fn connect(&self, env: &Environment, options: &Options) -> Result<Box<dyn Provider>, ProviderError> {
        self.0.connect(env, options).await
    }
}

pub use nanokit_core::provider_plugins::{dirs as plugin_dirs, discover as discover_plugins, find as find_plugin};
