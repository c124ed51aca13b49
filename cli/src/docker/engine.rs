//! Which Docker engine a command talks to: `DOCKER_HOST` exactly as the `docker` CLI reads
//! it, never a silent fall back to the local socket. (bollard's `connect_with_local_defaults`
//! ignores a `tcp://` DOCKER_HOST, which sent deploys meant for a server to the laptop.)

use std::path::PathBuf;

pub const DEFAULT_SOCKET: &str = "/var/run/docker.sock";

/// An engine address nkdev can reach.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Engine {
    /// `unix:///path/to/docker.sock` (also the default without DOCKER_HOST).
    Unix(PathBuf),
    /// `tcp://host:port` (or `http://`), plain HTTP.
    Tcp(String),
}

impl Engine {
    /// Whether the engine runs on another machine: its host ports are not this machine's.
    pub fn is_remote(&self) -> bool {
        matches!(self, Engine::Tcp(_))
    }
}

impl std::fmt::Display for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Engine::Unix(path) => write!(f, "unix://{}", path.display()),
            Engine::Tcp(addr) => write!(f, "tcp://{addr}"),
        }
    }
}

/// The engine `DOCKER_HOST` (and `DOCKER_TLS_VERIFY`) name, or why nkdev cannot reach it.
pub fn from_env(docker_host: Option<&str>, tls_verify: Option<&str>) -> Result<Engine, String> {
    let host = docker_host.map(str::trim).unwrap_or_default();
    if host.is_empty() {
        return Ok(Engine::Unix(PathBuf::from(DEFAULT_SOCKET)));
    }
    let tls = tls_verify.is_some_and(|v| !v.is_empty());
    if let Some(path) = host.strip_prefix("unix://") {
        if path.is_empty() {
            return Err(format!("DOCKER_HOST=`{host}` names no socket path (e.g. unix://{DEFAULT_SOCKET})"));
        }
        return Ok(Engine::Unix(PathBuf::from(path)));
    }
    if let Some(addr) = host.strip_prefix("tcp://").or_else(|| host.strip_prefix("http://")) {
        if tls {
            return Err(format!(
                "DOCKER_HOST=`{host}` with DOCKER_TLS_VERIFY set: nkdev does not speak TLS to a Docker engine yet, and will not send the deploy unencrypted; reach the engine over a unix socket, or unset DOCKER_TLS_VERIFY on a trusted network"
            ));
        }
        let addr = addr.trim_end_matches('/');
        if addr.is_empty() {
            return Err(format!("DOCKER_HOST=`{host}` names no host (e.g. tcp://192.0.2.10:2375)"));
        }
        // The docker CLI's default port for plain tcp.
        let addr =
            if addr.rsplit_once(':').is_some_and(|(_, p)| p.parse::<u16>().is_ok()) { addr.to_string() } else { format!("{addr}:2375") };
        return Ok(Engine::Tcp(addr));
    }
    if host.starts_with("ssh://") {
        return Err(format!(
            "DOCKER_HOST=`{host}`: nkdev cannot reach a Docker engine over ssh:// yet; forward the remote socket (`ssh -NL /tmp/vps.sock:/var/run/docker.sock user@host`) and set DOCKER_HOST=unix:///tmp/vps.sock"
        ));
    }
    if host.starts_with("https://") {
        return Err(format!("DOCKER_HOST=`{host}`: nkdev does not speak TLS to a Docker engine yet"));
    }
    Err(format!("DOCKER_HOST=`{host}` has a scheme nkdev cannot reach; use unix:///path/to/docker.sock or tcp://host:port"))
}

/// The engine of this process's environment.
pub fn current() -> Result<Engine, String> {
    from_env(std::env::var("DOCKER_HOST").ok().as_deref(), std::env::var("DOCKER_TLS_VERIFY").ok().as_deref())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_host_is_honoured_exactly() {
        assert_eq!(from_env(None, None), Ok(Engine::Unix(DEFAULT_SOCKET.into())));
        assert_eq!(from_env(Some(""), None), Ok(Engine::Unix(DEFAULT_SOCKET.into())));
        assert_eq!(from_env(Some("unix:///tmp/d.sock"), None), Ok(Engine::Unix("/tmp/d.sock".into())));
        assert_eq!(from_env(Some("tcp://10.1.2.3:2376"), None), Ok(Engine::Tcp("10.1.2.3:2376".into())));
        assert_eq!(from_env(Some("tcp://vps.example"), None), Ok(Engine::Tcp("vps.example:2375".into())));
        assert!(from_env(Some("tcp://vps:2376"), Some("1")).unwrap_err().contains("TLS"));
        assert!(from_env(Some("ssh://deploy@vps"), None).unwrap_err().contains("ssh://"));
        assert!(from_env(Some("npipe:////./pipe/docker"), None).unwrap_err().contains("scheme"));
        assert_eq!(Engine::Tcp("h:1".into()).to_string(), "tcp://h:1");
        assert!(Engine::Tcp("h:1".into()).is_remote() && !Engine::Unix("/x".into()).is_remote());
    }
}
