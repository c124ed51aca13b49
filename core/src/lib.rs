//! nanokit-core: everything about `nanokit.yml` that needs no network, no Docker and no AWS.
//!
//! Data flows text → [`yaml`] (spanned tree) → [`document`] (JSON view + pointer→span map)
//! → [`schema`] (structural diagnostics, typed [`model`]) → [`resolve`] (layers, provenance)
//! → [`graph`] and [`check`] (semantic diagnostics). [`analysis::analyze`] runs it all.
//! Deploying is planned by [`plan`] from what a provider [`observed`]; the `Provider` trait and
//! the executor live in `nanokit-deploy`, the providers in their own crates (`providers/`).

pub mod analysis;
pub mod check;
pub mod diagnostic;
pub mod document;
pub mod engine_host;
pub mod files;
pub mod graph;
pub mod interpolate;
pub mod labels;
pub mod model;
pub mod names;
pub mod observed;
pub mod ownership;
pub mod plan;
pub mod project_set;
pub mod provenance;
pub mod provider_plugins;
pub mod provider_support;
pub mod resolve;
pub mod rules;
pub mod runtimes;
pub mod schema;
pub mod secret_rules;
pub mod secrets;
pub mod source;
pub mod symbols;
pub mod variables;
pub mod yaml;

pub use analysis::{analyze, Analysis, AnalyzeOptions};
pub use diagnostic::{Code, Diagnostic, Severity};
pub use source::{LineIndex, Span};

/// File names nanokit looks for, in order.
pub const FILE_NAMES: &[&str] = &["nanokit.yml", "nanokit.yaml"];
