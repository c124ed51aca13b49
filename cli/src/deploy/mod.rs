//! Deploying: the lock, the state, progress, and the provider-neutral executor.

pub mod executor;
pub mod interrupt;
pub mod lock;
pub mod report;
pub mod source;
pub mod state;
