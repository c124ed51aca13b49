//! Docker engine addresses (`infra.host`, `DOCKER_HOST`, a Docker context's endpoint), parsed
//! once: the file check (NK061) and the CLI's engine selection read the same rules, the ones
//! the `docker` CLI applies.

use std::path::PathBuf;

/// The docker CLI's default port for plain `tcp://`.
pub const DEFAULT_TCP_PORT: u16 = 2375;

/// Where a Docker engine listens, as nkdev can reach it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EngineAddress {
    /// `unix:///path/to/docker.sock`
    Unix(PathBuf),
    /// `tcp://host[:port]` (or `http://`), plain HTTP: `host:port`.
    Tcp(String),
    /// `ssh://[user@]host[:port]`: the engine of another machine, reached with the system `ssh`.
    Ssh(SshDestination),
}

/// `[user@]host[:port]` of an `ssh://` address. User and port left out are `ssh`'s to pick
/// (from `~/.ssh/config`, as the docker CLI lets it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshDestination {
    pub user: Option<String>,
    pub host: String,
    pub port: Option<u16>,
}

impl std::fmt::Display for SshDestination {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(user) = &self.user {
            write!(f, "{user}@")?;
        }
        if self.host.contains(':') {
            write!(f, "[{}]", self.host)?;
        } else {
            write!(f, "{}", self.host)?;
        }
        if let Some(port) = self.port {
            write!(f, ":{port}")?;
        }
        Ok(())
    }
}

impl std::fmt::Display for EngineAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EngineAddress::Unix(path) => write!(f, "unix://{}", path.display()),
            EngineAddress::Tcp(addr) => write!(f, "tcp://{addr}"),
            EngineAddress::Ssh(dest) => write!(f, "ssh://{dest}"),
        }
    }
}

impl EngineAddress {
    /// Whether the engine runs on another machine: its host ports, paths and loopback are not
    /// this machine's (the gateway publishes publicly, a service `path` is copied, not mounted).
    /// (A `tcp://` engine on this machine's loopback is local; an `ssh://` one is remote even
    /// there: ssh may forward anywhere.)
    pub fn is_remote(&self) -> bool {
        match self {
            EngineAddress::Unix(_) => false,
            EngineAddress::Tcp(addr) => {
                let host = addr.rsplit_once(':').map_or(addr.as_str(), |(h, _)| h).trim_start_matches('[').trim_end_matches(']');
                !(host == "localhost" || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback()))
            }
            EngineAddress::Ssh(_) => true,
        }
    }
}

/// Parse an engine address. The error says what is wrong and shows the accepted forms.
pub fn parse(address: &str) -> Result<EngineAddress, String> {
    let address = address.trim();
    let forms = "use ssh://user@host[:port], tcp://host:port or unix:///path/to/docker.sock";
    if let Some(path) = address.strip_prefix("unix://") {
        if !path.starts_with('/') {
            return Err(format!("`{address}` names no absolute socket path (e.g. unix:///var/run/docker.sock)"));
        }
        return Ok(EngineAddress::Unix(PathBuf::from(path)));
    }
    if let Some(rest) = address.strip_prefix("tcp://").or_else(|| address.strip_prefix("http://")) {
        let rest = rest.trim_end_matches('/');
        let (host, port) = split_host_port(rest).map_err(|why| format!("`{address}`: {why}"))?;
        if host.is_empty() {
            return Err(format!("`{address}` names no host (e.g. tcp://192.0.2.10:2375)"));
        }
        let port = port.unwrap_or(DEFAULT_TCP_PORT);
        let host = if host.contains(':') { format!("[{host}]") } else { host };
        return Ok(EngineAddress::Tcp(format!("{host}:{port}")));
    }
    if let Some(rest) = address.strip_prefix("ssh://") {
        let rest = rest.trim_end_matches('/');
        if rest.contains('/') {
            return Err(format!("`{address}`: an ssh:// address takes no path (the remote engine is found by `docker` there)"));
        }
        let (user, host_port) = match rest.rsplit_once('@') {
            Some((user, hp)) => (Some(user), hp),
            None => (None, rest),
        };
        if let Some(user) = user {
            if user.is_empty() || user.contains(':') {
                return Err(format!("`{address}`: the user before `@` is empty or carries a password; use a key or an agent"));
            }
        }
        let (host, port) = split_host_port(host_port).map_err(|why| format!("`{address}`: {why}"))?;
        if host.is_empty() {
            return Err(format!("`{address}` names no host (e.g. ssh://deploy@vps.example.com)"));
        }
        // Whatever would reach ssh's own option parser is refused: a host is never an option.
        if host.starts_with('-') || user.is_some_and(|u| u.starts_with('-')) {
            return Err(format!("`{address}`: a host or user may not start with `-`"));
        }
        // Only the characters of host names, addresses and user names: a cloned repository's
        // `infra.host` must not reach a shell through ssh's `%h`/`%r` (ProxyCommand, Match exec).
        let host_ok = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ':');
        let user_ok = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_');
        if !host.chars().all(host_ok) || !user.unwrap_or_default().chars().all(user_ok) {
            return Err(format!(
                "`{address}`: a host may hold only letters, digits, `.`, `-`, `_` (and `:` in [brackets]), a user only letters, digits, `.`, `-`, `_`"
            ));
        }
        return Ok(EngineAddress::Ssh(SshDestination { user: user.map(str::to_string), host, port }));
    }
    if address.starts_with("https://") || address.starts_with("tls://") {
        return Err(format!("`{address}`: nkdev does not speak TLS to a Docker engine; reach it over ssh:// instead"));
    }
    if address.starts_with("npipe://") {
        return Err(format!("`{address}`: named pipes are Windows-only; {forms}"));
    }
    if address.is_empty() {
        return Err(format!("an empty engine address; {forms}"));
    }
    Err(format!("`{address}` is not an engine address nkdev can reach; {forms}"))
}

/// `host`, `host:port`, `[v6]`, `[v6]:port`.
fn split_host_port(s: &str) -> Result<(String, Option<u16>), String> {
    if let Some(rest) = s.strip_prefix('[') {
        let (host, after) = rest.split_once(']').ok_or("an IPv6 address without its closing `]`")?;
        return match after.strip_prefix(':') {
            Some(port) => Ok((host.to_string(), Some(parse_port(port)?))),
            None if after.is_empty() => Ok((host.to_string(), None)),
            None => Err(format!("unexpected `{after}` after the address")),
        };
    }
    match s.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') => Ok((host.to_string(), Some(parse_port(port)?))),
        Some(_) => Err("an IPv6 address must be written in brackets, e.g. [2001:db8::1]".into()),
        None => Ok((s.to_string(), None)),
    }
}

fn parse_port(port: &str) -> Result<u16, String> {
    match port.parse::<u16>() {
        Ok(p) if p > 0 => Ok(p),
        _ => Err(format!("`{port}` is not a port (1 to 65535)")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ssh(user: Option<&str>, host: &str, port: Option<u16>) -> EngineAddress {
        EngineAddress::Ssh(SshDestination { user: user.map(str::to_string), host: host.into(), port })
    }

    #[test]
    fn the_docker_cli_forms_parse() {
        assert_eq!(parse("unix:///var/run/docker.sock"), Ok(EngineAddress::Unix("/var/run/docker.sock".into())));
        assert_eq!(parse("tcp://10.1.2.3:2376"), Ok(EngineAddress::Tcp("10.1.2.3:2376".into())));
        assert_eq!(parse("tcp://vps.example"), Ok(EngineAddress::Tcp("vps.example:2375".into())));
        assert_eq!(parse("tcp://[::1]:2375"), Ok(EngineAddress::Tcp("[::1]:2375".into())));
        assert_eq!(parse("ssh://deploy@vps.example.com"), Ok(ssh(Some("deploy"), "vps.example.com", None)));
        assert_eq!(parse("ssh://root@127.0.0.1:2222"), Ok(ssh(Some("root"), "127.0.0.1", Some(2222))));
        assert_eq!(parse("ssh://vps"), Ok(ssh(None, "vps", None)));
        assert_eq!(parse("ssh://[2001:db8::1]:22"), Ok(ssh(None, "2001:db8::1", Some(22))));
        assert_eq!(parse("ssh://root@127.0.0.1:2222").unwrap().to_string(), "ssh://root@127.0.0.1:2222");
    }

    #[test]
    fn bad_addresses_say_why() {
        for (bad, why) in [
            ("unix://", "absolute socket path"),
            ("tcp://", "no host"),
            ("tcp://h:99999", "not a port"),
            ("ssh://", "no host"),
            ("ssh://@vps", "user"),
            ("ssh://a:pw@vps", "password"),
            ("ssh://-oProxyCommand=x", "`-`"),
            ("ssh://vps/var/run/docker.sock", "no path"),
            ("ssh://vps:0", "not a port"),
            ("ssh://2001:db8::1", "brackets"),
            ("ssh://vps;touch${IFS}x", "only letters"),
            ("ssh://a$(id)@vps", "only letters"),
            ("ssh://vps%h", "only letters"),
            ("ssh://v ps", "only letters"),
            ("https://vps:2376", "TLS"),
            ("vps.example.com", "not an engine address"),
            ("", "empty"),
        ] {
            let e = parse(bad).expect_err(bad);
            assert!(e.contains(why), "{bad}: {e}");
        }
    }

    #[test]
    fn only_a_local_socket_is_local() {
        assert!(!parse("unix:///x").unwrap().is_remote());
        assert!(parse("tcp://h:1").unwrap().is_remote());
        assert!(!parse("tcp://127.0.0.1:2375").unwrap().is_remote());
        assert!(!parse("tcp://localhost:2375").unwrap().is_remote());
        assert!(!parse("tcp://[::1]:2375").unwrap().is_remote());
        assert!(parse("ssh://127.0.0.1").unwrap().is_remote());
        assert!(parse("ssh://h").unwrap().is_remote());
    }
}
