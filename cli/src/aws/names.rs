//! AWS names within AWS limits: load balancers and target groups allow 32 characters.

use sha2::{Digest, Sha256};

/// `name` if it fits in `max`, else a prefix and an 8-hex hash of the whole (stable, unique).
pub fn fit(name: &str, max: usize) -> String {
    if name.len() <= max {
        return name.to_string();
    }
    let hash: String = Sha256::digest(name.as_bytes()).iter().take(4).map(|b| format!("{b:02x}")).collect();
    let keep = max - hash.len() - 1;
    format!("{}-{hash}", name[..keep].trim_end_matches('-'))
}

pub fn load_balancer(project: &str, env: &str) -> String {
    fit(&format!("nk-{project}-{env}"), 32)
}

pub fn target_group(instance: &str) -> String {
    fit(instance, 32)
}

pub fn execution_role(project: &str, env: &str) -> String {
    fit(&format!("nk-{project}-{env}-exec"), 64)
}

pub fn log_group(project: &str, env: &str) -> String {
    format!("/nanokit/{project}/{env}")
}

pub fn lock_parameter(project: &str, env: &str) -> String {
    format!("/nanokit/locks/{project}/{env}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_names_are_shortened_stably_within_limits() {
        assert_eq!(load_balancer("shop", "prod"), "nk-shop-prod");
        let a = target_group("nk-a-very-long-project-name-prod-billing-service");
        let b = target_group("nk-a-very-long-project-name-prod-billing-worker");
        assert!(a.len() <= 32 && b.len() <= 32);
        assert_ne!(a, b);
        assert_eq!(a, target_group("nk-a-very-long-project-name-prod-billing-service"));
        assert!(!a.contains("--"));
    }
}
