//! nanokit-deploy: everything a deploy needs that is the same for every provider. The
//! object-safe [`provider::Provider`] trait and its [`registry`], the [`executor`] that
//! applies a plan through it, the cluster [`lock`], the [`state`] file, interruption by
//! signals, and the out-of-process provider [`protocol`] with its host ([`plugin`]) and
//! server ([`serve`]). Providers (`providers/docker`, `providers/aws`) depend on this crate;
//! it depends on no provider and links no Docker or cloud client.

pub mod conformance;
pub mod executor;
pub mod factory;
pub mod fake;
pub mod interrupt;
pub mod lock;
pub mod options;
pub mod plugin;
pub mod protocol;
pub mod provider;
pub mod registry;
pub mod serve;
pub mod session;
pub mod source;
pub mod state;
