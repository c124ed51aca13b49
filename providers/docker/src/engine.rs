//! Which Docker engine a command talks to, chosen as the `docker` CLI chooses, with the file
//! first: the environment's `infra.host`, else `DOCKER_HOST`, else `DOCKER_CONTEXT`, else the
//! current context of `~/.docker/config.json`, else the local socket. Never a silent fall back
//! to the local socket (bollard's `connect_with_local_defaults` ignores a `tcp://` DOCKER_HOST,
//! which sent deploys meant for a server to the laptop). The addresses themselves are parsed by
//! `nanokit_core::engine_host`, the same rules the file check (NK061) applies.

use nanokit_core::engine_host::{self, EngineAddress};
use std::path::{Path, PathBuf};

pub const DEFAULT_SOCKET: &str = "/var/run/docker.sock";

/// An engine nkdev can reach, and what chose it (printed beside it, so a deploy that goes
/// somewhere unexpected says why).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Engine {
    pub address: EngineAddress,
    pub origin: Origin,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// `infra.host` of the environment being deployed.
    File {
        env: String,
    },
    DockerHost,
    /// A Docker context, by `DOCKER_CONTEXT` or the config's `currentContext`.
    Context(String),
    Default,
}

impl Engine {
    /// Whether the engine runs on another machine: its host ports and paths are not this
    /// machine's (the gateway publishes on all its interfaces, a service's `path` is copied).
    pub fn is_remote(&self) -> bool {
        self.address.is_remote()
    }

    fn local_default() -> Engine {
        Engine { address: EngineAddress::Unix(PathBuf::from(DEFAULT_SOCKET)), origin: Origin::Default }
    }
}

impl std::fmt::Display for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.address)?;
        match &self.origin {
            Origin::File { env } => write!(f, " (infra.host of `{env}`)"),
            Origin::DockerHost => write!(f, " (DOCKER_HOST)"),
            Origin::Context(name) => write!(f, " (docker context `{name}`)"),
            Origin::Default => Ok(()),
        }
    }
}

/// What the choice reads from the process: its environment and the Docker config folder.
pub struct Lookup<'a> {
    pub var: &'a dyn Fn(&str) -> Option<String>,
    /// `$DOCKER_CONFIG`, else `~/.docker` (None without a home).
    pub docker_config: Option<PathBuf>,
}

impl Lookup<'_> {
    fn get(&self, name: &str) -> Option<String> {
        (self.var)(name).filter(|v| !v.trim().is_empty())
    }
}

/// The engine for environment `env`, whose file names `file_host` (its `infra.host`) or none.
pub fn resolve(env: &str, file_host: Option<&str>, lookup: &Lookup) -> Result<Engine, String> {
    if let Some(host) = file_host {
        let address = engine_host::parse(host).map_err(|e| format!("infra.host of environment `{env}`: {e}"))?;
        return Ok(Engine { address, origin: Origin::File { env: env.to_string() } });
    }
    if let Some(host) = lookup.get("DOCKER_HOST") {
        let address = engine_host::parse(&host).map_err(|e| format!("DOCKER_HOST: {e}"))?;
        if matches!(address, EngineAddress::Tcp(_)) && lookup.get("DOCKER_TLS_VERIFY").is_some() {
            return Err(format!(
                "DOCKER_HOST=`{host}` with DOCKER_TLS_VERIFY set: nkdev does not speak TLS to a Docker engine, and will not send the deploy unencrypted; reach the engine over ssh:// (or a unix socket), or unset DOCKER_TLS_VERIFY on a trusted network"
            ));
        }
        return Ok(Engine { address, origin: Origin::DockerHost });
    }
    let context = match lookup.get("DOCKER_CONTEXT") {
        Some(name) => Some(name),
        None => match lookup.docker_config.as_deref() {
            Some(config) => current_context(config)?,
            None => None,
        },
    };
    match context {
        None => Ok(Engine::local_default()),
        Some(name) if name == "default" => Ok(Engine::local_default()),
        Some(name) => {
            let config =
                lookup.docker_config.as_deref().ok_or_else(|| format!("docker context `{name}`: no Docker config folder (no HOME)"))?;
            let address = context_address(config, &name)?;
            Ok(Engine { address, origin: Origin::Context(name) })
        }
    }
}

/// The engine of this process's environment, for environment `env` naming `file_host`.
pub fn current(env: &str, file_host: Option<&str>) -> Result<Engine, String> {
    let docker_config = std::env::var_os("DOCKER_CONFIG")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").filter(|h| !h.is_empty()).map(|h| PathBuf::from(h).join(".docker")));
    resolve(env, file_host, &Lookup { var: &|name| std::env::var(name).ok(), docker_config })
}

/// `currentContext` of `config.json`, if one is set. A config that cannot be read is an error
/// (it may name a remote engine): never the local socket in its place.
fn current_context(config: &Path) -> Result<Option<String>, String> {
    let file = config.join("config.json");
    let text = match std::fs::read_to_string(&file) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot read the Docker config {}: {e}", file.display())),
    };
    let json: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| format!("the Docker config {} is not valid JSON ({e}); fix it or set DOCKER_HOST", file.display()))?;
    Ok(json["currentContext"].as_str().filter(|s| !s.is_empty()).map(str::to_string))
}

/// A context's docker endpoint, from `contexts/meta/<sha256 of its name>/meta.json` (where the
/// `docker context` command keeps it).
fn context_address(config: &Path, name: &str) -> Result<EngineAddress, String> {
    use sha2::{Digest, Sha256};
    let id: String = Sha256::digest(name.as_bytes()).iter().map(|b| format!("{b:02x}")).collect();
    let meta = config.join("contexts").join("meta").join(&id).join("meta.json");
    let text = std::fs::read_to_string(&meta)
        .map_err(|e| format!("docker context `{name}` is not defined ({}: {e}); list them with `docker context ls`", meta.display()))?;
    let json: serde_json::Value = serde_json::from_str(&text).map_err(|e| format!("docker context `{name}`: {}: {e}", meta.display()))?;
    let host = json["Endpoints"]["docker"]["Host"]
        .as_str()
        .ok_or_else(|| format!("docker context `{name}` has no docker endpoint ({})", meta.display()))?;
    let address = engine_host::parse(host).map_err(|e| format!("docker context `{name}`: {e}"))?;
    let has_tls = config.join("contexts").join("tls").join(&id).join("docker").exists();
    if matches!(address, EngineAddress::Tcp(_)) && has_tls {
        return Err(format!(
            "docker context `{name}` reaches {host} over TLS, which nkdev does not speak; use an ssh:// context (`docker context create NAME --docker host=ssh://user@host`)"
        ));
    }
    Ok(address)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn resolve_with(env: &[(&str, &str)], config: Option<&Path>, file: Option<&str>) -> Result<Engine, String> {
        let vars: HashMap<String, String> = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        resolve("prod", file, &Lookup { var: &|k| vars.get(k).cloned(), docker_config: config.map(Path::to_path_buf) })
    }

    fn context(config: &Path, name: &str, host: &str) {
        use sha2::{Digest, Sha256};
        let id: String = Sha256::digest(name.as_bytes()).iter().map(|b| format!("{b:02x}")).collect();
        let dir = config.join("contexts/meta").join(id);
        std::fs::create_dir_all(&dir).unwrap();
        let meta = serde_json::json!({"Name": name, "Metadata": {}, "Endpoints": {"docker": {"Host": host, "SkipTLSVerify": false}}});
        std::fs::write(dir.join("meta.json"), meta.to_string()).unwrap();
    }

    #[test]
    fn the_file_wins_then_docker_host_then_the_context_then_the_socket() {
        let config = tempfile::tempdir().unwrap();
        context(config.path(), "vps", "ssh://deploy@vps.example");
        std::fs::write(config.path().join("config.json"), r#"{"currentContext": "vps"}"#).unwrap();
        let c = Some(config.path());
        let e = resolve_with(&[("DOCKER_HOST", "tcp://h:1")], c, Some("ssh://root@10.0.0.5")).unwrap();
        assert_eq!(e.to_string(), "ssh://root@10.0.0.5 (infra.host of `prod`)");
        let e = resolve_with(&[("DOCKER_HOST", "tcp://h:1"), ("DOCKER_CONTEXT", "vps")], c, None).unwrap();
        assert_eq!(e.to_string(), "tcp://h:1 (DOCKER_HOST)");
        let e = resolve_with(&[], c, None).unwrap();
        assert_eq!(e.to_string(), "ssh://deploy@vps.example (docker context `vps`)");
        assert!(e.is_remote());
        let e = resolve_with(&[("DOCKER_CONTEXT", "default")], c, None).unwrap();
        assert_eq!(e, Engine::local_default());
        assert_eq!(resolve_with(&[], None, None).unwrap(), Engine::local_default());
        assert_eq!(resolve_with(&[("DOCKER_HOST", " ")], None, None).unwrap(), Engine::local_default());
    }

    #[test]
    fn what_cannot_be_reached_is_refused_with_its_source() {
        let config = tempfile::tempdir().unwrap();
        let c = Some(config.path());
        let e = resolve_with(&[], c, Some("vps.example")).unwrap_err();
        assert!(e.starts_with("infra.host of environment `prod`"), "{e}");
        let e = resolve_with(&[("DOCKER_HOST", "tcp://vps:2376"), ("DOCKER_TLS_VERIFY", "1")], c, None).unwrap_err();
        assert!(e.contains("TLS"), "{e}");
        std::fs::write(config.path().join("config.json"), "{ not json").unwrap();
        let e = resolve_with(&[], c, None).unwrap_err();
        assert!(e.contains("not valid JSON"), "{e}");
        std::fs::remove_file(config.path().join("config.json")).unwrap();
        let e = resolve_with(&[("DOCKER_CONTEXT", "nope")], c, None).unwrap_err();
        assert!(e.contains("docker context `nope` is not defined"), "{e}");
        context(config.path(), "secure", "tcp://vps:2376");
        use sha2::{Digest, Sha256};
        let id: String = Sha256::digest(b"secure").iter().map(|b| format!("{b:02x}")).collect();
        std::fs::create_dir_all(config.path().join("contexts/tls").join(id).join("docker")).unwrap();
        let e = resolve_with(&[("DOCKER_CONTEXT", "secure")], c, None).unwrap_err();
        assert!(e.contains("TLS"), "{e}");
    }
}
