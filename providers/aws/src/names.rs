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

/// The CIDR blocks nanokit may give its subnets inside the VPC block `cidr`, in order of
/// preference: the quarters of the block (room is left for more subnets later), or its two
/// halves when the VPC is a /27, the smallest that holds two subnets AWS accepts (/28).
///
/// Refused, with the reason: anything that is not an IPv4 network address with a prefix
/// from /16 (the largest VPC AWS creates) to /27. Pure, so the core can report it as a
/// diagnostic of `infra.cidr` as well.
pub fn subnet_cidrs(cidr: &str) -> Result<Vec<String>, String> {
    if let Some(problem) = nanokit_core::names::cidr_problem(cidr) {
        return Err(format!("invalid `infra.cidr` `{cidr}`: {problem}"));
    }
    let (addr, prefix) = cidr.split_once('/').unwrap_or_default();
    let base = u32::from(addr.parse::<std::net::Ipv4Addr>().map_err(|e| e.to_string())?);
    let prefix: u32 = prefix.parse().map_err(|_| format!("invalid prefix in `{cidr}`"))?;
    if prefix < 16 {
        return Err(format!(
            "`infra.cidr` `{cidr}` is larger than AWS allows for a VPC: use a prefix from /16 to /27 (e.g. `10.0.0.0/16`)"
        ));
    }
    if prefix > 27 {
        return Err(format!(
            "`infra.cidr` `{cidr}` is too small: nanokit needs two subnets in two availability zones and AWS's smallest subnet is a /28, so the VPC must be a /27 or larger (e.g. `10.0.0.0/24`)"
        ));
    }
    let bits = if prefix <= 26 { 2 } else { 1 };
    let sub = prefix + bits;
    Ok((0..(1u32 << bits)).map(|i| format!("{}/{sub}", std::net::Ipv4Addr::from(base + (i << (32 - sub))))).collect())
}

/// Whether two IPv4 CIDR blocks share an address (false when either is malformed).
pub fn cidrs_overlap(a: &str, b: &str) -> bool {
    let range = |c: &str| -> Option<(u32, u32)> {
        let (addr, prefix) = c.split_once('/')?;
        let ip = u32::from(addr.parse::<std::net::Ipv4Addr>().ok()?);
        let prefix: u32 = prefix.parse().ok().filter(|p| *p <= 32)?;
        let size = if prefix == 0 { u32::MAX } else { (1u32 << (32 - prefix)) - 1 };
        Some((ip, ip.saturating_add(size)))
    };
    match (range(a), range(b)) {
        (Some((a0, a1)), Some((b0, b1))) => a0 <= b1 && b0 <= a1,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subnets_are_carved_from_the_vpc_block() {
        assert_eq!(subnet_cidrs("10.0.0.0/16").unwrap(), ["10.0.0.0/18", "10.0.64.0/18", "10.0.128.0/18", "10.0.192.0/18"]);
        assert_eq!(subnet_cidrs("10.20.16.0/20").unwrap(), ["10.20.16.0/22", "10.20.20.0/22", "10.20.24.0/22", "10.20.28.0/22"]);
        assert_eq!(subnet_cidrs("192.168.1.0/27").unwrap(), ["192.168.1.0/28", "192.168.1.16/28"]);
        assert_eq!(subnet_cidrs("192.168.1.0/26").unwrap(), ["192.168.1.0/28", "192.168.1.16/28", "192.168.1.32/28", "192.168.1.48/28"]);
        for cidr in ["10.0.0.0/16", "10.20.16.0/20", "192.168.1.0/27"] {
            assert!(subnet_cidrs(cidr).unwrap().iter().all(|s| cidrs_overlap(s, cidr)));
        }
        assert!(subnet_cidrs("10.0.0.0/28").unwrap_err().contains("/27 or larger"));
        assert!(subnet_cidrs("10.0.0.0/8").unwrap_err().contains("from /16 to /27"));
        assert!(subnet_cidrs("10.0.0.1/16").unwrap_err().contains("host bits"));
        assert!(cidrs_overlap("10.0.0.0/24", "10.0.0.0/18") && !cidrs_overlap("10.0.1.0/24", "10.0.64.0/18"));
    }

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
