//! Naming rules shared by the checks and every provider (SPEC §1, §5.3, §6).

/// The variables nanokit sets in every service's environment (SPEC §5.3), named once: the
/// resolver injects them, the rules protect them, the editor completes them.
pub mod injected {
    pub const PROJECT: &str = "NANOKIT_PROJECT";
    pub const SERVICE: &str = "NANOKIT_SERVICE";
    pub const ENV: &str = "NANOKIT_ENV";
    pub const COMPONENT: &str = "NANOKIT_COMPONENT";
    /// The port the service listens on (its `expose`).
    pub const PORT: &str = "PORT";
    /// `NANOKIT_URL_<SERVICE>`: another service's primary hostname ([`super::url_variable`]).
    pub const URL_PREFIX: &str = "NANOKIT_URL_";
    /// Set by the provider that deploys: `docker` or `aws`.
    pub const PROVIDER: &str = "NANOKIT_PROVIDER";
    /// Docker: the cluster's network, and the container's own name.
    pub const NETWORK: &str = "NANOKIT_NETWORK";
    pub const CONTAINER: &str = "NANOKIT_CONTAINER";
    /// AWS: the ECS cluster and region.
    pub const CLUSTER: &str = "NANOKIT_CLUSTER";
    pub const REGION: &str = "NANOKIT_REGION";

    /// Every variable the editor offers, with what it holds.
    pub const DESCRIBED: &[(&str, &str)] = &[
        (PROJECT, "the project name"),
        (SERVICE, "this service's name"),
        (ENV, "the environment deployed"),
        (COMPONENT, "the repository's component"),
        (PORT, "the port the service listens on (`expose`)"),
        (PROVIDER, "the provider that deployed it (`docker`, `aws`)"),
        (NETWORK, "docker: the cluster's network"),
        (CONTAINER, "docker: this container's name"),
        (CLUSTER, "aws: the ECS cluster"),
        (REGION, "aws: the region"),
    ];
}

pub const MAX_NAME_LEN: usize = 40;

/// Why `name` is not a DNS label, or `None` when it is one.
pub fn dns_label_problem(name: &str) -> Option<&'static str> {
    if name.is_empty() {
        Some("is empty")
    } else if name.len() > MAX_NAME_LEN {
        Some("is longer than 40 characters")
    } else if name.bytes().any(|b| b.is_ascii_uppercase()) {
        Some("has uppercase letters")
    } else if name.contains('_') {
        Some("has `_`, which DNS names do not allow (use `-`)")
    } else if !name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-') {
        Some("has characters other than lowercase letters, digits and `-`")
    } else if name.starts_with('-') || name.ends_with('-') {
        Some("starts or ends with `-`")
    } else {
        None
    }
}

pub fn is_dns_label(name: &str) -> bool {
    dns_label_problem(name).is_none()
}

/// Why `id` cannot name a provider, or `None` when it can. A provider id becomes part of an
/// executable's name (`nkdev-provider-<id>`), so it is a DNS label, dots allowed between
/// labels (`fly.io`): no `/`, no leading `-` or `.`, nothing a shell or PATH lookup could
/// read as anything else.
/// [`provider_id_problem`] as a JSON Schema pattern (the length is checked apart).
pub const PROVIDER_ID_PATTERN: &str = "^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$";

pub fn provider_id_problem(id: &str) -> Option<String> {
    if id.is_empty() {
        return Some("a provider id cannot be empty".into());
    }
    if id.len() > MAX_NAME_LEN {
        return Some(format!("a provider id has at most {MAX_NAME_LEN} characters"));
    }
    let dotted = id.contains('.');
    id.split('.').find_map(|label| dns_label_problem(label).map(|why| if dotted { format!("`{label}` {why}") } else { why.to_string() }))
}

pub fn is_provider_id(id: &str) -> bool {
    provider_id_problem(id).is_none()
}

/// The closest DNS label to `name`, offered as a quick fix.
pub fn to_dns_label(name: &str) -> String {
    let mut out: String = name.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' }).collect();
    while out.contains("--") {
        out = out.replace("--", "-");
    }
    let trimmed = out.trim_matches('-');
    trimmed.chars().take(MAX_NAME_LEN).collect::<String>().trim_end_matches('-').to_string()
}

/// `NANOKIT_URL_<S>`: S upper-cased, every non-alphanumeric character as `_`.
pub fn url_variable(service: &str) -> String {
    const PREFIX: &str = injected::URL_PREFIX;
    // Built by hand, not with `format!`: resolution calls this for every service on every keystroke.
    let mut name = String::with_capacity(PREFIX.len() + service.len());
    name.push_str(PREFIX);
    name.extend(service.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_uppercase() } else { '_' }));
    name
}

/// An environment variable name as shells and Compose accept it: letters, digits and `_`,
/// not starting with a digit.
pub fn is_env_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_') && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Prefix of every resource of one project environment: `nk-<project>-<env>`.
pub fn cluster_prefix(project: &str, env: &str) -> String {
    format!("nk-{project}-{env}")
}

/// Service names a provider gives its own objects in the service namespace
/// (`nk-<project>-<env>-gateway`, the Docker cluster lock `nk-<project>-<env>-lock`).
pub const RESERVED_SERVICE_NAMES: &[&str] = &["gateway", "lock"];

pub fn container_name(project: &str, env: &str, service: &str) -> String {
    let mut name = cluster_prefix(project, env);
    name.push('-');
    name.push_str(service);
    name
}

/// The longest healthcheck interval or timeout accepted: a day. Longer values are typos, and
/// the engine's nanosecond fields would overflow on the absurd ones.
pub const MAX_DURATION_MS: u64 = 24 * 3_600_000;

/// How specific a host is, for ordering routes: exact hosts first, then wildcards with the
/// most labels; a wildcard only ever catches hosts that nobody claims exactly.
pub fn host_specificity(host: &str) -> (bool, std::cmp::Reverse<usize>) {
    let wildcard = host.starts_with("*.");
    (wildcard, std::cmp::Reverse(host.split('.').count()))
}

/// A valid hostname (RFC 1123, each label ≤ 63, total ≤ 253); `*.` wildcards are allowed.
pub fn hostname_problem(host: &str) -> Option<&'static str> {
    let body = host.strip_prefix("*.").unwrap_or(host);
    if body.is_empty() || host.len() > 253 {
        return Some("must be 1 to 253 characters");
    }
    if host.contains("://") || host.contains('/') {
        return Some("must be a hostname only, without scheme or path");
    }
    if host.contains(':') {
        return Some("must not include a port (the port is `expose`)");
    }
    for label in body.split('.') {
        if label.is_empty() || label.len() > 63 {
            return Some("has an empty label or one longer than 63 characters");
        }
        if !label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') || label.starts_with('-') || label.ends_with('-') {
            return Some("labels may hold letters, digits and inner `-` only");
        }
    }
    None
}

/// Validate an IPv4 CIDR block; returns the reason when invalid.
pub fn cidr_problem(cidr: &str) -> Option<String> {
    let Some((addr, prefix)) = cidr.split_once('/') else {
        return Some("missing the `/prefix` (e.g. `10.0.0.0/16`)".into());
    };
    let ip: std::net::Ipv4Addr = match addr.parse() {
        Ok(ip) => ip,
        Err(_) => return Some(format!("`{addr}` is not an IPv4 address")),
    };
    let prefix: u32 = match prefix.parse() {
        Ok(p) if p <= 32 => p,
        _ => return Some(format!("prefix `/{prefix}` must be a number from 0 to 32")),
    };
    let mask = if prefix == 0 { 0 } else { u32::MAX << (32 - prefix) };
    let bits = u32::from(ip);
    if bits & !mask != 0 {
        let network = std::net::Ipv4Addr::from(bits & mask);
        return Some(format!("host bits are set; the network address is `{network}/{prefix}`"));
    }
    None
}

/// Why a valid CIDR cannot hold nanokit's network: a VPC is /16 to /28, and the network is
/// two subnets in two availability zones, each at least a /28, so the block is /16 to /27.
pub fn vpc_cidr_size_problem(cidr: &str) -> Option<String> {
    let prefix: u32 = cidr.split_once('/')?.1.parse().ok()?;
    match prefix {
        0..=15 => Some(format!("a VPC is at most a /16, and `/{prefix}` is larger")),
        28.. => Some(format!("`/{prefix}` is too small for two subnets of at least /28; use /27 or larger (e.g. 10.0.0.0/24)")),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dns_labels() {
        assert!(is_dns_label("my-platform"));
        assert!(is_dns_label("a1"));
        assert_eq!(dns_label_problem("My_App"), Some("has uppercase letters"));
        assert_eq!(dns_label_problem("my_app"), Some("has `_`, which DNS names do not allow (use `-`)"));
        assert!(dns_label_problem("-x").is_some());
        assert!(dns_label_problem(&"a".repeat(41)).is_some());
        assert_eq!(to_dns_label("My_App!"), "my-app");
    }

    #[test]
    fn url_variables() {
        assert_eq!(url_variable("docs"), "NANOKIT_URL_DOCS");
        assert_eq!(url_variable("api-v2"), "NANOKIT_URL_API_V2");
    }

    #[test]
    fn cidrs() {
        assert_eq!(cidr_problem("10.0.0.0/16"), None);
        assert!(cidr_problem("10.0.0.1/16").unwrap().contains("10.0.0.0/16"));
        assert!(cidr_problem("10.0.0.0").is_some());
        assert!(cidr_problem("10.0.0.0/33").is_some());
        assert!(cidr_problem("300.0.0.0/8").is_some());
        assert_eq!(vpc_cidr_size_problem("10.0.0.0/16"), None);
        assert_eq!(vpc_cidr_size_problem("10.0.0.0/27"), None);
        assert!(vpc_cidr_size_problem("10.0.0.0/28").unwrap().contains("too small"));
        assert!(vpc_cidr_size_problem("10.0.0.0/8").is_some());
    }

    #[test]
    fn hostnames() {
        assert_eq!(hostname_problem("auth.my-platform.localhost"), None);
        assert!(hostname_problem("http://x.com").is_some());
        assert!(hostname_problem("x.com:80").is_some());
        assert!(hostname_problem("a..b").is_some());
    }
}
