//! The deploy providers this build of nkdev carries (cargo features `docker` and `aws`).

use nanokit_core::model::ProviderId;

/// The providers this build can deploy to (the others are valid in the file, SPEC §4).
pub fn deployable_providers() -> Vec<ProviderId> {
    let mut providers = Vec::new();
    if cfg!(feature = "docker") {
        providers.push(ProviderId::Docker);
    }
    if cfg!(feature = "aws") {
        providers.push(ProviderId::Aws);
    }
    providers
}
